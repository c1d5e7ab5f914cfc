//! Who made each change between two versions of a board: the board history's attribution.
//!
//! The server stores every update of a board with its author. To say who changed what between
//! two versions, it replays the stored updates into a [`Replayer`], which notes, for each update,
//! which parts of the board it touched ([`Target`]s: a card's text, a card's votes, a stage's
//! emotion score…) and credits them to the update's author. [`diff`](super::diff) then says what
//! changed between the two boards, and [`attribute`] names, for each [`Change`], the authors of
//! the updates that touched what that change reports.
//!
//! ```
//! use client_protocol::schema::{attribute, diff, Board, Replayer};
//! # fn stored_updates() -> Vec<(Vec<u8>, String)> { Vec::new() }
//!
//! let mut replay = Replayer::new();
//! let before = Board::from_doc(replay.doc()); // or replay up to the first version first
//! for (update, author) in stored_updates() {
//!     replay.apply(&update, &author).expect("a stored update replays");
//! }
//! let after = Board::from_doc(replay.doc());
//! let changes = attribute(diff(&before, &after), &replay.take_touched());
//! assert!(changes.is_empty());
//! ```
//!
//! Targets are finer than whole cards on purpose: a participant who only voted on a card is not
//! named as an author of its new text.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use yrs::types::{Event, PathSegment};
use yrs::{DeepObservable, Doc, MapRef, TransactionMut};

use super::diff::Change;
use super::model::keys;
use super::write::BoardRefs;
use crate::apply::{self, Poisoned};

/// A part of a board that an update can touch: the unit authors are credited for.
///
/// Item-level variants have a `field`: `None` stands for the item itself (it was created, deleted
/// or replaced as a whole), `Some(key)` for one of its keys (`text`, `votes`, `emotion`,
/// `stage`…), including everything nested below that key (a vote is `votes`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A key of `meta` (`title`, `keyTouchpoint`…).
    Meta {
        /// The key.
        field: String,
    },
    /// A persona, or one of its fields.
    Persona {
        /// The persona's id.
        persona: String,
        /// The key, or `None` for the persona itself.
        field: Option<String>,
    },
    /// A stage, or one of its fields (`name`, `emotion`…; a metric is [`Target::Metric`]).
    Stage {
        /// The stage's id.
        stage: String,
        /// The key, or `None` for the stage itself.
        field: Option<String>,
    },
    /// One metric of a stage: added, removed, or any of its fields.
    Metric {
        /// The stage's id.
        stage: String,
        /// The metric's id.
        metric: String,
    },
    /// A lane, or one of its fields.
    Lane {
        /// The lane's id.
        lane: String,
        /// The key, or `None` for the lane itself.
        field: Option<String>,
    },
    /// A card, or one of its fields (`text`, `stage`, `lane`, `votes`, `reactions`…; a comment is
    /// [`Target::Comment`]).
    Card {
        /// The card's id.
        card: String,
        /// The key, or `None` for the card itself.
        field: Option<String>,
    },
    /// One comment of a card: added, removed, or edited.
    Comment {
        /// The card's id.
        card: String,
        /// The comment's id.
        comment: String,
    },
    /// A key of `workshop` (the timer, the voting round).
    Workshop {
        /// The key.
        field: String,
    },
}

/// A [`Change`] with the people who made it. Serialised as the change's own JSON plus an
/// `authors` array (`{"change": "cardEdited", "card": "…", "before": "…", "after": "…",
/// "authors": ["Ana"]}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributedChange {
    /// What changed.
    #[serde(flatten)]
    pub change: Change,
    /// Who made it, sorted; empty when no replayed update touched what it reports (the two
    /// versions were not read from the replay the touches come from).
    pub authors: Vec<String>,
}

