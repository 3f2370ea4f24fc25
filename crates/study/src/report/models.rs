//! Regression models: linear (coefficients with intervals) and logistic (odds ratios with
//! intervals, as a table and a forest plot; with `holdout`, its validation on the held-out
//! rows in `auc`'s tables).

use std::fmt::Write;

use serde_json::Value;

use super::forest::{self, Ratio};
use super::tables::Table;
use super::text::{escape, est, est_of, plain, pval_of};

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn interval(lo: Option<f64>, hi: Option<f64>) -> String {
    match (lo, hi) {
        (Some(a), Some(b)) => format!("{}–{}", est(a), est(b)),
        _ => "—".into(),
    }
}

fn is_intercept(c: &Value) -> bool {
    c["name"]
        .as_str()
        .is_some_and(|n| n.eq_ignore_ascii_case("intercept"))
}

/// A linear regression: the coefficients with their intervals.
pub fn ols(h: &mut String, r: &Value) {
    let conf = f(&r["conf_level"]).unwrap_or(0.95);
    let mut fit = format!("R² {}", est_of(&r["r_squared"]));
    if let Some(a) = f(&r["adj_r_squared"]) {
        let _ = write!(fit, ", adjusted R² {}", est(a));
    }
    let _ = writeln!(
        h,
        "<p>outcome {}; {} observations; {}.</p>",
        escape(r["outcome"].as_str().unwrap_or("")),
        plain(&r["nobs"]),
        fit
    );
    let ci = format!("{:.0}% CI", conf * 100.0);
    let mut t = Table::new(&["variable", "coef", &ci, "std err", "t", "p"]);
    for c in r["coefficients"].as_array().into_iter().flatten() {
        t.row(vec![
            plain(&c["name"]),
            est_of(&c["coef"]),
            interval(f(&c["ci_low"]), f(&c["ci_high"])),
            est_of(&c["std_err"]),
            est_of(&c["stat"]),
            pval_of(&c["p_value"]),
        ]);
    }
    h.push_str(&t.html());
}

/// A logistic regression: odds ratios exp(coef) with exp of the interval (table and forest
/// plot; the intercept's is the baseline odds, left out of the plot).
pub fn logistic(h: &mut String, r: &Value) {
    let conf = f(&r["conf_level"]).unwrap_or(0.95);
    let _ = writeln!(
        h,
        "<p>outcome {}; {} observations; log-likelihood {}, {} iterations.</p>",
        escape(r["outcome"].as_str().unwrap_or("")),
        plain(&r["nobs"]),
        f(&r["log_likelihood"]).map_or_else(|| "—".into(), |l| format!("{l:.2}")),
        plain(&r["iterations"])
    );
    let coefs: Vec<&Value> = r["coefficients"].as_array().into_iter().flatten().collect();
    let ratios: Vec<Ratio> = coefs
        .iter()
        .filter(|c| !is_intercept(c))
        .filter_map(|c| {
            Some(Ratio {
                label: c["name"].as_str().unwrap_or("").to_string(),
                estimate: f(&c["coef"])?.exp(),
                lower: f(&c["ci_low"]).map(f64::exp),
                upper: f(&c["ci_high"]).map(f64::exp),
            })
        })
        .collect();
    if !ratios.is_empty() {
        let _ = writeln!(
            h,
            "<figure>\n{}<figcaption>Odds ratios with {:.0}% confidence intervals (log scale); \
             the dashed line is no effect (1).</figcaption>\n</figure>",
            forest::svg(&ratios, "odds ratio", conf),
            conf * 100.0
        );
    }
    let ci = format!("{:.0}% CI", conf * 100.0);
    let mut t = Table::new(&["variable", "odds ratio", &ci, "p", "coef", "std err", "z"]);
    for c in coefs {
        let (or, or_ci) = match f(&c["coef"]) {
            Some(b) if !is_intercept(c) => (
                est(b.exp()),
                interval(
                    f(&c["ci_low"]).map(f64::exp),
                    f(&c["ci_high"]).map(f64::exp),
                ),
            ),
            _ => ("—".into(), "—".into()),
        };
        t.row(vec![
            plain(&c["name"]),
            or,
            or_ci,
            pval_of(&c["p_value"]),
            est_of(&c["coef"]),
            est_of(&c["std_err"]),
            est_of(&c["stat"]),
        ]);
    }
    h.push_str(&t.html());
    let v = &r["validation"];
    if v.is_object() {
        let _ = writeln!(
            h,
            "<p>Validation on held-out rows: the rows were split at random inside MPC (no \
             station learnt which of its rows went where), {} of them held out. The model \
             above was fitted on the {} complete training rows; its predicted probabilities \
             on the {} complete held-out rows separate {} = 1 from 0 as follows (the area \
             under the ROC curve, DeLong's standard error and interval). For this one split \
             an honest estimate of the model's performance on new rows; another split gives \
             another estimate.</p>",
            plain(&v["holdout"]),
            plain(&v["n_train"]),
            plain(&v["n_test"]),
            escape(r["outcome"].as_str().unwrap_or("")),
        );
        auc_figures(h, &v["test"]);
    }
}

/// The area under the ROC curve of a score (`auc`): a table with the AUC, DeLong's
/// standard error and interval, and the numbers of cases and controls.
pub fn auc(h: &mut String, r: &Value) {
    let _ = writeln!(
        h,
        "<p>How well the score {} separates {} = 1 (cases) from 0 (controls): the area \
         under the ROC curve, the probability that a random case scores higher than a \
         random control (ties count half); a higher score predicts a case. DeLong's \
         standard error and interval, as R's pROC.</p>",
        escape(r["score"].as_str().unwrap_or("")),
        escape(r["outcome"].as_str().unwrap_or("")),
    );
    auc_figures(h, r);
}

