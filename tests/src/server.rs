//! The server in-process, on port 0, with a real temp sled directory (or a real Redis, or three
//! servers sharing one).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

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

/// What the servers that [`TestServer::start`] and [`TestServer::start_with`] make store in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A temp sled directory each (the default).
    Sled,
    /// A `redis-server` of its own each.
    Redis,
    /// Three servers on one `redis-server`, to which the test's clients and requests go in
    /// turn: the core end-to-end suite run with every participant possibly on another server.
    Cluster,
}

/// The mode of this test binary: [`Mode::Cluster`] for the `cluster` test target (which runs the
/// core suite again that way), else as `PARCOURS_TEST_STORE` says (`redis`, `cluster`; sled when
/// unset), so that any test file can be run in another mode by hand.
pub fn mode() -> Mode {
    static MODE: OnceLock<Mode> = OnceLock::new();
    *MODE.get_or_init(|| {
        // Cargo names a test binary after its target: `cluster-<hash>`.
        let binary = std::env::current_exe()
            .ok()
            .and_then(|path| Some(path.file_name()?.to_string_lossy().into_owned()))
            .unwrap_or_default();
        if binary.starts_with("cluster-") {
            return Mode::Cluster;
        }
        match std::env::var("PARCOURS_TEST_STORE").as_deref() {
            Ok("redis") => Mode::Redis,
            Ok("cluster") => Mode::Cluster,
            _ => Mode::Sled,
        }
    })
}

/// Servers started in [`Mode::Cluster`] besides the first.
const CLUSTER_PEERS: usize = 2;

/// What a server's storage needs kept alive across restarts.
#[derive(Default, Clone)]
struct Kept {
    /// A temp data directory.
    _temp: Option<Arc<TempDir>>,
    /// The Redis of a server started in [`Mode::Redis`] or [`Mode::Cluster`].
    _redis: Option<Arc<RedisServer>>,
}

/// A running server and the data directory it stores in.
///
/// The servers that [`TestServer::start`] and [`TestServer::start_with`] make store as [`mode`]
/// says. In [`Mode::Cluster`], one is really three sharing a Redis: [`TestServer::board_url`],
/// [`TestServer::boards_url`] and [`TestServer::http_url`] name each in turn, so that a test's
/// participants and requests are spread over them; `addr` is the first one's.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The other servers of a cluster (see [`Mode::Cluster`]).
    peers: Vec<TestServer>,
    /// Which server the next URL names.
    turn: AtomicUsize,
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
        let servers = match mode() {
            Mode::Cluster => 1 + CLUSTER_PEERS,
            Mode::Sled | Mode::Redis => 1,
        };
        Self::start_servers(servers, adjust).await
    }

    /// [`TestServer::start_with`], but one server even in [`Mode::Cluster`]: for what holds per
    /// server (connection limits, the participants it counts, its metrics).
    pub async fn start_alone_with(adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        Self::start_servers(1, adjust).await
    }

    async fn start_servers(servers: usize, adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        let temp = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = ServerConfig::new(temp.path().to_path_buf());
        let redis = (mode() != Mode::Sled).then(|| Arc::new(RedisServer::start()));
        if let Some(redis) = &redis {
            config.store = redis_store(&redis.url());
        }
        adjust(&mut config);
        let kept = Kept {
            _temp: Some(temp),
            _redis: redis,
        };
        let mut listeners = Vec::new();
        for _ in 0..servers {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind port 0"));
        }
        Self::launch_all(listeners, config, kept)
    }

    /// Starts a server on the first listener, and the peers of its cluster on the others.
    fn launch_all(mut listeners: Vec<TcpListener>, config: ServerConfig, kept: Kept) -> Self {
        let first = listeners.remove(0);
        let peers = listeners
            .into_iter()
            .map(|listener| Self::launch_on(listener, config.clone(), kept.clone()))
            .collect();
        let mut server = Self::launch_on(first, config, kept);
        server.peers = peers;
        server
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
            peers: Vec::new(),
            turn: AtomicUsize::new(0),
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
            peers: Vec::new(),
            turn: AtomicUsize::new(0),
            config,
            kept,
            shutdown,
            task,
        }
    }

    /// Where the next connection or request goes: this server, or in a cluster each in turn.
    fn next_addr(&self) -> SocketAddr {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed) % (self.peers.len() + 1);
        match turn {
            0 => self.addr,
            n => self.peers[n - 1].addr,
        }
    }

    /// The WebSocket URL of a board.
    pub fn board_url(&self, board: &str) -> String {
        format!("ws://{}/boards/{}", self.next_addr(), board)
    }

    /// The base URL a stock y-websocket client is given (it appends `/{room}`).
    pub fn boards_url(&self) -> String {
        format!("ws://{}/boards", self.next_addr())
    }

    /// The HTTP URL of a path.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{}", self.next_addr(), path)
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// Shuts the server down gracefully and waits until it has returned.
    pub async fn stop(self) {
        self.stop_keeping_data().await;
    }

    /// Stops this server and its cluster's others; returns what restarts them, and where each
    /// listened (this one first).
    async fn stop_keeping_data(self) -> (ServerConfig, Kept, Vec<SocketAddr>) {
        let mut addrs = vec![self.addr];
        addrs.extend(self.peers.iter().map(|peer| peer.addr));
        let config = self.config.clone();
        let mut servers = self.peers;
        servers.push(TestServer {
            peers: Vec::new(),
            ..self
        });
        for server in servers.iter() {
            server.shutdown.cancel();
        }
        let mut kept = Kept::default();
        for server in servers {
            server
                .task
                .await
                .expect("server task panicked")
                .expect("server returned an error");
            kept = server.kept;
        }
        (config, kept, addrs)
    }

    /// Shuts down gracefully and starts again on the same data directory (on new ports).
    pub async fn restart(self) -> Self {
        let (config, kept, addrs) = self.stop_keeping_data().await;
        let mut listeners = Vec::new();
        for _ in addrs {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind port 0"));
        }
        Self::launch_all(listeners, config, kept)
    }

    /// Shuts down gracefully, waits `downtime`, and starts again on the same data directory and
    /// the same ports, so that clients can reconnect to the URL they had.
    pub async fn restart_on_same_port(self, downtime: std::time::Duration) -> Self {
        let (config, kept, addrs) = self.stop_keeping_data().await;
        tokio::time::sleep(downtime).await;
        let mut listeners = Vec::new();
        for addr in addrs {
            listeners.push(TcpListener::bind(addr).await.expect("rebind the same port"));
        }
        Self::launch_all(listeners, config, kept)
    }
}
