//! The embedded default store, on sled 0.34.
//!
//! Three trees, fixed in number and keyed by board id (never a tree per board):
//!
//! | tree               | key                                   | value                                   |
//! |--------------------|---------------------------------------|-----------------------------------------|
//! | `board_meta`       | board id                              | JSON [`BoardRecord`]                    |
//! | `board_snapshots`  | board id                              | `0x01`, `through` (u64 BE), lib0 v1 update |
//! | `board_updates`    | board id, `0x00`, seq (u64 BE)        | lib0 v1 update                          |
//!
//! Sequence numbers come from sled's monotonic id generator, so they increase across restarts and
//! crashes. A snapshot covers every log entry with `seq <= through`; entries it covers are deleted
//! after it is durable, and any that survive a crash in between are skipped on load.

use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use client_protocol::BoardId;

use super::group_commit::GroupCommit;
use super::{BoardRecord, BoardSummary, LogSeq, Store, StoreError, StoredBoard};

const META_TREE: &str = "board_meta";
const SNAPSHOT_TREE: &str = "board_snapshots";
const UPDATE_TREE: &str = "board_updates";
const SNAPSHOT_FORMAT: u8 = 1;
/// sled's page cache, in bytes.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

struct Inner {
    db: sled::Db,
    meta: sled::Tree,
    snapshots: sled::Tree,
    updates: sled::Tree,
    commit: GroupCommit,
}

/// A [`Store`] on an embedded sled database in one directory.
#[derive(Clone)]
pub struct SledStore {
    inner: Arc<Inner>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The prefix shared by every log key of `board`.
fn log_prefix(board: &BoardId) -> Vec<u8> {
    let mut key = Vec::with_capacity(board.as_str().len() + 9);
    key.extend_from_slice(board.as_str().as_bytes());
    key.push(0);
    key
}

fn log_key(board: &BoardId, seq: LogSeq) -> Vec<u8> {
    let mut key = log_prefix(board);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn seq_of(board: &BoardId, key: &[u8]) -> Result<LogSeq, StoreError> {
    let tail = &key[board.as_str().len() + 1..];
    let bytes: [u8; 8] = tail.try_into().map_err(|_| StoreError::Corrupt {
        board: board.to_string(),
        key: format!("{UPDATE_TREE}/{key:?}"),
        reason: "log key does not end in an 8-byte sequence number".into(),
    })?;
    Ok(LogSeq::from_be_bytes(bytes))
}

fn encode_snapshot(through: LogSeq, state: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(state.len() + 9);
    value.push(SNAPSHOT_FORMAT);
    value.extend_from_slice(&through.to_be_bytes());
    value.extend_from_slice(state);
    value
}

fn decode_snapshot(board: &BoardId, value: &[u8]) -> Result<(LogSeq, Vec<u8>), StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        board: board.to_string(),
        key: format!("{SNAPSHOT_TREE}/{board}"),
        reason: reason.into(),
    };
    match value {
        [SNAPSHOT_FORMAT, rest @ ..] if rest.len() >= 8 => {
            let (through, state) = rest.split_at(8);
            let through = LogSeq::from_be_bytes(through.try_into().expect("split at 8"));
            Ok((through, state.to_vec()))
        }
        [SNAPSHOT_FORMAT, ..] => Err(corrupt("snapshot record is truncated")),
        _ => Err(corrupt("unknown snapshot format")),
    }
}

