//! Who may change what on a board: roles, and the participant an edit comes from.
//!
//! The server decides every connection's [`Actor`] from its access token (or gives everyone the
//! owner role when it runs open, without an admin key) and inspects each incoming update against
//! it before applying anything; PROTOCOL.md §7.3 lists the rules.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use yrs::{Any, Map, MapRef, Out, ReadTxn};

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::blocks::{encode_deletions, BlockKind, Blocks, Content, Id, Range, Rewrite};
use crate::inspect::{Change, Inspection, Seg, Source, Touch};
use crate::schema::keys;

/// What a participant may do on a board, least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the board, sees and sends presence; changes nothing.
    Viewer,
    /// Adds and edits cards, votes, comments and reacts; cannot change the board's structure
    /// (meta, personas, stages, lanes, the workshop timer and voting) nor anyone's authorship.
    Participant,
    /// Every board edit; runs the timer and voting rounds.
    Facilitator,
    /// A facilitator who also issues tokens and deletes the board.
    Owner,
}

impl Role {
    /// Every role, least to most.
    pub const ALL: [Role; 4] = [
        Role::Viewer,
        Role::Participant,
        Role::Facilitator,
        Role::Owner,
    ];

    /// The role's name in tokens and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Participant => "participant",
            Role::Facilitator => "facilitator",
            Role::Owner => "owner",
        }
    }

    /// Whether this role may make every kind of board edit.
    pub fn edits_everything(self) -> bool {
        self >= Role::Facilitator
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected viewer, participant, facilitator or owner)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// The participant behind a connection: what their edits are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Their role on the board.
    pub role: Role,
    /// Their stable participant id (the token's `sub`): the key of their votes and reactions,
    /// and the `authorId` of the cards and comments they create.
    pub sub: String,
    /// Their display name (the token's `name`): the `author` of what they create.
    pub name: String,
}

impl Actor {
    /// Who everyone is on a server without an admin key: owners, anonymous.
    pub fn open() -> Self {
        Actor {
            role: Role::Owner,
            sub: String::new(),
            name: String::new(),
        }
    }
}

/// Why part of an update was refused: what a permission-denied message tells its sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} ({path})")]
pub struct Denied {
    /// Where on the board, `cards/3f9a…/author`.
    pub path: String,
    /// Why, in a sentence.
    pub reason: &'static str,
}

/// The verdict on an inspected update: which of its touches the actor may not make.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// `(index into Inspection::touches, why)` for every refused touch.
    pub denied: Vec<(usize, Denied)>,
}

impl Verdict {
    /// Whether everything is allowed.
    pub fn allowed(&self) -> bool {
        self.denied.is_empty()
    }
}

/// Judges every change of `inspection` against what `actor` may do on the board whose current
/// state `txn` reads (PROTOCOL.md §7.3).
///
/// Facilitators and owners may change anything. Viewers may change nothing. Participants may
/// create cards, edit any card's content and placement, delete cards they created, vote and
/// react in their own name, and comment; they may not touch the board's settings, personas,
/// stages, lanes or workshop controls, nor anyone's authorship or votes.
pub fn judge<T: ReadTxn>(actor: &Actor, inspection: &Inspection<'_>, txn: &T) -> Verdict {
    let mut verdict = Verdict::default();
    if actor.role.edits_everything() {
        return verdict;
    }
    let board = BoardView { txn };
    let mut votes: Vec<(usize, &str, Option<f64>)> = Vec::new();
    for (i, touch) in inspection.touches.iter().enumerate() {
        let outcome = match actor.role {
            Role::Viewer => Err("viewers cannot change the board"),
            _ => participant(actor, touch, &board, &mut votes, i),
        };
        if let Err(reason) = outcome {
            verdict.denied.push((
                i,
                Denied {
                    path: touch.display_path(),
                    reason,
                },
            ));
        }
    }
    // Deleting a card or a comment deletes everything inside it: allowed with it.
    let denied: HashSet<usize> = verdict.denied.iter().map(|(i, _)| *i).collect();
    let deleted_items: HashSet<Id> = inspection
        .touches
        .iter()
        .enumerate()
        .filter(|(i, t)| t.change == Change::Delete && !denied.contains(i))
        .filter_map(|(_, t)| t.path.last().and_then(|s| s.item))
        .collect();
    verdict.denied.retain(|(i, _)| {
        let touch = &inspection.touches[*i];
        let ancestors = &touch.path[..touch.path.len().saturating_sub(1)];
        !(touch.change == Change::Delete
            && ancestors
                .iter()
                .any(|s| s.item.is_some_and(|id| deleted_items.contains(&id))))
    });
    // Dot votes are checked together: the round must be open and the participant's dots must
    // last, counting every card this update changes.
    if !votes.is_empty() {
        let denial = board.vote_denial(&actor.sub, &votes);
        if let Some(reason) = denial {
            for &(i, _, _) in &votes {
                verdict.denied.push((
                    i,
                    Denied {
                        path: inspection.touches[i].display_path(),
                        reason,
                    },
                ));
            }
        }
    }
    verdict
}

