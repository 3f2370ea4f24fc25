//! Plaintext twins of the regressions, in f64: the oracle of the tests and the baseline of
//! the benchmark. Same definitions as the MPC code (module docs of [`super`]): complete
//! cases, treatment coding, ridge and L2 penalties, and the logistic convergence criterion
//! ([`super::logistic::TOL`] on the change of the standardised coefficients).

use crate::analysis::{LogisticSpec, OlsSpec};
use crate::error::{Result, StatsError};
use crate::table::PlainFrame;
use crate::terms;

use super::{table, LogisticResult, OlsResult};

/// A design matrix of complete cases.
#[derive(Clone, Debug, PartialEq)]
pub struct PlainDesign {
    /// Column names (see [`super::design::column_names`]).
    pub names: Vec<String>,
    /// Rows (complete cases only), each with one value per design column.
    pub x: Vec<Vec<f64>>,
    /// The outcome of each row.
    pub y: Vec<f64>,
    /// Whether column 0 is the intercept.
    pub intercept: bool,
    /// The frame's index of each row.
    pub rows: Vec<usize>,
}

/// Builds the design matrix of complete cases from a plaintext frame.
pub fn design(
    frame: &PlainFrame,
    outcome: &str,
    covariates: &[String],
    intercept: bool,
) -> Result<PlainDesign> {
    let y = frame.numeric(outcome)?;
    let cols = terms::plain_design(frame, covariates)?;
    let names = super::design::with_intercept(&cols, intercept);
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    let mut rows = Vec::new();
    for (i, yi) in y.iter().enumerate() {
        let Some(yi) = *yi else { continue };
        let Some(row) = terms::plain_row(frame, &cols, i)? else {
            continue;
        };
        xs.push(intercept.then_some(1.0).into_iter().chain(row).collect());
        ys.push(yi);
        rows.push(i);
    }
    Ok(PlainDesign {
        names,
        x: xs,
        y: ys,
        intercept,
        rows,
    })
}

/// Cholesky factor `L` (row-major, lower) of an SPD matrix, or an error if it is not.
fn cholesky(a: &[f64], p: usize) -> Result<Vec<f64>> {
    let mut l = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..=i {
            let s: f64 = a[i * p + j] - (0..j).map(|k| l[i * p + k] * l[j * p + k]).sum::<f64>();
            if i == j {
                if s <= 0.0 {
                    return Err(StatsError::Invalid(
                        "the design matrix is singular (collinear covariates?)".into(),
                    ));
                }
                l[i * p + i] = s.sqrt();
            } else {
                l[i * p + j] = s / l[j * p + j];
            }
        }
    }
    Ok(l)
}

/// Solves `A x = b` for SPD `A` (p×p, row-major).
pub fn solve(a: &[f64], b: &[f64], p: usize) -> Result<Vec<f64>> {
    let l = cholesky(a, p)?;
    let mut z = vec![0.0; p];
    for i in 0..p {
        z[i] = (b[i] - (0..i).map(|k| l[i * p + k] * z[k]).sum::<f64>()) / l[i * p + i];
    }
    let mut x = vec![0.0; p];
    for i in (0..p).rev() {
        x[i] = (z[i] - (i + 1..p).map(|k| l[k * p + i] * x[k]).sum::<f64>()) / l[i * p + i];
    }
    Ok(x)
}

/// Inverse of an SPD matrix (p×p, row-major).
pub fn inverse(a: &[f64], p: usize) -> Result<Vec<f64>> {
    let mut inv = vec![0.0; p * p];
    for j in 0..p {
        let e: Vec<f64> = (0..p).map(|i| f64::from(u8::from(i == j))).collect();
        let col = solve(a, &e, p)?;
        for i in 0..p {
            inv[i * p + j] = col[i];
        }
    }
    Ok(inv)
}

/// `X' diag(v) X` of the rows `x` (v = 1 when `None`).
fn crossprod(x: &[Vec<f64>], v: Option<&[f64]>) -> Vec<f64> {
    let p = x.first().map_or(0, Vec::len);
    let mut m = vec![0.0; p * p];
    for (i, row) in x.iter().enumerate() {
        let w = v.map_or(1.0, |v| v[i]);
        for a in 0..p {
            for b in 0..p {
                m[a * p + b] += w * row[a] * row[b];
            }
        }
    }
    m
}

fn check_rows(n: usize, p: usize) -> Result<()> {
    if n <= p {
        return Err(StatsError::Invalid(format!(
            "{n} complete rows for {p} model variables: nothing left to estimate the error"
        )));
    }
    Ok(())
}

