//! `parcours board dump|watch|add-card` against a real server.

use std::process::Stdio;

use client_protocol::access::Role;
use client_protocol::client::{Client, ClientOptions};
use client_protocol::schema::{instantiate, Board, BoardRefs, BoardWriter, Lang, NewCard};
use parcours_e2e::{access, TestServer, PATIENCE};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use yrs::Transact;

const PARCOURS: &str = env!("CARGO_BIN_EXE_parcours-under-test");

/// A board made from the customer-journey template by an SDK client, which stays connected.
async fn journey_board(server: &TestServer, id: &str) -> Client {
    journey_board_with(server, id, None).await
}

/// [`journey_board`], written with `token` on a server that requires one.
async fn journey_board_with(server: &TestServer, id: &str, token: Option<String>) -> Client {
    let options = ClientOptions {
        token,
        ..ClientOptions::default()
    };
    let client = Client::connect(&server.board_url(id), options)
        .await
        .unwrap();
    let refs = BoardRefs::new(client.doc());
    {
        let mut txn = client.doc().transact_mut();
        let mut writer = BoardWriter::new(&mut txn, &refs, 1_700_000_000_000);
        instantiate(
            &mut writer,
            "customer-journey",
            Lang::En,
            "Q3 onboarding",
            None,
        )
        .unwrap();
    }
    client.flush().await.unwrap();
    client
}

