//! Standard prompts: a [`PromptLibrary`] that loads `<dir>/<lang>/<name>.wav`
//! (8 kHz mono 16-bit PCM) on first use and keeps the decoded samples, and
//! the functions that spell out digits, numbers and dates as sequences of
//! prompt names ([`say_digits`], [`say_number`], [`say_datetime`]).
//!
//! The host only provides the mechanism: which prompts to play when is up to
//! the plugins (voicemail, voice portal, ...). The standard set is generated
//! from `prompts/prompts.tsv` by `scripts/gen-prompts` (espeak-ng).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Sample rate every prompt must have.
pub const SAMPLE_RATE: u32 = 8000;

/// Longest prompt accepted: ten minutes of audio.
pub const MAX_SAMPLES: usize = SAMPLE_RATE as usize * 600;

/// A prompt language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// English (`en`).
    En,
    /// Dutch (`nl`).
    Nl,
}

impl Language {
    /// Every supported language.
    pub const ALL: [Language; 2] = [Language::En, Language::Nl];

    /// The language of a tag such as `en`, `en-GB`, `nl`, `nl-NL`, `nl_BE`
    /// (case-insensitive; only the primary subtag counts).
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("en") {
            Some(Language::En)
        } else if primary.eq_ignore_ascii_case("nl") {
            Some(Language::Nl)
        } else {
            None
        }
    }

    /// The directory name of this language's prompts (`en`, `nl`).
    pub fn tag(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Nl => "nl",
        }
    }
}

/// Why a prompt could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The name is not `[a-z0-9-]{1,64}`.
    #[error("invalid prompt name {0:?}")]
    InvalidName(String),
    /// No such file.
    #[error("prompt {lang}/{name} not found")]
    NotFound { lang: &'static str, name: String },
    /// The file is not an 8 kHz mono 16-bit PCM WAV (or is damaged or too long).
    #[error("prompt {lang}/{name}: {why}")]
    Format {
        lang: &'static str,
        name: String,
        why: String,
    },
    /// The file could not be read.
    #[error("prompt {lang}/{name}: {source}")]
    Io {
        lang: &'static str,
        name: String,
        source: std::io::Error,
    },
}

/// Whether `name` is a valid prompt name: 1 to 64 of `a-z`, `0-9`, `-`.
/// Such a name can never leave the language directory.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Decoded prompts by (language, name).
type Cache = HashMap<(Language, String), Arc<[i16]>>;

/// Prompts under one directory, decoded on first use and cached.
pub struct PromptLibrary {
    dir: PathBuf,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for PromptLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptLibrary")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl PromptLibrary {
    /// A library reading `<dir>/<lang>/<name>.wav`. Nothing is read yet.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The directory prompts are read from.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    fn path(&self, lang: Language, name: &str) -> Result<PathBuf, PromptError> {
        if !valid_name(name) {
            return Err(PromptError::InvalidName(name.to_string()));
        }
        Ok(self.dir.join(lang.tag()).join(format!("{name}.wav")))
    }

    /// The samples of prompt `name` in `lang` (read and decoded the first
    /// time, then shared). Reads a small file synchronously on a cache miss.
    pub fn get(&self, lang: Language, name: &str) -> Result<Arc<[i16]>, PromptError> {
        let path = self.path(lang, name)?;
        let key = (lang, name.to_string());
        if let Some(s) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(s);
        }
        let samples: Arc<[i16]> = decode(&path, lang, name)?.into();
        if let Ok(mut c) = self.cache.lock() {
            c.insert(key, samples.clone());
        }
        Ok(samples)
    }

    /// Whether prompt `name` exists in `lang` (false for invalid names).
    pub fn exists(&self, lang: Language, name: &str) -> bool {
        self.path(lang, name).map(|p| p.is_file()).unwrap_or(false)
    }
}

