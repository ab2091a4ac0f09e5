//! `centrale:plugin/call-control`: the call a session drives. The runtime
//! only checks arguments and forwards to the [`SessionLeg`] the switch gave
//! the session; outside a session (hooks, timers) every function answers
//! `unavailable`. Waiting here holds no thread: the leg's futures are
//! awaited by the session's task, and guest fuel is not consumed while
//! waiting (the CPU budget counts guest execution only).

use wasmtime::component::{HasSelf, Linker};

use super::{wit, BoxFuture, Getter, HostState, Scope};

pub use wit::audio::{AudioItem, Tone};
pub use wit::call_control::{
    CallError, DialOutcome, GatherOptions, PlayEnd, RecordEnd, RecordOptions, Recording,
};

/// Longest silence or sleep, milliseconds.
pub const MAX_WAIT_MS: u32 = 600_000;
/// Longest recording, milliseconds.
pub const MAX_RECORD_MS: u32 = 600_000;
/// Most items in one `play`.
pub const MAX_ITEMS: usize = 200;
/// Most digits one `gather` collects.
pub const MAX_DIGITS: u8 = 32;

/// An item to play with blobs already read from the plugin's store.
#[derive(Debug, Clone, PartialEq)]
pub enum PlayItem {
    /// A prompt by (checked) name, in the session's language.
    Prompt(String),
    /// A generated tone.
    Tone(Tone),
    /// WAV bytes (a blob).
    Wav(Vec<u8>),
    /// Silence, milliseconds.
    Silence(u32),
}

/// A finished recording in a file the runtime then stores as a blob.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedFile {
    /// The WAV file (removed after storing).
    pub path: std::path::PathBuf,
    /// Length, milliseconds.
    pub duration_ms: u32,
    /// How it ended.
    pub ended_by: RecordEnd,
    /// The terminator digit pressed, if any.
    pub terminator: Option<String>,
}

/// The call of one session, as the switch implements it. Storage (blobs)
/// stays in the runtime: the leg only moves audio.
pub trait SessionLeg: Send + Sync + 'static {
    /// Answers (200 OK with the host's media). Idempotent.
    fn answer(&self) -> BoxFuture<'_, Result<(), CallError>>;
    /// Ends the call. Idempotent.
    fn hangup(&self) -> BoxFuture<'_, ()>;
    /// Plays items (prompts are the plugin's of `scope`, then standard).
    fn play<'a>(
        &'a self,
        scope: &'a Scope,
        items: Vec<PlayItem>,
        interruptible: bool,
    ) -> BoxFuture<'a, Result<PlayEnd, CallError>>;
    /// Plays `prompt` (interruptible), then collects digits.
    fn gather<'a>(
        &'a self,
        scope: &'a Scope,
        prompt: Vec<PlayItem>,
        options: GatherOptions,
    ) -> BoxFuture<'a, Result<String, CallError>>;
    /// Records the caller into a file; `hung-up` when nothing was recorded.
    fn record<'a>(
        &'a self,
        scope: &'a Scope,
        options: RecordOptions,
    ) -> BoxFuture<'a, Result<RecordedFile, CallError>>;
    /// Rings a destination and connects it.
    fn dial<'a>(
        &'a self,
        scope: &'a Scope,
        destination: String,
        timeout_ms: u32,
    ) -> BoxFuture<'a, Result<DialOutcome, CallError>>;
    /// Hands the call to a destination and leaves the session.
    fn transfer<'a>(&'a self, destination: String) -> BoxFuture<'a, Result<(), CallError>>;
    /// Waits; ends early with `hung-up`.
    fn sleep(&self, ms: u32) -> BoxFuture<'_, Result<(), CallError>>;
    /// The session's language tag.
    fn language(&self) -> String;
    /// Changes it ("en" or "nl").
    fn set_language(&self, tag: &str) -> Result<(), CallError>;
}

