//! The room task: one per loaded board, the single owner of its Yjs document and presence.
//!
//! A board's whole life is here:
//!
//! 1. **Load** — [`run`] reads snapshot + log tail from the store and rebuilds the document off the
//!    async workers. Joins that arrive meanwhile wait in the inbox. A failed load refuses them with
//!    "board unavailable" and removes the room, so the stored board is never replaced by an empty
//!    one.
//! 2. **Serve** — commands are taken in batches. Updates are applied to the document, the whole
//!    batch of resulting changes is appended to the store (one durable write, shared with other
//!    boards by group commit), and only then broadcast and answered: nobody sees an edit that a
//!    crash could lose. Awareness needs no durability and is relayed at once. On a store several
//!    servers share (Redis), the room also follows what the others append to the board and
//!    shares presence with them, while anyone here is on the board ([`super::cluster`]).
//! 3. **Compact** — when the log passes a size or count threshold, the document is written as one
//!    snapshot that replaces the log.
//! 4. **Unload** — once no connection has been attached for the grace period, the log is compacted
//!    and the room removes itself from the registry; the next connection loads it afresh.
//!
//! Outbound queues are bounded and written with `try_send`: a connection that cannot keep up is
//! closed with [`CloseCode::Resync`]; an update is never dropped silently, and the room never waits
//! for a slow socket.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use client_protocol::access::{self, Actor, Refusal};
use client_protocol::apply;
use client_protocol::blocks::{self, Blocks};
use client_protocol::codec::{self, Message, SyncMessage};
use client_protocol::inspect::Locator;
use client_protocol::{BoardId, CloseCode};
use futures_util::FutureExt;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use yrs::block::ClientID;
use yrs::sync::time::SystemClock;
use yrs::sync::{Awareness, AwarenessUpdate, Clock};
use yrs::{Doc, ReadTxn, StateVector, Transact};

use super::cluster::{self, Interrupted, Links};
use super::handle::{
    ApiRequest, BoardState, Command, ConnId, CreateError, JoinError, Kick, Peer, QueuedBytes,
    RestoreDone, RestoreError, RoomHandle,
};
use super::presence::{self, Presence};
use super::registry::Rooms;
use crate::config::RoomConfig;
use crate::history::History;
use crate::metrics::Metrics;
use crate::storage::{BoardSummary, Entry, LogSeq, Milestone, Store, StoreError, StoredBoard};
use client_protocol::schema::Board as BoardView;

/// What a room needs from the rest of the server.
pub(super) struct Context {
    pub rooms: Rooms,
    pub store: Arc<dyn Store>,
    pub history: Arc<History>,
    pub config: RoomConfig,
    pub shutdown: CancellationToken,
    pub metrics: Arc<Metrics>,
}

/// A connection as the room sees it.
struct Conn {
    outbound: mpsc::Sender<Bytes>,
    /// Taken when the room ends the connection.
    kick: Option<oneshot::Sender<Kick>>,
    /// Who is connected: what their updates may change, and whose they are in history.
    actor: Arc<Actor>,
    /// Bytes waiting in `outbound`.
    queued: Arc<QueuedBytes>,
}

/// Why a room stops serving before it is unloaded.
enum Fatal {
    /// The store refused a write: the board stops accepting edits until it is reloaded.
    Storage(StoreError),
    /// Applying an update panicked inside yrs; the in-memory document can no longer be trusted,
    /// so it is dropped and reloaded from storage (which never saw the offending update).
    Poisoned,
    /// The board is being deleted (not a failure: the room's last act).
    Deleted(oneshot::Sender<Result<(), StoreError>>),
    /// Other servers trimmed the board's stream past what this room had read from it (it fell
    /// far behind): the room reloads from the newest checkpoint.
    Behind,
    /// Another server deleted the board: its participants here are told, as there.
    DeletedElsewhere,
}

impl Fatal {
    /// How the board's connections are closed.
    fn kick(&self) -> Kick {
        let (code, reason) = match self {
            Fatal::Storage(_) => (CloseCode::StorageFailure, "storage refused a write"),
            Fatal::Poisoned => (CloseCode::Resync, "board reset"),
            Fatal::Behind => (CloseCode::Resync, "board reloaded"),
            Fatal::Deleted(_) | Fatal::DeletedElsewhere => {
                (CloseCode::BoardDeleted, "board deleted")
            }
        };
        Kick { code, reason }
    }

    /// How joins that arrive as the room stops are answered: told to come back at once where
    /// the next room will load the board afresh, else to retry later.
    fn refusal(&self) -> JoinError {
        match self {
            Fatal::Poisoned | Fatal::Behind | Fatal::DeletedElsewhere => {
                JoinError::Closed(self.kick())
            }
            Fatal::Storage(_) | Fatal::Deleted(_) => JoinError::Unavailable,
        }
    }
}

/// How a serving room ended without failing.
enum Exit {
    Unloaded,
    Shutdown,
}

/// An answer that must wait until the batch's updates are durable, because it reveals them.
enum Reply {
    Welcome(ConnId, oneshot::Sender<Result<(), JoinError>>),
    Step2(ConnId, StateVector),
    /// Ask a connection for what the board lacks.
    Step1(ConnId),
    Read(oneshot::Sender<BoardState>),
    Summary(oneshot::Sender<(Option<BoardSummary>, usize)>),
    Created(oneshot::Sender<Result<(), CreateError>>),
    Restored(
        oneshot::Sender<Result<RestoreDone, RestoreError>>,
        Milestone,
    ),
}

/// Why a restore stopped with the document possibly half-edited (it is then reloaded).
const POISONED: &str = "converging the board panicked";

/// Pseudo connection id of changes made through the HTTP API: no connection has it, so its
/// changes go to everyone.
const API: ConnId = 0;

/// Updates produced by one batch, waiting for their durable append, each with the connection it
/// came from (which already has it) and its author.
#[derive(Default)]
struct Produced {
    entries: Vec<Entry>,
}

struct Board {
    handle: RoomHandle,
    ctx: Context,
    /// The document and the awareness states of everyone on the board.
    awareness: Awareness,
    /// Where every item of the document lives: what access control inspects updates with.
    /// Fed every update the document integrates. `None` while nobody's edits need inspecting
    /// (on an open server everyone owns every board): then it is built from the document the
    /// first time one does, and loads and edits skip its cost.
    locator: Option<Locator>,
    conns: HashMap<ConnId, Conn>,
    presence: Presence,
    /// Updates and bytes in the stored log since the last snapshot.
    log_updates: usize,
    log_bytes: u64,
    /// Size of the last snapshot, in bytes (with `log_bytes`, the board's stored size).
    snapshot_bytes: u64,
    /// Position of the newest stored update.
    last_seq: Option<LogSeq>,
    /// The checkpoint being written in the background, if any: awaited before another, and
    /// before the board is unloaded or deleted (so that none lands after its deletion).
    writing_checkpoint: Option<tokio::task::JoinHandle<()>>,
    /// Since when no connection has been in the room.
    idle_since: Option<Instant>,
    /// Connections sent the whole board while it loaded: their first step 1 was sent before
    /// they had it, so it is answered against what they were sent (`early_sv`) instead.
    served_early: HashSet<ConnId>,
    early_sv: StateVector,
    /// Connections sent the server's step 1 while the board loaded: not sent it again.
    welcomed_early: HashSet<ConnId>,
    /// The sync step 2 answering an empty state vector (a newcomer's), encoded once and shared
    /// by every newcomer until the document changes: a crowd joining a large board costs one
    /// encoding and one copy of it in memory, not one each.
    full_state: Option<Bytes>,
    /// When the last batch of frames began, and the moving average of the time between them
    /// (seconds): whether edits arrive fast enough to be worth folding.
    last_frame_at: Option<Instant>,
    frame_gap: f64,
    /// Whether no other server shares the store (sled): there is nobody to keep in step with.
    alone: bool,
    /// The tasks that keep the board in step with the other servers sharing the store, while
    /// anyone here is on it.
    links: Option<Links>,
    /// The other servers' participants here, by the server that speaks for them, and when each
    /// server was last heard from: a server that falls silent has crashed, and its participants
    /// are removed.
    remote_owners: Presence<u64>,
    servers_heard: HashMap<u64, Instant>,
    /// Awareness clients whose changes wait to be sent together, and since when.
    presence_pending: Vec<ClientID>,
    presence_since: Option<Instant>,
    /// Whether edits made here changed the board since its summary was last shared with the
    /// other servers' listings, and when that was.
    summary_stale: bool,
    summary_shared_at: Option<Instant>,
}

