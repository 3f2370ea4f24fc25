//! Relative survival by the Ederer II method in MPC, exactly as `relsurv::rs.surv(...,
//! method = "ederer2")` computes it (daily population rates, the Kaplan–Meier-type product).
//!
//! # The estimator
//!
//! Per group, with `t_1 < t_2 < …` the group's distinct follow-up times (whole days) and
//! `t_0 = 0`: `Y_j` patients with `T ≥ t_j`, `d_j` deaths at `t_j`, and the expected deaths
//! `E_j = Σ_{T_i ≥ t_j} (H_i(t_j) − H_i(t_{j−1}))`, where `H_i(t) = Σ_{day d < t} λ_i(d)` is
//! patient `i`'s expected cumulative hazard from the life table ([`super::path`]). Then
//! `S(t) = Π_{t_j ≤ t} (1 − (d_j − E_j)/Y_j)` and its standard error (on the log scale, as
//! relsurv's `std.err`) `√(Σ_{t_j ≤ t} d_j/Y_j²)`. At a grid time `τ` the values at the last
//! `t_j ≤ τ` (R's `summary(fit, times = τ)`).
//!
//! # Protocol
//!
//! The expected deaths need, at every follow-up time `t`, the sum over the patients still
//! at risk of a function of `t` that is piecewise linear with each patient's own kinks. With
//! `C(t) = Σ_i H_i(min(t, T_i))` (so that `E_j = C(t_j) − C(t_{j−1})`):
//!
//! `C(t) = Σ_{records r with time_r ≤ t} (a_r − t·b_r) + t·L`,
//!
//! where every patient is one *exit record* at `T_i` (`b = λ_i(0) + Σ Δ'`, `a = T_i·b`) and
//! one *kink record* per slot at `κ` (`b = −Δ'`, `a = −Δ'·κ`), `Δ' = Δ·[κ < T_i]` (a kink after
//! the exit does not count), and `L = Σ_i λ_i(0)`. A record at exactly `t` adds zero, so ties
//! need no care. Inside MPC:
//! 1. `[κ < T]` for every kink slot (one batched comparison), `Δ'` and `Δ'·κ` (two rounds of
//!    products), each patient's `b` and `a` (one round);
//! 2. the `n·(1 + slots)` records sorted by time, descending (one oblivious sort,
//!    [`tessera_mpc::sort`], of 40-bit keys: the groups are kept apart by weighting each
//!    record's `a` and `b` with its group's indicator, not by the key); `Σ_{time_r ≤ t}` are
//!    local suffix sums per group, `L` per group a sum before the sort; each group's `C`
//!    at every record (one round of products);
//! 3. the exit records taken out: the records are shuffled and their exit flags opened
//!    (LEAKAGE: none; the flags of `n` exit records among `n·(1 + slots)` uniformly shuffled
//!    ones are a uniformly random subset of known size); the exits are sorted by (group,
//!    time) into the risk order of [`crate::survival::risk`], whose tie groups are the
//!    `t_j`; at each tie group's end `E_j = C(t_j) − C` of the next row (the previous time,
//!    or zero at the group's earliest), `Y_j` a prefix count, `d_j` a group total;
//! 4. the factors `1 − (d_j − E_j)/Y_j` (one reciprocal), suffix products within each group
//!    (a Hillis–Steele scan that stops at group boundaries), suffix sums of `d_j/Y_j²`; the
//!    grid as in Kaplan–Meier ([`crate::survival::km`]): the first row at or below `τ`
//!    picked by comparisons and dot products, `min_cell` and `min_events` inside MPC.
//!
//! # What the compute parties learn
//!
//! The number of complete cases (rows with a time of 0 are not: relsurv drops them); one bit "every complete case has a whole, non-negative (and below [`MAX_DAYS`])
//! number of days of follow-up" (refused otherwise); with a group, one bit "every level has
//! a complete case"; the scan depth of the exit order's tie groups (`⌈log2 g⌉` for the
//! largest number `g` of patients of one group sharing a follow-up time, as Kaplan–Meier);
//! the suppression pattern of the grid. Nothing about the kinks (their order is hidden by
//! the sort, their count is public).

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::encode;
use tessera_mpc::sort::SortOptions;
use tessera_mpc::{AShare, Party, Table};

