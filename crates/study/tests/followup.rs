//! `[followup]`: a follow-up time and event derived inside MPC from a registry's diagnosis
//! dates and a death register's death dates (a left join: the register holds only the
//! dead), run end to end and compared with the same study on the time and event
//! precomputed in R (`fixtures/followup/make_followup.R`), and both with R's `survfit` and
//! `coxph` (`fixtures/followup/followup.json`). Malformed dates are refused naming file,
//! line and column, never the value.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tessera_study::run::{run_local, RunOptions, StudyOutput};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/followup")
}

/// The study: registry (compute 0) and deaths (compute 1) linked on `patient_id`, every
/// registry row kept; `analyses` use `time` and `event`.
fn study_text(registry: &Path, time: &str, event: &str) -> String {
    let deaths = fixtures().join("deaths.csv");
    format!(
        r#"
[study]
id = "followup-test"

[parties.registry]
compute = 0

[parties.deaths]
compute = 1

[parties.helper]
compute = 2

[data.registry]
file = "{registry}"
key = ["patient_id"]

[data.registry.columns]
diagnosis_date = {{ type = "date", min = "2000-01-01" }}
age = {{ type = "numeric", min = 0, max = 120 }}
time = {{ type = "numeric", min = 0 }}
event = "binary"
time_lc = {{ type = "numeric", min = 0 }}
event_lc = "binary"

[data.deaths]
file = "{deaths}"
key = ["patient_id"]

[data.deaths.columns]
death_date = "date"

[linkage]
key = [{{ name = "patient_id", normalise = ["trim"] }}]
keep = "registry"

[followup.os]
start = "registry.diagnosis_date"
event_date = "deaths.death_date"
end = "2024-12-31"
unit = "days"

[recipients.researcher]

[[analysis]]
name = "km"
kind = "kaplan_meier"
time = "{time}"
event = "{event}"
times = [365, 730, 1461, 2922]

[[analysis]]
name = "cox"
kind = "cox"
time = "{time}"
event = "{event}"
covariates = ["registry.age"]
ties = "efron"
"#,
        registry = registry.display(),
        deaths = deaths.display(),
    )
}

/// [`study_text`] with the GP's last contact as the third data party (in the helper's
/// compute slot) and as the follow-up's `censor_date`.
fn with_censor(text: &str) -> String {
    let gp = fixtures().join("gp.csv");
    let out = text
        .replace(
            "[parties.helper]\ncompute = 2\n",
            &format!(
                "[parties.gp]\ncompute = 2\n\n[data.gp]\nfile = \"{}\"\nkey = [\"patient_id\"]\n\n\
                 [data.gp.columns]\nlast_contact = \"date\"\n",
                gp.display()
            ),
        )
        .replace(
            "event_date = \"deaths.death_date\"\n",
            "event_date = \"deaths.death_date\"\ncensor_date = \"gp.last_contact\"\n",
        );
    assert!(out.contains("censor_date") && out.contains("[data.gp]"));
    out
}

fn parse(text: &str) -> tessera_study::Result<tessera_study::Study> {
    tessera_study::validate::parse("study.toml", text, &fixtures())
}

fn run(text: &str) -> StudyOutput {
    run_local(&parse(text).unwrap(), &RunOptions::default()).unwrap()
}

fn result(out: &StudyOutput, name: &str) -> Value {
    let a = out.analyses.iter().find(|a| a.name == name).unwrap();
    a.result
        .clone()
        .unwrap_or_else(|| panic!("{name}: {:?}", a.error))
}

