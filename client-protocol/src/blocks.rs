//! The structure of a lib0 v1 document update, read without yrs.
//!
//! [`parse`] walks an update exactly as yrs's decoder will and refuses what could make yrs
//! misbehave (counts larger than the bytes present, client ids wider than 53 bits, clocks that
//! overflow 32 bits, values nested deeper than [`MAX_ANY_DEPTH`](crate::codec::MAX_ANY_DEPTH)).
//! On the way it records every block: its id and length, its neighbours at creation, its parent
//! and key when they are written out, what kind of content it holds, and its bytes. The server
//! uses that to see what an update would change before applying it ([`crate::inspect`]), and to
//! rebuild an update with some of its blocks replaced by empty placeholders ([`Blocks::encode`]).

use std::collections::HashMap;

use yrs::any::Any;
use yrs::encoding::read::Cursor;

use crate::codec::{malformed, write_var, DecodeError, Reader, MAX_ANY_DEPTH};

/// An item id: `(client, clock)`.
pub type Id = (u64, u32);

/// A range of clocks of one client: `(client, first clock, length)`.
pub type Range = (u64, u32, u32);

/// Where an item's parent is written out (only items created with neither neighbour carry it;
/// the others share the parent of their neighbour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Parent<'a> {
    /// A root type, by name (`doc.getMap("cards")`).
    Root(&'a str),
    /// The nested type created by the item with this id.
    Branch(Id),
}

/// What an item holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content<'a> {
    /// Content that was deleted before the update was encoded.
    Deleted,
    /// A nested shared type (Y.Map, Y.Array, Y.Text, XML…), by its type ref.
    Type(u8),
    /// `len` lib0 `Any` values; `first` holds the encoding of the first one.
    Values {
        /// The bytes of the first value.
        first: &'a [u8],
    },
    /// Text characters.
    String(&'a str),
    /// Binary data, an embed, a formatting mark or a subdocument.
    Other,
}

impl Content<'_> {
    /// The first value of [`Content::Values`], decoded; `None` for other content.
    pub fn value(&self) -> Option<Any> {
        match self {
            Content::Values { first } => Any::decode(&mut Cursor::new(first)).ok(),
            _ => None,
        }
    }
}

/// An item: a piece of content inserted somewhere in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    /// The item to its left when it was created.
    pub origin: Option<Id>,
    /// The item to its right when it was created.
    pub right_origin: Option<Id>,
    /// Its parent, when written out (neither origin is set).
    pub parent: Option<Parent<'a>>,
    /// Its key in a map parent, when written out; `None` in a sequence (or when inherited).
    pub key: Option<&'a str>,
    /// What it holds.
    pub content: Content<'a>,
}

/// What a block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind<'a> {
    /// Garbage-collected: content and place are gone, only the clocks remain.
    Gc,
    /// A gap the encoder knows about (never produced by an honest sync).
    Skip,
    /// Content.
    Item(Item<'a>),
}

/// One block of an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    /// Its first id.
    pub id: Id,
    /// How many clocks it spans.
    pub len: u32,
    /// What it is.
    pub kind: BlockKind<'a>,
    /// Its encoding inside the update.
    pub bytes: &'a [u8],
    /// Where its content starts within `bytes` (after its info byte, neighbours, parent and
    /// key).
    pub content_at: usize,
}

/// What [`Blocks::encode`] writes for a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrite {
    /// The block as it came.
    Keep,
    /// A garbage-collected block of the same length: clocks kept, content and place dropped.
    Placeholder,
    /// The same item with its content deleted: clocks and place kept, content dropped. Later
    /// items placed next to it land where they would have.
    Tombstone,
}

impl Block<'_> {
    /// Whether the block spans `id`.
    pub fn contains(&self, id: Id) -> bool {
        self.id.0 == id.0 && self.id.1 <= id.1 && id.1 - self.id.1 < self.len
    }
}

/// Every block and deleted range of an update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blocks<'a> {
    /// Blocks, client section by client section, in clock order within a section.
    pub blocks: Vec<Block<'a>>,
    /// The deleted ranges.
    pub deleted: Vec<Range>,
    /// Where each client's (first) section is in `blocks`: `client → (start, end)`.
    sections: HashMap<u64, (usize, usize)>,
}

impl<'a> Blocks<'a> {
    /// `(client, first clock, whether the section holds Skip blocks)` for each client section:
    /// what [`crate::apply`] compares with a document's state vector to tell whether the update
    /// continues each client's sequence.
    pub fn sections(&self) -> Vec<(u64, u32, bool)> {
        let mut sections: Vec<(u64, u32, bool)> = Vec::new();
        for block in &self.blocks {
            let skip = block.kind == BlockKind::Skip;
            match sections.last_mut() {
                Some(last) if last.0 == block.id.0 => last.2 |= skip,
                _ => sections.push((block.id.0, block.id.1, skip)),
            }
        }
        sections
    }

