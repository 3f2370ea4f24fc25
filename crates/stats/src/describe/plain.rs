//! Plaintext twins of the descriptive analyses: the same results, computed in f64 on a
//! [`PlainFrame`] with the same disclosure rules. They are the oracle of the MPC versions'
//! tests and are themselves tested against numpy / scipy / pandas fixtures.

use crate::analysis::{CorrelationSpec, CrosstabSpec, DescribeSpec};
use crate::disclosure::Disclosure;
use crate::error::{Result, StatsError};
use crate::table::PlainFrame;

use super::correlation::{self, symmetric, upper, Correlation};
use super::crosstab::{self, no_cell, Crosstab};
use super::describe::{self, Description, Summary};
use super::quantile::{min_side, position, quantile_sorted, readable};

fn level_rule(d: &Disclosure, counts: &[u64], what: &str) -> Result<()> {
    if d.min_level_rows > 0 && counts.iter().any(|&c| c < d.min_level_rows) {
        return Err(StatsError::Refused {
            rule: "min_level_rows".into(),
            detail: format!("a level of {what} has fewer than {} rows", d.min_level_rows),
        });
    }
    Ok(())
}

fn level_counts(levels: usize, codes: &[Option<usize>]) -> Vec<u64> {
    let mut c = vec![0u64; levels];
    for &k in codes.iter().flatten() {
        c[k] += 1;
    }
    c
}

/// numpy's histogram counts of `v` on `edges` (half-open bins, the last closed).
pub fn histogram_counts(v: &[f64], edges: &[f64]) -> Vec<u64> {
    let bins = edges.len() - 1;
    let mut c = vec![0u64; bins];
    for &x in v {
        if x < edges[0] || x > edges[bins] {
            continue;
        }
        let j = edges[1..bins].iter().take_while(|&&e| e <= x).count();
        c[j] += 1;
    }
    c
}

/// The histogram as shown: bins below `min_cell` suppressed, and the whole histogram when
/// the rows of the cell (`count`) in no shown bin number neither zero nor `min_cell` or more
/// (the rule of [`super::describe()`]).
pub fn shown_bins(bins: &[u64], count: u64, min_cell: u64) -> Vec<Option<u64>> {
    let shown: Vec<Option<u64>> = bins.iter().map(|&c| (c >= min_cell).then_some(c)).collect();
    let rest = count - shown.iter().flatten().sum::<u64>();
    if rest == 0 || rest >= min_cell {
        shown
    } else {
        vec![None; bins.len()]
    }
}

/// Mean and sample variance (`ddof = 1`, two passes).
pub fn mean_var(v: &[f64]) -> (Option<f64>, Option<f64>) {
    if v.is_empty() {
        return (None, None);
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = (v.len() >= 2).then(|| v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0));
    (Some(m), var)
}

