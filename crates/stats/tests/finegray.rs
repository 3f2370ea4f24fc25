//! The Fine–Gray subdistribution hazards model in MPC and its plaintext twin against R's
//! `cmprsk::crr` (fixtures in `fixtures/finegray/`, made by `make_finegray.R`; R is not
//! needed here), and the researcher's refusals. Tolerances: the twin 1e-6 (it is crr's
//! arithmetic), MPC the (coefficients 1e-4 absolute, standard errors 1e-3 relative).

mod common;
use common::{csv, floats, in_mpc, no_limits, root};

use serde_json::Value;
use tessera_stats::survival::finegray::finegray;
use tessera_stats::survival::{finegray_plain, FinegrayResult, FinegraySpec};
use tessera_stats::{PlainColumn, PlainData, PlainFrame};

fn fixtures() -> Vec<Value> {
    let text = std::fs::read_to_string(root().join("fixtures/finegray/finegray.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["fits"].as_array().unwrap().clone()
}

/// The fixture's data as a frame of numeric columns.
fn data(fit: &Value) -> PlainFrame {
    let raw = csv(&format!("fixtures/{}", fit["data"].as_str().unwrap()));
    let cols = raw
        .into_iter()
        .map(|(k, v)| PlainColumn {
            name: k,
            data: PlainData::Numeric(v),
        })
        .collect();
    PlainFrame::new(cols).unwrap()
}

fn spec(fit: &Value) -> FinegraySpec {
    FinegraySpec {
        time: "time".into(),
        event: "cause".into(),
        causes: 2,
        cause: fit["cause"].as_u64().unwrap() as u32,
        covariates: fit["covariates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect(),
        max_steps: 50,
        conf_level: 0.95,
    }
}

/// Compares a result with the fixture: coefficients `coef_tol` absolute, standard errors
/// and the rest `rel_tol` relative.
fn compare(name: &str, r: &FinegrayResult, fit: &Value, coef_tol: f64, rel_tol: f64) {
    let close = |what: &str, got: f64, want: f64, tol: f64, rel: bool| {
        let err = if rel {
            (got - want).abs() / want.abs().max(1e-12)
        } else {
            (got - want).abs()
        };
        assert!(err <= tol, "{name} {what}: {got} vs R {want} ({err:e})");
    };
    assert_eq!(r.n, fit["n"].as_u64().unwrap(), "{name} n");
    assert_eq!(r.events, fit["events"].as_u64().unwrap(), "{name} events");
    for (j, row) in r.rows.iter().enumerate() {
        let at = |k: &str| floats(&fit[k])[j];
        close("coef", row.coef, at("coef"), coef_tol, false);
        close(
            "exp(coef)",
            row.exp_coef,
            at("exp_coef"),
            coef_tol * 3.0,
            false,
        );
        close("se", row.se, at("se"), rel_tol, true);
        close("z", row.z, at("z"), rel_tol.max(1e-4), true);
        close(
            "lower",
            row.exp_coef_lower,
            at("exp_coef_lower"),
            rel_tol,
            true,
        );
        close(
            "upper",
            row.exp_coef_upper,
            at("exp_coef_upper"),
            rel_tol,
            true,
        );
        close("p", row.p, at("p"), rel_tol.max(1e-4) * 10.0, true);
    }
    let ll = fit["loglik"].as_f64().unwrap();
    close("loglik", r.log_likelihood, ll, coef_tol, false);
    let ll0 = fit["loglik_null"].as_f64().unwrap();
    close("loglik null", r.log_likelihood_null, ll0, coef_tol, false);
}

#[test]
fn twin_matches_crr() {
    for fit in fixtures() {
        let name = fit["name"].as_str().unwrap();
        let r = finegray_plain(&data(&fit), &spec(&fit), &no_limits()).unwrap();
        compare(name, &r, &fit, 1e-6, 1e-6);
        assert!(r.converged);
    }
}

#[test]
fn mpc_matches_crr_and_twin() {
    for fit in fixtures() {
        let name = fit["name"].as_str().unwrap().to_string();
        let frame = data(&fit);
        let s = spec(&fit);
        let got = in_mpc(&frame, |p, f| finegray(p, f, &s, &no_limits())).unwrap();
        compare(&name, &got, &fit, 1e-4, 1e-3);
        let twin = finegray_plain(&frame, &s, &no_limits()).unwrap();
        assert_eq!(got.iterations, twin.iterations, "{name} iterations");
    }
}

#[test]
fn unknown_cause_is_refused() {
    let fit = &fixtures()[0];
    let frame = data(fit);
    // A cause of interest that is not one of the declared causes: refused before any data.
    let mut s = spec(fit);
    s.cause = 3;
    let e = finegray_plain(&frame, &s, &no_limits()).unwrap_err();
    assert!(e.to_string().contains("`cause = 3` is not one of"), "{e}");
    let e = in_mpc(&frame, |p, f| finegray(p, f, &s, &no_limits())).unwrap_err();
    assert!(e.contains("`cause = 3` is not one of"), "{e}");
    // A code in the data outside 0..=causes: one bit opened, refused with the column named.
    let mut s = spec(fit);
    s.causes = 1;
    let want = "column `cause`: every cause must be 0 (censored) or one of 1..=1";
    let e = finegray_plain(&frame, &s, &no_limits()).unwrap_err();
    assert!(e.to_string().contains(want), "{e}");
    let e = in_mpc(&frame, |p, f| finegray(p, f, &s, &no_limits())).unwrap_err();
    assert!(e.contains(want), "{e}");
}

#[test]
fn no_events_of_the_cause_is_refused() {
    let fit = &fixtures()[0];
    let mut frame = data(fit);
    // Every event of cause 1 recoded as cause 2: the counts are opened (as Cox's), then refused.
    for c in frame.columns.iter_mut().filter(|c| c.name == "cause") {
        if let PlainData::Numeric(v) = &mut c.data {
            v.iter_mut()
                .filter(|x| **x == Some(1.0))
                .for_each(|x| *x = Some(2.0));
        }
    }
    let s = spec(fit);
    let want = "needs events of cause 1: 200 complete cases with 0 events";
    let e = finegray_plain(&frame, &s, &no_limits()).unwrap_err();
    assert!(e.to_string().contains(want), "{e}");
    let e = in_mpc(&frame, |p, f| finegray(p, f, &s, &no_limits())).unwrap_err();
    assert!(e.contains(want), "{e}");
}
