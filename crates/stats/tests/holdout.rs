//! Hold-out validation of a logistic model (`holdout` on `kind = "logistic"`).
//!
//! - The plaintext twin against R on fixed splits (`fixtures/auc/holdout.json`, made by
//!   `fixtures/auc/make_holdout.R`: glm on the training rows, pROC and rms::val.prob on the
//!   test rows; R is not needed here).
//! - MPC against the twin. The split is secret and random, so the test recovers it from
//!   what the recipients receive: with one binary covariate, the training fit is a function
//!   of the training rows' four (covariate, outcome) counts, which the opened intercept,
//!   slope and standard errors determine; every split with those counts gives the same
//!   validation, so the twin on such a split must agree with the MPC in every figure. It
//!   fails if the MPC's test rows are not the complement of its training rows, or if any
//!   figure of the validation is wrong.
//! - The researcher playing: `holdout` of 0, 1, 1.5, NaN; a test set below `min_rows`;
//!   calibration or groups without holdout.

mod common;
use common::{csv_frame, frame, in_mpc, no_limits, numeric_frame, root};

use serde_json::Value;
use tessera_stats::analysis::LogisticSpec;
use tessera_stats::ranges::check_params;
use tessera_stats::regression::holdout::{holdout_plain, training_positions};
use tessera_stats::regression::{logistic, LogisticResult};
use tessera_stats::{AnalysisSpec, Disclosure, PlainColumn, PlainData, PlainFrame};

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(root().join("fixtures/auc/holdout.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn spec_of(c: &Value) -> LogisticSpec {
    let calibration = c["calibration"] == true;
    LogisticSpec {
        outcome: c["outcome"].as_str().unwrap().into(),
        covariates: c["covariates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect(),
        intercept: true,
        l2: 0.0,
        max_steps: 50,
        conf_level: c["conf"].as_f64().unwrap(),
        holdout: c["holdout"].as_f64(),
        calibration,
        groups: calibration.then(|| c["groups"].as_u64().unwrap() as usize),
    }
}

fn close(what: &str, got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "{what}: {got} vs {want}");
}

fn rel(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol * want.abs(),
        "{what}: {got} vs {want}"
    );
}

#[test]
fn twin_matches_r_on_fixed_splits() {
    for c in &cases() {
        let name = c["name"].as_str().unwrap();
        let data = match c["data"].as_str().unwrap() {
            "synthetic" => csv_frame("fixtures/auc/holdout.csv", &[]),
            d => frame(d, &[]),
        };
        let test: Vec<usize> = floats(&c["test_rows"])
            .iter()
            .map(|&i| i as usize)
            .collect();
        // The fixture's test set has the MPC's size for this table and fraction.
        let spec = spec_of(c);
        let t = training_positions(data.rows, spec.holdout.unwrap()).unwrap();
        assert_eq!(test.len(), data.rows - t, "{name}: test positions");
        let got = holdout_plain(&data, &spec, &test, &no_limits()).unwrap();
        let v = got.validation.as_ref().unwrap();
        assert_eq!(v.n_train as f64, c["n_train"].as_f64().unwrap(), "{name}");
        assert_eq!(v.n_test as f64, c["n_test"].as_f64().unwrap(), "{name}");
        assert_eq!(
            got.nobs, v.n_train,
            "{name}: the fit is on the training rows"
        );
        for (j, (b, se)) in floats(&c["coef"])
            .iter()
            .zip(floats(&c["coef_se"]))
            .enumerate()
        {
            close(
                &format!("{name} coef {j}"),
                got.coefficients[j].coef,
                *b,
                1e-6,
            );
            rel(
                &format!("{name} se {j}"),
                got.coefficients[j].std_err.unwrap(),
                se,
                1e-6,
            );
        }
        let a = &v.test;
        assert_eq!(a.cases as f64, c["cases"].as_f64().unwrap(), "{name}");
        assert_eq!(a.controls as f64, c["controls"].as_f64().unwrap(), "{name}");
        close(
            &format!("{name} auc"),
            a.auc,
            c["auc"].as_f64().unwrap(),
            1e-9,
        );
        rel(&format!("{name} se"), a.se, c["se"].as_f64().unwrap(), 1e-6);
        close(
            &format!("{name} lower"),
            a.lower,
            c["lower"].as_f64().unwrap(),
            1e-9,
        );
        close(
            &format!("{name} upper"),
            a.upper,
            c["upper"].as_f64().unwrap(),
            1e-9,
        );
        match (&a.calibration, spec.calibration) {
            (None, false) => {}
            (Some(k), true) => {
                let val = |key: &str| c[key].as_f64().unwrap();
                close(
                    &format!("{name} intercept"),
                    k.intercept.coef,
                    val("intercept"),
                    1e-4,
                );
                close(&format!("{name} slope"), k.slope.coef, val("slope"), 1e-4);
                rel(
                    &format!("{name} intercept se"),
                    k.intercept.std_err.unwrap(),
                    val("intercept_se"),
                    1e-3,
                );
                rel(
                    &format!("{name} slope se"),
                    k.slope.std_err.unwrap(),
                    val("slope_se"),
                    1e-3,
                );
                close(&format!("{name} brier"), k.brier, val("brier"), 1e-9);
                let (ns, ev, pr) = (
                    floats(&c["table_n"]),
                    floats(&c["table_events"]),
                    floats(&c["table_predicted"]),
                );
                assert_eq!(k.table.len(), ns.len(), "{name}: groups");
                for (b, g) in k.table.iter().enumerate() {
                    assert_eq!(g.n as f64, ns[b], "{name}: group {b} rows");
                    assert_eq!(g.events.unwrap() as f64, ev[b], "{name}: group {b} events");
                    close(
                        &format!("{name} group {b} predicted"),
                        g.predicted.unwrap(),
                        pr[b],
                        1e-4,
                    );
                }
            }
            _ => panic!("{name}: calibration shown iff asked"),
        }
    }
}

