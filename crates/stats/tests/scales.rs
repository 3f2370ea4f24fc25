//! Every analysis on data at random scales (issue 13): the numeric columns of a small data
//! set are multiplied by scales `10^U(-3, 12)` (time columns too, with the Kaplan–Meier grid),
//! and the data go through what a station does — the owner's check of its values
//! ([`check_values`]) and of the parameters ([`check_params`]), then the analysis in MPC
//! ([`analysis::run`], three parties in memory, opened as the recipient would). The result
//! must be within the project's tolerance of the plaintext f64 twin on the same data, or the
//! run must end with an error that says what is wrong and what to do ("rescale", or the
//! rule that refused: "separation", "monotone"). A number that is wrong beyond tolerance
//! with no refusal is the failure this file exists to catch: fixed point holds only bounded
//! values, and an out-of-range value wraps or saturates silently unless something checks it.
//!
//! Tolerances are the issue's where they are scale-free (Kaplan–Meier survival 1e-4
//! absolute, χ² 1e-4 relative, standard errors 1e-3 relative). A coefficient's absolute
//! tolerance (1e-4) is meant for covariates on a unit scale: a covariate multiplied by `s`
//! has its coefficient divided by `s` (and an outcome multiplied by `s_y` multiplies it by
//! `s_y`), so the tolerance is carried along: `1e-4 · s_y / s_x`, the issue's 1e-4 on the
//! coefficient of the unscaled problem. Describe and correlation use 1e-4 relative to the
//! data's scale (see each check).

mod common;
use common::{in_mpc, ran};

use proptest::prelude::*;
use serde_json::Value;
use tessera_stats::analysis::{
    self, AnalysisSpec, CorrelationSpec, CoxSpec, DescribeSpec, KaplanMeierSpec, LogisticSpec,
    LogrankSpec, OlsSpec, Ties,
};
use tessera_stats::describe::plain as describe_plain;
use tessera_stats::ranges::{check_params, check_values};
use tessera_stats::regression::plain as regression_plain;
use tessera_stats::survival::{cox_plain, kaplan_meier_plain, logrank_plain, synthetic};
use tessera_stats::{Disclosure, PlainColumn, PlainData, PlainFrame};

/// The fractional bits of the default study.
const F: u32 = 24;

/// Cases per analysis (each runs the analysis once in MPC on 100–300 rows). The seed is
/// fixed, so CI runs the same cases every time; `PROPTEST_RNG_SEED` is ignored. Before a
/// change to the numerics, run with more cases and random seeds (2026-12-02: four runs of
/// 300 random cases per analysis, no failure after the fixes they found).
const CASES: u32 = 48;

/// The fixed seed of every property here.
const SEED: u64 = 20_261_202;

/// No disclosure limits: every cell is shown, so every number can be compared.
fn open_policy() -> Disclosure {
    Disclosure {
        min_cell: Some(0),
        min_rows: 0,
        min_events: 0,
        max_vars_per_row: 1.0,
        allow_extremes: true,
        ..Disclosure::default()
    }
}

/// What a station does with `spec` on `frame`: the owner's checks, then the analysis in
/// MPC, opened as the recipient would. An error is a refusal (its message).
fn station(frame: &PlainFrame, spec: &AnalysisSpec) -> Result<Value, String> {
    check_values([("scaled", spec)], frame, F)?;
    check_params(spec, F).map_err(|e| e.to_string())?;
    let out = in_mpc(frame, |p, fr| {
        ran(spec, analysis::run(p, fr, spec, &open_policy()))
    })?;
    Ok(out.json)
}

/// A refusal must say what to do: one of the words of the numeric rules.
fn assert_clear(kind: &str, e: &str) {
    let words = ["rescale", "separation", "monotone"];
    assert!(
        words.iter().any(|w| e.contains(w)),
        "{kind}: refused without saying what to do: {e}"
    );
}

/// A small deterministic generator (xorshift64*) for the data of one case.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn scale_of(exponent: f64) -> f64 {
    10f64.powf(exponent)
}