    /// The block spanning `id`, if the update has it.
    pub fn find(&self, id: Id) -> Option<(usize, &Block<'a>)> {
        // Sections are in no particular client order, but clocks rise within one: find the
        // section, then search it.
        let &(start, end) = self.sections.get(&id.0)?;
        let section = &self.blocks[start..end];
        let at = section.partition_point(|b| b.id.1 + b.len <= id.1);
        section
            .get(at)
            .filter(|b| b.contains(id))
            .map(|b| (start + at, b))
    }

    /// The update again, each block rewritten as `rewrite` says (by index), with `deleted` as
    /// its delete set.
    pub fn encode(&self, rewrite: impl Fn(usize) -> Rewrite, deleted: &[Range]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut sections: Vec<(usize, usize)> = Vec::new();
        for (i, block) in self.blocks.iter().enumerate() {
            match sections.last_mut() {
                Some(last) if self.blocks[last.0].id.0 == block.id.0 => last.1 = i + 1,
                _ => sections.push((i, i + 1)),
            }
        }
        write_var(&mut out, sections.len() as u64);
        for &(start, end) in &sections {
            write_var(&mut out, (end - start) as u64);
            write_var(&mut out, self.blocks[start].id.0);
            write_var(&mut out, u64::from(self.blocks[start].id.1));
            for (i, block) in self.blocks[start..end].iter().enumerate() {
                match (rewrite(start + i), block.kind) {
                    (Rewrite::Placeholder, _) => {
                        out.push(GC);
                        write_var(&mut out, u64::from(block.len));
                    }
                    (Rewrite::Tombstone, BlockKind::Item(_)) => {
                        out.push(block.bytes[0] & !0b1111 | DELETED);
                        out.extend_from_slice(&block.bytes[1..block.content_at]);
                        write_var(&mut out, u64::from(block.len));
                    }
                    _ => out.extend_from_slice(block.bytes),
                }
            }
        }
        let mut by_client: Vec<(u64, Vec<(u32, u32)>)> = Vec::new();
        for range in deleted {
            match by_client.iter_mut().find(|(c, _)| *c == range.0) {
                Some((_, ranges)) => ranges.push((range.1, range.2)),
                None => by_client.push((range.0, vec![(range.1, range.2)])),
            }
        }
        write_var(&mut out, by_client.len() as u64);
        for (client, ranges) in by_client {
            write_var(&mut out, client);
            write_var(&mut out, ranges.len() as u64);
            for (clock, len) in ranges {
                write_var(&mut out, u64::from(clock));
                write_var(&mut out, u64::from(len));
            }
        }
        out
    }
}

/// An update that only deletes `ranges`: what the server sends a participant to take back the
/// content it refused from them.
pub fn encode_deletions(ranges: &[Range]) -> Vec<u8> {
    Blocks::default().encode(|_| Rewrite::Keep, ranges)
}

const SKIP: u8 = 10;
const DELETED: u8 = 1;
const GC: u8 = 0;
const HAS_ORIGIN: u8 = 0b1000_0000;
const HAS_RIGHT_ORIGIN: u8 = 0b0100_0000;
const HAS_PARENT_SUB: u8 = 0b0010_0000;

/// Walks a lib0 v1 update and records its structure (see the module documentation).
pub fn parse(bytes: &[u8]) -> Result<Blocks<'_>, DecodeError> {
    let mut parsed = Blocks::default();
    let mut r = Reader::new(bytes);
    let clients = r.count("update client count", 3)?;
    for _ in 0..clients {
        let blocks = r.count("update block count", 1)?;
        let client = r.client_id("update block client")?;
        let first = parsed.blocks.len();
        let mut clock = u64::from(r.var_u32("update block clock")?);
        for _ in 0..blocks {
            let start = r.position();
            let (len, kind, content_at) = parse_block(&mut r)?;
            if clock + len > u64::from(u32::MAX) {
                return Err(malformed("update", "block clocks overflow 32 bits"));
            }
            parsed.blocks.push(Block {
                id: (client, clock as u32),
                len: len as u32,
                kind,
                bytes: r.since(start),
                content_at: content_at - start,
            });
            clock += len;
        }
        if blocks == 0 {
            continue;
        }
        // Yjs writes each client once. yrs reads a repeated client as a second run of blocks
        // with a gap before it, which would slip past the check that updates continue their
        // clients' sequences.
        if parsed
            .sections
            .insert(client, (first, parsed.blocks.len()))
            .is_some()
        {
            return Err(malformed("update", "a client appears twice in one update"));
        }
    }
    let ds_clients = r.count("delete set client count", 2)?;
    for _ in 0..ds_clients {
        let client = r.client_id("delete set client")?;
        let ranges = r.count("delete set range count", 2)?;
        for _ in 0..ranges {
            let clock = r.var_u32("delete set clock")?;
            let len = r.var_u32("delete set length")?;
            if clock.checked_add(len).is_none() {
                return Err(malformed("update", "a deleted range overflows 32 bits"));
            }
            if len > 0 {
                parsed.deleted.push((client, clock, len));
            }
        }
    }
    Ok(parsed)
}

