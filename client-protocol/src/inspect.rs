//! Where every item of a document lives, and what an update would change, in board terms.
//!
//! An update says little about place: an item written next to an existing one carries only the
//! ids of its neighbours, and a deletion only ids. To tell *what* an update touches before
//! applying it, the server keeps a [`Locator`] beside each board's document: for every run of
//! item ids, the place (parent type and map key) it was inserted into, whether it holds a nested
//! type, and whether it has been deleted. It is fed every update the document integrates
//! ([`Locator::record`]), and answers [`Locator::inspect`]: the paths from a root type
//! (`cards/3f9a…/text`) that an update would insert into or delete from.
//!
//! Places are resolved the way yrs 0.28 resolves them when it integrates (left neighbour first,
//! then right neighbour; a neighbour that was garbage-collected gives no place), so that what the
//! locator reports is where the content would really land.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::blocks::{Block, BlockKind, Blocks, Content, Id, Parent, Range};

/// Deepest nesting of shared types followed from an item up to its root. Boards nest four
/// levels (`cards/{id}/reactions/{emoji}/{participant}`); anything deeper is reported as
/// [`Touch::unplaced`] rather than walked.
pub const MAX_DEPTH: usize = 32;

/// One step of a path from a root type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg<'a> {
    /// A root type's name, or a key in a map.
    Key(&'a str),
    /// An element of a sequence (a character of a text, an entry of an array).
    Index,
}

/// A step of a path, with the item that holds what the step leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step<'a> {
    /// The name, key or index.
    pub seg: Seg<'a>,
    /// The item at this step (`None` for a root type).
    pub item: Option<Id>,
    /// Whether that item is inserted by the update being inspected.
    pub new: bool,
}

/// What an update does at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// Inserts this content (at a map key: sets the key to it).
    Insert(Content<'a>),
    /// Deletes what is there.
    Delete,
}

/// One thing an update changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch<'a> {
    /// From the root type to the item inserted or deleted; empty when the place could not be
    /// found (see [`Touch::unplaced`]).
    pub path: Vec<Step<'a>>,
    /// What happens there.
    pub change: Change<'a>,
    /// For an insertion, the index of the block in the update; for a deletion, the deleted range.
    pub source: Source,
}

impl Touch<'_> {
    /// Whether the place could not be found: a malformed update (a parent that is not a shared
    /// type, a cycle) or nesting deeper than [`MAX_DEPTH`]. Only roles that may change anything
    /// should be let through with it.
    pub fn unplaced(&self) -> bool {
        self.path.is_empty()
    }

    /// The keys of the path, `None` standing for sequence indices.
    pub fn keys(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        self.path.iter().map(|s| match s.seg {
            Seg::Key(k) => Some(k),
            Seg::Index => None,
        })
    }

    /// The path as text, `cards/3f9a…/text/[]`, for messages and logs.
    pub fn display_path(&self) -> String {
        if self.path.is_empty() {
            return "(unknown place)".into();
        }
        self.keys()
            .map(|k| k.unwrap_or("[]"))
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Where a [`Touch`] comes from in the update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The block at this index of [`Blocks::blocks`] inserts it.
    Block(usize),
    /// This part of the update's delete set deletes it.
    Deleted(Range),
}

/// What an update would change: every insertion and effective deletion, placed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inspection<'a> {
    /// The changes, insertions first.
    pub touches: Vec<Touch<'a>>,
    /// `(index, first new clock)` of every block that carries clocks beyond what the document
    /// has: the ones that become placeholders if their update is refused.
    pub new_blocks: Vec<(usize, u32)>,
}

/// Where an item was inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Home {
    Root(u32),
    Branch(Id),
}

/// An item's parent and key (names interned in [`Locator::names`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Place {
    home: Home,
    key: Option<u32>,
}

/// Consecutive clocks of one client inserted at the same place.
#[derive(Debug, Clone, Copy)]
struct Run {
    clock: u32,
    len: u32,
    /// Where its items were inserted; `None` for garbage-collected clocks, or items integrated
    /// nowhere.
    place: Option<Place>,
    /// Whether the run is one item holding a nested type.
    branch: bool,
}

#[derive(Debug, Default)]
struct ClientRuns {
    runs: Vec<Run>,
    /// Deleted clocks: start → end (exclusive), disjoint and not adjacent.
    deleted: BTreeMap<u32, u32>,
}

impl ClientRuns {
    fn end(&self) -> u32 {
        self.runs.last().map_or(0, |r| r.clock + r.len)
    }

