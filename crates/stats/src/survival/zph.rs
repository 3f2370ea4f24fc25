//! The proportional-hazards test of a Cox model from scaled Schoenfeld residuals, as R's
//! `cox.zph(fit, transform)` (survival ≥ 3): for each term, and for all terms together
//! (`GLOBAL`), the score test at the fitted `β` of adding `g(t)·x` to the model, with `g` a
//! transform of time: `km` (R's default: one minus the left-continuous Kaplan–Meier curve of
//! all complete cases), `rank` (the time's rank among all complete cases, ties averaged),
//! `identity` (the time) or `log` (its logarithm; every event time must be positive).
//! A small p-value says the covariate's effect changes with time.
//!
//! # The statistic
//!
//! With `g` centred on its mean over the events and, per tie group `k` and slot `r`
//! (Efron: `d` slots with `φ_r = r/d`; Breslow: one slot counted `d` times) the usual
//! `D_r = S0 - φ_r T0`, `μ_r = (S1 - φ_r T1)/D_r` and `V_r = (S2 - φ_r T2)/D_r - μ_r μ_rᵀ`:
//! `u = Σ_events g_k (z_i - μ)`, `I11 = Σ V`, `I12 = Σ g_k V`, `I22 = Σ g_k² V`; the test of
//! a term with design columns `J` is `u_Jᵀ S_JJ⁻¹ u_J` with the Schur complement
//! `S = I22 - I12 I11⁻¹ I12`, on `|J|` degrees of freedom (R's `u[kk]' solve(imat[kk, kk])
//! u[kk]` with the model's own score set to 0); the global test uses every column. Both are
//! invariant to shifting and scaling `g` and to the covariates' scale.
//!
//! # Inside MPC
//!
//! After the fit, on the same risk-set order and at the estimate the last derivatives were
//! computed at ([`super::cox`]): `g` on each tie group's end row (the Kaplan–Meier factors'
//! suffix product shifted by one row, or the rank from the prefix count and the group's
//! size), copied to the group's rows; `I12` and `I22` are the information's two sums with
//! the slot weights multiplied by `g` and `g²` (the at-risk sums of `g/D` and `g²/D`, and
//! `Σ g μμᵀ`), `u` two dot products. `S`, its blocks' inverses and the quadratic forms are
//! small matrix products, one reciprocal per one-column term beside one
//! [`Party::spd_inverse`] of the block-diagonal matrix of the other terms' blocks and the
//! whole of `S` (issue 19: one inverse's rounds instead of one per term, one after the
//! other), beside the bit below. `g` itself needs only the risk-set order: it is computed
//! beside the fit's Newton loop ([`centred_transform`]), so its refusal bits are opened
//! even when the fit is refused.
//! One bit is opened: "every diagonal entry of S reaches the information limit" (a test
//! without information, e.g. every event at one time, is refused). The statistics are
//! sealed with the fit; the recipient computes the
//! p-values. Cost: about `1.45 + 0.08·p` kB per row and 230 rounds on top of the fit (with
//! strata, `3.85 + 0.08·p` kB and 620 rounds)
//! ([`crate::cost`]).
//!
//! # Strata
//!
//! With `strata`, R's risk sets lie within a stratum but `g` is computed over all complete
//! cases together (one Kaplan–Meier curve, one ranking). Inside MPC `g` is then computed
//! before the fit's stratified sort, in a sort of the rows by time alone that carries each
//! row's index ([`pooled_transform`]); a sort by that index brings `g` back to the input
//! order, and the stratified sort carries it like the covariates. LEAKAGE: besides the
//! sorts' simulatable comparison bits, the pooled order's scan depth: `ceil(log2 g)` for
//! the largest number `g` of complete cases sharing one time over all strata (as the
//! unstratified model opens it).
//!
//! # Delayed entry
//!
//! With `entry` (R's `cox.zph` of a `Surv(start, stop, event)` fit), the risk sets are the
//! fit's entry-adjusted ones, `km` is the Kaplan–Meier curve of those risk sets and `rank`
//! ranks the stop times of the rows: the entry records subtract from the at-risk counts and
//! are left out of the ranks. With strata too, the pooled order of the strata section holds
//! the `2n` records (each carrying its record index), and `g` comes back to the records'
//! input order, so the stratified sort carries it like the covariates.
//!
//!
//! # The time's own scale
//!
//! `identity` and `log` are the row's own (stop) time or its logarithm, so they need no
//! pooled order, with or without strata. Their scale is the data's (days or years), so
//! inside MPC `g` is divided by its standard deviation over the events (secret; one
//! reciprocal square root) after centring, which leaves the statistics unchanged and keeps
//! `S` near 1 in norm as [`G_SCALE`] does for `km`. `log` refuses a study with an event at
//! time 0 or before (R's `log(0)` is `-Inf`). LEAKAGE: one bit, "every event time is
//! positive" (an error otherwise).

