//! Plugins in the store, end to end: catalogue, licences, assignments,
//! suspensions and what runs for a subject; on SQLite and PostgreSQL (see
//! `db/mod.rs`).

mod db;

use centrale_host::store::{Store, StoreError};
use centrale_host::tenancy::plugins::ActivePlugin;
use db::{conflict, scope, tenant_with_users};

on_both!(
    check_catalogue,
    check_private_versions_wait_for_approval,
    check_licence_enforcement,
    check_concurrent_enables,
    check_active_plugins,
    check_tenant_delete_cascades,
);

const WASM: &[u8] = b"\0asm\x0d\0\x01\0 not a real component";

fn manifest(id: &str, version: &str) -> String {
    format!("id = \"{id}\"\nversion = \"{version}\"\n")
}

async fn install(store: &Store, tenant: Option<i64>, id: &str, version: &str) {
    install_as(store, tenant, id, version, true).await;
}

async fn install_as(store: &Store, tenant: Option<i64>, id: &str, version: &str, approved: bool) {
    let mut wasm = WASM.to_vec();
    wasm.extend_from_slice(format!("{id} {version}").as_bytes());
    store
        .install_plugin(tenant, id, version, &manifest(id, version), &wasm, approved)
        .await
        .unwrap();
}

fn ids(list: &[ActivePlugin]) -> Vec<&str> {
    list.iter().map(|p| p.plugin_id.as_str()).collect()
}

