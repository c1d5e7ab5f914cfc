//! The role rules, judged exactly as the server judges them: a server-side document with its
//! locator, and replicas that edit with the board writer and send their updates.

use yrs::updates::decoder::Decode;
use yrs::{Doc, Map, ReadTxn, StateVector, Transact, Update};

use super::*;
use crate::apply::apply_update;
use crate::blocks::parse;
use crate::inspect::Locator;
use crate::schema::{instantiate, Board, BoardRefs, BoardWriter, Lang, NewCard};

/// The server's side of one board.
struct Server {
    doc: Doc,
    locator: Locator,
    /// Values to write again after the refusal being applied.
    restore: Vec<Restore>,
    /// What the server wrote itself (restored values), for everyone.
    broadcast: Vec<Vec<u8>>,
}

/// What the server did with an offered update.
#[derive(Debug)]
struct Outcome {
    /// The permission-denied reason, if anything was refused.
    refused: Option<String>,
    /// The update that takes refused content back out of the sender's document.
    take_back: Option<Vec<u8>>,
}

impl Server {
    /// A board made by a facilitator from the customer-journey template.
    fn with_template() -> Self {
        let mut server = Server {
            doc: Doc::new(),
            locator: Locator::new(),
            restore: Vec::new(),
            broadcast: Vec::new(),
        };
        let facilitator = Doc::with_client_id(1);
        let refs = BoardRefs::new(&facilitator);
        let update = {
            let mut txn = facilitator.transact_mut();
            let mut w = BoardWriter::new(&mut txn, &refs, 1_000);
            instantiate(&mut w, "customer-journey", Lang::En, "Q3", None).unwrap();
            drop(w);
            txn.encode_update_v1()
        };
        server.offer(&owner(), &update, true);
        server
    }

    /// Offers `update` from `actor` as the server does; `live` for an update message, not for
    /// a sync step 2.
    fn offer(&mut self, actor: &Actor, update: &[u8], live: bool) -> Outcome {
        let blocks = parse(update).unwrap();
        let inspection = self.locator.inspect(&blocks);
        let verdict = judge(actor, &inspection, &self.doc.transact());
        let (bytes, outcome) = if verdict.allowed() {
            (
                update.to_vec(),
                Outcome {
                    refused: None,
                    take_back: None,
                },
            )
        } else {
            let refusal = refuse(&blocks, &inspection, &verdict, live, &self.doc.transact());
            self.restore = refusal.restore.clone();
            (
                refusal.update,
                Outcome {
                    refused: Some(refusal.reason),
                    take_back: Some(refusal.take_back),
                },
            )
        };
        let applied = apply_update(&self.doc, &bytes).unwrap();
        assert_eq!(applied.rejected, None);
        if let Some(diff) = applied.diff {
            self.locator.record(&parse(&diff).unwrap());
        }
        if let Some(restored) = restore(&self.doc, &std::mem::take(&mut self.restore)) {
            self.locator.record(&parse(&restored).unwrap());
            self.broadcast.push(restored);
        }
        outcome
    }

    /// A replica of the board, as a participant's client holds it after syncing.
    fn replica(&self, client: u64) -> Doc {
        let doc = Doc::with_client_id(client);
        let state = self
            .doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        doc.transact_mut()
            .apply_update(Update::decode_v1(&state).unwrap())
            .unwrap();
        doc
    }

    /// Delivers to `replica` what the server sends after `outcome`: the take-back, then what
    /// the server wrote for everyone.
    fn deliver(&mut self, replica: &Doc, outcome: &Outcome) {
        let mut updates: Vec<Vec<u8>> = outcome.take_back.iter().cloned().collect();
        updates.append(&mut self.broadcast);
        for update in updates {
            replica
                .transact_mut()
                .apply_update(Update::decode_v1(&update).unwrap())
                .unwrap();
        }
    }

    fn board(&self) -> Board {
        Board::from_doc(&self.doc)
    }
}

/// Edits `doc` with a board writer stamped as `sub`; returns the update.
fn edit(doc: &Doc, sub: &str, f: impl FnOnce(&mut BoardWriter<'_, '_>)) -> Vec<u8> {
    let refs = BoardRefs::new(doc);
    let mut txn = doc.transact_mut();
    let mut w = BoardWriter::new(&mut txn, &refs, 2_000).with_author_id(sub);
    f(&mut w);
    drop(w);
    txn.encode_update_v1()
}