use serde::Serialize;
use tessera_mpc::fixed::encode;
use tessera_mpc::sort::SortOptions;
use tessera_mpc::{AShare, Party, Table};

use crate::analysis::{Ties, ZphTransform};
use crate::disclosure::every_at_least;
use crate::dist::chi2_sf;
use crate::error::{Result, StatsError};

use super::km::suffix_product;
use super::risk::{low64, shifted, EntryRecords, RiskOrder};

/// One row of the test table: a term, or `GLOBAL`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ZphRow {
    /// The term as written (`GLOBAL`: all of them).
    pub term: String,
    /// The score statistic.
    pub chisq: f64,
    /// Its degrees of freedom (the term's design columns).
    pub df: usize,
    /// Its p-value (chi-square).
    pub p: f64,
}

/// The proportional-hazards test of a Cox model (R's `cox.zph(fit)$table`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ZphResult {
    /// The time transform.
    pub transform: ZphTransform,
    /// One row per term, in the model's order.
    pub terms: Vec<ZphRow>,
    /// All terms together.
    pub global: ZphRow,
}

/// The statistics before rendering: per term (name, design columns, statistic), then the
/// global statistic.
#[derive(Clone, Debug, PartialEq)]
pub struct ZphRaw {
    /// Terms as written, with their number of design columns.
    pub terms: Vec<(String, usize)>,
    /// One statistic per term.
    pub chisq: Vec<f64>,
    /// The global statistic.
    pub global: f64,
}

/// The table with degrees of freedom and p-values.
pub(crate) fn render(transform: ZphTransform, raw: &ZphRaw) -> ZphResult {
    let row = |term: &str, chisq: f64, df: usize| ZphRow {
        term: term.to_string(),
        chisq,
        df,
        p: chi2_sf(chisq.max(0.0), df as f64),
    };
    ZphResult {
        transform,
        terms: raw
            .terms
            .iter()
            .zip(&raw.chisq)
            .map(|((t, df), &c)| row(t, c, *df))
            .collect(),
        global: row("GLOBAL", raw.global, raw.terms.iter().map(|(_, w)| w).sum()),
    }
}

/// The refusal when `g` does not vary over the events in a way the test can use (all
/// events at one time, say): the statistics do not exist (R gives NaN or stops).
/// `zph = "log"` with an event at time 0 or before.
fn not_positive() -> StatsError {
    StatsError::Invalid(
        "`zph = \"log\"`: an event time is 0 or negative, where the logarithm is not \
         defined; use `zph = \"km\"` or `\"identity\"`, or times after the origin"
            .into(),
    )
}

pub(crate) fn no_variation() -> StatsError {
    StatsError::Invalid(
        "`zph`: the transformed time does not vary enough over the events to test \
         proportional hazards (e.g. every event at one time); drop `zph`"
            .into(),
    )
}

/// The column ranges of each term, from the terms' widths.
fn blocks(widths: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut at = 0;
    widths
        .iter()
        .map(|&w| {
            at += w;
            at - w..at
        })
        .collect()
}

/// `x[J, J]` of a row-major `m × m` matrix (any element type).
fn block<T: Copy>(x: &[T], m: usize, j: &std::ops::Range<usize>) -> Vec<T> {
    j.clone()
        .flat_map(|r| j.clone().map(move |c| x[r * m + c]))
        .collect()
}