    fn find(&self, clock: u32) -> Option<&Run> {
        let at = self.runs.partition_point(|r| r.clock + r.len <= clock);
        self.runs.get(at).filter(|r| r.clock <= clock)
    }

    fn is_deleted(&self, clock: u32) -> bool {
        self.deleted
            .range(..=clock)
            .next_back()
            .is_some_and(|(_, &end)| clock < end)
    }

    /// The parts of `clock..clock + len` not deleted yet.
    fn live_parts(&self, clock: u32, len: u32) -> Vec<(u32, u32)> {
        let end = clock.saturating_add(len);
        let mut parts = Vec::new();
        let mut at = clock;
        let first = self
            .deleted
            .range(..=clock)
            .next_back()
            .map(|(&s, &e)| (s, e));
        let overlapping = first
            .into_iter()
            .chain(self.deleted.range(clock + 1..end).map(|(&s, &e)| (s, e)));
        for (s, e) in overlapping {
            if e <= at {
                continue;
            }
            if s > at {
                parts.push((at, s.min(end) - at));
            }
            at = at.max(e);
            if at >= end {
                break;
            }
        }
        if at < end {
            parts.push((at, end - at));
        }
        parts
    }

    fn delete(&mut self, clock: u32, len: u32) {
        let (mut start, mut end) = (clock, clock.saturating_add(len));
        if let Some((&s, &e)) = self.deleted.range(..=start).next_back() {
            if e >= start {
                start = s;
                end = end.max(e);
            }
        }
        let swallowed: Vec<u32> = self.deleted.range(start..=end).map(|(&s, _)| s).collect();
        for s in swallowed {
            if let Some(e) = self.deleted.remove(&s) {
                end = end.max(e);
            }
        }
        self.deleted.insert(start, end);
    }
}

/// The place index of one document: see the module documentation.
#[derive(Debug, Default)]
pub struct Locator {
    clients: HashMap<u64, ClientRuns>,
    names: Vec<Arc<str>>,
    name_ids: HashMap<Arc<str>, u32>,
}

/// How far resolving an item's place got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolved<'a> {
    At {
        home: ResolvedHome,
        key: Option<KeyRef<'a>>,
    },
    /// Garbage-collected, or lands nowhere (yrs drops it).
    Gone,
    /// Depends on clocks neither the document nor the update has: yrs will hold it back (and
    /// the server then drops it).
    Missing,
    /// Cannot be placed: not a shared type where one is needed, a cycle, too deep.
    Malformed,
}

