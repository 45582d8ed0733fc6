//! `/api/v1/orgs/{org_id}/telemetry/destinations`: where the organization's telemetry is
//! forwarded (any OTLP/HTTP receiver, Datadog, Grafana Cloud), with each one's delivery status.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use mcplatform_core::ValidationError;
use mcplatform_core::ids::McpServerId;
use mcplatform_core::org::Role;
use mcplatform_core::telemetry::export::{
    Destination, DestinationKind, ExportEncoding, ExportHeader, ExportSignal, Signals, Target,
    signal_url,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiCaller, Items, says};
use crate::error::{ErrorBody, Result};
use crate::extract::{AppJson, AppPath};
use crate::telemetry::export::{self, Connection, Settings};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list, create))
        .routes(routes!(read, update, delete))
        .routes(routes!(send_test))
}

const DESTINATION_ID: &str = "The destination's id";
const NO_DESTINATION: &str =
    "No such organization or destination, or the caller is not in the organization (`not_found`)";
const BAD_SETTINGS: &str = "A field is invalid or belongs to another kind, or the endpoint is \
    refused by the outbound policy (`invalid_input` naming the `field`), or the body has an \
    unknown field (`invalid_body`)";

/// How delivery goes.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ExportStatus)]
pub struct StatusBody {
    #[serde(with = "time::serde::rfc3339::option")]
    last_success_at: Option<time::OffsetDateTime>,
    last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    last_error_at: Option<time::OffsetDateTime>,
    /// Requests delivered since the destination was added.
    delivered_requests: i64,
    /// Requests given up: refused by the destination as bad (400, 413…), or waiting a day.
    dropped_requests: i64,
    /// Requests waiting, and the spans, data points and log records in them.
    backlog_requests: i64,
    backlog_items: i64,
    /// Failed attempts since the last success.
    consecutive_failures: u32,
    /// Nothing is sent before this, after a failure.
    #[serde(with = "time::serde::rfc3339::option")]
    retry_at: Option<time::OffsetDateTime>,
}

/// A destination as the API shows it: header values (API keys) are never returned.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ExportDestination)]
pub struct DestinationResponse {
    #[schema(format = Uuid)]
    id: String,
    #[schema(format = Uuid)]
    organization_id: String,
    /// The one server whose telemetry goes there; null for every server.
    #[schema(format = Uuid)]
    server_id: Option<String>,
    name: String,
    kind: DestinationKind,
    /// The receiver's base URL.
    endpoint: String,
    /// Where each signal is posted.
    urls: BTreeMap<String, String>,
    header_names: Vec<String>,
    encoding: ExportEncoding,
    signals: Vec<ExportSignal>,
    enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: time::OffsetDateTime,
    status: StatusBody,
}

impl From<Destination> for DestinationResponse {
    fn from(d: Destination) -> Self {
        let urls = d
            .signals
            .list()
            .into_iter()
            .map(|signal| (signal.as_str().to_owned(), signal_url(&d.endpoint, signal)))
            .collect();
        let s = d.status;
        Self {
            id: d.id.to_string(),
            organization_id: d.organization_id.to_string(),
            server_id: d.mcp_server_id.map(|id| id.to_string()),
            name: d.name,
            kind: d.kind,
            endpoint: d.endpoint.to_string(),
            urls,
            header_names: d.header_names,
            encoding: d.encoding,
            signals: d.signals.list(),
            enabled: d.enabled,
            created_at: d.created_at,
            updated_at: d.updated_at,
            status: StatusBody {
                last_success_at: s.last_success_at,
                last_error: s.last_error,
                last_error_at: s.last_error_at,
                delivered_requests: s.delivered_requests,
                dropped_requests: s.dropped_requests,
                backlog_requests: s.backlog_requests,
                backlog_items: s.backlog_items,
                consecutive_failures: s.consecutive_failures,
                retry_at: s.retry_at,
            },
        }
    }
}

