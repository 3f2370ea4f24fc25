//! Gradient-boosted decision trees for a binary or a continuous outcome
//! (`kind = "boosted_trees"`, `objective = "binary"` or `"squared_error"`), trained and
//! validated inside MPC on the linked table: every threshold, split, gradient, leaf value
//! and prediction stays secret-shared.
//!
//! # The model (as xgboost's and scikit-learn's histogram boosting)
//!
//! - Bins: per covariate, `bins − 1` candidate thresholds, the values at the ranks
//!   `⌈k·n/bins⌉` (0-based, `k = 1..bins−1`) of the training set's complete rows sorted;
//!   a row goes right at a split on `(j, k)` if `x_j ≥ t_jk`.
//! - Start: every row's score is the log-odds of the training outcome's mean (`binary`), or
//!   the training outcome's mean (`squared_error`; xgboost ≥ 2 estimates `base_score` so
//!   for `reg:squarederror`, scikit-learn's baseline is the mean too).
//! - Each tree: gradients and hessians on the training rows, `g = p − y` and
//!   `h = p(1 − p)` of the log loss at `p = σ(score)` (`binary`), `g = score − y` and
//!   `h = 1` of half the squared error (`squared_error`); grown level by level to `depth`:
//!   every node takes
//!   the candidate of the largest gain `G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)` among those
//!   with `H_L` and `H_R` at least `min_child_weight` (the first in covariate, threshold
//!   order among equal gains), and splits if that gain is positive, else sends all its rows
//!   left (a leaf in effect). Leaf values `w = −η·G/(H + λ)` (`η` = `learning_rate`) are
//!   added to the scores of every row (training and test) in the leaf.
//! - Validation on the test rows' final scores: `binary`, the scores as a score of the
//!   outcome, AUC with DeLong's interval ([`crate::predict::auc`]); `squared_error`, the
//!   scores as predictions: the mean squared error `MSE = Σ(y − ŷ)²/n` (the recipient takes
//!   its square root, the RMSE) and `R² = 1 − MSE/V` with `V = Σ(y − ȳ)²/n` and `ȳ` the test
//!   rows' mean (scikit-learn's `r2_score`). `V` must be at least [`MIN_TEST_VARIANCE`]
//!   (else the test outcome is constant and R² undefined: refused).
//!
//! [`plain`] is the twin in `f64`; [`mpc`] the protocol (its docs say what is opened).

pub mod mpc;
pub mod plain;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Result, StatsError};
use crate::predict::auc::{AucPublic, AucResult, AucSpec};
use crate::sealed::Tail;
use tessera_mpc::fixed::decode;

pub use mpc::{boosted_trees, boosted_trees_on};
pub use plain::boosted_trees_plain;

/// The loss the trees are boosted on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// A 0/1 outcome, log loss (xgboost's `binary:logistic`, scikit-learn's
    /// `HistGradientBoostingClassifier`).
    #[default]
    Binary,
    /// A continuous outcome, squared error (xgboost's `reg:squarederror`, scikit-learn's
    /// `HistGradientBoostingRegressor`).
    SquaredError,
}

impl Objective {
    /// The name in the study file.
    pub fn name(self) -> &'static str {
        match self {
            Objective::Binary => "binary",
            Objective::SquaredError => "squared_error",
        }
    }
}

fn default_trees() -> usize {
    50
}
fn default_depth() -> usize {
    4
}
fn default_rate() -> f64 {
    0.1
}
fn default_lambda() -> f64 {
    1.0
}
fn default_mcw() -> f64 {
    1.0
}
fn default_bins() -> usize {
    32
}
fn default_holdout() -> f64 {
    0.25
}
fn default_conf() -> f64 {
    0.95
}

/// Most trees a study may ask for.
pub const MAX_TREES: usize = 500;
/// Deepest trees a study may ask for.
pub const MAX_DEPTH: usize = 6;
/// Most bins per covariate.
pub const MAX_BINS: usize = 64;
/// Most covariates (design columns: a categorical covariate counts once per indicator).
pub const MAX_COLUMNS: usize = 100;
/// Bound on a `squared_error` outcome: values strictly within ±256, so that with residuals
/// within twice that every sum of squared residuals on up to 2^20 rows, hence every gain
/// term, stays below 2^38 and the gradient sums within Z_2^64 (`mpc`'s "Valid range";
/// [`crate::ranges::column_needs`] lists it, so the data parties check it).
pub const MAX_OUTCOME: f64 = 256.0;
/// The smallest variance of the test rows' outcome (`squared_error`) for which R² is
/// computed: `2^-16` (the reciprocal needs at least `2^-24`; a smaller variance means a
/// constant outcome in effect, refused).
pub const MIN_TEST_VARIANCE: f64 = 1.0 / 65536.0;

