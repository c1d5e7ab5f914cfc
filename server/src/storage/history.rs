//! What the store keeps of a board's history besides its updates: who made each one and when,
//! and the versions people named.

use std::sync::Arc;

use client_protocol::access::{Actor, Role};
use serde::{Deserialize, Serialize};

use super::LogSeq;

/// Who made a change: a token's subject and display name (in open mode, the name the connection
/// declared, and an empty subject).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct Author {
    /// Stable participant id (the token's `sub`).
    pub sub: String,
    /// Display name.
    pub name: String,
}

impl Author {
    /// The author of what `actor` does.
    pub fn of(actor: &Actor) -> Self {
        Author {
            sub: actor.sub.clone(),
            name: actor.name.clone(),
        }
    }

    /// How the author is shown: the name, else the id, else "anonymous".
    pub fn label(&self) -> &str {
        match (self.name.as_str(), self.sub.as_str()) {
            ("", "") => "anonymous",
            ("", sub) => sub,
            (name, _) => name,
        }
    }
}

/// An update to append, and who made it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The update, lib0 v1: exactly what changed in the document.
    pub update: Vec<u8>,
    /// Who sent it (shared by every entry of one connection).
    pub actor: Arc<Actor>,
    /// The connection it came through (0 for the HTTP API and the server itself).
    pub conn: u64,
}

/// What history shows of one stored record: an update, or a summary of several that retention
/// merged.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateMeta {
    /// Server time when it was stored, ms since the Unix epoch (a summary: its last update's).
    pub time_ms: u64,
    /// When its first update was stored (equal to `time_ms` but for summaries).
    pub first_ms: u64,
    /// Who made it (a summary: everyone who made one of its updates).
    pub authors: Vec<Author>,
    /// The author's role (`None` for summaries and records stored before history existed).
    pub role: Option<String>,
    /// The connection it came through (`None` for summaries).
    pub conn: Option<u64>,
    /// Size of the stored update in bytes.
    pub bytes: u64,
    /// How many updates it stands for (1 but for summaries).
    pub updates: u64,
}

impl UpdateMeta {
    /// What is known of a record stored before the server kept metadata.
    pub fn unknown(bytes: u64) -> Self {
        UpdateMeta {
            time_ms: 0,
            first_ms: 0,
            authors: Vec::new(),
            role: None,
            conn: None,
            bytes,
            updates: 1,
        }
    }

    /// The role, parsed.
    pub fn role(&self) -> Option<Role> {
        self.role.as_deref().and_then(|r| r.parse().ok())
    }
}

/// One record of a board's log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRecord {
    /// Its position: the version of the board right after it.
    pub seq: LogSeq,
    /// Who made it and when.
    pub meta: UpdateMeta,
    /// The update itself, when asked for.
    #[serde(skip)]
    pub update: Option<Vec<u8>>,
}

/// Which log records [`super::Store::log`] returns.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// Only records after this position.
    pub after: Option<LogSeq>,
    /// Only records at or before this position.
    pub through: Option<LogSeq>,
    /// At most this many (0: no limit).
    pub limit: usize,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
    /// Include the updates' bytes, not just their metadata.
    pub with_updates: bool,
}

/// Why a version was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum MilestoneKind {
    /// Named by someone ("after Q3 workshop").
    Named,
    /// Taken automatically just before a restore in place.
    BeforeRestore,
    /// The version another board was forked from.
    Fork,
}

/// A named version of a board. Its version is pinned: retention always keeps it exact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Milestone {
    /// Stable id, unique on the board.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The version it names.
    pub seq: LogSeq,
    /// When it was named (ms since the Unix epoch).
    pub created_ms: u64,
    /// Who named it.
    pub created_by: Author,
    /// Why it exists.
    pub kind: MilestoneKind,
}
