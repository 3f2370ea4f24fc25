//! `tessera station …` as a steward runs it: real processes of the built binary in a fresh
//! folder, station identities made with `tessera init`, a policy that approves
//! Kaplan–Meier studies automatically and sends anything else to a person, and the audit
//! file tampered with directly (rusqlite) to check that `audit verify` notices.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXE: &str = env!("CARGO_BIN_EXE_tessera");

/// A fresh folder under the system's temporary folder.
fn scratch(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "tessera-station-cli-{tag}-{}-{nanos}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// `tessera ARGS` in `dir`.
fn tessera(dir: &Path, args: &[&str]) -> Output {
    Command::new(EXE)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run tessera")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs `tessera ARGS` in `dir`, checks the exit code, returns stdout and stderr.
fn expect(dir: &Path, args: &[&str], code: i32) -> (String, String) {
    let o = tessera(dir, args);
    let (out, err) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "tessera {args:?}\nstdout:\n{out}\nstderr:\n{err}"
    );
    (out, err)
}

/// Creates an identity with `tessera init` in `dir/name` and returns its fingerprint.
fn init(dir: &Path, name: &str) -> String {
    let (out, _) = expect(dir, &["init", "--name", name, "--out", name], 0);
    out.lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("sha256:"))
        .find(|l| l.len() == 64 && l.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no fingerprint in {out}"))
        .to_string()
}

/// A station folder: the registry's identity, the identities of the two stations it
/// trusts, its data and station.toml. Studies go in `studies/` (not beside the data: the
/// station resolves a study's dataset against its own folder).
fn station(tag: &str) -> PathBuf {
    let dir = scratch(tag);
    init(&dir, "registry");
    let gp = init(&dir, "gp");
    let institute = init(&dir, "institute");
    fs::write(
        dir.join("registry.csv"),
        "patient_id,time,event,stage,postcode\n1,3.5,1,2,AB1\n2,4.0,0,1,CD2\n",
    )
    .unwrap();
    fs::write(
        dir.join("station.toml"),
        format!(
            r#"[station]
name = "registry"
identity = {{ key = "registry/station.key", certificate = "registry/station.crt" }}
listen = "127.0.0.1:7000"

[compute]
listen = "127.0.0.1:7100"
address = "127.0.0.1"

[[trusted]]
name = "gp"
address = "127.0.0.1:7001"
fingerprint = "sha256:{gp}"

[[trusted]]
name = "institute"
address = "127.0.0.1:7002"
fingerprint = "sha256:{institute}"

[sources.cases]
kind = "csv"
file = "registry.csv"
columns = {{ patient_id = "key", time = "numeric", event = "binary", stage = "categorical", postcode = "categorical" }}

[policy]
analyses = ["kaplan_meier", "logrank", "cox"]
disallowed_columns = ["postcode"]
recipients = ["researcher"]
min_rows = 50

[[policy.auto_approve]]
name = "km-only"
recipients = ["researcher"]
kinds = ["kaplan_meier"]
"#
        ),
    )
    .unwrap();
    fs::create_dir_all(dir.join("studies")).unwrap();
    dir
}

/// A study `id` of the registry with the GP and the institute computing; `columns` are
/// extra lines of `[data.registry.columns]`, `analyses` extra `[[analysis]]` entries after
/// a Kaplan–Meier curve by stage.
fn study(dir: &Path, id: &str, columns: &str, analyses: &str) -> String {
    let rel = format!("studies/{id}.toml");
    fs::write(
        dir.join(&rel),
        format!(
            r#"[study]
id = "{id}"
title = "Survival by stage"

[parties.registry]
compute = 0
[parties.gp]
compute = 1
[parties.institute]
compute = 2

[data.registry]
file = "registry.csv"
[data.registry.columns]
time = "numeric"
event = "binary"
stage = {{ type = "categorical", levels = ["1", "2", "3", "4"] }}
{columns}

[disclosure]
min_rows = 50

[recipients.researcher]

[[analysis]]
name = "km"
kind = "kaplan_meier"
time = "registry.time"
event = "registry.event"
group = "registry.stage"
{analyses}
"#
        ),
    )
    .unwrap();
    rel
}

const COX: &str = r#"
[[analysis]]
name = "cox"
kind = "cox"
time = "registry.time"
event = "registry.event"
covariates = ["registry.stage"]
"#;

const POSTCODE: &str = r#"postcode = { type = "categorical", levels = ["AB1", "CD2"] }"#;

#[test]
fn a_study_a_rule_covers_is_approved() {
    let dir = station("auto");
    let km = study(&dir, "km-2026", "", "");
    let (out, _) = expect(&dir, &["station", "receive", &km], 0);
    assert!(out.contains("study km-2026 received"), "{out}");
    assert!(out.contains("approved by rule \"km-only\""), "{out}");
    assert!(dir.join("audit.sqlite").is_file());

    let (out, _) = expect(&dir, &["station", "status", "km-2026"], 0);
    assert!(out.contains("study km-2026: approved"), "{out}");
    assert!(out.contains("by policy"), "{out}");
    let (out, _) = expect(&dir, &["station", "pending"], 0);
    assert!(out.contains("no study is waiting"), "{out}");

    // Received once only: the message says how it stands and what to do.
    let (_, err) = expect(&dir, &["station", "receive", &km], 2);
    assert!(
        err.contains("km-2026") && err.contains("already received"),
        "{err}"
    );
    assert!(err.contains("(approved: rule km-only)"), "{err}");
    assert!(
        err.contains("a changed text submitted again becomes its next revision"),
        "{err}"
    );

    // The log: received, then approved by the policy.
    let (out, _) = expect(&dir, &["station", "audit", "show", "--study", "km-2026"], 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].contains("study_received"), "{out}");
    assert!(
        lines[1].contains("approved") && lines[1].contains("km-only"),
        "{out}"
    );
}

