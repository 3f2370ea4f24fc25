//! Penalised linear, logistic and Cox regression: the elastic net (lasso, ridge and in
//! between) over a path of penalties, the penalty chosen by k-fold cross-validation, as R's
//! `glmnet` / `cv.glmnet` with `family = "gaussian"`, `"binomial"` or `"cox"` and
//! `standardize = TRUE`.
//!
//! - [`path`]: what the twin and the MPC code share: the λ grid, the fixed coordinate-descent
//!   schedule, glmnet's rules for `lambda.min` and `lambda.1se`.
//! - [`plain`]: the plaintext twin, in f64 (the oracle of the tests).
//! - [`mpc`]: the fit inside MPC ([`mpc::elasticnet`]); [`binomial`]: its binomial family.
//!
//! # Definitions
//!
//! Rows used: complete cases (outcome and every covariate present), as the other
//! regressions. Covariates are standardised with their mean and their standard deviation
//! with divisor `n`, the outcome centred and scaled by its standard deviation `s_y`; the
//! intercept is not penalised. For each λ the coefficients minimise
//!
//! `(1/(2n))·Σ(ỹ − X̃b)² + (λ/s_y)·(α·|b|₁ + (1 − α)/2·|b|²)`
//!
//! in the standardised coordinates, then `β_j = s_y·b_j/sd_j`, `β_0 = ȳ − x̄'β`. This is
//! exactly what glmnet computes for the gaussian family (it scales the outcome by `s_y`, so
//! that for α < 1 its ridge part is `(1 − α)/2·s_y·|β̃|²` in the outcome's units; with α = 1
//! the objective is `(1/(2n))·RSS + λ|β̃|₁`, β̃ the coefficients of the standardised
//! covariates).
//!
//! The λ grid (glmnet's): `λ_max = s_y·max_j |corr(x_j, y)| / max(α, 0.001)`, the smallest λ
//! at which every coefficient is zero, then `nlambda` values log-spaced down to
//! `lambda_min_ratio·λ_max`; or the explicit `lambda` list.
//!
//! Cross-validation (glmnet's `cv.glmnet`, `type.measure = "deviance"`, `grouped = TRUE`):
//! rows are split into `folds` folds; for fold `f` the path is refitted on the other folds
//! (standardised with their own means and deviations, on the full data's λ grid) and its
//! mean squared error on fold `f` taken; `cvm` is the mean of the folds' errors weighted by
//! their row counts, `cvsd` the standard error of that mean. `lambda.min` is the λ with the
//! smallest `cvm` (the largest λ on a tie), `lambda.1se` the largest λ whose `cvm` is within
//! one `cvsd` of that minimum.
//!
//! # Family `binomial`
//!
//! The outcome must be 0/1. Covariates are standardised as above (the outcome is not
//! scaled); for each λ the coefficients minimise
//!
//! `−(1/n)·Σ(y·η − log(1 + e^η)) + λ·(α·|b|₁ + (1 − α)/2·|b|²)`, `η = b_0 + X̃b`,
//!
//! glmnet's binomial objective. `λ_max = max_j |x̃_j'(y − ȳ)|/(n·max(α, 0.001))`, which is the
//! gaussian formula `s_y·max_j |corr(x_j, y)|/max(α, 0.001)` with `s_y = √(ȳ(1 − ȳ))`. The
//! fit is proximal Newton on a fixed schedule ([`path`]): along the path, from the previous
//! λ's solution, [`path::steps`] IRLS steps, each a weighted least-squares problem solved by
//! [`path::sweeps`] sweeps of coordinate descent. The CV deviance of a test row is
//! `2·(log(1 + e^η) − y·η)` with η clamped to ±[`path::ETA_CLAMP`] (glmnet clamps the
//! fitted probability to [1e-5, 1 − 1e-5]).
//!
//! Separation: the penalised problem is bounded for λ > 0, but at the path's small end, on
//! (nearly) separated data, the coefficients grow like log(1/λ) and the fixed number of
//! Newton steps per λ may fall behind glmnet's converged path; glmnet itself stops its path
//! early there (when the deviance explained passes 0.999), which is why its fixtures use
//! `lambda_min_ratio = 0.01`.
//!
//! # Family `cox`
//!
//! glmnet's `family = "cox"`: the outcome is `time` (> 0) and `event` (0/1), Breslow ties,
//! no intercept; the coefficients minimise `−(1/n)·ℓ(b) + λ·(α·|b|₁ + (1 − α)/2·|b|²)` with
//! `ℓ` the partial log-likelihood of the standardised covariates. Definitions, schedule
//! and cross-validation (the deviance per event of Verweij and van Houwelingen) in [`cox`];
//! the fit inside MPC in [`cox_mpc`]. With `type_measure = "C"` the cross-validation is
//! glmnet's `type.measure = "C"` (each fold's Harrell's C-index of its held-out linear
//! predictor, `lambda.min` the largest): definitions in [`cox`], inside MPC [`cindex_mpc`].
pub mod binomial;
pub mod cindex_mpc;
pub mod cox;
pub mod cox_mpc;
pub mod mpc;
pub mod path;
pub mod plain;

