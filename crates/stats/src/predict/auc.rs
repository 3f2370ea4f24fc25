//! The area under the ROC curve of a score against a binary outcome, with DeLong's
//! standard error and interval, as R's pROC: `roc(outcome, score, direction = "<")`,
//! `auc`, `var(method = "delong")`, `ci.auc(method = "delong")`. A higher score predicts
//! outcome 1 (a case); rows with the outcome or the score missing are left out.
//!
//! # The statistic
//!
//! With `m` cases and `k` controls, each case's placement is `V_i = (controls scored below
//! it + ½ controls tied with it) / k` and each control's `W_j = (cases scored above it + ½
//! cases tied with it) / m`. The AUC is the mean of the `V_i` (the Mann–Whitney
//! statistic over `m·k`), and DeLong's variance is `var(V)/m + var(W)/k` with the sample
//! variances (denominators `m − 1`, `k − 1`). The interval is `AUC ± z·se`, clipped to
//! [0, 1] as pROC does.
//!
//! # Inside MPC
//!
//! Everything is an exact integer: the rows sorted by score (descending, the risk-set
//! order of [`crate::survival`], with its tie groups), per row the cases and controls
//! scored at least as high (prefix counts) and those tied with it (the tie group's
//! totals), hence `2k·V_i` and `2m·W_j` as integers; then the six sums `m`, `k`, `Σ 2kV`,
//! `Σ 2mW`, `Σ (2kV)²`, `Σ (2mW)²`, sealed for the recipients, who compute the AUC, its
//! standard error and interval from them. Nothing is truncated, so the result is R's to
//! the last bit of f64.
//!
//! The core (`auc_core`) takes prepared shared columns (outcome, score, complete-row
//! weight), not a table column: `kind = "auc"` prepares a column of the table, the
//! hold-out validation of `logistic` ([`crate::regression::holdout`]) a model's predictions
//! on its test rows, ordered by their exact linear predictor (a wide sort key) so that
//! equal predictions tie.
//!
//! # Leakage
//!
//! To the compute parties: the number of complete rows (as `logistic` opens it); one bit,
//! "every complete row's outcome is 0 or 1"; one bit, "cases and controls each number at
//! least `min_cell`"; and the scan depth of the sort's tie groups, `ceil(log2 g)` for the
//! largest number `g` of rows sharing one score (as the survival analyses open it for
//! times). To the recipients: the AUC, its standard error and interval, and the numbers of
//! cases and controls.

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::{decode, encode};
use tessera_mpc::{AShare, Party};

use crate::analysis::LogisticSpec;
use crate::disclosure::{at_least, every_at_least, Disclosure};
use crate::dist::normal_quantile;
use crate::error::{Result, StatsError};
use crate::regression::design::{self, trunc_exact, Prepared};
use crate::regression::logistic::{self, check_binary, LogisticPublic};
use crate::regression::ols::check_conf;
use crate::regression::{Coefficient, LogisticResult};
use crate::sealed::{Sealed, Tail};
use crate::survival::risk::RiskOrder;
use crate::table::{Frame, PlainColumn, PlainFrame};

/// `min_cell` (smallest number of cases, and of controls) when the study sets none.
pub const DEFAULT_MIN_CELL: u64 = 10;

fn default_conf() -> f64 {
    0.95
}

/// The area under the ROC curve of `score` against the binary `outcome`
/// (`kind = "auc"`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AucSpec {
    /// The outcome: 1 for a case, 0 for a control.
    pub outcome: String,
    /// The score (numeric): higher predicts a case, e.g. a predicted risk.
    pub score: String,
    /// Confidence level of the DeLong interval (and of the calibration's intervals).
    #[serde(default = "default_conf")]
    pub conf_level: f64,
    /// The score is a predicted probability: also its calibration (intercept and slope of
    /// `logit(outcome) ~ logit(score)`, as rms::val.prob) and the Brier score.
    #[serde(default)]
    pub calibration: bool,
    /// With `calibration`: the calibration table's groups of equal size by predicted
    /// probability (2 to 100).
    #[serde(default = "default_groups")]
    pub groups: usize,
}

