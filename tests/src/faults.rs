//! Storage fault injection: the real sled store, with appends and checkpoints that fail on
//! demand, as a full disk or an I/O error would make them.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use client_protocol::BoardId;
use parcours_server::storage::{
    BoardRecord, BoardSummary, Entry, ForkedFrom, LogQuery, LogRecord, LogSeq, Milestone,
    SledStore, Store, StoreError, StoredBoard, UpdateMeta,
};

/// A [`SledStore`] whose writes can be made to fail.
pub struct FaultyStore {
    inner: SledStore,
    failing: AtomicBool,
}

impl FaultyStore {
    /// Opens the real store in `dir`.
    pub fn open(dir: &Path) -> Arc<Self> {
        Arc::new(FaultyStore {
            inner: SledStore::open(dir).expect("open sled"),
            failing: AtomicBool::new(false),
        })
    }

    /// From now on, writes fail (`true`) or succeed again (`false`).
    pub fn fail_writes(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Backend(
                "No space left on device (injected)".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn load(&self, board: &BoardId) -> Result<StoredBoard, StoreError> {
        self.inner.load(board).await
    }

    async fn load_at(&self, board: &BoardId, at: LogSeq) -> Result<StoredBoard, StoreError> {
        self.inner.load_at(board, at).await
    }

    async fn append(&self, board: &BoardId, entries: &[Entry]) -> Result<LogSeq, StoreError> {
        self.check()?;
        self.inner.append(board, entries).await
    }

    async fn checkpoint(
        &self,
        board: &BoardId,
        snapshot: Vec<u8>,
        through: LogSeq,
        summary: Option<BoardSummary>,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner
            .checkpoint(board, snapshot, through, summary)
            .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush().await
    }

    async fn record(&self, board: &BoardId) -> Result<Option<BoardRecord>, StoreError> {
        self.inner.record(board).await
    }

    async fn list(
        &self,
        after: Option<&BoardId>,
        limit: usize,
    ) -> Result<Vec<(BoardId, BoardRecord)>, StoreError> {
        self.inner.list(after, limit).await
    }

    async fn delete(&self, board: &BoardId) -> Result<(), StoreError> {
        self.check()?;
        self.inner.delete(board).await
    }

    async fn set_forked_from(&self, board: &BoardId, from: ForkedFrom) -> Result<(), StoreError> {
        self.check()?;
        self.inner.set_forked_from(board, from).await
    }

    async fn log(&self, board: &BoardId, query: LogQuery) -> Result<Vec<LogRecord>, StoreError> {
        self.inner.log(board, query).await
    }

    async fn checkpoints(&self, board: &BoardId) -> Result<Vec<LogSeq>, StoreError> {
        self.inner.checkpoints(board).await
    }

    async fn remove_checkpoint(&self, board: &BoardId, at: LogSeq) -> Result<(), StoreError> {
        self.check()?;
        self.inner.remove_checkpoint(board, at).await
    }

    async fn summarize(
        &self,
        board: &BoardId,
        seqs: &[LogSeq],
        merged: Vec<u8>,
        meta: UpdateMeta,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.summarize(board, seqs, merged, meta).await
    }

    async fn milestones(&self, board: &BoardId) -> Result<Vec<Milestone>, StoreError> {
        self.inner.milestones(board).await
    }

    async fn put_milestone(
        &self,
        board: &BoardId,
        milestone: &Milestone,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_milestone(board, milestone).await
    }

    async fn remove_milestone(&self, board: &BoardId, id: &str) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.remove_milestone(board, id).await
    }
}
