//! Hosted MCP servers: the MCP endpoint of every server (`/mcp`, `/api/mcpserver/mcp` and
//! `/api/mcpserver/{tracking_id}/mcp`, on `{slug}.{base host}` and under `/s/{slug}`).
//!
//! rmcp serves Streamable HTTP for every protocol revision, chosen per request (stateful
//! sessions for 2025-06-18 and 2025-11-25, stateless 2026-07-28). In front of it this module
//! finds the server, checks Host and Origin (DNS rebinding), recognises the end user (OAuth
//! bearer, tracking link), and keeps every session bound to its user; behind it,
//! [`handler::HostedHandler`] answers with the server's tools and records each request.

mod cache;
mod fixture;
mod handler;
pub mod recorder;
mod sessions;
mod support;
mod tools;
mod walkthroughs;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use mcplatform_core::hosting::{
    IdentitySource, McpRequestRecord, McpSession, SessionKind, TrackingId, TrackingLink,
    client_text, public_session_id,
};
use mcplatform_core::ids::{EndUserId, McpServerId};
use mcplatform_core::mcp_server::{AuthMode, McpServer, Slug};
use mcplatform_core::oauth::{ServerOrigin, UrlForm};
use mcplatform_core::walkthrough::Walkthrough;
use rmcp::model::{InitializeRequestParams, ProtocolVersion};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;

use self::cache::TtlCache;
use self::handler::HostedHandler;
use self::recorder::RequestLog;
use crate::config::CONFORMANCE_SLUG;
use crate::extract::authorization;
use crate::oauth::introspection::validate_access_token;
use crate::oauth::pages::same_origin;
use crate::router::request_host;
use crate::{ApiError, AppState};

/// How long a node trusts what it looked up; its own changes are seen at once.
const CACHE_TTL: Duration = Duration::from_secs(5);
const CACHE_ENTRIES: usize = 50_000;
/// How long a refused merge is remembered (it stays refused; this only bounds the memory).
const UNMERGEABLE_TTL: Duration = Duration::from_secs(600);
/// A tracking link's last use is written at most this often.
const LINK_TOUCH_INTERVAL: Duration = Duration::from_secs(60);
/// The longest client name, version and user agent kept.
pub(crate) const MAX_CLIENT_NAME: usize = 200;
pub(crate) const MAX_CLIENT_VERSION: usize = 100;
const MAX_USER_AGENT: usize = 500;

/// What every request of the hosted servers shares: caches and the request log.
#[derive(Debug)]
pub struct Hosting {
    /// Servers found: an unknown slug is looked up each time, as for links.
    servers: TtlCache<Slug, Arc<McpServer>>,
    sessions: TtlCache<String, McpSession>,
    /// Live links only: an unknown id is looked up each time (caching misses would let random
    /// ids crowd out the links in use).
    links: TtlCache<TrackingId, TrackingLink>,
    /// Links whose use was written in the last minute.
    touched: TtlCache<TrackingId, ()>,
    derived: TtlCache<(McpServerId, String), String>,
    /// A link and a signed-in user whose placeholder merge was refused (the link's user is a
    /// real one): the answer does not change, so it is not asked for on every request.
    unmergeable: TtlCache<(TrackingId, EndUserId), ()>,
    /// What each server offers of walkthroughs (`tools/list` asks on every request).
    offered: TtlCache<McpServerId, Arc<Vec<Walkthrough>>>,
    pub log: RequestLog,
}

impl Default for Hosting {
    fn default() -> Self {
        Self {
            servers: TtlCache::new(CACHE_TTL, CACHE_ENTRIES),
            sessions: TtlCache::new(CACHE_TTL, CACHE_ENTRIES),
            links: TtlCache::new(CACHE_TTL, CACHE_ENTRIES),
            touched: TtlCache::new(LINK_TOUCH_INTERVAL, CACHE_ENTRIES),
            derived: TtlCache::new(CACHE_TTL, CACHE_ENTRIES),
            unmergeable: TtlCache::new(UNMERGEABLE_TTL, CACHE_ENTRIES),
            offered: TtlCache::new(CACHE_TTL, CACHE_ENTRIES),
            log: RequestLog::default(),
        }
    }
}

