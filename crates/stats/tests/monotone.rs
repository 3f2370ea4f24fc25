//! Cox regression with a monotone likelihood (the coefficient's estimate is infinite) is
//! refused, never a finite estimate with a standard error (issue 13, part 2).

mod common;

use common::in_mpc;
use tessera_stats::analysis::{CoxSpec, Ties};
use tessera_stats::survival::{cox, cox_plain};
use tessera_stats::{Disclosure, PlainColumn, PlainData, PlainFrame};

fn num(name: &str, v: Vec<f64>) -> PlainColumn {
    PlainColumn {
        name: name.into(),
        data: PlainData::Numeric(v.into_iter().map(Some).collect()),
    }
}

#[test]
fn monotone_likelihood_is_refused() {
    // Every event is in a row with x = 1, every row with x = 0 is censored: at each event
    // time the event has the largest covariate of its risk set, the estimate is +inf.
    let n = 40;
    let x: Vec<f64> = (0..n).map(|i| f64::from(i % 2)).collect();
    let t: Vec<f64> = (0..n).map(|i| f64::from(i + 1)).collect();
    let e: Vec<f64> = x.clone();
    let frame = PlainFrame::new(vec![num("t", t), num("e", e), num("x", x)]).unwrap();
    let spec = CoxSpec {
        entry: None,
        robust: false,
        zph: None,
        cluster: None,
        strata: None,
        time: "t".into(),
        event: "e".into(),
        covariates: vec!["x".into()],
        ties: Ties::Efron,
        max_steps: 50,
        conf_level: 0.95,
        concordance: false,
    };
    let d = Disclosure::default();
    // Before: coef 11.07, se 0, z = inf, "converged" (MPC); coef 20.07, se 5630 (plaintext).
    let e = in_mpc(&frame, |p, f| cox(p, f, &spec, &d)).unwrap_err();
    assert!(e.contains("`monotone_likelihood`"), "{e}");
    let e = cox_plain(&frame, &spec, &d).unwrap_err().to_string();
    assert!(e.contains("`monotone_likelihood`"), "{e}");
    // Breslow too.
    let breslow = CoxSpec {
        entry: None,
        robust: false,
        zph: None,
        cluster: None,
        strata: None,
        ties: Ties::Breslow,
        ..spec.clone()
    };
    let e = in_mpc(&frame, |p, f| cox(p, f, &breslow, &d)).unwrap_err();
    assert!(e.contains("`monotone_likelihood`"), "{e}");
}

#[test]
fn the_plaintext_twins_refuse_values_outside_the_range() {
    // A covariate up to 2.9e6 (beyond 2^19.5 ≈ 7.4e5, where its squares leave the fixed
    // point's range): refused by the twins of Cox and correlation as by the data owner.
    let n = 40;
    let x: Vec<f64> = (0..n).map(|i| f64::from(i) * 7.5e4).collect();
    let t: Vec<f64> = (0..n).map(|i| f64::from((i * 17) % 40 + 1)).collect();
    let e: Vec<f64> = (0..n).map(|i| f64::from(i % 3 != 0)).collect();
    let frame = PlainFrame::new(vec![num("t", t), num("e", e), num("x", x)]).unwrap();
    let spec = CoxSpec {
        entry: None,
        robust: false,
        zph: None,
        cluster: None,
        strata: None,
        time: "t".into(),
        event: "e".into(),
        covariates: vec!["x".into()],
        ties: Ties::Efron,
        max_steps: 50,
        conf_level: 0.95,
        concordance: false,
    };
    let d = Disclosure::default();
    let err = cox_plain(&frame, &spec, &d).unwrap_err().to_string();
    assert!(
        err.contains("column \"x\"") && err.contains("rescale"),
        "{err}"
    );
    let c = tessera_stats::analysis::CorrelationSpec {
        columns: vec!["t".into(), "x".into()],
    };
    let err = tessera_stats::describe::plain::correlation(&frame, &c, &d)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column \"x\"") && err.contains("rescale"),
        "{err}"
    );
}
