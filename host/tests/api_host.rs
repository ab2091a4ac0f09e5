//! The API as `server::start` serves it: on `[api] listen`, beside SIP,
//! with `/metrics` reading the running switch, outbox and store; an INVITE
//! counts in `centrale_calls_total`.

mod api_client;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use centrale_host::config::Config;

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.split(' ').next() == Some(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_serves_the_api_and_live_metrics() {
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
    cfg.api.listen = "127.0.0.1:0".parse().unwrap();
    let metrics_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let metrics_addr: SocketAddr = format!("127.0.0.1:{metrics_port}").parse().unwrap();
    cfg.api.metrics_listen = Some(metrics_addr);
    let running = centrale_host::server::start(&cfg).await.unwrap();
    let api = running.api.expect("the API listens");
    assert_ne!(api.port(), 0);

    // On the API listener /metrics needs an operator token; the separate
    // metrics listener serves it without one.
    let closed = api_client::request(api, "GET", "/metrics", None, None).await;
    assert_eq!(closed.status, 401);
    let get = |path: &'static str| async move {
        if path == "/metrics" {
            api_client::request(metrics_addr, "GET", path, None, None).await
        } else {
            api_client::request(api, "GET", path, None, None).await
        }
    };
    let m = get("/metrics").await;
    assert_eq!(m.status, 200);
    let text = m.text();
    for name in [
        "centrale_calls_active",
        "centrale_calls_total",
        "centrale_sessions_active",
        "centrale_registrations",
        "centrale_outbox_depth",
        "centrale_mwi_subscriptions",
    ] {
        assert_eq!(metric(&text, name), Some(0.0), "{name}: {text}");
    }
    assert_eq!(get("/api/v1/users").await.status, 401);

    // an INVITE (challenged: no credentials) is a call started
    let phone = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = phone.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:202@demo.centrale.test SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-api-1;rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:201@demo.centrale.test>;tag=a1\r\n\
         To: <sip:202@demo.centrale.test>\r\n\
         Call-ID: api-metrics-1@{me}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:201@{me}>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    phone.send_to(invite.as_bytes(), sip).await.unwrap();
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), phone.recv(&mut buf))
        .await
        .expect("an answer to the INVITE")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(answer.starts_with("SIP/2.0 "), "{answer}");
    let mut calls = None;
    for _ in 0..50 {
        calls = metric(&get("/metrics").await.text(), "centrale_calls_total");
        if calls == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(calls, Some(1.0));
}
