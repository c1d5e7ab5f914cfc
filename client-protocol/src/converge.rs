//! Bringing a live document to the content of another one with ordinary edits: restore in place.
//!
//! Restoring a board to a past version cannot overwrite its stored state: connected clients
//! would keep their own replica and never see the change, and edits made offline meanwhile
//! would be merged into a document they no longer belong to. [`converge`] instead makes the
//! forward edits, in the caller's one transaction, that turn the live document's content into the
//! target's. Every replica applies them like any other update, and a participant's concurrent
//! edits merge with them by the usual CRDT rules.
//!
//! The edits are **minimal**, because whatever converge does not touch is also what concurrent
//! edits keep: a map key whose value is already right is left alone; a shared type present on
//! both sides is edited in place, not replaced; a text keeps its common prefix and suffix; an
//! array keeps its longest common run of equal elements. Nothing here knows the board schema: it
//! walks every root of the document, so it keeps working when the schema grows.
//!
//! ```
//! use client_protocol::converge::converge;
//! use yrs::{Any, Doc, Map, Out, Transact};
//!
//! let live = Doc::new();
//! let meta = live.get_or_insert_map("meta");
//! meta.insert(&mut live.transact_mut(), "title", "Q3 onboarding");
//!
//! let past = Doc::new(); // in practice, rebuilt from the board's history
//! let old = past.get_or_insert_map("meta");
//! old.insert(&mut past.transact_mut(), "title", "Q2 onboarding");
//!
//! let done = converge(&mut live.transact_mut(), &past.transact()).unwrap();
//! assert_eq!(done.keys_set, 1);
//! let title = meta.get(&live.transact(), "title");
//! assert_eq!(title, Some(Out::Any(Any::from("Q2 onboarding"))));
//! ```

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::Serialize;
use yrs::types::text::{Diff, YChange};
use yrs::types::Attrs;
use yrs::Number;
use yrs::{
    Any, Array, ArrayPrelim, ArrayRef, GetString, Map, MapPrelim, MapRef, OffsetKind, Out, ReadTxn,
    Text, TextPrelim, TextRef, TransactionMut, WriteTxn,
};

/// What [`converge`] changed, for logs. All zero when the documents already had the same content.
///
/// Counts include what was written inside newly created shared types (restoring a deleted card
/// counts its key in `cards` and each of its fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Converged {
    /// Map keys written: added, or given another value.
    pub keys_set: usize,
    /// Map keys removed because the target does not have them.
    pub keys_removed: usize,
    /// Texts whose content or formatting was changed.
    pub texts_edited: usize,
    /// Array elements inserted.
    pub elements_inserted: usize,
    /// Array elements removed.
    pub elements_removed: usize,
}

impl Converged {
    /// True when converge changed nothing: the live document already had the target's content.
    pub fn is_empty(&self) -> bool {
        *self == Converged::default()
    }
}

/// Why [`converge`] refused. The first two are found before any edit is made, so the transaction
/// is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvergeError {
    /// The target holds a shared type converge cannot rebuild with Map, Array and Text edits (an
    /// XML type, a subdocument, a root of one of those types in the live document).
    #[error("{path} holds {found}, which converge cannot rebuild")]
    Unsupported {
        /// Where: the root name, then map keys and array indexes, joined with `/`.
        path: String,
        /// The type found there.
        found: &'static str,
    },
    /// A root has a different declared type in each document. A root's type cannot be changed
    /// by an edit, so the live root can never show the target's content.
    #[error("root {root:?} is {live} in the live document but {target} in the target")]
    RootTypeMismatch {
        /// The root's name.
        root: String,
        /// Its type in the live document.
        live: &'static str,
        /// Its type in the target.
        target: &'static str,
    },
    /// The CRDT library panicked in the middle of the edits. Part of them may be in the
    /// transaction: the caller should drop the in-memory document and load it again from storage
    /// rather than keep or persist it.
    #[error("the CRDT library panicked while converging: {0}")]
    Panicked(String),
}

