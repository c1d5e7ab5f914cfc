//! Board history: any past version of a board, rebuilt from storage off the live board's task.
//!
//! The store keeps every update with who made it and when, and checkpoints (whole states) along
//! the log. A version is the board right after one log record: rebuilt from the newest
//! checkpoint at or before it plus the records in between, which the board's room keeps to about
//! [`HistoryConfig::checkpoint_every`] (it checkpoints its live document that often). Rebuilt versions are cached, since a
//! history panel asks for the same few again and again. The live board is never involved: it
//! keeps garbage collection on, and history lives in storage only.
//!
//! [`retention`] thins old history into hourly and daily summaries; [`sessions`] groups it into
//! work sessions for listings.

pub mod retention;
pub mod sessions;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client_protocol::codec;
use client_protocol::schema::{self, Board, Change, ReplayError, Replayer};
use client_protocol::BoardId;
use yrs::{Doc, Transact};

use crate::storage::{
    Author, LogQuery, LogRecord, LogSeq, Milestone, Store, StoreError, StoredBoard,
};
pub use retention::{RetentionPolicy, Thinned};

/// How history is kept.
#[derive(Debug, Clone)]
pub struct HistoryConfig {
    /// A checkpoint is written once a board has this many log records after its newest one, so
    /// that any version rebuilds from at most about this many.
    pub checkpoint_every: usize,
    /// Rebuilt versions kept in memory.
    pub cached_versions: usize,
    /// What is kept of old history.
    pub retention: RetentionPolicy,
    /// How often retention runs over every board (zero: never, but on demand).
    pub retention_interval: Duration,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            checkpoint_every: 1000,
            cached_versions: 32,
            retention: RetentionPolicy::default(),
            retention_interval: Duration::from_secs(3600),
        }
    }
}

/// Why a version could not be given.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HistoryError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No version matches what was asked.
    #[error("no version {0:?} on this board (a sequence number, an RFC 3339 time or a milestone)")]
    UnknownVersion(String),
    /// The stored records do not rebuild a board.
    #[error("the stored history does not rebuild: {0}")]
    Rebuild(String),
}

/// Records read from storage at a time when searching the log newest first.
const SCAN_CHUNK: usize = 1024;

/// Reads a board's log newest first, `SCAN_CHUNK` records at a time, so that a search that
/// stops early (a page of history, the version at a recent time) reads only what it needs.
pub struct NewestFirst {
    board: BoardId,
    after: Option<LogSeq>,
    through: Option<LogSeq>,
    done: bool,
}

impl NewestFirst {
    /// The records of `board` after `after` and up to `through` (both optional).
    pub fn new(board: &BoardId, after: Option<LogSeq>, through: Option<LogSeq>) -> Self {
        NewestFirst {
            board: board.clone(),
            after,
            through,
            done: false,
        }
    }

    /// The next, older chunk; `None` once the log is read to its start.
    pub async fn next_chunk(
        &mut self,
        store: &dyn Store,
    ) -> Result<Option<Vec<LogRecord>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let records = store
            .log(
                &self.board,
                LogQuery {
                    after: self.after,
                    through: self.through,
                    limit: SCAN_CHUNK,
                    newest_first: true,
                    ..LogQuery::default()
                },
            )
            .await?;
        match records.last() {
            Some(oldest) if records.len() == SCAN_CHUNK && oldest.seq > 0 => {
                self.through = Some(oldest.seq - 1);
            }
            _ => self.done = true,
        }
        Ok((!records.is_empty()).then_some(records))
    }
}

/// A board as it was right after one log record.
#[derive(Debug)]
pub struct Version {
    /// The record's position (`0` for the empty board before the first one).
    pub seq: LogSeq,
    /// The document, as one lib0 v1 update.
    pub state: Vec<u8>,
    /// The board, read.
    pub board: Board,
}

