//! OpenID Connect sign-in: the ID tokens the token endpoint adds for a sign-in code, and the
//! keys that verify them (`GET /idp/{tenant}/discovery/v2.0/keys`, JWKS), shaped like the
//! Microsoft identity platform's v2.0 tokens (`iss` = `…/{tid}/v2.0`, `tid`, `oid`,
//! `preferred_username`), signed with ES256.
//!
//! The signing key is derived from the client secret, so that every instance of a server with
//! the same configuration signs with the same key and publishes the same JWKS.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::directory::User;
use super::{base_url, json_ok, IdpConfig};

/// How long an ID token is good for.
const ID_TOKEN_SECONDS: u64 = 3600;

fn signing_key(config: &IdpConfig) -> SigningKey {
    // A hash is a valid P-256 scalar but for odds of about 2^-32; the counter steps past those.
    (0_u32..)
        .find_map(|n| {
            let seed = Sha256::digest(format!("backup-portal idp id-token key {n}:{}", config.client_secret));
            SigningKey::from_slice(&seed).ok()
        })
        .expect("some counter gives a valid scalar")
}

/// The key's ID: a hash of its public part, as providers publish it.
fn key_id(key: &SigningKey) -> String {
    let public = key.verifying_key().to_sec1_point(false);
    URL_SAFE_NO_PAD.encode(&Sha256::digest(public.as_bytes())[..12])
}

/// The JSON Web Key Set that verifies the ID tokens.
pub(crate) fn jwks(config: &IdpConfig) -> Value {
    let key = signing_key(config);
    let point = key.verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    // Uncompressed SEC1: 0x04, then x and y, 32 bytes each.
    json!({ "keys": [{
        "kty": "EC",
        "crv": "P-256",
        "use": "sig",
        "alg": "ES256",
        "kid": key_id(&key),
        "x": URL_SAFE_NO_PAD.encode(&bytes[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&bytes[33..65]),
    }]})
}

pub(crate) async fn keys(axum::extract::State(config): axum::extract::State<super::Config>) -> Response {
    json_ok(jwks(&config))
}

/// The issuer of a tenant's tokens, as the token's `iss` names it.
pub(crate) fn issuer(config: &IdpConfig, tenant_id: &str) -> String {
    format!("{}/{tenant_id}/v2.0", base_url(config))
}

/// A stable ID of the user, as Entra's `oid`: GUID-shaped, from the address.
fn object_id(user: &User) -> String {
    let hash = hex(&Sha256::digest(format!("oid:{}", user.email.to_lowercase()))[..16]);
    format!("{}-{}-{}-{}-{}", &hash[..8], &hash[8..12], &hash[12..16], &hash[16..20], &hash[20..32])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A signed ID token for `user`, for the client, carrying the sign-in's `nonce`.
pub(crate) fn id_token(config: &IdpConfig, user: &User, nonce: &str) -> String {
    let key = signing_key(config);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let header = json!({ "typ": "JWT", "alg": "ES256", "kid": key_id(&key) });
    let claims = json!({
        "ver": "2.0",
        "iss": issuer(config, user.tenant.id),
        "aud": config.client_id,
        "iat": now,
        "nbf": now,
        "exp": now + ID_TOKEN_SECONDS,
        "nonce": nonce,
        "tid": user.tenant.id,
        "oid": object_id(user),
        // Pairwise, as Entra's: the same user has another `sub` in another application.
        "sub": URL_SAFE_NO_PAD.encode(&Sha256::digest(format!("sub:{}:{}", config.client_id, user.email.to_lowercase()))[..24]),
        "name": user.display_name,
        "preferred_username": user.email,
        "email": user.email,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature: Signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(secret: &str) -> IdpConfig {
        IdpConfig {
            client_id: "client".into(),
            client_secret: secret.into(),
            public_url: "http://127.0.0.1:8080".into(),
            device_code_seconds: 900,
            device_interval_seconds: 5,
        }
    }

    #[test]
    fn the_key_follows_the_configuration_and_its_tokens_verify() {
        use p256::ecdsa::signature::Verifier;
        assert_eq!(jwks(&config("a")), jwks(&config("a")), "the same on every instance");
        assert_ne!(jwks(&config("a")), jwks(&config("b")));
        let user = super::super::directory::user("global.admin@acme-legal.example").unwrap();
        let token = id_token(&config("a"), user, "n-0S6_WzA2Mj");
        let (input, signature) = token.rsplit_once('.').unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
        signing_key(&config("a")).verifying_key().verify(input.as_bytes(), &signature).unwrap();
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(input.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert_eq!(claims["tid"], user.tenant.id);
        assert_eq!(claims["iss"], format!("http://127.0.0.1:8080/idp/{}/v2.0", user.tenant.id));
        assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    }
}
