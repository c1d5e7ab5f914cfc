//! The HTTP side: routes, health checks, and the WebSocket upgrade for boards.
//!
//! | route                  | what                                                        |
//! |------------------------|-------------------------------------------------------------|
//! | `GET /boards/{id}`     | WebSocket: the y-websocket protocol for board `id`          |
//! | `GET /healthz`         | 200 while the process is up                                 |
//! | `GET /metrics`        | Prometheus / OpenMetrics text ([`crate::metrics`])          |
//! | `GET /readyz`          | 200 while accepting connections; 503 once shutting down or while storage does not answer |
//! | `POST /admin/drain`    | drains this server: readiness fails, connections close with 1013 |
//! | `GET /`, `GET /b/{id}` | the browser client, embedded in the binary (`web`)          |
//!
//! With access required ([`crate::auth::AccessConfig`]), the board socket and the API check
//! credentials (`credentials`) before doing anything else.

pub mod api;
mod credentials;
mod history;
mod web;
mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use client_protocol::BoardId;
use tokio_util::task::TaskTracker;

use crate::auth::{AccessConfig, Credential, Role};
use crate::connection;
use credentials::Caller;

/// What every request handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub connections: connection::Context,
    pub tracker: TaskTracker,
    /// Largest REST API request body accepted.
    pub max_body_bytes: usize,
    /// Who may open boards and call the API.
    pub access: Arc<AccessConfig>,
}

/// The server's routes.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/boards/{board_id}", get(board_socket))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/admin/drain", axum::routing::post(drain))
        .route("/metrics", get(metrics))
        .merge(api::routes(state.max_body_bytes))
        .merge(web::routes())
        .fallback(not_found)
        .with_state(state)
}

/// A JSON error body: `{"error": "...", "detail": "..."}`.
pub(crate) fn error(status: StatusCode, error: &str, detail: impl ToString) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": error, "detail": detail.to_string() })),
    )
        .into_response()
}

async fn board_socket(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let board = match BoardId::parse(&raw_id) {
        Ok(board) => board,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_board_id", e),
    };
    // A browser sends cookies and ambient credentials with any page's WebSocket (the same-origin
    // policy does not apply to them), so a deployment may restrict which pages may connect.
    let origin = request
        .headers()
        .get(axum::http::header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("(not text)"));
    if !state.access.origin_allowed(origin) {
        state.connections.metrics.refused("origin_not_allowed");
        tracing::debug!(board = %board, %peer, origin, "connection refused: origin not allowed");
        return error(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "this server does not accept connections from pages of this origin",
        );
    }
    let presented = credentials::presented(request.headers(), request.uri());
    let credential = state.access.identify(presented.as_deref());
    let open = matches!(credential, Ok(Credential::Open));
    let mut grant = match credential.and_then(|credential| credential.grant(&board, Role::Viewer)) {
        Ok(grant) => grant,
        Err(refused) => {
            state.connections.metrics.refused(refused.code());
            tracing::debug!(board = %board, %peer, code = refused.code(), "connection refused");
            return credentials::refusal(&refused);
        }
    };
    if open {
        // Nobody is verified on an open server: history names its edits as the client says.
        if let Some(name) = credentials::declared_name(request.uri()) {
            grant.actor.name = name;
        }
    }
    if state.connections.shutdown.is_cancelled() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        );
    }
    if state.connections.draining.is_cancelled() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "this server is being drained; connect to another",
        );
    }
    let limits = &state.connections.config;
    if state
        .connections
        .open
        .load(std::sync::atomic::Ordering::Relaxed)
        >= limits.max_connections
    {
        state.connections.metrics.refused("too_many_connections");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_connections",
            "the server is at its connection limit; retry later",
        );
    }
    let on_board = state
        .connections
        .rooms
        .loaded_room(&board)
        .map_or(0, |room| {
            room.attachments.load(std::sync::atomic::Ordering::Relaxed)
        });
    if on_board >= limits.max_connections_per_board {
        state.connections.metrics.refused("board_full");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "board_full",
            "the board is at its connection limit; retry later",
        );
    }
    let connections = state.connections.clone();
    let ws_config = websocket::config(&connections.config.limits);
    websocket::upgrade(request, ws_config, &state.tracker, move |ws| {
        connection::serve(ws, board, peer, connections, grant)
    })
}

/// Paths under `/boards/` that are not one valid board id (`/boards/`, `/boards/a/b`) are a bad
/// board id (400), not a missing page.
async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/boards/") {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_board_id",
            "a board URL is /boards/{id} with an id of 1-128 characters of [A-Za-z0-9._-]",
        )
    } else {
        error(StatusCode::NOT_FOUND, "not_found", uri.path())
    }
}

/// Prometheus / OpenMetrics text.
async fn metrics(State(state): State<AppState>) -> Response {
    let connections = &state.connections;
    let open = connections.open.load(std::sync::atomic::Ordering::Relaxed);
    connections.metrics.connections.set(open as i64);
    connections
        .metrics
        .boards_loaded
        .set(connections.rooms.loaded() as i64);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        connections.metrics.render(),
    )
        .into_response()
}

/// Drains this server (admin key, on a server that has one): readiness fails from now on, new
/// connections are refused with 503 `draining`, and open ones are closed with 1013 "try again
/// later", so that a load balancer moves everyone to the other servers of the cluster. Boards
/// stay stored; the server keeps running until it is stopped.
async fn drain(State(state): State<AppState>, Caller(caller): Caller) -> Response {
    if let Err(refused) = caller.require_admin("drain the server") {
        return api::ApiError::from(refused).into_response();
    }
    tracing::warn!("draining: closing every connection and refusing new ones");
    state.connections.draining.cancel();
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"status": "draining"})),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.connections.shutdown.is_cancelled() {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        )
    } else if state.connections.draining.is_cancelled() {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "this server is being drained",
        )
    } else if let Err(failure) = state.connections.rooms.history().store().health().await {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            format!("storage does not answer: {failure}"),
        )
    } else {
        Json(serde_json::json!({
            "status": "ready",
            "boards_loaded": state.connections.rooms.loaded(),
        }))
        .into_response()
    }
}
