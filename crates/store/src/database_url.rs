//! The database URL: which backend, and a `Debug`/`Display` that never prints the password.

use std::fmt;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("database url is not a valid URL ({0})")]
    Malformed(String),
    #[error("unsupported database url scheme {0:?} (expected postgres:// or sqlite://)")]
    UnsupportedScheme(String),
    #[error("sqlite database path {0:?} cannot contain '?' or '#'")]
    UnsupportedPath(String),
    #[error(
        "in-memory SQLite is not supported: each pooled connection would get its own empty database"
    )]
    InMemory,
}

/// A validated database URL. The password stays inside a secret; printing shows `***`.
#[derive(Clone)]
pub struct DatabaseUrl {
    url: SecretString,
    backend: Backend,
    redacted: String,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, DatabaseUrlError> {
        let raw = raw.trim();
        let scheme = raw.split_once(':').map(|(scheme, _)| scheme).unwrap_or_default();
        let backend = match scheme {
            "postgres" | "postgresql" => Backend::Postgres,
            "sqlite" => Backend::Sqlite,
            "" => return Err(DatabaseUrlError::Malformed("missing scheme".into())),
            other => return Err(DatabaseUrlError::UnsupportedScheme(other.into())),
        };
        let redacted = match backend {
            Backend::Postgres => {
                let mut url =
                    Url::parse(raw).map_err(|e| DatabaseUrlError::Malformed(e.to_string()))?;
                if url.host_str().is_none() && !raw.contains("host=") {
                    return Err(DatabaseUrlError::Malformed("missing host".into()));
                }
                if url.password().is_some() {
                    // Only fails for URLs that cannot have a password, which we just ruled out.
                    let _ = url.set_password(Some("***"));
                }
                url.to_string()
            }
            Backend::Sqlite => {
                if raw.contains(":memory:") || raw.contains("mode=memory") {
                    return Err(DatabaseUrlError::InMemory);
                }
                raw.to_owned()
            }
        };
        Ok(Self { url: SecretString::from(raw.to_owned()), backend, redacted })
    }

    /// The SQLite database file at `path`, created on first use.
    pub fn sqlite_file(path: &Path) -> Result<Self, DatabaseUrlError> {
        let display = path.display().to_string();
        if display.contains(['?', '#']) {
            return Err(DatabaseUrlError::UnsupportedPath(display));
        }
        Self::parse(&format!("sqlite://{display}?mode=rwc"))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The full URL, password included: only for handing to the driver.
    pub fn expose(&self) -> &str {
        self.url.expose_secret()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_hide_their_password_when_printed() {
        let url = DatabaseUrl::parse("postgres://app:hunter2@db.internal:5432/mcp").unwrap();
        assert_eq!(url.backend(), Backend::Postgres);
        assert_eq!(url.to_string(), "postgres://app:***@db.internal:5432/mcp");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert!(url.expose().contains("hunter2"));
    }

    #[test]
    fn sqlite_files_become_create_on_first_use_urls() {
        let url = DatabaseUrl::sqlite_file(Path::new("/var/lib/mcp/db.sqlite")).unwrap();
        assert_eq!(url.backend(), Backend::Sqlite);
        assert_eq!(url.expose(), "sqlite:///var/lib/mcp/db.sqlite?mode=rwc");
        assert!(DatabaseUrl::sqlite_file(Path::new("/tmp/a?b")).is_err());
    }

    #[test]
    fn in_memory_sqlite_is_refused() {
        for url in ["sqlite::memory:", "sqlite://file?mode=memory"] {
            assert_eq!(DatabaseUrl::parse(url).unwrap_err(), DatabaseUrlError::InMemory, "{url}");
        }
    }

    #[test]
    fn unsupported_or_malformed_urls_say_why() {
        assert_eq!(
            DatabaseUrl::parse("mysql://localhost/db").unwrap_err(),
            DatabaseUrlError::UnsupportedScheme("mysql".into())
        );
        assert!(matches!(DatabaseUrl::parse("localhost"), Err(DatabaseUrlError::Malformed(_))));
        assert!(matches!(DatabaseUrl::parse("postgres://"), Err(DatabaseUrlError::Malformed(_))));
    }
}