fn default_groups() -> usize {
    10
}

/// One group of the calibration table: rows of similar predicted probability.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CalibrationGroup {
    /// Rows in the group (public: the groups have sizes fixed by the rows and `groups`).
    pub n: u64,
    /// Whether the group is shown: at least `min_cell` events and as many non-events.
    pub shown: bool,
    /// Mean predicted probability.
    pub predicted: Option<f64>,
    /// Observed events and their proportion.
    pub events: Option<u64>,
    pub observed: Option<f64>,
}

/// How well predicted probabilities agree with the outcomes (`calibration = true`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Calibration {
    /// Intercept of the logistic recalibration `outcome ~ logit(score)` (0 when calibrated).
    pub intercept: Coefficient,
    /// Its slope (1 when calibrated; below 1: predictions too extreme).
    pub slope: Coefficient,
    /// Mean squared difference of outcome and predicted probability.
    pub brier: f64,
    /// Groups of equal size by predicted probability, lowest first: mean predicted and
    /// observed proportion (as a calibration plot's points); `min_cell` applies.
    pub table: Vec<CalibrationGroup>,
}

/// The result of `kind = "auc"`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AucResult {
    /// The outcome column.
    pub outcome: String,
    /// The score column.
    pub score: String,
    /// Complete rows.
    pub n: u64,
    /// Rows with outcome 1.
    pub cases: u64,
    /// Rows with outcome 0.
    pub controls: u64,
    /// The area under the ROC curve.
    pub auc: f64,
    /// DeLong's standard error.
    pub se: f64,
    /// Confidence level of the interval.
    pub conf_level: f64,
    /// Lower limit (clipped at 0).
    pub lower: f64,
    /// Upper limit (clipped at 1).
    pub upper: f64,
    /// With `calibration`: calibration intercept, slope and the Brier score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
}

impl fmt::Display for AucResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "area under the ROC curve: {} (outcome) by {} (score, higher predicts 1)",
            self.outcome, self.score
        )?;
        writeln!(
            f,
            "  n = {}, cases = {}, controls = {}",
            self.n, self.cases, self.controls
        )?;
        writeln!(
            f,
            "  AUC = {:.4} (DeLong se {:.4}); {:.0}% CI {:.4} to {:.4}",
            self.auc,
            self.se,
            100.0 * self.conf_level,
            self.lower,
            self.upper
        )?;
        if let Some(c) = &self.calibration {
            for (what, r) in [("intercept", &c.intercept), ("slope", &c.slope)] {
                writeln!(
                    f,
                    "  calibration {what} = {:.4} (se {:.4}); CI {:.4} to {:.4}",
                    r.coef,
                    r.std_err.unwrap_or(f64::NAN),
                    r.ci_low.unwrap_or(f64::NAN),
                    r.ci_high.unwrap_or(f64::NAN)
                )?;
            }
            writeln!(f, "  Brier score = {:.4}", c.brier)?;
        }
        Ok(())
    }
}

/// The sums the statistic is computed from (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sums {
    cases: f64,
    controls: f64,
    /// `Σ 2k·V_i` over the cases and `Σ (2k·V_i)²`.
    v: f64,
    vv: f64,
    /// `Σ 2m·W_j` over the controls and `Σ (2m·W_j)²`.
    w: f64,
    ww: f64,
}