use crate::describe::{additive_to_replicated, cross_parts};
use crate::disclosure::{every_at_least, Disclosure};
use crate::dist::normal_quantile;
use crate::error::{Result, StatsError};
use crate::sealed::{Sealed, Tail};
use crate::survival::km::{
    grid_rule, open_cells, KmRawCell, KmRow, DEFAULT_MIN_CELL, GREENWOOD_BITS,
};
use crate::survival::risk::{adjacent_equal, indicator, low64, shifted, suffix_sum, RiskOrder};
use crate::table::Frame;

use super::path::RATE_BITS;

/// Longest follow-up accepted (days): times below 2^15 days keep the fixed-point sort keys
/// below 2^39 (`f` = 24), the 40-bit range the record sort declares.
pub const MAX_DAYS: f64 = 32_767.0;

/// An Ederer II analysis on shared columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdererSpec {
    /// Follow-up time in whole days.
    pub time: String,
    /// Event column (1 = death).
    pub event: String,
    /// Group column (categorical), one curve per level; none: one curve.
    pub group: Option<String>,
    /// Prefix of the path columns ([`super::path::path_columns`]).
    pub path: String,
    /// Kink slots per patient ([`super::path::kink_slots`] of the grid's last time).
    pub slots: usize,
    /// Grid times (days), strictly increasing.
    pub times: Vec<f64>,
    /// Confidence level of the intervals.
    pub conf_level: f64,
}

/// One curve.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RelsurvCurve {
    /// The group level (none: everybody).
    pub group: Option<String>,
    /// One row per grid time (as Kaplan–Meier's: its standard error is that of the
    /// survival, `S·σ` with σ the standard error of `log S`, as relsurv's summary prints).
    pub rows: Vec<KmRow>,
}

/// The result of a relative survival analysis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RelsurvResult {
    /// The method (`ederer2` or `pohar-perme`, relsurv's names).
    pub method: String,
    /// The life table's name, as the study names it (set by the study's analysis).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub life_table: Option<String>,
    /// The group column, if any.
    pub group_column: Option<String>,
    /// Complete cases.
    pub n: u64,
    /// Confidence level.
    pub conf_level: f64,
    /// The curves.
    pub curves: Vec<RelsurvCurve>,
}

impl std::fmt::Display for RelsurvResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Relative survival ({}), {} patients, {:.0}% intervals (log)",
            self.method,
            self.n,
            100.0 * self.conf_level
        )?;
        if let Some(t) = &self.life_table {
            writeln!(f, "life table: {t}")?;
        }
        for c in &self.curves {
            if let (Some(col), Some(g)) = (&self.group_column, &c.group) {
                writeln!(f, "{col} = {g}")?;
            }
            writeln!(
                f,
                "{:>8} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9}",
                "time", "n.risk", "events", "survival", "std.err", "lower", "upper"
            )?;
            for r in &c.rows {
                match (
                    r.at_risk, r.events, r.survival, r.std_err, r.ci_lower, r.ci_upper,
                ) {
                    (Some(n), Some(e), Some(s), Some(se), Some(lo), Some(hi)) => writeln!(
                        f,
                        "{:>8} {n:>8} {e:>7} {s:>9.5} {se:>9.5} {lo:>9.5} {hi:>9.5}",
                        r.time
                    )?,
                    _ => writeln!(f, "{:>8} {:>8}", r.time, "(suppressed)")?,
                }
            }
        }
        Ok(())
    }
}

