//! Tests of the schema as a whole: reading, writing, merging, validation and templates.

use std::collections::BTreeMap;

use yrs::types::ToJson;
use yrs::updates::decoder::Decode;
use yrs::{
    Any, Array, Doc, In, Map, MapPrelim, OffsetKind, Options, ReadTxn, StateVector, TextPrelim,
    Transact, Update,
};

use super::*;

const NOW: i64 = 1_700_000_000_000;

fn new_board(client: u64) -> (Doc, BoardRefs) {
    let doc = Doc::with_client_id(client);
    let refs = BoardRefs::new(&doc);
    (doc, refs)
}

/// Runs `f` as one transaction on `doc`, like one client's edit.
fn edit<R>(doc: &Doc, refs: &BoardRefs, f: impl FnOnce(&mut BoardWriter<'_, '_>) -> R) -> R {
    let mut txn = doc.transact_mut();
    let mut w = BoardWriter::new(&mut txn, refs, NOW);
    f(&mut w)
}

/// Exchanges updates both ways, as the server would relay them.
fn sync(a: &Doc, b: &Doc) {
    let to_b = a
        .transact()
        .encode_state_as_update_v1(&b.transact().state_vector());
    let to_a = b
        .transact()
        .encode_state_as_update_v1(&a.transact().state_vector());
    b.transact_mut()
        .apply_update(Update::decode_v1(&to_b).unwrap())
        .unwrap();
    a.transact_mut()
        .apply_update(Update::decode_v1(&to_a).unwrap())
        .unwrap();
}

/// A board with two stages, a touchpoints lane and an actions lane, and one card.
struct Fixture {
    doc: Doc,
    refs: BoardRefs,
    s1: String,
    s2: String,
    touch: String,
    actions: String,
    card: String,
}

fn fixture() -> Fixture {
    let (doc, refs) = new_board(1);
    let (s1, s2, touch, actions, card) = edit(&doc, &refs, |w| {
        w.init_meta(&MetaInit {
            title: "Q3 onboarding".into(),
            ..MetaInit::default()
        });
        let s1 = w.add_stage("Awareness", "");
        let s2 = w.add_stage("Purchase", "");
        let touch = w.add_lane(&LaneKind::Touchpoints, "Touchpoints", "");
        let actions = w.add_lane(&LaneKind::Actions, "Actions", "");
        let card = w
            .add_card(&NewCard {
                stage: s1.clone(),
                lane: touch.clone(),
                text: "Checkout page".into(),
                author: "Ana".into(),
                color: "#ffd166".into(),
                team: "product".into(),
            })
            .unwrap();
        (s1, s2, touch, actions, card)
    });
    Fixture {
        doc,
        refs,
        s1,
        s2,
        touch,
        actions,
        card,
    }
}

fn codes_at(problems: &[Problem]) -> Vec<(ProblemCode, String)> {
    problems.iter().map(|p| (p.code, p.path.clone())).collect()
}

fn assert_reports(problems: &[Problem], code: ProblemCode, path: &str) {
    assert!(
        problems.iter().any(|p| p.code == code && p.path == path),
        "expected {code} at {path}, got {:#?}",
        codes_at(problems)
    );
}

// ----- merging ----------------------------------------------------------------------------------

#[test]
fn moving_a_card_while_another_client_edits_its_text_keeps_both() {
    let f = fixture();
    let other = Doc::with_client_id(2);
    let other_refs = BoardRefs::new(&other);
    sync(&f.doc, &other);

    edit(&f.doc, &f.refs, |w| {
        w.move_card(&f.card, &f.s2, &f.actions, 5.0).unwrap();
    });
    edit(&other, &other_refs, |w| {
        w.insert_card_text(&f.card, 8, " (mobile)").unwrap();
    });
    sync(&f.doc, &other);

    for doc in [&f.doc, &other] {
        let board = Board::from_doc(doc);
        let card = board.card(&f.card).unwrap();
        assert_eq!(card.text, "Checkout (mobile) page");
        assert_eq!(
            (card.stage.as_str(), card.lane.as_str()),
            (f.s2.as_str(), f.actions.as_str())
        );
        assert_eq!(card.position, 5.0);
    }
}

#[test]
fn replacing_a_card_text_keeps_a_concurrent_edit_elsewhere_in_it() {
    let f = fixture();
    let other = Doc::with_client_id(2);
    let other_refs = BoardRefs::new(&other);
    sync(&f.doc, &other);

    edit(&f.doc, &f.refs, |w| {
        w.set_card_text(&f.card, "New checkout page").unwrap();
    });
    edit(&other, &other_refs, |w| {
        w.insert_card_text(&f.card, 13, "!").unwrap();
    });
    sync(&f.doc, &other);

    assert_eq!(Board::from_doc(&f.doc).cards[0].text, "New checkout page!");
    assert_eq!(Board::from_doc(&other).cards[0].text, "New checkout page!");
}

