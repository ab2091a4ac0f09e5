//! The store, end to end, on SQLite and PostgreSQL (harness: `db/mod.rs`):
//! registrations, call records, cascades, concurrent writes and a restart.

mod db;

use centrale_host::store::{Store, StoreError};
use centrale_host::tenancy::Cdr;
use db::*;

on_both_with_url!(
    check_registrations,
    check_cdrs,
    check_delete_tenant_cascades,
    check_concurrent_writes,
    check_survives_restart,
);

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
    store
        .add_number_range(&a, "+31201234567", "+31201234567")
        .await
        .unwrap();
    store
        .add_number_range(&b, "+31301234567", "+31301234567")
        .await
        .unwrap();
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
    // the deleted tenant's range went with it
    store
        .add_number_range(&again, "+31201234567", "+31201234567")
        .await
        .unwrap();
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
    store
        .add_number_range(&t, "+31200000000", "+31200009999")
        .await
        .unwrap();
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