impl Sums {
    fn finish(&self, outcome: &str, score: &str, conf_level: f64) -> AucResult {
        let (m, k) = (self.cases, self.controls);
        let auc = self.v / (2.0 * m * k);
        // Sample variances of V = v_i/(2k) and W = w_j/(2m), from their sums.
        let var = |sum: f64, sq: f64, scale: f64, count: f64| {
            let (s, q) = (sum / scale, sq / (scale * scale));
            ((q - s * s / count) / (count - 1.0)).max(0.0)
        };
        let sv = var(self.v, self.vv, 2.0 * k, m);
        let sw = var(self.w, self.ww, 2.0 * m, k);
        let se = (sv / m + sw / k).sqrt();
        let z = normal_quantile(0.5 + conf_level / 2.0);
        AucResult {
            outcome: outcome.to_string(),
            score: score.to_string(),
            n: (m + k) as u64,
            cases: m as u64,
            controls: k as u64,
            auc,
            se,
            conf_level,
            lower: (auc - z * se).max(0.0),
            upper: (auc + z * se).min(1.0),
            calibration: None,
        }
    }
}

/// The fewest cases (and controls) an AUC rests on: `min_cell`, and never below 2, where
/// DeLong's sample variances (divisors `m − 1`, `k − 1`) exist; with fewer the AUC or its
/// standard error would be 0/0, so it is refused rather than shown as NaN.
fn least_class(disclosure: &Disclosure) -> u64 {
    disclosure.min_cell_or(DEFAULT_MIN_CELL).max(2)
}

fn too_few(min: u64) -> StatsError {
    StatsError::Refused {
        rule: "min_cell".into(),
        detail: format!("auc: fewer than {min} cases or controls among the complete rows"),
    }
}

/// What the compute parties know of an AUC and the recipient's tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AucPublic {
    /// The analysis.
    pub spec: AucSpec,
    /// Complete rows (opened: documented leakage).
    pub n: usize,
    /// With `calibration`: the recalibration fit's public facts.
    pub calibration: Option<LogisticPublic>,
    /// With `calibration`: whether each group of the table is shown (opened: the
    /// suppression pattern).
    #[serde(default)]
    pub shown: Vec<bool>,
}

impl Tail for AucPublic {
    type Result = AucResult;

    /// Values (integers): cases, controls, `Σ 2kV`, `Σ 2mW`, `Σ (2kV)²`, `Σ (2mW)²`; with
    /// calibration then the Brier sum `Σ (y − p)²` (fixed point) and the recalibration
    /// fit's values.
    fn open(&self, vals: &[u128]) -> Result<AucResult> {
        let misfit = || StatsError::Invalid("auc: the sealed values do not fit".into());
        let (head, rest) = vals.split_at_checked(6).ok_or_else(misfit)?;
        let [cases, controls, v, w, vv, ww] = head else {
            return Err(misfit());
        };
        let s = Sums {
            cases: *cases as f64,
            controls: *controls as f64,
            v: *v as f64,
            vv: *vv as f64,
            w: *w as f64,
            ww: *ww as f64,
        };
        if s.cases + s.controls != self.n as f64 {
            return Err(StatsError::Invalid(
                "auc: the sealed counts do not add up to the rows".into(),
            ));
        }
        let mut out = s.finish(&self.spec.outcome, &self.spec.score, self.spec.conf_level);
        out.calibration = match (&self.calibration, rest) {
            (None, []) => None,
            (Some(fit), [brier, rest @ ..]) => {
                let g = self.shown.len();
                let (table, fit_values) = rest.split_at_checked(2 * g).ok_or_else(misfit)?;
                let r = fit.open(fit_values)?;
                let f = fit.frac_bits;
                let mut c = calibration(r, decode(*brier, f) / self.n as f64)?;
                c.table = (0..g)
                    .map(|b| {
                        let size = group_sizes(self.n, g)[b];
                        group(
                            size,
                            self.shown[b],
                            table[b] as f64,
                            decode(table[g + b], f),
                        )
                    })
                    .collect();
                Some(c)
            }
            _ => return Err(misfit()),
        };
        Ok(out)
    }
}

