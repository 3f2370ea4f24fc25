//! Every analysis kind end to end as a study runs it: the compute parties' `analysis::run`
//! ends with output shares, the recipient reconstructs them and runs `analysis::open`; the
//! rendered result matches the plaintext twin's. A single party's shares show nothing.

use serde_json::Value;
use tessera_mpc::output::reconstruct_shares;
use tessera_mpc::testing::run3_with_timeout;
use tessera_mpc::{MpcError, OutputShares};
use tessera_stats::analysis::{
    self, AnalysisSpec, CorrelationSpec, CoxSpec, CrosstabSpec, DescribeSpec, KaplanMeierSpec,
    LogisticSpec, LogrankSpec, OlsSpec, SharedOutput, Ties,
};
use tessera_stats::survival::{self, synthetic};
use tessera_stats::{describe, regression};
use tessera_stats::{Disclosure, Frame, Output, PlainColumn, PlainData, PlainFrame, StatsError};

/// 400 synthetic patients (survival columns, two covariates) plus a continuous and a binary
/// outcome and a three-level category, deterministic.
fn data() -> PlainFrame {
    let mut f = synthetic::survival(400, 2, 7);
    let x1: Vec<f64> = match &f.column("gp.x1").unwrap().data {
        PlainData::Numeric(v) => v.iter().map(|x| x.unwrap()).collect(),
        _ => unreachable!(),
    };
    let x2: Vec<f64> = match &f.column("gp.x2").unwrap().data {
        PlainData::Numeric(v) => v.iter().map(|x| x.unwrap()).collect(),
        _ => unreachable!(),
    };
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut noise = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let y: Vec<f64> = (0..f.rows)
        .map(|i| 1.5 + 2.0 * x1[i] - 0.7 * x2[i] + noise())
        .collect();
    let b: Vec<f64> = (0..f.rows)
        .map(|i| f64::from(u8::from(0.8 * x1[i] - 0.5 * x2[i] + 2.0 * noise() > 0.0)))
        .collect();
    let c: Vec<usize> = (0..f.rows)
        .map(|i| ((x1[i] + 1.5).max(0.0) as usize).min(2))
        .collect();
    f.columns.push(PlainColumn::numeric("gp.y", &y));
    f.columns.push(PlainColumn::numeric("gp.b", &b));
    f.columns.push(PlainColumn::categorical(
        "gp.c",
        &["low", "mid", "high"],
        &c,
    ));
    PlainFrame::new(f.columns).unwrap()
}

fn rules() -> Disclosure {
    Disclosure {
        allow_event_times: true,
        allow_extremes: true,
        ..Disclosure::default()
    }
}