#[test]
fn two_clients_adding_cards_in_the_same_cell_at_once_keep_both() {
    let f = fixture();
    let other = Doc::with_client_id(2);
    let other_refs = BoardRefs::new(&other);
    sync(&f.doc, &other);

    let card = |text: &str| NewCard {
        stage: f.s1.clone(),
        lane: f.touch.clone(),
        text: text.into(),
        ..NewCard::default()
    };
    let a = edit(&f.doc, &f.refs, |w| w.add_card(&card("Email")).unwrap());
    let b = edit(&other, &other_refs, |w| w.add_card(&card("Store")).unwrap());
    assert_ne!(a, b);
    sync(&f.doc, &other);

    let one = Board::from_doc(&f.doc);
    let two = Board::from_doc(&other);
    assert_eq!(one, two, "both replicas show the same order");
    let texts: Vec<&str> = one.cell(&f.s1, &f.touch).map(|c| c.text.as_str()).collect();
    assert_eq!(texts.len(), 3);
    assert!(texts.contains(&"Email") && texts.contains(&"Store"));
}

#[test]
fn dot_votes_from_two_participants_at_once_are_both_counted() {
    let f = fixture();
    let other = Doc::with_client_id(2);
    let other_refs = BoardRefs::new(&other);
    sync(&f.doc, &other);

    edit(&f.doc, &f.refs, |w| {
        w.vote(&f.card, "ana").unwrap();
        w.vote(&f.card, "ana").unwrap();
    });
    edit(&other, &other_refs, |w| w.vote(&f.card, "ben").unwrap());
    sync(&f.doc, &other);

    let card = Board::from_doc(&other).cards.remove(0);
    assert_eq!(
        card.votes,
        BTreeMap::from([("ana".into(), 2), ("ben".into(), 1)])
    );
    assert_eq!(card.vote_total(), 3);
}

// ----- writing ----------------------------------------------------------------------------------

#[test]
fn card_text_positions_count_characters_in_byte_and_utf16_documents() {
    for offset_kind in [OffsetKind::Bytes, OffsetKind::Utf16] {
        let doc = Doc::with_options(Options {
            offset_kind,
            ..Options::with_client_id(yrs::block::ClientID::new(7))
        });
        let refs = BoardRefs::new(&doc);
        edit(&doc, &refs, |w| {
            let s = w.add_stage("Étape", "");
            let l = w.add_lane(&LaneKind::Emotions, "Émotions", "");
            let c = w
                .add_card(&NewCard {
                    stage: s,
                    lane: l,
                    text: "😀 déçu".into(),
                    ..NewCard::default()
                })
                .unwrap();
            w.insert_card_text(&c, 2, "très ").unwrap();
            w.delete_card_text(&c, 0, 1).unwrap();
            w.insert_card_text(&c, 0, "🙁").unwrap();
            assert_eq!(
                w.insert_card_text(&c, 99, "x"),
                Err(WriteError::TextOutOfRange {
                    card: c.clone(),
                    index: 99,
                    len: 11
                })
            );
        });
        assert_eq!(Board::from_doc(&doc).cards[0].text, "🙁 très déçu");
    }
}

#[test]
fn emotion_outside_minus_two_to_two_is_refused() {
    let f = fixture();
    edit(&f.doc, &f.refs, |w| {
        assert_eq!(
            w.set_stage_emotion(&f.s1, Some(3)),
            Err(WriteError::EmotionOutOfRange(3))
        );
        w.set_stage_emotion(&f.s1, Some(-2)).unwrap();
    });
    assert_eq!(Board::from_doc(&f.doc).stages[0].emotion, Some(-2));
    edit(&f.doc, &f.refs, |w| {
        w.set_stage_emotion(&f.s1, None).unwrap()
    });
    assert_eq!(Board::from_doc(&f.doc).stages[0].emotion, None);
}

#[test]
fn unknown_ids_are_refused_with_a_typed_error() {
    let f = fixture();
    edit(&f.doc, &f.refs, |w| {
        assert_eq!(
            w.move_card("nope", &f.s1, &f.touch, 1.0),
            Err(WriteError::UnknownCard("nope".into()))
        );
        assert_eq!(
            w.move_card(&f.card, "nope", &f.touch, 1.0),
            Err(WriteError::UnknownStage("nope".into()))
        );
        assert_eq!(
            w.move_card(&f.card, &f.s1, &f.touch, f64::NAN),
            Err(WriteError::NotFinite("position"))
        );
        assert_eq!(
            w.rename_lane("nope", "x"),
            Err(WriteError::UnknownLane("nope".into()))
        );
        assert_eq!(
            w.remove_persona("nope"),
            Err(WriteError::UnknownPersona("nope".into()))
        );
        assert_eq!(
            w.set_metric_value(&f.s1, "nope", 1.0),
            Err(WriteError::UnknownMetric {
                stage: f.s1.clone(),
                metric: "nope".into()
            })
        );
        assert_eq!(
            w.remove_comment(&f.card, "nope"),
            Err(WriteError::UnknownComment {
                card: f.card.clone(),
                comment: "nope".into()
            })
        );
    });
}

