//! The configuration file of `centrale serve --config FILE` (TOML).
//!
//! ```toml
//! data_dir = "./data"                      # SQLite file and blobs live here
//! database = "sqlite://./data/centrale.db" # or postgres://user@host/db
//!
//! [sip]
//! udp = ["0.0.0.0:5060"]
//! tcp = ["0.0.0.0:5060"]
//! advertise = "192.0.2.10"   # address put in Via, Contact and SDP
//! ring_timeout_secs = 30
//! min_expires = 60
//! max_expires = 3600
//!
//! [media]
//! rtp_ports = "20000-20999"
//! latch_window_secs = 15     # NAT latching only this long after offer/answer
//!
//! [trunk]                    # optional: where calls to outside numbers go
//! address = "198.51.100.7:5060"
//! transport = "udp"
//! username = "acme"          # optional digest credentials
//! password = "secret"
//! realm = "sip.carrier.example" # answered only for this realm
//!
//! [mail]                     # outgoing mail (voicemail to e-mail, faxes)
//! from = "pbx@example.com"
//! [mail.smtp]                # optional: without it mail goes to data_dir/outbox/*.eml
//! host = "smtp.example.com"
//! port = 587
//! tls = "starttls"           # none, starttls or tls
//! username = "pbx"
//! password = "secret"
//!
//! [plugins]
//! max_instances = 1000       # plugin instances at once (sessions hold one each)
//!
//! [api]                      # the admin REST API and /metrics (docs/api.md)
//! enabled = true
//! listen = "127.0.0.1:8080"
//! ```

use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// Whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory for the SQLite database and blobs.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Database URL; default: SQLite file `centrale.db` in `data_dir`.
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub sip: SipConfig,
    #[serde(default)]
    pub media: MediaConfig,
    /// The admin REST API and `/metrics`.
    #[serde(default)]
    pub api: ApiConfig,
    #[serde(default)]
    pub trunk: Option<TrunkConfig>,
    /// Outgoing mail.
    #[serde(default)]
    pub mail: MailConfig,
    /// The plugin runtime.
    #[serde(default)]
    pub plugins: PluginsConfig,
    /// Default call limits.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// `[limits]`: the host's default call limits. A tenant's own limits (set by
/// the operator, `centrale tenant limits`) take precedence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Concurrent calls of a tenant the operator set no limit for.
    #[serde(default = "default_tenant_calls")]
    pub tenant_max_calls: i64,
    /// Calls one device (phone, softphone) may place at once; 0: no limit.
    #[serde(default = "default_device_calls")]
    pub device_max_calls: i64,
}

fn default_tenant_calls() -> i64 {
    100
}
fn default_device_calls() -> i64 {
    4
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            tenant_max_calls: default_tenant_calls(),
            device_max_calls: default_device_calls(),
        }
    }
}

/// `[plugins]`: the plugin runtime.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    /// Plugin instances alive at once (the pool). A call's hook holds one
    /// for a moment, a session (voicemail, IVR) for the whole call: set it
    /// above the number of simultaneous sessions expected.
    #[serde(default = "default_max_instances")]
    pub max_instances: u32,
    /// The largest share of those one tenant may hold at once, percent: a
    /// tenant's sessions cannot leave the others without instances.
    #[serde(default = "default_share")]
    pub tenant_instance_percent: u32,
}

fn default_max_instances() -> u32 {
    1000
}
fn default_share() -> u32 {
    50
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            max_instances: default_max_instances(),
            tenant_instance_percent: default_share(),
        }
    }
}

/// `[api]`: the admin REST API (`/api/v1`) and `/metrics` on one HTTP
/// listener. When the address cannot be bound the host serves SIP without
/// them and logs an error.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Whether to serve the API at all.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// HTTP listen address (plain HTTP: keep it on loopback or put a TLS
    /// proxy in front).
    #[serde(default = "default_api_listen")]
    pub listen: SocketAddr,
    /// A second listener serving only `/metrics`, without a token (keep it
    /// on loopback or a monitoring network). On `listen`, `/metrics` needs
    /// an operator token.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
}

fn default_true() -> bool {
    true
}
fn default_api_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: default_api_listen(),
            metrics_listen: None,
        }
    }
}

