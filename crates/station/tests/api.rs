//! The HTTPS API over real TLS: the service served on 127.0.0.1:0 in a background thread
//! with a temporary station (its identity generated here), requests sent by the station's
//! own pinned client ([`tessera_station::client::Client`]). Requests present the
//! certificate of researcher `alice`, whom every station here lists under
//! `[[researchers]]`, unless a test sends them as someone else.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tessera_net::identity::{fingerprint_hex, Fingerprint, Identity};
use tessera_station::api::{self, Api};
use tessera_station::approval::Approvals;
use tessera_station::client::Client;
use tessera_station::coordinate::ServiceOptions;

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Approves studies of at most three covariates with KM and Cox for the researcher.
const AUTO: &str = r#"
[[policy.auto_approve]]
name = "small-models"
recipients = ["researcher"]
kinds = ["kaplan_meier", "cox"]
max_covariates = 3
"#;

/// The researcher the requests come from.
fn alice() -> &'static Identity {
    static ALICE: OnceLock<Identity> = OnceLock::new();
    ALICE.get_or_init(|| Identity::generate("alice").unwrap())
}

/// `[[researchers]]` of `name` with `id`'s certificate.
fn listed(name: &str, id: &Identity) -> String {
    format!(
        "\n[[researchers]]\nname = \"{name}\"\nfingerprint = \"sha256:{}\"\n",
        fingerprint_hex(&id.fingerprint())
    )
}

/// A running station: its address and certificate fingerprint.
#[derive(Clone, Copy)]
struct Station {
    addr: SocketAddr,
    pin: Fingerprint,
}

/// Starts the service for a station in `dir` with `policy` and a fresh identity.
fn start(dir: &Path, policy: &str) -> Station {
    start_with(dir, policy, ServiceOptions::default())
}

/// [`start`] with other `options` (the loop always off).
fn start_with(dir: &Path, policy: &str, options: ServiceOptions) -> Station {
    let config = station(dir, &format!("{policy}{}", listed("alice", alice())));
    serve_config(config, options)
}

/// Serves `config` with a fresh identity and `options` (the loop always off).
fn serve_config(config: tessera_station::Config, options: ServiceOptions) -> Station {
    let approvals = Approvals::open(&config.audit).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let identity = Identity::generate("registry").unwrap();
    let pin = identity.fingerprint();
    let api = Api::new(
        config,
        approvals,
        TOKEN.to_string(),
        identity,
        // The routes alone: no loop changing the studies' states behind the test's back
        // (stations running studies together are tested in crates/cli/tests/service.rs).
        ServiceOptions {
            coordinate: false,
            ..options
        },
    );
    std::thread::spawn(move || api::serve(listener, api).unwrap());
    Station { addr, pin }
}

/// A response: status and body (parsed as JSON when it is JSON, else `Null`).
struct Reply {
    status: u16,
    json: Value,
    headers: String,
}

/// Sends one request as alice and reads the whole response.
fn request(st: Station, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    request_as(st, Some(alice()), method, path, headers, body)
}

/// Sends one request presenting `who`'s certificate (none: anonymous).
fn request_as(
    st: Station,
    who: Option<&Identity>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let c = Client::new(&st.addr.to_string(), st.pin, who, Duration::from_secs(30)).unwrap();
    let a = c.request(method, path, headers, body.as_bytes()).unwrap();
    Reply {
        status: a.status,
        json: serde_json::from_slice(&a.body).unwrap_or(Value::Null),
        headers: a
            .header("www-authenticate")
            .map(|v| format!("www-authenticate: {v}"))
            .unwrap_or_default(),
    }
}

fn steward() -> String {
    format!("Bearer {TOKEN}")
}

fn get(addr: Station, path: &str, auth: bool) -> Reply {
    let a = steward();
    let h: Vec<(&str, &str)> = if auth {
        vec![("Authorization", a.as_str())]
    } else {
        vec![]
    };
    request(addr, "GET", path, &h, "")
}

fn post(addr: Station, path: &str, auth: Option<&str>, body: &str) -> Reply {
    let h: Vec<(&str, &str)> = auth.map(|a| vec![("Authorization", a)]).unwrap_or_default();
    request(addr, "POST", path, &h, body)
}

/// The standard study.
fn study() -> String {
    STUDY.to_string()
}

/// The standard study with another id.
fn study_with_id(id: &str) -> String {
    study().replace("id = \"survival-2026\"", &format!("id = \"{id}\""))
}

