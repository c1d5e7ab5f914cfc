//! Servers that require access tokens, and tokens for them.
//!
//! ```text
//! let server = TestServer::start_with(access::requiring_tokens).await;
//! let url = format!("{}?token={}", server.board_url("q3"), access::token("q3", Role::Viewer));
//! ```

use parcours_server::auth::{AccessConfig, AdminKey, Claims, Role};
use parcours_server::ServerConfig;

/// The admin key of [`requiring_tokens`] servers.
pub const ADMIN_KEY: &str = "the admin key of the end-to-end tests, never used elsewhere";

/// The admin key, parsed.
pub fn admin_key() -> AdminKey {
    ADMIN_KEY.parse().expect("the test key is long enough")
}

/// Adjusts a configuration so that the server requires credentials, with [`ADMIN_KEY`] (for
/// [`crate::TestServer::start_with`]).
pub fn requiring_tokens(config: &mut ServerConfig) {
    config.access = AccessConfig::new(Some(admin_key()), None).expect("an HS256-only policy");
}

/// A token for `board` (an id or a `prefix*`) with `role`, valid for ten minutes, for participant
/// `p-{role}`.
pub fn token(board: &str, role: Role) -> String {
    token_for(board, role, &format!("p-{role}"), &format!("Test {role}"))
}

/// A token for `board` with `role`, valid for ten minutes, for participant `sub` named `name`,
/// as a customer backend would mint it.
pub fn token_for(board: &str, role: Role, sub: &str, name: &str) -> String {
    signed(&Claims::lasting(
        board.into(),
        role,
        sub.into(),
        name.into(),
        600,
    ))
}

/// `claims` signed with [`ADMIN_KEY`].
pub fn signed(claims: &Claims) -> String {
    admin_key().issue(claims).expect("HS256 signing")
}
