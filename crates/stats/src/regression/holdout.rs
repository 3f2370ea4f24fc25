//! Hold-out validation of a logistic model (`holdout` on `kind = "logistic"`): the rows
//! are split inside MPC into a training and a test set, the model is fitted on the training
//! rows and its predictions on the test rows are scored as `auc` scores a column: the area
//! under the ROC curve with DeLong's interval and, with `calibration`, the calibration
//! intercept and slope, the Brier score and the calibration table.
//!
//! # Protocol
//!
//! 1. The design of the whole table as `logistic` prepares it ([`super::design`]: complete
//!    rows as a secret 0/1 weight, `min_rows` and the other rules on all complete rows) and
//!    the 0/1 check of the outcome.
//! 2. The split ([`super::split`]): the rows `[w, y, x_1..x_k]` are shuffled obliviously;
//!    the first `⌈(1 − f)·rows⌉` positions are the training rows, the rest the test rows
//!    (`f` = `holdout`; public per position, secret per row: no party learns which of its
//!    rows are in which set). The complete-row counts of both sets are opened and
//!    `min_rows` is checked on each (and `max_vars_per_row` on the training set).
//! 3. The fit on the training rows ([`super::logistic::fit_prepared`]); its coefficients
//!    stay shared.
//! 4. The linear predictor of each test row from the secret coefficients, exact: the
//!    covariates (f fractional bits, masked by the test weight) times the coefficients (f +
//!    16 bits), never truncated, so that rows with equal covariates have equal predictors
//!    and tie as in R. Its truncation to f bits is the logit, its sigmoid the predicted
//!    probability.
//! 5. The AUC machinery of [`crate::predict::auc`] on (test outcome, predicted probability,
//!    test weight), ordered by the exact predictor (a wide sort): the AUC's integer sums
//!    and, with `calibration`, the Brier sum, the recalibration fit on the logit and the
//!    calibration table (`min_cell` as `auc`).
//!
//! Sealed for the recipients: the training fit's values, then the AUC's.
//!
//! # Meaning
//!
//! The AUC and the calibration measure the model on rows it was not fitted on: for one
//! split this is an honest (unbiased) estimate of how the model fitted on `1 − f` of the
//! rows performs on new rows of the same population; it varies with the split (a smaller
//! test set, a wider interval), and DeLong's interval covers the test rows' sampling only,
//! not the variation of the fit. Running the study again draws another split.
//!
//! # Leakage
//!
//! To the compute parties: what `logistic` opens (the design's rule bits and `n`, the
//! variance bit, the 0/1 bit; the training fit's convergence bits and separation bit); the
//! complete-row counts of the training and the test set (`n_train`, `n_test`: a random
//! draw given `n` and the number of incomplete rows); the AUC's bit "cases and controls in
//! the test set each number at least `min_cell`" and the scan depth of its sort
//! (`ceil(log2 g)` for the largest number `g` of test rows with one linear predictor: e.g.
//! with equal covariates); with `calibration`, the recalibration fit's convergence and
//! separation bits and the calibration table's shown pattern. To the recipients: the
//! training fit, `n_train`, `n_test`, the test set's cases and controls, the AUC, its
//! standard error and interval, and with `calibration` the calibration figures.
//!
//! # Valid range
//!
//! As `logistic`; the test rows' linear predictors are sorted exactly within `±2^34` (the
//! key at 24 fractional bits) and clamped to `±64` before the sigmoid (a probability of 0
//! or 1 to 2^-24 beyond 17), so an extreme predictor cannot leave the sigmoid's range.

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::encode;
use tessera_mpc::{AShare, Party};

use crate::analysis::LogisticSpec;
use crate::disclosure::Disclosure;
use crate::error::{Result, StatsError};
use crate::predict::auc::{
    auc_core, auc_plain_rows, binary_plain, AucPublic, AucResult, AucSpec, PlainRow, Scored,
};
use crate::sealed::Tail;
use crate::survival::concordance::ETA_BITS;
use crate::table::{Frame, PlainFrame};

