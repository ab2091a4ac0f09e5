//! Opening a [`Store`]: URL handling, pool options, SQLite pragmas and the
//! embedded migrations.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Executor, SqlSafeStr};

use super::{Backend, Result, Store, StoreError};

/// The migrations of one backend, embedded at compile time:
/// `(version, description, SQL)`. The file name is `<version>_<description>.sql`
/// and version and description are derived as `sqlx::migrate!` does (same
/// checksums), so the folders can be switched to that macro once the sqlx
/// `macros`/`derive` feature is enabled. A unit test checks that every file of
/// the folders is listed here.
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "plugins",
        include_str!("../../migrations/sqlite/0002_plugins.sql"),
    ),
    (
        3,
        "mail_blobs",
        include_str!("../../migrations/sqlite/0003_mail_blobs.sql"),
    ),
    (
        4,
        "mwi",
        include_str!("../../migrations/sqlite/0004_mwi.sql"),
    ),
    (
        5,
        "api_tokens",
        include_str!("../../migrations/sqlite/0005_api_tokens.sql"),
    ),
    (
        6,
        "plugin_prompts",
        include_str!("../../migrations/sqlite/0006_plugin_prompts.sql"),
    ),
    (
        7,
        "tenant_limits",
        include_str!("../../migrations/sqlite/0007_tenant_limits.sql"),
    ),
    (
        8,
        "plugin_approval",
        include_str!("../../migrations/sqlite/0008_plugin_approval.sql"),
    ),
    (
        9,
        "mail_policy_tokens",
        include_str!("../../migrations/sqlite/0009_mail_policy_tokens.sql"),
    ),
    (
        10,
        "numbers",
        include_str!("../../migrations/sqlite/0010_numbers.sql"),
    ),
];

/// See [`SQLITE_MIGRATIONS`].
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "plugins",
        include_str!("../../migrations/postgres/0002_plugins.sql"),
    ),
    (
        3,
        "mail_blobs",
        include_str!("../../migrations/postgres/0003_mail_blobs.sql"),
    ),
    (
        4,
        "mwi",
        include_str!("../../migrations/postgres/0004_mwi.sql"),
    ),
    (
        5,
        "api_tokens",
        include_str!("../../migrations/postgres/0005_api_tokens.sql"),
    ),
    (
        6,
        "plugin_prompts",
        include_str!("../../migrations/postgres/0006_plugin_prompts.sql"),
    ),
    (
        7,
        "tenant_limits",
        include_str!("../../migrations/postgres/0007_tenant_limits.sql"),
    ),
    (
        8,
        "plugin_approval",
        include_str!("../../migrations/postgres/0008_plugin_approval.sql"),
    ),
    (
        9,
        "mail_policy_tokens",
        include_str!("../../migrations/postgres/0009_mail_policy_tokens.sql"),
    ),
    (
        10,
        "numbers",
        include_str!("../../migrations/postgres/0010_numbers.sql"),
    ),
];

/// How long a SQLite connection waits for a lock held by another connection.
const SQLITE_BUSY_TIMEOUT_MS: u64 = 5_000;

fn migrator(backend: Backend) -> Migrator {
    let list = match backend {
        Backend::Sqlite => SQLITE_MIGRATIONS,
        Backend::Postgres => POSTGRES_MIGRATIONS,
    };
    Migrator::with_migrations(
        list.iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// The backend a database URL names.
fn backend_of(url: &str) -> Result<Backend> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        let scheme = url.split(':').next().unwrap_or_default();
        Err(StoreError::Invalid(format!(
            "unsupported database URL scheme {scheme:?}: use sqlite://PATH, sqlite::memory: or postgres://..."
        )))
    }
}

/// A SQLite URL made ready for sqlx.
#[derive(Debug, PartialEq, Eq)]
struct SqliteTarget {
    /// The URL to connect to (`mode=rwc` added to file URLs without a mode).
    url: String,
    /// The database file; `None` for an in-memory database.
    path: Option<PathBuf>,
}

/// Parses `sqlite://path`, `sqlite:path` and `sqlite::memory:` (query
/// parameters as sqlx understands them: `mode`, `cache`, `immutable`, `vfs`).
fn sqlite_target(url: &str) -> Result<SqliteTarget> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::Invalid("a SQLite URL starts with sqlite:".into()))?;
    let (db, params) = match rest.split_once('?') {
        Some((db, params)) => (db, Some(params)),
        None => (rest, None),
    };
    let mode = params.and_then(|p| {
        p.split('&')
            .find_map(|kv| kv.strip_prefix("mode="))
            .map(str::to_string)
    });
    if db == ":memory:" || mode.as_deref() == Some("memory") {
        return Ok(SqliteTarget {
            url: url.to_string(),
            path: None,
        });
    }
    if db.is_empty() {
        return Err(StoreError::Invalid(format!(
            "SQLite URL {url:?} names no file: use sqlite://PATH or sqlite::memory:"
        )));
    }
    // sqlx hands the URL to the `url` crate first, which would remove `..`
    // segments of a relative path: give it an absolute path
    let mut path = PathBuf::from(percent_decode(db)?);
    if path.is_relative() {
        let cwd = std::env::current_dir().map_err(|e| {
            StoreError::Invalid(format!(
                "cannot resolve the relative SQLite path {db:?}: {e}"
            ))
        })?;
        path = cwd.join(path);
    }
    let path_str = path
        .to_str()
        .ok_or_else(|| StoreError::Invalid(format!("SQLite path {db:?} is not UTF-8")))?;
    let mut url = format!("sqlite://{}", percent_encode(path_str));
    let mut params: Vec<&str> = params
        .into_iter()
        .flat_map(|p| p.split('&'))
        .filter(|p| !p.is_empty())
        .collect();
    if mode.is_none() {
        params.push("mode=rwc");
    }
    if !params.is_empty() {
        url.push('?');
        url.push_str(&params.join("&"));
    }
    Ok(SqliteTarget {
        url,
        path: Some(path),
    })
}

