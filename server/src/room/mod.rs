//! Rooms: the live, in-memory side of boards.
//!
//! - [`registry`]: the map from board id to its room, with the atomic get-or-create.
//! - [`handle`]: what a connection holds to talk to its room, and the commands it sends.
//! - [`board`]: the room task itself — a board's whole lifecycle (load, serve, persist, compact,
//!   unload) in one place.
//! - [`cluster`]: a room's links to the other servers sharing its store (Redis): following the
//!   board's log and their presence, while anyone here is on the board.
//! - [`presence`]: which awareness client ids each connection controls.

mod board;
mod cluster;
pub(crate) mod handle;
mod presence;
pub(crate) mod registry;

pub(crate) use handle::{
    ApiRequest, BoardState, Command, ConnId, CreateError, JoinError, Kick, Peer, QueuedBytes,
    RestoreError,
};
pub(crate) use registry::Rooms;
