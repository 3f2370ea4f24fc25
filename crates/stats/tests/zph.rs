//! The proportional-hazards test of the Cox model (`zph = "km"`, `"rank"`, `"identity"` or
//! `"log"`), in MPC (three
//! parties in memory) and in the plaintext twin, against R's `cox.zph(fit, transform)`
//! (`fixtures/zph/`, made by `fixtures/zph/make_zph.R`; R is not needed here): rossi and
//! lung, Efron and Breslow, a factor's 3-df term, strata, and delayed entry (heart). Test statistics to 1e-4 relative
//! (1e-6 absolute below 0.01).

mod common;
use common::{cox_case, csv_frame, floats, frame, in_mpc, no_limits, random_frame, root};

use serde_json::Value;
use tessera_stats::analysis::{CoxSpec, Ties, ZphTransform};
use tessera_stats::survival::{cox, cox_plain, CoxResult};
use tessera_stats::PlainFrame;

fn fixture() -> Value {
    let text = std::fs::read_to_string(root().join("fixtures/zph/zph.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The cases on the fixtures' own data (the example study's case is run by
/// `crates/study/tests/example.rs`, on the linked data).
fn cases() -> Vec<Value> {
    fixture()["cox"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["dataset"] != "synthetic")
        .cloned()
        .collect()
}

/// The case's factor columns (R writes a single one as a string).
fn factors(c: &Value) -> Vec<&str> {
    match &c["factors"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap()).collect(),
        _ => Vec::new(),
    }
}

/// The fixture case's spec (factors as the `_cat` columns [`frame`] adds).
fn spec_of(c: &Value) -> CoxSpec {
    let factors = factors(c);
    let base = cox_case(c);
    CoxSpec {
        covariates: base
            .covariates
            .iter()
            .map(|v| {
                if factors.contains(&v.as_str()) {
                    format!("{v}_cat")
                } else {
                    v.clone()
                }
            })
            .collect(),
        zph: Some(match c["transform"].as_str().unwrap() {
            "km" => ZphTransform::Km,
            "rank" => ZphTransform::Rank,
            "identity" => ZphTransform::Identity,
            "log" => ZphTransform::Log,
            t => panic!("transform {t}"),
        }),
        ..base
    }
}

fn data_of(c: &Value) -> PlainFrame {
    // Delayed entry: the tables of fixtures/entry/ (a stratum column as `<s>_cat`).
    let strata: Vec<&str> = c["strata_column"].as_str().into_iter().collect();
    match c["dataset"].as_str().unwrap() {
        "heart" => return csv_frame("fixtures/entry/heart.csv", &strata),
        "entry_synthetic" => return csv_frame("fixtures/entry/synthetic.csv", &strata),
        _ => {}
    }
    let mut cats: Vec<(&str, Vec<f64>)> = factors(c)
        .into_iter()
        .map(|f| (f, floats(&c["levels"])))
        .collect();
    if let Some(s) = c["strata_column"].as_str() {
        cats.push((s, floats(&c["strata"])));
    }
    frame(c["dataset"].as_str().unwrap(), &cats)
}

/// Our table against R's; returns the worst relative difference of the statistics.
fn compare(name: &str, ours: &CoxResult, c: &Value, tol: f64) -> f64 {
    let t = ours.ph_test.as_ref().expect("zph asked");
    let (chisq, df, p) = (floats(&c["chisq"]), floats(&c["df"]), floats(&c["p"]));
    assert_eq!(t.terms.len(), chisq.len(), "{name}: terms");
    let mut worst = 0f64;
    let mut close = |what: String, got: f64, want: f64| {
        // Statistics below 0.01 (p above 0.92): 1e-6 absolute.
        let rel = (got - want).abs() / want.abs().max(1e-2);
        worst = worst.max(rel);
        if std::env::var_os("ZPH_DEBUG").is_some() {
            println!("{what}: {got} vs {want}: {rel:.1e}");
        }
        assert!(rel < tol, "{what}: {got} vs R {want}");
    };
    for (j, row) in t.terms.iter().enumerate() {
        assert_eq!(row.df as f64, df[j], "{name} {}: df", row.term);
        close(format!("{name} {} chisq", row.term), row.chisq, chisq[j]);
        assert!(
            (row.p - p[j]).abs() < 1e-4,
            "{name} {}: p {} vs R {}",
            row.term,
            row.p,
            p[j]
        );
    }
    assert_eq!(
        t.global.df as f64,
        c["global_df"].as_f64().unwrap(),
        "{name}"
    );
    close(
        format!("{name} GLOBAL"),
        t.global.chisq,
        c["global_chisq"].as_f64().unwrap(),
    );
    worst
}

#[test]
fn zph_twin_matches_r() {
    for c in &cases() {
        let name = c["name"].as_str().unwrap();
        let res = cox_plain(&data_of(c), &spec_of(c), &no_limits()).unwrap();
        let worst = compare(name, &res, c, 1e-6);
        println!("{name}: twin, worst relative {worst:.1e}");
    }
}

#[test]
fn zph_in_mpc_matches_r() {
    for c in &cases() {
        let name = c["name"].as_str().unwrap();
        let spec = spec_of(c);
        let res = in_mpc(&data_of(c), |p, fr| cox(p, fr, &spec, &no_limits())).unwrap();
        let worst = compare(name, &res, c, 1e-4);
        println!("{name}: MPC, worst relative {worst:.1e}");
    }
}

fn random_spec(ties: Ties, transform: ZphTransform) -> CoxSpec {
    CoxSpec {
        zph: Some(transform),
        cluster: None,
        ..common::random_cox(ties)
    }
}

/// On random data with many ties, missing values, a 2-df term and strata: MPC against the
/// twin.
#[test]
fn zph_in_mpc_matches_its_twin_on_random_data() {
    let mut checked = 0;
    for (seed, ties, transform, strata) in [
        (3, Ties::Efron, ZphTransform::Km, false),
        (4, Ties::Breslow, ZphTransform::Km, true),
        (5, Ties::Efron, ZphTransform::Rank, true),
        (6, Ties::Breslow, ZphTransform::Rank, false),
        (7, Ties::Efron, ZphTransform::Identity, true),
        (8, Ties::Breslow, ZphTransform::Log, false),
    ] {
        let data = random_frame(250 + 60 * seed as usize, 3, seed);
        let spec = CoxSpec {
            strata: strata.then(|| "a.s".into()),
            ..random_spec(ties, transform)
        };
        let twin = cox_plain(&data, &spec, &no_limits()).unwrap();
        let res = in_mpc(&data, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap();
        let (a, b) = (twin.ph_test.unwrap(), res.ph_test.unwrap());
        assert_eq!(b.terms.iter().map(|r| r.df).collect::<Vec<_>>(), [1, 1, 2]);
        assert_eq!(b.global.df, 4);
        for (x, y) in a
            .terms
            .iter()
            .chain([&a.global])
            .zip(b.terms.iter().chain([&b.global]))
        {
            assert_eq!((&x.term, x.df), (&y.term, y.df));
            let rel = (x.chisq - y.chisq).abs() / x.chisq.abs().max(1e-2);
            assert!(
                rel < 1e-4,
                "seed {seed} {}: {} vs twin {}",
                x.term,
                y.chisq,
                x.chisq
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 24);
}

/// Without `zph` the result and the spec are what they were: no `ph_test`, no `zph`.
#[test]
fn without_zph_nothing_changes() {
    let data = random_frame(300, 2, 9);
    let spec = CoxSpec {
        zph: None,
        cluster: None,
        ..random_spec(Ties::Efron, ZphTransform::Km)
    };
    let with = random_spec(Ties::Efron, ZphTransform::Km);
    let plain = in_mpc(&data, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap();
    let tested = in_mpc(&data, |p, fr| cox(p, fr, &with, &no_limits())).unwrap();
    assert!(plain.ph_test.is_none() && tested.ph_test.is_some());
    assert!(!serde_json::to_string(&plain).unwrap().contains("ph_test"));
    assert!(!serde_json::to_string(&spec).unwrap().contains("zph"));
    assert!(serde_json::to_string(&with)
        .unwrap()
        .contains(r#""zph":"km""#));
    for (a, b) in plain.rows.iter().zip(&tested.rows) {
        assert!((a.coef - b.coef).abs() < 1e-6 && (a.se - b.se).abs() < 1e-6);
    }
    assert_eq!(plain.iterations, tested.iterations);
}

/// An unknown transform is a parse error naming it and the ones there are.
#[test]
fn an_unknown_transform_is_refused() {
    let json = r#"{"time":"a.t","event":"a.e","covariates":["b.x"],"zph":"loglog"}"#;
    let err = serde_json::from_str::<CoxSpec>(json)
        .unwrap_err()
        .to_string();
    assert!(err.contains("loglog") && err.contains("identity"), "{err}");
}

/// Every event at one time: the transformed time is the same for all events, the test has
/// no information and its statistics would be noise. Refused, by the twin and in MPC alike,
/// with a message that says why; the fit itself still runs without `zph`.
#[test]
fn zph_without_variation_over_the_events_is_refused() {
    let mut data = random_frame(300, 2, 21);
    let events: Vec<bool> = match &data.column("a.e").unwrap().data {
        tessera_stats::PlainData::Numeric(v) => v.iter().map(|e| *e == Some(1.0)).collect(),
        _ => unreachable!(),
    };
    for c in data.columns.iter_mut().filter(|c| c.name == "a.t") {
        if let tessera_stats::PlainData::Numeric(v) = &mut c.data {
            for (t, &e) in v.iter_mut().zip(&events) {
                if e {
                    *t = Some(5.0);
                }
            }
        }
    }
    for transform in [
        ZphTransform::Km,
        ZphTransform::Rank,
        ZphTransform::Identity,
        ZphTransform::Log,
    ] {
        let spec = random_spec(Ties::Efron, transform);
        let err = cox_plain(&data, &spec, &no_limits())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("does not vary enough over the events"),
            "{err}"
        );
        let err = in_mpc(&data, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap_err();
        assert!(
            err.contains("does not vary enough over the events"),
            "{err}"
        );
        let fit = CoxSpec { zph: None, ..spec };
        assert!(cox_plain(&data, &fit, &no_limits()).is_ok());
    }
}

/// `zph = "log"` with an event at time 0: R's `log(0)` is `-Inf`; refused by the twin and
/// in MPC with a message naming the logarithm (one bit opened), while a censored row at
/// time 0 is fine.
#[test]
fn zph_log_refuses_an_event_at_time_zero() {
    let data = random_frame(300, 2, 23);
    let at_zero = |data: &PlainFrame, event: f64| {
        let mut data = data.clone();
        let events: Vec<Option<f64>> = match &data.column("a.e").unwrap().data {
            tessera_stats::PlainData::Numeric(v) => v.clone(),
            _ => unreachable!(),
        };
        let row = events.iter().position(|e| *e == Some(event)).unwrap();
        for c in data.columns.iter_mut().filter(|c| c.name == "a.t") {
            if let tessera_stats::PlainData::Numeric(v) = &mut c.data {
                v[row] = Some(0.0);
            }
        }
        data
    };
    let spec = random_spec(Ties::Efron, ZphTransform::Log);
    let dead = at_zero(&data, 1.0);
    let err = cox_plain(&dead, &spec, &no_limits())
        .unwrap_err()
        .to_string();
    assert!(err.contains("logarithm is not defined"), "{err}");
    let err = in_mpc(&dead, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap_err();
    assert!(err.contains("logarithm is not defined"), "{err}");
    let censored = at_zero(&data, 0.0);
    let twin = cox_plain(&censored, &spec, &no_limits()).unwrap();
    let res = in_mpc(&censored, |p, fr| cox(p, fr, &spec, &no_limits())).unwrap();
    let (a, b) = (twin.ph_test.unwrap(), res.ph_test.unwrap());
    let rel = (a.global.chisq - b.global.chisq).abs() / a.global.chisq.max(1e-2);
    assert!(rel < 1e-4, "{} vs twin {}", b.global.chisq, a.global.chisq);
}
