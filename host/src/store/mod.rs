//! Persistent state: tenants, users, numbers, devices, registrations and CDRs.
//!
//! One [`Store`] wraps one [`sqlx::AnyPool`], so the same code and the same SQL
//! run on SQLite and PostgreSQL. The schema is portable: integers, booleans
//! (0/1) and times (unix milliseconds) are `BIGINT`, strings are `TEXT`, lists
//! are child tables. Each backend has its own migration folder
//! (`host/migrations/sqlite`, `host/migrations/postgres`), embedded in the
//! binary and run by [`Store::connect`].
//!
//! Files of this module:
//! - `connect.rs`: URL handling, pool options, pragmas and migrations
//! - `tenants.rs`, `users.rs`, `devices.rs`, `registrations.rs`, `cdrs.rs`:
//!   the queries, one file per table (numbers live with users)
//! - `blobs.rs`: the content-addressed blob store (files, not the database);
//!   `plugin_blobs.rs` and `outbox.rs`: the tables that name blobs
//! - `tokens.rs`: the admin API's tokens (hashed); `admin.rs`: the
//!   queries only the admin API needs

mod admin;
mod blobs;
mod cdrs;
mod connect;
mod devices;
mod kv;
mod licences;
mod limits;
mod mail_policy;
mod mwi;
mod number_ranges;
mod outbox;
mod plugin_blobs;
mod plugin_prompts;
mod plugins;
mod registrations;
mod schedules;
mod tenants;
mod tokens;
mod users;

pub use blobs::BlobStore;
pub use kv::{KvError, MAX_KEYS_PER_SCOPE, MAX_KEY_BYTES, MAX_VALUE_BYTES};
pub use licences::MAX_SETTINGS_BYTES;
pub use limits::{StorageUsage, TenantLimits};
pub use mail_policy::MailPolicy;
pub use mwi::MwiState;
pub use number_ranges::{NumberRange, MAX_RANGE_SIZE};
pub use outbox::{OutboxMail, OutboxStatus};
pub use plugin_blobs::{BlobRef, MAX_BLOB_NAME_BYTES};
pub use plugin_prompts::MAX_PROMPT_BYTES;
pub use plugins::MAX_COMPONENT_BYTES;
pub use tokens::{ApiToken, TokenRole};

use sqlx::error::ErrorKind;
use sqlx::AnyPool;

/// What can go wrong in the store.
///
/// The messages of [`NotFound`](StoreError::NotFound),
/// [`Conflict`](StoreError::Conflict) and [`Invalid`](StoreError::Invalid) are
/// written for the administrator (e.g. `extension 201 already exists in tenant
/// demo.centrale.test`) and are displayed as they are.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row the operation needs does not exist (e.g. `tenant 7 not found`).
    #[error("{0}")]
    NotFound(String),
    /// A uniqueness rule would be broken (duplicate domain, extension, number or
    /// device username).
    #[error("{0}")]
    Conflict(String),
    /// An argument is malformed (e.g. an extension that is not all digits, an
    /// unsupported database URL).
    #[error("{0}")]
    Invalid(String),
    /// Any other database error (connection, I/O, SQL).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The result type of the store: `Result<T, StoreError>`.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite (a file, or `sqlite::memory:`).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The database of a Centrale host. Cheap to clone: clones share one pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool: waits for the connections in use to come back, then
    /// closes all of them. Later operations on this store (and its clones) fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Turns a database error into a [`StoreError`]: a unique violation becomes
/// [`StoreError::Conflict`] with the message of `conflict`, a foreign-key
/// violation [`StoreError::NotFound`] with the message of `missing`.
fn classify(
    e: sqlx::Error,
    conflict: impl FnOnce() -> String,
    missing: impl FnOnce() -> String,
) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        match db.kind() {
            ErrorKind::UniqueViolation => return StoreError::Conflict(conflict()),
            ErrorKind::ForeignKeyViolation => return StoreError::NotFound(missing()),
            _ => {}
        }
    }
    StoreError::Database(e)
}

/// True when `s` is one or more ASCII digits.
fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Checks a free-text field (name, e-mail, contact, ...): bounded length, no
/// control characters.
fn validate_text(what: &str, value: &str, max: usize) -> Result<()> {
    if value.len() > max {
        return Err(StoreError::Invalid(format!(
            "{what} is longer than {max} bytes"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{what} contains control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_checked() {
        assert!(validate_text("name", "Anna de Vries", 10).is_err());
        assert!(validate_text("name", "Anna", 10).is_ok());
        assert!(validate_text("name", "An\nna", 10).is_err());
    }
}
