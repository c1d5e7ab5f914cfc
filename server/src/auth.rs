//! Access tokens: who may open which board, in which role.
//!
//! Tokens are standard JWTs (RFC 7519), so that a customer's own backend can mint them with any
//! JWT library: HS256 with the server's admin key, or EdDSA / RS256 with a private key whose public
//! half the server is given. The claims are documented in PROTOCOL.md:
//!
//! | claim   | meaning |
//! |---------|---------|
//! | `board` | the board id, or a prefix ending in `*` (`acme-*`) for every board it starts |
//! | `role`  | `viewer`, `participant`, `facilitator` or `owner` |
//! | `sub`   | the participant's stable id |
//! | `name`  | the participant's display name |
//! | `exp`   | expiry, seconds since the Unix epoch (30 s of clock skew are allowed) |
//! | `iat`   | issue time, seconds since the Unix epoch (optional) |
//!
//! This module verifies and issues tokens, and holds the server's access policy
//! ([`AccessConfig`]): open (no key configured: everyone is an owner) or tokens required. The HTTP
//! layer (`http::credentials`) applies it before every upgrade and API call; rooms check each
//! update against the [`Grant`] a connection got.

use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use client_protocol::access::Actor;
use client_protocol::BoardId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Clock skew allowed when checking `exp`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// How long an issued token is valid unless asked otherwise: a working day.
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 8 * 3600;

pub use client_protocol::access::Role;

/// The claims of a Parcours access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The board id, or a prefix ending in `*`.
    pub board: String,
    /// The role on that board.
    pub role: Role,
    /// The participant's stable id.
    pub sub: String,
    /// The participant's display name.
    #[serde(default)]
    pub name: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time, seconds since the Unix epoch.
    #[serde(default)]
    pub iat: u64,
}

impl Claims {
    /// Claims issued now and valid for `ttl_secs`.
    pub fn lasting(board: String, role: Role, sub: String, name: String, ttl_secs: u64) -> Self {
        let now = now_secs();
        Claims {
            board,
            role,
            sub,
            name,
            exp: now.saturating_add(ttl_secs),
            iat: now,
        }
    }

    /// The claims `token` carries, read **without** checking its signature: for a client that
    /// wants to know who its own token names (the server always verifies).
    pub fn unverified(token: &str) -> Option<Claims> {
        use base64::Engine;
        let payload = token.split('.').nth(1)?;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        serde_json::from_slice(&json).ok()
    }

    /// Whether the token is for `board` (exactly, or by its `prefix*`).
    pub fn covers(&self, board: &BoardId) -> bool {
        match self.board.strip_suffix('*') {
            Some(prefix) => board.as_str().starts_with(prefix),
            None => self.board == board.as_str(),
        }
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token was given where one is required.
    #[error("a token is required")]
    Missing,
    /// The token is expired (beyond the allowed clock skew).
    #[error("the token has expired")]
    Expired,
    /// The token is not a well-formed JWT, is signed with a key or algorithm the server does not
    /// accept, or its claims are wrong.
    #[error("the token is invalid: {0}")]
    Invalid(String),
    /// The token is valid but for another board.
    #[error("the token is not for board {0}")]
    WrongBoard(String),
    /// The credentials are valid for the board but do not allow this (role too low, or only the
    /// admin key may do it).
    #[error("{0}")]
    Forbidden(String),
    /// A verification key could not be read.
    #[error("unusable key: {0}")]
    Key(String),
}

impl AuthError {
    /// The HTTP status this refusal gets before the upgrade: 401 without valid credentials, 403
    /// with valid credentials for something else.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::WrongBoard(_) | AuthError::Forbidden(_) => 403,
            AuthError::Key(_) => 500,
            _ => 401,
        }
    }

    /// The stable error code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "token_required",
            AuthError::Expired => "token_expired",
            AuthError::Invalid(_) => "token_invalid",
            AuthError::WrongBoard(_) => "token_wrong_board",
            AuthError::Forbidden(_) => "forbidden",
            AuthError::Key(_) => "server_key_error",
        }
    }
}

