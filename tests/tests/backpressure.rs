//! Slow, stalled and flooding clients cost only themselves.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use parcours_e2e::{TestClient, TestServer, PATIENCE};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::StateVector;

fn cards_with(client: &TestClient, prefix: &str) -> usize {
    client.array("cards").as_array().map_or(0, |a| {
        a.iter()
            .filter(|v| v.as_str().is_some_and(|s| s.starts_with(prefix)))
            .count()
    })
}

#[tokio::test]
async fn a_flood_from_one_client_is_paced_without_slowing_the_others_or_losing_anything() {
    let server = TestServer::start_with(|c| {
        c.connection.messages_per_second = 200.0;
        c.connection.message_burst = 50;
    })
    .await;
    let url = server.board_url("flood");
    let flooder = TestClient::connect(&url).await.unwrap();
    let honest = TestClient::connect(&url).await.unwrap();
    let observer = TestClient::connect(&url).await.unwrap();
    let flood = 1000;
    for i in 0..flood {
        flooder.push("cards", &format!("flood {i}"));
    }
    honest.push("cards", "honest");
    observer
        .wait_for("the honest card", |c| cards_with(c, "honest") == 1)
        .await;
    // When the honest card arrived, the flood was still being read at its paced rate.
    let flood_seen = cards_with(&observer, "flood");
    assert!(
        flood_seen < flood,
        "the flood was not paced: {flood_seen} already delivered"
    );
    // And none of it is lost.
    observer
        .wait_for("the whole flood", |c| cards_with(c, "flood") == flood)
        .await;
}

#[tokio::test]
async fn a_stalled_reader_is_disconnected_while_the_others_keep_receiving() {
    // A queue that holds several batches' fan-out, so that only a socket that stopped draining
    // can fill it; more data than socket buffers can hide.
    let server = TestServer::start_with(|c| {
        c.connection.outbound_queue = 128;
        c.connection.outbound_queue_bytes = 4 * 1024 * 1024;
        c.room.max_batch = 16;
        c.connection.write_timeout = Duration::from_secs(1);
    })
    .await;
    let url = server.board_url("stall");
    // A client that joins and then never reads again.
    let (mut stalled, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    stalled
        .send(WsMessage::Binary(
            client_protocol::codec::encode_sync_step1(&StateVector::default()).into(),
        ))
        .await
        .unwrap();
    let writer = TestClient::connect(&url).await.unwrap();
    let observer = TestClient::connect(&url).await.unwrap();
    let chunk = "x".repeat(64 * 1024);
    for i in 0..300 {
        writer.push("cards", &format!("big {i} {chunk}"));
    }
    observer
        .wait_for("all 300 large cards", |c| c.array_len("cards") == 300)
        .await;
    // The stalled client's connection was ended by the server: reading it now drains what was
    // buffered and then meets the end (a 4000 close frame if it got through, or the socket end).
    let ended = tokio::time::timeout(PATIENCE, async {
        loop {
            match stalled.next().await {
                None | Some(Err(_)) => return None,
                Some(Ok(WsMessage::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("the stalled connection was ended");
    assert!(matches!(ended, None | Some(4000)), "closed with {ended:?}");
}

#[tokio::test]
async fn connections_beyond_the_limits_are_refused_before_the_upgrade() {
    // The limits hold per server.
    let server = TestServer::start_alone_with(|c| {
        c.connection.max_connections_per_board = 2;
        c.connection.max_connections = 3;
    })
    .await;
    let _a = TestClient::connect(&server.board_url("full"))
        .await
        .unwrap();
    let _b = TestClient::connect(&server.board_url("full"))
        .await
        .unwrap();
    let refused = |url: String| async move {
        match tokio_tungstenite::connect_async(&url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                    .into_owned();
                (response.status().as_u16(), body)
            }
            other => panic!("not refused: {other:?}"),
        }
    };
    let (status, body) = refused(server.board_url("full")).await;
    assert_eq!(status, 503);
    assert!(body.contains("board_full"), "{body}");
    let _c = TestClient::connect(&server.board_url("other"))
        .await
        .unwrap();
    let (status, body) = refused(server.board_url("third")).await;
    assert_eq!(status, 503);
    assert!(body.contains("too_many_connections"), "{body}");
}

#[tokio::test]
async fn an_update_that_would_make_the_board_too_large_is_refused_and_the_board_stays_usable() {
    let server = TestServer::start_with(|c| c.room.max_board_bytes = 8 * 1024).await;
    let url = server.board_url("capped");
    let small = TestClient::connect(&url).await.unwrap();
    small.push("cards", "a small card");
    let big = TestClient::connect(&url).await.unwrap();
    big.append_text("notes", &"x".repeat(16 * 1024));
    assert_eq!(big.closed().await.map(|(code, _)| code), Some(4413));
    small.push("cards", "another small card");
    let witness = TestClient::connect(&url).await.unwrap();
    witness
        .wait_for("both small cards", |c| c.array_len("cards") == 2)
        .await;
    assert_eq!(
        witness.text("notes"),
        "",
        "the oversize edit was not applied"
    );
}

#[tokio::test]
async fn past_the_loaded_boards_limit_idle_boards_are_unloaded_early_and_kept() {
    let server = TestServer::start_with(|c| {
        c.room.max_loaded_boards = 2;
        c.room.unload_grace = Duration::from_secs(3600);
    })
    .await;
    for board in ["b1", "b2", "b3", "b4"] {
        let client = TestClient::connect(&server.board_url(board)).await.unwrap();
        client.push("cards", board);
        let witness = TestClient::connect(&server.board_url(board)).await.unwrap();
        witness
            .wait_for("the card", |c| c.array_len("cards") == 1)
            .await;
        client.close().await;
        witness.close().await;
    }
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (_, body) = parcours_e2e::http_get(server.addr, "/readyz").await;
        let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
        if ready["boards_loaded"].as_u64().unwrap() <= 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "idle boards stayed loaded: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Unloaded boards come back complete.
    let back = TestClient::connect(&server.board_url("b1")).await.unwrap();
    assert_eq!(back.array("cards"), serde_json::json!(["b1"]));
}