use super::design::{self, broadcast, rows_of, HI};
use super::logistic::{check_spec, fit_prepared, prepare_binary, LogisticPublic};
use super::plain::{self, PlainDesign};
use super::split;
use super::LogisticResult;

/// The name of the score in the validation's AUC: the model's predicted probability.
const PREDICTED: &str = "predicted";

/// The sets' names in `min_rows` refusals.
const TRAINING: &str = "the hold-out training set";
const TEST: &str = "the hold-out test set";

/// The hold-out parameters' public checks: `holdout` strictly between 0 and 1,
/// `calibration` only with `holdout`, `groups` only with `calibration` and from 2 to 100.
/// Errors name the field.
pub fn check_params(spec: &LogisticSpec) -> std::result::Result<(), (&'static str, String)> {
    match spec.holdout {
        Some(f) if !(f.is_finite() && f > 0.0 && f < 1.0) => {
            return Err((
                "holdout",
                format!("must be a fraction of the rows strictly between 0 and 1, not {f}"),
            ))
        }
        None if spec.calibration => {
            return Err((
                "calibration",
                "needs `holdout`: the calibration is measured on held-out rows".into(),
            ))
        }
        _ => {}
    }
    match spec.groups {
        Some(_) if !spec.calibration => Err((
            "groups",
            "needs `calibration = true` (and `holdout`)".into(),
        )),
        Some(g) if !(2..=100).contains(&g) => {
            Err(("groups", format!("must be between 2 and 100, not {g}")))
        }
        _ => Ok(()),
    }
}

/// The number of training positions among `rows` shuffled rows: `⌈(1 − holdout)·rows⌉`;
/// an error if either set would have no rows.
pub fn training_positions(rows: usize, holdout: f64) -> Result<usize> {
    let t = ((1.0 - holdout) * rows as f64).ceil() as usize;
    if t == 0 || t >= rows {
        return Err(StatsError::Invalid(format!(
            "logistic: holdout = {holdout} of {rows} rows leaves no training or no test rows"
        )));
    }
    Ok(t)
}

/// The checked parameters' `holdout` fraction (an error without one).
fn checked_fraction(spec: &LogisticSpec) -> Result<f64> {
    check_spec(spec)?;
    spec.holdout.ok_or_else(|| {
        StatsError::Invalid("logistic: a hold-out validation needs `holdout`".into())
    })
}

/// The AUC's specification for the held-out predictions.
fn auc_spec(spec: &LogisticSpec) -> AucSpec {
    AucSpec {
        outcome: spec.outcome.clone(),
        score: PREDICTED.into(),
        conf_level: spec.conf_level,
        calibration: spec.calibration,
        groups: spec.groups.unwrap_or(10),
    }
}

/// The validation of a logistic model on its held-out rows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Validation {
    /// The fraction of rows held out (`holdout`).
    pub holdout: f64,
    /// Complete rows the model was fitted on.
    pub n_train: usize,
    /// Complete rows held out.
    pub n_test: usize,
    /// The predicted probabilities on the test rows as a score: AUC with DeLong's interval,
    /// with `calibration` the calibration (`score` is "predicted").
    pub test: AucResult,
}

impl fmt::Display for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Hold-out validation ({} of the rows held out): fitted on {} complete rows, \
             validated on {}",
            self.holdout, self.n_train, self.n_test
        )?;
        write!(f, "{}", self.test)
    }
}

/// What the compute parties know of a hold-out validation and the recipient's tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoldoutPublic {
    /// The fraction held out.
    pub holdout: f64,
    /// Complete training rows (opened: documented leakage).
    pub n_train: usize,
    /// Complete test rows (opened: documented leakage).
    pub n_test: usize,
    /// The AUC on the test rows.
    pub auc: AucPublic,
}

impl Tail for HoldoutPublic {
    type Result = Validation;

    /// Values: the AUC's ([`AucPublic::open`]).
    fn open(&self, vals: &[u128]) -> Result<Validation> {
        Ok(Validation {
            holdout: self.holdout,
            n_train: self.n_train,
            n_test: self.n_test,
            test: self.auc.open(vals)?,
        })
    }
}

