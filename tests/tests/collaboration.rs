//! Participants on one board see each other's edits; boards stay apart.

use parcours_e2e::{TestClient, TestServer};
use serde_json::json;

#[tokio::test]
async fn two_participants_converge_on_text_map_and_array_edits() {
    let server = TestServer::start().await;
    let url = server.board_url("workshop");
    let alice = TestClient::connect(&url).await.unwrap();
    let bob = TestClient::connect(&url).await.unwrap();

    alice.append_text("notes", "Checkout is confusing. ");
    bob.append_text("notes", "Delivery fees surprise people.");
    alice.set("meta", "title", "Onboarding journey");
    bob.push("cards", "pain: hidden fees");
    alice.push("cards", "idea: price calculator");

    for client in [&alice, &bob] {
        client
            .wait_for("both edits everywhere", |c| {
                c.array("cards").as_array().map_or(0, Vec::len) == 2
                    && c.text("notes").len()
                        == "Checkout is confusing. Delivery fees surprise people.".len()
                    && c.map("meta") == json!({"title": "Onboarding journey"})
            })
            .await;
    }
    assert_eq!(alice.text("notes"), bob.text("notes"));
    assert_eq!(alice.array("cards"), bob.array("cards"));
    assert_eq!(alice.state_vector(), bob.state_vector());
}

#[tokio::test]
async fn a_late_joiner_receives_the_full_board() {
    let server = TestServer::start().await;
    let url = server.board_url("late");
    let early = TestClient::connect(&url).await.unwrap();
    for i in 0..20 {
        early.push("cards", &format!("card {i}"));
    }
    early.set("meta", "title", "Q3 workshop");
    // The late joiner connects after every edit was sent; the server must have them all.
    let probe = TestClient::connect(&url).await.unwrap();
    probe
        .wait_for("all 20 cards", |c| {
            c.array("cards").as_array().unwrap().len() == 20
        })
        .await;
    let late = TestClient::connect(&url).await.unwrap();
    assert_eq!(late.array("cards"), early.array("cards"));
    assert_eq!(late.map("meta"), json!({"title": "Q3 workshop"}));
}

#[tokio::test]
async fn fifty_concurrent_writers_converge_to_the_same_state() {
    let server = TestServer::start().await;
    let url = server.board_url("busy");
    let mut writers = Vec::new();
    for _ in 0..50 {
        writers.push(TestClient::connect(&url).await.unwrap());
    }
    let edits_each = 10;
    let mut tasks = Vec::new();
    for (w, writer) in writers.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for e in 0..edits_each {
                writer.push("cards", &format!("{w}-{e}"));
                writer.append_text("notes", &format!("[{w}.{e}]"));
                tokio::task::yield_now().await;
            }
            writer
        }));
    }
    let mut writers = Vec::new();
    for task in tasks {
        writers.push(task.await.unwrap());
    }
    let total = 50 * edits_each;
    // Each edit is two updates (a card, then text): wait for both kinds from everyone.
    let text_len: usize = (0..50)
        .flat_map(|w| (0..edits_each).map(move |e| format!("[{w}.{e}]").len()))
        .sum();
    for writer in &writers {
        writer
            .wait_for("every card and note from every writer", |c| {
                c.array("cards").as_array().unwrap().len() == total
                    && c.text("notes").len() == text_len
            })
            .await;
    }
    let reference = (writers[0].array("cards"), writers[0].text("notes"));
    for writer in &writers {
        assert_eq!((writer.array("cards"), writer.text("notes")), reference);
    }
    let mut cards: Vec<String> = serde_json::from_value(reference.0).unwrap();
    cards.sort();
    cards.dedup();
    assert_eq!(cards.len(), total, "no card lost or duplicated");
}

#[tokio::test]
async fn boards_are_isolated_from_each_other() {
    let server = TestServer::start().await;
    let marketing = TestClient::connect(&server.board_url("marketing"))
        .await
        .unwrap();
    let support = TestClient::connect(&server.board_url("support"))
        .await
        .unwrap();
    marketing.push("cards", "campaign");
    support.push("cards", "ticket backlog");
    let marketing_2 = TestClient::connect(&server.board_url("marketing"))
        .await
        .unwrap();
    marketing_2
        .wait_for("marketing's card", |c| {
            c.array("cards") == json!(["campaign"])
        })
        .await;
    let support_2 = TestClient::connect(&server.board_url("support"))
        .await
        .unwrap();
    support_2
        .wait_for("support's card", |c| {
            c.array("cards") == json!(["ticket backlog"])
        })
        .await;
    assert_eq!(marketing.array("cards"), json!(["campaign"]));
}

#[tokio::test]
async fn an_edit_that_arrives_before_its_predecessors_is_resolved_by_a_resync() {
    let server = TestServer::start().await;
    let url = server.board_url("race");
    let alice = TestClient::connect(&url).await.unwrap();
    let bob = TestClient::connect(&url).await.unwrap();
    // Alice edits twice, but only the second edit is sent, as when a live edit overtakes the
    // sync step 2 right after a reconnect.
    let notes = alice.with_doc(|doc| doc.get_or_insert_text("notes"));
    alice.with_doc(|doc| {
        use yrs::{Text, Transact};
        notes.insert(&mut doc.transact_mut(), 0, "first ");
    });
    alice.append_text("notes", "second");
    // The server does not apply it; it asks Alice for a sync step 2, which carries both.
    bob.wait_for("both edits, in order", |c| {
        c.text("notes") == "first second"
    })
    .await;
}
