//! Board identifiers: the `{board_id}` in `/boards/{board_id}`.

use std::fmt;
use std::sync::Arc;

/// The longest board id the server accepts, in bytes.
pub const MAX_BOARD_ID_LEN: usize = 128;

/// A validated board id: 1 to [`MAX_BOARD_ID_LEN`] characters of `[A-Za-z0-9._-]`.
///
/// The alphabet is deliberately narrow so that an id can be used unescaped in URLs, log lines,
/// file names and storage keys (it never contains a `0x00` byte, which the storage layer uses as a
/// separator).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BoardId(Arc<str>);

/// Why a string is not a valid [`BoardId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBoardId {
    /// The id was the empty string.
    #[error("board id is empty")]
    Empty,
    /// The id was longer than [`MAX_BOARD_ID_LEN`] bytes.
    #[error("board id is {0} bytes long; at most {MAX_BOARD_ID_LEN} are allowed")]
    TooLong(usize),
    /// The id contained a character outside `[A-Za-z0-9._-]`.
    #[error("board id contains {0:?}; only A-Z, a-z, 0-9, '.', '_' and '-' are allowed")]
    BadChar(char),
}

impl BoardId {
    /// Validates `id` and wraps it.
    pub fn parse(id: &str) -> Result<Self, InvalidBoardId> {
        if id.is_empty() {
            return Err(InvalidBoardId::Empty);
        }
        if id.len() > MAX_BOARD_ID_LEN {
            return Err(InvalidBoardId::TooLong(id.len()));
        }
        if let Some(bad) = id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(InvalidBoardId::BadChar(bad));
        }
        Ok(BoardId(id.into()))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for BoardId {
    type Err = InvalidBoardId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BoardId::parse(s)
    }
}

impl fmt::Display for BoardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BoardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BoardId({})", self.0)
    }
}

impl AsRef<str> for BoardId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_accepted() {
        for id in [
            "a",
            "q3-workshop",
            "Board_1.v2",
            &"x".repeat(MAX_BOARD_ID_LEN),
        ] {
            assert_eq!(BoardId::parse(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn empty_long_and_unusual_names_are_refused() {
        assert_eq!(BoardId::parse(""), Err(InvalidBoardId::Empty));
        assert_eq!(
            BoardId::parse(&"x".repeat(MAX_BOARD_ID_LEN + 1)),
            Err(InvalidBoardId::TooLong(MAX_BOARD_ID_LEN + 1))
        );
        for (id, bad) in [
            ("a b", ' '),
            ("a/b", '/'),
            ("é", 'é'),
            ("a\0", '\0'),
            ("a%20", '%'),
        ] {
            assert_eq!(BoardId::parse(id), Err(InvalidBoardId::BadChar(bad)));
        }
    }
}