/// The calibration from the recalibration fit (`Intercept`, then the logit of the score).
fn calibration(fit: LogisticResult, brier: f64) -> Result<Calibration> {
    let mut rows = fit.coefficients.into_iter();
    match (rows.next(), rows.next()) {
        (Some(intercept), Some(mut slope)) => {
            slope.name = "slope".into();
            Ok(Calibration {
                intercept,
                slope,
                brier,
                table: Vec::new(),
            })
        }
        _ => Err(StatsError::Invalid(
            "auc: the calibration fit has no slope".into(),
        )),
    }
}

/// The sizes of the calibration table's groups: group `b` holds the rows whose ascending
/// rank `r` (0-based) has `floor(g·r/n) = b`.
fn group_sizes(n: usize, g: usize) -> Vec<u64> {
    let start = |b: usize| (b * n).div_ceil(g) as u64;
    (0..g).map(|b| start(b + 1) - start(b)).collect()
}

/// One row of the calibration table from its sums (events; predicted probabilities).
fn group(n: u64, shown: bool, events: f64, predicted: f64) -> CalibrationGroup {
    let nf = n as f64;
    CalibrationGroup {
        n,
        shown,
        predicted: shown.then(|| predicted / nf),
        events: shown.then_some(events as u64),
        observed: shown.then(|| events / nf),
    }
}

fn bad_groups(g: usize, n: usize) -> StatsError {
    StatsError::Invalid(format!(
        "auc: `groups` must be from 2 to 100 and at most the {n} complete rows, not {g}"
    ))
}

/// The calibration table of the twin: the rows ordered by key, descending, ties in input
/// order (as the MPC's stable sort), ranked from the end; groups as [`group_sizes`].
fn groups_plain(rows: &[PlainRow], g: usize, min: u64) -> Result<Vec<CalibrationGroup>> {
    let n = rows.len();
    if !(2..=100).contains(&g) || g > n {
        return Err(bad_groups(g, n));
    }
    let mut desc: Vec<usize> = (0..n).collect();
    desc.sort_by(|&a, &b| rows[b].key.total_cmp(&rows[a].key));
    let mut events = vec![0f64; g];
    let mut predicted = vec![0f64; g];
    for (before, &i) in desc.iter().enumerate() {
        let b = g * (n - 1 - before) / n;
        events[b] += f64::from(u8::from(rows[i].case));
        predicted[b] += rows[i].prob;
    }
    Ok(group_sizes(n, g)
        .into_iter()
        .enumerate()
        .map(|(b, size)| {
            let shown = events[b] >= min as f64 && size as f64 - events[b] >= min as f64;
            group(size, shown, events[b], predicted[b])
        })
        .collect())
}

/// Name of the logit of the score in the recalibration fit.
const LOGIT: &str = "logit_score";

/// The smallest and largest predicted probability calibration takes: the logit of the
/// score must stay finite and within the fixed point's logarithm.
const P_MIN: f64 = 1e-6;

fn not_probability(score: &str) -> StatsError {
    StatsError::Invalid(format!(
        "auc: `calibration = true` needs the score `{score}` to be a predicted probability \
         between {P_MIN:e} and 1 − {P_MIN:e} in every complete row"
    ))
}

