//! The area under the ROC curve with DeLong's standard error and interval (`kind = "auc"`),
//! in MPC (three parties in memory) and in the plaintext twin, against R's pROC
//! (`fixtures/auc/`, made by `fixtures/auc/make_auc.R`; R is not needed here): a
//! continuous score with missing values, a 5-point score with heavy ties, lung and rossi.
//! The sums are exact integers, so MPC equals R to f64 rounding (1e-12).

mod common;
use common::{csv_frame, floats, frame, in_mpc, no_limits, root};

use serde_json::Value;
use tessera_stats::predict::{auc, auc_plain, AucResult, AucSpec};
use tessera_stats::{Disclosure, PlainColumn, PlainData, PlainFrame};

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(root().join("fixtures/auc/auc.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn data_of(c: &Value) -> PlainFrame {
    match c["data"].as_str().unwrap() {
        "synthetic" => csv_frame("fixtures/auc/synthetic.csv", &[]),
        "ties" => csv_frame("fixtures/auc/ties.csv", &[]),
        "calib" => csv_frame("fixtures/auc/calib.csv", &[]),
        d => frame(d, &[]),
    }
}

fn spec_of(c: &Value) -> AucSpec {
    AucSpec {
        outcome: c["outcome"].as_str().unwrap().into(),
        score: c["score"].as_str().unwrap().into(),
        conf_level: c["conf"].as_f64().unwrap(),
        calibration: c["calibration"] == true,
        groups: 10,
    }
}

fn compare(name: &str, got: &AucResult, c: &Value, tol: f64) {
    assert_eq!(got.n, c["n"].as_u64().unwrap(), "{name}: n");
    assert_eq!(got.cases, c["cases"].as_u64().unwrap(), "{name}: cases");
    assert_eq!(
        got.controls,
        c["controls"].as_u64().unwrap(),
        "{name}: controls"
    );
    for (what, g, w) in [
        ("auc", got.auc, c["auc"].as_f64().unwrap()),
        ("se", got.se, c["se"].as_f64().unwrap()),
        ("lower", got.lower, c["lower"].as_f64().unwrap()),
        ("upper", got.upper, c["upper"].as_f64().unwrap()),
    ] {
        assert!((g - w).abs() < tol, "{name} {what}: {g} vs R {w}");
    }
    match (&got.calibration, c["calibration"] == true) {
        (None, false) => {}
        (Some(k), true) => {
            let ci = |v: &Value, i: usize| v.as_array().unwrap()[i].as_f64().unwrap();
            for (what, g, w, t) in [
                (
                    "intercept",
                    k.intercept.coef,
                    c["intercept"].as_f64().unwrap(),
                    1e-4,
                ),
                ("slope", k.slope.coef, c["slope"].as_f64().unwrap(), 1e-4),
                ("brier", k.brier, c["brier"].as_f64().unwrap(), 1e-6),
                (
                    "intercept lower",
                    k.intercept.ci_low.unwrap(),
                    ci(&c["intercept_ci"], 0),
                    1e-4,
                ),
                (
                    "slope upper",
                    k.slope.ci_high.unwrap(),
                    ci(&c["slope_ci"], 1),
                    1e-4,
                ),
            ] {
                assert!((g - w).abs() < t, "{name} {what}: {g} vs R {w}");
            }
            for (what, g, w) in [
                (
                    "intercept se",
                    k.intercept.std_err.unwrap(),
                    c["intercept_se"].as_f64().unwrap(),
                ),
                (
                    "slope se",
                    k.slope.std_err.unwrap(),
                    c["slope_se"].as_f64().unwrap(),
                ),
            ] {
                assert!((g - w).abs() / w < 1e-3, "{name} {what}: {g} vs R {w}");
            }
        }
        (got, want) => panic!("{name}: calibration {got:?}, wanted {want}"),
    }
    if let Some(k) = &got.calibration {
        let (sizes, events, predicted) = (
            floats(&c["table_n"]),
            floats(&c["table_events"]),
            floats(&c["table_predicted"]),
        );
        assert_eq!(k.table.len(), 10, "{name}");
        for (b, g) in k.table.iter().enumerate() {
            assert!(g.shown, "{name} group {b}");
            assert_eq!(g.n as f64, sizes[b], "{name} group {b}: n");
            assert_eq!(
                g.events.unwrap() as f64,
                events[b],
                "{name} group {b}: events"
            );
            let p = g.predicted.unwrap();
            assert!(
                (p - predicted[b]).abs() < 1e-6,
                "{name} group {b}: {p} vs R {}",
                predicted[b]
            );
        }
    }
}

#[test]
fn twin_matches_proc() {
    for c in &cases() {
        let name = c["name"].as_str().unwrap();
        let got = auc_plain(&data_of(c), &spec_of(c), &no_limits()).unwrap();
        compare(name, &got, c, 1e-12);
    }
}

#[test]
fn mpc_matches_proc() {
    for c in &cases() {
        let name = c["name"].as_str().unwrap();
        let spec = spec_of(c);
        let got = in_mpc(&data_of(c), |p, fr| auc(p, fr, &spec, &no_limits())).unwrap();
        compare(name, &got, c, 1e-12);
    }
}

fn table(y: &[Option<f64>], s: &[Option<f64>]) -> PlainFrame {
    PlainFrame::new(vec![
        PlainColumn {
            name: "a.y".into(),
            data: PlainData::Numeric(y.to_vec()),
        },
        PlainColumn {
            name: "b.s".into(),
            data: PlainData::Numeric(s.to_vec()),
        },
    ])
    .unwrap()
}

fn spec() -> AucSpec {
    AucSpec {
        outcome: "a.y".into(),
        score: "b.s".into(),
        conf_level: 0.95,
        calibration: false,
        groups: 10,
    }
}

/// A small deterministic generator (xorshift), so that the cases are the same every run.
fn draws(seed: u64, n: usize) -> Vec<u64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
        .collect()
}

