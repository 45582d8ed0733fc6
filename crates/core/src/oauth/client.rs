//! OAuth clients of a hosted server: what a client registered (RFC 7591 §2 metadata), checked
//! as a whole, and how an authorization request's `redirect_uri` is matched against it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::{Host, Url};

use super::grant::Scopes;
use crate::ValidationError;
use crate::crypto::TokenHash;
use crate::ids::{McpServerId, OrgId};
use crate::org::parse_display_name;

/// Prefixes that make a leaked id or secret recognisable (DESIGN.md "Tokens").
pub const CLIENT_ID_PREFIX: &str = "mcp_client_";
pub const CLIENT_SECRET_PREFIX: &str = "mcp_secret_";

/// At most this many redirect URIs per client.
const MAX_REDIRECT_URIS: usize = 20;
/// The longest URL accepted in metadata.
pub(crate) const MAX_URL_LEN: usize = 2000;

/// How a client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// A public client (an editor on someone's machine): no secret, PKCE alone.
    None,
    ClientSecretBasic,
    ClientSecretPost,
}

impl TokenEndpointAuthMethod {
    pub const ALL: [Self; 3] = [Self::None, Self::ClientSecretBasic, Self::ClientSecretPost];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }

    pub const fn is_confidential(self) -> bool {
        !matches!(self, Self::None)
    }
}

impl FromStr for TokenEndpointAuthMethod {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| {
            ValidationError::new(
                "token_endpoint_auth_method",
                format!("{s:?} is not one of none, client_secret_basic, client_secret_post"),
            )
        })
    }
}

/// OpenID Connect Dynamic Client Registration §2 `application_type`, which the MCP
/// authorization spec (2026-07-28) asks clients to send: `native` for loopback redirects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApplicationType {
    Web,
    Native,
}

impl ApplicationType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Native => "native",
        }
    }
}

impl FromStr for ApplicationType {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "web" => Ok(Self::Web),
            "native" => Ok(Self::Native),
            other => Err(ValidationError::new(
                "application_type",
                format!("{other:?} is not one of web, native"),
            )),
        }
    }
}

/// How a client came to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RegistrationKind {
    /// Registered itself at `/oauth/register` (RFC 7591).
    Dynamic,
    /// Created by the organization from the dashboard or the API.
    Preregistered,
    /// Not registered: its `client_id` is the URL of its metadata document, fetched when used.
    MetadataDocument,
}

impl RegistrationKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Dynamic => "dynamic",
            Self::Preregistered => "preregistered",
            Self::MetadataDocument => "metadata_document",
        }
    }
}

impl FromStr for RegistrationKind {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dynamic" => Ok(Self::Dynamic),
            "preregistered" => Ok(Self::Preregistered),
            "metadata_document" => Ok(Self::MetadataDocument),
            other => Err(ValidationError::new("kind", format!("unknown registration {other:?}"))),
        }
    }
}

/// RFC 7591 §2 client metadata as a client sends it: every field optional, unknown fields
/// ignored (§3.1: the server ignores what it does not understand).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ClientMetadataInput {
    pub redirect_uris: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub scope: Option<String>,
    pub contacts: Option<Vec<String>>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    pub application_type: Option<String>,
}

/// A client's metadata, validated: what the server registered (RFC 7591 §3.2.1 lets it fill
/// in defaults), and what it returns in the registration response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// As registered, character for character: matching is exact (OAuth 2.1 §2.3.1).
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub scope: Option<String>,
    pub contacts: Vec<String>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    pub application_type: ApplicationType,
}

const GRANT_TYPES: [&str; 2] = ["authorization_code", "refresh_token"];