/// The plaintext twin, straight from the definitions: records (standardised covariates `z`,
/// times, events, strata codes, and `weight` +1, or -1 for an entry record that leaves the
/// risk sets) of the complete cases and the fitted `β`; risk sets within a stratum, `g`
/// over all rows. Returns one statistic per term
/// (`widths`: design columns per term) and the global one.
#[allow(clippy::too_many_arguments)]
pub(crate) fn zph_plain(
    time: &[f64],
    event: &[bool],
    stratum: &[usize],
    weight: &[f64],
    z: &[Vec<f64>],
    beta: &[f64],
    ties: Ties,
    transform: ZphTransform,
    widths: &[usize],
) -> Result<(Vec<f64>, f64)> {
    let (n, m) = (time.len(), beta.len());
    if transform == ZphTransform::Log && (0..n).any(|i| event[i] && time[i] <= 0.0) {
        return Err(not_positive());
    }
    let g = transform_plain(time, event, weight, transform);
    let ne = event.iter().filter(|&&e| e).count() as f64;
    let mean = (0..n).filter(|&i| event[i]).map(|i| g[i]).sum::<f64>() / ne;
    let var = (0..n)
        .filter(|&i| event[i])
        .map(|i| (g[i] - mean).powi(2))
        .sum::<f64>()
        / ne;
    if !transform.pooled() && var < MIN_SPREAD {
        return Err(no_variation());
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        stratum[a]
            .cmp(&stratum[b])
            .then(time[b].total_cmp(&time[a]))
    });
    let w: Vec<f64> = z
        .iter()
        .map(|zi| zi.iter().zip(beta).map(|(a, b)| a * b).sum::<f64>().exp())
        .collect();
    let (mut u, mut i11, mut i12, mut i22) = (
        vec![0f64; m],
        vec![0f64; m * m],
        vec![0f64; m * m],
        vec![0f64; m * m],
    );
    let (mut s0, mut s1, mut s2) = (0f64, vec![0f64; m], vec![0f64; m * m]);
    let mut i = 0;
    while i < n {
        let (t, st) = (time[order[i]], stratum[order[i]]);
        if i > 0 && stratum[order[i - 1]] != st {
            (s0, s1, s2) = (0f64, vec![0f64; m], vec![0f64; m * m]);
        }
        let (mut t0, mut t1, mut t2) = (0f64, vec![0f64; m], vec![0f64; m * m]);
        let mut deaths = Vec::new();
        while i < n && time[order[i]] == t && stratum[order[i]] == st {
            let r = order[i];
            let wr = w[r] * weight[r];
            let add = |s0: &mut f64, s1: &mut [f64], s2: &mut [f64]| {
                *s0 += wr;
                for a in 0..m {
                    s1[a] += wr * z[r][a];
                    for b in 0..m {
                        s2[a * m + b] += wr * z[r][a] * z[r][b];
                    }
                }
            };
            add(&mut s0, &mut s1, &mut s2);
            if event[r] {
                add(&mut t0, &mut t1, &mut t2);
                deaths.push(r);
            }
            i += 1;
        }
        let d = deaths.len();
        for (k, &r) in deaths.iter().enumerate() {
            let gk = g[r] - mean;
            let phi = match ties {
                Ties::Efron => k as f64 / d as f64,
                Ties::Breslow => 0.0,
            };
            let den = s0 - phi * t0;
            let mu: Vec<f64> = (0..m).map(|a| (s1[a] - phi * t1[a]) / den).collect();
            for a in 0..m {
                u[a] += gk * (z[r][a] - mu[a]);
                for b in 0..m {
                    let v = (s2[a * m + b] - phi * t2[a * m + b]) / den - mu[a] * mu[b];
                    i11[a * m + b] += v;
                    i12[a * m + b] += gk * v;
                    i22[a * m + b] += gk * gk * v;
                }
            }
        }
    }
    let singular = || StatsError::NotConverged("zph: information not positive definite".into());
    let inv = super::plain::spd_inverse(&i11, m).ok_or_else(singular)?;
    let prod = |a: &[f64], b: &[f64]| -> Vec<f64> {
        (0..m * m)
            .map(|k| (0..m).map(|j| a[(k / m) * m + j] * b[j * m + k % m]).sum())
            .collect()
    };
    let corr = prod(&i12, &prod(&inv, &i12));
    let s: Vec<f64> = i22.iter().zip(&corr).map(|(a, b)| a - b).collect();
    // As inside MPC: the Schur complement's diagonal on its scale there (g times G_SCALE, a
    // rank also over the rows; divided by the events) against the same limit.
    let rows = weight.iter().filter(|&&w| w > 0.0).count() as f64;
    let g_unit = match transform {
        ZphTransform::Km => G_SCALE,
        ZphTransform::Rank => G_SCALE / rows,
        ZphTransform::Identity | ZphTransform::Log => 1.0 / var.sqrt(),
    };
    if (0..m).any(|j| s[j * m + j] * g_unit * g_unit / ne < super::cox::min_information(24)) {
        return Err(no_variation());
    }
    let quad = |j: &std::ops::Range<usize>| -> Result<f64> {
        let uj = &u[j.clone()];
        let x = super::plain::spd_solve(&block(&s, m, j), uj, j.len()).ok_or_else(singular)?;
        Ok(uj.iter().zip(&x).map(|(a, b)| a * b).sum())
    };
    let tests = blocks(widths).iter().map(quad).collect::<Result<_>>()?;
    Ok((tests, quad(&(0..m))?))
}

