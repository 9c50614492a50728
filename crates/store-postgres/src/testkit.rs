//! For tests of Baton on PostgreSQL (behind the `testkit` feature): a database of its own per
//! test on the server at `BATON_TEST_POSTGRES_URL`, made for the test and dropped after it.

use crate::{PgOptions, PgStore};

/// The variable naming the server tests make their databases on.
pub const URL_VARIABLE: &str = "BATON_TEST_POSTGRES_URL";

/// Whether a server is configured; says so on stderr when not (the test then passes without
/// running). `CI` set makes a missing server a failure instead: CI always provides one.
pub fn server_configured() -> bool {
    match std::env::var(URL_VARIABLE) {
        Ok(url) if !url.is_empty() => true,
        _ if std::env::var_os("CI").is_some() => {
            panic!("{URL_VARIABLE} is not set, and CI must run the PostgreSQL tests")
        }
        _ => {
            eprintln!("skipped: set {URL_VARIABLE} (e.g. postgres://postgres@127.0.0.1:5432/postgres) to run the PostgreSQL store's tests");
            false
        }
    }
}

/// A database made for one test, dropped by [`TestDatabase::drop`] or, failing that, when the
/// guard goes.
pub struct TestDatabase {
    pub url: String,
    server: String,
    name: String,
    dropped: bool,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let server = std::env::var(URL_VARIABLE).expect("a PostgreSQL server for the tests");
        let name = format!("baton_test_{}", uuid::Uuid::now_v7().simple());
        let admin = sqlx::PgPool::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("connecting to {URL_VARIABLE}: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("a test database is created");
        admin.close().await;
        let url = with_database(&server, &name);
        Self {
            url,
            server,
            name,
            dropped: false,
        }
    }

    /// A pool on the test database, to look at its tables.
    pub async fn connect(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.url)
            .await
            .expect("the test database is reachable")
    }

    pub async fn drop(mut self) {
        drop_database(&self.server, &self.name).await;
        self.dropped = true;
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // Dropped outside a runtime (a check's runtime may be gone): a thread with its own.
        let (server, name) = (self.server.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(drop_database(&server, &name));
            }
        })
        .join();
    }
}

async fn drop_database(server: &str, name: &str) {
    if let Ok(admin) = sqlx::PgPool::connect(server).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await;
        admin.close().await;
    }
}

/// `url` with its database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A fresh store on a database of its own, and the guard that drops the database.
pub async fn fresh() -> (PgStore, TestDatabase) {
    let db = TestDatabase::create().await;
    let store = PgStore::connect(
        &db.url,
        PgOptions {
            max_connections: 8,
            ..PgOptions::default()
        },
    )
    .await
    .expect("the store connects and migrates");
    (store, db)
}