/// One binary covariate `a.x` and a 0/1 outcome `a.y`: `counts[x][y]` rows of each kind,
/// then `missing` rows without `x`.
fn binary_table(counts: [[usize; 2]; 2], missing: usize) -> PlainFrame {
    let mut x = Vec::new();
    let mut y = Vec::new();
    // Interleaved, so that the input order says nothing about the kind.
    let mut left = counts;
    while left.iter().flatten().any(|&c| c > 0) {
        for (xi, row) in left.iter_mut().enumerate() {
            for (yi, c) in row.iter_mut().enumerate() {
                if *c > 0 {
                    *c -= 1;
                    x.push(Some(xi as f64));
                    y.push(Some(yi as f64));
                }
            }
        }
    }
    for i in 0..missing {
        x.push(None);
        y.push(Some((i % 2) as f64));
    }
    PlainFrame::new(vec![
        PlainColumn {
            name: "a.x".into(),
            data: PlainData::Numeric(x),
        },
        PlainColumn {
            name: "a.y".into(),
            data: PlainData::Numeric(y),
        },
    ])
    .unwrap()
}

fn binary_spec(holdout: f64, calibration: bool) -> LogisticSpec {
    LogisticSpec {
        outcome: "a.y".into(),
        covariates: vec!["a.x".into()],
        intercept: true,
        l2: 0.0,
        max_steps: 50,
        conf_level: 0.95,
        holdout: Some(holdout),
        calibration,
        groups: calibration.then_some(4),
    }
}

/// The training counts `[x][y]` that give the fit `r`: `b0 = ln(n01/n00)`,
/// `b1 = ln(n11/n10) − b0`, `se0² = 1/n00 + 1/n01`, `n = Σ`. Panics unless exactly one
/// candidate within the populations `pop` fits.
fn training_counts(r: &LogisticResult, pop: [[usize; 2]; 2]) -> [[usize; 2]; 2] {
    let (b0, b1) = (r.coefficients[0].coef, r.coefficients[1].coef);
    let se0 = r.coefficients[0].std_err.unwrap();
    let mut found = Vec::new();
    for a in 1..=pop[0][0] {
        for b in 1..=pop[0][1] {
            let (af, bf) = (a as f64, b as f64);
            if ((bf / af).ln() - b0).abs() > 1e-4 || (1.0 / af + 1.0 / bf - se0 * se0).abs() > 1e-5
            {
                continue;
            }
            for c in 1..=pop[1][0] {
                let Some(d) = r.nobs.checked_sub(a + b + c) else {
                    continue;
                };
                if d == 0 || d > pop[1][1] {
                    continue;
                }
                if ((d as f64 / c as f64).ln() - (bf / af).ln() - b1).abs() < 1e-4 {
                    found.push([[a, b], [c, d]]);
                }
            }
        }
    }
    assert_eq!(
        found.len(),
        1,
        "training counts fitting the MPC's fit: {found:?}"
    );
    found[0]
}

