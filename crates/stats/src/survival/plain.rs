//! Plaintext twins of the survival analyses: the same definitions in `f64` on a
//! [`PlainFrame`], the oracle of the MPC tests and the baseline of the benchmarks.

use crate::analysis::{CoxSpec, KaplanMeierSpec, LogrankSpec, Ties};
use crate::error::{Result, StatsError};
use crate::table::PlainFrame;
use crate::terms;

use super::cox::{CoxFit, NewtonTrace};
use super::km::{KmRaw, KmRawCell, KmRawEvent};
use super::logrank::LogrankRaw;

/// The outcome columns of a survival analysis: time (with `entry`, the stop time), event
/// and the delayed-entry time if any.
#[derive(Clone, Copy)]
pub(crate) struct Outcome<'a> {
    /// Time column.
    pub time: &'a str,
    /// Event column.
    pub event: &'a str,
    /// Entry column (delayed entry), if any.
    pub entry: Option<&'a str>,
    /// Cluster column of robust standard errors, if any (a complete case needs its value).
    pub cluster: Option<&'a str>,
}

impl<'a> Outcome<'a> {
    /// Time and event, no delayed entry.
    pub fn new(time: &'a str, event: &'a str) -> Outcome<'a> {
        Outcome {
            time,
            event,
            entry: None,
            cluster: None,
        }
    }
}

/// One record of a survival analysis: time, event, and the row's covariates or group.
/// Without delayed entry a record is a row; with it, each row is a stop record (weight +1)
/// and an entry record (time = entry, no event, weight -1), as inside MPC
/// ([`super::risk::EntryRecords`]).
#[derive(Clone)]
struct Obs {
    time: f64,
    /// +1, or -1 on an entry record: what the record adds to its risk sets.
    weight: f64,
    /// The row's entry time (complete cases of an analysis with `entry`).
    entry: Option<f64>,
    /// The row's cluster value (robust standard errors clustered by a column).
    cluster: Option<f64>,
    event: bool,
    x: Vec<f64>,
    group: usize,
    /// The stratum's code (0 without strata).
    stratum: usize,
}

/// The complete cases of `time`, `event`, the covariates (expanded into design columns by
/// [`crate::terms`]) and the group (its code), and of the strata column if any.
fn complete_cases(
    frame: &PlainFrame,
    outcome: Outcome,
    covariates: &[String],
    group: Option<&str>,
    strata: Option<&str>,
) -> Result<(Vec<Obs>, usize)> {
    let t = frame.numeric(outcome.time)?;
    let e = frame.numeric(outcome.event)?;
    let en = outcome.entry.map(|c| frame.numeric(c)).transpose()?;
    let cl = outcome.cluster.map(|c| frame.numeric(c)).transpose()?;
    let levels = match group {
        Some(g) => frame.categorical(g)?.0.len(),
        None => 1,
    };
    let cols = terms::plain_design(frame, covariates)?;
    let mut out = Vec::new();
    for i in 0..frame.rows {
        let (Some(ti), Some(ei)) = (t[i], e[i]) else {
            continue;
        };
        let entry = match en {
            Some(en) => match en[i] {
                Some(v) => Some(v),
                None => continue,
            },
            None => None,
        };
        let cluster = match cl {
            Some(cl) => match cl[i] {
                Some(v) => Some(v),
                None => continue,
            },
            None => None,
        };
        let Some(x) = terms::plain_row(frame, &cols, i)? else {
            continue;
        };
        let g = match group {
            Some(g) => match frame.categorical(g)?.1[i] {
                Some(c) => c,
                None => continue,
            },
            None => 0,
        };
        let stratum = match strata {
            Some(st) => match frame.categorical(st)?.1[i] {
                Some(c) => c,
                None => continue,
            },
            None => 0,
        };
        out.push(Obs {
            time: ti,
            weight: 1.0,
            entry,
            cluster,
            event: ei >= 0.5,
            x,
            group: g,
            stratum,
        });
    }
    Ok((out, levels))
}

