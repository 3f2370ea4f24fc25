//! Gradient-boosted trees (`kind = "boosted_trees"`).
//!
//! - The plaintext twin against xgboost and scikit-learn on `fixtures/gbdt/` (made by
//!   `fixtures/gbdt/make_gbdt.py`; Python is not needed here): the test AUC within 0.01 of
//!   both libraries trained with the same parameters on the same training rows.
//! - MPC against the twin on the same (given) split: the whole model (split bits,
//!   covariates, thresholds, leaf values) and the AUC; and the MPC's own test AUC within
//!   0.01 of xgboost's on the fixture.
//! - The study's path (`analysis::run`, secret split): the sets' counts add up, the AUC
//!   is the twin's on some split of that size within what a split can change.
//! - The researcher playing: every parameter out of range, the work cap, `min_rows` on
//!   the test set, an outcome that is not 0/1.

mod common;
use common::{csv, in_mpc, no_limits, ran, root};

use serde_json::Value;
use tessera_stats::analysis::{self, AnalysisSpec};
use tessera_stats::predict::gbdt::{
    boosted_trees_on, boosted_trees_plain, BoostedTreesSpec, Objective,
};
use tessera_stats::ranges::check_params;
use tessera_stats::{Disclosure, PlainColumn, PlainData, PlainFrame};

const COVARIATES: [&str; 5] = ["x1", "x2", "x3", "x4", "b"];