/// Adds `call-control` to the linker.
pub(crate) fn link<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: Getter<T>,
) -> wasmtime::Result<()> {
    wit::call_control::add_to_linker::<T, HasSelf<HostState>>(linker, get)
}

fn no_session() -> CallError {
    CallError::Unavailable("not in a session (call-control works in `session.run` only)".into())
}

/// Checks items a plugin wants played.
pub fn check_items(items: &[AudioItem]) -> Result<(), CallError> {
    if items.len() > MAX_ITEMS {
        return Err(CallError::Invalid(format!(
            "more than {MAX_ITEMS} items in one play"
        )));
    }
    for item in items {
        match item {
            AudioItem::Prompt(name) if !crate::media::prompts::valid_name(name) => {
                return Err(CallError::Invalid(format!("prompt name `{name}` refused")))
            }
            AudioItem::Blob(name) if !super::blobs::valid_name(name) => {
                return Err(CallError::Invalid(format!("blob name `{name}` refused")))
            }
            AudioItem::Silence(ms) if *ms > MAX_WAIT_MS => {
                return Err(CallError::Invalid(format!("silence of {ms} ms")))
            }
            _ => {}
        }
    }
    Ok(())
}

fn valid_digits(s: &str) -> bool {
    s.len() <= 16 && s.chars().all(|c| "0123456789*#ABCD".contains(c))
}

impl HostState {
    fn leg(&mut self, function: &str) -> wasmtime::Result<Option<std::sync::Arc<dyn SessionLeg>>> {
        self.ctx.charge(function)?;
        Ok(self.leg.clone())
    }

    /// Checks items and reads the blobs among them from the plugin's store.
    async fn resolve(&self, items: Vec<AudioItem>) -> Result<Vec<PlayItem>, CallError> {
        check_items(&items)?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(match item {
                AudioItem::Prompt(p) => PlayItem::Prompt(p),
                AudioItem::Tone(t) => PlayItem::Tone(t),
                AudioItem::Silence(ms) => PlayItem::Silence(ms),
                AudioItem::Blob(name) => {
                    match self.ctx.backend.blob_get(&self.ctx.scope, &name).await {
                        Ok(bytes) => PlayItem::Wav(bytes),
                        Err(super::BlobError::NotFound) => {
                            return Err(CallError::Invalid(format!("no blob `{name}`")))
                        }
                        Err(e) => {
                            return Err(CallError::Unavailable(format!(
                                "reading blob `{name}`: {e:?}"
                            )))
                        }
                    }
                }
            });
        }
        Ok(out)
    }
}

impl wit::call_control::Host for HostState {
    async fn answer(&mut self) -> wasmtime::Result<Result<(), CallError>> {
        let Some(leg) = self.leg("call-control.answer")? else {
            return Ok(Err(no_session()));
        };
        Ok(leg.answer().await)
    }

    async fn hangup(&mut self) -> wasmtime::Result<()> {
        if let Some(leg) = self.leg("call-control.hangup")? {
            leg.hangup().await;
        }
        Ok(())
    }

    async fn play(
        &mut self,
        items: Vec<AudioItem>,
        interruptible: bool,
    ) -> wasmtime::Result<Result<PlayEnd, CallError>> {
        let Some(leg) = self.leg("call-control.play")? else {
            return Ok(Err(no_session()));
        };
        let items = match self.resolve(items).await {
            Ok(i) => i,
            Err(e) => return Ok(Err(e)),
        };
        Ok(leg.play(&self.ctx.scope, items, interruptible).await)
    }

