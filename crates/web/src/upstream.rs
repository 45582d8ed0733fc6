//! Talking to upstream identity providers: OpenID Connect discovery (and, with the
//! authorization server, the login round trip).

use axum::http::header;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcplatform_core::crypto::{MasterKey, NewSecretToken};
use mcplatform_core::end_user::EndUser;
use mcplatform_core::identity_provider::{
    Endpoints, IdentityProvider, ProviderKind, ProviderSettings,
};
use mcplatform_core::ids::{
    AuthorizationRequestId, EndUserId, IdentityProviderId, UpstreamLoginId, UserId,
};
use mcplatform_core::upstream_login::{
    LoginPurpose, ProviderRef, UPSTREAM_LOGIN_TTL, UpstreamLogin,
};
use mcplatform_core::{ValidationError, error_chain};
use mcplatform_store::SealedUpstreamTokens;
use oauth2::AuthType;
use oauth2::basic::BasicClient;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    ResponseTypes, Scope, TokenResponse as _, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use crate::config::PlatformLoginProvider;
use crate::outbound::OutboundClient;
use crate::{ApiError, AppState};

/// Discovery fields the core metadata type leaves out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExtraMetadata {
    /// RFC 8414 §2 (used by OpenID providers too): which PKCE methods the provider accepts.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// RFC 9207 §3: the provider puts `iss` on every authorization response.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
}

impl AdditionalProviderMetadata for ExtraMetadata {}

/// An OpenID provider's discovery document.
pub type ProviderMetadata = openidconnect::ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The path of [`callback_url`].
pub const CALLBACK_PATH: &str = "/oauth/upstream/callback";

/// The one redirect URI of every upstream login (dashboard sign-in, end-user login, a provider's
/// test sign-in): customers register it once per provider. The login's `state` tells them apart.
pub fn callback_url(base_url: &Url) -> Url {
    let mut url = base_url.clone();
    url.set_path(CALLBACK_PATH);
    url.set_query(None);
    url
}

/// Fetches and checks `{issuer}/.well-known/openid-configuration` and the JWKS it names
/// (OpenID Connect Discovery 1.0 §4): the document's `issuer` must equal ours byte for byte,
/// the provider must offer the authorization code flow, and, when it lists PKCE methods, S256.
/// Every endpoint must pass the outbound policy too, since we will call or redirect to them.
pub async fn discover(outbound: &OutboundClient, issuer: &str) -> Result<ProviderMetadata, String> {
    let issuer_url = IssuerUrl::new(issuer.to_owned()).map_err(|e| format!("the issuer: {e}"))?;
    outbound.check_url(issuer_url.url()).map_err(|e| format!("the issuer {e}"))?;
    // Every request (the document, then its `jwks_uri`) passes the outbound guard.
    let metadata = ProviderMetadata::discover_async(issuer_url, outbound)
        .await
        .map_err(|e| error_chain(&e))?;
    if metadata.jwks().keys().is_empty() {
        return Err("the provider's key set (jwks_uri) has no keys to check ID tokens".to_owned());
    }
    let code = ResponseTypes::new(vec![CoreResponseType::Code]);
    if !metadata.response_types_supported().contains(&code) {
        return Err("the provider does not offer the authorization code flow".to_owned());
    }
    if let Some(methods) = &metadata.additional_metadata().code_challenge_methods_supported
        && !methods.iter().any(|method| method == "S256")
    {
        return Err("the provider does not support PKCE with S256".to_owned());
    }
    let mut endpoints = vec![
        ("authorization_endpoint", metadata.authorization_endpoint().url()),
        ("jwks_uri", metadata.jwks_uri().url()),
    ];
    if let Some(token) = metadata.token_endpoint() {
        endpoints.push(("token_endpoint", token.url()));
    } else {
        return Err("the provider's metadata has no token_endpoint".to_owned());
    }
    if let Some(userinfo) = metadata.userinfo_endpoint() {
        endpoints.push(("userinfo_endpoint", userinfo.url()));
    }
    for (name, url) in endpoints {
        outbound.check_url(url).map_err(|e| format!("the provider's {name} {e}"))?;
    }
    Ok(metadata)
}