/// Largest `trees × 2^depth × bins × columns` (the work of the split search per row): four
/// times the reference workload (50 trees of depth 4, 32 bins, 20 columns).
pub const MAX_WORK: usize = 4 * 50 * 16 * 32 * 20;

/// Gradient-boosted trees (`kind = "boosted_trees"`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BoostedTreesSpec {
    /// The outcome column (0/1 for `binary`, a number strictly within ±[`MAX_OUTCOME`] for
    /// `squared_error`).
    pub outcome: String,
    /// The covariates: numeric columns, or categorical ones (one 0/1 indicator per level
    /// but the first, as the regressions' terms expand them).
    pub covariates: Vec<String>,
    /// The loss: `binary` (log loss) or `squared_error`.
    #[serde(default)]
    pub objective: Objective,
    /// A survival time column: not for `binary` or `squared_error` (refused by name, so
    /// that a researcher who means a survival model learns that these objectives take an
    /// `outcome` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// An event column: as `time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Number of trees (1 to 500).
    #[serde(default = "default_trees")]
    pub trees: usize,
    /// Depth of each tree (1 to 6): `2^depth` leaves.
    #[serde(default = "default_depth")]
    pub depth: usize,
    /// Shrinkage `η` of every leaf value (0 < η ≤ 1).
    #[serde(default = "default_rate")]
    pub learning_rate: f64,
    /// L2 penalty `λ` on the leaf values (0.001 to 1000; xgboost's `lambda`,
    /// scikit-learn's `l2_regularization`).
    #[serde(default = "default_lambda")]
    pub lambda: f64,
    /// Smallest hessian sum of a child (0 to 10^6; xgboost's `min_child_weight`).
    #[serde(default = "default_mcw")]
    pub min_child_weight: f64,
    /// Bins per covariate (2 to 64): `bins − 1` candidate thresholds at its quantiles.
    #[serde(default = "default_bins")]
    pub bins: usize,
    /// The fraction of rows held out to validate the model (strictly between 0 and 1),
    /// chosen inside MPC (no party learns which rows).
    #[serde(default = "default_holdout")]
    pub holdout: f64,
    /// Also seal the model for the recipients: per tree and node the split's covariate,
    /// threshold and whether it splits, and the leaf values.
    #[serde(default)]
    pub reveal_model: bool,
    /// Confidence level of the AUC's interval (`binary`).
    #[serde(default = "default_conf")]
    pub conf_level: f64,
}

/// A researcher's mistake in a `boosted_trees` analysis: the field and what is allowed.
fn bad(field: &str, what: String) -> StatsError {
    StatsError::Invalid(format!("boosted_trees: `{field}` {what}"))
}

