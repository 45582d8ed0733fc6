//! The SQL implementation of the store, one code path for both backends through sqlx's `Any`
//! driver. Queries use `$n` placeholders, which SQLite and PostgreSQL both accept; the few
//! places where the dialects differ branch on [`Backend`] right here, never above this crate.

mod api_keys;
mod audit;
mod authorization;
mod end_user_login;
mod end_users;
mod grants;
mod hosting;
mod identity_providers;
mod invitations;
mod mcp_servers;
mod oauth_clients;
mod organizations;
mod outbox;
mod sessions;
mod signing_keys;
mod support;
mod telemetry;
mod telemetry_export;
mod upstream_logins;
mod users;
mod walkthroughs;

use std::str::FromStr;

use async_trait::async_trait;
use mcplatform_core::clock::{from_unix_millis, to_unix_millis};
use mcplatform_core::crypto::TokenHash;
use mcplatform_core::ids::OrgId;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Connection, Executor, Row};
use time::OffsetDateTime;

use crate::{Backend, ConnectOptions, Result, Store, StoreError, migrations};

#[derive(Debug)]
pub(crate) struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

impl SqlStore {
    pub(crate) async fn connect(options: &ConnectOptions) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = options.url.backend();
        // One direct connection first: when the database is unreachable, the pool would only
        // report a timeout, while this reports why (refused, bad password, unknown database).
        let probe = tokio::time::timeout(
            options.acquire_timeout,
            AnyConnection::connect(options.url.expose()),
        );
        match probe.await {
            Ok(Ok(connection)) => connection.close().await.map_err(StoreError::Unavailable)?,
            Ok(Err(err)) => return Err(StoreError::Unavailable(err)),
            Err(_) => return Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
        }
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; the busy timeout makes a
                        // writer wait for the lock instead of failing at once. A 32 MiB page
                        // cache (2 MiB by default) keeps the telemetry indexes' pages at hand.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
                             PRAGMA cache_size = -32768;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(options.url.expose())
            .await
            .map_err(StoreError::Unavailable)?;
        Ok(Self { pool, backend })
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<()> {
        migrations::migrator(self.backend).run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// A query on the `Any` driver with its arguments, for helpers that bind a group of columns.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// A value bound to a query built piece by piece.
pub(crate) enum Param {
    Text(String),
    Int(i64),
}

/// The WHERE part of a filtered list, built condition by condition, its parameters numbered
/// in order. The first condition is always the organization's.
pub(crate) struct Conditions {
    pub(crate) sql: String,
    params: Vec<Param>,
}

impl Conditions {
    /// `{org_column} = $1`.
    pub(crate) fn new(org_column: &str, org: OrgId) -> Self {
        Self { sql: format!("{org_column} = $1"), params: vec![Param::Text(org.to_string())] }
    }

    /// The placeholder of a new parameter.
    pub(crate) fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        format!("${}", self.params.len())
    }

    pub(crate) fn and(&mut self, condition: &str) {
        self.sql.push_str(" AND ");
        self.sql.push_str(condition);
    }

    /// `query` (whose SQL holds [`Self::sql`]) with the parameters bound.
    pub(crate) fn bind_to(self, query: AnyQuery<'_>) -> AnyQuery<'_> {
        self.params.into_iter().fold(query, |q, p| match p {
            Param::Text(text) => q.bind(text),
            Param::Int(int) => q.bind(int),
        })
    }
}

/// `%word%` for LIKE, with the wildcards of the word itself escaped (`\` is the escape).
pub(crate) fn like_pattern(word: &str) -> String {
    let mut pattern = String::with_capacity(word.len() + 2);
    pattern.push('%');
    for c in word.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Typed column access that turns undecodable values into `StoreError::Corrupt`.
pub(crate) struct Columns<'r> {
    row: &'r AnyRow,
    table: &'static str,
}

impl<'r> Columns<'r> {
    pub(crate) fn new(row: &'r AnyRow, table: &'static str) -> Self {
        Self { row, table }
    }

    fn corrupt(&self, column: &str, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt { table: self.table, detail: format!("{column}: {detail}") }
    }

    pub(crate) fn text(&self, column: &str) -> Result<String> {
        self.row.try_get(column).map_err(|e| self.corrupt(column, e))
    }

    pub(crate) fn opt_text(&self, column: &str) -> Result<Option<String>> {
        self.row.try_get(column).map_err(|e| self.corrupt(column, e))
    }

    pub(crate) fn int(&self, column: &str) -> Result<i64> {
        self.row.try_get(column).map_err(|e| self.corrupt(column, e))
    }

    pub(crate) fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        self.row.try_get(column).map_err(|e| self.corrupt(column, e))
    }

    pub(crate) fn opt_float(&self, column: &str) -> Result<Option<f64>> {
        self.row.try_get(column).map_err(|e| self.corrupt(column, e))
    }

    /// An integer column in a narrower type (`i32`, `u32`…); out of range is corruption.
    pub(crate) fn int_as<T>(&self, column: &str) -> Result<T>
    where
        T: TryFrom<i64>,
        T::Error: std::fmt::Display,
    {
        T::try_from(self.int(column)?).map_err(|e| self.corrupt(column, e))
    }

    pub(crate) fn opt_int_as<T>(&self, column: &str) -> Result<Option<T>>
    where
        T: TryFrom<i64>,
        T::Error: std::fmt::Display,
    {
        self.opt_int(column)?
            .map(|v| T::try_from(v).map_err(|e| self.corrupt(column, e)))
            .transpose()
    }

    /// Booleans are native in PostgreSQL and 0/1 integers in SQLite.
    pub(crate) fn flag(&self, column: &str) -> Result<bool> {
        self.row
            .try_get::<bool, _>(column)
            .or_else(|_| self.row.try_get::<i64, _>(column).map(|v| v != 0))
            .map_err(|e| self.corrupt(column, e))
    }

    /// Parses a text column into a domain type (ids, enums, validated values).
    pub(crate) fn parsed<T>(&self, column: &str) -> Result<T>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.text(column)?.parse().map_err(|e| self.corrupt(column, e))
    }