#[test]
fn a_study_no_rule_covers_waits_for_a_person_who_approves_it() {
    let dir = station("person");
    let cox = study(&dir, "cox-2026", "", COX);
    let (out, _) = expect(&dir, &["station", "receive", &cox], 0);
    assert!(out.contains("waiting for a person"), "{out}");
    // Why: the rule and what did not fit.
    assert!(out.contains("km-only") && out.contains("cox"), "{out}");

    let (out, _) = expect(&dir, &["station", "pending"], 0);
    assert!(out.contains("1 study waiting"), "{out}");
    assert!(out.contains("cox-2026"), "{out}");
    let (_, err) = expect(&dir, &["station", "receive", &cox], 2);
    assert!(
        err.contains("(pending: waiting for the steward's decision)"),
        "{err}"
    );
    let (out, _) = expect(&dir, &["station", "status"], 0);
    assert!(out.contains("cox-2026  pending"), "{out}");

    let (out, _) = expect(
        &dir,
        &["station", "approve", "cox-2026", "--by", "Dr Steward"],
        0,
    );
    assert!(out.contains("cox-2026 approved by Dr Steward"), "{out}");
    let (out, _) = expect(&dir, &["station", "status", "cox-2026"], 0);
    assert!(out.contains("study cox-2026: approved"), "{out}");
    assert!(out.contains("by Dr Steward"), "{out}");
    let (out, _) = expect(&dir, &["station", "pending"], 0);
    assert!(out.contains("no study is waiting"), "{out}");

    // Approving twice is a wrong state, and says so.
    let (_, err) = expect(&dir, &["station", "approve", "cox-2026"], 2);
    assert!(
        err.contains("cox-2026") && err.contains("is approved"),
        "{err}"
    );

    let (out, _) = expect(&dir, &["station", "audit", "show"], 0);
    let approved = out
        .lines()
        .find(|l| l.contains(" approved "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(approved.contains("Dr Steward"), "{out}");
}

/// Issue 13: before approving, the steward sees what the study will cost the compute
/// stations (seconds, bytes, rounds, memory) at a few linked-table sizes; a 400-time grid by
/// a 4-level group shows as the largest part, sending gigabytes at 100,000 rows.
#[test]
fn the_steward_sees_the_cost_before_approving() {
    let dir = station("cost");
    let times: Vec<String> = (1..=400).map(|i| i.to_string()).collect();
    let big = study(
        &dir,
        "grid-2026",
        "",
        &format!("times = [{}]\n{COX}", times.join(", ")),
    );
    let (out, _) = expect(&dir, &["station", "receive", &big], 0);
    assert!(out.contains("waiting for a person"), "{out}");
    for args in [
        &["station", "pending"][..],
        &["station", "status", "grid-2026"],
    ] {
        let (out, _) = expect(&dir, args, 0);
        assert!(
            out.contains("estimated cost per compute station") && out.contains("peak memory"),
            "{out}"
        );
        let at = |rows: &str| {
            out.lines()
                .find(|l| l.trim_start().starts_with(rows))
                .unwrap_or_else(|| panic!("no line for {rows}: {out}"))
                .to_string()
        };
        assert!(at("10,000").contains(" s "), "{out}");
        // 1,600 cells of 48 bytes per row sent at 100,000 rows: several GB.
        assert!(at("100,000").contains(" GB "), "{out}");
        assert!(out.contains("the largest part is analysis \"km\""), "{out}");
    }
    // The same study without the grid costs less: the figures follow the text.
    let small = study(&dir, "small-2026", "", COX);
    let (out, _) = expect(&dir, &["station", "receive", &small], 0);
    assert!(
        out.contains("the largest part is analysis \"cox\""),
        "{out}"
    );
}

#[test]
fn a_person_refuses_with_a_reason() {
    let dir = station("refuse");
    let cox = study(&dir, "cox-2026", "", COX);
    expect(&dir, &["station", "receive", &cox], 0);
    // A refusal needs a reason.
    expect(&dir, &["station", "refuse", "cox-2026"], 2);
    let (_, err) = expect(&dir, &["station", "refuse", "cox-2026", "--why", "  "], 2);
    assert!(err.contains("reason"), "{err}");

    let why = "the ethics board has not approved Cox models on this registry";
    let (out, _) = expect(
        &dir,
        &[
            "station", "refuse", "cox-2026", "--why", why, "--by", "alice",
        ],
        0,
    );
    assert!(out.contains("refused by alice"), "{out}");
    let (out, _) = expect(&dir, &["station", "status", "cox-2026"], 0);
    assert!(out.contains("study cox-2026: refused"), "{out}");
    assert!(out.contains(why), "{out}");
    let (out, _) = expect(
        &dir,
        &["station", "audit", "show", "--study", "cox-2026"],
        0,
    );
    assert!(out.contains("refused") && out.contains(why), "{out}");

    // Received again unchanged: a rerun (revision 2), and the person's refusal of this very
    // text stands, with the reason.
    let (out, _) = expect(&dir, &["station", "receive", &cox], 3);
    assert!(out.contains("cox-2026 (revision 2) received"), "{out}");
    assert!(
        out.contains("refused this text before") && out.contains(why),
        "{out}"
    );

    // Refused is final.
    let (_, err) = expect(&dir, &["station", "approve", "cox-2026"], 2);
    assert!(err.contains("is refused"), "{err}");
    let (_, err) = expect(
        &dir,
        &["station", "refuse", "cox-2026", "--why", "again"],
        2,
    );
    assert!(err.contains("is refused"), "{err}");
}

#[test]
fn a_study_against_the_policy_is_refused_naming_the_rule() {
    let dir = station("policy");
    let pc = study(&dir, "postcodes", POSTCODE, "");
    let (out, _) = expect(&dir, &["station", "receive", &pc], 3);
    assert!(out.contains("refused by the policy"), "{out}");
    assert!(
        out.contains("disallowed_columns") && out.contains("postcode"),
        "{out}"
    );
    let (out, _) = expect(&dir, &["station", "status", "postcodes"], 0);
    assert!(out.contains("study postcodes: refused"), "{out}");
    assert!(out.contains("disallowed_columns"), "{out}");
    // A refusal by the policy is never waiting.
    let (out, _) = expect(&dir, &["station", "pending"], 0);
    assert!(out.contains("no study is waiting"), "{out}");
    expect(&dir, &["station", "approve", "postcodes"], 2);
}

#[test]
fn bad_input_is_named_and_exits_2() {
    let dir = station("bad");
    // Unknown ids, before and after the audit file exists.
    let (_, err) = expect(&dir, &["station", "approve", "no-such-study"], 2);
    assert!(err.contains("no-such-study"), "{err}");
    let (_, err) = expect(&dir, &["station", "status", "no-such-study"], 2);
    assert!(err.contains("no-such-study"), "{err}");
    let km = study(&dir, "km", "", "");
    expect(&dir, &["station", "receive", &km], 0);
    let (_, err) = expect(
        &dir,
        &["station", "refuse", "no-such-study", "--why", "x"],
        2,
    );
    assert!(
        err.contains("no-such-study") && err.contains("audit.sqlite"),
        "{err}"
    );

    // An invalid study names the file and the place, and records nothing.
    let broken = dir.join("studies/broken.toml");
    fs::write(&broken, "[study]\nid = \"broken\"\nfoo = 1\n").unwrap();
    let (_, err) = expect(&dir, &["station", "receive", "studies/broken.toml"], 2);
    assert!(err.contains("studies/broken.toml:"), "{err}");
    let (_, err) = expect(&dir, &["station", "receive", "studies/missing.toml"], 2);
    assert!(err.contains("studies/missing.toml"), "{err}");
    let (out, _) = expect(&dir, &["station", "status"], 0);
    assert!(!out.contains("broken"), "{out}");

    // A missing or invalid configuration.
    let (_, err) = expect(&dir, &["station", "--config", "nope.toml", "pending"], 2);
    assert!(err.contains("nope.toml"), "{err}");
    fs::write(dir.join("bad.toml"), "[station]\nname = 3\n").unwrap();
    let (_, err) = expect(&dir, &["station", "pending", "--config", "bad.toml"], 2);
    assert!(err.contains("bad.toml:"), "{err}");

    // The configuration found from elsewhere: paths relative to it.
    let (out, _) = expect(
        &std::env::temp_dir(),
        &[
            "station",
            "--config",
            dir.join("station.toml").to_str().unwrap(),
            "status",
        ],
        0,
    );
    assert!(out.contains("km  approved"), "{out}");
}

/// Receives an approved, a pending and a refused study; returns the station folder.
fn busy_station(tag: &str) -> PathBuf {
    let dir = station(tag);
    let km = study(&dir, "km", "", "");
    let cox = study(&dir, "cox", "", COX);
    let pc = study(&dir, "pc", POSTCODE, "");
    expect(&dir, &["station", "receive", &km], 0);
    expect(&dir, &["station", "receive", &cox], 0);
    expect(&dir, &["station", "receive", &pc], 3);
    expect(&dir, &["station", "approve", "cox", "--by", "bob"], 0);
    dir
}

/// The (count, head) an intact `audit verify` prints.
fn verified(dir: &Path) -> (u64, String) {
    let (out, _) = expect(dir, &["station", "audit", "verify"], 0);
    assert!(out.contains("intact"), "{out}");
    let count = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("entries checked"))
        .unwrap_or_else(|| panic!("{out}"))
        .trim()
        .parse()
        .unwrap();
    let head = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("head"))
        .unwrap_or_else(|| panic!("{out}"))
        .trim()
        .to_string();
    assert_eq!(head.len(), 64, "{out}");
    (count, head)
}

