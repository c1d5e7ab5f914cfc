//! Restoring a document to a past version in place ([`converge`]): the live document ends with
//! the version's content, replicas that only receive the edit converge too, and concurrent edits
//! the restore does not conflict with survive.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use client_protocol::converge::{converge, ConvergeError, Converged};
use client_protocol::schema::{Board, BoardRefs, BoardWriter, LaneKind, NewCard, PersonaInit};
use proptest::prelude::*;
use serde_json::{json, Value};
use yrs::block::ClientID;
use yrs::types::text::YChange;
use yrs::types::{Attrs, ToJson};
use yrs::updates::decoder::Decode;
use yrs::{
    Any, Array, ArrayPrelim, ArrayRef, Doc, GetString, In, Map, MapPrelim, MapRef, OffsetKind,
    Options, Out, ReadTxn, StateVector, Text, TextPrelim, TextRef, Transact, Update, XmlTextPrelim,
};

const NOW: i64 = 1_700_000_000_000;

// ----- documents -------------------------------------------------------------------------------

/// A new replica of `doc` made only from its encoded state, as a client or the history store
/// would rebuild it: none of its roots is declared.
fn fork(doc: &Doc, client: u64) -> Doc {
    let copy = Doc::with_client_id(client);
    apply(
        &copy,
        &doc.transact()
            .encode_state_as_update_v1(&StateVector::default()),
    );
    copy
}

fn apply(doc: &Doc, update: &[u8]) {
    doc.transact_mut()
        .apply_update(Update::decode_v1(update).unwrap())
        .unwrap();
}

/// Exchanges updates both ways, as the server would relay them.
fn sync(a: &Doc, b: &Doc) {
    let to_b = a
        .transact()
        .encode_state_as_update_v1(&b.transact().state_vector());
    let to_a = b
        .transact()
        .encode_state_as_update_v1(&a.transact().state_vector());
    apply(b, &to_b);
    apply(a, &to_a);
}

/// Records every update `doc` emits, as the server's room does to broadcast them.
fn record_updates(doc: &Doc) -> Arc<Mutex<Vec<Vec<u8>>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    doc.observe_update_v1("record", move |_, event| {
        sink.lock().unwrap().push(event.update.clone());
    })
    .unwrap();
    seen
}

/// Restores `live` to `target`'s content in one transaction.
fn restore(live: &Doc, target: &Doc) -> Converged {
    let mut txn = live.transact_mut();
    converge(&mut txn, &target.transact()).expect("converge")
}

// ----- a full dump of a document, shared types told apart from plain values --------------------

/// Every non-empty root of `doc`, through both its map part and its sequence part (a root rebuilt
/// from updates has no declared type), with Y.Map, Y.Array and Y.Text told apart from plain
/// values and text formatting included.
fn dump(doc: &Doc) -> BTreeMap<String, Value> {
    let txn = doc.transact();
    let mut roots = BTreeMap::new();
    for (name, _) in txn.root_refs() {
        let map = txn
            .get_map(name)
            .filter(|m| m.len(&txn) > 0)
            .map(|m| dump_map(&m, &txn));
        let text = txn
            .get_text(name)
            .filter(|t| !t.get_string(&txn).is_empty());
        let seq = match text {
            Some(t) => Some(dump_text(&t, &txn)),
            None => txn
                .get_array(name)
                .filter(|a| a.len(&txn) > 0)
                .map(|a| dump_array(&a, &txn)),
        };
        if map.is_some() || seq.is_some() {
            roots.insert(name.to_owned(), json!({ "map": map, "seq": seq }));
        }
    }
    roots
}

fn dump_value<T: ReadTxn>(value: &Out, txn: &T) -> Value {
    match value {
        Out::Any(any) => json!({ "any": plain(any) }),
        Out::YMap(m) => dump_map(m, txn),
        Out::YArray(a) => dump_array(a, txn),
        Out::YText(t) => dump_text(t, txn),
        other => json!({ "other": format!("{other:?}") }),
    }
}

fn dump_map<T: ReadTxn>(map: &MapRef, txn: &T) -> Value {
    let entries: BTreeMap<String, Value> = map
        .iter(txn)
        .map(|(k, v)| (k.to_owned(), dump_value(&v, txn)))
        .collect();
    json!({ "Y.Map": entries })
}

fn dump_array<T: ReadTxn>(array: &ArrayRef, txn: &T) -> Value {
    let items: Vec<Value> = array.iter(txn).map(|v| dump_value(&v, txn)).collect();
    json!({ "Y.Array": items })
}

/// A text as runs of uniformly formatted characters and embeds (adjacent runs with the same
/// formatting merged, however yrs happens to split them).
fn dump_text<T: ReadTxn>(text: &TextRef, txn: &T) -> Value {
    let mut runs: Vec<(Value, Value)> = Vec::new();
    for chunk in text.diff(txn, YChange::identity) {
        let attrs = chunk
            .attributes
            .as_deref()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| (k.to_string(), plain(v)))
                    .collect::<BTreeMap<_, _>>()
            })
            .unwrap_or_default();
        let attrs = json!(attrs);
        match &chunk.insert {
            Out::Any(Any::String(s)) => match runs.last_mut() {
                Some((Value::String(prev), prev_attrs)) if *prev_attrs == attrs => {
                    prev.push_str(s);
                }
                _ => runs.push((Value::String(s.to_string()), attrs)),
            },
            other => runs.push((json!({ "embed": dump_value(other, txn) }), attrs)),
        }
    }
    json!({ "Y.Text": runs })
}