async fn parcours(args: &[&str]) -> (bool, String, String) {
    let output = tokio::time::timeout(PATIENCE, Command::new(PARCOURS).args(args).output())
        .await
        .expect("the command finished in time")
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_card_added_from_the_command_line_shows_up_in_the_dump() {
    let server = TestServer::start().await;
    let _author = journey_board(&server, "cli").await;
    let url = server.board_url("cli");

    let (ok, out, err) = parcours(&[
        "board",
        "add-card",
        &url,
        "--stage",
        "awareness",
        "--lane",
        "pain points",
        "--text",
        "Ads feel pushy",
        "--team",
        "marketing",
    ])
    .await;
    assert!(ok, "add-card failed: {err}");
    let added: Value = serde_json::from_str(out.trim()).unwrap();
    let card_id = added["card"].as_str().unwrap().to_owned();

    let (ok, out, err) = parcours(&["board", "dump", &url]).await;
    assert!(ok, "dump failed: {err}");
    let board: Board = serde_json::from_str(&out).unwrap();
    let card = board.card(&card_id).expect("the card is on the board");
    assert_eq!(card.text, "Ads feel pushy");
    assert_eq!(card.team, "marketing");
    assert_eq!(board.stage(&card.stage).unwrap().name, "Awareness");
    assert_eq!(board.lane(&card.lane).unwrap().title, "Pain points");

    let (ok, out, _) = parcours(&["board", "dump", "--raw", &url]).await;
    assert!(ok);
    let raw: Value = serde_json::from_str(&out).unwrap();
    assert!(
        raw["cards"][&card_id].is_object(),
        "raw dump has the card: {raw}"
    );
}

#[tokio::test]
async fn adding_a_card_to_a_stage_that_does_not_exist_fails_with_a_clear_message() {
    let server = TestServer::start().await;
    let _author = journey_board(&server, "cli-bad").await;
    let (ok, _, err) = parcours(&[
        "board",
        "add-card",
        &server.board_url("cli-bad"),
        "--stage",
        "nowhere",
        "--lane",
        "actions",
        "--text",
        "x",
    ])
    .await;
    assert!(!ok);
    assert!(err.contains("no stage \"nowhere\""), "{err}");
    let (ok, _, err) = parcours(&[
        "board",
        "dump",
        &format!("ws://{}/boards/bad%20id", server.addr),
    ])
    .await;
    assert!(!ok);
    assert!(err.contains("400"), "{err}");
}

#[tokio::test]
async fn add_card_signs_with_the_tokens_participant_and_reports_a_refusal() {
    let server = TestServer::start_with(access::requiring_tokens).await;
    let _facilitator = journey_board_with(
        &server,
        "cli-roles",
        Some(access::token("cli-roles", Role::Facilitator)),
    )
    .await;
    let url = server.board_url("cli-roles");
    let add = |token: String| {
        let url = url.clone();
        async move {
            parcours(&[
                "board",
                "add-card",
                &url,
                "--token",
                &token,
                "--stage",
                "awareness",
                "--lane",
                "painPoints",
                "--text",
                "Hard to find",
            ])
            .await
        }
    };
    let (ok, out, err) = add(access::token("cli-roles", Role::Participant)).await;
    assert!(ok, "a participant adds a card: {err}");
    let id = serde_json::from_str::<Value>(&out).unwrap()["card"]
        .as_str()
        .unwrap()
        .to_owned();

    let (ok, _, err) = add(access::token("cli-roles", Role::Viewer)).await;
    assert!(!ok, "a viewer's card is refused");
    assert!(err.contains("viewers cannot change the board"), "{err}");

    let reader = Client::connect(
        &url,
        ClientOptions {
            token: Some(access::token("cli-roles", Role::Viewer)),
            ..ClientOptions::default()
        },
    )
    .await
    .unwrap();
    let board = Board::from_doc(reader.doc());
    assert_eq!(board.cards.len(), 1);
    let card = &board.cards[0];
    assert_eq!(card.id, id);
    assert_eq!(
        (card.author.as_str(), card.author_id.as_str()),
        ("Test participant", "p-participant")
    );
}

async fn next_event(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> Value {
    let line = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .expect("the watcher is still running");
    serde_json::from_str(&line).unwrap()
}

#[tokio::test]
async fn watch_prints_one_line_per_change_and_presence_event() {
    let server = TestServer::start().await;
    let author = journey_board(&server, "cli-watch").await;
    let mut watcher = Command::new(PARCOURS)
        .args([
            "board",
            "watch",
            &server.board_url("cli-watch"),
            "--name",
            "Watcher",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watcher.stdout.take().unwrap()).lines();
    let synced = next_event(&mut lines).await;
    assert_eq!(synced["event"], "synced");
    assert_eq!(synced["title"], "Q3 onboarding");

    let board = Board::from_doc(author.doc());
    let refs = BoardRefs::new(author.doc());
    {
        let mut txn = author.doc().transact_mut();
        BoardWriter::new(&mut txn, &refs, 1_700_000_000_001)
            .add_card(&NewCard {
                stage: board.stages[2].id.clone(),
                lane: board.lanes[0].id.clone(),
                text: "Compare prices".into(),
                author: "Ana".into(),
                ..NewCard::default()
            })
            .unwrap();
    }
    author.set_presence(&serde_json::json!({"user": {"name": "Ana"}}));
    let mut seen_card = false;
    let mut seen_ana = false;
    while !(seen_card && seen_ana) {
        let event = next_event(&mut lines).await;
        seen_card |= event["event"] == "change"
            && event["change"] == "cardAdded"
            && event["text"] == "Compare prices";
        seen_ana |= event["event"] == "joined" && event["state"]["user"]["name"] == "Ana";
    }
    watcher.kill().await.unwrap();
}

#[tokio::test]
async fn an_offline_token_verifies_with_the_same_admin_key() {
    use parcours_server::auth::{Role, Verifier};
    let board = client_protocol::BoardId::parse("acme-q3").unwrap();
    let output = Command::new(PARCOURS)
        .args([
            "token",
            "--board",
            "acme-*",
            "--role",
            "facilitator",
            "--sub",
            "p-7",
        ])
        .args(["--name", "Léa", "--ttl-secs", "600"])
        .env(
            "PARCOURS_ADMIN_KEY",
            "a key shared by the server and the tool",
        )
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap();
    let claims = Verifier::with_admin_key(b"a key shared by the server and the tool")
        .verify(token.trim(), &board)
        .unwrap();
    assert_eq!(
        (claims.role, claims.name.as_str()),
        (Role::Facilitator, "Léa")
    );
    assert!(Verifier::with_admin_key(b"another key")
        .verify(token.trim(), &board)
        .is_err());
}