/// Runs the room of `handle.board` until it is unloaded, fails, or the server shuts down.
pub(super) async fn run(handle: RoomHandle, commands: mpsc::Receiver<Command>, ctx: Context) {
    let span = tracing::info_span!("room", board = %handle.board);
    let (rooms, room) = (ctx.rooms.clone(), handle.clone());
    let lifecycle = AssertUnwindSafe(lifecycle(handle, commands, ctx).instrument(span.clone()));
    // A bug must not leave a dead room registered: its board would stay unavailable.
    if lifecycle.catch_unwind().await.is_err() {
        span.in_scope(|| tracing::error!("room task panicked; the board will be reloaded"));
        rooms.remove(&room);
    }
}

async fn lifecycle(handle: RoomHandle, mut commands: mpsc::Receiver<Command>, ctx: Context) {
    let started = Instant::now();
    let index = ctx.config.index_for_access;
    let loaded = match ctx.store.load(&handle.board).await {
        Ok(stored) => {
            // A board stored as one checkpoint (the usual case once it has been unloaded) is its
            // whole state as it will be sent: newcomers get it while the document is decoded,
            // which on a large board takes far longer than reading it.
            let early_state = match (&stored.snapshot, stored.updates.is_empty()) {
                (Some(snapshot), true) => Some(Bytes::from(codec::encode_sync_step2(snapshot))),
                _ => None,
            };
            // The server's step 1 for those newcomers: the stored state's state vector, read from
            // its block headers beside the decoding (a small part of its cost).
            let early_step1 = match (&stored.snapshot, &early_state) {
                (Some(snapshot), Some(_)) => {
                    let snapshot = snapshot.clone();
                    Some(tokio::task::spawn_blocking(move || step1_of(&snapshot)))
                }
                _ => None,
            };
            let board = handle.board.clone();
            let decoding = tokio::task::spawn_blocking(move || decode(&board, stored, index));
            let capacity = ctx.config.inbox_capacity;
            let (loaded, early) = serve_while_decoding(
                decoding,
                &mut commands,
                early_state.clone(),
                early_step1,
                capacity,
            )
            .await;
            loaded.map(|loaded| (loaded, early_state, early))
        }
        Err(error) => Err((error, Early::default())),
    };
    let (stored, early_state, early) = match loaded {
        Ok(loaded) => loaded,
        Err((error, early)) => {
            tracing::error!(%error, "board load failed; refusing its connections");
            ctx.rooms.remove(&handle);
            refuse_early(early.commands);
            refuse_all(&mut commands, JoinError::Unavailable).await;
            return;
        }
    };
    tracing::info!(
        duration_ms = started.elapsed().as_millis() as u64,
        snapshot_bytes = stored.snapshot_bytes,
        log_updates = stored.log_updates,
        log_bytes = stored.log_bytes,
        "board loaded"
    );
    let early_sv = match early.sent_step2.is_empty() {
        true => StateVector::default(),
        false => stored.doc.transact().state_vector(),
    };
    let mut board = Board {
        handle,
        awareness: Awareness::new(stored.doc),
        locator: stored.locator,
        conns: HashMap::new(),
        presence: Presence::default(),
        log_updates: stored.log_updates,
        log_bytes: stored.log_bytes,
        snapshot_bytes: stored.snapshot_bytes as u64,
        last_seq: stored.last_seq,
        writing_checkpoint: None,
        idle_since: None,
        early_sv,
        served_early: early.sent_step2,
        welcomed_early: early.sent_step1,
        // The document is exactly what was stored and sent early.
        full_state: early_state,
        last_frame_at: None,
        frame_gap: 1.0,
        alone: false,
        links: None,
        remote_owners: Presence::default(),
        servers_heard: HashMap::new(),
        presence_pending: Vec::new(),
        presence_since: None,
        summary_stale: false,
        summary_shared_at: None,
        ctx,
    };
    let served = board.serve(&mut commands, early.commands).await;
    board.unlink();
    match served {
        Ok(Exit::Unloaded) => {
            board.ctx.metrics.unloads.inc();
            tracing::info!(
                loaded_for_ms = started.elapsed().as_millis() as u64,
                stored_bytes = board.snapshot_bytes + board.log_bytes,
                "board unloaded"
            );
            drop(board);
            return_freed_memory();
        }
        Ok(Exit::Shutdown) => {
            board.kick_all(Kick {
                code: CloseCode::GoingAway,
                reason: "server shutting down",
            });
            if let Err(Fatal::Storage(error)) = board.checkpoint().await {
                tracing::warn!(%error, "final checkpoint failed; the log is kept");
            }
        }
        Err(fatal) => {
            match &fatal {
                Fatal::Storage(error) => {
                    tracing::error!(%error, "storage refused a write; closing the board")
                }
                Fatal::Poisoned => {
                    tracing::error!("an update crashed the document; reloading from storage")
                }
                Fatal::Behind => {
                    tracing::warn!("fell behind the board's trimmed stream; reloading")
                }
                Fatal::DeletedElsewhere => {
                    tracing::info!("deleted by another server; closing");
                    board.ctx.history.forget(&board.handle.board);
                }
                Fatal::Deleted(_) => {}
            }
            let refusal = fatal.refusal();
            board.kick_all(fatal.kick());
            board.checkpoint_written().await;
            if let Fatal::Deleted(reply) = fatal {
                // Removed from storage while still registered, so that nobody can load a
                // half-deleted board; joins meanwhile wait in the inbox and are refused below.
                let deleted = board.ctx.store.delete(&board.handle.board).await;
                board.ctx.history.forget(&board.handle.board);
                match &deleted {
                    Ok(()) => tracing::info!("board deleted"),
                    Err(error) => tracing::error!(%error, "board deletion failed"),
                }
                let _ = reply.send(deleted);
            }
            board.ctx.rooms.remove(&board.handle);
            refuse_all(&mut commands, refusal).await;
        }
    }
}

/// Closes the newcomers let in while the board loaded (a board that then cannot be served).
fn refuse_early(early: Vec<Command>) {
    for command in early {
        if let Command::Join { peer, .. } = command {
            let _ = peer.kick.send(Kick {
                code: CloseCode::BoardUnavailable,
                reason: "board unavailable",
            });
        }
    }
}

/// Answers every queued and future join with `refusal` once the room will not serve.
async fn refuse_all(commands: &mut mpsc::Receiver<Command>, refusal: JoinError) {
    commands.close();
    while let Some(command) = commands.recv().await {
        if let Command::Join { ready, .. } = command {
            let _ = ready.send(Err(refusal.clone()));
        }
    }
}

/// A board rebuilt from storage.
struct Loaded {
    doc: Doc,
    locator: Option<Locator>,
    last_seq: Option<LogSeq>,
    snapshot_bytes: usize,
    log_updates: usize,
    log_bytes: u64,
}

/// The server's sync step 1 for a board stored as `snapshot` alone: its state vector, read from
/// the update's block headers without integrating anything. `None` if it does not parse (the load
/// will say why) or has gaps.
fn step1_of(snapshot: &[u8]) -> Option<Bytes> {
    let parsed = blocks::parse(snapshot).ok()?;
    let mut sv = StateVector::default();
    for block in &parsed.blocks {
        if block.kind == blocks::BlockKind::Skip {
            return None; // a complete state has no gaps
        }
        sv.set_max(ClientID::new(block.id.0), block.id.1 + block.len);
    }
    Some(Bytes::from(codec::encode_sync_step1(&sv)))
}

/// What a room took in while its board was being decoded.
#[derive(Default)]
struct Early {
    /// Every command, in order, to handle once the board is loaded.
    commands: Vec<Command>,
    /// Newcomers sent the stored board (a sync step 2).
    sent_step2: HashSet<ConnId>,
    /// Newcomers also sent the server's step 1.
    sent_step1: HashSet<ConnId>,
}