/// Multiplies the numeric column `name` by `s` (missing values stay missing).
fn scale_column(frame: &mut PlainFrame, name: &str, s: f64) {
    let col = frame
        .columns
        .iter_mut()
        .find(|c| c.name == name)
        .expect("column");
    let PlainData::Numeric(v) = &mut col.data else {
        panic!("{name} is not numeric")
    };
    for x in v.iter_mut().flatten() {
        *x *= s;
    }
}

/// `synthetic::survival` (time in days, event, group, covariates x1 normal and x2 binary)
/// with the time multiplied by `st` and the covariates by `s1`, `s2`.
fn survival_frame(n: usize, seed: u64, st: f64, s1: f64, s2: f64) -> PlainFrame {
    let mut frame = synthetic::survival(n, 2, seed);
    scale_column(&mut frame, "registry.time", st);
    scale_column(&mut frame, "gp.x1", s1);
    scale_column(&mut frame, "gp.x2", s2);
    frame
}

/// Regression data: `x1` (age-like, mean 50), `x2` uniform, `g` three levels, `y` linear
/// with normal noise and `e` a logistic outcome; `x1`, `x2`, `y` multiplied by `s1`, `s2`,
/// `sy`. About 3% of `x1` missing.
fn regression_frame(n: usize, seed: u64, s1: f64, s2: f64, sy: f64) -> PlainFrame {
    let mut r = Rng::new(seed);
    let (mut x1, mut x2, mut g, mut y, mut e) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let a = 50.0 + 10.0 * r.normal();
        let b = r.uniform();
        let level = (r.uniform() * 3.0) as usize;
        let shift = [0.0, 0.5, -0.3][level];
        let noise = r.normal();
        let lin = -2.5 + 0.05 * a - 1.0 * b + shift;
        let event = r.uniform() < 1.0 / (1.0 + (-lin).exp());
        x1.push((r.uniform() > 0.03).then_some(a * s1));
        x2.push(Some(b * s2));
        g.push(Some(level));
        y.push(Some((2.0 + 0.05 * a - 1.5 * b + shift + noise) * sy));
        e.push(Some(f64::from(u8::from(event))));
    }
    let num = |name: &str, v: Vec<Option<f64>>| PlainColumn {
        name: name.into(),
        data: PlainData::Numeric(v),
    };
    PlainFrame::new(vec![
        num("gp.x1", x1),
        num("gp.x2", x2),
        PlainColumn {
            name: "gp.g".into(),
            data: PlainData::Categorical {
                levels: vec!["a".into(), "b".into(), "c".into()],
                codes: g,
            },
        },
        num("gp.y", y),
        num("gp.e", e),
    ])
    .unwrap()
}

/// Describe / correlation data: `a` normal around 10, `b` log-normal (skewed), `c` = `a` plus
/// noise (correlated with it), each multiplied by its scale; about 5% of `b` missing.
fn describe_frame(n: usize, seed: u64, sa: f64, sb: f64, sc: f64) -> PlainFrame {
    let mut r = Rng::new(seed);
    let (mut a, mut b, mut c) = (vec![], vec![], vec![]);
    for _ in 0..n {
        let x = 10.0 + 3.0 * r.normal();
        let z = r.normal().exp();
        let w = x + 2.0 * r.normal();
        a.push(Some(x * sa));
        b.push((r.uniform() > 0.05).then_some(z * sb));
        c.push(Some(w * sc));
    }
    let num = |name: &str, v: Vec<Option<f64>>| PlainColumn {
        name: name.into(),
        data: PlainData::Numeric(v),
    };
    PlainFrame::new(vec![num("gp.a", a), num("gp.b", b), num("gp.c", c)]).unwrap()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The twin's result as the JSON the recipient's output holds.
fn json<T: serde::Serialize>(t: T) -> Value {
    serde_json::to_value(t).unwrap()
}

/// The twin's answer as [`check`] takes it: its JSON, or its refusal's message.
fn twin<T: serde::Serialize>(r: tessera_stats::Result<T>) -> Result<Value, String> {
    r.map(json).map_err(|e| e.to_string())
}

/// The elements of the arrays `a` (ours) and `b` (the twin's) side by side; an error when
/// either is no array or their lengths differ, so that a short result is never compared
/// by omission.
fn pairs<'a>(
    what: &str,
    a: &'a Value,
    b: &'a Value,
) -> Result<Vec<(&'a Value, &'a Value)>, String> {
    match (a.as_array(), b.as_array()) {
        (Some(x), Some(y)) if x.len() == y.len() => Ok(x.iter().zip(y).collect()),
        (Some(x), Some(y)) => Err(format!("{what}: {} vs the twin's {}", x.len(), y.len())),
        _ => Err(format!("{what}: not a list")),
    }
}

