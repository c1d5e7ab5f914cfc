//! A stream of frames fed to a board the way the server's room does. Shared by the
//! `board_session` fuzz target and the fuzz regression tests, so a crash input replays through
//! exactly the code that found it.

use client_protocol::access::{judge, refuse, restore, Actor, Role};
use client_protocol::apply::{apply_update, snapshot};
use client_protocol::blocks::parse;
use client_protocol::codec::{decode_frame, Limits, Message, SyncMessage};
use client_protocol::inspect::Locator;
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
    /// Updates with changes refused by access control.
    pub refusals: usize,
}

/// The sender of the frame at `index`: frames alternate between a participant, a viewer and an
/// owner, so that every update goes through access control's inspection and refusal paths.
fn sender(index: usize) -> Actor {
    let role = [Role::Participant, Role::Viewer, Role::Owner][index % 3];
    Actor {
        role,
        sub: "p-1".into(),
        name: "Ana".into(),
    }
}

/// What the server stores and records when its document integrated `diff`.
fn integrated(diff: Vec<u8>, locator: &mut Locator, stored: &mut Vec<Vec<u8>>) {
    locator.record(&parse(&diff).expect("the document's own updates parse"));
    stored.push(diff);
}

/// The locator must expect exactly the clocks the document has.
fn assert_in_step(doc: &Doc, locator: &Locator) {
    for (client, clock) in doc.transact().state_vector().iter() {
        assert_eq!(
            locator.end(client.get()),
            *clock,
            "the locator and the document disagree on client {client}"
        );
    }
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
    let mut locator = Locator::new();
    let mut rest = data;
    let mut index = 0;
    while let Some((&len, tail)) = rest.split_first() {
        index += 1;
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
                Message::Sync(sync @ (SyncMessage::SyncStep2(_) | SyncMessage::Update(_))) => {
                    let live = matches!(sync, SyncMessage::Update(_));
                    let (SyncMessage::SyncStep2(u) | SyncMessage::Update(u)) = sync else {
                        unreachable!()
                    };
                    // Access control, as the room does it for a sender who may not change
                    // everything.
                    let actor = sender(index);
                    let mut restores = Vec::new();
                    let mut u = u;
                    if !actor.role.edits_everything() {
                        if let Ok(blocks) = parse(&u) {
                            let inspection = locator.inspect(&blocks);
                            let txn = awareness.doc().transact();
                            let verdict = judge(&actor, &inspection, &txn);
                            if !verdict.allowed() {
                                let refusal = refuse(&blocks, &inspection, &verdict, live, &txn);
                                outcome.refusals += 1;
                                restores = refusal.restore;
                                drop(txn);
                                u = refusal.update;
                            }
                        }
                    }
                    match apply_update(awareness.doc(), &u) {
                        Ok(applied) => {
                            if let Some(diff) = applied.diff {
                                integrated(diff, &mut locator, &mut stored);
                                outcome.stored += 1;
                            }
                            if let Some(diff) = restore(awareness.doc(), &restores) {
                                integrated(diff, &mut locator, &mut stored);
                            }
                            assert_in_step(awareness.doc(), &locator);
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
                            locator = Locator::new();
                            for diff in &stored {
                                locator.record(&parse(diff).expect("stored changes parse"));
                            }
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
