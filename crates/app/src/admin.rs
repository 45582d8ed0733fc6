//! `mcplatform admin …` and `serve --demo`: set-up from the command line, through the same
//! operations (and audit log) as the dashboard. Results are printed as JSON for scripts.

use anyhow::{Context as _, bail};
use mcplatform_core::audit::action;
use mcplatform_core::crypto::NewSecretToken;
use mcplatform_core::hosting::TrackingLink;
use mcplatform_core::ids::WalkthroughEventId;
use mcplatform_core::mcp_server::{AuthMode, McpServer, McpServerSettings, Slug};
use mcplatform_core::org::Role;
use mcplatform_core::password::{check_policy, hash_password};
use mcplatform_core::user::{DisplayName, EmailAddress, PlatformUser};
use mcplatform_core::walkthrough::{EventKind, Progress, ProgressEvent, WalkthroughStep};
use mcplatform_store::{NewPlatformUser, PageRequest};
use mcplatform_web::access::{Actor, OrgAccess};
use mcplatform_web::{AppState, audit, tracking_links, walkthroughs};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// The author the audit log shows for command-line changes.
fn cli_actor() -> Actor {
    Actor { user_id: None, name: "mcplatform admin (command line)".into(), email: None, ip: None }
}

/// A password for someone who did not choose one: 24 random characters, shown once.
fn generated_password() -> SecretString {
    let token = NewSecretToken::generate("");
    SecretString::from(token.secret.expose_secret().chars().take(24).collect::<String>())
}

/// Creates a dashboard account, or sets a new password on an existing one.
pub async fn upsert_user(
    state: &AppState,
    email: &str,
    name: &str,
    password: Option<String>,
) -> anyhow::Result<(PlatformUser, Option<SecretString>)> {
    let email = EmailAddress::parse(email)?;
    let display_name = DisplayName::parse(name)?;
    let (password, generated) = match password {
        Some(password) => (SecretString::from(password), None),
        None => {
            let password = generated_password();
            (password.clone(), Some(password))
        }
    };
    check_policy(&password, &email)?;
    let hash = hash_password(&password)?;
    let now = state.clock.now();
    let (user, what) = match state.store.find_user_by_email(&email).await? {
        Some(user) => {
            state.store.set_password_hash(user.id, &hash, now).await?;
            // As with an emailed reset link: whoever was logged in with the old password is out.
            state.store.delete_user_sessions(user.id).await?;
            (user, action::PASSWORD_RESET)
        }
        None => {
            let new = NewPlatformUser { email, display_name, password_hash: Some(hash) };
            (state.store.create_user(&new, now).await?, action::SIGNUP)
        }
    };
    audit::record(state, None, &cli_actor(), what, user.email.as_str(), json!({})).await;
    Ok((user, generated))
}

/// An organization as the command line acts on it: with owner powers.
async fn org_as_owner(state: &AppState, org_id: &str) -> anyhow::Result<OrgAccess> {
    let id = org_id.parse().with_context(|| format!("{org_id:?} is not an organization id"))?;
    let org = state
        .store
        .get_organization(id)
        .await
        .with_context(|| format!("no organization {org_id}"))?;
    Ok(OrgAccess { org, role: Role::Owner })
}

pub async fn create_user(
    state: &AppState,
    email: &str,
    name: &str,
    password: Option<String>,
) -> anyhow::Result<Value> {
    let (user, generated) = upsert_user(state, email, name, password).await?;
    Ok(json!({
        "id": user.id.to_string(),
        "email": user.email.as_str(),
        "display_name": user.display_name.as_str(),
        "generated_password": generated.map(|p| p.expose_secret().to_owned()),
    }))
}

pub async fn create_org(state: &AppState, name: &str, owner_email: &str) -> anyhow::Result<Value> {
    let email = EmailAddress::parse(owner_email)?;
    let Some(owner) = state.store.find_user_by_email(&email).await? else {
        bail!("no account with email {email}: create it first with `mcplatform admin create-user`");
    };
    let org = mcplatform_web::organizations::create(state, owner.id, &cli_actor(), name)
        .await
        .map_err(api)?;
    Ok(json!({ "id": org.id.to_string(), "name": org.name.as_str(), "owner": email.as_str() }))
}

