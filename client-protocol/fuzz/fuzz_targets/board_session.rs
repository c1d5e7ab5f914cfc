//! A stream of frames fed to a board the way the server's room does: decode, apply updates with
//! the server's own apply path, apply awareness, answer step 1 with a diff. Nothing may panic
//! (the fuzzer's panic hook aborts, so yrs panics are found even though the server would survive
//! them by reloading the board).
#![no_main]

use client_protocol::apply::apply_update;
use client_protocol::codec::{decode_frame, Limits, Message, SyncMessage};
use libfuzzer_sys::fuzz_target;
use yrs::sync::Awareness;
use yrs::{Doc, ReadTxn, StateVector, Transact};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let mut awareness = Awareness::new(Doc::new());
    // Frames are length-prefixed by one byte in the fuzz input.
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = (len as usize).min(tail.len());
        let (frame, tail) = tail.split_at(len);
        rest = tail;
        let Ok(messages) = decode_frame(frame, &limits) else { continue };
        for message in messages {
            match message {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let _ = awareness.doc().transact().encode_diff_v1(&sv);
                }
                Message::Sync(SyncMessage::SyncStep2(u) | SyncMessage::Update(u)) => {
                    let _ = apply_update(awareness.doc(), &u).expect("apply never poisons");
                }
                Message::Awareness(update) => {
                    let _ = awareness.apply_update_summary(update);
                    let _ = awareness.update();
                }
                _ => {}
            }
        }
    }
    // The resulting board must still encode and reload.
    let state = awareness
        .doc()
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let reloaded = Doc::new();
    let _ = apply_update(&reloaded, &state).expect("a stored board reloads");
});
