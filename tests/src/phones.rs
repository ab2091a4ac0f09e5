//! Real softphones, headless: baresip 1.0 and linphonec 5.1 from Debian,
//! driven as a user would, with no configuration on the host side.
//!
//! - [`Baresip`]: modules `g711 aufile sndfile ctrl_tcp mwi` (+ `srtp`);
//!   it sends a tone WAV as its microphone, `sndfile` writes what it hears
//!   to `dump-*-dec.wav`, commands (`dial`, `hold`, `resume`, `hangup`) go
//!   over `ctrl_tcp` as netstring JSON, events and log lines are read from
//!   its output.
//! - [`Linphonec`]: `soundcard use files`, `play`/`record` WAV files,
//!   `autoanswer enable`, driven on stdin.
//!
//! [`tone`] writes the WAV a phone speaks, [`dominant`] checks what another
//! heard: the received audio must be the sender's tone, not silence.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{free_port, Pbx, DEMO_DOMAIN};

/// Writes `secs` seconds of a `hz` sine (8 kHz mono 16-bit WAV) to `path`.
pub fn tone(path: &Path, hz: f32, secs: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create a tone WAV");
    for i in 0..8000 * secs {
        let t = i as f32 / 8000.0;
        w.write_sample((f32::sin(t * hz * std::f32::consts::TAU) * 8000.0) as i16)
            .expect("write a sample");
    }
    w.finalize().expect("finish the tone WAV");
}

/// Samples of a WAV file (any rate; mono or the first channel).
pub fn samples(path: &Path) -> Vec<i16> {
    let Ok(mut r) = hound::WavReader::open(path) else {
        return Vec::new();
    };
    let ch = usize::from(r.spec().channels.max(1));
    r.samples::<i16>()
        .filter_map(Result::ok)
        .step_by(ch)
        .collect()
}

/// PCMU payloads decoded to samples.
pub fn ulaw(payloads: &[Vec<u8>]) -> Vec<i16> {
    payloads
        .iter()
        .flatten()
        .map(|b| audio_codec_algorithms::decode_ulaw(*b))
        .collect()
}

/// Goertzel magnitude of `hz` in `x` (sampled at `rate`).
fn magnitude(x: &[i16], hz: f32, rate: f32) -> f64 {
    let k = 2.0 * (std::f64::consts::TAU * f64::from(hz) / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for v in x {
        let s = f64::from(*v) + k * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - k * s1 * s2).max(0.0).sqrt() / x.len().max(1) as f64
}

/// What a recording holds: seconds of audio, its loudness and whether
/// `expected` Hz dominates `other` Hz.
#[derive(Debug, Clone, Copy)]
pub struct Heard {
    pub secs: f64,
    pub rms: f64,
    pub expected: f64,
    pub other: f64,
}

impl Heard {
    /// At least `min_secs` of audible sound that is the expected tone.
    pub fn is_tone(&self, min_secs: f64) -> bool {
        self.secs >= min_secs && self.rms > 500.0 && self.expected > 10.0 * self.other.max(1.0)
    }
}

/// How `x` (at `rate` Hz) compares for tones `expected` and `other`.
pub fn dominant(x: &[i16], rate: u32, expected: f32, other: f32) -> Heard {
    let rms = (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt();
    Heard {
        secs: x.len() as f64 / f64::from(rate),
        rms,
        expected: magnitude(x, expected, rate as f32),
        other: magnitude(x, other, rate as f32),
    }
}

/// Output lines of a child process, collected by a reader thread.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn follow(&self, r: impl std::io::Read + Send + 'static) {
        let me = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines().map_while(Result::ok) {
                if let Ok(mut v) = me.0.lock() {
                    v.push(line);
                }
            }
        });
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Waits until a line satisfies `pred`; the number of lines seen so
    /// far starts the search (`from`).
    fn wait(&self, from: usize, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        crate::wait_for(timeout, || {
            self.all().into_iter().skip(from).find(|l| pred(l))
        })
    }

    fn len(&self) -> usize {
        self.0.lock().map(|v| v.len()).unwrap_or(0)
    }
}

