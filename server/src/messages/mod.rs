//! Messages inside backups: search across the mailboxes a user may see, a message's preview,
//! its HTML body made safe (shown in a sandboxed frame under its own policy), and its
//! attachments one by one. Restoring or downloading chosen messages is a job like any other
//! (`POST /api/jobs` with `messages`).

mod input;
mod preview;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use portal_api::{Action, MessageHit, MessagePreview, MessagesQuery, Page, SnippetPart};
use serde::Deserialize;

use crate::access;
use crate::auth::CurrentUser;
use crate::db::{rfc3339, Backend};
use crate::error::{AppError, AppResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::imap::store::Located;
use crate::search::query::{Search, Value};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/messages", get(search_messages))
        .route("/api/messages/{id}", get(preview_message))
        .route("/api/messages/{id}/html", get(message_html))
        .route("/api/messages/{id}/attachments/{index}", get(message_attachment))
}

/// Previews, HTML bodies and attachments read at once by this instance (each holds a whole
/// message, up to `--max-message-mb`, while it is parsed).
static READING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// A search row, as the database answers it.
#[derive(sqlx::FromRow)]
struct HitRow {
    id: i64,
    mailbox_id: i64,
    mailbox: String,
    folder: String,
    sender: String,
    recipients: String,
    subject: String,
    sent_at: Option<i64>,
    size: i64,
    has_attachment: i32,
    deleted_at: Option<i64>,
    snippet: Option<String>,
}

impl HitRow {
    /// The row as the API shows it; its snippet around these words (none: its first words).
    fn hit(self, words: &[String]) -> MessageHit {
        let snippet = crate::search::query::snippet(self.snippet.as_deref().unwrap_or(""), words);
        MessageHit {
            id: self.id,
            mailbox_id: self.mailbox_id,
            mailbox: self.mailbox,
            folder: self.folder,
            from: self.sender,
            to: self.recipients,
            subject: self.subject,
            date: self.sent_at.map(rfc3339),
            size: self.size.max(0) as u64,
            has_attachments: self.has_attachment != 0,
            deleted_at: self.deleted_at.map(rfc3339),
            snippet: snippet.into_iter().map(|(text, hit)| SnippetPart { text, hit }).collect(),
        }
    }
}

/// Searches the messages of every backup the user may see.
#[utoipa::path(
    get, path = "/api/messages", tag = "messages",
    params(MessagesQuery),
    responses(
        (status = 200, description = "One page of the messages found, newest first unless sorted otherwise", body = Page<MessageHit>),
        (status = 422, description = "A filter is wrong; each field named", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn search_messages(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<MessagesQuery>,
) -> AppResult<Json<Page<MessageHit>>> {
    access::require(&user, Action::ReadMessages)?;
    let (search, page, per_page) = input::read(query)?;
    let (scope, scope_id) = access::scope(&user).condition();
    let offset = u64::from(page - 1) * u64::from(per_page);
    let statements = search.statements(Backend::of(&state.db), scope, per_page, offset);
    let mut ids = sqlx::query_as::<_, (i64,)>(&statements.ids).bind(scope_id);
    let mut count = sqlx::query_as::<_, (i64,)>(&statements.count).bind(scope_id);
    for value in &statements.values {
        (ids, count) = match value {
            Value::Text(text) => (ids.bind(text.clone()), count.bind(text.clone())),
            Value::Number(number) => (ids.bind(*number), count.bind(*number)),
        };
    }
    let (ids, (total,)) = tokio::try_join!(ids.fetch_all(&state.db), count.fetch_one(&state.db))?;
    // The page's rows in full, put back in the page's order.
    let mut rows = Vec::new();
    if !ids.is_empty() {
        let sql = Search::rows(ids.len());
        let mut query = sqlx::query_as::<_, HitRow>(&sql);
        for (id,) in &ids {
            query = query.bind(id);
        }
        rows = query.fetch_all(&state.db).await?;
        let place: std::collections::HashMap<i64, usize> = ids.iter().enumerate().map(|(i, (id,))| (*id, i)).collect();
        rows.sort_by_key(|row| place.get(&row.id).copied().unwrap_or(usize::MAX));
    }
    let items = rows.into_iter().map(|row| row.hit(&search.words)).collect();
    Ok(Json(Page { items, total: total.max(0) as u64, page, per_page }))
}

/// A message's row and its bytes, read from the backup.
async fn load(state: &AppState, user: &CurrentUser, id: i64) -> AppResult<(HitRow, Vec<u8>)> {
    access::message(&state.db, user, id).await?;
    // Messages read at once: each may be as large as the largest message taken.
    let _turn = READING.acquire().await.map_err(|e| AppError::internal(format!("reading a message: {e}")))?;
    let (scope, scope_id) = access::scope(user).condition();
    // Pruned a moment ago: gone, as for any message no longer in the backup.
    let gone = || AppError::not_found(format!("Message {id} is no longer in the backup."));
    let row: HitRow =
        sqlx::query_as(&Search::one(scope)).bind(scope_id).bind(id).fetch_optional(&state.db).await?.ok_or_else(gone)?;
    let located: Option<Located> = sqlx::query_as(
        "SELECT o.content_hash, o.pack, o.pack_offset, o.size FROM message_search s JOIN backup_messages bm \
         ON bm.mailbox_id = s.mailbox_id AND bm.folder = s.folder AND bm.uid_validity = s.uid_validity AND bm.uid = s.uid \
         JOIN objects o ON o.content_hash = bm.content_hash WHERE s.id = $1",
    )
    .bind(id)
    .fetch_optional(&state.db)
    .await?;
    // Logged with the request ID; the store check (`portal-server check`) tells why.
    let unreadable = || AppError::internal(format!("the content of message {id} could not be read from the backup storage"));
    let Some(located) = located else { return Err(gone()) };
    let read = state.store.read(vec![located]).await.map_err(|e| AppError::internal(format!("reading a message: {e}")))?;
    match read.into_iter().next() {
        Some(Ok(bytes)) => Ok((row, bytes)),
        Some(Err(error)) => {
            tracing::error!(%error, message = id, "a message's content could not be read");
            Err(unreadable())
        }
        None => Err(unreadable()),
    }
}

/// A message's preview: its headers, text and attachments.
#[utoipa::path(
    get, path = "/api/messages/{id}", tag = "messages",
    params(("id" = i64, Path, description = "The message's ID (from a search)")),
    responses((status = 200, description = "The message", body = MessagePreview))
)]
pub async fn preview_message(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<MessagePreview>> {
    let (row, raw) = load(&state, &user, id).await?;
    let read = tokio::task::spawn_blocking(move || {
        let message = preview::parse(&raw);
        message.as_ref().map(preview::read)
    })
    .await
    .map_err(|e| AppError::internal(format!("reading a message: {e}")))?;
    let read = read.ok_or_else(|| AppError::internal(format!("message {id} could not be parsed")))?;
    Ok(Json(MessagePreview {
        hit: row.hit(&[]),
        headers: read.headers,
        text: read.text,
        has_html: read.has_html,
        remote_images: read.remote_images,
        attachments: read.attachments,
    }))
}

/// `GET /api/messages/{id}/html`: whether to keep images from other sites.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HtmlQuery {
    /// `remote`: also load the images the message takes from other sites (they tell the sender it was opened).
    #[param(pattern = "^(remote)?$")]
    images: Option<String>,
}

