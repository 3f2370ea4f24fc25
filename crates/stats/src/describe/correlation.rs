//! Pearson correlation matrix of numeric columns on pairwise complete observations (as
//! pandas' `DataFrame.corr()`: each pair uses the rows where both values are present).
//!
//! # Protocol (`k` columns, `n` rows)
//!
//! 1. `max_vars_per_row` on the public `k` and `n`.
//! 2. `x²` of every column (one batched product, not truncated: exact at 2f fractional
//!    bits), then one matrix product `[present; x; x²] (3k × n) · [present, x] (n × 2k)`:
//!    every pair's count of complete rows `n_ab`, sums `Σx_a` over rows where `b` is
//!    present, sums of squares likewise, and cross products `Σx_a·x_b`, computed locally in
//!    one pass ([`super::cross_parts`]) and shared back (3 rounds, `6k²` elements,
//!    independent of `n`); nothing is truncated. A missing value is 0 with present = 0, so
//!    it drops out of every sum.
//! 3. `min_cell` (default 5) on the pair counts; the shown pattern is opened (part of the
//!    result), then the shown `n_ab` (named in the result; the next step needs them public).
//! 4. Per pair ([`pair_moments`]): the means (sum times the public `1/n_ab`); the centred
//!    sums `Σ(x_a − m_a)(x_b − m_b)` and of squares, expanded about the shared means and
//!    exact at 2f (off the true ones by `n·δ_a·δ_b` for mean errors δ of a few units);
//!    divided exactly (bit decomposition, no size limit) by `2^⌊log2 n_ab⌋`, a factor
//!    common to the three moments of a pair that cancels in `r`, keeping 40 fractional
//!    bits (and 24 for large variances).
//! 5. ([`pearson`]) One comparison per variance: below 5.8e-11 the column is constant on
//!    the pair's rows (`r` undefined, sealed as such); between that and 6e-8 the analysis
//!    is refused (one bit opened: too few significant bits). `1/sd` by `rsqrt` at 40
//!    fractional bits, from the 40-bit variance below 2^20 and from the 24-bit one above
//!    (selected by a product with the comparison bit, nothing opened);
//!    `r = (cov · 1/sd_a) · 1/sd_b`, the first product shifted exactly. About 130 rounds,
//!    `O(k²)` elements.
//! 6. Whether each shown pair is undefined and `r` are sealed for the recipients
//!    ([`crate::sealed`], [`CorrelationPublic`]).
//!
//! # Valid range
//!
//! Values below 2^19.5 in magnitude (each data owner checks its own,
//! [`crate::ranges::column_needs`]); any number of rows below 2^30. A variance on a pair's
//! rows between 5.8e-11 and 6e-8 is refused (rescale); below, the correlation is undefined.
//! Measured error below 1e-6 absolute on `r` at scales from 10^-3 to 10^5
//! (`tests/scales.rs`).
//!
//! # Leakage
//!
//! To the compute parties: the suppression pattern, the pair counts `n_ab` of shown
//! pairs (they divide the sums as public constants) and the one bit of step 5. To the recipients: also the
//! correlations of shown pairs and which of them are undefined (a constant column).

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::decode;
use tessera_mpc::{AShare, Party};

use super::{additive_to_replicated, cross_parts, gather, scale_public, table, with_frac};
use crate::analysis::CorrelationSpec;
use crate::disclosure::{at_least, Disclosure};
use crate::error::{Result, StatsError};
use crate::regression::design::trunc_exact;
use crate::sealed::{Sealed, Tail};
use crate::table::Frame;

/// `min_cell` (smallest number of complete pairs) of correlations when the study sets none.
pub const DEFAULT_MIN_CELL: u64 = 5;

/// The result of `kind = "correlation"`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Correlation {
    /// The columns, in the order of the matrices.
    pub columns: Vec<String>,
    /// Smallest number of complete pairs a shown correlation rests on.
    pub min_cell: u64,
    /// `n[a][b]`: rows where both columns are present (`None` where suppressed).
    pub n: Vec<Vec<Option<u64>>>,
    /// `r[a][b]`: Pearson correlation (`None` where suppressed or fewer than 2 pairs).
    pub r: Vec<Vec<Option<f64>>>,
}

