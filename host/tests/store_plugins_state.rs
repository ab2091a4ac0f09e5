//! The state plugins keep through the store: key-value data (scoping,
//! quotas) and schedules; on SQLite and PostgreSQL (see `db/mod.rs`).

mod db;

use centrale_host::store::{KvError, Store, StoreError};
use db::{scope, tenant_with_users};

on_both!(check_kv_scoping, check_kv_quotas, check_schedules);

async fn check_kv_scoping(store: &Store) {
    let (a, ua) = tenant_with_users(store, "a.test", 2).await;
    let (b, ub) = tenant_with_users(store, "b.test", 1).await;
    let ax = scope(a.id, "x", Some(ua[0].id));
    store.kv_set(&ax, "greeting", b"hello").await.unwrap();
    assert_eq!(
        store.kv_get(&ax, "greeting").await.unwrap().as_deref(),
        Some(&b"hello"[..])
    );
    // same key elsewhere: another tenant, plugin, subject, tenant-wide
    for other in [
        scope(b.id, "x", Some(ub[0].id)),
        scope(b.id, "x", None),
        scope(a.id, "y", Some(ua[0].id)),
        scope(a.id, "x", Some(ua[1].id)),
        scope(a.id, "x", None),
    ] {
        assert_eq!(
            store.kv_get(&other, "greeting").await.unwrap(),
            None,
            "{other:?}"
        );
        assert!(store.kv_list(&other, "").await.unwrap().is_empty());
        assert!(!store.kv_delete(&other, "greeting").await.unwrap());
        store.kv_set(&other, "greeting", b"other").await.unwrap();
    }
    assert_eq!(
        store.kv_get(&ax, "greeting").await.unwrap().as_deref(),
        Some(&b"hello"[..])
    );
    // a subject of another tenant cannot be named in a scope
    let bad = scope(a.id, "x", Some(ub[0].id));
    assert!(matches!(
        store.kv_set(&bad, "k", b"v").await,
        Err(KvError::Store(StoreError::NotFound(_)))
    ));
    // overwrite, binary values, delete
    store.kv_set(&ax, "greeting", &[0, 255, 1]).await.unwrap();
    assert_eq!(
        store.kv_get(&ax, "greeting").await.unwrap(),
        Some(vec![0, 255, 1])
    );
    store.kv_set(&ax, "empty", b"").await.unwrap();
    assert_eq!(store.kv_get(&ax, "empty").await.unwrap(), Some(vec![]));
    assert!(store.kv_delete(&ax, "greeting").await.unwrap());
    assert_eq!(store.kv_get(&ax, "greeting").await.unwrap(), None);
    // prefixes: exact, case-sensitive, no wildcards, byte order
    for k in [
        "msg/2", "msg/10", "msg/1", "Msg/3", "msg_4", "msg%5", "m", "msgs/é", "msg/é",
    ] {
        store.kv_set(&ax, k, b"1").await.unwrap();
    }
    assert_eq!(
        store.kv_list(&ax, "msg/").await.unwrap(),
        ["msg/1", "msg/10", "msg/2", "msg/é"]
    );
    assert_eq!(store.kv_list(&ax, "msg%").await.unwrap(), ["msg%5"]);
    assert_eq!(store.kv_list(&ax, "msg_").await.unwrap(), ["msg_4"]);
    assert_eq!(store.kv_list(&ax, "msgs/é").await.unwrap(), ["msgs/é"]);
    assert_eq!(store.kv_list(&ax, "").await.unwrap().len(), 10);
    assert_eq!(store.kv_clear(&ax).await.unwrap(), 10);
    // deleting the user removes its state
    let a1 = scope(a.id, "x", Some(ua[1].id));
    store.delete_user(a.id, ua[1].id).await.unwrap();
    assert_eq!(store.kv_get(&a1, "greeting").await.unwrap(), None);
}