/// Board history: versions, checkpoints and retention on top of a [`Store`].
pub struct History {
    store: Arc<dyn Store>,
    config: HistoryConfig,
    /// Recently rebuilt versions, newest use last. Only locked for lookups and inserts.
    cache: Mutex<VecDeque<(BoardId, LogSeq, Arc<Version>)>>,
}

/// Applies stored records to a new document, each in its own transaction as the live board did.
pub fn rebuild(stored: &StoredBoard) -> Result<Doc, HistoryError> {
    let doc = Doc::new();
    let applied = catch_unwind(AssertUnwindSafe(|| -> Result<(), HistoryError> {
        for bytes in stored.snapshot.iter().chain(&stored.updates) {
            let update =
                codec::decode_update(bytes).map_err(|e| HistoryError::Rebuild(e.to_string()))?;
            doc.transact_mut()
                .apply_update(update)
                .map_err(|e| HistoryError::Rebuild(e.to_string()))?;
        }
        Ok(())
    }));
    match applied {
        Ok(result) => result.map(|()| doc),
        Err(_) => Err(HistoryError::Rebuild(
            "applying a stored record panicked".into(),
        )),
    }
}

/// An RFC 3339 time as ms since the Unix epoch (times before it count as 0): how history is
/// addressed by time, in the API and on the command line.
pub fn rfc3339_ms(raw: &str) -> Result<u64, time::error::Parse> {
    let time = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)?;
    Ok((time.unix_timestamp_nanos() / 1_000_000).max(0) as u64)
}

/// The differences between two versions, credited.
#[derive(Debug)]
pub struct Diff {
    /// Everyone who made a record in between.
    pub authors: Vec<Author>,
    /// The changes, each with who made it.
    pub changes: Vec<CreditedChange>,
}

/// A change between two versions, with the people who made it. Serialised as the change's own
/// JSON (SCHEMA.md §9) plus `authors`, each `{sub, name}` as everywhere in the history API.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditedChange {
    /// What changed.
    #[serde(flatten)]
    pub change: Change,
    /// Who made it, in id order; empty when no update in between touched what it reports.
    pub authors: Vec<Author>,
}

/// Replays `records` after `base`, noting who touched what, and credits `changes` with it.
fn credit(
    base: &StoredBoard,
    records: &[LogRecord],
    changes: Vec<Change>,
) -> Result<Diff, HistoryError> {
    let failed = |e: ReplayError| HistoryError::Rebuild(e.to_string());
    let mut replayer = Replayer::new();
    for bytes in base.snapshot.iter().chain(&base.updates) {
        replayer.apply_unattributed(bytes).map_err(failed)?;
    }
    replayer.take_touched();
    // Updates are replayed under a key per author (their place in `everyone`), so that a change
    // is credited to the authors' ids and names, not to names alone, which may repeat. A summary
    // has several authors: it is replayed under a key of its own, then credited to each of them.
    let everyone: Vec<Author> = records
        .iter()
        .flat_map(|r| r.meta.authors.iter().cloned())
        .collect::<BTreeSet<Author>>()
        .into_iter()
        .collect();
    let key_of = |author: &Author| {
        everyone
            .binary_search(author)
            .map_or_else(|_| String::new(), |i| i.to_string())
    };
    let mut summaries: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for record in records {
        let Some(update) = &record.update else {
            continue;
        };
        let key = match record.meta.authors.as_slice() {
            [one] => key_of(one),
            several => {
                let key = format!("summary {}", record.seq);
                summaries.insert(key.clone(), several.iter().map(key_of).collect());
                key
            }
        };
        replayer.apply(update, &key).map_err(failed)?;
    }
    let mut touched = replayer.take_touched();
    for keys in touched.values_mut() {
        let expanded: BTreeSet<String> = keys
            .iter()
            .flat_map(|k| summaries.get(k).cloned().unwrap_or_else(|| vec![k.clone()]))
            .collect();
        *keys = expanded;
    }
    let changes = schema::attribute(changes, &touched)
        .into_iter()
        .map(|credited| CreditedChange {
            authors: credited
                .authors
                .iter()
                .filter_map(|k| k.parse::<usize>().ok().and_then(|i| everyone.get(i)))
                .cloned()
                .collect(),
            change: credited.change,
        })
        .collect();
    Ok(Diff {
        authors: everyone,
        changes,
    })
}