type FieldError = (&'static str, String);

impl BoostedTreesSpec {
    /// The public checks of the parameters (each refusal names the field and the limits).
    pub fn check(&self) -> Result<()> {
        self.check_fields().map_err(|(at, m)| bad(at, m))
    }

    /// [`BoostedTreesSpec::check`] as the field and the message (for the study's
    /// validation, which names the file and line).
    pub fn check_fields(&self) -> std::result::Result<(), FieldError> {
        let bad = |at: &'static str, m: String| -> FieldError { (at, m) };
        let objective = self.objective.name();
        for (at, given) in [("time", &self.time), ("event", &self.event)] {
            if given.is_some() {
                return Err(bad(
                    at,
                    format!(
                        "is not a field of objective = \"{objective}\": it models `outcome` \
                         (binary: 0/1, squared_error: a number) from the covariates"
                    ),
                ));
            }
        }
        if self.outcome.is_empty() {
            return Err(bad(
                "outcome",
                format!("must name the column objective = \"{objective}\" predicts"),
            ));
        }
        if self.covariates.is_empty() {
            return Err(bad("covariates", "must name at least one column".into()));
        }
        if !(1..=MAX_TREES).contains(&self.trees) {
            return Err(bad(
                "trees",
                format!("must be from 1 to {MAX_TREES}, not {}", self.trees),
            ));
        }
        if !(1..=MAX_DEPTH).contains(&self.depth) {
            return Err(bad(
                "depth",
                format!("must be from 1 to {MAX_DEPTH}, not {}", self.depth),
            ));
        }
        if !(self.learning_rate.is_finite()
            && self.learning_rate > 0.0
            && self.learning_rate <= 1.0)
        {
            return Err(bad(
                "learning_rate",
                format!("must be in (0, 1], not {}", self.learning_rate),
            ));
        }
        if !(self.lambda.is_finite() && (1e-3..=1e3).contains(&self.lambda)) {
            return Err(bad(
                "lambda",
                format!(
                    "must be from 0.001 to 1000 (leaf values divide by H + lambda), not {}",
                    self.lambda
                ),
            ));
        }
        if !(self.min_child_weight.is_finite() && (0.0..=1e6).contains(&self.min_child_weight)) {
            return Err(bad(
                "min_child_weight",
                format!("must be from 0 to 10^6, not {}", self.min_child_weight),
            ));
        }
        if !(2..=MAX_BINS).contains(&self.bins) {
            return Err(bad(
                "bins",
                format!("must be from 2 to {MAX_BINS}, not {}", self.bins),
            ));
        }
        if !(self.holdout.is_finite() && self.holdout > 0.0 && self.holdout < 1.0) {
            return Err(bad(
                "holdout",
                format!(
                    "must be a fraction of the rows strictly between 0 and 1, not {}",
                    self.holdout
                ),
            ));
        }
        if !(self.conf_level.is_finite() && self.conf_level > 0.0 && self.conf_level < 1.0) {
            return Err(bad(
                "conf_level",
                format!("must lie strictly between 0 and 1, not {}", self.conf_level),
            ));
        }
        Ok(())
    }

    /// The checks that need the number of design columns: at most [`MAX_COLUMNS`], and the
    /// work `trees × 2^depth × bins × columns` at most [`MAX_WORK`].
    pub fn check_size(&self, columns: usize) -> Result<()> {
        if columns > MAX_COLUMNS {
            return Err(bad(
                "covariates",
                format!("expand to {columns} columns; at most {MAX_COLUMNS} are allowed"),
            ));
        }
        let work = self.trees * (1 << self.depth) * self.bins * columns;
        if work > MAX_WORK {
            return Err(bad(
                "trees",
                format!(
                    "× 2^depth × bins × columns = {} × {} × {} × {columns} = {work} is over \
                     the limit {MAX_WORK}: ask for fewer or shallower trees or fewer bins",
                    self.trees,
                    1 << self.depth,
                    self.bins
                ),
            ));
        }
        Ok(())
    }

    /// The AUC's specification for the test rows' scores.
    pub(crate) fn auc_spec(&self) -> AucSpec {
        AucSpec {
            outcome: self.outcome.clone(),
            score: SCORE.into(),
            conf_level: self.conf_level,
            calibration: false,
            groups: 10,
        }
    }
}

/// The name of the score in the validation's AUC.
pub const SCORE: &str = "boosted_trees_score";

/// The number of training positions among `rows` shuffled rows: `⌈(1 − holdout)·rows⌉`;
/// an error if either set would have no rows.
pub fn training_positions(rows: usize, holdout: f64) -> Result<usize> {
    let t = ((1.0 - holdout) * rows as f64).ceil() as usize;
    if t == 0 || t >= rows {
        return Err(bad(
            "holdout",
            format!("= {holdout} of {rows} rows leaves no training or no test rows"),
        ));
    }
    Ok(t)
}

/// The rank (0-based) of the `k`-th threshold among `n` sorted values: `⌈k·n/bins⌉`, at
/// most `n − 1`.
pub fn threshold_rank(k: usize, n: usize, bins: usize) -> usize {
    (k * n).div_ceil(bins).min(n.saturating_sub(1))
}

/// One internal node of a tree.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Node {
    /// Whether the node splits (false: every row goes left).
    pub split: bool,
    /// The covariate (design column name) of the split.
    pub covariate: String,
    /// Rows with the covariate at least this go right.
    pub threshold: f64,
}

