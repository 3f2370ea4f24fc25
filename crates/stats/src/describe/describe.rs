//! Descriptive statistics of numeric columns, overall or per level of a categorical group
//! column: count, missing count, mean, variance, standard deviation, quantiles, histogram,
//! minimum and maximum.
//!
//! # Protocol (per analysis; `J` columns, `L` levels, `n` rows, `f` fractional bits)
//!
//! 1. `min_level_rows` (group only): the rows per level are local sums of the one-hot
//!    indicators; one comparison per level and one equality test; the pass bit is opened.
//! 2. `x²` of every column (one batched product, not truncated: exact at 2f fractional
//!    bits; one round, `J·n` elements), then one matrix product `[present_j; x_j; x_j²] (3J × n) · levels (n × L)`: counts,
//!    sums and sums of squares of every (column, level) cell, computed locally in one pass
//!    ([`super::cross_parts`]) and shared back ([`super::additive_to_replicated`]: 3
//!    rounds, `3JL` elements). The indicators are integers, so nothing is truncated. Missing values are 0 with
//!    present = 0, so they drop out of every sum; which rows are missing stays secret.
//! 3. `min_cell` on the counts ([`crate::disclosure::at_least`]); the shown/suppressed
//!    pattern is opened (part of the result); then the counts of the shown cells are opened
//!    (LEAKAGE, to the compute parties too: steps 4 and 5 need them public); the missing
//!    counts are compared with `min_cell` too (the pattern is opened) and only those that
//!    reach it are sealed.
//! 4. Mean: the sum times the public `1/count` (four rounds); sealed. Variance
//!    (`ddof = 1`, as pandas): `M2 = Σx² - 2·m·Σx + count·m²` around the *shared* mean `m`
//!    (one batched product, exact at scale 2f), times the public `1/(count - 1)` with one
//!    exact division by a power of two and one product ([`super::scale_public_with`], four
//!    rounds), keeping [`var_bits`] fractional bits (40 at f = 24, so that a variance of
//!    data on a scale of 10^-3 keeps its relative precision); sealed. The standard deviation is the square root of the variance,
//!    taken at the recipient.
//! 5. Quantiles and extremes (only if asked): one oblivious sort per column by the key
//!    `slot·2^V + x` (in Z_2^64, from the low 64 bits of the shares), where `slot` is the
//!    rank of the row's level among the shown levels, and one slot past them for rows that
//!    are missing, in no group or in a suppressed group. With the counts opened, group `t`
//!    occupies public positions, and each quantile is a local interpolation with public
//!    weights ([`super::quantile`]); extremes are the first and last of the group. Both
//!    sealed. A quantile is sealed only where at least `min_cell` rows of its cell lie
//!    below its lower order statistic and as many above its upper one, and never at the
//!    minimum or maximum without `allow_extremes` ([`super::quantile::readable`]); the
//!    others show as suppressed. The decision is per (column, level) cell and per
//!    quantile, a function of the cell's opened count and the public `q`: nothing new is
//!    opened, and no set of quantiles reads a value among the `min_cell` smallest or
//!    largest of a cell.
//!    Cost: the sort (`tessera_mpc::sort`: about 1.4 kB per row for a million rows, a few
//!    hundred rounds) plus a shuffle of the value column.
//! 6. Histogram (only if asked): `x < e_j` for every edge but the last and `e_last < x`,
//!    one batched comparison of `n·(edges)` elements in Z_2^64 (8 rounds, 31 bytes each);
//!    bin indicators are differences of those (numpy's bins: half-open, the last closed);
//!    counts per (level, bin) are one integer matrix product (same local kernel); `min_cell`
//!    again, pattern opened; then per cell whether its rows in no shown bin (its opened
//!    count minus its shown bins) number zero or at least `min_cell` (one comparison of
//!    two thresholds, one bit opened per cell): otherwise the whole histogram of the cell
//!    is suppressed, since the count minus the bins would show a single suppressed bin or
//!    the few rows beyond the edges. Shown bin counts sealed. Histograms of one column in
//!    several analyses must share edges and group (`tessera_study::overlap`).
//! 7. Everything sealed above goes to the recipients as one vector ([`crate::sealed`]),
//!    decoded by [`DescribePublic`]'s tail.
//!
//! # Valid range
//!
//! Values `|x| < 2^(V-1-f)` for the sort key (`V = 64 - ceil(log2(shown levels + 1))`:
//! `|x| < 2^38` without a group) and `|x| < 2^38` for the histogram comparisons; sums of
//! squares `Σx² < 2^39` (fixed-point truncation), means and variances below 2^23
//! ([`super::scale_public`]); beyond, the truncation failure probability (2^-40 inside)
//! grows gracefully.
//!
//! # Leakage
//!
//! To the compute parties: the `min_level_rows` pass bit, the suppression patterns (with
//! each histogram's remainder bit) and the
//! counts of the shown cells (the number of present values per column and level: the
//! divisors of the means and variances and the positions of the order statistics). To the
//! recipients: also the missing counts, means, variances, quantiles, extremes and histogram
//! counts of the shown cells. Quantiles are sealed as the exact interpolation of two order
//! statistics (module docs of [`super::quantile`]). Nothing about suppressed cells is
//! opened, nor their positions in the sorted column (they sort after the shown groups).

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::{decode, encode};
use tessera_mpc::sort::SortOptions;
use tessera_mpc::{AShare, Party, Table};

