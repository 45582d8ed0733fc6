//! The built-in end-user login of `platform_oauth` servers, after consent: an address proven
//! with an emailed one-time code, or a password the person set on this server after proving
//! it. Separate from dashboard accounts (DESIGN.md "Security model"): other tables, cookies.
//!
//! Every form is bound to the browser's authorization request and carries the CSRF token
//! derived from its cookie, like the consent form. Attempts are throttled per address and per
//! client address; a code allows a few guesses, then it is void.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::CookieJar;
use mcplatform_core::crypto::csrf_token_for;
use mcplatform_core::end_user::{
    EndUserLogin, LOGIN_CODE_DIGITS, LOGIN_CODE_TTL, LoginCode, PLATFORM_PROVIDER,
};
use mcplatform_core::ids::AuthorizationRequestId;
use mcplatform_core::oauth::grant::AuthorizationRequest;
use mcplatform_core::outbox::NewEmail;
use mcplatform_core::password::{check_policy, hash_password, verify_password};
use mcplatform_core::user::EmailAddress;
use secrecy::SecretString;
use serde::Deserialize;

use super::HostedServer;
use super::OAuthServer;
use super::authorize::{own_request, sign_in};
use super::pages::{PageForm, PageQuery, error_page, no_cache, same_origin};
use crate::{ApiError, AppState, mail};

/// Where the consent page sends a person who is not signed in yet.
pub(super) fn page_url(hosted: &HostedServer, request: AuthorizationRequestId) -> String {
    hosted.origin.url(&format!("/oauth/login?request={request}"))
}

#[derive(Template)]
#[template(path = "oauth/login.html")]
struct LoginView {
    server_name: String,
    client_name: String,
    request_id: String,
    csrf_token: String,
    password_action: String,
    code_action: String,
    email: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "oauth/code.html")]
struct CodeView {
    server_name: String,
    request_id: String,
    csrf_token: String,
    verify_action: String,
    code_action: String,
    email: String,
    error: Option<String>,
    digits: u32,
    minutes: i64,
}

/// What every page of the login needs: the server, the request and the browser's CSRF token.
struct Pages<'a> {
    hosted: &'a HostedServer,
    request: AuthorizationRequest,
    csrf_token: String,
}

impl<'a> Pages<'a> {
    /// The browser's open request for a form post (same origin, bound cookie, CSRF token), or
    /// the page saying why not.
    async fn posted(
        state: &AppState,
        hosted: &'a HostedServer,
        headers: &HeaderMap,
        jar: &CookieJar,
        form: &FormRequest,
    ) -> Result<Self, Response> {
        if let Some(page) = not_built_in(hosted) {
            return Err(page);
        }
        if !same_origin(headers, &hosted.origin) {
            return Err(error_page(
                StatusCode::FORBIDDEN,
                "Not allowed",
                "This form was sent from another site.",
            ));
        }
        let request =
            own_request(state, hosted, jar, &form.request, Some(&form.csrf_token)).await?;
        Ok(Self { hosted, request, csrf_token: form.csrf_token.clone() })
    }

    /// The login page saying to wait, when this address or client address tried too often.
    async fn throttled(
        &self,
        state: &AppState,
        peer: SocketAddr,
        email: &str,
    ) -> Result<Option<Response>, ApiError> {
        let key = format!("{}:{}", self.hosted.server.id, email.to_lowercase());
        let Err(wait) = state.end_user_limiter.check(peer.ip(), &key) else {
            return Ok(None);
        };
        let error = format!("Too many attempts: try again in {} seconds.", wait.as_secs().max(1));
        self.login(state, StatusCode::TOO_MANY_REQUESTS, email, Some(error)).await.map(Some)
    }

    async fn login(
        &self,
        state: &AppState,
        status: StatusCode,
        email: &str,
        error: Option<String>,
    ) -> Result<Response, ApiError> {
        let client = super::clients::find(state, &self.hosted.server, &self.request.client_id);
        let client_name = match client.await {
            Ok(client) => client.metadata.display_name(),
            Err(super::clients::ClientError::Failed(e)) => return Err(e),
            Err(_) => self.request.client_id.clone(),
        };
        let view = LoginView {
            server_name: self.hosted.server.settings.name.clone(),
            client_name,
            request_id: self.request.id.to_string(),
            csrf_token: self.csrf_token.clone(),
            password_action: self.hosted.origin.url("/oauth/login/password"),
            code_action: self.hosted.origin.url("/oauth/login/code"),
            email: email.to_owned(),
            error,
        };
        Ok(no_cache(crate::views::render(status, &view)))
    }

