//! Account operations shared by the pages and the JSON API: signing up and logging in.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::StatusCode;
use mcplatform_core::password::{check_policy, hash_password, verify_password};
use mcplatform_core::user::{DisplayName, EmailAddress, LinkedIdentity, PlatformUser};
use mcplatform_store::{NewPlatformUser, StoreError};
use secrecy::SecretString;

use mcplatform_core::audit::action;

use crate::access::Actor;
use crate::config::PlatformLoginProvider;
use crate::upstream::UpstreamIdentity;
use crate::{ApiError, AppState, audit};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Deliberately the same for an unknown email and a wrong password.
    #[error("incorrect email or password")]
    Incorrect,
    #[error("too many login attempts: try again in {} seconds", .0.as_secs().max(1))]
    Throttled(Duration),
    #[error(transparent)]
    Failed(ApiError),
}

impl LoginError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Incorrect => StatusCode::UNAUTHORIZED,
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Failed(err) => err.status(),
        }
    }
}

/// Checks a login attempt, throttled per address and per account.
pub async fn login(
    state: &AppState,
    ip: IpAddr,
    email: &str,
    password: String,
) -> Result<PlatformUser, LoginError> {
    state.login_limiter.check(ip, email.trim()).map_err(LoginError::Throttled)?;
    // An account made under the earlier, looser address rule still logs in.
    let address = EmailAddress::parse(email)
        .or_else(|_| EmailAddress::from_stored(&email.trim().to_lowercase()));
    let user = match address {
        Ok(email) => state
            .store
            .find_user_by_email(&email)
            .await
            .map_err(|e| LoginError::Failed(e.into()))?,
        Err(_) => None,
    };
    let hash = user.as_ref().and_then(|user| user.password_hash.clone());
    let password = SecretString::from(password);
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, hash.as_ref()))
        .await
        .map_err(|join| LoginError::Failed(ApiError::Internal(Box::new(join))))?;
    match user {
        Some(user) if matches => {
            account_event(state, &user, ip, action::LOGIN).await;
            Ok(user)
        }
        Some(user) => {
            // Shown to the account's owner, who may want to know someone tried.
            account_event(state, &user, ip, action::LOGIN_FAILED).await;
            Err(LoginError::Incorrect)
        }
        None => Err(LoginError::Incorrect),
    }
}

/// Field-by-field reasons a signup was refused.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SignupFieldErrors {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
}

impl SignupFieldErrors {
    fn is_empty(&self) -> bool {
        self.display_name.is_none() && self.email.is_none() && self.password.is_none()
    }

    /// The first problem, as an API error naming its field.
    pub fn first(&self) -> ApiError {
        let (field, message) = [
            ("display_name", &self.display_name),
            ("email", &self.email),
            ("password", &self.password),
        ]
        .into_iter()
        .find_map(|(field, message)| message.clone().map(|m| (field, m)))
        .unwrap_or(("email", "is invalid".to_owned()));
        ApiError::Validation(mcplatform_core::ValidationError::new(field, message))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    #[error("please correct the highlighted fields")]
    Invalid(SignupFieldErrors),
    #[error("an account with this email already exists: log in instead")]
    EmailTaken,
    #[error("too many attempts: try again in {} seconds", .0.as_secs().max(1))]
    Throttled(Duration),
    #[error(transparent)]
    Failed(ApiError),
}

impl SignupError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::EmailTaken => StatusCode::CONFLICT,
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Failed(err) => err.status(),
        }
    }
}