/// `g(t)` per record: one minus the left-continuous Kaplan–Meier curve of all records
/// (`km`: at risk the signed count of records at or after `t`), or the rank of the time
/// among all stop records (weight +1) with ties averaged (`rank`).
fn transform_plain(
    time: &[f64],
    event: &[bool],
    weight: &[f64],
    transform: ZphTransform,
) -> Vec<f64> {
    match transform {
        ZphTransform::Identity => return time.to_vec(),
        ZphTransform::Log => return time.iter().map(|t| t.ln()).collect(),
        ZphTransform::Km | ZphTransform::Rank => {}
    }
    let n = time.len();
    let mut asc: Vec<usize> = (0..n).collect();
    asc.sort_by(|&a, &b| time[a].total_cmp(&time[b]));
    let mut g = vec![0f64; n];
    let mut at_risk: f64 = weight.iter().sum();
    let (mut i, mut surv, mut below) = (0, 1f64, 0f64);
    while i < n {
        let t = time[asc[i]];
        let j = i + asc[i..].iter().take_while(|&&r| time[r] == t).count();
        let group = &asc[i..j];
        let deaths = group.iter().filter(|&&r| event[r]).count() as f64;
        let stops = group.iter().filter(|&&r| weight[r] > 0.0).count() as f64;
        for &r in group {
            g[r] = match transform {
                ZphTransform::Rank => below + (stops + 1.0) / 2.0,
                _ => 1.0 - surv,
            };
        }
        if deaths > 0.0 {
            surv *= 1.0 - deaths / at_risk;
        }
        at_risk -= group.iter().map(|&r| weight[r]).sum::<f64>();
        below += stops;
        i = j;
    }
    g
}

/// What the MPC test needs of the fit: the risk-set order and the per-row pieces of the last
/// derivatives (see [`super::cox`]'s `Derivatives`), all in risk-set order.
pub(crate) struct FitPieces<'a> {
    /// Events (integers), in risk-set order.
    pub delta: &'a AShare<u128>,
    /// Standardised covariates as `m` columns and row-major `n × m`.
    pub z_cols: &'a [AShare<u128>],
    pub z_rows: &'a AShare<u128>,
    /// Weights `2^E·e^η`.
    pub w: &'a AShare<u128>,
    /// Per slot `μ` and `mult·μ` (`m` columns concatenated), `mult·2^K/D`.
    pub mu: &'a AShare<u128>,
    pub m_mu: &'a AShare<u128>,
    pub mr: &'a AShare<u128>,
    /// `(I/e)⁻¹` at the fit's last derivatives.
    pub inv: &'a AShare<u128>,
    /// Events (public).
    pub events: u64,
    /// The extra bits `K` of `mr`.
    pub k_bits: u32,
    /// The transform `g` of time, centred over the events ([`centred_transform`]), and
    /// `g²` (fixed point).
    pub g: &'a AShare<u128>,
    pub g2: &'a AShare<u128>,
}

/// What the transform `g` of time needs: the fit's risk-set order and what is read off it,
/// none of it the fit's (so `g` is computed beside the Newton loop, issue 19).
pub(crate) struct TimePieces<'a> {
    /// The risk-set order.
    pub risk: &'a RiskOrder,
    /// Complete-case indicator (signed: -1 on entry records) and events (integers).
    pub used: &'a AShare<u128>,
    pub delta: &'a AShare<u128>,
    /// The complete-case indicator on stop records only (`used` without delayed entry).
    pub stop_used: &'a AShare<u128>,
    /// The events of each tie group on its end row, as the fit computed them.
    pub deaths: Option<&'a AShare<u128>>,
    /// Complete cases and events (public).
    pub n_used: u64,
    pub events: u64,
    /// With strata: `g` computed over all rows ([`pooled_transform`]), in risk-set order.
    pub pooled_g: Option<&'a AShare<u128>>,
}

