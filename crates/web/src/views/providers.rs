//! Identity providers in the dashboard: list, add (per kind), edit, delete. Members see them;
//! admins change them. Client secrets are write-only.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mcplatform_core::identity_provider::{
    Endpoints, IdentityProvider, ProviderInput, ProviderKind, ProviderSettings,
};
use mcplatform_core::org::Role;
use mcplatform_core::upstream_login::LoginPurpose;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{Layout, PageForm, PageResult, PageSession, format_time, render};
use crate::access::{Actor, OrgAccess};
use crate::auth::CurrentSession;
use crate::servers::FieldErrors;
use crate::upstream::UpstreamClient;
use crate::{ApiError, AppState, identity_providers, upstream};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org_id}/identity-providers", get(list_get))
        .route("/orgs/{org_id}/identity-providers/new", get(new_get).post(new_post))
        .route("/orgs/{org_id}/identity-providers/{provider_id}", get(edit_get).post(edit_post))
        .route("/orgs/{org_id}/identity-providers/{provider_id}/delete", post(delete_post))
        .route("/orgs/{org_id}/identity-providers/{provider_id}/test", post(test_post))
}

struct ProviderRow {
    id: String,
    name: String,
    kind: &'static str,
    client_id: String,
    /// The issuer or the authorization endpoint: where users are sent.
    location: String,
    created_at: String,
}

#[derive(Template)]
#[template(path = "providers/list.html")]
struct ProvidersView {
    layout: Layout,
    org_id: String,
    providers: Vec<ProviderRow>,
    kinds: Vec<(&'static str, &'static str)>,
    redirect_uri: String,
    can_edit: bool,
}

async fn list_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let providers = state.store.list_identity_providers(access.org.id).await?;
    let providers = providers
        .into_iter()
        .map(|p| ProviderRow {
            id: p.id.to_string(),
            kind: p.kind.label(),
            client_id: p.settings.client_id,
            location: match p.settings.endpoints {
                Endpoints::Discovered { issuer } => issuer,
                Endpoints::Configured { authorization, .. } => authorization.to_string(),
            },
            created_at: format_time(p.created_at),
            name: p.settings.name,
        })
        .collect();
    let view = ProvidersView {
        layout: Layout::for_session("Identity providers", &current).in_org(&access),
        org_id: access.org.id.to_string(),
        providers,
        kinds: ProviderKind::ALL.iter().map(|k| (k.as_str(), k.label())).collect(),
        redirect_uri: upstream::callback_url(&state.config.base_url).to_string(),
        can_edit: access.role.at_least(Role::Admin),
    };
    Ok(render(StatusCode::OK, &view))
}

/// The provider form as posted; which fields show depends on the kind. The secret stays a
/// secret: it never appears in a `Debug` print of the form.
#[derive(Debug, Deserialize)]
struct ProviderForm {
    #[serde(flatten)]
    input: ProviderInput,
    #[serde(default)]
    client_secret: Option<SecretString>,
}

impl ProviderForm {
    /// The secret typed, if any (an edit leaves the field empty to keep the stored one).
    fn client_secret(&self) -> Option<&str> {
        self.client_secret.as_ref().map(|s| s.expose_secret()).filter(|s| !s.trim().is_empty())
    }
}

#[derive(Template)]
#[template(path = "providers/form.html")]
struct ProviderFormView {
    layout: Layout,
    org_id: String,
    /// `None` while adding one.
    provider_id: Option<String>,
    form_action: String,
    kind: ProviderKind,
    input: ProviderInput,
    errors: FieldErrors,
    redirect_uri: String,
    can_edit: bool,
    delete_error: Option<String>,
    /// Why a test sign-in could not even start.
    test_error: Option<String>,
}

impl ProviderFormView {
    fn new(
        state: &AppState,
        current: &CurrentSession,
        access: &OrgAccess,
        kind: ProviderKind,
    ) -> Self {
        Self {
            layout: Layout::for_session(&format!("New {} provider", kind.label()), current)
                .in_org(access),
            org_id: access.org.id.to_string(),
            provider_id: None,
            form_action: format!(
                "/orgs/{}/identity-providers/new?kind={}",
                access.org.id,
                kind.as_str()
            ),
            kind,
            input: ProviderInput { name: kind.label().to_owned(), ..ProviderInput::default() },
            errors: FieldErrors::new(),
            redirect_uri: upstream::callback_url(&state.config.base_url).to_string(),
            can_edit: access.role.at_least(Role::Admin),
            delete_error: None,
            test_error: None,
        }
    }

    fn for_provider(
        state: &AppState,
        current: &CurrentSession,
        access: &OrgAccess,
        provider: &IdentityProvider,
    ) -> Self {
        let mut view = Self::new(state, current, access, provider.kind);
        view.layout = Layout::for_session(&provider.settings.name, current).in_org(access);
        view.provider_id = Some(provider.id.to_string());
        view.form_action = format!("/orgs/{}/identity-providers/{}", access.org.id, provider.id);
        view.input = provider.settings.to_input(provider.kind);
        view
    }

    /// `(field, label, value)` of the OAuth 2.0 endpoint inputs.
    fn endpoint_fields(&self) -> [(&'static str, &'static str, &str); 3] {
        [
            (
                "authorization_endpoint",
                "Authorization endpoint",
                &self.input.authorization_endpoint,
            ),
            ("token_endpoint", "Token endpoint", &self.input.token_endpoint),
            ("userinfo_endpoint", "Userinfo endpoint", &self.input.userinfo_endpoint),
        ]
    }