/// Plaintext twin of [`super::describe()`].
pub fn describe(
    frame: &PlainFrame,
    spec: &DescribeSpec,
    disclosure: &Disclosure,
) -> Result<Description> {
    describe::validate(spec, disclosure)?;
    let min_cell = disclosure.min_cell_or(describe::DEFAULT_MIN_CELL);
    let (labels, codes): (Vec<Option<String>>, Vec<Option<usize>>) = match &spec.group {
        Some(g) => {
            let (levels, codes) = frame.categorical(g)?;
            level_rule(
                disclosure,
                &level_counts(levels.len(), codes),
                &format!("`{g}`"),
            )?;
            (
                levels.iter().map(|l| Some(l.clone())).collect(),
                codes.to_vec(),
            )
        }
        None => (vec![None], vec![Some(0); frame.rows]),
    };
    let mut summaries = Vec::new();
    for name in &spec.columns {
        let col = crate::terms::plain_numeric(frame, name)?;
        for (l, label) in labels.iter().enumerate() {
            let rows: Vec<Option<f64>> = col
                .iter()
                .zip(&codes)
                .filter(|(_, c)| **c == Some(l))
                .map(|(v, _)| *v)
                .collect();
            let mut v: Vec<f64> = rows.iter().flatten().copied().collect();
            let count = v.len() as u64;
            if count < min_cell {
                summaries.push(Summary::suppressed(name, label.clone()));
                continue;
            }
            v.sort_by(f64::total_cmp);
            let (mean, var) = mean_var(&v);
            let histogram = spec
                .histogram
                .as_ref()
                .filter(|_| count >= 1)
                .map(|e| shown_bins(&histogram_counts(&v, e), count, min_cell));
            let ext = spec.extremes && count >= 1;
            summaries.push(Summary {
                column: name.clone(),
                level: label.clone(),
                suppressed: false,
                count: Some(count),
                missing: Some(rows.len() as u64 - count).filter(|&m| m >= min_cell),
                mean,
                var,
                sd: var.map(|v| v.max(0.0).sqrt()),
                quantiles: if count >= 1 {
                    let side = min_side(min_cell, disclosure.allow_extremes);
                    spec.quantiles
                        .iter()
                        .map(|&q| {
                            readable(v.len(), position(v.len(), q), side)
                                .then(|| quantile_sorted(&v, q))
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                min: ext.then(|| v[0]),
                max: ext.then(|| v[v.len() - 1]),
                histogram,
            });
        }
    }
    Ok(Description {
        group: spec.group.clone(),
        quantiles: spec.quantiles.clone(),
        edges: spec.histogram.clone(),
        min_cell,
        summaries,
    })
}

/// The counts and Pearson chi-square of two code vectors (rows where either is missing
/// are dropped; empty rows or columns contribute nothing).
pub fn table_chi2(
    la: usize,
    lb: usize,
    a: &[Option<usize>],
    b: &[Option<usize>],
) -> (Vec<Vec<u64>>, f64) {
    let mut o = vec![vec![0u64; lb]; la];
    for (x, y) in a.iter().zip(b) {
        if let (Some(x), Some(y)) = (x, y) {
            o[*x][*y] += 1;
        }
    }
    let r: Vec<f64> = o.iter().map(|row| row.iter().sum::<u64>() as f64).collect();
    let c: Vec<f64> = (0..lb)
        .map(|j| o.iter().map(|row| row[j]).sum::<u64>() as f64)
        .collect();
    let n: f64 = r.iter().sum();
    let mut chi2 = 0.0;
    for i in 0..la {
        for j in 0..lb {
            if r[i] > 0.0 && c[j] > 0.0 {
                let e = r[i] * c[j] / n;
                chi2 += (o[i][j] as f64 - e).powi(2) / e;
            }
        }
    }
    (o, chi2)
}

/// Plaintext twin of [`super::crosstab()`].
pub fn crosstab(
    frame: &PlainFrame,
    spec: &CrosstabSpec,
    disclosure: &Disclosure,
) -> Result<Crosstab> {
    let (la_levels, a) = frame.categorical(&spec.rows)?;
    let (lb_levels, b) = frame.categorical(&spec.columns)?;
    let (la, lb) = (la_levels.len(), lb_levels.len());
    crosstab::validate(spec, la, lb)?;
    let mut lc = level_counts(la, a);
    lc.extend(level_counts(lb, b));
    level_rule(
        disclosure,
        &lc,
        &format!("`{}` or `{}`", spec.rows, spec.columns),
    )?;
    let min_cell = disclosure.min_cell_or(crosstab::DEFAULT_MIN_CELL);
    let (o, chi2) = table_chi2(la, lb, a, b);
    if !o.iter().flatten().any(|&c| c >= min_cell) {
        return Err(no_cell(min_cell));
    }
    let counts = o
        .iter()
        .map(|r| r.iter().map(|&c| (c >= min_cell).then_some(c)).collect())
        .collect();
    Ok(Crosstab::assemble(
        spec, la_levels, lb_levels, min_cell, counts, chi2,
    ))
}

/// Pearson correlation of the pairs where both values are present, with the MPC
/// version's rules on the variances normalised by `2^⌊log2 n⌋` (`correlation`'s module
/// docs, steps 4 and 5): below 64·2^-40 the column counts as constant (undefined), up to
/// 2^-24 the correlation is refused.
pub fn pearson(x: &[Option<f64>], y: &[Option<f64>]) -> Result<(u64, Option<f64>)> {
    let pairs: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter_map(|(a, b)| Some(((*a)?, (*b)?)))
        .collect();
    let n = pairs.len();
    if n < 2 {
        return Ok((n as u64, None));
    }
    let nf = n as f64;
    let ma = pairs.iter().map(|p| p.0).sum::<f64>() / nf;
    let mb = pairs.iter().map(|p| p.1).sum::<f64>() / nf;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for &(a, b) in &pairs {
        sab += (a - ma) * (b - mb);
        saa += (a - ma) * (a - ma);
        sbb += (b - mb) * (b - mb);
    }
    let scale = (63 - (n as u64).leading_zeros()) as f64;
    let norm = |s: f64| s / scale.exp2();
    let constant = 64.0 * (-40f64).exp2();
    if norm(saa) < constant || norm(sbb) < constant {
        return Ok((n as u64, None));
    }
    if norm(saa) < (-24f64).exp2() || norm(sbb) < (-24f64).exp2() {
        return Err(StatsError::Invalid(correlation::TOO_LITTLE_VARIANCE.into()));
    }
    Ok((n as u64, Some((sab / (saa * sbb).sqrt()).clamp(-1.0, 1.0))))
}

/// Plaintext twin of [`super::correlation()`].
pub fn correlation(
    frame: &PlainFrame,
    spec: &CorrelationSpec,
    disclosure: &Disclosure,
) -> Result<Correlation> {
    correlation::validate(spec)?;
    crate::ranges::check_plain(crate::AnalysisSpec::Correlation(spec.clone()), frame)?;
    let k = spec.columns.len();
    disclosure.check_vars(k, frame.rows)?;
    let min_cell = disclosure.min_cell_or(correlation::DEFAULT_MIN_CELL);
    let cols = spec
        .columns
        .iter()
        .map(|c| frame.numeric(c))
        .collect::<Result<Vec<_>>>()?;
    let mut n = Vec::new();
    let mut r = Vec::new();
    for (a, b) in upper(k) {
        let (c, v) = pearson(cols[a], cols[b])?;
        if c < min_cell {
            n.push(None);
            r.push(None);
        } else {
            n.push(Some(c));
            r.push(if a == b { (c >= 2).then_some(1.0) } else { v });
        }
    }
    Ok(Correlation {
        columns: spec.columns.clone(),
        min_cell,
        n: symmetric(k, &n, None),
        r: symmetric(k, &r, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_numpys() {
        // np.histogram([0, 1, 1.5, 2, 3, 3, 4], [0, 1, 2, 3]) -> [1, 2, 3]; 4 is outside.
        let v = [0.0, 1.0, 1.5, 2.0, 3.0, 3.0, 4.0];
        assert_eq!(histogram_counts(&v, &[0.0, 1.0, 2.0, 3.0]), vec![1, 2, 3]);
    }

    #[test]
    fn chi2_of_a_small_table() {
        // scipy.stats.chi2_contingency([[10, 20], [30, 40]], correction=False)[0]
        let a: Vec<Option<usize>> = [vec![Some(0); 30], vec![Some(1); 70]].concat();
        let b: Vec<Option<usize>> = [
            vec![Some(0); 10],
            vec![Some(1); 20],
            vec![Some(0); 30],
            vec![Some(1); 40],
        ]
        .concat();
        let (o, chi2) = table_chi2(2, 2, &a, &b);
        assert_eq!(o, vec![vec![10, 20], vec![30, 40]]);
        assert!((chi2 - 0.7936507936507936).abs() < 1e-12, "{chi2}");
    }
}