/// Who the provider says signed in, with the claims it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamIdentity {
    /// The provider's stable id for the user (never reassigned, unlike an email).
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider vouches for the email (OIDC `email_verified`, GitHub's verified
    /// flag); an email from a plain OAuth 2.0 profile is not taken as verified.
    pub email_verified: bool,
    pub name: Option<String>,
    /// Everything the ID token and userinfo answer said, for display and mapping checks.
    pub claims: Value,
}

/// The provider's tokens for the person who signed in: kept sealed on our side, never handed
/// to an MCP client (no token passthrough).
#[derive(Debug, Clone)]
pub struct UpstreamTokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_in: Option<std::time::Duration>,
}

impl UpstreamTokens {
    /// The tokens as stored: sealed for this end user and provider.
    pub fn seal(
        &self,
        master_key: &MasterKey,
        end_user: EndUserId,
        provider: IdentityProviderId,
        now: time::OffsetDateTime,
    ) -> SealedUpstreamTokens {
        let seal = |secret: &SecretString, kind: &str| {
            master_key.seal(
                secret.expose_secret().as_bytes(),
                &EndUser::upstream_token_context(end_user, provider, kind),
            )
        };
        SealedUpstreamTokens {
            access_token: seal(&self.access_token, "access"),
            refresh_token: self.refresh_token.as_ref().map(|t| seal(t, "refresh")),
            // A provider's absurd `expires_in` must not overflow the clock (a panic).
            expires_at: self
                .expires_in
                .and_then(|d| time::Duration::try_from(d).ok())
                .and_then(|d| now.checked_add(d)),
        }
    }

    fn of(token: &impl OAuth2TokenResponse) -> Self {
        Self {
            access_token: SecretString::from(token.access_token().secret().clone()),
            refresh_token: token.refresh_token().map(|t| SecretString::from(t.secret().clone())),
            expires_in: token.expires_in(),
        }
    }
}

/// Why a round trip to a provider failed, in words for the person who tried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UpstreamError(pub String);

