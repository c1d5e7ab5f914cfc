//! `parcours fsck`, `backup` and `restore` on real data directories, and a corrupt board that is
//! quarantined while the others keep working.

use parcours_e2e::{TestClient, TestServer};
use serde_json::{json, Value};
use tokio::process::Command;

const PARCOURS: &str = env!("CARGO_BIN_EXE_parcours-under-test");

async fn parcours(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(PARCOURS).args(args).output().await.unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Restores a backup file into a fresh directory with `parcours restore`.
async fn restore_into_a_new_directory(backup: &std::path::Path) -> tempfile::TempDir {
    let restored = tempfile::tempdir().unwrap();
    let (ok, _, err) = parcours(&[
        "restore",
        restored.path().to_str().unwrap(),
        backup.to_str().unwrap(),
    ])
    .await;
    assert!(ok, "{err}");
    restored
}

/// Writes one card to each board through a running server on `dir`, then stops it.
async fn boards_in(dir: &std::path::Path, boards: &[&str]) {
    let server = TestServer::start_in(dir).await;
    for board in boards {
        let client = TestClient::connect(&server.board_url(board)).await.unwrap();
        client.push("cards", &format!("card of {board}"));
        let witness = TestClient::connect(&server.board_url(board)).await.unwrap();
        witness
            .wait_for("the card", |c| c.array_len("cards") == 1)
            .await;
    }
    server.stop().await;
}

#[tokio::test]
async fn fsck_backup_and_restore_carry_every_board_to_a_new_directory() {
    let data = tempfile::tempdir().unwrap();
    boards_in(data.path(), &["alpha", "beta", "gamma"]).await;
    let dir = data.path().to_str().unwrap();

    let (ok, out, err) = parcours(&["fsck", dir, "--json"]).await;
    assert!(ok, "{err}");
    let checks: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(checks.len(), 3);
    assert!(checks.iter().all(|c| c["status"] == "ok"), "{out}");

    let backup = data.path().join("boards.jsonl");
    let (ok, _, err) = parcours(&["backup", dir, backup.to_str().unwrap()]).await;
    assert!(ok, "{err}");
    let restored = restore_into_a_new_directory(&backup).await;

    let server = TestServer::start_in(restored.path()).await;
    for board in ["alpha", "beta", "gamma"] {
        let client = TestClient::connect(&server.board_url(board)).await.unwrap();
        assert_eq!(client.array("cards"), json!([format!("card of {board}")]));
    }
    server.stop().await;
}

#[tokio::test]
async fn a_corrupt_board_is_quarantined_and_reported_while_the_others_keep_working() {
    let data = tempfile::tempdir().unwrap();
    boards_in(data.path(), &["good", "bad"]).await;
    {
        // A log record, after the board's snapshot, that is not an update.
        let db = sled::open(data.path()).unwrap();
        let log = db.open_tree("board_updates").unwrap();
        let mut key = b"bad\0".to_vec();
        key.extend((u64::MAX - 1).to_be_bytes());
        log.insert(key, vec![0xff, 0xff, 0xff]).unwrap();
        db.flush().unwrap();
    }
    let dir = data.path().to_str().unwrap();
    let (ok, out, _) = parcours(&["fsck", dir, "--json"]).await;
    assert!(!ok, "fsck fails when a board is corrupt");
    let checks: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let status =
        |board: &str| checks.iter().find(|c| c["board"] == board).unwrap()["status"].clone();
    assert_eq!(status("bad"), "corrupt");
    assert_eq!(status("good"), "ok");

    let server = TestServer::start_in(data.path()).await;
    let refused = TestClient::connect(&server.board_url("bad"))
        .await
        .err()
        .expect("refused");
    let refused = format!("{refused:#}");
    assert!(refused.contains("4503"), "{refused}");
    let good = TestClient::connect(&server.board_url("good"))
        .await
        .unwrap();
    assert_eq!(good.array("cards"), json!(["card of good"]));
    good.push("cards", "still writable");
    let witness = TestClient::connect(&server.board_url("good"))
        .await
        .unwrap();
    witness
        .wait_for("the new card", |c| c.array_len("cards") == 2)
        .await;
    server.stop().await;

    // The backup keeps everything readable, salvages the corrupt board's readable records (its
    // snapshot holds the card), and says so.
    let backup = data.path().join("salvage.jsonl");
    let (ok, _, err) = parcours(&["backup", dir, backup.to_str().unwrap()]).await;
    assert!(!ok, "a salvage is reported as a failure");
    assert!(err.contains("bad"), "{err}");
    let text = std::fs::read_to_string(&backup).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    let record = |board: &str| {
        records
            .iter()
            .find(|r| r["board"] == board)
            .unwrap()
            .clone()
    };
    assert_eq!(record("good")["salvaged"], false);
    assert_eq!(record("bad")["salvaged"], true);
    let restored = restore_into_a_new_directory(&backup).await;
    let server = TestServer::start_in(restored.path()).await;
    let salvaged = TestClient::connect(&server.board_url("bad")).await.unwrap();
    assert_eq!(salvaged.array("cards"), json!(["card of bad"]));
    server.stop().await;
}
