//! What the index keeps of a message: its sender, recipients, subject, date, whether it has
//! attachments, and its text (the HTML body turned into text when there is no text body),
//! read by mail-parser. Pure: no database, no I/O.

use mail_parser::{Address, Message, MessageParser, MimeHeaders};

/// Characters of a message's text that are indexed: enough for any letter; a huge body (a
/// log pasted in) does not grow the index without bound.
pub const BODY_CHARS: usize = 32 * 1024;

/// A message as the index keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Indexed {
    pub sender: String,
    pub recipients: String,
    pub subject: String,
    pub body: String,
    /// When it was sent (Unix ms), from its Date header.
    pub sent_at: Option<i64>,
    pub has_attachment: bool,
}

impl Indexed {
    /// Reads a message; `None` when mail-parser finds no message in it.
    pub fn read(raw: &[u8]) -> Option<Indexed> {
        let message = MessageParser::default().parse(raw)?;
        Some(Indexed::of(&message))
    }

    pub fn of(message: &Message<'_>) -> Indexed {
        let mut recipients = addresses(message.to());
        let cc = addresses(message.cc());
        if !cc.is_empty() {
            if !recipients.is_empty() {
                recipients.push_str(", ");
            }
            recipients.push_str(&cc);
        }
        Indexed {
            sender: bounded(addresses(message.from()), 2000),
            recipients: bounded(recipients, 2000),
            subject: bounded(clean(message.subject().unwrap_or("")), 1000),
            body: bounded(clean(&message.body_text(0).unwrap_or_default()), BODY_CHARS),
            sent_at: message.date().map(|d| d.to_timestamp().saturating_mul(1000)).filter(|ms| *ms > 0),
            has_attachment: message.attachments().any(|part| !part.is_message() || part.attachment_name().is_some()),
        }
    }
}

/// Addresses as a reader writes them: "Ann Lee <ann@example.com>, bob@example.com".
pub fn addresses(address: Option<&Address<'_>>) -> String {
    let Some(address) = address else { return String::new() };
    address
        .iter()
        .map(|a| match (a.name(), a.address()) {
            (Some(name), Some(email)) if !name.is_empty() && name != email => format!("{} <{}>", clean(name), clean(email)),
            (_, Some(email)) => clean(email),
            (Some(name), None) => clean(name),
            (None, None) => String::new(),
        })
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Control characters (a NUL cannot be stored in PostgreSQL text) become spaces, runs of
/// white space one.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

fn bounded(mut text: String, chars: usize) -> String {
    if let Some((at, _)) = text.char_indices().nth(chars) {
        text.truncate(at);
    }
    text
}

/// The words of a search, as the index tokenizes them: letters and digits, lower-cased; at
/// most 16 (a longer text adds nothing a person meant).
pub fn words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_lowercase()).take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_read_for_the_index() {
        let raw = b"From: \"Ann Lee\" <ann@example.com>\r\nTo: bob@example.com\r\nCc: Cy <cy@example.com>\r\n\
Subject: Quarterly\r\n  figures\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>Hello <b>world</b>\x00</p>\r\n\
--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\nPDF\r\n--b--\r\n";
        let indexed = Indexed::read(raw).unwrap();
        assert_eq!(indexed.sender, "Ann Lee <ann@example.com>");
        assert_eq!(indexed.recipients, "bob@example.com, Cy <cy@example.com>");
        assert_eq!(indexed.subject, "Quarterly figures");
        assert_eq!(indexed.body, "Hello world");
        assert_eq!(indexed.sent_at, Some(1_700_000_000_000));
        assert!(indexed.has_attachment);
        let plain = Indexed::read(b"Subject: x\r\n\r\nno attachment").unwrap();
        assert!(!plain.has_attachment);
        assert_eq!(plain.body, "no attachment");
    }

    #[test]
    fn words_are_letters_and_digits() {
        assert_eq!(words("  Invoice-2026/114 \"ÄRGER\" *"), ["invoice", "2026", "114", "ärger"]);
        assert!(words("\" * ( )").is_empty());
    }
}
