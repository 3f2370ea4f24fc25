//! Restricted mean survival time (RMST) up to a public time `τ`, per group, with R
//! `survival`'s standard error, a confidence interval and the difference of each group from
//! the first.
//!
//! # The estimator and its variance
//!
//! Within a group, with the Kaplan–Meier curve `S` (a right-continuous step function,
//! `S = 1` before the first event), distinct times `t_1 < t_2 < …`, `n_i` at risk and `d_i`
//! events at `t_i`:
//!
//! ```text
//! RMST(τ) = ∫₀^τ S(t) dt = Σ_{t_i ≤ τ} S(t_{i-1}) (t_i - t_{i-1}) + S(t_m) (τ - t_m)
//! ```
//!
//! (`t_0 = 0`, `S(t_0) = 1`, `t_m` the last time `≤ τ`). The variance is the one R's
//! `survfit` prints (`print(fit, rmean = τ)`, `summary(fit, rmean = τ)$table[, "se(rmean)"]`;
//! `survmean` in the survival package's `R/print.survfit.R`, after Miller 1981, pp. 195–196),
//! and the one survRM2's `rmst2` uses per arm:
//!
//! ```text
//! Var = Σ_{t_i ≤ τ} A_i² d_i / (n_i (n_i - d_i)),    A_i = ∫_{t_i}^τ S(t) dt
//! ```
//!
//! (a term with `n_i = d_i` is zero, as in R). The standard error is `√Var`, the interval
//! `RMST ± z·se` (survRM2's; R's survfit gives none) with `z` the normal quantile of
//! `conf_level`. With two or more groups, each group's difference from the first level is
//! `RMST_g - RMST_0` with standard error `√(Var_g + Var_0)` (survRM2's unadjusted
//! difference), its interval and two-sided normal p-value: computed by the recipient from
//! the two groups' sealed values, given only where both groups are shown.
//!
//! Times are assumed non-negative (as for Kaplan–Meier; R starts the integral at
//! `min(0, t)`). A `τ` before the first time gives `RMST = τ`, `se = 0` (R's `print` refuses
//! such a `τ`, `survmean` itself gives the same); a `τ` past the last time extends the last
//! value of the curve to `τ`, as R does.
//!
//! # Protocol
//!
//! Rows are put in risk-set order ([`super::risk::GroupedRisk`]: sorted by time, latest
//! first), and per group level `c` the Kaplan–Meier factors `1 - D_c/N_c` and Greenwood terms
//! `2^G D_c/(N_c (N_c - D_c))` are formed on tie-group ends and the factors' suffix products
//! taken, exactly as in [`super::km`]: at every row `i` the suffix product is `S_c(t_i)`.
//! Then, in rows `i = 0, 1, …` (times descending):
//! - one comparison per row with the public `τ` gives `lt_i = [t_i < τ]` (and, in the same
//!   batch, `le_i = [t_i ≤ τ]` for the event count); the capped time is
//!   `u_i = min(t_i, τ) = τ (1 - lt_i) + t_i lt_i` (an integer-by-value product, exact);
//! - the widths `w_i = u_{i-1} - u_i` (with `u_{-1} = τ`) are local. The curve is constant
//!   on `[t_i, t_{i-1})` (no time lies strictly between), equal to `S_c(t_i)` there, so row
//!   `i` holds the area `a_i = S_c(t_i) w_i` of the curve over `[u_i, u_{i-1})`: zero for
//!   rows past `τ` (both ends capped) and inside a tie group (width zero). One product per
//!   row and group, kept at `2f` fractional bits;
//! - the prefix sums `A_c[i] = Σ_{j ≤ i} a_j = ∫_{u_i}^τ S_c` are local (exact, then one
//!   truncation to `f` bits). On the end row of the tie group of `t_i ≤ τ` this is R's
//!   `A_i`; for `t_i ≥ τ` it is zero, so no term past `τ` needs cutting;
//! - `RMST_c = A_c[n - 1] + u_{n-1}` (the last row's prefix sum plus the stretch `[0, u_{n-1})`
//!   where `S = 1`), local;
//! - `2^G Var_c = Σ_i A_c[i]² · 2^G g_c[i]`: one product `A²` (kept at `f - 4` bits), one dot
//!   product per group, one truncation;
//! - the events `≤ τ` per group are dot products of `le` with the group's event indicators;
//!   the rows per group are local sums.
//!
//! A group is shown only with at least `min_cell` rows (complete cases) and at least
//! `min_events` events at or before `τ`: both comparisons inside MPC, and one pass/fail bit
//! per group opened. A suppressed group's values are sealed as zero.
//!
//! # Precision
//!
//! Measured by `tests/rmst.rs` (default 24 fractional bits; truncation is probabilistic, so
//! the figures move a little between runs; worst of four runs): against R survival 3.5.3
//! on the committed fixtures (lung overall and by sex, rossi by `fin`, the 1,800-row
//! synthetic registry by treatment and by stage; `τ` from 26 weeks to 1,825 days, some past
//! the last time; 14 analyses, 29 groups, 15 differences) the RMST within 4.4e-7·τ
//! absolute (the issue's tolerance, 1e-4 absolute, is read relative to `τ` since the
//! estimate is a time: at most 8e-4 days at τ = 1,825) and the standard error within
//! 6.8e-7 relative (1e-3 asked); the plaintext twin matches R to 2.9e-15·τ and 4.3e-15.
//! Against the twin on random data (25–175 rows, 1–3 groups, heavy ties, a third censored,
//! integer and quarter times; `τ` before the first time, at a time, between times, past the
//! last time): within 1.0e-7·τ and 2.4e-7; on 20,000 rows (3 groups, 2,400 distinct daily
//! times, `τ` = 365 and 1,825; under a second in memory): 8.8e-7·τ and 1.7e-6. The error is
//! the fixed-point survival's (about one unit of 2^-24 per level of the suffix product's
//! scan, `ceil(log2 n)` levels), integrated over `[0, τ]`; the areas, their prefix sums and
//! the variance's dot product add a few units of 2^-24 at most.
//!
//! Valid range: `τ` below `2^((87 - 2f)/2)` (7.4·10^5 at `f` = 24: `A²` must stay within the
//! fixed point's product range; refused otherwise, [`tau_limit`]), fewer than 2^19 complete
//! cases, times non-negative and within the range Kaplan–Meier's comparisons need.
//!
//! # What the compute parties learn
//!
//! The number of complete cases (`min_rows` is checked on it); with a group column, one bit
//! "every level has a complete case" and, with `min_level_rows`, one bit "every level has
//! enough" (both as Kaplan–Meier); the coarse tie bound of [`super::risk::RiskOrder`]; and
//! one bit per group: shown or suppressed (`min_cell` rows and `min_events` events `≤ τ`).
//! Nothing else: the estimates, variances and counts stay shared until sealed.
//!
//! # What the recipients get
//!
//! Sealed ([`crate::sealed`]), for shown groups: the number of complete cases of the group,
//! its events at or before `τ`, the RMST and `2^G Var` (the named results: the standard
//! error is `√Var`; the interval and the differences are computed from them at the
//! recipient). [`RmstPublic`]'s [`Tail`] decodes them.

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::{decode, encode};
use tessera_mpc::{AShare, Party};