/// What a participant may change; `votes` collects their dot votes for the check that needs
/// them all.
fn participant<'t>(
    actor: &Actor,
    touch: &'t Touch<'_>,
    board: &BoardView<'_, impl ReadTxn>,
    votes: &mut Vec<(usize, &'t str, Option<f64>)>,
    index: usize,
) -> Result<(), &'static str> {
    if touch.unplaced() {
        return Err("the change could not be placed on the board");
    }
    let path: Vec<Option<&str>> = touch.keys().collect();
    let value = match touch.change {
        Change::Insert(content) => Some(content),
        Change::Delete => None,
    };
    match path.as_slice() {
        // Every writer stamps the board's last edit; setting it deletes the previous stamp.
        [Some(keys::META), Some(keys::UPDATED_AT)] => match value {
            None => Ok(()),
            Some(c) if c.value().as_ref().and_then(number).is_some() => Ok(()),
            Some(_) => Err("participants may only set meta.updatedAt, to a time"),
        },
        [Some(keys::META), ..] => Err("only facilitators change the board's settings"),
        [Some(keys::PERSONAS | keys::STAGES | keys::LANES), ..] => {
            Err("only facilitators change personas, stages and lanes")
        }
        [Some(keys::WORKSHOP), ..] => Err("only facilitators run the timer and voting rounds"),
        [Some(keys::CARDS), Some(card), rest @ ..] => {
            let new_card = touch.path[1].new;
            card_change(
                actor, touch, board, card, new_card, rest, value, votes, index,
            )
        }
        _ => Err("participants may only change cards"),
    }
}

#[allow(clippy::too_many_arguments)]
fn card_change<'t>(
    actor: &Actor,
    touch: &'t Touch<'_>,
    board: &BoardView<'_, impl ReadTxn>,
    card: &str,
    new_card: bool,
    rest: &[Option<&'t str>],
    value: Option<Content<'_>>,
    votes: &mut Vec<(usize, &'t str, Option<f64>)>,
    index: usize,
) -> Result<(), &'static str> {
    let own_card = || board.author_id(&[keys::CARDS, card]).as_deref() == Some(actor.sub.as_str());
    match rest {
        // The card itself: create it, or replace or delete an existing one.
        [] => match value {
            Some(Content::Type(TYPE_MAP)) if !board.exists(&[keys::CARDS, card]) => Ok(()),
            Some(Content::Type(TYPE_MAP)) | None if own_card() => Ok(()),
            Some(Content::Type(TYPE_MAP)) | None => {
                Err("only its author or a facilitator may delete or replace a card")
            }
            Some(_) => Err("a card must be a Y.Map"),
        },
        [Some(field @ (keys::AUTHOR | keys::AUTHOR_ID))] if new_card => {
            own_name(actor, field, value)
        }
        [Some(keys::AUTHOR | keys::AUTHOR_ID), ..] => {
            Err("participants cannot change a card's authorship")
        }
        [Some(keys::VOTES | keys::COMMENTS | keys::REACTIONS)] if new_card => Ok(()),
        [Some(keys::VOTES | keys::COMMENTS | keys::REACTIONS)] => {
            Err("participants cannot replace a card's votes, comments or reactions")
        }
        [Some(keys::VOTES), Some(voter)] if *voter == actor.sub => {
            let count = match value {
                None => None,
                Some(content) => match content.value().as_ref().and_then(number) {
                    Some(n) if n.fract() == 0.0 && n >= 1.0 => Some(n),
                    _ => return Err("a vote count is a positive integer"),
                },
            };
            votes.push((index, card_key(touch), count));
            Ok(())
        }
        [Some(keys::VOTES), ..] => Err("participants vote only in their own name"),
        [Some(keys::COMMENTS), Some(comment), tail @ ..] => {
            let new_comment = touch.path[3].new;
            let own_comment = || {
                board
                    .author_id(&[keys::CARDS, card, keys::COMMENTS, comment])
                    .as_deref()
                    == Some(actor.sub.as_str())
            };
            match tail {
                [] if value.is_some()
                    && !board.exists(&[keys::CARDS, card, keys::COMMENTS, comment]) =>
                {
                    Ok(())
                }
                [Some(field @ (keys::AUTHOR | keys::AUTHOR_ID))] if new_comment => {
                    own_name(actor, field, value)
                }
                [Some(keys::AUTHOR | keys::AUTHOR_ID), ..] => {
                    Err("participants cannot change a comment's authorship")
                }
                _ if new_comment || own_comment() => Ok(()),
                _ => Err("only its author or a facilitator may change a comment"),
            }
        }
        [Some(keys::REACTIONS), Some(emoji)] => match value {
            Some(Content::Type(TYPE_MAP))
                if !board.exists(&[keys::CARDS, card, keys::REACTIONS, emoji]) =>
            {
                Ok(())
            }
            _ => Err("participants cannot remove or replace everyone's reactions"),
        },
        [Some(keys::REACTIONS), Some(_), Some(who)] if *who == actor.sub => Ok(()),
        [Some(keys::REACTIONS), ..] => Err("participants react only in their own name"),
        // Text, placement, colour, team, priority, timestamps, and keys newer clients add.
        _ => Ok(()),
    }
}

