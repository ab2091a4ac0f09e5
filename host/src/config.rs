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
//!
//! [trunk]                    # optional: where calls to outside numbers go
//! address = "198.51.100.7:5060"
//! transport = "udp"
//! username = "acme"          # optional digest credentials
//! password = "secret"
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
    #[serde(default)]
    pub trunk: Option<TrunkConfig>,
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
}

/// `[media]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// `LO-HI`, inclusive.
    #[serde(default = "default_rtp_ports")]
    pub rtp_ports: String,
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
        }
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            rtp_ports: default_rtp_ports(),
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
        }
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
