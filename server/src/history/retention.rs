//! Retention: old history is thinned into summaries that still rebuild the board exactly at
//! each summary's end.
//!
//! Records younger than [`RetentionPolicy::every_update_for`] are all kept. Older ones are merged
//! per hour, and those older than `every_update_for + hourly_for` per day (UTC). A summary is
//! the merged Yjs update of the records it replaces ([`yrs::merge_updates_v1`]): applied after
//! the version before it, it gives exactly the version after its last record. Groups never span
//! a checkpoint or a milestone (a pinned version): those positions stay exact versions forever.
//! Checkpoints in thinned history that are no longer needed to keep every rebuild within
//! [`super::HistoryConfig::checkpoint_every`] records are dropped.
//!
//! Every step is crash-safe (see [`crate::storage::Store::summarize`]): `kill -9` at any
//! moment leaves every kept version exact, and running again finishes the job.

use std::collections::{BTreeSet, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use client_protocol::BoardId;

use super::HistoryError;
use crate::storage::{LogQuery, LogRecord, LogSeq, Store, UpdateMeta};

const HOUR_MS: u64 = 3600 * 1000;
const DAY_MS: u64 = 24 * HOUR_MS;

/// What is kept of old history.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionPolicy {
    /// Every update is kept for this long.
    pub every_update_for: Duration,
    /// Then hourly summaries for this long; daily summaries after that.
    pub hourly_for: Duration,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            every_update_for: Duration::from_secs(30 * 24 * 3600),
            hourly_for: Duration::from_secs(60 * 24 * 3600),
        }
    }
}

impl RetentionPolicy {
    /// Every update for `every_update_days`, then hourly summaries for `hourly_days`.
    pub fn days(every_update_days: u64, hourly_days: u64) -> Self {
        RetentionPolicy {
            every_update_for: Duration::from_secs(every_update_days * 86400),
            hourly_for: Duration::from_secs(hourly_days * 86400),
        }
    }

    /// The summary bucket a record stored at `time_ms` falls in at `now_ms`: `None` while every
    /// update is kept.
    fn bucket(&self, time_ms: u64, now_ms: u64) -> Option<(u64, u64)> {
        let age = now_ms.saturating_sub(time_ms);
        let all = self.every_update_for.as_millis() as u64;
        let hourly = all + self.hourly_for.as_millis() as u64;
        if age <= all {
            None
        } else if age <= hourly {
            Some((HOUR_MS, time_ms / HOUR_MS))
        } else {
            Some((DAY_MS, time_ms / DAY_MS))
        }
    }
}

/// What one retention run did to a board.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thinned {
    /// Records replaced by summaries.
    pub merged_records: usize,
    /// Summaries written.
    pub summaries: usize,
    /// Checkpoints dropped.
    pub checkpoints_dropped: usize,
}

