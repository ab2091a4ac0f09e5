//! Tests of digest authentication (RFC 7616 vectors, replay, staleness, throttling).
use super::*;
use std::net::IpAddr;
use std::time::Duration;

const USER: &str = "Mufasa";
const PASS: &str = "Circle of Life";
const REALM: &str = "http-auth@example.org";
const RFC_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const URI: &str = "/dir/index.html";
const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

#[test]
fn rfc7616_md5_vector() {
    let h = ha1(Algorithm::Md5, USER, REALM, PASS);
    assert_eq!(
        response(Algorithm::Md5, &h, RFC_NONCE, 1, CNONCE, "auth", "GET", URI),
        "8ca523f5e9506fed4657c9700eebdbec"
    );
}

#[test]
fn rfc7616_sha256_vector() {
    let h = ha1(Algorithm::Sha256, USER, REALM, PASS);
    assert_eq!(h.len(), 64);
    assert_eq!(
        response(
            Algorithm::Sha256,
            &h,
            RFC_NONCE,
            1,
            CNONCE,
            "auth",
            "GET",
            URI
        ),
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
}

#[test]
fn parses_rfc7616_authorization_example() {
    let v = "Digest username=\"Mufasa\",\r\n       realm=\"http-auth@example.org\",\r\n       uri=\"/dir/index.html\",\r\n       algorithm=SHA-256,\r\n       nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n       nc=00000001,\r\n       cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n       qop=auth,\r\n       response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\",\r\n       opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    let c = parse_authorization(v).expect("parse");
    assert_eq!(c.username, USER);
    assert_eq!(c.realm, REALM);
    assert_eq!(c.uri, URI);
    assert_eq!(c.algorithm, Algorithm::Sha256);
    assert_eq!(c.nonce, RFC_NONCE);
    assert_eq!(c.nc, Some(1));
    assert_eq!(c.cnonce.as_deref(), Some(CNONCE));
    assert_eq!(c.qop.as_deref(), Some("auth"));
    assert_eq!(
        c.opaque.as_deref(),
        Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
    );
    let h = ha1(c.algorithm, &c.username, &c.realm, PASS);
    let expected = response(c.algorithm, &h, &c.nonce, 1, CNONCE, "auth", "GET", &c.uri);
    assert_eq!(c.response, expected);
}

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

/// Answers `challenge` like a client would.
fn answer(
    challenge: &str,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
    nc: u32,
) -> Credentials {
    let ch = parse_challenge(challenge).expect("challenge");
    let h = ha1(ch.algorithm, user, &ch.realm, password);
    let cnonce = "0a4f113b";
    Credentials {
        username: user.to_string(),
        realm: ch.realm.clone(),
        nonce: ch.nonce.clone(),
        uri: uri.to_string(),
        response: response(ch.algorithm, &h, &ch.nonce, nc, cnonce, "auth", method, uri),
        algorithm: ch.algorithm,
        qop: Some("auth".to_string()),
        nc: Some(nc),
        cnonce: Some(cnonce.to_string()),
        opaque: ch.opaque,
    }
}

const DOMAIN: &str = "acme.example";
const RURI: &str = "sip:acme.example";

fn stored(alg: Algorithm) -> String {
    ha1(alg, "alice", DOMAIN, "s3cret")
}

#[test]
fn challenge_format_and_order() {
    let n = NonceIssuer::new(Duration::from_secs(300));
    let ch = n.challenge("acme.example", false);
    assert_eq!(ch.len(), 2);
    assert!(ch[0].starts_with("Digest realm=\"acme.example\", nonce=\""));
    assert!(ch[0].contains("algorithm=SHA-256"));
    assert!(ch[1].contains("algorithm=MD5"));
    assert!(ch[0].ends_with("qop=\"auth\""));
    assert!(!ch[0].contains("stale"));
    let a = parse_challenge(&ch[0]).expect("sha");
    let b = parse_challenge(&ch[1]).expect("md5");
    assert_eq!(a.algorithm, Algorithm::Sha256);
    assert_eq!(b.algorithm, Algorithm::Md5);
    assert_eq!(a.nonce, b.nonce);
    assert_eq!(a.nonce.len(), NONCE_LEN);
    assert!(a.opaque.is_some());
    assert!(!a.stale);
    let st = n.challenge("we\"ird", true);
    assert!(st[0].ends_with(", stale=true"));
    let p = parse_challenge(&st[1]).expect("stale");
    assert!(p.stale);
    assert_eq!(p.realm, "we\"ird");
}

#[test]
fn issued_nonce_verifies_with_both_algorithms() {
    let n = NonceIssuer::new(Duration::from_secs(300));
    for i in 0..2 {
        // A fresh nonce each: both algorithms share one nonce-count.
        let ch = &n.challenge_at(DOMAIN, false, t(0))[i];
        let c = answer(ch, "alice", "s3cret", "REGISTER", RURI, 1);
        let alg = if i == 0 {
            Algorithm::Sha256
        } else {
            Algorithm::Md5
        };
        assert_eq!(c.algorithm, alg);
        // Round trip through the header syntax.
        let c = parse_authorization(&c.to_header_value()).expect("reparse");
        assert_eq!(
            n.verify(&c, "REGISTER", DOMAIN, &stored(alg), t(1)),
            Verdict::Ok
        );
        // Uppercase stored HA1 and response hex are tolerated.
        let mut up = c.clone();
        up.nc = Some(2);
        up.response = response(
            alg,
            &stored(alg),
            &up.nonce,
            2,
            "0a4f113b",
            "auth",
            "REGISTER",
            RURI,
        )
        .to_ascii_uppercase();
        assert_eq!(
            n.verify(
                &up,
                "REGISTER",
                DOMAIN,
                &stored(alg).to_ascii_uppercase(),
                t(1)
            ),
            Verdict::Ok
        );
    }
}

#[test]
fn wrong_password_method_or_stored_ha1_is_invalid() {
    let n = NonceIssuer::new(Duration::from_secs(300));
    let ch = n.challenge_at(DOMAIN, false, t(0));
    let c = answer(&ch[1], "alice", "guess", "INVITE", RURI, 1);
    assert_eq!(
        n.verify(&c, "INVITE", DOMAIN, &stored(Algorithm::Md5), t(1)),
        Verdict::Invalid("wrong password")
    );
    let c = answer(&ch[1], "alice", "s3cret", "INVITE", RURI, 1);
    assert_eq!(
        n.verify(&c, "BYE", DOMAIN, &stored(Algorithm::Md5), t(1)),
        Verdict::Invalid("wrong password")
    );
    // HA1 of the other algorithm.
    assert_eq!(
        n.verify(&c, "INVITE", DOMAIN, &stored(Algorithm::Sha256), t(1)),
        Verdict::Invalid("no stored credentials for this algorithm")
    );
    assert_eq!(
        n.verify(&c, "INVITE", DOMAIN, "", t(1)),
        Verdict::Invalid("no stored credentials for this algorithm")
    );
    assert_eq!(
        n.verify(&c, "INVITE", DOMAIN, &stored(Algorithm::Md5), t(1)),
        Verdict::Ok
    );
}

#[test]
fn tampered_or_foreign_nonce_is_invalid() {
    let n = NonceIssuer::new(Duration::from_secs(300));
    let ch = n.challenge_at(DOMAIN, false, t(0));
    let mut c = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 1);
    // Flip one character of the nonce and answer it correctly.
    let mut nonce: Vec<char> = c.nonce.chars().collect();
    nonce[3] = if nonce[3] == 'A' { 'B' } else { 'A' };
    c.nonce = nonce.into_iter().collect();
    let h = stored(Algorithm::Sha256);
    c.response = response(
        Algorithm::Sha256,
        &h,
        &c.nonce,
        1,
        "0a4f113b",
        "auth",
        "REGISTER",
        RURI,
    );
    assert_eq!(
        n.verify(&c, "REGISTER", DOMAIN, &h, t(1)),
        Verdict::Invalid("unknown nonce")
    );
    // A nonce from another issuer (another secret).
    let other = NonceIssuer::new(Duration::from_secs(300));
    let ch = other.challenge_at(DOMAIN, false, t(0));
    let c = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 1);
    assert_eq!(
        n.verify(&c, "REGISTER", DOMAIN, &h, t(1)),
        Verdict::Invalid("unknown nonce")
    );
    // Garbage.
    let mut c = c;
    c.nonce = RFC_NONCE.to_string();
    assert_eq!(
        n.verify(&c, "REGISTER", DOMAIN, &h, t(1)),
        Verdict::Invalid("unknown nonce")
    );
}

