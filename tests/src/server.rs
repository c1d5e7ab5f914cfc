//! The server in-process, on port 0, with a real temp sled directory (or a real Redis).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parcours_server::ServerConfig;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running server and the data directory it stores in.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    config: ServerConfig,
    /// Keeps a temp data directory alive for as long as any server uses it.
    _temp: Option<Arc<TempDir>>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), parcours_server::ServerError>>,
}

impl TestServer {
    /// Starts a server with default settings on a fresh data directory.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server on a fresh data directory, letting the test adjust the configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        let temp = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = ServerConfig::new(temp.path().to_path_buf());
        adjust(&mut config);
        Self::launch(config, Some(temp)).await
    }

    /// Starts a server storing in the Redis at `url` (`--store redis://…`), letting the test
    /// adjust the rest of the configuration.
    pub async fn start_on_redis(url: &str, adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        Self::start_with(|config| {
            config.store = parcours_server::config::StoreConfig::Redis {
                url: url.to_owned(),
                allow_unsafe_persistence: false,
            };
            adjust(config);
        })
        .await
    }

    /// Starts a server on a store the caller made (for fault injection), in `dir`.
    pub async fn start_with_store(
        dir: &Path,
        store: Arc<dyn parcours_server::storage::Store>,
    ) -> Self {
        crate::init_logging();
        let config = ServerConfig::new(dir.to_path_buf());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(parcours_server::run_with_store(
            listener,
            config.clone(),
            store,
            shutdown.clone(),
        ));
        TestServer {
            addr,
            config,
            _temp: None,
            shutdown,
            task,
        }
    }

    /// Starts a server on a directory the caller owns (for example one a crashed process left).
    pub async fn start_in(dir: &Path) -> Self {
        Self::start_in_with(dir, |_| {}).await
    }

    /// [`TestServer::start_in`] with a configuration adjusted by `adjust`.
    pub async fn start_in_with(dir: &Path, adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        let mut config = ServerConfig::new(dir.to_path_buf());
        adjust(&mut config);
        Self::launch(config, None).await
    }

    async fn launch(config: ServerConfig, temp: Option<Arc<TempDir>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        Self::launch_on(listener, config, temp)
    }

    fn launch_on(listener: TcpListener, config: ServerConfig, temp: Option<Arc<TempDir>>) -> Self {
        crate::init_logging();
        let addr = listener.local_addr().expect("local addr");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(parcours_server::run(
            listener,
            config.clone(),
            shutdown.clone(),
        ));
        TestServer {
            addr,
            config,
            _temp: temp,
            shutdown,
            task,
        }
    }

    /// The WebSocket URL of a board.
    pub fn board_url(&self, board: &str) -> String {
        format!("ws://{}/boards/{}", self.addr, board)
    }

    /// The base URL a stock y-websocket client is given (it appends `/{room}`).
    pub fn boards_url(&self) -> String {
        format!("ws://{}/boards", self.addr)
    }

    /// The HTTP URL of a path.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// Shuts the server down gracefully and waits until it has returned.
    pub async fn stop(self) {
        self.stop_keeping_data().await;
    }

    async fn stop_keeping_data(self) -> (ServerConfig, Option<Arc<TempDir>>) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("server task panicked")
            .expect("server returned an error");
        (self.config, self._temp)
    }

    /// Shuts down gracefully and starts again on the same data directory (on a new port).
    pub async fn restart(self) -> Self {
        let (config, temp) = self.stop_keeping_data().await;
        Self::launch(config, temp).await
    }

    /// Shuts down gracefully, waits `downtime`, and starts again on the same data directory and
    /// the same port, so that clients can reconnect to the URL they had.
    pub async fn restart_on_same_port(self, downtime: std::time::Duration) -> Self {
        let addr = self.addr;
        let (config, temp) = self.stop_keeping_data().await;
        tokio::time::sleep(downtime).await;
        let listener = TcpListener::bind(addr).await.expect("rebind the same port");
        Self::launch_on(listener, config, temp)
    }
}