async fn check_kv_quotas(store: &Store) {
    let (t, _) = tenant_with_users(store, "a.test", 0).await;
    let s = scope(t.id, "x", None);
    let max = vec![7u8; 64 * 1024];
    store.kv_set(&s, "big", &max).await.unwrap();
    assert_eq!(store.kv_get(&s, "big").await.unwrap(), Some(max));
    assert!(matches!(
        store.kv_set(&s, "bigger", &vec![0u8; 64 * 1024 + 1]).await,
        Err(KvError::QuotaExceeded(_))
    ));
    for k in ["", &"k".repeat(257), "a\0b"] {
        assert!(matches!(
            store.kv_set(&s, k, b"v").await,
            Err(KvError::InvalidKey(_))
        ));
    }
    store.kv_set(&s, &"k".repeat(256), b"v").await.unwrap();
    // fill the scope to 1000 keys
    for i in 2..1000 {
        store.kv_set(&s, &format!("key{i:04}"), b"v").await.unwrap();
    }
    assert_eq!(store.kv_list(&s, "").await.unwrap().len(), 1000);
    let e = store.kv_set(&s, "one-more", b"v").await;
    assert!(
        matches!(&e, Err(KvError::QuotaExceeded(m)) if m.contains("1000")),
        "{e:?}"
    );
    assert_eq!(store.kv_get(&s, "one-more").await.unwrap(), None);
    // updating an existing key is fine; another scope is not affected
    store.kv_set(&s, "key0002", b"w").await.unwrap();
    store
        .kv_set(&scope(t.id, "y", None), "one-more", b"v")
        .await
        .unwrap();
    // concurrent inserts into a nearly full scope never overshoot
    store.kv_delete(&s, "key0002").await.unwrap();
    store.kv_delete(&s, "key0003").await.unwrap();
    let mut tasks = Vec::new();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    for i in 0..8 {
        let (store, s, start) = (store.clone(), s.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            store.kv_set(&s, &format!("race{i}"), b"v").await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(KvError::QuotaExceeded(_)) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(ok, 2);
    assert_eq!(store.kv_list(&s, "").await.unwrap().len(), 1000);
}

async fn check_schedules(store: &Store) {
    let (t, _) = tenant_with_users(store, "a.test", 0).await;
    let (t2, _) = tenant_with_users(store, "b.test", 0).await;
    let json = r#"{ "time_zone_offset_minutes": 60,
        "periods": [ { "weekday": 1, "from": "09:00", "to": "17:00" } ],
        "holidays": ["2026-01-12"] }"#;
    let s = store
        .set_schedule(t.id, "business-hours", json)
        .await
        .unwrap();
    assert_eq!(s.periods.len(), 1);
    assert_eq!(
        store.schedule(t.id, "business-hours").await.unwrap(),
        Some(s.clone())
    );
    // Monday 2026-01-05 08:30 UTC = 09:30 local; 2026-01-12 is a holiday
    let mon_0830 = 1_767_601_800_000;
    assert_eq!(
        store
            .is_open(t.id, "business-hours", mon_0830)
            .await
            .unwrap(),
        Some(true)
    );
    assert_eq!(
        store
            .is_open(t.id, "business-hours", mon_0830 - 3_600_000)
            .await
            .unwrap(),
        Some(false)
    );
    assert_eq!(
        store
            .is_open(t.id, "business-hours", mon_0830 + 7 * 86_400_000)
            .await
            .unwrap(),
        Some(false)
    );
    assert_eq!(store.is_open(t.id, "other", mon_0830).await.unwrap(), None);
    assert_eq!(
        store
            .is_open(t2.id, "business-hours", mon_0830)
            .await
            .unwrap(),
        None
    );
    // replace, list, delete
    store
        .set_schedule(t.id, "business-hours", r#"{"periods": []}"#)
        .await
        .unwrap();
    store
        .set_schedule(
            t.id,
            "always",
            r#"{"periods": [{"weekday": 3, "from": "00:00", "to": "24:00"}]}"#,
        )
        .await
        .unwrap();
    let names: Vec<String> = store
        .list_schedules(t.id)
        .await
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["always", "business-hours"]);
    assert_eq!(
        store
            .is_open(t.id, "business-hours", mon_0830)
            .await
            .unwrap(),
        Some(false)
    );
    assert!(store.delete_schedule(t.id, "always").await.unwrap());
    assert!(!store.delete_schedule(t.id, "always").await.unwrap());
    // invalid JSON, schedule or name
    for (name, bad) in [
        ("x", "{"),
        (
            "x",
            r#"{"periods": [{"weekday": 9, "from": "09:00", "to": "10:00"}]}"#,
        ),
        ("a b", "{}"),
    ] {
        assert!(matches!(
            store.set_schedule(t.id, name, bad).await,
            Err(StoreError::Invalid(_))
        ));
    }
    assert!(matches!(
        store.set_schedule(999_999, "x", "{}").await,
        Err(StoreError::NotFound(_))
    ));
}
