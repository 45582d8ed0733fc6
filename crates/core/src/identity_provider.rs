//! Upstream identity providers: an organization's own login (GitHub, Google, any OpenID Connect
//! or OAuth 2.0 provider), configured once and reusable by all its MCP servers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

use crate::ValidationError;
use crate::ids::{IdentityProviderId, OrgId};
use crate::org::parse_display_name;

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
pub const GITHUB_AUTHORIZATION_ENDPOINT: &str = "https://github.com/login/oauth/authorize";
pub const GITHUB_TOKEN_ENDPOINT: &str = "https://github.com/login/oauth/access_token";
pub const GITHUB_USER_ENDPOINT: &str = "https://api.github.com/user";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Github,
    Google,
    /// Any OpenID Connect provider, found through discovery from its issuer.
    Oidc,
    /// Any OAuth 2.0 provider with a userinfo endpoint, configured by hand.
    Oauth2,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 4] = [Self::Github, Self::Google, Self::Oidc, Self::Oauth2];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Google => "google",
            Self::Oidc => "oidc",
            Self::Oauth2 => "oauth2",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            Self::Github => "GitHub",
            Self::Google => "Google",
            Self::Oidc => "OpenID Connect",
            Self::Oauth2 => "OAuth 2.0",
        }
    }

    /// Whether the provider speaks OpenID Connect: discovery, ID tokens, nonce.
    pub const fn is_oidc(self) -> bool {
        matches!(self, Self::Google | Self::Oidc)
    }

    /// Whether the person configuring the provider gives its endpoints (else they are known).
    pub const fn takes_issuer(self) -> bool {
        matches!(self, Self::Oidc)
    }

    pub const fn takes_endpoints(self) -> bool {
        matches!(self, Self::Oauth2)
    }

    fn default_scopes(self) -> &'static str {
        match self {
            Self::Github => "read:user user:email",
            Self::Google | Self::Oidc => "openid email profile",
            Self::Oauth2 => "",
        }
    }

    fn default_claims(self) -> ClaimMapping {
        match self {
            // GitHub's `GET /user` names the account by a numeric `id`.
            Self::Github => ClaimMapping {
                subject: "id".to_owned(),
                email: "email".to_owned(),
                name: "name".to_owned(),
            },
            Self::Google | Self::Oidc | Self::Oauth2 => ClaimMapping::standard(),
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == s).ok_or_else(|| {
            ValidationError::new(
                "kind",
                format!("unknown provider kind {s:?} (github, google, oidc or oauth2)"),
            )
        })
    }
}

/// Where a provider's endpoints come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // a few per organization: boxing would only add noise
pub enum Endpoints {
    /// OpenID Connect Discovery 1.0 §4: `{issuer}/.well-known/openid-configuration`, fetched
    /// when the provider is saved (to validate it) and again when someone logs in. The issuer
    /// is kept exactly as given (a URL parser would add a trailing slash): the provider's
    /// metadata must repeat it byte for byte.
    Discovered { issuer: String },
    /// Set by hand: OAuth 2.0 has no standard way to find a userinfo endpoint.
    Configured { authorization: Url, token: Url, userinfo: Url },
}

/// Which claims of the userinfo answer (or ID token) name the user. A dotted path reaches into
/// nested objects (`data.user.email`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    pub subject: String,
    pub email: String,
    pub name: String,
}

impl ClaimMapping {
    /// OpenID Connect Core 1.0 §5.1 standard claims.
    pub fn standard() -> Self {
        Self { subject: "sub".to_owned(), email: "email".to_owned(), name: "name".to_owned() }
    }
}

/// The editable configuration of a provider, validated as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    pub name: String,
    pub client_id: String,
    pub endpoints: Endpoints,
    pub scopes: Vec<String>,
    pub claims: ClaimMapping,
}

/// A provider's configuration as typed into a form or sent to the API; empty means not given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ProviderInput {
    pub name: String,
    pub client_id: String,
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    /// Space-separated, as in OAuth's `scope` parameter. Empty: the kind's defaults.
    pub scopes: String,
    pub subject_claim: String,
    pub email_claim: String,
    pub name_claim: String,
}