/// A plain value as JSON, numbers as floats (an update may turn an integer into a float).
fn plain(any: &Any) -> Value {
    match any {
        Any::Null => json!(null),
        Any::Undefined => json!("<undefined>"),
        Any::Bool(b) => json!(b),
        Any::Number(n) => json!(n.as_f64()),
        Any::String(s) => json!(s.as_ref()),
        Any::Buffer(b) => json!({ "buffer": b.as_ref() }),
        Any::Array(items) => Value::Array(items.iter().map(plain).collect()),
        Any::Map(map) => json!(map
            .iter()
            .map(|(k, v)| (k.clone(), plain(v)))
            .collect::<BTreeMap<_, _>>()),
    }
}

/// The JSON yrs itself gives for each of a board's six root maps (parsed, so that key order does
/// not matter).
fn board_json(doc: &Doc) -> Vec<Value> {
    let txn = doc.transact();
    ["meta", "personas", "stages", "lanes", "cards", "workshop"]
        .iter()
        .map(|name| {
            let mut out = String::new();
            match txn.get_map(*name) {
                Some(m) => m.to_json(&txn).to_json(&mut out),
                None => out.push_str("{}"),
            }
            serde_json::from_str(&out).unwrap()
        })
        .collect()
}

// ----- boards ----------------------------------------------------------------------------------

fn edit<R>(doc: &Doc, now: i64, f: impl FnOnce(&mut BoardWriter<'_, '_>) -> R) -> R {
    let refs = BoardRefs::new(doc);
    let mut txn = doc.transact_mut();
    let mut w = BoardWriter::new(&mut txn, &refs, now);
    f(&mut w)
}

/// A board with two stages, two lanes and three cards, with votes and a comment.
fn small_board(client: u64) -> Doc {
    let doc = Doc::with_client_id(client);
    edit(&doc, NOW, |w| {
        w.init_meta(&client_protocol::schema::MetaInit {
            title: "Q3 onboarding".into(),
            ..Default::default()
        });
        let s1 = w.add_stage("Awareness", "");
        let s2 = w.add_stage("Purchase", "");
        let l1 = w.add_lane(&LaneKind::Touchpoints, "Touchpoints", "Where?");
        let l2 = w.add_lane(&LaneKind::PainPoints, "Pain points", "What hurts?");
        let mut ids = Vec::new();
        for (stage, lane, text) in [
            (&s1, &l1, "Banner ad"),
            (&s1, &l2, "Too many emails"),
            (&s2, &l1, "Checkout page"),
        ] {
            let id = w
                .add_card(&NewCard {
                    stage: stage.clone(),
                    lane: lane.clone(),
                    text: text.into(),
                    author: "Ana".into(),
                    color: "#ffd166".into(),
                    team: "product".into(),
                })
                .unwrap();
            w.vote(&id, "ana").unwrap();
            ids.push(id);
        }
        w.add_comment(&ids[1], "Ben", "Agreed").unwrap();
    });
    doc
}

fn card_with_text(doc: &Doc, text: &str) -> String {
    Board::from_doc(doc)
        .cards
        .into_iter()
        .find(|c| c.text == text)
        .unwrap()
        .id
}

fn card_ids(doc: &Doc) -> Vec<String> {
    Board::from_doc(doc)
        .cards
        .into_iter()
        .map(|c| c.id)
        .collect()
}

fn card<'b>(board: &'b Board, id: &str) -> &'b client_protocol::schema::Card {
    board.cards.iter().find(|c| c.id == id).unwrap()
}

// ----- named scenarios -------------------------------------------------------------------------

#[test]
fn restoring_a_version_where_a_card_was_deleted_brings_it_back_with_its_fields() {
    let live = small_board(1);
    let version = fork(&live, 9);
    let gone = card_ids(&live)[0].clone();
    edit(&live, NOW + 1, |w| w.delete_card(&gone).unwrap());
    assert!(Board::from_doc(&live).cards.iter().all(|c| c.id != gone));

    let done = restore(&live, &version);

    let board = Board::from_doc(&live);
    assert_eq!(board, Board::from_doc(&version));
    assert_eq!(board_json(&live), board_json(&version));
    assert_eq!(dump(&live), dump(&version));
    let back = card(&board, &gone);
    assert_eq!(back.text, card(&Board::from_doc(&version), &gone).text);
    assert_eq!(back.votes.get("ana"), Some(&1));
    assert!(done.keys_set >= 10, "the card and its fields: {done:?}");
}

