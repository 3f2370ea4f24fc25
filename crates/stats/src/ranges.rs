//! The ranges of an analysis' parameters that the fixed point can hold, checked before
//! anything is computed: at validation (with the field's position in `study.toml`) and
//! again at every compute party ([`crate::analysis::run`]). A parameter outside its range
//! would otherwise saturate when encoded (`1e300` becomes the largest ring element) or
//! wrap in a comparison, and the analysis would end with a wrong number.
//!
//! With `f` fractional bits (the study's `frac_bits`):
//! - values compared with a column (Kaplan–Meier `times`, histogram edges) are compared as
//!   64-bit fixed-point numbers by the sign of their difference, so both sides must lie
//!   below `2^(62-f)` in magnitude ([`compare_limit`]; 2^38 ≈ 2.7·10^11 at `f` = 24);
//! - penalties (`ridge`, `l2`) enter the matrix that is solved or inverted, whose entries
//!   are multiplied pairwise: an entry must stay below the square root of the product limit
//!   `2^(87-2f)` ([`penalty_limit`]: 2^19 ≈ 5.2·10^5 at `f` = 24), and a penalty must keep
//!   8 significant bits when encoded (at least `2^(8-f)`);
//! - `conf_level` lies strictly between 0 and 1 and quantiles in [0, 1] (plain numbers of
//!   the recipient's tail, but a wrong one would be a wrong interval);
//! - `max_steps` is between 1 and [`MAX_STEPS`].

use std::fmt;

use crate::analysis::AnalysisSpec;
use crate::table::{PlainData, PlainFrame};
use crate::terms;

/// The largest Newton step limit a study may ask for (each step is a full pass over the
/// data inside MPC).
pub const MAX_STEPS: usize = 500;

/// Magnitude below which a value compared with a column (grid times, histogram edges) must
/// lie with `f` fractional bits: `2^(62-f)`.
pub fn compare_limit(f: u32) -> f64 {
    (62.0 - f as f64).exp2()
}

/// The largest penalty (`ridge`, `l2`) with `f` fractional bits: `2^floor((87-2f)/2)`.
pub fn penalty_limit(f: u32) -> f64 {
    (((87 - 2 * f as i64) / 2) as f64).exp2()
}

/// The smallest positive penalty with `f` fractional bits: `2^(8-f)` (8 significant bits).
pub fn penalty_min(f: u32) -> f64 {
    (8.0 - f as f64).exp2()
}

/// A parameter outside its range: the field as written in `study.toml`, the index within
/// it for lists, and what is wrong (with the range).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamError {
    /// The field's name in the analysis table.
    pub field: &'static str,
    /// The element's index for list fields.
    pub index: Option<usize>,
    /// What is wrong, with the valid range.
    pub message: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn err(field: &'static str, index: Option<usize>, message: String) -> ParamError {
    ParamError {
        field,
        index,
        message,
    }
}

fn conf(c: f64) -> Result<(), ParamError> {
    if c > 0.0 && c < 1.0 {
        Ok(())
    } else {
        Err(err(
            "conf_level",
            None,
            format!("must lie strictly between 0 and 1 (e.g. 0.95), not {c}"),
        ))
    }
}

fn steps(s: usize) -> Result<(), ParamError> {
    if (1..=MAX_STEPS).contains(&s) {
        Ok(())
    } else {
        Err(err(
            "max_steps",
            None,
            format!("must be between 1 and {MAX_STEPS}, not {s}"),
        ))
    }
}

fn penalty(field: &'static str, v: f64, f: u32) -> Result<(), ParamError> {
    let (lo, hi) = (penalty_min(f), penalty_limit(f));
    if v == 0.0 || (v >= lo && v <= hi) {
        Ok(())
    } else {
        Err(err(
            field,
            None,
            format!(
                "must be 0 or between {lo:e} and {hi:e}, the range the fixed point \
                 ({f} fractional bits) can hold; not {v:e}"
            ),
        ))
    }
}

/// Each element finite, within `[lo, limit)` (in magnitude below `limit`), strictly
/// increasing.
fn grid(field: &'static str, v: &[f64], nonneg: bool, f: u32) -> Result<(), ParamError> {
    let lim = compare_limit(f);
    for (i, &t) in v.iter().enumerate() {
        let range = if nonneg {
            format!("[0, {lim:e})")
        } else {
            format!("(-{lim:e}, {lim:e})")
        };
        if !t.is_finite() || t.abs() >= lim || (nonneg && t < 0.0) {
            return Err(err(
                field,
                Some(i),
                format!(
                    "{t:e} is outside {range}, the range of values the fixed point \
                     ({f} fractional bits) can compare; rescale the column (e.g. days \
                     instead of seconds)"
                ),
            ));
        }
        if i > 0 && v[i - 1] >= t {
            return Err(err(
                field,
                Some(i),
                "must be strictly increasing".to_string(),
            ));
        }
    }
    Ok(())
}

