//! The organization's export destinations in the dashboard: each one's delivery status
//! (delivered, waiting, dropped, last success and error), and for admins the forms to add one
//! (any OTLP receiver, Datadog, Grafana Cloud), pause or resume it, test it and remove it.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use mcplatform_core::ValidationError;
use mcplatform_core::org::Role;
use mcplatform_core::telemetry::export::{
    DATADOG_SITES, Destination, DestinationKind, ExportEncoding, ExportSignal, Signals, Target,
    parse_header_list,
};
use serde::Deserialize;

use super::{
    Choice, Layout, PageForm, PageResult, PageSession, format_time, render, server_choices,
    server_names,
};
use crate::access::{Actor, OrgAccess};
use crate::auth::CurrentSession;
use crate::telemetry::export::{self, Connection, Settings, TestResult};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org_id}/telemetry/export", get(page_get).post(create_post))
        .route("/orgs/{org_id}/telemetry/export/{destination_id}/test", post(test_post))
        .route("/orgs/{org_id}/telemetry/export/{destination_id}/enabled", post(enabled_post))
        .route("/orgs/{org_id}/telemetry/export/{destination_id}/delete", post(delete_post))
}

/// The add form as typed: each kind has its own fields; only the chosen kind's are read.
#[derive(Debug, Default, Deserialize)]
struct AddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    server_id: String,
    #[serde(default)]
    traces: Option<String>,
    #[serde(default)]
    metrics: Option<String>,
    #[serde(default)]
    logs: Option<String>,
    #[serde(default)]
    otlp_endpoint: String,
    /// `name=value`, one a line.
    #[serde(default)]
    otlp_headers: String,
    #[serde(default)]
    otlp_encoding: String,
    #[serde(default)]
    dd_site: String,
    #[serde(default)]
    dd_api_key: String,
    #[serde(default)]
    grafana_endpoint: String,
    #[serde(default)]
    grafana_instance_id: String,
    #[serde(default)]
    grafana_token: String,
}

impl AddForm {
    fn settings(&self) -> Result<Settings, ApiError> {
        let kind: DestinationKind = self.kind.parse()?;
        let target = match kind {
            DestinationKind::Otlp => {
                let encoding = match self.otlp_encoding.as_str() {
                    "" => ExportEncoding::Protobuf,
                    other => other.parse()?,
                };
                let headers = parse_header_list(&self.otlp_headers)?;
                Target::otlp(&self.otlp_endpoint, headers, encoding)?
            }
            DestinationKind::Datadog => Target::datadog(&self.dd_site, &self.dd_api_key)?,
            DestinationKind::GrafanaCloud => Target::grafana_cloud(
                &self.grafana_endpoint,
                &self.grafana_instance_id,
                &self.grafana_token,
            )?,
        };
        let chosen: Vec<ExportSignal> = [
            (self.traces.is_some(), ExportSignal::Traces),
            (self.metrics.is_some(), ExportSignal::Metrics),
            (self.logs.is_some(), ExportSignal::Logs),
        ]
        .into_iter()
        .filter_map(|(on, signal)| on.then_some(signal))
        .collect();
        let server = match self.server_id.as_str() {
            "" => None,
            id => Some(id.parse().map_err(|_| {
                ValidationError::new("server_id", "is not a server of this organization")
            })?),
        };
        Ok(Settings {
            name: self.name.clone(),
            server,
            signals: Signals::from_list(&chosen)?,
            enabled: true,
            connection: Connection::New(target),
        })
    }
}

#[derive(Debug, Deserialize)]
struct EnabledForm {
    /// `1` to send, `0` to pause.
    enabled: String,
}

/// A destination as listed.
struct Row {
    id: String,
    name: String,
    kind: &'static str,
    endpoint: String,
    header_names: String,
    server: String,
    signals: String,
    encoding: &'static str,
    enabled: bool,
    delivered: i64,
    waiting: i64,
    waiting_items: i64,
    dropped: i64,
    last_success: Option<String>,
    last_error: Option<String>,
    last_error_at: Option<String>,
    /// Whether the last error came after the last success (else it is history).
    error_is_current: bool,
    retry_at: Option<String>,
}

#[derive(Template)]
#[template(path = "analytics/export.html")]
struct ExportView {
    layout: Layout,
    org_id: String,
    can_edit: bool,
    rows: Vec<Row>,
    servers: Vec<Choice>,
    sites: &'static [&'static str],
    form: AddForm,
    error: Option<String>,
    /// The destination tested, and what each signal got.
    tested: Option<(String, Vec<TestResult>)>,
}