/// Checks the specification (plaintext, before anything).
pub(crate) fn validate(spec: &CorrelationSpec) -> Result<()> {
    if spec.columns.len() < 2 {
        return Err(StatsError::Invalid(
            "a correlation matrix needs at least two columns".into(),
        ));
    }
    for (i, c) in spec.columns.iter().enumerate() {
        if spec.columns[..i].contains(c) {
            return Err(StatsError::Invalid(format!("column `{c}` is listed twice")));
        }
    }
    Ok(())
}

/// The upper triangle (diagonal included) of a `k × k` matrix, row by row.
pub(crate) fn upper(k: usize) -> Vec<(usize, usize)> {
    (0..k).flat_map(|a| (a..k).map(move |b| (a, b))).collect()
}

/// Fills a symmetric matrix from its upper triangle.
pub(crate) fn symmetric<T: Clone>(k: usize, tri: &[T], empty: T) -> Vec<Vec<T>> {
    let mut m = vec![vec![empty; k]; k];
    for (t, &(a, b)) in upper(k).iter().enumerate() {
        m[a][b] = tri[t].clone();
        m[b][a] = tri[t].clone();
    }
    m
}

/// What the compute parties know of a correlation matrix and the recipient's tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorrelationPublic {
    /// The analysis.
    pub spec: CorrelationSpec,
    /// Fractional bits of the sealed values.
    pub frac_bits: u32,
    /// Smallest number of complete pairs of a shown pair.
    pub min_cell: u64,
    /// Complete pairs of each pair of the upper triangle (row-major, diagonal included);
    /// `None` where suppressed (opened: documented leakage).
    pub counts: Vec<Option<u64>>,
}

impl CorrelationPublic {
    /// The shown off-diagonal pairs with two or more complete rows: those whose
    /// correlation is sealed, in order.
    fn selected(&self) -> Vec<usize> {
        let tri = upper(self.spec.columns.len());
        (0..tri.len().min(self.counts.len()))
            .filter(|&t| tri[t].0 != tri[t].1 && self.counts[t] >= Some(2))
            .collect()
    }
}

impl Tail for CorrelationPublic {
    type Result = Correlation;

    /// Values, for the selected pairs: whether undefined (0: defined), then `r`.
    fn open(&self, vals: &[u128]) -> Result<Correlation> {
        let k = self.spec.columns.len();
        let tri = upper(k);
        let sel = self.selected();
        let s = sel.len();
        if self.counts.len() != tri.len() || vals.len() != 2 * s {
            return Err(StatsError::Invalid(
                "correlation: the sealed values do not fit".into(),
            ));
        }
        let counts = &self.counts;
        let mut rs: Vec<Option<f64>> = (0..tri.len())
            .map(|t| {
                let (a, b) = tri[t];
                (a == b && counts[t] >= Some(2)).then_some(1.0)
            })
            .collect();
        let (undefined, rv) = vals.split_at(s);
        for (u, &t) in sel.iter().enumerate() {
            rs[t] = (undefined[u] == 0).then(|| decode(rv[u], self.frac_bits).clamp(-1.0, 1.0));
        }
        Ok(Correlation {
            columns: self.spec.columns.clone(),
            min_cell: self.min_cell,
            n: symmetric(k, counts, None),
            r: symmetric(k, &rs, None),
        })
    }
}