    pub(crate) fn opt_parsed<T>(&self, column: &str) -> Result<Option<T>>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.opt_text(column)?
            .map(|text| text.parse().map_err(|e| self.corrupt(column, e)))
            .transpose()
    }

    /// Validates a text column with a domain parser such as `OrgName::parse`.
    pub(crate) fn validated<T, E: std::fmt::Display>(
        &self,
        column: &str,
        parse: impl FnOnce(&str) -> std::result::Result<T, E>,
    ) -> Result<T> {
        parse(&self.text(column)?).map_err(|e| self.corrupt(column, e))
    }

    /// Bytes stored as base64 text (sealed secrets), the same on both backends.
    pub(crate) fn base64(&self, column: &str) -> Result<Vec<u8>> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(self.text(column)?)
            .map_err(|e| self.corrupt(column, e))
    }

    /// A secret's SHA-256, stored as 64 hex digits.
    pub(crate) fn hash(&self, column: &str) -> Result<TokenHash> {
        let hex = self.text(column)?;
        TokenHash::from_hex(&hex).ok_or_else(|| self.corrupt(column, "not a SHA-256 hex digest"))
    }

    pub(crate) fn opt_hash(&self, column: &str) -> Result<Option<TokenHash>> {
        match self.opt_text(column)? {
            Some(_) => self.hash(column).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) fn time(&self, column: &str) -> Result<OffsetDateTime> {
        self.int(column).map(from_unix_millis)
    }

    pub(crate) fn opt_time(&self, column: &str) -> Result<Option<OffsetDateTime>> {
        let millis: Option<i64> = self.row.try_get(column).map_err(|e| self.corrupt(column, e))?;
        Ok(millis.map(from_unix_millis))
    }
}

/// Expired rows (sessions, requests, codes, logins) are deleted this long after they expire
/// (milliseconds), so that a late arrival is told "expired" rather than "unknown".
pub(crate) const KEEP_EXPIRED_MS: i64 = 24 * 3600 * 1000;

/// The storage form of a timestamp.
pub(crate) fn millis(at: OffsetDateTime) -> i64 {
    to_unix_millis(at)
}

/// `NotFound` unless a write touched at least one row.
pub(crate) fn expect_rows(result: sqlx::any::AnyQueryResult) -> Result<()> {
    if result.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}