/// What arrived while a board was being decoded, and how the decoding ended. With `early_state`
/// (the board's whole stored state as a sync step 2), each newcomer is sent it at once and let
/// in, so that it is synced before the document is ready, and the server's step 1 as soon as
/// `early_step1` has read it. Its join, and everything else that arrives, is kept in order and
/// handled once the board is loaded (the newcomer then gets presence as usual; what it sends
/// meanwhile waits). At most `capacity` commands are taken early: past that, senders wait as
/// they would on any busy board.
async fn serve_while_decoding(
    mut decoding: tokio::task::JoinHandle<Result<Loaded, StoreError>>,
    commands: &mut mpsc::Receiver<Command>,
    early_state: Option<Bytes>,
    mut early_step1: Option<tokio::task::JoinHandle<Option<Bytes>>>,
    capacity: usize,
) -> (Result<Loaded, (StoreError, Early)>, Early) {
    let mut early = Early::default();
    let mut step1: Option<Bytes> = None;
    // Sends the step 1 to a newcomer that has had the step 2.
    let send_step1 = |peer: &Peer, step1: &Bytes, early_sent: &mut HashSet<ConnId>| {
        if enqueue(&peer.outbound, &peer.queued, step1.clone()).is_ok() {
            early_sent.insert(peer.conn);
        }
    };
    let decoded = loop {
        tokio::select! {
            biased;
            decoded = &mut decoding => break decoded,
            read = async { early_step1.as_mut().expect("guarded").await }, if early_step1.is_some() => {
                early_step1 = None;
                step1 = read.ok().flatten();
                if let Some(step1) = &step1 {
                    for command in &early.commands {
                        if let Command::Join { peer, .. } = command {
                            if early.sent_step2.contains(&peer.conn) {
                                send_step1(peer, step1, &mut early.sent_step1);
                            }
                        }
                    }
                }
            }
            Some(command) = commands.recv(), if early_state.is_some() && early.commands.len() < capacity => {
                let command = match (command, &early_state) {
                    (Command::Join { peer, ready }, Some(state))
                        if enqueue(&peer.outbound, &peer.queued, state.clone()).is_ok() =>
                    {
                        let _ = ready.send(Ok(()));
                        early.sent_step2.insert(peer.conn);
                        if let Some(step1) = &step1 {
                            send_step1(&peer, step1, &mut early.sent_step1);
                        }
                        // Answered: the welcome after the load has nobody to tell.
                        let (answered, _) = oneshot::channel();
                        Command::Join { peer, ready: answered }
                    }
                    (command, _) => command,
                };
                early.commands.push(command);
            }
        }
    };
    match decoded {
        Ok(Ok(loaded)) => (Ok(loaded), early),
        Ok(Err(error)) => (Err((error, early)), Early::default()),
        Err(e) => (
            Err((
                StoreError::Backend(format!("load task failed: {e}").into()),
                early,
            )),
            Early::default(),
        ),
    }
}

/// Rebuilds a board's document from what was stored, and its access-control index if `index`.
/// CPU work: run it on a blocking thread.
fn decode(board: &BoardId, stored: StoredBoard, index: bool) -> Result<Loaded, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        board: board.to_string(),
        key: "snapshot+log".into(),
        reason,
    };
    let doc = Doc::new();
    let mut locator = index.then(Locator::new);
    let applied = catch_unwind(AssertUnwindSafe(|| -> Result<(), StoreError> {
        let mut txn = doc.transact_mut();
        for bytes in stored.snapshot.iter().chain(&stored.updates) {
            let update = match &mut locator {
                Some(locator) => {
                    let (update, blocks) = codec::decode_update_with_blocks(bytes)
                        .map_err(|e| corrupt(e.to_string()))?;
                    locator.record(&blocks);
                    update
                }
                None => codec::decode_update(bytes).map_err(|e| corrupt(e.to_string()))?,
            };
            txn.apply_update(update)
                .map_err(|e| corrupt(e.to_string()))?;
        }
        Ok(())
    }));
    match applied {
        Ok(Ok(())) => Ok(Loaded {
            last_seq: stored.last_seq,
            snapshot_bytes: stored.snapshot.as_ref().map_or(0, Vec::len),
            log_updates: stored.updates.len(),
            log_bytes: stored.log_bytes(),
            doc,
            locator,
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(corrupt("applying the stored updates panicked".into())),
    }
}

/// The access-control index of everything `doc` holds (built once, when an update first needs
/// inspecting on a board loaded without it).
fn index_of(doc: &Doc) -> Locator {
    let started = Instant::now();
    let state = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let mut locator = Locator::new();
    record(&mut locator, &state);
    tracing::info!(
        bytes = state.len(),
        duration_ms = started.elapsed().as_millis() as u64,
        "access-control index built"
    );
    locator
}

/// Feeds `locator` an update the document integrated.
fn record(locator: &mut Locator, update: &[u8]) {
    match blocks::parse(update) {
        Ok(blocks) => locator.record(&blocks),
        // yrs's own encoding always parses; if it ever did not, access control would judge
        // later updates with a partial index, so say so loudly.
        Err(error) => tracing::error!(%error, "the document's own update does not parse"),
    }
}

/// The updates of one batch as the updates to broadcast, each with the connection that must not
/// receive it (its sender, which has it). Several updates become one, merged: every recipient
/// gets one frame per batch instead of one per update. A merged update from several senders goes
/// to everyone (a sender ignores its own changes coming back, as Yjs does with any duplicate).
fn fold(produced: Produced) -> Vec<(Vec<u8>, Option<ConnId>)> {
    let (updates, origins): (Vec<_>, Vec<_>) = produced
        .entries
        .into_iter()
        .map(|entry| (entry.update, entry.conn))
        .unzip();
    if updates.len() > 1 {
        // yrs's own encodings merge; a panic in the merge falls back to one frame per update.
        let merged = catch_unwind(AssertUnwindSafe(|| yrs::merge_updates_v1(&updates)));
        if let Ok(Ok(merged)) = merged {
            let first = origins[0];
            let except = origins.iter().all(|o| *o == first).then_some(first);
            return vec![(merged, except)];
        }
    }
    updates
        .into_iter()
        .zip(origins.into_iter().map(Some))
        .collect()
}

/// Who history names for changes the server makes itself (values written back after a refused
/// edit).
fn server_actor() -> Actor {
    Actor {
        role: client_protocol::access::Role::Owner,
        sub: "parcours".into(),
        name: "Parcours".into(),
    }
}

/// Milliseconds since the Unix epoch (never 0, which stands for "unknown").
pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_millis() as u64)
        .max(1)
}

/// Hands memory freed by an unloaded board back to the operating system. glibc keeps freed heap
/// in its arenas for reuse, so without this a server's resident size stays at its busiest
/// moment long after everyone has left (measured by the soak test).
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own allocator state; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 3600)
}

impl Board {
    fn doc(&self) -> &Doc {
        self.awareness.doc()
    }

    /// Serves the board: first what arrived while it loaded (`early`), then its inbox.
    async fn serve(
        &mut self,
        commands: &mut mpsc::Receiver<Command>,
        early: Vec<Command>,
    ) -> Result<Exit, Fatal> {
        let mut sweep = tokio::time::interval(self.ctx.config.awareness_timeout / 6);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heartbeat = tokio::time::interval(cluster::HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let shutdown = self.ctx.shutdown.clone();
        self.idle_since = Some(Instant::now());
        if !early.is_empty() {
            self.handle_batch(early).await?;
        }
        loop {
            if self.conns.is_empty() {
                self.unlink();
            }
            let unload_at = self.idle_since.map(|t| t + self.ctx.config.unload_grace);
            let presence_due = self
                .presence_since
                .map(|t| t + self.ctx.config.presence_batch);
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(Exit::Shutdown),
                command = commands.recv() => {
                    // The registry holds a sender while the room is registered.
                    let Some(command) = command else { return Ok(Exit::Shutdown) };
                    let batch = self.gather(command, commands).await;
                    self.handle_batch(batch).await?;
                }
                _ = sweep.tick() => self.expire_presence(),
                _ = heartbeat.tick(), if self.links.is_some() => self.heartbeat(),
                _ = tokio::time::sleep_until(presence_due.unwrap_or_else(far_future)), if presence_due.is_some() => {
                    self.flush_presence();
                }
                _ = tokio::time::sleep_until(unload_at.unwrap_or_else(far_future)), if unload_at.is_some() => {
                    if self.try_unload().await? {
                        return Ok(Exit::Unloaded);
                    }
                }
            }
        }
    }

