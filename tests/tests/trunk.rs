//! The SIP trunk (`centrale demo --trunk 127.0.0.1:PORT`): calls to outside
//! numbers (0 + number) leave through it, calls from it reach the user
//! whose number (DID) was called, without authentication.
//!
//! sipp plays the trunk: it runs on the trunk's port (`Pbx::trunk()`), as a
//! UAS receiving outbound calls or as a UAC placing inbound ones. A trunk
//! with credentials needs a configuration file (`Pbx::restart_as_serve`).

use centrale_tests::sip::{
    ack_for_failure, auth_params, digest_hash, invite_request, InviteSpec, SipUdp,
};
use centrale_tests::{free_port, Pbx, Phone, SippRun, DEMO_DOMAIN};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

/// `centrale demo --trunk 127.0.0.1:<free port>`.
fn pbx_with_trunk() -> Pbx {
    let trunk = format!("127.0.0.1:{}", free_port(false));
    Pbx::start_demo_with(&["--trunk", &trunk])
}

/// The trunk calls `number` from `from_uri` (no credentials).
fn trunk_call(pbx: &Pbx, scenario: &str, number: &str, from_uri: &str) -> SippRun {
    pbx.sipp(scenario)
        .phone(&pbx.trunk())
        .service(number)
        .set("from_uri", from_uri)
        .set("display", "Outside Caller")
        .set("privacy", "none")
        .pause_ms(500)
        .timeout_s(15)
        .run()
}

#[test]
fn outside_number_is_called_through_the_trunk() {
    let pbx = pbx_with_trunk();
    let trunk = pbx.trunk();
    let mut uas = pbx.sipp("uas_answer.xml").phone(&trunk).spawn();
    uas.wait_bound();

    let caller = pbx.phone();
    let uac = pbx
        .sipp("uac_call.xml")
        .phone(&caller)
        .set("aor", "201")
        .service("0612345678")
        .auth("201", "demo201")
        .pause_ms(500)
        .run();
    let uas = uas.wait(WAIT);
    pbx.check(&uac, "201 calling 0612345678 (outside)");
    pbx.check(&uas, "the trunk answering");

    // The trunk got the number without the outside-line prefix, addressed
    // to the trunk itself.
    let invite = uas
        .find_received(|m| m.is_request("INVITE"))
        .expect("the trunk received an INVITE");
    let expected = format!("INVITE sip:612345678@127.0.0.1:{} SIP/2.0", trunk.port);
    assert_eq!(invite.start_line, expected, "{}", invite.raw);
    let from = invite.header("From").unwrap_or("");
    assert!(
        from.contains("201"),
        "the trunk does not see who calls: From: {from}"
    );
    assert!(
        invite.sdp_audio().is_some(),
        "no SDP offer to the trunk:\n{}",
        invite.raw
    );
    assert!(
        uas.find_received(|m| m.is_request("BYE")).is_some(),
        "the trunk did not get the caller's BYE: {:?}",
        uas.received_summary()
    );

    let is_row =
        |l: &str| l.contains("201 -> 0612345678") && l.contains("answered") && l.contains("200");
    let cdr = pbx.wait_cdr(is_row);
    assert!(
        cdr.lines().any(is_row),
        "`centrale cdr --tenant {DEMO_DOMAIN}` does not list the outside call:\n{cdr}"
    );
}

#[test]
fn call_from_the_trunk_rings_the_user_of_the_called_number() {
    let pbx = pbx_with_trunk();
    let phone = pbx.phone();
    pbx.register(&phone, "202", "202", "demo202");
    let mut uas = pbx.sipp("uas_answer.xml").phone(&phone).spawn();
    uas.wait_bound();

    let uac = trunk_call(
        &pbx,
        "trunk_uac_call.xml",
        "+31205552020",
        "sip:0612345678@trunk.test",
    );
    let uas = uas.wait(WAIT);
    pbx.check(&uac, "the trunk calling +31205552020 (202)");
    pbx.check(&uas, "202 answering the outside call");
    assert!(
        !uac.received()
            .iter()
            .any(|m| matches!(m.status, Some(401) | Some(407))),
        "the trunk was challenged: {:?}",
        uac.received_summary()
    );
    let invite = uas
        .find_received(|m| m.is_request("INVITE"))
        .expect("202 received the INVITE");
    let from = invite.header("From").unwrap_or("");
    assert!(
        from.contains("0612345678"),
        "202 does not see the outside caller's number: From: {from}"
    );

    let is_row = |l: &str| {
        l.contains("0612345678 -> +31205552020") && l.contains("answered") && l.contains("200")
    };
    let cdr = pbx.wait_cdr(is_row);
    assert!(
        cdr.lines().any(is_row),
        "the inbound call is not in the CDR:\n{cdr}"
    );

    // A number nobody has.
    let unknown = trunk_call(
        &pbx,
        "trunk_uac_expect_404.xml",
        "+31205559990",
        "sip:0612345678@trunk.test",
    );
    pbx.check(&unknown, "the trunk calling the unknown +31205559990");
    let n404 = unknown
        .received()
        .iter()
        .filter(|m| m.is_response(404, "INVITE"))
        .count();
    assert_eq!(
        n404,
        1,
        "404 not received exactly once (ACK not matched?): {:?}",
        unknown.received_summary()
    );
}

