//! Signing up, logging in and out.

use std::net::SocketAddr;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::{Layout, PageForm, PageResult, render};
use crate::AppState;
use crate::accounts::{self, LoginError, SignupError, SignupFieldErrors};
use crate::auth::AnonymousCsrf;
use crate::auth::session::{self, MaybeSession};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_get).post(login_post))
        .route("/signup", get(signup_get).post(signup_post))
        .route("/logout", post(logout))
}

/// The organization the person last worked in (while they still belong to it), else the list.
async fn home(State(state): State<AppState>, MaybeSession(current): MaybeSession) -> Redirect {
    let Some(current) = current else {
        return Redirect::to("/login");
    };
    if let Some(org) = current.session.active_organization_id
        && state.store.get_membership(org, current.user.id).await.is_ok()
    {
        return Redirect::to(&format!("/orgs/{org}"));
    }
    Redirect::to("/orgs")
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
    /// `done` after a password reset.
    reset: Option<String>,
}

/// Only same-site paths: `next` must never send someone to another site after login. Browsers
/// drop tabs and newlines from URLs (`/\t/evil.example` becomes `//evil.example`), so any
/// control character or whitespace is refused, as is anything that resolves to another host.
fn safe_next(next: Option<String>) -> Option<String> {
    next.filter(|path| {
        let plain = path.starts_with('/')
            && !path.starts_with("//")
            && !path.contains('\\')
            && !path.chars().any(|c| c.is_control() || c.is_whitespace());
        let base = url::Url::parse("http://same.invalid/").ok();
        let same_host = base
            .and_then(|base| base.join(path).ok())
            .is_some_and(|url| url.host_str() == Some("same.invalid"));
        plain && same_host
    })
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginView {
    layout: Layout,
    email: String,
    error: Option<String>,
    next: Option<String>,
    /// `(key, label)` of each outside provider to offer a button for.
    providers: Vec<(&'static str, String)>,
}

/// The buttons of the platform's outside login providers.
fn provider_buttons(state: &AppState) -> Vec<(&'static str, String)> {
    state.config.login_providers.iter().map(|p| (p.key, p.settings.name.clone())).collect()
}

/// The login page showing why an outside sign-in did not work.
pub(super) fn login_page_with_error(
    state: &AppState,
    csrf: AnonymousCsrf,
    error: String,
    status: StatusCode,
) -> Response {
    let view = LoginView {
        layout: Layout::anonymous("Log in", csrf.token.0),
        email: String::new(),
        error: Some(error),
        next: None,
        providers: provider_buttons(state),
    };
    let jar = AnonymousCsrf::set_cookie(csrf.new_cookie, CookieJar::new());
    (jar, render(status, &view)).into_response()
}

async fn login_get(
    State(state): State<AppState>,
    MaybeSession(current): MaybeSession,
    csrf: AnonymousCsrf,
    Query(query): Query<NextQuery>,
    jar: CookieJar,
) -> Response {
    if current.is_some() {
        return Redirect::to("/orgs").into_response();
    }
    let notice = query
        .reset
        .is_some()
        .then(|| "Password changed. Log in with your new password.".to_owned());
    let view = LoginView {
        layout: Layout::anonymous("Log in", csrf.token.0).with_notice(notice),
        email: String::new(),
        error: None,
        next: safe_next(query.next),
        providers: provider_buttons(&state),
    };
    (AnonymousCsrf::set_cookie(csrf.new_cookie, jar), render(StatusCode::OK, &view)).into_response()
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    email: String,
    password: String,
}

pub(crate) fn client_details(
    headers: &HeaderMap,
    peer: SocketAddr,
) -> (Option<String>, Option<String>) {
    let user_agent =
        headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    (user_agent, Some(peer.ip().to_string()))
}

async fn login_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<NextQuery>,
    headers: HeaderMap,
    jar: CookieJar,
    csrf: AnonymousCsrf,
    PageForm(form): PageForm<LoginForm>,
) -> PageResult {
    let attempt = accounts::login(&state, peer.ip(), &form.email, form.password).await;
    let user = match attempt {
        Ok(user) => user,
        Err(LoginError::Failed(err)) => return Err(err.into()),
        Err(refused) => {
            let status = refused.status();
            let view = LoginView {
                layout: Layout::anonymous("Log in", csrf.token.0),
                email: form.email,
                error: Some(refused.to_string()),
                next: safe_next(query.next),
                providers: provider_buttons(&state),
            };
            return Ok(render(status, &view));
        }
    };
    let (user_agent, ip) = client_details(&headers, peer);
    let cookie = session::start(&state, &jar, &user, user_agent, ip, None).await?;
    let to = safe_next(query.next).unwrap_or_else(|| "/orgs".to_owned());
    Ok((jar.add(cookie), Redirect::to(&to)).into_response())
}

#[derive(Debug, Default)]
pub(crate) struct SignupFormState {
    pub display_name: String,
    pub email: String,
    pub errors: SignupFieldErrors,
    pub general_error: Option<String>,
}

#[derive(Template)]
#[template(path = "auth/signup.html")]
struct SignupView {
    layout: Layout,
    form: SignupFormState,
    next: Option<String>,
    providers: Vec<(&'static str, String)>,
}

async fn signup_get(
    State(state): State<AppState>,
    MaybeSession(current): MaybeSession,
    csrf: AnonymousCsrf,
    Query(query): Query<NextQuery>,
    jar: CookieJar,
) -> Response {
    if current.is_some() {
        return Redirect::to("/orgs").into_response();
    }
    let view = SignupView {
        layout: Layout::anonymous("Sign up", csrf.token.0),
        form: SignupFormState::default(),
        next: safe_next(query.next),
        providers: provider_buttons(&state),
    };
    (AnonymousCsrf::set_cookie(csrf.new_cookie, jar), render(StatusCode::OK, &view)).into_response()
}

#[derive(Debug, Deserialize)]
struct SignupForm {
    display_name: String,
    email: String,
    password: String,
}

async fn signup_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    csrf: AnonymousCsrf,
    Query(query): Query<NextQuery>,
    PageForm(form): PageForm<SignupForm>,
) -> PageResult {
    let result =
        accounts::signup(&state, peer.ip(), &form.display_name, &form.email, form.password).await;
    let user = match result {
        Ok(user) => user,
        Err(SignupError::Failed(err)) => return Err(err.into()),
        Err(refused) => {
            let status = refused.status();
            let mut state_form = SignupFormState {
                display_name: form.display_name,
                email: form.email,
                ..SignupFormState::default()
            };
            match refused {
                SignupError::Invalid(errors) => state_form.errors = errors,
                SignupError::EmailTaken => {
                    state_form.errors.email = Some(SignupError::EmailTaken.to_string());
                }
                other => state_form.general_error = Some(other.to_string()),
            }
            let view = SignupView {
                layout: Layout::anonymous("Sign up", csrf.token.0),
                form: state_form,
                next: safe_next(query.next),
                providers: provider_buttons(&state),
            };
            return Ok(render(status, &view));
        }
    };
    let (user_agent, ip) = client_details(&headers, peer);
    let cookie = session::start(&state, &jar, &user, user_agent, ip, None).await?;
    // An invitee goes back to their invitation; everyone else creates their organization.
    let to = safe_next(query.next).unwrap_or_else(|| "/orgs/new".to_owned());
    Ok((jar.add(cookie), Redirect::to(&to)).into_response())
}

async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    session::end_current(&state, &jar).await?;
    Ok((jar.add(session::removal_cookie(&state)), Redirect::to("/login")).into_response())
}
