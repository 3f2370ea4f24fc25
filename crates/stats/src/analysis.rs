//! What a study asks for ([`AnalysisSpec`], as written in `study.toml`), what a compute
//! party ends an analysis with ([`SharedOutput`]: public facts and its output shares) and
//! what a recipient reads ([`Output`]): the two entry points [`run`] (every compute party)
//! and [`open`] (the recipient, once the shares are reconstructed).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tessera_mpc::{OutputShares, Party};

use crate::disclosure::Disclosure;
use crate::error::{Result, StatsError};
use crate::sealed::{Sealed, Tail};
use crate::table::Frame;
use crate::{describe, regression, survival};

fn conf_level() -> f64 {
    0.95
}
fn yes() -> bool {
    true
}
fn max_steps() -> usize {
    50
}
fn default_quantiles() -> Vec<f64> {
    vec![0.25, 0.5, 0.75]
}

/// Kaplan–Meier estimate of the survival function, per group or overall.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KaplanMeierSpec {
    /// Duration column (`party.column`, numeric, ≥ 0); with `entry`, the stop time.
    pub time: String,
    /// Entry (left-truncation) time column (numeric, `0 ≤ entry < time`): a row is at risk at
    /// `t` only if `entry < t ≤ time` (R's `Surv(entry, time, event)`, counting-process
    /// data: prevalent cohorts, age as time scale). None: everybody is at risk from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// Event indicator column (numeric, 1 = event, 0 = censored).
    pub event: String,
    /// Categorical column whose levels are the groups; none: one curve.
    #[serde(default)]
    pub group: Option<String>,
    /// Times at which the curve is shown (strictly increasing).
    #[serde(default)]
    pub times: Vec<f64>,
    /// Also show the curve at every event time (only where the policy allows it).
    #[serde(default)]
    pub at_event_times: bool,
    /// With `at_event_times`: also show the times at which patients were censored, with
    /// how many (the marks on a Kaplan–Meier plot, R's `summary(survfit, censored = TRUE)`);
    /// censoring times are times of single patients, so only where the policy allows event
    /// times.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub censor_marks: bool,
    /// Also show each curve's median survival time and its confidence interval (R
    /// `survfit`'s, log-log); event times, so only where the policy allows them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub median: bool,
    /// Confidence level of the intervals.
    #[serde(default = "conf_level")]
    pub conf_level: f64,
}

/// Log-rank test of equal survival across the levels of a group column (two or more).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogrankSpec {
    /// Duration column.
    pub time: String,
    /// Event indicator column.
    pub event: String,
    /// Categorical group column.
    pub group: String,
    /// Also open the observed and expected events per group.
    #[serde(default)]
    pub observed_expected: bool,
    /// Categorical column whose levels are the strata (R's `strata(s)`): observed minus
    /// expected events and their covariance are computed within each stratum and summed.
    /// None: one stratum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strata: Option<String>,
}

/// How a Cox model handles tied event times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ties {
    /// Efron's approximation (lifelines' and R's default).
    #[default]
    Efron,
    /// Breslow's approximation.
    Breslow,
}

/// The time transform of the proportional-hazards test (R's `cox.zph(transform = )`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ZphTransform {
    /// One minus the left-continuous Kaplan–Meier curve of all complete cases (R's default).
    Km,
    /// The rank of the time among all complete cases, ties averaged.
    Rank,
    /// The time itself.
    Identity,
    /// The logarithm of the time (every event time must be positive).
    Log,
}

impl ZphTransform {
    /// The name in the study file and in R (`cox.zph(transform = )`).
    pub fn name(self) -> &'static str {
        match self {
            ZphTransform::Km => "km",
            ZphTransform::Rank => "rank",
            ZphTransform::Identity => "identity",
            ZphTransform::Log => "log",
        }
    }

    /// Whether `g` depends on the other rows (a curve or a ranking over all complete
    /// cases), rather than on the row's own time alone.
    pub(crate) fn pooled(self) -> bool {
        matches!(self, ZphTransform::Km | ZphTransform::Rank)
    }
}

