//! Second factors: an authenticator app (TOTP, `portal_totp`) and single-use recovery codes.
//! What sign-in (`challenge.rs`) and Account › Security (`security/`) both use.

use rand::Rng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::db::now_ms;
use crate::error::AppResult;
use crate::state::AppState;

/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;
/// Where a user's authenticator secret is sealed (`SecretBox::seal_for_user`).
const SECRET_CONTEXT: &str = "totp";
/// Letters that cannot be mistaken for one another when copied from paper.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Whether the user has a second factor: an authenticator app or a passkey.
pub async fn has_second_factor(state: &AppState, user_id: i64) -> AppResult<bool> {
    let (has,): (i64,) = sqlx::query_as(&format!("SELECT {} FROM users u WHERE u.id = $1", super::session::HAS_SECOND_FACTOR_SQL))
        .bind(user_id)
        .fetch_one(&state.db)
        .await?;
    Ok(has != 0)
}

/// What the user can answer a sign-in's challenge with.
pub async fn methods(state: &AppState, user_id: i64) -> AppResult<Vec<portal_api::SecondFactorMethod>> {
    use portal_api::SecondFactorMethod;
    let (totp, codes, passkeys): (i64, i64, i64) = sqlx::query_as(
        "SELECT CAST(CASE WHEN u.totp_enrolled_at IS NULL THEN 0 ELSE 1 END AS BIGINT), \
                (SELECT COUNT(*) FROM recovery_codes c WHERE c.user_id = u.id AND c.used_at IS NULL), \
                (SELECT COUNT(*) FROM passkeys p WHERE p.user_id = u.id) \
         FROM users u WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_one(&state.db)
    .await?;
    let mut methods = Vec::new();
    if passkeys > 0 {
        methods.push(SecondFactorMethod::Passkey);
    }
    if totp != 0 {
        methods.push(SecondFactorMethod::Totp);
    }
    if codes > 0 {
        methods.push(SecondFactorMethod::RecoveryCode);
    }
    Ok(methods)
}

/// Which second factor a sign-in used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Used {
    Totp,
    RecoveryCode,
}

#[derive(sqlx::FromRow)]
struct TotpRow {
    totp_secret: Option<String>,
    totp_last_step: Option<i64>,
}

fn now_step() -> u64 {
    portal_totp::step_at(u64::try_from(now_ms() / 1000).unwrap_or(0))
}

/// Whether `code` is six digits (an authenticator's) rather than a recovery code.
fn looks_like_totp(code: &str) -> bool {
    let digits: Vec<char> = code.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == portal_totp::DIGITS as usize && digits.iter().all(char::is_ascii_digit)
}

/// Checks `code` for the user and spends it: an authenticator code's step becomes the last
/// one used (written only if still later than the stored one, so the same code sent twice at
/// once passes once); a recovery code is marked used the same way. `None`: not accepted.
pub async fn spend(state: &AppState, user_id: i64, code: &str) -> AppResult<Option<Used>> {
    if code.len() > 64 {
        return Ok(None);
    }
    if !looks_like_totp(code) {
        return Ok(spend_recovery_code(state, user_id, code).await?.then_some(Used::RecoveryCode));
    }
    let row: Option<TotpRow> = sqlx::query_as("SELECT totp_secret, totp_last_step FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&state.db)
        .await?;
    let Some(TotpRow { totp_secret: Some(sealed), totp_last_step }) = row else {
        return Ok(None);
    };
    let secret = state.secrets.open_for_user(user_id, SECRET_CONTEXT, &sealed)?;
    let last = totp_last_step.and_then(|s| u64::try_from(s).ok());
    let Some(step) = portal_totp::accepted_step(&secret, code, now_step(), last) else {
        return Ok(None);
    };
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let spent = sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)")
        .bind(step)
        .bind(user_id)
        .execute(&state.db)
        .await?
        .rows_affected();
    Ok((spent == 1).then_some(Used::Totp))
}

async fn spend_recovery_code(state: &AppState, user_id: i64, code: &str) -> AppResult<bool> {
    let spent = sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL")
        .bind(now_ms())
        .bind(user_id)
        .bind(recovery_hash(user_id, code))
        .execute(&state.db)
        .await?
        .rows_affected();
    Ok(spent == 1)
}