fn km_rows(v: &Value) -> Vec<(f64, f64, f64)> {
    v["curves"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["shown"], true, "{r}");
            (
                r["time"].as_f64().unwrap(),
                r["survival"].as_f64().unwrap(),
                r["std_err"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn cox_row(v: &Value) -> (f64, f64) {
    let r = &v["rows"][0];
    (r["coef"].as_f64().unwrap(), r["se"].as_f64().unwrap())
}

/// Runs `derived` and `precomputed` and compares their Kaplan–Meier and Cox results with
/// each other (1e-5) and with R's `fx` (estimates 1e-4, standard errors 1e-3 relative). Two
/// runs draw independent randomness, and fixed point's probabilistic truncation differs by
/// an ulp (2^-20, about 1e-6) per step between them: 1e-6 failed now and then (seen once in
/// a series of runs), ten ulps do not.
fn compare(derived: &str, precomputed: &str, fx: &Value) {
    let derived = run(derived);
    let precomputed = run(precomputed);

    // Kaplan–Meier: the same curve to 1e-5, and R's to 1e-4 (standard errors 1e-3 relative).
    let (kd, kp) = (
        km_rows(&result(&derived, "km")),
        km_rows(&result(&precomputed, "km")),
    );
    let km = &fx["kaplan_meier"];
    assert_eq!(kd.len(), 4);
    for (i, (d, p)) in kd.iter().zip(&kp).enumerate() {
        assert_eq!(d.0, p.0);
        assert!((d.1 - p.1).abs() < 1e-5, "S({}) {} vs {}", d.0, d.1, p.1);
        assert!((d.2 - p.2).abs() < 1e-5, "se({}) {} vs {}", d.0, d.2, p.2);
        let (s, se) = (
            km["survival"][i].as_f64().unwrap(),
            km["std_err"][i].as_f64().unwrap(),
        );
        assert!((d.1 - s).abs() < 1e-4, "S({}) {} vs R {s}", d.0, d.1);
        assert!(
            (d.2 - se).abs() < 1e-3 * se,
            "se({}) {} vs R {se}",
            d.0,
            d.2
        );
    }

    // Cox on age: the same fit to 1e-5, and R's.
    let (cd, cp) = (result(&derived, "cox"), result(&precomputed, "cox"));
    assert_eq!(cd["n"], fx["rows"], "rows with a valid follow-up");
    assert_eq!(cd["n"], cp["n"]);
    assert_eq!(cd["events"], fx["events"], "{cd}");
    let ((bd, sd), (bp, sp)) = (cox_row(&cd), cox_row(&cp));
    assert!((bd - bp).abs() < 1e-5, "{bd} vs {bp}");
    assert!((sd - sp).abs() < 1e-5, "{sd} vs {sp}");
    let (b, s) = (
        fx["cox"]["coef"].as_f64().unwrap(),
        fx["cox"]["se"].as_f64().unwrap(),
    );
    assert!((bd - b).abs() < 1e-4, "coef {bd} vs R {b}");
    assert!((sd - s).abs() < 1e-3 * s, "se {sd} vs R {s}");
}

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("followup.json")).unwrap())
        .unwrap()
}

#[test]
fn derived_followup_matches_precomputed_columns_and_r() {
    let registry = fixtures().join("registry.csv");
    compare(
        &study_text(&registry, "os.time", "os.event"),
        &study_text(&registry, "registry.time", "registry.event"),
        &reference(),
    );
}

/// With the GP's last contact as `censor_date` (three data parties, every registry row
/// kept): against the follow-up precomputed in R with the same rule.
#[test]
fn a_censoring_date_from_a_third_party_matches_precomputed_columns_and_r() {
    let registry = fixtures().join("registry.csv");
    compare(
        &with_censor(&study_text(&registry, "os.time", "os.event")),
        &with_censor(&study_text(
            &registry,
            "registry.time_lc",
            "registry.event_lc",
        )),
        &reference()["censored"],
    );
}