use crate::disclosure::{at_least, Disclosure};
use crate::dist::{normal_quantile, normal_two_sided};
use crate::error::{Result, StatsError};
use crate::sealed::{Sealed, Tail};
use crate::table::{Frame, PlainFrame};

use super::km::{suffix_product, DEFAULT_MIN_CELL};
use super::risk::{low64, shifted, GroupedRisk};

/// Extra bits of the Greenwood terms and the variance (opened as `2^G·Var`).
const GREENWOOD_BITS: u32 = 20;

/// Fractional bits dropped from `A²` below `f` (keeps the variance's dot product far inside
/// the ring: `|A²·g|·2^(2f+G-4)` below 2^88 for any variance below 2^20).
const SQUARE_DROP: u32 = 4;

fn conf_level() -> f64 {
    0.95
}

/// Restricted mean survival time up to `tau` (`kind = "rmst"` once wired into the study
/// format), per group, as R's `survfit` prints it with `rmean = tau`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RmstSpec {
    /// Duration column (`party.column`, numeric, ≥ 0).
    pub time: String,
    /// Event indicator column (numeric, 1 = event, 0 = censored).
    pub event: String,
    /// Categorical column whose levels are the groups; none: everybody together.
    #[serde(default)]
    pub group: Option<String>,
    /// The truncation time `τ` (> 0, in the time column's unit).
    pub tau: f64,
    /// Confidence level of the intervals.
    #[serde(default = "conf_level")]
    pub conf_level: f64,
}

