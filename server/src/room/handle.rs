//! The connection side of a room: commands in, frames and kicks out.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use client_protocol::codec::Message;
use client_protocol::{BoardId, CloseCode};
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
#[derive(Debug, Clone, Copy, thiserror::Error)]
pub(crate) enum JoinError {
    /// The board could not be loaded (or its room failed); retry later.
    #[error("the board is unavailable")]
    Unavailable,
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
}

/// A cloneable address of a running room.
#[derive(Debug, Clone)]
pub(crate) struct RoomHandle {
    pub board: BoardId,
    /// Bounded: a connection whose room is busy waits here, which stops it reading its socket —
    /// TCP backpressure to the client rather than memory growth on the server.
    pub inbox: mpsc::Sender<Command>,
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
