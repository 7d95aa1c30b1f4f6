//! Arguments of IMAP commands built from data we do not control: folder names (from a mail
//! server's LIST, kept in a backup), flags, sign-in names. Each one stays one argument of one
//! command line: a CR or LF sent raw would end the line and start a command of the sender's
//! choosing, and a quoted string cannot carry them (nor NUL), so such a value is refused.

use async_imap::error::ValidateError;

/// An IMAP quoted string, or the first character no quoted string can carry (RFC 3501 §4.3).
pub fn quoted(value: &str) -> Result<String, ValidateError> {
    if let Some(bad) = value.chars().find(|c| matches!(c, '\r' | '\n' | '\0')) {
        return Err(ValidateError(bad));
    }
    Ok(format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")))
}

/// Why a folder cannot be sent to a mail server, in the words a skipped item is listed with.
pub fn refusal(error: &ValidateError) -> String {
    format!(
        "its name holds a {}, which cannot be sent to an IMAP server",
        if error.0 == '\0' { "NUL character" } else { "line break" }
    )
}

/// A folder name as people see it in a list: control characters written out (`\r\n`).
pub fn shown(folder: &str) -> String {
    if folder.chars().any(char::is_control) {
        folder.escape_debug().to_string()
    } else {
        folder.to_owned()
    }
}

/// The folders that can be sent as they are, and the others with why not.
pub fn sendable(folders: impl IntoIterator<Item = String>) -> (Vec<String>, Vec<(String, String)>) {
    let mut good = Vec::new();
    let mut refused = Vec::new();
    for folder in folders {
        match quoted(&folder) {
            Ok(_) => good.push(folder),
            Err(error) => refused.push((shown(&folder), refusal(&error))),
        }
    }
    (good, refused)
}

/// A system flag (`\Seen`) or keyword as IMAP's grammar has it: nothing that could end the
/// list, start a literal or quoted string, or break the line.
fn is_flag(flag: &str) -> bool {
    let atom = flag.strip_prefix('\\').unwrap_or(flag);
    !atom.is_empty() && atom.bytes().all(|b| (0x21..0x7f).contains(&b) && !b"(){%*\"\\]".contains(&b))
}

/// `APPEND folder (flags) "date" {length}`: the message follows as a literal. Flags that are
/// not flags are left out, and `\Recent`, which only the server may set.
pub fn append(folder: &str, flags: &[String], date: Option<&str>, length: usize) -> Result<String, ValidateError> {
    let mut command = format!("APPEND {}", quoted(folder)?);
    let flags: Vec<&str> =
        flags.iter().map(String::as_str).filter(|f| is_flag(f) && !f.eq_ignore_ascii_case("\\Recent")).collect();
    if !flags.is_empty() {
        command.push_str(&format!(" ({})", flags.join(" ")));
    }
    if let Some(date) = date {
        command.push_str(&format!(" {}", quoted(date)?));
    }
    command.push_str(&format!(" {{{length}}}"));
    Ok(command)
}

/// A compact UID set: `3:7,9,12:13`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}:{end}") });
        i += 1;
    }
    parts.join(",")
}

/// IMAP's date-time (`05-Mar-2026 10:11:12 +0000`) of a moment in Unix milliseconds.
pub fn imap_date(ms: i64) -> Option<String> {
    let format = time::macros::format_description!("[day]-[month repr:short]-[year] [hour]:[minute]:[second] +0000");
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).ok()?.format(&format).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_name_with_cr_lf_or_nul_is_refused_never_sent_raw() {
        for hostile in ["Work\r\nA1 DELETE INBOX", "Work\nX", "Work\rX", "Work\0X"] {
            assert!(quoted(hostile).is_err(), "{hostile:?}");
            assert!(append(hostile, &[], None, 10).is_err(), "{hostile:?}");
        }
        let (good, refused) = sendable(["INBOX".to_owned(), "Work\r\nA1 DELETE INBOX".to_owned(), "Nul\0".to_owned()]);
        assert_eq!(good, ["INBOX"]);
        assert_eq!(refused[0].0, "Work\\r\\nA1 DELETE INBOX", "shown escaped");
        assert!(refused[0].1.contains("line break"));
        assert!(refused[1].1.contains("NUL"));
    }

    #[test]
    fn an_append_command_quotes_the_folder_and_sends_only_real_flags() {
        let flags: Vec<String> = ["\\Seen", "\\Recent", "$Label1", "bad)flag", "{5}", "\\", "x\r\ny", "\"q\""]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let command = append("Sent \"old\" \\ Ünïcode", &flags, Some("05-Mar-2026 10:11:12 +0000"), 42).unwrap();
        assert_eq!(command, "APPEND \"Sent \\\"old\\\" \\\\ Ünïcode\" (\\Seen $Label1) \"05-Mar-2026 10:11:12 +0000\" {42}");
        assert_eq!(append("INBOX", &[], None, 7).unwrap(), "APPEND \"INBOX\" {7}");
        assert!(!command.contains(['\r', '\n']));
    }

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[42]), "42");
    }

    #[test]
    fn dates_read_as_imap_writes_them() {
        assert_eq!(imap_date(1_772_705_472_000).as_deref(), Some("05-Mar-2026 10:11:12 +0000"));
    }
}
