//! The plugin manifest, `plugin.toml`.
//!
//! ```toml
//! id = "anonymous-call-rejection"      # [a-z0-9-]+
//! version = "0.1.0"                    # semver
//! name = "Anonymous call rejection"
//! description = "..."
//! wit = "0.2"                          # the centrale:plugin line it was built against (0.1 or 0.2)
//! licence-scope = "user"               # tenant | user | service
//! capabilities = ["log", "settings"]   # host interfaces it imports (`log` is implicit)
//! timer-interval-secs = 3600           # optional (0.2): call `timers.on-timer` per enabled subject
//! [hooks]                              # hook name -> priority (lower runs first)
//! terminate = 200
//! [settings]
//! schema = '''{ "type": "object", "properties": { } }'''   # JSON Schema (subset, see schema.rs)
//! ```
//!
//! Unknown fields are refused, so a typo never silently disables something.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::schema;

/// The `centrale:plugin` lines this host serves (`0.1.x` and `0.2.x`).
pub const WIT_LINES: [(u64, u64); 2] = [(0, 1), (0, 2)];

/// A `centrale:plugin` line a plugin was built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WitLine {
    /// 0.1: hooks only.
    V0_1,
    /// 0.2: hooks, sessions, timers and the session-era host interfaces.
    V0_2,
}

impl WitLine {
    /// The line of a `major.minor`, when served.
    pub fn from_parts(major: u64, minor: u64) -> Option<WitLine> {
        match (major, minor) {
            (0, 1) => Some(WitLine::V0_1),
            (0, 2) => Some(WitLine::V0_2),
            _ => None,
        }
    }

    /// `"0.1"` or `"0.2"`.
    pub fn name(self) -> &'static str {
        match self {
            WitLine::V0_1 => "0.1",
            WitLine::V0_2 => "0.2",
        }
    }
}

/// Shortest accepted `timer-interval-secs`.
pub const MIN_TIMER_INTERVAL_SECS: u32 = 10;

/// Longest accepted plugin id, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// A problem in a manifest, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The manifest field at fault (e.g. `id`, `hooks.terminate`, `settings.schema`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ManifestError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "`{}`: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ManifestError {}

/// For which subjects a licence of the plugin is granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LicenceScope {
    /// One licence covers the whole tenant.
    Tenant,
    /// Licensed per user subject.
    User,
    /// Licensed per service subject.
    Service,
}

/// A host interface a plugin may import; the name is the WIT interface name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// `centrale:plugin/log` — always granted, declaring it is optional.
    Log,
    /// `centrale:plugin/settings` — read the plugin's settings.
    Settings,
    /// `centrale:plugin/kv` — the (tenant, plugin, subject) key-value store.
    Kv,
    /// `centrale:plugin/directory` — read the tenant's subjects.
    Directory,
    /// `centrale:plugin/schedule` — schedules and the time.
    Schedule,
    /// `centrale:plugin/call-control` (0.2) — drive a taken-over call.
    CallControl,
    /// `centrale:plugin/prompts` (0.2) — spoken digits, numbers and dates.
    Prompts,
    /// `centrale:plugin/blobs` (0.2) — durable recordings and greetings.
    Blobs,
    /// `centrale:plugin/mail` (0.2) — mail through the outbox.
    Mail,
    /// `centrale:plugin/message-waiting` (0.2) — MWI on phones.
    MessageWaiting,
}

impl Capability {
    /// Every capability this host serves.
    pub const ALL: [Capability; 10] = [
        Capability::Log,
        Capability::Settings,
        Capability::Kv,
        Capability::Directory,
        Capability::Schedule,
        Capability::CallControl,
        Capability::Prompts,
        Capability::Blobs,
        Capability::Mail,
        Capability::MessageWaiting,
    ];

    /// The WIT interface name (`kv`, `directory`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Settings => "settings",
            Capability::Kv => "kv",
            Capability::Directory => "directory",
            Capability::Schedule => "schedule",
            Capability::CallControl => "call-control",
            Capability::Prompts => "prompts",
            Capability::Blobs => "blobs",
            Capability::Mail => "mail",
            Capability::MessageWaiting => "message-waiting",
        }
    }

    /// The first line that has this interface.
    pub fn since(self) -> WitLine {
        match self {
            Capability::Log
            | Capability::Settings
            | Capability::Kv
            | Capability::Directory
            | Capability::Schedule => WitLine::V0_1,
            _ => WitLine::V0_2,
        }
    }

    /// The capability for a WIT interface name, if the host serves it.
    pub fn from_name(name: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// A hook of the `hooks` interface; manifest keys are `originate`,
/// `terminate`, `no-answer`, `busy`, `unreachable`, `call-ended` (the WIT
/// names `on-…` are accepted too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hook {
    /// `on-originate`.
    #[serde(alias = "on-originate")]
    Originate,
    /// `on-terminate`.
    #[serde(alias = "on-terminate")]
    Terminate,
    /// `on-no-answer`.
    #[serde(alias = "on-no-answer")]
    NoAnswer,
    /// `on-busy`.
    #[serde(alias = "on-busy")]
    Busy,
    /// `on-unreachable`.
    #[serde(alias = "on-unreachable")]
    Unreachable,
    /// `on-call-ended`.
    #[serde(alias = "on-call-ended")]
    CallEnded,
}

