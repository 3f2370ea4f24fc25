//! Kaplan–Meier estimate of the survival function, per group, on a time grid.
//!
//! # Protocol
//!
//! Rows are put in risk-set order ([`RiskOrder`]: sorted by time, latest first). For each
//! group level `c` (one-hot `h_c`, times the complete-case indicator), with `N_c` the
//! prefix count of rows (the number at risk, read at each tie group's end) and `D_c` the
//! group's events (segmented sum):
//! - the factor `1 - D_c/N_c` and the Greenwood term `D_c / (N_c (N_c - D_c))` (zero where
//!   `N_c = D_c`, as lifelines does) on every group-end row (one `recip` each);
//! - suffix products of the factors (a Hillis–Steele scan of `ceil(log2 n)` rounds of fixed-point
//!   products) and suffix sums of the Greenwood terms (local): at row `i` they are the
//!   survival and the Greenwood sum at time `t_i`;
//! - for each grid time `τ`, the first row with `t ≤ τ` is found by comparisons with the
//!   public `τ` and its survival and Greenwood sum are picked by a dot product (no row
//!   `≤ τ`: survival 1); the number at risk `#{T ≥ τ}` and the cumulative events `≤ τ` are
//!   dot products with comparison indicators. The comparisons run in chunks of
//!   [`GRID_BATCH`] (memory stays bounded whatever the grid); the dot products are local
//!   parts of an additive sharing, shared back once for the whole grid.
//!
//! A cell (group × grid time) is shown only with at least `min_cell` at risk and at least
//! `min_events` events since the previous shown time of its curve (or since the start),
//! decided inside MPC ([`grid_rule`]) before anything is sealed; suppressed cells are
//! sealed as zero.
//!
//! # Delayed entry
//!
//! With `entry` (left truncation, R's `survfit(Surv(entry, time, event) ~ g)`), each row is
//! also an entry record that leaves the risk sets ([`super::risk::EntryRecords`]): the steps
//! above run unchanged on the `2n` records, whose signed prefix counts are the numbers at
//! risk `#{entry < t ≤ time}` (also at the grid: `Σ ±[record time ≥ τ]`); the factors and
//! Greenwood terms are those of the entry-adjusted risk sets, as R's. About twice the cost
//! ([`crate::cost`]). One bit more is opened: "every complete case has `0 ≤ entry < time`"
//! (the analysis is refused otherwise).
//!
//! # What the compute parties learn
//!
//! Per cell: whether it has `min_cell` at risk, and whether it is shown (the suppression
//! pattern; the bits [`grid_rule`] opens say no more than which cell of a curve is shown
//! next). The number of complete cases;
//! with a group column, one bit "every level has a complete case" and, with
//! `min_level_rows`, one bit "every level has enough" ([`super::risk::GroupedRisk`]). With
//! `at_event_times`, the number of event-time rows shown (the size of the table: which
//! shuffled rows are shown is opened, and the shuffle hides where they were; with
//! `censor_marks`, rows of event *or censoring* times). Nothing else
//! (the sort's comparison bits are simulatable, see [`RiskOrder`]).
//!
//! # What the recipients get
//!
//! Sealed ([`crate::sealed`]): for shown cells the number at risk, the cumulative events,
//! the survival and the Greenwood variance sum (from which, with the survival, the standard
//! error and confidence interval are computed at the recipient: the interval and the sum
//! determine each other, so the sum adds nothing to the named result); with
//! `at_event_times`, the shown event times' time, at risk, events, survival, Greenwood sum
//! and group (with `censor_marks`, also the times where patients were only censored, and
//! each row's number censored: the marks on a plot); with `median`, each curve's median survival time and confidence limits,
//! whether each is reached and whether it is shown ([`super::median`], which opens nothing
//! to the compute parties). [`KmPublic`]'s [`Tail`] decodes them.

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::{decode, encode};
use tessera_mpc::{AShare, Party, Table};

use crate::analysis::KaplanMeierSpec;
use crate::disclosure::{at_least, Disclosure};
use crate::dist::normal_quantile;
use crate::error::{Result, StatsError};
use crate::sealed::{Sealed, Tail};
use crate::table::Frame;

use super::median::{self, KmMedian, MedianRaw};
use super::risk::{low64, suffix_sum, GroupedRisk};
use crate::describe::{additive_to_replicated, cross_parts};

/// Default smallest number at risk for a shown Kaplan–Meier cell.
pub const DEFAULT_MIN_CELL: u64 = 10;

/// Grid comparisons done at a time (each is a 64-bit comparison of one row with one grid
/// time): bounds the memory of a long grid on many rows (an 8,000-time grid on 1,700 rows
/// once took 20 GB) at the price of a few rounds per chunk.
pub const GRID_BATCH: usize = 1 << 21;

/// Extra bits of the Greenwood sum (opened as `2^G·V`).
pub(crate) const GREENWOOD_BITS: u32 = 20;

