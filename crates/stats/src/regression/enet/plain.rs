//! The plaintext twin of the elastic net, in f64: the same standardisation, grid, schedule
//! and cross-validation as the MPC fit ([`super::path`]), on the complete rows, with the
//! fold of every complete row given (the MPC fit draws them inside MPC; the tests give the
//! twin glmnet's `foldid`).

use crate::error::{Result, StatsError};
use crate::regression::plain::design;
use crate::table::PlainFrame;

use super::path::{self, alpha_for_max};
use super::{ElasticNetResult, ElasticNetSpec, Family};

/// Means, standard deviations (divisor n) and correlations of the covariates and the
/// outcome (last) over a set of rows.
struct Standardised {
    mean: Vec<f64>,
    sd: Vec<f64>,
    /// Correlation matrix of the covariates (k×k).
    r: Vec<f64>,
    /// Correlations of the covariates with the outcome.
    c: Vec<f64>,
}

fn standardise(x: &[&[f64]], y: &[f64]) -> Result<Standardised> {
    let n = y.len() as f64;
    let k = x.first().map_or(0, |r| r.len());
    let row = |i: usize| x[i].iter().copied().chain(std::iter::once(y[i]));
    let mut mean = vec![0.0; k + 1];
    for i in 0..y.len() {
        for (m, v) in mean.iter_mut().zip(row(i)) {
            *m += v / n;
        }
    }
    let mut cov = vec![0.0; (k + 1) * (k + 1)];
    for i in 0..y.len() {
        let d: Vec<f64> = row(i).zip(&mean).map(|(v, m)| v - m).collect();
        for a in 0..=k {
            for b in 0..=k {
                cov[a * (k + 1) + b] += d[a] * d[b] / n;
            }
        }
    }
    let sd: Vec<f64> = (0..=k).map(|a| cov[a * (k + 2)].sqrt()).collect();
    if sd.iter().any(|s| s.is_nan() || *s <= 0.0) {
        return Err(StatsError::Invalid(
            "elasticnet: a model variable or the outcome is constant among the rows used".into(),
        ));
    }
    let corr = |a: usize, b: usize| cov[a * (k + 1) + b] / (sd[a] * sd[b]);
    Ok(Standardised {
        r: (0..k * k).map(|i| corr(i / k, i % k)).collect(),
        c: (0..k).map(|a| corr(a, k)).collect(),
        mean,
        sd,
    })
}

/// A fitted path on the original scale: per λ, the intercept then the slopes.
/// With `top` the first λ is the data's own `λ_max`, where every slope is zero by
/// definition ([`path::zero_first`]).
fn fit(
    x: &[&[f64]],
    y: &[f64],
    s: &Standardised,
    lambda: &[f64],
    spec: &ElasticNetSpec,
    top: bool,
) -> Vec<Vec<f64>> {
    let k = s.c.len();
    let sy = s.sd[k];
    let (std_path, unit) = match spec.family {
        Family::Gaussian => {
            let lam: Vec<f64> = lambda.iter().map(|l| l / sy).collect();
            let b = path::descend(&s.r, &s.c, &lam, spec.alpha, path::sweeps(spec));
            let b0 = vec![0.0; lambda.len()];
            (b0.into_iter().zip(b).collect::<Vec<_>>(), sy)
        }
        // Cox never gets here: [`elasticnet`] hands it to [`super::cox`].
        Family::Binomial | Family::Cox => (newton_path(x, y, s, lambda, spec), 1.0),
    };
    std_path
        .into_iter()
        .enumerate()
        .map(|(l, (c0, b))| {
            let keep = if l == 0 && top { 0.0 } else { 1.0 };
            let slopes: Vec<f64> = (0..k).map(|j| keep * b[j] * unit / s.sd[j]).collect();
            let b0 = match spec.family {
                Family::Gaussian => s.mean[k],
                Family::Binomial | Family::Cox => c0,
            } - (0..k).map(|j| s.mean[j] * slopes[j]).sum::<f64>();
            std::iter::once(b0).chain(slopes).collect()
        })
        .collect()
}