/// A split with the given training counts: the first rows of each kind train, the rest
/// (and the incomplete rows, which no set uses) are the test rows.
fn split_with(frame: &PlainFrame, train: [[usize; 2]; 2]) -> Vec<usize> {
    let x = frame.numeric("a.x").unwrap();
    let y = frame.numeric("a.y").unwrap();
    let mut left = train;
    (0..frame.rows)
        .filter(|&i| match (x[i], y[i]) {
            (Some(xi), Some(yi)) => {
                let c = &mut left[xi as usize][yi as usize];
                if *c > 0 {
                    *c -= 1;
                    false
                } else {
                    true
                }
            }
            _ => true,
        })
        .collect()
}

#[test]
fn mpc_matches_the_twin_on_the_split_it_drew() {
    let pop = [[70, 50], [45, 75]];
    let table = binary_table(pop, 8);
    for (holdout, calibration) in [(0.3, true), (0.5, false)] {
        let spec = binary_spec(holdout, calibration);
        let got = in_mpc(&table, |p, fr| {
            logistic::logistic(p, fr, &spec, &no_limits())
        })
        .unwrap();
        let v = got.validation.as_ref().expect("validation");
        let total = table.rows;
        let t = training_positions(total, holdout).unwrap();
        assert_eq!(v.n_train + v.n_test, 240, "complete rows in the two sets");
        assert!(v.n_train <= t && v.n_train + 8 >= t, "{}", v.n_train);
        let train = training_counts(&got, pop);
        let test = split_with(&table, train);
        let twin = holdout_plain(&table, &spec, &test, &no_limits()).unwrap();
        let w = twin.validation.as_ref().unwrap();
        assert_eq!((v.n_train, v.n_test), (w.n_train, w.n_test));
        for (g, r) in got.coefficients.iter().zip(&twin.coefficients) {
            close("coef", g.coef, r.coef, 1e-4);
            rel("coef se", g.std_err.unwrap(), r.std_err.unwrap(), 1e-3);
        }
        let (a, b) = (&v.test, &w.test);
        assert_eq!((a.cases, a.controls), (b.cases, b.controls));
        // The AUC's sums are exact integers: equal to f64 rounding.
        close("auc", a.auc, b.auc, 1e-12);
        close("auc se", a.se, b.se, 1e-12);
        close("lower", a.lower, b.lower, 1e-12);
        close("upper", a.upper, b.upper, 1e-12);
        match (&a.calibration, &b.calibration) {
            (None, None) => assert!(!calibration),
            (Some(k), Some(l)) => {
                close("intercept", k.intercept.coef, l.intercept.coef, 1e-4);
                close("slope", k.slope.coef, l.slope.coef, 1e-4);
                rel(
                    "slope se",
                    k.slope.std_err.unwrap(),
                    l.slope.std_err.unwrap(),
                    1e-3,
                );
                close("brier", k.brier, l.brier, 1e-5);
                // Group sizes and mean predictions do not depend on the order of tied
                // rows; the events of a group cut through a tie do, but not their total.
                let mut events = (0, 0);
                for (g, h) in k.table.iter().zip(&l.table) {
                    assert_eq!(g.n, h.n);
                    close(
                        "group predicted",
                        g.predicted.unwrap(),
                        h.predicted.unwrap(),
                        1e-4,
                    );
                    events.0 += g.events.unwrap();
                    events.1 += h.events.unwrap();
                }
                assert_eq!(events.0, events.1);
                assert_eq!(events.0, a.cases);
            }
            _ => panic!("calibration in one only"),
        }
    }
}