impl UpstreamError {
    fn new(context: &str, err: &(dyn std::error::Error + 'static)) -> Self {
        Self(format!("{context}: {}", error_chain(err)))
    }
}

/// A provider as a login round trip sees it: an organization's (secret sealed in the store)
/// or one of the platform's dashboard login providers (secret from the configuration).
#[derive(Debug, Clone, Copy)]
pub enum UpstreamClient<'a> {
    Organization(&'a IdentityProvider),
    Platform(&'a PlatformLoginProvider),
}

impl UpstreamClient<'_> {
    fn kind(&self) -> ProviderKind {
        match self {
            Self::Organization(provider) => provider.kind,
            Self::Platform(provider) => provider.kind,
        }
    }

    fn settings(&self) -> &ProviderSettings {
        match self {
            Self::Organization(provider) => &provider.settings,
            Self::Platform(provider) => &provider.settings,
        }
    }

    fn reference(&self) -> ProviderRef {
        match self {
            Self::Organization(provider) => ProviderRef::Organization {
                organization_id: provider.organization_id,
                provider_id: provider.id,
            },
            Self::Platform(provider) => ProviderRef::Platform(provider.key.to_owned()),
        }
    }

    fn client_secret(&self, state: &AppState) -> Result<ClientSecret, UpstreamError> {
        match self {
            Self::Organization(provider) => {
                let secret = state
                    .master_key
                    .open(
                        &provider.sealed_client_secret,
                        &IdentityProvider::secret_context(provider.id),
                    )
                    .map_err(|e| {
                        UpstreamError::new("cannot open the provider's client secret", &e)
                    })?;
                Ok(ClientSecret::new(String::from_utf8_lossy(&secret).into_owned()))
            }
            Self::Platform(provider) => {
                Ok(ClientSecret::new(provider.client_secret.expose_secret().to_owned()))
            }
        }
    }
}

/// A round trip just begun: where to send the browser, and the `state` it carries (which a
/// dashboard login also keeps in a cookie, to be sure the same browser comes back).
pub struct BegunLogin {
    pub url: Url,
    pub state: SecretString,
}

/// Starts a round trip: remembers it (state hash, sealed PKCE verifier, nonce) and returns
/// the provider URL to send the browser to (RFC 6749 §4.1.1 with RFC 7636 S256).
pub async fn begin(
    state: &AppState,
    provider: UpstreamClient<'_>,
    purpose: LoginPurpose,
    user_id: Option<UserId>,
    authorization_request_id: Option<AuthorizationRequestId>,
) -> Result<BegunLogin, ApiError> {
    let id = UpstreamLoginId::new();
    let login_state = NewSecretToken::generate("");
    let csrf = CsrfToken::new(login_state.secret.expose_secret().to_owned());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let redirect = redirect_url(state)?;
    let settings = provider.settings();
    let scopes = settings.scopes.iter().map(|s| Scope::new(s.clone()));
    let (url, nonce) = match &settings.endpoints {
        Endpoints::Discovered { issuer } => {
            let metadata = discover(&state.outbound, issuer)
                .await
                .map_err(|e| upstream_failed(&format!("OpenID Connect discovery failed: {e}")))?;
            let client = CoreClient::from_provider_metadata(
                metadata,
                ClientId::new(settings.client_id.clone()),
                None,
            )
            .set_redirect_uri(redirect);
            let (url, _, nonce) = client
                .authorize_url(
                    CoreAuthenticationFlow::AuthorizationCode,
                    move || csrf,
                    Nonce::new_random,
                )
                .add_scopes(scopes.filter(|s| s.as_str() != "openid"))
                .set_pkce_challenge(challenge)
                .url();
            (url, Some(nonce.secret().clone()))
        }
        Endpoints::Configured { authorization, .. } => {
            let client = BasicClient::new(ClientId::new(settings.client_id.clone()))
                .set_auth_uri(AuthUrl::from_url(authorization.clone()))
                .set_redirect_uri(redirect);
            let (url, _) = client
                .authorize_url(move || csrf)
                .add_scopes(scopes)
                .set_pkce_challenge(challenge)
                .url();
            (url, None)
        }
    };
    let now = state.clock.now();
    let login = UpstreamLogin {
        id,
        state_hash: login_state.hash,
        purpose,
        provider: provider.reference(),
        user_id,
        authorization_request_id,
        sealed_pkce_verifier: state
            .master_key
            .seal(verifier.secret().as_bytes(), &UpstreamLogin::verifier_context(id)),
        nonce,
        created_at: now,
        expires_at: now + UPSTREAM_LOGIN_TTL,
    };
    state.store.create_upstream_login(&login).await?;
    Ok(BegunLogin { url, state: login_state.secret })
}

fn upstream_failed(message: &str) -> ApiError {
    ApiError::Validation(ValidationError::new("provider", message))
}

fn redirect_url(state: &AppState) -> Result<RedirectUrl, ApiError> {
    RedirectUrl::new(callback_url(&state.config.base_url).to_string())
        .map_err(|e| ApiError::Internal(Box::new(e)))
}

/// Finishes a round trip whose callback carried `code`: exchanges it (with the PKCE
/// verifier and the client secret) and reads who signed in. For OpenID Connect the ID token
/// is validated (signature, issuer, audience, expiry, nonce) and the `iss` of the callback, when
/// present, must be the provider's (RFC 9207 mix-up defence).
pub async fn finish(
    state: &AppState,
    login: &UpstreamLogin,
    provider: UpstreamClient<'_>,
    code: &str,
    callback_iss: Option<&str>,
) -> Result<(UpstreamIdentity, UpstreamTokens), UpstreamError> {
    let verifier = state
        .master_key
        .open(&login.sealed_pkce_verifier, &UpstreamLogin::verifier_context(login.id))
        .map_err(|e| UpstreamError::new("cannot open the login's PKCE verifier", &e))?;
    let verifier = PkceCodeVerifier::new(String::from_utf8_lossy(&verifier).into_owned());
    let secret = provider.client_secret(state)?;
    let settings = provider.settings();
    let client_id = ClientId::new(settings.client_id.clone());
    let redirect = redirect_url(state).map_err(|e| UpstreamError(e.to_string()))?;
    let code = AuthorizationCode::new(code.to_owned());
    let claims = &settings.claims;

    let (mut identity_claims, tokens, userinfo_url) = match &settings.endpoints {
        Endpoints::Discovered { issuer } => {
            let metadata = discover(&state.outbound, issuer).await.map_err(UpstreamError)?;
            // RFC 9207 §2.4: a provider that announces `iss` must send it, and it must be ours.
            let iss_required = metadata
                .additional_metadata()
                .authorization_response_iss_parameter_supported
                .unwrap_or(false);
            match callback_iss {
                Some(iss) if iss != issuer => {
                    return Err(UpstreamError(format!(
                        "the callback came from issuer {iss:?}, not {issuer:?}"
                    )));
                }
                None if iss_required => {
                    return Err(UpstreamError(
                        "the callback lacks the iss parameter the provider announces".to_owned(),
                    ));
                }
                _ => {}
            }
            let nonce = login.nonce.clone().map(Nonce::new).ok_or_else(|| {
                UpstreamError("this sign-in was started without a nonce".to_owned())
            })?;
            let userinfo = metadata.userinfo_endpoint().map(|u| u.url().clone());
            // OpenID Connect Discovery §3: without a list, client_secret_basic is the default.
            let basic_allowed = metadata
                .token_endpoint_auth_methods_supported()
                .is_none_or(|methods| methods.contains(&CoreClientAuthMethod::ClientSecretBasic));
            let mut client = CoreClient::from_provider_metadata(metadata, client_id, Some(secret))
                .set_redirect_uri(redirect);
            if !basic_allowed {
                client = client.set_auth_type(AuthType::RequestBody);
            }
            let token = client
                .exchange_code(code)
                .map_err(|e| UpstreamError::new("the provider has no token endpoint", &e))?
                .set_pkce_verifier(verifier)
                .request_async(&state.outbound)
                .await
                .map_err(|e| UpstreamError::new("the token request failed", &e))?;
            let id_token = token
                .id_token()
                .ok_or_else(|| UpstreamError("the token response has no ID token".to_owned()))?;
            id_token
                .claims(&client.id_token_verifier(), &nonce)
                .map_err(|e| UpstreamError::new("the ID token is not valid", &e))?;
            // Verified: now read every claim, not only the standard ones the typed claims keep,
            // so a mapping to a provider's own claim (`oid`, `groups`) finds it.
            (jwt_payload(&id_token.to_string())?, UpstreamTokens::of(&token), userinfo)
        }
        Endpoints::Configured { token, userinfo, .. } => {
            let client = BasicClient::new(client_id)
                .set_client_secret(secret)
                .set_token_uri(TokenUrl::from_url(token.clone()))
                .set_redirect_uri(redirect);
            let token = client
                .exchange_code(code)
                .set_pkce_verifier(verifier)
                .request_async(&state.outbound)
                .await
                .map_err(|e| UpstreamError::new("the token request failed", &e))?;
            (json!({}), UpstreamTokens::of(&token), Some(userinfo.clone()))
        }
    };

    let access_token = tokens.access_token.expose_secret();
    if let Some(url) = userinfo_url {
        let userinfo = fetch_json(state, &url, access_token).await?;
        // OpenID Connect Core §5.3.2: the userinfo answer must carry the ID token's `sub`.
        if let Some(sub) = identity_claims.get("sub")
            && userinfo.get("sub") != Some(sub)
        {
            return Err(UpstreamError("the userinfo answer is about another user".to_owned()));
        }
        merge(&mut identity_claims, userinfo);
    }
    let mut email_verified = identity_claims
        .get("email_verified")
        .is_some_and(|v| v == &Value::Bool(true) || v == "true");
    if provider.kind() == ProviderKind::Github {
        // GitHub's profile email is optional and public; `GET /user/emails` (scope
        // `user:email`) says which address is primary and verified.
        let emails_url = Url::parse("https://api.github.com/user/emails")
            .map_err(|e| UpstreamError::new("bad GitHub URL", &e))?;
        if let Ok(Value::Array(emails)) = fetch_json(state, &emails_url, access_token).await
            && let Some(primary) = emails.iter().find(|e| e["primary"] == true)
        {
            identity_claims["email"] = primary["email"].clone();
            email_verified = primary["verified"] == true;
        }
    } else if provider.kind() == ProviderKind::Oauth2 {
        email_verified = false;
    }
    let subject = claim_text(&identity_claims, &claims.subject).ok_or_else(|| {
        UpstreamError(format!(
            "the provider's answer has no {:?} claim to identify the user",
            claims.subject
        ))
    })?;
    let identity = UpstreamIdentity {
        subject,
        email: claim_text(&identity_claims, &claims.email),
        email_verified,
        name: claim_text(&identity_claims, &claims.name),
        claims: identity_claims,
    };
    Ok((identity, tokens))
}

/// `GET url` with the upstream access token, expecting a JSON answer.
async fn fetch_json(state: &AppState, url: &Url, token: &str) -> Result<Value, UpstreamError> {
    let request = axum::http::Request::get(url.as_str())
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| UpstreamError::new(&format!("GET {url}"), &e))?;
    let response = state
        .outbound
        .execute(request)
        .await
        .map_err(|e| UpstreamError::new(&format!("GET {url} failed"), &e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(UpstreamError(format!("GET {url} answered {status}")));
    }
    serde_json::from_slice(response.body())
        .map_err(|e| UpstreamError::new(&format!("GET {url}: not JSON"), &e))
}

/// The claims of a compact JWS (RFC 7515 §7.1) whose signature was already verified.
fn jwt_payload(token: &str) -> Result<Value, UpstreamError> {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| UpstreamError::new("cannot read the ID token", &e))?;
    serde_json::from_slice(&bytes).map_err(|e| UpstreamError::new("cannot read the ID token", &e))
}

