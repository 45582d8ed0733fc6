//! `/api/v1/orgs/{org_id}/identity-providers`: the organization's upstream identity providers.

use axum::extract::State;
use axum::http::StatusCode;
use mcplatform_core::ValidationError;
use mcplatform_core::identity_provider::{
    ClaimMapping, Endpoints, IdentityProvider, ProviderInput, ProviderKind, ProviderSettings,
};
use mcplatform_core::org::Role;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiCaller, Items, says};
use crate::error::{ErrorBody, Result};
use crate::extract::AppJson;
use crate::extract::AppPath;
use crate::{AppState, identity_providers, upstream};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(list, create)).routes(routes!(read, update, delete))
}

const PROVIDER_ID: &str = "The identity provider's id";
const NO_PROVIDER: &str =
    "No such organization or provider, or the caller is not in the organization (`not_found`)";
const BAD_SETTINGS: &str = "A field is invalid, or an OpenID Connect issuer failed discovery, or \
    a URL is refused by the outbound policy (`invalid_input` naming the `field`), or the body has \
    an unknown field (`invalid_body`)";
const NAME_TAKEN: &str = "Another provider has this name (`conflict`)";

/// Which claims name the user; dotted paths reach into nested objects.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ClaimMapping)]
pub struct ClaimsBody {
    subject: String,
    email: String,
    name: String,
}

/// A provider as the API shows it. The client secret is never returned.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = IdentityProvider)]
pub struct ProviderResponse {
    #[schema(format = Uuid)]
    id: String,
    #[schema(format = Uuid)]
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

/// Claim names to change; absent ones keep their value (on create: the kind's default).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ClaimsPatch {
    subject: Option<String>,
    email: Option<String>,
    name: Option<String>,
}

/// Fields to set; absent fields keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = IdentityProviderPatch)]
#[serde(deny_unknown_fields)]
struct ProviderPatch {
    name: Option<String>,
    client_id: Option<String>,
    /// Write-only: stored sealed, never returned.
    #[schema(value_type = Option<String>)]
    client_secret: Option<SecretString>,
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
            // Each element is one scope: `["a b"]` must not quietly become two.
            if let Some(bad) =
                scopes.iter().find(|s| s.is_empty() || s.contains(char::is_whitespace))
            {
                let message =
                    format!("{bad:?} is not one scope: give each scope as its own string");
                return Err(ValidationError::new("scopes", message).into());
            }
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

/// A new provider. `oidc` needs `issuer`; `oauth2` needs the three endpoints; `github` and
/// `google` need neither.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = NewIdentityProvider)]
#[serde(deny_unknown_fields)]
struct CreateProviderRequest {
    kind: ProviderKind,
    /// 1 to 100 characters, unique in the organization.
    name: String,
    client_id: String,
    /// Write-only: stored sealed, never returned.
    #[schema(value_type = String)]
    client_secret: SecretString,
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    scopes: Option<Vec<String>>,
    claims: Option<ClaimsPatch>,
}

/// The organization's identity providers, by name; any member may look.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/identity-providers",
    operation_id = "list_identity_providers",
    tag = "identity-providers",
    params(("org_id" = Uuid, Path, description = says::ORG_ID)),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "Every provider, without secrets", body = Items<ProviderResponse>),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
) -> Result<AppJson<Items<ProviderResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let providers = state.store.list_identity_providers(access.org.id).await?;
    Ok(AppJson(Items {
        items: providers.into_iter().map(|p| ProviderResponse::new(&state, p)).collect(),
    }))
}

/// Adds a provider after checking it (OpenID Connect discovery, outbound policy); admins only.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/identity-providers",
    operation_id = "create_identity_provider",
    tag = "identity-providers",
    params(("org_id" = Uuid, Path, description = says::ORG_ID)),
    request_body = CreateProviderRequest,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = CREATED, description = "The new provider", body = ProviderResponse),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
        (status = CONFLICT, description = NAME_TAKEN, body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = BAD_SETTINGS, body = ErrorBody),
    ),
)]
async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
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
        body.client_secret.expose_secret(),
    )
    .await?;
    Ok((StatusCode::CREATED, AppJson(ProviderResponse::new(&state, provider))))
}

/// One identity provider.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/identity-providers/{provider_id}",
    operation_id = "get_identity_provider",
    tag = "identity-providers",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("provider_id" = Uuid, Path, description = PROVIDER_ID),
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The provider", body = ProviderResponse),
        (status = NOT_FOUND, description = NO_PROVIDER, body = ErrorBody),
    ),
)]
async fn read(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, provider_id)): AppPath<(String, String)>,
) -> Result<AppJson<ProviderResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let provider = access.identity_provider(&state, &provider_id).await?;
    Ok(AppJson(ProviderResponse::new(&state, provider)))
}

/// Changes a provider (a new `client_secret` replaces the old); admins only. Discovery runs
/// again when the endpoints change.
#[utoipa::path(
    patch,
    path = "/orgs/{org_id}/identity-providers/{provider_id}",
    operation_id = "update_identity_provider",
    tag = "identity-providers",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("provider_id" = Uuid, Path, description = PROVIDER_ID),
    ),
    request_body = ProviderPatch,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The provider as saved", body = ProviderResponse),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = NO_PROVIDER, body = ErrorBody),
        (status = CONFLICT, description = NAME_TAKEN, body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = BAD_SETTINGS, body = ErrorBody),
    ),
)]
async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, provider_id)): AppPath<(String, String)>,
    AppJson(mut patch): AppJson<ProviderPatch>,
) -> Result<AppJson<ProviderResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let provider = access.identity_provider(&state, &provider_id).await?;
    access.require(Role::Admin)?;
    let new_secret = patch.client_secret.take();
    let new_secret = new_secret.as_ref().map(ExposeSecret::expose_secret);
    let settings = patch.apply(provider.kind, provider.settings.to_input(provider.kind))?;
    let updated = identity_providers::update(
        &state,
        &access,
        &caller.actor(),
        &provider,
        settings,
        new_secret,
    )
    .await?;
    Ok(AppJson(ProviderResponse::new(&state, updated)))
}

/// Removes a provider; admins only.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}/identity-providers/{provider_id}",
    operation_id = "delete_identity_provider",
    tag = "identity-providers",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("provider_id" = Uuid, Path, description = PROVIDER_ID),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Removed"),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = NO_PROVIDER, body = ErrorBody),
        (status = CONFLICT, description = "A server signs its users in with it", body = ErrorBody),
    ),
)]
async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, provider_id)): AppPath<(String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    let provider = access.identity_provider(&state, &provider_id).await?;
    identity_providers::delete(&state, &access, &caller.actor(), &provider).await?;
    Ok(StatusCode::NO_CONTENT)
}