#[test]
fn only_the_trunk_address_is_trusted() {
    // The same INVITE to a DID from another port than the trunk's must be
    // challenged like any phone's, or anyone could call in unauthenticated
    // with any identity.
    let pbx = pbx_with_trunk();
    let phone = pbx.phone();
    pbx.register(&phone, "202", "202", "demo202");
    let mut uas = pbx.sipp("uas_answer.xml").phone(&phone).spawn();
    uas.wait_bound();

    let stranger = SipUdp::new(pbx.sip_addr());
    assert_ne!(stranger.local().port(), pbx.trunk().port);
    let invite = invite_request(
        &stranger,
        &InviteSpec {
            from_user: "0612345678",
            to_user: "+31205552020",
            cseq: 1,
            media_port: 40000,
            proxy_authorization: None,
        },
    );
    let resp = stranger
        .request(&invite)
        .expect("an answer to the INVITE from a stranger");
    assert!(
        matches!(resp.status, Some(401) | Some(407) | Some(403)),
        "an INVITE from a stranger's address was not challenged:\n{}",
        resp.raw
    );
    stranger.send(ack_for_failure(&invite, &resp).as_bytes());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !uas.messages_so_far()
            .iter()
            .any(|t| !t.sent && t.msg.is_request("INVITE")),
        "202 rang for an unauthenticated caller"
    );
}

#[test]
fn outside_call_answers_the_trunks_digest_challenge() {
    // A trunk with credentials (only a configuration file can give them:
    // `centrale serve --config` with `[trunk] username/password`): its 407
    // is answered with a digest over the INVITE's Request-URI, and the call
    // goes through.
    let mut pbx = Pbx::start_demo();
    let port = free_port(false);
    pbx.restart_as_serve(&format!(
        "[trunk]\naddress = \"127.0.0.1:{port}\"\nusername = \"acme\"\npassword = \"trunk-secret\"\nrealm = \"trunk.test\"\n"
    ));
    let trunk = Phone::on_port(pbx.sip_addr(), port);
    let mut uas = pbx
        .sipp("uas_trunk_challenge.xml")
        .phone(&trunk)
        .set("realm", "trunk.test")
        .set("nonce", "n0nce4centrale")
        .spawn();
    uas.wait_bound();

    let caller = pbx.phone();
    let uac = pbx
        .sipp("uac_call.xml")
        .phone(&caller)
        .set("aor", "201")
        .service("0612345678")
        .auth("201", "demo201")
        .pause_ms(500)
        .run();
    let uas = uas.wait(WAIT);
    pbx.check(
        &uac,
        "201 calling 0612345678 through a trunk with credentials",
    );
    pbx.check(&uas, "the trunk challenging, then answering");

    let invites: Vec<_> = uas
        .received()
        .into_iter()
        .filter(|m| m.is_request("INVITE"))
        .collect();
    let authorised = invites
        .iter()
        .find(|m| m.header("Proxy-Authorization").is_some())
        .unwrap_or_else(|| {
            panic!(
                "no INVITE with Proxy-Authorization: {:?}",
                uas.received_summary()
            )
        });
    let creds = authorised.header("Proxy-Authorization").unwrap();
    let params = auth_params(creds.trim_start_matches("Digest").trim());
    let get = |n: &str| {
        params
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {n} in Proxy-Authorization: {creds}"))
    };
    assert_eq!(get("username"), "acme", "{creds}");
    assert_eq!(get("realm"), "trunk.test", "{creds}");
    assert_eq!(get("nonce"), "n0nce4centrale", "{creds}");
    let uri = get("uri");
    let request_uri = authorised
        .start_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert_eq!(uri, request_uri, "digest uri is not the Request-URI");
    let ha1 = digest_hash("MD5", "acme:trunk.test:trunk-secret");
    let ha2 = digest_hash("MD5", &format!("INVITE:{uri}"));
    let expected = digest_hash(
        "MD5",
        &format!(
            "{ha1}:n0nce4centrale:{}:{}:auth:{ha2}",
            get("nc"),
            get("cnonce")
        ),
    );
    assert_eq!(get("response"), expected, "wrong digest response: {creds}");
    // A new transaction: another CSeq than the challenged INVITE.
    assert_ne!(
        invites[0].cseq_number(),
        authorised.cseq_number(),
        "the authorised INVITE reuses the challenged CSeq"
    );
}

/// A host with a trunk that has credentials (realm `trunk.test`), and the
/// trunk's port.
fn pbx_with_trunk_credentials() -> (Pbx, u16) {
    let mut pbx = Pbx::start_demo();
    let port = free_port(false);
    pbx.restart_as_serve(&format!(
        "[trunk]\naddress = \"127.0.0.1:{port}\"\nusername = \"acme\"\npassword = \"trunk-secret\"\nrealm = \"trunk.test\"\n"
    ));
    (pbx, port)
}

