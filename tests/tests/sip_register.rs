//! Registration as a phone experiences it: digest-authenticated REGISTER,
//! refused replays and wrong passwords, too-short expiry, unregistering,
//! and bindings that survive a restart of the host.

use centrale_tests::sip::{contact_expires, Challenge, Registrant};
use centrale_tests::{Pbx, DEMO_DOMAIN};
use std::time::Duration;

/// The Contact values of a 200 that name `port`.
fn contacts_for_port(resp: &centrale_tests::SipMessage, port: u16) -> Vec<&str> {
    let needle = format!("127.0.0.1:{port}");
    resp.header_all("Contact")
        .into_iter()
        .flat_map(|v| v.split(','))
        .filter(|c| c.contains(&needle))
        .collect()
}

#[test]
fn sipp_register_with_digest_gets_200_with_its_contact_and_expiry() {
    let pbx = Pbx::start_demo();
    let phone = pbx.phone();
    let run = pbx
        .sipp("register.xml")
        .phone(&phone)
        .set("aor", "202")
        .set("expires", "600")
        .auth("202", "demo202")
        .run();
    pbx.check(&run, "REGISTER 202 with sipp");

    let challenge = run
        .find_received(|m| m.status == Some(401))
        .expect("a 401 challenge");
    let challenges = Challenge::all_in(&challenge);
    assert!(
        challenges.iter().any(|c| c.algorithm == "MD5"),
        "an MD5 challenge: {challenges:?}"
    );
    let ok = run
        .find_received(|m| m.is_response(200, "REGISTER"))
        .expect("a 200 to REGISTER");
    let ours = contacts_for_port(&ok, phone.port);
    assert_eq!(
        ours.len(),
        1,
        "the 200 lists our Contact sip:202@127.0.0.1:{} once:\n{}",
        phone.port,
        ok.raw
    );
    assert!(ours[0].contains(&format!("sip:202@127.0.0.1:{}", phone.port)));
    let expires = contact_expires(ours[0]).expect("expires parameter on our Contact");
    assert!(
        (590..=600).contains(&expires),
        "granted expiry {expires}, asked 600"
    );
}

#[test]
fn register_with_sha256_and_with_md5_digest_both_work() {
    let pbx = Pbx::start_demo();
    for alg in ["SHA-256", "MD5"] {
        let mut dev = Registrant::new(pbx.sip_addr(), "201", "201", "demo201");
        let reg = dev.register(Some(300), alg);
        // Both algorithms are offered, one challenge each (the order is
        // the host's `digest_algorithms` setting: MD5 first by default, for
        // phones that only read the first challenge).
        let ch = Challenge::all_in(&reg.challenge);
        let mut algs: Vec<&str> = ch.iter().map(|c| c.algorithm.as_str()).collect();
        algs.sort();
        assert_eq!(algs, ["MD5", "SHA-256"], "{}", reg.challenge.raw);
        assert!(ch.iter().all(|c| c.realm == DEMO_DOMAIN));
        assert!(ch
            .iter()
            .all(|c| c.qop.as_deref().is_some_and(|q| q.contains("auth"))));
        assert_eq!(
            reg.response.status,
            Some(200),
            "{alg} credentials refused:\n{}",
            reg.response.raw
        );
        let ours = contacts_for_port(&reg.response, dev.udp.local().port());
        assert_eq!(ours.len(), 1, "{}", reg.response.raw);
        let e = contact_expires(ours[0]).expect("expires");
        assert!((290..=300).contains(&e), "expires={e}");
    }
}

