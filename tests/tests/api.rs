//! The board REST API: creation from templates, reading, exports, checks, the map, deletion, and
//! its answers to bad input.

use client_protocol::schema::Board;
use parcours_e2e::{node, TestClient, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn api(server: &TestServer, path: &str) -> String {
    server.http_url(&format!("/api{path}"))
}

async fn create(server: &TestServer, body: Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(api(server, "/boards"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn get_json(url: &str) -> (StatusCode, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_stock_js_client_edits_cards_through_the_schema_and_the_exports_show_them() {
    let server = TestServer::start().await;
    let (status, created) = create(
        &server,
        json!({"title": "Checkout journey", "id": "checkout"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["websocketPath"], "/boards/checkout");

    let output = node::run(
        "schema_client.mjs",
        &[server.boards_url(), "checkout".into()],
    )
    .await;
    let ids: Value = serde_json::from_slice(output.stdout.trim_ascii()).unwrap();

    let (status, board) = get_json(&api(&server, "/boards/checkout/export?format=json")).await;
    assert_eq!(status, StatusCode::OK);
    let board: Board = serde_json::from_value(board).unwrap();
    let card = board
        .card(ids["card"].as_str().unwrap())
        .expect("the JS card");
    assert_eq!(card.text, "Surprise: Hidden delivery fees");
    assert_eq!(card.stage, ids["nextStage"].as_str().unwrap(), "moved");
    assert_eq!(card.lane, ids["lane"].as_str().unwrap());
    assert_eq!(card.vote_total(), 2);
    assert_eq!(
        board.stage(ids["stage"].as_str().unwrap()).unwrap().emotion,
        Some(-1)
    );
    assert_eq!(board.meta.title, "Checkout journey");

    let markdown = reqwest::get(api(&server, "/boards/checkout/export?format=markdown"))
        .await
        .unwrap();
    assert!(markdown.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/markdown"));
    let markdown = markdown.text().await.unwrap();
    assert!(markdown.contains("Hidden delivery fees"), "{markdown}");
    assert!(markdown.contains("Too many steps at checkout"));

    let csv = reqwest::get(api(&server, "/boards/checkout/export?format=csv"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let texts: Vec<String> = rows
        .records()
        .map(|r| r.unwrap().get(4).unwrap().to_owned())
        .collect();
    assert!(
        texts.contains(&"Surprise: Hidden delivery fees".to_owned()),
        "{csv}"
    );

    let (status, lint) = get_json(&api(&server, "/boards/checkout/lint")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lint["errors"], 0, "{lint}");
}

#[tokio::test]
async fn every_template_creates_a_board_that_passes_the_check_in_both_languages() {
    let server = TestServer::start().await;
    for lang in ["en", "fr"] {
        let (status, templates) = get_json(&api(&server, &format!("/templates?lang={lang}"))).await;
        assert_eq!(status, StatusCode::OK);
        let templates = templates.as_array().unwrap().clone();
        assert!(templates.len() >= 7);
        for template in templates {
            let id = format!("{}-{lang}", template["id"].as_str().unwrap());
            let (status, created) = create(
                &server,
                json!({"title": format!("Board {id}"), "template": template["id"], "lang": lang,
                       "id": id, "persona": {"name": "Camille", "ageRange": "35-44"}}),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            let (_, lint) = get_json(&api(&server, &format!("/boards/{id}/lint"))).await;
            assert_eq!(lint["problems"], json!([]), "{id}: {lint}");
            let (_, board) = get_json(&api(&server, &format!("/boards/{id}"))).await;
            assert_eq!(board["meta"]["lang"], lang);
            assert_eq!(board["personas"][0]["name"], "Camille");
            let stage_names: Vec<&str> = board["stages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap())
                .collect();
            let expected: Vec<&str> = template["stages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect();
            assert_eq!(stage_names, expected, "{id}");
        }
    }
}

#[tokio::test]
async fn the_map_is_well_formed_svg_with_every_stage_and_an_emotion_curve_and_escaped_text() {
    let server = TestServer::start().await;
    create(&server, json!({"title": "Map <b>&</b>", "id": "map"})).await;
    let client = TestClient::connect(&server.board_url("map")).await.unwrap();
    let (_, board) = get_json(&api(&server, "/boards/map")).await;
    let stage = board["stages"][0]["id"].as_str().unwrap().to_owned();
    let lane = board["lanes"][0]["id"].as_str().unwrap().to_owned();
    let cards = client.with_doc(|doc| doc.get_or_insert_map("cards"));
    let stages = client.with_doc(|doc| doc.get_or_insert_map("stages"));
    let evil = format!(
        "<script>alert(1)</script> & \"x\" {}",
        "long ".repeat(50_000)
    );
    client.edit(|txn| {
        use yrs::{Map, MapPrelim, TextPrelim};
        let card = cards.insert(txn, "evil", MapPrelim::default());
        card.insert(txn, "stage", stage.as_str());
        card.insert(txn, "lane", lane.as_str());
        card.insert(txn, "text", TextPrelim::new(evil.as_str()));
        card.insert(txn, "position", 1.0);
        if let Some(yrs::Out::YMap(s)) = stages.get(txn, &stage) {
            s.insert(txn, "emotion", 2);
        }
    });
    let witness = TestClient::connect(&server.board_url("map")).await.unwrap();
    witness
        .wait_for("the card", |c| c.map("cards").get("evil").is_some())
        .await;

    let response = reqwest::get(api(&server, "/boards/map/map.svg"))
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let svg = response.text().await.unwrap();
    assert!(svg.len() < 5_000_000, "bounded: {} bytes", svg.len());
    assert!(!svg.contains("<script>"), "card text is escaped");
    let xml = roxmltree::Document::parse(&svg).expect("well-formed XML");
    let text: String = xml.descendants().filter_map(|n| n.text()).collect();
    for stage in board["stages"].as_array().unwrap() {
        assert!(
            text.contains(stage["name"].as_str().unwrap()),
            "stage {stage}"
        );
    }
    assert!(
        xml.descendants().any(|n| n
            .attribute("class")
            .is_some_and(|c| c.contains("emotion-curve"))),
        "an emotion curve"
    );
    assert!(
        text.contains("Map <b>&</b>"),
        "the title, unescaped as text"
    );
}

#[tokio::test]
async fn deleting_a_board_closes_its_participants_and_removes_it() {
    let server = TestServer::start().await;
    create(&server, json!({"title": "Short-lived", "id": "gone"})).await;
    let participant = TestClient::connect(&server.board_url("gone"))
        .await
        .unwrap();
    let response = reqwest::Client::new()
        .delete(api(&server, "/boards/gone"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(participant.closed().await.map(|(code, _)| code), Some(4410));
    assert_eq!(
        get_json(&api(&server, "/boards/gone")).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, listing) = get_json(&api(&server, "/boards")).await;
    assert_eq!(listing["boards"], json!([]));
    // The id can be used again, for a new, empty board.
    let (status, _) = create(&server, json!({"title": "Again", "id": "gone"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, board) = get_json(&api(&server, "/boards/gone")).await;
    assert_eq!(board["meta"]["title"], "Again");
    assert_eq!(board["cards"], json!([]));
}

#[tokio::test]
async fn boards_are_listed_in_pages_with_live_participants() {
    // On one server: another server's participants are counted as it last reported them (every
    // 3 s; `redis_store.rs` tells that story).
    let server = TestServer::start_alone_with(|_| {}).await;
    for i in 0..5 {
        create(
            &server,
            json!({"title": format!("Board {i}"), "id": format!("b{i}")}),
        )
        .await;
    }
    let _here = TestClient::connect(&server.board_url("b1")).await.unwrap();
    let (_, first) = get_json(&api(&server, "/boards?limit=2")).await;
    assert_eq!(first["boards"].as_array().unwrap().len(), 2);
    assert_eq!(first["boards"][0]["id"], "b0");
    assert_eq!(first["boards"][1]["title"], "Board 1");
    assert_eq!(first["boards"][1]["participants"], 1);
    assert_eq!(first["boards"][1]["journeyType"], "custom");
    let next = first["next"].as_str().unwrap();
    let (_, second) = get_json(&api(&server, &format!("/boards?limit=2&after={next}"))).await;
    assert_eq!(second["boards"][0]["id"], "b2");
    let (_, last) = get_json(&api(&server, "/boards?limit=2&after=b3")).await;
    assert_eq!(last["boards"].as_array().unwrap().len(), 1);
    assert!(last.get("next").is_none());
}

#[tokio::test]
async fn bad_api_input_gets_the_documented_errors() {
    let server = TestServer::start().await;
    let http = reqwest::Client::new();
    let post = |body: String, content_type: &'static str| {
        http.post(api(&server, "/boards"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(reqwest::Response, StatusCode, &str)> = vec![
        (
            post("{not json".into(), "application/json").await.unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            post(r#"{"title": "x"}"#.into(), "text/plain")
                .await
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            post(r#"{"title": 5}"#.into(), "application/json")
                .await
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            post(r#"{"title": ""}"#.into(), "application/json")
                .await
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            post(
                r#"{"title": "x", "template": "nope"}"#.into(),
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_template",
        ),
        (
            post(r#"{"title": "x", "lang": "de"}"#.into(), "application/json")
                .await
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_lang",
        ),
        (
            post(
                r#"{"title": "x", "id": "bad id"}"#.into(),
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_board_id",
        ),
        (
            post(
                format!(r#"{{"title": "{}"}}"#, "x".repeat(400_000)),
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            http.get(api(&server, "/boards/missing"))
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
            "board_not_found",
        ),
        (
            http.get(api(&server, "/boards/bad%20id/lint"))
                .send()
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_board_id",
        ),
        (
            http.get(api(&server, "/boards?limit=0"))
                .send()
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            http.get(api(&server, "/boards?limit=abc"))
                .send()
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            http.get(api(&server, "/templates?lang=xx"))
                .send()
                .await
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_lang",
        ),
        (
            http.delete(api(&server, "/boards/missing"))
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
            "board_not_found",
        ),
    ];
    for (response, status, code) in cases {
        let url = response.url().to_string();
        assert_eq!(response.status(), status, "{url}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], code, "{url}: {body}");
        assert!(body["detail"].is_string());
    }
    create(&server, json!({"title": "Once", "id": "once"})).await;
    let (status, body) = create(&server, json!({"title": "Twice", "id": "once"})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("board_exists"))
    );
    let response = http
        .get(api(&server, "/boards/once/export?format=pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_openapi_document_describes_every_api_route() {
    let server = TestServer::start().await;
    let (status, doc) = get_json(&api(&server, "/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/templates",
        "/api/boards",
        "/api/boards/{board_id}",
        "/api/boards/{board_id}/export",
        "/api/boards/{board_id}/lint",
        "/api/boards/{board_id}/map.svg",
        "/api/boards/{board_id}/tokens",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["paths"]["/api/boards"]["post"].is_object());
    // Every route needs the bearer credential on a locked server, but the templates.
    assert_eq!(doc["security"][0]["bearer"], serde_json::json!([]));
    assert_eq!(
        doc["paths"]["/api/templates"]["get"]["security"],
        serde_json::json!([{}])
    );
    assert!(doc["paths"]["/api/boards/{board_id}"]["delete"].is_object());
}
