//! Configuration, in layers: built-in defaults, an optional TOML file, `MCPLATFORM_*`
//! environment variables (`__` separates sections: `MCPLATFORM_DATABASE__MAX_CONNECTIONS`), the
//! unprefixed `DATABASE_URL`, then command-line flags. Later layers win.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use mcplatform_core::identity_provider::{
    ProviderInput, ProviderKind, ProviderSettings, parse_client_secret,
};
use mcplatform_store::{ConnectOptions, DatabaseUrl};
use mcplatform_web::config::PlatformLoginProvider;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

pub const ENV_PREFIX: &str = "MCPLATFORM_";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// The public URL browsers and MCP clients use to reach this server.
    pub base_url: Url,
    /// Where the SQLite database and generated key material live.
    pub data_dir: PathBuf,
    /// Base64 of the 32-byte key that encrypts secrets at rest. When unset, the key is read
    /// from `master_key_file`, or from `<data_dir>/master.key`, created on first run.
    #[serde(skip_serializing)]
    pub master_key: Option<SecretString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key_file: Option<PathBuf>,
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub auth: AuthConfig,
    pub email: EmailConfig,
    pub log: LogConfig,
    pub telemetry: TelemetryConfig,
    pub testing: TestingConfig,
}

/// OTLP ingest at `/v1/{traces,metrics,logs}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetryConfig {
    /// The largest request body as sent, compressed or not (413 past it).
    pub max_body_bytes: usize,
    /// The largest body once gzip or zstd is undone (413 past it).
    pub max_decompressed_bytes: usize,
    /// Rows (spans, data points, log records) waiting for the database at most; requests
    /// past it are answered 429 with `Retry-After`.
    pub queue_rows: usize,
    /// How often the data past each organization's retention is deleted, in seconds.
    pub retention_interval_secs: u64,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        let limits = mcplatform_web::telemetry::IngestLimits::default();
        Self {
            max_body_bytes: limits.max_body_bytes,
            max_decompressed_bytes: limits.max_decompressed_bytes,
            queue_rows: limits.queue_rows,
            retention_interval_secs: 3600,
        }
    }
}

/// For test runs only, never production.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TestingConfig {
    /// The hosted server with the slug `conformance` serves the MCP conformance suite's
    /// fixture (its tools, resources and prompts) instead of the product's tools, through the
    /// same routing, transport and recording (`MCPLATFORM_TESTING__CONFORMANCE_FIXTURE=true`).
    pub conformance_fixture: bool,
    /// Seconds added to the system clock, so that an end-to-end test can restart the binary
    /// a day or two later (deadlines, retention) without waiting
    /// (`MCPLATFORM_TESTING__CLOCK_OFFSET_SECS`).
    pub clock_offset_secs: i64,
}

/// Outgoing email. Without `smtp_url`, messages stay in the outbox (and the log).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailConfig {
    /// `smtps://user:pass@smtp.example.com:465`, `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtp://localhost:25` (no TLS).
    #[serde(skip_serializing)]
    pub smtp_url: Option<SecretString>,
    /// The sender of every message.
    pub from: String,
    /// How often the outbox is checked for messages to send.
    pub send_interval_secs: u64,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "MCPlatform <noreply@localhost>".into(),
            send_interval_secs: 5,
        }
    }
}

/// Dashboard login: session lifetimes and attempt throttling.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// A dashboard session unused for this long ends.
    pub session_idle_timeout_hours: u64,
    /// No dashboard session lives longer than this.
    pub session_lifetime_days: u64,
    /// Login and signup attempts allowed per minute from one client address.
    pub login_attempts_per_minute_per_ip: u32,
    /// Login attempts allowed per minute for one account.
    pub login_attempts_per_minute_per_account: u32,
    /// OAuth dynamic client registrations allowed per minute from one client address.
    pub client_registrations_per_minute_per_ip: u32,
    /// "Continue with GitHub" on the login page: a GitHub OAuth app's credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<LoginProviderConfig>,
    /// "Continue with Google": a Google OAuth client's credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub google: Option<LoginProviderConfig>,
    /// "Continue with …" any OpenID Connect provider (Okta, Entra ID, Keycloak…): its
    /// `issuer`, a `name` for the button, and a client's credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<LoginProviderConfig>,
}