/// Checks the parameters of `spec` against what the analysis and the fixed point with `f`
/// fractional bits can hold.
pub fn check_params(spec: &AnalysisSpec, f: u32) -> Result<(), ParamError> {
    match spec {
        AnalysisSpec::KaplanMeier(s) => {
            grid("times", &s.times, true, f)?;
            conf(s.conf_level)
        }
        AnalysisSpec::Cuminc(s) => grid("times", &s.times, true, f),
        AnalysisSpec::Relsurv(s) => {
            grid("times", &s.times, true, f)?;
            conf(s.conf_level)
        }
        AnalysisSpec::Rmst(s) => {
            // Areas up to τ are squared for the variance.
            let lim = crate::survival::rmst::tau_limit(f).min(compare_limit(f));
            if !(s.tau.is_finite() && s.tau > 0.0 && s.tau < lim) {
                return Err(err(
                    "tau",
                    None,
                    format!("must lie in (0, {lim:e}) (got {})", s.tau),
                ));
            }
            conf(s.conf_level)
        }
        AnalysisSpec::Logrank(_) | AnalysisSpec::Crosstab(_) | AnalysisSpec::Correlation(_) => {
            Ok(())
        }
        AnalysisSpec::Finegray(s) => conf(s.conf_level),
        AnalysisSpec::Auc(s) => {
            if s.calibration && !(2..=100).contains(&s.groups) {
                return Err(err(
                    "groups",
                    None,
                    format!("must be between 2 and 100, not {}", s.groups),
                ));
            }
            conf(s.conf_level)
        }
        AnalysisSpec::Cox(s) => {
            steps(s.max_steps)?;
            conf(s.conf_level)
        }
        AnalysisSpec::Ols(s) => {
            penalty("ridge", s.ridge, f)?;
            conf(s.conf_level)
        }
        AnalysisSpec::Elasticnet(s) => crate::regression::enet::path::check_params(s),
        AnalysisSpec::BoostedTrees(s) => s.check_fields().map_err(|(at, m)| err(at, None, m)),
        AnalysisSpec::Logistic(s) => {
            penalty("l2", s.l2, f)?;
            steps(s.max_steps)?;
            crate::regression::holdout::check_params(s).map_err(|(at, m)| err(at, None, m))?;
            conf(s.conf_level)
        }
        AnalysisSpec::Describe(s) => {
            for (i, &q) in s.quantiles.iter().enumerate() {
                if !(q.is_finite() && (0.0..=1.0).contains(&q)) {
                    return Err(err("quantiles", Some(i), format!("{q} is not in [0, 1]")));
                }
            }
            if let Some(e) = &s.histogram {
                if e.len() < 2 {
                    return Err(err("histogram", None, "at least two edges".to_string()));
                }
                grid("histogram", e, false, f)?;
            }
            Ok(())
        }
    }
}

/// The magnitude a value of a column that is multiplied by itself (a describe or correlation
/// column, a Cox covariate) must stay below with `f` fractional bits: its square must stay
/// below the product limit `2^(87-2f)` (truncation failure below 2^-40), so `2^((87-2f)/2)`
/// (about 7.4·10^5 at `f` = 24).
pub fn square_limit(f: u32) -> f64 {
    ((87.0 - 2.0 * f as f64) / 2.0).exp2()
}

/// The magnitude a value of a regression column (OLS or logistic outcome, numeric
/// covariate) must stay below with `f` fractional bits: the centred cross products are
/// exact at `2f` bits and divided exactly by the row count after a product with a 32-bit
/// constant (`regression::design::div_count_exact`): with `|x| < L` the centred values lie
/// below `2L`, and twice their square times `2^(2f+32)` must stay below 2^126, so
/// `L = 2^((91-2f)/2)` (about 3.0·10^6 at `f` = 24). Larger spreads are refused inside MPC
/// anyway (variances above 10^12).
pub fn regression_limit(f: u32) -> f64 {
    ((91.0 - 2.0 * f as f64) / 2.0).exp2()
}

/// `need` for a factor of products of up to `k` factors: each below `limit^(1/k)`, so that
/// every product stays below `limit` (nobody sees a product to check it).
fn in_products(need: ColumnNeed, k: usize) -> ColumnNeed {
    if k <= 1 {
        return need;
    }
    ColumnNeed {
        limit: need.limit.powf(1.0 / k as f64),
        why: "the column is a factor of a product term, and the product must stay within \
              the fixed point's range",
        ..need
    }
}