/// Where and how to connect. `otlp` takes `endpoint` (the base URL: `/v1/traces`… are
/// added), optional `headers` and `encoding`; `datadog` takes `site` and `api_key`;
/// `grafana_cloud` takes `endpoint` (the OTLP gateway, ending in `/otlp`), `instance_id` and
/// `token`.
#[derive(Debug, Default)]
struct ConnectionFields {
    endpoint: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    encoding: Option<ExportEncoding>,
    site: Option<String>,
    api_key: Option<SecretString>,
    instance_id: Option<String>,
    token: Option<SecretString>,
}

impl ConnectionFields {
    fn any_given(&self) -> bool {
        self.endpoint.is_some()
            || self.headers.is_some()
            || self.site.is_some()
            || self.api_key.is_some()
            || self.instance_id.is_some()
            || self.token.is_some()
    }

    /// The connection of `kind`; a field another kind takes is an error, not ignored.
    fn target(self, kind: DestinationKind) -> Result<Target> {
        let missing =
            |field: &'static str| ValidationError::new(field, "is required for this kind");
        let foreign = |field: &'static str| {
            ValidationError::new(
                field,
                format!("is not a setting of a {} destination", kind.as_str()),
            )
        };
        let secret = |value: Option<SecretString>, field| {
            value.map(|v| v.expose_secret().to_owned()).ok_or_else(|| missing(field))
        };
        let target = match kind {
            DestinationKind::Otlp => {
                for (given, field) in [
                    (self.site.is_some(), "site"),
                    (self.api_key.is_some(), "api_key"),
                    (self.instance_id.is_some(), "instance_id"),
                    (self.token.is_some(), "token"),
                ] {
                    if given {
                        return Err(foreign(field).into());
                    }
                }
                let headers = self
                    .headers
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(name, value)| ExportHeader { name, value })
                    .collect();
                let endpoint = self.endpoint.ok_or_else(|| missing("endpoint"))?;
                Target::otlp(&endpoint, headers, self.encoding.unwrap_or_default())?
            }
            DestinationKind::Datadog => {
                for (given, field) in [
                    (self.endpoint.is_some(), "endpoint"),
                    (self.headers.is_some(), "headers"),
                    (self.instance_id.is_some(), "instance_id"),
                    (self.token.is_some(), "token"),
                    (self.encoding == Some(ExportEncoding::Json), "encoding"),
                ] {
                    if given {
                        return Err(foreign(field).into());
                    }
                }
                let site = self.site.ok_or_else(|| missing("site"))?;
                Target::datadog(&site, &secret(self.api_key, "api_key")?)?
            }
            DestinationKind::GrafanaCloud => {
                for (given, field) in [
                    (self.site.is_some(), "site"),
                    (self.api_key.is_some(), "api_key"),
                    (self.headers.is_some(), "headers"),
                    (self.encoding == Some(ExportEncoding::Json), "encoding"),
                ] {
                    if given {
                        return Err(foreign(field).into());
                    }
                }
                let endpoint = self.endpoint.ok_or_else(|| missing("endpoint"))?;
                let instance_id = self.instance_id.ok_or_else(|| missing("instance_id"))?;
                Target::grafana_cloud(&endpoint, &instance_id, &secret(self.token, "token")?)?
            }
        };
        Ok(target)
    }
}

/// A new destination. It receives the telemetry accepted from now on.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = NewExportDestination)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    /// 1 to 100 characters.
    name: String,
    kind: DestinationKind,
    /// Only this server's telemetry; absent or null for every server.
    #[schema(format = Uuid)]
    server_id: Option<String>,
    /// Default: all three.
    signals: Option<Vec<ExportSignal>>,
    /// Default: true.
    enabled: Option<bool>,
    /// `otlp`: the receiver's base URL; `grafana_cloud`: the OTLP gateway URL.
    endpoint: Option<String>,
    /// `otlp`: headers to send, such as an API key. Write-only: values are stored sealed.
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    headers: Option<BTreeMap<String, String>>,
    /// `otlp`: `protobuf` (default) or `json`; the presets send protobuf.
    encoding: Option<ExportEncoding>,
    /// `datadog`: the site, such as `datadoghq.com` or `datadoghq.eu`.
    site: Option<String>,
    /// `datadog`: the API key. Write-only.
    #[schema(value_type = Option<String>)]
    api_key: Option<SecretString>,
    /// `grafana_cloud`: the stack's numeric instance id.
    instance_id: Option<String>,
    /// `grafana_cloud`: an access-policy token. Write-only.
    #[schema(value_type = Option<String>)]
    token: Option<SecretString>,
}

