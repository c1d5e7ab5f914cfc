//! The real JS client (yjs + y-websocket from npm) and a Rust client share boards.

use parcours_e2e::{node, TestClient, TestServer};
use serde_json::{json, Value};

fn stdout_json(output: &std::process::Output) -> Value {
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .last()
        .expect("the node client printed its board");
    serde_json::from_str(line).expect("the node client printed JSON")
}

#[tokio::test]
async fn the_stock_js_client_and_a_rust_client_edit_the_same_board_and_converge() {
    let server = TestServer::start().await;
    // A 53-bit client id, as the Python stack uses: the JS client must see these edits intact.
    let wide = (1u64 << 53) - 1;
    let rust =
        TestClient::connect_with_doc(&server.board_url("interop"), yrs::Doc::with_client_id(wide))
            .await
            .unwrap();
    rust.set_presence(r#"{"user":{"name":"rust"}}"#);
    rust.push("cards", "rust");
    rust.append_text("notes", "rust");
    rust.set("meta", "rust", "here");

    let args = [
        server.boards_url(),
        "interop".into(),
        "js".into(),
        "2".into(),
        "rust".into(),
    ];
    let (output, ()) = tokio::join!(node::run("participant.mjs", &args), async {
        rust.wait_for("the JS client's card", |c| {
            c.array("cards").as_array().is_some_and(|a| a.len() == 2)
        })
        .await;
    });
    let js = stdout_json(&output);
    let mut js_cards: Vec<String> = serde_json::from_value(js["cards"].clone()).unwrap();
    js_cards.sort();
    assert_eq!(js_cards, ["js", "rust"]);
    assert_eq!(js["cards"], rust.array("cards"));
    assert_eq!(js["notes"], json!(rust.text("notes")));
    assert_eq!(js["meta"], json!({"rust": "here", "js": "here"}));
    assert_eq!(js["meta"], rust.map("meta"));
    assert!(
        js["peersSeen"].as_array().unwrap().contains(&json!("rust")),
        "the JS client saw the Rust client's presence: {js}"
    );
}

#[tokio::test]
async fn a_board_written_by_the_js_client_survives_a_restart_for_both_clients() {
    let server = TestServer::start().await;
    let args = [server.boards_url(), "kept".into(), "js".into(), "1".into()];
    node::run("participant.mjs", &args).await;
    let server = server.restart().await;

    let rust = TestClient::connect(&server.board_url("kept"))
        .await
        .unwrap();
    assert_eq!(rust.array("cards"), json!(["js"]));
    rust.push("cards", "rust");
    let witness = TestClient::connect(&server.board_url("kept"))
        .await
        .unwrap();
    witness
        .wait_for("both cards", |c| {
            c.array("cards").as_array().unwrap().len() == 2
        })
        .await;
    let output = node::run("reader.mjs", &[server.boards_url(), "kept".into()]).await;
    let js = stdout_json(&output);
    assert_eq!(js["cards"], json!(["js", "rust"]));
    assert_eq!(js["notes"], json!("js"));
}

#[tokio::test]
async fn the_stock_js_client_reads_a_board_larger_than_one_websocket_frame() {
    // The server sends messages over 64 KiB as several WebSocket frames (RFC 6455 fragments);
    // the stock client must reassemble them.
    let server = TestServer::start().await;
    let writer = TestClient::connect(&server.board_url("large"))
        .await
        .unwrap();
    let long = "a journey of many steps ".repeat(20_000); // 480 KB
    writer.append_text("notes", &long);
    let witness = TestClient::connect(&server.board_url("large"))
        .await
        .unwrap();
    witness
        .wait_for("the long note", |c| c.text("notes").len() == long.len())
        .await;
    let output = node::run("reader.mjs", &[server.boards_url(), "large".into()]).await;
    let js = stdout_json(&output);
    assert_eq!(js["notes"].as_str().map(str::len), Some(long.len()));

    // After a restart the stock client is the first on the board: it is sent the stored board
    // while the server decodes it (and the server's step 1 with it).
    drop((writer, witness));
    let server = server.restart().await;
    let output = node::run("reader.mjs", &[server.boards_url(), "large".into()]).await;
    let js = stdout_json(&output);
    assert_eq!(js["notes"].as_str().map(str::len), Some(long.len()));
}
