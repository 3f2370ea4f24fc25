//! The penalised Cox model (`kind = "elasticnet"`, `family = "cox"`) in the plaintext twin
//! against glmnet (`fixtures/enet/coxnet.json`, made by `fixtures/enet/make_coxnet.R`):
//! the path's coefficients at every λ, the grid, the non-zero counts, the grouped
//! cross-validated deviance with glmnet's fold ids and the choice of λ; then the
//! researcher's refusals; then the fit inside MPC against the twin (the same schedule:
//! 1e-4) and glmnet, its cross-validation with secret random folds against the twin's over
//! random fold assignments, and the refusals inside MPC. Run with `--nocapture` to see the
//! largest errors measured.

mod common;
use common::{csv, floats, in_mpc, Rng};

use serde_json::Value;
use tessera_stats::regression::enet::mpc::{elasticnet, elasticnet_path};
use tessera_stats::regression::enet::plain::{elasticnet as twin, folds_in_order};
use tessera_stats::regression::enet::{ElasticNetResult, ElasticNetSpec, Family, Measure};
use tessera_stats::{Disclosure, PlainColumn, PlainData, PlainFrame};

/// Asked of the path: 1e-4 absolute at every λ (the issue's 1e-3, aimed at 1e-4).
const COEF_ABS: f64 = 1e-4;
/// Asked of `cvm` and `cvsd`: 1e-3 relative.
const CV_REL: f64 = 1e-3;

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(common::root().join("fixtures/enet/coxnet.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn case(name: &str) -> Value {
    cases().into_iter().find(|c| c["name"] == name).unwrap()
}

fn frame_of(c: &Value) -> PlainFrame {
    let cols = csv(&format!("fixtures/enet/{}", c["data"].as_str().unwrap()));
    let wanted: Vec<&str> = c["covariates"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&c["time"], &c["event"]])
        .map(|s| s.as_str().unwrap())
        .collect();
    let mut names: Vec<&String> = cols
        .keys()
        .filter(|k| wanted.contains(&k.as_str()))
        .collect();
    names.sort();
    PlainFrame::new(
        names
            .into_iter()
            .map(|n| PlainColumn {
                name: n.clone(),
                data: PlainData::Numeric(cols[n].clone()),
            })
            .collect(),
    )
    .unwrap()
}

fn spec_of(c: &Value) -> ElasticNetSpec {
    ElasticNetSpec {
        outcome: String::new(),
        time: Some(c["time"].as_str().unwrap().into()),
        event: Some(c["event"].as_str().unwrap().into()),
        covariates: c["covariates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect(),
        family: Family::Cox,
        alpha: c["alpha"].as_f64().unwrap(),
        nlambda: c["nlambda"].as_u64().unwrap() as usize,
        lambda_min_ratio: c["lambda_min_ratio"].as_f64(),
        lambda: None,
        folds: c["folds"].as_u64().unwrap() as usize,
        sweeps: None,
        steps: None,
        type_measure: Measure::Deviance,
    }
}

fn run_twin(c: &Value, spec: &ElasticNetSpec) -> ElasticNetResult {
    let n = c["nobs"].as_u64().unwrap() as usize;
    twin(&frame_of(c), spec, &folds_in_order(n, spec.folds)).unwrap()
}

/// Largest absolute difference of the path from glmnet's (λ within 1e-6 relative); panics
/// beyond `tol`.
fn compare_path(what: &str, r: &ElasticNetResult, c: &Value, tol: f64) -> f64 {
    let lambda = floats(&c["lambda"]);
    assert_eq!(r.lambda.len(), lambda.len(), "{what}: nlambda");
    let mut worst = 0.0f64;
    for (l, want) in c["coef"].as_array().unwrap().iter().enumerate() {
        let rel = (r.lambda[l] - lambda[l]).abs() / lambda[l];
        assert!(
            rel < 1e-6,
            "{what}: λ[{l}] {} vs {}",
            r.lambda[l],
            lambda[l]
        );
        for (j, w) in floats(want).iter().enumerate() {
            let e = (r.path[l][j] - w).abs();
            worst = worst.max(e);
            assert!(
                e <= tol,
                "{what}: λ #{l} coefficient {} is {}, glmnet {w}",
                r.names[j],
                r.path[l][j]
            );
        }
    }
    worst
}

fn index(c: &Value, key: &str) -> usize {
    c[key].as_u64().unwrap() as usize - 1
}

#[test]
fn twin_matches_glmnet_path_and_cv_with_its_folds() {
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let spec = spec_of(&c);
        let r = run_twin(&c, &spec);
        assert_eq!(r.family, Family::Cox);
        assert_eq!(r.names, spec.covariates, "{name}: no intercept");
        assert_eq!(
            r.outcome,
            format!("Surv({}, {})", c["time"], c["event"]).replace('"', "")
        );
        let worst = compare_path(name, &r, &c, COEF_ABS);
        let df: Vec<usize> = floats(&c["df"]).iter().map(|&v| v as usize).collect();
        assert_eq!(r.nonzero, df, "{name}: non-zero coefficients per λ");
        let (cvm, cvsd) = (floats(&c["cvm"]), floats(&c["cvsd"]));
        let mut cv_worst = 0.0f64;
        for l in 0..cvm.len() {
            let e = ((r.cvm[l] - cvm[l]) / cvm[l])
                .abs()
                .max(((r.cvsd[l] - cvsd[l]) / cvsd[l]).abs());
            cv_worst = cv_worst.max(e);
            assert!(
                e < CV_REL,
                "{name}: cvm/cvsd at #{l}: {} {} vs glmnet {} {}",
                r.cvm[l],
                r.cvsd[l],
                cvm[l],
                cvsd[l]
            );
        }
        assert_eq!(r.index_min, index(&c, "index_min"), "{name}: lambda.min");
        assert_eq!(r.index_1se, index(&c, "index_1se"), "{name}: lambda.1se");
        assert_eq!(r.fold_rows.iter().sum::<usize>(), r.nobs);
        println!(
            "{name} (twin, {} steps × {} sweeps): path within {worst:.2e}, cv curve within \
             {cv_worst:.2e} rel",
            r.steps, r.sweeps
        );
    }
}