#[test]
fn replay_of_nonce_count_is_refused() {
    let n = NonceIssuer::new(Duration::from_secs(300));
    let ch = n.challenge_at(DOMAIN, false, t(0));
    let h = stored(Algorithm::Sha256);
    let c1 = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 1);
    assert_eq!(n.verify(&c1, "REGISTER", DOMAIN, &h, t(1)), Verdict::Ok);
    assert_eq!(n.verify(&c1, "REGISTER", DOMAIN, &h, t(2)), Verdict::Replay);
    let c3 = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 3);
    assert_eq!(n.verify(&c3, "REGISTER", DOMAIN, &h, t(3)), Verdict::Ok);
    let c2 = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 2);
    assert_eq!(n.verify(&c2, "REGISTER", DOMAIN, &h, t(4)), Verdict::Replay);
    assert_eq!(n.verify(&c3, "REGISTER", DOMAIN, &h, t(4)), Verdict::Replay);
    // The same nonce with the other algorithm shares the counter.
    let m3 = answer(&ch[1], "alice", "s3cret", "REGISTER", RURI, 3);
    assert_eq!(
        n.verify(&m3, "REGISTER", DOMAIN, &stored(Algorithm::Md5), t(4)),
        Verdict::Replay
    );
    let m4 = answer(&ch[1], "alice", "s3cret", "REGISTER", RURI, 4);
    assert_eq!(
        n.verify(&m4, "REGISTER", DOMAIN, &stored(Algorithm::Md5), t(4)),
        Verdict::Ok
    );
    // A wrong password with a used nc is Invalid, not Replay.
    let bad = answer(&ch[0], "alice", "nope", "REGISTER", RURI, 1);
    assert_eq!(
        n.verify(&bad, "REGISTER", DOMAIN, &h, t(5)),
        Verdict::Invalid("wrong password")
    );
}