#[test]
fn the_researcher_playing() {
    let pop = [[70, 50], [45, 75]];
    let table = binary_table(pop, 8);
    let logistic = |spec: &LogisticSpec, d: &Disclosure| {
        in_mpc(&table, |p, fr| logistic::logistic(p, fr, spec, d))
    };
    // `holdout` must be a fraction strictly between 0 and 1: refused by the validator's
    // check, in MPC before anything is computed, and by the twin.
    for bad in [0.0, 1.0, 1.5, f64::NAN, -0.2] {
        let spec = binary_spec(bad, false);
        let e = check_params(&AnalysisSpec::Logistic(spec.clone()), 24).unwrap_err();
        assert!(e.to_string().contains("holdout"), "{e}");
        let e = logistic(&spec, &no_limits()).unwrap_err();
        assert!(e.contains("`holdout` must be a fraction"), "{e}");
        let e = holdout_plain(&table, &spec, &[0, 1], &no_limits()).unwrap_err();
        assert!(
            e.to_string().contains("`holdout` must be a fraction"),
            "{e}"
        );
    }
    // Calibration, or groups, without holdout; groups without calibration, or out of range.
    let plain_fit = LogisticSpec {
        holdout: None,
        ..binary_spec(0.3, true)
    };
    for (spec, field) in [
        (plain_fit.clone(), "calibration"),
        (
            LogisticSpec {
                calibration: false,
                ..plain_fit.clone()
            },
            "groups",
        ),
        (
            LogisticSpec {
                groups: Some(4),
                ..binary_spec(0.3, false)
            },
            "groups",
        ),
        (
            LogisticSpec {
                groups: Some(1),
                ..binary_spec(0.3, true)
            },
            "groups",
        ),
    ] {
        let e = check_params(&AnalysisSpec::Logistic(spec.clone()), 24).unwrap_err();
        assert!(e.to_string().contains(field), "{e}");
        let e = logistic(&spec, &no_limits()).unwrap_err();
        assert!(e.contains(&format!("`{field}`")), "{e}");
    }
    // A test set below min_rows, although all complete rows pass it: refused after the
    // two counts are opened, naming the test set; the twin alike.
    let rules = Disclosure {
        min_rows: 30,
        ..no_limits()
    };
    let small = binary_spec(0.08, false);
    let e = logistic(&small, &rules).unwrap_err();
    assert!(
        e.contains("hold-out test set") && e.contains("min_rows"),
        "{e}"
    );
    let test: Vec<usize> = (0..20).collect();
    let e = holdout_plain(&table, &small, &test, &rules).unwrap_err();
    assert!(e.to_string().contains("hold-out test set"), "{e}");
    // And the training set below min_rows.
    let e = logistic(&binary_spec(0.92, false), &rules).unwrap_err();
    assert!(e.contains("hold-out training set"), "{e}");
    // `max_vars_per_row` on the training rows: 2 variables at most one per 100 rows pass
    // on all 240 complete rows, not on a training set of about 72.
    let sparse = Disclosure {
        max_vars_per_row: 0.01,
        ..no_limits()
    };
    let e = logistic(&binary_spec(0.7, false), &sparse).unwrap_err();
    assert!(
        e.contains("hold-out training set") && e.contains("max_vars_per_row"),
        "{e}"
    );
    // The same study without holdout is today's fit on every complete row.
    let spec = LogisticSpec {
        holdout: None,
        calibration: false,
        groups: None,
        ..binary_spec(0.3, false)
    };
    let r = logistic(&spec, &rules).unwrap();
    assert_eq!(r.nobs, 240);
    assert!(r.validation.is_none());
}

