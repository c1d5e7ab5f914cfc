//! One simulated participant: a WebSocket speaking the y-websocket protocol with real yrs
//! updates.
//!
//! Writers insert one new key per edit into the root map `bench` (`w{writer}-{seq}` → the send
//! time in microseconds since the run began), so that every edit stays visible however a server
//! merges updates, and every receiver can tell which edits reached it and how late, by reading the
//! update's blocks ([`client_protocol::blocks`]) without a document of its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use client_protocol::blocks::{self, BlockKind};
use client_protocol::codec::{self, Limits, Message, SyncMessage};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use yrs::sync::{Awareness, AwarenessUpdate};
use yrs::{Doc, Map, MapPrelim, ReadTxn, Transact};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The name of the root map the writers fill.
pub const ROOT: &str = "bench";
/// The root map of a board's cards, which writers fill as participants.
pub const CARDS: &str = "cards";

/// Microseconds since the process began measuring: the clock every send time is written in.
pub fn now_micros() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// What every receiver of one scenario records.
#[derive(Default)]
pub struct Tally {
    /// Edits received (each counted once per receiver).
    pub delivered: AtomicU64,
    /// Awareness messages received.
    pub awareness: AtomicU64,
    /// Latencies in microseconds (send to receipt), from receivers that record them.
    pub latencies: Mutex<Vec<u32>>,
    /// Connections that ended before the scenario did.
    pub dropped: AtomicU64,
    /// Connections that completed their sync handshake.
    pub synced: AtomicU64,
    /// Woken whenever a receiver counts something, for waiters.
    pub progress: Notify,
}

/// How a peer takes part.
#[derive(Debug, Clone, Copy)]
pub struct Role {
    /// Whether this peer records latencies (all of them could be too much memory in the
    /// generator: a sample is enough).
    pub record_latency: bool,
    /// Whether this peer will receive large messages (a whole big board): it reads with a
    /// large buffer, so that the generator's own reading does not dominate what is measured.
    pub large_reads: bool,
    /// Whether each edit creates a card (a new Y.Map in `cards`, what a participant may do on a
    /// server with access control) instead of a value in `bench`.
    pub as_cards: bool,
}

/// A connected peer.
pub struct Peer {
    sink: SplitSink<Ws, WsMessage>,
    /// The peer's document and presence.
    awareness: Awareness,
    writer: u64,
    seq: u64,
    as_cards: bool,
    reader: tokio::task::JoinHandle<()>,
}

impl Peer {
    /// Connects to `url`, completes the sync handshake, and starts counting what arrives into
    /// `tally`. `writer` is this peer's number (also its Yjs client id, plus one).
    pub async fn connect(
        url: &str,
        writer: u64,
        role: Role,
        tally: Arc<Tally>,
    ) -> anyhow::Result<Peer> {
        let mut config = ws_config();
        if role.large_reads {
            config = config.read_buffer_size(256 * 1024);
        }
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
            .await
            .with_context(|| format!("connecting to {url}"))?;
        let (mut sink, stream) = ws.split();
        let doc = Doc::with_client_id(writer + 1);
        let sv = doc.transact().state_vector();
        sink.send(WsMessage::Binary(codec::encode_sync_step1(&sv).into()))
            .await?;
        let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
        let own = format!("w{writer}-");
        let reader = tokio::spawn(read(stream, own, role, tally.clone(), Some(synced_tx)));
        tokio::time::timeout(Duration::from_secs(60), synced_rx)
            .await
            .context("no sync step 2 within 60 s")?
            .context("the connection ended before syncing")?;
        tally.synced.fetch_add(1, Ordering::Relaxed);
        Ok(Peer {
            sink,
            awareness: Awareness::new(doc),
            writer,
            seq: 0,
            as_cards: role.as_cards,
            reader,
        })
    }

    /// Makes one edit (a new key holding the send time) and sends it.
    pub async fn write(&mut self) -> anyhow::Result<()> {
        let doc = self.awareness.doc();
        let map = doc.get_or_insert_map(if self.as_cards { CARDS } else { ROOT });
        let sent = now_micros();
        // The key carries the send time, so that receivers read it whatever the value is.
        let key = format!("w{}-{}-{sent}", self.writer, self.seq);
        let update = {
            let mut txn = doc.transact_mut();
            if self.as_cards {
                map.insert(&mut txn, key, MapPrelim::default());
            } else {
                map.insert(&mut txn, key, sent as f64);
            }
            txn.encode_update_v1()
        };
        self.seq += 1;
        self.sink
            .send(WsMessage::Binary(codec::encode_update(&update).into()))
            .await?;
        Ok(())
    }

    /// Sends a presence (awareness) update: a cursor position.
    pub async fn move_cursor(&mut self, x: u32) -> anyhow::Result<()> {
        self.awareness.set_local_state(serde_json::json!({
            "user": {"name": format!("p{}", self.writer)},
            "cursor": {"x": x, "y": x / 2},
        }))?;
        let update: AwarenessUpdate = self.awareness.update()?;
        self.sink
            .send(WsMessage::Binary(codec::encode_awareness(&update).into()))
            .await?;
        Ok(())
    }

    /// Edits this peer has sent.
    pub fn sent(&self) -> u64 {
        self.seq
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.sink.send(WsMessage::Close(None)).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.reader).await;
        self.reader.abort();
    }
}

/// The generator's WebSocket settings: no size limit on what the server sends (a join storm's
/// boards are tens of megabytes), small buffers (thousands of connections share one process).
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None)
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
}

