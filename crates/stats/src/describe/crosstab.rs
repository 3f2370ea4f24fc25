//! Contingency table of two categorical columns (each may come from a different data
//! party) with Pearson's chi-square test of independence, small cells suppressed.
//!
//! # Protocol (`La × Lb` levels, `n` rows)
//!
//! 1. `min_level_rows`: rows per level of both columns (local sums of the one-hot
//!    indicators), compared inside MPC; only the pass bit is opened.
//! 2. Cell counts `O = A'B`, the product of the two one-hot matrices: each party computes
//!    its additive part of all `La·Lb` cells in one pass over its shares (the local half of
//!    a replicated multiplication; memory-bound, no copies), then the three parts are
//!    secret-shared and added ([`super::additive_to_replicated`]: 3 rounds, `La·Lb` elements per
//!    party whatever `n`). Rows where either column is missing have all-zero indicators
//!    and drop out; which rows they are stays secret.
//! 3. `min_cell` (default 5): one comparison per cell; the shown/suppressed pattern is
//!    opened (part of the result). If no cell is shown the analysis is refused (rule
//!    `min_cell`) before anything else is opened.
//! 4. Chi-square inside MPC from the secret counts: with margins `R_i`, `C_j` and total
//!    `N` (local sums), `D_ij = N·O_ij - R_i·C_j` exactly (integer products, one round),
//!    `chi² = Σ D_ij² / (N·R_i·C_j)`. The reciprocals of `N`, `R_i`, `C_j` come from one
//!    batched `recip` applied to the integers read as fixed-point numbers (so each returns
//!    `2^48/y` with relative precision ~1e-7), after replacing empty margins by 1 (an
//!    equality test; their terms are exactly zero). Then `h = D/N`, `h/R_i`, `h/C_j`, their
//!    product and `× N`, truncating so that every intermediate keeps its relative
//!    precision; each term is positive, so the sum keeps it too (measured: about 1e-6
//!    relative). About 70 rounds in all, `O(La·Lb)` elements.
//! 5. The shown counts and chi-square (40 fractional bits) are sealed together for the
//!    recipients ([`crate::sealed`]); the p-value is computed at the recipient
//!    ([`CrosstabPublic`]) from chi-square and the public degrees of freedom
//!    `(La - 1)(Lb - 1)`.
//!
//! Margins and the total are shown only when no cell is suppressed (they are then sums of
//! shown cells, computed in plaintext); otherwise they would give suppressed cells away.
//! Chi-square is Pearson's without continuity correction, as
//! `scipy.stats.chi2_contingency(table, correction=False)` and statsmodels'
//! `Table.test_nominal_association()`. Unlike scipy, a level with no complete rows (a zero
//! margin) is not an error: its terms are zero and it still counts in the degrees of
//! freedom.
//!
//! # Valid range
//!
//! `n < 2^24` rows (the reciprocals' precision); beyond, results degrade gracefully.
//!
//! # Leakage
//!
//! To the compute parties: the `min_level_rows` pass bit and the suppression pattern. To the
//! recipients: also the shown counts and chi-square. Chi-square is a function of all cells,
//! including suppressed ones: together with the shown cells it constrains them (as any test
//! statistic of a suppressed table does).

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_mpc::{AShare, Party};

use super::{additive_to_replicated, cross_parts, decode_bits, gather, num, table};
use crate::analysis::CrosstabSpec;
use crate::disclosure::{at_least, Disclosure};
use crate::dist::chi2_sf;
use crate::error::{Result, StatsError};
use crate::sealed::{Sealed, Tail};
use crate::table::Frame;

/// `min_cell` of contingency tables when the study sets none.
pub const DEFAULT_MIN_CELL: u64 = 5;

/// Fractional bits chi-square is opened with.
const CHI2_BITS: u32 = 40;

