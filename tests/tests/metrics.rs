//! `GET /metrics` reflects what the server does.

use parcours_e2e::{http_get, TestClient, TestServer, PATIENCE};

/// The value of one sample line (`name{labels} value`), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_count_connections_stored_changes_latency_and_closes_by_code() {
    let server = TestServer::start().await;
    let url = server.board_url("observed");
    let alice = TestClient::connect(&url).await.unwrap();
    let bob = TestClient::connect(&url).await.unwrap();
    for i in 0..5 {
        alice.push("cards", &format!("card {i}"));
    }
    bob.wait_for("five cards", |c| c.array_len("cards") == 5)
        .await;
    let mallory = TestClient::connect(&url).await.unwrap();
    mallory.send_text("not the protocol");
    assert_eq!(mallory.closed().await.map(|(code, _)| code), Some(1003));

    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (status, text) = http_get(server.addr, "/metrics").await;
        assert_eq!(status, 200);
        let ready = sample(&text, "parcours_connections") == Some(2.0)
            && sample(&text, "parcours_closes_total{code=\"1003\"}") == Some(1.0);
        if ready {
            assert_eq!(sample(&text, "parcours_boards_loaded"), Some(1.0));
            assert!(sample(&text, "parcours_updates_stored_total").unwrap() >= 5.0);
            assert!(sample(&text, "parcours_persist_seconds_count").unwrap() >= 1.0);
            assert!(sample(&text, "parcours_frames_in_total").unwrap() >= 5.0);
            assert!(sample(&text, "parcours_frames_out_total").unwrap() >= 5.0);
            assert!(sample(&text, "parcours_refused_messages_total").unwrap() >= 1.0);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "metrics never settled:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
