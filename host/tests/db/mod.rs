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
use centrale_host::tenancy::{Device, Registration, Tenant, User};
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

/// Runs `check` on a store in a new SQLite file (in directories that do not
/// exist yet); `check` also gets the URL (to reconnect).
pub async fn on_sqlite<F, Fut>(check: F)
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("sub/dir/centrale.db").display()
    );
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    check(store.clone(), url).await;
    store.close().await;
}

/// Runs `check` on a store in a new PostgreSQL schema, dropped afterwards
/// (also when `check` panics).
pub async fn on_postgres<F, Fut>(check: F)
where
    F: FnOnce(Store, String) -> Fut + Send + 'static,
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
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {base}: {e}\n\
                 start it (pg_ctlcluster --skip-systemctl-redirect 15 main start), \
                 point CENTRALE_TEST_PG_URL at a server, or set CENTRALE_SKIP_PG=1"
            )
        });
    let schema = format!("t_{:016x}", rand::random::<u64>());
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let url = with_param(&base, &format!("options=-csearch_path%3D{schema}"));
    let outcome = tokio::spawn(async move {
        let store = Store::connect(&url).await.unwrap();
        assert_eq!(store.backend(), Backend::Postgres);
        check(store.clone(), url).await;
        store.close().await;
    })
    .await;
    let tables: i64 = sqlx::query(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1 \
         AND table_name IN ('tenants', 'users', 'numbers', 'devices', 'registrations', 'cdrs', \
         'plugins', 'plugin_components', 'licences', 'plugin_assignments', \
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
    // the migrations landed in the test schema, not in `public`
    assert_eq!(tables, 13, "tables were not created in schema {schema}");
}

#[macro_export]
macro_rules! on_both {
    ($($check:ident),* $(,)?) => {$(
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::db::on_sqlite(|store, _url| async move { super::$check(&store).await }).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::db::on_postgres(|store, _url| async move { super::$check(&store).await }).await;
            }
        }
    )*};
}

/// As [`on_both!`], for checks that also take the store's URL.
#[macro_export]
macro_rules! on_both_with_url {
    ($($check:ident),* $(,)?) => {$(
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::db::on_sqlite(|store, url| async move { super::$check(&store, &url).await }).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::db::on_postgres(|store, url| async move { super::$check(&store, &url).await }).await;
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

pub fn md5_of(n: u64) -> String {
    format!("{n:032x}")
}

pub fn sha_of(n: u64) -> String {
    format!("{n:064x}")
}

pub fn nums(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A tenant with one user (extension 201) and one device.
pub async fn tenant_user_device(store: &Store, domain: &str) -> (Tenant, User, Device) {
    let t = store.create_tenant(domain, "T", 3, "0").await.unwrap();
    let u = store
        .create_user(t.id, "201", "Anna", "", &[])
        .await
        .unwrap();
    let d = store
        .create_device(t.id, u.id, "201", &md5_of(1), &sha_of(1))
        .await
        .unwrap();
    (t, u, d)
}

pub fn reg(d: &Device, contact: &str, expires_at: i64) -> Registration {
    Registration {
        tenant_id: d.tenant_id,
        user_id: d.user_id,
        device_id: d.id,
        contact: contact.to_string(),
        source: "udp:192.0.2.7:5062".into(),
        call_id: format!("call-{contact}"),
        cseq: 1,
        expires_at,
        updated_at: expires_at - 3_600_000,
    }
}

pub fn contacts(regs: &[Registration]) -> Vec<&str> {
    regs.iter().map(|r| r.contact.as_str()).collect()
}