    /// `(field, label, value)` of the claim mapping inputs.
    fn claim_fields(&self) -> [(&'static str, &'static str, &str); 3] {
        [
            ("subject_claim", "Stable user id", &self.input.subject_claim),
            ("email_claim", "Email", &self.input.email_claim),
            ("name_claim", "Display name", &self.input.name_claim),
        ]
    }

    fn fail(mut self, err: ApiError) -> PageResult {
        match err {
            ApiError::Validation(e) => {
                self.errors.insert(e.field, e.message);
            }
            ApiError::Conflict("name") => {
                self.errors.insert("name", "another provider already has this name".into());
            }
            other => return Err(other.into()),
        }
        Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &self))
    }
}

#[derive(Debug, Deserialize)]
struct KindQuery {
    #[serde(default)]
    kind: String,
}

async fn new_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    Query(query): Query<KindQuery>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    access.require(Role::Admin)?;
    let kind: ProviderKind = query.kind.parse().map_err(ApiError::Validation)?;
    Ok(render(StatusCode::OK, &ProviderFormView::new(&state, &current, &access, kind)))
}

async fn new_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(org_id): Path<String>,
    Query(query): Query<KindQuery>,
    PageForm(form): PageForm<ProviderForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    access.require(Role::Admin)?;
    let kind: ProviderKind = query.kind.parse().map_err(ApiError::Validation)?;
    let mut view = ProviderFormView::new(&state, &current, &access, kind);
    view.input = form.input.clone();
    let created = match ProviderSettings::parse(kind, &view.input) {
        Ok(settings) => {
            let actor = Actor::from(&current);
            identity_providers::create(
                &state,
                &access,
                &actor,
                kind,
                settings,
                form.client_secret().unwrap_or_default(),
            )
            .await
        }
        Err(e) => Err(e.into()),
    };
    match created {
        Ok(provider) => Ok(Redirect::to(&format!(
            "/orgs/{}/identity-providers/{}?saved=1",
            access.org.id, provider.id
        ))
        .into_response()),
        Err(err) => view.fail(err),
    }
}

#[derive(Debug, Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

async fn edit_get(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, provider_id)): Path<(String, String)>,
    Query(query): Query<SavedQuery>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let provider = access.identity_provider(&state, &provider_id).await?;
    let mut view = ProviderFormView::for_provider(&state, &current, &access, &provider);
    if query.saved.is_some() {
        view.layout = view.layout.with_notice(Some("Identity provider saved.".into()));
    }
    Ok(render(StatusCode::OK, &view))
}

async fn edit_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, provider_id)): Path<(String, String)>,
    PageForm(form): PageForm<ProviderForm>,
) -> PageResult {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let provider = access.identity_provider(&state, &provider_id).await?;
    access.require(Role::Admin)?;
    let mut view = ProviderFormView::for_provider(&state, &current, &access, &provider);
    view.input = form.input.clone();
    let new_secret = form.client_secret();
    let updated = match ProviderSettings::parse(provider.kind, &view.input) {
        Ok(settings) => {
            let actor = Actor::from(&current);
            identity_providers::update(&state, &access, &actor, &provider, settings, new_secret)
                .await
        }
        Err(e) => Err(e.into()),
    };
    match updated {
        Ok(updated) => Ok(Redirect::to(&format!(
            "/orgs/{}/identity-providers/{}?saved=1",
            access.org.id, updated.id
        ))
        .into_response()),
        Err(err) => view.fail(err),
    }
}

#[derive(Debug, Deserialize)]
struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

async fn delete_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, provider_id)): Path<(String, String)>,
    PageForm(form): PageForm<DeleteForm>,
) -> PageResult<Response> {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let provider = access.identity_provider(&state, &provider_id).await?;
    access.require(Role::Admin)?;
    if form.confirm.trim() != provider.settings.name {
        let mut view = ProviderFormView::for_provider(&state, &current, &access, &provider);
        view.delete_error = Some("type the provider's name exactly to confirm".into());
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &view));
    }
    match identity_providers::delete(&state, &access, &Actor::from(&current), &provider).await {
        Ok(()) => {}
        Err(ApiError::InUse(message)) => {
            let mut view = ProviderFormView::for_provider(&state, &current, &access, &provider);
            view.delete_error = Some(message);
            return Ok(render(StatusCode::CONFLICT, &view));
        }
        Err(err) => return Err(err.into()),
    }
    Ok(Redirect::to(&format!("/orgs/{}/identity-providers", access.org.id)).into_response())
}

/// Starts a test sign-in: the admin is sent to the provider and comes back to the callback,
/// which shows what the provider said about them.
async fn test_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path((org_id, provider_id)): Path<(String, String)>,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult<Response> {
    let access = OrgAccess::load(&state, current.user.id, &org_id).await?;
    let provider = access.identity_provider(&state, &provider_id).await?;
    access.require(Role::Admin)?;
    let client = UpstreamClient::Organization(&provider);
    match upstream::begin(&state, client, LoginPurpose::ProviderTest, Some(current.user.id), None)
        .await
    {
        Ok(begun) => Ok(Redirect::to(begun.url.as_str()).into_response()),
        Err(ApiError::Validation(e)) => {
            let mut view = ProviderFormView::for_provider(&state, &current, &access, &provider);
            view.test_error = Some(e.message);
            Ok(render(StatusCode::BAD_GATEWAY, &view))
        }
        Err(err) => Err(err.into()),
    }
}
