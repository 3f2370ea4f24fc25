//! The plaintext twin of the boosted trees: the same bins, gains, tie order, leaves and
//! validation in `f64` (the module docs of [`super`] give the definitions), on an explicit
//! split. The oracle of the MPC's tests and the baseline of the benchmark.

use crate::disclosure::Disclosure;
use crate::error::{Result, StatsError};
use crate::predict::auc::{auc_plain_rows, binary_plain, PlainRow};
use crate::regression::plain;
use crate::regression::split;
use crate::table::PlainFrame;

use super::{
    threshold_rank, BoostedTreesResult, BoostedTreesSpec, ErrorResult, Model, Node, Objective,
    Tree, Validation, MIN_TEST_VARIANCE,
};

/// The sets' names in `min_rows` refusals.
pub(crate) const TRAINING: &str = "the boosted trees' training set";
pub(crate) const TEST: &str = "the boosted trees' test set";

/// A model fitted in plaintext and its scores on the test rows.
#[derive(Clone, Debug, PartialEq)]
pub struct PlainFit {
    /// The model.
    pub model: Model,
    /// The thresholds per covariate (`bins − 1` each).
    pub thresholds: Vec<Vec<f64>>,
    /// The final score of each test row.
    pub test_scores: Vec<f64>,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The thresholds of every covariate from the training rows `x` (rows × columns).
pub fn thresholds(x: &[Vec<f64>], columns: usize, bins: usize) -> Vec<Vec<f64>> {
    let n = x.len();
    (0..columns)
        .map(|j| {
            let mut v: Vec<f64> = x.iter().map(|r| r[j]).collect();
            v.sort_by(f64::total_cmp);
            (1..bins).map(|k| v[threshold_rank(k, n, bins)]).collect()
        })
        .collect()
}

/// The refusal of a `squared_error` validation whose test outcome is constant.
pub(crate) fn constant_test_outcome(outcome: &str) -> StatsError {
    StatsError::Invalid(format!(
        "boosted_trees: `outcome` {outcome} has (almost) no variance on the held-out rows \
         (below {MIN_TEST_VARIANCE}): R² is undefined; rescale the outcome or hold out more rows"
    ))
}

/// The held-out error of predictions `pred` of `y` (`squared_error`): RMSE and R² (module
/// docs of [`super`]); refused if the test outcome's variance is below
/// [`MIN_TEST_VARIANCE`].
pub fn held_out_error(y: &[f64], pred: &[f64], outcome: &str) -> Result<ErrorResult> {
    let n = y.len() as f64;
    if y.len() < 2 {
        return Err(constant_test_outcome(outcome));
    }
    let mean = y.iter().sum::<f64>() / n;
    let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    if var < MIN_TEST_VARIANCE {
        return Err(constant_test_outcome(outcome));
    }
    let mse = y
        .iter()
        .zip(pred)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / n;
    Ok(ErrorResult {
        n: y.len(),
        rmse: mse.sqrt(),
        r2: 1.0 - mse / var,
    })
}

/// Fits the model on the training rows (`x`, `y`: 0/1 for `binary`) and scores the test
/// rows, with the
/// column names `names` (for the model's nodes).
pub fn fit(
    spec: &BoostedTreesSpec,
    names: &[String],
    (x, y): (&[Vec<f64>], &[f64]),
    test: &[Vec<f64>],
) -> Result<PlainFit> {
    let n = x.len();
    let cols = names.len();
    if n == 0 {
        return Err(StatsError::Invalid(
            "boosted_trees: no training rows".into(),
        ));
    }
    let t = thresholds(x, cols, spec.bins);
    let kb = spec.bins - 1;
    // c[i][j·kb + k] = [x_ij ≥ t_jk]; the test rows after the training rows.
    let all: Vec<&Vec<f64>> = x.iter().chain(test).collect();
    let c: Vec<Vec<bool>> = all
        .iter()
        .map(|r| {
            (0..cols)
                .flat_map(|j| t[j].iter().map(move |&tk| r[j] >= tk))
                .collect()
        })
        .collect();
    let s: f64 = y.iter().sum();
    let base = match spec.objective {
        Objective::Binary => (s / (n as f64 - s)).ln(),
        Objective::SquaredError => s / n as f64,
    };
    let mut score = vec![base; all.len()];
    let (lambda, mcw) = (spec.lambda, spec.min_child_weight);
    let inner = (1usize << spec.depth) - 1;
    let mut trees = Vec::with_capacity(spec.trees);
    for _ in 0..spec.trees {
        let (g, h): (Vec<f64>, Vec<f64>) = (0..n)
            .map(|i| match spec.objective {
                Objective::Binary => {
                    let p = sigmoid(score[i]);
                    (p - y[i], p * (1.0 - p))
                }
                Objective::SquaredError => (score[i] - y[i], 1.0),
            })
            .unzip();
        // The node of every row (training and test), in level order.
        let mut node = vec![0usize; all.len()];
        let mut nodes = Vec::with_capacity(inner);
        for level in 0..spec.depth {
            let first = (1usize << level) - 1;
            let width = 1usize << level;
            for v in first..first + width {
                let members: Vec<usize> = (0..n).filter(|&i| node[i] == v).collect();
                let gt: f64 = members.iter().map(|&i| g[i]).sum();
                let ht: f64 = members.iter().map(|&i| h[i]).sum();
                let parent = gt * gt / (ht + lambda);
                let mut best: Option<(f64, usize)> = None;
                for cand in 0..cols * kb {
                    let (mut gr, mut hr) = (0.0, 0.0);
                    for &i in &members {
                        if c[i].get(cand) == Some(&true) {
                            gr += g[i];
                            hr += h[i];
                        }
                    }
                    let (gl, hl) = (gt - gr, ht - hr);
                    if hl < mcw || hr < mcw {
                        continue;
                    }
                    let gain = gl * gl / (hl + lambda) + gr * gr / (hr + lambda) - parent;
                    if best.is_none_or(|(b, _)| gain > b) {
                        best = Some((gain, cand));
                    }
                }
                let chosen = best.filter(|&(gain, _)| gain > 0.0).map(|(_, c)| c);
                nodes.push(match chosen {
                    Some(cand) => Node {
                        split: true,
                        covariate: names[cand / kb].clone(),
                        threshold: t[cand / kb][cand % kb],
                    },
                    None => Node {
                        split: false,
                        covariate: String::new(),
                        threshold: 0.0,
                    },
                });
                for (i, nd) in node.iter_mut().enumerate() {
                    if *nd == v {
                        let right = chosen.is_some_and(|cand| c[i][cand]);
                        *nd = 2 * v + 1 + usize::from(right);
                    }
                }
            }
        }
        let leaves: Vec<f64> = (0..=inner)
            .map(|l| {
                let (gs, hs) = (0..n)
                    .filter(|&i| node[i] == inner + l)
                    .fold((0.0, 0.0), |(a, b), i| (a + g[i], b + h[i]));
                -spec.learning_rate * gs / (hs + lambda)
            })
            .collect();
        for (i, sc) in score.iter_mut().enumerate() {
            *sc += leaves[node[i] - inner];
        }
        trees.push(Tree { nodes, leaves });
    }
    Ok(PlainFit {
        model: Model {
            base_score: base,
            trees,
        },
        thresholds: t,
        test_scores: score[n..].to_vec(),
    })
}

/// The twin of [`super::boosted_trees`] on an explicit split: `test` lists the frame's rows
/// held out (the MPC draws them by an oblivious shuffle). The same checks in the same
/// order: the parameters, the 0/1 outcome (`binary`), `min_rows` on each set, the fit, the
/// AUC of the test rows' scores (`binary`) or their RMSE and R² (`squared_error`). Also
/// returns the fit (thresholds, test scores).
pub fn boosted_trees_plain(
    frame: &PlainFrame,
    spec: &BoostedTreesSpec,
    test: &[usize],
    disclosure: &Disclosure,
) -> Result<(BoostedTreesResult, PlainFit)> {
    spec.check()?;
    crate::ranges::check_plain(
        crate::analysis::AnalysisSpec::BoostedTrees(spec.clone()),
        frame,
    )?;
    let d = plain::design(frame, &spec.outcome, &spec.covariates, false)?;
    spec.check_size(d.names.len())?;
    if spec.objective == Objective::Binary {
        for &y in &d.y {
            binary_plain(y, &spec.outcome)?;
        }
    }
    let mut held = vec![false; frame.rows];
    for &i in test {
        *held.get_mut(i).ok_or_else(|| {
            StatsError::Invalid(format!("boosted_trees: test row {i} is not in the table"))
        })? = true;
    }
    let (mut xtr, mut ytr, mut xte, mut yte) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((x, &y), &r) in d.x.iter().zip(&d.y).zip(&d.rows) {
        if held[r] {
            xte.push(x.clone());
            yte.push(y);
        } else {
            xtr.push(x.clone());
            ytr.push(y);
        }
    }
    split::check_set(disclosure, xtr.len(), TRAINING)?;
    split::check_set(disclosure, xte.len(), TEST)?;
    let fitted = fit(spec, &d.names, (&xtr, &ytr), &xte)?;
    let test_result = match spec.objective {
        Objective::Binary => {
            let rows: Vec<PlainRow> = fitted
                .test_scores
                .iter()
                .zip(&yte)
                .map(|(&s, &y)| PlainRow {
                    key: s,
                    prob: s,
                    logit: None,
                    case: y == 1.0,
                })
                .collect();
            Validation::Auc(Box::new(auc_plain_rows(
                &rows,
                &spec.auc_spec(),
                disclosure,
            )?))
        }
        Objective::SquaredError => {
            Validation::Error(held_out_error(&yte, &fitted.test_scores, &spec.outcome)?)
        }
    };
    let result = BoostedTreesResult {
        outcome: spec.outcome.clone(),
        objective: spec.objective,
        columns: d.names.clone(),
        trees: spec.trees,
        depth: spec.depth,
        learning_rate: spec.learning_rate,
        lambda: spec.lambda,
        min_child_weight: spec.min_child_weight,
        bins: spec.bins,
        holdout: spec.holdout,
        n_train: xtr.len(),
        n_test: xte.len(),
        test: test_result,
        model: spec.reveal_model.then(|| fitted.model.clone()),
    };
    Ok((result, fitted))
}
