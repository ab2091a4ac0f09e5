//! The store, end to end: every `check_*` function runs once on SQLite (a
//! fresh file in a temporary directory) and once on PostgreSQL (a fresh schema
//! of `postgres://postgres@127.0.0.1:5432/test`, or `CENTRALE_TEST_PG_URL`).
//!
//! The PostgreSQL tests fail when the server cannot be reached, unless
//! `CENTRALE_SKIP_PG=1`.

use std::future::Future;
use std::time::Duration;

use centrale_host::store::{Backend, Store, StoreError};
use centrale_host::tenancy::{Cdr, Device, Registration, Tenant, User};
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
/// exist yet).
async fn on_sqlite<F, Fut>(check: F)
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
async fn on_postgres<F, Fut>(check: F)
where
    F: FnOnce(Store, String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if std::env::var("CENTRALE_SKIP_PG").as_deref() == Ok("1") {
        eprintln!("PostgreSQL test skipped: CENTRALE_SKIP_PG=1");
        return;
    }
    let base = pg_url();
    let admin = match PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&base)
        .await
    {
        Ok(pool) => pool,
        Err(e) => panic!(
            "PostgreSQL is not reachable at {base}: {e}\n\
             start it (pg_ctlcluster --skip-systemctl-redirect 15 main start), \
             point CENTRALE_TEST_PG_URL at a server, or set CENTRALE_SKIP_PG=1"
        ),
    };
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
    // the migrations landed in the test schema, not in `public`
    let tables: i64 = sqlx::query(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1 \
         AND table_name IN ('tenants', 'users', 'numbers', 'devices', 'registrations', 'cdrs')",
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
    assert_eq!(tables, 6, "tables were not created in schema {schema}");
}

/// One test module per check, with a `sqlite` and a `postgres` test.
macro_rules! on_both {
    ($($check:ident),* $(,)?) => {$(
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::on_sqlite(|store, url| async move { super::$check(&store, &url).await }).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::on_postgres(|store, url| async move { super::$check(&store, &url).await }).await;
            }
        }
    )*};
}

on_both!(
    check_tenants,
    check_users,
    check_devices,
    check_registrations,
    check_cdrs,
    check_delete_tenant_cascades,
    check_concurrent_writes,
    check_survives_restart,
);

fn md5_of(n: u64) -> String {
    format!("{n:032x}")
}

fn sha_of(n: u64) -> String {
    format!("{n:064x}")
}

