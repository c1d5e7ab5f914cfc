//! The Rust client SDK (`client-protocol`, feature `client`) against the real server.

use std::time::Duration;

use client_protocol::client::{Client, ClientError, ClientOptions, Status};
use parcours_e2e::{TestClient, TestServer, PATIENCE};
use serde_json::json;
use yrs::{Array, GetString, Text, Transact};

fn quick() -> ClientOptions {
    ClientOptions {
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..ClientOptions::default()
    }
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn text_of(client: &Client, name: &str) -> String {
    let text = client.doc().get_or_insert_text(name);
    let txn = client.doc().transact();
    text.get_string(&txn)
}

#[tokio::test]
async fn sdk_clients_exchange_edits_and_presence_through_the_server() {
    let server = TestServer::start().await;
    let url = server.board_url("sdk");
    let ana = Client::connect(&url, quick()).await.unwrap();
    let ben = Client::connect(&url, quick()).await.unwrap();
    assert_eq!(ana.status(), Status::Synced);

    let notes = ana.doc().get_or_insert_text("notes");
    notes.insert(&mut ana.doc().transact_mut(), 0, "Persona: busy parent");
    ana.set_presence(&json!({"user": {"name": "Ana", "color": "#e4572e"}}));

    eventually("Ben sees Ana's text", || {
        text_of(&ben, "notes") == "Persona: busy parent"
    })
    .await;
    let ana_id = ana.client_id();
    eventually("Ben sees Ana's presence", || {
        ben.presence()
            .get(&ana_id)
            .is_some_and(|s| s["user"]["name"] == "Ana")
    })
    .await;

    ana.close().await;
    eventually("Ana's presence is gone for Ben", || {
        !ben.presence().contains_key(&ana_id)
    })
    .await;
}

#[tokio::test]
async fn the_sdk_reconnects_after_a_restart_and_merges_edits_made_offline() {
    let server = TestServer::start().await;
    let url = server.board_url("offline");
    let client = Client::connect(&url, quick()).await.unwrap();
    let cards = client.doc().get_or_insert_array("cards");
    cards.push_back(&mut client.doc().transact_mut(), "before");
    let witness = TestClient::connect(&url).await.unwrap();
    witness
        .wait_for("the first card", |c| c.array("cards") == json!(["before"]))
        .await;
    drop(witness);

    // The server goes away; the participant keeps working.
    let restarting = tokio::spawn(server.restart_on_same_port(Duration::from_millis(500)));
    tokio::time::timeout(
        PATIENCE,
        client.wait_for_status(|s| matches!(s, Status::Disconnected { .. } | Status::Connecting)),
    )
    .await
    .expect("the client noticed the outage")
    .expect("the client is running");
    cards.push_back(&mut client.doc().transact_mut(), "offline");
    let server = restarting.await.unwrap();

    let synced = tokio::time::timeout(PATIENCE, client.synced()).await;
    assert_eq!(synced, Ok(true), "the client resynced after the restart");
    let other = TestClient::connect(&server.board_url("offline"))
        .await
        .unwrap();
    other
        .wait_for("both cards on the server", |c| {
            c.array("cards") == json!(["before", "offline"])
        })
        .await;
}

#[tokio::test]
async fn a_refused_connection_is_reported_not_retried() {
    let server = TestServer::start().await;
    let url = format!("ws://{}/boards/not%20valid", server.addr);
    match Client::connect(&url, quick()).await {
        Err(ClientError::Refused { status: 400, .. }) => {}
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("an invalid board id was accepted"),
    }
    assert!(matches!(
        Client::connect("http://example.invalid/boards/b", quick()).await,
        Err(ClientError::InvalidUrl(_))
    ));
}

#[tokio::test]
async fn remote_edits_do_not_echo_back_to_the_server() {
    let server = TestServer::start().await;
    let url = server.board_url("echo");
    let client = Client::connect(&url, quick()).await.unwrap();
    let writer = TestClient::connect(&url).await.unwrap();
    writer.push("cards", "from the test client");
    let cards = client.doc().get_or_insert_array("cards");
    eventually("the remote card", || {
        cards.len(&client.doc().transact()) == 1
    })
    .await;
    // A local edit after a remote one still goes out, and only once.
    cards.push_back(&mut client.doc().transact_mut(), "from the sdk");
    writer
        .wait_for("the SDK's card", |c| {
            c.array("cards").as_array().unwrap().len() == 2
        })
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(writer.array("cards").as_array().unwrap().len(), 2);
}
