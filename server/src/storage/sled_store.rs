//! The embedded default store, on sled 0.34.
//!
//! A fixed set of trees keyed by board id (never a tree per board); `STORAGE.md` documents each:
//!
//! | tree                | key                                   | value                                 |
//! |---------------------|---------------------------------------|---------------------------------------|
//! | `board_meta`        | board id                              | JSON [`BoardRecord`]                  |
//! | `board_updates`     | board id, `0x00`, seq (u64 BE)        | lib0 v1 update                        |
//! | `board_update_info` | board id, `0x00`, seq (u64 BE)        | who and when (`record.rs`)      |
//! | `board_checkpoints` | board id, `0x00`, seq (u64 BE)        | `0x01`, the document as a v1 update   |
//! | `board_authors`     | board id, `0x00`, index (u32 BE)      | JSON [`Author`]                       |
//! | `board_milestones`  | board id, `0x00`, milestone id        | JSON [`Milestone`]                    |
//!
//! Sequence numbers come from sled's monotonic id generator, so they increase across restarts and
//! crashes. A checkpoint at `seq` is the board right after the update at `seq`. The log is never
//! truncated by checkpoints: it is the board's history, thinned only by retention
//! ([`Store::summarize`]).

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use client_protocol::BoardId;

use super::group_commit::GroupCommit;
use super::history::{Author, Entry, LogQuery, LogRecord, Milestone, UpdateMeta};
use super::record::{self, Info};
use super::{
    now_ms, BoardRecord, BoardSummary, ForkedFrom, LogSeq, Store, StoreError, StoredBoard,
};

const META_TREE: &str = "board_meta";
const UPDATE_TREE: &str = "board_updates";
const INFO_TREE: &str = "board_update_info";
const CHECKPOINT_TREE: &str = "board_checkpoints";
const AUTHOR_TREE: &str = "board_authors";
const MILESTONE_TREE: &str = "board_milestones";
/// Where the latest snapshot lived before history was kept (value: `0x01`, through, state);
/// moved into `board_checkpoints` when a store is opened.
const LEGACY_SNAPSHOT_TREE: &str = "board_snapshots";
/// The first byte of a checkpoint record: the state as is (small states, and checkpoints written
/// before compression)...
const CHECKPOINT_RAW: u8 = 1;
/// ...or zstd-compressed: a board's state is mostly text and repeated keys, and checkpoints are
/// kept along the whole log, so they would otherwise be most of what history costs on disk.
const CHECKPOINT_ZSTD: u8 = 2;
/// States smaller than this are stored raw: compressing them saves too little to matter.
const COMPRESS_FROM: usize = 4096;
/// zstd's fastest level: checkpoints are written often; a higher level saves little more.
const ZSTD_LEVEL: i32 = 1;
/// The format byte of the snapshots kept before history (`board_snapshots`).
const LEGACY_SNAPSHOT_FORMAT: u8 = 1;
/// sled's page cache, in bytes.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// A board's authors, as numbered in `board_authors`.
#[derive(Default)]
struct Authors {
    list: Vec<Author>,
    index: HashMap<Author, u32>,
}

struct Inner {
    db: sled::Db,
    meta: sled::Tree,
    updates: sled::Tree,
    info: sled::Tree,
    checkpoints: sled::Tree,
    authors: sled::Tree,
    milestones: sled::Tree,
    commit: GroupCommit,
    /// Author tables of the boards written or read since the store opened. Only touched
    /// synchronously (never across an await).
    author_cache: Mutex<HashMap<BoardId, Authors>>,
}

/// What one sled tree holds (see [`SledStore::footprint`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeFootprint {
    /// The tree's name.
    pub tree: &'static str,
    /// How many entries it holds.
    pub entries: u64,
    /// The bytes of their keys.
    pub key_bytes: u64,
    /// The bytes of their values.
    pub value_bytes: u64,
}

/// A [`Store`] on an embedded sled database in one directory.
#[derive(Clone)]
pub struct SledStore {
    inner: Arc<Inner>,
}

/// The prefix shared by every key of `board` in the per-board trees.
fn board_prefix(board: &BoardId) -> Vec<u8> {
    let mut key = Vec::with_capacity(board.as_str().len() + 9);
    key.extend_from_slice(board.as_str().as_bytes());
    key.push(0);
    key
}

