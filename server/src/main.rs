//! The `parcours` binary: command-line parsing, logging, signals. Everything else is in the
//! library (`parcours_server`).

mod board_cli;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use parcours_server::config::ServeArgs;
use parcours_server::storage::Store as _;
use tokio_util::sync::CancellationToken;

/// Parcours: a real-time collaboration server for customer-journey boards.
#[derive(Debug, Parser)]
#[command(name = "parcours", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve boards over WebSockets (the y-websocket protocol) and HTTP.
    Serve(ServeArgs),
    /// Read, watch and edit a live board from the command line (through a running server).
    #[command(subcommand)]
    Board(board_cli::BoardCommand),
    /// Issue an access token offline, signed with the admin key (printed on stdout).
    Token {
        /// The admin key the server is started with.
        #[arg(long, env = "PARCOURS_ADMIN_KEY", hide_env_values = true)]
        admin_key: parcours_server::auth::AdminKey,
        /// The board id, or a prefix ending in `*` for every board it starts.
        #[arg(long)]
        board: String,
        /// The role on that board.
        #[arg(long, default_value = "participant")]
        role: parcours_server::auth::Role,
        /// The participant's stable id.
        #[arg(long)]
        sub: String,
        /// The participant's display name.
        #[arg(long, default_value = "")]
        name: String,
        /// How long the token is valid, in seconds.
        #[arg(long, default_value_t = parcours_server::auth::DEFAULT_TOKEN_TTL_SECS)]
        ttl_secs: u64,
    },
    /// Check that every board stored in a data directory loads (stop the server first).
    Fsck {
        /// The server's data directory.
        data_dir: PathBuf,
        /// One JSON object per board instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Export every readable board of a data directory to a file (stop the server first).
    Backup {
        /// The server's data directory.
        data_dir: PathBuf,
        /// The backup file to write (JSON Lines).
        output: PathBuf,
    },
    /// Thin board history as the server's retention does (stop the server first).
    Thin {
        /// The server's data directory.
        data_dir: PathBuf,
        /// Keep every update for this many days…
        #[arg(long, default_value_t = 30)]
        keep_every_update_days: u64,
        /// …then hourly summaries for this many days, then daily.
        #[arg(long, default_value_t = 60)]
        keep_hourly_days: u64,
        /// Thin as if it were this RFC 3339 time (default: now).
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Import a backup into a data directory, merging with boards already there (stop the
    /// server first).
    Restore {
        /// The server's data directory.
        data_dir: PathBuf,
        /// The backup file to read.
        input: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => report(serve(args)),
        Command::Board(command) => report(client_runtime(board_cli::run(command))),
        Command::Fsck { data_dir, json } => match client_runtime(fsck(data_dir, json)) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(error) => report(Err(error)),
        },
        Command::Token {
            admin_key,
            board,
            role,
            sub,
            name,
            ttl_secs,
        } => report(issue_token(&admin_key, board, role, sub, name, ttl_secs)),
        Command::Backup { data_dir, output } => report(client_runtime(backup(data_dir, output))),
        Command::Restore { data_dir, input } => report(client_runtime(restore(data_dir, input))),
        Command::Thin {
            data_dir,
            keep_every_update_days,
            keep_hourly_days,
            as_of,
        } => report(client_runtime(thin(
            data_dir,
            keep_every_update_days,
            keep_hourly_days,
            as_of,
        ))),
    }
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("parcours: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a client or operator command on a small runtime; such commands log warnings only.
fn client_runtime<T>(
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let _ = parcours_server::telemetry::init(parcours_server::config::LogFormat::Pretty, "warn");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(work)
}

fn issue_token(
    admin_key: &parcours_server::auth::AdminKey,
    board: String,
    role: parcours_server::auth::Role,
    sub: String,
    name: String,
    ttl_secs: u64,
) -> anyhow::Result<()> {
    use parcours_server::auth::Claims;
    let valid = board.strip_suffix('*').map_or_else(
        || client_protocol::BoardId::parse(&board).is_ok(),
        |p| client_protocol::BoardId::parse(&format!("{p}x")).is_ok(),
    );
    if !valid {
        anyhow::bail!("{board:?} is neither a board id nor a board id prefix ending in *");
    }
    let claims = Claims::lasting(board, role, sub, name, ttl_secs);
    println!("{}", admin_key.issue(&claims)?);
    Ok(())
}

fn open_store(data_dir: &std::path::Path) -> anyhow::Result<parcours_server::storage::SledStore> {
    if !data_dir.is_dir() {
        anyhow::bail!("{} is not a data directory", data_dir.display());
    }
    parcours_server::storage::SledStore::open(data_dir).with_context(|| {
        format!(
            "opening {} (is a server running on it?)",
            data_dir.display()
        )
    })
}

async fn thin(
    data_dir: PathBuf,
    keep_every_update_days: u64,
    keep_hourly_days: u64,
    as_of: Option<String>,
) -> anyhow::Result<()> {
    let now_ms = match as_of {
        Some(time) => parcours_server::history::rfc3339_ms(&time)
            .with_context(|| format!("--as-of {time}: not an RFC 3339 time"))?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as u64,
    };
    let store = open_store(&data_dir)?;
    let config = parcours_server::history::HistoryConfig {
        retention: parcours_server::history::RetentionPolicy::days(
            keep_every_update_days,
            keep_hourly_days,
        ),
        ..Default::default()
    };
    let boards = parcours_server::ops::thin(store, config, now_ms).await?;
    eprintln!("history thinned on {boards} boards");
    Ok(())
}

/// Prints one line per board; returns whether every board loads.
async fn fsck(data_dir: PathBuf, json: bool) -> anyhow::Result<bool> {
    let store = open_store(&data_dir)?;
    let checks = parcours_server::ops::fsck(&store).await?;
    for check in &checks {
        if json {
            println!("{}", serde_json::to_string(check)?);
        } else {
            println!(
                "{:<8} {:<40} snapshot {:>9} B  log {:>6} updates {:>9} B  {:>5} cards  {}",
                check.status,
                check.board,
                check.snapshot_bytes,
                check.log_updates,
                check.log_bytes,
                check.cards,
                check.problem.as_deref().unwrap_or(&check.title),
            );
        }
    }
    let corrupt = checks.iter().filter(|c| c.status != "ok").count();
    eprintln!("{} boards checked, {corrupt} corrupt", checks.len());
    Ok(corrupt == 0)
}

async fn backup(data_dir: PathBuf, output: PathBuf) -> anyhow::Result<()> {
    let store = open_store(&data_dir)?;
    let file =
        std::fs::File::create(&output).with_context(|| format!("creating {}", output.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let checks = parcours_server::ops::backup(&store, &mut out).await?;
    out.into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()
        .context("syncing the backup file")?;
    let salvaged: Vec<&str> = checks
        .iter()
        .filter(|c| c.status != "ok")
        .map(|c| c.board.as_str())
        .collect();
    eprintln!("{} boards written to {}", checks.len(), output.display());
    if !salvaged.is_empty() {
        anyhow::bail!(
            "corrupt boards were salvaged, unreadable records skipped (see parcours fsck): {}",
            salvaged.join(", ")
        );
    }
    Ok(())
}

async fn restore(data_dir: PathBuf, input: PathBuf) -> anyhow::Result<()> {
    std::fs::create_dir_all(&data_dir)?;
    let store = open_store(&data_dir)?;
    let text =
        std::fs::read_to_string(&input).with_context(|| format!("reading {}", input.display()))?;
    let lines = text.lines().count() as u64;
    let restored = parcours_server::ops::restore(&store, text.as_bytes(), lines).await?;
    store.flush().await?;
    eprintln!("{restored} boards restored into {}", data_dir.display());
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    parcours_server::telemetry::init(args.log_format, &args.log_filter)
        .map_err(anyhow::Error::msg)?;
    let config = args.server_config()?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("binding {}", args.bind))?;
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        parcours_server::run(listener, config, shutdown)
            .await
            .context("server failed")
    })
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutdown signal received");
    shutdown.cancel();
}
