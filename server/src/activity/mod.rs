//! Account Settings › Activity: who did what (`GET /api/activity`, and as CSV). Read only:
//! the log has no API to change or delete it.

pub mod store;

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use portal_api::{Action, ActivityAction, ActivityEntry, ActivityQuery, FieldError, Page};

use crate::auth::CurrentUser;
use crate::db::{rfc3339, Db};
use crate::error::{AppError, AppResult};
use crate::extract::ApiQuery;
use crate::listing;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/activity", get(list_activity)).route("/api/activity.csv", get(export_activity))
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: String,
    at: i64,
    actor: String,
    token_name: Option<String>,
    #[sqlx(try_from = "String")]
    action: ActivityAction,
    object: Option<String>,
    object_id: Option<String>,
    organisation: Option<String>,
    address: Option<String>,
    request_id: String,
}

impl EntryRow {
    fn entry(self) -> ActivityEntry {
        ActivityEntry {
            id: self.id,
            at: rfc3339(self.at),
            actor: self.actor,
            token: self.token_name,
            action: self.action,
            object: self.object,
            object_id: self.object_id,
            organisation: self.organisation,
            address: self.address,
            request_id: self.request_id,
        }
    }
}

/// The filter of a request, checked: every wrong field named at once.
#[derive(Clone)]
struct Filter {
    scope: (&'static str, i64),
    action: Option<ActivityAction>,
    pattern: Option<String>,
    organisation_id: Option<i64>,
    page: u32,
    per_page: u32,
}

const FROM_ACTIVITY: &str = "FROM activity a LEFT JOIN organisations o ON o.id = a.organisation_id";
const CONDITIONS: &str = "($2 IS NULL OR a.action = $2) \
     AND ($3 IS NULL OR LOWER(a.actor) LIKE $3 ESCAPE '\\' OR LOWER(COALESCE(a.token_name, '')) LIKE $3 ESCAPE '\\' \
          OR LOWER(COALESCE(a.object, '')) LIKE $3 ESCAPE '\\' OR LOWER(COALESCE(a.object_id, '')) LIKE $3 ESCAPE '\\') \
     AND ($4 IS NULL OR a.organisation_id = $4)";

impl Filter {
    fn new(user: &CurrentUser, query: &ActivityQuery) -> AppResult<Filter> {
        crate::access::require(user, Action::ViewActivity)?;
        let mut errors = Vec::new();
        // Empty is every action; a name is taken exactly as the document lists it.
        let action = match query.action.as_deref().filter(|a| !a.is_empty()) {
            None => None,
            Some(name) => {
                let found = ActivityAction::parse(name);
                if found.is_none() {
                    let known: Vec<&str> = ActivityAction::ALL.iter().map(|a| a.as_str()).collect();
                    errors.push(FieldError::new("action", format!("Use one of: {}.", known.join(", "))));
                }
                found
            }
        };
        if query.q.as_deref().is_some_and(|q| q.chars().count() > 200) {
            errors.push(FieldError::new("q", "Search with at most 200 characters."));
        }
        let (page, per_page) = listing::paging(query.page, query.per_page, &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let (pattern, text) = listing::search(query.q.as_deref());
        // An end user has no activity scope: ViewActivity already refused them.
        let scope = crate::access::scope(user).activity_condition().ok_or_else(|| AppError::Forbidden(Action::ViewActivity.who_may().into()))?;
        Ok(Filter {
            scope,
            action,
            pattern: (!text.is_empty()).then_some(pattern),
            organisation_id: query.organisation_id,
            page,
            per_page,
        })
    }

    fn sql(&self, select: &str, tail: &str) -> String {
        format!("SELECT {select} {FROM_ACTIVITY} WHERE {} AND {CONDITIONS} {tail}", self.scope.0)
    }

    async fn rows(&self, db: &Db, limit: i64, offset: i64) -> AppResult<Vec<EntryRow>> {
        self.rows_after(db, limit, offset, None).await
    }

    /// `limit` rows after `offset` of them, or (for the CSV) after the entry `after` (time, ID):
    /// a new entry, or one swept meanwhile, then moves nothing by one.
    async fn rows_after(&self, db: &Db, limit: i64, offset: i64, after: Option<&(i64, String)>) -> AppResult<Vec<EntryRow>> {
        Ok(sqlx::query_as(&self.sql(
            "a.id, a.at, a.actor, a.token_name, a.action, a.object, a.object_id, o.name AS organisation, a.address, a.request_id",
            "AND ($7 IS NULL OR a.at < $7 OR (a.at = $7 AND a.id < $8)) ORDER BY a.at DESC, a.id DESC LIMIT $5 OFFSET $6",
        ))
        .bind(self.scope.1)
        .bind(self.action.map(|a| a.as_str()))
        .bind(&self.pattern)
        .bind(self.organisation_id)
        .bind(limit)
        .bind(offset)
        .bind(after.map(|(at, _)| *at))
        .bind(after.map(|(_, id)| id.clone()))
        .fetch_all(db)
        .await?)
    }
}

/// The activity of the organisations the user administers, newest first.
#[utoipa::path(
    get, path = "/api/activity", tag = "activity",
    params(ActivityQuery),
    responses(
        (status = 200, description = "A page of entries, newest first", body = Page<ActivityEntry>),
        (status = 401, description = "Not signed in", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an organisation admin nor a reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter is wrong: each is named", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_activity(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<ActivityQuery>,
) -> AppResult<Json<Page<ActivityEntry>>> {
    let filter = Filter::new(&user, &query)?;
    let (total,): (i64,) = sqlx::query_as(&filter.sql("COUNT(*)", ""))
        .bind(filter.scope.1)
        .bind(filter.action.map(|a| a.as_str()))
        .bind(&filter.pattern)
        .bind(filter.organisation_id)
        .fetch_one(&state.db)
        .await?;
    let offset = i64::from(filter.page - 1) * i64::from(filter.per_page);
    let rows = filter.rows(&state.db, i64::from(filter.per_page), offset).await?;
    Ok(Json(Page {
        items: rows.into_iter().map(EntryRow::entry).collect(),
        total: total.max(0) as u64,
        page: filter.page,
        per_page: filter.per_page,
    }))
}

/// Rows read from the database at a time while the CSV is written: memory stays bounded
/// however long the log.
const CSV_BATCH: i64 = 500;

/// The same entries as CSV (every page), newest first, sent as they are read.
#[utoipa::path(
    get, path = "/api/activity.csv", tag = "activity",
    params(ActivityQuery),
    responses(
        (status = 200, description = "Every matching entry, newest first", content_type = "text/csv", body = String),
        (status = 401, description = "Not signed in", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an organisation admin nor a reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter is wrong: each is named", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export_activity(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<ActivityQuery>,
) -> AppResult<Response> {
    let filter = Filter::new(&user, &query)?;
    // The first batch is read before the answer starts, so that a database out of reach is a
    // 503 problem rather than a file cut short.
    let first = filter.rows(&state.db, CSV_BATCH, 0).await?;
    let mut opening = "time,actor,token,action,object,object_id,organisation,address,request_id\r\n".to_owned();
    opening.extend(first.iter().map(csv_line));
    // Where the next batch starts: after the last entry sent (none: the end).
    let next = |rows: &[EntryRow]| (rows.len() as i64 == CSV_BATCH).then(|| rows.last().map(|r| (r.at, r.id.clone()))).flatten();
    let after = next(&first);
    let db = state.db.clone();
    // Fused: a layer above (compression) may poll once more after the end.
    let batches = futures_util::StreamExt::fuse(futures_util::stream::unfold((Some(opening), after), move |(opening, after)| {
        let db = db.clone();
        let filter = filter.clone();
        async move {
            if let Some(opening) = opening {
                return Some((Ok::<_, std::io::Error>(opening), (None, after)));
            }
            let after = after?;
            match filter.rows_after(&db, CSV_BATCH, 0, Some(&after)).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => Some((Ok(rows.iter().map(csv_line).collect::<String>()), (None, next(&rows)))),
                Err(error) => Some((Err(std::io::Error::other(error.to_string())), (None, None))),
            }
        }
    }));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"activity.csv\""),
        ],
        Body::from_stream(batches),
    )
        .into_response())
}

fn csv_line(row: &EntryRow) -> String {
    let fields = [
        rfc3339(row.at),
        row.actor.clone(),
        row.token_name.clone().unwrap_or_default(),
        row.action.label().to_owned(),
        row.object.clone().unwrap_or_default(),
        row.object_id.clone().unwrap_or_default(),
        row.organisation.clone().unwrap_or_default(),
        row.address.clone().unwrap_or_default(),
        row.request_id.clone(),
    ];
    let mut line = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// A CSV field (RFC 4180), quoted when needed; one a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@` first) gets a leading apostrophe.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
