//! `centrale demo`: the demo tenant, its users and bundled plugins, and a
//! host serving them with the embedded defaults.

use crate::cli::{add_device, tenant, DemoArgs};
use crate::config::{parse_port_range, Config};
use crate::store::Store;
use std::net::IpAddr;

/// The demo tenant's domain.
pub const DEMO_DOMAIN: &str = "demo.centrale.test";

/// Creates the demo tenant and users if absent.
pub async fn ensure_demo(store: &Store) -> anyhow::Result<()> {
    let t = match store.tenant_by_domain(DEMO_DOMAIN).await? {
        Some(t) => t,
        None => store.create_tenant(DEMO_DOMAIN, "Demo BV", 3, "0").await?,
    };
    if store.list_number_ranges(t.id).await?.is_empty() {
        store
            .add_number_range(&t, "+31205552000", "+31205552999")
            .await?;
    }
    for ext in ["201", "202", "203"] {
        if store.user_by_extension(t.id, ext).await?.is_some() {
            continue;
        }
        let number = format!("+3120555{ext}0");
        let u = store
            .create_user(
                t.id,
                ext,
                &format!("Demo User {ext}"),
                &format!("user{ext}@{DEMO_DOMAIN}"),
                &[number],
            )
            .await?;
        add_device(store, &t, u.id, ext, &format!("demo{ext}")).await?;
    }
    Ok(())
}

/// Licences the demo tenant gets for each bundled plugin.
const DEMO_LICENCES: i64 = 10;