#[test]
fn submit_approved_pending_refused_invalid_and_duplicate() {
    let dir = folder("api-submit");
    // The registry's source published: its refusals name its columns to the researcher.
    let text = common::station_toml(&format!("{POLICY}{AUTO}{}", listed("alice", alice())))
        .replace("[sources.cases]\n", "[sources.cases]\npublish = true\n");
    let config = tessera_station::config::parse("station.toml", &text, &dir).unwrap();
    let addr = serve_config(config, ServiceOptions::default());

    // Approved by the rule. A name the request states is not who it comes from.
    let r = request(
        addr,
        "POST",
        "/studies",
        &[("X-Tessera-From", "mallory")],
        &study(),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["id"], "survival-2026");
    assert_eq!(r.json["state"], "approved");
    assert_eq!(r.json["decision"]["approve"]["rule"], "small-models");

    // Pending: four covariates are beyond the rule.
    let text = study_with_id("four-covariates").replace(
        "covariates = [\"registry.age\", \"registry.stage\", \"gp.smoker\"]",
        "covariates = [\"registry.age\", \"registry.stage\", \"gp.smoker\", \"registry.event\"]",
    );
    assert_ne!(text, study_with_id("four-covariates"));
    let r = post(addr, "/studies", None, &text);
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["state"], "pending");
    assert!(r.json["decision"]["needs_person"].is_object(), "{}", r.json);

    // Refused by the policy: a disallowed column. Recorded all the same.
    let text = study_with_id("with-postcode").replace(
        "age = \"numeric\"",
        "age = \"numeric\"\npostcode = { type = \"categorical\", levels = [\"a\", \"b\"] }",
    );
    let r = post(addr, "/studies", None, &text);
    assert_eq!(r.status, 403, "{}", r.json);
    assert_eq!(r.json["state"], "refused");
    let reasons = r.json["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|x| x.as_str().unwrap().starts_with("disallowed_columns:")),
        "{reasons:?}"
    );

    // Invalid: the message names the file, the line and the field; nothing recorded.
    let text = study_with_id("bad").replace("kind = \"cox\"", "kind = \"coxx\"");
    let r = post(addr, "/studies", None, &text);
    assert_eq!(r.status, 400, "{}", r.json);
    let msg = r.json["error"].as_str().unwrap();
    assert!(msg.starts_with("study.toml:"), "{msg}");
    assert!(msg.contains("kind"), "{msg}");
    assert_eq!(get(addr, "/studies/bad", false).status, 404);

    // Known already: 409, and the first stays as it was.
    let r = post(addr, "/studies", None, &study());
    assert_eq!(r.status, 409, "{}", r.json);
    assert!(r.json["error"].as_str().unwrap().contains("survival-2026"));
    // Its submitter is told how it stands and what to do.
    assert!(
        r.json["error"].as_str().unwrap().contains(
            "already received here (approved: rule small-models); \
                 `tessera study status survival-2026`"
        ),
        "{}",
        r.json
    );

    // The list, oldest first; one study in full.
    let r = get(addr, "/studies", false);
    assert_eq!(r.status, 200);
    let list = r.json["studies"].as_array().unwrap();
    let got: Vec<(&str, &str)> = list
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    let mut want = vec![
        ("four-covariates", "pending"),
        ("survival-2026", "approved"),
        ("with-postcode", "refused"),
    ];
    let mut sorted = got.clone();
    sorted.sort();
    want.sort();
    assert_eq!(sorted, want);
    assert!(list
        .iter()
        .all(|s| s["received_at"].as_str().unwrap().ends_with('Z')));
    assert_eq!(list.len(), 3);

    let r = get(addr, "/studies/survival-2026", false);
    assert_eq!(r.status, 200);
    assert_eq!(r.json["study"], study());
    assert_eq!(r.json["decided_by"], "policy");
    assert_eq!(r.json["reason"], "rule small-models");
    assert_eq!(get(addr, "/studies/nope", false).status, 404);

    // The submitter is in the audit log.
    let r = get(addr, "/audit", true);
    assert_eq!(r.status, 200);
    let first = &r.json["entries"][0];
    assert_eq!(first["kind"], "study_received");
    let alice_actor = api::researcher_actor("alice", &alice().fingerprint());
    assert_eq!(first["actor"], alice_actor.as_str());
    assert_eq!(first["seq"], 1);
    let second = r.json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["study"] == "four-covariates")
        .unwrap();
    assert_eq!(second["actor"], alice_actor.as_str());
}