/// Refusals before any data is read: an empty or unordered grid, a confidence level outside
/// (0, 1), too few kink slots for the grid's last time.
pub fn check(spec: &EdererSpec) -> Result<()> {
    let bad = |m: &str| Err(StatsError::Invalid(format!("relsurv: {m}")));
    if spec.times.is_empty() {
        return bad("`times` must name at least one grid time (days)");
    }
    if spec.times.iter().any(|t| !t.is_finite() || *t <= 0.0)
        || spec.times.windows(2).any(|w| w[0] >= w[1])
    {
        return bad("`times` must be positive and strictly increasing (days)");
    }
    if spec.times.last().copied().unwrap_or(0.0) > 36_525.0 {
        return bad("`times` beyond 100 years");
    }
    if !(spec.conf_level > 0.0 && spec.conf_level < 1.0) {
        return bad("`conf_level` must lie in (0, 1)");
    }
    let last = spec.times.last().expect("checked").ceil() as u32;
    if spec.slots < super::path::kink_slots(last) {
        return bad("fewer kink slots than the grid's last time needs");
    }
    Ok(())
}

/// The rows of the result from the computed cells (`None`: suppressed).
pub(crate) fn finish(
    method: &str,
    (times, conf_level, group): (&[f64], f64, Option<String>),
    labels: Option<Vec<String>>,
    n: u64,
    cells: &[Vec<Option<KmRawCell>>],
) -> RelsurvResult {
    let z = normal_quantile(0.5 + conf_level / 2.0);
    let curves = cells
        .iter()
        .enumerate()
        .map(|(c, row)| RelsurvCurve {
            group: labels.as_ref().map(|l| l[c].clone()),
            rows: row
                .iter()
                .zip(times)
                .map(|(cell, &time)| match cell {
                    Some(k) => {
                        let se = k.greenwood.max(0.0).sqrt();
                        let s = k.survival;
                        let (lo, hi) = if s > 0.0 {
                            ((s.ln() - z * se).exp(), (s.ln() + z * se).exp())
                        } else {
                            (f64::NAN, f64::NAN)
                        };
                        KmRow {
                            time,
                            shown: true,
                            at_risk: Some(k.at_risk.round().max(0.0) as u64),
                            events: Some(k.events.round().max(0.0) as u64),
                            survival: Some(s),
                            std_err: Some(s * se),
                            ci_lower: Some(lo),
                            ci_upper: Some(hi),
                        }
                    }
                    None => KmRow::suppressed(time),
                })
                .collect(),
        })
        .collect();
    RelsurvResult {
        method: method.into(),
        life_table: None,
        group_column: group,
        n,
        conf_level,
        curves,
    }
}

/// What the compute parties know of the analysis and the recipient's tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdererPublic {
    /// The analysis.
    pub spec: EdererSpec,
    /// Fractional bits of the sealed values.
    pub frac_bits: u32,
    /// The group's levels (none: one curve).
    pub labels: Option<Vec<String>>,
    /// Complete cases (opened).
    pub n: u64,
    /// Per grid time (outer) and level (inner): whether the cell is shown.
    pub shown: Vec<bool>,
}

impl Tail for EdererPublic {
    type Result = RelsurvResult;

    /// Values: survival, `2^G·Σ d/Y²`, at risk, deaths of every cell (zero where
    /// suppressed), each block in the order of `shown`.
    fn open(&self, vals: &[u128]) -> Result<RelsurvResult> {
        open_result(
            "ederer2",
            (
                &self.spec.times,
                self.spec.conf_level,
                self.spec.group.clone(),
            ),
            (self.labels.clone(), self.n, &self.shown, self.frac_bits),
            vals,
        )
    }
}