/// Why a stored update could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The bytes are not an update yrs accepts. Part of it may have been integrated before the
    /// failure; that part is in the document and credited to the update's author.
    #[error("the update was refused: {0}")]
    Rejected(String),
    /// The update builds on changes the document does not have: updates were skipped or replayed
    /// out of order. What did not depend on them may have been integrated (and credited).
    #[error("the update depends on updates that were not replayed before it")]
    MissingPredecessors,
    /// yrs panicked while applying an update: the document can no longer be trusted, and every
    /// later call fails the same way. Drop the replayer.
    #[error("replaying panicked inside yrs; the document can no longer be trusted")]
    Poisoned,
}

/// Replays a board's stored updates into a document of its own, noting which [`Target`]s each
/// update touched and crediting them to its author.
///
/// Cheap per update: the root maps are observed once (deep observers, registered when the
/// replayer is made), and an update costs its application plus one small record per changed
/// map key or text. It never panics on stored bytes: updates go through
/// [`apply::apply_update`], which checks their structure before yrs sees them and catches a
/// panic inside yrs ([`ReplayError::Poisoned`]).
pub struct Replayer {
    /// The board as replayed so far.
    doc: Doc,
    /// Where the observers put what the update being applied touches; shared with them.
    sink: Arc<Mutex<Sink>>,
    /// Everything touched since the last [`take_touched`](Self::take_touched), with who did it.
    touched: HashMap<Target, BTreeSet<String>>,
    /// Set once yrs panicked: the document may be inconsistent, so nothing more is replayed.
    poisoned: bool,
}

/// The observers' output for the update being applied.
///
/// Behind a mutex only because yrs (built with its `sync` feature) wants observers that are
/// `Send + Sync`; the observers run on the replaying thread, inside [`Replayer::apply`].
#[derive(Debug, Default)]
struct Sink {
    /// Whether the observers record at all (not while catching up without attribution).
    recording: bool,
    /// What the update touched.
    targets: BTreeSet<Target>,
}

/// The board's root maps, as the observers tell them apart.
#[derive(Debug, Clone, Copy)]
enum Root {
    Meta,
    Personas,
    Stages,
    Lanes,
    Cards,
    Workshop,
}

/// The origin the replayer's observers are registered under (yrs keys subscriptions by origin).
const OBSERVER: &str = "parcours-attribution";

impl Default for Replayer {
    fn default() -> Self {
        Self::new()
    }
}

impl Replayer {
    /// A replayer on an empty board. Replay a board from its first update (or a snapshot, with
    /// [`apply_unattributed`](Self::apply_unattributed)).
    pub fn new() -> Self {
        let doc = Doc::new();
        let refs = BoardRefs::new(&doc);
        let sink = Arc::new(Mutex::new(Sink::default()));
        let roots: [(&MapRef, Root); 6] = [
            (&refs.meta, Root::Meta),
            (&refs.personas, Root::Personas),
            (&refs.stages, Root::Stages),
            (&refs.lanes, Root::Lanes),
            (&refs.cards, Root::Cards),
            (&refs.workshop, Root::Workshop),
        ];
        for (map, root) in roots {
            let sink = Arc::clone(&sink);
            map.observe_deep(OBSERVER, move |txn, events| {
                let mut sink = lock(&sink);
                if sink.recording {
                    for event in events.iter() {
                        record(root, txn, event, &mut sink.targets);
                    }
                }
            });
        }
        Replayer {
            doc,
            sink,
            touched: HashMap::new(),
            poisoned: false,
        }
    }

    /// Applies one stored update (lib0 v1) in a transaction of its own, credits `author` with
    /// every target it touched, and returns those targets.
    ///
    /// Insertions and deletions both count: deleting a card touches the card, taking back a vote
    /// touches the card's `votes`. A duplicate update touches nothing. On an error, what the
    /// update integrated before failing is still credited (it is in the document).
    pub fn apply(&mut self, update: &[u8], author: &str) -> Result<BTreeSet<Target>, ReplayError> {
        let (targets, outcome) = self.integrate(update, true);
        for target in &targets {
            match self.touched.get_mut(target) {
                Some(authors) => {
                    if !authors.contains(author) {
                        authors.insert(author.to_owned());
                    }
                }
                None => {
                    self.touched
                        .insert(target.clone(), BTreeSet::from([author.to_owned()]));
                }
            }
        }
        outcome.map(|()| targets)
    }

