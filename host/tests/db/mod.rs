//! The two-backend harness of the database tests: every `check_*` function
//! runs once on SQLite (a fresh file in a temporary directory) and once on
//! PostgreSQL (a fresh schema of `postgres://postgres@127.0.0.1:5432/test`, or
//! `CENTRALE_TEST_PG_URL`; `CENTRALE_SKIP_PG=1` skips it), as in
//! `tests/store.rs`, plus helpers shared by those tests.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use centrale_host::store::{Backend, Store, StoreError};
use centrale_host::tenancy::plugins::KvScope;
use centrale_host::tenancy::{Tenant, User};
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, Row};

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn pg_url() -> String {
    std::env::var("CENTRALE_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

fn with_param(url: &str, param: &str) -> String {
    if url.contains('?') {
        format!("{url}&{param}")
    } else {
        format!("{url}?{param}")
    }
}

pub async fn on_sqlite<F, Fut>(check: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("centrale.db").display());
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    check(store.clone()).await;
    store.close().await;
}

pub async fn on_postgres<F, Fut>(check: F)
where
    F: FnOnce(Store) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if std::env::var("CENTRALE_SKIP_PG").as_deref() == Ok("1") {
        eprintln!("PostgreSQL test skipped: CENTRALE_SKIP_PG=1");
        return;
    }
    let base = pg_url();
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {base}: {e}"));
    let schema = format!("t_{:016x}", rand::random::<u64>());
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let url = with_param(&base, &format!("options=-csearch_path%3D{schema}"));
    let outcome = tokio::spawn(async move {
        let store = Store::connect(&url).await.unwrap();
        assert_eq!(store.backend(), Backend::Postgres);
        check(store.clone()).await;
        store.close().await;
    })
    .await;
    let tables: i64 = sqlx::query(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1 \
         AND table_name IN ('plugins', 'plugin_components', 'licences', 'plugin_assignments', \
         'plugin_suspensions', 'plugin_kv', 'schedules')",
    )
    .bind(&schema)
    .fetch_one(&admin)
    .await
    .unwrap()
    .get(0);
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    assert_eq!(tables, 7, "tables were not created in schema {schema}");
}

#[macro_export]
macro_rules! on_both {
    ($($check:ident),* $(,)?) => {$(
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::db::on_sqlite(|store| async move { super::$check(&store).await }).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::db::on_postgres(|store| async move { super::$check(&store).await }).await;
            }
        }
    )*};
}

/// A tenant with users 201..=200+n.
pub async fn tenant_with_users(store: &Store, domain: &str, n: usize) -> (Tenant, Vec<User>) {
    let t = store.create_tenant(domain, "T", 3, "0").await.unwrap();
    let mut users = Vec::new();
    for i in 0..n {
        let ext = format!("{}", 201 + i);
        users.push(store.create_user(t.id, &ext, "U", "", &[]).await.unwrap());
    }
    (t, users)
}

/// The message of a [`StoreError::Conflict`]; panics on anything else.
pub fn conflict(r: Result<impl std::fmt::Debug, StoreError>) -> String {
    match r {
        Err(StoreError::Conflict(m)) => m,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// A key-value scope.
pub fn scope(tenant_id: i64, plugin: &str, subject: Option<i64>) -> KvScope {
    KvScope {
        tenant_id,
        plugin_id: plugin.into(),
        subject_id: subject,
    }
}