/// The transform `g` in risk-set order, centred on its mean over the events (and, for the
/// time's own scale, divided by its spread: [`unit_spread`]). Opens the bits the module
/// docs name for `log` and the time's own scale (refusals).
pub(crate) fn centred_transform(
    p: &mut Party,
    t: &TimePieces<'_>,
    transform: ZphTransform,
) -> Result<AShare<u128>> {
    let n = t.delta.len();
    let g = match t.pooled_g {
        Some(g) => g.clone(),
        None => transform_in(
            p,
            t.risk,
            (t.used, t.stop_used),
            (t.delta, t.deaths),
            t.n_used,
            transform,
        )?,
    };
    // Centre on the mean over the events.
    let sum = p.dot(t.delta, &g, n)?;
    let mean = p.mul_public_real(&sum, 1.0 / t.events as f64)?;
    let g = g.sub(&AShare {
        a: vec![mean.a[0]; n],
        b: vec![mean.b[0]; n],
    });
    if transform.pooled() {
        Ok(g)
    } else {
        unit_spread(p, &g, t.delta, t.events)
    }
}

/// The fit's at-risk summation of slot values (Efron's or Breslow's weights).
pub(crate) type AtRiskSums<'a> =
    dyn Fn(&mut Party, &[AShare<u128>]) -> Result<Vec<AShare<u128>>> + 'a;

/// `g` is scaled by this public constant inside MPC (the statistics do not change): it
/// keeps the Schur complement near 1 in norm, where [`Party::spd_inverse`] is most precise.
const G_SCALE: f64 = 4.0;

/// The statistics inside MPC (one per term, then the global one), shared; see the module
/// docs. `at_risk_sums` is the fit's own at-risk summation of slot values (Efron's or
/// Breslow's), so that the weights of `I12` and `I22` are exactly those of the information.
pub(crate) fn zph_mpc(
    p: &mut Party,
    fit: &FitPieces<'_>,
    at_risk_sums: &AtRiskSums<'_>,
    widths: &[usize],
) -> Result<AShare<u128>> {
    let f = p.frac_bits();
    let n = fit.w.len();
    let m = fit.z_cols.len();
    let k = fit.k_bits;
    let g = fit.g.clone();
    let tile = |x: &AShare<u128>, c: usize| -> AShare<u128> {
        AShare::concat(&std::iter::repeat_n(x, c).collect::<Vec<_>>())
    };
    let join = |xs: &[AShare<u128>]| AShare::concat(&xs.iter().collect::<Vec<_>>());
    // u = Σ δ g z - Σ_slots mult·g·μ (m values).
    let dg = p.mul(fit.delta, &g)?;
    let z_all = join(fit.z_cols);
    let both = p.dot_fix(
        &AShare::concat(&[&tile(&dg, m), &tile(&g, m)]),
        &AShare::concat(&[&z_all, fit.m_mu]),
        n,
    )?;
    let u = both.slice(0..m).sub(&both.slice(m..2 * m));
    // I12, I22: the information's sums with slot weights times g and g².
    let mrg = p
        .mul_fix(&tile(fit.mr, 2), &AShare::concat(&[&g, fit.g2]))?
        .split(&[n, n]);
    let a = at_risk_sums(p, &mrg)?;
    let wa = p.mul_trunc(&tile(fit.w, 2), &join(&a), f + k)?;
    // Zᵀ diag(w·a_g) Z and Zᵀ diag(w·a_g²) Z.
    let (wag, wag2) = (wa.slice(0..n), wa.slice(n..2 * n));
    let wz = p.mul_fix(
        &AShare::concat(&[&tile(&wag, m), &tile(&wag2, m)]),
        &tile(&z_all, 2),
    )?;
    // Both weighted designs as one 2m × n matrix: one product for the two sums.
    let first = p.matmul_fix(&wz, fit.z_rows, 2 * m, n, m)?;
    let gmu = p.mul_fix(
        &AShare::concat(&[&tile(&g, m), &tile(fit.g2, m)]),
        &tile(fit.m_mu, 2),
    )?;
    let mu_rows = super::logrank::columns_to_rows(&fit.mu.split(&vec![n; m]));
    let mm = p.matmul_fix(&gmu, &mu_rows, 2 * m, n, m)?;
    let inv_e = 1.0 / fit.events as f64;
    let i = p.mul_public_real(&first.sub(&mm), inv_e)?;
    let (i12, i22) = (i.slice(0..m * m), i.slice(m * m..2 * m * m));
    // S/e = I22/e - (I12/e)(I/e)⁻¹(I12/e); the statistics are (u/√e)ᵀ (S/e)⁻¹ (u/√e).
    let left = p.matmul_fix(&i12, fit.inv, m, m, m)?;
    let s = i22.sub(&p.matmul_fix(&left, &i12, m, m, m)?);
    // v·2^(STAT_BITS/2), so that the statistics come out as 2^STAT_BITS·χ²: a small
    // statistic keeps its relative precision (at 2^-24 a χ² of 0.0008 had 7.5e-5 per unit).
    let v = p.mul_public_real(&u, inv_e.sqrt())?.shl(STAT_BITS / 2);
    // Without information in S (g constant over the events, e.g. all events at one time)
    // its reciprocal and inverse would be noise: refused instead. LEAKAGE: the one bit
    // "every diagonal entry of S/e reaches min_information" (an error otherwise). The test
    // runs beside the statistics (issue 19), which are thrown away on a refusal.
    let diag: Vec<usize> = (0..m).map(|j| j * m + j).collect();
    let limit = encode::<u128>(super::cox::min_information(f), f);
    let s_diag = pick(&s, &diag);
    let (enough, tests) = p.side_by_side(
        |q| every_at_least(q, &s_diag, limit),
        |q| statistics(q, &s, &v, widths),
    )?;
    if !enough {
        return Err(no_variation());
    }
    Ok(tests)
}