impl SledStore {
    /// Opens (creating if needed) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let started = Instant::now();
        let db = sled::Config::new()
            .path(dir)
            // Durability comes from our own group commit, not from a timer.
            .flush_every_ms(None)
            // sled's page cache defaults to 1 GiB; boards live in their rooms while loaded, so a
            // smaller cache costs little and keeps the server's footprint close to its load.
            .cache_capacity(CACHE_BYTES)
            .open()?;
        let store = SledStore {
            inner: Arc::new(Inner {
                meta: db.open_tree(META_TREE)?,
                snapshots: db.open_tree(SNAPSHOT_TREE)?,
                updates: db.open_tree(UPDATE_TREE)?,
                commit: GroupCommit::start(db.clone())
                    .map_err(|e| StoreError::Backend(e.to_string().into()))?,
                db,
            }),
        };
        tracing::info!(
            dir = %dir.display(),
            boards = store.inner.meta.len(),
            duration_ms = started.elapsed().as_millis() as u64,
            "storage opened"
        );
        Ok(store)
    }

    /// The ids of every stored board, in id order.
    pub fn board_ids(&self) -> Result<Vec<BoardId>, StoreError> {
        self.inner
            .meta
            .iter()
            .keys()
            .filter_map(|key| match key {
                Ok(key) => std::str::from_utf8(&key)
                    .ok()
                    .and_then(|id| BoardId::parse(id).ok())
                    .map(Ok),
                Err(e) => Some(Err(e.into())),
            })
            .collect()
    }

    /// The bookkeeping record of a board, if it was ever written.
    pub fn board_meta(&self, board: &BoardId) -> Result<Option<BoardRecord>, StoreError> {
        match self.inner.meta.get(board.as_str())? {
            None => Ok(None),
            Some(raw) => serde_json::from_slice(&raw)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    board: board.to_string(),
                    key: format!("{META_TREE}/{board}"),
                    reason: e.to_string(),
                }),
        }
    }

    /// The log of a board without its snapshot (for salvaging a board whose snapshot record is
    /// unreadable).
    pub async fn load_log_only(&self, board: &BoardId) -> Result<StoredBoard, StoreError> {
        let (store, board) = (self.clone(), board.clone());
        blocking(move || {
            let mut stored = StoredBoard::default();
            for entry in store.inner.updates.scan_prefix(log_prefix(&board)) {
                let (key, value) = entry?;
                stored.last_seq = Some(seq_of(&board, &key)?);
                stored.updates.push(value.to_vec());
            }
            Ok(stored)
        })
        .await
    }

    fn load_blocking(&self, board: &BoardId) -> Result<StoredBoard, StoreError> {
        let mut stored = StoredBoard::default();
        let mut after = None;
        if let Some(raw) = self.inner.snapshots.get(board.as_str())? {
            let (through, state) = decode_snapshot(board, &raw)?;
            stored.snapshot = Some(state);
            stored.last_seq = Some(through);
            after = Some(through);
        }
        for entry in self.inner.updates.scan_prefix(log_prefix(board)) {
            let (key, value) = entry?;
            let seq = seq_of(board, &key)?;
            if after.is_some_and(|through| seq <= through) {
                continue; // covered by the snapshot; its deletion was interrupted
            }
            stored.updates.push(value.to_vec());
            stored.last_seq = Some(seq);
        }
        Ok(stored)
    }

    fn checkpoint_write(
        &self,
        board: &BoardId,
        snapshot: &[u8],
        through: LogSeq,
        summary: BoardSummary,
    ) -> Result<(), StoreError> {
        self.inner
            .snapshots
            .insert(board.as_str(), encode_snapshot(through, snapshot))?;
        let mut meta = self.board_meta(board)?.unwrap_or(BoardRecord {
            created_ms: now_ms(),
            ..BoardRecord::default()
        });
        meta.checkpointed_ms = Some(now_ms());
        meta.snapshot_bytes = snapshot.len() as u64;
        meta.summary = summary;
        self.inner.meta.insert(
            board.as_str(),
            serde_json::to_vec(&meta).expect("meta serializes"),
        )?;
        Ok(())
    }

    fn truncate_log(&self, board: &BoardId, through: LogSeq) -> Result<usize, StoreError> {
        let mut batch = sled::Batch::default();
        let mut removed = 0;
        for key in self
            .inner
            .updates
            .range(log_key(board, 0)..=log_key(board, through))
            .keys()
        {
            batch.remove(key?);
            removed += 1;
        }
        self.inner.updates.apply_batch(batch)?;
        Ok(removed)
    }
}

/// Runs blocking sled work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("storage task failed: {e}").into()))?
}