use std::fmt;

use serde::{Deserialize, Serialize};

fn one() -> f64 {
    1.0
}
fn default_nlambda() -> usize {
    path::DEFAULT_NLAMBDA
}
fn default_folds() -> usize {
    10
}

/// The error family of a penalised model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Linear regression: least squares, deviance = mean squared error.
    #[default]
    Gaussian,
    /// Logistic regression of a 0/1 outcome: deviance = −2·log-likelihood per row.
    Binomial,
    /// Cox proportional hazards of a survival time and a 0/1 event (Breslow ties, no
    /// intercept): deviance = the partial-likelihood deviance per event ([`cox`]).
    Cox,
}

impl Family {
    /// The name of the family as in the study file.
    pub fn name(self) -> &'static str {
        match self {
            Family::Gaussian => "gaussian",
            Family::Binomial => "binomial",
            Family::Cox => "cox",
        }
    }

    /// What the cross-validated deviance of the family is, for labels.
    pub fn measure(self) -> &'static str {
        match self {
            Family::Gaussian => "mean squared error",
            Family::Binomial => "binomial deviance",
            Family::Cox => "partial-likelihood deviance",
        }
    }

    /// Whether the model has an (unpenalised) intercept: all but `cox`.
    pub fn has_intercept(self) -> bool {
        self != Family::Cox
    }
}

/// What cross-validation measures at each λ (glmnet's `type.measure`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum Measure {
    /// The family's deviance ([`Family::measure`]); `lambda.min` minimises it.
    #[default]
    #[serde(rename = "deviance")]
    Deviance,
    /// Harrell's C-index of each test fold's linear predictor (family `cox` only, glmnet's
    /// `type.measure = "C"`); `lambda.min` maximises it.
    #[serde(rename = "C", alias = "c")]
    C,
}

impl Measure {
    /// The name as in the study file.
    pub fn name(self) -> &'static str {
        match self {
            Measure::Deviance => "deviance",
            Measure::C => "C",
        }
    }

    /// Whether a larger cross-validated value is better (C) rather than smaller (deviance).
    pub fn maximise(self) -> bool {
        self == Measure::C
    }
}

