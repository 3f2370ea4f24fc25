//! Disclosure control: the study's rules, checked before anything is opened or sealed.
//!
//! Rules on public quantities (the linked row count, the number of variables, column names)
//! are checked in plaintext before an analysis starts. Rules on secret quantities (counts of
//! a cell, a group, a level) are evaluated inside MPC: only the bit "this cell may be shown"
//! is opened, and a suppressed value is replaced by zero *before* it is opened
//! ([`suppress`]). A refusal names the rule ([`crate::StatsError::Refused`]).

use tessera_mpc::{AShare, Party, Ring};

use crate::error::{Result, StatsError};

/// `min_events` when the study sets none.
pub const DEFAULT_MIN_EVENTS: u64 = 5;

/// The disclosure rules of a study (every data station's policy may tighten them).
#[derive(Clone, Debug, PartialEq)]
pub struct Disclosure {
    /// Smallest count a shown cell may rest on (Kaplan–Meier number at risk, contingency
    /// cell). `None`: the analysis' own default (10 for survival, 5 for contingency tables).
    pub min_cell: Option<u64>,
    /// Smallest number of linked rows any analysis may use.
    pub min_rows: u64,
    /// Smallest number of events between two shown times of a Kaplan–Meier grid (since
    /// the previous shown time of the same curve, or since the start): a dense grid cannot
    /// walk the event times ([`crate::survival::km`]).
    pub min_events: u64,
    /// Smallest number of rows per level of a categorical variable used by an analysis.
    pub min_level_rows: u64,
    /// Largest number of model variables per observation (e.g. 0.1: at most one variable
    /// per ten rows).
    pub max_vars_per_row: f64,
    /// If set, the only columns analyses may read (`party.column`).
    pub allowed_columns: Option<Vec<String>>,
    /// Columns no analysis may read (`party.column`).
    pub disallowed_columns: Vec<String>,
    /// Whether Kaplan–Meier may be shown at every event time, not only on the study's grid.
    pub allow_event_times: bool,
    /// Whether minima and maxima of columns may be shown.
    pub allow_extremes: bool,
}

impl Default for Disclosure {
    fn default() -> Self {
        Disclosure {
            min_cell: None,
            min_rows: 10,
            min_events: DEFAULT_MIN_EVENTS,
            min_level_rows: 0,
            max_vars_per_row: 1.0,
            allowed_columns: None,
            disallowed_columns: Vec::new(),
            allow_event_times: false,
            allow_extremes: false,
        }
    }
}

fn refused(rule: &str, detail: String) -> StatsError {
    StatsError::Refused {
        rule: rule.to_string(),
        detail,
    }
}

impl Disclosure {
    /// `min_cell`, or the analysis' default when the study sets none.
    pub fn min_cell_or(&self, default: u64) -> u64 {
        self.min_cell.unwrap_or(default)
    }