/// How a [`Baresip`] talks to the host.
#[derive(Debug, Clone, Default)]
pub struct BaresipOptions {
    /// `udp` (default), `tcp` or `tls`.
    pub transport: Option<String>,
    /// SDES-SRTP required (`mediaenc=srtp-mand`).
    pub srtp: bool,
    /// The host's SIP port for this transport (default: the UDP/TCP port).
    pub port: Option<u16>,
    /// CA certificate the host's TLS certificate is checked against.
    pub cafile: Option<PathBuf>,
}

/// A running baresip registered as one user of the demo tenant.
pub struct Baresip {
    dir: tempfile::TempDir,
    child: Option<Child>,
    ctrl: u16,
    pub sip_port: u16,
    out: Lines,
    events: Lines,
    ctrl_conn: Mutex<Option<TcpStream>>,
}

impl Baresip {
    /// baresip for `user`/`password` of the demo tenant, speaking a `hz`
    /// tone, answering calls by itself.
    pub fn start(pbx: &Pbx, user: &str, password: &str, hz: f32, opts: BaresipOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("baresip-")
            .tempdir()
            .expect("a baresip folder");
        let d = dir.path();
        std::fs::create_dir_all(d.join("dump")).expect("dump folder");
        tone(&d.join("tone.wav"), hz, 60);
        // baresip also binds sip_port + 1 (TLS): keep the ports apart.
        let sip_port = loop {
            let p = free_port(true);
            if p < 65000 && std::net::UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
                break p;
            }
        };
        let ctrl = free_port(true);
        let mut modules =
            String::from("module\t\t\tg711.so\nmodule\t\t\taufile.so\nmodule\t\t\tsndfile.so\n");
        if opts.srtp {
            modules.push_str("module\t\t\tsrtp.so\n");
        }
        let tls = opts
            .cafile
            .as_ref()
            .map(|c| format!("sip_cafile\t\t{}\nsip_verify_server\tyes\n", c.display()))
            .unwrap_or_default();
        let config = format!(
            "poll_method\t\tepoll\n\
             sip_listen\t\t127.0.0.1:{sip_port}\n\
             net_interface\t\t127.0.0.1\n\
             {tls}\
             audio_player\t\taufile,{play}\n\
             audio_source\t\taufile,{tone}\n\
             audio_alert\t\taufile,/dev/null\n\
             module_path\t\t/usr/lib/baresip/modules\n\
             {modules}\
             module_tmp\t\taccount.so\n\
             module_app\t\tmenu.so\n\
             module_app\t\tctrl_tcp.so\n\
             module_app\t\tmwi.so\n\
             ctrl_tcp_listen\t\t127.0.0.1:{ctrl}\n\
             snd_path\t\t{dump}\n\
             statmode_default\toff\n",
            play = d.join("play.wav").display(),
            tone = d.join("tone.wav").display(),
            dump = d.join("dump").display(),
        );
        std::fs::write(d.join("config"), config).expect("baresip config");
        let transport = opts.transport.clone().unwrap_or_else(|| "udp".into());
        let port = opts.port.unwrap_or(pbx.sip_addr().port());
        let (scheme, tparam) = match transport.as_str() {
            "tls" => ("sip", ";transport=tls"),
            "tcp" => ("sip", ";transport=tcp"),
            _ => ("sip", ""),
        };
        let mut account = format!(
            "<sip:{user}@{DEMO_DOMAIN}{tparam}>;auth_pass={password};\
             outbound=\"{scheme}:127.0.0.1:{port}{tparam}\";answermode=auto;regint=600"
        );
        if opts.srtp {
            account.push_str(";mediaenc=srtp-mand");
        }
        std::fs::write(d.join("accounts"), format!("{account}\n")).expect("accounts");
        let mut child = Command::new("baresip")
            .arg("-f")
            .arg(d)
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run baresip (Debian package baresip)");
        let out = Lines::default();
        if let Some(o) = child.stdout.take() {
            out.follow(o);
        }
        if let Some(e) = child.stderr.take() {
            out.follow(e);
        }
        Baresip {
            dir,
            child: Some(child),
            ctrl,
            sip_port,
            out,
            events: Lines::default(),
            ctrl_conn: Mutex::new(None),
        }
    }

    /// Everything baresip printed so far.
    pub fn output(&self) -> String {
        self.out.all().join("\n")
    }

    /// Waits (`timeout`) for an output line containing `needle`.
    pub fn wait_output(&self, needle: &str, timeout: Duration) -> bool {
        self.out.wait(0, timeout, |l| l.contains(needle)).is_some()
    }

    /// Waits for the registration's `200 OK` line; panics with the output
    /// when it does not come.
    pub fn wait_registered(&self) {
        let ok = self.out.wait(0, Duration::from_secs(15), |l| {
            l.contains(DEMO_DOMAIN) && l.contains("200 OK")
        });
        assert!(ok.is_some(), "baresip did not register:\n{}", self.output());
    }

    fn connect(&self) -> std::io::Result<TcpStream> {
        let mut guard = self
            .ctrl_conn
            .lock()
            .map_err(|_| std::io::ErrorKind::Other)?;
        if let Some(c) = guard.as_ref() {
            return c.try_clone();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let conn = loop {
            match TcpStream::connect(("127.0.0.1", self.ctrl)) {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        let reader = conn.try_clone()?;
        let events = self.events.clone();
        std::thread::spawn(move || {
            // Netstrings: `<len>:<json>,`
            let mut r = BufReader::new(reader);
            loop {
                let mut len = Vec::new();
                if r.read_until(b':', &mut len).unwrap_or(0) == 0 {
                    return;
                }
                let n: usize = String::from_utf8_lossy(&len[..len.len() - 1])
                    .trim()
                    .parse()
                    .unwrap_or(0);
                let mut body = vec![0u8; n + 1];
                if std::io::Read::read_exact(&mut r, &mut body).is_err() {
                    return;
                }
                if let Ok(mut v) = events.0.lock() {
                    v.push(String::from_utf8_lossy(&body[..n]).into_owned());
                }
            }
        });
        *guard = Some(conn.try_clone()?);
        Ok(conn)
    }

    /// Sends a `ctrl_tcp` command (e.g. `dial` `202`, `hold`, `resume`,
    /// `hangup`).
    pub fn command(&self, command: &str, params: &str) {
        let mut conn = self.connect().expect("baresip's ctrl_tcp");
        let body = format!(
            "{{\"command\":\"{command}\",\"params\":\"{params}\",\"token\":\"{command}\"}}"
        );
        conn.write_all(format!("{}:{body},", body.len()).as_bytes())
            .expect("send a ctrl_tcp command");
    }

    /// Connects `ctrl_tcp` now, so that events from here on are seen.
    pub fn listen(&self) {
        let _ = self.connect().expect("baresip's ctrl_tcp");
    }

    /// Waits for a `ctrl_tcp` event of `kind` (e.g. `CALL_ESTABLISHED`).
    pub fn wait_event(&self, kind: &str, timeout: Duration) -> Option<String> {
        self.wait_event_from(0, kind, timeout)
    }

    /// [`Baresip::wait_event`] among the events after the first `from`.
    pub fn wait_event_from(&self, from: usize, kind: &str, timeout: Duration) -> Option<String> {
        let needle = format!("\"type\":\"{kind}\"");
        self.events.wait(from, timeout, |l| l.contains(&needle))
    }

    /// Events seen so far.
    pub fn events(&self) -> Vec<String> {
        self.events.all()
    }

    /// What it heard, one recording per audio stream (`sndfile`'s decoded
    /// dumps, oldest first; a hold and resume starts a new one).
    pub fn dumps(&self) -> Vec<Vec<i16>> {
        let mut dumps: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("dump"))
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
                    .collect()
            })
            .unwrap_or_default();
        dumps.sort();
        dumps.iter().map(|p| samples(p)).collect()
    }

    /// Everything it heard, all streams one after the other.
    pub fn heard(&self) -> Vec<i16> {
        self.dumps().concat()
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- baresip output ---\n{}\n--- end ---", self.output());
        }
    }
}

