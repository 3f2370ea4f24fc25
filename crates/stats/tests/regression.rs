//! Linear and logistic regression, in MPC and in the plaintext twin, against the statsmodels /
//! numpy references in `fixtures/regression/` (made by `make_regression_fixtures.py`).
//! Tolerances as the issue states: coefficients within 1e-4 absolute, standard errors within
//! 1e-3 relative. Run with `--nocapture` to see the largest errors measured.

use std::path::PathBuf;

mod common;
use common::{in_mpc, ran};

use serde_json::Value;
use tessera_stats::analysis::{LogisticSpec, OlsSpec};
use tessera_stats::regression::{logistic, ols, plain, Coefficient};
use tessera_stats::{Disclosure, PlainColumn, PlainData, PlainFrame};

const COEF_ABS: f64 = 1e-4;
const SE_REL: f64 = 1e-3;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/regression")
}

fn load_json() -> Value {
    let text = std::fs::read_to_string(fixtures().join("regression.json")).expect("fixture");
    serde_json::from_str(&text).expect("valid JSON")
}

/// Reads a fixture CSV (no quoting; empty field = missing) into a plaintext frame, with the
/// categorical columns and levels the case names.
fn load_frame(case: &Value) -> PlainFrame {
    let path = fixtures().join(case["data"].as_str().unwrap());
    let text = std::fs::read_to_string(path).expect("data");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let cats = case["categorical"].as_object().unwrap();
    let columns = header
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let data = match cats.get(*name) {
                Some(levels) => {
                    let levels: Vec<String> = levels
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|l| l.as_str().unwrap().to_string())
                        .collect();
                    PlainData::Categorical {
                        codes: rows
                            .iter()
                            .map(|r| levels.iter().position(|l| l == r[j]))
                            .collect(),
                        levels,
                    }
                }
                None => PlainData::Numeric(
                    rows.iter()
                        .map(|r| (!r[j].is_empty()).then(|| r[j].parse().unwrap()))
                        .collect(),
                ),
            };
            PlainColumn {
                name: name.to_string(),
                data,
            }
        })
        .collect();
    PlainFrame::new(columns).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_f64().unwrap())
        .collect()
}

fn ols_spec(case: &Value) -> OlsSpec {
    OlsSpec {
        outcome: case["outcome"].as_str().unwrap().into(),
        covariates: strings(&case["covariates"]),
        intercept: case["intercept"].as_bool().unwrap(),
        ridge: case["ridge"].as_f64().unwrap(),
        conf_level: 0.95,
    }
}

fn logistic_spec(case: &Value) -> LogisticSpec {
    LogisticSpec {
        outcome: case["outcome"].as_str().unwrap().into(),
        covariates: strings(&case["covariates"]),
        intercept: case["intercept"].as_bool().unwrap(),
        l2: case["l2"].as_f64().unwrap(),
        max_steps: 50,
        conf_level: 0.95,
        holdout: None,
        calibration: false,
        groups: None,
    }
}

/// Largest coefficient error (absolute) and standard-error error (relative) against the
/// reference; panics beyond the tolerances.
fn compare(what: &str, rows: &[Coefficient], want: &Value) -> (f64, f64) {
    let names = strings(&want["names"]);
    let coef = floats(&want["coef"]);
    assert_eq!(
        rows.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
        names,
        "{what}: names"
    );
    let mut worst = (0.0f64, 0.0f64);
    for (j, r) in rows.iter().enumerate() {
        let e = (r.coef - coef[j]).abs();
        worst.0 = worst.0.max(e);
        assert!(
            e <= COEF_ABS,
            "{what}: coefficient {} is {} , reference {}",
            r.name,
            r.coef,
            coef[j]
        );
    }
    if want.get("se").is_some() {
        let se = floats(&want["se"]);
        let pv = floats(&want["p"]);
        let lo = floats(&want["ci_low"]);
        for (j, r) in rows.iter().enumerate() {
            let got = r.std_err.expect("a standard error");
            let e = (got - se[j]).abs() / se[j];
            worst.1 = worst.1.max(e);
            assert!(
                e <= SE_REL,
                "{what}: std err of {} is {got}, reference {}",
                r.name,
                se[j]
            );
            assert!(
                (r.p_value.unwrap() - pv[j]).abs() <= 1e-3 * pv[j].max(1e-3),
                "{what}: p of {}: {:?} vs {}",
                r.name,
                r.p_value,
                pv[j]
            );
            assert!(
                (r.ci_low.unwrap() - lo[j]).abs() <= COEF_ABS + 2.0 * SE_REL * se[j],
                "{what}: CI of {}",
                r.name
            );
        }
    } else {
        assert!(rows.iter().all(|r| r.std_err.is_none()), "{what}: no SE");
    }
    worst
}