/// Pearson correlation matrix on the shared table (see the module docs).
pub fn correlation(
    p: &mut Party,
    frame: &Frame,
    spec: &CorrelationSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<CorrelationPublic>> {
    validate(spec)?;
    let k = spec.columns.len();
    let n = frame.rows;
    let f = p.frac_bits();
    if f > 40 {
        return Err(StatsError::Invalid(format!(
            "correlation needs at most 40 fractional bits, the parties use {f}"
        )));
    }
    disclosure.check_vars(k, n)?;
    let min_cell = disclosure.min_cell_or(DEFAULT_MIN_CELL);
    let cols = spec
        .columns
        .iter()
        .map(|c| frame.numeric(c))
        .collect::<Result<Vec<_>>>()?;

    // Squares exact at 2f fractional bits (not truncated): the sums of squares carry no
    // truncation error, which data on a small scale cannot afford.
    let sq = p.mul_many(&cols.iter().map(|(x, _)| (*x, *x)).collect::<Vec<_>>())?;
    let mut lhs: Vec<&AShare<u128>> = cols.iter().map(|(_, pr)| *pr).collect();
    lhs.extend(cols.iter().map(|(x, _)| *x));
    lhs.extend(sq.iter());
    let mut rhs: Vec<&AShare<u128>> = cols.iter().map(|(_, pr)| *pr).collect();
    rhs.extend(cols.iter().map(|(x, _)| *x));
    let z = cross_parts(&lhs, &rhs, n);
    let m = additive_to_replicated(p, &z)?;
    drop(sq);
    let at = |r: usize, c: usize| r * 2 * k + c;

    let tri = upper(k);
    let npair = gather(&m, &tri.iter().map(|&(a, b)| at(a, b)).collect::<Vec<_>>());
    let ok = at_least(p, &npair, min_cell)?;
    // Opened: which pairs are shown (the suppression pattern, part of the result).
    let shown: Vec<bool> = p.reveal(&ok)?.iter().map(|&v| v == 1).collect();
    let idx: Vec<usize> = (0..tri.len()).filter(|&t| shown[t]).collect();
    // LEAKAGE: the shown pairs' counts of complete rows `n_ab` (named in the result) are
    // opened to the compute parties: the means and moments below divide by them as public
    // constants.
    let nv = p.reveal(&gather(&npair, &idx))?;
    let mut counts: Vec<Option<u64>> = vec![None; tri.len()];
    for (t, &i) in idx.iter().enumerate() {
        counts[i] = Some(nv[t] as u64);
    }
    let sel: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&t| tri[t].0 != tri[t].1 && counts[t] >= Some(2))
        .collect();
    let public = CorrelationPublic {
        spec: spec.clone(),
        frac_bits: f,
        min_cell,
        counts,
    };
    debug_assert_eq!(public.selected(), sel);
    let mut sealed = AShare::zeros(0);
    if !sel.is_empty() {
        let pick = |r: &dyn Fn(usize, usize) -> usize| {
            gather(
                &m,
                &sel.iter()
                    .map(|&t| r(tri[t].0, tri[t].1))
                    .collect::<Vec<_>>(),
            )
        };
        let nab: Vec<u64> = sel.iter().map(|&t| public.counts[t].unwrap_or(2)).collect();
        let sums = [
            pick(&|a, b| at(k + a, b)),     // Σ x_a over the pair's rows (f bits)
            pick(&|a, b| at(k + b, a)),     // Σ x_b
            pick(&|a, b| at(2 * k + a, b)), // Σ x_a² (2f bits)
            pick(&|a, b| at(2 * k + b, a)), // Σ x_b²
            pick(&|a, b| at(k + a, k + b)), // Σ x_a·x_b (2f bits)
        ];
        let (var, cov) = pair_moments(p, &sums, &nab)?;
        let sealed_r = pearson(p, &var, &cov)?;
        sealed = sealed_r;
    }
    Sealed::new(p, public, &sealed)
}

/// The refusal of a variance too small for the fixed point (step 5 of the module docs).
pub const TOO_LITTLE_VARIANCE: &str = "a column varies too little on the rows of one of its \
     pairs for the fixed point (a variance between 5.8e-11 and 6e-8, not constant): rescale \
     it (e.g. micrograms instead of grams)";

/// Fractional bits of the normalised moments the correlations are computed from.
const MOMENT_BITS: u32 = 40;

/// Variances below this many units of 2^-40 (about 5.8e-11) count as zero: the column is
/// constant on the pair's rows and the correlation undefined (pandas: NaN). An exactly
/// constant column gives 0 (the centring about a shared mean errs by `n·δ²`, below one
/// unit).
const CONSTANT_UNITS: u128 = 64;

/// Variances from here up (2^-24 ≈ 6e-8, at 2^-40 per unit) have enough significant bits
/// for `r` to 1e-7; between [`CONSTANT_UNITS`] and this the correlation is refused.
const PRECISE_UNITS: u128 = 1 << 16;

