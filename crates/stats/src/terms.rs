//! Model terms: how the `covariates` of a Cox, linear or logistic model are read, expanded
//! into design columns and named. One module, used by the MPC and the plaintext designs of
//! every model, so that the expansion is written once.
//!
//! # Syntax (R's and patsy's formula operators)
//!
//! - `party.column`: a main effect. A numeric column gives one design column; a categorical
//!   column one indicator per level but the first (treatment coding, named
//!   `party.column[T.level]`).
//! - `num(party.column)`: a categorical column whose declared levels are all numbers, used
//!   as a numeric covariate (the value of a row is its level read as a number), named
//!   `num(party.column)`.
//! - `a:b` (`a:b:c`): the product term only, named by joining the factors' names with `:`
//!   (`registry.stage[T.2]:gp.bmi`). With categorical factors, one design column per
//!   combination of non-reference levels (the left-most factor varies fastest, as in R and
//!   patsy).
//! - `a*b` (`a*b*c`): every main effect and every product of the factors, in R's order
//!   (`a`, `b`, `a:b`; for three: `a`, `b`, `c`, `a:b`, `a:c`, `b:c`, `a:b:c`). A term the
//!   expansion produces that is already in the model (written elsewhere, or produced by
//!   another `*`) is dropped, as R does; the same term written out twice is an error.
//!
//! At most [`MAX_FACTORS`] factors per term; a column may appear once per term. Terms are
//! equal whatever the order of their factors (`a:b` is `b:a`).
//!
//! Categorical factors always use treatment coding (the first level is the reference), also
//! inside a product whose main effects are absent: R and patsy would then code the factor
//! with all its levels, so `a.x:b.group` without `b.group` differs from R's
//! parameterisation (write `a.x*b.group` for R's model with both main effects).

use std::collections::BTreeSet;

use tessera_mpc::fixed::encode;
use tessera_mpc::{AShare, Party};

use crate::error::{Result, StatsError};
use crate::table::{ColumnData, Frame, PlainData, PlainFrame};

/// Most factors in one term (`a:b:c`); more would multiply the design columns for little use.
pub const MAX_FACTORS: usize = 3;

/// One factor of a term: a column, used as written or (with `num`) a categorical column read
/// as numbers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Factor {
    /// `party.column`.
    pub column: String,
    /// Written `num(party.column)`: the levels read as numbers.
    pub num: bool,
}

impl Factor {
    /// The factor as written (`party.column` or `num(party.column)`).
    pub fn written(&self) -> String {
        if self.num {
            format!("num({})", self.column)
        } else {
            self.column.clone()
        }
    }
}

/// One model term: a main effect (one factor) or a product of factors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    /// The factors, in the order written.
    pub factors: Vec<Factor>,
}

