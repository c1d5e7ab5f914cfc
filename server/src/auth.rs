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
//! This module verifies and issues tokens; the server's enforcement of roles builds on it.

use std::time::{SystemTime, UNIX_EPOCH};

use client_protocol::access::Actor;
use client_protocol::BoardId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Clock skew allowed when checking `exp`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

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
    /// A verification key could not be read.
    #[error("unusable key: {0}")]
    Key(String),
}

impl AuthError {
    /// The HTTP status this refusal gets before the upgrade: 401 without valid credentials, 403
    /// with valid credentials for something else.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::WrongBoard(_) => 403,
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
        let mut last = AuthError::Invalid("no key accepts it".into());
        for (key, algorithm) in &self.keys {
            let mut validation = Validation::new(*algorithm);
            validation.leeway = LEEWAY_SECS;
            validation.set_required_spec_claims(&["exp", "sub"]);
            match jsonwebtoken::decode::<Claims>(token, key, &validation) {
                Ok(data) => {
                    let claims = data.claims;
                    return if claims.covers(board) {
                        Ok(claims)
                    } else {
                        Err(AuthError::WrongBoard(board.to_string()))
                    };
                }
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

    #[test]
    fn roles_are_ordered_by_what_they_may_do() {
        assert!(Role::Viewer < Role::Participant);
        assert!(Role::Participant < Role::Facilitator);
        assert!(Role::Facilitator < Role::Owner);
    }
}