#[test]
fn the_key_touchpoint_must_be_a_card_in_a_touchpoints_lane() {
    let f = fixture();
    edit(&f.doc, &f.refs, |w| {
        w.set_key_touchpoint(Some(&f.card)).unwrap();
        let action = w
            .add_card(&NewCard {
                stage: f.s1.clone(),
                lane: f.actions.clone(),
                ..NewCard::default()
            })
            .unwrap();
        assert_eq!(
            w.set_key_touchpoint(Some(&action)),
            Err(WriteError::NotATouchpoint(action.clone()))
        );
    });
    assert_eq!(
        Board::from_doc(&f.doc).meta.key_touchpoint.as_deref(),
        Some(f.card.as_str())
    );
}

#[test]
fn removing_a_stage_removes_its_cards_and_clears_the_key_touchpoint() {
    let f = fixture();
    let removed = edit(&f.doc, &f.refs, |w| {
        w.set_key_touchpoint(Some(&f.card)).unwrap();
        w.remove_stage(&f.s1).unwrap()
    });
    assert_eq!(removed, 1);
    let board = Board::from_doc(&f.doc);
    assert!(board.cards.is_empty());
    assert_eq!(board.meta.key_touchpoint, None);
    assert_eq!(board.stages.len(), 1);
    assert!(validate(&board).is_empty(), "{:#?}", validate(&board));
}

#[test]
fn votes_reactions_and_comments_follow_each_participant() {
    let f = fixture();
    edit(&f.doc, &f.refs, |w| {
        assert_eq!(w.unvote(&f.card, "ana").unwrap(), 0, "never below zero");
        assert_eq!(w.vote(&f.card, "ana").unwrap(), 1);
        assert_eq!(w.vote(&f.card, "ana").unwrap(), 2);
        assert_eq!(w.unvote(&f.card, "ana").unwrap(), 1);
        assert!(w.toggle_reaction(&f.card, "👍", "ana").unwrap());
        assert!(w.toggle_reaction(&f.card, "👍", "ben").unwrap());
        assert!(w.toggle_reaction(&f.card, "🎉", "ben").unwrap());
        assert!(!w.toggle_reaction(&f.card, "🎉", "ben").unwrap());
        w.add_comment(&f.card, "Ana", "Seen in the interviews too")
            .unwrap();
        w.set_card_priority(&f.card, Some(Priority::High)).unwrap();
        w.set_card_color(&f.card, "#06d6a0").unwrap();
        w.set_card_team(&f.card, "support").unwrap();
    });
    let card = Board::from_doc(&f.doc).cards.remove(0);
    assert_eq!(card.votes, BTreeMap::from([("ana".into(), 1)]));
    assert_eq!(
        card.reactions,
        BTreeMap::from([("👍".into(), vec!["ana".to_string(), "ben".to_string()])])
    );
    assert_eq!(card.comments.len(), 1);
    assert_eq!(card.comments[0].text, "Seen in the interviews too");
    assert_eq!(card.comments[0].created_at, NOW);
    assert_eq!(card.priority, Some(Priority::High));
    assert_eq!(
        (card.color.as_str(), card.team.as_str()),
        ("#06d6a0", "support")
    );
}

#[test]
fn metrics_and_personas_can_be_added_updated_and_removed() {
    let f = fixture();
    let (metric, persona) = edit(&f.doc, &f.refs, |w| {
        let m = w
            .add_metric(
                &f.s1,
                &MetricInit {
                    name: "Visits".into(),
                    unit: "visits".into(),
                    ..MetricInit::default()
                },
            )
            .unwrap();
        w.set_metric_value(&f.s1, &m, 1250.0).unwrap();
        let p = w.add_persona(&PersonaInit {
            name: "Claire".into(),
            ..PersonaInit::default()
        });
        w.update_persona(
            &p,
            &PersonaInit {
                name: "Claire".into(),
                goals: "Get her child back to school".into(),
                ..PersonaInit::default()
            },
        )
        .unwrap();
        (m, p)
    });
    let board = Board::from_doc(&f.doc);
    assert_eq!(board.stages[0].metrics[0].value, 1250.0);
    assert_eq!(board.personas[0].goals, "Get her child back to school");

    edit(&f.doc, &f.refs, |w| {
        w.update_metric(
            &f.s1,
            &metric,
            &MetricInit {
                name: "Visits".into(),
                value: 1300.0,
                unit: "visits".into(),
                target: Some(2000.0),
            },
        )
        .unwrap();
    });
    assert_eq!(
        Board::from_doc(&f.doc).stages[0].metrics[0].target,
        Some(2000.0)
    );
    edit(&f.doc, &f.refs, |w| {
        w.remove_metric(&f.s1, &metric).unwrap();
        w.remove_persona(&persona).unwrap();
    });
    let board = Board::from_doc(&f.doc);
    assert!(board.stages[0].metrics.is_empty());
    assert!(board.personas.is_empty());
}