    async fn handle_batch(&mut self, batch: Vec<Command>) -> Result<(), Fatal> {
        // Whoever joins or asks must get the board as the other servers left it (a listing's
        // summary may lag: it is not worth a read of every listed board's log).
        let asks = |c: &Command| match c {
            Command::Api(ApiRequest::Summary { .. }) => false,
            Command::Api(_) => true,
            _ => false,
        };
        let needs_others = |c: &Command| matches!(c, Command::Join { .. }) || asks(c);
        if self.links.is_none() && batch.iter().any(needs_others) {
            let linked = match self.link().await {
                // Nobody is here to lose anything: start afresh from what is stored.
                Err(Fatal::Behind | Fatal::DeletedElsewhere) if self.conns.is_empty() => {
                    tracing::info!("the board moved past what this room can follow; reloading");
                    self.reload().await?;
                    self.link().await
                }
                linked => linked,
            };
            if let Err(fatal) = linked {
                for command in batch {
                    if let Command::Join { ready, .. } = command {
                        let _ = ready.send(Err(fatal.refusal()));
                    }
                }
                return Err(fatal);
            }
        } else if batch.iter().any(asks) {
            self.catch_up().await?;
        }
        let mut produced = Produced::default();
        let mut replies = Vec::new();
        for command in batch {
            match command {
                Command::Join { peer, ready } => {
                    if peer.outbound.is_closed() {
                        continue; // it left while waiting for the load
                    }
                    self.conns.insert(
                        peer.conn,
                        Conn {
                            outbound: peer.outbound,
                            kick: Some(peer.kick),
                            actor: Arc::new(peer.actor),
                            queued: peer.queued,
                        },
                    );
                    self.idle_since = None;
                    replies.push(Reply::Welcome(peer.conn, ready));
                }
                Command::Leave { conn } => self.disconnect(vec![(conn, None)]),
                Command::Remote { records } => self.integrate_remote(records)?,
                Command::FellBehind => return Err(Fatal::Behind),
                Command::DeletedElsewhere => return Err(Fatal::DeletedElsewhere),
                // Sent before the room stopped following the others: nobody here to tell.
                Command::RemotePresence { .. } | Command::PresenceResumed
                    if self.links.is_none() => {}
                Command::RemotePresence { node, frame } => self.apply_remote_presence(node, frame),
                Command::PresenceResumed => self.announce_presence(),
                Command::Evict => {
                    if self.conns.is_empty() {
                        // Unload at the next turn of the loop, as if the grace period had passed.
                        self.idle_since = Some(Instant::now() - self.ctx.config.unload_grace);
                    }
                }
                Command::Api(ApiRequest::Read { reply }) => replies.push(Reply::Read(reply)),
                Command::Api(ApiRequest::Summary { reply }) => replies.push(Reply::Summary(reply)),
                Command::Api(ApiRequest::Create {
                    update,
                    actor,
                    reply,
                }) => {
                    if !self.doc().transact().state_vector().is_empty()
                        || !produced.entries.is_empty()
                    {
                        let _ = reply.send(Err(CreateError::Exists));
                        continue;
                    }
                    let applied =
                        apply::apply_update(self.doc(), &update).map_err(|_| Fatal::Poisoned)?;
                    match (applied.rejected, applied.diff) {
                        (Some(reason), _) => {
                            let _ = reply.send(Err(CreateError::Invalid(reason)));
                        }
                        (None, Some(diff)) => {
                            self.integrated(diff, API, Arc::new(actor), &mut produced);
                            replies.push(Reply::Created(reply));
                        }
                        (None, None) => {
                            let _ = reply.send(Err(CreateError::Invalid("no content".into())));
                        }
                    }
                }
                Command::Api(ApiRequest::Restore {
                    target,
                    expected_head,
                    actor,
                    before,
                    reply,
                }) => {
                    // Edits earlier in this batch move the board too.
                    let head = self.last_seq.unwrap_or(0);
                    if head != expected_head || !produced.entries.is_empty() {
                        let head = head + produced.entries.len() as u64;
                        let _ = reply.send(Err(RestoreError::Moved { head }));
                        continue;
                    }
                    match self
                        .restore(&target, Arc::new(actor), before, &mut produced)
                        .await
                    {
                        Ok(before) => replies.push(Reply::Restored(reply, before)),
                        Err(RestoreError::Invalid(reason)) if reason == POISONED => {
                            let _ = reply.send(Err(RestoreError::Invalid(reason)));
                            return Err(Fatal::Poisoned);
                        }
                        Err(error) => {
                            let _ = reply.send(Err(error));
                        }
                    }
                }
                Command::Api(ApiRequest::Delete { reply }) => {
                    // Everything before the delete in this batch is moot; answer joins that
                    // would otherwise wait, then stop serving.
                    for reply in replies.drain(..) {
                        if let Reply::Welcome(_, ready) = reply {
                            let _ = ready.send(Err(JoinError::Unavailable));
                        }
                    }
                    return Err(Fatal::Deleted(reply));
                }
                Command::Frame { conn, messages } => {
                    for message in messages {
                        if !self.conns.contains_key(&conn) {
                            break; // kicked earlier in this batch
                        }
                        if let Err(kick) =
                            self.handle_message(conn, message, &mut produced, &mut replies)?
                        {
                            self.disconnect(vec![(conn, Some(kick))]);
                        }
                    }
                }
            }
        }
        if !produced.entries.is_empty() {
            self.persist_and_broadcast(produced).await?;
        }
        for reply in replies {
            match reply {
                Reply::Welcome(conn, ready) => {
                    // A newcomer served while the board loaded may have had the server's step 1.
                    if !self.welcomed_early.remove(&conn) {
                        let sv = self.doc().transact().state_vector();
                        self.send(conn, codec::encode_sync_step1(&sv).into());
                    }
                    if let Some(frame) = self.awareness_frame(None) {
                        self.send(conn, frame);
                    }
                    let _ = ready.send(Ok(()));
                }
                Reply::Step2(conn, sv) => {
                    let sv = match self.served_early.remove(&conn) && sv.is_empty() {
                        true => self.early_sv.clone(),
                        false => sv,
                    };
                    if self.conns.contains_key(&conn) {
                        let frame = self.step2_for(&sv);
                        self.send(conn, frame);
                    }
                }
                Reply::Step1(conn) => {
                    let sv = self.doc().transact().state_vector();
                    self.send(conn, codec::encode_sync_step1(&sv).into());
                }
                Reply::Read(reply) => {
                    let state = apply::snapshot(self.doc()).map_err(|_| Fatal::Poisoned)?;
                    let _ = reply.send(BoardState { state });
                }
                Reply::Summary(reply) => {
                    // A room that stopped following the other servers may be behind them: the
                    // stored summary, which the server where the board is live shares, is newer.
                    let current = (self.alone || self.links.is_some()).then(|| self.summary());
                    let _ = reply.send((current, self.conns.len()));
                }
                Reply::Created(reply) => {
                    let _ = reply.send(Ok(()));
                }
                Reply::Restored(reply, before) => {
                    let head = self.last_seq.unwrap_or(0);
                    let _ = reply.send(Ok(RestoreDone { head, before }));
                }
            }
        }
        if self.conns.is_empty() && self.idle_since.is_none() {
            self.idle_since = Some(Instant::now());
        }
        self.handle
            .participants
            .store(self.conns.len(), Ordering::Relaxed);
        // Tell the registry when the board became idle (or busy again), for eviction.
        let idle_since = &self.handle.idle_since_ms;
        let was_idle = idle_since.load(Ordering::Relaxed) != 0;
        if self.conns.is_empty() != was_idle {
            let value = if self.conns.is_empty() { now_ms() } else { 0 };
            idle_since.store(value, Ordering::Relaxed);
        }
        if self.should_compact() {
            self.checkpoint_in_background().await;
        }
        Ok(())
    }

    /// Handles one message; `Ok(Err(kick))` ends the sending connection.
    fn handle_message(
        &mut self,
        conn: ConnId,
        message: Message,
        produced: &mut Produced,
        replies: &mut Vec<Reply>,
    ) -> Result<Result<(), Kick>, Fatal> {
        match message {
            Message::Sync(SyncMessage::SyncStep1(sv)) => replies.push(Reply::Step2(conn, sv)),
            Message::Sync(SyncMessage::SyncStep2(update)) => {
                return self.integrate(conn, &update, false, produced, replies);
            }
            Message::Sync(SyncMessage::Update(update)) => {
                return self.integrate(conn, &update, true, produced, replies);
            }
            Message::Awareness(update) => self.apply_awareness(conn, update),
            Message::AwarenessQuery => {
                if let Some(frame) = self.awareness_frame(None) {
                    self.send(conn, frame);
                }
            }
            Message::Auth(_) => tracing::debug!(conn, "ignoring an auth message from a client"),
            Message::Custom(tag, _) => {
                tracing::warn!(conn, tag, "unknown message type");
                return Ok(Err(Kick {
                    code: CloseCode::ProtocolError,
                    reason: "unknown message type",
                }));
            }
        }
        Ok(Ok(()))
    }