/// The values at `idx` of a sharing.
fn pick(x: &AShare<u128>, idx: &[usize]) -> AShare<u128> {
    AShare {
        a: idx.iter().map(|&i| x.a[i]).collect(),
        b: idx.iter().map(|&i| x.b[i]).collect(),
    }
}

/// The statistics `v_Jᵀ S_JJ⁻¹ v_J` of every term `J` (`widths`: design columns per term)
/// and the global one (all `m` columns), from the `m × m` matrix `S` and `v`, concatenated.
/// One-column terms by one reciprocal, beside one inverse of the block-diagonal matrix of
/// the other terms' blocks and the whole of `S` (issue 19: the rounds of one inverse for
/// all of them; its principal blocks' eigenvalues lie within `S`'s, so the condition
/// number is `S`'s). Opens nothing.
fn statistics(
    p: &mut Party,
    s: &AShare<u128>,
    v: &AShare<u128>,
    widths: &[usize],
) -> Result<AShare<u128>> {
    let f = p.frac_bits();
    let m = v.len();
    let ranges = blocks(widths);
    let single: Vec<usize> = (0..ranges.len()).filter(|&t| widths[t] == 1).collect();
    let mut wide: Vec<std::ops::Range<usize>> = (0..ranges.len())
        .filter(|&t| widths[t] > 1)
        .map(|t| ranges[t].clone())
        .collect();
    wide.push(0..m);
    let (singles, quads) = p.side_by_side(
        |q| -> Result<AShare<u128>> {
            // One-column terms: v_j² · (1/S_jj), all together.
            if single.is_empty() {
                return Ok(AShare::zeros(0));
            }
            let cols: Vec<usize> = single.iter().map(|&t| ranges[t].start).collect();
            let diag: Vec<usize> = cols.iter().map(|&c| c * m + c).collect();
            let r = q.recip_pow2(&pick(s, &diag), K_RECIP)?;
            let vj = pick(v, &cols);
            let v2 = q.mul_fix(&vj, &vj)?;
            Ok(q.mul_trunc(&v2, &r, f + K_RECIP)?)
        },
        |q| quadratic_forms(q, s, v, &wide),
    )?;
    let mut tests = vec![AShare::zeros(1); ranges.len()];
    for (i, &term) in single.iter().enumerate() {
        tests[term] = singles.slice(i..i + 1);
    }
    let mut wide_tests = quads.into_iter();
    for t in (0..ranges.len()).filter(|&t| widths[t] > 1) {
        tests[t] = wide_tests.next().expect("one per wide term");
    }
    tests.push(wide_tests.next().expect("the global test"));
    Ok(AShare::concat(&tests.iter().collect::<Vec<_>>()))
}

