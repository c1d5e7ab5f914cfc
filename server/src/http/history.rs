//! The history API under `/api/boards/{id}/history`: the log, work sessions, any past version
//! (JSON, Markdown, SVG), the differences between two versions, milestones, fork and restore.
//!
//! Versions are addressed by sequence number, RFC 3339 time (the board as it was then) or
//! milestone id or name. Reading needs a viewer; naming milestones a facilitator; forking the
//! right to create the new board (as `POST /api/boards`); restoring in place an owner.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use client_protocol::BoardId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::api::{
    allowed, ask_room, download, existing, fill_new_board, new_board_id, now_ms, random_board_id,
    ApiError, ApiJson, ApiJsonOrDefault, ApiQuery, ApiResult, ErrorBody,
};
use super::credentials::Caller;
use super::AppState;
use crate::auth::{Credential, Role};
use crate::export;
use crate::history::sessions::{sessions, Session};
use crate::history::{rfc3339_ms, CreditedChange, History, NewestFirst, Version};
use crate::room::{ApiRequest, RestoreError};
use crate::storage::{Author, ForkedFrom, LogQuery, LogSeq, Milestone, MilestoneKind};

/// Most history entries one page holds.
const MAX_PAGE: usize = 500;

/// Longest milestone name.
const MAX_MILESTONE_CHARS: usize = 200;

/// The history routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/boards/{board_id}/history", get(list_history))
        .route(
            "/api/boards/{board_id}/history/sessions",
            get(list_sessions),
        )
        .route(
            "/api/boards/{board_id}/history/versions/{version}",
            get(get_version),
        )
        .route(
            "/api/boards/{board_id}/history/versions/{version}/fork",
            post(fork_version),
        )
        .route(
            "/api/boards/{board_id}/history/versions/{version}/restore",
            post(restore_version),
        )
        .route("/api/boards/{board_id}/history/diff", get(diff_versions))
        .route(
            "/api/boards/{board_id}/history/milestones",
            get(list_milestones).post(create_milestone),
        )
        .route(
            "/api/boards/{board_id}/history/milestones/{milestone_id}",
            patch(rename_milestone).delete(delete_milestone),
        )
}

fn history(state: &AppState) -> &Arc<History> {
    state.connections.rooms.history()
}

/// Parses an RFC 3339 query parameter into ms since the Unix epoch.
fn parse_time(raw: &str, what: &str) -> ApiResult<u64> {
    rfc3339_ms(raw)
        .map_err(|e| ApiError::InvalidQuery(format!("{what}: not an RFC 3339 time: {e}")))
}

/// Formats ms since the Unix epoch as RFC 3339.
fn format_time(ms: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A board that exists and that `caller` may act on with `least`.
async fn board_for(
    state: &AppState,
    caller: &Credential,
    raw: &str,
    least: Role,
) -> ApiResult<BoardId> {
    existing(state, allowed(caller, raw, least)?).await
}

/// The version `spec` names, rebuilt; 404 if it is after the board's newest record.
async fn version_of(state: &AppState, board: &BoardId, spec: &str) -> ApiResult<Arc<Version>> {
    let history = history(state);
    let seq = history.resolve(board, spec).await?;
    let head = history.head(board).await?.unwrap_or(0);
    if seq > head {
        return Err(crate::history::HistoryError::UnknownVersion(spec.to_owned()).into());
    }
    Ok(history.version(board, seq).await?)
}

/// `?before=&after=&limit=&author=&since=&until=`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// Only entries before this sequence number (the `next` of the previous page).
    pub before: Option<LogSeq>,
    /// Only entries after this sequence number.
    pub after: Option<LogSeq>,
    /// Entries per page (default 100, at most 500).
    pub limit: Option<usize>,
    /// Only entries by this author (participant id or display name).
    pub author: Option<String>,
    /// Only entries stored at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only entries stored at or before this RFC 3339 time.
    pub until: Option<String>,
}

/// One entry of a board's history: an update, or a summary of several.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// Its sequence number: the version right after it.
    pub seq: LogSeq,
    /// When it was stored (RFC 3339).
    pub time: String,
    /// When it was stored (ms since the Unix epoch).
    pub time_ms: u64,
    /// When its first update was stored (a summary spans several).
    pub first_ms: u64,
    /// Who made it.
    pub authors: Vec<Author>,
    /// Their role (absent on summaries).
    pub role: Option<String>,
    /// Size in bytes.
    pub bytes: u64,
    /// Updates it stands for (1 but for summaries that retention made).
    pub updates: u64,
}

