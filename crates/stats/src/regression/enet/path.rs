//! What the plaintext twin and the MPC fit share: the checks of a specification, the λ grid,
//! the coordinate-descent schedule and glmnet's choice of `lambda.min` and `lambda.1se`.
//!
//! # The schedule
//!
//! Every fit starts from zero and runs [`ElasticNetSpec::sweeps`] (default
//! [`DEFAULT_SWEEPS`]) cyclic sweeps of coordinate descent over the standardised
//! covariates, in their order, with no stopping test: in the standardised coordinates
//! (correlation matrix `R`, correlations with the outcome `c`, all O(1)) one update is
//!
//! `b_j ← S(c_j − Σ_{l≠j} R_jl b_l, λ'α) / (1 + λ'(1 − α))`, `S(z, γ) = sign(z)·max(|z| − γ, 0)`,
//!
//! with `λ' = λ/s_y`. All λ values (and, for cross-validation, all folds) are solved at
//! once, each from zero (no warm starts: in MPC the problems run side by side in the same
//! rounds, so the whole path costs the rounds of one fit). Coordinate descent decreases the
//! convex objective at every update; on the fixtures (`tests/enet.rs`) the default schedule
//! ends within 3e-7 of glmnet's converged coefficients (asked: 1e-3).
//!
//! # The binomial schedule
//!
//! Proximal Newton with warm starts, λ after λ along the path, every problem (the full data
//! and each training set) side by side. Each problem starts at `b = 0`, `b_0 = logit(ȳ)`
//! (its solution at its own `λ_max`); at each λ it runs [`steps`] (default
//! [`DEFAULT_STEPS`]) Newton steps: `p = σ(b_0 + X̃b)`, `w = p(1 − p)`, the weighted Gram
//! matrix `H = [1 X̃]'W[1 X̃]/n` and gradient `g = [1 X̃]'(y − p)/n`, then [`sweeps`]
//! (default [`DEFAULT_BINOMIAL_SWEEPS`]) sweeps of [`descend_weighted`] on
//! `½Δ'HΔ − g'Δ + penalty` from the current coefficients (`c = g + H·b`). No stopping test.
//! On the fixtures the default schedule ends within 5e-5 of glmnet's converged path
//! (`thresh = 1e-12`; asked: 1e-3); 2 steps of 2 sweeps within 1.4e-3, 3 steps of 3
//! sweeps within 1.3e-5. A Böhning bound (`W = 1/4`, no weighted Gram) needs about 20
//! steps per λ for 3e-5 (10 for 1.5e-3) on the same data: ten times the sigmoids, which
//! are the cost in MPC.

use crate::error::{Result, StatsError};
use crate::ranges::ParamError;

use super::{ElasticNetSpec, Family, Measure};

/// Default number of λ values.
pub const DEFAULT_NLAMBDA: usize = 20;
/// Default number of coordinate-descent sweeps (gaussian).
pub const DEFAULT_SWEEPS: usize = 30;
/// Default number of coordinate-descent sweeps per Newton step (binomial).
pub const DEFAULT_BINOMIAL_SWEEPS: usize = 4;
/// Default number of Newton steps per λ (binomial).
pub const DEFAULT_STEPS: usize = 2;
/// Default number of Newton steps per λ (cox).
pub const DEFAULT_COX_STEPS: usize = 4;
/// Default number of coordinate-descent sweeps per Newton step (cox).
pub const DEFAULT_COX_SWEEPS: usize = 3;
/// Largest number of Newton steps per λ.
pub const MAX_STEPS: usize = 50;
/// glmnet's clamp of a fitted probability in the CV deviance, `[1e-5, 1 − 1e-5]`, as a
/// clamp of the linear predictor: `ln((1 − 1e-5)/1e-5)`.
pub const ETA_CLAMP: f64 = 11.512_915_464_920_228;
/// Largest number of sweeps a study may ask for.
pub const MAX_SWEEPS: usize = 1000;
/// Largest number of λ values.
pub const MAX_NLAMBDA: usize = 200;
/// Largest number of folds.
pub const MAX_FOLDS: usize = 50;
/// The range of an explicit λ: its reciprocal and its product with the outcome's reciprocal
/// standard deviation must keep their precision in fixed point.
pub const LAMBDA_RANGE: (f64, f64) = (1e-6, 1e6);
/// glmnet's floor on α when it computes `λ_max` (so that ridge has a finite grid).
pub const ALPHA_FLOOR: f64 = 1e-3;

fn invalid(msg: String) -> StatsError {
    StatsError::Invalid(format!("elasticnet: {msg}"))
}