#[test]
fn audit_verify_is_intact_then_finds_an_altered_entry() {
    let dir = busy_station("tamper");
    // 1, 2: km received, approved by the rule; 3: cox received (pending); 4, 5: pc
    // received, refused by the policy; 6: cox approved by bob.
    let (count, head) = verified(&dir);
    assert_eq!(count, 6);
    let anchor = format!("{count}:{head}");
    expect(
        &dir,
        &["station", "audit", "verify", "--anchor", &anchor],
        0,
    );
    // The log grows; the old anchor still holds.
    let later = study(&dir, "km-later", "", "");
    expect(&dir, &["station", "receive", &later], 0);
    assert_eq!(verified(&dir).0, 8);
    expect(
        &dir,
        &["station", "audit", "verify", "--anchor", &anchor],
        0,
    );

    // The triggers refuse a plain UPDATE …
    let db = rusqlite::Connection::open(dir.join("audit.sqlite")).unwrap();
    assert!(db
        .execute(
            "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 6",
            []
        )
        .is_err());
    // … so drop the trigger first, then rewrite who approved the Cox study.
    db.execute_batch(
        "DROP TRIGGER audit_entries_no_update;
         UPDATE audit_entries SET actor = 'mallory' WHERE seq = 6;",
    )
    .unwrap();
    drop(db);
    let (out, _) = expect(&dir, &["station", "audit", "verify"], 4);
    assert!(out.contains("TAMPERED"), "{out}");
    assert!(out.contains("entry 6 was altered"), "{out}");
    assert!(
        out.contains("trigger audit_entries_no_update was dropped"),
        "{out}"
    );
    assert!(!out.contains("entry 5 was altered"), "{out}");
}

