//! The documentation of each problem type: every problem's `type` (`/problems/{kind}`) leads
//! to a page saying when the server answers it and what a client does next. Built from
//! `AppError` itself, so the pages and the answers cannot drift apart.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use portal_html::{document, esc};

use crate::error::AppError;
use crate::extract::ApiPath;
use crate::state::AppState;

const SITE: &str = "Backup Portal API · problem types";

pub fn router() -> Router<AppState> {
    Router::new().route("/problems", get(index)).route("/problems/{kind}", get(kind))
}

async fn index() -> Response {
    let items: String = AppError::kinds()
        .iter()
        .map(|kind| {
            format!(
                "<li><a href=\"/problems/{slug}\"><code>{slug}</code></a> · {status} · {title}</li>",
                slug = kind.slug(),
                status = kind.status().as_u16(),
                title = esc(kind.title())
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
    let kinds = AppError::kinds();
    let Some(kind) = kinds.iter().find(|k| k.slug() == slug) else {
        return AppError::not_found("There is no problem type of this name; /problems lists them all.").into_response();
    };
    let (when, what_to_do) = kind.guidance();
    let status = kind.status();
    let body = format!(
        "<p><code>type</code>: <code>/problems/{slug}</code> · HTTP {code} {reason}</p>\
         <h2>When</h2><p>{when}</p><h2>What to do</h2><p>{what_to_do}</p>\
         <p class=\"note\"><a href=\"/problems\">All problem types</a></p>",
        slug = kind.slug(),
        code = status.as_u16(),
        reason = status.canonical_reason().unwrap_or(""),
        when = esc(when),
        what_to_do = esc(what_to_do),
    );
    document(StatusCode::OK, SITE, kind.title(), &body)
}