/// Scale exponents every analysis must compute at, not refuse: were refusals accepted
/// there too, a change that refused everything would pass every property.
const COMFORTABLE: std::ops::RangeInclusive<f64> = -1.0..=3.0;

/// Whether every drawn scale exponent lies in [`COMFORTABLE`].
fn ordinary(exponents: &[f64]) -> bool {
    exponents.iter().all(|x| COMFORTABLE.contains(x))
}

/// Runs the station; on a refusal checks its message (and fails when the case is
/// `ordinary`: no refusal is expected there), otherwise compares with the twin (which must
/// then give a result too) by `compare(ours, twin)`.
fn check(
    kind: &str,
    ordinary: bool,
    frame: &PlainFrame,
    spec: &AnalysisSpec,
    twin: impl FnOnce() -> Result<Value, String>,
    compare: impl FnOnce(&Value, &Value) -> Result<(), String>,
) -> Result<(), TestCaseError> {
    match station(frame, spec) {
        Err(e) => {
            assert_clear(kind, &e);
            if ordinary {
                return Err(TestCaseError::fail(format!(
                    "{kind}: refused at ordinary scales: {e}"
                )));
            }
            Ok(())
        }
        Ok(ours) => {
            let twin = twin().map_err(|e| {
                TestCaseError::fail(format!("{kind}: MPC gave a result, the twin refused: {e}"))
            })?;
            compare(&ours, &twin).map_err(|e| TestCaseError::fail(format!("{kind}: {e}")))
        }
    }
}

/// `|got - want| ≤ tol`, else a message naming `what` (statistics, never data values).
fn within(what: &str, got: f64, want: f64, tol: f64) -> Result<(), String> {
    if (got - want).abs() <= tol && got.is_finite() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {got} vs twin {want} (error {:.3e}, tolerance {tol:.3e})",
            (got - want).abs()
        ))
    }
}

/// Regression coefficients and standard errors: coefficient of design column `j` within
/// `1e-4 · unit[j]` (the issue's absolute tolerance carried to the column's scale, see the
/// file's docs), standard error within 1e-3 relative.
fn compare_coefficients(ours: &Value, twin: &Value, unit: &[f64]) -> Result<(), String> {
    let (o, t) = (
        ours["coefficients"].as_array().unwrap(),
        twin["coefficients"].as_array().unwrap(),
    );
    if o.len() != t.len() || o.len() != unit.len() {
        return Err(format!("{} coefficients vs twin {}", o.len(), t.len()));
    }
    for ((a, b), u) in o.iter().zip(t).zip(unit) {
        let name = b["name"].as_str().unwrap();
        within(
            &format!("coef {name}"),
            f(&a["coef"]),
            f(&b["coef"]),
            1e-4 * u,
        )?;
        // Ridge fits have no standard errors (in both).
        match (&a["std_err"], &b["std_err"]) {
            (Value::Null, Value::Null) => {}
            (x, y) if !x.is_null() && !y.is_null() => {
                let se = f(y);
                within(&format!("se {name}"), f(x), se, 1e-3 * se)?;
            }
            _ => return Err(format!("{name}: a standard error on one side only")),
        }
    }
    Ok(())
}

/// The units of the design columns `intercept, x1, x2, g[T.b], g[T.c]` for an outcome on
/// the scale `sy` (1 for logistic regression) and covariates on `s1`, `s2`.
fn units(sy: f64, s1: f64, s2: f64) -> Vec<f64> {
    vec![sy, sy / s1, sy / s2, sy, sy]
}

