//! A room's links to the other servers that share its store (Redis): the task that follows the
//! board's log for what they append, and the task that brings in their participants' presence.
//!
//! A room holds these links only while someone on this server is on the board (or an API request
//! is being answered): with its last participant gone, the room drops them, which ends its
//! blocking reads and its presence subscription. When someone comes back, the room first reads
//! what it missed, then links again (see `Board::link` in [`super::board`]).

use std::sync::Arc;
use std::time::Duration;

use client_protocol::BoardId;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::board::now_ms;
use super::handle::Command;
use crate::metrics::Metrics;
use crate::storage::{Followed, Follower, Heard, LogSeq, PresenceLink, Store};

/// How often a server tells the others of a board that it is alive.
pub(super) const HEARTBEAT: Duration = Duration::from_secs(3);

/// A server not heard from for this long is taken for gone, with its participants: with the
/// heartbeat check's own period, they disappear within 12 s of a crash.
pub(super) const SERVER_SILENCE: Duration = Duration::from_secs(9);

/// How often at most a room shares its summary for the other servers' listings, while edits
/// made on it change it.
pub(super) const SUMMARY_EVERY: Duration = Duration::from_secs(6);

/// How long one read of a followed log waits for new records.
const FOLLOW_WAIT: Duration = Duration::from_secs(5);

/// The tasks that keep a room in step with the other servers; dropping this ends them.
pub(super) struct Links {
    follow: JoinHandle<()>,
    relay: Option<JoinHandle<()>>,
    /// Presence messages for the other servers (if the store shares presence), published in
    /// order by a task of the store's.
    presence_out: Option<mpsc::Sender<Vec<u8>>>,
    /// A reader of the log of the room's own (the follower's is busy waiting), for the room to
    /// catch up at once before answering an API request; opened on first use.
    pub catch_up: Option<Box<dyn Follower>>,
    /// The room's participant count, written to the store by a task of its own (so that a slow
    /// store never holds the room), which ends after writing the last one.
    counts: watch::Sender<usize>,
}

impl Links {
    /// Starts following `board`'s log after `after`, sharing presence over `presence` if the
    /// store shares it, and reporting the room's participant count to `store`.
    pub fn start(
        (store, board): (Arc<dyn Store>, BoardId),
        follower: Box<dyn Follower>,
        after: LogSeq,
        presence: Option<PresenceLink>,
        inbox: mpsc::Sender<Command>,
        metrics: Arc<Metrics>,
    ) -> Self {
        use tracing::Instrument as _;
        let (presence_out, incoming) = presence.map(|p| (p.outgoing, p.incoming)).unzip();
        let relay = incoming.map(|incoming| tokio::spawn(relay_presence(incoming, inbox.clone())));
        let follow = tokio::spawn(follow(follower, inbox, after, metrics).in_current_span());
        let (counts, reports) = watch::channel(0);
        tokio::spawn(report_participants(store, board, reports).in_current_span());
        Links {
            follow,
            relay,
            presence_out,
            catch_up: None,
            counts,
        }
    }

    /// Publishes a presence message for the other servers (dropped, with a warning, if their
    /// queue is full: presence is renewed every few seconds).
    pub fn publish(&self, frame: &[u8]) {
        if let Some(out) = &self.presence_out {
            if out.try_send(frame.to_vec()).is_err() {
                tracing::warn!("presence for the other servers dropped: their queue is full");
            }
        }
    }

    /// Reports how many participants the room has (with every heartbeat, which keeps the count
    /// from lapsing, and with 0 when the room stops following).
    pub fn report(&self, here: usize) {
        self.counts.send_replace(here);
    }
}

/// Writes each participant count the room reports, the newest first if several are waiting,
/// until the room stops following (after writing the last one).
async fn report_participants(
    store: Arc<dyn Store>,
    board: BoardId,
    mut reports: watch::Receiver<usize>,
) {
    while reports.changed().await.is_ok() {
        let here = *reports.borrow_and_update();
        if let Err(error) = store.count_participants(&board, here).await {
            tracing::warn!(%error, "the participant count was not shared with the other servers");
        }
    }
}

impl Drop for Links {
    fn drop(&mut self) {
        // Their inbox senders would otherwise keep the room's inbox open.
        self.follow.abort();
        if let Some(relay) = &self.relay {
            relay.abort();
        }
    }
}

/// Why a room can no longer follow the board's log as it is.
pub(super) enum Interrupted {
    /// The stream was trimmed past what the room had read: it must reload from the newest
    /// checkpoint.
    Behind,
    /// Another server deleted the board: the room closes, as on the server that deleted it.
    Deleted,
}

/// What one read of the log brings the room: the other servers' updates with their positions
/// (this server's own records are in its board already), after checking that no position was
/// skipped since `after`, which it then advances.
pub(super) fn take(
    after: &mut LogSeq,
    records: Vec<Followed>,
    metrics: &Metrics,
) -> Result<Vec<(LogSeq, Vec<u8>)>, Interrupted> {
    let Some(last) = records.last().map(|r| r.seq) else {
        return Ok(Vec::new());
    };
    // A deletion empties the stream down to its tombstone, so it comes before any gap.
    if records.iter().any(|r| r.deleted) {
        return Err(Interrupted::Deleted);
    }
    // Positions are dense: a gap means the stream was trimmed past `after`. (A board that loaded
    // empty may start anywhere: a deleted board's positions go on.)
    if *after > 0 && records.first().is_some_and(|first| first.seq > *after + 1) {
        return Err(Interrupted::Behind);
    }
    *after = last;
    let now = now_ms();
    Ok(records
        .into_iter()
        .filter(|r| !r.own)
        .map(|r| {
            let lag_ms = now.saturating_sub(r.stored_ms);
            metrics.follow_lag_seconds.observe(lag_ms as f64 / 1000.0);
            (r.seq, r.update)
        })
        .collect())
}

/// Feeds the room what other servers append to its board, from position `after` on.
async fn follow(
    mut follower: Box<dyn Follower>,
    inbox: mpsc::Sender<Command>,
    mut after: LogSeq,
    metrics: Arc<Metrics>,
) {
    loop {
        match follower.next(after, FOLLOW_WAIT).await {
            Ok(records) => match take(&mut after, records, &metrics) {
                Ok(records) if records.is_empty() => {}
                Ok(records) => {
                    if inbox.send(Command::Remote { records }).await.is_err() {
                        return;
                    }
                }
                Err(interrupted) => {
                    let command = match interrupted {
                        Interrupted::Behind => Command::FellBehind,
                        Interrupted::Deleted => Command::DeletedElsewhere,
                    };
                    let _ = inbox.send(command).await;
                    return;
                }
            },
            Err(error) => {
                metrics.follow_errors.inc();
                tracing::warn!(%error, after, "reading the board's log failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Feeds the room the presence the other servers publish for its board.
async fn relay_presence(mut incoming: mpsc::Receiver<Heard>, inbox: mpsc::Sender<Command>) {
    while let Some(heard) = incoming.recv().await {
        let command = match heard {
            Heard::Message { node, frame } => Command::RemotePresence { node, frame },
            Heard::Resumed => Command::PresenceResumed,
        };
        if inbox.send(command).await.is_err() {
            return;
        }
    }
}