/// Edits the live document through `txn` so that its content equals the content of the
/// document `target` reads (a separate document, typically rebuilt at a past version).
///
/// Every root of either document is compared: roots only the target has are created, roots
/// only the live document has are emptied (a root cannot be deleted). A root whose type was
/// never declared in a document (one rebuilt from updates alone) is read as the type the other
/// document declares, or as its content shows. Nothing is committed: the edits become one
/// update when the caller's transaction ends.
///
/// Never panics: a panic inside yrs is caught and returned as [`ConvergeError::Panicked`].
pub fn converge(
    txn: &mut TransactionMut,
    target: &impl ReadTxn,
) -> Result<Converged, ConvergeError> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let plans = plan(txn, target)?;
        let mut converger = Converger {
            offsets: txn.doc().offset_kind(),
            txn,
            target,
            done: Converged::default(),
        };
        for plan in &plans {
            converger.root(plan);
        }
        Ok(converger.done)
    }));
    outcome.unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Err(ConvergeError::Panicked(message))
    })
}

/// The shared types converge edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Map,
    Array,
    Text,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Map => "a Y.Map",
            Kind::Array => "a Y.Array",
            Kind::Text => "a Y.Text",
        }
    }

    /// The kind of a shared value converge can edit; `None` for plain values and every other type.
    fn of(value: &Out) -> Option<Kind> {
        match value {
            Out::YMap(_) => Some(Kind::Map),
            Out::YArray(_) => Some(Kind::Array),
            Out::YText(_) => Some(Kind::Text),
            _ => None,
        }
    }
}

/// A short name of a value's type, for errors.
fn type_name(value: &Out) -> &'static str {
    match value {
        Out::Any(_) => "a plain value",
        Out::YMap(_) => Kind::Map.name(),
        Out::YArray(_) => Kind::Array.name(),
        Out::YText(_) => Kind::Text.name(),
        Out::YXmlElement(_) | Out::YXmlFragment(_) | Out::YXmlText(_) => "a Y.Xml type",
        Out::YDoc(_) => "a subdocument",
        Out::UndefinedRef(_) => "an undeclared shared type",
        #[allow(unreachable_patterns)] // the `weak` feature of yrs adds a variant
        _ => "an unsupported shared type",
    }
}

/// How one root is brought to the target. A root has a map part and a sequence part; a declared
/// type shows only one of them, and that is the one converged.
#[derive(Debug)]
struct RootPlan {
    name: String,
    /// Converge the map part.
    map: bool,
    /// Converge the sequence part, read as this kind (Array or Text).
    seq: Option<Kind>,
    /// Declare the root in the live document as this kind first: it does not exist there yet.
    create: Option<Kind>,
}

/// Decides how each root is converged and checks that the target holds nothing converge cannot
/// rebuild, before any edit is made.
fn plan<T: ReadTxn>(live: &TransactionMut, target: &T) -> Result<Vec<RootPlan>, ConvergeError> {
    let mut names: Vec<String> = live
        .root_refs()
        .chain(target.root_refs())
        .map(|(name, _)| name.to_owned())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    names.sort();
    let mut plans = Vec::with_capacity(names.len());
    for name in names {
        if let Some(plan) = plan_root(live, target, name)? {
            check_root(target, &plan)?;
            plans.push(plan);
        }
    }
    Ok(plans)
}

/// The declared kind of a root: `None` when undeclared (or absent), an error for types converge
/// does not edit.
fn declared(name: &str, root: Option<&Out>) -> Result<Option<Kind>, ConvergeError> {
    match root {
        None | Some(Out::UndefinedRef(_)) => Ok(None),
        Some(value) => match Kind::of(value) {
            Some(kind) => Ok(Some(kind)),
            None => Err(ConvergeError::Unsupported {
                path: name.to_owned(),
                found: type_name(value),
            }),
        },
    }
}

/// What a root holds, looked at through both its parts whatever its declared type.
struct RootContent {
    has_map: bool,
    has_seq: bool,
    /// The sequence part holds text: only a Y.Text holds strings in its sequence.
    has_text: bool,
}

fn root_content<R: ReadTxn>(txn: &R, name: &str) -> RootContent {
    let has_map = txn.get_map(name).is_some_and(|m| m.len(txn) > 0);
    let has_seq = txn.get_array(name).is_some_and(|a| a.len(txn) > 0);
    let has_text = has_seq
        && txn
            .get_text(name)
            .is_some_and(|t| !t.get_string(txn).is_empty());
    RootContent {
        has_map,
        has_seq,
        has_text,
    }
}

