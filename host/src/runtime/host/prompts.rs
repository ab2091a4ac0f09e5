//! `centrale:plugin/prompts`: digits, numbers and dates spoken with the
//! standard prompts (see `crate::media::prompts`), composed on the host so
//! every plugin says them the same way in English and Dutch.

use wasmtime::component::{HasSelf, Linker};

use super::{wit, Getter, HostState};
use crate::media::prompts::{self as say, Language, LocalDateTime};
use crate::runtime::types::LocalTime;

use wit::audio::AudioItem;

/// Longest digit string spoken.
pub const MAX_DIGITS: usize = 64;

/// Adds `prompts` to the linker.
pub(crate) fn link<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: Getter<T>,
) -> wasmtime::Result<()> {
    wit::prompts::add_to_linker::<T, HasSelf<HostState>>(linker, get)
}

fn language(tag: &str) -> Language {
    Language::from_tag(tag).unwrap_or(Language::En)
}

fn items(names: Vec<String>) -> Vec<AudioItem> {
    names.into_iter().map(AudioItem::Prompt).collect()
}

fn local(t: LocalTime) -> LocalDateTime {
    LocalDateTime {
        year: i32::from(t.year),
        month: u32::from(t.month),
        day: u32::from(t.day),
        hour: u32::from(t.hour),
        minute: u32::from(t.minute),
        weekday: u32::from(t.weekday),
    }
}

impl wit::prompts::Host for HostState {
    async fn say_digits(
        &mut self,
        language_tag: String,
        digits: String,
    ) -> wasmtime::Result<Vec<AudioItem>> {
        self.ctx.charge("prompts.say-digits")?;
        let digits: String = digits.chars().take(MAX_DIGITS).collect();
        Ok(items(say::say_digits(language(&language_tag), &digits)))
    }

    async fn say_number(
        &mut self,
        language_tag: String,
        n: u64,
    ) -> wasmtime::Result<Vec<AudioItem>> {
        self.ctx.charge("prompts.say-number")?;
        Ok(items(say::say_number(language(&language_tag), n)))
    }

    async fn say_datetime(
        &mut self,
        language_tag: String,
        unix_ms: u64,
    ) -> wasmtime::Result<Vec<AudioItem>> {
        self.ctx.charge("prompts.say-datetime")?;
        let tenant = self.ctx.scope.tenant_id;
        let backend = &self.ctx.backend;
        let when = local(backend.local_time(tenant, unix_ms));
        let today = local(backend.local_time(tenant, backend.now_ms()));
        Ok(items(say::say_datetime(
            language(&language_tag),
            &when,
            &today,
        )))
    }
}