#[test]
fn a_malformed_date_is_refused_with_file_line_and_column() {
    let dir = std::env::temp_dir().join(format!("tessera-followup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(fixtures().join("registry.csv")).unwrap();
    // Line 4 (the third record): 31 February.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let fields: Vec<&str> = lines[3].split(',').collect();
    let bad = format!("{},2019-02-31,{}", fields[0], fields[2..].join(","));
    lines[3] = bad;
    let file = dir.join("registry.csv");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let study = parse(&study_text(&file, "os.time", "os.event")).unwrap();
    let e = run_local(&study, &RunOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "{}:4: column \"diagnosis_date\": not a date written YYYY-MM-DD",
            file.display()
        )),
        "{e}"
    );
    assert!(!e.contains("2019-02-31"), "the value is echoed: {e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn followup_fields_are_checked() {
    let text = study_text(&fixtures().join("registry.csv"), "os.time", "os.event");
    let err = |from: &str, to: &str| {
        assert!(text.contains(from), "{from}");
        parse(&text.replacen(from, to, 1)).unwrap_err().to_string()
    };
    let e = err("end = \"2024-12-31\"", "end = \"2024-12-32\"");
    assert!(
        e.contains("[followup.os] field end: a date written YYYY-MM-DD"),
        "{e}"
    );
    let e = err("unit = \"days\"", "unit = \"weeks\"");
    assert!(e.contains("[followup.os] field unit: one of"), "{e}");
    let e = err(
        "start = \"registry.diagnosis_date\"",
        "start = \"registry.age\"",
    );
    assert!(
        e.contains("[followup.os] field start: `registry.age` is numeric, a date column is needed"),
        "{e}"
    );
    let e = err(
        "event_date = \"deaths.death_date\"",
        "event_date = \"registry.diagnosis_date\"",
    );
    assert!(
        e.contains("[followup.os] field event_date: the same column as start"),
        "{e}"
    );
    let e = err("[followup.os]", "[followup.deaths]");
    assert!(e.contains("`deaths` is a party"), "{e}");
    // A date is not a number to analyse, and derived columns are times and events only.
    let e = err(
        "covariates = [\"registry.age\"]",
        "covariates = [\"registry.diagnosis_date\"]",
    );
    assert!(
        e.contains("is a date column: dates are read only by [followup]"),
        "{e}"
    );
    let e = err(
        "covariates = [\"registry.age\"]",
        "covariates = [\"os.time\"]",
    );
    assert!(
        e.contains("`os.time` (derived by [followup.os]) is used only as the time"),
        "{e}"
    );
    let e = err(
        "diagnosis_date = { type = \"date\", min = \"2000-01-01\" }",
        "diagnosis_date = { type = \"date\", min = 2000 }",
    );
    assert!(
        e.contains("field min: a date written YYYY-MM-DD, in quotes"),
        "{e}"
    );
}

/// A researcher who writes two follow-ups of the same dates (in days and in months, or up to
/// two end dates a day apart) could difference their curves and read the events between
/// the two ends: refused. Two follow-ups of one start and different event dates (overall and
/// progression-free survival) are fine.
#[test]
fn followups_that_could_be_differenced_are_refused() {
    let text = study_text(&fixtures().join("registry.csv"), "os.time", "os.event");
    let os = "[followup.os]\nstart = \"registry.diagnosis_date\"\nevent_date = \
              \"deaths.death_date\"\nend = \"2024-12-31\"\nunit = \"days\"\n";
    assert!(text.contains(os));
    for second in [
        os.replace("[followup.os]", "[followup.os_months]")
            .replace("unit = \"days\"", "unit = \"months\""),
        os.replace("[followup.os]", "[followup.os_later]")
            .replace("2024-12-31", "2025-01-01")
            .replace("registry.diagnosis_date", "deaths.birth_date"),
    ] {
        let two = text.replace(os, &format!("{os}\n{second}")).replace(
            "death_date = \"date\"\n",
            "death_date = \"date\"\nbirth_date = \"date\"\n",
        );
        let e = parse(&two).unwrap_err().to_string();
        assert!(e.contains("refused by rule one_followup_per_dates"), "{e}");
    }
    // Another event date from the same start: allowed.
    let pfs = text
        .replace(
            os,
            &format!(
                "{os}\n{}",
                os.replace("[followup.os]", "[followup.pfs]")
                    .replace("deaths.death_date", "deaths.progression_date")
            ),
        )
        .replace(
            "death_date = \"date\"\n",
            "death_date = \"date\"\nprogression_date = \"date\"\n",
        );
    assert!(parse(&pfs).is_ok(), "{:?}", parse(&pfs).err());
}

/// The steward's cost estimate counts the derivation (a part of its own, before the
/// analyses), dearer with a censoring date.
#[test]
fn the_cost_estimate_counts_the_followup() {
    let registry = fixtures().join("registry.csv");
    let plain = parse(&study_text(&registry, "os.time", "os.event")).unwrap();
    let censored = parse(&with_censor(&study_text(&registry, "os.time", "os.event"))).unwrap();
    let part = |s: &tessera_study::Study| {
        let e = tessera_study::estimate::estimate(s, 100_000);
        assert_eq!(e.parts[1].0, "follow-up os");
        e.parts[1].1
    };
    let (a, b) = (part(&plain), part(&censored));
    assert!(a.bytes > 1e7 && b.bytes > a.bytes, "{a:?} {b:?}");
    assert!(a.rounds >= 13.0, "{a:?}");
}

/// The shipped example (`examples/followup/study.toml`: three data parties, months, the
/// GP's last contact) runs and agrees with R on the same follow-up in days: survival at
/// 12 and 24 months is R's at 365 and 730 days, the Cox coefficient on age is R's (a
/// change of time unit leaves Cox coefficients unchanged).
#[test]
fn the_example_study_runs_and_agrees_with_r() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/followup/study.toml");
    let study = tessera_study::load(&path).unwrap();
    let out = run_local(&study, &RunOptions::default()).unwrap();
    let fx = &reference()["censored"];
    let cox = result(&out, "os_by_age");
    assert_eq!(cox["n"], fx["rows"]);
    let (b, _) = cox_row(&cox);
    let want = fx["cox"]["coef"].as_f64().unwrap();
    assert!((b - want).abs() < 1e-4, "coef {b} vs R {want}");
    let km = km_rows(&result(&out, "os"));
    assert_eq!(km.len(), 4);
    // 12 and 24 months are 365.25 and 730.5 days: no event between those and R's 365, 730.
    for (i, row) in km.iter().take(2).enumerate() {
        let want = fx["kaplan_meier"]["survival"][i].as_f64().unwrap();
        assert!(
            (row.1 - want).abs() < 1e-4,
            "S({}) {} vs R {want}",
            row.0,
            row.1
        );
    }
    assert!(km.windows(2).all(|w| w[1].1 <= w[0].1), "{km:?}");
}

