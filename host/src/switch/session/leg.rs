//! The caller's leg of a session, as the plugin runtime drives it
//! ([`SessionLeg`]): SIP answer / early media / BYE on one side, the host's
//! RTP endpoint (player, DTMF, recorder) on the other; `dial` is in
//! `dial.rs`. A watcher task (see `mod.rs`) handles what the caller sends
//! meanwhile and marks the leg ended when the caller hangs up.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::dial::DialFrom;
use crate::media::endpoint::{
    DigitWait, MediaEndpoint, PlayEnd as MediaPlayEnd, RecordEnd as MediaRecordEnd,
    RecordOptions as MediaRecordOptions,
};
use crate::media::prompts::{Language, PromptLibrary};
use crate::media::{tone, wav};
use crate::runtime::host::call_control::{
    CallError, DialOutcome, GatherOptions, PlayEnd, PlayItem, RecordEnd, RecordOptions,
    RecordedFile, SessionLeg, Tone,
};
use crate::runtime::{BoxFuture, Scope};
use crate::sip::{Response, ServerTx};
use crate::switch::dialog::Dialog;
use crate::switch::Switch;

/// Plugin prompts by (language tag, name); `None`: not shipped.
type PromptCache = HashMap<(&'static str, String), Option<Arc<[i16]>>>;

/// How the leg stands, for the CDR and for the functions still allowed.
#[derive(Debug, Clone, Default)]
pub(crate) struct LegState {
    /// 183 with our SDP sent.
    pub(crate) early: bool,
    /// 200 sent.
    pub(crate) answered: bool,
    /// A final response or a BYE went out, or came in: nothing more to do.
    pub(crate) finished: bool,
    /// Final status for the CDR (0: none yet).
    pub(crate) code: u16,
    /// CDR result.
    pub(crate) result: String,
    /// Answer time, unix ms.
    pub(crate) answered_at: Option<i64>,
    /// Where a blind transfer sends the call.
    pub(crate) transfer: Option<String>,
}

/// The caller's leg of one session.
pub(crate) struct Leg {
    pub(super) sw: Arc<Switch>,
    pub(super) a_tx: ServerTx,
    a_tag: String,
    dialog: Mutex<Dialog>,
    pub(crate) endpoint: MediaEndpoint,
    answer_sdp: String,
    pub(crate) state: Mutex<LegState>,
    pub(super) ended_tx: watch::Sender<bool>,
    /// The caller, as a `dial` presents it.
    pub(super) from: DialFrom,
    language: Mutex<Language>,
    prompts: Arc<PromptLibrary>,
    /// The session plugin's own prompts looked up so far, by (language,
    /// name); `None`: it ships none, the standard one plays.
    plugin_prompts: Mutex<PromptCache>,
    recordings: PathBuf,
}

impl Leg {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        sw: Arc<Switch>,
        a_tx: ServerTx,
        a_tag: String,
        dialog: Dialog,
        endpoint: MediaEndpoint,
        answer_sdp: String,
        prompts: Arc<PromptLibrary>,
        recordings: PathBuf,
        language: Language,
        from: DialFrom,
    ) -> Self {
        Self {
            sw,
            a_tx,
            a_tag,
            dialog: Mutex::new(dialog),
            endpoint,
            answer_sdp,
            state: Mutex::new(LegState::default()),
            ended_tx: watch::channel(false).0,
            from,
            language: Mutex::new(language),
            prompts,
            plugin_prompts: Mutex::new(HashMap::new()),
            recordings,
        }
    }

    pub(crate) fn answer_sdp(&self) -> &str {
        &self.answer_sdp
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut LegState) -> R) -> R {
        match self.state.lock() {
            Ok(mut s) => f(&mut s),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    pub(crate) fn snapshot(&self) -> LegState {
        self.with_state(|s| s.clone())
    }

    /// The caller went away (BYE, CANCEL) or the leg was hung up.
    pub(crate) fn mark_ended(&self, code: Option<(u16, &str)>) {
        self.with_state(|s| {
            s.finished = true;
            if let Some((c, r)) = code {
                s.code = c;
                s.result = r.to_string();
            }
        });
        self.endpoint.close();
        self.ended_tx.send_replace(true);
    }

    pub(super) fn is_over(&self) -> bool {
        self.with_state(|s| s.finished || s.transfer.is_some())
    }

    fn lang(&self) -> Language {
        self.language.lock().map(|l| *l).unwrap_or(Language::En)
    }

    /// Sends 183 with our SDP once, so that audio reaches the caller
    /// before (or without) an answer.
    pub(super) fn ensure_media(&self) -> Result<(), CallError> {
        let send = self.with_state(|s| {
            if s.finished {
                return Err(CallError::HungUp);
            }
            let first = !s.early && !s.answered;
            s.early = true;
            Ok(first)
        })?;
        if send {
            let mut r = Response::to(self.a_tx.request(), 183, Some(&self.a_tag));
            r.headers.push("Contact", format!("<{}>", self.contact()));
            r.set_body("application/sdp", self.answer_sdp.clone().into_bytes());
            self.a_tx.respond(r);
            self.endpoint.rearm();
        }
        Ok(())
    }

    fn contact(&self) -> String {
        self.sw
            .endpoint
            .contact_uri("centrale", self.a_tx.peer().transport)
    }

    /// A prompt: the plugin's own (shipped with it, in the session's
    /// language, then English), else the standard one.
    async fn prompt(
        &self,
        scope: Option<&Scope>,
        lang: Language,
        name: &str,
    ) -> Result<Arc<[i16]>, CallError> {
        if let Some(scope) = scope {
            // A session plays the same prompts again and again (menus,
            // digits): ask the store once per leg and name.
            let key = (lang.tag(), name.to_string());
            let cached = self
                .plugin_prompts
                .lock()
                .ok()
                .and_then(|c| c.get(&key).cloned());
            if let Some(found) = cached {
                return match found {
                    Some(samples) => Ok(samples),
                    None => self.standard_prompt(lang, name),
                };
            }
            let found = self.plugin_prompt(scope, lang, name).await?;
            if let Ok(mut c) = self.plugin_prompts.lock() {
                c.insert(key, found.clone());
            }
            if let Some(samples) = found {
                return Ok(samples);
            }
        }
        self.standard_prompt(lang, name)
    }

    /// The standard prompt, in `lang` or else English.
    fn standard_prompt(&self, lang: Language, name: &str) -> Result<Arc<[i16]>, CallError> {
        self.prompts
            .get(lang, name)
            .or_else(|_| self.prompts.get(Language::En, name))
            .map_err(|e| CallError::Invalid(format!("prompt `{name}`: {e}")))
    }

    /// The plugin's own prompt in `lang`, else in English; `None` when it
    /// ships none of that name.
    async fn plugin_prompt(
        &self,
        scope: &Scope,
        lang: Language,
        name: &str,
    ) -> Result<Option<Arc<[i16]>>, CallError> {
        for l in [lang, Language::En] {
            match self
                .sw
                .store
                .plugin_prompt(scope.tenant_id, &scope.plugin_id, l.tag(), name)
                .await
            {
                Ok(Some(bytes)) => {
                    return wav::load_wav_bytes(&bytes)
                        .map(|s| Some(Arc::from(s)))
                        .map_err(|e| CallError::Invalid(format!("prompt `{name}`: {e}")))
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("plugin prompt `{name}`: {e}"),
            }
        }
        Ok(None)
    }

    /// Decodes and joins the items into one buffer of 8 kHz samples.
    async fn samples(
        &self,
        scope: Option<&Scope>,
        items: &[PlayItem],
    ) -> Result<Arc<[i16]>, CallError> {
        let lang = self.lang();
        let mut out: Vec<i16> = Vec::new();
        for item in items {
            match item {
                PlayItem::Prompt(name) => {
                    out.extend_from_slice(&self.prompt(scope, lang, name).await?);
                }
                PlayItem::Tone(t) => out.extend_from_slice(&match t {
                    Tone::Beep => tone::beep(),
                    Tone::Busy => tone::busy(),
                    Tone::Ringback => tone::ringback(),
                    Tone::Error => tone::error(),
                }),
                PlayItem::Wav(bytes) => {
                    let s = wav::load_wav_bytes(bytes)
                        .map_err(|e| CallError::Invalid(format!("audio: {e}")))?;
                    out.extend_from_slice(&s);
                }
                PlayItem::Silence(ms) => {
                    out.extend(std::iter::repeat_n(0i16, (*ms as usize) * 8));
                }
            }
        }
        Ok(out.into())
    }

    /// Plays items; `Closed` and a finished leg are `hung-up`.
    pub(crate) async fn play_items(
        &self,
        scope: Option<&Scope>,
        items: &[PlayItem],
        interruptible: bool,
    ) -> Result<PlayEnd, CallError> {
        if self.is_over() {
            return Err(CallError::HungUp);
        }
        self.ensure_media()?;
        let samples = self.samples(scope, items).await?;
        match self.endpoint.play(samples, interruptible).await {
            MediaPlayEnd::Finished => Ok(PlayEnd::Finished),
            MediaPlayEnd::Digit => Ok(PlayEnd::Interrupted),
            MediaPlayEnd::Closed => Err(CallError::HungUp),
        }
    }

    pub(super) fn do_answer(&self) -> Result<(), CallError> {
        let send = self.with_state(|s| {
            if s.finished || s.transfer.is_some() {
                return Err(CallError::HungUp);
            }
            if s.answered {
                return Ok(false);
            }
            s.answered = true;
            s.answered_at = Some(crate::now_ms());
            s.code = 200;
            s.result = "answered".into();
            Ok(true)
        })?;
        if send {
            let mut r = Response::to(self.a_tx.request(), 200, Some(&self.a_tag));
            r.headers.push("Contact", format!("<{}>", self.contact()));
            r.headers.push("Allow", super::super::ALLOW);
            r.set_body("application/sdp", self.answer_sdp.clone().into_bytes());
            self.a_tx.respond(r);
        }
        Ok(())
    }

    /// Ends the call: BYE when answered, else a final `code`.
    pub(crate) async fn end(&self, code: u16, result: &str) {
        let (answered, finished) = self.with_state(|s| (s.answered, s.finished));
        if finished {
            return;
        }
        if answered {
            let bye = match self.dialog.lock() {
                Ok(mut d) => {
                    let contact = self.sw.endpoint.contact_uri("centrale", d.peer.transport);
                    Some((d.request("BYE", &contact), d.peer))
                }
                Err(_) => None,
            };
            if let Some((bye, peer)) = bye {
                let mut ctx = self.sw.endpoint.send_request(bye, peer);
                tokio::spawn(async move {
                    while let Some(r) = ctx.responses.recv().await {
                        if r.status >= 200 {
                            break;
                        }
                    }
                });
            }
            self.mark_ended(None);
        } else {
            let mut r = Response::to(self.a_tx.request(), code, Some(&self.a_tag));
            if code == 480 {
                r.reason = "Temporarily Unavailable".into();
            }
            self.a_tx.respond(r);
            self.mark_ended(Some((code, result)));
        }
    }

    async fn wait_ended(&self, d: Duration) -> Result<(), CallError> {
        let mut rx = self.ended_tx.subscribe();
        if *rx.borrow() {
            return Err(CallError::HungUp);
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => Ok(()),
            _ = rx.changed() => Err(CallError::HungUp),
        }
    }

    fn recording_path(&self) -> PathBuf {
        self.recordings
            .join(format!("{}.wav", crate::sip::message::random_token(16)))
    }
}

impl SessionLeg for Leg {
    fn answer(&self) -> BoxFuture<'_, Result<(), CallError>> {
        Box::pin(async move { self.do_answer() })
    }

    fn hangup(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // After a transfer the call is no longer the session's to end.
            if self.with_state(|s| s.transfer.is_none()) {
                self.end(480, "no-answer").await
            }
        })
    }

    fn play<'a>(
        &'a self,
        scope: &'a Scope,
        items: Vec<PlayItem>,
        interruptible: bool,
    ) -> BoxFuture<'a, Result<PlayEnd, CallError>> {
        Box::pin(async move { self.play_items(Some(scope), &items, interruptible).await })
    }

    fn gather<'a>(
        &'a self,
        scope: &'a Scope,
        prompt: Vec<PlayItem>,
        options: GatherOptions,
    ) -> BoxFuture<'a, Result<String, CallError>> {
        Box::pin(async move {
            if !prompt.is_empty() {
                self.play_items(Some(scope), &prompt, true).await?;
            } else if self.is_over() {
                return Err(CallError::HungUp);
            }
            let mut digits = String::new();
            loop {
                let wait = if digits.is_empty() {
                    options.first_digit_timeout_ms
                } else {
                    options.inter_digit_timeout_ms
                };
                match self
                    .endpoint
                    .next_digit(Duration::from_millis(u64::from(wait)))
                    .await
                {
                    DigitWait::Digit(d) if options.terminators.contains(d) => break,
                    DigitWait::Digit(d) => {
                        digits.push(d);
                        if digits.len() >= usize::from(options.max_digits) {
                            break;
                        }
                    }
                    DigitWait::Timeout => break,
                    DigitWait::Closed => return Err(CallError::HungUp),
                }
            }
            Ok(digits)
        })
    }

    fn record<'a>(
        &'a self,
        _scope: &'a Scope,
        options: RecordOptions,
    ) -> BoxFuture<'a, Result<RecordedFile, CallError>> {
        Box::pin(async move {
            self.do_answer()?;
            if options.beep {
                self.play_items(None, &[PlayItem::Tone(Tone::Beep)], false)
                    .await?;
            }
            // Digits pressed before the beep (to skip the greeting) must
            // not end the recording at once.
            self.endpoint.clear_digits();
            let path = self.recording_path();
            let opts = MediaRecordOptions {
                max_duration: Duration::from_millis(u64::from(options.max_duration_ms)),
                silence: options
                    .silence_timeout_ms
                    .map(|ms| Duration::from_millis(u64::from(ms))),
                terminators: options.terminators.clone(),
            };
            let rec = self
                .endpoint
                .record(&path, opts)
                .await
                .map_err(|e| CallError::Unavailable(format!("recording: {e}")))?;
            let (ended_by, terminator) = match rec.end {
                MediaRecordEnd::Terminator(c) => (RecordEnd::Terminator, Some(c.to_string())),
                MediaRecordEnd::Silence => (RecordEnd::Silence, None),
                MediaRecordEnd::MaxDuration => (RecordEnd::MaxDuration, None),
                MediaRecordEnd::Closed => (RecordEnd::HungUp, None),
            };
            if rec.duration_ms == 0 && ended_by == RecordEnd::HungUp {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(CallError::HungUp);
            }
            Ok(RecordedFile {
                path,
                duration_ms: u32::try_from(rec.duration_ms).unwrap_or(u32::MAX),
                ended_by,
                terminator,
            })
        })
    }

    fn dial<'a>(
        &'a self,
        _scope: &'a Scope,
        destination: String,
        timeout_ms: u32,
    ) -> BoxFuture<'a, Result<DialOutcome, CallError>> {
        Box::pin(async move { self.dial_destination(&destination, timeout_ms).await })
    }

    fn transfer<'a>(&'a self, destination: String) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async move {
            self.with_state(|s| {
                if s.finished {
                    return Err(CallError::HungUp);
                }
                if s.answered {
                    return Err(CallError::Unavailable(
                        "transfer after answer is not available in this host version".into(),
                    ));
                }
                s.transfer = Some(destination);
                Ok(())
            })?;
            self.endpoint.close();
            Ok(())
        })
    }

    fn sleep(&self, ms: u32) -> BoxFuture<'_, Result<(), CallError>> {
        Box::pin(async move {
            if self.is_over() {
                return Err(CallError::HungUp);
            }
            self.wait_ended(Duration::from_millis(u64::from(ms))).await
        })
    }

    fn language(&self) -> String {
        self.lang().tag().to_string()
    }

    fn set_language(&self, tag: &str) -> Result<(), CallError> {
        let lang = Language::from_tag(tag)
            .ok_or_else(|| CallError::Invalid(format!("language `{tag}`: en or nl")))?;
        if let Ok(mut l) = self.language.lock() {
            *l = lang;
        }
        Ok(())
    }
}
