//! Durable storage of boards, behind the small [`Store`] interface.
//!
//! A board is stored as an optional snapshot (the whole document encoded as one Yjs update) plus a
//! log of the updates applied since. The promise every implementation keeps: when
//! [`Store::append`] returns `Ok`, the updates are on stable storage and survive a crash of the
//! process (`kill -9`) or of the machine. The server sends an update to anyone only after that.
//!
//! [`sled_store::SledStore`] is the embedded default; `STORAGE.md` documents its on-disk layout.

mod group_commit;
pub mod sled_store;

use std::sync::Arc;

use async_trait::async_trait;
use client_protocol::BoardId;

pub use sled_store::SledStore;

/// Position of an update in a board's log. Positions increase with every append to a board.
pub type LogSeq = u64;

/// What [`Store::load`] found for a board. A board never written loads as empty, which is the
/// only way an empty board comes into being: a failed load is an error, never an empty board.
#[derive(Debug, Default)]
pub struct StoredBoard {
    /// The latest checkpoint: the document state encoded as a lib0 v1 update.
    pub snapshot: Option<Vec<u8>>,
    /// Updates appended after the snapshot, oldest first, as lib0 v1 updates.
    pub updates: Vec<Vec<u8>>,
    /// The position of the newest update in the log (or covered by the snapshot).
    pub last_seq: Option<LogSeq>,
}

impl StoredBoard {
    /// Total size of the stored log tail in bytes (what a checkpoint would fold away).
    pub fn log_bytes(&self) -> u64 {
        self.updates.iter().map(|u| u.len() as u64).sum()
    }
}

/// Why a storage operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The storage engine reported an error (I/O, full disk, …).
    #[error("storage error: {0}")]
    Backend(Arc<str>),
    /// A stored record could not be decoded; the board is not served rather than served wrong.
    #[error("stored record {key} of board {board} is corrupt: {reason}")]
    Corrupt {
        /// The board the record belongs to.
        board: String,
        /// Which record.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store has been closed.
    #[error("the store is closed")]
    Closed,
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Backend(e.to_string().into())
    }
}

/// Durable storage of board documents.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Reads a board's snapshot and the log tail after it.
    async fn load(&self, board: &BoardId) -> Result<StoredBoard, StoreError>;

    /// Appends updates to a board's log, in order. Durable when it returns `Ok`: only then may
    /// the updates be shown to anyone. Returns the position of the last one.
    async fn append(&self, board: &BoardId, updates: &[Vec<u8>]) -> Result<LogSeq, StoreError>;

    /// Replaces the log up to and including `through` by `snapshot`, the full document state at
    /// that point. Crash-safe: at every instant, snapshot plus remaining log equals the board.
    async fn checkpoint(
        &self,
        board: &BoardId,
        snapshot: Vec<u8>,
        through: LogSeq,
    ) -> Result<(), StoreError>;

    /// Makes every write so far durable (used at shutdown).
    async fn flush(&self) -> Result<(), StoreError>;
}