impl Hosting {
    /// A server's settings changed (or it is gone): the next request reads them again.
    pub fn forget_server(&self, slug: &Slug) {
        self.servers.remove(slug);
    }

    /// A server's walkthroughs changed (assignments, or a walkthrough's status).
    pub fn forget_offered(&self, server: McpServerId) {
        self.offered.remove(&server);
    }

    pub fn forget_link(&self, tracking_id: &TrackingId) {
        self.links.remove(tracking_id);
    }

    fn forget_session(&self, id: &str) {
        self.sessions.remove(id);
    }
}

type McpService = StreamableHttpService<HostedHandler, LocalSessionManager>;

pub fn router(state: &AppState) -> Router<AppState> {
    let factory_state = state.clone();
    let mut config = StreamableHttpServerConfig::default()
        // Host and Origin are checked here against the server's own names (`check_host_and_origin`).
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_max_request_body_bytes(state.config.max_body_bytes);
    config.session_store = Some(Arc::new(sessions::StoredSessions {
        store: state.store.clone(),
        clock: state.clock.clone(),
    }));
    let service: Arc<McpService> = Arc::new(StreamableHttpService::new(
        move || Ok(HostedHandler::new(factory_state.clone())),
        Arc::new(LocalSessionManager::default()),
        config.clone(),
    ));
    // Test runs only: the `conformance` server serves the suite's fixture, through this same
    // endpoint (admission, sessions, recording).
    let fixture_state = state.clone();
    let fixture: Option<Arc<McpService>> = state.config.conformance_fixture.then(|| {
        Arc::new(StreamableHttpService::new(
            move || Ok(HostedHandler::fixture(fixture_state.clone())),
            Arc::new(LocalSessionManager::default()),
            config,
        ))
    });
    let endpoint = move |State(state): State<AppState>, request: Request| {
        let service = service.clone();
        let fixture = fixture.clone();
        async move {
            match admit(&state, request).await {
                Ok((request, caller)) => {
                    let service = match fixture {
                        Some(fixture) if caller.server.slug.as_str() == CONFORMANCE_SLUG => fixture,
                        _ => service,
                    };
                    handle(&state, &service, request, caller).await
                }
                Err(refusal) => *refusal,
            }
        }
    };
    Router::new()
        .route("/s/{slug}/mcp", any(endpoint.clone()))
        .route("/s/{slug}/api/mcpserver/mcp", any(endpoint.clone()))
        .route("/s/{slug}/api/mcpserver/{tracking_id}/mcp", any(endpoint))
}

/// Who is calling, as the handler sees it (in the request's extensions).
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub server: Arc<McpServer>,
    pub identity: Identity,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The `Mcp-Session-Id` of a request in a stateful session; none for a stateless one.
    pub session_id: Option<String>,
    /// The `initialize` parameters and record of this request, for its session row.
    pub initialize: Arc<Mutex<Option<(InitializeRequestParams, McpRequestRecord)>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    pub end_user: Option<EndUserId>,
    pub source: IdentitySource,
}

impl Identity {
    const ANONYMOUS: Self = Self { end_user: None, source: IdentitySource::None };
}

/// An answer given in the MCP layer's place (boxed: a response is large).
type Refusal = Box<Response>;

/// A refusal before the request reaches the MCP layer, as a JSON-RPC error without an id.
fn refuse(status: StatusCode, message: &str) -> Refusal {
    let code = match status {
        StatusCode::NOT_FOUND => -32001,
        _ => -32600,
    };
    let body = json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}});
    Box::new(
        (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response(),
    )
}

fn failed(err: impl Into<ApiError>) -> Refusal {
    Box::new(err.into().into_response())
}

