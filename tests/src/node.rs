//! The real JS client: `yjs` + `y-websocket` from npm, on the machine's Node.js.
//!
//! The packages are installed from `tests/js/package-lock.json` with `npm ci` the first time a test
//! needs them (under a file lock, since test binaries run in parallel), so a fresh clone needs no
//! manual step.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The folder holding the JS test clients and their lockfile.
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// Installs the npm packages once; later calls return at once.
pub fn ensure_installed() {
    let dir = js_dir();
    let lock = File::create(std::env::temp_dir().join("parcours-e2e-npm.lock")).expect("lock file");
    lock.lock().expect("take the npm install lock");
    let marker = dir.join("node_modules").join(".package-lock.json");
    let lockfile = dir.join("package-lock.json");
    let fresh = match (marker.metadata(), lockfile.metadata()) {
        (Ok(m), Ok(l)) => m.modified().ok() >= l.modified().ok(),
        _ => false,
    };
    if !fresh {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .status()
            .expect("npm must be installed to run the interop tests (Node.js 18 or newer)");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    }
    lock.unlock().expect("release the npm install lock");
}

/// Runs `node tests/js/<script> <args>` to completion (the scripts bound their own run time) and
/// returns its output; panics with its stderr if it fails.
pub async fn run(script: &str, args: &[String]) -> Output {
    ensure_installed();
    let dir = js_dir();
    let mut command = tokio::process::Command::new("node");
    command.arg(dir.join(script)).args(args).current_dir(&dir);
    crate::run_client(command, &format!("node {script}")).await
}