/// Number of complete cases of a survival analysis without covariates.
pub(crate) fn complete_count(
    frame: &PlainFrame,
    outcome: Outcome,
    group: Option<&str>,
) -> Result<u64> {
    Ok(complete_cases(frame, outcome, &[], group, None)?.0.len() as u64)
}

/// The records of the complete cases: the rows, and with delayed entry one entry record
/// per row after them (time = entry, no event, weight -1). Refuses `entry < 0` and
/// `entry ≥ time`, as inside MPC.
fn records(mut obs: Vec<Obs>) -> Result<Vec<Obs>> {
    let entries: Vec<Obs> = obs
        .iter()
        .filter_map(|o| {
            o.entry.map(|e| Obs {
                time: e,
                weight: -1.0,
                event: false,
                ..o.clone()
            })
        })
        .collect();
    if obs
        .iter()
        .any(|o| o.entry.is_some_and(|e| e < 0.0 || e >= o.time))
    {
        return Err(super::risk::invalid_entry());
    }
    obs.extend(entries);
    Ok(obs)
}

/// Distinct times in descending order with, per group, (at risk, events) at each.
fn risk_table(obs: &[Obs], levels: usize) -> Vec<(f64, Vec<(f64, f64)>)> {
    let mut sorted: Vec<&Obs> = obs.iter().collect();
    sorted.sort_by(|a, b| b.time.total_cmp(&a.time));
    let mut at_risk = vec![0f64; levels];
    let mut out: Vec<(f64, Vec<(f64, f64)>)> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let t = sorted[i].time;
        let mut d = vec![0f64; levels];
        while i < sorted.len() && sorted[i].time == t {
            at_risk[sorted[i].group] += sorted[i].weight;
            if sorted[i].event {
                d[sorted[i].group] += 1.0;
            }
            i += 1;
        }
        out.push((t, at_risk.iter().zip(&d).map(|(&n, &d)| (n, d)).collect()));
    }
    out.reverse();
    out
}

/// The outcome columns of a Kaplan–Meier analysis.
pub(crate) fn km_outcome(spec: &KaplanMeierSpec) -> Outcome<'_> {
    Outcome {
        time: &spec.time,
        event: &spec.event,
        entry: spec.entry.as_deref(),
        cluster: None,
    }
}

/// The records of a Kaplan–Meier analysis ([`records`]) and the number of group levels.
fn km_records(frame: &PlainFrame, spec: &KaplanMeierSpec) -> Result<(Vec<Obs>, usize)> {
    let (obs, levels) = complete_cases(frame, km_outcome(spec), &[], spec.group.as_deref(), None)?;
    Ok((records(obs)?, levels))
}

/// Kaplan–Meier before disclosure control and rendering: per group and grid time.
pub fn kaplan_meier(frame: &PlainFrame, spec: &KaplanMeierSpec) -> Result<KmRaw> {
    let (obs, levels) = km_records(frame, spec)?;
    let table = risk_table(&obs, levels);
    let mut cells = Vec::new();
    for g in 0..levels {
        let mut row = Vec::new();
        for &tau in &spec.times {
            let (mut s, mut v, mut events) = (1f64, 0f64, 0f64);
            for (t, per) in &table {
                if *t > tau {
                    break;
                }
                let (n, d) = per[g];
                if d > 0.0 {
                    s *= 1.0 - d / n;
                    if n > d {
                        v += d / (n * (n - d));
                    }
                }
                events += d;
            }
            let at_risk: f64 = obs
                .iter()
                .filter(|o| o.group == g && o.time >= tau)
                .map(|o| o.weight)
                .sum();
            row.push(KmRawCell {
                at_risk,
                events,
                survival: s,
                greenwood: v,
            });
        }
        cells.push(row);
    }
    Ok(KmRaw { cells })
}