/// The recipient's tail of either method: the four sealed blocks of every cell (survival,
/// the variance sum, at risk, deaths; in the order of `shown`) to the result's rows. Errors
/// when the values do not fit the public facts.
pub(crate) fn open_result(
    method: &str,
    grid: (&[f64], f64, Option<String>),
    (labels, n, shown, frac_bits): (Option<Vec<String>>, u64, &[bool], u32),
    vals: &[u128],
) -> Result<RelsurvResult> {
    let k = labels.as_ref().map_or(1, Vec::len);
    let cells = grid.0.len() * k;
    if shown.len() != cells || vals.len() != 4 * cells {
        return Err(StatsError::Invalid(
            "relsurv: the sealed values do not fit".into(),
        ));
    }
    let out = open_cells(vals, shown, k, frac_bits);
    Ok(finish(method, grid, labels, n, &out))
}

/// `Π_{j ≥ i, j in i's block} x[j]` for fixed-point factors in blocks of equal group:
/// `same[i] = [rows i and i + 1 are in one block]` (integers). A Hillis–Steele scan whose
/// step at distance `s` multiplies in `x[i + s]` only when rows `i..=i + s` are one block.
fn suffix_product_within(
    p: &mut Party,
    x: &AShare<u128>,
    same: &AShare<u128>,
) -> Result<AShare<u128>> {
    let n = x.len();
    let one = encode::<u128>(1.0, p.frac_bits());
    let mut y = x.clone();
    let mut flag = same.clone();
    let mut s = 1usize;
    while s < n {
        // moved[i] = flag[i]·(y[i + s] − 1) + 1, and the next level's flags.
        let ys = p.add_const(&shifted(&y, s as isize), one.wrapping_neg());
        let fs = shifted(&flag, s as isize);
        let mut prods = p.mul_many(&[(&flag, &ys), (&flag, &fs)])?;
        let next = prods.pop().expect("two products");
        let moved = p.add_const(&prods.pop().expect("two products"), one);
        y = p.mul_fix(&y, &moved)?;
        flag = next;
        s *= 2;
    }
    Ok(y)
}

/// The complete cases of a relative survival analysis (Ederer II and Pohar Perme share
/// them): follow-up, event and the path present, with a group level if there is a group,
/// and a positive follow-up time.
pub(crate) struct Cases {
    /// The follow-up times (fixed point, whole days once checked).
    pub t: AShare<u128>,
    /// 1 for a complete case.
    pub used: AShare<u128>,
    /// 1 for a complete case that died.
    pub dead: AShare<u128>,
    /// The group's levels (none: one curve).
    pub labels: Option<Vec<String>>,
    /// Per level, 1 for its complete cases; then `1 − used` (the rest).
    pub hs: Vec<AShare<u128>>,
    /// The number of complete cases (opened).
    pub total: u64,
}

