//! Frame decoding and encoding for the y-websocket protocol.
//!
//! A frame is one binary WebSocket message. The server sends exactly one protocol message per
//! frame (stock JS clients read only the first); it accepts frames that carry several messages back
//! to back, as some clients batch them.
//!
//! Decoding is total: every input yields messages or a [`DecodeError`], never a panic. Every length
//! or count read from the wire is checked against the bytes actually present (and against
//! [`Limits`]) before `yrs` is asked to decode, so a few bytes can never make the decoder reserve
//! gigabytes.

use std::panic::{catch_unwind, AssertUnwindSafe};

use yrs::block::ClientID;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::StateVector;

pub use yrs::sync::awareness::AwarenessUpdateEntry;
pub use yrs::sync::{AwarenessUpdate, Message, SyncMessage};
pub use yrs::Update;

use crate::blocks::{self, Blocks};
use crate::close::CloseCode;

/// Top-level message type: document sync (step 1, step 2, update).
pub const MSG_SYNC: u64 = 0;
/// Top-level message type: awareness (presence) update.
pub const MSG_AWARENESS: u64 = 1;
/// Top-level message type: authentication / permission answer (server to client).
pub const MSG_AUTH: u64 = 2;
/// Top-level message type: a request for the full awareness state.
pub const MSG_QUERY_AWARENESS: u64 = 3;
/// Sync sub-type: the sender's state vector.
pub const SYNC_STEP_1: u64 = 0;
/// Sync sub-type: the update the receiver of a step 1 is missing.
pub const SYNC_STEP_2: u64 = 1;
/// Sync sub-type: an incremental document update.
pub const SYNC_UPDATE: u64 = 2;

/// Bounds applied while decoding untrusted frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame accepted, in bytes.
    pub max_message_bytes: usize,
    /// Most client entries one awareness update may carry.
    pub max_awareness_entries: usize,
    /// Longest awareness state (a JSON string), in bytes.
    pub max_awareness_state_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 32 * 1024 * 1024,
            max_awareness_entries: 1024,
            max_awareness_state_bytes: 64 * 1024,
        }
    }
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame had no bytes at all.
    #[error("empty frame")]
    Empty,
    /// The frame was larger than [`Limits::max_message_bytes`].
    #[error("frame of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the frame.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A varint ran past the end of the frame.
    #[error("truncated: {what} runs past the end of the frame")]
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// A varint was longer than 64 bits.
    #[error("varint is longer than 64 bits")]
    VarIntOverflow,
    /// A length prefix announced more bytes than the frame holds.
    #[error("{what} announces {declared} bytes but only {available} remain")]
    LengthExceedsFrame {
        /// What was being read.
        what: &'static str,
        /// The announced length.
        declared: u64,
        /// Bytes left in the frame.
        available: usize,
    },
    /// The top-level message type is not one of sync, awareness, auth or query-awareness.
    #[error("unknown message type {0}")]
    UnknownMessageType(u64),
    /// The sync sub-type is not step 1, step 2 or update.
    #[error("unknown sync message type {0}")]
    UnknownSyncType(u64),
    /// An awareness update had more entries than [`Limits::max_awareness_entries`].
    #[error("awareness update has {count} entries; at most {limit} are allowed")]
    TooManyAwarenessEntries {
        /// Entries announced.
        count: u64,
        /// The limit in force.
        limit: usize,
    },
    /// An awareness state was longer than [`Limits::max_awareness_state_bytes`] or not JSON.
    #[error("awareness state of client {client} is invalid: {reason}")]
    BadAwarenessState {
        /// The client id of the offending entry.
        client: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A payload (state vector, update, awareness update) is not valid lib0 v1.
    #[error("malformed {what}: {reason}")]
    MalformedPayload {
        /// Which payload.
        what: &'static str,
        /// The decoder's explanation.
        reason: String,
    },
}

impl DecodeError {
    /// The close code the server uses when a client sends a frame that fails this way.
    pub fn close_code(&self) -> CloseCode {
        match self {
            DecodeError::TooLarge { .. } => CloseCode::MessageTooBig,
            DecodeError::TooManyAwarenessEntries { .. }
            | DecodeError::BadAwarenessState { .. }
            | DecodeError::MalformedPayload { .. } => CloseCode::InvalidPayload,
            _ => CloseCode::ProtocolError,
        }
    }
}