#[test]
fn nc_is_hex() {
    let base = "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", response=\"x\", qop=auth, cnonce=\"c\"";
    let c = parse_authorization(&format!("{base}, nc=0000000a")).expect("nc");
    assert_eq!(c.nc, Some(10));
    let c = parse_authorization(&format!("{base}, nc=ffffffff")).expect("nc");
    assert_eq!(c.nc, Some(u32::MAX));
    for bad in ["1", "0000000g", "000000001", "0000000A", "\"\"", "+0000001"] {
        assert!(
            matches!(
                parse_authorization(&format!("{base}, nc={bad}")),
                Err(DigestError::BadParam(_))
            ),
            "nc={bad}"
        );
    }
    // And verify hashes it as sent (8 lowercase hex digits).
    let n = NonceIssuer::new(Duration::from_secs(300));
    let ch = n.challenge_at(DOMAIN, false, t(0));
    let c = answer(&ch[1], "alice", "s3cret", "REGISTER", RURI, 10);
    let hv = c.to_header_value();
    assert!(hv.contains("nc=0000000a"));
    let c = parse_authorization(&hv).expect("reparse");
    assert_eq!(
        n.verify(&c, "REGISTER", DOMAIN, &stored(Algorithm::Md5), t(1)),
        Verdict::Ok
    );
}