/// Finds the complete cases (`present`: the path's presence) and refuses follow-up times
/// that are not whole days in `[0, MAX_DAYS)`, too few rows for `disclosure` and levels
/// without a complete case. LEAKAGE: the bits and the count named in the body.
pub(crate) fn complete_cases(
    p: &mut Party,
    frame: &Frame,
    (time, event, group): (&str, &str, Option<&str>),
    rp: &AShare<u128>,
    disclosure: &Disclosure,
) -> Result<Cases> {
    let f = p.frac_bits();
    let n = frame.rows;
    let (t, tp) = frame.numeric(time)?;
    let (e, ep) = frame.numeric(event)?;
    let mut used = p.mul(tp, ep)?;
    used = p.mul(&used, rp)?;
    let (labels, levels) = match group {
        Some(g) => {
            let c = frame.categorical(g)?;
            used = p.mul(&used, c.present)?;
            (Some(c.levels.to_vec()), c.onehot.to_vec())
        }
        None => (None, vec![p.public(&vec![1u128; n])]),
    };
    // Whole, non-negative days: t·2^(128−f) is zero iff t's fraction bits are, and the sign.
    // A time of 0 takes no part (relsurv's `rformulate` keeps `time > 0`).
    let whole = p.is_zero(&t.shl(128 - f))?;
    let zero = p.is_zero(t)?;
    let neg = p.msb(&low64(t))?;
    // Below MAX_DAYS: the sort below takes 40-bit keys (times below 2^39 in fixed point).
    let bound = p.public(&vec![encode::<u64>(MAX_DAYS, f); n]);
    let below = p.lt(&low64(t), &bound)?;
    let mut bits: Vec<AShare<u128>> = p.inject(&[&whole, &zero, &neg, &below], n)?;
    let (below, neg, zero, whole) = (
        bits.pop().expect("four"),
        bits.pop().expect("four"),
        bits.pop().expect("four"),
        bits.pop().expect("four"),
    );
    let nonzero = p.add_const(&zero.neg(), 1);
    used = p.mul(&used, &nonzero)?;
    let pos = p.add_const(&neg.neg(), 1);
    let pos_below = p.mul(&pos, &below)?;
    let ok = p.mul(&whole, &pos_below)?;
    let not_ok = p.add_const(&ok.neg(), 1);
    let bad = p.mul(&used, &not_ok)?;
    // LEAKAGE: one bit, "every complete case has a whole, non-negative number of days below
    // MAX_DAYS".
    let none_bad = p.is_zero(&bad.sum())?;
    if p.reveal_bits(&none_bad)?[0] & 1 == 0 {
        return Err(StatsError::Invalid(
            "relsurv: follow-up times must be whole, non-negative numbers of days (as \
             relsurv's daily rates assume), below 32,767 days (about 89 years)"
                .into(),
        ));
    }
    // Opened: the number of complete cases (named in the results).
    let total = p.reveal(&used.sum())?[0] as u64;
    disclosure.check_rows(total as usize)?;
    let ev = indicator(p, e)?;
    let mut pairs: Vec<(&AShare<u128>, &AShare<u128>)> =
        levels.iter().map(|h| (h, &used)).collect();
    pairs.push((&ev, &used));
    let mut hs = p.mul_many(&pairs)?;
    let dead = hs.pop().expect("events");
    if let Some(g) = group {
        let sums: Vec<AShare<u128>> = hs.iter().map(AShare::sum).collect();
        let counts = AShare::concat(&sums.iter().collect::<Vec<_>>());
        disclosure.check_level_rows(p, &counts, g)?;
        // LEAKAGE: one bit, "every level of the group has a complete case" (as Kaplan–Meier).
        if !every_at_least(p, &counts, 1)? {
            return Err(StatsError::Invalid(format!(
                "a level of {g} has no complete cases: drop it from the study's levels"
            )));
        }
    }
    // The rows that are not complete cases form a stratum of their own, never read.
    hs.push(p.add_const(&used.neg(), 1));
    Ok(Cases {
        t: t.clone(),
        used,
        dead,
        labels,
        hs,
        total,
    })
}

