//! The 0.1 line of the host interfaces: plugins built against
//! `centrale:plugin@0.1.x` import `log`, `settings`, `kv`, `directory` and
//! `schedule` at version 0.1. Each function here delegates to its 0.2
//! implementation; only the enums and records declared inside those
//! interfaces (not in `types`) need converting.

use wasmtime::component::{HasSelf, Linker};

use super::{wit, Getter, HostState};
use crate::runtime::bindings::v0_1::centrale::plugin as old;
use crate::runtime::manifest::Capability;
use crate::runtime::types::{KvError, LocalTime, LogLevel, Subject};

/// Links the 0.1 version of a capability; `false` when 0.1 has no such
/// interface (the manifest check refuses those before this is reached).
pub(crate) fn link<T: Send + 'static>(
    linker: &mut Linker<T>,
    cap: Capability,
    get: Getter<T>,
) -> wasmtime::Result<bool> {
    match cap {
        Capability::Log => old::log::add_to_linker::<T, HasSelf<HostState>>(linker, get)?,
        Capability::Settings => old::settings::add_to_linker::<T, HasSelf<HostState>>(linker, get)?,
        Capability::Kv => old::kv::add_to_linker::<T, HasSelf<HostState>>(linker, get)?,
        Capability::Directory => {
            old::directory::add_to_linker::<T, HasSelf<HostState>>(linker, get)?
        }
        Capability::Schedule => old::schedule::add_to_linker::<T, HasSelf<HostState>>(linker, get)?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn kv_error(e: KvError) -> old::kv::KvError {
    match e {
        KvError::InvalidKey => old::kv::KvError::InvalidKey,
        KvError::QuotaExceeded => old::kv::KvError::QuotaExceeded,
        KvError::Unavailable(m) => old::kv::KvError::Unavailable(m),
    }
}

impl old::log::Host for HostState {
    async fn write(&mut self, level: old::log::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            old::log::Level::Debug => LogLevel::Debug,
            old::log::Level::Info => LogLevel::Info,
            old::log::Level::Warn => LogLevel::Warn,
            old::log::Level::Error => LogLevel::Error,
        };
        wit::log::Host::write(self, level, message).await
    }
}

impl old::settings::Host for HostState {
    async fn get(&mut self) -> wasmtime::Result<String> {
        wit::settings::Host::get(self).await
    }
}

impl old::kv::Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        wit::kv::Host::get(self, key).await
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), old::kv::KvError>> {
        Ok(wit::kv::Host::set(self, key, value)
            .await?
            .map_err(kv_error))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), old::kv::KvError>> {
        Ok(wit::kv::Host::delete(self, key).await?.map_err(kv_error))
    }

    async fn list_keys(&mut self, prefix: String) -> wasmtime::Result<Vec<String>> {
        wit::kv::Host::list_keys(self, prefix).await
    }
}

impl old::directory::Host for HostState {
    async fn by_extension(&mut self, extension: String) -> wasmtime::Result<Option<Subject>> {
        wit::directory::Host::by_extension(self, extension).await
    }

    async fn by_number(&mut self, number: String) -> wasmtime::Result<Option<Subject>> {
        wit::directory::Host::by_number(self, number).await
    }

    async fn by_id(&mut self, id: u64) -> wasmtime::Result<Option<Subject>> {
        wit::directory::Host::by_id(self, id).await
    }

    async fn is_reachable(&mut self, id: u64) -> wasmtime::Result<bool> {
        wit::directory::Host::is_reachable(self, id).await
    }
}

impl old::schedule::Host for HostState {
    async fn now(&mut self) -> wasmtime::Result<u64> {
        wit::schedule::Host::now(self).await
    }

    async fn local_now(&mut self) -> wasmtime::Result<old::schedule::LocalTime> {
        let LocalTime {
            year,
            month,
            day,
            hour,
            minute,
            weekday,
        } = wit::schedule::Host::local_now(self).await?;
        Ok(old::schedule::LocalTime {
            year,
            month,
            day,
            hour,
            minute,
            weekday,
        })
    }

    async fn is_open(&mut self, name: String) -> wasmtime::Result<Option<bool>> {
        wit::schedule::Host::is_open(self, name).await
    }
}