/// A cursor over an untrusted byte slice that never reads past its end.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// How many bytes were read so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The bytes read since `start` (a [`Reader::position`]).
    pub(crate) fn since(&self, start: usize) -> &'a [u8] {
        &self.buf[start..self.pos]
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn var_u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .buf
                .get(self.pos)
                .ok_or(DecodeError::Truncated { what })?;
            self.pos += 1;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(DecodeError::VarIntOverflow);
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarIntOverflow)
    }

    pub(crate) fn var_buf(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let declared = self.var_u64(what)?;
        let available = self.remaining();
        if declared > available as u64 {
            return Err(DecodeError::LengthExceedsFrame {
                what,
                declared,
                available,
            });
        }
        let start = self.pos;
        self.pos += declared as usize;
        Ok(&self.buf[start..self.pos])
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        let byte = *self
            .buf
            .get(self.pos)
            .ok_or(DecodeError::Truncated { what })?;
        self.pos += 1;
        Ok(byte)
    }

    pub(crate) fn skip(&mut self, len: usize, what: &'static str) -> Result<(), DecodeError> {
        if len > self.remaining() {
            return Err(DecodeError::LengthExceedsFrame {
                what,
                declared: len as u64,
                available: self.remaining(),
            });
        }
        self.pos += len;
        Ok(())
    }

    /// A varint that must fit in 32 bits (clocks, lengths, counts in Yjs encodings).
    pub(crate) fn var_u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let value = self.var_u64(what)?;
        u32::try_from(value).map_err(|_| DecodeError::MalformedPayload {
            what,
            reason: format!("{value} does not fit in 32 bits"),
        })
    }

    /// A Yjs client id: at most 53 bits, the range every implementation can represent (JS
    /// numbers); yrs silently truncates larger ones in release builds, which would alias another
    /// client.
    pub(crate) fn client_id(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let id = self.var_u64(what)?;
        if id >= MAX_CLIENT_ID_EXCLUSIVE {
            return Err(DecodeError::MalformedPayload {
                what,
                reason: format!("client id {id} is wider than 53 bits"),
            });
        }
        Ok(id)
    }

    pub(crate) fn string(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let bytes = self.var_buf(what)?;
        std::str::from_utf8(bytes).map_err(|e| DecodeError::MalformedPayload {
            what,
            reason: e.to_string(),
        })
    }

    /// Skips a lib0 signed varint.
    pub(crate) fn skip_signed_var(&mut self, what: &'static str) -> Result<(), DecodeError> {
        for _ in 0..10 {
            if self.u8(what)? & 0x80 == 0 {
                return Ok(());
            }
        }
        Err(DecodeError::VarIntOverflow)
    }

    /// Reads a count that announces `count` items of at least `min_item_bytes` each, refusing
    /// counts that the remaining bytes cannot possibly hold.
    pub(crate) fn count(
        &mut self,
        what: &'static str,
        min_item_bytes: usize,
    ) -> Result<u64, DecodeError> {
        let count = self.var_u64(what)?;
        let available = self.remaining();
        if count.saturating_mul(min_item_bytes as u64) > available as u64 {
            return Err(DecodeError::LengthExceedsFrame {
                what,
                declared: count,
                available,
            });
        }
        Ok(count)
    }
}

pub(crate) fn malformed(what: &'static str, reason: impl ToString) -> DecodeError {
    DecodeError::MalformedPayload {
        what,
        reason: reason.to_string(),
    }
}

/// Errors found inside a payload (an update, a state vector, an awareness update) are payload
/// errors (close 1007), whatever the reader called them: the frame around them was well formed.
fn as_payload_error(e: DecodeError) -> DecodeError {
    match e {
        e @ DecodeError::MalformedPayload { .. } => e,
        other => malformed("update", other),
    }
}

/// Runs a `yrs` decoder on input that passed our own bounds checks, turning any panic inside it
/// into an error: a hostile frame must never take the server down.
fn guarded<T>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(malformed(what, "decoder panicked")))
}

/// Decodes every protocol message in one binary frame.
pub fn decode_frame(frame: &[u8], limits: &Limits) -> Result<Vec<Message>, DecodeError> {
    if frame.is_empty() {
        return Err(DecodeError::Empty);
    }
    if frame.len() > limits.max_message_bytes {
        return Err(DecodeError::TooLarge {
            len: frame.len(),
            limit: limits.max_message_bytes,
        });
    }
    let mut reader = Reader::new(frame);
    let mut messages = Vec::with_capacity(1);
    while reader.remaining() > 0 {
        messages.push(decode_one(&mut reader, limits)?);
    }
    Ok(messages)
}