/// The result of `kind = "crosstab"`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Crosstab {
    /// The column of the table's rows.
    pub rows: String,
    /// The column of the table's columns.
    pub columns: String,
    /// Levels of `rows`.
    pub row_levels: Vec<String>,
    /// Levels of `columns`.
    pub column_levels: Vec<String>,
    /// Smallest count a shown cell may have.
    pub min_cell: u64,
    /// `counts[i][j]`: rows with level `i` of `rows` and `j` of `columns`; `None` where
    /// suppressed.
    pub counts: Vec<Vec<Option<u64>>>,
    /// Row totals (only when no cell is suppressed).
    pub row_totals: Option<Vec<u64>>,
    /// Column totals (only when no cell is suppressed).
    pub column_totals: Option<Vec<u64>>,
    /// Rows with both values present (only when no cell is suppressed).
    pub total: Option<u64>,
    /// Pearson's chi-square statistic (no continuity correction).
    pub chi2: f64,
    /// Degrees of freedom `(La - 1)(Lb - 1)`.
    pub dof: u64,
    /// Upper-tail p-value (`None` for zero degrees of freedom).
    pub p_value: Option<f64>,
}

impl Crosstab {
    /// Assembles a result from the shown counts and chi-square (shared with the plaintext
    /// twin).
    pub(crate) fn assemble(
        spec: &CrosstabSpec,
        row_levels: &[String],
        column_levels: &[String],
        min_cell: u64,
        counts: Vec<Vec<Option<u64>>>,
        chi2: f64,
    ) -> Crosstab {
        let complete = counts.iter().flatten().all(Option::is_some);
        let (row_totals, column_totals, total) = if complete {
            let rt: Vec<u64> = counts
                .iter()
                .map(|r| r.iter().map(|c| c.unwrap_or(0)).sum())
                .collect();
            let ct: Vec<u64> = (0..column_levels.len())
                .map(|j| counts.iter().map(|r| r[j].unwrap_or(0)).sum())
                .collect();
            let t = rt.iter().sum();
            (Some(rt), Some(ct), Some(t))
        } else {
            (None, None, None)
        };
        let dof = (row_levels.len() as u64 - 1) * (column_levels.len() as u64 - 1);
        Crosstab {
            rows: spec.rows.clone(),
            columns: spec.columns.clone(),
            row_levels: row_levels.to_vec(),
            column_levels: column_levels.to_vec(),
            min_cell,
            counts,
            row_totals,
            column_totals,
            total,
            chi2,
            dof,
            p_value: (dof > 0).then(|| chi2_sf(chi2, dof as f64)),
        }
    }
}

/// The largest count a sealed cell may hold (far above any linked table; the sum of every
/// cell then stays far below `u64::MAX`).
const MAX_COUNT: u128 = 1 << 40;

/// Checks the specification (plaintext, before anything).
pub(crate) fn validate(spec: &CrosstabSpec, la: usize, lb: usize) -> Result<()> {
    if spec.rows == spec.columns {
        return Err(StatsError::Invalid(format!(
            "a contingency table needs two different columns, got `{}` twice",
            spec.rows
        )));
    }
    if la == 0 || lb == 0 {
        return Err(StatsError::Invalid(
            "a contingency table needs columns with at least one level".into(),
        ));
    }
    Ok(())
}

/// The refusal when no cell reaches `min_cell`.
pub(crate) fn no_cell(min_cell: u64) -> StatsError {
    StatsError::Refused {
        rule: "min_cell".into(),
        detail: format!("no cell of the table has at least {min_cell} rows"),
    }
}

/// What the compute parties know of a contingency table and the recipient's tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrosstabPublic {
    /// The analysis.
    pub spec: CrosstabSpec,
    /// Levels of the row column.
    pub row_levels: Vec<String>,
    /// Levels of the column column.
    pub column_levels: Vec<String>,
    /// Smallest count of a shown cell.
    pub min_cell: u64,
    /// Whether each cell (row-major) is shown.
    pub shown: Vec<bool>,
}

impl Tail for CrosstabPublic {
    type Result = Crosstab;

