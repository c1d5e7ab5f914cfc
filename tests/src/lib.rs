//! Harness for the end-to-end tests in `tests/tests/`.
//!
//! - [`TestServer`]: the server in-process on `127.0.0.1:0` with a fresh temp sled directory (or,
//!   as [`server::mode`] says, a Redis of its own, or three servers sharing one).
//! - [`ServerProcess`]: the `parcours` binary as a child process, for crash (`kill -9`) and
//!   signal tests.
//! - [`TestClient`]: a small y-websocket client on yrs, able to send raw frames too.
//! - [`faults`]: the real sled store with writes that fail on demand (full disk, I/O error).
//! - [`node`]: runs the real JS client (`yjs` + `y-websocket` from npm) installed from
//!   `tests/js/package-lock.json`.
//! - [`python`]: runs the real Python client (`pycrdt` + `pycrdt-websocket` from PyPI) installed
//!   from `tests/py/requirements.txt` into a virtual environment.
//! - [`Rng`]: deterministic pseudo-random numbers, so that a failure replays.
//! - [`access`]: a server that requires tokens, and tokens for it.
//! - [`redis`]: a real `redis-server` (Debian's, installed on first use) on a free loopback port,
//!   with `kill -9` and restart on the same directory.
//! - [`browser`]: real headless Chromium (Debian's package, installed on first use) driving the
//!   browser client through playwright-core.

pub mod access;
pub mod browser;
pub mod client;
pub mod faults;
pub mod node;
pub mod process;
pub mod python;
pub mod redis;
pub mod rng;
pub mod server;

pub use client::TestClient;
pub use process::ServerProcess;
pub use rng::Rng;
pub use server::TestServer;

use std::time::Duration;

/// How long any test waits for something that should happen promptly. Generous: these machines
/// are shared and slow; the tests check outcomes, never speed.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Sends test logs to the test's captured output; `RUST_LOG` sets the filter.
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A plain HTTP/1.1 GET over a fresh TCP connection; returns the status code and the body.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .expect("read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Installs Debian `packages` with `apt-get` unless every file of `provides` is there already,
/// under a file lock named for `what` (test binaries run in parallel); `what` and `hint` go into
/// the failure message. Needs root, as on CI.
pub(crate) fn ensure_debian_packages(what: &str, packages: &[&str], provides: &[&str], hint: &str) {
    let present = || {
        provides
            .iter()
            .all(|file| std::path::Path::new(file).exists())
    };
    if present() {
        return;
    }
    let lock =
        std::fs::File::create(std::env::temp_dir().join(format!("parcours-e2e-{what}.lock")))
            .expect("lock file");
    lock.lock().expect("take the install lock");
    if !present() {
        let mut install = vec!["install", "-y", "--no-install-recommends"];
        install.extend_from_slice(packages);
        for args in [&["update"][..], &install[..]] {
            let status = std::process::Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit())
                .status()
                .unwrap_or_else(|e| {
                    panic!("apt-get must be available to install {packages:?} for the {what} tests: {e}")
                });
            assert!(
                status.success(),
                "apt-get {args:?} failed: the {what} tests need Debian's {packages:?} ({hint})"
            );
        }
        assert!(present(), "{packages:?} installed but {provides:?} missing");
    }
    lock.unlock().expect("release the install lock");
}

/// Runs a stock client's script to completion (the scripts bound their own run time, and this
/// bounds it again in case one hangs) and returns its output; panics with its stderr if it fails.
pub(crate) async fn run_client(
    mut command: tokio::process::Command,
    what: &str,
) -> std::process::Output {
    command.kill_on_drop(true);
    let output = tokio::time::timeout(PATIENCE * 2, command.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish in time"))
        .unwrap_or_else(|e| panic!("{what} could not start: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    output
}
