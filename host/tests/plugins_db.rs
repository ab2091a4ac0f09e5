//! Plugins over the database, end to end: the [`DbBackend`] host functions
//! read from, the CLI commands an operator and a tenant admin use, and a real
//! component (tests/plugins/good) installed, licensed, enabled and run with
//! its settings and key-value state in the database. On SQLite and
//! PostgreSQL (see `db/mod.rs`).

mod db;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use centrale_host::cli_plugins::{self, Target};
use centrale_host::runtime::build::build_component;
use centrale_host::runtime::types::{
    Call, Decision, Direction, KvError, Party, Rejection, SubjectKind,
};
use centrale_host::runtime::{HookCall, HookOutcome, HostBackend, Manifest, Runtime};
use centrale_host::runtime::{RuntimeConfig, Scope};
use centrale_host::store::Store;
use centrale_host::tenancy::backend::DbBackend;
use centrale_host::tenancy::Registration;
use db::{scope, tenant_with_users};

on_both!(check_db_backend, check_cli_and_runtime);

/// Monday 2026-01-05 08:30 UTC.
const MON_0830: i64 = 1_767_601_800_000;

fn rt_scope(tenant_id: i64, plugin: &str, subject_id: Option<i64>) -> Scope {
    Scope {
        tenant_id,
        tenant_domain: format!("t{tenant_id}.test"),
        plugin_id: plugin.into(),
        subject_id,
    }
}

