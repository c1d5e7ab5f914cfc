//! The async Rust client SDK (feature `client`).
//!
//! [`Client::connect`] opens a board, completes the sync handshake and keeps the board's Yjs
//! document in step with the server from then on:
//!
//! - local changes made through [`Client::doc`] are sent automatically;
//! - remote changes are applied as they arrive (with origin [`REMOTE_ORIGIN`]);
//! - presence is set with [`Client::set_presence`] and renewed every 15 s; everyone's presence is
//!   read with [`Client::presence`];
//! - a lost connection is retried with capped exponential backoff (with jitter), and on reconnect
//!   the sync handshake merges whatever was edited on either side meanwhile;
//! - [`Client::synced`] reports when the local document has caught up with the server;
//! - [`Client::close`] says goodbye (presence removed, close frame 1000).
//!
//! Connections closed with a code a retry cannot fix (see [`CloseCode::should_reconnect`]) stop
//! the client with [`Status::Failed`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tokio_util::sync::CancellationToken;
use yrs::block::ClientID;
use yrs::sync::{Awareness, AwarenessUpdate};
use yrs::{Doc, ReadTxn, Transact};

use crate::close::CloseCode;
use crate::codec::{self, DecodeError, Limits, Message, SyncMessage};

/// The transaction origin of changes that came from the server: observers of the document can
/// tell remote changes from local ones with it.
pub const REMOTE_ORIGIN: &str = "parcours-remote";

/// How a [`Client`] behaves.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// An access token, sent as the `token` query parameter.
    pub token: Option<String>,
    /// The first reconnect delay; doubled after each failed attempt…
    pub backoff_initial: Duration,
    /// …up to this cap.
    pub backoff_max: Duration,
    /// Reconnect when nothing (not even a ping) arrived for this long.
    pub dead_link_after: Duration,
    /// How often the own presence state is renewed while set.
    pub presence_renewal: Duration,
    /// Limits applied to frames from the server.
    pub limits: Limits,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            token: None,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            dead_link_after: Duration::from_secs(30),
            presence_renewal: Duration::from_secs(15),
            limits: Limits {
                max_message_bytes: 256 * 1024 * 1024,
                ..Limits::default()
            },
        }
    }
}

/// Where the connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Opening a socket (first time or after a loss).
    Connecting,
    /// The socket is open; the handshake is under way.
    Connected,
    /// The local document has everything the server had when the handshake completed.
    Synced,
    /// The connection was lost; a reconnect is scheduled.
    Disconnected {
        /// The close code the server sent, if any.
        code: Option<u16>,
        /// Why.
        reason: String,
    },
    /// The client stopped for good: the server refused it in a way a retry cannot fix.
    Failed {
        /// The close code or HTTP status.
        code: Option<u16>,
        /// Why.
        reason: String,
    },
    /// [`Client::close`] was called.
    Closed,
}

/// Something that happened on the board, for [`Client::events`].
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// The connection status changed.
    Status(Status),
    /// A change from the server was applied to the document.
    RemoteUpdate,
    /// Presence states changed (client ids).
    Presence {
        /// Clients that appeared.
        added: Vec<u64>,
        /// Clients whose state was renewed or changed.
        updated: Vec<u64>,
        /// Clients that left.
        removed: Vec<u64>,
    },
    /// The server refused something (the y-protocols permission-denied message).
    PermissionDenied(String),
}

/// Why [`Client::connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not a `ws://` or `wss://` board URL.
    #[error("invalid board URL {0:?}")]
    InvalidUrl(String),
    /// The server answered the upgrade with an HTTP error.
    #[error("the server refused the connection with HTTP {status}: {body}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Response body, if any.
        body: String,
    },
    /// The connection could not be established or was lost before the first sync.
    #[error("connection failed: {0}")]
    Connection(String),
    /// The server closed the connection before the first sync.
    #[error("the server closed the connection ({code:?}): {reason}")]
    Closed {
        /// The close code.
        code: Option<u16>,
        /// The reason the server gave.
        reason: String,
    },
}

/// Outgoing traffic produced by the application.
enum Outgoing {
    Update(Vec<u8>),
    Awareness(Vec<u8>),
    /// Send a sync step 1 and answer when its step 2 arrives.
    Flush(oneshot::Sender<()>),
}