impl ClientMetadata {
    /// Checks what a client asked to register. The errors name the field, which RFC 7591 §3.2.2
    /// reports as `invalid_redirect_uri` or `invalid_client_metadata`.
    pub fn validate(input: ClientMetadataInput) -> Result<Self, ValidationError> {
        let redirect_uris = input.redirect_uris.unwrap_or_default();
        if redirect_uris.is_empty() {
            return Err(ValidationError::new(
                "redirect_uris",
                "at least one redirect URI is required for the authorization code flow",
            ));
        }
        if redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(ValidationError::new(
                "redirect_uris",
                format!("at most {MAX_REDIRECT_URIS} redirect URIs"),
            ));
        }
        let mut native = false;
        for uri in &redirect_uris {
            native |= check_redirect_uri(uri)? != RedirectKind::Https;
        }
        let token_endpoint_auth_method = match input.token_endpoint_auth_method.as_deref() {
            // RFC 7591 §2: the default is client_secret_basic.
            None => TokenEndpointAuthMethod::ClientSecretBasic,
            Some(method) => method.parse()?,
        };
        let grant_types = match input.grant_types {
            Some(grants) if !grants.is_empty() => grants,
            // Every client may refresh: the MCP clients that omit this still expect to.
            _ => GRANT_TYPES.iter().map(|g| (*g).to_owned()).collect(),
        };
        if let Some(grant) = grant_types.iter().find(|g| !GRANT_TYPES.contains(&g.as_str())) {
            return Err(ValidationError::new(
                "grant_types",
                format!("{grant:?} is not supported: only authorization_code and refresh_token"),
            ));
        }
        if !grant_types.iter().any(|g| g == "authorization_code") {
            return Err(ValidationError::new("grant_types", "must include authorization_code"));
        }
        let response_types = match input.response_types {
            Some(types) if !types.is_empty() => types,
            _ => vec!["code".to_owned()],
        };
        if response_types.iter().any(|t| t != "code") {
            return Err(ValidationError::new("response_types", "only \"code\" is supported"));
        }
        let scope = match input.scope.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(scope) => Some(
                Scopes::parse(Some(scope))
                    .map_err(|e| ValidationError::new("scope", e))?
                    .to_string(),
            ),
        };
        let application_type = match input.application_type.as_deref() {
            Some(kind) => kind.parse()?,
            // Loopback and app-scheme redirects are what native apps use (RFC 8252 §7).
            None if native => ApplicationType::Native,
            None => ApplicationType::Web,
        };
        let contacts = input.contacts.unwrap_or_default();
        if contacts.len() > 10 || contacts.iter().any(|c| c.len() > 320 || c.trim().is_empty()) {
            return Err(ValidationError::new("contacts", "at most 10 addresses"));
        }
        Ok(Self {
            redirect_uris,
            token_endpoint_auth_method,
            grant_types,
            response_types,
            client_name: optional_text("client_name", input.client_name, 200)?,
            client_uri: optional_web_url("client_uri", input.client_uri)?,
            logo_uri: optional_web_url("logo_uri", input.logo_uri)?,
            scope,
            contacts,
            tos_uri: optional_web_url("tos_uri", input.tos_uri)?,
            policy_uri: optional_web_url("policy_uri", input.policy_uri)?,
            software_id: optional_text("software_id", input.software_id, 200)?,
            software_version: optional_text("software_version", input.software_version, 100)?,
            application_type,
        })
    }

    /// The name to show a person: the client's own, or the host of its first redirect URI.
    pub fn display_name(&self) -> String {
        self.client_name.clone().unwrap_or_else(|| {
            self.redirect_uris
                .first()
                .and_then(|uri| Url::parse(uri).ok())
                .and_then(|url| url.host_str().map(str::to_owned))
                .unwrap_or_else(|| "An unnamed application".to_owned())
        })
    }

    /// Whether every redirect URI is loopback HTTP (RFC 8252 §7.3): an app on the person's
    /// own machine, which the consent page says so of.
    pub fn loopback_only(&self) -> bool {
        self.redirect_uris.iter().all(|uri| Url::parse(uri).is_ok_and(|url| is_loopback_http(&url)))
    }

    /// Where the client's redirects go, as a person reads them: each distinct host (or
    /// `scheme:` of an app's own scheme), in registration order.
    pub fn redirect_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = Vec::new();
        for host in self.redirect_uris.iter().filter_map(|uri| redirect_host(uri)) {
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        hosts
    }

    pub fn allows_refresh(&self) -> bool {
        self.grant_types.iter().any(|g| g == "refresh_token")
    }

    /// The registered redirect URI `requested` matches (OAuth 2.1 §4.1.1): character for
    /// character, except that a loopback redirect may name any port (RFC 8252 §7.3). Without
    /// a `redirect_uri`, the only registered one, if there is exactly one.
    pub fn match_redirect_uri(&self, requested: Option<&str>) -> Option<String> {
        let Some(requested) = requested else {
            return match self.redirect_uris.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            };
        };
        if self.redirect_uris.iter().any(|registered| registered == requested) {
            return Some(requested.to_owned());
        }
        let requested_url = Url::parse(requested).ok()?;
        if !is_loopback_http(&requested_url) {
            return None;
        }
        let same_but_port = |registered: &String| {
            Url::parse(registered).ok().is_some_and(|mut registered| {
                is_loopback_http(&registered)
                    && registered.set_port(requested_url.port()).is_ok()
                    && registered == requested_url
            })
        };
        self.redirect_uris.iter().any(same_but_port).then(|| requested.to_owned())
    }
}

