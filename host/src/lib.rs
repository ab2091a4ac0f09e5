//! Centrale host: the switch that speaks SIP and RTP, keeps tenants, users and
//! devices, and (in later releases) runs feature plugins.
//!
//! Rooms (see `DESIGN.md` §2):
//! - [`sip`]: message parsing, transports, transactions, digest auth, registrar
//! - [`switch`]: calls and legs (the B2BUA) and CDRs
//! - [`media`]: SDP rewriting and the anchored RTP relay
//! - [`tenancy`]: tenants, users, devices and how a request finds its tenant
//! - [`store`]: the sqlx pools and migrations (SQLite and PostgreSQL)
//! - [`api`]: the admin REST API (OpenAPI) and `/metrics`

pub mod api;
pub mod cli;
pub mod cli_plugins;
pub mod cli_tokens;
pub mod config;
pub mod mail;
pub mod media;
pub mod runtime;
pub mod server;
pub mod sip;
pub mod store;
pub mod switch;
pub mod tenancy;

/// Milliseconds since the Unix epoch: the one time unit stored in the database.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
