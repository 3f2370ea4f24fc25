//! Median survival time and its confidence interval per Kaplan–Meier curve (`median = true`
//! on a `kaplan_meier` analysis), as R `survival` prints it (`print(survfit(...,
//! conf.type = "log-log"))`: `median`, `LCL`, `UCL`).
//!
//! # Definition (R's `survmean`, `minmin` in `R/print.survfit.R`)
//!
//! For a curve `y` (the survival `S`, or its lower or upper log-log band) over the group's
//! times in increasing order: the first time `t₁` with `y(t₁) ≤ 0.5` (within a tolerance);
//! if `y(t₁)` is 0.5 (within the tolerance) and the curve later steps below it, at `t₂`, the
//! midpoint `(t₁ + t₂)/2`, else `t₁`; none (R's `NA`, "not reached") when `y` never gets to
//! 0.5. The median uses `S`, the lower limit the lower band (which reaches 0.5 first), the
//! upper limit the upper band. The bands are R's `conf.type = "log-log"` (lifelines'
//! exponential Greenwood, [`super::km`]'s), undefined (R: `NA`, skipped) where `S` is 1 or 0.
//!
//! # Ties with 0.5, in fixed point
//!
//! R's tolerance is `sqrt(.Machine$double.eps)` (1.5e-8); the fixed-point survival carries
//! errors up to about 1e-6 (one unit of 2^-24 per level of the suffix product's scan), so
//! for `S`, here and in the plaintext twin, "at or below 0.5" is `S < 0.5 + TOL` and
//! "exactly 0.5" is `S ≥ 0.5 - TOL` with [`TOL`] = 2^-19 (1.9e-6). A survival within 1.9e-6
//! of 0.5 without being 0.5 is read as 0.5 (without censoring that needs more than 260,000
//! at risk; with censoring a coincidence of that order, about one curve in a thousand on a
//! few hundred at risk), and a step down from 0.5 smaller than that is not seen. The bands
//! are irrational: they equal 0.5 within R's 1.5e-8 only by coincidence, far below the
//! fixed point's resolution, so for them "at or below 0.5" is taken literally and the
//! midpoint rule is not applied (R's would apply only to such a coincidence). A band within
//! about 1e-6 of 0.5 at an event time may come out on either side of it in MPC, one event
//! time off R (not seen on the fixtures; registry stage 3 has a lower band of 0.4999863).
//!
//! # Protocol
//!
//! On the shared, time-sorted table of [`super::km::kaplan_meier`] (rows in risk-set order,
//! latest first; per group `c` the survival `S_c` and `2^G` times the Greenwood sum `V_c` at
//! every row's time):
//! - one batched comparison per row and group: `S < 0.5 + TOL`, `S < 0.5 - TOL`, `S < 2^-20`
//!   (the curve is 0) and "no event of the group yet" (the suffix sum of its events is 0);
//!   the bands are defined where there was an event and `S > 0`;
//! - where defined, with `L = -ln S` (`S` replaced by 0.5 elsewhere; two `ln`s), the upper
//!   band `S^exp(-z√V/L)` is at or below 0.5 exactly when `w = L (ln L - ln ln 2)` is at least
//!   `z√V`, the lower band `S^exp(z√V/L)` when `w ≥ -z√V`: from the sign of `w` (the
//!   comparison of `S` with 0.5) and one comparison `w² ≥ z²V`, without a square root;
//! - for each of the four 0/1 series (`S < 0.5 + TOL`, `S < 0.5 - TOL`, lower band, upper
//!   band), the suffix count (rows at or before the row's time) is compared with zero (one
//!   batched `is_zero`): monotone bits even where the fixed-point curve wobbles; their
//!   difference with the next row marks the first crossing (exactly one row, the end of its
//!   tie group, or none);
//! - per group, dot products of the marks with the time, the number at risk, a column of
//!   ones and `[S < 0.5 - TOL]` give the first times `t₁` (and for `S` `t₂`, the first time
//!   strictly below), whether each exists, the numbers at risk there, and whether `S` is
//!   0.5 at `t₁`: local parts, shared back once;
//! - `2·median = 2t₁ + [S(t₁) = 0.5]·[t₂ exists]·(t₂ - t₁)`, `2·limit = 2t₁`; the number
//!   shown rests on the number at risk at `t₁` (at `t₂` for a midpoint), compared with
//!   `min_cell`, and is multiplied by that bit and by "reached".
//!
//! # What the compute parties learn
//!
//! Nothing: no value is opened (the comparisons' and `is_zero`'s results stay shared).
//!
//! # What the recipients get
//!
//! Sealed, per group and for each of median, lower and upper limit: whether it is reached,
//! whether it is shown (reached and at least `min_cell` at risk at its time), and `2·m`
//! where shown (zero otherwise). A shown value is one (or the midpoint of two) of the
//! group's event times: the analysis needs the policy's `allow_event_times`.

