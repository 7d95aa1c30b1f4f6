//! Webhook deliveries signed as the Standard Webhooks specification says: headers `webhook-id`
//! (the event's ID, the same on every retry), `webhook-timestamp` (Unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under the endpoint's
//! secret `whsec_<base64 key>`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{send, Answer, NoAnswer, Outgoing};

/// The secret's prefix.
pub const SECRET_PREFIX: &str = "whsec_";

/// A fresh signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(rand::random::<[u8; 32]>()))
}

/// The key a secret stands for, or `None` if it is not one.
pub fn key_of(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()
}

/// `v1,<signature>` of one delivery.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Sends one signed delivery.
pub async fn deliver(
    outgoing: &Outgoing,
    url: &str,
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &str,
) -> Result<Answer, NoAnswer> {
    let url = outgoing.check_url(url).map_err(|refused| NoAnswer::refused(refused.0))?;
    let key = key_of(secret).ok_or_else(|| NoAnswer::refused("The endpoint's signing secret could not be read."))?;
    let request = outgoing
        .client()
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature(&key, id, timestamp, body))
        .body(body.to_owned());
    send(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_example_signs_as_published() {
        // The example in the Standard Webhooks specification.
        let key = key_of("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(new_secret().starts_with(SECRET_PREFIX));
        assert_eq!(key_of(&new_secret()).unwrap().len(), 32);
    }
}
