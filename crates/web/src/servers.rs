//! MCP server settings as people type them (pages and API), and the URLs a server answers on.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mcplatform_core::mcp_server::{AuthMode, McpServerSettings, Slug};
use mcplatform_core::oauth::{ServerOrigin, UrlForm};
use serde::Serialize;
use url::Url;

use mcplatform_core::audit::action;
use mcplatform_core::mcp_server::McpServer;
use mcplatform_core::org::Role;
use serde_json::json;

use mcplatform_core::ValidationError;

use crate::access::{Actor, OrgAccess};
use crate::{ApiError, AppState, audit};

/// Creates a server; admins only. `Conflict("slug")` when any organization has the slug.
pub async fn create(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    slug: &Slug,
    settings: &McpServerSettings,
) -> Result<McpServer, ApiError> {
    access.require(Role::Admin)?;
    check_identity_provider(state, access, settings).await?;
    let server =
        state.store.create_mcp_server(access.org.id, slug, settings, state.clock.now()).await?;
    // The slug may have been asked for while it was free.
    state.hosting.forget_server(slug);
    let target = format!("server {slug}");
    audit::record(
        state,
        Some(access.org.id),
        actor,
        action::SERVER_CREATED,
        target,
        json!({ "name": settings.name }),
    )
    .await;
    Ok(server)
}

/// Saves new settings; admins only. The audit entry names the fields that changed.
pub async fn update(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    server: &McpServer,
    settings: &McpServerSettings,
) -> Result<McpServer, ApiError> {
    access.require(Role::Admin)?;
    check_identity_provider(state, access, settings).await?;
    let updated = state
        .store
        .update_mcp_server(access.org.id, server.id, settings, state.clock.now())
        .await?;
    state.hosting.forget_server(&server.slug);
    // Compared as stored, not as the form rounds them (seconds set through the API count).
    let changed = audit::changed_fields!(server.settings, settings;
        name,
        description,
        product_name,
        auth_mode,
        identity_provider_id,
        support_tool_enabled,
        walkthrough_tool_enabled,
        telemetry_enabled,
        enabled,
        access_token_ttl,
        refresh_token_ttl
    );
    let target = format!("server {}", server.slug);
    audit::record(
        state,
        Some(access.org.id),
        actor,
        action::SERVER_UPDATED,
        target,
        json!({ "changed": changed }),
    )
    .await;
    Ok(updated)
}

/// A server may only sign its users in with a provider of its own organization.
async fn check_identity_provider(
    state: &AppState,
    access: &OrgAccess,
    settings: &McpServerSettings,
) -> Result<(), ApiError> {
    let Some(provider) = settings.identity_provider_id else { return Ok(()) };
    match state.store.get_identity_provider(access.org.id, provider).await {
        Ok(_) => Ok(()),
        Err(mcplatform_store::StoreError::NotFound) => {
            Err(ApiError::Validation(ValidationError::new(
                "identity_provider_id",
                "this organization has no such identity provider",
            )))
        }
        Err(err) => Err(err.into()),
    }
}

/// Deletes a server; admins only.
pub async fn delete(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    server: &McpServer,
) -> Result<(), ApiError> {
    access.require(Role::Admin)?;
    state.store.delete_mcp_server(access.org.id, server.id).await?;
    state.hosting.forget_server(&server.slug);
    let target = format!("server {}", server.slug);
    audit::record(state, Some(access.org.id), actor, action::SERVER_DELETED, target, json!({}))
        .await;
    Ok(())
}

/// Field name → what is wrong with it, in the form's order.
pub type FieldErrors = BTreeMap<&'static str, String>;

/// Server settings as submitted, before validation.
#[derive(Debug, Clone)]
pub struct SettingsInput {
    pub name: String,
    pub description: String,
    pub product_name: String,
    pub auth_mode: String,
    /// An identity provider id, or empty; used by `custom_oauth` only.
    pub identity_provider_id: String,
    pub support_tool_enabled: bool,
    pub walkthrough_tool_enabled: bool,
    pub telemetry_enabled: bool,
    pub enabled: bool,
    pub access_token_ttl_minutes: i64,
    pub refresh_token_ttl_days: i64,
}

