//! Download files, made for real (an mbox file, or EML files in a zip: `file`) and served
//! through a signed link (`link`) that stops working when it expires (410). A file is sent as
//! it is read from disk, whole or one range of it (`range`), so that a large one costs no
//! memory and an interrupted download goes on where it stopped.

pub mod file;
pub mod link;
pub mod range;

use std::io::SeekFrom;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::db::{now_ms, rfc3339};
use crate::error::{AppError, AppResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;
use file::file_path;
use portal_api::{JobKind, JobStatus};

use crate::connector::JobParams;
use range::Wanted;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/downloads/{id}/file", get(download_file))
}

#[derive(Deserialize)]
pub struct LinkQuery {
    expires: i64,
    signature: String,
}

/// What the file is sent in: large enough for few reads, small enough to cost no memory.
const SEND_CHUNK: usize = 64 << 10;

/// The file of a finished download, through its signed link: whole, or the one byte range
/// asked for (`Range`, RFC 9110 §14), unless `If-Range` names another version of the file.
#[utoipa::path(
    get, path = "/api/downloads/{id}/file", tag = "jobs",
    params(
        ("id" = String, Path, description = "The Download ID"),
        ("expires" = i64, Query, description = "When the link expires (Unix ms), as signed"),
        ("signature" = String, Query, description = "The link's signature"),
        ("Range" = Option<String>, Header, description = "One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`); several ranges are answered with the whole file"),
        ("If-Range" = Option<String>, Header, description = "The file's ETag: the range is sent only if the file is still that one, else the whole file"),
    ),
    responses(
        (status = 200, description = "The whole file: application/mbox or application/zip, with Content-Length, Accept-Ranges: bytes and an ETag",
            headers(("Accept-Ranges" = String, description = "bytes"), ("ETag" = String, description = "This version of the file, for If-Range"))),
        (status = 206, description = "The byte range asked for, with Content-Range: bytes first-last/length",
            headers(("Content-Range" = String, description = "Which bytes of how many: bytes first-last/length"))),
        (status = 404, description = "No such download, or the link is not one we made", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 410, description = "The link has expired", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 416, description = "The range starts past the end of the file; Content-Range: bytes */length gives its length", body = portal_api::Problem, content_type = "application/problem+json",
            headers(("Content-Range" = String, description = "bytes */length"))),
    )
)]
pub async fn download_file(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(link): ApiQuery<LinkQuery>,
    headers: HeaderMap,
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
    let found: Option<LinkedDownload> = sqlx::query_as(
        "SELECT j.status, j.params, m.email FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id \
         WHERE j.id = $1 AND j.kind = $2 AND j.expires_at = $3",
    )
    .bind(&id)
    .bind(JobKind::Download.as_str())
    .bind(link.expires)
    .fetch_optional(&state.db)
    .await?;
    let LinkedDownload { status, params, email } = found.ok_or_else(unknown)?;
    if status != JobStatus::Completed {
        return Err(AppError::Gone("This download is no longer available. Request it again.".into()));
    }
    let format = params.format();
    let name = file::file_name(&id, format);
    // From the data folder, or from the shared store (any instance made it).
    let shared = match state.store.remote() {
        Some(remote) => match remote.download_meta(&name).await {
            Ok((length, tag)) => Some((remote.clone(), length, tag)),
            // Made before the store was shared: still in the data folder.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(AppError::internal(format!("reading a download file from the object store: {error}"))),
        },
        None => None,
    };
    let (source, length, tag) = match shared {
        Some((remote, length, tag)) => (Source::Shared(remote), length, tag),
        None => {
            let file = tokio::fs::File::open(file_path(&state.config.data_dir, &id, format)).await.map_err(|_| unknown())?;
            let metadata = file.metadata().await.map_err(AppError::internal)?;
            (Source::File(file), metadata.len(), etag(&metadata))
        }
    };
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    // A range of another version of the file would splice two files together: send it whole.
    let wanted = if text(header::IF_RANGE).is_some_and(|validator| validator.trim() != tag) {
        Wanted::Whole
    } else {
        range::wanted(text(header::RANGE), length)
    };
    let filename = format!("{}-{id}.{}", email.replace('@', "_at_"), file::extension(format));
    let mut response = match wanted {
        Wanted::Whole => {
            let body = match source {
                Source::File(file) => Body::from_stream(ReaderStream::with_capacity(file, SEND_CHUNK)),
                Source::Shared(remote) => Body::from_stream(remote.download_stream(&name, 0..length, tag.clone())),
            };
            let mut response = body.into_response();
            response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            response
        }
        Wanted::Part { start, end } => {
            let body = match source {
                Source::File(mut file) => {
                    file.seek(SeekFrom::Start(start)).await.map_err(AppError::internal)?;
                    Body::from_stream(ReaderStream::with_capacity(file.take(end - start + 1), SEND_CHUNK))
                }
                Source::Shared(remote) => Body::from_stream(remote.download_stream(&name, start..end + 1, tag.clone())),
            };
            let mut response = body.into_response();
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
            let range = HeaderValue::from_str(&format!("bytes {start}-{end}/{length}")).expect("digits, a dash and a slash");
            headers.insert(header::CONTENT_RANGE, range);
            response
        }
        Wanted::Unsatisfiable => return Err(AppError::RangeNotSatisfiable { length }),
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(file::media_type(format)));
    headers
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&content_disposition(&filename)).map_err(AppError::internal)?);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::ETAG, HeaderValue::from_str(&tag).map_err(AppError::internal)?);
    Ok(response)
}

/// Where a download file is read from.
enum Source {
    File(tokio::fs::File),
    Shared(crate::imap::store::Remote),
}

/// A strong validator of this version of the file: a file is only ever replaced whole (a
/// download requested again), which changes its modification time or its length.
fn etag(metadata: &std::fs::Metadata) -> String {
    let modified = metadata.modified().ok().and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok()).unwrap_or_default();
    format!("\"{:x}-{:x}\"", metadata.len(), modified.as_nanos())
}

/// The download a signed link names, as its row reads.
#[derive(sqlx::FromRow)]
struct LinkedDownload {
    #[sqlx(try_from = "String")]
    status: JobStatus,
    #[sqlx(try_from = "String")]
    params: JobParams,
    email: String,
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