/// A map key as resolved: text in the update, or a name the index holds already (so that a
/// resolution never borrows the index it is about to extend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyRef<'a> {
    Text(&'a str),
    Name(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResolvedHome {
    Root(u32),
    /// A root named only in the update (not yet interned).
    NewRoot(usize),
    Branch(Id),
}

impl Locator {
    /// An empty index, for an empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many item runs are indexed (a measure of its memory).
    pub fn runs(&self) -> usize {
        self.clients.values().map(|c| c.runs.len()).sum()
    }

    /// The next clock the document expects from `client`.
    pub fn end(&self, client: u64) -> u32 {
        self.clients.get(&client).map_or(0, ClientRuns::end)
    }

    /// Records what the document integrated: an update already applied to it (a stored
    /// snapshot or log entry, or the diff an application produced). Parts the index already has
    /// are skipped.
    pub fn record(&mut self, update: &Blocks<'_>) {
        let resolved = self.resolve_all(update);
        for (i, block) in update.blocks.iter().enumerate() {
            let end = self.end(block.id.0);
            let block_end = block.id.1 + block.len;
            if block_end <= end {
                continue;
            }
            let clock = block.id.1.max(end);
            let len = block_end - clock;
            let (place, branch, deleted) = match (block.kind, resolved[i]) {
                (BlockKind::Item(item), Resolved::At { home, key }) => {
                    let place = Some(self.place(update, home, key));
                    let branch = matches!(item.content, Content::Type(_));
                    (place, branch, item.content == Content::Deleted)
                }
                _ => (None, false, true),
            };
            let runs = self.clients.entry(block.id.0).or_default();
            match runs.runs.last_mut() {
                Some(last)
                    if !branch
                        && !last.branch
                        && last.place == place
                        && last.clock + last.len == clock =>
                {
                    last.len += len;
                }
                _ => runs.runs.push(Run {
                    clock,
                    len,
                    place,
                    branch,
                }),
            }
            if deleted {
                runs.delete(clock, len);
            }
        }
        for &(client, clock, len) in &update.deleted {
            if let Some(runs) = self.clients.get_mut(&client) {
                let end = runs.end();
                if clock < end {
                    runs.delete(clock, len.min(end - clock));
                }
            }
        }
    }

    /// What `update` would change if applied now: its new insertions and the deletions that
    /// would delete something still there, each with its path.
    pub fn inspect<'a>(&'a self, update: &'a Blocks<'a>) -> Inspection<'a> {
        let resolved = self.resolve_all(update);
        let mut inspection = Inspection::default();
        for (i, block) in update.blocks.iter().enumerate() {
            let end = self.end(block.id.0);
            if block.id.1 + block.len <= end {
                continue; // the document has it already
            }
            inspection.new_blocks.push((i, block.id.1.max(end)));
            let BlockKind::Item(item) = block.kind else {
                continue; // a placeholder or gap holds nothing
            };
            let path = match resolved[i] {
                Resolved::At { home, key } => {
                    let mut path = match self.branch_path(update, &resolved, home) {
                        Some(Walk::Path(path)) => path,
                        // Inserted into a deleted type, or somewhere yrs will drop it: no effect.
                        Some(Walk::Dead) => continue,
                        None => Vec::new(),
                    };
                    if !path.is_empty() {
                        path.push(Step {
                            seg: self.seg(key),
                            item: Some(block.id),
                            new: true,
                        });
                    }
                    path
                }
                Resolved::Gone | Resolved::Missing => continue,
                Resolved::Malformed => Vec::new(),
            };
            inspection.touches.push(Touch {
                path,
                change: Change::Insert(item.content),
                source: Source::Block(i),
            });
        }
        for &(client, clock, len) in &update.deleted {
            let Some(runs) = self.clients.get(&client) else {
                continue;
            };
            let end = runs.end();
            if clock >= end {
                continue; // deletes what the update itself inserts, or nothing known
            }
            for (start, part_len) in runs.live_parts(clock, len.min(end - clock)) {
                let mut at = start;
                while at < start + part_len {
                    let Some(run) = runs.find(at) else { break };
                    let upto = (run.clock + run.len).min(start + part_len);
                    let range = (client, at, upto - at);
                    if let Some(place) = run.place {
                        let home = match place.home {
                            Home::Root(n) => ResolvedHome::Root(n),
                            Home::Branch(id) => ResolvedHome::Branch(id),
                        };
                        match self.branch_path(update, &resolved, home) {
                            Some(Walk::Path(mut path)) => {
                                path.push(Step {
                                    seg: place
                                        .key
                                        .map_or(Seg::Index, |k| Seg::Key(&self.names[k as usize])),
                                    item: Some((client, at)),
                                    new: false,
                                });
                                inspection.touches.push(Touch {
                                    path,
                                    change: Change::Delete,
                                    source: Source::Deleted(range),
                                });
                            }
                            Some(Walk::Dead) => {}
                            None => inspection.touches.push(Touch {
                                path: Vec::new(),
                                change: Change::Delete,
                                source: Source::Deleted(range),
                            }),
                        }
                    }
                    at = upto;
                }
            }
        }
        inspection
    }

    fn intern_name(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.name_ids.get(name) {
            return id;
        }
        let name: Arc<str> = Arc::from(name);
        let id = self.names.len() as u32;
        self.names.push(name.clone());
        self.name_ids.insert(name, id);
        id
    }

    fn place(&mut self, update: &Blocks<'_>, home: ResolvedHome, key: Option<KeyRef<'_>>) -> Place {
        let home = match home {
            ResolvedHome::Root(n) => Home::Root(n),
            ResolvedHome::NewRoot(i) => {
                let BlockKind::Item(item) = update.blocks[i].kind else {
                    unreachable!("new roots are named by items")
                };
                let Some(Parent::Root(name)) = item.parent else {
                    unreachable!("new roots are named by items")
                };
                Home::Root(self.intern_name(name))
            }
            ResolvedHome::Branch(id) => Home::Branch(id),
        };
        let key = key.map(|k| match k {
            KeyRef::Text(text) => self.intern_name(text),
            KeyRef::Name(n) => n,
        });
        Place { home, key }
    }

    /// The place of every block of `update`, as yrs would find it.
    fn resolve_all<'u>(&self, update: &'u Blocks<'u>) -> Vec<Resolved<'u>> {
        #[derive(Clone, Copy, PartialEq)]
        enum State<'a> {
            Todo,
            Busy,
            Done(Resolved<'a>),
        }
        let mut states: Vec<State<'u>> = vec![State::Todo; update.blocks.len()];
        let mut stack: Vec<usize> = Vec::new();
        for first in 0..update.blocks.len() {
            if states[first] != State::Todo {
                continue;
            }
            stack.push(first);
            while let Some(&i) = stack.last() {
                states[i] = State::Busy;
                let block = &update.blocks[i];
                let outcome = match block.kind {
                    BlockKind::Gc => Some(Resolved::Gone),
                    BlockKind::Skip => Some(Resolved::Missing),
                    BlockKind::Item(item) => match item.parent {
                        Some(parent) => Some(self.explicit(i, parent, item.key)),
                        None => {
                            // yrs takes the left neighbour's place, else the right one's.
                            let mut outcome = Some(Resolved::Gone);
                            for neighbour in [item.origin, item.right_origin].into_iter().flatten()
                            {
                                match self.neighbour(update, neighbour) {
                                    Lookup::Known(Resolved::Gone) => {}
                                    Lookup::Known(found) => {
                                        outcome = Some(found);
                                        break;
                                    }
                                    Lookup::InUpdate(j) => match states[j] {
                                        State::Done(Resolved::Gone) => {}
                                        State::Done(found) => {
                                            outcome = Some(found);
                                            break;
                                        }
                                        State::Busy => {
                                            outcome = Some(Resolved::Malformed);
                                            break;
                                        }
                                        State::Todo => {
                                            stack.push(j);
                                            outcome = None;
                                            break;
                                        }
                                    },
                                }
                            }
                            outcome
                        }
                    },
                };
                if let Some(outcome) = outcome {
                    states[i] = State::Done(outcome);
                    stack.pop();
                } else {
                    states[i] = State::Todo;
                    if stack.len() > update.blocks.len() + 1 {
                        // Cannot happen without a cycle, which Busy catches; a guard all the same.
                        for &j in &stack {
                            states[j] = State::Done(Resolved::Malformed);
                        }
                        stack.clear();
                    }
                }
            }
        }
        states
            .into_iter()
            .map(|s| match s {
                State::Done(r) => r,
                _ => Resolved::Malformed,
            })
            .collect()
    }

    fn explicit<'u>(&self, i: usize, parent: Parent<'u>, key: Option<&'u str>) -> Resolved<'u> {
        let home = match parent {
            Parent::Root(name) => match self.name_ids.get(name) {
                Some(&n) => ResolvedHome::Root(n),
                None => ResolvedHome::NewRoot(i),
            },
            Parent::Branch(id) => ResolvedHome::Branch(id),
        };
        Resolved::At {
            home,
            key: key.map(KeyRef::Text),
        }
    }

    /// Finds the block or run holding `id`.
    fn neighbour<'u>(&self, update: &'u Blocks<'u>, id: Id) -> Lookup<'u> {
        if let Some(runs) = self.clients.get(&id.0) {
            if id.1 < runs.end() {
                return Lookup::Known(match runs.find(id.1) {
                    Some(Run {
                        place: Some(place), ..
                    }) => self.resolved_place(*place),
                    _ => Resolved::Gone,
                });
            }
        }
        match update.find(id) {
            Some((j, _)) => Lookup::InUpdate(j),
            None => Lookup::Known(Resolved::Missing),
        }
    }

    fn resolved_place<'u>(&self, place: Place) -> Resolved<'u> {
        Resolved::At {
            home: match place.home {
                Home::Root(n) => ResolvedHome::Root(n),
                Home::Branch(id) => ResolvedHome::Branch(id),
            },
            key: place.key.map(KeyRef::Name),
        }
    }

    /// The path step of a map key (or of a sequence element, without one).
    fn seg<'a>(&'a self, key: Option<KeyRef<'a>>) -> Seg<'a> {
        match key {
            None => Seg::Index,
            Some(KeyRef::Text(text)) => Seg::Key(text),
            Some(KeyRef::Name(n)) => Seg::Key(&self.names[n as usize]),
        }
    }

    /// The path from a root type to the type `home`; `None` when it cannot be placed.
    fn branch_path<'a>(
        &'a self,
        update: &'a Blocks<'a>,
        resolved: &[Resolved<'a>],
        mut home: ResolvedHome,
    ) -> Option<Walk<'a>> {
        let mut reversed: Vec<Step<'a>> = Vec::new();
        loop {
            match home {
                ResolvedHome::Root(n) => {
                    reversed.push(Step {
                        seg: Seg::Key(&self.names[n as usize]),
                        item: None,
                        new: false,
                    });
                    break;
                }
                ResolvedHome::NewRoot(i) => {
                    let BlockKind::Item(item) = update.blocks[i].kind else {
                        return None;
                    };
                    let Some(Parent::Root(name)) = item.parent else {
                        return None;
                    };
                    reversed.push(Step {
                        seg: Seg::Key(name),
                        item: None,
                        new: false,
                    });
                    break;
                }
                ResolvedHome::Branch(id) => {
                    if reversed.len() >= MAX_DEPTH {
                        return None;
                    }
                    let (place, new) = match self.neighbour(update, id) {
                        Lookup::Known(Resolved::Missing) => return Some(Walk::Dead),
                        Lookup::Known(found) => {
                            let runs = &self.clients[&id.0];
                            match runs.find(id.1) {
                                Some(run) if run.branch && run.place.is_some() => {}
                                Some(run) if run.place.is_none() => return Some(Walk::Dead),
                                // The parent is content, not a type: yrs refuses the update.
                                _ => return None,
                            }
                            if runs.is_deleted(id.1) {
                                return Some(Walk::Dead);
                            }
                            (found, false)
                        }
                        Lookup::InUpdate(j) => {
                            let block: &Block<'_> = &update.blocks[j];
                            match block.kind {
                                BlockKind::Item(item) => match item.content {
                                    Content::Type(_) if block.id == id => {}
                                    Content::Deleted => return Some(Walk::Dead),
                                    _ => return None,
                                },
                                _ => return Some(Walk::Dead),
                            }
                            (resolved[j], true)
                        }
                    };
                    match place {
                        Resolved::At { home: up, key } => {
                            reversed.push(Step {
                                seg: self.seg(key),
                                item: Some(id),
                                new,
                            });
                            home = up;
                        }
                        Resolved::Gone | Resolved::Missing => return Some(Walk::Dead),
                        Resolved::Malformed => return None,
                    }
                }
            }
        }
        reversed.reverse();
        Some(Walk::Path(reversed))
    }
}

