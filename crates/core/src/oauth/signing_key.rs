//! The platform's token signing keys: ES256 (ECDSA P-256, RFC 7518 §3.4), rotated on a
//! schedule with overlap, published as a JWK Set (RFC 7517 §5) at every issuer's `jwks_uri`.
//!
//! A key is published a day before it starts signing (validators that cached the set learn it
//! in time), signs for 30 days, and stays published two more days: longer than any access
//! token lives, so every token still valid can be checked.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::crypto::{CryptoError, MasterKey};
use crate::mcp_server::McpServerSettings;

pub const ALGORITHM: &str = "ES256";
/// How long a key signs before the next one takes over.
pub const SIGNING_PERIOD: Duration = Duration::from_secs(30 * 24 * 3600);
/// A new key is published this long before it signs.
pub const PREPUBLISH: Duration = Duration::from_secs(24 * 3600);
/// A key stays published this long after it stopped signing (access tokens live 24 h at most).
pub const RETENTION: Duration = Duration::from_secs(2 * 24 * 3600);

/// A signing key as stored: the private half sealed with the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The JWK `kid`, also the header `kid` of the tokens it signs.
    pub kid: String,
    /// The PKCS#8 document of the private key, sealed for this `kid`.
    pub sealed_private_key: Vec<u8>,
    /// The public point's coordinates, base64url (the JWK `x` and `y`).
    pub public_x: String,
    pub public_y: String,
    pub created_at: OffsetDateTime,
    /// From when it signs.
    pub activates_at: OffsetDateTime,
    /// Until when it is published (and so tokens it signed can be checked).
    pub published_until: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot open the signing key: {0}")]
    Unseal(#[from] CryptoError),
    #[error("the signing key is not valid: {0}")]
    Invalid(String),
}