/// The schedule matters: one Newton step of one sweep per λ is far from glmnet, so the
/// comparison above can fail; more steps only get closer.
#[test]
fn schedule_converges_towards_glmnet() {
    let c = case("cox_lasso");
    let mut last = f64::INFINITY;
    for (steps, sweeps) in [(1, 1), (2, 2), (4, 3), (8, 6)] {
        let spec = ElasticNetSpec {
            steps: Some(steps),
            sweeps: Some(sweeps),
            ..spec_of(&c)
        };
        let r = run_twin(&c, &spec);
        let worst = compare_path("schedule", &r, &c, 1.0);
        println!("cox_lasso: {steps} steps × {sweeps} sweeps: within {worst:.2e}");
        if steps == 1 {
            assert!(
                worst > 1e-3,
                "one step of one sweep is not converged: {worst}"
            );
        }
        assert!(
            worst <= last * 1.01,
            "more work, farther from glmnet: {worst}"
        );
        last = worst;
    }
}

fn refused(frame: &PlainFrame, spec: &ElasticNetSpec, n: usize) -> String {
    twin(frame, spec, &folds_in_order(n, spec.folds))
        .unwrap_err()
        .to_string()
}

/// A copy of `frame` with column `name` replaced.
fn with_column(frame: &PlainFrame, name: &str, f: impl Fn(usize, f64) -> f64) -> PlainFrame {
    PlainFrame::new(
        frame
            .columns
            .iter()
            .map(|col| match &col.data {
                PlainData::Numeric(v) if col.name == name => PlainColumn {
                    name: col.name.clone(),
                    data: PlainData::Numeric(
                        v.iter()
                            .enumerate()
                            .map(|(i, x)| x.map(|x| f(i, x)))
                            .collect(),
                    ),
                },
                _ => col.clone(),
            })
            .collect(),
    )
    .unwrap()
}