/// The plaintext twin of the derivation (`tessera_stats::followup::derive_plain`) on the
/// plaintext left join of the three files gives exactly the time and event R computed, with
/// and without the last contact.
#[test]
fn the_plaintext_twin_gives_rs_followup() {
    use tessera_stats::{PlainColumn, PlainData, PlainFrame};
    let registry = fixtures().join("registry.csv");
    let study = parse(&with_censor(&study_text(&registry, "os.time", "os.event"))).unwrap();
    let tables: Vec<_> = study
        .data
        .iter()
        .map(|d| tessera_study::data::load(d).unwrap())
        .collect();
    // Every registry row, the others' values where they hold the person.
    let mut columns: Vec<PlainColumn> = tables[0].frame.columns.clone();
    for t in &tables[1..] {
        let row_of: std::collections::HashMap<&str, usize> = t.keys[0]
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_deref().unwrap(), i))
            .collect();
        for c in &t.frame.columns {
            let PlainData::Numeric(v) = &c.data else {
                panic!("dates are numeric")
            };
            let joined = tables[0].keys[0]
                .iter()
                .map(|k| row_of.get(k.as_deref().unwrap()).and_then(|&i| v[i]))
                .collect();
            columns.push(PlainColumn {
                name: c.name.clone(),
                data: PlainData::Numeric(joined),
            });
        }
    }
    let frame = PlainFrame::new(columns).unwrap();
    let plain = study.followups[0].clone();
    let without = tessera_stats::followup::Followup {
        censor_date: None,
        ..plain.clone()
    };
    for (f, time, event) in [
        (&without, "registry.time", "registry.event"),
        (&plain, "registry.time_lc", "registry.event_lc"),
    ] {
        let derived =
            tessera_stats::followup::derive_plain(&frame, std::slice::from_ref(f)).unwrap();
        assert_eq!(derived[0].data, frame.column(time).unwrap().data, "{time}");
        assert_eq!(
            derived[1].data,
            frame.column(event).unwrap().data,
            "{event}"
        );
    }
}

/// Without `[study] time_unit`, a study whose survival analyses all use one follow-up's time
/// is in its unit (the report's axes say "months"); a stated unit is kept, and a study that
/// also analyses another time column gets none.
#[test]
fn the_time_unit_is_the_followups_when_every_analysis_uses_it() {
    let registry = fixtures().join("registry.csv");
    let text = study_text(&registry, "os.time", "os.event");
    assert_eq!(parse(&text).unwrap().time_unit.as_deref(), Some("days"));
    let months = text.replace("unit = \"days\"", "unit = \"months\"");
    assert_eq!(parse(&months).unwrap().time_unit.as_deref(), Some("months"));
    let stated = months.replace(
        "id = \"followup-test\"\n",
        "id = \"followup-test\"\ntime_unit = \"Monate\"\n",
    );
    assert_eq!(parse(&stated).unwrap().time_unit.as_deref(), Some("Monate"));
    let mixed = months.replacen("time = \"os.time\"", "time = \"registry.time\"", 1);
    let mixed = mixed.replacen("event = \"os.event\"", "event = \"registry.event\"", 1);
    assert!(mixed.contains("time = \"registry.time\"") && mixed.contains("time = \"os.time\""));
    assert_eq!(parse(&mixed).unwrap().time_unit, None);
}
