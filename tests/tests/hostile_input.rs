//! Bad input closes only the offending connection, with a documented code; everyone else goes on.

use parcours_e2e::{http_get, Rng, TestClient, TestServer};
use tokio_tungstenite::tungstenite::Error as WsError;

/// Sends `frame` from a fresh connection and returns the close code the server answered with,
/// checking that two honest participants on the same board still converge afterwards.
async fn close_code_for(server: &TestServer, board: &str, send: impl FnOnce(&TestClient)) -> u16 {
    let url = server.board_url(board);
    let alice = TestClient::connect(&url).await.unwrap();
    let bob = TestClient::connect(&url).await.unwrap();
    let mallory = TestClient::connect(&url).await.unwrap();
    send(&mallory);
    let (code, _reason) = mallory.closed().await.expect("a close frame");
    alice.push("cards", "still working");
    bob.wait_for("Alice's card after the attack", |c| {
        c.array("cards")
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "still working"))
    })
    .await;
    code
}

#[tokio::test]
async fn malformed_frames_close_the_sender_and_leave_others_working() {
    let server = TestServer::start().await;
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("empty frame", vec![], 1002),
        ("truncated varint", vec![0x80], 1002),
        ("absurd varint", vec![0xff; 11], 1002),
        ("unknown message type", vec![7, 1, 2, 3], 1002),
        ("unknown sync step", vec![0, 9, 0], 1002),
        ("length past the end", vec![0, 2, 0xff, 0xff, 0x03, 1], 1002),
        (
            "update that is not an update",
            vec![0, 2, 3, 1, 0xff, 0xff],
            1007,
        ),
        (
            "awareness state that is not JSON",
            vec![1, 6, 1, 1, 1, 2, b'{', b'x'],
            1007,
        ),
    ];
    for (i, (what, frame, expected)) in cases.into_iter().enumerate() {
        let code = close_code_for(&server, &format!("hostile-{i}"), |m| m.send_raw(frame)).await;
        assert_eq!(code, expected, "{what}");
    }
}

#[tokio::test]
async fn a_text_frame_is_refused_as_unsupported_data() {
    let server = TestServer::start().await;
    let code = close_code_for(&server, "text", |m| m.send_text("hello?")).await;
    assert_eq!(code, 1003);
}

#[tokio::test]
async fn an_oversize_message_is_refused_as_too_big() {
    let server = TestServer::start_with(|c| c.connection.limits.max_message_bytes = 4096).await;
    let code = close_code_for(&server, "big", |m| {
        m.append_text("notes", &"x".repeat(10_000))
    })
    .await;
    assert_eq!(code, 1009);
}

#[tokio::test]
async fn invalid_board_ids_are_refused_before_the_upgrade() {
    let server = TestServer::start().await;
    let long = "x".repeat(129);
    for id in ["has%20space", "semi;colon", long.as_str(), "a/b", ""] {
        let url = format!("ws://{}/boards/{}", server.addr, id);
        match tokio_tungstenite::connect_async(&url).await {
            Err(WsError::Http(response)) => {
                assert_eq!(response.status().as_u16(), 400, "board id {id:?}")
            }
            other => panic!("board id {id:?} was not refused: {other:?}"),
        }
    }
    // 128 characters is fine.
    TestClient::connect(&server.board_url(&"x".repeat(128)))
        .await
        .unwrap();
}

#[tokio::test]
async fn health_and_readiness_answer_and_plain_http_on_a_board_asks_for_an_upgrade() {
    let server = TestServer::start().await;
    assert_eq!(http_get(server.addr, "/healthz").await.0, 200);
    let (status, body) = http_get(server.addr, "/readyz").await;
    assert_eq!(status, 200);
    assert!(body.contains("ready"));
    assert_eq!(http_get(server.addr, "/boards/plain").await.0, 426);
}

#[tokio::test]
async fn query_parameters_on_the_board_url_are_accepted() {
    let server = TestServer::start().await;
    let url = format!("{}?token=ignored-for-now&x=1", server.board_url("params"));
    TestClient::connect(&url).await.unwrap();
}