/// Fields to change; absent ones keep their value. Giving `kind` or any connection field
/// replaces the whole connection, so give all of its fields (secrets included).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ExportDestinationPatch)]
#[serde(deny_unknown_fields)]
struct PatchRequest {
    name: Option<String>,
    kind: Option<DestinationKind>,
    /// A server's id, or null for every server.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(format = Uuid, value_type = Option<String>)]
    server_id: Option<Option<String>>,
    signals: Option<Vec<ExportSignal>>,
    enabled: Option<bool>,
    endpoint: Option<String>,
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    headers: Option<BTreeMap<String, String>>,
    encoding: Option<ExportEncoding>,
    site: Option<String>,
    #[schema(value_type = Option<String>)]
    api_key: Option<SecretString>,
    instance_id: Option<String>,
    #[schema(value_type = Option<String>)]
    token: Option<SecretString>,
}

fn server_id(raw: Option<&str>) -> Result<Option<McpServerId>> {
    raw.map(|id| {
        id.parse().map_err(|_| {
            ApiError::from(ValidationError::new(
                "server_id",
                "is not a server of this organization",
            ))
        })
    })
    .transpose()
}

/// The organization's destinations, oldest first, with their status; any member may look.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/telemetry/destinations",
    operation_id = "list_export_destinations",
    tag = "telemetry",
    params(("org_id" = Uuid, Path, description = says::ORG_ID)),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "Every destination, without header values", body = Items<DestinationResponse>),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
) -> Result<AppJson<Items<DestinationResponse>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let destinations = state.store.list_destinations(access.org.id).await?;
    Ok(AppJson(Items { items: destinations.into_iter().map(Into::into).collect() }))
}

/// Adds a destination; admins only.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/telemetry/destinations",
    operation_id = "create_export_destination",
    tag = "telemetry",
    params(("org_id" = Uuid, Path, description = says::ORG_ID)),
    request_body = CreateRequest,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = CREATED, description = "The new destination", body = DestinationResponse),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = says::NO_ORG, body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = BAD_SETTINGS, body = ErrorBody),
    ),
)]
async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath(org_id): AppPath<String>,
    AppJson(body): AppJson<CreateRequest>,
) -> Result<(StatusCode, AppJson<DestinationResponse>)> {
    let access = caller.org_access(&state, &org_id).await?;
    access.require(Role::Admin)?;
    let fields = ConnectionFields {
        endpoint: body.endpoint,
        headers: body.headers,
        encoding: body.encoding,
        site: body.site,
        api_key: body.api_key,
        instance_id: body.instance_id,
        token: body.token,
    };
    let settings = Settings {
        name: body.name,
        server: server_id(body.server_id.as_deref())?,
        signals: body.signals.map_or(Ok(Signals::ALL), |list| Signals::from_list(&list))?,
        enabled: body.enabled.unwrap_or(true),
        connection: Connection::New(fields.target(body.kind)?),
    };
    let created = export::create(&state, &access, &caller.actor(), settings).await?;
    Ok((StatusCode::CREATED, AppJson(created.into())))
}

/// One destination with its status.
#[utoipa::path(
    get,
    path = "/orgs/{org_id}/telemetry/destinations/{destination_id}",
    operation_id = "get_export_destination",
    tag = "telemetry",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("destination_id" = Uuid, Path, description = DESTINATION_ID),
    ),
    security(("session" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The destination", body = DestinationResponse),
        (status = NOT_FOUND, description = NO_DESTINATION, body = ErrorBody),
    ),
)]
async fn read(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, id)): AppPath<(String, String)>,
) -> Result<AppJson<DestinationResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    Ok(AppJson(export::find(&state, &access, &id).await?.destination.into()))
}