impl SigningKey {
    /// A fresh key that starts signing at `activates_at`.
    pub fn generate(
        master_key: &MasterKey,
        now: OffsetDateTime,
        activates_at: OffsetDateTime,
    ) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        // SEC 1 §2.3.3 uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
        let point = pair.public_key().as_ref();
        let (x, y) = point[1..].split_at(32);
        let kid = format!("k{}", uuid::Uuid::now_v7().simple());
        Ok(Self {
            sealed_private_key: master_key.seal(pkcs8.as_ref(), &Self::context(&kid)),
            public_x: URL_SAFE_NO_PAD.encode(x),
            public_y: URL_SAFE_NO_PAD.encode(y),
            kid,
            created_at: now,
            activates_at,
            published_until: activates_at + SIGNING_PERIOD + RETENTION,
        })
    }

    fn context(kid: &str) -> Vec<u8> {
        format!("signing_key:{kid}").into_bytes()
    }

    /// Until when it signs, if no newer key took over before.
    pub fn signs_until(&self) -> OffsetDateTime {
        self.activates_at + SIGNING_PERIOD
    }

    /// The public key as a JWK (RFC 7517 §4, RFC 7518 §6.2.1).
    pub fn jwk(&self) -> Jwk {
        Jwk {
            kty: "EC",
            crv: "P-256",
            x: self.public_x.clone(),
            y: self.public_y.clone(),
            kid: self.kid.clone(),
            use_: "sig",
            alg: ALGORITHM,
        }
    }

    /// Opens the private half, ready to sign.
    pub fn signer(&self, master_key: &MasterKey) -> Result<Signer, KeyError> {
        let pkcs8 = master_key.open(&self.sealed_private_key, &Self::context(&self.kid))?;
        Ok(Signer { kid: self.kid.clone(), key: EncodingKey::from_ec_der(&pkcs8) })
    }

    /// The public half, ready to verify.
    pub fn verifier(&self) -> Result<DecodingKey, KeyError> {
        DecodingKey::from_ec_components(&self.public_x, &self.public_y)
            .map_err(|e| KeyError::Invalid(e.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub y: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
}

/// The keys to publish at `now`, newest first.
pub fn published(keys: &[SigningKey], now: OffsetDateTime) -> Vec<&SigningKey> {
    let mut keys: Vec<_> = keys.iter().filter(|k| k.published_until > now).collect();
    keys.sort_by_key(|k| std::cmp::Reverse(k.activates_at));
    keys
}

/// The key that signs at `now`: the newest active one that stays published longer than any
/// token it signs now can live.
pub fn current(keys: &[SigningKey], now: OffsetDateTime) -> Option<&SigningKey> {
    published(keys, now).into_iter().find(|k| {
        k.activates_at <= now && now + McpServerSettings::MAX_ACCESS_TOKEN_TTL < k.published_until
    })
}

/// When the next key must start signing, if it is time to create it: at once when no key
/// can sign now, else when the newest key stops signing, created [`PREPUBLISH`] ahead.
pub fn next_activation(keys: &[SigningKey], now: OffsetDateTime) -> Option<OffsetDateTime> {
    let Some(newest) = keys.iter().max_by_key(|k| k.activates_at) else { return Some(now) };
    if current(keys, now).is_none() {
        return Some(now);
    }
    let handover = newest.signs_until();
    (handover - PREPUBLISH <= now).then(|| handover.max(now))
}

/// An opened private key.
pub struct Signer {
    kid: String,
    key: EncodingKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Signer {
    /// A compact JWS of `claims` with header `typ` (`at+jwt` for access tokens, RFC 9068 §2.1).
    pub fn sign(&self, typ: &str, claims: &impl Serialize) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &self.key)
            .map_err(|e| KeyError::Invalid(e.to_string()))
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token was not signed by a published key")]
    UnknownKey,
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

/// Checks a token's signature against the published keys and its `iss`, `aud` (one of
/// `audiences`) and `exp` (with no leeway: our clocks are the ones that issued it) and `typ`
/// header.
pub fn verify<C: DeserializeOwned>(
    keys: &[SigningKey],
    token: &str,
    typ: &str,
    issuers: &[&str],
    audiences: &[&str],
    now: OffsetDateTime,
) -> Result<C, VerifyError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
    if header.alg != Algorithm::ES256 || header.typ.as_deref() != Some(typ) {
        return Err(VerifyError::Invalid(format!("expected an ES256 {typ}")));
    }
    let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid && k.published_until > now)
        .ok_or(VerifyError::UnknownKey)?;
    let decoding = key.verifier().map_err(|e| VerifyError::Invalid(e.to_string()))?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(issuers);
    validation.set_audience(audiences);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // jsonwebtoken reads the system clock; the injected clock is checked below instead.
    validation.validate_exp = false;
    validation.leeway = 0;
    let data = jsonwebtoken::decode::<serde_json::Value>(token, &decoding, &validation)
        .map_err(|e| VerifyError::Invalid(e.to_string()))?;
    let exp = data
        .claims
        .get("exp")
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| VerifyError::Invalid("exp is not a number".into()))?;
    if exp <= now.unix_timestamp() {
        return Err(VerifyError::Invalid("the token has expired".into()));
    }
    serde_json::from_value(data.claims).map_err(|e| VerifyError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    const DAY: i64 = 86_400;

    #[test]
    fn keys_rotate_with_prepublication_and_retention() {
        let master = MasterKey::generate();
        assert_eq!(next_activation(&[], at(0)), Some(at(0)), "the first key signs at once");
        let first = SigningKey::generate(&master, at(0), at(0)).unwrap();
        let mut keys = vec![first.clone()];
        assert_eq!(current(&keys, at(0)).unwrap().kid, first.kid);
        assert_eq!(next_activation(&keys, at(28 * DAY)), None, "not yet");
        // A day before the handover the next key is made, published but not signing.
        let handover = next_activation(&keys, at(29 * DAY)).unwrap();
        assert_eq!(handover, at(30 * DAY));
        let second = SigningKey::generate(&master, at(29 * DAY), handover).unwrap();
        keys.push(second.clone());
        assert_eq!(next_activation(&keys, at(29 * DAY)), None);
        assert_eq!(current(&keys, at(29 * DAY)).unwrap().kid, first.kid);
        assert_eq!(published(&keys, at(29 * DAY)).len(), 2);
        // Then it signs; the old one stays published two days for the tokens it signed.
        assert_eq!(current(&keys, at(30 * DAY)).unwrap().kid, second.kid);
        assert_eq!(published(&keys, at(31 * DAY)).len(), 2);
        let published_later: Vec<_> =
            published(&keys, at(32 * DAY)).into_iter().map(|k| &k.kid).collect();
        assert_eq!(published_later, [&second.kid]);
        // A key alone past its handover still signs while its tokens outlive nobody's view of
        // it, and not after.
        let alone = [first.clone()];
        assert_eq!(current(&alone, at(30 * DAY + 1)).unwrap().kid, first.kid);
        assert!(current(&alone, at(31 * DAY)).is_none());
        assert_eq!(next_activation(&alone, at(31 * DAY)), Some(at(31 * DAY)));
        // A platform that was down for months starts signing with a new key at once.
        assert_eq!(next_activation(&keys, at(200 * DAY)), Some(at(200 * DAY)));
    }

    #[test]
    fn tokens_verify_only_with_the_right_key_issuer_audience_type_and_time() {
        let master = MasterKey::generate();
        let key = SigningKey::generate(&master, at(0), at(0)).unwrap();
        let keys = vec![key.clone()];
        let signer = key.signer(&master).unwrap();
        let claims = json!({"iss": "https://a.example", "aud": "https://a.example/mcp", "sub": "u1", "exp": at(60).unix_timestamp()});
        let token = signer.sign("at+jwt", &claims).unwrap();
        let ok: Value = verify(
            &keys,
            &token,
            "at+jwt",
            &["https://a.example"],
            &["https://a.example/mcp"],
            at(1),
        )
        .unwrap();
        assert_eq!(ok["sub"], "u1");

        let check = |token: &str, typ, iss, aud, when| {
            verify::<Value>(&keys, token, typ, &[iss], &[aud], when).unwrap_err()
        };
        assert!(matches!(
            check(&token, "at+jwt", "https://b.example", "https://a.example/mcp", at(1)),
            VerifyError::Invalid(_)
        ));
        assert!(matches!(
            check(&token, "at+jwt", "https://a.example", "https://b.example/mcp", at(1)),
            VerifyError::Invalid(_)
        ));
        assert!(matches!(
            check(&token, "JWT", "https://a.example", "https://a.example/mcp", at(1)),
            VerifyError::Invalid(_)
        ));
        let expired = check(&token, "at+jwt", "https://a.example", "https://a.example/mcp", at(60));
        assert_eq!(expired, VerifyError::Invalid("the token has expired".into()));
        // A changed payload breaks the signature.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let forged = json!({"iss": "https://a.example", "aud": "https://a.example/mcp", "sub": "admin", "exp": at(60).unix_timestamp()});
        parts[1] = URL_SAFE_NO_PAD.encode(forged.to_string());
        assert!(matches!(
            check(&parts.join("."), "at+jwt", "https://a.example", "https://a.example/mcp", at(1)),
            VerifyError::Invalid(_)
        ));
        // Another platform's key, or garbage, is not ours.
        let stranger =
            SigningKey::generate(&master, at(0), at(0)).unwrap().signer(&master).unwrap();
        let foreign = stranger.sign("at+jwt", &claims).unwrap();
        assert_eq!(
            check(&foreign, "at+jwt", "https://a.example", "https://a.example/mcp", at(1)),
            VerifyError::UnknownKey
        );
        assert_eq!(
            check("not.a.jwt", "at+jwt", "https://a.example", "https://a.example/mcp", at(1)),
            VerifyError::Malformed
        );
    }

    #[test]
    fn the_jwk_is_a_p256_public_key_without_private_parts() {
        let master = MasterKey::generate();
        let key = SigningKey::generate(&master, at(0), at(0)).unwrap();
        let jwk = serde_json::to_value(key.jwk()).unwrap();
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap().len(), 32);
        assert!(jwk.get("d").is_none());
        // The private key is sealed for its own kid only.
        let mut other = key.clone();
        other.kid = "another".into();
        assert!(other.signer(&master).is_err());
    }
}
