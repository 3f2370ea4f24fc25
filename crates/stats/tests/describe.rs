//! Descriptive statistics, contingency tables and correlation: the MPC versions against their
//! plaintext twins (property tests) and both against numpy / pandas / scipy fixtures made by
//! `fixtures/describe/make_describe_fixtures.py`.

use std::path::PathBuf;

mod common;
use common::{numeric_frame, ran, Open3};

use proptest::prelude::*;
use serde_json::Value;
use tessera_mpc::testing::run3;
use tessera_mpc::{MpcError, Party};
use tessera_stats::analysis::{run, AnalysisSpec, CorrelationSpec, CrosstabSpec, DescribeSpec};
use tessera_stats::describe::quantile::{position, readable};
use tessera_stats::describe::{self, plain, Correlation, Crosstab, Description};
use tessera_stats::{Disclosure, Frame, PlainColumn, PlainData, PlainFrame, StatsError};

// ---------------------------------------------------------------------------------------
// Harness

/// Runs `f` as the three parties on `plain` shared by party 0; checks that all three agree
/// and opens their sealed ends as the recipient would.
fn mpc<S: Open3>(
    plain: &PlainFrame,
    f: impl Fn(&mut Party, &Frame) -> Result<S, StatsError> + Sync,
) -> Result<S::Out, StatsError> {
    let out = run3(|p| {
        let fr = Frame::share(p, 0, plain).map_err(|e| match e {
            StatsError::Mpc(m) => m,
            e => MpcError::Invalid(e.to_string()),
        })?;
        Ok(f(p, &fr))
    });
    let [a, b, c] = out.map(|r| r.expect("the protocol ran"));
    match (a, b, c) {
        (Ok(x), Ok(y), Ok(z)) => Open3::open3([x, y, z]),
        (a, b, c) => {
            let s = |r: &Result<S, StatsError>| r.as_ref().err().map(ToString::to_string);
            assert_eq!(s(&a), s(&b));
            assert_eq!(s(&b), s(&c));
            Err(a.err().expect("an error"))
        }
    }
}

fn rule_of(e: &StatsError) -> &str {
    match e {
        StatsError::Refused { rule, .. } => rule,
        _ => panic!("expected a refusal, got {e}"),
    }
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / b.abs().max(1e-300)
    }
}

fn describe_spec(
    columns: &[&str],
    group: Option<&str>,
    q: &[f64],
    h: Option<&[f64]>,
) -> DescribeSpec {
    DescribeSpec {
        columns: columns.iter().map(|s| s.to_string()).collect(),
        group: group.map(String::from),
        quantiles: q.to_vec(),
        histogram: h.map(<[f64]>::to_vec),
        extremes: false,
    }
}

fn open_policy() -> Disclosure {
    Disclosure {
        min_rows: 0,
        allow_extremes: true,
        ..Disclosure::default()
    }
}

// ---------------------------------------------------------------------------------------
// Fixtures

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/describe")
}

fn fixture() -> Value {
    let text = std::fs::read_to_string(fixture_dir().join("describe.json")).expect("fixture");
    serde_json::from_str(&text).expect("json")
}