struct Shared {
    doc: Doc,
    /// Presence of everyone, the own state included. A std mutex: only short, synchronous
    /// critical sections, never held across an await.
    awareness: Mutex<Awareness>,
    status: watch::Sender<Status>,
    events: broadcast::Sender<ClientEvent>,
    outgoing: mpsc::UnboundedSender<Outgoing>,
}

impl Shared {
    fn set_status(&self, status: Status) {
        self.status.send_replace(status.clone());
        let _ = self.events.send(ClientEvent::Status(status));
    }
}

/// A live connection to one board.
pub struct Client {
    shared: Arc<Shared>,
    stop: CancellationToken,
    driver: Option<JoinHandle<()>>,
}

impl Client {
    /// Connects to a board URL (`ws://host:port/boards/{id}`) with a fresh document and waits for
    /// the first sync.
    pub async fn connect(url: &str, options: ClientOptions) -> Result<Client, ClientError> {
        Self::connect_with_doc(url, Doc::new(), options).await
    }

    /// Like [`Client::connect`], with a document the caller made (for example one with a chosen
    /// client id, or content edited offline that should be merged into the board).
    pub async fn connect_with_doc(
        url: &str,
        doc: Doc,
        options: ClientOptions,
    ) -> Result<Client, ClientError> {
        let url = board_url(url, options.token.as_deref())?;
        // The first connection is made here so that a wrong URL or a refusal is reported to the
        // caller instead of being retried forever.
        let socket = open(&url, &options).await?;
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        let (status, _) = watch::channel(Status::Connected);
        let (events, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            awareness: Mutex::new(Awareness::new(doc.clone())),
            doc,
            status,
            events,
            outgoing,
        });
        let observer = shared.outgoing.clone();
        shared
            .doc
            .observe_update_v1(REMOTE_ORIGIN, move |txn, event| {
                let remote = txn
                    .origin()
                    .is_some_and(|o| o.as_ref() == REMOTE_ORIGIN.as_bytes());
                if !remote {
                    let _ = observer.send(Outgoing::Update(event.update.clone()));
                }
            })
            .map_err(|e| ClientError::Connection(format!("document busy: {e}")))?;
        let stop = CancellationToken::new();
        let driver = tokio::spawn(drive(
            shared.clone(),
            url,
            options,
            socket,
            outgoing_rx,
            stop.clone(),
        ));
        let client = Client {
            shared,
            stop,
            driver: Some(driver),
        };
        let mut status = client.shared.status.subscribe();
        loop {
            let current = status.borrow_and_update().clone();
            match current {
                Status::Synced => return Ok(client),
                Status::Failed { code, reason } | Status::Disconnected { code, reason } => {
                    client.stop.cancel();
                    return Err(ClientError::Closed { code, reason });
                }
                _ => {}
            }
            if status.changed().await.is_err() {
                return Err(ClientError::Connection("client stopped".into()));
            }
        }
    }

    /// The board's document. Changes made in it are sent to the server automatically.
    pub fn doc(&self) -> &Doc {
        &self.shared.doc
    }

    /// This client's Yjs client id.
    pub fn client_id(&self) -> u64 {
        self.shared.doc.client_id().get()
    }

    /// The current connection status.
    pub fn status(&self) -> Status {
        self.shared.status.borrow().clone()
    }

    /// A receiver that sees every status change. Do not keep a `Ref` it hands out (from
    /// `borrow` or `wait_for`) across an await: the client cannot record a new status while one
    /// is held. [`Client::wait_for_status`] is the safe way to wait.
    pub fn status_changes(&self) -> watch::Receiver<Status> {
        self.shared.status.subscribe()
    }

    /// Waits until the status satisfies `condition` (at once if it already does) and returns a
    /// copy of it; `None` if the client stopped first.
    pub async fn wait_for_status(&self, condition: impl Fn(&Status) -> bool) -> Option<Status> {
        let mut status = self.shared.status.subscribe();
        let matched = status.wait_for(|s| condition(s)).await;
        matched.ok().map(|s| s.clone())
    }

    /// Waits until the client is synced with the server (at once if it already is). Returns
    /// `false` if the client stopped for good first.
    pub async fn synced(&self) -> bool {
        let mut status = self.shared.status.subscribe();
        loop {
            match &*status.borrow_and_update() {
                Status::Synced => return true,
                Status::Failed { .. } | Status::Closed => return false,
                _ => {}
            }
            if status.changed().await.is_err() {
                return false;
            }
        }
    }

    /// Subscribes to events (status, remote updates, presence, permission denials). A subscriber
    /// that falls more than 1,024 events behind skips ahead (it reads `Lagged`).
    pub fn events(&self) -> broadcast::Receiver<ClientEvent> {
        self.shared.events.subscribe()
    }

    /// Sets this client's presence state (a JSON value) and announces it.
    pub fn set_presence(&self, state: &serde_json::Value) {
        let frame = {
            let mut awareness = self.shared.awareness.lock().expect("awareness lock");
            awareness.set_local_state_raw(state.to_string());
            own_awareness_frame(&awareness)
        };
        if let Some(frame) = frame {
            let _ = self.shared.outgoing.send(Outgoing::Awareness(frame));
        }
    }

    /// Everyone's live presence states (this client's included), by client id.
    pub fn presence(&self) -> BTreeMap<u64, serde_json::Value> {
        let awareness = self.shared.awareness.lock().expect("awareness lock");
        awareness
            .iter()
            .filter_map(|(id, state)| {
                let json = state.data?;
                Some((id.get(), serde_json::from_str(&json).ok()?))
            })
            .collect()
    }

    /// Waits until every change made before this call is durably stored on the server.
    ///
    /// The protocol has no acknowledgements, but the server answers a sync step 1 only after
    /// everything that connection sent before it is on stable storage; this sends one and waits
    /// for the answer. Fails if the connection is lost first (the changes are then resent by the
    /// next handshake).
    pub async fn flush(&self) -> Result<(), ClientError> {
        let (done, answered) = oneshot::channel();
        self.shared
            .outgoing
            .send(Outgoing::Flush(done))
            .map_err(|_| ClientError::Connection("client stopped".into()))?;
        answered.await.map_err(|_| {
            ClientError::Connection("connection lost before the server answered".into())
        })
    }

    /// Leaves the board: sends what is still queued, removes this client's presence, closes with
    /// 1000 and stops. Call [`Client::flush`] first to be sure the server stored everything.
    pub async fn close(mut self) {
        self.stop.cancel();
        if let Some(driver) = self.driver.take() {
            let _ = timeout(Duration::from_secs(5), driver).await;
        }
        self.shared.set_status(Status::Closed);
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop.cancel();
        let _ = self.shared.doc.unobserve_update_v1(REMOTE_ORIGIN);
    }
}

