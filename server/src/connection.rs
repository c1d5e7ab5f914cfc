//! One WebSocket connection to one board.
//!
//! The connection task decodes incoming frames (so decoding cost is spread over connections, not
//! paid by the room), forwards them to the room, writes what the room queues for it, pings the
//! client, and closes the socket with the documented code when anything ends it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use client_protocol::codec;
use client_protocol::{BoardId, CloseCode};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{
    CloseCode as WsCloseCode, Data, OpCode,
};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::auth::Grant;
use crate::config::ConnectionConfig;
use crate::metrics::Metrics;
use crate::rate::TokenBucket;
use crate::room::{Command, ConnId, JoinError, Kick, Peer, QueuedBytes, Rooms};

static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

/// Counts a connection as open (in [`Context::open`]) for as long as it lives.
struct Open(Arc<AtomicUsize>);

impl Open {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Open(counter.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a connection needs from the rest of the server.
#[derive(Clone)]
pub(crate) struct Context {
    pub rooms: Rooms,
    pub config: ConnectionConfig,
    pub shutdown: CancellationToken,
    /// Cancelled when this server is drained: its connections close with "try again later" and
    /// new ones are refused, so that clients move to the other servers of its cluster.
    pub draining: CancellationToken,
    /// WebSocket connections this server is serving, for the connection limit.
    pub open: Arc<AtomicUsize>,
    /// The server's metrics.
    pub metrics: Arc<Metrics>,
}

/// Why a connection ended; decides the close frame and the log line.
#[derive(Debug)]
enum Ending {
    /// The server is shutting down.
    Shutdown,
    /// The server is being drained.
    Draining,
    /// The room ended the connection.
    Kicked(Kick),
    /// The client broke the protocol.
    Violation(CloseCode, String),
    /// Nothing arrived within the idle timeout.
    Silent,
    /// A write made no progress within the write timeout.
    Stalled,
    /// The client sent a close frame.
    ClientClosed,
    /// The socket failed or reached its end.
    Lost(String),
    /// The board could not be loaded.
    Unavailable,
    /// The access token expired.
    Expired,
    /// The room went away without a word (a bug, or a race with shutdown).
    RoomGone,
}

impl Ending {
    /// The close frame to send, if the socket is still usable.
    fn close_frame(&self) -> Option<(CloseCode, String)> {
        match self {
            Ending::Shutdown => Some((CloseCode::GoingAway, "server shutting down".into())),
            Ending::Draining => Some((
                CloseCode::TryAgainLater,
                "server draining; reconnect".into(),
            )),
            Ending::Kicked(kick) => Some((kick.code, kick.reason.into())),
            Ending::Violation(code, reason) => Some((*code, reason.clone())),
            Ending::Silent => Some((CloseCode::Timeout, "no pong or message in time".into())),
            Ending::Unavailable => Some((CloseCode::BoardUnavailable, "board unavailable".into())),
            Ending::Expired => Some((CloseCode::TokenExpired, "access token expired".into())),
            Ending::RoomGone => Some((CloseCode::InternalError, "board closed".into())),
            Ending::Stalled | Ending::ClientClosed | Ending::Lost(_) => None,
        }
    }
}

/// Serves one upgraded WebSocket for `board`, with what `grant` allows, until it ends.
pub(crate) async fn serve<S>(
    ws: WebSocketStream<S>,
    board: BoardId,
    peer: SocketAddr,
    ctx: Context,
    grant: Grant,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!(
        "connection",
        conn_id = conn,
        board = %board,
        peer = %peer,
        role = %grant.actor.role,
        participant = %grant.actor.sub,
    );
    run(ws, board, conn, ctx, grant).instrument(span).await
}

/// How long until `expires_at` (seconds since the epoch); far away when there is no expiry.
fn until(expires_at: Option<u64>) -> std::time::Duration {
    match expires_at {
        Some(at) => std::time::Duration::from_secs(at.saturating_sub(crate::auth::now_secs())),
        None => std::time::Duration::from_secs(100 * 365 * 24 * 3600),
    }
}

async fn run<S>(ws: WebSocketStream<S>, board: BoardId, conn: ConnId, ctx: Context, grant: Grant)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let started = Instant::now();
    let _open = Open::new(&ctx.open);
    tracing::info!("connected");
    let (sink, mut stream) = ws.split();
    let attachment = ctx.rooms.attach(&board);
    let room = attachment.handle.inbox.clone();
    let (outbound, queued) = mpsc::channel(ctx.config.outbound_queue);
    let queued_bytes = Arc::new(QueuedBytes {
        bytes: AtomicUsize::new(0),
        limit: ctx.config.outbound_queue_bytes,
    });
    let (kick, mut kicked) = oneshot::channel();
    let (ready_tx, ready) = oneshot::channel();
    let join = Command::Join {
        peer: Peer {
            conn,
            outbound,
            kick,
            actor: grant.actor,
            queued: queued_bytes.clone(),
        },
        ready: ready_tx,
    };

    let (ending, sink) = if room.send(join).await.is_err() {
        (Ending::Unavailable, Some(sink))
    } else {
        let joined = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => Err(Ending::Shutdown),
            _ = ctx.draining.cancelled() => Err(Ending::Draining),
            answer = ready => match answer {
                Ok(Ok(())) => Ok(()),
                Ok(Err(JoinError::Closed(kick))) => Err(Ending::Kicked(kick)),
                Ok(Err(JoinError::Unavailable)) | Err(_) => Err(Ending::Unavailable),
            },
        };
        match joined {
            Err(ending) => (ending, Some(sink)),
            Ok(()) => {
                // The writer is a task of its own: a frame to send wakes only it, never this
                // task's read side (polling tungstenite's reader costs a buffer fill each time).
                let stop_writer = CancellationToken::new();
                let mut writer = tokio::spawn(
                    write_task(
                        sink,
                        queued,
                        queued_bytes.clone(),
                        ctx.config.clone(),
                        ctx.metrics.clone(),
                        stop_writer.clone(),
                    )
                    .in_current_span(),
                );
                let expiry = tokio::time::sleep(until(grant.expires_at));
                let mut writer_ended = None;
                let ending = tokio::select! {
                    biased;
                    _ = ctx.shutdown.cancelled() => Ending::Shutdown,
                    _ = ctx.draining.cancelled() => Ending::Draining,
                    _ = expiry => Ending::Expired,
                    kick = &mut kicked => kick.map_or(Ending::RoomGone, Ending::Kicked),
                    ending = read_loop(&mut stream, &room, conn, &ctx.config, &ctx.metrics) => ending,
                    done = &mut writer => {
                        let (sink, ending) = match done {
                            Ok((sink, ending)) => (Some(sink), ending),
                            Err(_) => (None, None),
                        };
                        writer_ended = Some(sink);
                        ending.unwrap_or(Ending::RoomGone)
                    }
                };
                let sink = match writer_ended {
                    Some(sink) => sink,
                    None => {
                        stop_writer.cancel();
                        writer.await.ok().map(|(sink, _)| sink)
                    }
                };
                (ending, sink)
            }
        }
    };