impl ProviderSettings {
    pub const MAX_NAME_CHARS: usize = 100;
    pub const MAX_CLIENT_ID_CHARS: usize = 255;
    pub const MAX_URL_CHARS: usize = 2000;
    pub const MAX_SCOPES: usize = 30;
    pub const MAX_CLAIM_CHARS: usize = 100;

    pub fn parse(kind: ProviderKind, input: &ProviderInput) -> Result<Self, ValidationError> {
        let name = parse_display_name("name", &input.name, Self::MAX_NAME_CHARS)?;
        let client_id = parse_client_id(&input.client_id)?;
        let endpoints = parse_endpoints(kind, input)?;
        let scopes = parse_scopes(kind, &input.scopes)?;
        let defaults = kind.default_claims();
        let claims = ClaimMapping {
            subject: parse_claim("subject_claim", &input.subject_claim, defaults.subject)?,
            email: parse_claim("email_claim", &input.email_claim, defaults.email)?,
            name: parse_claim("name_claim", &input.name_claim, defaults.name)?,
        };
        Ok(Self { name, client_id, endpoints, scopes, claims })
    }

    /// The settings in their input form, for edit forms and partial updates: what
    /// [`Self::parse`] takes back for `kind` (a kind's fixed endpoints are not input).
    pub fn to_input(&self, kind: ProviderKind) -> ProviderInput {
        let mut input = ProviderInput {
            name: self.name.clone(),
            client_id: self.client_id.clone(),
            scopes: self.scopes.join(" "),
            subject_claim: self.claims.subject.clone(),
            email_claim: self.claims.email.clone(),
            name_claim: self.claims.name.clone(),
            ..ProviderInput::default()
        };
        match &self.endpoints {
            Endpoints::Discovered { issuer } if kind.takes_issuer() => {
                input.issuer.clone_from(issuer);
            }
            Endpoints::Configured { authorization, token, userinfo } if kind.takes_endpoints() => {
                input.authorization_endpoint = authorization.to_string();
                input.token_endpoint = token.to_string();
                input.userinfo_endpoint = userinfo.to_string();
            }
            Endpoints::Discovered { .. } | Endpoints::Configured { .. } => {}
        }
        input
    }

    /// Every URL the platform will call or send browsers to, for outbound-policy checks.
    pub fn urls(&self) -> Vec<(&'static str, Url)> {
        match &self.endpoints {
            // Validated when parsed, so it parses again.
            Endpoints::Discovered { issuer } => {
                Url::parse(issuer).map(|issuer| vec![("issuer", issuer)]).unwrap_or_default()
            }
            Endpoints::Configured { authorization, token, userinfo } => vec![
                ("authorization_endpoint", authorization.clone()),
                ("token_endpoint", token.clone()),
                ("userinfo_endpoint", userinfo.clone()),
            ],
        }
    }
}

fn parse_client_id(input: &str) -> Result<String, ValidationError> {
    let client_id = input.trim();
    let err = |message: &str| Err(ValidationError::new("client_id", message));
    if client_id.is_empty() {
        return err("must not be empty");
    }
    if client_id.chars().count() > ProviderSettings::MAX_CLIENT_ID_CHARS {
        return err("must be at most 255 characters");
    }
    // RFC 6749 Appendix A.1: client_id = *VSCHAR (printable ASCII).
    if !client_id.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return err("may contain only printable ASCII characters");
    }
    Ok(client_id.to_owned())
}

/// A client secret as given; never stored in the clear (see [`IdentityProvider`]).
pub fn parse_client_secret(input: &str) -> Result<&str, ValidationError> {
    let secret = input.trim();
    let err = |message: &str| Err(ValidationError::new("client_secret", message));
    if secret.is_empty() {
        return err("must not be empty");
    }
    if secret.len() > 1000 {
        return err("must be at most 1000 characters");
    }
    // RFC 6749 Appendix A.2: client_secret = *VSCHAR.
    if !secret.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return err("may contain only printable ASCII characters");
    }
    Ok(secret)
}

