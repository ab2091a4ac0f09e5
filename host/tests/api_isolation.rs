//! Tenant isolation, table-driven, on SQLite and PostgreSQL: every resource
//! of tenant A is tried with tenant B's admin token and with the token of
//! another user of A. Each attempt is refused (403/404) or, for lists and
//! resources named within the caller's own tenant, answers with the
//! caller's own data: no body holds anything of A's user 201, and A's data
//! is unchanged afterwards.

mod api_client;
mod db;

use api_client::{serve, wav, world, Client, Resp};
use centrale_host::store::Store;
use serde_json::{json, Value};

/// One attempt: method, path (under /api/v1), JSON body.
type Row = (&'static str, String, Option<Value>);

fn table(user: i64, other: i64, device: i64) -> Vec<Row> {
    let cf =
        json!({"enabled": true, "settings": {"always": {"enabled": true, "destination": "0999"}}});
    vec![
        ("GET", format!("/users/{user}"), None),
        (
            "PATCH",
            format!("/users/{user}"),
            Some(json!({"display_name": "Mallory"})),
        ),
        (
            "PUT",
            format!("/users/{user}/numbers"),
            Some(json!({"numbers": ["+3199"]})),
        ),
        ("DELETE", format!("/users/{user}"), None),
        ("GET", format!("/users/{user}/devices"), None),
        (
            "POST",
            format!("/users/{user}/devices"),
            Some(json!({"username": "evil", "password": "evil-pw-1"})),
        ),
        ("DELETE", format!("/users/{user}/devices/{device}"), None),
        ("DELETE", format!("/users/{other}/devices/{device}"), None),
        ("GET", format!("/users/{user}/plugins"), None),
        (
            "GET",
            format!("/users/{user}/plugins/call-forwarding"),
            None,
        ),
        (
            "PUT",
            format!("/users/{user}/plugins/call-forwarding"),
            Some(cf),
        ),
        (
            "PUT",
            format!("/users/{user}/plugins/do-not-disturb"),
            Some(json!({"enabled": true})),
        ),
        (
            "DELETE",
            format!("/users/{user}/plugins/call-forwarding"),
            None,
        ),
        ("GET", "/users".into(), None),
        ("GET", "/licences".into(), None),
        ("GET", "/cdrs".into(), None),
        ("GET", "/schedules".into(), None),
        ("GET", "/tenant/plugins".into(), None),
        ("GET", "/tenant/plugins/call-forwarding".into(), None),
        ("GET", "/me/token".into(), None),
        ("GET", "/me/voicemail".into(), None),
        ("GET", "/me/voicemail/m1/audio".into(), None),
        ("DELETE", "/me/voicemail/m1".into(), None),
        ("GET", "/me/plugins/call-forwarding".into(), None),
        ("GET", "/tenants".into(), None),
        ("GET", "/tenants/1".into(), None),
        (
            "PUT",
            "/tenants/1/licences/voicemail".into(),
            Some(json!({"quantity": 100})),
        ),
        ("DELETE", "/tenants/1/licences/voicemail".into(), None),
        ("DELETE", "/tenants/1".into(), None),
    ]
}

async fn attempt(c: Client, token: &str, row: &Row) -> Resp {
    let (method, path, body) = row;
    match body {
        Some(b) => c.send(method, path, Some(token), b.clone()).await,
        None if *method == "GET" => c.get(path, Some(token)).await,
        None => c.delete(path, Some(token)).await,
    }
}

/// What of A's user 201 (and A's call log) must never show.
const SECRETS: &[&str] = &[
    "Anna of a.example.com",
    "anna@a.example.com",
    "+31205551",
    "secret-vm-a.example.com",
    "secret-caller-a.example.com",
    "0612345678",
];

async fn nothing_of_a_is_reachable(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let (c, blobs) = serve(store, dir.path()).await;
    let w = world(store, &blobs).await;
    let (u201, u202) = (w.a.users[0], w.a.users[1]);
    // A's 201 has forwarding on, with a destination that must not leak
    let r = c
        .send(
            "PUT",
            &format!("/users/{u201}/plugins/call-forwarding"),
            Some(&w.a.admin),
            json!({"enabled": true, "settings": {"always": {"enabled": true, "destination": "0612345678"}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(w.a.id, 1, "the table names tenant A as 1");

    let rows = table(u201, u202, w.a.device);
    for (who, token) in [
        ("B's admin", &w.b.admin),
        ("A's other user", &w.a.other_user),
    ] {
        for row in &rows {
            let r = attempt(c, token, row).await;
            let body = r.text();
            for s in SECRETS {
                assert!(
                    !body.contains(s),
                    "{who}: {} {} leaked {s:?}: {} {body}",
                    row.0,
                    row.1,
                    r.status
                );
            }
            // a path naming A's rows (or an operator route) is refused
            let names_a = row.1.contains(&format!("/users/{u201}"))
                || row.1.contains(&format!("/users/{u202}"))
                || row.1.starts_with("/tenants");
            if names_a {
                assert!(
                    r.status == 403 || r.status == 404,
                    "{who}: {} {} gave {} {body}",
                    row.0,
                    row.1,
                    r.status
                );
            }
            // a tenant admin route is refused to a user
            if who == "A's other user" && !row.1.starts_with("/me/") {
                assert_eq!(r.status, 403, "{who}: {} {} {body}", row.0, row.1);
            }
            if who == "B's admin" && row.1.starts_with("/me/") && row.1 != "/me/token" {
                assert_eq!(r.status, 403, "{who}: {} {} {body}", row.0, row.1);
            }
        }
    }
    // A's other user has no voicemail of 201, even by id
    let r = c.get("/me/voicemail/m1/audio", Some(&w.a.other_user)).await;
    assert_eq!(r.status, 404);
    let r = c
        .raw(
            "PUT",
            "/api/v1/me/voicemail/greeting",
            Some(&w.b.user),
            "audio/wav",
            wav(100),
        )
        .await;
    assert_eq!(r.status, 204, "B's user writes B's own greeting");

    // A is untouched
    let a = &w.a.admin;
    let users = c.get("/users", Some(a)).await.json();
    assert_eq!(users.as_array().unwrap().len(), 2, "{users}");
    assert_eq!(users[0]["display_name"], "Anna of a.example.com");
    assert_eq!(users[0]["numbers"], json!(["+31205551"]));
    let devices = c
        .get(&format!("/users/{u201}/devices"), Some(a))
        .await
        .json();
    assert_eq!(devices.as_array().unwrap().len(), 1, "{devices}");
    let cf = c
        .get(&format!("/users/{u201}/plugins/call-forwarding"), Some(a))
        .await
        .json();
    assert_eq!(cf["settings"]["always"]["destination"], "0612345678");
    assert_eq!(
        c.get(&format!("/users/{u202}/plugins"), Some(a))
            .await
            .json(),
        json!([])
    );
    let vm = c.get("/me/voicemail", Some(&w.a.user)).await.json();
    assert_eq!(vm.as_array().unwrap().len(), 1, "{vm}");
    let lic = c.get("/licences", Some(a)).await.json();
    let vm_lic = lic
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["plugin_id"] == "voicemail")
        .unwrap()
        .clone();
    assert_eq!(vm_lic["quantity"], 5);
    assert_eq!(
        c.get("/schedules", Some(a))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(c
        .get("/cdrs", Some(a))
        .await
        .text()
        .contains("secret-caller-a.example.com"));
}

on_both!(nothing_of_a_is_reachable);

on_both!(private_plugins_stay_with_their_tenant);

/// A plugin tenant A uploads (POST /plugins) is checked, installed for A
/// only, and neither listed for nor usable by B.
async fn private_plugins_stay_with_their_tenant(store: &Store) {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let (c, blobs) = serve(store, dir.path()).await;
    let w = world(store, &blobs).await;
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/wit-0.1");
    let manifest = std::fs::read_to_string(data.join("anonymous-call-rejection.toml"))
        .unwrap()
        .replace(
            "id = \"anonymous-call-rejection\"",
            "id = \"acme-screening\"",
        );
    let wasm = std::fs::read(data.join("anonymous_call_rejection.wasm")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&wasm);
    let body = json!({"manifest": manifest, "component_base64": b64});

    // Users may not upload.
    let r = c
        .send("POST", "/plugins", Some(&w.a.user), body.clone())
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    // A's admin may: the answer lists what the plugin asks for.
    let r = c
        .send("POST", "/plugins", Some(&w.a.admin), body.clone())
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["capabilities"], json!(["log"]));
    assert_eq!(r.json()["wit"], "0.1");
    // The id lives in A's namespace; the first version waits for the
    // operator's approval of what it asks for.
    let id = format!("acme-screening@{}", w.a.domain);
    assert_eq!(r.json()["id"], id.as_str());
    assert_eq!(r.json()["approved"], false);
    let pending = c
        .get(&format!("/tenants/{}/plugins", w.a.id), Some(&w.operator))
        .await;
    assert_eq!(pending.status, 200, "{}", pending.text());
    assert_eq!(pending.json()[0]["approved"], false, "{}", pending.text());
    let approve = |version: &str| {
        format!(
            "/tenants/{}/plugins/{id}/versions/{version}/approve",
            w.a.id
        )
    };
    let r = c
        .send("POST", &approve("0.1.0"), Some(&w.a.admin), json!({}))
        .await;
    assert_eq!(r.status, 403, "a tenant admin cannot approve: {}", r.text());
    let r = c
        .send("POST", &approve("0.1.0"), Some(&w.operator), json!({}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    // A new version asking for more waits again; one asking for no more
    // than the approved one runs at once.
    let more = json!({"manifest": manifest.replace("0.1.0", "0.1.1")
        .replace("capabilities = []", "capabilities = [\"kv\", \"directory\"]"), "component_base64": b64});
    let r = c.send("POST", "/plugins", Some(&w.a.admin), more).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["approved"], false, "{}", r.text());
    let same = json!({"manifest": manifest.replace("0.1.0", "0.1.2"), "component_base64": b64});
    let r = c.send("POST", "/plugins", Some(&w.a.admin), same).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["approved"], true, "{}", r.text());
    // The same version twice is a conflict.
    let r = c
        .send("POST", "/plugins", Some(&w.a.admin), body.clone())
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    // A component that is not one, and a manifest that lies about its
    // capabilities, are refused naming the field.
    let bad = json!({"manifest": manifest.replace("0.1.0", "0.1.9"),
        "component_base64": base64::engine::general_purpose::STANDARD.encode(b"\0asm\x01\0\0\0")});
    let r = c.send("POST", "/plugins", Some(&w.a.admin), bad).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["field"], "component_base64");
    let lying = json!({"manifest": manifest.replace("id = \"acme-screening\"", "id = \"acme-bad\"")
        .replace("wit = \"0.1\"", "wit = \"0.2\""), "component_base64": b64});
    let r = c.send("POST", "/plugins", Some(&w.a.admin), lying).await;
    assert_eq!(r.status, 422, "{}", r.text());

    let listed = |token: &str| {
        let token = token.to_string();
        async move {
            let r = c.get("/plugins", Some(&token)).await;
            assert_eq!(r.status, 200);
            r.text().contains("acme-screening")
        }
    };
    assert!(listed(&w.a.admin).await, "A sees its plugin");
    assert!(!listed(&w.b.admin).await, "B does not see A's plugin");
    // B cannot enable it (no licence, and not in B's catalogue).
    let r = c
        .send(
            "PUT",
            &format!("/users/{}/plugins/{id}", w.b.users[0]),
            Some(&w.b.admin),
            json!({"enabled": true}),
        )
        .await;
    assert!(
        [403, 404, 409, 422].contains(&r.status),
        "B enabling A's plugin: {} {}",
        r.status,
        r.text()
    );
}
