//! The `centrale` command line (clap): serve, demo, and administration of
//! tenants, users, devices and call records.

use crate::config::{parse_port_range, Config};
use crate::sip::digest::{ha1, Algorithm};
use crate::store::Store;
use clap::{Args, Parser, Subcommand};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

/// Centrale: a multi-tenant programmable business phone switch.
#[derive(Parser, Debug)]
#[command(name = "centrale", version, about, long_about = None)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `centrale_host=debug`.
    #[arg(long, global = true, env = "CENTRALE_LOG", default_value = "info")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

/// Where administration commands find the database.
#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// Configuration file whose database to use.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Database URL (sqlite://FILE or postgres://...).
    #[arg(long, global = true, env = "CENTRALE_DATABASE")]
    pub database: Option<String>,
    /// Data directory holding centrale.db (when neither --config nor --database is given).
    #[arg(long, global = true, default_value = "./data")]
    pub data: PathBuf,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve with a configuration file.
    Serve {
        /// TOML configuration (see docs/operator-guide.md).
        #[arg(long)]
        config: PathBuf,
    },
    /// Create the demo tenant (users 201-203) if absent, then serve.
    Demo(DemoArgs),
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        cmd: TenantCmd,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage extra devices (SIP credentials) of users.
    Device {
        #[command(subcommand)]
        cmd: DeviceCmd,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Install, list, enable, disable and configure feature plugins.
    Plugin {
        #[command(subcommand)]
        cmd: crate::cli_plugins::PluginCmd,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Grant and list tenants' plugin licences.
    Licence {
        #[command(subcommand)]
        cmd: crate::cli_plugins::LicenceCmd,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage tenants' schedules (business hours, holidays).
    Schedule {
        #[command(subcommand)]
        cmd: crate::cli_plugins::ScheduleCmd,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Message-waiting state of users (what their phones' lamps show).
    Mwi {
        #[command(subcommand)]
        cmd: MwiCmd,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Create, list and revoke tokens of the admin REST API.
    Token {
        #[command(subcommand)]
        cmd: crate::cli_tokens::TokenCmd,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Read call detail records.
    Cdr {
        /// Tenant domain.
        #[arg(long)]
        tenant: String,
        /// How many, newest first.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// `centrale mwi ...`
#[derive(Subcommand, Debug)]
pub enum MwiCmd {
    /// Set a user's new/old voice-message counts; a running host notices
    /// within a second and NOTIFYs the user's devices.
    Set {
        /// Tenant domain.
        #[arg(long)]
        tenant: String,
        /// Extension of the user.
        #[arg(long)]
        user: String,
        /// New (unheard) messages.
        #[arg(long, default_value_t = 0)]
        new: u32,
        /// Old (heard) messages.
        #[arg(long, default_value_t = 0)]
        old: u32,
    },
    /// Show a user's counts as `new/old`.
    Get {
        /// Tenant domain.
        #[arg(long)]
        tenant: String,
        /// Extension of the user.
        #[arg(long)]
        user: String,
    },
}

/// `centrale demo` options.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Data directory (SQLite database, blobs).
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// SIP listen address (UDP and TCP).
    #[arg(long, default_value = "0.0.0.0:5060")]
    pub sip_listen: SocketAddr,
    /// RTP port range, LO-HI.
    #[arg(long, default_value = "20000-20999")]
    pub rtp_ports: String,
    /// Address to advertise in SIP and SDP (default: this machine's primary address).
    #[arg(long)]
    pub advertise: Option<IpAddr>,
    /// Database URL instead of the SQLite file in --data.
    #[arg(long)]
    pub database: Option<String>,
    /// Seconds a call rings before the caller hears "no answer".
    #[arg(long, default_value_t = 30)]
    pub ring_timeout: u64,
    /// SIP trunk for outside numbers (dial 0 + number), host:port over UDP.
    #[arg(long)]
    pub trunk: Option<SocketAddr>,
    /// Folder of bundled plugins (`<id>/plugin.toml`), installed and licensed
    /// for the demo tenant; needs --components.
    #[arg(long, requires = "components")]
    pub plugins: Option<PathBuf>,
    /// Folder holding the built components (`<id with _>.wasm`).
    #[arg(long, requires = "plugins")]
    pub components: Option<PathBuf>,
    /// Switch voicemail on for the demo users (mail to their address),
    /// when the voicemail plugin is among the bundled ones.
    #[arg(long, requires = "plugins")]
    pub enable_voicemail: bool,
    /// Deliver mail to this SMTP server (`host:port`, no TLS) instead of
    /// writing .eml files into `<data>/outbox/`.
    #[arg(long)]
    pub smtp: Option<String>,
    /// First retry delay of undelivered mail, seconds (doubles each time).
    #[arg(long, default_value_t = 30)]
    pub mail_retry_secs: u64,
    /// Listen address of the admin REST API and /metrics (HTTP).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub api_listen: SocketAddr,
    /// Plugin instances alive at once (`[plugins] max_instances`); each
    /// running session (a voicemail call) holds one.
    #[arg(long, default_value_t = 1000)]
    pub max_plugin_instances: u32,
}

/// `centrale tenant ...`
#[derive(Subcommand, Debug)]
pub enum TenantCmd {
    /// Add a tenant.
    Add {
        /// SIP domain, also the digest realm (e.g. acme.example.com).
        domain: String,
        /// Display name of the company.
        #[arg(long, default_value = "")]
        name: String,
        /// Digits of an internal extension.
        #[arg(long, default_value_t = 3)]
        extension_length: i64,
        /// Digits dialled before an outside number (empty: none).
        #[arg(long, default_value = "0")]
        outside_prefix: String,
    },
    /// List tenants.
    List,
    /// Remove a tenant with all its users, devices and registrations.
    Remove { domain: String },
    /// Show or set the operator's limits of a tenant (0 = no limit); the
    /// options given are changed, the others kept.
    Limits {
        domain: String,
        /// Calls of the tenant in progress at once.
        #[arg(long)]
        max_calls: Option<i64>,
        /// New calls of the tenant per minute.
        #[arg(long)]
        calls_per_minute: Option<i64>,
        /// Bytes of recordings and greetings the tenant may store.
        #[arg(long)]
        storage_bytes: Option<i64>,
    },
}

/// `centrale user ...`
#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Add a user and its first device (digest username = extension unless --username).
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        extension: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "")]
        email: String,
        /// Public number (DID); repeat for several.
        #[arg(long = "number")]
        numbers: Vec<String>,
        /// SIP password of the first device.
        #[arg(long, env = "CENTRALE_PASSWORD")]
        password: String,
        /// Digest username of the first device.
        #[arg(long)]
        username: Option<String>,
    },
    /// List users.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Remove a user with its devices.
    Remove {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        extension: String,
    },
}

/// `centrale device ...`
#[derive(Subcommand, Debug)]
pub enum DeviceCmd {
    /// Add a device (e.g. a softphone beside the desk phone) to a user.
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        extension: String,
        /// Digest username, unique in the tenant.
        #[arg(long)]
        username: String,
        #[arg(long, env = "CENTRALE_PASSWORD")]
        password: String,
    },
    /// List the devices of a user.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        extension: String,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn open(db: &DbArgs) -> anyhow::Result<Store> {
    let url = if let Some(path) = &db.config {
        Config::load(path)?.database_url()
    } else if let Some(u) = &db.database {
        u.clone()
    } else {
        std::fs::create_dir_all(&db.data)?;
        format!("sqlite://{}", db.data.join("centrale.db").display())
    };
    Ok(Store::connect(&url).await?)
}

async fn tenant(store: &Store, domain: &str) -> anyhow::Result<crate::tenancy::Tenant> {
    store.tenant_by_domain(domain).await?.ok_or_else(|| {
        anyhow::anyhow!("no tenant with domain {domain:?} (see `centrale tenant list`)")
    })
}

async fn user(
    store: &Store,
    domain: &str,
    ext: &str,
) -> anyhow::Result<(crate::tenancy::Tenant, crate::tenancy::User)> {
    let t = tenant(store, domain).await?;
    let u = store
        .user_by_extension(t.id, ext)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user with extension {ext} in {domain}"))?;
    Ok((t, u))
}

/// Creates a device with HA1s for both algorithms.
pub async fn add_device(
    store: &Store,
    tenant: &crate::tenancy::Tenant,
    user_id: i64,
    username: &str,
    password: &str,
) -> anyhow::Result<crate::tenancy::Device> {
    if password.len() < 6 {
        anyhow::bail!("the SIP password must have at least 6 characters");
    }
    let md5 = ha1(Algorithm::Md5, username, &tenant.domain, password);
    let sha = ha1(Algorithm::Sha256, username, &tenant.domain, password);
    Ok(store
        .create_device(tenant.id, user_id, username, &md5, &sha)
        .await?)
}

async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Serve { config } => crate::server::serve(Config::load(&config)?).await,
        Command::Demo(args) => demo(args).await,
        Command::Tenant { cmd, db } => {
            let store = open(&db).await?;
            match cmd {
                TenantCmd::Add {
                    domain,
                    name,
                    extension_length,
                    outside_prefix,
                } => {
                    if !(2..=6).contains(&extension_length) {
                        anyhow::bail!("--extension-length must be between 2 and 6");
                    }
                    let t = store
                        .create_tenant(
                            &domain.to_ascii_lowercase(),
                            &name,
                            extension_length,
                            &outside_prefix,
                        )
                        .await?;
                    println!("tenant {} created (id {})", t.domain, t.id);
                }
                TenantCmd::List => {
                    for t in store.list_tenants().await? {
                        println!(
                            "{}\t{}\textension length {}\toutside prefix {:?}",
                            t.domain, t.name, t.extension_length, t.outside_prefix
                        );
                    }
                }
                TenantCmd::Remove { domain } => {
                    let t = tenant(&store, &domain).await?;
                    store.delete_tenant(t.id).await?;
                    println!("tenant {domain} removed");
                }
                TenantCmd::Limits {
                    domain,
                    max_calls,
                    calls_per_minute,
                    storage_bytes,
                } => {
                    let t = tenant(&store, &domain).await?;
                    let mut l = store.tenant_limits(t.id).await?;
                    if max_calls.is_some() || calls_per_minute.is_some() || storage_bytes.is_some()
                    {
                        l.max_concurrent_calls = max_calls.unwrap_or(l.max_concurrent_calls);
                        l.max_calls_per_minute = calls_per_minute.unwrap_or(l.max_calls_per_minute);
                        l.max_storage_bytes = storage_bytes.unwrap_or(l.max_storage_bytes);
                        store.set_tenant_limits(t.id, &l).await?;
                    }
                    println!(
                        "{domain}: max calls {}, calls per minute {}, storage bytes {} (0 = no limit)",
                        l.max_concurrent_calls, l.max_calls_per_minute, l.max_storage_bytes
                    );
                }
            }
            Ok(())
        }
        Command::User { cmd, db } => {
            let store = open(&db).await?;
            match cmd {
                UserCmd::Add {
                    tenant: domain,
                    extension,
                    name,
                    email,
                    numbers,
                    password,
                    username,
                } => {
                    let t = tenant(&store, &domain).await?;
                    if extension.len() as i64 != t.extension_length {
                        anyhow::bail!(
                            "extension {extension} does not have the tenant's {} digits",
                            t.extension_length
                        );
                    }
                    let u = store
                        .create_user(t.id, &extension, &name, &email, &numbers)
                        .await?;
                    let username = username.unwrap_or_else(|| extension.clone());
                    if let Err(e) = add_device(&store, &t, u.id, &username, &password).await {
                        let _ = store.delete_user(t.id, u.id).await;
                        return Err(e);
                    }
                    println!("user {extension} created in {domain}; device username {username}");
                }
                UserCmd::List { tenant: domain } => {
                    let t = tenant(&store, &domain).await?;
                    for u in store.list_users(t.id).await? {
                        println!(
                            "{}\t{}\t{}\t{}",
                            u.extension,
                            u.display_name,
                            u.email,
                            u.numbers.join(",")
                        );
                    }
                }
                UserCmd::Remove {
                    tenant: domain,
                    extension,
                } => {
                    let (t, u) = user(&store, &domain, &extension).await?;
                    store.delete_user(t.id, u.id).await?;
                    println!("user {extension} removed from {domain}");
                }
            }
            Ok(())
        }
        Command::Device { cmd, db } => {
            let store = open(&db).await?;
            match cmd {
                DeviceCmd::Add {
                    tenant: domain,
                    extension,
                    username,
                    password,
                } => {
                    let (t, u) = user(&store, &domain, &extension).await?;
                    add_device(&store, &t, u.id, &username, &password).await?;
                    println!("device {username} added to {extension}@{domain}");
                }
                DeviceCmd::List {
                    tenant: domain,
                    extension,
                } => {
                    let (t, u) = user(&store, &domain, &extension).await?;
                    for d in store.list_devices(t.id, u.id).await? {
                        println!("{}", d.username);
                    }
                }
            }
            Ok(())
        }
        Command::Plugin { cmd, db } => {
            let store = open(&db).await?;
            print!("{}", crate::cli_plugins::plugin(&store, cmd).await?);
            Ok(())
        }
        Command::Licence { cmd, db } => {
            let store = open(&db).await?;
            print!("{}", crate::cli_plugins::licence(&store, cmd).await?);
            Ok(())
        }
        Command::Schedule { cmd, db } => {
            let store = open(&db).await?;
            print!("{}", crate::cli_plugins::schedule(&store, cmd).await?);
            Ok(())
        }
        Command::Mwi { cmd, db } => {
            let store = open(&db).await?;
            match cmd {
                MwiCmd::Set {
                    tenant: domain,
                    user: ext,
                    new,
                    old,
                } => {
                    let (t, u) = user(&store, &domain, &ext).await?;
                    store.mwi_set(t.id, u.id, new, old).await?;
                    println!("{ext}@{domain}: {new}/{old}");
                }
                MwiCmd::Get {
                    tenant: domain,
                    user: ext,
                } => {
                    let (t, u) = user(&store, &domain, &ext).await?;
                    let (new, old) = store.mwi_get(t.id, u.id).await?;
                    println!("{new}/{old}");
                }
            }
            Ok(())
        }
        Command::Token { cmd, db } => {
            let store = open(&db).await?;
            print!("{}", crate::cli_tokens::token(&store, cmd).await?);
            Ok(())
        }
        Command::Cdr {
            tenant: domain,
            limit,
            db,
        } => {
            let store = open(&db).await?;
            let t = tenant(&store, &domain).await?;
            for c in store.list_cdrs(t.id, limit).await? {
                println!(
                    "{}\t{} -> {}\t{}\t{}\t{} ms",
                    c.started_at,
                    c.caller,
                    c.callee,
                    c.result,
                    c.sip_code,
                    c.ended_at - c.started_at
                );
            }
            Ok(())
        }
    }
}

/// The demo tenant's domain.
pub const DEMO_DOMAIN: &str = "demo.centrale.test";

/// Creates the demo tenant and users if absent.
pub async fn ensure_demo(store: &Store) -> anyhow::Result<()> {
    let t = match store.tenant_by_domain(DEMO_DOMAIN).await? {
        Some(t) => t,
        None => store.create_tenant(DEMO_DOMAIN, "Demo BV", 3, "0").await?,
    };
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

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
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
