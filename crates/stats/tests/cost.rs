//! The cost estimate a steward sees before approving (`tessera_stats::cost`) against what
//! the analyses measurably send: bytes of the busiest party and rounds, for every kind of
//! analysis and the parameters that drive its cost, at sizes other than those the model
//! was calibrated on. An estimate off by more than a factor of two fails.

use tessera_mpc::testing::run3_with_timeout;
use tessera_mpc::MpcError;
use tessera_stats::analysis::{self, *};
use tessera_stats::cost::{estimate, estimate_for, Cost};
use tessera_stats::survival::synthetic;
use tessera_stats::{Disclosure, Frame};

/// Bytes sent by the busiest party and rounds of `spec` on `n` synthetic rows (`p`
/// covariates `gp.x1…`), three parties in this process, with the few-rounds protocols
/// (`Party::few_rounds`, as between stations) or the default ones.
fn measure(n: usize, p: usize, spec: &AnalysisSpec, few_rounds: bool) -> (f64, f64) {
    let mut frame = synthetic::survival(n, p, 11);
    // Entry times for delayed entry: 30% of the way to each row's time (0 ≤ entry < time).
    let time = frame.numeric("registry.time").unwrap().to_vec();
    let entry: Vec<Option<f64>> = time.iter().map(|t| t.map(|t| (0.3 * t).floor())).collect();
    frame.columns.push(tessera_stats::PlainColumn {
        name: "registry.entry".into(),
        data: tessera_stats::PlainData::Numeric(entry),
    });
    // A predicted probability for the AUC's calibration: a logistic function of `gp.x1`.
    let x1 = frame.numeric("gp.x1").unwrap().to_vec();
    frame.columns.push(tessera_stats::PlainColumn {
        name: "gp.p".into(),
        data: tessera_stats::PlainData::Numeric(
            x1.iter()
                .map(|x| x.map(|x| 1.0 / (1.0 + (-0.5 * x).exp())))
                .collect(),
        ),
    });
    let policy = Disclosure {
        min_rows: 0,
        allow_event_times: true,
        ..Disclosure::default()
    };
    let out = run3_with_timeout(std::time::Duration::from_secs(300), |pt| {
        pt.set_few_rounds(few_rounds);
        let fr = Frame::share(pt, 0, &frame).map_err(|e| MpcError::Invalid(e.to_string()))?;
        let before = pt.stats();
        analysis::run(pt, &fr, spec, &policy).map_err(|e| MpcError::Invalid(e.to_string()))?;
        let s = pt.stats().since(&before);
        Ok((s.bytes_sent, s.rounds))
    });
    let v: Vec<(u64, u64)> = out.into_iter().map(|r| r.expect("ran")).collect();
    (
        v.iter().map(|x| x.0).max().unwrap() as f64,
        v.iter().map(|x| x.1).max().unwrap() as f64,
    )
}

fn xs(p: usize) -> Vec<String> {
    (1..=p).map(|j| format!("gp.x{j}")).collect()
}

/// The synthetic frame's group has two levels; its covariates are numeric or binary.
fn levels(c: &str) -> usize {
    if c == "registry.group" {
        2
    } else {
        1
    }
}