/// Adds the token to a board URL, checking its scheme.
fn board_url(url: &str, token: Option<&str>) -> Result<String, ClientError> {
    if !(url.starts_with("ws://") || url.starts_with("wss://")) {
        return Err(ClientError::InvalidUrl(url.into()));
    }
    Ok(match token {
        None => url.to_owned(),
        Some(token) => {
            let separator = if url.contains('?') { '&' } else { '?' };
            format!("{url}{separator}token={}", percent_encode(token))
        }
    })
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(url: &str, options: &ClientOptions) -> Result<Socket, ClientError> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(options.limits.max_message_bytes))
        .max_frame_size(Some(options.limits.max_message_bytes));
    match tokio_tungstenite::connect_async_with_config(url, Some(config), false).await {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(response)) => Err(ClientError::Refused {
            status: response.status().as_u16(),
            body: response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
        }),
        Err(WsError::Url(e)) => Err(ClientError::InvalidUrl(e.to_string())),
        Err(other) => Err(ClientError::Connection(other.to_string())),
    }
}

fn own_awareness_frame(awareness: &Awareness) -> Option<Vec<u8>> {
    awareness.local_state_raw()?;
    let update = awareness
        .update_with_clients([awareness.client_id()])
        .ok()?;
    Some(codec::encode_awareness(&update))
}