fn decode(path: &std::path::Path, lang: Language, name: &str) -> Result<Vec<i16>, PromptError> {
    let format_err = |why: String| PromptError::Format {
        lang: lang.tag(),
        name: name.to_string(),
        why,
    };
    let reader = match hound::WavReader::open(path) {
        Ok(r) => r,
        Err(hound::Error::IoError(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PromptError::NotFound {
                lang: lang.tag(),
                name: name.to_string(),
            })
        }
        Err(hound::Error::IoError(e)) => {
            return Err(PromptError::Io {
                lang: lang.tag(),
                name: name.to_string(),
                source: e,
            })
        }
        Err(e) => return Err(format_err(e.to_string())),
    };
    let spec = reader.spec();
    if spec.channels != 1
        || spec.sample_rate != SAMPLE_RATE
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
    {
        return Err(format_err(format!(
            "need 8000 Hz mono 16-bit PCM, found {} Hz, {} channel(s), {}-bit {:?}",
            spec.sample_rate, spec.channels, spec.bits_per_sample, spec.sample_format
        )));
    }
    if reader.len() as usize > MAX_SAMPLES {
        return Err(format_err(format!("longer than {MAX_SAMPLES} samples")));
    }
    reader
        .into_samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format_err(e.to_string()))
}

/// Prompt names that speak `digits` one by one (`0`-`9`, `*`, `#`; other
/// characters are skipped).
pub fn say_digits(_lang: Language, digits: &str) -> Vec<String> {
    digits
        .chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(format!("digit-{c}")),
            '*' => Some("digit-star".to_string()),
            '#' => Some("digit-hash".to_string()),
            _ => None,
        })
        .collect()
}

/// 1..=999 (not 0) as prompt names. English: `num-2 num-hundred num-42`
/// ("two hundred forty-two"); Dutch the same, but "honderd" rather than
/// "één honderd" for 100–199.
fn below_thousand(lang: Language, n: u64, out: &mut Vec<String>) {
    let (h, rest) = (n / 100, n % 100);
    if h > 0 {
        if !(lang == Language::Nl && h == 1) {
            out.push(format!("num-{h}"));
        }
        out.push("num-hundred".into());
    }
    if rest > 0 {
        out.push(format!("num-{rest}"));
    }
}

/// Prompt names that speak `n`, composed from `num-0`..`num-99`,
/// `num-hundred`, `num-thousand` and `num-million`. English:
/// 242 → `num-2 num-hundred num-42`, 1000 → `num-1 num-thousand`; Dutch:
/// 242 → `num-2 num-hundred num-42` (tweehonderdtweeënveertig), 1000 →
/// `num-thousand` (duizend). Numbers of a billion and more are spoken digit
/// by digit.
pub fn say_number(lang: Language, n: u64) -> Vec<String> {
    if n == 0 {
        return vec!["num-0".into()];
    }
    if n >= 1_000_000_000 {
        return say_digits(lang, &n.to_string());
    }
    let mut out = Vec::new();
    let (millions, thousands, rest) = (n / 1_000_000, n / 1000 % 1000, n % 1000);
    if millions > 0 {
        below_thousand(lang, millions, &mut out);
        out.push("num-million".into());
    }
    if thousands > 0 {
        if !(lang == Language::Nl && thousands == 1) {
            below_thousand(lang, thousands, &mut out);
        }
        out.push("num-thousand".into());
    }
    if rest > 0 {
        below_thousand(lang, rest, &mut out);
    }
    out
}