fn nums(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A tenant with one user (extension 201) and one device.
async fn tenant_user_device(store: &Store, domain: &str) -> (Tenant, User, Device) {
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

fn reg(d: &Device, contact: &str, expires_at: i64) -> Registration {
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

fn contacts(regs: &[Registration]) -> Vec<&str> {
    regs.iter().map(|r| r.contact.as_str()).collect()
}

async fn check_tenants(store: &Store, _url: &str) {
    let t = store
        .create_tenant("Demo.Centrale.TEST", "Demo BV", 3, "0")
        .await
        .unwrap();
    assert!(t.id > 0);
    assert_eq!(t.domain, "demo.centrale.test");
    assert_eq!(
        (
            t.name.as_str(),
            t.extension_length,
            t.outside_prefix.as_str()
        ),
        ("Demo BV", 3, "0")
    );
    assert_eq!(
        store.tenant_by_domain("DEMO.centrale.test").await.unwrap(),
        Some(t.clone())
    );
    assert_eq!(
        store.tenant_by_domain("demo.centrale.test").await.unwrap(),
        Some(t.clone())
    );
    assert_eq!(store.tenant(t.id).await.unwrap(), Some(t.clone()));
    assert_eq!(store.tenant(t.id + 1000).await.unwrap(), None);
    assert_eq!(store.tenant_by_domain("other.test").await.unwrap(), None);

    let err = store
        .create_tenant("demo.CENTRALE.test", "Again", 3, "")
        .await
        .unwrap_err();
    match &err {
        StoreError::Conflict(m) => assert_eq!(m, "tenant domain demo.centrale.test already exists"),
        other => panic!("expected a conflict, got {other:?}"),
    }

    let acme = store
        .create_tenant("acme.test", "Acme", 4, "")
        .await
        .unwrap();
    assert_ne!(acme.id, t.id);
    assert_eq!(
        store.list_tenants().await.unwrap(),
        vec![acme.clone(), t.clone()]
    );

    for (domain, len, prefix) in [
        ("", 3, ""),
        ("a b.test", 3, ""),
        ("x.test", 0, ""),
        ("x.test", 3, "9x"),
    ] {
        let err = store
            .create_tenant(domain, "X", len, prefix)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(_)),
            "{domain:?} {len} {prefix:?}: {err:?}"
        );
    }
    assert!(matches!(
        store.delete_tenant(acme.id + 1000).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn check_users(store: &Store, _url: &str) {
    let a = store.create_tenant("a.test", "A", 3, "0").await.unwrap();
    let b = store.create_tenant("b.test", "B", 3, "0").await.unwrap();
    let anna = store
        .create_user(
            a.id,
            "201",
            "Anna",
            "anna@a.test",
            &nums(&["+31201234568", "+31201234567"]),
        )
        .await
        .unwrap();
    assert_eq!(anna.numbers, nums(&["+31201234568", "+31201234567"]));
    assert_eq!(
        (anna.tenant_id, anna.extension.as_str(), anna.email.as_str()),
        (a.id, "201", "anna@a.test")
    );
    let bob = store
        .create_user(a.id, "202", "Bob", "", &[])
        .await
        .unwrap();
    // the same extension in another tenant is fine
    let bea = store
        .create_user(b.id, "201", "Bea", "", &nums(&["0301234567"]))
        .await
        .unwrap();

    assert_eq!(store.user(a.id, anna.id).await.unwrap(), Some(anna.clone()));
    assert_eq!(store.user(b.id, anna.id).await.unwrap(), None);
    assert_eq!(
        store.user_by_extension(a.id, "201").await.unwrap(),
        Some(anna.clone())
    );
    assert_eq!(
        store.user_by_extension(b.id, "201").await.unwrap(),
        Some(bea.clone())
    );
    assert_eq!(store.user_by_extension(a.id, "299").await.unwrap(), None);
    assert_eq!(
        store.list_users(a.id).await.unwrap(),
        vec![anna.clone(), bob.clone()]
    );
    assert_eq!(store.list_users(b.id).await.unwrap(), vec![bea.clone()]);

    // DID lookup across tenants
    assert_eq!(
        store.user_by_number("+31201234567").await.unwrap(),
        Some((a.clone(), anna.clone()))
    );
    assert_eq!(
        store.user_by_number("0301234567").await.unwrap(),
        Some((b.clone(), bea.clone()))
    );
    assert_eq!(store.user_by_number("+31999").await.unwrap(), None);

    let err = store
        .create_user(a.id, "201", "Again", "", &[])
        .await
        .unwrap_err();
    match &err {
        StoreError::Conflict(m) => assert_eq!(m, "extension 201 already exists in tenant a.test"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // a number of another tenant: conflict, and nothing is written
    let err = store
        .create_user(
            a.id,
            "203",
            "Carl",
            "",
            &nums(&["+31209999999", "0301234567"]),
        )
        .await
        .unwrap_err();
    match &err {
        StoreError::Conflict(m) => {
            assert_eq!(m, "number 0301234567 is already assigned in another tenant")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.user_by_extension(a.id, "203").await.unwrap(), None);
    assert_eq!(store.user_by_number("+31209999999").await.unwrap(), None);
    // a number of the same tenant names its owner
    let err = store
        .create_user(a.id, "203", "Carl", "", &nums(&["+31201234567"]))
        .await
        .unwrap_err();
    match &err {
        StoreError::Conflict(m) => {
            assert_eq!(
                m,
                "number +31201234567 is already assigned to extension 201 in tenant a.test"
            )
        }
        other => panic!("expected a conflict, got {other:?}"),
    }

    for (ext, numbers) in [
        ("20a", nums(&[])),
        ("", nums(&[])),
        ("203", nums(&["31-20"])),
        ("203", nums(&["+"])),
        ("203", nums(&["+3120", "+3120"])),
    ] {
        let err = store
            .create_user(a.id, ext, "X", "", &numbers)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(_)),
            "{ext:?} {numbers:?}: {err:?}"
        );
    }
    let err = store
        .create_user(b.id + 1000, "201", "X", "", &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    // deleting a user frees its numbers
    assert!(matches!(
        store.delete_user(b.id, anna.id).await,
        Err(StoreError::NotFound(_))
    ));
    store.delete_user(a.id, anna.id).await.unwrap();
    assert_eq!(store.user(a.id, anna.id).await.unwrap(), None);
    assert_eq!(store.user_by_number("+31201234567").await.unwrap(), None);
    assert!(matches!(
        store.delete_user(a.id, anna.id).await,
        Err(StoreError::NotFound(_))
    ));
    let bert = store
        .create_user(b.id, "202", "Bert", "", &nums(&["+31201234567"]))
        .await
        .unwrap();
    assert_eq!(
        store.user_by_number("+31201234567").await.unwrap(),
        Some((b.clone(), bert))
    );
    assert_eq!(store.list_users(a.id).await.unwrap(), vec![bob]);
}

async fn check_devices(store: &Store, _url: &str) {
    let a = store.create_tenant("a.test", "A", 3, "0").await.unwrap();
    let b = store.create_tenant("b.test", "B", 3, "0").await.unwrap();
    let ua = store
        .create_user(a.id, "201", "Anna", "", &[])
        .await
        .unwrap();
    let ub = store
        .create_user(b.id, "201", "Bea", "", &[])
        .await
        .unwrap();

    let desk = store
        .create_device(a.id, ua.id, "201", &md5_of(1), &sha_of(1))
        .await
        .unwrap();
    let soft = store
        .create_device(a.id, ua.id, "201-soft", &md5_of(2), &sha_of(2))
        .await
        .unwrap();
    let other = store
        .create_device(b.id, ub.id, "201", &md5_of(3), &sha_of(3))
        .await
        .unwrap();
    assert_eq!(
        (desk.tenant_id, desk.user_id, desk.username.as_str()),
        (a.id, ua.id, "201")
    );
    assert_eq!(
        (desk.ha1_md5.as_str(), desk.ha1_sha256.as_str()),
        (md5_of(1).as_str(), sha_of(1).as_str())
    );

    assert_eq!(
        store.device_by_username(a.id, "201").await.unwrap(),
        Some(desk.clone())
    );
    assert_eq!(
        store.device_by_username(b.id, "201").await.unwrap(),
        Some(other.clone())
    );
    assert_eq!(
        store.device_by_username(a.id, "nobody").await.unwrap(),
        None
    );
    assert_eq!(
        store.devices_by_username_any_tenant("201").await.unwrap(),
        vec![(a.clone(), desk.clone()), (b.clone(), other.clone())]
    );
    assert_eq!(
        store
            .devices_by_username_any_tenant("nobody")
            .await
            .unwrap(),
        vec![]
    );
    assert_eq!(
        store.list_devices(a.id, ua.id).await.unwrap(),
        vec![desk.clone(), soft.clone()]
    );
    assert_eq!(store.list_devices(b.id, ua.id).await.unwrap(), vec![]);

    let err = store
        .create_device(a.id, ua.id, "201", &md5_of(4), &sha_of(4))
        .await
        .unwrap_err();
    match &err {
        StoreError::Conflict(m) => {
            assert_eq!(m, "device username 201 already exists in tenant a.test")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // a user of another tenant
    let err = store
        .create_device(a.id, ub.id, "x", &md5_of(5), &sha_of(5))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let err = store
        .create_device(a.id, ua.id, "x", "secret", &sha_of(5))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = store
        .create_device(a.id, ua.id, "a b", &md5_of(5), &sha_of(5))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    // deleting the user deletes its devices
    store.delete_user(a.id, ua.id).await.unwrap();
    assert_eq!(store.device_by_username(a.id, "201").await.unwrap(), None);
}

async fn check_registrations(store: &Store, _url: &str) {
    let t = store.create_tenant("a.test", "A", 3, "0").await.unwrap();
    let u = store
        .create_user(t.id, "201", "Anna", "", &[])
        .await
        .unwrap();
    let v = store
        .create_user(t.id, "202", "Bob", "", &[])
        .await
        .unwrap();
    let d1 = store
        .create_device(t.id, u.id, "201", &md5_of(1), &sha_of(1))
        .await
        .unwrap();
    let d2 = store
        .create_device(t.id, u.id, "201-soft", &md5_of(2), &sha_of(2))
        .await
        .unwrap();
    let dv = store
        .create_device(t.id, v.id, "202", &md5_of(3), &sha_of(3))
        .await
        .unwrap();
    let now = 1_700_000_000_000_i64;

    // two contacts per device, two devices per user
    store
        .upsert_registration(&reg(&d1, "sip:201@192.0.2.7:5062", now + 60_000))
        .await
        .unwrap();
    store
        .upsert_registration(&reg(&d1, "sip:201@[2001:db8::7]:5062", now + 60_000))
        .await
        .unwrap();
    store
        .upsert_registration(&reg(
            &d2,
            "sip:201@192.0.2.8:5060;transport=tcp",
            now + 60_000,
        ))
        .await
        .unwrap();
    store
        .upsert_registration(&reg(&dv, "sip:202@192.0.2.9", now + 1_000))
        .await
        .unwrap();
    store
        .upsert_registration(&reg(&d2, "sip:old@192.0.2.8", now))
        .await
        .unwrap(); // already expired

    let of_d1 = store.registrations_of_device(d1.id, now).await.unwrap();
    assert_eq!(
        of_d1,
        vec![
            reg(&d1, "sip:201@192.0.2.7:5062", now + 60_000),
            reg(&d1, "sip:201@[2001:db8::7]:5062", now + 60_000),
        ]
    );
    let of_u = store.registrations_of_user(t.id, u.id, now).await.unwrap();
    assert_eq!(
        contacts(&of_u),
        [
            "sip:201@192.0.2.7:5062",
            "sip:201@[2001:db8::7]:5062",
            "sip:201@192.0.2.8:5060;transport=tcp"
        ]
    );
    assert_eq!(store.count_registrations(now).await.unwrap(), 4);

    // a refresh updates the binding in place
    let mut refreshed = reg(&d1, "sip:201@192.0.2.7:5062", now + 120_000);
    refreshed.cseq = 2;
    refreshed.source = "udp:198.51.100.1:40000".into();
    refreshed.updated_at = now;
    store.upsert_registration(&refreshed).await.unwrap();
    let of_d1 = store.registrations_of_device(d1.id, now).await.unwrap();
    assert_eq!(of_d1.len(), 2);
    assert_eq!(of_d1[0], refreshed);
    assert_eq!(store.count_registrations(now).await.unwrap(), 4);

    // expired bindings are not returned, then purged
    assert_eq!(
        store
            .registrations_of_user(t.id, v.id, now)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .registrations_of_user(t.id, v.id, now + 1_000)
            .await
            .unwrap(),
        vec![]
    );
    assert_eq!(
        store
            .registrations_of_device(dv.id, now + 2_000)
            .await
            .unwrap(),
        vec![]
    );
    assert_eq!(store.count_registrations(now + 2_000).await.unwrap(), 3);
    assert_eq!(store.count_registrations(now + 60_000).await.unwrap(), 1);
    assert_eq!(
        store
            .purge_expired_registrations(now + 2_000)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .purge_expired_registrations(now + 2_000)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.count_registrations(0).await.unwrap(), 3);

    store
        .delete_registration(d1.id, "sip:201@[2001:db8::7]:5062")
        .await
        .unwrap();
    store
        .delete_registration(d1.id, "sip:nothing@there")
        .await
        .unwrap();
    assert_eq!(
        store.registrations_of_device(d1.id, now).await.unwrap(),
        vec![refreshed.clone()]
    );
    store.delete_registrations_of_device(d2.id).await.unwrap();
    assert_eq!(
        store.registrations_of_user(t.id, u.id, now).await.unwrap(),
        vec![refreshed.clone()]
    );

    // a device must belong to the user and tenant named
    let mut wrong = reg(&d1, "sip:x@192.0.2.1", now + 60_000);
    wrong.user_id = v.id;
    let err = store.upsert_registration(&wrong).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let err = store
        .upsert_registration(&reg(&d1, "", now + 60_000))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    // deleting the user deletes its bindings
    store.delete_user(t.id, u.id).await.unwrap();
    assert_eq!(store.count_registrations(0).await.unwrap(), 0);
}

fn cdr(tenant_id: i64, call_id: &str, started_at: i64, answered: bool) -> Cdr {
    Cdr {
        id: 0,
        tenant_id,
        call_id: call_id.to_string(),
        caller: "201".into(),
        callee: "0612345678".into(),
        started_at,
        answered_at: answered.then_some(started_at + 3_000),
        ended_at: started_at + 60_000,
        result: if answered { "answered" } else { "busy" }.into(),
        sip_code: if answered { 200 } else { 486 },
    }
}

async fn check_cdrs(store: &Store, _url: &str) {
    let a = store.create_tenant("a.test", "A", 3, "0").await.unwrap();
    let b = store.create_tenant("b.test", "B", 3, "0").await.unwrap();
    let mut written = Vec::new();
    for (call_id, started, answered) in [
        ("c1", 3_000, true),
        ("c2", 1_000, false),
        ("c3", 2_000, true),
    ] {
        let mut c = cdr(a.id, call_id, started, answered);
        c.id = store.insert_cdr(&c).await.unwrap();
        assert!(c.id > 0);
        written.push(c);
    }
    let other = cdr(b.id, "c4", 4_000, true);
    let other_id = store.insert_cdr(&other).await.unwrap();
    assert!(written.iter().all(|c| c.id != other_id));

    let listed = store.list_cdrs(a.id, 10).await.unwrap();
    assert_eq!(
        listed,
        vec![written[0].clone(), written[2].clone(), written[1].clone()]
    );
    assert_eq!(listed[2].answered_at, None);
    assert_eq!(
        store.list_cdrs(a.id, 2).await.unwrap(),
        vec![written[0].clone(), written[2].clone()]
    );
    assert_eq!(store.list_cdrs(a.id, 0).await.unwrap(), vec![]);
    assert_eq!(
        store.list_cdrs(b.id, 10).await.unwrap(),
        vec![Cdr {
            id: other_id,
            ..other
        }]
    );
}

async fn check_delete_tenant_cascades(store: &Store, _url: &str) {
    let (a, ua, da) = tenant_user_device(store, "a.test").await;
    let (b, ub, db) = tenant_user_device(store, "b.test").await;
    let na = store
        .create_user(a.id, "202", "Nr", "", &nums(&["+31201234567"]))
        .await
        .unwrap();
    store
        .create_user(b.id, "202", "Nr", "", &nums(&["+31301234567"]))
        .await
        .unwrap();
    store
        .upsert_registration(&reg(&da, "sip:201@192.0.2.7", i64::MAX))
        .await
        .unwrap();
    store
        .upsert_registration(&reg(&db, "sip:201@192.0.2.8", i64::MAX))
        .await
        .unwrap();
    store
        .insert_cdr(&cdr(a.id, "ca", 1_000, true))
        .await
        .unwrap();
    store
        .insert_cdr(&cdr(b.id, "cb", 1_000, true))
        .await
        .unwrap();

    store.delete_tenant(a.id).await.unwrap();
    assert_eq!(store.tenant(a.id).await.unwrap(), None);
    assert_eq!(store.tenant_by_domain("a.test").await.unwrap(), None);
    assert_eq!(store.list_tenants().await.unwrap(), vec![b.clone()]);
    assert_eq!(store.user(a.id, ua.id).await.unwrap(), None);
    assert_eq!(store.user(a.id, na.id).await.unwrap(), None);
    assert_eq!(store.list_users(a.id).await.unwrap(), vec![]);
    assert_eq!(store.user_by_number("+31201234567").await.unwrap(), None);
    assert_eq!(store.device_by_username(a.id, "201").await.unwrap(), None);
    assert_eq!(
        store.devices_by_username_any_tenant("201").await.unwrap(),
        vec![(b.clone(), db.clone())]
    );
    assert_eq!(
        store.registrations_of_device(da.id, 0).await.unwrap(),
        vec![]
    );
    assert_eq!(store.count_registrations(0).await.unwrap(), 1);
    assert_eq!(store.list_cdrs(a.id, 10).await.unwrap(), vec![]);

    // the other tenant is untouched
    assert_eq!(
        store.user(b.id, ub.id).await.unwrap().map(|u| u.extension),
        Some("201".into())
    );
    assert!(store
        .user_by_number("+31301234567")
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store.registrations_of_device(db.id, 0).await.unwrap().len(),
        1
    );
    assert_eq!(store.list_cdrs(b.id, 10).await.unwrap().len(), 1);

    // domain and number can be used again
    let again = store
        .create_tenant("a.test", "A again", 3, "0")
        .await
        .unwrap();
    assert_ne!(again.id, a.id);
    store
        .create_user(again.id, "201", "New", "", &nums(&["+31201234567"]))
        .await
        .unwrap();
    assert!(matches!(
        store.delete_tenant(a.id).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Many writers at once (pool connections contend for SQLite's write lock).
async fn check_concurrent_writes(store: &Store, _url: &str) {
    let (t, u, d) = tenant_user_device(store, "a.test").await;
    let mut tasks = Vec::new();
    for i in 0..24_i64 {
        let store = store.clone();
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            store
                .upsert_registration(&reg(&d, &format!("sip:201@192.0.2.{i}"), i64::MAX))
                .await
                .unwrap();
            store
                .create_user(
                    d.tenant_id,
                    &format!("{}", 300 + i),
                    "U",
                    "",
                    &[format!("+3120000{i:04}")],
                )
                .await
                .unwrap();
            store.count_registrations(0).await.unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        store
            .registrations_of_user(t.id, u.id, 0)
            .await
            .unwrap()
            .len(),
        24
    );
    assert_eq!(store.list_users(t.id).await.unwrap().len(), 25);
}

/// What was written is there after the store is closed and opened again (and
/// the migrations are not run twice).
async fn check_survives_restart(store: &Store, url: &str) {
    let (t, u, d) = tenant_user_device(store, "a.test").await;
    let r = reg(&d, "sip:201@192.0.2.7:5062", i64::MAX);
    store.upsert_registration(&r).await.unwrap();
    store.close().await;

    let reopened = Store::connect(url).await.unwrap();
    assert_eq!(
        reopened.tenant_by_domain("a.test").await.unwrap(),
        Some(t.clone())
    );
    assert_eq!(reopened.user(t.id, u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(
        reopened.registrations_of_user(t.id, u.id, 0).await.unwrap(),
        vec![r]
    );
    // ids keep growing after a restart
    let other = reopened.create_tenant("b.test", "B", 3, "").await.unwrap();
    assert!(other.id > t.id);
    reopened.close().await;
}

#[tokio::test]
async fn sqlite_in_memory() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    let (t, u, d) = tenant_user_device(&store, "a.test").await;
    // every task sees the same database
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            store
                .upsert_registration(&reg(&d, &format!("sip:201@192.0.2.{i}"), i64::MAX))
                .await
                .unwrap();
            store.tenant_by_domain("a.test").await.unwrap().is_some()
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap());
    }
    assert_eq!(
        store
            .registrations_of_user(t.id, u.id, 0)
            .await
            .unwrap()
            .len(),
        8
    );
    // a second in-memory store is a different database
    let other = Store::connect("sqlite::memory:").await.unwrap();
    assert_eq!(other.list_tenants().await.unwrap(), vec![]);
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/dir/centrale.db");
    let store = Store::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    store.create_tenant("a.test", "A", 3, "").await.unwrap();
    store.close().await;
    assert!(path.is_file());

    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&raw)
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "wal");
    raw.close().await;
}

#[tokio::test]
async fn sqlite_relative_path() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = std::env::current_dir().unwrap();
    let ups = "../".repeat(cwd.components().count().saturating_sub(1));
    let rel = format!(
        "{ups}{}",
        dir.path()
            .strip_prefix("/")
            .unwrap()
            .join("rel/c.db")
            .display()
    );
    let store = Store::connect(&format!("sqlite://{rel}")).await.unwrap();
    store.create_tenant("a.test", "A", 3, "").await.unwrap();
    store.close().await;
    assert!(dir.path().join("rel/c.db").is_file());
}

#[tokio::test]
async fn unsupported_url() {
    let err = Store::connect("mysql://root:secret@localhost/db")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if !m.contains("secret")),
        "{err:?}"
    );
}
