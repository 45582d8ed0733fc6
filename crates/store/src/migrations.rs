//! Embedded, per-backend migrations. Never edit a released file: add the next number.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::Backend;

/// `(version, description, sql)` for each backend, in order. A migration whose SQL is the
/// same for both dialects lives in `migrations/shared/` and is listed for both.
const SQLITE: &[(i64, &str, &str)] = &[
    (1, "foundation", include_str!("../migrations/sqlite/0001_foundation.sql")),
    (2, "invitations outbox", include_str!("../migrations/shared/0002_invitations_outbox.sql")),
    (3, "api keys", include_str!("../migrations/shared/0003_api_keys.sql")),
    (4, "audit events", include_str!("../migrations/shared/0004_audit_events.sql")),
    (5, "password resets", include_str!("../migrations/shared/0005_password_resets.sql")),
    (6, "identity providers", include_str!("../migrations/shared/0006_identity_providers.sql")),
    (7, "upstream logins", include_str!("../migrations/shared/0007_upstream_logins.sql")),
    (8, "platform identities", include_str!("../migrations/shared/0008_platform_identities.sql")),
    (9, "signing keys", include_str!("../migrations/shared/0009_signing_keys.sql")),
    (10, "oauth", include_str!("../migrations/shared/0010_oauth.sql")),
    (11, "end user login", include_str!("../migrations/shared/0011_end_user_login.sql")),
    (12, "server enabled", include_str!("../migrations/sqlite/0012_server_enabled.sql")),
    (13, "hosting", include_str!("../migrations/shared/0013_hosting.sql")),
    (14, "hosting indexes", include_str!("../migrations/shared/0014_hosting_indexes.sql")),
    (15, "walkthroughs", include_str!("../migrations/shared/0015_walkthroughs.sql")),
    (16, "support", include_str!("../migrations/shared/0016_support.sql")),
    (17, "telemetry", include_str!("../migrations/shared/0017_telemetry.sql")),
    (
        18,
        "telemetry sessions retention",
        include_str!("../migrations/shared/0018_telemetry_sessions_retention.sql"),
    ),
    (19, "telemetry export", include_str!("../migrations/shared/0019_telemetry_export.sql")),
    (
        20,
        "request identity source",
        include_str!("../migrations/shared/0020_request_identity_source.sql"),
    ),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (1, "foundation", include_str!("../migrations/postgres/0001_foundation.sql")),
    (2, "invitations outbox", include_str!("../migrations/shared/0002_invitations_outbox.sql")),
    (3, "api keys", include_str!("../migrations/shared/0003_api_keys.sql")),
    (4, "audit events", include_str!("../migrations/shared/0004_audit_events.sql")),
    (5, "password resets", include_str!("../migrations/shared/0005_password_resets.sql")),
    (6, "identity providers", include_str!("../migrations/shared/0006_identity_providers.sql")),
    (7, "upstream logins", include_str!("../migrations/shared/0007_upstream_logins.sql")),
    (8, "platform identities", include_str!("../migrations/shared/0008_platform_identities.sql")),
    (9, "signing keys", include_str!("../migrations/shared/0009_signing_keys.sql")),
    (10, "oauth", include_str!("../migrations/shared/0010_oauth.sql")),
    (11, "end user login", include_str!("../migrations/shared/0011_end_user_login.sql")),
    (12, "server enabled", include_str!("../migrations/postgres/0012_server_enabled.sql")),
    (13, "hosting", include_str!("../migrations/shared/0013_hosting.sql")),
    (14, "hosting indexes", include_str!("../migrations/shared/0014_hosting_indexes.sql")),
    (15, "walkthroughs", include_str!("../migrations/shared/0015_walkthroughs.sql")),
    (16, "support", include_str!("../migrations/shared/0016_support.sql")),
    (17, "telemetry", include_str!("../migrations/shared/0017_telemetry.sql")),
    (
        18,
        "telemetry sessions retention",
        include_str!("../migrations/shared/0018_telemetry_sessions_retention.sql"),
    ),
    (19, "telemetry export", include_str!("../migrations/shared/0019_telemetry_export.sql")),
    (
        20,
        "request identity source",
        include_str!("../migrations/shared/0020_request_identity_source.sql"),
    ),
];

pub(crate) fn migrator(backend: Backend) -> Migrator {
    let files = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    let migrations = files
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect::<Vec<_>>();
    Migrator { migrations: Cow::Owned(migrations), ..Migrator::DEFAULT }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_migration_versions() {
        let versions = |files: &[(i64, &str, &str)]| {
            files.iter().map(|m| (m.0, m.1.to_owned())).collect::<Vec<_>>()
        };
        assert_eq!(versions(SQLITE), versions(POSTGRES));
        assert!(SQLITE.windows(2).all(|w| w[0].0 < w[1].0), "versions must increase");
    }
}
