//! `tessera demo`: three stations on this machine, each a separate process talking to the
//! others over TLS 1.3 on loopback, run a study on the shipped synthetic data of a cancer
//! registry and a GP network (the third station, a research institute, has no data), and the
//! opened results are printed beside the same analyses computed in plaintext on the pooled
//! data (which only a demo can do). Everything is written to a fresh folder: identities,
//! data, the study file, each station's results and `report.html`.
//!
//! Not yet part of the demo: the station service with its policy and approvals (the
//! stations here run the study as soon as they start).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use clap::Args;
use serde_json::Value;
use tessera_net::identity::{fingerprint_hex, Identity};
use tessera_stats::analysis::{AnalysisSpec, CoxSpec, KaplanMeierSpec, LogisticSpec, LogrankSpec};
use tessera_stats::regression::plain as regression_plain;
use tessera_stats::survival::{cox_plain, kaplan_meier_plain, logrank_plain};
use tessera_stats::{PlainColumn, PlainData, PlainFrame};

/// The shipped synthetic data (also used by the fixtures and the example study).
const REGISTRY_CSV: &str = include_str!("../../../fixtures/synthetic/registry.csv");
const GP_CSV: &str = include_str!("../../../fixtures/synthetic/gp.csv");

/// The demo study; `{...}` are filled in per run.
const STUDY: &str = r#"# The tessera demo study (written by `tessera demo`).
[study]
id = "tessera-demo"
title = "Survival by statin use: cancer registry linked with GP records (synthetic data)"

[parties.registry]
compute = 0
address = "127.0.0.1:{port0}"
fingerprint = "sha256:{fp0}"

[parties.gp]
compute = 1
address = "127.0.0.1:{port1}"
fingerprint = "sha256:{fp1}"

[parties.institute]
compute = 2
address = "127.0.0.1:{port2}"
fingerprint = "sha256:{fp2}"

[data.registry]
file = "{registry_file}"
key = ["patient_id"]

[data.registry.columns]
time = { type = "numeric", min = 0 }
event = "binary"
age = { type = "numeric", min = 0, max = 120 }
sex = "binary"
stage = { type = "categorical", levels = ["1", "2", "3", "4"] }
treatment = "binary"

[data.gp]
file = "{gp_file}"
key = ["patient_id"]

[data.gp.columns]
comorbidity = { type = "numeric", min = 0 }
smoker = "binary"
bmi = { type = "numeric", min = 10, max = 80 }
diabetes = "binary"
statin = { type = "categorical", levels = ["0", "1"] }

[linkage]
key = [{ name = "patient_id", normalise = ["trim", "casefold"] }]

[disclosure]
min_cell = 10
min_rows = 100
max_vars_per_row = 0.1

[recipients.researcher]

[[analysis]]
name = "km_by_statin"
kind = "kaplan_meier"
time = "registry.time"
event = "registry.event"
group = "gp.statin"
times = [365, 730, 1095, 1460]

[[analysis]]
name = "logrank_by_statin"
kind = "logrank"
time = "registry.time"
event = "registry.event"
group = "gp.statin"

[[analysis]]
name = "cox"
kind = "cox"
time = "registry.time"
event = "registry.event"
covariates = ["registry.age", "registry.sex", "registry.treatment", "registry.stage",
              "gp.comorbidity", "gp.smoker", "gp.bmi", "gp.diabetes", "gp.statin"]

[[analysis]]
name = "diabetes"
kind = "logistic"
outcome = "gp.diabetes"
covariates = ["registry.age", "registry.sex", "gp.bmi", "gp.smoker"]
"#;

const STATIONS: [&str; 3] = ["registry", "gp", "institute"];

/// Options of `tessera demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Folder to write everything to (default: a new folder under the system's temporary
    /// folder).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

