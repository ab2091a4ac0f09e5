//! Shared by the API tests: a tiny HTTP/1.1 client over a real socket, a
//! server on a free port over a given store, and a seeded world of two
//! tenants with tokens of every role.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use centrale_host::api::{self, ApiState};
use centrale_host::store::{BlobStore, Store, TokenRole};
use centrale_host::tenancy::plugins::KvScope;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            std::str::from_utf8(&b[..nl])
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[nl + 2 + size + 2..];
    }
}

/// Sends one request (`Connection: close`) and reads the whole response.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Resp {
    let s = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let payload = match body {
        Some((ct, bytes)) => {
            head.push_str(&format!(
                "Content-Type: {ct}\r\nContent-Length: {}\r\n",
                bytes.len()
            ));
            bytes
        }
        None => {
            if method != "GET" && method != "DELETE" {
                head.push_str("Content-Length: 0\r\n");
            }
            Vec::new()
        }
    };
    head.push_str("\r\n");
    let (mut rd, mut wr) = s.into_split();
    wr.write_all(head.as_bytes()).await.unwrap();
    // the server may answer (413) before reading all of a large body: write
    // it while reading the answer
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&payload).await;
        wr
    });
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    drop(writer);
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head: {}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

/// A client of one server.
#[derive(Clone, Copy)]
pub struct Client {
    pub addr: SocketAddr,
}

impl Client {
    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        request(self.addr, "GET", &format!("/api/v1{path}"), token, None).await
    }
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        request(self.addr, "DELETE", &format!("/api/v1{path}"), token, None).await
    }
    pub async fn send(&self, method: &str, path: &str, token: Option<&str>, body: Value) -> Resp {
        let bytes = serde_json::to_vec(&body).unwrap();
        request(
            self.addr,
            method,
            &format!("/api/v1{path}"),
            token,
            Some(("application/json", bytes)),
        )
        .await
    }
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        ct: &str,
        body: Vec<u8>,
    ) -> Resp {
        request(self.addr, method, path, token, Some((ct, body))).await
    }
}

/// Serves the API over `store` (blobs in `blob_dir`) on a free port.
pub async fn serve(store: &Store, blob_dir: &Path) -> (Client, BlobStore) {
    serve_with(ApiState::new(
        store.clone(),
        BlobStore::open(blob_dir).unwrap(),
    ))
    .await
}

/// Serves the API with `state` on a free port.
pub async fn serve_with(state: ApiState) -> (Client, BlobStore) {
    let blobs = state.storage.blobs.clone();
    let addr = api::spawn("127.0.0.1:0".parse().unwrap(), state)
        .await
        .unwrap();
    (Client { addr }, blobs)
}

/// The manifest of a bundled plugin.
pub fn manifest(id: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../plugins/{id}/plugin.toml")),
    )
    .unwrap()
}

/// One tenant of the seeded world.
pub struct Side {
    pub id: i64,
    pub domain: String,
    /// Users 201 and 202.
    pub users: Vec<i64>,
    pub admin: String,
    /// Token of user 201.
    pub user: String,
    /// Token of user 202.
    pub other_user: String,
    pub device: i64,
}

/// Two tenants (A and B, users 201 and 202 each, a device of 201, a CDR, a
/// schedule, a voicemail message of 201), the bundled plugins' manifests
/// installed (components are not needed by the API), licences for
/// call-forwarding (1) and do-not-disturb (5), and an operator token.
pub struct World {
    pub a: Side,
    pub b: Side,
    pub operator: String,
}

pub fn wav(samples: usize) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cur = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cur, spec).unwrap();
        for i in 0..samples {
            w.write_sample(((i % 100) as i16) * 50).unwrap();
        }
        w.finalize().unwrap();
    }
    cur.into_inner()
}

async fn token(store: &Store, role: TokenRole, t: Option<i64>, u: Option<i64>) -> String {
    api::create_token(store, role, t, u).await.unwrap().secret
}

async fn side(store: &Store, blobs: &BlobStore, domain: &str, did: &str) -> Side {
    let t = store.create_tenant(domain, domain, 3, "0").await.unwrap();
    store
        .add_number_range(&t, &format!("+3120{did}0"), &format!("+3120{did}9"))
        .await
        .unwrap();
    let u1 = store
        .create_user(
            t.id,
            "201",
            &format!("Anna of {domain}"),
            &format!("anna@{domain}"),
            &[format!("+3120{did}1")],
        )
        .await
        .unwrap();
    let u2 = store
        .create_user(t.id, "202", "Bram", "", &[format!("+3120{did}2")])
        .await
        .unwrap();
    let d = store
        .create_device(t.id, u1.id, "201", &"a".repeat(32), &"b".repeat(64))
        .await
        .unwrap();
    for (p, q) in [
        ("call-forwarding", 1),
        ("do-not-disturb", 5),
        ("voicemail", 5),
    ] {
        store.grant_licence(t.id, p, q).await.unwrap();
    }
    store
        .insert_cdr(&centrale_host::tenancy::Cdr {
            tenant_id: t.id,
            call_id: format!("call-{domain}"),
            caller: format!("secret-caller-{domain}"),
            callee: "201".into(),
            started_at: 1_000,
            ended_at: 2_000,
            result: "busy".into(),
            sip_code: 486,
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .set_schedule(
            t.id,
            "business-hours",
            r#"{"periods": [{"weekday": 1, "from": "09:00", "to": "17:00"}]}"#,
        )
        .await
        .unwrap();
    let scope = KvScope {
        tenant_id: t.id,
        plugin_id: "voicemail".into(),
        subject_id: Some(u1.id),
    };
    let msg = serde_json::json!({"id": "m1", "caller": format!("secret-vm-{domain}"),
        "caller_name": "", "at": 5, "duration_ms": 1000, "new": true});
    store
        .kv_set(&scope, "msg/m1", msg.to_string().as_bytes())
        .await
        .unwrap();
    let audio = wav(800);
    let sha = blobs.put(&audio).await.unwrap();
    store
        .plugin_blob_put(&scope, "msg-m1.wav", &sha, audio.len() as u64)
        .await
        .unwrap();
    Side {
        id: t.id,
        domain: domain.into(),
        users: vec![u1.id, u2.id],
        admin: token(store, TokenRole::Admin, Some(t.id), None).await,
        user: token(store, TokenRole::User, Some(t.id), Some(u1.id)).await,
        other_user: token(store, TokenRole::User, Some(t.id), Some(u2.id)).await,
        device: d.id,
    }
}

/// Seeds the world (see [`World`]).
pub async fn world(store: &Store, blobs: &BlobStore) -> World {
    for id in [
        "call-forwarding",
        "do-not-disturb",
        "voicemail",
        "anonymous-call-rejection",
    ] {
        let m = manifest(id);
        let version = m
            .lines()
            .find_map(|l| l.strip_prefix("version = "))
            .unwrap()
            .trim_matches('"')
            .to_string();
        store
            .install_plugin(
                None,
                id,
                &version,
                &m,
                format!("not a component: {id}").as_bytes(),
                true,
            )
            .await
            .unwrap();
    }
    let a = side(store, blobs, "a.example.com", "555").await;
    let b = side(store, blobs, "b.example.com", "666").await;
    World {
        a,
        b,
        operator: token(store, TokenRole::Operator, None, None).await,
    }
}