/// How a session (one socket) ended.
enum SessionEnd {
    Stopped,
    Lost { code: Option<u16>, reason: String },
    Refused { code: u16, reason: String },
}

/// Runs sessions one after another until stopped or refused for good.
async fn drive(
    shared: Arc<Shared>,
    url: String,
    options: ClientOptions,
    first: Socket,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    stop: CancellationToken,
) {
    let mut socket = Some(first);
    let mut failures: u32 = 0;
    loop {
        let ws = match socket.take() {
            Some(ws) => ws,
            None => {
                shared.set_status(Status::Connecting);
                match tokio::select! {
                    _ = stop.cancelled() => return,
                    opened = open(&url, &options) => opened,
                } {
                    Ok(ws) => ws,
                    Err(ClientError::Refused { status, body }) if (400..500).contains(&status) => {
                        shared.set_status(Status::Failed {
                            code: Some(status),
                            reason: body,
                        });
                        return;
                    }
                    Err(error) => {
                        failures += 1;
                        tracing::debug!(%error, failures, "reconnect failed");
                        if !backoff(&options, failures, &stop).await {
                            return;
                        }
                        continue;
                    }
                }
            }
        };
        shared.set_status(Status::Connected);
        let started = Instant::now();
        let end = session(&shared, ws, &mut outgoing, &options, &stop).await;
        forget_remote_presence(&shared);
        match end {
            SessionEnd::Stopped => return,
            SessionEnd::Refused { code, reason } => {
                shared.set_status(Status::Failed {
                    code: Some(code),
                    reason,
                });
                return;
            }
            SessionEnd::Lost { code, reason } => {
                shared.set_status(Status::Disconnected { code, reason });
                // A session that lasted resets the backoff; one that died at once does not.
                failures = if started.elapsed() > Duration::from_secs(10) {
                    1
                } else {
                    failures + 1
                };
                if !backoff(&options, failures, &stop).await {
                    return;
                }
            }
        }
    }
}

/// Sleeps before the next attempt; `false` if stopped meanwhile.
async fn backoff(options: &ClientOptions, failures: u32, stop: &CancellationToken) -> bool {
    let exp = options
        .backoff_initial
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let capped = exp.min(options.backoff_max);
    // Up to 25 % jitter so that a crowd disconnected together does not reconnect together.
    let nanos = Instant::now().elapsed().subsec_nanos() ^ std::process::id();
    let jitter = capped.mul_f64(f64::from(nanos % 1000) / 4000.0);
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = sleep(capped + jitter) => true,
    }
}

/// Drops every other client's presence when the link is gone (as stock clients do): we cannot
/// know who is still there until the next handshake.
fn forget_remote_presence(shared: &Shared) {
    let removed = {
        let mut awareness = shared.awareness.lock().expect("awareness lock");
        let own = awareness.client_id();
        let others: Vec<ClientID> = awareness
            .iter()
            .filter(|(id, state)| *id != own && state.data.is_some())
            .map(|(id, _)| id)
            .collect();
        for id in &others {
            awareness.remove_state(*id);
        }
        others
    };
    if !removed.is_empty() {
        let _ = shared.events.send(ClientEvent::Presence {
            added: vec![],
            updated: vec![],
            removed: removed.iter().map(|id| id.get()).collect(),
        });
    }
}

