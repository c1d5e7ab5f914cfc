//! The board REST API under `/api`, described by the OpenAPI document it serves at
//! `/api/openapi.json` (generated from these handlers, so the two cannot drift).
//!
//! Every read and write of a board goes through its room (the board's single owner): a read sees
//! every durable edit, and creating or deleting a board cannot race live participants. Errors are
//! JSON `{"error": code, "detail": text}` with a stable `code` and the status listed in
//! `ApiError`.
//!
//! When the server requires credentials, every route but `/api/templates` and
//! `/api/openapi.json` takes a `Caller` and checks what it grants on the board at hand before
//! touching it: reads need a viewer, creating a board a facilitator, deleting it and issuing
//! tokens an owner, and listing every board the admin key itself.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use client_protocol::schema::{
    self, instantiate, validate, Board, BoardRefs, BoardWriter, Lang, PersonaInit, Severity,
};
use client_protocol::{BoardId, InvalidBoardId};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use utoipa::{IntoParams, OpenApi, ToSchema};
use yrs::{Doc, ReadTxn, StateVector, Transact};

use super::credentials::Caller;
use super::AppState;
use crate::auth::{AuthError, Claims, Credential, Role};
use crate::export;
use crate::history::HistoryError;
use crate::room::{ApiRequest, BoardState, Command, CreateError};
use crate::storage::{BoardSummary, StoreError};

/// Largest request body the API accepts by default (`--max-body-bytes`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;
/// Longest board title accepted.
const MAX_TITLE_CHARS: usize = 200;
/// How long a request waits for a board's room.
const ROOM_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest validity of a token issued through the API: tokens cannot be revoked (short of
/// changing the admin key), so they are meant to be renewed rather than kept.
const MAX_TOKEN_TTL_SECS: u64 = 30 * 24 * 3600;
/// Longest `sub` and `name` of an issued token.
const MAX_TOKEN_FIELD_CHARS: usize = 200;

/// The OpenAPI description of the REST API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Parcours API",
        description = "Journey boards over HTTP. Live editing happens over the WebSocket protocol \
                       (PROTOCOL.md); boards are described in SCHEMA.md."
    ),
    paths(
        list_templates,
        create_board,
        list_boards,
        get_board,
        delete_board,
        export_board,
        lint_board,
        board_map,
        issue_token,
        super::history::list_history,
        super::history::list_sessions,
        super::history::get_version,
        super::history::diff_versions,
        super::history::list_milestones,
        super::history::create_milestone,
        super::history::rename_milestone,
        super::history::delete_milestone,
        super::history::fork_version,
        super::history::restore_version
    ),
    components(schemas(
        ErrorBody,
        TemplateSummary,
        CreateBoard,
        CreatedBoard,
        BoardListing,
        BoardListItem,
        BoardSummary,
        LintReport,
        LintProblem,
        ExportFormat,
        TokenRequest,
        IssuedToken,
        super::history::HistoryPage,
        super::history::HistoryEntry,
        super::history::DiffReport,
        super::history::NewMilestone,
        super::history::MilestoneRename,
        super::history::ForkRequest,
        super::history::Forked,
        super::history::RestoreRequest,
        super::history::Restored,
        crate::history::sessions::Session,
        crate::storage::Milestone,
        crate::storage::MilestoneKind,
        crate::storage::Author
    )),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme: the admin key or an access token, as
/// `Authorization: Bearer …` (or `?token=` on GETs, for links opened in a browser).
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token (PROTOCOL.md §7.2) or the admin key; also accepted as \
                         ?token=. Not needed on a server running open (no key configured).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The API's routes.
pub(crate) fn routes(max_body_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/api/templates", get(list_templates))
        .route("/api/boards", get(list_boards).post(create_board))
        .route(
            "/api/boards/{board_id}",
            get(get_board).delete(delete_board),
        )
        .route("/api/boards/{board_id}/export", get(export_board))
        .route("/api/boards/{board_id}/lint", get(lint_board))
        .route("/api/boards/{board_id}/map.svg", get(board_map))
        .route(
            "/api/boards/{board_id}/tokens",
            axum::routing::post(issue_token),
        )
        .merge(super::history::routes())
        .route("/api/openapi.json", get(openapi))
        .layer(DefaultBodyLimit::max(max_body_bytes))
}