/// Variances below 2^20 use the 40-bit moments for `1/sd`; larger ones the 24-bit ones
/// (the 40-bit ones would leave the 64-bit range of the normalisation in `rsqrt`).
const SMALL_VARIANCE_UNITS: u128 = 1 << 60;

/// The normalised moments of each pair: its centred sums of squares and cross products,
/// exact at `2f` fractional bits, divided (exactly) by `2^⌊log2 n_ab⌋`, the same factor
/// for all three of a pair, which cancels in `r`. Returns the variances of both columns
/// (`[a…, b…]`) with 40 and with 24 fractional bits, and the covariances with 40.
///
/// `sums` are, per pair: `Σx_a`, `Σx_b` (f bits), `Σx_a²`, `Σx_b²`, `Σx_a·x_b` (2f bits),
/// over the pair's complete rows; `nab` their number.
fn pair_moments(
    p: &mut Party,
    sums: &[AShare<u128>; 5],
    nab: &[u64],
) -> Result<([AShare<u128>; 2], AShare<u128>)> {
    let f = p.frac_bits();
    let s = nab.len();
    let [sa, sb, qa, qb, c2] = sums;
    let inv: Vec<f64> = nab.iter().map(|&c| 1.0 / c as f64).collect();
    let inv2: Vec<f64> = inv.iter().chain(&inv).copied().collect();
    let means = scale_public(p, &AShare::concat(&[sa, sb]), &inv2)?;
    let (ma, mb) = (means.slice(0..s), means.slice(s..2 * s));
    // Centred about the shared means m (each off the true mean by δ of a few units):
    // Σ(x_a - m_a)(x_b - m_b) = Σx_a·x_b - m_a·Σx_b - m_b·Σx_a + n·m_a·m_b, exact at 2f
    // (products of f-bit values, not truncated); off the true centred sum by n·δ_a·δ_b.
    let pr = p.mul_many(&[
        (&ma, sb),
        (&mb, sa),
        (&ma, &mb),
        (&ma, sa),
        (&ma, &ma),
        (&mb, sb),
        (&mb, &mb),
    ])?;
    let nn: Vec<u128> = nab.iter().map(|&c| u128::from(c)).collect();
    let s_ab = c2.sub(&pr[0]).sub(&pr[1]).add(&pr[2].mul_public(&nn));
    let mut s_aa = qa.clone();
    s_aa.add_scaled(&pr[3], 2u128.wrapping_neg());
    let s_aa = s_aa.add(&pr[4].mul_public(&nn));
    let mut s_bb = qb.clone();
    s_bb.add_scaled(&pr[5], 2u128.wrapping_neg());
    let s_bb = s_bb.add(&pr[6].mul_public(&nn));
    // Divide by 2^d (d = ⌊log2 n_ab⌋, public) exactly: first times 2^(D - d) with D the
    // largest d (the sums stay below 2^(D + 88) < 2^127 with values below 2^19.5), then
    // one exact shift by D (and the fractional bits to drop) for every pair.
    let d: Vec<u32> = nab.iter().map(|&c| 63 - c.max(1).leading_zeros()).collect();
    let big = d.iter().copied().max().unwrap_or(0);
    let up: Vec<u128> = d.iter().map(|&di| 1u128 << (big - di)).collect();
    let up3: Vec<u128> = up.iter().chain(&up).chain(&up).copied().collect();
    let all = AShare::concat(&[&s_aa, &s_bb, &s_ab]).mul_public(&up3);
    // From 2f + D fractional bits to 40 (padding first if 2f + D < 40), exactly.
    let have = 2 * f + big;
    let m40 = if have >= MOMENT_BITS {
        trunc_exact(p, &all, have - MOMENT_BITS)?
    } else {
        all.shl(MOMENT_BITS - have)
    };
    // The 24-bit variances from the 40-bit ones: below 2^40 (values below 2^19.5, times
    // at most 2 from the normalisation), so 2^80 as ring values, within the probabilistic
    // truncation's range (one round, not a second bit decomposition).
    let var24 = p.trunc(&m40.slice(0..2 * s), MOMENT_BITS - 24)?;
    Ok(([m40.slice(0..2 * s), var24], m40.slice(2 * s..3 * s)))
}

