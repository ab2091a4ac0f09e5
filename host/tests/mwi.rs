//! `Switch::notify_mwi` in-process: the host started with `server::start`,
//! a registered contact that is a UDP socket of the test, and the
//! unsolicited NOTIFY message-summary that reaches it (RFC 3842). The
//! subscription path is covered end to end with sipp in tests/tests/mwi.rs.

use centrale_host::config::Config;
use centrale_host::sip::{Peer, Transport};
use centrale_host::tenancy::Registration;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

/// The 200 answering the request `req` (text).
fn ok_for(req: &str) -> String {
    let mut out = String::from("SIP/2.0 200 OK\r\n");
    for line in req.lines() {
        let name = line.split(':').next().unwrap_or("").trim();
        if ["Via", "From", "To", "Call-ID", "CSeq"]
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
        {
            out.push_str(line.trim_end());
            out.push_str("\r\n");
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_mwi_stores_the_state_and_notifies_a_registered_contact_once() {
    let dir = tempfile::tempdir().unwrap();
    let sip: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let rtp = 2 * (free_udp_port() / 2);
    let mut cfg = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    cfg.sip.udp = vec![sip];
    cfg.sip.tcp = vec![];
    cfg.media.rtp_ports = format!("{}-{}", rtp, rtp + 3);
    let running = centrale_host::server::start(&cfg).await.unwrap();
    let store = running.store.clone();
    centrale_host::cli::ensure_demo(&store).await.unwrap();
    let t = store
        .tenant_by_domain(centrale_host::cli::DEMO_DOMAIN)
        .await
        .unwrap()
        .unwrap();
    let u = store.user_by_extension(t.id, "201").await.unwrap().unwrap();
    let d = store
        .device_by_username(t.id, "201")
        .await
        .unwrap()
        .unwrap();

    let phone = UdpSocket::bind("127.0.0.1:0").unwrap();
    phone
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let addr = phone.local_addr().unwrap();
    let now = centrale_host::now_ms();
    store
        .upsert_registration(&Registration {
            tenant_id: t.id,
            user_id: u.id,
            device_id: d.id,
            contact: format!("sip:201@{addr}"),
            source: Peer {
                transport: Transport::Udp,
                addr,
            }
            .to_source_string(),
            call_id: "mwi-test".into(),
            cseq: 1,
            expires_at: now + 60_000,
            updated_at: now,
        })
        .await
        .unwrap();

    running.switch.notify_mwi(t.id, u.id, 3, 1).await.unwrap();
    assert_eq!(store.mwi_get(t.id, u.id).await.unwrap(), (3, 1));

    let phone = tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; 65536];
        let (n, from) = phone.recv_from(&mut buf).expect("a NOTIFY");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(
            text.starts_with(&format!("NOTIFY sip:201@{addr} SIP/2.0\r\n")),
            "{text}"
        );
        for line in [
            "Event: message-summary",
            "Content-Type: application/simple-message-summary",
            "Messages-Waiting: yes",
            "Message-Account: sip:201@demo.centrale.test",
            "Voice-Message: 3/1 (0/0)",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        phone.send_to(ok_for(&text).as_bytes(), from).unwrap();
        // Answered: no retransmission, and the watcher does not announce
        // the same write a second time.
        phone
            .set_read_timeout(Some(Duration::from_millis(2500)))
            .unwrap();
        match phone.recv_from(&mut buf) {
            Ok((n, _)) => panic!("a second message:\n{}", String::from_utf8_lossy(&buf[..n])),
            Err(_) => phone,
        }
    })
    .await
    .unwrap();
    drop(phone);
}