#[test]
fn audit_verify_finds_a_deleted_entry_an_anchor_and_a_forged_state() {
    let dir = busy_station("delete");
    let (count, head) = verified(&dir);

    // A study's state is not chained: flip the refused one to approved.
    let db = rusqlite::Connection::open(dir.join("audit.sqlite")).unwrap();
    db.execute("UPDATE studies SET state = 'approved' WHERE id = 'pc'", [])
        .unwrap();
    let (out, _) = expect(&dir, &["station", "audit", "verify"], 4);
    assert!(
        out.contains("study pc: stored as approved, the audit log says refused"),
        "{out}"
    );
    db.execute("UPDATE studies SET state = 'refused' WHERE id = 'pc'", [])
        .unwrap();
    verified(&dir);

    // Delete the last entry and roll the head record back consistently: only the anchor
    // kept outside the file notices.
    let (prev_hash,): (String,) = db
        .query_row(
            "SELECT prev_hash FROM audit_entries WHERE seq = ?1",
            [count as i64],
            |r| Ok((r.get(0)?,)),
        )
        .unwrap();
    db.execute_batch("DROP TRIGGER audit_entries_no_delete;")
        .unwrap();
    db.execute("DELETE FROM audit_entries WHERE seq = ?1", [count as i64])
        .unwrap();
    db.execute(
        "UPDATE audit_meta SET value = ?1 WHERE key = 'count'",
        [(count - 1).to_string()],
    )
    .unwrap();
    db.execute(
        "UPDATE audit_meta SET value = ?1 WHERE key = 'head'",
        [prev_hash],
    )
    .unwrap();
    let (out, _) = expect(
        &dir,
        &[
            "station",
            "audit",
            "verify",
            "--anchor",
            &format!("{count}:{head}"),
        ],
        4,
    );
    assert!(out.contains("the anchor does not match"), "{out}");
    assert!(out.contains("trigger audit_entries_no_delete"), "{out}");
    // The deleted entry was bob's approval: the stored state no longer matches the log.
    assert!(
        out.contains("study cox: stored as approved, the audit log says pending"),
        "{out}"
    );

    // A deleted entry in the middle.
    db.execute("DELETE FROM audit_entries WHERE seq = 2", [])
        .unwrap();
    drop(db);
    let (out, _) = expect(&dir, &["station", "audit", "verify"], 4);
    assert!(out.contains("entry 2 is missing"), "{out}");
    assert!(out.contains("entry 3 does not follow"), "{out}");

    let (_, err) = expect(&dir, &["station", "audit", "verify", "--anchor", "x"], 2);
    assert!(err.contains("COUNT:HASH"), "{err}");
}