/// `fixtures/describe/data.csv` as a plain frame (numeric columns, then the categorical
/// ones with the fixture's level order).
fn fixture_frame(fx: &Value) -> PlainFrame {
    let text = std::fs::read_to_string(fixture_dir().join("data.csv")).expect("data");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect("column");
    let mut columns = Vec::new();
    for name in ["age", "sbp", "bmi", "chol"] {
        let j = col(name);
        columns.push(PlainColumn {
            name: name.into(),
            data: PlainData::Numeric(
                rows.iter()
                    .map(|r| (!r[j].is_empty()).then(|| r[j].parse::<f64>().expect("number")))
                    .collect(),
            ),
        });
    }
    for name in ["sex", "stage", "smoker", "region"] {
        let j = col(name);
        let levels: Vec<String> = fx["levels"][name]
            .as_array()
            .expect("levels")
            .iter()
            .map(|v| v.as_str().expect("level").to_string())
            .collect();
        let codes = rows
            .iter()
            .map(|r| levels.iter().position(|l| l == r[j]))
            .collect();
        columns.push(PlainColumn {
            name: name.into(),
            data: PlainData::Categorical { levels, codes },
        });
    }
    PlainFrame::new(columns).expect("frame")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn opt_f(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn spec_of(case: &Value) -> DescribeSpec {
    DescribeSpec {
        columns: case["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| c.as_str().expect("name").to_string())
            .collect(),
        group: case["group"].as_str().map(String::from),
        quantiles: floats(&case["quantiles"]),
        histogram: (!case["histogram"].is_null()).then(|| floats(&case["histogram"])),
        extremes: true,
    }
}

/// Integer-valued columns of the fixture data: their quantiles must be exact.
fn integer_column(c: &str) -> bool {
    c == "age" || c == "sbp"
}

/// Checks a description against a fixture case; `tol` is the relative tolerance of means
/// and variances. Returns the largest relative errors seen (mean/var, quantiles).
fn check_description(
    d: &Description,
    case: &Value,
    min_cell: u64,
    tol: f64,
    exact_q: bool,
) -> (f64, f64) {
    let results = case["results"].as_array().expect("results");
    assert_eq!(d.summaries.len(), results.len());
    let (mut worst_mv, mut worst_q) = (0.0f64, 0.0f64);
    let qs = floats(&case["quantiles"]);
    for (s, r) in d.summaries.iter().zip(results) {
        assert_eq!(s.column, r["column"].as_str().unwrap());
        assert_eq!(s.level.as_deref(), r["level"].as_str());
        let count = r["count"].as_u64().unwrap();
        if count < min_cell {
            assert!(
                s.suppressed,
                "{} {:?} has {count} values",
                s.column, s.level
            );
            assert!(s.count.is_none() && s.mean.is_none() && s.quantiles.is_empty());
            continue;
        }
        assert!(!s.suppressed);
        assert_eq!(s.count, Some(count));
        let want_missing = r["missing"].as_u64().unwrap();
        assert_eq!(
            s.missing,
            (want_missing >= min_cell).then_some(want_missing)
        );
        for (got, want) in [
            (s.mean, opt_f(&r["mean"])),
            (s.var, opt_f(&r["var"])),
            (s.sd, opt_f(&r["sd"])),
        ] {
            let (got, want) = (got.unwrap(), want.unwrap());
            let e = rel(got, want);
            worst_mv = worst_mv.max(e);
            assert!(e <= tol, "{}: {got} vs {want}", s.column);
        }
        let want_q = floats(&r["quantiles"]);
        for ((&q, &got), &want) in qs.iter().zip(&s.quantiles).zip(&want_q) {
            let pos = position(count as usize, q);
            // Shown only with min_cell rows on either side (the fixtures' policy allows
            // extremes, so min_cell itself).
            assert_eq!(
                got.is_some(),
                readable(count as usize, pos, min_cell),
                "{} q{q} of {count}",
                s.column
            );
            let Some(got) = got else { continue };
            // A short binary fraction: numpy's lerp is then exact, and so is ours.
            let dyadic = (pos.gamma * 65536.0).fract() == 0.0;
            if exact_q && integer_column(&s.column) && dyadic {
                assert_eq!(got, want, "{} quantile {q} must be exact", s.column);
            } else if exact_q && integer_column(&s.column) {
                // Other weights: the nearest f64 of the exact interpolation against numpy's
                // twice-rounded one: at most one unit in the last place apart.
                let e = rel(got, want);
                worst_q = worst_q.max(e);
                assert!(e <= f64::EPSILON, "{} q{q}: {got} vs {want}", s.column);
            } else {
                let e = rel(got, want);
                worst_q = worst_q.max(e);
                // Decimal data: the fixed-point encoding (2^-25 absolute).
                assert!(
                    (got - want).abs() <= 1e-7 * want.abs().max(1.0),
                    "{} q{q}: {got} vs {want}",
                    s.column
                );
            }
        }
        if let Some(h) = &s.histogram {
            let want: Vec<u64> = r["histogram"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            // numpy's bins below min_cell suppressed, and all of them when the rows in no
            // shown bin number neither zero nor min_cell or more.
            let shown: Vec<Option<u64>> =
                want.iter().map(|&w| (w >= min_cell).then_some(w)).collect();
            let rest = s.count.unwrap() - shown.iter().flatten().sum::<u64>();
            if rest == 0 || rest >= min_cell {
                assert_eq!(h, &shown, "{}", s.column);
            } else {
                assert!(h.iter().all(Option::is_none), "{}", s.column);
            }
        }
        if let (Some(lo), Some(hi)) = (s.min, s.max) {
            let (wl, wh) = (r["min"].as_f64().unwrap(), r["max"].as_f64().unwrap());
            assert!((lo - wl).abs() <= 6e-8 * wl.abs().max(1.0), "{lo} vs {wl}");
            assert!((hi - wh).abs() <= 6e-8 * wh.abs().max(1.0), "{hi} vs {wh}");
            if integer_column(&s.column) {
                assert_eq!((lo, hi), (wl, wh));
            }
        }
    }
    (worst_mv, worst_q)
}

#[test]
fn describe_matches_numpy_and_pandas() {
    let fx = fixture();
    let frame = fixture_frame(&fx);
    let policy = open_policy();
    for case in fx["describe"].as_array().unwrap() {
        let spec = spec_of(case);
        let pl = plain::describe(&frame, &spec, &policy).expect("plain");
        check_description(&pl, case, 5, 1e-12, true);
        let got = mpc(&frame, |p, fr| describe::describe(p, fr, &spec, &policy)).expect("mpc");
        let (mv, q) = check_description(&got, case, 5, 1e-6, true);
        println!(
            "describe {:?} by {:?}: worst relative error mean/var/sd {mv:.2e}, non-exact quantiles {q:.2e}",
            spec.columns, spec.group
        );
    }
}

#[test]
fn describe_text_shows_suppressed_cells() {
    let fx = fixture();
    let frame = fixture_frame(&fx);
    let spec = describe_spec(
        &["bmi"],
        Some("region"),
        &[0.5],
        Some(&[10.0, 25.0, 30.0, 45.0]),
    );
    let d = mpc(&frame, |p, fr| {
        describe::describe(p, fr, &spec, &open_policy())
    })
    .unwrap();
    let text = d.to_string();
    assert!(text.contains("islands") && text.contains("<5"), "{text}");
    assert!(d.summaries.iter().any(|s| s.suppressed));
    let pl = plain::describe(&frame, &spec, &open_policy()).unwrap();
    assert_eq!(
        pl.summaries
            .iter()
            .map(|s| s.suppressed)
            .collect::<Vec<_>>(),
        d.summaries.iter().map(|s| s.suppressed).collect::<Vec<_>>()
    );
}

fn check_crosstab(c: &Crosstab, case: &Value, min_cell: u64, tol: f64) -> f64 {
    let want = case["counts"].as_array().unwrap();
    for (row, wrow) in c.counts.iter().zip(want) {
        for (g, w) in row.iter().zip(wrow.as_array().unwrap()) {
            let w = w.as_u64().unwrap();
            match g {
                Some(g) => assert_eq!(*g, w),
                None => assert!(w < min_cell),
            }
        }
    }
    assert_eq!(c.dof, case["dof"].as_u64().unwrap());
    let chi2 = case["chi2"].as_f64().unwrap();
    let e = rel(c.chi2, chi2);
    assert!(e <= tol, "chi2 {} vs {chi2}", c.chi2);
    let p = case["p_value"].as_f64().unwrap();
    assert!(
        rel(c.p_value.unwrap(), p) <= 10.0 * tol.max(1e-12),
        "p {:?} vs {p}",
        c.p_value
    );
    e
}

#[test]
fn crosstab_matches_scipy() {
    let fx = fixture();
    let frame = fixture_frame(&fx);
    let policy = open_policy();
    for case in fx["crosstab"].as_array().unwrap() {
        let spec = CrosstabSpec {
            rows: case["rows"].as_str().unwrap().into(),
            columns: case["columns"].as_str().unwrap().into(),
        };
        let pl = plain::crosstab(&frame, &spec, &policy).expect("plain");
        check_crosstab(&pl, case, 5, 1e-12);
        let got = mpc(&frame, |p, fr| describe::crosstab(p, fr, &spec, &policy)).expect("mpc");
        let e = check_crosstab(&got, case, 5, 1e-4);
        println!(
            "crosstab {} x {}: chi2 relative error {e:.2e}",
            spec.rows, spec.columns
        );
        assert_eq!(got.counts, pl.counts);
        if got.counts.iter().flatten().any(Option::is_none) {
            assert!(got.total.is_none() && got.row_totals.is_none());
            assert!(got.to_string().contains("<5"));
        }
    }
}

#[test]
fn crosstab_on_200k_rows_keeps_chi2_precision() {
    let fx = fixture();
    for case in fx["big_crosstab"].as_array().unwrap() {
        let counts: Vec<Vec<u64>> = case["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect()
            })
            .collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (i, row) in counts.iter().enumerate() {
            for (j, &c) in row.iter().enumerate() {
                for _ in 0..c {
                    a.push(i);
                    b.push(j);
                }
            }
        }
        fn levels(v: &Value) -> Vec<&str> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect()
        }
        let frame = PlainFrame::new(vec![
            PlainColumn::categorical("a.r", &levels(&case["row_levels"]), &a),
            PlainColumn::categorical("b.c", &levels(&case["column_levels"]), &b),
        ])
        .unwrap();
        let spec = CrosstabSpec {
            rows: "a.r".into(),
            columns: "b.c".into(),
        };
        let t = std::time::Instant::now();
        let got = mpc(&frame, |p, fr| {
            describe::crosstab(p, fr, &spec, &Disclosure::default())
        })
        .unwrap();
        let e = check_crosstab(&got, case, 5, 1e-4);
        println!(
            "crosstab of {} rows: chi2 {} (scipy {}), relative error {e:.2e}, {:.2} s with sharing",
            a.len(),
            got.chi2,
            case["chi2"],
            t.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn correlation_matches_pandas() {
    let fx = fixture();
    let frame = fixture_frame(&fx);
    let policy = open_policy();
    for case in fx["correlation"].as_array().unwrap() {
        let spec = CorrelationSpec {
            columns: case["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().into())
                .collect(),
        };
        let check = |c: &Correlation, tol: f64| -> f64 {
            let mut worst = 0.0f64;
            for (a, row) in case["r"].as_array().unwrap().iter().enumerate() {
                for (b, w) in row.as_array().unwrap().iter().enumerate() {
                    let w = w.as_f64().unwrap();
                    let g = c.r[a][b].unwrap();
                    worst = worst.max((g - w).abs());
                    assert!((g - w).abs() <= tol, "r[{a}][{b}] {g} vs {w}");
                    assert_eq!(c.n[a][b], case["n"][a][b].as_u64());
                }
            }
            worst
        };
        check(&plain::correlation(&frame, &spec, &policy).unwrap(), 1e-12);
        let got = mpc(&frame, |p, fr| describe::correlation(p, fr, &spec, &policy)).unwrap();
        let e = check(&got, 1e-6);
        println!(
            "correlation {:?}: worst absolute error {e:.2e}",
            spec.columns
        );
        assert!(got.to_string().contains("Pearson"));
    }
}

// ---------------------------------------------------------------------------------------
// Disclosure rules: every refusal names its rule, in MPC and in the twin alike.

#[test]
fn refusals_name_their_rule() {
    let fx = fixture();
    let frame = fixture_frame(&fx);
    let strict = Disclosure {
        min_level_rows: 5,
        ..open_policy()
    };
    // region has a level of 3 rows.
    let spec = describe_spec(&["bmi"], Some("region"), &[0.5], None);
    let e = mpc(&frame, |p, fr| describe::describe(p, fr, &spec, &strict)).unwrap_err();
    assert_eq!(rule_of(&e), "min_level_rows", "{e}");
    assert_eq!(
        rule_of(&plain::describe(&frame, &spec, &strict).unwrap_err()),
        "min_level_rows"
    );
    let ct = CrosstabSpec {
        rows: "sex".into(),
        columns: "region".into(),
    };
    let e = mpc(&frame, |p, fr| describe::crosstab(p, fr, &ct, &strict)).unwrap_err();
    assert_eq!(rule_of(&e), "min_level_rows");
    // The same with levels that all pass: no refusal.
    let ok = Disclosure {
        min_level_rows: 3,
        ..open_policy()
    };
    assert!(mpc(&frame, |p, fr| describe::crosstab(p, fr, &ct, &ok)).is_ok());

    // No cell reaches min_cell.
    let huge = Disclosure {
        min_cell: Some(1000),
        ..open_policy()
    };
    let e = mpc(&frame, |p, fr| describe::crosstab(p, fr, &ct, &huge)).unwrap_err();
    assert_eq!(rule_of(&e), "min_cell", "{e}");
    assert_eq!(
        rule_of(&plain::crosstab(&frame, &ct, &huge).unwrap_err()),
        "min_cell"
    );

    // Extremes only where allowed.
    let mut ex = describe_spec(&["age"], None, &[], None);
    ex.extremes = true;
    let closed = Disclosure {
        allow_extremes: false,
        ..open_policy()
    };
    let e = mpc(&frame, |p, fr| describe::describe(p, fr, &ex, &closed)).unwrap_err();
    assert_eq!(rule_of(&e), "allow_extremes");

    // Through the entry point: public rules first.
    let specs = [
        (
            AnalysisSpec::Describe(describe_spec(&["age"], None, &[0.5], None)),
            Disclosure {
                min_rows: 401,
                ..open_policy()
            },
            "min_rows",
        ),
        (
            AnalysisSpec::Correlation(CorrelationSpec {
                columns: vec!["age".into(), "bmi".into()],
            }),
            Disclosure {
                disallowed_columns: vec!["bmi".into()],
                ..open_policy()
            },
            "disallowed_columns",
        ),
        (
            AnalysisSpec::Crosstab(ct.clone()),
            Disclosure {
                allowed_columns: Some(vec!["sex".into()]),
                ..open_policy()
            },
            "allowed_columns",
        ),
        (
            AnalysisSpec::Correlation(CorrelationSpec {
                columns: vec!["age".into(), "bmi".into(), "sbp".into()],
            }),
            Disclosure {
                max_vars_per_row: 0.005,
                ..open_policy()
            },
            "max_vars_per_row",
        ),
    ];
    for (spec, policy, rule) in specs {
        let e = mpc(&frame, |p, fr| ran(&spec, run(p, fr, &spec, &policy))).unwrap_err();
        assert_eq!(rule_of(&e), rule, "{e}");
    }
}

#[test]
fn run_renders_every_kind() {
    let fx = fixture();
    let frame = fixture_frame(&fx);
    let policy = Disclosure {
        allow_extremes: true,
        ..Disclosure::default()
    };
    let mut d = describe_spec(
        &["age", "chol"],
        Some("sex"),
        &[0.25, 0.5, 0.75],
        Some(&[0.0, 50.0, 100.0]),
    );
    d.extremes = true;
    let specs = [
        AnalysisSpec::Describe(d),
        AnalysisSpec::Crosstab(CrosstabSpec {
            rows: "stage".into(),
            columns: "smoker".into(),
        }),
        AnalysisSpec::Correlation(CorrelationSpec {
            columns: vec!["age".into(), "sbp".into()],
        }),
    ];
    for spec in &specs {
        let out = mpc(&frame, |p, fr| ran(spec, run(p, fr, spec, &policy))).unwrap();
        assert_eq!(out.kind, spec.kind());
        assert!(out.json.is_object());
        println!("{}", out.text);
    }
}

// ---------------------------------------------------------------------------------------
// Properties: MPC equals its plaintext twin on random tables.

fn frame_strategy() -> impl Strategy<Value = PlainFrame> {
    (8usize..48).prop_flat_map(|n| {
        (
            prop::collection::vec(prop::option::weighted(0.85, -60i32..60), n),
            prop::collection::vec(prop::option::weighted(0.9, -2000i32..2000), n),
            prop::collection::vec(prop::option::weighted(0.9, 0usize..3), n),
            prop::collection::vec(prop::option::weighted(0.95, 0usize..2), n),
        )
            .prop_map(|(x, y, g, h)| {
                PlainFrame::new(vec![
                    PlainColumn {
                        name: "a.x".into(),
                        data: PlainData::Numeric(x.iter().map(|v| v.map(f64::from)).collect()),
                    },
                    PlainColumn {
                        name: "b.y".into(),
                        data: PlainData::Numeric(
                            y.iter().map(|v| v.map(|v| f64::from(v) / 8.0)).collect(),
                        ),
                    },
                    PlainColumn {
                        name: "a.g".into(),
                        data: PlainData::Categorical {
                            levels: vec!["u".into(), "v".into(), "w".into()],
                            codes: g,
                        },
                    },
                    PlainColumn {
                        name: "b.h".into(),
                        data: PlainData::Categorical {
                            levels: vec!["0".into(), "1".into()],
                            codes: h,
                        },
                    },
                ])
                .unwrap()
            })
    })
}

fn close_opt(a: Option<f64>, b: Option<f64>, tol: f64) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= tol * b.abs().max(1.0),
        (None, None) => true,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn describe_equals_its_twin(frame in frame_strategy(), grouped in any::<bool>()) {
        let policy = Disclosure { min_cell: Some(2), ..open_policy() };
        let mut spec = describe_spec(&["a.x", "b.y"], grouped.then_some("a.g"),
                                     &[0.0, 0.25, 0.5, 0.75, 1.0, 0.3], Some(&[-50.0, -10.0, 0.0, 10.0, 60.0]));
        spec.extremes = true;
        let want = plain::describe(&frame, &spec, &policy).unwrap();
        let got = mpc(&frame, |p, fr| describe::describe(p, fr, &spec, &policy)).unwrap();
        for (g, w) in got.summaries.iter().zip(&want.summaries) {
            prop_assert_eq!(g.suppressed, w.suppressed);
            prop_assert_eq!(g.count, w.count);
            prop_assert_eq!(g.missing, w.missing);
            prop_assert_eq!(&g.histogram, &w.histogram);
            prop_assert!(close_opt(g.mean, w.mean, 1e-6), "mean {:?} {:?}", g.mean, w.mean);
            prop_assert!(close_opt(g.var, w.var, 1e-6), "var {:?} {:?}", g.var, w.var);
            prop_assert_eq!(g.min, w.min);
            prop_assert_eq!(g.max, w.max);
            prop_assert_eq!(g.quantiles.len(), w.quantiles.len());
            for (k, (a, b)) in g.quantiles.iter().zip(&w.quantiles).enumerate() {
                // Values are multiples of 1/8: dyadic, so every quantile but q = 0.3 is exact.
                let (Some(a), Some(b)) = (a, b) else {
                    prop_assert_eq!(a.is_some(), b.is_some());
                    continue;
                };
                if k < 5 {
                    prop_assert_eq!(a, b, "quantile {}", spec.quantiles[k]);
                } else {
                    prop_assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{} {}", a, b);
                }
            }
        }
    }

    #[test]
    fn crosstab_and_correlation_equal_their_twins(frame in frame_strategy()) {
        let policy = Disclosure { min_cell: Some(3), ..open_policy() };
        let ct = CrosstabSpec { rows: "a.g".into(), columns: "b.h".into() };
        match plain::crosstab(&frame, &ct, &policy) {
            Ok(want) => {
                let got = mpc(&frame, |p, fr| describe::crosstab(p, fr, &ct, &policy)).unwrap();
                prop_assert_eq!(&got.counts, &want.counts);
                prop_assert!((got.chi2 - want.chi2).abs() <= 1e-6 * want.chi2.max(1.0), "{} {}", got.chi2, want.chi2);
            }
            Err(e) => {
                let got = mpc(&frame, |p, fr| describe::crosstab(p, fr, &ct, &policy)).unwrap_err();
                prop_assert_eq!(got.to_string(), e.to_string());
            }
        }
        let cs = CorrelationSpec { columns: vec!["a.x".into(), "b.y".into()] };
        let want = plain::correlation(&frame, &cs, &policy).unwrap();
        let got = mpc(&frame, |p, fr| describe::correlation(p, fr, &cs, &policy)).unwrap();
        prop_assert_eq!(&got.n, &want.n);
        for (g, w) in got.r.iter().flatten().zip(want.r.iter().flatten()) {
            prop_assert!(close_opt(*g, *w, 1e-5), "{:?} {:?}", g, w);
        }
    }
}

/// Timing of a contingency table on a million rows, three parties as threads (run with
/// `--ignored --nocapture`; the benchmark proper is elsewhere).
#[test]
#[ignore]
fn crosstab_million_rows_timing() {
    let n = 1_000_000;
    let a: Vec<usize> = (0..n).map(|i| (i * 7 + i / 3) % 3).collect();
    let b: Vec<usize> = (0..n).map(|i| (i * 13 + i / 5) % 4).collect();
    let frame = PlainFrame::new(vec![
        PlainColumn::categorical("a.r", &["x", "y", "z"], &a),
        PlainColumn::categorical("b.c", &["p", "q", "r", "s"], &b),
    ])
    .unwrap();
    let spec = CrosstabSpec {
        rows: "a.r".into(),
        columns: "b.c".into(),
    };
    let want = plain::crosstab(&frame, &spec, &Disclosure::default()).unwrap();
    let out = run3(|p| {
        let fr = Frame::share(p, 0, &frame).map_err(|e| MpcError::Invalid(e.to_string()))?;
        p.barrier()?;
        let (s0, t) = (p.stats(), std::time::Instant::now());
        let c = describe::crosstab(p, &fr, &spec, &Disclosure::default())
            .map_err(|e| MpcError::Invalid(e.to_string()))?;
        Ok((c, t.elapsed(), p.stats(), s0))
    });
    let [a, b, c] = out.map(Result::unwrap);
    let (dt, s1, s0) = (a.1, a.2, a.3);
    let c = tessera_stats::open3([a.0, b.0, c.0]).unwrap();
    assert_eq!(c.counts, want.counts);
    println!(
        "crosstab 3x4 of {n} rows: {:.3} s, party 0 sent {} bytes in {} rounds; chi2 {} (plain {})",
        dt.as_secs_f64(),
        s1.bytes_sent - s0.bytes_sent,
        s1.rounds - s0.rounds,
        c.chi2,
        want.chi2
    );
}

/// Timing of a grouped description on 100,000 rows (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn describe_100k_rows_timing() {
    let n = 100_000;
    let x: Vec<Option<f64>> = (0..n)
        .map(|i| (i % 17 != 0).then(|| ((i * 7919) % 1000) as f64 / 10.0))
        .collect();
    let g: Vec<Option<usize>> = (0..n)
        .map(|i| (i % 23 != 0).then_some((i * 31) % 3))
        .collect();
    let frame = PlainFrame::new(vec![
        PlainColumn {
            name: "a.x".into(),
            data: PlainData::Numeric(x),
        },
        PlainColumn {
            name: "b.g".into(),
            data: PlainData::Categorical {
                levels: vec!["u".into(), "v".into(), "w".into()],
                codes: g,
            },
        },
    ])
    .unwrap();
    let policy = open_policy();
    for (group, quantiles, hist) in [
        (None, vec![], None),
        (None, vec![0.25, 0.5, 0.75], None),
        (
            Some("b.g"),
            vec![0.25, 0.5, 0.75],
            Some(vec![0.0, 25.0, 50.0, 75.0, 100.0]),
        ),
    ] {
        let spec = DescribeSpec {
            columns: vec!["a.x".into()],
            group: group.map(String::from),
            quantiles,
            histogram: hist,
            extremes: true,
        };
        let want = plain::describe(&frame, &spec, &policy).unwrap();
        let out = run3(|p| {
            let fr = Frame::share(p, 0, &frame).map_err(|e| MpcError::Invalid(e.to_string()))?;
            p.barrier()?;
            let (s0, t) = (p.stats(), std::time::Instant::now());
            let d = describe::describe(p, &fr, &spec, &policy)
                .map_err(|e| MpcError::Invalid(e.to_string()))?;
            Ok((d, t.elapsed(), p.stats(), s0))
        });
        let [a, b, c] = out.map(Result::unwrap);
        let (dt, s1, s0) = (a.1, a.2, a.3);
        let d = tessera_stats::open3([a.0, b.0, c.0]).unwrap();
        for (a, b) in d.summaries.iter().zip(&want.summaries) {
            for (x, y) in a.quantiles.iter().zip(&b.quantiles) {
                assert_eq!(x.is_some(), y.is_some());
                if let (Some(x), Some(y)) = (x, y) {
                    assert!((x - y).abs() <= 1e-6, "{x} vs {y}");
                }
            }
            assert_eq!(a.histogram, b.histogram);
        }
        println!(
            "describe {n} rows, group {:?}, {} quantiles, histogram {}: {:.3} s, party 0 sent {:.1} MB in {} rounds",
            spec.group,
            spec.quantiles.len(),
            spec.histogram.is_some(),
            dt.as_secs_f64(),
            (s1.bytes_sent - s0.bytes_sent) as f64 / 1e6,
            s1.rounds - s0.rounds
        );
    }
}

#[test]
fn bad_specifications_are_errors_not_panics() {
    let fx = fixture();
    let frame = fixture_frame(&fx);
    let policy = open_policy();
    let invalid = |e: StatsError| assert!(matches!(e, StatsError::Invalid(_)), "{e}");
    for spec in [
        describe_spec(&[], None, &[0.5], None),
        describe_spec(&["sex"], None, &[0.5], None),
        describe_spec(&["age"], Some("bmi"), &[0.5], None),
        describe_spec(&["nope"], None, &[0.5], None),
        describe_spec(&["age"], None, &[1.5], None),
        describe_spec(&["age"], None, &[f64::NAN], None),
        describe_spec(&["age"], None, &[0.5], Some(&[1.0])),
        describe_spec(&["age"], None, &[0.5], Some(&[3.0, 2.0])),
    ] {
        invalid(plain::describe(&frame, &spec, &policy).unwrap_err());
        invalid(mpc(&frame, |p, fr| describe::describe(p, fr, &spec, &policy)).unwrap_err());
    }
    for spec in [
        CrosstabSpec {
            rows: "sex".into(),
            columns: "sex".into(),
        },
        CrosstabSpec {
            rows: "sex".into(),
            columns: "age".into(),
        },
    ] {
        invalid(plain::crosstab(&frame, &spec, &policy).unwrap_err());
        invalid(mpc(&frame, |p, fr| describe::crosstab(p, fr, &spec, &policy)).unwrap_err());
    }
    for cols in [vec!["age"], vec!["age", "age"], vec!["age", "sex"]] {
        let spec = CorrelationSpec {
            columns: cols.iter().map(|c| c.to_string()).collect(),
        };
        invalid(plain::correlation(&frame, &spec, &policy).unwrap_err());
        invalid(mpc(&frame, |p, fr| describe::correlation(p, fr, &spec, &policy)).unwrap_err());
    }
}

#[test]
fn constant_column_has_no_correlation() {
    let frame = PlainFrame::new(vec![
        PlainColumn::numeric("a.x", &[2.5; 12]),
        PlainColumn::numeric("b.y", &(0..12).map(f64::from).collect::<Vec<_>>()),
        PlainColumn::numeric(
            "b.z",
            &(0..12).map(|v| f64::from(v * v)).collect::<Vec<_>>(),
        ),
    ])
    .unwrap();
    let spec = CorrelationSpec {
        columns: vec!["a.x".into(), "b.y".into(), "b.z".into()],
    };
    let policy = open_policy();
    let got = mpc(&frame, |p, fr| describe::correlation(p, fr, &spec, &policy)).unwrap();
    let want = plain::correlation(&frame, &spec, &policy).unwrap();
    assert_eq!(got.r[0][1], None);
    assert_eq!(got.r[0][2], None);
    assert!((got.r[1][2].unwrap() - want.r[1][2].unwrap()).abs() < 1e-6);
    assert!(got.to_string().contains("NaN"));
}

#[test]
fn missing_values_stay_out_of_every_statistic() {
    // Values present in one column and missing in the other: a pair is complete only where
    // both are; a missing value is stored as 0 and must not pull a mean or a count.
    let x = [
        Some(1.0),
        None,
        Some(3.0),
        Some(5.0),
        None,
        Some(7.0),
        Some(9.0),
        Some(11.0),
    ];
    let y = [
        None,
        Some(100.0),
        Some(3.0),
        Some(4.0),
        Some(5.0),
        None,
        Some(8.0),
        Some(13.0),
    ];
    let frame = PlainFrame::new(vec![
        PlainColumn {
            name: "a.x".into(),
            data: PlainData::Numeric(x.to_vec()),
        },
        PlainColumn {
            name: "b.y".into(),
            data: PlainData::Numeric(y.to_vec()),
        },
    ])
    .unwrap();
    let policy = Disclosure {
        min_cell: Some(1),
        ..open_policy()
    };
    let spec = describe_spec(&["a.x", "b.y"], None, &[0.5], None);
    let d = mpc(&frame, |p, fr| describe::describe(p, fr, &spec, &policy)).unwrap();
    assert_eq!(d.summaries[0].count, Some(6));
    assert_eq!(d.summaries[0].missing, Some(2));
    assert!((d.summaries[0].mean.unwrap() - 6.0).abs() < 1e-6);
    assert_eq!(d.summaries[0].quantiles, vec![Some(6.0)]);
    assert_eq!(d.summaries[1].quantiles, vec![Some(6.5)]);
    let cs = CorrelationSpec {
        columns: vec!["a.x".into(), "b.y".into()],
    };
    let c = mpc(&frame, |p, fr| describe::correlation(p, fr, &cs, &policy)).unwrap();
    let want = plain::correlation(&frame, &cs, &policy).unwrap();
    assert_eq!(c.n[0][1], Some(4));
    assert!((c.r[0][1].unwrap() - want.r[0][1].unwrap()).abs() < 1e-6);
}

/// A column of `n` distinct values `1, 2, …, n` (shuffled) as `a.x`.
fn distinct_column(n: usize) -> PlainFrame {
    let x: Vec<Option<f64>> = (0..n).map(|i| Some(((i * 37) % n + 1) as f64)).collect();
    PlainFrame::new(vec![PlainColumn {
        name: "a.x".into(),
        data: PlainData::Numeric(x),
    }])
    .unwrap()
}

/// Issue 13's reproduction: `quantiles = [0, 1]` returned the exact minimum and maximum
/// where `extremes = true` is refused (no `allow_extremes`). Now neither is shown, in MPC
/// and in the twin; a quantile with enough rows on either side still is.
#[test]
fn quantiles_do_not_read_the_extremes() {
    let frame = distinct_column(40);
    let policy = Disclosure {
        min_rows: 0,
        ..Disclosure::default()
    };
    let spec = describe_spec(&["a.x"], None, &[0.0, 0.5, 1.0], None);
    let d = mpc(&frame, |p, fr| describe::describe(p, fr, &spec, &policy)).unwrap();
    assert_eq!(d.summaries[0].quantiles, vec![None, Some(20.5), None]);
    let twin = plain::describe(&frame, &spec, &policy).unwrap();
    assert_eq!(twin.summaries[0].quantiles, d.summaries[0].quantiles);
    let text = d.to_string();
    assert!(text.trim_end().ends_with("20.5    <5"), "{text}");
    // Even with min_cell = 0 the ends need allow_extremes.
    let zero = Disclosure {
        min_cell: Some(0),
        ..policy.clone()
    };
    let d = mpc(&frame, |p, fr| describe::describe(p, fr, &spec, &zero)).unwrap();
    assert_eq!(d.summaries[0].quantiles, vec![None, Some(20.5), None]);
    let extremes = Disclosure {
        min_cell: Some(0),
        allow_extremes: true,
        ..policy
    };
    let d = mpc(&frame, |p, fr| describe::describe(p, fr, &spec, &extremes)).unwrap();
    assert_eq!(
        d.summaries[0].quantiles,
        vec![Some(1.0), Some(20.5), Some(40.0)]
    );
}

/// Issue 13's reproduction: 200 quantiles at i/199 recovered all 200 sorted values of a
/// column. Now only quantiles with `min_cell` rows below their lower order statistic and
/// above their upper one are shown (and sealed): no value within `min_cell` of either end,
/// and every shown quantile rests on at least `min_cell` rows on each side.
#[test]
fn quantiles_keep_min_cell_rows_on_either_side() {
    let n = 200;
    let frame = distinct_column(n);
    let qs: Vec<f64> = (0..n).map(|i| i as f64 / (n - 1) as f64).collect();
    let policy = Disclosure {
        min_rows: 0,
        min_cell: Some(10),
        ..Disclosure::default()
    };
    let spec = describe_spec(&["a.x"], None, &qs, None);
    let d = mpc(&frame, |p, fr| describe::describe(p, fr, &spec, &policy)).unwrap();
    let got = &d.summaries[0].quantiles;
    // q = i/199 reads x_i (the value i + 1), give or take the rounding of (n - 1)·q: shown
    // only where 10 rows lie on either side, never for one of the 10 smallest or largest.
    for (i, g) in got.iter().enumerate() {
        let pos = position(n, qs[i]);
        assert_eq!(g.is_some(), readable(n, pos, 10), "quantile {i}");
        if (11..=188).contains(&i) {
            assert!(
                (g.unwrap() - (i as f64 + 1.0)).abs() < 1e-6,
                "quantile {i}: {g:?}"
            );
        }
        if !(10..=189).contains(&i) {
            assert_eq!(
                *g, None,
                "quantile {i} reads one of the 10 smallest or largest"
            );
        }
    }
    let twin = plain::describe(&frame, &spec, &policy).unwrap();
    let shown = |d: &Description| -> Vec<bool> {
        d.summaries[0]
            .quantiles
            .iter()
            .map(Option::is_some)
            .collect()
    };
    assert_eq!(shown(&twin), shown(&d));
    // Per cell: with a group, each level's own count decides.
    let x: Vec<Option<f64>> = (0..n).map(|i| Some(((i * 37) % n + 1) as f64)).collect();
    let g: Vec<Option<usize>> = (0..n).map(|i| Some(usize::from(i % 10 == 0))).collect();
    let grouped = PlainFrame::new(vec![
        PlainColumn {
            name: "a.x".into(),
            data: PlainData::Numeric(x),
        },
        PlainColumn {
            name: "a.g".into(),
            data: PlainData::Categorical {
                levels: vec!["big".into(), "small".into()],
                codes: g,
            },
        },
    ])
    .unwrap();
    let spec = describe_spec(&["a.x"], Some("a.g"), &[0.05, 0.5], None);
    let d = mpc(&grouped, |p, fr| describe::describe(p, fr, &spec, &policy)).unwrap();
    // 180 rows: the 5% quantile has 8 rows below it; 20 rows: the median has 9 on each side.
    assert_eq!(d.summaries[0].count, Some(180));
    assert_eq!(d.summaries[0].quantiles[0], None);
    assert!(d.summaries[0].quantiles[1].is_some());
    assert_eq!(d.summaries[1].count, Some(20));
    assert_eq!(d.summaries[1].quantiles, vec![None, None]);
    let twin = plain::describe(&grouped, &spec, &policy).unwrap();
    for (a, b) in twin.summaries.iter().zip(&d.summaries) {
        assert_eq!(
            a.quantiles.iter().map(Option::is_some).collect::<Vec<_>>(),
            b.quantiles.iter().map(Option::is_some).collect::<Vec<_>>()
        );
    }
}

/// Issue 13: describe's `missing` counts were opened unchecked (one missing value in a
/// cell was shown as `1`). Now a missing count below `min_cell` shows as suppressed, in MPC
/// and in the twin.
#[test]
fn missing_counts_obey_min_cell() {
    let x: Vec<Option<f64>> = (0..30).map(|i| (i != 7).then_some(i as f64)).collect();
    let y: Vec<Option<f64>> = (0..30).map(|i| (i % 5 != 0).then_some(i as f64)).collect();
    let frame = numeric_frame(vec![("a.x", x), ("a.y", y)]);
    let policy = Disclosure {
        min_rows: 0,
        ..Disclosure::default()
    };
    let spec = describe_spec(&["a.x", "a.y"], None, &[0.5], None);
    let d = mpc(&frame, |p, fr| describe::describe(p, fr, &spec, &policy)).unwrap();
    assert_eq!(d.summaries[0].count, Some(29));
    assert_eq!(
        d.summaries[0].missing, None,
        "one missing value is below min_cell 5"
    );
    assert_eq!(d.summaries[1].missing, Some(6));
    let twin = plain::describe(&frame, &spec, &policy).unwrap();
    assert_eq!(twin.summaries[0].missing, None);
    assert_eq!(twin.summaries[1].missing, Some(6));
    assert!(d.to_string().contains("<5"), "{d}");
}

/// A histogram's count minus its shown bins would show a single suppressed bin, or the few
/// rows beyond the edges: those must number zero or at least `min_cell`, or the whole
/// histogram of the cell is suppressed (inside MPC: one bit per cell), as in the twin.
#[test]
fn a_histogram_hides_what_its_count_would_give_away() {
    let frame = distinct_column(40); // 1, 2, …, 40
    let policy = Disclosure {
        min_rows: 0,
        ..Disclosure::default()
    };
    // (edges, the histogram shown; None: all of it suppressed)
    type Shown = Option<Vec<Option<u64>>>;
    let cases: [(&[f64], Shown); 5] = [
        // Every row in a shown bin.
        (&[0.0, 20.5, 40.0], Some(vec![Some(20), Some(20)])),
        // Two rows beyond the last edge: the count would show them.
        (&[0.0, 20.5, 38.5], None),
        // One suppressed bin of 3 rows and nobody outside: count - 37 = 3.
        (&[0.0, 37.5, 40.0], None),
        // Seven rows outside the edges reach min_cell.
        (&[0.0, 20.5, 33.5], Some(vec![Some(20), Some(13)])),
        // Two suppressed bins, 3 + 3 rows: their sum reaches min_cell, neither is shown.
        (&[0.0, 34.5, 37.5, 40.0], Some(vec![Some(34), None, None])),
    ];
    for (edges, want) in cases {
        let spec = describe_spec(&["a.x"], None, &[], Some(edges));
        let d = mpc(&frame, |p, fr| describe::describe(p, fr, &spec, &policy)).unwrap();
        let twin = plain::describe(&frame, &spec, &policy).unwrap();
        let got = d.summaries[0].histogram.clone().unwrap();
        let want = want.unwrap_or(vec![None; edges.len() - 1]);
        assert_eq!(got, want, "edges {edges:?}");
        assert_eq!(
            twin.summaries[0].histogram.as_ref(),
            Some(&want),
            "twin, edges {edges:?}"
        );
        assert_eq!(d.summaries[0].count, Some(40));
    }
}
