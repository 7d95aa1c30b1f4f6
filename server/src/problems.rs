//! The documentation of each problem type: every problem's `type` (`/problems/{kind}`) leads
//! to a page saying when the server answers it and what a client does next. Built from the
//! table the answers come from too (`portal_api::ProblemKind`), so they cannot drift apart.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use portal_html::{document, esc};

use portal_api::ProblemKind;

use crate::error::{status_of, AppError};
use crate::extract::ApiPath;
use crate::state::AppState;

const SITE: &str = "Backup Portal API · problem types";

pub fn router() -> Router<AppState> {
    Router::new().route("/problems", get(index)).route("/problems/{kind}", get(kind))
}

async fn index() -> Response {
    let items: String = ProblemKind::ALL
        .into_iter()
        .map(|kind| {
            let info = kind.info();
            format!(
                "<li><a href=\"{uri}\"><code>{slug}</code></a> · {status} · {title}</li>",
                uri = kind.type_uri(),
                slug = info.slug,
                status = info.status,
                title = esc(info.title)
            )
        })
        .collect();
    let body = format!(
        "<p>Every error answer of the API is <code>application/problem+json</code> (RFC 9457). Its <code>type</code> \
         is one of these; <code>instance</code> is the request ID to quote to support.</p><ul>{items}</ul>"
    );
    document(StatusCode::OK, SITE, "Problem types", &body)
}

async fn kind(ApiPath(slug): ApiPath<String>) -> Response {
    let Some(kind) = ProblemKind::from_slug(&slug) else {
        return AppError::not_found("There is no problem type of this name; /problems lists them all.").into_response();
    };
    let info = kind.info();
    let status = status_of(kind);
    let body = format!(
        "<p><code>type</code>: <code>{uri}</code> · HTTP {code} {reason}</p>\
         <h2>When</h2><p>{when}</p><h2>What to do</h2><p>{what_to_do}</p>\
         <p class=\"note\"><a href=\"/problems\">All problem types</a></p>",
        uri = kind.type_uri(),
        code = status.as_u16(),
        reason = status.canonical_reason().unwrap_or(""),
        when = esc(info.meaning),
        what_to_do = esc(info.what_to_do),
    );
    document(StatusCode::OK, SITE, info.title, &body)
}