impl SettingsInput {
    pub fn from_settings(settings: &McpServerSettings) -> Self {
        Self {
            name: settings.name.clone(),
            description: settings.description.clone(),
            product_name: settings.product_name.clone(),
            auth_mode: settings.auth_mode.as_str().to_owned(),
            identity_provider_id: settings
                .identity_provider_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            support_tool_enabled: settings.support_tool_enabled,
            walkthrough_tool_enabled: settings.walkthrough_tool_enabled,
            telemetry_enabled: settings.telemetry_enabled,
            enabled: settings.enabled,
            access_token_ttl_minutes: i64::try_from(settings.access_token_ttl.as_secs() / 60)
                .unwrap_or(i64::MAX),
            refresh_token_ttl_days: i64::try_from(settings.refresh_token_ttl.as_secs() / 86_400)
                .unwrap_or(i64::MAX),
        }
    }

    /// Validates every field, collecting each problem next to its field.
    pub fn validate(&self) -> Result<McpServerSettings, FieldErrors> {
        self.validate_over(None)
    }

    /// Like [`Self::validate`], for an edit of `current`. The form shows lifetimes in whole
    /// minutes and days while the API sets seconds: a number submitted as it was shown keeps
    /// the exact stored lifetime instead of rounding it down.
    pub fn validate_over(
        &self,
        current: Option<&McpServerSettings>,
    ) -> Result<McpServerSettings, FieldErrors> {
        let shown = current.map(|current| (Self::from_settings(current), current));
        let mut errors = FieldErrors::new();
        let product_name =
            if self.product_name.trim().is_empty() { &self.name } else { &self.product_name };
        let auth_mode = self
            .auth_mode
            .parse::<AuthMode>()
            .map_err(|e| errors.insert("auth_mode", e.message))
            .ok();
        // Only `custom_oauth` uses a provider: another mode lets go of the one chosen.
        let identity_provider_id = match self.identity_provider_id.trim() {
            _ if auth_mode != Some(AuthMode::CustomOauth) => None,
            "" => None,
            id => id
                .parse()
                .map_err(|_| {
                    errors.insert("identity_provider_id", "is not an identity provider".into())
                })
                .ok(),
        };
        let minutes = u64::try_from(self.access_token_ttl_minutes).unwrap_or(0);
        let days = u64::try_from(self.refresh_token_ttl_days).unwrap_or(0);
        let settings = McpServerSettings {
            name: self.name.trim().to_owned(),
            description: self.description.trim().to_owned(),
            product_name: product_name.trim().to_owned(),
            auth_mode: auth_mode.unwrap_or(AuthMode::None),
            identity_provider_id,
            support_tool_enabled: self.support_tool_enabled,
            walkthrough_tool_enabled: self.walkthrough_tool_enabled,
            access_token_ttl: match &shown {
                Some((shown, current))
                    if shown.access_token_ttl_minutes == self.access_token_ttl_minutes =>
                {
                    current.access_token_ttl
                }
                _ => Duration::from_secs(minutes.saturating_mul(60)),
            },
            refresh_token_ttl: match &shown {
                Some((shown, current))
                    if shown.refresh_token_ttl_days == self.refresh_token_ttl_days =>
                {
                    current.refresh_token_ttl
                }
                _ => Duration::from_secs(days.saturating_mul(86_400)),
            },
            telemetry_enabled: self.telemetry_enabled,
            enabled: self.enabled,
        };
        // `validate` stops at the first problem; run it until every field is accounted for.
        let mut probe = settings.clone();
        while let Err(err) = probe.validate() {
            let field = match err.field {
                "access_token_ttl" => "access_token_ttl_minutes",
                "refresh_token_ttl" => "refresh_token_ttl_days",
                other => other,
            };
            errors.entry(field).or_insert(err.message);
            if !neutralise(&mut probe, err.field) {
                break;
            }
        }
        if errors.is_empty() { Ok(settings) } else { Err(errors) }
    }
}

/// Replaces a failing field with a valid stand-in so validation can look at the next one.
fn neutralise(settings: &mut McpServerSettings, field: &str) -> bool {
    let defaults = McpServerSettings::default();
    match field {
        "name" | "product_name" => {
            settings.name = "x".into();
            settings.product_name = "x".into();
        }
        "description" => settings.description = defaults.description,
        "identity_provider_id" => {
            settings.auth_mode = AuthMode::None;
            settings.identity_provider_id = None;
        }
        "access_token_ttl" => settings.access_token_ttl = defaults.access_token_ttl,
        "refresh_token_ttl" => settings.refresh_token_ttl = defaults.refresh_token_ttl,
        _ => return false,
    }
    true
}

impl Default for SettingsInput {
    fn default() -> Self {
        Self::from_settings(&McpServerSettings::default())
    }
}

/// Whether a slug can be used for a new server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum SlugStatus {
    Available,
    Taken,
    Invalid(String),
}

