//! The connection side of a room: commands in, frames and kicks out.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use client_protocol::access::Actor;
use client_protocol::codec::Message;
use client_protocol::{BoardId, CloseCode};

use crate::storage::{BoardSummary, LogSeq, Milestone, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Identifies one WebSocket connection for the lifetime of the process.
pub(crate) type ConnId = u64;

/// Why the room ends a connection; the connection closes its socket with this code.
#[derive(Debug, Clone)]
pub(crate) struct Kick {
    pub code: CloseCode,
    pub reason: &'static str,
}

/// Why a room could not take a connection.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum JoinError {
    /// The board could not be loaded (or its room failed); retry later.
    #[error("the board is unavailable")]
    Unavailable,
    /// The room stopped as the connection joined, and closes it as it closed the others (to
    /// come back at once, to a room that loads the board afresh).
    #[error("the board was closed: {}", .0.reason)]
    Closed(Kick),
}

/// What the room keeps of a connection to reach it.
#[derive(Debug)]
pub(crate) struct Peer {
    pub conn: ConnId,
    /// Encoded frames for the socket. Bounded: when full, the room kicks the connection with
    /// [`CloseCode::Resync`] instead of waiting for it or dropping an update.
    pub outbound: mpsc::Sender<Bytes>,
    /// Fired once when the room ends the connection.
    pub kick: oneshot::Sender<Kick>,
    /// Who is connected, and so what their updates may change.
    pub actor: Actor,
    /// Bytes waiting in `outbound`, shared with the connection that drains it.
    pub queued: Arc<QueuedBytes>,
}

/// How many bytes wait in a connection's outbound queue, and how many may.
#[derive(Debug)]
pub(crate) struct QueuedBytes {
    /// Bytes queued and not yet written to the socket.
    pub bytes: AtomicUsize,
    /// Past this, the connection is closed with [`CloseCode::Resync`].
    pub limit: usize,
}

/// A message from a connection to its room.
#[derive(Debug)]
pub(crate) enum Command {
    /// Add a connection; `ready` answers once the board is loaded and the connection is in.
    Join {
        peer: Peer,
        ready: oneshot::Sender<Result<(), JoinError>>,
    },
    /// The protocol messages of one incoming frame, already decoded.
    Frame {
        conn: ConnId,
        messages: Vec<Message>,
    },
    /// The connection is gone.
    Leave { conn: ConnId },
    /// Work asked by the HTTP API.
    Api(ApiRequest),
    /// Too many boards are loaded: unload now if nobody is on the board.
    Evict,
    /// Records other servers stored on this board (a store several servers share), as
    /// `(position, update)`, oldest first: to show to this server's participants.
    Remote { records: Vec<(u64, Vec<u8>)> },
    /// The board's followed log was trimmed past what this room had read: it must reload.
    FellBehind,
    /// Another server deleted the board (its followed log says so): the room closes.
    DeletedElsewhere,
    /// An awareness message another server published for this board (empty: a heartbeat), with
    /// that server's id.
    RemotePresence { node: u64, frame: Vec<u8> },
    /// The room's presence subscription was lost and is back: it tells the other servers its
    /// participants again and asks for theirs.
    PresenceResumed,
}

/// What the HTTP API asks of a board's room: the room is the board's single owner, so reads see
/// every durable edit and creation/deletion cannot race live participants.
#[derive(Debug)]
pub(crate) enum ApiRequest {
    /// The whole document, as one update.
    Read { reply: oneshot::Sender<BoardState> },
    /// The summary and participant count only (cheap; for listings). No summary from a room
    /// that may be behind the other servers sharing the store: the stored one is newer.
    Summary {
        reply: oneshot::Sender<(Option<BoardSummary>, usize)>,
    },
    /// Fills a board that has never held anything with `update` (a template); refused if the
    /// board already has content. Answered once the update is durable and broadcast.
    Create {
        update: Vec<u8>,
        /// Who creates it (its author in history).
        actor: Actor,
        reply: oneshot::Sender<Result<(), CreateError>>,
    },
    /// Brings the board back to `target` (a past version's state, one lib0 v1 update) as
    /// ordinary edits in one transaction, after naming the current version with `before`.
    /// Refused with [`RestoreError::Moved`] unless the board's newest version is
    /// `expected_head`. Answered once the edits are durable and broadcast.
    Restore {
        target: Vec<u8>,
        expected_head: LogSeq,
        actor: Actor,
        before: Milestone,
        reply: oneshot::Sender<Result<RestoreDone, RestoreError>>,
    },
    /// Closes every connection with [`CloseCode::BoardDeleted`], removes the board from storage
    /// and unloads it. Answered once the removal is durable.
    Delete {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// A board as the room holds it.
#[derive(Debug)]
pub(crate) struct BoardState {
    /// The document as one lib0 v1 update.
    pub state: Vec<u8>,
}

/// A restore in place, done.
#[derive(Debug)]
pub(crate) struct RestoreDone {
    /// The board's newest version after the restore's edits.
    pub head: LogSeq,
    /// The milestone naming the version before them.
    pub before: Milestone,
}

/// Why a restore in place was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum RestoreError {
    /// The board changed since the version the owner looked at.
    #[error("the board moved on (now at {head})")]
    Moved {
        /// Its newest version now.
        head: LogSeq,
    },
    /// The milestone or the edits could not be stored.
    #[error(transparent)]
    Storage(#[from] StoreError),
    /// The version could not be brought onto the live board.
    #[error("{0}")]
    Invalid(String),
}

/// Why a board could not be created.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum CreateError {
    /// The board already has content.
    #[error("the board already exists")]
    Exists,
    /// The initial content could not be applied.
    #[error("the initial content is invalid: {0}")]
    Invalid(String),
}

/// A cloneable address of a running room.
#[derive(Debug, Clone)]
pub(crate) struct RoomHandle {
    pub board: BoardId,
    /// Bounded: a connection whose room is busy waits here, which stops it reading its socket —
    /// TCP backpressure to the client rather than memory growth on the server.
    pub inbox: mpsc::Sender<Command>,
    /// WebSocket connections in the room, as of its last batch (for listings).
    pub participants: Arc<AtomicUsize>,
    /// When the room last became empty (ms since the Unix epoch; 0 while anyone is on it), so
    /// the registry can evict the longest idle boards first.
    pub idle_since_ms: Arc<std::sync::atomic::AtomicU64>,
    /// Connections attached to this room (see [`Attachment`]). Changed only under the registry
    /// lock, so the room can decide to unload without racing a new arrival.
    pub attachments: Arc<AtomicUsize>,
}

impl RoomHandle {
    /// Whether two handles address the same room instance.
    pub fn same_room(&self, other: &RoomHandle) -> bool {
        Arc::ptr_eq(&self.attachments, &other.attachments)
    }
}

/// A connection's claim on a room: while it lives, the room stays loaded.
#[derive(Debug)]
pub(crate) struct Attachment {
    pub handle: RoomHandle,
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.handle.attachments.fetch_sub(1, Ordering::AcqRel);
    }
}