/// A scale exponent: from the whole range, or (as often) from [`COMFORTABLE`], so that
/// every property has cases in which a refusal is a failure.
fn exponent() -> impl Strategy<Value = f64> {
    prop_oneof![-3.0..12.0, -1.0..3.0]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        rng_seed: proptest::test_runner::RngSeed::Fixed(SEED),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Kaplan–Meier at a grid scaled with the times: survival within 1e-4 absolute,
    /// numbers at risk and events exact.
    #[test]
    fn kaplan_meier_at_any_scale(seed in any::<u64>(), n in 100usize..300, et in exponent()) {
        let st = scale_of(et);
        let frame = survival_frame(n, seed, st, 1.0, 1.0);
        let spec = KaplanMeierSpec {
            entry: None,
            time: "registry.time".into(),
            event: "registry.event".into(),
            group: Some("registry.group".into()),
            times: [100.0, 400.0, 900.0, 1500.0, 2500.0].iter().map(|t| t * st).collect(),
            at_event_times: false,
            censor_marks: false,
            median: false,
            conf_level: 0.95,
        };
        check(
            "kaplan_meier",
            ordinary(&[et]),
            &frame,
            &AnalysisSpec::KaplanMeier(spec.clone()),
            || twin(kaplan_meier_plain(&frame, &spec, &open_policy())),
            |o, t| {
                for (c, tc) in pairs("curves", &o["curves"], &t["curves"])? {
                    for (r, tr) in pairs("rows", &c["rows"], &tc["rows"])? {
                        if r["at_risk"] != tr["at_risk"] || r["events"] != tr["events"] {
                            return Err("numbers at risk or events differ".into());
                        }
                        within("survival", f(&r["survival"]), f(&tr["survival"]), 1e-4)?;
                    }
                }
                Ok(())
            },
        )?;
    }

    /// Log-rank χ² within 1e-4 relative.
    #[test]
    fn logrank_at_any_scale(seed in any::<u64>(), n in 100usize..300, et in exponent()) {
        let frame = survival_frame(n, seed, scale_of(et), 1.0, 1.0);
        let spec = LogrankSpec {
            strata: None,
            time: "registry.time".into(),
            event: "registry.event".into(),
            group: "registry.group".into(),
            observed_expected: false,
        };
        check(
            "logrank",
            ordinary(&[et]),
            &frame,
            &AnalysisSpec::Logrank(spec.clone()),
            || twin(logrank_plain(&frame, &spec, &open_policy())),
            |o, t| {
                // 1e-4 relative, with a floor of 1e-6: a χ² near zero (0.0002, p = 0.99)
                // is held to the fixed point's resolution (2^-24), not to 1e-4 of itself.
                let want = f(&t["chi_square"]);
                within("chi_square", f(&o["chi_square"]), want, (1e-4 * want).max(1e-6))
            },
        )?;
    }

    /// Cox (Efron) with the time and both covariates scaled: coefficient of `x_j` within
    /// `1e-4 / s_j`, standard errors within 1e-3 relative.
    #[test]
    fn cox_at_any_scale(
        seed in any::<u64>(), n in 100usize..300,
        et in exponent(), e1 in exponent(), e2 in exponent(),
    ) {
        let (s1, s2) = (scale_of(e1), scale_of(e2));
        let frame = survival_frame(n, seed, scale_of(et), s1, s2);
        let spec = CoxSpec {
            entry: None,
            robust: false,
            zph: None,
            cluster: None,
            strata: None,
            time: "registry.time".into(),
            event: "registry.event".into(),
            covariates: vec!["gp.x1".into(), "gp.x2".into(), "registry.group".into()],
            ties: Ties::Efron,
            max_steps: 50,
            conf_level: 0.95,
            concordance: false,
        };
        check(
            "cox",
            ordinary(&[et, e1, e2]),
            &frame,
            &AnalysisSpec::Cox(spec.clone()),
            || twin(cox_plain(&frame, &spec, &open_policy())),
            |o, t| {
                let unit = [1.0 / s1, 1.0 / s2, 1.0];
                for ((a, b), u) in pairs("rows", &o["rows"], &t["rows"])?.into_iter().zip(unit) {
                    let name = b["covariate"].as_str().unwrap();
                    within(&format!("coef {name}"), f(&a["coef"]), f(&b["coef"]), 1e-4 * u)?;
                    let se = f(&b["se"]);
                    within(&format!("se {name}"), f(&a["se"]), se, 1e-3 * se)?;
                }
                Ok(())
            },
        )?;
    }

    /// OLS and ridge with the outcome and both numeric covariates on their own scales.
    #[test]
    fn ols_and_ridge_at_any_scale(
        seed in any::<u64>(), n in 100usize..300,
        e1 in exponent(), e2 in exponent(), ey in exponent(), ridge in prop_oneof![Just(0.0), Just(1.0), Just(25.0)],
    ) {
        let (s1, s2, sy) = (scale_of(e1), scale_of(e2), scale_of(ey));
        let frame = regression_frame(n, seed, s1, s2, sy);
        let spec = OlsSpec {
            outcome: "gp.y".into(),
            covariates: vec!["gp.x1".into(), "gp.x2".into(), "gp.g".into()],
            intercept: true,
            ridge,
            conf_level: 0.95,
        };
        check(
            "ols",
            ridge == 0.0 && ordinary(&[e1, e2, ey]),
            &frame,
            &AnalysisSpec::Ols(spec.clone()),
            || twin(regression_plain::ols(&frame, &spec)),
            |o, t| {
                compare_coefficients(o, t, &units(sy, s1, s2))?;
                within("r_squared", f(&o["r_squared"]), f(&t["r_squared"]), 1e-4)
            },
        )?;
    }

    /// Logistic regression with both numeric covariates on their own scales (the outcome is
    /// 0/1).
    #[test]
    fn logistic_at_any_scale(
        seed in any::<u64>(), n in 100usize..300, e1 in exponent(), e2 in exponent(),
    ) {
        let (s1, s2) = (scale_of(e1), scale_of(e2));
        let frame = regression_frame(n, seed, s1, s2, 1.0);
        let spec = LogisticSpec {
            outcome: "gp.e".into(),
            covariates: vec!["gp.x1".into(), "gp.x2".into(), "gp.g".into()],
            intercept: true,
            l2: 0.0,
            max_steps: 50,
            conf_level: 0.95,
            holdout: None,
            calibration: false,
            groups: None,
        };
        check(
            "logistic",
            ordinary(&[e1, e2]),
            &frame,
            &AnalysisSpec::Logistic(spec.clone()),
            || twin(regression_plain::logistic(&frame, &spec)),
            |o, t| compare_coefficients(o, t, &units(1.0, s1, s2)),
        )?;
    }

    /// Describe: mean within `1e-4 · max(|mean|, sd)` (relative to the data's scale: a mean
    /// near zero is judged against the spread), variance and sd within 1e-4 relative,
    /// quantiles within `1e-4 · max(|q|, sd)`; counts exact.
    #[test]
    fn describe_at_any_scale(
        seed in any::<u64>(), n in 100usize..300,
        ea in exponent(), eb in exponent(), ec in exponent(),
    ) {
        let frame = describe_frame(n, seed, scale_of(ea), scale_of(eb), scale_of(ec));
        let spec = DescribeSpec {
            columns: vec!["gp.a".into(), "gp.b".into(), "gp.c".into()],
            group: None,
            quantiles: vec![0.1, 0.25, 0.5, 0.75, 0.9],
            histogram: None,
            extremes: true,
        };
        check(
            "describe",
            ordinary(&[ea, eb, ec]),
            &frame,
            &AnalysisSpec::Describe(spec.clone()),
            || twin(describe_plain::describe(&frame, &spec, &open_policy())),
            |o, t| {
                for (a, b) in pairs("summaries", &o["summaries"], &t["summaries"])? {
                    let col = b["column"].as_str().unwrap();
                    if a["count"] != b["count"] || a["missing"] != b["missing"] {
                        return Err(format!("{col}: counts differ"));
                    }
                    let sd = f(&b["sd"]);
                    let mean = f(&b["mean"]);
                    within(&format!("{col} mean"), f(&a["mean"]), mean, 1e-4 * mean.abs().max(sd))?;
                    let var = f(&b["var"]);
                    within(&format!("{col} var"), f(&a["var"]), var, 1e-4 * var)?;
                    within(&format!("{col} sd"), f(&a["sd"]), sd, 1e-4 * sd)?;
                    for (i, (q, tq)) in pairs("quantiles", &a["quantiles"], &b["quantiles"])?.into_iter().enumerate() {
                        let tq = f(tq);
                        within(&format!("{col} quantile {i}"), f(q), tq, 1e-4 * tq.abs().max(sd))?;
                    }
                    for m in ["min", "max"] {
                        let w = f(&b[m]);
                        within(&format!("{col} {m}"), f(&a[m]), w, 1e-4 * w.abs().max(sd))?;
                    }
                }
                Ok(())
            },
        )?;
    }

    /// Correlation of three columns on their own scales: each r within 1e-4 (r lies in
    /// [-1, 1], so 1e-4 relative to its scale is 1e-4 absolute).
    #[test]
    fn correlation_at_any_scale(
        seed in any::<u64>(), n in 100usize..300,
        ea in exponent(), eb in exponent(), ec in exponent(),
    ) {
        let frame = describe_frame(n, seed, scale_of(ea), scale_of(eb), scale_of(ec));
        let spec = CorrelationSpec {
            columns: vec!["gp.a".into(), "gp.b".into(), "gp.c".into()],
        };
        check(
            "correlation",
            ordinary(&[ea, eb, ec]),
            &frame,
            &AnalysisSpec::Correlation(spec.clone()),
            || twin(describe_plain::correlation(&frame, &spec, &open_policy())),
            |o, t| {
                for (i, (ra, rb)) in pairs("r", &o["r"], &t["r"])?.into_iter().enumerate() {
                    for (j, (x, y)) in pairs("r row", ra, rb)?.into_iter().enumerate() {
                        within(&format!("r[{i}][{j}]"), f(x), f(y), 1e-4)?;
                    }
                }
                Ok(())
            },
        )?;
    }
}