#[tokio::test]
async fn crafted_pending_updates_cannot_take_a_board_down() {
    // The frames of an input on which the board_session fuzz target crashed yrs during a
    // snapshot; each is sent on its own connection, since invalid ones close theirs.
    let session: &[u8] = include_bytes!(
        "../../client-protocol/tests/fuzz_regressions/board_session-pending-merge-panic.bin"
    );
    let server = TestServer::start_with(|c| {
        c.room.compact_after_updates = 1;
        c.room.unload_grace = std::time::Duration::from_millis(100);
    })
    .await;
    let url = server.board_url("pending");
    let honest = TestClient::connect(&url).await.unwrap();
    honest.push("cards", "before");
    let mut rest = session;
    while let Some((&len, tail)) = rest.split_first() {
        let (frame, tail) = tail.split_at((len as usize).min(tail.len()));
        rest = tail;
        let mallory = TestClient::connect(&url).await.unwrap();
        mallory.send_raw(frame.to_vec());
        honest.push("cards", "during");
        let _ = mallory
            .is_open_after(std::time::Duration::from_millis(50))
            .await;
    }
    honest.close().await;
    // Let the room compact and unload, then come back: the board is there and still works.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let back = TestClient::connect(&url).await.unwrap();
    back.wait_for("the honest cards", |c| {
        c.array("cards")
            .as_array()
            .is_some_and(|a| a.first() == Some(&serde_json::json!("before")))
    })
    .await;
    back.push("cards", "after");
    let witness = TestClient::connect(&url).await.unwrap();
    witness
        .wait_for("the new card", |c| {
            c.array("cards")
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == "after"))
        })
        .await;
}

fn var(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// One adversarial frame of a random kind.
fn hostile_frame(rng: &mut Rng) -> Vec<u8> {
    match rng.below(9) {
        // Random bytes, sometimes after a valid-looking header.
        0 => {
            let len = rng.below(300) as usize;
            rng.bytes(len)
        }
        1 => {
            let mut f = vec![0, rng.below(3) as u8];
            let len = rng.below(200) as usize;
            f.extend(rng.bytes(len));
            f
        }
        // Huge declared lengths.
        2 => vec![0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3],
        3 => vec![1, 0xff, 0xff, 0xff, 0x7f],
        // Deeply nested values inside an update.
        4 => {
            let mut update = vec![1, 1, 5, 0, 0b1000, 1, 1, b'r', 1];
            for _ in 0..(100 + rng.below(5000)) {
                update.extend([117, 1]);
            }
            update.extend([126, 0]);
            let mut f = vec![0, 2];
            var(update.len() as u64, &mut f);
            f.extend(update);
            f
        }
        // Awareness whose state is invalid UTF-8 or not JSON.
        5 => {
            let state: Vec<u8> = if rng.below(2) == 0 {
                vec![0xff, 0xfe, b'{']
            } else {
                b"{nope".to_vec()
            };
            let mut payload = vec![1];
            var(rng.below(1 << 32), &mut payload);
            var(1, &mut payload);
            var(state.len() as u64, &mut payload);
            payload.extend(state);
            let mut f = vec![1];
            var(payload.len() as u64, &mut f);
            f.extend(payload);
            f
        }
        // An update that references items nobody has (origin on an unknown client).
        6 => {
            let client = 1 + rng.below(1 << 40);
            let mut update = vec![1, 1];
            var(client, &mut update);
            update.push(0); // clock 0
            update.push(0b1000_0100); // string content with an origin
            var(1 + rng.below(1 << 40), &mut update); // origin client nobody has
            var(rng.below(1000), &mut update); // origin clock
            update.extend([3, b'b', b'a', b'd', 0]);
            let mut f = vec![0, 2];
            var(update.len() as u64, &mut f);
            f.extend(update);
            f
        }
        // Out-of-order steps: a step 2 of garbage, a step 1 with a huge state vector claim.
        7 => vec![0, 1, 4, 1, 1, 1, 1],
        _ => vec![0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0x0f],
    }
}

#[tokio::test]
async fn a_hostile_client_cannot_stop_honest_ones_from_converging() {
    let server = TestServer::start().await;
    let url = server.board_url("siege");
    let alice = TestClient::connect(&url).await.unwrap();
    let bob = TestClient::connect(&url).await.unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut hostile = TestClient::connect(&url).await.unwrap();
    let mut closed_by_server = 0;
    // Bounded: 400 adversarial frames, interleaved with honest edits.
    for round in 0..400 {
        if !hostile.is_open_after(std::time::Duration::ZERO).await {
            closed_by_server += 1;
            hostile = TestClient::open(&url, yrs::Doc::new()).await.unwrap();
        }
        if rng.below(10) == 0 {
            hostile.send_text("{\"hello\": 1}");
        } else {
            hostile.send_raw(hostile_frame(&mut rng));
        }
        if round % 20 == 0 {
            alice.push("cards", &format!("alice {round}"));
            bob.push("cards", &format!("bob {round}"));
        }
        tokio::task::yield_now().await;
    }
    assert!(
        closed_by_server > 10,
        "bad frames closed their connections ({closed_by_server})"
    );
    for client in [&alice, &bob] {
        client
            .wait_for("all 40 honest cards", |c| {
                c.array("cards").as_array().unwrap().len() == 40
            })
            .await;
    }
    assert_eq!(alice.array("cards"), bob.array("cards"));
    assert_eq!(http_get(server.addr, "/healthz").await.0, 200);
    // And a newcomer still gets the whole board.
    let carol = TestClient::connect(&url).await.unwrap();
    assert_eq!(carol.array("cards"), alice.array("cards"));
}
