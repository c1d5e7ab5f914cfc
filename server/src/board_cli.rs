//! `parcours board …`: command-line access to a live board, built on the Rust client SDK.
//!
//! Output is for people and scripts alike: JSON (`dump`) or one JSON object per line (`watch`,
//! `add-card`) on stdout; errors on stderr with a non-zero exit code.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context as _};
use client_protocol::client::{Client, ClientEvent, ClientOptions};
use client_protocol::schema::{self, Board, BoardRefs, BoardWriter, NewCard};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use yrs::types::ToJson;
use yrs::{ReadTxn, Transact};

/// The `parcours board` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum BoardCommand {
    /// Print a board as JSON: the typed board (see SCHEMA.md), or with --raw every root type.
    Dump {
        #[command(flatten)]
        target: Target,
        /// Print every root type of the Yjs document as JSON instead of the typed board.
        #[arg(long)]
        raw: bool,
    },
    /// Stream changes and presence as JSON lines, one event per line, until interrupted.
    Watch {
        #[command(flatten)]
        target: Target,
        /// Show up on the board under this name while watching.
        #[arg(long)]
        name: Option<String>,
    },
    /// Add a card to a stage × lane cell and print its id.
    AddCard {
        #[command(flatten)]
        target: Target,
        /// The stage: its id or its name (case-insensitive).
        #[arg(long)]
        stage: String,
        /// The lane: its id, its kind (e.g. painPoints) or its title (case-insensitive).
        #[arg(long)]
        lane: String,
        /// The card's text.
        #[arg(long)]
        text: String,
        /// Author shown on the card; by default the name in the token, else `parcours-cli`.
        #[arg(long)]
        author: Option<String>,
        /// Card colour.
        #[arg(long, default_value = "#ffd166")]
        color: String,
        /// Owning team (marketing, sales, support, product…).
        #[arg(long, default_value = "")]
        team: String,
    },
}

/// Which board, and how to get in.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// Board URL: ws://HOST:PORT/boards/BOARD_ID
    pub url: String,
    /// Access token (sent as ?token=…).
    #[arg(long, env = "PARCOURS_TOKEN")]
    pub token: Option<String>,
}

/// Runs one `parcours board` subcommand.
pub async fn run(command: BoardCommand) -> anyhow::Result<()> {
    match command {
        BoardCommand::Dump { target, raw } => dump(target, raw).await,
        BoardCommand::Watch { target, name } => watch(target, name).await,
        BoardCommand::AddCard {
            target,
            stage,
            lane,
            text,
            author,
            color,
            team,
        } => {
            let claims = target
                .token
                .as_deref()
                .and_then(parcours_server::auth::Claims::unverified);
            let author = author
                .or_else(|| claims.as_ref().map(|c| c.name.clone()))
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| "parcours-cli".into());
            let card = NewCard {
                stage,
                lane,
                text,
                author,
                color,
                team,
            };
            add_card(target, card, claims.map(|c| c.sub)).await
        }
    }
}

async fn connect(target: &Target) -> anyhow::Result<Client> {
    let options = ClientOptions {
        token: target.token.clone(),
        ..ClientOptions::default()
    };
    Client::connect(&target.url, options)
        .await
        .with_context(|| format!("connecting to {}", target.url))
}

