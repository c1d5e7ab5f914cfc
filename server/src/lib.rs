//! The Parcours server: real-time journey boards over the y-websocket protocol.
//!
//! # Layout
//!
//! - [`run`] (this file): wires storage, rooms and HTTP together on a listener the caller bound,
//!   and shuts them down in order when the token is cancelled.
//! - [`auth`]: access tokens (JWT claims, verification, issuance), roles, and the access policy
//!   (open, or credentials required) that the HTTP layer applies.
//! - [`config`]: the `parcours serve` flags and the tuning values behind them.
//! - `http`: routes, health checks, credentials on requests, the WebSocket upgrade, and the board
//!   REST API.
//! - [`export`]: a board as Markdown, CSV, or a rendered SVG journey map.
//! - `connection`: one task per WebSocket — decode, forward to the room, write, ping, close;
//!   `rate`: the token bucket that paces a connection's incoming messages.
//! - `room`: one task per loaded board, owning its Yjs document and presence; its file
//!   `room/board.rs` holds a board's whole lifecycle.
//! - [`storage`]: the [`storage::Store`] interface, its sled implementation with group commit, and
//!   its Redis implementation (`--store redis://…`).
//! - [`ops`]: operator tools on a data directory (`fsck`, `backup`, `restore`).
//! - [`metrics`]: counters and histograms served at `/metrics`.
//! - [`telemetry`]: log set-up for the binary.
//!
//! The wire protocol itself lives in the `client-protocol` crate, shared with clients.

pub mod auth;
pub mod config;
mod connection;
pub mod export;
pub mod history;
pub mod http;
pub mod metrics;
pub mod ops;
mod rate;
mod room;
pub mod storage;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::ServerConfig;
use storage::{RedisStore, RedisStoreError, SledStore, Store, StoreError};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened.
    #[error("could not open storage: {0}")]
    Storage(#[from] StoreError),
    /// Redis could not be used as the store (unreachable, or it would lose acknowledged writes);
    /// its own message says which, and what to do.
    #[error(transparent)]
    Redis(#[from] RedisStoreError),
    /// The listener failed.
    #[error("listener failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves boards on `listener`, storing them as `config.store` says (sled under
/// `config.data_dir` by default, or Redis), until `shutdown` is cancelled; then stops accepting,
/// closes every socket with 1001, waits for rooms to write their last checkpoint, flushes storage
/// and returns.
pub async fn run(
    listener: TcpListener,
    mut config: ServerConfig,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let store: Arc<dyn Store> = match &config.store {
        config::StoreConfig::Sled => Arc::new(SledStore::open(&config.data_dir)?),
        config::StoreConfig::Redis {
            url,
            allow_unsafe_persistence,
        } => {
            let store = RedisStore::open(url, *allow_unsafe_persistence).await?;
            if !config.history.retention_interval.is_zero() {
                // Thinning rewrites the log in place, which a stream cannot do (STORAGE.md).
                tracing::info!(
                    "history retention is not supported on Redis yet: every update is kept"
                );
                config.history.retention_interval = std::time::Duration::ZERO;
            }
            Arc::new(store)
        }
    };
    run_with_store(listener, config, store, shutdown).await
}

/// [`run`] on any [`Store`].
pub async fn run_with_store(
    listener: TcpListener,
    config: ServerConfig,
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let tracker = TaskTracker::new();
    let metrics = Arc::new(metrics::Metrics::new());
    let history = Arc::new(history::History::new(store.clone(), config.history.clone()));
    tracker.spawn(history.clone().retain_periodically(shutdown.clone()));
    let room_config = config::RoomConfig {
        index_for_access: config.room.index_for_access && !config.access.is_open(),
        ..config.room.clone()
    };
    let rooms = room::Rooms::new(
        history.clone(),
        room_config,
        shutdown.clone(),
        tracker.clone(),
        metrics.clone(),
    );
    let state = http::AppState {
        connections: connection::Context {
            rooms,
            config: config.connection.clone(),
            shutdown: shutdown.clone(),
            draining: CancellationToken::new(),
            open: Default::default(),
            metrics,
        },
        tracker: tracker.clone(),
        max_body_bytes: config.max_body_bytes,
        access: Arc::new(config.access.clone()),
    };
    let app = http::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let access = &config.access;
    if access.is_open() {
        tracing::warn!(
            "running OPEN: no --admin-key or --token-public-key set; anyone who can reach this \
             server can read, edit and delete every board"
        );
    } else {
        tracing::info!(
            admin_key = access.admin_key().is_some(),
            allowed_origins = access.allowed_origins.len(),
            "access tokens required"
        );
    }
    tracing::info!(addr = %listener.local_addr()?, "listening");
    // Small protocol messages must leave at once: with Nagle's algorithm a participant's edit
    // could wait for the acknowledgement of the previous one.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await?;

    let started = Instant::now();
    tracing::info!("shutting down: closing connections and boards");
    tracker.close();
    tracker.wait().await;
    if let Err(error) = store.flush().await {
        tracing::error!(%error, "final flush failed");
        return Err(error.into());
    }
    tracing::info!(
        duration_ms = started.elapsed().as_millis() as u64,
        "shut down cleanly"
    );
    Ok(())
}