fn case(name: &str) -> Value {
    load_json()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name}"))
        .clone()
}

fn check_ols(name: &str) {
    let c = case(name);
    let frame = load_frame(&c);
    let spec = ols_spec(&c);
    let want = &c["result"];
    let disclosure = Disclosure::default();
    let twin = plain::ols(&frame, &spec).unwrap();
    let mpc = in_mpc(&frame, |p, fr| ols::ols(p, fr, &spec, &disclosure)).unwrap();
    for (who, r) in [("plain", &twin), ("mpc", &mpc)] {
        let what = format!("{name} ({who})");
        let (ce, se) = compare(&what, &r.coefficients, want);
        assert_eq!(
            r.nobs as u64,
            want["nobs"].as_u64().unwrap(),
            "{what}: nobs"
        );
        let r2 = want["r_squared"].as_f64().unwrap();
        assert!(
            (r.r_squared - r2).abs() <= 1e-5,
            "{what}: R² {} vs {r2}",
            r.r_squared
        );
        if let Some(adj) = want.get("adj_r_squared") {
            let adj = adj.as_f64().unwrap();
            assert!(
                (r.adj_r_squared.unwrap() - adj).abs() <= 1e-5,
                "{what}: adj R²"
            );
        }
        println!("{what}: max |Δcoef| = {ce:.2e}, max rel Δse = {se:.2e}");
    }
    assert!(mpc.to_string().contains("R-squared"));
}

/// Checks the fit `name` against its statsmodels fixture, in the default mode and in
/// few-rounds mode; the latter must take at most `few_bound` rounds (party 0's count: set
/// from the measurement, issue 19).
fn check_logistic(name: &str, few_bound: u64) {
    let c = case(name);
    let frame = load_frame(&c);
    let spec = logistic_spec(&c);
    let want = &c["result"];
    let disclosure = Disclosure::default();
    let twin = plain::logistic(&frame, &spec).unwrap();
    // The fit in the default mode and where rounds cost more than bytes
    // (`Party::few_rounds`: the sigmoid's sign beside its exponentials): the same results,
    // the latter in fewer rounds (party 0's count).
    let fit = |few: bool| {
        let rounds = std::sync::atomic::AtomicU64::new(0);
        let r = in_mpc(&frame, |p, fr| {
            p.set_few_rounds(few);
            p.barrier()?;
            let before = p.stats();
            let r = logistic::logistic(p, fr, &spec, &disclosure);
            if p.id() == 0 {
                let used = p.stats().since(&before).rounds;
                rounds.store(used, std::sync::atomic::Ordering::Relaxed);
            }
            r
        })
        .unwrap();
        (r, rounds.into_inner())
    };
    let ((mpc, rounds), (few, few_rounds)) = (fit(false), fit(true));
    println!("{name}: {rounds} rounds, few rounds: {few_rounds}");
    assert!(
        few_rounds < rounds,
        "{name}: {few_rounds} rounds in few-rounds mode, {rounds} by default"
    );
    assert!(
        few_rounds <= few_bound,
        "{name}: {few_rounds} rounds in few-rounds mode, more than the {few_bound} measured"
    );
    let ref_iters = want["iterations"].as_u64().unwrap() as usize;
    for (who, r) in [("plain", &twin), ("mpc", &mpc), ("mpc, few rounds", &few)] {
        let what = format!("{name} ({who})");
        let (ce, se) = compare(&what, &r.coefficients, want);
        assert_eq!(
            r.nobs as u64,
            want["nobs"].as_u64().unwrap(),
            "{what}: nobs"
        );
        let llf = want["llf"].as_f64().unwrap();
        assert!(
            (r.log_likelihood - llf).abs() <= 1e-6 * llf.abs() + 1e-4,
            "{what}: log-likelihood {} vs {llf}",
            r.log_likelihood
        );
        assert!(
            r.iterations <= ref_iters && r.iterations + 3 >= ref_iters,
            "{what}: {} iterations, reference {ref_iters}",
            r.iterations
        );
        println!(
            "{what}: max |Δcoef| = {ce:.2e}, max rel Δse = {se:.2e}, Δllf = {:.1e}, iterations {} (reference {ref_iters})",
            (r.log_likelihood - llf).abs(),
            r.iterations
        );
    }
    assert!(mpc.to_string().contains("Log-likelihood"));
}

#[test]
fn ols_stackloss() {
    check_ols("stackloss_ols");
}

