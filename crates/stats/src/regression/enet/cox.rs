//! The penalised Cox model (`elasticnet` with `family = "cox"`), glmnet's `coxnet`: the
//! definitions and the plaintext twin in f64.
//!
//! # Definitions
//!
//! Rows used: complete cases of `time`, `event` and every covariate; every such row must
//! have `time > 0` and `event` 0 or 1 (glmnet refuses non-positive times). Covariates are
//! standardised with their mean and standard deviation (divisor `n`); there is no
//! intercept (the partial likelihood does not see a shift). For each λ the coefficients
//! `b` of the standardised covariates `z` minimise
//!
//! `−(1/n)·ℓ(b) + λ·(α·|b|₁ + (1 − α)/2·|b|²)`,
//! `ℓ(b) = Σ_k (Σ_{i ∈ D_k} η_i − d_k·ln Σ_{j: t_j ≥ t_k} e^{η_j})`, `η = z'b`,
//!
//! over the distinct event times `t_k` with `d_k` events `D_k` (Breslow's ties): glmnet's
//! objective (its weights are normalised to sum to 1, hence `1/n`). Then `β_j = b_j/sd_j`.
//!
//! λ grid: `λ_max = max_j |z_j'g(0)|/(n·max(α, 0.001))` with `g(0) = δ − A` the gradient of
//! `ℓ` in η at `b = 0` (`A_i = Σ_{k: t_k ≤ t_i} d_k/|R_k|`, the Nelson–Aalen cumulative
//! hazard at `t_i`), then [`path::grid_factors`] as for the other families.
//!
//! # The schedule (proximal Newton, glmnet's working weights)
//!
//! With `r = e^η`, `S0_k = Σ_{j: t_j ≥ t_k} r_j` and, per row, `A_i = Σ_{k: t_k ≤ t_i}
//! d_k/S0_k`, `B_i = Σ_{k: t_k ≤ t_i} d_k/S0_k²`: the gradient of `ℓ` in η is
//! `g = δ − r∘A` and the diagonal of its negative Hessian `w = r∘A − r²∘B` (what glmnet's
//! coxnet takes as working weights). One Newton step from `b`: `H = Z'WZ/n` (k×k),
//! `c = Z'g/n + H·b`, then [`path::sweeps`] sweeps of coordinate descent
//! ([`path::descend_penalised`]) on `½·b'Hb − c'b + penalty` from `b`. Each problem (the
//! full data and every training set) starts at `b = 0` (its solution at its own `λ_max`)
//! and runs [`path::steps`] steps per λ along the path, warm-started from the previous λ.
//! The risk-set sums use one order of the rows by time, computed once. No stopping test.
//!
//! # Cross-validation
//!
//! `cv.glmnet(..., family = "cox", type.measure = "deviance", grouped = TRUE)`: for fold
//! `f`, with `b_{−f}` fitted on the other folds (standardised with their own moments, on
//! the full data's λ grid), the fold's deviance is `D(b_{−f}; all rows) − D(b_{−f};
//! training rows)` (Verweij and van Houwelingen), with `D = 2·(ℓ_sat − ℓ)`,
//! `ℓ_sat = −Σ_k d_k·ln d_k`, divided by the fold's number of events; `cvm` and `cvsd` are
//! weighted by the folds' events ([`path::cv_curve`]). A fold without an event is refused
//! (glmnet's curve would divide by zero).
//!
//! With `type_measure = "C"` (glmnet's `type.measure = "C"`, `cv.coxnet`): the fold's value
//! is Harrell's C-index of its own rows' linear predictors `x'β_{−f}` (survival's
//! `concordance(Surv(time, event) ~ −η)`: a comparable pair's shorter time with the larger
//! `η` is concordant, ties in `η` count one half, events at one time are not compared), and
//! `cvm`, `cvsd` weight the folds by their rows (glmnet's `weights = tapply(weights, foldid,
//! sum)`, not grouped); `lambda.min` maximises `cvm` ([`path::choose_for`]). A fold without
//! a comparable pair is refused.

use crate::error::{Result, StatsError};
use crate::regression::plain::design;
use crate::table::PlainFrame;

use super::path::{self, alpha_for_max};
use super::{ElasticNetResult, ElasticNetSpec, Measure};
use crate::survival::concordance::{concordance_plain, ConcordanceRows};

fn invalid(msg: String) -> StatsError {
    StatsError::Invalid(format!("elasticnet (family = \"cox\"): {msg}"))
}