fn plan_root<T: ReadTxn>(
    live: &TransactionMut,
    target: &T,
    name: String,
) -> Result<Option<RootPlan>, ConvergeError> {
    let live_root = live.get(name.as_str());
    let live_kind = declared(&name, live_root.as_ref())?;
    let target_kind = declared(&name, target.get(name.as_str()).as_ref())?;
    let kind = match (live_kind, target_kind) {
        (Some(l), Some(t)) if l != t => {
            return Err(ConvergeError::RootTypeMismatch {
                root: name,
                live: l.name(),
                target: t.name(),
            })
        }
        (Some(k), _) | (None, Some(k)) => Some(k),
        (None, None) => None,
    };
    let have = root_content(live, &name);
    let want = root_content(target, &name);
    let (map, seq) = match kind {
        Some(Kind::Map) => (true, None),
        Some(k) => (false, Some(k)),
        None => {
            let seq_kind = if have.has_text || want.has_text {
                Kind::Text
            } else {
                Kind::Array
            };
            (
                have.has_map || want.has_map,
                (have.has_seq || want.has_seq).then_some(seq_kind),
            )
        }
    };
    let create = if live_root.is_some() {
        None
    } else {
        // Declaring a root is local (it is not part of any update), but only worth doing when
        // there is something to write into it.
        let wanted = (map && want.has_map) || (seq.is_some() && want.has_seq);
        if !wanted {
            return Ok(None);
        }
        kind.or(if want.has_map { Some(Kind::Map) } else { seq })
    };
    Ok(Some(RootPlan {
        name,
        map,
        seq,
        create,
    }))
}

