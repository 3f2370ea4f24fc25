//! Caps on the size of a study: how many analyses, Kaplan–Meier grid times, quantiles,
//! levels, model terms, histogram edges, columns and table cells it may ask for.
//!
//! Every field of a study is adversarial input: without caps a study of 17,205 analyses,
//! a grid of 259,999 times or a categorical column of 200,000 levels was accepted (and an
//! 8,000-time grid on 1,700 rows took 127 s and 20 GB at every compute station). The caps
//! are checked twice, on public quantities only (nothing here depends on data):
//!
//! - at validation with [`Limits::DEFAULT`] (`study.toml:LINE:COL: field: …`), values no
//!   real study reaches;
//! - by each station's policy, which may lower any of them (`max_grid_times = 100`, …;
//!   the refusal names the rule, see `tessera_station::policy`).
//!
//! Quantiles are counted per column across the whole study (distinct positions), because
//! every quantile shown is one more order statistic of the same column, whichever analysis
//! shows it.

use std::collections::{BTreeMap, BTreeSet};

use tessera_stats::AnalysisSpec;

use crate::format::{ColumnType, Study};
use crate::locate::Seg;

/// The caps of a study (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Analyses per study (`max_analyses`).
    pub analyses: usize,
    /// Grid times of one Kaplan–Meier analysis (`max_grid_times`).
    pub grid_times: usize,
    /// Distinct quantile positions per column across the study (`max_quantiles`).
    pub quantiles: usize,
    /// Levels of one categorical column (`max_levels`).
    pub levels: usize,
    /// Model terms of one model (cox, ols, logistic), expanded into design columns: a
    /// numeric or binary covariate (or `num(...)`) is one, a categorical one is one per level
    /// but the first, a product the product of its factors' counts (`max_covariates`).
    pub covariates: usize,
    /// Bin edges of one histogram (`max_histogram_edges`).
    pub histogram_edges: usize,
    /// Columns of one `describe` or `correlation` (`max_columns`: each describe column
    /// with quantiles is an oblivious sort, a correlation's cost grows with their square).
    pub columns: usize,
    /// Cells of one table: a `crosstab`'s rows × columns levels, a Kaplan–Meier analysis'
    /// curves × grid times (`max_cells`: each cell is compared with `min_cell`, a grid cell
    /// may take a round of its own).
    pub cells: usize,
}