/// Survival below this (2^-20) is reported as exactly 0: the fixed-point product cannot tell
/// a true zero (everybody at risk died) from a value a few units in the last place above.
pub(crate) const ZERO_SURVIVAL: f64 = 9.5367431640625e-7;

/// One cell before disclosure control: what MPC computes and the plaintext twin
/// reproduces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KmRawCell {
    /// Number at risk at the grid time (`T ≥ τ`).
    pub at_risk: f64,
    /// Events at or before the grid time (cumulative).
    pub events: f64,
    /// Kaplan–Meier survival at the grid time.
    pub survival: f64,
    /// Greenwood's sum `Σ d/(n(n-d))` over event times up to the grid time.
    pub greenwood: f64,
}

/// Kaplan–Meier cells per group (outer) and grid time (inner).
#[derive(Clone, Debug, PartialEq)]
pub struct KmRaw {
    /// The cells.
    pub cells: Vec<Vec<KmRawCell>>,
}

/// One shown or suppressed row of a Kaplan–Meier table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KmRow {
    /// The grid time.
    pub time: f64,
    /// False when the cell rests on fewer than `min_cell` at risk: the other fields are
    /// then absent.
    pub shown: bool,
    /// Number at risk (`T ≥ time`).
    pub at_risk: Option<u64>,
    /// Events at or before `time`.
    pub events: Option<u64>,
    /// Survival probability.
    pub survival: Option<f64>,
    /// Greenwood standard error of the survival.
    pub std_err: Option<f64>,
    /// Lower confidence bound (exponential Greenwood / log(-log), as lifelines).
    pub ci_lower: Option<f64>,
    /// Upper confidence bound.
    pub ci_upper: Option<f64>,
}

impl KmRow {
    /// The row of a suppressed cell: its time, nothing else.
    pub(crate) fn suppressed(time: f64) -> KmRow {
        KmRow {
            time,
            shown: false,
            at_risk: None,
            events: None,
            survival: None,
            std_err: None,
            ci_lower: None,
            ci_upper: None,
        }
    }
}

/// One curve.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KmCurve {
    /// The group level (`None`: everybody).
    pub group: Option<String>,
    /// The rows, one per grid time.
    pub rows: Vec<KmRow>,
    /// The curve at each of the group's event times with at least `min_cell` at risk (only
    /// when the study asks and the policy allows it), in time order.
    pub event_times: Vec<KmEventRow>,
    /// The median survival time and its confidence interval (only when the study asks,
    /// `median = true`, and the policy allows event times).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median: Option<KmMedian>,
}

/// The curve at one event time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KmEventRow {
    /// The event time.
    pub time: f64,
    /// Number at risk just before it.
    pub at_risk: u64,
    /// Events at this time.
    pub events: u64,
    /// Patients censored at this time (only with `censor_marks`; their times are then rows
    /// too, with no events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub censored: Option<u64>,
    /// Survival just after it.
    pub survival: f64,
    /// Greenwood standard error.
    pub std_err: f64,
    /// Lower confidence bound.
    pub ci_lower: f64,
    /// Upper confidence bound.
    pub ci_upper: f64,
}

/// One event time of one group before rendering: time, at risk, events, survival,
/// Greenwood sum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KmRawEvent {
    /// Group index.
    pub group: usize,
    /// The time.
    pub time: f64,
    /// At risk.
    pub at_risk: f64,
    /// Events at the time.
    pub events: f64,
    /// Censored at the time (0 without `censor_marks`).
    pub censored: f64,
    /// Survival after the time.
    pub survival: f64,
    /// Greenwood sum up to the time.
    pub greenwood: f64,
}

/// The result of a Kaplan–Meier analysis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KmResult {
    /// The group column, if any.
    pub group_column: Option<String>,
    /// The entry column with delayed entry (R's `Surv(entry, time, event)`): the numbers at
    /// risk count a row only after its entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// Complete cases used.
    pub n: u64,
    /// Confidence level of the intervals.
    pub conf_level: f64,
    /// Smallest number at risk of a shown cell.
    pub min_cell: u64,
    /// Smallest number of events since the previous shown grid time of a shown cell.
    pub min_events: u64,
    /// One curve per group level.
    pub curves: Vec<KmCurve>,
}

/// Lifelines' exponential Greenwood interval `exp(-exp(log(-log S) ± z √V / log S))`.
pub(crate) fn loglog_ci(s: f64, v: f64, z: f64) -> (f64, f64) {
    if s >= 1.0 {
        return (1.0, 1.0);
    }
    if s <= 0.0 {
        return (0.0, 0.0);
    }
    let ls = s.ln();
    let c = (-ls).ln();
    let h = z * v.sqrt() / ls;
    let a = (-(c - h).exp()).exp();
    let b = (-(c + h).exp()).exp();
    (a.min(b), a.max(b))
}