/// One tree: internal nodes in level order (node `i`'s children are `2i + 1` (left) and
/// `2i + 2` (right)), then the leaf values left to right.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tree {
    /// The `2^depth − 1` internal nodes.
    pub nodes: Vec<Node>,
    /// The `2^depth` leaf values (already multiplied by the learning rate).
    pub leaves: Vec<f64>,
}

/// The fitted model (with `reveal_model`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Model {
    /// The starting score (`binary`: the log-odds of the training mean; `squared_error`:
    /// the training mean).
    pub base_score: f64,
    /// The trees.
    pub trees: Vec<Tree>,
}

impl Model {
    /// The score of one row (`x` by design column index): the base plus every tree's leaf.
    pub fn score(&self, names: &[String], x: &[f64]) -> f64 {
        let mut s = self.base_score;
        for t in &self.trees {
            let mut i = 0;
            while i < t.nodes.len() {
                let n = &t.nodes[i];
                let j = names.iter().position(|c| c == &n.covariate).unwrap_or(0);
                let right = n.split && x[j] >= n.threshold;
                i = 2 * i + 1 + usize::from(right);
            }
            s += t.leaves[i - t.nodes.len()];
        }
        s
    }
}

/// The held-out error of a `squared_error` model on the test rows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErrorResult {
    /// Complete test rows.
    pub n: usize,
    /// The root mean squared error `sqrt(Σ(y − ŷ)²/n)`.
    pub rmse: f64,
    /// `1 − MSE/V`, `V` the test outcome's variance about its own mean (divisor `n`).
    pub r2: f64,
}

impl fmt::Display for ErrorResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:>8} {:>12} {:>10}", "rows", "RMSE", "R²")?;
        writeln!(f, "{:>8} {:>12.6} {:>10.6}", self.n, self.rmse, self.r2)
    }
}

/// The validation on the held-out rows: the AUC (`binary`) or the error (`squared_error`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Validation {
    /// `binary`: the test rows' scores against the outcome, AUC with DeLong's interval.
    Auc(Box<AucResult>),
    /// `squared_error`: RMSE and R² of the test rows' predictions.
    Error(ErrorResult),
}

impl Validation {
    /// The AUC (`binary`).
    pub fn auc(&self) -> Option<&AucResult> {
        match self {
            Validation::Auc(a) => Some(&**a),
            Validation::Error(_) => None,
        }
    }

    /// RMSE and R² (`squared_error`).
    pub fn error(&self) -> Option<&ErrorResult> {
        match self {
            Validation::Error(e) => Some(e),
            Validation::Auc(_) => None,
        }
    }
}

impl fmt::Display for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validation::Auc(a) => write!(f, "{a}"),
            Validation::Error(e) => write!(f, "{e}"),
        }
    }
}

/// The result of `kind = "boosted_trees"`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoostedTreesResult {
    /// The outcome column.
    pub outcome: String,
    /// The loss the trees were boosted on.
    pub objective: Objective,
    /// The design columns the trees split on.
    pub columns: Vec<String>,
    /// The parameters.
    pub trees: usize,
    pub depth: usize,
    pub learning_rate: f64,
    pub lambda: f64,
    pub min_child_weight: f64,
    pub bins: usize,
    /// The fraction of rows held out.
    pub holdout: f64,
    /// Complete rows the model was trained on.
    pub n_train: usize,
    /// Complete rows held out.
    pub n_test: usize,
    /// The validation on the test rows (AUC, or RMSE and R²).
    pub test: Validation,
    /// With `reveal_model`: the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<Model>,
}

impl fmt::Display for BoostedTreesResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Gradient-boosted trees ({}): {} on {} ({} trees of depth {}, learning rate {}, \
             lambda {}, min_child_weight {}, {} bins)",
            self.objective.name(),
            self.outcome,
            self.columns.join(", "),
            self.trees,
            self.depth,
            self.learning_rate,
            self.lambda,
            self.min_child_weight,
            self.bins
        )?;
        writeln!(
            f,
            "trained on {} complete rows, validated on {} held out ({} of the rows)",
            self.n_train, self.n_test, self.holdout
        )?;
        write!(f, "{}", self.test)?;
        if let Some(m) = &self.model {
            writeln!(f, "model: base score {:.6}", m.base_score)?;
            for (t, tree) in m.trees.iter().enumerate() {
                let nodes: Vec<String> = tree
                    .nodes
                    .iter()
                    .map(|n| {
                        if n.split {
                            format!("{} >= {:.6}", n.covariate, n.threshold)
                        } else {
                            "-".into()
                        }
                    })
                    .collect();
                let leaves: Vec<String> = tree.leaves.iter().map(|w| format!("{w:.6}")).collect();
                writeln!(
                    f,
                    "  tree {}: splits [{}]; leaves [{}]",
                    t + 1,
                    nodes.join("; "),
                    leaves.join(", ")
                )?;
            }
        }
        Ok(())
    }
}

