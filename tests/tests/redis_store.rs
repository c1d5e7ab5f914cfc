//! Boards stored in Redis (`--store redis://…`): a real `redis-server` on a loopback port, the real
//! server on port 0, real WebSockets. What a participant has seen survives a crash of the server
//! and of Redis; a Redis that would lose acknowledged writes is refused.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use client_protocol::access::{Actor, Role};
use client_protocol::BoardId;
use parcours_e2e::redis::RedisServer;
use parcours_e2e::{ServerProcess, TestClient, TestServer, PATIENCE};
use parcours_server::storage::{
    Author, BoardSummary, Entry, LogQuery, Milestone, MilestoneKind, RedisStore, Store, StoreError,
    UpdateMeta,
};

const SERVER_BINARY: &str = env!("CARGO_BIN_EXE_parcours-under-test");

fn cards(client: &TestClient) -> usize {
    client.array("cards").as_array().map_or(0, Vec::len)
}

fn strings(value: serde_json::Value) -> Vec<String> {
    serde_json::from_value(value).unwrap()
}

fn board(id: &str) -> BoardId {
    BoardId::parse(id).unwrap()
}

fn by(name: &str, updates: &[&[u8]]) -> Vec<Entry> {
    let actor = Arc::new(Actor {
        role: Role::Participant,
        sub: format!("{name}-id"),
        name: name.into(),
    });
    updates
        .iter()
        .map(|u| Entry {
            update: u.to_vec(),
            actor: actor.clone(),
            conn: 7,
        })
        .collect()
}

#[tokio::test]
async fn two_participants_converge_on_a_board_stored_in_redis_and_a_restarted_server_reads_it_back()
{
    let redis = RedisServer::start();
    let server = TestServer::start_on_redis(&redis.url(), |_| {}).await;
    let url = server.board_url("workshop");
    let ana = TestClient::connect(&url).await.unwrap();
    let bob = TestClient::connect(&url).await.unwrap();
    ana.append_text("notes", "Checkout is confusing. ");
    bob.push("cards", "pain: hidden fees");
    ana.push("cards", "idea: price calculator");
    for client in [&ana, &bob] {
        client
            .wait_for("both edits everywhere", |c| {
                cards(c) == 2 && !c.text("notes").is_empty()
            })
            .await;
    }
    assert_eq!(ana.state_vector(), bob.state_vector());
    let expected = ana.array("cards");
    drop((ana, bob));

    let server = server.restart().await;
    let again = TestClient::connect(&server.board_url("workshop"))
        .await
        .unwrap();
    assert_eq!(again.array("cards"), expected);
    assert_eq!(again.text("notes"), "Checkout is confusing. ");
    let (status, body) = parcours_e2e::http_get(server.addr, "/api/boards").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"workshop\""), "{body}");
    // History reads the stream: every update, and any version rebuilt from it.
    let (status, body) = parcours_e2e::http_get(server.addr, "/api/boards/workshop/history").await;
    assert_eq!(status, 200, "{body}");
    let history: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(history["head"], 3, "{history}");
    assert_eq!(history["entries"].as_array().map(Vec::len), Some(3));
    let (status, body) =
        parcours_e2e::http_get(server.addr, "/api/boards/workshop/history/versions/2").await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn kill_dash_nine_of_the_server_right_after_edits_were_broadcast_loses_none_of_them() {
    let redis = RedisServer::start();
    let data = tempfile::tempdir().unwrap();
    let process =
        ServerProcess::start_with_args(SERVER_BINARY, data.path(), &["--store", &redis.url()]);
    let url = process.board_url("crash");
    let seen = process.kill_while_writing(&url, &url).await;

    let server = TestServer::start_on_redis(&redis.url(), |_| {}).await;
    let after = TestClient::connect(&server.board_url("crash"))
        .await
        .unwrap();
    after.assert_holds_cards(&seen, "in the crash");
    server.stop().await;
}

#[tokio::test]
async fn kill_dash_nine_of_redis_after_acknowledged_edits_loses_nothing_another_participant_saw() {
    let mut redis = RedisServer::start();
    let server = TestServer::start_on_redis(&redis.url(), |_| {}).await;
    let url = server.board_url("redis-crash");
    let writer = TestClient::connect(&url).await.unwrap();
    let observer = TestClient::connect(&url).await.unwrap();
    let writing = tokio::spawn(async move {
        for i in 0..300 {
            writer.push("cards", &format!("card {i}"));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        writer
    });
    observer
        .wait_for("a good part of the edits", |c| cards(c) >= 60)
        .await;
    // Everything the observer has now was acknowledged by Redis before it was broadcast.
    redis.kill9();
    let seen = strings(observer.array("cards"));
    let writer = writing.await.unwrap();
    redis.restart_same_dir();
    drop((writer, observer));

    // The same server reconnects to the restarted Redis and serves the board again.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let ok = match TestClient::connect(&url).await {
            Ok(client) => {
                let stored = strings(client.array("cards"));
                seen.iter().all(|card| stored.contains(card))
            }
            Err(_) => false,
        };
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "the board did not come back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop().await;

    // A fresh server reads the board from what Redis recovered from its AOF.
    let server = TestServer::start_on_redis(&redis.url(), |_| {}).await;
    let after = TestClient::connect(&server.board_url("redis-crash"))
        .await
        .unwrap();
    assert!(seen.len() >= 60);
    after.assert_holds_cards(&seen, "with Redis");
    server.stop().await;
}