fn kind_label(kind: DestinationKind) -> &'static str {
    match kind {
        DestinationKind::Otlp => "OTLP/HTTP",
        DestinationKind::Datadog => "Datadog",
        DestinationKind::GrafanaCloud => "Grafana Cloud",
    }
}

async fn view(
    state: &AppState,
    current: &CurrentSession,
    access: &OrgAccess,
) -> Result<ExportView, ApiError> {
    let names = server_names(state, access).await?;
    let rows = state
        .store
        .list_destinations(access.org.id)
        .await?
        .into_iter()
        .map(|d: Destination| {
            let signals = d.signals.list();
            Row {
                id: d.id.to_string(),
                kind: kind_label(d.kind),
                endpoint: d.endpoint.to_string(),
                header_names: d.header_names.join(", "),
                server: match d.mcp_server_id {
                    None => "All servers".to_owned(),
                    Some(id) => names.get(&id).cloned().unwrap_or_else(|| id.to_string()),
                },
                signals: signals.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                encoding: d.encoding.as_str(),
                enabled: d.enabled,
                delivered: d.status.delivered_requests,
                waiting: d.status.backlog_requests,
                waiting_items: d.status.backlog_items,
                dropped: d.status.dropped_requests,
                last_success: d.status.last_success_at.map(format_time),
                last_error: d.status.last_error,
                last_error_at: d.status.last_error_at.map(format_time),
                error_is_current: d.status.last_error_at > d.status.last_success_at,
                retry_at: d.status.retry_at.map(format_time),
                name: d.name,
            }
        })
        .collect();
    Ok(ExportView {
        layout: Layout::for_session("Telemetry export", current).in_org(access),
        org_id: access.org.id.to_string(),
        can_edit: access.role.at_least(Role::Admin),
        rows,
        servers: server_choices(&names),
        sites: &DATADOG_SITES,
        form: AddForm {
            kind: "otlp".into(),
            traces: Some("1".into()),
            metrics: Some("1".into()),
            logs: Some("1".into()),
            dd_site: DATADOG_SITES[0].into(),
            ..AddForm::default()
        },
        error: None,
        tested: None,
    })
}

async fn page_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    Ok(render(StatusCode::OK, &view(&state, &current, &access).await?))
}

async fn create_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    PageForm(form): PageForm<AddForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    access.require(Role::Admin)?;
    let created = match form.settings() {
        Ok(settings) => export::create(&state, &access, &Actor::from(&current), settings).await,
        Err(err) => Err(err),
    };
    let mut page = view(&state, &current, &access).await?;
    match created {
        Ok(destination) => {
            let notice =
                format!("{} added: it receives what is accepted from now on.", destination.name);
            page.layout = page.layout.with_notice(Some(notice));
            Ok(render(StatusCode::OK, &page))
        }
        Err(ApiError::Validation(err)) => {
            // Secrets typed are not sent back.
            page.form = AddForm { dd_api_key: String::new(), grafana_token: String::new(), ..form };
            page.error = Some(err.to_string());
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(err) => Err(err.into()),
    }
}

async fn test_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id)): Path<(String, String)>,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let stored = export::find(&state, &access, &id).await?;
    let results = export::send_test(&state, &access, &stored).await?;
    let mut page = view(&state, &current, &access).await?;
    page.tested = Some((stored.destination.name, results));
    Ok(render(StatusCode::OK, &page))
}

async fn enabled_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id)): Path<(String, String)>,
    PageForm(form): PageForm<EnabledForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let stored = export::find(&state, &access, &id).await?;
    let saved = &stored.destination;
    let enabled = form.enabled == "1";
    let settings = Settings {
        name: saved.name.clone(),
        server: saved.mcp_server_id,
        signals: saved.signals,
        enabled,
        connection: Connection::Keep { encoding: None },
    };
    export::update(&state, &access, &Actor::from(&current), &stored, settings).await?;
    let mut page = view(&state, &current, &access).await?;
    let notice = if enabled {
        format!("{} receives telemetry again.", saved.name)
    } else {
        format!("{} is paused: nothing is queued for it until it is resumed.", saved.name)
    };
    page.layout = page.layout.with_notice(Some(notice));
    Ok(render(StatusCode::OK, &page))
}

async fn delete_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, id)): Path<(String, String)>,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let stored = export::find(&state, &access, &id).await?;
    export::delete(&state, &access, &Actor::from(&current), &stored.destination).await?;
    let mut page = view(&state, &current, &access).await?;
    page.layout = page.layout.with_notice(Some(format!("{} removed.", stored.destination.name)));
    Ok(render(StatusCode::OK, &page))
}