/// The rows of one set after the shuffle: positions `range` of every column.
fn set_of(
    shuffled: &tessera_mpc::Table,
    range: std::ops::Range<usize>,
) -> (AShare<u128>, AShare<u128>, Vec<AShare<u128>>) {
    let idx: Vec<u32> = range.map(|i| i as u32).collect();
    let mut c = shuffled.gather(&idx).c128;
    let cols = c.split_off(2);
    let y = c.pop().expect("outcome");
    let w = c.pop().expect("weight");
    (w, y, cols)
}

/// The hold-out validation inside MPC (module docs): the training fit's public facts with
/// the validation's, and the values to seal (the fit's, then the AUC's).
pub(crate) fn holdout(
    pt: &mut Party,
    frame: &Frame,
    spec: &LogisticSpec,
    disclosure: &Disclosure,
) -> Result<(LogisticPublic, AShare<u128>)> {
    let fraction = checked_fraction(spec)?;
    let prep = prepare_binary(pt, frame, spec, disclosure)?;
    let f = pt.frac_bits();
    let rows = prep.weight.len();
    let t = training_positions(rows, fraction)?;
    let mut cols = vec![prep.weight.clone(), prep.outcome.clone()];
    cols.extend(prep.columns.iter().cloned());
    let shuffled = split::shuffle_rows(pt, cols)?;
    let (w_train, y_train, x_train) = set_of(&shuffled, 0..t);
    let (w_test, y_test, x_test) = set_of(&shuffled, t..rows);
    drop(shuffled);
    // The complete-row counts of both sets: opened (LEAKAGE, see `split::open_set_rows`).
    let counts = split::open_set_rows(pt, &[w_train.sum(), w_test.sum()])?;
    let (n_train, n_test) = (counts[0], counts[1]);
    split::check_set(disclosure, n_train, TRAINING)?;
    split::check_set(disclosure, n_test, TEST)?;
    split::in_set(disclosure.check_vars(prep.vars(), n_train), TRAINING)?;
    let train = design::Prepared {
        names: prep.names.clone(),
        intercept: prep.intercept,
        columns: x_train,
        outcome: y_train,
        weight: w_train,
        n: n_train,
    };
    let (mut public, fit) = fit_prepared(pt, &train, spec)?;
    drop(train);

    // The exact linear predictor of the test rows (2f + HI fractional bits).
    let p = prep.vars();
    let k = x_test.len();
    let m = w_test.len();
    let first = usize::from(prep.intercept);
    let coef = fit.slice(0..p);
    let b0 = broadcast(&coef, 0, m);
    let mut pairs: Vec<(&AShare<u128>, &AShare<u128>)> =
        x_test.iter().map(|c| (c, &w_test)).collect();
    if prep.intercept {
        pairs.push((&b0, &w_test));
    }
    let mut masked = pt.mul_many(&pairs)?;
    let mut eta = if prep.intercept {
        masked.pop().expect("intercept").shl(f)
    } else {
        AShare::zeros(m)
    };
    if k > 0 {
        let xrows = rows_of(&masked.iter().collect::<Vec<_>>());
        eta = eta.add(&pt.matmul(&xrows, &coef.slice(first..p), m, k, 1)?);
    }
    // The probabilities serve only the calibration (the AUC sorts by the exact predictor,
    // and without calibration its score column is carried but not read): without it, no
    // truncation, clamp or sigmoid.
    let (score, logit) = if spec.calibration {
        let logit = pt.trunc(&eta, f + HI)?;
        let clamped = clamp(pt, &logit, LOGIT_CLAMP)?;
        (pt.sigmoid(&clamped)?, Some(logit))
    } else {
        (eta.clone(), None)
    };
    let scored = Scored {
        outcome: &y_test,
        weight: &w_test,
        n: n_test,
        score: &score,
        logit: logit.as_ref(),
        wide: Some((&eta, ETA_BITS)),
    };
    let (auc, values) = auc_core(pt, &scored, &auc_spec(spec), disclosure)?;
    public.validation = Some(Box::new(HoldoutPublic {
        holdout: fraction,
        n_train,
        n_test,
        auc,
    }));
    Ok((public, AShare::concat(&[&fit, &values])))
}

