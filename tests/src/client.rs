//! A small y-websocket client on yrs for the tests: it syncs, edits, announces presence, and can
//! also misbehave on purpose (raw frames, text frames, abrupt drops).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use bytes::Bytes;
use client_protocol::codec::{self, Limits, Message, SyncMessage};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::sync::Awareness;
use yrs::types::ToJson;
use yrs::updates::decoder::Decode;
use yrs::{
    Any, Array, ArrayRef, Doc, GetString, Map, MapRef, ReadTxn, StateVector, Text, TextRef,
    Transact, TransactionMut, Update,
};

use crate::PATIENCE;

/// What the reader task has learnt.
struct State {
    /// The document (inside) and everyone's presence.
    awareness: Awareness,
    /// Whether the server answered our sync step 1.
    synced: bool,
    /// The close code and reason the server sent, once the socket ended (`None`: no close frame).
    closed: Option<Option<(u16, String)>>,
    /// Awareness messages received.
    awareness_messages: usize,
    /// Bytes of document updates received (sync step 2 and update messages).
    update_bytes: usize,
    /// The reasons of the permission-denied messages received.
    denied: Vec<String>,
}

struct Shared {
    /// A plain mutex: held only for in-memory work, never across an await.
    state: Mutex<State>,
    changed: Notify,
}

/// A test participant on one board.
pub struct TestClient {
    shared: Arc<Shared>,
    out: mpsc::UnboundedSender<WsMessage>,
    tasks: Vec<JoinHandle<()>>,
}

