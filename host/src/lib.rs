//! Centrale host: the switch that speaks SIP and RTP, keeps tenants, users and
//! devices, runs feature plugins (hooks and sessions) and serves the admin
//! API and web admin.
//!
//! Rooms (see `DESIGN.md` §2):
//! - [`sip`]: message parsing, transports, transactions, digest auth, registrar
//! - [`switch`]: calls and legs (the B2BUA) and CDRs
//! - [`media`]: SDP rewriting and the anchored RTP relay
//! - [`tenancy`]: tenants, users, devices and how a request finds its tenant
//! - [`store`]: the sqlx pools and migrations (SQLite and PostgreSQL)
//! - [`runtime`]: the WebAssembly plugin runtime and its host interfaces
//! - [`mail`]: the outbox and SMTP delivery
//! - [`api`]: the admin REST API (OpenAPI) and `/metrics`
//! - [`web`]: the web admin page, served by the API

pub mod api;
pub mod cli;
pub mod cli_demo;
pub mod cli_numbers;
pub mod cli_plugins;
pub mod cli_tokens;
pub mod config;
pub mod mail;
pub mod media;
pub mod ratelimit;
pub mod runtime;
pub mod server;
pub mod sip;
pub mod store;
pub mod switch;
pub mod tenancy;
pub mod web;

/// Milliseconds since the Unix epoch: the one time unit stored in the database.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
