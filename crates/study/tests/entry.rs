//! A study with delayed entry (`entry = "registry.start"` on a Kaplan–Meier and a Cox
//! analysis): the Stanford heart transplant data (`fixtures/entry/heart.csv`, R's
//! `survival::heart`) split between a registry (start, stop, event, surgery) and a GP
//! network (age, year, transplant) that link on a row pseudonym. It validates, runs end to
//! end (CSV → keys → secret sharing → linkage → analyses, three parties in memory) and
//! matches R's `survfit` / `coxph(Surv(start, stop, event) ~ ...)` in
//! `fixtures/entry/entry.json`; the report notes the delayed entry.

use std::path::PathBuf;

use serde_json::Value;
use tessera_study::run::{run_local, RunOptions};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Writes the registry's and the GP network's CSVs from the heart data into `dir`.
fn split_heart(dir: &std::path::Path) {
    let text = std::fs::read_to_string(root().join("fixtures/entry/heart.csv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|h| h.trim_matches('"').to_string())
        .collect();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let mut reg = String::from("patient_id,start,stop,event,surgery\n");
    let mut gp = String::from("patient_id,age,year,transplant\n");
    for (i, line) in lines.filter(|l| !l.is_empty()).enumerate() {
        let v: Vec<&str> = line.split(',').collect();
        let f = |n: &str| v[col(n)];
        reg.push_str(&format!(
            "P{i:04},{},{},{},{}\n",
            f("start"),
            f("stop"),
            f("event"),
            f("surgery")
        ));
        gp.push_str(&format!(
            "p{i:04},{},{},{}\n",
            f("age"),
            f("year"),
            f("transplant")
        ));
    }
    std::fs::write(dir.join("registry.csv"), reg).unwrap();
    std::fs::write(dir.join("gp.csv"), gp).unwrap();
}

const STUDY: &str = r#"[study]
id = "heart-entry"
title = "Stanford heart transplants, delayed entry"
time_unit = "days"

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
start = { type = "numeric", min = 0 }
stop = { type = "numeric", min = 0 }
event = "binary"
surgery = { type = "categorical", levels = ["0", "1"] }

[data.gp]
file = "gp.csv"
key = ["patient_id"]
[data.gp.columns]
age = "numeric"
year = "numeric"
transplant = "binary"

[linkage]
key = [{ name = "patient_id", normalise = ["trim", "casefold"] }]

[disclosure]
min_cell = 10
min_rows = 100

[recipients.researcher]

[[analysis]]
name = "km"
kind = "kaplan_meier"
time = "registry.stop"
event = "registry.event"
entry = "registry.start"
times = [10, 30, 100, 365, 1000]

[[analysis]]
name = "cox"
kind = "cox"
time = "registry.stop"
event = "registry.event"
entry = "registry.start"
covariates = ["gp.age", "gp.year", "registry.surgery", "gp.transplant"]
"#;

#[test]
fn a_study_with_delayed_entry_validates_runs_and_matches_r() {
    let dir = std::env::temp_dir().join(format!("tessera-entry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    split_heart(&dir);
    let path = dir.join("study.toml");
    let study = tessera_study::validate::parse(&path.display().to_string(), STUDY, &dir).unwrap();
    let out = run_local(&study, &RunOptions::default()).unwrap();
    let page = tessera_study::report::html(&out);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.linkage.intersection, 172);
    let fx: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/entry/entry.json")).unwrap(),
    )
    .unwrap();
    let result = |name: &str| -> Value {
        let a = out.analyses.iter().find(|a| a.name == name).unwrap();
        a.result
            .clone()
            .unwrap_or_else(|| panic!("{name}: {:?}", a.error))
    };
    let find = |list: &str, name: &str| -> Value {
        fx[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap()
            .clone()
    };

    let km = result("km");
    assert_eq!(km["entry"], "registry.start");
    let want = &find("kaplan_meier", "heart")["curves"][0]["grid"];
    let rows = km["curves"][0]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let mut shown = 0;
    for (i, row) in rows.iter().enumerate() {
        if row["shown"] == false {
            continue;
        }
        shown += 1;
        assert_eq!(
            row["at_risk"], want["at_risk"][i],
            "at risk at {}",
            row["time"]
        );
        let (s, w) = (
            row["survival"].as_f64().unwrap(),
            want["survival"][i].as_f64().unwrap(),
        );
        assert!((s - w).abs() < 1e-4, "S({}) {s} vs R {w}", row["time"]);
        let (se, w) = (
            row["std_err"].as_f64().unwrap(),
            want["std_err"][i].as_f64().unwrap(),
        );
        assert!((se - w).abs() <= 1e-3 * w, "se {se} vs R {w}");
    }
    assert!(shown >= 4, "{km}");

    let cox = result("cox");
    assert_eq!(cox["entry"], "registry.start");
    let want = find("cox", "heart_efron");
    assert_eq!(cox["n"], 172);
    assert_eq!(cox["events"], want["events"]);
    for (i, row) in cox["rows"].as_array().unwrap().iter().enumerate() {
        let (b, w) = (
            row["coef"].as_f64().unwrap(),
            want["coef"][i].as_f64().unwrap(),
        );
        assert!((b - w).abs() < 1e-4, "{}: {b} vs R {w}", row["covariate"]);
        let (se, w) = (row["se"].as_f64().unwrap(), want["se"][i].as_f64().unwrap());
        assert!(
            (se - w).abs() <= 1e-3 * w,
            "{}: se {se} vs R {w}",
            row["covariate"]
        );
    }
    assert_eq!(
        page.matches("Delayed entry: a row is at risk only after its entry time")
            .count(),
        2
    );
}
