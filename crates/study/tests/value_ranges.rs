//! A data owner checks its own values against the ranges the study's analyses need before
//! anything is shared (issue 13, part 2). Each case below ran to the end with a wrong
//! number before: describe with one value of 1e15 (sd 2.46e9 instead of 7.07e13), KM with
//! times around 3e11 (survival rising), correlation with a column of sd 1.8e6 (r = -1.0
//! instead of 0.822), Cox with a covariate at scale 3e6 (coef 5.8e17).

use std::path::{Path, PathBuf};

use tessera_study::run::{run_local, RunOptions};
use tessera_study::validate::parse;
use tessera_study::StudyError;

/// A one-party study on `rows` (`id,t,e,x,y`) with the given analysis.
fn run(
    case: &str,
    rows: &[(f64, u8, f64, f64)],
    analysis: &str,
) -> Result<serde_json::Value, StudyError> {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("value-ranges-{case}"));
    std::fs::create_dir_all(&d).unwrap();
    let mut csv = String::from("id,t,e,x,y\n");
    for (i, (t, e, x, y)) in rows.iter().enumerate() {
        csv.push_str(&format!("{},{t},{e},{x},{y}\n", i + 1));
    }
    std::fs::write(d.join("a.csv"), csv).unwrap();
    let text = format!(
        r#"[study]
id = "s1"
[parties.a]
compute = 0
[parties.b]
compute = 1
[parties.h]
compute = 2
[data.a]
file = "a.csv"
key = ["id"]
[data.a.columns]
t = "numeric"
e = "binary"
x = "numeric"
y = "numeric"
[disclosure]
min_rows = 5
min_cell = 1
[recipients.r]
[[analysis]]
name = "one"
{analysis}
"#
    );
    let study = parse("study.toml", &text, &PathBuf::from(&d))?;
    let out = run_local(&study, &RunOptions::default())?;
    let a = &out.analyses[0];
    match &a.result {
        Some(r) => Ok(r.clone()),
        None => Err(StudyError::Run(format!("{:?}", a.error))),
    }
}

