//! The admin REST API over real HTTP on SQLite and PostgreSQL: the
//! operator's, a tenant admin's and a user's resources, errors (401, 403,
//! 404, 409, 413, 422), licence quantities, settings validated against the
//! manifest's schema, voicemail and greeting, throttling of failed logins,
//! the OpenAPI document and `/metrics`.

mod api_client;
mod db;

use api_client::{serve, wav, world, Client};
use centrale_host::store::Store;
use serde_json::json;

async fn operator_resources(c: Client, op: &str) {
    let r = c.get("/tenants", Some(op)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    let r = c
        .send(
            "POST",
            "/tenants",
            Some(op),
            json!({"domain": "C.example.com", "name": "C"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let c_id = r.json()["id"].as_i64().unwrap();
    assert_eq!(r.json()["domain"], "c.example.com");
    let r = c
        .send(
            "POST",
            "/tenants",
            Some(op),
            json!({"domain": "c.example.com"}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["field"], "domain");
    let r = c
        .send(
            "POST",
            "/tenants",
            Some(op),
            json!({"domain": "d.example.com", "extension_length": 9}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["field"], "extension_length");
    let r = c
        .send("POST", "/tenants", Some(op), json!({"name": "no domain"}))
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["field"], "domain");
    let r = c
        .raw(
            "POST",
            "/api/v1/tenants",
            Some(op),
            "application/json",
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["error"].is_string());

    assert_eq!(
        c.get(&format!("/tenants/{c_id}"), Some(op)).await.status,
        200
    );
    let r = c.get("/plugins", Some(op)).await;
    assert_eq!(r.status, 200);
    let ids: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.contains(&"call-forwarding".to_string()), "{ids:?}");
    let cf = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "call-forwarding")
        .unwrap()
        .clone();
    assert_eq!(cf["licence_scope"], "user");
    assert!(cf["settings_schema"]["properties"]["always"].is_object());

    let path = format!("/tenants/{c_id}/licences/voicemail");
    let r = c.send("PUT", &path, Some(op), json!({"quantity": 3})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["quantity"], 3);
    assert_eq!(r.json()["used"], 0);
    let r = c.send("PUT", &path, Some(op), json!({"quantity": 0})).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["field"], "quantity");
    let r = c
        .send(
            "PUT",
            &format!("/tenants/{c_id}/licences/no-such-plugin"),
            Some(op),
            json!({"quantity": 1}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = c.get(&format!("/tenants/{c_id}/licences"), Some(op)).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    assert_eq!(c.delete(&path, Some(op)).await.status, 204);
    assert_eq!(c.delete(&path, Some(op)).await.status, 404);
    assert_eq!(
        c.delete(&format!("/tenants/{c_id}"), Some(op)).await.status,
        204
    );
    assert_eq!(
        c.get(&format!("/tenants/{c_id}"), Some(op)).await.status,
        404
    );
}

async fn admin_resources(c: Client, admin: &str, a_users: &[i64]) {
    let r = c.get("/users", Some(admin)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    let r = c
        .send(
            "POST",
            "/users",
            Some(admin),
            json!({"extension": "203", "display_name": "Cor", "numbers": ["+31205559"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let u = r.json()["id"].as_i64().unwrap();
    let r = c
        .send("POST", "/users", Some(admin), json!({"extension": "203"}))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["field"], "extension");
    let r = c
        .send("POST", "/users", Some(admin), json!({"extension": "20"}))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["field"], "extension");
    let r = c
        .send(
            "POST",
            "/users",
            Some(admin),
            json!({"extension": "204", "numbers": ["+31205559"]}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["field"], "numbers");
    let r = c
        .send(
            "PATCH",
            &format!("/users/{u}"),
            Some(admin),
            json!({"display_name": "Cor B", "email": "cor@example.com"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["display_name"], "Cor B");
    let r = c
        .send(
            "PUT",
            &format!("/users/{u}/numbers"),
            Some(admin),
            json!({"numbers": ["+31205558", "+31205557"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        c.get(&format!("/users/{u}"), Some(admin)).await.json()["numbers"],
        json!(["+31205558", "+31205557"])
    );
    let r = c
        .send(
            "PUT",
            &format!("/users/{u}/numbers"),
            Some(admin),
            json!({"numbers": ["not a number"]}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["field"], "numbers");

    // devices: the password is write-only
    let r = c
        .send(
            "POST",
            &format!("/users/{u}/devices"),
            Some(admin),
            json!({"username": "cor-desk", "password": "s3cret-pw"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(!r.text().contains("s3cret") && !r.text().contains("ha1"));
    let dev = r.json()["id"].as_i64().unwrap();
    let r = c
        .send(
            "POST",
            &format!("/users/{u}/devices"),
            Some(admin),
            json!({"username": "x", "password": "short"}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["field"], "password");
    let r = c
        .send(
            "POST",
            &format!("/users/{u}/devices"),
            Some(admin),
            json!({"username": "cor-desk", "password": "another-pw"}),
        )
        .await;
    assert_eq!(r.status, 409);
    let r = c.get(&format!("/users/{u}/devices"), Some(admin)).await;
    assert_eq!(r.json(), json!([{"id": dev, "username": "cor-desk"}]));
    assert_eq!(
        c.delete(&format!("/users/{u}/devices/{dev}"), Some(admin))
            .await
            .status,
        204
    );
    assert_eq!(
        c.delete(&format!("/users/{u}/devices/{dev}"), Some(admin))
            .await
            .status,
        404
    );

    // schedules
    let r = c
        .send(
            "PUT",
            "/schedules/night",
            Some(admin),
            json!({"periods": [{"weekday": 9, "from": "09:00", "to": "17:00"}]}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = c
        .send(
            "PUT",
            "/schedules/night",
            Some(admin),
            json!({"periods": [{"weekday": 2, "from": "18:00", "to": "24:00"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        c.get("/schedules", Some(admin))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(c.delete("/schedules/night", Some(admin)).await.status, 204);

    // plugin assignments: the licence of call-forwarding allows 1 user
    let cf = |u: i64| format!("/users/{u}/plugins/call-forwarding");
    let on = json!({"enabled": true, "settings": {"always": {"enabled": true, "destination": "0612345678"}}});
    let r = c
        .send("PUT", &cf(a_users[0]), Some(admin), on.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["enabled"], true);
    assert_eq!(r.json()["settings"]["always"]["destination"], "0612345678");
    let r = c
        .send(
            "PUT",
            &cf(a_users[1]),
            Some(admin),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(r.status, 409, "one subject too many: {}", r.text());
    let lic = c.get("/licences", Some(admin)).await.json();
    let cf_lic = lic
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["plugin_id"] == "call-forwarding")
        .unwrap()
        .clone();
    assert_eq!(
        (cf_lic["used"].as_i64(), cf_lic["quantity"].as_i64()),
        (Some(1), Some(1))
    );
    // settings that do not match the schema: 422 naming the field
    let r = c
        .send(
            "PUT",
            &cf(a_users[0]),
            Some(admin),
            json!({"settings": {"always": {"destination": 42}}}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["field"], "settings.always.destination");
    let r = c
        .send(
            "PUT",
            &cf(a_users[0]),
            Some(admin),
            json!({"settings": {"always": {"colour": "red"}}}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["field"], "settings.always.colour");
    let r = c
        .send(
            "PUT",
            &cf(a_users[0]),
            Some(admin),
            json!({"enabled": "yes"}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["field"], "enabled");
    let r = c
        .get(&format!("/users/{}/plugins", a_users[0]), Some(admin))
        .await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    assert_eq!(c.delete(&cf(a_users[0]), Some(admin)).await.status, 204);
    let r = c
        .send(
            "PUT",
            &cf(a_users[1]),
            Some(admin),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(r.status, 200, "a unit is free again: {}", r.text());
    let r = c
        .send(
            "PUT",
            &format!("/users/{}/plugins/no-such", a_users[0]),
            Some(admin),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(r.status, 404);
    // a per-user plugin cannot be enabled tenant-wide; its defaults can be stored
    let r = c
        .send(
            "PUT",
            "/tenant/plugins/call-forwarding",
            Some(admin),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = c
        .send(
            "PUT",
            "/tenant/plugins/call-forwarding",
            Some(admin),
            json!({"settings": {"busy": {"enabled": true, "destination": "200"}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        c.get("/tenant/plugins", Some(admin))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // call log, paginated
    let r = c.get("/cdrs?limit=1", Some(admin)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    assert_eq!(r.json()[0]["sip_code"], 486);
    assert_eq!(
        c.get("/cdrs?limit=1&offset=1", Some(admin)).await.json(),
        json!([])
    );
    assert_eq!(c.get("/cdrs?limit=0", Some(admin)).await.status, 400);
    assert_eq!(c.get("/cdrs?limit=x", Some(admin)).await.status, 400);

    assert_eq!(
        c.delete(&format!("/users/{u}"), Some(admin)).await.status,
        204
    );
    assert_eq!(c.get(&format!("/users/{u}"), Some(admin)).await.status, 404);
    assert_eq!(c.get("/users/abc", Some(admin)).await.status, 400);
}

async fn user_resources(c: Client, store: &Store, tenant: i64, user_id: i64, user: &str) {
    let me = c.get("/me/token", Some(user)).await.json();
    assert_eq!(
        (me["role"].as_str(), me["user_id"].as_i64()),
        (Some("user"), Some(user_id))
    );
    assert_eq!(me["extension"], "201");
    let r = c
        .send(
            "PUT",
            "/me/plugins/do-not-disturb",
            Some(user),
            json!({"enabled": true, "settings": {}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        c.get("/me/plugins/do-not-disturb", Some(user)).await.json()["enabled"],
        true
    );
    assert_eq!(
        c.delete("/me/plugins/do-not-disturb", Some(user))
            .await
            .status,
        204
    );
    assert_eq!(
        c.get("/me/plugins/do-not-disturb", Some(user)).await.json()["enabled"],
        false
    );
    let r = c
        .send(
            "PUT",
            "/me/plugins/voicemail",
            Some(user),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(r.status, 403, "not self-service");
    let r = c
        .send(
            "PUT",
            "/me/plugins/call-forwarding",
            Some(user),
            json!({"settings": {"always": {"destination": ["x"]}}}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["field"], "settings.always.destination");

    // voicemail: list, download, delete (MWI follows)
    let list = c.get("/me/voicemail", Some(user)).await.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], "m1");
    assert_eq!(list[0]["new"], true);
    let audio = c.get("/me/voicemail/m1/audio", Some(user)).await;
    assert_eq!(audio.status, 200);
    assert_eq!(audio.header("content-type"), Some("audio/wav"));
    assert_eq!(&audio.body[..4], b"RIFF");
    assert_eq!(
        c.get("/me/voicemail/nope/audio", Some(user)).await.status,
        404
    );
    store.mwi_set(tenant, user_id, 1, 0).await.unwrap();
    assert_eq!(c.delete("/me/voicemail/m1", Some(user)).await.status, 204);
    assert_eq!(store.mwi_get(tenant, user_id).await.unwrap(), (0, 0));
    assert_eq!(
        c.get("/me/voicemail/m1/audio", Some(user)).await.status,
        404
    );
    assert_eq!(c.delete("/me/voicemail/m1", Some(user)).await.status, 404);
    assert_eq!(c.get("/me/voicemail", Some(user)).await.json(), json!([]));

    // greeting: an 8 kHz mono 16-bit WAV, larger than the 1 MiB JSON limit
    let big = wav(600_000);
    assert!(big.len() > 1 << 20);
    let r = c
        .raw(
            "PUT",
            "/api/v1/me/voicemail/greeting",
            Some(user),
            "audio/wav",
            big,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = c
        .raw(
            "PUT",
            "/api/v1/me/voicemail/greeting",
            Some(user),
            "audio/wav",
            b"RIFF nonsense".to_vec(),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["field"], "body");
    let r = c
        .raw(
            "PUT",
            "/api/v1/me/voicemail/greeting",
            Some(user),
            "audio/wav",
            vec![0; 11 << 20],
        )
        .await;
    assert_eq!(r.status, 413);
    // JSON bodies are limited to 1 MiB
    let huge = json!({"settings": {"x": "a".repeat(1 << 20)}});
    let r = c
        .send("PUT", "/me/plugins/do-not-disturb", Some(user), huge)
        .await;
    assert_eq!(r.status, 413);
}

async fn the_api_works(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let (c, blobs) = serve(store, dir.path()).await;
    let w = world(store, &blobs).await;

    // no token, a bad token, the wrong role
    let r = c.get("/users", None).await;
    assert_eq!(r.status, 401);
    assert!(r.json()["error"].is_string());
    assert_eq!(c.get("/users", Some("nonsense")).await.status, 401);
    assert_eq!(c.get("/tenants", Some(&w.a.admin)).await.status, 403);
    assert_eq!(c.get("/users", Some(&w.operator)).await.status, 403);
    assert_eq!(c.get("/users", Some(&w.a.user)).await.status, 403);
    assert_eq!(c.get("/me/voicemail", Some(&w.a.admin)).await.status, 403);
    assert_eq!(c.get("/no/such/route", Some(&w.a.admin)).await.status, 404);

    operator_resources(c, &w.operator).await;
    admin_resources(c, &w.a.admin, &w.a.users).await;
    user_resources(c, store, w.a.id, w.a.users[0], &w.a.user).await;
    // tenant B was not touched
    let b = c.get("/users", Some(&w.b.admin)).await.json();
    assert_eq!(b.as_array().unwrap().len(), 2);
    assert_eq!(
        c.get("/me/voicemail", Some(&w.b.user))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

on_both!(the_api_works);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled_per_address() {
    db::on_sqlite(|store, _| async move {
        let dir = tempfile::tempdir().unwrap();
        let (c, blobs) = serve(&store, dir.path()).await;
        let w = world(&store, &blobs).await;
        for i in 0..10 {
            assert_eq!(
                c.get("/users", Some(&format!("wrong-{i}"))).await.status,
                401
            );
        }
        let r = c.get("/users", Some("wrong-again")).await;
        assert_eq!(r.status, 429);
        let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&secs), "{secs}");
        // while throttled even a good token waits
        assert_eq!(c.get("/users", Some(&w.a.admin)).await.status, 429);
    })
    .await;
}

on_both!(tenant_limits);

/// The operator's limits of a tenant: set and read back, refused to admins
/// and for negative values; the storage limit stops a greeting upload.
async fn tenant_limits(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let (c, blobs) = serve(store, dir.path()).await;
    let w = world(store, &blobs).await;
    let path = format!("/tenants/{}/limits", w.a.id);
    let r = c.get(&path, Some(&w.operator)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"max_concurrent_calls": 0, "max_calls_per_minute": 0, "max_storage_bytes": 0})
    );
    let limits =
        json!({"max_concurrent_calls": 2, "max_calls_per_minute": 30, "max_storage_bytes": 1000});
    assert_eq!(
        c.send("PUT", &path, Some(&w.a.admin), limits.clone())
            .await
            .status,
        403
    );
    let r = c
        .send("PUT", &path, Some(&w.operator), limits.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(c.get(&path, Some(&w.operator)).await.json(), limits);
    let r = c
        .send(
            "PUT",
            &path,
            Some(&w.operator),
            json!({"max_concurrent_calls": -1}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["field"], "max_concurrent_calls");
    assert_eq!(
        c.get("/tenants/999999/limits", Some(&w.operator))
            .await
            .status,
        404
    );
    // A's tenant may store 1000 bytes: a 2 s greeting (32 KB) is over quota.
    let r = c
        .raw(
            "PUT",
            "/api/v1/me/voicemail/greeting",
            Some(&w.a.user),
            "audio/wav",
            wav(16_000),
        )
        .await;
    assert!(r.status >= 400, "{} {}", r.status, r.text());
    // B has no limit.
    let r = c
        .raw(
            "PUT",
            "/api/v1/me/voicemail/greeting",
            Some(&w.b.user),
            "audio/wav",
            wav(16_000),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
}

on_both!(an_admin_uploads_a_users_greeting);

/// A company box's greeting, uploaded by the tenant admin: only for the
/// admin's own users, only a usable WAV.
async fn an_admin_uploads_a_users_greeting(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let (c, blobs) = serve(store, dir.path()).await;
    let w = world(store, &blobs).await;
    let path = format!("/api/v1/users/{}/voicemail/greeting", w.a.users[1]);
    let r = c
        .raw("PUT", &path, Some(&w.a.admin), "audio/wav", wav(8_000))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = c
        .raw("PUT", &path, Some(&w.b.admin), "audio/wav", wav(8_000))
        .await;
    assert_eq!(r.status, 404, "B's admin and A's user: {}", r.text());
    let r = c
        .raw("PUT", &path, Some(&w.a.user), "audio/wav", wav(8_000))
        .await;
    assert_eq!(r.status, 403, "a user token: {}", r.text());
    let r = c
        .raw(
            "PUT",
            &path,
            Some(&w.a.admin),
            "audio/wav",
            b"not a wav".to_vec(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
}