/// One analysis of every kind on [`data`].
fn specs() -> Vec<AnalysisSpec> {
    let cov = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        AnalysisSpec::KaplanMeier(KaplanMeierSpec {
            entry: None,
            time: "registry.time".into(),
            event: "registry.event".into(),
            group: Some("registry.group".into()),
            times: vec![100.0, 1000.0 / 3.0, 365.2425, 2000.0],
            at_event_times: true,
            censor_marks: true,
            median: true,
            conf_level: 0.9123456789012345,
        }),
        AnalysisSpec::Logrank(LogrankSpec {
            strata: None,
            time: "registry.time".into(),
            event: "registry.event".into(),
            group: "registry.group".into(),
            observed_expected: true,
        }),
        AnalysisSpec::Cox(CoxSpec {
            entry: None,
            robust: false,
            zph: None,
            cluster: None,
            strata: None,
            time: "registry.time".into(),
            event: "registry.event".into(),
            covariates: cov(&["gp.x1", "gp.x2", "registry.group"]),
            ties: Ties::Efron,
            max_steps: 50,
            conf_level: 0.95,
            concordance: false,
        }),
        AnalysisSpec::Cox(CoxSpec {
            entry: None,
            robust: true,
            zph: Some(tessera_stats::analysis::ZphTransform::Km),
            cluster: None,
            strata: None,
            time: "registry.time".into(),
            event: "registry.event".into(),
            covariates: cov(&["gp.x1", "registry.group"]),
            ties: Ties::Breslow,
            max_steps: 50,
            conf_level: 0.95,
            concordance: false,
        }),
        AnalysisSpec::Ols(OlsSpec {
            outcome: "gp.y".into(),
            covariates: cov(&["gp.x1", "gp.x2", "gp.c"]),
            intercept: true,
            ridge: 0.0,
            conf_level: 0.95,
        }),
        AnalysisSpec::Logistic(LogisticSpec {
            outcome: "gp.b".into(),
            covariates: cov(&["gp.x1", "gp.x2"]),
            intercept: true,
            l2: 0.0,
            max_steps: 50,
            conf_level: 0.95,
            holdout: None,
            calibration: false,
            groups: None,
        }),
        AnalysisSpec::Describe(DescribeSpec {
            columns: cov(&["gp.x1", "gp.y"]),
            group: Some("gp.c".into()),
            quantiles: vec![0.1, 0.5, 0.9],
            histogram: Some(vec![-3.0, -1.0, 0.0, 1.0, 3.0]),
            extremes: true,
        }),
        AnalysisSpec::Crosstab(CrosstabSpec {
            rows: "gp.c".into(),
            columns: "registry.group".into(),
        }),
        AnalysisSpec::Correlation(CorrelationSpec {
            columns: cov(&["gp.x1", "gp.x2", "gp.y"]),
        }),
        AnalysisSpec::Cuminc(survival::CumincSpec {
            time: "registry.time".into(),
            event: "registry.event".into(),
            group: Some("registry.group".into()),
            causes: 1,
            times: vec![100.0, 1000.0 / 3.0, 365.2425, 2000.0],
            gray_test: false,
            at_event_times: false,
            censor_marks: false,
        }),
        AnalysisSpec::Rmst(survival::RmstSpec {
            time: "registry.time".into(),
            event: "registry.event".into(),
            group: Some("registry.group".into()),
            tau: 365.2425,
            conf_level: 0.9,
        }),
        AnalysisSpec::Finegray(survival::FinegraySpec {
            time: "registry.time".into(),
            event: "registry.cause".into(),
            causes: 2,
            cause: 2,
            covariates: vec!["gp.x1".into(), "gp.c".into()],
            max_steps: 50,
            conf_level: 0.9,
        }),
        AnalysisSpec::Auc(tessera_stats::predict::AucSpec {
            outcome: "gp.b".into(),
            score: "gp.x1".into(),
            conf_level: 0.9,
            calibration: false,
            groups: 10,
        }),
    ]
}

/// The plaintext twin of `spec`, rendered.
fn twin(frame: &PlainFrame, spec: &AnalysisSpec, d: &Disclosure) -> Output {
    let k = spec.kind();
    match spec {
        AnalysisSpec::KaplanMeier(s) => {
            Output::of(k, &survival::kaplan_meier_plain(frame, s, d).unwrap())
        }
        AnalysisSpec::Logrank(s) => Output::of(k, &survival::logrank_plain(frame, s, d).unwrap()),
        AnalysisSpec::Cox(s) => Output::of(k, &survival::cox_plain(frame, s, d).unwrap()),
        AnalysisSpec::Ols(s) => Output::of(k, &regression::plain::ols(frame, s).unwrap()),
        AnalysisSpec::Logistic(s) => Output::of(k, &regression::plain::logistic(frame, s).unwrap()),
        AnalysisSpec::Describe(s) => {
            Output::of(k, &describe::plain::describe(frame, s, d).unwrap())
        }
        AnalysisSpec::Crosstab(s) => {
            Output::of(k, &describe::plain::crosstab(frame, s, d).unwrap())
        }
        AnalysisSpec::Correlation(s) => {
            Output::of(k, &describe::plain::correlation(frame, s, d).unwrap())
        }
        AnalysisSpec::Cuminc(s) => Output::of(k, &survival::cuminc_plain(frame, s, d).unwrap()),
        AnalysisSpec::Rmst(s) => Output::of(k, &survival::rmst_plain(frame, s, d).unwrap()),
        AnalysisSpec::Finegray(s) => Output::of(k, &survival::finegray_plain(frame, s, d).unwrap()),
        AnalysisSpec::Auc(s) => {
            Output::of(k, &tessera_stats::predict::auc_plain(frame, s, d).unwrap())
        }
        // Its folds are drawn inside MPC, so no twin reproduces its cross-validation here:
        // tests/enet.rs compares it (and it is not among `specs()`).
        AnalysisSpec::Elasticnet(_) => panic!("the elastic net is compared in tests/enet.rs"),
        AnalysisSpec::BoostedTrees(_) => {
            panic!("boosted trees (a secret split) are compared in tests/gbdt.rs")
        }
        // Its path columns are written by the data owner from a life table; the study
        // crate's tests/relsurv.rs runs it end to end against R (not among `specs()`).
        AnalysisSpec::Relsurv(_) => {
            panic!("relative survival is compared in study/tests/relsurv.rs")
        }
    }
    .unwrap()
}

