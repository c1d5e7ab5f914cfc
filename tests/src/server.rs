//! The server in-process, on port 0, with a real temp sled directory (or a real Redis).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parcours_server::ServerConfig;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::redis::RedisServer;

/// The configuration's store for the Redis at `url`.
fn redis_store(url: &str) -> parcours_server::config::StoreConfig {
    parcours_server::config::StoreConfig::Redis {
        url: url.to_owned(),
        allow_unsafe_persistence: false,
    }
}

/// What a server's storage needs kept alive across restarts.
#[derive(Default)]
struct Kept {
    /// A temp data directory.
    _temp: Option<Arc<TempDir>>,
    /// The Redis of a server started with `PARCOURS_TEST_STORE=redis`.
    _redis: Option<Arc<RedisServer>>,
}

/// A running server and the data directory it stores in.
///
/// With `PARCOURS_TEST_STORE=redis` in the environment, the servers that [`TestServer::start`]
/// and [`TestServer::start_with`] make store in a Redis of their own instead of sled (each gets
/// a fresh `redis-server`), so that the end-to-end suite can be run in cluster mode:
/// `PARCOURS_TEST_STORE=redis cargo test -p parcours-e2e --test collaboration`.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    config: ServerConfig,
    /// Keeps what the store needs alive for as long as any server uses it.
    kept: Kept,
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
        let redis = (std::env::var("PARCOURS_TEST_STORE").as_deref() == Ok("redis"))
            .then(|| Arc::new(RedisServer::start()));
        if let Some(redis) = &redis {
            config.store = redis_store(&redis.url());
        }
        adjust(&mut config);
        let kept = Kept {
            _temp: Some(temp),
            _redis: redis,
        };
        Self::launch(config, kept).await
    }

    /// Starts a server storing in the Redis at `url` (`--store redis://…`), letting the test
    /// adjust the rest of the configuration.
    pub async fn start_on_redis(url: &str, adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        let temp = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = ServerConfig::new(temp.path().to_path_buf());
        config.store = redis_store(url);
        adjust(&mut config);
        let kept = Kept {
            _temp: Some(temp),
            _redis: None,
        };
        Self::launch(config, kept).await
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
            kept: Kept::default(),
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
        Self::launch(config, Kept::default()).await
    }

    async fn launch(config: ServerConfig, kept: Kept) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        Self::launch_on(listener, config, kept)
    }

    fn launch_on(listener: TcpListener, config: ServerConfig, kept: Kept) -> Self {
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
            kept,
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

    async fn stop_keeping_data(self) -> (ServerConfig, Kept) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("server task panicked")
            .expect("server returned an error");
        (self.config, self.kept)
    }

    /// Shuts down gracefully and starts again on the same data directory (on a new port).
    pub async fn restart(self) -> Self {
        let (config, kept) = self.stop_keeping_data().await;
        Self::launch(config, kept).await
    }

    /// Shuts down gracefully, waits `downtime`, and starts again on the same data directory and
    /// the same port, so that clients can reconnect to the URL they had.
    pub async fn restart_on_same_port(self, downtime: std::time::Duration) -> Self {
        let addr = self.addr;
        let (config, kept) = self.stop_keeping_data().await;
        tokio::time::sleep(downtime).await;
        let listener = TcpListener::bind(addr).await.expect("rebind the same port");
        Self::launch_on(listener, config, kept)
    }
}
