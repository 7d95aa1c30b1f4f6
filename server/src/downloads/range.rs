//! Which bytes of a file a request asks for (`Range`, RFC 9110 §14): one range is served as a
//! part, so that an interrupted download of a large file goes on where it stopped.

/// What a request wants of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// The whole file: no `Range`, one that is not for bytes, several ranges (allowed to be
    /// answered whole), or one that does not parse (RFC 9110 says to ignore it).
    Whole,
    /// Bytes `start..=end`, both within the file.
    Part { start: u64, end: u64 },
    /// A range that selects nothing of the file (416).
    Unsatisfiable,
}

/// What `Range: header` asks of a file of `length` bytes.
pub fn wanted(header: Option<&str>, length: u64) -> Wanted {
    let Some(header) = header else { return Wanted::Whole };
    let Some((unit, ranges)) = header.trim().split_once('=') else { return Wanted::Whole };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Wanted::Whole;
    }
    let mut specs = ranges.split(',').map(str::trim).filter(|spec| !spec.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else { return Wanted::Whole };
    let Some((first, last)) = spec.split_once('-') else { return Wanted::Whole };
    let (first, last) = (first.trim(), last.trim());
    match (number(first), number(last)) {
        // `-n`: the last n bytes.
        (None, Some(suffix)) if first.is_empty() => {
            if suffix == 0 || length == 0 {
                Wanted::Unsatisfiable
            } else {
                Wanted::Part { start: length - suffix.min(length), end: length - 1 }
            }
        }
        // `a-`: from a to the end.
        (Some(start), None) if last.is_empty() => {
            if start >= length {
                Wanted::Unsatisfiable
            } else {
                Wanted::Part { start, end: length - 1 }
            }
        }
        // `a-b`: an end past the file's is its end.
        (Some(start), Some(end)) if start <= end => {
            if start >= length {
                Wanted::Unsatisfiable
            } else {
                Wanted::Part { start, end: end.min(length - 1) }
            }
        }
        _ => Wanted::Whole,
    }
}

/// Digits only (no sign, no spaces inside); more than fit in a u64 stand for u64::MAX.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_a_file_of_a_thousand_bytes() {
        let of = |header: &str| wanted(Some(header), 1000);
        assert_eq!(wanted(None, 1000), Wanted::Whole);
        assert_eq!(of("bytes=0-499"), Wanted::Part { start: 0, end: 499 });
        assert_eq!(of("bytes=500-"), Wanted::Part { start: 500, end: 999 });
        assert_eq!(of("bytes=-100"), Wanted::Part { start: 900, end: 999 });
        assert_eq!(of("bytes=-5000"), Wanted::Part { start: 0, end: 999 }, "more than the file: all of it");
        assert_eq!(of("bytes=990-5000"), Wanted::Part { start: 990, end: 999 }, "an end past the file's");
        assert_eq!(of("bytes=999-999"), Wanted::Part { start: 999, end: 999 });
        assert_eq!(of(" Bytes = 10 - 20 "), Wanted::Part { start: 10, end: 20 }, "unit in any case, spaces around");
        assert_eq!(of("bytes=10-20,"), Wanted::Part { start: 10, end: 20 }, "an empty element is no range");
        assert_eq!(of("bytes=0-99999999999999999999999"), Wanted::Part { start: 0, end: 999 });

        for unsatisfiable in ["bytes=1000-", "bytes=1000-1001", "bytes=-0", "bytes=99999999999999999999999-"] {
            assert_eq!(of(unsatisfiable), Wanted::Unsatisfiable, "{unsatisfiable}");
        }
        assert_eq!(wanted(Some("bytes=-1"), 0), Wanted::Unsatisfiable, "nothing of an empty file");
        assert_eq!(wanted(Some("bytes=0-"), 0), Wanted::Unsatisfiable);

        // Ignored: served whole.
        for whole in [
            "bytes=0-10,20-30",
            "bytes=20-10",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
            "bytes=1 0-20",
            "bytes=",
            "items=0-10",
            "bytes 0-10",
            "",
        ] {
            assert_eq!(of(whole), Wanted::Whole, "{whole:?}");
        }
    }
}