/// An error answer: `{"error": "board_not_found", "detail": "…"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code.
    pub error: String,
    /// Explanation for people.
    pub detail: String,
}

/// Every way an API request fails, with its status and stable code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// 400 `invalid_board_id`.
    #[error("{0}")]
    InvalidBoardId(#[from] InvalidBoardId),
    /// 400 `invalid_json`: the body is not JSON.
    #[error("{0}")]
    InvalidJson(String),
    /// 400 `invalid_query`.
    #[error("{0}")]
    InvalidQuery(String),
    /// 404 `board_not_found`.
    #[error("there is no board {0}")]
    BoardNotFound(BoardId),
    /// 409 `board_exists`.
    #[error("board {0} already exists")]
    BoardExists(BoardId),
    /// 413 `payload_too_large`.
    #[error("the request body is larger than the server accepts (--max-body-bytes)")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`.
    #[error("send JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    /// 422 with a specific code: well-formed JSON that does not make sense.
    #[error("{detail}")]
    Unprocessable {
        /// `invalid_field`, `unknown_template`, `unknown_lang`…
        code: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// 503 `board_unavailable`: the board could not be loaded or did not answer in time.
    #[error("the board is unavailable: {0}")]
    Unavailable(String),
    /// 401 `token_required` / `token_invalid` / `token_expired`, 403 `token_wrong_board` /
    /// `forbidden`: see [`AuthError`].
    #[error("{0}")]
    Access(#[from] AuthError),
    /// 409 `tokens_unavailable`: the server has no admin key to sign tokens with.
    #[error(
        "this server has no admin key (--admin-key) to sign tokens with; \
         tokens come from the backend that holds the token signing key"
    )]
    TokensUnavailable,
    /// 500 `storage_error`.
    #[error("{0}")]
    Storage(#[from] StoreError),
    /// 500 `export_failed`.
    #[error("{0}")]
    Export(String),
    /// 404 `version_not_found`, 500 `storage_error` or `history_unreadable`: see
    /// [`HistoryError`].
    #[error("{0}")]
    History(#[from] HistoryError),
    /// 404 with a specific code (`milestone_not_found`).
    #[error("{detail}")]
    NotFound {
        /// What was not found.
        code: &'static str,
        /// Which.
        detail: String,
    },
    /// 409 with a specific code (`board_moved`: the board changed since the version the caller
    /// looked at).
    #[error("{detail}")]
    Conflict {
        /// Which conflict.
        code: &'static str,
        /// What happened.
        detail: String,
    },
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidBoardId(_) => (StatusCode::BAD_REQUEST, "invalid_board_id"),
            ApiError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            ApiError::InvalidQuery(_) => (StatusCode::BAD_REQUEST, "invalid_query"),
            ApiError::BoardNotFound(_) => (StatusCode::NOT_FOUND, "board_not_found"),
            ApiError::BoardExists(_) => (StatusCode::CONFLICT, "board_exists"),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "board_unavailable"),
            ApiError::Access(refused) => (super::credentials::status(refused), refused.code()),
            ApiError::TokensUnavailable => (StatusCode::CONFLICT, "tokens_unavailable"),
            // A store that cannot do this yet (history thinning on Redis): 501, not a failure.
            ApiError::Storage(StoreError::Unsupported(_))
            | ApiError::History(HistoryError::Store(StoreError::Unsupported(_))) => {
                (StatusCode::NOT_IMPLEMENTED, "not_supported_by_store")
            }
            ApiError::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage_error"),
            ApiError::Export(_) => (StatusCode::INTERNAL_SERVER_ERROR, "export_failed"),
            ApiError::History(HistoryError::UnknownVersion(_)) => {
                (StatusCode::NOT_FOUND, "version_not_found")
            }
            ApiError::History(HistoryError::Store(_)) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "storage_error")
            }
            ApiError::History(HistoryError::Rebuild(_)) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "history_unreadable")
            }
            ApiError::NotFound { code, .. } => (StatusCode::NOT_FOUND, code),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = %self, code, "API request failed");
        }
        match &self {
            ApiError::Access(refused) => super::credentials::refusal(refused),
            _ => super::error(status, code, self),
        }
    }
}