#[test]
fn expired_nonce_is_stale_only_with_the_right_password() {
    let n = NonceIssuer::new(Duration::from_secs(300));
    let ch = n.challenge_at(DOMAIN, false, t(0));
    let h = stored(Algorithm::Sha256);
    let good = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 1);
    let bad = answer(&ch[0], "alice", "wrong", "REGISTER", RURI, 1);
    assert_eq!(
        n.verify(&good, "REGISTER", DOMAIN, &h, t(301)),
        Verdict::Stale
    );
    assert_eq!(
        n.verify(&bad, "REGISTER", DOMAIN, &h, t(301)),
        Verdict::Invalid("wrong password")
    );
    // Stale does not consume the nonce-count; still fresh at the TTL.
    assert_eq!(n.verify(&good, "REGISTER", DOMAIN, &h, t(300)), Verdict::Ok);
}

#[test]
fn wrong_realm_is_invalid() {
    let n = NonceIssuer::new(Duration::from_secs(300));
    let ch = n.challenge_at(DOMAIN, false, t(0));
    let c = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 1);
    assert_eq!(
        n.verify(
            &c,
            "REGISTER",
            "other.example",
            &stored(Algorithm::Sha256),
            t(1)
        ),
        Verdict::Invalid("wrong realm")
    );
}

#[test]
fn qop_nc_cnonce_are_required() {
    let n = NonceIssuer::new(Duration::from_secs(300));
    let ch = n.challenge_at(DOMAIN, false, t(0));
    let h = stored(Algorithm::Sha256);
    let c = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 1);
    let mut x = c.clone();
    x.qop = None;
    assert_eq!(
        n.verify(&x, "REGISTER", DOMAIN, &h, t(1)),
        Verdict::Invalid("qop=auth required")
    );
    x.qop = Some("auth-int".into());
    assert_eq!(
        n.verify(&x, "REGISTER", DOMAIN, &h, t(1)),
        Verdict::Invalid("unsupported qop (only auth)")
    );
    let mut x = c.clone();
    x.nc = None;
    assert_eq!(
        n.verify(&x, "REGISTER", DOMAIN, &h, t(1)),
        Verdict::Invalid("missing nonce-count")
    );
    x.nc = Some(0);
    assert_eq!(
        n.verify(&x, "REGISTER", DOMAIN, &h, t(1)),
        Verdict::Invalid("nonce-count must be positive")
    );
    let mut x = c.clone();
    x.cnonce = None;
    assert_eq!(
        n.verify(&x, "REGISTER", DOMAIN, &h, t(1)),
        Verdict::Invalid("missing cnonce")
    );
    assert_eq!(n.verify(&c, "REGISTER", DOMAIN, &h, t(1)), Verdict::Ok);
}

#[test]
fn replay_table_is_bounded_and_fails_safe() {
    let n = NonceIssuer::with_capacity(Duration::from_secs(300), 10);
    let h = stored(Algorithm::Md5);
    let mut used = Vec::new();
    for i in 0..10u64 {
        let ch = n.challenge_at(DOMAIN, false, t(i));
        let c = answer(&ch[1], "alice", "s3cret", "REGISTER", RURI, 1);
        assert_eq!(n.verify(&c, "REGISTER", DOMAIN, &h, t(i)), Verdict::Ok);
        used.push(c);
    }
    // An unused nonce issued before the next insertion's eviction.
    let old = n.challenge_at(DOMAIN, false, t(0));
    let old = answer(&old[1], "alice", "s3cret", "REGISTER", RURI, 1);
    // The 11th evicts the oldest.
    let ch = n.challenge_at(DOMAIN, false, t(20));
    let c = answer(&ch[1], "alice", "s3cret", "REGISTER", RURI, 1);
    assert_eq!(n.verify(&c, "REGISTER", DOMAIN, &h, t(20)), Verdict::Ok);
    assert!(lock(&n.table).seen.len() <= 10);
    // Replaying an evicted nonce is never accepted.
    assert_eq!(
        n.verify(&used[0], "REGISTER", DOMAIN, &h, t(21)),
        Verdict::Stale
    );
    assert_eq!(
        n.verify(&old, "REGISTER", DOMAIN, &h, t(21)),
        Verdict::Stale
    );
    // Recent ones still tracked.
    assert_eq!(
        n.verify(&used[9], "REGISTER", DOMAIN, &h, t(21)),
        Verdict::Replay
    );
    // Expired entries are evicted first.
    for i in 0..20u64 {
        let ch = n.challenge_at(DOMAIN, false, t(1000 + i));
        let c = answer(&ch[1], "alice", "s3cret", "REGISTER", RURI, 1);
        assert_eq!(
            n.verify(&c, "REGISTER", DOMAIN, &h, t(1000 + i)),
            Verdict::Ok
        );
    }
    assert!(lock(&n.table).seen.len() <= 10);
}