use serde::Serialize;
use tessera_mpc::fixed::{decode, encode};
use tessera_mpc::{AShare, Party};

use crate::describe::{additive_to_replicated, cross_parts};
use crate::disclosure::at_least;
use crate::dist::normal_quantile;
use crate::error::Result;

use super::km::{loglog_ci, KmRawEvent, GREENWOOD_BITS, ZERO_SURVIVAL};
use super::risk::{low64, shifted, suffix_sum};

/// Tolerance of the survival's "at or below 0.5" and "exactly 0.5" (2^-19), in MPC and in
/// the twin.
pub const TOL: f64 = 1.0 / 524_288.0;

/// The three numbers of a curve, in this order everywhere (sealed values, raw arrays).
const POINTS: usize = 3;

/// Whether one of the three numbers is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MedianStatus {
    /// Reached and resting on at least `min_cell` at risk.
    Shown,
    /// The curve (or band) never gets to 0.5: R's `NA`.
    NotReached,
    /// Reached, but fewer than `min_cell` were at risk at its time: not shown.
    Suppressed,
}

/// One curve's median survival time and its confidence limits.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KmMedian {
    /// Median survival time (`None`: not reached or suppressed, see `status`).
    pub median: Option<f64>,
    /// Lower confidence limit (R's `LCL`).
    pub lower: Option<f64>,
    /// Upper confidence limit (R's `UCL`).
    pub upper: Option<f64>,
    /// Of median, lower, upper (in this order): shown, not reached or suppressed.
    pub status: [MedianStatus; 3],
}

impl KmMedian {
    /// One of median (0), lower (1), upper (2) as text: the time, `NA` (not reached) or
    /// `suppressed`.
    pub fn median_text(&self, i: usize) -> String {
        let v = [self.median, self.lower, self.upper][i];
        match (self.status[i], v) {
            (MedianStatus::Shown, Some(t)) => format!("{t}"),
            (MedianStatus::Suppressed, _) => "suppressed".into(),
            _ => "NA".into(),
        }
    }
}

/// One number before rendering: the time, whether reached, whether shown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MedianRaw {
    /// The time (the midpoint of two event times where the curve is exactly 0.5).
    pub time: f64,
    /// Whether the curve gets to 0.5.
    pub reached: bool,
    /// Whether it is shown (reached, and `min_cell` at risk at its time).
    pub shown: bool,
}

/// Renders one curve's three raw numbers.
pub(crate) fn render(raw: &[MedianRaw; POINTS]) -> KmMedian {
    let value = |r: &MedianRaw| r.shown.then_some(r.time);
    let status = |r: &MedianRaw| match (r.reached, r.shown) {
        (_, true) => MedianStatus::Shown,
        (false, false) => MedianStatus::NotReached,
        (true, false) => MedianStatus::Suppressed,
    };
    KmMedian {
        median: value(&raw[0]),
        lower: value(&raw[1]),
        upper: value(&raw[2]),
        status: [status(&raw[0]), status(&raw[1]), status(&raw[2])],
    }
}