/// Checks tokens against the keys the server trusts.
#[derive(Clone)]
pub struct Verifier {
    keys: Vec<(DecodingKey, Algorithm)>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys are never printed.
        f.debug_struct("Verifier")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Verifier {
    /// Trusts HS256 tokens signed with the admin key.
    pub fn with_admin_key(admin_key: &[u8]) -> Self {
        Verifier {
            keys: vec![(DecodingKey::from_secret(admin_key), Algorithm::HS256)],
        }
    }

    /// Trusts only tokens signed by the private half of a PEM public key (a server without an
    /// admin key, whose tokens all come from a customer backend).
    pub fn from_public_key_pem(pem: &[u8]) -> Result<Self, AuthError> {
        Verifier { keys: Vec::new() }.with_public_key_pem(pem)
    }

    /// Also trusts tokens signed by the private half of a PEM public key: Ed25519 (EdDSA) or RSA
    /// (RS256), whichever the PEM holds.
    pub fn with_public_key_pem(mut self, pem: &[u8]) -> Result<Self, AuthError> {
        let key = DecodingKey::from_ed_pem(pem)
            .map(|k| (k, Algorithm::EdDSA))
            .or_else(|_| DecodingKey::from_rsa_pem(pem).map(|k| (k, Algorithm::RS256)))
            .map_err(|e| AuthError::Key(e.to_string()))?;
        self.keys.push(key);
        Ok(self)
    }

    /// Verifies `token` for `board`: signature, expiry (with [`LEEWAY_SECS`]) and board.
    pub fn verify(&self, token: &str, board: &BoardId) -> Result<Claims, AuthError> {
        let claims = self.decode(token)?;
        if claims.covers(board) {
            Ok(claims)
        } else {
            Err(AuthError::WrongBoard(board.to_string()))
        }
    }

    /// Verifies `token`'s signature and expiry (with [`LEEWAY_SECS`]), whatever board it is for.
    pub fn decode(&self, token: &str) -> Result<Claims, AuthError> {
        let mut last = AuthError::Invalid("no key accepts it".into());
        for (key, algorithm) in &self.keys {
            let mut validation = Validation::new(*algorithm);
            validation.leeway = LEEWAY_SECS;
            validation.set_required_spec_claims(&["exp", "sub"]);
            match jsonwebtoken::decode::<Claims>(token, key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => {
                    last = match e.kind() {
                        jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                        _ => AuthError::Invalid(e.to_string()),
                    };
                    if last == AuthError::Expired {
                        // The signature checked out with this key; the token is just old.
                        return Err(last);
                    }
                }
            }
        }
        Err(last)
    }
}

/// What a connection was granted when it opened: who it is, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The participant and their role, which every incoming update is checked against.
    pub actor: Actor,
    /// When the token stops being valid (its `exp` plus [`LEEWAY_SECS`]), in seconds since the
    /// Unix epoch; `None` on a server running open. The connection is closed with 4401 then.
    pub expires_at: Option<u64>,
}

impl Grant {
    /// What every connection gets on a server without an admin key.
    pub fn open() -> Self {
        Grant {
            actor: Actor::open(),
            expires_at: None,
        }
    }

    /// What the admin key grants: owner of every board, for as long as the server runs.
    pub fn admin() -> Self {
        Grant {
            actor: Actor {
                role: Role::Owner,
                sub: ADMIN_SUB.to_owned(),
                name: ADMIN_SUB.to_owned(),
            },
            expires_at: None,
        }
    }

    /// What a verified token grants.
    pub fn from_claims(claims: &Claims) -> Self {
        Grant {
            actor: Actor {
                role: claims.role,
                sub: claims.sub.clone(),
                name: claims.name.clone(),
            },
            expires_at: Some(claims.exp.saturating_add(LEEWAY_SECS)),
        }
    }
}

/// The participant id (and name) of whoever presents the admin key itself.
pub const ADMIN_SUB: &str = "admin";

/// Shortest admin key accepted, in bytes: RFC 7518 §3.2 requires an HS256 key at least as long as
/// the hash (256 bits), and a shorter one could be guessed offline from any token it signed.
pub const MIN_ADMIN_KEY_BYTES: usize = 32;

/// The server's admin key: signs HS256 tokens, and presented itself grants owner on every board.
///
/// Never printed: its `Debug` is redacted, so configurations holding it can be logged.
#[derive(Clone)]
pub struct AdminKey(String);

impl AdminKey {
    /// The key's bytes, for signing and verifying HS256 tokens.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether `presented` is this key. The comparison takes the same time wherever the first
    /// difference is, so that response times do not reveal the key byte by byte (only its length
    /// may show, which is not secret: at least [`MIN_ADMIN_KEY_BYTES`]).
    pub fn matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.as_bytes().ct_eq(presented.as_bytes()).into()
    }

    /// Signs `claims` as an HS256 token.
    pub fn issue(&self, claims: &Claims) -> Result<String, AuthError> {
        issue(self.as_bytes(), claims)
    }
}

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminKey(redacted)")
    }
}