fn fresh_dir(given: &Option<PathBuf>) -> Result<PathBuf, String> {
    let dir = match given {
        Some(d) => d.clone(),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            std::env::temp_dir().join(format!("tessera-demo-{}-{nanos}", std::process::id()))
        }
    };
    if dir.exists() && std::fs::read_dir(&dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(format!("{} exists and is not empty", dir.display()));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> Result<(), String> {
    let start = Instant::now();
    let dir = fresh_dir(&args.dir)?;
    println!("tessera demo in {}", dir.display());
    // Each station's own folder: its identity and, for the data stations, its data.
    let mut fps = Vec::new();
    for s in STATIONS {
        let id = Identity::generate(s).map_err(|e| e.to_string())?;
        id.save(&dir.join(s).join("identity"))
            .map_err(|e| e.to_string())?;
        fps.push(fingerprint_hex(&id.fingerprint()));
    }
    write(&dir.join("registry").join("registry.csv"), REGISTRY_CSV)?;
    write(&dir.join("gp").join("gp.csv"), GP_CSV)?;
    let ports: Vec<u16> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| format!("no free loopback port: {e}"))?
        .iter()
        .map(|a| a.port())
        .collect();
    let study_text = STUDY
        .replace("{port0}", &ports[0].to_string())
        .replace("{port1}", &ports[1].to_string())
        .replace("{port2}", &ports[2].to_string())
        .replace("{fp0}", &fps[0])
        .replace("{fp1}", &fps[1])
        .replace("{fp2}", &fps[2])
        .replace("{registry_file}", "registry/registry.csv")
        .replace("{gp_file}", "gp/gp.csv");
    let study = dir.join("study.toml");
    write(&study, &study_text)?;
    println!(
        "three stations: registry (1,800 patients), gp (1,900 patients), institute (no data);\n\
         each has its own TLS identity; the study pins their certificate fingerprints"
    );
    // The three stations as separate processes over TLS.
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut children = Vec::new();
    for s in STATIONS {
        let child = Command::new(&exe)
            .arg("run")
            .arg(&study)
            .args(["--json", "--as", s, "--identity"])
            .arg(dir.join(s).join("identity"))
            .arg("--out")
            .arg(dir.join(s).join("results"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start station {s}: {e}"))?;
        children.push(child);
    }
    println!("stations started; linking and computing …");
    let mut outputs = Vec::new();
    for (child, s) in children.into_iter().zip(STATIONS) {
        let out = child
            .wait_with_output()
            .map_err(|e| format!("station {s}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "station {s} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let doc: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("station {s}: unreadable results: {e}"))?;
        outputs.push(doc);
    }
    let mpc_secs = start.elapsed().as_secs_f64();
    if outputs[1]["analyses"] != outputs[0]["analyses"]
        || outputs[2]["analyses"] != outputs[0]["analyses"]
    {
        return Err("the stations opened different results".into());
    }
    let doc = &outputs[0];
    println!(
        "linked {} of {} + {} records; every station opened the same results ({mpc_secs:.1} s)\n",
        doc["linkage"]["intersection"],
        doc["linkage"]["rows"][0]["rows"],
        doc["linkage"]["rows"][1]["rows"]
    );
    let study_parsed = tessera_study::load(&study).map_err(|e| e.to_string())?;
    let pooled = pooled(&study_parsed)?;
    compare(&study_parsed, doc, &pooled)?;
    let report = dir.join("report.html");
    std::fs::copy(
        dir.join("registry").join("results").join("report.html"),
        &report,
    )
    .map_err(|e| format!("cannot write {}: {e}", report.display()))?;
    println!(
        "\nreport: {}\nall done in {:.1} s",
        report.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The pooled plaintext table (what no station may ever hold; here for comparison only).
fn pooled(study: &tessera_study::Study) -> Result<PlainFrame, String> {
    let tables: Vec<_> = study
        .data
        .iter()
        .map(tessera_study::data::load)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let key = |t: &tessera_study::data::DataTable, i: usize| t.keys[0][i].clone();
    let index: std::collections::HashMap<Option<String>, usize> = (0..tables[1].frame.rows)
        .map(|i| (key(&tables[1], i), i))
        .collect();
    let pairs: Vec<(usize, usize)> = (0..tables[0].frame.rows)
        .filter_map(|i| index.get(&key(&tables[0], i)).map(|&j| (i, j)))
        .collect();
    let mut columns = Vec::new();
    for (t, left) in [(&tables[0], true), (&tables[1], false)] {
        for c in &t.frame.columns {
            let pick = |i: &(usize, usize)| if left { i.0 } else { i.1 };
            let data = match &c.data {
                PlainData::Numeric(v) => {
                    PlainData::Numeric(pairs.iter().map(|p| v[pick(p)]).collect())
                }
                PlainData::Categorical { levels, codes } => PlainData::Categorical {
                    levels: levels.clone(),
                    codes: pairs.iter().map(|p| codes[pick(p)]).collect(),
                },
            };
            columns.push(PlainColumn {
                name: c.name.clone(),
                data,
            });
        }
    }
    PlainFrame::new(columns).map_err(|e| e.to_string())
}

fn spec<'a>(study: &'a tessera_study::Study, name: &str) -> Option<&'a AnalysisSpec> {
    study
        .analyses
        .iter()
        .find(|a| a.name == name)
        .map(|a| &a.spec)
}

fn result<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["analyses"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == name))
        .map_or(&Value::Null, |a| &a["result"])
}

/// Prints each opened result beside the plaintext computation on the pooled data, and fails
/// if any differs by more than the accuracy tessera promises (1e-4).
fn compare(study: &tessera_study::Study, doc: &Value, pooled: &PlainFrame) -> Result<(), String> {
    let d = &study.disclosure;
    let mut worst = 0f64;
    let mut diff = |a: Option<f64>, b: Option<f64>| {
        if let (Some(a), Some(b)) = (a, b) {
            worst = worst.max((a - b).abs() / b.abs().max(1.0));
        }
    };
    let err = |e: tessera_stats::StatsError| e.to_string();
    if let Some(AnalysisSpec::KaplanMeier(s)) = spec(study, "km_by_statin") {
        let plain = kaplan_meier_plain(pooled, s as &KaplanMeierSpec, d).map_err(err)?;
        println!("Kaplan–Meier survival by statin use      MPC         plaintext");
        let mpc = &result(doc, "km_by_statin")["curves"];
        for (c, pc) in mpc.as_array().into_iter().flatten().zip(&plain.curves) {
            for (r, pr) in c["rows"].as_array().into_iter().flatten().zip(&pc.rows) {
                diff(r["survival"].as_f64(), pr.survival);
                println!(
                    "  statin = {}, day {:>5}                {:>10}  {:>10}",
                    c["group"].as_str().unwrap_or("?"),
                    pr.time,
                    r["survival"]
                        .as_f64()
                        .map_or("suppressed".into(), |v| format!("{v:.6}")),
                    pr.survival
                        .map_or("suppressed".into(), |v| format!("{v:.6}"))
                );
            }
        }
    }
    if let Some(AnalysisSpec::Logrank(s)) = spec(study, "logrank_by_statin") {
        let plain = logrank_plain(pooled, s as &LogrankSpec, d).map_err(err)?;
        let r = result(doc, "logrank_by_statin");
        diff(r["chi_square"].as_f64(), Some(plain.chi_square));
        println!(
            "\nlog-rank test by statin use: chi-square  {:>10.6}  {:>10.6}  (p = {:.3e})",
            r["chi_square"].as_f64().unwrap_or(f64::NAN),
            plain.chi_square,
            plain.p
        );
    }
    if let Some(AnalysisSpec::Cox(s)) = spec(study, "cox") {
        let plain = cox_plain(pooled, s as &CoxSpec, d).map_err(err)?;
        println!("\nCox regression (Efron), hazard ratios     MPC         plaintext");
        let rows = result(doc, "cox")["rows"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (r, pr) in rows.iter().zip(&plain.rows) {
            diff(r["coef"].as_f64(), Some(pr.coef));
            println!(
                "  {:<32} {:>10.6}  {:>10.6}",
                pr.covariate,
                r["exp_coef"].as_f64().unwrap_or(f64::NAN),
                pr.exp_coef
            );
        }
    }
    if let Some(AnalysisSpec::Logistic(s)) = spec(study, "diabetes") {
        let plain = regression_plain::logistic(pooled, s as &LogisticSpec).map_err(err)?;
        println!("\nlogistic regression of diabetes, coef     MPC         plaintext");
        let rows = result(doc, "diabetes")["coefficients"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (r, pr) in rows.iter().zip(&plain.coefficients) {
            diff(r["coef"].as_f64(), Some(pr.coef));
            println!(
                "  {:<32} {:>10.6}  {:>10.6}",
                pr.name,
                r["coef"].as_f64().unwrap_or(f64::NAN),
                pr.coef
            );
        }
    }
    if worst > 1e-4 {
        return Err(format!(
            "MPC and plaintext results differ by {worst:.2e} (more than 1e-4)"
        ));
    }
    println!("\nlargest difference between MPC and plaintext: {worst:.1e}");
    Ok(())
}