#[tokio::test]
async fn the_server_refuses_to_start_on_a_redis_that_fsyncs_every_second_and_starts_with_the_override(
) {
    let redis = RedisServer::start_with(&[("appendfsync", "everysec")]);
    let data = tempfile::tempdir().unwrap();
    let mut refused = Command::new(SERVER_BINARY)
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .args(["--store", &redis.url()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = refused.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = refused.kill();
            panic!("the server started on a Redis that fsyncs every second");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut refused.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains("appendfsync is everysec (needs always)")
            && stderr.contains("--redis-allow-unsafe-persistence"),
        "{stderr}"
    );

    let process = ServerProcess::start_with_args(
        SERVER_BINARY,
        data.path(),
        &["--store", &redis.url(), "--redis-allow-unsafe-persistence"],
    );
    assert!(
        process
            .logs()
            .iter()
            .any(|l| l.contains("LOSE EDITS") && l.contains("appendfsync is everysec")),
        "{:?}",
        process.logs()
    );
    let client = TestClient::connect(&process.board_url("unsafe"))
        .await
        .unwrap();
    client.push("cards", "still works");
    let witness = TestClient::connect(&process.board_url("unsafe"))
        .await
        .unwrap();
    witness.wait_for("the card", |c| cards(c) == 1).await;
    assert!(process.terminate().success());
}

#[tokio::test]
async fn a_redis_whose_config_command_is_disabled_is_refused_with_a_message_saying_what_to_check() {
    let redis = RedisServer::start_with(&[("rename-command", "CONFIG \"\"")]);
    let refused = RedisStore::open(&redis.url(), false)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        refused.contains("CONFIG GET failed")
            && refused.contains("appendfsync always")
            && refused.contains("--redis-allow-unsafe-persistence"),
        "{refused}"
    );
    // The operator who checked the service's settings by other means may go on.
    let store = RedisStore::open(&redis.url(), true).await.unwrap();
    assert!(store.load(&board("any")).await.unwrap().updates.is_empty());
}

