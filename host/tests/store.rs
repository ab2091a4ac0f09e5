//! The store, end to end, on SQLite and PostgreSQL (harness: `db/mod.rs`):
//! tenants, users, numbers and devices, plus SQLite-only connection cases.
//! Registrations, call records and durability are in `store_calls.rs`.

mod db;

use centrale_host::store::{Backend, Store, StoreError};
use db::*;
use sqlx::Row;

on_both_with_url!(
    check_tenants,
    check_users,
    check_numbers_cannot_be_claimed_twice,
    check_devices
);

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
    for (t, first, last) in [
        (&a, "+31201234500", "+31201234599"),
        (&a, "+31209999999", "+31209999999"),
        (&b, "030 123 4567", "030 123 4567"),
    ] {
        store.add_number_range(t, first, last).await.unwrap();
    }
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
    // stored canonically: the national number in B's country
    assert_eq!(bea.numbers, nums(&["+31301234567"]));
    assert_eq!(
        store.user_by_number("+31301234567").await.unwrap(),
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
            assert!(m.contains("+31301234567"), "{m}")
        }
        StoreError::Invalid(m) if m.contains("not in a number range") => {}
        other => panic!("expected a refusal, got {other:?}"),
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
        .create_user(a.id, "203", "Bert", "", &nums(&["020 123 4567"]))
        .await
        .unwrap();
    assert_eq!(
        store.user_by_number("+31201234567").await.unwrap(),
        Some((a.clone(), bert.clone()))
    );
    assert_eq!(store.list_users(a.id).await.unwrap(), vec![bob, bert]);
}

/// The review's hijack: tenant B claimed A's DID by leaving out the `+`.
/// Numbers are canonical E.164, and a tenant assigns only numbers of the
/// ranges the operator allocated to it; ranges never overlap.
async fn check_numbers_cannot_be_claimed_twice(store: &Store, _url: &str) {
    let a = store.create_tenant("a.test", "A", 3, "0").await.unwrap();
    let b = store.create_tenant("b.test", "B", 3, "0").await.unwrap();
    store
        .add_number_range(&a, "+31205552000", "+31205552099")
        .await
        .unwrap();
    store
        .add_number_range(&b, "+31205553000", "+31205553099")
        .await
        .unwrap();
    let ann = store
        .create_user(a.id, "201", "Ann", "", &nums(&["+31205552010"]))
        .await
        .unwrap();
    let bo = store.create_user(b.id, "201", "Bo", "", &[]).await.unwrap();
    for spelling in [
        "31205552010",
        "0031205552010",
        "020 555 2010",
        "+31 (0)20 555 2010",
    ] {
        let r = store
            .set_user_numbers(b.id, bo.id, &nums(&[spelling]))
            .await;
        assert!(
            matches!(&r, Err(StoreError::Invalid(m)) if m.contains("+31205552010") && m.contains("number range")),
            "{spelling}: {r:?}"
        );
        // nor within A, a second time, in another spelling
        let r = store
            .create_user(a.id, "202", "Again", "", &nums(&[spelling]))
            .await;
        assert!(
            matches!(r, Err(StoreError::Conflict(_))),
            "{spelling}: {r:?}"
        );
    }
    assert_eq!(
        store.user_by_number("+31205552010").await.unwrap(),
        Some((a.clone(), ann))
    );
    // The operator cannot give B a range overlapping A's.
    let r = store
        .add_number_range(&b, "+31205552050", "+31205552150")
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    let r = store
        .add_number_range(&b, "020 555 2010", "020 555 2010")
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    // A range in use cannot be taken back; an unused one can.
    let ranges = store.list_number_ranges(a.id).await.unwrap();
    assert!(matches!(
        store.remove_number_range(a.id, ranges[0].id).await,
        Err(StoreError::Conflict(_))
    ));
    let bs = store.list_number_ranges(b.id).await.unwrap();
    store.remove_number_range(b.id, bs[0].id).await.unwrap();
    assert!(store.list_number_ranges(b.id).await.unwrap().is_empty());
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
