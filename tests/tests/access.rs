//! Who may open boards and call the API: open servers, tokens on the upgrade (query and header),
//! refusals before the upgrade, expiry while connected, browser origins, the API's roles, token
//! issuance, the command line, and logs that never show a secret.

use parcours_e2e::access::{self, requiring_tokens, token, ADMIN_KEY};
use parcours_e2e::{ServerProcess, TestClient, TestServer, PATIENCE};
use parcours_server::auth::{now_secs, AdminKey, Claims, Role};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Error as WsError;

const PARCOURS: &str = env!("CARGO_BIN_EXE_parcours-under-test");

fn with_token(url: &str, token: &str) -> String {
    format!("{url}?token={token}")
}

/// A board upgrade request with optional `Authorization` and `Origin` headers.
fn upgrade_request(
    url: &str,
    bearer: Option<&str>,
    origin: Option<&str>,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = url.into_client_request().unwrap();
    if let Some(bearer) = bearer {
        let value = HeaderValue::from_str(&format!("Bearer {bearer}")).unwrap();
        request.headers_mut().insert("authorization", value);
    }
    if let Some(origin) = origin {
        let value = HeaderValue::from_str(origin).unwrap();
        request.headers_mut().insert("origin", value);
    }
    request
}

/// Whether the server answers the upgrade with 101.
async fn upgrades(
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
) -> Result<(), String> {
    match tokio_tungstenite::connect_async(request).await {
        Ok((mut ws, response)) => {
            assert_eq!(response.status(), 101);
            let _ = ws.close(None).await;
            Ok(())
        }
        Err(error) => Err(error.to_string()),
    }
}

/// How the server refused an upgrade: status, JSON body, `WWW-Authenticate`.
async fn refusal(request: impl IntoClientRequest + Unpin) -> (StatusCode, Value, Option<String>) {
    match tokio_tungstenite::connect_async(request).await {
        Err(WsError::Http(response)) => {
            let body: Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                    .expect("a JSON error body");
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            (
                StatusCode::from_u16(response.status().as_u16()).unwrap(),
                body,
                challenge,
            )
        }
        Ok(_) => panic!("the upgrade was accepted"),
        Err(other) => panic!("unexpected failure: {other}"),
    }
}