async fn check_db_backend(store: &Store) {
    let a = store.create_tenant("a.test", "A", 3, "0").await.unwrap();
    let b = store.create_tenant("b.test", "B", 3, "0").await.unwrap();
    let num = |n: &str| vec![n.to_string()];
    store
        .add_number_range(&a, "+31201111111", "+31201111111")
        .await
        .unwrap();
    store
        .add_number_range(&b, "+31302222222", "+31302222222")
        .await
        .unwrap();
    let alice = store
        .create_user(a.id, "201", "Alice", "", &num("+31201111111"))
        .await
        .unwrap();
    let bob = store
        .create_user(b.id, "201", "Bob", "", &num("+31302222222"))
        .await
        .unwrap();
    store
        .set_schedule(
            a.id,
            "business-hours",
            r#"{"time_zone_offset_minutes": 60,
            "periods": [{"weekday": 1, "from": "09:00", "to": "17:00"}]}"#,
        )
        .await
        .unwrap();
    let backend = DbBackend::new(store.clone()).await.unwrap();

    // settings: the subject's merged over the tenant's
    store
        .install_plugin(None, "x", "1.0.0", "id = \"x\"", b"\0asm", true)
        .await
        .unwrap();
    store.grant_licence(a.id, "x", 1).await.unwrap();
    store
        .set_plugin_settings(a.id, "x", None, r#"{"lang": "nl", "to": "200"}"#)
        .await
        .unwrap();
    store
        .set_plugin_settings(a.id, "x", Some(alice.id), r#"{"to": "201"}"#)
        .await
        .unwrap();
    let alice_x = rt_scope(a.id, "x", Some(alice.id));
    let settings: serde_json::Value =
        serde_json::from_str(&backend.settings(&alice_x).await).unwrap();
    assert_eq!(settings, serde_json::json!({"lang": "nl", "to": "201"}));
    let tenant_x = rt_scope(a.id, "x", None);
    assert_eq!(
        backend.settings(&tenant_x).await,
        r#"{"lang":"nl","to":"200"}"#
    );
    assert_eq!(backend.settings(&rt_scope(b.id, "x", None)).await, "{}");

    // kv: through the store, in the scope's namespace only
    backend.kv_set(&alice_x, "k", b"v".to_vec()).await.unwrap();
    let in_store = store.kv_get(&scope(a.id, "x", Some(alice.id)), "k").await;
    assert_eq!(in_store.unwrap(), Some(b"v".to_vec()));
    assert_eq!(backend.kv_get(&tenant_x, "k").await.unwrap(), None);
    assert_eq!(backend.kv_list(&alice_x, "").await, ["k"]);
    backend.kv_delete(&alice_x, "k").await.unwrap();
    assert_eq!(backend.kv_get(&alice_x, "k").await.unwrap(), None);
    let e = backend.kv_set(&alice_x, "", b"v".to_vec()).await;
    assert_eq!(e, Err(KvError::InvalidKey));
    let e = backend.kv_set(&alice_x, "big", vec![0; 65 * 1024]).await;
    assert_eq!(e, Err(KvError::QuotaExceeded));
    // a subject that is not a user of the tenant has no namespace
    let wrong = rt_scope(a.id, "x", Some(bob.id));
    let e = backend.kv_set(&wrong, "k", b"v".to_vec()).await;
    assert!(matches!(e, Err(KvError::Unavailable(_))), "{e:?}");

    // directory: only the tenant's own users
    let s = backend.directory_by_extension(a.id, "201").await.unwrap();
    assert_eq!((s.id, s.kind), (alice.id as u64, SubjectKind::User));
    assert_eq!(s.display_name, "Alice");
    assert_eq!(s.numbers, ["+31201111111"]);
    assert_eq!(
        backend
            .directory_by_extension(b.id, "201")
            .await
            .unwrap()
            .id,
        bob.id as u64
    );
    assert!(backend.directory_by_extension(a.id, "202").await.is_none());
    for n in ["+31201111111", "31201111111"] {
        assert_eq!(
            backend.directory_by_number(a.id, n).await.map(|s| s.id),
            Some(alice.id as u64)
        );
    }
    assert!(backend
        .directory_by_number(b.id, "+31201111111")
        .await
        .is_none());
    assert!(backend
        .directory_by_number(a.id, "+31302222222")
        .await
        .is_none());
    assert!(backend
        .directory_by_id(a.id, alice.id as u64)
        .await
        .is_some());
    assert!(backend
        .directory_by_id(b.id, alice.id as u64)
        .await
        .is_none());
    assert!(backend.directory_by_id(a.id, u64::MAX).await.is_none());

    // reachable: an unexpired registration
    assert!(!backend.is_reachable(a.id, alice.id as u64).await);
    let d = store
        .create_device(a.id, alice.id, "201", &"0".repeat(32), &"0".repeat(64))
        .await
        .unwrap();
    let now = centrale_host::now_ms();
    let reg = |contact: &str, expires_at: i64| Registration {
        tenant_id: a.id,
        user_id: alice.id,
        device_id: d.id,
        contact: contact.into(),
        source: "udp:192.0.2.7:5060".into(),
        call_id: "c".into(),
        cseq: 1,
        expires_at,
        updated_at: now,
    };
    store
        .upsert_registration(&reg("sip:old@192.0.2.7", now - 1000))
        .await
        .unwrap();
    assert!(!backend.is_reachable(a.id, alice.id as u64).await);
    store
        .upsert_registration(&reg("sip:201@192.0.2.7", now + 60_000))
        .await
        .unwrap();
    assert!(backend.is_reachable(a.id, alice.id as u64).await);
    assert!(!backend.is_reachable(b.id, alice.id as u64).await);

    // schedules and the tenant's local time (UTC+1 from business-hours)
    let at = MON_0830 as u64;
    assert_eq!(
        backend.schedule_is_open(a.id, "business-hours", at).await,
        Some(true)
    );
    assert_eq!(
        backend.schedule_is_open(b.id, "business-hours", at).await,
        None
    );
    let t = backend.local_time(a.id, at);
    assert_eq!(
        (t.year, t.month, t.day, t.hour, t.minute, t.weekday),
        (2026, 1, 5, 9, 30, 1)
    );
    assert_eq!(backend.local_time(b.id, at).hour, 8);
    // a changed offset is picked up when the schedule is read
    store
        .set_schedule(
            a.id,
            "business-hours",
            r#"{"time_zone_offset_minutes": -300}"#,
        )
        .await
        .unwrap();
    assert_eq!(
        backend.schedule_is_open(a.id, "business-hours", at).await,
        Some(false)
    );
    assert_eq!(backend.local_time(a.id, at).hour, 3);
    backend.set_now_ms(Some(at));
    assert_eq!(backend.now_ms(), at);
}

/// The test plugin `good` built once per process: (plugin.toml, component).
fn good_plugin() -> (PathBuf, PathBuf) {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/good");
    let wasm = BUILT.get_or_init(|| {
        build_component(&dir).unwrap_or_else(|e| panic!("building the good plugin: {e}"))
    });
    (dir.join("plugin.toml"), wasm.clone())
}

fn target(plugin: &str, user: Option<&str>) -> Target {
    Target {
        tenant: "a.test".into(),
        plugin: plugin.into(),
        user: user.map(str::to_string),
        tenant_wide: user.is_none(),
    }
}

fn call(subject_id: u64) -> Call {
    Call {
        id: "call-1".into(),
        tenant: "a.test".into(),
        direction: Direction::Inbound,
        caller: Party {
            number: "+31612345678".into(),
            display_name: None,
            anonymous: false,
            asserted_identity: None,
            subject: None,
        },
        subject: centrale_host::runtime::types::Subject {
            id: subject_id,
            kind: SubjectKind::User,
            extension: Some("201".into()),
            numbers: vec![],
            display_name: "U".into(),
        },
        dialled: "201".into(),
        diversions: vec![],
        started_at: MON_0830 as u64,
    }
}

async fn check_cli_and_runtime(store: &Store) {
    let (manifest_path, wasm_path) = tokio::task::spawn_blocking(good_plugin).await.unwrap();
    let (t, users) = tenant_with_users(store, "a.test", 3).await;
    let err = |r: anyhow::Result<String>| format!("{:#}", r.unwrap_err());

    // install: validated, stored, capabilities shown
    let out = cli_plugins::plugin_install(store, &manifest_path, &wasm_path, None)
        .await
        .unwrap();
    assert!(
        out.contains("test-good 0.1.0 installed for every tenant"),
        "{out}"
    );
    assert!(out.contains("capabilities: log, settings, kv"), "{out}");
    let again = cli_plugins::plugin_install(store, &manifest_path, &wasm_path, None).await;
    assert!(err(again).contains("already installed"));
    // a manifest that hides a capability the component imports is refused
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&manifest_path).unwrap();
    let hiding = dir.path().join("plugin.toml");
    std::fs::write(
        &hiding,
        text.replace(", \"kv\"", "").replace("0.1.0", "0.2.0"),
    )
    .unwrap();
    let e = err(cli_plugins::plugin_install(store, &hiding, &wasm_path, None).await);
    assert!(e.contains("kv"), "{e}");
    let list = cli_plugins::plugin_list(store, Some("a.test"))
        .await
        .unwrap();
    assert!(list.starts_with("test-good\t0.1.0\tpublic"), "{list}");

    // licence and enable within it; scope and settings are checked
    let e = err(cli_plugins::plugin_enable(store, &target("test-good", Some("201")), None).await);
    assert!(e.contains("no licence"), "{e}");
    cli_plugins::licence_grant(store, "a.test", "test-good", 2)
        .await
        .unwrap();
    let e = err(cli_plugins::plugin_enable(store, &target("test-good", None), None).await);
    assert!(e.contains("per user"), "{e}");
    let bad = Some(r#"{"greeting": 5}"#);
    let e = err(cli_plugins::plugin_enable(store, &target("test-good", Some("201")), bad).await);
    assert!(e.contains("greeting"), "{e}");
    let hello = Some(r#"{"greeting": "hello"}"#);
    cli_plugins::plugin_enable(store, &target("test-good", Some("201")), hello)
        .await
        .unwrap();
    cli_plugins::plugin_enable(store, &target("test-good", Some("202")), None)
        .await
        .unwrap();
    let e = err(cli_plugins::plugin_enable(store, &target("test-good", Some("203")), None).await);
    assert!(
        e.contains("licence for test-good allows 2 subjects; all are in use"),
        "{e}"
    );
    cli_plugins::plugin_settings(store, "a.test", "test-good", None, r#"{"extra": 1}"#)
        .await
        .unwrap();
    let out = cli_plugins::licence_list(store, "a.test").await.unwrap();
    assert_eq!(out, "test-good\t2 of 2 in use\n");
    let out = cli_plugins::plugin_disable(store, &target("test-good", Some("202")))
        .await
        .unwrap();
    assert!(out.contains("disabled"), "{out}");
    let file = dir.path().join("hours.json");
    std::fs::write(
        &file,
        r#"{"periods": [{"weekday": 1, "from": "09:00", "to": "17:00"}]}"#,
    )
    .unwrap();
    cli_plugins::schedule_set(store, "a.test", "business-hours", &file)
        .await
        .unwrap();
    assert!(cli_plugins::schedule_list(store, "a.test")
        .await
        .unwrap()
        .starts_with("business-hours\t"));

    // run it: what runs for 201 comes from the database, and so do its
    // settings and key-value state
    let active = store
        .active_plugins_for_subject(t.id, users[0].id)
        .await
        .unwrap();
    assert_eq!(active.len(), 1);
    assert!(store
        .active_plugins_for_subject(t.id, users[1].id)
        .await
        .unwrap()
        .is_empty());
    let p = &active[0];
    let manifest = Manifest::from_toml(&p.manifest).unwrap();
    let wasm = store
        .plugin_component(&p.wasm_sha256)
        .await
        .unwrap()
        .unwrap();
    let backend = Arc::new(DbBackend::new(store.clone()).await.unwrap());
    let config = RuntimeConfig {
        max_instances: 4,
        hook_timeout: Duration::from_secs(5),
        ..RuntimeConfig::default()
    };
    let rt = Runtime::new(config, backend).unwrap();
    let loaded = tokio::task::spawn_blocking(move || rt.load(&manifest, &wasm).map(|l| (rt, l)));
    let (rt, loaded) = loaded.await.unwrap().unwrap();
    let subject = users[0].id;
    let sc = Scope {
        tenant_id: t.id,
        tenant_domain: t.domain.clone(),
        plugin_id: p.plugin_id.clone(),
        subject_id: Some(subject),
    };
    let outcome = rt
        .invoke(
            &loaded,
            sc.clone(),
            HookCall::NoAnswer(call(subject as u64)),
        )
        .await;
    let HookOutcome::Decision(Decision::Reject(Rejection { reason, .. })) = outcome else {
        panic!("unexpected {outcome:?}");
    };
    let settings: serde_json::Value = serde_json::from_str(&reason).unwrap();
    assert_eq!(
        settings,
        serde_json::json!({"extra": 1, "greeting": "hello"})
    );
    let outcome = rt
        .invoke(&loaded, sc, HookCall::Busy(call(subject as u64)))
        .await;
    let HookOutcome::Decision(Decision::Redirect(r)) = outcome else {
        panic!("unexpected {outcome:?}");
    };
    assert_eq!(
        r.destination,
        "set=true|get=+31612345678|longkey=true|bigvalue=true|keys=last-caller"
    );
    let kv = store
        .kv_get(&scope(t.id, "test-good", Some(subject)), "last-caller")
        .await;
    assert_eq!(kv.unwrap(), Some(b"+31612345678".to_vec()));
    assert_eq!(
        store
            .kv_list(&scope(t.id, "test-good", None), "")
            .await
            .unwrap()
            .len(),
        0
    );
}
