//! [`DbBackend`]: the runtime's [`HostBackend`] over the [`Store`], the state
//! plugins read and write in the real host.
//!
//! - settings: the subject's merged over the tenant-wide ones
//!   ([`Store::effective_plugin_settings`]);
//! - kv: [`Store::kv_get`] and friends, scoped by the invocation's
//!   (tenant, plugin, subject);
//! - directory: the users of the invocation's tenant (subjects of kind user,
//!   id = user id); reachable = at least one unexpired registration;
//! - schedule: the tenant's schedules ([`Store::is_open`]); the tenant's local
//!   time uses the UTC offset of its [`TIME_ZONE_SCHEDULE`] schedule (UTC
//!   without one), kept in memory because [`HostBackend::local_time`] cannot
//!   wait for the database.
//!
//! A database failure never fails the call: reads answer "nothing" (and a kv
//! write `unavailable`), and the failure is logged.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use crate::runtime::host::{BlobError, BlobInfo, MailError, MailMessage};
use crate::runtime::types::{KvError as WitKvError, LocalTime, Subject, SubjectKind};
use crate::runtime::{BoxFuture, HostBackend, Scope};
use crate::store::{KvError, Store};
use crate::tenancy::plugins::{local_time, KvScope};
use crate::tenancy::User;

fn no_storage() -> BlobError {
    BlobError::Unavailable("no blob store configured".into())
}

/// The schedule whose `time_zone_offset_minutes` is the tenant's time zone.
pub const TIME_ZONE_SCHEDULE: &str = "business-hours";

/// (tenant, plugin, subject).
type ScopeKey = (i64, String, Option<i64>);

/// The database-backed host backend. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct DbBackend {
    store: Store,
    /// Tenant id → minutes east of UTC, from [`TIME_ZONE_SCHEDULE`].
    offsets: RwLock<HashMap<i64, i32>>,
    /// A frozen clock for tests (0: the real clock).
    fixed_now_ms: AtomicU64,
    /// Settings handed over by the switch, by (tenant, plugin, subject).
    primed: std::sync::Mutex<HashMap<ScopeKey, String>>,
    /// Blobs and mail (`None`: plugins get `unavailable`).
    storage: Option<super::storage::Storage>,
}

fn kv_scope(scope: &Scope) -> KvScope {
    KvScope {
        tenant_id: scope.tenant_id,
        plugin_id: scope.plugin_id.clone(),
        subject_id: scope.subject_id,
    }
}

fn subject_of(u: User) -> Option<Subject> {
    Some(Subject {
        id: u64::try_from(u.id).ok()?,
        kind: SubjectKind::User,
        extension: Some(u.extension),
        numbers: u.numbers,
        display_name: u.display_name,
    })
}

/// The guest-facing form of a store kv error (internals stay in the log).
fn wit_kv_error(scope: &Scope, e: KvError) -> WitKvError {
    match e {
        KvError::InvalidKey(_) => WitKvError::InvalidKey,
        KvError::QuotaExceeded(_) => WitKvError::QuotaExceeded,
        KvError::Store(e) => {
            tracing::warn!(
                tenant = scope.tenant_id,
                plugin = %scope.plugin_id,
                "kv write failed: {e}"
            );
            WitKvError::Unavailable("the key-value store is unavailable".into())
        }
    }
}

impl DbBackend {
    /// A backend over `store`, with the tenants' time zones loaded.
    pub async fn new(store: Store) -> Result<DbBackend, crate::store::StoreError> {
        let backend = DbBackend {
            store,
            offsets: RwLock::default(),
            fixed_now_ms: AtomicU64::new(0),
            primed: std::sync::Mutex::new(HashMap::new()),
            storage: None,
        };
        backend.refresh_time_zones().await?;
        Ok(backend)
    }

    /// Gives plugins blobs and mail.
    pub fn with_storage(mut self, storage: super::storage::Storage) -> Self {
        self.storage = Some(storage);
        self
    }

    /// Reloads every tenant's time zone (after schedules changed in another
    /// process; changes through [`Store::set_schedule`] in this process are
    /// also picked up when a plugin asks for that schedule).
    pub async fn refresh_time_zones(&self) -> Result<(), crate::store::StoreError> {
        let all = self.store.schedules_named(TIME_ZONE_SCHEDULE).await?;
        let map = all
            .into_iter()
            .map(|(t, s)| (t, s.time_zone_offset_minutes.unwrap_or(0)))
            .collect();
        if let Ok(mut offsets) = self.offsets.write() {
            *offsets = map;
        }
        Ok(())
    }

    /// Freezes the clock at `now_ms` (`None`: the real clock), for tests.
    pub fn set_now_ms(&self, now_ms: Option<u64>) {
        self.fixed_now_ms
            .store(now_ms.unwrap_or(0), Ordering::Relaxed);
    }

