//! Durable storage of boards, behind the small [`Store`] interface.
//!
//! A board is stored as a log of every update applied to it, each with who made it and when, plus
//! checkpoints (the whole document encoded as one Yjs update at a log position). Loading reads the
//! newest checkpoint and the log after it; history reads any earlier one. The promise every implementation keeps: when
//! [`Store::append`] returns `Ok`, the updates are on stable storage and survive a crash of the
//! process (`kill -9`) or of the machine. The server sends an update to anyone only after that.
//!
//! [`sled_store::SledStore`] is the embedded default; [`redis_store::RedisStore`] keeps boards in
//! Redis (one stream per board as its log); `STORAGE.md` documents both layouts.

mod group_commit;
mod history;
mod record;
pub mod redis_store;
pub mod sled_store;

use std::sync::Arc;

use async_trait::async_trait;
use client_protocol::BoardId;
use serde::{Deserialize, Serialize};

pub use history::{Author, Entry, LogQuery, LogRecord, Milestone, MilestoneKind, UpdateMeta};
pub use redis_store::{RedisStore, RedisStoreError};
pub use sled_store::{SledStore, TreeFootprint};

/// Position of an update in a board's log. Positions increase with every append to a board.
pub type LogSeq = u64;

/// What [`Store::load`] found for a board. A board never written loads as empty, which is the
/// only way an empty board comes into being: a failed load is an error, never an empty board.
#[derive(Debug, Default)]
pub struct StoredBoard {
    /// The checkpoint it starts from: the document state encoded as a lib0 v1 update.
    pub snapshot: Option<Vec<u8>>,
    /// Updates appended after the snapshot, oldest first, as lib0 v1 updates.
    pub updates: Vec<Vec<u8>>,
    /// The position of the newest update read (or covered by the snapshot).
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
    /// The board and version this board was forked from, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<ForkedFrom>,
}

/// Where a forked board came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForkedFrom {
    /// The board it was forked from.
    pub board: String,
    /// The version (log position) it started as.
    pub seq: LogSeq,
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
    /// This store cannot do that (yet): said plainly rather than pretended. The API answers
    /// 501 `not_supported_by_store`.
    #[error("not supported by this store: {0}")]
    Unsupported(&'static str),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Backend(e.to_string().into())
    }
}

/// Milliseconds since the Unix epoch, as the stores stamp what they write (0 if the clock is
/// before it).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Presence shared with the other servers of one board (see [`Store::presence`]): encoded
/// awareness messages, which never enter the log, and heartbeats (empty messages) that say a
/// server is alive. Dropping it ends the subscription.
pub struct PresenceLink {
    /// Messages for the other servers, published in order by a task of the store's.
    pub outgoing: tokio::sync::mpsc::Sender<Vec<u8>>,
    /// What the other servers published.
    pub incoming: tokio::sync::mpsc::Receiver<Heard>,
}

/// What comes in on a [`PresenceLink`].
#[derive(Debug)]
pub enum Heard {
    /// A message another server published, with that server's id: an encoded awareness
    /// message or query, or nothing (a heartbeat).
    Message {
        /// The server that published it.
        node: u64,
        /// The message.
        frame: Vec<u8>,
    },
    /// The subscription was lost (Redis restarted) and is back: what was published meanwhile
    /// never came, so this server should tell the others its participants again and ask for
    /// theirs.
    Resumed,
}

/// One record read from a followed log.
#[derive(Debug)]
pub struct Followed {
    /// Its position.
    pub seq: LogSeq,
    /// The update; empty for this server's own records (its board has them already).
    pub update: Vec<u8>,
    /// When it was stored, in ms since the Unix epoch (0 if unknown).
    pub stored_ms: u64,
    /// Whether this server appended it.
    pub own: bool,
    /// Whether it says that the board was deleted (by any server): everything before it is gone,
    /// and what follows belongs to a board created again under the same id.
    pub deleted: bool,
}

/// Follows one board's log as other servers append to it (see [`Store::follower`]).
#[async_trait]
pub trait Follower: Send {
    /// The records stored after `after`, oldest first, this server's own included (so that
    /// positions can be checked for gaps); waits up to `wait` for the first (a zero `wait` reads
    /// what is there and returns at once), and returns none if nothing came.
    async fn next(
        &mut self,
        after: LogSeq,
        wait: std::time::Duration,
    ) -> Result<Vec<Followed>, StoreError>;
}