/// Cox proportional-hazards regression.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CoxSpec {
    /// Duration column; with `entry`, the stop time.
    pub time: String,
    /// Entry (left-truncation) time column (numeric, `0 ≤ entry < time`): a row is at risk at
    /// `t` only if `entry < t ≤ time` (R's `Surv(entry, time, event)`, counting-process
    /// data: prevalent cohorts, age as time scale). None: everybody is at risk from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// Event indicator column.
    pub event: String,
    /// Model terms ([`crate::terms`]): columns (numeric, or categorical: one indicator per
    /// level but the first), `num(a.s)`, products `a.x:b.y` and `a.x*b.y`.
    pub covariates: Vec<String>,
    /// Handling of ties.
    #[serde(default)]
    pub ties: Ties,
    /// Newton–Raphson step limit.
    #[serde(default = "max_steps")]
    pub max_steps: usize,
    /// Confidence level of the intervals.
    #[serde(default = "conf_level")]
    pub conf_level: f64,
    /// Categorical column whose levels are the strata (R's `strata(s)`, lifelines'
    /// `strata=`): risk sets lie within a stratum, the baseline hazard is the stratum's own
    /// and the coefficients are shared. None: one stratum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strata: Option<String>,
    /// Robust (sandwich) standard errors: Lin and Wei's `I⁻¹ (Σ_i s_i s_iᵀ) I⁻¹` from the
    /// score residuals `s_i` (R's `coxph(robust = TRUE)`, lifelines' `robust=True`), for
    /// inference that does not lean on the model's variance (misspecification, a working
    /// model). The model-based standard errors are kept as `se_naive`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub robust: bool,
    /// Robust standard errors clustered by this column (R's `coxph(..., cluster = c)`): the
    /// score residuals of the rows with equal values are added before the sandwich, for
    /// correlated rows (several records of one patient, patients of one hospital). Implies
    /// robust standard errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The proportional-hazards test from scaled Schoenfeld residuals (R's
    /// `cox.zph(fit, transform)`), per term and global, with this time transform: does a
    /// covariate's effect change with time? None: no test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zph: Option<ZphTransform>,
    /// Harrell's concordance of the fitted model (R's `fit$concordance`,
    /// `concordance(fit)`): how often, among comparable pairs, the shorter time has the
    /// higher risk score, with its standard error and the pair counts. Not available with
    /// `entry` or `cluster`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub concordance: bool,
}

/// Linear regression by least squares, optionally ridge-penalised.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OlsSpec {
    /// Outcome column (numeric).
    pub outcome: String,
    /// Model terms ([`crate::terms`]): columns (numeric, or categorical: one indicator per
    /// level but the first), `num(a.s)`, products `a.x:b.y` and `a.x*b.y`.
    pub covariates: Vec<String>,
    /// Include an intercept.
    #[serde(default = "yes")]
    pub intercept: bool,
    /// Ridge penalty `λ` on the non-intercept coefficients (0: ordinary least squares).
    #[serde(default)]
    pub ridge: f64,
    /// Confidence level of the intervals.
    #[serde(default = "conf_level")]
    pub conf_level: f64,
}

/// Logistic regression by Newton–Raphson (IRLS), optionally L2-penalised.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticSpec {
    /// Outcome column (numeric 0/1).
    pub outcome: String,
    /// Model terms ([`crate::terms`]): columns (numeric, or categorical: one indicator per
    /// level but the first), `num(a.s)`, products `a.x:b.y` and `a.x*b.y`.
    pub covariates: Vec<String>,
    /// Include an intercept.
    #[serde(default = "yes")]
    pub intercept: bool,
    /// L2 penalty `λ` on the non-intercept coefficients.
    #[serde(default)]
    pub l2: f64,
    /// Newton step limit.
    #[serde(default = "max_steps")]
    pub max_steps: usize,
    /// Confidence level of the intervals.
    #[serde(default = "conf_level")]
    pub conf_level: f64,
    /// Hold-out validation: the fraction of rows (0 < f < 1) set aside, by a split decided
    /// inside MPC, to validate the model fitted on the others (AUC with DeLong's interval;
    /// [`crate::regression::holdout`]). None: the model is fitted on every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<f64>,
    /// With `holdout`: also the calibration of the held-out predictions (as `auc`'s
    /// `calibration`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub calibration: bool,
    /// With `calibration`: the calibration table's groups (as `auc`'s `groups`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<usize>,
}