#[test]
fn restoring_to_before_a_card_was_added_removes_it() {
    let live = small_board(1);
    let version = fork(&live, 9);
    let board = Board::from_doc(&live);
    let added = edit(&live, NOW + 1, |w| {
        w.add_card(&NewCard {
            stage: board.stages[0].id.clone(),
            lane: board.lanes[0].id.clone(),
            text: "Late idea".into(),
            ..Default::default()
        })
        .unwrap()
    });

    let done = restore(&live, &version);

    assert!(Board::from_doc(&live).cards.iter().all(|c| c.id != added));
    assert_eq!(Board::from_doc(&live), Board::from_doc(&version));
    assert_eq!(dump(&live), dump(&version));
    // The card's key and meta.updatedAt; nothing else.
    assert_eq!(done.keys_removed, 1);
    assert_eq!(done.keys_set, 1);
}

#[test]
fn a_history_of_only_deletions_is_restored() {
    let live = small_board(1);
    let version = fork(&live, 9);
    let board = Board::from_doc(&live);
    edit(&live, NOW + 1, |w| {
        for card in &board.cards {
            w.delete_card(&card.id).unwrap();
        }
        w.remove_stage(&board.stages[1].id).unwrap();
        w.remove_lane(&board.lanes[0].id).unwrap();
    });
    // Deleting keys of the root maps directly too, without the writer's bookkeeping.
    {
        let refs = BoardRefs::new(&live);
        let mut txn = live.transact_mut();
        refs.meta.remove(&mut txn, "title");
        refs.workshop.remove(&mut txn, "votingOpen");
    }

    restore(&live, &version);

    assert_eq!(Board::from_doc(&live), Board::from_doc(&version));
    assert_eq!(board_json(&live), board_json(&version));
    assert_eq!(dump(&live), dump(&version));
}

#[test]
fn converging_to_an_identical_document_makes_no_update() {
    let live = small_board(1);
    let version = fork(&live, 9);
    let before = live.transact().state_vector();
    let updates = record_updates(&live);

    let done = {
        let mut txn = live.transact_mut();
        let done = converge(&mut txn, &version.transact()).unwrap();
        assert_eq!(txn.encode_update_v1(), Update::EMPTY_V1.to_vec());
        done
    };

    assert!(done.is_empty(), "{done:?}");
    assert!(updates.lock().unwrap().is_empty());
    assert_eq!(live.transact().state_vector(), before);
}

#[test]
fn a_stock_client_receives_the_restore_as_one_update_and_matches_the_version() {
    let live = small_board(1);
    let client = fork(&live, 2);
    let version = fork(&live, 9);
    let board = Board::from_doc(&live);
    edit(&live, NOW + 1, |w| {
        w.set_title("Q4 onboarding");
        w.set_card_text(&board.cards[0].id, "Banner ads everywhere")
            .unwrap();
        w.delete_card(&board.cards[1].id).unwrap();
        w.add_stage("Loyalty", "");
    });
    sync(&live, &client);
    let late = fork(&live, 3);
    let before = live.transact().state_vector();
    let updates = record_updates(&live);

    restore(&live, &version);

    // What the server would broadcast: the one update of the restore's transaction.
    let broadcast = updates.lock().unwrap().clone();
    assert_eq!(broadcast.len(), 1);
    apply(&client, &broadcast[0]);
    assert_eq!(Board::from_doc(&client), Board::from_doc(&version));
    assert_eq!(dump(&client), dump(&version));
    // The same edit as a diff against the state before it, as a sync answer would carry it.
    let diff = live.transact().encode_diff_v1(&before);
    apply(&late, &diff);
    assert_eq!(dump(&late), dump(&version));
}

#[test]
fn an_offline_participants_new_card_and_untouched_edit_survive_a_restore() {
    let live = small_board(1);
    let version = fork(&live, 9);
    let board = Board::from_doc(&live);
    let kept = card_with_text(&live, "Banner ad");
    let changed = card_with_text(&live, "Checkout page");
    // After the version: someone renames a stage and rewrites one card.
    edit(&live, NOW + 1, |w| {
        w.rename_stage(&board.stages[0].id, "Discovery").unwrap();
        w.set_card_text(&changed, "Checkout page is slow").unwrap();
    });
    // A participant goes offline with the board as it now is, adds a card and edits a card that
    // the restore will not touch.
    let offline = fork(&live, 3);
    let new_card = edit(&offline, NOW + 2, |w| {
        w.insert_card_text(&kept, 0, "Big ").unwrap();
        w.add_card(&NewCard {
            stage: board.stages[1].id.clone(),
            lane: board.lanes[1].id.clone(),
            text: "Price shown late".into(),
            author: "Cleo".into(),
            ..Default::default()
        })
        .unwrap()
    });

    restore(&live, &version);
    sync(&live, &offline);

    let merged = Board::from_doc(&live);
    assert_eq!(merged, Board::from_doc(&offline));
    let mut expected = Board::from_doc(&version);
    let old = expected.cards.iter_mut().find(|c| c.id == kept).unwrap();
    old.text = format!("Big {}", old.text);
    old.updated_at = NOW + 2;
    expected.cards.push(card(&merged, &new_card).clone());
    expected.cards.sort_by(|a, b| {
        a.position
            .total_cmp(&b.position)
            .then_with(|| a.id.cmp(&b.id))
    });
    // Both wrote meta.updatedAt at the same time: one of the two wins, as with any concurrent
    // write of one key.
    assert!([NOW + 2, expected.meta.updated_at].contains(&merged.meta.updated_at));
    expected.meta.updated_at = merged.meta.updated_at;
    assert_eq!(merged, expected);
    assert_eq!(card(&merged, &new_card).text, "Price shown late");
    assert_eq!(card(&merged, &changed).text, "Checkout page");
}

