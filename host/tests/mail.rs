//! Outgoing mail end to end: the outbox on SQLite and PostgreSQL (see
//! `db/mod.rs`), delivery to a real SMTP server (mailin-embedded), retries
//! while it is down, a restart, the `.eml` files of the demo, and refusals.

mod db;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use centrale_host::config::Config;
use centrale_host::mail::{Attachment, Mail, MailConfig, MailError, Mailer, SmtpConfig};
use centrale_host::store::{BlobStore, OutboxMail, OutboxStatus, Store};
use mail_parser::{MessageParser, MimeHeaders};
use mailin_embedded::{response, Handler, Response, Server};
use tokio::sync::mpsc;

on_both!(
    check_smtp_delivery,
    check_smtp_down_then_up,
    check_gives_up,
    check_without_smtp_writes_eml,
    check_bad_address,
    check_plugin_mail_policy,
);
on_both_with_url!(check_restart_resumes);

/// How long a test waits for something that should happen in about a second.
const DEADLINE: Duration = Duration::from_secs(60);

/// A message as the SMTP server received it.
#[derive(Debug)]
struct Received {
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

#[derive(Clone)]
struct Collect {
    tx: mpsc::UnboundedSender<Received>,
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

/// Starts an SMTP server on `listener` (on a detached thread: mailin cannot
/// stop) and returns what it receives.
fn smtp_server(listener: TcpListener) -> mpsc::UnboundedReceiver<Received> {
    let (tx, rx) = mpsc::unbounded_channel();
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
    rx
}

fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

/// A port nobody listens on (for now).
fn dead_port() -> u16 {
    listener().local_addr().unwrap().port()
}

fn config(smtp_port: Option<u16>) -> MailConfig {
    MailConfig {
        from: "Centrale <pbx@centrale.test>".into(),
        smtp: smtp_port.map(|port| SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(port),
            tls: "none".into(),
            username: None,
            password: None,
            timeout_secs: 1,
        }),
        retry_base_secs: 1,
        retry_max_secs: 1,
        max_attempts: 50,
        // longer than DEADLINE: the worker must be woken, not polled
        poll_secs: 600,
        tenant_mails_per_hour: 4,
    }
}

fn mailer(store: &Store, data_dir: &Path, cfg: MailConfig) -> Mailer {
    let blobs = BlobStore::open(data_dir.join("blobs")).unwrap();
    Mailer::new(store.clone(), blobs, cfg, data_dir)
}

/// One second of a 440 Hz tone as an 8 kHz 16-bit WAV file.
fn wav() -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for i in 0..8000 {
        let t = i as f32 / 8000.0;
        w.write_sample((f32::sin(t * 440.0 * std::f32::consts::TAU) * 12000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    cursor.into_inner()
}

fn voicemail(tenant_id: i64) -> Mail {
    Mail {
        tenant_id,
        from: None,
        to: vec!["Anna de Vries <anna@a.test>".into(), "bob@a.test".into()],
        cc: vec!["archive@a.test".into()],
        subject: "Voicemail from 0201234567 (0:01)".into(),
        text: "You have a new voicemail.\n".into(),
        attachments: vec![Attachment {
            filename: "voicemail-201.wav".into(),
            content_type: "audio/wav".into(),
            data: wav(),
        }],
    }
}

/// Checks that `raw` is the voicemail mail, attachment byte for byte.
fn assert_is_voicemail(raw: &[u8]) {
    let msg = MessageParser::default().parse(raw).expect("parsable mail");
    assert_eq!(msg.subject(), Some("Voicemail from 0201234567 (0:01)"));
    let addrs = |a: Option<&mail_parser::Address>| -> Vec<String> {
        a.map(|a| {
            a.iter()
                .filter_map(|x| x.address())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
    };
    assert_eq!(addrs(msg.to()), ["anna@a.test", "bob@a.test"]);
    assert_eq!(addrs(msg.cc()), ["archive@a.test"]);
    assert_eq!(addrs(msg.from()), ["pbx@centrale.test"]);
    assert!(msg.body_text(0).unwrap().contains("new voicemail"));
    assert_eq!(msg.attachment_count(), 1);
    let att = msg.attachment(0).unwrap();
    assert_eq!(att.attachment_name(), Some("voicemail-201.wav"));
    let ct = att.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("audio", Some("wav")));
    assert!(
        att.contents() == wav().as_slice(),
        "attachment bytes differ"
    );
}

async fn recv(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("no mail arrived at the SMTP server in time")
        .expect("SMTP server gone")
}

/// Polls the outbox row `id` until `ok` holds for it.
async fn wait_row(
    mailer: &Mailer,
    id: i64,
    what: &str,
    ok: impl Fn(&OutboxMail) -> bool,
) -> OutboxMail {
    let start = Instant::now();
    loop {
        let row = mailer.get(id).await.unwrap().expect("outbox row");
        if ok(&row) {
            return row;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "mail {id} never became {what}: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn check_smtp_delivery(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let l = listener();
    let port = l.local_addr().unwrap().port();
    let mut rx = smtp_server(l);
    let m = mailer(store, dir.path(), config(Some(port)));
    let worker = m.spawn_worker();
    let id = m.enqueue(voicemail(7)).await.unwrap();

    let got = recv(&mut rx).await;
    assert_eq!(got.from, "pbx@centrale.test");
    assert_eq!(got.to, ["anna@a.test", "bob@a.test", "archive@a.test"]);
    assert_is_voicemail(&got.data);

    let row = wait_row(&m, id, "sent", |r| r.status == OutboxStatus::Sent).await;
    assert_eq!(row.attempts, 1);
    assert_eq!(row.tenant_id, 7);
    assert_eq!(row.last_error, None);
    assert!(row.sent_at.is_some());
    assert_eq!(m.depth().await.unwrap(), 0);
    // the stored message is the one that was sent
    let blobs = BlobStore::open(dir.path().join("blobs")).unwrap();
    assert_is_voicemail(&blobs.get(&row.sha256).await.unwrap());
    assert!(store.blob_is_referenced(&row.sha256).await.unwrap());
    worker.abort();
}

async fn check_smtp_down_then_up(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let port = dead_port();
    let m = mailer(store, dir.path(), config(Some(port)));
    let worker = m.spawn_worker();
    let id = m.enqueue(voicemail(3)).await.unwrap();
    let row = wait_row(&m, id, "retried", |r| {
        r.attempts >= 1 && r.last_error.is_some()
    })
    .await;
    assert_eq!(row.status, OutboxStatus::Queued, "{row:?}");
    assert!(
        row.last_error.as_deref().unwrap().contains("SMTP"),
        "{row:?}"
    );
    assert_eq!(m.depth().await.unwrap(), 1);

    // the server comes up on that port: the next retry delivers
    let mut rx = smtp_server(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let got = recv(&mut rx).await;
    assert_is_voicemail(&got.data);
    let row = wait_row(&m, id, "sent", |r| r.status == OutboxStatus::Sent).await;
    assert!(row.attempts >= 2, "{row:?}");
    assert_eq!(row.last_error, None);
    assert_eq!(m.depth().await.unwrap(), 0);
    worker.abort();
}

async fn check_gives_up(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(Some(dead_port()));
    cfg.max_attempts = 2;
    let m = mailer(store, dir.path(), cfg);
    let worker = m.spawn_worker();
    let id = m.enqueue(voicemail(3)).await.unwrap();
    let row = wait_row(&m, id, "failed", |r| r.status == OutboxStatus::Failed).await;
    assert_eq!(row.attempts, 2);
    assert!(row.last_error.is_some());
    assert_eq!(m.depth().await.unwrap(), 0);
    worker.abort();
}

async fn check_restart_resumes(store: &Store, url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let port = dead_port();
    // the first process queues two mails; one attempt fails, then it dies
    let old = mailer(store, dir.path(), config(Some(port)));
    let first = old.enqueue(voicemail(5)).await.unwrap();
    let worker = old.spawn_worker();
    wait_row(&old, first, "retried", |r| {
        r.attempts >= 1 && r.last_error.is_some()
    })
    .await;
    worker.abort();
    assert!(worker.await.unwrap_err().is_cancelled());
    let mut second_mail = voicemail(5);
    second_mail.subject = "second".into();
    let second = old.enqueue(second_mail).await.unwrap();
    drop(old);

    // a new process: its own pool and blob store over the same data
    let l = listener();
    let new_port = l.local_addr().unwrap().port();
    let mut rx = smtp_server(l);
    let store2 = Store::connect(url).await.unwrap();
    let new = mailer(&store2, dir.path(), config(Some(new_port)));
    assert_eq!(new.depth().await.unwrap(), 2);
    let worker = new.spawn_worker();
    let mut subjects = Vec::new();
    for _ in 0..2 {
        let got = recv(&mut rx).await;
        let msg = MessageParser::default().parse(&got.data).unwrap();
        subjects.push(msg.subject().unwrap().to_string());
        if subjects.last().map(String::as_str) != Some("second") {
            assert_is_voicemail(&got.data);
        }
    }
    subjects.sort();
    assert_eq!(subjects, ["Voicemail from 0201234567 (0:01)", "second"]);
    for id in [first, second] {
        wait_row(&new, id, "sent", |r| r.status == OutboxStatus::Sent).await;
    }
    assert_eq!(new.depth().await.unwrap(), 0);
    worker.abort();
    store2.close().await;
}

async fn check_without_smtp_writes_eml(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let m = mailer(store, dir.path(), config(None));
    assert_eq!(m.outbox_dir(), dir.path().join("outbox"));
    let worker = m.spawn_worker();
    let id = m.enqueue(voicemail(9)).await.unwrap();
    let row = wait_row(&m, id, "sent", |r| r.status == OutboxStatus::Sent).await;
    assert_eq!(row.attempts, 1);
    let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one file, no temporary left: {files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with(&format!("{id}-")) && name.ends_with(".eml"),
        "{name}"
    );
    assert_is_voicemail(&std::fs::read(&files[0]).unwrap());
    worker.abort();
}

async fn check_bad_address(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let m = mailer(store, dir.path(), config(None));
    for (field, bad) in [
        ("to", "anna@@a.test"),
        ("cc", "no address"),
        ("from", "pbx"),
    ] {
        let mut mail = voicemail(4);
        match field {
            "to" => mail.to.push(bad.into()),
            "cc" => mail.cc = vec![bad.into()],
            _ => mail.from = Some(bad.into()),
        }
        match m.enqueue(mail).await {
            Err(MailError::Invalid(msg)) => assert!(msg.contains(bad), "{field}: {msg}"),
            other => panic!("{field}: expected Invalid, got {other:?}"),
        }
    }
    let mut mail = voicemail(4);
    mail.to.clear();
    mail.cc.clear();
    assert!(matches!(m.enqueue(mail).await, Err(MailError::Invalid(_))));
    // nothing was stored: no row, no blob
    assert_eq!(m.depth().await.unwrap(), 0);
    assert!(store.outbox_list(4, 10).await.unwrap().is_empty());
    let blobs: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
        .unwrap()
        .collect();
    assert!(blobs.is_empty(), "{blobs:?}");
}

#[test]
fn mail_section_of_the_config() {
    let cfg: Config = toml::from_str("").unwrap();
    assert_eq!(cfg.mail.from, "centrale@localhost");
    assert!(cfg.mail.smtp.is_none());
    assert_eq!(
        (
            cfg.mail.retry_base_secs,
            cfg.mail.retry_max_secs,
            cfg.mail.max_attempts
        ),
        (30, 3600, 50)
    );
    let cfg: Config = toml::from_str(
        "[mail]\nfrom = \"pbx@example.com\"\n[mail.smtp]\nhost = \"smtp.example.com\"\n\
         tls = \"tls\"\nusername = \"u\"\npassword = \"p\"\n",
    )
    .unwrap();
    cfg.validate().unwrap();
    let smtp = cfg.mail.smtp.as_ref().unwrap();
    assert_eq!((smtp.port(), smtp.timeout_secs), (465, 30));
    let bad: Config = toml::from_str("[mail.smtp]\nhost = \"h\"\ntls = \"ssl\"\n").unwrap();
    assert!(bad.validate().unwrap_err().to_string().contains("tls"));
    let bad: Config = toml::from_str("[mail.smtp]\nhost = \"h\"\nusername = \"u\"\n").unwrap();
    assert!(bad.validate().is_err());
    assert!(toml::from_str::<Config>("[mail]\nsmtp_host = \"h\"\n").is_err());
}

/// What a plugin may mail: the tenant's users and the domains the operator
/// allowed, from the tenant's sender, a few mails an hour; and queued mail
/// counts toward the tenant's storage limit.
async fn check_plugin_mail_policy(store: &Store) {
    use centrale_host::runtime::host::MailMessage;
    use centrale_host::runtime::Scope;
    use centrale_host::tenancy::storage::Storage;
    let dir = tempfile::tempdir().unwrap();
    let t = store
        .create_tenant("a.test", "Acme BV", 3, "0")
        .await
        .unwrap();
    store
        .create_user(t.id, "201", "Ann", "ann@a.test", &[])
        .await
        .unwrap();
    let blobs = BlobStore::open(dir.path().join("blobs")).unwrap();
    let storage = Storage::new(blobs, Some(mailer(store, dir.path(), config(None))));
    let scope = Scope {
        tenant_id: t.id,
        tenant_domain: t.domain.clone(),
        plugin_id: "voicemail".into(),
        subject_id: None,
    };
    let msg = |to: &str| MailMessage {
        to: vec![to.to_string()],
        cc: vec![],
        subject: "Voicemail".into(),
        text: "hello".into(),
        attachments: vec![],
    };
    // A stranger's address is refused; the user's (any case) and the
    // tenant's own domain are accepted.
    storage
        .send_mail(store, &scope, msg("office@a.test"))
        .await
        .unwrap();
    let r = storage
        .send_mail(store, &scope, msg("victim@elsewhere.example"))
        .await;
    assert!(
        matches!(&r, Err(centrale_host::runtime::host::MailError::Invalid(m)) if m.contains("victim")),
        "{r:?}"
    );
    let id = storage
        .send_mail(store, &scope, msg("Ann@A.test"))
        .await
        .unwrap();
    let queued = store
        .outbox_get(i64::try_from(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    // From the host's address under the tenant's name.
    assert!(
        queued.mail_from.contains("pbx@centrale.test"),
        "{}",
        queued.mail_from
    );
    // The operator allows a domain and sets the tenant's sender.
    store
        .set_tenant_mail_policy(
            t.id,
            &centrale_host::store::MailPolicy {
                from_address: "voicemail@acme.example".into(),
                allowed_domains: vec!["Partner.Example".into()],
            },
        )
        .await
        .unwrap();
    let id = storage
        .send_mail(store, &scope, msg("bob@partner.example"))
        .await
        .unwrap();
    let queued = store
        .outbox_get(i64::try_from(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(queued.mail_from, "voicemail@acme.example");
    // Four mails an hour in this configuration: the fifth waits.
    storage
        .send_mail(store, &scope, msg("ann@a.test"))
        .await
        .unwrap();
    let r = storage.send_mail(store, &scope, msg("ann@a.test")).await;
    assert!(
        matches!(&r, Err(centrale_host::runtime::host::MailError::Unavailable(m)) if m.contains("4 mails")),
        "{r:?}"
    );
    // Queued mail counts toward the storage limit.
    let used = store.tenant_storage_usage(t.id).await.unwrap();
    assert!(used.outbox > 0, "{used:?}");
}
