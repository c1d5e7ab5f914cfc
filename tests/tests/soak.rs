//! The soak test: a thousand connections on many boards, random edits and random disconnects,
//! then convergence, durability across a restart, and memory back near its baseline.
//!
//! Not part of the default run (it takes a few minutes and wants a release build):
//!
//! ```sh
//! cargo test --release -p parcours-e2e --test soak -- --ignored --nocapture
//! ```
//!
//! `SOAK_SECONDS` (default 60), `SOAK_BOARDS` (50) and `SOAK_CLIENTS_PER_BOARD` (20) size it. It
//! prints its figures as one JSON line.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parcours_e2e::{Rng, ServerProcess, TestClient};
use serde_json::{json, Value};

const SERVER_BINARY: &str = env!("CARGO_BIN_EXE_parcours-under-test");

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak test: cargo test --release -p parcours-e2e --test soak -- --ignored --nocapture"]
async fn soak_a_thousand_connections_with_random_edits_and_disconnects() {
    let seconds = setting("SOAK_SECONDS", 60);
    let boards = setting("SOAK_BOARDS", 50);
    let per_board = setting("SOAK_CLIENTS_PER_BOARD", 20);
    let data = tempfile::tempdir().unwrap();
    let server =
        ServerProcess::start_with_args(SERVER_BINARY, data.path(), &["--unload-after-secs", "2"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline_rss = server.rss_bytes();
    let url = |board: u64| server.board_url(&format!("soak-{board}"));

    let edits = Arc::new(AtomicU64::new(0));
    let reconnects = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for board in 0..boards {
        for client in 0..per_board {
            let (url, edits, reconnects) = (url(board), edits.clone(), reconnects.clone());
            workers.push(tokio::spawn(async move {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (board << 20 | client));
                let mut connection = TestClient::connect(&url).await.expect("connect");
                let mut n = 0;
                while Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(300 + rng.below(1400))).await;
                    if rng.next_u64().is_multiple_of(20) {
                        // A participant's Wi-Fi drops: the socket vanishes without a goodbye.
                        connection.drop_connection();
                        reconnects.fetch_add(1, Ordering::Relaxed);
                        connection = TestClient::connect(&url).await.expect("reconnect");
                    }
                    connection.push("cards", &format!("{board}-{client}-{n}"));
                    n += 1;
                    edits.fetch_add(1, Ordering::Relaxed);
                }
                connection
            }));
        }
    }
    let mut peak_rss = baseline_rss;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        peak_rss = peak_rss.max(server.rss_bytes());
    }
    let mut clients: BTreeMap<u64, Vec<TestClient>> = BTreeMap::new();
    for (i, worker) in workers.into_iter().enumerate() {
        clients
            .entry(i as u64 / per_board)
            .or_default()
            .push(worker.await.unwrap());
    }
    peak_rss = peak_rss.max(server.rss_bytes());

    // Every board converged for every client still connected, and for a newcomer.
    let converging = Instant::now();
    let mut stored: BTreeMap<u64, Value> = BTreeMap::new();
    for (board, connected) in &clients {
        let newcomer = TestClient::connect(&url(*board)).await.unwrap();
        // Quiet now: what the newcomer has is the board.
        let expected = newcomer.array("cards");
        let len = expected.as_array().unwrap().len() as u32;
        for client in connected {
            client
                .wait_for("convergence", |c| c.array_len("cards") == len)
                .await;
            assert_eq!(client.array("cards"), expected, "board {board} diverged");
        }
        stored.insert(*board, expected);
    }
    let convergence_ms = converging.elapsed().as_millis();
    let stored_edits: usize = stored.values().map(|v| v.as_array().unwrap().len()).sum();

    // Everyone leaves; every board unloads; memory should come back down.
    drop(clients);
    let unloading = Instant::now();
    let boards_loaded = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (_, body) = parcours_e2e::http_get(server.addr, "/readyz").await;
        let loaded = serde_json::from_str::<Value>(&body).unwrap()["boards_loaded"]
            .as_u64()
            .unwrap();
        if loaded == 0 || unloading.elapsed() > Duration::from_secs(30) {
            break loaded;
        }
    };
    assert_eq!(
        boards_loaded, 0,
        "every board unloads once everyone has left"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_rss = server.rss_bytes();

    // Nothing lost across a restart.
    let status = server.terminate();
    assert!(status.success());
    let server = ServerProcess::start(SERVER_BINARY, data.path());
    for (board, expected) in &stored {
        let client = TestClient::connect(&server.board_url(&format!("soak-{board}")))
            .await
            .unwrap();
        assert_eq!(
            &client.array("cards"),
            expected,
            "board {board} lost edits in the restart"
        );
    }

    let mb = |b: u64| b as f64 / 1_048_576.0;
    let figures = json!({
        "connections": boards * per_board,
        "boards": boards,
        "seconds": seconds,
        "edits_sent": edits.load(Ordering::Relaxed),
        "edits_stored": stored_edits,
        "reconnects": reconnects.load(Ordering::Relaxed),
        "convergence_check_ms": convergence_ms,
        "rss_baseline_mb": mb(baseline_rss),
        "rss_peak_mb": mb(peak_rss),
        "rss_after_everyone_left_mb": mb(after_rss),
    });
    println!("{figures}");
    // A leak would keep what the load took; allow the allocator to keep some of it.
    let grown = after_rss.saturating_sub(baseline_rss);
    let load = peak_rss.saturating_sub(baseline_rss).max(1);
    assert!(
        grown <= load / 2 + 16 * 1_048_576,
        "memory did not come back: {figures}"
    );
}