/// What a Kaplan–Meier analysis is refused for before any data is read: event times the
/// disclosure rules do not allow, no grid (`times`) without `at_event_times`, a grid that is
/// not increasing, a confidence level outside (0, 1). The computations call it first;
/// `tessera study check` calls it with each station's rules.
pub fn check(spec: &KaplanMeierSpec, disclosure: &Disclosure) -> Result<()> {
    if spec.at_event_times && !disclosure.allow_event_times {
        return Err(StatsError::Refused {
            rule: "allow_event_times".into(),
            detail: "the curve at every event time reveals the event times; only a grid is allowed"
                .into(),
        });
    }
    if spec.median && !disclosure.allow_event_times {
        return Err(StatsError::Refused {
            rule: "allow_event_times".into(),
            detail: "the median survival time and its confidence limits are event times of \
                     single patients: drop `median = true`, or ask every station for \
                     allow_event_times (the study's [disclosure] and each station's policy)"
                .into(),
        });
    }
    if spec.censor_marks && !spec.at_event_times {
        return Err(StatsError::Invalid(
            "`censor_marks` adds the censoring times to the curve at every event time: set \
             at_event_times = true too"
                .into(),
        ));
    }
    if spec.times.is_empty() && !spec.at_event_times && !spec.median {
        return Err(StatsError::Invalid(
            "`times` must name at least one time (or set at_event_times or median)".into(),
        ));
    }
    if spec.times.iter().any(|t| !t.is_finite() || *t < 0.0)
        || spec.times.windows(2).any(|w| w[0] >= w[1])
    {
        return Err(StatsError::Invalid(
            "`times` must be finite, non-negative and strictly increasing".into(),
        ));
    }
    if !(spec.conf_level > 0.0 && spec.conf_level < 1.0) {
        return Err(StatsError::Invalid(
            "`conf_level` must lie in (0, 1)".into(),
        ));
    }
    Ok(())
}

/// Turns cells (all computed, or opened with a shown mask) into the result.
pub(crate) fn finish(
    spec: &KaplanMeierSpec,
    labels: Option<Vec<String>>,
    n: u64,
    (min_cell, min_events): (u64, u64),
    cells: &[Vec<Option<KmRawCell>>],
    events: &[KmRawEvent],
    medians: &[[MedianRaw; 3]],
) -> KmResult {
    let z = normal_quantile(0.5 + spec.conf_level / 2.0);
    let event_rows = |c: usize| -> Vec<KmEventRow> {
        let mut rows: Vec<KmEventRow> = events
            .iter()
            .filter(|e| e.group == c)
            .map(|e| {
                let s = if e.survival < ZERO_SURVIVAL {
                    0.0
                } else {
                    e.survival.min(1.0)
                };
                let v = e.greenwood.max(0.0);
                let (lo, hi) = loglog_ci(s, v, z);
                KmEventRow {
                    time: e.time,
                    at_risk: e.at_risk.round() as u64,
                    events: e.events.round() as u64,
                    censored: spec
                        .censor_marks
                        .then(|| e.censored.round().max(0.0) as u64),
                    survival: s,
                    std_err: s * v.sqrt(),
                    ci_lower: lo,
                    ci_upper: hi,
                }
            })
            .collect();
        rows.sort_by(|a, b| a.time.total_cmp(&b.time));
        rows
    };
    let curves = cells
        .iter()
        .enumerate()
        .map(|(c, row)| KmCurve {
            group: labels.as_ref().map(|l| l[c].clone()),
            event_times: event_rows(c),
            median: medians.get(c).map(median::render),
            rows: row
                .iter()
                .zip(&spec.times)
                .map(|(cell, &time)| match cell {
                    Some(k) => {
                        let events = k.events.round().max(0.0) as u64;
                        let (s, v) = if events == 0 {
                            (1.0, 0.0)
                        } else if k.survival < ZERO_SURVIVAL {
                            (0.0, k.greenwood.max(0.0))
                        } else {
                            (k.survival.min(1.0), k.greenwood.max(0.0))
                        };
                        let (lo, hi) = loglog_ci(s, v, z);
                        KmRow {
                            time,
                            shown: true,
                            at_risk: Some(k.at_risk.round().max(0.0) as u64),
                            events: Some(events),
                            survival: Some(s),
                            std_err: Some(s * v.sqrt()),
                            ci_lower: Some(lo),
                            ci_upper: Some(hi),
                        }
                    }
                    None => KmRow::suppressed(time),
                })
                .collect(),
        })
        .collect();
    KmResult {
        group_column: spec.group.clone(),
        entry: spec.entry.clone(),
        n,
        conf_level: spec.conf_level,
        min_cell,
        min_events,
        curves,
    }
}

