//! The RFC 6455 upgrade, done on hyper's upgrade machinery with tokio-tungstenite on top, so that
//! the server controls every frame-level setting (sizes, close codes, pings) itself.

use std::future::Future;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use client_protocol::Limits;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use tokio_util::task::TaskTracker;

use super::error;

/// The upgraded socket type handed to connection tasks.
pub(crate) type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// tungstenite settings derived from the server's limits.
///
/// The buffers are small: tungstenite's defaults (128 KiB each way, the read one allocated up
/// front) cost every idle connection a quarter of a megabyte. Larger messages still arrive whole;
/// they are read in more, smaller pieces.
pub(crate) fn config(limits: &Limits) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(limits.max_message_bytes))
        .max_frame_size(Some(limits.max_message_bytes))
        .read_buffer_size(8 * 1024)
        .write_buffer_size(16 * 1024)
}

fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Answers a WebSocket upgrade request with 101 and runs `on_open` on the socket (tracked, so
/// shutdown waits for it); anything that is not a valid upgrade gets a 4xx.
pub(crate) fn upgrade<F, Fut>(
    mut request: Request,
    ws_config: WebSocketConfig,
    tracker: &TaskTracker,
    on_open: F,
) -> Response
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let headers = request.headers();
    if request.method() != Method::GET
        || !header_has_token(headers, header::CONNECTION, "upgrade")
        || !header_has_token(headers, header::UPGRADE, "websocket")
    {
        let mut response = error(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
            "this endpoint speaks the y-websocket protocol over a WebSocket",
        );
        response
            .headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return response;
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(|v| v.as_bytes())
        != Some(b"13")
    {
        let mut response = error(
            StatusCode::BAD_REQUEST,
            "unsupported_websocket_version",
            "only WebSocket version 13 is supported",
        );
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return response;
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return error(
            StatusCode::BAD_REQUEST,
            "missing_websocket_key",
            "the upgrade request has no Sec-WebSocket-Key",
        );
    };
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut request);
    tracker.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(ws_config),
                )
                .await;
                on_open(socket).await;
            }
            Err(error) => tracing::debug!(%error, "websocket upgrade did not complete"),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(axum::body::Body::empty())
        .expect("static response parts are valid")
}
