//! Download files, made for real (an mbox file, or EML files in a zip: `file`) and served
//! through a signed link (`link`) that stops working when it expires (410).

pub mod file;
pub mod link;

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use crate::db::{now_ms, rfc3339};
use crate::error::{AppError, AppResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;
use file::{file_path, Format};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/downloads/{id}/file", get(download_file))
}

#[derive(Deserialize)]
pub struct LinkQuery {
    expires: i64,
    signature: String,
}

/// The file of a finished download, through its signed link.
#[utoipa::path(
    get, path = "/api/downloads/{id}/file", tag = "jobs",
    params(
        ("id" = String, Path, description = "The Download ID"),
        ("expires" = i64, Query, description = "When the link expires (Unix ms), as signed"),
        ("signature" = String, Query, description = "The link's signature"),
    ),
    responses(
        (status = 200, description = "The file: application/mbox or application/zip"),
        (status = 404, description = "No such download, or the link is not one we made", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 410, description = "The link has expired", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn download_file(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(link): ApiQuery<LinkQuery>,
) -> AppResult<Response> {
    let unknown = || AppError::not_found("This download link is not valid. Open the Downloads page for a working one.");
    if !state.links.verify(&id, link.expires, &link.signature) {
        return Err(unknown());
    }
    if link.expires <= now_ms() {
        return Err(AppError::Gone(format!(
            "This download link expired at {}. Request the download again on System Status › Downloads.",
            rfc3339(link.expires)
        )));
    }
    let found: Option<(String, String, String)> = sqlx::query_as(
        "SELECT j.status, j.params, m.email FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id \
         WHERE j.id = $1 AND j.kind = 'download' AND j.expires_at = $2",
    )
    .bind(&id)
    .bind(link.expires)
    .fetch_optional(&state.db)
    .await?;
    let (status, params, email) = found.ok_or_else(unknown)?;
    if status != "completed" {
        return Err(AppError::Gone("This download is no longer available. Request it again.".into()));
    }
    let format = Format::from_params(&params);
    let path = file_path(&state.config.data_dir, &id, format);
    let bytes = tokio::fs::read(&path).await.map_err(|_| unknown())?;
    let filename = format!("{}-{id}.{}", email.replace('@', "_at_"), format.extension());
    Ok((
        [(header::CONTENT_TYPE, format.media_type().to_owned()), (header::CONTENT_DISPOSITION, content_disposition(&filename))],
        Body::from(bytes),
    )
        .into_response())
}

/// `Content-Disposition` for a file name (RFC 6266): a plain ASCII `filename` for old clients,
/// with anything that could end, escape or split it replaced, and the exact name in
/// `filename*` (RFC 8187: UTF-8, percent-encoded), which browsers prefer.
pub fn content_disposition(filename: &str) -> String {
    let fallback: String =
        filename.chars().map(|c| if c.is_ascii_alphanumeric() || " -_.+@".contains(c) { c } else { '_' }).collect();
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_is_escaped_in_content_disposition() {
        let name = "O'Brien \"Q1\"; x=1\\\r\nSet-Cookie: a=b Grüße%41.mbox";
        let value = content_disposition(name);
        assert!(axum::http::HeaderValue::from_str(&value).is_ok(), "a valid header value: {value}");
        assert!(value.is_ascii() && !value.contains(['\r', '\n']));
        // The fallback is one quoted string with nothing that ends or escapes it inside.
        let fallback = value.strip_prefix("attachment; filename=\"").unwrap().split_once('"').unwrap().0;
        assert!(!fallback.contains(['\\', ';', '%']), "{fallback}");
        assert_eq!(fallback, "O_Brien _Q1__ x_1___Set-Cookie_ a_b Gr__e_41.mbox");
        // The exact name, percent-encoded as UTF-8 (RFC 8187).
        let encoded = value.split_once("; filename*=UTF-8''").unwrap().1;
        assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"%!#$&+-.^_`|~".contains(&b)), "{encoded}");
        let decoded: Vec<u8> = {
            let bytes = encoded.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    out.push(u8::from_str_radix(&encoded[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            out
        };
        assert_eq!(String::from_utf8(decoded).unwrap(), name);
        assert_eq!(
            content_disposition("a_at_b.example-D-1.mbox"),
            "attachment; filename=\"a_at_b.example-D-1.mbox\"; filename*=UTF-8''a_at_b.example-D-1.mbox"
        );
    }
}
