//! A stream of frames fed to a board the way the server's room does. Shared by the
//! `board_session` fuzz target and the fuzz regression tests, so a crash input replays through
//! exactly the code that found it.

use client_protocol::apply::{apply_update, snapshot};
use client_protocol::codec::{decode_frame, Limits, Message, SyncMessage};
use yrs::sync::Awareness;
use yrs::{Doc, ReadTxn, Transact};

/// What the session did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Updates that changed the board (what the server would have stored).
    pub stored: usize,
    /// Updates that did not continue their clients' sequences (not applied; the server asks
    /// their senders for a sync step 2).
    pub resyncs: usize,
    /// Updates on which yrs panicked, after which the board was rebuilt from what was stored
    /// (the server's behaviour: drop the document, reload the board).
    pub reloads: usize,
}

/// Splits `data` into frames (each prefixed by a one-byte length), decodes them, applies updates
/// with the server's apply path, applies awareness, answers step 1 with a diff, and finally
/// snapshots and reloads the board. Panics (outside the server's own guards) on any
/// inconsistency.
pub fn board_session(data: &[u8]) -> Outcome {
    let limits = Limits::default();
    let mut outcome = Outcome::default();
    let mut awareness = Awareness::new(Doc::new());
    // The server's storage: every change it accepted, in order.
    let mut stored: Vec<Vec<u8>> = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = (len as usize).min(tail.len());
        let (frame, tail) = tail.split_at(len);
        rest = tail;
        let Ok(messages) = decode_frame(frame, &limits) else {
            continue;
        };
        for message in messages {
            match message {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let _ = awareness.doc().transact().encode_diff_v1(&sv);
                }
                Message::Sync(SyncMessage::SyncStep2(u) | SyncMessage::Update(u)) => {
                    match apply_update(awareness.doc(), &u) {
                        Ok(applied) => {
                            if let Some(diff) = applied.diff {
                                stored.push(diff);
                                outcome.stored += 1;
                            }
                            // The server closes such a sender with "resync"; nothing is held.
                            outcome.resyncs += usize::from(applied.missing_predecessors);
                        }
                        Err(_poisoned) => {
                            // The room drops the document and reloads the board from storage,
                            // which never saw the offending update.
                            outcome.reloads += 1;
                            let reloaded = Doc::new();
                            for diff in &stored {
                                let applied = apply_update(&reloaded, diff)
                                    .expect("stored changes reload without panicking");
                                assert_eq!(applied.rejected, None, "stored changes reload");
                            }
                            awareness = Awareness::new(reloaded);
                        }
                    }
                }
                Message::Awareness(update) => {
                    let _ = awareness.apply_update_summary(update);
                    let _ = awareness.update();
                }
                _ => {}
            }
        }
    }
    // The resulting board must still snapshot (as the server's compaction does) and reload.
    let state = snapshot(awareness.doc()).expect("a board always snapshots");
    let reloaded = Doc::new();
    let applied = apply_update(&reloaded, &state).expect("a stored board reloads");
    assert_eq!(applied.rejected, None, "a snapshot applies cleanly");
    outcome
}