/// Checks the parts of a target root that will be copied.
fn check_root<T: ReadTxn>(target: &T, plan: &RootPlan) -> Result<(), ConvergeError> {
    let mut path = vec![plan.name.clone()];
    if plan.map {
        if let Some(map) = target.get_map(plan.name.as_str()) {
            check_map(target, &map, &mut path)?;
        }
    }
    match plan.seq {
        Some(Kind::Array) => {
            if let Some(array) = target.get_array(plan.name.as_str()) {
                check_array(target, &array, &mut path)?;
            }
        }
        Some(Kind::Text) => {
            if let Some(text) = target.get_text(plan.name.as_str()) {
                check_text(target, &text, &mut path)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_value<T: ReadTxn>(
    target: &T,
    value: &Out,
    path: &mut Vec<String>,
) -> Result<(), ConvergeError> {
    match value {
        Out::Any(_) => Ok(()),
        Out::YMap(map) => check_map(target, map, path),
        Out::YArray(array) => check_array(target, array, path),
        Out::YText(text) => check_text(target, text, path),
        other => Err(ConvergeError::Unsupported {
            path: path.join("/"),
            found: type_name(other),
        }),
    }
}

fn check_map<T: ReadTxn>(
    target: &T,
    map: &MapRef,
    path: &mut Vec<String>,
) -> Result<(), ConvergeError> {
    for (key, value) in map.iter(target) {
        path.push(key.to_owned());
        check_value(target, &value, path)?;
        path.pop();
    }
    Ok(())
}

fn check_array<T: ReadTxn>(
    target: &T,
    array: &ArrayRef,
    path: &mut Vec<String>,
) -> Result<(), ConvergeError> {
    for (index, value) in array.iter(target).enumerate() {
        path.push(index.to_string());
        check_value(target, &value, path)?;
        path.pop();
    }
    Ok(())
}

fn check_text<T: ReadTxn>(
    target: &T,
    text: &TextRef,
    path: &mut Vec<String>,
) -> Result<(), ConvergeError> {
    for (index, chunk) in text.diff(target, YChange::identity).iter().enumerate() {
        path.push(format!("chunk {index}"));
        check_value(target, &chunk.insert, path)?;
        path.pop();
    }
    Ok(())
}

/// Above this many cells (live elements times target elements in the part of an array that
/// differs), arrays are aligned by position only: the common-run table would cost too much memory.
const ALIGN_CELLS: usize = 1 << 20;

/// The edit pass: walks the live document and the target together, writing through `txn`.
struct Converger<'a, 'doc, T: ReadTxn> {
    /// The live document's transaction, which every edit goes into.
    txn: &'a mut TransactionMut<'doc>,
    /// The target document, read only.
    target: &'a T,
    /// The live document's text offset unit, which text positions are counted in.
    offsets: OffsetKind,
    /// What was changed so far.
    done: Converged,
}

impl<T: ReadTxn> Converger<'_, '_, T> {
    fn root(&mut self, plan: &RootPlan) {
        let name = plan.name.as_str();
        match plan.create {
            Some(Kind::Map) => {
                self.txn.get_or_insert_map(name);
            }
            Some(Kind::Array) => {
                self.txn.get_or_insert_array(name);
            }
            Some(Kind::Text) => {
                self.txn.get_or_insert_text(name);
            }
            None => {}
        }
        if plan.map {
            if let Some(live) = self.txn.get_map(name) {
                let target = self.target.get_map(name);
                self.map(&live, target.as_ref());
            }
        }
        match plan.seq {
            Some(Kind::Array) => {
                if let Some(live) = self.txn.get_array(name) {
                    let target = self.target.get_array(name);
                    self.array(&live, target.as_ref());
                }
            }
            Some(Kind::Text) => {
                if let Some(live) = self.txn.get_text(name) {
                    let target = self.target.get_text(name);
                    self.text(&live, target.as_ref());
                }
            }
            _ => {}
        }
    }

    /// Edits a live shared value of the same kind as `target` in place.
    fn shared(&mut self, live: &Out, target: &Out) {
        match (live, target) {
            (Out::YMap(l), Out::YMap(t)) => self.map(l, Some(t)),
            (Out::YArray(l), Out::YArray(t)) => self.array(l, Some(t)),
            (Out::YText(l), Out::YText(t)) => self.text(l, Some(t)),
            _ => {}
        }
    }

    fn map(&mut self, live: &MapRef, target: Option<&MapRef>) {
        let mut wanted: Vec<(String, Out)> = target
            .map(|t| {
                t.iter(self.target)
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect()
            })
            .unwrap_or_default();
        wanted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut stale: Vec<String> = live
            .keys(&*self.txn)
            .filter(|k| target.is_none_or(|t| !t.contains_key(self.target, k)))
            .map(str::to_owned)
            .collect();
        stale.sort();
        for key in &stale {
            live.remove(self.txn, key);
            self.done.keys_removed += 1;
        }
        for (key, value) in &wanted {
            self.map_entry(live, key, value);
        }
    }

    fn map_entry(&mut self, map: &MapRef, key: &str, target: &Out) {
        let current = map.get(&*self.txn, key);
        match (&current, target) {
            (Some(Out::Any(l)), Out::Any(t)) if same_any(l, t) => {}
            (Some(l), t) if Kind::of(l).is_some() && Kind::of(l) == Kind::of(t) => {
                self.shared(l, t);
            }
            (_, Out::Any(t)) => {
                map.insert(self.txn, key, t.clone());
                self.done.keys_set += 1;
            }
            (_, t) => {
                let fresh = match Kind::of(t) {
                    Some(Kind::Map) => Out::YMap(map.insert(self.txn, key, MapPrelim::default())),
                    Some(Kind::Array) => {
                        Out::YArray(map.insert(self.txn, key, ArrayPrelim::default()))
                    }
                    Some(Kind::Text) => Out::YText(map.insert(self.txn, key, TextPrelim::new(""))),
                    // `plan` refused targets holding anything else.
                    None => return,
                };
                self.done.keys_set += 1;
                self.shared(&fresh, t);
            }
        }
    }

    fn array(&mut self, live: &ArrayRef, target: Option<&ArrayRef>) {
        let have: Vec<Out> = live.iter(&*self.txn).collect();
        let want: Vec<Out> = target
            .map(|t| t.iter(self.target).collect())
            .unwrap_or_default();
        let steps = align(&have, &*self.txn, &want, self.target);
        let mut index: u32 = 0;
        let mut i = 0;
        while i < steps.len() {
            match steps[i] {
                Step::Keep => index += 1,
                Step::Edit(l, t) => {
                    self.shared(&have[l], &want[t]);
                    index += 1;
                }
                Step::Remove => {
                    let run = steps[i..]
                        .iter()
                        .take_while(|s| matches!(s, Step::Remove))
                        .count();
                    live.remove_range(self.txn, index, to_u32(run));
                    self.done.elements_removed += run;
                    i += run;
                    continue;
                }
                Step::Insert(t) => match &want[t] {
                    Out::Any(_) => {
                        // Consecutive plain values go in as one insert (one item in the update).
                        let run: Vec<Any> = steps[i..]
                            .iter()
                            .map_while(|s| match s {
                                Step::Insert(t) => match &want[*t] {
                                    Out::Any(a) => Some(a.clone()),
                                    _ => None,
                                },
                                _ => None,
                            })
                            .collect();
                        let n = run.len();
                        live.insert_range(self.txn, index, run);
                        self.done.elements_inserted += n;
                        index += to_u32(n);
                        i += n;
                        continue;
                    }
                    value => {
                        let fresh = match Kind::of(value) {
                            Some(Kind::Map) => {
                                Out::YMap(live.insert(self.txn, index, MapPrelim::default()))
                            }
                            Some(Kind::Array) => {
                                Out::YArray(live.insert(self.txn, index, ArrayPrelim::default()))
                            }
                            Some(Kind::Text) => {
                                Out::YText(live.insert(self.txn, index, TextPrelim::new("")))
                            }
                            None => {
                                i += 1;
                                continue;
                            }
                        };
                        self.done.elements_inserted += 1;
                        index += 1;
                        self.shared(&fresh, value);
                    }
                },
            }
            i += 1;
        }
    }

    fn text(&mut self, live: &TextRef, target: Option<&TextRef>) {
        let have_chunks = live.diff(&*self.txn, YChange::identity);
        let want_chunks = target
            .map(|t| t.diff(self.target, YChange::identity))
            .unwrap_or_default();
        let have = units(&have_chunks);
        let want = units(&want_chunks);
        let same = |a: &Unit, b: &Unit| same_unit(a, &*self.txn, b, self.target);
        let common = have.len().min(want.len());
        let prefix = (0..common)
            .take_while(|&i| same(&have[i], &want[i]))
            .count();
        let suffix = (0..common - prefix)
            .take_while(|&i| same(&have[have.len() - 1 - i], &want[want.len() - 1 - i]))
            .count();
        let removed = &have[prefix..have.len() - suffix];
        let inserted = &want[prefix..want.len() - suffix];
        if removed.is_empty() && inserted.is_empty() {
            return;
        }
        let mut index = self.length(&have[..prefix]);
        let len = self.length(removed);
        if len > 0 {
            live.remove_range(self.txn, index, len);
        }
        let mut i = 0;
        while i < inserted.len() {
            let attrs = inserted[i].attrs.cloned().unwrap_or_default();
            match inserted[i].content {
                UnitContent::Char(_) => {
                    // One insert per run of characters with the same formatting.
                    let run: String = inserted[i..]
                        .iter()
                        .take_while(|u| same_attrs(u.attrs, inserted[i].attrs))
                        .map_while(|u| match u.content {
                            UnitContent::Char(c) => Some(c),
                            UnitContent::Embed(_) => None,
                        })
                        .collect();
                    let n = run.chars().count();
                    // Explicit attributes (even none) make yrs unset the formatting around the
                    // insertion point, so the chunk gets exactly the target's formatting.
                    live.insert_with_attributes(self.txn, index, &run, attrs);
                    index += self.length(&inserted[i..i + n]);
                    i += n;
                    continue;
                }
                UnitContent::Embed(value) => {
                    match value {
                        Out::Any(any) => {
                            live.insert_embed_with_attributes(self.txn, index, any.clone(), attrs);
                        }
                        Out::YMap(_) => {
                            let fresh = live.insert_embed_with_attributes(
                                self.txn,
                                index,
                                MapPrelim::default(),
                                attrs,
                            );
                            self.shared(&Out::YMap(fresh), value);
                        }
                        Out::YArray(_) => {
                            let fresh = live.insert_embed_with_attributes(
                                self.txn,
                                index,
                                ArrayPrelim::default(),
                                attrs,
                            );
                            self.shared(&Out::YArray(fresh), value);
                        }
                        Out::YText(_) => {
                            let fresh = live.insert_embed_with_attributes(
                                self.txn,
                                index,
                                TextPrelim::new(""),
                                attrs,
                            );
                            self.shared(&Out::YText(fresh), value);
                        }
                        // `plan` refused targets holding anything else.
                        _ => {
                            i += 1;
                            continue;
                        }
                    }
                    index += 1;
                }
            }
            i += 1;
        }
        self.repair_formatting(live, &want);
        self.done.texts_edited += 1;
    }

    /// Re-applies the target's formatting wherever the edited text still differs from it.
    ///
    /// yrs tidies the formatting marks around the gap a deletion leaves, and misjudges a mark
    /// that is followed by an embedded shared type (it looks past it for the next character), so
    /// it can delete a mark that is still needed. Plain text, the board's case, never gets here
    /// with anything to do.
    fn repair_formatting(&mut self, live: &TextRef, want: &[Unit]) {
        let chunks = live.diff(&*self.txn, YChange::identity);
        let have = units(&chunks);
        if have.len() != want.len() {
            return;
        }
        let mut fixes: Vec<(u32, u32, Attrs)> = Vec::new();
        let (mut i, mut offset) = (0, 0);
        while i < have.len() {
            if same_attrs(have[i].attrs, want[i].attrs) {
                offset += self.length(&have[i..=i]);
                i += 1;
                continue;
            }
            let (start, start_offset) = (i, offset);
            while i < have.len()
                && !same_attrs(have[i].attrs, want[i].attrs)
                && same_attrs(have[i].attrs, have[start].attrs)
                && same_attrs(want[i].attrs, want[start].attrs)
            {
                offset += self.length(&have[i..=i]);
                i += 1;
            }
            // The target's attributes, and an explicit "unset" for each one the run has but
            // should not.
            let mut attrs = want[start].attrs.cloned().unwrap_or_default();
            for key in have[start].attrs.into_iter().flat_map(|a| a.keys()) {
                attrs.entry(key.clone()).or_insert(Any::Null);
            }
            fixes.push((start_offset, offset - start_offset, attrs));
        }
        for (index, len, attrs) in fixes {
            live.format(self.txn, index, len, attrs);
        }
    }

    /// The length of some text units in the live document's offset unit.
    fn length(&self, units: &[Unit]) -> u32 {
        let total: usize = units
            .iter()
            .map(|u| match u.content {
                UnitContent::Char(c) => match self.offsets {
                    OffsetKind::Bytes => c.len_utf8(),
                    OffsetKind::Utf16 => c.len_utf16(),
                },
                UnitContent::Embed(_) => 1,
            })
            .sum();
        to_u32(total)
    }
}

/// yrs counts in `u32`; a longer run cannot be in a document, so saturating is only a guard.
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One character or embed of a text, with the formatting it carries.
struct Unit<'c> {
    content: UnitContent<'c>,
    attrs: Option<&'c Attrs>,
}

enum UnitContent<'c> {
    Char(char),
    Embed(&'c Out),
}

fn units(chunks: &[Diff<YChange>]) -> Vec<Unit<'_>> {
    let mut units = Vec::new();
    for chunk in chunks {
        let attrs = chunk.attributes.as_deref();
        match &chunk.insert {
            Out::Any(Any::String(s)) => units.extend(s.chars().map(|c| Unit {
                content: UnitContent::Char(c),
                attrs,
            })),
            other => units.push(Unit {
                content: UnitContent::Embed(other),
                attrs,
            }),
        }
    }
    units
}

fn same_unit<A: ReadTxn, B: ReadTxn>(a: &Unit, a_txn: &A, b: &Unit, b_txn: &B) -> bool {
    same_attrs(a.attrs, b.attrs)
        && match (&a.content, &b.content) {
            (UnitContent::Char(x), UnitContent::Char(y)) => x == y,
            (UnitContent::Embed(x), UnitContent::Embed(y)) => same_value(x, a_txn, y, b_txn),
            _ => false,
        }
}

/// Formatting equality; no attributes and an empty set are the same thing.
fn same_attrs(a: Option<&Attrs>, b: Option<&Attrs>) -> bool {
    let empty = Attrs::new();
    let (a, b) = (a.unwrap_or(&empty), b.unwrap_or(&empty));
    a.len() == b.len()
        && a.iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| same_any(v, w)))
}