fn id(r: &mut Reader<'_>, what: &'static str) -> Result<Id, DecodeError> {
    Ok((r.client_id(what)?, r.var_u32(what)?))
}

/// Reads one block; returns its length in clock units, what it is, and where its content starts.
fn parse_block<'a>(r: &mut Reader<'a>) -> Result<(u64, BlockKind<'a>, usize), DecodeError> {
    let info = r.u8("block info")?;
    if info == SKIP || info == GC {
        let len = r.var_u32("block length")?;
        if len == 0 {
            return Err(malformed("update", "empty block"));
        }
        let kind = if info == SKIP {
            BlockKind::Skip
        } else {
            BlockKind::Gc
        };
        return Ok((u64::from(len), kind, r.position()));
    }
    let origin = (info & HAS_ORIGIN != 0)
        .then(|| id(r, "origin"))
        .transpose()?;
    let right_origin = (info & HAS_RIGHT_ORIGIN != 0)
        .then(|| id(r, "right origin"))
        .transpose()?;
    let (mut parent, mut key) = (None, None);
    if info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0 {
        parent = Some(if r.var_u64("parent info")? == 1 {
            Parent::Root(r.string("parent name")?)
        } else {
            Parent::Branch(id(r, "parent")?)
        });
        if info & HAS_PARENT_SUB != 0 {
            key = Some(r.string("parent key")?);
        }
    }
    let content_at = r.position();
    let (len, content) = match info & 0b1111 {
        1 => (u64::from(r.var_u32("deleted length")?), Content::Deleted),
        // Legacy JSON content. Yjs has written values as `Any` content since v13 and yrs never
        // creates it, while yrs 0.28 decodes it reading one string more than its encoder writes:
        // a board holding it would store snapshots that cannot be read back. Refused.
        2 => {
            return Err(malformed(
                "update",
                "legacy JSON content (type 2) is not accepted; use Any content",
            ))
        }
        3 => {
            r.var_buf("binary")?;
            (1, Content::Other)
        }
        // A string's length counts UTF-16 code units.
        4 => {
            let s = r.string("string")?;
            (s.encode_utf16().count() as u64, Content::String(s))
        }
        5 => {
            r.string("embed")?;
            (1, Content::Other)
        }
        6 => {
            r.string("format key")?;
            r.string("format value")?;
            (1, Content::Other)
        }
        7 => {
            let type_ref = r.u8("type ref")?;
            match type_ref {
                0..=2 | 4..=6 | 9 | 15 => {}
                3 => {
                    r.string("xml element name")?;
                }
                other => return Err(malformed("update", format!("unknown type ref {other}"))),
            }
            (1, Content::Type(type_ref))
        }
        8 => {
            let count = r.count("any count", 1)?;
            let start = r.position();
            let mut first = &[][..];
            for i in 0..count {
                scan_any(r, 0)?;
                if i == 0 {
                    first = r.since(start);
                }
            }
            if count == 0 {
                return Err(malformed("update", "empty value content"));
            }
            (count, Content::Values { first })
        }
        // A subdocument. Boards have none, y-websocket syncs subdocuments over connections of
        // their own, and yrs 0.28 leaks the memory of every subdocument it decodes (found by the
        // board_session fuzz target under LeakSanitizer): refused.
        9 => {
            return Err(malformed(
                "update",
                "subdocuments (content type 9) are not supported",
            ))
        }
        other => return Err(malformed("update", format!("unknown content type {other}"))),
    };
    if len == 0 {
        return Err(malformed("update", "empty block"));
    }
    Ok((
        len,
        BlockKind::Item(Item {
            origin,
            right_origin,
            parent,
            key,
            content,
        }),
        content_at,
    ))
}