/// An admin key shorter than [`MIN_ADMIN_KEY_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the admin key must be at least {MIN_ADMIN_KEY_BYTES} bytes long \
     (for example the output of `openssl rand -hex 32`)"
)]
pub struct AdminKeyTooShort;

impl FromStr for AdminKey {
    type Err = AdminKeyTooShort;

    fn from_str(key: &str) -> Result<Self, Self::Err> {
        if key.len() < MIN_ADMIN_KEY_BYTES {
            return Err(AdminKeyTooShort);
        }
        Ok(AdminKey(key.to_owned()))
    }
}

/// Who may open boards and call the API: the server's access policy.
///
/// Without any key it runs open (every caller is an owner of every board). With an admin key, a
/// token public key, or both, every connection and API call needs credentials: a token, or the
/// admin key itself.
#[derive(Debug, Clone, Default)]
pub struct AccessConfig {
    /// Signs the tokens the server issues; presented itself, grants everything.
    admin_key: Option<AdminKey>,
    /// Checks presented tokens; `None` when the server runs open.
    verifier: Option<Verifier>,
    /// Browser origins (`https://cx.example.com`) allowed to open boards; empty allows any.
    /// Requests without an `Origin` header (non-browser clients) are never refused by it.
    pub allowed_origins: Vec<String>,
}

impl AccessConfig {
    /// Tokens required when `admin_key` or `public_key_pem` (Ed25519 or RSA) is given; open
    /// otherwise.
    pub fn new(
        admin_key: Option<AdminKey>,
        public_key_pem: Option<&[u8]>,
    ) -> Result<Self, AuthError> {
        let verifier = match (&admin_key, public_key_pem) {
            (Some(key), None) => Some(Verifier::with_admin_key(key.as_bytes())),
            (Some(key), Some(pem)) => {
                Some(Verifier::with_admin_key(key.as_bytes()).with_public_key_pem(pem)?)
            }
            (None, Some(pem)) => Some(Verifier::from_public_key_pem(pem)?),
            (None, None) => None,
        };
        Ok(AccessConfig {
            admin_key,
            verifier,
            allowed_origins: Vec::new(),
        })
    }

    /// Whether the server runs open: no key configured, no credentials checked.
    pub fn is_open(&self) -> bool {
        self.verifier.is_none()
    }

    /// The admin key, when the server has one (it can then issue tokens).
    pub fn admin_key(&self) -> Option<&AdminKey> {
        self.admin_key.as_ref()
    }

    /// Who presents `presented` (a token or the admin key): refused with 401 when credentials are
    /// required and missing, forged or expired. Which board they are for is checked later, by
    /// [`Credential::grant`].
    pub fn identify(&self, presented: Option<&str>) -> Result<Credential, AuthError> {
        let Some(verifier) = &self.verifier else {
            return Ok(Credential::Open);
        };
        let presented = presented.ok_or(AuthError::Missing)?;
        if self
            .admin_key
            .as_ref()
            .is_some_and(|k| k.matches(presented))
        {
            return Ok(Credential::Admin);
        }
        verifier.decode(presented).map(Credential::Token)
    }

    /// Whether a request with this `Origin` header may open a board.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        match origin {
            None => true,
            Some(_) if self.allowed_origins.is_empty() => true,
            Some(origin) => self
                .allowed_origins
                .iter()
                .any(|allowed| same_origin(allowed, origin)),
        }
    }
}

/// Origins are compared without a trailing slash and ignoring ASCII case, as scheme and host are
/// case-insensitive.
fn same_origin(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// Who a caller turned out to be, before any board is considered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The server runs open: everyone may do everything.
    Open,
    /// The admin key itself.
    Admin,
    /// A verified token (signature and expiry checked, not yet its board).
    Token(Claims),
}

impl Credential {
    /// What this credential grants on `board`, refused unless it covers the board (403
    /// `token_wrong_board`) with at least the role `least` (403 `forbidden`).
    pub fn grant(&self, board: &BoardId, least: Role) -> Result<Grant, AuthError> {
        let grant = match self {
            Credential::Open => Grant::open(),
            Credential::Admin => Grant::admin(),
            Credential::Token(claims) if claims.covers(board) => Grant::from_claims(claims),
            Credential::Token(_) => return Err(AuthError::WrongBoard(board.to_string())),
        };
        if grant.actor.role < least {
            return Err(AuthError::Forbidden(format!(
                "this needs the {least} role on board {board}; the token grants {}",
                grant.actor.role
            )));
        }
        Ok(grant)
    }