/// Every analysis of `specs` run by the three compute parties: their ends, in party order.
fn run_all(frame: &PlainFrame, specs: &[AnalysisSpec], d: &Disclosure) -> Vec<[SharedOutput; 3]> {
    let ends = run3_with_timeout(std::time::Duration::from_secs(300), |p| {
        let fr = Frame::share(p, 0, frame).map_err(|e| MpcError::Invalid(e.to_string()))?;
        specs
            .iter()
            .map(|s| {
                analysis::run(p, &fr, s, d).map_err(|e| match e {
                    StatsError::Mpc(m) => m,
                    e => MpcError::Invalid(format!("{}: {e}", s.kind())),
                })
            })
            .collect::<Result<Vec<_>, _>>()
    });
    let [a, b, c] = ends.map(Result::unwrap);
    a.into_iter()
        .zip(b)
        .zip(c)
        .map(|((a, b), c)| [a, b, c])
        .collect()
}

/// The recipient: checks the public facts agree, reconstructs, opens.
fn recipient(spec: &AnalysisSpec, ends: &[SharedOutput; 3]) -> (Vec<u128>, Output) {
    assert_eq!(ends[0].public, ends[1].public);
    assert_eq!(ends[1].public, ends[2].public);
    assert!(ends.iter().all(|e| e.kind == spec.kind()));
    let values = reconstruct_shares([&ends[0].shares, &ends[1].shares, &ends[2].shares]).unwrap();
    // As a station stores and delivers them: as text.
    let public: Value = serde_json::from_str(&ends[0].public.to_string()).unwrap();
    let out = analysis::open(spec, &public, &values).unwrap();
    (values, out)
}

/// Numbers agree within `1e-5` absolute plus `1e-4` relative; everything else exactly.
/// Newton iteration counts may differ by the fixed-point noise and are not compared.
fn close(path: &str, got: &Value, want: &Value, worst: &mut f64) {
    match (got, want) {
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            let err = (g - w).abs() / (1e-5 + 1e-4 * w.abs());
            *worst = worst.max(err);
            assert!(err <= 1.0, "{path}: {g} vs the twin's {w}");
        }
        (Value::Object(g), Value::Object(w)) => {
            assert_eq!(
                g.keys().collect::<Vec<_>>(),
                w.keys().collect::<Vec<_>>(),
                "{path}"
            );
            for (k, v) in w {
                if k == "iterations" || k == "halvings" {
                    continue;
                }
                close(&format!("{path}.{k}"), &g[k], v, worst);
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{path}: lengths");
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                close(&format!("{path}[{i}]"), a, b, worst);
            }
        }
        (g, w) => assert_eq!(g, w, "{path}"),
    }
}

