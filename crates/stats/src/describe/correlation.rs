//! Pearson correlation matrix of numeric columns on pairwise complete observations (as
//! pandas' `DataFrame.corr()`: each pair uses the rows where both values are present).
//!
//! # Protocol (`k` columns, `n` rows)
//!
//! 1. `max_vars_per_row` on the public `k` and `n`.
//! 2. `x²` of every column (one batched fixed-point product), then one matrix product
//!    `[present; x; x²] (3k × n) · [present, x] (n × 2k)`: every pair's count of complete
//!    rows `n_ab`, sums `Σx_a` over rows where `b` is present, sums of squares likewise, and
//!    cross products `Σx_a·x_b`, computed locally in one pass ([`super::cross_parts`]) and
//!    shared back (3 rounds, `6k²` elements, independent of `n`); nothing is truncated
//!    except the cross products (once each). A missing value is 0 with
//!    present = 0, so it drops out of every sum.
//! 3. `min_cell` (default 5) on the pair counts; the shown pattern is opened (part of the
//!    result), then the shown `n_ab` (named in the result; the next step needs them public).
//! 4. With `n_ab` public: means, centred cross products and sums of squares, each divided
//!    by the public `n_ab`; `1/sd` by `rsqrt` run at 40 fractional bits (the value read with
//!    16 more bits, so that `1/sd` keeps its relative precision for large variances);
//!    `r = cov · (1/sd_a) · (1/sd_b)`. About 60 rounds, `O(k²)` elements.
//! 5. Whether each shown pair is undefined (a column constant on its rows) and `r` are
//!    sealed for the recipients ([`crate::sealed`], [`CorrelationPublic`]).
//!
//! # Valid range
//!
//! Standard deviations below 2^15 (fixed-point range of the products). A column whose
//! variance on a pair's rows is below 2^-18 (constant, in practice) makes that correlation
//! undefined (`None`, printed NaN, as pandas). Measured error: below 1e-7 absolute on r.
//!
//! # Leakage
//!
//! To the compute parties: the suppression pattern and the pair counts `n_ab` of shown
//! pairs (they divide the sums as public constants). To the recipients: also the
//! correlations of shown pairs and which of them are undefined (a constant column).

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::decode;
use tessera_mpc::{AShare, Party};

use super::{additive_to_replicated, cross_parts, gather, scale_public, table, with_frac};
use crate::analysis::CorrelationSpec;
use crate::disclosure::{at_least, Disclosure};
use crate::error::{Result, StatsError};
use crate::sealed::{Sealed, Tail};
use crate::table::Frame;

/// `min_cell` (smallest number of complete pairs) of correlations when the study sets none.
pub const DEFAULT_MIN_CELL: u64 = 5;

/// Variances below this many units of 2^-24 (about 3.8e-6) count as zero: the pair's
/// correlation is undefined.
const MIN_VARIANCE_ULPS: u128 = 64;

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
    if f % 2 == 1 || f > 40 {
        return Err(StatsError::Invalid(format!(
            "correlation needs an even number of fractional bits up to 40, the parties use {f}"
        )));
    }
    disclosure.check_vars(k, n)?;
    let min_cell = disclosure.min_cell_or(DEFAULT_MIN_CELL);
    let cols = spec
        .columns
        .iter()
        .map(|c| frame.numeric(c))
        .collect::<Result<Vec<_>>>()?;

    let sq = p.mul_trunc_many(&cols.iter().map(|(x, _)| (*x, *x)).collect::<Vec<_>>(), f)?;
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
        let sa = pick(&|a, b| at(k + a, b));
        let sb = pick(&|a, b| at(k + b, a));
        let qa = pick(&|a, b| at(2 * k + a, b));
        let qb = pick(&|a, b| at(2 * k + b, a));
        let c2 = pick(&|a, b| at(k + a, k + b));
        let s = sel.len();
        let inv: Vec<f64> = sel
            .iter()
            .map(|&t| 1.0 / public.counts[t].unwrap_or(1) as f64)
            .collect();
        let inv2: Vec<f64> = inv.iter().chain(&inv).copied().collect();
        let inv3: Vec<f64> = inv2.iter().chain(&inv).copied().collect();
        let c = p.trunc(&c2, f)?;
        let means = scale_public(p, &AShare::concat(&[&sa, &sb]), &inv2)?;
        let (ma, mb) = (means.slice(0..s), means.slice(s..2 * s));
        let pr = p.mul_trunc_many(&[(&ma, &sb), (&ma, &sa), (&mb, &sb)], f)?;
        let centred = AShare::concat(&[&c.sub(&pr[0]), &qa.sub(&pr[1]), &qb.sub(&pr[2])]);
        let mom = scale_public(p, &centred, &inv3)?;
        let cov = mom.slice(0..s);
        // 1/sd with 40 fractional bits: the values read as 40-bit numbers are 2^(f-40)
        // times themselves, so the result is 2^e/sd with e = 40 + (40 - f)/2.
        let e = 40 + (40 - f) / 2;
        let var = mom.slice(s..3 * s);
        // A (nearly) constant column on the pair's rows has no correlation (pandas: NaN).
        let tiny = p.public(&vec![MIN_VARIANCE_ULPS; 2 * s]);
        let flat = p.lt_arith(&var, &tiny)?;
        let flat = flat.slice(0..s).add(&flat.slice(s..2 * s));
        let rsd = with_frac(p, 40, |p| p.rsqrt(&var))?;
        let t = p.mul_trunc(&cov, &rsd.slice(0..s), e)?;
        let r = p.mul_trunc(&t, &rsd.slice(s..2 * s), e)?;
        // Sealed: whether either column is constant on the pair's complete rows (its
        // variance below 2^-18; the result shows such a pair as NaN, as pandas does), and r.
        sealed = AShare::concat(&[&flat, &r]);
    }
    Sealed::new(p, public, &sealed)
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
