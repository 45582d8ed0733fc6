//! `/api/v1/orgs/{org_id}/identity-providers`: the organization's upstream identity providers.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use mcplatform_core::identity_provider::{
    ClaimMapping, Endpoints, IdentityProvider, ProviderInput, ProviderKind, ProviderSettings,
};
use mcplatform_core::org::Role;
use serde::{Deserialize, Serialize};

use super::{ApiCaller, Items};
use crate::error::Result;
use crate::extract::AppJson;
use crate::{AppState, identity_providers, upstream};

pub fn router() -> Router<AppState> {
    Router::new().route("/orgs/{org_id}/identity-providers", get(list).post(create)).route(
        "/orgs/{org_id}/identity-providers/{provider_id}",
        get(read).patch(update).delete(delete),
    )
}

#[derive(Debug, Serialize)]
pub struct ClaimsBody {
    subject: String,
    email: String,
    name: String,
}

/// A provider as the API shows it. The client secret is never returned.
#[derive(Debug, Serialize)]
pub struct ProviderResponse {
    id: String,
    organization_id: String,
    kind: ProviderKind,
    name: String,
    client_id: String,
    /// OpenID Connect providers: the issuer their endpoints are discovered from.
    issuer: Option<String>,
    /// OAuth 2.0 providers (and GitHub): the endpoints used.
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    scopes: Vec<String>,
    claims: ClaimsBody,
    /// The redirect URI to register with the provider.
    redirect_uri: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: time::OffsetDateTime,
}

impl ProviderResponse {
    fn new(state: &AppState, provider: IdentityProvider) -> Self {
        let settings = provider.settings;
        let (issuer, authorization, token, userinfo) = match settings.endpoints {
            Endpoints::Discovered { issuer } => (Some(issuer), None, None, None),
            Endpoints::Configured { authorization, token, userinfo } => (
                None,
                Some(authorization.to_string()),
                Some(token.to_string()),
                Some(userinfo.to_string()),
            ),
        };
        let ClaimMapping { subject, email, name } = settings.claims;
        Self {
            id: provider.id.to_string(),
            organization_id: provider.organization_id.to_string(),
            kind: provider.kind,
            name: settings.name,
            client_id: settings.client_id,
            issuer,
            authorization_endpoint: authorization,
            token_endpoint: token,
            userinfo_endpoint: userinfo,
            scopes: settings.scopes,
            claims: ClaimsBody { subject, email, name },
            redirect_uri: upstream::callback_url(&state.config.base_url).to_string(),
            created_at: provider.created_at,
            updated_at: provider.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimsPatch {
    subject: Option<String>,
    email: Option<String>,
    name: Option<String>,
}

/// Fields to set; on update, absent fields keep their value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderPatch {
    name: Option<String>,
    client_id: Option<String>,
    /// Write-only: stored sealed, never returned.
    client_secret: Option<String>,
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    scopes: Option<Vec<String>>,
    claims: Option<ClaimsPatch>,
}

impl ProviderPatch {
    /// The settings after the patch, validated for `kind`.
    fn apply(self, kind: ProviderKind, mut input: ProviderInput) -> Result<ProviderSettings> {
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(value) = self.$field { input.$field = value; } )* };
        }
        set!(name, client_id, issuer, authorization_endpoint, token_endpoint, userinfo_endpoint);
        if let Some(scopes) = self.scopes {
            input.scopes = scopes.join(" ");
        }
        let claims = self.claims.unwrap_or_default();
        if let Some(subject) = claims.subject {
            input.subject_claim = subject;
        }
        if let Some(email) = claims.email {
            input.email_claim = email;
        }
        if let Some(name) = claims.name {
            input.name_claim = name;
        }
        Ok(ProviderSettings::parse(kind, &input)?)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateProviderRequest {
    kind: ProviderKind,
    name: String,
    client_id: String,
    client_secret: String,
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    scopes: Option<Vec<String>>,
    claims: Option<ClaimsPatch>,
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(org_id): Path<String>,
) -> Result<AppJson<Items<ProviderResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let providers = state.store.list_identity_providers(access.org.id).await?;
    Ok(AppJson(Items {
        items: providers.into_iter().map(|p| ProviderResponse::new(&state, p)).collect(),
    }))
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(org_id): Path<String>,
    AppJson(body): AppJson<CreateProviderRequest>,
) -> Result<(StatusCode, AppJson<ProviderResponse>)> {
    let access = caller.org_access(&state, &org_id).await?;
    access.require(Role::Admin)?;
    let patch = ProviderPatch {
        name: Some(body.name),
        client_id: Some(body.client_id),
        client_secret: None,
        issuer: body.issuer,
        authorization_endpoint: body.authorization_endpoint,
        token_endpoint: body.token_endpoint,
        userinfo_endpoint: body.userinfo_endpoint,
        scopes: body.scopes,
        claims: body.claims,
    };
    let settings = patch.apply(body.kind, ProviderInput::default())?;
    let provider = identity_providers::create(
        &state,
        &access,
        &caller.actor(),
        body.kind,
        settings,
        &body.client_secret,
    )
    .await?;
    Ok((StatusCode::CREATED, AppJson(ProviderResponse::new(&state, provider))))
}

async fn read(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((org_id, provider_id)): Path<(String, String)>,
) -> Result<AppJson<ProviderResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let provider = access.identity_provider(&state, &provider_id).await?;
    Ok(AppJson(ProviderResponse::new(&state, provider)))
}

async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((org_id, provider_id)): Path<(String, String)>,
    AppJson(mut patch): AppJson<ProviderPatch>,
) -> Result<AppJson<ProviderResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let provider = access.identity_provider(&state, &provider_id).await?;
    access.require(Role::Admin)?;
    let new_secret = patch.client_secret.take();
    let settings = patch.apply(provider.kind, provider.settings.to_input())?;
    let updated = identity_providers::update(
        &state,
        &access,
        &caller.actor(),
        &provider,
        settings,
        new_secret.as_deref(),
    )
    .await?;
    Ok(AppJson(ProviderResponse::new(&state, updated)))
}

async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((org_id, provider_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    let provider = access.identity_provider(&state, &provider_id).await?;
    identity_providers::delete(&state, &access, &caller.actor(), &provider).await?;
    Ok(StatusCode::NO_CONTENT)
}