/// Plain-value equality. Numbers compare by value whatever their representation (an integer
/// beyond 32 bits comes back from an update as a float), but exactly: NaN equals NaN, so that a
/// NaN stored in both documents is not rewritten on every restore, and -0 is not 0.
fn same_any(a: &Any, b: &Any) -> bool {
    match (a, b) {
        (Any::Number(x), Any::Number(y)) => number_key(*x) == number_key(*y),
        (Any::Array(x), Any::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(x, y)| same_any(x, y))
        }
        (Any::Map(x), Any::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_any(v, w)))
        }
        _ => a == b,
    }
}

/// Deep content equality of two values read from two documents.
fn same_value<A: ReadTxn, B: ReadTxn>(a: &Out, a_txn: &A, b: &Out, b_txn: &B) -> bool {
    match (a, b) {
        (Out::Any(x), Out::Any(y)) => same_any(x, y),
        (Out::YMap(x), Out::YMap(y)) => {
            x.len(a_txn) == y.len(b_txn)
                && x.iter(a_txn).all(|(k, v)| {
                    y.get(b_txn, k)
                        .is_some_and(|w| same_value(&v, a_txn, &w, b_txn))
                })
        }
        (Out::YArray(x), Out::YArray(y)) => {
            x.len(a_txn) == y.len(b_txn)
                && x.iter(a_txn)
                    .zip(y.iter(b_txn))
                    .all(|(v, w)| same_value(&v, a_txn, &w, b_txn))
        }
        (Out::YText(x), Out::YText(y)) => {
            let (xc, yc) = (
                x.diff(a_txn, YChange::identity),
                y.diff(b_txn, YChange::identity),
            );
            let (xu, yu) = (units(&xc), units(&yc));
            xu.len() == yu.len()
                && xu
                    .iter()
                    .zip(yu.iter())
                    .all(|(u, v)| same_unit(u, a_txn, v, b_txn))
        }
        _ => false,
    }
}