/// What one analysis needs of one of its numeric columns: values strictly below `limit` in
/// magnitude, because of `why`, and what to do otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnNeed {
    /// The column, `party.column`.
    pub column: String,
    /// Values must lie in `(-limit, limit)`.
    pub limit: f64,
    /// Why (the computation that needs it).
    pub why: &'static str,
    /// How to rescale.
    pub hint: &'static str,
}

/// The ranges `spec` needs of its numeric columns with `f` fractional bits (independent of
/// the data: each value on its own). Time columns are compared as 64-bit fixed-point
/// numbers ([`compare_limit`]); columns whose squares or cross-products are computed
/// (describe, correlation, Cox covariates) need [`square_limit`]; regression columns
/// [`regression_limit`] (their variances are checked inside MPC too, `regression::design`).
pub fn column_needs(spec: &AnalysisSpec, f: u32) -> Vec<ColumnNeed> {
    fn time(c: &str, f: u32) -> ColumnNeed {
        ColumnNeed {
            column: c.to_string(),
            limit: compare_limit(f),
            why: "times are compared as fixed-point numbers",
            hint: "rescale the times (e.g. days instead of seconds)",
        }
    }
    fn square(c: &str, f: u32) -> ColumnNeed {
        ColumnNeed {
            column: c.to_string(),
            limit: square_limit(f),
            why: "the squares of the values must stay within the fixed point's product range",
            hint: "rescale the column (e.g. thousands instead of units)",
        }
    }
    fn regression(c: &str, f: u32) -> ColumnNeed {
        ColumnNeed {
            column: c.to_string(),
            limit: regression_limit(f),
            why: "the centred cross products of the regression must stay within the fixed \
                  point's range",
            hint: "rescale the column (e.g. thousands instead of units)",
        }
    }
    match spec {
        AnalysisSpec::KaplanMeier(s) => std::iter::once(&s.time)
            .chain(&s.entry)
            .map(|c| time(c, f))
            .collect(),
        AnalysisSpec::Logrank(s) => vec![time(&s.time, f)],
        AnalysisSpec::Cuminc(s) => vec![time(&s.time, f)],
        AnalysisSpec::Rmst(s) => vec![time(&s.time, f)],
        AnalysisSpec::Relsurv(s) => vec![time(&s.time, f)],
        AnalysisSpec::Cox(s) => std::iter::once(&s.time)
            .chain(&s.entry)
            .chain(&s.cluster)
            .map(|c| time(c, f))
            .chain(
                terms::factor_depths(&s.covariates)
                    .into_iter()
                    .map(|(c, k)| in_products(square(c, f), k)),
            )
            .collect(),
        AnalysisSpec::Finegray(s) => std::iter::once(time(&s.time, f))
            .chain(
                terms::factor_depths(&s.covariates)
                    .into_iter()
                    .map(|(c, k)| in_products(square(c, f), k)),
            )
            .collect(),
        AnalysisSpec::Describe(s) => terms::columns(&s.columns)
            .into_iter()
            .map(|c| square(c, f))
            .collect(),
        AnalysisSpec::Correlation(s) => s.columns.iter().map(|c| square(c, f)).collect(),
        AnalysisSpec::Ols(s) => std::iter::once(regression(&s.outcome, f))
            .chain(
                terms::factor_depths(&s.covariates)
                    .into_iter()
                    .map(|(c, k)| in_products(regression(c, f), k)),
            )
            .collect(),
        AnalysisSpec::Elasticnet(s) => (!s.outcome.is_empty())
            .then(|| regression(&s.outcome, f))
            .into_iter()
            // Cox's time is the design's outcome (its centred cross products are computed),
            // which bounds it more tightly than its sort.
            .chain(s.time.iter().map(|c| regression(c, f)))
            .chain(
                terms::factor_depths(&s.covariates)
                    .into_iter()
                    .map(|(c, k)| in_products(regression(c, f), k)),
            )
            .collect(),
        AnalysisSpec::Logistic(s) => std::iter::once(regression(&s.outcome, f))
            .chain(
                terms::factor_depths(&s.covariates)
                    .into_iter()
                    .map(|(c, k)| in_products(regression(c, f), k)),
            )
            .collect(),
        // The outcome is checked 0/1 inside MPC; the covariates are compared in Z_2^64
        // (|x| < 2^37) and go through the design's products like a regression's.
        // `squared_error`'s outcome within ±MAX_OUTCOME: its residuals' sums of squares
        // bound every gain (predict::gbdt::mpc, "Valid range").
        AnalysisSpec::BoostedTrees(s) => (s.objective
            == crate::predict::gbdt::Objective::SquaredError)
            .then(|| ColumnNeed {
                column: s.outcome.clone(),
                limit: crate::predict::gbdt::MAX_OUTCOME,
                why: "boosted trees with objective = \"squared_error\" sum squared residuals \
                      in every split's gain, which must stay within the fixed point's range",
                hint: "rescale the outcome (e.g. hundreds instead of units) or centre it",
            })
            .into_iter()
            .chain(
                terms::factor_depths(&s.covariates)
                    .into_iter()
                    .map(|(c, k)| in_products(regression(c, f), k)),
            )
            .collect(),
        AnalysisSpec::Crosstab(_) => Vec::new(),
        AnalysisSpec::Auc(s) => vec![ColumnNeed {
            column: s.score.clone(),
            limit: compare_limit(f),
            why: "scores are compared as fixed-point numbers",
            hint: "rescale the score (e.g. a probability or a linear predictor)",
        }],
    }
}

