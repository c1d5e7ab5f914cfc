//! Applying an untrusted update to a document, exactly as the server does.
//!
//! Shared by the server's rooms and by the `board_session` fuzz target, so that fuzzing exercises
//! the very code that handles participants' bytes.

use std::panic::{catch_unwind, AssertUnwindSafe};

use yrs::{Doc, ReadTxn, StateVector, Transact};

use crate::codec;

/// What applying one update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// What changed in the document as a lib0 v1 update, or `None` if nothing did (a duplicate,
    /// or an update still waiting for missing predecessors).
    pub diff: Option<Vec<u8>>,
    /// Whether the document held pending (not yet integrable) changes before this update. Then
    /// `diff` may include others' changes that this update released, which its sender lacks.
    pub released_pending: bool,
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
pub fn apply_update(doc: &Doc, bytes: &[u8]) -> Result<Applied, Poisoned> {
    let update = match codec::decode_update(bytes) {
        Ok(update) => update,
        Err(e) => {
            return Ok(Applied {
                diff: None,
                released_pending: false,
                rejected: Some(e.to_string()),
            })
        }
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut txn = doc.transact_mut();
        let had_pending = txn.has_missing_updates();
        let result = txn.apply_update(update);
        (had_pending, result, txn.encode_update_v1())
    }));
    let (released_pending, result, diff) = outcome.map_err(|_| Poisoned)?;
    Ok(Applied {
        // An update with no blocks and an empty delete set encodes as these two bytes.
        diff: (diff != [0, 0]).then_some(diff),
        released_pending,
        rejected: result.err().map(|e| e.to_string()),
    })
}

/// The whole document as one lib0 v1 update: what the server stores as a board's snapshot.
///
/// Only integrated content is included. Pending changes (updates whose predecessors never
/// arrived) were never stored or shown to anyone, and yrs's `encode_state_as_update_v1` can panic
/// while merging crafted pending data (found by the `board_session` fuzz target), so they are left
/// out rather than risked.
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
    fn garbage_is_rejected_without_touching_the_document() {
        let doc = Doc::new();
        let applied = apply_update(&doc, &[1, 2, 3]).unwrap();
        assert_eq!(applied.diff, None);
        assert!(applied.rejected.is_some());
    }
}
