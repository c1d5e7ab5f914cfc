//! The benchmark scenarios of BENCHMARKS.md, each bounded in time and sized for a 2-core machine
//! where the generator and the server share the CPUs.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::{json, Map, Value};
use yrs::{Doc, Text, Transact};

use parcours_server::auth::{issue, Claims, Role as AccessRole};

use crate::peer::{self, Peer, Role, Tally};

/// The admin key of the server in scenarios with access control.
pub const BENCH_ADMIN_KEY: &str = "parcours-bench admin key, for benchmarks only, 0123456789";
use crate::target::{Kind, Server};

/// Every scenario, in the order they run.
pub const ALL: [&str; 11] = [
    "fanout",
    "busy",
    "hot",
    "hot-participants",
    "many-boards",
    "presence",
    "join-storm",
    "cold-load",
    "ingest",
    "history",
    "cross-node",
];

/// How big to make the scenarios: 1.0 is the size the issue names; smaller for a quick look.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Multiplies participant and board counts.
    pub size: f64,
    /// How long the sending phase of each scenario lasts.
    pub seconds: f64,
}

impl Scale {
    pub(crate) fn n(&self, full: usize) -> usize {
        ((full as f64 * self.size).round() as usize).max(1)
    }
}

/// What one scenario measured on one server.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Which scenario.
    pub scenario: String,
    /// Which server.
    pub server: Kind,
    /// Length of the measured phase, seconds.
    pub seconds: f64,
    /// Deliveries (an edit or awareness message reaching one receiver) expected.
    pub expected: u64,
    /// Deliveries that arrived.
    pub delivered: u64,
    /// `delivered / expected`: must be 1.
    pub delivery_ratio: f64,
    /// Deliveries per second over the measured phase.
    pub deliveries_per_second: f64,
    /// Latency percentiles (send to receipt), milliseconds, where measured.
    pub p50_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// 99.9th percentile.
    pub p999_ms: Option<f64>,
    /// Slowest.
    pub max_ms: Option<f64>,
    /// Server CPU time during the measured phase, seconds.
    pub server_cpu_seconds: f64,
    /// Server CPU seconds per million deliveries.
    pub cpu_seconds_per_million: Option<f64>,
    /// Server peak resident memory during the scenario, MB.
    pub peak_rss_mb: f64,
    /// Figures particular to the scenario.
    pub extra: Map<String, Value>,
}

fn percentile(sorted: &[u32], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Some(f64::from(sorted[at]) / 1000.0)
}

/// Builds an outcome from the tally of a delivery scenario.
pub(crate) fn outcome(
    scenario: &str,
    server: &Server,
    elapsed: Duration,
    cpu: Duration,
    expected: u64,
    delivered: u64,
    tally: &Tally,
) -> Outcome {
    let mut latencies = std::mem::take(&mut *tally.latencies.lock().unwrap());
    latencies.sort_unstable();
    let seconds = elapsed.as_secs_f64();
    Outcome {
        scenario: scenario.into(),
        server: server.kind,
        seconds,
        expected,
        delivered,
        delivery_ratio: if expected == 0 {
            1.0
        } else {
            delivered as f64 / expected as f64
        },
        deliveries_per_second: delivered as f64 / seconds,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        p999_ms: percentile(&latencies, 0.999),
        max_ms: latencies.last().map(|&m| f64::from(m) / 1000.0),
        server_cpu_seconds: cpu.as_secs_f64(),
        cpu_seconds_per_million: (delivered > 0)
            .then(|| cpu.as_secs_f64() * 1e6 / delivered as f64),
        peak_rss_mb: server.peak_rss() as f64 / 1e6,
        extra: Map::new(),
    }
}

/// Connects `count` peers to `url` (at most 64 handshakes at once); peer `i` gets writer number
/// `first + i`. Peers that record latency: one in `sample`.
pub(crate) async fn connect_many(
    url: &str,
    first: u64,
    count: usize,
    sample: usize,
    tally: &Arc<Tally>,
) -> anyhow::Result<Vec<Peer>> {
    connect_as(url, first, count, sample, tally, None).await
}