fn log_key(board: &BoardId, seq: LogSeq) -> Vec<u8> {
    let mut key = board_prefix(board);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn seq_of(board: &BoardId, tree: &str, key: &[u8]) -> Result<LogSeq, StoreError> {
    let tail = &key[board.as_str().len() + 1..];
    let bytes: [u8; 8] = tail.try_into().map_err(|_| StoreError::Corrupt {
        board: board.to_string(),
        key: format!("{tree}/{key:?}"),
        reason: "key does not end in an 8-byte sequence number".into(),
    })?;
    Ok(LogSeq::from_be_bytes(bytes))
}

fn corrupt(board: &BoardId, key: String, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        board: board.to_string(),
        key,
        reason: reason.to_string(),
    }
}

/// A checkpoint record for `state`: its format byte, then the state, compressed if it is large.
/// Shared with the Redis store, which keeps checkpoints in the same form.
pub(super) fn encode_checkpoint(state: &[u8]) -> Vec<u8> {
    if state.len() >= COMPRESS_FROM {
        if let Ok(packed) = zstd::bulk::compress(state, ZSTD_LEVEL) {
            let mut record = Vec::with_capacity(packed.len() + 1);
            record.push(CHECKPOINT_ZSTD);
            record.extend_from_slice(&packed);
            return record;
        }
    }
    let mut record = Vec::with_capacity(state.len() + 1);
    record.push(CHECKPOINT_RAW);
    record.extend_from_slice(state);
    record
}

fn decode_checkpoint(board: &BoardId, seq: LogSeq, value: &[u8]) -> Result<Vec<u8>, StoreError> {
    decode_checkpoint_at(board, || format!("{CHECKPOINT_TREE}/{board}/{seq}"), value)
}

/// The state in a checkpoint record written by [`encode_checkpoint`]; `key` names it in errors.
pub(super) fn decode_checkpoint_at(
    board: &BoardId,
    key: impl Fn() -> String,
    value: &[u8],
) -> Result<Vec<u8>, StoreError> {
    match value {
        [CHECKPOINT_RAW, state @ ..] => Ok(state.to_vec()),
        [CHECKPOINT_ZSTD, packed @ ..] => {
            zstd::stream::decode_all(packed).map_err(|e| corrupt(board, key(), e))
        }
        _ => Err(corrupt(board, key(), "unknown checkpoint format")),
    }
}

fn json<T: serde::de::DeserializeOwned>(
    board: &BoardId,
    key: impl FnOnce() -> String,
    raw: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(raw).map_err(|e| corrupt(board, key(), e))
}

