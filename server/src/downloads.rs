//! Download files, made for real (an mbox file, or EML files in a zip) and served through a
//! signed link that stops working when it expires (410).

use std::io::Write;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::db::{now_ms, rfc3339};
use crate::error::{AppError, AppResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/downloads/{id}/file", get(download_file))
}

/// Signs download links with a key kept beside the data (`link.key`), never in the database.
#[derive(Clone)]
pub struct LinkSigner {
    key: [u8; 32],
}

impl LinkSigner {
    /// The key in `dir/link.key` (owner-only), made on first use.
    pub fn load_or_create(dir: &Path) -> std::io::Result<LinkSigner> {
        let key = crate::secrets::keyfile::load_or_create(&dir.join("link.key"), |bytes| bytes.try_into().ok())?;
        Ok(LinkSigner { key })
    }

    fn signature(&self, job_id: &str, expires: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(format!("{job_id}:{expires}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The link to a download's file, good until `expires` (Unix ms).
    pub fn url(&self, job_id: &str, expires: i64) -> String {
        format!("/api/downloads/{job_id}/file?expires={expires}&signature={}", self.signature(job_id, expires))
    }

    fn verify(&self, job_id: &str, expires: i64, signature: &str) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(format!("{job_id}:{expires}").as_bytes());
        hex::decode(signature).is_ok_and(|bytes| mac.verify_slice(&bytes).is_ok())
    }
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Mbox,
    EmlZip,
}

impl Format {
    pub fn from_params(params: &str) -> Format {
        let value: serde_json::Value = serde_json::from_str(params).unwrap_or_default();
        match value.get("format").and_then(|f| f.as_str()) {
            Some("eml_zip") => Format::EmlZip,
            _ => Format::Mbox,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Mbox => "mbox",
            Format::EmlZip => "zip",
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Format::Mbox => "application/mbox",
            Format::EmlZip => "application/zip",
        }
    }
}

pub fn file_path(data_dir: &Path, job_id: &str, format: Format) -> PathBuf {
    data_dir.join("downloads").join(format!("{job_id}.{}", format.extension()))
}

/// One message of a download: its folder, when it arrived (Unix ms, if known) and its bytes.
pub struct MessageFile {
    pub folder: String,
    pub internal_date: Option<i64>,
    pub raw: Vec<u8>,
}

/// The demo mailbox's messages: the same every time for the same address.
pub fn demo_messages(email: &str) -> Vec<MessageFile> {
    const FOLDERS: [&str; 3] = ["Inbox", "Sent Items", "Archive"];
    const SUBJECTS: [&str; 6] = [
        "Quarterly figures",
        "Re: Contract renewal",
        "Lunch on Friday?",
        "Invoice 2026-114",
        "From the board: minutes",
        "Café opening — Grüße",
    ];
    (0..24)
        .map(|i| {
            let folder = FOLDERS[i % FOLDERS.len()];
            let subject = SUBJECTS[i % SUBJECTS.len()];
            let (from, to) = if folder == "Sent Items" { (email.to_owned(), "colleague@partner.example".to_owned()) } else { ("colleague@partner.example".to_owned(), email.to_owned()) };
            let day = 1 + i % 28;
            // Non-ASCII subjects travel encoded (RFC 2047), as a mail server would store them.
            let subject_header = if subject.is_ascii() {
                subject.to_owned()
            } else {
                format!("=?UTF-8?Q?{}?=", subject.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("={b:02X}") }).collect::<String>())
            };
            let raw = format!(
                "From: {from}\r\nTo: {to}\r\nSubject: {subject_header}\r\nDate: Mon, {day:02} Nov 2026 09:{:02}:00 +0000\r\n\
                 Message-ID: <demo-{i}-{}@backup-portal.example>\r\nMIME-Version: 1.0\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\r\n\
                 Hello,\r\n\r\nThis is demo message {i} of {email}.\r\nFrom the start of a line, a mbox reader must not split here.\r\n",
                i % 60,
                email.replace('@', ".")
            );
            MessageFile { folder: folder.to_owned(), internal_date: None, raw: raw.into_bytes() }
        })
        .collect()
}

