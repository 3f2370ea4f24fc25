//! Linear (OLS, ridge) and logistic regression on the shared linked table.
//!
//! - [`design`]: the design matrix inside MPC: intercept, numeric columns, categorical
//!   columns as indicators of every level but the first; complete cases through a secret row
//!   weight; the centred cross-product moments and the standardisation.
//! - [`ols`]: least squares and ridge ([`ols::ols`]).
//! - [`logistic`]: logistic regression by Newton–Raphson / IRLS, optionally L2-penalised
//!   ([`logistic::logistic`]).
//! - [`holdout`]: a logistic model validated on held-out rows, the split decided inside
//!   MPC (`holdout` on `kind = "logistic"`).
//! - [`plain`]: the plaintext twins, in f64, the oracle of the tests.
//!
//! # Definitions
//!
//! - Rows used: a row is used iff the outcome and every covariate are present (complete
//!   cases, like statsmodels with `missing="drop"`). Which rows those are stays secret;
//!   their number `n` is opened to the compute parties (documented leakage) and is part of
//!   the result (`nobs`).
//! - Design columns: `intercept` (if asked), then each covariate in the order given: a
//!   numeric column as is, a categorical column as one 0/1 indicator per level but the
//!   first, named `column[T.level]` (statsmodels' treatment coding).
//! - Ridge (`OlsSpec::ridge` = λ): minimise `(1/(2n))·Σ(y − b0 − x'b)² + (λ/2)·|b|²`, the
//!   intercept not penalised, coefficients on the original scale of the covariates. This
//!   is statsmodels' `OLS.fit_regularized(alpha=[0, λ, …, λ], L1_wt=0)`. Ridge fits report
//!   coefficients and R² only: no standard errors (their usual formulas assume an unbiased
//!   estimator; we do not pretend otherwise).
//! - Logistic L2 (`LogisticSpec::l2` = λ): maximise `ℓ(b0, b) − (λ/2)·|b|²` with ℓ the
//!   summed (not mean) log-likelihood, intercept not penalised, original scale. Standard
//!   errors are the square roots of the diagonal of the inverse penalised information
//!   `(X'VX + λP)^-1` (P: identity without the intercept), the usual penalised-likelihood
//!   approximation; the reference is a numpy Newton fit (statsmodels has no L2 logit).
//!
//! # What the compute parties learn
//!
//! Two bits (whether `n` passes `min_rows` and `max_vars_per_row`; a third with categorical
//! covariates and `min_level_rows`: whether every level has enough complete rows), then
//! `n`, then one bit whether every variable's variance is in the range the fixed point can
//! hold (an error otherwise: e.g. a constant column). Logistic regression also opens one bit
//! saying whether the outcome is 0/1 in every complete row, and one convergence bit per
//! Newton step (the number of steps is part of the result). Nothing of the fit.
//!
//! # What the recipients get
//!
//! Sealed ([`crate::sealed`]): coefficients, standard errors (multiplied by √n, a public
//! factor, so that they keep their precision for large n), R² (OLS), the log-likelihood
//! (logistic), all with f + 16 fractional bits. t/z statistics, p-values and intervals are
//! computed from them at the recipient ([`ols::OlsPublic`], [`logistic::LogisticPublic`]).

pub mod design;
pub mod enet;
pub mod holdout;
pub mod logistic;
pub mod ols;
pub mod plain;
pub(crate) mod split;

use std::fmt;

use serde::Serialize;

use crate::dist;

/// One row of a coefficient table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Coefficient {
    /// Design column (`intercept`, `party.column`, `party.column[T.level]`).
    pub name: String,
    /// Estimate.
    pub coef: f64,
    /// Standard error (none for ridge).
    pub std_err: Option<f64>,
    /// t (OLS) or z (logistic) statistic.
    pub stat: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// Lower end of the confidence interval.
    pub ci_low: Option<f64>,
    /// Upper end of the confidence interval.
    pub ci_high: Option<f64>,
}

/// Result of a linear regression ([`ols::ols`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OlsResult {
    /// Outcome column.
    pub outcome: String,
    /// Rows used (complete cases).
    pub nobs: usize,
    /// Residual degrees of freedom `n − p`.
    pub df_resid: f64,
    /// R² (uncentred when the model has no intercept, as statsmodels).
    pub r_squared: f64,
    /// Adjusted R² (none for ridge).
    pub adj_r_squared: Option<f64>,
    /// Ridge penalty λ (0: least squares).
    pub ridge: f64,
    /// Confidence level of the intervals.
    pub conf_level: f64,
    /// The coefficient table.
    pub coefficients: Vec<Coefficient>,
}