/// The curve at every event time of each group (before disclosure control); with
/// `spec.censor_marks` also at every time where only censorings happened, each row with its
/// number censored.
pub fn kaplan_meier_events(frame: &PlainFrame, spec: &KaplanMeierSpec) -> Result<Vec<KmRawEvent>> {
    let (obs, levels) = km_records(frame, spec)?;
    let table = risk_table(&obs, levels);
    let mut out = Vec::new();
    for g in 0..levels {
        let (mut s, mut v) = (1f64, 0f64);
        // Censored at a time: the level's stop records there without an event (entry
        // records, weight -1, enter the risk set and are not counted).
        let mut censored_at: Vec<f64> = obs
            .iter()
            .filter(|o| o.group == g && o.weight > 0.0 && !o.event)
            .map(|o| o.time)
            .collect();
        censored_at.sort_by(f64::total_cmp);
        for (t, per) in &table {
            let (n, d) = per[g];
            let censored = (censored_at.partition_point(|c| c < t)
                ..censored_at.partition_point(|c| c <= t))
                .len() as f64;
            if d == 0.0 && !(spec.censor_marks && censored > 0.0) {
                continue;
            }
            s *= 1.0 - d / n;
            if n > d {
                v += d / (n * (n - d));
            }
            out.push(KmRawEvent {
                group: g,
                time: *t,
                at_risk: n,
                events: d,
                censored,
                survival: s,
                greenwood: v,
            });
        }
    }
    Ok(out)
}

/// The k-sample log-rank statistic's ingredients: observed, expected, covariance.
/// With strata, the sums run over every stratum's own risk table.
pub fn logrank(frame: &PlainFrame, spec: &LogrankSpec) -> Result<LogrankRaw> {
    let (obs, k) = complete_cases(
        frame,
        Outcome::new(&spec.time, &spec.event),
        &[],
        Some(&spec.group),
        spec.strata.as_deref(),
    )?;
    let strata = obs.iter().map(|o| o.stratum + 1).max().unwrap_or(0);
    let table: Vec<(f64, Vec<(f64, f64)>)> = (0..strata)
        .flat_map(|st| {
            let within: Vec<Obs> = obs
                .iter()
                .filter(|o| o.stratum == st)
                .map(|o| Obs {
                    x: Vec::new(),
                    ..o.clone()
                })
                .collect();
            risk_table(&within, k)
        })
        .collect();
    let mut o = vec![0f64; k];
    let mut e = vec![0f64; k];
    let mut v = vec![0f64; k * k];
    for (_, per) in &table {
        let n: f64 = per.iter().map(|x| x.0).sum();
        let d: f64 = per.iter().map(|x| x.1).sum();
        if d == 0.0 {
            continue;
        }
        let b = if n > 1.0 { (n - d) / (n - 1.0) } else { 0.0 };
        for a in 0..k {
            o[a] += per[a].1;
            e[a] += d * per[a].0 / n;
            for c in 0..k {
                let delta = f64::from(u8::from(a == c));
                v[a * k + c] += d * b * (per[a].0 / n) * (delta - per[c].0 / n);
            }
        }
    }
    Ok(LogrankRaw {
        observed: o,
        expected: e,
        covariance: v,
        n: obs.len() as u64,
    })
}

/// Complete cases per group of a log-rank test (for its `min_cell` rule on observed and
/// expected events).
pub(crate) fn group_rows(frame: &PlainFrame, spec: &LogrankSpec) -> Result<Vec<u64>> {
    let (obs, k) = complete_cases(
        frame,
        Outcome::new(&spec.time, &spec.event),
        &[],
        Some(&spec.group),
        spec.strata.as_deref(),
    )?;
    let mut rows = vec![0u64; k];
    for o in &obs {
        rows[o.group] += 1;
    }
    Ok(rows)
}