fn encode(doc: &Doc) -> Result<Vec<u8>, HistoryError> {
    client_protocol::apply::snapshot(doc)
        .map_err(|_| HistoryError::Rebuild("the version could not be encoded".into()))
}

impl History {
    /// History over `store`; background work (checkpoints) is tracked by `tracker`.
    pub fn new(store: Arc<dyn Store>, config: HistoryConfig) -> Self {
        History {
            store,
            config,
            cache: Mutex::default(),
        }
    }

    /// The store history reads.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// How history is kept.
    pub fn config(&self) -> &HistoryConfig {
        &self.config
    }

    /// The position of a board's newest log record (`None`: nothing stored).
    pub async fn head(&self, board: &BoardId) -> Result<Option<LogSeq>, HistoryError> {
        let newest = self
            .store
            .log(
                board,
                LogQuery {
                    limit: 1,
                    newest_first: true,
                    ..LogQuery::default()
                },
            )
            .await?;
        Ok(newest.first().map(|r| r.seq))
    }

    /// The board right after the record at `seq` (or the last record before it, if `seq` is
    /// not a record's position: retention merged it away).
    pub async fn version(
        &self,
        board: &BoardId,
        seq: LogSeq,
    ) -> Result<Arc<Version>, HistoryError> {
        if let Some(version) = self.cached(board, seq) {
            return Ok(version);
        }
        let started = Instant::now();
        let stored = self.store.load_at(board, seq).await?;
        let replayed = stored.updates.len();
        let version = tokio::task::spawn_blocking(move || -> Result<Version, HistoryError> {
            let doc = rebuild(&stored)?;
            let board = Board::read(&doc.transact());
            Ok(Version {
                seq,
                state: encode(&doc)?,
                board,
            })
        })
        .await
        .map_err(|e| HistoryError::Rebuild(e.to_string()))??;
        tracing::debug!(
            board = %board,
            seq,
            replayed,
            duration_ms = started.elapsed().as_millis() as u64,
            "version rebuilt"
        );
        let version = Arc::new(version);
        let mut cache = self.cache.lock().expect("version cache");
        cache.push_back((board.clone(), seq, version.clone()));
        while cache.len() > self.config.cached_versions {
            cache.pop_front();
        }
        Ok(version)
    }

    fn cached(&self, board: &BoardId, seq: LogSeq) -> Option<Arc<Version>> {
        let mut cache = self.cache.lock().expect("version cache");
        let at = cache.iter().position(|(b, s, _)| b == board && *s == seq)?;
        let entry = cache.remove(at)?;
        let version = entry.2.clone();
        cache.push_back(entry);
        Some(version)
    }

    /// Forgets every cached version of `board` (after it is deleted or its history thinned).
    pub fn forget(&self, board: &BoardId) {
        self.cache
            .lock()
            .expect("version cache")
            .retain(|(b, _, _)| b != board);
    }

    /// Which version `spec` names: a sequence number, an RFC 3339 time (the newest record at or
    /// before it), or a milestone's id or name.
    pub async fn resolve(&self, board: &BoardId, spec: &str) -> Result<LogSeq, HistoryError> {
        let unknown = || HistoryError::UnknownVersion(spec.to_owned());
        if let Ok(seq) = spec.parse::<LogSeq>() {
            return Ok(seq);
        }
        if let Ok(at_ms) = rfc3339_ms(spec) {
            // Newest first: a recent time reads only the records after it.
            let mut scan = NewestFirst::new(board, None, None);
            while let Some(records) = scan.next_chunk(self.store.as_ref()).await? {
                if let Some(found) = records.iter().find(|r| r.meta.time_ms <= at_ms) {
                    return Ok(found.seq);
                }
            }
            return Ok(0); // before the first record: the empty board
        }
        let milestones = self.store.milestones(board).await?;
        milestones
            .iter()
            .find(|m| m.id == spec)
            .or_else(|| milestones.iter().rev().find(|m| m.name == spec))
            .map(|m| m.seq)
            .ok_or_else(unknown)
    }