/// The complete rows of a cox elastic net: covariates, times and events (0/1).
pub struct CoxRows {
    /// Design column names (no intercept).
    pub names: Vec<String>,
    /// Covariates per row.
    pub x: Vec<Vec<f64>>,
    /// Survival times (> 0).
    pub time: Vec<f64>,
    /// Event indicators (0 or 1).
    pub event: Vec<f64>,
}

/// The complete cases of `time`, `event` and the covariates, checked: every time > 0 and
/// every event 0 or 1 (an error naming the column otherwise).
pub fn rows(frame: &PlainFrame, spec: &ElasticNetSpec) -> Result<CoxRows> {
    let (time, event) = match (&spec.time, &spec.event) {
        (Some(t), Some(e)) => (t.as_str(), e.as_str()),
        _ => return Err(invalid("needs `time` and `event`".into())),
    };
    let d = design(frame, time, &spec.covariates, false)?;
    let ev = frame.numeric(event)?;
    let mut out = CoxRows {
        names: d.names,
        x: Vec::with_capacity(d.y.len()),
        time: Vec::with_capacity(d.y.len()),
        event: Vec::with_capacity(d.y.len()),
    };
    for ((x, t), &i) in d.x.into_iter().zip(d.y).zip(&d.rows) {
        let Some(e) = ev[i] else { continue };
        out.x.push(x);
        out.time.push(t);
        out.event.push(e);
    }
    if out.time.iter().any(|&t| t.is_nan() || t <= 0.0) {
        return Err(invalid(format!(
            "`time` (`{time}`) must be > 0 in every complete row"
        )));
    }
    if out.event.iter().any(|&e| e != 0.0 && e != 1.0) {
        return Err(invalid(format!(
            "`event` (`{event}`) must be 0 or 1 in every complete row"
        )));
    }
    Ok(out)
}

/// One set of rows (the full data or a training set) in risk-set order, standardised.
struct RiskSet {
    /// Standardised covariates per row (in the set's time order, latest first).
    z: Vec<Vec<f64>>,
    /// Events (0/1) in that order.
    delta: Vec<f64>,
    /// Tie groups: `(first, end)` row ranges of equal times, latest first.
    groups: Vec<(usize, usize)>,
    /// Means and standard deviations (divisor n) of the covariates.
    mean: Vec<f64>,
    sd: Vec<f64>,
}

impl RiskSet {
    /// Sorts the rows `idx` by time, latest first (once), and standardises their
    /// covariates with their own moments.
    fn new(cr: &CoxRows, idx: &[usize]) -> Result<RiskSet> {
        let mut order = idx.to_vec();
        order.sort_by(|&a, &b| cr.time[b].total_cmp(&cr.time[a]));
        let n = order.len() as f64;
        let k = cr.names.len();
        let mean: Vec<f64> = (0..k)
            .map(|j| order.iter().map(|&i| cr.x[i][j]).sum::<f64>() / n)
            .collect();
        let sd: Vec<f64> = (0..k)
            .map(|j| {
                (order
                    .iter()
                    .map(|&i| (cr.x[i][j] - mean[j]).powi(2))
                    .sum::<f64>()
                    / n)
                    .sqrt()
            })
            .collect();
        if sd.iter().any(|s| s.is_nan() || *s <= 0.0) {
            return Err(invalid(
                "a model variable is constant among the rows used".into(),
            ));
        }
        let z = order
            .iter()
            .map(|&i| (0..k).map(|j| (cr.x[i][j] - mean[j]) / sd[j]).collect())
            .collect();
        let mut groups = Vec::new();
        let mut a = 0;
        while a < order.len() {
            let mut e = a + 1;
            while e < order.len() && cr.time[order[e]] == cr.time[order[a]] {
                e += 1;
            }
            groups.push((a, e));
            a = e;
        }
        Ok(RiskSet {
            z,
            delta: order.iter().map(|&i| cr.event[i]).collect(),
            groups,
            mean,
            sd,
        })
    }

    fn rows(&self) -> usize {
        self.delta.len()
    }