#[async_trait]
impl Store for SledStore {
    async fn load(&self, board: &BoardId) -> Result<StoredBoard, StoreError> {
        let (store, board) = (self.clone(), board.clone());
        blocking(move || store.load_blocking(&board)).await
    }

    async fn append(&self, board: &BoardId, updates: &[Vec<u8>]) -> Result<LogSeq, StoreError> {
        // These calls only touch sled's in-memory buffers; the slow part, the fsync, happens on
        // the group-commit thread while this task waits without blocking a worker.
        let mut batch = sled::Batch::default();
        let mut last = 0;
        for update in updates {
            last = self.inner.db.generate_id()?;
            batch.insert(log_key(board, last), update.as_slice());
        }
        self.inner.updates.apply_batch(batch)?;
        if !self.inner.meta.contains_key(board.as_str())? {
            let meta = BoardRecord {
                created_ms: now_ms(),
                ..BoardRecord::default()
            };
            self.inner.meta.insert(
                board.as_str(),
                serde_json::to_vec(&meta).expect("meta serializes"),
            )?;
        }
        self.inner.commit.durable().await?;
        Ok(last)
    }

    async fn checkpoint(
        &self,
        board: &BoardId,
        snapshot: Vec<u8>,
        through: LogSeq,
        summary: BoardSummary,
    ) -> Result<(), StoreError> {
        let (store, b) = (self.clone(), board.clone());
        blocking(move || store.checkpoint_write(&b, &snapshot, through, summary)).await?;
        // The snapshot must be durable before the log entries it replaces disappear.
        self.inner.commit.durable().await?;
        let (store, b) = (self.clone(), board.clone());
        let removed = blocking(move || store.truncate_log(&b, through)).await?;
        tracing::debug!(board = %board, removed, "log truncated after checkpoint");
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.inner.commit.durable().await
    }

    async fn record(&self, board: &BoardId) -> Result<Option<BoardRecord>, StoreError> {
        let (store, board) = (self.clone(), board.clone());
        blocking(move || store.board_meta(&board)).await
    }

    async fn list(
        &self,
        after: Option<&BoardId>,
        limit: usize,
    ) -> Result<Vec<(BoardId, BoardRecord)>, StoreError> {
        let (store, after) = (self.clone(), after.cloned());
        blocking(move || {
            let start = match &after {
                // Ids never contain 0x00, so `id + 0x00` is the first key after `id`.
                Some(id) => {
                    let mut key = id.as_str().as_bytes().to_vec();
                    key.push(0);
                    std::ops::Bound::Included(key)
                }
                None => std::ops::Bound::Unbounded,
            };
            let mut boards = Vec::new();
            for entry in store
                .inner
                .meta
                .range::<Vec<u8>, _>((start, std::ops::Bound::Unbounded))
            {
                if boards.len() >= limit {
                    break;
                }
                let (key, value) = entry?;
                let Some(id) = std::str::from_utf8(&key)
                    .ok()
                    .and_then(|k| BoardId::parse(k).ok())
                else {
                    continue;
                };
                let record = serde_json::from_slice(&value).map_err(|e| StoreError::Corrupt {
                    board: id.to_string(),
                    key: format!("{META_TREE}/{id}"),
                    reason: e.to_string(),
                })?;
                boards.push((id, record));
            }
            Ok(boards)
        })
        .await
    }

    async fn delete(&self, board: &BoardId) -> Result<(), StoreError> {
        let (store, b) = (self.clone(), board.clone());
        blocking(move || {
            // The record goes first: a board without one does not exist, whatever is left.
            store.inner.meta.remove(b.as_str())?;
            store.inner.snapshots.remove(b.as_str())?;
            let mut batch = sled::Batch::default();
            for key in store.inner.updates.scan_prefix(log_prefix(&b)).keys() {
                batch.remove(key?);
            }
            store.inner.updates.apply_batch(batch)?;
            Ok(())
        })
        .await?;
        self.inner.commit.durable().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(id: &str) -> BoardId {
        BoardId::parse(id).unwrap()
    }

    #[tokio::test]
    async fn appended_updates_load_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let b = board("b1");
        store.append(&b, &[vec![1], vec![2]]).await.unwrap();
        store.append(&b, &[vec![3]]).await.unwrap();
        let loaded = store.load(&b).await.unwrap();
        assert_eq!(loaded.updates, vec![vec![1], vec![2], vec![3]]);
        assert!(loaded.snapshot.is_none());
    }