    /// Applies one stored update without noting what it touched: for catching up to the first of
    /// the two versions being compared, at the cost of the application alone.
    pub fn apply_unattributed(&mut self, update: &[u8]) -> Result<(), ReplayError> {
        self.integrate(update, false).1
    }

    /// The board as replayed so far (read it with [`Board::from_doc`](super::Board::from_doc)).
    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    /// Everything touched by [`apply`](Self::apply) since the last
    /// [`take_touched`](Self::take_touched), with who touched it.
    pub fn touched(&self) -> &HashMap<Target, BTreeSet<String>> {
        &self.touched
    }

    /// Returns what [`touched`](Self::touched) holds and starts afresh: what [`attribute`] needs
    /// for the versions replayed since the last call.
    pub fn take_touched(&mut self) -> HashMap<Target, BTreeSet<String>> {
        std::mem::take(&mut self.touched)
    }

    fn integrate(
        &mut self,
        update: &[u8],
        recording: bool,
    ) -> (BTreeSet<Target>, Result<(), ReplayError>) {
        if self.poisoned {
            return (BTreeSet::new(), Err(ReplayError::Poisoned));
        }
        lock(&self.sink).recording = recording;
        let applied = apply::apply_update(&self.doc, update);
        let targets = {
            let mut sink = lock(&self.sink);
            sink.recording = false;
            std::mem::take(&mut sink.targets)
        };
        let outcome = match applied {
            Err(Poisoned) => {
                self.poisoned = true;
                Err(ReplayError::Poisoned)
            }
            Ok(applied) => match applied.rejected {
                Some(reason) => Err(ReplayError::Rejected(reason)),
                None if applied.missing_predecessors => Err(ReplayError::MissingPredecessors),
                None => Ok(()),
            },
        };
        (targets, outcome)
    }
}

/// Locks the sink even if an observer panicked while holding it: the panic is already reported
/// as [`ReplayError::Poisoned`], and the sink holds nothing that could be left half-written.
fn lock(sink: &Mutex<Sink>) -> MutexGuard<'_, Sink> {
    sink.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Notes the targets one event of a transaction touched: each changed key of a map, or the
/// text (array…) itself.
fn record(root: Root, txn: &TransactionMut, event: &Event, out: &mut BTreeSet<Target>) {
    let path = event.path();
    // Only the first three steps below a root decide the target (`cards/{id}/comments/{id}`).
    let mut steps: Vec<Option<&str>> = path
        .iter()
        .take(3)
        .map(|segment| match segment {
            PathSegment::Key(key) => Some(&**key),
            PathSegment::Index(_) => None,
        })
        .collect();
    match event {
        Event::Map(map) if steps.len() < 3 => {
            for key in map.keys(txn).keys() {
                steps.push(Some(key));
                out.extend(target(root, &steps));
                steps.pop();
            }
        }
        _ => out.extend(target(root, &steps)),
    }
}

/// The target at `steps` (keys from a root, `None` for a sequence index) below `root`; `None`
/// for changes to the root itself or under a sequence where an id belongs, which no board item
/// is made of.
fn target(root: Root, steps: &[Option<&str>]) -> Option<Target> {
    let id = steps.first().copied().flatten()?.to_owned();
    let field = steps.get(1).copied().flatten();
    let sub = steps.get(2).copied().flatten();
    Some(match root {
        Root::Meta => Target::Meta { field: id },
        Root::Workshop => Target::Workshop { field: id },
        Root::Personas => Target::Persona {
            persona: id,
            field: field.map(str::to_owned),
        },
        Root::Lanes => Target::Lane {
            lane: id,
            field: field.map(str::to_owned),
        },
        Root::Stages => match (field, sub) {
            (Some(keys::METRICS), Some(metric)) => Target::Metric {
                stage: id,
                metric: metric.to_owned(),
            },
            _ => Target::Stage {
                stage: id,
                field: field.map(str::to_owned),
            },
        },
        Root::Cards => match (field, sub) {
            (Some(keys::COMMENTS), Some(comment)) => Target::Comment {
                card: id,
                comment: comment.to_owned(),
            },
            _ => Target::Card {
                card: id,
                field: field.map(str::to_owned),
            },
        },
    })
}