/// The largest `τ` with `f` fractional bits: `2^((87-2f)/2)` (the square of an area up to `τ`
/// must stay below the product limit 2^(87-2f), see [`tessera_mpc::fixed`]).
pub fn tau_limit(f: u32) -> f64 {
    crate::ranges::square_limit(f)
}

/// What an RMST analysis is refused for before any data is read: a `τ` that is not finite
/// and positive, a confidence level outside (0, 1). The computations call it first (the MPC
/// one also checks `τ` against [`tau_limit`] of its fixed point).
pub fn check(spec: &RmstSpec, _disclosure: &Disclosure) -> Result<()> {
    if !(spec.tau.is_finite() && spec.tau > 0.0) {
        return Err(StatsError::Invalid(format!(
            "`tau` must be a positive number (got {})",
            spec.tau
        )));
    }
    if !(spec.conf_level > 0.0 && spec.conf_level < 1.0) {
        return Err(StatsError::Invalid(
            "`conf_level` must lie in (0, 1)".into(),
        ));
    }
    Ok(())
}

/// One group before disclosure control: what MPC computes and the plaintext twin
/// reproduces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmstRaw {
    /// Complete cases in the group.
    pub n: f64,
    /// Events at or before `τ`.
    pub events: f64,
    /// The restricted mean.
    pub rmst: f64,
    /// Its variance (R survival's).
    pub variance: f64,
}

/// One group's row of the result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RmstGroup {
    /// The group level (`None`: everybody).
    pub group: Option<String>,
    /// False when the group is suppressed (fewer than `min_cell` rows or `min_events` events
    /// by `τ`): the other fields are then absent.
    pub shown: bool,
    /// Complete cases in the group.
    pub n: Option<u64>,
    /// Events at or before `τ`.
    pub events: Option<u64>,
    /// Restricted mean survival time up to `τ`.
    pub rmst: Option<f64>,
    /// Its standard error (R survival's `se(rmean)`).
    pub std_err: Option<f64>,
    /// Lower confidence bound (`rmst - z·se`).
    pub ci_lower: Option<f64>,
    /// Upper confidence bound.
    pub ci_upper: Option<f64>,
}

/// One group's difference from the reference (first) level; only between shown groups.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RmstDifference {
    /// The group.
    pub group: String,
    /// The reference level (the group column's first level).
    pub reference: String,
    /// `RMST_group - RMST_reference`.
    pub estimate: f64,
    /// `√(Var_group + Var_reference)`.
    pub std_err: f64,
    /// Lower confidence bound.
    pub ci_lower: f64,
    /// Upper confidence bound.
    pub ci_upper: f64,
    /// Two-sided normal p-value of no difference.
    pub p_value: f64,
}

/// The result of an RMST analysis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RmstResult {
    /// The group column, if any.
    pub group_column: Option<String>,
    /// The truncation time.
    pub tau: f64,
    /// Complete cases used.
    pub n: u64,
    /// Confidence level of the intervals.
    pub conf_level: f64,
    /// Smallest number of rows of a shown group.
    pub min_cell: u64,
    /// Smallest number of events by `τ` of a shown group.
    pub min_events: u64,
    /// One row per group level.
    pub groups: Vec<RmstGroup>,
    /// Each shown group's difference from the first level, if that is shown too.
    pub differences: Vec<RmstDifference>,
}