impl From<SignupError> for ApiError {
    fn from(err: SignupError) -> Self {
        match err {
            SignupError::Invalid(errors) => errors.first(),
            SignupError::EmailTaken => ApiError::Conflict("email"),
            SignupError::Throttled(retry_after) => ApiError::TooManyRequests { retry_after },
            SignupError::Failed(err) => err,
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(err: LoginError) -> Self {
        match err {
            LoginError::Incorrect => ApiError::Unauthorized,
            LoginError::Throttled(retry_after) => ApiError::TooManyRequests { retry_after },
            LoginError::Failed(err) => err,
        }
    }
}

/// Creates an account with a password after validating every field.
pub async fn signup(
    state: &AppState,
    ip: IpAddr,
    display_name: &str,
    email: &str,
    password: String,
) -> Result<PlatformUser, SignupError> {
    state.login_limiter.check(ip, email.trim()).map_err(SignupError::Throttled)?;
    let mut errors = SignupFieldErrors::default();
    let display_name =
        DisplayName::parse(display_name).map_err(|e| errors.display_name = Some(e.message)).ok();
    let email = EmailAddress::parse(email).map_err(|e| errors.email = Some(e.message)).ok();
    let password = SecretString::from(password);
    if let Some(Err(e)) = email.as_ref().map(|email| check_policy(&password, email)) {
        errors.password = Some(e.message);
    }
    let (Some(display_name), Some(email)) = (display_name, email) else {
        return Err(SignupError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(SignupError::Invalid(errors));
    }
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|join| SignupError::Failed(ApiError::Internal(Box::new(join))))?
        .map_err(|err| SignupError::Failed(ApiError::Internal(Box::new(err))))?;
    let new_user = NewPlatformUser { email, display_name, password_hash: Some(hash) };
    match state.store.create_user(&new_user, state.clock.now()).await {
        Ok(user) => {
            account_event(state, &user, ip, action::SIGNUP).await;
            Ok(user)
        }
        Err(StoreError::Conflict("email")) => Err(SignupError::EmailTaken),
        Err(err) => Err(SignupError::Failed(err.into())),
    }
}

/// Records an event of a person's own account (not of an organization).
pub async fn account_event(state: &AppState, user: &PlatformUser, ip: IpAddr, what: &'static str) {
    account_event_with(state, user, ip, what, serde_json::json!({})).await;
}

async fn account_event_with(
    state: &AppState,
    user: &PlatformUser,
    ip: IpAddr,
    what: &'static str,
    detail: serde_json::Value,
) {
    let actor = Actor {
        user_id: Some(user.id),
        name: user.display_name.as_str().to_owned(),
        email: Some(user.email.as_str().to_owned()),
        ip: Some(ip.to_string()),
    };
    audit::record(state, None, &actor, what, user.email.as_str(), detail).await;
}

#[derive(Debug, thiserror::Error)]
pub enum ExternalLoginError {
    /// Without a verified address there is nothing to match or create an account by.
    #[error(
        "{0} did not confirm an email address for you, so no account can be found or created. \
         Verify your email address with {0}, or log in with your password."
    )]
    NoVerifiedEmail(String),
    #[error("this {0} account is already linked to another MCPlatform account")]
    LinkedElsewhere(String),
    /// Linking would hand the account to whoever controls the provider identity, while the
    /// account's own owner never proved they read that address: someone may have signed up
    /// with it first, to be let in later by the real owner's sign-in.
    #[error(
        "An account with this email address exists, but the address was never confirmed. Log \
         in with its password and connect {0} from your account page, or confirm the address \
         with \"Forgot your password?\" first."
    )]
    UnconfirmedAccount(String),
    #[error("{0} identified you by an id that cannot be used: {1}")]
    UnusableIdentity(String, String),
    #[error(transparent)]
    Failed(ApiError),
}

impl From<StoreError> for ExternalLoginError {
    fn from(err: StoreError) -> Self {
        Self::Failed(err.into())
    }
}

