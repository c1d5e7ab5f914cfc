//! The cross-server scenario (BENCHMARKS.md, "Several servers on one Redis"): one writer on one
//! Parcours server, observers on another, both on the same Redis; and, in the same run, the same
//! load with everyone on one server of that Redis, for comparison. Needs Debian's `redis-server`
//! (`/usr/bin/redis-server`), started here on a free port with a temp dir and fsync on every
//! write, as the servers require.

use std::net::TcpListener;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use crate::peer::{Peer, Role, Tally};
use crate::scenarios::{connect_many, drain, outcome, Outcome, Scale};
use crate::target::{cpu_time, Kind, Server};

/// Observers on the receiving server.
const OBSERVERS: usize = 200;
/// The writer's edits per second.
const RATE: f64 = 50.0;

/// A `redis-server` child process, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    async fn start() -> anyhow::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = tempfile::tempdir()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir.path())
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--maxmemory-policy", "noeviction", "--save", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting redis-server (Debian's redis-server package)")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                stream.write_all(b"PING\r\n").await?;
                let mut reply = [0u8; 7];
                if stream.read_exact(&mut reply).await.is_ok() && &reply == b"+PONG\r\n" {
                    break;
                }
            }
            if Instant::now() > deadline {
                bail!("redis-server did not answer");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Redis {
            child,
            port,
            _dir: dir,
        })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn cpu(&self) -> Duration {
        self.child.id().and_then(cpu_time).unwrap_or_default()
    }
}

/// What one run of the load measured.
struct Run {
    outcome: Outcome,
    redis_cpu: Duration,
}

/// One writer at [`RATE`] on `writer_on`, observers on `observers_on`; CPU counted over `servers`.
async fn run_load(
    name: &str,
    board: &str,
    writer_on: &Server,
    observers_on: &Server,
    servers: &[&Server],
    redis: &Redis,
    scale: Scale,
) -> anyhow::Result<Run> {
    let observers = scale.n(OBSERVERS);
    let tally = Arc::new(Tally::default());
    let peers = connect_many(&observers_on.board_url(board), 1, observers, 1, &tally).await?;
    let mut writer = Peer::connect(
        &writer_on.board_url(board),
        0,
        Role {
            record_latency: false,
            large_reads: false,
            as_cards: false,
        },
        Arc::new(Tally::default()),
    )
    .await?;
    tally.delivered.store(0, Ordering::Relaxed);
    let cpu = |servers: &[&Server]| servers.iter().map(|s| s.cpu()).sum::<Duration>();
    let (cpu_before, redis_before) = (cpu(servers), redis.cpu());
    let started = Instant::now();
    let stop = started + Duration::from_secs_f64(scale.seconds);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / RATE));
    while Instant::now() < stop {
        tick.tick().await;
        writer.write().await?;
    }
    let expected = writer.sent() * observers as u64;
    drain(&tally, expected, Duration::from_secs(10)).await;
    let elapsed = started.elapsed();
    let delivered = tally.delivered.load(Ordering::Relaxed);
    let server_cpu = cpu(servers) - cpu_before;
    let redis_cpu = redis.cpu() - redis_before;
    let outcome = outcome(
        name, writer_on, elapsed, server_cpu, expected, delivered, &tally,
    );
    writer.close().await;
    for peer in peers {
        peer.close().await;
    }
    Ok(Run { outcome, redis_cpu })
}

/// Runs the scenario (Parcours only: the reference server has no shared store).
pub async fn cross_node(server: &Server, scale: Scale) -> anyhow::Result<Outcome> {
    if server.kind != Kind::Parcours {
        bail!("the reference server cannot share a store between servers");
    }
    let redis = Redis::start().await?;
    let store = ["--store".to_owned(), redis.url()];
    let store: Vec<&str> = store.iter().map(String::as_str).collect();
    let first = Server::start(Kind::Parcours, None, &store).await?;
    let second = Server::start(Kind::Parcours, None, &store).await?;
    // Everyone on one server of the Redis first, then the writer on the other.
    let same = run_load(
        "cross-node",
        "same-server",
        &first,
        &first,
        &[&first],
        &redis,
        scale,
    )
    .await?;
    let cross = run_load(
        "cross-node",
        "across-servers",
        &first,
        &second,
        &[&first, &second],
        &redis,
        scale,
    )
    .await?;
    first.stop().await;
    second.stop().await;
    let mut out = cross.outcome;
    let per_delivery = |cpu: Duration, delivered: u64| {
        (delivered > 0).then(|| cpu.as_secs_f64() * 1e6 / delivered as f64)
    };
    let same_out = &same.outcome;
    out.extra
        .insert("observers".into(), json!(scale.n(OBSERVERS)));
    out.extra.insert(
        "redis_cpu_us_per_delivery".into(),
        json!(per_delivery(cross.redis_cpu, out.delivered)),
    );
    out.extra
        .insert("same_server_p50_ms".into(), json!(same_out.p50_ms));
    out.extra
        .insert("same_server_p99_ms".into(), json!(same_out.p99_ms));
    out.extra.insert(
        "same_server_delivery_ratio".into(),
        json!(same_out.delivery_ratio),
    );
    out.extra.insert(
        "same_server_cpu_us_per_delivery".into(),
        json!(per_delivery(
            Duration::from_secs_f64(same_out.server_cpu_seconds),
            same_out.delivered
        )),
    );
    out.extra.insert(
        "same_server_redis_cpu_us_per_delivery".into(),
        json!(per_delivery(same.redis_cpu, same_out.delivered)),
    );
    Ok(out)
}