/// Turns groups (`None` where suppressed) into the result.
fn finish(
    spec: &RmstSpec,
    labels: Option<Vec<String>>,
    n: u64,
    (min_cell, min_events): (u64, u64),
    raw: &[Option<RmstRaw>],
) -> RmstResult {
    let z = normal_quantile(0.5 + spec.conf_level / 2.0);
    let label = |c: usize| labels.as_ref().map(|l| l[c].clone());
    // An area is at most τ; a variance is never negative.
    let clean = |r: &RmstRaw| (r.rmst.clamp(0.0, spec.tau), r.variance.max(0.0));
    let groups = raw
        .iter()
        .enumerate()
        .map(|(c, r)| match r {
            Some(r) => {
                let (m, v) = clean(r);
                let se = v.sqrt();
                RmstGroup {
                    group: label(c),
                    shown: true,
                    n: Some(r.n.round().max(0.0) as u64),
                    events: Some(r.events.round().max(0.0) as u64),
                    rmst: Some(m),
                    std_err: Some(se),
                    ci_lower: Some(m - z * se),
                    ci_upper: Some(m + z * se),
                }
            }
            None => RmstGroup {
                group: label(c),
                shown: false,
                n: None,
                events: None,
                rmst: None,
                std_err: None,
                ci_lower: None,
                ci_upper: None,
            },
        })
        .collect();
    let mut differences = Vec::new();
    if let (Some(l), Some(Some(r0))) = (&labels, raw.first()) {
        let (m0, v0) = clean(r0);
        for (c, r) in raw.iter().enumerate().skip(1) {
            let Some(r) = r else { continue };
            let (m, v) = clean(r);
            let (d, se) = (m - m0, (v + v0).sqrt());
            differences.push(RmstDifference {
                group: l[c].clone(),
                reference: l[0].clone(),
                estimate: d,
                std_err: se,
                ci_lower: d - z * se,
                ci_upper: d + z * se,
                p_value: if se > 0.0 {
                    normal_two_sided(d / se)
                } else {
                    f64::NAN
                },
            });
        }
    }
    RmstResult {
        group_column: spec.group.clone(),
        tau: spec.tau,
        n,
        conf_level: spec.conf_level,
        min_cell,
        min_events,
        groups,
        differences,
    }
}

/// What the compute parties know of an RMST analysis and the recipient's tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RmstPublic {
    /// The analysis.
    pub spec: RmstSpec,
    /// Fractional bits of the sealed values.
    pub frac_bits: u32,
    /// The group's levels (none: one group).
    pub labels: Option<Vec<String>>,
    /// Complete cases (opened: documented leakage).
    pub n: u64,
    /// Smallest number of rows of a shown group.
    pub min_cell: u64,
    /// Smallest number of events by `τ` of a shown group.
    pub min_events: u64,
    /// Per level: whether the group is shown.
    pub shown: Vec<bool>,
}

impl Tail for RmstPublic {
    type Result = RmstResult;

    /// Values, each block one per level (zero where suppressed): rows, events by `τ`, RMST
    /// (fixed point), `2^G·Var` (fixed point).
    fn open(&self, vals: &[u128]) -> Result<RmstResult> {
        let f = self.frac_bits;
        let k = self.labels.as_ref().map_or(1, Vec::len);
        if self.shown.len() != k || vals.len() != 4 * k {
            return Err(StatsError::Invalid(
                "RMST: the sealed values do not fit".into(),
            ));
        }
        let unit = f64::from(1u32 << GREENWOOD_BITS);
        let raw: Vec<Option<RmstRaw>> = (0..k)
            .map(|c| {
                self.shown[c].then(|| RmstRaw {
                    n: vals[c] as f64,
                    events: vals[k + c] as f64,
                    rmst: decode(vals[2 * k + c], f),
                    variance: decode(vals[3 * k + c], f) / unit,
                })
            })
            .collect();
        Ok(finish(
            &self.spec,
            self.labels.clone(),
            self.n,
            (self.min_cell, self.min_events),
            &raw,
        ))
    }
}

/// Concatenates shares.
fn cat(v: &[AShare<u128>]) -> AShare<u128> {
    AShare::concat(&v.iter().collect::<Vec<_>>())
}

