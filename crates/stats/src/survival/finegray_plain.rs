//! The plaintext twin of the Fine–Gray model ([`super::finegray`]): the same estimating
//! equation, censoring weights and sandwich variance in `f64`, written with the cumulative
//! sums the MPC version uses (rows in risk-set order, latest first), so that each MPC step
//! has its oracle. It agrees with R's `cmprsk::crr` to 1e-8 on the fixtures
//! (`fixtures/finegray/`), whose own loops are the quadratic definitions.

use crate::error::{Result, StatsError};
use crate::table::PlainFrame;
use crate::terms;

use super::cox::{min_information, CoxFit};
use super::finegray::{bad_cause, no_events, FinegraySpec};
use super::plain::{newton, sandwich, spd_inverse, standardise, Newton};

/// One complete case: time, cause code (0 = censored) and design row.
struct Row {
    time: f64,
    code: u32,
    x: Vec<f64>,
}

/// The complete cases of time, cause and the covariates; a cause outside `0..=K` is refused
/// (as inside MPC).
fn complete_cases(frame: &PlainFrame, spec: &FinegraySpec) -> Result<Vec<Row>> {
    let t = frame.numeric(&spec.time)?;
    let e = frame.numeric(&spec.event)?;
    let cols = terms::plain_design(frame, &spec.covariates)?;
    let mut out = Vec::new();
    for i in 0..frame.rows {
        let (Some(time), Some(code)) = (t[i], e[i]) else {
            continue;
        };
        let Some(x) = terms::plain_row(frame, &cols, i)? else {
            continue;
        };
        if code.fract() != 0.0 || !(0.0..=f64::from(spec.causes)).contains(&code) {
            return Err(bad_cause(spec));
        }
        out.push(Row {
            time,
            code: code as u32,
            x,
        });
    }
    Ok(out)
}

/// The rows in risk-set order (time descending) with their tie groups and the censoring
/// weights: everything that does not depend on β.
pub(crate) struct Ordered {
    /// Standardised covariates per row, risk-set order.
    z: Vec<Vec<f64>>,
    /// Per row: 1 = the cause of interest, 2 = a competing cause, 0 = censored.
    kind: Vec<u8>,
    /// Tie groups as row ranges, latest time first.
    groups: Vec<std::ops::Range<usize>>,
    /// Per group: `G(t-)`, the Kaplan–Meier estimate of the censoring distribution just
    /// before the group's time (cmprsk's `uuu`).
    g: Vec<f64>,
    /// Per group: rows with time ≥ t (`Y`), censored rows at t (`C`), events of the
    /// cause at t (`d`).
    at_risk: Vec<f64>,
    censored: Vec<f64>,
    deaths: Vec<f64>,
}

