//! Storage fault injection: the real sled store, with appends and checkpoints that fail on
//! demand, as a full disk or an I/O error would make them.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use client_protocol::BoardId;
use parcours_server::storage::{
    BoardRecord, BoardSummary, LogSeq, SledStore, Store, StoreError, StoredBoard,
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

    async fn append(&self, board: &BoardId, updates: &[Vec<u8>]) -> Result<LogSeq, StoreError> {
        self.check()?;
        self.inner.append(board, updates).await
    }

    async fn checkpoint(
        &self,
        board: &BoardId,
        snapshot: Vec<u8>,
        through: LogSeq,
        summary: BoardSummary,
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
}