/// INVITEs `run` received, and whether any carried credentials.
fn invites_and_credentials(run: &SippRun) -> (usize, bool) {
    let invites: Vec<_> = run
        .received()
        .into_iter()
        .filter(|m| m.is_request("INVITE"))
        .collect();
    let creds = invites
        .iter()
        .any(|m| m.header("Proxy-Authorization").is_some() || m.header("Authorization").is_some());
    (invites.len(), creds)
}

/// The review's credential relay: a phone the host rings answers with its
/// own challenge (realm, nonce of its choosing). The host must not answer
/// it with the trunk's credentials (nor any), and the caller is told the
/// callee is unavailable.
#[test]
fn a_phone_challenging_the_host_gets_no_trunk_credentials() {
    let (pbx, _trunk_port) = pbx_with_trunk_credentials();
    let callee = "202";
    let phone = pbx.phone();
    pbx.register(&phone, callee, callee, "demo202");
    let mut uas = pbx
        .sipp("uas_challenge_once.xml")
        .phone(&phone)
        .set("realm", "trunk.test")
        .spawn();
    uas.wait_bound();
    let uac = pbx
        .sipp("uac_expect_480.xml")
        .phone(&pbx.phone())
        .set("aor", "201")
        .service(callee)
        .auth("201", "demo201")
        .run();
    let uas = uas.wait(WAIT);
    pbx.check(
        &uac,
        &format!("201 calling {callee}, whose phone challenges: 480"),
    );
    let (invites, creds) = invites_and_credentials(&uas);
    assert!(
        !creds,
        "credentials sent to a phone: {:?}",
        uas.received_summary()
    );
    assert_eq!(
        invites,
        1,
        "the INVITE was retried: {:?}",
        uas.received_summary()
    );
}

/// The trunk's own challenge for a realm other than its configured one
/// (an on-path attacker's, or a misrouted leg) is not answered either.
#[test]
fn a_trunk_challenge_for_another_realm_is_not_answered() {
    let (pbx, port) = pbx_with_trunk_credentials();
    let trunk = Phone::on_port(pbx.sip_addr(), port);
    let mut uas = pbx
        .sipp("uas_challenge_once.xml")
        .phone(&trunk)
        .set("realm", "attacker.test")
        .spawn();
    uas.wait_bound();
    let uac = pbx
        .sipp("uac_call.xml")
        .phone(&pbx.phone())
        .set("aor", "201")
        .service("0612345678")
        .auth("201", "demo201")
        .timeout_s(10)
        .run();
    let uas = uas.wait(WAIT);
    assert!(!uac.success(), "the call must not go through");
    let (invites, creds) = invites_and_credentials(&uas);
    assert!(
        !creds,
        "credentials sent for realm attacker.test: {:?}",
        uas.received_summary()
    );
    assert_eq!(invites, 1, "{:?}", uas.received_summary());
}

/// The review's number hijack: tenant B added A's DID without the `+`
/// (`31205552020`) and A's calls from the trunk rang B. Numbers are one
/// canonical E.164 key, the operator allocates ranges, and a tenant only
/// assigns numbers of its ranges; the trunk finds the owner whatever the
/// spelling it sends.
#[test]
fn a_tenant_cannot_take_another_tenants_number() {
    let pbx = pbx_with_trunk();
    pbx.cli(&["tenant", "add", "b.test", "--name", "B"])
        .assert_success("tenant add");
    for spelling in ["31205552020", "+31205552020", "0205552020"] {
        let out = pbx.cli(&[
            "user",
            "add",
            "--tenant",
            "b.test",
            "--extension",
            "201",
            "--number",
            spelling,
            "--password",
            "b-secret-201",
        ]);
        assert!(
            !out.status.success() && out.stderr.contains("number range"),
            "B took {spelling}: {}{}",
            out.stdout,
            out.stderr
        );
    }
    let out = pbx.cli(&[
        "number-range",
        "add",
        "--tenant",
        "b.test",
        "--first",
        "31205552000",
        "--last",
        "31205552099",
    ]);
    assert!(
        !out.status.success() && out.stderr.contains("another tenant"),
        "overlapping range allocated: {}{}",
        out.stdout,
        out.stderr
    );

    // The trunk sends the national spelling: 202 of the demo tenant rings.
    let phone = pbx.phone();
    pbx.register(&phone, "202", "202", "demo202");
    let mut uas = pbx.sipp("uas_answer.xml").phone(&phone).spawn();
    uas.wait_bound();
    let uac = trunk_call(
        &pbx,
        "trunk_uac_call.xml",
        "0205552020",
        "sip:0612345678@trunk.test",
    );
    pbx.check(&uac, "the trunk calling 0205552020 (202)");
    pbx.check(&uas.wait(WAIT), "202 answering");
}