/// A local date and time to be spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalDateTime {
    pub year: i32,
    /// 1 = January.
    pub month: u32,
    /// 1..=31.
    pub day: u32,
    /// 0..=23.
    pub hour: u32,
    /// 0..=59.
    pub minute: u32,
    /// 1 = Monday .. 7 = Sunday.
    pub weekday: u32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn say_time(lang: Language, t: &LocalDateTime, out: &mut Vec<String>) {
    if t.hour > 23 || t.minute > 59 {
        return;
    }
    out.push("at".into());
    out.push(format!("num-{}", t.hour));
    match lang {
        // "fourteen o'clock", "fourteen oh five", "fourteen thirty"
        Language::En => match t.minute {
            0 => out.push("hour-word".into()),
            1..=9 => {
                out.push("oh".into());
                out.push(format!("num-{}", t.minute));
            }
            m => out.push(format!("num-{m}")),
        },
        // "veertien uur", "veertien uur vijf"
        Language::Nl => {
            out.push("hour-word".into());
            if t.minute > 0 {
                out.push(format!("num-{}", t.minute));
            }
        }
    }
}

/// Prompt names that speak when `t` was, seen from `today` (only its date
/// counts): "today at fourteen thirty", "yesterday at ...", otherwise the
/// weekday and date ("Monday March third at ..." / "maandag drie maart om
/// ...") with the year when it is not `today`'s. Out-of-range fields are
/// left out rather than spoken wrongly.
pub fn say_datetime(lang: Language, t: &LocalDateTime, today: &LocalDateTime) -> Vec<String> {
    let mut out = Vec::new();
    let date_ok = (1..=12).contains(&t.month) && (1..=31).contains(&t.day);
    let today_ok = (1..=12).contains(&today.month) && (1..=31).contains(&today.day);
    let delta = if date_ok && today_ok {
        Some(
            days_from_civil(today.year, today.month, today.day)
                - days_from_civil(t.year, t.month, t.day),
        )
    } else {
        None
    };
    match delta {
        Some(0) => out.push("today".into()),
        Some(1) => out.push("yesterday".into()),
        _ => {
            if (1..=7).contains(&t.weekday) {
                out.push(format!("day-{}", t.weekday));
            }
            if date_ok {
                match lang {
                    Language::En => {
                        out.push(format!("month-{}", t.month));
                        out.push(format!("ordinal-{}", t.day));
                    }
                    Language::Nl => {
                        out.push(format!("num-{}", t.day));
                        out.push(format!("month-{}", t.month));
                    }
                }
                if t.year != today.year && t.year > 0 {
                    out.extend(say_number(lang, t.year.unsigned_abs().into()));
                }
            }
        }
    }
    say_time(lang, t, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn standard() -> PromptLibrary {
        PromptLibrary::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../prompts"))
    }

    fn names_in_tsv() -> Vec<String> {
        let tsv = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../prompts/prompts.tsv"),
        )
        .unwrap();
        tsv.lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect()
    }

    fn dt(year: i32, month: u32, day: u32, hour: u32, minute: u32, weekday: u32) -> LocalDateTime {
        LocalDateTime {
            year,
            month,
            day,
            hour,
            minute,
            weekday,
        }
    }

    #[test]
    fn language_tags() {
        assert_eq!(Language::from_tag("en"), Some(Language::En));
        assert_eq!(Language::from_tag("en-GB"), Some(Language::En));
        assert_eq!(Language::from_tag("nl-NL"), Some(Language::Nl));
        assert_eq!(Language::from_tag("NL_be"), Some(Language::Nl));
        assert_eq!(Language::from_tag("de"), None);
        assert_eq!(Language::from_tag(""), None);
    }

    #[test]
    fn english_numbers() {
        let en = |n| say_number(Language::En, n).join(" ");
        assert_eq!(en(0), "num-0");
        assert_eq!(en(7), "num-7");
        assert_eq!(en(42), "num-42");
        assert_eq!(en(100), "num-1 num-hundred");
        assert_eq!(en(242), "num-2 num-hundred num-42");
        assert_eq!(en(1000), "num-1 num-thousand");
        assert_eq!(en(1005), "num-1 num-thousand num-5");
        assert_eq!(en(21_300), "num-21 num-thousand num-3 num-hundred");
        assert_eq!(
            en(999_999),
            "num-9 num-hundred num-99 num-thousand num-9 num-hundred num-99"
        );
        assert_eq!(en(2_000_001), "num-2 num-million num-1");
        assert_eq!(
            en(1_000_000_000),
            "digit-1 digit-0 digit-0 digit-0 digit-0 digit-0 digit-0 digit-0 digit-0 digit-0"
        );
    }

    #[test]
    fn dutch_numbers() {
        let nl = |n| say_number(Language::Nl, n).join(" ");
        assert_eq!(nl(0), "num-0");
        assert_eq!(nl(21), "num-21"); // eenentwintig is one prompt
        assert_eq!(nl(100), "num-hundred"); // honderd, not eenhonderd
        assert_eq!(nl(142), "num-hundred num-42");
        assert_eq!(nl(242), "num-2 num-hundred num-42"); // tweehonderdtweeënveertig
        assert_eq!(nl(1000), "num-thousand"); // duizend
        assert_eq!(nl(1999), "num-thousand num-9 num-hundred num-99");
        assert_eq!(nl(2026), "num-2 num-thousand num-26"); // tweeduizend zesentwintig
        assert_eq!(nl(101_000), "num-hundred num-1 num-thousand");
        assert_eq!(nl(1_000_000), "num-1 num-million");
    }

    #[test]
    fn digits() {
        assert_eq!(
            say_digits(Language::En, "+31 2*#"),
            ["digit-3", "digit-1", "digit-2", "digit-star", "digit-hash"]
        );
    }

    #[test]
    fn dates_and_times() {
        let today = dt(2026, 3, 5, 9, 0, 4);
        let s = |lang, t: LocalDateTime| say_datetime(lang, &t, &today).join(" ");
        assert_eq!(
            s(Language::En, dt(2026, 3, 5, 14, 30, 4)),
            "today at num-14 num-30"
        );
        assert_eq!(
            s(Language::Nl, dt(2026, 3, 5, 14, 30, 4)),
            "today at num-14 hour-word num-30"
        );
        assert_eq!(
            s(Language::En, dt(2026, 3, 4, 8, 5, 3)),
            "yesterday at num-8 oh num-5"
        );
        assert_eq!(
            s(Language::En, dt(2026, 3, 2, 10, 0, 1)),
            "day-1 month-3 ordinal-2 at num-10 hour-word"
        );
        assert_eq!(
            s(Language::Nl, dt(2026, 3, 2, 10, 0, 1)),
            "day-1 num-2 month-3 at num-10 hour-word"
        );
        // Across a month and a year boundary.
        let jan1 = dt(2027, 1, 1, 0, 0, 5);
        assert_eq!(
            say_datetime(Language::En, &dt(2026, 12, 31, 23, 59, 4), &jan1)[0],
            "yesterday"
        );
        assert_eq!(
            say_datetime(Language::Nl, &dt(2025, 12, 30, 23, 59, 2), &jan1).join(" "),
            "day-2 num-30 month-12 num-2 num-thousand num-25 at num-23 hour-word num-59"
        );
        // Nonsense fields are left out, never turned into missing names.
        assert_eq!(s(Language::En, dt(2026, 13, 40, 25, 61, 9)).as_str(), "");
    }

    #[test]
    fn every_name_the_say_functions_produce_exists_in_both_languages() {
        let lib = standard();
        let mut names = std::collections::BTreeSet::new();
        for lang in Language::ALL {
            names.extend(say_digits(lang, "0123456789*#"));
            let mut n = 0u64;
            while n < 2_000_000 {
                names.extend(say_number(lang, n));
                n += if n < 2000 { 1 } else { 997 };
            }
            for n in [999_999, 1_000_000, 1_000_001, 999_999_999, 1_234_567_890] {
                names.extend(say_number(lang, n));
            }
            let today = dt(2026, 6, 15, 12, 0, 1);
            for month in 1..=12 {
                for day in 1..=31 {
                    for (hour, minute) in [(0, 0), (9, 5), (23, 59), (12, 30)] {
                        for year in [2025, 2026] {
                            let t = dt(year, month, day, hour, minute, (day % 7) + 1);
                            names.extend(say_datetime(lang, &t, &today));
                        }
                    }
                }
            }
        }
        for lang in Language::ALL {
            let missing: Vec<_> = names.iter().filter(|n| !lib.exists(lang, n)).collect();
            assert!(missing.is_empty(), "missing in {}: {missing:?}", lang.tag());
        }
    }

    #[test]
    fn the_standard_set_is_complete_and_loads() {
        let lib = standard();
        let listed = names_in_tsv();
        let mut required: Vec<String> = [
            "vm-greeting-unavailable",
            "vm-greeting-busy",
            "vm-greeting-default-company",
            "vm-box-full",
            "vm-record-after-tone",
            "vm-message-saved",
            "vm-goodbye",
            "vm-enter-pin",
            "vm-pin-wrong",
            "vm-you-have",
            "vm-new-messages",
            "vm-new-message",
            "vm-saved-messages",
            "vm-saved-message",
            "vm-no-messages",
            "vm-message",
            "vm-received",
            "vm-from",
            "vm-message-menu",
            "vm-main-menu",
            "vm-message-deleted",
            "vm-greeting-record",
            "vm-greeting-saved",
            "vm-enter-new-pin",
            "vm-pin-changed",
            "vm-invalid",
            "vm-no-more-messages",
            "error",
            "anonymous-not-accepted",
            "goodbye",
            "unknown-caller",
            "digit-star",
            "digit-hash",
            "num-hundred",
            "num-thousand",
            "at",
            "hour-word",
            "today",
            "yesterday",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        required.extend((0..10).map(|i| format!("digit-{i}")));
        required.extend((0..100).map(|i| format!("num-{i}")));
        required.extend((1..=7).map(|i| format!("day-{i}")));
        required.extend((1..=12).map(|i| format!("month-{i}")));
        required.extend((1..=31).map(|i| format!("ordinal-{i}")));
        for r in &required {
            assert!(listed.contains(r), "{r} not in prompts.tsv");
        }
        for lang in Language::ALL {
            for name in &listed {
                assert!(valid_name(name), "{name}");
                let s = lib.get(lang, name).unwrap_or_else(|e| panic!("{e}"));
                assert!(s.len() > 800, "{}/{name} is shorter than 0.1 s", lang.tag());
            }
        }
        // Cached: the same samples come back.
        let a = lib.get(Language::Nl, "num-42").unwrap();
        let b = lib.get(Language::Nl, "num-42").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn path_traversal_and_bad_names_are_rejected() {
        let lib = standard();
        for bad in [
            "",
            "../en/goodbye",
            "..",
            "a/b",
            "/etc/passwd",
            "Goodbye",
            "goodbye.wav",
            "good bye",
            "x\0",
            &"a".repeat(65),
        ] {
            assert!(
                matches!(lib.get(Language::En, bad), Err(PromptError::InvalidName(_))),
                "{bad:?} accepted"
            );
            assert!(!lib.exists(Language::En, bad));
        }
        assert!(matches!(
            lib.get(Language::En, "no-such-prompt"),
            Err(PromptError::NotFound { .. })
        ));
    }

    #[test]
    fn wrong_formats_are_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("en")).unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(dir.path().join("en/wide.wav"), spec).unwrap();
        w.write_sample(0i16).unwrap();
        w.finalize().unwrap();
        std::fs::write(dir.path().join("en/junk.wav"), b"not a wav file").unwrap();
        let lib = PromptLibrary::new(dir.path().to_path_buf());
        let e = lib.get(Language::En, "wide").unwrap_err();
        assert!(e.to_string().contains("16000 Hz"), "{e}");
        assert!(matches!(
            lib.get(Language::En, "junk"),
            Err(PromptError::Format { .. })
        ));
    }
}
