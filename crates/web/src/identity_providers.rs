//! An organization's upstream identity providers, as pages and API change them: admins only,
//! checked before saving (outbound policy, OpenID Connect discovery), secrets sealed, audited.

use mcplatform_core::ValidationError;
use mcplatform_core::audit::action;
use mcplatform_core::identity_provider::{
    Endpoints, IdentityProvider, ProviderKind, ProviderSettings, parse_client_secret,
};
use mcplatform_core::ids::IdentityProviderId;
use mcplatform_core::mcp_server::Slug;
use mcplatform_core::org::Role;
use mcplatform_store::StoreError;
use serde_json::json;

use crate::access::{Actor, OrgAccess};
use crate::{ApiError, AppState, audit, upstream};

/// Checks that the platform will be able to use the provider: every URL passes the outbound
/// policy and an OpenID Connect issuer answers discovery correctly. Google's issuer is fixed
/// and known good, so it is not fetched.
pub async fn verify(
    state: &AppState,
    kind: ProviderKind,
    settings: &ProviderSettings,
) -> Result<(), ValidationError> {
    for (field, url) in settings.urls() {
        state.outbound.check_url(&url).map_err(|e| ValidationError::new(field, e.to_string()))?;
    }
    if let (ProviderKind::Oidc, Endpoints::Discovered { issuer }) = (kind, &settings.endpoints) {
        upstream::discover(&state.outbound, issuer).await.map_err(|e| {
            ValidationError::new("issuer", format!("OpenID Connect discovery failed: {e}"))
        })?;
    }
    Ok(())
}

/// Adds a provider; admins only. `Conflict("name")` when the name is taken in the org.
pub async fn create(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    kind: ProviderKind,
    settings: ProviderSettings,
    client_secret: &str,
) -> Result<IdentityProvider, ApiError> {
    access.require(Role::Admin)?;
    let client_secret = parse_client_secret(client_secret)?;
    verify(state, kind, &settings).await?;
    let id = IdentityProviderId::new();
    let now = state.clock.now();
    let provider = IdentityProvider {
        id,
        organization_id: access.org.id,
        kind,
        sealed_client_secret: state
            .master_key
            .seal(client_secret.as_bytes(), &IdentityProvider::secret_context(id)),
        settings,
        created_at: now,
        updated_at: now,
    };
    state.store.create_identity_provider(&provider).await?;
    audit::record(
        state,
        Some(access.org.id),
        actor,
        action::IDP_CREATED,
        format!("identity provider {}", provider.settings.name),
        json!({ "kind": kind.as_str() }),
    )
    .await;
    Ok(provider)
}

/// Saves new settings, and a new client secret when one is given; admins only. Discovery runs
/// again only when the endpoints changed, so renaming works while the provider is down.
pub async fn update(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    provider: &IdentityProvider,
    settings: ProviderSettings,
    new_client_secret: Option<&str>,
) -> Result<IdentityProvider, ApiError> {
    access.require(Role::Admin)?;
    let new_client_secret = new_client_secret.map(parse_client_secret).transpose()?;
    if settings.endpoints != provider.settings.endpoints {
        verify(state, provider.kind, &settings).await?;
    }
    let sealed = new_client_secret.map(|secret| {
        state.master_key.seal(secret.as_bytes(), &IdentityProvider::secret_context(provider.id))
    });
    let updated = state
        .store
        .update_identity_provider(
            access.org.id,
            provider.id,
            &settings,
            sealed.as_deref(),
            state.clock.now(),
        )
        .await?;
    let (before, after) =
        (provider.settings.to_input(provider.kind), settings.to_input(provider.kind));
    let mut changed = audit::changed_fields!(before, after;
        name,
        client_id,
        issuer,
        authorization_endpoint,
        token_endpoint,
        userinfo_endpoint,
        scopes,
        subject_claim,
        email_claim,
        name_claim
    );
    if sealed.is_some() {
        changed.push("client_secret");
    }
    audit::record(
        state,
        Some(access.org.id),
        actor,
        action::IDP_UPDATED,
        format!("identity provider {}", updated.settings.name),
        json!({ "changed": changed }),
    )
    .await;
    Ok(updated)
}

/// Removes a provider; admins only.
pub async fn delete(
    state: &AppState,
    access: &OrgAccess,
    actor: &Actor,
    provider: &IdentityProvider,
) -> Result<(), ApiError> {
    access.require(Role::Admin)?;
    match state.store.delete_identity_provider(access.org.id, provider.id).await {
        Ok(()) => {}
        Err(StoreError::Conflict("in_use")) => {
            let slugs =
                state.store.servers_using_identity_provider(access.org.id, provider.id).await?;
            let slugs = slugs.iter().map(Slug::as_str).collect::<Vec<_>>().join(", ");
            return Err(ApiError::InUse(format!(
                "servers sign their users in with this provider ({slugs}): give them another \
                 provider or sign-in mode first"
            )));
        }
        Err(err) => return Err(err.into()),
    }
    audit::record(
        state,
        Some(access.org.id),
        actor,
        action::IDP_DELETED,
        format!("identity provider {}", provider.settings.name),
        json!({ "kind": provider.kind.as_str() }),
    )
    .await;
    Ok(())
}
