//! Applying an untrusted update to a document, exactly as the server does.
//!
//! Shared by the server's rooms and by the `board_session` fuzz target, so that fuzzing exercises
//! the very code that handles participants' bytes.

use std::panic::{catch_unwind, AssertUnwindSafe};

use yrs::block::ClientID;
use yrs::{Doc, ReadTxn, StateVector, Transact, WriteTxn};

use crate::blocks::Blocks;
use crate::codec;

/// What applying one update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// What changed in the document as a lib0 v1 update, or `None` if nothing did (a duplicate,
    /// or an update whose predecessors are missing).
    pub diff: Option<Vec<u8>>,
    /// Whether part of the update depended on changes the document does not have. That part was
    /// dropped rather than held: the sender must resync, and its handshake will deliver it with
    /// its predecessors.
    pub missing_predecessors: bool,
    /// Why the update was refused, if it was. Whatever it integrated before failing is still in
    /// `diff`, since it is now part of the document.
    pub rejected: Option<String>,
}

/// Applying an update panicked inside yrs: the document may be inconsistent and must be dropped
/// (the server reloads the board from storage, which never saw the offending update).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("applying the update panicked; the document can no longer be trusted")]
pub struct Poisoned;

/// Decodes `bytes` (lib0 v1) and applies them to `doc` in one transaction.
///
/// An update must continue every client's sequence: one whose blocks start beyond the clock the
/// document has for their client (or that carries Skip blocks, i.e. announced gaps) is not
/// applied at all and reported as `missing_predecessors`. yrs 0.28 integrates some such updates
/// with a hole in its block store, and a later update for the same client then makes it read freed
/// memory (a heap use-after-free found by the `board_session` fuzz target under
/// AddressSanitizer). Honest clients lose nothing: a sync handshake always sends changes together
/// with their predecessors. For the same reason the document never keeps *pending* changes.
pub fn apply_update(doc: &Doc, bytes: &[u8]) -> Result<Applied, Poisoned> {
    match codec::scan_update(bytes) {
        Ok(blocks) => apply_scanned(doc, bytes, &blocks),
        Err(e) => Ok(rejected(e)),
    }
}

/// [`apply_update`] for bytes whose structure `blocks` ([`codec::scan_update`]) the caller
/// already read, so that they are not read twice.
pub fn apply_scanned(doc: &Doc, bytes: &[u8], blocks: &Blocks<'_>) -> Result<Applied, Poisoned> {
    let update = match codec::decode_scanned_update(bytes) {
        Ok(update) => update,
        Err(e) => return Ok(rejected(e)),
    };
    let gap = {
        let sv = doc.transact().state_vector();
        blocks
            .sections()
            .into_iter()
            .any(|(client, first, skips)| skips || first > sv.get(&ClientID::new(client)))
    };
    if gap {
        return Ok(Applied {
            diff: None,
            missing_predecessors: true,
            rejected: None,
        });
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut txn = doc.transact_mut();
        let result = txn.apply_update(update);
        let missing_predecessors = txn.prune_pending().is_some();
        (result, missing_predecessors, txn.encode_update_v1())
    }));
    let (result, missing_predecessors, diff) = outcome.map_err(|_| Poisoned)?;
    Ok(Applied {
        // An update with no blocks and an empty delete set encodes as these two bytes.
        diff: (diff != [0, 0]).then_some(diff),
        missing_predecessors,
        rejected: result.err().map(|e| e.to_string()),
    })
}

/// An update refused before anything was applied.
fn rejected(error: codec::DecodeError) -> Applied {
    Applied {
        diff: None,
        missing_predecessors: false,
        rejected: Some(error.to_string()),
    }
}

/// The whole document as one lib0 v1 update: what the server stores as a board's snapshot.
///
/// Only integrated content is included: yrs's `encode_state_as_update_v1` can panic while merging
/// crafted pending data (found by the `board_session` fuzz target), and [`apply_update`] keeps
/// none anyway.
///
/// The snapshot is checked to read back before it is returned: one that could not would replace a
/// readable log with an unreadable board.
pub fn snapshot(doc: &Doc) -> Result<Vec<u8>, Poisoned> {
    let state = catch_unwind(AssertUnwindSafe(|| {
        doc.transact().encode_diff_v1(&StateVector::default())
    }))
    .map_err(|_| Poisoned)?;
    codec::decode_update(&state).map_err(|_| Poisoned)?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::Text;

    #[test]
    fn a_duplicate_update_changes_nothing() {
        let source = Doc::new();
        let text = source.get_or_insert_text("t");
        text.insert(&mut source.transact_mut(), 0, "hello");
        let update = source
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let target = Doc::new();
        let first = apply_update(&target, &update).unwrap();
        assert!(first.diff.is_some());
        assert_eq!(first.rejected, None);
        let again = apply_update(&target, &update).unwrap();
        assert_eq!(again.diff, None);
    }

    #[test]
    fn an_update_whose_predecessors_are_missing_is_dropped_not_held() {
        let source = Doc::with_client_id(1);
        let text = source.get_or_insert_text("t");
        text.insert(&mut source.transact_mut(), 0, "a");
        let second = {
            let mut txn = source.transact_mut();
            text.insert(&mut txn, 1, "b");
            txn.encode_update_v1()
        };
        let target = Doc::new();
        let applied = apply_update(&target, &second).unwrap();
        assert!(applied.missing_predecessors);
        assert_eq!(applied.diff, None);
        assert!(!target.transact().has_missing_updates());
    }

    #[test]
    fn garbage_is_rejected_without_touching_the_document() {
        let doc = Doc::new();
        let applied = apply_update(&doc, &[1, 2, 3]).unwrap();
        assert_eq!(applied.diff, None);
        assert!(applied.rejected.is_some());
    }
}