/// `[sip]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipConfig {
    #[serde(default = "default_listen")]
    pub udp: Vec<SocketAddr>,
    #[serde(default = "default_listen")]
    pub tcp: Vec<SocketAddr>,
    /// Address advertised in Via/Contact/SDP; default: the first listen
    /// address, or 127.0.0.1 when that is a wildcard.
    #[serde(default)]
    pub advertise: Option<IpAddr>,
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout_secs: u64,
    #[serde(default = "default_min_expires")]
    pub min_expires: u32,
    #[serde(default = "default_max_expires")]
    pub max_expires: u32,
    /// Longest a call may last, seconds (a backstop against lost BYEs).
    #[serde(default = "default_max_call")]
    pub max_call_secs: u64,
    /// Digest algorithms offered in challenges, in this order. MD5 comes
    /// first by default because many phones (and sipp 3.6) answer only the
    /// first challenge and know only MD5; RFC 8760-aware phones skip to the
    /// SHA-256 one. `["SHA-256", "MD5"]` follows RFC 8760's preference order;
    /// `["SHA-256"]` refuses MD5 altogether.
    #[serde(default = "default_digest")]
    pub digest_algorithms: Vec<String>,
    /// `User-Agent` prefixes (case-insensitive) offered only the MD5
    /// challenge: phones that abort on any other algorithm (baresip before
    /// 3.0). Everyone else gets every algorithm of `digest_algorithms`.
    #[serde(default = "default_md5_only")]
    pub md5_only_user_agents: Vec<String>,
    /// Throttling of failed logins (`[sip.auth]`).
    #[serde(default)]
    pub auth: AuthConfig,
    /// Country calling code national numbers from the trunk are read in
    /// (tenants have their own for what their users dial).
    #[serde(default = "default_country")]
    pub country_code: String,
    /// Bounds on TCP connections (`[sip.tcp_limits]`).
    #[serde(default)]
    pub tcp_limits: TcpConfig,
}

/// `[sip.tcp_limits]`: bounds on SIP over TCP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpConfig {
    /// Connections at once, in total.
    #[serde(default = "default_tcp_max")]
    pub max_connections: usize,
    /// Inbound connections at once from one IP address.
    #[serde(default = "default_tcp_per_ip")]
    pub max_connections_per_ip: usize,
    /// Seconds a connection without an authenticated request (registration
    /// or call) may stay silent.
    #[serde(default = "default_tcp_idle")]
    pub idle_timeout_secs: u64,
    /// Seconds a connection with one may stay silent.
    #[serde(default = "default_tcp_kept_idle")]
    pub registered_idle_timeout_secs: u64,
    /// Seconds a write may take before the connection is dropped (the
    /// peer does not read).
    #[serde(default = "default_tcp_write")]
    pub write_timeout_secs: u64,
    /// Messages waiting to be written per connection before it is dropped.
    #[serde(default = "default_tcp_queue")]
    pub queue_messages: usize,
}

fn default_md5_only() -> Vec<String> {
    crate::sip::auth::DEFAULT_MD5_ONLY_AGENTS
        .iter()
        .map(|s| s.to_string())
        .collect()
}
fn default_country() -> String {
    "31".into()
}
fn default_tcp_max() -> usize {
    1024
}
fn default_tcp_per_ip() -> usize {
    32
}
fn default_tcp_idle() -> u64 {
    30
}
fn default_tcp_kept_idle() -> u64 {
    3900
}
fn default_tcp_write() -> u64 {
    10
}
fn default_tcp_queue() -> usize {
    64
}

impl Default for TcpConfig {
    fn default() -> Self {
        Self {
            max_connections: default_tcp_max(),
            max_connections_per_ip: default_tcp_per_ip(),
            idle_timeout_secs: default_tcp_idle(),
            registered_idle_timeout_secs: default_tcp_kept_idle(),
            write_timeout_secs: default_tcp_write(),
            queue_messages: default_tcp_queue(),
        }
    }
}

impl TcpConfig {
    /// The transport's limits.
    pub fn limits(&self) -> crate::sip::transport::TcpLimits {
        use std::time::Duration;
        crate::sip::transport::TcpLimits {
            max_connections: self.max_connections.max(1),
            max_per_ip: self.max_connections_per_ip.max(1),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs.max(1)),
            kept_idle_timeout: Duration::from_secs(self.registered_idle_timeout_secs.max(1)),
            write_timeout: Duration::from_secs(self.write_timeout_secs.max(1)),
            queue: self.queue_messages.max(1),
        }
    }
}