/// The range of keys of `board` in a per-board tree keyed by sequence number, after `after`
/// and up to `through`.
fn seq_range(
    board: &BoardId,
    after: Option<LogSeq>,
    through: Option<LogSeq>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let start = match after {
        Some(seq) => Bound::Excluded(log_key(board, seq)),
        None => Bound::Included(log_key(board, 0)),
    };
    let end = Bound::Included(log_key(board, through.unwrap_or(LogSeq::MAX)));
    (start, end)
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
                updates: db.open_tree(UPDATE_TREE)?,
                info: db.open_tree(INFO_TREE)?,
                checkpoints: db.open_tree(CHECKPOINT_TREE)?,
                authors: db.open_tree(AUTHOR_TREE)?,
                milestones: db.open_tree(MILESTONE_TREE)?,
                commit: GroupCommit::start(db.clone())
                    .map_err(|e| StoreError::Backend(e.to_string().into()))?,
                author_cache: Mutex::default(),
                db,
            }),
        };
        store.migrate_legacy_snapshots()?;
        tracing::info!(
            dir = %dir.display(),
            boards = store.inner.meta.len(),
            duration_ms = started.elapsed().as_millis() as u64,
            "storage opened"
        );
        Ok(store)
    }

    /// Moves snapshots stored before history was kept into `board_checkpoints`. Crash-safe: the
    /// old tree is dropped only once its contents are durable in the new one, and copying again
    /// writes the same records.
    fn migrate_legacy_snapshots(&self) -> Result<(), StoreError> {
        let db = &self.inner.db;
        if !db
            .tree_names()
            .iter()
            .any(|name| name.as_ref() == LEGACY_SNAPSHOT_TREE.as_bytes())
        {
            return Ok(());
        }
        let legacy = db.open_tree(LEGACY_SNAPSHOT_TREE)?;
        let mut moved = 0;
        for entry in legacy.iter() {
            let (key, value) = entry?;
            let Some(board) = std::str::from_utf8(&key)
                .ok()
                .and_then(|id| BoardId::parse(id).ok())
            else {
                continue;
            };
            match value.as_ref() {
                [LEGACY_SNAPSHOT_FORMAT, rest @ ..] if rest.len() >= 8 => {
                    let (through, state) = rest.split_at(8);
                    let through = LogSeq::from_be_bytes(through.try_into().expect("8 bytes"));
                    self.inner
                        .checkpoints
                        .insert(log_key(&board, through), encode_checkpoint(state))?;
                    moved += 1;
                }
                _ => tracing::error!(board = %board, "unreadable legacy snapshot left in place"),
            }
        }
        db.flush()?;
        if moved == legacy.len() {
            db.drop_tree(LEGACY_SNAPSHOT_TREE)?;
            db.flush()?;
        }
        tracing::info!(boards = moved, "snapshots moved to board_checkpoints");
        Ok(())
    }

    /// What each tree holds: entries and the bytes of their keys and values (before sled's own
    /// overhead): what history costs on disk, measured by the storage benchmark.
    pub fn footprint(&self) -> Result<Vec<TreeFootprint>, StoreError> {
        let inner = &self.inner;
        [
            (META_TREE, &inner.meta),
            (UPDATE_TREE, &inner.updates),
            (INFO_TREE, &inner.info),
            (CHECKPOINT_TREE, &inner.checkpoints),
            (AUTHOR_TREE, &inner.authors),
            (MILESTONE_TREE, &inner.milestones),
        ]
        .into_iter()
        .map(|(name, tree)| {
            let mut print = TreeFootprint {
                tree: name,
                ..TreeFootprint::default()
            };
            for entry in tree.iter() {
                let (key, value) = entry?;
                print.entries += 1;
                print.key_bytes += key.len() as u64;
                print.value_bytes += value.len() as u64;
            }
            Ok(print)
        })
        .collect()
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
            Some(raw) => json(board, || format!("{META_TREE}/{board}"), &raw).map(Some),
        }
    }

    fn put_meta(&self, board: &BoardId, record: &BoardRecord) -> Result<(), StoreError> {
        self.inner.meta.insert(
            board.as_str(),
            serde_json::to_vec(record).expect("a record serializes"),
        )?;
        Ok(())
    }

    /// The log of a board without its checkpoints (for salvaging a board whose checkpoint is
    /// unreadable).
    pub async fn load_log_only(&self, board: &BoardId) -> Result<StoredBoard, StoreError> {
        let (store, board) = (self.clone(), board.clone());
        blocking(move || {
            let mut stored = StoredBoard::default();
            for entry in store.inner.updates.scan_prefix(board_prefix(&board)) {
                let (key, value) = entry?;
                stored.last_seq = Some(seq_of(&board, UPDATE_TREE, &key)?);
                stored.updates.push(value.to_vec());
            }
            Ok(stored)
        })
        .await
    }

    fn load_blocking(
        &self,
        board: &BoardId,
        at: Option<LogSeq>,
    ) -> Result<StoredBoard, StoreError> {
        let mut stored = StoredBoard::default();
        let checkpoint = self
            .inner
            .checkpoints
            .range(seq_range(board, None, at))
            .next_back()
            .transpose()?;
        if let Some((key, value)) = checkpoint {
            let seq = seq_of(board, CHECKPOINT_TREE, &key)?;
            stored.snapshot = Some(decode_checkpoint(board, seq, &value)?);
            stored.last_seq = Some(seq);
        }
        for entry in self
            .inner
            .updates
            .range(seq_range(board, stored.last_seq, at))
        {
            let (key, value) = entry?;
            stored.updates.push(value.to_vec());
            stored.last_seq = Some(seq_of(board, UPDATE_TREE, &key)?);
        }
        Ok(stored)
    }

    /// Runs `f` on the author table of `board`, reading it from storage the first time.
    fn with_authors<T>(
        &self,
        board: &BoardId,
        f: impl FnOnce(&mut Authors) -> T,
    ) -> Result<T, StoreError> {
        let mut cache = self.inner.author_cache.lock().expect("author cache");
        if !cache.contains_key(board) {
            let mut authors = Authors::default();
            for entry in self.inner.authors.scan_prefix(board_prefix(board)) {
                let (key, value) = entry?;
                let author: Author = json(board, || format!("{AUTHOR_TREE}/{key:?}"), &value)?;
                authors
                    .index
                    .insert(author.clone(), authors.list.len() as u32);
                authors.list.push(author);
            }
            cache.insert(board.clone(), authors);
        }
        Ok(f(cache.get_mut(board).expect("just inserted")))
    }

    /// The index of `author` on `board`, adding it (in `batch`) if new.
    fn author_index(
        &self,
        board: &BoardId,
        author: &Author,
        batch: &mut sled::Batch,
    ) -> Result<u32, StoreError> {
        self.with_authors(board, |authors| {
            if let Some(index) = authors.index.get(author) {
                return *index;
            }
            let index = authors.list.len() as u32;
            let mut key = board_prefix(board);
            key.extend_from_slice(&index.to_be_bytes());
            batch.insert(
                key,
                serde_json::to_vec(author).expect("an author serializes"),
            );
            authors.index.insert(author.clone(), index);
            authors.list.push(author.clone());
            index
        })
    }

    fn meta_of(
        &self,
        board: &BoardId,
        raw: Option<&[u8]>,
        bytes: u64,
    ) -> Result<UpdateMeta, StoreError> {
        self.with_authors(board, |authors| {
            record::meta_of(board, raw, bytes, &authors.list)
        })
    }

    fn log_blocking(&self, board: &BoardId, query: LogQuery) -> Result<Vec<LogRecord>, StoreError> {
        let range = self
            .inner
            .updates
            .range(seq_range(board, query.after, query.through));
        let entries: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
            if query.newest_first {
                Box::new(range.rev())
            } else {
                Box::new(range)
            };
        let limit = if query.limit == 0 {
            usize::MAX
        } else {
            query.limit
        };
        let mut records = Vec::new();
        for entry in entries.take(limit) {
            let (key, value) = entry?;
            let seq = seq_of(board, UPDATE_TREE, &key)?;
            let info = self.inner.info.get(&key)?;
            let meta = self.meta_of(board, info.as_deref(), value.len() as u64)?;
            records.push(LogRecord {
                seq,
                meta,
                update: query.with_updates.then(|| value.to_vec()),
            });
        }
        Ok(records)
    }

    fn checkpoint_write(
        &self,
        board: &BoardId,
        snapshot: &[u8],
        through: LogSeq,
        summary: Option<BoardSummary>,
    ) -> Result<(), StoreError> {
        self.inner
            .checkpoints
            .insert(log_key(board, through), encode_checkpoint(snapshot))?;
        if let Some(summary) = summary {
            let mut meta = self.board_meta(board)?.unwrap_or(BoardRecord {
                created_ms: now_ms(),
                ..BoardRecord::default()
            });
            meta.checkpointed_ms = Some(now_ms());
            meta.snapshot_bytes = snapshot.len() as u64;
            meta.summary = summary;
            self.put_meta(board, &meta)?;
        }
        Ok(())
    }

    fn summarize_blocking(
        &self,
        board: &BoardId,
        seqs: &[LogSeq],
        merged: &[u8],
        meta: &UpdateMeta,
        step: Summarize,
    ) -> Result<(), StoreError> {
        let Some((&last, earlier)) = seqs.split_last() else {
            return Ok(());
        };
        match step {
            Summarize::Write => {
                let mut authors = sled::Batch::default();
                let indexes = meta
                    .authors
                    .iter()
                    .map(|a| self.author_index(board, a, &mut authors))
                    .collect::<Result<Vec<_>, _>>()?;
                self.inner.authors.apply_batch(authors)?;
                let info = Info {
                    time_ms: meta.time_ms,
                    first_ms: meta.first_ms,
                    role: None,
                    conn: None,
                    authors: indexes,
                    bytes: merged.len() as u64,
                    updates: meta.updates,
                };
                let key = log_key(board, last);
                self.inner.updates.insert(&key, merged)?;
                self.inner.info.insert(&key, info.encode())?;
            }
            Summarize::RemoveMerged => {
                let mut updates = sled::Batch::default();
                let mut info = sled::Batch::default();
                for seq in earlier {
                    updates.remove(log_key(board, *seq));
                    info.remove(log_key(board, *seq));
                }
                self.inner.updates.apply_batch(updates)?;
                self.inner.info.apply_batch(info)?;
            }
        }
        Ok(())
    }
}

