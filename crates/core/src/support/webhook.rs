//! Outgoing webhooks, per the Standard Webhooks specification (standardwebhooks.com): each
//! message carries `webhook-id`, `webhook-timestamp` and `webhook-signature` headers, the
//! signature being `v1,` + base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}")) with a
//! `whsec_`-prefixed base64 secret. Receivers can verify with any Standard Webhooks library.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore as _;
use ring::hmac;
use secrecy::{ExposeSecret as _, SecretString};

use crate::ValidationError;

const SECRET_PREFIX: &str = "whsec_";
/// Standard Webhooks recommends 24 to 64 random bytes.
const SECRET_BYTES: usize = 32;

/// A fresh signing secret, `whsec_` + base64 of 32 random bytes.
pub fn generate_secret() -> SecretString {
    let mut key = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut key);
    SecretString::from(format!("{SECRET_PREFIX}{}", STANDARD.encode(key)))
}

/// The `webhook-signature` header value for one message.
pub fn sign(
    secret: &SecretString,
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, ValidationError> {
    let encoded = secret.expose_secret();
    let encoded = encoded.strip_prefix(SECRET_PREFIX).unwrap_or(encoded);
    let key = STANDARD
        .decode(encoded)
        .map_err(|_| ValidationError::new("webhook_secret", "is not a whsec_ base64 secret"))?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let mut context = hmac::Context::with_key(&key);
    context.update(message_id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    Ok(format!("v1,{}", STANDARD.encode(context.sign().as_ref())))
}

/// Attempts before a message is given up, and the wait before each retry (the schedule
/// Standard Webhooks suggests: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
pub const RETRY_DELAYS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// How long to wait after the `attempts`-th failed attempt; `None` once there is no retry left.
pub fn retry_after(attempts: u32) -> Option<Duration> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    RETRY_DELAYS.get(index).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_specification_example() {
        // The test vector of the Standard Webhooks reference libraries.
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let signature = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(sign(&SecretString::from("whsec_!!"), "m", 1, b"").is_err());
    }

    #[test]
    fn secrets_are_fresh_and_usable() {
        let (a, b) = (generate_secret(), generate_secret());
        assert!(a.expose_secret().starts_with("whsec_"));
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(sign(&a, "m", 1, b"{}").is_ok());
    }

    #[test]
    fn retries_back_off_then_stop() {
        assert_eq!(retry_after(0), None);
        assert_eq!(retry_after(1), Some(Duration::from_secs(5)));
        assert_eq!(retry_after(2), Some(Duration::from_secs(300)));
        assert_eq!(retry_after(7), Some(Duration::from_secs(36_000)));
        assert_eq!(retry_after(8), None);
    }
}