/// The researcher's mistakes, each refused with the field and what is allowed.
#[test]
fn researcher_refusals() {
    let c = case("rossi_cox_lasso");
    let (frame, spec) = (frame_of(&c), spec_of(&c));
    let n = c["nobs"].as_u64().unwrap() as usize;
    // A family that does not exist: refused by the study format.
    let json = r#"{"family": "poisson", "time": "week", "event": "arrest", "covariates": ["age"]}"#;
    let e = serde_json::from_str::<ElasticNetSpec>(json).unwrap_err();
    assert!(e.to_string().contains("unknown variant `poisson`"), "{e}");
    let json = r#"{"family": "cox", "time": "week", "event": "arrest", "covariates": ["age"]}"#;
    let parsed: ElasticNetSpec = serde_json::from_str(json).unwrap();
    assert_eq!((parsed.family, parsed.outcome.as_str()), (Family::Cox, ""));
    // cox with `outcome` instead of `time`/`event`, or without one of them.
    let e = refused(
        &frame,
        &ElasticNetSpec {
            outcome: "week".into(),
            ..spec.clone()
        },
        n,
    );
    assert!(e.contains("outcome: is not for family = \"cox\""), "{e}");
    let e = refused(
        &frame,
        &ElasticNetSpec {
            event: None,
            ..spec.clone()
        },
        n,
    );
    assert!(e.contains("event: family = \"cox\" needs"), "{e}");
    let e = refused(
        &frame,
        &ElasticNetSpec {
            time: None,
            ..spec.clone()
        },
        n,
    );
    assert!(e.contains("time: family = \"cox\" needs"), "{e}");
    // `time` given to another family.
    let e = refused(
        &frame,
        &ElasticNetSpec {
            family: Family::Binomial,
            outcome: "arrest".into(),
            ..spec.clone()
        },
        n,
    );
    assert!(e.contains("time: is for family = \"cox\""), "{e}");
    // time ≤ 0 in one row; 0 too.
    for bad in [0.0, -3.0] {
        let f = with_column(&frame, "week", |i, t| if i == 17 { bad } else { t });
        let e = refused(&f, &spec, n);
        assert!(e.contains("`time` (`week`) must be > 0"), "{e}");
    }
    // event not 0/1.
    let f = with_column(&frame, "arrest", |i, e| if i == 5 { 2.0 } else { e });
    let e = refused(&f, &spec, n);
    assert!(e.contains("`event` (`arrest`) must be 0 or 1"), "{e}");
    // steps and sweeps out of range.
    for steps in [0, 51] {
        let e = refused(
            &frame,
            &ElasticNetSpec {
                steps: Some(steps),
                ..spec.clone()
            },
            n,
        );
        assert!(e.contains("steps: must be between 1 and 50"), "{e}");
    }
    for sweeps in [0, 1001] {
        let e = refused(
            &frame,
            &ElasticNetSpec {
                sweeps: Some(sweeps),
                ..spec.clone()
            },
            n,
        );
        assert!(e.contains("sweeps: must be between 1 and 1000"), "{e}");
    }
    // A fold without an event: 40 rows, only the first two with an event, 5 folds.
    let few = PlainFrame::new(
        frame
            .columns
            .iter()
            .map(|col| match &col.data {
                PlainData::Numeric(v) => PlainColumn {
                    name: col.name.clone(),
                    data: PlainData::Numeric(
                        v[..40]
                            .iter()
                            .enumerate()
                            .map(|(i, x)| {
                                if col.name == "arrest" {
                                    Some(f64::from(u8::from(i < 2)))
                                } else {
                                    *x
                                }
                            })
                            .collect(),
                    ),
                },
                _ => col.clone(),
            })
            .collect(),
    )
    .unwrap();
    let e = refused(
        &few,
        &ElasticNetSpec {
            folds: 5,
            ..spec.clone()
        },
        40,
    );
    assert!(e.contains("fold 3 has no event"), "{e}");
    // The unchanged specification runs.
    assert!(twin(&frame, &spec, &folds_in_order(n, spec.folds)).is_ok());
}

fn run_mpc(frame: &PlainFrame, spec: &ElasticNetSpec) -> Result<ElasticNetResult, String> {
    let disclosure = Disclosure::default();
    in_mpc(frame, |p, fr| elasticnet(p, fr, spec, &disclosure))
}

/// A uniformly random assignment of `n` rows to `k` folds of sizes differing by at most one
/// (what the shuffle inside MPC gives).
fn random_folds(n: usize, k: usize, rng: &mut Rng) -> Vec<usize> {
    let mut f = folds_in_order(n, k);
    for i in (1..n).rev() {
        f.swap(i, rng.below(i + 1));
    }
    f
}