    /// Per row `(A_i, B_i)`: the sums of `d_k/S0_k` and `d_k/S0_k²` over the event times
    /// at or before the row's time, for weights `r` (in the set's order).
    fn hazard_sums(&self, r: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let n = self.rows();
        let mut s0 = 0.0;
        let mut per_group = Vec::with_capacity(self.groups.len());
        for &(a, e) in &self.groups {
            s0 += r[a..e].iter().sum::<f64>();
            let d: f64 = self.delta[a..e].iter().sum();
            per_group.push((d / s0, d / (s0 * s0)));
        }
        let (mut sa, mut sb) = (vec![0.0; n], vec![0.0; n]);
        let (mut ca, mut cb) = (0.0, 0.0);
        for (g, &(a, e)) in self.groups.iter().enumerate().rev() {
            ca += per_group[g].0;
            cb += per_group[g].1;
            for i in a..e {
                sa[i] = ca;
                sb[i] = cb;
            }
        }
        (sa, sb)
    }

    /// The linear predictor of standardised coefficients `b`.
    fn eta(&self, b: &[f64]) -> Vec<f64> {
        self.z
            .iter()
            .map(|zi| zi.iter().zip(b).map(|(x, c)| x * c).sum())
            .collect()
    }

    /// `λ_max` of the set (module docs), for the first λ of the default grid.
    fn lambda_max(&self, alpha: f64) -> f64 {
        let n = self.rows() as f64;
        let (a, _) = self.hazard_sums(&vec![1.0; self.rows()]);
        let k = self.mean.len();
        (0..k)
            .map(|j| {
                (0..self.rows())
                    .map(|i| self.z[i][j] * (self.delta[i] - a[i]))
                    .sum::<f64>()
                    .abs()
                    / n
            })
            .fold(0.0, f64::max)
            / alpha_for_max(alpha)
    }

    /// The path of standardised coefficients: [`path::steps`] Newton steps per λ, warm
    /// started, each [`path::sweeps`] sweeps (module docs).
    fn path(&self, lambda: &[f64], spec: &ElasticNetSpec) -> Vec<Vec<f64>> {
        let k = self.mean.len();
        let n = self.rows() as f64;
        let mut b = vec![0.0; k];
        let mut out = Vec::with_capacity(lambda.len());
        for &lam in lambda {
            for _ in 0..path::steps(spec) {
                let r: Vec<f64> = self.eta(&b).iter().map(|e| e.exp()).collect();
                let (sa, sb) = self.hazard_sums(&r);
                let mut h = vec![0.0; k * k];
                let mut c = vec![0.0; k];
                for i in 0..self.rows() {
                    let g = self.delta[i] - r[i] * sa[i];
                    let w = r[i] * sa[i] - r[i] * r[i] * sb[i];
                    let zi = &self.z[i];
                    for a in 0..k {
                        c[a] += zi[a] * g / n;
                        for d in 0..k {
                            h[a * k + d] += w * zi[a] * zi[d] / n;
                        }
                    }
                }
                for a in 0..k {
                    c[a] += (0..k).map(|d| h[a * k + d] * b[d]).sum::<f64>();
                }
                path::descend_penalised(&h, &c, &mut b, lam, spec.alpha, path::sweeps(spec));
            }
            out.push(b.clone());
        }
        out
    }

    /// The coefficients on the original scale: `β_j = b_j/sd_j`.
    fn original(&self, b: &[f64]) -> Vec<f64> {
        b.iter().zip(&self.sd).map(|(c, s)| c / s).collect()
    }
}

/// Breslow's partial log-likelihood of the rows `idx` at original-scale coefficients
/// `beta`, minus its saturated value: `D/2 = ℓ_sat − ℓ` (glmnet's `coxnet.deviance / 2`).
fn half_deviance(cr: &CoxRows, idx: &[usize], beta: &[f64]) -> f64 {
    let mut order = idx.to_vec();
    order.sort_by(|&a, &b| cr.time[b].total_cmp(&cr.time[a]));
    let eta: Vec<f64> = order
        .iter()
        .map(|&i| cr.x[i].iter().zip(beta).map(|(x, c)| x * c).sum())
        .collect();
    // Shift by the largest η for the sums of exponentials (ℓ does not change).
    let top = eta.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s0 = 0.0;
    let mut out = 0.0;
    let mut a = 0;
    while a < order.len() {
        let mut e = a + 1;
        while e < order.len() && cr.time[order[e]] == cr.time[order[a]] {
            e += 1;
        }
        s0 += eta[a..e].iter().map(|v| (v - top).exp()).sum::<f64>();
        let d: f64 = (a..e).map(|i| cr.event[order[i]]).sum();
        if d > 0.0 {
            let events: f64 = (a..e).map(|i| cr.event[order[i]] * eta[i]).sum();
            out += -d * d.ln() - events + d * (s0.ln() + top);
        }
        a = e;
    }
    out
}