/// `kind = "elasticnet"`: the elastic-net path with the penalty chosen by cross-validation.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticNetSpec {
    /// Outcome column (numeric; families `gaussian` and `binomial`; absent for `cox`, which
    /// takes `time` and `event`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub outcome: String,
    /// Family `cox` only: the survival time column (numeric, every complete row's time > 0),
    /// as `kind = "cox"` names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Family `cox` only: the event indicator column (0 censored, 1 event), as
    /// `kind = "cox"` names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Model terms ([`crate::terms`]): columns (numeric, or categorical: one indicator per
    /// level but the first), `num(a.s)`, products `a.x:b.y` and `a.x*b.y`.
    pub covariates: Vec<String>,
    /// Error family: `gaussian` (linear), `binomial` (logistic, outcome 0/1) or `cox`
    /// (proportional hazards of `time` and `event`).
    #[serde(default)]
    pub family: Family,
    /// Mixing parameter in [0, 1]: 1 is the lasso, 0 ridge regression.
    #[serde(default = "one")]
    pub alpha: f64,
    /// Number of λ values of the path (glmnet's default is 100; 20 keeps the cost down and
    /// is dense enough for the choice by cross-validation).
    #[serde(default = "default_nlambda")]
    pub nlambda: usize,
    /// Smallest λ as a fraction of `λ_max` (default glmnet's: 1e-4 when there are more
    /// complete rows than model variables, 0.01 otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_min_ratio: Option<f64>,
    /// An explicit, strictly decreasing list of λ values (instead of `nlambda` and
    /// `lambda_min_ratio`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<Vec<f64>>,
    /// Number of cross-validation folds (at least 2).
    #[serde(default = "default_folds")]
    pub folds: usize,
    /// Coordinate-descent sweeps per fit (gaussian, default 30) or per Newton step
    /// (binomial, default 4; cox, default 3): a fixed public schedule, nothing is opened to decide when to
    /// stop ([`path::sweeps`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweeps: Option<usize>,
    /// Binomial and cox only: Newton steps per λ along the path, each from the previous λ's
    /// solution (default 2 binomial, 4 cox, [`path::steps`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// What the cross-validation measures: `"deviance"` (default) or `"C"` (Harrell's
    /// C-index of the held-out linear predictor, family `cox` only; glmnet's
    /// `type.measure`).
    #[serde(default, skip_serializing_if = "is_deviance")]
    pub type_measure: Measure,
}

fn is_deviance(m: &Measure) -> bool {
    *m == Measure::Deviance
}

/// The elastic-net result: the path, the cross-validation curve and the chosen models.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ElasticNetResult {
    /// Outcome column (`cox`: `Surv(time, event)`).
    pub outcome: String,
    /// Error family.
    pub family: Family,
    /// Mixing parameter.
    pub alpha: f64,
    /// Rows used (complete cases).
    pub nobs: usize,
    /// Complete rows per cross-validation fold (the test sets; each training set is the rest).
    pub fold_rows: Vec<usize>,
    /// Coordinate-descent sweeps per fit (gaussian) or per Newton step (binomial).
    pub sweeps: usize,
    /// Newton steps per λ (binomial; 0 for gaussian, which has none).
    pub steps: usize,
    /// Design column names, `intercept` first (`cox`: no intercept).
    pub names: Vec<String>,
    /// The λ path, decreasing.
    pub lambda: Vec<f64>,
    /// Coefficients at each λ (original scale, in the order of `names`).
    pub path: Vec<Vec<f64>>,
    /// Non-zero coefficients (intercept excluded) at each λ.
    pub nonzero: Vec<usize>,
    /// What `cvm` measures (the study's `type_measure`).
    pub type_measure: Measure,
    /// Mean cross-validated deviance at each λ (gaussian: mean squared error; binomial:
    /// −2·log-likelihood per row; cox: partial-likelihood deviance per event,
    /// [`Family::measure`]), or with `type_measure = "C"` the folds' C-indices averaged
    /// with weights their complete rows.
    pub cvm: Vec<f64>,
    /// Its standard error at each λ.
    pub cvsd: Vec<f64>,
    /// Index (from 0) of `lambda_min` in the path.
    pub index_min: usize,
    /// The λ with the smallest `cvm` (the largest with `type_measure = "C"`; glmnet's
    /// `lambda.min`).
    pub lambda_min: f64,
    /// Index (from 0) of `lambda_1se` in the path.
    pub index_1se: usize,
    /// The largest λ within one standard error of the minimum (glmnet's `lambda.1se`).
    pub lambda_1se: f64,
    /// Coefficients at `lambda_min`.
    pub coef_min: Vec<f64>,
    /// Coefficients at `lambda_1se`.
    pub coef_1se: Vec<f64>,
}

