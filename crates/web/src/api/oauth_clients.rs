//! `/api/v1/orgs/{org_id}/servers/{server_id}/oauth-clients`: the OAuth clients of a server,
//! registered by themselves (RFC 7591) or pre-registered by the organization.

use axum::extract::State;
use axum::http::StatusCode;
use mcplatform_core::oauth::client::{
    ApplicationType, ClientMetadataInput, OAuthClient, RegistrationKind, TokenEndpointAuthMethod,
};
use mcplatform_core::org::Role;
use secrecy::ExposeSecret;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiCaller, PageQuery, Paged, says};
use crate::error::{ErrorBody, Result};
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::{ApiError, AppState, oauth_clients};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(list, create)).routes(routes!(revoke))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OAuthClient)]
pub struct ClientResponse {
    /// `mcp_client_…`: what the client sends as `client_id`.
    client_id: String,
    kind: RegistrationKind,
    /// The client's own name, or the host of its first redirect URI.
    display_name: String,
    client_name: Option<String>,
    client_uri: Option<String>,
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: TokenEndpointAuthMethod,
    grant_types: Vec<String>,
    scope: Option<String>,
    application_type: ApplicationType,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    revoked_at: Option<time::OffsetDateTime>,
}

impl From<OAuthClient> for ClientResponse {
    fn from(client: OAuthClient) -> Self {
        let display_name = client.metadata.display_name();
        let m = client.metadata;
        Self {
            client_id: client.client_id,
            kind: client.kind,
            display_name,
            client_name: m.client_name,
            client_uri: m.client_uri,
            redirect_uris: m.redirect_uris,
            token_endpoint_auth_method: m.token_endpoint_auth_method,
            grant_types: m.grant_types,
            scope: m.scope,
            application_type: m.application_type,
            created_at: client.created_at,
            revoked_at: client.revoked_at,
        }
    }
}

const SERVER_ID: &str = "The server's id";
const NO_SERVER: &str =
    "No such organization or server, or the caller is not in the organization (`not_found`)";

/// The server's clients, revoked ones included, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/servers/{server_id}/oauth-clients",
    operation_id = "list_oauth_clients",
    tag = "oauth-clients",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = SERVER_ID),
        PageQuery,
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "A page of clients, without secrets", body = Paged<ClientResponse>),
        (status = BAD_REQUEST, description = says::BAD_PAGE, body = ErrorBody),
        (status = NOT_FOUND, description = NO_SERVER, body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
    AppQuery(page): AppQuery<PageQuery>,
) -> Result<AppJson<Paged<ClientResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let clients = state.store.list_oauth_clients(access.org.id, server.id, page.request()).await?;
    Ok(AppJson(Paged::new(clients, ClientResponse::from)))
}

/// A pre-registered client and, when confidential, its secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CreatedOAuthClient)]
struct CreatedClientResponse {
    #[serde(flatten)]
    client: ClientResponse,
    /// `mcp_secret_…`, for `client_secret_basic` or `client_secret_post` clients.
    client_secret: Option<String>,
}

/// Pre-registers a client with RFC 7591 metadata; admins only. The same checks as dynamic
/// registration apply (redirect URIs HTTPS, loopback or an app scheme; supported grants).
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/servers/{server_id}/oauth-clients",
    operation_id = "create_oauth_client",
    tag = "oauth-clients",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = SERVER_ID),
    ),
    request_body = ClientMetadataInput,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = CREATED, description = "The client, and its secret", body = CreatedClientResponse),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = NO_SERVER, body = ErrorBody),
        (
            status = UNPROCESSABLE_ENTITY,
            description = "The metadata is invalid (`invalid_input` naming the `field`)",
            body = ErrorBody,
        ),
    ),
)]
async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id)): AppPath<(String, String)>,
    AppJson(body): AppJson<ClientMetadataInput>,
) -> Result<(StatusCode, AppJson<CreatedClientResponse>)> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    let new = oauth_clients::create(&state, &access, &caller.actor(), &server, body).await?;
    let client_secret = new.secret.as_ref().map(|s| s.expose_secret().to_owned());
    let client = new.client.into();
    Ok((StatusCode::CREATED, AppJson(CreatedClientResponse { client, client_secret })))
}

/// Revokes a client (registered either way) and every token it holds; admins only.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}/servers/{server_id}/oauth-clients/{client_id}",
    operation_id = "revoke_oauth_client",
    tag = "oauth-clients",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("server_id" = Uuid, Path, description = SERVER_ID),
        ("client_id" = String, Path, description = "The client's `client_id`"),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Revoked, with its tokens"),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = "No such unrevoked client of the server (`not_found`)", body = ErrorBody),
    ),
)]
async fn revoke(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, server_id, client_id)): AppPath<(String, String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    let server = access.server(&state, &server_id).await?;
    // Before the lookup: whether a client exists is for admins to learn.
    access.require(Role::Admin)?;
    let client =
        state.store.find_oauth_client(server.id, &client_id).await?.ok_or(ApiError::NotFound)?;
    oauth_clients::revoke(&state, &access, &caller.actor(), &server, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
