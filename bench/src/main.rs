//! `parcours-bench`: the load generator and benchmark scenarios (BENCHMARKS.md).
//!
//! ```text
//! cargo run --release -p parcours-bench -- [--scenarios fanout,hot] [--servers parcours,reference]
//! ```
//!
//! Each scenario starts a fresh server as a child process (Parcours from this workspace, release
//! build, on a temp data directory; or the reference `@y/websocket-server` on Node.js, installed
//! by `bench/compare.sh`), drives it with real y-websocket clients carrying real yrs updates,
//! checks that every update reached every participant, and prints one JSON line per scenario and
//! server, then a table (with our/their ratios when both servers ran).

mod cluster;
mod history;
mod peer;
mod scenarios;
mod target;

use std::io::Write as _;

use clap::Parser;
use scenarios::{Outcome, Scale};
use target::{Kind, Server};

/// Benchmark scenarios against Parcours and the reference server.
#[derive(Debug, Parser)]
struct Args {
    /// Scenarios to run, comma-separated (default: all): fanout, busy, hot, hot-participants,
    /// many-boards, presence, join-storm, cold-load, ingest, history, cross-node.
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Servers to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "parcours")]
    servers: Vec<Kind>,
    /// Scales participant and board counts (1.0: the sizes BENCHMARKS.md names).
    #[arg(long, default_value_t = 1.0)]
    size: f64,
    /// Length of each scenario's sending phase, seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Also append the JSON lines to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let scale = Scale {
        size: args.size,
        seconds: args.seconds,
    };
    let names: Vec<String> = if args.scenarios.is_empty() {
        scenarios::ALL.iter().map(|s| s.to_string()).collect()
    } else {
        args.scenarios.clone()
    };
    let mut results: Vec<Outcome> = Vec::new();
    for name in &names {
        for &kind in &args.servers {
            eprintln!("== {name} on {kind:?}");
            // The server's own flags: the scenarios that pour updates in as fast as they can
            // lift the per-connection rate limit, which would otherwise pace them.
            let extra: &[&str] = match name.as_str() {
                "ingest" | "cold-load" | "history" => &[
                    "--messages-per-second",
                    "1000000",
                    "--message-burst",
                    "1000000",
                ],
                _ => &[],
            };
            // The history scenario reads the data directory after the server stops.
            let data = (name == "history" && kind == Kind::Parcours)
                .then(tempfile::tempdir)
                .transpose()?;
            let server = Server::start(kind, data.as_ref().map(|d| d.path()), extra).await?;
            let result = scenarios::run(name, &server, scale).await;
            server.stop().await;
            let result = match (result, &data) {
                (Ok(mut outcome), Some(dir)) => {
                    history::add_footprint(&mut outcome, dir.path()).map(|()| outcome)
                }
                (result, _) => result,
            };
            match result {
                Ok(outcome) => {
                    let line = serde_json::to_string(&outcome)?;
                    println!("{line}");
                    if let Some(path) = &args.json {
                        let mut file = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(path)?;
                        writeln!(file, "{line}")?;
                    }
                    results.push(outcome);
                }
                Err(error) => eprintln!("   {name} on {kind:?}: {error:#}"),
            }
        }
    }
    print_table(&results);
    Ok(())
}

fn fmt(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

fn print_table(results: &[Outcome]) {
    eprintln!();
    eprintln!(
        "{:<12} {:<10} {:>12} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10} {:>9}",
        "scenario",
        "server",
        "deliv/s",
        "ratio",
        "p50 ms",
        "p99 ms",
        "p99.9",
        "max ms",
        "cpu s/M",
        "peak MB"
    );
    for r in results {
        eprintln!(
            "{:<12} {:<10} {:>12.0} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10} {:>9.1}",
            r.scenario,
            format!("{:?}", r.server).to_lowercase(),
            r.deliveries_per_second,
            fmt(Some(r.delivery_ratio)),
            fmt(r.p50_ms),
            fmt(r.p99_ms),
            fmt(r.p999_ms),
            fmt(r.max_ms),
            fmt(r.cpu_seconds_per_million),
            r.peak_rss_mb,
        );
    }
    // Ours against theirs, scenario by scenario: deliveries per CPU-second.
    let per_cpu = |r: &Outcome| r.delivered as f64 / r.server_cpu_seconds.max(1e-9);
    for ours in results.iter().filter(|r| r.server == Kind::Parcours) {
        if let Some(theirs) = results
            .iter()
            .find(|r| r.server == Kind::Reference && r.scenario == ours.scenario)
        {
            eprintln!(
                "{:<12} deliveries per CPU-second: {:.0} vs {:.0} ({:.1}x)",
                ours.scenario,
                per_cpu(ours),
                per_cpu(theirs),
                per_cpu(ours) / per_cpu(theirs)
            );
        }
    }
}