pub async fn slug_status(state: &AppState, input: &str) -> Result<SlugStatus, ApiError> {
    match Slug::parse(input) {
        Err(err) => Ok(SlugStatus::Invalid(err.message)),
        Ok(slug) => Ok(match state.store.find_mcp_server_by_slug(&slug).await? {
            Some(_) => SlugStatus::Taken,
            None => SlugStatus::Available,
        }),
    }
}

/// The addresses an MCP server answers on (DESIGN.md "URLs").
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(description = "The addresses the MCP server answers on.")]
pub struct ServerUrls {
    /// `{scheme}://{slug}.{base host}/mcp` (the path form when the base host is an IP address)
    pub mcp_url: String,
    /// `{base}/s/{slug}/mcp`, the same server without a wildcard DNS record.
    pub mcp_path_url: String,
}

impl ServerUrls {
    pub fn new(base: &Url, slug: &Slug) -> Self {
        let url = |form| ServerOrigin::new(base, slug, form).url("/mcp");
        Self { mcp_url: url(UrlForm::Subdomain), mcp_path_url: url(UrlForm::Path) }
    }
}

/// Copy-paste installation for the editors our customers' users have.
#[derive(Debug, Clone, Serialize)]
pub struct InstallSnippets {
    /// Opens Cursor's "install MCP server" dialog.
    pub cursor_deeplink: String,
    /// `.vscode/mcp.json`
    pub vscode_json: String,
    pub vscode_command: String,
    pub claude_code_command: String,
    /// `claude_desktop_config.json`, through the `mcp-remote` bridge.
    pub claude_desktop_json: String,
}

impl InstallSnippets {
    pub fn new(slug: &Slug, url: &str) -> Self {
        let key = slug.as_str();
        let cursor_config = serde_json::json!({ "url": url }).to_string();
        let vscode_entry =
            serde_json::json!({ "name": key, "type": "http", "url": url }).to_string();
        let pretty =
            |value: serde_json::Value| serde_json::to_string_pretty(&value).unwrap_or_default();
        Self {
            cursor_deeplink: format!(
                "cursor://anysphere.cursor-deeplink/mcp/install?name={}&config={}",
                url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>(),
                url::form_urlencoded::byte_serialize(STANDARD.encode(cursor_config).as_bytes())
                    .collect::<String>(),
            ),
            vscode_json: pretty(
                serde_json::json!({ "servers": { key: { "type": "http", "url": url } } }),
            ),
            vscode_command: format!("code --add-mcp '{vscode_entry}'"),
            claude_code_command: format!("claude mcp add --transport http {key} {url}"),
            claude_desktop_json: pretty(serde_json::json!({
                "mcpServers": { key: { "command": "npx", "args": ["-y", "mcp-remote", url] } }
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_answer_on_a_subdomain_and_under_a_path() {
        let slug = Slug::parse("acme").unwrap();
        let urls = ServerUrls::new(&Url::parse("http://localhost:3000").unwrap(), &slug);
        assert_eq!(urls.mcp_url, "http://acme.localhost:3000/mcp");
        assert_eq!(urls.mcp_path_url, "http://localhost:3000/s/acme/mcp");
        let urls = ServerUrls::new(&Url::parse("https://mcp.example.com").unwrap(), &slug);
        assert_eq!(urls.mcp_url, "https://acme.mcp.example.com/mcp");
    }

    #[test]
    fn the_cursor_deeplink_carries_the_url_in_base64_json() {
        let slug = Slug::parse("acme").unwrap();
        let snippets = InstallSnippets::new(&slug, "https://acme.mcp.example.com/mcp");
        let config = snippets.cursor_deeplink.split("config=").nth(1).unwrap();
        let config: String =
            url::form_urlencoded::parse(format!("c={config}").as_bytes()).next().unwrap().1.into();
        let json: serde_json::Value =
            serde_json::from_slice(&STANDARD.decode(config).unwrap()).unwrap();
        assert_eq!(json, serde_json::json!({"url": "https://acme.mcp.example.com/mcp"}));
        assert!(snippets.claude_code_command.ends_with("acme https://acme.mcp.example.com/mcp"));
    }

    #[test]
    fn every_invalid_field_is_reported_at_once() {
        let input = SettingsInput {
            name: String::new(),
            auth_mode: "magic".into(),
            access_token_ttl_minutes: 0,
            description: "d".repeat(3000),
            ..SettingsInput::default()
        };
        let errors = input.validate().unwrap_err();
        let fields: Vec<_> = errors.keys().copied().collect();
        assert_eq!(fields, vec!["access_token_ttl_minutes", "auth_mode", "description", "name"]);
    }
}