impl Ordered {
    fn new(rows: &[Row], z: Vec<Vec<f64>>, cause: u32) -> Ordered {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| rows[b].time.total_cmp(&rows[a].time));
        let z: Vec<Vec<f64>> = order.iter().map(|&i| z[i].clone()).collect();
        let kind: Vec<u8> = order
            .iter()
            .map(|&i| match rows[i].code {
                0 => 0,
                c if c == cause => 1,
                _ => 2,
            })
            .collect();
        let mut groups = Vec::new();
        let mut start = 0;
        for i in 1..=order.len() {
            if i == order.len() || rows[order[i]].time != rows[order[start]].time {
                groups.push(start..i);
                start = i;
            }
        }
        let count = |r: &std::ops::Range<usize>, k: u8| -> f64 {
            kind[r.clone()].iter().filter(|&&x| x == k).count() as f64
        };
        let censored: Vec<f64> = groups.iter().map(|r| count(r, 0)).collect();
        let deaths: Vec<f64> = groups.iter().map(|r| count(r, 1)).collect();
        let at_risk: Vec<f64> = groups.iter().map(|r| r.end as f64).collect();
        // G(t-) = Π_{u < t} (1 - C(u)/Y(u)): products over the later groups in this order.
        let mut g = vec![1f64; groups.len()];
        let mut acc = 1f64;
        for k in (0..groups.len()).rev() {
            g[k] = acc;
            acc *= 1.0 - censored[k] / at_risk[k];
        }
        Ordered {
            z,
            kind,
            groups,
            g,
            at_risk,
            censored,
            deaths,
        }
    }

    /// Per group, the competing rows strictly earlier in time: `Σ w/G`, `Σ w z/G`, and
    /// `Σ w z zᵀ/G` (suffix sums over the later groups in risk-set order, exclusive).
    fn earlier_competing(&self, w: &[f64], p: usize) -> Vec<(f64, Vec<f64>, Vec<f64>)> {
        let mut out = vec![(0f64, vec![0f64; p], vec![0f64; p * p]); self.groups.len()];
        let (mut q0, mut q1, mut q2) = (0f64, vec![0f64; p], vec![0f64; p * p]);
        for (k, r) in self.groups.iter().enumerate().rev() {
            out[k] = (q0, q1.clone(), q2.clone());
            for i in r.clone().filter(|&i| self.kind[i] == 2) {
                let v = w[i] / self.g[k];
                accumulate(&mut q0, &mut q1, &mut q2, v, &self.z[i]);
            }
        }
        out
    }

    /// Per group of the cause's events: the subdistribution risk set
    /// `D = Σ_{t_j ≥ t} w_j + G(t-) Σ_{competing, t_j < t} w_j/G(t_j-)` and its first and
    /// second moments (`S1`, `S2`), zero-free only where `d > 0`.
    fn risk_sets(&self, w: &[f64], p: usize) -> Vec<(f64, Vec<f64>, Vec<f64>)> {
        let earlier = self.earlier_competing(w, p);
        let (mut s0, mut s1, mut s2) = (0f64, vec![0f64; p], vec![0f64; p * p]);
        let mut out = Vec::with_capacity(self.groups.len());
        for (k, r) in self.groups.iter().enumerate() {
            for i in r.clone() {
                accumulate(&mut s0, &mut s1, &mut s2, w[i], &self.z[i]);
            }
            let (q0, q1, q2) = &earlier[k];
            let g = self.g[k];
            out.push((
                s0 + g * q0,
                s1.iter().zip(q1).map(|(a, b)| a + g * b).collect(),
                s2.iter().zip(q2).map(|(a, b)| a + g * b).collect(),
            ));
        }
        out
    }

    fn weights(&self, beta: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let eta: Vec<f64> = self.z.iter().map(|z| dot(z, beta)).collect();
        let w = eta.iter().map(|e| e.exp()).collect();
        (eta, w)
    }

    /// Log pseudo-likelihood (Breslow ties, as crr), score and information at β.
    pub(crate) fn derivatives(&self, beta: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
        let p = beta.len();
        let (eta, w) = self.weights(beta);
        let sets = self.risk_sets(&w, p);
        let (mut ll, mut u, mut h) = (0f64, vec![0f64; p], vec![0f64; p * p]);
        for (i, z) in self
            .z
            .iter()
            .enumerate()
            .filter(|(i, _)| self.kind[*i] == 1)
        {
            ll += eta[i];
            u.iter_mut().zip(z).for_each(|(a, b)| *a += b);
        }
        for (k, (s0, s1, s2)) in sets.iter().enumerate() {
            let d = self.deaths[k];
            if d == 0.0 {
                continue;
            }
            ll -= d * s0.ln();
            for a in 0..p {
                u[a] -= d * s1[a] / s0;
                for b in 0..p {
                    h[a * p + b] += d * (s2[a * p + b] / s0 - s1[a] * s1[b] / (s0 * s0));
                }
            }
        }
        (ll, u, h)
    }

    /// The per-row influence terms `η_i + ψ_i` of crr's sandwich at β (`crrvv`):
    /// `η_i = δ1_i (z_i - μ(t_i)) - w_i (z_i a_i - c_i) - δ2_i (w_i/G_i) (z_i b_i - e_i)`
    /// with `a, c` the sums of `d/D` and `d μ/D` over the cause's groups at or before `t_i`
    /// and `b, e` those of `d G/D` and `d G μ/D` over the groups after it; and, for the
    /// estimation of G, `ψ_i = δc_i q(t_i)/Y(t_i) - Σ_{u ≤ t_i} C(u) q(u)/Y(u)²` with
    /// `q(u) = P1(u) R0(u) - P0(u) R1(u)`: `P` the competing rows' `Σ w/G`, `Σ w z/G` before
    /// `u`, `R` the cause's `Σ d G/D`, `Σ d G μ/D` at or after `u`.
    pub(crate) fn influence(&self, beta: &[f64]) -> Vec<Vec<f64>> {
        let p = beta.len();
        let (_, w) = self.weights(beta);
        let sets = self.risk_sets(&w, p);
        let earlier = self.earlier_competing(&w, p);
        let ng = self.groups.len();
        // Per group: d/D and d μ/D.
        let r: Vec<f64> = (0..ng).map(|k| self.deaths[k] / sets[k].0).collect();
        let mu: Vec<Vec<f64>> = sets
            .iter()
            .map(|(s0, s1, _)| s1.iter().map(|v| v / s0).collect())
            .collect();
        // Suffix sums (groups at or before in time): a, c. Prefix sums (after): b, e (exclusive),
        // and R0, R1 (inclusive).
        let mut a = vec![0f64; ng];
        let mut c = vec![vec![0f64; p]; ng];
        let (mut sa, mut sc) = (0f64, vec![0f64; p]);
        for k in (0..ng).rev() {
            sa += r[k];
            sc.iter_mut().zip(&mu[k]).for_each(|(x, m)| *x += r[k] * m);
            a[k] = sa;
            c[k] = sc.clone();
        }
        let mut b = vec![0f64; ng];
        let mut e = vec![vec![0f64; p]; ng];
        let mut r0 = vec![0f64; ng];
        let mut r1 = vec![vec![0f64; p]; ng];
        let (mut sb, mut se) = (0f64, vec![0f64; p]);
        for k in 0..ng {
            b[k] = sb;
            e[k] = se.clone();
            sb += r[k] * self.g[k];
            se.iter_mut()
                .zip(&mu[k])
                .for_each(|(x, m)| *x += r[k] * self.g[k] * m);
            r0[k] = sb;
            r1[k] = se.clone();
        }
        // q(u)/Y(u) per group and the running sum of C q/Y² from the earliest time on.
        let qy: Vec<Vec<f64>> = (0..ng)
            .map(|k| {
                let (p0, p1, _) = &earlier[k];
                (0..p)
                    .map(|j| (p1[j] * r0[k] - p0 * r1[k][j]) / self.at_risk[k])
                    .collect()
            })
            .collect();
        let mut psi_run = vec![vec![0f64; p]; ng];
        let mut run = vec![0f64; p];
        for k in (0..ng).rev() {
            let cy = self.censored[k] / self.at_risk[k];
            run.iter_mut().zip(&qy[k]).for_each(|(x, q)| *x -= cy * q);
            psi_run[k] = run.clone();
        }
        let mut out = vec![vec![0f64; p]; self.z.len()];
        for (k, rows) in self.groups.iter().enumerate() {
            for i in rows.clone() {
                let z = &self.z[i];
                let hw = w[i] / self.g[k];
                for j in 0..p {
                    let mut v = -w[i] * (z[j] * a[k] - c[k][j]) + psi_run[k][j];
                    match self.kind[i] {
                        1 => v += z[j] - mu[k][j],
                        2 => v -= hw * (z[j] * b[k] - e[k][j]),
                        _ => v += qy[k][j],
                    }
                    out[i][j] = v;
                }
            }
        }
        out
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Adds `v`, `v z` and `v z zᵀ` to the three sums.
fn accumulate(s0: &mut f64, s1: &mut [f64], s2: &mut [f64], v: f64, z: &[f64]) {
    let p = z.len();
    *s0 += v;
    for a in 0..p {
        s1[a] += v * z[a];
        for b in 0..p {
            s2[a * p + b] += v * z[a] * z[b];
        }
    }
}

/// The Fine–Gray fit in `f64`: Newton–Raphson on standardised covariates with the MPC
/// version's loop ([`super::plain::newton`]), crr's sandwich covariance as `robust_cov`
/// (the inverse information as `cov`), back on the original scale.
pub fn finegray_fit(frame: &PlainFrame, spec: &FinegraySpec) -> Result<CoxFit> {
    let rows = complete_cases(frame, spec)?;
    let n = rows.len();
    let p = rows.first().map_or(0, |r| r.x.len());
    let events = rows.iter().filter(|r| r.code == spec.cause).count() as u64;
    if n < 2 || events == 0 || p == 0 {
        return Err(no_events(spec, n as u64, events));
    }
    let xs: Vec<&[f64]> = rows.iter().map(|r| r.x.as_slice()).collect();
    let (mean, sd) = standardise(&xs, p)?;
    let z: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| (0..p).map(|a| (r.x[a] - mean[a]) / sd[a]).collect())
        .collect();
    let ord = Ordered::new(&rows, z, spec.cause);
    let Newton {
        beta,
        ll,
        ll0,
        info,
        trace,
    } = newton(p, spec.max_steps, |b| ord.derivatives(b))?;
    if (0..p).any(|j| info[j * p + j] / (events as f64) < min_information(24)) {
        return Err(super::cox::monotone_error());
    }
    let singular = || StatsError::NotConverged("information matrix not positive definite".into());
    let inv = spd_inverse(&info, p).ok_or_else(singular)?;
    let unscale =
        |v: &[f64]| -> Vec<f64> { (0..p * p).map(|k| v[k] / (sd[k / p] * sd[k % p])).collect() };
    let robust = sandwich(&ord.influence(&beta), &inv, p);
    Ok(CoxFit {
        coef: (0..p).map(|a| beta[a] / sd[a]).collect(),
        cov: unscale(&inv),
        robust_cov: Some(unscale(&robust)),
        log_likelihood: ll,
        log_likelihood_null: ll0,
        n: n as u64,
        events,
        trace,
        zph: None,
        concordance: None,
    })
}