fn parse_endpoints(
    kind: ProviderKind,
    input: &ProviderInput,
) -> Result<Endpoints, ValidationError> {
    let given = |value: &str| !value.trim().is_empty();
    let unexpected = |field: &'static str| {
        ValidationError::new(field, format!("is not used by {} providers", kind.label()))
    };
    if !kind.takes_issuer() && given(&input.issuer) {
        return Err(unexpected("issuer"));
    }
    if !kind.takes_endpoints() {
        for (field, value) in [
            ("authorization_endpoint", &input.authorization_endpoint),
            ("token_endpoint", &input.token_endpoint),
            ("userinfo_endpoint", &input.userinfo_endpoint),
        ] {
            if given(value) {
                return Err(unexpected(field));
            }
        }
    }
    let known =
        |url: &str| Url::parse(url).map_err(|e| ValidationError::new("kind", e.to_string()));
    Ok(match kind {
        ProviderKind::Github => Endpoints::Configured {
            authorization: known(GITHUB_AUTHORIZATION_ENDPOINT)?,
            token: known(GITHUB_TOKEN_ENDPOINT)?,
            userinfo: known(GITHUB_USER_ENDPOINT)?,
        },
        ProviderKind::Google => Endpoints::Discovered { issuer: GOOGLE_ISSUER.to_owned() },
        ProviderKind::Oidc => Endpoints::Discovered { issuer: parse_issuer(&input.issuer)? },
        ProviderKind::Oauth2 => Endpoints::Configured {
            authorization: parse_url("authorization_endpoint", &input.authorization_endpoint)?,
            token: parse_url("token_endpoint", &input.token_endpoint)?,
            userinfo: parse_url("userinfo_endpoint", &input.userinfo_endpoint)?,
        },
    })
}

/// An absolute `http(s)` URL without credentials or fragment. Whether plain `http` or a
/// private address is acceptable is the outbound policy's call, made where requests are sent.
pub fn parse_url(field: &'static str, input: &str) -> Result<Url, ValidationError> {
    let input = input.trim();
    let err = |message: String| Err(ValidationError::new(field, message));
    if input.is_empty() {
        return err("must not be empty".to_owned());
    }
    if input.len() > ProviderSettings::MAX_URL_CHARS {
        return err(format!("must be at most {} characters", ProviderSettings::MAX_URL_CHARS));
    }
    let url = match Url::parse(input) {
        Ok(url) => url,
        Err(e) => return err(format!("is not a valid URL ({e})")),
    };
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return err("must be an https:// URL".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return err("must not contain a user name or password".to_owned());
    }
    if url.fragment().is_some() {
        return err("must not contain a fragment (#…)".to_owned());
    }
    Ok(url)
}

/// OpenID Connect Discovery 1.0 §2: the issuer is a URL with no query or fragment. It is kept
/// exactly as typed (trimmed), since the provider's metadata must repeat it byte for byte.
pub fn parse_issuer(input: &str) -> Result<String, ValidationError> {
    let issuer = parse_url("issuer", input)?;
    // Kept byte for byte, so what the URL parser would have dropped must not be there.
    if input.trim().chars().any(char::is_control) {
        return Err(ValidationError::new("issuer", "must not contain control characters"));
    }
    if issuer.query().is_some() {
        return Err(ValidationError::new("issuer", "must not contain a query (?…)"));
    }
    Ok(input.trim().to_owned())
}

