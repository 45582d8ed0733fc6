//! Secrets: the master key that encrypts secrets at rest, and random bearer tokens that are
//! stored only as hashes.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};

/// Version byte in front of every sealed value, so the format can change without guessing.
const SEALED_V1: u8 = 1;
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("master key must be 32 bytes encoded as base64")]
    InvalidMasterKey,
    /// The value was not sealed by this key, was sealed for other associated data, or was
    /// tampered with. Deliberately says no more than that.
    #[error("sealed value cannot be opened with this key")]
    Unseal,
}

/// The 256-bit key that encrypts secrets at rest (XChaCha20-Poly1305).
pub struct MasterKey(SecretBox<[u8; 32]>);

impl MasterKey {
    pub fn generate() -> Self {
        let mut bytes = Box::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        Self(SecretBox::new(bytes))
    }

    pub fn from_base64(encoded: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD.decode(encoded.trim()).map_err(|_| CryptoError::InvalidMasterKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::InvalidMasterKey)?;
        Ok(Self(SecretBox::new(Box::new(bytes))))
    }

    /// The key in its storage form; handle the result as the secret it is.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(STANDARD.encode(self.0.expose_secret()))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(self.0.expose_secret()))
    }

    /// Encrypts `plaintext`, binding it to `context` (for example `"idp_client_secret:{id}"`)
    /// so a sealed value copied into another row does not open there.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload { msg: plaintext, aad: context };
        // Encryption with a valid key and an in-memory buffer cannot fail.
        let ciphertext = self.cipher().encrypt(&nonce, payload).unwrap_or_default();
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(SEALED_V1);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let Some((&SEALED_V1, rest)) = sealed.split_first() else {
            return Err(CryptoError::Unseal);
        };
        if rest.len() < NONCE_LEN {
            return Err(CryptoError::Unseal);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: context })
            .map_err(|_| CryptoError::Unseal)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

/// The SHA-256 of a bearer secret, the only form in which such secrets are stored. Looking a
/// token up by its hash means comparing hashes, never the secret itself.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `secret` hashes to this, compared in constant time.
    pub fn matches(&self, secret: &str) -> bool {
        use subtle::ConstantTimeEq;
        Self::of(secret).0.ct_eq(&self.0).into()
    }

    /// The stored form back: 64 lowercase hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks(2)) {
            *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", self.to_hex())
    }
}

/// A freshly minted bearer secret: `{prefix}{43 base64url chars}` carrying 256 random bits.
/// The prefix makes a leaked secret recognisable (`mcp_rt_`, `mcpk_`, …).
pub struct NewSecretToken {
    pub secret: SecretString,
    pub hash: TokenHash,
}

impl NewSecretToken {
    pub fn generate(prefix: &str) -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let secret = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
        let hash = TokenHash::of(&secret);
        Self { secret: SecretString::from(secret), hash }
    }
}

/// The anti-CSRF token that goes with a cookie secret (a session token, or the anonymous
/// pre-login cookie). A cross-site page cannot read the cookie, so it cannot compute the token
/// (OWASP CSRF cheat sheet: synchronizer token, derived instead of stored).
pub fn csrf_token_for(cookie_secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"mcplatform-csrf\0");
    hasher.update(cookie_secret.as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_stable_per_secret_and_differ_between_secrets() {
        assert_eq!(csrf_token_for("mcps_a"), csrf_token_for("mcps_a"));
        assert_ne!(csrf_token_for("mcps_a"), csrf_token_for("mcps_b"));
        assert!(!csrf_token_for("mcps_a").contains("mcps_a"));
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn sealed_values_open_with_the_same_key_and_context() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"client-secret", b"idp:1");
        assert_eq!(key.open(&sealed, b"idp:1").unwrap(), b"client-secret");
    }

    #[test]
    fn sealed_values_do_not_open_in_another_context_or_with_another_key() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"client-secret", b"idp:1");
        assert_eq!(key.open(&sealed, b"idp:2"), Err(CryptoError::Unseal));
        assert_eq!(MasterKey::generate().open(&sealed, b"idp:1"), Err(CryptoError::Unseal));
    }

    #[test]
    fn tampered_or_truncated_values_do_not_open() {
        let key = MasterKey::generate();
        let mut sealed = key.seal(b"secret", b"");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(key.open(&sealed, b""), Err(CryptoError::Unseal));
        assert_eq!(key.open(&sealed[..10], b""), Err(CryptoError::Unseal));
        assert_eq!(key.open(&[], b""), Err(CryptoError::Unseal));
    }

    #[test]
    fn master_key_survives_its_base64_form() {
        let key = MasterKey::generate();
        let restored = MasterKey::from_base64(key.to_base64().expose_secret()).unwrap();
        let sealed = key.seal(b"x", b"ctx");
        assert_eq!(restored.open(&sealed, b"ctx").unwrap(), b"x");
    }

    #[test]
    fn master_key_rejects_wrong_lengths_and_garbage() {
        assert_eq!(MasterKey::from_base64("c2hvcnQ=").unwrap_err(), CryptoError::InvalidMasterKey);
        assert_eq!(MasterKey::from_base64("!!!").unwrap_err(), CryptoError::InvalidMasterKey);
    }

    #[test]
    fn master_key_debug_does_not_print_the_key() {
        let key = MasterKey::generate();
        let printed = format!("{key:?}");
        assert!(!printed.contains(key.to_base64().expose_secret()));
    }

    #[test]
    fn new_tokens_carry_their_prefix_and_hash_to_their_stored_form() {
        let token = NewSecretToken::generate("mcpk_");
        let secret = token.secret.expose_secret();
        assert!(secret.starts_with("mcpk_"));
        assert_eq!(secret.len(), "mcpk_".len() + 43);
        assert_eq!(TokenHash::of(secret), token.hash);
        assert_ne!(NewSecretToken::generate("mcpk_").hash, token.hash);
        assert!(token.hash.matches(secret) && !token.hash.matches("mcpk_other"));
        assert_eq!(TokenHash::from_hex(&token.hash.to_hex()), Some(token.hash));
        assert_eq!(TokenHash::from_hex("zz"), None);
        assert_eq!(TokenHash::from_hex(&"g".repeat(64)), None);
    }
}
