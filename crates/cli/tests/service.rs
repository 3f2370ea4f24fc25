//! Stations running studies together: three `tessera station serve` processes (the demo's
//! registry, GP network and institute, written by `tessera demo --prepare`) over HTTPS and
//! TLS on loopback, driven the way a researcher and the stewards would — and the ways a
//! study must fail: a refusal by one station's policy, an unknown station, a recipient no
//! policy allows or who is not the study's, invalid data at one station, and a station
//! killed in the middle of the computation. Every failure ends with a reason at every
//! station, an audit entry, and nothing revealed. One station's data comes from the real
//! PostgreSQL test server (scripts/postgres.sh) when it is running; a fourth station takes
//! part as an outside data party. A study cannot change how a station reads its data
//! (missing tokens, delimiters, key columns and their normalisation), and each station's
//! row count reaches the recipient only where every station allows it.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tessera_net::identity::Identity;
use tessera_station::client::Client;

const EXE: &str = env!("CARGO_BIN_EXE_tessera");
const STATIONS: [&str; 3] = ["registry", "gp", "institute"];
const ID: &str = "tessera-demo";

/// A fresh folder with the demo's stations and study (`tessera demo --prepare`).
fn prepare(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "tessera-service-{tag}-{}-{nanos}",
        std::process::id()
    ));
    let o = Command::new(EXE)
        .args(["demo", "--prepare", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    dir
}

/// Replaces `from` by `to` in `dir/file` (which must contain it).
fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let p = dir.join(file);
    let text = fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    fs::write(&p, text.replace(from, to)).unwrap();
}