/// `v_Jᵀ S_JJ⁻¹ v_J` for each index range `J` (`S` m × m): one [`Party::spd_inverse`] of
/// the block-diagonal matrix of the blocks `S_JJ` (zero elsewhere), one product with the
/// stacked `v_J` and the block sums of `v_J ∘ (S_JJ⁻¹ v_J)`. Opens nothing.
fn quadratic_forms(
    p: &mut Party,
    s: &AShare<u128>,
    v: &AShare<u128>,
    ranges: &[std::ops::Range<usize>],
) -> Result<Vec<AShare<u128>>> {
    let m = v.len();
    // Each position of the stacked blocks: its column of S and its block.
    let cols: Vec<usize> = ranges.iter().flat_map(|j| j.clone()).collect();
    let owner: Vec<usize> = ranges
        .iter()
        .enumerate()
        .flat_map(|(b, j)| std::iter::repeat_n(b, j.len()))
        .collect();
    let size = cols.len();
    let entry = |x: &[u128], r: usize, c: usize| -> u128 {
        if owner[r] == owner[c] {
            x[cols[r] * m + cols[c]]
        } else {
            0
        }
    };
    let all = |x: &[u128]| -> Vec<u128> {
        (0..size * size)
            .map(|k| entry(x, k / size, k % size))
            .collect()
    };
    let big = AShare {
        a: all(&s.a),
        b: all(&s.b),
    };
    let vs = pick(v, &cols);
    let inv = p.spd_inverse(&big, size)?;
    let iv = p.matmul_fix(&inv, &vs, size, size, 1)?;
    let terms = p.mul_fix(&vs, &iv)?;
    Ok(ranges
        .iter()
        .scan(0, |at, j| {
            let part = terms.slice(*at..*at + j.len()).sum();
            *at += j.len();
            Some(part)
        })
        .collect())
}

/// The least variance over the events of the time or its logarithm that `identity` and
/// `log` test (2^-16: a standard deviation of 1/256 of the time unit, where the centred
/// values still have 16 bits of relative precision).
const MIN_SPREAD: f64 = 1.0 / 65536.0;

/// `g` (centred over the events) divided by its standard deviation over the events: the
/// time's own scale (`identity`, `log`) brought to where `km`'s `g` is (see the module docs).
fn unit_spread(
    p: &mut Party,
    g: &AShare<u128>,
    delta: &AShare<u128>,
    events: u64,
) -> Result<AShare<u128>> {
    let n = g.len();
    let dg = p.mul(delta, g)?;
    let ss = p.dot_fix(&dg, g, n)?;
    let var = p.mul_public_real(&ss, 1.0 / events as f64)?;
    // Without spread (every event at one time) the scale would be noise: refused as for
    // the other transforms. LEAKAGE: one bit, "the variance reaches MIN_SPREAD".
    if !every_at_least(p, &var, encode(MIN_SPREAD, p.frac_bits()))? {
        return Err(no_variation());
    }
    let r = p.rsqrt(&var)?;
    Ok(p.mul_fix(
        g,
        &AShare {
            a: vec![r.a[0]; n],
            b: vec![r.b[0]; n],
        },
    )?)
}