/// Descriptive statistics of columns, overall or per group.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DescribeSpec {
    /// Columns to describe (numeric, or `num(party.column)`: a categorical column whose
    /// levels are numbers, read as numbers).
    pub columns: Vec<String>,
    /// Categorical column to describe by.
    #[serde(default)]
    pub group: Option<String>,
    /// Quantiles to show (each in [0, 1]).
    #[serde(default = "default_quantiles")]
    pub quantiles: Vec<f64>,
    /// Histogram bin edges (strictly increasing), if wanted.
    #[serde(default)]
    pub histogram: Option<Vec<f64>>,
    /// Show minimum and maximum (only where the policy allows it).
    #[serde(default)]
    pub extremes: bool,
}

/// Contingency table of two categorical columns with a chi-square test.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CrosstabSpec {
    /// Categorical column of the rows.
    pub rows: String,
    /// Categorical column of the columns.
    pub columns: String,
}

/// Pearson correlation matrix of numeric columns.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CorrelationSpec {
    /// Columns (numeric, at least two).
    pub columns: Vec<String>,
}

/// One analysis of a study, as written in `study.toml` under `[[analysis]]` with
/// `kind = "..."`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnalysisSpec {
    /// `kind = "kaplan_meier"`.
    KaplanMeier(KaplanMeierSpec),
    /// `kind = "logrank"`.
    Logrank(LogrankSpec),
    /// `kind = "cox"`.
    Cox(CoxSpec),
    /// `kind = "ols"`.
    Ols(OlsSpec),
    /// `kind = "logistic"`.
    Logistic(LogisticSpec),
    /// `kind = "describe"`.
    Describe(DescribeSpec),
    /// `kind = "crosstab"`.
    Crosstab(CrosstabSpec),
    /// `kind = "correlation"`.
    Correlation(CorrelationSpec),
    /// `kind = "cuminc"`: cumulative incidence of competing risks.
    Cuminc(survival::CumincSpec),
    /// `kind = "rmst"`: restricted mean survival time up to `tau`.
    Rmst(survival::RmstSpec),
    /// `kind = "finegray"`: the Fine–Gray subdistribution hazards model of one cause.
    Finegray(survival::FinegraySpec),
    /// `kind = "auc"`: the area under the ROC curve of a score against a binary outcome.
    Auc(crate::predict::AucSpec),
    /// `kind = "elasticnet"`: the elastic-net path, the penalty chosen by cross-validation.
    Elasticnet(regression::enet::ElasticNetSpec),
    /// `kind = "relsurv"`: relative (net) survival against a population life table.
    Relsurv(crate::relsurv::RelsurvSpec),
    /// `kind = "boosted_trees"`: gradient-boosted decision trees, validated on held-out
    /// rows.
    BoostedTrees(crate::predict::gbdt::BoostedTreesSpec),
}

impl AnalysisSpec {
    /// The time column of a survival analysis (Kaplan–Meier, log-rank, Cox, cumulative
    /// incidence, restricted mean, Fine–Gray); `None` for the others.
    pub fn time_column(&self) -> Option<&str> {
        match self {
            AnalysisSpec::KaplanMeier(s) => Some(&s.time),
            AnalysisSpec::Logrank(s) => Some(&s.time),
            AnalysisSpec::Cox(s) => Some(&s.time),
            AnalysisSpec::Cuminc(s) => Some(&s.time),
            AnalysisSpec::Rmst(s) => Some(&s.time),
            AnalysisSpec::Finegray(s) => Some(&s.time),
            AnalysisSpec::Relsurv(s) => Some(&s.time),
            _ => None,
        }
    }