/// The AUC and DeLong's variance straight from their definitions (all pairs).
fn by_pairs(y: &[Option<f64>], s: &[Option<f64>]) -> (f64, f64) {
    let rows: Vec<(f64, f64)> = y
        .iter()
        .zip(s)
        .filter_map(|(y, s)| Some(((*y)?, (*s)?)))
        .collect();
    let cases: Vec<f64> = rows.iter().filter(|r| r.0 == 1.0).map(|r| r.1).collect();
    let controls: Vec<f64> = rows.iter().filter(|r| r.0 == 0.0).map(|r| r.1).collect();
    let psi = |a: f64, b: f64| match a.total_cmp(&b) {
        std::cmp::Ordering::Greater => 1.0,
        std::cmp::Ordering::Equal => 0.5,
        std::cmp::Ordering::Less => 0.0,
    };
    let (m, k) = (cases.len() as f64, controls.len() as f64);
    let v: Vec<f64> = cases
        .iter()
        .map(|&a| controls.iter().map(|&b| psi(a, b)).sum::<f64>() / k)
        .collect();
    let w: Vec<f64> = controls
        .iter()
        .map(|&b| cases.iter().map(|&a| psi(a, b)).sum::<f64>() / m)
        .collect();
    let auc = v.iter().sum::<f64>() / m;
    let var = |x: &[f64]| {
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        x.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (x.len() as f64 - 1.0)
    };
    (auc, var(&v) / m + var(&w) / k)
}

/// Random tables (ties, missing values, negative scores): the twin against the all-pairs
/// definition, and MPC against the twin.
#[test]
fn random_tables_twin_by_pairs_and_mpc() {
    for seed in 1..=6u64 {
        let n = 40 + 23 * seed as usize;
        let r = draws(seed, 3 * n);
        let levels = [3, 10, 1000][seed as usize % 3] as u64;
        let y: Vec<Option<f64>> = (0..n)
            .map(|i| (!r[i].is_multiple_of(17)).then_some((r[i] >> 8) as f64 % 2.0))
            .collect();
        let s: Vec<Option<f64>> = (0..n)
            .map(|i| {
                (!r[n + i].is_multiple_of(13)).then(|| (r[2 * n + i] % levels) as f64 / 4.0 - 50.0)
            })
            .collect();
        let data = table(&y, &s);
        let twin = auc_plain(&data, &spec(), &no_limits()).unwrap();
        let (a, v) = by_pairs(&y, &s);
        assert!(
            (twin.auc - a).abs() < 1e-12,
            "seed {seed}: {} vs {a}",
            twin.auc
        );
        assert!((twin.se - v.sqrt()).abs() < 1e-12, "seed {seed}: se");
        let mpc = in_mpc(&data, |p, fr| auc(p, fr, &spec(), &no_limits())).unwrap();
        assert_eq!(mpc.cases, twin.cases);
        assert!((mpc.auc - twin.auc).abs() < 1e-12 && (mpc.se - twin.se).abs() < 1e-12);
    }
}

