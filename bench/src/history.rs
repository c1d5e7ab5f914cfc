//! The board history benchmark (BENCHMARKS.md, "Board history"): one board edited 100,000 times
//! (at `--size 1`) by eight writers through the real server, with the edits a workshop makes
//! (notes added, typed into, moved, voted on, commented, recoloured, deleted; emotion scores),
//! then past versions rebuilt through the history API at random points, and what each update
//! costs on disk, tree by tree, once the server has stopped.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, ensure, Context as _};
use client_protocol::client::{Client, ClientOptions};
use client_protocol::schema::{Board, BoardRefs, BoardWriter, NewCard};
use parcours_server::storage::SledStore;
use serde_json::{json, Value};
use yrs::{ReadTxn, Transact};

use crate::peer::Tally;
use crate::scenarios::{outcome, Outcome, Scale};
use crate::target::{Kind, Server};

/// Edits between two flushes of one writer: bounds what is in flight, as a real client's
/// socket buffer does.
const FLUSH_EVERY: usize = 256;
/// Writers editing the board at once.
const WRITERS: usize = 8;
/// Notes a writer keeps on the board at most (a workshop board holds a few hundred).
const NOTES_PER_WRITER: usize = 40;
/// Past versions rebuilt and timed.
const VERSIONS: usize = 40;
/// The board's id.
const BOARD: &str = "history";

/// A small xorshift generator: the same edits on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One writer's notes: id and text length (typing appends).
type Notes = Vec<(String, usize)>;

/// The board's stage and lane ids.
struct Cells {
    stages: Vec<String>,
    lanes: Vec<String>,
}

/// Makes one edit, in its own transaction (so one update), as participant `who`.
fn edit(client: &Client, cells: &Cells, who: usize, rng: &mut Rng, notes: &mut Notes, step: usize) {
    let Cells { stages, lanes } = cells;
    let doc = client.doc();
    let mut txn = doc.transact_mut();
    let refs = BoardRefs::from_txn(&mut txn);
    let now = step as i64;
    let mut writer = BoardWriter::new(&mut txn, &refs, now);
    let participant = format!("p{who}");
    let roll = rng.below(100);
    if notes.len() < NOTES_PER_WRITER / 2 || (roll < 12 && notes.len() < NOTES_PER_WRITER) {
        let id = writer
            .add_card(&NewCard {
                stage: stages[rng.below(stages.len())].clone(),
                lane: lanes[rng.below(lanes.len())].clone(),
                text: String::new(),
                author: participant,
                color: "#ffd166".into(),
                team: "cx".into(),
            })
            .expect("add a note");
        notes.push((id, 0));
        return;
    }
    let pick = rng.below(notes.len());
    let (id, len) = notes[pick].clone();
    let done = match roll {
        // Typing, a word at a time: most of a workshop's updates.
        12..=59 => {
            let word = ["wait ", "price ", "app ", "login ", "help ", "why? "][rng.below(6)];
            notes[pick].1 += word.len();
            writer.insert_card_text(&id, len, word)
        }
        60..=69 => writer.move_card(
            &id,
            &stages[rng.below(stages.len())],
            &lanes[rng.below(lanes.len())],
            rng.below(1000) as f64,
        ),
        70..=79 => writer.vote(&id, &format!("p{}", rng.below(30))).map(|_| ()),
        80..=84 => writer.add_comment(&id, &participant, "agreed").map(|_| ()),
        85..=89 => writer.set_card_color(&id, ["#ffd166", "#06d6a0", "#ef476f"][rng.below(3)]),
        90..=94 => writer.set_stage_emotion(
            &stages[rng.below(stages.len())],
            Some(rng.below(5) as i64 - 2),
        ),
        _ => {
            notes.swap_remove(pick);
            writer.delete_card(&id)
        }
    };
    done.expect("edit a note");
}