/// The strata rules of a survival analysis's complete cases, as inside MPC: with
/// `min_level_rows`, every stratum needs that many complete cases (a refusal), and every
/// stratum needs one (invalid: a declared level without data). Without strata, nothing.
pub(crate) fn check_strata(
    frame: &PlainFrame,
    outcome: Outcome,
    covariates: &[String],
    group: Option<&str>,
    strata: Option<&str>,
    disclosure: &crate::Disclosure,
) -> Result<()> {
    let Some(st) = strata else {
        return Ok(());
    };
    let levels = frame.categorical(st)?.0.len();
    let (obs, _) = complete_cases(frame, outcome, covariates, group, strata)?;
    let mut rows = vec![0u64; levels];
    for o in &obs {
        rows[o.stratum] += 1;
    }
    let min = disclosure.min_level_rows;
    if min > 0 && rows.iter().any(|&r| r < min) {
        return Err(StatsError::Refused {
            rule: "min_level_rows".into(),
            detail: format!("a level of {st} has fewer than {min} rows"),
        });
    }
    if rows.contains(&0) {
        return Err(StatsError::Invalid(format!(
            "a level of {st} has no complete cases: drop it from the study's levels"
        )));
    }
    Ok(())
}

/// Solves the symmetric positive-definite system `a x = b` (Cholesky), `None` if `a` is
/// not positive definite.
pub(crate) fn spd_solve(a: &[f64], b: &[f64], p: usize) -> Option<Vec<f64>> {
    let mut l = vec![0f64; p * p];
    for i in 0..p {
        for j in 0..=i {
            let s: f64 = a[i * p + j] - (0..j).map(|k| l[i * p + k] * l[j * p + k]).sum::<f64>();
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * p + i] = s.sqrt();
            } else {
                l[i * p + j] = s / l[j * p + j];
            }
        }
    }
    let mut y = vec![0f64; p];
    for i in 0..p {
        y[i] = (b[i] - (0..i).map(|k| l[i * p + k] * y[k]).sum::<f64>()) / l[i * p + i];
    }
    let mut x = vec![0f64; p];
    for i in (0..p).rev() {
        x[i] = (y[i] - (i + 1..p).map(|k| l[k * p + i] * x[k]).sum::<f64>()) / l[i * p + i];
    }
    Some(x)
}

/// Inverse of a symmetric positive-definite matrix.
pub(crate) fn spd_inverse(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let mut inv = vec![0f64; p * p];
    for c in 0..p {
        let e: Vec<f64> = (0..p).map(|r| f64::from(u8::from(r == c))).collect();
        let col = spd_solve(a, &e, p)?;
        for r in 0..p {
            inv[r * p + c] = col[r];
        }
    }
    Some(inv)
}

/// The rows in risk-set order: strata in turn, times descending within each (the risk sums
/// restart per stratum).
fn risk_order(obs: &[Obs]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..obs.len()).collect();
    order.sort_by(|&a, &b| {
        obs[a]
            .stratum
            .cmp(&obs[b].stratum)
            .then(obs[b].time.total_cmp(&obs[a].time))
    });
    order
}

/// One tie group's sums over its event slots (Efron's `k = 0..d`, weights `φ_k = k/d`;
/// Breslow: `φ = 0`), for the score residuals.
struct SlotSums {
    /// `Σ_k 1/D_k`.
    a: f64,
    /// `Σ_k μ_k/D_k`.
    b: Vec<f64>,
    /// `Σ_k φ_k/D_k`: what the group's own events do not carry (Efron's down-weighting).
    a_own: f64,
    /// `Σ_k φ_k μ_k/D_k`.
    b_own: Vec<f64>,
    /// `Σ_k μ_k / d`: the mean an event of the group is compared with.
    mean: Vec<f64>,
}

