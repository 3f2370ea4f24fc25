//! `tessera run` as a user runs it: exit codes, messages on stderr, one JSON document on
//! stdout, result files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXE: &str = env!("CARGO_BIN_EXE_tessera");

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/survival/study.toml")
}

/// A fresh, empty folder under the system's temporary folder.
fn scratch(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir =
        std::env::temp_dir().join(format!("tessera-run-{tag}-{}-{nanos}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str], study: &Path) -> Output {
    Command::new(EXE)
        .arg("run")
        .arg(study)
        .args(args)
        .output()
        .expect("run tessera")
}

/// The exit code a completed run must have: 0 when every analysis gave a result, 1 when
/// one did not (while the analyses are being built they answer "not available yet").
fn expected_code(doc: &serde_json::Value) -> i32 {
    let failed = doc["analyses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["result"].is_null());
    i32::from(failed)
}

#[test]
fn an_invalid_study_exits_2_naming_file_line_and_field() {
    let dir = scratch("invalid");
    let fixtures = format!("{}/../../fixtures", env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(example())
        .unwrap()
        .replace("../../fixtures", &fixtures)
        .replace("\"gp.bmi\",", "\"gp.weight\",");
    let study = dir.join("study.toml");
    fs::write(&study, &text).unwrap();
    let out = run(&[], &study);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let line = text[..text.find("\"gp.weight\"").unwrap()]
        .matches('\n')
        .count()
        + 1;
    assert!(
        err.contains(&format!("study.toml:{line}:")),
        "line {line} expected in: {err}"
    );
    assert!(
        err.contains("field covariates") && err.contains("\"weight\""),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

/// `--latency-ms` / `--bandwidth-mbit` (a simulated wide-area network between the compute
/// parties) refuse what is not a delay or a bandwidth before anything runs, with exit 2.
#[test]
fn a_simulated_network_needs_a_real_latency_and_bandwidth() {
    for (args, says) in [
        (&["--tcp", "--latency-ms=-3"][..], "--latency-ms must be"),
        (&["--latency-ms", "NaN"][..], "--latency-ms must be"),
        (&["--bandwidth-mbit", "0"][..], "--bandwidth-mbit must be"),
    ] {
        let out = run(args, &example());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn bad_data_exits_2_without_echoing_the_value() {
    let dir = scratch("data");
    fs::write(dir.join("a.csv"), "id,v\n1,2\n2,secret-value\n").unwrap();
    let study = dir.join("study.toml");
    fs::write(
        &study,
        "[study]\nid = \"d\"\n[parties.a]\ncompute = 0\n[parties.b]\ncompute = 1\n\
         [parties.c]\ncompute = 2\n[data.a]\nfile = \"a.csv\"\n[data.a.columns]\nv = \"numeric\"\n\
         [recipients.r]\n[[analysis]]\nname = \"x\"\nkind = \"describe\"\ncolumns = [\"a.v\"]\n",
    )
    .unwrap();
    let out = run(&["--json"], &study);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("a.csv:3: column \"v\": not a number"), "{err}");
    assert!(!err.contains("secret"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn json_is_one_document_and_out_writes_the_files() {
    let dir = scratch("json");
    let res = dir.join("results");
    let out = run(&["--json", "--out", res.to_str().unwrap()], &example());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(expected_code(&doc)), "{err}");
    assert_eq!(doc["study"]["id"], "synthetic-survival");
    assert_eq!(doc["linkage"]["intersection"], 1700);
    let names: Vec<&str> = doc["analyses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "km_by_stage",
            "logrank_by_stage",
            "cox",
            "table1_by_stage",
            "diabetes",
            "bmi",
            "correlations"
        ]
    );
    for a in doc["analyses"].as_array().unwrap() {
        assert!(a["kind"].is_string() && a["recipients"].is_array());
        if a["result"].is_null() {
            let e = a["error"].as_str().unwrap();
            assert!(err.contains(e), "{err}");
        }
    }
    let written: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(res.join("results.json")).unwrap()).unwrap();
    assert_eq!(written["linkage"], doc["linkage"]);
    let txt = fs::read_to_string(res.join("results.txt")).unwrap();
    assert!(txt.contains("1700 linked rows"), "{txt}");
    let html = fs::read_to_string(res.join("report.html")).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("<svg"),
        "{html}"
    );
    assert!(html.contains("km_by_stage") && html.contains("registry.age"));
    assert!(
        html.contains("<th>variable</th>") && html.contains("R² "),
        "regression tables"
    );

    // Existing result files are not overwritten without --force.
    let again = run(&["--out", res.to_str().unwrap()], &example());
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let forced = run(
        &["--tcp", "--force", "--out", res.to_str().unwrap()],
        &example(),
    );
    assert_eq!(forced.status.code(), Some(expected_code(&doc)));
    let text = String::from_utf8(forced.stdout).unwrap();
    assert!(text.starts_with("study: synthetic-survival"), "{text}");
    assert!(
        text.contains("registry 1800 rows, gp 1900 rows -> 1700 linked rows"),
        "{text}"
    );
}

/// Three station identities (made with `tessera init`) and, in each station's folder, a
/// copy of the same study file (listing their loopback addresses and fingerprints) beside
/// that station's own data only.
struct Stations {
    dir: PathBuf,
    copies: Vec<PathBuf>,
}

const STATIONS: [&str; 3] = ["registry", "gp", "institute"];

fn stations(tag: &str) -> Stations {
    let dir = scratch(tag);
    let names = STATIONS;
    let mut fps = Vec::new();
    for n in names {
        let out = Command::new(EXE)
            .args(["init", "--name", n, "--out"])
            .arg(dir.join(n))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let fp = text
            .lines()
            .map(str::trim)
            .filter_map(|l| l.strip_prefix("sha256:"))
            .find(|l| l.len() == 64 && l.chars().all(|c| c.is_ascii_hexdigit()))
            .expect("fingerprint line")
            .to_string();
        fps.push(fp);
    }
    let ports: Vec<u16> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect::<Vec<_>>()
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    // Every station runs the same text (its digest is part of the session): datasets are
    // named relative to the study file, and each station's folder holds its copy of the
    // study and its own file only; the other stations' files are not there.
    let fixtures = format!("{}/../../fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut text: String = fs::read_to_string(example())
        .unwrap()
        .replace("../../fixtures/synthetic/", "");
    for (i, n) in names.iter().enumerate() {
        // After the party's header line: its address and certificate.
        let header = format!("[parties.{n}]");
        let at = text.find(&header).expect("party header");
        let eol = at + text[at..].find('\n').unwrap() + 1;
        text.insert_str(
            eol,
            &format!(
                "address = \"127.0.0.1:{}\"\nfingerprint = \"sha256:{}\"\n",
                ports[i], fps[i]
            ),
        );
    }
    let copy = |n: &str| -> PathBuf {
        let own = format!("{fixtures}/synthetic/{n}.csv");
        if Path::new(&own).exists() {
            fs::copy(&own, dir.join(n).join(format!("{n}.csv"))).unwrap();
        }
        let p = dir.join(n).join("study.toml");
        fs::write(&p, &text).unwrap();
        p
    };
    let copies = names.iter().map(|n| copy(n)).collect();
    Stations { dir, copies }
}

fn station(st: &Stations, i: usize, extra: &[&str]) -> std::process::Child {
    Command::new(EXE)
        .arg("run")
        .arg(&st.copies[i])
        .args(["--as", STATIONS[i], "--identity"])
        .arg(st.dir.join(STATIONS[i]))
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Three processes, each only one compute station (`--as`), over TLS with identities made
/// for the test and pinned in the study: the same results as the run on one machine, and
/// each station reports only its own data.
#[test]
fn a_study_runs_across_three_stations_over_tls() {
    let st = stations("stations");
    let (dir, names) = (&st.dir, STATIONS);
    let children: Vec<_> = (0..3)
        .map(|i| station(&st, i, &["--json", "--timeout", "60"]))
        .collect();
    let docs: Vec<serde_json::Value> = children
        .into_iter()
        .zip(names)
        .map(|(c, n)| {
            let out = c.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{n}: {err}");
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .collect();
    let local: serde_json::Value =
        serde_json::from_slice(&run(&["--json"], &example()).stdout).unwrap();
    let mut files = Vec::new();
    for (doc, n) in docs.iter().zip(names) {
        assert_eq!(doc["shares"]["linkage"], local["linkage"], "{n}");
        // Only its own dataset: the helper has none.
        let own: Vec<&str> = doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["dataset"]["party"].as_str().unwrap())
            .collect();
        assert_eq!(own, if n == "institute" { vec![] } else { vec![n] });
        assert_eq!(doc["cost"].as_array().unwrap().len(), 1);
        // A station ends with shares it cannot open: no result in what it printed.
        for a in doc["shares"]["analyses"].as_array().unwrap() {
            assert!(a.get("result").is_none(), "{n}: {a}");
            assert!(a["shares"].is_string(), "{n}: {a}");
        }
        let f = dir.join(format!("shares-{n}.json"));
        fs::write(&f, doc["shares"].to_string()).unwrap();
        files.push(f);
    }
    // The recipient reconstructs from the three stations' shares: the same results as on
    // one machine (fresh randomness: fixed-point noise).
    let opened = Command::new(EXE)
        .args(["study", "open"])
        .args(&files)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        opened.status.success(),
        "{}",
        String::from_utf8_lossy(&opened.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&opened.stdout).unwrap();
    let lr = |d: &serde_json::Value| d["analyses"][1]["result"]["chi_square"].as_f64().unwrap();
    assert!((lr(&doc) - lr(&local)).abs() < 1e-5 * lr(&local));
    let coefs = |d: &serde_json::Value| -> Vec<f64> {
        d["analyses"][2]["result"]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["coef"].as_f64().unwrap())
            .collect()
    };
    for (a, b) in coefs(&doc).iter().zip(coefs(&local)) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    // Issue 15: an analysis without a result (the same at the three stations, as a
    // disclosure rule would leave it) made `study open` exit 0; now 4, naming it, with the
    // other results printed all the same.
    let mut failing = Vec::new();
    for (f, n) in files.iter().zip(names) {
        let mut d: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(f).unwrap()).unwrap();
        let a = &mut d["analyses"][0];
        a.as_object_mut().unwrap().remove("shares");
        a.as_object_mut().unwrap().remove("public");
        a["error"] = serde_json::json!("min_rows: 40 rows, fewer than 100");
        let g = dir.join(format!("failing-{n}.json"));
        fs::write(&g, d.to_string()).unwrap();
        failing.push(g);
    }
    let opened = Command::new(EXE)
        .args(["study", "open"])
        .args(&failing)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&opened.stderr);
    assert_eq!(opened.status.code(), Some(4), "{err}");
    assert!(
        err.contains("gave no result: min_rows: 40 rows, fewer than 100"),
        "{err}"
    );
    assert!(
        String::from_utf8_lossy(&opened.stdout).contains("logrank"),
        "the others are printed"
    );
    // The reconstruction takes three stations' shares (to cross-check them; two colluding
    // stations could reconstruct), and the same station twice is no third.
    for pair in [
        vec![&files[0], &files[1]],
        vec![&files[0], &files[1], &files[1]],
    ] {
        let two = Command::new(EXE)
            .args(["study", "open"])
            .args(pair)
            .output()
            .unwrap();
        assert!(!two.status.success());
        let err = String::from_utf8_lossy(&two.stderr);
        assert!(
            err.contains("all three compute stations")
                || err.contains("station gp sent its parts twice"),
            "{err}"
        );
        assert!(
            two.stdout.is_empty(),
            "printed something: {}",
            String::from_utf8_lossy(&two.stdout)
        );
    }
    // A station with another station's identity is refused before connecting.
    let wrong = Command::new(EXE)
        .arg("run")
        .arg(&st.copies[0])
        .args(["--as", "registry", "--identity"])
        .arg(dir.join("gp"))
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("not registry's"));
}

/// A station that never shows up: the two others stop with an error naming it (no result
/// is printed), within the timeout.
#[test]
fn a_missing_station_stops_the_others_with_an_error() {
    let st = stations("missing");
    let started = std::time::Instant::now();
    let children: Vec<_> = (0..2)
        .map(|i| station(&st, i, &["--json", "--timeout", "3"]))
        .collect();
    for (c, n) in children.into_iter().zip(STATIONS) {
        let out = c.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{n}: {err}");
        assert!(out.stdout.is_empty(), "{n} printed results");
        // Named by its name, never by its compute slot.
        assert!(err.contains("station institute"), "{n}: {err}");
        assert!(
            !err.contains("party 2") && !err.contains("compute party"),
            "{n}: {err}"
        );
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}