/// A page of history, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    /// The board's newest version.
    pub head: LogSeq,
    /// The board and version this board was forked from, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<ForkedFrom>,
    /// Entries, newest first.
    pub entries: Vec<HistoryEntry>,
    /// Pass as `before` for the next page; absent on the last.
    pub next: Option<LogSeq>,
}

fn by_author(author: &Author, wanted: &str) -> bool {
    author.sub == wanted || author.name == wanted
}

/// Lists a board's history, newest first, paginated and filtered by author and time.
#[utoipa::path(get, path = "/api/boards/{board_id}/history",
    params(("board_id" = String, Path, description = "Board id"), HistoryQuery),
    responses((status = 200, body = HistoryPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list_history(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(raw): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<HistoryPage>> {
    let board = board_for(&state, &caller, &raw, Role::Viewer).await?;
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let since = query
        .since
        .as_deref()
        .map(|t| parse_time(t, "since"))
        .transpose()?;
    let until = query
        .until
        .as_deref()
        .map(|t| parse_time(t, "until"))
        .transpose()?;
    let history = history(&state);
    let head = history.head(&board).await?.unwrap_or(0);
    // Read newest first in chunks, so that a page of a long history costs what it shows (plus
    // what the filters skip), not the whole log.
    let mut entries = Vec::new();
    let mut next = None;
    let through = query.before.map(|b| b.saturating_sub(1));
    let mut scan = NewestFirst::new(&board, query.after, through);
    'scan: while let Some(records) = scan
        .next_chunk(history.store().as_ref())
        .await
        .map_err(ApiError::Storage)?
    {
        for record in records {
            let meta = &record.meta;
            if since.is_some_and(|s| meta.time_ms < s) {
                break 'scan; // newest first: everything after is older still
            }
            if until.is_some_and(|u| meta.first_ms > u)
                || query
                    .author
                    .as_deref()
                    .is_some_and(|a| !meta.authors.iter().any(|m| by_author(m, a)))
            {
                continue;
            }
            if entries.len() == limit {
                next = entries.last().map(|e: &HistoryEntry| e.seq);
                break 'scan;
            }
            entries.push(HistoryEntry {
                seq: record.seq,
                time: format_time(meta.time_ms),
                time_ms: meta.time_ms,
                first_ms: meta.first_ms,
                authors: meta.authors.clone(),
                role: meta.role.clone(),
                bytes: meta.bytes,
                updates: meta.updates,
            });
        }
    }
    let forked_from = history
        .store()
        .record(&board)
        .await
        .map_err(ApiError::Storage)?
        .and_then(|record| record.forked_from);
    Ok(Json(HistoryPage {
        head,
        forked_from,
        entries,
        next,
    }))
}

/// `?since=&until=` for sessions.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SessionQuery {
    /// Only sessions ending at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only sessions starting at or before this RFC 3339 time.
    pub until: Option<String>,
}

/// Lists a board's work sessions (history grouped by pauses of more than 30 minutes), newest
/// first.
#[utoipa::path(get, path = "/api/boards/{board_id}/history/sessions",
    params(("board_id" = String, Path, description = "Board id"), SessionQuery),
    responses((status = 200, body = [Session]), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list_sessions(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(raw): Path<String>,
    ApiQuery(query): ApiQuery<SessionQuery>,
) -> ApiResult<Json<Vec<Session>>> {
    let board = board_for(&state, &caller, &raw, Role::Viewer).await?;
    let since = query
        .since
        .as_deref()
        .map(|t| parse_time(t, "since"))
        .transpose()?;
    let until = query
        .until
        .as_deref()
        .map(|t| parse_time(t, "until"))
        .transpose()?;
    let records = history(&state)
        .store()
        .log(&board, LogQuery::default())
        .await
        .map_err(ApiError::Storage)?;
    let mut found: Vec<Session> = sessions(&records, 0)
        .into_iter()
        .filter(|s| since.is_none_or(|t| s.end_ms >= t) && until.is_none_or(|t| s.start_ms <= t))
        .collect();
    found.reverse();
    Ok(Json(found))
}

/// `?format=json|markdown|svg`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct VersionQuery {
    /// `json` (default), `markdown` or `svg`.
    pub format: Option<String>,
}

/// A past version of a board: the board JSON (as `GET /api/boards/{id}`), Markdown or SVG. The
/// `Parcours-Version` header gives its sequence number.
#[utoipa::path(get, path = "/api/boards/{board_id}/history/versions/{version}",
    params(("board_id" = String, Path, description = "Board id"),
        ("version" = String, Path, description = "Sequence number, RFC 3339 time, or milestone id or name"),
        VersionQuery),
    responses((status = 200, description = "The version", content(
            ("application/json"), ("text/markdown"), ("image/svg+xml"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_version(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((raw, spec)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<VersionQuery>,
) -> ApiResult<Response> {
    let board = board_for(&state, &caller, &raw, Role::Viewer).await?;
    let version = version_of(&state, &board, &spec).await?;
    let seq = version.seq;
    let mut response = match query.format.as_deref().unwrap_or("json") {
        "json" => Json(&version.board).into_response(),
        "markdown" => download(
            "text/markdown; charset=utf-8",
            format!("{board}-v{seq}.md"),
            export::markdown(&version.board),
        ),
        "svg" => (
            [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
            export::svg(&version.board),
        )
            .into_response(),
        other => {
            return Err(ApiError::InvalidQuery(format!(
                "format {other:?}: expected json, markdown or svg"
            )))
        }
    };
    response.headers_mut().insert(
        "parcours-version",
        seq.to_string().parse().expect("digits are a header value"),
    );
    Ok(response)
}

/// `?from=&to=`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DiffQuery {
    /// The earlier version (sequence number, RFC 3339 time or milestone).
    pub from: String,
    /// The later version (default: the board's newest).
    pub to: Option<String>,
}

/// What changed between two versions, in board terms, each change with its authors.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiffReport {
    /// The earlier version's sequence number.
    pub from: LogSeq,
    /// The later version's.
    pub to: LogSeq,
    /// Everyone who made a change in between.
    pub authors: Vec<Author>,
    /// The changes (SCHEMA.md, "Comparing versions"), each with an `authors` list of
    /// `{sub, name}`.
    #[schema(value_type = Vec<Object>)]
    pub changes: Vec<CreditedChange>,
}

/// Compares two versions of a board: cards added, removed, edited, moved; votes, emotions,
/// stages, lanes, personas and meta changed, each attributed to who made it.
#[utoipa::path(get, path = "/api/boards/{board_id}/history/diff",
    params(("board_id" = String, Path, description = "Board id"), DiffQuery),
    responses((status = 200, body = DiffReport), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn diff_versions(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(raw): Path<String>,
    ApiQuery(query): ApiQuery<DiffQuery>,
) -> ApiResult<Json<DiffReport>> {
    let board = board_for(&state, &caller, &raw, Role::Viewer).await?;
    let from = version_of(&state, &board, &query.from).await?;
    let to = match &query.to {
        Some(spec) => version_of(&state, &board, spec).await?,
        None => {
            let head = history(&state).head(&board).await?.unwrap_or(0);
            history(&state).version(&board, head).await?
        }
    };
    let report = history(&state).diff(&board, &from, &to).await?;
    Ok(Json(DiffReport {
        from: from.seq,
        to: to.seq,
        authors: report.authors,
        changes: report.changes,
    }))
}

/// Lists a board's milestones, oldest version first.
#[utoipa::path(get, path = "/api/boards/{board_id}/history/milestones",
    params(("board_id" = String, Path, description = "Board id")),
    responses((status = 200, body = [Milestone]), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_milestones(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<Milestone>>> {
    let board = board_for(&state, &caller, &raw, Role::Viewer).await?;
    Ok(Json(history(&state).milestones(&board).await?))
}

/// A milestone to name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewMilestone {
    /// Its name ("after Q3 workshop"), 1 to 200 characters.
    pub name: String,
    /// The version it names (default: the board's newest).
    pub version: Option<String>,
}

/// A milestone's new name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MilestoneRename {
    /// Its new name, 1 to 200 characters.
    pub name: String,
}

fn milestone_name(raw: &str) -> ApiResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_MILESTONE_CHARS {
        return Err(ApiError::Unprocessable {
            code: "invalid_field",
            detail: format!("name must have 1 to {MAX_MILESTONE_CHARS} characters"),
        });
    }
    // A version is addressed by number or time before milestone names: such a name could never
    // be used.
    if name.parse::<LogSeq>().is_ok() || rfc3339_ms(name).is_ok() {
        return Err(ApiError::Unprocessable {
            code: "invalid_field",
            detail: "a milestone name may not be a version number or an RFC 3339 time (versions \
                     are addressed by those first, so it could not be used)"
                .into(),
        });
    }
    Ok(name.to_owned())
}

/// Who a caller is, for history's records.
fn author_of(caller: &Credential, board: &BoardId, least: Role) -> ApiResult<Author> {
    Ok(Author::of(&caller.grant(board, least)?.actor))
}

/// Names a version of the board. Its version is kept exact forever (retention never thins it).
#[utoipa::path(post, path = "/api/boards/{board_id}/history/milestones",
    params(("board_id" = String, Path, description = "Board id")), request_body = NewMilestone,
    responses((status = 201, body = Milestone), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_milestone(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(raw): Path<String>,
    ApiJson(request): ApiJson<NewMilestone>,
) -> ApiResult<(StatusCode, Json<Milestone>)> {
    let board = board_for(&state, &caller, &raw, Role::Facilitator).await?;
    let name = milestone_name(&request.name)?;
    let history = history(&state);
    let head = history.head(&board).await?.unwrap_or(0);
    let seq = match &request.version {
        Some(spec) => history.resolve(&board, spec).await?,
        None => head,
    };
    if seq > head {
        return Err(crate::history::HistoryError::UnknownVersion(seq.to_string()).into());
    }
    let milestone = Milestone {
        id: random_board_id(),
        name,
        seq,
        created_ms: now_ms() as u64,
        created_by: author_of(&caller, &board, Role::Facilitator)?,
        kind: MilestoneKind::Named,
    };
    history
        .store()
        .put_milestone(&board, &milestone)
        .await
        .map_err(ApiError::Storage)?;
    tracing::info!(board = %board, milestone = %milestone.id, seq, "milestone named");
    Ok((StatusCode::CREATED, Json(milestone)))
}

async fn find_milestone(state: &AppState, board: &BoardId, id: &str) -> ApiResult<Milestone> {
    history(state)
        .milestones(board)
        .await?
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| ApiError::NotFound {
            code: "milestone_not_found",
            detail: format!("there is no milestone {id:?} on board {board}"),
        })
}

/// Renames a milestone.
#[utoipa::path(patch, path = "/api/boards/{board_id}/history/milestones/{milestone_id}",
    params(("board_id" = String, Path, description = "Board id"),
        ("milestone_id" = String, Path, description = "Milestone id")),
    request_body = MilestoneRename,
    responses((status = 200, body = Milestone), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn rename_milestone(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((raw, id)): Path<(String, String)>,
    ApiJson(request): ApiJson<MilestoneRename>,
) -> ApiResult<Json<Milestone>> {
    let board = board_for(&state, &caller, &raw, Role::Facilitator).await?;
    let mut milestone = find_milestone(&state, &board, &id).await?;
    milestone.name = milestone_name(&request.name)?;
    history(&state)
        .store()
        .put_milestone(&board, &milestone)
        .await
        .map_err(ApiError::Storage)?;
    Ok(Json(milestone))
}

/// Deletes a milestone (the version stays in history; retention may thin it later).
#[utoipa::path(delete, path = "/api/boards/{board_id}/history/milestones/{milestone_id}",
    params(("board_id" = String, Path, description = "Board id"),
        ("milestone_id" = String, Path, description = "Milestone id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_milestone(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((raw, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let board = board_for(&state, &caller, &raw, Role::Facilitator).await?;
    let milestone = find_milestone(&state, &board, &id).await?;
    history(&state)
        .store()
        .remove_milestone(&board, &milestone.id)
        .await
        .map_err(ApiError::Storage)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Where to fork to.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForkRequest {
    /// The new board's id (default: generated; a token may only fork to an id it covers).
    pub id: Option<String>,
}

/// A board forked from a past version.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Forked {
    /// The new board's id.
    pub id: String,
    /// Its WebSocket path.
    pub websocket_path: String,
    /// What it was forked from.
    pub forked_from: ForkedFrom,
}

/// Creates a new board from any past version (the source board is not touched; the version is
/// pinned on it as a `fork` milestone).
#[utoipa::path(post, path = "/api/boards/{board_id}/history/versions/{version}/fork",
    params(("board_id" = String, Path, description = "Board id"),
        ("version" = String, Path, description = "Sequence number, RFC 3339 time, or milestone id or name")),
    request_body = ForkRequest,
    responses((status = 201, body = Forked), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn fork_version(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((raw, spec)): Path<(String, String)>,
    ApiJsonOrDefault(request): ApiJsonOrDefault<ForkRequest>,
) -> ApiResult<(StatusCode, Json<Forked>)> {
    let source = board_for(&state, &caller, &raw, Role::Viewer).await?;
    let target = new_board_id(&caller, request.id.as_deref(), "fork to")?;
    let version = version_of(&state, &source, &spec).await?;
    fill_new_board(&state, &caller, &target, version.state.clone()).await?;
    let author = author_of(&caller, &target, Role::Facilitator)?;
    let forked_from = ForkedFrom {
        board: source.to_string(),
        seq: version.seq,
    };
    let store = history(&state).store();
    store
        .set_forked_from(&target, forked_from.clone())
        .await
        .map_err(ApiError::Storage)?;
    store
        .put_milestone(
            &source,
            &Milestone {
                id: random_board_id(),
                name: format!("forked to {target}"),
                seq: version.seq,
                created_ms: now_ms() as u64,
                created_by: author,
                kind: MilestoneKind::Fork,
            },
        )
        .await
        .map_err(ApiError::Storage)?;
    tracing::info!(board = %target, from = %source, seq = version.seq, "board forked");
    Ok((
        StatusCode::CREATED,
        Json(Forked {
            websocket_path: format!("/boards/{target}"),
            id: target.to_string(),
            forked_from,
        }),
    ))
}

/// What the owner saw when choosing to restore.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreRequest {
    /// The board's newest version when the owner looked (`head` of the history listing): if the
    /// board moved since, the restore is refused with 409 `board_moved`.
    pub expected_head: LogSeq,
}

/// A restore done.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Restored {
    /// The version restored.
    pub restored: LogSeq,
    /// The board's newest version now (the restore's own edits), equal to `expectedHead` if
    /// the board already matched.
    pub head: LogSeq,
    /// The milestone taken automatically just before.
    pub before_restore: Milestone,
}

/// Restores the board in place to a past version (owner only), as ordinary edits in one
/// transaction, stored before anyone receives them, after an automatic "before restore"
/// milestone. Connected clients converge without reloading; nothing is overwritten in storage.
#[utoipa::path(post, path = "/api/boards/{board_id}/history/versions/{version}/restore",
    params(("board_id" = String, Path, description = "Board id"),
        ("version" = String, Path, description = "Sequence number, RFC 3339 time, or milestone id or name")),
    request_body = RestoreRequest,
    responses((status = 200, body = Restored), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn restore_version(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((raw, spec)): Path<(String, String)>,
    ApiJson(request): ApiJson<RestoreRequest>,
) -> ApiResult<Json<Restored>> {
    let board = board_for(&state, &caller, &raw, Role::Owner).await?;
    let version = version_of(&state, &board, &spec).await?;
    let actor = caller.grant(&board, Role::Owner)?.actor;
    let before = Milestone {
        id: random_board_id(),
        name: format!("before restoring version {}", version.seq),
        seq: 0,
        created_ms: now_ms() as u64,
        created_by: Author::of(&actor),
        kind: MilestoneKind::BeforeRestore,
    };
    let restored = ask_room(&state, &board, |reply| ApiRequest::Restore {
        target: version.state.clone(),
        expected_head: request.expected_head,
        actor,
        before,
        reply,
    })
    .await?;
    match restored {
        Ok(done) => {
            tracing::info!(board = %board, version = version.seq, head = done.head, "board restored");
            Ok(Json(Restored {
                restored: version.seq,
                head: done.head,
                before_restore: done.before,
            }))
        }
        Err(RestoreError::Moved { head }) => Err(ApiError::Conflict {
            code: "board_moved",
            detail: format!(
                "the board changed since version {} (it is at {head}); look again and retry",
                request.expected_head
            ),
        }),
        Err(RestoreError::Storage(e)) => Err(ApiError::Storage(e)),
        Err(RestoreError::Invalid(detail)) => Err(ApiError::Unavailable(detail)),
    }
}