/// Adds the fields of `extra` to `base` (both JSON objects); `extra` wins.
fn merge(base: &mut Value, extra: Value) {
    if let (Value::Object(base), Value::Object(extra)) = (base, extra) {
        base.extend(extra);
    }
}

/// The claim at a dotted `path` as text: strings as they are, numbers and booleans printed
/// (GitHub's ids are numbers); absent, null, empty or structured values are `None`.
pub fn claim_text(claims: &Value, path: &str) -> Option<String> {
    let value = path.split('.').try_fold(claims, |value, key| value.get(key))?;
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_found_by_dotted_paths() {
        let claims = json!({"id": 583231, "data": {"mail": " ada@x.test ", "tags": ["a"]}, "n": null, "e": ""});
        assert_eq!(claim_text(&claims, "id").as_deref(), Some("583231"));
        assert_eq!(claim_text(&claims, "data.mail").as_deref(), Some("ada@x.test"));
        assert_eq!(claim_text(&claims, "data.tags"), None);
        assert_eq!(claim_text(&claims, "n"), None);
        assert_eq!(claim_text(&claims, "e"), None);
        assert_eq!(claim_text(&claims, "missing.deeper"), None);
    }

    #[test]
    fn the_callback_is_one_fixed_path_on_the_base_url() {
        let base = Url::parse("https://mcp.example.com/some/path?x=1").unwrap();
        assert_eq!(callback_url(&base).as_str(), "https://mcp.example.com/oauth/upstream/callback");
    }
}
