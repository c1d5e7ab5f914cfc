//! Server configuration: the `parcours serve` flags and the tuning values behind them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use client_protocol::Limits;

use crate::auth::{AccessConfig, AdminKey, AuthError};
use crate::history::{HistoryConfig, RetentionPolicy};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable, coloured when writing to a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Flags of `parcours serve`; every one can also come from the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PARCOURS_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Directory of the embedded sled database.
    #[arg(long, env = "PARCOURS_DATA_DIR", default_value = "./parcours-data")]
    pub data_dir: PathBuf,

    /// Where boards are stored: `sled:PATH` (the embedded database; the default, in
    /// `--data-dir`) or a `redis://…` / `rediss://…` URL (STORAGE.md, "Redis").
    #[arg(long, env = "PARCOURS_STORE", value_parser = StoreArg::parse)]
    pub store: Option<StoreArg>,

    /// Run on a Redis that does not fsync every write or may evict keys (or whose CONFIG is
    /// disabled, as on some managed services): acknowledged edits may then be lost.
    #[arg(long, env = "PARCOURS_REDIS_ALLOW_UNSAFE_PERSISTENCE")]
    pub redis_allow_unsafe_persistence: bool,

    /// Log format.
    #[arg(
        long,
        env = "PARCOURS_LOG_FORMAT",
        value_enum,
        default_value = "pretty"
    )]
    pub log_format: LogFormat,

    /// Log filter, in `tracing` env-filter syntax (e.g. `info,parcours_server=debug`).
    #[arg(long, env = "PARCOURS_LOG", default_value = "info")]
    pub log_filter: String,

    /// Largest WebSocket message accepted, in bytes.
    #[arg(long, env = "PARCOURS_MAX_MESSAGE_BYTES", default_value_t = Limits::default().max_message_bytes)]
    pub max_message_bytes: usize,

    /// Messages per second one connection may send, sustained (a faster sender is read more
    /// slowly; nothing is dropped).
    #[arg(long, env = "PARCOURS_MESSAGES_PER_SECOND", default_value_t = ConnectionConfig::default().messages_per_second)]
    pub messages_per_second: f64,

    /// Messages one connection may send at once above the sustained rate.
    #[arg(long, env = "PARCOURS_MESSAGE_BURST", default_value_t = ConnectionConfig::default().message_burst)]
    pub message_burst: u32,

    /// WebSocket connections accepted in all.
    #[arg(long, env = "PARCOURS_MAX_CONNECTIONS", default_value_t = ConnectionConfig::default().max_connections)]
    pub max_connections: usize,

    /// WebSocket connections accepted per board.
    #[arg(long, env = "PARCOURS_MAX_CONNECTIONS_PER_BOARD", default_value_t = ConnectionConfig::default().max_connections_per_board)]
    pub max_connections_per_board: usize,

    /// Largest a board may grow, in stored bytes.
    #[arg(long, env = "PARCOURS_MAX_BOARD_BYTES", default_value_t = RoomConfig::default().max_board_bytes)]
    pub max_board_bytes: u64,

    /// Boards kept loaded before idle ones are unloaded early.
    #[arg(long, env = "PARCOURS_MAX_LOADED_BOARDS", default_value_t = RoomConfig::default().max_loaded_boards)]
    pub max_loaded_boards: usize,

    /// Board history keeps every update for this many days…
    #[arg(long, env = "PARCOURS_KEEP_EVERY_UPDATE_DAYS", default_value_t = 30)]
    pub keep_every_update_days: u64,

    /// …then hourly summaries for this many days, then daily summaries.
    #[arg(long, env = "PARCOURS_KEEP_HOURLY_DAYS", default_value_t = 60)]
    pub keep_hourly_days: u64,

    /// How often history retention runs over every board, in seconds (0: never).
    #[arg(long, env = "PARCOURS_RETENTION_INTERVAL_SECS", default_value_t = 3600)]
    pub retention_interval_secs: u64,

    /// Largest REST API request body accepted, in bytes.
    #[arg(long, env = "PARCOURS_MAX_BODY_BYTES", default_value_t = crate::http::api::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Seconds a board stays loaded after its last participant leaves.
    #[arg(long, env = "PARCOURS_UNLOAD_AFTER_SECS", default_value_t = 30)]
    pub unload_after_secs: u64,

    /// Admin key (at least 32 bytes): signs HS256 access tokens and, presented itself, opens
    /// everything. With it (or --token-public-key) every connection and API call needs
    /// credentials; without either the server runs open.
    #[arg(long, env = "PARCOURS_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<AdminKey>,

    /// PEM file of a public key (Ed25519 or RSA) whose private half signs access tokens (EdDSA or
    /// RS256), for tokens minted by another backend.
    #[arg(long, env = "PARCOURS_TOKEN_PUBLIC_KEY")]
    pub token_public_key: Option<PathBuf>,

    /// Browser origins allowed to open boards, comma-separated (`https://cx.example.com`); empty
    /// allows any. Clients that send no Origin header are not affected.
    #[arg(long, env = "PARCOURS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
}