/// Suffix products `P[i] = Π_{j ≥ i} x[j]` of fixed-point factors (Hillis–Steele).
pub(crate) fn suffix_product(
    p: &mut Party,
    x: &AShare<u128>,
    blocks: usize,
) -> Result<AShare<u128>> {
    let len = x.len();
    let n = len / blocks;
    let one = encode::<u128>(1.0, p.frac_bits());
    let mut y = x.clone();
    let mut s = 1;
    while s < n {
        // Within each block, y[i] *= y[i + s] (1 beyond the block's end).
        let mv = |v: &[u128], pad: u128| -> Vec<u128> {
            (0..len)
                .map(|i| if i % n + s < n { v[i + s] } else { pad })
                .collect()
        };
        let pad_a = if p.id() == 0 { one } else { 0 };
        let pad_b = if p.id() == 2 { one } else { 0 };
        let moved = AShare {
            a: mv(&y.a, pad_a),
            b: mv(&y.b, pad_b),
        };
        y = p.mul_fix(&y, &moved)?;
        s *= 2;
    }
    Ok(y)
}

/// What the compute parties know of a Kaplan–Meier analysis and the recipient's tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KmPublic {
    /// The analysis.
    pub spec: KaplanMeierSpec,
    /// Fractional bits of the sealed values.
    pub frac_bits: u32,
    /// The group's levels (none: one curve).
    pub labels: Option<Vec<String>>,
    /// Complete cases (opened: documented leakage).
    pub n: u64,
    /// Smallest number at risk of a shown cell.
    pub min_cell: u64,
    /// Smallest number of events since the previous shown grid time of a shown cell.
    pub min_events: u64,
    /// Per grid time (outer) and level (inner): whether the cell is shown.
    pub shown: Vec<bool>,
    /// Rows of the event-time table (0 without `at_event_times`).
    pub event_rows: usize,
}

impl Tail for KmPublic {
    type Result = KmResult;