    /// Applies a sync step 2 (`live` false) or an update (`live` true) from `conn`; what changed
    /// joins the batch to be stored and broadcast. `Ok(Err(kick))` ends the sender.
    fn integrate(
        &mut self,
        conn: ConnId,
        update: &[u8],
        live: bool,
        produced: &mut Produced,
        replies: &mut Vec<Reply>,
    ) -> Result<Result<(), Kick>, Fatal> {
        let stored = self.snapshot_bytes + self.log_bytes;
        if stored + update.len() as u64 > self.ctx.config.max_board_bytes {
            tracing::warn!(
                conn,
                stored,
                update_bytes = update.len(),
                "board size limit reached"
            );
            self.ctx.metrics.refused_messages.inc();
            return Ok(Err(Kick {
                code: CloseCode::BoardTooLarge,
                reason: "the board would exceed its size limit",
            }));
        }
        // Read once: for access control and for applying. What does not parse is refused by
        // `apply_update` with its usual error.
        let scanned = codec::scan_update(update).ok();
        // The inspection reads untrusted bytes: a panic in it must not take the room down.
        let Ok(refusal) = catch_unwind(AssertUnwindSafe(|| {
            scanned
                .as_ref()
                .and_then(|blocks| self.check_rights(conn, blocks, live))
        })) else {
            tracing::error!(conn, "inspecting an update panicked; refusing it");
            self.ctx.metrics.refused_messages.inc();
            return Ok(Err(Kick {
                code: CloseCode::InvalidPayload,
                reason: "the update could not be inspected",
            }));
        };
        let applied = match (&refusal, &scanned) {
            (Some(refusal), _) => apply::apply_update(self.doc(), &refusal.update),
            (None, Some(blocks)) => apply::apply_scanned(self.doc(), update, blocks),
            (None, None) => apply::apply_update(self.doc(), update),
        }
        .map_err(|_| Fatal::Poisoned)?;
        if let Some(diff) = applied.diff {
            let actor = self.conns.get(&conn).map(|c| c.actor.clone());
            let actor = actor.unwrap_or_else(|| Arc::new(server_actor()));
            self.integrated(diff, conn, actor, produced);
        }
        if let Some(refusal) = refusal {
            tracing::info!(conn, reason = %refusal.reason, "edit refused: permission denied");
            // Values the refused edit overwrote or deleted in its sender's document are written
            // again, for everyone (the sender's copy cannot undo a deletion otherwise).
            let restored = catch_unwind(AssertUnwindSafe(|| {
                access::restore(self.doc(), &refusal.restore)
            }))
            .map_err(|_| Fatal::Poisoned)?;
            if let Some(diff) = restored {
                let server = Arc::new(server_actor());
                self.integrated(diff, API, server, produced);
            }
            self.ctx.metrics.refused_edits.inc();
            // Only the sender's own refused content is taken back: safe to send before the
            // batch is durable, since it reveals nothing of anyone else's.
            self.send(
                conn,
                codec::encode(&Message::Auth(Some(refusal.reason))).into(),
            );
            self.send(conn, codec::encode_update(&refusal.take_back).into());
        }
        if applied.missing_predecessors {
            // Not applied. A live update can overtake the sender's sync step 2 right after a
            // reconnect; asking again (a fresh step 1) makes a stock client send a step 2 with
            // everything the board lacks, in order. A step 2 with gaps is not asked again: its
            // sender lacks the predecessors itself.
            tracing::debug!(conn, "update does not continue its clients' sequences");
            if live {
                replies.push(Reply::Step1(conn));
            }
        }
        if let Some(reason) = applied.rejected {
            tracing::warn!(conn, %reason, "invalid update");
            self.ctx.metrics.refused_messages.inc();
            return Ok(Err(Kick {
                code: CloseCode::InvalidPayload,
                reason: "invalid update",
            }));
        }
        Ok(Ok(()))
    }

    /// Names the current version with `before`, then edits the document to equal `target`
    /// in one transaction; the edits join the batch, to be stored before anyone receives them.
    async fn restore(
        &mut self,
        target: &[u8],
        actor: Arc<Actor>,
        mut before: Milestone,
        produced: &mut Produced,
    ) -> Result<Milestone, RestoreError> {
        let goal = Doc::new();
        let readable = apply::apply_update(&goal, target)
            .map_err(|_| RestoreError::Invalid("the version does not apply".into()))?;
        if let Some(reason) = readable.rejected {
            return Err(RestoreError::Invalid(format!(
                "the version does not apply: {reason}"
            )));
        }
        before.seq = self.last_seq.unwrap_or(0);
        self.ctx
            .store
            .put_milestone(&self.handle.board, &before)
            .await?;
        let edits = {
            let goal_txn = goal.transact();
            let mut txn = self.doc().transact_mut();
            match client_protocol::converge(&mut txn, &goal_txn) {
                Ok(_) => Ok(txn.encode_update_v1()),
                // Part of the edits may be in the document: it is reloaded from storage.
                Err(client_protocol::ConvergeError::Panicked(_)) => Err(POISONED.to_owned()),
                Err(other) => Err(other.to_string()),
            }
        }
        .map_err(RestoreError::Invalid)?;
        // An empty transaction still encodes its (empty) structure: only store real changes.
        if blocks::parse(&edits).is_ok_and(|b| b.blocks.is_empty() && b.deleted.is_empty()) {
            return Ok(before);
        }
        self.integrated(edits, API, actor, produced);
        Ok(before)
    }

    /// Inspects an update from `conn` against its sender's role; `Some` when part of it must be
    /// refused (PROTOCOL.md §7.3).
    fn check_rights(&mut self, conn: ConnId, blocks: &Blocks<'_>, live: bool) -> Option<Refusal> {
        let actor = &self.conns.get(&conn)?.actor;
        if actor.role.edits_everything() {
            return None;
        }
        let doc = self.awareness.doc();
        let locator = self.locator.get_or_insert_with(|| index_of(doc));
        let inspection = locator.inspect(blocks);
        let txn = doc.transact();
        let verdict = access::judge(actor, &inspection, &txn);
        (!verdict.allowed()).then(|| access::refuse(blocks, &inspection, &verdict, live, &txn))
    }

