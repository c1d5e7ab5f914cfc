//! The servers under test, each a child process of its own so that its CPU time and memory can be
//! read from `/proc` apart from the load generator's.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use tokio::process::{Child, Command};

/// Which implementation serves the boards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// This repository's server, release build.
    Parcours,
    /// The reference JS server, `@y/websocket-server` on Node.js (installed by `bench/compare.sh`).
    Reference,
}

/// A running server.
pub struct Server {
    /// Which one.
    pub kind: Kind,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    /// Its data directory (Parcours only), removed when the server is dropped.
    data: Option<tempfile::TempDir>,
    /// Peak resident memory seen by the sampler, in bytes.
    peak_rss: Arc<AtomicU64>,
    sampling: Arc<AtomicBool>,
}

fn free_port() -> anyhow::Result<SocketAddr> {
    // Bind port 0, read the port, release it: the server binds it a moment later.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// The directory of this executable, where cargo also put the server binary.
fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe
        .parent()
        .context("executable has a directory")?
        .to_owned())
}

impl Server {
    /// Starts a server of `kind` on a free port, with `data_dir` (Parcours: an existing data
    /// directory to serve; `None` for a fresh one) and `extra` flags.
    pub async fn start(
        kind: Kind,
        data_dir: Option<&Path>,
        extra: &[&str],
    ) -> anyhow::Result<Self> {
        let addr = free_port()?;
        let (child, data) = match kind {
            Kind::Parcours => {
                let temp = match data_dir {
                    Some(_) => None,
                    None => Some(tempfile::tempdir()?),
                };
                let dir = data_dir
                    .map(Path::to_owned)
                    .unwrap_or_else(|| temp.as_ref().unwrap().path().to_owned());
                let child = Command::new(bin_dir()?.join("parcours-under-bench"))
                    .arg("serve")
                    .args(["--bind", &addr.to_string()])
                    .arg("--data-dir")
                    .arg(&dir)
                    .args(["--log-filter", "error"])
                    .args(extra)
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit())
                    .kill_on_drop(true)
                    .spawn()
                    .context("starting the Parcours server")?;
                (child, temp)
            }
            Kind::Reference => {
                let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("js");
                let script = js.join("node_modules/@y/websocket-server/src/server.js");
                if !script.exists() {
                    bail!(
                        "the reference server is not installed: run bench/compare.sh (npm ci in {})",
                        js.display()
                    );
                }
                let child = Command::new("node")
                    .arg(script)
                    .env("HOST", addr.ip().to_string())
                    .env("PORT", addr.port().to_string())
                    .current_dir(&js)
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit())
                    .kill_on_drop(true)
                    .spawn()
                    .context("starting node")?;
                (child, None)
            }
        };
        let server = Server {
            kind,
            addr,
            child,
            data,
            peak_rss: Arc::default(),
            sampling: Arc::new(AtomicBool::new(true)),
        };
        server.wait_listening().await?;
        server.start_sampler();
        Ok(server)
    }

    async fn wait_listening(&self) -> anyhow::Result<()> {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("{:?} did not start listening on {}", self.kind, self.addr)
    }

    fn start_sampler(&self) {
        let (pid, peak, on) = (self.pid(), self.peak_rss.clone(), self.sampling.clone());
        std::thread::spawn(move || {
            while on.load(Ordering::Relaxed) {
                if let Some(rss) = rss_bytes(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// The WebSocket URL of `board`.
    pub fn board_url(&self, board: &str) -> String {
        match self.kind {
            Kind::Parcours => format!("ws://{}/boards/{board}", self.addr),
            Kind::Reference => format!("ws://{}/{board}", self.addr),
        }
    }

    /// CPU time the server has used so far (user + system).
    pub fn cpu(&self) -> Duration {
        cpu_time(self.pid()).unwrap_or_default()
    }

    /// Resident memory now, in bytes.
    pub fn rss(&self) -> u64 {
        rss_bytes(self.pid()).unwrap_or(0)
    }

    /// The highest resident memory seen since [`Server::reset_peak`] (or the start).
    pub fn peak_rss(&self) -> u64 {
        self.peak_rss.load(Ordering::Relaxed).max(self.rss())
    }

    /// Starts measuring the peak again from now.
    pub fn reset_peak(&self) {
        self.peak_rss.store(self.rss(), Ordering::Relaxed);
    }

    /// Its data directory (Parcours only).
    pub fn data_dir(&self) -> Option<&Path> {
        self.data.as_ref().map(|d| d.path())
    }

    /// Stops it: SIGTERM, so that Parcours checkpoints and flushes, then waits.
    pub async fn stop(mut self) {
        self.sampling.store(false, Ordering::Relaxed);
        if let Some(pid) = self.child.id() {
            // SAFETY: sending a signal to our own child process.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.sampling.store(false, Ordering::Relaxed);
    }
}

/// User plus system CPU time of process `pid`, from `/proc/{pid}/stat`.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_micros(ticks * 1_000_000 / per_second))
}

/// Resident memory of process `pid`, from `/proc/{pid}/status`.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
