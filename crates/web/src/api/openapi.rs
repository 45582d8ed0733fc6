//! The API's OpenAPI 3.1 document, served at `/api/v1/openapi.json`.
//!
//! It is built from the handlers' `#[utoipa::path]` annotations as the router is (see
//! [`super::api_router`]), then [`finish`] adds the answers that come from the authentication
//! extractor, the JSON body extractor and the server rather than from the handler. The
//! repository keeps a copy in `docs/openapi.json`, which a test keeps current.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use utoipa::openapi::header::Header;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ArrayItems, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Items, Paged};
use crate::AppState;
use crate::error::ErrorBody;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "MCPlatform API",
        version = env!("CARGO_PKG_VERSION"),
        description = "The operations of the MCPlatform dashboard, for scripts and tools. \
            Errors answer `{\"code\", \"message\", \"field\"}` (see `ErrorBody`); ids are UUIDs; \
            times are RFC 3339. Authenticate with the session cookie of a login (and its CSRF \
            token in `x-csrf-token` on every change), or with an organization API key that has \
            the `management` scope."
    ),
    tags(
        (name = "auth", description = "Accounts and dashboard sessions"),
        (name = "organizations", description = "Organizations the caller belongs to"),
        (name = "servers", description = "Hosted MCP servers"),
        (name = "members", description = "Members, invitations and the email outbox"),
        (name = "api-keys", description = "Server and organization API keys"),
        (
            name = "oauth-clients",
            description = "The OAuth clients of a server: self-registered (RFC 7591) or \
                pre-registered"
        ),
        (
            name = "identity-providers",
            description = "The organization's upstream identity providers (GitHub, Google, \
                OpenID Connect, OAuth 2.0)"
        ),
        (
            name = "end-users",
            description = "Who used the hosted servers: end users, their sessions and each \
                session's requests"
        ),
        (name = "support", description = "Support tickets opened from editors with `get_support`"),
        (
            name = "walkthroughs",
            description = "Step-by-step walkthroughs delivered through `start_walkthrough` and \
                `get_next_step`: authoring, import/export, assignment to servers, analytics"
        ),
        (
            name = "analytics",
            description = "MCP analytics over telemetry sent to `/v1/{traces,metrics,logs}` and \
                the hosted servers' requests: overview, traces, logs"
        ),
        (
            name = "telemetry",
            description = "Export destinations: OTLP/HTTP receivers (any, Datadog, Grafana \
                Cloud) that accepted telemetry is forwarded to through a durable queue"
        ),
        (name = "audit", description = "The organization's audit log"),
        (name = "openapi", description = "This document"),
    ),
    components(schemas(ErrorBody)),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

/// The ways to authenticate (`ApiCaller` in `api/mod.rs`).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "mcplatform_session",
                "The session cookie that signup and login set (named \
                 `__Host-mcplatform_session` when the platform is served over HTTPS).",
            ))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-csrf-token",
                "The session's CSRF token (`csrf_token` in the answers of signup, login and \
                 `GET /api/v1/me`): needed beside the session cookie on every method but GET, \
                 HEAD and OPTIONS.",
            ))),
        );
        components.add_security_scheme(
            "management_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("mcpk_…")
                    .description(Some(
                        "An organization API key with the `management` scope: acts as an admin \
                         of that one organization, without a CSRF token.",
                    ))
                    .build(),
            ),
        );
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(document))
}

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi_document",
    tag = "openapi",
    responses((status = OK, description = "This document (OpenAPI 3.1)", body = Object)),
)]
async fn document(Extension(document): Extension<Arc<utoipa::openapi::OpenApi>>) -> Response {
    Json(document.as_ref()).into_response()
}

/// Completes the document collected from the handlers: lists refer to their item's schema,
/// and every operation gets the answers that come from outside its handler.
pub fn finish(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    if let Some(components) = document.components.as_mut() {
        refer_to_list_items(&mut components.schemas);
    }
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            add_common_errors(operation);
        }
    }
    document
}

/// utoipa 5 inlines the schema of a generic argument, so `Paged<ServerResponse>` would carry a
/// second copy of `McpServer`; point `items` at the item's own schema instead.
fn refer_to_list_items(schemas: &mut BTreeMap<String, RefOr<Schema>>) {
    let lists = [Items::<ErrorBody>::name(), Paged::<ErrorBody>::name()];
    let known: BTreeSet<String> = schemas.keys().cloned().collect();
    for (name, schema) in schemas.iter_mut() {
        let Some(item) = lists.iter().find_map(|list| name.strip_prefix(&format!("{list}_")))
        else {
            continue;
        };
        let RefOr::T(Schema::Object(list)) = schema else { continue };
        let Some(RefOr::T(Schema::Array(items))) = list.properties.get_mut("items") else {
            continue;
        };
        if known.contains(item) {
            items.items = ArrayItems::RefOrSchema(Box::new(Ref::from_schema_name(item).into()));
        }
    }
}

fn add_common_errors(operation: &mut Operation) {
    let authenticated = operation
        .security
        .as_ref()
        .is_some_and(|all| all.iter().any(|one| *one != SecurityRequirement::default()));
    if authenticated {
        add_error(
            operation,
            "401",
            "no valid session cookie or API key (`unauthorized`, with `WWW-Authenticate: Bearer`)",
        );
        add_error(
            operation,
            "403",
            "an API key without the `management` scope, or a change with the session cookie but \
             without its CSRF token (`csrf_failed`)",
        );
    }
    if operation.request_body.is_some() {
        add_error(operation, "400", "the body is not JSON (`bad_request`)");
        add_error(operation, "413", "the body is too large (`payload_too_large`)");
        add_error(
            operation,
            "415",
            "the body is not sent as `application/json` (`unsupported_media_type`)",
        );
        add_error(operation, "422", "the body does not have the expected shape (`invalid_body`)");
    }
    // Everything but this document itself reads the database.
    if authenticated || operation.request_body.is_some() {
        add_error(operation, "500", "an internal error (`internal`); its cause is only logged");
        add_error(operation, "503", "the database cannot be reached right now (`unavailable`)");
    }
}

/// Adds an error answer, or widens the description of one the handler documents already.
fn add_error(operation: &mut Operation, status: &str, description: &str) {
    let responses = &mut operation.responses.responses;
    if let Some(RefOr::T(existing)) = responses.get_mut(status) {
        existing.description = format!("{}; or {description}", existing.description);
        return;
    }
    let body = ContentBuilder::new().schema(Some(Ref::from_schema_name(ErrorBody::name()))).build();
    let mut first = description.chars();
    let capitalised: String =
        first.next().map(|c| c.to_ascii_uppercase()).into_iter().chain(first).collect();
    let mut response = ResponseBuilder::new().description(capitalised);
    if status == "401" {
        let challenge = ObjectBuilder::new().schema_type(Type::String).build();
        let mut header = Header::new(challenge);
        header.description = Some("`Bearer`".into());
        response = response.header("www-authenticate", header);
    }
    responses
        .insert(status.to_owned(), RefOr::T(response.content("application/json", body).build()));
}