/// Logs in with an identity from one of the platform's login providers: the account already
/// linked to it; else the account with the address the provider verified, which gets linked;
/// else a new account (without a password) for that address. An address the provider did not
/// verify never matches an account: anyone can type any address into a profile.
pub async fn login_with_identity(
    state: &AppState,
    ip: IpAddr,
    provider: &PlatformLoginProvider,
    identity: &UpstreamIdentity,
) -> Result<PlatformUser, ExternalLoginError> {
    let namespace = provider.identity_namespace();
    let label = provider.settings.name.clone();
    LinkedIdentity::check_subject(&identity.subject)
        .map_err(|e| ExternalLoginError::UnusableIdentity(label.clone(), e.message))?;
    let now = state.clock.now();
    let verified_email = identity
        .email
        .as_deref()
        .filter(|_| identity.email_verified)
        .and_then(|email| EmailAddress::parse(email).ok());
    let linked = LinkedIdentity {
        provider: namespace.clone(),
        subject: identity.subject.clone(),
        email: verified_email.as_ref().map(|e| e.as_str().to_owned()),
        created_at: now,
        last_login_at: now,
    };
    let detail = serde_json::json!({ "provider": namespace });
    if let Some(user) = state.store.find_user_by_identity(&namespace, &identity.subject).await? {
        state.store.record_identity_login(user.id, &linked).await?;
        account_event_with(state, &user, ip, action::LOGIN, detail).await;
        return Ok(user);
    }
    let email = verified_email.ok_or_else(|| ExternalLoginError::NoVerifiedEmail(label.clone()))?;
    // An account with the address the provider verified: linked, if its owner proved it too.
    let link_existing = |user: PlatformUser| async {
        if user.email_verified_at.is_none() {
            return Err(ExternalLoginError::UnconfirmedAccount(label.clone()));
        }
        link(state, &user, &linked, &label).await?;
        account_event_with(state, &user, ip, action::IDENTITY_LINKED, detail.clone()).await;
        account_event_with(state, &user, ip, action::LOGIN, detail.clone()).await;
        Ok(user)
    };
    if let Some(user) = state.store.find_user_by_email(&email).await? {
        return link_existing(user).await;
    }
    let display_name = identity
        .name
        .as_deref()
        .and_then(|name| DisplayName::parse(name).ok())
        .or_else(|| DisplayName::parse(email.as_str().split('@').next().unwrap_or_default()).ok())
        .map_or_else(|| DisplayName::parse("New user"), Ok)
        .map_err(|e| ExternalLoginError::Failed(e.into()))?;
    let new_user = NewPlatformUser { email, display_name, password_hash: None };
    let user = match state.store.create_user_with_identity(&new_user, &linked).await {
        Ok(user) => user,
        // Created a moment ago by a concurrent sign-in: link to it instead.
        Err(StoreError::Conflict("email")) => {
            let user = state
                .store
                .find_user_by_email(&new_user.email)
                .await?
                .ok_or(ExternalLoginError::Failed(ApiError::NotFound))?;
            return link_existing(user).await;
        }
        Err(StoreError::Conflict(_)) => {
            return Err(ExternalLoginError::LinkedElsewhere(label.clone()));
        }
        Err(err) => return Err(err.into()),
    };
    account_event_with(state, &user, ip, action::SIGNUP, detail.clone()).await;
    Ok(user)
}

/// Links an identity to a logged-in account ("Connect GitHub" on the account page).
pub async fn link_identity(
    state: &AppState,
    ip: IpAddr,
    user: &PlatformUser,
    provider: &PlatformLoginProvider,
    identity: &UpstreamIdentity,
) -> Result<(), ExternalLoginError> {
    LinkedIdentity::check_subject(&identity.subject).map_err(|e| {
        ExternalLoginError::UnusableIdentity(provider.settings.name.clone(), e.message)
    })?;
    let now = state.clock.now();
    let email = identity.email.as_deref().filter(|_| identity.email_verified);
    let linked = LinkedIdentity {
        provider: provider.identity_namespace(),
        subject: identity.subject.clone(),
        email: email.and_then(|e| EmailAddress::parse(e).ok()).map(|e| e.as_str().to_owned()),
        created_at: now,
        last_login_at: now,
    };
    link(state, user, &linked, &provider.settings.name).await?;
    let detail = serde_json::json!({ "provider": linked.provider });
    account_event_with(state, user, ip, action::IDENTITY_LINKED, detail).await;
    Ok(())
}