fn decode_one(reader: &mut Reader<'_>, limits: &Limits) -> Result<Message, DecodeError> {
    match reader.var_u64("message type")? {
        MSG_SYNC => match reader.var_u64("sync message type")? {
            SYNC_STEP_1 => {
                let sv = reader.var_buf("state vector")?;
                Ok(Message::Sync(SyncMessage::SyncStep1(decode_state_vector(
                    sv,
                )?)))
            }
            SYNC_STEP_2 => {
                let update = reader.var_buf("sync step 2 update")?;
                blocks::parse(update).map_err(as_payload_error)?;
                Ok(Message::Sync(SyncMessage::SyncStep2(update.to_vec())))
            }
            SYNC_UPDATE => {
                let update = reader.var_buf("update")?;
                blocks::parse(update).map_err(as_payload_error)?;
                Ok(Message::Sync(SyncMessage::Update(update.to_vec())))
            }
            other => Err(DecodeError::UnknownSyncType(other)),
        },
        MSG_AWARENESS => {
            let payload = reader.var_buf("awareness update")?;
            Ok(Message::Awareness(decode_awareness(payload, limits)?))
        }
        MSG_AUTH => {
            let denied = reader.var_u64("auth permission")? == 0;
            let reason = if denied {
                let bytes = reader.var_buf("auth reason")?;
                Some(
                    std::str::from_utf8(bytes)
                        .map_err(|e| malformed("auth reason", e))?
                        .to_owned(),
                )
            } else {
                None
            };
            Ok(Message::Auth(reason))
        }
        MSG_QUERY_AWARENESS => Ok(Message::AwarenessQuery),
        other => Err(DecodeError::UnknownMessageType(other)),
    }
}

/// Decodes a lib0 v1 state vector, checking its entry count first (each entry takes at least two
/// bytes: a client id and a clock).
pub fn decode_state_vector(bytes: &[u8]) -> Result<StateVector, DecodeError> {
    let read = || -> Result<StateVector, DecodeError> {
        let mut r = Reader::new(bytes);
        let count = r.count("state vector entry count", 2)?;
        let mut sv = StateVector::default();
        for _ in 0..count {
            let client = r.client_id("state vector client")?;
            let clock = r.var_u32("state vector clock")?;
            sv.set_max(ClientID::new(client), clock);
        }
        Ok(sv)
    };
    read().map_err(|e| match e {
        e @ DecodeError::MalformedPayload { .. } => e,
        other => malformed("state vector", other),
    })
}

/// Client ids are at most 53 bits wide on the wire.
pub const MAX_CLIENT_ID_EXCLUSIVE: u64 = 1 << 53;

/// Deepest nesting of lib0 `Any` values (arrays and maps) accepted inside an update. yrs decodes
/// them recursively, so without a bound a small frame of nested arrays could overflow the stack,
/// which no panic guard can catch. Real boards nest a handful of levels.
pub const MAX_ANY_DEPTH: usize = 64;

/// Decodes a lib0 v1 document update (the payload of sync step 2 and update messages).
pub fn decode_update(bytes: &[u8]) -> Result<Update, DecodeError> {
    decode_update_with_blocks(bytes).map(|(update, _)| update)
}

/// [`decode_update`], also giving the update's block structure.
pub fn decode_update_with_blocks(bytes: &[u8]) -> Result<(Update, Blocks<'_>), DecodeError> {
    let blocks = scan_update(bytes)?;
    Ok((decode_scanned_update(bytes)?, blocks))
}

/// The block structure of a lib0 v1 document update ([`blocks::parse`]), its errors reported
/// as payload errors: the check that makes the bytes safe to hand to yrs.
pub fn scan_update(bytes: &[u8]) -> Result<Blocks<'_>, DecodeError> {
    blocks::parse(bytes).map_err(as_payload_error)
}

/// Decodes with yrs an update that [`scan_update`] accepted.
pub fn decode_scanned_update(bytes: &[u8]) -> Result<Update, DecodeError> {
    guarded("update", || {
        Update::decode_v1(bytes).map_err(|e| malformed("update", e))
    })
}