/// RFC 6749 §3.3: scope tokens are `1*( %x21 / %x23-5B / %x5D-7E )`, separated by spaces.
fn parse_scopes(kind: ProviderKind, input: &str) -> Result<Vec<String>, ValidationError> {
    let input = if input.trim().is_empty() { kind.default_scopes() } else { input };
    let mut scopes: Vec<String> = Vec::new();
    for token in input.split_whitespace() {
        let valid = token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if !valid {
            return Err(ValidationError::new("scopes", format!("{token:?} is not a valid scope")));
        }
        if !scopes.iter().any(|s| s == token) {
            scopes.push(token.to_owned());
        }
    }
    // OpenID Connect Core 1.0 §3.1.2.1: without `openid` the request is plain OAuth.
    if kind.is_oidc() && !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".to_owned());
    }
    if scopes.len() > ProviderSettings::MAX_SCOPES {
        return Err(ValidationError::new(
            "scopes",
            format!("must be at most {} scopes", ProviderSettings::MAX_SCOPES),
        ));
    }
    Ok(scopes)
}

fn parse_claim(
    field: &'static str,
    input: &str,
    default: String,
) -> Result<String, ValidationError> {
    let claim = input.trim();
    if claim.is_empty() {
        return Ok(default);
    }
    if claim.chars().count() > ProviderSettings::MAX_CLAIM_CHARS {
        return Err(ValidationError::new(field, "must be at most 100 characters"));
    }
    if claim.chars().any(|c| c.is_whitespace() || c.is_control())
        || claim.split('.').any(str::is_empty)
    {
        return Err(ValidationError::new(
            field,
            "must be a claim name, or a dotted path such as data.email",
        ));
    }
    Ok(claim.to_owned())
}