#[test]
fn replayed_register_credentials_are_refused() {
    let pbx = Pbx::start_demo();
    let mut dev = Registrant::new(pbx.sip_addr(), "201", "201", "demo201");
    let reg = dev.register(Some(300), "MD5");
    assert_eq!(reg.response.status, Some(200), "{}", reg.response.raw);

    // The same Authorization header (same nonce, nc, cnonce, response) in a
    // new transaction: what an eavesdropper would replay.
    let replay = dev.send(Some(300), Some(&reg.authorization));
    assert!(
        matches!(replay.status, Some(401) | Some(403)),
        "a replayed REGISTER must be refused, got:\n{}",
        replay.raw
    );

    // ... and from another address.
    let mut attacker = Registrant::new(pbx.sip_addr(), "201", "201", "wrong!");
    attacker.call_id = dev.call_id.clone();
    attacker.tag = dev.tag.clone();
    attacker.cseq = dev.cseq;
    let replay2 = attacker.send(Some(300), Some(&reg.authorization));
    assert!(
        matches!(replay2.status, Some(401) | Some(403)),
        "a replayed REGISTER from elsewhere must be refused, got:\n{}",
        replay2.raw
    );

    // The SHA-256 variant as well.
    let mut dev2 = Registrant::new(pbx.sip_addr(), "202", "202", "demo202");
    let reg2 = dev2.register(Some(300), "SHA-256");
    assert_eq!(reg2.response.status, Some(200), "{}", reg2.response.raw);
    let replay3 = dev2.send(Some(300), Some(&reg2.authorization));
    assert!(
        matches!(replay3.status, Some(401) | Some(403)),
        "a replayed SHA-256 REGISTER must be refused, got:\n{}",
        replay3.raw
    );
}

#[test]
fn wrong_password_is_forbidden() {
    let pbx = Pbx::start_demo();
    for alg in ["MD5", "SHA-256"] {
        let mut dev = Registrant::new(pbx.sip_addr(), "201", "201", "not-the-password");
        let reg = dev.register(Some(300), alg);
        assert_eq!(
            reg.response.status,
            Some(403),
            "wrong {alg} password:\n{}",
            reg.response.raw
        );
    }
    // The right password still works afterwards (two failures do not lock out).
    let mut dev = Registrant::new(pbx.sip_addr(), "201", "201", "demo201");
    assert_eq!(dev.register(Some(300), "MD5").response.status, Some(200));
}

/// The review's guessing attack: an attacker who owns 201 guesses 203's
/// password from the same address and logs in as 201 between guesses.
/// Its own successes must not reset the count: after five wrong guesses
/// even the right password is refused from there, while 203's own phone
/// elsewhere and the attacker's 201 keep working.
#[test]
fn guessing_another_users_password_is_blocked_despite_own_logins_between() {
    let pbx = Pbx::start_demo();
    let attacker = [127, 0, 0, 7];
    let mut own = Registrant::new_at(attacker, pbx.sip_addr(), "201", "201", "demo201");
    let mut guess = Registrant::new_at(attacker, pbx.sip_addr(), "203", "203", "wrong");
    let mut blocked_at = None;
    for i in 1..=12 {
        let mine = own.register(Some(300), "MD5");
        assert_eq!(mine.response.status, Some(200), "{}", mine.response.raw);
        guess.password = format!("guess-{i}");
        let r = guess.register(Some(300), "MD5");
        assert_eq!(r.response.status, Some(403), "{}", r.response.raw);
        if r.response.raw.contains("Too many failed attempts") {
            blocked_at = Some(i);
            break;
        }
    }
    assert_eq!(blocked_at, Some(6), "five wrong guesses, then blocked");
    guess.password = "demo203".into();
    let r = guess.register(Some(300), "MD5");
    assert_eq!(r.response.status, Some(403), "{}", r.response.raw);
    assert!(r.response.raw.contains("Too many failed attempts"));
    // 203's real phone, elsewhere, is not locked out; the attacker's own
    // account still works.
    let mut phone = Registrant::new_at([127, 0, 0, 8], pbx.sip_addr(), "203", "203", "demo203");
    assert_eq!(phone.register(Some(300), "MD5").response.status, Some(200));
    assert_eq!(own.register(Some(300), "MD5").response.status, Some(200));
}

/// One nonce, many guesses: the review found 55 guesses on one challenge.
/// A nonce is spent after three wrong responses, and serves one username.
#[test]
fn one_challenge_does_not_serve_unlimited_guesses() {
    let pbx = Pbx::start_demo();
    let mut dev = Registrant::new_at([127, 0, 0, 9], pbx.sip_addr(), "202", "202", "x");
    let challenge = dev.send(Some(300), None);
    assert_eq!(challenge.status, Some(401));
    let ch = centrale_tests::sip::Challenge::all_in(&challenge)
        .into_iter()
        .find(|c| c.algorithm == "MD5")
        .expect("an MD5 challenge");
    for (nc, password) in [(1, "a"), (2, "b"), (3, "c"), (4, "demo202")] {
        let auth =
            centrale_tests::sip::authorization(&ch, "202", password, "REGISTER", &dev.uri(), nc);
        let r = dev.send(Some(300), Some(&auth));
        assert_eq!(r.status, Some(403), "nc={nc}: {}", r.raw);
    }
    // A new challenge works with the right password.
    dev.password = "demo202".into();
    assert_eq!(dev.register(Some(300), "MD5").response.status, Some(200));
}