#[test]
fn collections_are_sorted_by_position_then_id() {
    let f = fixture();
    edit(&f.doc, &f.refs, |w| {
        // s2 before s1; the two lanes at the same position fall back to id order.
        w.move_stage(&f.s2, position_between(None, Some(1.0)))
            .unwrap();
        w.move_lane(&f.touch, 3.0).unwrap();
        w.move_lane(&f.actions, 3.0).unwrap();
    });
    let board = Board::from_doc(&f.doc);
    assert_eq!(board.stages[0].id, f.s2);
    let mut lane_ids = vec![f.touch.clone(), f.actions.clone()];
    lane_ids.sort();
    assert_eq!(
        board.lanes.iter().map(|l| l.id.clone()).collect::<Vec<_>>(),
        lane_ids
    );
}

#[test]
fn position_between_stays_strictly_between_its_neighbours() {
    assert_eq!(position_between(None, None), 1.0);
    assert_eq!(position_between(Some(2.5), None), 3.0);
    assert_eq!(position_between(None, Some(1.0)), 0.0);
    assert_eq!(position_between(Some(1.0), Some(2.0)), 1.5);
    let tiny = position_between(Some(1.0), Some(1.0 + f64::EPSILON));
    assert_eq!(tiny, 1.0, "no float in between: tie, broken by id");
}