/// R's `minmin` on one series `(time, value or None where undefined, at risk)` in time
/// order: with `tol` > 0 (the survival) "at or below 0.5" is `y < 0.5 + tol` and the
/// midpoint rule applies; with `tol` = 0 (the bands) it is `y ≤ 0.5`, no midpoint.
/// `min_cell` applies to the number at risk at the time shown (the later one for a
/// midpoint).
fn minmin(series: &[(f64, Option<f64>, f64)], tol: f64, min_cell: u64) -> MedianRaw {
    let defined = || series.iter().filter_map(|&(t, y, n)| y.map(|y| (t, y, n)));
    let first = if tol > 0.0 {
        defined().find(|&(_, y, _)| y < 0.5 + tol)
    } else {
        defined().find(|&(_, y, _)| y <= 0.5)
    };
    let Some((t1, y1, n1)) = first else {
        return MedianRaw {
            time: 0.0,
            reached: false,
            shown: false,
        };
    };
    let below = defined().find(|&(_, y, _)| y < 0.5 - tol);
    let (time, at_risk) = match below {
        Some((t2, _, n2)) if tol > 0.0 && y1 >= 0.5 - tol => ((t1 + t2) / 2.0, n2),
        _ => (t1, n1),
    };
    MedianRaw {
        time,
        reached: true,
        shown: at_risk >= min_cell as f64,
    }
}

/// The plaintext twin: each group's median and limits from its curve at its event times
/// (`events`, any order), in f64 with the same tolerance and disclosure rule.
pub(crate) fn median_plain(
    events: &[KmRawEvent],
    k: usize,
    conf_level: f64,
    min_cell: u64,
) -> Vec<[MedianRaw; POINTS]> {
    let z = normal_quantile(0.5 + conf_level / 2.0);
    (0..k)
        .map(|c| {
            let mut rows: Vec<&KmRawEvent> = events.iter().filter(|e| e.group == c).collect();
            rows.sort_by(|a, b| a.time.total_cmp(&b.time));
            let mut series: [Vec<(f64, Option<f64>, f64)>; POINTS] = Default::default();
            for e in rows {
                let s = if e.survival < ZERO_SURVIVAL {
                    0.0
                } else {
                    e.survival
                };
                // The bands are undefined where S is 1 or 0 (R: NA).
                let band = (s > 0.0 && s < 1.0).then(|| loglog_ci(s, e.greenwood.max(0.0), z));
                series[0].push((e.time, Some(s), e.at_risk));
                series[1].push((e.time, band.map(|b| b.0), e.at_risk));
                series[2].push((e.time, band.map(|b| b.1), e.at_risk));
            }
            [
                minmin(&series[0], TOL, min_cell),
                minmin(&series[1], 0.0, min_cell),
                minmin(&series[2], 0.0, min_cell),
            ]
        })
        .collect()
}

/// Concatenates shares.
fn cat(v: &[&AShare<u128>]) -> AShare<u128> {
    AShare::concat(v)
}