    /// Values: the shown cells' counts (row-major), then chi-square (40 fractional bits).
    fn open(&self, opened: &[u128]) -> Result<Crosstab> {
        let (la, lb) = (self.row_levels.len(), self.column_levels.len());
        let cells = la * lb;
        let idx: Vec<usize> = (0..cells).filter(|&i| self.shown[i]).collect();
        if la == 0 || lb == 0 || self.shown.len() != cells || opened.len() != idx.len() + 1 {
            return Err(StatsError::Invalid(
                "crosstab: the sealed values do not fit".into(),
            ));
        }
        // A count beyond 2^40 rows is no table's: words that are not this analysis' counts
        // (a faulty compute party, another analysis' values) are refused here, before the
        // totals are summed, instead of giving wrapped totals.
        if opened[..idx.len()].iter().any(|&w| w > MAX_COUNT) {
            return Err(StatsError::Invalid(
                "crosstab: a sealed count is beyond any table's size".into(),
            ));
        }
        let mut flat = vec![None; cells];
        for (t, &i) in idx.iter().enumerate() {
            flat[i] = Some(opened[t] as u64);
        }
        let chi2 = decode_bits(opened[idx.len()], CHI2_BITS);
        let counts: Vec<Vec<Option<u64>>> = flat.chunks(lb).map(<[Option<u64>]>::to_vec).collect();
        Ok(Crosstab::assemble(
            &self.spec,
            &self.row_levels,
            &self.column_levels,
            self.min_cell,
            counts,
            chi2,
        ))
    }
}