/// Decodes an awareness update, enforcing [`Limits`] and requiring every state to be JSON (stock
/// clients `JSON.parse` each state; one bad state would break every peer's message handler).
pub fn decode_awareness(bytes: &[u8], limits: &Limits) -> Result<AwarenessUpdate, DecodeError> {
    let read = || -> Result<AwarenessUpdate, DecodeError> {
        let mut r = Reader::new(bytes);
        // Each entry takes at least 3 bytes: client id, clock, and a string length.
        let count = r.count("awareness entry count", 3)?;
        if count > limits.max_awareness_entries as u64 {
            return Err(DecodeError::TooManyAwarenessEntries {
                count,
                limit: limits.max_awareness_entries,
            });
        }
        let mut clients = std::collections::HashMap::with_capacity(count as usize);
        for _ in 0..count {
            let client = r.client_id("awareness client")?;
            let clock = r.var_u32("awareness clock")?;
            let json = r.string("awareness state")?;
            clients.insert(
                ClientID::new(client),
                AwarenessUpdateEntry {
                    clock,
                    json: json.into(),
                },
            );
        }
        Ok(AwarenessUpdate { clients })
    };
    let update = read().map_err(|e| match e {
        e
        @ (DecodeError::MalformedPayload { .. } | DecodeError::TooManyAwarenessEntries { .. }) => e,
        other => malformed("awareness update", other),
    })?;
    for (client, entry) in &update.clients {
        let client = client.get();
        if entry.json.len() > limits.max_awareness_state_bytes {
            return Err(DecodeError::BadAwarenessState {
                client,
                reason: format!(
                    "{} bytes exceeds the limit of {}",
                    entry.json.len(),
                    limits.max_awareness_state_bytes
                ),
            });
        }
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&entry.json) {
            return Err(DecodeError::BadAwarenessState {
                client,
                reason: format!("not JSON: {e}"),
            });
        }
    }
    Ok(update)
}

/// Encodes one protocol message as one frame.
pub fn encode(message: &Message) -> Vec<u8> {
    message.encode_v1()
}

/// Encodes a sync step 1 carrying `sv`.
pub fn encode_sync_step1(sv: &StateVector) -> Vec<u8> {
    encode(&Message::Sync(SyncMessage::SyncStep1(sv.clone())))
}

/// Encodes a sync step 2 carrying `update`, without copying it first.
pub fn encode_sync_step2(update: &[u8]) -> Vec<u8> {
    encode_sync_payload(SYNC_STEP_2, update)
}

/// Encodes an update message carrying `update`, without copying it first.
pub fn encode_update(update: &[u8]) -> Vec<u8> {
    encode_sync_payload(SYNC_UPDATE, update)
}

