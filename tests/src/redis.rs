//! A real Redis for the tests: Debian's `redis-server`, on a free loopback port with its own temp
//! directory, configured as the server requires (`appendonly yes`, `appendfsync always`,
//! `maxmemory-policy noeviction`), stopped by its own PID.
//!
//! When `/usr/bin/redis-server` is missing, the first test that needs it installs Debian's
//! `redis-server` package with `apt-get` (under a file lock, since test binaries run in
//! parallel), as [`crate::browser`] does for Chromium; that needs root, as on CI.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Where Debian's `redis-server` package puts the server.
pub const DEBIAN_REDIS_SERVER: &str = "/usr/bin/redis-server";

/// Installs `redis-server` if it is missing; later calls return at once.
pub fn ensure_installed() {
    crate::ensure_debian_packages(
        "redis",
        &["redis-server"],
        &[DEBIAN_REDIS_SERVER],
        "install it as root",
    );
}

/// A `redis-server` child process on `127.0.0.1`.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    /// Settings given on top of the safe ones (`name`, `value`), kept for restarts.
    overrides: Vec<(String, String)>,
}

impl RedisServer {
    /// Starts a Redis configured as the server requires, on a free port and a fresh directory.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// [`RedisServer::start`] with some settings changed (`("appendfsync", "everysec")`, or
    /// `("rename-command", "CONFIG \"\"")` to disable `CONFIG` as managed services do).
    pub fn start_with(overrides: &[(&str, &str)]) -> Self {
        ensure_installed();
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
            probe.local_addr().expect("local addr").port()
        };
        let mut redis = RedisServer {
            child: None,
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            overrides: overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        redis.launch();
        redis
    }

    /// The URL the Parcours server is given.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its data directory (the AOF lives in `appendonlydir/` inside it).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn launch(&mut self) {
        let mut settings: Vec<(String, String)> = [
            ("port", self.port.to_string()),
            ("bind", "127.0.0.1".into()),
            ("dir", self.dir.path().display().to_string()),
            ("appendonly", "yes".into()),
            ("appendfsync", "always".into()),
            ("maxmemory-policy", "noeviction".into()),
            // No RDB snapshots: the AOF alone is what must carry every acknowledged write.
            ("save", String::new()),
            ("daemonize", "no".into()),
            ("logfile", String::new()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (name, value) in &self.overrides {
            settings.retain(|(k, _)| k != name);
            settings.push((name.clone(), value.clone()));
        }
        let mut command = Command::new(DEBIAN_REDIS_SERVER);
        for (name, value) in &settings {
            command.arg(format!("--{name}"));
            if value.is_empty() {
                command.arg("");
            }
            // A setting with several arguments (`rename-command CONFIG ""`): one each, `""`
            // standing for an empty one.
            for part in value.split_whitespace() {
                command.arg(if part == "\"\"" { "" } else { part });
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        self.wait_until_ready();
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + crate::PATIENCE;
        loop {
            if self.ping() {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("redis-server exited before answering PING: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether it answers `PING` (while loading its AOF it answers with an error).
    pub fn ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
    }

    /// `kill -9`: Redis gets no chance to write anything more.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL redis-server");
            child.wait().expect("reap redis-server");
        }
    }

    /// `kill -STOP`: Redis stops answering (a hung or overloaded server) without losing anything.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// `kill -CONT` after [`RedisServer::pause`].
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .expect("run kill");
            assert!(status.success(), "kill {signal} redis-server");
        }
    }

    /// Starts Redis again on the same port and directory (after [`RedisServer::kill9`]), and
    /// waits until it has loaded its AOF and answers.
    pub fn restart_same_dir(&mut self) {
        self.kill9();
        self.launch();
    }

    fn stop(&mut self) {
        // A paused Redis would not act on SIGTERM.
        self.resume();
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
