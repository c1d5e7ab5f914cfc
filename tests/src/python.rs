//! The real Python client: `pycrdt` (the Yrs bindings, with their sync provider) and
//! `pycrdt-websocket`'s WebSocket channel, from PyPI, on the machine's Python 3.
//!
//! The packages are installed from `tests/py/requirements.txt` (exact versions) into
//! `tests/py/.venv` the first time a test needs them, under a file lock since test binaries run in
//! parallel, so a fresh clone needs no manual step. The venv is rebuilt when the requirements
//! change.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The folder holding the Python test clients and their requirements.
pub fn py_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("py")
}

fn venv_python(dir: &Path) -> PathBuf {
    dir.join(".venv").join("bin").join("python")
}

/// Creates the virtual environment and installs the requirements once; later calls return at once.
pub fn ensure_installed() {
    let dir = py_dir();
    let lock = File::create(std::env::temp_dir().join("parcours-e2e-pip.lock")).expect("lock file");
    lock.lock().expect("take the pip install lock");
    let wanted =
        fs::read_to_string(dir.join("requirements.txt")).expect("tests/py/requirements.txt");
    // A copy of the requirements the venv was built from says whether it is current.
    let marker = dir.join(".venv").join("installed-requirements.txt");
    if fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
        let _ = fs::remove_dir_all(dir.join(".venv"));
        let step = |program: &Path, args: &[&str]| {
            let status = Command::new(program)
                .args(args)
                .current_dir(&dir)
                .stdout(Stdio::inherit())
                .stderr(Stdio::inherit())
                .status()
                .unwrap_or_else(|e| {
                    panic!(
                        "{} must be installed to run the Python interop tests: {e}",
                        program.display()
                    )
                });
            assert!(
                status.success(),
                "{} {args:?} failed in {}",
                program.display(),
                dir.display()
            );
        };
        step(Path::new("python3"), &["-m", "venv", ".venv"]);
        step(
            &venv_python(&dir),
            &[
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                "requirements.txt",
            ],
        );
        fs::write(&marker, &wanted).expect("write the venv marker");
    }
    lock.unlock().expect("release the pip install lock");
}

/// Runs `python tests/py/<script> <args>` in the venv to completion (the scripts bound their own
/// run time) and returns its output; panics with its stderr if it fails.
pub async fn run(script: &str, args: &[String]) -> Output {
    ensure_installed();
    let dir = py_dir();
    let mut command = tokio::process::Command::new(venv_python(&dir));
    command.arg(dir.join(script)).args(args).current_dir(&dir);
    crate::run_client(command, &format!("python {script}")).await
}
