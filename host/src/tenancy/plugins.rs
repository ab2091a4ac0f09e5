//! Plugins as the tenancy sees them: the catalogue, licences, assignments
//! (which subject has which plugin enabled, with which settings),
//! suspensions, the key-value scope of a plugin instance, and schedules
//! (business hours and holidays) with the pure rules that evaluate them.
//!
//! The rows are kept by [`Store`](crate::store::Store) (`store/plugins.rs`,
//! `store/licences.rs`, `store/kv.rs`, `store/schedules.rs`); everything here
//! that does not need the database is a pure function, tested below.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One installed version of a plugin in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPlugin {
    /// Plugin id from the manifest (e.g. `anonymous-rejection`).
    pub id: String,
    /// Semantic version from the manifest (e.g. `1.2.0`).
    pub version: String,
    /// `None`: installed by the operator for every tenant; `Some(t)`: a
    /// private plugin of tenant `t`.
    pub tenant_id: Option<i64>,
    /// The manifest (`plugin.toml`) as installed.
    pub manifest: String,
    /// Lowercase hex SHA-256 of the component bytes (see
    /// [`Store::plugin_component`](crate::store::Store::plugin_component)).
    pub wasm_sha256: String,
    /// Unix ms.
    pub installed_at: i64,
    /// Whether this version may run: operator installs are; a private
    /// version asking for capabilities beyond those of the tenant's last
    /// approved version waits for the operator (`plugin approve`).
    pub approved: bool,
}

/// The catalogue id of a tenant's private plugin whose manifest says
/// `manifest_id`: `<manifest_id>@<tenant domain>`. Private ids live in
/// their tenant's namespace, so no tenant can take an id the operator or
/// another tenant uses.
pub fn private_plugin_id(manifest_id: &str, tenant_domain: &str) -> String {
    format!("{manifest_id}@{tenant_domain}")
}

/// A licence: how many subjects of a tenant may have a plugin enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Licence {
    /// The tenant.
    pub tenant_id: i64,
    /// The plugin (manifest id).
    pub plugin_id: String,
    /// Subjects allowed (a tenant-wide enablement counts as one); 0 = revoked.
    pub quantity: i64,
    /// Enabled assignments now.
    pub used: i64,
    /// Unix ms of the last grant.
    pub granted_at: i64,
}

/// A plugin assigned to a subject (or tenant-wide): enabled or not, and its
/// settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The tenant.
    pub tenant_id: i64,
    /// The plugin (manifest id).
    pub plugin_id: String,
    /// The subject (a user id); `None` for the tenant-wide assignment, which
    /// holds the tenant's default settings and, when enabled, runs the plugin
    /// for every subject.
    pub subject_id: Option<i64>,
    /// Whether the plugin runs for the subject (and uses a licence unit).
    pub enabled: bool,
    /// The settings stored for this subject (a JSON object), not merged.
    pub settings_json: String,
    /// Unix ms.
    pub updated_at: i64,
}

/// Why a plugin does not run for a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    /// The tenant.
    pub tenant_id: i64,
    /// The plugin (manifest id).
    pub plugin_id: String,
    /// Shown to the tenant admin (e.g. `trapped 10 times in a row`).
    pub reason: String,
    /// Unix ms.
    pub suspended_at: i64,
}

/// A plugin that runs for a subject now: enabled for it (or tenant-wide),
/// licensed, not suspended; the newest version the tenant can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivePlugin {
    /// The plugin (manifest id).
    pub plugin_id: String,
    /// The newest version the tenant can see.
    pub version: String,
    /// The manifest (`plugin.toml`) of that version.
    pub manifest: String,
    /// Content hash of the component of that version.
    pub wasm_sha256: String,
    /// The subject's settings merged over the tenant-wide settings
    /// ([`merge_settings`]), a JSON object.
    pub settings_json: String,
}

/// The key-value namespace of one plugin instance: what it may read and
/// write, and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KvScope {
    /// The tenant.
    pub tenant_id: i64,
    /// The plugin (manifest id).
    pub plugin_id: String,
    /// The subject the instance runs for; `None` for the plugin's tenant-wide
    /// namespace.
    pub subject_id: Option<i64>,
}