    async fn gather(
        &mut self,
        options: GatherOptions,
    ) -> wasmtime::Result<Result<String, CallError>> {
        let Some(leg) = self.leg("call-control.gather")? else {
            return Ok(Err(no_session()));
        };
        if options.max_digits == 0 || options.max_digits > MAX_DIGITS {
            return Ok(Err(CallError::Invalid(format!(
                "max-digits must be 1..={MAX_DIGITS}"
            ))));
        }
        if !valid_digits(&options.terminators)
            || options.first_digit_timeout_ms > MAX_WAIT_MS
            || options.inter_digit_timeout_ms > MAX_WAIT_MS
        {
            return Ok(Err(CallError::Invalid(
                "terminators must be DTMF digits and timeouts at most 600000 ms".into(),
            )));
        }
        let prompt = match self.resolve(options.prompt.clone()).await {
            Ok(i) => i,
            Err(e) => return Ok(Err(e)),
        };
        Ok(leg.gather(&self.ctx.scope, prompt, options).await)
    }

    async fn record(
        &mut self,
        name: String,
        options: RecordOptions,
    ) -> wasmtime::Result<Result<Recording, CallError>> {
        let Some(leg) = self.leg("call-control.record")? else {
            return Ok(Err(no_session()));
        };
        if !super::blobs::valid_name(&name) {
            return Ok(Err(CallError::Invalid(format!(
                "blob name `{name}` refused"
            ))));
        }
        if options.max_duration_ms == 0
            || options.max_duration_ms > MAX_RECORD_MS
            || options
                .silence_timeout_ms
                .is_some_and(|s| s > MAX_RECORD_MS)
            || !valid_digits(&options.terminators)
        {
            return Ok(Err(CallError::Invalid(
                "max-duration-ms must be 1..=600000, terminators DTMF digits".into(),
            )));
        }
        let file = match leg.record(&self.ctx.scope, options).await {
            Ok(f) => f,
            Err(e) => return Ok(Err(e)),
        };
        let stored = self
            .ctx
            .backend
            .blob_put_file(&self.ctx.scope, &name, &file.path)
            .await;
        // Gone when the store moved it in; a leftover after a failure.
        let _ = tokio::fs::remove_file(&file.path).await;
        Ok(match stored {
            Ok(_) => Ok(Recording {
                blob: name,
                duration_ms: file.duration_ms,
                ended_by: file.ended_by,
                terminator: file.terminator,
            }),
            Err(e) => Err(CallError::Unavailable(format!(
                "storing the recording: {e:?}"
            ))),
        })
    }

    async fn dial(
        &mut self,
        destination: String,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<DialOutcome, CallError>> {
        let Some(leg) = self.leg("call-control.dial")? else {
            return Ok(Err(no_session()));
        };
        if destination.is_empty() || destination.len() > 64 || timeout_ms > MAX_WAIT_MS {
            return Ok(Err(CallError::Invalid("bad destination or timeout".into())));
        }
        Ok(leg.dial(&self.ctx.scope, destination, timeout_ms).await)
    }

    async fn transfer(&mut self, destination: String) -> wasmtime::Result<Result<(), CallError>> {
        let Some(leg) = self.leg("call-control.transfer")? else {
            return Ok(Err(no_session()));
        };
        if destination.is_empty() || destination.len() > 64 {
            return Ok(Err(CallError::Invalid("bad destination".into())));
        }
        Ok(leg.transfer(destination).await)
    }

    async fn sleep(&mut self, ms: u32) -> wasmtime::Result<Result<(), CallError>> {
        let Some(leg) = self.leg("call-control.sleep")? else {
            return Ok(Err(no_session()));
        };
        if ms > MAX_WAIT_MS {
            return Ok(Err(CallError::Invalid(format!("sleep of {ms} ms"))));
        }
        Ok(leg.sleep(ms).await)
    }

    async fn language(&mut self) -> wasmtime::Result<String> {
        Ok(match self.leg("call-control.language")? {
            Some(leg) => leg.language(),
            None => "en".to_string(),
        })
    }

    async fn set_language(&mut self, tag: String) -> wasmtime::Result<Result<(), CallError>> {
        let Some(leg) = self.leg("call-control.set-language")? else {
            return Ok(Err(no_session()));
        };
        Ok(leg.set_language(&tag))
    }
}