/// `[sip.auth]`: how failed digest logins are throttled. A source is an
/// IPv4 address or an IPv6 /64; an account is `username@realm`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Failures of one account from one source before that pair is blocked.
    #[serde(default = "default_auth_user_source")]
    pub max_failures_per_account_and_source: u32,
    /// Failures from one source, any account, before the source is blocked.
    #[serde(default = "default_auth_source")]
    pub max_failures_per_source: u32,
    /// Failures of one account from all sources before it is blocked for
    /// every source it has not logged in from.
    #[serde(default = "default_auth_user")]
    pub max_failures_per_account: u32,
    /// The window failures are counted in, seconds.
    #[serde(default = "default_auth_window")]
    pub window_secs: u64,
    /// The first block, seconds; each further block of the same key doubles.
    #[serde(default = "default_auth_block")]
    pub block_secs: u64,
    /// The longest block, seconds.
    #[serde(default = "default_auth_max_block")]
    pub max_block_secs: u64,
    /// Challenges (401/407) per second to one source; requests without
    /// credentials beyond it are dropped unanswered (no reflection).
    #[serde(default = "default_challenge_rate")]
    pub challenges_per_second: f64,
    /// Challenges one source may get in a burst.
    #[serde(default = "default_challenge_burst")]
    pub challenge_burst: f64,
}

fn default_challenge_rate() -> f64 {
    20.0
}
fn default_challenge_burst() -> f64 {
    40.0
}

fn default_auth_user_source() -> u32 {
    5
}
fn default_auth_source() -> u32 {
    20
}
fn default_auth_user() -> u32 {
    50
}
fn default_auth_window() -> u64 {
    600
}
fn default_auth_block() -> u64 {
    60
}
fn default_auth_max_block() -> u64 {
    3600
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            max_failures_per_account_and_source: default_auth_user_source(),
            max_failures_per_source: default_auth_source(),
            max_failures_per_account: default_auth_user(),
            window_secs: default_auth_window(),
            block_secs: default_auth_block(),
            max_block_secs: default_auth_max_block(),
            challenges_per_second: default_challenge_rate(),
            challenge_burst: default_challenge_burst(),
        }
    }
}

impl AuthConfig {
    /// The limits for the authenticator.
    pub fn limits(&self) -> crate::sip::digest::AuthLimits {
        crate::sip::digest::AuthLimits {
            per_user_source: self.max_failures_per_account_and_source,
            per_source: self.max_failures_per_source,
            per_user: self.max_failures_per_account,
            window: std::time::Duration::from_secs(self.window_secs),
            block: std::time::Duration::from_secs(self.block_secs),
            max_block: std::time::Duration::from_secs(self.max_block_secs),
            ..crate::sip::digest::AuthLimits::default()
        }
    }
}

/// `[media]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// `LO-HI`, inclusive.
    #[serde(default = "default_rtp_ports")]
    pub rtp_ports: String,
    /// Folder of the standard prompts (`<dir>/<lang>/<name>.wav`); by
    /// default the `prompts/` folder of the source tree this host was
    /// built from, else `./prompts`.
    #[serde(default)]
    pub prompts_dir: Option<PathBuf>,
    /// Language sessions start in (`en` or `nl`).
    #[serde(default = "default_language")]
    pub language: String,
    /// The largest share of the RTP port pairs one tenant may hold at once,
    /// percent.
    #[serde(default = "default_share")]
    pub tenant_port_percent: u32,
    /// Seconds after an offer/answer (and after the answer) during which a
    /// phone behind NAT may start sending media from another address than
    /// its SDP's, as long as it is the IP its SIP came from. Later, only
    /// the signalled or latched address is heard.
    #[serde(default = "default_latch_window")]
    pub latch_window_secs: u64,
}

fn default_latch_window() -> u64 {
    15
}

fn default_language() -> String {
    "en".to_string()
}

impl MediaConfig {
    /// The prompts folder in effect.
    pub fn prompts_dir(&self) -> PathBuf {
        if let Some(d) = &self.prompts_dir {
            return d.clone();
        }
        let built = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../prompts"));
        if built.is_dir() {
            built
        } else {
            PathBuf::from("prompts")
        }
    }
}

/// `[trunk]`: the SIP trunk for numbers outside the tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    pub address: SocketAddr,
    #[serde(default = "default_transport")]
    pub transport: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// The realm of the carrier's digest challenges: credentials are given
    /// for this realm only (required with `username`).
    #[serde(default)]
    pub realm: Option<String>,
}