/// Issue 14: `GET /studies` and `GET /studies/{id}` answered anyone with full study texts,
/// anyone could `POST /studies`, and the submitter was whatever `X-Tessera-From` said.
/// Now a caller without a certificate this station lists (or the steward's token) learns
/// nothing but a 401 on every route (the results route: a 403 for any certificate, whether
/// the study exists or not) and submits nothing; a researcher sees the studies they submitted
/// only (another's is not found); the audit log names the certificate, never the header.
#[test]
fn strangers_learn_nothing_but_a_401_and_researchers_see_their_own() {
    let dir = folder("api-who");
    let bob = Identity::generate("bob").unwrap();
    let eve = Identity::generate("eve").unwrap();
    let addr = start(&dir, &format!("{POLICY}{AUTO}{}", listed("bob", &bob)));
    let r = request(addr, "POST", "/studies", &[], &study());
    assert_eq!(r.status, 201, "{}", r.json);

    for who in [None, Some(&eve)] {
        for (method, path, body) in [
            ("GET", "/studies", String::new()),
            ("GET", "/studies/survival-2026", String::new()),
            ("POST", "/studies", study_with_id("from-a-stranger")),
            ("POST", "/studies/survival-2026/approve", String::new()),
            (
                "POST",
                "/studies/survival-2026/refuse",
                r#"{"why": "x"}"#.to_string(),
            ),
            ("GET", "/audit", String::new()),
            ("GET", "/audit/verify", String::new()),
            ("GET", "/peer/studies/survival-2026", String::new()),
            ("POST", "/peer/studies", study_with_id("from-a-stranger")),
            ("POST", "/peer/studies/survival-2026/input", "x".to_string()),
            ("GET", "/peer/audit/head", String::new()),
            ("GET", "/peer/audit/kept", String::new()),
            ("GET", "/studies/survival-2026/results", String::new()),
        ] {
            let r = request_as(
                addr,
                who,
                method,
                path,
                &[("X-Tessera-From", "alice")],
                &body,
            );
            // With a certificate of its own, the results route says "not a recipient"
            // (403), the same for a study that does not exist.
            if who.is_some() && path.ends_with("/results") {
                assert_eq!(r.status, 403, "{method} {path}: {}", r.json);
                let other = request_as(addr, who, "GET", "/studies/nosuch/results", &[], "");
                assert_eq!(other.status, 403, "an unknown study answers alike");
                continue;
            }
            assert_eq!(r.status, 401, "{method} {path}: {}", r.json);
            let text = r.json.to_string();
            assert!(
                !text.contains("survival-2026") && !text.contains("registry"),
                "a 401 says nothing more: {text}"
            );
        }
    }
    // Bob sees his own study only.
    let r = request_as(
        addr,
        Some(&bob),
        "POST",
        "/studies",
        &[],
        &study_with_id("bobs"),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let r = request_as(addr, Some(&bob), "GET", "/studies", &[], "");
    let ids: Vec<&str> = r.json["studies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["bobs"]);
    let r = request_as(addr, Some(&bob), "GET", "/studies/survival-2026", &[], "");
    assert_eq!(r.status, 404, "{}", r.json);
    // Bob picking the id of Alice's study learns it is taken, not how it stands.
    let r = request_as(addr, Some(&bob), "POST", "/studies", &[], &study());
    assert_eq!(r.status, 409, "{}", r.json);
    let msg = r.json["error"].as_str().unwrap();
    assert!(
        msg.contains("already received here; choose another [study] id"),
        "{msg}"
    );
    assert!(
        !msg.contains("approved") && !msg.contains("small-models"),
        "{msg}"
    );
    // Nor can Bob make a changed text of his the next revision of Alice's study, or rerun it.
    let changed = study().replace("survival-2026\"", "survival-2026\"\n# bob's");
    assert_ne!(changed, study());
    let r = request_as(addr, Some(&bob), "POST", "/studies", &[], &changed);
    assert_eq!(r.status, 409, "{}", r.json);
    assert!(!r.json["error"].as_str().unwrap().contains("approved"));
    let r = request_as(
        addr,
        Some(&bob),
        "POST",
        "/studies/survival-2026/rerun",
        &[],
        "",
    );
    assert_eq!(r.status, 404, "{}", r.json);
    let r = get(addr, "/studies/survival-2026", true);
    assert_eq!(r.json["revision"], 1, "{}", r.json);
    // The steward sees both; nothing from the strangers was recorded.
    let r = get(addr, "/studies", true);
    assert_eq!(r.json["studies"].as_array().unwrap().len(), 2, "{}", r.json);
    let r = get(addr, "/audit", true);
    let actors: Vec<&str> = r.json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "study_received")
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(
        actors,
        [
            api::researcher_actor("alice", &alice().fingerprint()),
            api::researcher_actor("bob", &bob.fingerprint())
        ]
    );
}

#[test]
fn the_steward_decides_with_the_token_only() {
    let dir = folder("api-decide");
    let addr = start(&dir, POLICY);
    for id in ["a", "b"] {
        let r = post(addr, "/studies", None, &study_with_id(id));
        assert_eq!(r.status, 201, "{}", r.json);
        assert_eq!(r.json["state"], "pending");
    }

    // Without a token, with a wrong one, with a wrong scheme: 401 and nothing changes.
    let r = post(addr, "/studies/a/approve", None, "");
    assert_eq!(r.status, 401, "{}", r.json);
    assert!(r
        .headers
        .to_ascii_lowercase()
        .contains("www-authenticate: bearer"));
    let wrong = format!("Bearer {}", TOKEN.replace('0', "1"));
    assert_eq!(
        post(addr, "/studies/a/approve", Some(&wrong), "").status,
        401
    );
    let basic = format!("Basic {TOKEN}");
    assert_eq!(
        post(addr, "/studies/a/approve", Some(&basic), "").status,
        401
    );
    assert_eq!(
        post(addr, "/studies/a/refuse", Some("Bearer "), r#"{"why":"x"}"#).status,
        401
    );
    assert_eq!(get(addr, "/studies/a", false).json["state"], "pending");

    // With the token.
    let t = steward();
    let r = post(
        addr,
        "/studies/a/approve",
        Some(&t),
        r#"{"by": "dr.steward"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["state"], "approved");
    assert_eq!(
        get(addr, "/studies/a", false).json["decided_by"],
        "dr.steward"
    );
    // Approved already: 409. Unknown: 404.
    assert_eq!(post(addr, "/studies/a/approve", Some(&t), "").status, 409);
    assert_eq!(post(addr, "/studies/zz/approve", Some(&t), "").status, 404);
    assert_eq!(
        post(addr, "/studies/zz/refuse", Some(&t), r#"{"why": "no"}"#).status,
        404
    );

    // A refusal needs a reason; a body that is not the documented object is a 400.
    let r = post(addr, "/studies/b/refuse", Some(&t), "");
    assert_eq!(r.status, 400, "{}", r.json);
    assert!(r.json["error"].as_str().unwrap().contains("reason"));
    assert_eq!(
        post(addr, "/studies/b/refuse", Some(&t), r#"{"why": "  "}"#).status,
        400
    );
    assert_eq!(
        post(addr, "/studies/b/refuse", Some(&t), r#"{"reason": "x"}"#).status,
        400
    );
    assert_eq!(
        post(addr, "/studies/b/refuse", Some(&t), "not json").status,
        400
    );
    assert_eq!(get(addr, "/studies/b", false).json["state"], "pending");

    let r = post(
        addr,
        "/studies/b/refuse",
        Some(&t),
        r#"{"why": "linkage on postcode is not allowed"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["state"], "refused");
    assert_eq!(r.json["reason"], "linkage on postcode is not allowed");
    assert_eq!(
        get(addr, "/studies/b", false).json["decided_by"],
        api::DEFAULT_BY
    );
    // Refused already: 409. An approval can be withdrawn.
    assert_eq!(
        post(addr, "/studies/b/refuse", Some(&t), r#"{"why": "again"}"#).status,
        409
    );
    assert_eq!(post(addr, "/studies/b/approve", Some(&t), "").status, 409);
    let r = post(
        addr,
        "/studies/a/refuse",
        Some(&t),
        r#"{"why": "withdrawn"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.json);
}

#[test]
fn the_audit_log_is_for_the_steward() {
    let dir = folder("api-audit");
    let addr = start(&dir, POLICY);
    let t = steward();

    // An empty log verifies.
    let r = get(addr, "/audit/verify", true);
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["intact"], true);
    assert_eq!(r.json["entries"], 0);

    assert_eq!(post(addr, "/studies", None, &study()).status, 201);
    let r = post(addr, "/studies/survival-2026/approve", Some(&t), "");
    assert_eq!(r.status, 200, "{}", r.json);

    assert_eq!(get(addr, "/audit", false).status, 401);
    assert_eq!(get(addr, "/audit/verify", false).status, 401);

    let r = get(addr, "/audit", true);
    assert_eq!(r.status, 200);
    let entries = r.json["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["study_received", "approved"]);
    assert_eq!(entries[1]["actor"], api::DEFAULT_BY);
    assert_eq!(entries[1]["prev_hash"], entries[0]["hash"]);
    // `details` is the hashed text, a JSON object.
    let details: Value = serde_json::from_str(entries[0]["details"].as_str().unwrap()).unwrap();
    assert_eq!(details["decision"], "pending");

    let r = get(addr, "/audit/verify", true);
    assert_eq!(r.status, 200);
    assert_eq!(r.json["intact"], true, "{}", r.json);
    assert_eq!(r.json["entries"], 2);
    assert_eq!(r.json["head"], entries[1]["hash"]);
    assert_eq!(r.json["problems"], json!([]));
    // The trusted stations of this configuration are not running: each listed as such,
    // which is not tampering.
    let peers = r.json["peers"].as_array().unwrap();
    assert!(!peers.is_empty());
    assert!(peers.iter().all(|p| p["error"].is_string()), "{peers:?}");

    // Tampered with behind the service's back: reported, every problem listed.
    let db = rusqlite::Connection::open(dir.join("audit.sqlite")).unwrap();
    db.execute(
        "UPDATE studies SET state = 'refused' WHERE id = 'survival-2026'",
        [],
    )
    .unwrap();
    let r = get(addr, "/audit/verify", true);
    assert_eq!(r.status, 200);
    assert_eq!(r.json["intact"], false, "{}", r.json);
    assert_eq!(
        r.json["problems"],
        json!(["study survival-2026: stored as refused, the audit log says approved"])
    );
    db.execute_batch("DROP TRIGGER audit_entries_no_update")
        .unwrap();
    db.execute(
        "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2",
        [],
    )
    .unwrap();
    let r = get(addr, "/audit/verify", true);
    assert_eq!(r.json["intact"], false, "{}", r.json);
    let problems: Vec<&str> = r.json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        problems.iter().any(|p| p.contains("entry 2 was altered")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("audit_entries_no_update")),
        "{problems:?}"
    );
    assert_eq!(r.json["entries"], 2);

    // Unknown routes: 404 with a JSON error.
    let r = get(addr, "/nope", true);
    assert_eq!(r.status, 404);
    assert!(r.json["error"].is_string());
    // Results need a recipient's certificate or token.
    assert_eq!(
        request_as(addr, None, "GET", "/studies/survival-2026/results", &[], "").status,
        401
    );
    // A known path with another method: 405.
    assert_eq!(request(addr, "DELETE", "/studies", &[], "").status, 405);
}

#[test]
fn concurrent_submissions_are_all_recorded_and_the_log_verifies() {
    let dir = folder("api-concurrent");
    let addr = start(&dir, POLICY);
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                post(addr, "/studies", None, &study_with_id(&format!("s{i}"))).status
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 201);
    }
    let r = get(addr, "/studies", false);
    assert_eq!(r.json["studies"].as_array().unwrap().len(), 8);
    let r = get(addr, "/audit/verify", true);
    assert_eq!(r.json["intact"], true, "{}", r.json);
    assert_eq!(r.json["entries"], 8);
}

#[test]
fn the_steward_token_file_is_created_once_and_private() {
    let dir = folder("api-token");
    let config = station(&dir, POLICY);
    assert_eq!(config.steward_token, dir.join("steward.token"));
    let (t, created) = api::steward_token(&config.steward_token).unwrap();
    assert!(created);
    assert_eq!(t.len(), 64);
    assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config.steward_token)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Read back, not replaced.
    let (again, created) = api::steward_token(&config.steward_token).unwrap();
    assert!(!created);
    assert_eq!(again, t);
    // Another station gets another token.
    let other = dir.join("other.token");
    assert_ne!(api::steward_token(&other).unwrap().0, t);
    // A short token is refused.
    std::fs::write(dir.join("short.token"), "abc\n").unwrap();
    let e = api::steward_token(&dir.join("short.token")).unwrap_err();
    assert!(e.to_string().contains("short.token"), "{e}");
    // The file name is configurable, relative to station.toml.
    let text = station_toml(POLICY).replace(
        "listen = \"127.0.0.1:7000\"",
        "listen = \"127.0.0.1:7000\"\nsteward_token = \"secret/tok\"",
    );
    let c = tessera_station::config::parse("station.toml", &text, &dir).unwrap();
    assert_eq!(c.steward_token, dir.join("secret/tok"));
    let text = station_toml(POLICY).replace(
        "listen = \"127.0.0.1:7000\"",
        "listen = \"127.0.0.1:7000\"\nsteward_token = \"\"",
    );
    let e = tessera_station::config::parse("station.toml", &text, &dir).unwrap_err();
    assert!(e.to_string().starts_with("station.toml:5:"), "{e}");
}

/// Issue 14: a 1.9 MB study cost 1.8 cores across three stations. Each route takes bodies
/// up to its own limit: a study text up to `MAX_STUDY`, a steward's decision up to
/// `MAX_DECISION`; beyond, 413 before anything is parsed or recorded.
#[test]
fn oversized_bodies_are_refused_per_route() {
    let dir = common::folder("api-limits");
    let st = start(&dir, POLICY);
    let padding = "#".repeat(tessera_station::api::MAX_STUDY);
    let big = format!("{}\n{padding}\n", study());
    let r = post(st, "/studies", None, &big);
    assert_eq!(r.status, 413, "{}", r.json);
    let r = get(st, "/studies", true);
    assert_eq!(
        r.json["studies"].as_array().map(Vec::len),
        Some(0),
        "{}",
        r.json
    );
    // The study itself is taken.
    let r = post(st, "/studies", None, &study());
    assert!(
        r.status == 201 || r.status == 202,
        "{} {}",
        r.status,
        r.json
    );
    let why = "x".repeat(tessera_station::api::MAX_DECISION + 1);
    let body = serde_json::json!({ "reason": why }).to_string();
    let a = steward();
    let r = post(st, "/studies/survival-2026/refuse", Some(&a), &body);
    assert_eq!(r.status, 413, "{}", r.json);
}

/// Issue 14: 20 spam studies cost ~45 % of a core across three stations, kept forever. A
/// researcher may now have at most `max_undecided` studies waiting for a person here and
/// make at most `submissions_per_minute` submissions a minute; past either, 429 with the
/// reason, and nothing recorded.
#[test]
fn a_researcher_cannot_flood_a_station() {
    let dir = folder("api-flood");
    let addr = start_with(
        &dir,
        POLICY,
        ServiceOptions {
            max_undecided: 2,
            submissions_per_minute: 4,
            ..ServiceOptions::default()
        },
    );
    // No automatic rule: every valid study waits for a person.
    for i in 0..2 {
        let r = post(addr, "/studies", None, &study_with_id(&format!("wait-{i}")));
        assert_eq!(r.status, 201, "{}", r.json);
        assert_eq!(r.json["state"], "pending");
    }
    let r = post(addr, "/studies", None, &study_with_id("wait-2"));
    assert_eq!(r.status, 429, "{}", r.json);
    assert!(
        r.json["error"]
            .as_str()
            .unwrap()
            .contains("waiting for this station's steward"),
        "{}",
        r.json
    );
    // A decision frees a place.
    let a = steward();
    let body = json!({ "why": "no" }).to_string();
    assert_eq!(
        post(addr, "/studies/wait-0/refuse", Some(&a), &body).status,
        200
    );
    let r = post(addr, "/studies", None, &study_with_id("wait-3"));
    assert_eq!(r.status, 201, "{}", r.json);
    // Five attempts in a minute: the fifth is refused, whatever it holds.
    let r = post(addr, "/studies", None, "not a study");
    assert_eq!(r.status, 429, "{}", r.json);
    assert!(
        r.json["error"].as_str().unwrap().contains("a minute"),
        "{}",
        r.json
    );
    let ids: Vec<String> = get(addr, "/studies", true).json["studies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    // The steward is not limited.
    let r = post(addr, "/studies", Some(&a), &study_with_id("by-the-steward"));
    assert_eq!(r.status, 201, "{}", r.json);
}

/// Review of issue 14: `/peer/studies/{id}/input` takes bodies of up to 1 GiB, and the
/// caller was checked only after axum had read the body, so anyone could make the station
/// buffer a gigabyte per request. A stranger announcing a huge body now gets its 401 at
/// once, before sending any of it; so does one submitting a study.
#[test]
fn strangers_are_turned_away_before_their_body_is_read() {
    use std::io::{Read, Write};
    let dir = folder("api-body-first");
    let addr = start(&dir, POLICY);
    for path in [
        "/peer/studies/survival-2026/input",
        "/peer/studies",
        "/studies",
    ] {
        let config = tessera_net::https::client_config(addr.pin, None).unwrap();
        let name = rustls::pki_types::ServerName::try_from("station").unwrap();
        let conn = rustls::ClientConnection::new(config, name).unwrap();
        let tcp = std::net::TcpStream::connect(addr.addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        write!(
            tls,
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n"
        )
        .unwrap();
        tls.flush().unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match tls.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!("{path}: no answer before the body: {e}"),
            }
        }
        let head = String::from_utf8_lossy(&got);
        assert!(head.starts_with("HTTP/1.1 401"), "{path}: {head}");
    }
}

/// Review of issue 14: a trusted station read every study's text, decisions and progress,
/// also those it takes no part in. Now such a study does not exist for it.
#[test]
fn a_trusted_station_reads_only_the_studies_it_takes_part_in() {
    let dir = folder("api-stranger-station");
    let lab = Identity::generate("lab").unwrap();
    let trusted_lab = format!(
        "\n[[trusted]]\nname = \"lab\"\naddress = \"lab.example.org:7000\"\nfingerprint = \"sha256:{}\"\n",
        fingerprint_hex(&lab.fingerprint())
    );
    let addr = start(&dir, &format!("{POLICY}{trusted_lab}"));
    assert_eq!(post(addr, "/studies", None, &study()).status, 201);
    // The study's parties are registry, gp and institute: not the lab.
    let r = request_as(addr, Some(&lab), "GET", "/studies/survival-2026", &[], "");
    assert_eq!(r.status, 404, "{}", r.json);
    assert!(!r.json.to_string().contains("registry.age"), "{}", r.json);
    // Its own peer routes still answer it as a station (and refuse the study to it).
    let r = request_as(
        addr,
        Some(&lab),
        "GET",
        "/peer/studies/survival-2026",
        &[],
        "",
    );
    assert_eq!(r.status, 403, "{}", r.json);
    // A trusted station gets this station's audit head, signed with its identity key, to
    // keep; and what this station kept of its own (nothing yet).
    let r = request_as(addr, Some(&lab), "GET", "/peer/audit/head", &[], "");
    assert_eq!(r.status, 200, "{}", r.json);
    let answer: tessera_station::anchor::HeadAnswer = serde_json::from_value(r.json).unwrap();
    assert_eq!(
        answer.head.count, 1,
        "the study received, waiting for a person"
    );
    let cert: Vec<u8> = (0..answer.certificate.len() / 2)
        .map(|i| u8::from_str_radix(&answer.certificate[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    answer.head.check(&cert).unwrap();
    let r = request_as(addr, Some(&lab), "GET", "/peer/audit/kept", &[], "");
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["heads"], json!([]));
}

/// Review of issue 14: a study another station refused stays pending here with a stopped
/// run and can no longer be decided; it counted towards the researcher's undecided studies
/// for ever, so refusals elsewhere locked them out here. Only studies a person can still
/// decide count.
#[test]
fn studies_stopped_elsewhere_do_not_count_as_undecided() {
    let dir = folder("api-stopped-pending");
    let addr = start_with(
        &dir,
        POLICY,
        ServiceOptions {
            max_undecided: 1,
            ..ServiceOptions::default()
        },
    );
    assert_eq!(
        post(addr, "/studies", None, &study_with_id("first")).status,
        201
    );
    let r = post(addr, "/studies", None, &study_with_id("second"));
    assert_eq!(r.status, 429, "{}", r.json);
    // Another station refuses "first": it stops here, as the service's loop records it.
    let mut a = Approvals::open(&dir.join("audit.sqlite")).unwrap();
    a.stop("first", "registry", "station gp refused: no")
        .unwrap();
    drop(a);
    let r = post(addr, "/studies", None, &study_with_id("second"));
    assert_eq!(r.status, 201, "{}", r.json);
}

/// The catalogue: the steward, listed researchers and trusted stations read it, anyone else
/// gets a 401; it shows the published sources only (never a file, a recipient or a
/// researcher), their declared levels and key normalisation, and the policy's floors. A
/// researcher also gets the trusted stations' catalogues, or why one could not be fetched.
#[test]
fn the_catalogue_shows_what_the_steward_publishes_to_whom_it_knows() {
    let dir = folder("api-catalogue");
    std::fs::write(dir.join("hidden.csv"), "").unwrap();
    let lab = Identity::generate("lab").unwrap();
    let text = common::station_toml(&format!(
        "{POLICY}{}\n[[trusted]]\nname = \"lab\"\naddress = \"127.0.0.1:9\"\n\
         fingerprint = \"sha256:{}\"\n\n[sources.cases.levels]\nstage = [\"1\", \"2\", \"3\", \"4\"]\n\
         \n[sources.cases.keys.patient_id]\nnormalise = [\"trim\", \"casefold\"]\n\
         \n[sources.hidden]\nkind = \"csv\"\nfile = \"hidden.csv\"\n\
         columns = {{ secret_column = \"numeric\" }}\n",
        listed("alice", alice()),
        fingerprint_hex(&lab.fingerprint())
    ))
    .replace("[sources.cases]\n", "[sources.cases]\npublish = true\n")
    // A rule about an unpublished column: the catalogue must not name it either.
    .replace(
        "disallowed_columns = [\"postcode\"]",
        "disallowed_columns = [\"postcode\", \"secret_column\"]",
    );
    let config = tessera_station::config::parse("station.toml", &text, &dir).unwrap();
    let st = serve_config(
        config,
        ServiceOptions {
            peer_timeout: Duration::from_secs(2),
            ..ServiceOptions::default()
        },
    );

    // Strangers: a 401 and nothing else.
    let stranger = Identity::generate("mallory").unwrap();
    for who in [None, Some(&stranger)] {
        let r = request_as(st, who, "GET", "/catalogue", &[], "");
        assert_eq!(r.status, 401, "{}", r.json);
        assert!(!r.json.to_string().contains("cases"), "{}", r.json);
    }

    // A researcher: the published source with its columns, levels and key steps.
    let r = request(st, "GET", "/catalogue", &[], "");
    assert_eq!(r.status, 200, "{}", r.json);
    let c = &r.json["catalogue"];
    assert_eq!(c["station"], "registry");
    assert_eq!(
        c["fingerprint"],
        format!("sha256:{}", fingerprint_hex(&st.pin))
    );
    assert_eq!(c["compute"], true);
    assert_eq!(c["withheld"], true);
    assert_eq!(c["sources"].as_array().unwrap().len(), 1, "{c}");
    assert_eq!(c["sources"][0]["name"], "cases");
    let columns = c["sources"][0]["columns"].as_array().unwrap();
    let col = |n: &str| columns.iter().find(|x| x["name"] == n).unwrap().clone();
    assert_eq!(col("stage")["type"], "categorical");
    assert_eq!(col("stage")["levels"], json!(["1", "2", "3", "4"]));
    assert_eq!(col("postcode")["levels"], Value::Null);
    assert_eq!(col("patient_id")["type"], "key");
    assert_eq!(col("patient_id")["normalise"], json!(["trim", "casefold"]));
    assert_eq!(c["policy"]["min_cell"], 10);
    assert_eq!(c["policy"]["min_rows"], 50);
    assert_eq!(c["policy"]["disallowed_columns"], json!(["postcode"]));
    assert_eq!(
        c["policy"]["analyses"],
        json!(["kaplan_meier", "logrank", "cox"])
    );
    let names: Vec<&str> = c["trusted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gp", "institute", "lab"]);
    // Nothing unpublished: no withheld source, no file, no recipient or researcher, no
    // address.
    let all = r.json.to_string();
    for secret in [
        "hidden",
        "secret_column",
        "registry.csv",
        "researcher",
        "alice",
        "127.0.0.1",
        &fingerprint_hex(&alice().fingerprint()),
    ] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
    // The trusted stations could not be reached: each says so.
    let peers = r.json["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 3, "{all}");
    assert!(peers
        .iter()
        .all(|p| p["error"].is_string() && p["catalogue"].is_null()));

    // The steward reads it too; a trusted station gets this station's own only.
    let r = get(st, "/catalogue", true);
    assert_eq!(r.status, 200, "{}", r.json);
    let r = request_as(st, Some(&lab), "GET", "/catalogue", &[], "");
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["catalogue"]["station"], "registry");
    assert_eq!(r.json["peers"], json!([]));
    let parsed: tessera_station::catalogue::CatalogueAnswer =
        serde_json::from_value(r.json).unwrap();
    assert_eq!(parsed.catalogue.sources.len(), 1);
    // A trusted station asking on behalf of a researcher gets it only for one this station
    // lists (review of issue 15: a peer relayed catalogues to researchers the station never
    // listed).
    let on_behalf = tessera_station::catalogue::ON_BEHALF_OF;
    let alice_fp = format!("sha256:{}", fingerprint_hex(&alice().fingerprint()));
    let r = request_as(
        st,
        Some(&lab),
        "GET",
        "/catalogue",
        &[(on_behalf, &alice_fp)],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let mallory_fp = format!("sha256:{}", fingerprint_hex(&stranger.fingerprint()));
    for who in [mallory_fp.as_str(), "sha256:zz", "alice"] {
        let r = request_as(st, Some(&lab), "GET", "/catalogue", &[(on_behalf, who)], "");
        assert_eq!(r.status, 403, "{}", r.json);
        assert!(!r.json.to_string().contains("cases"), "{}", r.json);
    }
}

/// A study that spells a declared level otherwise is refused on submission, with the
/// declared spelling as a hint, before any person sees it.
#[test]
fn a_level_spelled_otherwise_than_declared_is_refused_on_submission() {
    let dir = folder("api-levels");
    let text = common::station_toml(&format!(
        "{POLICY}{}\n[sources.cases.levels]\nstage = [\"1\", \"2\", \"3\", \"4\"]\n",
        listed("alice", alice())
    ))
    // Published: the declared levels are the catalogue's, so the refusal may name them.
    .replace("[sources.cases]\n", "[sources.cases]\npublish = true\n");
    let config = tessera_station::config::parse("station.toml", &text, &dir).unwrap();
    let st = serve_config(config, ServiceOptions::default());
    let bad = study().replace(
        r#"levels = ["1", "2", "3", "4"]"#,
        r#"levels = ["1.0", "2", "3", "4"]"#,
    );
    let r = post(st, "/studies", None, &bad);
    assert_eq!(r.status, 403, "{}", r.json);
    let reasons = r.json["reasons"].to_string();
    assert!(
        reasons.contains(r#"levels: column `stage` of data.registry lists level \"1.0\""#)
            && reasons.contains(r#"did you mean \"1\"?"#)
            && reasons.contains(r#"does not list level \"1\""#),
        "{reasons}"
    );
    // The id is kept: the study spelled as declared is its revision 2.
    let r = post(st, "/studies", None, &study());
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["revision"], 2, "{}", r.json);
}

/// What the registry's unpublished source `hidden` declares and no probing study writes.
const HIDDEN_SECRETS: [&str; 6] = [
    "cd4",
    "negative",
    "numeric in source",
    "declared",
    "disallowed_columns",
    "viral_load",
];

/// The standard study with `id` reading source `file` of the registry, probing `hidden`: a
/// level spelled otherwise, a numeric column as categorical (and one the policy disallows).
fn probing(id: &str, file: &str) -> String {
    study_with_id(id)
        .replace("file = \"registry.csv\"", &format!("file = \"{file}\""))
        .replace(
            "stage = { type = \"categorical\", levels = [\"1\", \"2\", \"3\", \"4\"] }\n",
            "stage = { type = \"categorical\", levels = [\"1\", \"2\", \"3\", \"4\"] }\n\
             hiv_status = { type = \"categorical\", levels = [\"neg\", \"positive\"] }\n\
             viral_load = { type = \"categorical\", levels = [\"low\", \"high\"] }\n",
        )
}

/// Review: `publish = false` hid a source from the catalogue, but a listed researcher could
/// probe it by submitting studies and reading the refusals, which named the source, its
/// declared levels, its column types and the policy's rules about its columns. Now the
/// answer to a study naming an unpublished source (`POST /studies`, `GET /studies/{id}`,
/// `GET /studies`, and what another station is told and relays) reads word for word like
/// the answer for a source that does not exist, and names none of what it declares; the
/// steward still reads every reason (its own submissions, `GET /studies/{id}`, the audit
/// log).
#[test]
fn refusals_tell_researchers_and_stations_nothing_of_unpublished_sources() {
    let dir = folder("api-unpublished");
    std::fs::write(dir.join("hidden.csv"), "").unwrap();
    let lab = Identity::generate("lab").unwrap();
    let text = common::station_toml(&format!(
        "{POLICY}{}\n[[trusted]]\nname = \"lab\"\naddress = \"127.0.0.1:9\"\n\
         fingerprint = \"sha256:{}\"\n\n[sources.hidden]\nkind = \"csv\"\nfile = \"hidden.csv\"\n\
         columns = {{ patient_id = \"key\", hiv_status = \"categorical\", \
         viral_load = \"numeric\", cd4 = \"numeric\" }}\n\n[sources.hidden.levels]\n\
         hiv_status = [\"negative\", \"positive\"]\n",
        listed("alice", alice()),
        fingerprint_hex(&lab.fingerprint())
    ))
    .replace("[sources.cases]\n", "[sources.cases]\npublish = true\n")
    .replace(
        "disallowed_columns = [\"postcode\"]",
        "disallowed_columns = [\"postcode\", \"viral_load\"]",
    );
    let config = tessera_station::config::parse("station.toml", &text, &dir).unwrap();
    let st = serve_config(config, ServiceOptions::default());
    let clean = |what: &str, text: &str| {
        for secret in HIDDEN_SECRETS {
            assert!(!text.contains(secret), "{what}: {secret} in {text}");
        }
    };

    // The researcher names the unpublished source, then one that does not exist.
    let hidden = post(st, "/studies", None, &probing("probe-hidden", "hidden"));
    let nosuch = post(st, "/studies", None, &probing("probe-nosuch", "nosuch"));
    for r in [&hidden, &nosuch] {
        assert_eq!(r.status, 403, "{}", r.json);
        clean("POST /studies", &r.json.to_string());
    }
    assert!(
        !nosuch.json.to_string().contains("hidden"),
        "{}",
        nosuch.json
    );
    assert_eq!(
        hidden.json["reasons"],
        json!([
            "sources: data.registry.file `hidden` names no published source of this \
                station (published sources: cases)"
        ])
    );
    let same = |r: &Reply, file: &str| {
        let mut v = r.json.clone();
        v["id"] = json!("");
        v["digest"] = json!("");
        v.to_string().replace(&format!("`{file}`"), "`X`")
    };
    assert_eq!(same(&hidden, "hidden"), same(&nosuch, "nosuch"));

    // What the researcher reads later: the study and the list.
    let r = request(st, "GET", "/studies/probe-hidden", &[], "");
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["reason"], hidden.json["reasons"][0], "{}", r.json);
    let r = request(st, "GET", "/studies", &[], "");
    assert_eq!(r.status, 200, "{}", r.json);
    clean("GET /studies", &r.json.to_string());

    // Another station taking part is told (and relays to its researchers) the same.
    let peer_study = probing("probe-peer", "hidden").replace("gp", "lab");
    let r = request_as(st, Some(&lab), "POST", "/peer/studies", &[], &peer_study);
    assert_eq!(r.status, 403, "{}", r.json);
    clean("POST /peer/studies", &r.json.to_string());
    let r = request_as(st, Some(&lab), "GET", "/peer/studies/probe-peer", &[], "");
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["state"], "refused", "{}", r.json);
    clean("GET /peer/studies/{id}", &r.json.to_string());

    // The steward reads every reason: of the researcher's study, of its own submission, in
    // the audit log.
    let full = [
        "levels: column `hiv_status` of data.registry lists level \"neg\", which source \
         `hidden` does not declare (declared: \"negative\", \"positive\")",
        "disallowed_columns: column `viral_load` of data.registry may not be shared",
        "unknown_column: column `time` of data.registry is not declared by source `hidden`",
    ];
    let r = get(st, "/studies/probe-hidden", true);
    let reason = r.json["reason"].as_str().unwrap_or_default().to_string();
    let auth = steward();
    let own = post(
        st,
        "/studies",
        Some(&auth),
        &probing("probe-steward", "hidden"),
    );
    assert_eq!(own.status, 403, "{}", own.json);
    let audit = get(st, "/audit", true).json.to_string();
    for want in full {
        assert!(reason.contains(want), "no {want:?} in {reason}");
        assert!(
            own.json["reasons"]
                .to_string()
                .contains(&want.replace('"', "\\\"")),
            "no {want:?} in {}",
            own.json
        );
        assert!(
            audit.contains(&want.replace('"', "\\\\\\\"")),
            "no {want:?} in {audit}"
        );
    }
}
