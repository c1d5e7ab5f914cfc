//! Golden tests of the board history's attributed diff.
//!
//! Each scenario starts a board from the customer-journey template, lets named participants edit
//! it from replicas of their own (each edit one update, encoded against the replica's state
//! vector, as a client sends it), replays those updates through a [`Replayer`] as the server will
//! replay stored ones, and compares the attributed diff between the two versions, as pretty
//! JSON, with `tests/golden/<scenario>.json`. The file also lists what each id in the changes
//! names, so that a reviewer can read it.
//!
//! After an intended change of the output, regenerate the files and review their diff:
//!
//! ```sh
//! UPDATE_GOLDEN=1 cargo test -p client-protocol --test history_golden
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use client_protocol::blocks::parse;
use client_protocol::schema::{
    attribute, diff, instantiate, keys, AttributedChange, Board, BoardRefs, BoardWriter, LaneKind,
    Lang, NewCard, Priority, Replayer,
};
use serde::Serialize;
use yrs::updates::decoder::Decode;
use yrs::{Doc, Map, MapRef, ReadTxn, Transact, TransactionMut, Update};

/// The first edit's clock; each later edit is a minute on.
const START_MS: i64 = 1_750_000_000_000;

/// One participant's replica of the board.
struct Participant {
    doc: Doc,
    refs: BoardRefs,
    /// The participant id their votes are filed under (their token's `sub`).
    sub: String,
}

/// A workshop: the replayed board (what the server stores) and everyone's replicas.
struct Session {
    replay: Replayer,
    participants: BTreeMap<&'static str, Participant>,
    /// The board when [`Session::start`] was called: the first of the two versions compared.
    before: Option<Board>,
    /// Edits made so far, for timestamps.
    edits: i64,
}

/// An edit made on a replica but not sent yet (for concurrent edits).
struct Draft {
    author: &'static str,
    update: Vec<u8>,
}

impl Session {
    /// A customer-journey board created by Fatou, the facilitator.
    fn new() -> Self {
        let mut session = Session {
            replay: Replayer::new(),
            participants: BTreeMap::new(),
            before: None,
            edits: 0,
        };
        session.edit("Fatou", |w, _| {
            instantiate(w, "customer-journey", Lang::En, "Q3 onboarding", None).unwrap();
        });
        session
    }

    /// Marks the first version: what was replayed so far is the `before` side, uncredited.
    fn start(&mut self) {
        self.replay.take_touched();
        self.before = Some(self.board());
    }

    fn board(&self) -> Board {
        Board::from_doc(self.replay.doc())
    }

    /// `author` catches up with the board, makes an edit and sends it.
    fn edit<R>(
        &mut self,
        author: &'static str,
        f: impl FnOnce(&mut BoardWriter<'_, '_>, &Board) -> R,
    ) -> R {
        let (draft, result) = self.draft(author, f);
        self.send(draft);
        result
    }

    /// `author` catches up with the board and makes an edit, without sending it yet.
    fn draft<R>(
        &mut self,
        author: &'static str,
        f: impl FnOnce(&mut BoardWriter<'_, '_>, &Board) -> R,
    ) -> (Draft, R) {
        let next_client = self.participants.len() as u64 + 1;
        let participant = self.participants.entry(author).or_insert_with(|| {
            let doc = Doc::with_client_id(next_client);
            let refs = BoardRefs::new(&doc);
            Participant {
                doc,
                refs,
                sub: sub(author),
            }
        });
        let missing = self
            .replay
            .doc()
            .transact()
            .encode_state_as_update_v1(&participant.doc.transact().state_vector());
        participant
            .doc
            .transact_mut()
            .apply_update(Update::decode_v1(&missing).unwrap())
            .unwrap();
        let board = Board::from_doc(&participant.doc);
        let state = participant.doc.transact().state_vector();
        self.edits += 1;
        let now = START_MS + 60_000 * self.edits;
        let result = {
            let mut txn = participant.doc.transact_mut();
            let mut w = BoardWriter::new(&mut txn, &participant.refs, now)
                .with_author_id(participant.sub.clone());
            f(&mut w, &board)
        };
        let update = participant.doc.transact().encode_state_as_update_v1(&state);
        (Draft { author, update }, result)
    }