/// Inside MPC: each group's median and limits from the shared table of
/// [`super::km::kaplan_meier`] (see the module docs). `time`: the rows' times (fixed point,
/// risk-set order, `n` rows); `at_risk` and `deaths`: per group, the number at risk and the
/// events at each tie group's end; `surv` and `green`: per group (blocks of `n`), the
/// survival and `2^G·V` at every row. Returns the values to seal, each block one per group:
/// for median, lower, upper in turn `2·m` (fixed point; zero unless shown), then the
/// "reached" bits of the three, then the "shown" bits. Opens nothing.
#[allow(clippy::too_many_arguments)]
pub(crate) fn median_mpc(
    p: &mut Party,
    time: &AShare<u128>,
    at_risk: &[AShare<u128>],
    deaths: &[AShare<u128>],
    surv: &AShare<u128>,
    green: &AShare<u128>,
    conf_level: f64,
    min_cell: u64,
) -> Result<AShare<u128>> {
    let f = p.frac_bits();
    let k = at_risk.len();
    let n = time.len();
    let x = n * k;
    let z = normal_quantile(0.5 + conf_level / 2.0);
    // Events at or before each row's time, per group (suffix sums within blocks).
    let cum: Vec<AShare<u128>> = deaths.iter().map(suffix_sum).collect();
    let cum = cat(&cum.iter().collect::<Vec<_>>());
    // One batch: [S < 2^-20], [S < 0.5 + TOL], [S < 0.5 - TOL], [no event yet].
    let s64 = low64(surv);
    let lhs = AShare::concat(&[&s64, &s64, &s64, &low64(&cum)]);
    let mut bounds = Vec::with_capacity(4 * x);
    for b in [
        encode::<u64>(ZERO_SURVIVAL, f),
        encode(0.5 + TOL, f),
        encode(0.5 - TOL, f),
        1,
    ] {
        bounds.extend(std::iter::repeat_n(b, x));
    }
    let rhs = p.public(&bounds);
    let bits = p.lt(&lhs, &rhs)?;
    let ind: AShare<u128> = p.inject(&[&bits], 4 * x)?.remove(0);
    let parts = ind.split(&[x, x, x, x]);
    let (zero, s_le, s_lt, none) = (&parts[0], &parts[1], &parts[2], &parts[3]);
    // The bands are defined after the group's first event while S > 0 (zero implies an
    // event): valid = 1 - none - zero. Elsewhere S is replaced by 0.5 for the logarithms.
    let valid = p.add_const(&none.add(zero).neg(), 1);
    let half: u128 = encode(0.5, f);
    let centred = p.add_const(surv, half.wrapping_neg());
    let kept = p.mul(&valid, &centred)?;
    let s_safe = p.add_const(&kept, half);
    let big_l = p.ln(&s_safe)?.neg(); // L = -ln S, in [2^-19, 14]
    let ln_l = p.ln(&big_l)?;
    // w = L (ln L - ln ln 2): the upper band is at or below 0.5 where w ≥ z√V, the lower
    // band where w ≥ -z√V.
    let lnln2 = encode::<u128>(-std::f64::consts::LN_2.ln(), f);
    let w = p.mul_trunc(&big_l, &p.add_const(&ln_l, lnln2), f)?;
    // 2^G w² against z²·2^G V (both at f bits): [w² < z²V] = 1 - q.
    let g = GREENWOOD_BITS;
    let w2 = if f >= g {
        p.mul_trunc(&w, &w, f - g)?
    } else {
        p.mul_trunc(&w, &w, f)?.shl(g)
    };
    let zv = p.mul_public_real(green, z * z)?;
    let below = p.lt(&low64(&w2.sub(&zv)), &AShare::zeros(x))?;
    let not_q: AShare<u128> = p.inject(&[&below], x)?.remove(0);
    // Upper band ≤ 0.5: w ≥ z√V, i.e. s·q; lower band: w ≥ -z√V, i.e. (1 - q) + s·q; the
    // sign s of w is [S ≤ 0.5] (taken as [S < 0.5 + TOL]: where they differ w is within
    // the error of 0 and both bands' bits come out right either way). Only where defined.
    let q = p.add_const(&not_q.neg(), 1);
    let sq = p.mul(s_le, &q)?;
    let lower_raw = not_q.add(&sq);
    let banded = p.mul(&cat(&[&lower_raw, &sq]), &cat(&[&valid, &valid]))?;
    let bb = banded.split(&[x, x]);
    // Four series: S at or below 0.5, S strictly below, the lower band, the upper band.
    let series = [s_le, s_lt, &bb[0], &bb[1]];
    let ns = series.len();
    // Monotone: whether any row at or before this row's time is marked (suffix counts
    // within each group's block, compared with zero).
    let counts: Vec<AShare<u128>> = series
        .iter()
        .flat_map(|s| s.split(&vec![n; k]))
        .map(|b| suffix_sum(&b))
        .collect();
    let iz = p.is_zero(&cat(&counts.iter().collect::<Vec<_>>()))?;
    let iz: AShare<u128> = p.inject(&[&iz], ns * x)?.remove(0);
    let m = p.add_const(&iz.neg(), 1);
    // First crossing (the earliest time marked): m_i - m_{i+1} within each block.
    let marks: Vec<AShare<u128>> = m
        .split(&vec![n; ns * k])
        .iter()
        .map(|b| b.sub(&shifted(b, 1)))
        .collect();
    // Per group: the four marks against time, at risk, ones and [S < 0.5 - TOL] (for "S is
    // 0.5 at t₁").
    let ones = p.public(&vec![1u128; n]);
    let per = ns * 4;
    let mut parts_all: Vec<u128> = Vec::with_capacity(per * k);
    for c in 0..k {
        let a: Vec<&AShare<u128>> = (0..ns).map(|s| &marks[s * k + c]).collect();
        let strict = s_lt.slice(c * n..(c + 1) * n);
        parts_all.extend(cross_parts(&a, &[time, &at_risk[c], &ones, &strict], n));
    }
    let dots = additive_to_replicated(p, &parts_all)?;
    // dots[c·per + s·4 + j]: mark s against column j.
    let at = |c: usize, s: usize, j: usize| {
        let i = c * per + s * 4 + j;
        dots.slice(i..i + 1)
    };
    // Per number (median: series 0; lower: 2; upper: 3) and group: t₁, its at risk, reached.
    let mut t1 = Vec::new();
    let mut r1 = Vec::new();
    let mut h1 = Vec::new();
    for s in [0, 2, 3] {
        for c in 0..k {
            t1.push(at(c, s, 0));
            r1.push(at(c, s, 1));
            h1.push(at(c, s, 2));
        }
    }
    // The median only: whether S is 0.5 at t₁ and, from series 1, t₂ and its at risk.
    let exact: Vec<AShare<u128>> = (0..k).map(|c| at(c, 0, 2).sub(&at(c, 0, 3))).collect();
    let h2: Vec<AShare<u128>> = (0..k).map(|c| at(c, 1, 2)).collect();
    let dt: Vec<AShare<u128>> = (0..k).map(|c| at(c, 1, 0).sub(&at(c, 0, 0))).collect();
    let dr: Vec<AShare<u128>> = (0..k).map(|c| at(c, 1, 1).sub(&at(c, 0, 1))).collect();
    let v = |x: &[AShare<u128>]| cat(&x.iter().collect::<Vec<_>>());
    let (t1, r1, h1) = (v(&t1), v(&r1), v(&h1));
    // Midpoint where S is 0.5 at t₁ and later steps below it.
    let mid = p.mul(&v(&exact), &v(&h2))?;
    let moved = p.mul(&cat(&[&mid, &mid]), &cat(&[&v(&dt), &v(&dr)]))?;
    let bands = AShare::zeros(2 * k);
    let pad = |part: AShare<u128>| cat(&[&part, &bands]);
    let twice = t1.add(&t1).add(&pad(moved.slice(0..k)));
    let risk = r1.add(&pad(moved.slice(k..2 * k)));
    let enough = at_least(p, &risk, min_cell)?;
    let shown = p.mul(&h1, &enough)?;
    let value = p.mul(&shown, &twice)?;
    Ok(cat(&[&value, &h1, &shown]))
}

/// Decodes the sealed values of [`median_mpc`] (`3·3·k` of them) into per-group raw numbers.
pub(crate) fn median_open(vals: &[u128], k: usize, f: u32) -> Vec<[MedianRaw; POINTS]> {
    (0..k)
        .map(|c| {
            let one = |q: usize| MedianRaw {
                time: decode(vals[q * k + c], f) / 2.0,
                reached: vals[3 * k + q * k + c] == 1,
                shown: vals[6 * k + q * k + c] == 1,
            };
            [one(0), one(1), one(2)]
        })
        .collect()
}

/// Number of sealed values for `k` groups.
pub(crate) fn sealed_len(k: usize) -> usize {
    3 * POINTS * k
}
