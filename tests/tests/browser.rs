
#[tokio::test]
async fn the_page_and_its_assets_are_served_with_their_types_and_cache_rules() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(server.http_url(path)).send();

    let page = get("/").await.expect("the page");
    assert_eq!(page.status(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
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

    // Other paths are still JSON 404s, and board sockets still answer as before.
    assert_eq!(get("/nothing-here").await.expect("404").status(), 404);
    assert_eq!(get("/boards/q3").await.expect("not an upgrade").status(), 426);
    server.stop().await;
}