    fn code(&self, status: StatusCode, email: &str, error: Option<String>) -> Response {
        let view = CodeView {
            server_name: self.hosted.server.settings.name.clone(),
            request_id: self.request.id.to_string(),
            csrf_token: self.csrf_token.clone(),
            verify_action: self.hosted.origin.url("/oauth/login/verify"),
            code_action: self.hosted.origin.url("/oauth/login/code"),
            email: email.to_owned(),
            error,
            digits: LOGIN_CODE_DIGITS,
            minutes: LOGIN_CODE_TTL.whole_minutes(),
        };
        no_cache(crate::views::render(status, &view))
    }
}

/// Only a `platform_oauth` server has these pages (a `custom_oauth` one signs in at its
/// organization's provider): the 404 page for the other, or nothing.
fn not_built_in(hosted: &HostedServer) -> Option<Response> {
    use mcplatform_core::mcp_server::AuthMode;
    (hosted.server.settings.auth_mode != AuthMode::PlatformOauth).then(|| {
        error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "This server signs people in with its organization's identity provider.",
        )
    })
}

fn csrf_token(jar: &CookieJar) -> String {
    jar.get(super::authorize::BROWSER_COOKIE).map(|c| csrf_token_for(c.value())).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// GET /oauth/login

#[derive(Debug, Deserialize)]
pub(super) struct LoginQuery {
    request: String,
}

pub(super) async fn page(
    State(state): State<AppState>,
    OAuthServer(hosted): OAuthServer,
    jar: CookieJar,
    PageQuery(query): PageQuery<LoginQuery>,
) -> Result<Response, ApiError> {
    if let Some(page) = not_built_in(&hosted) {
        return Ok(page);
    }
    let request = match own_request(&state, &hosted, &jar, &query.request, None).await {
        Ok(request) => request,
        Err(page) => return Ok(page),
    };
    let pages = Pages { hosted: &hosted, request, csrf_token: csrf_token(&jar) };
    pages.login(&state, StatusCode::OK, "", None).await
}

// ---------------------------------------------------------------------------------------------
// POST /oauth/login/password

/// The fields every login form carries: its authorization request and the browser's token.
#[derive(Debug, Deserialize)]
pub(super) struct FormRequest {
    request: String,
    csrf_token: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct PasswordForm {
    #[serde(flatten)]
    bound: FormRequest,
    email: String,
    password: String,
}

pub(super) async fn password(
    State(state): State<AppState>,
    OAuthServer(hosted): OAuthServer,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    PageForm(form): PageForm<PasswordForm>,
) -> Result<Response, ApiError> {
    let pages = match Pages::posted(&state, &hosted, &headers, &jar, &form.bound).await {
        Ok(pages) => pages,
        Err(page) => return Ok(page),
    };
    let email = form.email.trim();
    if let Some(page) = pages.throttled(&state, peer, email).await? {
        return Ok(page);
    }
    let address = EmailAddress::parse(email).ok();
    let hash = match &address {
        Some(address) => state.store.end_user_password(hosted.server.id, address.as_str()).await?,
        None => None,
    };
    let password = SecretString::from(form.password);
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, hash.as_ref()))
        .await
        .map_err(|join| ApiError::Internal(Box::new(join)))?;
    match address {
        Some(address) if matches => signed_in(&state, &pages, jar, &address).await,
        // The same answer for an unknown address and a wrong password.
        _ => {
            let error = "Incorrect email or password. No password yet, or forgotten it? \
                         Ask for a sign-in code below."
                .to_owned();
            pages.login(&state, StatusCode::UNAUTHORIZED, email, Some(error)).await
        }
    }
}

/// The address is proven: the end user (found or made) signs in and the client gets its code.
async fn signed_in(
    state: &AppState,
    pages: &Pages<'_>,
    jar: CookieJar,
    email: &EmailAddress,
) -> Result<Response, ApiError> {
    let hosted = pages.hosted;
    let login = EndUserLogin::new(
        PLATFORM_PROVIDER.to_owned(),
        email.as_str().to_owned(),
        Some(email.as_str().to_owned()),
        true,
        None,
        serde_json::Value::Null,
    )
    .map_err(ApiError::Validation)?;
    let now = state.clock.now();
    let end_user =
        state.store.record_end_user_login(hosted.server.organization_id, &login, now).await?;
    sign_in(state, hosted, jar, &pages.request, &end_user).await
}

// ---------------------------------------------------------------------------------------------
// POST /oauth/login/code

#[derive(Debug, Deserialize)]
pub(super) struct CodeRequestForm {
    #[serde(flatten)]
    bound: FormRequest,
    email: String,
}

