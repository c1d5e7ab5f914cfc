//! The registry of loaded boards.
//!
//! [`Rooms::attach`] is the only way to reach a room, and it is an atomic get-or-create under one
//! lock: concurrent first connections to a board all get the same room, which loads the board
//! exactly once while their joins wait in its inbox — nobody ever sees a half-loaded board.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use client_protocol::BoardId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::board;
use super::handle::{Attachment, RoomHandle};
use crate::config::RoomConfig;
use crate::history::History;
use crate::metrics::Metrics;
use crate::storage::Store;

/// Shared state of the registry.
struct Inner {
    /// Loaded boards. A std mutex: every critical section is a map lookup or insert, never an
    /// await, so a blocking lock is cheaper and cannot be held across a suspension point.
    rooms: Mutex<HashMap<BoardId, RoomHandle>>,
    history: Arc<History>,
    config: RoomConfig,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    metrics: Arc<Metrics>,
}

/// The registry of loaded boards; cheap to clone.
#[derive(Clone)]
pub(crate) struct Rooms {
    inner: Arc<Inner>,
}

/// Asks up to `count` rooms that nobody is on to unload now, longest idle first. A room that
/// gained a participant meanwhile stays (it checks again itself).
fn evict_idle(rooms: &HashMap<BoardId, RoomHandle>, count: usize) {
    let mut idle: Vec<(u64, &RoomHandle)> = rooms
        .values()
        .filter(|h| h.attachments.load(Ordering::Acquire) == 0)
        .map(|h| (h.idle_since_ms.load(Ordering::Relaxed), h))
        .filter(|(since, _)| *since > 0)
        .collect();
    idle.sort_by_key(|(since, _)| *since);
    for (_, room) in idle.into_iter().take(count) {
        // A full inbox means the room is busy, hence not idle: skip it.
        let _ = room.inbox.try_send(super::handle::Command::Evict);
    }
}

impl Rooms {
    /// A registry whose rooms persist to `history`'s store and stop at `shutdown`.
    pub fn new(
        history: Arc<History>,
        config: RoomConfig,
        shutdown: CancellationToken,
        tracker: TaskTracker,
        metrics: Arc<Metrics>,
    ) -> Self {
        Rooms {
            inner: Arc::new(Inner {
                rooms: Mutex::new(HashMap::new()),
                history,
                config,
                shutdown,
                tracker,
                metrics,
            }),
        }
    }

    /// Attaches to the room of `board`, starting it (and its load) if it is not running.
    pub fn attach(&self, board: &BoardId) -> Attachment {
        let mut rooms = self.inner.rooms.lock().expect("room registry poisoned");
        let handle = match rooms.get(board) {
            // A room whose inbox is closed has stopped (failed, or is refusing its last joins):
            // start a fresh one rather than send joins into the void.
            Some(handle) if !handle.inbox.is_closed() => handle.clone(),
            _ => {
                let handle = self.start(board);
                rooms.insert(board.clone(), handle.clone());
                if rooms.len() > self.inner.config.max_loaded_boards {
                    evict_idle(&rooms, rooms.len() - self.inner.config.max_loaded_boards);
                }
                handle
            }
        };
        handle.attachments.fetch_add(1, Ordering::AcqRel);
        Attachment { handle }
    }

    fn start(&self, board: &BoardId) -> RoomHandle {
        let (inbox, commands) = mpsc::channel(self.inner.config.inbox_capacity);
        let handle = RoomHandle {
            board: board.clone(),
            inbox,
            participants: Arc::new(AtomicUsize::new(0)),
            idle_since_ms: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            attachments: Arc::new(AtomicUsize::new(0)),
        };
        self.inner.tracker.spawn(board::run(
            handle.clone(),
            commands,
            board::Context {
                rooms: self.clone(),
                store: self.inner.history.store().clone(),
                history: self.inner.history.clone(),
                config: self.inner.config.clone(),
                shutdown: self.inner.shutdown.clone(),
                metrics: self.inner.metrics.clone(),
            },
        ));
        handle
    }

    /// Removes `room` if no connection is attached to it. Returns whether it was removed; after
    /// that, new connections start a fresh room.
    pub(super) fn remove_if_idle(&self, room: &RoomHandle) -> bool {
        let mut rooms = self.inner.rooms.lock().expect("room registry poisoned");
        match rooms.get(&room.board) {
            Some(current)
                if current.same_room(room) && room.attachments.load(Ordering::Acquire) == 0 =>
            {
                rooms.remove(&room.board);
                true
            }
            _ => false,
        }
    }

    /// Removes `room` whatever its attachments (it failed); new connections start a fresh room.
    pub(super) fn remove(&self, room: &RoomHandle) {
        let mut rooms = self.inner.rooms.lock().expect("room registry poisoned");
        if rooms
            .get(&room.board)
            .is_some_and(|current| current.same_room(room))
        {
            rooms.remove(&room.board);
        }
    }

    /// The room of `board` if it is loaded (without loading it).
    pub fn loaded_room(&self, board: &BoardId) -> Option<RoomHandle> {
        let rooms = self.inner.rooms.lock().expect("room registry poisoned");
        rooms.get(board).filter(|h| !h.inbox.is_closed()).cloned()
    }

    /// The store rooms persist to.
    pub fn store(&self) -> &Arc<dyn Store> {
        self.inner.history.store()
    }

    /// The history of the boards.
    pub fn history(&self) -> &Arc<History> {
        &self.inner.history
    }

    /// How many boards are loaded.
    pub fn loaded(&self) -> usize {
        self.inner
            .rooms
            .lock()
            .expect("room registry poisoned")
            .len()
    }
}