/// The stations running; killed when dropped.
struct Cluster {
    dir: PathBuf,
    names: Vec<String>,
    children: Vec<Option<Child>>,
    addrs: Vec<String>,
    pins: Vec<String>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self.children.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Cluster {
    /// Starts the demo's three stations of `dir` and waits until each listens.
    fn start(dir: &Path) -> Cluster {
        Cluster::start_these(dir, &STATIONS)
    }

    /// Starts the stations `names` of `dir` and waits until each listens.
    fn start_these(dir: &Path, names: &[&str]) -> Cluster {
        Cluster::start_with(dir, names, &[])
    }

    /// Starts the stations `names` of `dir`, each with `extra` arguments to `serve`, and
    /// waits until each listens.
    fn start_with(dir: &Path, names: &[&str], extra: &[&str]) -> Cluster {
        let mut c = Cluster {
            dir: dir.to_path_buf(),
            names: names.iter().map(|s| s.to_string()).collect(),
            children: Vec::new(),
            addrs: Vec::new(),
            pins: Vec::new(),
        };
        for &s in names {
            let (child, addr, pin) = spawn_station(dir, s, extra);
            c.children.push(Some(child));
            c.addrs.push(addr);
            c.pins.push(pin);
        }
        c
    }

    /// Starts station `name` of the cluster's folder (again, after [`Cluster::kill`], or for
    /// the first time when it was left out) and waits until it listens.
    fn start_station(&mut self, name: &str) {
        let (child, addr, pin) = spawn_station(&self.dir, name, &[]);
        match self.names.iter().position(|s| s == name) {
            Some(i) => {
                self.children[i] = Some(child);
                self.addrs[i] = addr;
                self.pins[i] = pin;
            }
            None => {
                self.names.push(name.to_string());
                self.children.push(Some(child));
                self.addrs.push(addr);
                self.pins.push(pin);
            }
        }
    }

    fn index(&self, name: &str) -> usize {
        self.names.iter().position(|s| s == name).unwrap()
    }

    /// A client of station `name` presenting `identity`.
    fn client(&self, name: &str, identity: Option<&Identity>) -> Client {
        let i = self.index(name);
        let pin = tessera_net::identity::parse_fingerprint(&self.pins[i][7..]).unwrap();
        Client::new(&self.addrs[i], pin, identity, Duration::from_secs(30)).unwrap()
    }

    fn steward(&self, name: &str) -> String {
        let t = fs::read_to_string(self.dir.join(name).join("steward.token")).unwrap();
        format!("Bearer {}", t.trim())
    }

    /// The study as station `name` shows it to its steward.
    fn status(&self, name: &str) -> Value {
        let auth = self.steward(name);
        let a = self
            .client(name, None)
            .request(
                "GET",
                &format!("/studies/{ID}"),
                &[("Authorization", &auth)],
                &[],
            )
            .unwrap();
        a.json()
    }

    /// Waits until station `name`'s run of the study is in one of `states`.
    fn wait_run(&self, name: &str, states: &[&str], secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.status(name);
            if states.contains(&s["run"]["state"].as_str().unwrap_or("")) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never reached {states:?}: {s}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the GP station holds the study pending, and approves it as its steward.
    fn approve_at_gp(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.status("gp")["state"] != "pending" {
            assert!(Instant::now() < deadline, "gp never got the study");
            std::thread::sleep(Duration::from_millis(20));
        }
        let auth = self.steward("gp");
        let a = self
            .client("gp", None)
            .request(
                "POST",
                &format!("/studies/{ID}/approve"),
                &[("Authorization", &auth)],
                b"",
            )
            .unwrap();
        assert_eq!(a.status, 200, "{}", a.text());
    }

    /// The kinds of station `name`'s audit entries, after checking the chain is intact.
    fn audit(&self, name: &str) -> Vec<String> {
        let auth = self.steward(name);
        let c = self.client(name, None);
        let v = c
            .request("GET", "/audit/verify", &[("Authorization", &auth)], &[])
            .unwrap()
            .json();
        assert_eq!(v["intact"], true, "{v}");
        c.request("GET", "/audit", &[("Authorization", &auth)], &[])
            .unwrap()
            .json()["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect()
    }

    /// Kills station `name`.
    fn kill(&mut self, name: &str) {
        let i = self.index(name);
        if let Some(mut c) = self.children[i].take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// `tessera study ARGS --at|--to REGISTRY --pin PIN EXTRA…` as the researcher (who
    /// submits and asks for a status with the certificate the stations list; results are
    /// fetched with whatever `extra` presents).
    fn researcher(&self, args: &[&str], extra: &[&str]) -> Output {
        let at = if args[0] == "submit" { "--to" } else { "--at" };
        let me = self.me();
        let id: &[&str] =
            if matches!(args[0], "submit" | "status" | "rerun") && !extra.contains(&"--identity") {
                &["--identity", &me]
            } else {
                &[]
            };
        Command::new(EXE)
            .arg("study")
            .args(args)
            .args([at, &self.addrs[0], "--pin", &self.pins[0]])
            .args(id)
            .args(extra)
            .output()
            .unwrap()
    }

    fn me(&self) -> String {
        self.dir
            .join("researcher")
            .join("identity")
            .display()
            .to_string()
    }

    fn study(&self) -> String {
        self.dir
            .join("researcher")
            .join("study.toml")
            .display()
            .to_string()
    }

    /// Submits the study with `from` replaced by `to` (written to `dir/NAME.toml`) to the
    /// registry as the researcher, without credentials.
    fn submit_variant(&self, name: &str, from: &str, to: &str) -> Output {
        let study = fs::read_to_string(self.study()).unwrap();
        assert!(study.contains(from), "the study has no {from:?}");
        let p = self.dir.join(format!("{name}.toml"));
        fs::write(&p, study.replace(from, to)).unwrap();
        self.researcher(&["submit", p.to_str().unwrap()], &[])
    }

    /// Submits the study to the registry as the researcher; returns the exit code and
    /// standard error.
    fn submit(&self) -> (Option<i32>, String) {
        let o = self.researcher(&["submit", &self.study()], &["--identity", &self.me()]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    }
}

/// Starts station `name` of `dir` with `extra` arguments to `serve` and waits until it
/// listens: the process, its API address and its certificate's pin.
// The child is returned to the Cluster, whose drop kills and waits for it; the lint cannot
// follow it there.
#[allow(clippy::zombie_processes)]
fn spawn_station(dir: &Path, name: &str, extra: &[&str]) -> (Child, String, String) {
    // The station's own log, kept for the tests that read what a station shows.
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name).join("stderr.log"))
        .unwrap();
    let mut child = Command::new(EXE)
        .args(["station", "serve", "--run-timeout", "60"])
        .args(extra)
        .arg("--config")
        .arg(dir.join(name).join("station.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "{name} did not start"
        );
        if let Some(rest) = line.split("https://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().to_string();
            let fp = line.split("certificate sha256:").nth(1).unwrap();
            return (child, addr, format!("sha256:{}", &fp[..64]));
        }
    }
}

/// Station `name`'s computation port (`[compute] listen` in its station.toml).
fn compute_port(dir: &Path, name: &str) -> u16 {
    let text = fs::read_to_string(dir.join(name).join("station.toml")).unwrap();
    let at = text.find("[compute]\nlisten = \"").unwrap();
    let line = text[at..].lines().nth(1).unwrap();
    line.rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('"')
        .parse()
        .unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// The whole flow, and who may read what: results go to the study's recipient with its
/// certificate or a token the steward issued, to nobody else.
#[test]
fn a_study_runs_across_the_stations_and_only_its_recipient_reads_the_results() {
    let dir = prepare("flow");
    let c = Cluster::start(&dir);
    let (code, text) = c.submit();
    assert_eq!(code, Some(0), "{text}");
    // Not yet: the GP's steward has not decided.
    let o = c.researcher(&["results", ID], &["--identity", &c.me()]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    // Junk at the computation ports of the two ready stations (queued until their
    // computation accepts): dropped, and the computation goes on.
    let mut junk = Vec::new();
    for s in ["registry", "institute"] {
        c.wait_run(s, &["ready"], 30);
        let port = compute_port(&dir, s);
        // Listening once the station holds the port for the study (just after "ready").
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut g = loop {
            match std::net::TcpStream::connect(("127.0.0.1", port)) {
                Ok(g) => break g,
                Err(e) => assert!(Instant::now() < deadline, "{s}: {e}"),
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::io::Write::write_all(&mut g, b"GET / HTTP/1.1\r\n\r\n").unwrap();
        junk.push(g);
        drop(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
    }
    c.approve_at_gp();
    for s in STATIONS {
        let st = c.wait_run(s, &["finished"], 60);
        // The computation reported its phases to the service.
        assert_eq!(st["progress"]["phase"], "done", "{st}");
    }
    let o = c.researcher(
        &["results", ID],
        &["--identity", &c.me(), "--format", "json", "--wait", "30"],
    );
    assert!(o.status.success(), "{}", out(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["linkage"]["intersection"], 1700);
    assert_eq!(doc["analyses"].as_array().unwrap().len(), 4);
    assert!(doc["analyses"][2]["result"]["rows"][0]["coef"].is_number());
    // The owners' local counts stay with them, and so does each station's row count: the
    // study does not ask for them (`[disclosure] counts`), and no policy allows them.
    assert!(doc["data"].as_array().is_none_or(|d| d.is_empty()), "{doc}");
    assert_eq!(doc["linkage"]["rows"], serde_json::json!([]), "{doc}");
    assert_eq!(doc["linkage"]["rows_withheld"], true, "{doc}");
    let o = c.researcher(&["results", ID], &["--identity", &c.me()]);
    assert!(out(&o).contains("km_by_statin"), "{}", out(&o));
    assert!(
        out(&o).contains("1700 linked rows (rows per data station withheld")
            && !out(&o).contains("1800")
            && !out(&o).contains("1900"),
        "{}",
        out(&o)
    );
    let html = dir.join("report.html");
    let o = c.researcher(
        &["results", ID],
        &[
            "--identity",
            &c.me(),
            "--format",
            "html",
            "--out",
            html.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    let report = fs::read_to_string(&html).unwrap();
    assert!(report.contains("<svg"));
    assert!(
        report.contains("rows per data station withheld"),
        "{report}"
    );
    // The status shows every station finished (once the registry has asked them again).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let o = c.researcher(&["status", ID], &[]);
        let text = out(&o);
        if text.contains("gp: finished") && text.contains("institute: finished") {
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // With a profile naming the station, its pin and the identity, the researcher writes
    // none of them: `--profile FILE` or `$TESSERA_PROFILE`, `--at NAME` or the default.
    let profile = dir.join("researcher").join("profile.toml");
    fs::write(
        &profile,
        format!(
            "identity = \"identity\"\ndefault = \"registry\"\n\n[stations.registry]\n\
             at = \"{}\"\npin = \"{}\"\n",
            c.addrs[0], c.pins[0]
        ),
    )
    .unwrap();
    let o = Command::new(EXE)
        .args(["study", "results", ID, "--format", "json", "--profile"])
        .arg(&profile)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["linkage"]["intersection"], 1700);
    let o = Command::new(EXE)
        .args(["study", "status", ID, "--at", "registry"])
        .env("TESSERA_PROFILE", &profile)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("gp: finished"), "{}", out(&o));

    // Someone else: a certificate the study does not list, or nothing at all.
    let other = dir.join("other");
    Identity::generate("other").unwrap().save(&other).unwrap();
    let o = c.researcher(&["results", ID], &["--identity", other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).contains("recipients only"), "{}", out(&o));
    let o = c.researcher(&["results", ID], &[]);
    assert_eq!(o.status.code(), Some(2));
    // A token the registry's steward issues the researcher works; a made-up one does not.
    let t = Command::new(EXE)
        .args(["station", "token", ID, "researcher", "--config"])
        .arg(dir.join("registry").join("station.toml"))
        .output()
        .unwrap();
    assert!(t.status.success(), "{}", out(&t));
    let token = String::from_utf8_lossy(&t.stdout).trim().to_string();
    // The results need the shares of all three compute stations: the registry's token
    // alone gets the registry's shares, and the GP refuses the caller without credentials.
    let o = c.researcher(&["results", ID], &["--token", &token]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("station gp"), "{}", out(&o));
    let issue = |station: &str| {
        let t = Command::new(EXE)
            .args(["station", "token", ID, "researcher", "--config"])
            .arg(dir.join(station).join("station.toml"))
            .output()
            .unwrap();
        assert!(t.status.success(), "{}", out(&t));
        format!("{station}={}", String::from_utf8_lossy(&t.stdout).trim())
    };
    let (gp_token, institute_token) = (issue("gp"), issue("institute"));
    let tokens = [
        "--token",
        &token,
        "--token",
        &gp_token,
        "--token",
        &institute_token,
    ];
    // A token is a credential: it is not sent to a station the first station merely named
    // (a lying first station could collect it); the recipient pins the others itself.
    let o = c.researcher(&["results", ID], &tokens);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("--pin-station gp="), "{}", out(&o));
    let pin_gp = format!("gp={}", c.pins[c.index("gp")]);
    let pin_institute = format!("institute={}", c.pins[c.index("institute")]);
    let mut args = tokens.to_vec();
    args.extend(["--pin-station", &pin_gp, "--pin-station", &pin_institute]);
    let o = c.researcher(&["results", ID], &args);
    assert!(o.status.success(), "{}", out(&o));
    let o = c.researcher(&["results", ID], &["--token", &"0".repeat(64)]);
    assert_eq!(o.status.code(), Some(2));

    // Every delivery audited; the token's issue too, never the token.
    let kinds = c.audit("registry");
    for k in [
        "study_received",
        "approved",
        "run_started",
        "run_finished",
        "token_issued",
        "revealed",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing: {kinds:?}");
    }
    let log = c
        .client("registry", None)
        .request(
            "GET",
            "/audit",
            &[("Authorization", &c.steward("registry"))],
            &[],
        )
        .unwrap()
        .text();
    assert!(!log.contains(&token));
    // The GP's log names the person who approved and the station that passed it on.
    let gp = c.audit("gp");
    assert_eq!(
        &gp[..4],
        ["study_received", "approved", "run_started", "run_finished"]
    );
}

/// A study that the GP's policy refuses stops at every station, with the GP's reason.
#[test]
fn a_refusal_by_one_station_stops_the_study_everywhere() {
    let dir = prepare("refused");
    edit(
        &dir,
        "gp/station.toml",
        "analyses = [\"kaplan_meier\", \"logrank\", \"cox\", \"logistic\"]",
        "analyses = [\"kaplan_meier\", \"logrank\", \"cox\"]",
    );
    let c = Cluster::start(&dir);
    let (code, text) = c.submit();
    assert_eq!(code, Some(0), "{text}");
    for s in ["registry", "institute"] {
        let st = c.wait_run(s, &["stopped"], 30);
        let why = st["run"]["reason"].as_str().unwrap();
        assert!(
            why.contains("station gp refused") && why.contains("logistic"),
            "{s}: {why}"
        );
        let kinds = c.audit(s);
        assert!(kinds.contains(&"run_aborted".to_string()), "{kinds:?}");
        assert!(!kinds.iter().any(|k| k == "run_started" || k == "revealed"));
    }
    assert_eq!(c.status("gp")["state"], "refused");
    // The researcher sees why, and gets no results.
    let o = c.researcher(&["status", ID], &[]);
    assert!(out(&o).contains("gp: refused"), "{}", out(&o));
    let o = c.researcher(&["results", ID], &["--identity", &c.me()]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(out(&o).contains("station gp refused"), "{}", out(&o));
}

/// `study submit --json` and `study status --json` (what the R package in `r/` reads): the
/// station's answer as one JSON object naming the station asked, with the exit codes of the
/// text output; a refusal carries its reasons as `rule: what`, an unknown id prints no JSON.
#[test]
fn submit_and_status_answer_in_json_for_programs() {
    let dir = prepare("json");
    let c = Cluster::start(&dir);
    let json = |o: &Output| -> Value {
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(o)))
    };
    let o = c.researcher(&["submit", &c.study(), "--json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let v = json(&o);
    assert_eq!(v["id"], ID, "{v}");
    assert_eq!(v["revision"], 1, "{v}");
    assert_eq!(v["state"], "approved", "{v}");
    assert_eq!(
        v["decision"]["approve"]["rule"], "approved researcher",
        "{v}"
    );
    assert_eq!(v["at"].as_str(), Some(c.addrs[0].as_str()), "{v}");

    let o = c.researcher(&["status", ID, "--json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let v = json(&o);
    assert_eq!(
        (v["id"].as_str(), v["state"].as_str()),
        (Some(ID), Some("approved"))
    );
    assert!(v["study"]
        .as_str()
        .is_some_and(|t| t.contains("[[analysis]]")));
    assert!(v["stations"].is_array() && v["earlier"].is_array());
    assert_eq!(v["at"].as_str(), Some(c.addrs[0].as_str()), "{v}");

    // Refused on submission: exit 3 as in text, the reasons in the object.
    let study = fs::read_to_string(c.study()).unwrap();
    let p = dir.join("refused.toml");
    fs::write(
        &p,
        study
            .replace(&format!("id = \"{ID}\""), "id = \"refused\"")
            .replace("min_rows = 100", "min_rows = 10"),
    )
    .unwrap();
    let o = c.researcher(&["submit", p.to_str().unwrap(), "--json"], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    let v = json(&o);
    assert_eq!(
        (v["id"].as_str(), v["state"].as_str()),
        (Some("refused"), Some("refused"))
    );
    let reasons: Vec<&str> = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        reasons.len() == 1 && reasons[0].starts_with("min_rows: "),
        "{reasons:?}"
    );

    // An unknown id: exit 2, the message on standard error only.
    let o = c.researcher(&["status", "no-such-study", "--json"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(o.stdout.is_empty(), "{}", out(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no study no-such-study"));
}

/// Issue 12's reproductions, over the stations' HTTPS API: a study cannot change how a
/// station reads its data. Missing-value tokens (which made one patient's record missing,
/// telling from the counts whether the patient is in the registry) and delimiters are
/// refused on submission naming the field and where the steward sets it; a data column
/// (`stage`, counted exactly with `missing = ["4"]`) or a disallowed one (`age`) as a
/// linkage key, and a key normalised otherwise than the station does, are refused naming
/// the policy's rule, and the refusal is audited; nothing runs.
#[test]
fn a_study_cannot_change_how_a_station_reads_its_data() {
    let dir = prepare("reading");
    // The registry's steward disallows `age`.
    edit(
        &dir,
        "registry/station.toml",
        "[policy]\n",
        "[policy]\ndisallowed_columns = [\"age\"]\n",
    );
    let c = Cluster::start(&dir);
    let base = fs::read_to_string(c.study()).unwrap();
    let without_age = |t: &str| {
        t.replace("age = { type = \"numeric\", min = 0, max = 120 }\n", "")
            .replace("\"registry.age\", ", "")
    };
    let composite = |t: &str, second: &str| {
        t.replacen(
            "key = [\"patient_id\"]",
            &format!("key = [\"patient_id\", \"{second}\"]"),
            1,
        )
        .replacen("key = [\"patient_id\"]", "key = [\"patient_id\", \"smoker\"]", 1)
        .replace(
            "key = [{ name = \"patient_id\", normalise = [\"trim\", \"casefold\"] }]",
            "key = [{ name = \"patient_id\", normalise = [\"trim\", \"casefold\"] }, { name = \"second\" }]",
        )
    };
    let submit = |id: &str, text: String| -> (Option<i32>, String) {
        let text = text.replace(&format!("id = \"{ID}\""), &format!("id = \"{id}\""));
        assert!(text.contains(id));
        let p = dir.join(format!("{id}.toml"));
        fs::write(&p, text).unwrap();
        let o = c.researcher(&["submit", p.to_str().unwrap()], &[]);
        (o.status.code(), out(&o))
    };

    // The study's reading options: invalid at a station, neither recorded nor run.
    let (code, text) = submit(
        "read-missing",
        without_age(&base).replacen(
            "key = [\"patient_id\"]\n",
            "key = [\"patient_id\"]\nmissing = [\"\", \"NA\", \"P100110\"]\n",
            1,
        ),
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains(
            "[data.registry] field missing: a station reads its data as its steward \
                       configured it"
        ) && text.contains("station.toml ([sources.NAME] missing)"),
        "{text}"
    );
    let (code, text) = submit(
        "read-delimiter",
        without_age(&base).replacen(
            "file = \"records\"\n",
            "file = \"records\"\ndelimiter = \";\"\n",
            1,
        ),
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("[data.gp] field delimiter"), "{text}");

    // Key columns are the source's keys, under the column rules: refused by the policy.
    let (code, text) = submit("key-stage", composite(&without_age(&base), "stage"));
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("key_columns: column `stage` of data.registry is used as a linkage key"),
        "{text}"
    );
    let (code, text) = submit("key-age", composite(&without_age(&base), "age"));
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("disallowed_columns: key column `age` of data.registry may not be used"),
        "{text}"
    );
    // A key normalised otherwise than the station's configuration.
    let (code, text) = submit(
        "key-norm",
        without_age(&base).replace(
            "normalise = [\"trim\", \"casefold\"]",
            "normalise = [\"trim\"]",
        ),
    );
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains(
            "key_normalisation: the study normalises linkage key `patient_id` (column \
             `patient_id` of data.registry) as [trim], but this station normalises it as \
             [trim, casefold] (station.toml [sources.cases.keys.patient_id])"
        ),
        "{text}"
    );

    // Three refusals audited at the registry, the invalid studies not at all; nothing ran.
    let kinds = c.audit("registry");
    assert_eq!(
        kinds.iter().filter(|k| *k == "refused").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "study_received").count(),
        3,
        "{kinds:?}"
    );
    assert!(!kinds.iter().any(|k| k == "run_started" || k == "revealed"));
}

/// Each data station's row count reaches the recipient only where the study asks for it
/// (`[disclosure] counts = true`) and every station's policy allows it (`allow_counts`): a
/// station that does not allow it refuses the study by that rule, and it stops everywhere.
#[test]
fn per_station_counts_reach_the_recipient_only_where_every_station_allows_them() {
    let ask = |dir: &Path, allowing: &[&str]| {
        edit(
            dir,
            "researcher/study.toml",
            "[disclosure]\n",
            "[disclosure]\ncounts = true\n",
        );
        for s in allowing {
            edit(
                dir,
                &format!("{s}/station.toml"),
                "[policy]\n",
                "[policy]\nallow_counts = true\n",
            );
        }
    };
    // The institute (the helper) does not allow them: refused there, stopped everywhere.
    let dir = prepare("counts-refused");
    ask(&dir, &["registry", "gp"]);
    let c = Cluster::start(&dir);
    let (code, text) = c.submit();
    assert_eq!(code, Some(0), "{text}");
    let st = c.wait_run("registry", &["stopped"], 30);
    let why = st["run"]["reason"].as_str().unwrap();
    assert!(
        why.contains(
            "station institute refused: allow_counts: the study shows each data \
                      station's row count to its recipients"
        ),
        "{why}"
    );
    assert!(!c.audit("registry").iter().any(|k| k == "revealed"));
    drop(c);

    // Every station allows them: the recipient sees each station's rows.
    let dir = prepare("counts");
    ask(&dir, &STATIONS);
    let c = Cluster::start(&dir);
    let (code, text) = c.submit();
    assert_eq!(code, Some(0), "{text}");
    c.approve_at_gp();
    c.wait_run("registry", &["finished"], 60);
    let o = c.researcher(
        &["results", ID],
        &["--identity", &c.me(), "--format", "json", "--wait", "30"],
    );
    assert!(o.status.success(), "{}", out(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        doc["linkage"]["rows"],
        serde_json::json!([
            { "party": "registry", "rows": 1800 },
            { "party": "gp", "rows": 1900 }
        ]),
        "{doc}"
    );
    assert_eq!(doc["linkage"]["rows_withheld"], false);
    assert_eq!(doc["linkage"]["intersection"], 1700);
    // The owners' data-quality counts still stay with them.
    assert!(doc["data"].as_array().is_none_or(|d| d.is_empty()), "{doc}");
}

/// A study naming a station the registry does not trust is refused on submission; a station
/// that does not trust the one passing the study on refuses it, and the study stops.
#[test]
fn unknown_stations_are_refused() {
    let dir = prepare("unknown");
    let c = Cluster::start(&dir);
    let study = fs::read_to_string(c.study()).unwrap();
    let hospital = dir.join("hospital.toml");
    fs::write(
        &hospital,
        study
            .replace("[parties.institute]", "[parties.hospital]")
            .replace("id = \"tessera-demo\"", "id = \"with-hospital\""),
    )
    .unwrap();
    let o = c.researcher(&["submit", hospital.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(
        out(&o).contains("trusted: party `hospital` is not a station this station trusts"),
        "{}",
        out(&o)
    );
    drop(c);

    // The institute does not know the registry.
    let dir = prepare("untrusted");
    let text = fs::read_to_string(dir.join("institute/station.toml")).unwrap();
    let start = text.find("[[trusted]]\nname = \"registry\"").unwrap();
    let end = start + text[start..].find("fingerprint").unwrap();
    let end = end + text[end..].find('\n').unwrap();
    fs::write(
        dir.join("institute/station.toml"),
        format!("{}{}", &text[..start], &text[end..]),
    )
    .unwrap();
    let c = Cluster::start(&dir);
    let (code, text) = c.submit();
    assert_eq!(code, Some(0), "{text}");
    let st = c.wait_run("registry", &["stopped"], 30);
    let why = st["run"]["reason"].as_str().unwrap();
    assert!(why.contains("station institute refused"), "{why}");
    assert!(!c.audit("registry").iter().any(|k| k == "run_started"));
}

/// A recipient that no station's policy allows: refused on submission with the rule.
#[test]
fn an_unapproved_recipient_is_refused() {
    let dir = prepare("recipient");
    let c = Cluster::start(&dir);
    let o = c.submit_variant(
        "friend",
        "[recipients.researcher]",
        "[recipients.friend]\n\n[recipients.researcher]",
    );
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(
        out(&o).contains("recipients: recipient `friend` is not an allowed recipient"),
        "{}",
        out(&o)
    );
    assert!(c.audit("registry").iter().any(|k| k == "refused"));
}

/// A malformed value in the GP's data: the GP's steward sees the file, line and column; the
/// other stations and the researcher only "input invalid"; nothing runs.
#[test]
fn invalid_data_at_one_station_is_input_invalid_to_the_others() {
    let dir = prepare("badcsv");
    let gp = dir.join("gp/gp.csv");
    let text = fs::read_to_string(&gp).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let bmi = header.iter().position(|h| *h == "bmi").unwrap();
    let mut row: Vec<String> = lines[56].split(',').map(str::to_string).collect();
    row[bmi] = "heavy".to_string();
    lines[56] = row.join(",");
    fs::write(&gp, lines.join("\n") + "\n").unwrap();
    let c = Cluster::start(&dir);
    let (code, text) = c.submit();
    assert_eq!(code, Some(0), "{text}");
    c.approve_at_gp();
    let st = c.wait_run("registry", &["stopped"], 30);
    assert_eq!(
        st["run"]["reason"].as_str().unwrap(),
        "station gp refused: input invalid"
    );
    let g = c.status("gp");
    let detail = g["reason"].as_str().unwrap();
    assert!(
        detail.contains("gp.csv:57") && detail.contains("bmi"),
        "{detail}"
    );
    assert!(!detail.contains("heavy"), "a value was printed: {detail}");
    // The researcher sees the public reason only.
    let o = c.researcher(&["status", ID], &[]);
    let text = out(&o);
    assert!(
        text.contains("input invalid") && !text.contains("gp.csv"),
        "{text}"
    );
}

/// The GP station killed during the computation: the others stop with an error, record the
/// abort, and reveal nothing; once it is back, the researcher reruns the study under the
/// same id (its revision 2, the text unchanged: the GP steward's approval stands) and gets
/// the results.
#[test]
fn a_station_killed_mid_study_aborts_it_everywhere_and_a_rerun_recovers_it() {
    let dir = prepare("killed");
    // Twenty times the data, so that the computation lasts long enough to be interrupted.
    for (s, file) in [("registry", "registry.csv"), ("gp", "gp.csv")] {
        let p = dir.join(s).join(file);
        let text = fs::read_to_string(&p).unwrap();
        let mut lines = text.lines();
        let mut big = format!("{}\n", lines.next().unwrap());
        let rows: Vec<&str> = lines.collect();
        for k in 0..20 {
            for r in &rows {
                let (id, rest) = r.split_once(',').unwrap();
                big.push_str(&format!("{id}x{k},{rest}\n"));
            }
        }
        fs::write(&p, big).unwrap();
    }
    let mut c = Cluster::start(&dir);
    let (code, text) = c.submit();
    assert_eq!(code, Some(0), "{text}");
    c.approve_at_gp();
    // Every station computing (connected to the others), then the GP dies.
    for s in STATIONS {
        c.wait_run(s, &["running"], 60);
    }
    std::thread::sleep(Duration::from_millis(300));
    c.kill("gp");
    for s in ["registry", "institute"] {
        let st = c.wait_run(s, &["aborted"], 60);
        assert!(st["run"]["reason"].as_str().is_some(), "{st}");
        let kinds = c.audit(s);
        assert!(kinds.contains(&"run_aborted".to_string()), "{kinds:?}");
        assert!(!kinds.iter().any(|k| k == "revealed" || k == "run_finished"));
    }
    let o = c.researcher(&["results", ID], &["--identity", &c.me()]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(out(&o).contains("aborted"), "{}", out(&o));
    // What the researcher is told names stations and kinds of failure, not addresses.
    let o = c.researcher(&["status", ID], &[]);
    let text = out(&o);
    let (head, rest) = text.split_once('\n').unwrap();
    assert!(head.contains("station registry: the computation"), "{text}");
    let reason = head.split_once("aborted").unwrap().1;
    assert!(
        !reason.contains("127.0.0.1") && !rest.contains("127.0.0.1"),
        "{text}"
    );

    // The GP comes back (its interrupted run is aborted there too) and the researcher reruns
    // the study unchanged: no new id, no second approval at the GP.
    c.start_station("gp");
    c.wait_run("gp", &["aborted"], 30);
    let o = c.researcher(&["rerun", ID], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("(revision 2)"), "{}", out(&o));
    for s in STATIONS {
        let st = c.wait_run(s, &["finished"], 120);
        assert_eq!(st["revision"], 2, "{st}");
        assert_eq!(st["earlier"][0]["revision"], 1, "{st}");
        assert_eq!(st["earlier"][0]["run"], "aborted", "{st}");
    }
    let g = c.status("gp");
    assert_eq!(g["decided_by"], "policy", "{g}");
    assert!(
        g["reason"].as_str().unwrap().contains("rerun of the text"),
        "{g}"
    );
    let o = c.researcher(&["results", ID], &["--identity", &c.me()]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = c.researcher(&["status", ID], &[]);
    let text = out(&o);
    assert!(
        text.contains("(revision 2)") && text.contains("earlier: revision 1 aborted"),
        "{text}"
    );
    for s in STATIONS {
        let kinds = c.audit(s);
        let received = kinds.iter().filter(|k| *k == "study_received").count();
        assert_eq!(received, 2, "{s}: {kinds:?}");
    }
    // A finished study takes no further text under its id, and says what to do instead.
    let o = c.researcher(&["rerun", ID], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        out(&o).contains("finished") && out(&o).contains("tessera study results"),
        "{}",
        out(&o)
    );
}

/// The mistakes of a first deployment, each reported before any approval where it can be,
/// or recovered under the same study id where not: a station down at submission gets the
/// study when it comes back; a floor below the stations' is refused by the station submitted
/// to at once, and a wrong level spelling by the GP's policy when the study reaches it, each
/// before any person sees it, the corrected texts becoming revisions 2 and 3; a column missing at the source
/// is reported by `station check` before the approval and, approved anyway, stops the study
/// as "input invalid" until the steward mends the file and the researcher reruns it.
#[test]
fn first_deployment_mistakes_are_reported_early_or_recovered_under_the_same_id() {
    let dir = prepare("mistakes");
    // The GP's extract lacks the bmi column the study uses.
    let gp_csv = dir.join("gp/gp.csv");
    let good = fs::read_to_string(&gp_csv).unwrap();
    let header: Vec<&str> = good.lines().next().unwrap().split(',').collect();
    let bmi = header.iter().position(|h| *h == "bmi").unwrap();
    let without: String = good
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.remove(bmi);
            f.join(",") + "\n"
        })
        .collect();
    fs::write(&gp_csv, &without).unwrap();
    // The GP is down when the study is submitted.
    let mut c = Cluster::start_these(&dir, &["registry", "institute"]);
    // First text: statin's levels spelled "0.0"/"1.0" where the GP declares "0"/"1", and a
    // min_cell of 5 below the stations' floor of 10: the registry refuses the floor at once,
    // before any person sees it.
    let levels = |t: &str| {
        t.replace(
            r#"statin = { type = "categorical", levels = ["0", "1"] }"#,
            r#"statin = { type = "categorical", levels = ["0.0", "1.0"] }"#,
        )
    };
    let good_study = fs::read_to_string(c.study()).unwrap();
    let first =
        levels(&good_study).replace("[disclosure]\nmin_cell = 10", "[disclosure]\nmin_cell = 5");
    assert!(first.contains("\"0.0\"") && first.contains("min_cell = 5"));
    let first_path = dir.join("first.toml");
    fs::write(&first_path, first).unwrap();
    let o = c.researcher(&["submit", first_path.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(out(&o).contains("min_cell"), "{}", out(&o));
    // The floor corrected (the spelling not yet): revision 2 of the same id, passed on.
    let second_path = dir.join("second.toml");
    fs::write(&second_path, levels(&good_study)).unwrap();
    let o = c.researcher(&["submit", second_path.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("(revision 2)"), "{}", out(&o));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = c.status("registry");
        let gp = st["stations"]
            .as_array()
            .and_then(|v| v.iter().find(|s| s["station"] == "gp"))
            .cloned();
        if gp.is_some_and(|g| g["state"] == "unreachable") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "gp never shown unreachable: {st}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The GP comes up: it gets the study from the others and its policy refuses the
    // spelling before any person is asked; everyone stops.
    c.start_station("gp");
    let st = c.wait_run("registry", &["stopped"], 30);
    let why = st["run"]["reason"].as_str().unwrap();
    assert!(
        why.contains("station gp refused") && why.contains("levels"),
        "{why}"
    );
    assert_eq!(c.status("gp")["decided_by"], "policy");
    // The researcher corrects the file and submits it again: revision 3 of the same id.
    let o = c.researcher(&["submit", &c.study()], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("(revision 3)"), "{}", out(&o));
    // The GP's steward checks the sources before approving: the missing column is named.
    let check = Command::new(EXE)
        .args(["station", "check", "--config"])
        .arg(dir.join("gp/station.toml"))
        .output()
        .unwrap();
    assert_ne!(check.status.code(), Some(0), "{}", out(&check));
    assert!(out(&check).contains("bmi"), "{}", out(&check));
    // Approved anyway: the data check stops it as "input invalid" everywhere.
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.status("gp")["revision"] != 3 || c.status("gp")["state"] != "pending" {
        assert!(
            Instant::now() < deadline,
            "gp never held revision 3: {}",
            c.status("gp")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    c.approve_at_gp();
    let st = c.wait_run("registry", &["stopped"], 30);
    assert_eq!(st["revision"], 3, "{st}");
    assert_eq!(
        st["run"]["reason"].as_str().unwrap(),
        "station gp refused: input invalid"
    );
    // The steward mends the extract; the researcher reruns the study unchanged (revision 4):
    // the GP's approval of this text stands, its data is checked again, and it runs.
    fs::write(&gp_csv, &good).unwrap();
    let o = c.researcher(&["rerun", ID], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("(revision 4)"), "{}", out(&o));
    for s in STATIONS {
        let st = c.wait_run(s, &["finished"], 60);
        assert_eq!(st["revision"], 4, "{s}: {st}");
    }
    let o = c.researcher(&["results", ID], &["--identity", &c.me()]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    // The logs hold the revisions of the one id and verify: four at the registry, three at
    // the GP (the first never left the registry).
    for (s, n) in [("registry", 4), ("gp", 3)] {
        let kinds = c.audit(s);
        let got = kinds.iter().filter(|k| *k == "study_received").count();
        assert_eq!(got, n, "{s}: {kinds:?}");
    }
}

/// Each station owns its computation endpoint: a study that carries an address is refused
/// at the station, naming the field; a station whose computation port is its API port does
/// not start, naming the file, line and field.
#[test]
fn computation_endpoints_are_the_stations_own() {
    let dir = prepare("endpoints");
    let c = Cluster::start(&dir);
    let o = c.submit_variant(
        "with-address",
        "[parties.gp]\n",
        "[parties.gp]\naddress = \"127.0.0.1:1\"\n",
    );
    assert_ne!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        out(&o).contains(
            "parties.gp.address: computation addresses are each station's own configuration \
             (station.toml [compute]); remove it"
        ),
        "{}",
        out(&o)
    );
    drop(c);

    // The GP's computation port set to its API port.
    let toml = dir.join("gp/station.toml");
    let text = fs::read_to_string(&toml).unwrap();
    let api = text
        .lines()
        .find_map(|l| l.strip_prefix("listen = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    let port = compute_port(&dir, "gp");
    fs::write(
        &toml,
        text.replace(&format!("127.0.0.1:{port}\""), &format!("{api}\"")),
    )
    .unwrap();
    let o = Command::new(EXE)
        .args(["station", "serve", "--config"])
        .arg(&toml)
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", out(&o));
    let api_port = api.rsplit(':').next().unwrap();
    assert!(
        out(&o).contains(&format!(
            "station.toml:8:10: [compute] field listen: port {api_port} is the API's"
        )),
        "{}",
        out(&o)
    );
}

/// The GP's data from the PostgreSQL test server (over TLS, the steward's query): the study
/// runs and agrees with the same study run locally from the CSV file.
#[test]
fn a_station_reads_its_data_from_postgresql() {
    let (Ok(url), Some(ca)) = (
        std::env::var("TESSERA_TEST_PG_URL"),
        std::env::var_os("TESSERA_TEST_PG_CA"),
    ) else {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        assert!(!ci, "the PostgreSQL test server is not running under CI");
        eprintln!("skipped: TESSERA_TEST_PG_URL/TESSERA_TEST_PG_CA not set (scripts/test.sh)");
        return;
    };
    let dir = prepare("postgres");
    let text = fs::read_to_string(dir.join("gp/station.toml")).unwrap();
    let start = text.find("[sources.records]").unwrap();
    let end = start + text[start..].find("\n[policy]").unwrap();
    let source = format!(
        "[sources.records]\nkind = \"postgres\"\nurl = \"{url}\"\n\
         query = \"SELECT patient_id, comorbidity, smoker, bmi, diabetes::int AS diabetes, \
         statin::text AS statin FROM gp\"\ntls = true\nca = \"{}\"\n\
         columns = {{ patient_id = \"key\", comorbidity = \"numeric\", smoker = \"binary\", \
         bmi = \"numeric\", diabetes = \"binary\", statin = \"categorical\" }}\n\
         \n[sources.records.keys.patient_id]\nnormalise = [\"trim\", \"casefold\"]\n",
        Path::new(&ca).display()
    );
    fs::write(
        dir.join("gp/station.toml"),
        format!("{}{}{}", &text[..start], source, &text[end..]),
    )
    .unwrap();
    fs::remove_file(dir.join("gp/gp.csv")).unwrap();
    let c = Cluster::start(&dir);
    let (code, text) = c.submit();
    assert_eq!(code, Some(0), "{text}");
    c.approve_at_gp();
    c.wait_run("registry", &["finished"], 60);
    let o = c.researcher(
        &["results", ID],
        &["--identity", &c.me(), "--format", "json"],
    );
    assert!(o.status.success(), "{}", out(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();

    // The same study run locally on the CSV files.
    fs::write(
        dir.join("gp.csv"),
        include_str!("../../../fixtures/synthetic/gp.csv"),
    )
    .unwrap();
    let study = fs::read_to_string(c.study()).unwrap();
    agrees_with_a_local_run(&dir, &study, "registry/registry.csv", "gp.csv", &doc);
}

/// Runs `study` (whose datasets name the stations' sources `cases` and `records`) on one
/// machine with `tessera run`, reading `registry` and `gp` as the files instead, and checks
/// that `doc` (the results the stations delivered) agrees with it: the same linked rows,
/// the Cox and logistic coefficients within 1e-5.
fn agrees_with_a_local_run(dir: &Path, study: &str, registry: &str, gp: &str, doc: &Value) {
    let local = dir.join("local.toml");
    fs::write(
        &local,
        study
            .replace("file = \"cases\"", &format!("file = \"{registry}\""))
            .replace("file = \"records\"", &format!("file = \"{gp}\"")),
    )
    .unwrap();
    let o = Command::new(EXE)
        .args(["run", "--json"])
        .arg(&local)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out(&o));
    let want: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["linkage"]["intersection"], 1700);
    assert_eq!(
        doc["linkage"]["intersection"],
        want["linkage"]["intersection"]
    );
    for (a, key) in [(2, "rows"), (3, "coefficients")] {
        let coefs = |d: &Value| -> Vec<f64> {
            d["analyses"][a]["result"][key]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["coef"].as_f64().unwrap())
                .collect()
        };
        let (got, exp) = (coefs(doc), coefs(&want));
        assert_eq!(got.len(), exp.len());
        for (g, e) in got.iter().zip(&exp) {
            assert!((g - e).abs() < 1e-5, "{got:?} vs {exp:?}");
        }
    }
}

/// A free loopback port (bound and released; never one this process handed out before).
fn free_port() -> u16 {
    tessera_net::ports::free_loopback_port().unwrap()
}

/// Four stations: the GP network becomes an outside data party (no compute slot) and a
/// hospital without data computes in its place. The GP's station deals its table into one
/// message per compute station; the study runs and agrees with the same study run locally.
#[test]
fn an_outside_data_party_shares_its_data_into_the_three_compute_stations() {
    let dir = prepare("outside");
    // The hospital's identity and station.
    let o = Command::new(EXE)
        .current_dir(&dir)
        .args(["init", "--name", "hospital", "--out", "hospital/identity"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out(&o));
    let fp = Identity::load(&dir.join("hospital/identity"))
        .unwrap()
        .fingerprint();
    let fp = tessera_net::identity::fingerprint_hex(&fp);
    let api = free_port();
    let trusted = |name: &str, addr: String, fp: &str| {
        format!("\n[[trusted]]\nname = \"{name}\"\naddress = \"{addr}\"\nfingerprint = \"sha256:{fp}\"\n")
    };
    // The institute's configuration, renamed, trusting everyone else.
    let inst = fs::read_to_string(dir.join("institute/station.toml")).unwrap();
    let listen = |text: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix("listen = \""))
            .unwrap()
            .trim_end_matches('"')
            .to_string()
    };
    let inst_fp = tessera_net::identity::fingerprint_hex(
        &Identity::load(&dir.join("institute/identity"))
            .unwrap()
            .fingerprint(),
    );
    let hospital = inst
        .replace("name = \"institute\"", "name = \"hospital\"")
        .replace(&listen(&inst), &format!("127.0.0.1:{api}"))
        .replacen(
            "\n[[trusted]]",
            &format!(
                "{}\n[[trusted]]",
                trusted("institute", listen(&inst), &inst_fp)
            ),
            1,
        );
    // Its own computation port.
    let at = hospital.find("[compute]\nlisten = \"").unwrap() + "[compute]\n".len();
    let line_end = at + hospital[at..].find('\n').unwrap();
    let hospital = format!(
        "{}listen = \"127.0.0.1:{}\"{}",
        &hospital[..at],
        free_port(),
        &hospital[line_end..]
    );
    fs::write(dir.join("hospital/station.toml"), hospital).unwrap();
    for s in STATIONS {
        let p = dir.join(s).join("station.toml");
        let text = fs::read_to_string(&p).unwrap();
        let text = text.replacen(
            "\n[policy]",
            &format!(
                "{}\n[policy]",
                trusted("hospital", format!("127.0.0.1:{api}"), &fp)
            ),
            1,
        );
        fs::write(&p, text).unwrap();
    }
    // The study: the GP without a compute slot, the hospital computing.
    let study = fs::read_to_string(dir.join("researcher/study.toml")).unwrap();
    let start = study.find("[parties.gp]\n").unwrap();
    let end = start + study[start..].find("\n\n").unwrap();
    let gp_fp = study[start..end]
        .lines()
        .find(|l| l.starts_with("fingerprint"))
        .unwrap()
        .to_string();
    let study = format!(
        "{}[parties.gp]\n{gp_fp}\n\n[parties.hospital]\ncompute = 1\nfingerprint = \"sha256:{fp}\"{}",
        &study[..start],
        &study[end..]
    );
    fs::write(dir.join("researcher/study.toml"), &study).unwrap();

    let c = Cluster::start_these(&dir, &["registry", "gp", "institute", "hospital"]);
    let (code, text) = c.submit();
    assert_eq!(code, Some(0), "{text}");
    c.approve_at_gp();
    for s in ["registry", "institute", "hospital", "gp"] {
        c.wait_run(s, &["finished"], 60);
    }
    let o = c.researcher(
        &["results", ID],
        &["--identity", &c.me(), "--format", "json"],
    );
    assert!(o.status.success(), "{}", out(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    // The GP's audit log: it dealt its input to the three compute stations.
    let gp = c.audit("gp");
    assert!(gp.contains(&"run_started".to_string()) && gp.contains(&"run_finished".to_string()));
    let entries = c
        .client("gp", None)
        .request("GET", "/audit", &[("Authorization", &c.steward("gp"))], &[])
        .unwrap()
        .json();
    let started = entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "run_started")
        .unwrap()["details"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        started.contains("outside data party") && started.contains("hospital"),
        "{started}"
    );

    // The same study on one machine (where outside data parties are dealt locally).
    agrees_with_a_local_run(&dir, &study, "registry/registry.csv", "gp/gp.csv", &doc);
}

/// A station whose policy allows the recipient only by name does not take the study's
/// certificate for it (the study's author chose that certificate): the recipient needs a
/// token the station's steward issued.
#[test]
fn a_recipient_allowed_by_name_only_needs_a_token() {
    let dir = prepare("byname");
    let p = dir.join("registry/station.toml");
    let text = fs::read_to_string(&p).unwrap();
    let fp_rule = text
        .lines()
        .find(|l| l.starts_with("recipients = [\"sha256:"))
        .unwrap()
        .to_string();
    fs::write(&p, text.replace(&fp_rule, "recipients = [\"researcher\"]")).unwrap();
    let c = Cluster::start(&dir);
    let (code, text) = c.submit();
    assert_eq!(code, Some(0), "{text}");
    c.approve_at_gp();
    c.wait_run("registry", &["finished"], 60);
    let o = c.researcher(&["results", ID], &["--identity", &c.me()]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("recipients only"), "{}", out(&o));
    let t = Command::new(EXE)
        .args(["station", "token", ID, "researcher", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    let token = String::from_utf8_lossy(&t.stdout).trim().to_string();
    // The token for the registry; the certificate for the GP and the institute, whose
    // policies allow the recipient by fingerprint.
    let o = c.researcher(
        &["results", ID],
        &["--token", &token, "--identity", &c.me()],
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("km_by_statin"));
}

/// Every number of `doc` (the reconstructed results) that is distinctive enough to find in
/// a file: at least six significant digits, written as Rust and JSON write them.
fn result_numbers(doc: &Value, out: &mut Vec<String>) {
    match doc {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                let t = x.abs().to_string();
                let digits = t.chars().filter(|c| c.is_ascii_digit()).count();
                if x.fract() != 0.0 && digits >= 8 {
                    out.push(t);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| result_numbers(v, out)),
        Value::Object(o) => o.values().for_each(|v| result_numbers(v, out)),
        _ => {}
    }
}

/// No compute station holds a result: after a finished study, none of the reconstructed
/// values (coefficients, survival, test statistics) is in any station's database, log or
/// API answers; what a station serves a recipient is its shares only, and the recipient's
/// client insists on all three stations' shares to cross-check them (two colluding stations
/// could reconstruct: the threat model assumes no two collude).
#[test]
fn no_compute_station_sees_or_stores_a_result() {
    let dir = prepare("noresult");
    let mut c = Cluster::start(&dir);
    let (code, text) = c.submit();
    assert_eq!(code, Some(0), "{text}");
    c.approve_at_gp();
    for s in STATIONS {
        c.wait_run(s, &["finished"], 60);
    }
    let o = c.researcher(
        &["results", ID],
        &["--identity", &c.me(), "--format", "json", "--wait", "30"],
    );
    assert!(o.status.success(), "{}", out(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut numbers = Vec::new();
    for a in doc["analyses"].as_array().unwrap() {
        result_numbers(&a["result"], &mut numbers);
    }
    assert!(
        numbers.len() > 50,
        "too few values to look for: {numbers:?}"
    );
    let me = Identity::load(&dir.join("researcher").join("identity")).unwrap();
    for s in STATIONS {
        // What the station shows: to its steward, to the recipient (its shares), its log
        // and its database file.
        let auth = c.steward(s);
        let steward = c.client(s, None);
        let mut seen = String::new();
        for path in [
            format!("/studies/{ID}"),
            "/audit".to_string(),
            "/studies".to_string(),
        ] {
            seen += &steward
                .request("GET", &path, &[("Authorization", &auth)], &[])
                .unwrap()
                .text();
        }
        let mine = c
            .client(s, Some(&me))
            .request("GET", &format!("/studies/{ID}/results"), &[], &[])
            .unwrap();
        assert_eq!(mine.status, 200, "{s}: {}", mine.text());
        let body = mine.json();
        assert!(
            body["shares"]["analyses"][0]["shares"].is_string(),
            "{s}: {body}"
        );
        assert!(body["shares"]["analyses"][0].get("result").is_none(), "{s}");
        seen += &mine.text();
        seen += &fs::read_to_string(dir.join(s).join("stderr.log")).unwrap_or_default();
        seen += &String::from_utf8_lossy(&fs::read(dir.join(s).join("audit.sqlite")).unwrap());
        for x in &numbers {
            assert!(
                !seen.contains(x.as_str()),
                "station {s} shows the result value {x}"
            );
        }
    }
    // One station down: the client does not reconstruct from the other two (it needs all
    // three to cross-check them).
    c.kill("institute");
    let o = c.researcher(&["results", ID], &["--identity", &c.me()]);
    assert!(!o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("institute"), "{}", out(&o));
}

/// A compute station that alters the shares it stores is named when the recipient fetches
/// them, and nothing is shown.
#[test]
fn an_altered_share_is_detected_and_names_the_station() {
    let dir = prepare("altered");
    let c = Cluster::start(&dir);
    let (code, text) = c.submit();
    assert_eq!(code, Some(0), "{text}");
    c.approve_at_gp();
    for s in STATIONS {
        c.wait_run(s, &["finished"], 60);
    }
    let ok = c.researcher(&["results", ID], &["--identity", &c.me(), "--wait", "30"]);
    assert!(ok.status.success(), "{}", out(&ok));
    // The GP's operator changes one share of the first analysis in its database.
    let db = rusqlite::Connection::open(dir.join("gp").join("audit.sqlite")).unwrap();
    let doc: String = db
        .query_row(
            "SELECT shares FROM held_shares WHERE id = ?1 AND recipient = 'researcher'",
            [ID],
            |r| r.get(0),
        )
        .unwrap();
    let mut v: Value = serde_json::from_str(&doc).unwrap();
    let hex = v["analyses"][0]["shares"].as_str().unwrap().to_string();
    let last = hex.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &hex[..hex.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    v["analyses"][0]["shares"] = Value::String(flipped);
    db.execute(
        "UPDATE held_shares SET shares = ?1 WHERE id = ?2 AND recipient = 'researcher'",
        [v.to_string(), ID.to_string()],
    )
    .unwrap();
    let o = c.researcher(&["results", ID], &["--identity", &c.me()]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    assert!(text.contains("held by station gp"), "{text}");
    assert!(
        !text.contains("registry altered") && !text.contains("station institute"),
        "{text}"
    );
    assert!(!text.contains("coef"), "{text}");
    // The GP's own steward sees it too: the stored shares no longer match the digest the
    // audit chain recorded at the end of the run.
    let auth = c.steward("gp");
    let v = c
        .client("gp", None)
        .request("GET", "/audit/verify", &[("Authorization", &auth)], &[])
        .unwrap()
        .json();
    assert_eq!(v["intact"], false, "{v}");
    assert!(
        v["problems"].to_string().contains("altered after the run"),
        "{v}"
    );
    // The two other stations' logs are intact.
    c.audit("registry");
    c.audit("institute");
}

/// SHA-256 of `text` in hex (a study's digest, as the stations compute it).
fn sha256_hex(text: &str) -> String {
    tessera_study::format::text_digest(text)
}

/// The attack of issue 12: one study id with two texts. The registry (whose policy allows
/// `eve`) gets a text whose recipient is eve; the GP network and the institute get the text
/// whose recipient is the researcher, at the same moment. Every station's policy approves
/// its text by rule, and the data files are unreadable, so any data check would show as
/// "input invalid". The study must stop at every station, before any data is read, with a
/// reason naming the stations that hold each text; nothing runs, nothing is revealed.
#[test]
fn one_id_with_two_texts_stops_everywhere_before_any_data_is_read() {
    two_texts(true);
}

/// The same attack while the GP's steward has not decided yet: the study stops at the GP
/// too (pending there), and can no longer be approved.
#[test]
fn one_id_with_two_texts_stops_a_station_still_waiting_for_its_steward() {
    let c = two_texts(false);
    assert_eq!(c.status("gp")["state"], "pending");
    let auth = c.steward("gp");
    let a = c
        .client("gp", None)
        .request(
            "POST",
            &format!("/studies/{ID}/approve"),
            &[("Authorization", &auth)],
            b"",
        )
        .unwrap();
    assert_eq!(a.status, 409, "{}", a.text());
    assert!(!c.audit("gp").iter().any(|k| k == "approved"));
}

/// The two-texts attack (see above), the GP approving by rule (`gp_auto`) or waiting for
/// its steward; returns the stations, every one stopped.
fn two_texts(gp_auto: bool) -> Cluster {
    let dir = prepare(if gp_auto {
        "two-texts"
    } else {
        "two-texts-pending"
    });
    let eve = Identity::generate("eve").unwrap();
    let fp_eve = format!(
        "sha256:{}",
        tessera_net::identity::fingerprint_hex(&eve.fingerprint())
    );
    let study = fs::read_to_string(dir.join("researcher/study.toml")).unwrap();
    let fp_researcher = study
        .split("[recipients.researcher]\nfingerprint = \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    // The registry's policy (and its automatic approval) allows eve too; the GP approves
    // the researcher's study by rule (in the reproduction, its steward approved it).
    edit(
        &dir,
        "registry/station.toml",
        &format!("recipients = [\"{fp_researcher}\"]"),
        &format!("recipients = [\"{fp_researcher}\", \"{fp_eve}\"]"),
    );
    if gp_auto {
        let gp = fs::read_to_string(dir.join("gp/station.toml")).unwrap();
        fs::write(
            dir.join("gp/station.toml"),
            format!(
                "{gp}\n[[policy.auto_approve]]\nname = \"approved researcher\"\n\
                 recipients = [\"{fp_researcher}\"]\n"
            ),
        )
        .unwrap();
    }
    // Any read of the data now fails (and would be reported as "input invalid").
    fs::write(dir.join("registry/registry.csv"), "not,the\ndata\n").unwrap();
    fs::write(dir.join("gp/gp.csv"), "not,the\ndata\n").unwrap();
    let for_eve = study.replace(
        &format!("[recipients.researcher]\nfingerprint = \"{fp_researcher}\""),
        &format!("[recipients.eve]\nfingerprint = \"{fp_eve}\""),
    );
    assert_ne!(for_eve, study);
    let c = Cluster::start(&dir);

    // The three submissions at the same moment.
    let texts = [for_eve.clone(), study.clone(), study.clone()];
    let me = Identity::load(Path::new(&c.me())).unwrap();
    let codes: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = STATIONS
            .iter()
            .zip(&texts)
            .map(|(s, text)| {
                let client = c.client(s, Some(&me));
                scope.spawn(move || {
                    client
                        .request(
                            "POST",
                            "/studies",
                            &[("Content-Type", "text/plain; charset=utf-8")],
                            text.as_bytes(),
                        )
                        .unwrap()
                        .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for code in &codes {
        assert!(*code == 201 || *code == 409, "{codes:?}");
    }
    let (d_eve, d_res) = (sha256_hex(&for_eve), sha256_hex(&study));
    let mut reasons = Vec::new();
    for s in STATIONS {
        let st = c.wait_run(s, &["stopped", "finished", "aborted"], 30);
        assert_eq!(st["run"]["state"], "stopped", "{s}: {st}");
        let why = st["run"]["reason"].as_str().unwrap().to_string();
        assert!(
            why.contains("the study's text differs between stations")
                && why.contains(&d_eve[..12])
                && why.contains(&d_res[..12])
                && STATIONS.iter().all(|n| why.contains(n)),
            "{s}: {why}"
        );
        reasons.push(why);
    }
    if codes == [201, 201, 201] {
        // Each station got its text from the submission: the grouping is exact.
        let want = format!(
            "the study's text differs between stations: registry has sha256 {}…, gp and \
             institute have sha256 {}…",
            &d_eve[..12],
            &d_res[..12]
        );
        for why in &reasons {
            assert!(why.ends_with(&want), "{why}");
        }
    }
    // The researcher sees the reason at each station (one of the study's recipients by
    // certificate, wherever the study arrived from).
    for (i, s) in STATIONS.iter().enumerate() {
        let o = Command::new(EXE)
            .args([
                "study",
                "status",
                ID,
                "--at",
                &c.addrs[i],
                "--pin",
                &c.pins[i],
                "--identity",
                &c.me(),
            ])
            .output()
            .unwrap();
        let text = out(&o);
        assert!(
            text.contains("stopped") && text.contains("the study's text differs"),
            "{s}: {text}"
        );
    }
    // Nothing ran, nothing was read, nothing revealed.
    for s in STATIONS {
        let kinds = c.audit(s);
        assert!(kinds.contains(&"run_aborted".to_string()), "{s}: {kinds:?}");
        assert!(
            !kinds
                .iter()
                .any(|k| k == "run_started" || k == "revealed" || k == "refused"),
            "{s}: {kinds:?}"
        );
        let st = c.status(s);
        assert!(!st.to_string().contains("input invalid"), "{s}: {st}");
        // Every entry about the study names the text it was about.
        let log = c
            .client(s, None)
            .request("GET", "/audit", &[("Authorization", &c.steward(s))], &[])
            .unwrap()
            .json();
        for e in log["entries"].as_array().unwrap() {
            if e["study"] == ID {
                let d = e["details"].as_str().unwrap();
                assert!(d.contains(&d_eve) || d.contains(&d_res), "{s}: {e}");
            }
        }
    }
    // The researcher asks the GP (which holds the researcher's text): stopped, no results.
    let i = c.index("gp");
    let o = Command::new(EXE)
        .args([
            "study",
            "results",
            ID,
            "--at",
            &c.addrs[i],
            "--pin",
            &c.pins[i],
        ])
        .args(["--identity", &c.me()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(out(&o).contains("text differs"), "{}", out(&o));
    c
}

/// `tessera station audit verify` at station `name` of `dir` (its exit code and output).
fn verify_at(dir: &Path, name: &str, extra: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(EXE)
        .args(["station", "audit", "verify"])
        .args(extra)
        .arg("--config")
        .arg(dir.join(name).join("station.toml"))
        .output()
        .unwrap();
    (o.status.code(), out(&o))
}

/// The issue's reproduction on a registry's log: drop the triggers, delete the `revealed`
/// entries, roll the head back in `audit_meta`, recreate the triggers. The log alone still
/// verifies ("intact"); the heads the GP and the institute kept of the registry's log (asked
/// every second here) name the first entry that differs.
#[test]
fn a_log_cut_back_consistently_is_caught_by_the_heads_the_peers_kept() {
    let dir = prepare("anchors");
    let mut c = Cluster::start_with(&dir, &STATIONS, &["--anchor-every", "1"]);
    let (code, text) = c.submit();
    assert_eq!(code, Some(0), "{text}");
    c.approve_at_gp();
    c.wait_run("registry", &["finished"], 60);
    let o = c.researcher(
        &["results", ID],
        &["--identity", &c.me(), "--format", "json", "--wait", "30"],
    );
    assert!(o.status.success(), "{}", out(&o));
    let kinds = c.audit("registry");
    let first_revealed = kinds.iter().position(|k| k == "revealed").unwrap() as u64 + 1;
    let count = kinds.len() as u64;
    assert!(
        kinds[first_revealed as usize - 1..]
            .iter()
            .all(|k| k == "revealed"),
        "{kinds:?}"
    );
    // Wait until both peers kept the registry's head past the revealed entries.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, text) = verify_at(&dir, "registry", &[]);
        assert_eq!(code, Some(0), "{text}");
        let reached = |peer: &str| {
            text.contains(&format!("{peer}: keeps "))
                && text.lines().any(|l| {
                    l.trim_start().starts_with(&format!("{peer}: keeps "))
                        && l.ends_with(&format!("up to entry {count}"))
                })
        };
        if reached("gp") && reached("institute") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the peers never kept entry {count}: {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    c.kill("registry");
    let db = rusqlite::Connection::open(dir.join("registry").join("audit.sqlite")).unwrap();
    let prev: String = db
        .query_row(
            "SELECT prev_hash FROM audit_entries WHERE seq = ?1",
            [first_revealed as i64],
            |r| r.get(0),
        )
        .unwrap();
    db.execute_batch(&format!(
        "DROP TRIGGER audit_entries_no_update; DROP TRIGGER audit_entries_no_delete;
         DELETE FROM audit_entries WHERE kind = 'revealed';
         UPDATE audit_meta SET value = '{}' WHERE key = 'count';
         UPDATE audit_meta SET value = '{prev}' WHERE key = 'head';
         CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
         BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
         CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
         BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
        first_revealed - 1
    ))
    .unwrap();
    drop(db);
    // The log alone: intact (what the issue reproduced).
    let (code, text) = verify_at(&dir, "registry", &["--offline"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("intact"), "{text}");
    // Against the peers' heads: tampered, naming where.
    let (code, text) = verify_at(&dir, "registry", &[]);
    assert_eq!(code, Some(4), "{text}");
    assert!(text.contains("TAMPERED"), "{text}");
    assert!(
        text.contains(&format!("the log ends at entry {}", first_revealed - 1)),
        "{text}"
    );
    // Exactly, or the range between the last head that matches and the first that does not.
    let at = text.find("the first entry that differs is ").unwrap();
    let named: Vec<u64> = text[at..]
        .split(|ch: char| !ch.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .take(2)
        .map(|w| w.parse().unwrap())
        .collect();
    let (lo, hi) = if text[at..].starts_with("the first entry that differs is entry") {
        (named[0], named[0])
    } else {
        (named[0], named[1])
    };
    assert!(lo <= first_revealed && first_revealed <= hi, "{text}");
}

/// `tessera study check` against the demo's running stations: the demo's study passes; a
/// study with a level spelled otherwise than the GP network declares, a disclosure floor
/// below the stations', a column no source declares and an analysis kind no policy allows
/// and a Kaplan–Meier analysis without a grid gets every reason at once, each naming the
/// station and the rule, and nothing reaches a station. `tessera study new` writes a skeleton from the same catalogues that `check`
/// accepts once its placeholders are filled in and its example analysis is kept.
#[test]
fn study_check_reports_what_each_station_would_refuse_before_submission() {
    let dir = prepare("check");
    let c = Cluster::start(&dir);
    let me = c.me();
    let o = c.researcher(&["check", &c.study()], &["--identity", &me]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("study tessera-demo: nothing would be refused by registry, gp, institute"),
        "{text}"
    );

    let study = fs::read_to_string(c.study()).unwrap();
    let bad = study
        .replace(
            r#"statin = { type = "categorical", levels = ["0", "1"] }"#,
            r#"statin = { type = "categorical", levels = ["0.0", "1"] }"#,
        )
        .replace("min_cell = 10", "min_cell = 5")
        .replace("times = [365, 730, 1095, 1460]\n", "")
        .replace(
            "diabetes = \"binary\"\n",
            "diabetes = \"binary\"\nalcohol = \"numeric\"\n",
        )
        + "\n[[analysis]]\nname = \"ages\"\nkind = \"describe\"\ncolumns = [\"registry.age\"]\n";
    let p = dir.join("bad.toml");
    fs::write(&p, &bad).unwrap();
    let o = c.researcher(&["check", p.to_str().unwrap()], &["--identity", &me]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(3), "{text}");
    for expected in [
        "refused: gp: levels: column `statin` of data.gp lists level \"0.0\", which source \
         `records` does not declare (declared: \"0\", \"1\"); did you mean \"0\"?",
        "refused: gp: levels: column `statin` of data.gp does not list level \"0\"",
        "refused: registry: min_cell: the study's disclosure.min_cell = 5 is below this \
         station's minimum 10",
        "refused: gp: min_cell: the study's disclosure.min_cell = 5 is below this station's \
         minimum 10",
        "refused: institute: min_cell:",
        "refused: gp: unknown_column: column `alcohol` of data.gp is not declared by source \
         `records`",
        "refused: registry: analyses: analysis `ages` is a describe, which this station does \
         not allow",
        "refused: gp: kaplan_meier: analysis `km_by_statin`: `times` must name at least one \
         time",
    ] {
        assert!(text.contains(expected), "no {expected:?} in\n{text}");
    }
    // The registry's own data and the others' columns were not refused.
    assert!(!text.contains("registry: unknown_column"), "{text}");
    // Nothing was submitted: the registry holds no study.
    let auth = c.steward("registry");
    let list = c
        .client("registry", None)
        .request("GET", "/studies", &[("Authorization", &auth)], &[])
        .unwrap()
        .json();
    assert_eq!(list["studies"], serde_json::json!([]), "{list}");

    // A stranger is told to present a listed certificate.
    let o = c.researcher(&["check", &c.study()], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("[[researchers]]"), "{}", out(&o));

    // A skeleton from the catalogues: parties with their fingerprints, the published
    // columns with their levels, the linkage, the floors, the researcher as recipient.
    let skeleton = dir.join("new.toml");
    let o = c.researcher(
        &["new"],
        &["--identity", &me, "--out", skeleton.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let text = fs::read_to_string(&skeleton).unwrap();
    for expected in [
        "[parties.registry]\ncompute = 0\nfingerprint = \"sha256:",
        "[parties.institute]\ncompute = 2\n",
        "[data.gp]\nfile = \"records\"\nkey = [\"patient_id\"]",
        "statin = { type = \"categorical\", levels = [\"0\", \"1\"] }",
        "stage = { type = \"categorical\", levels = [\"1\", \"2\", \"3\", \"4\"] }",
        "key = [{ name = \"patient_id\", normalise = [\"trim\", \"casefold\"] }]",
        "min_cell = 10",
        "min_rows = 100",
        "# [[analysis]]",
    ] {
        assert!(text.contains(expected), "no {expected:?} in\n{text}");
    }
    // As written it is not a study yet (its id is a placeholder, it has no analysis) ...
    let o = c.researcher(&["check", skeleton.to_str().unwrap()], &["--identity", &me]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    // ... and with them, nothing would be refused.
    let mut filled = String::new();
    let mut example = false;
    for line in text.lines() {
        example |= line.starts_with("# An example analysis");
        let line = match line.strip_prefix("# ") {
            Some(rest) if example && !line.starts_with("# An example") => rest,
            _ => line,
        };
        filled.push_str(&line.replace("CHANGE-ME", "from-skeleton"));
        filled.push('\n');
    }
    fs::write(&skeleton, &filled).unwrap();
    let o = c.researcher(&["check", skeleton.to_str().unwrap()], &["--identity", &me]);
    assert_eq!(o.status.code(), Some(0), "{}\n{filled}", out(&o));
}