/// Found by `correlation_at_any_scale` (fixed): columns on a scale of 10^-3 (values around
/// 0.02, variance around 3·10^-5) got a correlation off by 7·10^-4 with no refusal: the
/// sums of squares and cross products were truncated to f bits and the moments kept at f
/// bits (ulp 6·10^-8). Now exact at 2f and normalised with 40 fractional bits.
#[test]
fn correlation_of_columns_on_a_small_scale() {
    let frame = describe_frame(
        108,
        11868814833912292946,
        scale_of(-2.72),
        scale_of(0.23),
        scale_of(-2.55),
    );
    let spec = CorrelationSpec {
        columns: vec!["gp.a".into(), "gp.b".into(), "gp.c".into()],
    };
    let ours = station(&frame, &AnalysisSpec::Correlation(spec.clone())).expect("not refused");
    let twin = json(describe_plain::correlation(&frame, &spec, &open_policy()).unwrap());
    within("r[0][2]", f(&ours["r"][0][2]), f(&twin["r"][0][2]), 1e-4).unwrap();
}

/// Found by `ols_and_ridge_at_any_scale` (now refused): ridge (λ = 25) with an outcome on a
/// scale of 4·10^-3 and a covariate on 2·10^6 gave that covariate's coefficient with a
/// relative error of 9·10^-5 (1.3·10^-4 on the unscaled problem, beyond the issue's 1e-4),
/// with no refusal: the ridge path uses `R'_xy` (units of y) at f bits. An outcome variance
/// below 10^-2 is now refused inside MPC (one bit), saying to rescale the outcome.
#[test]
fn ridge_with_an_outcome_on_a_small_scale() {
    let (s1, s2, sy) = (
        1.0,
        scale_of(6.295232201307769),
        scale_of(-2.3709703601194323),
    );
    let frame = regression_frame(171, 566669644524780375, s1, s2, sy);
    let spec = OlsSpec {
        outcome: "gp.y".into(),
        covariates: vec!["gp.x1".into(), "gp.x2".into(), "gp.g".into()],
        intercept: true,
        ridge: 25.0,
        conf_level: 0.95,
    };
    let e = station(&frame, &AnalysisSpec::Ols(spec.clone())).expect_err("refused");
    assert!(
        e.contains("ridge") && e.contains("rescale the outcome"),
        "{e}"
    );
    assert!(
        regression_plain::ols(&frame, &spec).is_err(),
        "the twin refuses too"
    );
}