    /// The milestones of a board, oldest version first.
    pub async fn milestones(&self, board: &BoardId) -> Result<Vec<Milestone>, HistoryError> {
        Ok(self.store.milestones(board).await?)
    }

    /// Thins the history of `board` as the retention policy says, as of `now_ms`.
    pub async fn thin(&self, board: &BoardId, now_ms: u64) -> Result<Thinned, HistoryError> {
        let started = Instant::now();
        let thinned = retention::thin(
            self.store.as_ref(),
            board,
            &self.config.retention,
            self.config.checkpoint_every,
            now_ms,
        )
        .await?;
        if thinned != Thinned::default() {
            self.forget(board);
            tracing::info!(
                board = %board,
                merged_records = thinned.merged_records,
                summaries = thinned.summaries,
                checkpoints_dropped = thinned.checkpoints_dropped,
                duration_ms = started.elapsed().as_millis() as u64,
                "history thinned"
            );
        }
        Ok(thinned)
    }

    /// Thins every board's history, page by page of the board list, calling `progress` after
    /// each board. Errors on one board are logged and the run goes on.
    pub async fn thin_all(
        &self,
        now_ms: u64,
        mut progress: impl FnMut(&BoardId),
    ) -> Result<usize, HistoryError> {
        let mut after: Option<BoardId> = None;
        let mut boards = 0;
        loop {
            let page = self.store.list(after.as_ref(), 100).await?;
            let Some((last, _)) = page.last() else {
                return Ok(boards);
            };
            after = Some(last.clone());
            for (board, _) in &page {
                if let Err(error) = self.thin(board, now_ms).await {
                    tracing::error!(board = %board, %error, "history retention failed");
                }
                boards += 1;
                progress(board);
            }
        }
    }

    /// Runs retention over every board every [`HistoryConfig::retention_interval`] until
    /// `shutdown`.
    pub async fn retain_periodically(
        self: Arc<Self>,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let every = self.config.retention_interval;
        if every.is_zero() {
            return;
        }
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            match self.thin_all(now, |_| {}).await {
                Ok(boards) => tracing::debug!(boards, "history retention ran"),
                Err(error) => tracing::error!(%error, "history retention failed"),
            }
        }
    }

    /// What changed from one version to another, in board terms, each change credited to the
    /// authors of the records in between that touched it (replayed off the async workers).
    pub async fn diff(
        &self,
        board: &BoardId,
        from: &Version,
        to: &Version,
    ) -> Result<Diff, HistoryError> {
        let (early, late) = (from.seq.min(to.seq), from.seq.max(to.seq));
        let base = self.store.load_at(board, early).await?;
        let records = self
            .store
            .log(
                board,
                LogQuery {
                    after: Some(early),
                    through: Some(late),
                    with_updates: true,
                    ..LogQuery::default()
                },
            )
            .await?;
        let changes = schema::diff(&from.board, &to.board);
        let started = Instant::now();
        let replayed = records.len();
        let diff = tokio::task::spawn_blocking(move || credit(&base, &records, changes))
            .await
            .map_err(|e| HistoryError::Rebuild(e.to_string()))??;
        tracing::debug!(
            board = %board,
            from = from.seq,
            to = to.seq,
            replayed,
            duration_ms = started.elapsed().as_millis() as u64,
            "versions compared"
        );
        Ok(diff)
    }
}