/// The value of `--store`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreArg {
    /// `sled:PATH`: the embedded database in that directory.
    Sled(PathBuf),
    /// `redis://…` or `rediss://…` (also `redis+unix://`, `unix://`).
    Redis(String),
}

impl StoreArg {
    /// Parses `sled:PATH` or a Redis URL.
    pub fn parse(value: &str) -> Result<Self, String> {
        if let Some(path) = value.strip_prefix("sled:") {
            if path.is_empty() {
                return Err("sled: needs a directory, as in sled:./parcours-data".into());
            }
            return Ok(StoreArg::Sled(PathBuf::from(path)));
        }
        if ["redis://", "rediss://", "redis+unix://", "unix://"]
            .iter()
            .any(|scheme| value.starts_with(scheme))
        {
            return Ok(StoreArg::Redis(value.to_owned()));
        }
        Err(format!(
            "{value:?}: expected sled:PATH or a redis://host:port URL"
        ))
    }
}

/// Which store [`crate::run`] opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// sled in [`ServerConfig::data_dir`].
    Sled,
    /// Redis at this URL.
    Redis {
        /// `redis://…`.
        url: String,
        /// Start even if Redis may lose acknowledged writes (logs a loud warning).
        allow_unsafe_persistence: bool,
    },
}

/// Why the flags do not make a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The token public key file could not be read.
    #[error("reading the token public key {path}: {source}")]
    ReadKey {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The token public key is not an Ed25519 or RSA public key in PEM.
    #[error("the token public key {path}: {source}")]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        source: AuthError,
    },
}

impl ServeArgs {
    /// The server configuration these flags describe (reading the token public key file).
    pub fn server_config(&self) -> Result<ServerConfig, ConfigError> {
        let mut config = ServerConfig::new(self.data_dir.clone());
        match &self.store {
            None => {}
            Some(StoreArg::Sled(path)) => config.data_dir = path.clone(),
            Some(StoreArg::Redis(url)) => {
                config.store = StoreConfig::Redis {
                    url: url.clone(),
                    allow_unsafe_persistence: self.redis_allow_unsafe_persistence,
                }
            }
        }
        config.connection.limits.max_message_bytes = self.max_message_bytes;
        config.connection.messages_per_second = self.messages_per_second;
        config.connection.message_burst = self.message_burst;
        config.connection.max_connections = self.max_connections;
        config.connection.max_connections_per_board = self.max_connections_per_board;
        config.room.unload_grace = Duration::from_secs(self.unload_after_secs);
        config.room.max_board_bytes = self.max_board_bytes;
        config.max_body_bytes = self.max_body_bytes;
        config.room.max_loaded_boards = self.max_loaded_boards;
        config.history.retention =
            RetentionPolicy::days(self.keep_every_update_days, self.keep_hourly_days);
        config.history.retention_interval = Duration::from_secs(self.retention_interval_secs);
        let pem = match &self.token_public_key {
            Some(path) => Some(std::fs::read(path).map_err(|source| ConfigError::ReadKey {
                path: path.clone(),
                source,
            })?),
            None => None,
        };
        config.access =
            AccessConfig::new(self.admin_key.clone(), pem.as_deref()).map_err(|source| {
                ConfigError::Key {
                    path: self.token_public_key.clone().unwrap_or_default(),
                    source,
                }
            })?;
        config.access.allowed_origins = self
            .allowed_origins
            .iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        Ok(config)
    }
}