    /// Sends a drafted edit: the server stores it, so the replay applies it.
    fn send(&mut self, draft: Draft) {
        self.replay.apply(&draft.update, draft.author).unwrap();
    }

    /// The attributed diff since [`Session::start`], with the names of the ids it mentions.
    fn history(&mut self) -> History {
        let before = self.before.clone().expect("start() was called");
        let after = self.board();
        let changes = attribute(diff(&before, &after), &self.replay.take_touched());
        let text = serde_json::to_string(&changes).unwrap();
        let mut ids = BTreeMap::new();
        for board in [&before, &after] {
            let named = board
                .stages
                .iter()
                .map(|s| (&s.id, format!("stage {}", s.name)))
                .chain(board.stages.iter().flat_map(|s| {
                    s.metrics
                        .iter()
                        .map(move |m| (&m.id, format!("metric {} of {}", m.name, s.name)))
                }))
                .chain(
                    board
                        .lanes
                        .iter()
                        .map(|l| (&l.id, format!("lane {}", l.title))),
                )
                .chain(
                    board
                        .cards
                        .iter()
                        .map(|c| (&c.id, format!("card \"{}\"", c.text))),
                )
                .chain(board.cards.iter().flat_map(|c| {
                    c.comments
                        .iter()
                        .map(|m| (&m.id, format!("comment \"{}\"", m.text)))
                }));
            for (id, name) in named {
                if text.contains(&format!("\"{id}\"")) {
                    ids.entry(id.clone()).or_insert(name);
                }
            }
        }
        History { changes, ids }
    }
}

/// What a golden file holds. A struct rather than a `serde_json::Value` so that each change keeps
/// its own field order (`change` first, `authors` last), as a client receives it.
#[derive(Serialize)]
struct History {
    /// The attributed diff.
    changes: Vec<AttributedChange>,
    /// What each id in `changes` names (its name or text in the earlier version if it had one).
    ids: BTreeMap<String, String>,
}

/// The participant id `author` votes under.
fn sub(author: &str) -> String {
    author.to_lowercase()
}

fn stage<'b>(board: &'b Board, name: &str) -> &'b str {
    &board.stages.iter().find(|s| s.name == name).unwrap().id
}

fn lane(board: &Board, kind: LaneKind) -> &str {
    &board.lanes.iter().find(|l| l.kind == kind).unwrap().id
}

fn card<'b>(board: &'b Board, text: &str) -> &'b str {
    &board.cards.iter().find(|c| c.text == text).unwrap().id
}

/// Adds a card in `stage_name` × the lane of `kind`, signed by `author`.
fn add(
    w: &mut BoardWriter<'_, '_>,
    board: &Board,
    stage_name: &str,
    kind: LaneKind,
    text: &str,
    author: &str,
) -> String {
    w.add_card(&NewCard {
        stage: stage(board, stage_name).to_owned(),
        lane: lane(board, kind).to_owned(),
        text: text.into(),
        author: author.into(),
        color: "#ffd166".into(),
        team: "product".into(),
    })
    .unwrap()
}

/// A deletion made directly on the document, as a JS client makes it.
type Removal = fn(&mut TransactionMut<'_>, &Board);

fn cards(txn: &TransactionMut<'_>) -> MapRef {
    txn.get_map(keys::CARDS).unwrap()
}

/// The nested map at `key` of a card (`votes`, `comments`).
fn field_map(txn: &TransactionMut<'_>, card: &str, key: &str) -> MapRef {
    let card: MapRef = cards(txn).get(txn, card).unwrap().cast().unwrap();
    card.get(txn, key).unwrap().cast().unwrap()
}

/// Compares `actual` with `tests/golden/<name>.json`, or writes it there with `UPDATE_GOLDEN=1`.
fn assert_golden(name: &str, actual: &History) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "golden", name]
        .iter()
        .collect::<PathBuf>()
        .with_extension("json");
    let actual = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs from the attributed diff (run with UPDATE_GOLDEN=1 to accept it, then review \
         the file's diff); actual:\n{actual}",
        path.display()
    );
}

