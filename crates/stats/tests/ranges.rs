//! Parameters outside the fixed point's range are refused by every compute party before
//! anything is computed (`analysis::run`), not only at validation: a KM grid time of 1e300
//! or histogram edges of ±1e300 saturated when encoded, a ridge of 1e300 too (issue 13).

use tessera_mpc::testing::run3;
use tessera_mpc::MpcError;
use tessera_stats::analysis::{self, AnalysisSpec, DescribeSpec, KaplanMeierSpec, OlsSpec};
use tessera_stats::ranges::{check_values, compare_limit, square_limit};
use tessera_stats::survival::synthetic;
use tessera_stats::{Disclosure, Frame, PlainColumn, PlainData, PlainFrame, StatsError};

/// The error every party ends with (they must agree).
fn run_err(frame: &PlainFrame, spec: &AnalysisSpec) -> String {
    let out = run3(|p| {
        let fr = Frame::share(p, 0, frame).map_err(|e| MpcError::Invalid(e.to_string()))?;
        Ok(analysis::run(p, &fr, spec, &Disclosure::default())
            .map(|_| ())
            .map_err(|e| match e {
                StatsError::Invalid(m) => m,
                e => panic!("{e}"),
            }))
    });
    let [a, b, c] = out.map(|r| r.expect("no engine error"));
    assert_eq!(a, b);
    assert_eq!(b, c);
    a.expect_err("refused")
}

#[test]
fn every_party_refuses_parameters_outside_the_fixed_point_range() {
    let frame = synthetic::survival(60, 1, 3);
    let names: Vec<&str> = frame.columns.iter().map(|c| c.name.as_str()).collect();
    let col = |suffix: &str| {
        names
            .iter()
            .find(|n| n.ends_with(suffix))
            .unwrap()
            .to_string()
    };
    let km = AnalysisSpec::KaplanMeier(KaplanMeierSpec {
        entry: None,
        time: col("time"),
        event: col("event"),
        group: None,
        times: vec![1.0, 1e300],
        at_event_times: false,
        censor_marks: false,
        median: false,
        conf_level: 0.95,
    });
    let e = run_err(&frame, &km);
    assert!(
        e.contains("times") && e.contains("1e300") && e.contains("rescale"),
        "{e}"
    );
    let describe = AnalysisSpec::Describe(DescribeSpec {
        columns: vec![col("x1")],
        group: None,
        quantiles: vec![0.5],
        histogram: Some(vec![-1e300, 0.0, 1e300]),
        extremes: false,
    });
    let e = run_err(&frame, &describe);
    assert!(e.contains("histogram") && e.contains("-1e300"), "{e}");
    let ols = AnalysisSpec::Ols(OlsSpec {
        outcome: col("x1"),
        covariates: vec![col("time")],
        intercept: true,
        ridge: 1e300,
        conf_level: 0.95,
    });
    let e = run_err(&frame, &ols);
    assert!(e.contains("ridge") && e.contains("5.24288e5"), "{e}");
}

#[test]
fn the_value_check_names_the_column_and_range_never_the_value() {
    let col = |name: &str, v: Vec<f64>| PlainColumn {
        name: name.into(),
        data: PlainData::Numeric(v.into_iter().map(Some).collect()),
    };
    let frame = PlainFrame::new(vec![
        col("a.t", vec![1.0, 2.0, 123456789012.0 * 3.0]),
        col("a.e", vec![1.0, 0.0, 1.0]),
        col("a.x", vec![0.5, 654321.0, 2.0]),
    ])
    .unwrap();
    let km = AnalysisSpec::KaplanMeier(KaplanMeierSpec {
        entry: None,
        time: "a.t".into(),
        event: "a.e".into(),
        group: None,
        times: vec![1.0],
        at_event_times: false,
        censor_marks: false,
        median: false,
        conf_level: 0.95,
    });
    let e = check_values([("km", &km)], &frame, 24).unwrap_err();
    assert!(
        e.contains("column \"a.t\"") && e.contains("analysis \"km\""),
        "{e}"
    );
    assert!(e.contains(&format!("{:e}", compare_limit(24))), "{e}");
    assert!(e.contains("days instead of seconds"), "{e}");
    assert!(!e.contains("370370367036") && !e.contains("3.7037"), "{e}");
    // 654321 is below 2^19.5 ≈ 741455: described at 24 bits, refused at 32.
    let describe = AnalysisSpec::Describe(DescribeSpec {
        columns: vec!["a.x".into()],
        group: None,
        quantiles: vec![0.5],
        histogram: None,
        extremes: false,
    });
    check_values([("d", &describe)], &frame, 24).unwrap();
    let e = check_values([("d", &describe)], &frame, 32).unwrap_err();
    assert!(
        e.contains(&format!("{:e}", square_limit(32))) && !e.contains("654321"),
        "{e}"
    );
    // Columns of other owners (absent from the frame) are theirs to check.
    let other = AnalysisSpec::Describe(DescribeSpec {
        columns: vec!["b.z".into()],
        group: None,
        quantiles: vec![0.5],
        histogram: None,
        extremes: false,
    });
    check_values([("o", &other)], &frame, 24).unwrap();
}