#[tokio::test]
async fn a_board_with_many_updates_loads_from_its_newest_checkpoint_and_the_tail_after_it() {
    let redis = RedisServer::start();
    let server = TestServer::start_on_redis(&redis.url(), |config| {
        config.room.compact_after_updates = 50;
    })
    .await;
    let url = server.board_url("long");
    let author = TestClient::connect(&url).await.unwrap();
    for i in 0..175 {
        author.push("cards", &format!("card {i}"));
        // One update each: the room counts stored records.
        if i % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let witness = TestClient::connect(&url).await.unwrap();
    witness.wait_for("every card", |c| cards(c) == 175).await;

    let store = RedisStore::open(&redis.url(), false).await.unwrap();
    let id = board("long");
    let deadline = Instant::now() + PATIENCE;
    while store.checkpoints(&id).await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no checkpoint was written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stored = store.load(&id).await.unwrap();
    let log = store.log(&id, LogQuery::default()).await.unwrap();
    assert!(stored.snapshot.is_some());
    assert!(
        stored.updates.len() < log.len(),
        "{} of {} records read after the checkpoint",
        stored.updates.len(),
        log.len()
    );
    assert_eq!(stored.last_seq, log.last().map(|r| r.seq));
    drop((author, witness));

    let server = server.restart().await;
    let again = TestClient::connect(&server.board_url("long"))
        .await
        .unwrap();
    assert_eq!(cards(&again), 175);
    server.stop().await;
}

#[tokio::test]
async fn a_stale_checkpoint_never_replaces_a_newer_one() {
    let redis = RedisServer::start();
    let store = RedisStore::open(&redis.url(), false).await.unwrap();
    let b = board("cas");
    let updates: Vec<Vec<u8>> = (1..=10u8).map(|i| vec![i]).collect();
    let refs: Vec<&[u8]> = updates.iter().map(Vec::as_slice).collect();
    let last = store.append(&b, &by("ana", &refs)).await.unwrap();
    assert_eq!(last, 10);

    store
        .checkpoint(&b, b"newer".to_vec(), 8, None)
        .await
        .unwrap();
    // A slow writer arrives with an older position: refused, the newer one stays.
    store
        .checkpoint(&b, b"stale".to_vec(), 5, None)
        .await
        .unwrap();
    assert_eq!(store.checkpoints(&b).await.unwrap(), vec![8]);
    let stored = store.load(&b).await.unwrap();
    assert_eq!(stored.snapshot.as_deref(), Some(&b"newer"[..]));
    assert_eq!(stored.updates, vec![vec![9], vec![10]]);
    assert_eq!(stored.last_seq, Some(10));
    // The same position again is the same document: written, and its summary recorded.
    let summary = BoardSummary {
        title: "Q3".into(),
        ..BoardSummary::default()
    };
    store
        .checkpoint(&b, b"newer".to_vec(), 8, Some(summary.clone()))
        .await
        .unwrap();
    assert_eq!(store.record(&b).await.unwrap().unwrap().summary, summary);
    assert_eq!(store.checkpoints(&b).await.unwrap(), vec![8]);
    // A checkpoint past the end of the log would hide later appends: an error.
    assert!(store
        .checkpoint(&b, b"future".to_vec(), 11, None)
        .await
        .is_err());

    // As of a position before the checkpoint, the log alone rebuilds it.
    let at = store.load_at(&b, 6).await.unwrap();
    assert_eq!(at.snapshot, None);
    assert_eq!(at.updates.len(), 6);
    assert_eq!(at.last_seq, Some(6));
}

#[tokio::test]
async fn history_reads_records_with_their_authors_and_thinning_is_refused_as_unsupported() {
    let redis = RedisServer::start();
    let store = RedisStore::open(&redis.url(), false).await.unwrap();
    let b = board("history");
    store.append(&b, &by("ana", &[b"a1", b"a2"])).await.unwrap();
    store.append(&b, &by("bob", &[b"b1"])).await.unwrap();
    store.append(&b, &by("ana", &[b"a3"])).await.unwrap();

    let newest = store
        .log(
            &b,
            LogQuery {
                limit: 2,
                newest_first: true,
                with_updates: true,
                ..LogQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(newest.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![4, 3]);
    assert_eq!(newest[0].update.as_deref(), Some(&b"a3"[..]));
    assert_eq!(newest[0].meta.authors[0].name, "ana");
    assert_eq!(newest[1].meta.authors[0].name, "bob");
    assert_eq!(newest[1].meta.role.as_deref(), Some("participant"));
    assert_eq!(newest[1].meta.conn, Some(7));
    assert_eq!(newest[1].meta.bytes, 2);
    let middle = store
        .log(
            &b,
            LogQuery {
                after: Some(1),
                through: Some(3),
                ..LogQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(middle.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2, 3]);

    let summary = UpdateMeta {
        time_ms: 2,
        first_ms: 1,
        authors: vec![Author {
            sub: "ana-id".into(),
            name: "ana".into(),
        }],
        role: None,
        conn: None,
        bytes: 4,
        updates: 2,
    };
    assert!(matches!(
        store
            .summarize(&b, &[1, 2], b"a1a2".to_vec(), summary)
            .await,
        Err(StoreError::Unsupported(_))
    ));

    let milestone = Milestone {
        id: "m1".into(),
        name: "after the workshop".into(),
        seq: 3,
        created_ms: 5,
        created_by: Author {
            sub: "ana-id".into(),
            name: "ana".into(),
        },
        kind: MilestoneKind::Named,
    };
    store.put_milestone(&b, &milestone).await.unwrap();
    assert_eq!(store.milestones(&b).await.unwrap(), vec![milestone]);
    assert!(store.remove_milestone(&b, "m1").await.unwrap());
    assert!(!store.remove_milestone(&b, "m1").await.unwrap());

    assert!(store.record(&b).await.unwrap().is_some());
    assert_eq!(store.list(None, 10).await.unwrap().len(), 1);
    store.delete(&b).await.unwrap();
    assert!(store.record(&b).await.unwrap().is_none());
    assert!(store.list(None, 10).await.unwrap().is_empty());
    let gone = store.load(&b).await.unwrap();
    assert!(gone.updates.is_empty() && gone.snapshot.is_none());
    assert_eq!(gone.last_seq, Some(5), "the deletion took a position");
    // A board created again continues after it: no version is reused.
    assert_eq!(store.append(&b, &by("cleo", &[b"c1"])).await.unwrap(), 6);
    let log = store.log(&b, LogQuery::default()).await.unwrap();
    assert_eq!(log.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![6]);
}

#[tokio::test]
async fn an_unreachable_redis_is_reported_at_once_rather_than_retried_for_minutes() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let refused = RedisStore::open(&format!("redis://127.0.0.1:{port}"), false)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(started.elapsed() < PATIENCE, "{:?}", started.elapsed());
    assert!(
        refused.contains(&format!("connecting to Redis at redis://127.0.0.1:{port}")),
        "{refused}"
    );
}

/// `GET /readyz`'s status.
async fn readiness(server: &TestServer) -> u16 {
    parcours_e2e::http_get(server.addr, "/readyz").await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_stops_broadcasts_closes_writers_and_their_edits_arrive_once_it_resumes() {
    use client_protocol::client::{Client, ClientOptions, Status};
    use yrs::{GetString, Text, Transact};

    let redis = RedisServer::start();
    let server = TestServer::start_on_redis(&redis.url(), |_| {}).await;
    let url = server.board_url("paused");
    let options = ClientOptions {
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        ..ClientOptions::default()
    };
    let writer = Client::connect(&url, options).await.unwrap();
    let observer = TestClient::connect(&url).await.unwrap();
    assert_eq!(readiness(&server).await, 200);

    redis.pause();
    let deadline = Instant::now() + PATIENCE;
    while readiness(&server).await != 503 {
        assert!(Instant::now() < deadline, "readiness never reported Redis");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let notes = writer.doc().get_or_insert_text("notes");
    notes.insert(
        &mut writer.doc().transact_mut(),
        0,
        "written while Redis was stopped",
    );
    // Not stored, so shown to no one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(observer.text("notes"), "");
    // The write times out and the board closes its connections with the storage code.
    let closed = tokio::time::timeout(
        PATIENCE,
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
    assert!(closed.is_ok(), "the writer was not closed with 4507");
    assert_eq!(observer.text("notes"), "");

    // Once Redis answers again, the writer's reconnect resends the edit and everyone gets it.
    redis.resume();
    let deadline = Instant::now() + PATIENCE * 2;
    loop {
        if let Ok(reader) = TestClient::connect(&url).await {
            if reader.text("notes") == "written while Redis was stopped" {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the edit never arrived after Redis resumed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(readiness(&server).await, 200);
    assert_eq!(
        notes.get_string(&writer.doc().transact()),
        "written while Redis was stopped"
    );
    writer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_on_three_servers_sharing_one_redis_see_each_others_edits_stock_js_included() {
    use parcours_e2e::node;
    node::ensure_installed();
    let redis = RedisServer::start();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(TestServer::start_on_redis(&redis.url(), |_| {}).await);
    }
    // A Rust participant on each server, and a stock JS one on each too.
    let mut rust = Vec::new();
    for server in &nodes {
        rust.push(
            TestClient::connect(&server.board_url("shared"))
                .await
                .unwrap(),
        );
    }
    let js: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(i, server)| {
            // Each also waits to see the stock participants of the other servers.
            let others: Vec<String> = (0..3)
                .filter(|j| *j != i)
                .map(|j| format!("js{j}"))
                .collect();
            let args = vec![
                server.boards_url(),
                "shared".into(),
                format!("js{i}"),
                "6".into(),
                others.join(","),
                "together".into(),
            ];
            tokio::spawn(async move { node::run("participant.mjs", &args).await })
        })
        .collect();
    for (i, client) in rust.iter().enumerate() {
        client.push("cards", &format!("rust{i}"));
    }
    for client in &rust {
        client
            .wait_for("all six cards, from every server", |c| cards(c) == 6)
            .await;
    }
    for run in js {
        let output = run.await.unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let shown: serde_json::Value =
            serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
        assert_eq!(shown["cards"].as_array().map(Vec::len), Some(6), "{shown}");
        assert_eq!(
            shown["peersSeen"],
            serde_json::json!(["js0", "js1", "js2"]),
            "{shown}"
        );
    }
    // Every server holds the same board.
    let expected = rust[0].state_vector();
    for client in &rust {
        assert_eq!(client.state_vector(), expected);
    }
    // And each counts what it showed from the others.
    for server in &nodes {
        let shown = counter(server, "parcours_remote_updates_total").await;
        assert!(shown >= 4, "{shown} updates from the other servers");
        assert!(
            counter(server, "parcours_follow_lag_seconds_count").await >= 4,
            "the stream lag is measured"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_of_the_server_a_writer_used_loses_nothing_a_participant_on_another_server_saw(
) {
    let redis = RedisServer::start();
    let data = tempfile::tempdir().unwrap();
    let doomed =
        ServerProcess::start_with_args(SERVER_BINARY, data.path(), &["--store", &redis.url()]);
    let other = TestServer::start_on_redis(&redis.url(), |_| {}).await;
    // The observer is on the other server: it sees the edits through Redis.
    let (writer_url, observer_url) = (doomed.board_url("spread"), other.board_url("spread"));
    let seen = doomed.kill_while_writing(&writer_url, &observer_url).await;

    // A newcomer on the surviving server, and a restarted one, hold everything that was seen.
    let newcomer = TestClient::connect(&other.board_url("spread"))
        .await
        .unwrap();
    newcomer.assert_holds_cards(&seen, "in the crash");
    let fresh = TestServer::start_on_redis(&redis.url(), |_| {}).await;
    let after = TestClient::connect(&fresh.board_url("spread"))
        .await
        .unwrap();
    after.assert_holds_cards(&seen, "after a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_on_two_servers_see_each_others_presence_and_its_removal() {
    let (_redis, first, second) = two_servers().await;
    let ana = TestClient::connect(&first.board_url("cursors"))
        .await
        .unwrap();
    let bo = TestClient::connect(&second.board_url("cursors"))
        .await
        .unwrap();
    ana.set_presence(r#"{"user":{"name":"Ana"},"cursor":{"x":1,"y":2}}"#);
    bo.set_presence(r#"{"user":{"name":"Bo"}}"#);
    for (who, client) in [("Ana", &ana), ("Bo", &bo)] {
        client
            .wait_for(&format!("{who} sees both, across servers"), |c| {
                let shown = c.presence();
                shown.values().any(|s| s.contains("Ana"))
                    && shown.values().any(|s| s.contains("Bo"))
            })
            .await;
    }
    // A newcomer on the second server is told of Ana at once.
    let cy = TestClient::connect(&second.board_url("cursors"))
        .await
        .unwrap();
    cy.wait_for("Ana's presence", |c| {
        c.presence().values().any(|s| s.contains("Ana"))
    })
    .await;
    // Ana's socket drops without a goodbye: her server removes her, and says so to the others.
    ana.drop_connection();
    bo.wait_for("Ana gone", |c| {
        !c.presence().values().any(|s| s.contains("Ana"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_participants_of_a_killed_server_vanish_from_the_others() {
    let redis = RedisServer::start();
    let data = tempfile::tempdir().unwrap();
    let doomed =
        ServerProcess::start_with_args(SERVER_BINARY, data.path(), &["--store", &redis.url()]);
    let other = TestServer::start_on_redis(&redis.url(), |_| {}).await;
    let ana = TestClient::connect(&doomed.board_url("crashing"))
        .await
        .unwrap();
    let bo = TestClient::connect(&other.board_url("crashing"))
        .await
        .unwrap();
    ana.set_presence(r#"{"user":{"name":"Ana"}}"#);
    bo.wait_for("Ana's presence from the other server", |c| {
        c.presence().values().any(|s| s.contains("Ana"))
    })
    .await;
    // No goodbye can come from a killed server: the others notice its heartbeats stop.
    doomed.kill_hard();
    let killed = Instant::now();
    bo.wait_for("Ana gone with her server", |c| {
        !c.presence().values().any(|s| s.contains("Ana"))
    })
    .await;
    let vanished_after = killed.elapsed();
    eprintln!("the killed server's participant vanished after {vanished_after:?}");
    // The promise to users (not a speed figure): heartbeats every 3 s, silence taken for a
    // crash after 9 s.
    assert!(
        vanished_after < Duration::from_secs(15),
        "{vanished_after:?} after the crash"
    );
    drop(ana);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_server_sends_its_participants_to_try_again_and_the_others_carry_on() {
    use client_protocol::client::{Client, ClientOptions, Status};
    let redis = RedisServer::start();
    let drained = TestServer::start_on_redis(&redis.url(), |_| {}).await;
    let other = TestServer::start_on_redis(&redis.url(), |_| {}).await;
    let writer = TestClient::connect(&drained.board_url("moving"))
        .await
        .unwrap();
    writer.push("cards", "written before the drain");
    let sdk = Client::connect(&drained.board_url("moving"), ClientOptions::default())
        .await
        .unwrap();
    let seen = TestClient::connect(&other.board_url("moving"))
        .await
        .unwrap();
    seen.wait_for("the card, through the other server", |c| cards(c) == 1)
        .await;

    let drain = reqwest::Client::new()
        .post(format!("http://{}/admin/drain", drained.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(drain.status(), 202);
    let told = tokio::time::timeout(
        PATIENCE,
        sdk.wait_for_status(|s| {
            matches!(
                s,
                Status::Disconnected {
                    code: Some(1013),
                    ..
                }
            )
        }),
    )
    .await;
    assert!(told.is_ok(), "the participant was not told to try again");
    assert_eq!(readiness(&drained).await, 503);
    assert!(TestClient::connect(&drained.board_url("moving"))
        .await
        .is_err());
    // Everything is still there, through the servers still in the cluster.
    let moved = TestClient::connect(&other.board_url("moving"))
        .await
        .unwrap();
    assert_eq!(cards(&moved), 1);
    assert_eq!(readiness(&other).await, 200);
    sdk.close().await;
}

/// Two servers sharing one Redis.
async fn two_servers() -> (RedisServer, TestServer, TestServer) {
    let redis = RedisServer::start();
    let first = TestServer::start_on_redis(&redis.url(), |_| {}).await;
    let second = TestServer::start_on_redis(&redis.url(), |_| {}).await;
    (redis, first, second)
}

/// Creates a board through `server`'s REST API.
async fn create_board(server: &TestServer, title: &str, id: &str) {
    let created = reqwest::Client::new()
        .post(server.http_url("/api/boards"))
        .json(&serde_json::json!({"title": title, "id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}

/// Sends one inline command to the Redis at `url` and returns its reply: an integer as `:N`,
/// a string as itself, an array as its elements, one per line.
fn redis_command(url: &str, command: &str) -> String {
    use std::io::{BufRead, BufReader, Write};
    fn reply(reader: &mut impl BufRead, out: &mut Vec<String>) {
        let mut line = String::new();
        reader.read_line(&mut line).expect("reply");
        let line = line.trim_end().to_owned();
        match line.split_at(1) {
            ("$", "-1") => {}
            ("$", len) => {
                let mut bulk = vec![0; len.parse::<usize>().expect("bulk length") + 2];
                reader.read_exact(&mut bulk).expect("bulk string");
                bulk.truncate(bulk.len() - 2);
                out.push(String::from_utf8_lossy(&bulk).into_owned());
            }
            ("*", count) => {
                for _ in 0..count.parse::<i64>().expect("array length").max(0) {
                    reply(reader, out);
                }
            }
            _ => out.push(line),
        }
    }
    let addr = url.trim_start_matches("redis://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to redis");
    stream
        .write_all(format!("{command}\r\n").as_bytes())
        .expect("send");
    let mut out = Vec::new();
    reply(&mut BufReader::new(stream), &mut out);
    out.join("\n")
}

/// How many servers follow a board on the Redis at `url`: subscribers to its presence channel,
/// and connections blocked reading a stream (every followed board's, on this Redis).
fn followers(url: &str, board: &str) -> (String, String) {
    let subscribed = redis_command(
        url,
        &format!("PUBSUB NUMSUB parcours:board:{{{board}}}:presence"),
    );
    let info = redis_command(url, "INFO clients");
    let blocked = info
        .lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .unwrap_or("?")
        .trim()
        .to_owned();
    (subscribed.lines().last().unwrap_or("").to_owned(), blocked)
}

/// A counter of a server's `/metrics`.
async fn counter(server: &TestServer, name: &str) -> u64 {
    let (status, metrics) = parcours_e2e::http_get(server.addr, "/metrics").await;
    assert_eq!(status, 200);
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stops_following_a_board_when_its_last_participant_leaves_and_catches_up_when_one_returns(
) {
    let (redis, first, second) = two_servers().await;
    let ana = TestClient::connect(&first.board_url("revisited"))
        .await
        .unwrap();
    let bo = TestClient::connect(&second.board_url("revisited"))
        .await
        .unwrap();
    bo.set_presence(r#"{"user":{"name":"Bo"}}"#);
    ana.wait_for("Bo's presence", |c| {
        c.presence().values().any(|s| s.contains("Bo"))
    })
    .await;
    assert_eq!(followers(&redis.url(), "revisited").0, ":2");
    assert_eq!(counter(&first, "parcours_boards_followed").await, 1);

    // Ana leaves: her server drops its subscription and its reads of the board's stream at once
    // (the board itself stays loaded for a while, in case someone comes back).
    ana.close().await;
    let deadline = Instant::now() + PATIENCE;
    while followers(&redis.url(), "revisited") != (":1".into(), "1".into())
        || counter(&first, "parcours_boards_followed").await != 0
    {
        assert!(
            Instant::now() < deadline,
            "still followed by both servers: {:?}",
            followers(&redis.url(), "revisited")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Meanwhile Bo writes; Cy comes to the first server and finds Bo's cards and Bo himself.
    let witness = TestClient::connect(&second.board_url("revisited"))
        .await
        .unwrap();
    for card in ["while away 1", "while away 2", "while away 3"] {
        bo.push("cards", card);
    }
    // Shown to another participant, so stored (Bo's own copy says nothing of that).
    witness
        .wait_for("Bo's cards stored", |c| cards(c) == 3)
        .await;
    let shown_before = counter(&first, "parcours_remote_updates_total").await;
    let cy = TestClient::connect(&first.board_url("revisited"))
        .await
        .unwrap();
    assert_eq!(cards(&cy), 3, "what was stored while nobody was here");
    assert!(
        counter(&first, "parcours_remote_updates_total").await >= shown_before + 3,
        "read from the stream by the loaded board, not reloaded"
    );
    cy.wait_for("Bo's presence, asked for on coming back", |c| {
        c.presence().values().any(|s| s.contains("Bo"))
    })
    .await;
    assert_eq!(followers(&redis.url(), "revisited").0, ":2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_seen_on_one_server_is_in_a_rest_read_on_another_at_once() {
    let (_redis, first, second) = two_servers().await;
    create_board(&first, "Read anywhere", "anywhere").await;
    let writer = TestClient::connect(&first.board_url("anywhere"))
        .await
        .unwrap();
    let witness = TestClient::connect(&first.board_url("anywhere"))
        .await
        .unwrap();
    // Someone on the second server too: it follows the board, reading as the stream grows.
    let _there = TestClient::connect(&second.board_url("anywhere"))
        .await
        .unwrap();
    for round in 0..10 {
        let title = format!("Title {round}");
        writer.set("meta", "title", &title);
        // Shown to the witness, so stored.
        witness
            .wait_for("the new title", |c| {
                c.map("meta")["title"] == title.as_str()
            })
            .await;
        let board: serde_json::Value = reqwest::get(second.http_url("/api/boards/anywhere"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            board["meta"]["title"],
            title.as_str(),
            "read on the other server"
        );
    }
}

/// Waits until a server's board listing gives `expected` as `board`'s `field`.
async fn listed(server: &TestServer, board: &str, field: &str, expected: serde_json::Value) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let listing: serde_json::Value = reqwest::get(server.http_url("/api/boards"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let listed = listing["boards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["id"] == board)
            .map(|b| b[field].clone());
        if listed.as_ref() == Some(&expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{field} listed as {listed:?}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_listing_on_any_server_counts_every_servers_participants_and_shows_the_board_as_it_is(
) {
    let (_redis, first, second) = two_servers().await;
    create_board(&first, "Counted", "counted").await;
    let ana = TestClient::connect(&first.board_url("counted"))
        .await
        .unwrap();
    let bo = TestClient::connect(&second.board_url("counted"))
        .await
        .unwrap();
    let cy = TestClient::connect(&second.board_url("counted"))
        .await
        .unwrap();
    listed(&first, "counted", "participants", 3.into()).await;
    listed(&second, "counted", "participants", 3.into()).await;
    // Bo and Cy leave: the second server stops following the board and says it has nobody.
    bo.close().await;
    cy.close().await;
    listed(&first, "counted", "participants", 1.into()).await;
    // Ana renames the board; the second server, which no longer has it loaded, lists the new
    // title (shared with the first server's heartbeats), well before the board unloads.
    ana.set("meta", "title", "Counted again");
    listed(&second, "counted", "title", "Counted again".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_redis_restarts_the_servers_go_on_sharing_edits_and_presence() {
    let (mut redis, first, second) = two_servers().await;
    let ana = TestClient::connect(&first.board_url("restarted"))
        .await
        .unwrap();
    let bo = TestClient::connect(&second.board_url("restarted"))
        .await
        .unwrap();
    ana.set_presence(r#"{"user":{"name":"Ana"}}"#);
    bo.wait_for("Ana's presence", |c| {
        c.presence().values().any(|s| s.contains("Ana"))
    })
    .await;

    redis.kill9();
    redis.restart_same_dir();

    // Both stay connected (nothing was written meanwhile), and the servers find each other
    // again: an edit and a move on one server reach the other.
    ana.push("cards", "after the restart");
    bo.wait_for("Ana's card, through the other server", |c| cards(c) == 1)
        .await;
    ana.set_presence(r#"{"user":{"name":"Ana"},"cursor":{"x":5,"y":5}}"#);
    bo.wait_for("Ana's cursor", |c| {
        c.presence().values().any(|s| s.contains("cursor"))
    })
    .await;
    bo.set_presence(r#"{"user":{"name":"Bo"}}"#);
    ana.wait_for("Bo's presence", |c| {
        c.presence().values().any(|s| s.contains("Bo"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_deleted_on_one_server_closes_its_participants_on_the_others_and_stays_deleted() {
    let (redis, first, second) = two_servers().await;
    let ana = TestClient::connect(&first.board_url("doomed"))
        .await
        .unwrap();
    ana.push("cards", "soon gone");
    let bo = TestClient::connect(&second.board_url("doomed"))
        .await
        .unwrap();
    bo.wait_for("Ana's card", |c| cards(c) == 1).await;
    let before = RedisStore::open(&redis.url(), false).await.unwrap();
    let old = before.load(&board("doomed")).await.unwrap();

    let deleted = reqwest::Client::new()
        .delete(first.http_url("/api/boards/doomed"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(ana.closed().await.map(|(code, _)| code), Some(4410));
    assert_eq!(
        bo.closed().await.map(|(code, _)| code),
        Some(4410),
        "told on the other server too"
    );
    // A server that had not heard yet writes the checkpoint it was writing: refused.
    before
        .checkpoint(
            &board("doomed"),
            b"the deleted board".to_vec(),
            old.last_seq.unwrap(),
            None,
        )
        .await
        .unwrap();
    assert!(before.record(&board("doomed")).await.unwrap().is_none());
    // Created again on the other server, it is a new, empty board everywhere.
    let cy = TestClient::connect(&second.board_url("doomed"))
        .await
        .unwrap();
    cy.push("cards", "a new start");
    let dee = TestClient::connect(&first.board_url("doomed"))
        .await
        .unwrap();
    dee.wait_for("only the new card", |c| {
        strings(c.array("cards")) == ["a new start"]
    })
    .await;
    assert!(cy.is_open_after(Duration::from_millis(300)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_fell_behind_a_trimmed_stream_reloads_the_board_and_a_newcomer_gets_all_of_it(
) {
    use yrs::updates::decoder::Decode;
    use yrs::{Array, Doc, ReadTxn, StateVector, Transact, Update};
    let redis = RedisServer::start();
    let server = TestServer::start_on_redis(&redis.url(), |_| {}).await;
    let ana = TestClient::connect(&server.board_url("far-behind"))
        .await
        .unwrap();
    ana.push("cards", "before");
    ana.close().await;

    // Another server writes 12,000 edits and checkpoints twice, trimming the stream past what
    // this one read (it stopped reading when Ana left; the board is still loaded here).
    let other = RedisStore::open(&redis.url(), false).await.unwrap();
    let b = board("far-behind");
    let doc = Doc::new();
    let stored = other.load(&b).await.unwrap();
    assert!(stored.last_seq.is_some(), "Ana's card is stored");
    {
        let mut txn = doc.transact_mut();
        for update in stored.snapshot.iter().chain(&stored.updates) {
            txn.apply_update(Update::decode_v1(update).unwrap())
                .unwrap();
        }
    }
    let cards_array = doc.get_or_insert_array("cards");
    let state = |doc: &Doc| {
        doc.transact()
            .encode_state_as_update_v1(&StateVector::default())
    };
    for round in 0..12 {
        let mut updates = Vec::new();
        for i in 0..1000 {
            let before = doc.transact().state_vector();
            cards_array.push_back(&mut doc.transact_mut(), format!("away {round}-{i}"));
            updates.push(doc.transact().encode_state_as_update_v1(&before));
        }
        let refs: Vec<&[u8]> = updates.iter().map(Vec::as_slice).collect();
        let last = other.append(&b, &by("bo", &refs)).await.unwrap();
        if round == 0 || round == 11 {
            other.checkpoint(&b, state(&doc), last, None).await.unwrap();
        }
    }
    let kept = redis_command(
        &redis.url(),
        "XRANGE parcours:board:{far-behind}:log - + COUNT 1",
    );
    assert!(!kept.starts_with("1-"), "the stream was trimmed: {kept}");

    // Cy comes to this server: it finds it cannot catch up, and serves her the whole board from
    // the newest checkpoint instead.
    let cy = TestClient::connect(&server.board_url("far-behind"))
        .await
        .unwrap();
    assert_eq!(cards(&cy), 12_001);
}

#[tokio::test]
async fn one_server_at_a_time_holds_a_boards_checkpoint_lease_and_a_paused_one_is_refused() {
    let redis = RedisServer::start();
    // Two servers' stores on one Redis.
    let first = RedisStore::open(&redis.url(), false).await.unwrap();
    let second = RedisStore::open(&redis.url(), false).await.unwrap();
    let b = board("leased");
    let updates: Vec<Vec<u8>> = (1..=20u8).map(|i| vec![i]).collect();
    let refs: Vec<&[u8]> = updates.iter().map(Vec::as_slice).collect();
    first.append(&b, &by("ana", &refs)).await.unwrap();

    assert!(first.claim_checkpoint(&b).await.unwrap());
    assert!(!second.claim_checkpoint(&b).await.unwrap());
    assert!(
        first.claim_checkpoint(&b).await.unwrap(),
        "renewed by its holder"
    );
    first
        .checkpoint(&b, b"first at 10".to_vec(), 10, None)
        .await
        .unwrap();

    // The first server stalls (paused) until its lease runs out; the second takes over.
    let dropped = redis_command(&redis.url(), "DEL parcours:board:{leased}:checkpoint_lease");
    assert_eq!(dropped, ":1");
    assert!(second.claim_checkpoint(&b).await.unwrap());
    second
        .checkpoint(&b, b"second at 18".to_vec(), 18, None)
        .await
        .unwrap();
    // The paused server wakes up: it no longer holds the lease, and what it had begun to write
    // (older than the newest) is refused.
    assert!(!first.claim_checkpoint(&b).await.unwrap());
    first
        .checkpoint(&b, b"first at 15".to_vec(), 15, None)
        .await
        .unwrap();
    assert_eq!(first.checkpoints(&b).await.unwrap(), vec![10, 18]);
    let stored = first.load(&b).await.unwrap();
    assert_eq!(stored.snapshot.as_deref(), Some(&b"second at 18"[..]));
    assert_eq!(stored.updates, vec![vec![19], vec![20]]);
}

#[tokio::test]
async fn the_stream_stays_bounded_behind_its_checkpoints_and_trimmed_versions_are_refused() {
    let redis = RedisServer::start();
    let store = RedisStore::open(&redis.url(), false).await.unwrap();
    let b = board("bounded");
    let stream_length = || redis_command(&redis.url(), "XLEN parcours:board:{bounded}:log");
    // 25,000 one-byte updates, with a checkpoint every 5,000 as a server would write them.
    let updates: Vec<Vec<u8>> = (0..1000).map(|i| vec![(i % 250) as u8]).collect();
    let refs: Vec<&[u8]> = updates.iter().map(Vec::as_slice).collect();
    for round in 1..=25u64 {
        let last = store.append(&b, &by("ana", &refs)).await.unwrap();
        assert_eq!(last, round * 1000);
        if last % 5000 == 0 {
            store
                .checkpoint(&b, format!("state at {last}").into_bytes(), last, None)
                .await
                .unwrap();
        }
    }
    // Trimmed below the newest checkpoint at least 10,000 records behind the newest one.
    assert_eq!(stream_length(), ":10000");
    assert_eq!(
        store.checkpoints(&b).await.unwrap(),
        vec![15000, 20000, 25000]
    );
    // The board, and versions from the kept checkpoints on, still load.
    let now = store.load(&b).await.unwrap();
    assert_eq!(now.snapshot.as_deref(), Some(&b"state at 25000"[..]));
    assert_eq!(now.last_seq, Some(25000));
    let then = store.load_at(&b, 16_500).await.unwrap();
    assert_eq!(then.snapshot.as_deref(), Some(&b"state at 15000"[..]));
    assert_eq!(then.updates.len(), 1500);
    // Older ones are refused rather than rebuilt wrong.
    assert!(matches!(
        store.load_at(&b, 9_000).await,
        Err(parcours_server::storage::StoreError::Unsupported(_))
    ));
}