/// The host a redirect URI sends the browser to, or `scheme:` for an app's own scheme.
pub fn redirect_host(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    Some(url.host_str().map_or_else(|| format!("{}:", url.scheme()), str::to_owned))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RedirectKind {
    Https,
    Loopback,
    /// A private-use scheme (`cursor://…`, RFC 8252 §7.1).
    AppScheme,
}

/// Schemes that must never receive a code: they run or read something instead of reaching an app.
const FORBIDDEN_SCHEMES: [&str; 7] =
    ["javascript", "data", "file", "vbscript", "about", "blob", "ftp"];

/// A redirect URI must be absolute and fragment-free (RFC 6749 §3.1.2), and HTTPS, loopback
/// HTTP, or an app's private-use scheme (OAuth 2.1 §2.3.1 with RFC 8252 §7).
fn check_redirect_uri(uri: &str) -> Result<RedirectKind, ValidationError> {
    let err = |message: String| Err(ValidationError::new("redirect_uris", message));
    if uri.len() > MAX_URL_LEN {
        return err(format!("a redirect URI must be at most {MAX_URL_LEN} characters"));
    }
    let Ok(url) = Url::parse(uri) else {
        return err(format!("{uri:?} is not an absolute URL"));
    };
    if url.fragment().is_some() {
        return err(format!("{uri:?} must not have a fragment"));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(RedirectKind::Https),
        "http" if is_loopback_http(&url) => Ok(RedirectKind::Loopback),
        "http" | "https" => err(format!(
            "{uri:?} must use https (plain http only on localhost or a loopback address)"
        )),
        scheme if FORBIDDEN_SCHEMES.contains(&scheme) => {
            err(format!("{uri:?}: the {scheme} scheme cannot be a redirect URI"))
        }
        _ => Ok(RedirectKind::AppScheme),
    }
}

fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

fn optional_text(
    field: &'static str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, ValidationError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => parse_display_name(field, text, max).map(Some),
    }
}

/// An informational URL (home page, logo, terms): http(s) only, never shown as a link otherwise.
fn optional_web_url(
    field: &'static str,
    value: Option<String>,
) -> Result<Option<String>, ValidationError> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    match Url::parse(value.trim()) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && value.len() <= MAX_URL_LEN => {
            Ok(Some(url.to_string()))
        }
        _ => Err(ValidationError::new(field, "must be an http(s) URL")),
    }
}

/// A registered client of one hosted server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// `mcp_client_…`, unique across the platform.
    pub client_id: String,
    pub organization_id: OrgId,
    pub mcp_server_id: McpServerId,
    /// Confidential clients only; the secret itself was shown once.
    pub secret_hash: Option<TokenHash>,
    pub metadata: ClientMetadata,
    pub kind: RegistrationKind,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