/// One socket's life: handshake, then traffic both ways until it ends.
async fn session(
    shared: &Shared,
    ws: Socket,
    outgoing: &mut mpsc::UnboundedReceiver<Outgoing>,
    options: &ClientOptions,
    stop: &CancellationToken,
) -> SessionEnd {
    let (mut sink, mut stream) = ws.split();
    // Whatever was edited while disconnected is in the document; our answer to the server's
    // step 1 carries it, so queued copies are redundant.
    while outgoing.try_recv().is_ok() {}
    let mut hello = vec![codec::encode_sync_step1(
        &shared.doc.transact().state_vector(),
    )];
    if let Some(frame) = own_awareness_frame(&shared.awareness.lock().expect("awareness lock")) {
        hello.push(frame);
    }
    for frame in hello {
        if let Err(e) = sink.send(WsMessage::Binary(Bytes::from(frame))).await {
            return lost(None, e.to_string());
        }
    }
    // Answers expected to our step 1s, in order: the handshake's (None), then each flush's.
    let mut awaiting_step2: std::collections::VecDeque<Option<oneshot::Sender<()>>> =
        std::collections::VecDeque::from([None]);
    let mut renew = tokio::time::interval_at(
        Instant::now() + options.presence_renewal,
        options.presence_renewal,
    );
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => {
                // Edits made just before closing still go out.
                while let Ok(out) = outgoing.try_recv() {
                    if let Some(frame) = outgoing_frame(shared, out, &mut awaiting_step2) {
                        if sink.send(WsMessage::Binary(Bytes::from(frame))).await.is_err() {
                            break;
                        }
                    }
                }
                goodbye(shared, &mut sink).await;
                return SessionEnd::Stopped;
            }
            frame = timeout(options.dead_link_after, stream.next()) => {
                let frame = match frame {
                    Err(_) => return lost(None, "no message from the server in time".into()),
                    Ok(None) => return lost(None, "socket closed".into()),
                    Ok(Some(Err(e))) => return lost(None, e.to_string()),
                    Ok(Some(Ok(frame))) => frame,
                };
                match frame {
                    WsMessage::Binary(bytes) => {
                        let replies = match receive(shared, &bytes, &options.limits, &mut awaiting_step2) {
                            Ok(replies) => replies,
                            Err(e) => return lost(None, format!("bad frame from server: {e}")),
                        };
                        for reply in replies {
                            if let Err(e) = sink.send(WsMessage::Binary(Bytes::from(reply))).await {
                                return lost(None, e.to_string());
                            }
                        }
                    }
                    WsMessage::Close(frame) => {
                        let (code, reason) = frame
                            .map(|f| (Some(u16::from(f.code)), f.reason.to_string()))
                            .unwrap_or((None, String::new()));
                        let permanent = code
                            .and_then(CloseCode::from_code)
                            .is_some_and(|c| !c.should_reconnect());
                        return match (permanent, code) {
                            (true, Some(code)) => SessionEnd::Refused { code, reason },
                            _ => lost(code, reason),
                        };
                    }
                    _ => {}
                }
            }
            out = outgoing.recv() => {
                let Some(out) = out else { return SessionEnd::Stopped };
                if let Some(frame) = outgoing_frame(shared, out, &mut awaiting_step2) {
                    if let Err(e) = sink.send(WsMessage::Binary(Bytes::from(frame))).await {
                        return lost(None, e.to_string());
                    }
                }
            }
            _ = renew.tick() => {
                let frame = {
                    let mut awareness = shared.awareness.lock().expect("awareness lock");
                    match awareness.local_state_raw() {
                        Some(state) => {
                            awareness.set_local_state_raw(state);
                            own_awareness_frame(&awareness)
                        }
                        None => None,
                    }
                };
                if let Some(frame) = frame {
                    if let Err(e) = sink.send(WsMessage::Binary(Bytes::from(frame))).await {
                        return lost(None, e.to_string());
                    }
                }
            }
        }
    }
}

/// The frame for one piece of outgoing traffic.
fn outgoing_frame(
    shared: &Shared,
    out: Outgoing,
    awaiting_step2: &mut std::collections::VecDeque<Option<oneshot::Sender<()>>>,
) -> Option<Vec<u8>> {
    match out {
        Outgoing::Update(update) => Some(codec::encode_update(&update)),
        Outgoing::Awareness(frame) => Some(frame),
        Outgoing::Flush(done) => {
            awaiting_step2.push_back(Some(done));
            Some(codec::encode_sync_step1(
                &shared.doc.transact().state_vector(),
            ))
        }
    }
}

fn lost(code: Option<u16>, reason: String) -> SessionEnd {
    SessionEnd::Lost { code, reason }
}

