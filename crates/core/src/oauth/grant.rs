//! The authorization code grant with PKCE (OAuth 2.1 §4.1, RFC 7636) and refresh tokens
//! (§4.3): requested scopes and resources, pending requests, codes, token families and the
//! access token's claims (RFC 9068).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{DEFAULT_SCOPE, SCOPES_SUPPORTED};
use crate::crypto::{TokenHash, constant_time_eq};
use crate::ids::{AuthorizationRequestId, EndUserId, McpServerId, OrgId, TokenFamilyId};

pub const AUTHORIZATION_CODE_PREFIX: &str = "mcp_ac_";
pub const REFRESH_TOKEN_PREFIX: &str = "mcp_rt_";

/// How long a person has between `/oauth/authorize` and finishing consent and login.
pub const AUTHORIZATION_REQUEST_TTL: Duration = Duration::from_secs(15 * 60);
/// Codes are short-lived (OAuth 2.1 §4.1.2 recommends at most 10 minutes).
pub const AUTHORIZATION_CODE_TTL: Duration = Duration::from_secs(5 * 60);

/// The JWT `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// A space-separated scope list (RFC 6749 §3.3), every scope one this server knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// The requested scopes, or [`DEFAULT_SCOPE`] when none are asked for. `Err` names the
    /// first unknown scope (RFC 6749 §4.1.2.1 `invalid_scope`).
    pub fn parse(requested: Option<&str>) -> Result<Self, String> {
        let mut scopes: Vec<String> = Vec::new();
        for scope in requested.unwrap_or_default().split(' ').filter(|s| !s.is_empty()) {
            if !SCOPES_SUPPORTED.contains(&scope) {
                return Err(format!("{scope:?} is not a scope of this server"));
            }
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
        if scopes.is_empty() {
            scopes.push(DEFAULT_SCOPE.to_owned());
        }
        Ok(Self(scopes))
    }

    /// The scopes a client asks for, within those it registered (RFC 7591 §2 `scope`), which
    /// are also its default; without a registration, [`Self::parse`].
    pub fn for_client(requested: Option<&str>, registered: Option<&str>) -> Result<Self, String> {
        let Some(registered) = registered.map(Self::from_stored).filter(|r| !r.0.is_empty()) else {
            return Self::parse(requested);
        };
        if requested.is_none_or(|r| r.trim().is_empty()) {
            return Ok(registered);
        }
        let scopes = Self::parse(requested)?;
        if let Some(outside) = scopes.iter().find(|s| !registered.contains(s)) {
            return Err(format!("{outside:?} is not a scope this client registered"));
        }
        Ok(scopes)
    }

    /// Scopes already stored (trusted).
    pub fn from_stored(text: &str) -> Self {
        Self(text.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect())
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    /// Whether every scope of `self` is in `other` (a refresh may narrow, never widen, §6).
    pub fn is_subset_of(&self, other: &Scopes) -> bool {
        self.0.iter().all(|s| other.contains(s))
    }

    /// Every scope of either, `self`'s first.
    pub fn union(&self, other: &Scopes) -> Scopes {
        let mut all = self.0.clone();
        all.extend(other.0.iter().filter(|s| !self.contains(s)).cloned());
        Scopes(all)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// What a scope lets a client do, in words for the consent page.
pub fn describe_scope(scope: &str) -> &'static str {
    match scope {
        "mcp" => "Use this MCP server's tools and resources as you",
        "openid" => "Know who you are",
        "profile" => "See your name",
        "email" => "See your email address",
        "offline_access" => "Stay connected when you are not using it",
        _ => "An unknown permission",
    }
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn is_pkce_string(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks an authorization request's PKCE parameters: S256 only (OAuth 2.1 §4.1.1 and the
/// MCP authorization spec), so `plain` and a missing challenge are refused.
pub fn check_code_challenge(challenge: Option<&str>, method: Option<&str>) -> Result<(), String> {
    let challenge = challenge.ok_or("code_challenge is required (PKCE with S256)")?;
    match method {
        Some("S256") => {}
        None => return Err("code_challenge_method is required and must be S256".into()),
        Some(other) => {
            return Err(format!("code_challenge_method {other:?} is not supported: use S256"));
        }
    }
    // A SHA-256 digest in unpadded base64url is exactly 43 characters.
    if challenge.len() != 43 || !is_pkce_string(challenge) {
        return Err("code_challenge must be the base64url SHA-256 of the code verifier".into());
    }
    Ok(())
}

/// RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) == code_challenge.
pub fn verify_code_verifier(challenge: &str, verifier: &str) -> bool {
    if !is_pkce_string(verifier) {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

/// An authorization request that passed its checks, waiting for consent and login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub id: AuthorizationRequestId,
    pub organization_id: OrgId,
    pub mcp_server_id: McpServerId,
    /// The issuer the request came through (RFC 9207 `iss` of the answer; `iss` of tokens).
    pub issuer: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether the request named its redirect URI (then the token request must repeat it).
    pub redirect_uri_given: bool,
    pub scopes: Scopes,
    /// The MCP endpoint the tokens are for (RFC 8707), the token's `aud`.
    pub resource: String,
    /// The client's `state`, returned as it came.
    pub state: Option<String>,
    pub code_challenge: String,
    /// SHA-256 of the secret in the browser's cookie: only that browser may approve or finish.
    pub browser_hash: TokenHash,
    /// Who signed in, once someone did.
    pub end_user_id: Option<EndUserId>,
    /// SHA-256 of the one-time secret in the link that brings the browser back from signing
    /// in: the browser cookie alone would let an attacker finish a victim's sign-in begun from
    /// the attacker's request.
    pub handoff_hash: Option<TokenHash>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// An issued authorization code (stored by its hash), with everything the token request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub code_hash: TokenHash,
    pub organization_id: OrgId,
    pub mcp_server_id: McpServerId,
    pub issuer: String,
    pub client_id: String,
    pub end_user_id: EndUserId,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub scopes: Scopes,
    pub resource: String,
    pub code_challenge: String,
    /// The family its exchange starts, so that a replayed code can revoke what it issued.
    pub family_id: TokenFamilyId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// One authorization's tokens: issued from one code, refreshed in a chain, revoked together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFamily {
    pub id: TokenFamilyId,
    pub organization_id: OrgId,
    pub mcp_server_id: McpServerId,
    pub issuer: String,
    pub client_id: String,
    pub end_user_id: EndUserId,
    pub scopes: Scopes,
    pub resource: String,
    pub created_at: OffsetDateTime,
    /// The last token request of the family (its creation or a refresh).
    pub last_used_at: OffsetDateTime,
    /// When its newest refresh token expires (or its access token, without one).
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A refresh token, stored by its hash. Rotated on every use (OAuth 2.1 §4.3.1); a rotated
/// one presented again means it leaked, and its whole family is revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: TokenHash,
    pub family_id: TokenFamilyId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub rotated_at: Option<OffsetDateTime>,
}

/// RFC 9068 §2.2 access token claims, plus `sid`: the token family, which introspection
/// checks for revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub sid: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_default_to_mcp_and_unknown_ones_are_named() {
        assert_eq!(Scopes::parse(None).unwrap().to_string(), "mcp");
        assert_eq!(Scopes::parse(Some("  ")).unwrap().to_string(), "mcp");
        assert_eq!(Scopes::parse(Some("mcp email mcp")).unwrap().to_string(), "mcp email");
        assert!(Scopes::parse(Some("mcp admin")).unwrap_err().contains("\"admin\""));
        let narrow = Scopes::parse(Some("mcp")).unwrap();
        assert!(narrow.is_subset_of(&Scopes::parse(Some("mcp email")).unwrap()));
        assert!(!Scopes::parse(Some("email")).unwrap().is_subset_of(&narrow));
        let registered = Some("mcp email");
        assert_eq!(Scopes::for_client(None, registered).unwrap().to_string(), "mcp email");
        assert_eq!(Scopes::for_client(Some("email"), registered).unwrap().to_string(), "email");
        assert!(
            Scopes::for_client(Some("mcp profile"), registered).unwrap_err().contains("profile")
        );
        assert_eq!(Scopes::for_client(None, None).unwrap().to_string(), "mcp");
        let wide = narrow.union(&Scopes::parse(Some("email mcp")).unwrap());
        assert_eq!(wide.to_string(), "mcp email");
    }

    #[test]
    fn pkce_is_s256_only_and_the_verifier_must_match() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(check_code_challenge(Some(challenge), Some("S256")).is_ok());
        assert!(check_code_challenge(None, Some("S256")).unwrap_err().contains("required"));
        assert!(
            check_code_challenge(Some(challenge), Some("plain")).unwrap_err().contains("plain")
        );
        assert!(check_code_challenge(Some(challenge), None).is_err(), "plain by default");
        assert!(check_code_challenge(Some("short"), Some("S256")).is_err());
        assert!(verify_code_verifier(challenge, verifier));
        assert!(!verify_code_verifier(challenge, &verifier.replace('d', "e")));
        assert!(!verify_code_verifier(challenge, "short"), "too short to be a verifier");
    }
}