/// The path inside MPC: within 1e-4 of the twin (same schedule) at every λ and within the
/// twin's tolerance of glmnet; its cross-validation curve (secret random folds) within the
/// spread of the twin's over 60 random fold assignments, and `lambda.min` within the range
/// the twin chooses.
#[test]
fn mpc_matches_twin_and_glmnet() {
    for name in ["cox_lasso", "rossi_cox_enet"] {
        let c = case(name);
        let (frame, spec) = (frame_of(&c), spec_of(&c));
        let n = c["nobs"].as_u64().unwrap() as usize;
        let r = run_mpc(&frame, &spec).unwrap();
        let t = run_twin(&c, &spec);
        let mut to_twin = 0.0f64;
        for l in 0..r.lambda.len() {
            assert!(
                (r.lambda[l] - t.lambda[l]).abs() <= 1e-5 * t.lambda[l],
                "{name}: λ #{l} mpc {} twin {}",
                r.lambda[l],
                t.lambda[l]
            );
            for j in 0..r.names.len() {
                to_twin = to_twin.max((r.path[l][j] - t.path[l][j]).abs());
            }
        }
        assert!(to_twin <= 1e-4, "{name}: mpc vs twin path {to_twin}");
        assert_eq!(r.nonzero, t.nonzero, "{name}: non-zero counts");
        let worst = compare_path(&format!("{name} (mpc)"), &r, &c, 2.0 * COEF_ABS);
        assert_eq!(r.names, t.names);
        assert_eq!(r.nobs, n);
        assert_eq!(r.fold_rows.iter().sum::<usize>(), n);
        assert_eq!((r.steps, r.sweeps), (4, 3), "{name}: default schedule");
        // Cross-validation: secret folds, so against the twin's spread.
        let mut rng = Rng(20261218);
        let twins: Vec<ElasticNetResult> = (0..60)
            .map(|_| twin(&frame, &spec, &random_folds(n, spec.folds, &mut rng)).unwrap())
            .collect();
        let chosen: Vec<usize> = twins.iter().map(|t| t.index_min).collect();
        // The curves are flat near their minimum (rossi's especially), so the choice varies
        // with the folds: the MPC's must lie within the range of the twin's.
        let (first, last) = (*chosen.iter().min().unwrap(), *chosen.iter().max().unwrap());
        assert!(
            (first..=last).contains(&r.index_min),
            "{name}: mpc lambda.min #{} outside the twin's choices {chosen:?}",
            r.index_min
        );
        for l in 0..r.lambda.len() {
            let lo = twins.iter().map(|t| t.cvm[l]).fold(f64::INFINITY, f64::min);
            let hi = twins.iter().map(|t| t.cvm[l]).fold(0.0, f64::max);
            assert!(
                r.cvm[l] >= lo * 0.995 && r.cvm[l] <= hi * 1.005,
                "{name}: cvm #{l}: mpc {} outside the twin's [{lo}, {hi}]",
                r.cvm[l]
            );
            let slo = twins
                .iter()
                .map(|t| t.cvsd[l])
                .fold(f64::INFINITY, f64::min);
            let shi = twins.iter().map(|t| t.cvsd[l]).fold(0.0, f64::max);
            assert!(
                r.cvsd[l] >= slo * 0.5 && r.cvsd[l] <= shi * 2.0,
                "{name}: cvsd #{l}: mpc {} against the twin's [{slo}, {shi}]",
                r.cvsd[l]
            );
        }
        println!(
            "{name} (mpc): path within {to_twin:.2e} of the twin, {worst:.2e} of glmnet; \
             lambda.min #{} (twin: {chosen:?})",
            r.index_min
        );
    }
}

/// The full-data path alone inside MPC (the benchmark's `enet-cox-100k`): the twin's path
/// within 1e-4.
#[test]
fn mpc_path_alone_is_the_analysis_path() {
    let c = case("cox_enet");
    let (frame, spec) = (frame_of(&c), spec_of(&c));
    let disclosure = Disclosure::default();
    let alone = in_mpc(&frame, |p, fr| elasticnet_path(p, fr, &spec, &disclosure)).unwrap();
    let t = run_twin(&c, &spec);
    let mut worst = 0.0f64;
    for l in 0..t.lambda.len() {
        assert!((alone.lambda[l] - t.lambda[l]).abs() <= 1e-5 * t.lambda[l]);
        for j in 0..t.names.len() {
            worst = worst.max((alone.path[l][j] - t.path[l][j]).abs());
        }
    }
    assert!(worst <= 1e-4, "path alone vs twin {worst}");
    println!("cox_enet path alone (mpc): within {worst:.2e} of the twin");
}

fn refusal(frame: &PlainFrame, spec: &ElasticNetSpec, disclosure: &Disclosure) -> String {
    in_mpc(frame, |p, fr| elasticnet(p, fr, spec, disclosure)).unwrap_err()
}