/// An API call with an optional bearer credential: status and JSON body (`null` if none).
async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().request(method, server.http_url(path));
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn create_board(server: &TestServer, id: &str) {
    let (status, body) = call(
        server,
        Method::POST,
        "/api/boards",
        Some(ADMIN_KEY),
        Some(json!({"title": "Q3 onboarding", "id": id})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_server_without_a_key_is_open_to_anyone_on_sockets_and_the_api() {
    let server = TestServer::start().await;
    let url = server.board_url("open");
    let writer = TestClient::connect(&url).await.unwrap();
    let reader = TestClient::connect(&url).await.unwrap();
    writer.push("notes", "no token needed");
    reader
        .wait_for("the edit", |c| c.array_len("notes") == 1)
        .await;

    let (status, body) = call(
        &server,
        Method::POST,
        "/api/boards",
        None,
        Some(json!({"title": "Open", "id": "open-api"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = call(&server, Method::GET, "/api/boards", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&server, Method::DELETE, "/api/boards/open-api", None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_locked_board_refuses_missing_forged_expired_and_misdirected_tokens_before_the_upgrade() {
    let server = TestServer::start_with(requiring_tokens).await;
    let url = server.board_url("q3");
    let forger: AdminKey = "another key of at least thirty-two bytes, not the server's"
        .parse()
        .unwrap();
    let forged = forger
        .issue(&Claims::lasting(
            "q3".into(),
            Role::Owner,
            "p-1".into(),
            String::new(),
            600,
        ))
        .unwrap();
    let mut old = Claims::lasting("q3".into(), Role::Owner, "p-1".into(), String::new(), 0);
    old.exp = now_secs() - 120;
    let expired = access::signed(&old);

    let cases = [
        (url.clone(), 401, "token_required"),
        (with_token(&url, &forged), 401, "token_invalid"),
        (with_token(&url, "not-a-jwt"), 401, "token_invalid"),
        (with_token(&url, &expired), 401, "token_expired"),
        (
            with_token(&url, &token("q4", Role::Owner)),
            403,
            "token_wrong_board",
        ),
        (
            with_token(&url, &token("q3-*", Role::Owner)),
            403,
            "token_wrong_board",
        ),
    ];
    for (request, status, code) in cases {
        let (got, body, challenge) = refusal(request.as_str()).await;
        assert_eq!((got.as_u16(), body["error"].as_str()), (status, Some(code)));
        assert!(body["detail"].is_string());
        if status == 401 {
            assert!(challenge.unwrap().starts_with("Bearer"), "{code}");
        } else {
            assert_eq!(challenge, None);
        }
    }
}

#[tokio::test]
async fn a_token_in_the_query_opens_the_board_and_it_syncs() {
    let server = TestServer::start_with(requiring_tokens).await;
    let url = server.board_url("acme-q3");
    let writer = TestClient::connect(&with_token(&url, &token("acme-q3", Role::Owner)))
        .await
        .unwrap();
    // A prefix token, as a customer backend would give a whole team.
    let reader = TestClient::connect(&with_token(&url, &token("acme-*", Role::Viewer)))
        .await
        .unwrap();
    writer.push("notes", "seen by the viewer");
    reader
        .wait_for("the owner's edit", |c| c.array_len("notes") == 1)
        .await;
}

#[tokio::test]
async fn a_bearer_header_with_a_token_or_the_admin_key_opens_the_board() {
    let server = TestServer::start_with(requiring_tokens).await;
    let url = server.board_url("q3");
    let viewer = token("q3", Role::Viewer);
    upgrades(upgrade_request(&url, Some(&viewer), None))
        .await
        .unwrap();
    upgrades(upgrade_request(&url, Some(ADMIN_KEY), None))
        .await
        .unwrap();
    let (status, body, _) = refusal(upgrade_request(&url, Some("forged"), None)).await;
    assert_eq!(
        (status.as_u16(), &body["error"]),
        (401, &json!("token_invalid"))
    );
}

#[tokio::test]
async fn a_token_that_expires_while_connected_closes_the_socket_with_4401() {
    let server = TestServer::start_with(requiring_tokens).await;
    // Tokens are accepted up to 30 s past `exp` (clock skew), and the connection lasts as long:
    // this one still verifies now and runs out two seconds from now.
    let mut claims = Claims::lasting("q3".into(), Role::Viewer, "p-1".into(), String::new(), 0);
    claims.exp = now_secs() - 28;
    let client = TestClient::connect(&with_token(
        &server.board_url("q3"),
        &access::signed(&claims),
    ))
    .await
    .unwrap();
    let (code, _) = client.closed().await.expect("a close frame");
    assert_eq!(code, 4401);
}

#[tokio::test]
async fn only_allowed_browser_origins_may_open_boards() {
    let server = TestServer::start_with(|config| {
        requiring_tokens(config);
        config.access.allowed_origins = vec!["https://cx.example.com".into()];
    })
    .await;
    let url = with_token(&server.board_url("q3"), &token("q3", Role::Viewer));
    let (status, body, _) = refusal(upgrade_request(
        &url,
        None,
        Some("https://evil.example.com"),
    ))
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::FORBIDDEN, &json!("origin_not_allowed"))
    );
    upgrades(upgrade_request(&url, None, Some("https://CX.example.com")))
        .await
        .unwrap();
    // Non-browser clients send no Origin.
    upgrades(upgrade_request(&url, None, None)).await.unwrap();
}

#[tokio::test]
async fn the_api_needs_credentials_and_the_role_each_endpoint_asks_for() {
    let server = TestServer::start_with(requiring_tokens).await;
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/boards",
        None,
        Some(json!({"title": "Q3", "id": "q3"})),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::UNAUTHORIZED, &json!("token_required"))
    );
    create_board(&server, "q3").await;

    let (status, _) = call(&server, Method::GET, "/api/templates", None, None).await;
    assert_eq!(status, StatusCode::OK, "templates stay public");
    let (status, doc) = call(&server, Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    let viewer = token("q3", Role::Viewer);
    let (status, board) = call(&server, Method::GET, "/api/boards/q3", Some(&viewer), None).await;
    assert_eq!(
        (status, &board["meta"]["title"]),
        (StatusCode::OK, &json!("Q3 onboarding"))
    );
    // Links opened in a browser carry the token in the query.
    let export = reqwest::get(server.http_url(&format!(
        "/api/boards/q3/export?format=markdown&token={viewer}"
    )))
    .await
    .unwrap();
    assert_eq!(export.status(), StatusCode::OK);
    assert!(export.text().await.unwrap().contains("Q3 onboarding"));
    let (status, body) = call(&server, Method::GET, "/api/boards/q3/map.svg", None, None).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::UNAUTHORIZED, &json!("token_required"))
    );

    let (status, body) = call(
        &server,
        Method::DELETE,
        "/api/boards/q3",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::FORBIDDEN, &json!("forbidden"))
    );
    let elsewhere = token("q4", Role::Owner);
    let (status, body) = call(
        &server,
        Method::GET,
        "/api/boards/q3",
        Some(&elsewhere),
        None,
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::FORBIDDEN, &json!("token_wrong_board"))
    );
    let (status, body) = call(&server, Method::GET, "/api/boards", Some(&viewer), None).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::FORBIDDEN, &json!("forbidden"))
    );
    let (status, listing) = call(&server, Method::GET, "/api/boards", Some(ADMIN_KEY), None).await;
    assert_eq!(
        (status, &listing["boards"][0]["id"]),
        (StatusCode::OK, &json!("q3"))
    );

    // A facilitator may create boards its token covers, and only those.
    let team = token("acme-*", Role::Facilitator);
    let create = |id: Option<&str>| {
        let mut body = json!({"title": "Team board"});
        if let Some(id) = id {
            body["id"] = json!(id);
        }
        call(
            &server,
            Method::POST,
            "/api/boards",
            Some(&team),
            Some(body),
        )
    };
    assert_eq!(create(Some("acme-q3")).await.0, StatusCode::CREATED);
    assert_eq!(create(Some("other")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(create(None).await.0, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &server,
        Method::DELETE,
        "/api/boards/acme-q3",
        Some(&team),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "deleting needs an owner");

    let owner = token("q3", Role::Owner);
    let (status, _) = call(
        &server,
        Method::DELETE,
        "/api/boards/q3",
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn tokens_issued_through_the_api_open_the_board_with_the_role_asked_for() {
    let server = &TestServer::start_with(requiring_tokens).await;
    create_board(server, "q4").await;
    let ask = |bearer: String, body: Value| async move {
        call(
            server,
            Method::POST,
            "/api/boards/q4/tokens",
            Some(&bearer),
            Some(body),
        )
        .await
    };

    let (status, issued) = ask(
        ADMIN_KEY.into(),
        json!({"role": "viewer", "sub": "ana", "name": "Ana", "ttlSecs": 60}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    assert_eq!(
        (&issued["role"], &issued["board"]),
        (&json!("viewer"), &json!("q4"))
    );
    let expires_at = issued["expiresAt"].as_u64().unwrap();
    assert!((now_secs() + 55..=now_secs() + 60).contains(&expires_at));
    let viewer = issued["token"].as_str().unwrap().to_owned();
    TestClient::connect(&with_token(&server.board_url("q4"), &viewer))
        .await
        .unwrap();
    let (status, _) = call(server, Method::GET, "/api/boards/q4", Some(&viewer), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        server,
        Method::DELETE,
        "/api/boards/q4",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer token is a viewer");

    // An owner token issues tokens for its board, never outliving itself.
    let owner = token("q4", Role::Owner);
    let (status, issued) = ask(
        owner,
        json!({"role": "facilitator", "sub": "léa", "ttlSecs": 2_000_000}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    assert!(issued["expiresAt"].as_u64().unwrap() <= now_secs() + 600);

    let (status, body) = ask(
        token("q4", Role::Participant),
        json!({"role": "viewer", "sub": "x"}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::FORBIDDEN, &json!("forbidden"))
    );
    let (status, body) = ask(ADMIN_KEY.into(), json!({"role": "emperor", "sub": "x"})).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("invalid_field"))
    );
    let (status, body) = ask(ADMIN_KEY.into(), json!({"role": "viewer", "sub": " "})).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("invalid_field"))
    );

    let response = reqwest::Client::new()
        .post(server.http_url("/api/boards/q4/tokens"))
        .bearer_auth(ADMIN_KEY)
        .header("content-type", "application/json")
        .body("{\"role\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_json");
}

#[tokio::test]
async fn a_server_without_an_admin_key_cannot_issue_tokens() {
    let server = TestServer::start().await;
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/boards/q3/tokens",
        None,
        Some(json!({"role": "viewer", "sub": "ana"})),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::CONFLICT, &json!("tokens_unavailable"))
    );
}

#[tokio::test]
async fn the_board_command_reaches_a_locked_server_with_its_token() {
    let server = TestServer::start_with(requiring_tokens).await;
    let url = server.board_url("q3");
    let dump = |token: Option<String>| {
        let mut command = tokio::process::Command::new(PARCOURS);
        command
            .args(["board", "dump", &url])
            .env_remove("PARCOURS_TOKEN");
        if let Some(token) = token {
            command.args(["--token", &token]);
        }
        async move {
            tokio::time::timeout(PATIENCE, command.output())
                .await
                .expect("the command finished in time")
                .expect("the binary runs")
        }
    };
    let refused = dump(None).await;
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let dumped = dump(Some(token("q3", Role::Viewer))).await;
    assert!(
        dumped.status.success(),
        "{}",
        String::from_utf8_lossy(&dumped.stderr)
    );
}

/// Waits until the process has logged `message` and returns every line so far.
async fn logs_until(server: &ServerProcess, message: &str) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let logs = server.logs();
        if logs.iter().any(|l| l.contains(message)) {
            return logs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {message:?} in {logs:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_server_binary_with_an_admin_key_requires_tokens_and_never_logs_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start_with_args(
        PARCOURS,
        dir.path(),
        &[
            "--admin-key",
            ADMIN_KEY,
            "--allowed-origins",
            "https://a.example,https://b.example",
        ],
    );
    let url = server.board_url("q3");
    let (status, _, _) = refusal(url.as_str()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let viewer = token("q3", Role::Viewer);
    let client = TestClient::connect(&with_token(&url, &viewer))
        .await
        .unwrap();
    let (status, _, _) = refusal(upgrade_request(
        &with_token(&url, &viewer),
        None,
        Some("https://c.example"),
    ))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    client.close().await;

    let logs = logs_until(&server, "disconnected").await;
    assert!(logs.iter().any(|l| l.contains("access tokens required")));
    for line in &logs {
        assert!(
            !line.contains(ADMIN_KEY),
            "the admin key was logged: {line}"
        );
        assert!(!line.contains(&viewer), "a token was logged: {line}");
        assert!(!line.contains("running OPEN"), "{line}");
    }
}

#[tokio::test]
async fn the_server_binary_without_a_key_warns_that_it_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(PARCOURS, dir.path());
    logs_until(&server, "running OPEN").await;
}