fn fixture() -> Value {
    let text = std::fs::read_to_string(root().join("fixtures/gbdt/gbdt.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The fixture's data (the first `rows`), and the rows marked as test rows.
fn data(rows: usize) -> (PlainFrame, Vec<usize>) {
    data_of("fixtures/gbdt/gbdt.csv", rows)
}

/// The continuous outcome's fixture (`squared_error`): the first `rows`, the test rows.
fn data_reg(rows: usize) -> (PlainFrame, Vec<usize>) {
    data_of("fixtures/gbdt/gbdt_reg.csv", rows)
}

fn data_of(file: &str, rows: usize) -> (PlainFrame, Vec<usize>) {
    let raw = csv(file);
    let mut cols = Vec::new();
    for name in COVARIATES.iter().chain(&["y"]) {
        cols.push(PlainColumn {
            name: name.to_string(),
            data: PlainData::Numeric(raw[*name][..rows].to_vec()),
        });
    }
    let test = raw["test"][..rows]
        .iter()
        .enumerate()
        .filter(|(_, t)| **t == Some(1.0))
        .map(|(i, _)| i)
        .collect();
    (PlainFrame::new(cols).unwrap(), test)
}

fn spec(trees: usize, depth: usize, rate: f64, bins: usize, reveal: bool) -> BoostedTreesSpec {
    BoostedTreesSpec {
        outcome: "y".into(),
        covariates: COVARIATES.iter().map(|c| c.to_string()).collect(),
        objective: Objective::Binary,
        time: None,
        event: None,
        trees,
        depth,
        learning_rate: rate,
        lambda: 1.0,
        min_child_weight: 1.0,
        bins,
        holdout: 0.3,
        reveal_model: reveal,
        conf_level: 0.95,
    }
}

fn of_case(c: &Value) -> BoostedTreesSpec {
    let mut s = spec(
        c["trees"].as_u64().unwrap() as usize,
        c["depth"].as_u64().unwrap() as usize,
        c["learning_rate"].as_f64().unwrap(),
        c["bins"].as_u64().unwrap() as usize,
        false,
    );
    s.lambda = c["lambda"].as_f64().unwrap();
    s.min_child_weight = c["min_child_weight"].as_f64().unwrap();
    s
}

#[test]
fn twin_is_within_0_01_of_xgboost_and_sklearn() {
    let (frame, test) = data(3000);
    for c in fixture()["cases"].as_array().unwrap() {
        let (r, _) = boosted_trees_plain(&frame, &of_case(c), &test, &no_limits()).unwrap();
        let (xg, sk) = (
            c["xgboost_auc"].as_f64().unwrap(),
            c["sklearn_auc"].as_f64().unwrap(),
        );
        eprintln!(
            "{}: twin AUC {:.5}, xgboost {xg:.5} ({:+.5}), sklearn {sk:.5} ({:+.5})",
            c["name"],
            r.test.auc().unwrap().auc,
            r.test.auc().unwrap().auc - xg,
            r.test.auc().unwrap().auc - sk
        );
        assert!(
            (r.test.auc().unwrap().auc - xg).abs() < 0.01,
            "{} vs xgboost {xg}",
            r.test.auc().unwrap().auc
        );
        assert!(
            (r.test.auc().unwrap().auc - sk).abs() < 0.01,
            "{} vs sklearn {sk}",
            r.test.auc().unwrap().auc
        );
        assert_eq!(r.n_train + r.n_test, 3000);
        assert_eq!(r.n_test, test.len());
    }
}

#[test]
fn mpc_matches_the_twin_on_the_same_split() {
    // Every node splits; then `min_child_weight` binds (candidates refused, nodes that do
    // not split).
    same_as_twin(spec(4, 3, 0.3, 8, true), true);
    same_as_twin(
        BoostedTreesSpec {
            min_child_weight: 18.0,
            ..spec(3, 3, 0.5, 8, true)
        },
        false,
    );
}

fn same_as_twin(s: BoostedTreesSpec, all_split: bool) {
    let (frame, test) = data(500);
    let (twin, fit) = boosted_trees_plain(&frame, &s, &test, &no_limits()).unwrap();
    let got = in_mpc(&frame, |p, fr| {
        boosted_trees_on(p, fr, &s, &no_limits(), Some(&test))
    })
    .unwrap();
    assert_eq!((got.n_train, got.n_test), (twin.n_train, twin.n_test));
    let (m, t) = (got.model.as_ref().unwrap(), twin.model.as_ref().unwrap());
    assert!((m.base_score - t.base_score).abs() < 1e-6, "base");
    let mut worst_leaf = 0f64;
    for (a, b) in m.trees.iter().zip(&t.trees) {
        for (u, v) in a.nodes.iter().zip(&b.nodes) {
            assert_eq!(u.split, v.split, "{a:?}\n{b:?}");
            assert_eq!(u.covariate, v.covariate);
            assert!((u.threshold - v.threshold).abs() < 1e-6);
        }
        for (u, v) in a.leaves.iter().zip(&b.leaves) {
            worst_leaf = worst_leaf.max((u - v).abs());
        }
    }
    eprintln!(
        "largest leaf difference {worst_leaf:.2e}; AUC {} vs {}",
        got.test.auc().unwrap().auc,
        twin.test.auc().unwrap().auc
    );
    assert!(worst_leaf < 1e-5);
    // Every split is taken (a tree that never splits would not test the routing), or
    // some are not but the root's.
    let splits = m.trees[0].nodes.iter().filter(|n| n.split).count();
    if all_split {
        assert_eq!(splits, m.trees[0].nodes.len());
    } else {
        assert!(m.trees[0].nodes[0].split && splits < m.trees[0].nodes.len());
    }
    // The revealed model scores the test rows as the twin does.
    let names: Vec<String> = COVARIATES.iter().map(|c| c.to_string()).collect();
    let x: Vec<Vec<f64>> = test
        .iter()
        .map(|&i| {
            COVARIATES
                .iter()
                .map(|c| frame.numeric(c).unwrap()[i].unwrap())
                .collect()
        })
        .collect();
    for (row, want) in x.iter().zip(&fit.test_scores) {
        assert!((m.score(&names, row) - want).abs() < 1e-4);
    }
    assert!((got.test.auc().unwrap().auc - twin.test.auc().unwrap().auc).abs() < 1e-9);
    assert!((got.test.auc().unwrap().se - twin.test.auc().unwrap().se).abs() < 1e-9);
    assert_eq!(
        (
            got.test.auc().unwrap().cases,
            got.test.auc().unwrap().controls
        ),
        (
            twin.test.auc().unwrap().cases,
            twin.test.auc().unwrap().controls
        )
    );
}

#[test]
fn mpc_test_auc_is_within_0_01_of_xgboost() {
    let (frame, test) = data(3000);
    let cases = fixture();
    let c = &cases["cases"][1];
    assert_eq!(c["name"], "small");
    let s = of_case(c);
    let got = in_mpc(&frame, |p, fr| {
        boosted_trees_on(p, fr, &s, &no_limits(), Some(&test))
    })
    .unwrap();
    let (twin, _) = boosted_trees_plain(&frame, &s, &test, &no_limits()).unwrap();
    let xg = c["xgboost_auc"].as_f64().unwrap();
    let sk = c["sklearn_auc"].as_f64().unwrap();
    eprintln!(
        "MPC AUC {:.5}, twin {:.5}, xgboost {xg:.5}, sklearn {sk:.5}",
        got.test.auc().unwrap().auc,
        twin.test.auc().unwrap().auc
    );
    assert!((got.test.auc().unwrap().auc - xg).abs() < 0.01);
    assert!((got.test.auc().unwrap().auc - sk).abs() < 0.01);
    assert!((got.test.auc().unwrap().auc - twin.test.auc().unwrap().auc).abs() < 1e-3);
}

#[test]
fn the_study_path_splits_in_secret() {
    let (frame, _) = data(400);
    let s = spec(3, 2, 0.3, 8, false);
    let a = AnalysisSpec::BoostedTrees(s.clone());
    let out = in_mpc(&frame, |p, fr| {
        ran(&a, analysis::run(p, fr, &a, &no_limits()))
    })
    .unwrap();
    let j = &out.json;
    let (n_train, n_test) = (
        j["n_train"].as_u64().unwrap(),
        j["n_test"].as_u64().unwrap(),
    );
    assert_eq!(n_train + n_test, 400);
    assert_eq!(
        n_train, 280,
        "⌈0.7·400⌉ training positions, every row complete"
    );
    let auc = j["test"]["auc"].as_f64().unwrap();
    assert!(auc > 0.6 && auc < 1.0, "{auc}");
    assert!(j.get("model").is_none(), "no model without reveal_model");
    assert!(out.text.contains("Gradient-boosted trees"));
}

fn refused(s: &BoostedTreesSpec, field: &str) {
    let a = AnalysisSpec::BoostedTrees(s.clone());
    let e = check_params(&a, 24).unwrap_err().to_string();
    assert!(e.contains(field), "{field}: {e}");
    let (frame, test) = data(100);
    let e = boosted_trees_plain(&frame, s, &test, &no_limits())
        .unwrap_err()
        .to_string();
    assert!(e.contains(&format!("`{field}`")), "{field}: {e}");
}

#[test]
fn a_researcher_cannot_ask_for_nonsense() {
    let ok = spec(50, 4, 0.1, 32, false);
    assert!(check_params(&AnalysisSpec::BoostedTrees(ok.clone()), 24).is_ok());
    for trees in [0, 501] {
        refused(
            &BoostedTreesSpec {
                trees,
                ..ok.clone()
            },
            "trees",
        );
    }
    for depth in [0, 7, 64] {
        refused(
            &BoostedTreesSpec {
                depth,
                ..ok.clone()
            },
            "depth",
        );
    }
    for learning_rate in [0.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
        refused(
            &BoostedTreesSpec {
                learning_rate,
                ..ok.clone()
            },
            "learning_rate",
        );
    }
    for lambda in [0.0, 1e-9, 1e9, f64::NAN] {
        refused(
            &BoostedTreesSpec {
                lambda,
                ..ok.clone()
            },
            "lambda",
        );
    }
    for min_child_weight in [-1.0, 1e12, f64::NAN] {
        refused(
            &BoostedTreesSpec {
                min_child_weight,
                ..ok.clone()
            },
            "min_child_weight",
        );
    }
    for bins in [0, 1, 65, 1 << 20] {
        refused(&BoostedTreesSpec { bins, ..ok.clone() }, "bins");
    }
    for holdout in [0.0, 1.0, 1.5, -0.2, f64::NAN] {
        refused(
            &BoostedTreesSpec {
                holdout,
                ..ok.clone()
            },
            "holdout",
        );
    }
    refused(
        &BoostedTreesSpec {
            covariates: vec![],
            ..ok.clone()
        },
        "covariates",
    );
    // The work cap: 500 trees of depth 6 with 64 bins on five columns.
    let (frame, test) = data(100);
    let big = BoostedTreesSpec {
        trees: 500,
        depth: 6,
        bins: 64,
        ..ok.clone()
    };
    let e = boosted_trees_plain(&frame, &big, &test, &no_limits())
        .unwrap_err()
        .to_string();
    assert!(e.contains("over the limit"), "{e}");
    // An unknown objective or field is refused by the study format.
    let bad: Result<AnalysisSpec, _> = serde_json::from_str(
        r#"{"kind":"boosted_trees","outcome":"y","covariates":["x1"],"objective":"poisson"}"#,
    );
    assert!(bad.unwrap_err().to_string().contains("poisson"));
    let bad: Result<AnalysisSpec, _> = serde_json::from_str(
        r#"{"kind":"boosted_trees","outcome":"y","covariates":["x1"],"max_leaves":3}"#,
    );
    assert!(bad.unwrap_err().to_string().contains("max_leaves"));
}

#[test]
fn min_rows_applies_to_each_set_and_the_outcome_must_be_binary() {
    let (frame, test) = data(200);
    let s = spec(2, 2, 0.3, 8, false);
    let rules = Disclosure {
        min_rows: 100,
        ..no_limits()
    };
    // 200 rows pass `min_rows`, the test set (about 60) does not.
    let e = boosted_trees_plain(&frame, &s, &test, &rules)
        .unwrap_err()
        .to_string();
    assert!(e.contains("test set"), "{e}");
    let got = in_mpc(&frame, |p, fr| {
        boosted_trees_on(p, fr, &s, &rules, Some(&test))
    })
    .unwrap_err();
    assert!(got.contains("test set"), "{got}");
    // An outcome of 0, 1 and 2.
    let mut y: Vec<Option<f64>> = frame.numeric("y").unwrap().to_vec();
    y[3] = Some(2.0);
    let mut cols: Vec<PlainColumn> = COVARIATES
        .iter()
        .map(|c| PlainColumn {
            name: c.to_string(),
            data: PlainData::Numeric(frame.numeric(c).unwrap().to_vec()),
        })
        .collect();
    cols.push(PlainColumn {
        name: "y".into(),
        data: PlainData::Numeric(y),
    });
    let bad = PlainFrame::new(cols).unwrap();
    let e = in_mpc(&bad, |p, fr| {
        boosted_trees_on(p, fr, &s, &no_limits(), Some(&test))
    })
    .unwrap_err();
    assert!(e.contains("0 or 1"), "{e}");
}

/// The issue's workload in process (ignored; run with `--ignored --nocapture`): 10,000 rows
/// × 20 covariates, 50 trees of depth 4, 32 bins, a given split; seconds, bytes and rounds
/// of party 0, and the twin's seconds.
#[test]
#[ignore]
fn measure_the_issue_workload() {
    let rows: usize = std::env::var("GBDT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let k = 20;
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut unif = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut cols: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(rows); k + 1];
    for _ in 0..rows {
        let x: Vec<f64> = (0..k).map(|_| 6.0 * unif() - 3.0).collect();
        let eta = 1.5 * x[0].sin() + x[1] * x[1] / 3.0 - 1.0 + 0.5 * x[2] * f64::from(x[3] > 0.0);
        let y = f64::from(unif() < 1.0 / (1.0 + (-eta).exp()));
        for (j, v) in x.iter().enumerate() {
            cols[j].push(Some((v * 1e4).round() / 1e4));
        }
        cols[k].push(Some(y));
    }
    let names: Vec<String> = (0..k).map(|j| format!("x{j}")).collect();
    let mut pc: Vec<PlainColumn> = names
        .iter()
        .zip(&cols)
        .map(|(n, v)| PlainColumn {
            name: n.clone(),
            data: PlainData::Numeric(v.clone()),
        })
        .collect();
    pc.push(PlainColumn {
        name: "y".into(),
        data: PlainData::Numeric(cols[k].clone()),
    });
    let frame = PlainFrame::new(pc).unwrap();
    let test: Vec<usize> = (0..rows).filter(|i| i % 4 == 3).collect();
    let s = BoostedTreesSpec {
        covariates: names,
        ..spec(50, 4, 0.1, 32, false)
    };
    let t0 = std::time::Instant::now();
    let (twin, _) = boosted_trees_plain(&frame, &s, &test, &no_limits()).unwrap();
    let plain_s = t0.elapsed().as_secs_f64();
    let out = tessera_mpc::testing::run3_with_timeout(std::time::Duration::from_secs(600), |p| {
        let fr = common::share_frame(p, &frame)?;
        let before = p.stats();
        let t0 = std::time::Instant::now();
        let r = boosted_trees_on(p, &fr, &s, &no_limits(), Some(&test)).expect("runs");
        let secs = t0.elapsed().as_secs_f64();
        let after = p.stats();
        Ok((r, secs, before, after))
    });
    let [a, b, c] = out.map(|r| r.expect("no engine error"));
    eprintln!(
        "{rows} x {k}, 50 trees depth 4, 32 bins: MPC {:.1} s (party 0: {:?} -> {:?}); twin {plain_s:.1} s",
        a.1, a.2, a.3
    );
    let got = tessera_stats::open3([a.0, b.0, c.0]).unwrap();
    eprintln!(
        "AUC MPC {:.5} twin {:.5}",
        got.test.auc().unwrap().auc,
        twin.test.auc().unwrap().auc
    );
    assert!((got.test.auc().unwrap().auc - twin.test.auc().unwrap().auc).abs() < 1e-3);
}

/// The steward approves a study by its cost estimate: boosted trees' peak memory must not
/// be understated. Measured: 1.28 GB at the largest party for 10,000 × 20, 50 trees of
/// depth 4, 32 bins (`/usr/bin/time -v tessera bench models --workloads gbdt-10k`), and
/// at 100,000 rows a party was killed by the kernel at 11.4 GB.
#[test]
fn the_memory_estimate_holds_what_was_measured() {
    let names: Vec<String> = (0..20).map(|j| format!("x{j}")).collect();
    let a = AnalysisSpec::BoostedTrees(BoostedTreesSpec {
        covariates: names,
        ..spec(50, 4, 0.1, 32, false)
    });
    let at = |rows| tessera_stats::cost::estimate(&a, rows, &|_| 0).memory;
    let (small, large) = (at(10_000), at(100_000));
    assert!(
        (1.0e9..2.6e9).contains(&small),
        "{small} bytes at 10,000 rows against 1.28 GB measured"
    );
    assert!(
        large > 11.4e9,
        "{large} bytes at 100,000 rows against > 11.4 GB"
    );
}

/// `squared_error`'s estimate against what `tessera bench models --workloads gbdt-reg-10k`
/// measured (10,000 × 20, 50 trees of depth 4, 32 bins): 1,644.8 MB from the busiest
/// party in 31,233 rounds; below binary's estimate (no sigmoid, no AUC).
#[test]
fn the_squared_error_estimate_is_near_what_was_measured() {
    let names: Vec<String> = (0..20).map(|j| format!("x{j}")).collect();
    let of = |objective| {
        AnalysisSpec::BoostedTrees(BoostedTreesSpec {
            covariates: names.clone(),
            objective,
            ..spec(50, 4, 0.1, 32, false)
        })
    };
    let est = |a: &AnalysisSpec| tessera_stats::cost::estimate(a, 10_000, &|_| 0);
    let (r, b) = (
        est(&of(Objective::SquaredError)),
        est(&of(Objective::Binary)),
    );
    eprintln!(
        "squared_error: {:.0} MB, {:.0} rounds; binary {:.0} MB, {:.0} rounds",
        r.bytes / 1e6,
        r.rounds,
        b.bytes / 1e6,
        b.rounds
    );
    assert!((r.bytes / 1644.8e6 - 1.0).abs() < 0.25, "{} bytes", r.bytes);
    assert!(
        (r.rounds / 31_233.0 - 1.0).abs() < 0.25,
        "{} rounds",
        r.rounds
    );
    assert!(r.bytes < b.bytes && r.rounds < b.rounds);
}

// ---- objective = "squared_error" (a continuous outcome) ----

fn fixture_reg() -> Value {
    let text = std::fs::read_to_string(root().join("fixtures/gbdt/gbdt_reg.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn reg(s: BoostedTreesSpec) -> BoostedTreesSpec {
    BoostedTreesSpec {
        objective: Objective::SquaredError,
        ..s
    }
}

fn error_of(r: &tessera_stats::predict::gbdt::BoostedTreesResult) -> (f64, f64) {
    let e = r
        .test
        .error()
        .expect("squared_error validates by RMSE and R²");
    (e.rmse, e.r2)
}

#[test]
fn regression_twin_is_within_0_01_of_xgboost_and_sklearn() {
    let (frame, test) = data_reg(3000);
    let f = fixture_reg();
    assert_eq!(f["objective"], "squared_error");
    for c in f["cases"].as_array().unwrap() {
        let s = BoostedTreesSpec {
            reveal_model: true,
            ..reg(of_case(c))
        };
        let (r, _) = boosted_trees_plain(&frame, &s, &test, &no_limits()).unwrap();
        let (rmse, r2) = error_of(&r);
        // The base score is the training mean, as xgboost ≥ 2 estimates it.
        let base = r.model.as_ref().unwrap().base_score;
        let mean = c["training_mean"].as_f64().unwrap();
        assert!((base - mean).abs() < 1e-9, "{base} vs {mean}");
        let xgb_base = c["xgboost_base_score"].as_f64().unwrap();
        assert!(
            (base - xgb_base).abs() < 1e-5,
            "{base} vs xgboost {xgb_base}"
        );
        let (xg, sk) = (
            c["xgboost_r2"].as_f64().unwrap(),
            c["sklearn_r2"].as_f64().unwrap(),
        );
        let (xr, sr) = (
            c["xgboost_rmse"].as_f64().unwrap(),
            c["sklearn_rmse"].as_f64().unwrap(),
        );
        eprintln!(
            "{}: twin R² {r2:.5} (xgboost {xg:.5}, {:+.5}; sklearn {sk:.5}, {:+.5}), \
             RMSE {rmse:.5} (xgboost {xr:.5}, sklearn {sr:.5})",
            c["name"],
            r2 - xg,
            r2 - sk
        );
        assert!((r2 - xg).abs() < 0.01, "{r2} vs xgboost {xg}");
        assert!((r2 - sk).abs() < 0.01, "{r2} vs sklearn {sk}");
        assert!((rmse / xr - 1.0).abs() < 0.03, "{rmse} vs xgboost {xr}");
        assert_eq!(r.n_train + r.n_test, 3000);
        assert_eq!(r.n_test, test.len());
        assert!(r.test.auc().is_none());
    }
}

#[test]
fn regression_mpc_matches_the_twin_on_the_same_split() {
    // Every node splits; then `min_child_weight` (a count of rows here) binds.
    let (frame, test) = data_reg(500);
    same_as_twin_reg(&frame, &test, reg(spec(4, 3, 0.3, 8, true)), true);
    same_as_twin_reg(
        &frame,
        &test,
        BoostedTreesSpec {
            min_child_weight: 60.0,
            ..reg(spec(3, 3, 0.5, 8, true))
        },
        false,
    );
}

fn same_as_twin_reg(frame: &PlainFrame, test: &[usize], s: BoostedTreesSpec, all_split: bool) {
    let (twin, fit) = boosted_trees_plain(frame, &s, test, &no_limits()).unwrap();
    let got = in_mpc(frame, |p, fr| {
        boosted_trees_on(p, fr, &s, &no_limits(), Some(test))
    })
    .unwrap();
    assert_eq!((got.n_train, got.n_test), (twin.n_train, twin.n_test));
    let (m, t) = (got.model.as_ref().unwrap(), twin.model.as_ref().unwrap());
    assert!(
        (m.base_score - t.base_score).abs() < 1e-6,
        "base {} vs {}",
        m.base_score,
        t.base_score
    );
    let mut worst_leaf = 0f64;
    for (a, b) in m.trees.iter().zip(&t.trees) {
        for (u, v) in a.nodes.iter().zip(&b.nodes) {
            assert_eq!(u.split, v.split, "{a:?}\n{b:?}");
            assert_eq!(u.covariate, v.covariate, "{a:?}\n{b:?}");
            assert!((u.threshold - v.threshold).abs() < 1e-6);
        }
        for (u, v) in a.leaves.iter().zip(&b.leaves) {
            worst_leaf = worst_leaf.max((u - v).abs());
        }
    }
    let splits = m.trees[0].nodes.iter().filter(|n| n.split).count();
    if all_split {
        assert_eq!(splits, m.trees[0].nodes.len());
    } else {
        assert!(m.trees[0].nodes[0].split && splits < m.trees[0].nodes.len());
    }
    let names: Vec<String> = COVARIATES.iter().map(|c| c.to_string()).collect();
    let mut worst_score = 0f64;
    for (&i, want) in test.iter().zip(&fit.test_scores) {
        let row: Vec<f64> = COVARIATES
            .iter()
            .map(|c| frame.numeric(c).unwrap()[i].unwrap())
            .collect();
        worst_score = worst_score.max((m.score(&names, &row) - want).abs());
    }
    let ((rm, r2m), (rt, r2t)) = (error_of(&got), error_of(&twin));
    eprintln!(
        "largest leaf difference {worst_leaf:.2e}, test score {worst_score:.2e}; \
         RMSE {rm:.7} vs {rt:.7} ({:.1e}), R² {r2m:.7} vs {r2t:.7} ({:.1e})",
        (rm - rt).abs(),
        (r2m - r2t).abs()
    );
    assert!(worst_leaf < 1e-5);
    assert!(worst_score < 1e-4);
    assert!((rm - rt).abs() < 1e-5, "RMSE {rm} vs {rt}");
    assert!((r2m - r2t).abs() < 1e-5, "R² {r2m} vs {r2t}");
}

#[test]
fn regression_mpc_test_r2_is_within_0_01_of_xgboost() {
    let (frame, test) = data_reg(3000);
    let f = fixture_reg();
    let c = &f["cases"][1];
    assert_eq!(c["name"], "small");
    let s = reg(of_case(c));
    let got = in_mpc(&frame, |p, fr| {
        boosted_trees_on(p, fr, &s, &no_limits(), Some(&test))
    })
    .unwrap();
    let (twin, _) = boosted_trees_plain(&frame, &s, &test, &no_limits()).unwrap();
    let ((rm, r2m), (rt, r2t)) = (error_of(&got), error_of(&twin));
    let xg = c["xgboost_r2"].as_f64().unwrap();
    let sk = c["sklearn_r2"].as_f64().unwrap();
    eprintln!(
        "MPC R² {r2m:.6} RMSE {rm:.6}; twin R² {r2t:.6} RMSE {rt:.6}; xgboost {xg:.5}, \
         sklearn {sk:.5}"
    );
    assert!((r2m - xg).abs() < 0.01);
    assert!((r2m - sk).abs() < 0.01);
    assert!((r2m - r2t).abs() < 1e-4);
    assert!((rm - rt).abs() < 1e-4);
}

#[test]
fn regression_study_path_splits_in_secret() {
    let (frame, _) = data_reg(400);
    let s = reg(spec(3, 2, 0.3, 8, false));
    let a = AnalysisSpec::BoostedTrees(s);
    let out = in_mpc(&frame, |p, fr| {
        ran(&a, analysis::run(p, fr, &a, &no_limits()))
    })
    .unwrap();
    let j = &out.json;
    assert_eq!(j["objective"], "squared_error");
    assert_eq!(j["n_train"].as_u64().unwrap(), 280);
    assert_eq!(j["n_test"].as_u64().unwrap(), 120);
    assert_eq!(j["test"]["n"].as_u64().unwrap(), 120);
    let (rmse, r2) = (
        j["test"]["rmse"].as_f64().unwrap(),
        j["test"]["r2"].as_f64().unwrap(),
    );
    // Three shallow trees explain part of the variance (the outcome's sd is about 2.4).
    assert!(r2 > 0.1 && r2 < 0.9, "{r2}");
    assert!(rmse > 0.8 && rmse < 2.5, "{rmse}");
    assert!(j["test"].get("auc").is_none());
    assert!(out.text.contains("squared_error") && out.text.contains("RMSE"));
}

#[test]
fn a_researcher_cannot_misuse_squared_error() {
    let ok = reg(spec(5, 2, 0.3, 8, false));
    // A survival model's fields on a regression: refused by name, before any data.
    for (field, s) in [
        (
            "time",
            BoostedTreesSpec {
                time: Some("t".into()),
                ..ok.clone()
            },
        ),
        (
            "event",
            BoostedTreesSpec {
                event: Some("d".into()),
                ..ok.clone()
            },
        ),
        (
            "outcome",
            BoostedTreesSpec {
                outcome: String::new(),
                ..ok.clone()
            },
        ),
    ] {
        refused(&s, field);
        let e = check_params(&AnalysisSpec::BoostedTrees(s), 24)
            .unwrap_err()
            .to_string();
        assert!(e.contains("squared_error") || field == "outcome", "{e}");
    }
    // The same through the study format: the fields parse, the check names them.
    let a: AnalysisSpec = serde_json::from_str(
        r#"{"kind":"boosted_trees","objective":"squared_error","outcome":"y",
            "covariates":["x1"],"time":"t"}"#,
    )
    .unwrap();
    let e = check_params(&a, 24).unwrap_err().to_string();
    assert!(e.contains("time") && e.contains("squared_error"), "{e}");
    // An outcome beyond ±256: the data owner's check refuses it, naming the column.
    let (frame, test) = data_reg(200);
    let big: Vec<Option<f64>> = frame
        .numeric("y")
        .unwrap()
        .iter()
        .map(|v| v.map(|y| 100.0 * y))
        .collect();
    let scaled = with_outcome(&frame, big);
    let e = tessera_stats::ranges::check_values(
        [("gb", &AnalysisSpec::BoostedTrees(ok.clone()))],
        &scaled,
        24,
    )
    .unwrap_err();
    assert!(e.contains("\"y\"") && e.contains("squared_error"), "{e}");
    let e = boosted_trees_plain(&scaled, &ok, &test, &no_limits())
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"y\""), "{e}");
    // A binary outcome is a fine continuous one (no 0/1 check), but a constant test
    // outcome leaves R² undefined: refused in the twin and inside MPC (one opened bit).
    let mut y: Vec<Option<f64>> = frame.numeric("y").unwrap().to_vec();
    for &i in &test {
        y[i] = Some(3.5);
    }
    let flat = with_outcome(&frame, y);
    let e = boosted_trees_plain(&flat, &ok, &test, &no_limits())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no variance on the held-out rows"), "{e}");
    let e = in_mpc(&flat, |p, fr| {
        boosted_trees_on(p, fr, &ok, &no_limits(), Some(&test))
    })
    .unwrap_err();
    assert!(e.contains("no variance on the held-out rows"), "{e}");
    // `min_rows` on each set, as for binary.
    let rules = Disclosure {
        min_rows: 100,
        ..no_limits()
    };
    let e = in_mpc(&frame, |p, fr| {
        boosted_trees_on(p, fr, &ok, &rules, Some(&test))
    })
    .unwrap_err();
    assert!(e.contains("test set"), "{e}");
}

/// The frame with its outcome `y` replaced.
fn with_outcome(frame: &PlainFrame, y: Vec<Option<f64>>) -> PlainFrame {
    let mut cols: Vec<PlainColumn> = COVARIATES
        .iter()
        .map(|c| PlainColumn {
            name: c.to_string(),
            data: PlainData::Numeric(frame.numeric(c).unwrap().to_vec()),
        })
        .collect();
    cols.push(PlainColumn {
        name: "y".into(),
        data: PlainData::Numeric(y),
    });
    PlainFrame::new(cols).unwrap()
}