/// Score residuals (R's `residuals(fit, "score")`) of standardised covariates `z` at `beta`,
/// one row per observation: `s_i = δ_i (z_i - μ̄_g(i)) - w_i Σ_g Σ_k c_ik (z_i - μ_gk)/D_gk`
/// over the tie groups `g` of `i`'s stratum with `t_g ≤ t_i` and their slots `k`, where
/// `c_ik = 1 - φ_k` for `i`'s own events and 1 otherwise (R's `coxscore2`). With rows in
/// risk-set order, the sums over `g` are suffix sums within the stratum.
fn score_residuals(obs: &[Obs], z: &[Vec<f64>], beta: &[f64], ties: Ties) -> Vec<Vec<f64>> {
    let p = beta.len();
    let order = risk_order(obs);
    let key = |r: usize| (obs[r].stratum, obs[r].time);
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for i in 0..order.len() {
        match groups.last_mut() {
            Some(g) if key(order[g.0]) == key(order[i]) => g.1 = i + 1,
            _ => groups.push((i, i + 1)),
        }
    }
    let w: Vec<f64> = z
        .iter()
        .zip(obs)
        .map(|(zr, o)| zr.iter().zip(beta).map(|(a, b)| a * b).sum::<f64>().exp() * o.weight)
        .collect();
    let mut per: Vec<SlotSums> = Vec::with_capacity(groups.len());
    let (mut s0, mut s1) = (0f64, vec![0f64; p]);
    for (gi, &(lo, hi)) in groups.iter().enumerate() {
        if gi > 0 && obs[order[lo]].stratum != obs[order[lo - 1]].stratum {
            (s0, s1) = (0.0, vec![0f64; p]);
        }
        let (mut t0, mut t1, mut d) = (0f64, vec![0f64; p], 0usize);
        for &r in &order[lo..hi] {
            s0 += w[r];
            (0..p).for_each(|a| s1[a] += w[r] * z[r][a]);
            if obs[r].event {
                d += 1;
                t0 += w[r];
                (0..p).for_each(|a| t1[a] += w[r] * z[r][a]);
            }
        }
        let mut g = SlotSums {
            a: 0.0,
            b: vec![0f64; p],
            a_own: 0.0,
            b_own: vec![0f64; p],
            mean: vec![0f64; p],
        };
        for k in 0..d {
            let phi = match ties {
                Ties::Efron => k as f64 / d as f64,
                Ties::Breslow => 0.0,
            };
            let den = s0 - phi * t0;
            g.a += 1.0 / den;
            g.a_own += phi / den;
            for a in 0..p {
                let mu = (s1[a] - phi * t1[a]) / den;
                g.b[a] += mu / den;
                g.b_own[a] += phi * mu / den;
                g.mean[a] += mu / d as f64;
            }
        }
        per.push(g);
    }
    let mut out = vec![vec![0f64; p]; obs.len()];
    let (mut ca, mut cb) = (0f64, vec![0f64; p]);
    for gi in (0..groups.len()).rev() {
        let (lo, hi) = groups[gi];
        if gi + 1 < groups.len() && obs[order[hi]].stratum != obs[order[lo]].stratum {
            (ca, cb) = (0.0, vec![0f64; p]);
        }
        let g = &per[gi];
        ca += g.a;
        (0..p).for_each(|a| cb[a] += g.b[a]);
        for &r in &order[lo..hi] {
            let e = f64::from(u8::from(obs[r].event));
            let aa = ca - e * g.a_own;
            for j in 0..p {
                let bb = cb[j] - e * g.b_own[j];
                out[r][j] = e * (z[r][j] - g.mean[j]) - w[r] * (z[r][j] * aa - bb);
            }
        }
    }
    out
}

/// `a b` for p×p row-major matrices.
fn matmul(a: &[f64], b: &[f64], p: usize) -> Vec<f64> {
    (0..p * p)
        .map(|k| (0..p).map(|l| a[k / p * p + l] * b[l * p + k % p]).sum())
        .collect()
}

/// Lin and Wei's robust covariance `I⁻¹ (Σ_i s_i s_iᵀ) I⁻¹` from the score residuals and
/// the inverse information `inv` (p×p row-major).
pub(crate) fn sandwich(residuals: &[Vec<f64>], inv: &[f64], p: usize) -> Vec<f64> {
    let meat: Vec<f64> = (0..p * p)
        .map(|k| residuals.iter().map(|s| s[k / p] * s[k % p]).sum())
        .collect();
    matmul(&matmul(inv, &meat, p), inv, p)
}