/// Names the authors of each change: the people whose updates touched what the change reports.
///
/// - An added item is credited to whoever created it and whoever wrote what the change shows of
///   it (a card's text and cell, a stage's name…): a card Ana wrote and Chloé reworded is
///   theirs.
/// - A removed item is credited to whoever deleted it.
/// - A changed field is credited to whoever touched that field (a card's `text`, its `votes`, a
///   stage's `emotion`); if nobody touched the field on its own, to whoever wrote the whole item
///   (it was replaced, or created with the value).
///
/// `touched` is what [`Replayer::take_touched`] returned for the updates between the two
/// versions `changes` compares.
pub fn attribute(
    changes: Vec<Change>,
    touched: &HashMap<Target, BTreeSet<String>>,
) -> Vec<AttributedChange> {
    changes
        .into_iter()
        .map(|change| {
            let authors = sources(&change)
                .iter()
                .map(|level| {
                    level
                        .iter()
                        .filter_map(|t| touched.get(t))
                        .flatten()
                        .collect::<BTreeSet<_>>()
                })
                .find(|authors| !authors.is_empty())
                .unwrap_or_default()
                .into_iter()
                .cloned()
                .collect();
            AttributedChange { change, authors }
        })
        .collect()
}

/// Where a change's authors are found: the first level whose targets anyone touched.
fn sources(change: &Change) -> Vec<Vec<Target>> {
    let persona = |id: &str, field: Option<&str>| Target::Persona {
        persona: id.to_owned(),
        field: field.map(str::to_owned),
    };
    let stage = |id: &str, field: Option<&str>| Target::Stage {
        stage: id.to_owned(),
        field: field.map(str::to_owned),
    };
    let lane = |id: &str, field: Option<&str>| Target::Lane {
        lane: id.to_owned(),
        field: field.map(str::to_owned),
    };
    let card = |id: &str, field: Option<&str>| Target::Card {
        card: id.to_owned(),
        field: field.map(str::to_owned),
    };
    match change {
        Change::MetaChanged { field, .. } => vec![vec![Target::Meta {
            field: (*field).to_owned(),
        }]],
        Change::PersonaAdded { persona: id, .. } => {
            vec![vec![persona(id, None), persona(id, Some(keys::NAME))]]
        }
        Change::PersonaRemoved { persona: id, .. } => vec![vec![persona(id, None)]],
        Change::PersonaEdited {
            persona: id,
            fields,
        } => vec![
            fields.iter().map(|f| persona(id, Some(*f))).collect(),
            vec![persona(id, None)],
        ],
        Change::StageAdded { stage: id, .. } => {
            vec![vec![stage(id, None), stage(id, Some(keys::NAME))]]
        }
        Change::StageRemoved { stage: id, .. } => vec![vec![stage(id, None)]],
        Change::StageRenamed { stage: id, .. } => {
            vec![vec![stage(id, Some(keys::NAME))], vec![stage(id, None)]]
        }
        Change::EmotionChanged { stage: id, .. } => {
            vec![vec![stage(id, Some(keys::EMOTION))], vec![stage(id, None)]]
        }
        Change::MetricChanged {
            stage: id, metric, ..
        } => vec![
            vec![Target::Metric {
                stage: id.clone(),
                metric: metric.clone(),
            }],
            vec![stage(id, Some(keys::METRICS))],
            vec![stage(id, None)],
        ],
        Change::LaneAdded { lane: id, .. } => {
            vec![vec![lane(id, None), lane(id, Some(keys::TITLE))]]
        }
        Change::LaneRemoved { lane: id, .. } => vec![vec![lane(id, None)]],
        Change::LaneRenamed { lane: id, .. } => {
            vec![vec![lane(id, Some(keys::TITLE))], vec![lane(id, None)]]
        }
        Change::CardAdded { card: id, .. } => vec![vec![
            card(id, None),
            card(id, Some(keys::TEXT)),
            card(id, Some(keys::STAGE)),
            card(id, Some(keys::LANE)),
        ]],
        Change::CardRemoved { card: id, .. } => vec![vec![card(id, None)]],
        Change::CardEdited { card: id, .. } => {
            vec![vec![card(id, Some(keys::TEXT))], vec![card(id, None)]]
        }
        Change::CardMoved { card: id, .. } => vec![
            vec![card(id, Some(keys::STAGE)), card(id, Some(keys::LANE))],
            vec![card(id, None)],
        ],
        Change::CardRestyled {
            card: id, field, ..
        } => {
            vec![vec![card(id, Some(*field))], vec![card(id, None)]]
        }
        Change::VotesChanged { card: id, .. } => {
            vec![vec![card(id, Some(keys::VOTES))], vec![card(id, None)]]
        }
        Change::CommentAdded {
            card: id, comment, ..
        }
        | Change::CommentRemoved { card: id, comment } => vec![
            vec![Target::Comment {
                card: id.clone(),
                comment: comment.clone(),
            }],
            vec![card(id, Some(keys::COMMENTS))],
            vec![card(id, None)],
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{diff, instantiate, Board, BoardWriter, Lang, NewCard};
    use yrs::updates::decoder::Decode;
    use yrs::{Map, ReadTxn, StateVector, Transact, Update};

    /// One participant's replica: it catches up with the replayed board, makes an edit, and
    /// sends it as its own update, the way a client does.
    struct Client {
        doc: Doc,
        refs: BoardRefs,
    }

    impl Client {
        fn new(id: u64) -> Self {
            let doc = Doc::with_client_id(id);
            let refs = BoardRefs::new(&doc);
            Client { doc, refs }
        }

        fn edit<R>(
            &self,
            replay: &Replayer,
            f: impl FnOnce(&mut BoardWriter<'_, '_>) -> R,
        ) -> (Vec<u8>, R) {
            let missing = replay
                .doc()
                .transact()
                .encode_state_as_update_v1(&self.doc.transact().state_vector());
            self.doc
                .transact_mut()
                .apply_update(Update::decode_v1(&missing).unwrap())
                .unwrap();
            let before = self.doc.transact().state_vector();
            let result = {
                let mut txn = self.doc.transact_mut();
                f(&mut BoardWriter::new(
                    &mut txn,
                    &self.refs,
                    1_700_000_000_000,
                ))
            };
            let update = self.doc.transact().encode_state_as_update_v1(&before);
            (update, result)
        }
    }

    /// A replayed customer-journey board with one card by Ana, and its stage and lane ids.
    fn board() -> (Replayer, Client, String, String, String) {
        let mut replay = Replayer::new();
        let ana = Client::new(1);
        let (update, (stage, lane, card)) = ana.edit(&replay, |w| {
            instantiate(w, "customer-journey", Lang::En, "Attribution", None).unwrap();
            let board = Board::read(w.txn());
            let (stage, lane) = (board.stages[0].id.clone(), board.lanes[3].id.clone());
            let card = w
                .add_card(&NewCard {
                    stage: stage.clone(),
                    lane: lane.clone(),
                    text: "Ads feel pushy".into(),
                    author: "Ana".into(),
                    ..NewCard::default()
                })
                .unwrap();
            (stage, lane, card)
        });
        replay.apply(&update, "Ana").unwrap();
        replay.take_touched();
        (replay, ana, stage, lane, card)
    }

    fn card(id: &str, field: Option<&str>) -> Target {
        Target::Card {
            card: id.into(),
            field: field.map(Into::into),
        }
    }

    fn authors(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn deleting_a_card_is_attributed_to_whoever_deleted_it() {
        let (mut replay, _, _, _, id) = board();
        let (update, ()) = Client::new(2).edit(&replay, |w| w.delete_card(&id).unwrap());
        let touched = replay.apply(&update, "Bruno").unwrap();
        assert!(touched.contains(&card(&id, None)), "{touched:?}");
        assert_eq!(replay.touched()[&card(&id, None)], authors(&["Bruno"]));
    }

    #[test]
    fn taking_back_a_vote_is_attributed_to_whoever_took_it_back() {
        let (mut replay, _, _, _, id) = board();
        let bruno = Client::new(2);
        let (vote, _) = bruno.edit(&replay, |w| w.vote(&id, "bruno").unwrap());
        replay.apply(&vote, "Bruno").unwrap();
        let before = Board::from_doc(replay.doc());
        replay.take_touched();
        let (unvote, _) = bruno.edit(&replay, |w| w.unvote(&id, "bruno").unwrap());
        let touched = replay.apply(&unvote, "Bruno").unwrap();
        assert!(
            touched.contains(&card(&id, Some(keys::VOTES))),
            "{touched:?}"
        );
        let changes = attribute(
            diff(&before, &Board::from_doc(replay.doc())),
            &replay.take_touched(),
        );
        assert_eq!(
            changes,
            vec![AttributedChange {
                change: Change::VotesChanged {
                    card: id,
                    before: 1,
                    after: 0
                },
                authors: vec!["Bruno".into()],
            }]
        );
    }

    #[test]
    fn an_update_touching_two_cards_credits_both() {
        let (mut replay, _, stage, lane, first) = board();
        let (update, second) = Client::new(2).edit(&replay, |w| {
            w.set_card_text(&first, "Ads feel very pushy").unwrap();
            w.add_card(&NewCard {
                stage: stage.clone(),
                lane: lane.clone(),
                text: "Too many emails".into(),
                author: "Bruno".into(),
                ..NewCard::default()
            })
            .unwrap()
        });
        let touched = replay.apply(&update, "Bruno").unwrap();
        assert!(
            touched.contains(&card(&first, Some(keys::TEXT))),
            "{touched:?}"
        );
        assert!(touched.contains(&card(&second, None)), "{touched:?}");
        let all = replay.touched();
        assert_eq!(all[&card(&first, Some(keys::TEXT))], authors(&["Bruno"]));
        assert_eq!(all[&card(&second, None)], authors(&["Bruno"]));
    }

    #[test]
    fn a_vote_is_attributed_to_the_voter_and_an_edit_to_the_editor() {
        let (mut replay, _, _, _, id) = board();
        let before = Board::from_doc(replay.doc());
        let (edit, ()) = Client::new(2).edit(&replay, |w| {
            w.set_card_text(&id, "Ads feel pushy!").unwrap()
        });
        replay.apply(&edit, "Chloé").unwrap();
        let (vote, _) = Client::new(3).edit(&replay, |w| w.vote(&id, "bruno").unwrap());
        replay.apply(&vote, "Bruno").unwrap();
        let changes = attribute(
            diff(&before, &Board::from_doc(replay.doc())),
            &replay.take_touched(),
        );
        let named: Vec<(&str, Vec<String>)> = changes
            .iter()
            .map(|c| match &c.change {
                Change::CardEdited { .. } => ("edited", c.authors.clone()),
                Change::VotesChanged { .. } => ("votes", c.authors.clone()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            named,
            vec![
                ("edited", vec!["Chloé".to_owned()]),
                ("votes", vec!["Bruno".to_owned()])
            ]
        );
    }

    #[test]
    fn emotions_metrics_and_comments_have_targets_of_their_own() {
        let (mut replay, _, stage, _, id) = board();
        let metric = Board::from_doc(replay.doc()).stages[0].metrics[0]
            .id
            .clone();
        let (update, _) = Client::new(2).edit(&replay, |w| {
            w.set_stage_emotion(&stage, Some(-1)).unwrap();
            w.set_metric_value(&stage, &metric, 1200.0).unwrap();
            w.add_comment(&id, "Bruno", "Which ads?").unwrap()
        });
        let touched = replay.apply(&update, "Bruno").unwrap();
        assert!(touched.contains(&Target::Stage {
            stage: stage.clone(),
            field: Some(keys::EMOTION.into())
        }));
        assert!(touched.contains(&Target::Metric {
            stage: stage.clone(),
            metric
        }));
        assert!(touched
            .iter()
            .any(|t| matches!(t, Target::Comment { card, .. } if *card == id)));
    }

    #[test]
    fn garbage_bytes_are_an_error_not_a_panic() {
        let (mut replay, ana, _, _, id) = board();
        let (valid, ()) = ana.edit(&replay, |w| w.set_card_text(&id, "Hello").unwrap());
        let garbage: [&[u8]; 5] = [
            &[],
            &[1, 2, 3],
            &[0xff; 64],
            &valid[..valid.len() / 2],
            b"not an update at all",
        ];
        for bytes in garbage {
            assert!(
                matches!(
                    replay.apply(bytes, "Mallory"),
                    Err(ReplayError::Rejected(_))
                ),
                "{bytes:?}"
            );
        }
        assert!(replay.touched().is_empty());
        assert!(replay.apply(&valid, "Ana").is_ok());
    }

    #[test]
    fn an_update_replayed_before_its_predecessor_is_an_error() {
        let (mut replay, _, _, _, id) = board();
        let bruno = Client::new(2);
        let mut local = Replayer::new();
        let snapshot = replay
            .doc()
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        local.apply_unattributed(&snapshot).unwrap();
        let (first, _) = bruno.edit(&local, |w| w.vote(&id, "bruno").unwrap());
        local.apply(&first, "Bruno").unwrap();
        let (second, _) = bruno.edit(&local, |w| w.vote(&id, "bruno").unwrap());
        assert_eq!(
            replay.apply(&second, "Bruno"),
            Err(ReplayError::MissingPredecessors)
        );
        assert!(replay.apply(&first, "Bruno").is_ok());
        assert!(replay.apply(&second, "Bruno").is_ok());
    }

    #[test]
    fn a_duplicate_or_unattributed_update_credits_nobody() {
        let (mut replay, _, _, _, id) = board();
        let (update, _) = Client::new(2).edit(&replay, |w| w.vote(&id, "bruno").unwrap());
        replay.apply_unattributed(&update).unwrap();
        assert_eq!(replay.apply(&update, "Bruno"), Ok(BTreeSet::new()));
        assert!(replay.touched().is_empty());
    }

    #[test]
    fn an_attributed_change_is_the_change_plus_its_authors_in_json() {
        let change = AttributedChange {
            change: Change::EmotionChanged {
                stage: "s1".into(),
                before: None,
                after: Some(-2),
            },
            authors: vec!["Ana".into(), "Bruno".into()],
        };
        assert_eq!(
            serde_json::to_value(&change).unwrap(),
            serde_json::json!({
                "change": "emotionChanged",
                "stage": "s1",
                "before": null,
                "after": -2,
                "authors": ["Ana", "Bruno"]
            })
        );
    }

    #[test]
    fn a_replaced_card_credits_its_fields_to_whoever_replaced_it() {
        let (mut replay, _, _, _, id) = board();
        let before = Board::from_doc(replay.doc());
        let (update, ()) = Client::new(2).edit(&replay, |w| {
            let cards = w.refs().cards.clone();
            let txn = w.txn();
            let card = cards.insert(txn, id.as_str(), yrs::MapPrelim::default());
            card.insert(txn, keys::STAGE, before.cards[0].stage.as_str());
            card.insert(txn, keys::LANE, before.cards[0].lane.as_str());
            card.insert(txn, keys::TEXT, yrs::TextPrelim::new("Rewritten"));
        });
        replay.apply(&update, "Bruno").unwrap();
        let changes = attribute(
            diff(&before, &Board::from_doc(replay.doc())),
            &replay.take_touched(),
        );
        assert!(!changes.is_empty());
        for change in changes {
            assert_eq!(change.authors, vec!["Bruno".to_owned()], "{change:?}");
        }
    }
}
