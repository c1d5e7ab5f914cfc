//! The browser client in real headless Chromium: participants in separate browser contexts on
//! one board, against the real server with a temp sled directory. The scenarios themselves are in
//! `tests/js/browser.mjs`; here the server is started, the board created, and what the browsers
//! ended with is checked against what the server stored.

use parcours_e2e::{browser, TestServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Creates a board from the customer-journey template.
async fn create_board(server: &TestServer, id: &str) {
    let response = reqwest::Client::new()
        .post(server.http_url("/api/boards"))
        .json(&json!({ "title": "Q3 onboarding", "template": "customer-journey", "id": id }))
        .send()
        .await
        .expect("create the board");
    assert_eq!(
        response.status(),
        201,
        "{}",
        response.text().await.unwrap_or_default()
    );
}

/// Where a test's screenshots go: `target/tmp/browser-screenshots/<name>/`.
fn screenshot_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("browser-screenshots")
        .join(name)
}

async fn stored_board(server: &TestServer, id: &str) -> Value {
    reqwest::get(server.http_url(&format!("/api/boards/{id}")))
        .await
        .expect("read the board")
        .json()
        .await
        .expect("board JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_see_each_others_notes_moves_votes_and_cursors_and_converge_after_going_offline() {
    let server = TestServer::start().await;
    create_board(&server, "browser-collab").await;
    let shots = screenshot_dir("collaboration");
    let summary = browser::run(&server, "browser-collab", &shots, &["collaboration"]).await;

    // What every browser showed at the end is what the server stored.
    let shown = summary["notes"]
        .as_object()
        .expect("the notes the browsers showed");
    let board = stored_board(&server, "browser-collab").await;
    let cards = board["cards"].as_array().expect("cards");
    assert_eq!(
        cards.len(),
        shown.len(),
        "stored: {cards:#?}\nshown: {shown:#?}"
    );
    for card in cards {
        let text = card["text"].as_str().expect("text");
        let seen = &shown[text];
        assert_eq!(card["stage"], seen["stage"], "{text}");
        assert_eq!(card["lane"], seen["lane"], "{text}");
        let votes: i64 = card["votes"]
            .as_object()
            .map(|v| v.values().filter_map(Value::as_i64).sum())
            .unwrap_or(0);
        assert_eq!(Some(votes), seen["votes"].as_i64(), "{text}");
        assert!(
            card["authorId"]
                .as_str()
                .is_some_and(|id| id.starts_with("p-")),
            "{card}"
        );
    }
    for text in [
        "Written on the train",
        "Written at the office",
        "Ads feel pushy",
    ] {
        assert!(shown.contains_key(text), "{text} missing from {shown:?}");
    }
    assert!(
        shots.join("board.png").exists(),
        "a screenshot of the board"
    );
    server.stop().await;
}