    // Tell the room first, so that the others hear of our presence going at once.
    if !matches!(ending, Ending::Kicked(_) | Ending::Unavailable) {
        let _ = room.send(Command::Leave { conn }).await;
    }
    drop(attachment);
    if let Some(mut sink) = sink {
        if let Some((code, reason)) = ending.close_frame() {
            close(&mut sink, code, &reason, &ctx.config).await;
        } else if matches!(ending, Ending::ClientClosed) {
            // tungstenite queued the reply to the client's close frame; this sends it.
            let _ = timeout(ctx.config.write_timeout, sink.close()).await;
        }
    }
    let label = match (&ending, ending.close_frame()) {
        (_, Some((code, _))) => code.code().to_string(),
        (Ending::ClientClosed, None) => "client".to_owned(),
        _ => "lost".to_owned(),
    };
    ctx.metrics.closed(&label);
    if matches!(ending, Ending::Violation(..)) {
        ctx.metrics.refused_messages.inc();
    }
    let duration_ms = started.elapsed().as_millis() as u64;
    match &ending {
        Ending::Lost(reason) => tracing::info!(duration_ms, reason = %reason, "disconnected"),
        Ending::Violation(code, reason) => tracing::warn!(
            duration_ms,
            code = code.code(),
            reason = %reason,
            "disconnected: protocol violation"
        ),
        other => tracing::info!(duration_ms, ending = ?other, "disconnected"),
    }
}

async fn read_loop<S>(
    stream: &mut SplitStream<WebSocketStream<S>>,
    room: &mpsc::Sender<Command>,
    conn: ConnId,
    config: &ConnectionConfig,
    metrics: &Metrics,
) -> Ending
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut bucket = TokenBucket::new(config.messages_per_second, config.message_burst);
    loop {
        let frame = match timeout(config.idle_timeout, stream.next()).await {
            Err(_) => return Ending::Silent,
            Ok(None) => return Ending::Lost("socket closed".into()),
            Ok(Some(Err(error))) => return read_error(error),
            Ok(Some(Ok(frame))) => frame,
        };
        match frame {
            WsMessage::Binary(bytes) => match codec::decode_frame(&bytes, &config.limits) {
                Ok(messages) => {
                    metrics.frames_in.inc();
                    metrics.bytes_in.inc_by(bytes.len() as u64);
                    let wait = bucket.take();
                    if !wait.is_zero() {
                        metrics.rate_limited.inc();
                        // Over its rate: stop reading this socket for a while.
                        tracing::trace!(wait_ms = wait.as_millis() as u64, "rate limited");
                        tokio::time::sleep(wait).await;
                    }
                    if room.send(Command::Frame { conn, messages }).await.is_err() {
                        return Ending::RoomGone;
                    }
                }
                Err(error) => return Ending::Violation(error.close_code(), error.to_string()),
            },
            WsMessage::Text(_) => {
                return Ending::Violation(
                    CloseCode::UnsupportedData,
                    "text frames are not part of the protocol".into(),
                )
            }
            WsMessage::Close(_) => return Ending::ClientClosed,
            // Pings are answered by tungstenite; any frame proves the peer alive.
            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => {}
        }
    }
}