/// Finds the server and the caller, or answers in their place.
async fn admit(state: &AppState, request: Request) -> Result<(Request, Caller), Refusal> {
    let (mut parts, body) = request.into_parts();
    // Raw parameters: a segment that is not UTF-8 is just an unknown server or link.
    let params = RawPathParams::from_request_parts(&mut parts, state).await.ok();
    let param = |name: &str| {
        params.as_ref().and_then(|params| params.iter().find(|(n, _)| *n == name).map(|(_, v)| v))
    };
    let slug = param("slug").and_then(|slug| Slug::parse(slug).ok());
    let server = match slug {
        Some(slug) => find_server(state, &slug).await.map_err(failed)?,
        None => None,
    };
    let Some(server) = server.filter(|server| server.settings.enabled) else {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            "There is no MCP server at this address (unknown or disabled).",
        ));
    };
    let form = parts.extensions.get::<UrlForm>().copied().unwrap_or(UrlForm::Path);
    check_host_and_origin(state, &parts, &server.slug, form)?;
    let link = match param("tracking_id") {
        Some(id) => Some(find_link(state, &server, id).await?),
        None => None,
    };
    let mut identity = match server.settings.auth_mode {
        AuthMode::PlatformOauth | AuthMode::CustomOauth => {
            let origin = ServerOrigin::new(&state.config.base_url, &server.slug, form);
            let user = bearer_user(state, &server, &origin, &parts).await?;
            if let Some(link) = &link
                && link.end_user_id != user
            {
                merge_link_user(state, &server, link, user).await.map_err(failed)?;
            }
            Identity { end_user: Some(user), source: IdentitySource::Oauth }
        }
        _ => match &link {
            Some(link) => {
                Identity { end_user: Some(link.end_user_id), source: IdentitySource::Tracking }
            }
            None => Identity::ANONYMOUS,
        },
    };
    if let Some(link) = &link {
        touch_link(state, link).await;
    }
    let session_id = match session_header(&parts.headers).map(|raw| public_session_id(&raw)) {
        Some(id) => {
            // A session named is always checked: even a stateless (2026-07-28) request may
            // not act on someone else's session (rmcp still routes its `initialize` there).
            let modern = is_stateless(&parts.headers);
            match find_session(state, &id).await.map_err(failed)? {
                Some(session) if sessions::belongs_to(&session, server.id, identity) => {
                    if identity.end_user.is_none() {
                        identity = Identity {
                            end_user: session.end_user_id,
                            source: session.identity_source,
                        };
                    }
                    (!modern).then_some(id)
                }
                // Unknown to a stateless request: its revision says to ignore the header.
                None if modern => None,
                // Another user's, another server's, closed or unknown: all the same to them.
                _ => return Err(refuse(StatusCode::NOT_FOUND, "Session not found")),
            }
        }
        None => None,
    };
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|ua| ua.to_str().ok())
        .map(|ua| client_text(ua, MAX_USER_AGENT));
    let caller = Caller {
        server,
        identity,
        ip: crate::auth::session::client_ip(&parts.extensions),
        user_agent,
        session_id,
        initialize: Arc::default(),
    };
    parts.extensions.insert(caller.clone());
    Ok((Request::from_parts(parts, body), caller))
}