/// Found by `ols_and_ridge_at_any_scale` (fixed): ridge (λ = 25) with a covariate on a scale
/// of 0.03 (standard deviation 0.009) put λ/sd² ≈ 3·10^5 on the diagonal of the solved
/// matrix and the intercept came out as -2·10^16 with no refusal. Now refused inside MPC
/// (one opened bit), naming the fix.
#[test]
fn ridge_on_a_covariate_with_a_small_spread_is_refused() {
    let (s1, s2, sy) = (
        scale_of(1.5967638910621365),
        scale_of(-1.5017720359356757),
        scale_of(-1.2974293782244415),
    );
    let frame = regression_frame(169, 2635426833941546994, s1, s2, sy);
    let spec = OlsSpec {
        outcome: "gp.y".into(),
        covariates: vec!["gp.x1".into(), "gp.x2".into(), "gp.g".into()],
        intercept: true,
        ridge: 25.0,
        conf_level: 0.95,
    };
    let e = station(&frame, &AnalysisSpec::Ols(spec)).unwrap_err();
    assert!(e.contains("ridge") && e.contains("rescale"), "{e}");
}

/// Found by `describe_at_any_scale` (fixed): a column on a scale of 2.6·10^-3 (variance
/// 5.7·10^-5) had its variance off by 7·10^-4 relative: the squares were truncated to f bits
/// and the variance sealed with f bits. Now exact squares and 40 fractional bits.
#[test]
fn variance_of_a_column_on_a_small_scale() {
    let frame = describe_frame(
        130,
        6696664161539651199,
        scale_of(-2.5909657790819964),
        scale_of(-1.71),
        scale_of(3.75),
    );
    let spec = DescribeSpec {
        columns: vec!["gp.a".into(), "gp.b".into()],
        group: None,
        quantiles: vec![0.5],
        histogram: None,
        extremes: false,
    };
    let ours = station(&frame, &AnalysisSpec::Describe(spec.clone())).expect("not refused");
    let twin = json(describe_plain::describe(&frame, &spec, &open_policy()).unwrap());
    for j in 0..2 {
        let var = f(&twin["summaries"][j]["var"]);
        within("var", f(&ours["summaries"][j]["var"]), var, 1e-4 * var).unwrap();
    }
}