/// What is kept of a recovery code: SHA-256 of the user and the code as typed, without case,
/// spaces or dashes. The codes are random (about 50 bits), so no slow hash is needed.
fn recovery_hash(user_id: i64, code: &str) -> String {
    let normal: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    hex::encode(Sha256::digest(format!("recovery:{user_id}:{normal}")))
}

/// Ten new recovery codes for the user; the old ones stop working. Shown once.
pub async fn new_recovery_codes(state: &AppState, user_id: i64) -> AppResult<Vec<String>> {
    let codes: Vec<String> = {
        let mut rng = rand::rngs::OsRng;
        (0..RECOVERY_CODES)
            .map(|_| {
                let letters: String =
                    (0..10).map(|_| char::from(RECOVERY_ALPHABET[rng.gen_range(0..RECOVERY_ALPHABET.len())])).collect();
                format!("{}-{}", &letters[..5], &letters[5..])
            })
            .collect()
    };
    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    for code in &codes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(recovery_hash(user_id, code))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(codes)
}

/// A new secret waiting for its first code: kept sealed as pending; the one in use (if any)
/// stays until a code from the new one is confirmed.
pub async fn begin_enrolment(state: &AppState, user_id: i64) -> AppResult<Zeroizing<Vec<u8>>> {
    let secret = Zeroizing::new(rand::random::<[u8; portal_totp::SECRET_BYTES]>().to_vec());
    let sealed = state.secrets.seal_for_user(user_id, SECRET_CONTEXT, &secret);
    sqlx::query("UPDATE users SET totp_pending = $1 WHERE id = $2").bind(sealed).bind(user_id).execute(&state.db).await?;
    Ok(secret)
}

/// The pending secret becomes the user's if `code` is one of its codes. False: no pending
/// secret, or a wrong code.
pub async fn confirm_enrolment(state: &AppState, user_id: i64, code: &str) -> AppResult<bool> {
    let (pending,): (Option<String>,) =
        sqlx::query_as("SELECT totp_pending FROM users WHERE id = $1").bind(user_id).fetch_one(&state.db).await?;
    let Some(pending) = pending else {
        return Ok(false);
    };
    let secret = state.secrets.open_for_user(user_id, SECRET_CONTEXT, &pending)?;
    let Some(step) = portal_totp::accepted_step(&secret, code, now_step(), None) else {
        return Ok(false);
    };
    // Only the pending secret read above: a second enrolment begun meanwhile is not confirmed by this code.
    let done = sqlx::query(
        "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_enrolled_at = $1, totp_last_step = $2 \
         WHERE id = $3 AND totp_pending = $4",
    )
    .bind(now_ms())
    .bind(i64::try_from(step).unwrap_or(i64::MAX))
    .bind(user_id)
    .bind(&pending)
    .execute(&state.db)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// Takes the authenticator away, and the recovery codes unless a passkey still needs them.
pub async fn remove(state: &AppState, user_id: i64) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_enrolled_at = NULL, totp_last_step = NULL WHERE id = $1",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1 AND NOT EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = $1)")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The demo's users with an authenticator: its secret derived from the address
/// (`portal_totp::demo_secret`, what `cargo xtask totp` computes from), recovery codes none.
pub async fn enrol_demo(db: &crate::db::Db, secrets: &crate::secrets::SecretBox, user_id: i64, email: &str) -> AppResult<()> {
    let sealed = secrets.seal_for_user(user_id, SECRET_CONTEXT, &portal_totp::demo_secret(email));
    sqlx::query("UPDATE users SET totp_secret = $1, totp_enrolled_at = $2 WHERE id = $3")
        .bind(sealed)
        .bind(now_ms())
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_compared_without_case_spaces_or_dashes_and_per_user() {
        assert_eq!(recovery_hash(1, "abcde-fghjk"), recovery_hash(1, " ABCDE FGHJK "));
        assert_ne!(recovery_hash(1, "abcde-fghjk"), recovery_hash(2, "abcde-fghjk"));
        assert!(looks_like_totp("123 456") && !looks_like_totp("abcde-fghjk") && !looks_like_totp("1234567"));
    }
}