/// Hands the request to rmcp, then keeps the session table in step with what it did.
async fn handle(
    state: &AppState,
    service: &McpService,
    request: Request,
    caller: Caller,
) -> Response {
    let is_delete = request.method() == axum::http::Method::DELETE;
    let sent_json = is_json(request.headers());
    let response = service.handle(request).await.map(Body::new);
    // rmcp answers a JSON body it cannot parse with 415; the body was of the right type, so
    // say what JSON-RPC says of it: a parse error (-32700), with 400.
    if sent_json && response.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        let body = json!({"jsonrpc": "2.0", "id": null, "error": {
            "code": -32700, "message": "Parse error: the body is not a JSON-RPC message",
        }});
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
    }
    let initialized = caller.initialize.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(id) = &caller.session_id {
        if is_delete && response.status().is_success() {
            state.hosting.forget_session(id);
        }
        // An `initialize` again inside a session is recorded in it.
        if let Some((_, mut record)) = initialized {
            record.session_id = Some(id.clone());
            state.hosting.log.record(record);
        }
        return response;
    }
    let new_session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|id| id.to_str().ok())
        .map(public_session_id);
    let Some((params, mut record)) = initialized else { return response };
    let Some(id) = new_session else {
        // Answered without a session (stateless, or refused): recorded as it is.
        state.hosting.log.record(record);
        return response;
    };
    let now = state.clock.now();
    let session = McpSession {
        id: id.clone(),
        organization_id: caller.server.organization_id,
        mcp_server_id: caller.server.id,
        end_user_id: caller.identity.end_user,
        identity_source: caller.identity.source,
        kind: SessionKind::Stateful,
        protocol_version: record
            .protocol_version
            .clone()
            .unwrap_or_else(|| client_text(params.protocol_version.as_str(), MAX_CLIENT_VERSION)),
        client_name: Some(client_text(&params.client_info.name, MAX_CLIENT_NAME)),
        client_version: Some(client_text(&params.client_info.version, MAX_CLIENT_VERSION)),
        ip: caller.ip.clone(),
        user_agent: caller.user_agent.clone(),
        derivation_key: None,
        first_seen_at: now,
        last_seen_at: now,
        closed_at: None,
    };
    // What rmcp needs to restore the session on another node (or after a restart).
    let restorable = rmcp::transport::streamable_http_server::session::SessionState::new(params);
    let restorable = serde_json::to_string(&restorable).ok();
    if let Err(err) = state.store.create_mcp_session(&session, restorable.as_deref()).await {
        tracing::error!(error = ?err, "cannot record a new MCP session");
        return ApiError::from(err).into_response();
    }
    state.hosting.sessions.insert(id.clone(), session);
    record.session_id = Some(id);
    state.hosting.log.record(record);
    response
}

/// `Content-Type: application/json` (the media type, any case, any parameters).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The first person to sign in through a tracking link takes its placeholder user's history
/// (they are who the link was given to); anyone later stays their own.
async fn merge_link_user(
    state: &AppState,
    server: &McpServer,
    link: &TrackingLink,
    user: EndUserId,
) -> Result<(), ApiError> {
    let key = (link.tracking_id.clone(), user);
    if state.hosting.unmergeable.get(&key).is_some() {
        return Ok(());
    }
    // What the placeholder did and is not written yet goes with it.
    state.hosting.log.flush(state).await;
    if state.store.merge_end_users(server.organization_id, link.end_user_id, user).await? {
        state.hosting.forget_link(&link.tracking_id);
    } else {
        state.hosting.unmergeable.insert(key, ());
    }
    Ok(())
}

async fn find_server(state: &AppState, slug: &Slug) -> Result<Option<Arc<McpServer>>, ApiError> {
    if let Some(found) = state.hosting.servers.get(slug) {
        return Ok(Some(found));
    }
    let found = state.store.find_mcp_server_by_slug(slug).await?.map(Arc::new);
    if let Some(server) = &found {
        state.hosting.servers.insert(slug.clone(), server.clone());
    }
    Ok(found)
}

async fn find_session(state: &AppState, id: &str) -> Result<Option<McpSession>, ApiError> {
    if let Some(session) = state.hosting.sessions.get(id) {
        return Ok(Some(session));
    }
    let found = state.store.find_mcp_session(id).await?;
    if let Some(session) = &found {
        state.hosting.sessions.insert(id.to_owned(), session.clone());
    }
    Ok(found)
}

/// The server's live tracking link with this id, or a 404 that says so.
async fn find_link(
    state: &AppState,
    server: &McpServer,
    id: &str,
) -> Result<TrackingLink, Refusal> {
    let unknown = || refuse(StatusCode::NOT_FOUND, "This tracking link is unknown or was revoked.");
    let id = TrackingId::parse(id).map_err(|_| unknown())?;
    let link = match state.hosting.links.get(&id) {
        Some(link) => Some(link),
        None => {
            let link = state.store.find_tracking_link(&id).await.map_err(failed)?;
            if let Some(link) = &link {
                state.hosting.links.insert(id, link.clone());
            }
            link
        }
    };
    link.filter(|link| link.mcp_server_id == server.id && link.revoked_at.is_none())
        .ok_or_else(unknown)
}

/// Notes a link's use, at most once a minute per node.
async fn touch_link(state: &AppState, link: &TrackingLink) {
    if state.hosting.touched.get(&link.tracking_id).is_some() {
        return;
    }
    state.hosting.touched.insert(link.tracking_id.clone(), ());
    if let Err(err) = state.store.touch_tracking_link(&link.tracking_id, state.clock.now()).await {
        tracing::warn!(error = ?err, "cannot note a tracking link's use");
    }
}

