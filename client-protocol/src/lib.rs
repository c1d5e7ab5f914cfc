//! The Parcours wire protocol, shared by the server and by clients.
//!
//! Parcours speaks the y-websocket protocol (the one the JS `y-websocket` provider uses) over
//! binary WebSocket frames. This crate holds what both ends must agree on:
//!
//! - [`blocks`]: the structure of a document update (every block's id, parent, key and content
//!   kind), read without yrs.
//! - [`board_id`]: which board names are valid in a URL.
//! - [`codec`]: decoding and encoding of protocol frames, built on `yrs::sync`, with limits that
//!   are checked before anything is allocated.
//! - [`access`]: roles, and the participant an edit comes from.
//! - [`apply`]: applying an untrusted update to a document, as the server does.
//! - [`converge`]: bringing a live document to another document's content with ordinary edits
//!   (restoring a past version in place).
//! - [`inspect`]: where every item of a document lives, and what an update would change, in
//!   board paths (what access control checks).
//! - [`close`]: every WebSocket close code the server uses, and what a client should do on it.
//! - `schema`: the journey-board schema, typed views over a board's Yjs document (see SCHEMA.md).
//! - `client` (feature `client`): the async Rust client SDK.
//!
//! `PROTOCOL.md` at the repository root is the specification for outside implementers; this crate
//! is its reference implementation and the two are kept in step.

pub mod access;
pub mod apply;
pub mod blocks;
pub mod board_id;
#[cfg(feature = "client")]
pub mod client;
pub mod close;
pub mod codec;
pub mod converge;
pub mod inspect;
pub mod schema;

pub use board_id::{BoardId, InvalidBoardId};
pub use close::CloseCode;
pub use codec::{DecodeError, Limits};
pub use converge::{converge, ConvergeError, Converged};