impl Term {
    /// The term as written, factors joined by `:`.
    pub fn written(&self) -> String {
        self.factors
            .iter()
            .map(Factor::written)
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The factors as a set (terms are equal whatever the order of their factors).
    fn key(&self) -> BTreeSet<&Factor> {
        self.factors.iter().collect()
    }
}

fn bad(entry: &str, why: impl std::fmt::Display) -> StatsError {
    StatsError::Invalid(format!("covariate `{entry}`: {why}"))
}

/// Reads one factor (`party.column` or `num(party.column)`) of the entry `entry`.
fn factor(entry: &str, s: &str) -> Result<Factor> {
    let s = s.trim();
    if s.is_empty() {
        return Err(bad(
            entry,
            "a factor is empty (`a.x:`, `a.x**b.y` and `:a.x` are not terms; `:` joins \
             factors into a product, `*` gives the main effects and their product)",
        ));
    }
    let (column, num) = match s.strip_prefix("num(") {
        Some(rest) => match rest.strip_suffix(')') {
            Some(inner) => (inner.trim(), true),
            None => return Err(bad(entry, format!("`{s}` lacks its closing `)`"))),
        },
        None => (s, false),
    };
    let plain = |c: &str| {
        !c.is_empty()
            && !c
                .chars()
                .any(|ch| ch.is_whitespace() || "()*:+^/".contains(ch))
    };
    if !plain(column) {
        return Err(bad(
            entry,
            format!(
                "`{s}` is not a factor: write `party.column`, or `num(party.column)` for a \
                 categorical column whose levels are numbers"
            ),
        ));
    }
    Ok(Factor {
        column: column.to_string(),
        num,
    })
}

/// The factors of `entry` split at `sep`, checked: at most [`MAX_FACTORS`], no column twice.
fn factors(entry: &str, sep: char) -> Result<Vec<Factor>> {
    let fs: Vec<Factor> = entry
        .split(sep)
        .map(|s| factor(entry, s))
        .collect::<Result<_>>()?;
    if fs.len() > MAX_FACTORS {
        return Err(bad(
            entry,
            format!("{} factors; a term has at most {MAX_FACTORS}", fs.len()),
        ));
    }
    for (i, f) in fs.iter().enumerate() {
        if fs[..i].iter().any(|g| g.column == f.column) {
            return Err(bad(
                entry,
                format!(
                    "`{}` is interacted with itself (a column appears once per term; for a \
                     square, add a derived column to the data)",
                    f.column
                ),
            ));
        }
    }
    Ok(fs)
}

/// The terms one covariate entry stands for, each with whether it was written out (rather
/// than produced by `*`).
fn entry_terms(entry: &str) -> Result<Vec<(Term, bool)>> {
    let (star, colon) = (entry.contains('*'), entry.contains(':'));
    if star && colon {
        return Err(bad(
            entry,
            "mixes `*` and `:`; write the products as separate covariates (`a.x*b.y` and \
             `a.x:b.y:c.z`)",
        ));
    }
    if !star {
        let fs = factors(entry, ':')?;
        return Ok(vec![(Term { factors: fs }, true)]);
    }
    let fs = factors(entry, '*')?;
    let k = fs.len();
    // Every non-empty subset of the factors, by size, then in the order written (R's order).
    let mut subsets: Vec<Vec<usize>> = (1u32..(1 << k))
        .map(|m| (0..k).filter(|&i| m & (1 << i) != 0).collect())
        .collect();
    subsets.sort_by(|a: &Vec<usize>, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    Ok(subsets
        .into_iter()
        .map(|s| {
            let t = Term {
                factors: s.iter().map(|&i| fs[i].clone()).collect(),
            };
            (t, false)
        })
        .collect())
}

/// The model's terms, in order: every entry expanded, duplicates that a `*` produced
/// dropped. Errors (naming the entry) for malformed entries and for a term written out
/// twice.
pub fn expand(covariates: &[String]) -> Result<Vec<Term>> {
    let mut out: Vec<(Term, bool)> = Vec::new();
    for entry in covariates {
        for (t, written) in entry_terms(entry)? {
            match out.iter().position(|(u, _)| u.key() == t.key()) {
                Some(i) if written && out[i].1 => {
                    return Err(bad(
                        entry,
                        format!("the term `{}` is listed twice", t.written()),
                    ))
                }
                Some(_) => {}
                None => {
                    // The same columns with and without `num`: num(a.s) is a combination of
                    // a.s's indicators (and the intercept), so the design would be singular.
                    let cols = |u: &Term| -> BTreeSet<String> {
                        u.factors.iter().map(|f| f.column.clone()).collect()
                    };
                    if let Some((u, _)) = out.iter().find(|(u, _)| cols(u) == cols(&t)) {
                        return Err(bad(
                            entry,
                            format!(
                                "`{}` and `{}` read the same columns, once through num(): \
                                 num() of a categorical column is a combination of its \
                                 indicators, so the model would be singular; keep one",
                                u.written(),
                                t.written()
                            ),
                        ));
                    }
                    out.push((t, written))
                }
            }
        }
    }
    Ok(out.into_iter().map(|(t, _)| t).collect())
}

/// Every column (`party.column`) the covariates read, each once, in the order first used:
/// what the policy and the column rules must see. Read leniently (the factors between `*`
/// and `:`, `num(...)` unwrapped), so that a malformed entry still shows the columns it
/// names; [`expand`] refuses it.
pub fn columns(covariates: &[String]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for piece in covariates.iter().flat_map(|e| e.split(['*', ':'])) {
        let s = piece.trim();
        let c = s
            .strip_prefix("num(")
            .map(|r| r.strip_suffix(')').unwrap_or(r).trim())
            .unwrap_or(s);
        if !c.is_empty() && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Per column the covariates read ([`columns`]' order), the most factors of any term it is
/// a factor of (1: main effects only). A product of `k` factors each below `L^(1/k)` stays
/// below `L`: the data owners check each factor so ([`crate::ranges::column_needs`]), since
/// nobody sees the product. Counted leniently like [`columns`], and categorical factors
/// count too (the types are not known here): stricter than needed, never looser.
pub fn factor_depths(covariates: &[String]) -> Vec<(&str, usize)> {
    let mut out: Vec<(&str, usize)> = Vec::new();
    for entry in covariates {
        let pieces = columns(std::slice::from_ref(entry));
        let depth = entry.split(['*', ':']).count();
        for c in pieces {
            match out.iter_mut().find(|(x, _)| *x == c) {
                Some((_, d)) => *d = (*d).max(depth),
                None => out.push((c, depth)),
            }
        }
    }
    out
}

/// What the expansion needs to know of a column: numeric (`None`) or its declared levels.
pub type Levels = Option<Vec<String>>;

/// One factor's contribution to a design column.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    /// A numeric column's value.
    Value(String),
    /// The indicator of level `.1` of a categorical column.
    Level(String, usize),
    /// A categorical column's level read as a number (the levels' values, in order).
    Num(String, Vec<f64>),
}

impl Part {
    /// The column the part reads.
    pub fn column(&self) -> &str {
        match self {
            Part::Value(c) | Part::Level(c, _) | Part::Num(c, _) => c,
        }
    }
}

/// One design column: its name and the parts whose product it is.
#[derive(Clone, Debug, PartialEq)]
pub struct DesignColumn {
    /// As shown in the result (`registry.stage[T.2]:gp.bmi`).
    pub name: String,
    /// The factors' parts (one per factor of the term).
    pub parts: Vec<Part>,
}

/// The numbers of a categorical column's levels, for `num(column)`; an error names the
/// column and the first level that is not a number.
pub fn level_values(column: &str, levels: &[String]) -> Result<Vec<f64>> {
    levels
        .iter()
        .map(|l| {
            l.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    StatsError::Invalid(format!(
                        "`num({column})`: level `{l}` of `{column}` is not a number (num() \
                         reads a categorical column whose levels are all numbers)"
                    ))
                })
        })
        .collect()
}

/// A factor's alternatives: (name, part) per design column it contributes to.
fn alternatives(f: &Factor, levels: &Levels) -> Result<Vec<(String, Part)>> {
    let c = &f.column;
    match (levels, f.num) {
        (None, false) => Ok(vec![(c.clone(), Part::Value(c.clone()))]),
        (None, true) => Err(StatsError::Invalid(format!(
            "`num({c})`: `{c}` is numeric already; num() reads a categorical column as numbers"
        ))),
        (Some(l), true) => Ok(vec![(
            f.written(),
            Part::Num(c.clone(), level_values(c, l)?),
        )]),
        (Some(l), false) => {
            if l.len() < 2 {
                return Err(StatsError::Invalid(format!(
                    "categorical covariate `{c}` needs at least two levels"
                )));
            }
            Ok(l.iter()
                .enumerate()
                .skip(1)
                .map(|(j, lv)| (format!("{c}[T.{lv}]"), Part::Level(c.clone(), j)))
                .collect())
        }
    }
}

/// The design columns of `terms`, in order; `levels` tells each column's kind (and is
/// where an unknown column is an error).
pub fn design_columns(
    terms: &[Term],
    levels: &dyn Fn(&str) -> Result<Levels>,
) -> Result<Vec<DesignColumn>> {
    let mut out = Vec::new();
    for t in terms {
        let alts: Vec<Vec<(String, Part)>> = t
            .factors
            .iter()
            .map(|f| alternatives(f, &levels(&f.column)?))
            .collect::<Result<_>>()?;
        // Every combination, the left-most factor varying fastest (R's and patsy's order).
        let total: usize = alts.iter().map(Vec::len).product();
        for mut idx in 0..total {
            let mut names = Vec::with_capacity(alts.len());
            let mut parts = Vec::with_capacity(alts.len());
            for a in &alts {
                let (name, part) = &a[idx % a.len()];
                idx /= a.len();
                names.push(name.as_str());
                parts.push(part.clone());
            }
            out.push(DesignColumn {
                name: names.join(":"),
                parts,
            });
        }
    }
    Ok(out)
}

/// Number of design columns of `covariates` from the level counts alone (`levels(c)` is 0
/// or 1 for a numeric column): for limits and cost estimates before any data is read.
/// Entries that do not parse count one each.
pub fn count(covariates: &[String], levels: &dyn Fn(&str) -> usize) -> usize {
    match expand(covariates) {
        Ok(terms) => terms
            .iter()
            .map(|t| {
                t.factors
                    .iter()
                    .map(|f| {
                        if f.num {
                            1
                        } else {
                            levels(&f.column).saturating_sub(1).max(1)
                        }
                    })
                    .product::<usize>()
            })
            .sum(),
        Err(_) => covariates.len(),
    }
}

/// The distinct columns the design columns read, in order.
pub fn design_sources(cols: &[DesignColumn]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for p in cols.iter().flat_map(|c| &c.parts) {
        if !out.contains(&p.column()) {
            out.push(p.column());
        }
    }
    out
}

/// The categorical columns used as categories (not through `num`) by the design columns:
/// the ones whose levels `min_level_rows` applies to.
pub fn categorical_sources(cols: &[DesignColumn]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for p in cols.iter().flat_map(|c| &c.parts) {
        if let Part::Level(c, _) = p {
            if !out.contains(&c.as_str()) {
                out.push(c);
            }
        }
    }
    out
}

/// The kind of a shared column, for [`design_columns`].
pub fn frame_levels(frame: &Frame) -> impl Fn(&str) -> Result<Levels> + '_ {
    move |c| {
        Ok(match &frame.column(c)?.data {
            ColumnData::Numeric(_) => None,
            ColumnData::Categorical { levels, .. } => Some(levels.clone()),
        })
    }
}

/// The kind of a plaintext column, for [`design_columns`].
pub fn plain_levels(frame: &PlainFrame) -> impl Fn(&str) -> Result<Levels> + '_ {
    move |c| {
        Ok(match &frame.column(c)?.data {
            PlainData::Numeric(_) => None,
            PlainData::Categorical { levels, .. } => Some(levels.clone()),
        })
    }
}