#[test]
fn ols_stackloss_without_intercept() {
    check_ols("stackloss_ols_no_intercept");
}

#[test]
fn ols_synthetic_with_missing_values_and_categorical() {
    check_ols("synthetic_ols");
}

#[test]
fn ridge_synthetic() {
    check_ols("synthetic_ridge");
}

/// Rounds of the logistic fits in few-rounds mode (party 0): measured (350, 273, 395, 366)
/// with power-of-two scales, the last step's test beside the fit's end, variances without
/// square roots and the derivatives' products fused with their truncations (issue 19;
/// before: 579, 435, 651, 609), plus 20 for a warm-inverse or NEAR bit that the
/// fixed-point noise may flip; a whole Newton step more is about 40.
const SPECTOR_BOUND: u64 = 370;
/// As [`SPECTOR_BOUND`], without an intercept.
const SPECTOR_NO_INTERCEPT_BOUND: u64 = 293;
/// As [`SPECTOR_BOUND`], 2000 synthetic rows with missing values and a categorical covariate.
const SYNTHETIC_BOUND: u64 = 415;
/// As [`SYNTHETIC_BOUND`], with L2.
const SYNTHETIC_L2_BOUND: u64 = 386;

#[test]
fn logistic_spector() {
    check_logistic("spector_logit", SPECTOR_BOUND);
}

#[test]
fn logistic_synthetic_with_missing_values_and_categorical() {
    check_logistic("synthetic_logit", SYNTHETIC_BOUND);
}

#[test]
fn logistic_l2_synthetic() {
    check_logistic("synthetic_logit_l2", SYNTHETIC_L2_BOUND);
}

#[test]
fn disclosure_refuses_before_opening() {
    let c = case("synthetic_ols");
    let frame = load_frame(&c);
    let spec = ols_spec(&c);
    // The smallest level of `region` among the complete rows, from the plaintext design:
    // a level's rows have its indicator set, the reference level's have none set.
    let d = plain::design(&frame, &spec.outcome, &spec.covariates, true).unwrap();
    let dummies: Vec<usize> = (0..d.names.len())
        .filter(|&j| d.names[j].starts_with("region[T."))
        .collect();
    let reference =
        d.x.iter()
            .filter(|r| dummies.iter().all(|&j| r[j] == 0.0))
            .count();
    let min_level = dummies
        .iter()
        .map(|&j| d.x.iter().filter(|r| r[j] == 1.0).count())
        .chain([reference])
        .min()
        .unwrap() as u64;
    assert!(min_level > 100, "{min_level}");
    // 2000 linked rows, 1770 complete: `min_rows` 1800 passes the public check on the linked
    // rows and is refused inside MPC on the complete rows.
    for (d, rule) in [
        (
            Disclosure {
                min_rows: 1800,
                ..Disclosure::default()
            },
            "min_rows",
        ),
        (
            Disclosure {
                min_rows: 5000,
                ..Disclosure::default()
            },
            "min_rows",
        ),
        (
            // 14 variables: 0.0075 per row needs 1867 rows (public check passes on 2000).
            Disclosure {
                max_vars_per_row: 0.0075,
                ..Disclosure::default()
            },
            "max_vars_per_row",
        ),
        (
            Disclosure {
                max_vars_per_row: 0.005,
                ..Disclosure::default()
            },
            "max_vars_per_row",
        ),
    ] {
        let e = in_mpc(&frame, |p, fr| ols::ols(p, fr, &spec, &d)).unwrap_err();
        assert!(e.contains(rule), "{e}");
        let lspec = LogisticSpec {
            outcome: "event".into(),
            covariates: spec.covariates.clone(),
            intercept: true,
            l2: 0.0,
            max_steps: 50,
            conf_level: 0.95,
            holdout: None,
            calibration: false,
            groups: None,
        };
        let e = in_mpc(&frame, |p, fr| logistic::logistic(p, fr, &lspec, &d)).unwrap_err();
        assert!(e.contains(rule), "{e}");
    }
    // Column rules hold for direct calls too (not only through `analysis::run`).
    let no_x1 = Disclosure {
        disallowed_columns: vec!["x1".into()],
        ..Disclosure::default()
    };
    let e = in_mpc(&frame, |p, fr| ols::ols(p, fr, &spec, &no_x1)).unwrap_err();
    assert!(e.contains("disallowed_columns"), "{e}");
    // A rule that holds lets the analysis through (the bits are not inverted).
    let ok = Disclosure {
        min_rows: 1770,
        max_vars_per_row: 14.0 / 1770.0,
        min_level_rows: min_level,
        ..Disclosure::default()
    };
    in_mpc(&frame, |p, fr| ols::ols(p, fr, &spec, &ok)).unwrap();
    // One more row per level than the smallest level has: refused by `min_level_rows`.
    let strict = Disclosure {
        min_level_rows: min_level + 1,
        ..Disclosure::default()
    };
    let e = in_mpc(&frame, |p, fr| ols::ols(p, fr, &spec, &strict)).unwrap_err();
    assert!(e.contains("min_level_rows"), "{e}");
}