/// Writes a download's file; returns its path, size and message count.
pub fn write_file(data_dir: &Path, job_id: &str, format: Format, messages: &[MessageFile]) -> std::io::Result<(PathBuf, u64)> {
    let path = file_path(data_dir, job_id, format);
    std::fs::create_dir_all(path.parent().expect("download files live in a folder"))?;
    let partial = path.with_extension("part");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&partial)?);
        match format {
            Format::Mbox => write_mbox(&mut file, messages)?,
            Format::EmlZip => write_zip(&mut file, messages)?,
        }
        file.flush()?;
    }
    // Only a complete file ever has the final name.
    std::fs::rename(&partial, &path)?;
    let size = std::fs::metadata(&path)?.len();
    Ok((path, size))
}

/// mboxrd: each message after a `From ` line (with its arrival time when known), body lines
/// starting with (>*)From quoted, lines ending in LF.
fn write_mbox(out: &mut impl Write, messages: &[MessageFile]) -> std::io::Result<()> {
    let asctime = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
    );
    for message in messages {
        let when = message
            .internal_date
            .and_then(|ms| time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).ok())
            .and_then(|at| at.format(&asctime).ok())
            .unwrap_or_else(|| "Mon Nov  2 09:00:00 2026".to_owned());
        writeln!(out, "From MAILER-DAEMON {when}")?;
        let raw = message.raw.strip_suffix(b"\r\n").or_else(|| message.raw.strip_suffix(b"\n")).unwrap_or(&message.raw);
        for line in raw.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().position(|b| *b != b'>').is_some_and(|start| line[start..].starts_with(b"From ")) {
                out.write_all(b">")?;
            }
            out.write_all(line)?;
            out.write_all(b"\n")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn write_zip(out: &mut (impl Write + std::io::Seek), messages: &[MessageFile]) -> std::io::Result<()> {
    let mut zip = zip::ZipWriter::new(out);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (i, message) in messages.iter().enumerate() {
        // A folder name becomes a path inside the zip; nothing in it may climb out.
        let folder: Vec<&str> =
            message.folder.split(['/', '\\']).filter(|part| !part.is_empty() && *part != "." && *part != "..").collect();
        let folder = if folder.is_empty() { "INBOX".to_owned() } else { folder.join("/") };
        zip.start_file(format!("{folder}/{:05}.eml", i + 1), options).map_err(std::io::Error::other)?;
        zip.write_all(&message.raw)?;
    }
    zip.finish().map_err(std::io::Error::other)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_verify_only_as_signed() {
        let dir = tempfile::tempdir().unwrap();
        let signer = LinkSigner::load_or_create(dir.path()).unwrap();
        let url = signer.url("D-ABC", 1234);
        let signature = url.rsplit("signature=").next().unwrap();
        assert!(signer.verify("D-ABC", 1234, signature));
        assert!(!signer.verify("D-ABC", 1235, signature), "another expiry");
        assert!(!signer.verify("D-ABD", 1234, signature), "another download");
        assert!(!signer.verify("D-ABC", 1234, "zz"));
        let again = LinkSigner::load_or_create(dir.path()).unwrap();
        assert!(again.verify("D-ABC", 1234, signature), "the key survives a restart");
    }

    #[cfg(unix)]
    #[test]
    fn the_link_key_is_owner_only_and_a_shared_one_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let made = LinkSigner::load_or_create(dir.path()).unwrap();
        assert_eq!(mode(&dir.path().join("link.key")), 0o600, "made owner-only");
        let other = tempfile::tempdir().unwrap();
        let shared = other.path().join("link.key");
        std::fs::write(&shared, made.key).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
        let loaded = LinkSigner::load_or_create(other.path()).unwrap();
        assert_eq!(loaded.key, made.key, "the key is kept");
        assert_eq!(mode(&shared), 0o600, "tightened at start");
    }

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

    #[test]
    fn an_mbox_holds_every_message_and_quotes_from_lines() {
        let dir = tempfile::tempdir().unwrap();
        let messages = demo_messages("a@b.example");
        let (path, _) = write_file(dir.path(), "D-1", Format::Mbox, &messages).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(text.lines().filter(|l| l.starts_with("From ")).count(), messages.len());
        assert!(text.contains("\n>From the start of a line"));
    }
}