/// Deterministic pseudo-random numbers in [0, 1).
fn unif(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

/// The run is refused before anything is shared, as a data error naming the column, the
/// range, and a hint, and never one of the column's large `values` (as `{}` or `{:e}`
/// would print it; small ones could match the digits of the range itself).
fn refused(r: Result<serde_json::Value, StudyError>, column: &str, hint: &str, values: &[f64]) {
    let err = match r {
        Ok(v) => panic!("not refused: {v}"),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(matches!(err, StudyError::Data(_)), "{msg}");
    assert_eq!(err.exit_code(), 2);
    assert!(msg.contains(&format!("column \"{column}\"")), "{msg}");
    assert!(msg.contains("needs its values within ("), "{msg}");
    assert!(msg.contains(hint), "{msg}");
    let large: Vec<f64> = values.iter().copied().filter(|v| v.abs() >= 1e5).collect();
    assert!(!large.is_empty(), "nothing to look for");
    for v in large {
        for shown in [format!("{v}"), format!("{v:e}")] {
            assert!(!msg.contains(&shown), "the value {shown} leaked: {msg}");
        }
    }
}

fn base(n: usize) -> Vec<(f64, u8, f64, f64)> {
    let u = unif(3 * n, 7);
    (0..n)
        .map(|i| {
            (
                1.0 + 100.0 * u[3 * i],
                (u[3 * i + 1] < 0.7) as u8,
                u[3 * i + 2] * 10.0,
                i as f64,
            )
        })
        .collect()
}

#[test]
fn describe_with_one_value_of_1e15_is_refused() {
    let mut rows = base(30);
    rows[3].2 = 1e15;
    refused(
        run(
            "describe",
            &rows,
            "kind = \"describe\"\ncolumns = [\"a.x\"]",
        ),
        "a.x",
        "rescale the column",
        &rows.iter().map(|r| r.2).collect::<Vec<_>>(),
    );
    // The same column without the outlier is described.
    let ok = run(
        "describe-ok",
        &base(30),
        "kind = \"describe\"\ncolumns = [\"a.x\"]",
    )
    .unwrap();
    assert!(ok.to_string().contains("\"mean\""), "{ok}");
}

#[test]
fn kaplan_meier_with_times_around_3e11_is_refused() {
    let rows: Vec<_> = base(40)
        .into_iter()
        .map(|(t, e, x, y)| (3e11 + t * 1e9, e, x, y))
        .collect();
    refused(
        run(
            "km",
            &rows,
            "kind = \"kaplan_meier\"\ntime = \"a.t\"\nevent = \"a.e\"\ntimes = [1.0, 2.7e11]",
        ),
        "a.t",
        "days instead of seconds",
        &rows.iter().map(|r| r.0).collect::<Vec<_>>(),
    );
}

#[test]
fn correlation_with_a_column_of_sd_1_8e6_is_refused() {
    let u = unif(60, 11);
    let rows: Vec<_> = (0..30)
        .map(|i| {
            let x = u[2 * i] * 6.2e6;
            (1.0, 1u8, x, x + u[2 * i + 1] * 4e6)
        })
        .collect();
    refused(
        run(
            "corr",
            &rows,
            "kind = \"correlation\"\ncolumns = [\"a.x\", \"a.y\"]",
        ),
        "a.x",
        "rescale the column",
        &rows.iter().map(|r| r.2).collect::<Vec<_>>(),
    );
}

#[test]
fn cox_with_a_covariate_at_scale_3e6_is_refused() {
    let rows: Vec<_> = base(40)
        .into_iter()
        .map(|(t, e, x, y)| (t, e, x * 3e5, y))
        .collect();
    refused(
        run(
            "cox",
            &rows,
            "kind = \"cox\"\ntime = \"a.t\"\nevent = \"a.e\"\ncovariates = [\"a.x\"]",
        ),
        "a.x",
        "rescale the column",
        &rows.iter().map(|r| r.2).collect::<Vec<_>>(),
    );
}

#[test]
fn cox_with_a_covariate_of_variance_1_42e12_is_refused() {
    // Before: SE 2.75e-8, p 0.177, "converged" (correct: SE 5.23e-8, p ≈ 0.48).
    let u = unif(80, 5);
    let rows: Vec<_> = base(40)
        .into_iter()
        .enumerate()
        .map(|(i, (t, e, _, y))| (t, e, (u[2 * i] - 0.5) * 4.1e6, y))
        .collect();
    refused(
        run(
            "cox-var",
            &rows,
            "kind = \"cox\"\ntime = \"a.t\"\nevent = \"a.e\"\ncovariates = [\"a.x\"]",
        ),
        "a.x",
        "rescale the column",
        &rows.iter().map(|r| r.2).collect::<Vec<_>>(),
    );
}

/// `kind = "auc"` through the study file and the local run: a score of 1e12 (beyond what
/// the fixed point compares) is refused at its data owner naming the column, never the
/// value; the same study with the score on its own scale gives the AUC of `x` against `e`.
#[test]
fn auc_with_a_score_of_1e12_is_refused_and_runs_on_its_scale() {
    let analysis = "kind = \"auc\"\noutcome = \"a.e\"\nscore = \"a.x\"";
    let mut rows = base(40);
    rows[5].2 = 1e12;
    refused(
        run("auc", &rows, analysis),
        "a.x",
        "rescale the score",
        &rows.iter().map(|r| r.2).collect::<Vec<_>>(),
    );
    let ok = run("auc-ok", &base(40), analysis).unwrap();
    let auc = ok["auc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&auc), "{ok}");
    assert_eq!(ok["n"], 40, "{ok}");
    assert!(ok["se"].as_f64().unwrap() > 0.0, "{ok}");
}