    /// The batch that starts with `first`: whatever else is waiting, and, when `first` carries
    /// edits and edits are arriving faster than one per fold window, what arrives within that
    /// window. Edits of one batch reach every participant as one message, so on a busy board a
    /// millisecond or two of waiting saves most of the frames (each one a write to each
    /// socket), while a board with one writer pays no wait.
    async fn gather(
        &mut self,
        first: Command,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Vec<Command> {
        let max = self.ctx.config.max_batch;
        let window = self.ctx.config.fold_window;
        let mut fold = false;
        if matches!(first, Command::Frame { .. }) {
            let now = Instant::now();
            let gap = self
                .last_frame_at
                .map_or(1.0, |at| now.duration_since(at).as_secs_f64());
            self.last_frame_at = Some(now);
            // A moving average of the time between frames.
            self.frame_gap = 0.8 * self.frame_gap + 0.2 * gap;
            fold = !window.is_zero() && self.frame_gap < window.as_secs_f64();
        }
        let deadline = tokio::time::Instant::now() + window;
        let mut batch = vec![first];
        while batch.len() < max {
            match commands.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) if fold => match tokio::time::timeout_at(deadline, commands.recv()).await {
                    Ok(Some(command)) => batch.push(command),
                    _ => break,
                },
                Err(_) => break,
            }
        }
        batch
    }

    /// Whether to write a checkpoint now: every [`HistoryConfig::checkpoint_every`] records (at
    /// most; [`RoomConfig::compact_after_updates`] if smaller), so that any version of the board
    /// rebuilds from a checkpoint plus a bounded number of records, and sooner when the log has
    /// grown large in bytes, so that a load never replays too much.
    ///
    /// [`HistoryConfig::checkpoint_every`]: crate::history::HistoryConfig::checkpoint_every
    fn should_compact(&self) -> bool {
        let config = &self.ctx.config;
        let every = config
            .compact_after_updates
            .min(self.ctx.history.config().checkpoint_every)
            .max(1);
        self.log_updates >= every || self.log_bytes >= config.compact_after_bytes
    }

    /// The sync step 2 answering `sv`.
    fn step2_for(&mut self, sv: &StateVector) -> Bytes {
        if sv.is_empty() {
            if let Some(frame) = &self.full_state {
                return frame.clone();
            }
        }
        let diff = self.doc().transact().encode_diff_v1(sv);
        let frame = Bytes::from(codec::encode_sync_step2(&diff));
        if sv.is_empty() {
            self.full_state = Some(frame.clone());
        }
        frame
    }

    /// Applies what other servers stored on this board (they checked it and stored it; this
    /// one shows it): each record that brings anything new goes to every participant here.
    fn integrate_remote(&mut self, records: Vec<(LogSeq, Vec<u8>)>) -> Result<(), Fatal> {
        for (seq, update) in records {
            self.last_seq = Some(self.last_seq.map_or(seq, |last| last.max(seq)));
            let applied = apply::apply_update(self.doc(), &update).map_err(|_| Fatal::Poisoned)?;
            if let Some(diff) = applied.diff {
                self.full_state = None;
                if let Some(locator) = &mut self.locator {
                    record(locator, &diff);
                }
                self.log_updates += 1;
                self.log_bytes += update.len() as u64;
                self.ctx.metrics.remote_updates.inc();
                self.broadcast(Bytes::from(codec::encode_update(&diff)), None);
            }
        }
        Ok(())
    }

    /// Records what the document just integrated, for storage, broadcast and access control.
    fn integrated(
        &mut self,
        diff: Vec<u8>,
        origin: ConnId,
        actor: Arc<Actor>,
        produced: &mut Produced,
    ) {
        self.full_state = None;
        self.summary_stale = true;
        if let Some(locator) = &mut self.locator {
            record(locator, &diff);
        }
        produced.entries.push(Entry {
            update: diff,
            actor,
            conn: origin,
        });
    }

    async fn persist_and_broadcast(&mut self, produced: Produced) -> Result<(), Fatal> {
        let started = Instant::now();
        let seq = self
            .ctx
            .store
            .append(&self.handle.board, &produced.entries)
            .await
            .map_err(Fatal::Storage)?;
        tracing::trace!(
            updates = produced.entries.len(),
            duration_us = started.elapsed().as_micros() as u64,
            "batch durable"
        );
        let metrics = &self.ctx.metrics;
        metrics
            .persist_seconds
            .observe(started.elapsed().as_secs_f64());
        metrics.updates_stored.inc_by(produced.entries.len() as u64);
        metrics
            .update_bytes_stored
            .inc_by(produced.entries.iter().map(|e| e.update.len() as u64).sum());
        self.last_seq = Some(seq);
        self.log_updates += produced.entries.len();
        for (update, except) in fold(produced) {
            self.log_bytes += update.len() as u64;
            let frame = Bytes::from(codec::encode_update(&update));
            self.broadcast(frame, except);
        }
        Ok(())
    }

    fn apply_awareness(&mut self, conn: ConnId, update: AwarenessUpdate) {
        let stale = presence::stale_announcements(&self.awareness, &update);
        match self.awareness.apply_update_summary(update) {
            Ok(Some(summary)) => {
                self.presence.applied(conn, &summary);
                // Everyone hears it (the sender included: for a lone participant, the echo of its
                // own renewals is what keeps the stock client from declaring the link dead), with
                // the other changes of the next few milliseconds, in one message.
                for id in summary.all_changes() {
                    if !self.presence_pending.contains(&id) {
                        self.presence_pending.push(id);
                    }
                }
                self.presence_since.get_or_insert_with(Instant::now);
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(conn, %error, "awareness update not applied"),
        }
        if !stale.is_empty() {
            if let Some(frame) = self.awareness_frame(Some(stale)) {
                self.send(conn, frame);
            }
        }
    }

    /// Sends the presence changes gathered since the last flush, to everyone, as one message.
    fn flush_presence(&mut self) {
        self.presence_since = None;
        let pending = std::mem::take(&mut self.presence_pending);
        if let Some(frame) = self.awareness_frame(Some(pending)) {
            self.publish_presence(&frame);
            self.broadcast(frame, None);
        }
    }

    /// Keeps the board in step with the other servers sharing the store (none for sled): first
    /// integrates what they stored since this room last read the log, then follows it, shares
    /// presence with them and asks them for theirs. Does nothing if already linked.
    async fn link(&mut self) -> Result<(), Fatal> {
        if self.alone || self.links.is_some() {
            return Ok(());
        }
        let (store, board) = (self.ctx.store.clone(), self.handle.board.clone());
        let unfollowed = |error: StoreError| {
            tracing::error!(%error, "cannot follow the board's log; closing the board");
            Fatal::Storage(error)
        };
        let Some(mut follower) = store.follower(&board).await.map_err(unfollowed)? else {
            self.alone = true;
            return Ok(());
        };
        self.read_missed(follower.as_mut())
            .await
            .map_err(|fatal| match fatal {
                Fatal::Storage(error) => unfollowed(error),
                fatal => fatal,
            })?;
        let after = self.last_seq.unwrap_or(0);
        let presence = store.presence(&board).await.unwrap_or_else(|error| {
            // Edits still flow; only the other servers' cursors are missing.
            tracing::error!(%error, "cannot share presence with the other servers");
            None
        });
        let (inbox, metrics) = (self.handle.inbox.clone(), self.ctx.metrics.clone());
        self.ctx.metrics.boards_followed.inc();
        let shared = (store, board);
        self.links = Some(Links::start(
            shared, follower, after, presence, inbox, metrics,
        ));
        // Those already on the board elsewhere would otherwise show up here only when they next
        // renew their presence (every 15 s for a stock client).
        self.publish_presence(&Bytes::from(codec::encode(&Message::AwarenessQuery)));
        tracing::debug!(after, "following the other servers");
        Ok(())
    }

    /// Replaces the document with the board as stored now, for a room nobody is in that can no
    /// longer follow the log (it fell behind a trimmed stream, or another server deleted the
    /// board and perhaps created it again).
    async fn reload(&mut self) -> Result<(), Fatal> {
        self.checkpoint_written().await;
        let board = self.handle.board.clone();
        let stored = self.ctx.store.load(&board).await.map_err(Fatal::Storage)?;
        let index = self.locator.is_some() || self.ctx.config.index_for_access;
        let decoding = tokio::task::spawn_blocking(move || decode(&board, stored, index));
        let loaded = decoding
            .await
            .map_err(|_| Fatal::Poisoned)?
            .map_err(Fatal::Storage)?;
        self.ctx.history.forget(&self.handle.board);
        self.awareness = Awareness::new(loaded.doc);
        self.locator = loaded.locator;
        self.last_seq = loaded.last_seq;
        self.snapshot_bytes = loaded.snapshot_bytes as u64;
        self.log_updates = loaded.log_updates;
        self.log_bytes = loaded.log_bytes;
        self.full_state = None;
        self.served_early.clear();
        self.welcomed_early.clear();
        self.early_sv = StateVector::default();
        self.presence = Presence::default();
        self.presence_pending.clear();
        self.presence_since = None;
        Ok(())
    }

    /// Integrates what the other servers stored after this room's position, reading the log
    /// with `follower` without waiting, until nothing is left.
    async fn read_missed(
        &mut self,
        follower: &mut dyn crate::storage::Follower,
    ) -> Result<(), Fatal> {
        let mut after = self.last_seq.unwrap_or(0);
        loop {
            let records = follower
                .next(after, Duration::ZERO)
                .await
                .map_err(Fatal::Storage)?;
            if records.is_empty() {
                break;
            }
            let records =
                cluster::take(&mut after, records, &self.ctx.metrics).map_err(|i| match i {
                    Interrupted::Behind => Fatal::Behind,
                    Interrupted::Deleted => Fatal::DeletedElsewhere,
                })?;
            self.integrate_remote(records)?;
        }
        if after > 0 {
            self.last_seq = Some(self.last_seq.map_or(after, |last| last.max(after)));
        }
        Ok(())
    }

    /// Brings the board up to what the log holds now, for an API request on a board that is
    /// followed already (the follower's next read may be a few milliseconds away): a request
    /// made on any server sees every edit acknowledged before it. On failure the request is
    /// answered from the board as it is (the follower reports what it cannot get past).
    async fn catch_up(&mut self) -> Result<(), Fatal> {
        let Some(links) = &mut self.links else {
            return Ok(());
        };
        let mut follower = match links.catch_up.take() {
            Some(follower) => follower,
            None => match self.ctx.store.follower(&self.handle.board).await {
                Ok(Some(follower)) => follower,
                Ok(None) => return Ok(()),
                Err(error) => {
                    tracing::warn!(%error, "cannot read the board's log; answering from memory");
                    return Ok(());
                }
            },
        };
        match self.read_missed(follower.as_mut()).await {
            Ok(()) => {}
            Err(Fatal::Poisoned) => return Err(Fatal::Poisoned),
            Err(Fatal::Storage(error)) => {
                tracing::warn!(%error, "cannot read the board's log; answering from memory");
            }
            Err(_) => tracing::debug!("the board's follower will report what it cannot pass"),
        }
        if let Some(links) = &mut self.links {
            links.catch_up = Some(follower);
        }
        Ok(())
    }

    /// Stops following the other servers once nobody here is on the board: ends the log reads
    /// and the presence subscription, and forgets the other servers' participants (asked for
    /// again on [`Board::link`]).
    fn unlink(&mut self) {
        let Some(links) = self.links.take() else {
            return;
        };
        links.report(0);
        // Dropping the links lets what is queued for the others (the last participant's
        // removal) go out first.
        drop(links);
        self.ctx.metrics.boards_followed.dec();
        // The last edits here reach the others' listings now rather than at unload.
        self.summary_shared_at = None;
        self.share_summary();
        let remote = self.remote_owners.take_all();
        presence::forget(&mut self.awareness, &remote);
        self.servers_heard.clear();
        tracing::debug!("nobody here; stopped following the other servers");
    }

    /// Tells the other servers of this board that this one is alive, and removes the
    /// participants of those that fell silent.
    fn heartbeat(&mut self) {
        self.publish_presence(&Bytes::new());
        if let Some(links) = &self.links {
            links.report(self.conns.len());
        }
        self.share_summary();
        let silent: Vec<u64> = self
            .servers_heard
            .iter()
            .filter(|(_, heard)| heard.elapsed() > cluster::SERVER_SILENCE)
            .map(|(node, _)| *node)
            .collect();
        for node in silent {
            self.servers_heard.remove(&node);
            self.ctx.metrics.servers_lost.inc();
            let gone = self.remote_owners.take(node);
            tracing::warn!(
                server = format!("{node:016x}"),
                participants = gone.len(),
                "another server fell silent; removing its participants"
            );
            self.remove_states(&gone, false);
        }
    }

    /// Tells the other servers of this board about presence changes of participants here.
    fn publish_presence(&self, frame: &Bytes) {
        if let Some(links) = &self.links {
            links.publish(frame);
        }
    }

    /// Applies presence another server published and passes it on to the participants here
    /// (never back to the other servers: each publishes its own participants' only).
    fn apply_remote_presence(&mut self, node: u64, frame: Vec<u8>) {
        // A server heard from for the first time (or again, after it fell silent) may have
        // missed this one's participants: it is told them all.
        let mut tell_all = self.servers_heard.insert(node, Instant::now()).is_none();
        if frame.is_empty() {
            self.ctx.metrics.heartbeats_received.inc();
        } else {
            self.ctx.metrics.remote_presence.inc();
            let limits = codec::Limits::default();
            match codec::decode_frame(&frame, &limits) {
                Ok(messages) => {
                    for message in messages {
                        match message {
                            Message::Awareness(update) => self.apply_remote_awareness(node, update),
                            Message::AwarenessQuery => tell_all = true,
                            _ => tracing::warn!(
                                "another server published a message that is not presence"
                            ),
                        }
                    }
                }
                Err(_) => tracing::warn!("another server published presence that does not decode"),
            }
        }
        if tell_all {
            self.publish_own_presence();
        }
    }

    /// Publishes the full presence of this server's participants on the board.
    fn publish_own_presence(&mut self) {
        let here: Vec<ClientID> = self.presence.ids().collect();
        if let Some(frame) = self.awareness_frame(Some(here)) {
            self.publish_presence(&frame);
        }
    }

    /// Shares what a listing shows of the board with the other servers, if edits made here
    /// changed it, at most every [`cluster::SUMMARY_EVERY`] (reading the whole board costs a
    /// little).
    fn share_summary(&mut self) {
        let due = self
            .summary_shared_at
            .is_none_or(|at| at.elapsed() >= cluster::SUMMARY_EVERY);
        if !self.summary_stale || !due {
            return;
        }
        self.summary_stale = false;
        self.summary_shared_at = Some(Instant::now());
        let (summary, store, board) = (
            self.summary(),
            self.ctx.store.clone(),
            self.handle.board.clone(),
        );
        tokio::spawn(
            async move {
                if let Err(error) = store.share_summary(&board, &summary).await {
                    tracing::warn!(%error, "the board's summary was not shared");
                }
            }
            .in_current_span(),
        );
    }

    /// After the presence subscription came back, when messages were missed both ways: tells
    /// the other servers this one's participants, and asks for theirs.
    fn announce_presence(&mut self) {
        self.publish_own_presence();
        self.publish_presence(&Bytes::from(codec::encode(&Message::AwarenessQuery)));
    }

    /// Applies one awareness update another server published, and passes it on to everyone here.
    fn apply_remote_awareness(&mut self, node: u64, update: AwarenessUpdate) {
        let message = Bytes::from(codec::encode_awareness(&update));
        match self.awareness.apply_update_summary(update) {
            Ok(Some(summary)) => {
                self.remote_owners.applied(node, &summary);
                self.broadcast(message, None);
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "remote presence not applied"),
        }
    }

    /// Removes the awareness states nobody renewed within the timeout.
    fn expire_presence(&mut self) {
        let timeout_ms = self.ctx.config.awareness_timeout.as_millis() as u64;
        let expired = presence::expired(&self.awareness, SystemClock.now(), timeout_ms);
        if expired.is_empty() {
            return;
        }
        tracing::debug!(clients = expired.len(), "awareness states expired");
        // Another server's participants it stopped renewing are removed here only: that server
        // says for its own participants whether they are gone.
        let (local, remote): (Vec<ClientID>, Vec<ClientID>) =
            expired.into_iter().partition(|id| self.presence.owns(*id));
        self.presence.release(&local);
        self.remote_owners.release(&remote);
        self.remove_states(&local, true);
        self.remove_states(&remote, false);
    }

    /// Removes awareness states and tells everyone here, and the other servers if `publish`.
    fn remove_states(&mut self, ids: &[ClientID], publish: bool) {
        for id in ids {
            self.awareness.remove_state(*id);
        }
        if let Some(frame) = self.awareness_frame(Some(ids.to_vec())) {
            if publish {
                self.publish_presence(&frame);
            }
            self.broadcast(frame, None);
        }
    }

    /// An awareness message with the given clients' states, or all live states for `None`.
    fn awareness_frame(&self, clients: Option<Vec<ClientID>>) -> Option<Bytes> {
        let update = match clients {
            Some(ids) if ids.is_empty() => return None,
            Some(ids) => self.awareness.update_with_clients(ids),
            None => self.awareness.update(),
        };
        match update {
            Ok(update) if !update.clients.is_empty() => {
                Some(codec::encode_awareness(&update).into())
            }
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(%error, "awareness state could not be encoded");
                None
            }
        }
    }

    fn send(&mut self, conn: ConnId, frame: Bytes) {
        let victims = match self.conns.get(&conn) {
            Some(c) => offer(conn, c, frame).into_iter().collect(),
            None => return,
        };
        self.disconnect(victims);
    }

    fn broadcast(&mut self, frame: Bytes, except: Option<ConnId>) {
        let victims = self.fan_out(&frame, except);
        self.disconnect(victims);
    }

    fn fan_out(&self, frame: &Bytes, except: Option<ConnId>) -> Vec<(ConnId, Option<Kick>)> {
        self.conns
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .filter_map(|(id, conn)| offer(*id, conn, frame.clone()))
            .collect()
    }

    /// Removes connections (kicking those with a reason) and their presence, telling the others;
    /// anyone who overflows while hearing of it goes the same way.
    fn disconnect(&mut self, mut victims: Vec<(ConnId, Option<Kick>)>) {
        while !victims.is_empty() {
            let mut gone = Vec::new();
            for (id, kick) in victims.drain(..) {
                self.served_early.remove(&id);
                self.welcomed_early.remove(&id);
                if let Some(mut conn) = self.conns.remove(&id) {
                    if let (Some(kick), Some(tx)) = (kick, conn.kick.take()) {
                        tracing::info!(
                            conn = id,
                            code = kick.code.code(),
                            reason = kick.reason,
                            "closing connection"
                        );
                        let _ = tx.send(kick);
                    }
                }
                gone.extend(self.presence.take(id));
            }
            gone.retain(|id| presence::has_live_state(&self.awareness, *id));
            if gone.is_empty() {
                continue;
            }
            for id in &gone {
                self.awareness.remove_state(*id);
            }
            if let Some(frame) = self.awareness_frame(Some(gone)) {
                self.publish_presence(&frame);
                victims = self.fan_out(&frame, None);
            }
        }
        if self.conns.is_empty() && self.idle_since.is_none() {
            self.idle_since = Some(Instant::now());
        }
    }

    fn kick_all(&mut self, kick: Kick) {
        for (_, mut conn) in self.conns.drain() {
            if let Some(tx) = conn.kick.take() {
                let _ = tx.send(kick.clone());
            }
        }
    }

    /// Folds the log into one snapshot of the current document.
    /// Writes a checkpoint of the board now and waits until it is durable (when the board is
    /// unloaded or the server stops), after any being written in the background.
    async fn checkpoint(&mut self) -> Result<(), Fatal> {
        self.checkpoint_written().await;
        let Some(through) = self.last_seq.filter(|_| self.log_updates > 0) else {
            return Ok(());
        };
        if !self.may_checkpoint().await {
            return Ok(());
        }
        let started = Instant::now();
        let Ok(snapshot) = apply::snapshot(self.doc()) else {
            // The log still reproduces the board; keep it rather than store what cannot be read
            // back, and try again only after as many updates again.
            tracing::error!(
                log_updates = self.log_updates,
                "the board could not be snapshotted; keeping its log"
            );
            self.log_updates = 0;
            self.log_bytes = 0;
            return Ok(());
        };
        let snapshot_bytes = snapshot.len();
        self.snapshot_bytes = snapshot_bytes as u64;
        let summary = self.summary();
        self.ctx
            .store
            .checkpoint(&self.handle.board, snapshot, through, Some(summary))
            .await
            .map_err(Fatal::Storage)?;
        self.ctx.metrics.compactions.inc();
        tracing::info!(
            snapshot_bytes,
            folded_updates = self.log_updates,
            folded_bytes = self.log_bytes,
            duration_ms = started.elapsed().as_millis() as u64,
            "board compacted"
        );
        self.log_updates = 0;
        self.log_bytes = 0;
        Ok(())
    }

    /// Whether this server writes the board's next checkpoint: on a store several servers share,
    /// the one holding the board's lease does. If another does, this one counts its log from
    /// zero again and asks again after as many records.
    async fn may_checkpoint(&mut self) -> bool {
        match self.ctx.store.claim_checkpoint(&self.handle.board).await {
            Ok(true) => true,
            Ok(false) => {
                tracing::debug!("another server holds the board's checkpoint lease");
                self.log_updates = 0;
                self.log_bytes = 0;
                false
            }
            Err(error) => {
                tracing::warn!(%error, "the checkpoint lease could not be asked for");
                false
            }
        }
    }

    /// Waits for the checkpoint being written in the background, if any.
    async fn checkpoint_written(&mut self) {
        if let Some(writing) = self.writing_checkpoint.take() {
            let _ = writing.await;
        }
    }

    /// Starts a checkpoint of the board at its newest stored record. Only encoding the document
    /// happens on the room's task; checking that the encoding reads back, compressing and
    /// storing it happen off it, so the board keeps serving. The log holds everything meanwhile,
    /// so a checkpoint that fails or is cut short by a crash loses nothing. One at a time: while
    /// one is being written, the next waits for the next batch.
    async fn checkpoint_in_background(&mut self) {
        if self
            .writing_checkpoint
            .as_ref()
            .is_some_and(|writing| !writing.is_finished())
        {
            return;
        }
        let Some(through) = self.last_seq.filter(|_| self.log_updates > 0) else {
            return;
        };
        if !self.may_checkpoint().await {
            return;
        }
        let started = Instant::now();
        let encoded = catch_unwind(AssertUnwindSafe(|| {
            self.doc()
                .transact()
                .encode_diff_v1(&StateVector::default())
        }));
        let Ok(state) = encoded else {
            tracing::error!(
                log_updates = self.log_updates,
                "the board could not be encoded for a checkpoint; keeping its log"
            );
            self.log_updates = 0;
            self.log_bytes = 0;
            return;
        };
        let encode_ms = started.elapsed().as_millis() as u64;
        let (folded_updates, folded_bytes) = (self.log_updates, self.log_bytes);
        self.snapshot_bytes = state.len() as u64;
        self.log_updates = 0;
        self.log_bytes = 0;
        let (store, board, metrics) = (
            self.ctx.store.clone(),
            self.handle.board.clone(),
            self.ctx.metrics.clone(),
        );
        let span = tracing::Span::current();
        self.writing_checkpoint = Some(tokio::spawn(
            async move {
                let checked = tokio::task::spawn_blocking(move || {
                    // One that could not be read back would replace a readable log.
                    codec::decode_update(&state).map(|_| state)
                })
                .await;
                let Ok(Ok(state)) = checked else {
                    tracing::error!("a checkpoint did not read back; keeping the log");
                    return;
                };
                let snapshot_bytes = state.len();
                match store.checkpoint(&board, state, through, None).await {
                    Ok(()) => {
                        metrics.compactions.inc();
                        tracing::info!(
                            snapshot_bytes,
                            folded_updates,
                            folded_bytes,
                            encode_ms,
                            duration_ms = started.elapsed().as_millis() as u64,
                            "board checkpointed"
                        );
                    }
                    Err(error) => {
                        tracing::error!(%error, "writing a checkpoint failed; the log is kept")
                    }
                }
            }
            .instrument(span),
        ));
    }

    /// What a listing shows of the board.
    fn summary(&self) -> BoardSummary {
        let board = BoardView::read(&self.doc().transact());
        BoardSummary {
            title: board.meta.title,
            journey_type: board.meta.journey_type.as_str().to_owned(),
            updated_at: board.meta.updated_at,
            cards: board.cards.len() as u64,
        }
    }

    /// Unloads the board if nobody is attached; otherwise waits another grace period.
    async fn try_unload(&mut self) -> Result<bool, Fatal> {
        self.checkpoint().await?;
        if self.conns.is_empty() && self.ctx.rooms.remove_if_idle(&self.handle) {
            return Ok(true);
        }
        self.idle_since = self.conns.is_empty().then(Instant::now);
        Ok(false)
    }
}

/// Offers a frame to a connection; returns it as a victim if it cannot take it.
fn offer(id: ConnId, conn: &Conn, frame: Bytes) -> Option<(ConnId, Option<Kick>)> {
    enqueue(&conn.outbound, &conn.queued, frame)
        .err()
        .map(|kick| (id, kick))
}

/// Queues `frame` for a connection, within its byte and frame limits; `Err` with the kick to give
/// it when it is too far behind, or `Err(None)` when it is gone.
fn enqueue(
    outbound: &mpsc::Sender<Bytes>,
    queued: &QueuedBytes,
    frame: Bytes,
) -> Result<(), Option<Kick>> {
    let too_far = Kick {
        code: CloseCode::Resync,
        reason: "too far behind; reconnect and resync",
    };
    let len = frame.len();
    let total = queued.bytes.fetch_add(len, Ordering::Relaxed) + len;
    if total > queued.limit {
        queued.bytes.fetch_sub(len, Ordering::Relaxed);
        return Err(Some(too_far));
    }
    match outbound.try_send(frame) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(_)) => Err(Some(too_far)),
        Err(TrySendError::Closed(_)) => Err(None),
    }
}