/// Ederer II relative survival in MPC; see the module docs. Every compute party calls this
/// with its shares; the result ends sealed for the recipients.
pub fn ederer2(
    p: &mut Party,
    frame: &Frame,
    spec: &EdererSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<EdererPublic>> {
    check(spec)?;
    let f = p.frac_bits();
    let n = frame.rows;
    let slots = spec.slots;
    let min_cell = disclosure.min_cell_or(DEFAULT_MIN_CELL);
    let (rate0, rp) = frame.numeric(&format!("{}.rate0", spec.path))?;
    let mut kappa = Vec::with_capacity(slots);
    let mut delta = Vec::with_capacity(slots);
    for j in 0..slots {
        kappa.push(frame.numeric(&format!("{}.k{j}", spec.path))?.0.clone());
        delta.push(frame.numeric(&format!("{}.d{j}", spec.path))?.0.clone());
    }
    let Cases {
        t,
        used,
        dead,
        labels,
        hs,
        total,
    } = complete_cases(
        p,
        frame,
        (&spec.time, &spec.event, spec.group.as_deref()),
        rp,
        disclosure,
    )?;
    let t = &t;
    let k = hs.len() - 1;

    // 1. Kinks after the exit do not count: Δ' = Δ·[κ < T], then Δ'·κ; b and a per patient.
    let t64 = low64(t);
    let lhs = AShare::concat(
        &kappa
            .iter()
            .map(low64)
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>(),
    );
    let rhs = AShare::concat(&vec![&t64; slots]);
    let before = p.lt(&lhs, &rhs)?;
    drop((lhs, rhs));
    let before: AShare<u128> = p.inject(&[&before], n * slots)?.remove(0);
    let dcat = AShare::concat(&delta.iter().collect::<Vec<_>>());
    let dprime = p.mul(&dcat, &before)?;
    let kcat = AShare::concat(&kappa.iter().collect::<Vec<_>>());
    let dk = p.mul(&dprime, &kcat)?; // scale 2^(f + f + RATE_BITS)
    let parts = dprime.split(&vec![n; slots]);
    let b_exit = parts.iter().fold(rate0.clone(), |acc, d| acc.add(d));
    let a_exit = p.mul(t, &b_exit)?;

    // 2. The records in descending time order; each level's C at every record.
    let rows = n * (1 + slots);
    let reps = |x: &AShare<u128>| AShare::concat(&vec![x; 1 + slots]);
    // The records' times; rows that are not complete cases and kinks after the exit (whose
    // weights are zero) at time 0, so that every key lies in the sort's declared range.
    let mut masked = p.mul_many(&[(t, &used), (&kcat, &before)])?;
    let kcat_m = masked.pop().expect("two");
    let t_m = masked.pop().expect("two");
    let time_m = AShare::concat(&[&t_m, &kcat_m]);
    let a_m = AShare::concat(&[&a_exit, &dk.neg()]);
    let b_m = AShare::concat(&[&b_exit, &dprime.neg()]);
    let mut exit_flag = vec![0u128; rows];
    exit_flag[..n].fill(1);
    let x_m = p.public(&exit_flag);
    let ev_m = AShare::concat(&[&dead, &AShare::zeros(n * slots)]);
    let strata_m: Vec<AShare<u128>> = hs.iter().map(reps).collect();
    // Per level c: a·h_c and b·h_c on every record, and L_c = Σ_{level c} λ(0) (a public
    // position's sum, before the sort).
    let mut pairs: Vec<(&AShare<u128>, &AShare<u128>)> = Vec::with_capacity(2 * k + k);
    for h in &strata_m[..k] {
        pairs.push((&a_m, h));
        pairs.push((&b_m, h));
    }
    for h in &hs[..k] {
        pairs.push((rate0, h));
    }
    let mut weighted = p.mul_many(&pairs)?;
    let l_rows = weighted.split_off(2 * k);
    // One sort by time alone (descending; keys below 2^39 in magnitude, so 40 bits), the
    // levels kept apart by the weights.
    let opts = SortOptions {
        key_bits: 40,
        ..SortOptions::default()
    };
    let perm = p.sort_perm(&low64(&time_m.neg()), opts)?;
    let mut cols = vec![time_m, x_m, ev_m];
    cols.extend(weighted);
    cols.extend(strata_m);
    let sorted = p.apply_sort(&perm, &Table::new(vec![], cols)?)?;
    let mut c = sorted.c128;
    let strata_s = c.split_off(3 + 2 * k);
    // C_c at each record: Σ_{records at or after it, level c} (a − t·b) + t·L_c, scale
    // 2^(2f + RATE_BITS).
    let mut lb = Vec::with_capacity(k);
    let mut sums = Vec::with_capacity(k);
    for (ci, l) in l_rows.iter().enumerate() {
        let l_c = l.sum();
        let b_suf = suffix_sum(&c[3 + 2 * ci + 1]);
        lb.push(b_suf.sub(&AShare {
            a: vec![l_c.a[0]; rows],
            b: vec![l_c.b[0]; rows],
        }));
        sums.push(suffix_sum(&c[3 + 2 * ci]));
    }
    let pairs: Vec<_> = lb.iter().map(|x| (&c[0], x)).collect();
    let tb = p.mul_many(&pairs)?;
    let cs: Vec<AShare<u128>> = sums.iter().zip(&tb).map(|(a, b)| a.sub(b)).collect();

    // 3. The exit records, in the risk order of their own.
    let mut moved = vec![c[0].clone(), c[2].clone(), c[1].clone()];
    moved.extend(cs);
    moved.extend(strata_s);
    let shuffled = p.shuffle(&Table::new(vec![], moved)?)?;
    let mut sc = shuffled.c128;
    // LEAKAGE: none beyond n: the exit flags of uniformly shuffled records are a uniformly
    // random n-subset of the positions.
    let flags = p.reveal(&sc[2])?;
    let idx: Vec<u32> = (0..rows as u32)
        .filter(|&i| flags[i as usize] == 1)
        .collect();
    if idx.len() != n {
        return Err(StatsError::Invalid("relsurv: exit records lost".into()));
    }
    let picked = Table::new(vec![], std::mem::take(&mut sc))?.gather(&idx);
    let mut pc = picked.c128;
    let strata_x = pc.split_off(3 + k);
    let cs_x = pc.split_off(3);
    // The exit's own level's C.
    let pairs: Vec<_> = cs_x.iter().zip(&strata_x).collect();
    let own = p
        .mul_many(&pairs)?
        .iter()
        .fold(AShare::zeros(n), |acc, x| acc.add(x));
    let risk = RiskOrder::stratified(p, &pc[0], &strata_x, &[own, pc[1].clone()])?;
    let (cx, dx) = (&risk.cols[0], &risk.cols[1]);
    let ones = p.public(&vec![1u128; n]);
    let at = risk.within_prefix(p, &[ones])?.remove(0);
    let d = risk.group_totals(p, std::slice::from_ref(dx))?.remove(0);
    let code = risk
        .strata
        .iter()
        .enumerate()
        .skip(1)
        .fold(AShare::zeros(n), |acc, (s, h)| {
            acc.add(&h.mul_const(s as u128))
        });
    let same = adjacent_equal(p, &low64(&code))?;
    let c_prev = p.mul(&same, &shifted(cx, 1))?;
    let expected = p.trunc(&cx.sub(&c_prev), f + RATE_BITS)?;

    // 4. Factors, products, the variance sums.
    let r = p.recip_pow2(&at.shl(f), GREENWOOD_BITS)?; // 2^G/Y
    let num = d.shl(f).sub(&expected);
    let mut prods = p.mul_many(&[(&num, &risk.end), (&d, &r)])?;
    let dr = prods.pop().expect("two");
    let num_end = prods.pop().expect("two");
    let mut tr = p.mul_trunc_many(&[(&num_end, &r), (&dr, &r)], f + GREENWOOD_BITS)?;
    let g = tr.pop().expect("two"); // 2^G·d/Y², fixed point
    let haz = tr.pop().expect("two");
    let factor = p.add_const(&haz.neg(), encode(1.0, f));
    let surv = suffix_product_within(p, &factor, &same)?;
    let var = risk.within_suffix(p, &[g])?.remove(0);

    // The grid: le = [t ≤ τ], lt = [t < τ]; the first row at or below τ in its group.
    let tx = low64(&risk.time);
    let gsz = spec.times.len();
    let lhs = AShare::concat(&vec![&tx; 2 * gsz]);
    let mut bounds = Vec::with_capacity(2 * gsz * n);
    for &tau in &spec.times {
        let e: u64 = encode(tau, f);
        bounds.extend(std::iter::repeat_n(e.wrapping_add(1), n));
        bounds.extend(std::iter::repeat_n(e, n));
    }
    let rhs = p.public(&bounds);
    let bits = p.lt(&lhs, &rhs)?;
    drop((lhs, rhs));
    let ind: AShare<u128> = p.inject(&[&bits], 2 * gsz * n)?.remove(0);
    let same_before = shifted(&same, -1);
    let mut le_prev = Vec::with_capacity(gsz);
    for gi in 0..gsz {
        le_prev.push(shifted(&ind.slice(2 * gi * n..(2 * gi + 1) * n), -1));
    }
    let pairs: Vec<_> = le_prev.iter().map(|l| (l, &same_before)).collect();
    let carried = p.mul_many(&pairs)?;
    let fos: Vec<AShare<u128>> = (0..gsz)
        .map(|gi| ind.slice(2 * gi * n..(2 * gi + 1) * n).sub(&carried[gi]))
        .collect();
    let mut pairs = Vec::with_capacity(2 * gsz);
    for fo in &fos {
        pairs.push((fo, &surv));
        pairs.push((fo, &var));
    }
    let picked = p.mul_many(&pairs)?;
    let hk: Vec<&AShare<u128>> = risk.strata[..k].iter().collect();
    // Deaths per row of each level (dx is zero outside complete cases).
    let mut parts: Vec<u128> = Vec::with_capacity(5 * gsz * k);
    for gi in 0..gsz {
        let lt = ind.slice((2 * gi + 1) * n..(2 * gi + 2) * n);
        let ge = p.add_const(&lt.neg(), 1);
        parts.extend(cross_parts(
            &[&picked[2 * gi], &picked[2 * gi + 1], &fos[gi], &ge],
            &hk,
            n,
        ));
    }
    // Deaths up to τ per level: Σ le·dx·h_c needs dx·h_c first (one round).
    let pairs: Vec<_> = hk.iter().map(|h| (*h, dx)).collect();
    let dxh = p.mul_many(&pairs)?;
    let dxh_refs: Vec<&AShare<u128>> = dxh.iter().collect();
    for gi in 0..gsz {
        let le = ind.slice(2 * gi * n..(2 * gi + 1) * n);
        parts.extend(cross_parts(&[&le], &dxh_refs, n));
    }
    let dots = additive_to_replicated(p, &parts)?;
    // dots: per τ: [S·h (k), V·h (k), fo·h (k), ge·h (k)]; then per τ: deaths (k).
    let cells = gsz * k;
    let mut s_v = Vec::with_capacity(cells);
    let mut v_v = Vec::with_capacity(cells);
    let mut r_v = Vec::with_capacity(cells);
    let mut e_v = Vec::with_capacity(cells);
    for gi in 0..gsz {
        let b = 4 * k * gi;
        for c in 0..k {
            // No row at or below τ in the level: survival 1.
            let none = p.add_const(&dots.slice(b + 2 * k + c..b + 2 * k + c + 1).neg(), 1);
            s_v.push(dots.slice(b + c..b + c + 1).add(&none.shl(f)));
            v_v.push(dots.slice(b + k + c..b + k + c + 1));
            r_v.push(dots.slice(b + 3 * k + c..b + 3 * k + c + 1));
            let de = 4 * k * gsz + k * gi + c;
            e_v.push(dots.slice(de..de + 1));
        }
    }
    let cat = |v: &[AShare<u128>]| AShare::concat(&v.iter().collect::<Vec<_>>());
    let (s_all, v_all, r_all, e_all) = (cat(&s_v), cat(&v_v), cat(&r_v), cat(&e_v));
    let shown = grid_rule(p, &r_all, &e_all, k, min_cell, disclosure.min_events)?;
    let mask: Vec<u128> = shown.iter().map(|&b| u128::from(b)).collect();
    let values: Vec<AShare<u128>> = [&s_all, &v_all, &r_all, &e_all]
        .iter()
        .map(|v| v.mul_public(&mask))
        .collect();
    let public = EdererPublic {
        spec: spec.clone(),
        frac_bits: f,
        labels,
        n: total,
        shown,
    };
    Sealed::new(
        p,
        public,
        &AShare::concat(&values.iter().collect::<Vec<_>>()),
    )
}