use super::quantile::{interpolate, min_side, position, readable, WEIGHT_BITS};
use super::{
    additive_to_replicated, cross_parts, decode_bits, gather, low64, num, scale_public,
    scale_public_with, table,
};
use crate::analysis::DescribeSpec;
use crate::disclosure::{at_least, Disclosure};
use crate::error::{Result, StatsError};
use crate::sealed::{Sealed, Tail};
use crate::table::Frame;

/// `min_cell` of descriptive statistics when the study sets none.
pub const DEFAULT_MIN_CELL: u64 = 5;

/// Fractional bits of the sealed variances with `f` fractional bits of the data:
/// `f + min(f, 16)` (40 at `f` = 24), from the sum of squared deviations exact at `2f`.
pub fn var_bits(f: u32) -> u32 {
    f + f.min(16)
}

/// Mantissa bits of `1/(count - 1)` in the variance's division: relative error 2^-25, and
/// the product of a variance below 2^23 (at [`var_bits`] bits) with the mantissa stays
/// below 2^87.
const VAR_SCALE_BITS: u32 = 24;

/// The statistics of one column (in one group).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The column (`party.column`).
    pub column: String,
    /// The group's level, or none for the whole table.
    pub level: Option<String>,
    /// True when the count is below `min_cell`: nothing else of this cell is shown.
    pub suppressed: bool,
    /// Rows with a value.
    pub count: Option<u64>,
    /// Rows (of the group) without a value; `None` when the cell is suppressed or there
    /// are fewer than `min_cell` of them (zero included).
    pub missing: Option<u64>,
    /// Mean.
    pub mean: Option<f64>,
    /// Sample variance (`ddof = 1`).
    pub var: Option<f64>,
    /// Sample standard deviation (`ddof = 1`).
    pub sd: Option<f64>,
    /// The requested quantiles, in the order of [`Description::quantiles`] (empty when
    /// the cell is suppressed); `None` where fewer than `min_cell` rows lie on either side
    /// of the quantile's order statistics, or it would read the minimum or maximum without
    /// `allow_extremes` ([`super::quantile::readable`]).
    pub quantiles: Vec<Option<f64>>,
    /// Minimum (only where the policy allows it and the study asks).
    pub min: Option<f64>,
    /// Maximum (likewise).
    pub max: Option<f64>,
    /// Counts per bin of [`Description::edges`]; a bin below `min_cell` is `None`.
    pub histogram: Option<Vec<Option<u64>>>,
}

impl Summary {
    /// A suppressed cell: only its name is shown.
    pub(crate) fn suppressed(column: &str, level: Option<String>) -> Summary {
        Summary {
            column: column.to_string(),
            level,
            suppressed: true,
            count: None,
            missing: None,
            mean: None,
            var: None,
            sd: None,
            quantiles: Vec::new(),
            min: None,
            max: None,
            histogram: None,
        }
    }
}

