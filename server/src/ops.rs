//! Operator tools on a data directory (the server must not be running on it: sled locks it):
//! `parcours fsck` checks that every stored board loads, `parcours backup` exports every board to
//! one file, `parcours restore` imports such a file.
//!
//! A backup is JSON Lines, one board per line: `{"board": id, "createdMs": …, "update": base64,
//! "salvaged": bool}`, where `update` is the whole board as one lib0 v1 update. A corrupt board is
//! salvaged: every stored record that can still be read is kept, the others are skipped and
//! reported, and the line says `"salvaged": true`. Restoring appends each update to its
//! board's log, so restoring into a directory that already holds the board merges the two (CRDT
//! updates are idempotent) instead of overwriting anything.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use client_protocol::access::{Actor, Role};
use client_protocol::apply::{apply_update, snapshot};
use client_protocol::schema::Board;
use client_protocol::BoardId;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use yrs::{Doc, Transact};

use crate::history::{History, HistoryConfig};
use crate::storage::{Entry, SledStore, Store, StoreError};

/// What `fsck` found for one board.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BoardCheck {
    /// The board.
    pub board: String,
    /// `ok` or `corrupt`.
    pub status: &'static str,
    /// Size of the stored snapshot in bytes.
    pub snapshot_bytes: u64,
    /// Updates in the log after the snapshot.
    pub log_updates: usize,
    /// Bytes of those updates.
    pub log_bytes: u64,
    /// Cards on the board (when it loads).
    pub cards: usize,
    /// Its title (when it loads).
    pub title: String,
    /// What is wrong, for a corrupt board.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Stored records (snapshot and log updates) that could not be read.
    pub unreadable_records: usize,
}

/// One board in a backup file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BackupRecord {
    board: String,
    created_ms: u64,
    update: String,
    /// Whether records were skipped because they could not be read.
    #[serde(default)]
    salvaged: bool,
}

fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    // The bar draws on stderr, and hides itself when stderr is not a terminal.
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} boards ({eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Rebuilds a board from storage, as the server would when loading it, salvaging what can be read
/// of a corrupt one: records that do not apply are skipped and counted. `None` for the document
/// when not even the records could be listed.
async fn rebuild(store: &SledStore, board: &BoardId) -> (Option<Doc>, BoardCheck) {
    let mut check = BoardCheck {
        board: board.to_string(),
        status: "ok",
        snapshot_bytes: 0,
        log_updates: 0,
        log_bytes: 0,
        cards: 0,
        title: String::new(),
        problem: None,
        unreadable_records: 0,
    };
    let stored = match store.load(board).await {
        Ok(stored) => stored,
        Err(StoreError::Corrupt { reason, .. }) => {
            // The snapshot record is unreadable: salvage the log alone.
            check.status = "corrupt";
            check.problem = Some(format!("unreadable snapshot: {reason}"));
            check.unreadable_records = 1;
            match store.load_log_only(board).await {
                Ok(stored) => stored,
                Err(e) => {
                    check.problem = Some(e.to_string());
                    return (None, check);
                }
            }
        }
        Err(e) => {
            check.status = "corrupt";
            check.problem = Some(e.to_string());
            return (None, check);
        }
    };
    check.snapshot_bytes = stored.snapshot.as_ref().map_or(0, |s| s.len() as u64);
    check.log_updates = stored.updates.len();
    check.log_bytes = stored.log_bytes();
    let doc = Doc::new();
    let mut stored = stored;
    if let Some(snapshot) = stored.snapshot.take() {
        let readable = matches!(
            apply_update(&doc, &snapshot),
            Ok(applied) if applied.rejected.is_none() && !applied.missing_predecessors
        );
        if !readable {
            // The snapshot is lost, and with it what it covered; the log entries it covered may
            // still be there (their deletion is the last step of a checkpoint): use them all.
            check.status = "corrupt";
            check.unreadable_records += 1;
            check.problem = Some("the snapshot record does not apply".into());
            if let Ok(log) = store.load_log_only(board).await {
                stored.updates = log.updates;
            }
        }
    }
    for (i, bytes) in stored.updates.iter().enumerate() {
        let problem = match apply_update(&doc, bytes) {
            Ok(applied) if applied.rejected.is_none() && !applied.missing_predecessors => continue,
            Ok(applied) => applied
                .rejected
                .unwrap_or_else(|| "it does not continue its clients' sequences".into()),
            Err(e) => e.to_string(),
        };
        check.status = "corrupt";
        check.unreadable_records += 1;
        check
            .problem
            .get_or_insert_with(|| format!("log record {i} does not apply: {problem}"));
    }
    let view = Board::read(&doc.transact());
    check.cards = view.cards.len();
    check.title = view.meta.title;
    (Some(doc), check)
}

/// Checks that every stored board loads. Returns one report per board.
pub async fn fsck(store: &SledStore) -> Result<Vec<BoardCheck>, StoreError> {
    let boards = store.board_ids()?;
    let bar = progress(boards.len() as u64, "checking");
    let mut checks = Vec::with_capacity(boards.len());
    for board in boards {
        let (_, check) = rebuild(store, &board).await;
        if check.status != "ok" {
            bar.suspend(
                || tracing::warn!(board = %board, problem = ?check.problem, "corrupt board"),
            );
        }
        checks.push(check);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(checks)
}

/// Writes every board to `out`, salvaging what can be read of corrupt ones; returns the checks.
pub async fn backup(store: &SledStore, out: &mut impl Write) -> anyhow::Result<Vec<BoardCheck>> {
    let boards = store.board_ids()?;
    let bar = progress(boards.len() as u64, "backing up");
    let mut checks = Vec::with_capacity(boards.len());
    for board in boards {
        let (doc, check) = rebuild(store, &board).await;
        if let Some(doc) = doc {
            let state = snapshot(&doc).map_err(|e| anyhow::anyhow!("{board}: {e}"))?;
            let record = BackupRecord {
                board: board.to_string(),
                created_ms: store
                    .board_meta(&board)?
                    .map_or(0, |record| record.created_ms),
                update: base64::engine::general_purpose::STANDARD.encode(state),
                salvaged: check.unreadable_records > 0,
            };
            serde_json::to_writer(&mut *out, &record)?;
            out.write_all(b"\n")?;
        }
        checks.push(check);
        bar.inc(1);
    }
    out.flush()?;
    bar.finish_and_clear();
    Ok(checks)
}

/// Imports a backup into `store`, merging with boards already there. Returns the boards restored.
pub async fn restore(store: &SledStore, input: impl BufRead, lines: u64) -> anyhow::Result<usize> {
    let bar = progress(lines, "restoring");
    let mut restored = 0;
    // History names the backup as the author of what it brings back.
    let restorer = Arc::new(Actor {
        role: Role::Owner,
        sub: "backup".into(),
        name: "parcours restore".into(),
    });
    for (n, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let record: BackupRecord = serde_json::from_str(&line)
            .map_err(|e| anyhow::anyhow!("line {}: not a backup record: {e}", n + 1))?;
        let board =
            BoardId::parse(&record.board).map_err(|e| anyhow::anyhow!("line {}: {e}", n + 1))?;
        let update = base64::engine::general_purpose::STANDARD
            .decode(&record.update)
            .map_err(|e| anyhow::anyhow!("line {}: {e}", n + 1))?;
        // Refuse what the server itself would refuse, before it is stored.
        let check = Doc::new();
        let applied = apply_update(&check, &update)
            .map_err(|e| anyhow::anyhow!("line {} ({board}): {e}", n + 1))?;
        if let Some(why) = applied.rejected {
            anyhow::bail!("line {} ({board}): the board does not apply: {why}", n + 1);
        }
        let entry = Entry {
            update,
            actor: restorer.clone(),
            conn: 0,
        };
        store.append(&board, &[entry]).await?;
        restored += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(restored)
}

/// Thins the history of every board of a stopped server's store as `config` says, as of
/// `now_ms` (normally now; later to see what retention will do). Returns the boards visited.
pub async fn thin(store: SledStore, config: HistoryConfig, now_ms: u64) -> anyhow::Result<usize> {
    let boards = store.board_ids()?.len() as u64;
    let history = History::new(Arc::new(store), config);
    let bar = progress(boards, "thinning history");
    let visited = history.thin_all(now_ms, |_| bar.inc(1)).await?;
    bar.finish_and_clear();
    Ok(visited)
}
