//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA1, 30-second steps,
//! six digits, which is what every authenticator app reads from an `otpauth://` QR code.
//! The server checks codes with it; `cargo xtask totp` computes the demo users' codes.

use hmac::{Hmac, Mac};

/// Seconds per step.
pub const STEP_SECS: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Bytes of a new secret (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;

/// The step a Unix time (seconds) falls in.
pub fn step_at(unix_secs: u64) -> u64 {
    unix_secs / STEP_SECS
}

/// The code of one step (RFC 4226 section 5.3, dynamic truncation).
pub fn code(secret: &[u8], step: u64) -> u32 {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(&step.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([hash[offset] & 0x7f, hash[offset + 1], hash[offset + 2], hash[offset + 3]]);
    binary % 10_u32.pow(DIGITS)
}

/// The code as typed: six digits, leading zeros kept.
pub fn format(code: u32) -> String {
    format!("{code:0width$}", width = DIGITS as usize)
}

/// The step whose code `typed` is, looking one step either side of `now_step` (a phone's
/// clock may be a little off, and a code typed at the end of its step arrives in the next),
/// and never at or before `last_used` (each code is accepted once). Spaces are ignored.
pub fn accepted_step(secret: &[u8], typed: &str, now_step: u64, last_used: Option<u64>) -> Option<u64> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != DIGITS as usize || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = digits.parse().ok()?;
    let mut found = None;
    // Every candidate is computed, so the time taken does not tell which one matched.
    for step in [now_step.saturating_sub(1), now_step, now_step + 1] {
        let matches = constant_time_eq(format(code(secret, step)).as_bytes(), format(wanted).as_bytes());
        if matches && last_used.is_none_or(|last| step > last) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as authenticator apps take secrets.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0_u32, 0_u32);
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            out.push(char::from(ALPHABET[((buffer >> (bits - 5)) & 31) as usize]));
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The bytes of a base32 secret; case, spaces, dashes and padding are ignored.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0_u32, 0_u32);
    for c in text.chars().filter(|c| !matches!(c, ' ' | '-' | '=')) {
        let value = ALPHABET.iter().position(|a| char::from(*a) == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            out.push((buffer >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

/// What the QR code holds (Google Authenticator's key URI format, which every app reads).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let label = format!("{}:{}", percent(issuer), percent(account));
    format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        base32_encode(secret),
        percent(issuer)
    )
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The demo's authenticator secret for a demo user: derived from the address, so that
/// `cargo xtask totp EMAIL` computes the same codes as the app a visitor would set up. Never
/// used for an account that is not the demo's.
pub fn demo_secret(email: &str) -> Vec<u8> {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("backup-portal demo authenticator:{}", email.to_lowercase()));
    digest[..SECRET_BYTES].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8 digits there; the last six of each here).
    #[test]
    fn matches_the_rfc_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59_u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(format(code(secret, step_at(time))), expected[2..], "at {time}");
        }
    }

    #[test]
    fn a_code_is_accepted_within_one_step_either_side_and_only_after_the_last_used() {
        let secret = demo_secret("a@example.com");
        let now = 1_000_000;
        let typed = |step| format(code(&secret, step));
        assert_eq!(accepted_step(&secret, &typed(now), now, None), Some(now));
        assert_eq!(accepted_step(&secret, &typed(now - 1), now, None), Some(now - 1));
        assert_eq!(accepted_step(&secret, &typed(now + 1), now, None), Some(now + 1));
        assert_eq!(accepted_step(&secret, &typed(now - 2), now, None), None, "two steps old");
        assert_eq!(accepted_step(&secret, &typed(now + 2), now, None), None);
        assert_eq!(accepted_step(&secret, &typed(now), now, Some(now)), None, "used once already");
        assert_eq!(accepted_step(&secret, &typed(now - 1), now, Some(now)), None, "older than one used");
        let spaced = format!("{} {}", &typed(now)[..3], &typed(now)[3..]);
        assert_eq!(accepted_step(&secret, &spaced, now, None), Some(now));
        assert_eq!(accepted_step(&secret, "12345", now, None), None);
        assert_eq!(accepted_step(&secret, "abcdef", now, None), None);
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        let secret = demo_secret("x@example.com");
        assert_eq!(base32_decode(&base32_encode(&secret)).unwrap(), secret);
        assert_eq!(base32_decode("not base32!"), None);
    }

    #[test]
    fn the_uri_names_issuer_account_and_secret() {
        let uri = otpauth_uri("Backup Portal", "sam@acme.example", b"12345678901234567890");
        assert_eq!(
            uri,
            "otpauth://totp/Backup%20Portal:sam@acme.example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Backup%20Portal&algorithm=SHA1&digits=6&period=30"
        );
    }
}