/// The card id of a touch under `cards/{id}/…`.
fn card_key<'t>(touch: &'t Touch<'_>) -> &'t str {
    match touch.path.get(1).map(|s| s.seg) {
        Some(Seg::Key(k)) => k,
        _ => "",
    }
}

/// Checks that what a participant writes as `author` / `authorId` of something they create is
/// their own name / id.
fn own_name(actor: &Actor, field: &str, value: Option<Content<'_>>) -> Result<(), &'static str> {
    let expected = if field == keys::AUTHOR_ID {
        &actor.sub
    } else if actor.name.is_empty() {
        return Ok(()); // a token without a display name: any name goes
    } else {
        &actor.name
    };
    match value.and_then(|c| c.value()) {
        Some(Any::String(s)) if *s == **expected => Ok(()),
        _ => Err("what you create must carry your own name and id"),
    }
}

/// A finite number value.
fn number(any: &Any) -> Option<f64> {
    match any {
        Any::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// yrs's type ref of a Y.Map.
const TYPE_MAP: u8 = 1;

/// Reads the parts of the current board the rules depend on.
struct BoardView<'a, T: ReadTxn> {
    txn: &'a T,
}

impl<T: ReadTxn> BoardView<'_, T> {
    /// The Y.Map at `path` (a root name, then keys), if there is one.
    fn map(&self, path: &[&str]) -> Option<MapRef> {
        let (root, keys) = path.split_first()?;
        let mut map = self.txn.get_map(*root)?;
        for key in keys {
            map = match map.get(self.txn, key)? {
                Out::YMap(m) => m,
                _ => return None,
            };
        }
        Some(map)
    }

    fn exists(&self, path: &[&str]) -> bool {
        match path.split_last() {
            Some((key, parent)) => self
                .map(parent)
                .is_some_and(|m| m.get(self.txn, key).is_some()),
            None => false,
        }
    }

    fn author_id(&self, path: &[&str]) -> Option<String> {
        match self.map(path)?.get(self.txn, keys::AUTHOR_ID)? {
            Out::Any(Any::String(s)) => Some(s.to_string()),
            _ => None,
        }
    }

    fn number(&self, map: &MapRef, key: &str) -> Option<f64> {
        match map.get(self.txn, key)? {
            Out::Any(any) => number(&any),
            _ => None,
        }
    }

    /// Why `sub`'s dot votes `(touch, card, new count)` may not be cast, if they may not.
    fn vote_denial(&self, sub: &str, votes: &[(usize, &str, Option<f64>)]) -> Option<&'static str> {
        let workshop = self.map(&[keys::WORKSHOP]);
        let open = workshop
            .as_ref()
            .and_then(|w| match w.get(self.txn, keys::VOTING_OPEN)? {
                Out::Any(Any::Bool(b)) => Some(b),
                _ => None,
            });
        if open == Some(false) {
            return Some("voting is closed");
        }
        let budget = workshop
            .as_ref()
            .and_then(|w| self.number(w, keys::VOTES_PER_PARTICIPANT))
            .filter(|b| *b > 0.0);
        let budget = budget?;
        let cards = self.map(&[keys::CARDS])?;
        let mut total = 0.0;
        for (id, card) in cards.iter(self.txn) {
            if votes.iter().any(|(_, c, _)| *c == id) {
                continue;
            }
            if let Out::YMap(card) = card {
                if let Some(Out::YMap(v)) = card.get(self.txn, keys::VOTES) {
                    total += self.number(&v, sub).unwrap_or(0.0);
                }
            }
        }
        // A card's new count is what the update writes there (its last write); a card where it
        // only deletes (an un-vote) is back to zero.
        let mut counted: Vec<&str> = Vec::new();
        for (_, card, count) in votes.iter().rev() {
            if counted.contains(card) {
                continue;
            }
            let written = votes
                .iter()
                .rev()
                .filter(|(_, c, _)| c == card)
                .find_map(|(_, _, n)| *n);
            counted.push(card);
            total += written.or(*count).unwrap_or(0.0);
        }
        (total > budget).then_some("you have no dot votes left in this round")
    }
}

