//! An in-memory [`HostBackend`] for tests and the SDK's test bench: tenants'
//! subjects, reachability, settings, key-value data, schedules and the clock,
//! all settable from Rust. It also records log lines and directory queries.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

use super::host::kv::MAX_KEYS;
use super::host::{BoxFuture, HostBackend, Scope};
use super::types::{KvError, LocalTime, LogLevel, Subject};

/// A log line a plugin wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// Tenant of the invocation.
    pub tenant_id: i64,
    /// Plugin that wrote it.
    pub plugin_id: String,
    /// The call's id.
    pub call_id: String,
    /// Severity.
    pub level: LogLevel,
    /// The (truncated) line.
    pub message: String,
}

type KvKey = (i64, String, Option<i64>);

#[derive(Default)]
struct Inner {
    subjects: HashMap<i64, Vec<Subject>>,
    reachable: HashSet<(i64, u64)>,
    tenant_settings: HashMap<(i64, String), Value>,
    subject_settings: HashMap<(i64, String, i64), Value>,
    kv: HashMap<KvKey, BTreeMap<String, Vec<u8>>>,
    kv_unavailable: bool,
    schedules: HashMap<(i64, String), bool>,
    utc_offsets: HashMap<i64, i32>,
    now_ms: Option<u64>,
    logs: Vec<LogRecord>,
    directory_queries: Vec<(i64, String)>,
}

/// A complete in-memory host backend.
#[derive(Default)]
pub struct MemoryBackend {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend").finish_non_exhaustive()
    }
}

impl MemoryBackend {
    /// An empty backend: no subjects, no settings, the real clock, UTC.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds (or replaces, by id) a subject of `tenant_id`.
    pub fn add_subject(&self, tenant_id: i64, subject: Subject) {
        let mut inner = self.lock();
        let list = inner.subjects.entry(tenant_id).or_default();
        list.retain(|s| s.id != subject.id);
        list.push(subject);
    }

    /// Marks a subject reachable (a registered device) or not.
    pub fn set_reachable(&self, tenant_id: i64, subject_id: u64, reachable: bool) {
        let mut inner = self.lock();
        if reachable {
            inner.reachable.insert((tenant_id, subject_id));
        } else {
            inner.reachable.remove(&(tenant_id, subject_id));
        }
    }

    /// Tenant-wide settings of a plugin (a JSON object).
    pub fn set_tenant_settings(&self, tenant_id: i64, plugin_id: &str, settings: Value) {
        self.lock()
            .tenant_settings
            .insert((tenant_id, plugin_id.to_string()), settings);
    }

    /// A subject's own settings of a plugin, merged over the tenant's.
    pub fn set_subject_settings(
        &self,
        tenant_id: i64,
        plugin_id: &str,
        subject_id: i64,
        settings: Value,
    ) {
        self.lock()
            .subject_settings
            .insert((tenant_id, plugin_id.to_string(), subject_id), settings);
    }

    /// Whether the named schedule of the tenant is open (at any time).
    pub fn set_schedule_open(&self, tenant_id: i64, name: &str, open: bool) {
        self.lock()
            .schedules
            .insert((tenant_id, name.to_string()), open);
    }

    /// The tenant's offset from UTC in minutes (default 0).
    pub fn set_utc_offset_minutes(&self, tenant_id: i64, minutes: i32) {
        self.lock().utc_offsets.insert(tenant_id, minutes);
    }

    /// Freezes the clock at `now_ms` (`None`: the real clock).
    pub fn set_now_ms(&self, now_ms: Option<u64>) {
        self.lock().now_ms = now_ms;
    }

    /// Makes every key-value call fail with `unavailable` (or stop failing).
    pub fn set_kv_unavailable(&self, unavailable: bool) {
        self.lock().kv_unavailable = unavailable;
    }

    /// The key-value data of a scope.
    pub fn kv_entries(&self, scope: &Scope) -> BTreeMap<String, Vec<u8>> {
        self.lock()
            .kv
            .get(&kv_key(scope))
            .cloned()
            .unwrap_or_default()
    }

    /// Sets a key-value entry directly.
    pub fn kv_insert(&self, scope: &Scope, key: &str, value: &[u8]) {
        self.lock()
            .kv
            .entry(kv_key(scope))
            .or_default()
            .insert(key.to_string(), value.to_vec());
    }

    /// The log lines written so far.
    pub fn logs(&self) -> Vec<LogRecord> {
        self.lock().logs.clone()
    }

    /// Removes and returns the log lines written so far.
    pub fn take_logs(&self) -> Vec<LogRecord> {
        std::mem::take(&mut self.lock().logs)
    }

    /// Every directory query so far as (tenant id the host passed, query).
    pub fn directory_queries(&self) -> Vec<(i64, String)> {
        self.lock().directory_queries.clone()
    }

    fn find(
        &self,
        tenant_id: i64,
        query: String,
        pred: impl Fn(&Subject) -> bool,
    ) -> Option<Subject> {
        let mut inner = self.lock();
        inner.directory_queries.push((tenant_id, query));
        inner
            .subjects
            .get(&tenant_id)?
            .iter()
            .find(|s| pred(s))
            .cloned()
    }
}

