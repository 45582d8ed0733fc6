//! Account operations shared by the pages and the JSON API: signing up and logging in.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::StatusCode;
use mcplatform_core::password::{check_policy, hash_password, verify_password};
use mcplatform_core::user::{DisplayName, EmailAddress, PlatformUser};
use mcplatform_store::{NewPlatformUser, StoreError};
use secrecy::SecretString;

use mcplatform_core::audit::action;

use crate::access::Actor;
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
    let user = match EmailAddress::parse(email) {
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
    let actor = Actor {
        user_id: Some(user.id),
        name: user.display_name.as_str().to_owned(),
        email: Some(user.email.as_str().to_owned()),
        ip: Some(ip.to_string()),
    };
    audit::record(state, None, &actor, what, user.email.as_str(), serde_json::json!({})).await;
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