#[test]
fn a_concurrent_insertion_in_the_unchanged_part_of_a_text_survives_the_restore() {
    let live = small_board(1);
    let id = card_ids(&live)[0].clone();
    edit(&live, NOW, |w| {
        w.set_card_text(&id, "The banner ad").unwrap()
    });
    let version = fork(&live, 9);
    edit(&live, NOW, |w| {
        w.set_card_text(&id, "The banner ad is loud").unwrap()
    });
    let typing = fork(&live, 3);
    edit(&typing, NOW, |w| {
        w.insert_card_text(&id, 4, "big ").unwrap()
    });

    let done = restore(&live, &version);
    sync(&live, &typing);

    assert_eq!(done.texts_edited, 1);
    assert_eq!(card(&Board::from_doc(&live), &id).text, "The big banner ad");
}

#[test]
fn a_changed_card_is_edited_in_place_not_replaced() {
    let live = small_board(1);
    let version = fork(&live, 9);
    let id = card_ids(&live)[0].clone();
    let refs = BoardRefs::new(&live);
    let (card_map, text) = {
        let txn = live.transact();
        let Some(Out::YMap(card)) = refs.cards.get(&txn, &id) else {
            panic!("card is a map")
        };
        let Some(Out::YText(text)) = card.get(&txn, "text") else {
            panic!("text is a Y.Text")
        };
        (card, text)
    };
    edit(&live, NOW + 1, |w| {
        w.set_card_color(&id, "#ef476f").unwrap();
        w.set_card_text(&id, "Something else").unwrap();
        w.vote(&id, "ben").unwrap();
    });

    let done = restore(&live, &version);

    let txn = live.transact();
    assert_eq!(refs.cards.get(&txn, &id), Some(Out::YMap(card_map.clone())));
    assert_eq!(card_map.get(&txn, "text"), Some(Out::YText(text)));
    // color, updatedAt of the card and of meta; the vote removed; one text edited.
    assert_eq!(done.keys_set, 3, "{done:?}");
    assert_eq!(done.keys_removed, 1, "{done:?}");
    assert_eq!(done.texts_edited, 1);
}

#[test]
fn converging_an_empty_document_to_a_board_creates_every_root_and_back() {
    let board = small_board(1);
    let empty = Doc::with_client_id(2);
    let version = fork(&board, 9);
    restore(&empty, &version);
    assert_eq!(Board::from_doc(&empty), Board::from_doc(&version));
    assert_eq!(board_json(&empty), board_json(&version));
    assert_eq!(dump(&empty), dump(&version));

    let nothing = Doc::with_client_id(8);
    restore(&board, &nothing);
    assert_eq!(Board::from_doc(&board), Board::default());
    assert!(dump(&board).is_empty());
}

#[test]
fn arrays_keep_their_common_elements_and_edit_a_changed_map_in_place() {
    let live = Doc::with_client_id(1);
    let list = live.get_or_insert_array("list");
    {
        let mut txn = live.transact_mut();
        list.insert_range(&mut txn, 0, ["a", "b", "c", "d"]);
        let m = list.insert(&mut txn, 2, MapPrelim::from([("k", In::from(1))]));
        m.insert(&mut txn, "j", "x");
    }
    let version = fork(&live, 9);
    let item = list.get(&live.transact(), 2).unwrap();
    {
        let mut txn = live.transact_mut();
        list.remove(&mut txn, 0);
        list.insert(&mut txn, 3, "new");
        let Out::YMap(m) = &item else { panic!() };
        m.insert(&mut txn, "k", 2);
    }

    let done = restore(&live, &version);

    assert_eq!(dump(&live), dump(&version));
    assert_eq!(list.get(&live.transact(), 2), Some(item));
    assert_eq!(
        done,
        Converged {
            keys_set: 1,
            elements_inserted: 1,
            elements_removed: 1,
            ..Converged::default()
        }
    );
}