/// Found by `logistic_at_any_scale` (fixed): a covariate on a scale of 5.7·10^4 (values
/// around 3·10^6) had an intercept off by 1.4·10^-4: the slopes (around 10^-6) were rounded
/// at f + 8 bits before the intercept subtracted `m'β`. Now f + 16 bits throughout. (Values
/// from 3·10^6 up are now refused by their owner, `ranges::regression_limit`; the scale
/// here is 3.2·10^4, values up to 2.6·10^6.)
#[test]
fn logistic_intercept_with_a_covariate_on_a_large_scale() {
    let (s1, s2) = (scale_of(4.5), scale_of(2.8589277525388326));
    let frame = regression_frame(201, 412225574827271, s1, s2, 1.0);
    let spec = LogisticSpec {
        outcome: "gp.e".into(),
        covariates: vec!["gp.x1".into(), "gp.x2".into(), "gp.g".into()],
        intercept: true,
        l2: 0.0,
        max_steps: 50,
        conf_level: 0.95,
        holdout: None,
        calibration: false,
        groups: None,
    };
    let ours = station(&frame, &AnalysisSpec::Logistic(spec.clone())).expect("not refused");
    let twin = json(regression_plain::logistic(&frame, &spec).unwrap());
    compare_coefficients(&ours, &twin, &units(1.0, s1, s2)).unwrap();
}