/// What the compute parties know of a boosted-trees analysis and the recipient's tail
/// needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoostedTreesPublic {
    /// The analysis.
    pub spec: BoostedTreesSpec,
    /// The design columns (public: from the spec and the declared levels).
    pub columns: Vec<String>,
    /// Complete training rows (opened: documented leakage).
    pub n_train: usize,
    /// Complete test rows (opened: documented leakage).
    pub n_test: usize,
    /// The test AUC's public facts (`binary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auc: Option<AucPublic>,
    /// Fractional bits of the sealed model values.
    pub frac_bits: u32,
}

impl Tail for BoostedTreesPublic {
    type Result = BoostedTreesResult;

    /// Values: the AUC's (`binary`) or the MSE and R² (`squared_error`, fixed point), then
    /// with `reveal_model` the base score, then per tree its
    /// internal nodes' split bits (integers), covariate indices (integers), thresholds
    /// (fixed point) and its leaf values (fixed point).
    fn open(&self, vals: &[u128]) -> Result<BoostedTreesResult> {
        let misfit = || StatsError::Invalid("boosted_trees: the sealed values do not fit".into());
        let s = &self.spec;
        let inner = (1usize << s.depth) - 1;
        let per_tree = 3 * inner + inner + 1;
        let model_len = if s.reveal_model {
            1 + s.trees * per_tree
        } else {
            0
        };
        let split = vals.len().checked_sub(model_len).ok_or_else(misfit)?;
        let (auc_vals, model_vals) = vals.split_at(split);
        let f = self.frac_bits;
        let test = match (s.objective, &self.auc) {
            (Objective::Binary, Some(auc)) => Validation::Auc(Box::new(auc.open(auc_vals)?)),
            (Objective::SquaredError, None) => match auc_vals {
                [mse, r2] => Validation::Error(ErrorResult {
                    n: self.n_test,
                    // The MSE is at least 0 up to rounding (a sum of squares).
                    rmse: decode(*mse, f).max(0.0).sqrt(),
                    r2: decode(*r2, f),
                }),
                _ => return Err(misfit()),
            },
            _ => return Err(misfit()),
        };
        let model = if s.reveal_model {
            let base_score = decode(model_vals[0], f);
            let mut trees = Vec::with_capacity(s.trees);
            for chunk in model_vals[1..].chunks(per_tree) {
                let (bits, rest) = chunk.split_at(inner);
                let (cov, rest) = rest.split_at(inner);
                let (thr, leaves) = rest.split_at(inner);
                let nodes = (0..inner)
                    .map(|i| {
                        let split = match bits[i] {
                            0 => false,
                            1 => true,
                            _ => return Err(misfit()),
                        };
                        let c = usize::try_from(cov[i]).map_err(|_| misfit())?;
                        let covariate = if split {
                            self.columns.get(c).ok_or_else(misfit)?.clone()
                        } else {
                            String::new()
                        };
                        Ok(Node {
                            split,
                            covariate,
                            threshold: if split { decode(thr[i], f) } else { 0.0 },
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                trees.push(Tree {
                    nodes,
                    leaves: leaves.iter().map(|&w| decode(w, f)).collect(),
                });
            }
            Some(Model { base_score, trees })
        } else {
            None
        };
        Ok(BoostedTreesResult {
            outcome: s.outcome.clone(),
            objective: s.objective,
            columns: self.columns.clone(),
            trees: s.trees,
            depth: s.depth,
            learning_rate: s.learning_rate,
            lambda: s.lambda,
            min_child_weight: s.min_child_weight,
            bins: s.bins,
            holdout: s.holdout,
            n_train: self.n_train,
            n_test: self.n_test,
            test,
            model,
        })
    }
}