fn read_error(error: WsError) -> Ending {
    match error {
        WsError::Capacity(e) => Ending::Violation(CloseCode::MessageTooBig, e.to_string()),
        // A peer that drops the TCP connection is gone, not misbehaving.
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            Ending::Lost("connection reset without a close frame".into())
        }
        WsError::Protocol(e) => Ending::Violation(CloseCode::ProtocolError, e.to_string()),
        WsError::Utf8(e) => Ending::Violation(CloseCode::ProtocolError, e.to_string()),
        other => Ending::Lost(other.to_string()),
    }
}

/// Runs [`write_loop`] until it ends or `stop` is cancelled; hands the sink back either way, so
/// that the connection can send its close frame.
async fn write_task<S>(
    mut sink: SplitSink<WebSocketStream<S>, WsMessage>,
    mut queued: mpsc::Receiver<Bytes>,
    queued_bytes: Arc<QueuedBytes>,
    config: ConnectionConfig,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> (SplitSink<WebSocketStream<S>, WsMessage>, Option<Ending>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let ending = tokio::select! {
        biased;
        _ = stop.cancelled() => None,
        ending = write_loop(&mut sink, &mut queued, &queued_bytes, &config, &metrics) => Some(ending),
    };
    (sink, ending)
}

async fn write_loop<S>(
    sink: &mut SplitSink<WebSocketStream<S>, WsMessage>,
    queued: &mut mpsc::Receiver<Bytes>,
    queued_bytes: &QueuedBytes,
    config: &ConnectionConfig,
    metrics: &Metrics,
) -> Ending
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + config.ping_interval,
        config.ping_interval,
    );
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            received = queued.recv_many(&mut batch, 256) => {
                if received == 0 {
                    return Ending::RoomGone;
                }
                // Queue everything that is waiting, then flush once: one syscall for a burst.
                let write = async {
                    for frame in batch.drain(..) {
                        metrics.frames_out.inc();
                        metrics.bytes_out.inc_by(frame.len() as u64);
                        let len = frame.len();
                        if len <= FRAGMENT_BYTES {
                            sink.feed(WsMessage::Binary(frame)).await?;
                        } else {
                            for fragment in fragments(frame) {
                                sink.feed(WsMessage::Frame(fragment)).await?;
                            }
                        }
                        queued_bytes.bytes.fetch_sub(len, Ordering::Relaxed);
                    }
                    sink.flush().await
                };
                match timeout(config.write_timeout, write).await {
                    Err(_) => return Ending::Stalled,
                    Ok(Err(error)) => return Ending::Lost(error.to_string()),
                    Ok(Ok(())) => {}
                }
            }
            _ = ping.tick() => {
                match timeout(config.write_timeout, sink.send(WsMessage::Ping(Bytes::new()))).await {
                    Err(_) => return Ending::Stalled,
                    Ok(Err(error)) => return Ending::Lost(error.to_string()),
                    Ok(Ok(())) => {}
                }
            }
        }
    }
}

/// Messages larger than this are sent as several WebSocket frames of this size (RFC 6455
/// fragmentation; every client reassembles them). tungstenite copies what it sends into a buffer
/// it never shrinks: a whole 20 MB board sent to 150 newcomers at once would otherwise cost
/// 3 GB of buffers, kept for the life of their connections.
const FRAGMENT_BYTES: usize = 64 * 1024;

/// `message` as the frames of one fragmented binary message: slices of the same bytes, no copy.
fn fragments(message: Bytes) -> impl Iterator<Item = Frame> {
    let len = message.len();
    (0..len).step_by(FRAGMENT_BYTES).map(move |start| {
        let end = (start + FRAGMENT_BYTES).min(len);
        let opcode = if start == 0 {
            OpCode::Data(Data::Binary)
        } else {
            OpCode::Data(Data::Continue)
        };
        Frame::message(message.slice(start..end), opcode, end == len)
    })
}

async fn close<S>(
    sink: &mut SplitSink<WebSocketStream<S>, WsMessage>,
    code: CloseCode,
    reason: &str,
    config: &ConnectionConfig,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // A close reason may hold at most 123 bytes.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame {
        code: WsCloseCode::from(code.code()),
        reason: reason[..end].into(),
    };
    let _ = timeout(config.write_timeout, async {
        sink.send(WsMessage::Close(Some(frame))).await?;
        sink.close().await
    })
    .await;
}
