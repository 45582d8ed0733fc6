//! The page an invitation link opens, and accepting it.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;

use super::{Layout, PageForm, PageResult, PageSession, render};
use crate::AppState;
use crate::auth::AnonymousCsrf;
use crate::auth::session::MaybeSession;
use crate::members::{self, AcceptError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/invitations/{token}", get(view_invitation_get))
        .route("/invitations/{token}/accept", post(accept_post))
}

#[derive(Template)]
#[template(path = "invitations/accept.html")]
struct InvitationView {
    layout: Layout,
    token: String,
    problem: Option<String>,
    org_name: String,
    role: &'static str,
    email: String,
    logged_in: bool,
    return_to: String,
}

async fn view_invitation_get(
    State(state): State<AppState>,
    MaybeSession(current): MaybeSession,
    csrf: AnonymousCsrf,
    jar: CookieJar,
    Path(token): Path<String>,
) -> PageResult {
    let layout = match &current {
        Some(current) => Layout::for_session("Invitation", current),
        None => Layout::anonymous("Invitation", csrf.token.0.clone()),
    };
    let mut view = InvitationView {
        layout,
        return_to: format!("/invitations/{token}"),
        token,
        problem: None,
        org_name: String::new(),
        role: "",
        email: String::new(),
        logged_in: current.is_some(),
    };
    let status = match members::open_invitation(&state, &view.token).await {
        Ok(invitation) => {
            view.org_name = state
                .store
                .get_organization(invitation.organization_id)
                .await?
                .name
                .as_str()
                .to_owned();
            view.role = invitation.role.as_str();
            view.email = invitation.email.as_str().to_owned();
            StatusCode::OK
        }
        Err(AcceptError::Failed(err)) => return Err(err.into()),
        Err(problem) => {
            view.problem = Some(problem.to_string());
            StatusCode::NOT_FOUND
        }
    };
    let jar = AnonymousCsrf::set_cookie(csrf.new_cookie, jar);
    Ok((jar, render(status, &view)).into_response())
}

async fn accept_post(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Path(token): Path<String>,
    PageForm(_): PageForm<serde::de::IgnoredAny>,
) -> PageResult {
    match members::accept(&state, &current, &token).await {
        Ok(membership) => {
            Ok(Redirect::to(&format!("/orgs/{}", membership.organization_id)).into_response())
        }
        Err(AcceptError::Failed(err)) => Err(err.into()),
        Err(problem) => {
            let status = match problem {
                AcceptError::OtherAddress(_) => StatusCode::FORBIDDEN,
                _ => StatusCode::NOT_FOUND,
            };
            let view = InvitationView {
                layout: Layout::for_session("Invitation", &current),
                token: token.clone(),
                problem: Some(problem.to_string()),
                org_name: String::new(),
                role: "",
                email: String::new(),
                logged_in: true,
                return_to: format!("/invitations/{token}"),
            };
            Ok(render(status, &view))
        }
    }
}