fn kv_key(scope: &Scope) -> KvKey {
    (scope.tenant_id, scope.plugin_id.clone(), scope.subject_id)
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

fn digits(number: &str) -> &str {
    number.strip_prefix('+').unwrap_or(number)
}

impl HostBackend for MemoryBackend {
    fn settings<'a>(&'a self, scope: &'a Scope) -> BoxFuture<'a, String> {
        let inner = self.lock();
        let mut merged = serde_json::Map::new();
        if let Some(Value::Object(t)) = inner
            .tenant_settings
            .get(&(scope.tenant_id, scope.plugin_id.clone()))
        {
            merged.extend(t.clone());
        }
        if let Some(subject) = scope.subject_id {
            let key = (scope.tenant_id, scope.plugin_id.clone(), subject);
            if let Some(Value::Object(s)) = inner.subject_settings.get(&key) {
                merged.extend(s.clone());
            }
        }
        ready(Value::Object(merged).to_string())
    }

    fn kv_get<'a>(
        &'a self,
        scope: &'a Scope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, KvError>> {
        let inner = self.lock();
        if inner.kv_unavailable {
            return ready(Err(KvError::Unavailable("kv store down".to_string())));
        }
        ready(Ok(inner
            .kv
            .get(&kv_key(scope))
            .and_then(|m| m.get(key))
            .cloned()))
    }

    fn kv_set<'a>(
        &'a self,
        scope: &'a Scope,
        key: &'a str,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), KvError>> {
        let mut inner = self.lock();
        if inner.kv_unavailable {
            return ready(Err(KvError::Unavailable("kv store down".to_string())));
        }
        let map = inner.kv.entry(kv_key(scope)).or_default();
        if !map.contains_key(key) && map.len() >= MAX_KEYS {
            return ready(Err(KvError::QuotaExceeded));
        }
        map.insert(key.to_string(), value);
        ready(Ok(()))
    }

    fn kv_delete<'a>(
        &'a self,
        scope: &'a Scope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), KvError>> {
        let mut inner = self.lock();
        if inner.kv_unavailable {
            return ready(Err(KvError::Unavailable("kv store down".to_string())));
        }
        if let Some(map) = inner.kv.get_mut(&kv_key(scope)) {
            map.remove(key);
        }
        ready(Ok(()))
    }

    fn kv_list<'a>(&'a self, scope: &'a Scope, prefix: &'a str) -> BoxFuture<'a, Vec<String>> {
        let inner = self.lock();
        let keys = inner
            .kv
            .get(&kv_key(scope))
            .map(|m| {
                m.keys()
                    .filter(|k| k.starts_with(prefix))
                    .take(MAX_KEYS)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        ready(keys)
    }

    fn directory_by_extension<'a>(
        &'a self,
        tenant_id: i64,
        extension: &'a str,
    ) -> BoxFuture<'a, Option<Subject>> {
        ready(self.find(tenant_id, format!("extension {extension}"), |s| {
            s.extension.as_deref() == Some(extension)
        }))
    }

    fn directory_by_number<'a>(
        &'a self,
        tenant_id: i64,
        number: &'a str,
    ) -> BoxFuture<'a, Option<Subject>> {
        let wanted = digits(number);
        ready(self.find(tenant_id, format!("number {number}"), |s| {
            s.numbers.iter().any(|n| digits(n) == wanted)
        }))
    }

    fn directory_by_id(&self, tenant_id: i64, id: u64) -> BoxFuture<'_, Option<Subject>> {
        ready(self.find(tenant_id, format!("id {id}"), |s| s.id == id))
    }

    fn is_reachable(&self, tenant_id: i64, id: u64) -> BoxFuture<'_, bool> {
        ready(self.lock().reachable.contains(&(tenant_id, id)))
    }

    fn schedule_is_open<'a>(
        &'a self,
        tenant_id: i64,
        name: &'a str,
        _now_ms: u64,
    ) -> BoxFuture<'a, Option<bool>> {
        ready(
            self.lock()
                .schedules
                .get(&(tenant_id, name.to_string()))
                .copied(),
        )
    }

    fn local_time(&self, tenant_id: i64, now_ms: u64) -> LocalTime {
        let offset = self
            .lock()
            .utc_offsets
            .get(&tenant_id)
            .copied()
            .unwrap_or(0);
        local_time_at(now_ms as i64 + i64::from(offset) * 60_000)
    }

    fn now_ms(&self) -> u64 {
        if let Some(now) = self.lock().now_ms {
            return now;
        }
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    fn log(&self, scope: &Scope, call_id: &str, level: LogLevel, message: &str) {
        self.lock().logs.push(LogRecord {
            tenant_id: scope.tenant_id,
            plugin_id: scope.plugin_id.clone(),
            call_id: call_id.to_string(),
            level,
            message: message.to_string(),
        });
    }
}

/// The calendar time of a Unix millisecond instant (already shifted to the
/// local zone), by Howard Hinnant's days-to-civil algorithm.
pub fn local_time_at(ms: i64) -> LocalTime {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // 1970-01-01 was a Thursday (ISO weekday 4).
    let weekday = (days + 3).rem_euclid(7) + 1;
    LocalTime {
        year: year.clamp(0, i64::from(u16::MAX)) as u16,
        month: month as u8,
        day: day as u8,
        hour: (of_day / 3600) as u8,
        minute: (of_day % 3600 / 60) as u8,
        weekday: weekday as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        // 2026-03-02 14:05 UTC, a Monday.
        let t = local_time_at(1_772_460_300_000);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.weekday),
            (2026, 3, 2, 14, 5, 1)
        );
        let epoch = local_time_at(0);
        assert_eq!(
            (epoch.year, epoch.month, epoch.day, epoch.weekday),
            (1970, 1, 1, 4)
        );
        // 2024-02-29 23:59, a Thursday.
        let leap = local_time_at(1_709_251_140_000);
        assert_eq!(
            (leap.month, leap.day, leap.hour, leap.minute, leap.weekday),
            (2, 29, 23, 59, 4)
        );
    }
}
