//! WAV files: loading prompts (8 kHz mono 16-bit PCM only) and writing
//! recordings incrementally.
//!
//! [`WavSink`] checkpoints the header at least once per second of audio, so
//! a crash loses at most about a second and leaves a readable file.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavReader, WavSpec, WavWriter};

/// The one format we play and record.
pub const SPEC: WavSpec = WavSpec {
    channels: 1,
    sample_rate: 8000,
    bits_per_sample: 16,
    sample_format: SampleFormat::Int,
};

/// Samples between header checkpoints (one second).
const FLUSH_EVERY: u64 = 8000;

/// Why a WAV file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// The file could not be read.
    #[error("cannot read WAV file: {0}")]
    Io(#[from] io::Error),
    /// Not a readable WAV file.
    #[error("not a valid WAV file: {0}")]
    Malformed(String),
    /// A WAV file, but not 8 kHz mono 16-bit PCM.
    #[error("unsupported WAV format: {found} (expected 8000 Hz mono 16-bit PCM)")]
    Format {
        /// The format found, e.g. `44100 Hz stereo 16-bit PCM`.
        found: String,
    },
}

fn describe(spec: &WavSpec) -> String {
    let channels = match spec.channels {
        1 => "mono".to_string(),
        2 => "stereo".to_string(),
        n => format!("{n} channels"),
    };
    let kind = match spec.sample_format {
        SampleFormat::Int => "PCM",
        SampleFormat::Float => "float",
    };
    format!(
        "{} Hz {channels} {}-bit {kind}",
        spec.sample_rate, spec.bits_per_sample
    )
}

fn read_samples<R: Read>(reader: R) -> Result<Vec<i16>, WavError> {
    let mut wav = WavReader::new(reader).map_err(|e| match e {
        hound::Error::IoError(io) => WavError::Io(io),
        other => WavError::Malformed(other.to_string()),
    })?;
    let spec = wav.spec();
    if spec != SPEC {
        return Err(WavError::Format {
            found: describe(&spec),
        });
    }
    wav.samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| WavError::Malformed(e.to_string()))
}

/// Loads an 8 kHz mono 16-bit PCM WAV file.
pub fn load_wav(path: &Path) -> Result<Vec<i16>, WavError> {
    read_samples(io::BufReader::new(File::open(path)?))
}

/// Loads an 8 kHz mono 16-bit PCM WAV file held in memory.
pub fn load_wav_bytes(bytes: &[u8]) -> Result<Vec<i16>, WavError> {
    read_samples(Cursor::new(bytes))
}

fn to_io(e: hound::Error) -> io::Error {
    match e {
        hound::Error::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

/// An 8 kHz mono 16-bit recording being written.
pub struct WavSink {
    writer: WavWriter<BufWriter<File>>,
    path: PathBuf,
    written: u64,
    since_flush: u64,
}

impl std::fmt::Debug for WavSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSink")
            .field("path", &self.path)
            .field("written", &self.written)
            .finish()
    }
}

impl WavSink {
    /// Creates (or truncates) the file and writes a valid empty WAV header.
    pub fn create(path: &Path) -> io::Result<WavSink> {
        let mut writer = WavWriter::create(path, SPEC).map_err(to_io)?;
        writer.flush().map_err(to_io)?;
        Ok(WavSink {
            writer,
            path: path.to_path_buf(),
            written: 0,
            since_flush: 0,
        })
    }