/// Removes our presence and closes with 1000, without waiting long for a dead server.
async fn goodbye<S>(shared: &Shared, sink: &mut S)
where
    S: futures_util::Sink<WsMessage> + Unpin,
{
    let frame = {
        let mut awareness = shared.awareness.lock().expect("awareness lock");
        awareness.clean_local_state();
        let id = awareness.client_id();
        awareness
            .update_with_clients([id])
            .ok()
            .map(|u| codec::encode_awareness(&u))
    };
    let _ = timeout(Duration::from_secs(2), async {
        if let Some(frame) = frame {
            let _ = sink.send(WsMessage::Binary(Bytes::from(frame))).await;
        }
        let _ = sink.send(WsMessage::Close(None)).await;
        let _ = sink.close().await;
    })
    .await;
}

/// Handles one frame from the server; returns the frames to answer with.
fn receive(
    shared: &Shared,
    frame: &[u8],
    limits: &Limits,
    awaiting_step2: &mut std::collections::VecDeque<Option<oneshot::Sender<()>>>,
) -> Result<Vec<Vec<u8>>, DecodeError> {
    let mut replies = Vec::new();
    for message in codec::decode_frame(frame, limits)? {
        match message {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                let diff = shared.doc.transact().encode_diff_v1(&sv);
                replies.push(codec::encode_sync_step2(&diff));
            }
            Message::Sync(SyncMessage::SyncStep2(update)) => {
                apply_remote(shared, &update)?;
                if let Some(Some(done)) = awaiting_step2.pop_front() {
                    let _ = done.send(());
                }
                if *shared.status.borrow() != Status::Synced {
                    shared.set_status(Status::Synced);
                }
            }
            Message::Sync(SyncMessage::Update(update)) => apply_remote(shared, &update)?,
            Message::Awareness(update) => apply_presence(shared, update),
            Message::AwarenessQuery => {
                let awareness = shared.awareness.lock().expect("awareness lock");
                if let Ok(update) = awareness.update() {
                    replies.push(codec::encode_awareness(&update));
                }
            }
            Message::Auth(Some(reason)) => {
                tracing::warn!(%reason, "permission denied by the server");
                let _ = shared.events.send(ClientEvent::PermissionDenied(reason));
            }
            Message::Auth(None) | Message::Custom(..) => {}
        }
    }
    Ok(replies)
}

fn apply_remote(shared: &Shared, update: &[u8]) -> Result<(), DecodeError> {
    let update = codec::decode_update(update)?;
    let mut txn = shared.doc.transact_mut_with(REMOTE_ORIGIN);
    txn.apply_update(update)
        .map_err(|e| DecodeError::MalformedPayload {
            what: "update",
            reason: e.to_string(),
        })?;
    drop(txn);
    let _ = shared.events.send(ClientEvent::RemoteUpdate);
    Ok(())
}

fn apply_presence(shared: &Shared, update: AwarenessUpdate) {
    let (summary, reannounce) = {
        let mut awareness = shared.awareness.lock().expect("awareness lock");
        let own = awareness.client_id();
        let own_removed = update
            .clients
            .get(&own)
            .is_some_and(|e| e.json.as_ref() == "null")
            && awareness.local_state_raw().is_some();
        let summary = awareness.apply_update_summary(update).ok().flatten();
        // Someone (the server, after a reconnect) says we are gone while we are here: announce
        // ourselves again with a newer clock, as stock clients do.
        let reannounce = if own_removed {
            let state = awareness.local_state_raw();
            state.and_then(|s| {
                awareness.set_local_state_raw(s);
                own_awareness_frame(&awareness)
            })
        } else {
            None
        };
        (summary, reannounce)
    };
    if let Some(frame) = reannounce {
        let _ = shared.outgoing.send(Outgoing::Awareness(frame));
    }
    if let Some(summary) = summary {
        let ids = |v: Vec<ClientID>| v.into_iter().map(|id| id.get()).collect();
        let _ = shared.events.send(ClientEvent::Presence {
            added: ids(summary.added),
            updated: ids(summary.updated),
            removed: ids(summary.removed),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_added_to_the_url_percent_encoded() {
        assert_eq!(
            board_url("ws://h/boards/b", Some("a b+c")).unwrap(),
            "ws://h/boards/b?token=a%20b%2Bc"
        );
        assert_eq!(
            board_url("ws://h/boards/b?x=1", Some("t")).unwrap(),
            "ws://h/boards/b?x=1&token=t"
        );
        assert!(board_url("http://h/boards/b", None).is_err());
    }
}
