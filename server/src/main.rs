//! The `parcours` binary: command-line parsing, logging, signals. Everything else is in the
//! library (`parcours_server`).

mod board_cli;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use parcours_server::config::ServeArgs;
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => report(serve(args)),
        Command::Board(command) => report(client_runtime(board_cli::run(command))),
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

/// Runs a client command on a small runtime; client commands log warnings only.
fn client_runtime(
    work: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let _ = parcours_server::telemetry::init(parcours_server::config::LogFormat::Pretty, "warn");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(work)
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    parcours_server::telemetry::init(args.log_format, &args.log_filter)
        .map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("binding {}", args.bind))?;
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        parcours_server::run(listener, args.server_config(), shutdown)
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