    fn set_offset(&self, tenant_id: i64, offset: Option<i32>) {
        if let Ok(mut offsets) = self.offsets.write() {
            match offset {
                Some(o) => offsets.insert(tenant_id, o),
                None => offsets.remove(&tenant_id),
            };
        }
    }

    async fn user_by_number(&self, tenant_id: i64, number: &str) -> Option<Subject> {
        // Any spelling, read in the tenant's country: one canonical key.
        let tenant = match self.store.tenant(tenant_id).await {
            Ok(Some(t)) => t,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(tenant = tenant_id, "directory lookup failed: {e}");
                return None;
            }
        };
        let n = super::numbers::canonical(number, &tenant.country_code).ok()?;
        match self.store.user_by_number(&n).await {
            Ok(Some((t, u))) if t.id == tenant_id => subject_of(u),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(tenant = tenant_id, "directory lookup failed: {e}");
                None
            }
        }
    }
}

/// Logs a failed read and answers `fallback`.
fn or_log<T>(r: Result<T, impl std::fmt::Display>, tenant_id: i64, what: &str, fallback: T) -> T {
    r.unwrap_or_else(|e| {
        tracing::warn!(tenant = tenant_id, "{what} failed: {e}");
        fallback
    })
}

impl HostBackend for DbBackend {
    fn blob_put<'a>(
        &'a self,
        scope: &'a Scope,
        name: &'a str,
        data: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), BlobError>> {
        Box::pin(async move {
            match &self.storage {
                Some(s) => s.put(&self.store, scope, name, data).await,
                None => Err(no_storage()),
            }
        })
    }

    fn blob_put_file<'a>(
        &'a self,
        scope: &'a Scope,
        name: &'a str,
        path: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<u64, BlobError>> {
        Box::pin(async move {
            match &self.storage {
                Some(s) => s.put_file(&self.store, scope, name, path).await,
                None => Err(no_storage()),
            }
        })
    }

    fn blob_get<'a>(
        &'a self,
        scope: &'a Scope,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u8>, BlobError>> {
        Box::pin(async move {
            match &self.storage {
                Some(s) => s.get(&self.store, scope, name).await,
                None => Err(no_storage()),
            }
        })
    }

    fn blob_copy<'a>(
        &'a self,
        scope: &'a Scope,
        from: &'a str,
        to: &'a str,
    ) -> BoxFuture<'a, Result<(), BlobError>> {
        Box::pin(async move {
            match &self.storage {
                Some(s) => s.copy(&self.store, scope, from, to).await,
                None => Err(no_storage()),
            }
        })
    }

    fn blob_delete<'a>(
        &'a self,
        scope: &'a Scope,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), BlobError>> {
        Box::pin(async move {
            match &self.storage {
                Some(s) => s.delete(&self.store, scope, name).await,
                None => Err(no_storage()),
            }
        })
    }

    fn blob_list<'a>(&'a self, scope: &'a Scope, prefix: &'a str) -> BoxFuture<'a, Vec<BlobInfo>> {
        Box::pin(async move {
            match &self.storage {
                Some(s) => s.list(&self.store, scope, prefix).await,
                None => Vec::new(),
            }
        })
    }

    fn blob_usage<'a>(&'a self, scope: &'a Scope) -> BoxFuture<'a, u64> {
        Box::pin(async move {
            match &self.storage {
                Some(s) => s.usage(&self.store, scope).await,
                None => 0,
            }
        })
    }

    fn mail_send<'a>(
        &'a self,
        scope: &'a Scope,
        message: MailMessage,
    ) -> BoxFuture<'a, Result<u64, MailError>> {
        Box::pin(async move {
            match &self.storage {
                Some(s) => s.send_mail(&self.store, scope, message).await,
                None => Err(MailError::Unavailable("no outbox configured".into())),
            }
        })
    }

    fn mwi_set<'a>(
        &'a self,
        scope: &'a Scope,
        subject: u64,
        new: u32,
        old: u32,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Ok(user_id) = i64::try_from(subject) else {
                return;
            };
            // Only the plugin's own tenant's users.
            match self.store.user(scope.tenant_id, user_id).await {
                Ok(Some(_)) => {}
                _ => {
                    tracing::info!(
                        tenant = scope.tenant_id,
                        subject,
                        "message-waiting for an unknown subject ignored"
                    );
                    return;
                }
            }
            if let Err(e) = self.store.mwi_set(scope.tenant_id, user_id, new, old).await {
                tracing::warn!("storing message-waiting: {e}");
            }
        })
    }

    fn prime_settings(&self, scope: &Scope, json: &str) {
        if let Ok(mut m) = self.primed.lock() {
            let key = (scope.tenant_id, scope.plugin_id.clone(), scope.subject_id);
            m.insert(key, json.to_string());
        }
    }

    fn settings<'a>(&'a self, scope: &'a Scope) -> BoxFuture<'a, String> {
        Box::pin(async move {
            let key = (scope.tenant_id, scope.plugin_id.clone(), scope.subject_id);
            if let Some(json) = self.primed.lock().ok().and_then(|m| m.get(&key).cloned()) {
                return json;
            }
            let r = self
                .store
                .effective_plugin_settings(scope.tenant_id, &scope.plugin_id, scope.subject_id)
                .await;
            or_log(r, scope.tenant_id, "reading settings", "{}".to_string())
        })
    }

    fn kv_get<'a>(
        &'a self,
        scope: &'a Scope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, WitKvError>> {
        Box::pin(async move {
            self.store
                .kv_get(&kv_scope(scope), key)
                .await
                .map_err(|e| wit_kv_error(scope, e))
        })
    }

    fn kv_set<'a>(
        &'a self,
        scope: &'a Scope,
        key: &'a str,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), WitKvError>> {
        Box::pin(async move {
            // The tenant's storage limit counts key-value state too.
            match self
                .store
                .tenant_storage_allows(scope.tenant_id, value.len() as u64)
                .await
            {
                Ok(true) => {}
                Ok(false) => return Err(WitKvError::QuotaExceeded),
                Err(e) => return Err(wit_kv_error(scope, KvError::Store(e))),
            }
            self.store
                .kv_set(&kv_scope(scope), key, &value)
                .await
                .map_err(|e| wit_kv_error(scope, e))
        })
    }

    fn kv_delete<'a>(
        &'a self,
        scope: &'a Scope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), WitKvError>> {
        Box::pin(async move {
            self.store
                .kv_delete(&kv_scope(scope), key)
                .await
                .map(|_| ())
                .map_err(|e| wit_kv_error(scope, e))
        })
    }

    fn kv_list<'a>(&'a self, scope: &'a Scope, prefix: &'a str) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            let r = self.store.kv_list(&kv_scope(scope), prefix).await;
            or_log(r, scope.tenant_id, "listing kv keys", Vec::new())
        })
    }

    fn directory_by_extension<'a>(
        &'a self,
        tenant_id: i64,
        extension: &'a str,
    ) -> BoxFuture<'a, Option<Subject>> {
        Box::pin(async move {
            let r = self.store.user_by_extension(tenant_id, extension).await;
            or_log(r, tenant_id, "directory lookup", None).and_then(subject_of)
        })
    }

    fn directory_by_number<'a>(
        &'a self,
        tenant_id: i64,
        number: &'a str,
    ) -> BoxFuture<'a, Option<Subject>> {
        Box::pin(self.user_by_number(tenant_id, number))
    }

    fn directory_by_id(&self, tenant_id: i64, id: u64) -> BoxFuture<'_, Option<Subject>> {
        Box::pin(async move {
            let id = i64::try_from(id).ok()?;
            let r = self.store.user(tenant_id, id).await;
            or_log(r, tenant_id, "directory lookup", None).and_then(subject_of)
        })
    }

    fn is_reachable(&self, tenant_id: i64, id: u64) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let Ok(id) = i64::try_from(id) else {
                return false;
            };
            let now = i64::try_from(self.now_ms()).unwrap_or(i64::MAX);
            let r = self.store.registrations_of_user(tenant_id, id, now).await;
            !or_log(r, tenant_id, "reachability lookup", Vec::new()).is_empty()
        })
    }

    fn schedule_is_open<'a>(
        &'a self,
        tenant_id: i64,
        name: &'a str,
        now_ms: u64,
    ) -> BoxFuture<'a, Option<bool>> {
        Box::pin(async move {
            let r = self.store.schedule(tenant_id, name).await;
            let schedule = or_log(r, tenant_id, "reading a schedule", None);
            if name == TIME_ZONE_SCHEDULE {
                self.set_offset(
                    tenant_id,
                    schedule.as_ref().and_then(|s| s.time_zone_offset_minutes),
                );
            }
            let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
            schedule.map(|s| s.is_open(now))
        })
    }

    fn local_time(&self, tenant_id: i64, now_ms: u64) -> LocalTime {
        let offset = self
            .offsets
            .read()
            .ok()
            .and_then(|o| o.get(&tenant_id).copied())
            .unwrap_or(0);
        let t = local_time(i64::try_from(now_ms).unwrap_or(i64::MAX), offset);
        LocalTime {
            year: u16::try_from(t.year).unwrap_or(0),
            month: t.month,
            day: t.day,
            hour: t.hour,
            minute: t.minute,
            weekday: t.weekday,
        }
    }

    fn now_ms(&self) -> u64 {
        match self.fixed_now_ms.load(Ordering::Relaxed) {
            0 => u64::try_from(crate::now_ms()).unwrap_or(0),
            fixed => fixed,
        }
    }
}