impl TestClient {
    /// Connects and completes the sync handshake.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with_doc(url, Doc::new()).await
    }

    /// Connects with a given document (for example one with a chosen client id).
    pub async fn connect_with_doc(url: &str, doc: Doc) -> anyhow::Result<Self> {
        let client = Self::open(url, doc).await?;
        let sv = client.with_doc(|doc| doc.transact().state_vector());
        client.send_message(&Message::Sync(SyncMessage::SyncStep1(sv)));
        client
            .wait_until(|s| s.synced)
            .await
            .context("no sync step 2 from the server")?;
        Ok(client)
    }

    /// Opens the socket without any handshake (for tests that send raw bytes).
    pub async fn open(url: &str, doc: Doc) -> anyhow::Result<Self> {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .with_context(|| format!("connecting to {url}"))?;
        let (mut sink, mut stream) = ws.split();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                awareness: Awareness::new(doc),
                synced: false,
                closed: None,
                awareness_messages: 0,
                update_bytes: 0,
                denied: Vec::new(),
            }),
            changed: Notify::new(),
        });
        let (out, mut outgoing) = mpsc::unbounded_channel::<WsMessage>();
        let writer = tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        let reader = tokio::spawn({
            let shared = shared.clone();
            let out = out.clone();
            async move {
                let mut close = None;
                while let Some(frame) = stream.next().await {
                    match frame {
                        Ok(WsMessage::Binary(bytes)) => receive(&shared, &out, &bytes),
                        Ok(WsMessage::Close(frame)) => {
                            close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                            break;
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                shared.state.lock().unwrap().closed = Some(close);
                shared.changed.notify_waiters();
            }
        });
        Ok(TestClient {
            shared,
            out,
            tasks: vec![writer, reader],
        })
    }

    fn send_message(&self, message: &Message) {
        self.send_raw(codec::encode(message));
    }

    /// Sends one binary frame as is.
    pub fn send_raw(&self, bytes: Vec<u8>) {
        let _ = self.out.send(WsMessage::Binary(Bytes::from(bytes)));
    }

    /// Sends a text frame (not part of the protocol).
    pub fn send_text(&self, text: &str) {
        let _ = self.out.send(WsMessage::Text(text.into()));
    }

    /// Reads the document.
    pub fn with_doc<T>(&self, f: impl FnOnce(&Doc) -> T) -> T {
        f(self.shared.state.lock().unwrap().awareness.doc())
    }

    /// Makes a local change and sends it to the server as an update. Take root types (with
    /// [`TestClient::with_doc`]) before calling: yrs cannot create one inside a transaction.
    pub fn edit(&self, f: impl FnOnce(&mut TransactionMut)) {
        let update = {
            let state = self.shared.state.lock().unwrap();
            let mut txn = state.awareness.doc().transact_mut();
            f(&mut txn);
            txn.encode_update_v1()
        };
        self.send_message(&Message::Sync(SyncMessage::Update(update)));
    }

    /// Appends `text` to the text type `name`.
    pub fn append_text(&self, name: &str, text: &str) {
        let t = self.with_doc(|doc| doc.get_or_insert_text(name));
        self.edit(|txn| {
            let len = t.len(txn);
            t.insert(txn, len, text);
        });
    }

    /// Pushes a string to the array type `name`.
    pub fn push(&self, name: &str, value: &str) {
        let a = self.with_doc(|doc| doc.get_or_insert_array(name));
        self.edit(|txn| {
            a.push_back(txn, value);
        });
    }

    /// Sets `key` to `value` in the map type `name`.
    pub fn set(&self, name: &str, key: &str, value: &str) {
        let m = self.with_doc(|doc| doc.get_or_insert_map(name));
        self.edit(|txn| {
            m.insert(txn, key, value);
        });
    }

    /// The text type `name`.
    pub fn text(&self, name: &str) -> String {
        self.with_doc(|doc| {
            let t: TextRef = doc.get_or_insert_text(name);
            t.get_string(&doc.transact())
        })
    }

    /// The array type `name` as JSON.
    pub fn array(&self, name: &str) -> serde_json::Value {
        self.with_doc(|doc| {
            let a: ArrayRef = doc.get_or_insert_array(name);
            any_json(a.to_json(&doc.transact()))
        })
    }

    /// The number of items in the array type `name` (cheap, unlike [`TestClient::array`]).
    pub fn array_len(&self, name: &str) -> u32 {
        self.with_doc(|doc| {
            let a: ArrayRef = doc.get_or_insert_array(name);
            a.len(&doc.transact())
        })
    }

    /// The map type `name` as JSON.
    pub fn map(&self, name: &str) -> serde_json::Value {
        self.with_doc(|doc| {
            let m: MapRef = doc.get_or_insert_map(name);
            any_json(m.to_json(&doc.transact()))
        })
    }

    /// The full document state as an update (for byte-level comparison of two replicas' content).
    pub fn state_vector(&self) -> StateVector {
        self.with_doc(|doc| doc.transact().state_vector())
    }

    /// Announces a presence state (a JSON object) for this client's id.
    pub fn set_presence(&self, json: &str) {
        let message = {
            let mut state = self.shared.state.lock().unwrap();
            state.awareness.set_local_state_raw(json);
            let id = state.awareness.client_id();
            Message::Awareness(state.awareness.update_with_clients([id]).unwrap())
        };
        self.send_message(&message);
    }

    /// Everyone's live presence states by client id, as this client sees them.
    pub fn presence(&self) -> BTreeMap<u64, String> {
        let state = self.shared.state.lock().unwrap();
        state
            .awareness
            .iter()
            .filter_map(|(id, s)| s.data.map(|d| (id.get(), d.to_string())))
            .collect()
    }

    /// This client's Yjs client id.
    pub fn client_id(&self) -> u64 {
        self.shared
            .state
            .lock()
            .unwrap()
            .awareness
            .client_id()
            .get()
    }

    /// The reasons of the permission-denied messages the server sent so far.
    pub fn denied(&self) -> Vec<String> {
        self.shared.state.lock().unwrap().denied.clone()
    }

    /// Pushes `count` items (`card 0`, `card 1`, …) onto the array `name` in a task, pausing a
    /// little every 20 so that a crash can land between them; the task gives the client back.
    /// For tests that kill a server while edits are flowing.
    pub fn push_steadily(self, name: &'static str, count: usize) -> JoinHandle<TestClient> {
        tokio::spawn(async move {
            for i in 0..count {
                self.push(name, &format!("card {i}"));
                if i % 20 == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
            self
        })
    }

    /// Asserts that every one of `seen` is in the array `cards` here (`when` says after what).
    pub fn assert_holds_cards(&self, seen: &[String], when: &str) {
        let stored: Vec<String> = serde_json::from_value(self.array("cards")).unwrap();
        for card in seen {
            assert!(stored.contains(card), "{card} was seen but lost {when}");
        }
    }

    /// How many bytes of document updates arrived so far (sync step 2 and updates).
    pub fn update_bytes(&self) -> usize {
        self.shared.state.lock().unwrap().update_bytes
    }

    /// How many awareness messages arrived so far.
    pub fn awareness_messages(&self) -> usize {
        self.shared.state.lock().unwrap().awareness_messages
    }

    /// Waits until `check` holds for this client, or fails after [`PATIENCE`].
    pub async fn wait_for(&self, what: &str, check: impl Fn(&TestClient) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let notified = self.shared.changed.notified();
            if check(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() && !check(self) {
                panic!("timed out waiting for: {what}");
            }
        }
    }

    async fn wait_until(&self, check: impl Fn(&State) -> bool) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let notified = self.shared.changed.notified();
            {
                let state = self.shared.state.lock().unwrap();
                if check(&state) {
                    return Ok(());
                }
                if state.closed.is_some() {
                    return Err(anyhow!("connection closed: {:?}", state.closed));
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(anyhow!("timed out"));
            }
        }
    }

    /// Waits for the server to end the connection; returns its close code and reason, if it sent
    /// a close frame.
    pub async fn closed(&self) -> Option<(u16, String)> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let notified = self.shared.changed.notified();
            if let Some(close) = self.shared.state.lock().unwrap().closed.clone() {
                return close;
            }
            tokio::time::timeout_at(deadline, notified)
                .await
                .expect("the server did not close the connection");
        }
    }

    /// Whether the connection is still open (checked after a short pause).
    pub async fn is_open_after(&self, pause: Duration) -> bool {
        tokio::time::sleep(pause).await;
        self.shared.state.lock().unwrap().closed.is_none()
    }

    /// Closes the socket cleanly (close frame 1000).
    pub async fn close(self) {
        let _ = self.out.send(WsMessage::Close(None));
        let _ = tokio::time::timeout(PATIENCE, self.closed()).await;
    }

    /// Drops the TCP connection without a WebSocket close, as a crashed client or a lost network
    /// would.
    pub fn drop_connection(self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn any_json(any: Any) -> serde_json::Value {
    serde_json::to_value(any).expect("Any is JSON")
}

/// Handles one frame from the server.
fn receive(shared: &Shared, out: &mpsc::UnboundedSender<WsMessage>, frame: &[u8]) {
    let messages = codec::decode_frame(frame, &Limits::default()).expect("server frames decode");
    let mut state = shared.state.lock().unwrap();
    for message in messages {
        match message {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                let diff = state.awareness.doc().transact().encode_diff_v1(&sv);
                let reply = codec::encode_sync_step2(&diff);
                let _ = out.send(WsMessage::Binary(reply.into()));
            }
            Message::Sync(SyncMessage::SyncStep2(update)) => {
                state.update_bytes += update.len();
                apply(&state, &update);
                state.synced = true;
            }
            Message::Sync(SyncMessage::Update(update)) => {
                state.update_bytes += update.len();
                apply(&state, &update);
            }
            Message::Awareness(update) => {
                state.awareness_messages += 1;
                state
                    .awareness
                    .apply_update(update)
                    .expect("awareness applies");
            }
            Message::Auth(Some(reason)) => state.denied.push(reason),
            Message::AwarenessQuery | Message::Auth(None) | Message::Custom(..) => {}
        }
    }
    drop(state);
    shared.changed.notify_waiters();
}

fn apply(state: &State, update: &[u8]) {
    let update = Update::decode_v1(update).expect("server updates decode");
    state
        .awareness
        .doc()
        .transact_mut()
        .apply_update(update)
        .expect("server updates apply");
}