    /// Values: survival, Greenwood sum, at risk, events of every cell (zero where
    /// suppressed), each block in the order of `shown`; then the event-time table by
    /// column: time, at risk, events, survival, Greenwood sum, group (and, with
    /// `censor_marks`, censored).
    fn open(&self, vals: &[u128]) -> Result<KmResult> {
        let f = self.frac_bits;
        let k = self.labels.as_ref().map_or(1, Vec::len);
        let gsz = self.spec.times.len();
        let cells = gsz * k;
        let m = self.event_rows;
        let bad = || StatsError::Invalid("Kaplan-Meier: the sealed values do not fit".into());
        let med = if self.spec.median {
            median::sealed_len(k)
        } else {
            0
        };
        let width = if self.spec.censor_marks { 7 } else { 6 };
        if self.shown.len() != cells || vals.len() != 4 * cells + width * m + med {
            return Err(bad());
        }
        let out = open_cells(&vals[..4 * cells], &self.shown, k, f);
        let unit = f64::from(1u32 << GREENWOOD_BITS);
        let ev = &vals[4 * cells..4 * cells + width * m];
        let col = |j: usize, i: usize| ev[j * m + i];
        let medians = if self.spec.median {
            median::median_open(&vals[4 * cells + width * m..], k, f)
        } else {
            Vec::new()
        };
        let events = (0..m)
            .map(|i| {
                let group = col(5, i) as usize;
                if group >= k {
                    return Err(bad());
                }
                Ok(KmRawEvent {
                    time: decode(col(0, i), f),
                    at_risk: col(1, i) as f64,
                    events: col(2, i) as f64,
                    censored: if width == 7 { col(6, i) as f64 } else { 0.0 },
                    survival: decode(col(3, i), f),
                    greenwood: decode(col(4, i), f) / unit,
                    group,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(finish(
            &self.spec,
            self.labels.clone(),
            self.n,
            (self.min_cell, self.min_events),
            &out,
            &events,
            &medians,
        ))
    }
}

/// The grid cells of curves sealed as four blocks (survival, `2^G·` variance sum, at risk,
/// events; each block grid time by grid time, level by level, zero where suppressed) and
/// the shown mask: per level, per grid time, the cell or `None`. Kaplan–Meier's and
/// relative survival's tails.
pub(crate) fn open_cells(
    vals: &[u128],
    shown: &[bool],
    k: usize,
    f: u32,
) -> Vec<Vec<Option<KmRawCell>>> {
    let cells = shown.len();
    let gsz = cells / k.max(1);
    let unit = f64::from(1u32 << GREENWOOD_BITS);
    let mut out = vec![vec![None; gsz]; k];
    for gi in 0..gsz {
        for (c, row) in out.iter_mut().enumerate() {
            let j = gi * k + c;
            if shown[j] {
                row[gi] = Some(KmRawCell {
                    survival: decode(vals[j], f),
                    greenwood: decode(vals[cells + j], f) / unit,
                    at_risk: vals[2 * cells + j] as f64,
                    events: vals[3 * cells + j] as f64,
                });
            }
        }
    }
    out
}

/// Kaplan–Meier in MPC; see the module docs. Every compute party calls this with its shares;
/// the result ends sealed for the recipients.
pub fn kaplan_meier(
    p: &mut Party,
    frame: &Frame,
    spec: &KaplanMeierSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<KmPublic>> {
    check(spec, disclosure)?;
    let f = p.frac_bits();
    let min_cell = disclosure.min_cell_or(DEFAULT_MIN_CELL);
    let labels = match &spec.group {
        Some(g) => Some(frame.categorical(g)?.levels.to_vec()),
        None => None,
    };
    let gr = GroupedRisk::new(
        p,
        frame,
        &spec.time,
        &spec.event,
        // The stop records' flag only for the censoring marks (`GroupedRisk::leaving`).
        (spec.entry.as_deref(), spec.censor_marks),
        spec.group.as_deref(),
        None,
        disclosure,
    )?;
    let (k, total) = (gr.k, gr.total);
    // Records in risk-set order: the rows, or twice as many with delayed entry.
    let n = gr.risk.time.len();
    let (at, evs) = gr.rows();
    let (big_n, big_d, risk) = (&gr.at_risk, &gr.deaths, &gr.risk);
    let nn = AShare::concat(&big_n.iter().collect::<Vec<_>>());
    let dd = AShare::concat(&big_d.iter().collect::<Vec<_>>());
    // N - D = 0: the whole risk set dies (survival 0, no Greenwood term).
    let nd = nn.sub(&dd);
    let zero_bits = p.is_zero(&nd)?;
    let z: AShare<u128> = p.inject(&[&zero_bits], n * k)?.remove(0);
    // 2^G/N and 2^G/(N - D) keep the small Greenwood terms of large risk sets precise.
    let denoms = AShare::concat(&[&nn.shl(f), &nd.add(&z).shl(f)]);
    let recips = p.recip_pow2(&denoms, GREENWOOD_BITS)?;
    let parts = recips.split(&[n * k, n * k]);
    let q_g = p.mul(&dd, &parts[0])?; // 2^G·D/N, zero off group ends
    let keep = p.add_const(&z.neg(), 1);
    let qk = p.mul(&q_g, &keep)?;
    let g = p.mul_trunc(&qk, &parts[1], f + GREENWOOD_BITS)?; // 2^G·D/(N(N - D))
    let q = p.trunc(&q_g, GREENWOOD_BITS)?;
    let factor = p.add_const(&q.neg(), encode(1.0, f));
    let surv = suffix_product(p, &factor, k)?;
    let green = AShare::concat(
        &g.split(&vec![n; k])
            .iter()
            .map(suffix_sum)
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>(),
    );
    // Grid: le = [t ≤ τ] = [t < τ + ulp], lt = [t < τ], on the 64-bit time, compared in
    // chunks of grid times so that memory stays bounded (GRID_BATCH comparisons at a time)
    // whatever the grid. Per τ: the first-row indicator fo, the at-risk indicator ge, le
    // itself, and whether no row is ≤ τ (`none`, one element per τ). Their dot products
    // with each level's columns are local (3-out-of-3 parts) and shared back once.
    let t64 = low64(&risk.time);
    let gsz = spec.times.len();
    let per = (GRID_BATCH / (2 * n).max(1)).max(1);
    let mut parts: Vec<u128> = Vec::with_capacity(4 * gsz * k);
    let mut none = Vec::with_capacity(gsz);
    let surv_c = surv.split(&vec![n; k]);
    let green_c = green.split(&vec![n; k]);
    let sg: Vec<&AShare<u128>> = surv_c.iter().chain(&green_c).collect();
    for chunk in spec.times.chunks(per) {
        let m = chunk.len();
        let reps: Vec<&AShare<u64>> = std::iter::repeat_n(&t64, 2 * m).collect();
        let lhs = AShare::concat(&reps);
        let mut bounds = Vec::with_capacity(2 * m * n);
        for &tau in chunk {
            let e: u64 = encode(tau, f);
            bounds.extend(std::iter::repeat_n(e.wrapping_add(1), n));
            bounds.extend(std::iter::repeat_n(e, n));
        }
        let rhs = p.public(&bounds);
        let bits = p.lt(&lhs, &rhs)?;
        drop((lhs, rhs));
        let ind: AShare<u128> = p.inject(&[&bits], 2 * m * n)?.remove(0);
        for gi in 0..m {
            let le = ind.slice(2 * gi * n..(2 * gi + 1) * n);
            let lt = ind.slice((2 * gi + 1) * n..(2 * gi + 2) * n);
            let ge = p.add_const(&lt.neg(), 1);
            let fo = le.sub(&super::risk::shifted(&le, -1));
            none.push(p.add_const(&le.slice(n - 1..n).neg(), 1));
            let s_v = cross_parts(&[&fo], &sg, n); // S per level, then V per level
            let r = cross_parts(&[&ge], &at.iter().collect::<Vec<_>>(), n);
            let d = cross_parts(&[&le], &evs.iter().collect::<Vec<_>>(), n);
            for c in 0..k {
                parts.extend([s_v[c], s_v[k + c], r[c], d[c]]);
            }
        }
    }
    let dots = additive_to_replicated(p, &parts)?;
    // dots: per τ, per level: [S, V, at risk, events]; add 1 to S where no row is ≤ τ.
    let cells = gsz * k;
    let mut s_v = Vec::with_capacity(cells);
    let mut v_v = Vec::with_capacity(cells);
    let mut r_v = Vec::with_capacity(cells);
    let mut e_v = Vec::with_capacity(cells);
    for (gi, none_g) in none.iter().enumerate() {
        for c in 0..k {
            let b = 4 * (gi * k + c);
            s_v.push(dots.slice(b..b + 1).add(&none_g.shl(f)));
            v_v.push(dots.slice(b + 1..b + 2));
            r_v.push(dots.slice(b + 2..b + 3));
            e_v.push(dots.slice(b + 3..b + 4));
        }
    }
    let cat = |v: &[AShare<u128>]| AShare::concat(&v.iter().collect::<Vec<_>>());
    let (s_all, v_all, r_all, e_all) = (cat(&s_v), cat(&v_v), cat(&r_v), cat(&e_v));
    let shown = grid_rule(p, &r_all, &e_all, k, min_cell, disclosure.min_events)?;
    // Suppressed cells are zero before sealing (the pattern is public: a local product).
    let mask: Vec<u128> = shown.iter().map(|&b| u128::from(b)).collect();
    let mut values: Vec<AShare<u128>> = [&s_all, &v_all, &r_all, &e_all]
        .iter()
        .map(|v| v.mul_public(&mask))
        .collect();
    let mut event_rows = 0;
    if spec.at_event_times {
        let bn = AShare::concat(&big_n.iter().collect::<Vec<_>>());
        // With censor marks: the level's rows in each tie group, on its end row.
        let sizes = if spec.censor_marks {
            let leaving = gr.leaving(p)?;
            let per = risk.group_totals(p, &leaving)?;
            Some(AShare::concat(&per.iter().collect::<Vec<_>>()))
        } else {
            None
        };
        let (m, table) = event_table(
            p,
            &risk.time,
            (&bn, &dd),
            sizes.as_ref(),
            &[&surv, &green],
            k,
            min_cell,
        )?;
        event_rows = m;
        values.push(table);
    }
    if spec.median {
        values.push(median::median_mpc(
            p,
            &risk.time,
            big_n,
            big_d,
            &surv,
            &green,
            spec.conf_level,
            min_cell,
        )?);
    }
    // Sealed for the recipients: the cells (suppressed ones are zero) and the event table.
    let public = KmPublic {
        spec: spec.clone(),
        frac_bits: f,
        labels,
        n: total,
        min_cell,
        min_events: disclosure.min_events,
        shown,
        event_rows,
    };
    Sealed::new(
        p,
        public,
        &AShare::concat(&values.iter().collect::<Vec<_>>()),
    )
}

/// Which grid cells are shown (cell `gi·k + c`: grid time `gi`, level `c`), from the
/// shared numbers at risk `at_risk` and cumulative events `events` of every cell: a cell is
/// shown when at least `min_cell` are at risk and at least `min_events` events happened
/// since the previous *shown* time of its curve (or since the start). Without the second
/// rule a grid `1, 2, …, 300` walked every event time and its tie count.
///
/// Inside MPC: the at-risk bits are one batched comparison, opened (the suppression
/// pattern of `min_cell`, as before). Then, curve by curve and all curves at once, from the
/// last shown cell `j` (start: zero events) the bits `events[i] - events[j] ≥ min_events`
/// of every later cell with enough at risk are computed in one batched comparison and
/// opened. LEAKAGE: those bits. The cumulative events are non-decreasing along the grid,
/// so for a fixed `j` the bits are 0 up to the next shown cell and 1 from it: they say
/// exactly which cell is shown next, nothing more (and cells past the at-risk limit are
/// never compared). One comparison round trip per shown cell of the longest curve.
pub(crate) fn grid_rule(
    p: &mut Party,
    at_risk: &AShare<u128>,
    events: &AShare<u128>,
    k: usize,
    min_cell: u64,
    min_events: u64,
) -> Result<Vec<bool>> {
    let cells = at_risk.len();
    let ok = at_least(p, at_risk, min_cell)?;
    // LEAKAGE: whether each cell has at least min_cell at risk (the min_cell pattern).
    let risk_ok: Vec<bool> = p.reveal(&ok)?.iter().map(|&b| b == 1).collect();
    if min_events == 0 {
        return Ok(risk_ok);
    }
    let gsz = cells / k.max(1);
    let mut shown = vec![false; cells];
    // Per curve: the last shown grid index (None: the start, zero events) and whether the
    // curve may still show a cell.
    let mut last: Vec<Option<usize>> = vec![None; k];
    let mut open: Vec<bool> = vec![true; k];
    loop {
        // For every open curve, its candidate cells after its last shown one.
        let mut diffs: Vec<AShare<u128>> = Vec::new();
        let mut owner: Vec<(usize, usize)> = Vec::new(); // (curve, grid index)
        for c in 0..k {
            if !open[c] {
                continue;
            }
            let from = last[c].map_or(0, |g| g + 1);
            let cand: Vec<usize> = (from..gsz).filter(|&g| risk_ok[g * k + c]).collect();
            if cand.is_empty() {
                open[c] = false;
                continue;
            }
            for &g in &cand {
                let e = events.slice(g * k + c..g * k + c + 1);
                diffs.push(match last[c] {
                    Some(l) => e.sub(&events.slice(l * k + c..l * k + c + 1)),
                    None => e,
                });
                owner.push((c, g));
            }
        }
        if owner.is_empty() {
            break;
        }
        let d = AShare::concat(&diffs.iter().collect::<Vec<_>>());
        let bits = at_least(p, &d, min_events)?;
        // LEAKAGE: for each open curve, which later cells (with enough at risk) have
        // min_events events since its last shown cell: non-decreasing along the grid, so
        // this is the curve's next shown cell and nothing else.
        let bits = p.reveal(&bits)?;
        let mut found = vec![false; k];
        for (&(c, g), &b) in owner.iter().zip(&bits) {
            if b == 1 && !found[c] {
                found[c] = true;
                shown[g * k + c] = true;
                last[c] = Some(g);
            }
        }
        for c in 0..k {
            if open[c] && !found[c] {
                open[c] = false;
            }
        }
    }
    Ok(shown)
}

/// The same rule on plaintext cells (the twin): per curve, in grid order.
fn grid_rule_plain(cells: &[Vec<KmRawCell>], min_cell: u64, min_events: u64) -> Vec<Vec<bool>> {
    cells
        .iter()
        .map(|row| {
            let mut last = 0.0;
            row.iter()
                .map(|c| {
                    let show = c.at_risk >= min_cell as f64
                        && (min_events == 0 || c.events - last >= min_events as f64);
                    if show {
                        last = c.events;
                    }
                    show
                })
                .collect()
        })
        .collect()
}

/// The curve at every event time with at least `min_cell` at risk: the rows (one per group
/// and row of the risk order; `n_c`, `d_c` and the estimate's `values` per group, blocks of
/// `n`) are shuffled, then whether each is an event time to show is opened, and the shown
/// rows' values are gathered (still shared), by column: time, at risk, events, the
/// `values` in order, group. With `sizes` (each tie group's rows of the level, on its end row:
/// censor marks), a row is shown where anybody of the level leaves the risk set, and the
/// number censored (`sizes - d_c`) is a last column. Returns their number and the gathered
/// columns. LEAKAGE: the number of shown rows (the table's size); the shuffle hides where
/// they were in the risk order, and their values stay shared.
///
/// The estimate's columns are `values` (each one per group and row, blocks of `n`, as
/// `big_n`): Kaplan–Meier passes survival and Greenwood sum; the cumulative incidence
/// ([`super::cuminc`]) its estimates and variances per cause.
pub(crate) fn event_table(
    p: &mut Party,
    time: &AShare<u128>,
    (big_n, big_d): (&AShare<u128>, &AShare<u128>),
    sizes: Option<&AShare<u128>>,
    values: &[&AShare<u128>],
    k: usize,
    min_cell: u64,
) -> Result<(usize, AShare<u128>)> {
    let n = time.len();
    let no_events = p.is_zero(sizes.unwrap_or(big_d))?;
    let no_events: AShare<u128> = p.inject(&[&no_events], n * k)?.remove(0);
    let has = p.add_const(&no_events.neg(), 1);
    let enough = crate::disclosure::at_least(p, big_n, min_cell)?;
    let sel = p.mul(&has, &enough)?;
    let reps: Vec<&AShare<u128>> = std::iter::repeat_n(time, k).collect();
    let times = AShare::concat(&reps);
    let group: Vec<u128> = (0..k)
        .flat_map(|c| std::iter::repeat_n(c as u128, n))
        .collect();
    let group = p.public(&group);
    let mut cols = vec![sel, times, big_n.clone(), big_d.clone()];
    cols.extend(values.iter().map(|&v| v.clone()));
    cols.push(group);
    if let Some(sizes) = sizes {
        cols.push(sizes.sub(big_d));
    }
    let table = Table::new(vec![], cols)?;
    let t = p.shuffle(&table)?;
    // Opened: which shuffled rows are shown event times (their number is the table's size).
    let shown = p.reveal(&t.c128[0])?;
    let idx: Vec<u32> = (0..n * k)
        .filter(|&i| shown[i] == 1)
        .map(|i| i as u32)
        .collect();
    let picked = t.gather(&idx);
    Ok((
        idx.len(),
        AShare::concat(&picked.c128[1..].iter().collect::<Vec<_>>()),
    ))
}

/// The plaintext twin, with the same disclosure control.
pub fn kaplan_meier_plain(
    frame: &crate::table::PlainFrame,
    spec: &KaplanMeierSpec,
    disclosure: &Disclosure,
) -> Result<KmResult> {
    check(spec, disclosure)?;
    let min_cell = disclosure.min_cell_or(DEFAULT_MIN_CELL);
    let raw = super::plain::kaplan_meier(frame, spec)?;
    let labels = match &spec.group {
        Some(g) => Some(frame.categorical(g)?.0.to_vec()),
        None => None,
    };
    let total =
        super::plain::complete_count(frame, super::plain::km_outcome(spec), spec.group.as_deref())?;
    disclosure.check_rows(total as usize)?;
    let shown = grid_rule_plain(&raw.cells, min_cell, disclosure.min_events);
    let cells: Vec<Vec<Option<KmRawCell>>> = raw
        .cells
        .iter()
        .zip(&shown)
        .map(|(row, sh)| row.iter().zip(sh).map(|(c, &s)| s.then_some(*c)).collect())
        .collect();
    let all_events = if spec.at_event_times || spec.median {
        super::plain::kaplan_meier_events(frame, spec)?
    } else {
        Vec::new()
    };
    let events: Vec<KmRawEvent> = if spec.at_event_times {
        all_events
            .iter()
            .filter(|e| e.at_risk >= min_cell as f64)
            .copied()
            .collect()
    } else {
        Vec::new()
    };
    let medians = if spec.median {
        let with_events: Vec<KmRawEvent> = all_events
            .iter()
            .filter(|e| e.events > 0.0)
            .copied()
            .collect();
        median::median_plain(&with_events, cells.len(), spec.conf_level, min_cell)
    } else {
        Vec::new()
    };
    Ok(finish(
        spec,
        labels,
        total,
        (min_cell, disclosure.min_events),
        &cells,
        &events,
        &medians,
    ))
}

impl KmResult {
    /// Whether the event-time rows carry the number censored (`censor_marks`).
    fn censor_marks(&self) -> bool {
        self.curves
            .iter()
            .flat_map(|c| &c.event_times)
            .any(|r| r.censored.is_some())
    }
}

impl fmt::Display for KmResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Kaplan-Meier estimate ({} complete cases; cells with fewer than {} at risk suppressed)",
            self.n, self.min_cell
        )?;
        if self.min_events > 0 {
            writeln!(
                f,
                "(a grid time is shown only with at least {} events since the previous one shown)",
                self.min_events
            )?;
        }
        if let Some(e) = &self.entry {
            writeln!(
                f,
                "(delayed entry: a row is at risk after {e} up to its time)"
            )?;
        }
        let pct = self.conf_level * 100.0;
        for c in &self.curves {
            if let (Some(col), Some(g)) = (&self.group_column, &c.group) {
                writeln!(f, "\n  {col} = {g}")?;
            } else {
                writeln!(f)?;
            }
            writeln!(
                f,
                "  {:>10} {:>8} {:>10} {:>10} {:>9} {:>10} {:>10}",
                "time",
                "at_risk",
                "cum_events",
                "survival",
                "std_err",
                format!("lower {pct:.0}%"),
                format!("upper {pct:.0}%")
            )?;
            for r in &c.rows {
                match (
                    r.at_risk, r.events, r.survival, r.std_err, r.ci_lower, r.ci_upper,
                ) {
                    (Some(a), Some(e), Some(s), Some(se), Some(lo), Some(hi)) => writeln!(
                        f,
                        "  {:>10} {a:>8} {e:>10} {s:>10.6} {se:>9.6} {lo:>10.6} {hi:>10.6}",
                        r.time
                    )?,
                    _ => writeln!(
                        f,
                        "  {:>10} {:>8} {:>10} {:>10} {:>9} {:>10} {:>10}",
                        r.time,
                        format!("<{}", self.min_cell),
                        "-",
                        "suppressed",
                        "-",
                        "-",
                        "-"
                    )?,
                }
            }
            if let Some(m) = &c.median {
                writeln!(
                    f,
                    "  median {} ({pct:.0}% CI {} to {})",
                    m.median_text(0),
                    m.median_text(1),
                    m.median_text(2)
                )?;
            }
            if !c.event_times.is_empty() {
                if self.censor_marks() {
                    writeln!(f, "  at each event or censoring time (events, censored):")?;
                } else {
                    writeln!(f, "  at each event time:")?;
                }
                for r in &c.event_times {
                    let counts = match r.censored {
                        Some(c) => format!("{:>7} {c:>8}", r.events),
                        None => format!("{:>7}", r.events),
                    };
                    writeln!(
                        f,
                        "  {:>10} {:>8} {counts} {:>10.6} {:>9.6} {:>10.6} {:>10.6}",
                        r.time, r.at_risk, r.survival, r.std_err, r.ci_lower, r.ci_upper
                    )?;
                }
            }
        }
        Ok(())
    }
}
