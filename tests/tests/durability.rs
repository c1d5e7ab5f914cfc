//! Boards survive restarts, crashes and shutdowns; loading is never seen half-done.

use std::time::Duration;

use parcours_e2e::{ServerProcess, TestClient, TestServer};
use serde_json::json;
use yrs::{ReadTxn, Transact};

const SERVER_BINARY: &str = env!("CARGO_BIN_EXE_parcours-under-test");

fn cards(client: &TestClient) -> usize {
    client.array("cards").as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_server_restart_keeps_every_board() {
    let server = TestServer::start().await;
    for board in ["alpha", "beta", "gamma"] {
        let client = TestClient::connect(&server.board_url(board)).await.unwrap();
        client.push("cards", board);
        client.append_text("notes", &format!("notes of {board}"));
        // Another participant seeing the edit means the server stored it.
        let witness = TestClient::connect(&server.board_url(board)).await.unwrap();
        witness
            .wait_for("both edits", |c| {
                cards(c) == 1 && !c.text("notes").is_empty()
            })
            .await;
    }
    let server = server.restart().await;
    for board in ["alpha", "beta", "gamma"] {
        let client = TestClient::connect(&server.board_url(board)).await.unwrap();
        assert_eq!(client.array("cards"), json!([board]));
        assert_eq!(client.text("notes"), format!("notes of {board}"));
    }
}

#[tokio::test]
async fn kill_dash_nine_after_edits_were_broadcast_loses_none_of_them() {
    let data = tempfile::tempdir().unwrap();
    let process = ServerProcess::start(SERVER_BINARY, data.path());
    let url = process.board_url("crash");
    // Keep writing while the process is killed: whatever the observer has seen must survive.
    let seen = process.kill_while_writing(&url, &url).await;

    let server = TestServer::start_in(data.path()).await;
    let after = TestClient::connect(&server.board_url("crash"))
        .await
        .unwrap();
    after.assert_holds_cards(&seen, "in the crash");
    server.stop().await;
}

#[tokio::test]
async fn concurrent_first_connections_to_a_stored_board_all_see_its_content() {
    let server = TestServer::start().await;
    let url = server.board_url("stored");
    let author = TestClient::connect(&url).await.unwrap();
    for i in 0..50 {
        author.push("cards", &format!("card {i}"));
    }
    let witness = TestClient::connect(&url).await.unwrap();
    witness.wait_for("all cards", |c| cards(c) == 50).await;
    drop((author, witness));
    let server = server.restart().await;

    // Twenty participants arrive at once at a board that is not loaded yet.
    let url = server.board_url("stored");
    let arrivals = futures_util::future::join_all((0..20).map(|_| TestClient::connect(&url))).await;
    for client in arrivals {
        let client = client.unwrap();
        // Right after the handshake, before any further message: the board is complete.
        assert_eq!(cards(&client), 50);
    }
}

#[tokio::test]
async fn newcomers_to_a_stored_board_get_it_once_while_it_loads_and_their_edits_reach_everyone() {
    let server = TestServer::start().await;
    let url = server.board_url("big");
    let author = TestClient::connect(&url).await.unwrap();
    for i in 0..400 {
        author.push("cards", &format!("card {i}: {}", "a long note ".repeat(20)));
    }
    let witness = TestClient::connect(&url).await.unwrap();
    witness.wait_for("all cards", |c| cards(c) == 400).await;
    drop((author, witness));
    // A clean stop stores the board as one checkpoint: what newcomers are sent while it loads.
    let server = server.restart().await;

    let url = server.board_url("big");
    let arrivals: Vec<TestClient> =
        futures_util::future::join_all((0..10).map(|_| TestClient::connect(&url)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    let state_bytes = arrivals[0].with_doc(|doc| {
        doc.transact()
            .encode_state_as_update_v1(&yrs::StateVector::default())
            .len()
    });
    for (i, client) in arrivals.iter().enumerate() {
        assert_eq!(cards(client), 400);
        // Their first sync step 1 left before the early state arrived: it is not answered with
        // the whole board again.
        client
            .wait_for("the answer to its step 1", |c| c.update_bytes() > 0)
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            client.update_bytes() < state_bytes * 3 / 2,
            "newcomer {i} received {} bytes of a {state_bytes}-byte board",
            client.update_bytes()
        );
    }
    for (i, client) in arrivals.iter().enumerate() {
        client.push("cards", &format!("from newcomer {i}"));
    }
    for client in &arrivals {
        client
            .wait_for("every newcomer's card", |c| cards(c) == 410)
            .await;
    }
}

#[tokio::test]
async fn graceful_shutdown_closes_with_going_away_and_loses_nothing() {
    let server = TestServer::start().await;
    let url = server.board_url("shutdown");
    let writer = TestClient::connect(&url).await.unwrap();
    let observer = TestClient::connect(&url).await.unwrap();
    for i in 0..100 {
        writer.push("cards", &format!("card {i}"));
    }
    observer.wait_for("every card", |c| cards(c) == 100).await;
    // restart() shuts down gracefully, then starts again on the same data directory.
    let restarting = tokio::spawn(server.restart());
    assert_eq!(observer.closed().await.map(|(code, _)| code), Some(1001));
    let server = restarting.await.unwrap();
    let after = TestClient::connect(&server.board_url("shutdown"))
        .await
        .unwrap();
    assert_eq!(after.array("cards"), observer.array("cards"));
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly_and_keeps_the_board() {
    let data = tempfile::tempdir().unwrap();
    let process = ServerProcess::start(SERVER_BINARY, data.path());
    let client = TestClient::connect(&process.board_url("term"))
        .await
        .unwrap();
    client.push("cards", "kept");
    let witness = TestClient::connect(&process.board_url("term"))
        .await
        .unwrap();
    witness.wait_for("the card", |c| cards(c) == 1).await;
    let status = process.terminate();
    assert!(status.success(), "exit status {status}");
    assert_eq!(witness.closed().await.map(|(code, _)| code), Some(1001));

    let process = ServerProcess::start(SERVER_BINARY, data.path());
    let after = TestClient::connect(&process.board_url("term"))
        .await
        .unwrap();
    assert_eq!(after.array("cards"), json!(["kept"]));
}

#[tokio::test]
async fn compacted_and_unloaded_boards_load_back_complete() {
    let server = TestServer::start_with(|c| {
        c.room.compact_after_updates = 10;
        c.room.unload_grace = Duration::from_millis(200);
    })
    .await;
    let url = server.board_url("compact");
    let writer = TestClient::connect(&url).await.unwrap();
    for i in 0..95 {
        writer.push("cards", &format!("card {i}"));
        writer.append_text("notes", "x");
    }
    let witness = TestClient::connect(&url).await.unwrap();
    witness.wait_for("all edits", |c| cards(c) == 95).await;
    let expected = witness.array("cards");
    writer.close().await;
    witness.close().await;
    // Let the room unload (after compacting), then come back to a freshly loaded board.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let back = TestClient::connect(&url).await.unwrap();
    assert_eq!(back.array("cards"), expected);
    assert_eq!(back.text("notes"), "x".repeat(95));
    let server = server.restart().await;
    let after_restart = TestClient::connect(&server.board_url("compact"))
        .await
        .unwrap();
    assert_eq!(after_restart.array("cards"), expected);
}

#[tokio::test]
async fn a_storage_failure_refuses_writes_loses_nothing_stored_and_recovers() {
    use client_protocol::client::{Client, ClientOptions, Status};
    use parcours_e2e::faults::FaultyStore;
    use yrs::Array;

    let data = tempfile::tempdir().unwrap();
    let store = FaultyStore::open(data.path());
    let server = TestServer::start_with_store(data.path(), store.clone()).await;
    let url = server.board_url("disk");
    let options = ClientOptions {
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(300),
        ..ClientOptions::default()
    };
    let writer = Client::connect(&url, options).await.unwrap();
    let cards = writer.doc().get_or_insert_array("cards");
    cards.push_back(&mut writer.doc().transact_mut(), "stored before");
    writer.flush().await.unwrap();

    // The disk fills up: the next edit cannot be stored, and the writer is told so (4507).
    store.fail_writes(true);
    cards.push_back(
        &mut writer.doc().transact_mut(),
        "written while the disk was full",
    );
    let refused = tokio::time::timeout(
        parcours_e2e::PATIENCE,
        writer.wait_for_status(|s| {
            matches!(
                s,
                Status::Disconnected {
                    code: Some(4507),
                    ..
                }
            )
        }),
    )
    .await;
    assert!(
        matches!(refused, Ok(Some(_))),
        "the writer was closed with 4507"
    );
    // Nobody saw the unstored edit.
    let reader = TestClient::connect(&url).await.unwrap();
    assert_eq!(reader.array("cards"), json!(["stored before"]));

    // Space is freed: the writer's reconnect delivers the edit it kept.
    store.fail_writes(false);
    reader
        .wait_for("the edit made during the outage", |c| {
            c.array_len("cards") == 2
        })
        .await;
    drop(writer);
    drop(reader);
    server.stop().await;
    drop(store); // closes the database, so that a new server can open the directory

    // And everything is on disk.
    let server = TestServer::start_in(data.path()).await;
    let after = TestClient::connect(&server.board_url("disk"))
        .await
        .unwrap();
    assert_eq!(
        after.array("cards"),
        json!(["stored before", "written while the disk was full"])
    );
    server.stop().await;
}
