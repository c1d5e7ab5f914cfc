//! Who may change what on a board: roles, and the participant an edit comes from.
//!
//! The server decides every connection's [`Actor`] from its access token (or gives everyone the
//! owner role when it runs open, without an admin key) and inspects each incoming update against
//! it before applying anything; PROTOCOL.md §7.3 lists the rules.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a participant may do on a board, least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the board, sees and sends presence; changes nothing.
    Viewer,
    /// Adds and edits cards, votes, comments and reacts; cannot change the board's structure
    /// (meta, personas, stages, lanes, the workshop timer and voting) nor anyone's authorship.
    Participant,
    /// Every board edit; runs the timer and voting rounds.
    Facilitator,
    /// A facilitator who also issues tokens and deletes the board.
    Owner,
}

impl Role {
    /// Every role, least to most.
    pub const ALL: [Role; 4] = [
        Role::Viewer,
        Role::Participant,
        Role::Facilitator,
        Role::Owner,
    ];

    /// The role's name in tokens and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Participant => "participant",
            Role::Facilitator => "facilitator",
            Role::Owner => "owner",
        }
    }

    /// Whether this role may make every kind of board edit.
    pub fn edits_everything(self) -> bool {
        self >= Role::Facilitator
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected viewer, participant, facilitator or owner)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// The participant behind a connection: what their edits are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Their role on the board.
    pub role: Role,
    /// Their stable participant id (the token's `sub`): the key of their votes and reactions,
    /// and the `authorId` of the cards and comments they create.
    pub sub: String,
    /// Their display name (the token's `name`): the `author` of what they create.
    pub name: String,
}

impl Actor {
    /// Who everyone is on a server without an admin key: owners, anonymous.
    pub fn open() -> Self {
        Actor {
            role: Role::Owner,
            sub: String::new(),
            name: String::new(),
        }
    }
}