#[test]
fn a_workshop_round_credits_each_card_vote_and_comment_to_its_author() {
    let mut s = Session::new();
    s.edit("Ana", |w, b| {
        add(
            w,
            b,
            "Awareness",
            LaneKind::Touchpoints,
            "Instagram ad",
            "Ana",
        )
    });
    s.start();
    s.edit("Ana", |w, b| {
        add(
            w,
            b,
            "Awareness",
            LaneKind::PainPoints,
            "Ads feel pushy",
            "Ana",
        );
        add(
            w,
            b,
            "Decision / purchase",
            LaneKind::PainPoints,
            "Checkout asks for an account",
            "Ana",
        );
    });
    s.edit("Bruno", |w, b| {
        add(
            w,
            b,
            "Decision / purchase",
            LaneKind::Questions,
            "When will it arrive?",
            "Bruno",
        )
    });
    s.edit("Chloé", |w, b| {
        w.set_card_text(card(b, "Ads feel pushy"), "Ads feel pushy and repetitive")
            .unwrap()
    });
    let (ana, bruno, chloe) = (sub("Ana"), sub("Bruno"), sub("Chloé"));
    s.edit("Bruno", |w, b| {
        w.vote(card(b, "Checkout asks for an account"), &bruno)
            .unwrap();
        w.vote(card(b, "Instagram ad"), &bruno).unwrap();
    });
    s.edit("Chloé", |w, b| {
        w.vote(card(b, "Checkout asks for an account"), &chloe)
            .unwrap();
        w.vote(card(b, "Checkout asks for an account"), &chloe)
            .unwrap();
    });
    s.edit("Ana", |w, b| {
        w.vote(card(b, "When will it arrive?"), &ana).unwrap();
    });
    s.edit("Bruno", |w, b| {
        w.add_comment(
            card(b, "Checkout asks for an account"),
            "Bruno",
            "Guest checkout?",
        )
        .unwrap();
    });
    let history = s.history();
    assert_golden("workshop_round", &history);
}

#[test]
fn a_reorganisation_credits_moves_deletions_emotions_and_renames() {
    let mut s = Session::new();
    s.edit("Ana", |w, b| {
        add(
            w,
            b,
            "Awareness",
            LaneKind::PainPoints,
            "Delivery fees appear late",
            "Ana",
        );
        add(w, b, "Service", LaneKind::Touchpoints, "Help centre", "Ana");
    });
    s.edit("Bruno", |w, b| {
        add(
            w,
            b,
            "Awareness",
            LaneKind::Actions,
            "Compares prices",
            "Bruno",
        );
        add(
            w,
            b,
            "Loyalty / retention",
            LaneKind::Opportunities,
            "Points for reviews",
            "Bruno",
        );
    });
    s.start();
    s.edit("Chloé", |w, b| {
        let to = (
            stage(b, "Decision / purchase"),
            lane(b, LaneKind::PainPoints),
        );
        w.move_card(card(b, "Delivery fees appear late"), to.0, to.1, 1.0)
            .unwrap();
    });
    s.edit("Bruno", |w, b| {
        let to = (stage(b, "Consideration"), lane(b, LaneKind::Actions));
        w.move_card(card(b, "Compares prices"), to.0, to.1, 1.0)
            .unwrap();
    });
    s.edit("Ana", |w, b| {
        w.set_card_text(card(b, "Compares prices"), "Compares prices on other sites")
            .unwrap();
    });
    s.edit("Fatou", |w, b| {
        w.delete_card(card(b, "Points for reviews")).unwrap();
    });
    s.edit("Chloé", |w, b| {
        w.set_stage_emotion(stage(b, "Decision / purchase"), Some(-2))
            .unwrap();
    });
    s.edit("Fatou", |w, b| {
        w.rename_stage(stage(b, "Service"), "After-sales service")
            .unwrap();
        w.set_card_priority(card(b, "Help centre"), Some(Priority::High))
            .unwrap();
    });
    let history = s.history();
    assert_golden("reorganisation", &history);
}