    /// Refused (403 `forbidden`) unless this is the admin key or the server runs open; `what`
    /// completes "only the admin key may …".
    pub fn require_admin(&self, what: &str) -> Result<(), AuthError> {
        match self {
            Credential::Open | Credential::Admin => Ok(()),
            Credential::Token(_) => Err(AuthError::Forbidden(format!(
                "only the admin key may {what}"
            ))),
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Issues an HS256 token signed with the admin key (what `parcours token` and the token API do).
pub fn issue(admin_key: &[u8], claims: &Claims) -> Result<String, AuthError> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(admin_key),
    )
    .map_err(|e| AuthError::Key(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a long admin key for the tests, never used anywhere else";

    fn board(id: &str) -> BoardId {
        BoardId::parse(id).unwrap()
    }

    fn claims(board: &str, role: Role, exp: u64) -> Claims {
        Claims {
            board: board.into(),
            role,
            sub: "p-42".into(),
            name: "Ana".into(),
            exp,
            iat: now_secs(),
        }
    }

    #[test]
    fn an_issued_token_verifies_for_its_board_with_its_role() {
        let token = issue(KEY, &claims("q3", Role::Participant, now_secs() + 60)).unwrap();
        let verified = Verifier::with_admin_key(KEY)
            .verify(&token, &board("q3"))
            .unwrap();
        assert_eq!(verified.role, Role::Participant);
        assert_eq!(verified.name, "Ana");
    }

    #[test]
    fn a_token_for_another_board_is_refused_with_403() {
        let token = issue(KEY, &claims("q3", Role::Owner, now_secs() + 60)).unwrap();
        let refused = Verifier::with_admin_key(KEY)
            .verify(&token, &board("q4"))
            .unwrap_err();
        assert_eq!(
            (refused.status(), refused.code()),
            (403, "token_wrong_board")
        );
    }

    #[test]
    fn a_prefix_token_covers_every_board_it_starts() {
        let token = issue(KEY, &claims("acme-*", Role::Viewer, now_secs() + 60)).unwrap();
        let verifier = Verifier::with_admin_key(KEY);
        assert!(verifier.verify(&token, &board("acme-q3")).is_ok());
        assert!(verifier.verify(&token, &board("other")).is_err());
    }

    #[test]
    fn expiry_allows_a_little_clock_skew_and_no_more() {
        let verifier = Verifier::with_admin_key(KEY);
        let just_expired = issue(KEY, &claims("b", Role::Viewer, now_secs() - 5)).unwrap();
        assert!(verifier.verify(&just_expired, &board("b")).is_ok());
        let expired = issue(KEY, &claims("b", Role::Viewer, now_secs() - 120)).unwrap();
        let refused = verifier.verify(&expired, &board("b")).unwrap_err();
        assert_eq!((refused.status(), refused.code()), (401, "token_expired"));
    }

    #[test]
    fn forged_tampered_and_unsigned_tokens_are_refused() {
        let verifier = Verifier::with_admin_key(KEY);
        let forged = issue(b"another key", &claims("b", Role::Owner, now_secs() + 60)).unwrap();
        assert_eq!(
            verifier.verify(&forged, &board("b")).unwrap_err().status(),
            401
        );

        let genuine = issue(KEY, &claims("b", Role::Viewer, now_secs() + 60)).unwrap();
        let mut parts: Vec<&str> = genuine.split('.').collect();
        let owner = issue(b"x", &claims("b", Role::Owner, now_secs() + 60)).unwrap();
        let owner_payload = owner.split('.').nth(1).unwrap().to_owned();
        parts[1] = &owner_payload;
        let tampered = parts.join(".");
        assert_eq!(
            verifier
                .verify(&tampered, &board("b"))
                .unwrap_err()
                .status(),
            401
        );

        // {"alg":"none"} with the same claims and no signature.
        let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{owner_payload}.");
        assert_eq!(
            verifier
                .verify(&unsigned, &board("b"))
                .unwrap_err()
                .status(),
            401
        );
        assert_eq!(
            verifier
                .verify("not a jwt", &board("b"))
                .unwrap_err()
                .code(),
            "token_invalid"
        );
    }

    #[test]
    fn tokens_minted_by_a_customer_backend_with_ed25519_verify_with_its_public_key() {
        let private = include_bytes!("../tests/keys/ed25519-test-private.pem");
        let public = include_bytes!("../tests/keys/ed25519-test-public.pem");
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &claims("crm-*", Role::Facilitator, now_secs() + 60),
            &EncodingKey::from_ed_pem(private).unwrap(),
        )
        .unwrap();
        let verifier = Verifier::with_admin_key(KEY)
            .with_public_key_pem(public)
            .unwrap();
        assert_eq!(
            verifier.verify(&token, &board("crm-7")).unwrap().role,
            Role::Facilitator
        );
        // The admin key alone does not accept it.
        assert!(Verifier::with_admin_key(KEY)
            .verify(&token, &board("crm-7"))
            .is_err());
    }

    fn locked() -> AccessConfig {
        let key = std::str::from_utf8(KEY).unwrap().parse().unwrap();
        AccessConfig::new(Some(key), None).unwrap()
    }

    #[test]
    fn the_admin_key_itself_grants_owner_on_every_board() {
        let access = locked();
        let admin = access
            .identify(Some(std::str::from_utf8(KEY).unwrap()))
            .unwrap();
        assert_eq!(admin, Credential::Admin);
        let grant = admin.grant(&board("any"), Role::Owner).unwrap();
        assert_eq!(
            (grant.actor.sub.as_str(), grant.expires_at),
            (ADMIN_SUB, None)
        );
        // Only the whole key: a prefix of it is just an invalid token.
        let prefix = std::str::from_utf8(&KEY[..KEY.len() - 1]).unwrap();
        assert_eq!(
            access.identify(Some(prefix)).unwrap_err().code(),
            "token_invalid"
        );
    }

    #[test]
    fn with_a_key_nothing_presented_is_token_required() {
        assert_eq!(locked().identify(None), Err(AuthError::Missing));
    }

    #[test]
    fn an_open_server_makes_everyone_an_owner_whatever_they_present() {
        let open = AccessConfig::default();
        assert!(open.is_open());
        for presented in [None, Some("anything"), Some("")] {
            let grant = open
                .identify(presented)
                .unwrap()
                .grant(&board("b"), Role::Owner)
                .unwrap();
            assert_eq!(grant, Grant::open());
        }
    }

    #[test]
    fn a_public_key_alone_requires_tokens_and_issues_none() {
        let public = include_bytes!("../tests/keys/ed25519-test-public.pem");
        let access = AccessConfig::new(None, Some(public)).unwrap();
        assert!(!access.is_open());
        assert!(access.admin_key().is_none());
        assert_eq!(access.identify(None), Err(AuthError::Missing));
    }

    #[test]
    fn a_role_too_low_is_forbidden_and_another_board_is_the_wrong_board() {
        let token = Credential::Token(claims("q3", Role::Participant, now_secs() + 60));
        assert!(token.grant(&board("q3"), Role::Participant).is_ok());
        let low = token.grant(&board("q3"), Role::Owner).unwrap_err();
        assert_eq!((low.status(), low.code()), (403, "forbidden"));
        let elsewhere = token.grant(&board("q4"), Role::Viewer).unwrap_err();
        assert_eq!(elsewhere.code(), "token_wrong_board");
        assert_eq!(token.require_admin("list").unwrap_err().code(), "forbidden");
    }

    #[test]
    fn short_admin_keys_are_refused_and_keys_are_never_printed() {
        assert_eq!(
            "too short".parse::<AdminKey>().unwrap_err(),
            AdminKeyTooShort
        );
        let key: AdminKey = std::str::from_utf8(KEY).unwrap().parse().unwrap();
        let printed = format!("{key:?} {:?}", locked());
        assert!(!printed.contains("admin key for the tests"), "{printed}");
    }

    #[test]
    fn origins_match_ignoring_case_and_a_trailing_slash_and_absent_origins_pass() {
        let mut access = locked();
        assert!(access.origin_allowed(Some("https://anywhere.example")));
        access.allowed_origins = vec!["https://cx.example.com/".into()];
        assert!(access.origin_allowed(Some("https://CX.example.com")));
        assert!(access.origin_allowed(None));
        assert!(!access.origin_allowed(Some("https://cx.example.com.evil.example")));
        assert!(!access.origin_allowed(Some("http://cx.example.com")));
        assert!(!access.origin_allowed(Some("null")));
    }

    #[test]
    fn roles_are_ordered_by_what_they_may_do() {
        assert!(Role::Viewer < Role::Participant);
        assert!(Role::Participant < Role::Facilitator);
        assert!(Role::Facilitator < Role::Owner);
    }
}
