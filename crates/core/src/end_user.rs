//! End users: the people who sign in to an organization's MCP servers. They never meet
//! platform users (DESIGN.md "Security model"): other tables, cookies and tokens.

use serde_json::Value;
use time::OffsetDateTime;

use crate::ValidationError;
use crate::crypto::TokenHash;
use crate::ids::{AuthorizationRequestId, EndUserId, IdentityProviderId, McpServerId, OrgId};
use crate::org::parse_display_name;
use crate::user::{EmailAddress, LinkedIdentity};

/// The identity provider key of the built-in end-user login (`platform_oauth`); an
/// organization's provider is keyed by its id.
pub const PLATFORM_PROVIDER: &str = "platform";

#[derive(Debug, Clone, PartialEq)]
pub struct EndUser {
    pub id: EndUserId,
    pub organization_id: OrgId,
    pub email: Option<String>,
    /// Set when the provider vouched for the address (or the built-in login confirmed it).
    pub email_verified_at: Option<OffsetDateTime>,
    pub name: Option<String>,
    /// What the provider last said about them (ID token and userinfo claims).
    pub profile: Value,
    pub created_at: OffsetDateTime,
    pub last_login_at: OffsetDateTime,
}

impl EndUser {
    /// Who they are, as a person reads it: the address, else the name, else the id.
    pub fn display_name(&self) -> String {
        self.email.clone().or_else(|| self.name.clone()).unwrap_or_else(|| self.id.to_string())
    }

    /// Associated data binding a sealed upstream token (`kind`: `access`, `refresh`) to its end
    /// user and provider.
    pub fn upstream_token_context(
        end_user: EndUserId,
        provider: IdentityProviderId,
        kind: &str,
    ) -> Vec<u8> {
        format!("upstream_token.{kind}:{end_user}:{provider}").into_bytes()
    }
}

/// A sign-in as a provider reported it: who, by which provider, with what profile.
#[derive(Debug, Clone, PartialEq)]
pub struct EndUserLogin {
    /// [`PLATFORM_PROVIDER`] or an identity provider id.
    pub provider: String,
    /// The provider's stable id for the person.
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// What the provider said of the person (claims); `Null` when it said nothing, which
    /// keeps what was stored.
    pub profile: Value,
}

impl EndUserLogin {
    /// The longest name kept from a provider.
    pub const MAX_NAME_CHARS: usize = 200;

    /// A sign-in as we can store it, from what a provider said. The subject must be usable
    /// (1 to 255 characters, no control characters) or the sign-in is refused; an email that
    /// is not an address, or a name that cannot be shown, is dropped rather than stored.
    pub fn new(
        provider: String,
        subject: String,
        email: Option<String>,
        email_verified: bool,
        name: Option<String>,
        profile: Value,
    ) -> Result<Self, ValidationError> {
        LinkedIdentity::check_subject(&subject)?;
        let email = email.and_then(|e| EmailAddress::parse(&e).ok()).map(|e| e.as_str().to_owned());
        let name = name.and_then(|n| parse_display_name("name", &n, Self::MAX_NAME_CHARS).ok());
        Ok(Self {
            provider,
            subject,
            email_verified: email_verified && email.is_some(),
            email,
            name,
            profile,
        })
    }
}

/// How long an emailed sign-in code of the built-in login can be used.
pub const LOGIN_CODE_TTL: time::Duration = time::Duration::minutes(10);
/// Wrong guesses allowed per code before it is void (a million codes, five guesses).
pub const LOGIN_CODE_ATTEMPTS: i64 = 5;
/// Digits in an emailed sign-in code.
pub const LOGIN_CODE_DIGITS: u32 = 6;

/// A one-time code mailed to confirm an address in the built-in (`platform_oauth`) login. One
/// per authorization request: asking again replaces it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginCode {
    pub authorization_request_id: AuthorizationRequestId,
    pub mcp_server_id: McpServerId,
    /// Lowercased.
    pub email: String,
    pub code_hash: TokenHash,
    pub attempts_left: i64,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl LoginCode {
    /// A fresh random code to mail, and what is stored of it.
    pub fn generate(
        request: AuthorizationRequestId,
        server: McpServerId,
        email: &str,
        now: OffsetDateTime,
    ) -> (String, Self) {
        use rand::Rng as _;
        let code = format!(
            "{:0width$}",
            rand::rngs::OsRng.gen_range(0..10u32.pow(LOGIN_CODE_DIGITS)),
            width = LOGIN_CODE_DIGITS as usize
        );
        let stored = Self {
            authorization_request_id: request,
            mcp_server_id: server,
            email: email.to_lowercase(),
            code_hash: Self::hash(request, &code),
            attempts_left: LOGIN_CODE_ATTEMPTS,
            created_at: now,
            expires_at: now + LOGIN_CODE_TTL,
        };
        (code, stored)
    }

    /// Salted with the request, so one table of the million codes' hashes does not fit all.
    fn hash(request: AuthorizationRequestId, code: &str) -> TokenHash {
        TokenHash::of(&Self::salted(request, code))
    }

    fn salted(request: AuthorizationRequestId, code: &str) -> String {
        format!("{request}:{code}")
    }

    /// Whether `typed` is this code (spaces and dashes people add are ignored).
    pub fn matches(&self, typed: &str) -> bool {
        let typed: String = typed.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        self.code_hash.matches(&Self::salted(self.authorization_request_id, &typed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_keeps_only_what_can_be_stored_and_shown() {
        let login = |subject: &str, email: &str, name: &str| {
            EndUserLogin::new(
                "p".into(),
                subject.into(),
                Some(email.into()),
                true,
                Some(name.into()),
                serde_json::json!({}),
            )
        };
        let ok = login("user-1", " Ada@Example.com ", " Ada ").unwrap();
        assert_eq!((ok.email.as_deref(), ok.email_verified), (Some("ada@example.com"), true));
        assert_eq!(ok.name.as_deref(), Some("Ada"));
        let odd = login("user-1", "not an address", "A\u{0}da").unwrap();
        assert_eq!((odd.email, odd.email_verified, odd.name), (None, false, None));
        assert!(login("", "a@b.co", "A").is_err());
        assert!(login("a\u{0}b", "a@b.co", "A").is_err());
        assert!(login(&"x".repeat(256), "a@b.co", "A").is_err());
    }

    #[test]
    fn a_login_code_is_six_digits_and_matches_only_itself() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let request = AuthorizationRequestId::new();
        let (code, stored) =
            LoginCode::generate(request, McpServerId::new(), "Ada@Example.com", now);
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(stored.email, "ada@example.com");
        assert!(stored.matches(&code));
        assert!(stored.matches(&format!(" {}-{} ", &code[..3], &code[3..])));
        let other = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert!(!stored.matches(&other));
        assert!(!stored.matches(""));
        // The hash is salted with the request: the same digits for another request do not match.
        let moved =
            LoginCode { authorization_request_id: AuthorizationRequestId::new(), ..stored.clone() };
        assert!(!moved.matches(&code));
        assert_eq!(stored.expires_at - stored.created_at, LOGIN_CODE_TTL);
    }
}