/// A hash of a value's content: equal values (in the sense of [`same_value`]) hash alike,
/// whichever document they are in. Used to find equal array elements quickly.
fn fingerprint<R: ReadTxn>(value: &Out, txn: &R) -> u64 {
    let mut h = DefaultHasher::new();
    hash_value(value, txn, &mut h);
    h.finish()
}

fn hash_value<R: ReadTxn>(value: &Out, txn: &R, h: &mut DefaultHasher) {
    match value {
        Out::Any(any) => {
            0u8.hash(h);
            hash_any(any, h);
        }
        Out::YMap(map) => {
            1u8.hash(h);
            let mut entries: Vec<(String, u64)> = map
                .iter(txn)
                .map(|(k, v)| (k.to_owned(), fingerprint(&v, txn)))
                .collect();
            entries.sort();
            entries.hash(h);
        }
        Out::YArray(array) => {
            2u8.hash(h);
            for v in array.iter(txn) {
                fingerprint(&v, txn).hash(h);
            }
        }
        Out::YText(text) => {
            3u8.hash(h);
            for chunk in text.diff(txn, YChange::identity) {
                // Runs of characters with one formatting hash alike however yrs splits them.
                match &chunk.insert {
                    Out::Any(Any::String(s)) => {
                        for c in s.chars() {
                            c.hash(h);
                            hash_attrs(chunk.attributes.as_deref(), h);
                        }
                    }
                    other => {
                        hash_value(other, txn, h);
                        hash_attrs(chunk.attributes.as_deref(), h);
                    }
                }
            }
        }
        other => {
            4u8.hash(h);
            type_name(other).hash(h);
        }
    }
}

