//! Splitting the rows into sets (cross-validation folds, a training and a test set) inside
//! MPC, so that no party learns which of its rows are in which set: the rows are shuffled
//! obliviously ([`Party::shuffle`]: a uniformly random permutation no party knows), and
//! sets are then taken by position in the shuffled order (public per position, secret per
//! row). Shared by `elasticnet` (fold `i mod K`) and the hold-out validation of `logistic`
//! (the first positions train, the rest test).
//!
//! What it opens: the number of complete rows in each set ([`open_set_rows`]); as the
//! permutation is uniform, these counts are a random draw that depends only on the number
//! of rows and of incomplete rows, not on which rows are which.

use tessera_mpc::shuffle::Table;
use tessera_mpc::{AShare, Party};

use crate::disclosure::Disclosure;
use crate::error::{Result, StatsError};

/// Shuffles the rows of `cols` (equal lengths) together by one oblivious permutation.
pub(crate) fn shuffle_rows(pt: &mut Party, cols: Vec<AShare<u128>>) -> Result<Table> {
    let table = Table::new(Vec::new(), cols)?;
    Ok(pt.shuffle(&table)?)
}

/// Opens the complete-row counts of the sets of a split (each a shared integer).
pub(crate) fn open_set_rows(pt: &mut Party, counts: &[AShare<u128>]) -> Result<Vec<usize>> {
    // LEAKAGE: the number of complete rows in each set of a split taken by position after
    // the oblivious shuffle: a random draw that depends only on the number of rows and of
    // incomplete rows, not on which rows are in which set (module docs); part of the
    // result (`fold_rows` of elasticnet, `n_train`/`n_test` of a hold-out validation).
    let opened = pt.reveal(&AShare::concat(&counts.iter().collect::<Vec<_>>()))?;
    Ok(opened.iter().map(|&c| c as usize).collect())
}

/// `min_rows` on one set of a split, the refusal naming the set (e.g. "a cross-validation
/// test set", "the hold-out training set").
pub(crate) fn check_set(disclosure: &Disclosure, rows: usize, set: &str) -> Result<()> {
    in_set(disclosure.check_rows(rows), set)
}

/// A disclosure refusal on one set of a split, naming the set.
pub(crate) fn in_set<T>(r: Result<T>, set: &str) -> Result<T> {
    r.map_err(|e| match e {
        StatsError::Refused { rule, detail } => StatsError::Refused {
            rule,
            detail: format!("{set}: {detail}"),
        },
        e => e,
    })
}