/// A configured provider. The client secret is kept only sealed with the master key, bound to
/// [`IdentityProvider::secret_context`]; nothing shows it again after it was saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    pub id: IdentityProviderId,
    pub organization_id: OrgId,
    pub kind: ProviderKind,
    pub settings: ProviderSettings,
    pub sealed_client_secret: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl IdentityProvider {
    /// The associated data the client secret is sealed with, so that a sealed secret copied
    /// into another provider's row does not open there.
    pub fn secret_context(id: IdentityProviderId) -> Vec<u8> {
        format!("identity_provider.client_secret:{id}").into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc_input() -> ProviderInput {
        ProviderInput {
            name: " Acme SSO ".into(),
            client_id: "mcplatform".into(),
            issuer: "https://login.acme.test/realms/main".into(),
            ..ProviderInput::default()
        }
    }

    #[test]
    fn oidc_defaults_to_standard_scopes_and_claims() {
        let settings = ProviderSettings::parse(ProviderKind::Oidc, &oidc_input()).unwrap();
        assert_eq!(settings.name, "Acme SSO");
        assert_eq!(settings.scopes, ["openid", "email", "profile"]);
        assert_eq!(settings.claims, ClaimMapping::standard());
        assert_eq!(
            settings.endpoints,
            Endpoints::Discovered { issuer: "https://login.acme.test/realms/main".to_owned() }
        );
        let again =
            ProviderSettings::parse(ProviderKind::Oidc, &settings.to_input(ProviderKind::Oidc));
        assert_eq!(again, Ok(settings));
    }

    #[test]
    fn every_kind_takes_its_own_input_form_back() {
        for kind in [ProviderKind::Github, ProviderKind::Google] {
            let input = ProviderInput {
                name: "Sign in".into(),
                client_id: "client".into(),
                ..ProviderInput::default()
            };
            let settings = ProviderSettings::parse(kind, &input).unwrap();
            assert_eq!(ProviderSettings::parse(kind, &settings.to_input(kind)), Ok(settings));
        }
    }

    #[test]
    fn oidc_scopes_always_include_openid_once() {
        let input = ProviderInput { scopes: "email groups email".into(), ..oidc_input() };
        let settings = ProviderSettings::parse(ProviderKind::Oidc, &input).unwrap();
        assert_eq!(settings.scopes, ["openid", "email", "groups"]);
    }

    #[test]
    fn presets_know_their_endpoints_and_refuse_others() {
        let input = ProviderInput {
            name: "GitHub".into(),
            client_id: "Iv1.abc".into(),
            ..Default::default()
        };
        let github = ProviderSettings::parse(ProviderKind::Github, &input).unwrap();
        assert_eq!(github.claims.subject, "id");
        assert_eq!(github.scopes, ["read:user", "user:email"]);
        let google = ProviderSettings::parse(ProviderKind::Google, &input).unwrap();
        assert_eq!(google.endpoints, Endpoints::Discovered { issuer: GOOGLE_ISSUER.into() });
        assert_eq!(google.urls()[0].1.as_str(), "https://accounts.google.com/");

        let with_issuer = ProviderInput { issuer: "https://evil.test".into(), ..input };
        let err = ProviderSettings::parse(ProviderKind::Github, &with_issuer).unwrap_err();
        assert_eq!(err.field, "issuer");
    }

    #[test]
    fn oauth2_needs_all_three_endpoints() {
        let mut input = ProviderInput {
            name: "Legacy".into(),
            client_id: "abc".into(),
            authorization_endpoint: "https://id.acme.test/authorize".into(),
            token_endpoint: "https://id.acme.test/token".into(),
            ..Default::default()
        };
        let err = ProviderSettings::parse(ProviderKind::Oauth2, &input).unwrap_err();
        assert_eq!((err.field, err.message.as_str()), ("userinfo_endpoint", "must not be empty"));
        input.userinfo_endpoint = "https://api.acme.test/me".into();
        input.subject_claim = "data.user_id".into();
        let settings = ProviderSettings::parse(ProviderKind::Oauth2, &input).unwrap();
        assert!(settings.scopes.is_empty());
        assert_eq!(settings.claims.subject, "data.user_id");
        assert_eq!(settings.urls().len(), 3);
    }

    #[test]
    fn bad_values_name_their_field() {
        let cases = [
            (ProviderInput { name: "".into(), ..oidc_input() }, "name"),
            (ProviderInput { client_id: "a b\u{7f}".into(), ..oidc_input() }, "client_id"),
            (ProviderInput { client_id: "x".repeat(256), ..oidc_input() }, "client_id"),
            (ProviderInput { issuer: "ftp://acme.test".into(), ..oidc_input() }, "issuer"),
            (
                ProviderInput { issuer: "https://acme.test/?tenant=1".into(), ..oidc_input() },
                "issuer",
            ),
            (ProviderInput { issuer: "https://u:p@acme.test".into(), ..oidc_input() }, "issuer"),
            (ProviderInput { issuer: "https://acme.test/#x".into(), ..oidc_input() }, "issuer"),
            (ProviderInput { issuer: "not a url".into(), ..oidc_input() }, "issuer"),
            (ProviderInput { scopes: "openid \"quoted\"".into(), ..oidc_input() }, "scopes"),
            (ProviderInput { email_claim: "a..b".into(), ..oidc_input() }, "email_claim"),
            (ProviderInput { name_claim: "has space".into(), ..oidc_input() }, "name_claim"),
            (
                ProviderInput { token_endpoint: "https://x.test".into(), ..oidc_input() },
                "token_endpoint",
            ),
        ];
        for (input, field) in cases {
            let err = ProviderSettings::parse(ProviderKind::Oidc, &input).unwrap_err();
            assert_eq!(err.field, field, "{input:?}: {err}");
        }
        let many = (0..31).map(|i| format!("s{i}")).collect::<Vec<_>>().join(" ");
        let input = ProviderInput { scopes: many, ..oidc_input() };
        let err = ProviderSettings::parse(ProviderKind::Oidc, &input).unwrap_err();
        assert_eq!(err.field, "scopes");
    }

    #[test]
    fn client_secrets_are_printable_and_bounded() {
        assert_eq!(parse_client_secret("  s3cret "), Ok("s3cret"));
        assert_eq!(parse_client_secret("").unwrap_err().field, "client_secret");
        assert!(parse_client_secret(&"x".repeat(1001)).is_err());
        assert!(parse_client_secret("tab\tinside").is_err());
    }

    #[test]
    fn kinds_round_trip() {
        for kind in ProviderKind::ALL {
            assert_eq!(kind.as_str().parse::<ProviderKind>(), Ok(kind));
        }
        assert_eq!("saml".parse::<ProviderKind>().unwrap_err().field, "kind");
    }
}