/// The result of `kind = "describe"`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Description {
    /// The group column, if any.
    pub group: Option<String>,
    /// The quantiles shown (numpy's `linear` definition).
    pub quantiles: Vec<f64>,
    /// Histogram bin edges, if asked.
    pub edges: Option<Vec<f64>>,
    /// Smallest count a shown cell rests on.
    pub min_cell: u64,
    /// One summary per column (and level), columns first.
    pub summaries: Vec<Summary>,
}

/// Checks the specification against itself and the policy (plaintext, before anything).
pub(crate) fn validate(spec: &DescribeSpec, disclosure: &Disclosure) -> Result<()> {
    if spec.columns.is_empty() {
        return Err(StatsError::Invalid(
            "describe needs at least one column".into(),
        ));
    }
    if let Some(q) = spec
        .quantiles
        .iter()
        .find(|q| !(q.is_finite() && (0.0..=1.0).contains(*q)))
    {
        return Err(StatsError::Invalid(format!(
            "quantile {q} is not in [0, 1]"
        )));
    }
    if let Some(e) = &spec.histogram {
        if e.len() < 2 || e.iter().any(|v| !v.is_finite()) || e.windows(2).any(|w| w[0] >= w[1]) {
            return Err(StatsError::Invalid(
                "histogram edges must be at least two finite, strictly increasing numbers".into(),
            ));
        }
    }
    if spec.extremes && !disclosure.allow_extremes {
        return Err(StatsError::Refused {
            rule: "allow_extremes".into(),
            detail: "the policy does not allow minima and maxima to be shown".into(),
        });
    }
    Ok(())
}

/// Bits needed to hold the numbers `0..=m`.
fn bits_for(m: usize) -> u32 {
    usize::BITS - m.leading_zeros()
}

/// What the compute parties know of a description and the recipient's tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DescribePublic {
    /// The analysis.
    pub spec: DescribeSpec,
    /// Fractional bits of the sealed values.
    pub frac_bits: u32,
    /// The group's levels (one `None` without a group).
    pub labels: Vec<Option<String>>,
    /// Smallest count of a shown cell.
    pub min_cell: u64,
    /// Rows each shown quantile needs on either side ([`super::quantile::min_side`]).
    pub quantile_side: u64,
    /// Whether each (column, level) cell is shown (column-major: cell `j·levels + l`).
    pub shown: Vec<bool>,
    /// The count of each shown cell (opened: see the module docs' leakage).
    pub count: Vec<Option<u64>>,
    /// Per shown cell (in cell order): whether its missing count reaches `min_cell`.
    pub missing_shown: Vec<bool>,
    /// Per column: whether each (described level, bin) of its histogram is shown (empty
    /// where the column has no histogram).
    pub histogram_shown: Vec<Vec<bool>>,
}

impl DescribePublic {
    /// The levels of column `j` with at least one value (those whose order statistics and
    /// histograms are computed).
    fn described(&self, j: usize) -> Vec<usize> {
        let nl = self.labels.len();
        (0..nl)
            .filter(|&l| self.count[j * nl + l] >= Some(1))
            .collect()
    }
}

impl Tail for DescribePublic {
    type Result = Description;