    /// The `kind` as written in the study file.
    pub fn kind(&self) -> &'static str {
        match self {
            AnalysisSpec::KaplanMeier(_) => "kaplan_meier",
            AnalysisSpec::Logrank(_) => "logrank",
            AnalysisSpec::Cox(_) => "cox",
            AnalysisSpec::Ols(_) => "ols",
            AnalysisSpec::Logistic(_) => "logistic",
            AnalysisSpec::Describe(_) => "describe",
            AnalysisSpec::Crosstab(_) => "crosstab",
            AnalysisSpec::Correlation(_) => "correlation",
            AnalysisSpec::Cuminc(_) => "cuminc",
            AnalysisSpec::Rmst(_) => "rmst",
            AnalysisSpec::Finegray(_) => "finegray",
            AnalysisSpec::Auc(_) => "auc",
            AnalysisSpec::Elasticnet(_) => "elasticnet",
            AnalysisSpec::Relsurv(_) => "relsurv",
            AnalysisSpec::BoostedTrees(_) => "boosted_trees",
        }
    }

    /// The model terms of a Cox, Fine–Gray, linear or logistic model (`covariates`); none
    /// for the other kinds.
    pub fn covariates(&self) -> Option<&[String]> {
        match self {
            AnalysisSpec::Cox(s) => Some(&s.covariates),
            AnalysisSpec::Finegray(s) => Some(&s.covariates),
            AnalysisSpec::Ols(s) => Some(&s.covariates),
            AnalysisSpec::Logistic(s) => Some(&s.covariates),
            AnalysisSpec::Elasticnet(s) => Some(&s.covariates),
            AnalysisSpec::BoostedTrees(s) => Some(&s.covariates),
            _ => None,
        }
    }

    /// Every column (`party.column`) the analysis reads, for policy checks before anything
    /// is shared: the columns inside model terms too (`a.x*b.y`, `num(a.s)`), so that the
    /// policy and the column rules see exactly what is read.
    pub fn columns(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        match self {
            AnalysisSpec::KaplanMeier(s) => {
                v.extend([s.time.as_str(), s.event.as_str()]);
                v.extend(s.entry.as_deref());
                v.extend(s.group.as_deref());
            }
            AnalysisSpec::Logrank(s) => {
                v.extend([&s.time, &s.event, &s.group].map(|x| x.as_str()));
                v.extend(s.strata.as_deref());
            }
            AnalysisSpec::Cox(s) => {
                v.extend([s.time.as_str(), s.event.as_str()]);
                v.extend(s.entry.as_deref());
                v.extend(crate::terms::columns(&s.covariates));
                v.extend(s.strata.as_deref());
            }
            AnalysisSpec::Ols(s) => {
                v.push(&s.outcome);
                v.extend(crate::terms::columns(&s.covariates));
            }
            AnalysisSpec::Logistic(s) => {
                v.push(&s.outcome);
                v.extend(crate::terms::columns(&s.covariates));
            }
            AnalysisSpec::BoostedTrees(s) => {
                v.push(&s.outcome);
                v.extend(crate::terms::columns(&s.covariates));
            }
            AnalysisSpec::Elasticnet(s) => {
                if !s.outcome.is_empty() {
                    v.push(&s.outcome);
                }
                v.extend(s.time.as_deref());
                v.extend(s.event.as_deref());
                v.extend(crate::terms::columns(&s.covariates));
            }
            AnalysisSpec::Describe(s) => {
                v.extend(crate::terms::columns(&s.columns));
                v.extend(s.group.as_deref());
            }
            AnalysisSpec::Crosstab(s) => v.extend([s.rows.as_str(), s.columns.as_str()]),
            AnalysisSpec::Correlation(s) => v.extend(s.columns.iter().map(String::as_str)),
            AnalysisSpec::Cuminc(s) => {
                v.extend([s.time.as_str(), s.event.as_str()]);
                v.extend(s.group.as_deref());
            }
            AnalysisSpec::Rmst(s) => {
                v.extend([s.time.as_str(), s.event.as_str()]);
                v.extend(s.group.as_deref());
            }
            AnalysisSpec::Finegray(s) => {
                v.extend([s.time.as_str(), s.event.as_str()]);
                v.extend(crate::terms::columns(&s.covariates));
            }
            AnalysisSpec::Auc(s) => v.extend([s.outcome.as_str(), s.score.as_str()]),
            AnalysisSpec::Relsurv(s) => {
                v.extend([s.time.as_str(), s.event.as_str()]);
                v.extend(s.group.as_deref());
                v.extend([s.age.as_str(), s.diagnosis_date.as_str(), s.sex.as_str()]);
            }
        }
        v
    }
}

/// The opened result of one analysis, rendered: what the runner prints and writes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Output {
    /// The analysis' kind (`cox`, ...).
    pub kind: String,
    /// The result as JSON (numbers at full precision).
    pub json: serde_json::Value,
    /// The result as text tables shaped like lifelines' / statsmodels' summaries.
    pub text: String,
}