/// The AUC on the shared table: every compute party calls this with its shares; the sums
/// end sealed for the recipients.
pub fn auc(
    p: &mut Party,
    frame: &Frame,
    spec: &AucSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<AucPublic>> {
    check_conf(spec.conf_level)?;
    frame.numeric(&spec.score)?;
    // With calibration the recalibration model has an intercept: the disclosure checks
    // (`max_vars_per_row`) count it here, once for both.
    let prep = design::prepare(
        p,
        frame,
        &spec.outcome,
        std::slice::from_ref(&spec.score),
        spec.calibration,
        disclosure,
    )?;
    check_binary(p, &prep.outcome, &prep.weight, &spec.outcome)?;
    let scored = Scored {
        outcome: &prep.outcome,
        weight: &prep.weight,
        n: prep.n,
        score: &prep.columns[0],
        logit: None,
        wide: None,
    };
    let (public, values) = auc_core(p, &scored, spec, disclosure)?;
    Sealed::new(p, public, &values)
}

/// The rows an AUC is computed on, already prepared (shared): for `kind = "auc"` a column
/// of the table, for a hold-out validation the model's predictions on the test rows.
pub(crate) struct Scored<'a> {
    /// The outcome (fixed point), checked to be 0 or 1 on the complete rows.
    pub outcome: &'a AShare<u128>,
    /// 1 on the rows used, 0 elsewhere (integers).
    pub weight: &'a AShare<u128>,
    /// The number of rows used (opened before, documented by the caller).
    pub n: usize,
    /// The score (fixed point); with calibration a predicted probability.
    pub score: &'a AShare<u128>,
    /// With calibration: the score's logit when the caller has it (fixed point; a
    /// model's linear predictor); `None`: computed from the score, which must then lie in
    /// [P_MIN, 1 − P_MIN] (one bit opened).
    pub logit: Option<&'a AShare<u128>>,
    /// The rows' order: `None`, by the score; `Some((key, bits))`, by an exact key in
    /// Z_2^128 within `±2^(bits-1)` that orders the rows as the score does (a linear
    /// predictor kept exact, so that equal predictions tie).
    pub wide: Option<(&'a AShare<u128>, u32)>,
}

/// The AUC (and with `spec.calibration` the calibration) of prepared rows: the public
/// facts and the values to seal ([`AucPublic::open`] reads them). Refuses fewer than
/// `min_cell` (at least 2) cases or controls.
pub(crate) fn auc_core(
    p: &mut Party,
    s: &Scored,
    spec: &AucSpec,
    disclosure: &Disclosure,
) -> Result<(AucPublic, AShare<u128>)> {
    let f = p.frac_bits();
    // Cases and controls as integers (the outcome is exactly 0 or 2^f on complete rows).
    let yw = p.mul(s.outcome, s.weight)?;
    let case = trunc_exact(p, &yw, f)?;
    let control = s.weight.sub(&case);
    let min = least_class(disclosure);
    let totals = AShare::concat(&[&case.sum(), &control.sum()]);
    // LEAKAGE: one bit, "cases and controls each number at least min_cell".
    if !every_at_least(p, &totals, u128::from(min))? {
        return Err(too_few(min));
    }
    // Descending score; LEAKAGE: the scan depth of the largest tie group (module docs).
    let order = match s.wide {
        None => RiskOrder::stratified(p, s.score, &[], &[case, control])?,
        Some((key, bits)) => RiskOrder::by_wide_key(p, key, bits, s.score, &[case, control])?,
    };
    let (case, control) = (&order.cols[0], &order.cols[1]);
    let upto = order.within_prefix(p, &[case.clone(), control.clone()])?;
    let within = order.seg_prefix(p, &[case.clone(), control.clone()])?;
    // On every row: cases and controls scored at least as high, and tied with it.
    let mut at = order.broadcast(
        p,
        &[
            upto[0].clone(),
            upto[1].clone(),
            within[0].clone(),
            within[1].clone(),
        ],
    )?;
    let (tied_controls, tied_cases) = (at.pop().expect("4"), at.pop().expect("4"));
    let (high_controls, high_cases) = (at.pop().expect("4"), at.pop().expect("4"));
    let n = case.len();
    let all_controls = totals.slice(1..2);
    let spread = AShare {
        a: vec![all_controls.a[0]; n],
        b: vec![all_controls.b[0]; n],
    };
    // 2k·V = 2·(controls below) + controls tied; 2m·W = 2·(cases above) + cases tied.
    let v = spread.sub(&high_controls).shl(1).add(&tied_controls);
    let w = high_cases.shl(1).sub(&tied_cases);
    let cv = p.mul_many(&[(case, &v), (control, &w)])?;
    let squares = p.dot(
        &AShare::concat(&[&cv[0], &cv[1]]),
        &AShare::concat(&[&v, &w]),
        n,
    )?;
    let mut sealed = AShare::concat(&[&totals, &cv[0].sum(), &cv[1].sum(), &squares]);
    let mut public = AucPublic {
        spec: spec.clone(),
        n: s.n,
        calibration: None,
        shown: Vec::new(),
    };
    if spec.calibration {
        if !(2..=100).contains(&spec.groups) || spec.groups > s.n {
            return Err(bad_groups(spec.groups, s.n));
        }
        let (fit, values) = calibrate(p, spec, s)?;
        let min = disclosure.min_cell_or(DEFAULT_MIN_CELL);
        let (shown, table) = groups_in(p, &order, (case, control), spec.groups, s.n, min)?;
        sealed = AShare::concat(&[
            &sealed,
            &values.slice(0..1),
            &table,
            &values.slice(1..values.len()),
        ]);
        public.calibration = Some(fit);
        public.shown = shown;
    }
    Ok((public, sealed))
}

/// The calibration table inside MPC, on the rows in descending score order: each complete
/// row's ascending rank (a prefix count), its group by `g − 1` comparisons with the public
/// group boundaries, and per group the events and the sum of predicted probabilities (dot
/// products). A group is shown only with at least `min` events and `min` non-events;
/// LEAKAGE: that pattern is opened (the groups' sizes are public, fixed by `n` and `g`).
/// Returns the pattern and the `2g` values to seal (events, then predicted sums; zero
/// where not shown).
fn groups_in(
    p: &mut Party,
    order: &RiskOrder,
    (case, control): (&AShare<u128>, &AShare<u128>),
    g: usize,
    n: usize,
    min: u64,
) -> Result<(Vec<bool>, AShare<u128>)> {
    let rows = case.len();
    let weight = case.add(control);
    // Ascending rank of each complete row: n − 1 − (complete rows before it).
    let before = weight.prefix_sum().sub(&weight);
    let rank = p.add_const(&before.neg(), (n - 1) as u128);
    let starts: Vec<u128> = (1..g).map(|b| (b * n).div_ceil(g) as u128).collect();
    let ranks = AShare::concat(&vec![&rank; g - 1]);
    let bounds: Vec<u128> = starts
        .iter()
        .flat_map(|&s| std::iter::repeat_n(s, rows))
        .collect();
    // below[b][i] = [rank_i < start of group b + 1].
    let below = p.lt_arith(&ranks, &p.public(&bounds))?;
    let at = |b: usize| below.slice(b * rows..(b + 1) * rows);
    // In group b: below the start of b + 1 and not below the start of b.
    let member: Vec<AShare<u128>> = (0..g)
        .map(|b| {
            let upper = if b + 1 < g {
                at(b)
            } else {
                p.public(&vec![1; rows])
            };
            if b == 0 {
                upper
            } else {
                upper.sub(&at(b - 1))
            }
        })
        .collect();
    let wp = p.mul(&weight, &order.time)?;
    let members = AShare::concat(&member.iter().collect::<Vec<_>>());
    let mut ys = Vec::new();
    let mut ps = Vec::new();
    for _ in 0..g {
        ys.push(case);
        ps.push(&wp);
    }
    let events = p.dot(&members, &AShare::concat(&ys), rows)?;
    let predicted = p.dot(&members, &AShare::concat(&ps), rows)?;
    let sizes = group_sizes(n, g);
    let non_events = p
        .public(&sizes.iter().map(|&s| s as u128).collect::<Vec<_>>())
        .sub(&events);
    let ok = at_least(p, &AShare::concat(&[&events, &non_events]), min)?;
    let both = p.mul(&ok.slice(0..g), &ok.slice(g..2 * g))?;
    let masked = p.mul_many(&[(&both, &events), (&both, &predicted)])?;
    // LEAKAGE: the shown pattern of the calibration table (see above).
    let shown = p.reveal(&both)?.into_iter().map(|b| b == 1).collect();
    Ok((shown, AShare::concat(&[&masked[0], &masked[1]])))
}

/// The calibration inside MPC: the score's logit (given, or computed after checking the
/// score to be a probability: one bit opened), the Brier sum, and the logistic fit of the
/// outcome on the logit as `logistic` fits it, on the rows of `s` (what the fit opens: its
/// convergence bits and the separation bit). Returns the fit's public facts and the values
/// to seal (the Brier sum, then the fit's).
fn calibrate(p: &mut Party, spec: &AucSpec, s: &Scored) -> Result<(LogisticPublic, AShare<u128>)> {
    let f = p.frac_bits();
    let (y, weight) = (s.outcome, s.weight);
    let n = weight.len();
    let (x, logit) = match s.logit {
        Some(logit) => (s.score.clone(), logit.clone()),
        None => {
            // Incomplete rows at ½ (logit 0), so that every row's logarithm is defined.
            let half = encode::<u128>(0.5, f);
            let off = p.mul(&p.add_const(s.score, half.wrapping_neg()), weight)?;
            let x = p.add_const(&off, half);
            let one_minus = p.add_const(&x.neg(), encode(1.0, f));
            let lo = encode::<u128>(P_MIN, f).wrapping_neg();
            let margins = AShare::concat(&[&p.add_const(&x, lo), &p.add_const(&one_minus, lo)]);
            // LEAKAGE: one bit, "every complete score lies in [P_MIN, 1 − P_MIN]" (refused
            // otherwise).
            if !every_at_least(p, &margins, 0)? {
                return Err(not_probability(&spec.score));
            }
            let logs = p.ln(&AShare::concat(&[&x, &one_minus]))?;
            let logit = logs.slice(0..n).sub(&logs.slice(n..2 * n));
            (x, logit)
        }
    };
    // Σ w (y − p)², at f fractional bits.
    let d = y.sub(&x);
    let wd = p.mul(weight, &d)?;
    let brier = p.dot_fix(&wd, &d, n)?;
    // The rows' own complete-row weights, disclosure checks and 0/1 check serve the fit:
    // nothing is prepared or opened twice.
    let prep = Prepared {
        names: vec![design::INTERCEPT.to_string(), LOGIT.to_string()],
        intercept: true,
        columns: vec![logit],
        outcome: y.clone(),
        weight: weight.clone(),
        n: s.n,
    };
    let (fit, values) = logistic::fit_prepared(p, &prep, &recalibration(spec))?;
    Ok((fit, AShare::concat(&[&brier, &values])))
}

/// The recalibration model: the outcome on the logit of the score, with an intercept.
fn recalibration(spec: &AucSpec) -> LogisticSpec {
    LogisticSpec {
        outcome: spec.outcome.clone(),
        covariates: vec![LOGIT.into()],
        intercept: true,
        l2: 0.0,
        max_steps: 50,
        conf_level: spec.conf_level,
        holdout: None,
        calibration: false,
        groups: None,
    }
}

/// The plaintext twin: the same statistic in f64 (the placements by sorting). The
/// `min_rows` rule is the runner's; `min_cell` is checked here as in MPC.
pub fn auc_plain(frame: &PlainFrame, spec: &AucSpec, disclosure: &Disclosure) -> Result<AucResult> {
    check_conf(spec.conf_level)?;
    let y = frame.numeric(&spec.outcome)?;
    let s = frame.numeric(&spec.score)?;
    let rows: Vec<PlainRow> = y
        .iter()
        .zip(s.iter())
        .filter_map(|(y, s)| Some((s.as_ref().copied()?, y.as_ref().copied()?)))
        .map(|(s, y)| {
            Ok(PlainRow {
                key: s,
                prob: s,
                logit: None,
                case: binary_plain(y, &spec.outcome)?,
            })
        })
        .collect::<Result<_>>()?;
    auc_plain_rows(&rows, spec, disclosure)
}

/// An outcome value of the twin as a case (1) or control (0); an error otherwise.
pub(crate) fn binary_plain(y: f64, outcome: &str) -> Result<bool> {
    if y == 0.0 || y == 1.0 {
        Ok(y == 1.0)
    } else {
        Err(StatsError::Invalid(format!(
            "outcome `{outcome}` must be 0 or 1 in every complete row"
        )))
    }
}

/// One complete row of the twin's AUC ([`auc_plain_rows`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PlainRow {
    /// What orders the rows (higher predicts a case): the score, or a linear predictor.
    pub key: f64,
    /// The score as a predicted probability (calibration).
    pub prob: f64,
    /// Its logit, when known (a linear predictor); `None`: from `prob`, which must then
    /// lie in [P_MIN, 1 − P_MIN].
    pub logit: Option<f64>,
    /// Outcome 1.
    pub case: bool,
}