/// Log partial likelihood, score and information of standardised covariates `z` at `beta`.
fn cox_derivatives(
    obs: &[Obs],
    z: &[Vec<f64>],
    beta: &[f64],
    ties: Ties,
) -> (f64, Vec<f64>, Vec<f64>) {
    let p = beta.len();
    let order = risk_order(obs);
    let (mut ll, mut g, mut h) = (0f64, vec![0f64; p], vec![0f64; p * p]);
    let (mut s0, mut s1, mut s2) = (0f64, vec![0f64; p], vec![0f64; p * p]);
    let mut i = 0;
    while i < order.len() {
        let (t, st) = (obs[order[i]].time, obs[order[i]].stratum);
        if i > 0 && obs[order[i - 1]].stratum != st {
            (s0, s1, s2) = (0f64, vec![0f64; p], vec![0f64; p * p]);
        }
        let (mut t0, mut t1, mut t2) = (0f64, vec![0f64; p], vec![0f64; p * p]);
        let mut d = 0usize;
        while i < order.len() && obs[order[i]].time == t && obs[order[i]].stratum == st {
            let r = order[i];
            let zr = &z[r];
            let eta: f64 = zr.iter().zip(beta).map(|(a, b)| a * b).sum();
            let w = eta.exp() * obs[r].weight;
            s0 += w;
            for a in 0..p {
                s1[a] += w * zr[a];
                for b in 0..p {
                    s2[a * p + b] += w * zr[a] * zr[b];
                }
            }
            if obs[r].event {
                d += 1;
                ll += eta;
                t0 += w;
                for a in 0..p {
                    g[a] += zr[a];
                    t1[a] += w * zr[a];
                    for b in 0..p {
                        t2[a * p + b] += w * zr[a] * zr[b];
                    }
                }
            }
            i += 1;
        }
        for k in 0..d {
            let phi = match ties {
                Ties::Efron => k as f64 / d as f64,
                Ties::Breslow => 0.0,
            };
            let den = s0 - phi * t0;
            ll -= den.ln();
            let m: Vec<f64> = (0..p).map(|a| (s1[a] - phi * t1[a]) / den).collect();
            for a in 0..p {
                g[a] -= m[a];
                for b in 0..p {
                    h[a * p + b] += (s2[a * p + b] - phi * t2[a * p + b]) / den - m[a] * m[b];
                }
            }
        }
    }
    (ll, g, h)
}

/// Where Newton–Raphson ended ([`newton`]).
pub(crate) struct Newton {
    /// The estimate (standardised covariates).
    pub beta: Vec<f64>,
    /// The log-likelihood at the estimate.
    pub ll: f64,
    /// The log-likelihood at β = 0.
    pub ll0: f64,
    /// The information at the estimate (p×p row-major).
    pub info: Vec<f64>,
    /// The iterations.
    pub trace: NewtonTrace,
}

