//! Every input a fuzz target ever crashed on, replayed forever (see FUZZING.md).

#[path = "support/board_session.rs"]
mod support;

use support::board_session;

/// A pending update whose merge made yrs's `encode_state_as_update_v1` panic (an `unwrap` on
/// `EndOfBuffer` in `merge_pending_v1`); snapshots now leave pending data out.
#[test]
fn a_board_with_crafted_pending_updates_still_snapshots_and_reloads() {
    board_session(include_bytes!(
        "fuzz_regressions/board_session-pending-merge-panic.bin"
    ));
}

/// Legacy JSON content (type 2) that yrs 0.28 encodes with one string fewer than it decodes: the
/// board's snapshot could not be read back. Such content is now refused on arrival.
#[test]
fn legacy_json_content_cannot_make_a_snapshot_unreadable() {
    board_session(include_bytes!(
        "fuzz_regressions/board_session-snapshot-rejected.bin"
    ));
}

/// A crafted update on which yrs's block store subtracted with overflow while integrating. It
/// does not continue its client's sequence, so it no longer reaches yrs; were a similar one to,
/// the server's guard turns the panic into a reload from storage, and overflow checks stay on in
/// release builds (Cargo.toml) so that production never wraps silently instead.
#[test]
fn an_update_that_overflowed_inside_yrs_never_corrupts_the_board() {
    let outcome = board_session(include_bytes!(
        "fuzz_regressions/board_session-yrs-integrate-overflow.bin"
    ));
    assert!(outcome.reloads + outcome.resyncs >= 1, "{outcome:?}");
}

/// An update held as pending, then a conflicting one for the same client and clock: yrs 0.28's
/// retry of the pending update read freed memory (AddressSanitizer: heap-use-after-free in
/// `integrate_item`). The server now never holds pending updates.
#[test]
fn a_pending_update_retried_against_a_conflicting_one_is_never_held() {
    let outcome = board_session(include_bytes!(
        "fuzz_regressions/board_session-yrs-pending-use-after-free.bin"
    ));
    assert!(outcome.resyncs >= 1, "{outcome:?}");
}

#[test]
fn every_example_of_the_spec_replays_as_one_session() {
    // The spec's examples, length-prefixed, are the board_session fuzz target's seed corpus.
    let spec = include_str!("../../PROTOCOL.md");
    let mut session = Vec::new();
    for example in spec.split('`').skip(1).step_by(2) {
        let bytes: Option<Vec<u8>> = example
            .split(' ')
            .map(|h| {
                (h.len() == 2)
                    .then(|| u8::from_str_radix(h, 16).ok())
                    .flatten()
            })
            .collect();
        if let Some(bytes) = bytes.filter(|b| !b.is_empty() && b.len() < 256) {
            session.push(bytes.len() as u8);
            session.extend(bytes);
        }
    }
    assert!(session.len() > 20, "the spec's examples were found");
    let outcome = board_session(&session);
    assert!(outcome.stored >= 1, "{outcome:?}");
    assert_eq!(outcome.reloads, 0);
}

/// An update that listed client 0 twice (blocks from clock 0, then again from clock 65): the
/// check that updates continue their clients' sequences looked at the first run only, and yrs
/// read the second as blocks after a gap, holding a Skip in the document and encoding clocks it
/// did not have (the locator, which follows what is stored, disagreed with the document; other
/// inputs of this shape made yrs's block store subtract with overflow). A repeated client is now
/// refused.
#[test]
fn an_update_listing_a_client_twice_is_refused() {
    let outcome = board_session(include_bytes!(
        "fuzz_regressions/board_session-repeated-client-section.bin"
    ));
    assert_eq!(outcome.reloads, 0, "{outcome:?}");
}

/// An update with subdocument content (type 9): yrs 0.28 leaks every subdocument it decodes
/// (LeakSanitizer). Subdocuments are refused on arrival, so the update never reaches yrs.
#[test]
fn subdocument_content_is_refused_before_yrs_decodes_it() {
    board_session(include_bytes!(
        "fuzz_regressions/board_session-subdocument-leak.bin"
    ));
}