/// Each term as written with its number of design columns (R's `assign`: a categorical
/// column's indicators together), in the model's order.
pub fn term_widths(
    covariates: &[String],
    levels: &dyn Fn(&str) -> Result<Levels>,
) -> Result<Vec<(String, usize)>> {
    expand(covariates)?
        .into_iter()
        .map(|t| {
            let w = design_columns(std::slice::from_ref(&t), levels)?.len();
            Ok((t.written(), w))
        })
        .collect()
}

/// The design columns of `covariates` on a shared frame (names and parts).
pub fn shared_design(frame: &Frame, covariates: &[String]) -> Result<Vec<DesignColumn>> {
    design_columns(&expand(covariates)?, &frame_levels(frame))
}

/// The design columns of `covariates` on a plaintext frame (names and parts).
pub fn plain_design(frame: &PlainFrame, covariates: &[String]) -> Result<Vec<DesignColumn>> {
    design_columns(&expand(covariates)?, &plain_levels(frame))
}

/// Row `i` of the design in f64 (the plaintext twin of [`evaluate`]), or `None` when a
/// column the design reads is missing there (not a complete case).
pub fn plain_row(frame: &PlainFrame, cols: &[DesignColumn], i: usize) -> Result<Option<Vec<f64>>> {
    let mut row = Vec::with_capacity(cols.len());
    for c in cols {
        let mut v = 1.0;
        for p in &c.parts {
            let x = match (p, &frame.column(p.column())?.data) {
                (Part::Value(_), PlainData::Numeric(x)) => x[i],
                (Part::Level(_, l), PlainData::Categorical { codes, .. }) => {
                    codes[i].map(|code| f64::from(u8::from(code == *l)))
                }
                (Part::Num(_, vals), PlainData::Categorical { codes, .. }) => {
                    codes[i].map(|code| vals[code])
                }
                _ => return Err(kind_changed(p.column())),
            };
            match x {
                Some(x) => v *= x,
                None => return Ok(None),
            }
        }
        row.push(v);
    }
    Ok(Some(row))
}