#[test]
fn formatted_text_and_embeds_are_restored_exactly() {
    let live = Doc::with_options(Options {
        offset_kind: OffsetKind::Utf16,
        ..Options::with_client_id(ClientID::new(1))
    });
    let note = live.get_or_insert_text("note");
    let bold = Attrs::from([("bold".into(), Any::Bool(true))]);
    {
        let mut txn = live.transact_mut();
        note.insert(&mut txn, 0, "héllo 😀 world");
        note.format(&mut txn, 0, 5, bold.clone());
        note.insert_embed(&mut txn, 8, Any::from("image"));
    }
    let version = fork(&live, 9);
    {
        let mut txn = live.transact_mut();
        note.format(&mut txn, 2, 6, Attrs::from([("bold".into(), Any::Null)]));
        note.insert_with_attributes(&mut txn, 3, "XY", bold);
        note.remove_range(&mut txn, 0, 1);
        let m = note.insert_embed(&mut txn, 4, MapPrelim::default());
        m.insert(&mut txn, "k", "v");
    }
    assert_ne!(dump(&live), dump(&version));

    restore(&live, &version);

    assert_eq!(dump(&live), dump(&version));
}

#[test]
fn a_target_holding_an_xml_type_is_refused_before_any_edit() {
    let live = small_board(1);
    let version = fork(&live, 9);
    let cards = version.get_or_insert_map("cards");
    cards.insert(&mut version.transact_mut(), "odd", XmlTextPrelim::new("x"));
    let before = live.transact().state_vector();

    let result = {
        let mut txn = live.transact_mut();
        converge(&mut txn, &version.transact())
    };

    assert_eq!(
        result,
        Err(ConvergeError::Unsupported {
            path: "cards/odd".into(),
            found: "a Y.Xml type",
        })
    );
    assert_eq!(live.transact().state_vector(), before);
}

#[test]
fn a_root_declared_with_another_type_on_each_side_is_refused() {
    let live = Doc::with_client_id(1);
    live.get_or_insert_map("notes");
    let target = Doc::with_client_id(2);
    let text = target.get_or_insert_text("notes");
    text.insert(&mut target.transact_mut(), 0, "hi");

    let result = converge(&mut live.transact_mut(), &target.transact());

    assert_eq!(
        result,
        Err(ConvergeError::RootTypeMismatch {
            root: "notes".into(),
            live: "a Y.Map",
            target: "a Y.Text",
        })
    );
}