/// The wide sort on many distinct predictors of both signs: a continuous covariate that
/// separates the outcome (`y = [x > 0]`), fitted with an L2 penalty so that the fit exists.
/// Whatever the split, the held-out predictions rank every case above every control: AUC
/// 1 with standard error 0, in MPC and in the twin on any split.
#[test]
fn separating_predictions_give_auc_one_whatever_the_split() {
    let n = 160;
    let x: Vec<Option<f64>> = (0..n)
        .map(|i| Some(((i * 37) % n) as f64 / 40.0 - 2.0 + 1.0 / 80.0))
        .collect();
    let y: Vec<Option<f64>> = x
        .iter()
        .map(|v| Some(f64::from(v.unwrap() > 0.0)))
        .collect();
    let table = numeric_frame(vec![("a.x", x), ("a.y", y)]);
    let spec = LogisticSpec {
        l2: 40.0,
        ..binary_spec(0.4, false)
    };
    let got = in_mpc(&table, |p, fr| {
        logistic::logistic(p, fr, &spec, &no_limits())
    })
    .unwrap();
    let v = got.validation.as_ref().unwrap();
    assert_eq!((v.n_train, v.n_test), (96, 64));
    assert!(v.test.cases > 10 && v.test.controls > 10, "{:?}", v.test);
    assert_eq!((v.test.auc, v.test.se), (1.0, 0.0));
    let test: Vec<usize> = (0..n).filter(|i| i % 5 < 2).collect();
    let twin = holdout_plain(&table, &spec, &test, &no_limits()).unwrap();
    let w = twin.validation.as_ref().unwrap();
    assert_eq!((w.n_test, w.test.auc, w.test.se), (64, 1.0, 0.0));
}

/// As a study runs it: `analysis::run` at the three compute parties, the public facts as
/// text (as a station stores them), the recipient's reconstruction and `analysis::open`.
/// The opened result is the training fit with its validation (sizes adding up, the AUC of
/// the test rows, the calibration table), and the public facts hold the two set sizes but
/// no figure of the validation.
#[test]
fn a_study_runs_and_opens_it() {
    use tessera_mpc::output::reconstruct_shares;
    use tessera_mpc::testing::run3_with_timeout;
    use tessera_mpc::MpcError;
    use tessera_stats::analysis;
    use tessera_stats::Frame;

    // A clear signal (AUC 0.75 in the population): the test rows are a secret random 30 %
    // (about 72), whose AUC has a standard error near 0.06, so "better than chance" holds
    // but for about 4 standard errors. (With 70/50 against 45/75, AUC 0.60, it failed about
    // one run in twenty.)
    let table = binary_table([[90, 30], [30, 90]], 8);
    let spec = AnalysisSpec::Logistic(binary_spec(0.3, true));
    let ends = run3_with_timeout(std::time::Duration::from_secs(300), |p| {
        let fr = Frame::share(p, 0, &table).map_err(|e| MpcError::Invalid(e.to_string()))?;
        analysis::run(p, &fr, &spec, &no_limits()).map_err(|e| MpcError::Invalid(e.to_string()))
    });
    let [a, b, c] = ends.map(Result::unwrap);
    assert!(a.public == b.public && b.public == c.public);
    let public: Value = serde_json::from_str(&a.public.to_string()).unwrap();
    let v = &public["validation"];
    assert!(v["n_train"].is_u64() && v["n_test"].is_u64(), "{public}");
    assert!(v["auc"]["shown"].is_array(), "{public}");
    for figure in ["\"auc\":0.", "brier", "slope"] {
        assert!(!a.public.to_string().contains(figure), "{public}");
    }
    let values = reconstruct_shares([&a.shares, &b.shares, &c.shares]).unwrap();
    let out = analysis::open(&spec, &public, &values).unwrap();
    let r = &out.json;
    let (n_train, n_test) = (
        r["validation"]["n_train"].as_u64().unwrap(),
        r["validation"]["n_test"].as_u64().unwrap(),
    );
    assert_eq!(n_train + n_test, 240);
    assert_eq!(r["nobs"].as_u64().unwrap(), n_train);
    let t = &r["validation"]["test"];
    assert_eq!(t["score"], "predicted");
    assert_eq!(t["n"].as_u64().unwrap(), n_test);
    let auc = t["auc"].as_f64().unwrap();
    assert!(auc > 0.5 && auc < 1.0, "{auc}");
    assert!(t["calibration"]["table"].as_array().unwrap().len() == 4);
    assert!(out.text.contains("Hold-out validation"), "{}", out.text);
}
