//! Platform users: the people who log in to the dashboard. (End users of MCP servers are a
//! separate identity system and never share these types.)

use std::fmt;

use serde::Serialize;
use time::OffsetDateTime;

use crate::ValidationError;
use crate::crypto::TokenHash;
use crate::ids::{OrgId, SessionId, UserId};
use crate::org::parse_display_name;

/// An email address, trimmed and lowercased so that one mailbox is one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// RFC 5321 §4.5.3.1.3 limits a forward path to 256 octets including the angle brackets.
    pub const MAX_LEN: usize = 254;

    /// An address read back from storage. New input meets [`Self::parse`]; rows written under
    /// the earlier, looser rule (any local part without spaces or control characters) must
    /// still be readable, or their account could never log in again.
    pub fn from_stored(stored: &str) -> Result<Self, ValidationError> {
        let looks_like_one = stored.len() <= Self::MAX_LEN
            && stored
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
            && !stored.chars().any(|c| c.is_whitespace() || c.is_control());
        match Self::parse(stored) {
            Ok(email) => Ok(email),
            Err(_) if looks_like_one => Ok(Self(stored.to_owned())),
            Err(e) => Err(e),
        }
    }

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let email = input.trim().to_lowercase();
        let invalid =
            || ValidationError::new("email", "must be an email address like name@example.com");
        if email.len() > Self::MAX_LEN {
            return Err(ValidationError::new("email", "is too long"));
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.is_empty()
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && !domain.contains("..")
            && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        // RFC 5322 §3.4.1 dot-atom (letters may be any script, RFC 6531): what mail servers
        // accept without quoting, so a stored address can always be delivered to.
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        if !(domain_ok && local_ok) {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A name shown for a person: trimmed, 1 to 100 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        parse_display_name("display_name", input, 100).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password hash in PHC string format. Not a secret, but no business in logs either.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn from_phc(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([REDACTED])")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformUser {
    pub id: UserId,
    pub email: EmailAddress,
    pub display_name: DisplayName,
    /// Absent for accounts that only ever log in through an external provider.
    pub password_hash: Option<PasswordHash>,
    pub email_verified_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A dashboard account's sign-in with an outside provider: `provider` is `github`, `google`
/// or `oidc:{issuer}`, `subject` the provider's stable id for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    pub provider: String,
    pub subject: String,
    /// The address the provider vouched for at the last sign-in.
    pub email: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_login_at: OffsetDateTime,
}

impl LinkedIdentity {
    pub const MAX_SUBJECT_CHARS: usize = 255;

    /// A provider's id for a person as we can store and compare it: OpenID Connect Core §2
    /// caps `sub` at 255 ASCII characters; other providers' ids are held to the same.
    pub fn check_subject(subject: &str) -> Result<(), ValidationError> {
        if subject.is_empty() || subject.chars().count() > Self::MAX_SUBJECT_CHARS {
            return Err(ValidationError::new("subject", "must be 1 to 255 characters"));
        }
        if subject.chars().any(char::is_control) {
            return Err(ValidationError::new("subject", "must not contain control characters"));
        }
        Ok(())
    }
}

/// A dashboard login session. The cookie holds the secret; the store only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub token_hash: TokenHash,
    pub active_organization_id: Option<OrgId>,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl PlatformSession {
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_to_one_form() {
        assert_eq!(EmailAddress::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@@example.com",
            "a da@example.com",
            "ada@exa mple.com",
            "ada@.example.com",
            "ada@example..com",
            "a<b@example.com",
            "\"ada\"@example.com",
            ".ada@example.com",
            "ada.@example.com",
            "a..da@example.com",
            "ada\u{0}@example.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        for good in ["ada.lovelace+mcp@example.com", "o'brien@example.ie", "josé@exemple.fr"] {
            assert!(EmailAddress::parse(good).is_ok(), "{good:?} should be accepted");
        }
        // Stored under the earlier rule, still readable; never accepted as new input.
        assert!(EmailAddress::from_stored("a..da@example.com").is_ok());
        assert!(EmailAddress::from_stored("no-at-sign").is_err());
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(EmailAddress::parse(&long_local).is_err());
    }

    #[test]
    fn password_hash_debug_hides_the_hash() {
        let hash = PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$abc$def".into());
        assert!(!format!("{hash:?}").contains("argon2id"));
    }
}
