//! A real SMTP server for the tests (mailin-embedded on 127.0.0.1) and the
//! parsing of what it receives (mail-parser), WAV attachments included.

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mailin_embedded::{response, Handler, Response, Server};

/// A message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// The raw message.
    pub data: Vec<u8>,
}

#[derive(Clone)]
struct Collect {
    tx: mpsc::Sender<Received>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collect {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.from = from.to_string();
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let _ = self.tx.send(Received {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            data: std::mem::take(&mut self.data),
        });
        response::OK
    }
}

/// An SMTP server on a detached thread (mailin cannot stop; it lives until
/// the test process ends).
pub struct SmtpSink {
    /// Its port.
    pub port: u16,
    rx: mpsc::Receiver<Received>,
}

impl SmtpSink {
    /// A server on a free port.
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind an SMTP port");
        Self::on(listener)
    }

    /// A server on `port` (e.g. one the host already tries to reach).
    pub fn start_on(port: u16) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the SMTP port given");
        Self::on(listener)
    }

    fn on(listener: TcpListener) -> SmtpSink {
        let port = listener.local_addr().expect("local address").port();
        let (tx, rx) = mpsc::channel();
        let mut server = Server::new(Collect {
            tx,
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        });
        server.with_name("smtp.test").with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpSink { port, rx }
    }

    /// The next message, waiting up to `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<Received> {
        self.rx.recv_timeout(timeout).ok()
    }
}

/// A port nobody listens on (for now).
pub fn dead_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A parsed mail: subject, recipients and attachments.
#[derive(Debug)]
pub struct Mail {
    /// Subject line.
    pub subject: String,
    /// To addresses.
    pub to: Vec<String>,
    /// Cc addresses.
    pub cc: Vec<String>,
    /// Plain-text body.
    pub text: String,
    /// (file name, content type, bytes).
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

/// Parses a raw message.
pub fn parse(raw: &[u8]) -> Mail {
    use mail_parser::{MessageParser, MimeHeaders};
    let m = MessageParser::default()
        .parse(raw)
        .expect("the mail parses as RFC 5322");
    let addrs = |a: Option<&mail_parser::Address>| -> Vec<String> {
        a.map(|a| {
            a.iter()
                .filter_map(|x| x.address().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
    };
    Mail {
        subject: m.subject().unwrap_or_default().to_string(),
        to: addrs(m.to()),
        cc: addrs(m.cc()),
        text: m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        attachments: m
            .attachments()
            .map(|a| {
                let ct = a
                    .content_type()
                    .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
                    .unwrap_or_default();
                (
                    a.attachment_name().unwrap_or_default().to_string(),
                    ct,
                    a.contents().to_vec(),
                )
            })
            .collect(),
    }
}

/// Duration (s) and RMS level (0..32768) of a WAV.
pub fn wav_stats(bytes: &[u8]) -> (f64, f64) {
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).expect("a WAV file");
    let spec = reader.spec();
    let samples: Vec<i16> = reader
        .into_samples::<i16>()
        .map(|s| s.expect("a 16-bit sample"))
        .collect();
    let secs = samples.len() as f64 / f64::from(spec.sample_rate) / f64::from(spec.channels);
    let rms = if samples.is_empty() {
        0.0
    } else {
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
    };
    (secs, rms)
}

/// Waits up to `timeout` for `f` to give something.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
