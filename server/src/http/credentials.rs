//! Credentials on HTTP requests: where a token is read from, what a refusal looks like, and the
//! [`Caller`] extractor of the REST API. The policy itself is [`crate::auth::AccessConfig`].
//!
//! Tokens travel in URLs (`?token=`, the only way a browser WebSocket or a y-websocket provider
//! can send one), so nothing here or in the routes logs a request's URI or query: refusals are
//! logged with the board, the peer and the error code only.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;

use super::api::ApiError;
use super::{error, AppState};
use crate::auth::{AuthError, Credential};

/// The credential a request presents: `Authorization: Bearer …`, else the `token` query
/// parameter (URL-decoded). Other authorization schemes (say, Basic for a proxy in front) are
/// not ours and are ignored.
pub(crate) fn presented(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    let bearer = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    bearer.or_else(|| {
        let Query(params) = Query::<Vec<(String, String)>>::try_from_uri(uri).ok()?;
        params
            .into_iter()
            .find_map(|(name, value)| (name == "token").then_some(value))
    })
}

/// The display name a connection declares with `?name=` (trimmed, at most 64 characters): who
/// history names for its edits on a server running open, where no token says who it is.
pub(crate) fn declared_name(uri: &Uri) -> Option<String> {
    let Query(params) = Query::<Vec<(String, String)>>::try_from_uri(uri).ok()?;
    params.into_iter().find_map(|(key, value)| {
        let name: String = value.trim().chars().take(64).collect();
        (key == "name" && !name.is_empty()).then_some(name)
    })
}

/// The HTTP status of a refusal.
pub(crate) fn status(refused: &AuthError) -> StatusCode {
    StatusCode::from_u16(refused.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The response refusing a request for `error`: its status and JSON body, with the
/// `WWW-Authenticate` challenge of RFC 6750 on a 401.
pub(crate) fn refusal(refused: &AuthError) -> Response {
    let mut response = error(status(refused), refused.code(), refused);
    let challenge = match refused {
        AuthError::Missing => Some(r#"Bearer realm="parcours""#),
        AuthError::Invalid(_) | AuthError::Expired => {
            Some(r#"Bearer realm="parcours", error="invalid_token""#)
        }
        _ => None,
    };
    if let Some(challenge) = challenge {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    response
}

/// Who is calling the REST API: refused with 401 when the server requires credentials and the
/// request has none that verify. Handlers then check what it grants on their board with
/// [`Credential::grant`].
pub(crate) struct Caller(pub Credential);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let presented = presented(&parts.headers, &parts.uri);
        Ok(Caller(state.access.identify(presented.as_deref())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(authorization: Option<&str>, uri: &str) -> (HeaderMap, Uri) {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        (headers, uri.parse().unwrap())
    }

    #[test]
    fn a_bearer_header_is_preferred_to_the_query_parameter() {
        let (headers, uri) = request(Some("bearer  abc.def "), "/boards/b?token=other");
        assert_eq!(presented(&headers, &uri).as_deref(), Some("abc.def"));
    }

    #[test]
    fn the_query_parameter_is_url_decoded() {
        let (headers, uri) = request(None, "/boards/b?x=1&token=a%20b%2Bc");
        assert_eq!(presented(&headers, &uri).as_deref(), Some("a b+c"));
    }

    #[test]
    fn other_authorization_schemes_are_left_to_whoever_uses_them() {
        let (headers, uri) = request(Some("Basic dXNlcjpwYXNz"), "/api/boards");
        assert_eq!(presented(&headers, &uri), None);
        let (headers, uri) = request(Some("Basic dXNlcjpwYXNz"), "/api/boards?token=t");
        assert_eq!(presented(&headers, &uri).as_deref(), Some("t"));
    }

    #[test]
    fn only_401_refusals_carry_a_bearer_challenge() {
        let missing = refusal(&AuthError::Missing);
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert!(missing.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
        let expired = refusal(&AuthError::Expired);
        assert!(expired.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token"));
        let wrong = refusal(&AuthError::WrongBoard("b".into()));
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
        assert!(wrong.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