/// Reads everything the server sends until the socket ends.
/// `own` is the key prefix of this peer's own edits: a server that echoes them back (the
/// reference server does) does not deliver them to anyone.
async fn read(
    mut stream: SplitStream<Ws>,
    own: String,
    role: Role,
    tally: Arc<Tally>,
    mut synced: Option<tokio::sync::oneshot::Sender<()>>,
) {
    let limits = Limits {
        max_message_bytes: usize::MAX,
        ..Limits::default()
    };
    let mut latencies = Vec::new();
    while let Some(Ok(frame)) = stream.next().await {
        let WsMessage::Binary(bytes) = frame else {
            continue;
        };
        // A large sync step 2 (a joiner's copy of a big board) is recognised by its first two
        // bytes: decoding megabytes here would measure the generator, not the server.
        if bytes.len() > 64 * 1024 && bytes[0] == 0 && bytes[1] == 1 {
            if let Some(done) = synced.take() {
                let _ = done.send(());
            }
            continue;
        }
        let Ok(messages) = codec::decode_frame(&bytes, &limits) else {
            continue;
        };
        for message in messages {
            match message {
                Message::Sync(SyncMessage::SyncStep2(_)) => {
                    if let Some(done) = synced.take() {
                        let _ = done.send(());
                    }
                }
                Message::Sync(SyncMessage::Update(update)) => {
                    let now = now_micros();
                    let edits = count_edits(
                        &update,
                        &own,
                        role.record_latency.then_some((&mut latencies, now)),
                    );
                    tally.delivered.fetch_add(edits, Ordering::Relaxed);
                }
                Message::Awareness(_) => {
                    tally.awareness.fetch_add(1, Ordering::Relaxed);
                }
                // The server's step 1: a peer with no content of its own answers with nothing.
                Message::Sync(SyncMessage::SyncStep1(_)) => {}
                _ => {}
            }
        }
        if !latencies.is_empty() {
            tally.latencies.lock().unwrap().append(&mut latencies);
        }
        tally.progress.notify_waiters();
    }
    tally.latencies.lock().unwrap().append(&mut latencies);
    tally.dropped.fetch_add(1, Ordering::Relaxed);
    tally.progress.notify_waiters();
}

/// Counts the bench edits in `update`, recording each one's latency if asked.
fn count_edits(update: &[u8], own: &str, mut latencies: Option<(&mut Vec<u32>, u64)>) -> u64 {
    let Ok(parsed) = blocks::parse(update) else {
        return 0;
    };
    let mut edits = 0;
    for block in &parsed.blocks {
        let BlockKind::Item(item) = block.kind else {
            continue;
        };
        if !item
            .key
            .is_some_and(|k| k.starts_with('w') && !k.starts_with(own))
        {
            continue;
        }
        edits += 1;
        let sent = item
            .key
            .and_then(|k| k.rsplit('-').next()?.parse::<u64>().ok());
        if let (Some((out, now)), Some(sent)) = (latencies.as_mut(), sent) {
            out.push(now.saturating_sub(sent).min(u64::from(u32::MAX)) as u32);
        }
    }
    edits
}

/// Reads the `bench` map of a fresh client of `url`: how many edits the server holds.
pub async fn stored_edits(url: &str) -> anyhow::Result<u32> {
    Ok(sync_fresh(url).await?.edits)
}

/// What a fresh client found when it synced.
pub struct Synced {
    /// Edits the server holds.
    pub edits: u32,
    /// How long after connecting the server's sync step 2 arrived (before it was decoded).
    pub served: Duration,
    /// The size of the board as one encoded update (the step 2's payload).
    pub encoded_bytes: usize,
}

/// Syncs a fresh client with `url`.
pub async fn sync_fresh(url: &str) -> anyhow::Result<Synced> {
    let begin = Instant::now();
    let (ws, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true).await?;
    let (mut sink, mut stream) = ws.split();
    let doc = Doc::new();
    sink.send(WsMessage::Binary(
        codec::encode_sync_step1(&doc.transact().state_vector()).into(),
    ))
    .await?;
    let limits = Limits {
        max_message_bytes: usize::MAX,
        ..Limits::default()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let frame = tokio::time::timeout_at(deadline, stream.next())
            .await
            .context("no sync answer")?
            .context("closed")??;
        let WsMessage::Binary(bytes) = frame else {
            continue;
        };
        for message in codec::decode_frame(&bytes, &limits)? {
            if let Message::Sync(SyncMessage::SyncStep2(update)) = message {
                let arrived = begin.elapsed();
                let encoded_bytes = update.len();
                doc.transact_mut()
                    .apply_update(codec::decode_update(&update)?)?;
                // Root types first: yrs cannot define one while a transaction is open.
                let (bench, cards) = (doc.get_or_insert_map(ROOT), doc.get_or_insert_map(CARDS));
                let txn = doc.transact();
                let len = bench.len(&txn) + cards.len(&txn);
                drop(txn);
                let _ = sink.send(WsMessage::Close(None)).await;
                return Ok(Synced {
                    edits: len,
                    served: arrived,
                    encoded_bytes,
                });
            }
        }
    }
}

/// Sends raw bytes as one frame (for the board-loading scenarios).
///
/// Everything the server sends meanwhile is read, and the connection is closed only once the
/// server has answered the close: a socket closed with unread data sends a reset, which would
/// discard frames the server has not read yet.
pub async fn send_raw(url: &str, frames: Vec<Vec<u8>>) -> anyhow::Result<()> {
    let (ws, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true).await?;
    let (mut sink, mut stream) = ws.split();
    let drain = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
    for frame in frames {
        sink.send(WsMessage::Binary(Bytes::from(frame))).await?;
    }
    sink.send(WsMessage::Close(None)).await?;
    tokio::time::timeout(Duration::from_secs(300), drain)
        .await
        .context("the server did not answer the close")??;
    Ok(())
}