/// Everything [`crate::run`] needs to know.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Directory of the embedded sled database.
    pub data_dir: PathBuf,
    /// Per-connection settings.
    pub connection: ConnectionConfig,
    /// Per-board settings.
    pub room: RoomConfig,
    /// Largest REST API request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Who may open boards and call the API (open by default).
    pub access: AccessConfig,
    /// How board history is kept.
    pub history: HistoryConfig,
    /// Where boards are stored (sled in `data_dir` by default).
    pub store: StoreConfig,
}

impl ServerConfig {
    /// Defaults suitable for production, storing in `data_dir`, running open (see
    /// [`ServerConfig::access`]).
    pub fn new(data_dir: PathBuf) -> Self {
        ServerConfig {
            data_dir,
            connection: ConnectionConfig::default(),
            room: RoomConfig::default(),
            max_body_bytes: crate::http::api::DEFAULT_MAX_BODY_BYTES,
            access: AccessConfig::default(),
            history: HistoryConfig::default(),
            store: StoreConfig::Sled,
        }
    }
}

/// Settings of each WebSocket connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Decoding limits for incoming frames.
    pub limits: Limits,
    /// Frames that may wait for a slow reader before it is closed with "reconnect and resync".
    pub outbound_queue: usize,
    /// Bytes that may wait for a slow reader before it is closed with "reconnect and resync"
    /// (frames vary from a few bytes to a whole merged batch: both bounds apply).
    pub outbound_queue_bytes: usize,
    /// How often the server pings an idle client.
    pub ping_interval: Duration,
    /// A connection with no incoming frame (message or pong) for this long is closed.
    pub idle_timeout: Duration,
    /// A write that makes no progress for this long closes the connection.
    pub write_timeout: Duration,
    /// Messages per second one connection may send, sustained (beyond it the server reads its
    /// socket more slowly; nothing is dropped).
    pub messages_per_second: f64,
    /// Messages one connection may send at once above the sustained rate.
    pub message_burst: u32,
    /// WebSocket connections the server accepts in all (more are refused with HTTP 503).
    pub max_connections: usize,
    /// WebSocket connections one board accepts (more are refused with HTTP 503).
    pub max_connections_per_board: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            limits: Limits::default(),
            outbound_queue: 4096,
            outbound_queue_bytes: 64 * 1024 * 1024,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(40),
            write_timeout: Duration::from_secs(10),
            messages_per_second: 200.0,
            message_burst: 1000,
            max_connections: 20_000,
            max_connections_per_board: 2_000,
        }
    }
}