pub(super) type ApiResult<T> = Result<T, ApiError>;

/// `Json<T>` whose rejections become [`ApiError`]s (400 / 413 / 415 / 422) with JSON bodies.
pub(crate) struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
                JsonRejection::JsonDataError(e) => ApiError::Unprocessable {
                    code: "invalid_field",
                    detail: e.body_text(),
                },
                JsonRejection::JsonSyntaxError(e) => ApiError::InvalidJson(e.body_text()),
                other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::PayloadTooLarge
                }
                other => ApiError::InvalidJson(other.body_text()),
            }),
        }
    }
}

/// [`ApiJson`] for a body whose fields are all optional: a request with no body at all (no
/// content type, no length) gets `T::default()`.
pub(crate) struct ApiJsonOrDefault<T>(pub T);

impl<S, T> FromRequest<S> for ApiJsonOrDefault<T>
where
    S: Send + Sync,
    T: Default,
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = request.headers();
        let empty = !headers.contains_key(header::CONTENT_TYPE)
            && headers
                .get(header::CONTENT_LENGTH)
                .is_none_or(|length| length.as_bytes() == b"0")
            && !headers.contains_key(header::TRANSFER_ENCODING);
        if empty {
            return Ok(ApiJsonOrDefault(T::default()));
        }
        let ApiJson(value) = ApiJson::from_request(request, state).await?;
        Ok(ApiJsonOrDefault(value))
    }
}

/// `Query<T>` whose rejections become 400 `invalid_query`.
pub(crate) struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    Query<T>: axum::extract::FromRequestParts<S, Rejection = QueryRejection>,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|e| ApiError::InvalidQuery(e.body_text()))
    }
}

pub(super) fn board_id(raw: &str) -> ApiResult<BoardId> {
    Ok(BoardId::parse(raw)?)
}

/// The board `raw` names, if `caller` has at least the role `least` on it.
pub(super) fn allowed(caller: &Credential, raw: &str, least: Role) -> ApiResult<BoardId> {
    let board = board_id(raw)?;
    caller.grant(&board, least)?;
    Ok(board)
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn parse_lang(lang: Option<&str>) -> ApiResult<Lang> {
    match lang {
        None => Ok(Lang::En),
        Some(code) => Lang::parse(code).ok_or_else(|| ApiError::Unprocessable {
            code: "unknown_lang",
            detail: format!("unknown language {code:?}; use \"en\" or \"fr\""),
        }),
    }
}

/// Sends a request to a board's room and waits for the answer.
pub(super) async fn ask_room<T>(
    state: &AppState,
    board: &BoardId,
    request: impl FnOnce(oneshot::Sender<T>) -> ApiRequest,
) -> ApiResult<T> {
    // Attached for the duration of the request, so the room stays loaded to answer.
    let attachment = state.connections.rooms.attach(board);
    let (reply, answer) = oneshot::channel();
    attachment
        .handle
        .inbox
        .send(Command::Api(request(reply)))
        .await
        .map_err(|_| ApiError::Unavailable("the board's room stopped".into()))?;
    match tokio::time::timeout(ROOM_TIMEOUT, answer).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => Err(ApiError::Unavailable(
            "the board could not be loaded".into(),
        )),
        Err(_) => Err(ApiError::Unavailable(
            "the board did not answer in time".into(),
        )),
    }
}

/// Errors with 404 unless the board was ever written.
pub(super) async fn existing(state: &AppState, board: BoardId) -> ApiResult<BoardId> {
    match state.connections.rooms.store().record(&board).await? {
        Some(_) => Ok(board),
        None => Err(ApiError::BoardNotFound(board)),
    }
}

/// The typed board, read from its room.
async fn read_board(state: &AppState, board: BoardId) -> ApiResult<(BoardId, Board)> {
    let board = existing(state, board).await?;
    let BoardState { state: bytes } =
        ask_room(state, &board, |reply| ApiRequest::Read { reply }).await?;
    // Decoding a large board is CPU work: keep it off the async workers.
    let view = tokio::task::spawn_blocking(move || {
        let doc = Doc::new();
        client_protocol::apply::apply_update(&doc, &bytes)
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        let board = Board::read(&doc.transact());
        Ok::<_, ApiError>(board)
    })
    .await
    .map_err(|e| ApiError::Unavailable(e.to_string()))??;
    Ok((board, view))
}

