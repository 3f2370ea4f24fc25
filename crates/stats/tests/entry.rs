//! Delayed entry (left truncation, `entry = "party.column"`) for Kaplan–Meier and Cox, in
//! MPC (three parties in memory) and in the plaintext twins, against R survival's
//! counting-process fits in `fixtures/entry/entry.json` (made by
//! `fixtures/entry/make_entry.R`: `survfit(Surv(start, stop, event) ~ g)` with the median,
//! and `coxph(Surv(start, stop, event) ~ x, ties = ...)`, also robust, on `survival::heart`
//! and a small synthetic table with entries at other rows' event times), the MPC versions against the
//! twins on random data, and that without `entry` nothing changes. Tolerances: estimates
//! 1e-4 absolute, standard errors 1e-3 relative, test statistics 1e-4 relative.

mod common;
use common::{csv_frame, floats, in_mpc, no_limits};

use proptest::prelude::*;
use serde_json::Value;
use tessera_stats::analysis::{CoxSpec, KaplanMeierSpec, Ties};
use tessera_stats::survival::{cox, cox_plain, kaplan_meier, kaplan_meier_plain};
use tessera_stats::{Disclosure, PlainColumn, PlainFrame};

fn fixture() -> Value {
    let text = std::fs::read_to_string(common::root().join("fixtures/entry/entry.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn open_policy() -> Disclosure {
    Disclosure {
        allow_event_times: true,
        ..no_limits()
    }
}

/// `|a - b| ≤ rel·|b|`, or 1e-9 absolute near zero.
fn close_rel(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs() + 1e-9
}

#[test]
fn kaplan_meier_with_entry_matches_r() {
    let fx = fixture();
    for k in fx["kaplan_meier"].as_array().unwrap() {
        let name = k["name"].as_str().unwrap();
        let group = k["group"].as_str();
        let frame = csv_frame(k["data"].as_str().unwrap(), group.as_slice());
        let curves = k["curves"].as_array().unwrap();
        let spec = KaplanMeierSpec {
            time: "stop".into(),
            event: "event".into(),
            entry: Some("start".into()),
            group: group.map(|g| format!("{g}_cat")),
            times: floats(&curves[0]["grid"]["time"]),
            at_event_times: true,
            censor_marks: false,
            median: true,
            conf_level: 0.95,
        };
        let policy = open_policy();
        let ours = in_mpc(&frame, |p, fr| kaplan_meier(p, fr, &spec, &policy)).unwrap();
        let twin = kaplan_meier_plain(&frame, &spec, &policy).unwrap();
        assert_eq!(ours.n, twin.n);
        assert_eq!(
            ours.n,
            curves.iter().map(|c| c["n"].as_u64().unwrap()).sum::<u64>()
        );
        for (res, tol, who) in [(&ours, 1e-4, "mpc"), (&twin, 1e-9, "twin")] {
            for (c, want) in res.curves.iter().zip(curves) {
                let g = &want["grid"];
                for (i, row) in c.rows.iter().enumerate() {
                    let at = format!("{name} {who} grid {}", row.time);
                    assert_eq!(row.at_risk, Some(g["at_risk"][i].as_u64().unwrap()), "{at}");
                    assert_eq!(row.events, Some(g["events"][i].as_u64().unwrap()), "{at}");
                    let s = row.survival.unwrap();
                    assert!((s - g["survival"][i].as_f64().unwrap()).abs() < tol, "{at}");
                    let se = g["std_err"][i].as_f64().unwrap();
                    assert!(
                        close_rel(row.std_err.unwrap(), se, f64::min(1e-3, tol * 10.0)),
                        "{at}"
                    );
                    for b in ["ci_lower", "ci_upper"] {
                        let v = if b == "ci_lower" {
                            row.ci_lower
                        } else {
                            row.ci_upper
                        };
                        assert!(
                            (v.unwrap() - g[b][i].as_f64().unwrap()).abs() < tol,
                            "{at} {b}"
                        );
                    }
                }
                // The median and its limits (R's print(fit); null: not reached).
                let m = c.median.as_ref().expect("median asked");
                for (got, key) in [(m.median, "median"), (m.lower, "lower"), (m.upper, "upper")] {
                    let r = want["median"][key].as_f64();
                    let same = match (got, r) {
                        (Some(a), Some(b)) => (a - b).abs() < 1e-6,
                        (None, None) => true,
                        _ => false,
                    };
                    assert!(same, "{name} {who} {key}: {got:?} vs R {r:?}");
                }
                let e = &want["event_times"];
                let times = floats(&e["time"]);
                assert_eq!(c.event_times.len(), times.len(), "{name} {who} event times");
                for (i, row) in c.event_times.iter().enumerate() {
                    let at = format!("{name} {who} event time {}", times[i]);
                    assert!((row.time - times[i]).abs() < 1e-6, "{at}");
                    assert_eq!(row.at_risk, e["at_risk"][i].as_u64().unwrap(), "{at}");
                    assert_eq!(row.events, e["events"][i].as_u64().unwrap(), "{at}");
                    let s = e["survival"][i].as_f64().unwrap();
                    assert!(
                        (row.survival - s).abs() < tol,
                        "{at}: {} vs {s}",
                        row.survival
                    );
                    let se = e["std_err"][i].as_f64().unwrap();
                    assert!(
                        close_rel(row.std_err, se, f64::min(1e-3, tol * 10.0)),
                        "{at}"
                    );
                    assert!((row.ci_lower - e["ci_lower"][i].as_f64().unwrap()).abs() < tol);
                    assert!((row.ci_upper - e["ci_upper"][i].as_f64().unwrap()).abs() < tol);
                }
            }
        }
        println!("{name}: MPC and twin match R");
    }
}

/// The fixture case's spec: [`common::cox_case`] with the entry fixtures' columns (stop,
/// event, start) and keys (`strata`, `robust`; `cluster` is R's `cluster = id`).
fn cox_spec(c: &Value) -> CoxSpec {
    let mut case = c.clone();
    case["duration"] = "stop".into();
    case["event"] = "event".into();
    case["entry"] = "start".into();
    case["strata_column"] = c["strata"].clone();
    CoxSpec {
        robust: c["robust"] == true,
        ..common::cox_case(&case)
    }
}

#[test]
fn cox_with_entry_matches_r() {
    let fx = fixture();
    for c in fx["cox"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let frame = csv_frame(c["data"].as_str().unwrap(), c["strata"].as_str().as_slice());
        let spec = cox_spec(c);
        let ours = in_mpc(&frame, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap();
        let twin = cox_plain(&frame, &spec, &no_limits()).unwrap();
        for (res, est, rel, who) in [(&ours, 1e-4, 1e-3, "mpc"), (&twin, 1e-6, 1e-6, "twin")] {
            assert_eq!(res.n, c["n"].as_u64().unwrap(), "{name} {who}");
            assert_eq!(res.events, c["events"].as_u64().unwrap(), "{name} {who}");
            for (i, row) in res.rows.iter().enumerate() {
                let (b, se) = (c["coef"][i].as_f64().unwrap(), c["se"][i].as_f64().unwrap());
                assert!(
                    (row.coef - b).abs() < est,
                    "{name} {who} coef {} vs {b}",
                    row.coef
                );
                // With robust: `se` is the sandwich one (R's per-row residuals), and the
                // model-based one is kept as `se_naive`.
                let (model_se, robust_se) = match row.se_naive {
                    Some(naive) => (naive, Some(row.se)),
                    None => (row.se, None),
                };
                assert!(
                    close_rel(model_se, se, rel),
                    "{name} {who} se {model_se} vs {se}"
                );
                let want = c["robust_se"][i].as_f64();
                assert_eq!(robust_se.is_some(), want.is_some(), "{name} {who}");
                if let (Some(got), Some(want)) = (robust_se, want) {
                    assert!(
                        close_rel(got, want, rel),
                        "{name} {who} robust se {got} vs {want}"
                    );
                }
            }
            let ll = c["log_likelihood"].as_f64().unwrap();
            assert!((res.log_likelihood - ll).abs() < est, "{name} {who} loglik");
            let ll0 = c["log_likelihood_null"].as_f64().unwrap();
            assert!((res.log_likelihood_null - ll0).abs() < est, "{name} {who}");
            let lr = c["lr_statistic"].as_f64().unwrap();
            assert!(close_rel(res.lr_statistic, lr, 1e-4), "{name} {who} LR");
        }
        println!("{name}: MPC and twin match R");
    }
}

#[test]
fn rows_with_entry_at_or_after_time_are_refused() {
    let frame = PlainFrame::new(vec![
        PlainColumn::numeric("a.t", &[3.0, 5.0, 4.0, 6.0]),
        PlainColumn::numeric("a.e", &[1.0, 0.0, 1.0, 1.0]),
        PlainColumn::numeric("a.s", &[0.0, 5.0, 1.0, 2.0]),
        PlainColumn::numeric("a.x", &[0.1, 0.5, -0.3, 0.9]),
    ])
    .unwrap();
    let spec = CoxSpec {
        time: "a.t".into(),
        event: "a.e".into(),
        entry: Some("a.s".into()),
        covariates: vec!["a.x".into()],
        ties: Ties::Efron,
        max_steps: 50,
        conf_level: 0.95,
        strata: None,
        robust: false,
        zph: None,
        cluster: None,
        concordance: false,
    };
    let twin = cox_plain(&frame, &spec, &no_limits())
        .unwrap_err()
        .to_string();
    assert!(twin.contains("entry < time"), "{twin}");
    let ours = in_mpc(&frame, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap_err();
    assert!(ours.contains("entry < time"), "{ours}");
}

/// `n` rows with entry and stop times on a coarse grid (ties between entries and stops),
/// a covariate, a binary group, a cluster of three consecutive rows; `entry` all zero when
/// `zero_entry`.
fn random_entry_frame(rows: &[(u8, u8, bool, f64, bool)], zero_entry: bool) -> PlainFrame {
    let (mut s, mut t, mut e, mut x, mut g) = (vec![], vec![], vec![], vec![], vec![]);
    for &(a, b, ev, xi, gi) in rows {
        let start = if zero_entry { 0.0 } else { f64::from(a) };
        s.push(start);
        t.push(f64::from(a) + f64::from(b));
        e.push(f64::from(u8::from(ev)));
        x.push(xi);
        g.push(usize::from(gi));
    }
    let c: Vec<f64> = (0..rows.len()).map(|i| (i / 3) as f64).collect();
    PlainFrame::new(vec![
        PlainColumn::numeric("a.c", &c),
        PlainColumn::numeric("a.start", &s),
        PlainColumn::numeric("a.t", &t),
        PlainColumn::numeric("a.e", &e),
        PlainColumn::numeric("a.x", &x),
        PlainColumn::categorical("a.g", &["u", "v"], &g),
    ])
    .unwrap()
}

fn km_spec(entry: bool) -> KaplanMeierSpec {
    KaplanMeierSpec {
        time: "a.t".into(),
        event: "a.e".into(),
        entry: entry.then(|| "a.start".into()),
        group: Some("a.g".into()),
        times: vec![2.0, 4.0, 6.0, 9.0],
        at_event_times: true,
        censor_marks: false,
        median: false,
        conf_level: 0.95,
    }
}

fn cox_spec_of(entry: bool, ties: Ties) -> CoxSpec {
    CoxSpec {
        time: "a.t".into(),
        event: "a.e".into(),
        entry: entry.then(|| "a.start".into()),
        covariates: vec!["a.x".into(), "a.g".into()],
        ties,
        max_steps: 50,
        conf_level: 0.95,
        strata: None,
        robust: false,
        zph: None,
        cluster: None,
        concordance: false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, failure_persistence: None, ..ProptestConfig::default() })]

    /// MPC equals its plaintext twin with delayed entry (Cox also with robust standard
    /// errors, per row or clustered), on random tables with many ties between entry and
    /// stop times.
    #[test]
    fn entry_in_mpc_equals_its_twin(
        rows in prop::collection::vec((0u8..6, 1u8..6, any::<bool>(), -1.5f64..1.5, any::<bool>()), 40..60),
        efron in any::<bool>(),
        robust in any::<bool>(),
        clustered in any::<bool>(),
    ) {
        let frame = random_entry_frame(&rows, false);
        let policy = open_policy();
        let km = km_spec(true);
        if let Ok(twin) = kaplan_meier_plain(&frame, &km, &policy) {
            let ours = in_mpc(&frame, |p, fr| kaplan_meier(p, fr, &km, &policy)).unwrap();
            for (a, b) in ours.curves.iter().zip(&twin.curves) {
                for (r, w) in a.rows.iter().zip(&b.rows) {
                    prop_assert_eq!(r.at_risk, w.at_risk);
                    prop_assert_eq!(r.events, w.events);
                    prop_assert!((r.survival.unwrap() - w.survival.unwrap()).abs() < 1e-4);
                    prop_assert!(close_rel(r.std_err.unwrap(), w.std_err.unwrap(), 1e-3));
                }
                prop_assert_eq!(a.event_times.len(), b.event_times.len());
                for (r, w) in a.event_times.iter().zip(&b.event_times) {
                    prop_assert_eq!(r.at_risk, w.at_risk);
                    prop_assert!((r.survival - w.survival).abs() < 1e-4);
                }
            }
        }
        let ties = if efron { Ties::Efron } else { Ties::Breslow };
        let cluster = clustered.then(|| "a.c".to_string());
        let cx = CoxSpec { robust, cluster, ..cox_spec_of(true, ties) };
        if let Ok(twin) = cox_plain(&frame, &cx, &no_limits()) {
            let ours = in_mpc(&frame, |p, fr| cox(p, fr, &cx, &no_limits())).unwrap();
            for (r, w) in ours.rows.iter().zip(&twin.rows) {
                prop_assert!((r.coef - w.coef).abs() < 1e-4, "{} vs {}", r.coef, w.coef);
                prop_assert!(close_rel(r.se, w.se, 1e-3));
                prop_assert_eq!(r.se_naive.is_some(), robust || clustered);
            }
            prop_assert!((ours.log_likelihood - twin.log_likelihood).abs() < 1e-4);
        }
    }

    /// Without `entry` nothing changes: the twins equal those with every entry at 0 (all
    /// records at risk from the start) exactly but for the result naming the entry column,
    /// and neither the spec's nor the result's JSON has `entry`.
    #[test]
    fn without_entry_nothing_changes(
        rows in prop::collection::vec((0u8..6, 1u8..6, any::<bool>(), -1.5f64..1.5, any::<bool>()), 30..80),
        efron in any::<bool>(),
    ) {
        let frame = random_entry_frame(&rows, true);
        let policy = open_policy();
        let plain = kaplan_meier_plain(&frame, &km_spec(false), &policy);
        let zero = kaplan_meier_plain(&frame, &km_spec(true), &policy);
        prop_assert_eq!(plain.is_ok(), zero.is_ok());
        if let (Ok(a), Ok(mut b)) = (plain, zero) {
            // The same numbers; only the result's naming of the entry column differs.
            prop_assert_eq!(b.entry.take(), Some("a.start".to_string()));
            prop_assert_eq!(&a, &b);
            let json = serde_json::to_value(&a).unwrap();
            prop_assert!(!json.to_string().contains("entry"));
        }
        let ties = if efron { Ties::Efron } else { Ties::Breslow };
        let plain = cox_plain(&frame, &cox_spec_of(false, ties), &no_limits());
        let zero = cox_plain(&frame, &cox_spec_of(true, ties), &no_limits());
        prop_assert_eq!(plain.is_ok(), zero.is_ok());
        if let (Ok(a), Ok(mut b)) = (plain, zero) {
            // The same numbers; only the result's naming of the entry column differs.
            prop_assert_eq!(b.entry.take(), Some("a.start".to_string()));
            prop_assert_eq!(&a, &b);
            let json = serde_json::to_value(&a).unwrap();
            prop_assert!(!json.to_string().contains("entry"));
        }
        let spec = serde_json::to_string(&km_spec(false)).unwrap();
        prop_assert!(!spec.contains("entry"));
        let spec = serde_json::to_string(&cox_spec_of(false, ties)).unwrap();
        prop_assert!(!spec.contains("entry"));
    }
}
