//! The storage error: variants for what callers branch on, one opaque variant for the rest.

use std::fmt;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(thiserror::Error)]
pub enum StoreError {
    /// The row does not exist, or belongs to another organization: the two are deliberately
    /// indistinguishable.
    #[error("not found")]
    NotFound,
    /// A uniqueness or integrity rule refused the change; the value names which
    /// (`"email"`, `"slug"`, `"membership"`, `"last_owner"`, …).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The database cannot be reached or has no free connection right now.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A stored row no longer satisfies the domain's rules.
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
    #[error("migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable(err),
            other => Self::Database(other),
        }
    }
}

impl fmt::Debug for StoreError {
    /// Prints the whole cause chain, so a log line says what actually went wrong.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mcplatform_core::error_chain(self))
    }
}

/// Maps the integrity errors of an insert or update: a unique violation becomes
/// `Conflict(conflict)`, a missing referenced row (foreign key) becomes `NotFound`.
pub(crate) fn write_error(conflict: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(conflict),
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => StoreError::from(err),
    }
}