/// `calibration = true` on a score that is not a probability (a 0–6 grade): refused in MPC
/// (one bit) and by the twin, with a message naming the score; without calibration the
/// same score gives its AUC.
#[test]
fn calibration_refuses_a_score_that_is_not_a_probability() {
    let y: Vec<Option<f64>> = (0..60).map(|i| Some(f64::from(i % 2 == 0))).collect();
    let s: Vec<Option<f64>> = (0..60).map(|i| Some(f64::from(i % 7))).collect();
    let calib = AucSpec {
        calibration: true,
        groups: 10,
        ..spec()
    };
    let err = in_mpc(&table(&y, &s), |p, fr| auc(p, fr, &calib, &no_limits())).unwrap_err();
    assert!(
        err.contains("predicted probability") && err.contains("b.s"),
        "{err}"
    );
    let err = auc_plain(&table(&y, &s), &calib, &no_limits()).unwrap_err();
    assert!(err.to_string().contains("predicted probability"), "{err}");
    let mut p = s.clone();
    for v in p.iter_mut() {
        *v = v.map(|x| (x + 0.5) / 7.0);
    }
    let ok = in_mpc(&table(&y, &p), |pt, fr| auc(pt, fr, &calib, &no_limits())).unwrap();
    let twin = auc_plain(&table(&y, &p), &calib, &no_limits()).unwrap();
    let (a, b) = (ok.calibration.unwrap(), twin.calibration.unwrap());
    assert!((a.slope.coef - b.slope.coef).abs() < 1e-4 && (a.brier - b.brier).abs() < 1e-6);
    // The table under min_cell = 4: the 6 groups of 10 rows (ties across group boundaries
    // split as the twin splits them); a group with fewer than 4 events or non-events is
    // suppressed in MPC exactly where the twin suppresses it, and says nothing else.
    let rules = Disclosure {
        min_cell: Some(4),
        ..no_limits()
    };
    let six = AucSpec {
        groups: 6,
        ..calib.clone()
    };
    let y2: Vec<Option<f64>> = (0..60)
        .map(|i| Some(f64::from(i % 7 >= 4 || i % 5 == 0)))
        .collect();
    let ok = in_mpc(&table(&y2, &p), |pt, fr| auc(pt, fr, &six, &rules)).unwrap();
    let twin = auc_plain(&table(&y2, &p), &six, &rules).unwrap();
    let (a, b) = (
        ok.calibration.unwrap().table,
        twin.calibration.unwrap().table,
    );
    assert_eq!(a.len(), 6);
    assert!(
        a.iter().any(|g| !g.shown) && a.iter().any(|g| g.shown),
        "{a:?}"
    );
    for (x, w) in a.iter().zip(&b) {
        assert_eq!((x.n, x.shown, x.events), (w.n, w.shown, w.events));
        if !x.shown {
            assert!(x.predicted.is_none() && x.observed.is_none());
        }
    }
    // Groups the researcher cannot have: 1, more than 100, or more than the rows.
    for g in [1, 101, 61] {
        let bad = AucSpec {
            groups: g,
            ..calib.clone()
        };
        let err = in_mpc(&table(&y, &p), |pt, fr| auc(pt, fr, &bad, &no_limits())).unwrap_err();
        assert!(err.contains("`groups`"), "{err}");
    }
}

/// The researcher's mistakes and the rules, played out: an outcome that is not 0/1, a
/// categorical score, a bad confidence level, and fewer cases than `min_cell` (refused in
/// MPC with only that bit opened, by the twin alike).
#[test]
fn refusals() {
    let y: Vec<Option<f64>> = (0..60).map(|i| Some(f64::from(i % 2 == 0))).collect();
    let s: Vec<Option<f64>> = (0..60).map(|i| Some(f64::from(i % 7))).collect();
    let mut bad = y.clone();
    bad[3] = Some(2.0);
    let err = in_mpc(&table(&bad, &s), |p, fr| auc(p, fr, &spec(), &no_limits())).unwrap_err();
    assert!(err.contains("must be 0 or 1"), "{err}");
    let err = auc_plain(&table(&bad, &s), &spec(), &no_limits()).unwrap_err();
    assert!(err.to_string().contains("must be 0 or 1"), "{err}");

    let conf = AucSpec {
        conf_level: 1.5,
        ..spec()
    };
    let err = in_mpc(&table(&y, &s), |p, fr| auc(p, fr, &conf, &no_limits())).unwrap_err();
    assert!(err.contains("conf_level"), "{err}");

    let cat = PlainFrame::new(vec![
        PlainColumn {
            name: "a.y".into(),
            data: PlainData::Numeric(y.clone()),
        },
        PlainColumn {
            name: "b.s".into(),
            data: PlainData::Categorical {
                levels: vec!["lo".into(), "hi".into()],
                codes: (0..60).map(|i| Some(i % 2)).collect(),
            },
        },
    ])
    .unwrap();
    let err = in_mpc(&cat, |p, fr| auc(p, fr, &spec(), &no_limits())).unwrap_err();
    assert!(err.contains("categorical"), "{err}");

    // 4 cases among 60 rows: under the default min_cell (10).
    let few: Vec<Option<f64>> = (0..60).map(|i| Some(f64::from(i % 15 == 0))).collect();
    let rules = Disclosure {
        min_rows: 0,
        ..Disclosure::default()
    };
    let err = in_mpc(&table(&few, &s), |p, fr| auc(p, fr, &spec(), &rules)).unwrap_err();
    assert!(err.contains("min_cell") && err.contains("10"), "{err}");
    let err = auc_plain(&table(&few, &s), &spec(), &rules).unwrap_err();
    assert!(err.to_string().contains("min_cell"), "{err}");
    assert!(in_mpc(&table(&y, &s), |p, fr| auc(p, fr, &spec(), &rules)).is_ok());
    // min_cell = 0 and a single case: no AUC of 0/0 or a NaN standard error, refused.
    let one: Vec<Option<f64>> = (0..60).map(|i| Some(f64::from(i == 7))).collect();
    let err = in_mpc(&table(&one, &s), |p, fr| auc(p, fr, &spec(), &no_limits())).unwrap_err();
    assert!(err.contains("fewer than 2 cases"), "{err}");
    let err = auc_plain(&table(&one, &s), &spec(), &no_limits()).unwrap_err();
    assert!(err.to_string().contains("fewer than 2 cases"), "{err}");
}
