//! Real headless Chromium driving the browser client (`web/`) through `tests/js/browser.mjs`
//! (playwright-core from `tests/js/package-lock.json`).
//!
//! The browser is Debian's `chromium` package at `/usr/bin/chromium`. When it (or the emoji font)
//! is missing, the first test that needs it installs both with `apt-get` (under a file lock,
//! since test binaries run in parallel), so a fresh machine needs no manual step; that needs
//! root, as on CI. Set `PARCOURS_CHROMIUM` to use another Chromium build instead.

use std::path::{Path, PathBuf};

use std::time::Duration;

use crate::TestServer;

/// Where Debian's `chromium` package puts the browser.
pub const DEBIAN_CHROMIUM: &str = "/usr/bin/chromium";

/// The colour emoji font (Debian's `fonts-noto-color-emoji`): the client shows reactions and
/// emotion faces as emoji, and the screenshots should show them as a person sees them.
const EMOJI_FONT: &str = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf";

/// How long one run of the driver script may take before the test fails.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(180);

/// The Chromium executable to drive, installed first if needed.
pub fn ensure_chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("PARCOURS_CHROMIUM") {
        return PathBuf::from(path);
    }
    crate::ensure_debian_packages(
        "chromium",
        &["chromium", "fonts-noto-color-emoji"],
        &[DEBIAN_CHROMIUM, EMOJI_FONT],
        "install them as root, or set PARCOURS_CHROMIUM",
    );
    PathBuf::from(DEBIAN_CHROMIUM)
}

/// Runs the named scenarios of `tests/js/browser.mjs` against `server` on `board`, with extra
/// environment variables for the script (`PARCOURS_BROWSER_TOKENS`); returns the
/// script's JSON summary (its last line on stdout). Panics with the failed step and the browser's
/// errors if a scenario fails.
pub async fn run(
    server: &TestServer,
    board: &str,
    shots: &Path,
    scenarios: &[&str],
    env: &[(&str, &str)],
) -> serde_json::Value {
    crate::node::ensure_installed();
    let chromium = ensure_chromium();
    let dir = crate::node::js_dir();
    let mut command = tokio::process::Command::new("node");
    command
        .arg(dir.join("browser.mjs"))
        .arg(server.http_url(""))
        .arg(board)
        .arg(shots)
        .args(scenarios)
        .env("PARCOURS_CHROMIUM", chromium)
        .envs(env.iter().copied())
        .current_dir(&dir)
        .kill_on_drop(true);
    let output = tokio::time::timeout(DRIVER_TIMEOUT, command.output())
        .await
        .expect("the browser scenarios did not finish in time")
        .expect("node must be installed to run the browser tests");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser scenario failed:\n{stderr}\n{stdout}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("the driver's summary is not JSON ({e}): {stdout}\n{stderr}"))
}