fn encode_sync_payload(sub_type: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 12);
    write_var(&mut out, MSG_SYNC);
    write_var(&mut out, sub_type);
    write_var(&mut out, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

/// Encodes an awareness message.
pub fn encode_awareness(update: &AwarenessUpdate) -> Vec<u8> {
    encode(&Message::Awareness(update.clone()))
}

/// Reads a lib0 varUint from the front of `buf`, advancing it; `None` if it is truncated or
/// longer than a u64. For the server's own compact records, which use the same encoding.
pub fn read_var(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Appends `value` as a lib0 varUint.
pub fn write_var(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Doc, GetString, ReadTxn, Text, Transact};

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn an_update_round_trips_through_a_frame() {
        let doc = Doc::new();
        let text = doc.get_or_insert_text("t");
        text.insert(&mut doc.transact_mut(), 0, "hello");
        let update = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let frame = encode_update(&update);
        assert_eq!(
            decode_frame(&frame, &limits()).unwrap(),
            vec![Message::Sync(SyncMessage::Update(update.clone()))]
        );
        let other = Doc::new();
        other
            .transact_mut()
            .apply_update(decode_update(&update).unwrap())
            .unwrap();
        let text = other.get_or_insert_text("t");
        assert_eq!(text.get_string(&other.transact()), "hello");
    }

    #[test]
    fn frames_with_several_messages_yield_them_all() {
        let mut frame = encode(&Message::AwarenessQuery);
        frame.extend(encode_sync_step1(&StateVector::default()));
        let messages = decode_frame(&frame, &limits()).unwrap();
        assert_eq!(messages.len(), 2);
    }

    #[test]
    fn garbage_is_refused_with_the_right_close_code() {
        let cases: Vec<(Vec<u8>, CloseCode)> = vec![
            (vec![], CloseCode::ProtocolError),
            (vec![0x80], CloseCode::ProtocolError),
            (vec![0xff; 12], CloseCode::ProtocolError),
            (vec![9, 0], CloseCode::ProtocolError),
            (vec![0, 7, 0], CloseCode::ProtocolError),
            (vec![0, 2, 0xff, 0xff, 0xff, 0x0f], CloseCode::ProtocolError),
            // A state vector claiming four billion entries in two bytes.
            (
                vec![0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0x0f],
                CloseCode::InvalidPayload,
            ),
            // An update whose client count needs more bytes than it has.
            (vec![0, 2, 3, 1, 0xff, 0xff], CloseCode::InvalidPayload),
            // An awareness update whose state is not JSON.
            (
                vec![1, 6, 1, 1, 1, 2, b'{', b'x'],
                CloseCode::InvalidPayload,
            ),
        ];
        for (frame, code) in cases {
            let err = decode_frame(&frame, &limits()).unwrap_err();
            assert_eq!(err.close_code(), code, "{frame:?}: {err}");
        }
    }

    #[test]
    fn an_update_announcing_more_clients_than_bytes_is_refused() {
        assert!(decode_update(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0]).is_err());
    }

    #[test]
    fn oversize_frames_are_refused_before_decoding() {
        let limits = Limits {
            max_message_bytes: 4,
            ..Limits::default()
        };
        let err = decode_frame(&[0, 2, 3, 1, 2, 3], &limits).unwrap_err();
        assert_eq!(err.close_code(), CloseCode::MessageTooBig);
    }

    #[test]
    fn wide_client_ids_survive_awareness_decoding() {
        let wide = (1u64 << 53) - 1;
        let mut frame = vec![1];
        let mut payload = vec![1];
        write_var(&mut payload, wide);
        payload.extend([3, 2, b'{', b'}']);
        write_var(&mut frame, payload.len() as u64);
        frame.extend(payload);
        let Message::Awareness(update) = &decode_frame(&frame, &limits()).unwrap()[0] else {
            panic!("not awareness");
        };
        assert!(update.clients.keys().any(|c| c.get() == wide));
    }
}

#[cfg(test)]
mod spec_examples {
    //! Every hex example in PROTOCOL.md must be what this codec produces.

    use super::*;
    use yrs::block::ClientID;
    use yrs::sync::Awareness;
    use yrs::{Doc, ReadTxn, Text, Transact};

    const SPEC: &str = include_str!("../../PROTOCOL.md");

    fn hex(bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn assert_in_spec(what: &str, bytes: &[u8]) {
        let hex = hex(bytes);
        assert!(
            SPEC.contains(&format!("`{hex}`")),
            "PROTOCOL.md lacks the example for {what}: `{hex}`"
        );
        assert!(
            decode_frame(bytes, &Limits::default()).is_ok(),
            "{what} does not decode"
        );
    }

    #[test]
    fn protocol_md_examples_are_what_the_codec_produces() {
        let doc = Doc::with_client_id(1);
        let notes = doc.get_or_insert_text("notes");
        let update = {
            let mut txn = doc.transact_mut();
            notes.insert(&mut txn, 0, "hi");
            txn.encode_update_v1()
        };
        assert_in_spec("step 1, empty", &encode_sync_step1(&StateVector::default()));
        assert_in_spec("step 1", &encode_sync_step1(&doc.transact().state_vector()));
        let full = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        assert_in_spec("step 2", &encode_sync_step2(&full));
        assert_in_spec("update", &encode_update(&update));

        let mut awareness = Awareness::new(Doc::with_client_id(1));
        awareness.set_local_state_raw(r#"{"user":{"name":"Ana"}}"#);
        assert_in_spec("awareness", &encode_awareness(&awareness.update().unwrap()));
        awareness.remove_state(ClientID::new(1));
        let removal = awareness.update_with_clients([ClientID::new(1)]).unwrap();
        assert_in_spec("awareness removal", &encode_awareness(&removal));
        assert_in_spec("query-awareness", &encode(&Message::AwarenessQuery));
        assert_in_spec(
            "auth denied",
            &encode(&Message::Auth(Some("read-only".into()))),
        );
    }

    #[test]
    fn protocol_md_lists_every_close_code() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1009, 1011, 4000, 4008, 4401, 4410, 4413, 4503, 4507,
        ] {
            assert!(CloseCode::from_code(code).is_some());
            assert!(
                SPEC.contains(&format!("| {code} |")),
                "PROTOCOL.md lacks close code {code}"
            );
        }
    }
}

