//! WebSocket close codes used by the Parcours server.
//!
//! Every way the server ends a connection maps to exactly one of these codes; `PROTOCOL.md` lists
//! them with the action a client should take. Codes below 4000 are the standard ones of RFC 6455;
//! codes 4000–4999 are Parcours' own.

/// A close code the server sends, with its documented meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CloseCode {
    /// 1000: the connection ended normally.
    Normal = 1000,
    /// 1001: the server is shutting down. Reconnect (with backoff) and resync.
    GoingAway = 1001,
    /// 1002: the client sent a frame that is not a valid protocol message (truncated or absurd
    /// varints, an unknown message type, trailing garbage). A bug in the client: do not retry the
    /// same bytes.
    ProtocolError = 1002,
    /// 1003: the client sent a text frame; the protocol is binary only.
    UnsupportedData = 1003,
    /// 1007: a well-framed message carried a payload that cannot be decoded (a document update or
    /// awareness update that is not valid lib0 v1).
    InvalidPayload = 1007,
    /// 1009: a message was larger than the server's message-size limit.
    MessageTooBig = 1009,
    /// 1011: an unexpected server error. Reconnect with backoff.
    InternalError = 1011,
    /// 1013: the server is being drained (taken out of a cluster). Reconnect at once: a load
    /// balancer sends the new connection to another server, which has the same boards.
    TryAgainLater = 1013,
    /// 4000: reconnect and resync. The server could not deliver to this connection fast enough
    /// (its outbound queue was full) or the board was reset; nothing was lost on the server, and a
    /// fresh sync handshake brings the client up to date.
    Resync = 4000,
    /// 4008: the connection was silent for too long (no pong, no message).
    Timeout = 4008,
    /// 4401: the connection's access token expired while it was open. Get a fresh token and
    /// reconnect with it; reconnecting with the same token is refused with HTTP 401.
    TokenExpired = 4401,
    /// 4410: the board was deleted. Do not reconnect to it.
    BoardDeleted = 4410,
    /// 4413: the update would make the board larger than the server allows. Do not resend it;
    /// the board itself is fine and other edits still work.
    BoardTooLarge = 4413,
    /// 4503: the board could not be loaded from storage. Retry later with backoff; the stored board
    /// is untouched.
    BoardUnavailable = 4503,
    /// 4507: storage refused a write (a full disk or an I/O error). The board stops accepting
    /// edits until storage recovers; the client keeps its unsent edits and resends them when it
    /// reconnects.
    StorageFailure = 4507,
}

impl CloseCode {
    /// The numeric code sent in the close frame.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// Looks a numeric close code up; `None` for codes the server never sends.
    pub fn from_code(code: u16) -> Option<Self> {
        use CloseCode::*;
        [
            Normal,
            GoingAway,
            ProtocolError,
            UnsupportedData,
            InvalidPayload,
            MessageTooBig,
            InternalError,
            TryAgainLater,
            Resync,
            Timeout,
            TokenExpired,
            BoardDeleted,
            BoardTooLarge,
            BoardUnavailable,
            StorageFailure,
        ]
        .into_iter()
        .find(|c| c.code() == code)
    }

    /// Whether a client should reconnect after this close (with backoff).
    pub fn should_reconnect(self) -> bool {
        !matches!(
            self,
            CloseCode::ProtocolError
                | CloseCode::UnsupportedData
                | CloseCode::InvalidPayload
                | CloseCode::MessageTooBig
                | CloseCode::TokenExpired
                | CloseCode::BoardDeleted
                | CloseCode::BoardTooLarge
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_number() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1009, 1011, 4000, 4008, 4401, 4410, 4413, 4503, 4507,
        ] {
            assert_eq!(CloseCode::from_code(code).unwrap().code(), code);
        }
        assert_eq!(CloseCode::from_code(4999), None);
    }
}