/// A message's HTML body made safe, as a page for a sandboxed frame of the portal.
#[utoipa::path(
    get, path = "/api/messages/{id}/html", tag = "messages",
    params(("id" = i64, Path, description = "The message's ID"), HtmlQuery),
    responses((status = 200, description = "The HTML body without scripts, handlers, forms or frames, under a sandboxing policy", content_type = "text/html"))
)]
pub async fn message_html(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<HtmlQuery>,
) -> AppResult<Response> {
    let remote = match query.images.as_deref() {
        None | Some("") => false,
        Some("remote") => true,
        Some(_) => return Err(AppError::Validation(vec![portal_api::FieldError::new("images", "Use remote, or leave it out.")])),
    };
    let (_, raw) = load(&state, &user, id).await?;
    let page = tokio::task::spawn_blocking(move || {
        let message = preview::parse(&raw)?;
        let html = preview::html_body(&message)?;
        Some(preview::sanitise(&html, remote).0)
    })
    .await
    .map_err(|e| AppError::internal(format!("reading a message: {e}")))?;
    let body = page.ok_or_else(|| AppError::not_found("This message has no HTML body; its text is in the preview."))?;
    let document =
        format!("<!doctype html><html><head><meta charset=\"utf-8\"><base target=\"_blank\"></head><body>{body}</body></html>");
    let mut response = document.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(policy) = HeaderValue::from_str(&preview::policy(remote)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(response)
}

/// One attachment of a message, as a download (never shown inline).
#[utoipa::path(
    get, path = "/api/messages/{id}/attachments/{index}", tag = "messages",
    params(("id" = i64, Path, description = "The message's ID"), ("index" = u32, Path, description = "The attachment's number in the preview")),
    responses((status = 200, description = "The attachment's bytes", content_type = "application/octet-stream"))
)]
pub async fn message_attachment(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, index)): ApiPath<(i64, u32)>,
) -> AppResult<Response> {
    let (_, raw) = load(&state, &user, id).await?;
    let found = tokio::task::spawn_blocking(move || {
        let message = preview::parse(&raw)?;
        let part = message.attachments().nth(index as usize)?;
        Some((preview::attachment_name(part, index as usize), part.contents().to_vec()))
    })
    .await
    .map_err(|e| AppError::internal(format!("reading a message: {e}")))?;
    let (name, bytes) = found.ok_or_else(|| AppError::not_found(format!("This message has no attachment {index}.")))?;
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    let ascii: String = name.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '_' }).collect();
    // RFC 8187: `*` is not an attr-char either.
    let encoded: String =
        form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>().replace('+', "%20").replace('*', "%2A");
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(response)
}