/// A template offered for new boards.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSummary {
    /// Stable id, given as `template` when creating a board.
    pub id: String,
    /// Display name in the requested language.
    pub name: String,
    /// When to use it.
    pub description: String,
    /// `onboarding`, `maintenance`, `usage`, `replacement` or `custom`.
    pub journey_type: String,
    /// `journey` or `experience`.
    pub map_kind: String,
    /// Stage names, left to right.
    pub stages: Vec<String>,
    /// Lane titles, top to bottom.
    pub lanes: Vec<String>,
}

/// `?lang=en|fr`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LangQuery {
    /// `en` (default) or `fr`.
    pub lang: Option<String>,
}

/// Lists the templates a board can be created from.
#[utoipa::path(get, path = "/api/templates", params(LangQuery), security(()),
    responses((status = 200, body = [TemplateSummary]), (status = 422, body = ErrorBody)))]
async fn list_templates(
    ApiQuery(query): ApiQuery<LangQuery>,
) -> ApiResult<Json<Vec<TemplateSummary>>> {
    let lang = parse_lang(query.lang.as_deref())?;
    Ok(Json(
        schema::templates()
            .iter()
            .map(|t| TemplateSummary {
                id: t.id.to_owned(),
                name: t.name.get(lang),
                description: t.description.get(lang),
                journey_type: t.journey_type.as_str().to_owned(),
                map_kind: t.map_kind.as_str().to_owned(),
                stages: t.stages.iter().map(|s| s.name.get(lang)).collect(),
                lanes: t.lanes.iter().map(|l| l.title.get(lang)).collect(),
            })
            .collect(),
    ))
}

/// `POST /api/boards` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBoard {
    /// Board title (1–200 characters).
    pub title: String,
    /// Template id (see `/api/templates`); default `customer-journey`.
    #[serde(default)]
    pub template: Option<String>,
    /// `en` (default) or `fr`: the language the board's text is written in.
    #[serde(default)]
    pub lang: Option<String>,
    /// A first persona (SCHEMA.md §2.2: `name`, `ageRange`, `occupation`, `familySituation`,
    /// `interests`, `buyingHabits`, `digitalComfort`, `goals`, `frustrations`, `pictureUrl`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub persona: Option<PersonaInit>,
    /// A board id to use instead of a generated one.
    #[serde(default)]
    pub id: Option<String>,
}

/// The created board.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedBoard {
    /// The board id.
    pub id: String,
    /// Its WebSocket path (`/boards/{id}`), for y-websocket clients.
    pub websocket_path: String,
    /// Its title.
    pub title: String,
    /// The template it was made from.
    pub template: String,
}

pub(super) fn random_board_id() -> String {
    let mut bytes = [0u8; 8];
    // Without OS randomness, fall back to time: ids only need to be unlikely to collide, and a
    // collision is refused with 409 rather than merged.
    if getrandom::fill(&mut bytes).is_err() {
        bytes = (now_ms() as u64 ^ u64::from(std::process::id())).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates a board from a template. Needs the admin key, or a facilitator or owner token that
/// covers the `id` given (a token cannot create a board under a generated id).
#[utoipa::path(post, path = "/api/boards", request_body = CreateBoard,
    responses((status = 201, body = CreatedBoard), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_board(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<CreateBoard>,
) -> ApiResult<(StatusCode, Json<CreatedBoard>)> {
    let board = new_board_id(&caller, request.id.as_deref(), "create")?;
    let title = request.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::Unprocessable {
            code: "invalid_field",
            detail: format!("title must have 1 to {MAX_TITLE_CHARS} characters"),
        });
    }
    let lang = parse_lang(request.lang.as_deref())?;
    let template = request
        .template
        .unwrap_or_else(|| "customer-journey".to_owned());
    if schema::template(&template).is_none() {
        return Err(ApiError::Unprocessable {
            code: "unknown_template",
            detail: format!("there is no template {template:?} (see /api/templates)"),
        });
    }
    let content = {
        let doc = Doc::new();
        let refs = BoardRefs::new(&doc);
        {
            let mut txn = doc.transact_mut();
            let mut writer = BoardWriter::new(&mut txn, &refs, now_ms());
            instantiate(
                &mut writer,
                &template,
                lang,
                &title,
                request.persona.as_ref(),
            )
            .map_err(|e| ApiError::Unprocessable {
                code: "invalid_field",
                detail: e.to_string(),
            })?;
        }
        let content = doc.transact().encode_diff_v1(&StateVector::default());
        content
    };

    fill_new_board(&state, &caller, &board, content).await?;
    tracing::info!(board = %board, template, "board created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedBoard {
            websocket_path: format!("/boards/{board}"),
            id: board.to_string(),
            title,
            template,
        }),
    ))
}