/// Harrell's C-index of the test rows `test` at original-scale coefficients `beta` (glmnet's
/// `Cindex`: survival's `concordance(y ~ -η)`, i.e. a larger `η` predicts a shorter time;
/// ties in `η` count one half, events tied in time are not compared), by the concordance's
/// twin ([`crate::survival::concordance::concordance_plain`]). A fold without a comparable
/// pair is refused (its C-index is undefined).
fn fold_cindex(cr: &CoxRows, test: &[usize], beta: &[f64], fold: usize) -> Result<f64> {
    let eta: Vec<f64> = test
        .iter()
        .map(|&i| cr.x[i].iter().zip(beta).map(|(x, c)| x * c).sum())
        .collect();
    let time: Vec<f64> = test.iter().map(|&i| cr.time[i]).collect();
    let event: Vec<bool> = test.iter().map(|&i| cr.event[i] == 1.0).collect();
    let stratum = vec![0; test.len()];
    let raw = concordance_plain(&ConcordanceRows {
        time: &time,
        event: &event,
        eta: &eta,
        stratum: &stratum,
        entry: None,
        cluster: None,
    });
    let npair = raw.concordant + raw.discordant + raw.tied_x;
    if npair == 0 {
        return Err(invalid(format!(
            "cross-validation fold {} has no comparable pair (its C-index is undefined): \
             fewer folds",
            fold + 1
        )));
    }
    Ok((raw.concordant as f64 + raw.tied_x as f64 / 2.0) / npair as f64)
}

/// The penalised Cox model in f64 on the complete rows of `frame`; `fold[i]` (in
/// `0..spec.folds`) is the fold of the `i`-th complete row. Called by
/// [`super::plain::elasticnet`] for `family = "cox"`.
pub fn elasticnet(
    frame: &PlainFrame,
    spec: &ElasticNetSpec,
    fold: &[usize],
) -> Result<ElasticNetResult> {
    path::check_spec(spec)?;
    let cr = rows(frame, spec)?;
    let n = cr.time.len();
    path::check_rows(spec, n)?;
    if fold.len() != n || fold.iter().any(|&f| f >= spec.folds) {
        return Err(invalid("one fold in 0..folds per complete row".into()));
    }
    let all: Vec<usize> = (0..n).collect();
    let full = RiskSet::new(&cr, &all)?;
    let k = cr.names.len();
    let lambda = match &spec.lambda {
        Some(list) => list.clone(),
        None => {
            let top = full.lambda_max(spec.alpha);
            path::grid_factors(spec, n, k)
                .iter()
                .map(|g| top * g)
                .collect()
        }
    };
    let coef: Vec<Vec<f64>> = full
        .path(&lambda, spec)
        .iter()
        .enumerate()
        .map(|(l, b)| {
            if l == 0 && path::zero_first(spec) {
                vec![0.0; k]
            } else {
                full.original(b)
            }
        })
        .collect();
    let mut dev = Vec::with_capacity(spec.folds);
    let mut fold_rows = Vec::with_capacity(spec.folds);
    let mut fold_events = Vec::with_capacity(spec.folds);
    for f in 0..spec.folds {
        let (test, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| fold[i] == f);
        let events = test.iter().filter(|&&i| cr.event[i] == 1.0).count();
        if events == 0 {
            return Err(invalid(format!(
                "cross-validation fold {} has no event (its deviance per event is undefined): \
                 fewer folds",
                f + 1
            )));
        }
        let set = RiskSet::new(&cr, &train)?;
        let per_l = set
            .path(&lambda, spec)
            .iter()
            .map(|b| {
                let beta = set.original(b);
                match spec.type_measure {
                    Measure::Deviance => Ok(2.0
                        * (half_deviance(&cr, &all, &beta) - half_deviance(&cr, &train, &beta))
                        / events as f64),
                    Measure::C => fold_cindex(&cr, &test, &beta, f),
                }
            })
            .collect::<Result<Vec<f64>>>()?;
        dev.push(per_l);
        fold_rows.push(test.len());
        fold_events.push(events);
    }
    // glmnet weighs the folds' deviances by their events, their C-indices by their rows.
    let weights = match spec.type_measure {
        Measure::Deviance => &fold_events,
        Measure::C => &fold_rows,
    };
    let (cvm, cvsd) = path::cv_curve(&dev, weights);
    Ok(ElasticNetResult::assemble(
        spec, n, fold_rows, cr.names, lambda, coef, cvm, cvsd,
    ))
}