/// `g` on every row of a risk-set order (scaled by [`G_SCALE`], not centred): one minus the
/// left-continuous Kaplan–Meier curve of the order's complete cases, or their time's rank.
/// `used` counts a record in the risk sets (signed: -1 on an entry record), `stop` marks
/// the complete cases' stop records (the ranked times).
fn transform_in(
    p: &mut Party,
    risk: &RiskOrder,
    (used, stop): (&AShare<u128>, &AShare<u128>),
    (delta, deaths): (&AShare<u128>, Option<&AShare<u128>>),
    n_used: u64,
    transform: ZphTransform,
) -> Result<AShare<u128>> {
    let f = p.frac_bits();
    let n = used.len();
    match transform {
        ZphTransform::Identity => return Ok(risk.time.clone()),
        ZphTransform::Log => {
            // Rows at time 0 (entries at the origin, censored at 0) get time 1, so that
            // every row's logarithm is defined and equal within a tie group; an event at
            // time 0 or before is refused. LEAKAGE: one bit, "no event time is 0 or
            // negative" (see the module docs).
            let ulp = p.public(&vec![1u128; n]);
            let zero = p.lt_arith(&risk.time, &ulp)?;
            let x = risk.time.add(&zero.mul_const(encode(1.0, f)));
            let bad = p.dot(delta, &zero, n)?;
            if !every_at_least(p, &bad.neg(), 0)? {
                return Err(not_positive());
            }
            return Ok(p.ln(&x)?);
        }
        ZphTransform::Km | ZphTransform::Rank => {}
    }
    // g on the group-end rows, then on every row of the group.
    let prefix = risk.within_prefix(p, std::slice::from_ref(used))?.remove(0);
    let g_end = match transform {
        ZphTransform::Km => {
            let deaths = match deaths {
                Some(d) => d.clone(),
                None => risk.group_totals(p, std::slice::from_ref(delta))?.remove(0),
            };
            // 2^G/N keeps the factors of large risk sets precise (N = 0 only where D = 0).
            const G: u32 = 20;
            let r = p.recip_pow2(&prefix.shl(f), G)?;
            let q = p.mul(&deaths, &r)?;
            let q = p.trunc(&q, G)?;
            let factor = p.add_const(&q.neg(), encode(1.0, f));
            let surv = suffix_product(p, &factor, 1)?;
            // S(t-) on a group's end row: the product over the earlier groups (the rows
            // after it), 1 after the last row.
            let mut one_at_end = vec![0u128; n];
            one_at_end[n - 1] = encode(1.0, f);
            let left = shifted(&surv, 1).add(&p.public(&one_at_end));
            let g = p.add_const(&left.neg(), encode(1.0, f));
            p.mul_public_real(&g, G_SCALE)?
        }
        _ => {
            // (rows with a shorter time) + (group size + 1)/2, over the complete cases' stop
            // records.
            let prefix = if std::ptr::eq(used, stop) {
                prefix
            } else {
                risk.within_prefix(p, std::slice::from_ref(stop))?.remove(0)
            };
            let size = risk.group_totals(p, std::slice::from_ref(stop))?.remove(0);
            let below = p.add_const(&prefix.neg(), u128::from(n_used));
            let twice = below.shl(1).add(&size);
            let rank = p.add_const(&twice.shl(f - 1), 1u128 << (f - 1));
            p.mul_public_real(&rank, G_SCALE / n_used as f64)?
        }
    };
    Ok(risk.broadcast(p, &[g_end])?.remove(0))
}

/// With strata: `g` over all complete cases (R's one curve and one ranking), in the input
/// order of the records (the rows; with delayed entry, the stop records then the entry
/// records): computed in an unstratified risk-set order of the records that carries each
/// record's index, then brought back by a sort on that index (see the module docs for what
/// this opens). `used` and `delta` are the rows' integers in input order.
pub(crate) fn pooled_transform(
    p: &mut Party,
    records: &EntryRecords,
    time: &AShare<u128>,
    (used, delta): (&AShare<u128>, &AShare<u128>),
    n_used: u64,
    transform: ZphTransform,
) -> Result<AShare<u128>> {
    let time = records.time(time);
    let n = time.len();
    let idx = p.public(&(0..n as u128).collect::<Vec<_>>());
    let mut cols = vec![records.signed(used), records.stop_only(delta), idx];
    // With delayed entry the ranks are the stop records' only.
    let entry = n > used.len();
    if entry {
        cols.push(records.stop_only(used));
    }
    let risk = RiskOrder::stratified(p, &time, &[], &cols)?;
    let (u, d, i) = (&risk.cols[0], &risk.cols[1], &risk.cols[2]);
    let stop = if entry { &risk.cols[3] } else { u };
    let g = transform_in(p, &risk, (u, stop), (d, None), n_used, transform)?;
    let perm = p.sort_perm(&low64(i), SortOptions::default())?;
    let back = p.apply_sort(&perm, &Table::new(vec![], vec![g])?)?;
    Ok(back.c128.into_iter().next().expect("one column"))
}

/// Extra bits of the sealed statistics (`2^STAT_BITS·χ²`).
pub(crate) const STAT_BITS: u32 = 8;

/// Extra bits of the one-column terms' reciprocals `2^K/S_jj`.
const K_RECIP: u32 = 12;
