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
use serde::{Deserialize, Serialize};

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

/// What a listing shows of a board without loading it; written by the room at every checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct BoardSummary {
    /// `meta.title`.
    pub title: String,
    /// `meta.journeyType`.
    pub journey_type: String,
    /// `meta.updatedAt` (ms since the epoch), as clients wrote it.
    pub updated_at: i64,
    /// Number of cards.
    pub cards: u64,
}

/// A board's bookkeeping record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BoardRecord {
    /// When the board was first written (ms since the Unix epoch).
    pub created_ms: u64,
    /// When it was last checkpointed (ms since the Unix epoch).
    pub checkpointed_ms: Option<u64>,
    /// Size of the last snapshot in bytes.
    pub snapshot_bytes: u64,
    /// The board as of its last checkpoint.
    pub summary: BoardSummary,
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
    /// that point, and records `summary`. Crash-safe: at every instant, snapshot plus remaining
    /// log equals the board.
    async fn checkpoint(
        &self,
        board: &BoardId,
        snapshot: Vec<u8>,
        through: LogSeq,
        summary: BoardSummary,
    ) -> Result<(), StoreError>;

    /// The board's record, or `None` if the board was never written (it does not exist).
    async fn record(&self, board: &BoardId) -> Result<Option<BoardRecord>, StoreError>;

    /// Up to `limit` boards in id order, starting after `after`.
    async fn list(
        &self,
        after: Option<&BoardId>,
        limit: usize,
    ) -> Result<Vec<(BoardId, BoardRecord)>, StoreError>;

    /// Removes everything stored for a board, durably.
    async fn delete(&self, board: &BoardId) -> Result<(), StoreError>;

    /// Makes every write so far durable (used at shutdown).
    async fn flush(&self) -> Result<(), StoreError>;
}
