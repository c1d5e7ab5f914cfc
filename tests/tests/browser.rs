//! The browser client in real headless Chromium: participants in separate browser contexts on
//! one board, against the real server with a temp sled directory. The scenarios themselves are in
//! `tests/js/browser.mjs`; here the server is started, the board created, and what the browsers
//! ended with is checked against what the server stored.

use parcours_e2e::access::token_for as token;
use parcours_e2e::{access, browser, TestServer};
use parcours_server::auth::Role;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Creates a board from the customer-journey template (with the admin key, which an open server
/// ignores).
async fn create_board(server: &TestServer, id: &str) {
    let response = reqwest::Client::new()
        .post(server.http_url("/api/boards"))
        .bearer_auth(access::ADMIN_KEY)
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
    reqwest::Client::new()
        .get(server.http_url(&format!("/api/boards/{id}")))
        .bearer_auth(access::ADMIN_KEY)
        .send()
        .await
        .expect("read the board")
        .json()
        .await
        .expect("board JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_create_a_board_and_see_each_others_notes_moves_votes_and_cursors_and_converge_after_going_offline(
) {
    let server = TestServer::start().await;
    create_board(&server, "browser-collab").await;
    let shots = screenshot_dir("collaboration");
    let summary = browser::run(
        &server,
        "browser-collab",
        &shots,
        &["home", "collaboration"],
        &[],
    )
    .await;

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
    let created = stored_board(&server, "browser-collab-store").await;
    assert_eq!(created["meta"]["title"], "Store visit");
    assert_eq!(created["meta"]["template"], "customer-experience");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workshop_in_browsers_with_tokens_votes_times_comments_follows_and_reveals_private_notes()
{
    let server = TestServer::start_with(access::requiring_tokens).await;
    let id = "browser-workshop";
    create_board(&server, id).await;
    let tokens = json!({
        "facilitator": token(id, Role::Facilitator, "fay", "Fay"),
        "participant": token(id, Role::Participant, "pat", "Pat"),
        "participant2": token(id, Role::Participant, "sam", "Sam"),
        "viewer": token(id, Role::Viewer, "vic", "Vic"),
    })
    .to_string();
    let shots = screenshot_dir("workshop");
    let summary = browser::run(
        &server,
        id,
        &shots,
        &["workshop"],
        &[("PARCOURS_BROWSER_TOKENS", &tokens)],
    )
    .await;

    // The server stored what the browsers did, in the participants' names.
    let board = stored_board(&server, id).await;
    let emotions: Vec<Value> = board["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| s["emotion"].clone())
        .collect();
    assert_eq!(emotions, [1, -1, -2, 0, 1, 2].map(Value::from), "{summary}");
    assert_eq!(board["personas"][0]["name"], "Nadia, first-time buyer");
    assert_eq!(board["workshop"]["votingOpen"], false);
    assert_eq!(board["workshop"]["votesPerParticipant"], 2);
    assert_eq!(board["workshop"]["brainstormPrivate"], false);
    assert!(board["workshop"]["brainstormRevealAt"].is_i64());
    let cards = board["cards"].as_array().expect("cards");
    let card = |text: &str| {
        cards
            .iter()
            .find(|c| c["text"].as_str().is_some_and(|t| t.starts_with(text)))
            .unwrap_or_else(|| panic!("no card {text}: {cards:#?}"))
    };
    let secret = card("Secret: loyalty points");
    assert_eq!(
        (&secret["author"], &secret["authorId"]),
        (&json!("Pat"), &json!("pat"))
    );
    assert_eq!(
        card("Shipping cost shown late (at checkout)")["votes"],
        json!({ "pat": 2 })
    );
    let popup = card("Pop-up hides the offer");
    assert_eq!(popup["comments"][0]["authorId"], "pat");
    assert_eq!(popup["reactions"]["👍"], json!(["fay"]));
    assert_eq!(
        popup["votes"],
        json!({}),
        "the viewer's refused dot was not stored"
    );
    assert!(shots.join("workshop.png").exists());
    server.stop().await;
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_their_types_and_cache_rules() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(server.http_url(path)).send();
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };

    let page = get("/").await.expect("the page");
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "cache-control"), "no-cache");
    assert_eq!(header(&page, "referrer-policy"), "no-referrer");
    assert!(header(&page, "content-security-policy").contains("default-src 'self'"));
    let etag = header(&page, "etag");
    let html = page.text().await.expect("html");
    let script = html
        .split('"')
        .find(|s| s.starts_with("/assets/app.js?v="))
        .expect("the page names its script")
        .to_owned();

    // The same page for a board; revalidation answers 304.
    let board_page = get("/b/q3-onboarding").await.expect("a board's page");
    assert_eq!(board_page.text().await.expect("html"), html);
    let again = client
        .get(server.http_url("/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("revalidate");
    assert_eq!(again.status(), 304);

    let js = get(&script).await.expect("the script");
    assert_eq!(js.status(), 200);
    assert_eq!(
        header(&js, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert!(header(&js, "cache-control").contains("immutable"));
    let css = get("/assets/app.css").await.expect("the stylesheet");
    assert_eq!(header(&css, "content-type"), "text/css; charset=utf-8");

    // Other paths are still 404s, and board sockets answer as before.
    assert_eq!(get("/nothing-here").await.expect("404").status(), 404);
    assert_eq!(
        get("/boards/q3").await.expect("not an upgrade").status(),
        426
    );
    server.stop().await;
}