    /// Refuses columns that are disallowed or not in the allowed list.
    pub fn check_columns(&self, columns: &[&str]) -> Result<()> {
        for &c in columns {
            if self.disallowed_columns.iter().any(|d| d == c) {
                return Err(refused(
                    "disallowed_columns",
                    format!("column `{c}` may not be analysed"),
                ));
            }
            if let Some(allowed) = &self.allowed_columns {
                if !allowed.iter().any(|a| a == c) {
                    return Err(refused(
                        "allowed_columns",
                        format!("column `{c}` is not among the allowed columns"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Refuses an analysis of fewer than `min_rows` rows (`rows` is public).
    pub fn check_rows(&self, rows: usize) -> Result<()> {
        if (rows as u64) < self.min_rows {
            return Err(refused(
                "min_rows",
                format!("{rows} rows, at least {} required", self.min_rows),
            ));
        }
        Ok(())
    }

    /// Refuses (rule `min_level_rows`) unless each of the shared non-negative integer
    /// `counts` (rows per level of the categorical column(s) `what`) is at least
    /// `min_level_rows`. Evaluated inside MPC: only the single pass/fail bit is opened, not
    /// which level failed nor any count. Nothing is computed when the rule is 0.
    /// Cost: one comparison per level and one equality test (about 20 rounds).
    pub fn check_level_rows(&self, p: &mut Party, counts: &AShare<u128>, what: &str) -> Result<()> {
        if self.min_level_rows == 0 || counts.is_empty() {
            return Ok(());
        }
        // LEAKAGE: the one bit "every level reaches min_level_rows" is opened (the rule's
        // verdict); which level failed and every count stay secret.
        let pass = every_at_least(p, counts, u128::from(self.min_level_rows))?;
        if !pass {
            return Err(refused(
                "min_level_rows",
                format!(
                    "a level of {what} has fewer than {} rows",
                    self.min_level_rows
                ),
            ));
        }
        Ok(())
    }

    /// Refuses a model with more than `max_vars_per_row · rows` variables.
    pub fn check_vars(&self, vars: usize, rows: usize) -> Result<()> {
        if vars as f64 > self.max_vars_per_row * rows as f64 {
            return Err(refused(
                "max_vars_per_row",
                format!(
                    "{vars} variables for {rows} rows, at most {} per row",
                    self.max_vars_per_row
                ),
            ));
        }
        Ok(())
    }
}

/// Whether every element of `values` (non-negative integers or fixed-point values, below
/// 2^100) is at least `min` (in the same encoding). Opens that one bit only, not which
/// element failed nor any value; callers state what the bit means where they call it.
/// One comparison per element and one zero test.
pub fn every_at_least<R: Ring>(p: &mut Party, values: &AShare<R>, min: R) -> Result<bool> {
    Ok(below_any(p, values, min)?.is_none())
}

/// [`every_at_least`], keeping the comparison: `None` when every value is at least `min`,
/// else the shared 0/1 bits "below `min`", one per value, still shared (a caller that must
/// name the culprits opens them, at the price of that leakage, with no second comparison).
pub fn below_any<R: Ring>(p: &mut Party, values: &AShare<R>, min: R) -> Result<Option<AShare<R>>> {
    if values.is_empty() {
        return Ok(None);
    }
    let threshold = p.public(&vec![min; values.len()]);
    let below = p.lt_arith(values, &threshold)?;
    let none = p.eq(&below.sum(), &AShare::zeros(1))?;
    Ok((p.reveal_bits(&none)?[0] & 1 == 0).then_some(below))
}

/// Shared 0/1 integers: `counts[i] >= min` for shared non-negative integer counts (below
/// 2^100). Opens nothing.
pub fn at_least<R: Ring>(p: &mut Party, counts: &AShare<R>, min: u64) -> Result<AShare<R>> {
    let threshold = p.public(&vec![R::from_i128(i128::from(min)); counts.len()]);
    let below = p.lt_arith(counts, &threshold)?;
    let ones = p.public(&vec![R::from_i128(1); counts.len()]);
    Ok(ones.sub(&below))
}

/// Small-cell suppression inside MPC: for each cell `i`, whether `counts[i] >= min` is
/// opened (the shown/suppressed pattern is part of the result), and every vector in
/// `values` (one entry per cell) is returned with suppressed cells set to zero, still
/// shared, ready to be opened. Leakage: the suppression pattern only.
pub fn suppress(
    p: &mut Party,
    counts: &AShare<u128>,
    min: u64,
    values: &[&AShare<u128>],
) -> Result<(Vec<bool>, Vec<AShare<u128>>)> {
    let n = counts.len();
    if let Some(v) = values.iter().find(|v| v.len() != n) {
        return Err(StatsError::Invalid(format!(
            "{} values for {n} cells",
            v.len()
        )));
    }
    let ok = at_least(p, counts, min)?;
    let pairs: Vec<_> = values.iter().map(|v| (&ok, *v)).collect();
    let masked = p.mul_many(&pairs)?;
    // Opened: whether each cell is shown (a named part of every suppressed result).
    let shown = p.reveal(&ok)?.into_iter().map(|b| b == 1).collect();
    Ok((shown, masked))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_mpc::testing::{input, run3_ok, same};

    #[test]
    fn suppression_hides_small_cells() {
        let counts = [3u128, 10, 0, 57];
        let vals = [5u128, 6, 7, 8];
        let out = same(run3_ok(|p| {
            let c = input(p, 0, &counts);
            let v = input(p, 1, &vals);
            let (shown, m) = suppress(p, &c, 10, &[&v]).map_err(|e| match e {
                StatsError::Mpc(m) => m,
                e => panic!("{e}"),
            })?;
            Ok((shown, p.reveal(&m[0])?))
        }));
        assert_eq!(out.0, vec![false, true, false, true]);
        assert_eq!(out.1, vec![0, 6, 0, 8]);
    }

    #[test]
    fn level_rule_opens_one_verdict() {
        for (counts, min, pass) in [
            (vec![3u128, 10, 7], 3u64, true),
            (vec![3, 10, 7], 4, false),
            (vec![0, 0], 0, true),
            (vec![100, 2, 100, 100], 3, false),
        ] {
            let d = Disclosure {
                min_level_rows: min,
                ..Disclosure::default()
            };
            let out = same(run3_ok(|p| {
                let c = input(p, 2, &counts);
                let before = p.stats().rounds;
                let r = d.check_level_rows(p, &c, "`g`");
                let used = p.stats().rounds - before;
                Ok((r.map_err(|e| e.to_string()), used > 0))
            }));
            assert_eq!(out.0.is_ok(), pass, "{counts:?} >= {min}");
            if let Err(e) = out.0 {
                assert!(e.contains("min_level_rows"), "{e}");
            }
            // A rule of 0 costs nothing.
            assert_eq!(out.1, min > 0);
        }
    }

    #[test]
    fn public_rules_name_themselves() {
        let d = Disclosure {
            disallowed_columns: vec!["gp.hiv".into()],
            ..Disclosure::default()
        };
        let e = d.check_columns(&["gp.age", "gp.hiv"]).unwrap_err();
        assert!(e.to_string().contains("disallowed_columns"), "{e}");
        assert!(d
            .check_rows(9)
            .unwrap_err()
            .to_string()
            .contains("min_rows"));
        assert!(d.check_vars(11, 10).is_err());
        assert!(d.check_vars(10, 10).is_ok());
    }
}