#[test]
fn ids_are_sixteen_hex_characters_and_follow_the_seed() {
    let mut a = IdGen::from_seed(42);
    let mut b = IdGen::from_seed(42);
    let first = a.next_id();
    assert_eq!(first.len(), 16);
    assert!(first
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(first, b.next_id());
    assert_ne!(a.next_id(), first);

    let (doc, refs) = new_board(9);
    let mut txn = doc.transact_mut();
    let mut w = BoardWriter::new(&mut txn, &refs, NOW).with_ids(IdGen::from_seed(42));
    assert_eq!(w.add_stage("A", ""), first);
}

#[test]
fn two_writers_in_the_same_millisecond_make_different_ids() {
    let (doc, refs) = new_board(3);
    let a = edit(&doc, &refs, |w| w.add_stage("A", ""));
    let b = edit(&doc, &refs, |w| w.add_stage("B", ""));
    assert_ne!(a, b);
}

#[test]
fn a_board_can_be_read_inside_the_write_transaction_that_changes_it() {
    let doc = Doc::with_client_id(4);
    let mut txn = doc.transact_mut();
    let refs = BoardRefs::from_txn(&mut txn);
    let mut w = BoardWriter::new(&mut txn, &refs, NOW);
    w.add_stage("Awareness", "");
    let board = Board::read(w.txn());
    assert_eq!(board.stages[0].name, "Awareness");
}

// ----- reading odd documents --------------------------------------------------------------------

#[test]
fn reading_garbage_never_panics_and_reports_each_wrong_value_by_path() {
    let doc = Doc::with_client_id(5);
    let meta = doc.get_or_insert_map("meta");
    let stages = doc.get_or_insert_map("stages");
    let cards = doc.get_or_insert_map("cards");
    let personas = doc.get_or_insert_map("personas");
    let lanes = doc.get_or_insert_array("lanes");
    {
        let mut txn = doc.transact_mut();
        meta.insert(&mut txn, "title", 42);
        meta.insert(&mut txn, "lang", "de");
        meta.insert(&mut txn, "schemaVersion", "one");
        meta.insert(&mut txn, "description", TextPrelim::new("collaborative"));
        lanes.push_back(&mut txn, "not a lane");
        cards.insert(&mut txn, "c1", "just a string");
        stages.insert(
            &mut txn,
            "s1",
            MapPrelim::from([
                ("name", In::from(7)),
                ("emotion", In::from("x")),
                ("metrics", In::from(true)),
            ]),
        );
        stages.insert(
            &mut txn,
            "s2",
            MapPrelim::from([("emotion", In::from(1.5))]),
        );
        cards.insert(
            &mut txn,
            "c2",
            MapPrelim::from([
                ("text", In::from("plain")),
                ("votes", In::from("lots")),
                ("priority", In::from("urgent")),
                ("position", In::from(f64::NAN)),
                (
                    "reactions",
                    In::Map(MapPrelim::from([(
                        "👍",
                        In::Map(MapPrelim::from([("ana", In::from(false))])),
                    )])),
                ),
                (
                    "comments",
                    In::Map(MapPrelim::from([("k1", In::from(Any::Null))])),
                ),
            ]),
        );
        let plain: Any = Any::from(std::collections::HashMap::from([(
            "name".to_string(),
            Any::from("Claire"),
        )]));
        personas.insert(&mut txn, "p1", plain);
    }

    let board = Board::from_doc(&doc);
    assert_eq!(board.cards.len(), 1, "the string card is skipped");
    assert_eq!(board.cards[0].text, "plain");
    assert!(board.cards[0].reactions.is_empty());
    assert_eq!(board.stages.len(), 2);
    assert_eq!(board.stages[0].emotion, None);
    assert_eq!(
        board.personas[0].name, "Claire",
        "a plain object is still read"
    );
    assert_eq!(board.meta.description, "collaborative");
    assert_eq!(board.meta.lang, Lang::En);

    let problems = validate(&board);
    use ProblemCode::*;
    for (code, path) in [
        (WrongType, "meta/title"),
        (UnknownLang, "meta/lang"),
        (WrongType, "meta/schemaVersion"),
        (WrongType, "meta/description"),
        (WrongType, "lanes"),
        (WrongType, "cards/c1"),
        (WrongType, "stages/s1/name"),
        (WrongType, "stages/s1/emotion"),
        (WrongType, "stages/s1/metrics"),
        (EmotionNotInteger, "stages/s2/emotion"),
        (WrongType, "cards/c2/text"),
        (WrongType, "cards/c2/votes"),
        (UnknownPriority, "cards/c2/priority"),
        (WrongType, "cards/c2/position"),
        (WrongType, "cards/c2/comments/k1"),
        (WrongType, "personas/p1"),
        (MissingTitle, "meta/title"),
        (MissingSchemaVersion, "meta/schemaVersion"),
        (CardStageMissing, "cards/c2/stage"),
    ] {
        assert_reports(&problems, code, path);
    }
}

#[test]
fn writing_to_a_garbled_card_repairs_its_shape_instead_of_panicking() {
    let f = fixture();
    let card = f.refs.cards.clone();
    {
        let mut txn = f.doc.transact_mut();
        card.insert(
            &mut txn,
            "bad",
            MapPrelim::from([("text", In::from("plain")), ("votes", In::from(3))]),
        );
        card.insert(&mut txn, "str", "not a card");
    }
    edit(&f.doc, &f.refs, |w| {
        w.insert_card_text("bad", 5, " text").unwrap();
        assert_eq!(w.vote("bad", "ana").unwrap(), 1);
        assert_eq!(
            w.vote("str", "ana"),
            Err(WriteError::WrongType("cards/str".into()))
        );
    });
    let board = Board::from_doc(&f.doc);
    let bad = board.card("bad").unwrap();
    assert_eq!(bad.text, "plain text");
    assert_eq!(bad.votes.get("ana"), Some(&1));
    let repaired = board
        .read_problems
        .iter()
        .filter(|p| p.path.starts_with("cards/bad"))
        .count();
    assert_eq!(repaired, 0, "{:#?}", board.read_problems);
}

#[test]
fn a_nested_map_written_as_a_plain_object_is_converted_when_edited() {
    let f = fixture();
    {
        let mut txn = f.doc.transact_mut();
        let Some(yrs::Out::YMap(card)) = f.refs.cards.get(&txn, &f.card) else {
            panic!("fixture card is a Y.Map");
        };
        let votes = Any::from(std::collections::HashMap::from([(
            "ben".to_string(),
            Any::from(2),
        )]));
        card.insert(&mut txn, "votes", votes);
    }
    assert_reports(
        &validate(&Board::from_doc(&f.doc)),
        ProblemCode::WrongType,
        &format!("cards/{}/votes", f.card),
    );
    edit(&f.doc, &f.refs, |w| w.vote(&f.card, "ana").unwrap());
    let board = Board::from_doc(&f.doc);
    assert_eq!(
        board.cards[0].votes,
        BTreeMap::from([("ana".into(), 1), ("ben".into(), 2)])
    );
    assert!(board.read_problems.is_empty());
}

#[test]
fn a_replica_that_only_applied_updates_reads_the_same_board() {
    let f = fixture();
    // Like the server: it never defines the root types, it only applies what clients send.
    let relay = Doc::new();
    let update = f
        .doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    relay
        .transact_mut()
        .apply_update(Update::decode_v1(&update).unwrap())
        .unwrap();
    let board = Board::from_doc(&relay);
    assert_eq!(board, Board::from_doc(&f.doc));
    assert_eq!(validate(&board), vec![]);
}

#[test]
fn an_empty_document_reads_as_an_empty_board() {
    let board = Board::from_doc(&Doc::new());
    assert_eq!(board, Board::default());
}

// ----- validation -------------------------------------------------------------------------------

fn card(id: &str, stage: &str, lane: &str) -> Card {
    Card {
        id: id.into(),
        stage: stage.into(),
        lane: lane.into(),
        ..Card::default()
    }
}

#[test]
fn validation_reports_each_problem_kind_by_path() {
    let stage = |id: &str, name: &str, emotion| Stage {
        id: id.into(),
        name: name.into(),
        emotion,
        ..Stage::default()
    };
    let lane = |id: &str, kind| Lane {
        id: id.into(),
        kind,
        ..Lane::default()
    };
    let mut voted = card("c3", "s1", "l1");
    voted.votes.insert("ana".into(), -1);
    let board = Board {
        meta: Meta {
            title: " ".into(),
            schema_version: 2,
            journey_type: JourneyType::Unknown("holiday".into()),
            map_kind: MapKind::Unknown("mind map".into()),
            key_touchpoint: Some("ghost".into()),
            ..Meta::default()
        },
        stages: vec![
            stage("s1", "Awareness", Some(3)),
            stage("s2", "awareness ", None),
            stage("x", "Other", None),
        ],
        lanes: vec![
            lane("l1", LaneKind::Touchpoints),
            lane("l2", LaneKind::Unknown("gossip".into())),
            lane("x", LaneKind::Actions),
        ],
        cards: vec![card("c1", "nope", "l1"), card("c2", "s1", "nope"), voted],
        ..Board::default()
    };
    let problems = validate(&board);
    use ProblemCode::*;
    let expected = [
        (MissingTitle, "meta/title"),
        (UnsupportedSchemaVersion, "meta/schemaVersion"),
        (UnknownJourneyType, "meta/journeyType"),
        (UnknownMapKind, "meta/mapKind"),
        (KeyTouchpointMissing, "meta/keyTouchpoint"),
        (DuplicateId, "lanes/x"),
        (EmotionOutOfRange, "stages/s1/emotion"),
        (DuplicateStageName, "stages/s2/name"),
        (UnknownLaneKind, "lanes/l2/kind"),
        (CardStageMissing, "cards/c1/stage"),
        (CardLaneMissing, "cards/c2/lane"),
        (NegativeVotes, "cards/c3/votes/ana"),
    ];
    assert_eq!(
        codes_at(&problems),
        expected
            .iter()
            .map(|(c, p)| (*c, p.to_string()))
            .collect::<Vec<_>>()
    );
    let severity = |code| problems.iter().find(|p| p.code == code).unwrap().severity;
    assert_eq!(severity(CardStageMissing), Severity::Error);
    assert_eq!(severity(DuplicateStageName), Severity::Warning);

    let mut not_touchpoint = board.clone();
    not_touchpoint.meta.key_touchpoint = Some("c2".into());
    not_touchpoint.cards[1].lane = "x".into();
    assert_reports(
        &validate(&not_touchpoint),
        KeyTouchpointNotTouchpoint,
        "meta/keyTouchpoint",
    );
}

#[test]
fn problem_codes_serialise_as_their_stable_snake_case_strings() {
    for &code in ProblemCode::ALL {
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            serde_json::Value::String(code.as_str().into())
        );
    }
}