impl ElasticNetResult {
    /// Assembles the result from the path and the cross-validation curve: the choice of
    /// `lambda.min` and `lambda.1se` ([`path::choose`]) and the coefficients there.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn assemble(
        spec: &ElasticNetSpec,
        nobs: usize,
        fold_rows: Vec<usize>,
        names: Vec<String>,
        lambda: Vec<f64>,
        coef: Vec<Vec<f64>>,
        cvm: Vec<f64>,
        cvsd: Vec<f64>,
    ) -> ElasticNetResult {
        let (index_min, index_1se) = path::choose_for(spec.type_measure, &cvm, &cvsd);
        let skip = usize::from(spec.family.has_intercept());
        let nonzero = coef
            .iter()
            .map(|b| b.iter().skip(skip).filter(|v| **v != 0.0).count())
            .collect();
        ElasticNetResult {
            outcome: spec.outcome_label(),
            family: spec.family,
            type_measure: spec.type_measure,
            alpha: spec.alpha,
            nobs,
            fold_rows,
            sweeps: path::sweeps(spec),
            steps: path::steps(spec),
            names,
            lambda_min: lambda[index_min],
            lambda_1se: lambda[index_1se],
            coef_min: coef[index_min].clone(),
            coef_1se: coef[index_1se].clone(),
            lambda,
            path: coef,
            nonzero,
            cvm,
            cvsd,
            index_min,
            index_1se,
        }
    }
}

impl ElasticNetSpec {
    /// The outcome as the result names it: the column, or `Surv(time, event)` for `cox`.
    pub fn outcome_label(&self) -> String {
        match self.family {
            Family::Cox => format!(
                "Surv({}, {})",
                self.time.as_deref().unwrap_or(""),
                self.event.as_deref().unwrap_or("")
            ),
            _ => self.outcome.clone(),
        }
    }
}

impl ElasticNetResult {
    /// What `cvm` is, for labels: the family's deviance or Harrell's C-index.
    pub fn measure_label(&self) -> &'static str {
        match self.type_measure {
            Measure::Deviance => self.family.measure(),
            Measure::C => "Harrell's C-index",
        }
    }
}

impl fmt::Display for ElasticNetResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Elastic net ({}), α = {}, cvm: {}",
            self.family.name(),
            self.alpha,
            self.measure_label()
        )?;
        writeln!(
            f,
            "Dep. variable: {:<24} No. observations: {}",
            self.outcome, self.nobs
        )?;
        writeln!(
            f,
            "Folds: {} (rows {:?})    lambda.min: {:.6} (#{})    lambda.1se: {:.6} (#{})",
            self.fold_rows.len(),
            self.fold_rows,
            self.lambda_min,
            self.index_min + 1,
            self.lambda_1se,
            self.index_1se + 1
        )?;
        let width = self.names.iter().map(String::len).max().unwrap_or(0).max(9);
        writeln!(f, "{:width$} {:>12} {:>12}", "", "lambda.min", "lambda.1se")?;
        for (j, name) in self.names.iter().enumerate() {
            writeln!(
                f,
                "{name:width$} {:>12.6} {:>12.6}",
                self.coef_min[j], self.coef_1se[j]
            )?;
        }
        writeln!(
            f,
            "{:>4} {:>12} {:>8} {:>12} {:>12}",
            "#", "lambda", "nonzero", "cvm", "cvsd"
        )?;
        for l in 0..self.lambda.len() {
            writeln!(
                f,
                "{:>4} {:>12.6} {:>8} {:>12.6} {:>12.6}",
                l + 1,
                self.lambda[l],
                self.nonzero[l],
                self.cvm[l],
                self.cvsd[l]
            )?;
        }
        Ok(())
    }
}