/// `[mail]`: outgoing mail, through an outbox that retries (see
/// [`crate::mail`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// Sender address of mails that name none.
    #[serde(default = "default_mail_from")]
    pub from: String,
    /// The SMTP relay; without one, mails are written as `.eml` files to
    /// `<data_dir>/outbox/` (the demo).
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    /// Wait after the first failed attempt, seconds; doubled after each
    /// further failure.
    #[serde(default = "default_retry_base")]
    pub retry_base_secs: u64,
    /// Longest wait between attempts, seconds.
    #[serde(default = "default_retry_max")]
    pub retry_max_secs: u64,
    /// Attempts before a mail is given up (status `failed`).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// How often the worker looks for due mail when nothing wakes it,
    /// seconds.
    #[serde(default = "default_poll")]
    pub poll_secs: u64,
    /// Mails one tenant's plugins may queue per hour (0: no limit).
    #[serde(default = "default_tenant_mails")]
    pub tenant_mails_per_hour: u32,
}

fn default_tenant_mails() -> u32 {
    500
}

/// `[mail.smtp]`: the SMTP relay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name (also the name checked in the TLS certificate).
    pub host: String,
    /// Port; default by `tls`: 25 (`none`), 587 (`starttls`), 465 (`tls`).
    #[serde(default)]
    pub port: Option<u16>,
    /// `none` (plain SMTP), `starttls` (required) or `tls` (implicit TLS).
    #[serde(default = "default_smtp_tls")]
    pub tls: String,
    /// Login, together with `password`.
    #[serde(default)]
    pub username: Option<String>,
    /// Password, together with `username`.
    #[serde(default)]
    pub password: Option<String>,
    /// Connection and command timeout, seconds.
    #[serde(default = "default_smtp_timeout")]
    pub timeout_secs: u64,
}

impl SmtpConfig {
    /// The port in effect.
    pub fn port(&self) -> u16 {
        match (self.port, self.tls.as_str()) {
            (Some(p), _) => p,
            (None, "tls") => 465,
            (None, "starttls") => 587,
            (None, _) => 25,
        }
    }
}

fn default_mail_from() -> String {
    "centrale@localhost".into()
}
fn default_retry_base() -> u64 {
    30
}
fn default_retry_max() -> u64 {
    3600
}
fn default_max_attempts() -> u32 {
    50
}
fn default_poll() -> u64 {
    60
}
fn default_smtp_tls() -> String {
    "starttls".into()
}
fn default_smtp_timeout() -> u64 {
    30
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            from: default_mail_from(),
            smtp: None,
            retry_base_secs: default_retry_base(),
            retry_max_secs: default_retry_max(),
            max_attempts: default_max_attempts(),
            poll_secs: default_poll(),
            tenant_mails_per_hour: default_tenant_mails(),
        }
    }
}

impl MailConfig {
    /// Checks values that serde cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.retry_base_secs == 0 || self.retry_max_secs < self.retry_base_secs {
            anyhow::bail!("[mail] retry_base_secs must be at least 1 and at most retry_max_secs");
        }
        if self.max_attempts == 0 {
            anyhow::bail!("[mail] max_attempts must be at least 1");
        }
        if self.poll_secs == 0 {
            anyhow::bail!("[mail] poll_secs must be at least 1");
        }
        if let Some(s) = &self.smtp {
            if !["none", "starttls", "tls"].contains(&s.tls.as_str()) {
                anyhow::bail!("[mail.smtp] tls must be none, starttls or tls");
            }
            if s.username.is_some() != s.password.is_some() {
                anyhow::bail!("[mail.smtp] username and password go together");
            }
            if s.host.is_empty() {
                anyhow::bail!("[mail.smtp] host must not be empty");
            }
            if s.timeout_secs == 0 {
                anyhow::bail!("[mail.smtp] timeout_secs must be at least 1");
            }
        }
        Ok(())
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}
fn default_listen() -> Vec<SocketAddr> {
    vec![SocketAddr::from(([0, 0, 0, 0], 5060))]
}
fn default_ring_timeout() -> u64 {
    30
}
fn default_min_expires() -> u32 {
    60
}
fn default_max_expires() -> u32 {
    3600
}
fn default_max_call() -> u64 {
    4 * 3600
}
fn default_digest() -> Vec<String> {
    vec!["MD5".into(), "SHA-256".into()]
}
fn default_rtp_ports() -> String {
    "20000-20999".into()
}
fn default_transport() -> String {
    "udp".into()
}

