//! Talking to upstream identity providers: OpenID Connect discovery (and, with the
//! authorization server, the login round trip).

use mcplatform_core::error_chain;
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{AdditionalProviderMetadata, IssuerUrl, ResponseTypes};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::outbound::OutboundClient;

/// Discovery fields the core metadata type leaves out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExtraMetadata {
    /// RFC 8414 §2 (used by OpenID providers too): which PKCE methods the provider accepts.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
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

/// The one redirect URI of every upstream login (dashboard sign-in, end-user login, a provider's
/// test sign-in): customers register it once per provider. The login's `state` tells them apart.
pub fn callback_url(base_url: &Url) -> Url {
    let mut url = base_url.clone();
    url.set_path("/oauth/upstream/callback");
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
    let metadata = ProviderMetadata::discover_async(issuer_url, outbound.http())
        .await
        .map_err(|e| error_chain(&e))?;
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