/// Changes a destination; admins only. Its waiting requests stay, and a destination that
/// was backing off after failures is tried again at once.
#[utoipa::path(
    patch,
    path = "/orgs/{org_id}/telemetry/destinations/{destination_id}",
    operation_id = "update_export_destination",
    tag = "telemetry",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("destination_id" = Uuid, Path, description = DESTINATION_ID),
    ),
    request_body = PatchRequest,
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "The destination as saved", body = DestinationResponse),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = NO_DESTINATION, body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = BAD_SETTINGS, body = ErrorBody),
    ),
)]
async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, id)): AppPath<(String, String)>,
    AppJson(patch): AppJson<PatchRequest>,
) -> Result<AppJson<DestinationResponse>> {
    let access = caller.org_access(&state, &org_id).await?;
    let current = export::find(&state, &access, &id).await?;
    access.require(Role::Admin)?;
    let saved = &current.destination;
    let fields = ConnectionFields {
        endpoint: patch.endpoint,
        headers: patch.headers,
        encoding: patch.encoding,
        site: patch.site,
        api_key: patch.api_key,
        instance_id: patch.instance_id,
        token: patch.token,
    };
    let connection = if patch.kind.is_some() || fields.any_given() {
        Connection::New(fields.target(patch.kind.unwrap_or(saved.kind))?)
    } else {
        Connection::Keep { encoding: fields.encoding }
    };
    let server = match patch.server_id {
        Some(server) => server_id(server.as_deref())?,
        None => saved.mcp_server_id,
    };
    let settings = Settings {
        name: patch.name.unwrap_or_else(|| saved.name.clone()),
        server,
        signals: patch.signals.map_or(Ok(saved.signals), |list| Signals::from_list(&list))?,
        enabled: patch.enabled.unwrap_or(saved.enabled),
        connection,
    };
    let updated = export::update(&state, &access, &caller.actor(), &current, settings).await?;
    Ok(AppJson(updated.into()))
}

/// Removes a destination and the requests waiting for it; admins only.
#[utoipa::path(
    delete,
    path = "/orgs/{org_id}/telemetry/destinations/{destination_id}",
    operation_id = "delete_export_destination",
    tag = "telemetry",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("destination_id" = Uuid, Path, description = DESTINATION_ID),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = NO_CONTENT, description = "Removed"),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = NO_DESTINATION, body = ErrorBody),
    ),
)]
async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, id)): AppPath<(String, String)>,
) -> Result<StatusCode> {
    let access = caller.org_access(&state, &org_id).await?;
    let current = export::find(&state, &access, &id).await?;
    export::delete(&state, &access, &caller.actor(), &current.destination).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One signal's test message.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ExportTestResult)]
pub struct TestResultBody {
    signal: ExportSignal,
    url: String,
    delivered: bool,
    /// Why not, when not delivered: the answer's status and body, or the connection error.
    error: Option<String>,
}

/// Sends a test span, gauge point or log record (one for each signal the destination takes)
/// and answers what each got; admins only. The outcome also becomes the destination's status.
#[utoipa::path(
    post,
    path = "/orgs/{org_id}/telemetry/destinations/{destination_id}/test",
    operation_id = "test_export_destination",
    tag = "telemetry",
    params(
        ("org_id" = Uuid, Path, description = says::ORG_ID),
        ("destination_id" = Uuid, Path, description = DESTINATION_ID),
    ),
    security(("session" = [], "csrf" = []), ("management_key" = [])),
    responses(
        (status = OK, description = "What each test message got", body = Items<TestResultBody>),
        (status = FORBIDDEN, description = says::NOT_ADMIN, body = ErrorBody),
        (status = NOT_FOUND, description = NO_DESTINATION, body = ErrorBody),
    ),
)]
async fn send_test(
    State(state): State<AppState>,
    caller: ApiCaller,
    AppPath((org_id, id)): AppPath<(String, String)>,
) -> Result<AppJson<Items<TestResultBody>>> {
    let access = caller.org_access(&state, &org_id).await?;
    let current = export::find(&state, &access, &id).await?;
    let results = export::send_test(&state, &access, &current).await?;
    Ok(AppJson(Items {
        items: results
            .into_iter()
            .map(|r| TestResultBody {
                signal: r.signal,
                url: r.url,
                delivered: r.error.is_none(),
                error: r.error,
            })
            .collect(),
    }))
}