pub(super) async fn send_code(
    State(state): State<AppState>,
    OAuthServer(hosted): OAuthServer,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    PageForm(form): PageForm<CodeRequestForm>,
) -> Result<Response, ApiError> {
    let pages = match Pages::posted(&state, &hosted, &headers, &jar, &form.bound).await {
        Ok(pages) => pages,
        Err(page) => return Ok(page),
    };
    let email = form.email.trim();
    let Ok(address) = EmailAddress::parse(email) else {
        let error = "Enter a valid email address.".to_owned();
        return pages.login(&state, StatusCode::UNPROCESSABLE_ENTITY, email, Some(error)).await;
    };
    // Every code sent is an email in someone's inbox: throttled like a login attempt.
    if let Some(page) = pages.throttled(&state, peer, address.as_str()).await? {
        return Ok(page);
    }
    let now = state.clock.now();
    let (code, stored) =
        LoginCode::generate(pages.request.id, hosted.server.id, address.as_str(), now);
    state.store.put_login_code(&stored, now).await?;
    let server_name = &hosted.server.settings.name;
    let minutes = LOGIN_CODE_TTL.whole_minutes();
    mail::queue(
        &state,
        NewEmail {
            organization_id: Some(hosted.server.organization_id),
            to: address.clone(),
            subject: format!("{code} is your sign-in code for {server_name}"),
            body_text: format!(
                "Your code to sign in to {server_name} is:\n\n    {code}\n\n\
                 It works for {minutes} minutes, in the browser where you asked for it.\n\n\
                 If you did not try to sign in, you can ignore this email: nobody can sign in \
                 without the code.\n"
            ),
        },
    )
    .await?;
    Ok(pages.code(StatusCode::OK, address.as_str(), None))
}

// ---------------------------------------------------------------------------------------------
// POST /oauth/login/verify

#[derive(Debug, Deserialize)]
pub(super) struct VerifyForm {
    #[serde(flatten)]
    bound: FormRequest,
    email: String,
    code: String,
    #[serde(default)]
    new_password: String,
}

pub(super) async fn verify(
    State(state): State<AppState>,
    OAuthServer(hosted): OAuthServer,
    headers: HeaderMap,
    jar: CookieJar,
    PageForm(form): PageForm<VerifyForm>,
) -> Result<Response, ApiError> {
    let pages = match Pages::posted(&state, &hosted, &headers, &jar, &form.bound).await {
        Ok(pages) => pages,
        Err(page) => return Ok(page),
    };
    let shown_email = form.email.trim();
    // A password that will be refused is refused before the code is spent.
    let new_password =
        (!form.new_password.is_empty()).then(|| SecretString::from(form.new_password));
    if let (Some(password), Ok(address)) = (&new_password, EmailAddress::parse(shown_email))
        && let Err(e) = check_policy(password, &address)
    {
        let error = format!("The password {}. The code was not used: try again.", e.message);
        return Ok(pages.code(StatusCode::UNPROCESSABLE_ENTITY, shown_email, Some(error)));
    }
    let now = state.clock.now();
    let Some(code) = state.store.take_login_code_attempt(pages.request.id, now).await? else {
        let error = "This code has expired or was mistyped too often. Send a new code.".to_owned();
        return Ok(pages.code(StatusCode::UNAUTHORIZED, shown_email, Some(error)));
    };
    if code.mcp_server_id != hosted.server.id || !code.matches(&form.code) {
        let error = match code.attempts_left {
            0 => "That is not the code we sent, and no tries are left. Send a new code.".to_owned(),
            left => format!("That is not the code we sent. {left} tries left."),
        };
        return Ok(pages.code(StatusCode::UNAUTHORIZED, &code.email, Some(error)));
    }
    let address = EmailAddress::parse(&code.email)
        .map_err(|_| ApiError::Internal("a login code for an invalid address".into()))?;
    // The check above used the address the page showed; this one, the code's own (they
    // differ only when the form was changed). The try counts, the code stays.
    if let Some(Err(e)) = new_password.as_ref().map(|p| check_policy(p, &address)) {
        let error = format!("The password {}. Choose another and enter the code again.", e.message);
        return Ok(pages.code(StatusCode::UNPROCESSABLE_ENTITY, &code.email, Some(error)));
    }
    state.store.delete_login_code(pages.request.id).await?;
    if let Some(password) = new_password {
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|join| ApiError::Internal(Box::new(join)))?
            .map_err(|e| ApiError::Internal(Box::new(e)))?;
        state.store.set_end_user_password(hosted.server.id, address.as_str(), &hash, now).await?;
    }
    signed_in(&state, &pages, jar, &address).await
}
