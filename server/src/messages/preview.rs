//! A message read from the backup for its preview: the headers a reader looks at, its text,
//! its attachments, and its HTML body made safe (ammonia: no scripts, no event handlers, no
//! forms, no frames; images from other sites only when asked for).

use std::collections::HashSet;

use mail_parser::{Message, MessageParser, MimeHeaders};
use portal_api::{MessageAttachment, MessageHeader};

use crate::search::text::{addresses, clean};

/// Characters of the text body a preview shows; the whole message is a download away.
const TEXT_CHARS: usize = 200_000;

/// What a preview shows of a message, besides its search row.
pub(super) struct Read {
    pub(super) headers: Vec<MessageHeader>,
    pub(super) text: String,
    pub(super) has_html: bool,
    pub(super) remote_images: bool,
    pub(super) attachments: Vec<MessageAttachment>,
}

pub(super) fn parse(raw: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse(raw)
}

pub(super) fn read(message: &Message<'_>) -> Read {
    let mut headers = Vec::new();
    let mut add = |name: &str, value: String| {
        if !value.is_empty() {
            headers.push(MessageHeader { name: name.to_owned(), value });
        }
    };
    add("From", addresses(message.from()));
    add("To", addresses(message.to()));
    add("Cc", addresses(message.cc()));
    add("Reply-To", addresses(message.reply_to()));
    add("Date", message.date().map(|d| d.to_rfc822()).unwrap_or_default());
    add("Subject", clean(message.subject().unwrap_or("")));
    add("Message-ID", message.message_id().map(|id| format!("<{id}>")).unwrap_or_default());
    let mut text = message.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    if let Some((at, _)) = text.char_indices().nth(TEXT_CHARS) {
        text.truncate(at);
        text.push_str("\n…");
    }
    let html = html_body(message);
    let remote_images = html.as_deref().is_some_and(|html| sanitise(html, false).1);
    Read { headers, text, has_html: html.is_some(), remote_images, attachments: attachments(message) }
}

/// The message's own HTML body, if it has one (a text body turned into HTML is not).
pub(super) fn html_body(message: &Message<'_>) -> Option<String> {
    let part = message.html_part(0)?;
    part.is_text_html().then(|| String::from_utf8_lossy(part.contents()).into_owned())
}

pub(super) fn attachments(message: &Message<'_>) -> Vec<MessageAttachment> {
    message
        .attachments()
        .enumerate()
        .map(|(index, part)| MessageAttachment {
            index: index as u32,
            name: attachment_name(part, index),
            content_type: part
                .content_type()
                .map(|t| match t.subtype() {
                    Some(sub) => format!("{}/{sub}", t.ctype()),
                    None => t.ctype().to_owned(),
                })
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
            size: part.len() as u64,
        })
        .collect()
}

/// An attachment's file name as a download may carry it: no path, no control characters.
pub(super) fn attachment_name(part: &mail_parser::MessagePart<'_>, index: usize) -> String {
    let given = part.attachment_name().unwrap_or("");
    let base = given.rsplit(['/', '\\']).next().unwrap_or("");
    // No control characters, and no direction marks that would show "exe.pdf" for "fdp.exe".
    let name: String = base
        .chars()
        .filter(|c| {
            !c.is_control()
                && *c != '"'
                && !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .take(150)
        .collect();
    let name = name.trim().trim_start_matches('.').to_owned();
    if name.is_empty() {
        format!("attachment-{}", index + 1)
    } else {
        name
    }
}

/// The HTML made safe to show, and whether it loaded images from other sites (removed unless
/// `remote_images`). Kept: text, layout, inline styles (the frame's policy lets a style load
/// nothing), links, and images in the message itself (`data:`).
pub(super) fn sanitise(html: &str, remote_images: bool) -> (String, bool) {
    let found_remote = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = found_remote.clone();
    let mut schemes: HashSet<&str> = ["http", "https", "mailto"].into_iter().collect();
    schemes.insert("data");
    let mut builder = ammonia::Builder::default();
    builder
        .url_schemes(schemes)
        .url_relative(ammonia::UrlRelative::Deny)
        .add_generic_attributes(["style", "align", "bgcolor", "width", "height", "valign"])
        .add_tags(["font", "center"])
        .add_tag_attributes("font", ["color", "face", "size"])
        .attribute_filter(move |element, attribute, value| {
            let url = value.trim_start().to_ascii_lowercase();
            match (element, attribute) {
                ("img", "src") if url.starts_with("data:image/") => Some(value.into()),
                ("img", "src") if url.starts_with("http:") || url.starts_with("https:") || url.starts_with("//") => {
                    seen.store(true, std::sync::atomic::Ordering::Relaxed);
                    remote_images.then(|| value.into())
                }
                ("img", "src") => None,
                // A link to data: could carry a page of its own.
                (_, "href") if url.starts_with("data:") => None,
                _ => Some(value.into()),
            }
        });
    let clean = builder.clean(html).to_string();
    (clean, found_remote.load(std::sync::atomic::Ordering::Relaxed))
}

/// The policy the HTML is shown under: a sandbox (no scripts, no forms, no navigation of the
/// portal), nothing loaded but images in the message (and from other sites when asked for),
/// shown only in a frame of the portal.
pub(super) fn policy(remote_images: bool) -> String {
    let images = if remote_images { "data: https: http:" } else { "data:" };
    // Links open in a new tab, as an ordinary page (not sandboxed), without a referrer.
    format!(
        "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src {images}; \
         frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_handlers_and_remote_images_are_taken_out() {
        let html = r#"<p onclick="steal()">Hi <script>alert(1)</script><img src="https://tracker.example/p.gif">
<img src="data:image/png;base64,AAAA"><a href="javascript:alert(1)">x</a><iframe src="https://x.example"></iframe>
<form action="https://x.example"><input></form><style>body{}</style></p>"#;
        let (clean, remote) = sanitise(html, false);
        assert!(remote);
        for gone in ["script", "alert", "onclick", "tracker.example", "javascript", "iframe", "form", "<style"] {
            assert!(!clean.contains(gone), "{gone} in {clean}");
        }
        assert!(clean.contains("data:image/png;base64,AAAA"), "{clean}");
        let (shown, _) = sanitise(html, true);
        assert!(shown.contains("https://tracker.example/p.gif") && !shown.contains("script"), "{shown}");
    }

    #[test]
    fn attachment_names_carry_no_path() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n\
Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"../../etc/pass\"\r\n\r\nPDF\r\n--b--\r\n";
        let message = parse(raw).unwrap();
        let found = attachments(&message);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "pass");
        let spoofed = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n\
Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"invoice\u{202e}fdp.exe\"\r\n\r\nPDF\r\n--b--\r\n";
        assert_eq!(attachments(&parse(spoofed.as_bytes()).unwrap())[0].name, "invoicefdp.exe");
        assert_eq!(found[0].content_type, "application/pdf");
    }
}