/// The id of a board `caller` wants to make (`create` or `fork`): the one requested, which
/// needs a facilitator's rights on it, or a generated one, which a token cannot have.
pub(super) fn new_board_id(
    caller: &Credential,
    requested: Option<&str>,
    what: &str,
) -> ApiResult<BoardId> {
    match (requested, caller) {
        (Some(id), _) => allowed(caller, id, Role::Facilitator),
        (None, Credential::Token(_)) => Err(AuthError::Forbidden(format!(
            "a token may only {what} a board it covers: give its id"
        ))
        .into()),
        (None, _) => board_id(&random_board_id()),
    }
}

/// Fills a board that was never written with `content`, as `caller` (its author in history);
/// 409 if it exists. Answered once the content is durable.
pub(super) async fn fill_new_board(
    state: &AppState,
    caller: &Credential,
    board: &BoardId,
    content: Vec<u8>,
) -> ApiResult<()> {
    if state
        .connections
        .rooms
        .store()
        .record(board)
        .await?
        .is_some()
    {
        return Err(ApiError::BoardExists(board.clone()));
    }
    let actor = caller.grant(board, Role::Facilitator)?.actor;
    let created = ask_room(state, board, |reply| ApiRequest::Create {
        update: content,
        actor,
        reply,
    })
    .await?;
    created.map_err(|error| match error {
        CreateError::Exists => ApiError::BoardExists(board.clone()),
        CreateError::Invalid(detail) => ApiError::Unprocessable {
            code: "invalid_field",
            detail,
        },
    })
}

/// `?limit=&after=`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Page {
    /// Boards per page, 1–500 (default 50).
    pub limit: Option<usize>,
    /// Return boards whose id comes after this one (the previous page's `next`).
    pub after: Option<String>,
}

/// One board in a listing.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BoardListItem {
    /// Board id.
    pub id: String,
    /// Title, journey type, last update and card count (live for loaded boards, as of the last
    /// checkpoint for others).
    #[serde(flatten)]
    pub summary: BoardSummary,
    /// When the board was first written (ms since the epoch).
    pub created_at: u64,
    /// Size of its stored snapshot in bytes.
    pub stored_bytes: u64,
    /// WebSocket connections on it now: on this server, and on the others sharing its store
    /// (as they last reported, every 3 s).
    pub participants: usize,
}

/// A page of boards.
#[derive(Debug, Serialize, ToSchema)]
pub struct BoardListing {
    /// Boards in id order.
    pub boards: Vec<BoardListItem>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Lists boards, paginated in id order. Needs the admin key (tokens are for boards, not for
/// the server).
#[utoipa::path(get, path = "/api/boards", params(Page),
    responses((status = 200, body = BoardListing), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_boards(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<BoardListing>> {
    caller.require_admin("list every board")?;
    let limit = page.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::InvalidQuery(
            "limit must be between 1 and 500".into(),
        ));
    }
    let after = page.after.as_deref().map(board_id).transpose()?;
    let rooms = &state.connections.rooms;
    let records = rooms.store().list(after.as_ref(), limit + 1).await?;
    let more = records.len() > limit;
    let ids: Vec<BoardId> = records
        .iter()
        .take(limit)
        .map(|(id, _)| id.clone())
        .collect();
    let elsewhere = rooms
        .store()
        .participants_elsewhere(&ids)
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "the other servers' participants are not counted");
            vec![0; ids.len()]
        });
    let mut boards = Vec::with_capacity(limit);
    for ((id, record), elsewhere) in records.into_iter().take(limit).zip(elsewhere) {
        let (summary, participants) = match rooms.loaded_room(&id) {
            Some(_) => ask_room(&state, &id, |reply| ApiRequest::Summary { reply })
                .await
                .unwrap_or((None, 0)),
            None => (None, 0),
        };
        let summary = summary.unwrap_or_else(|| record.summary.clone());
        boards.push(BoardListItem {
            id: id.to_string(),
            summary,
            created_at: record.created_ms,
            stored_bytes: record.snapshot_bytes,
            participants: participants + elsewhere,
        });
    }
    let next = more.then(|| boards.last().map(|b| b.id.clone())).flatten();
    Ok(Json(BoardListing { boards, next }))
}