/// A board edit, as a test case.
type Edit = dyn Fn(&mut BoardWriter<'_, '_>);

fn actor(role: Role, sub: &str, name: &str) -> Actor {
    Actor {
        role,
        sub: sub.into(),
        name: name.into(),
    }
}

fn owner() -> Actor {
    Actor::open()
}

fn ana() -> Actor {
    actor(Role::Participant, "p-ana", "Ana")
}

fn new_card(board: &Board, author: &str, text: &str) -> NewCard {
    NewCard {
        stage: board.stages[0].id.clone(),
        lane: board.lanes[0].id.clone(),
        text: text.into(),
        author: author.into(),
        color: "#ffd166".into(),
        team: "product".into(),
    }
}

/// A board with one card by Bob (another participant), and its id.
fn board_with_bobs_card() -> (Server, String) {
    let mut server = Server::with_template();
    let bob = actor(Role::Participant, "p-bob", "Bob");
    let replica = server.replica(20);
    let board = server.board();
    let mut id = String::new();
    let update = edit(&replica, "p-bob", |w| {
        id = w
            .add_card(&new_card(&board, "Bob", "Slow checkout"))
            .unwrap();
    });
    let outcome = server.offer(&bob, &update, true);
    assert_eq!(outcome.refused, None);
    (server, id)
}

#[test]
fn a_viewer_can_change_nothing_and_gets_its_edit_taken_back() {
    let mut server = Server::with_template();
    let viewer = actor(Role::Viewer, "v-1", "Val");
    let replica = server.replica(10);
    let board = server.board();
    let update = edit(&replica, "v-1", |w| {
        w.add_card(&new_card(&board, "Val", "sneaky")).unwrap();
    });
    let outcome = server.offer(&viewer, &update, true);
    assert!(outcome
        .refused
        .as_deref()
        .unwrap()
        .contains("viewers cannot change the board"));
    assert!(server.board().cards.is_empty());

    // The take-back removes the card from the viewer's own document, the value its edit
    // overwrote (meta.updatedAt) is written again for everyone, and both sides agree on every
    // clock, so the viewer's later messages still apply in order.
    server.deliver(&replica, &outcome);
    assert!(Board::from_doc(&replica).cards.is_empty());
    assert_eq!(Board::from_doc(&replica), server.board());
    assert_eq!(
        replica.transact().state_vector(),
        server.doc.transact().state_vector()
    );
}

#[test]
fn a_participant_adds_cards_in_their_own_name_and_edits_anyones() {
    let (mut server, bobs) = board_with_bobs_card();
    let replica = server.replica(30);
    let board = server.board();
    let stage = board.stages[1].id.clone();
    let lane = board.lanes[1].id.clone();
    let update = edit(&replica, "p-ana", |w| {
        w.add_card(&new_card(&board, "Ana", "Too many steps"))
            .unwrap();
        w.set_card_text(&bobs, "Slow checkout on mobile").unwrap();
        w.move_card(&bobs, &stage, &lane, 3.0).unwrap();
        w.set_card_color(&bobs, "#06d6a0").unwrap();
        w.add_comment(&bobs, "Ana", "Seen it too").unwrap();
        w.vote(&bobs, "p-ana").unwrap();
        w.toggle_reaction(&bobs, "👍", "p-ana").unwrap();
    });
    let outcome = server.offer(&ana(), &update, true);
    assert_eq!(outcome.refused, None);
    let after = server.board();
    assert_eq!(after.cards.len(), 2);
    let card = after.cards.iter().find(|c| c.id == bobs).unwrap();
    assert_eq!(card.text, "Slow checkout on mobile");
    assert_eq!(card.stage, stage);
    assert_eq!(card.votes.get("p-ana"), Some(&1));
    assert_eq!(card.comments.len(), 1);
}