fn kind_changed(c: &str) -> StatsError {
    StatsError::Invalid(format!(
        "column `{c}` changed kind since the design was made"
    ))
}

/// The column inside `num(party.column)`, if `name` is written so.
fn num_of(name: &str) -> Option<&str> {
    name.trim()
        .strip_prefix("num(")
        .and_then(|r| r.strip_suffix(')'))
        .map(str::trim)
}

/// A numeric column of a descriptive analysis on the shared frame: `party.column` (a numeric
/// column), or `num(party.column)` (a categorical column's levels read as numbers,
/// `Σ level·indicator`, local). Returns the values (fixed point) and the present indicator.
pub fn numeric_column<'a>(
    frame: &'a Frame,
    name: &str,
    f: u32,
) -> Result<(AShare<u128>, &'a AShare<u128>)> {
    match num_of(name) {
        None => frame.numeric(name).map(|(v, pr)| (v.clone(), pr)),
        Some(c) => {
            let cat = frame.categorical(c)?;
            let vals = level_values(c, cat.levels)?;
            let Val::Fix(v) = part_value(frame, &Part::Num(c.to_string(), vals), f)? else {
                unreachable!("num() is fixed point")
            };
            Ok((v, cat.present))
        }
    }
}

/// The plaintext twin of [`numeric_column`]: the values, `None` where missing.
pub fn plain_numeric(frame: &PlainFrame, name: &str) -> Result<Vec<Option<f64>>> {
    match num_of(name) {
        None => Ok(frame.numeric(name)?.to_vec()),
        Some(c) => {
            let (levels, codes) = frame.categorical(c)?;
            let vals = level_values(c, levels)?;
            Ok(codes.iter().map(|code| code.map(|k| vals[k])).collect())
        }
    }
}