impl Output {
    /// Renders a result that is both serialisable and displayable.
    pub fn of<T: Serialize + std::fmt::Display>(kind: &str, result: &T) -> Result<Output> {
        Ok(Output {
            kind: kind.to_string(),
            json: serde_json::to_value(result)
                .map_err(|e| StatsError::Invalid(format!("result not serialisable: {e}")))?,
            text: result.to_string(),
        })
    }
}

/// One compute party's end of an analysis (public facts as JSON, its output shares).
#[derive(Clone, Debug)]
pub struct SharedOutput {
    /// The analysis' kind (`cox`, ...).
    pub kind: String,
    /// What every compute party knows and the recipient's tail needs (the analysis' public
    /// type as JSON: the spec, documented counts and bits, lengths).
    pub public: serde_json::Value,
    /// This party's shares of the result values (cannot be opened alone).
    pub shares: OutputShares,
}

fn shared<P: Tail>(kind: &str, sealed: Sealed<P>) -> Result<SharedOutput> {
    Ok(SharedOutput {
        kind: kind.to_string(),
        public: sealed.public_json()?,
        shares: sealed.shares,
    })
}

/// Runs one analysis on the shared table: every compute party calls this with its shares
/// and ends with its [`SharedOutput`]; nothing of the result is opened to the compute
/// parties. Public rules of `disclosure` are checked first, the others inside the analysis
/// before anything is sealed.
pub fn run(
    p: &mut Party,
    frame: &Frame,
    spec: &AnalysisSpec,
    disclosure: &Disclosure,
) -> Result<SharedOutput> {
    disclosure.check_columns(&spec.columns())?;
    disclosure.check_rows(frame.rows)?;
    crate::ranges::check_params(spec, p.frac_bits())
        .map_err(|e| StatsError::Invalid(format!("{}: {e}", spec.kind())))?;
    let kind = spec.kind();
    match spec {
        AnalysisSpec::KaplanMeier(s) => {
            shared(kind, survival::kaplan_meier(p, frame, s, disclosure)?)
        }
        AnalysisSpec::Logrank(s) => shared(kind, survival::logrank(p, frame, s, disclosure)?),
        AnalysisSpec::Cox(s) => shared(kind, survival::cox(p, frame, s, disclosure)?),
        AnalysisSpec::Describe(s) => shared(kind, describe::describe(p, frame, s, disclosure)?),
        AnalysisSpec::Crosstab(s) => shared(kind, describe::crosstab(p, frame, s, disclosure)?),
        AnalysisSpec::Correlation(s) => {
            shared(kind, describe::correlation(p, frame, s, disclosure)?)
        }
        AnalysisSpec::Ols(s) => shared(kind, regression::ols::ols(p, frame, s, disclosure)?),
        AnalysisSpec::Logistic(s) => shared(
            kind,
            regression::logistic::logistic(p, frame, s, disclosure)?,
        ),
        AnalysisSpec::Cuminc(s) => shared(kind, survival::cuminc(p, frame, s, disclosure)?),
        AnalysisSpec::Rmst(s) => shared(kind, survival::rmst(p, frame, s, disclosure)?),
        AnalysisSpec::Finegray(s) => shared(kind, survival::finegray(p, frame, s, disclosure)?),
        AnalysisSpec::Auc(s) => shared(kind, crate::predict::auc(p, frame, s, disclosure)?),
        AnalysisSpec::Elasticnet(s) => shared(
            kind,
            regression::enet::mpc::elasticnet(p, frame, s, disclosure)?,
        ),
        AnalysisSpec::BoostedTrees(s) => shared(
            kind,
            crate::predict::gbdt::boosted_trees(p, frame, s, disclosure)?,
        ),
        AnalysisSpec::Relsurv(s) => {
            s.check()?;
            match s.method {
                crate::relsurv::spec::Method::EdererII => shared(
                    kind,
                    crate::relsurv::ederer::ederer2(p, frame, &s.ederer_spec(), disclosure)?,
                ),
                crate::relsurv::spec::Method::PoharPerme => shared(
                    kind,
                    crate::relsurv::pohar::pohar_perme(p, frame, &s.pohar_spec(), disclosure)?,
                ),
            }
        }
    }
}