/// RMST in MPC; see the module docs. Every compute party calls this with its shares; the
/// result ends sealed for the recipients.
pub fn rmst(
    p: &mut Party,
    frame: &Frame,
    spec: &RmstSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<RmstPublic>> {
    check(spec, disclosure)?;
    let f = p.frac_bits();
    if spec.tau >= tau_limit(f) {
        return Err(StatsError::Invalid(format!(
            "`tau` = {} is too large for the fixed point ({f} fractional bits): it must be \
             below {:e}; rescale the times (e.g. days instead of seconds)",
            spec.tau,
            tau_limit(f)
        )));
    }
    let min_cell = disclosure.min_cell_or(DEFAULT_MIN_CELL);
    let n = frame.rows;
    let labels = match &spec.group {
        Some(g) => Some(frame.categorical(g)?.levels.to_vec()),
        None => None,
    };
    // Complete cases, min_rows, min_level_rows, every level present (leakage documented
    // there), the risk-set order.
    let gr = GroupedRisk::new(
        p,
        frame,
        &spec.time,
        &spec.event,
        (None, false),
        spec.group.as_deref(),
        None,
        disclosure,
    )?;
    let (k, total) = (gr.k, gr.total);
    let (at, evs) = gr.rows();
    let risk = &gr.risk;
    let nn = cat(&gr.at_risk);
    let dd = cat(&gr.deaths);
    // Kaplan–Meier factors and Greenwood terms, as km.rs: N - D = 0 (the whole risk set
    // dies) has no Greenwood term.
    let nd = nn.sub(&dd);
    let zero_bits = p.is_zero(&nd)?;
    let z: AShare<u128> = p.inject(&[&zero_bits], n * k)?.remove(0);
    let denoms = AShare::concat(&[&nn.shl(f), &nd.add(&z).shl(f)]);
    let recips = p.recip_pow2(&denoms, GREENWOOD_BITS)?;
    let parts = recips.split(&[n * k, n * k]);
    let q_g = p.mul(&dd, &parts[0])?; // 2^G·D/N, zero off group ends
    let keep = p.add_const(&z.neg(), 1);
    let qk = p.mul(&q_g, &keep)?;
    let g = p.mul_trunc(&qk, &parts[1], f + GREENWOOD_BITS)?; // D/(N(N - D)) at f + G bits
    let q = p.trunc(&q_g, GREENWOOD_BITS)?;
    let factor = p.add_const(&q.neg(), encode(1.0, f));
    let surv = suffix_product(p, &factor, k)?; // S_c(t_i) on every row
                                               // lt = [t < τ], le = [t ≤ τ] = [t < τ + ulp], one batch on the 64-bit time.
    let t64 = low64(&risk.time);
    let tau_f: u64 = encode(spec.tau, f);
    let lhs = AShare::concat(&[&t64, &t64]);
    let mut bounds = vec![tau_f; n];
    bounds.extend(std::iter::repeat_n(tau_f.wrapping_add(1), n));
    let rhs = p.public(&bounds);
    let bits = p.lt(&lhs, &rhs)?;
    let ind: AShare<u128> = p.inject(&[&bits], 2 * n)?.remove(0);
    let lt = ind.slice(0..n);
    let le = ind.slice(n..2 * n);
    // u = min(t, τ) = τ(1 - lt) + t·lt; widths w_i = u_{i-1} - u_i with u_{-1} = τ.
    let tau_u: u128 = encode(spec.tau, f);
    let t_lt = p.mul(&risk.time, &lt)?;
    let u = p.add_public(&lt.neg().mul_const(tau_u).add(&t_lt), &vec![tau_u; n]);
    let mut first = vec![0u128; n];
    first[0] = tau_u;
    let w = p.add_public(&shifted(&u, -1), &first).sub(&u);
    // Areas S_c(t_i)·w_i at 2f bits, prefix sums per group (exact), then f bits.
    let w_rep = cat(&vec![w; k]);
    let area = p.mul(&surv, &w_rep)?;
    let a2f = cat(&area
        .split(&vec![n; k])
        .iter()
        .map(AShare::prefix_sum)
        .collect::<Vec<_>>());
    let big_a = p.trunc(&a2f, f)?;
    let last_u = u.slice(n - 1..n);
    let rm: Vec<AShare<u128>> = (0..k)
        .map(|c| big_a.slice(c * n + n - 1..c * n + n).add(&last_u))
        .collect();
    // 2^G·Var_c = Σ A²·2^G g: A² at f - SQUARE_DROP bits, the dot product at
    // 2f + G - SQUARE_DROP, truncated to f (+G). Events ≤ τ: le · events, per group.
    let a_sq = p.mul_trunc(&big_a, &big_a, f + SQUARE_DROP)?;
    let le_rep = cat(&vec![le; k]);
    let ev_all = cat(evs);
    let dots = p.dot(
        &AShare::concat(&[&a_sq, &le_rep]),
        &AShare::concat(&[&g, &ev_all]),
        n,
    )?;
    let var = p.trunc(&dots.slice(0..k), f - SQUARE_DROP)?;
    let events = dots.slice(k..2 * k);
    let rows = cat(&at.iter().map(AShare::sum).collect::<Vec<_>>());
    // Shown: at least min_cell rows and min_events events by τ (one batched comparison).
    let ok = at_least(p, &rows, min_cell)?;
    let ok_e = at_least(p, &events, disclosure.min_events)?;
    let ok = p.mul(&ok, &ok_e)?;
    // LEAKAGE: one bit per group, whether it has at least min_cell complete cases and at
    // least min_events events at or before τ (shown or suppressed); the counts stay shared.
    let shown: Vec<bool> = p.reveal(&ok)?.iter().map(|&b| b == 1).collect();
    // Suppressed groups are zero before sealing (the pattern is public: a local product).
    let mask: Vec<u128> = shown.iter().map(|&b| u128::from(b)).collect();
    let values = AShare::concat(&[
        &rows.mul_public(&mask),
        &events.mul_public(&mask),
        &cat(&rm).mul_public(&mask),
        &var.mul_public(&mask),
    ]);
    let public = RmstPublic {
        spec: spec.clone(),
        frac_bits: f,
        labels,
        n: total,
        min_cell,
        min_events: disclosure.min_events,
        shown,
    };
    Sealed::new(p, public, &values)
}

/// The plaintext twin before disclosure control: per group, following R's `survmean`
/// (rectangles under the curve at its distinct times up to `τ`, the variance from the
/// reversed cumulative areas), not the row-wise prefix sums of the MPC protocol. Returns the
/// groups and the number of complete cases.
pub fn rmst_raw(frame: &PlainFrame, spec: &RmstSpec) -> Result<(Vec<RmstRaw>, u64)> {
    let t = frame.numeric(&spec.time)?;
    let e = frame.numeric(&spec.event)?;
    let (levels, codes): (usize, Option<&[Option<usize>]>) = match &spec.group {
        Some(g) => {
            let (l, c) = frame.categorical(g)?;
            (l.len(), Some(c))
        }
        None => (1, None),
    };
    let mut obs: Vec<(f64, bool, usize)> = Vec::new();
    for i in 0..frame.rows {
        let (Some(ti), Some(ei)) = (t[i], e[i]) else {
            continue;
        };
        let g = match codes {
            Some(c) => match c[i] {
                Some(g) => g,
                None => continue,
            },
            None => 0,
        };
        obs.push((ti, ei >= 0.5, g));
    }
    let total = obs.len() as u64;
    obs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let tau = spec.tau;
    let out = (0..levels)
        .map(|g| {
            let mine: Vec<(f64, bool)> = obs
                .iter()
                .filter(|o| o.2 == g)
                .map(|o| (o.0, o.1))
                .collect();
            // The curve at its distinct times ≤ τ: (time, survival after it, Greenwood term).
            let mut curve: Vec<(f64, f64, f64)> = Vec::new();
            let mut s = 1.0;
            let mut i = 0;
            while i < mine.len() && mine[i].0 <= tau {
                let ti = mine[i].0;
                let at = (mine.len() - i) as f64;
                let mut d = 0.0;
                while i < mine.len() && mine[i].0 == ti {
                    d += f64::from(u8::from(mine[i].1));
                    i += 1;
                }
                s *= 1.0 - d / at;
                let h = if at > d { d / (at * (at - d)) } else { 0.0 };
                curve.push((ti, s, h));
            }
            // Rectangles: [0, t_1) under 1, [t_j, t_{j+1}) under S(t_j), [t_m, τ) under S(t_m).
            let mut rect = Vec::with_capacity(curve.len() + 1);
            let (mut prev_t, mut prev_s) = (0.0, 1.0);
            for &(ti, si, _) in &curve {
                rect.push((ti - prev_t) * prev_s);
                prev_t = ti;
                prev_s = si;
            }
            rect.push((tau - prev_t) * prev_s);
            // A_j = the rectangles after the j-th time's left end: Σ_{l > j} rect[l].
            let mut var = 0.0;
            let mut acc = 0.0;
            for j in (0..curve.len()).rev() {
                acc += rect[j + 1];
                var += acc * acc * curve[j].2;
            }
            RmstRaw {
                n: mine.len() as f64,
                events: mine.iter().filter(|o| o.1 && o.0 <= tau).count() as f64,
                rmst: rect.iter().sum(),
                variance: var,
            }
        })
        .collect();
    Ok((out, total))
}

/// The plaintext twin, with the same disclosure control.
pub fn rmst_plain(
    frame: &PlainFrame,
    spec: &RmstSpec,
    disclosure: &Disclosure,
) -> Result<RmstResult> {
    check(spec, disclosure)?;
    let min_cell = disclosure.min_cell_or(DEFAULT_MIN_CELL);
    let labels = match &spec.group {
        Some(g) => Some(frame.categorical(g)?.0.to_vec()),
        None => None,
    };
    let (raw, total) = rmst_raw(frame, spec)?;
    disclosure.check_rows(total as usize)?;
    if let Some(g) = &spec.group {
        if raw.iter().any(|r| (r.n as u64) < disclosure.min_level_rows) {
            return Err(StatsError::Refused {
                rule: "min_level_rows".into(),
                detail: format!(
                    "a level of {g} has fewer than {} rows",
                    disclosure.min_level_rows
                ),
            });
        }
        if raw.iter().any(|r| r.n == 0.0) {
            return Err(StatsError::Invalid(format!(
                "a level of {g} has no complete cases: drop it from the study's levels"
            )));
        }
    }
    let shown: Vec<Option<RmstRaw>> = raw
        .into_iter()
        .map(|r| (r.n >= min_cell as f64 && r.events >= disclosure.min_events as f64).then_some(r))
        .collect();
    Ok(finish(
        spec,
        labels,
        total,
        (min_cell, disclosure.min_events),
        &shown,
    ))
}

impl fmt::Display for RmstResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Restricted mean survival time up to {} ({} complete cases; groups with fewer \
             than {} rows or {} events by then suppressed)",
            self.tau, self.n, self.min_cell, self.min_events
        )?;
        let pct = self.conf_level * 100.0;
        writeln!(
            f,
            "  {:>12} {:>8} {:>8} {:>12} {:>10} {:>12} {:>12}",
            self.group_column.as_deref().unwrap_or("group"),
            "n",
            "events",
            "rmst",
            "std_err",
            format!("lower {pct:.0}%"),
            format!("upper {pct:.0}%")
        )?;
        for g in &self.groups {
            let name = g.group.as_deref().unwrap_or("all");
            match (g.n, g.events, g.rmst, g.std_err, g.ci_lower, g.ci_upper) {
                (Some(n), Some(e), Some(m), Some(se), Some(lo), Some(hi)) => writeln!(
                    f,
                    "  {name:>12} {n:>8} {e:>8} {m:>12.4} {se:>10.4} {lo:>12.4} {hi:>12.4}"
                )?,
                _ => writeln!(
                    f,
                    "  {name:>12} {:>8} {:>8} {:>12} {:>10} {:>12} {:>12}",
                    "-", "-", "suppressed", "-", "-", "-"
                )?,
            }
        }
        if !self.differences.is_empty() {
            writeln!(f, "\n  difference from {}:", self.differences[0].reference)?;
            writeln!(
                f,
                "  {:>12} {:>12} {:>10} {:>12} {:>12} {:>10}",
                "group",
                "difference",
                "std_err",
                format!("lower {pct:.0}%"),
                format!("upper {pct:.0}%"),
                "p"
            )?;
            for d in &self.differences {
                writeln!(
                    f,
                    "  {:>12} {:>12.4} {:>10.4} {:>12.4} {:>12.4} {:>10.4}",
                    d.group, d.estimate, d.std_err, d.ci_lower, d.ci_upper, d.p_value
                )?;
            }
        }
        Ok(())
    }
}
