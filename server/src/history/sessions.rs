//! Work sessions: a board's history grouped the way a committee remembers it ("the Tuesday
//! workshop"), as runs of records with no pause longer than [`SESSION_GAP_MS`] between them.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::storage::{Author, LogRecord, LogSeq};

/// A pause this long (30 minutes) between two records starts a new session.
pub const SESSION_GAP_MS: u64 = 30 * 60 * 1000;

/// A run of records with no long pause.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The version before the session (the last record before it; 0 if none).
    pub before: LogSeq,
    /// The version after it (its last record).
    pub after: LogSeq,
    /// When its first update was stored (ms since the Unix epoch).
    pub start_ms: u64,
    /// When its last update was stored.
    pub end_ms: u64,
    /// Updates it holds.
    pub updates: u64,
    /// Everyone who made one of them.
    pub authors: Vec<Author>,
}

/// Groups `records` (oldest first) into sessions, oldest first.
pub fn sessions(records: &[LogRecord], before_first: LogSeq) -> Vec<Session> {
    let mut sessions: Vec<Session> = Vec::new();
    let mut authors: BTreeSet<Author> = BTreeSet::new();
    let mut previous = before_first;
    for record in records {
        let meta = &record.meta;
        let continues = sessions
            .last()
            .is_some_and(|s| meta.first_ms.saturating_sub(s.end_ms) <= SESSION_GAP_MS);
        if !continues {
            if let Some(last) = sessions.last_mut() {
                last.authors = std::mem::take(&mut authors).into_iter().collect();
            }
            sessions.push(Session {
                before: previous,
                after: record.seq,
                start_ms: meta.first_ms,
                end_ms: meta.time_ms,
                updates: 0,
                authors: Vec::new(),
            });
        }
        let session = sessions.last_mut().expect("pushed above");
        session.after = record.seq;
        session.end_ms = session.end_ms.max(meta.time_ms);
        session.updates += meta.updates;
        authors.extend(meta.authors.iter().cloned());
        previous = record.seq;
    }
    if let Some(last) = sessions.last_mut() {
        last.authors = authors.into_iter().collect();
    }
    sessions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::UpdateMeta;

    fn record(seq: LogSeq, minute: u64, who: &str) -> LogRecord {
        let ms = minute * 60_000;
        LogRecord {
            seq,
            meta: UpdateMeta {
                time_ms: ms,
                first_ms: ms,
                authors: vec![Author {
                    sub: who.into(),
                    name: who.into(),
                }],
                ..UpdateMeta::unknown(1)
            },
            update: None,
        }
    }

    #[test]
    fn a_long_pause_starts_a_new_session() {
        let records = [
            record(1, 0, "ana"),
            record(2, 10, "bo"),
            record(3, 20, "ana"),
            record(4, 120, "cy"),
        ];
        let found = sessions(&records, 0);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].before, found[0].after), (0, 3));
        assert_eq!(found[0].updates, 3);
        assert_eq!(found[0].authors.len(), 2);
        assert_eq!((found[1].before, found[1].after), (3, 4));
        assert_eq!(found[1].authors[0].name, "cy");
    }
}