async fn check_catalogue(store: &Store) {
    let (a, _) = tenant_with_users(store, "a.test", 0).await;
    let (b, _) = tenant_with_users(store, "b.test", 0).await;
    for v in ["1.2.0", "1.10.0", "1.0.0", "2.0.0-rc.1"] {
        install(store, None, "voicemail", v).await;
    }
    let latest = store
        .plugin(Some(a.id), "voicemail")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.version, "2.0.0-rc.1");
    assert_eq!(latest.tenant_id, None);
    assert_eq!(latest.manifest, manifest("voicemail", "2.0.0-rc.1"));
    let versions: Vec<String> = store
        .plugin_versions(None, "voicemail")
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.version)
        .collect();
    assert_eq!(versions, ["2.0.0-rc.1", "1.10.0", "1.2.0", "1.0.0"]);

    // the component is stored by content hash
    let bytes = store
        .plugin_component(&latest.wasm_sha256)
        .await
        .unwrap()
        .unwrap();
    assert!(bytes.ends_with(b"voicemail 2.0.0-rc.1"));
    assert_eq!(latest.wasm_sha256.len(), 64);

    // versions are immutable; a bad version or id is refused
    let m = conflict(
        store
            .install_plugin(None, "voicemail", "1.2.0", "x", b"other bytes", true)
            .await,
    );
    assert!(m.contains("voicemail 1.2.0"), "{m}");
    for (id, v) in [("voicemail", "1.2"), ("Voice Mail", "1.0.0")] {
        assert!(matches!(
            store.install_plugin(None, id, v, "", WASM, true).await,
            Err(StoreError::Invalid(_))
        ));
    }

    // removing the newest makes the previous one current again
    store
        .remove_plugin_version(None, "voicemail", "2.0.0-rc.1")
        .await
        .unwrap();
    assert_eq!(
        store
            .plugin(None, "voicemail")
            .await
            .unwrap()
            .unwrap()
            .version,
        "1.10.0"
    );
    assert_eq!(
        store.plugin_component(&latest.wasm_sha256).await.unwrap(),
        None
    );
    assert!(matches!(
        store
            .remove_plugin_version(None, "voicemail", "9.9.9")
            .await,
        Err(StoreError::NotFound(_))
    ));

    // private plugins: visible to their tenant only, each in its tenant's
    // namespace (`<id>@<domain>`)
    install(store, Some(a.id), "com.a.ivr@a.test", "0.1.0").await;
    install(store, Some(b.id), "com.a.ivr@b.test", "0.2.0").await;
    assert_eq!(
        store
            .plugin(Some(a.id), "com.a.ivr@a.test")
            .await
            .unwrap()
            .unwrap()
            .version,
        "0.1.0"
    );
    assert_eq!(store.plugin(None, "com.a.ivr@a.test").await.unwrap(), None);
    assert_eq!(
        store.plugin(Some(a.id), "com.a.ivr@b.test").await.unwrap(),
        None
    );
    let list = |t| async move {
        store
            .list_plugins(t)
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.id, p.version, p.tenant_id))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        list(Some(a.id)).await,
        [
            ("com.a.ivr@a.test".into(), "0.1.0".into(), Some(a.id)),
            ("voicemail".into(), "1.10.0".into(), None)
        ]
    );
    assert_eq!(
        list(None).await,
        [("voicemail".into(), "1.10.0".into(), None)]
    );
    // A tenant cannot squat an id outside its namespace, and '@' is not the
    // operator's: the squatting of the review is impossible by construction.
    for (tenant, id) in [
        (Some(a.id), "voicemail"),
        (Some(a.id), "com.a.ivr@b.test"),
        (None, "com.a.ivr@a.test"),
        (Some(a.id), "x@"),
    ] {
        let r = store
            .install_plugin(tenant, id, "5.0.0", "", WASM, true)
            .await;
        assert!(matches!(r, Err(StoreError::Invalid(_))), "{id}: {r:?}");
    }
    // The operator may later install the id a tenant used privately.
    install(store, None, "com.a.ivr", "5.0.0").await;
    assert!(matches!(
        store
            .install_plugin(Some(999_999), "x@z.test", "1.0.0", "", WASM, true)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

/// A private version asking for more than the approved one waits for the
/// operator: the approved one keeps running until then.
async fn check_private_versions_wait_for_approval(store: &Store) {
    let (t, users) = tenant_with_users(store, "a.test", 1).await;
    let u = users[0].id;
    let id = "night@a.test";
    install(store, Some(t.id), id, "1.0.0").await;
    store.grant_licence(t.id, id, 1).await.unwrap();
    store.enable_plugin(t.id, id, Some(u), None).await.unwrap();
    let running = || async {
        store
            .active_plugins_for_subject(t.id, u)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.version)
            .collect::<Vec<_>>()
    };
    assert_eq!(running().await, ["1.0.0"]);
    install_as(store, Some(t.id), id, "1.1.0", false).await;
    assert_eq!(running().await, ["1.0.0"], "an unapproved version ran");
    let versions: Vec<(String, bool)> = store
        .private_plugin_versions(t.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.version, p.approved))
        .collect();
    assert_eq!(
        versions,
        [("1.1.0".to_string(), false), ("1.0.0".to_string(), true)]
    );
    store
        .approve_plugin_version(t.id, id, "1.1.0")
        .await
        .unwrap();
    assert_eq!(running().await, ["1.1.0"]);
    assert!(matches!(
        store
            .approve_plugin_version(t.id, "voicemail", "1.0.0")
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn check_licence_enforcement(store: &Store) {
    let (t, users) = tenant_with_users(store, "a.test", 4).await;
    install(store, None, "voicemail", "1.0.0").await;
    let u = |i: usize| Some(users[i].id);

    // no licence: a clear error
    let e = store.enable_plugin(t.id, "voicemail", u(0), None).await;
    assert!(
        matches!(&e, Err(StoreError::NotFound(m)) if m.contains("no licence") && m.contains("voicemail")),
        "{e:?}"
    );
    // a licence only for an installed plugin
    assert!(matches!(
        store.grant_licence(t.id, "nope", 1).await,
        Err(StoreError::NotFound(_))
    ));

    let l = store.grant_licence(t.id, "voicemail", 2).await.unwrap();
    assert_eq!((l.quantity, l.used), (2, 0));
    store
        .enable_plugin(t.id, "voicemail", u(0), None)
        .await
        .unwrap();
    store
        .enable_plugin(t.id, "voicemail", u(1), None)
        .await
        .unwrap();
    let m = conflict(store.enable_plugin(t.id, "voicemail", u(2), None).await);
    assert_eq!(m, "licence for voicemail allows 2 subjects; all are in use");
    // tenant-wide counts as one too
    conflict(store.enable_plugin(t.id, "voicemail", None, None).await);
    // enabling again what is enabled is fine and only updates the settings
    let a = store
        .enable_plugin(t.id, "voicemail", u(0), Some(r#"{"pin": "1234"}"#))
        .await
        .unwrap();
    assert!(a.enabled);
    assert_eq!(a.settings_json, r#"{"pin":"1234"}"#);
    let l = store.licence(t.id, "voicemail").await.unwrap().unwrap();
    assert_eq!((l.quantity, l.used), (2, 2));

    // disabling frees a unit; settings are kept
    assert!(store.disable_plugin(t.id, "voicemail", u(0)).await.unwrap());
    assert!(!store.disable_plugin(t.id, "voicemail", u(0)).await.unwrap());
    let kept = store
        .plugin_assignment(t.id, "voicemail", u(0))
        .await
        .unwrap()
        .unwrap();
    assert!(!kept.enabled);
    assert_eq!(kept.settings_json, r#"{"pin":"1234"}"#);
    store
        .enable_plugin(t.id, "voicemail", u(2), None)
        .await
        .unwrap();
    conflict(store.enable_plugin(t.id, "voicemail", u(0), None).await);

    // settings alone do not use a unit
    store
        .set_plugin_settings(t.id, "voicemail", u(3), r#"{"pin": "9"}"#)
        .await
        .unwrap();
    store
        .set_plugin_settings(t.id, "voicemail", None, r#"{"greeting": "hi"}"#)
        .await
        .unwrap();
    assert_eq!(store.list_licences(t.id).await.unwrap()[0].used, 2);
    assert_eq!(
        store
            .list_plugin_assignments(t.id, "voicemail")
            .await
            .unwrap()
            .len(),
        5
    );
    for bad in ["[1]", "{", "\"x\""] {
        assert!(matches!(
            store
                .set_plugin_settings(t.id, "voicemail", u(3), bad)
                .await,
            Err(StoreError::Invalid(_))
        ));
    }

    // a quantity below what is in use is refused; raising it is fine
    let m = conflict(store.grant_licence(t.id, "voicemail", 1).await);
    assert!(m.contains("voicemail") && m.contains("2 subjects"), "{m}");
    store.grant_licence(t.id, "voicemail", 3).await.unwrap();
    store
        .enable_plugin(t.id, "voicemail", u(3), None)
        .await
        .unwrap();
    // a user of another tenant, or an unknown one, is not a subject here
    let (other, other_users) = tenant_with_users(store, "b.test", 1).await;
    let _ = other;
    store.grant_licence(t.id, "voicemail", 10).await.unwrap();
    assert!(matches!(
        store
            .enable_plugin(t.id, "voicemail", Some(other_users[0].id), None)
            .await,
        Err(StoreError::NotFound(_))
    ));
    // deleting a user frees its unit
    let before = store
        .licence(t.id, "voicemail")
        .await
        .unwrap()
        .unwrap()
        .used;
    store.delete_user(t.id, users[3].id).await.unwrap();
    let after = store
        .licence(t.id, "voicemail")
        .await
        .unwrap()
        .unwrap()
        .used;
    assert_eq!(after, before - 1);

    // quantity 0 revokes: nothing can be enabled
    store.grant_licence(t.id, "voicemail", 0).await.unwrap();
    let m = conflict(store.enable_plugin(t.id, "voicemail", u(0), None).await);
    assert!(m.contains("voicemail"), "{m}");
    assert!(store.revoke_licence(t.id, "voicemail").await.unwrap());
    assert_eq!(store.licence(t.id, "voicemail").await.unwrap(), None);
}

/// Many enables at once never exceed the quantity (both databases).
async fn check_concurrent_enables(store: &Store) {
    let (t, users) = tenant_with_users(store, "a.test", 12).await;
    install(store, None, "dnd", "1.0.0").await;
    store.grant_licence(t.id, "dnd", 5).await.unwrap();
    let mut tasks = Vec::new();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(users.len()));
    for u in &users {
        let (store, tid, uid, start) = (store.clone(), t.id, u.id, start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            store.enable_plugin(tid, "dnd", Some(uid), None).await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Conflict(m)) => assert!(m.contains("allows 5"), "{m}"),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(store.licence(t.id, "dnd").await.unwrap().unwrap().used, 5);
}

async fn check_active_plugins(store: &Store) {
    let (t, users) = tenant_with_users(store, "a.test", 2).await;
    let (t2, users2) = tenant_with_users(store, "b.test", 1).await;
    let (u0, u1) = (users[0].id, users[1].id);
    for id in ["dnd", "night", "voicemail"] {
        install(store, None, id, "1.0.0").await;
        store.grant_licence(t.id, id, 5).await.unwrap();
    }
    let active = |s| async move { store.active_plugins_for_subject(t.id, s).await.unwrap() };
    assert!(active(u0).await.is_empty());

    store
        .enable_plugin(t.id, "dnd", Some(u0), None)
        .await
        .unwrap();
    store
        .set_plugin_settings(
            t.id,
            "voicemail",
            None,
            r#"{"lang": "nl", "box": {"max": 10}}"#,
        )
        .await
        .unwrap();
    store
        .enable_plugin(
            t.id,
            "voicemail",
            Some(u0),
            Some(r#"{"box": {"pin": "1"}}"#),
        )
        .await
        .unwrap();
    let now = active(u0).await;
    assert_eq!(ids(&now), ["dnd", "voicemail"]);
    assert_eq!(now[0].settings_json, "{}");
    assert_eq!(now[0].manifest, manifest("dnd", "1.0.0"));
    let vm: serde_json::Value = serde_json::from_str(&now[1].settings_json).unwrap();
    assert_eq!(
        vm,
        serde_json::json!({"lang": "nl", "box": {"max": 10, "pin": "1"}})
    );
    assert!(active(u1).await.is_empty());

    // tenant-wide: every subject, with the tenant's settings
    store
        .enable_plugin(t.id, "night", None, Some(r#"{"to": "200"}"#))
        .await
        .unwrap();
    assert_eq!(ids(&active(u1).await), ["night"]);
    assert_eq!(active(u1).await[0].settings_json, r#"{"to":"200"}"#);
    assert_eq!(ids(&active(u0).await), ["dnd", "night", "voicemail"]);
    // never another tenant's subjects
    store.grant_licence(t2.id, "dnd", 1).await.unwrap();
    assert!(store
        .active_plugins_for_subject(t2.id, users2[0].id)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .active_plugins_for_subject(t2.id, u0)
        .await
        .unwrap()
        .is_empty());

    // a new version is used at once
    install(store, None, "dnd", "1.1.0").await;
    let dnd = active(u0).await.into_iter().next().unwrap();
    assert_eq!(
        (dnd.plugin_id.as_str(), dnd.version.as_str()),
        ("dnd", "1.1.0")
    );

    // disable, suspend, revoke: effective immediately
    store.disable_plugin(t.id, "dnd", Some(u0)).await.unwrap();
    assert_eq!(ids(&active(u0).await), ["night", "voicemail"]);
    let s = store
        .suspend_plugin(t.id, "voicemail", "trapped 10 times\nin a row")
        .await
        .unwrap();
    assert_eq!(s.reason, "trapped 10 times in a row");
    assert_eq!(ids(&active(u0).await), ["night"]);
    assert_eq!(
        store.plugin_suspension(t.id, "voicemail").await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(store.list_suspensions(t.id).await.unwrap(), vec![s]);
    assert!(store.unsuspend_plugin(t.id, "voicemail").await.unwrap());
    assert!(!store.unsuspend_plugin(t.id, "voicemail").await.unwrap());
    assert_eq!(ids(&active(u0).await), ["night", "voicemail"]);
    store.grant_licence(t.id, "night", 0).await.unwrap();
    assert_eq!(ids(&active(u1).await), Vec::<&str>::new());
    store.revoke_licence(t.id, "voicemail").await.unwrap();
    assert!(active(u0).await.is_empty());
    // granting again restores the kept assignments
    store.grant_licence(t.id, "voicemail", 1).await.unwrap();
    assert_eq!(ids(&active(u0).await), ["voicemail"]);
    assert_eq!(
        store
            .effective_plugin_settings(t.id, "voicemail", Some(u0))
            .await
            .unwrap(),
        now[1].settings_json
    );
}

async fn check_tenant_delete_cascades(store: &Store) {
    let (a, ua) = tenant_with_users(store, "a.test", 1).await;
    let (b, ub) = tenant_with_users(store, "b.test", 1).await;
    install(store, None, "dnd", "1.0.0").await;
    install(store, Some(a.id), "com.a.private@a.test", "1.0.0").await;
    for (t, u) in [(&a, &ua[0]), (&b, &ub[0])] {
        store.grant_licence(t.id, "dnd", 1).await.unwrap();
        store
            .enable_plugin(t.id, "dnd", Some(u.id), None)
            .await
            .unwrap();
        store.suspend_plugin(t.id, "dnd", "x").await.unwrap();
        store
            .kv_set(&scope(t.id, "dnd", Some(u.id)), "k", b"v")
            .await
            .unwrap();
        store.set_schedule(t.id, "s", "{}").await.unwrap();
    }
    store.delete_tenant(a.id).await.unwrap();
    assert_eq!(store.list_licences(a.id).await.unwrap(), vec![]);
    assert_eq!(store.list_suspensions(a.id).await.unwrap(), vec![]);
    assert_eq!(store.list_schedules(a.id).await.unwrap(), vec![]);
    assert_eq!(
        store.list_plugin_assignments(a.id, "dnd").await.unwrap(),
        vec![]
    );
    assert_eq!(
        store
            .plugin(Some(a.id), "com.a.private@a.test")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .kv_list(&scope(a.id, "dnd", Some(ua[0].id)), "")
            .await
            .unwrap()
            .len(),
        0
    );
    // b is untouched
    assert_eq!(store.list_licences(b.id).await.unwrap()[0].used, 1);
    assert_eq!(store.list_suspensions(b.id).await.unwrap().len(), 1);
    assert_eq!(store.list_schedules(b.id).await.unwrap().len(), 1);
    assert_eq!(
        store
            .kv_list(&scope(b.id, "dnd", Some(ub[0].id)), "")
            .await
            .unwrap(),
        ["k"]
    );
    assert!(store.plugin(Some(b.id), "dnd").await.unwrap().is_some());
}