/// What to do with an update of which some changes were refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The update to apply instead: refused insertions emptied of their content (tombstones in
    /// the same place, or placeholders where even a tombstone would change something), so that
    /// the sender's later edits, which continue its clock sequence and may sit next to the
    /// refused ones, still apply where they were made; refused deletions left out.
    pub update: Vec<u8>,
    /// Map values the refusal must write again once `update` is applied: a refused overwrite
    /// or deletion removed them from the sender's document (a Yjs document cannot undo a
    /// deletion), and a tombstone may have replaced them on the server. Writing the current
    /// value anew brings every document back to it; see [`restore`].
    pub restore: Vec<Restore>,
    /// An update that deletes the refused insertions, for their sender only: it takes them
    /// back out of the sender's document.
    pub take_back: Vec<u8>,
    /// The reason to send with the permission-denied message.
    pub reason: String,
}

/// Builds the [`Refusal`] for an update `verdict` does not wholly allow. With `whole`, nothing
/// of it is applied (a live update: one transaction of its sender, refused as a unit); without,
/// only the refused changes are dropped (a sync step 2, which carries everything a reconnecting
/// client made offline, and with it its whole delete set).
///
/// Insertions that depend on a refused one (inside it, or next to it) are refused with it, so
/// that nothing is applied in a place the refusal removed.
pub fn refuse<T: ReadTxn>(
    blocks: &Blocks<'_>,
    inspection: &Inspection<'_>,
    verdict: &Verdict,
    whole: bool,
    txn: &T,
) -> Refusal {
    let mut refused: HashSet<usize> = HashSet::new();
    let mut refused_deletes: Vec<Range> = Vec::new();
    for (touch, _) in &verdict.denied {
        match inspection.touches[*touch].source {
            Source::Block(i) => {
                refused.insert(i);
            }
            Source::Deleted(range) => refused_deletes.push(range),
        }
    }
    if whole {
        refused.extend(inspection.new_blocks.iter().map(|&(i, _)| i));
    }
    // Dependants: anything whose path runs through a refused item, or whose neighbour is one.
    // (A refused live update has all its new blocks refused already.)
    let mut settled = whole;
    while !settled {
        let ranges: BTreeMap<Id, u32> = refused
            .iter()
            .map(|&i| (blocks.blocks[i].id, blocks.blocks[i].len))
            .collect();
        let inside = |id: Id| {
            ranges
                .range(..=id)
                .next_back()
                .is_some_and(|(&(c, k), &len)| c == id.0 && id.1 - k < len)
        };
        let before = refused.len();
        for touch in &inspection.touches {
            if let Source::Block(i) = touch.source {
                let ancestors = &touch.path[..touch.path.len().saturating_sub(1)];
                if !refused.contains(&i) && ancestors.iter().any(|s| s.item.is_some_and(inside)) {
                    refused.insert(i);
                }
            }
        }
        for &(i, _) in &inspection.new_blocks {
            if let BlockKind::Item(item) = blocks.blocks[i].kind {
                let neighbours = [item.origin, item.right_origin];
                if neighbours.into_iter().flatten().any(inside) {
                    refused.insert(i);
                }
            }
        }
        settled = refused.len() == before;
    }
    let kept: Vec<Range> = if whole {
        Vec::new()
    } else {
        blocks
            .deleted
            .iter()
            .flat_map(|&r| subtract(r, &refused_deletes))
            .collect()
    };
    // How each refused insertion is emptied, and which map values must be written again.
    let board = BoardView { txn };
    let mut rewrites: HashMap<usize, Rewrite> = HashMap::new();
    let mut restore: Vec<Restore> = Vec::new();
    let restore_at = |touch: &Touch<'_>, restore: &mut Vec<Restore>| -> Rewrite {
        let keys: Option<Vec<&str>> = touch.keys().collect();
        let Some((key, map)) = keys.as_ref().and_then(|k| k.split_last()) else {
            return Rewrite::Tombstone; // an element of a sequence: a tombstone changes nothing
        };
        if map.is_empty() {
            return Rewrite::Placeholder; // a root type itself
        }
        match board.map(map).and_then(|m| m.get(txn, key)) {
            None => Rewrite::Tombstone,
            Some(Out::Any(value)) => {
                let at = Restore {
                    map: map.iter().map(|k| k.to_string()).collect(),
                    key: key.to_string(),
                    value,
                };
                if !restore.contains(&at) {
                    restore.push(at);
                }
                Rewrite::Tombstone
            }
            // A nested type cannot be written again as the same object: drop the refused item
            // entirely rather than let its tombstone replace it.
            Some(_) => Rewrite::Placeholder,
        }
    };
    for touch in &inspection.touches {
        match touch.source {
            Source::Block(i) if refused.contains(&i) => {
                let rewrite = if touch.unplaced() {
                    Rewrite::Placeholder
                } else {
                    restore_at(touch, &mut restore)
                };
                rewrites.insert(i, rewrite);
            }
            Source::Deleted(range)
                if !touch.unplaced() && (whole || refused_deletes.contains(&range)) =>
            {
                restore_at(touch, &mut restore);
            }
            _ => {}
        }
    }
    let update = blocks.encode(
        |i| match rewrites.get(&i) {
            Some(rewrite) => *rewrite,
            None if refused.contains(&i) => Rewrite::Placeholder,
            None => Rewrite::Keep,
        },
        &kept,
    );
    let take_back: Vec<Range> = inspection
        .new_blocks
        .iter()
        .filter(|(i, _)| refused.contains(i))
        .filter(|(i, _)| matches!(blocks.blocks[*i].kind, BlockKind::Item(_)))
        .map(|&(i, first_new)| {
            let block = &blocks.blocks[i];
            (block.id.0, first_new, block.id.1 + block.len - first_new)
        })
        .collect();
    let mut reason = verdict
        .denied
        .first()
        .map_or_else(|| "refused".to_owned(), |(_, d)| d.to_string());
    if verdict.denied.len() > 1 {
        reason.push_str(&format!(" and {} more", verdict.denied.len() - 1));
    }
    Refusal {
        update,
        restore,
        take_back: encode_deletions(&take_back),
        reason,
    }
}