/// Skips one lib0 `Any` value, refusing nesting deeper than [`MAX_ANY_DEPTH`].
fn scan_any(r: &mut Reader<'_>, depth: usize) -> Result<(), DecodeError> {
    if depth >= MAX_ANY_DEPTH {
        return Err(malformed("update", "values nested too deeply"));
    }
    match r.u8("any type")? {
        127 | 126 | 121 | 120 => {}
        125 => r.skip_signed_var("any integer")?,
        124 => r.skip(4, "any float32")?,
        123 | 122 => r.skip(8, "any float64")?,
        119 => {
            r.string("any string")?;
        }
        118 => {
            let len = r.count("any map length", 2)?;
            for _ in 0..len {
                r.string("any map key")?;
                scan_any(r, depth + 1)?;
            }
        }
        117 => {
            let len = r.count("any array length", 1)?;
            for _ in 0..len {
                scan_any(r, depth + 1)?;
            }
        }
        116 => {
            r.var_buf("any buffer")?;
        }
        other => return Err(malformed("update", format!("unknown value type {other}"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::{
        Doc, GetString, Map, MapPrelim, ReadTxn, StateVector, Text, TextPrelim, Transact, Update,
    };

    fn full_state(doc: &Doc) -> Vec<u8> {
        doc.transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    #[test]
    fn a_new_card_shows_its_parent_keys_and_values() {
        let doc = Doc::with_client_id(7);
        let cards = doc.get_or_insert_map("cards");
        {
            let mut txn = doc.transact_mut();
            let card = cards.insert(&mut txn, "c1", MapPrelim::default());
            card.insert(&mut txn, "author", "Ana");
            let text = card.insert(&mut txn, "text", TextPrelim::new(""));
            text.insert(&mut txn, 0, "hé");
        }
        let bytes = full_state(&doc);
        let parsed = parse(&bytes).unwrap();
        let items: Vec<_> = parsed
            .blocks
            .iter()
            .map(|b| match b.kind {
                BlockKind::Item(item) => (b.id, item.parent, item.key, item.content),
                _ => panic!("only items"),
            })
            .collect();
        assert_eq!(items[0].1, Some(Parent::Root("cards")));
        assert_eq!(items[0].2, Some("c1"));
        assert_eq!(items[0].3, Content::Type(1));
        let author = items.iter().find(|i| i.2 == Some("author")).unwrap();
        assert_eq!(author.1, Some(Parent::Branch((7, 0))));
        assert_eq!(author.3.value(), Some(Any::from("Ana")));
        assert!(items.iter().any(|i| i.3 == Content::String("hé")));
        assert_eq!(parsed.sections(), vec![(7, 0, false)]);
    }

    #[test]
    fn re_encoding_with_nothing_replaced_gives_the_same_bytes() {
        let doc = Doc::with_client_id(3);
        let text = doc.get_or_insert_text("t");
        text.insert(&mut doc.transact_mut(), 0, "hello");
        text.remove_range(&mut doc.transact_mut(), 1, 2);
        let bytes = full_state(&doc);
        let parsed = parse(&bytes).unwrap();
        assert_eq!(parsed.encode(|_| Rewrite::Keep, &parsed.deleted), bytes);
    }

    #[test]
    fn placeholders_keep_the_clocks_and_drop_the_content() {
        let doc = Doc::with_client_id(3);
        let text = doc.get_or_insert_text("t");
        text.insert(&mut doc.transact_mut(), 0, "hello");
        let bytes = full_state(&doc);
        let parsed = parse(&bytes).unwrap();
        let emptied = parsed.encode(|_| Rewrite::Placeholder, &parsed.deleted);
        let target = Doc::new();
        let target_text = target.get_or_insert_text("t");
        target
            .transact_mut()
            .apply_update(Update::decode_v1(&emptied).unwrap())
            .unwrap();
        assert_eq!(target_text.get_string(&target.transact()), "");
        assert_eq!(
            target.transact().state_vector(),
            doc.transact().state_vector()
        );
    }

    #[test]
    fn tombstones_keep_the_place_so_later_edits_land_where_they_were_made() {
        let doc = Doc::with_client_id(3);
        let text = doc.get_or_insert_text("t");
        text.insert(&mut doc.transact_mut(), 0, "ab");
        let first = full_state(&doc);
        let later = {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 2, "c");
            txn.encode_update_v1()
        };
        let parsed = parse(&first).unwrap();
        let target = Doc::new();
        let target_text = target.get_or_insert_text("t");
        let tombstoned = parsed.encode(|_| Rewrite::Tombstone, &parsed.deleted);
        for update in [tombstoned, later] {
            target
                .transact_mut()
                .apply_update(Update::decode_v1(&update).unwrap())
                .unwrap();
        }
        assert_eq!(target_text.get_string(&target.transact()), "c");
    }

    #[test]
    fn a_deletions_only_update_deletes_in_a_stock_document() {
        let doc = Doc::with_client_id(3);
        let text = doc.get_or_insert_text("t");
        text.insert(&mut doc.transact_mut(), 0, "hello");
        let undo = encode_deletions(&[(3, 1, 3)]);
        doc.transact_mut()
            .apply_update(Update::decode_v1(&undo).unwrap())
            .unwrap();
        assert_eq!(text.get_string(&doc.transact()), "ho");
    }
}
