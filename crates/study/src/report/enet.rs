//! The elastic net: the coefficients at the two chosen penalties and the cross-validation
//! curve, as tables.

use std::fmt::Write;

use serde_json::Value;

use super::tables::Table;
use super::text::{escape, est, plain};

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect()
}

/// An elastic net (`kind = "elasticnet"`): the choice of λ, the coefficients at
/// `lambda.min` and `lambda.1se` (zero: not selected), and the cross-validation curve with
/// both choices marked.
pub fn elasticnet(h: &mut String, r: &Value) {
    let folds = r["fold_rows"].as_array().map_or(0, Vec::len);
    // What the cross-validation measures (`ElasticNetResult::measure_label` in
    // tessera-stats): the family's deviance, or Harrell's C-index (`type_measure = "C"`).
    let (model, deviance) = match r["family"].as_str() {
        Some("binomial") => ("logistic", "binomial deviance"),
        Some("cox") => ("Cox", "partial-likelihood deviance"),
        _ => ("linear", "mean squared error"),
    };
    let measure = match r["type_measure"].as_str() {
        Some("C") => "Harrell's C-index, the largest chosen",
        _ => deviance,
    };
    let _ = writeln!(
        h,
        "<p>{model} model; outcome {}; {} observations; α = {}; {} λ values; {}-fold \
         cross-validation ({measure}). lambda.min = {}, lambda.1se = {}.</p>",
        escape(r["outcome"].as_str().unwrap_or("")),
        plain(&r["nobs"]),
        plain(&r["alpha"]),
        r["lambda"].as_array().map_or(0, Vec::len),
        folds,
        r["lambda_min"].as_f64().map_or_else(|| "—".into(), est),
        r["lambda_1se"].as_f64().map_or_else(|| "—".into(), est),
    );
    let names: Vec<String> = r["names"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| n.as_str().unwrap_or("").to_string())
        .collect();
    let (cmin, c1se) = (floats(&r["coef_min"]), floats(&r["coef_1se"]));
    let mut t = Table::new(&["variable", "coef (lambda.min)", "coef (lambda.1se)"]);
    for (j, name) in names.iter().enumerate() {
        let cell = |v: Option<&f64>| v.map_or_else(|| "—".into(), |&x| est(x));
        t.row(vec![escape(name), cell(cmin.get(j)), cell(c1se.get(j))]);
    }
    h.push_str(&t.html());
    let (lambda, cvm, cvsd) = (floats(&r["lambda"]), floats(&r["cvm"]), floats(&r["cvsd"]));
    let nonzero = r["nonzero"].as_array().cloned().unwrap_or_default();
    let (imin, i1se) = (r["index_min"].as_u64(), r["index_1se"].as_u64());
    let mut c = Table::new(&["#", "λ", "non-zero", "CV deviance", "its std err", ""]);
    for (l, lam) in lambda.iter().enumerate() {
        let mark = match (Some(l as u64) == imin, Some(l as u64) == i1se) {
            (true, true) => "lambda.min, lambda.1se",
            (true, false) => "lambda.min",
            (false, true) => "lambda.1se",
            _ => "",
        };
        c.row(vec![
            (l + 1).to_string(),
            est(*lam),
            nonzero.get(l).map_or_else(|| "—".into(), plain),
            cvm.get(l).map_or_else(|| "—".into(), |&x| est(x)),
            cvsd.get(l).map_or_else(|| "—".into(), |&x| est(x)),
            mark.to_string(),
        ]);
    }
    h.push_str(&c.html());
}
