//! `tessera station serve` as a process: it creates the steward's token file (mode 0600),
//! prints where it listens and its certificate, and answers over HTTPS until killed; a bad
//! token file stops it. The API itself is tested route by route in
//! crates/station/tests/api.rs; stations running studies together in service.rs.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tessera_station::client::Client;

const EXE: &str = env!("CARGO_BIN_EXE_tessera");

/// A station folder with an identity made by `tessera init`.
fn station(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-serve-cli-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let o = Command::new(EXE)
        .current_dir(&dir)
        .args(["init", "--name", "registry", "--out", "identity"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    fs::write(dir.join("registry.csv"), "patient_id,time\n1,2.5\n").unwrap();
    fs::write(
        dir.join("station.toml"),
        r#"[station]
name = "registry"
identity = { key = "identity/station.key", certificate = "identity/station.crt" }
listen = "127.0.0.1:1"

[compute]
listen = "127.0.0.1:2"
address = "127.0.0.1"

[sources.cases]
kind = "csv"
file = "registry.csv"
publish = true
columns = { patient_id = "key", time = "numeric" }

[policy]
analyses = ["kaplan_meier"]
recipients = ["researcher"]
"#,
    )
    .unwrap();
    dir
}

/// Kills the server when the test ends, even on a failed assertion.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running station: its address and certificate fingerprint (`sha256:…`).
struct At {
    addr: String,
    pin: String,
}

/// Starts `tessera station serve --listen 127.0.0.1:0` in `dir`; returns it, where it
/// listens and what it printed before listening.
fn start(dir: &Path) -> (Server, At, String) {
    let mut child = Command::new(EXE)
        .current_dir(dir)
        .args(["station", "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let server = Server(child);
    let mut printed = String::new();
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "serve ended: {printed}"
        );
        printed.push_str(&line);
        if let Some(rest) = line.split("https://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().to_string();
            let pin = line
                .split("certificate sha256:")
                .nth(1)
                .map(|r| format!("sha256:{}", &r[..64]))
                .unwrap_or_else(|| panic!("no certificate in {line}"));
            return (server, At { addr, pin }, printed);
        }
    }
}

/// `GET path` with an optional bearer token: status and body.
fn get(at: &At, path: &str, token: Option<&str>) -> (u16, String) {
    let pin = tessera_net::identity::parse_fingerprint(&at.pin[7..]).unwrap();
    let c = Client::new(&at.addr, pin, None, Duration::from_secs(30)).unwrap();
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let a = c.request("GET", path, &headers, &[]).unwrap();
    (a.status, a.text())
}

#[test]
fn serve_creates_the_token_and_answers() {
    let dir = station("ok");
    let (_server, addr, printed) = start(&dir);
    let token_file = dir.join("steward.token");
    assert!(printed.contains("steward token created in"), "{printed}");
    assert!(printed.contains("steward.token"), "{printed}");
    let token = fs::read_to_string(&token_file).unwrap().trim().to_string();
    assert_eq!(token.len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(printed.contains("https://"), "{printed}");
    // Without credentials: a 401 and nothing else.
    let (status, body) = get(&addr, "/studies", None);
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("studies\""), "{body}");
    let (status, body) = get(&addr, "/studies", Some(&token));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, r#"{"studies":[]}"#);
    assert_eq!(get(&addr, "/audit", None).0, 401);
    let (status, body) = get(&addr, "/audit/verify", Some(&token));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""intact":true"#), "{body}");
    drop(_server);

    // Started again: the token is read, not replaced.
    let (_server, addr, printed) = start(&dir);
    assert!(printed.contains("steward token read from"), "{printed}");
    assert_eq!(get(&addr, "/audit", Some(&token)).0, 200);
}

#[test]
fn a_bad_token_file_stops_serve() {
    let dir = station("bad-token");
    fs::write(dir.join("steward.token"), "short\n").unwrap();
    let o = Command::new(EXE)
        .current_dir(&dir)
        .args(["station", "serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("steward.token"), "{err}");
}

/// The researcher's side: `tessera study submit` to a running station, then `tessera study
/// status`; a study naming a column the station does not share is refused (exit 3) with
/// the rule; an unknown id exits 2.
#[test]
fn a_researcher_submits_a_study_and_asks_for_its_state() {
    let dir = station("researcher");
    fs::write(
        dir.join("registry.csv"),
        "patient_id,time,event\n1,2.5,1\n2,3,0\n",
    )
    .unwrap();
    let cfg = fs::read_to_string(dir.join("station.toml"))
        .unwrap()
        .replace(
            "columns = { patient_id = \"key\", time = \"numeric\" }",
            "columns = { patient_id = \"key\", time = \"numeric\", event = \"binary\" }",
        )
        + &["gp", "institute"]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                format!(
                    "\n[[trusted]]\nname = \"{n}\"\naddress = \"127.0.0.1:{}\"\nfingerprint = \"sha256:{}\"\n",
                    7001 + i,
                    format!("{:x}", i + 10).repeat(64)
                )
            })
            .collect::<String>();
    // The researcher's identity, listed by the station.
    let o = Command::new(EXE)
        .current_dir(&dir)
        .args(["init", "--name", "dr_who", "--out", "researcher"])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&o.stdout);
    let fp = printed
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("sha256:"))
        .find(|l| l.len() == 64 && l.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no fingerprint in {printed}"))
        .to_string();
    let cfg =
        cfg + &format!("\n[[researchers]]\nname = \"dr_who\"\nfingerprint = \"sha256:{fp}\"\n");
    fs::write(dir.join("station.toml"), cfg).unwrap();
    let me = dir.join("researcher").display().to_string();
    let (_server, addr, _) = start(&dir);
    let study = |id: &str, event: &str| -> PathBuf {
        let p = dir.join(format!("{id}.toml"));
        fs::write(
            &p,
            format!(
                r#"[study]
id = "{id}"
[parties.registry]
compute = 0
[parties.gp]
compute = 1
[parties.institute]
compute = 2
[data.registry]
file = "registry.csv"
key = ["patient_id"]
[data.registry.columns]
time = "numeric"
{event} = "binary"
[recipients.researcher]
[[analysis]]
name = "km"
kind = "kaplan_meier"
time = "registry.time"
event = "registry.{event}"
times = [1, 2]
"#
            ),
        )
        .unwrap();
        p
    };
    // `tessera study submit FILE` / `status ID` at `at`, pinned to `pin`.
    let study_cmd = |verb: &str, what: &str, at: &str, pin: &str, extra: &[&str]| {
        let place = if verb == "submit" { "--to" } else { "--at" };
        Command::new(EXE)
            .args(["study", verb, what, place, at, "--pin", pin])
            .args(extra)
            .output()
            .unwrap()
    };
    let submit = |p: &Path, extra: &[&str]| {
        let mut args = vec!["--identity", me.as_str()];
        args.extend_from_slice(extra);
        study_cmd("submit", p.to_str().unwrap(), &addr.addr, &addr.pin, &args)
    };
    let status = |id: &str| study_cmd("status", id, &addr.addr, &addr.pin, &["--identity", &me]);
    let ok = study("s-ok", "event");
    // Without the certificate the station does not know the researcher, and says what to do.
    let out = study_cmd("submit", ok.to_str().unwrap(), &addr.addr, &addr.pin, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--identity") && err.contains("[[researchers]]"),
        "{err}"
    );
    let out = submit(&ok, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("study s-ok") && text.contains("pending"),
        "{text}"
    );
    // The decision in words, not the API's JSON.
    assert!(
        text.contains("waiting for a person: the policy has no automatic approval rules"),
        "{text}"
    );
    assert!(!text.contains("needs_person"), "{text}");
    let out = status("s-ok");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("pending"));
    // The same id again: a conflict.
    let again = submit(&ok, &[]);
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already received here (pending: waiting for the steward's decision)")
            && err.contains("`tessera study status s-ok` follows it"),
        "{err}"
    );
    // A column the station does not declare: refused by its policy, the rule named.
    let bad = study("s-bad", "death");
    let out = submit(&bad, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("death"), "{err}");
    let out = status("nosuch");
    assert_eq!(out.status.code(), Some(2));
    // The researcher's studies at this station, oldest first.
    let out = Command::new(EXE)
        .args(["study", "list", "--at", &addr.addr, "--pin", &addr.pin])
        .args(["--identity", &me])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("2 studies of yours at"), "{text}");
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0][..2], ["s-ok", "pending"], "{text}");
    assert_eq!(rows[1][..2], ["s-bad", "refused"], "{text}");
    // Without the certificate the station does not know who asks.
    let out = Command::new(EXE)
        .args(["study", "list", "--at", &addr.addr, "--pin", &addr.pin])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--identity"));
    // Nobody listening: a clear error, exit 1.
    let out = study_cmd("status", "s-ok", "127.0.0.1:1", &addr.pin, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("127.0.0.1:1"), "{err}");
    // Another station's certificate: refused before anything is sent.
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let out = study_cmd("status", "s-ok", &addr.addr, &wrong, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did not match"), "{err}");
}