/// Creates `board` from the customer-journey template and has eight participants make `updates`
/// workshop edits on it through `server`, each durable before the writer's next flush; returns
/// how long the writing took, in seconds. The cold-load scenario stores its board this way too.
pub async fn write_workshop(server: &Server, board: &str, updates: usize) -> anyhow::Result<f64> {
    let created = reqwest::Client::new()
        .post(format!("http://{}/api/boards", server.addr))
        .json(&json!({"title": "Workshop", "template": "customer-journey", "id": board}))
        .send()
        .await?;
    ensure!(
        created.status().is_success(),
        "create: {}",
        created.status()
    );
    let url = server.board_url(board);
    let started = Instant::now();
    let mut writers = Vec::new();
    for who in 0..WRITERS {
        let url = url.clone();
        let share = updates / WRITERS + usize::from(who < updates % WRITERS);
        writers.push(tokio::spawn(async move {
            let client = Client::connect(&url, ClientOptions::default()).await?;
            ensure!(client.synced().await, "writer {who} never synced");
            let board = Board::from_doc(client.doc());
            let cells = Cells {
                stages: board.stages.iter().map(|s| s.id.clone()).collect(),
                lanes: board.lanes.iter().map(|l| l.id.clone()).collect(),
            };
            ensure!(
                !cells.stages.is_empty() && !cells.lanes.is_empty(),
                "an empty template"
            );
            let (mut rng, mut notes) = (Rng(0x9e37_79b9_7f4a_7c15 ^ who as u64), Notes::new());
            for step in 0..share {
                edit(&client, &cells, who, &mut rng, &mut notes, step);
                if step % FLUSH_EVERY == FLUSH_EVERY - 1 {
                    client.flush().await?;
                }
            }
            client.flush().await?;
            // How much of its own this writer made: the server must hold all of it.
            let id = client.doc().client_id();
            let made = client.doc().transact().state_vector().get(&id);
            client.close().await;
            anyhow::Ok((id, made))
        }));
    }
    let mut made = Vec::new();
    for writer in writers {
        made.push(writer.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    // Nothing lost: a newcomer gets every writer's every edit. (A writer that the server closed
    // for falling behind reconnects and sends what it made meanwhile as one update, so records
    // may be fewer than edits; content may not.)
    let check = Client::connect(&url, ClientOptions::default()).await?;
    ensure!(check.synced().await, "the checking client never synced");
    let held = check.doc().transact().state_vector();
    for (client, clock) in made {
        ensure!(
            held.get(&client) >= clock,
            "the server holds {} of writer {client}'s {clock} edits",
            held.get(&client)
        );
    }
    check.close().await;
    Ok(seconds)
}

/// A JSON answer of the server's HTTP API.
async fn get_json(http: &reqwest::Client, server: &Server, path: &str) -> anyhow::Result<Value> {
    let response = http
        .get(format!("http://{}{path}", server.addr))
        .send()
        .await?;
    let status = response.status();
    ensure!(status.is_success(), "GET {path}: {status}");
    Ok(response.json().await?)
}

/// Runs the scenario on `server` (Parcours only: the reference server keeps no history).
pub async fn history(server: &Server, scale: Scale) -> anyhow::Result<Outcome> {
    if server.kind != Kind::Parcours {
        bail!("the reference server keeps no history");
    }
    let http = reqwest::Client::new();
    let updates = scale.n(100_000);
    let cpu_before = server.cpu();
    let write_seconds = write_workshop(server, BOARD, updates).await?;
    let write_cpu = (server.cpu() - cpu_before).as_secs_f64();
    eprintln!("   {updates} updates written in {write_seconds:.1} s");

    // Every record, newest first, a page at a time.
    let mut seqs = Vec::new();
    let mut log_bytes = 0u64;
    let mut path = format!("/api/boards/{BOARD}/history?limit=500");
    loop {
        let page = get_json(&http, server, &path).await?;
        for entry in page["entries"].as_array().context("entries")? {
            seqs.push(entry["seq"].as_u64().context("seq")?);
            log_bytes += entry["bytes"].as_u64().unwrap_or(0);
        }
        match page["next"].as_u64() {
            Some(next) => path = format!("/api/boards/{BOARD}/history?limit=500&before={next}"),
            None => break,
        }
    }
    ensure!(!seqs.is_empty(), "no history recorded");

    // Rebuilding past versions at random points, each one not rebuilt before (no cache hit).
    let tally = Arc::new(Tally::default());
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut wanted: Vec<u64> = (0..VERSIONS).map(|_| seqs[rng.below(seqs.len())]).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let cpu_before = server.cpu();
    let started = Instant::now();
    let mut rebuilt = 0u64;
    let mut cards = 0;
    for seq in &wanted {
        let at = Instant::now();
        let version = get_json(
            &http,
            server,
            &format!("/api/boards/{BOARD}/history/versions/{seq}?format=json"),
        )
        .await?;
        tally
            .latencies
            .lock()
            .unwrap()
            .push(at.elapsed().as_micros() as u32);
        cards = version["cards"].as_array().map_or(0, Vec::len);
        rebuilt += 1;
    }
    let elapsed = started.elapsed();
    let cpu = server.cpu() - cpu_before;
    // The panel's first calls: work sessions (read from the whole log's metadata) and the
    // newest page.
    let at = Instant::now();
    let sessions = get_json(
        &http,
        server,
        &format!("/api/boards/{BOARD}/history/sessions"),
    )
    .await?;
    let sessions_ms = at.elapsed().as_secs_f64() * 1000.0;
    let at = Instant::now();
    get_json(
        &http,
        server,
        &format!("/api/boards/{BOARD}/history?limit=20"),
    )
    .await?;
    let first_page_ms = at.elapsed().as_secs_f64() * 1000.0;
    let mut out = outcome(
        "history",
        server,
        elapsed,
        cpu,
        wanted.len() as u64,
        rebuilt,
        &tally,
    );
    let extra = &mut out.extra;
    extra.insert("updates".into(), json!(updates));
    extra.insert("records".into(), json!(seqs.len()));
    extra.insert("write_seconds".into(), json!(write_seconds));
    extra.insert(
        "durable_updates_per_second".into(),
        json!((updates as f64 / write_seconds).round()),
    );
    extra.insert(
        "write_cpu_us_per_update".into(),
        json!(write_cpu * 1e6 / updates as f64),
    );
    extra.insert(
        "update_bytes_mean".into(),
        json!(log_bytes as f64 / seqs.len() as f64),
    );
    extra.insert("cards_in_last_version".into(), json!(cards));
    extra.insert("sessions_ms".into(), json!(sessions_ms));
    extra.insert(
        "sessions".into(),
        json!(sessions.as_array().map_or(0, Vec::len)),
    );
    extra.insert("first_page_ms".into(), json!(first_page_ms));
    extra.insert(
        "rebuild_ms_mean".into(),
        json!(elapsed.as_secs_f64() * 1000.0 / wanted.len() as f64),
    );
    Ok(out)
}

/// Adds what the stopped server's data directory holds per update: each tree's bytes (keys and
/// values, before sled's overhead) and the directory's size on disk.
pub fn add_footprint(out: &mut Outcome, data_dir: &Path) -> anyhow::Result<()> {
    let records = out.extra["records"].as_f64().context("records")?;
    let store = SledStore::open(data_dir)?;
    let mut trees = serde_json::Map::new();
    for tree in store.footprint()? {
        trees.insert(
            tree.tree.into(),
            json!({
                "entries": tree.entries,
                "bytes": tree.key_bytes + tree.value_bytes,
                "bytes_per_update": (tree.key_bytes + tree.value_bytes) as f64 / records,
            }),
        );
    }
    drop(store);
    let on_disk = dir_bytes(data_dir)?;
    out.extra.insert("trees".into(), Value::Object(trees));
    out.extra.insert(
        "disk_bytes_per_update".into(),
        json!(on_disk as f64 / records),
    );
    Ok(())
}

/// The bytes of every file under `dir`.
fn dir_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_bytes(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}