/// Beyond this logit a probability is 0 or 1 to the fixed point's 2^-24: the sigmoid gets
/// the logit clamped to `±LOGIT_CLAMP`, which keeps it within its range (|x| < 10^6) for
/// any predictor the exact key holds, with the same probabilities.
const LOGIT_CLAMP: f64 = 64.0;

/// `x` clamped to `[−c, c]` (fixed point): two comparisons in one, two products in one
/// round. Nothing opened.
fn clamp(pt: &mut Party, x: &AShare<u128>, c: f64) -> Result<AShare<u128>> {
    let f = pt.frac_bits();
    let n = x.len();
    let hi = pt.public(&vec![encode::<u128>(c, f); n]);
    let lo = pt.public(&vec![encode::<u128>(-c, f); n]);
    // [c < x, x < −c]
    let out = pt.lt_arith(&AShare::concat(&[&hi, x]), &AShare::concat(&[x, &lo]))?;
    let over = out.slice(0..n);
    let under = out.slice(n..2 * n);
    let d = pt.mul_many(&[(&over, &hi.sub(x)), (&under, &lo.sub(x))])?;
    Ok(x.add(&d[0]).add(&d[1]))
}

/// The rows of `d` whose frame index is (`held`) or is not (`!held`) in the test set.
fn subset(d: &PlainDesign, test: &[bool], held: bool) -> PlainDesign {
    let keep: Vec<usize> = (0..d.rows.len())
        .filter(|&i| test[d.rows[i]] == held)
        .collect();
    PlainDesign {
        names: d.names.clone(),
        x: keep.iter().map(|&i| d.x[i].clone()).collect(),
        y: keep.iter().map(|&i| d.y[i]).collect(),
        intercept: d.intercept,
        rows: keep.iter().map(|&i| d.rows[i]).collect(),
    }
}

/// The plaintext twin of [`holdout`] on an explicit split: `test` lists the frame's rows
/// held out (the MPC draws them by its oblivious shuffle). The same checks in the same
/// order: the 0/1 outcome, `min_rows` on each set, the fit on the training rows, the AUC
/// (and calibration) of the predictions on the complete test rows.
pub fn holdout_plain(
    frame: &PlainFrame,
    spec: &LogisticSpec,
    test: &[usize],
    disclosure: &Disclosure,
) -> Result<LogisticResult> {
    let fraction = checked_fraction(spec)?;
    let d = plain::design(frame, &spec.outcome, &spec.covariates, spec.intercept)?;
    for &y in &d.y {
        binary_plain(y, &spec.outcome)?;
    }
    let mut held = vec![false; frame.rows];
    for &i in test {
        *held.get_mut(i).ok_or_else(|| {
            StatsError::Invalid(format!("holdout: test row {i} is not in the table"))
        })? = true;
    }
    let (train, tested) = (subset(&d, &held, false), subset(&d, &held, true));
    split::check_set(disclosure, train.y.len(), TRAINING)?;
    split::check_set(disclosure, tested.y.len(), TEST)?;
    split::in_set(
        disclosure.check_vars(d.names.len(), train.y.len()),
        TRAINING,
    )?;
    let mut fit = plain::logistic_design(&train, spec)?;
    let beta: Vec<f64> = fit.coefficients.iter().map(|c| c.coef).collect();
    let rows = tested
        .x
        .iter()
        .zip(&tested.y)
        .map(|(x, &y)| {
            let eta: f64 = x.iter().zip(&beta).map(|(x, b)| x * b).sum();
            PlainRow {
                key: eta,
                prob: plain::sigmoid(eta),
                logit: Some(eta),
                case: y == 1.0,
            }
        })
        .collect::<Vec<_>>();
    let test_result = auc_plain_rows(&rows, &auc_spec(spec), disclosure)?;
    fit.validation = Some(Validation {
        holdout: fraction,
        n_train: train.y.len(),
        n_test: tested.y.len(),
        test: test_result,
    });
    Ok(fit)
}