// ----- templates --------------------------------------------------------------------------------

#[test]
fn every_template_instantiates_and_validates_clean_in_both_languages() {
    for t in templates() {
        for lang in [Lang::En, Lang::Fr] {
            let (doc, refs) = new_board(11);
            let persona = PersonaInit {
                name: "Claire".into(),
                ..PersonaInit::default()
            };
            edit(&doc, &refs, |w| {
                instantiate(w, t.id, lang, "Board", Some(&persona))
            })
            .unwrap();
            let board = Board::from_doc(&doc);
            assert_eq!(validate(&board), vec![], "{} {lang:?}", t.id);
            assert_eq!(board.meta.template, t.id);
            assert_eq!(board.meta.lang, lang);
            assert_eq!(board.meta.schema_version, SCHEMA_VERSION);
            assert_eq!(board.meta.journey_type, t.journey_type);
            assert_eq!(board.meta.map_kind, t.map_kind);
            assert_eq!(board.meta.created_at, NOW);
            assert_eq!(board.stages.len(), t.stages.len());
            assert_eq!(board.lanes.len(), t.lanes.len());
            assert_eq!(board.personas.len(), 1);
            for (stage, info) in board.stages.iter().zip(t.stages) {
                assert_eq!(stage.name, info.name.get(lang));
                assert_eq!(stage.metrics.len(), info.metrics.len());
            }
            for lane in &board.lanes {
                assert!(!lane.title.is_empty(), "{} {lang:?}", t.id);
                assert!(!lane.question.is_empty(), "{} {lang:?}", t.id);
            }
        }
    }
}