/// Settings in effect for a subject: `subject` merged over `tenant`. Objects
/// are merged key by key, recursively; any other value of `subject`
/// (including arrays and `null`) replaces the tenant's.
pub fn merge_settings(tenant: &Value, subject: &Value) -> Value {
    match (tenant, subject) {
        (Value::Object(base), Value::Object(over)) => {
            let mut out = base.clone();
            for (k, v) in over {
                let merged = match out.get(k) {
                    Some(b) => merge_settings(b, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (_, over) => over.clone(),
    }
}

/// Orders two semantic versions (`MAJOR.MINOR.PATCH[-PRE][+BUILD]`) by
/// semver precedence; `None` when either is not a semantic version.
pub fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (parse_version(a)?, parse_version(b)?);
    let core = (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2));
    if core != Ordering::Equal {
        return Some(core);
    }
    Some(match (a.3.is_empty(), b.3.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            for (x, y) in a.3.iter().zip(b.3.iter()) {
                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return Some(o);
                }
            }
            a.3.len().cmp(&b.3.len())
        }
    })
}

/// True when `v` is a semantic version (`1.2.3`, `1.0.0-rc.1`, `2.0.0+b7`).
pub fn is_version(v: &str) -> bool {
    parse_version(v).is_some()
}

type ParsedVersion<'a> = (u64, u64, u64, Vec<&'a str>);

fn parse_version(v: &str) -> Option<ParsedVersion<'_>> {
    let ident_ok =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let (v, build) = match v.split_once('+') {
        Some((v, b)) => (v, Some(b)),
        None => (v, None),
    };
    if let Some(b) = build {
        if !b.split('.').all(ident_ok) {
            return None;
        }
    }
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, p.split('.').collect::<Vec<_>>()),
        None => (v, Vec::new()),
    };
    if !pre.iter().all(|p| ident_ok(p)) {
        return None;
    }
    let num = |s: &str| {
        let ok = !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s == "0" || !s.starts_with('0'));
        if ok {
            s.parse::<u64>().ok()
        } else {
            None
        }
    };
    let mut parts = core.split('.');
    let major = num(parts.next()?)?;
    let minor = num(parts.next()?)?;
    let patch = num(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor, patch, pre))
}

/// A named weekly schedule of a tenant, stored as JSON:
///
/// ```json
/// { "time_zone_offset_minutes": 60,
///   "periods": [ { "weekday": 1, "from": "09:00", "to": "17:30" } ],
///   "holidays": [ "2026-12-25" ] }
/// ```
///
/// Open inside a period (from inclusive, to exclusive; `to` may be `24:00`)
/// and not on a holiday, both in local time: UTC plus the fixed offset
/// (no daylight-saving rules; update the offset when the clocks change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Minutes east of UTC (e.g. 60 for CET, -300 for EST); 0 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone_offset_minutes: Option<i32>,
    /// Weekly open periods.
    #[serde(default)]
    pub periods: Vec<Period>,
    /// Local dates (`YYYY-MM-DD`) on which the schedule is closed all day.
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// One weekly open period of a [`Schedule`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// 1 = Monday ... 7 = Sunday (ISO 8601).
    pub weekday: u8,
    /// Opening time, `HH:MM` (inclusive).
    pub from: String,
    /// Closing time, `HH:MM` or `24:00` (exclusive), after `from`.
    pub to: String,
}

impl Schedule {
    /// Parses and checks a schedule; the error names the faulty field.
    pub fn from_json(json: &str) -> Result<Schedule, String> {
        let value: Value =
            serde_json::from_str(json).map_err(|e| format!("schedule is not valid JSON: {e}"))?;
        if !value.is_object() {
            return Err("schedule is not a JSON object".into());
        }
        let s: Schedule =
            serde_json::from_value(value).map_err(|e| format!("schedule is not valid: {e}"))?;
        s.validate()?;
        Ok(s)
    }

