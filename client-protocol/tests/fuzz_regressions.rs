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

/// A crafted update on which yrs's block store subtracts with overflow while integrating. The
/// server's guard turns the panic into a reload from storage; with overflow checks on in release
/// builds too (Cargo.toml), the same holds in production instead of a silent wrap.
#[test]
fn an_update_that_overflows_inside_yrs_reloads_the_board_instead_of_corrupting_it() {
    let outcome = board_session(include_bytes!(
        "fuzz_regressions/board_session-yrs-integrate-overflow.bin"
    ));
    assert!(outcome.reloads >= 1, "{outcome:?}");
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