/// A number's value as something to compare and hash: the bits of the float it equals, or the
/// integer itself when no float equals it.
fn number_key(n: Number) -> (bool, u64) {
    let float = match n {
        Number::Int(i) if (i as f64) as i128 == i128::from(i) => i as f64,
        Number::Int(i) => return (false, i as u64),
        Number::Float(f) => f,
    };
    let bits = if float.is_nan() {
        f64::NAN.to_bits()
    } else {
        float.to_bits()
    };
    (true, bits)
}

fn hash_attrs(attrs: Option<&Attrs>, h: &mut DefaultHasher) {
    let mut sorted: Vec<(&str, u64)> = attrs
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let mut inner = DefaultHasher::new();
            hash_any(v, &mut inner);
            (k.as_ref(), inner.finish())
        })
        .collect();
    sorted.sort();
    sorted.hash(h);
}

fn hash_any(any: &Any, h: &mut DefaultHasher) {
    match any {
        Any::Null => 0u8.hash(h),
        Any::Undefined => 1u8.hash(h),
        Any::Bool(b) => (2u8, b).hash(h),
        Any::Number(n) => (3u8, number_key(*n)).hash(h),
        Any::String(s) => (5u8, s.as_ref()).hash(h),
        Any::Buffer(b) => (6u8, b.as_ref()).hash(h),
        Any::Array(items) => {
            (7u8, items.len()).hash(h);
            for item in items.iter() {
                hash_any(item, h);
            }
        }
        Any::Map(map) => {
            let mut entries: Vec<(&String, u64)> = map
                .iter()
                .map(|(k, v)| {
                    let mut inner = DefaultHasher::new();
                    hash_any(v, &mut inner);
                    (k, inner.finish())
                })
                .collect();
            entries.sort();
            (8u8, entries).hash(h);
        }
    }
}