/// baresip before 3.0 aborts a REGISTER whose challenges include any
/// algorithm but MD5 ("Function not implemented"): it is offered MD5 only;
/// everyone else gets SHA-256 (RFC 8760) beside MD5.
#[test]
fn phones_that_know_only_md5_are_offered_only_md5() {
    use centrale_tests::sip::Challenge;
    let pbx = Pbx::start_demo();
    for (agent, algorithms) in [
        ("baresip v1.0.0 (x86_64/linux)", vec!["MD5"]),
        ("Linphonec/5.1.65", vec!["MD5", "SHA-256"]),
        ("baresip v3.10.1 (x86_64/linux)", vec!["MD5", "SHA-256"]),
    ] {
        let mut dev = Registrant::new(pbx.sip_addr(), "201", "201", "demo201");
        let req = dev.request(Some(300), None).replace(
            "User-Agent: centrale-tests",
            &format!("User-Agent: {agent}"),
        );
        let challenge = dev.udp.request(&req).expect("a challenge");
        assert_eq!(challenge.status, Some(401), "{}", challenge.raw);
        let offered: Vec<String> = Challenge::all_in(&challenge)
            .into_iter()
            .map(|c| c.algorithm.to_ascii_uppercase())
            .collect();
        assert_eq!(offered, algorithms, "{agent}: {}", challenge.raw);
    }
}

#[test]
fn too_brief_expiry_gets_423_with_min_expires() {
    let pbx = Pbx::start_demo();
    let mut dev = Registrant::new(pbx.sip_addr(), "203", "203", "demo203");
    let reg = dev.register(Some(30), "MD5");
    assert_eq!(reg.response.status, Some(423), "{}", reg.response.raw);
    let min: u32 = reg
        .response
        .header("Min-Expires")
        .unwrap_or_else(|| panic!("423 without Min-Expires:\n{}", reg.response.raw))
        .trim()
        .parse()
        .expect("numeric Min-Expires");
    assert_eq!(min, 60);
    // Asking for the minimum then works.
    let mut dev = Registrant::new(pbx.sip_addr(), "203", "203", "demo203");
    assert_eq!(dev.register(Some(min), "MD5").response.status, Some(200));
}

#[test]
fn unregistering_makes_calls_to_that_user_fail_with_480() {
    let pbx = Pbx::start_demo();
    let phone = pbx.phone();
    pbx.register(&phone, "202", "202", "demo202");

    let run = pbx
        .sipp("unregister.xml")
        .phone(&phone)
        .set("aor", "202")
        .auth("202", "demo202")
        .run();
    pbx.check(&run, "unREGISTER 202");
    let ok = run
        .find_received(|m| m.is_response(200, "REGISTER"))
        .expect("200 to the unregister");
    assert!(
        contacts_for_port(&ok, phone.port).is_empty(),
        "the binding is gone from the 200:\n{}",
        ok.raw
    );

    let caller = pbx.phone();
    let run = pbx
        .sipp("uac_expect_480.xml")
        .phone(&caller)
        .set("aor", "201")
        .service("202")
        .auth("201", "demo201")
        .run();
    pbx.check(&run, "call 201 -> unregistered 202");
}

#[test]
fn registration_survives_a_restart_of_the_host() {
    let mut pbx = Pbx::start_demo();
    let callee = pbx.phone();
    pbx.register(&callee, "202", "202", "demo202");

    pbx.restart();

    let mut uas = pbx.sipp("uas_answer.xml").phone(&callee).spawn();
    uas.wait_bound();
    let caller = pbx.phone();
    let uac = pbx
        .sipp("uac_call.xml")
        .phone(&caller)
        .set("aor", "201")
        .service("202")
        .auth("201", "demo201")
        .pause_ms(300)
        .run();
    let uas = uas.wait(Duration::from_secs(20));
    pbx.check(&uac, "call 201 -> 202 after a restart");
    pbx.check(&uas, "202 answering after a restart");
}
