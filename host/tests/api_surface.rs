//! The surface of the API: the OpenAPI document lists (and the server
//! serves) every route, the Swagger UI is there, `/metrics` is Prometheus
//! text for an operator token only, and tokens made by `centrale token
//! create` work.

mod api_client;
mod db;

use api_client::{serve, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_prometheus_text() {
    db::on_sqlite(|store, _| async move {
        centrale_host::api::metrics::install();
        let dir = tempfile::tempdir().unwrap();
        let (c, blobs) = serve(&store, dir.path()).await;
        let w = world(&store, &blobs).await;
        // It names tenants and their private plugins: operators only.
        let m = api_client::request(c.addr, "GET", "/metrics", None, None).await;
        assert_eq!(m.status, 401);
        let m = api_client::request(c.addr, "GET", "/metrics", Some(&w.a.admin), None).await;
        assert_eq!(m.status, 403);
        let m = api_client::request(c.addr, "GET", "/metrics", Some(&w.operator), None).await;
        assert_eq!(m.status, 200);
        assert!(m.header("content-type").unwrap().starts_with("text/plain"));
        let text = m.text();
        assert!(
            text.contains("# TYPE centrale_registrations gauge"),
            "{text}"
        );
        assert!(text.contains("\ncentrale_registrations 0\n"), "{text}");
        assert!(
            text.contains("# TYPE centrale_plugin_suspensions gauge"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE centrale_calls_total counter"),
            "{text}"
        );
        assert!(text.contains("centrale_sessions_active 0"), "{text}");
        // without a running switch there is nothing about calls in progress
        assert!(!text.contains("centrale_calls_active"), "{text}");
    })
    .await;
}

/// Every route of `/api/v1`, as the OpenAPI document must list it.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/tenants"),
    ("post", "/api/v1/tenants"),
    ("get", "/api/v1/tenants/{tenant_id}"),
    ("delete", "/api/v1/tenants/{tenant_id}"),
    ("get", "/api/v1/tenants/{tenant_id}/licences"),
    ("put", "/api/v1/tenants/{tenant_id}/licences/{plugin_id}"),
    ("delete", "/api/v1/tenants/{tenant_id}/licences/{plugin_id}"),
    ("get", "/api/v1/tenants/{tenant_id}/limits"),
    ("get", "/api/v1/tenants/{tenant_id}/plugins"),
    ("get", "/api/v1/tenants/{tenant_id}/mail"),
    ("get", "/api/v1/tenants/{tenant_id}/number-ranges"),
    ("post", "/api/v1/tenants/{tenant_id}/number-ranges"),
    (
        "delete",
        "/api/v1/tenants/{tenant_id}/number-ranges/{range_id}",
    ),
    ("put", "/api/v1/tenants/{tenant_id}/mail"),
    (
        "post",
        "/api/v1/tenants/{tenant_id}/plugins/{plugin_id}/versions/{version}/approve",
    ),
    ("put", "/api/v1/users/{user_id}/voicemail/greeting"),
    ("put", "/api/v1/tenants/{tenant_id}/limits"),
    ("get", "/api/v1/plugins"),
    ("post", "/api/v1/plugins"),
    ("get", "/api/v1/licences"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users/{user_id}"),
    ("patch", "/api/v1/users/{user_id}"),
    ("delete", "/api/v1/users/{user_id}"),
    ("put", "/api/v1/users/{user_id}/numbers"),
    ("get", "/api/v1/users/{user_id}/devices"),
    ("post", "/api/v1/users/{user_id}/devices"),
    ("delete", "/api/v1/users/{user_id}/devices/{device_id}"),
    ("get", "/api/v1/users/{user_id}/plugins"),
    ("get", "/api/v1/users/{user_id}/plugins/{plugin_id}"),
    ("put", "/api/v1/users/{user_id}/plugins/{plugin_id}"),
    ("delete", "/api/v1/users/{user_id}/plugins/{plugin_id}"),
    ("get", "/api/v1/tenant/plugins"),
    ("get", "/api/v1/tenant/plugins/{plugin_id}"),
    ("put", "/api/v1/tenant/plugins/{plugin_id}"),
    ("get", "/api/v1/schedules"),
    ("put", "/api/v1/schedules/{name}"),
    ("delete", "/api/v1/schedules/{name}"),
    ("get", "/api/v1/cdrs"),
    ("get", "/api/v1/me/token"),
    ("get", "/api/v1/me/plugins/{plugin_id}"),
    ("put", "/api/v1/me/plugins/{plugin_id}"),
    ("delete", "/api/v1/me/plugins/{plugin_id}"),
    ("get", "/api/v1/me/voicemail"),
    ("get", "/api/v1/me/voicemail/{message_id}/audio"),
    ("delete", "/api/v1/me/voicemail/{message_id}"),
    ("put", "/api/v1/me/voicemail/greeting"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_route() {
    db::on_sqlite(|store, _| async move {
        let dir = tempfile::tempdir().unwrap();
        let (c, _) = serve(&store, dir.path()).await;
        let r = api_client::request(c.addr, "GET", "/api/v1/openapi.json", None, None).await;
        assert_eq!(r.status, 200);
        let doc = r.json();
        let mut listed: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                assert!(
                    op["summary"].is_string() || op["description"].is_string(),
                    "{method} {path} is not described"
                );
                assert!(
                    op["security"].is_array(),
                    "{method} {path} names no security"
                );
                listed.push((method.clone(), path.clone()));
            }
        }
        listed.sort();
        let mut expected: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        expected.sort();
        assert_eq!(listed, expected);
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
        // every listed route is served: without a token it asks for one
        for (method, path) in &listed {
            let concrete = path
                .replace("{tenant_id}", "1")
                .replace("{user_id}", "1")
                .replace("{device_id}", "1")
                .replace("{plugin_id}", "voicemail")
                .replace("{message_id}", "m1")
                .replace("{name}", "business-hours");
            let r =
                api_client::request(c.addr, &method.to_uppercase(), &concrete, None, None).await;
            assert_eq!(r.status, 401, "{method} {concrete}: {}", r.text());
        }
        // and the Swagger UI is there
        let ui = api_client::request(c.addr, "GET", "/api/docs/", None, None).await;
        assert_eq!(ui.status, 200);
        assert!(ui.text().contains("swagger"), "{}", ui.text());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_tokens_work_against_the_api() {
    db::on_sqlite(|store, _| async move {
        use centrale_host::cli_tokens::token_create;
        let dir = tempfile::tempdir().unwrap();
        let (c, blobs) = serve(&store, dir.path()).await;
        world(&store, &blobs).await;
        let last = |text: String| text.lines().last().unwrap().trim().to_string();
        let admin = last(
            token_create(&store, "admin", Some("a.example.com"), None, None)
                .await
                .unwrap(),
        );
        let me = c.get("/me/token", Some(&admin)).await.json();
        assert_eq!(me["role"], "admin");
        assert_eq!(me["tenant_domain"], "a.example.com");
        let user = last(
            token_create(&store, "user", Some("b.example.com"), Some("202"), None)
                .await
                .unwrap(),
        );
        let me = c.get("/me/token", Some(&user)).await.json();
        assert_eq!(
            (me["role"].as_str(), me["extension"].as_str()),
            (Some("user"), Some("202"))
        );
        let op = last(
            token_create(&store, "operator", None, None, None)
                .await
                .unwrap(),
        );
        assert_eq!(c.get("/tenants", Some(&op)).await.status, 200);
        assert!(
            token_create(&store, "user", Some("a.example.com"), None, None)
                .await
                .is_err()
        );
        assert!(
            token_create(&store, "operator", Some("a.example.com"), None, None)
                .await
                .is_err()
        );
        assert!(
            token_create(&store, "admin", Some("nope.example.com"), None, None)
                .await
                .is_err()
        );
        assert!(token_create(&store, "root", None, None, None)
            .await
            .is_err());
        let a = store
            .tenant_by_domain("a.example.com")
            .await
            .unwrap()
            .unwrap();
        let used = store.list_api_tokens(Some(a.id)).await.unwrap();
        assert!(used.iter().any(|t| t.last_used.is_some()), "{used:?}");
        // only the hash is stored
        let stored = store.list_api_tokens(None).await.unwrap();
        assert!(!stored.is_empty());
        assert!(store.use_api_token(&op).await.unwrap().is_none());
        // a token goes with its tenant
        let b = store
            .tenant_by_domain("b.example.com")
            .await
            .unwrap()
            .unwrap();
        store.delete_tenant(b.id).await.unwrap();
        assert_eq!(c.get("/me/token", Some(&user)).await.status, 401);

        // Rotation: the new token works at once, the old one until its
        // grace period ends (here at once), then never again.
        use centrale_host::cli_tokens::{token, TokenCmd};
        let old = store
            .list_api_tokens(Some(a.id))
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.role == centrale_host::store::TokenRole::Admin)
            .max_by_key(|t| t.id)
            .unwrap();
        assert_eq!(c.get("/me/token", Some(&admin)).await.status, 200);
        let out = token(
            &store,
            TokenCmd::Rotate {
                tenant: Some("a.example.com".into()),
                id: old.id,
                grace_secs: 0,
                expires_in_days: Some(30),
            },
        )
        .await
        .unwrap();
        let fresh = last(out);
        assert_eq!(c.get("/me/token", Some(&fresh)).await.status, 200);
        assert_eq!(
            c.get("/me/token", Some(&admin)).await.status,
            401,
            "the old token still works"
        );
        let rotated = store.list_api_tokens(Some(a.id)).await.unwrap();
        assert!(rotated.iter().any(|t| t
            .expires_at
            .is_some_and(|e| e > centrale_host::now_ms() + 29 * 86_400_000)));
    })
    .await;
}