/// The twin's AUC (and calibration) of complete rows, as [`auc_core`] inside MPC.
pub(crate) fn auc_plain_rows(
    rows: &[PlainRow],
    spec: &AucSpec,
    disclosure: &Disclosure,
) -> Result<AucResult> {
    let m = rows.iter().filter(|r| r.case).count();
    let k = rows.len() - m;
    let min = least_class(disclosure);
    if (m as u64) < min || (k as u64) < min {
        return Err(too_few(min));
    }
    let mut cases: Vec<f64> = rows.iter().filter(|r| r.case).map(|r| r.key).collect();
    let mut controls: Vec<f64> = rows.iter().filter(|r| !r.case).map(|r| r.key).collect();
    cases.sort_by(f64::total_cmp);
    controls.sort_by(f64::total_cmp);
    // Twice the number of values in `sorted` below x, plus those equal to x.
    let twice_below = |sorted: &[f64], x: f64| {
        let lo = sorted.partition_point(|&v| v < x);
        let hi = sorted.partition_point(|&v| v <= x);
        (2 * lo + (hi - lo)) as f64
    };
    let mut sums = Sums {
        cases: m as f64,
        controls: k as f64,
        v: 0.0,
        vv: 0.0,
        w: 0.0,
        ww: 0.0,
    };
    for &x in &cases {
        let v = twice_below(&controls, x);
        sums.v += v;
        sums.vv += v * v;
    }
    for &x in &controls {
        // Cases above x, twice, plus those tied: 2m − (twice below + tied).
        let w = 2.0 * m as f64 - twice_below(&cases, x);
        sums.w += w;
        sums.ww += w * w;
    }
    let mut out = sums.finish(&spec.outcome, &spec.score, spec.conf_level);
    if spec.calibration {
        let logit = rows
            .iter()
            .map(|r| match r.logit {
                Some(l) => Ok(l),
                None if (P_MIN..=1.0 - P_MIN).contains(&r.prob) => {
                    Ok((r.prob / (1.0 - r.prob)).ln())
                }
                None => Err(not_probability(&spec.score)),
            })
            .collect::<Result<Vec<f64>>>()?;
        let brier = rows
            .iter()
            .map(|r| (f64::from(u8::from(r.case)) - r.prob).powi(2))
            .sum::<f64>()
            / rows.len() as f64;
        let outcome: Vec<f64> = rows.iter().map(|r| f64::from(u8::from(r.case))).collect();
        let table = PlainFrame::new(vec![
            PlainColumn::numeric(&spec.outcome, &outcome),
            PlainColumn::numeric(LOGIT, &logit),
        ])?;
        let fit = crate::regression::plain::logistic(&table, &recalibration(spec))?;
        let mut c = calibration(fit, brier)?;
        c.table = groups_plain(rows, spec.groups, disclosure.min_cell_or(DEFAULT_MIN_CELL))?;
        out.calibration = Some(c);
    }
    Ok(out)
}