pub async fn create_server(
    state: &AppState,
    org_id: &str,
    slug: &str,
    name: &str,
) -> anyhow::Result<Value> {
    let access = org_as_owner(state, org_id).await?;
    let slug = Slug::parse(slug)?;
    let settings = McpServerSettings::new(name)?;
    let server = mcplatform_web::servers::create(state, &access, &cli_actor(), &slug, &settings)
        .await
        .map_err(api)?;
    let urls = mcplatform_web::servers::ServerUrls::new(&state.config.base_url, &server.slug);
    Ok(json!({
        "id": server.id.to_string(),
        "slug": server.slug.as_str(),
        "name": server.settings.name,
        "mcp_url": urls.mcp_url,
        "mcp_path_url": urls.mcp_path_url,
    }))
}

pub async fn create_api_key(
    state: &AppState,
    org_id: &str,
    server_id: Option<&str>,
    name: &str,
    scopes: &[String],
) -> anyhow::Result<Value> {
    let access = org_as_owner(state, org_id).await?;
    let created =
        mcplatform_web::api_keys::create(state, &access, &cli_actor(), name, server_id, scopes)
            .await
            .map_err(api)?;
    let scopes: Vec<_> = created.key.scopes.iter().map(|s| s.as_str()).collect();
    Ok(json!({
        "id": created.key.id.to_string(),
        "name": created.key.name,
        "scopes": scopes,
        "mcp_server_id": created.key.mcp_server_id.map(|id| id.to_string()),
        "secret": created.secret.expose_secret(),
    }))
}

/// Web-layer errors carry their message in `Display`; validation ones name their field.
fn api(err: mcplatform_web::ApiError) -> anyhow::Error {
    match err {
        mcplatform_web::ApiError::Validation(err) => {
            anyhow::anyhow!("invalid {}: {}", err.field, err.message)
        }
        mcplatform_web::ApiError::Conflict(what) => anyhow::anyhow!("{what} already taken"),
        other => anyhow::anyhow!(other),
    }
}

pub const DEMO_EMAIL: &str = "demo@example.com";
pub const DEMO_ORG: &str = "Demo Inc.";
pub const DEMO_SLUG: &str = "demo";

/// The demo end user a tracking URL is printed for.
const DEMO_END_USER: &str = "Demo end user";
const DEMO_END_USER_EMAIL: &str = "enduser@example.com";

/// The demo end user's live tracking link on the demo server, made on first start.
async fn demo_tracking_link(
    state: &AppState,
    access: &OrgAccess,
    server: &McpServer,
) -> anyhow::Result<TrackingLink> {
    let links =
        state.store.list_tracking_links(access.org.id, server.id, PageRequest::new(100, 0)).await?;
    let live = links
        .items
        .into_iter()
        .find(|link| link.revoked_at.is_none() && link.label.as_deref() == Some(DEMO_END_USER));
    match live {
        Some(link) => Ok(link),
        None => tracking_links::create(
            state,
            access,
            &cli_actor(),
            server,
            Some(DEMO_END_USER),
            Some(DEMO_END_USER_EMAIL),
        )
        .await
        .map_err(api),
    }
}

/// Seeds, idempotently, a demo login with a fresh password, its organization and the `demo`
/// MCP server, and returns what to tell the person who started the server.
pub async fn seed_demo(state: &AppState) -> anyhow::Result<String> {
    let (user, password) = upsert_user(state, DEMO_EMAIL, "Demo User", None).await?;
    let password = password.context("a demo password is always generated")?;
    let orgs = state.store.list_organizations_for_user(user.id).await?;
    let org = match orgs.into_iter().find(|(org, _)| org.name.as_str() == DEMO_ORG) {
        Some((org, _)) => org,
        None => mcplatform_web::organizations::create(state, user.id, &cli_actor(), DEMO_ORG)
            .await
            .map_err(api)?,
    };
    let slug = Slug::parse(DEMO_SLUG)?;
    let access = OrgAccess { org: org.clone(), role: Role::Owner };
    let server = match state.store.find_mcp_server_by_slug(&slug).await? {
        Some(server) if server.organization_id != org.id => {
            tracing::warn!(
                "the slug \"demo\" belongs to another organization: not creating the demo server"
            );
            None
        }
        Some(server) => Some(server),
        None => {
            let mut settings = McpServerSettings::new("Demo Docs")?;
            settings.description = "A demo MCP server created by `mcplatform serve --demo`.".into();
            // Identified by tracking URLs, so a client connects without signing in first.
            settings.auth_mode = AuthMode::TrackingId;
            Some(
                mcplatform_web::servers::create(state, &access, &cli_actor(), &slug, &settings)
                    .await
                    .map_err(api)?,
            )
        }
    };
    let mut login = state.config.base_url.clone();
    login.set_path("/login");
    let mut how = format!(
        "demo: log in at {login} as {DEMO_EMAIL} with password {} (organization \"{DEMO_ORG}\", MCP server \"{DEMO_SLUG}\"); the password changes on every --demo start",
        password.expose_secret()
    );
    if let Some(server) = &server {
        demo_walkthrough(state, &access, server).await?;
    }
    // A tracking URL identifies on its own unless the server was switched to OAuth since.
    let oauth = [AuthMode::PlatformOauth, AuthMode::CustomOauth];
    if let Some(server) = server.filter(|server| !oauth.contains(&server.settings.auth_mode)) {
        let link = demo_tracking_link(state, &access, &server).await?;
        let (url, path_url) = tracking_links::urls(state, &server, &link);
        how.push_str(&format!(
            "\ndemo: connect an MCP client as the demo end user with the tracking URL {path_url} (or {url}); what they do shows on the server's Users page"
        ));
    }
    Ok(how)
}