/// Least squares (or ridge) in f64.
pub fn ols(frame: &PlainFrame, spec: &OlsSpec) -> Result<OlsResult> {
    let d = design(frame, &spec.outcome, &spec.covariates, spec.intercept)?;
    let (n, p) = (d.x.len(), d.names.len());
    check_rows(n, p)?;
    let nf = n as f64;
    let ymean = if d.intercept {
        d.y.iter().sum::<f64>() / nf
    } else {
        0.0
    };
    let tss: f64 = d.y.iter().map(|y| (y - ymean).powi(2)).sum();
    let beta = if spec.ridge > 0.0 {
        if !d.intercept {
            return Err(StatsError::Invalid("ridge needs an intercept".into()));
        }
        // Centre; solve (Xc'Xc/n + λI) b = Xc'yc/n; b0 = ȳ − x̄'b.
        let q = p - 1;
        let means: Vec<f64> = (1..p)
            .map(|j| d.x.iter().map(|r| r[j]).sum::<f64>() / nf)
            .collect();
        let xc: Vec<Vec<f64>> =
            d.x.iter()
                .map(|r| (0..q).map(|j| r[j + 1] - means[j]).collect())
                .collect();
        let mut a = crossprod(&xc, None);
        a.iter_mut().for_each(|v| *v /= nf);
        for j in 0..q {
            a[j * q + j] += spec.ridge;
        }
        let rhs: Vec<f64> = (0..q)
            .map(|j| {
                xc.iter()
                    .zip(&d.y)
                    .map(|(r, y)| r[j] * (y - ymean))
                    .sum::<f64>()
                    / nf
            })
            .collect();
        let b = solve(&a, &rhs, q)?;
        let b0 = ymean - means.iter().zip(&b).map(|(m, b)| m * b).sum::<f64>();
        std::iter::once(b0).chain(b).collect::<Vec<_>>()
    } else {
        let a = crossprod(&d.x, None);
        let rhs: Vec<f64> = (0..p)
            .map(|j| d.x.iter().zip(&d.y).map(|(r, y)| r[j] * y).sum())
            .collect();
        solve(&a, &rhs, p)?
    };
    let rss: f64 =
        d.x.iter()
            .zip(&d.y)
            .map(|(r, y)| (y - r.iter().zip(&beta).map(|(x, b)| x * b).sum::<f64>()).powi(2))
            .sum();
    let r2 = 1.0 - rss / tss;
    let df = (n - p) as f64;
    let (se, adj) = if spec.ridge > 0.0 {
        // The MPC version's floor on the outcome's variance (`super::ols`).
        if tss / nf < super::ols::RIDGE_MIN_OUTCOME_VAR {
            return Err(StatsError::Invalid(format!(
                "ridge: the outcome's variance is below {:e}: rescale the outcome",
                super::ols::RIDGE_MIN_OUTCOME_VAR
            )));
        }
        (None, None)
    } else {
        // The MPC version's range for the residual variance (`super::ols`).
        let rss_n = rss / nf;
        if !(super::ols::RSS_MIN..=super::ols::RSS_MAX).contains(&rss_n) {
            return Err(StatsError::Invalid(format!(
                "the residuals' variance lies outside [{:e}, {:e}], where the fixed point \
                 cannot give standard errors: rescale the outcome",
                super::ols::RSS_MIN,
                super::ols::RSS_MAX
            )));
        }
        let inv = inverse(&crossprod(&d.x, None), p)?;
        let s2 = rss / df;
        let se: Vec<f64> = (0..p).map(|j| (s2 * inv[j * p + j]).sqrt()).collect();
        let num = if d.intercept { nf - 1.0 } else { nf };
        (Some(se), Some(1.0 - (1.0 - r2) * num / df))
    };
    Ok(OlsResult {
        outcome: spec.outcome.clone(),
        nobs: n,
        df_resid: df,
        r_squared: r2,
        adj_r_squared: adj,
        ridge: spec.ridge,
        conf_level: spec.conf_level,
        coefficients: table(&d.names, &beta, se.as_deref(), Some(df), spec.conf_level),
    })
}

pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Logistic regression by Newton–Raphson in f64, started at zero, stopped like the MPC
/// version: after the first step whose largest change of a standardised coefficient is
/// below [`super::logistic::TOL`].
pub fn logistic(frame: &PlainFrame, spec: &LogisticSpec) -> Result<LogisticResult> {
    let d = design(frame, &spec.outcome, &spec.covariates, spec.intercept)?;
    logistic_design(&d, spec)
}