/// A party's parts as (first shares, second shares).
fn words(s: &OutputShares) -> (Vec<u128>, Vec<u128>) {
    let bytes = s.to_bytes();
    let all: Vec<u128> = bytes[9..]
        .chunks_exact(16)
        .map(|c| u128::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let (a, b) = all.split_at(s.len());
    (a.to_vec(), b.to_vec())
}

#[test]
fn every_kind_runs_shared_and_opens_at_the_recipient_as_its_twin() {
    let frame = data();
    let d = rules();
    let specs = specs();
    let ends = run_all(&frame, &specs, &d);
    for (spec, ends) in specs.iter().zip(&ends) {
        let (values, out) = recipient(spec, ends);
        assert!(!values.is_empty(), "{}: nothing sealed", spec.kind());
        let want = twin(&frame, spec, &d);
        assert_eq!(out.kind, want.kind);
        let mut worst = 0f64;
        close(spec.kind(), &out.json, &want.json, &mut worst);
        println!(
            "{}: {} sealed values, worst error {:.3} of the tolerance",
            spec.kind(),
            values.len(),
            worst
        );

        // Nothing readable at one party: none of its shares, nor their sum, is a value.
        for end in ends {
            let (a, b) = words(&end.shares);
            for (i, &v) in values.iter().enumerate() {
                assert_ne!(
                    a[i],
                    v,
                    "{}: party {} holds value {i}",
                    spec.kind(),
                    end.shares.party()
                );
                assert_ne!(
                    b[i],
                    v,
                    "{}: party {} holds value {i}",
                    spec.kind(),
                    end.shares.party()
                );
                assert_ne!(a[i].wrapping_add(b[i]), v);
            }
        }
        // The public facts alone do not give the result, and the tail never panics on
        // values that are not the analysis' (zeros, random words): a result or an error.
        let zeros = vec![0u128; values.len()];
        if let Ok(b) = analysis::open(spec, &ends[0].public, &zeros) {
            assert_ne!(
                b.json,
                out.json,
                "{}: the public facts alone give the result",
                spec.kind()
            );
        }
        let noise: Vec<u128> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.rotate_left(37)
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15 + i as u128)
            })
            .collect();
        let _ = analysis::open(spec, &ends[0].public, &noise);
    }
}

#[test]
fn open_refuses_public_facts_that_do_not_fit() {
    let frame = data();
    let d = rules();
    let specs = specs();
    let two = [specs[1].clone(), specs[6].clone()];
    let ends = run_all(&frame, &two, &d);
    let (values, _) = recipient(&two[0], &ends[0]);
    // Another analysis' facts, facts that do not parse, another spec of the same kind,
    // and values of the wrong length: errors, never panics.
    assert!(analysis::open(&two[0], &ends[1][0].public, &values).is_err());
    assert!(analysis::open(&two[0], &Value::String("x".into()), &values).is_err());
    let mut other = two[0].clone();
    if let AnalysisSpec::Logrank(s) = &mut other {
        s.observed_expected = false;
    }
    assert!(analysis::open(&other, &ends[0][0].public, &values).is_err());
    assert!(analysis::open(&two[0], &ends[0][0].public, &values[1..]).is_err());
    let mut tampered = ends[0][0].public.clone();
    tampered["groups"] = Value::Array(vec![]);
    assert!(analysis::open(&two[0], &tampered, &values).is_err());
}

/// A crosstab's tail reads counts from the sealed words: a word that is no count (a faulty
/// party's, wrapping the totals in release builds and overflowing in debug ones) is refused.
#[test]
fn a_crosstab_count_beyond_any_table_is_refused() {
    let frame = data();
    let d = rules();
    let spec = specs()
        .into_iter()
        .find(|s| matches!(s, AnalysisSpec::Crosstab(_)))
        .unwrap();
    let ends = run_all(&frame, std::slice::from_ref(&spec), &d);
    let (values, out) = recipient(&spec, &ends[0]);
    assert!(values.len() >= 2, "the fixture's crosstab shows cells");
    assert!(
        analysis::open(&spec, &ends[0][0].public, &values)
            .unwrap()
            .json
            == out.json
    );
    for w in [u128::from(u64::MAX), 1u128 << 41, u128::MAX] {
        let mut bad = values.clone();
        bad[0] = w;
        let err = analysis::open(&spec, &ends[0][0].public, &bad).unwrap_err();
        assert!(err.to_string().contains("beyond any table"), "{err}");
    }
}