    /// Values: the missing counts of the shown cells, the means (cells with a value), the
    /// variances (cells with two), then per column its quantiles and extremes (56 more
    /// fractional bits) and its shown histogram counts.
    fn open(&self, vals: &[u128]) -> Result<Description> {
        let spec = &self.spec;
        let f = self.frac_bits;
        let nl = self.labels.len();
        let nc = spec.columns.len();
        let cells = nl * nc;
        let bad = || StatsError::Invalid("describe: the sealed values do not fit".into());
        if self.shown.len() != cells
            || self.count.len() != cells
            || self.histogram_shown.len() != nc
        {
            return Err(bad());
        }
        let mut rest = vals;
        let mut take = |m: usize| -> Result<&[u128]> {
            if rest.len() < m {
                return Err(bad());
            }
            let (head, tail) = rest.split_at(m);
            rest = tail;
            Ok(head)
        };
        let count = &self.count;
        let idx: Vec<usize> = (0..cells).filter(|&i| self.shown[i]).collect();
        let mut missing = vec![None; cells];
        if self.missing_shown.len() != idx.len() {
            return Err(bad());
        }
        let miss_idx: Vec<usize> = idx
            .iter()
            .zip(&self.missing_shown)
            .filter(|(_, &b)| b)
            .map(|(&i, _)| i)
            .collect();
        let miss = take(miss_idx.len())?;
        for (t, &i) in miss_idx.iter().enumerate() {
            missing[i] = Some(miss[t] as u64);
        }
        let mean_idx: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|&i| count[i] >= Some(1))
            .collect();
        let mut mean = vec![None; cells];
        for (&i, &v) in mean_idx.iter().zip(take(mean_idx.len())?) {
            mean[i] = Some(decode(v, f));
        }
        let var_idx: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|&i| count[i] >= Some(2))
            .collect();
        let mut var = vec![None; cells];
        for (&i, &v) in var_idx.iter().zip(take(var_idx.len())?) {
            var[i] = Some(decode(v, var_bits(f)));
        }
        let mut quant: Vec<Vec<Option<f64>>> = vec![Vec::new(); cells];
        let mut extremes: Vec<Option<(f64, f64)>> = vec![None; cells];
        let mut hist: Vec<Option<Vec<Option<u64>>>> = vec![None; cells];
        let want_order = !spec.quantiles.is_empty() || spec.extremes;
        for j in 0..nc {
            let lv = self.described(j);
            if lv.is_empty() || !(want_order || spec.histogram.is_some()) {
                continue;
            }
            if want_order {
                for &l in &lv {
                    let c = count[j * nl + l].unwrap_or(0) as usize;
                    let mut q = Vec::with_capacity(spec.quantiles.len());
                    for &qq in &spec.quantiles {
                        q.push(if readable(c, position(c, qq), self.quantile_side) {
                            Some(decode_bits(take(1)?[0], f + WEIGHT_BITS))
                        } else {
                            None
                        });
                    }
                    quant[j * nl + l] = q;
                    if spec.extremes {
                        let e = take(2)?;
                        extremes[j * nl + l] = Some((
                            decode_bits(e[0], f + WEIGHT_BITS),
                            decode_bits(e[1], f + WEIGHT_BITS),
                        ));
                    }
                }
            }
            if let Some(edges) = &spec.histogram {
                let bins = edges.len() - 1;
                let hs = &self.histogram_shown[j];
                if hs.len() != lv.len() * bins {
                    return Err(bad());
                }
                let shown_bins = hs.iter().filter(|&&b| b).count();
                let mut got = take(shown_bins)?.iter();
                let out: Vec<Option<u64>> = hs
                    .iter()
                    .map(|&b| {
                        if b {
                            got.next().map(|&c| c as u64)
                        } else {
                            None
                        }
                    })
                    .collect();
                for (t, &l) in lv.iter().enumerate() {
                    hist[j * nl + l] = Some(out[t * bins..(t + 1) * bins].to_vec());
                }
            }
        }
        if !rest.is_empty() {
            return Err(bad());
        }
        let mut summaries = Vec::with_capacity(cells);
        for (j, name) in spec.columns.iter().enumerate() {
            for (l, label) in self.labels.iter().enumerate() {
                let i = j * nl + l;
                if !self.shown[i] {
                    summaries.push(Summary::suppressed(name, label.clone()));
                    continue;
                }
                summaries.push(Summary {
                    column: name.clone(),
                    level: label.clone(),
                    suppressed: false,
                    count: count[i],
                    missing: missing[i],
                    mean: mean[i],
                    var: var[i],
                    sd: var[i].map(|v| v.max(0.0).sqrt()),
                    quantiles: quant[i].clone(),
                    min: extremes[i].map(|e| e.0),
                    max: extremes[i].map(|e| e.1),
                    histogram: hist[i].clone(),
                });
            }
        }
        Ok(Description {
            group: spec.group.clone(),
            quantiles: spec.quantiles.clone(),
            edges: spec.histogram.clone(),
            min_cell: self.min_cell,
            summaries,
        })
    }
}