/// `r = cov / (sd_a·sd_b)` of each pair from [`pair_moments`], with whether it is
/// undefined (a constant column), as the sealed values `[undefined…, r…]` (`r` with `f`
/// fractional bits). A variance too small for the fixed point (between 5.8e-11 and 6e-8)
/// is refused, one bit opened.
fn pearson(p: &mut Party, var: &[AShare<u128>; 2], cov: &AShare<u128>) -> Result<AShare<u128>> {
    let f = p.frac_bits();
    let s = cov.len();
    let [v40, v24] = var;
    let m = 2 * s;
    let limits: Vec<u128> = [CONSTANT_UNITS, PRECISE_UNITS, SMALL_VARIANCE_UNITS]
        .iter()
        .flat_map(|&l| std::iter::repeat_n(l, m))
        .collect();
    let below = p.lt_arith(&AShare::concat(&[v40, v40, v40]), &p.public(&limits))?;
    let constant = below.slice(0..m);
    let imprecise = below.slice(m..2 * m).sub(&constant);
    let small = below.slice(2 * m..3 * m);
    let any = p.lt_arith(&p.public(&[0u128]), &imprecise.sum())?;
    // LEAKAGE: one bit, whether some column's variance on the rows of some shown pair lies
    // between 5.8e-11 and 6e-8 (too few significant bits; which one is not opened).
    if p.reveal(&any)?[0] == 1 {
        return Err(StatsError::Invalid(TOO_LITTLE_VARIANCE.into()));
    }
    // 1/sd with 40 fractional bits: from the 40-bit variance where it is below 2^20 (read
    // as itself), else from the 24-bit one read as a 40-bit number (2^-16 times itself:
    // 2^48/sd, shifted down by 8).
    let rs = with_frac(p, MOMENT_BITS, |p| p.rsqrt(&AShare::concat(&[v40, v24])))?;
    let from40 = rs.slice(0..m);
    let from24 = p.trunc(&rs.slice(m..2 * m), 8)?;
    let pickd = p.mul(&small, &from40.sub(&from24))?;
    let rsd = from24.add(&pickd);
    // (cov/sd_a): the product is below 2^(80 + 19.5), beyond the probabilistic
    // truncation's range, so shifted exactly; then times 1/sd_b, below 2^80, to f bits.
    let t = p.mul(cov, &rsd.slice(0..s))?;
    let t = trunc_exact(p, &t, MOMENT_BITS)?;
    let r = p.mul_trunc(&t, &rsd.slice(s..m), 2 * MOMENT_BITS - f)?;
    // Sealed: whether either column is constant on the pair's complete rows (the result
    // shows such a pair as NaN, as pandas does), and r.
    let flat = constant.slice(0..s).add(&constant.slice(s..m));
    Ok(AShare::concat(&[&flat, &r]))
}

impl fmt::Display for Correlation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Pearson correlation (pairwise complete; pairs below {} suppressed)",
            self.min_cell
        )?;
        let mut header = vec![String::new()];
        header.extend(self.columns.iter().cloned());
        let small = format!("<{}", self.min_cell);
        // One square table, the cell of row a and column b given by `cell`.
        let square = |cell: &dyn Fn(usize, usize) -> String| -> String {
            let rows: Vec<Vec<String>> = self
                .columns
                .iter()
                .enumerate()
                .map(|(a, name)| {
                    let mut line = vec![name.clone()];
                    line.extend((0..self.columns.len()).map(|b| cell(a, b)));
                    line
                })
                .collect();
            table(&header, &rows)
        };
        write!(
            f,
            "{}",
            square(&|a, b| match (self.r[a][b], self.n[a][b]) {
                (Some(r), _) => format!("{r:.6}"),
                (None, Some(_)) => "NaN".into(),
                (None, None) => small.clone(),
            })
        )?;
        writeln!(f, "\nComplete pairs")?;
        write!(
            f,
            "{}",
            square(&|a, b| self.n[a][b].map_or(small.clone(), |c| c.to_string()))
        )
    }
}