impl Hook {
    /// The manifest key of the hook.
    pub fn name(self) -> &'static str {
        match self {
            Hook::Originate => "originate",
            Hook::Terminate => "terminate",
            Hook::NoAnswer => "no-answer",
            Hook::Busy => "busy",
            Hook::Unreachable => "unreachable",
            Hook::CallEnded => "call-ended",
        }
    }
}

/// The `[settings]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsSection {
    /// JSON Schema of the settings object, as JSON text (subset, see `schema.rs`).
    pub schema: String,
}

/// A parsed `plugin.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    /// Catalogue id, `[a-z0-9-]+`.
    pub id: String,
    /// Semantic version of the plugin.
    pub version: String,
    /// Display name.
    pub name: String,
    /// What the plugin does, for admins.
    #[serde(default)]
    pub description: String,
    /// The `centrale:plugin` version it was built against (`0.1`, `0.2`,
    /// or with a patch number).
    pub wit: String,
    /// Licence scope.
    pub licence_scope: LicenceScope,
    /// Host interfaces it imports.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Hooks it handles with their priorities (lower runs first).
    #[serde(default)]
    pub hooks: BTreeMap<Hook, u32>,
    /// Settings schema, when the plugin has settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<SettingsSection>,
    /// How often `timers.on-timer` runs for each enabled subject (0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer_interval_secs: Option<u32>,
}

impl Manifest {
    /// Parses and validates `plugin.toml` text.
    pub fn from_toml(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::new("", e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks every field; the error names the first field at fault.
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.id.is_empty() || self.id.len() > MAX_ID_LEN {
            return Err(ManifestError::new(
                "id",
                format!("must be 1 to {MAX_ID_LEN} characters"),
            ));
        }
        if !self
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || self.id.starts_with('-')
            || self.id.ends_with('-')
        {
            return Err(ManifestError::new(
                "id",
                format!(
                    "`{}` must match [a-z0-9-]+ (and not start or end with '-')",
                    self.id
                ),
            ));
        }
        semver::Version::parse(&self.version).map_err(|e| {
            ManifestError::new(
                "version",
                format!("`{}` is not a semantic version: {e}", self.version),
            )
        })?;
        if self.name.trim().is_empty() || self.name.len() > 100 {
            return Err(ManifestError::new("name", "must be 1 to 100 characters"));
        }
        if self.description.len() > 4096 {
            return Err(ManifestError::new(
                "description",
                "must be at most 4096 characters",
            ));
        }
        let line = check_wit(&self.wit)?;
        let mut seen = BTreeSet::new();
        for cap in &self.capabilities {
            if !seen.insert(*cap) {
                return Err(ManifestError::new(
                    "capabilities",
                    format!("`{}` is listed twice", cap.name()),
                ));
            }
            if cap.since() > line {
                return Err(ManifestError::new(
                    "capabilities",
                    format!(
                        "`{}` needs wit = \"{}\" (this manifest says {})",
                        cap.name(),
                        cap.since().name(),
                        self.wit
                    ),
                ));
            }
        }
        if let Some(secs) = self.timer_interval_secs {
            if line < WitLine::V0_2 || secs < MIN_TIMER_INTERVAL_SECS {
                return Err(ManifestError::new(
                    "timer-interval-secs",
                    format!("needs wit = \"0.2\" and at least {MIN_TIMER_INTERVAL_SECS} seconds"),
                ));
            }
        }
        if self.hooks.is_empty() {
            return Err(ManifestError::new(
                "hooks",
                "lists no hook: add e.g. `terminate = 200` under [hooks]",
            ));
        }
        if let Some(section) = &self.settings {
            if section.schema.trim().is_empty() {
                return Err(ManifestError::new("settings.schema", "is empty"));
            }
            if let Some(schema) = self.settings_schema()? {
                schema::check_schema(&schema)
                    .map_err(|e| ManifestError::new("settings.schema", e))?;
            }
        }
        Ok(())
    }

    /// The capabilities in effect: the declared ones plus `log`.
    pub fn granted(&self) -> BTreeSet<Capability> {
        let mut set: BTreeSet<Capability> = self.capabilities.iter().copied().collect();
        set.insert(Capability::Log);
        set
    }

    /// Whether the manifest grants `cap` (`log` always).
    pub fn grants(&self, cap: Capability) -> bool {
        cap == Capability::Log || self.capabilities.contains(&cap)
    }

    /// The line the manifest says the plugin was built against.
    pub fn wit_line(&self) -> WitLine {
        check_wit(&self.wit).unwrap_or(WitLine::V0_1)
    }

    /// The priority of `hook`, when the plugin handles it.
    pub fn priority(&self, hook: Hook) -> Option<u32> {
        self.hooks.get(&hook).copied()
    }

    /// The parsed settings schema, `None` when the manifest has none.
    pub fn settings_schema(&self) -> Result<Option<serde_json::Value>, ManifestError> {
        match &self.settings {
            None => Ok(None),
            Some(section) => serde_json::from_str(&section.schema)
                .map(Some)
                .map_err(|e| ManifestError::new("settings.schema", format!("invalid JSON: {e}"))),
        }
    }

    /// Validates settings an admin wants to store against the schema. Without
    /// a schema any JSON object is accepted.
    pub fn validate_settings(&self, value: &serde_json::Value) -> Result<(), String> {
        if !value.is_object() {
            return Err("$: settings must be a JSON object".to_string());
        }
        match self.settings_schema().map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(schema) => schema::validate(&schema, value),
        }
    }
}