/// One step of turning a live array into the target's, in order along the live array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The live element is already right.
    Keep,
    /// Edit live element `.0` in place into target element `.1` (shared types of one kind).
    Edit(usize, usize),
    /// Remove the live element here.
    Remove,
    /// Insert target element `.0` here.
    Insert(usize),
}

/// Aligns a live array with the target's: the common prefix and suffix are kept, then the
/// longest common run of equal elements in between; what remains between two kept elements is
/// paired by position, a pair of shared types of one kind being edited in place (so that
/// concurrent edits inside it survive) and anything else removed and inserted.
fn align<A: ReadTxn, B: ReadTxn>(have: &[Out], a_txn: &A, want: &[Out], b_txn: &B) -> Vec<Step> {
    let same = |i: usize, j: usize| same_value(&have[i], a_txn, &want[j], b_txn);
    let common = have.len().min(want.len());
    let prefix = (0..common).take_while(|&i| same(i, i)).count();
    let suffix = (0..common - prefix)
        .take_while(|&k| same(have.len() - 1 - k, want.len() - 1 - k))
        .count();
    let (l_end, t_end) = (have.len() - suffix, want.len() - suffix);

    let mut steps = vec![Step::Keep; prefix];
    let anchors = if (l_end - prefix).saturating_mul(t_end - prefix) <= ALIGN_CELLS {
        let l_fp: Vec<u64> = have[prefix..l_end]
            .iter()
            .map(|v| fingerprint(v, a_txn))
            .collect();
        let t_fp: Vec<u64> = want[prefix..t_end]
            .iter()
            .map(|v| fingerprint(v, b_txn))
            .collect();
        common_run(&l_fp, &t_fp)
            .into_iter()
            .map(|(i, j)| (i + prefix, j + prefix))
            .filter(|&(i, j)| same(i, j))
            .collect()
    } else {
        Vec::new()
    };
    let (mut l, mut t) = (prefix, prefix);
    for (i, j) in anchors.into_iter().chain(std::iter::once((l_end, t_end))) {
        let paired = (i - l).min(j - t);
        for k in 0..paired {
            let (x, y) = (&have[l + k], &want[t + k]);
            if Kind::of(x).is_some() && Kind::of(x) == Kind::of(y) {
                steps.push(Step::Edit(l + k, t + k));
            } else {
                steps.push(Step::Remove);
                steps.push(Step::Insert(t + k));
            }
        }
        steps.extend(std::iter::repeat_n(Step::Remove, i - l - paired));
        steps.extend((t + paired..j).map(Step::Insert));
        if i < l_end {
            steps.push(Step::Keep);
        }
        (l, t) = (i + 1, j + 1);
    }
    steps.extend(std::iter::repeat_n(Step::Keep, suffix));
    steps
}

/// The index pairs of a longest common subsequence of `a` and `b`.
fn common_run(a: &[u64], b: &[u64]) -> Vec<(usize, usize)> {
    let (n, m) = (a.len(), b.len());
    if n == 0 || m == 0 {
        return Vec::new();
    }
    // table[i * (m + 1) + j]: length of a longest common subsequence of a[i..] and b[j..].
    let w = m + 1;
    let mut table = vec![0u32; (n + 1) * w];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            table[i * w + j] = if a[i] == b[j] {
                table[(i + 1) * w + j + 1] + 1
            } else {
                table[(i + 1) * w + j].max(table[i * w + j + 1])
            };
        }
    }
    let mut pairs = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if a[i] == b[j] {
            pairs.push((i, j));
            i += 1;
            j += 1;
        } else if table[(i + 1) * w + j] >= table[i * w + j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_run_of_two_sequences_keeps_their_order() {
        assert_eq!(common_run(&[1, 2, 3, 4], &[2, 4, 5]), vec![(1, 0), (3, 1)]);
        assert_eq!(common_run(&[], &[1]), vec![]);
        assert_eq!(common_run(&[7, 7], &[7]), vec![(0, 0)]);
    }
}