    /// Appends samples; checkpoints the header once a second of audio has
    /// accumulated since the last one.
    pub fn write(&mut self, samples: &[i16]) -> io::Result<()> {
        for chunk in samples.chunks(4096) {
            // The chunk length is bounded, and exactly that many samples are
            // written: the writer's capacity checks cannot trip.
            let mut w = self.writer.get_i16_writer(chunk.len() as u32);
            for s in chunk {
                w.write_sample(*s);
            }
            w.flush().map_err(to_io)?;
        }
        let n = samples.len() as u64;
        self.written += n;
        self.since_flush += n;
        if self.since_flush >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends `n` samples of silence.
    pub fn write_silence(&mut self, mut n: u64) -> io::Result<()> {
        const ZEROS: [i16; 512] = [0; 512];
        while n > 0 {
            let k = n.min(ZEROS.len() as u64);
            self.write(&ZEROS[..k as usize])?;
            n -= k;
        }
        Ok(())
    }

    /// Updates the header and pushes everything to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.since_flush = 0;
        self.writer.flush().map_err(to_io)
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.written
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Completes the file; returns its duration in milliseconds.
    pub fn finish(self) -> io::Result<u64> {
        let written = self.written;
        self.writer.finalize().map_err(to_io)?;
        Ok(written * 1000 / u64::from(SPEC.sample_rate))
    }

    /// Completes the file keeping only the first `keep` samples (trailing
    /// silence, a terminator's tone); returns the duration in milliseconds.
    pub fn finish_truncated(self, keep: u64) -> io::Result<u64> {
        let written = self.written;
        let path = self.path.clone();
        self.writer.finalize().map_err(to_io)?;
        if keep >= written {
            return Ok(written * 1000 / u64::from(SPEC.sample_rate));
        }
        let mut file = OpenOptions::new().read(true).write(true).open(&path)?;
        let len = file.metadata()?.len();
        let header = len
            .checked_sub(written * 2)
            .filter(|h| *h >= 44)
            .ok_or_else(|| io::Error::other("WAV file shorter than its samples"))?;
        let data_len = u32::try_from(keep * 2).map_err(io::Error::other)?;
        let riff_len = u32::try_from(header + keep * 2 - 8).map_err(io::Error::other)?;
        file.set_len(header + keep * 2)?;
        file.seek(SeekFrom::Start(4))?;
        file.write_all(&riff_len.to_le_bytes())?;
        // hound writes the data chunk last in the header: its size field is
        // the header's last four bytes.
        file.seek(SeekFrom::Start(header - 4))?;
        file.write_all(&data_len.to_le_bytes())?;
        file.flush()?;
        Ok(keep * 1000 / u64::from(SPEC.sample_rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, spec: WavSpec, n: usize) {
        let mut w = WavWriter::create(path, spec).unwrap();
        for i in 0..n {
            for _ in 0..spec.channels {
                if spec.sample_format == SampleFormat::Float {
                    w.write_sample(0.5f32).unwrap();
                } else {
                    w.write_sample(i as i16).unwrap();
                }
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn loads_8k_mono_16bit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ok.wav");
        write_wav(&p, SPEC, 1000);
        let s = load_wav(&p).unwrap();
        assert_eq!(s.len(), 1000);
        assert_eq!(s[999], 999);
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(load_wav_bytes(&bytes).unwrap(), s);
    }

    #[test]
    fn rejects_other_formats_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cd.wav");
        let cd = WavSpec {
            channels: 2,
            sample_rate: 44100,
            ..SPEC
        };
        write_wav(&p, cd, 10);
        let e = load_wav(&p).unwrap_err().to_string();
        assert!(e.contains("44100 Hz stereo 16-bit PCM"), "{e}");
        assert!(e.contains("expected 8000 Hz mono 16-bit PCM"), "{e}");
        let f = dir.path().join("float.wav");
        let float = WavSpec {
            bits_per_sample: 32,
            sample_format: SampleFormat::Float,
            ..SPEC
        };
        write_wav(&f, float, 10);
        let e = load_wav(&f).unwrap_err().to_string();
        assert!(e.contains("8000 Hz mono 32-bit float"), "{e}");
        assert!(matches!(
            load_wav_bytes(b"RIFF....not a wav"),
            Err(WavError::Malformed(_) | WavError::Io(_))
        ));
        assert!(matches!(
            load_wav(&dir.path().join("missing.wav")),
            Err(WavError::Io(_))
        ));
    }

    #[test]
    fn sink_is_readable_while_writing_and_after_finish() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rec.wav");
        let mut sink = WavSink::create(&p).unwrap();
        assert!(load_wav(&p).unwrap().is_empty());
        // 1.5 s: the header was checkpointed after the first second.
        sink.write(&vec![100i16; 12000]).unwrap();
        assert_eq!(load_wav(&p).unwrap().len(), 12000);
        sink.write(&[5; 100]).unwrap();
        sink.write_silence(700).unwrap();
        assert_eq!(sink.samples(), 12800);
        assert_eq!(sink.finish().unwrap(), 1600);
        let s = load_wav(&p).unwrap();
        assert_eq!(s.len(), 12800);
        assert_eq!((s[0], s[12050], s[12799]), (100, 5, 0));
    }

    #[test]
    fn sink_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cut.wav");
        let mut sink = WavSink::create(&p).unwrap();
        sink.write(&(0..16000).map(|i| i as i16).collect::<Vec<_>>())
            .unwrap();
        assert_eq!(sink.finish_truncated(4000).unwrap(), 500);
        let s = load_wav(&p).unwrap();
        assert_eq!(s.len(), 4000);
        assert_eq!(s[3999], 3999);
        let q = dir.path().join("keep.wav");
        let mut sink = WavSink::create(&q).unwrap();
        sink.write(&[1; 80]).unwrap();
        assert_eq!(sink.finish_truncated(1000).unwrap(), 10);
        assert_eq!(load_wav(&q).unwrap().len(), 80);
    }
}