async fn dump(target: Target, raw: bool) -> anyhow::Result<()> {
    let client = connect(&target).await?;
    let value = if raw {
        raw_roots(client.doc())
    } else {
        serde_json::to_value(Board::from_doc(client.doc()))?
    };
    client.close().await;
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

/// Every root type of the document as JSON. Roots that arrived from the server but were never
/// declared locally have no type yet; each is declared with the type its content implies (the
/// inference yrs itself uses), which is harmless on a document about to be dropped.
fn raw_roots(doc: &yrs::Doc) -> Value {
    use yrs::types::AsPrelim;
    use yrs::{GetString, In, Out};
    enum Kind {
        Map,
        Array,
        Text,
        Other,
    }
    let kinds: Vec<(String, Kind)> = {
        let txn = doc.transact();
        txn.root_refs()
            .map(|(name, root)| {
                let kind = match &root {
                    Out::YMap(_) => Kind::Map,
                    Out::YArray(_) => Kind::Array,
                    Out::YText(_) => Kind::Text,
                    Out::UndefinedRef(_) => match root.as_prelim(&txn) {
                        In::Map(_) => Kind::Map,
                        In::Array(_) => Kind::Array,
                        In::Text(_) => Kind::Text,
                        _ => Kind::Other,
                    },
                    _ => Kind::Other,
                };
                (name.to_owned(), kind)
            })
            .collect()
    };
    let mut roots = serde_json::Map::new();
    for (name, kind) in kinds {
        let value = match kind {
            Kind::Map => {
                let map = doc.get_or_insert_map(name.as_str());
                serde_json::to_value(map.to_json(&doc.transact())).unwrap_or(Value::Null)
            }
            Kind::Array => {
                let array = doc.get_or_insert_array(name.as_str());
                serde_json::to_value(array.to_json(&doc.transact())).unwrap_or(Value::Null)
            }
            Kind::Text => {
                let text = doc.get_or_insert_text(name.as_str());
                Value::String(text.get_string(&doc.transact()))
            }
            Kind::Other => Value::Null,
        };
        roots.insert(name, value);
    }
    Value::Object(roots)
}

fn line(value: Value) {
    println!("{value}");
}

async fn watch(target: Target, name: Option<String>) -> anyhow::Result<()> {
    let client = connect(&target).await?;
    let mut events = client.events();
    if let Some(name) = name {
        client.set_presence(&json!({"user": {"name": name, "role": "viewer"}}));
    }
    let mut board = Board::from_doc(client.doc());
    let mut presence = client.presence();
    line(json!({
        "event": "synced",
        "title": board.meta.title,
        "stages": board.stages.len(),
        "lanes": board.lanes.len(),
        "cards": board.cards.len(),
        "present": presence.len(),
    }));
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let event = tokio::select! {
            _ = &mut interrupted => break,
            event = events.recv() => event,
        };
        match event {
            Ok(ClientEvent::RemoteUpdate) => {
                let now = Board::from_doc(client.doc());
                for change in schema::diff(&board, &now) {
                    let mut value = serde_json::to_value(change)?;
                    value["event"] = json!("change");
                    line(value);
                }
                board = now;
            }
            Ok(ClientEvent::Presence { .. }) => {
                let now = client.presence();
                presence_lines(&presence, &now);
                presence = now;
            }
            Ok(ClientEvent::Status(status)) => {
                line(json!({"event": "status", "status": format!("{status:?}")}))
            }
            Ok(ClientEvent::PermissionDenied(reason)) => {
                line(json!({"event": "permissionDenied", "reason": reason}))
            }
            Err(RecvError::Lagged(skipped)) => {
                line(json!({"event": "lagged", "skipped": skipped}));
                board = Board::from_doc(client.doc());
                presence = client.presence();
            }
            Err(RecvError::Closed) => break,
        }
    }
    client.close().await;
    Ok(())
}

/// Who arrived, left, or changed their presence state (renewals of an unchanged state are quiet).
fn presence_lines(before: &BTreeMap<u64, Value>, after: &BTreeMap<u64, Value>) {
    for (client, state) in after {
        match before.get(client) {
            None => line(json!({"event": "joined", "client": client, "state": state})),
            Some(old) if old != state => {
                line(json!({"event": "presenceChanged", "client": client, "state": state}))
            }
            _ => {}
        }
    }
    for client in before.keys().filter(|c| !after.contains_key(c)) {
        line(json!({"event": "left", "client": client}));
    }
}

/// Finds a stage by id or name, and a lane by id, kind or title.
fn resolve(board: &Board, stage: &str, lane: &str) -> anyhow::Result<(String, String)> {
    let stage_id = board
        .stages
        .iter()
        .find(|s| s.id == stage || s.name.eq_ignore_ascii_case(stage))
        .map(|s| s.id.clone())
        .ok_or_else(|| {
            let names: Vec<&str> = board.stages.iter().map(|s| s.name.as_str()).collect();
            anyhow!("no stage {stage:?} on this board (stages: {names:?})")
        })?;
    let lane_id = board
        .lanes
        .iter()
        .find(|l| {
            l.id == lane
                || l.kind.as_str().eq_ignore_ascii_case(lane)
                || l.title.eq_ignore_ascii_case(lane)
        })
        .map(|l| l.id.clone())
        .ok_or_else(|| {
            let titles: Vec<&str> = board.lanes.iter().map(|l| l.title.as_str()).collect();
            anyhow!("no lane {lane:?} on this board (lanes: {titles:?})")
        })?;
    Ok((stage_id, lane_id))
}

async fn add_card(
    target: Target,
    mut card: NewCard,
    author_id: Option<String>,
) -> anyhow::Result<()> {
    let client = connect(&target).await?;
    let mut events = client.events();
    let board = Board::from_doc(client.doc());
    let (stage, lane) = resolve(&board, &card.stage, &card.lane)?;
    card.stage = stage;
    card.lane = lane;
    let refs = BoardRefs::new(client.doc());
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let id = {
        let mut txn = client.doc().transact_mut();
        let mut writer = BoardWriter::new(&mut txn, &refs, now_ms);
        if let Some(sub) = author_id {
            writer = writer.with_author_id(sub);
        }
        writer.add_card(&card)?
    };
    if let Err(e) = client.flush().await {
        bail!("the card may not have reached the server: {e}");
    }
    // The server answers a refused edit with permission denied before it answers the flush.
    while let Ok(event) = events.try_recv() {
        if let ClientEvent::PermissionDenied(reason) = event {
            client.close().await;
            bail!("the server refused the card: {reason}");
        }
    }
    client.close().await;
    line(json!({"card": id, "stage": card.stage, "lane": card.lane}));
    Ok(())
}