/// Returns a board as typed JSON (see SCHEMA.md).
#[utoipa::path(get, path = "/api/boards/{board_id}",
    params(("board_id" = String, Path, description = "Board id")),
    responses((status = 200, description = "The board (SCHEMA.md)", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_board(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(raw): Path<String>,
) -> ApiResult<Json<Board>> {
    let board = allowed(&caller, &raw, Role::Viewer)?;
    let (_, board) = read_board(&state, board).await?;
    Ok(Json(board))
}

/// Deletes a board: its participants are closed with 4410 and its data removed. Needs an owner.
#[utoipa::path(delete, path = "/api/boards/{board_id}",
    params(("board_id" = String, Path, description = "Board id")),
    responses((status = 204, description = "Deleted"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn delete_board(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let board = existing(&state, allowed(&caller, &raw, Role::Owner)?).await?;
    ask_room(&state, &board, |reply| ApiRequest::Delete { reply }).await??;
    Ok(StatusCode::NO_CONTENT)
}

/// Export formats.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// The typed board (as `GET /api/boards/{id}`).
    Json,
    /// A readable document for a committee.
    Markdown,
    /// One row per card.
    Csv,
}

/// `?format=json|markdown|csv`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// `json` (default), `markdown` or `csv`.
    pub format: Option<ExportFormat>,
}

pub(super) fn download(content_type: &'static str, filename: String, body: String) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        )
        .body(Body::from(body))
        .expect("static response parts are valid")
}

/// Exports a board as JSON, Markdown or CSV.
#[utoipa::path(get, path = "/api/boards/{board_id}/export",
    params(("board_id" = String, Path, description = "Board id"), ExportQuery),
    responses((status = 200, description = "The export", content(
            ("application/json"), ("text/markdown"), ("text/csv"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn export_board(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(raw): Path<String>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let board = allowed(&caller, &raw, Role::Viewer)?;
    let (id, board) = read_board(&state, board).await?;
    Ok(match query.format.unwrap_or(ExportFormat::Json) {
        ExportFormat::Json => Json(board).into_response(),
        ExportFormat::Markdown => download(
            "text/markdown; charset=utf-8",
            format!("{id}.md"),
            export::markdown(&board),
        ),
        ExportFormat::Csv => download(
            "text/csv; charset=utf-8",
            format!("{id}.csv"),
            export::csv(&board).map_err(|e| ApiError::Export(e.to_string()))?,
        ),
    })
}

/// One finding of the board check.
#[derive(Debug, Serialize, ToSchema)]
pub struct LintProblem {
    /// Where, as Yjs keys joined by `/` (`cards/3f9a…/stage`).
    pub path: String,
    /// Stable code (SCHEMA.md §5).
    pub code: String,
    /// `error` or `warning`.
    pub severity: String,
    /// Explanation.
    pub message: String,
}

/// The board check's findings.
#[derive(Debug, Serialize, ToSchema)]
pub struct LintReport {
    /// Number of errors.
    pub errors: usize,
    /// Number of warnings.
    pub warnings: usize,
    /// Every finding.
    pub problems: Vec<LintProblem>,
}

/// Checks a board and reports problems by path; never rejects the board.
#[utoipa::path(get, path = "/api/boards/{board_id}/lint",
    params(("board_id" = String, Path, description = "Board id")),
    responses((status = 200, body = LintReport), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn lint_board(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(raw): Path<String>,
) -> ApiResult<Json<LintReport>> {
    let board = allowed(&caller, &raw, Role::Viewer)?;
    let (_, board) = read_board(&state, board).await?;
    let problems = validate(&board);
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    Ok(Json(LintReport {
        errors,
        warnings: problems.len() - errors,
        problems: problems
            .into_iter()
            .map(|p| LintProblem {
                path: p.path,
                code: p.code.as_str().to_owned(),
                severity: match p.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                }
                .to_owned(),
                message: p.message,
            })
            .collect(),
    }))
}

/// Draws the board as an SVG journey map.
#[utoipa::path(get, path = "/api/boards/{board_id}/map.svg",
    params(("board_id" = String, Path, description = "Board id")),
    responses((status = 200, description = "The map", content_type = "image/svg+xml"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn board_map(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let board = allowed(&caller, &raw, Role::Viewer)?;
    let (_, board) = read_board(&state, board).await?;
    let svg = tokio::task::spawn_blocking(move || export::svg(&board))
        .await
        .map_err(|e| ApiError::Export(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// `POST /api/boards/{id}/tokens` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    /// `viewer`, `participant`, `facilitator` or `owner`.
    #[schema(value_type = String, example = "participant")]
    pub role: Role,
    /// The participant's stable id (1–200 characters).
    pub sub: String,
    /// The participant's display name (up to 200 characters).
    #[serde(default)]
    pub name: String,
    /// How long the token is valid, in seconds: 1 to 2592000 (30 days); default 28800 (8 h).
    /// A token issued with an owner token never outlives it.
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

/// An issued token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    /// The token (a JWT): pass it as `?token=` on the board URL or as `Authorization: Bearer`.
    pub token: String,
    /// When it expires, in seconds since the Unix epoch (its `exp`).
    pub expires_at: u64,
    /// The role it grants.
    pub role: String,
    /// The board it is for.
    pub board: String,
}

fn invalid_field(detail: String) -> ApiError {
    ApiError::Unprocessable {
        code: "invalid_field",
        detail,
    }
}

/// Issues an access token for one board, signed with the server's admin key. Needs the admin key
/// or an owner token covering the board; the board need not exist yet.
#[utoipa::path(post, path = "/api/boards/{board_id}/tokens", request_body = TokenRequest,
    params(("board_id" = String, Path, description = "Board id")),
    responses((status = 201, body = IssuedToken), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "`tokens_unavailable`: the server has no admin key",
            body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn issue_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(raw): Path<String>,
    ApiJson(request): ApiJson<TokenRequest>,
) -> ApiResult<(StatusCode, Json<IssuedToken>)> {
    let board = board_id(&raw)?;
    let grant = caller.grant(&board, Role::Owner)?;
    if request.role > grant.actor.role {
        return Err(AuthError::Forbidden(format!(
            "a {} may not issue {} tokens",
            grant.actor.role, request.role
        ))
        .into());
    }
    let key = state
        .access
        .admin_key()
        .ok_or(ApiError::TokensUnavailable)?;
    let sub = request.sub.trim().to_owned();
    if sub.is_empty() || sub.chars().count() > MAX_TOKEN_FIELD_CHARS {
        return Err(invalid_field(format!(
            "sub must have 1 to {MAX_TOKEN_FIELD_CHARS} characters"
        )));
    }
    if request.name.chars().count() > MAX_TOKEN_FIELD_CHARS {
        return Err(invalid_field(format!(
            "name must have at most {MAX_TOKEN_FIELD_CHARS} characters"
        )));
    }
    let ttl = request
        .ttl_secs
        .unwrap_or(crate::auth::DEFAULT_TOKEN_TTL_SECS);
    if !(1..=MAX_TOKEN_TTL_SECS).contains(&ttl) {
        return Err(invalid_field(format!(
            "ttlSecs must be between 1 and {MAX_TOKEN_TTL_SECS}"
        )));
    }
    let mut claims = Claims::lasting(board.to_string(), request.role, sub, request.name, ttl);
    if let Credential::Token(issuer) = &caller {
        // Otherwise an owner token could renew itself forever.
        claims.exp = claims.exp.min(issuer.exp);
    }
    let token = key.issue(&claims)?;
    tracing::info!(board = %board, role = %claims.role, participant = %claims.sub, "token issued");
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            token,
            expires_at: claims.exp,
            role: claims.role.to_string(),
            board: claims.board,
        }),
    ))
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
