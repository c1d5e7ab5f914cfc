//! The `parcours` binary as a child process: for `kill -9` and signal tests.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// A `parcours serve` child process.
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Every line it logged so far. A plain mutex: the reader thread only pushes lines.
    logs: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `binary serve --bind 127.0.0.1:0 --data-dir DIR` and waits for its "listening" log
    /// line to learn the port. Pass `env!("CARGO_BIN_EXE_parcours-under-test")` as `binary`.
    pub fn start(binary: &str, data_dir: &Path) -> Self {
        Self::start_with_args(binary, data_dir, &[])
    }

    /// [`ServerProcess::start`] with extra `serve` flags.
    pub fn start_with_args(binary: &str, data_dir: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(binary)
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args([
                "--log-format",
                "json",
                "--log-filter",
                "warn,parcours_server=info",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server binary");
        let stderr = child.stderr.take().expect("piped stderr");
        let (addr_tx, addr_rx) = mpsc::channel();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let kept = logs.clone();
        // Keeps draining stderr for the life of the process so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                kept.lock().unwrap().push(line.clone());
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) {
                    if event["message"] == "listening" {
                        if let Some(addr) = event["addr"].as_str() {
                            let _ = addr_tx.send(addr.parse::<SocketAddr>().expect("addr"));
                        }
                    }
                }
                if std::env::var_os("PARCOURS_TEST_SERVER_LOGS").is_some() {
                    eprintln!("[server] {line}");
                }
            }
        });
        let addr = match addr_rx.recv_timeout(crate::PATIENCE) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("the server process did not report a listening address");
            }
        };
        ServerProcess { child, addr, logs }
    }

    /// Every line the process logged so far (JSON, one event each).
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// The WebSocket URL of a board.
    pub fn board_url(&self, board: &str) -> String {
        format!("ws://{}/boards/{}", self.addr, board)
    }

    /// The process's resident memory in bytes (Linux).
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .expect("VmRSS in /proc status")
    }

    /// Kills the server with SIGKILL while edits flow through it: a participant on `writer_url`
    /// keeps adding cards (400 to the array `cards`), and once another on `observer_url` has seen
    /// 100 of them the process is killed. Returns the cards the observer had seen by then, which
    /// the crash must not lose (check with [`crate::TestClient::assert_holds_cards`]).
    pub async fn kill_while_writing(self, writer_url: &str, observer_url: &str) -> Vec<String> {
        let writer = crate::TestClient::connect(writer_url).await.unwrap();
        let observer = crate::TestClient::connect(observer_url).await.unwrap();
        let writing = writer.push_steadily("cards", 400);
        observer
            .wait_for("a good part of the edits", |c| c.array_len("cards") >= 100)
            .await;
        self.kill_hard();
        let seen: Vec<String> = serde_json::from_value(observer.array("cards")).unwrap();
        let _writer = writing.await.unwrap();
        assert!(seen.len() >= 100);
        seen
    }

    /// `kill -9`: the process gets no chance to flush or clean up.
    pub fn kill_hard(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + crate::PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "server did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