#[test]
fn a_participant_cannot_sign_a_card_with_someone_elses_name() {
    let mut server = Server::with_template();
    let replica = server.replica(30);
    let board = server.board();
    let update = edit(&replica, "p-ana", |w| {
        w.add_card(&new_card(&board, "The CEO", "Approved!"))
            .unwrap();
    });
    let outcome = server.offer(&ana(), &update, true);
    assert!(outcome
        .refused
        .as_deref()
        .unwrap()
        .contains("your own name"));
    assert!(server.board().cards.is_empty());
}

#[test]
fn a_participant_cannot_take_over_a_card() {
    let (mut server, bobs) = board_with_bobs_card();
    let replica = server.replica(30);
    let update = {
        let mut txn = replica.transact_mut();
        let cards = txn.get_map("cards").unwrap();
        let Some(yrs::Out::YMap(card)) = cards.get(&txn, &bobs) else {
            panic!("no card")
        };
        card.insert(&mut txn, "author", "Ana");
        txn.encode_update_v1()
    };
    let outcome = server.offer(&ana(), &update, true);
    assert!(outcome.refused.as_deref().unwrap().contains("authorship"));
    assert_eq!(server.board().cards[0].author, "Bob");
}

#[test]
fn a_participant_deletes_their_own_cards_but_not_others() {
    let (mut server, bobs) = board_with_bobs_card();
    let replica = server.replica(30);
    let board = server.board();
    let mut mine = String::new();
    let update = edit(&replica, "p-ana", |w| {
        mine = w.add_card(&new_card(&board, "Ana", "Mine")).unwrap();
    });
    assert_eq!(server.offer(&ana(), &update, true).refused, None);

    let delete_mine = edit(&replica, "p-ana", |w| w.delete_card(&mine).unwrap());
    assert_eq!(server.offer(&ana(), &delete_mine, true).refused, None);
    let delete_bobs = edit(&replica, "p-ana", |w| w.delete_card(&bobs).unwrap());
    let outcome = server.offer(&ana(), &delete_bobs, true);
    assert!(outcome
        .refused
        .as_deref()
        .unwrap()
        .contains("only its author"));
    let ids: Vec<String> = server.board().cards.into_iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![bobs]);
}

#[test]
fn a_participant_cannot_change_the_structure_of_the_board() {
    let mut server = Server::with_template();
    let board = server.board();
    let stage = board.stages[0].id.clone();
    let lane = board.lanes[0].id.clone();
    let persona_less = board.personas.len();
    let edits: Vec<Box<Edit>> = vec![
        Box::new(move |w| {
            w.remove_stage(&stage).unwrap();
        }),
        Box::new(move |w| {
            w.remove_lane(&lane).unwrap();
        }),
        Box::new(|w| w.set_title("Hijacked")),
        Box::new(|w| {
            w.add_stage("Extra", "");
        }),
    ];
    for (i, f) in edits.iter().enumerate() {
        let replica = server.replica(40 + i as u64);
        let update = edit(&replica, "p-ana", |w| f(w));
        let outcome = server.offer(&ana(), &update, true);
        assert!(outcome.refused.is_some(), "edit {i} was allowed");
        server.deliver(&replica, &outcome);
        assert_eq!(Board::from_doc(&replica).meta, server.board().meta);
    }
    // Each refused replica is corrected: its renamed title is back (a deletion cannot be
    // undone in a Yjs document, so only values are restored, not removed stages).
    let after = server.board();
    assert_eq!(after.stages.len(), board.stages.len());
    assert_eq!(after.lanes.len(), board.lanes.len());
    assert_eq!(after.meta.title, "Q3");
    assert_eq!(after.personas.len(), persona_less);
}

#[test]
fn a_participant_votes_only_in_their_own_name() {
    let (mut server, bobs) = board_with_bobs_card();
    let replica = server.replica(30);
    let update = edit(&replica, "p-ana", |w| {
        w.vote(&bobs, "p-bob").unwrap();
    });
    let outcome = server.offer(&ana(), &update, true);
    assert!(outcome.refused.as_deref().unwrap().contains("own name"));
    assert!(server.board().cards[0].votes.is_empty());
}