#[test]
fn delete_only_edits_are_reported_and_credited() {
    let mut s = Session::new();
    let bruno = sub("Bruno");
    s.edit("Ana", |w, b| {
        let card = add(
            w,
            b,
            "Consideration",
            LaneKind::Questions,
            "Is there a trial?",
            "Ana",
        );
        w.set_card_priority(&card, Some(Priority::Medium)).unwrap();
        add(
            w,
            b,
            "Awareness",
            LaneKind::Motivations,
            "Friend recommended it",
            "Ana",
        );
        w.set_stage_emotion(stage(b, "Awareness"), Some(1)).unwrap();
    });
    s.edit("Bruno", |w, b| {
        w.vote(card(b, "Friend recommended it"), &bruno).unwrap();
        w.vote(card(b, "Is there a trial?"), &bruno).unwrap();
        w.add_comment(card(b, "Is there a trial?"), "Bruno", "Yes, 14 days")
            .unwrap();
    });
    s.start();
    // Each edit is what a stock JS client sends for it: a delete set and nothing else (no
    // `updatedAt`, which BoardWriter would also write).
    let edits: [(&'static str, Removal); 5] = [
        ("Bruno", |txn, b| {
            let votes = field_map(txn, card(b, "Is there a trial?"), keys::VOTES);
            votes.remove(txn, &sub("Bruno"));
        }),
        ("Ana", |txn, b| {
            cards(txn).remove(txn, card(b, "Friend recommended it"));
        }),
        ("Chloé", |txn, b| {
            let card = b.card(card(b, "Is there a trial?")).unwrap();
            field_map(txn, &card.id, keys::COMMENTS).remove(txn, &card.comments[0].id);
        }),
        ("Chloé", |txn, b| {
            let card = cards(txn).get(txn, card(b, "Is there a trial?")).unwrap();
            card.cast::<MapRef>().unwrap().remove(txn, keys::PRIORITY);
        }),
        ("Fatou", |txn, b| {
            let stages = txn.get_map(keys::STAGES).unwrap();
            let stage = stages.get(txn, stage(b, "Awareness")).unwrap();
            stage.cast::<MapRef>().unwrap().remove(txn, keys::EMOTION);
        }),
    ];
    for (author, removal) in edits {
        let (draft, ()) = s.draft(author, |w, b| removal(w.txn(), b));
        let blocks = parse(&draft.update).unwrap();
        assert!(blocks.blocks.is_empty() && !blocks.deleted.is_empty());
        s.send(draft);
    }
    let history = s.history();
    assert_golden("delete_only", &history);
}

#[test]
fn concurrent_edits_of_one_card_credit_both_writers() {
    let mut s = Session::new();
    s.edit("Ana", |w, b| {
        add(
            w,
            b,
            "Advocacy",
            LaneKind::Opportunities,
            "Referral code",
            "Ana",
        )
    });
    s.start();
    // Neither sees the other's edit before sending: the text merges, and both wrote it.
    let (from_ana, ()) = s.draft("Ana", |w, b| {
        w.insert_card_text(card(b, "Referral code"), 0, "Give a ")
            .unwrap();
    });
    let (from_bruno, ()) = s.draft("Bruno", |w, b| {
        w.insert_card_text(card(b, "Referral code"), 13, " to every buyer")
            .unwrap();
        let to = (
            stage(b, "Loyalty / retention"),
            lane(b, LaneKind::Opportunities),
        );
        w.move_card(card(b, "Referral code"), to.0, to.1, 1.0)
            .unwrap();
    });
    s.send(from_bruno);
    s.send(from_ana);
    let history = s.history();
    assert_golden("concurrent_edits", &history);
}