/// Descriptive statistics on the shared table (see the module docs for the protocol and
/// what is opened). Every compute party calls this; the result ends sealed for the
/// recipients.
pub fn describe(
    p: &mut Party,
    frame: &Frame,
    spec: &DescribeSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<DescribePublic>> {
    validate(spec, disclosure)?;
    let n = frame.rows;
    let f = p.frac_bits();
    let min_cell = disclosure.min_cell_or(DEFAULT_MIN_CELL);
    let side = min_side(min_cell, disclosure.allow_extremes);
    let (labels, inds): (Vec<Option<String>>, Vec<AShare<u128>>) = match &spec.group {
        Some(g) => {
            let c = frame.categorical(g)?;
            (
                c.levels.iter().map(|l| Some(l.clone())).collect(),
                c.onehot.to_vec(),
            )
        }
        None => (vec![None], vec![p.public(&vec![1u128; n])]),
    };
    let owned = spec
        .columns
        .iter()
        .map(|c| crate::terms::numeric_column(frame, c, f))
        .collect::<Result<Vec<_>>>()?;
    let cols: Vec<(&AShare<u128>, &AShare<u128>)> = owned.iter().map(|(v, pr)| (v, *pr)).collect();
    let level_rows: Vec<AShare<u128>> = inds.iter().map(AShare::sum).collect();
    if let Some(g) = &spec.group {
        let all = AShare::concat(&level_rows.iter().collect::<Vec<_>>());
        disclosure.check_level_rows(p, &all, &format!("`{g}`"))?;
    }
    let (nl, nc) = (labels.len(), cols.len());
    let cells = nl * nc;

    // Counts, sums and sums of squares of every (column, level) cell.
    // The squares are not truncated: exact at 2f fractional bits (|x| < 2^19.5, the owner's
    // range, keeps them below 2^87), so the variance does not carry n truncation errors.
    let sq = p.mul_many(&cols.iter().map(|(x, _)| (*x, *x)).collect::<Vec<_>>())?;
    let mut lhs_rows: Vec<&AShare<u128>> = cols.iter().map(|(_, pr)| *pr).collect();
    lhs_rows.extend(cols.iter().map(|(x, _)| *x));
    lhs_rows.extend(sq.iter());
    let z = cross_parts(&lhs_rows, &inds.iter().collect::<Vec<_>>(), n);
    let m = additive_to_replicated(p, &z)?;
    drop(sq);
    let counts = m.slice(0..cells);
    let sums = m.slice(cells..2 * cells);
    let sumsq = m.slice(2 * cells..3 * cells);
    let rows_rep = AShare::concat(&(0..nc).flat_map(|_| level_rows.iter()).collect::<Vec<_>>());

    let ok = at_least(p, &counts, min_cell)?;
    // Opened: which (column, level) cells are shown (the suppression pattern, part of the
    // result).
    let shown: Vec<bool> = p.reveal(&ok)?.iter().map(|&b| b == 1).collect();
    let idx: Vec<usize> = (0..cells).filter(|&i| shown[i]).collect();
    // LEAKAGE: the counts of the shown cells (present values per column and level) are
    // opened to the compute parties: the means and variances divide by them as public
    // constants and the quantiles' order statistics sit at positions they determine.
    let opened = p.reveal(&gather(&counts, &idx))?;
    let mut count = vec![None; cells];
    for (t, &i) in idx.iter().enumerate() {
        count[i] = Some(opened[t] as u64);
    }
    // Sealed: the missing counts of the shown cells that reach min_cell themselves.
    let miss = gather(&rows_rep.sub(&counts), &idx);
    let miss_ok = at_least(p, &miss, min_cell)?;
    // LEAKAGE: whether each shown cell's missing count reaches min_cell (its suppression
    // pattern); the counts themselves stay sealed.
    let missing_shown: Vec<bool> = p.reveal(&miss_ok)?.iter().map(|&b| b == 1).collect();
    let miss_idx: Vec<usize> = (0..idx.len()).filter(|&t| missing_shown[t]).collect();
    let mut sealed: Vec<AShare<u128>> = vec![gather(&miss, &miss_idx)];

    // Means (sealed).
    let mean_idx: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&i| count[i] >= Some(1))
        .collect();
    let inv: Vec<f64> = mean_idx
        .iter()
        .map(|&i| 1.0 / count[i].unwrap_or(1) as f64)
        .collect();
    let mean_sh = scale_public(p, &gather(&sums, &mean_idx), &inv)?;

    // Variances around the shared means (sealed): M2 = Σx² - 2·Σx·m + c·m², exact at
    // scale 2f, then divided by c - 1 keeping `var_bits(f)` fractional bits: a variance of
    // data on a small scale (values around 10^-3, variances around 10^-6) keeps its
    // relative precision, which f bits (ulp 6·10^-8 at f = 24) would not.
    let var_idx: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&i| count[i] >= Some(2))
        .collect();
    let at_mean: Vec<usize> = var_idx
        .iter()
        .map(|i| mean_idx.binary_search(i).unwrap_or(0))
        .collect();
    let mut m2 = AShare::zeros(0);
    if !var_idx.is_empty() {
        let mv = gather(&mean_sh, &at_mean);
        let sv = gather(&sums, &var_idx);
        let prods = p.mul_many(&[(&sv, &mv), (&mv, &mv)])?;
        let c: Vec<u128> = var_idx
            .iter()
            .map(|&i| u128::from(count[i].unwrap_or(0)))
            .collect();
        let mut z = gather(&sumsq, &var_idx);
        z.add_scaled(&prods[0], 2u128.wrapping_neg());
        m2 = z.add(&prods[1].mul_public(&c));
    }
    let inv1: Vec<f64> = var_idx
        .iter()
        .map(|&i| 1.0 / (count[i].unwrap_or(2) - 1) as f64)
        .collect();
    // Exact shifts: M2 reaches n·2^(39 + 2f) and the 40-bit variance times the mantissa
    // 2^(79 + 24), both beyond the probabilistic truncation's 2^87 for large columns.
    let var_sh = scale_public_with(p, &m2, &inv1, 2 * f - var_bits(f), VAR_SCALE_BITS, true)?;
    sealed.push(mean_sh);
    sealed.push(var_sh);

    // Per column: the shown levels' row indicators, then quantiles, extremes, histogram.
    let mut histogram_shown: Vec<Vec<bool>> = vec![Vec::new(); nc];
    let want_order = !spec.quantiles.is_empty() || spec.extremes;
    for (j, (x, pr)) in cols.iter().enumerate() {
        let lv: Vec<usize> = (0..nl).filter(|&l| count[j * nl + l] >= Some(1)).collect();
        if lv.is_empty() || !(want_order || spec.histogram.is_some()) {
            continue;
        }
        let w: Vec<AShare<u128>> = if spec.group.is_some() {
            let pairs: Vec<_> = lv.iter().map(|&l| (*pr, &inds[l])).collect();
            p.mul_many(&pairs)?
        } else {
            vec![(*pr).clone()]
        };
        if want_order {
            let sorted = sort_by_slot(p, x, &w)?;
            let mut picks = Vec::new();
            let mut start = 0;
            for &l in &lv {
                let c = count[j * nl + l].unwrap_or(0) as usize;
                for &q in &spec.quantiles {
                    // Only quantiles with `side` rows on either side are sealed; which are
                    // is a function of the opened count (nothing new is learnt).
                    let pos = position(c, q);
                    if readable(c, pos, side) {
                        picks.push(interpolate(&sorted, start, pos));
                    }
                }
                if spec.extremes {
                    picks.push(sorted.slice(start..start + 1).shl(WEIGHT_BITS));
                    picks.push(sorted.slice(start + c - 1..start + c).shl(WEIGHT_BITS));
                }
                start += c;
            }
            // Sealed: each quantile as the exact interpolation of its two order statistics
            // with the public weight (56 fractional bits beyond the values'), a function of
            // the data that is the quantile itself; extremes only if allowed.
            sealed.push(AShare::concat(&picks.iter().collect::<Vec<_>>()));
        }
        if let Some(edges) = &spec.histogram {
            let n_cell: Vec<u64> = lv.iter().map(|&l| count[j * nl + l].unwrap_or(0)).collect();
            let (shown_bins, counts) = histogram(p, x, &w, &n_cell, edges, min_cell)?;
            histogram_shown[j] = shown_bins;
            sealed.push(counts);
        }
    }

    let public = DescribePublic {
        spec: spec.clone(),
        frac_bits: f,
        labels,
        min_cell,
        quantile_side: side,
        shown,
        missing_shown,
        count,
        histogram_shown,
    };
    Sealed::new(
        p,
        public,
        &AShare::concat(&sealed.iter().collect::<Vec<_>>()),
    )
}
/// Sorts the column `x` obliviously so that the rows of indicator `w[0]` come first (in
/// increasing order of value), then those of `w[1]`, ..., then every other row. Returns the
/// sorted values (still shared).
fn sort_by_slot(p: &mut Party, x: &AShare<u128>, w: &[AShare<u128>]) -> Result<AShare<u128>> {
    let s = w.len();
    let n = x.len();
    // Slot of a row: t for w[t], s for none; key = slot·2^V + (x + 2^(V-1)) - 2^63 read as
    // a signed 64-bit key (sort_perm orders signed keys).
    let v = 64 - bits_for(s);
    let mut slot = p.public(&vec![s as u64; n]);
    for (t, wt) in w.iter().enumerate() {
        slot.add_scaled(&low64(wt), ((s - t) as u64).wrapping_neg());
    }
    let mut key = p.add_const(&low64(x), (1u64 << (v - 1)).wrapping_add(1u64 << 63));
    key.add_scaled(&slot, 1u64 << v);
    let perm = p.sort_perm(&key, SortOptions::default())?;
    let t = p.apply_sort(&perm, &Table::new(vec![], vec![x.clone()])?)?;
    Ok(t.c128.into_iter().next().unwrap_or_default())
}