/// A map value to write again after a refusal: `key` of the Y.Map at `map` (a root name, then
/// keys) gets `value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Restore {
    /// The path of the map from a root type.
    pub map: Vec<String>,
    /// The key.
    pub key: String,
    /// The value it holds on the server.
    pub value: Any,
}

/// Writes the values of `restore` again in `doc` (the server's document), in one transaction;
/// returns the update to store and send to everyone, or `None` if there was nothing to write.
pub fn restore(doc: &yrs::Doc, restore: &[Restore]) -> Option<Vec<u8>> {
    use yrs::Transact;
    if restore.is_empty() {
        return None;
    }
    let mut txn = doc.transact_mut();
    for at in restore {
        let Some(map) =
            (BoardView { txn: &txn }).map(&at.map.iter().map(String::as_str).collect::<Vec<_>>())
        else {
            continue;
        };
        map.insert(&mut txn, at.key.as_str(), at.value.clone());
    }
    let update = txn.encode_update_v1();
    (update != [0, 0]).then_some(update)
}

/// `range` without the parts any of `removed` covers.
fn subtract(range: Range, removed: &[Range]) -> Vec<Range> {
    let mut parts = vec![(range.1, range.1 + range.2)];
    for &(_, clock, len) in removed.iter().filter(|r| r.0 == range.0) {
        let (cut_start, cut_end) = (clock, clock + len);
        parts = parts
            .into_iter()
            .flat_map(|(s, e)| {
                let mut left = Vec::new();
                if s < cut_start.min(e) {
                    left.push((s, cut_start.min(e)));
                }
                if cut_end.max(s) < e {
                    left.push((cut_end.max(s), e));
                }
                left
            })
            .collect();
    }
    parts
        .into_iter()
        .map(|(s, e)| (range.0, s, e - s))
        .collect()
}

#[cfg(test)]
mod tests;