/// Installs every bundled plugin whose component is not installed yet and
/// licenses it for the demo tenant (enabling it is the admin's choice).
pub async fn install_bundled(
    store: &Store,
    plugins: &std::path::Path,
    components: &std::path::Path,
) -> anyhow::Result<()> {
    use sha2::Digest as _;
    let t = tenant(store, DEMO_DOMAIN).await?;
    let mut entries: Vec<_> = std::fs::read_dir(plugins)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", plugins.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("plugin.toml").is_file())
        .collect();
    entries.sort();
    for dir in entries {
        let manifest_path = dir.join("plugin.toml");
        let text = std::fs::read_to_string(&manifest_path)?;
        let manifest = crate::runtime::Manifest::from_toml(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", manifest_path.display()))?;
        let wasm_path = components.join(format!("{}.wasm", manifest.id.replace('-', "_")));
        let Ok(wasm) = std::fs::read(&wasm_path) else {
            eprintln!(
                "warning: {} is not built; skipping plugin {}",
                wasm_path.display(),
                manifest.id
            );
            continue;
        };
        let sha = hex::encode(sha2::Sha256::digest(&wasm));
        let installed = store.plugin_versions(Some(t.id), &manifest.id).await?;
        let already = installed.iter().any(|p| p.wasm_sha256 == sha);
        if !already && installed.iter().any(|p| p.version == manifest.version) {
            eprintln!(
                "warning: bundled {} {} differs from the installed one; bump its version to install it",
                manifest.id, manifest.version
            );
        } else if !already {
            print!(
                "{}",
                crate::cli_plugins::plugin_install(store, &manifest_path, &wasm_path, None).await?
            );
        }
        if store.licence(t.id, &manifest.id).await?.is_none() {
            store
                .grant_licence(t.id, &manifest.id, DEMO_LICENCES)
                .await?;
        }
    }
    Ok(())
}

/// Enables voicemail for the demo users that have no voicemail assignment
/// yet, mailing messages to each user's address.
async fn enable_demo_voicemail(store: &Store) -> anyhow::Result<()> {
    let t = tenant(store, DEMO_DOMAIN).await?;
    if store.licence(t.id, "voicemail").await?.is_none() {
        return Ok(());
    }
    for ext in ["201", "202", "203"] {
        let Some(u) = store.user_by_extension(t.id, ext).await? else {
            continue;
        };
        if store
            .plugin_assignment(t.id, "voicemail", Some(u.id))
            .await?
            .is_none()
        {
            let settings = serde_json::json!({ "email": u.email }).to_string();
            store
                .enable_plugin(t.id, "voicemail", Some(u.id), Some(&settings))
                .await?;
        }
    }
    Ok(())
}

/// This machine's primary address, found by asking the routing table (a
/// UDP "connect" sends no packet); loopback when there is no route.
fn primary_address() -> IpAddr {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:9")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// A new operator token and a new admin token of the demo tenant.
async fn demo_tokens(store: &Store) -> anyhow::Result<(String, String)> {
    use crate::store::TokenRole;
    let t = tenant(store, DEMO_DOMAIN).await?;
    let operator = crate::api::create_token(store, TokenRole::Operator, None, None).await?;
    let admin = crate::api::create_token(store, TokenRole::Admin, Some(t.id), None).await?;
    Ok((operator.secret, admin.secret))
}

pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    parse_port_range(&args.rtp_ports)?;
    let advertise = args.advertise.unwrap_or_else(|| {
        if args.sip_listen.ip().is_unspecified() {
            primary_address()
        } else {
            args.sip_listen.ip()
        }
    });
    let mut cfg = Config {
        data_dir: args.data.clone(),
        database: args.database.clone(),
        ..Config::default()
    };
    cfg.sip.udp = vec![args.sip_listen];
    cfg.sip.tcp = vec![args.sip_listen];
    cfg.sip.advertise = Some(advertise);
    cfg.sip.ring_timeout_secs = args.ring_timeout;
    cfg.media.rtp_ports = args.rtp_ports.clone();
    cfg.api.listen = args.api_listen;
    cfg.mail.retry_base_secs = args.mail_retry_secs.max(1);
    cfg.mail.retry_max_secs = cfg.mail.retry_max_secs.max(cfg.mail.retry_base_secs);
    cfg.plugins.max_instances = args.max_plugin_instances;
    if let Some(smtp) = &args.smtp {
        let (host, port) = smtp
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
            .ok_or_else(|| anyhow::anyhow!("--smtp {smtp}: expected host:port"))?;
        cfg.mail.smtp = Some(crate::config::SmtpConfig {
            host,
            port: Some(port),
            tls: "none".into(),
            username: None,
            password: None,
            timeout_secs: 10,
        });
    }
    cfg.trunk = args.trunk.map(|address| crate::config::TrunkConfig {
        address,
        transport: "udp".into(),
        username: None,
        password: None,
        realm: None,
    });
    std::fs::create_dir_all(&cfg.data_dir)?;
    let store = Store::connect(&cfg.database_url()).await?;
    ensure_demo(&store).await?;
    if let (Some(plugins), Some(components)) = (&args.plugins, &args.components) {
        install_bundled(&store, plugins, components).await?;
        if args.enable_voicemail {
            enable_demo_voicemail(&store).await?;
        }
    }
    let (operator, admin) = demo_tokens(&store).await?;
    drop(store);
    let port = args.sip_listen.port();
    println!(
        "\nCentrale demo PBX\n\
         \x20 tenant (SIP domain): {DEMO_DOMAIN}\n\
         \x20 users: 201, 202, 203 with SIP passwords demo201, demo202, demo203\n\
         \x20 softphone settings: username 201, password demo201, domain {DEMO_DOMAIN},\n\
         \x20                     outbound proxy / server {advertise}:{port} (UDP or TCP)\n\
         \x20 then dial 202 from 201.\n\n\
         \x20 admin API: http://{api}/api/v1 (Swagger UI: http://{api}/api/docs)\n\
         \x20   operator token:     {operator}\n\
         \x20   tenant admin token: {admin}\n",
        api = args.api_listen
    );
    if cfg.mail.smtp.is_none() {
        println!(
            "  voicemail mails are written as .eml files into {}\n",
            cfg.data_dir.join("outbox").display()
        );
    }
    crate::server::serve(cfg).await
}