/// A shared design value: an integer 0/1 indicator, or fixed point with the party's `f` bits.
enum Val {
    Int(AShare<u128>),
    Fix(AShare<u128>),
}

/// The shared value of one part: an indicator (integer), a numeric column (fixed point), or
/// `Σ level·indicator` (fixed point; local, exact: integer indicators times public
/// fixed-point constants).
fn part_value(frame: &Frame, p: &Part, f: u32) -> Result<Val> {
    let col = frame.column(p.column())?;
    match (p, &col.data) {
        (Part::Value(_), ColumnData::Numeric(v)) => Ok(Val::Fix(v.clone())),
        (Part::Level(_, l), ColumnData::Categorical { onehot, .. }) => {
            Ok(Val::Int(onehot[*l].clone()))
        }
        (Part::Num(_, vals), ColumnData::Categorical { onehot, .. }) => {
            let mut acc = AShare::zeros(frame.rows);
            for (h, &v) in onehot.iter().zip(vals) {
                acc = acc.add(&h.mul_const(encode::<u128>(v, f)));
            }
            Ok(Val::Fix(acc))
        }
        _ => Err(kind_changed(p.column())),
    }
}

/// The design columns on the shared frame, fixed point with the party's `f` bits
/// (indicators scaled to 1.0). Products are taken factor by factor, every column's in the
/// same round: an indicator times anything is an exact product (one round), two fixed-point
/// values the fused multiply-and-truncate (two rounds). Main effects cost nothing.
pub fn evaluate(p: &mut Party, frame: &Frame, cols: &[DesignColumn]) -> Result<Vec<AShare<u128>>> {
    let f = p.frac_bits();
    let mut acc: Vec<Val> = cols
        .iter()
        .map(|c| part_value(frame, &c.parts[0], f))
        .collect::<Result<_>>()?;
    let depth = cols.iter().map(|c| c.parts.len()).max().unwrap_or(0);
    for d in 1..depth {
        let next: Vec<Option<Val>> = cols
            .iter()
            .map(|c| {
                c.parts
                    .get(d)
                    .map(|pt| part_value(frame, pt, f))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        // Exact products (an indicator on either side) and fixed-point ones, batched.
        let (mut exact, mut fixed) = (Vec::new(), Vec::new());
        for (j, (a, b)) in acc.iter().zip(&next).enumerate() {
            match (a, b) {
                (_, None) => {}
                (Val::Fix(x), Some(Val::Fix(y))) => fixed.push((j, x, y)),
                (Val::Int(x) | Val::Fix(x), Some(Val::Int(y)))
                | (Val::Int(x), Some(Val::Fix(y))) => exact.push((j, x, y)),
            }
        }
        let ex = p.mul_many(&exact.iter().map(|&(_, x, y)| (x, y)).collect::<Vec<_>>())?;
        let fx = p.mul_trunc_many(
            &fixed.iter().map(|&(_, x, y)| (x, y)).collect::<Vec<_>>(),
            f,
        )?;
        let int_both: Vec<bool> = exact
            .iter()
            .map(|&(j, _, _)| matches!(acc[j], Val::Int(_)) && matches!(next[j], Some(Val::Int(_))))
            .collect();
        let exact_idx: Vec<usize> = exact.iter().map(|&(j, _, _)| j).collect();
        let fixed_idx: Vec<usize> = fixed.iter().map(|&(j, _, _)| j).collect();
        for ((j, v), both) in exact_idx.into_iter().zip(ex).zip(int_both) {
            acc[j] = if both { Val::Int(v) } else { Val::Fix(v) };
        }
        for (j, v) in fixed_idx.into_iter().zip(fx) {
            acc[j] = Val::Fix(v);
        }
    }
    Ok(acc
        .into_iter()
        .map(|v| match v {
            Val::Int(h) => h.shl(f),
            Val::Fix(x) => x,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn written(v: &[&str]) -> Vec<String> {
        expand(&s(v)).unwrap().iter().map(Term::written).collect()
    }

    #[test]
    fn star_expands_in_r_order_and_drops_duplicates() {
        assert_eq!(
            written(&["a.x*b.y"]),
            ["a.x", "b.y", "a.x:b.y"].map(String::from)
        );
        assert_eq!(
            written(&["b.y", "a.x*b.y", "c.z"]),
            ["b.y", "a.x", "a.x:b.y", "c.z"].map(String::from)
        );
        assert_eq!(
            written(&["a.x*b.y*c.z"]),
            [
                "a.x",
                "b.y",
                "c.z",
                "a.x:b.y",
                "a.x:c.z",
                "b.y:c.z",
                "a.x:b.y:c.z"
            ]
            .map(String::from)
        );
        assert_eq!(
            written(&["a.x*b.y", "b.y*a.x"]),
            ["a.x", "b.y", "a.x:b.y"].map(String::from)
        );
        assert_eq!(
            written(&[" num(a.s) : b.y "]),
            ["num(a.s):b.y"].map(String::from)
        );
    }

    #[test]
    fn malformed_terms_are_named() {
        for (entry, want) in [
            ("a.x:", "a factor is empty"),
            ("a.x**b.y", "a factor is empty"),
            ("a.x:a.x", "interacted with itself"),
            ("num(a.x)*a.x", "interacted with itself"),
            ("a.x:b.y:c.z:d.w", "4 factors"),
            ("a.x*b.y:c.z", "mixes"),
            ("num(a.x", "closing"),
            ("a.x+b.y", "is not a factor"),
            ("a.x:(b.y)", "is not a factor"),
        ] {
            let e = expand(&s(&[entry])).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains(entry), "{entry}: {e}");
        }
        let e = expand(&s(&["a.x:b.y", "b.y:a.x"])).unwrap_err().to_string();
        assert!(e.contains("listed twice"), "{e}");
        for twins in [["a.s", "num(a.s)"], ["num(a.s):b.y", "b.y:a.s"]] {
            let e = expand(&s(&twins)).unwrap_err().to_string();
            assert!(e.contains("singular"), "{e}");
        }
    }

    #[test]
    fn columns_are_the_underlying_ones() {
        assert_eq!(
            columns(&s(&["a.x*num(b.y)", "c.z:a.x", "d.w", "num(e.v"])),
            ["a.x", "b.y", "c.z", "d.w", "e.v"]
        );
    }

    #[test]
    fn names_and_counts() {
        let levels = |c: &str| -> Result<Levels> {
            Ok(match c {
                "r.stage" => Some(s(&["1", "2", "3"])),
                "g.smoker" => Some(s(&["0", "1"])),
                "g.grade" => Some(s(&["low", "high"])),
                _ => None,
            })
        };
        let cov = s(&["r.stage*g.bmi", "r.stage:g.smoker", "num(r.stage):g.x"]);
        let cols = design_columns(&expand(&cov).unwrap(), &levels).unwrap();
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "r.stage[T.2]",
                "r.stage[T.3]",
                "g.bmi",
                "r.stage[T.2]:g.bmi",
                "r.stage[T.3]:g.bmi",
                "r.stage[T.2]:g.smoker[T.1]",
                "r.stage[T.3]:g.smoker[T.1]",
                "num(r.stage):g.x",
            ]
        );
        let n = |c: &str| levels(c).unwrap().map_or(0, |l| l.len());
        assert_eq!(count(&cov, &n), cols.len());
        assert_eq!(categorical_sources(&cols), ["r.stage", "g.smoker"]);
        let e = design_columns(&expand(&s(&["num(g.grade)"])).unwrap(), &levels)
            .unwrap_err()
            .to_string();
        assert!(e.contains("g.grade") && e.contains("`low`"), "{e}");
        let e = design_columns(&expand(&s(&["num(g.bmi)"])).unwrap(), &levels)
            .unwrap_err()
            .to_string();
        assert!(e.contains("numeric already"), "{e}");
    }
}