/// The researcher's mistakes inside MPC: refused with the field, nothing fitted.
#[test]
fn mpc_refusals() {
    let c = case("rossi_cox_lasso");
    let (frame, spec) = (frame_of(&c), spec_of(&c));
    let open = Disclosure::default();
    let f = with_column(&frame, "week", |i, t| if i == 17 { 0.0 } else { t });
    let e = refusal(&f, &spec, &open);
    assert!(e.contains("`time` (`week`) must be > 0"), "{e}");
    let f = with_column(&frame, "arrest", |i, e| if i == 5 { 2.0 } else { e });
    let e = refusal(&f, &spec, &open);
    assert!(e.contains("`event` (`arrest`) must be 0 or 1"), "{e}");
    let e = refusal(
        &frame,
        &ElasticNetSpec {
            steps: Some(0),
            ..spec.clone()
        },
        &open,
    );
    assert!(e.contains("steps: must be between 1 and 50"), "{e}");
    let e = refusal(
        &frame,
        &ElasticNetSpec {
            family: Family::Gaussian,
            ..spec.clone()
        },
        &open,
    );
    assert!(e.contains("outcome: family = \"gaussian\" needs"), "{e}");
    // A fold under min_rows: 432 rows in 10 folds of 43–44 against 50.
    let e = refusal(
        &frame,
        &spec,
        &Disclosure {
            min_rows: 50,
            ..Disclosure::default()
        },
    );
    assert!(
        e.contains("min_rows") && e.contains("cross-validation test set"),
        "{e}"
    );
    // Two events in 432 rows and 5 folds: some fold has none.
    let f = with_column(&frame, "arrest", |i, _| f64::from(u8::from(i < 2)));
    let e = refusal(
        &f,
        &ElasticNetSpec {
            folds: 5,
            ..spec.clone()
        },
        &open,
    );
    assert!(e.contains("has no event"), "{e}");
}

/// `type_measure = "C"`: glmnet's `cv.glmnet(..., type.measure = "C")` with its fold ids:
/// the twin's curve (each fold's C-index of its held-out linear predictor, weighted by the
/// folds' rows) within 1e-6 of glmnet's `cvm` and `cvsd`, and the same `lambda.min` (the
/// largest C) and `lambda.1se`.
#[test]
fn twin_cindex_matches_glmnet_with_its_folds() {
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let spec = ElasticNetSpec {
            type_measure: Measure::C,
            ..spec_of(&c)
        };
        let r = run_twin(&c, &spec);
        assert_eq!(r.type_measure, Measure::C);
        let (cvm, cvsd) = (floats(&c["cvm_c"]), floats(&c["cvsd_c"]));
        // At most one λ may differ by a pair or two of one fold (its held-out linear
        // predictors nearly tied, closer than the path's 1e-5 from glmnet's coefficients:
        // rossi's integer covariates at λ #12); every other λ within 1e-6.
        let (mut dm, mut ds, mut off) = (0.0f64, 0.0f64, Vec::new());
        for l in 0..cvm.len() {
            let (em, es) = (
                (r.cvm[l] - cvm[l]).abs(),
                (r.cvsd[l] - cvsd[l]).abs() / cvsd[l],
            );
            if em.max(es) < 1e-6 {
                dm = dm.max(em);
                ds = ds.max(es);
            } else {
                assert!(
                    em < 5e-4,
                    "{name}: cvm (C) #{l} {} vs glmnet {}",
                    r.cvm[l],
                    cvm[l]
                );
                off.push((l + 1, em));
            }
        }
        assert!(
            off.len() <= 1,
            "{name}: λ beyond 1e-6 of glmnet's C: {off:?}"
        );
        assert_eq!(
            r.index_min,
            index(&c, "index_min_c"),
            "{name}: lambda.min (C)"
        );
        assert_eq!(
            r.index_1se,
            index(&c, "index_1se_c"),
            "{name}: lambda.1se (C)"
        );
        assert_eq!(r.lambda_min, r.lambda[r.index_min]);
        println!(
            "{name} (twin, C): cvm within {dm:.2e}, cvsd within {ds:.2e} rel (λ beyond: \
             {off:?}); lambda.min #{} lambda.1se #{}",
            r.index_min + 1,
            r.index_1se + 1
        );
    }
}