impl Limits {
    /// The caps every study is validated against.
    pub const DEFAULT: Limits = Limits {
        analyses: 100,
        grid_times: 500,
        quantiles: 25,
        levels: 500,
        covariates: 50,
        histogram_edges: 101,
        columns: 50,
        cells: 5_000,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// One cap a study exceeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excess {
    /// The cap's rule name (`max_grid_times`, …).
    pub rule: &'static str,
    /// Where in the study file (for validation errors).
    pub path: Vec<Seg>,
    /// The field, as validation errors name it (`analysis "km" field times`).
    pub field: String,
    /// What exceeds it (`8000 grid times`).
    pub what: String,
    /// The cap.
    pub limit: usize,
}

fn key(s: &str) -> Seg {
    Seg::Key(s.to_string())
}

/// The `max_columns` excess of an analysis with `n` columns.
fn too_many_columns(path: Vec<Seg>, field: String, n: usize, limits: &Limits) -> Excess {
    Excess {
        rule: "max_columns",
        path,
        field,
        what: format!("{n} columns"),
        limit: limits.columns,
    }
}

/// Every cap of `limits` that `study` exceeds, in file order (at most one per field).
pub fn excesses(study: &Study, limits: &Limits) -> Vec<Excess> {
    let mut out = Vec::new();
    for d in &study.data {
        for c in &d.columns {
            if let ColumnType::Categorical { levels } = &c.kind {
                if levels.len() > limits.levels {
                    out.push(Excess {
                        rule: "max_levels",
                        path: vec![
                            key("data"),
                            key(&d.party),
                            key("columns"),
                            key(&c.name),
                            key("levels"),
                        ],
                        field: format!(
                            "[data.{}.columns] column `{}` field levels",
                            d.party, c.name
                        ),
                        what: format!("{} levels", levels.len()),
                        limit: limits.levels,
                    });
                }
            }
        }
    }
    if study.analyses.len() > limits.analyses {
        out.push(Excess {
            rule: "max_analyses",
            path: vec![key("analysis"), Seg::Index(limits.analyses)],
            field: "[[analysis]]".to_string(),
            what: format!("{} analyses", study.analyses.len()),
            limit: limits.analyses,
        });
    }
    // Distinct quantile positions per column, across the study.
    let mut quantiles: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    let mut over: BTreeSet<&str> = BTreeSet::new();
    for (i, a) in study.analyses.iter().enumerate() {
        let at = |f: &str| vec![key("analysis"), Seg::Index(i), key(f)];
        let field = |f: &str| format!("analysis \"{}\" field {f}", a.name);
        match &a.spec {
            AnalysisSpec::KaplanMeier(_) | AnalysisSpec::Cuminc(_) | AnalysisSpec::Relsurv(_) => {
                // A cumulative incidence has a curve per group and cause.
                let (times, group, per_group) = match &a.spec {
                    AnalysisSpec::KaplanMeier(s) => (&s.times, &s.group, 1),
                    AnalysisSpec::Cuminc(s) => (&s.times, &s.group, s.causes as usize),
                    AnalysisSpec::Relsurv(s) => (&s.times, &s.group, 1),
                    _ => unreachable!(),
                };
                let curves =
                    group.as_deref().and_then(|g| study.levels(g)).unwrap_or(1) * per_group;
                if times.len() > limits.grid_times {
                    out.push(Excess {
                        rule: "max_grid_times",
                        path: at("times"),
                        field: field("times"),
                        what: format!("{} grid times", times.len()),
                        limit: limits.grid_times,
                    });
                } else if curves * times.len() > limits.cells {
                    out.push(Excess {
                        rule: "max_cells",
                        path: at("times"),
                        field: field("times"),
                        what: format!(
                            "{} cells ({curves} curves × {} grid times)",
                            curves * times.len(),
                            times.len()
                        ),
                        limit: limits.cells,
                    });
                }
            }
            AnalysisSpec::Crosstab(s) => {
                let (r, c) = (
                    study.levels(&s.rows).unwrap_or(1),
                    study.levels(&s.columns).unwrap_or(1),
                );
                if r * c > limits.cells {
                    out.push(Excess {
                        rule: "max_cells",
                        path: at("columns"),
                        field: field("columns"),
                        what: format!("{} cells ({r} × {c} levels)", r * c),
                        limit: limits.cells,
                    });
                }
            }
            AnalysisSpec::Correlation(s) if s.columns.len() > limits.columns => {
                out.push(too_many_columns(
                    at("columns"),
                    field("columns"),
                    s.columns.len(),
                    limits,
                ));
            }
            AnalysisSpec::Cox(_)
            | AnalysisSpec::Ols(_)
            | AnalysisSpec::Logistic(_)
            | AnalysisSpec::Elasticnet(_)
            | AnalysisSpec::BoostedTrees(_) => {
                let covariates = a.spec.covariates().unwrap_or_default();
                let terms =
                    tessera_stats::terms::count(covariates, &|c| study.levels(c).unwrap_or(0));
                if terms > limits.covariates {
                    out.push(Excess {
                        rule: "max_covariates",
                        path: at("covariates"),
                        field: field("covariates"),
                        what: format!(
                            "{terms} model terms (a categorical covariate counts one per level \
                             but the first, a product one per combination of its factors' \
                             terms)"
                        ),
                        limit: limits.covariates,
                    });
                }
            }
            AnalysisSpec::Describe(s) => {
                if s.columns.len() > limits.columns {
                    out.push(too_many_columns(
                        at("columns"),
                        field("columns"),
                        s.columns.len(),
                        limits,
                    ));
                }
                if let Some(edges) = &s.histogram {
                    if edges.len() > limits.histogram_edges {
                        out.push(Excess {
                            rule: "max_histogram_edges",
                            path: at("histogram"),
                            field: field("histogram"),
                            what: format!("{} histogram edges", edges.len()),
                            limit: limits.histogram_edges,
                        });
                    }
                }
                for c in &s.columns {
                    let set = quantiles.entry(c.as_str()).or_default();
                    set.extend(s.quantiles.iter().map(|q| (q + 0.0).to_bits()));
                    if set.len() > limits.quantiles && over.insert(c.as_str()) {
                        out.push(Excess {
                            rule: "max_quantiles",
                            path: at("quantiles"),
                            field: field("quantiles"),
                            what: format!(
                                "{} distinct quantiles of column `{c}` across the study",
                                set.len()
                            ),
                            limit: limits.quantiles,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    out
}