/// A dashboard login provider. Register `{base_url}/oauth/upstream/callback` as its redirect
/// URI; give the secret through the environment (`MCPLATFORM_AUTH__GITHUB__CLIENT_SECRET`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LoginProviderConfig {
    pub client_id: String,
    #[serde(skip_serializing)]
    pub client_secret: Option<SecretString>,
    /// OpenID Connect only: the issuer whose discovery document describes the provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The button label ("Continue with {name}"); defaults to the provider's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Space-separated scopes instead of the provider's defaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_idle_timeout_hours: 7 * 24,
            session_lifetime_days: 30,
            login_attempts_per_minute_per_ip: 30,
            login_attempts_per_minute_per_account: 10,
            client_registrations_per_minute_per_ip: 20,
            github: None,
            google: None,
            oidc: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `postgres://…` for PostgreSQL; unset means SQLite in `<data_dir>/mcplatform.db`.
    #[serde(skip_serializing)]
    pub url: Option<SecretString>,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    pub max_body_bytes: usize,
    /// After SIGTERM/SIGINT, how long in-flight requests may take to finish.
    pub shutdown_grace_secs: u64,
    pub readiness_timeout_secs: u64,
    /// Let requests to URLs users configure (identity providers) reach `http://` and loopback,
    /// private and link-local addresses. Off by default: an org admin could otherwise make the
    /// platform probe its own network. Turn on for development or an IdP inside your network.
    pub outbound_allow_private_networks: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `info,mcplatform_web=debug`; `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 3000)),
            base_url: Url::parse("http://localhost:3000").unwrap_or_else(|_| unreachable!()),
            data_dir: PathBuf::from("mcplatform-data"),
            master_key: None,
            master_key_file: None,
            database: DatabaseConfig::default(),
            http: HttpConfig::default(),
            auth: AuthConfig::default(),
            email: EmailConfig::default(),
            telemetry: TelemetryConfig::default(),
            log: LogConfig::default(),
            testing: TestingConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: None, max_connections: 10, min_connections: 0, acquire_timeout_secs: 5 }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            shutdown_grace_secs: 30,
            readiness_timeout_secs: 2,
            outbound_allow_private_networks: false,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Text, level: "info".into() }
    }
}

/// Values given on the command line; only those present override the other layers.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("{0}")]
    Figment(Box<figment::Error>),
    #[error("invalid {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// A loaded configuration and the keys it did not recognise.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub unknown_keys: Vec<String>,
}

impl Config {
    /// Loads every layer from the real environment.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Loaded, ConfigError> {
        if let Some(path) = file.filter(|path| !path.is_file()) {
            return Err(ConfigError::MissingFile(path.to_owned()));
        }
        Self::from_figment(figment(file, overrides))
    }

    fn from_figment(figment: Figment) -> Result<Loaded, ConfigError> {
        let config: Config = figment.extract().map_err(|e| ConfigError::Figment(Box::new(e)))?;
        config.validate()?;
        Ok(Loaded { unknown_keys: unknown_keys(&figment), config })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        // Bounds keep durations far from overflowing when added to the current time.
        const MAX_SESSION_IDLE_HOURS: u64 = 365 * 24;
        const MAX_SESSION_DAYS: u64 = 3650;
        let invalid =
            |key, message: &str| Err(ConfigError::Invalid { key, message: message.into() });
        if !matches!(self.base_url.scheme(), "http" | "https") {
            return invalid("base_url", "must be an http:// or https:// URL");
        }
        if self.base_url.host_str().is_none_or(str::is_empty) {
            return invalid("base_url", "must name a host");
        }
        if self.base_url.path() != "/"
            || self.base_url.query().is_some()
            || self.base_url.fragment().is_some()
        {
            return invalid("base_url", "must be an origin without path, query or fragment");
        }
        if self.data_dir.as_os_str().is_empty() {
            return invalid("data_dir", "must not be empty");
        }
        // The fixture asks clients for samples and input: never on a reachable deployment.
        let loopback = match self.base_url.host() {
            Some(url::Host::Domain(name)) => name == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        if self.testing.conformance_fixture && !loopback {
            return invalid(
                "testing.conformance_fixture",
                "is for test runs: base_url must be a loopback address (localhost, 127.0.0.1, [::1])",
            );
        }
        // Ten years either way: far enough for any test, and no overflow when added to now.
        if self.testing.clock_offset_secs.unsigned_abs() > 10 * 365 * 86_400 {
            return invalid("testing.clock_offset_secs", "must be within ten years (±315360000)");
        }
        if self.testing.clock_offset_secs != 0 && !loopback {
            return invalid(
                "testing.clock_offset_secs",
                "is for test runs: base_url must be a loopback address (localhost, 127.0.0.1, [::1])",
            );
        }
        if let Err(err) = self.database_url() {
            return Err(ConfigError::Invalid { key: "database.url", message: err.to_string() });
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1");
        }
        if self.database.min_connections > self.database.max_connections {
            return invalid("database.min_connections", "must not exceed database.max_connections");
        }
        if !(1..=MAX_SESSION_IDLE_HOURS).contains(&self.auth.session_idle_timeout_hours) {
            return invalid("auth.session_idle_timeout_hours", "must be 1 to 8760 (a year)");
        }
        if !(1..=MAX_SESSION_DAYS).contains(&self.auth.session_lifetime_days) {
            return invalid("auth.session_lifetime_days", "must be 1 to 3650 (ten years)");
        }
        if !(1..=300).contains(&self.database.acquire_timeout_secs) {
            return invalid("database.acquire_timeout_secs", "must be 1 to 300");
        }
        if !(1..=300).contains(&self.http.readiness_timeout_secs) {
            return invalid("http.readiness_timeout_secs", "must be 1 to 300");
        }
        if self.http.shutdown_grace_secs > 3600 {
            return invalid("http.shutdown_grace_secs", "must be at most 3600");
        }
        if self.auth.login_attempts_per_minute_per_ip == 0
            || self.auth.login_attempts_per_minute_per_account == 0
            || self.auth.client_registrations_per_minute_per_ip == 0
        {
            return invalid("auth", "login attempt and registration limits must be at least 1");
        }
        if self.email.send_interval_secs == 0 {
            return invalid("email.send_interval_secs", "must be at least 1");
        }
        if let Err(err) = self.email.from.parse::<lettre::message::Mailbox>() {
            return Err(ConfigError::Invalid { key: "email.from", message: err.to_string() });
        }
        if self.http.max_body_bytes < 1024 {
            return invalid("http.max_body_bytes", "must be at least 1024");
        }
        if self.telemetry.max_body_bytes < 1024 {
            return invalid("telemetry.max_body_bytes", "must be at least 1024");
        }
        if self.telemetry.max_decompressed_bytes < self.telemetry.max_body_bytes {
            return invalid(
                "telemetry.max_decompressed_bytes",
                "must be at least telemetry.max_body_bytes",
            );
        }
        if self.telemetry.queue_rows == 0 {
            return invalid("telemetry.queue_rows", "must be at least 1");
        }
        if self.telemetry.retention_interval_secs == 0 {
            return invalid("telemetry.retention_interval_secs", "must be at least 1");
        }
        self.login_providers()?;
        Ok(())
    }

    /// The dashboard login providers configured, checked like an organization's providers.
    pub fn login_providers(&self) -> Result<Vec<PlatformLoginProvider>, ConfigError> {
        let slots = [
            ("github", "auth.github", ProviderKind::Github, &self.auth.github),
            ("google", "auth.google", ProviderKind::Google, &self.auth.google),
            ("oidc", "auth.oidc", ProviderKind::Oidc, &self.auth.oidc),
        ];
        let mut providers = Vec::new();
        for (key, section, kind, slot) in slots {
            let Some(config) = slot else { continue };
            let invalid = |message: String| ConfigError::Invalid { key: section, message };
            if kind != ProviderKind::Oidc && config.issuer.is_some() {
                return Err(invalid("takes no issuer (only auth.oidc does)".into()));
            }
            let input = ProviderInput {
                name: config.name.clone().unwrap_or_else(|| kind.label().to_owned()),
                client_id: config.client_id.clone(),
                issuer: config.issuer.clone().unwrap_or_default(),
                scopes: config.scopes.clone().unwrap_or_default(),
                ..ProviderInput::default()
            };
            let settings = ProviderSettings::parse(kind, &input)
                .map_err(|e| invalid(format!("{}: {}", e.field, e.message)))?;
            let secret = config.client_secret.as_ref().map(|s| s.expose_secret()).unwrap_or("");
            let secret = parse_client_secret(secret)
                .map_err(|e| invalid(format!("client_secret: {}", e.message)))?;
            providers.push(PlatformLoginProvider {
                key,
                kind,
                settings,
                client_secret: SecretString::from(secret.to_owned()),
            });
        }
        Ok(providers)
    }

    /// The configured database, or the embedded SQLite file in the data directory.
    pub fn database_url(&self) -> Result<DatabaseUrl, mcplatform_store::DatabaseUrlError> {
        match &self.database.url {
            // An empty `DATABASE_URL=` means "not set", as shells and env files often leave it.
            Some(url) if !url.expose_secret().trim().is_empty() => {
                DatabaseUrl::parse(url.expose_secret())
            }
            _ => DatabaseUrl::sqlite_file(&self.data_dir.join("mcplatform.db")),
        }
    }

    pub fn connect_options(&self) -> Result<ConnectOptions, mcplatform_store::DatabaseUrlError> {
        let mut options = ConnectOptions::new(self.database_url()?);
        options.max_connections = self.database.max_connections;
        options.min_connections = self.database.min_connections;
        options.acquire_timeout = Duration::from_secs(self.database.acquire_timeout_secs);
        Ok(options)
    }

    /// The defaults as a TOML document, for `mcplatform print-default-config`.
    pub fn default_toml() -> Result<String, toml::ser::Error> {
        let body = toml::to_string_pretty(&Config::default())?;
        Ok(format!(
            "# MCPlatform configuration. Every key is optional; these are the defaults.\n\
             # Secrets (master_key, database.url) have no default and are not printed.\n\
             # Environment: MCPLATFORM_<KEY>, sections joined by __ (MCPLATFORM_DATABASE__MAX_CONNECTIONS).\n\n\
             {body}"
        ))
    }
}

fn figment(file: Option<&Path>, overrides: &Overrides) -> Figment {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = file {
        figment = figment.merge(Toml::file_exact(path));
    }
    figment
        .merge(Env::prefixed(ENV_PREFIX).ignore(&["config"]).map(|key| {
            // `MCPLATFORM_DATABASE_URL` reads as naturally as `DATABASE_URL`.
            if key == "database_url" {
                "database.url".into()
            } else {
                key.as_str().replace("__", ".").into()
            }
        }))
        .merge(Env::raw().only(&["database_url"]).map(|_| "database.url".into()))
        .merge(Flags(flag_values(overrides)))
}

/// The command-line layer, named so errors point at the flag (`--bind`) the operator typed.
struct Flags(Dict);

impl Provider for Flags {
    fn metadata(&self) -> Metadata {
        Metadata::named("command-line flag").interpolater(|_: &Profile, keys: &[&str]| {
            format!("--{}", keys.join("-").replace('_', "-"))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

/// Command-line values as a nested dictionary matching the file layout.
fn flag_values(overrides: &Overrides) -> Dict {
    let mut dict = Dict::new();
    if let Some(bind) = &overrides.bind {
        dict.insert("bind".into(), bind.clone().into());
    }
    if let Some(base_url) = &overrides.base_url {
        dict.insert("base_url".into(), base_url.clone().into());
    }
    if let Some(dir) = &overrides.data_dir {
        dict.insert("data_dir".into(), dir.display().to_string().into());
    }
    if let Some(url) = &overrides.database_url {
        let mut database = Dict::new();
        database.insert("url".into(), url.clone().into());
        dict.insert("database".into(), Value::from(database));
    }
    dict
}

/// Keys present in the merged layers that `Config` does not know: typos we must not ignore
/// silently.
fn unknown_keys(figment: &Figment) -> Vec<String> {
    let Ok(merged) = figment.extract::<Dict>() else {
        return Vec::new();
    };
    let mut unknown = Vec::new();
    let value = Value::from(merged);
    let _ = serde_ignored::deserialize(&value, |path| unknown.push(path.to_string()))
        .map(|_: Config| ());
    unknown
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use figment::Jail;

    use super::*;

    fn load_in(
        jail: &Jail,
        file: Option<&str>,
        overrides: &Overrides,
    ) -> Result<Loaded, ConfigError> {
        let path = file.map(|name| jail.directory().join(name));
        Config::load(path.as_deref(), overrides)
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let loaded = load_in(jail, None, &Overrides::default()).unwrap();
            let config = loaded.config;
            assert_eq!(config.bind.to_string(), "127.0.0.1:3000");
            assert_eq!(config.base_url.as_str(), "http://localhost:3000/");
            assert_eq!(config.database_url().unwrap().backend(), mcplatform_store::Backend::Sqlite);
            assert!(
                config.database_url().unwrap().expose().contains("mcplatform-data/mcplatform.db")
            );
            assert!(loaded.unknown_keys.is_empty());
            Ok(())
        });
    }

    #[test]
    fn flags_beat_environment_which_beats_the_file() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "mcp.toml",
                "bind = \"0.0.0.0:1\"\nbase_url = \"https://file.example\"\ndata_dir = \"/from/file\"\n\
                 [database]\nmax_connections = 3\n",
            )?;
            jail.set_env("MCPLATFORM_BASE_URL", "https://env.example");
            jail.set_env("MCPLATFORM_DATA_DIR", "/from/env");
            jail.set_env("MCPLATFORM_DATABASE__MAX_CONNECTIONS", "7");
            let overrides =
                Overrides { data_dir: Some("/from/flag".into()), ..Overrides::default() };
            let config = load_in(jail, Some("mcp.toml"), &overrides).unwrap().config;
            assert_eq!(config.bind.to_string(), "0.0.0.0:1", "file");
            assert_eq!(config.base_url.as_str(), "https://env.example/", "env over file");
            assert_eq!(config.database.max_connections, 7, "nested env over file");
            assert_eq!(config.data_dir, PathBuf::from("/from/flag"), "flag over env");
            Ok(())
        });
    }

    #[test]
    fn database_url_selects_postgres_and_never_prints_its_password() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("DATABASE_URL", "postgres://app:hunter2@db:5432/mcp");
            let config = load_in(jail, None, &Overrides::default()).unwrap().config;
            let url = config.database_url().unwrap();
            assert_eq!(url.backend(), mcplatform_store::Backend::Postgres);
            assert!(!format!("{config:?}").contains("hunter2"));
            assert!(!url.to_string().contains("hunter2"));

            let overrides = Overrides {
                database_url: Some("postgres://flag@db/x".into()),
                ..Overrides::default()
            };
            let config = load_in(jail, None, &overrides).unwrap().config;
            assert_eq!(config.database_url().unwrap().to_string(), "postgres://flag@db/x");
            Ok(())
        });
    }

    #[test]
    fn prefixed_database_url_is_accepted_too() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("MCPLATFORM_DATABASE_URL", "postgres://db/mcp");
            let loaded = load_in(jail, None, &Overrides::default()).unwrap();
            assert_eq!(
                loaded.config.database_url().unwrap().backend(),
                mcplatform_store::Backend::Postgres
            );
            assert!(loaded.unknown_keys.is_empty(), "{:?}", loaded.unknown_keys);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_from_any_layer_are_reported() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("mcp.toml", "bnid = \"x\"\n[database]\nmax_conections = 3\n")?;
            jail.set_env("MCPLATFORM_LOG__FROMAT", "json");
            let mut unknown =
                load_in(jail, Some("mcp.toml"), &Overrides::default()).unwrap().unknown_keys;
            unknown.sort();
            assert_eq!(unknown, vec!["bnid", "database.max_conections", "log.fromat"]);
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_the_key_and_the_problem() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("MCPLATFORM_BASE_URL", "not a url");
            let err = load_in(jail, None, &Overrides::default()).unwrap_err().to_string();
            // Figment names the variable the operator actually set.
            assert!(err.contains("\"BASE_URL\" in `MCPLATFORM_` environment"), "{err}");
            assert!(!err.contains('\n'), "one line: {err}");

            jail.set_env("MCPLATFORM_BASE_URL", "ftp://example.com");
            let err = load_in(jail, None, &Overrides::default()).unwrap_err().to_string();
            assert_eq!(err, "invalid base_url: must be an http:// or https:// URL");

            jail.set_env("MCPLATFORM_BASE_URL", "https://example.com/prefix");
            let err = load_in(jail, None, &Overrides::default()).unwrap_err().to_string();
            assert!(err.contains("without path"), "{err}");

            jail.set_env("MCPLATFORM_BASE_URL", "https://example.com");
            jail.set_env("MCPLATFORM_TESTING__CONFORMANCE_FIXTURE", "true");
            let err = load_in(jail, None, &Overrides::default()).unwrap_err().to_string();
            assert!(
                err.starts_with("invalid testing.conformance_fixture: is for test runs"),
                "{err}"
            );
            jail.set_env("MCPLATFORM_BASE_URL", "http://127.0.0.1:4000");
            assert!(
                load_in(jail, None, &Overrides::default()).is_ok(),
                "on loopback it is allowed"
            );
            jail.set_env("MCPLATFORM_TESTING__CONFORMANCE_FIXTURE", "false");
            jail.set_env("MCPLATFORM_TESTING__CLOCK_OFFSET_SECS", "3600");
            assert!(
                load_in(jail, None, &Overrides::default()).is_ok(),
                "a moved clock on loopback"
            );
            jail.set_env("MCPLATFORM_BASE_URL", "https://example.com");
            let err = load_in(jail, None, &Overrides::default()).unwrap_err().to_string();
            assert!(
                err.starts_with("invalid testing.clock_offset_secs: is for test runs"),
                "{err}"
            );
            jail.set_env("MCPLATFORM_TESTING__CLOCK_OFFSET_SECS", i64::MAX.to_string());
            let err = load_in(jail, None, &Overrides::default()).unwrap_err().to_string();
            assert!(err.contains("within ten years"), "{err}");
            jail.set_env("MCPLATFORM_TESTING__CLOCK_OFFSET_SECS", "0");
            jail.set_env("DATABASE_URL", "mysql://db/x");
            let err = load_in(jail, None, &Overrides::default()).unwrap_err().to_string();
            assert!(err.starts_with("invalid database.url: unsupported"), "{err}");

            jail.set_env("DATABASE_URL", "");
            let overrides =
                Overrides { bind: Some("localhost:http".into()), ..Overrides::default() };
            let err = load_in(jail, None, &overrides).unwrap_err().to_string();
            assert_eq!(
                err,
                "invalid socket address syntax for key \"--bind\" in command-line flag"
            );

            let err = load_in(jail, Some("missing.toml"), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("missing.toml does not exist"), "{err}");

            // Values that would overflow a time, hang start-up or lose data are refused.
            jail.set_env("MCPLATFORM_AUTH__SESSION_IDLE_TIMEOUT_HOURS", u64::MAX.to_string());
            let err = load_in(jail, None, &Overrides::default()).unwrap_err().to_string();
            assert!(err.starts_with("invalid auth.session_idle_timeout_hours"), "{err}");
            jail.set_env("MCPLATFORM_AUTH__SESSION_IDLE_TIMEOUT_HOURS", "24");
            jail.set_env("MCPLATFORM_DATABASE__ACQUIRE_TIMEOUT_SECS", "0");
            let err = load_in(jail, None, &Overrides::default()).unwrap_err().to_string();
            assert!(err.starts_with("invalid database.acquire_timeout_secs"), "{err}");
            jail.set_env("MCPLATFORM_DATABASE__ACQUIRE_TIMEOUT_SECS", "5");
            jail.set_env("DATABASE_URL", "sqlite::memory:");
            let err = load_in(jail, None, &Overrides::default()).unwrap_err().to_string();
            assert!(err.contains("in-memory SQLite is not supported"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn login_providers_come_from_file_and_environment_and_are_checked() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "sso.toml",
                "[auth.github]\nclient_id = \"Iv1.abc\"\n\n\
                 [auth.oidc]\nclient_id = \"dash\"\nissuer = \"https://login.acme.test\"\nname = \"Acme SSO\"\n",
            )?;
            jail.set_env("MCPLATFORM_AUTH__GITHUB__CLIENT_SECRET", "gh-secret");
            jail.set_env("MCPLATFORM_AUTH__OIDC__CLIENT_SECRET", "oidc-secret");
            let loaded = load_in(jail, Some("sso.toml"), &Overrides::default()).unwrap();
            assert!(loaded.unknown_keys.is_empty(), "{:?}", loaded.unknown_keys);
            let providers = loaded.config.login_providers().unwrap();
            let keys: Vec<_> =
                providers.iter().map(|p| (p.key, p.settings.name.as_str())).collect();
            assert_eq!(keys, [("github", "GitHub"), ("oidc", "Acme SSO")]);
            assert_eq!(providers[1].identity_namespace(), "oidc:https://login.acme.test");
            assert_eq!(providers[0].client_secret.expose_secret(), "gh-secret");
            assert!(!toml::to_string(&loaded.config).unwrap().contains("secret"), "never printed");

            jail.set_env("MCPLATFORM_AUTH__GITHUB__CLIENT_SECRET", "");
            let err = load_in(jail, Some("sso.toml"), &Overrides::default()).unwrap_err();
            assert_eq!(err.to_string(), "invalid auth.github: client_secret: must not be empty");
            jail.set_env("MCPLATFORM_AUTH__GITHUB__CLIENT_SECRET", "gh-secret");
            jail.set_env("MCPLATFORM_AUTH__OIDC__ISSUER", "http://login.acme.test/?x=1");
            let err = load_in(jail, Some("sso.toml"), &Overrides::default()).unwrap_err();
            assert!(err.to_string().starts_with("invalid auth.oidc: issuer:"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn the_printed_default_config_reads_back_as_the_defaults() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("default.toml", &Config::default_toml().unwrap())?;
            let loaded = load_in(jail, Some("default.toml"), &Overrides::default()).unwrap();
            assert!(loaded.unknown_keys.is_empty());
            assert_eq!(
                toml::to_string(&loaded.config).unwrap(),
                toml::to_string(&Config::default()).unwrap()
            );
            Ok(())
        });
    }
}
