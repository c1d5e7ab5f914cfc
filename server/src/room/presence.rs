//! Presence bookkeeping: which connection controls which awareness client ids (and, on a store
//! several servers share, which other server speaks for each of its participants).
//!
//! A client announces itself with awareness updates carrying its Yjs client id. The server never
//! trusts a client to say goodbye: when a connection closes, every id it controlled is removed at
//! once for everyone else, and ids not renewed within the awareness timeout are removed too.

use std::collections::HashMap;

use yrs::block::ClientID;
use yrs::sync::awareness::AwarenessUpdateSummary;
use yrs::sync::{Awareness, AwarenessUpdate};

use super::handle::ConnId;

/// Awareness client ids and who last spoke for each: a connection of this server (`ConnId`), or
/// for another server's participants, that server (its id).
#[derive(Debug)]
pub(super) struct Presence<O = ConnId> {
    owners: HashMap<ClientID, O>,
}

impl<O> Default for Presence<O> {
    fn default() -> Self {
        Presence {
            owners: HashMap::new(),
        }
    }
}

impl<O: Copy + PartialEq> Presence<O> {
    /// Records that `owner` now speaks for `ids` (a client that reconnected on a new socket takes
    /// its ids along, so the old socket's eventual timeout does not remove them).
    fn claim(&mut self, owner: O, ids: impl IntoIterator<Item = ClientID>) {
        for id in ids {
            self.owners.insert(id, owner);
        }
    }

    /// Records an awareness update `owner` sent, once applied: it speaks for the ids it
    /// announced or renewed, and those it removed are forgotten.
    pub fn applied(&mut self, owner: O, summary: &AwarenessUpdateSummary) {
        let spoken = summary.added.iter().chain(&summary.updated).copied();
        self.claim(owner, spoken);
        self.release(&summary.removed);
    }

    /// Whether someone here speaks for `id` (for connections: else it is another server's).
    pub fn owns(&self, id: ClientID) -> bool {
        self.owners.contains_key(&id)
    }

    /// Every id someone here speaks for.
    pub fn ids(&self) -> impl Iterator<Item = ClientID> + '_ {
        self.owners.keys().copied()
    }

    /// Forgets and returns every id.
    pub fn take_all(&mut self) -> Vec<ClientID> {
        self.owners.drain().map(|(id, _)| id).collect()
    }

    /// Forgets `ids`, whose states were removed.
    pub fn release(&mut self, ids: &[ClientID]) {
        for id in ids {
            self.owners.remove(id);
        }
    }

    /// Forgets and returns every id `owner` spoke for.
    pub fn take(&mut self, owner: O) -> Vec<ClientID> {
        let ids: Vec<ClientID> = self
            .owners
            .iter()
            .filter(|(_, spoke)| **spoke == owner)
            .map(|(id, _)| *id)
            .collect();
        self.release(&ids);
        ids
    }
}

/// Whether `id` has a live (non-removed) awareness state. States were checked to be JSON on
/// arrival, so skimming one (without building a value) only tells whether it is there.
pub(super) fn has_live_state(awareness: &Awareness, id: ClientID) -> bool {
    awareness.state::<serde::de::IgnoredAny>(id).is_some()
}

/// Ids in `update` that announce a live state with a clock the server has already seen for a
/// removed state. Such an announcement is ignored by every peer; answering the sender with the
/// removal makes a stock client bump its clock and announce itself again at once, instead of
/// staying invisible until its next renewals catch up.
pub(super) fn stale_announcements(
    awareness: &Awareness,
    update: &AwarenessUpdate,
) -> Vec<ClientID> {
    update
        .clients
        .iter()
        .filter(|(id, entry)| {
            entry.json.as_ref() != "null"
                && awareness
                    .meta(**id)
                    .is_some_and(|(clock, _)| clock >= entry.clock)
                && !has_live_state(awareness, **id)
        })
        .map(|(id, _)| *id)
        .collect()
}

/// Forgets every trace of `ids` (their states and clocks), so that each is taken afresh when
/// announced again at the clock it had, as another server does when asked for its participants.
/// (Removing a state instead would raise its clock, and the announcement would be ignored.)
pub(super) fn forget(awareness: &mut Awareness, ids: &[ClientID]) {
    let keep: Vec<ClientID> = awareness
        .iter()
        .map(|(id, _)| id)
        .filter(|id| !ids.contains(id))
        .collect();
    let mut fresh = Awareness::new(awareness.doc().clone());
    match awareness.update_with_clients(keep) {
        Ok(kept) => {
            if let Err(error) = fresh.apply_update(kept) {
                tracing::warn!(%error, "awareness states not kept");
            }
        }
        Err(error) => tracing::warn!(%error, "awareness states not kept"),
    }
    *awareness = fresh;
}

/// Ids whose live state was last renewed more than `timeout_ms` before `now_ms`.
pub(super) fn expired(awareness: &Awareness, now_ms: u64, timeout_ms: u64) -> Vec<ClientID> {
    awareness
        .iter()
        .filter(|(_, state)| {
            state.data.is_some() && now_ms.saturating_sub(state.last_updated) >= timeout_ms
        })
        .map(|(id, _)| id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forgotten_state_is_taken_again_at_the_clock_it_had_and_the_others_are_kept() {
        let mut awareness = Awareness::new(yrs::Doc::new());
        let announce = |awareness: &mut Awareness, id: u64, clock: u32, json: &str| {
            let update = AwarenessUpdate {
                clients: [(
                    ClientID::new(id),
                    yrs::sync::awareness::AwarenessUpdateEntry {
                        clock,
                        json: json.into(),
                    },
                )]
                .into(),
            };
            awareness.apply_update(update).unwrap();
        };
        announce(&mut awareness, 1, 4, r#"{"user":"remote"}"#);
        announce(&mut awareness, 2, 7, r#"{"user":"here"}"#);
        announce(&mut awareness, 3, 2, "null");
        forget(&mut awareness, &[ClientID::new(1)]);
        assert!(!has_live_state(&awareness, ClientID::new(1)));
        assert!(awareness.meta(ClientID::new(1)).is_none());
        assert_eq!(awareness.meta(ClientID::new(2)).map(|m| m.0), Some(7));
        assert!(has_live_state(&awareness, ClientID::new(2)));
        assert_eq!(awareness.meta(ClientID::new(3)).map(|m| m.0), Some(2));
        announce(&mut awareness, 1, 4, r#"{"user":"remote"}"#);
        assert!(has_live_state(&awareness, ClientID::new(1)));
    }

    #[test]
    fn a_connection_gives_up_the_ids_another_one_claimed() {
        let mut presence = Presence::default();
        let id = ClientID::new(7);
        presence.claim(1, [id]);
        presence.claim(2, [id]);
        assert!(presence.take(1).is_empty());
        assert_eq!(presence.take(2), vec![id]);
    }
}