    #[tokio::test]
    async fn boards_sharing_a_prefix_do_not_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store.append(&board("a"), &[vec![1]]).await.unwrap();
        store.append(&board("ab"), &[vec![2]]).await.unwrap();
        assert_eq!(
            store.load(&board("a")).await.unwrap().updates,
            vec![vec![1]]
        );
        assert_eq!(
            store.load(&board("ab")).await.unwrap().updates,
            vec![vec![2]]
        );
        assert_eq!(store.board_ids().unwrap(), vec![board("a"), board("ab")]);
    }

    #[tokio::test]
    async fn a_checkpoint_replaces_the_log_it_covers() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let b = board("b");
        let through = store.append(&b, &[vec![1], vec![2]]).await.unwrap();
        store
            .checkpoint(&b, vec![9, 9], through, BoardSummary::default())
            .await
            .unwrap();
        store.append(&b, &[vec![3]]).await.unwrap();
        let loaded = store.load(&b).await.unwrap();
        assert_eq!(loaded.snapshot, Some(vec![9, 9]));
        assert_eq!(loaded.updates, vec![vec![3]]);
    }

    #[tokio::test]
    async fn log_entries_a_snapshot_covers_are_skipped_even_if_not_yet_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let b = board("b");
        let through = store.append(&b, &[vec![1]]).await.unwrap();
        // The snapshot is written but the truncation "crashed" before running.
        store
            .checkpoint_write(&b, &[7], through, BoardSummary::default())
            .unwrap();
        let loaded = store.load(&b).await.unwrap();
        assert_eq!(loaded.snapshot, Some(vec![7]));
        assert!(loaded.updates.is_empty());
    }

    #[tokio::test]
    async fn a_corrupt_snapshot_is_an_error_not_an_empty_board() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let b = board("b");
        store.inner.snapshots.insert("b", vec![42u8]).unwrap();
        assert!(matches!(
            store.load(&b).await,
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[tokio::test]
    async fn listing_pages_through_boards_in_id_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        for id in ["c", "a", "b", "a-1"] {
            store.append(&board(id), &[vec![1]]).await.unwrap();
        }
        let first: Vec<String> = store
            .list(None, 2)
            .await
            .unwrap()
            .into_iter()
            .map(|(b, _)| b.to_string())
            .collect();
        assert_eq!(first, ["a", "a-1"]);
        let rest: Vec<String> = store
            .list(Some(&board("a-1")), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|(b, _)| b.to_string())
            .collect();
        assert_eq!(rest, ["b", "c"]);
    }

    #[tokio::test]
    async fn a_deleted_board_is_gone_and_others_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let (gone, kept) = (board("gone"), board("kept"));
        let through = store.append(&gone, &[vec![1]]).await.unwrap();
        store
            .checkpoint(&gone, vec![2], through, BoardSummary::default())
            .await
            .unwrap();
        store.append(&gone, &[vec![3]]).await.unwrap();
        store.append(&kept, &[vec![4]]).await.unwrap();
        store.delete(&gone).await.unwrap();
        assert!(store.record(&gone).await.unwrap().is_none());
        let loaded = store.load(&gone).await.unwrap();
        assert!(loaded.snapshot.is_none() && loaded.updates.is_empty());
        assert_eq!(store.load(&kept).await.unwrap().updates, vec![vec![4]]);
    }

    #[tokio::test]
    async fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.append(&board("b"), &[vec![5]]).await.unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.load(&board("b")).await.unwrap().updates,
            vec![vec![5]]
        );
    }
}