/// A data owner's check of its own values before anything is shared: every numeric column
/// of `frame` that an analysis (`name`, `spec`) reads must lie within the range the
/// analysis needs ([`column_needs`]). The message names the column, the analysis, the
/// range and a hint, never a value (categorical columns and missing values are skipped).
pub fn check_values<'a>(
    analyses: impl IntoIterator<Item = (&'a str, &'a AnalysisSpec)>,
    frame: &PlainFrame,
    f: u32,
) -> std::result::Result<(), String> {
    for (name, spec) in analyses {
        for need in column_needs(spec, f) {
            let Some(col) = frame.columns.iter().find(|c| c.name == need.column) else {
                continue;
            };
            let PlainData::Numeric(v) = &col.data else {
                continue;
            };
            let bad = v
                .iter()
                .flatten()
                .any(|x| !x.is_finite() || x.abs() >= need.limit);
            if bad {
                return Err(format!(
                    "column \"{}\": analysis \"{name}\" ({}) needs its values within \
                     (-{:e}, {:e}) ({}, with {f} fractional bits), and some are not; {}",
                    need.column,
                    spec.kind(),
                    need.limit,
                    need.limit,
                    need.why,
                    need.hint
                ));
            }
        }
    }
    Ok(())
}

/// [`check_values`] for a plaintext twin: one analysis on the whole frame, with the
/// default 24 fractional bits of the MPC version; an [`crate::StatsError::Invalid`].
pub(crate) fn check_plain(spec: AnalysisSpec, frame: &PlainFrame) -> crate::Result<()> {
    check_values([(spec.kind(), &spec)], frame, 24).map_err(crate::StatsError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_at_24_bits() {
        assert_eq!(compare_limit(24), 2f64.powi(38));
        assert_eq!(penalty_limit(24), 2f64.powi(19));
        assert_eq!(penalty_limit(16), 2f64.powi(27));
        assert_eq!(penalty_limit(32), 2f64.powi(11));
        assert_eq!(penalty_min(24), 2f64.powi(-16));
    }
}

#[cfg(test)]
mod product_tests {
    use super::*;
    use crate::analysis::{CoxSpec, OlsSpec, Ties};

    /// A researcher who multiplies two columns each within the plain limit would make a
    /// product far beyond it, which nobody sees to check: the owners check each factor
    /// against the square root of the limit (the cube root in a three-factor term).
    #[test]
    fn factors_of_products_are_held_to_the_root_of_the_limit() {
        let f = 24;
        let cox = AnalysisSpec::Cox(CoxSpec {
            entry: None,
            time: "a.t".into(),
            event: "a.e".into(),
            covariates: vec!["a.x*b.y".into(), "a.z".into(), "a.x:b.y:b.w".into()],
            ties: Ties::Efron,
            max_steps: 50,
            conf_level: 0.95,
            strata: None,
            robust: false,
            zph: None,
            cluster: None,
            concordance: false,
        });
        let needs = column_needs(&cox, f);
        let limit = |c: &str| needs.iter().find(|n| n.column == c).unwrap().limit;
        assert_eq!(limit("a.z"), square_limit(f));
        let cube = square_limit(f).powf(1.0 / 3.0);
        for c in ["a.x", "b.y", "b.w"] {
            assert!((limit(c) - cube).abs() < 1e-9 * cube, "{c}: {}", limit(c));
        }
        let ols = AnalysisSpec::Ols(OlsSpec {
            outcome: "a.o".into(),
            covariates: vec!["a.x:b.y".into()],
            intercept: true,
            ridge: 0.0,
            conf_level: 0.95,
        });
        let needs = column_needs(&ols, f);
        let root = regression_limit(f).sqrt();
        assert!(needs
            .iter()
            .any(|n| n.column == "a.o" && n.limit == regression_limit(f)));
        assert!(needs
            .iter()
            .filter(|n| n.column != "a.o")
            .all(|n| (n.limit - root).abs() < 1e-9 * root));
    }
}