fn specs() -> Vec<(usize, AnalysisSpec)> {
    let km_median = |g: usize, group: bool, median: bool| {
        AnalysisSpec::KaplanMeier(KaplanMeierSpec {
            entry: None,
            time: "registry.time".into(),
            event: "registry.event".into(),
            group: group.then(|| "registry.group".into()),
            times: (1..=g).map(|i| (i * 2500 / g) as f64).collect(),
            at_event_times: false,
            censor_marks: false,
            median,
            conf_level: 0.95,
        })
    };
    let km = |g: usize, group: bool| km_median(g, group, false);
    let parse = |json: String| -> AnalysisSpec { serde_json::from_str(&json).unwrap() };
    let cov = |p: usize| serde_json::to_string(&xs(p)).unwrap();
    let mut out = vec![
        (1, km(5, false)),
        (1, km(25, true)),
        (1, km_median(0, false, true)),
        (1, km_median(5, true, true)),
        (
            1,
            AnalysisSpec::KaplanMeier(KaplanMeierSpec {
                entry: None,
                time: "registry.time".into(),
                event: "registry.event".into(),
                group: Some("registry.group".into()),
                times: vec![1000.0],
                at_event_times: true,
                censor_marks: true,
                median: false,
                conf_level: 0.95,
            }),
        ),
        (
            1,
            AnalysisSpec::KaplanMeier(KaplanMeierSpec {
                entry: None,
                time: "registry.time".into(),
                event: "registry.event".into(),
                group: None,
                times: vec![1000.0],
                at_event_times: true,
                censor_marks: false,
                median: false,
                conf_level: 0.95,
            }),
        ),
        (
            1,
            AnalysisSpec::Logrank(LogrankSpec {
                strata: None,
                time: "registry.time".into(),
                event: "registry.event".into(),
                group: "registry.group".into(),
                observed_expected: false,
            }),
        ),
    ];
    for (g, group, gray_test, at_event_times) in [
        (5, false, false, false),
        (25, true, false, false),
        (5, true, true, false),
        (5, true, false, true),
        (5, false, false, true),
    ] {
        out.push((
            1,
            AnalysisSpec::Cuminc(tessera_stats::survival::CumincSpec {
                time: "registry.time".into(),
                event: "registry.event".into(),
                group: group.then(|| "registry.group".into()),
                causes: 1,
                times: (1..=g).map(|i| (i * 2500 / g) as f64).collect(),
                gray_test,
                censor_marks: at_event_times && group,
                at_event_times,
            }),
        ));
    }
    for group in [false, true] {
        out.push((
            1,
            AnalysisSpec::Rmst(tessera_stats::survival::RmstSpec {
                time: "registry.time".into(),
                event: "registry.event".into(),
                group: group.then(|| "registry.group".into()),
                tau: 1500.0,
                conf_level: 0.95,
            }),
        ));
    }
    for p in [3, 6] {
        out.push((p, parse(format!(r#"{{"kind":"cox","time":"registry.time","event":"registry.event","covariates":{}}}"#, cov(p)))));
        out.push((p, parse(format!(r#"{{"kind":"cox","time":"registry.time","event":"registry.event","covariates":{},"robust":true}}"#, cov(p)))));
        out.push((p, parse(format!(r#"{{"kind":"cox","time":"registry.time","event":"registry.event","covariates":{},"cluster":"registry.time"}}"#, cov(p)))));
        out.push((p, parse(format!(r#"{{"kind":"cox","time":"registry.time","event":"registry.event","covariates":{},"zph":"km"}}"#, cov(p)))));
        out.push((p, parse(format!(r#"{{"kind":"cox","time":"registry.time","event":"registry.event","covariates":{},"zph":"km","strata":"registry.group"}}"#, cov(p)))));
        out.push((p, parse(format!(r#"{{"kind":"finegray","time":"registry.time","event":"registry.cause","causes":2,"covariates":{}}}"#, cov(p)))));
        out.push((
            p,
            parse(format!(
                r#"{{"kind":"ols","outcome":"registry.time","covariates":{}}}"#,
                cov(p)
            )),
        ));
        out.push((
            p,
            parse(format!(
                r#"{{"kind":"logistic","outcome":"registry.event","covariates":{}}}"#,
                cov(p)
            )),
        ));
        out.push((
            p,
            AnalysisSpec::Correlation(CorrelationSpec { columns: xs(p) }),
        ));
    }
    out.push((
        1,
        AnalysisSpec::Auc(tessera_stats::predict::AucSpec {
            outcome: "registry.event".into(),
            score: "gp.x1".into(),
            conf_level: 0.95,
            calibration: false,
            groups: 10,
        }),
    ));
    // Calibration of a probability: the synthetic frame's `gp.p` (see `measure`).
    out.push((
        1,
        AnalysisSpec::Auc(tessera_stats::predict::AucSpec {
            outcome: "registry.event".into(),
            score: "gp.p".into(),
            conf_level: 0.95,
            calibration: true,
            groups: 10,
        }),
    ));
    for (j, q, h, group) in [(2, 3, 0, false), (1, 0, 21, false), (1, 2, 11, true)] {
        out.push((
            j,
            AnalysisSpec::Describe(DescribeSpec {
                columns: xs(j),
                group: group.then(|| "registry.group".into()),
                quantiles: (1..=q).map(|i| i as f64 / (q + 1) as f64).collect(),
                histogram: (h > 0).then(|| {
                    (0..h)
                        .map(|i| -3.0 + 6.0 * i as f64 / (h - 1) as f64)
                        .collect()
                }),
                extremes: false,
            }),
        ));
    }
    out
}

/// Kaplan–Meier (grid, by group) and Cox (three covariates, also robust) with delayed entry.
fn entry_specs() -> Vec<(usize, AnalysisSpec)> {
    let parse = |json: &str| -> AnalysisSpec { serde_json::from_str(json).unwrap() };
    vec![
        (
            1,
            parse(
                r#"{"kind":"kaplan_meier","time":"registry.time","event":"registry.event","entry":"registry.entry","group":"registry.group","times":[500,1000,1500,2000,2500]}"#,
            ),
        ),
        (
            3,
            parse(
                r#"{"kind":"cox","time":"registry.time","event":"registry.event","entry":"registry.entry","covariates":["gp.x1","gp.x2","gp.x3"]}"#,
            ),
        ),
        (
            3,
            parse(
                r#"{"kind":"cox","time":"registry.time","event":"registry.event","entry":"registry.entry","covariates":["gp.x1","gp.x2","gp.x3"],"robust":true}"#,
            ),
        ),
    ]
}

#[test]
fn the_estimate_is_within_a_factor_of_two_of_what_is_sent() {
    within_a_factor_of_two(specs());
}

/// Delayed entry doubles the records (the sort and every step after it): the estimate
/// holds and is about twice that without `entry`.
#[test]
fn the_estimate_with_entry_is_within_a_factor_of_two() {
    within_a_factor_of_two(entry_specs());
    for (_, spec) in entry_specs() {
        let mut json = serde_json::to_value(&spec).unwrap();
        json.as_object_mut().unwrap().remove("entry");
        let plain: AnalysisSpec = serde_json::from_value(json).unwrap();
        let (with, without) = (
            estimate(&spec, 5000, &levels),
            estimate(&plain, 5000, &levels),
        );
        assert!(with.bytes > 1.9 * without.bytes && with.rounds >= without.rounds);
    }
}

/// Harrell's concordance on top of the fit (three sorts, the scans, the dominance pass):
/// the estimate holds, with and without strata, with delayed entry and clustered.
#[test]
fn the_concordance_estimate_is_within_a_factor_of_two() {
    let cov = |p: usize| serde_json::to_string(&xs(p)).unwrap();
    let parse = |s: String| serde_json::from_str::<AnalysisSpec>(&s).unwrap();
    let mut specs = Vec::new();
    for p in [3, 6] {
        specs.push((p, parse(format!(r#"{{"kind":"cox","time":"registry.time","event":"registry.event","covariates":{},"concordance":true}}"#, cov(p)))));
    }
    specs.push((3, parse(format!(r#"{{"kind":"cox","time":"registry.time","event":"registry.event","covariates":{},"concordance":true,"strata":"registry.group"}}"#, cov(3)))));
    // With delayed entry (the concordance on 2n points, summed per row) and clustered.
    specs.push((3, parse(format!(r#"{{"kind":"cox","time":"registry.time","event":"registry.event","entry":"registry.entry","covariates":{},"concordance":true}}"#, cov(3)))));
    specs.push((3, parse(format!(r#"{{"kind":"cox","time":"registry.time","event":"registry.event","covariates":{},"concordance":true,"cluster":"registry.time"}}"#, cov(3)))));
    within_a_factor_of_two(specs);
}

/// The elastic net: linear in the rows (design, shuffle), then independent of them
/// (folds × λ × sweeps × covariates of coordinate descent).
#[test]
fn the_elastic_net_estimate_is_within_a_factor_of_two() {
    let enet = |p: usize, folds: usize, nlambda: usize, sweeps: usize| {
        let cov = serde_json::to_string(&xs(p)).unwrap();
        let json = format!(
            r#"{{"kind":"elasticnet","outcome":"registry.time","covariates":{cov},"alpha":0.5,"folds":{folds},"nlambda":{nlambda},"sweeps":{sweeps}}}"#
        );
        (p, serde_json::from_str(&json).unwrap())
    };
    within_a_factor_of_two(vec![enet(3, 5, 10, 10), enet(6, 3, 20, 5)]);
}

/// The binomial elastic net: per λ, Newton step and problem a sigmoid per row.
#[test]
fn the_binomial_elastic_net_estimate_is_within_a_factor_of_two() {
    let enet = |p: usize, folds: usize, nlambda: usize, steps: usize| {
        let cov = serde_json::to_string(&xs(p)).unwrap();
        let json = format!(
            r#"{{"kind":"elasticnet","family":"binomial","outcome":"registry.event","covariates":{cov},"folds":{folds},"nlambda":{nlambda},"steps":{steps}}}"#
        );
        (p, serde_json::from_str(&json).unwrap())
    };
    within_a_factor_of_two(vec![enet(3, 3, 4, 2), enet(5, 2, 3, 1)]);
}

/// The cox elastic net: per λ, Newton step and problem an `exp` and a reciprocal per row;
/// per fold and λ an `exp` and two `ln` per row.
#[test]
fn the_cox_elastic_net_estimate_is_within_a_factor_of_two() {
    let enet = |p: usize, folds: usize, nlambda: usize, steps: usize| {
        let cov = serde_json::to_string(&xs(p)).unwrap();
        let json = format!(
            r#"{{"kind":"elasticnet","family":"cox","time":"registry.time","event":"registry.event","covariates":{cov},"folds":{folds},"nlambda":{nlambda},"steps":{steps}}}"#
        );
        (p, serde_json::from_str(&json).unwrap())
    };
    within_a_factor_of_two(vec![enet(3, 3, 4, 2), enet(5, 2, 3, 1)]);
}

/// Each spec at two sizes, with the default protocols and with few rounds (as between
/// stations): the estimate for that mode within a factor of two of the measured bytes and
/// rounds.
fn within_a_factor_of_two(specs: Vec<(usize, AnalysisSpec)>) {
    let mut off = Vec::new();
    for few_rounds in [false, true] {
        for n in [2500, 8000] {
            for (p, spec) in specs.iter().cloned() {
                let (bytes, rounds) = measure(n, p, &spec, few_rounds);
                let est: Cost = estimate_for(&spec, n, &levels, few_rounds);
                println!(
                    "{:12} few={few_rounds:5} n={n:5} bytes {:>11.0} estimated {:>11.0} ({:.2}x), rounds {rounds:>5} estimated {:>5.0} ({:.2}x)",
                    spec.kind(),
                    bytes,
                    est.bytes,
                    est.bytes / bytes,
                    est.rounds,
                    est.rounds / rounds
                );
                let within = |e: f64, m: f64| e <= 2.0 * m && m <= 2.0 * e;
                if !within(est.bytes, bytes) || !within(est.rounds, rounds) {
                    off.push(format!(
                        "{spec:?} at {n} rows, few rounds {few_rounds}: bytes {bytes} vs \
                         estimated {}, rounds {rounds} vs estimated {}",
                        est.bytes, est.rounds
                    ));
                }
            }
        }
    }
    assert!(
        off.is_empty(),
        "estimates off by more than 2x:\n{}",
        off.join("\n")
    );
}

/// A logistic model validated on held-out rows: the fit on the training rows, the shuffle,
/// the predictions and the AUC (a wide sort) on the test rows, with and without calibration.
#[test]
fn the_holdout_estimate_is_within_a_factor_of_two() {
    let cov = serde_json::to_string(&xs(3)).unwrap();
    let parse = |extra: &str| -> (usize, AnalysisSpec) {
        let json = format!(
            r#"{{"kind":"logistic","outcome":"registry.event","covariates":{cov},"holdout":0.25{extra}}}"#
        );
        (3, serde_json::from_str(&json).unwrap())
    };
    within_a_factor_of_two(vec![parse(""), parse(r#","calibration":true,"groups":10"#)]);
}