#[test]
fn a_missing_audit_file_does_not_verify() {
    let dir = station("missing");
    let (out, _) = expect(&dir, &["station", "audit", "verify"], 4);
    assert!(
        out.contains("audit.sqlite") && out.contains("does not exist"),
        "{out}"
    );
    // Reading commands do not create it.
    expect(&dir, &["station", "pending"], 0);
    expect(&dir, &["station", "audit", "show"], 0);
    assert!(!dir.join("audit.sqlite").exists());
}

/// The station's folder with a second source, `labs.csv`, written as given; its
/// declaration names `weight`, which the file lacks.
fn with_labs(tag: &str, labs: &str) -> PathBuf {
    let dir = station(tag);
    fs::write(dir.join("labs.csv"), labs).unwrap();
    let cfg = fs::read_to_string(dir.join("station.toml")).unwrap().replace(
        "[policy]",
        r#"[sources.labs]
kind = "csv"
file = "labs.csv"
columns = { patient_id = "key", creatinine = "numeric", smoker = "binary", weight = "numeric", unit = "categorical" }
levels = { unit = ["mg/dl", "umol/l"] }

[policy]"#,
    );
    fs::write(dir.join("station.toml"), cfg).unwrap();
    dir
}

/// `station check` reads every source as declared: a good one gives its rows and per column
/// the missing values and numeric range; a bad one every problem, naming file, line and
/// column, never the value.
#[test]
fn station_check_names_every_problem_of_every_source() {
    let dir = with_labs(
        "check",
        "patient_id,creatinine,smoker,unit,weight,drawn\n1,0.9,0,mg/dl,71,2021-03-04\n\
         2,,1,umol/l,80.5,1999-12-31\n",
    );
    // A date column: its range shown as dates.
    let cfg = fs::read_to_string(dir.join("station.toml"))
        .unwrap()
        .replace(
            "unit = \"categorical\" }",
            "unit = \"categorical\", drawn = \"date\" }",
        );
    fs::write(dir.join("station.toml"), cfg).unwrap();
    let (out, _) = expect(&dir, &["station", "check"], 0);
    assert!(
        out.contains("source cases (") && out.contains("ok, 2 rows"),
        "{out}"
    );
    assert!(out.contains("source labs ("), "{out}");
    let line = |name: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}: {out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line("creatinine"), "creatinine numeric 1 0.9 0.9");
    assert_eq!(line("weight"), "weight numeric 0 71 80.5");
    assert_eq!(line("time"), "time numeric 0 3.5 4");
    assert_eq!(line("smoker"), "smoker binary 0");
    assert_eq!(line("drawn"), "drawn date 0 1999-12-31 2021-03-04");
    // A categorical column without declared levels is read, its values not checked.
    assert!(
        out.contains("stage: no declared levels ([sources.cases.levels])"),
        "{out}"
    );
    assert!(
        out.contains("every source reads as declared (2 sources)"),
        "{out}"
    );

    // A column absent from the file, a value that is no number, one that is not 0 or 1,
    // one that is not a declared level and one that is no date: each named, all in one
    // run, exit 2.
    fs::write(
        dir.join("labs.csv"),
        "patient_id,creatinine,smoker,unit,drawn\n1,0.9,0,mg/dl,2020-01-01\n\
         2,high,1,mg/dl,2020-13-01\n3,1.2,7,g,\n",
    )
    .unwrap();
    let (out, _) = expect(&dir, &["station", "check"], 2);
    assert!(
        out.contains("source labs (") && out.contains("5 problems"),
        "{out}"
    );
    assert!(
        out.contains("labs.csv:3: column \"drawn\": not a date written YYYY-MM-DD"),
        "{out}"
    );
    assert!(!out.contains("2020-13-01"), "the value is echoed: {out}");
    assert!(
        out.contains("labs.csv:1: column \"weight\" missing from the header"),
        "{out}"
    );
    assert!(
        out.contains("labs.csv:3: column \"creatinine\": not a number"),
        "{out}"
    );
    assert!(
        out.contains("labs.csv:4: column \"smoker\": not 0 or 1"),
        "{out}"
    );
    assert!(
        out.contains("labs.csv:4: column \"unit\": not one of the declared levels"),
        "{out}"
    );
    for value in ["high", "\"g\"", "7"] {
        assert!(!out.contains(value), "{value} printed: {out}");
    }
    // The good source is still reported, and the summary counts the bad one.
    assert!(
        out.contains("source cases (") && out.contains("ok, 2 rows"),
        "{out}"
    );
    assert!(out.contains("1 of 2 sources with problems"), "{out}");
}