/// The researcher asks for the C-index where it makes no sense, or misspells it: refused
/// with the field and what is allowed; `"C"` and `"c"` both read.
#[test]
fn cindex_refusals() {
    let c = case("rossi_cox_lasso");
    let (frame, spec) = (frame_of(&c), spec_of(&c));
    let n = c["nobs"].as_u64().unwrap() as usize;
    for family in [Family::Gaussian, Family::Binomial] {
        let e = refused(
            &frame,
            &ElasticNetSpec {
                family,
                outcome: "arrest".into(),
                time: None,
                event: None,
                type_measure: Measure::C,
                ..spec.clone()
            },
            n,
        );
        assert!(
            e.contains("type_measure: \"C\" (Harrell's C-index) is for family = \"cox\"")
                && e.contains(&format!(
                    "family = \"{}\" takes \"deviance\"",
                    family.name()
                )),
            "{e}"
        );
    }
    let json = r#"{"family": "cox", "time": "week", "event": "arrest", "covariates": ["age"],
                   "type_measure": "auc"}"#;
    let e = serde_json::from_str::<ElasticNetSpec>(json).unwrap_err();
    assert!(e.to_string().contains("unknown variant `auc`"), "{e}");
    for name in ["C", "c"] {
        let json = format!(
            r#"{{"family": "cox", "time": "week", "event": "arrest", "covariates": ["age"],
                 "type_measure": "{name}"}}"#
        );
        let parsed: ElasticNetSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.type_measure, Measure::C);
    }
    let parsed: ElasticNetSpec = serde_json::from_str(
        r#"{"family": "cox", "time": "week", "event": "arrest", "covariates": ["age"]}"#,
    )
    .unwrap();
    assert_eq!(parsed.type_measure, Measure::Deviance, "the default");
}

/// `type_measure = "C"` inside MPC: the same path as the deviance's (the measure changes
/// only the cross-validation), and the C curve (secret random folds) within the spread of
/// the twin's over 40 random fold assignments, every value a C-index, `lambda.min` within
/// the range the twin chooses.
#[test]
fn mpc_cindex_within_twin_spread() {
    for name in ["cox_lasso", "rossi_cox_enet"] {
        let c = case(name);
        let frame = frame_of(&c);
        let spec = ElasticNetSpec {
            type_measure: Measure::C,
            ..spec_of(&c)
        };
        let n = c["nobs"].as_u64().unwrap() as usize;
        let r = run_mpc(&frame, &spec).unwrap();
        assert_eq!(r.type_measure, Measure::C);
        let t = run_twin(&c, &spec);
        for l in 0..r.lambda.len() {
            for j in 0..r.names.len() {
                assert!((r.path[l][j] - t.path[l][j]).abs() <= 1e-4, "{name}: path");
            }
        }
        let mut rng = Rng(20261203);
        let twins: Vec<ElasticNetResult> = (0..40)
            .map(|_| twin(&frame, &spec, &random_folds(n, spec.folds, &mut rng)).unwrap())
            .collect();
        let chosen: Vec<usize> = twins.iter().map(|t| t.index_min).collect();
        let (first, last) = (*chosen.iter().min().unwrap(), *chosen.iter().max().unwrap());
        assert!(
            (first..=last).contains(&r.index_min),
            "{name}: mpc lambda.min #{} outside the twin's choices {chosen:?}",
            r.index_min
        );
        let mut margin = f64::INFINITY;
        for l in 0..r.lambda.len() {
            let lo = twins.iter().map(|t| t.cvm[l]).fold(f64::INFINITY, f64::min);
            let hi = twins.iter().map(|t| t.cvm[l]).fold(0.0, f64::max);
            let slack = 0.25 * (hi - lo) + 1e-6;
            assert!(
                r.cvm[l] >= lo - slack && r.cvm[l] <= hi + slack,
                "{name}: C #{l}: mpc {} outside the twin's [{lo}, {hi}]",
                r.cvm[l]
            );
            margin = margin.min((r.cvm[l] - lo).min(hi - r.cvm[l]));
            let shi = twins.iter().map(|t| t.cvsd[l]).fold(0.0, f64::max);
            assert!(
                r.cvsd[l] >= 0.0 && r.cvsd[l] <= 2.0 * shi + 1e-6,
                "{name}: cvsd (C) #{l}: mpc {} against the twin's largest {shi}",
                r.cvsd[l]
            );
        }
        println!(
            "{name} (mpc, C): curve {:?}; lambda.min #{} (twin: {chosen:?}); closest to the \
             twin's range edge {margin:.2e}",
            r.cvm.iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>(),
            r.index_min + 1
        );
    }
}