/// Newton–Raphson from β = 0 on `derivatives` (log-likelihood, score, information at β),
/// with the MPC version's loop ([`super::cox`]): halve a step after a decrease of the
/// log-likelihood beyond the fixed-point margin, stop on lifelines' rule, then take the
/// step that rule leaves untaken. Shared by Cox and Fine–Gray.
pub(crate) fn newton(
    p: usize,
    max_steps: usize,
    derivatives: impl Fn(&[f64]) -> (f64, Vec<f64>, Vec<f64>),
) -> Result<Newton> {
    let mut beta = vec![0f64; p];
    let (ll0, mut g, mut h) = derivatives(&beta);
    let mut ll = ll0;
    let mut trace = NewtonTrace::default();
    let mut prev: Option<(Vec<f64>, Vec<f64>, f64)> = None;
    let mut step = 1.0;
    let singular = || StatsError::NotConverged("information matrix not positive definite".into());
    loop {
        if let Some((b0, delta, ll_prev)) = &prev {
            let margin = super::cox::HALVING_MARGIN;
            if ll < ll_prev * (1.0 + margin) - margin && step > 1e-3 {
                step /= 2.0;
                trace.halvings += 1;
                beta = b0.iter().zip(delta).map(|(b, d)| b + step * d).collect();
                (ll, g, h) = derivatives(&beta);
                continue;
            }
        }
        let delta = spd_solve(&h, &g, p).ok_or_else(singular)?;
        let norm = delta.iter().map(|d| d * d).sum::<f64>().sqrt();
        let decrement = g.iter().zip(&delta).map(|(a, b)| a * b).sum::<f64>() / 2.0;
        let rel = prev
            .as_ref()
            .is_some_and(|(_, _, lp)| (ll - lp).abs() < super::cox::R_PRECISION * lp.abs());
        let stop = norm < super::cox::PRECISION || rel || decrement < super::cox::PRECISION;
        if stop || trace.iterations >= max_steps {
            trace.converged = stop;
            beta = beta.iter().zip(&delta).map(|(b, d)| b + d).collect();
            (ll, _, h) = derivatives(&beta);
            return Ok(Newton {
                beta,
                ll,
                ll0,
                info: h,
                trace,
            });
        }
        trace.iterations += 1;
        step = 1.0;
        let b0 = beta.clone();
        beta = beta.iter().zip(&delta).map(|(b, d)| b + d).collect();
        prev = Some((b0, delta, ll));
        (ll, g, h) = derivatives(&beta);
    }
}