enum Lookup<'a> {
    /// The document has it; this is its place.
    Known(Resolved<'a>),
    /// The update has it, in this block.
    InUpdate(usize),
}

enum Walk<'a> {
    Path(Vec<Step<'a>>),
    /// Under something deleted or dropped: changes there have no effect.
    Dead,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::parse;
    use yrs::{Doc, Map, MapPrelim, ReadTxn, StateVector, Text, TextPrelim, Transact};

    /// A document and its locator, fed the same updates.
    struct Pair {
        doc: Doc,
        locator: Locator,
    }

    impl Pair {
        fn new() -> Self {
            Pair {
                doc: Doc::with_client_id(1),
                locator: Locator::new(),
            }
        }

        /// Makes an edit in the document and records it.
        fn edit(&mut self, f: impl FnOnce(&Doc, &mut yrs::TransactionMut)) {
            let update = {
                let mut txn = self.doc.transact_mut();
                f(&self.doc, &mut txn);
                txn.encode_update_v1()
            };
            self.locator.record(&parse(&update).unwrap());
        }
    }

    fn paths(update: &[u8], locator: &Locator) -> Vec<(String, &'static str)> {
        let blocks = parse(update).unwrap();
        locator
            .inspect(&blocks)
            .touches
            .iter()
            .map(|t| {
                let kind = match t.change {
                    Change::Insert(_) => "insert",
                    Change::Delete => "delete",
                };
                (t.display_path(), kind)
            })
            .collect()
    }

    /// A second replica of `pair`'s document makes an edit; returns its update.
    fn remote_edit(pair: &Pair, f: impl FnOnce(&mut yrs::TransactionMut)) -> Vec<u8> {
        let remote = Doc::with_client_id(2);
        let state = pair
            .doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        remote
            .transact_mut()
            .apply_update(yrs::Update::decode_v1(&state).unwrap())
            .unwrap();
        let mut txn = remote.transact_mut();
        f(&mut txn);
        txn.encode_update_v1()
    }

    use yrs::updates::decoder::Decode;

    fn board_with_card() -> Pair {
        let mut pair = Pair::new();
        let cards = pair.doc.get_or_insert_map("cards");
        pair.edit(|_, txn| {
            let card = cards.insert(txn, "c1", MapPrelim::default());
            card.insert(txn, "author", "Ana");
            let text = card.insert(txn, "text", TextPrelim::new(""));
            text.insert(txn, 0, "hello");
        });
        pair
    }

    fn card(txn: &yrs::TransactionMut) -> yrs::MapRef {
        match txn.get_map("cards").unwrap().get(txn, "c1") {
            Some(yrs::Out::YMap(m)) => m,
            _ => panic!("no card"),
        }
    }

    fn card_text(txn: &yrs::TransactionMut) -> yrs::TextRef {
        match card(txn).get(txn, "text") {
            Some(yrs::Out::YText(t)) => t,
            _ => panic!("no text"),
        }
    }

    #[test]
    fn typing_into_a_card_is_placed_in_its_text() {
        let pair = board_with_card();
        let update = remote_edit(&pair, |txn| {
            card_text(txn).insert(txn, 5, " world");
        });
        assert_eq!(
            paths(&update, &pair.locator),
            vec![("cards/c1/text/[]".into(), "insert")]
        );
    }

    #[test]
    fn overwriting_a_field_is_placed_at_its_key_even_without_a_written_parent() {
        let pair = board_with_card();
        let update = remote_edit(&pair, |txn| {
            card(txn).insert(txn, "author", "Bob");
        });
        assert_eq!(
            paths(&update, &pair.locator),
            vec![
                ("cards/c1/author".into(), "insert"),
                ("cards/c1/author".into(), "delete")
            ]
        );
    }

    #[test]
    fn deleting_a_card_and_characters_is_placed() {
        let pair = board_with_card();
        let update = remote_edit(&pair, |txn| {
            card_text(txn).remove_range(txn, 0, 2);
            txn.get_map("cards").unwrap().remove(txn, "c1");
        });
        let found = paths(&update, &pair.locator);
        assert!(found.contains(&("cards/c1".into(), "delete")), "{found:?}");
        assert!(
            found.contains(&("cards/c1/text/[]".into(), "delete")),
            "{found:?}"
        );
    }

    #[test]
    fn a_new_card_and_its_fields_are_marked_new() {
        let pair = board_with_card();
        let update = remote_edit(&pair, |txn| {
            let cards = txn.get_map("cards").unwrap();
            let card = cards.insert(txn, "c2", MapPrelim::default());
            card.insert(txn, "author", "Bob");
        });
        let blocks = parse(&update).unwrap();
        let inspection = pair.locator.inspect(&blocks);
        let author = inspection
            .touches
            .iter()
            .find(|t| t.display_path() == "cards/c2/author")
            .unwrap();
        assert!(author.path[1].new);
        assert_eq!(inspection.new_blocks.len(), blocks.blocks.len());
    }

    #[test]
    fn deletions_already_applied_and_duplicates_touch_nothing() {
        let mut pair = board_with_card();
        let cards = pair.doc.get_or_insert_map("cards");
        pair.edit(|_, txn| {
            cards.remove(txn, "c1");
        });
        let whole = pair
            .doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        assert_eq!(paths(&whole, &pair.locator), vec![]);
    }

    #[test]
    fn edits_inside_a_deleted_card_touch_nothing() {
        let mut pair = board_with_card();
        let late = remote_edit(&pair, |txn| {
            card(txn).insert(txn, "color", "#fff");
        });
        let cards = pair.doc.get_or_insert_map("cards");
        pair.edit(|_, txn| {
            cards.remove(txn, "c1");
        });
        assert_eq!(paths(&late, &pair.locator), vec![]);
    }

    #[test]
    fn a_locator_fed_a_stored_snapshot_places_like_one_fed_every_edit() {
        let pair = board_with_card();
        let snapshot = pair
            .doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let mut fresh = Locator::new();
        fresh.record(&parse(&snapshot).unwrap());
        let update = remote_edit(&pair, |txn| {
            card(txn).insert(txn, "color", "#fff");
        });
        assert_eq!(paths(&update, &fresh), paths(&update, &pair.locator));
        assert_eq!(
            paths(&update, &fresh),
            vec![("cards/c1/color".into(), "insert")]
        );
    }

    #[test]
    fn the_deleted_ranges_merge() {
        let mut runs = ClientRuns::default();
        runs.delete(5, 5);
        runs.delete(0, 3);
        runs.delete(3, 2);
        assert_eq!(runs.deleted.len(), 1);
        assert_eq!(runs.live_parts(0, 12), vec![(10, 2)]);
        runs.delete(20, 1);
        assert_eq!(runs.live_parts(8, 15), vec![(10, 10), (21, 2)]);
        assert!(runs.is_deleted(20));
        assert!(!runs.is_deleted(21));
    }
}
