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

/// `GET path` with the admin key, as JSON.
async fn get_json(server: &TestServer, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(server.http_url(path))
        .bearer_auth(access::ADMIN_KEY)
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.expect("JSON")
}

/// The texts of a board's cards, sorted.
fn card_texts(board: &Value) -> Vec<String> {
    let mut texts: Vec<String> = board["cards"]
        .as_array()
        .expect("cards")
        .iter()
        .map(|c| c["text"].as_str().expect("text").to_owned())
        .collect();
    texts.sort();
    texts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committee_member_browses_the_history_names_a_milestone_compares_a_past_version_forks_it_and_the_owner_restores_it(
) {
    let server = TestServer::start_with(access::requiring_tokens).await;
    let id = "browser-history";
    create_board(&server, id).await;
    // The facilitator's token covers every board under the prefix, so it may create the fork.
    let tokens = json!({
        "participant": token(id, Role::Participant, "pat", "Pat"),
        "facilitator": token(&format!("{id}*"), Role::Facilitator, "fay", "Fay"),
        "owner": token(id, Role::Owner, "olga", "Olga"),
    })
    .to_string();
    let shots = screenshot_dir("history");
    let summary = browser::run(
        &server,
        id,
        &shots,
        &["history"],
        &[("PARCOURS_BROWSER_TOKENS", &tokens)],
    )
    .await;

    // The board is back to the named version: what the browsers showed is what is stored, and
    // nothing differs from the milestone any more.
    let board = stored_board(&server, id).await;
    assert_eq!(
        card_texts(&board),
        ["Ads feel pushy", "Price unclear", "Slow delivery"],
        "{board:#}"
    );
    let shown = summary["notes"].as_object().expect("the notes Pat saw");
    for card in board["cards"].as_array().expect("cards") {
        let seen = &shown[card["text"].as_str().expect("text")];
        assert_eq!(
            (&card["stage"], &card["lane"]),
            (&seen["stage"], &seen["lane"])
        );
        assert_eq!(card["authorId"], "pat");
    }
    let since = get_json(
        &server,
        &format!("/api/boards/{id}/history/diff?from=Before%20the%20committee"),
    )
    .await;
    assert_eq!(since["changes"], json!([]), "{since:#}");

    // Milestones: the one the facilitator named, the restore's own, the fork's; the one named,
    // renamed and deleted in between is gone.
    let milestones = get_json(&server, &format!("/api/boards/{id}/history/milestones")).await;
    let milestones = milestones.as_array().expect("milestones");
    let by_kind =
        |kind: &str| -> Vec<&Value> { milestones.iter().filter(|m| m["kind"] == kind).collect() };
    let named = by_kind("named");
    assert_eq!(named.len(), 1, "{milestones:#?}");
    assert_eq!(named[0]["name"], "Before the committee");
    assert_eq!(named[0]["createdBy"]["sub"], "fay");
    let before_restore = by_kind("beforeRestore");
    assert_eq!(before_restore.len(), 1, "{milestones:#?}");
    assert_eq!(before_restore[0]["createdBy"]["sub"], "olga");
    let fork = summary["fork"].as_str().expect("the fork's id");
    let forks = by_kind("fork");
    assert_eq!(forks.len(), 1, "{milestones:#?}");
    assert_eq!(forks[0]["name"], format!("forked to {fork}"));
    assert_eq!(forks[0]["seq"], named[0]["seq"]);

    // The restore is the newest entry, made by the owner; the edits before it are the
    // participant's.
    let newest = get_json(&server, &format!("/api/boards/{id}/history?limit=1")).await;
    let entry = &newest["entries"][0];
    assert_eq!(
        (&entry["authors"][0]["sub"], &entry["role"]),
        (&json!("olga"), &json!("owner")),
        "{newest:#}"
    );
    let pats = get_json(
        &server,
        &format!("/api/boards/{id}/history?author=pat&limit=500"),
    )
    .await;
    assert!(
        pats["entries"].as_array().expect("entries").len() > 40,
        "every keystroke of Pat's is an entry: {pats:#}"
    );

    // The fork holds the named version, and the facilitator made it.
    let forked = stored_board(&server, fork).await;
    assert_eq!(
        card_texts(&forked),
        ["Ads feel pushy", "Price unclear", "Slow delivery"]
    );
    let created = get_json(&server, &format!("/api/boards/{fork}/history")).await;
    assert_eq!(created["entries"][0]["authors"][0]["sub"], "fay");

    for file in [
        "history-participant.png",
        "history-version.png",
        "fork.png",
        "restored.png",
        "history-fr.png",
    ] {
        assert!(shots.join(file).exists(), "{file}");
    }
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