/// Result of a logistic regression ([`logistic::logistic`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogisticResult {
    /// Outcome column.
    pub outcome: String,
    /// Rows used (complete cases).
    pub nobs: usize,
    /// Log-likelihood at the estimate (without the penalty).
    pub log_likelihood: f64,
    /// Newton steps taken (the last one met the convergence criterion).
    pub iterations: usize,
    /// L2 penalty λ.
    pub l2: f64,
    /// Confidence level of the intervals.
    pub conf_level: f64,
    /// The coefficient table.
    pub coefficients: Vec<Coefficient>,
    /// With `holdout`: the model (fitted on the training rows) validated on the held-out
    /// rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<holdout::Validation>,
}

/// Builds the coefficient table from opened estimates and standard errors: t statistics
/// with `df` degrees of freedom, or z statistics when `df` is `None`.
pub(crate) fn table(
    names: &[String],
    coef: &[f64],
    se: Option<&[f64]>,
    df: Option<f64>,
    conf_level: f64,
) -> Vec<Coefficient> {
    let q = match df {
        Some(df) => dist::t_quantile(0.5 + conf_level / 2.0, df),
        None => dist::normal_quantile(0.5 + conf_level / 2.0),
    };
    names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let b = coef[j];
            let s = se.map(|s| s[j]);
            let stat = s.map(|s| b / s);
            Coefficient {
                name: name.clone(),
                coef: b,
                std_err: s,
                stat,
                p_value: stat.map(|t| match df {
                    Some(df) => dist::t_two_sided(t, df),
                    None => dist::normal_two_sided(t),
                }),
                ci_low: s.map(|s| b - q * s),
                ci_high: s.map(|s| b + q * s),
            }
        })
        .collect()
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "—".to_string(), |x| format!("{x:.prec$}"))
}

fn write_table(
    f: &mut fmt::Formatter<'_>,
    rows: &[Coefficient],
    stat: &str,
    p: &str,
    conf_level: f64,
) -> fmt::Result {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(9);
    let lo = format!("[{:.3}", (1.0 - conf_level) / 2.0);
    let hi = format!("{:.3}]", 0.5 + conf_level / 2.0);
    writeln!(
        f,
        "{:width$} {:>12} {:>11} {:>9} {:>8} {:>12} {:>12}",
        "", "coef", "std err", stat, p, lo, hi
    )?;
    writeln!(f, "{}", "-".repeat(width + 70))?;
    for r in rows {
        writeln!(
            f,
            "{:width$} {:>12.4} {:>11} {:>9} {:>8} {:>12} {:>12}",
            r.name,
            r.coef,
            opt(r.std_err, 4),
            opt(r.stat, 3),
            opt(r.p_value, 3),
            opt(r.ci_low, 3),
            opt(r.ci_high, 3),
        )?;
    }
    Ok(())
}

impl fmt::Display for OlsResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let title = if self.ridge > 0.0 {
            "Ridge regression"
        } else {
            "OLS regression"
        };
        writeln!(f, "{title} results")?;
        writeln!(
            f,
            "Dep. variable: {:<24} R-squared: {:.4}",
            self.outcome, self.r_squared
        )?;
        writeln!(
            f,
            "No. observations: {:<21} Adj. R-squared: {}",
            self.nobs,
            opt(self.adj_r_squared, 4)
        )?;
        writeln!(
            f,
            "Df residuals: {:<25} Ridge λ: {}",
            self.df_resid, self.ridge
        )?;
        write_table(f, &self.coefficients, "t", "P>|t|", self.conf_level)
    }
}

impl fmt::Display for LogisticResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Logistic regression results")?;
        writeln!(
            f,
            "Dep. variable: {:<24} Log-likelihood: {:.4}",
            self.outcome, self.log_likelihood
        )?;
        writeln!(
            f,
            "No. observations: {:<21} Iterations: {}",
            self.nobs, self.iterations
        )?;
        writeln!(f, "L2 λ: {}", self.l2)?;
        write_table(f, &self.coefficients, "z", "P>|z|", self.conf_level)?;
        match &self.validation {
            Some(v) => write!(f, "{v}"),
            None => Ok(()),
        }
    }
}