/// `station show ID`: the study as it concerns this station.
#[test]
fn station_show_gives_columns_recipients_rules_and_submitter() {
    let dir = station("show");
    let cox = study(&dir, "cox-2026", "", COX);
    expect(&dir, &["station", "receive", &cox, "--from", "alice"], 0);
    let (out, _) = expect(&dir, &["station", "show", "cox-2026"], 0);
    assert!(out.contains("study cox-2026: pending"), "{out}");
    assert!(out.contains("submitted by alice"), "{out}");
    assert!(out.contains("title    Survival by stage"), "{out}");
    assert!(
        out.contains("this station's columns (source cases)"),
        "{out}"
    );
    let line = |start: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line for {start}: {out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line("time "), "time numeric used by km, cox");
    assert_eq!(line("stage "), "stage categorical used by km, cox");
    assert!(
        out.contains("km (kaplan_meier): revealed to researcher"),
        "{out}"
    );
    assert!(out.contains("cox (cox): revealed to researcher"), "{out}");
    assert_eq!(line("min_rows"), "min_rows 50");
    // The policy's disallowed column is among the rules in force.
    assert!(
        line("disallowed columns").contains("registry.postcode"),
        "{out}"
    );
    assert!(out.contains("estimated cost per compute station"), "{out}");
    let (_, err) = expect(&dir, &["station", "show", "nosuch"], 2);
    assert!(err.contains("no study \"nosuch\""), "{err}");
}

