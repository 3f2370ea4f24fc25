//! Logistic regression on (quasi-)separated data is refused, inside MPC and in the
//! plaintext twin (issue 13, part 2: perfectly separable data gave SE -1.9e11, z = ±inf).

mod common;

use common::in_mpc;
use tessera_stats::analysis::LogisticSpec;
use tessera_stats::regression::{logistic, plain};
use tessera_stats::{Disclosure, PlainColumn, PlainData, PlainFrame};

fn frame(x: Vec<f64>, y: Vec<f64>) -> PlainFrame {
    PlainFrame::new(vec![
        PlainColumn {
            name: "x".into(),
            data: PlainData::Numeric(x.into_iter().map(Some).collect()),
        },
        PlainColumn {
            name: "y".into(),
            data: PlainData::Numeric(y.into_iter().map(Some).collect()),
        },
    ])
    .unwrap()
}

fn spec() -> LogisticSpec {
    LogisticSpec {
        outcome: "y".into(),
        covariates: vec!["x".into()],
        intercept: true,
        l2: 0.0,
        max_steps: 50,
        conf_level: 0.95,
        holdout: None,
        calibration: false,
        groups: None,
    }
}

fn refused(fr: &PlainFrame) {
    let d = Disclosure::default();
    let e = in_mpc(fr, |p, f| logistic::logistic(p, f, &spec(), &d)).unwrap_err();
    assert!(e.contains("`separation`"), "{e}");
    let e = plain::logistic(fr, &spec()).unwrap_err().to_string();
    assert!(e.contains("`separation`"), "{e}");
}

#[test]
fn perfectly_separated_data_is_refused() {
    // y = [x > 20]: the MLE does not exist.
    let x: Vec<f64> = (1..=40).map(f64::from).collect();
    let y: Vec<f64> = x.iter().map(|&v| f64::from(u8::from(v > 20.0))).collect();
    refused(&frame(x, y));
}

#[test]
fn quasi_separated_data_is_refused() {
    // y = [x > 20], and one more row at x = 20 with y = 1: the classes touch at x = 20
    // only (quasi-complete separation), the slope runs away.
    let mut x: Vec<f64> = (1..=40).map(f64::from).collect();
    let mut y: Vec<f64> = x.iter().map(|&v| f64::from(u8::from(v > 20.0))).collect();
    x.push(20.0);
    y.push(1.0);
    refused(&frame(x, y));
}

#[test]
fn overlapping_data_is_fitted() {
    // Overlapping classes: fitted, in MPC as in plaintext.
    let x: Vec<f64> = (1..=40).map(f64::from).collect();
    let y: Vec<f64> = x
        .iter()
        .map(|&v| f64::from(u8::from((v as u32 * 7) % 10 < v as u32 / 5)))
        .collect();
    let fr = frame(x, y);
    let d = Disclosure::default();
    let got = in_mpc(&fr, |p, f| logistic::logistic(p, f, &spec(), &d)).unwrap();
    let want = plain::logistic(&fr, &spec()).unwrap();
    for (g, w) in got.coefficients.iter().zip(&want.coefficients) {
        assert!((g.coef - w.coef).abs() < 1e-4, "{g:?} {w:?}");
    }
}