/// The binomial schedule ([`path`] module docs) in the standardised coordinates: per λ the
/// intercept (of the centred covariates) and the slopes.
fn newton_path(
    x: &[&[f64]],
    y: &[f64],
    s: &Standardised,
    lambda: &[f64],
    spec: &ElasticNetSpec,
) -> Vec<(f64, Vec<f64>)> {
    let k = s.c.len();
    let p = k + 1;
    let n = y.len() as f64;
    let z: Vec<Vec<f64>> = x
        .iter()
        .map(|r| {
            std::iter::once(1.0)
                .chain((0..k).map(|j| (r[j] - s.mean[j]) / s.sd[j]))
                .collect()
        })
        .collect();
    let ybar = s.mean[k];
    let mut b = vec![0.0; p];
    b[0] = (ybar / (1.0 - ybar)).ln();
    let mut out = Vec::with_capacity(lambda.len());
    for &lam in lambda {
        for _ in 0..path::steps(spec) {
            let mut h = vec![0.0; p * p];
            let mut c = vec![0.0; p];
            for (zi, yi) in z.iter().zip(y) {
                let eta: f64 = zi.iter().zip(&b).map(|(a, c)| a * c).sum();
                let mu = 1.0 / (1.0 + (-eta).exp());
                let w = mu * (1.0 - mu);
                for a in 0..p {
                    c[a] += zi[a] * (yi - mu) / n;
                    for d in 0..p {
                        h[a * p + d] += w * zi[a] * zi[d] / n;
                    }
                }
            }
            for a in 0..p {
                c[a] += (0..p).map(|d| h[a * p + d] * b[d]).sum::<f64>();
            }
            path::descend_weighted(&h, &c, &mut b, lam, spec.alpha, path::sweeps(spec));
        }
        out.push((b[0], b[1..].to_vec()));
    }
    out
}

/// Refuses a binomial outcome other than 0/1, or one that is constant.
fn check_outcome(spec: &ElasticNetSpec, y: &[f64]) -> Result<()> {
    if spec.family == Family::Binomial && y.iter().any(|&v| v != 0.0 && v != 1.0) {
        return Err(StatsError::Invalid(format!(
            "elasticnet: family = \"binomial\" needs a 0/1 outcome; `{}` has other values",
            spec.outcome
        )));
    }
    Ok(())
}

/// The λ path: the explicit list, or glmnet's grid from `λ_max` of the full data.
fn lambdas(s: &Standardised, spec: &ElasticNetSpec, n: usize) -> Vec<f64> {
    if let Some(list) = &spec.lambda {
        return list.clone();
    }
    let k = s.c.len();
    let top = s.sd[k] * s.c.iter().fold(0.0f64, |m, v| m.max(v.abs())) / alpha_for_max(spec.alpha);
    path::grid_factors(spec, n, k)
        .iter()
        .map(|g| top * g)
        .collect()
}

/// Fold `i mod k` for row `i` of `n` (a fixed assignment, glmnet's `foldid` in the fixtures).
pub fn folds_in_order(n: usize, k: usize) -> Vec<usize> {
    (0..n).map(|i| i % k).collect()
}

/// The elastic net in f64 on the complete rows of `frame`; `fold[i]` (in `0..spec.folds`)
/// is the fold of the `i`-th complete row. Family `cox` is [`super::cox::elasticnet`].
pub fn elasticnet(
    frame: &PlainFrame,
    spec: &ElasticNetSpec,
    fold: &[usize],
) -> Result<ElasticNetResult> {
    path::check_spec(spec)?;
    if spec.family == Family::Cox {
        return super::cox::elasticnet(frame, spec, fold);
    }
    let d = design(frame, &spec.outcome, &spec.covariates, false)?;
    let n = d.y.len();
    path::check_rows(spec, n)?;
    if fold.len() != n || fold.iter().any(|&f| f >= spec.folds) {
        return Err(StatsError::Invalid(
            "elasticnet: one fold in 0..folds per complete row".into(),
        ));
    }
    check_outcome(spec, &d.y)?;
    let rows: Vec<&[f64]> = d.x.iter().map(Vec::as_slice).collect();
    let full = standardise(&rows, &d.y)?;
    let lambda = lambdas(&full, spec, n);
    let coef = fit(&rows, &d.y, &full, &lambda, spec, path::zero_first(spec));
    let mut mse = Vec::with_capacity(spec.folds);
    let mut fold_rows = Vec::with_capacity(spec.folds);
    for f in 0..spec.folds {
        let (test, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| fold[i] == f);
        let pick = |idx: &[usize]| -> (Vec<&[f64]>, Vec<f64>) {
            (
                idx.iter().map(|&i| rows[i]).collect(),
                idx.iter().map(|&i| d.y[i]).collect(),
            )
        };
        let (tx, ty) = pick(&train);
        let path = fit(&tx, &ty, &standardise(&tx, &ty)?, &lambda, spec, false);
        let errs = path
            .iter()
            .map(|b| {
                test.iter()
                    .map(|&i| {
                        let eta =
                            b[0] + rows[i].iter().zip(&b[1..]).map(|(x, c)| x * c).sum::<f64>();
                        path::row_deviance(spec.family, d.y[i], eta)
                    })
                    .sum::<f64>()
                    / test.len() as f64
            })
            .collect();
        mse.push(errs);
        fold_rows.push(test.len());
    }
    let (cvm, cvsd) = path::cv_curve(&mse, &fold_rows);
    let names = std::iter::once("intercept".to_string())
        .chain(d.names)
        .collect();
    Ok(ElasticNetResult::assemble(
        spec, n, fold_rows, names, lambda, coef, cvm, cvsd,
    ))
}