/// Issue 15: the service logs every event as it happens (also those made by the steward's
/// commands in another process), and runs the steward's `notify` command for a study that
/// waits for a person.
#[test]
fn the_service_logs_events_and_notifies_the_steward_of_a_pending_study() {
    let dir = station("events");
    let trusted: String = ["gp", "institute"]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "\n[[trusted]]\nname = \"{n}\"\naddress = \"127.0.0.1:{}\"\nfingerprint = \"sha256:{}\"\n",
                7001 + i,
                format!("{:x}", i + 10).repeat(64)
            )
        })
        .collect();
    let cfg = fs::read_to_string(dir.join("station.toml"))
        .unwrap()
        .replace(
            "columns = { patient_id = \"key\", time = \"numeric\" }",
            "columns = { patient_id = \"key\", time = \"numeric\", event = \"binary\" }",
        )
        .replace(
            "listen = \"127.0.0.1:1\"\n",
            "listen = \"127.0.0.1:1\"\nnotify = [\"sh\", \"-c\", \"echo \\\"$TESSERA_EVENT $TESSERA_STUDY\\\" >> notified.txt\"]\n",
        )
        + &trusted;
    fs::write(dir.join("station.toml"), cfg).unwrap();
    let log = fs::File::create(dir.join("serve.log")).unwrap();
    let child = Command::new(EXE)
        .current_dir(&dir)
        .args([
            "station",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log",
            "info",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let _server = Server(child);
    let wait_for = |file: &str, what: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let text = fs::read_to_string(dir.join(file)).unwrap_or_default();
            if text.contains(what) {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{file} never said {what:?}: {text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("serve.log", "following the audit log");
    fs::write(
        dir.join("s-one.toml"),
        r#"[study]
id = "s-one"
[parties.registry]
compute = 0
[parties.gp]
compute = 1
[parties.institute]
compute = 2
[data.registry]
file = "registry.csv"
key = ["patient_id"]
[data.registry.columns]
time = "numeric"
event = "binary"
[recipients.researcher]
[[analysis]]
name = "km"
kind = "kaplan_meier"
time = "registry.time"
event = "registry.event"
times = [1, 2]
"#,
    )
    .unwrap();
    // Received by the steward's command (another process): the policy has no rule for it.
    let o = Command::new(EXE)
        .current_dir(&dir)
        .args(["station", "receive", "s-one.toml"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_for(
        "serve.log",
        "study s-one received from command-line: waiting for a person",
    );
    wait_for("notified.txt", "pending s-one");
    let o = Command::new(EXE)
        .current_dir(&dir)
        .args([
            "station",
            "refuse",
            "s-one",
            "--why",
            "not this year",
            "--by",
            "alice",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = wait_for("serve.log", "study s-one refused by alice: not this year");
    // A refusal by a person is not an event for the notify command.
    assert_eq!(
        fs::read_to_string(dir.join("notified.txt")).unwrap(),
        "pending s-one\n",
        "{text}"
    );
}