/// [`connect_many`], each peer a participant with a token of its own when `board` is given
/// (the server then requires tokens signed with [`BENCH_ADMIN_KEY`]); their edits create cards.
async fn connect_as(
    url: &str,
    first: u64,
    count: usize,
    sample: usize,
    tally: &Arc<Tally>,
    board: Option<&str>,
) -> anyhow::Result<Vec<Peer>> {
    let peers: Vec<anyhow::Result<Peer>> = stream::iter(0..count)
        .map(|i| {
            let role = Role {
                record_latency: i % sample.max(1) == 0,
                large_reads: false,
                as_cards: board.is_some(),
            };
            let url = match board {
                Some(board) => {
                    let sub = format!("p{}", first + i as u64);
                    let claims = Claims::lasting(
                        board.into(),
                        AccessRole::Participant,
                        sub.clone(),
                        sub,
                        3600,
                    );
                    let token = issue(BENCH_ADMIN_KEY.as_bytes(), &claims).expect("signing");
                    format!("{url}?token={token}")
                }
                None => url.to_owned(),
            };
            let tally = tally.clone();
            async move { Peer::connect(&url, first + i as u64, role, tally).await }
        })
        .buffered(64)
        .collect()
        .await;
    peers.into_iter().collect()
}

/// Waits until `tally` counts `expected` deliveries, or `patience` passes without progress.
pub(crate) async fn drain(tally: &Tally, expected: u64, patience: Duration) {
    let mut last = tally.delivered.load(Ordering::Relaxed);
    let mut since = Instant::now();
    loop {
        let now = tally.delivered.load(Ordering::Relaxed);
        if now >= expected {
            return;
        }
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() > patience {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The shape of a broadcast scenario's load.
#[derive(Debug, Clone, Copy)]
struct Load {
    /// How many boards.
    boards: usize,
    /// Connections per board.
    participants: usize,
    /// How many of them write.
    writers: usize,
    /// Edits per second of each writer.
    rate: f64,
    /// Whether everyone is a participant with a token (their edits inspected by the server).
    with_tokens: bool,
}

/// `load.boards` boards of `load.participants` each, of whom `load.writers` write `load.rate`
/// edits per second for the run. Each edit must reach every other participant of its board.
async fn broadcast(
    name: &str,
    server: &Server,
    load: Load,
    scale: Scale,
) -> anyhow::Result<Outcome> {
    let Load {
        boards,
        participants,
        writers,
        rate,
        with_tokens: participants_with_tokens,
    } = load;
    let tally = Arc::new(Tally::default());
    // Latencies from about 200 receivers in all, whatever the size.
    let sample = (boards * participants / 200).max(1);
    let mut all: Vec<Vec<Peer>> = Vec::new();
    for b in 0..boards {
        let board = format!("{name}-{b}");
        let url = server.board_url(&board);
        let first = (b * participants) as u64;
        let tokens = participants_with_tokens.then_some(board.as_str());
        all.push(connect_as(&url, first, participants, sample, &tally, tokens).await?);
    }
    let rss_connected = server.rss();
    tally.delivered.store(0, Ordering::Relaxed);
    let cpu_before = server.cpu();
    let started = Instant::now();
    let run = Duration::from_secs_f64(scale.seconds);
    // Each board's writers share one task that paces them, one writer per tick in turn, so that
    // each writes `rate` times a second and the writers are spread evenly over time, as people
    // are (not all at the same instant); boards run concurrently.
    let step = Duration::from_secs_f64(1.0 / (rate * writers as f64));
    let tasks: Vec<_> = all
        .into_iter()
        .map(|mut peers| {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(step);
                // Ticks shorter than the timer's millisecond are caught up in small bursts.
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let stop = Instant::now() + run;
                let mut next = 0;
                while Instant::now() < stop {
                    tick.tick().await;
                    if peers[next].write().await.is_err() {
                        break;
                    }
                    next = (next + 1) % writers;
                }
                peers
            })
        })
        .collect();
    let mut sent = 0u64;
    let mut peers_after = Vec::new();
    for task in tasks {
        let peers = task.await?;
        sent += peers.iter().map(Peer::sent).sum::<u64>();
        peers_after.push(peers);
    }
    let expected = sent * (participants as u64 - 1);
    drain(&tally, expected, Duration::from_secs(10)).await;
    let elapsed = started.elapsed();
    let cpu = server.cpu() - cpu_before;
    let delivered = tally.delivered.load(Ordering::Relaxed);
    let mut out = outcome(name, server, elapsed, cpu, expected, delivered, &tally);
    out.extra.insert("sent".into(), json!(sent));
    out.extra
        .insert("connections".into(), json!(boards * participants));
    out.extra.insert(
        "closed_by_server".into(),
        json!(tally.dropped.load(Ordering::Relaxed)),
    );
    out.extra
        .insert("rss_connected_mb".into(), json!(rss_connected as f64 / 1e6));
    // The server holds every edit: a fresh client of the first board finds them all.
    let mut first_board = server.board_url(&format!("{name}-0"));
    if participants_with_tokens {
        first_board = format!("{first_board}?token={BENCH_ADMIN_KEY}");
    }
    let stored = peer::stored_edits(&first_board).await.unwrap_or(0);
    let board_sent: u64 = peers_after[0].iter().map(Peer::sent).sum();
    out.extra.insert(
        "first_board_converged".into(),
        json!(u64::from(stored) == board_sent),
    );
    for peers in peers_after {
        for peer in peers {
            peer.close().await;
        }
    }
    Ok(out)
}

/// Runs scenario `name` against `server`.
pub async fn run(name: &str, server: &Server, scale: Scale) -> anyhow::Result<Outcome> {
    server.reset_peak();
    match name {
        "fanout" => {
            broadcast(
                name,
                server,
                Load {
                    boards: 1,
                    participants: scale.n(1500),
                    writers: 1,
                    rate: 50.0,
                    with_tokens: false,
                },
                scale,
            )
            .await
        }
        "busy" => {
            let load = Load {
                boards: 1,
                participants: scale.n(200),
                writers: scale.n(200),
                rate: 2.0,
                with_tokens: false,
            };
            broadcast(name, server, load, scale).await
        }
        "hot" => {
            let load = Load {
                boards: 1,
                participants: scale.n(50),
                writers: scale.n(50),
                rate: 50.0,
                with_tokens: false,
            };
            broadcast(name, server, load, scale).await
        }
        // The hot board again, every writer a participant whose edits the server inspects.
        "hot-participants" => {
            if server.kind != Kind::Parcours {
                bail!("the reference server has no access control");
            }
            broadcast(
                name,
                server,
                Load {
                    boards: 1,
                    participants: scale.n(50),
                    writers: scale.n(50),
                    rate: 50.0,
                    with_tokens: true,
                },
                scale,
            )
            .await
        }
        "many-boards" => {
            let boards = scale.n(2000);
            let rss_before = server.rss();
            let mut out = broadcast(
                name,
                server,
                Load {
                    boards,
                    participants: 3,
                    writers: 1,
                    rate: 1.0,
                    with_tokens: false,
                },
                scale,
            )
            .await?;
            let connected = out.extra["rss_connected_mb"].as_f64().unwrap_or(0.0) * 1e6;
            out.extra.insert(
                "server_bytes_per_board_with_3_connections".into(),
                json!(((connected - rss_before as f64) / boards as f64).round()),
            );
            Ok(out)
        }
        "presence" => presence(server, scale).await,
        "join-storm" => join_storm(server, scale).await,
        "cold-load" => cold_load(server, scale).await,
        "ingest" => ingest(server, scale).await,
        "history" => crate::history::history(server, scale).await,
        "cross-node" => crate::cluster::cross_node(server, scale).await,
        other => bail!("unknown scenario {other:?}; known: {}", ALL.join(", ")),
    }
}

/// 500 participants on one board, each moving its cursor once a second.
async fn presence(server: &Server, scale: Scale) -> anyhow::Result<Outcome> {
    let participants = scale.n(500);
    let tally = Arc::new(Tally::default());
    let url = server.board_url("presence");
    let rss_empty = server.rss();
    let mut peers = connect_many(&url, 0, participants, usize::MAX, &tally).await?;
    let rss_idle = server.rss();
    // Everyone announces once, so that each later move is an update of a known state.
    for (i, peer) in peers.iter_mut().enumerate() {
        peer.move_cursor(i as u32).await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    tally.awareness.store(0, Ordering::Relaxed);
    let cpu_before = server.cpu();
    let started = Instant::now();
    let rounds = scale.seconds.round() as u32;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    for round in 0..rounds {
        tick.tick().await;
        // Spread the moves over the second, as real cursors are.
        let gap = Duration::from_secs_f64(1.0 / participants as f64);
        for (i, peer) in peers.iter_mut().enumerate() {
            peer.move_cursor(round * 7 + i as u32).await?;
            if i % 10 == 9 {
                tokio::time::sleep(gap * 10).await;
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let elapsed = started.elapsed();
    let cpu = server.cpu() - cpu_before;
    let received = tally.awareness.load(Ordering::Relaxed);
    // Every move reaches every participant (a server may batch several into one message, so
    // messages received is at most this).
    let expected = u64::from(rounds) * (participants as u64) * (participants as u64);
    let mut out = outcome("presence", server, elapsed, cpu, expected, received, &tally);
    out.delivery_ratio = f64::NAN; // messages, not moves: see `awareness_messages`
    out.extra.insert(
        "cpu_share_of_one_core".into(),
        json!(cpu.as_secs_f64() / elapsed.as_secs_f64()),
    );
    out.extra
        .insert("awareness_messages".into(), json!(received));
    out.extra.insert(
        "moves".into(),
        json!(u64::from(rounds) * participants as u64),
    );
    out.extra.insert(
        "server_bytes_per_idle_connection".into(),
        json!(((rss_idle as f64 - rss_empty as f64) / participants as f64).round()),
    );
    for peer in peers {
        peer.close().await;
    }
    Ok(out)
}

/// Writes a board of about `bytes` bytes through one connection (text in 1 MB updates).
async fn fill_board(url: &str, bytes: usize) -> anyhow::Result<()> {
    let doc = Doc::with_client_id(424242);
    let text = doc.get_or_insert_text("notes");
    let chunk = "journey ".repeat(1 << 17); // 1 MiB
    let mut frames = Vec::new();
    let mut written = 0;
    while written < bytes {
        let update = {
            let mut txn = doc.transact_mut();
            let len = text.len(&txn);
            text.insert(&mut txn, len, &chunk);
            txn.encode_update_v1()
        };
        written += update.len();
        frames.push(client_protocol::codec::encode_update(&update));
    }
    peer::send_raw(url, frames).await?;
    Ok(())
}

/// 150 participants join a board of 20 MB at once.
async fn join_storm(server: &Server, scale: Scale) -> anyhow::Result<Outcome> {
    let url = server.board_url("storm");
    let size = (20.0 * 1024.0 * 1024.0 * scale.size.min(1.0)) as usize;
    fill_board(&url, size).await?;
    // Wait until the server holds it all.
    let deadline = Instant::now() + Duration::from_secs(120);
    while peer::stored_edits(&url).await.is_err() && Instant::now() < deadline {}
    server.reset_peak();
    let joiners = scale.n(150);
    let tally = Arc::new(Tally::default());
    let cpu_before = server.cpu();
    let started = Instant::now();
    let times: Vec<anyhow::Result<Duration>> = stream::iter(0..joiners)
        .map(|i| {
            let url = url.clone();
            let tally = tally.clone();
            async move {
                let begin = Instant::now();
                let peer = Peer::connect(
                    &url,
                    10_000 + i as u64,
                    Role {
                        record_latency: false,
                        large_reads: true,
                        as_cards: false,
                    },
                    tally,
                )
                .await?;
                let took = begin.elapsed();
                Ok::<_, anyhow::Error>((took, peer))
            }
        })
        .buffer_unordered(joiners)
        .map(|r| r.map(|(took, _peer)| took))
        .collect()
        .await;
    let elapsed = started.elapsed();
    let cpu = server.cpu() - cpu_before;
    let mut ms: Vec<u32> = Vec::new();
    let mut failed = 0;
    for t in times {
        match t {
            Ok(d) => ms.push(d.as_micros() as u32),
            Err(_) => failed += 1,
        }
    }
    ms.sort_unstable();
    let mut out = outcome(
        "join-storm",
        server,
        elapsed,
        cpu,
        joiners as u64,
        ms.len() as u64,
        &Tally::default(),
    );
    out.p50_ms = percentile(&ms, 0.5);
    out.p99_ms = percentile(&ms, 0.99);
    out.p999_ms = None;
    out.max_ms = ms.last().map(|&m| f64::from(m) / 1000.0);
    out.extra.insert("board_bytes".into(), json!(size));
    out.extra.insert("joiners".into(), json!(joiners));
    out.extra.insert("failed_joins".into(), json!(failed));
    Ok(out)
}

/// Time from connect to synced for a stored board with 100,000 logged updates, as the server
/// left it after a crash (kill -9), and after a clean shutdown (compacted).
async fn cold_load(server: &Server, scale: Scale) -> anyhow::Result<Outcome> {
    if server.kind != Kind::Parcours {
        bail!("the reference server keeps boards in memory only: nothing to load cold");
    }
    let updates = scale.n(100_000);
    let url = server.board_url("cold");
    let doc = Doc::with_client_id(777);
    let map = doc.get_or_insert_map(peer::ROOT);
    // Many small updates, 100 to a frame.
    let mut frames = Vec::new();
    let mut frame = Vec::new();
    for i in 0..updates {
        let update = {
            let mut txn = doc.transact_mut();
            yrs::Map::insert(&map, &mut txn, format!("w0-{i}"), i as f64);
            txn.encode_update_v1()
        };
        frame.extend(client_protocol::codec::encode_update(&update));
        if i % 100 == 99 {
            frames.push(std::mem::take(&mut frame));
        }
    }
    if !frame.is_empty() {
        frames.push(frame);
    }
    let update_bytes: usize = frames.iter().map(Vec::len).sum();
    peer::send_raw(&url, frames).await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    while peer::stored_edits(&url).await.unwrap_or(0) < updates as u32 {
        if Instant::now() > deadline {
            bail!("the server did not store the cold-load board in time");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut out = outcome(
        "cold-load",
        server,
        Duration::from_secs(1),
        Duration::ZERO,
        0,
        0,
        &Tally::default(),
    );
    out.extra.insert("updates".into(), json!(updates));
    out.extra.insert("update_bytes".into(), json!(update_bytes));
    // And a board as workshops make them: notes typed into, moved, voted on (about 1.8 MB once
    // encoded after 100,000 edits), built by the history scenario's writers.
    crate::history::write_workshop(server, "workshop", updates).await?;
    let data = server.data_dir().context("a data directory")?.to_owned();
    // Crash it, then load: whatever the log holds since its last automatic compaction.
    // SAFETY: our own child.
    unsafe { libc::kill(server.pid() as i32, libc::SIGKILL) };
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The first load reads the snapshot of the last automatic compaction plus the log after
    // it; the clean stop that follows compacts the board, so the second load reads one snapshot.
    for label in ["after_crash", "after_compaction"] {
        let restarted = Server::start(Kind::Parcours, Some(&data), &[]).await?;
        for (board, prefix) in [("cold", ""), ("workshop", "workshop_")] {
            let url = restarted.board_url(board);
            let rss_before = restarted.rss();
            let begin = Instant::now();
            let synced = peer::sync_fresh(&url).await?;
            let took = begin.elapsed();
            // The board stays loaded for its grace period after the client leaves.
            let loaded = restarted.rss().saturating_sub(rss_before);
            let mut put = |name: &str, value: Value| {
                out.extra.insert(format!("{prefix}{label}_{name}"), value);
            };
            put("encoded_bytes", json!(synced.encoded_bytes));
            put(
                "memory_per_encoded_byte",
                json!(loaded as f64 / synced.encoded_bytes as f64),
            );
            put("ms", json!(took.as_secs_f64() * 1000.0));
            put("served_ms", json!(synced.served.as_secs_f64() * 1000.0));
            if board == "cold" {
                put("edits", json!(synced.edits));
            }
        }
        restarted.stop().await;
    }
    Ok(out)
}

/// Sustained updates per second that reach storage durably, and the latency durability adds.
///
/// Writers send as fast as a window allows: at most [`INGEST_WINDOW`] edits may be sent and not
/// yet seen by an observer. Parcours sends nobody an edit before it is durable, so what the
/// observer receives per second is the durable rate (for the reference server, which keeps
/// boards in memory only, it is the relay rate), and the observer's latencies include the write
/// to disk.
async fn ingest(server: &Server, scale: Scale) -> anyhow::Result<Outcome> {
    const INGEST_WINDOW: u64 = 4096;
    let writers = scale.n(32);
    let tally = Arc::new(Tally::default());
    let writer_tally = Arc::new(Tally::default());
    let url = server.board_url("ingest");
    let observer = Peer::connect(
        &url,
        1_000_000,
        Role {
            record_latency: true,
            large_reads: false,
            as_cards: false,
        },
        tally.clone(),
    )
    .await?;
    let mut peers = connect_many(&url, 0, writers, usize::MAX, &writer_tally).await?;
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let cpu_before = server.cpu();
    let started = Instant::now();
    let stop = started + Duration::from_secs_f64(scale.seconds);
    let tasks: Vec<_> = peers
        .drain(..)
        .map(|mut peer| {
            let (sent, tally) = (sent.clone(), tally.clone());
            tokio::spawn(async move {
                while Instant::now() < stop {
                    let in_flight =
                        sent.load(Ordering::Relaxed) - tally.delivered.load(Ordering::Relaxed);
                    if in_flight >= INGEST_WINDOW {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                    if peer.write().await.is_err() {
                        break;
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                peer
            })
        })
        .collect();
    let mut done = Vec::new();
    for task in tasks {
        done.push(task.await?);
    }
    let sent = sent.load(Ordering::Relaxed);
    drain(&tally, sent, Duration::from_secs(10)).await;
    let elapsed = started.elapsed();
    let cpu = server.cpu() - cpu_before;
    let delivered = tally.delivered.load(Ordering::Relaxed);
    let mut out = outcome("ingest", server, elapsed, cpu, sent, delivered, &tally);
    out.extra.insert(
        "durable_updates_per_second".into(),
        json!(out.deliveries_per_second.round()),
    );
    out.extra.insert("writers".into(), json!(writers));
    out.extra.insert("window".into(), json!(INGEST_WINDOW));
    if server.kind == Kind::Parcours {
        if let Ok((p50, p99)) = persist_latency(server).await {
            out.extra.insert("persist_p50_ms".into(), json!(p50));
            out.extra.insert("persist_p99_ms".into(), json!(p99));
        }
    }
    observer.close().await;
    for peer in done {
        peer.close().await;
    }
    Ok(out)
}

/// p50 and p99 of the server's `parcours_persist_seconds` histogram, in ms (bucket upper
/// bounds).
async fn persist_latency(server: &Server) -> anyhow::Result<(f64, f64)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.addr).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("parcours_persist_seconds_bucket{le=\"") {
            let (le, count) = rest.split_once("\"} ").context("bucket line")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse()?
            };
            buckets.push((le, count.trim().parse()?));
        }
    }
    let total = buckets.last().map_or(0.0, |b| b.1);
    let at = |q: f64| {
        buckets
            .iter()
            .find(|(_, c)| *c >= q * total)
            .map_or(f64::NAN, |(le, _)| le * 1000.0)
    };
    Ok((at(0.5), at(0.99)))
}
