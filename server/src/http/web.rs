//! The browser client, embedded in the binary: the built files of `web/dist/` (committed, made by
//! `npm run build` in `web/`) are compiled in, so `parcours serve` serves the page with no extra
//! step.
//!
//! | route                | what                                                              |
//! |----------------------|-------------------------------------------------------------------|
//! | `GET /`              | the page: lists boards and creates one from a template            |
//! | `GET /b/{id}`        | the same page, which opens board `id`                             |
//! | `GET /assets/app.js` | the bundled script (its URL carries the build's hash: cached for good) |
//! | `GET /assets/app.css`| the stylesheet (same)                                             |
//!
//! The page itself is revalidated on every visit (`no-cache` with an `ETag`), so a new server
//! version is picked up at once; the assets it names change URL with every build.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;

/// `web/dist/index.html`: the one page of the client.
const INDEX_HTML: &str = include_str!("../../../web/dist/index.html");
/// `web/dist/app.js`: the client, bundled and minified.
const APP_JS: &[u8] = include_bytes!("../../../web/dist/app.js");
/// `web/dist/app.css`: its stylesheet.
const APP_CSS: &[u8] = include_bytes!("../../../web/dist/app.css");
/// `web/dist/SOURCE_HASH`: SHA-256 of the sources the files above were built from.
const SOURCE_HASH: &str = include_str!("../../../web/dist/SOURCE_HASH");

/// What the page may load: only this server's own script, styles and sockets.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self'; \
     img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'";

/// The client's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/b/{board_id}", get(page))
        .route("/assets/app.js", get(script))
        .route("/assets/app.css", get(stylesheet))
}

/// The entity tag of the page: the hash of the sources it was built from.
fn page_etag() -> String {
    format!("\"{}\"", SOURCE_HASH.trim())
}

async fn page(headers: HeaderMap) -> Response {
    let etag = page_etag();
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let common = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).expect("a hex hash is a valid header value"),
        ),
    ];
    if matches {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                // The page's URL may carry an access token: never send it to anyone.
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        INDEX_HTML,
    )
        .into_response()
}

/// An asset whose URL changes with every build (`?v=<hash>`): cached for a year.
fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::path::{Path, PathBuf};

    fn web_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../web")
    }

    fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read web/src") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                files_under(&path, out);
            } else {
                out.push(path);
            }
        }
    }

    /// The same hash as `sourceHash()` in `web/build.mjs`: every file of `web/src` and
    /// `web/package-lock.json`, in byte order of their `/`-separated paths, each hashed as
    /// `"<path>\n<length>\n<bytes>"`.
    fn source_hash() -> String {
        let root = web_dir();
        let mut files = Vec::new();
        files_under(&root.join("src"), &mut files);
        files.push(root.join("package-lock.json"));
        let mut named: Vec<(String, PathBuf)> = files
            .into_iter()
            .map(|path| {
                let rel = path
                    .strip_prefix(&root)
                    .expect("under web/")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                (rel, path)
            })
            .collect();
        named.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut hash = Sha256::new();
        for (rel, path) in named {
            let bytes = std::fs::read(&path).expect("read a source file");
            hash.update(format!("{rel}\n{}\n", bytes.len()).as_bytes());
            hash.update(&bytes);
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn the_embedded_client_was_built_from_the_current_sources() {
        assert_eq!(
            SOURCE_HASH.trim(),
            source_hash(),
            "web/dist is stale: web/src or web/package-lock.json changed since the last build; \
             run `npm ci && npm run build` in web/ and commit web/dist"
        );
    }

    #[test]
    fn the_page_names_the_assets_of_its_own_build() {
        let version = &SOURCE_HASH.trim()[..12];
        assert!(INDEX_HTML.contains(&format!("/assets/app.js?v={version}")));
        assert!(INDEX_HTML.contains(&format!("/assets/app.css?v={version}")));
        assert!(!APP_JS.is_empty() && !APP_CSS.is_empty());
    }
}