impl Default for SipConfig {
    fn default() -> Self {
        Self {
            udp: default_listen(),
            tcp: default_listen(),
            advertise: None,
            ring_timeout_secs: default_ring_timeout(),
            min_expires: default_min_expires(),
            max_expires: default_max_expires(),
            max_call_secs: default_max_call(),
            digest_algorithms: default_digest(),
            auth: AuthConfig::default(),
            tcp_limits: TcpConfig::default(),
            country_code: default_country(),
            md5_only_user_agents: default_md5_only(),
        }
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            rtp_ports: default_rtp_ports(),
            prompts_dir: None,
            language: default_language(),
            latch_window_secs: default_latch_window(),
            tenant_port_percent: default_share(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            database: None,
            sip: SipConfig::default(),
            media: MediaConfig::default(),
            trunk: None,
            mail: MailConfig::default(),
            api: ApiConfig::default(),
            plugins: PluginsConfig::default(),
            limits: LimitsConfig::default(),
        }
    }
}

/// Parses `LO-HI` into an inclusive range with LO < HI, LO even.
pub fn parse_port_range(s: &str) -> anyhow::Result<(u16, u16)> {
    let (lo, hi) = s
        .split_once('-')
        .ok_or_else(|| anyhow::anyhow!("port range {s:?} is not LO-HI"))?;
    let lo: u16 = lo
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("bad port {lo:?} in {s:?}"))?;
    let hi: u16 = hi
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("bad port {hi:?} in {s:?}"))?;
    if lo >= hi || hi - lo < 3 {
        anyhow::bail!("port range {s:?} must hold at least 4 ports (LO < HI)");
    }
    Ok((lo, hi))
}

impl Config {
    /// Reads and checks a TOML file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        let cfg: Config =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        parse_port_range(&self.media.rtp_ports)?;
        if !(1..=100).contains(&self.media.tenant_port_percent) {
            anyhow::bail!("[media] tenant_port_percent must be 1 to 100");
        }
        if !(1..=100).contains(&self.plugins.tenant_instance_percent) {
            anyhow::bail!("[plugins] tenant_instance_percent must be 1 to 100");
        }
        if crate::media::prompts::Language::from_tag(&self.media.language).is_none() {
            anyhow::bail!("[media] language must be en or nl");
        }
        if self.sip.udp.is_empty() && self.sip.tcp.is_empty() {
            anyhow::bail!("[sip] needs at least one udp or tcp listen address");
        }
        if self.sip.digest_algorithms.is_empty() {
            anyhow::bail!("[sip] digest_algorithms must name MD5, SHA-256 or both");
        }
        for a in &self.sip.digest_algorithms {
            crate::sip::digest::Algorithm::parse(a)
                .map_err(|_| anyhow::anyhow!("[sip] digest_algorithms: unknown algorithm {a:?}"))?;
        }
        if self.sip.min_expires > self.sip.max_expires {
            anyhow::bail!("[sip] min_expires must not exceed max_expires");
        }
        if let Some(t) = &self.trunk {
            if t.transport != "udp" && t.transport != "tcp" {
                anyhow::bail!("[trunk] transport must be udp or tcp");
            }
            if t.username.is_some() != t.password.is_some() {
                anyhow::bail!("[trunk] username and password go together");
            }
            if t.username.is_some() && t.realm.as_deref().is_none_or(str::is_empty) {
                anyhow::bail!(
                    "[trunk] realm is required with username: credentials are only given to challenges for the carrier's realm"
                );
            }
        }
        self.mail.validate()?;
        Ok(())
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        match &self.database {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.data_dir.join("centrale.db").display()),
        }
    }

    /// The advertised address in effect.
    pub fn advertise(&self) -> IpAddr {
        if let Some(a) = self.sip.advertise {
            return a;
        }
        let first = self.sip.udp.first().or(self.sip.tcp.first());
        match first {
            Some(a) if !a.ip().is_unspecified() => a.ip(),
            _ => IpAddr::from([127, 0, 0, 1]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented example (examples/centrale.example.toml) stays valid.
    #[test]
    fn the_example_configuration_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/centrale.example.toml");
        let cfg = Config::load(&path).unwrap_or_else(|e| panic!("{e:#}"));
        cfg.validate().unwrap();
        assert_eq!(cfg.media.language, "en");
        assert_eq!(cfg.mail.max_attempts, 50);
    }
}