#[cfg(test)]
mod scan_tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Arc;
    use yrs::types::Attrs;
    use yrs::{
        Any, Array, ArrayPrelim, Doc, Map, MapPrelim, ReadTxn, Text, TextPrelim, Transact,
        WriteTxn, XmlElementPrelim, XmlFragment,
    };

    fn full_state(doc: &Doc) -> Vec<u8> {
        doc.transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    fn nested_any(depth: usize) -> Any {
        let mut value = Any::from("leaf");
        for _ in 0..depth {
            value = Any::Array(Arc::from(vec![value]));
        }
        value
    }

    #[test]
    fn every_kind_of_content_a_board_holds_passes_the_scan() {
        let doc = Doc::with_client_id((1 << 53) - 1);
        let cards = doc.get_or_insert_map("cards");
        let notes = doc.get_or_insert_text("notes");
        let list = doc.get_or_insert_array("list");
        let xml = doc.get_or_insert_xml_fragment("xml");
        {
            let mut txn = doc.transact_mut();
            let card = cards.insert(&mut txn, "c1", MapPrelim::default());
            card.insert(&mut txn, "text", TextPrelim::new("Checkout is slow"));
            card.insert(&mut txn, "votes", MapPrelim::default());
            card.insert(&mut txn, "position", 1.5);
            card.insert(&mut txn, "nested", nested_any(10));
            let mut map = HashMap::new();
            map.insert("k".to_string(), Any::from(1i64 << 40));
            card.insert(&mut txn, "obj", Any::from(map));
            card.insert(&mut txn, "bytes", Any::Buffer(Arc::from(&b"\x00\x01"[..])));
            notes.insert(&mut txn, 0, "héllo wörld 👋");
            let bold = Attrs::from([("bold".into(), true.into())]);
            notes.format(&mut txn, 0, 5, bold);
            notes.insert_embed(&mut txn, 3, Any::from("image"));
            notes.remove_range(&mut txn, 1, 2);
            list.insert(&mut txn, 0, ArrayPrelim::from(vec![1, 2, 3]));
            list.push_back(&mut txn, false);
            list.remove(&mut txn, 1);
            xml.push_back(&mut txn, XmlElementPrelim::empty("p"));
            cards.remove(&mut txn, "gone");
            let _ = txn.get_or_insert_map("other");
        }
        {
            let mut txn = doc.transact_mut();
            cards.remove(&mut txn, "c1");
        }
        let update = full_state(&doc);
        blocks::parse(&update).unwrap();
        decode_update(&update).unwrap();
    }

    #[test]
    fn values_nested_beyond_the_limit_are_refused_before_yrs_sees_them() {
        let doc = Doc::new();
        let map = doc.get_or_insert_map("m");
        map.insert(
            &mut doc.transact_mut(),
            "deep",
            nested_any(MAX_ANY_DEPTH + 1),
        );
        let err = decode_update(&full_state(&doc)).unwrap_err();
        assert_eq!(err.close_code(), CloseCode::InvalidPayload);
        assert!(err.to_string().contains("nested"), "{err}");
    }

    #[test]
    fn a_nesting_bomb_far_deeper_than_any_stack_is_refused() {
        // One Any item holding 1,000,000 nested single-element arrays: ~2 MB that would
        // recurse a million frames deep in a naive decoder.
        let mut body = vec![1, 1, 5, 0, 0b1000 /* Any */];
        body.extend([1, 1, b'r']); // parent info 1, name "r"
        body.push(1); // one value
        for _ in 0..1_000_000 {
            body.extend([117, 1]); // array of one
        }
        body.push(126); // null at the bottom
        body.push(0); // empty delete set
        let err = decode_update(&body).unwrap_err();
        assert!(err.to_string().contains("nested"), "{err}");
    }

    #[test]
    fn clock_overflow_in_a_deleted_range_is_refused() {
        // No blocks; a delete set with client 1, one range at clock u32::MAX of length 2.
        let mut update = vec![0, 1, 1, 1];
        update.extend([0xff, 0xff, 0xff, 0xff, 0x0f, 2]);
        assert!(decode_update(&update).is_err());
    }
}