async fn link(
    state: &AppState,
    user: &PlatformUser,
    linked: &LinkedIdentity,
    label: &str,
) -> Result<(), ExternalLoginError> {
    match state.store.record_identity_login(user.id, linked).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(_)) => Err(ExternalLoginError::LinkedElsewhere(label.to_owned())),
        Err(err) => Err(err.into()),
    }
}

/// Removes an outside sign-in from an account. The last way in of an account without a
/// password is kept: removing it would leave only a password reset to get back in.
pub async fn unlink_identity(
    state: &AppState,
    ip: IpAddr,
    user: &PlatformUser,
    provider: &str,
    subject: &str,
) -> Result<(), ApiError> {
    let identities = state.store.list_user_identities(user.id).await?;
    if !identities.iter().any(|i| i.provider == provider && i.subject == subject) {
        return Err(ApiError::NotFound);
    }
    if user.password_hash.is_none() && identities.len() == 1 {
        return Err(ApiError::BadRequest(
            "This is the only way into your account: set a password (with \"Forgot your \
             password?\" on the login page) before removing it."
                .into(),
        ));
    }
    state.store.unlink_identity(user.id, provider, subject).await?;
    let detail = serde_json::json!({ "provider": provider });
    account_event_with(state, user, ip, action::IDENTITY_UNLINKED, detail).await;
    Ok(())
}

/// How long a password reset link works.
pub const PASSWORD_RESET_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);

/// Sends a reset link when `email` has an account. Says nothing either way, so the answer does
/// not reveal which addresses have accounts; throttled like logins.
pub async fn request_password_reset(
    state: &AppState,
    ip: IpAddr,
    email: &str,
) -> Result<(), ApiError> {
    state
        .login_limiter
        .check(ip, email.trim())
        .map_err(|retry_after| ApiError::TooManyRequests { retry_after })?;
    let Ok(email) = EmailAddress::parse(email) else { return Ok(()) };
    let Some(user) = state.store.find_user_by_email(&email).await? else { return Ok(()) };
    let now = state.clock.now();
    let token = mcplatform_core::crypto::NewSecretToken::generate("mcpr_");
    state
        .store
        .create_password_reset(user.id, &token.hash, now, now + PASSWORD_RESET_LIFETIME)
        .await?;
    let mut link = state.config.base_url.clone();
    link.set_path(&format!(
        "/password/reset/{}",
        secrecy::ExposeSecret::expose_secret(&token.secret)
    ));
    let message = mcplatform_core::outbox::NewEmail {
        organization_id: None,
        to: user.email.clone(),
        subject: "Reset your MCPlatform password".into(),
        body_text: format!(
            "Someone asked to reset the password of the MCPlatform account {}.\n\n\
             Choose a new password here (the link works for one hour, once):\n{link}\n\n\
             If it was not you, ignore this message: your password stays as it is.\n",
            user.email
        ),
    };
    crate::mail::queue(state, message).await?;
    account_event(state, &user, ip, action::PASSWORD_RESET_REQUESTED).await;
    Ok(())
}

/// Sets a new password through a reset link; every session of the account ends.
pub async fn complete_password_reset(
    state: &AppState,
    ip: IpAddr,
    token: &str,
    password: String,
) -> Result<PlatformUser, ApiError> {
    let token = mcplatform_core::crypto::TokenHash::of(token);
    let now = state.clock.now();
    let user =
        state.store.find_password_reset_user(&token, now).await?.ok_or(ApiError::NotFound)?;
    let password = SecretString::from(password);
    check_policy(&password, &user.email)?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|join| ApiError::Internal(Box::new(join)))?
        .map_err(|err| ApiError::Internal(Box::new(err)))?;
    let user = state.store.complete_password_reset(&token, &hash, now).await?;
    account_event(state, &user, ip, action::PASSWORD_RESET).await;
    Ok(user)
}