/// Gradient-boosted trees (`boosted_trees`): the parameters, the held-out validation's table
/// (the AUC for `binary`, RMSE and R² for `squared_error`), and with `reveal_model` every
/// tree's splits and leaves.
pub fn boosted_trees(h: &mut String, r: &Value) {
    let regression = r["objective"] == "squared_error";
    let cols: Vec<&str> = r["columns"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let _ = writeln!(
        h,
        "<p>Gradient-boosted decision trees for {} on {}{}: {} trees of depth {}, learning \
         rate {}, L2 penalty {} on the leaves, min_child_weight {}, {} bins per covariate. \
         Trained on {} complete rows; its {} on {} held-out rows ({} of the rows, chosen \
         inside the computation) against the outcome:</p>",
        escape(r["outcome"].as_str().unwrap_or("")),
        escape(&cols.join(", ")),
        if regression { " (squared error)" } else { "" },
        plain(&r["trees"]),
        plain(&r["depth"]),
        plain(&r["learning_rate"]),
        plain(&r["lambda"]),
        plain(&r["min_child_weight"]),
        plain(&r["bins"]),
        plain(&r["n_train"]),
        if regression { "predictions" } else { "scores" },
        plain(&r["n_test"]),
        plain(&r["holdout"]),
    );
    if regression {
        let t = &r["test"];
        let mut tab = Table::new(&["rows", "RMSE", "R²"]);
        tab.row(vec![plain(&t["n"]), est_of(&t["rmse"]), est_of(&t["r2"])]);
        h.push_str(&tab.html());
        let _ = writeln!(
            h,
            "<p>RMSE: the root mean squared error of the predictions; R²: one minus the mean \
             squared error over the held-out outcome's variance about its own mean \
             (scikit-learn's <code>r2_score</code>).</p>"
        );
    } else {
        auc_figures(h, &r["test"]);
    }
    let m = &r["model"];
    if let Some(trees) = m["trees"].as_array() {
        let _ = writeln!(
            h,
            "<p>The model: base score {} ({}); per tree its splits in level order \
             (node <i>i</i>'s children are 2<i>i</i>+1 and 2<i>i</i>+2; rows with the \
             covariate at least the threshold go right, a node that does not split sends \
             its rows left) and its leaf values, left to right.</p>",
            est_of(&m["base_score"]),
            if regression {
                "the training mean"
            } else {
                "log-odds"
            }
        );
        let mut t = Table::new(&["tree", "splits", "leaves"]);
        for (i, tree) in trees.iter().enumerate() {
            let splits: Vec<String> = tree["nodes"]
                .as_array()
                .map(|n| {
                    n.iter()
                        .map(|n| {
                            if n["split"] == true {
                                format!(
                                    "{} ≥ {}",
                                    escape(n["covariate"].as_str().unwrap_or("")),
                                    est_of(&n["threshold"])
                                )
                            } else {
                                "—".into()
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            let leaves: Vec<String> = tree["leaves"]
                .as_array()
                .map(|l| l.iter().map(est_of).collect())
                .unwrap_or_default();
            t.row(vec![
                format!("{}", i + 1),
                splits.join("; "),
                leaves.join(", "),
            ]);
        }
        h.push_str(&t.html());
    }
}

/// An AUC's figures (an `auc` result, or a logistic model's held-out validation): the
/// table of the AUC with its interval, and with calibration the recalibration, the Brier
/// score and the calibration table (suppressed groups noted).
fn auc_figures(h: &mut String, r: &Value) {
    let conf = f(&r["conf_level"]).unwrap_or(0.95);
    let mut t = Table::new(&["rows", "cases", "controls", "AUC", "std err", "CI"]);
    t.set_header(5, &format!("{:.0}% CI", conf * 100.0));
    t.row(vec![
        plain(&r["n"]),
        plain(&r["cases"]),
        plain(&r["controls"]),
        est_of(&r["auc"]),
        est_of(&r["se"]),
        interval(f(&r["lower"]), f(&r["upper"])),
    ]);
    h.push_str(&t.html());
    let c = &r["calibration"];
    if c.is_object() {
        let _ = writeln!(
            h,
            "<p>Calibration of the score as a predicted probability: the logistic \
             recalibration <code>outcome ~ logit(score)</code> (intercept 0 and slope 1 when \
             the predictions are calibrated; a slope below 1: predictions too extreme), as \
             rms::val.prob; Brier score {}.</p>",
            est_of(&c["brier"])
        );
        let mut t = Table::new(&["", "estimate", "std err", "CI"]);
        t.set_header(3, &format!("{:.0}% CI", conf * 100.0));
        for (label, row) in [("intercept", &c["intercept"]), ("slope", &c["slope"])] {
            t.row(vec![
                label.to_string(),
                est_of(&row["coef"]),
                est_of(&row["std_err"]),
                interval(f(&row["ci_low"]), f(&row["ci_high"])),
            ]);
        }
        h.push_str(&t.html());
        let groups = c["table"].as_array().filter(|g| !g.is_empty());
        if let Some(groups) = groups {
            let mut t = Table::new(&["group", "rows", "mean predicted", "events", "observed"]);
            for (i, g) in groups.iter().enumerate() {
                let label = format!("{}", i + 1);
                if g["shown"] == false {
                    t.row_note(
                        &label,
                        "suppressed (fewer than min_cell events or non-events)",
                    );
                    continue;
                }
                t.row(vec![
                    label,
                    plain(&g["n"]),
                    est_of(&g["predicted"]),
                    plain(&g["events"]),
                    est_of(&g["observed"]),
                ]);
            }
            h.push_str(&t.html());
        }
    }
}