/// Settings of each board's room.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// Commands (joins, frames, leaves) that may wait for the room before senders wait.
    pub inbox_capacity: usize,
    /// Most commands handled per durable batch.
    pub max_batch: usize,
    /// How long a batch that carries edits waits for more before it is applied, stored and
    /// broadcast as one message (zero: no wait).
    pub fold_window: Duration,
    /// How long a board with no participants stays loaded.
    pub unload_grace: Duration,
    /// Awareness states not renewed for this long are removed (the stock client renews every 15 s).
    pub awareness_timeout: Duration,
    /// Presence changes are gathered for this long and sent as one awareness message: with many
    /// participants moving cursors, each receives a few messages a second instead of one per
    /// move of each participant.
    pub presence_batch: Duration,
    /// Fold the log into a snapshot once it holds this many updates and at least a quarter of
    /// the snapshot's size (or a hundred times this many updates, whatever their size)…
    pub compact_after_updates: usize,
    /// …or this many bytes.
    pub compact_after_bytes: u64,
    /// Largest a board may grow, in stored bytes (snapshot plus log); an update that would take it
    /// past this is refused with [`client_protocol::CloseCode::BoardTooLarge`].
    pub max_board_bytes: u64,
    /// Boards kept loaded; past this, boards nobody is on are unloaded at once (longest idle
    /// first) instead of after their grace period.
    pub max_loaded_boards: usize,
    /// Build each board's access-control index as it loads. Off on an open server, where nobody's
    /// edits are inspected (a board builds its index the first time one must be).
    pub index_for_access: bool,
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig {
            inbox_capacity: 1024,
            max_batch: 512,
            fold_window: Duration::from_millis(2),
            unload_grace: Duration::from_secs(30),
            awareness_timeout: Duration::from_secs(30),
            presence_batch: Duration::from_millis(50),
            compact_after_updates: 1000,
            compact_after_bytes: 8 * 1024 * 1024,
            max_board_bytes: 256 * 1024 * 1024,
            max_loaded_boards: 10_000,
            index_for_access: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn config(flags: &[&str]) -> Result<ServerConfig, String> {
        let args = Serve::try_parse_from(std::iter::once("serve").chain(flags.iter().copied()))
            .map_err(|e| e.to_string())?
            .args;
        args.server_config().map_err(|e| e.to_string())
    }

    #[test]
    fn the_store_is_sled_in_the_data_dir_unless_store_names_a_sled_path_or_a_redis_url() {
        let default = config(&["--data-dir", "/srv/boards"]).unwrap();
        assert_eq!(default.store, StoreConfig::Sled);
        assert_eq!(default.data_dir, PathBuf::from("/srv/boards"));

        let sled = config(&["--store", "sled:/var/lib/parcours"]).unwrap();
        assert_eq!(sled.store, StoreConfig::Sled);
        assert_eq!(sled.data_dir, PathBuf::from("/var/lib/parcours"));

        let redis = config(&["--store", "redis://10.0.0.5:6379/2"]).unwrap();
        assert_eq!(
            redis.store,
            StoreConfig::Redis {
                url: "redis://10.0.0.5:6379/2".into(),
                allow_unsafe_persistence: false,
            }
        );
        let unsafe_redis = config(&[
            "--store",
            "redis://10.0.0.5",
            "--redis-allow-unsafe-persistence",
        ])
        .unwrap();
        assert!(matches!(
            unsafe_redis.store,
            StoreConfig::Redis {
                allow_unsafe_persistence: true,
                ..
            }
        ));

        for bad in ["postgres://db", "sled:", "./data"] {
            let refused = config(&["--store", bad]).unwrap_err();
            assert!(refused.contains("--store"), "{bad}: {refused}");
        }
    }

    #[test]
    fn a_short_admin_key_stops_the_server_from_starting() {
        let refused = config(&["--admin-key", "hunter2"]).unwrap_err();
        assert!(refused.contains("at least 32 bytes"), "{refused}");
    }

    #[test]
    fn a_token_public_key_alone_requires_tokens_and_origins_are_a_comma_separated_list() {
        let key = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/keys/ed25519-test-public.pem"
        );
        let config = config(&[
            "--token-public-key",
            key,
            "--allowed-origins",
            "https://a.example, https://b.example,",
        ])
        .unwrap();
        assert!(!config.access.is_open());
        assert!(config.access.admin_key().is_none());
        assert_eq!(
            config.access.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
    }

    #[test]
    fn an_unreadable_or_unusable_public_key_is_named_in_the_error() {
        let missing = config(&["--token-public-key", "/nonexistent/key.pem"]).unwrap_err();
        assert!(missing.contains("/nonexistent/key.pem"), "{missing}");
        let not_a_key = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let unusable = config(&["--token-public-key", not_a_key]).unwrap_err();
        assert!(unusable.contains("Cargo.toml"), "{unusable}");
    }
}