#[test]
fn there_is_a_template_for_each_journey_type_and_map_kind() {
    let ids: Vec<&str> = templates().iter().map(|t| t.id).collect();
    for id in [
        "customer-journey",
        "customer-experience",
        "onboarding",
        "maintenance",
        "usage",
        "replacement",
        "brainstorm",
    ] {
        assert!(ids.contains(&id), "{id}");
    }
    for jt in [
        JourneyType::Onboarding,
        JourneyType::Maintenance,
        JourneyType::Usage,
        JourneyType::Replacement,
    ] {
        assert!(templates().iter().any(|t| t.journey_type == jt), "{jt}");
    }
    assert!(templates()
        .iter()
        .any(|t| t.map_kind == MapKind::Experience));
}

#[test]
fn the_customer_journey_template_carries_the_domain_stages_lanes_and_metrics() {
    let (doc, refs) = new_board(12);
    edit(&doc, &refs, |w| {
        instantiate(w, "customer-journey", Lang::Fr, "Parcours", None)
    })
    .unwrap();
    let board = Board::from_doc(&doc);
    let names: Vec<&str> = board.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Sensibilisation",
            "Considération",
            "Décision / achat",
            "Service",
            "Fidélisation",
            "Recommandation"
        ]
    );
    let kinds: Vec<&LaneKind> = board.lanes.iter().map(|l| &l.kind).collect();
    let expected: Vec<&LaneKind> = LaneKind::ALL
        .iter()
        .filter(|k| **k != LaneKind::Custom)
        .collect();
    assert_eq!(kinds, expected);
    let metrics = |i: usize| -> Vec<(&str, &str)> {
        board.stages[i]
            .metrics
            .iter()
            .map(|m| (m.name.as_str(), m.unit.as_str()))
            .collect()
    };
    assert_eq!(
        metrics(0),
        [("Visites", "visites"), ("Temps passé sur la page", "s")]
    );
    assert_eq!(
        metrics(2),
        [
            ("Taux d'abandon de panier", "%"),
            ("Taux de conversion des ventes", "%")
        ]
    );
    assert_eq!(metrics(5).len(), 2);
    assert!(board.stages[0]
        .metrics
        .iter()
        .all(|m| m.value == 0.0 && m.target.is_none()));
    let pain = board
        .lanes
        .iter()
        .find(|l| l.kind == LaneKind::PainPoints)
        .unwrap();
    assert_eq!(pain.title, "Points de douleur");
    assert!(
        pain.question.ends_with("accessible\u{a0}?"),
        "French typography: {:?}",
        pain.question
    );
}

#[test]
fn instantiate_refuses_an_unknown_template_and_a_board_already_in_use() {
    let f = fixture();
    edit(&f.doc, &f.refs, |w| {
        assert_eq!(
            instantiate(w, "nope", Lang::En, "x", None),
            Err(WriteError::UnknownTemplate("nope".into()))
        );
        assert_eq!(
            instantiate(w, "brainstorm", Lang::En, "x", None),
            Err(WriteError::BoardNotEmpty)
        );
    });
    assert_eq!(Board::from_doc(&f.doc).meta.title, "Q3 onboarding");
}

// ----- serde ------------------------------------------------------------------------------------

#[test]
fn a_board_survives_a_json_round_trip_with_camel_case_keys() {
    let f = fixture();
    edit(&f.doc, &f.refs, |w| {
        w.set_key_touchpoint(Some(&f.card)).unwrap();
        w.vote(&f.card, "ana").unwrap();
        w.toggle_reaction(&f.card, "👍", "ben").unwrap();
        w.add_comment(&f.card, "Ben", "Agreed").unwrap();
        w.set_card_priority(&f.card, Some(Priority::Medium))
            .unwrap();
        w.set_stage_emotion(&f.s1, Some(-1)).unwrap();
        w.add_metric(
            &f.s1,
            &MetricInit {
                name: "Time on page".into(),
                value: 12.5,
                unit: "s".into(),
                target: Some(30.0),
            },
        )
        .unwrap();
        w.add_persona(&PersonaInit {
            name: "Claire".into(),
            picture_url: "https://example.test/claire.png".into(),
            ..PersonaInit::default()
        });
    });
    let mut board = Board::from_doc(&f.doc);
    board.read_problems.push(Problem::new(
        "cards/x",
        ProblemCode::WrongType,
        "expected a Y.Map",
    ));
    let json = serde_json::to_string(&board).unwrap();
    for key in [
        "\"keyTouchpoint\"",
        "\"journeyType\"",
        "\"pictureUrl\"",
        "\"createdAt\"",
        "\"readProblems\"",
        "\"wrong_type\"",
        "\"touchpoints\"",
    ] {
        assert!(json.contains(key), "{key} in {json}");
    }
    let back: Board = serde_json::from_str(&json).unwrap();
    assert_eq!(back, board);
}