/// [`logistic`] on a design already built (e.g. the training rows of a hold-out split).
pub fn logistic_design(d: &PlainDesign, spec: &LogisticSpec) -> Result<LogisticResult> {
    let (n, p) = (d.x.len(), d.names.len());
    check_rows(n, p)?;
    if d.y.iter().any(|&y| y != 0.0 && y != 1.0) {
        return Err(StatsError::Invalid(format!(
            "outcome `{}` must be 0 or 1",
            spec.outcome
        )));
    }
    let nf = n as f64;
    let first = usize::from(d.intercept);
    // Scale of each coefficient in standardised units: the change Δb of the original
    // coefficients is Δz_j = Δb_j·sd_j (slopes) and Δz_0 = Δb_0 + Σ m_j Δb_j (intercept).
    let mean: Vec<f64> = (0..p)
        .map(|j| d.x.iter().map(|r| r[j]).sum::<f64>() / nf)
        .collect();
    let sd: Vec<f64> = (0..p)
        .map(|j| {
            let m = if d.intercept { mean[j] } else { 0.0 };
            (d.x.iter().map(|r| (r[j] - m).powi(2)).sum::<f64>() / nf).sqrt()
        })
        .collect();
    let penalised = |j: usize| j >= first;
    let info = |beta: &[f64]| {
        let v: Vec<f64> =
            d.x.iter()
                .map(|r| {
                    let mu = sigmoid(r.iter().zip(beta).map(|(x, b)| x * b).sum());
                    mu * (1.0 - mu)
                })
                .collect();
        let mut h = crossprod(&d.x, Some(&v));
        for j in (0..p).filter(|&j| penalised(j)) {
            h[j * p + j] += spec.l2;
        }
        h
    };
    // Separation, as inside MPC: some row's fitted probability numerically 0 or 1. Where
    // the information becomes singular or the steps run out first, that is the reason.
    let separated = |beta: &[f64]| {
        d.x.iter().any(|r| {
            let eta: f64 = r.iter().zip(beta).map(|(x, b)| x * b).sum();
            eta.abs() >= super::logistic::SEP_ETA
        })
    };
    let mut beta = vec![0.0; p];
    let mut iterations = 0;
    loop {
        let mut g = vec![0.0; p];
        for (r, y) in d.x.iter().zip(&d.y) {
            let mu = sigmoid(r.iter().zip(&beta).map(|(x, b)| x * b).sum());
            for j in 0..p {
                g[j] += r[j] * (y - mu);
            }
        }
        for j in (0..p).filter(|&j| penalised(j)) {
            g[j] -= spec.l2 * beta[j];
        }
        let step = match solve(&info(&beta), &g, p) {
            Ok(s) => s,
            Err(_) if separated(&beta) => return Err(super::logistic::separation_error()),
            Err(e) => return Err(e),
        };
        beta.iter_mut().zip(&step).for_each(|(b, s)| *b += s);
        iterations += 1;
        let change = (0..p)
            .map(|j| {
                if d.intercept && j == 0 {
                    (step[0] + (1..p).map(|k| mean[k] * step[k]).sum::<f64>()).abs()
                } else {
                    (step[j] * sd[j]).abs()
                }
            })
            .fold(0.0, f64::max);
        if change < super::logistic::TOL {
            break;
        }
        if iterations == spec.max_steps {
            if separated(&beta) {
                return Err(super::logistic::separation_error());
            }
            return Err(StatsError::NotConverged(format!(
                "logistic regression did not converge in {} Newton steps",
                spec.max_steps
            )));
        }
    }
    if separated(&beta) {
        return Err(super::logistic::separation_error());
    }
    let inv = inverse(&info(&beta), p)?;
    let se: Vec<f64> = (0..p).map(|j| inv[j * p + j].sqrt()).collect();
    let llf =
        d.x.iter()
            .zip(&d.y)
            .map(|(r, y)| {
                let eta: f64 = r.iter().zip(&beta).map(|(x, b)| x * b).sum();
                y * eta - softplus(eta)
            })
            .sum();
    Ok(LogisticResult {
        outcome: spec.outcome.clone(),
        nobs: n,
        log_likelihood: llf,
        iterations,
        l2: spec.l2,
        conf_level: spec.conf_level,
        coefficients: table(&d.names, &beta, Some(&se), None, spec.conf_level),
        validation: None,
    })
}