/// Durable storage of board documents and their history.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Reads a board's latest checkpoint and the log after it: the board as it is now.
    async fn load(&self, board: &BoardId) -> Result<StoredBoard, StoreError>;

    /// Reads what reproduces a board as it was right after the update at `at`: the newest
    /// checkpoint at or before `at`, and the log after it up to `at`.
    async fn load_at(&self, board: &BoardId, at: LogSeq) -> Result<StoredBoard, StoreError>;

    /// Appends updates to a board's log, in order, each with who made it (stamped with the
    /// server's time). Durable when it returns `Ok`: only then may the updates be shown to
    /// anyone. Returns the position of the last one.
    async fn append(&self, board: &BoardId, entries: &[Entry]) -> Result<LogSeq, StoreError>;

    /// Records `snapshot`, the full document state right after the update at `through`, as a
    /// checkpoint; with a `summary`, also updates the board's record for listings. The log is
    /// kept (it is the board's history); retention thins it.
    async fn checkpoint(
        &self,
        board: &BoardId,
        snapshot: Vec<u8>,
        through: LogSeq,
        summary: Option<BoardSummary>,
    ) -> Result<(), StoreError>;

    /// The board's record, or `None` if the board was never written (it does not exist).
    async fn record(&self, board: &BoardId) -> Result<Option<BoardRecord>, StoreError>;

    /// Records which board and version `board` was forked from.
    async fn set_forked_from(&self, board: &BoardId, from: ForkedFrom) -> Result<(), StoreError>;

    /// Up to `limit` boards in id order, starting after `after`.
    async fn list(
        &self,
        after: Option<&BoardId>,
        limit: usize,
    ) -> Result<Vec<(BoardId, BoardRecord)>, StoreError>;

    /// Removes everything stored for a board, history included, durably.
    async fn delete(&self, board: &BoardId) -> Result<(), StoreError>;

    /// Makes every write so far durable (used at shutdown).
    async fn flush(&self) -> Result<(), StoreError>;

    /// Whether this server may write `board`'s next checkpoint. Where several servers share the
    /// store, one of them holds a lease on each board's checkpoints at a time, so that they do
    /// not all do the same work (a checkpoint written anyway by a server that lost its lease is
    /// still refused if older than the newest). Always `true` for a store only this process
    /// writes.
    async fn claim_checkpoint(&self, _board: &BoardId) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// Records how many participants this server has on `board` (0: none any more), for the
    /// other servers' listings, where several servers share the store. The count lapses unless
    /// it is reported again within a few seconds, so that a crashed server's participants stop
    /// being counted. Does nothing where this server is alone.
    async fn count_participants(&self, _board: &BoardId, _here: usize) -> Result<(), StoreError> {
        Ok(())
    }

    /// Records what a listing shows of `board` (its title, card count…), for the other servers
    /// sharing the store to list it as it is while it is live here (each server writes it only
    /// at its final checkpoint otherwise). Does nothing where this server is alone, or if the
    /// board no longer exists.
    async fn share_summary(
        &self,
        _board: &BoardId,
        _summary: &BoardSummary,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// For each of `boards`, how many participants the other servers sharing the store count on
    /// it now (zeros where this server is alone).
    async fn participants_elsewhere(&self, boards: &[BoardId]) -> Result<Vec<usize>, StoreError> {
        Ok(vec![0; boards.len()])
    }

    /// Whether the store answers now, for readiness: an embedded store always does; a remote one
    /// is asked, briefly.
    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// A reader of what other servers append to `board`, for a store that several servers share
    /// (Redis): each follows the boards it serves and shows its participants what the others
    /// stored. `None` for a store only this process writes (sled): there is nothing to follow.
    async fn follower(&self, _board: &BoardId) -> Result<Option<Box<dyn Follower>>, StoreError> {
        Ok(None)
    }

    /// Presence shared with the other servers that have `board` loaded (a store several servers
    /// share); `None` where this server is alone.
    async fn presence(&self, _board: &BoardId) -> Result<Option<PresenceLink>, StoreError> {
        Ok(None)
    }

    /// Log records of a board in position order (newest first if `query.newest_first`).
    async fn log(&self, board: &BoardId, query: LogQuery) -> Result<Vec<LogRecord>, StoreError>;

    /// Positions of a board's checkpoints, oldest first.
    async fn checkpoints(&self, board: &BoardId) -> Result<Vec<LogSeq>, StoreError>;

    /// Drops the checkpoint at `at` (retention). The newest checkpoint is never dropped.
    async fn remove_checkpoint(&self, board: &BoardId, at: LogSeq) -> Result<(), StoreError>;

    /// Replaces the log records at `seqs` (ascending, consecutive in the log) by one summary
    /// record at the last of them holding `merged`, their updates merged. Crash-safe: the
    /// summary is durable before the records it replaces go, and a replay that meets both is
    /// still exact, since applying an update twice changes nothing.
    async fn summarize(
        &self,
        board: &BoardId,
        seqs: &[LogSeq],
        merged: Vec<u8>,
        meta: UpdateMeta,
    ) -> Result<(), StoreError>;

    /// A board's named versions, oldest first.
    async fn milestones(&self, board: &BoardId) -> Result<Vec<Milestone>, StoreError>;

    /// Creates or replaces a milestone (by id), durably.
    async fn put_milestone(&self, board: &BoardId, milestone: &Milestone)
        -> Result<(), StoreError>;

    /// Removes a milestone; `false` if there was none with that id.
    async fn remove_milestone(&self, board: &BoardId, id: &str) -> Result<bool, StoreError>;
}
