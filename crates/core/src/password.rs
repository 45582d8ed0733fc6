//! Dashboard passwords: the policy a new password must meet, and argon2id hashing.
//!
//! Hashing is deliberately slow (tens of milliseconds); async callers run it on a blocking thread.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

use crate::ValidationError;
use crate::user::{EmailAddress, PasswordHash};

/// NIST SP 800-63B §5.1.1.2: length is what matters; composition rules are not imposed.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Bounds the work an attacker can make us do per login attempt.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks a proposed password against the policy.
pub fn check_policy(password: &SecretString, email: &EmailAddress) -> Result<(), ValidationError> {
    let password = password.expose_secret();
    let err = |message: &str| Err(ValidationError::new("password", message));
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return err("must be at least 10 characters long");
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return err("must be at most 1024 bytes long");
    }
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return err("must not repeat a single character");
    }
    let lowered = password.to_lowercase();
    if lowered == email.as_str() || email.as_str().split('@').next() == Some(lowered.as_str()) {
        return err("must not be your email address");
    }
    if COMMON_PASSWORDS.contains(&lowered.as_str()) {
        return err("is too common: choose another");
    }
    Ok(())
}

/// A few of the most breached passwords of policy length (from public breach corpora).
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "12345678910",
    "0987654321",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "qwertyuiop",
    "password1!",
    "password12",
    "password123",
    "passw0rd123",
    "iloveyou12",
    "abcdefghij",
    "abc1234567",
    "qwerty1234",
    "qwerty12345",
    "letmein123",
    "welcome123",
    "administrator",
    "changeme123",
    "football12",
    "baseball12",
    "superman12",
    "princess12",
    "sunshine12",
];

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes a password into a PHC string with a fresh random salt.
pub fn hash_password(password: &SecretString) -> Result<PasswordHash, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|hash| PasswordHash::from_phc(hash.to_string()))
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches `hash`. Without a hash (an unknown account, or one that only logs
/// in through an external provider) a dummy hash is checked anyway, so the answer takes the
/// same time either way and response timing does not reveal which accounts exist.
pub fn verify_password(password: &SecretString, hash: Option<&PasswordHash>) -> bool {
    let candidate = password.expose_secret().as_bytes();
    if candidate.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let Some(hash) = hash else {
        let _ = verify_against(candidate, dummy_hash());
        return false;
    };
    verify_against(candidate, hash.as_phc())
}

fn verify_against(candidate: &[u8], phc: &str) -> bool {
    argon2::PasswordHash::new(phc)
        .map(|parsed| argon2().verify_password(candidate, &parsed).is_ok())
        .unwrap_or(false)
}

/// An argon2id hash of a random password nobody knows, with the production parameters.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        let unguessable = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(unguessable.as_str().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    fn email() -> EmailAddress {
        EmailAddress::parse("ada@example.com").unwrap()
    }

    #[test]
    fn hashes_verify_only_the_right_password() {
        let hash = hash_password(&secret("correct horse battery")).unwrap();
        assert!(hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(&secret("correct horse battery"), Some(&hash)));
        assert!(!verify_password(&secret("correct horse batterY"), Some(&hash)));
        assert!(!verify_password(&secret("correct horse battery"), None));
    }

    #[test]
    fn the_same_password_hashes_differently_each_time() {
        let a = hash_password(&secret("correct horse battery")).unwrap();
        let b = hash_password(&secret("correct horse battery")).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_damaged_hash_never_verifies() {
        let broken = PasswordHash::from_phc("$argon2id$garbage".into());
        assert!(!verify_password(&secret("anything at all"), Some(&broken)));
    }

    #[test]
    fn the_policy_explains_what_is_wrong() {
        let cases = [
            ("short", "at least 10"),
            ("aaaaaaaaaaaa", "single character"),
            ("ada@example.com", "email"),
            ("Password123", "too common"),
        ];
        for (password, expected) in cases {
            let err = check_policy(&secret(password), &email()).unwrap_err();
            assert_eq!(err.field, "password");
            assert!(err.message.contains(expected), "{password}: {}", err.message);
        }
        assert!(check_policy(&secret(&"x".repeat(2000)), &email()).is_err());
        assert!(check_policy(&secret("correct horse battery"), &email()).is_ok());
    }
}