/// Contingency table with chi-square test on the shared table (see the module docs).
pub fn crosstab(
    p: &mut Party,
    frame: &Frame,
    spec: &CrosstabSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<CrosstabPublic>> {
    let a = frame.categorical(&spec.rows)?;
    let b = frame.categorical(&spec.columns)?;
    let (la, lb) = (a.levels.len(), b.levels.len());
    validate(spec, la, lb)?;
    let n = frame.rows;
    let min_cell = disclosure.min_cell_or(DEFAULT_MIN_CELL);

    if disclosure.min_level_rows > 0 {
        let level_rows: Vec<AShare<u128>> =
            a.onehot.iter().chain(b.onehot).map(AShare::sum).collect();
        disclosure.check_level_rows(
            p,
            &AShare::concat(&level_rows.iter().collect::<Vec<_>>()),
            &format!("`{}` or `{}`", spec.rows, spec.columns),
        )?;
    }

    // O = A'B: each party's additive part of every cell in one pass over the rows, then
    // turned into a replicated sharing.
    let (ra, rb): (Vec<_>, Vec<_>) = (a.onehot.iter().collect(), b.onehot.iter().collect());
    let z = cross_parts(&ra, &rb, n);
    let o = additive_to_replicated(p, &z)?;
    let cells = la * lb;

    let ok = at_least(p, &o, min_cell)?;
    // Opened: which cells are shown (the suppression pattern, part of the result).
    let shown: Vec<bool> = p.reveal(&ok)?.iter().map(|&v| v == 1).collect();
    if !shown.iter().any(|&s| s) {
        return Err(no_cell(min_cell));
    }
    let chi2 = chi_square(p, &o, la, lb)?;
    let idx: Vec<usize> = (0..cells).filter(|&i| shown[i]).collect();
    // Sealed for the recipients: the shown counts and chi-square (40 fractional bits; a
    // function of every cell, suppressed ones included: module docs).
    let public = CrosstabPublic {
        spec: spec.clone(),
        row_levels: a.levels.to_vec(),
        column_levels: b.levels.to_vec(),
        min_cell,
        shown,
    };
    Sealed::new(p, public, &AShare::concat(&[&gather(&o, &idx), &chi2]))
}

/// Pearson's chi-square of the shared `la × lb` integer counts `o` (row-major), as one
/// shared element with [`CHI2_BITS`] fractional bits. Opens nothing.
pub(crate) fn chi_square(
    p: &mut Party,
    o: &AShare<u128>,
    la: usize,
    lb: usize,
) -> Result<AShare<u128>> {
    let f = p.frac_bits();
    if 3 * f < CHI2_BITS + 8 {
        return Err(StatsError::Invalid(format!(
            "chi-square needs at least 16 fractional bits, the parties use {f}"
        )));
    }
    let cells = la * lb;
    let mut rsum = Vec::with_capacity(la);
    for i in 0..la {
        rsum.push(o.slice(i * lb..(i + 1) * lb).sum());
    }
    let mut csum = Vec::with_capacity(lb);
    for j in 0..lb {
        let idx: Vec<usize> = (0..la).map(|i| i * lb + j).collect();
        csum.push(gather(o, &idx).sum());
    }
    let total = o.sum();
    // Per cell: N, R_i, C_j.
    let nrep = gather(&total, &vec![0; cells]);
    let rrep = AShare::concat(&(0..cells).map(|c| &rsum[c / lb]).collect::<Vec<_>>());
    let crep = AShare::concat(&(0..cells).map(|c| &csum[c % lb]).collect::<Vec<_>>());
    let prods = p.mul_many(&[(&nrep, o), (&rrep, &crep)])?;
    let d = prods[0].sub(&prods[1]);
    // Reciprocals of the margins (empty ones replaced by 1; their D is exactly 0).
    let mut margins = vec![&total];
    margins.extend(rsum.iter());
    margins.extend(csum.iter());
    let margins = AShare::concat(&margins);
    let empty = p.eq(&margins, &AShare::zeros(margins.len()))?;
    let empty = p.inject::<u128>(&[&empty], margins.len())?.remove(0);
    // Read as fixed point, the integer y is y·2^-f; its reciprocal 2^f/y, encoded, is the
    // integer 2^(2f)/y.
    let inv = p.recip(&margins.add(&empty))?;
    let inv_n = gather(&inv, &vec![0; cells]);
    let inv_r = gather(&inv, &(0..cells).map(|c| 1 + c / lb).collect::<Vec<_>>());
    let inv_c = gather(
        &inv,
        &(0..cells).map(|c| 1 + la + c % lb).collect::<Vec<_>>(),
    );
    // h = D/N = O - E with f fractional bits.
    let h = p.mul_trunc(&d, &inv_n, f)?;
    // h/R and h/C with 40 fractional bits (|h| ≤ R, C).
    let hr = p.mul_trunc_many(&[(&h, &inv_r), (&h, &inv_c)], 3 * f - CHI2_BITS)?;
    // (O - E)²/(R·C) with 40 bits, times N: the term (O - E)²/E.
    let w = p.mul_trunc(&hr[0], &hr[1], CHI2_BITS)?;
    let terms = p.mul(&nrep, &w)?;
    Ok(terms.sum())
}

/// A p-value as statsmodels prints it: four decimals, or scientific below 1e-4.
pub(crate) fn pval(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.3e}")
    } else {
        format!("{p:.4}")
    }
}

impl fmt::Display for Crosstab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Contingency table: {} (rows) × {} (columns); cells below {} shown as <{}",
            self.rows, self.columns, self.min_cell, self.min_cell
        )?;
        let small = format!("<{}", self.min_cell);
        let mut header = vec![String::new()];
        header.extend(self.column_levels.iter().cloned());
        if self.row_totals.is_some() {
            header.push("All".into());
        }
        let mut rows: Vec<Vec<String>> = self
            .counts
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut line = vec![self.row_levels[i].clone()];
                line.extend(r.iter().map(|c| c.map_or(small.clone(), |c| c.to_string())));
                if let Some(t) = &self.row_totals {
                    line.push(t[i].to_string());
                }
                line
            })
            .collect();
        if let (Some(ct), Some(t)) = (&self.column_totals, self.total) {
            let mut line = vec!["All".to_string()];
            line.extend(ct.iter().map(u64::to_string));
            line.push(t.to_string());
            rows.push(line);
        }
        write!(f, "{}", table(&header, &rows))?;
        writeln!(
            f,
            "Pearson chi2 = {}, dof = {}, p = {}",
            num(self.chi2),
            self.dof,
            self.p_value.map_or("NaN".to_string(), pval)
        )
    }
}
