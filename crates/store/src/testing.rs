//! Fresh databases for tests: a temporary SQLite file by default, or a new PostgreSQL database
//! when `MCPLATFORM_TEST_DATABASE_URL` points at a server (`postgres://…/postgres`).
//!
//! Test support only: setup failures panic, which is what a test wants.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use sqlx::any::AnyPoolOptions;

use crate::{Backend, ConnectOptions, DatabaseUrl, Store};

pub const TEST_DATABASE_URL_VAR: &str = "MCPLATFORM_TEST_DATABASE_URL";

/// A database that exists for one test. PostgreSQL databases are dropped when it is dropped;
/// SQLite files go with their temporary directory.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: DatabaseUrl,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Sqlite { _dir: tempfile::TempDir, path: PathBuf },
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// Creates an empty database on the backend the environment selects.
    pub async fn create() -> Self {
        match std::env::var(TEST_DATABASE_URL_VAR) {
            Ok(admin_url) if !admin_url.trim().is_empty() => Self::create_postgres(admin_url).await,
            _ => Self::create_sqlite(),
        }
    }

    pub fn create_sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create temp dir for test database");
        let path = dir.path().join("test.db");
        let url = DatabaseUrl::sqlite_file(&path).expect("temp path is a valid sqlite path");
        Self { url, cleanup: Cleanup::Sqlite { _dir: dir, path } }
    }

    async fn create_postgres(admin_url: String) -> Self {
        sqlx::any::install_default_drivers();
        let name = format!("mcpt_{}", uuid::Uuid::now_v7().simple());
        let admin = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("connect to {TEST_DATABASE_URL_VAR}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let mut url = url::Url::parse(&admin_url).expect("test database url parses");
        url.set_path(&name);
        let url = DatabaseUrl::parse(url.as_str()).expect("test database url is valid");
        Self { url, cleanup: Cleanup::Postgres { admin_url, name } }
    }

    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    /// The SQLite file, for tests that poke at it directly.
    pub fn sqlite_path(&self) -> Option<&PathBuf> {
        match &self.cleanup {
            Cleanup::Sqlite { path, .. } => Some(path),
            Cleanup::Postgres { .. } => None,
        }
    }

    /// A migrated store on this database.
    pub async fn store(&self) -> Arc<dyn Store> {
        let mut options = ConnectOptions::new(self.url.clone());
        options.max_connections = 5;
        crate::connect_and_migrate(&options).await.expect("connect and migrate test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::Postgres { admin_url, name } = &self.cleanup else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop runs inside a runtime that may be shutting down: use a thread of our own.
        let dropped = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let admin =
                    AnyPoolOptions::new().max_connections(1).connect(&admin_url).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&admin)
                    .await
                    .ok()?;
                admin.close().await;
                Some(())
            })
        });
        let _ = dropped.join();
    }
}