/// Accepts `0.1`, `0.2` and their `x.y.z` forms (the lines this host serves).
fn check_wit(wit: &str) -> Result<WitLine, ManifestError> {
    let parts: Vec<&str> = wit.split('.').collect();
    let nums: Option<Vec<u64>> = parts.iter().map(|p| p.parse().ok()).collect();
    match nums.as_deref() {
        Some([major, minor]) | Some([major, minor, _]) => WitLine::from_parts(*major, *minor)
            .ok_or_else(|| {
                ManifestError::new(
                    "wit",
                    format!("`{wit}`: this host serves centrale:plugin 0.1 and 0.2"),
                )
            }),
        _ => Err(ManifestError::new(
            "wit",
            format!("`{wit}` is not a version like \"0.1\""),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "anonymous-call-rejection"
version = "0.1.0"
name = "Anonymous call rejection"
description = "Rejects anonymous callers."
wit = "0.1"
licence-scope = "user"
capabilities = ["log", "settings"]
[hooks]
terminate = 200
[settings]
schema = '''{ "type": "object", "properties": { "code": { "type": "integer", "minimum": 400, "maximum": 699 } }, "additionalProperties": false }'''
"#;

    #[test]
    fn parses_and_validates() {
        let m = Manifest::from_toml(GOOD).unwrap();
        assert_eq!(m.priority(Hook::Terminate), Some(200));
        assert_eq!(m.priority(Hook::Busy), None);
        assert!(m.grants(Capability::Settings));
        assert!(m.grants(Capability::Log));
        assert!(!m.grants(Capability::Kv));
        assert!(m
            .validate_settings(&serde_json::json!({"code": 433}))
            .is_ok());
        let err = m
            .validate_settings(&serde_json::json!({"code": 200}))
            .unwrap_err();
        assert!(err.contains("$.code"), "{err}");
        assert!(m.validate_settings(&serde_json::json!({"x": 1})).is_err());
    }

    #[test]
    fn errors_name_the_field() {
        let bad_id = GOOD.replace("anonymous-call-rejection", "Anon_Call");
        assert_eq!(Manifest::from_toml(&bad_id).unwrap_err().field, "id");
        let bad_version = GOOD.replace("version = \"0.1.0\"", "version = \"1\"");
        assert_eq!(
            Manifest::from_toml(&bad_version).unwrap_err().field,
            "version"
        );
        let bad_wit = GOOD.replace("wit = \"0.1\"", "wit = \"0.3\"");
        assert_eq!(Manifest::from_toml(&bad_wit).unwrap_err().field, "wit");
        let new_cap_old_line = GOOD.replace("\"settings\"]", "\"settings\", \"mail\"]");
        let err = Manifest::from_toml(&new_cap_old_line).unwrap_err();
        assert_eq!(err.field, "capabilities");
        assert!(err.message.contains("0.2"), "{err}");
        assert!(
            Manifest::from_toml(&new_cap_old_line.replace("wit = \"0.1\"", "wit = \"0.2\""))
                .is_ok()
        );
        let unknown = format!("{GOOD}\n[extra]\nx = 1\n");
        let err = Manifest::from_toml(&unknown).unwrap_err();
        assert!(err.message.contains("extra"), "{err}");
        let bad_cap = GOOD.replace("\"settings\"]", "\"email\"]");
        let err = Manifest::from_toml(&bad_cap).unwrap_err();
        assert!(err.message.contains("email"), "{err}");
        let bad_schema = GOOD.replace("\"minimum\"", "\"pattern\": \"x\", \"minimum\"");
        let err = Manifest::from_toml(&bad_schema).unwrap_err();
        assert_eq!(err.field, "settings.schema");
        assert!(err.message.contains("pattern"), "{err}");
    }

    #[test]
    fn hook_aliases() {
        let m = Manifest::from_toml(&GOOD.replace("terminate = 200", "on-busy = 900")).unwrap();
        assert_eq!(m.priority(Hook::Busy), Some(900));
    }
}