/// The public facts as the analysis' public type, checked against the study's spec
/// (`is_of`: whether the facts are of that spec).
fn public_of<P: Tail>(
    public: &serde_json::Value,
    is_of: impl Fn(&P) -> bool,
    spec: &AnalysisSpec,
) -> Result<P> {
    let p: P = P::deserialize(public).map_err(|e| {
        StatsError::Invalid(format!(
            "the public facts of the {} analysis do not parse: {e}",
            spec.kind()
        ))
    })?;
    if !is_of(&p) {
        return Err(StatsError::Invalid(format!(
            "the public facts are of another {} analysis than the study's",
            spec.kind()
        )));
    }
    Ok(p)
}

fn tail<P: Tail + DeserializeOwned>(
    spec: &AnalysisSpec,
    public: &serde_json::Value,
    values: &[u128],
    spec_of: impl Fn(&P) -> AnalysisSpec,
) -> Result<Output> {
    let p: P = public_of(public, |p| &spec_of(p) == spec, spec)?;
    Output::of(spec.kind(), &p.open(values)?)
}

/// The recipient's tail: the public facts (as [`run`] gave them) and the reconstructed
/// values to the rendered result. A public that does not parse, or whose spec differs from
/// `spec`, is an error.
pub fn open(spec: &AnalysisSpec, public: &serde_json::Value, values: &[u128]) -> Result<Output> {
    use AnalysisSpec as A;
    match spec {
        A::KaplanMeier(_) => tail(spec, public, values, |p: &survival::KmPublic| {
            A::KaplanMeier(p.spec.clone())
        }),
        A::Logrank(_) => tail(spec, public, values, |p: &survival::LogrankPublic| {
            A::Logrank(p.spec.clone())
        }),
        A::Cox(_) => tail(spec, public, values, |p: &survival::CoxPublic| {
            A::Cox(p.spec.clone())
        }),
        A::Describe(_) => tail(spec, public, values, |p: &describe::DescribePublic| {
            A::Describe(p.spec.clone())
        }),
        A::Crosstab(_) => tail(spec, public, values, |p: &describe::CrosstabPublic| {
            A::Crosstab(p.spec.clone())
        }),
        A::Correlation(_) => tail(spec, public, values, |p: &describe::CorrelationPublic| {
            A::Correlation(p.spec.clone())
        }),
        A::Ols(_) => tail(spec, public, values, |p: &regression::ols::OlsPublic| {
            A::Ols(p.spec.clone())
        }),
        A::Logistic(_) => tail(
            spec,
            public,
            values,
            |p: &regression::logistic::LogisticPublic| A::Logistic(p.spec.clone()),
        ),
        A::Cuminc(_) => tail(spec, public, values, |p: &survival::CumincPublic| {
            A::Cuminc(p.spec.clone())
        }),
        A::Rmst(_) => tail(spec, public, values, |p: &survival::RmstPublic| {
            A::Rmst(p.spec.clone())
        }),
        A::Finegray(_) => tail(spec, public, values, |p: &survival::FinegrayPublic| {
            A::Finegray(p.spec.clone())
        }),
        A::Auc(_) => tail(spec, public, values, |p: &crate::predict::AucPublic| {
            A::Auc(p.spec.clone())
        }),
        A::Elasticnet(_) => tail(
            spec,
            public,
            values,
            |p: &regression::enet::mpc::ElasticNetPublic| A::Elasticnet(p.spec.clone()),
        ),
        A::BoostedTrees(_) => tail(
            spec,
            public,
            values,
            |p: &crate::predict::gbdt::BoostedTreesPublic| A::BoostedTrees(p.spec.clone()),
        ),
        A::Relsurv(s) => {
            // The public facts hold the protocol's spec, derived from the study's.
            use crate::relsurv::{ederer::EdererPublic, pohar::PoharPublic, spec::Method};
            let mut result = match s.method {
                Method::EdererII => {
                    public_of(public, |p: &EdererPublic| p.spec == s.ederer_spec(), spec)?
                        .open(values)?
                }
                Method::PoharPerme => {
                    public_of(public, |p: &PoharPublic| p.spec == s.pohar_spec(), spec)?
                        .open(values)?
                }
            };
            result.life_table = Some(s.life_table.clone());
            Output::of(spec.kind(), &result)
        }
    }
}