#[test]
fn dot_votes_follow_the_facilitators_round() {
    let (mut server, bobs) = board_with_bobs_card();
    let facilitator = actor(Role::Facilitator, "f-1", "Fay");
    let control = server.replica(50);
    let open_round = edit(&control, "f-1", |w| w.open_voting(2));
    assert_eq!(server.offer(&facilitator, &open_round, true).refused, None);

    let replica = server.replica(30);
    let two = edit(&replica, "p-ana", |w| {
        w.vote(&bobs, "p-ana").unwrap();
        w.vote(&bobs, "p-ana").unwrap();
    });
    assert_eq!(server.offer(&ana(), &two, true).refused, None);
    let third = edit(&replica, "p-ana", |w| {
        w.vote(&bobs, "p-ana").unwrap();
    });
    let outcome = server.offer(&ana(), &third, true);
    assert!(outcome
        .refused
        .as_deref()
        .unwrap()
        .contains("no dot votes left"));

    // The replica is corrected (its count back to 2); the round closes and votes freeze.
    server.deliver(&replica, &outcome);
    let bobs_votes = |doc: &Doc| Board::from_doc(doc).cards[0].votes.get("p-ana").copied();
    assert_eq!(bobs_votes(&replica), Some(2));
    let close_round = edit(&server.replica(51), "f-1", |w| w.close_voting());
    assert_eq!(server.offer(&facilitator, &close_round, true).refused, None);
    let sync = server
        .doc
        .transact()
        .encode_state_as_update_v1(&replica.transact().state_vector());
    replica
        .transact_mut()
        .apply_update(Update::decode_v1(&sync).unwrap())
        .unwrap();
    let late = edit(&replica, "p-ana", |w| {
        w.unvote(&bobs, "p-ana").unwrap();
    });
    let outcome = server.offer(&ana(), &late, true);
    assert!(outcome
        .refused
        .as_deref()
        .unwrap()
        .contains("voting is closed"));
    server.deliver(&replica, &outcome);
    assert_eq!(server.board().cards[0].votes.get("p-ana"), Some(&2));
    assert_eq!(bobs_votes(&replica), Some(2));
}

#[test]
fn only_facilitators_run_the_timer() {
    let mut server = Server::with_template();
    let replica = server.replica(30);
    let start = edit(&replica, "p-ana", |w| w.start_timer(300_000, "Ideas"));
    assert!(server.offer(&ana(), &start, true).refused.is_some());
    let facilitator = actor(Role::Facilitator, "f-1", "Fay");
    let start = edit(&server.replica(31), "f-1", |w| {
        w.start_timer(300_000, "Ideas")
    });
    assert_eq!(server.offer(&facilitator, &start, true).refused, None);
    assert_eq!(server.board().workshop.timer_label, "Ideas");
}

#[test]
fn a_reconnecting_participants_sync_keeps_its_allowed_work_and_drops_the_rest() {
    let (mut server, bobs) = board_with_bobs_card();
    let replica = server.replica(30);
    let board = server.board();
    // Offline: a card of her own, and Bob's card deleted (which she may not do).
    edit(&replica, "p-ana", |w| {
        w.add_card(&new_card(&board, "Ana", "Offline idea"))
            .unwrap();
    });
    edit(&replica, "p-ana", |w| w.delete_card(&bobs).unwrap());
    let step2 = replica
        .transact()
        .encode_state_as_update_v1(&server.doc.transact().state_vector());
    let outcome = server.offer(&ana(), &step2, false);
    assert!(outcome
        .refused
        .as_deref()
        .unwrap()
        .contains("only its author"));
    let texts: Vec<String> = server.board().cards.into_iter().map(|c| c.text).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts.contains(&"Offline idea".to_owned()));
}

#[test]
fn facilitators_may_change_everything() {
    let (mut server, bobs) = board_with_bobs_card();
    let facilitator = actor(Role::Facilitator, "f-1", "Fay");
    let replica = server.replica(50);
    let stage = server.board().stages[0].id.clone();
    let update = edit(&replica, "f-1", |w| {
        w.delete_card(&bobs).unwrap();
        w.remove_stage(&stage).unwrap();
        w.set_title("Renamed");
    });
    assert_eq!(server.offer(&facilitator, &update, true).refused, None);
    assert_eq!(server.board().meta.title, "Renamed");
}
