//! The compact binary form of an update's metadata, as stored beside it (under 64 bytes with
//! its key for boards with ids of up to 32 characters). Authors are stored once per board and
//! referred to by index.
//!
//! | format | fields (lib0 varUints unless said)                                              |
//! |--------|--------------------------------------------------------------------------------|
//! | `1`    | time ms, role (one byte: index in `Role::ALL`), author index, connection, bytes |
//! | `2`    | time ms, first time ms, updates, author count, author indexes…, bytes          |

use client_protocol::access::Role;
use client_protocol::codec::{read_var, write_var};
use client_protocol::BoardId;

use super::history::{Author, UpdateMeta};

/// An update's metadata with authors as indexes into the board's author table.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Info {
    pub time_ms: u64,
    pub first_ms: u64,
    pub role: Option<Role>,
    pub conn: Option<u64>,
    pub authors: Vec<u32>,
    pub bytes: u64,
    pub updates: u64,
}

/// The metadata of an update of `bytes` bytes whose stored record is `raw` (unknown without
/// one), its authors looked up by index in the board's author table `authors` (an index the
/// table lacks is named `author #i`, and logged).
pub(super) fn meta_of(
    board: &BoardId,
    raw: Option<&[u8]>,
    bytes: u64,
    authors: &[Author],
) -> UpdateMeta {
    let Some(info) = raw.and_then(Info::decode) else {
        return UpdateMeta::unknown(bytes);
    };
    UpdateMeta {
        time_ms: info.time_ms,
        first_ms: info.first_ms,
        authors: info
            .authors
            .iter()
            .map(|i| {
                authors.get(*i as usize).cloned().unwrap_or_else(|| {
                    tracing::warn!(board = %board, index = i, "unknown author index");
                    Author {
                        sub: String::new(),
                        name: format!("author #{i}"),
                    }
                })
            })
            .collect(),
        role: info.role.map(|r| r.as_str().to_owned()),
        conn: info.conn,
        bytes: info.bytes,
        updates: info.updates,
    }
}

const SINGLE: u8 = 1;
const SUMMARY: u8 = 2;

impl Info {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        match (self.role, self.conn, self.authors.as_slice(), self.updates) {
            (Some(role), Some(conn), [author], 1) => {
                out.push(SINGLE);
                write_var(&mut out, self.time_ms);
                out.push(Role::ALL.iter().position(|r| *r == role).unwrap_or(0) as u8);
                write_var(&mut out, u64::from(*author));
                write_var(&mut out, conn);
            }
            _ => {
                out.push(SUMMARY);
                write_var(&mut out, self.time_ms);
                write_var(&mut out, self.first_ms);
                write_var(&mut out, self.updates);
                write_var(&mut out, self.authors.len() as u64);
                for author in &self.authors {
                    write_var(&mut out, u64::from(*author));
                }
            }
        }
        write_var(&mut out, self.bytes);
        out
    }

    /// A single update's record in two parts, before and after its author index, for a writer
    /// that learns the index only where it stores the record (the Redis store's append script
    /// numbers new authors atomically with the append). `None` for summaries.
    pub fn encode_around_author(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        let (Some(role), Some(conn), [_], 1) =
            (self.role, self.conn, self.authors.as_slice(), self.updates)
        else {
            return None;
        };
        let mut before = Vec::with_capacity(12);
        before.push(SINGLE);
        write_var(&mut before, self.time_ms);
        before.push(Role::ALL.iter().position(|r| *r == role).unwrap_or(0) as u8);
        let mut after = Vec::with_capacity(8);
        write_var(&mut after, conn);
        write_var(&mut after, self.bytes);
        Some((before, after))
    }

    pub fn decode(mut raw: &[u8]) -> Option<Info> {
        let buf = &mut raw;
        let (&format, rest) = buf.split_first()?;
        *buf = rest;
        let info = match format {
            SINGLE => {
                let time_ms = read_var(buf)?;
                let (&role, rest) = buf.split_first()?;
                *buf = rest;
                let author = u32::try_from(read_var(buf)?).ok()?;
                let conn = read_var(buf)?;
                Info {
                    time_ms,
                    first_ms: time_ms,
                    role: Some(*Role::ALL.get(usize::from(role))?),
                    conn: Some(conn),
                    authors: vec![author],
                    bytes: read_var(buf)?,
                    updates: 1,
                }
            }
            SUMMARY => {
                let time_ms = read_var(buf)?;
                let first_ms = read_var(buf)?;
                let updates = read_var(buf)?;
                let count = read_var(buf)?;
                let authors = (0..count)
                    .map(|_| read_var(buf).and_then(|a| u32::try_from(a).ok()))
                    .collect::<Option<Vec<_>>>()?;
                Info {
                    time_ms,
                    first_ms,
                    role: None,
                    conn: None,
                    authors,
                    bytes: read_var(buf)?,
                    updates,
                }
            }
            _ => return None,
        };
        Some(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_update_record_round_trips_in_a_few_bytes() {
        let info = Info {
            time_ms: 1_790_000_000_000,
            first_ms: 1_790_000_000_000,
            role: Some(Role::Participant),
            conn: Some(12345),
            authors: vec![3],
            bytes: 180,
            updates: 1,
        };
        let raw = info.encode();
        assert!(raw.len() <= 16, "{} bytes", raw.len());
        assert_eq!(Info::decode(&raw), Some(info));
    }

    #[test]
    fn a_record_split_around_its_author_is_the_record_with_the_index_between() {
        let info = Info {
            time_ms: 1_790_000_000_000,
            first_ms: 1_790_000_000_000,
            role: Some(Role::Facilitator),
            conn: Some(300),
            authors: vec![200],
            bytes: 70_000,
            updates: 1,
        };
        let (before, after) = info.encode_around_author().unwrap();
        let mut joined = before;
        write_var(&mut joined, 200);
        joined.extend_from_slice(&after);
        assert_eq!(joined, info.encode());
    }

    #[test]
    fn a_summary_record_round_trips_with_all_its_authors() {
        let info = Info {
            time_ms: 2_000,
            first_ms: 1_000,
            role: None,
            conn: None,
            authors: vec![0, 4, 9],
            bytes: 5_000,
            updates: 120,
        };
        assert_eq!(Info::decode(&info.encode()), Some(info));
    }

    #[test]
    fn a_truncated_record_is_refused() {
        let raw = Info {
            time_ms: 5,
            first_ms: 5,
            role: Some(Role::Owner),
            conn: Some(1),
            authors: vec![0],
            bytes: 1,
            updates: 1,
        }
        .encode();
        assert_eq!(Info::decode(&raw[..raw.len() - 1]), None);
        assert_eq!(Info::decode(&[9]), None);
    }
}