/// Escapes what a URL path cannot hold as is.
fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            ' ' => out.push_str("%20"),
            c => out.push(c),
        }
    }
    out
}

/// Decodes `%XX` escapes (sqlx does the same with the path of a SQLite URL).
fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => {
                    return Err(StoreError::Invalid(format!(
                        "bad %-escape in SQLite path {s:?}"
                    )))
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| StoreError::Invalid(format!("SQLite path {s:?} is not UTF-8")))
}

impl Store {
    /// Opens the database at `url` and brings its schema up to date.
    ///
    /// - `sqlite://path/file.db` (or `sqlite:path/file.db`; relative paths are
    ///   relative to the working directory, `sqlite:///abs/file.db` is
    ///   absolute): the file and its parent directories are created when
    ///   missing; WAL journal, 5 s busy timeout, foreign keys on.
    /// - `sqlite::memory:`: a private in-memory database on a single connection
    ///   that is never recycled (with more connections each would see its own
    ///   empty database).
    /// - `postgres://user@host:port/db` (or `postgresql://`); `?options=-csearch_path%3Dschema`
    ///   selects a schema.
    pub async fn connect(url: &str) -> Result<Store> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);

        let backend = backend_of(url)?;
        let pool = match backend {
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(10)
                    .connect(url)
                    .await?
            }
            Backend::Sqlite => {
                let target = sqlite_target(url)?;
                let options = AnyPoolOptions::new().after_connect(|conn, _meta| {
                    Box::pin(async move {
                        // foreign_keys is per connection (sqlx also sets it; be explicit)
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute(sqlx::AssertSqlSafe(format!(
                            "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"
                        )))
                        .await?;
                        // durable against a crash of the process; with WAL only
                        // an OS crash can lose the last transactions
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        Ok(())
                    })
                });
                match &target.path {
                    None => {
                        options
                            .max_connections(1)
                            .min_connections(1)
                            .idle_timeout(None)
                            .max_lifetime(None)
                            .connect(&target.url)
                            .await?
                    }
                    Some(path) => {
                        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                            std::fs::create_dir_all(dir).map_err(|e| {
                                StoreError::Invalid(format!(
                                    "cannot create the database directory {}: {e}",
                                    dir.display()
                                ))
                            })?;
                        }
                        let pool = options
                            .max_connections(8)
                            .acquire_timeout(Duration::from_secs(30))
                            .connect(&target.url)
                            .await?;
                        // persistent in the file; needs no lock when already WAL
                        pool.execute("PRAGMA journal_mode = WAL").await?;
                        pool
                    }
                }
            }
        };
        migrator(backend).run(&pool).await?;
        Ok(Store { pool, backend })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(backend_of("sqlite::memory:").ok(), Some(Backend::Sqlite));
        assert_eq!(backend_of("sqlite://a.db").ok(), Some(Backend::Sqlite));
        assert_eq!(
            backend_of("postgres://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            backend_of("postgresql://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert!(
            matches!(backend_of("mysql://u:secret@h/db"), Err(StoreError::Invalid(m)) if !m.contains("secret"))
        );
    }

    #[test]
    fn sqlite_urls() {
        let cwd = std::env::current_dir().unwrap();
        let t = sqlite_target("sqlite://./data/centrale.db").unwrap();
        let abs = cwd.join("./data/centrale.db");
        assert_eq!(t.url, format!("sqlite://{}?mode=rwc", abs.display()));
        assert_eq!(t.path, Some(abs));
        let t = sqlite_target("sqlite:../x.db?mode=ro").unwrap();
        assert_eq!(
            t.url,
            format!("sqlite://{}?mode=ro", cwd.join("../x.db").display())
        );
        let t = sqlite_target("sqlite:///var/lib/c%20d/x%3F.db?cache=private").unwrap();
        assert_eq!(
            t.url,
            "sqlite:///var/lib/c%20d/x%3F.db?cache=private&mode=rwc"
        );
        assert_eq!(t.path, Some("/var/lib/c d/x?.db".into()));
        let t = sqlite_target("sqlite::memory:").unwrap();
        assert_eq!(
            t,
            SqliteTarget {
                url: "sqlite::memory:".into(),
                path: None
            }
        );
        assert!(sqlite_target("sqlite://?mode=memory")
            .unwrap()
            .path
            .is_none());
        assert!(sqlite_target("sqlite://").is_err());
        assert!(sqlite_target("sqlite://a%zz.db").is_err());
    }

    /// Every `.sql` file of the migration folders is embedded, with the
    /// version and description `sqlx::migrate!` would give it.
    #[test]
    fn all_migrations_are_embedded() {
        for (dir, list) in [
            ("sqlite", SQLITE_MIGRATIONS),
            ("postgres", POSTGRES_MIGRATIONS),
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dir);
            let mut files: Vec<String> = std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.ends_with(".sql"))
                .collect();
            files.sort();
            let listed: Vec<String> = list
                .iter()
                .map(|(v, d, _)| format!("{v:04}_{d}.sql"))
                .collect();
            assert_eq!(
                files, listed,
                "migrations/{dir} and the embedded list differ"
            );
            for (name, (_, _, sql)) in files.iter().zip(list.iter()) {
                let on_disk = std::fs::read_to_string(path.join(name)).unwrap();
                assert_eq!(&on_disk, sql);
            }
        }
    }
}
