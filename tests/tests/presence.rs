//! Presence (awareness): who is here, and who has left.

use std::time::Duration;

use parcours_e2e::{TestClient, TestServer};

#[tokio::test]
async fn presence_appears_for_everyone_and_is_removed_when_a_connection_drops() {
    let server = TestServer::start().await;
    let url = server.board_url("presence");
    let alice = TestClient::connect(&url).await.unwrap();
    let bob = TestClient::connect(&url).await.unwrap();
    alice.set_presence(r##"{"user":{"name":"Alice","color":"#f4a"}}"##);
    let alice_id = alice.client_id();
    bob.wait_for("Alice's presence", |c| {
        c.presence()
            .get(&alice_id)
            .is_some_and(|s| s.contains("Alice"))
    })
    .await;

    alice.drop_connection();
    bob.wait_for("Alice's presence removed", |c| {
        !c.presence().contains_key(&alice_id)
    })
    .await;
}

#[tokio::test]
async fn a_late_joiner_receives_the_current_presence_states() {
    let server = TestServer::start().await;
    let url = server.board_url("presence-late");
    let alice = TestClient::connect(&url).await.unwrap();
    alice.set_presence(r#"{"user":{"name":"Alice"}}"#);
    let alice_id = alice.client_id();
    alice
        .wait_for("own presence echoed", |c| {
            c.presence().contains_key(&alice_id)
        })
        .await;
    let carol = TestClient::connect(&url).await.unwrap();
    carol
        .wait_for("Alice already present", |c| {
            c.presence().contains_key(&alice_id)
        })
        .await;
}

#[tokio::test]
async fn a_lone_participant_hears_its_own_presence_renewals() {
    let server = TestServer::start().await;
    let alone = TestClient::connect(&server.board_url("alone"))
        .await
        .unwrap();
    alone.set_presence(r#"{"user":{"name":"Solo"}}"#);
    alone
        .wait_for("first echo", |c| c.awareness_messages() >= 1)
        .await;
    alone.set_presence(r#"{"user":{"name":"Solo"}}"#);
    alone
        .wait_for("renewal echo", |c| c.awareness_messages() >= 2)
        .await;
}

#[tokio::test]
async fn presence_not_renewed_in_time_is_removed() {
    let server =
        TestServer::start_with(|c| c.room.awareness_timeout = Duration::from_secs(2)).await;
    let url = server.board_url("expiry");
    let quiet = TestClient::connect(&url).await.unwrap();
    let watcher = TestClient::connect(&url).await.unwrap();
    quiet.set_presence(r#"{"user":{"name":"Quiet"}}"#);
    let quiet_id = quiet.client_id();
    watcher
        .wait_for("Quiet present", |c| c.presence().contains_key(&quiet_id))
        .await;
    // Quiet stays connected but never renews its state.
    watcher
        .wait_for("Quiet expired", |c| !c.presence().contains_key(&quiet_id))
        .await;
}

#[tokio::test]
async fn a_reconnecting_client_is_visible_again_at_once() {
    let server = TestServer::start().await;
    let url = server.board_url("rejoin");
    let watcher = TestClient::connect(&url).await.unwrap();
    let doc = yrs::Doc::with_client_id(4242);
    let first = TestClient::connect_with_doc(&url, doc.clone())
        .await
        .unwrap();
    first.set_presence(r#"{"user":{"name":"Roamer"}}"#);
    watcher
        .wait_for("Roamer present", |c| c.presence().contains_key(&4242))
        .await;
    first.drop_connection();
    watcher
        .wait_for("Roamer gone", |c| !c.presence().contains_key(&4242))
        .await;

    // The same client (same id, same awareness clock) comes back on a new socket, announcing the
    // state it had; the server has a newer removal on record and tells it so, and a stock client
    // then re-announces with a higher clock. This test client does that by hand.
    let again = TestClient::connect_with_doc(&url, yrs::Doc::with_client_id(4242))
        .await
        .unwrap();
    again.set_presence(r#"{"user":{"name":"Roamer"}}"#);
    again
        .wait_for("the server's removal record", |c| {
            c.awareness_messages() >= 1
        })
        .await;
    again.set_presence(r#"{"user":{"name":"Roamer"}}"#);
    again.set_presence(r#"{"user":{"name":"Roamer"}}"#);
    watcher
        .wait_for("Roamer present again", |c| c.presence().contains_key(&4242))
        .await;
}