/// Histogram counts of `x` per indicator in `w` on the public `edges` (numpy's bins), with
/// bins below `min_cell` suppressed: whether each (indicator, bin) is shown (opened, the
/// suppression pattern) and the shown counts (still shared).
///
/// The bins of one indicator are checked together with its count `n_cell` (shown beside
/// the histogram): the rows in no shown bin (suppressed bins and values outside the edges),
/// `n_cell - Σ shown`, must number zero or at least `min_cell`, or that indicator's whole
/// histogram is suppressed. Otherwise the count minus the shown bins would show a single
/// suppressed bin, or the two patients beyond the last edge.
fn histogram(
    p: &mut Party,
    x: &AShare<u128>,
    w: &[AShare<u128>],
    n_cell: &[u64],
    edges: &[f64],
    min_cell: u64,
) -> Result<(Vec<bool>, AShare<u128>)> {
    let f = p.frac_bits();
    let n = x.len();
    let bins = edges.len() - 1;
    let x64 = low64(x);
    let enc = |e: f64| p.public(&vec![encode::<u64>(e, f); n]);
    // x < e_j for j < bins, and e_last < x.
    let mut left: Vec<AShare<u64>> = (0..bins).map(|_| x64.clone()).collect();
    left.push(enc(edges[bins]));
    let mut right: Vec<AShare<u64>> = edges[..bins].iter().map(|&e| enc(e)).collect();
    right.push(x64.clone());
    let lhs = AShare::concat(&left.iter().collect::<Vec<_>>());
    let rhs = AShare::concat(&right.iter().collect::<Vec<_>>());
    drop((left, right));
    let bits = p.lt(&lhs, &rhs)?;
    let ind = p.inject::<u128>(&[&bits], lhs.len())?.remove(0);
    drop((lhs, rhs));
    let below: Vec<AShare<u128>> = (0..=bins).map(|j| ind.slice(j * n..(j + 1) * n)).collect();
    let one = p.public(&vec![1u128; n]);
    let bin: Vec<AShare<u128>> = (0..bins)
        .map(|j| {
            if j + 1 < bins {
                below[j + 1].sub(&below[j])
            } else {
                one.sub(&below[bins]).sub(&below[j])
            }
        })
        .collect();
    let z = cross_parts(
        &w.iter().collect::<Vec<_>>(),
        &bin.iter().collect::<Vec<_>>(),
        n,
    );
    let counts = additive_to_replicated(p, &z)?;
    let ok = at_least(p, &counts, min_cell)?;
    // Opened: which histogram bins are shown (suppression pattern, part of the result).
    let mut shown: Vec<bool> = p.reveal(&ok)?.iter().map(|&b| b == 1).collect();
    // The rows of each indicator in no shown bin: its public count minus its shown bins.
    let rest: Vec<AShare<u128>> = (0..w.len())
        .map(|t| {
            let mut r = p.public(&[u128::from(n_cell[t])]);
            for b in (0..bins).filter(|&b| shown[t * bins + b]) {
                r = r.sub(&counts.slice(t * bins + b..t * bins + b + 1));
            }
            r
        })
        .collect();
    let rest = AShare::concat(&rest.iter().collect::<Vec<_>>());
    // In one comparison: rest < min_cell, then rest < 1. ok = 1 - [rest < min_cell] +
    // [rest < 1] is 1 exactly when rest is zero or reaches min_cell.
    let m = w.len();
    let mut limits = vec![u128::from(min_cell); m];
    limits.extend(vec![1u128; m]);
    let limits = p.public(&limits);
    let below = p.lt_arith(&AShare::concat(&[&rest, &rest]), &limits)?;
    let ok_rest = p
        .public(&vec![1u128; m])
        .sub(&below.slice(0..m))
        .add(&below.slice(m..2 * m));
    // LEAKAGE: per indicator, whether the rows in no shown bin number zero or at least
    // min_cell (one bit; a whole histogram suppressed is part of the result).
    for (t, &b) in p.reveal(&ok_rest)?.iter().enumerate() {
        if b != 1 {
            shown[t * bins..(t + 1) * bins].fill(false);
        }
    }
    let idx: Vec<usize> = (0..shown.len()).filter(|&i| shown[i]).collect();
    let counts = gather(&counts, &idx);
    Ok((shown, counts))
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by = self
            .group
            .as_ref()
            .map(|g| format!(" by {g}"))
            .unwrap_or_default();
        writeln!(
            f,
            "Descriptive statistics{by} (cells with fewer than {} values suppressed)",
            self.min_cell
        )?;
        let grouped = self.group.is_some();
        let extremes = self.summaries.iter().any(|s| s.min.is_some());
        let mut header = vec!["".to_string()];
        if grouped {
            header.push("level".into());
        }
        header.extend(["count", "missing", "mean", "std"].map(String::from));
        if extremes {
            header.push("min".into());
        }
        header.extend(
            self.quantiles
                .iter()
                .map(|q| format!("{}%", num(q * 100.0))),
        );
        if extremes {
            header.push("max".into());
        }
        let opt = |v: Option<f64>| v.map_or("NaN".to_string(), num);
        let small = format!("<{}", self.min_cell);
        let rows: Vec<Vec<String>> = self
            .summaries
            .iter()
            .map(|s| {
                let mut r = vec![s.column.clone()];
                if grouped {
                    r.push(s.level.clone().unwrap_or_default());
                }
                if s.suppressed {
                    r.push(small.clone());
                    r.extend(std::iter::repeat_n(String::new(), header.len() - r.len()));
                    return r;
                }
                r.push(s.count.map_or(String::new(), |c| c.to_string()));
                r.push(s.missing.map_or(small.clone(), |c| c.to_string()));
                r.push(opt(s.mean));
                r.push(opt(s.sd));
                if extremes {
                    r.push(opt(s.min));
                }
                r.extend(
                    (0..self.quantiles.len()).map(|t| match s.quantiles.get(t).copied() {
                        Some(Some(v)) => num(v),
                        Some(None) => small.clone(),
                        None => "NaN".to_string(),
                    }),
                );
                if extremes {
                    r.push(opt(s.max));
                }
                r
            })
            .collect();
        write!(f, "{}", table(&header, &rows))?;
        if let Some(edges) = &self.edges {
            writeln!(f, "\nHistogram (bins [e_j, e_j+1), the last closed)")?;
            let mut header = vec!["".to_string()];
            if grouped {
                header.push("level".into());
            }
            header.extend(
                edges
                    .windows(2)
                    .map(|w| format!("{}–{}", num(w[0]), num(w[1]))),
            );
            let rows: Vec<Vec<String>> = self
                .summaries
                .iter()
                .filter_map(|s| {
                    let h = s.histogram.as_ref()?;
                    let mut r = vec![s.column.clone()];
                    if grouped {
                        r.push(s.level.clone().unwrap_or_default());
                    }
                    r.extend(h.iter().map(|c| c.map_or(small.clone(), |c| c.to_string())));
                    Some(r)
                })
                .collect();
            write!(f, "{}", table(&header, &rows))?;
        }
        Ok(())
    }
}