/// Means and standard deviations (`n - 1`) of the design columns of the complete cases;
/// a column whose variance is below [`super::cox::MIN_VARIANCE`] is refused.
pub(crate) fn standardise(x: &[&[f64]], p: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = x.len();
    let mean: Vec<f64> = (0..p)
        .map(|a| x.iter().map(|o| o[a]).sum::<f64>() / n as f64)
        .collect();
    let sd: Vec<f64> = (0..p)
        .map(|a| (x.iter().map(|o| (o[a] - mean[a]).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt())
        .collect();
    if sd.iter().any(|s| s * s < super::cox::MIN_VARIANCE) {
        return Err(StatsError::Invalid(
            "a covariate has no variation among the complete cases".into(),
        ));
    }
    Ok((mean, sd))
}

/// The outcome columns of a Cox model.
pub(crate) fn cox_outcome(spec: &CoxSpec) -> Outcome<'_> {
    Outcome {
        time: &spec.time,
        event: &spec.event,
        entry: spec.entry.as_deref(),
        cluster: spec.cluster.as_deref(),
    }
}

/// Cox regression by Newton–Raphson with step halving on standardised covariates, with the
/// convergence rule of the MPC version ([`super::cox`]).
pub fn cox(frame: &PlainFrame, spec: &CoxSpec) -> Result<CoxFit> {
    let (rows, _) = complete_cases(
        frame,
        cox_outcome(spec),
        &spec.covariates,
        None,
        spec.strata.as_deref(),
    )?;
    let n = rows.len();
    let p = rows.first().map_or(0, |o| o.x.len());
    if n < 2 || p == 0 {
        return Err(StatsError::Invalid("Cox needs rows and covariates".into()));
    }
    let xs: Vec<&[f64]> = rows.iter().map(|o| o.x.as_slice()).collect();
    let (mean, sd) = standardise(&xs, p)?;
    let obs = records(rows)?;
    let z: Vec<Vec<f64>> = obs
        .iter()
        .map(|o| (0..p).map(|a| (o.x[a] - mean[a]) / sd[a]).collect())
        .collect();
    let Newton {
        beta,
        ll,
        ll0,
        info: h,
        trace,
    } = newton(p, spec.max_steps, |b| {
        cox_derivatives(&obs, &z, b, spec.ties)
    })?;
    // Monotone likelihood, as inside MPC (at the default 24 fractional bits).
    let ne = obs.iter().filter(|o| o.event).count().max(1) as f64;
    if (0..p).any(|j| h[j * p + j] / ne < super::cox::min_information(24)) {
        return Err(super::cox::monotone_error());
    }
    let cov_z = spd_inverse(&h, p).ok_or_else(|| {
        StatsError::NotConverged("information matrix not positive definite".into())
    })?;
    let coef: Vec<f64> = (0..p).map(|a| beta[a] / sd[a]).collect();
    let unscale =
        |v: &[f64]| -> Vec<f64> { (0..p * p).map(|k| v[k] / (sd[k / p] * sd[k % p])).collect() };
    let cov = unscale(&cov_z);
    let robust_cov = (spec.robust || spec.cluster.is_some()).then(|| {
        let mut res = score_residuals(&obs, &z, &beta, spec.ties);
        // Clustered: the residuals of the rows with one value are added.
        if spec.cluster.is_some() {
            let mut sums: Vec<(f64, Vec<f64>)> = Vec::new();
            for (o, r) in obs.iter().zip(&res) {
                let c = o.cluster.unwrap_or(f64::NAN);
                match sums.iter_mut().find(|(v, _)| *v == c) {
                    Some((_, s)) => s.iter_mut().zip(r).for_each(|(a, b)| *a += b),
                    None => sums.push((c, r.clone())),
                }
            }
            res = sums.into_iter().map(|(_, s)| s).collect();
        }
        // Delayed entry: a row's residual is its stop record's plus its entry record's
        // (the entry records follow the rows in the same order, see `records`).
        if res.len() > n {
            let entries = res.split_off(n);
            for (r, e) in res.iter_mut().zip(entries) {
                r.iter_mut().zip(e).for_each(|(a, b)| *a += b);
            }
        }
        unscale(&sandwich(&res, &cov_z, p))
    });
    let events = obs.iter().filter(|o| o.event).count() as u64;
    let zph = match spec.zph {
        Some(transform) => {
            let terms =
                crate::terms::term_widths(&spec.covariates, &crate::terms::plain_levels(frame))?;
            let widths: Vec<usize> = terms.iter().map(|t| t.1).collect();
            let time: Vec<f64> = obs.iter().map(|o| o.time).collect();
            let event: Vec<bool> = obs.iter().map(|o| o.event).collect();
            let stratum: Vec<usize> = obs.iter().map(|o| o.stratum).collect();
            let weight: Vec<f64> = obs.iter().map(|o| o.weight).collect();
            let (chisq, global) = super::zph::zph_plain(
                &time, &event, &stratum, &weight, &z, &beta, spec.ties, transform, &widths,
            )?;
            Some(super::zph::ZphRaw {
                terms,
                chisq,
                global,
            })
        }
        None => None,
    };
    // Harrell's concordance of the linear predictor, on the rows (the stop records, which
    // carry the entry times and cluster values).
    let concordance = spec.concordance.then(|| {
        let rows = &obs[..n];
        let time: Vec<f64> = rows.iter().map(|o| o.time).collect();
        let event: Vec<bool> = rows.iter().map(|o| o.event).collect();
        let stratum: Vec<usize> = rows.iter().map(|o| o.stratum).collect();
        let entry: Option<Vec<f64>> = rows.iter().map(|o| o.entry).collect();
        let cluster: Option<Vec<f64>> = rows.iter().map(|o| o.cluster).collect();
        let eta: Vec<f64> = z[..n]
            .iter()
            .map(|zi| zi.iter().zip(&beta).map(|(a, b)| a * b).sum())
            .collect();
        super::concordance::concordance_plain(&super::concordance::ConcordanceRows {
            time: &time,
            event: &event,
            eta: &eta,
            stratum: &stratum,
            entry: entry.as_deref(),
            cluster: cluster.as_deref(),
        })
    });
    Ok(CoxFit {
        coef,
        cov,
        robust_cov,
        log_likelihood: ll,
        log_likelihood_null: ll0,
        n: n as u64,
        events,
        trace,
        zph,
        concordance,
    })
}