/// Groups of consecutive records to merge: same bucket, never across a pinned position.
fn plan(
    records: &[LogRecord],
    pinned: &HashSet<LogSeq>,
    policy: &RetentionPolicy,
    now_ms: u64,
) -> Vec<Vec<LogSeq>> {
    let mut groups: Vec<Vec<LogSeq>> = Vec::new();
    let mut current: Vec<LogSeq> = Vec::new();
    let mut current_bucket = None;
    for record in records {
        let bucket = policy.bucket(record.meta.time_ms, now_ms);
        if bucket.is_none() || bucket != current_bucket {
            if current.len() > 1 {
                groups.push(std::mem::take(&mut current));
            }
            current.clear();
        }
        current_bucket = bucket;
        if bucket.is_some() {
            current.push(record.seq);
            if pinned.contains(&record.seq) {
                // The version right after a pinned record stays exact: the group ends here.
                if current.len() > 1 {
                    groups.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    if current.len() > 1 {
        groups.push(current);
    }
    groups
}

/// Thins the history of `board` as `policy` says, as of `now_ms`.
pub async fn thin(
    store: &dyn Store,
    board: &BoardId,
    policy: &RetentionPolicy,
    checkpoint_every: usize,
    now_ms: u64,
) -> Result<Thinned, HistoryError> {
    let mut thinned = Thinned::default();
    let records = store.log(board, LogQuery::default()).await?;
    let checkpoints = store.checkpoints(board).await?;
    let mut pinned: HashSet<LogSeq> = checkpoints.iter().copied().collect();
    pinned.extend(store.milestones(board).await?.iter().map(|m| m.seq));
    for group in plan(&records, &pinned, policy, now_ms) {
        let (first, last) = (group[0], *group.last().expect("groups hold two or more"));
        let parts = store
            .log(
                board,
                LogQuery {
                    after: first.checked_sub(1),
                    through: Some(last),
                    with_updates: true,
                    ..LogQuery::default()
                },
            )
            .await?;
        let updates: Vec<&[u8]> = parts.iter().filter_map(|r| r.update.as_deref()).collect();
        let merged = catch_unwind(AssertUnwindSafe(|| yrs::merge_updates_v1(&updates)));
        let Ok(Ok(merged)) = merged else {
            tracing::warn!(board = %board, first, last, "records could not be merged; kept as they are");
            continue;
        };
        let authors: BTreeSet<_> = parts
            .iter()
            .flat_map(|r| r.meta.authors.iter().cloned())
            .collect();
        let meta = UpdateMeta {
            time_ms: parts.iter().map(|r| r.meta.time_ms).max().unwrap_or(0),
            first_ms: parts.iter().map(|r| r.meta.first_ms).min().unwrap_or(0),
            authors: authors.into_iter().collect(),
            role: None,
            conn: None,
            bytes: merged.len() as u64,
            updates: parts.iter().map(|r| r.meta.updates).sum(),
        };
        let seqs: Vec<LogSeq> = parts.iter().map(|r| r.seq).collect();
        store.summarize(board, &seqs, merged, meta).await?;
        thinned.merged_records += seqs.len();
        thinned.summaries += 1;
    }
    thinned.checkpoints_dropped =
        drop_checkpoints(store, board, policy, checkpoint_every, now_ms, &checkpoints).await?;
    Ok(thinned)
}

/// Drops checkpoints in thinned history while every rebuild still starts within
/// `checkpoint_every` records of one. The newest checkpoint always stays.
async fn drop_checkpoints(
    store: &dyn Store,
    board: &BoardId,
    policy: &RetentionPolicy,
    checkpoint_every: usize,
    now_ms: u64,
    checkpoints: &[LogSeq],
) -> Result<usize, HistoryError> {
    if checkpoints.len() < 2 {
        return Ok(0);
    }
    let records = store.log(board, LogQuery::default()).await?;
    let time_of = |seq: LogSeq| {
        records
            .iter()
            .find(|r| r.seq >= seq)
            .map_or(now_ms, |r| r.meta.time_ms)
    };
    let records_between = |after: Option<LogSeq>, through: LogSeq| {
        records
            .iter()
            .filter(|r| r.seq <= through && after.is_none_or(|a| r.seq > a))
            .count()
    };
    let mut dropped = 0;
    let mut kept: Option<LogSeq> = None;
    for pair in checkpoints.windows(2) {
        let (this, next) = (pair[0], pair[1]);
        let old = policy.bucket(time_of(this), now_ms).is_some();
        if old && records_between(kept, next) <= checkpoint_every {
            store.remove_checkpoint(board, this).await?;
            dropped += 1;
        } else {
            kept = Some(this);
        }
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Author;

    fn record(seq: LogSeq, time_ms: u64) -> LogRecord {
        LogRecord {
            seq,
            meta: UpdateMeta {
                time_ms,
                first_ms: time_ms,
                authors: vec![Author {
                    sub: "a".into(),
                    name: "a".into(),
                }],
                ..UpdateMeta::unknown(1)
            },
            update: None,
        }
    }

    fn policy() -> RetentionPolicy {
        RetentionPolicy {
            every_update_for: Duration::from_secs(10 * 86400),
            hourly_for: Duration::from_secs(10 * 86400),
        }
    }

    #[test]
    fn recent_records_are_all_kept() {
        let now = 100 * DAY_MS;
        let records: Vec<_> = (1..5).map(|i| record(i, now - i * 1000)).collect();
        assert!(plan(&records, &HashSet::new(), &policy(), now).is_empty());
    }

    #[test]
    fn old_records_merge_by_hour_then_by_day() {
        let now = 100 * DAY_MS;
        let hourly = now - 15 * DAY_MS;
        let daily = now - 50 * DAY_MS;
        let records = vec![
            record(1, daily),
            record(2, daily + 2 * HOUR_MS),
            record(3, hourly),
            record(4, hourly + 60_000),
            record(5, hourly + HOUR_MS),
            record(6, now - 1000),
        ];
        let groups = plan(&records, &HashSet::new(), &policy(), now);
        assert_eq!(groups, vec![vec![1, 2], vec![3, 4]]);
    }

    #[test]
    fn a_group_never_spans_a_pinned_version() {
        let now = 100 * DAY_MS;
        let old = now - 15 * DAY_MS;
        let records: Vec<_> = (1..=5).map(|i| record(i, old + i)).collect();
        let pinned = HashSet::from([2]);
        let groups = plan(&records, &pinned, &policy(), now);
        assert_eq!(groups, vec![vec![1, 2], vec![3, 4, 5]]);
    }
}