/// A running linphonec registered as one user of the demo tenant, playing
/// a tone as its microphone, recording what it hears, answering by itself.
pub struct Linphonec {
    dir: tempfile::TempDir,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    out: Lines,
}

impl Linphonec {
    /// linphonec for `user`/`password` of the demo tenant, speaking `hz`.
    pub fn start(pbx: &Pbx, user: &str, password: &str, hz: f32) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("linphonec-")
            .tempdir()
            .expect("a linphonec folder");
        let d = dir.path();
        // Its databases live under $HOME; without them it never listens.
        std::fs::create_dir_all(d.join(".local/share/linphone")).expect("linphone data folder");
        tone(&d.join("tone.wav"), hz, 60);
        let sip_port = free_port(true);
        let rtp = free_port(false) & !1;
        let rc = format!(
            "[sip]\ncontact=sip:{user}@127.0.0.1:{sip_port}\nsip_port={sip_port}\nsip_tcp_port=0\n\
             sip_tls_port=0\nuse_ipv6=0\nipv6_migration_done=1\nregister_only_when_network_is_up=0\n\
             register_only_when_upnp_is_ok=0\ninc_timeout=60\nmedia_encryption=none\n\n\
             [rtp]\naudio_rtp_port={rtp}\n\n[video]\ndisplay=0\ncapture=0\n\n\
             [proxy_0]\nreg_proxy=<sip:{host};transport=udp>\nreg_route=<sip:{host};transport=udp;lr>\nreg_identity=sip:{user}@{DEMO_DOMAIN}\n\
             reg_expires=600\nreg_sendregister=1\npublish=0\n\n\
             [auth_info_0]\nusername={user}\npasswd={password}\nrealm={DEMO_DOMAIN}\ndomain={DEMO_DOMAIN}\n",
            host = pbx.sip_addr()
        );
        std::fs::write(d.join("rc"), rc).expect("linphonec rc");
        let mut child = Command::new("linphonec")
            .arg("-c")
            .arg(d.join("rc"))
            .env("HOME", d)
            .current_dir(d)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run linphonec (Debian package linphone-cli)");
        let out = Lines::default();
        if let Some(o) = child.stdout.take() {
            out.follow(o);
        }
        if let Some(e) = child.stderr.take() {
            out.follow(e);
        }
        let stdin = child.stdin.take();
        let mut l = Linphonec {
            dir,
            child: Some(child),
            stdin,
            out,
        };
        let tone = d_path(&l, "tone.wav");
        let rec = d_path(&l, "heard.wav");
        l.send("soundcard use files");
        l.send(&format!("play {tone}"));
        l.send(&format!("record {rec}"));
        l.send("autoanswer enable");
        l
    }

    /// Types a command.
    pub fn send(&mut self, line: &str) {
        if let Some(i) = self.stdin.as_mut() {
            let _ = writeln!(i, "{line}");
            let _ = i.flush();
        }
    }

    /// Everything it printed so far.
    pub fn output(&self) -> String {
        self.out.all().join("\n")
    }

    /// Waits (`timeout`) for an output line containing `needle`, printed
    /// after the first `from` lines.
    pub fn wait_output_from(&self, from: usize, needle: &str, timeout: Duration) -> bool {
        self.out
            .wait(from, timeout, |l| l.contains(needle))
            .is_some()
    }

    /// Lines printed so far.
    pub fn lines(&self) -> usize {
        self.out.len()
    }

    /// What it heard (the `record` file), when a call has ended.
    pub fn heard(&self) -> Vec<i16> {
        samples(&self.dir.path().join("heard.wav"))
    }
}

fn d_path(l: &Linphonec, name: &str) -> String {
    l.dir.path().join(name).display().to_string()
}

impl Drop for Linphonec {
    fn drop(&mut self) {
        self.send("quit");
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            let out: Vec<String> = self
                .out
                .all()
                .into_iter()
                .filter(|l| !l.contains("alsa error") && !l.contains("soundcard"))
                .collect();
            eprintln!("--- linphonec output ---\n{}\n--- end ---", out.join("\n"));
        }
    }
}
