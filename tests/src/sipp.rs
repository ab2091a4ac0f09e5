//! Running sipp with the scenarios of `tests/scenarios`.
//!
//! Each run gets its own directory for sipp's message trace
//! (`-trace_msg -message_file`) and error log (`-trace_err -error_file`),
//! so tests can assert on what sipp received. sipp exits 0 only when every
//! call of the scenario succeeded.
//!
//! A [`Phone`] is a SIP port a sipp user agent lives on across several sipp
//! runs (REGISTER, then a UAS on the same port), optionally behind a NAT.

use crate::sip::SipMessage;
use crate::{free_port, DEMO_DOMAIN};
use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The installed sipp's version, e.g. (3, 6, 1). Panics with install
/// instructions when sipp is not on PATH.
pub fn sipp_version() -> (u32, u32, u32) {
    static V: OnceLock<Result<(u32, u32, u32), String>> = OnceLock::new();
    let v = V.get_or_init(|| {
        let out = Command::new("sipp")
            .arg("-v")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run sipp: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        let at = text
            .find("SIPp v")
            .ok_or_else(|| format!("unexpected `sipp -v` output: {text}"))?;
        let nums: Vec<u32> = text[at + 6..]
            .split(|c: char| !c.is_ascii_digit())
            .take(3)
            .map(|s| s.parse().unwrap_or(0))
            .collect();
        Ok((
            nums[0],
            *nums.get(1).unwrap_or(&0),
            *nums.get(2).unwrap_or(&0),
        ))
    });
    match v {
        Ok(v) => *v,
        Err(e) => panic!(
            "sipp is required for the end-to-end tests ({e}). Run the README's test command \
             `./scripts/test`, which installs it (Debian package sip-tester), or \
             `apt-get install sip-tester`."
        ),
    }
}

/// The scenario directory.
pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// A SIP port (UDP, 127.0.0.1) for sipp user agents, kept across sipp runs
/// so that a UAS can be started on the port an earlier REGISTER bound.
///
/// A phone [`Phone::behind_nat`] talks to the host through a relay socket
/// that passes every datagram unchanged, like a NAT: the host sees the relay
/// as the source address, while the Contact names sipp's own port.
pub struct Phone {
    /// sipp's `-p`.
    pub port: u16,
    target: SocketAddr,
    relay: Option<Relay>,
}

impl Phone {
    /// A phone talking to the host at `pbx` directly.
    pub fn new(pbx: SocketAddr) -> Self {
        Phone {
            port: free_port(false),
            target: pbx,
            relay: None,
        }
    }

    /// A phone on a given port (e.g. the address the host knows as its SIP
    /// trunk).
    pub fn on_port(pbx: SocketAddr, port: u16) -> Self {
        Phone {
            port,
            target: pbx,
            relay: None,
        }
    }

    /// A phone whose packets reach the host at `pbx` from another address
    /// than its Contact says.
    pub fn behind_nat(pbx: SocketAddr) -> Self {
        let port = free_port(false);
        let relay = Relay::start(port, pbx);
        Phone {
            port,
            target: relay.addr,
            relay: Some(relay),
        }
    }

    /// Where sipp sends its requests (the host, or the NAT relay).
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// The address the host sees as this phone's source.
    pub fn source(&self) -> SocketAddr {
        match &self.relay {
            Some(r) => r.addr,
            None => SocketAddr::from(([127, 0, 0, 1], self.port)),
        }
    }
}

struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    fn start(phone_port: u16, pbx: SocketAddr) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind the relay socket");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let addr = sock.local_addr().expect("relay address");
        let phone = SocketAddr::from(([127, 0, 0, 1], phone_port));
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if from == phone {
                    let _ = sock.send_to(&buf[..n], pbx);
                } else if from == pbx {
                    let _ = sock.send_to(&buf[..n], phone);
                }
            }
        });
        Relay {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The scenario without `<!-- -->` comments (which may name variables the
/// scenario does not use; sipp refuses `-set` for those).
fn strip_xml_comments(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("<!--") {
        out.push_str(&rest[..i]);
        match rest[i..].find("-->") {
            Some(j) => rest = &rest[i + j + 3..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// One sipp invocation being prepared.
pub struct Sipp {
    scenario: String,
    text: String,
    remote: Option<SocketAddr>,
    port: Option<u16>,
    service: Option<String>,
    auth: Option<(String, String)>,
    auth_uri: Option<String>,
    vars: BTreeMap<String, String>,
    defaults: BTreeMap<String, String>,
    pause_ms: Option<u64>,
    timeout_s: u64,
    extra: Vec<String>,
}

impl Sipp {
    /// sipp with `tests/scenarios/<scenario>`.
    pub fn new(scenario: &str) -> Self {
        sipp_version();
        let path = scenario_dir().join(scenario);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read scenario {}: {e}", path.display()));
        let text = strip_xml_comments(&text);
        let mut defaults = BTreeMap::new();
        defaults.insert("domain".to_string(), DEMO_DOMAIN.to_string());
        defaults.insert("expires".to_string(), "3600".to_string());
        // Where the SDP says media goes when the test does not care.
        defaults.insert("rtp_port".to_string(), free_port(false).to_string());
        Sipp {
            scenario: scenario.to_string(),
            text,
            remote: None,
            port: None,
            service: None,
            auth: None,
            auth_uri: None,
            vars: BTreeMap::new(),
            defaults,
            pause_ms: None,
            timeout_s: 30,
            extra: Vec::new(),
        }
    }

    /// The address requests are sent to.
    pub fn remote(mut self, addr: SocketAddr) -> Self {
        self.remote = Some(addr);
        self
    }

    /// Local SIP port and, for a phone behind the relay, the relay as remote.
    pub fn phone(mut self, phone: &Phone) -> Self {
        self.port = Some(phone.port);
        self.remote = Some(phone.target());
        self
    }

    /// `-s`: the user part of the Request-URI (the number dialled).
    pub fn service(mut self, s: &str) -> Self {
        self.service = Some(s.to_string());
        self
    }

    /// `-au`/`-ap`: digest credentials for `[authentication]`.
    pub fn auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some((user.to_string(), password.to_string()));
        self
    }

    /// `-auth_uri`: the digest `uri` (without `sip:`). sipp 3.6 otherwise
    /// uses `sip:<remote ip>:<remote port>`, which is not the Request-URI;
    /// by default the harness passes the scenario's Request-URI:
    /// `[service]@[$domain]` when a service is set, else `[$domain]`.
    pub fn auth_uri(mut self, uri: &str) -> Self {
        self.auth_uri = Some(uri.to_string());
        self
    }

    /// `-set NAME VALUE` (`[$NAME]` in the scenario).
    pub fn set(mut self, name: &str, value: impl ToString) -> Self {
        assert!(
            self.text.contains(&format!("[${name}]")),
            "scenario {} does not use [${name}]",
            self.scenario
        );
        self.vars.insert(name.to_string(), value.to_string());
        self
    }

    /// `-d`: how long `<pause/>` lasts.
    pub fn pause_ms(mut self, ms: u64) -> Self {
        self.pause_ms = Some(ms);
        self
    }

    /// `-timeout`: sipp fails when the scenario takes longer.
    pub fn timeout_s(mut self, s: u64) -> Self {
        self.timeout_s = s;
        self
    }

    /// Any other sipp argument.
    pub fn arg(mut self, a: &str) -> Self {
        self.extra.push(a.to_string());
        self
    }

    /// Starts sipp in the background.
    pub fn spawn(self) -> SippChild {
        let dir = tempfile::Builder::new()
            .prefix("centrale-sipp-")
            .tempdir()
            .expect("temporary directory for sipp");
        let messages = dir.path().join("messages.log");
        let errors = dir.path().join("errors.log");
        let port = self.port.unwrap_or_else(|| free_port(false));
        let mut cmd = Command::new("sipp");
        if let Some(r) = self.remote {
            cmd.arg(r.to_string());
        }
        cmd.arg("-sf")
            .arg(scenario_dir().join(&self.scenario))
            .args(["-m", "1", "-t", "u1", "-i", "127.0.0.1", "-bind_local"])
            .arg("-p")
            .arg(port.to_string())
            .args(["-nostdin", "-trace_err", "-trace_msg", "-timeout_error"])
            .arg("-timeout")
            .arg(format!("{}s", self.timeout_s))
            .arg("-message_file")
            .arg(&messages)
            .arg("-error_file")
            .arg(&errors);
        if let Some(s) = &self.service {
            cmd.arg("-s").arg(s);
        }
        if let Some((u, p)) = &self.auth {
            cmd.arg("-au").arg(u).arg("-ap").arg(p);
            let domain = self
                .vars
                .get("domain")
                .or_else(|| self.defaults.get("domain"))
                .cloned()
                .unwrap_or_default();
            let uri = self
                .auth_uri
                .clone()
                .unwrap_or_else(|| match &self.service {
                    Some(s) => format!("{s}@{domain}"),
                    None => domain,
                });
            cmd.arg("-auth_uri").arg(uri);
        }
        if let Some(d) = self.pause_ms {
            cmd.arg("-d").arg(d.to_string());
        }
        let mut vars = self.vars.clone();
        for (k, v) in &self.defaults {
            if !vars.contains_key(k) && self.text.contains(&format!("[${k}]")) {
                vars.insert(k.clone(), v.clone());
            }
        }
        for (k, v) in &vars {
            cmd.arg("-set").arg(k).arg(v);
        }
        cmd.args(&self.extra);
        let label = format!(
            "sipp {} (port {port}{})",
            self.scenario,
            self.service
                .as_deref()
                .map(|s| format!(", calling {s}"))
                .unwrap_or_default()
        );
        let command_line = format!("{cmd:?}");
        let child = cmd
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start sipp: {e}"));
        SippChild {
            child: Some(child),
            label,
            command_line,
            port,
            messages,
            errors,
            dir,
        }
    }

    /// Runs sipp to its end.
    pub fn run(self) -> SippRun {
        let t = self.timeout_s + 15;
        self.spawn().wait(Duration::from_secs(t))
    }
}

/// sipp running in the background.
pub struct SippChild {
    child: Option<Child>,
    label: String,
    command_line: String,
    port: u16,
    messages: PathBuf,
    errors: PathBuf,
    dir: tempfile::TempDir,
}

impl SippChild {
    /// Waits until sipp has bound its SIP port (so a UAS is reachable).
    pub fn wait_bound(&mut self) -> &mut Self {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if UdpSocket::bind(("127.0.0.1", self.port)).is_err() {
                // Bound; give it a moment to reach its receive loop.
                std::thread::sleep(Duration::from_millis(200));
                return self;
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        self
    }

    /// The messages sipp traced so far (sipp flushes after each one).
    pub fn messages_so_far(&self) -> Vec<TracedMessage> {
        parse_trace(&std::fs::read_to_string(&self.messages).unwrap_or_default())
    }

    /// Waits (up to `timeout`) for a received message satisfying `pred`.
    pub fn wait_received(
        &self,
        timeout: Duration,
        pred: impl Fn(&SipMessage) -> bool,
    ) -> Option<SipMessage> {
        crate::wait_for(timeout, || {
            self.messages_so_far()
                .into_iter()
                .filter(|t| !t.sent)
                .map(|t| t.msg)
                .find(|m| pred(m))
        })
    }

    /// Waits for sipp to exit (killing it after `timeout`).
    pub fn wait(mut self, timeout: Duration) -> SippRun {
        let mut child = self.child.take().expect("sipp child");
        let deadline = Instant::now() + timeout;
        let mut killed = false;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = child.kill();
                    killed = true;
                    break;
                }
            }
        }
        let out = child.wait_with_output().expect("sipp output");
        SippRun {
            label: self.label.clone(),
            command_line: self.command_line.clone(),
            code: if killed { None } else { out.status.code() },
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            messages: std::fs::read_to_string(&self.messages).unwrap_or_default(),
            errors: std::fs::read_to_string(&self.errors).unwrap_or_default(),
        }
    }

    /// Where this sipp keeps its files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SippChild {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A finished sipp run.
#[derive(Debug)]
pub struct SippRun {
    pub label: String,
    pub command_line: String,
    /// Exit code; `None` when the harness had to kill it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The `-trace_msg` log: every message sent and received.
    pub messages: String,
    /// The `-trace_err` log.
    pub errors: String,
}

/// One message of a sipp message trace.
#[derive(Debug, Clone)]
pub struct TracedMessage {
    /// Sent by sipp (else received).
    pub sent: bool,
    pub msg: SipMessage,
}

/// Splits a `-trace_msg` file into messages.
pub fn parse_trace(text: &str) -> Vec<TracedMessage> {
    let mut out = Vec::new();
    for block in text.split("\n----------------------------------------------- ") {
        let mut lines = block.lines();
        // timestamp line, then "UDP message sent (N bytes):" / "... received [N] bytes :"
        let mut kind = None;
        for l in lines.by_ref() {
            if l.contains("message sent") {
                kind = Some(true);
                break;
            }
            if l.contains("message received") {
                kind = Some(false);
                break;
            }
        }
        let Some(sent) = kind else { continue };
        let body: Vec<&str> = lines.collect();
        let text = body.join("\r\n");
        if let Some(msg) = SipMessage::parse(text.trim_start().as_bytes()) {
            out.push(TracedMessage { sent, msg });
        }
    }
    out
}

impl SippRun {
    /// Exit code 0: every call of the scenario succeeded.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Messages sipp received.
    pub fn received(&self) -> Vec<SipMessage> {
        parse_trace(&self.messages)
            .into_iter()
            .filter(|t| !t.sent)
            .map(|t| t.msg)
            .collect()
    }

    /// Messages sipp sent.
    pub fn sent(&self) -> Vec<SipMessage> {
        parse_trace(&self.messages)
            .into_iter()
            .filter(|t| t.sent)
            .map(|t| t.msg)
            .collect()
    }

    /// The first received message satisfying `pred`.
    pub fn find_received(&self, pred: impl Fn(&SipMessage) -> bool) -> Option<SipMessage> {
        self.received().into_iter().find(|m| pred(m))
    }

    /// The status lines / request lines received, in order (for messages).
    pub fn received_summary(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|m| match m.cseq_method() {
                Some(c) if m.status.is_some() => format!("{} ({c})", m.start_line),
                _ => m.start_line.clone(),
            })
            .collect()
    }

    /// Final responses received more than once (the peer retransmitted
    /// them: it did not get or did not match our ACK).
    pub fn repeated_finals(&self) -> Vec<String> {
        let mut seen: Vec<(String, usize)> = Vec::new();
        for m in self.received().iter().filter(|m| m.is_final()) {
            let key = format!(
                "{} ({}, Call-ID {})",
                m.start_line,
                m.header("CSeq").unwrap_or(""),
                m.header("Call-ID").unwrap_or("")
            );
            match seen.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => seen.push((key, 1)),
            }
        }
        seen.into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(k, n)| format!("{k} x{n}"))
            .collect()
    }

    /// Everything useful to understand a failure.
    pub fn report(&self) -> String {
        let tail = |s: &str, n: usize| {
            let start = s.len().saturating_sub(n);
            let mut i = start;
            while !s.is_char_boundary(i) {
                i += 1;
            }
            s[i..].to_string()
        };
        format!(
            "{} exited with {:?}\ncommand: {}\nreceived: {:?}\nretransmitted to us: {:?}\n\
             --- sipp errors ---\n{}\n\
             --- sipp stderr ---\n{}\n--- sipp message trace (tail) ---\n{}",
            self.label,
            self.code,
            self.command_line,
            self.received_summary(),
            self.repeated_finals(),
            tail(&self.errors, 3000),
            tail(&self.stderr, 2000),
            tail(&self.messages, 40000),
        )
    }

    /// Panics with [`SippRun::report`] unless the run succeeded.
    pub fn assert_success(&self) {
        assert!(self.success(), "{}", self.report());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_message_trace() {
        let t = "----------------------------------------------- 2026-11-22 03:48:42.924259\n\
                 UDP message sent (10 bytes):\n\nOPTIONS sip:a SIP/2.0\nCSeq: 1 OPTIONS\n\n\n\
                 ----------------------------------------------- 2026-11-22 03:48:42.924513\n\
                 UDP message received [313] bytes :\n\nSIP/2.0 200 OK\nCSeq: 1 OPTIONS\n\n\n";
        let m = parse_trace(t);
        assert_eq!(m.len(), 2);
        assert!(m[0].sent && m[0].msg.is_request("OPTIONS"));
        assert!(!m[1].sent && m[1].msg.is_response(200, "OPTIONS"));
    }
}
