//! The `centrale` command line (clap): serve, demo, and administration of
//! tenants, users, devices and call records.

use crate::config::Config;
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
    /// Allocate number ranges to tenants (operator).
    NumberRange {
        #[command(subcommand)]
        cmd: crate::cli_numbers::NumberRangeCmd,
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
        /// Country calling code its national numbers are in.
        #[arg(long, default_value = "31")]
        country_code: String,
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
        /// Bytes the tenant may store (recordings, greetings, plugin
        /// state, queued mail, private plugins).
        #[arg(long)]
        storage_bytes: Option<i64>,
    },
    /// Show or set what the tenant's plugins may mail: the sender, and
    /// domains besides the tenant's users' own addresses.
    Mail {
        domain: String,
        /// Sender address (empty: the host's, under the tenant's name).
        #[arg(long)]
        from: Option<String>,
        /// A domain the tenant may mail (repeat; replaces the list).
        #[arg(long = "allow-domain")]
        allow_domains: Vec<String>,
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

pub(crate) async fn tenant(store: &Store, domain: &str) -> anyhow::Result<crate::tenancy::Tenant> {
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
        Command::Demo(args) => crate::cli_demo::demo(args).await,
        Command::Tenant { cmd, db } => {
            let store = open(&db).await?;
            match cmd {
                TenantCmd::Add {
                    domain,
                    name,
                    extension_length,
                    outside_prefix,
                    country_code,
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
                    if let Err(e) = store.set_tenant_country_code(t.id, &country_code).await {
                        store.delete_tenant(t.id).await?;
                        return Err(e.into());
                    }
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
                TenantCmd::Mail {
                    domain,
                    from,
                    allow_domains,
                } => {
                    let t = tenant(&store, &domain).await?;
                    let mut p = store.tenant_mail_policy(t.id).await?;
                    if from.is_some() || !allow_domains.is_empty() {
                        p.from_address = from.unwrap_or(p.from_address);
                        if !allow_domains.is_empty() {
                            p.allowed_domains = allow_domains;
                        }
                        store.set_tenant_mail_policy(t.id, &p).await?;
                    }
                    println!(
                        "{domain}: from {:?}, may mail its users and {:?}",
                        p.from_address, p.allowed_domains
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
        Command::NumberRange { cmd, db } => {
            let store = open(&db).await?;
            print!("{}", crate::cli_numbers::number_range(&store, cmd).await?);
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

pub use crate::cli_demo::{ensure_demo, install_bundled, DEMO_DOMAIN};