fn bad(field: &'static str, index: Option<usize>, message: String) -> ParamError {
    ParamError {
        field,
        index,
        message,
    }
}

/// The public checks of a specification (before any data is read), naming the field: what
/// `tessera study check` reports ([`crate::ranges::check_params`]).
pub fn check_params(spec: &ElasticNetSpec) -> std::result::Result<(), ParamError> {
    check_outcome_fields(spec)?;
    if spec.type_measure == Measure::C && spec.family != Family::Cox {
        return Err(bad(
            "type_measure",
            None,
            format!(
                "\"C\" (Harrell's C-index) is for family = \"cox\"; family = \"{}\" takes \
                 \"deviance\" (the default)",
                spec.family.name()
            ),
        ));
    }
    if !(spec.alpha.is_finite() && (0.0..=1.0).contains(&spec.alpha)) {
        return Err(bad(
            "alpha",
            None,
            format!("must be in [0, 1] (1: lasso, 0: ridge), not {}", spec.alpha),
        ));
    }
    if !(2..=MAX_FOLDS).contains(&spec.folds) {
        return Err(bad(
            "folds",
            None,
            format!("must be between 2 and {MAX_FOLDS}, not {}", spec.folds),
        ));
    }
    if !(1..=MAX_SWEEPS).contains(&sweeps(spec)) {
        return Err(bad(
            "sweeps",
            None,
            format!("must be between 1 and {MAX_SWEEPS}, not {}", sweeps(spec)),
        ));
    }
    if let Some(t) = spec.steps {
        if spec.family == Family::Gaussian {
            return Err(bad(
                "steps",
                None,
                "is for family = \"binomial\" or \"cox\" (Newton steps per λ)".into(),
            ));
        }
        if !(1..=MAX_STEPS).contains(&t) {
            return Err(bad(
                "steps",
                None,
                format!("must be between 1 and {MAX_STEPS}, not {t}"),
            ));
        }
    }
    match &spec.lambda {
        Some(list) => {
            if list.is_empty() || list.len() > MAX_NLAMBDA {
                return Err(bad(
                    "lambda",
                    None,
                    format!("must list between 1 and {MAX_NLAMBDA} values"),
                ));
            }
            for (i, l) in list.iter().enumerate() {
                if !(LAMBDA_RANGE.0..=LAMBDA_RANGE.1).contains(l) {
                    return Err(bad(
                        "lambda",
                        Some(i),
                        format!(
                            "{l} is outside [{:e}, {:e}] (what the fixed point holds)",
                            LAMBDA_RANGE.0, LAMBDA_RANGE.1
                        ),
                    ));
                }
                if i > 0 && *l >= list[i - 1] {
                    return Err(bad("lambda", Some(i), "must be strictly decreasing".into()));
                }
            }
        }
        None => {
            if !(2..=MAX_NLAMBDA).contains(&spec.nlambda) {
                return Err(bad(
                    "nlambda",
                    None,
                    format!("must be between 2 and {MAX_NLAMBDA}, not {}", spec.nlambda),
                ));
            }
            if let Some(r) = spec.lambda_min_ratio {
                if !(r.is_finite() && r > 0.0 && r < 1.0) {
                    return Err(bad(
                        "lambda_min_ratio",
                        None,
                        format!("must be in (0, 1), not {r}"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The outcome fields a family reads: `outcome` for `gaussian` and `binomial`; `time` and
/// `event` (and no `outcome`) for `cox`, as `kind = "cox"` names them.
fn check_outcome_fields(spec: &ElasticNetSpec) -> std::result::Result<(), ParamError> {
    let named = |v: &Option<String>| v.as_deref().is_some_and(|c| !c.is_empty());
    match spec.family {
        Family::Cox => {
            if !spec.outcome.is_empty() {
                return Err(bad(
                    "outcome",
                    None,
                    "is not for family = \"cox\": name the survival time as `time` and the \
                     event indicator as `event`"
                        .into(),
                ));
            }
            if !named(&spec.time) {
                return Err(bad(
                    "time",
                    None,
                    "family = \"cox\" needs the survival time column".into(),
                ));
            }
            if !named(&spec.event) {
                return Err(bad(
                    "event",
                    None,
                    "family = \"cox\" needs the event indicator column (0/1)".into(),
                ));
            }
        }
        Family::Gaussian | Family::Binomial => {
            if spec.outcome.is_empty() {
                return Err(bad(
                    "outcome",
                    None,
                    format!(
                        "family = \"{}\" needs an outcome column",
                        spec.family.name()
                    ),
                ));
            }
            for (field, v) in [("time", &spec.time), ("event", &spec.event)] {
                if v.is_some() {
                    return Err(bad(
                        field,
                        None,
                        format!(
                            "is for family = \"cox\", not \"{}\" (which takes `outcome`)",
                            spec.family.name()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// [`check_params`] as an analysis error.
pub fn check_spec(spec: &ElasticNetSpec) -> Result<()> {
    check_params(spec).map_err(|e| invalid(e.to_string()))
}

/// The public checks that need the number of complete rows `n`: at least one row per fold.
pub fn check_rows(spec: &ElasticNetSpec, n: usize) -> Result<()> {
    if spec.folds > n {
        return Err(invalid(format!(
            "{} folds for {n} complete rows: at most one fold per row",
            spec.folds
        )));
    }
    Ok(())
}

/// Coordinate-descent sweeps per fit (gaussian) or per Newton step (binomial).
pub fn sweeps(spec: &ElasticNetSpec) -> usize {
    spec.sweeps.unwrap_or(match spec.family {
        Family::Gaussian => DEFAULT_SWEEPS,
        Family::Binomial => DEFAULT_BINOMIAL_SWEEPS,
        Family::Cox => DEFAULT_COX_SWEEPS,
    })
}

/// Newton steps per λ: 0 for gaussian (no outer loop), else `steps` or [`DEFAULT_STEPS`].
pub fn steps(spec: &ElasticNetSpec) -> usize {
    match spec.family {
        Family::Gaussian => 0,
        Family::Binomial => spec.steps.unwrap_or(DEFAULT_STEPS),
        Family::Cox => spec.steps.unwrap_or(DEFAULT_COX_STEPS),
    }
}

/// Number of λ values of the path.
pub fn nlambda(spec: &ElasticNetSpec) -> usize {
    spec.lambda.as_ref().map_or(spec.nlambda, Vec::len)
}

/// The multipliers of `λ_max` of the default grid: `ratio^(l/(L−1))`, l = 0..L
/// (`lambda_min_ratio` or glmnet's default for `n` rows and `vars` covariates).
pub fn grid_factors(spec: &ElasticNetSpec, n: usize, vars: usize) -> Vec<f64> {
    let ratio = spec
        .lambda_min_ratio
        .unwrap_or(if n > vars { 1e-4 } else { 1e-2 });
    let last = (spec.nlambda - 1) as f64;
    (0..spec.nlambda)
        .map(|l| (ratio.ln() * l as f64 / last).exp())
        .collect()
}

/// Whether the first λ of the full-data path is its own `λ_max` (the default grid), where
/// every slope is zero by definition: set to zero rather than left to rounding at the exact
/// threshold (glmnet does the same). Not in the folds, whose `λ_max` differs.
pub fn zero_first(spec: &ElasticNetSpec) -> bool {
    spec.lambda.is_none()
}

/// `max(α, ALPHA_FLOOR)`: the α of `λ_max`.
pub fn alpha_for_max(alpha: f64) -> f64 {
    alpha.max(ALPHA_FLOOR)
}

/// Soft thresholding `sign(z)·max(|z| − g, 0)`.
pub fn soft(z: f64, g: f64) -> f64 {
    if z > g {
        z - g
    } else if z < -g {
        z + g
    } else {
        0.0
    }
}

/// The fixed schedule in f64: for each standardised penalty `lam[l]` (λ/s_y), the
/// coefficients of the standardised covariates from `sweeps` cyclic sweeps of coordinate
/// descent from zero, on the correlation matrix `r` (k×k, row-major) and the correlations
/// `c` with the outcome.
pub fn descend(r: &[f64], c: &[f64], lam: &[f64], alpha: f64, sweeps: usize) -> Vec<Vec<f64>> {
    lam.iter()
        .map(|&l| {
            let mut b = vec![0.0; c.len()];
            sweep(r, c, &mut b, (l, alpha), 0, sweeps);
            b
        })
        .collect()
}

/// `sweeps` sweeps of coordinate descent, from `b` (updated in place), on the penalised
/// quadratic `½·b'Hb − c'b + λ·(α·|b_{1..}|₁ + (1 − α)/2·|b_{1..}|²)` whose first
/// coordinate (the intercept) is not penalised: `H` is (k+1)×(k+1), row-major. The inner
/// problem of one Newton step of the binomial fit (`H` the weighted Gram matrix, `c` the
/// gradient plus `H·b`).
pub fn descend_weighted(h: &[f64], c: &[f64], b: &mut [f64], lam: f64, alpha: f64, sweeps: usize) {
    sweep(h, c, b, (lam, alpha), 1, sweeps);
}

/// `sweeps` sweeps of coordinate descent, from `b` (updated in place), on the penalised
/// quadratic `½·b'Hb − c'b + λ·(α·|b|₁ + (1 − α)/2·|b|²)` with every coordinate penalised
/// (no intercept): the inner problem of one Newton step of the cox fit.
pub fn descend_penalised(h: &[f64], c: &[f64], b: &mut [f64], lam: f64, alpha: f64, sweeps: usize) {
    sweep(h, c, b, (lam, alpha), 0, sweeps);
}

/// `sweeps` cyclic sweeps of coordinate descent on `½·b'Hb − c'b` plus the elastic-net
/// penalty `(λ, α)` on every coordinate but the first `free` (unpenalised): the one
/// descent of both the gaussian schedule ([`descend`]) and the binomial inner problem
/// ([`descend_weighted`]).
fn sweep(
    h: &[f64],
    c: &[f64],
    b: &mut [f64],
    (lam, alpha): (f64, f64),
    free: usize,
    sweeps: usize,
) {
    let p = c.len();
    for _ in 0..sweeps {
        for j in 0..p {
            let z = c[j]
                - (0..p)
                    .filter(|&i| i != j)
                    .map(|i| h[j * p + i] * b[i])
                    .sum::<f64>();
            b[j] = if j < free {
                z / h[j * p + j]
            } else {
                soft(z, lam * alpha) / (h[j * p + j] + lam * (1.0 - alpha))
            };
        }
    }
}

/// The deviance of one row of a test fold at linear predictor `eta` and outcome `y`:
/// gaussian `(y − η)²`, binomial `2·(log(1 + e^η) − y·η)` with η clamped to
/// ±[`ETA_CLAMP`] (glmnet's clamp of the probability).
pub fn row_deviance(family: Family, y: f64, eta: f64) -> f64 {
    match family {
        Family::Gaussian => (y - eta).powi(2),
        Family::Binomial => {
            let e = eta.clamp(-ETA_CLAMP, ETA_CLAMP);
            2.0 * (softplus(e) - y * e)
        }
        // The partial likelihood has no per-row deviance: cox's is per fold
        // (`super::cox`), never asked here.
        Family::Cox => f64::NAN,
    }
}

/// `log(1 + e^x)`, accurate for any x.
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// glmnet's `getOptcv`: the index of `lambda.min` (smallest `cvm`, the first, i.e. largest
/// λ, on a tie) and of `lambda.1se` (the first index whose `cvm` is at most the minimum plus
/// its `cvsd`).
pub fn choose(cvm: &[f64], cvsd: &[f64]) -> (usize, usize) {
    let min = cvm.iter().copied().fold(f64::INFINITY, f64::min);
    let imin = cvm.iter().position(|&v| v <= min).unwrap_or(0);
    let bound = min + cvsd[imin];
    let i1se = cvm.iter().position(|&v| v <= bound).unwrap_or(imin);
    (imin, i1se)
}

/// [`choose`] for a measure: with `C` (larger is better) on `−cvm`, so `lambda.min` is the
/// largest λ with the largest C and `lambda.1se` the largest λ whose C is at least that
/// maximum less its `cvsd` (glmnet's `getOptcv.glmnet` for `"C-index"`).
pub fn choose_for(measure: Measure, cvm: &[f64], cvsd: &[f64]) -> (usize, usize) {
    if measure.maximise() {
        let neg: Vec<f64> = cvm.iter().map(|v| -v).collect();
        choose(&neg, cvsd)
    } else {
        choose(cvm, cvsd)
    }
}

/// `cvm` and `cvsd` from the folds' mean deviances `mse[f][l]` and row counts:
/// the weighted mean over the folds and `√(Σ_f n_f (mse_f − cvm)² / n / (K − 1))`
/// (`cv.glmnet`, `grouped = TRUE`).
pub fn cv_curve(mse: &[Vec<f64>], rows: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let n: f64 = rows.iter().map(|&r| r as f64).sum();
    let kf = mse.len() as f64;
    let nl = mse.first().map_or(0, Vec::len);
    (0..nl)
        .map(|l| {
            let m = mse
                .iter()
                .zip(rows)
                .map(|(e, &r)| r as f64 * e[l])
                .sum::<f64>()
                / n;
            let v = mse
                .iter()
                .zip(rows)
                .map(|(e, &r)| r as f64 * (e[l] - m).powi(2))
                .sum::<f64>()
                / n;
            (m, (v / (kf - 1.0)).sqrt())
        })
        .unzip()
}
