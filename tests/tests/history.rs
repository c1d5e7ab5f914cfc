//! Board history over the real server: every version rebuilds exactly, before and after
//! retention; milestones, diffs, forks and restores in place with stock clients connected.

use std::sync::Arc;
use std::time::Duration;

use client_protocol::schema::{Board, BoardRefs, BoardWriter, IdGen, NewCard};
use parcours_e2e::{node, python, Rng, TestClient, TestServer, PATIENCE};
use parcours_server::history::{History, HistoryConfig, RetentionPolicy};
use parcours_server::storage::{LogQuery, SledStore, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};
use yrs::updates::decoder::Decode;
use yrs::{ReadTxn, Transact};

const SERVER_BINARY: &str = env!("CARGO_BIN_EXE_parcours-under-test");

fn api(server: &TestServer, path: &str) -> String {
    server.http_url(&format!("/api{path}"))
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(server: &TestServer, path: &str) -> (StatusCode, Value) {
    send(reqwest::Client::new().get(api(server, path))).await
}

async fn post(server: &TestServer, path: &str, body: Value) -> (StatusCode, Value) {
    send(reqwest::Client::new().post(api(server, path)).json(&body)).await
}

async fn create_board(server: &TestServer, id: &str) {
    let (status, body) = post(server, "/boards", json!({"title": "Checkout", "id": id})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// The board as the server holds it now.
async fn board_json(server: &TestServer, id: &str) -> Value {
    get(server, &format!("/boards/{id}/export?format=json"))
        .await
        .1
}

async fn head(server: &TestServer, id: &str) -> u64 {
    let (status, page) = get(server, &format!("/boards/{id}/history?limit=1")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["head"].as_u64().unwrap()
}

async fn version(server: &TestServer, id: &str, version: &str) -> (StatusCode, Value) {
    get(server, &format!("/boards/{id}/history/versions/{version}")).await
}

/// A participant editing the board with the schema writer, as a named client.
struct Writer {
    client: TestClient,
    seed: u64,
}

fn note(stage: &str, lane: &str, text: impl Into<String>) -> NewCard {
    NewCard {
        stage: stage.into(),
        lane: lane.into(),
        text: text.into(),
        author: "someone".into(),
        color: "#ffd166".into(),
        team: "cx".into(),
    }
}

impl Writer {
    async fn join(server: &TestServer, board: &str, name: &str, seed: u64) -> Self {
        let url = format!("{}?name={name}", server.board_url(board));
        let client = TestClient::connect(&url).await.unwrap();
        client
            .wait_for("the board", |c| {
                !c.map("stages").as_object().unwrap().is_empty()
            })
            .await;
        Writer { client, seed }
    }

    fn board(&self) -> Board {
        self.client.with_doc(Board::from_doc)
    }

    fn write(&mut self, f: impl FnOnce(&mut BoardWriter<'_, '_>)) {
        self.seed += 1000;
        let seed = self.seed;
        self.client.edit(|txn| {
            let refs = BoardRefs::from_txn(txn);
            let mut writer = BoardWriter::new(txn, &refs, 1).with_ids(IdGen::from_seed(seed));
            f(&mut writer);
        });
    }
}

/// Waits until the server's board shows `check`.
async fn server_shows(
    server: &TestServer,
    id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let board = board_json(server, id).await;
        if check(&board) {
            return board;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server never showed {what}: {board}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `board` has at least `n` live connections (the boards listing counts them).
async fn wait_for_participants(server: &TestServer, board: &str, n: u64) {
    let deadline = tokio::time::Instant::now() + PATIENCE * 2;
    loop {
        let (_, page) = get(server, "/boards?limit=100").await;
        let here = page["boards"]
            .as_array()
            .and_then(|boards| boards.iter().find(|b| b["id"] == board))
            .and_then(|b| b["participants"].as_u64())
            .unwrap_or(0);
        if here >= n {
            // Connected; the sync handshake that follows takes a round trip.
            tokio::time::sleep(Duration::from_millis(300)).await;
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{board} has {here} participants, waiting for {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn cards(board: &Value) -> usize {
    board["cards"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn every_version_of_a_board_edited_by_several_people_rebuilds_exactly_before_and_after_retention(
) {
    parcours_e2e::init_logging();
    let dir = tempfile::tempdir().unwrap();
    let server =
        TestServer::start_in_with(dir.path(), |config| config.history.checkpoint_every = 5).await;
    create_board(&server, "journey").await;
    let mut writers = [
        Writer::join(&server, "journey", "Ana", 1).await,
        Writer::join(&server, "journey", "Bo", 2).await,
        Writer::join(&server, "journey", "Cy", 3).await,
    ];
    let mut recorded: Vec<(u64, Value)> = vec![(
        head(&server, "journey").await,
        board_json(&server, "journey").await,
    )];
    let mut random = Rng(0x2545_f491_4f6c_dd1d);
    for step in 0..40 {
        let rng = random.next_u64();
        let who = (rng % 3) as usize;
        let writer = &mut writers[who];
        let before = head(&server, "journey").await;
        let board = writer.board();
        let existing: Vec<String> = board.cards.iter().map(|c| c.id.clone()).collect();
        let (stage, lane) = (board.stages[0].id.clone(), board.lanes[0].id.clone());
        match (rng >> 8) % 4 {
            0 | 1 if existing.len() < 12 || existing.is_empty() => writer.write(|w| {
                w.add_card(&note(&stage, &lane, format!("note {step}")))
                    .unwrap();
            }),
            2 if !existing.is_empty() => {
                let card = existing[(rng >> 16) as usize % existing.len()].clone();
                writer.write(|w| w.set_card_text(&card, &format!("edited {step}")).unwrap());
            }
            _ if !existing.is_empty() => {
                // A delete-only change.
                let card = existing[(rng >> 16) as usize % existing.len()].clone();
                writer.write(|w| w.delete_card(&card).unwrap());
            }
            _ => writer.write(|w| {
                w.add_card(&note(&stage, &lane, format!("note {step}")))
                    .unwrap();
            }),
        }
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while head(&server, "journey").await == before {
            assert!(
                tokio::time::Instant::now() < deadline,
                "edit {step} was never stored"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let seq = head(&server, "journey").await;
        recorded.push((seq, board_json(&server, "journey").await));
    }
    for (seq, expected) in &recorded {
        let (status, rebuilt) = version(&server, "journey", &seq.to_string()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&rebuilt, expected, "version {seq}");
    }
    let (_, page) = get(&server, "/boards/journey/history?limit=500").await;
    let names: std::collections::BTreeSet<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| {
            e["authors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].as_str().unwrap())
        })
        .collect();
    assert!(
        names.contains("Ana") && names.contains("Bo") && names.contains("Cy"),
        "{names:?}"
    );
    // Paging through it in small pages gives the same entries, newest first.
    let all: Vec<u64> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    let mut paged = Vec::new();
    let mut path = "/boards/journey/history?limit=7".to_string();
    loop {
        let (_, page) = get(&server, &path).await;
        paged.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_u64().unwrap()),
        );
        match page["next"].as_u64() {
            Some(next) => path = format!("/boards/journey/history?limit=7&before={next}"),
            None => break,
        }
    }
    assert_eq!(paged, all);
    assert!(all.windows(2).all(|w| w[0] > w[1]), "{all:?}");

    // Retention, run as if two months had passed: hourly summaries, still exact at each end.
    for writer in writers {
        writer.client.close().await;
    }
    let dir = server.data_dir();
    server.stop().await;
    {
        let store = Arc::new(SledStore::open(&dir).unwrap());
        let history = History::new(
            store.clone(),
            HistoryConfig {
                checkpoint_every: 5,
                retention: RetentionPolicy::days(1, 100),
                ..HistoryConfig::default()
            },
        );
        let later = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + 3 * 86_400_000;
        let board = "journey".parse().unwrap();
        let thinned = history.thin(&board, later).await.unwrap();
        assert!(
            thinned.summaries >= 1 && thinned.merged_records > 1,
            "{thinned:?}"
        );
        store.flush().await.unwrap();
    }
    let server = TestServer::start_in(&dir).await;
    let (_, page) = get(&server, "/boards/journey/history?limit=500").await;
    let kept: Vec<u64> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert!(kept.len() < recorded.len(), "retention merged records");
    let mut checked = 0;
    for (seq, expected) in &recorded {
        if kept.contains(seq) {
            let (_, rebuilt) = version(&server, "journey", &seq.to_string()).await;
            assert_eq!(&rebuilt, expected, "version {seq} after retention");
            checked += 1;
        }
    }
    assert!(checked >= 2, "summary boundaries were checked");
    assert_eq!(
        &board_json(&server, "journey").await,
        &recorded.last().unwrap().1
    );
}

#[tokio::test]
async fn a_diff_says_what_changed_and_who_did_it_and_milestones_name_versions() {
    let server = TestServer::start().await;
    create_board(&server, "diffs").await;
    let mut ana = Writer::join(&server, "diffs", "Ana", 1).await;
    let before = head(&server, "diffs").await;
    let (status, milestone) = post(
        &server,
        "/boards/diffs/history/milestones",
        json!({"name": "before Q3 workshop"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{milestone}");
    let board = ana.board();
    let (stage, lane) = (board.stages[0].id.clone(), board.lanes[0].id.clone());
    ana.write(|w| {
        w.add_card(&note(&stage, &lane, "Hidden delivery fees"))
            .unwrap();
    });
    server_shows(&server, "diffs", "Ana's card", |b| cards(b) == 1).await;
    let mut bo = Writer::join(&server, "diffs", "Bo", 2).await;
    let card = bo.board().cards[0].id.clone();
    bo.write(|w| w.delete_card(&card).unwrap());
    server_shows(&server, "diffs", "the deletion", |b| cards(b) == 0).await;

    let (status, diff) = get(
        &server,
        "/boards/diffs/history/diff?from=before%20Q3%20workshop",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{diff}");
    // Added then removed: nothing to show between the two ends, but both people were there.
    assert!(diff["changes"].as_array().unwrap().is_empty(), "{diff}");
    assert_eq!(diff["authors"].as_array().unwrap().len(), 2, "{diff}");

    let (_, page) = get(&server, "/boards/diffs/history").await;
    let entries = page["entries"].as_array().unwrap();
    let (deletion, addition) = (
        entries[0]["seq"].as_u64().unwrap(),
        entries[1]["seq"].as_u64().unwrap(),
    );
    assert_eq!(entries[0]["authors"][0]["name"], "Bo");
    let (_, diff) = get(
        &server,
        &format!("/boards/diffs/history/diff?from={addition}&to={deletion}"),
    )
    .await;
    let change = &diff["changes"][0];
    assert_eq!(change["change"], "cardRemoved", "{diff}");
    assert_eq!(change["authors"][0]["name"], "Bo", "{diff}");
    assert_eq!(change["authors"].as_array().unwrap().len(), 1, "{diff}");
    let (_, diff) = get(
        &server,
        &format!("/boards/diffs/history/diff?from={before}&to={addition}"),
    )
    .await;
    assert_eq!(diff["changes"][0]["change"], "cardAdded", "{diff}");
    assert_eq!(diff["changes"][0]["authors"][0]["name"], "Ana", "{diff}");

    // Addressed by time: the board as it was then.
    let (status, future) = version(&server, "diffs", "2100-01-01T00:00:00Z").await;
    assert_eq!((status, cards(&future)), (StatusCode::OK, 0), "{future}");
    assert_eq!(future, board_json(&server, "diffs").await);
    let (status, past) = version(&server, "diffs", "2000-01-01T00:00:00Z").await;
    assert_eq!((status, cards(&past)), (StatusCode::OK, 0), "{past}");
    assert!(
        past["stages"].as_array().is_none_or(Vec::is_empty),
        "{past}"
    );

    // The delete-only change is a version of its own.
    let (_, with_card) = version(&server, "diffs", &addition.to_string()).await;
    let (_, without) = version(&server, "diffs", &deletion.to_string()).await;
    assert_eq!((cards(&with_card), cards(&without)), (1, 0));

    // Milestones: listed, renamed, addressed by id and name, deleted.
    let id = milestone["id"].as_str().unwrap();
    let (status, renamed) = send(
        reqwest::Client::new()
            .patch(api(
                &server,
                &format!("/boards/diffs/history/milestones/{id}"),
            ))
            .json(&json!({"name": "before the Q3 workshop"})),
    )
    .await;
    assert_eq!(
        (status, renamed["name"].as_str()),
        (StatusCode::OK, Some("before the Q3 workshop"))
    );
    let (_, listed) = get(&server, "/boards/diffs/history/milestones").await;
    assert_eq!(listed[0]["seq"].as_u64(), Some(before));
    let (status, _) = version(&server, "diffs", id).await;
    assert_eq!(status, StatusCode::OK);
    let (status, missing) = version(&server, "diffs", "no such milestone").await;
    assert_eq!(
        (status, missing["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("version_not_found"))
    );
    let status = reqwest::Client::new()
        .delete(api(
            &server,
            &format!("/boards/diffs/history/milestones/{id}"),
        ))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = post(
        &server,
        "/boards/diffs/history/milestones",
        json!({"name": ""}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // A name that reads as a version number or a time could never address the milestone.
    for name in ["2", "2026-11-23T10:00:00Z"] {
        let (status, refused) = post(
            &server,
            "/boards/diffs/history/milestones",
            json!({ "name": name }),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {refused}"
        );
    }
    let (status, _) = send(
        reqwest::Client::new()
            .post(api(&server, "/boards/diffs/history/milestones"))
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_fork_starts_from_a_past_version_and_lives_its_own_life() {
    let server = TestServer::start().await;
    create_board(&server, "source").await;
    let mut ana = Writer::join(&server, "source", "Ana", 1).await;
    let board = ana.board();
    let (stage, lane) = (board.stages[0].id.clone(), board.lanes[0].id.clone());
    ana.write(|w| {
        w.add_card(&note(&stage, &lane, "kept in the fork"))
            .unwrap();
    });
    server_shows(&server, "source", "the card", |b| cards(b) == 1).await;
    let at = head(&server, "source").await;
    ana.write(|w| {
        w.add_card(&note(&stage, &lane, "only on the source"))
            .unwrap();
    });
    server_shows(&server, "source", "the second card", |b| cards(b) == 2).await;

    let (status, forked) = post(
        &server,
        &format!("/boards/source/history/versions/{at}/fork"),
        json!({"id": "fork"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{forked}");
    assert_eq!(forked["forkedFrom"], json!({"board": "source", "seq": at}));
    assert_eq!(cards(&board_json(&server, "fork").await), 1);
    let mut bo = Writer::join(&server, "fork", "Bo", 2).await;
    bo.write(|w| {
        w.add_card(&note(&stage, &lane, "only on the fork"))
            .unwrap();
    });
    server_shows(&server, "fork", "Bo's card", |b| cards(b) == 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let texts = |b: &Value| -> Vec<String> {
        let mut t: Vec<String> = b["cards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["text"].as_str().unwrap().to_owned())
            .collect();
        t.sort();
        t
    };
    assert_eq!(
        texts(&board_json(&server, "source").await),
        ["kept in the fork", "only on the source"]
    );
    assert_eq!(
        texts(&board_json(&server, "fork").await),
        ["kept in the fork", "only on the fork"]
    );
    let (_, milestones) = get(&server, "/boards/source/history/milestones").await;
    assert_eq!(milestones[0]["kind"], "fork");
    // The fork's history says where it came from; the source's says nothing.
    let (_, page) = get(&server, "/boards/fork/history").await;
    assert_eq!(page["forkedFrom"], json!({"board": "source", "seq": at}));
    let (_, page) = get(&server, "/boards/source/history").await;
    assert!(page.get("forkedFrom").is_none(), "{page}");
    // A fork needs no body: its new board gets an id of its own.
    let (status, unnamed) = send(reqwest::Client::new().post(api(
        &server,
        &format!("/boards/source/history/versions/{at}/fork"),
    )))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{unnamed}");
    assert_ne!(unnamed["id"], "fork");
    let (status, _) = post(
        &server,
        &format!("/boards/source/history/versions/{at}/fork"),
        json!({"id": "fork"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_restore_in_place_reaches_connected_stock_clients_and_keeps_an_offline_participants_edits(
) {
    // Installing the stock clients (the first time) blocks; do it before anything is timed.
    node::ensure_installed();
    python::ensure_installed();
    let server = TestServer::start().await;
    create_board(&server, "restore").await;
    let mut ana = Writer::join(&server, "restore", "Ana", 1).await;
    let board = ana.board();
    let (stage, lane) = (board.stages[0].id.clone(), board.lanes[0].id.clone());
    ana.write(|w| {
        w.add_card(&note(&stage, &lane, "the good version"))
            .unwrap();
    });
    server_shows(&server, "restore", "the card", |b| cards(b) == 1).await;
    let good = head(&server, "restore").await;
    let card = ana.board().cards[0].id.clone();

    // An offline participant, who saw the good version, keeps working without a connection.
    let offline = yrs::Doc::new();
    ana.client.with_doc(|doc| {
        let state = doc
            .transact()
            .encode_state_as_update_v1(&yrs::StateVector::default());
        offline
            .transact_mut()
            .apply_update(yrs::Update::decode_v1(&state).unwrap())
            .unwrap();
    });

    ana.write(|w| w.set_card_text(&card, "a bad rewrite").unwrap());
    ana.write(|w| {
        w.add_card(&note(&stage, &lane, "noise")).unwrap();
    });
    server_shows(&server, "restore", "the bad version", |b| cards(b) == 2).await;

    // A stock JS client stays connected through the restore and converges.
    let args = vec![
        server.boards_url(),
        "restore".into(),
        "1".into(),
        "the good version".into(),
        "30000".into(),
    ];
    let js = {
        let args = args.clone();
        tokio::spawn(async move { node::run("follower.mjs", &args).await })
    };
    // And so does a stock Python client.
    let py = tokio::spawn(async move { python::run("follower.py", &args).await });
    // Both are on the board, synced to the bad version, before the restore.
    wait_for_participants(&server, "restore", 3).await;

    let current = head(&server, "restore").await;
    let (status, refused) = post(
        &server,
        &format!("/boards/restore/history/versions/{good}/restore"),
        json!({"expectedHead": good}),
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::CONFLICT, Some("board_moved"))
    );
    let (status, restored) = post(
        &server,
        &format!("/boards/restore/history/versions/{good}/restore"),
        json!({"expectedHead": current}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(restored["beforeRestore"]["seq"].as_u64(), Some(current));
    assert!(restored["head"].as_u64().unwrap() > current);

    ana.client
        .wait_for("the restored board", |c| {
            let board = c.with_doc(Board::from_doc);
            board.cards.len() == 1 && board.cards.iter().all(|c| c.text == "the good version")
        })
        .await;
    for (who, output) in [("js", js.await.unwrap()), ("python", py.await.unwrap())] {
        // The result is the last line: a stock client may log before it.
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
        let shown: Value = last
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| panic!("{who} printed no result: {stdout}"));
        assert_eq!(
            shown["cards"].as_array().map(Vec::len),
            Some(1),
            "{who}: {shown}"
        );
    }

    // The offline participant's edit, made before the restore, arrives after it and survives.
    let edit = {
        let before = offline.transact().state_vector();
        {
            let refs = BoardRefs::new(&offline);
            let mut txn = offline.transact_mut();
            let mut writer = BoardWriter::new(&mut txn, &refs, 2).with_ids(IdGen::from_seed(9));
            writer
                .add_card(&note(&stage, &lane, "written offline"))
                .unwrap();
        }
        offline.transact().encode_state_as_update_v1(&before)
    };
    let late = TestClient::connect(&server.board_url("restore"))
        .await
        .unwrap();
    late.edit(|txn| {
        txn.apply_update(yrs::Update::decode_v1(&edit).unwrap())
            .unwrap()
    });
    let board = server_shows(&server, "restore", "the offline card", |b| cards(b) == 2).await;
    let texts: Vec<&str> = board["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.contains(&"written offline") && texts.contains(&"the good version"),
        "{texts:?}"
    );
}

/// Every record of every board: `(board, seq, how many updates it merges)`.
async fn records(store: &SledStore) -> Vec<(String, u64, u64)> {
    let mut all = Vec::new();
    for board in store.board_ids().unwrap() {
        let log = store.log(&board, LogQuery::default()).await.unwrap();
        all.extend(
            log.into_iter()
                .map(|r| (board.to_string(), r.seq, r.meta.updates)),
        );
    }
    all
}

/// Opens the data directory (as a restarted server would) and checks that the kept records
/// rebuild exactly what they did before any thinning: every summary's end, every board's head, and
/// a sample of the rest. Returns the records.
async fn check_kept_versions(
    dir: &std::path::Path,
    expected: &std::collections::HashMap<(String, u64), Value>,
    heads: &std::collections::HashMap<String, u64>,
    round: usize,
) -> Vec<(String, u64, u64)> {
    let store = Arc::new(SledStore::open(dir).expect("the store opens after kill -9"));
    let history = History::new(store.clone(), HistoryConfig::default());
    let kept = records(&store).await;
    for (i, (board, seq, merged)) in kept.iter().enumerate() {
        let is_head = heads[board] == *seq;
        if !(is_head || *merged > 1 || (i + round).is_multiple_of(17)) {
            continue;
        }
        let id = board.parse().unwrap();
        let version = history
            .version(&id, *seq)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {board}@{seq} does not rebuild: {e}"));
        let rebuilt = serde_json::to_value(&version.board).unwrap();
        assert_eq!(
            &rebuilt,
            &expected[&(board.clone(), *seq)],
            "round {round}: {board}@{seq} (merging {merged}) changed"
        );
    }
    for (board, head) in heads {
        assert!(
            kept.iter().any(|(b, s, _)| b == board && s == head),
            "round {round}: {board} lost its head {head}"
        );
    }
    kept
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_retention_run_at_any_moment_loses_nothing() {
    const BOARDS: usize = 12;
    const EDITS: usize = 120;
    let dir = tempfile::tempdir().unwrap();
    // Many checkpoints, so that retention has many groups (durable steps) to go through.
    let server =
        TestServer::start_in_with(dir.path(), |config| config.history.checkpoint_every = 15).await;
    for b in 0..BOARDS {
        let id = format!("board-{b:02}");
        create_board(&server, &id).await;
        let mut writer = Writer::join(&server, &id, &format!("writer-{b}"), b as u64).await;
        for i in 0..EDITS {
            let board = writer.board();
            let (stage, lane) = (board.stages[0].id.clone(), board.lanes[0].id.clone());
            match (i % 5, board.cards.first()) {
                (4, Some(card)) => {
                    let card = card.id.clone();
                    writer.write(|w| w.delete_card(&card).unwrap());
                }
                (1 | 3, Some(card)) => {
                    let card = card.id.clone();
                    writer.write(|w| w.set_card_text(&card, &format!("edit {i}")).unwrap());
                }
                _ => writer.write(|w| {
                    w.add_card(&note(&stage, &lane, format!("note {i}")))
                        .unwrap();
                }),
            }
        }
        let shown = writer.board();
        let texts: Vec<String> = shown.cards.iter().map(|c| c.text.clone()).collect();
        server_shows(&server, &id, "every edit", |b| {
            let stored: Vec<&str> = b["cards"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["text"].as_str().unwrap())
                .collect();
            stored.len() == texts.len() && texts.iter().all(|t| stored.contains(&t.as_str()))
        })
        .await;
        writer.client.close().await;
    }
    server.stop().await;

    // What every version looked like before any thinning.
    let mut expected = std::collections::HashMap::new();
    let mut heads = std::collections::HashMap::new();
    {
        let store = Arc::new(SledStore::open(dir.path()).unwrap());
        let history = History::new(store.clone(), HistoryConfig::default());
        for (board, seq, _) in records(&store).await {
            let version = history.version(&board.parse().unwrap(), seq).await.unwrap();
            expected.insert(
                (board.clone(), seq),
                serde_json::to_value(&version.board).unwrap(),
            );
            let head = heads.entry(board).or_insert(seq);
            *head = (*head).max(seq);
        }
    }
    let before = expected.len();
    assert!(before >= BOARDS * EDITS, "{before} records");

    // `parcours thin`, as if three months had passed, killed with SIGKILL after a little longer
    // each time, until one run gets to finish.
    let as_of = (time::OffsetDateTime::now_utc() + time::Duration::days(90))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let mut delay = Duration::from_millis(5);
    let (mut kills, mut partial) = (0, 0);
    let mut count = before;
    loop {
        let mut child = std::process::Command::new(SERVER_BINARY)
            .arg("thin")
            .arg(dir.path())
            .args(["--as-of", &as_of])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start parcours thin");
        tokio::time::sleep(delay).await;
        let finished = child.try_wait().unwrap();
        if finished.is_none() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
        }
        let kept = check_kept_versions(dir.path(), &expected, &heads, kills).await;
        if let Some(status) = finished {
            assert!(status.success(), "parcours thin failed: {status}");
            break;
        }
        if kept.len() < count {
            partial += 1; // this kill landed after some work and before the end
        }
        count = kept.len();
        assert!(kills < 200, "parcours thin never finished");
        delay = delay.mul_f64(1.3);
    }
    let after = check_kept_versions(dir.path(), &expected, &heads, kills + 1).await;
    eprintln!(
        "{kills} kills, {partial} mid-run; {before} records thinned to {}",
        after.len()
    );
    assert!(
        after.len() < before / 4,
        "retention merged {before} records into {}",
        after.len()
    );
    assert!(
        partial >= 1,
        "no kill landed mid-run ({kills} kills); the run is too short to test"
    );
}