impl fmt::Display for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.metadata.display_name(), self.client_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(redirects: &[&str]) -> ClientMetadataInput {
        ClientMetadataInput {
            redirect_uris: Some(redirects.iter().map(|r| (*r).to_owned()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn registration_fills_in_the_defaults_of_rfc_7591() {
        let metadata = ClientMetadata::validate(input(&["https://app.example/cb"])).unwrap();
        assert_eq!(metadata.token_endpoint_auth_method, TokenEndpointAuthMethod::ClientSecretBasic);
        assert_eq!(metadata.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(metadata.response_types, ["code"]);
        assert_eq!(metadata.application_type, ApplicationType::Web);
        assert_eq!(metadata.display_name(), "app.example");
        let native = ClientMetadata::validate(input(&["http://127.0.0.1:9000/cb"])).unwrap();
        assert_eq!(native.application_type, ApplicationType::Native);
        assert!(native.loopback_only() && !metadata.loopback_only());
    }

    #[test]
    fn unsafe_redirect_uris_are_refused_with_the_reason() {
        for (uri, reason) in [
            ("http://app.example/cb", "must use https"),
            ("https://app.example/cb#x", "fragment"),
            ("/relative", "absolute"),
            ("javascript:alert(1)", "javascript scheme"),
            ("data:text/html,hi", "data scheme"),
        ] {
            let err = ClientMetadata::validate(input(&[uri])).unwrap_err();
            assert_eq!(err.field, "redirect_uris");
            assert!(err.message.contains(reason), "{uri}: {}", err.message);
        }
        assert!(ClientMetadata::validate(input(&[])).is_err(), "none at all");
        for fine in ["cursor://anysphere.cursor-retrieval/oauth/cb", "http://localhost/cb"] {
            assert!(ClientMetadata::validate(input(&[fine])).is_ok(), "{fine}");
        }
    }

    #[test]
    fn unsupported_metadata_is_named() {
        let mut bad = input(&["https://a.example/cb"]);
        bad.grant_types = Some(vec!["implicit".into()]);
        assert_eq!(ClientMetadata::validate(bad).unwrap_err().field, "grant_types");
        let mut bad = input(&["https://a.example/cb"]);
        bad.token_endpoint_auth_method = Some("private_key_jwt".into());
        assert_eq!(ClientMetadata::validate(bad).unwrap_err().field, "token_endpoint_auth_method");
        let mut bad = input(&["https://a.example/cb"]);
        bad.scope = Some("mcp admin".into());
        assert_eq!(ClientMetadata::validate(bad).unwrap_err().field, "scope");
        let mut bad = input(&["https://a.example/cb"]);
        bad.application_type = Some("desktop".into());
        assert_eq!(ClientMetadata::validate(bad).unwrap_err().field, "application_type");
    }

    #[test]
    fn redirect_uris_match_exactly_except_for_loopback_ports() {
        let metadata = ClientMetadata::validate(input(&[
            "https://app.example/cb",
            "http://127.0.0.1:3000/callback",
            "http://localhost/callback",
        ]))
        .unwrap();
        let matches = |uri: &str| metadata.match_redirect_uri(Some(uri)).is_some();
        assert!(matches("https://app.example/cb"));
        assert!(!matches("https://app.example/cb/"), "no trailing slash added");
        assert!(!matches("https://app.example/cb?x=1"));
        assert!(!matches("https://APP.example/cb"), "character for character");
        assert!(matches("http://127.0.0.1:53127/callback"), "any loopback port");
        assert!(matches("http://localhost:8080/callback"));
        assert!(!matches("http://127.0.0.1:53127/other"));
        assert!(!matches("http://localhost.evil.example:80/callback"));
        assert_eq!(metadata.match_redirect_uri(None), None, "ambiguous without one");
        let single = ClientMetadata::validate(input(&["https://app.example/cb"])).unwrap();
        assert_eq!(single.match_redirect_uri(None).as_deref(), Some("https://app.example/cb"));
    }
}