/// The end user of a valid bearer token for this server, or the 401 that asks for one
/// (RFC 6750 §3, RFC 9728 §5.1: the challenge names the protected resource metadata of the
/// endpoint that was called).
async fn bearer_user(
    state: &AppState,
    server: &McpServer,
    origin: &ServerOrigin,
    parts: &axum::http::request::Parts,
) -> Result<EndUserId, Refusal> {
    let token = authorization(&parts.headers, "Bearer");
    if let Some(token) = token {
        let valid = validate_access_token(state, server, token).await.map_err(failed)?;
        if let Some(valid) = valid {
            return Ok(valid.family.end_user_id);
        }
    }
    // The resource the client called (`RESOURCE_PATHS`); for a tracking URL, the server's `/mcp`.
    let resource = if parts.uri.path().ends_with("/api/mcpserver/mcp") {
        "/api/mcpserver/mcp"
    } else {
        "/mcp"
    };
    let metadata = origin.resource_metadata_url(resource);
    let challenge = match token {
        None => format!("Bearer resource_metadata=\"{metadata}\""),
        Some(_) => format!(
            "Bearer error=\"invalid_token\", error_description=\"The access token is invalid, \
             expired or revoked\", resource_metadata=\"{metadata}\""
        ),
    };
    let mut response = refuse(StatusCode::UNAUTHORIZED, "Sign in to use this MCP server.");
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    Err(response)
}

/// DNS rebinding protection (MCP transports, "Security Warning"): the Host must be one of our
/// names for this server, and a browser's Origin must be the server's own (on either URL
/// form; any loopback origin when the platform itself runs on loopback).
fn check_host_and_origin(
    state: &AppState,
    parts: &axum::http::request::Parts,
    slug: &Slug,
    form: UrlForm,
) -> Result<(), Refusal> {
    let base = &state.config.base_url;
    let host = request_host(&parts.headers, &parts.uri).to_ascii_lowercase();
    let host_name = match host.strip_prefix('[') {
        Some(v6) => format!("[{}]", v6.split(']').next().unwrap_or_default()),
        None => host.split(':').next().unwrap_or_default().to_owned(),
    };
    let base_host = base.host_str().unwrap_or_default().to_ascii_lowercase();
    let loopback = |name: &str| matches!(name, "localhost" | "127.0.0.1" | "[::1]");
    // A subdomain request was recognised by its Host already.
    let host_ok = form == UrlForm::Subdomain
        || host_name == base_host
        || (loopback(&base_host) && loopback(&host_name));
    if !host_ok {
        return Err(refuse(StatusCode::FORBIDDEN, "Forbidden: this Host is not allowed."));
    }
    let ours = [UrlForm::Subdomain, UrlForm::Path]
        .into_iter()
        .any(|form| same_origin(&parts.headers, &ServerOrigin::new(base, slug, form)));
    let loopback_origin = loopback(&base_host)
        && parts
            .headers
            .get(header::ORIGIN)
            .and_then(|origin| url::Url::parse(origin.to_str().ok()?).ok())
            .and_then(|url| url.host_str().map(str::to_ascii_lowercase))
            .is_some_and(|name| loopback(&name));
    if ours || loopback_origin {
        Ok(())
    } else {
        Err(refuse(StatusCode::FORBIDDEN, "Forbidden: this Origin is not allowed."))
    }
}

/// The `Mcp-Session-Id` a request names, if any.
fn session_header(headers: &HeaderMap) -> Option<String> {
    headers.get("mcp-session-id").and_then(|id| id.to_str().ok()).map(str::to_owned)
}

/// A request of the stateless revision (2026-07-28 or later), by its `MCP-Protocol-Version`.
fn is_stateless(headers: &HeaderMap) -> bool {
    headers
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        // As `ProtocolVersion::has_initialize`, on the header's text.
        .is_some_and(|version| version >= ProtocolVersion::NO_INITIALIZE.as_str())
}
