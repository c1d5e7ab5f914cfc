//! Group commit: many appends share one `fsync`.
//!
//! Writers put their records into sled (which only buffers them), then ask for a durability
//! ticket and wait. A dedicated thread flushes whenever tickets are outstanding; one flush covers
//! every ticket taken before it started, so under load each flush carries many updates from many
//! boards, and when idle a single append waits for just one flush.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::watch;

use super::StoreError;

/// Which tickets the flush thread has settled.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// Every ticket up to this one is durable.
    durable: u64,
    /// The newest ticket whose flush failed (0: none).
    failed: u64,
    /// The error of that flush.
    error: Option<Arc<str>>,
}

/// Tickets handed out, guarded by the mutex the flush thread sleeps on.
#[derive(Debug, Default)]
struct Requests {
    /// The newest ticket handed out.
    issued: u64,
    /// Set at close: the thread finishes outstanding tickets and exits.
    closing: bool,
}

struct Shared {
    requests: Mutex<Requests>,
    wake: Condvar,
    progress: watch::Sender<Progress>,
}

/// The group-commit coordinator for one sled database.
pub(super) struct GroupCommit {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl GroupCommit {
    /// Starts the flush thread for `db`.
    pub(super) fn start(db: sled::Db) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            requests: Mutex::new(Requests::default()),
            wake: Condvar::new(),
            progress: watch::Sender::new(Progress::default()),
        });
        let thread = std::thread::Builder::new()
            .name("parcours-flush".into())
            .spawn({
                let shared = shared.clone();
                move || flush_loop(&db, &shared)
            })?;
        Ok(GroupCommit {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Waits until everything written to the database before this call is durable.
    pub(super) async fn durable(&self) -> Result<(), StoreError> {
        let ticket = {
            // Held only to bump a counter; never across an await.
            let mut requests = self
                .shared
                .requests
                .lock()
                .expect("group commit lock poisoned");
            if requests.closing {
                return Err(StoreError::Closed);
            }
            requests.issued += 1;
            requests.issued
        };
        self.shared.wake.notify_one();
        let mut progress = self.shared.progress.subscribe();
        let settled = progress
            .wait_for(|p| p.durable >= ticket || p.failed >= ticket)
            .await
            .map_err(|_| StoreError::Closed)?;
        if settled.durable >= ticket {
            Ok(())
        } else {
            Err(StoreError::Backend(
                settled
                    .error
                    .clone()
                    .unwrap_or_else(|| "flush failed".into()),
            ))
        }
    }

    /// Settles outstanding tickets and stops the flush thread.
    pub(super) fn close(&self) {
        self.shared
            .requests
            .lock()
            .expect("group commit lock poisoned")
            .closing = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self
            .thread
            .lock()
            .expect("group commit lock poisoned")
            .take()
        {
            let _ = thread.join();
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.close();
    }
}

fn flush_loop(db: &sled::Db, shared: &Shared) {
    let mut settled = 0u64;
    loop {
        let target = {
            let mut requests = shared.requests.lock().expect("group commit lock poisoned");
            while requests.issued == settled && !requests.closing {
                requests = shared
                    .wake
                    .wait(requests)
                    .expect("group commit lock poisoned");
            }
            if requests.issued == settled {
                return;
            }
            requests.issued
        };
        let started = Instant::now();
        let result = db.flush();
        let tickets = target - settled;
        settled = target;
        match result {
            Ok(bytes) => {
                tracing::trace!(
                    tickets,
                    bytes,
                    duration_us = started.elapsed().as_micros() as u64,
                    "group commit flushed"
                );
                shared.progress.send_modify(|p| p.durable = target);
            }
            Err(e) => {
                tracing::error!(error = %e, tickets, "group commit flush failed");
                shared.progress.send_modify(|p| {
                    p.failed = target;
                    p.error = Some(e.to_string().into());
                });
            }
        }
    }
}