#[test]
fn plain_values_nested_anywhere_are_compared_by_value() {
    let live = Doc::with_client_id(1);
    let tree = live.get_or_insert_map("tree");
    {
        let mut txn = live.transact_mut();
        tree.insert(&mut txn, "big", 5_000_000_000i64);
        tree.insert(&mut txn, "nan", f64::NAN);
        tree.insert(
            &mut txn,
            "plain",
            Any::from_json(r#"{"a": [1, 2.5, "x", null, {"b": true}]}"#).unwrap(),
        );
        tree.insert(&mut txn, "nothing", Any::Undefined);
    }
    let version = fork(&live, 9);

    let done = restore(&live, &version);

    assert!(done.is_empty(), "{done:?}");
}

// ----- random boards ---------------------------------------------------------------------------

/// One random edit of a board, with the writer's usual operations; indexes pick among what
/// exists, and an edit that does not apply (no card yet) does nothing.
#[derive(Debug, Clone)]
struct BoardOp {
    kind: u8,
    a: usize,
    b: usize,
    n: i64,
    text: String,
}

fn board_op() -> impl Strategy<Value = BoardOp> {
    (
        any::<u8>(),
        any::<usize>(),
        any::<usize>(),
        -3i64..40,
        "[a-zé😀 ]{0,8}",
    )
        .prop_map(|(kind, a, b, n, text)| BoardOp {
            kind,
            a,
            b,
            n,
            text,
        })
}

fn pick(ids: &[String], i: usize) -> Option<&str> {
    (!ids.is_empty()).then(|| ids[i % ids.len()].as_str())
}

/// A live board after `base` then `after`, each op a millisecond after the last, the version it
/// had between the two (a copy), and the time of its last op.
fn board_history(base: &[BoardOp], after: &[BoardOp]) -> (Doc, Doc, i64) {
    let live = Doc::with_client_id(1);
    let mut now = NOW;
    for op in base {
        now += 1;
        run_board_op(&live, op, now);
    }
    let version = fork(&live, 9);
    for op in after {
        now += 1;
        run_board_op(&live, op, now);
    }
    (live, version, now)
}

fn run_board_op(doc: &Doc, op: &BoardOp, now: i64) {
    let board = Board::from_doc(doc);
    let stages: Vec<String> = board.stages.iter().map(|s| s.id.clone()).collect();
    let lanes: Vec<String> = board.lanes.iter().map(|l| l.id.clone()).collect();
    let cards: Vec<String> = board.cards.iter().map(|c| c.id.clone()).collect();
    let personas: Vec<String> = board.personas.iter().map(|p| p.id.clone()).collect();
    let people = ["ana", "ben", "cleo"];
    let who = people[op.n.unsigned_abs() as usize % 3];
    edit(doc, now, |w| {
        let card = pick(&cards, op.a);
        let stage = pick(&stages, op.a);
        match op.kind % 22 {
            0 => {
                w.add_stage(&op.text, "");
            }
            1 => {
                w.add_lane(
                    &LaneKind::parse(["actions", "touchpoints", "painPoints"][op.b % 3]),
                    &op.text,
                    "",
                );
            }
            2 | 3 => {
                if let (Some(s), Some(l)) = (pick(&stages, op.a), pick(&lanes, op.b)) {
                    let _ = w.add_card(&NewCard {
                        stage: s.into(),
                        lane: l.into(),
                        text: op.text.clone(),
                        author: who.into(),
                        ..Default::default()
                    });
                }
            }
            4 => {
                if let Some(c) = card {
                    let _ = w.set_card_text(c, &op.text);
                }
            }
            5 => {
                if let Some(c) = card {
                    let len = board
                        .cards
                        .iter()
                        .find(|x| x.id == c)
                        .unwrap()
                        .text
                        .chars()
                        .count();
                    let _ = w.insert_card_text(c, op.b % (len + 1), &op.text);
                }
            }
            6 => {
                if let Some(c) = card {
                    let len = board
                        .cards
                        .iter()
                        .find(|x| x.id == c)
                        .unwrap()
                        .text
                        .chars()
                        .count();
                    let at = op.b % (len + 1);
                    let _ = w.delete_card_text(c, at, (op.n.unsigned_abs() as usize).min(len - at));
                }
            }
            7 => {
                if let (Some(c), Some(s), Some(l)) =
                    (card, pick(&stages, op.b), pick(&lanes, op.a / 3))
                {
                    let _ = w.move_card(c, s, l, op.n as f64 / 2.0);
                }
            }
            8 => {
                if let Some(c) = card {
                    let _ = w.delete_card(c);
                }
            }
            9 | 10 => {
                if let Some(c) = card {
                    let _ = w.vote(c, who);
                }
            }
            11 => {
                if let Some(c) = card {
                    let _ = w.unvote(c, who);
                }
            }
            12 => {
                if let Some(c) = card {
                    let _ = w.add_comment(c, who, &op.text);
                }
            }
            13 => {
                if let Some(c) = board.cards.iter().find(|c| !c.comments.is_empty()) {
                    let _ = w.remove_comment(&c.id, &c.comments[0].id);
                }
            }
            14 => {
                if let Some(c) = card {
                    let _ = w.toggle_reaction(c, ["👍", "🎉"][op.b % 2], who);
                }
            }
            15 => {
                if let Some(s) = stage {
                    let _ = w.remove_stage(s);
                }
            }
            16 => {
                if let Some(s) = stage {
                    let _ = w.rename_stage(s, &op.text);
                    let _ = w.set_stage_emotion(s, Some(op.n.rem_euclid(5) - 2));
                }
            }
            17 => match pick(&personas, op.a) {
                Some(p) if op.b % 2 == 1 => {
                    let _ = w.remove_persona(p);
                }
                _ => {
                    w.add_persona(&PersonaInit {
                        name: op.text.clone(),
                        ..Default::default()
                    });
                }
            },
            18 => {
                if let Some(s) = stage {
                    let metrics = &board.stages.iter().find(|x| x.id == s).unwrap().metrics;
                    match (op.b % 3, metrics.first()) {
                        (1, Some(m)) => {
                            let _ = w.set_metric_value(s, &m.id, op.n as f64);
                        }
                        (2, Some(m)) => {
                            let _ = w.remove_metric(s, &m.id);
                        }
                        _ => {
                            let _ = w.add_metric(
                                s,
                                &client_protocol::schema::MetricInit {
                                    name: op.text.clone(),
                                    value: op.n as f64,
                                    unit: "%".into(),
                                    target: (op.n > 10).then_some(50.0),
                                },
                            );
                        }
                    }
                }
            }
            19 => w.set_title(&op.text),
            20 => match op.b % 3 {
                0 => w.start_timer(op.n * 1000, &op.text),
                1 => w.open_voting(op.n.unsigned_abs() as u32 % 5),
                _ => w.close_voting(),
            },
            _ => {
                if let Some(l) = pick(&lanes, op.a) {
                    let _ = w.remove_lane(l);
                }
            }
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_random_board_restored_to_a_past_version_equals_it(
        base in prop::collection::vec(board_op(), 0..30),
        after in prop::collection::vec(board_op(), 0..30),
    ) {
        let (live, version, _) = board_history(&base, &after);
        let client = fork(&live, 2);
        let updates = record_updates(&live);

        restore(&live, &version);

        prop_assert_eq!(Board::from_doc(&live), Board::from_doc(&version));
        prop_assert_eq!(board_json(&live), board_json(&version));
        prop_assert_eq!(dump(&live), dump(&version));
        // A client that had the live board gets there from the restore's one update.
        let updates = updates.lock().unwrap().clone();
        prop_assert!(updates.len() <= 1);
        for update in &updates {
            apply(&client, update);
        }
        prop_assert_eq!(dump(&client), dump(&version));
        // A second restore finds nothing left to do.
        prop_assert!(restore(&live, &version).is_empty());
    }

    #[test]
    fn what_an_offline_participant_adds_survives_any_restore(
        base in prop::collection::vec(board_op(), 0..30),
        after in prop::collection::vec(board_op(), 0..30),
        text in "[a-z ]{1,8}",
    ) {
        let (live, version, now) = board_history(&base, &after);
        let offline = fork(&live, 3);
        let (stage, lane, new_card) = edit(&offline, now + 1, |w| {
            let stage = w.add_stage("Offline stage", "");
            let lane = w.add_lane(&LaneKind::Needs, "Offline lane", "");
            let card = w
                .add_card(&NewCard {
                    stage: stage.clone(),
                    lane: lane.clone(),
                    text: text.clone(),
                    ..Default::default()
                })
                .unwrap();
            (stage, lane, card)
        });

        restore(&live, &version);
        sync(&live, &offline);

        let mut merged = Board::from_doc(&live);
        prop_assert_eq!(&merged, &Board::from_doc(&offline));
        prop_assert_eq!(&card(&merged, &new_card).text, &text);
        // Without what the participant added, the board is the version (but for meta.updatedAt,
        // which both wrote: one of the two wins).
        let expected = Board::from_doc(&version);
        merged.stages.retain(|s| s.id != stage);
        merged.lanes.retain(|l| l.id != lane);
        merged.cards.retain(|c| c.id != new_card);
        prop_assert!([now + 1, expected.meta.updated_at].contains(&merged.meta.updated_at));
        merged.meta.updated_at = expected.meta.updated_at;
        prop_assert_eq!(merged, expected);
    }
}

// ----- random nested documents -----------------------------------------------------------------

/// A value to write: a plain value or a new shared type, from a seed.
#[derive(Debug, Clone)]
struct Seed {
    kind: u8,
    n: i64,
    s: String,
}

fn seed() -> impl Strategy<Value = Seed> {
    (any::<u8>(), -5i64..5_000_000_000, "[a-cé😀]{0,4}").prop_map(|(kind, n, s)| Seed {
        kind,
        n,
        s,
    })
}

fn value(seed: &Seed) -> In {
    let key = if seed.s.is_empty() {
        "k"
    } else {
        seed.s.as_str()
    };
    match seed.kind % 10 {
        0 => In::from(seed.n),
        1 => In::from(seed.n as f64 / 4.0),
        2 => In::from(seed.s.as_str()),
        3 => In::from(seed.n % 2 == 0),
        4 => In::Any(Any::Null),
        5 => In::Any(
            Any::from_json(&json!({ key: seed.n, "l": [seed.n, seed.s] }).to_string()).unwrap(),
        ),
        6 => In::Map(MapPrelim::from([(key, In::from(seed.n))])),
        7 => In::Array(ArrayPrelim::from([
            In::from(seed.n),
            In::from(seed.s.as_str()),
        ])),
        8 => In::Map(MapPrelim::default()),
        _ => In::Text(TextPrelim::new(seed.s.as_str()).into()),
    }
}

/// One random edit somewhere in the document: `at` picks the shared type, `kind` the edit.
#[derive(Debug, Clone)]
struct TreeOp {
    at: usize,
    kind: u8,
    index: usize,
    len: usize,
    seed: Seed,
}

fn tree_op() -> impl Strategy<Value = TreeOp> {
    (
        any::<usize>(),
        any::<u8>(),
        any::<usize>(),
        0usize..4,
        seed(),
    )
        .prop_map(|(at, kind, index, len, seed)| TreeOp {
            at,
            kind,
            index,
            len,
            seed,
        })
}

/// Every shared type in the document, roots first, depth first.
fn containers<T: ReadTxn>(txn: &T, roots: &[Out]) -> Vec<Out> {
    fn walk<T: ReadTxn>(txn: &T, value: Out, out: &mut Vec<Out>) {
        let children: Vec<Out> = match &value {
            Out::YMap(m) => {
                let mut entries: Vec<(String, Out)> =
                    m.iter(txn).map(|(k, v)| (k.to_owned(), v)).collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                entries.into_iter().map(|(_, v)| v).collect()
            }
            Out::YArray(a) => a.iter(txn).collect(),
            Out::YText(t) => t
                .diff(txn, YChange::identity)
                .into_iter()
                .map(|d| d.insert)
                .collect(),
            _ => return,
        };
        out.push(value);
        for child in children {
            walk(txn, child, out);
        }
    }
    let mut out = Vec::new();
    for root in roots {
        walk(txn, root.clone(), &mut out);
    }
    out
}

/// Where each unit (character or embed) of a text starts, in the document's offset unit, plus
/// the end.
fn text_offsets<T: ReadTxn>(text: &TextRef, txn: &T, kind: OffsetKind) -> Vec<u32> {
    let mut offsets = vec![0u32];
    let mut at = 0u32;
    for chunk in text.diff(txn, YChange::identity) {
        match &chunk.insert {
            Out::Any(Any::String(s)) => {
                for c in s.chars() {
                    at += match kind {
                        OffsetKind::Bytes => c.len_utf8(),
                        OffsetKind::Utf16 => c.len_utf16(),
                    } as u32;
                    offsets.push(at);
                }
            }
            _ => {
                at += 1;
                offsets.push(at);
            }
        }
    }
    offsets
}

fn run_tree_op(doc: &Doc, roots: &[Out], op: &TreeOp) {
    let kind = doc.offset_kind();
    let mut txn = doc.transact_mut();
    let all = containers(&txn, roots);
    let keys = ["a", "b", "c", "d"];
    match &all[op.at % all.len()] {
        Out::YMap(m) => {
            let key = keys[op.index % keys.len()];
            match op.kind % 4 {
                0 => {
                    m.remove(&mut txn, key);
                }
                _ => {
                    m.insert(&mut txn, key, value(&op.seed));
                }
            }
        }
        Out::YArray(a) => {
            let len = a.len(&txn) as usize;
            let at = op.index % (len + 1);
            match op.kind % 3 {
                0 if len > at => a.remove_range(&mut txn, at as u32, op.len.min(len - at) as u32),
                _ => {
                    a.insert(&mut txn, at as u32, value(&op.seed));
                }
            }
        }
        Out::YText(t) => {
            let offsets = text_offsets(t, &txn, kind);
            let units = offsets.len() - 1;
            let at = op.index % (units + 1);
            let end = (at + op.len).min(units);
            let bold = |v: Any| Attrs::from([("bold".into(), v)]);
            match op.kind % 7 {
                0 => t.remove_range(&mut txn, offsets[at], offsets[end] - offsets[at]),
                1 => t.format(
                    &mut txn,
                    offsets[at],
                    offsets[end] - offsets[at],
                    bold(Any::Bool(true)),
                ),
                2 => t.format(
                    &mut txn,
                    offsets[at],
                    offsets[end] - offsets[at],
                    bold(Any::Null),
                ),
                3 => t.insert_with_attributes(
                    &mut txn,
                    offsets[at],
                    &op.seed.s,
                    bold(Any::Bool(true)),
                ),
                4 => {
                    t.insert_embed(&mut txn, offsets[at], Any::from(op.seed.n));
                }
                5 => {
                    let m = t.insert_embed(&mut txn, offsets[at], MapPrelim::default());
                    m.insert(&mut txn, "k", op.seed.s.as_str());
                }
                _ => t.insert(&mut txn, offsets[at], &op.seed.s),
            }
        }
        _ => {}
    }
}

fn tree_doc(client: u64, utf16: bool) -> (Doc, Vec<Out>) {
    let mut options = Options::with_client_id(ClientID::new(client));
    if utf16 {
        options.offset_kind = OffsetKind::Utf16;
    }
    let doc = Doc::with_options(options);
    let roots = vec![
        Out::YMap(doc.get_or_insert_map("tree")),
        Out::YArray(doc.get_or_insert_array("list")),
        Out::YText(doc.get_or_insert_text("note")),
    ];
    (doc, roots)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_nesting_of_maps_arrays_and_texts_is_restored(
        utf16 in any::<bool>(),
        base in prop::collection::vec(tree_op(), 0..30),
        after in prop::collection::vec(tree_op(), 0..30),
        extra_root in any::<bool>(),
    ) {
        let (live, roots) = tree_doc(1, utf16);
        for op in &base {
            run_tree_op(&live, &roots, op);
        }
        if extra_root {
            // A root only the version has: it was emptied since.
            let extra = live.get_or_insert_map("extra");
            extra.insert(&mut live.transact_mut(), "x", 1);
        }
        let version = fork(&live, 9);
        if extra_root {
            let extra = live.get_or_insert_map("extra");
            extra.remove(&mut live.transact_mut(), "x");
        }
        for op in &after {
            run_tree_op(&live, &roots, op);
        }
        // A replica tidies redundant formatting marks when it receives formatted text, and its
        // tidying reaches the server like any edit: send it back before the restore, so that
        // the replica is in the live document's state.
        let client = fork(&live, 2);
        sync(&live, &client);
        let before = live.transact().state_vector();

        restore(&live, &version);

        prop_assert_eq!(dump(&live), dump(&version));
        let diff = live.transact().encode_diff_v1(&before);
        apply(&client, &diff);
        prop_assert_eq!(dump(&client), dump(&version));
        prop_assert!(restore(&live, &version).is_empty());
    }

    #[test]
    fn a_rebuilt_version_restores_into_a_document_that_never_declared_its_roots(
        base in prop::collection::vec(tree_op(), 0..20),
        after in prop::collection::vec(tree_op(), 0..20),
    ) {
        let (source, roots) = tree_doc(1, false);
        for op in &base {
            run_tree_op(&source, &roots, op);
        }
        let version = fork(&source, 9);
        for op in &after {
            run_tree_op(&source, &roots, op);
        }
        // Both sides rebuilt from updates: no root is declared anywhere.
        let live = fork(&source, 3);

        restore(&live, &version);

        prop_assert_eq!(dump(&live), dump(&version));
    }
}

#[test]
fn the_restore_summary_serialises_for_logs() {
    let done = Converged {
        keys_set: 2,
        keys_removed: 1,
        ..Converged::default()
    };
    assert_eq!(
        serde_json::to_value(done).unwrap(),
        json!({"keysSet": 2, "keysRemoved": 1, "textsEdited": 0, "elementsInserted": 0, "elementsRemoved": 0})
    );
}