    /// Checks offsets, weekdays, times and dates.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(off) = self.time_zone_offset_minutes {
            if !(-720..=840).contains(&off) {
                return Err(format!(
                    "time_zone_offset_minutes {off} is not valid: use -720 to 840"
                ));
            }
        }
        for (i, p) in self.periods.iter().enumerate() {
            if !(1..=7).contains(&p.weekday) {
                return Err(format!(
                    "period {}: weekday {} is not valid: use 1 (Monday) to 7 (Sunday)",
                    i + 1,
                    p.weekday
                ));
            }
            let from = parse_hhmm(&p.from, false)
                .ok_or_else(|| format!("period {}: from {:?} is not HH:MM", i + 1, p.from))?;
            let to = parse_hhmm(&p.to, true)
                .ok_or_else(|| format!("period {}: to {:?} is not HH:MM", i + 1, p.to))?;
            if to <= from {
                return Err(format!(
                    "period {}: to {} is not after from {} (split a period that crosses midnight in two)",
                    i + 1,
                    p.to,
                    p.from
                ));
            }
        }
        for h in &self.holidays {
            if parse_date(h).is_none() {
                return Err(format!("holiday {h:?} is not a date YYYY-MM-DD"));
            }
        }
        Ok(())
    }

    /// Whether the schedule is open at `now_ms` (unix ms).
    pub fn is_open(&self, now_ms: i64) -> bool {
        is_open(self, now_ms)
    }
}

/// Whether `schedule` is open at `now_ms` (unix ms): inside one of its
/// periods and not on one of its holidays, in its local time. Invalid periods
/// or holidays (which [`Schedule::validate`] refuses) never match.
pub fn is_open(schedule: &Schedule, now_ms: i64) -> bool {
    let t = local_time(now_ms, schedule.time_zone_offset_minutes.unwrap_or(0));
    let today = (t.year, t.month, t.day);
    if schedule
        .holidays
        .iter()
        .any(|h| parse_date(h) == Some(today))
    {
        return false;
    }
    let minute = u32::from(t.hour) * 60 + u32::from(t.minute);
    schedule.periods.iter().any(|p| {
        p.weekday == t.weekday
            && matches!(
                (parse_hhmm(&p.from, false), parse_hhmm(&p.to, true)),
                (Some(from), Some(to)) if from <= minute && minute < to
            )
    })
}

/// A local date and time (the WIT `schedule.local-time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// Year, e.g. 2026.
    pub year: i32,
    /// 1-12.
    pub month: u8,
    /// 1-31.
    pub day: u8,
    /// 0-23.
    pub hour: u8,
    /// 0-59.
    pub minute: u8,
    /// 1 = Monday ... 7 = Sunday.
    pub weekday: u8,
}

/// The local time at `now_ms` (unix ms) in a zone `offset_minutes` east of UTC.
pub fn local_time(now_ms: i64, offset_minutes: i32) -> LocalTime {
    let local_min = now_ms.div_euclid(60_000) + i64::from(offset_minutes);
    let days = local_min.div_euclid(1440);
    let min_of_day = local_min.rem_euclid(1440);
    let (year, month, day) = civil_from_days(days);
    LocalTime {
        year,
        month,
        day,
        hour: (min_of_day / 60) as u8,
        minute: (min_of_day % 60) as u8,
        // 1970-01-01 was a Thursday (4)
        weekday: ((days + 3).rem_euclid(7) + 1) as u8,
    }
}

/// Year, month, day of a day number (days since 1970-01-01), proleptic
/// Gregorian (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m as u8, d as u8)
}

/// Minutes since midnight of `HH:MM`; `24:00` only when `allow_24`.
fn parse_hhmm(s: &str, allow_24: bool) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    match (h, m) {
        (24, 0) if allow_24 => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

/// `(year, month, day)` of a valid `YYYY-MM-DD`.
fn parse_date(s: &str) -> Option<(i32, u8, u8)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i32 = s.get(0..4)?.parse().ok()?;
    let m: u8 = s.get(5..7)?.parse().ok()?;
    let d: u8 = s.get(8..10)?.parse().ok()?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days).contains(&d).then_some((y, m, d))
}

#[cfg(test)]
#[path = "plugins_tests.rs"]
mod tests;