#[test]
fn bad_input_is_an_error() {
    let c = case("stackloss_ols");
    let frame = load_frame(&c);
    let base = ols_spec(&c);
    let d = Disclosure::default();
    let cases = [
        (
            OlsSpec {
                covariates: vec!["NOPE".into()],
                ..base.clone()
            },
            "no column",
        ),
        (
            OlsSpec {
                covariates: vec![],
                ..base.clone()
            },
            "at least one covariate",
        ),
        (
            OlsSpec {
                covariates: vec!["AIRFLOW".into(), "AIRFLOW".into()],
                ..base.clone()
            },
            "twice",
        ),
        (
            OlsSpec {
                ridge: -1.0,
                ..base.clone()
            },
            "ridge",
        ),
        (
            OlsSpec {
                conf_level: 1.5,
                ..base.clone()
            },
            "conf_level",
        ),
    ];
    for (spec, msg) in cases {
        let e = in_mpc(&frame, |p, fr| ols::ols(p, fr, &spec, &d)).unwrap_err();
        assert!(e.contains(msg), "{e}");
    }
}

#[test]
fn analysis_entry_point_renders_ols_and_logistic() {
    use tessera_stats::analysis::{run, AnalysisSpec};
    let c = case("spector_logit");
    let frame = load_frame(&c);
    let spec = AnalysisSpec::Logistic(logistic_spec(&c));
    let d = Disclosure::default();
    let out = in_mpc(&frame, |p, fr| ran(&spec, run(p, fr, &spec, &d))).unwrap();
    assert_eq!(out.kind, "logistic");
    assert_eq!(out.json["nobs"], 32);
    assert!(out.text.contains("GPA"), "{}", out.text);
    println!("{}", out.text);
    let c = case("stackloss_ols");
    let frame = load_frame(&c);
    let spec = AnalysisSpec::Ols(ols_spec(&c));
    let out = in_mpc(&frame, |p, fr| ran(&spec, run(p, fr, &spec, &d))).unwrap();
    assert_eq!(out.kind, "ols");
    println!("{}", out.text);
}

#[test]
fn logistic_spector_without_intercept() {
    check_logistic("spector_logit_no_intercept", SPECTOR_NO_INTERCEPT_BOUND);
}

#[test]
fn logistic_step_limit_is_an_error() {
    let c = case("spector_logit");
    let frame = load_frame(&c);
    let spec = LogisticSpec {
        max_steps: 2,
        ..logistic_spec(&c)
    };
    let d = Disclosure::default();
    let e = in_mpc(&frame, |p, fr| logistic::logistic(p, fr, &spec, &d)).unwrap_err();
    assert!(e.contains("did not converge in 2"), "{e}");
    assert!(plain::logistic(&frame, &spec).is_err());
}

#[test]
fn logistic_refuses_a_non_binary_outcome() {
    let c = case("spector_logit");
    let spec = logistic_spec(&c);
    let d = Disclosure::default();
    for bad in [0.5, 2.0, -1.0] {
        let mut frame = load_frame(&c);
        let col = frame
            .columns
            .iter_mut()
            .find(|c| c.name == "GRADE")
            .unwrap();
        if let PlainData::Numeric(v) = &mut col.data {
            v[7] = Some(bad);
        }
        let e = in_mpc(&frame, |p, fr| logistic::logistic(p, fr, &spec, &d)).unwrap_err();
        assert!(e.contains("must be 0 or 1"), "{e}");
        assert!(plain::logistic(&frame, &spec).is_err());
    }
    // A non-binary value in a row that is not used (a covariate missing) is not an error.
    let mut frame = load_frame(&c);
    for col in frame.columns.iter_mut() {
        if let PlainData::Numeric(v) = &mut col.data {
            match col.name.as_str() {
                "GRADE" => v[7] = Some(0.5),
                "GPA" => v[7] = None,
                _ => {}
            }
        }
    }
    in_mpc(&frame, |p, fr| logistic::logistic(p, fr, &spec, &d)).unwrap();
    plain::logistic(&frame, &spec).unwrap();
}