/// `station show` of a study with a `[followup]`: the dates it reads are this station's
/// columns, shown with the follow-up and the analyses of its time and event.
#[test]
fn station_show_names_the_followup_that_reads_a_date() {
    let dir = station("show-followup");
    let cfg = fs::read_to_string(dir.join("station.toml"))
        .unwrap()
        .replace(
            "postcode = \"categorical\" }",
            "postcode = \"categorical\", diag = \"date\", death = \"date\" }",
        );
    fs::write(dir.join("station.toml"), cfg).unwrap();
    let followup = r#"
[followup.os]
start = "registry.diag"
event_date = "registry.death"
end = "2024-12-31"

[[analysis]]
name = "os_km"
kind = "kaplan_meier"
time = "os.time"
event = "os.event"
"#;
    let id = study(
        &dir,
        "os-2026",
        "diag = \"date\"\ndeath = \"date\"",
        followup,
    );
    expect(&dir, &["station", "receive", &id], 0);
    let (out, _) = expect(&dir, &["station", "show", "os-2026"], 0);
    let line = |start: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line for {start}: {out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        line("diag "),
        "diag date used by follow-up os (its time and event: os_km)"
    );
    assert_eq!(
        line("death "),
        "death date used by follow-up os (its time and event: os_km)"
    );
    assert!(out.contains("reads os.time, os.event"), "{out}");
}

/// `station list`: every study, newest last, with its state and title.
#[test]
fn station_list_lists_every_study_newest_last() {
    let dir = station("list");
    let (out, _) = expect(&dir, &["station", "list"], 0);
    assert!(out.contains("no study received"), "{out}");
    let km = study(&dir, "km-2026", "", "");
    expect(&dir, &["station", "receive", &km], 0);
    let cox = study(&dir, "cox-2026", "", COX);
    expect(&dir, &["station", "receive", &cox], 0);
    let pc = study(&dir, "postcodes", POSTCODE, "");
    expect(&dir, &["station", "receive", &pc], 3);
    let (out, _) = expect(&dir, &["station", "list"], 0);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[0][..4], ["id", "state", "run", "received"], "{out}");
    assert_eq!(lines[1][..3], ["km-2026", "approved", "-"], "{out}");
    assert_eq!(lines[2][..3], ["cox-2026", "pending", "-"], "{out}");
    assert_eq!(lines[3][..3], ["postcodes", "refused", "-"], "{out}");
    assert!(
        out.lines().nth(1).unwrap().ends_with("Survival by stage"),
        "{out}"
    );
}