#[test]
fn unknown_enum_strings_survive_json_and_read_back_as_unknown() {
    let lane: Lane = serde_json::from_str(r#"{"id":"l","kind":"gossip"}"#).unwrap();
    assert_eq!(lane.kind, LaneKind::Unknown("gossip".into()));
    assert_eq!(
        serde_json::to_string(&LaneKind::PainPoints).unwrap(),
        "\"painPoints\""
    );
    assert_eq!(
        serde_json::to_value(&lane).unwrap()["kind"],
        serde_json::json!("gossip")
    );
}

#[test]
fn the_document_layout_uses_the_documented_yjs_types_and_keys() {
    let f = fixture();
    let txn = f.doc.transact();
    let Some(yrs::Out::YMap(card)) = f.refs.cards.get(&txn, &f.card) else {
        panic!("a card is a Y.Map");
    };
    assert!(matches!(card.get(&txn, "text"), Some(yrs::Out::YText(_))));
    for key in ["votes", "comments", "reactions"] {
        assert!(
            matches!(card.get(&txn, key), Some(yrs::Out::YMap(_))),
            "{key}"
        );
    }
    for key in ["stage", "lane", "author", "color", "team"] {
        assert!(
            matches!(card.get(&txn, key), Some(yrs::Out::Any(Any::String(_)))),
            "{key}"
        );
    }
    for key in ["createdAt", "updatedAt", "position"] {
        assert!(
            matches!(card.get(&txn, key), Some(yrs::Out::Any(Any::Number(_)))),
            "{key}"
        );
    }
    let json = txn.get_map("meta").unwrap().to_json(&txn);
    let Any::Map(meta) = json else {
        panic!("meta is a map")
    };
    assert_eq!(meta.get("schemaVersion"), Some(&Any::from(1)));
    assert_eq!(meta.get("title"), Some(&Any::from("Q3 onboarding")));
}

// ----- SCHEMA.md --------------------------------------------------------------------------------

#[test]
fn schema_md_documents_every_key_code_lane_kind_and_template() {
    let doc = include_str!("../../../SCHEMA.md");
    let quoted = |s: &str| format!("`{s}`");
    let keys = [
        keys::META,
        keys::PERSONAS,
        keys::STAGES,
        keys::LANES,
        keys::CARDS,
        keys::WORKSHOP,
        keys::AUTHOR_ID,
        keys::TIMER_DURATION_MS,
        keys::TIMER_ENDS_AT,
        keys::TIMER_REMAINING_MS,
        keys::TIMER_LABEL,
        keys::VOTING_OPEN,
        keys::VOTING_ROUND,
        keys::VOTES_PER_PARTICIPANT,
        keys::BRAINSTORM_PRIVATE,
        keys::BRAINSTORM_REVEAL_AT,
        keys::TITLE,
        keys::DESCRIPTION,
        keys::JOURNEY_TYPE,
        keys::MAP_KIND,
        keys::LANG,
        keys::TEMPLATE,
        keys::CREATED_AT,
        keys::UPDATED_AT,
        keys::SCHEMA_VERSION,
        keys::KEY_TOUCHPOINT,
        keys::NAME,
        keys::POSITION,
        keys::PICTURE_URL,
        keys::AGE_RANGE,
        keys::OCCUPATION,
        keys::FAMILY_SITUATION,
        keys::INTERESTS,
        keys::BUYING_HABITS,
        keys::DIGITAL_COMFORT,
        keys::GOALS,
        keys::FRUSTRATIONS,
        keys::EMOTION,
        keys::METRICS,
        keys::VALUE,
        keys::UNIT,
        keys::TARGET,
        keys::KIND,
        keys::QUESTION,
        keys::STAGE,
        keys::LANE,
        keys::TEXT,
        keys::AUTHOR,
        keys::COLOR,
        keys::TEAM,
        keys::PRIORITY,
        keys::VOTES,
        keys::COMMENTS,
        keys::REACTIONS,
    ];
    for key in keys {
        assert!(doc.contains(&quoted(key)), "key {key} is not in SCHEMA.md");
    }
    for code in ProblemCode::ALL {
        assert!(
            doc.contains(&quoted(code.as_str())),
            "code {code} is not in SCHEMA.md"
        );
    }
    for kind in LaneKind::ALL {
        assert!(
            doc.contains(&quoted(kind.as_str())),
            "lane kind {kind} is not in SCHEMA.md"
        );
    }
    for t in templates() {
        assert!(
            doc.contains(&quoted(t.id)),
            "template {} is not in SCHEMA.md",
            t.id
        );
    }
}