/// The demo walkthrough, as the dashboard would import it.
const DEMO_WALKTHROUGH: &str = include_str!("demo_walkthrough.json");

/// Imports the demo quick start once, assigns it to the demo server, and gives it the progress
/// of a few made-up people over the last days, so that its analytics have something to show.
async fn demo_walkthrough(
    state: &AppState,
    access: &OrgAccess,
    server: &McpServer,
) -> anyhow::Result<()> {
    let existing = state.store.list_walkthroughs(access.org.id, PageRequest::new(200, 0)).await?;
    let title =
        mcplatform_core::walkthrough::exchange::import(DEMO_WALKTHROUGH.as_bytes())?.details.title;
    if existing.items.iter().any(|s| s.walkthrough.details.title == title) {
        return Ok(());
    }
    let (walkthrough, steps) =
        walkthroughs::import(state, access, &cli_actor(), DEMO_WALKTHROUGH.as_bytes())
            .await
            .map_err(api)?;
    walkthroughs::assign(state, access, &cli_actor(), server, &walkthrough).await.map_err(api)?;
    // Who got how far: (email, steps done, restarted first, days ago).
    let people: [(&str, usize, bool, i64); 6] = [
        ("ada@initech.example", 5, false, 6),
        ("grace@globex.example", 5, true, 4),
        ("linus@initech.example", 3, false, 12),
        ("margaret@hooli.example", 1, false, 9),
        ("ken@globex.example", 2, false, 1),
        ("barbara@hooli.example", 0, false, 0),
    ];
    let now = state.clock.now();
    for (email, done, restarted, days_ago) in people {
        let user = state.store.create_end_user(access.org.id, Some(email), None, now).await?;
        let mut at = now - time::Duration::days(days_ago) - time::Duration::hours(2);
        let mut progress = Progress {
            organization_id: access.org.id,
            end_user_id: user.id,
            walkthrough_id: walkthrough.id,
            completed_steps: Default::default(),
            current_step_id: steps.first().map(|s| s.id),
            last_server_id: server.id,
            last_session_id: None,
            started_at: at,
            last_activity_at: at,
            completed_at: None,
        };
        let event = |kind, step: Option<&WalkthroughStep>, at| ProgressEvent {
            id: WalkthroughEventId::new(),
            organization_id: access.org.id,
            walkthrough_id: walkthrough.id,
            end_user_id: user.id,
            mcp_server_id: server.id,
            session_id: None,
            kind,
            step_id: step.map(|s| s.id),
            at,
        };
        state.store.record_progress(&progress, &[event(EventKind::Started, None, at)]).await?;
        if restarted {
            at += time::Duration::minutes(4);
            let first = steps.first();
            state
                .store
                .record_progress(&progress, &[event(EventKind::StepCompleted, first, at)])
                .await?;
            at += time::Duration::minutes(1);
            progress.started_at = at;
            progress.last_activity_at = at;
            state
                .store
                .record_progress(&progress, &[event(EventKind::Restarted, None, at)])
                .await?;
        }
        for (index, step) in steps.iter().take(done).enumerate() {
            at += time::Duration::minutes(3);
            progress.completed_steps.insert(step.id);
            progress.current_step_id = steps.get(index + 1).map(|s| s.id);
            progress.last_activity_at = at;
            let mut events = vec![event(EventKind::StepCompleted, Some(step), at)];
            if index + 1 == steps.len() {
                progress.completed_at = Some(at);
                events.push(event(EventKind::Completed, None, at));
            }
            state.store.record_progress(&progress, &events).await?;
        }
    }
    Ok(())
}