/// Covariates on very different scales (income in the tens of thousands, a proportion in the
/// thousandths): the opened coefficients and standard errors keep their relative precision
/// against the plaintext twin, and the sums stay within range.
#[test]
fn wide_scales_keep_relative_precision() {
    let n = 3000;
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut unif = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut normal = move || {
        let (u, v) = (unif().max(1e-300), unif());
        (
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos(),
            v,
        )
    };
    let mut income = Vec::new();
    let mut small = Vec::new();
    let mut age = Vec::new();
    let mut grp = Vec::new();
    let mut y = Vec::new();
    let mut event = Vec::new();
    for i in 0..n {
        let (z1, u) = normal();
        let (z2, _) = normal();
        let (z3, _) = normal();
        let (e, w) = normal();
        let inc = 5e4 + 3e4 * z1;
        let sm = 0.002 + 0.01 * z2;
        let a = 60.0 + 10.0 * z3;
        let g = (u * 3.0) as usize;
        let eta = 2.0 + 3e-5 * inc + 30.0 * sm - 0.05 * a + [0.0, 0.7, -0.4][g];
        income.push((i % 97 != 0).then_some((inc * 100.0).round() / 100.0));
        small.push(Some(sm));
        age.push(Some(a));
        grp.push(Some(g));
        y.push(Some(eta + e));
        let lin = -0.5 + 2e-5 * (inc - 5e4) + 20.0 * sm - 0.03 * (a - 60.0);
        event.push(Some(f64::from(u8::from(w < 1.0 / (1.0 + (-lin).exp())))));
    }
    let frame = PlainFrame::new(vec![
        PlainColumn {
            name: "income".into(),
            data: PlainData::Numeric(income),
        },
        PlainColumn {
            name: "small".into(),
            data: PlainData::Numeric(small),
        },
        PlainColumn {
            name: "age".into(),
            data: PlainData::Numeric(age),
        },
        PlainColumn {
            name: "grp".into(),
            data: PlainData::Categorical {
                levels: vec!["a".into(), "b".into(), "c".into()],
                codes: grp,
            },
        },
        PlainColumn {
            name: "y".into(),
            data: PlainData::Numeric(y),
        },
        PlainColumn {
            name: "event".into(),
            data: PlainData::Numeric(event),
        },
    ])
    .unwrap();
    let covariates: Vec<String> = ["income", "small", "age", "grp"].map(String::from).to_vec();
    let d = Disclosure::default();
    let check = |what: &str, got: &[Coefficient], want: &[Coefficient]| {
        for (g, w) in got.iter().zip(want) {
            let (gs, ws) = (g.std_err.unwrap(), w.std_err.unwrap());
            assert!(
                (g.coef - w.coef).abs() <= 1e-4 * w.coef.abs() + 1e-6 * ws,
                "{what}: {} {} vs {}",
                g.name,
                g.coef,
                w.coef
            );
            assert!(
                (gs - ws).abs() <= 1e-3 * ws,
                "{what}: se of {} {gs} vs {ws}",
                g.name
            );
        }
    };
    let ospec = OlsSpec {
        outcome: "y".into(),
        covariates: covariates.clone(),
        intercept: true,
        ridge: 0.0,
        conf_level: 0.95,
    };
    let want = plain::ols(&frame, &ospec).unwrap();
    let got = in_mpc(&frame, |p, fr| ols::ols(p, fr, &ospec, &d)).unwrap();
    check("ols", &got.coefficients, &want.coefficients);
    let lspec = LogisticSpec {
        outcome: "event".into(),
        covariates,
        intercept: true,
        l2: 0.0,
        max_steps: 50,
        conf_level: 0.95,
        holdout: None,
        calibration: false,
        groups: None,
    };
    let want = plain::logistic(&frame, &lspec).unwrap();
    let got = in_mpc(&frame, |p, fr| logistic::logistic(p, fr, &lspec, &d)).unwrap();
    check("logistic", &got.coefficients, &want.coefficients);
    assert!((got.log_likelihood - want.log_likelihood).abs() < 1e-4);
}

#[test]
fn constant_column_is_an_error() {
    let c = case("stackloss_ols");
    let mut frame = load_frame(&c);
    frame
        .columns
        .push(PlainColumn::numeric("CONST", &[3.0; 21]));
    let spec = OlsSpec {
        covariates: vec!["AIRFLOW".into(), "CONST".into()],
        ..ols_spec(&c)
    };
    let d = Disclosure::default();
    let e = in_mpc(&frame, |p, fr| ols::ols(p, fr, &spec, &d)).unwrap_err();
    assert!(e.contains("variance outside"), "{e}");
    assert!(plain::ols(&frame, &spec).is_err());
}