#[test]
fn parses_quoted_values_with_escapes_and_commas() {
    let v = r#"digest  REALM = "acme, \"inc\"" ,USERNAME="bob\\smith", nonce=abc, uri="sip:x@y;transport=tcp", response="00", foo="bar, baz=\"q\"", qop="auth", nc=00000001, cnonce="a,b""#;
    let c = parse_authorization(v).expect("parse");
    assert_eq!(c.realm, "acme, \"inc\"");
    assert_eq!(c.username, "bob\\smith");
    assert_eq!(c.nonce, "abc");
    assert_eq!(c.uri, "sip:x@y;transport=tcp");
    assert_eq!(c.response, "00");
    assert_eq!(c.qop.as_deref(), Some("auth"));
    assert_eq!(c.cnonce.as_deref(), Some("a,b"));
    assert_eq!(c.algorithm, Algorithm::Md5);
    assert_eq!(c.opaque, None);
    // Rendering and reparsing keeps the values.
    assert_eq!(parse_authorization(&c.to_header_value()).expect("rt"), c);
}

#[test]
fn schemes_and_missing_params() {
    assert_eq!(
        parse_authorization("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        Err(DigestError::UnsupportedScheme("Basic".into()))
    );
    assert_eq!(
        parse_authorization("Digest realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\""),
        Err(DigestError::MissingParam("username"))
    );
    assert_eq!(
        parse_authorization("Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\""),
        Err(DigestError::MissingParam("response"))
    );
    assert_eq!(
        parse_authorization("Digest"),
        Err(DigestError::MissingParam("username"))
    );
    for bad in [
        "",
        "   ",
        "Digest username=\"a",
        "Digest username=",
        "Digest username",
        "Digest username=\"a\" realm=\"r\"",
        "Digest username=\"a\", username=\"b\"",
        "Digest =x",
        "Digest, username=a",
    ] {
        assert!(
            matches!(parse_authorization(bad), Err(DigestError::Malformed(_))),
            "{bad:?} -> {:?}",
            parse_authorization(bad)
        );
    }
}

#[test]
fn algorithms() {
    assert_eq!(Algorithm::parse("md5"), Ok(Algorithm::Md5));
    assert_eq!(Algorithm::parse("sha-256"), Ok(Algorithm::Sha256));
    assert_eq!(Algorithm::Sha256.name(), "SHA-256");
    assert_eq!(Algorithm::Md5.to_string(), "MD5");
    for bad in ["MD5-sess", "sha-256-SESS", "SHA-512-256", ""] {
        assert!(matches!(
            Algorithm::parse(bad),
            Err(DigestError::BadParam(_))
        ));
    }
    let base = "Digest username=a, realm=r, nonce=n, uri=u, response=x";
    match parse_authorization(&format!("{base}, algorithm=MD5-sess")) {
        Err(DigestError::BadParam(m)) => assert!(m.contains("session"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        parse_authorization(&format!("{base}, algorithm=\"sha-256\""))
            .expect("quoted alg")
            .algorithm,
        Algorithm::Sha256
    );
    assert!(matches!(
        parse_authorization(&format!("{base}, userhash=true")),
        Err(DigestError::BadParam(_))
    ));
    assert!(parse_authorization(&format!("{base}, userhash=false")).is_ok());
}

#[test]
fn throttle_blocks_after_n_failures_and_unblocks_after_window() {
    let th = FailureThrottle::new(3, Duration::from_secs(60));
    let ip: IpAddr = "192.0.2.7".parse().expect("ip");
    let other: IpAddr = "2001:db8::1".parse().expect("ip");
    th.record_failure(&ip, t(0));
    th.record_failure(&ip, t(1));
    assert!(!th.is_blocked(&ip, t(2)));
    th.record_failure(&ip, t(2));
    assert!(th.is_blocked(&ip, t(3)));
    assert!(!th.is_blocked(&other, t(3)));
    assert!(th.is_blocked(&ip, t(61)));
    assert!(!th.is_blocked(&ip, t(62)));
    // Afresh after the block.
    th.record_failure(&ip, t(63));
    assert!(!th.is_blocked(&ip, t(63)));
    // Failures spread wider than the window do not block.
    let th = FailureThrottle::new(3, Duration::from_secs(60));
    th.record_failure(&ip, t(0));
    th.record_failure(&ip, t(30));
    th.record_failure(&ip, t(61));
    assert!(!th.is_blocked(&ip, t(62)));
    // Success clears.
    th.record_failure(&ip, t(62));
    th.record_success(&ip);
    th.record_failure(&ip, t(63));
    assert!(!th.is_blocked(&ip, t(63)));
}

#[test]
fn throttle_memory_is_bounded_and_keeps_blocked_addresses() {
    let th = FailureThrottle::with_capacity(2, Duration::from_secs(60), 100);
    let bad: IpAddr = "198.51.100.1".parse().expect("ip");
    th.record_failure(&bad, t(0));
    th.record_failure(&bad, t(0));
    assert!(th.is_blocked(&bad, t(0)));
    for i in 0..1000u32 {
        let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        th.record_failure(&ip, t(1));
    }
    assert!(th.tracked() <= 100);
    assert!(th.is_blocked(&bad, t(2)));
}

#[test]
fn constant_time_eq() {
    assert!(ct_eq(b"abc", b"abc"));
    assert!(!ct_eq(b"abc", b"abd"));
    assert!(!ct_eq(b"abc", b"ab"));
}

#[test]
fn a_nonce_is_spent_by_wrong_responses() {
    let n = NonceIssuer::new(Duration::from_secs(300));
    let ch = n.challenge_at(DOMAIN, false, t(0));
    for guess in 1..=u32::from(MAX_NONCE_FAILURES) {
        let c = answer(
            &ch[1],
            "alice",
            &format!("guess{guess}"),
            "REGISTER",
            RURI,
            guess,
        );
        assert_eq!(
            n.verify(&c, "REGISTER", DOMAIN, &stored(Algorithm::Md5), t(1)),
            Verdict::Invalid("wrong password")
        );
    }
    // Even the right password needs a new challenge now.
    let c = answer(&ch[1], "alice", "s3cret", "REGISTER", RURI, 9);
    assert_eq!(
        n.verify(&c, "REGISTER", DOMAIN, &stored(Algorithm::Md5), t(1)),
        Verdict::Invalid("nonce spent by wrong responses")
    );
    let fresh = n.challenge_at(DOMAIN, false, t(2));
    let c = answer(&fresh[1], "alice", "s3cret", "REGISTER", RURI, 1);
    assert_eq!(
        n.verify(&c, "REGISTER", DOMAIN, &stored(Algorithm::Md5), t(3)),
        Verdict::Ok
    );
}

#[test]
fn a_nonce_serves_one_username() {
    let n = NonceIssuer::new(Duration::from_secs(300));
    let ch = n.challenge_at(DOMAIN, false, t(0));
    let bob = ha1(Algorithm::Md5, "bob", DOMAIN, "b0b");
    let c = answer(&ch[1], "bob", "wrong", "REGISTER", RURI, 1);
    assert_eq!(
        n.verify(&c, "REGISTER", DOMAIN, &bob, t(1)),
        Verdict::Invalid("wrong password")
    );
    // The nonce a guess at bob used cannot then be used for alice.
    let c = answer(&ch[1], "alice", "s3cret", "REGISTER", RURI, 2);
    assert_eq!(
        n.verify(&c, "REGISTER", DOMAIN, &stored(Algorithm::Md5), t(1)),
        Verdict::Invalid("nonce was used with another username")
    );
}

fn limits() -> AuthLimits {
    AuthLimits {
        per_user_source: 3,
        per_source: 10,
        per_user: 6,
        window: Duration::from_secs(600),
        block: Duration::from_secs(60),
        max_block: Duration::from_secs(240),
        trust: Duration::from_secs(3600),
    }
}

#[test]
fn another_accounts_success_does_not_reset_the_guesses() {
    let th = AuthThrottle::new(limits());
    let ip: IpAddr = "192.0.2.7".parse().expect("ip");
    for i in 0..3 {
        assert_eq!(th.check(ip, "203@d", t(i)), None);
        th.failure(ip, Some("203@d"), t(i));
        // The attacker's own account logs in fine in between...
        th.success(ip, "201@d", t(i));
    }
    // ...and does not clear the count against 203.
    assert_eq!(th.check(ip, "203@d", t(4)), Some(Blocked::UserFromSource));
    assert_eq!(th.check(ip, "201@d", t(4)), None);
    // Back-off: 60 s, then 120 s, capped at 240 s.
    assert_eq!(th.check(ip, "203@d", t(65)), None);
    for i in 0..3 {
        th.failure(ip, Some("203@d"), t(70 + i));
    }
    assert_eq!(th.check(ip, "203@d", t(150)), Some(Blocked::UserFromSource));
    assert_eq!(th.check(ip, "203@d", t(193)), None);
}

#[test]
fn ipv6_sources_are_counted_per_64() {
    let th = AuthThrottle::new(limits());
    for i in 0..10u16 {
        let ip = IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, i + 1]);
        th.failure(ip, None, t(0));
    }
    let same_64: IpAddr = "2001:db8:0:1::ffff".parse().expect("ip");
    let other_64: IpAddr = "2001:db8:0:2::1".parse().expect("ip");
    assert!(th.source_blocked(same_64, t(1)));
    assert!(!th.source_blocked(other_64, t(1)));
}

#[test]
fn a_user_under_attack_is_blocked_for_strangers_only() {
    let th = AuthThrottle::new(limits());
    let phone: IpAddr = "198.51.100.20".parse().expect("ip");
    th.success(phone, "203@d", t(0));
    // Guesses from many sources, two each (below the per-pair limit).
    for i in 0..3u8 {
        let ip = IpAddr::from([203, 0, 113, i + 1]);
        th.failure(ip, Some("203@d"), t(1));
        th.failure(ip, Some("203@d"), t(1));
    }
    let newcomer = IpAddr::from([203, 0, 113, 99]);
    assert_eq!(th.check(newcomer, "203@d", t(2)), Some(Blocked::User));
    assert_eq!(th.check(phone, "203@d", t(2)), None, "the user's own phone");
    // A failure from the trusted phone (an old password) does not count
    // towards the user's block.
    let th = AuthThrottle::new(limits());
    th.success(phone, "202@d", t(0));
    for _ in 0..2 {
        th.failure(phone, Some("202@d"), t(1));
    }
    for i in 0..4u8 {
        th.failure(IpAddr::from([203, 0, 113, i + 1]), Some("202@d"), t(1));
    }
    assert_eq!(th.check(newcomer, "202@d", t(2)), None);
}