/// The two durable steps of [`Store::summarize`].
#[derive(Clone, Copy)]
enum Summarize {
    Write,
    RemoveMerged,
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
        blocking(move || store.load_blocking(&board, None)).await
    }

    async fn load_at(&self, board: &BoardId, at: LogSeq) -> Result<StoredBoard, StoreError> {
        let (store, board) = (self.clone(), board.clone());
        blocking(move || store.load_blocking(&board, Some(at))).await
    }

    async fn append(&self, board: &BoardId, entries: &[Entry]) -> Result<LogSeq, StoreError> {
        // These calls only touch sled's in-memory buffers; the slow part, the fsync, happens on
        // the group-commit thread while this task waits without blocking a worker.
        let time_ms = now_ms();
        let mut updates = sled::Batch::default();
        let mut infos = sled::Batch::default();
        let mut authors = sled::Batch::default();
        let mut last = 0;
        for entry in entries {
            // From 1: position 0 is the empty board before the first update.
            last = self.inner.db.generate_id()? + 1;
            let key = log_key(board, last);
            let author = self.author_index(board, &Author::of(&entry.actor), &mut authors)?;
            let info = Info {
                time_ms,
                first_ms: time_ms,
                role: Some(entry.actor.role),
                conn: Some(entry.conn),
                authors: vec![author],
                bytes: entry.update.len() as u64,
                updates: 1,
            };
            infos.insert(key.clone(), info.encode());
            updates.insert(key, entry.update.as_slice());
        }
        self.inner.authors.apply_batch(authors)?;
        self.inner.info.apply_batch(infos)?;
        self.inner.updates.apply_batch(updates)?;
        if !self.inner.meta.contains_key(board.as_str())? {
            self.put_meta(
                board,
                &BoardRecord {
                    created_ms: time_ms,
                    ..BoardRecord::default()
                },
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
        summary: Option<BoardSummary>,
    ) -> Result<(), StoreError> {
        let (store, b) = (self.clone(), board.clone());
        blocking(move || store.checkpoint_write(&b, &snapshot, through, summary)).await?;
        self.inner.commit.durable().await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.inner.commit.durable().await
    }

    async fn record(&self, board: &BoardId) -> Result<Option<BoardRecord>, StoreError> {
        let (store, board) = (self.clone(), board.clone());
        blocking(move || store.board_meta(&board)).await
    }

    async fn set_forked_from(&self, board: &BoardId, from: ForkedFrom) -> Result<(), StoreError> {
        let (store, b) = (self.clone(), board.clone());
        blocking(move || {
            let mut record = store.board_meta(&b)?.unwrap_or(BoardRecord {
                created_ms: now_ms(),
                ..BoardRecord::default()
            });
            record.forked_from = Some(from);
            store.put_meta(&b, &record)
        })
        .await?;
        self.inner.commit.durable().await
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
                Some(id) => Bound::Included(board_prefix(id)),
                None => Bound::Unbounded,
            };
            let mut boards = Vec::new();
            for entry in store
                .inner
                .meta
                .range::<Vec<u8>, _>((start, Bound::Unbounded))
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
                let record = json(&id, || format!("{META_TREE}/{id}"), &value)?;
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
            let inner = &store.inner;
            for tree in [
                &inner.updates,
                &inner.info,
                &inner.checkpoints,
                &inner.authors,
                &inner.milestones,
            ] {
                let mut batch = sled::Batch::default();
                for key in tree.scan_prefix(board_prefix(&b)).keys() {
                    batch.remove(key?);
                }
                tree.apply_batch(batch)?;
            }
            inner.author_cache.lock().expect("author cache").remove(&b);
            Ok(())
        })
        .await?;
        self.inner.commit.durable().await
    }

    async fn log(&self, board: &BoardId, query: LogQuery) -> Result<Vec<LogRecord>, StoreError> {
        let (store, board) = (self.clone(), board.clone());
        blocking(move || store.log_blocking(&board, query)).await
    }

    async fn checkpoints(&self, board: &BoardId) -> Result<Vec<LogSeq>, StoreError> {
        let (store, board) = (self.clone(), board.clone());
        blocking(move || {
            store
                .inner
                .checkpoints
                .scan_prefix(board_prefix(&board))
                .keys()
                .map(|key| seq_of(&board, CHECKPOINT_TREE, &key?))
                .collect()
        })
        .await
    }

    async fn remove_checkpoint(&self, board: &BoardId, at: LogSeq) -> Result<(), StoreError> {
        let (store, board) = (self.clone(), board.clone());
        blocking(move || {
            let checkpoints = &store.inner.checkpoints;
            let newest = checkpoints
                .scan_prefix(board_prefix(&board))
                .keys()
                .next_back()
                .transpose()?;
            if newest.as_deref() != Some(log_key(&board, at).as_slice()) {
                checkpoints.remove(log_key(&board, at))?;
            }
            Ok(())
        })
        .await?;
        self.inner.commit.durable().await
    }

    async fn summarize(
        &self,
        board: &BoardId,
        seqs: &[LogSeq],
        merged: Vec<u8>,
        meta: UpdateMeta,
    ) -> Result<(), StoreError> {
        let shared = Arc::new((seqs.to_vec(), merged, meta));
        for step in [Summarize::Write, Summarize::RemoveMerged] {
            let (store, b, shared) = (self.clone(), board.clone(), shared.clone());
            blocking(move || {
                let (seqs, merged, meta) = &*shared;
                store.summarize_blocking(&b, seqs, merged, meta, step)
            })
            .await?;
            // Each step durable before the next: the summary exists before what it replaces goes.
            self.inner.commit.durable().await?;
        }
        Ok(())
    }

    async fn milestones(&self, board: &BoardId) -> Result<Vec<Milestone>, StoreError> {
        let (store, board) = (self.clone(), board.clone());
        blocking(move || {
            let mut milestones: Vec<Milestone> = store
                .inner
                .milestones
                .scan_prefix(board_prefix(&board))
                .map(|entry| {
                    let (key, value) = entry?;
                    json(&board, || format!("{MILESTONE_TREE}/{key:?}"), &value)
                })
                .collect::<Result<_, _>>()?;
            milestones.sort_by_key(|m| (m.seq, m.created_ms));
            Ok(milestones)
        })
        .await
    }

    async fn put_milestone(
        &self,
        board: &BoardId,
        milestone: &Milestone,
    ) -> Result<(), StoreError> {
        let mut key = board_prefix(board);
        key.extend_from_slice(milestone.id.as_bytes());
        let value = serde_json::to_vec(milestone).expect("a milestone serializes");
        self.inner.milestones.insert(key, value)?;
        self.inner.commit.durable().await
    }

    async fn remove_milestone(&self, board: &BoardId, id: &str) -> Result<bool, StoreError> {
        let mut key = board_prefix(board);
        key.extend_from_slice(id.as_bytes());
        let removed = self.inner.milestones.remove(key)?.is_some();
        self.inner.commit.durable().await?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use client_protocol::access::{Actor, Role};

    use super::*;
    use crate::storage::MilestoneKind;

    fn board(id: &str) -> BoardId {
        BoardId::parse(id).unwrap()
    }

    fn by(name: &str, updates: &[&[u8]]) -> Vec<Entry> {
        let actor = Arc::new(Actor {
            role: Role::Participant,
            sub: format!("{name}-id"),
            name: name.into(),
        });
        updates
            .iter()
            .map(|u| Entry {
                update: u.to_vec(),
                actor: actor.clone(),
                conn: 7,
            })
            .collect()
    }

    fn open() -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn appended_updates_load_back_in_order() {
        let (_dir, store) = open();
        let b = board("b1");
        store.append(&b, &by("ana", &[&[1], &[2]])).await.unwrap();
        store.append(&b, &by("ana", &[&[3]])).await.unwrap();
        let loaded = store.load(&b).await.unwrap();
        assert_eq!(loaded.updates, vec![vec![1], vec![2], vec![3]]);
        assert!(loaded.snapshot.is_none());
    }

    #[tokio::test]
    async fn the_footprint_counts_each_trees_entries_and_bytes() {
        let (_dir, store) = open();
        store
            .append(&board("b1"), &by("ana", &[&[1, 2, 3], &[4]]))
            .await
            .unwrap();
        let print = store.footprint().unwrap();
        let updates = print.iter().find(|t| t.tree == UPDATE_TREE).unwrap();
        assert_eq!((updates.entries, updates.value_bytes), (2, 4));
        assert_eq!(updates.key_bytes, 2 * (3 + 8));
        let info = print.iter().find(|t| t.tree == INFO_TREE).unwrap();
        assert_eq!(info.entries, 2);
    }

    #[tokio::test]
    async fn boards_sharing_a_prefix_do_not_see_each_other() {
        let (_dir, store) = open();
        store.append(&board("a"), &by("x", &[&[1]])).await.unwrap();
        store.append(&board("ab"), &by("x", &[&[2]])).await.unwrap();
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
    async fn a_board_loads_from_its_newest_checkpoint_and_keeps_its_history() {
        let (_dir, store) = open();
        let b = board("b");
        let through = store.append(&b, &by("x", &[&[1], &[2]])).await.unwrap();
        store
            .checkpoint(&b, vec![9, 9], through, Some(BoardSummary::default()))
            .await
            .unwrap();
        store.append(&b, &by("x", &[&[3]])).await.unwrap();
        let loaded = store.load(&b).await.unwrap();
        assert_eq!(loaded.snapshot, Some(vec![9, 9]));
        assert_eq!(loaded.updates, vec![vec![3]]);
        let history = store.log(&b, LogQuery::default()).await.unwrap();
        assert_eq!(history.len(), 3, "the log outlives the checkpoint");
    }

    #[tokio::test]
    async fn a_past_version_loads_from_the_checkpoint_before_it() {
        let (_dir, store) = open();
        let b = board("b");
        let first = store.append(&b, &by("x", &[&[1]])).await.unwrap();
        let second = store.append(&b, &by("x", &[&[2]])).await.unwrap();
        store.checkpoint(&b, vec![8], second, None).await.unwrap();
        let third = store.append(&b, &by("x", &[&[3]])).await.unwrap();
        let at_first = store.load_at(&b, first).await.unwrap();
        assert_eq!((at_first.snapshot, at_first.updates), (None, vec![vec![1]]));
        let at_third = store.load_at(&b, third).await.unwrap();
        assert_eq!(at_third.snapshot, Some(vec![8]));
        assert_eq!(at_third.updates, vec![vec![3]]);
        assert_eq!(store.checkpoints(&b).await.unwrap(), vec![second]);
    }

    #[tokio::test]
    async fn every_update_is_stored_with_its_author_role_and_time() {
        let (_dir, store) = open();
        let b = board("b");
        store.append(&b, &by("ana", &[&[1, 2, 3]])).await.unwrap();
        store.append(&b, &by("bo", &[&[4]])).await.unwrap();
        let log = store
            .log(
                &b,
                LogQuery {
                    newest_first: true,
                    ..LogQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(log[0].meta.authors[0].name, "bo");
        assert_eq!(log[1].meta.authors[0].sub, "ana-id");
        assert_eq!(log[1].meta.role.as_deref(), Some("participant"));
        assert_eq!(log[1].meta.bytes, 3);
        assert!(log[1].meta.time_ms > 0 && log[1].meta.conn == Some(7));
    }

    #[tokio::test]
    async fn a_summary_replaces_the_records_it_merges() {
        let (_dir, store) = open();
        let b = board("b");
        let seqs = [
            store.append(&b, &by("ana", &[&[1]])).await.unwrap(),
            store.append(&b, &by("bo", &[&[2]])).await.unwrap(),
        ];
        let kept = store.append(&b, &by("ana", &[&[3]])).await.unwrap();
        let meta = UpdateMeta {
            authors: vec![
                Author {
                    sub: "ana-id".into(),
                    name: "ana".into(),
                },
                Author {
                    sub: "bo-id".into(),
                    name: "bo".into(),
                },
            ],
            updates: 2,
            ..UpdateMeta::unknown(0)
        };
        store.summarize(&b, &seqs, vec![1, 2], meta).await.unwrap();
        let log = store.log(&b, LogQuery::default()).await.unwrap();
        let seqs_left: Vec<_> = log.iter().map(|r| r.seq).collect();
        assert_eq!(seqs_left, vec![seqs[1], kept]);
        assert_eq!(log[0].meta.updates, 2);
        assert_eq!(log[0].meta.authors.len(), 2);
        assert_eq!(
            store.load(&b).await.unwrap().updates,
            vec![vec![1, 2], vec![3]]
        );
    }

    #[tokio::test]
    async fn milestones_are_kept_per_board() {
        let (_dir, store) = open();
        let b = board("b");
        let seq = store.append(&b, &by("ana", &[&[1]])).await.unwrap();
        let milestone = Milestone {
            id: "m1".into(),
            name: "after Q3 workshop".into(),
            seq,
            created_ms: 1,
            created_by: Author {
                sub: "ana-id".into(),
                name: "ana".into(),
            },
            kind: MilestoneKind::Named,
        };
        store.put_milestone(&b, &milestone).await.unwrap();
        assert_eq!(store.milestones(&b).await.unwrap(), vec![milestone]);
        assert!(store.milestones(&board("other")).await.unwrap().is_empty());
        assert!(store.remove_milestone(&b, "m1").await.unwrap());
        assert!(!store.remove_milestone(&b, "m1").await.unwrap());
    }

    #[tokio::test]
    async fn a_large_checkpoint_is_stored_compressed_and_loads_back_exactly() {
        let (_dir, store) = open();
        let b = board("big");
        let seq = store.append(&b, &by("ana", &[&[1]])).await.unwrap();
        // Text-like state: compresses well, as a board's does.
        let state: Vec<u8> = (0..100_000u32)
            .flat_map(|i| format!("card {} says hello; ", i % 97).into_bytes())
            .collect();
        store
            .checkpoint(&b, state.clone(), seq, None)
            .await
            .unwrap();
        let stored = store
            .inner
            .checkpoints
            .get(log_key(&b, seq))
            .unwrap()
            .unwrap();
        assert_eq!(stored[0], CHECKPOINT_ZSTD);
        assert!(stored.len() * 4 < state.len(), "{} bytes", stored.len());
        assert_eq!(store.load(&b).await.unwrap().snapshot, Some(state));
    }

    #[tokio::test]
    async fn snapshots_stored_before_history_become_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            let legacy = db.open_tree(LEGACY_SNAPSHOT_TREE).unwrap();
            let mut value = vec![LEGACY_SNAPSHOT_FORMAT];
            value.extend_from_slice(&5u64.to_be_bytes());
            value.extend_from_slice(&[4, 2]);
            legacy.insert("old", value).unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        let loaded = store.load(&board("old")).await.unwrap();
        assert_eq!(loaded.snapshot, Some(vec![4, 2]));
        assert_eq!(loaded.last_seq, Some(5));
        assert!(!store
            .inner
            .db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == LEGACY_SNAPSHOT_TREE.as_bytes()));
    }

    #[tokio::test]
    async fn a_corrupt_checkpoint_is_an_error_not_an_empty_board() {
        let (_dir, store) = open();
        let b = board("b");
        store
            .inner
            .checkpoints
            .insert(log_key(&b, 3), vec![42u8])
            .unwrap();
        assert!(matches!(
            store.load(&b).await,
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[tokio::test]
    async fn listing_pages_through_boards_in_id_order() {
        let (_dir, store) = open();
        for id in ["c", "a", "b", "a-1"] {
            store.append(&board(id), &by("x", &[&[1]])).await.unwrap();
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
    async fn a_deleted_board_is_gone_with_its_history_and_others_stay() {
        let (_dir, store) = open();
        let (gone, kept) = (board("gone"), board("kept"));
        let through = store.append(&gone, &by("x", &[&[1]])).await.unwrap();
        store
            .checkpoint(&gone, vec![2], through, Some(BoardSummary::default()))
            .await
            .unwrap();
        store.append(&gone, &by("x", &[&[3]])).await.unwrap();
        store.append(&kept, &by("x", &[&[4]])).await.unwrap();
        store.delete(&gone).await.unwrap();
        assert!(store.record(&gone).await.unwrap().is_none());
        let loaded = store.load(&gone).await.unwrap();
        assert!(loaded.snapshot.is_none() && loaded.updates.is_empty());
        assert!(store
            .log(&gone, LogQuery::default())
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.load(&kept).await.unwrap().updates, vec![vec![4]]);
    }

    #[tokio::test]
    async fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.append(&board("b"), &by("x", &[&[5]])).await.unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.load(&board("b")).await.unwrap().updates,
            vec![vec![5]]
        );
        let log = store.log(&board("b"), LogQuery::default()).await.unwrap();
        assert_eq!(log[0].meta.authors[0].name, "x");
    }
}
