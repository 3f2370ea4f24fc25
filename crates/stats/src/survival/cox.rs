//! Cox proportional-hazards regression: Newton–Raphson on the partial likelihood with Efron
//! (default) or Breslow ties, entirely inside MPC.
//!
//! # Protocol
//!
//! 1. **Design.** Covariates (numeric, or one indicator per level but the first of a
//!    categorical column, or products and `num(...)` as [`crate::terms`] expands them; the
//!    products computed inside MPC and never opened) on the complete cases. Each is centred
//!    and scaled inside MPC by its mean and standard deviation (as lifelines does), with the
//!    scale kept as `2^20/sd` so that the coefficients and standard errors return to the
//!    original scale with full relative precision whatever the covariate's units.
//! 2. **Risk-set order** ([`RiskOrder`]): rows sorted by time, latest first, so that risk-set
//!    sums `S0 = Σ w`, `S1 = Σ w z` are local prefix sums read at each tie group's end row.
//!    Tie structure, computed once: each event's rank `r` among its group's `d` events and
//!    `φ = r/d` (Efron; `φ = 0` for Breslow).
//! 3. **Derivatives at β**, per iteration: `η = Zβ`, `w = e^η`; for Efron the group totals
//!    `T0 = Σ_events w`, `T1` and the group-end `S0`, `S1` are copied to each event row by
//!    segmented scans; each event contributes the denominator `D = S0 - φ T0` and the mean
//!    `μ = (S1 - φ T1)/D` (Breslow: the group-end row, `d` times). Then
//!    `ℓ = Σ δη - Σ ln D`, `U = Σ δz - Σ μ` and the information
//!    `I = Zᵀ diag(w a) Z - Σ μμᵀ`, where the second-moment sums `Σ S2/D` are rearranged
//!    into one weighted `ZᵀZ` (`a_j` = suffix sum of `Σ 1/D` over the groups at or before
//!    `t_j` minus, for events, their own group's `Σ φ/D`). Reciprocals are taken as `2^20/D`
//!    so that small reciprocals of large risk sets keep their precision.
//! 4. **Newton step** `Δ = (I/e)⁻¹ (U/e)` (`e` events, public) with
//!    [`Party::spd_inverse`] at the first step and, after it, the previous step's inverse
//!    refined by three product levels when `‖I − H X‖² < 1/4` ([`WarmInverse::deep`]: one
//!    bit per step; else a fresh inverse); step halving when the log-likelihood decreased by more than the
//!    fixed-point noise ([`HALVING_MARGIN`]; R halves on any decrease);
//!    stop on lifelines' rule: `‖Δ‖ < 1e-7`, or relative change of `ℓ` below `1e-9`, or
//!    Newton decrement `UᵀΔ/2 < 1e-7` (evaluated inside MPC, the decrement with 2^20 extra
//!    bits), before the derivatives at `β + Δ`. Then the step that rule would leave
//!    untaken is taken: lifelines' own estimate can be 2e-4 from the optimum (see
//!    `fixtures/README.md`), ours lands on it. The derivatives are not evaluated there
//!    (issue 19): `ℓ(β + Δ) = ℓ + UᵀΔ/2` (exact to third order), and the inverse (the
//!    last step's refined by two Newton–Schulz steps, [`refine_inverse`]), the standard
//!    errors (one Heron step from the previous step's, [`NewtonEnd::root`]) and the
//!    per-row pieces of zph and the robust variance are those at `β`, a step the rule
//!    found negligible away ([`end_at`], computed beside the rule).
//! 5. **Result**: `β/sd`, standard errors `√diag((I/e)⁻¹/e)/sd`, `ℓ`, `ℓ(0)`, iterations.
//!
//! # Cost
//!
//! Rounds, measured with a temporary trace of [`Party`]'s round counter at 1,700 rows and
//! 10 covariates, Efron ties, few-rounds mode (`tests/cox_rounds.rs` holds the total to a
//! bound); the fit took 3 Newton iterations, so 4 solves and derivative evaluations.
//!
//! | stage | before issue 19's cuts | now |
//! |---|---:|---:|
//! | design, complete cases, tie indicators | 13 | 13 |
//! | standardisation (variance 15, check, √, 2^K/sd) | 106 (check and √ one after the other: 57) | 90 (check beside √: 41) |
//! | risk-set sort (beside the standardisation) | 44 | with the next two, beside it |
//! | arrange (tie levels) | 18 | sort + arrange 51 |
//! | tie totals, Efron's ranks (1/d) | 45 | 44, in the order's half |
//! | preparation on the critical path | 182 | 98 (order 95 ‖ standardisation 90, then 3: z moved, Σδz) |
//! | derivatives at β = 0 (no exp) | 64 | 53 |
//! | per Newton step: solve (fresh inverse, `Δ`) | 47 | 49 |
//! | per step: derivatives at β + Δ (exp 22, risk sums 2, Efron's group sums + 2^K/D + ln D 42, μ products, at-risk sums, information) | 86 (Efron's group sums 9: δ·w a round of its own, then two scans; μ 5 then at-risk 10, information 5) | 75 (Efron's group sums 3: δ·w with w, one scan both ways, [`RiskOrder::seg_prefix_suffix`]; μ beside at-risk 11, information 4) |
//! | 4 steps | 532 | 496 |
//! | final inverse (beside the monotone-likelihood test) | 46 (fresh) | 16 (2 Newton–Schulz refinements of the last step's inverse, [`refine_inverse`]; the test is the longer) |
//! | standard errors √diag | 41 (sqrt) | 1 (Heron step from `1/√v0` computed beside the last derivatives, [`NewtonEnd::root`]) |
//! | seal | 2 | 1 |
//! | **total** | **867** | **677** (Breslow: 736 → 612) |
//!
//! `tessera bench survival --workloads cox:10000x10` (three processes over loopback, 2
//! Newton iterations): at 0 ms 781 → 667 rounds, 234.0 → 219.8 MB per party, about 1.0 s
//! both; with `--latency-ms 25` 762 → 576 rounds, 261.0 → 247.7 MB, 20.6 → 15.5 s.
//!
//! Second pass (issue 19): warm Newton steps (12 rounds instead of 49 after the first),
//! the stopping rule before the next derivatives (18 rounds per step, no absolute values)
//! and no derivatives at the estimate: 677 → about 510 rounds at 1,700 × 10 (Efron),
//! 612 → about 450 (Breslow); per step now: warm solve 12, rule 18, derivatives 70.
//! With `zph` the derivatives are evaluated at the estimate after all (the test's score
//! is a small difference and moved by 2e-4 relative without them): one evaluation more.
//! `tessera bench survival --workloads cox:10000x10 --no-lifelines`: at 25 ms 519 → 434
//! rounds, 284 → 228 MB, 15.1 → 12.8 s; at 0 ms 661 → 572 rounds, 220 → 173 MB, 2.7 →
//! 1.9 s (medians of 3 on a loaded 2-core machine).
//!
//! What remained before it: the Newton steps (124 rounds each, of which the fresh inverse 49, the
//! normalisation of `D` with its reciprocal and logarithm 33, exp 22); a warm inverse
//! instead of the fresh one costs Cox an extra step ([`crate::newton`]'s doc). The
//! fixed-point truncation's rounds are in every product above.
//!
//! # Strata
//!
//! With `strata` (R's `coxph(... + strata(s))`, lifelines' `strata=`), the partial
//! likelihood is the product over strata: the rows are sorted by stratum, then time
//! ([`RiskOrder::stratified`]), so the tie groups (and Efron's ranks) are within a stratum,
//! and the risk-set prefix sums `S0`, `S1` and the suffix sums of the information's weights
//! restart at stratum boundaries ([`RiskOrder::within_prefix`],
//! [`RiskOrder::within_suffix`]): two more rounds for each (one dot product of
//! `(p + 1)(S - 1)` totals, one round of `n (p + 1)(S - 1)` integer products), so four more
//! per Newton step, for `S` strata. The covariates are standardised over all complete
//! cases (a shift within strata does not change the fit). The compute parties learn one
//! bit more ("every stratum has a complete case", an error otherwise) and, with
//! `min_level_rows`, one bit "every stratum has enough".
//!
//! # Delayed entry
//!
//! With `entry` (left truncation, R's `coxph(Surv(entry, time, event) ~ x)`), each row is
//! also an entry record with the same covariates and strata, no event and `used = -1`
//! ([`super::risk::EntryRecords`]), put in risk-set order with the stop records in one sort
//! of `2n` records. The weights `w = e^η·used` are then signed, so `S0`, `S1` and the
//! information's weighted sums are those of the risk sets `{entry < t ≤ time}` with the code
//! above unchanged (an entry at `t` is in `t`'s tie group and subtracts). The design is
//! standardised on the `n` rows; everything after the sort runs on `2n` records (about
//! twice the cost, [`crate::cost`]). One bit more is opened: "every complete case has
//! `0 ≤ entry < time`" (refused otherwise). With `robust`, a row's score residual is the sum
//! of its two records' (R's per-row residual of `(start, stop]` data): the records carry
//! their row index and are sorted by it once more ([`Model::per_row`]). With `cluster`, both
//! records carry the row's cluster value, so the clusters' sums add a row's two records
//! with the rest of its cluster (R's `cluster(id)` over a patient's `(start, stop]` rows).
//!
//! # Robust standard errors
//!
//! With `robust` (R's `coxph(robust = TRUE)`, lifelines' `robust=True`), Lin and Wei's
//! sandwich `V = I⁻¹ (Σ_i s_i s_iᵀ) I⁻¹` from the score residuals at the estimate (R's
//! `residuals(fit, "score")`; R's `t(dfbeta) %*% dfbeta` with `dfbeta = s I⁻¹`):
//! `s_i = δ_i (z_i - μ̄_g(i)) - w_i Σ_{g: t_g ≤ t_i} Σ_k c_ik (z_i - μ_gk)/D_gk` over the tie
//! groups `g` of `i`'s stratum and their slots `k` (Breslow: one slot of multiplicity `d`;
//! Efron: `d` slots, `c_ik = 1 - φ_k` for the group's own events, 1 otherwise, and `μ̄` the
//! mean of the slot means), as R's `coxscore2`. In risk-set order, the sums over `g` are the
//! suffix sums the information already builds for `Σ 1/D` ([`Model::at_risk_sums`]), here
//! also of `μ/D`; `μ̄` is the group total of the slot means copied to its rows, times `1/d`.
//! Then `Σ s sᵀ/e` is one `p × n × p` product and `V·e = (I/e)⁻¹ (Σ s sᵀ/e) (I/e)⁻¹` two
//! `p × p` ones with the full inverse the last Newton step computed. It runs once, after
//! the last opened bit, and opens nothing: the robust standard errors are sealed with the
//! other results; the model-based ones stay in the result as `se_naive`. Cost: about
//! `0.8 + 0.43·p` kB per row and 120 rounds on top of the fit ([`crate::cost`]).
//!
//! # Valid range
//!
//! The weights are fixed-point numbers `2^E·e^η` (resolution 6e-8; `E` = 8 extra bits for up
//! to 4,096 complete cases, fewer for more rows so that risk-set sums stay in range, 3 at
//! 10^5). The smallest weights, which make up the late risk sets, keep a relative precision
//! of `6e-8 / (2^E e^η)`: enough for linear predictors down to about `η = -12` (the nearly
//! separable 12-row example of `fixtures/tiny.json`, scaled age coefficient -5.8, matches
//! lifelines to 2e-5). The largest must stay below `η ≈ 22 - E·ln 2` (the range of `exp`).
//! Beyond, Newton's steps wander at the noise level and the fit ends with
//! [`StatsError::NotConverged`]: never a silently wrong estimate.
//!
//! # What the compute parties learn
//!
//! The number of complete cases and of events (named in the result); one bit "every
//! covariate varies" and, with `min_level_rows`, one bit "every level of the categorical
//! covariates has enough complete cases"; per iteration one bit
//! "converged", from the second iteration on one bit "the information moved little"
//! (`‖I − H X‖² < 1/4` for the previous inverse, [`WarmInverse`]) and one bit "the log-likelihood decreased"
//! (together: the iteration count and the number of step halvings, both reported); at the
//! estimate one bit "the likelihood is monotone" ([`min_information`]; an error). Never
//! the coefficients, gradients, information matrices, risk-set sums or per-row values. The
//! sort's comparison bits are simulatable from `n` ([`RiskOrder`]).
//!
//! # What the recipients get
//!
//! Sealed ([`crate::sealed`]): the coefficients and their standard errors (both times
//! `2^20`, on the original scale; with `robust` the robust ones too) and the two
//! log-likelihoods; hazard ratios, intervals,
//! p-values and the likelihood-ratio test are computed at the recipient ([`CoxPublic`]'s
//! [`Tail`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::{decode, encode};
use tessera_mpc::sort::SortOptions;
use tessera_mpc::{AShare, BShare, Party, Table};

use crate::analysis::{CoxSpec, Ties};
use crate::disclosure::{below_any, every_at_least, Disclosure};
use crate::dist::{chi2_sf, normal_quantile, normal_two_sided};
use crate::error::{Result, StatsError};
use crate::newton::WarmInverse;
use crate::sealed::{Sealed, Tail};
use crate::table::{Frame, PlainFrame};
use crate::terms;

use super::concordance::{self, Concordance, ConcordanceInput, ConcordanceRaw};
use super::logrank::columns_to_rows;
use super::risk::{indicator, low64, EntryRecords, RiskOrder, RiskSort};
use super::zph::{self, FitPieces, ZphRaw, ZphResult};

/// lifelines' `precision`: bound on the Newton step's norm and on the Newton decrement.
pub const PRECISION: f64 = 1e-7;
/// lifelines' `r_precision`: bound on the relative change of the log-likelihood.
pub const R_PRECISION: f64 = 1e-9;
/// A step is halved when the log-likelihood fell by more than this, relative (plus the same
/// absolute): smaller changes are the fixed-point noise of the likelihood at the optimum.
pub const HALVING_MARGIN: f64 = 1e-6;
/// Covariates whose variance (among the complete cases) is below this are refused.
pub const MIN_VARIANCE: f64 = 1e-6;
/// Extra bits of the reciprocals `2^K/D` and of the covariate scales `2^K/sd`.
const K: u32 = 20;

/// Monotone likelihood: at the estimate, every diagonal entry of the information per event
/// (standardised covariates) must be at least `2^(12-f)` (2.4e-4 at `f` = 24), so that it
/// keeps 12 significant bits in fixed point and the standard errors their tolerance. Below,
/// the likelihood is (nearly) monotone in a covariate (e.g. every event has the largest
/// value of the covariate in its risk set): the estimate is infinite, and the fit ran to a
/// finite coefficient whose standard error is noise. Refused.
pub fn min_information(f: u32) -> f64 {
    (12.0 - f as f64).exp2()
}

/// The refusal for a monotone likelihood, the same in MPC and in the plaintext twin.
pub(crate) fn monotone_error() -> StatsError {
    StatsError::Invalid(
        "Cox regression refused by the rule `monotone_likelihood`: the likelihood is \
         (nearly) monotone in a covariate (its information fell below what the fixed point \
         resolves, e.g. every event has the largest or smallest value of the covariate in \
         its risk set), so its coefficient is infinite and the standard errors do not exist; \
         remove or merge the covariate or levels that order the events perfectly"
            .into(),
    )
}

/// How the Newton iterations went (public: opened bit by bit).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NewtonTrace {
    /// Newton steps taken.
    pub iterations: usize,
    /// Step halvings (the log-likelihood decreased after a full step).
    pub halvings: usize,
    /// Whether the convergence rule was met within the step limit.
    pub converged: bool,
}

/// A fitted Cox model before rendering (original covariate scale).
#[derive(Clone, Debug, PartialEq)]
pub struct CoxFit {
    /// Coefficients.
    pub coef: Vec<f64>,
    /// Covariance matrix of the coefficients (p×p row-major; MPC fills the diagonal only).
    pub cov: Vec<f64>,
    /// With `robust`: the sandwich covariance, laid out as `cov` (MPC: the diagonal only).
    pub robust_cov: Option<Vec<f64>>,
    /// Log partial likelihood at the estimate.
    pub log_likelihood: f64,
    /// Log partial likelihood at β = 0.
    pub log_likelihood_null: f64,
    /// Complete cases.
    pub n: u64,
    /// Events among them.
    pub events: u64,
    /// The iterations.
    pub trace: NewtonTrace,
    /// With `zph`: the proportional-hazards test's statistics.
    pub zph: Option<ZphRaw>,
    /// With `concordance`: Harrell's concordance's counts and influence sum of squares.
    pub concordance: Option<ConcordanceRaw>,
}

/// One coefficient row of the summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoxRow {
    /// Covariate (`party.column`, or `party.column[level]` for an indicator).
    pub covariate: String,
    /// Coefficient.
    pub coef: f64,
    /// Hazard ratio `exp(coef)`.
    pub exp_coef: f64,
    /// Standard error (the robust one with `robust`; z, p and the intervals use it).
    pub se: f64,
    /// With `robust`: the model-based standard error (R's `se(coef)` beside `robust se`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub se_naive: Option<f64>,
    /// Lower confidence bound of `coef`.
    pub coef_lower: f64,
    /// Upper confidence bound of `coef`.
    pub coef_upper: f64,
    /// Lower bound of the hazard ratio.
    pub exp_coef_lower: f64,
    /// Upper bound of the hazard ratio.
    pub exp_coef_upper: f64,
    /// Wald statistic.
    pub z: f64,
    /// Its two-sided p-value.
    pub p: f64,
}

/// The result of a Cox regression, shaped like lifelines' `CoxPHFitter.summary`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoxResult {
    /// Ties method.
    pub ties: Ties,
    /// The strata column of a stratified model (None: unstratified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strata: Option<String>,
    /// The entry column of a model with delayed entry (R's `Surv(entry, time, event)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// Complete cases.
    pub n: u64,
    /// Events.
    pub events: u64,
    /// Confidence level.
    pub conf_level: f64,
    /// Whether the standard errors are robust (sandwich) ones.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub robust: bool,
    /// One row per covariate.
    pub rows: Vec<CoxRow>,
    /// Log partial likelihood.
    pub log_likelihood: f64,
    /// Log partial likelihood of the null model.
    pub log_likelihood_null: f64,
    /// Likelihood-ratio statistic `2(ℓ - ℓ0)`.
    pub lr_statistic: f64,
    /// Its degrees of freedom.
    pub lr_df: usize,
    /// Its p-value.
    pub lr_p: f64,
    /// Newton iterations.
    pub iterations: usize,
    /// Step halvings.
    pub halvings: usize,
    /// Whether the convergence rule was met.
    pub converged: bool,
    /// With `zph`: the proportional-hazards test per term and global (R's
    /// `cox.zph(fit)$table`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ph_test: Option<ZphResult>,
    /// With `concordance`: Harrell's concordance, its standard error and the pair counts
    /// (R's `fit$concordance`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concordance: Option<Concordance>,
}

/// The coefficient rows of a proportional-hazards summary (Cox, Fine–Gray): ratio, Wald
/// statistic, two-sided p and intervals at `conf_level` from the coefficients and their
/// standard errors (`naive`: the model-based ones shown beside robust ones).
pub(crate) fn coef_rows(
    names: &[String],
    coef: &[f64],
    se: &[f64],
    naive: Option<&[f64]>,
    conf_level: f64,
) -> Vec<CoxRow> {
    let zc = normal_quantile(0.5 + conf_level / 2.0);
    (0..coef.len())
        .map(|j| {
            let (c, se) = (coef[j], se[j]);
            let z = c / se;
            CoxRow {
                covariate: names[j].clone(),
                coef: c,
                exp_coef: c.exp(),
                se,
                se_naive: naive.map(|v| v[j]),
                coef_lower: c - zc * se,
                coef_upper: c + zc * se,
                exp_coef_lower: (c - zc * se).exp(),
                exp_coef_upper: (c + zc * se).exp(),
                z,
                p: normal_two_sided(z),
            }
        })
        .collect()
}

/// The standard errors on the diagonal of a p×p row-major covariance.
pub(crate) fn diagonal_se(cov: &[f64], p: usize) -> Vec<f64> {
    (0..p).map(|j| cov[j * p + j].max(0.0).sqrt()).collect()
}

pub(crate) fn render(spec: &CoxSpec, names: Vec<String>, fit: &CoxFit) -> CoxResult {
    let p = fit.coef.len();
    let naive = diagonal_se(&fit.cov, p);
    let robust = fit.robust_cov.as_ref().map(|v| diagonal_se(v, p));
    let rows = coef_rows(
        &names,
        &fit.coef,
        robust.as_deref().unwrap_or(&naive),
        robust.is_some().then_some(naive.as_slice()),
        spec.conf_level,
    );
    let lr = 2.0 * (fit.log_likelihood - fit.log_likelihood_null);
    CoxResult {
        ties: spec.ties,
        strata: spec.strata.clone(),
        entry: spec.entry.clone(),
        n: fit.n,
        events: fit.events,
        conf_level: spec.conf_level,
        robust: fit.robust_cov.is_some(),
        rows,
        log_likelihood: fit.log_likelihood,
        log_likelihood_null: fit.log_likelihood_null,
        lr_statistic: lr,
        lr_df: p,
        lr_p: chi2_sf(lr, p as f64),
        iterations: fit.trace.iterations,
        halvings: fit.trace.halvings,
        converged: fit.trace.converged,
        ph_test: spec
            .zph
            .zip(fit.zph.as_ref())
            .map(|(t, raw)| zph::render(t, raw)),
        concordance: fit.concordance.as_ref().map(ConcordanceRaw::finish),
    }
}

/// Whether the fit has robust standard errors (asked, or clustered).
fn robust(spec: &CoxSpec) -> bool {
    spec.robust || spec.cluster.is_some()
}

fn check(spec: &CoxSpec) -> Result<()> {
    if spec.covariates.is_empty() {
        return Err(StatsError::Invalid(
            "Cox regression needs at least one covariate".into(),
        ));
    }
    if !(spec.conf_level > 0.0 && spec.conf_level < 1.0) {
        return Err(StatsError::Invalid(
            "`conf_level` must lie in (0, 1)".into(),
        ));
    }
    if spec.max_steps == 0 {
        return Err(StatsError::Invalid("`max_steps` must be at least 1".into()));
    }
    Ok(())
}

fn not_converged(trace: &NewtonTrace, spec: &CoxSpec) -> Result<()> {
    if trace.converged {
        Ok(())
    } else {
        Err(StatsError::NotConverged(format!(
            "Cox regression did not converge in {} Newton steps (max_steps)",
            spec.max_steps
        )))
    }
}

/// The plaintext twin.
pub fn cox_plain(frame: &PlainFrame, spec: &CoxSpec, disclosure: &Disclosure) -> Result<CoxResult> {
    check(spec)?;
    crate::ranges::check_plain(crate::AnalysisSpec::Cox(spec.clone()), frame)?;
    let names: Vec<String> = terms::plain_design(frame, &spec.covariates)?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let fit = super::plain::cox(frame, spec)?;
    disclosure.check_rows(fit.n as usize)?;
    super::plain::check_strata(
        frame,
        super::plain::cox_outcome(spec),
        &spec.covariates,
        None,
        spec.strata.as_deref(),
        disclosure,
    )?;
    disclosure.check_vars(names.len(), fit.n as usize)?;
    not_converged(&fit.trace, spec)?;
    Ok(render(spec, names, &fit))
}

/// The model's covariate columns (fixed point), the present indicators they need and the
/// covariate names.
pub(crate) struct Design {
    /// The design columns (fixed point).
    pub cols: Vec<AShare<u128>>,
    /// The present indicators of the columns they read.
    pub present: Vec<AShare<u128>>,
    /// The covariate names.
    pub names: Vec<String>,
    /// Every level's indicator of each categorical factor, inside products too (for
    /// `min_level_rows`).
    pub levels: Vec<(String, Vec<AShare<u128>>)>,
}

/// The design of the model ([`crate::terms`] expands the covariates); see [`Design`].
pub(crate) fn design(p: &mut Party, frame: &Frame, covariates: &[String]) -> Result<Design> {
    let cols = terms::shared_design(frame, covariates)?;
    let present = terms::design_sources(&cols)
        .into_iter()
        .map(|c| Ok(AShare::clone(&frame.column(c)?.present)))
        .collect::<Result<_>>()?;
    let levels = terms::categorical_sources(&cols)
        .into_iter()
        .map(|c| Ok((c.to_string(), frame.categorical(c)?.onehot.to_vec())))
        .collect::<Result<_>>()?;
    Ok(Design {
        cols: terms::evaluate(p, frame, &cols)?,
        present,
        names: cols.into_iter().map(|c| c.name).collect(),
        levels,
    })
}

/// What a survival model starts from ([`outcome_design`]).
pub(crate) struct ModelInputs<'f> {
    /// The time column (fixed point).
    pub time: &'f AShare<u128>,
    /// The event column (Cox: 0/1; Fine–Gray: the cause code).
    pub event: &'f AShare<u128>,
    /// The covariates' design.
    pub design: Design,
    /// The complete cases of time, event and every covariate (0/1).
    pub used: AShare<u128>,
}

/// The time and event columns of a survival model, its [`Design`] and its complete cases:
/// Cox and Fine–Gray start here.
pub(crate) fn outcome_design<'f>(
    p: &mut Party,
    frame: &'f Frame,
    (time, event): (&str, &str),
    covariates: &[String],
) -> Result<ModelInputs<'f>> {
    let (t, tp) = frame.numeric(time)?;
    let (e, ep) = frame.numeric(event)?;
    let design = design(p, frame, covariates)?;
    let mut used = p.mul(tp, ep)?;
    for pr in &design.present {
        used = p.mul(&used, pr)?;
    }
    Ok(ModelInputs {
        time: t,
        event: e,
        design,
        used,
    })
}

/// Opens the numbers of complete cases `used` and of `events` (both named in the result:
/// LEAKAGE documented as every model's) and applies the disclosure rules of a model with `m`
/// covariates on them: `min_rows`, the rows per covariate, `min_level_rows` of the design's
/// factors.
pub(crate) fn open_counts(
    p: &mut Party,
    (used, events): (&AShare<u128>, &AShare<u128>),
    m: usize,
    levels: &[(String, Vec<AShare<u128>>)],
    disclosure: &Disclosure,
) -> Result<(u64, u64)> {
    let counts = p.reveal(&AShare::concat(&[&used.sum(), &events.sum()]))?;
    let (nu, ne) = (counts[0] as u64, counts[1] as u64);
    disclosure.check_rows(nu as usize)?;
    disclosure.check_vars(m, nu as usize)?;
    check_levels(p, levels, used, disclosure)?;
    Ok((nu, ne))
}

/// Extra bits of the weights `e^η` for `n` complete cases: as many as keep the risk-set sums
/// `n·2^E·e^η` within the fixed-point range for `η` up to about 8 (at most 8 bits; 3 for
/// 10^5 rows).
pub(crate) fn weight_bits(n: u64) -> u32 {
    let log_n = (n.max(1) as f64).log2().ceil() as i64;
    (20 - log_n).clamp(0, 8) as u32
}

/// The shared state of one fit: the sorted design and the tie structure.
struct Model {
    n: usize,
    /// With delayed entry and `robust`: each record's row index (integers, risk-set order),
    /// to add a row's two records' score residuals ([`Model::per_row`]).
    row_index: Option<AShare<u128>>,
    p: usize,
    ties: Ties,
    /// The weights are computed as `2^E·e^η` ([`weight_bits`]).
    e_bits: u32,
    /// Events (public), for the likelihood's correction `E·ln 2` per event.
    events: u64,
    /// Standardised covariates, row-major n×p, and as p columns.
    z_rows: AShare<u128>,
    z_cols: Vec<AShare<u128>>,
    /// Complete-case indicator and events (integers).
    used: AShare<u128>,
    delta: AShare<u128>,
    /// Efron's φ = rank/d on event rows (fixed point), zero elsewhere.
    phi: AShare<u128>,
    /// Breslow's multiplicity: d on group-end rows (integer).
    mult: AShare<u128>,
    /// Σ δ z (fixed, p values).
    dz: AShare<u128>,
    risk: RiskOrder,
}

/// Log-likelihood, score and information at β, with the per-row pieces the score
/// residuals reuse.
struct Derivatives {
    ll: AShare<u128>,
    score: AShare<u128>,
    info: AShare<u128>,
    /// Weights `2^E·e^η`.
    w: AShare<u128>,
    /// Per slot, `μ` and `mult·μ` (m columns, concatenated).
    mu: AShare<u128>,
    m_mu: AShare<u128>,
    /// `mult·2^K/D` per slot.
    mr: AShare<u128>,
    /// `w·a·z` (m columns, concatenated): the rows' at-risk terms `w z Σ c/D`.
    wa_z: AShare<u128>,
}

/// The fixed-point weights `e = 2^E·e^η` of a proportional-hazards fit at β, with `η = Zβ`
/// and the encoded shift `E·ln 2` that the log-likelihood takes back (Cox, Fine–Gray).
/// At β = 0 (the first Newton step) `η = 0` and `e` is the public constant `e^shift`, so
/// neither the product nor the exp's rounds are spent (issue 19).
pub(crate) struct Weights {
    /// `η = Zβ` (zero at β = 0).
    pub eta: AShare<u128>,
    /// `2^E·e^η`, shared or public.
    pub e: Weight,
    /// `E·ln 2`, encoded: the log-likelihood adds `shift` per event back.
    pub shift: u128,
}

/// A weight column: shared, or one public value on every row.
pub(crate) enum Weight {
    /// Shared per row.
    Shared(AShare<u128>),
    /// One encoded public value.
    Public(u128),
}

impl Weight {
    /// `e·x` for each integer column `x` (e.g. the 0/1 complete cases): one product round
    /// for all of them when shared, local when public.
    pub fn times(&self, p: &mut Party, xs: &[&AShare<u128>]) -> Result<Vec<AShare<u128>>> {
        Ok(match self {
            Weight::Shared(e) => p.mul_many(&xs.iter().map(|x| (e, *x)).collect::<Vec<_>>())?,
            Weight::Public(c) => xs.iter().map(|x| x.mul_const(*c)).collect(),
        })
    }
}

impl Weights {
    /// The weights at `beta` (`None`: β = 0) of `z_rows` (n×m), with `e_bits` = E.
    pub fn at(
        p: &mut Party,
        z_rows: &AShare<u128>,
        beta: Option<&AShare<u128>>,
        n: usize,
        m: usize,
        e_bits: u32,
    ) -> Result<Weights> {
        let f = p.frac_bits();
        // w = 2^E·e^η: E more bits for the small weights that make up late risk sets. Every
        // ratio is unchanged; ln D grows by E·ln 2 per event, corrected by the caller.
        let shift: u128 = encode(f64::from(e_bits) * std::f64::consts::LN_2, f);
        Ok(match beta {
            Some(b) => {
                let eta = p.matmul_fix(z_rows, b, n, m, 1)?;
                let e = p.exp(&p.add_const(&eta, shift))?;
                Weights {
                    eta,
                    e: Weight::Shared(e),
                    shift,
                }
            }
            // e^shift of the encoded shift, so the correction cancels it as exactly as
            // the exp's would.
            None => Weights {
                eta: AShare::zeros(n),
                e: Weight::Public(encode(decode(shift, f).exp(), f)),
                shift,
            },
        })
    }
}

impl Model {
    fn derivatives(&self, p: &mut Party, beta: Option<&AShare<u128>>) -> Result<Derivatives> {
        let (n, m) = (self.n, self.p);
        let f = p.frac_bits();
        let Weights { eta, e, shift } = Weights::at(p, &self.z_rows, beta, n, m, self.e_bits)?;
        let efron = self.ties == Ties::Efron;
        // w = e·used and, for Efron's event sums, δ·w = e·δ (δ implies used) in the same
        // round; then w·z and δ·w·z in one product.
        let mut cols = vec![&self.used];
        if efron {
            cols.push(&self.delta);
        }
        let mut ws = e.times(p, &cols)?;
        let w = ws.remove(0);
        let z_all = AShare::concat(&self.z_cols.iter().collect::<Vec<_>>());
        let mut reps: Vec<&AShare<u128>> = std::iter::repeat_n(&w, m).collect();
        reps.extend(ws.iter().flat_map(|dw| std::iter::repeat_n(dw, m)));
        let z_reps = tile(&z_all, 1 + ws.len());
        let mut wz = p
            .mul_fix(&AShare::concat(&reps), &z_reps)?
            .split(&vec![n; m * (1 + ws.len())]);
        let dwz = wz.split_off(m);
        let risk = &self.risk;
        // Risk-set sums (within the row's stratum).
        let mut sums = vec![w.clone()];
        sums.extend(wz.iter().cloned());
        let mut s1 = risk.within_prefix(p, &sums)?;
        // Per slot (Efron: event rows; Breslow: group-end rows): D, S1 - φ T1, multiplicity.
        let (den, num, mult) = match self.ties {
            Ties::Breslow => {
                let s0 = s1.remove(0);
                (s0, s1, self.mult.clone())
            }
            Ties::Efron => {
                // On every row of each group: its event totals T = [T0, T1..] (inclusive
                // prefix + inclusive suffix - the row) and the group end's S = [S0, S1..]
                // (the row's prefix sum + what follows it in the group), one scan deep.
                let mut ev = ws;
                ev.extend(dwz);
                let mut back = ev.clone();
                back.extend(sums.iter().cloned());
                let (pre, suf) = risk.seg_prefix_suffix(p, &ev, &back)?;
                let t_b: Vec<AShare<u128>> = (0..m + 1)
                    .map(|j| pre[j].add(&suf[j]).sub(&ev[j]))
                    .collect();
                let s_b: Vec<AShare<u128>> = (0..m + 1)
                    .map(|j| s1[j].add(&suf[m + 1 + j]).sub(&sums[j]))
                    .collect();
                let reps: Vec<&AShare<u128>> = std::iter::repeat_n(&self.phi, m + 1).collect();
                let phi_t = p.mul_fix(
                    &AShare::concat(&reps),
                    &AShare::concat(&t_b.iter().collect::<Vec<_>>()),
                )?;
                let s_all = AShare::concat(&s_b.iter().collect::<Vec<_>>());
                let d_all = s_all.sub(&phi_t).split(&vec![n; m + 1]);
                let mut it = d_all.into_iter();
                let den = it.next().expect("D");
                (den, it.collect(), self.delta.clone())
            }
        };
        // 2^K/D and ln D (garbage where mult = 0, which zeroes it below).
        let (r, lnd) = p.recip_pow2_and_ln(&den, K)?;
        // Σ δη - Σ mult·ln D in one dot product (one round).
        let ll = p.dot(
            &AShare::concat(&[&self.delta, &mult]),
            &AShare::concat(&[&eta, &lnd.neg()]),
            2 * n,
        )?;
        // The correction uses the encoded shift, so it cancels exactly what exp was given.
        let ll = p.add_const(&ll, shift.wrapping_mul(u128::from(self.events)));
        // The μ products and the information's at-risk sums side by side (issue 19: both
        // need only r; the at-risk chain is the longer).
        let ((m_mu, mu, mm), (mr, wa_z, first)) = p.side_by_side(
            |q| -> Result<_> {
                // μ = num·r/2^K per slot; Σ mult·μ; Σ mult·μμᵀ.
                let reps: Vec<&AShare<u128>> = std::iter::repeat_n(&r, m).collect();
                let mu = q.mul_trunc(
                    &AShare::concat(&num.iter().collect::<Vec<_>>()),
                    &AShare::concat(&reps),
                    f + K,
                )?;
                let reps: Vec<&AShare<u128>> = std::iter::repeat_n(&mult, m).collect();
                let m_mu = q.mul(&AShare::concat(&reps), &mu)?;
                let mu_rows = columns_to_rows(&mu.split(&vec![n; m]));
                let mm = q.matmul_fix(&m_mu, &mu_rows, m, n, m)?;
                Ok((m_mu, mu, mm))
            },
            |q| -> Result<_> {
                // Σ_slots mult·(S2 - φT2)/D = Zᵀ diag(w·a) Z with a = Σ_{t_g ≤ t} mult/D,
                // less an event's own group's Σ φ/D (Efron), see at_risk_sums.
                let mr = q.mul(&mult, &r)?;
                let a = self.at_risk_sums(q, std::slice::from_ref(&mr))?.remove(0);
                let wa = q.mul_trunc(&w, &a, f + K)?;
                let reps: Vec<&AShare<u128>> = std::iter::repeat_n(&wa, m).collect();
                let wa_z = q.mul_fix(&AShare::concat(&reps), &z_all)?;
                let first = q.matmul_fix(&wa_z, &self.z_rows, m, n, m)?;
                Ok((mr, wa_z, first))
            },
        )?;
        let sum_mu = AShare::concat(
            &m_mu
                .split(&vec![n; m])
                .iter()
                .map(AShare::sum)
                .collect::<Vec<_>>()
                .iter()
                .collect::<Vec<_>>(),
        );
        let score = self.dz.sub(&sum_mu);
        Ok(Derivatives {
            ll,
            score,
            info: first.sub(&mm),
            w,
            mu,
            m_mu,
            mr,
            wa_z,
        })
    }

    /// For columns `x` of slot values, per row `Σ_{g: t_g ≤ t_i} Σ_{slots k of g} x_k` within
    /// the row's stratum (suffix sums in risk-set order), less on event rows their own
    /// group's `Σ_k φ_k x_k` (Efron: a group's own events stay at risk with weight
    /// `1 - φ_k`): `C_i - δ_i·B_g(i)` with `C` the suffix sums of the group totals and `B`
    /// the group's `Σ φ x` copied to its rows.
    fn at_risk_sums(&self, p: &mut Party, x: &[AShare<u128>]) -> Result<Vec<AShare<u128>>> {
        let risk = &self.risk;
        match self.ties {
            Ties::Breslow => risk.within_suffix(p, x),
            Ties::Efron => {
                let (n, k) = (self.n, x.len());
                let px = p.mul_fix(&tile(&self.phi, k), &join(x))?;
                let mut cols = x.to_vec();
                cols.extend(px.split(&vec![n; k]));
                let tot = risk.group_totals(p, &cols)?;
                let own = risk.seg_suffix(p, &tot[k..])?;
                let own = p.mul(&tile(&self.delta, k), &join(&own))?;
                let suf = risk.within_suffix(p, &tot[..k])?;
                Ok(suf
                    .iter()
                    .zip(own.split(&vec![n; k]))
                    .map(|(c, b)| c.sub(&b))
                    .collect())
            }
        }
    }

    /// The score residuals at the derivatives' β (R's `residuals(fit, "score")`, in the
    /// standardised covariates), m columns concatenated:
    /// `s_i = δ_i (z_i - μ̄_g(i)) - w_i z_i a_i + w_i b_i`, where `μ̄_g` is the mean of the
    /// group's slot means (Breslow: its one mean), `a_i` the at-risk sums of `1/D` (as in the
    /// information) and `b_i` those of `μ/D` ([`Model::at_risk_sums`]).
    fn score_residuals(&self, p: &mut Party, d: &Derivatives) -> Result<AShare<u128>> {
        let (n, m) = (self.n, self.p);
        let f = p.frac_bits();
        // b: at-risk sums of mult·2^K·μ/D; w·b/2^K.
        let mr_mu = p.mul_fix(&tile(&d.mr, m), &d.mu)?;
        let b = self.at_risk_sums(p, &mr_mu.split(&vec![n; m]))?;
        let wb = p.mul_trunc(&tile(&d.w, m), &join(&b), f + K)?;
        // μ̄: the group's Σ mult·μ (over its d slots) on its rows, times 1/d on event rows.
        let mut cols = vec![self.delta.clone()];
        cols.extend(d.m_mu.split(&vec![n; m]));
        let tot = self.risk.group_totals(p, &cols)?;
        let mut rows = self.risk.seg_suffix(p, &tot)?;
        let sum_mu = rows.split_off(1);
        // 1/d (garbage on rows of groups without events, zeroed by δ).
        let rd = p.recip(&rows[0].shl(f))?;
        let drd = p.mul(&self.delta, &rd)?;
        let mean = p.mul_fix(&tile(&drd, m), &join(&sum_mu))?;
        let dz = p.mul(&tile(&self.delta, m), &join(&self.z_cols))?;
        Ok(dz.sub(&mean).sub(&d.wa_z).add(&wb))
    }

    /// `√diag(V)·√e` of Lin and Wei's sandwich `V = I⁻¹ (Σ_i s_i s_iᵀ) I⁻¹` (standardised
    /// covariates), given `inv = (I/e)⁻¹`: `V·e = inv·(Σ s sᵀ / e)·inv`.
    /// Delayed entry: each row's score residual is the sum of its stop and entry records'
    /// (R's residual of a `(start, stop]` row), `idx` the records' row indices. The records
    /// are sorted by row index (a second sort of the `2n` records; its comparison bits are
    /// simulatable as every sort's, [`RiskOrder`]) so that each row's two are adjacent, then
    /// added: m columns of `n` rows. Opens nothing else.
    fn per_row(&self, p: &mut Party, idx: &AShare<u128>, s: &AShare<u128>) -> Result<AShare<u128>> {
        let perm = p.sort_perm(&low64(idx), SortOptions::default())?;
        let t = p.apply_sort(&perm, &Table::new(vec![], s.split(&vec![self.n; self.p]))?)?;
        let pairs =
            |v: &[u128]| -> Vec<u128> { v.chunks(2).map(|c| c[0].wrapping_add(c[1])).collect() };
        let rows: Vec<AShare<u128>> = t
            .c128
            .iter()
            .map(|c| AShare {
                a: pairs(&c.a),
                b: pairs(&c.b),
            })
            .collect();
        Ok(AShare::concat(&rows.iter().collect::<Vec<_>>()))
    }

    fn robust_root(
        &self,
        p: &mut Party,
        d: &Derivatives,
        inv: &AShare<u128>,
        clusters: Option<&AShare<u128>>,
    ) -> Result<AShare<u128>> {
        let m = self.p;
        let s = self.score_residuals(p, d)?;
        let (s, rows) = match &self.row_index {
            Some(idx) => (self.per_row(p, idx, &s)?, self.n / 2),
            None => (s, self.n),
        };
        // Clustered (R's `cluster = c`): the residuals of the rows of one cluster added,
        // on the last row of each cluster in an order sorted by the cluster value (zero on
        // the others), so that Σ S Sᵀ below runs over the clusters. The order's scan depth
        // is opened as every RiskOrder's: LEAKAGE: ceil(log2 g) for the largest cluster's
        // number g of rows (documented in docs/study.md).
        let s = match clusters {
            Some(c) => {
                let order = RiskOrder::stratified(p, c, &[], &s.split(&vec![rows; m]))?;
                let totals = order.group_totals(p, &order.cols)?;
                AShare::concat(&totals.iter().collect::<Vec<_>>())
            }
            None => s,
        };
        sandwich_root(p, &s, inv, rows, self.events)
    }
}

/// The risk-set order of a fit and what is read off it before the standardised covariates
/// join it ([`cox`]): built beside the standardisation.
struct Order {
    /// The sort, applied once more to the standardised covariates.
    sort: RiskSort,
    risk: RiskOrder,
    /// Complete cases (signed with delayed entry) and events, in risk-set order.
    used: AShare<u128>,
    delta: AShare<u128>,
    row_index: Option<AShare<u128>>,
    stop_used: Option<AShare<u128>>,
    clusters: Option<AShare<u128>>,
    /// Events per tie group on its end row (with `zph`).
    deaths: Option<AShare<u128>>,
    phi: AShare<u128>,
    mult: AShare<u128>,
}

/// What the compute parties know of a Cox fit and the recipient's tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoxPublic {
    /// The analysis.
    pub spec: CoxSpec,
    /// Fractional bits of the sealed values.
    pub frac_bits: u32,
    /// The model's covariate names (categorical columns expanded).
    pub names: Vec<String>,
    /// Complete cases (opened: documented leakage).
    pub n: u64,
    /// Events among them (opened: documented leakage).
    pub events: u64,
    /// The Newton iterations (opened bit by bit).
    pub trace: NewtonTrace,
    /// With `zph`: the model's terms with their design columns (public: from the study).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<(String, usize)>,
}

impl Tail for CoxPublic {
    type Result = CoxResult;

    /// Values: `2^20·coef` (m), `2^20·√e·se` (m), with `robust` the same of the robust
    /// standard errors (m), then `ℓ`, `ℓ(0)`; with `zph`, one statistic per term and the
    /// global one (times `2^STAT_BITS`); with `concordance`, its five counts (times `2^f`)
    /// and influence sum of squares.
    fn open(&self, opened: &[u128]) -> Result<CoxResult> {
        let (f, m) = (self.frac_bits, self.names.len());
        let blocks = if robust(&self.spec) { 3 } else { 2 };
        let tests = if self.spec.zph.is_some() {
            if self.terms.iter().map(|t| t.1).sum::<usize>() != m {
                return Err(StatsError::Invalid(
                    "Cox: the terms do not fit the covariates".into(),
                ));
            }
            self.terms.len() + 1
        } else {
            0
        };
        let conc = if self.spec.concordance {
            concordance::SEALED
        } else {
            0
        };
        if opened.len() != blocks * m + 2 + tests + conc || self.events == 0 {
            return Err(StatsError::Invalid(
                "Cox: the sealed values do not fit".into(),
            ));
        }
        not_converged(&self.trace, &self.spec)?;
        let inv_e = 1.0 / self.events as f64;
        let unit = 2f64.powi(K as i32);
        let stat_unit = f64::from(1u32 << zph::STAT_BITS);
        let coef: Vec<f64> = (0..m).map(|j| decode(opened[j], f) / unit).collect();
        // A covariance matrix with the squared standard errors of block `k` on its diagonal.
        let diag = |k: usize| {
            let mut cov = vec![0f64; m * m];
            for j in 0..m {
                let se = decode(opened[k * m + j], f) / unit * inv_e.sqrt();
                cov[j * m + j] = se * se;
            }
            cov
        };
        let fit = CoxFit {
            coef,
            cov: diag(1),
            robust_cov: robust(&self.spec).then(|| diag(2)),
            log_likelihood: decode(opened[blocks * m], f),
            log_likelihood_null: decode(opened[blocks * m + 1], f),
            n: self.n,
            events: self.events,
            trace: self.trace.clone(),
            zph: (tests > 0).then(|| {
                let t = &opened[blocks * m + 2..blocks * m + 2 + tests];
                ZphRaw {
                    terms: self.terms.clone(),
                    chisq: t[..tests - 1]
                        .iter()
                        .map(|&v| decode(v, f) / stat_unit)
                        .collect(),
                    global: decode(t[tests - 1], f) / stat_unit,
                }
            }),
            concordance: (conc > 0).then(|| {
                let v: Vec<f64> = opened[blocks * m + 2 + tests..]
                    .iter()
                    .map(|&x| decode(x, f))
                    .collect();
                ConcordanceRaw::from_opened(&v)
            }),
        };
        Ok(render(&self.spec, self.names.clone(), &fit))
    }
}

/// Cox regression in MPC; see the module docs. Ends with the fit sealed for the recipients.
pub fn cox(
    p: &mut Party,
    frame: &Frame,
    spec: &CoxSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<CoxPublic>> {
    check(spec)?;
    let f = p.frac_bits();
    let n = frame.rows;
    let ModelInputs {
        time,
        event,
        design:
            Design {
                cols: x,
                names,
                levels,
                ..
            },
        mut used,
    } = outcome_design(p, frame, (&spec.time, &spec.event), &spec.covariates)?;
    let m = x.len();
    let records = EntryRecords::new(p, frame, spec.entry.as_deref(), &mut used)?;
    // The cluster column of clustered robust standard errors: a complete case needs it.
    let cluster = match &spec.cluster {
        Some(c) => {
            let (v, pr) = frame.numeric(c)?;
            used = p.mul(&used, pr)?;
            Some(v.clone())
        }
        None => None,
    };
    let strata = match &spec.strata {
        Some(st) => {
            let c = frame.categorical(st)?;
            used = p.mul(&used, c.present)?;
            Some((st.as_str(), c.onehot))
        }
        None => None,
    };
    records.check(p, time, &used)?;
    let ev = indicator(p, event)?;
    let mut pairs = vec![(&ev, &used)];
    if let Some((_, onehot)) = &strata {
        pairs.extend(onehot.iter().map(|h| (h, &used)));
    }
    let mut hs = p.mul_many(&pairs)?;
    let dead = hs.remove(0);
    // The risk-set order needs only the times (and strata) and the columns that do not
    // depend on the standardisation: its sort, the tie structure and Efron's ranks run
    // beside the counts, the disclosure checks and the standardisation (issue 19: their
    // rounds overlap), and the standardised covariates are moved by the same sort after
    // (one more application of its permutation, two rounds).
    let rtime = records.time(time);
    let hs_rec: Vec<AShare<u128>> = hs.iter().map(|h| records.both(h)).collect();
    // Robust standard errors with delayed entry add each row's two records' residuals: the
    // records carry their row's index (public: 0..n on both). Clustered, they carry the
    // row's cluster value instead and the clusters' sums add them (no pairing needed).
    let pairing = spec.robust && spec.entry.is_some() && spec.cluster.is_none();
    // With delayed entry, the proportional-hazards test ranks the stop records only.
    let stop_only = spec.zph.is_some() && spec.entry.is_some();
    let ties = spec.ties;
    let zph_on = spec.zph.is_some();
    let order = |q: &mut Party| -> Result<Order> {
        let sort = RiskOrder::sort(q, &rtime, &hs_rec, None)?;
        // Risk-set order of [δ, used, …]; with delayed entry, of the 2n records (the entry
        // records' `used` is -1: their weights subtract from the risk sets, see
        // EntryRecords).
        let mut cols = vec![records.stop_only(&dead), records.signed(&used)];
        if pairing {
            let idx = q.public(&(0..n as u128).collect::<Vec<_>>());
            cols.push(records.both(&idx));
        }
        if stop_only {
            cols.push(records.stop_only(&used));
        }
        if let Some(c) = &cluster {
            cols.push(records.both(c));
        }
        let risk = RiskOrder::arrange(q, &sort, &rtime, &hs_rec, &cols)?;
        let rows = risk.time.len();
        let mut moved = risk.cols.clone();
        let clusters = if cluster.is_some() { moved.pop() } else { None };
        let stop_used = if stop_only { moved.pop() } else { None };
        let row_index = if pairing { moved.pop() } else { None };
        let used = moved.pop().expect("used");
        let delta = moved.pop().expect("delta");
        let dt = risk
            .group_totals(q, std::slice::from_ref(&delta))?
            .remove(0);
        // Kept for the proportional-hazards test's Kaplan–Meier transform (no second scan).
        let deaths = zph_on.then(|| dt.clone());
        let (phi, mult) = match ties {
            Ties::Breslow => (AShare::zeros(rows), dt),
            Ties::Efron => {
                // rank among the group's events (exclusive) and d on every row of the group.
                let incl = risk.seg_prefix(q, std::slice::from_ref(&delta))?.remove(0);
                let rank = incl.sub(&delta);
                let d = risk.seg_suffix(q, &[dt])?.remove(0);
                let rd = q.recip(&d.shl(f))?;
                let phi = q.mul(&rank, &rd)?;
                (q.mul(&phi, &delta)?, AShare::zeros(rows))
            }
        };
        Ok(Order {
            sort,
            risk,
            used,
            delta,
            row_index,
            stop_used,
            clusters,
            deaths,
            phi,
            mult,
        })
    };
    // A refusal of the checks is public (every party meets it) and comes back as a value,
    // so that the order beside them ends normally instead of being aborted.
    let (order, prepared) = p.side_by_side(order, |q| -> Result<Result<_>> {
        let checked = |q: &mut Party| -> Result<_> {
            let (nu, ne) = open_counts(q, (&used, &dead), m, &levels, disclosure)?;
            if let Some((st, _)) = &strata {
                let counts = AShare::concat(
                    &hs.iter()
                        .map(AShare::sum)
                        .collect::<Vec<_>>()
                        .iter()
                        .collect::<Vec<_>>(),
                );
                disclosure.check_level_rows(q, &counts, st)?;
                // A declared stratum without complete cases is refused (as a group level of the
                // log-rank test). LEAKAGE: the one bit "every stratum has a complete case".
                if !every_at_least(q, &counts, 1)? {
                    return Err(StatsError::Invalid(format!(
                        "a level of {st} has no complete cases: drop it from the study's levels"
                    )));
                }
            }
            if nu < 2 || ne == 0 {
                return Err(StatsError::Invalid(format!(
                    "Cox regression needs events: {nu} complete cases with {ne} events"
                )));
            }
            let (z_all, isd, centred) = standardise(q, &x, &used, nu, &names)?;
            Ok((nu, ne, z_all, isd, centred))
        };
        refusal_as_value(checked(q))
    })?;
    let (nu, ne, z_all, isd, centred) = prepared?;
    let Order {
        sort,
        risk,
        used: used_sorted,
        delta,
        row_index,
        stop_used,
        clusters,
        deaths,
        phi,
        mult,
    } = order;
    // The standardised covariates in risk-set order, and the proportional-hazards test of a
    // stratified model's `g` over all rows, computed before the stratified order and moved
    // by it (zph::pooled_transform).
    let mut cols: Vec<AShare<u128>> = z_all
        .split(&vec![n; m])
        .iter()
        .map(|z| records.both(z))
        .collect();
    let pooled = match spec.zph {
        Some(t) if !hs.is_empty() && t.pooled() => {
            cols.push(zph::pooled_transform(
                p,
                &records,
                time,
                (&used, &dead),
                nu,
                t,
            )?);
            true
        }
        _ => false,
    };
    let mut z_cols = sort.apply(p, &cols)?;
    let pooled_g = if pooled { z_cols.pop() } else { None };
    // Harrell's concordance reads the rows in input order (with delayed entry, it builds
    // its own points from them and the entry records).
    let conc_rows = spec
        .concordance
        .then(|| (dead.clone(), used.clone(), hs.clone()));
    let n = risk.time.len();
    let dz_pairs: Vec<AShare<u128>> = z_cols.iter().map(|_| delta.clone()).collect();
    let dz = p.dot(
        &AShare::concat(&dz_pairs.iter().collect::<Vec<_>>()),
        &AShare::concat(&z_cols.iter().collect::<Vec<_>>()),
        n,
    )?;
    let model = Model {
        n,
        row_index,
        p: m,
        ties: spec.ties,
        e_bits: weight_bits(nu),
        events: ne,
        z_rows: columns_to_rows(&z_cols),
        z_cols,
        used: used_sorted,
        delta,
        phi,
        mult,
        dz,
        risk,
    };
    // The proportional-hazards test's transform of time needs only the risk-set order: it
    // runs beside the Newton loop (issue 19). Refusals of either half come back as values
    // so that the other half ends normally; the fit's come first.
    let time_pieces = spec.zph.map(|t| {
        let pieces = zph::TimePieces {
            risk: &model.risk,
            used: &model.used,
            delta: &model.delta,
            stop_used: stop_used.as_ref().unwrap_or(&model.used),
            deaths: deaths.as_ref(),
            n_used: nu,
            events: ne,
            pooled_g: pooled_g.as_ref(),
        };
        (t, pieces)
    });
    let fit = |q: &mut Party| newton(q, m, ne, spec.max_steps, |p, b| model.derivatives(p, b));
    let (transform, fitted) = match &time_pieces {
        Some((t, pieces)) => {
            let (g, fitted) = p.side_by_side(
                |q| {
                    refusal_as_value((|| {
                        let g = zph::centred_transform(q, pieces, *t)?;
                        let g2 = q.mul_fix(&g, &g)?;
                        Ok((g, g2))
                    })())
                },
                |q| refusal_as_value(fit(q)),
            )?;
            (Some(g), fitted)
        }
        None => (None, Ok(fit(p)?)),
    };
    let NewtonEnd {
        beta,
        d,
        ll,
        inv,
        root,
        ll0,
        trace,
    } = fitted?;
    let transform = transform.transpose()?;
    // The proportional-hazards test's score `u` is a small difference of per-row terms:
    // it needs the derivatives at the estimate itself (those one negligible step away
    // moved its statistics by 2e-4 relative), and the inverse refined against them.
    let (d, inv) = if spec.zph.is_some() {
        let d = model.derivatives(p, Some(&beta))?;
        let info = p.mul_public_real(&d.info, 1.0 / ne as f64)?;
        let inv = refine_inverse(p, &info, inv, m)?;
        (d, inv)
    } else {
        (d, inv)
    };
    // Back to the original scale: coef·2^K = β·(2^K/sd); se·2^K·√e = √diag(inv)·(2^K/sd).
    let terms = match spec.zph {
        Some(_) => terms::term_widths(&spec.covariates, &terms::frame_levels(frame))?,
        None => Vec::new(),
    };
    let tests = match spec.zph {
        Some(_) => {
            let (g, g2) = transform.as_ref().expect("computed beside the fit");
            let pieces = FitPieces {
                delta: &model.delta,
                z_cols: &model.z_cols,
                z_rows: &model.z_rows,
                w: &d.w,
                mu: &d.mu,
                m_mu: &d.m_mu,
                mr: &d.mr,
                inv: &inv,
                events: ne,
                k_bits: K,
                g,
                g2,
            };
            let widths: Vec<usize> = terms.iter().map(|t| t.1).collect();
            let sums = |p: &mut Party, x: &[AShare<u128>]| model.at_risk_sums(p, x);
            Some(zph::zph_mpc(p, &pieces, &sums, &widths)?)
        }
        None => None,
    };
    let mut roots = vec![beta, root];
    if robust(spec) {
        roots.push(model.robust_root(p, &d, &inv, clusters.as_ref())?);
    }
    let isds: Vec<&AShare<u128>> = std::iter::repeat_n(&isd, roots.len()).collect();
    let scaled = p.mul_fix(
        &AShare::concat(&roots.iter().collect::<Vec<_>>()),
        &AShare::concat(&isds),
    )?;
    // Harrell's concordance of the linear predictor `(x - mean)·coef`, exact: the centred
    // covariates (exact products with the 0/1 complete-case indicator) times the
    // coefficients `coef·2^K` (one truncation each, shared by every row), not truncated per
    // row, so that rows with equal covariates have equal predictors (ties as in R).
    let conc = match &conc_rows {
        Some((dead0, used0, hs0)) => {
            let n0 = frame.rows;
            let rows = columns_to_rows(&centred.split(&vec![n0; m]));
            let eta = p.matmul(&rows, &scaled.slice(0..m), n0, m, 1)?;
            let input = ConcordanceInput {
                time,
                dead: dead0,
                used: used0,
                strata: hs0,
                eta: &eta,
                records: &records,
                cluster: cluster.as_ref(),
            };
            Some(concordance::concordance_mpc(p, &input)?)
        }
        None => None,
    };
    // The convergence bit is public: a fit that did not converge ends here, at every party.
    not_converged(&trace, spec)?;
    // Sealed for the recipients: coefficients, standard errors, the two log-likelihoods.
    let public = CoxPublic {
        spec: spec.clone(),
        frac_bits: f,
        names,
        n: nu,
        events: ne,
        trace,
        terms,
    };
    let mut values = vec![&scaled, &ll, &ll0];
    values.extend(tests.as_ref());
    values.extend(conc.as_ref());
    Sealed::new(p, public, &AShare::concat(&values))
}

/// A refusal (any error but the engine's) as a value, for a half of
/// [`Party::side_by_side`]: an error there would abort the other half.
fn refusal_as_value<T>(r: Result<T>) -> Result<Result<T>> {
    match r {
        Err(StatsError::Mpc(e)) => Err(e.into()),
        r => Ok(r),
    }
}

/// What the Newton loop ends with ([`newton`]).
pub(crate) struct NewtonEnd<D> {
    /// The estimate (standardised covariates).
    pub beta: AShare<u128>,
    /// The derivatives at the last point evaluated: the estimate less its last step, one
    /// the stopping rule found negligible (issue 19: no derivatives at the estimate
    /// itself; the per-row pieces of zph and the robust variance move by the step's size).
    pub d: D,
    /// The log-likelihood at the estimate (from `d`'s, [`end_at`]).
    pub ll: AShare<u128>,
    /// `(I/e)⁻¹` at `d`'s point (m×m).
    pub inv: AShare<u128>,
    /// `√diag(inv)` (m values): one Heron step `(v + v0)/(2√v0)` from the diagonal `v0` of
    /// the previous Newton step's inverse, whose `1/√v0` was computed beside the last
    /// derivatives (issue 19: one round at the end instead of a square root's 41). The
    /// fit has converged, so `v/v0 - 1` is small and the Heron step's relative error,
    /// `(v/v0 - 1)²/8`, with it.
    pub root: AShare<u128>,
    /// The log-likelihood at β = 0.
    pub ll0: AShare<u128>,
    /// The iterations (opened bit by bit).
    pub trace: NewtonTrace,
}

/// The log-likelihood, score and information a Newton step needs.
pub(crate) trait Fisher {
    /// Log-likelihood (one value).
    fn ll(&self) -> &AShare<u128>;
    /// Score (m values).
    fn score(&self) -> &AShare<u128>;
    /// Information (m×m).
    fn info(&self) -> &AShare<u128>;
}

impl Fisher for Derivatives {
    fn ll(&self) -> &AShare<u128> {
        &self.ll
    }
    fn score(&self) -> &AShare<u128> {
        &self.score
    }
    fn info(&self) -> &AShare<u128> {
        &self.info
    }
}

/// Newton–Raphson from β = 0 inside MPC on `derive` (the derivatives at β), `m`
/// coefficients, `ne` events (public): step halving, lifelines' rule, the final untaken step
/// and the monotone-likelihood check, as the module docs say. Opens one bit per iteration
/// ("converged"), one per halving test and one at the estimate. Shared by Cox and Fine–Gray.
pub(crate) fn newton<D: Fisher>(
    p: &mut Party,
    m: usize,
    ne: u64,
    max_steps: usize,
    mut derive: impl FnMut(&mut Party, Option<&AShare<u128>>) -> Result<D>,
) -> Result<NewtonEnd<D>> {
    let f = p.frac_bits();
    let inv_e = 1.0 / ne as f64;
    let mut beta: AShare<u128> = AShare::zeros(m);
    // At β = 0: `derive` takes no exp there (the weights are a public constant).
    let mut d = derive(p, None)?;
    let ll0 = d.ll().clone();
    let mut prev: Option<(AShare<u128>, AShare<u128>, AShare<u128>)> = None; // β, Δ, ℓ before the step
    let mut trace = NewtonTrace::default();
    let mut step = 1.0f64;
    let mut warm = WarmInverse::deep(WARM_LEVELS);
    // The previous step's inverse diagonal and its 1/√ (see NewtonEnd::root).
    let mut heron: Option<(AShare<u128>, AShare<u128>)> = None;
    let (inv, root, ll) = loop {
        let info = p.mul_public_real(d.info(), inv_e)?;
        let score = p.mul_public_real(d.score(), inv_e)?;
        // The previous step's inverse refined by WARM_LEVELS product levels when the
        // information moved little, else a fresh one (crate::newton::WarmInverse; issue
        // 19: about 12 rounds instead of 49). One level (a single Newton–Schulz step) gave
        // Cox an extra Newton step, its error being more than lifelines' stopping rule
        // tolerates; three leave the residual to the 8th power. LEAKAGE: one bit per step
        // after the first, "‖I − H X‖² < 1/4" for the previous inverse X (how much the
        // information moved in one step), opened inside WarmInverse::step.
        let mut solve = |q: &mut Party| -> Result<(AShare<u128>, AShare<u128>)> {
            let step = warm.step(q, &info, &score, m)?;
            let inv = warm.inverse().expect("set by the step").clone();
            Ok((inv, step))
        };
        // The step-halving test beside the Newton direction (wasted only when halving).
        let ll = d.ll().clone();
        let (last_inv, delta) = match &prev {
            Some((b0, last, ll_prev)) => {
                let (worse, solved) = p.side_by_side(
                    |q| -> Result<bool> {
                        // Opened: whether the log-likelihood decreased beyond the
                        // fixed-point noise (step halving, reported). ℓ ≤ 0, so
                        // ℓ_prev·(1 + m) - m lies below ℓ_prev.
                        let floor = q.mul_public_real(ll_prev, 1.0 + HALVING_MARGIN)?;
                        let floor = q.add_const(&floor, encode(-HALVING_MARGIN, f));
                        let worse = q.lt(&ll, &floor)?;
                        Ok(q.reveal_bits(&worse)?[0] & 1 == 1)
                    },
                    solve,
                )?;
                if worse && step > 1e-3 {
                    step /= 2.0;
                    trace.halvings += 1;
                    beta = b0.add(&p.mul_public_real(last, step)?);
                    d = derive(p, Some(&beta))?;
                    // The Heron start is from before the halved step: too far to trust.
                    heron = None;
                    continue;
                }
                solved
            }
            None => solve(p)?,
        };
        // lifelines' rule, evaluated inside MPC (one bit opened), before the derivatives
        // at β + Δ: when it is met, the estimate is β + Δ and its log-likelihood, inverse
        // information and standard errors come from the quantities at β (below), so the
        // last derivative evaluation is never spent (issue 19: the rule's rounds per
        // step against one evaluation's at the end). Beside the rule, what the end needs
        // if it is met: the inverse at β refined, ℓ(β + Δ), the standard errors and the
        // monotone-likelihood bits (opened only at the end).
        let next = beta.add(&delta);
        let stop_rule = |q: &mut Party| -> Result<bool> {
            // ‖Δ‖² and the decrement (U/e)·Δ in one product, with 2^24 and 2^20 more bits.
            let ds = delta.shl(12);
            let lhs = q.dot_fix(
                &AShare::concat(&[&ds, &score.shl(10)]),
                &AShare::concat(&[&ds, &delta.shl(10)]),
                m,
            )?;
            let thresholds = q.public(&[
                encode(PRECISION * PRECISION * 2f64.powi(24), f),
                encode(2.0 * PRECISION * 2f64.powi(20) * inv_e, f),
            ]);
            let (lhs, rhs) = match &prev {
                // |ℓ − ℓ_prev| < r·|ℓ_prev| with ℓ_prev ≤ 0, as `ℓ − ℓ_prev` and its
                // negation both below `−ℓ_prev·r` (issue 19: no absolute values, and no
                // truncation: both sides scaled by 2^REL_BITS, r rounded to 1e-5 of itself).
                Some((_, _, ll_prev)) => {
                    let diff = ll.sub(ll_prev).shl(REL_BITS);
                    let bound = ll_prev.neg().mul_const(rel_precision_scaled());
                    (
                        AShare::concat(&[&lhs, &diff, &diff.neg()]),
                        AShare::concat(&[&thresholds, &bound, &bound]),
                    )
                }
                None => (lhs, thresholds),
            };
            let bits = q.lt(&lhs, &rhs)?;
            let conv = rule_bit(q, &bits, lhs.len())?;
            // Opened: whether the rule is met (the iteration count is reported).
            Ok(q.reveal_bits(&conv)?[0] & 1 == 1)
        };
        let end = |q: &mut Party| -> Result<End> {
            end_at(
                q,
                &info,
                &score,
                &delta,
                &ll,
                last_inv.clone(),
                heron.as_ref(),
                ne,
            )
        };
        let (stop, end) = p.side_by_side(stop_rule, end)?;
        if stop || trace.iterations >= max_steps {
            trace.converged = stop;
            // Monotone likelihood: some diagonal entry of the information below
            // min_information. LEAKAGE: one bit (an error otherwise).
            if p.reveal_bits(&end.monotone)?[0] & 1 == 1 {
                return Err(monotone_error());
            }
            beta = next;
            // A fit that ends at its first step has no Heron start: a square root, only then.
            let root = match end.root {
                Some(r) => r,
                None => p.sqrt(&diagonal(&end.inv, m))?,
            };
            break (end.inv, root, end.ll);
        }
        // Beside the derivatives at β + Δ, 1/√ of this step's inverse's diagonal: if the
        // next step is the last, the standard errors there are one Heron step from it
        // (see NewtonEnd::root).
        let v0 = diagonal(&last_inv, m);
        let (r0, d_next) = p.side_by_side(|q| Ok(q.rsqrt(&v0)?), |q| derive(q, Some(&next)))?;
        heron = Some((v0, r0));
        trace.iterations += 1;
        step = 1.0;
        prev = Some((beta, delta, ll));
        beta = next;
        d = d_next;
    };
    Ok(NewtonEnd {
        beta,
        d,
        ll,
        inv,
        root,
        ll0,
        trace,
    })
}

/// What the end of a Newton fit needs from its last point β, computed beside the stopping
/// rule there ([`end_at`]); used only when the rule is met.
struct End {
    /// `(I/e)⁻¹` at β, refined ([`refine_inverse`]).
    inv: AShare<u128>,
    /// `√diag(inv)` by a Heron step, when there was a previous step.
    root: Option<AShare<u128>>,
    /// `ℓ(β + Δ)`.
    ll: AShare<u128>,
    /// Whether some diagonal entry of `I/e` is below [`min_information`] (not opened).
    monotone: BShare,
}

/// The end of a fit at β, whose step `Δ = (I/e)⁻¹ (U/e)` the stopping rule found
/// negligible: the estimate is `β + Δ` and
/// - `ℓ(β + Δ) = ℓ + UᵀΔ/2`, exact to third order in Δ (`ℓ + UᵀΔ − ΔᵀIΔ/2` with
///   `IΔ = U`), from the rule's own decrement;
/// - the inverse information is the one at β (Δ moves it by about its own size, far
///   below the standard errors' tolerance), the step's inverse `last_inv` refined by
///   [`refine_inverse`];
/// - its diagonal's square root one Heron step `(v + v0)/(2√v0)` from the previous
///   step's `(v0, 1/√v0)` (`heron`; `None` for a fit at its first step, whose caller
///   takes the square root once it knows the fit ends there);
/// - the monotone-likelihood bits of `I/e`'s diagonal, not opened.
///
/// Opens nothing.
#[allow(clippy::too_many_arguments)]
fn end_at(
    q: &mut Party,
    info: &AShare<u128>,
    score: &AShare<u128>,
    delta: &AShare<u128>,
    ll: &AShare<u128>,
    last_inv: AShare<u128>,
    heron: Option<&(AShare<u128>, AShare<u128>)>,
    ne: u64,
) -> Result<End> {
    let f = q.frac_bits();
    let m = delta.len();
    let diag = diagonal(info, m);
    let lim = q.public(&vec![encode::<u128>(min_information(f), f); m]);
    let small = q.lt(&diag, &lim)?;
    let monotone = any_bit(q, &small, m)?;
    // UᵀΔ/2 = e·(U/e)·Δ/2, the product taken with 2^20 more bits (it is tiny) as the rule's.
    let dec = q.dot_fix(&score.shl(10), &delta.shl(10), m)?;
    let ll = ll.add(&q.mul_public_real(&dec, ne as f64 / 2f64.powi(21))?);
    let inv = refine_inverse(q, info, last_inv, m)?;
    let v = diagonal(&inv, m);
    let root = match heron {
        Some((v0, r0)) => Some(q.mul_trunc(&v.add(v0), r0, f + 1)?),
        None => None,
    };
    Ok(End {
        inv,
        root,
        ll,
        monotone,
    })
}

/// Product levels of a warm Newton step's inverse ([`WarmInverse::deep`]): the step's
/// relative error is the residual `‖I − H X‖` to the power 8.
const WARM_LEVELS: usize = 3;

/// Newton–Schulz refinements of the inverse at the estimate: how many, from the last
/// Newton step's inverse. Each squares the residual `I − H X`: the last step is one the
/// stopping rule found negligible, so the information moved by about its size (below
/// 1e-3 relative) and two refinements leave the fixed-point noise.
pub(crate) const REFINEMENTS: usize = 2;

/// `H⁻¹` from `x`, an inverse of an information close to `h` (m×m, fixed point):
/// [`REFINEMENTS`] Newton–Schulz steps `X ← X + X (I − H X)`, two products each. Opens
/// nothing. The final variance of a Newton fit costs these few rounds instead of a fresh
/// [`Party::spd_inverse`] (46 rounds at 10 covariates).
pub(crate) fn refine_inverse(
    p: &mut Party,
    h: &AShare<u128>,
    x: AShare<u128>,
    m: usize,
) -> Result<AShare<u128>> {
    let r = crate::newton::residual(p, h, &x, m)?;
    crate::newton::newton_schulz(p, h, x, r, m, REFINEMENTS)
}

/// The per-level complete-case counts of the design's categorical factors against
/// `min_level_rows` (one bit each, [`Disclosure::check_level_rows`]).
pub(crate) fn check_levels(
    p: &mut Party,
    levels: &[(String, Vec<AShare<u128>>)],
    used: &AShare<u128>,
    disclosure: &Disclosure,
) -> Result<()> {
    for (name, onehot) in levels {
        let pairs: Vec<_> = onehot.iter().map(|h| (h, used)).collect();
        let per_level = p.mul_many(&pairs)?;
        let counts = AShare::concat(
            &per_level
                .iter()
                .map(AShare::sum)
                .collect::<Vec<_>>()
                .iter()
                .collect::<Vec<_>>(),
        );
        disclosure.check_level_rows(p, &counts, name)?;
    }
    Ok(())
}

/// The design `x` standardised on the complete cases `used` (`nu` of them):
/// `z = (x - mean)·(2^K/sd)/2^K`, m columns concatenated, the scales `2^K/sd` that take
/// coefficients and standard errors back to the original scale, and the centred design
/// `x - mean` (exact; zero off the complete cases). A covariate without variation is refused
/// (the bits the comment below names).
pub(crate) fn standardise(
    p: &mut Party,
    x: &[AShare<u128>],
    used: &AShare<u128>,
    nu: u64,
    names: &[String],
) -> Result<(AShare<u128>, AShare<u128>, AShare<u128>)> {
    let (n, m, f) = (used.len(), x.len(), p.frac_bits());
    // Standardise on the complete cases: z = (x - mean)·(2^K/sd)/2^K.
    let reps: Vec<&AShare<u128>> = std::iter::repeat_n(used, m).collect();
    let u_rep = AShare::concat(&reps);
    let xu = p.mul(&u_rep, &AShare::concat(&x.iter().collect::<Vec<_>>()))?;
    let xs = xu.split(&vec![n; m]);
    let sums = AShare::concat(
        &xs.iter()
            .map(AShare::sum)
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>(),
    );
    let means = p.mul_public_real(&sums, 1.0 / nu as f64)?;
    let mean_rows: Vec<AShare<u128>> = (0..m)
        .map(|j| {
            let mj = means.slice(j..j + 1);
            AShare {
                a: vec![mj.a[0]; n],
                b: vec![mj.b[0]; n],
            }
        })
        .collect();
    let mean_u = p.mul(
        &u_rep,
        &AShare::concat(&mean_rows.iter().collect::<Vec<_>>()),
    )?;
    let centred = xu.sub(&mean_u);
    let ss = p.dot_fix(&centred, &centred, n)?;
    let var = p.mul_public_real(&ss, 1.0 / (nu - 1) as f64)?;
    // The scales 2^K/sd beside the variance check (issue 19: the check's rounds overlap the
    // square root's and the reciprocal's; a refused fit throws the scales away, and a
    // variance below the minimum gives them garbage, never an error).
    // A covariate without variation has no coefficient (and no scale). LEAKAGE: the one bit
    // "every covariate varies among the complete cases" is opened; when it is 0 (the fit is
    // refused), also one bit per covariate, "this one does not vary", so that the message
    // names it (a categorical level without complete cases, a constant column).
    let (below, isd) = p.side_by_side(
        |q| below_any(q, &var, encode(MIN_VARIANCE, f)),
        |q| -> Result<AShare<u128>> {
            let sd = q.sqrt(&var)?;
            Ok(q.recip_pow2(&sd, K)?) // 2^K/sd
        },
    )?;
    if let Some(below) = below {
        let flat: Vec<&str> = names
            .iter()
            .zip(p.reveal(&below)?)
            .filter(|(_, b)| *b == 1)
            .map(|(n, _)| n.as_str())
            .collect();
        return Err(StatsError::Invalid(format!(
            "{} {} no variation among the {nu} complete cases (variance below \
             {MIN_VARIANCE:e}: a level of a categorical covariate without complete cases, a \
             constant column, or a numeric one on too small a scale); rescale it, drop it, or \
             drop the level from the study's levels",
            if flat.len() == 1 {
                "covariate"
            } else {
                "covariates"
            },
            if flat.is_empty() {
                "(one of them) has".to_string()
            } else {
                format!(
                    "{} {}",
                    flat.join(", "),
                    if flat.len() == 1 { "has" } else { "have" }
                )
            }
        )));
    }
    let isd_rows: Vec<AShare<u128>> = (0..m)
        .map(|j| AShare {
            a: vec![isd.a[j]; n],
            b: vec![isd.b[j]; n],
        })
        .collect();
    let z_all = p.mul_trunc(
        &centred,
        &AShare::concat(&isd_rows.iter().collect::<Vec<_>>()),
        f + K,
    )?;
    Ok((z_all, isd, centred))
}

/// `√diag(V)·√e` of a sandwich `V = I⁻¹ (Σ_i s_i s_iᵀ) I⁻¹` (standardised covariates) from
/// the per-row terms `s` (m columns of `rows` values, concatenated), given
/// `inv = (I/e)⁻¹`: `V·e = inv·(Σ s sᵀ / e)·inv`. Opens nothing.
pub(crate) fn sandwich_root(
    p: &mut Party,
    s: &AShare<u128>,
    inv: &AShare<u128>,
    rows: usize,
    events: u64,
) -> Result<AShare<u128>> {
    let m = s.len() / rows.max(1);
    let s_rows = columns_to_rows(&s.split(&vec![rows; m]));
    let meat = p.matmul_fix(s, &s_rows, m, rows, m)?;
    let meat = p.mul_public_real(&meat, 1.0 / events as f64)?;
    let left = p.matmul_fix(inv, &meat, m, m, m)?;
    let v = p.matmul_fix(&left, inv, m, m, m)?;
    Ok(p.sqrt(&diagonal(&v, m))?)
}

/// `k` copies of `x`, concatenated (one operand for `k` columns at once).
pub(crate) fn tile(x: &AShare<u128>, k: usize) -> AShare<u128> {
    AShare::concat(&std::iter::repeat_n(x, k).collect::<Vec<_>>())
}

/// Columns concatenated into one share vector.
pub(crate) fn join(cols: &[AShare<u128>]) -> AShare<u128> {
    AShare::concat(&cols.iter().collect::<Vec<_>>())
}

/// The diagonal of a shared m×m row-major matrix.
fn diagonal(x: &AShare<u128>, m: usize) -> AShare<u128> {
    let d: Vec<AShare<u128>> = (0..m).map(|j| x.slice(j * m + j..j * m + j + 1)).collect();
    AShare::concat(&d.iter().collect::<Vec<_>>())
}

/// Fractional bits added to both sides of the stopping rule's relative test.
const REL_BITS: u32 = 44;

/// [`R_PRECISION`]·2^[`REL_BITS`], rounded (17,592: within 1e-5 of itself).
fn rel_precision_scaled() -> u128 {
    (R_PRECISION * 2f64.powi(REL_BITS as i32)).round() as u128
}

/// Bit `i` of a bit-sliced vector, as a one-element sharing.
fn bit_at(bits: &BShare, i: usize) -> BShare {
    let at = |v: &[u64]| vec![(v[i / 64] >> (i % 64)) & 1];
    BShare {
        a: at(&bits.a),
        b: at(&bits.b),
    }
}

/// lifelines' rule from its comparison bits `[‖Δ‖², decrement]` and, after the first step,
/// `[ℓ − ℓ_prev < c, ℓ_prev − ℓ < c]` (`k` = 2 or 4): `b0 ∨ b1 ∨ (b2 ∧ b3)`, two rounds.
fn rule_bit(p: &mut Party, bits: &BShare, k: usize) -> Result<BShare> {
    let b: Vec<BShare> = (0..k).map(|i| bit_at(bits, i)).collect();
    if k == 2 {
        return Ok(p.or(&b[0], &b[1])?);
    }
    let ands = p.and_many(&[(&b[0], &b[1]), (&b[2], &b[3])])?;
    let either = b[0].xor(&b[1]).xor(&ands[0]);
    Ok(p.or(&either, &ands[1])?)
}

/// The OR of the first `k` bits of `bits`, as one shared bit.
fn any_bit(p: &mut Party, bits: &BShare, k: usize) -> Result<BShare> {
    // One bit per word, then a tree of ORs: ⌈log2 k⌉ rounds.
    let pick = |v: &[u64]| -> Vec<u64> { (0..k).map(|i| (v[i / 64] >> (i % 64)) & 1).collect() };
    let mut acc = BShare {
        a: pick(&bits.a),
        b: pick(&bits.b),
    };
    while acc.a.len() > 1 {
        let h = acc.a.len() / 2;
        let half = |v: &[u64], r: std::ops::Range<usize>| v[r].to_vec();
        let lo = BShare {
            a: half(&acc.a, 0..h),
            b: half(&acc.b, 0..h),
        };
        let hi = BShare {
            a: half(&acc.a, h..2 * h),
            b: half(&acc.b, h..2 * h),
        };
        let mut next = p.or(&lo, &hi)?;
        if acc.a.len() % 2 == 1 {
            next.a.push(acc.a[2 * h]);
            next.b.push(acc.b[2 * h]);
        }
        acc = next;
    }
    Ok(acc)
}

/// The summary line of a Newton fit: iterations, step halvings, convergence.
pub(crate) fn write_iterations(
    f: &mut fmt::Formatter<'_>,
    iterations: usize,
    halvings: usize,
    converged: bool,
) -> fmt::Result {
    writeln!(
        f,
        "  Newton iterations = {iterations}{}{}",
        if halvings > 0 {
            format!(" ({halvings} step halvings)")
        } else {
            String::new()
        },
        if converged { "" } else { " (did not converge)" }
    )
}

/// The width of a coefficient table's name column (at least that of "covariate").
pub(crate) fn name_width(rows: &[CoxRow]) -> usize {
    rows.iter()
        .map(|r| r.covariate.len())
        .max()
        .unwrap_or(9)
        .max(9)
}

impl fmt::Display for CoxResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ties = match self.ties {
            Ties::Efron => "Efron",
            Ties::Breslow => "Breslow",
        };
        match &self.strata {
            Some(s) => writeln!(
                f,
                "Cox proportional hazards ({ties} ties), stratified by {s}"
            )?,
            None => writeln!(f, "Cox proportional hazards ({ties} ties)")?,
        }
        if let Some(e) = &self.entry {
            writeln!(
                f,
                "  delayed entry: at risk from {e} (exclusive) to the time"
            )?;
        }
        writeln!(f, "  number of observations = {}", self.n)?;
        writeln!(f, "  number of events observed = {}", self.events)?;
        writeln!(f, "  partial log-likelihood = {:.4}", self.log_likelihood)?;
        if self.robust {
            writeln!(
                f,
                "  robust standard errors (se(coef); the model-based ones in se naive)"
            )?;
        }
        write_iterations(f, self.iterations, self.halvings, self.converged)?;
        let pct = self.conf_level * 100.0;
        let w = name_width(&self.rows);
        writeln!(
            f,
            "\n  {:<w$} {:>9} {:>9} {:>9}{} {:>10} {:>10} {:>8} {:>10}",
            "covariate",
            "coef",
            "exp(coef)",
            "se(coef)",
            if self.robust { "  se naive" } else { "" },
            format!("coef lo {pct:.0}%"),
            format!("coef hi {pct:.0}%"),
            "z",
            "p"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "  {:<w$} {:>9.4} {:>9.4} {:>9.4}{} {:>10.4} {:>10.4} {:>8.2} {:>10.3e}",
                r.covariate,
                r.coef,
                r.exp_coef,
                r.se,
                r.se_naive
                    .map_or_else(String::new, |s| format!(" {s:>9.4}")),
                r.coef_lower,
                r.coef_upper,
                r.z,
                r.p
            )?;
        }
        writeln!(
            f,
            "\n  log-likelihood ratio test = {:.2} on {} df, p = {:.3e}",
            self.lr_statistic, self.lr_df, self.lr_p
        )?;
        if let Some(c) = &self.concordance {
            writeln!(
                f,
                "  concordance = {:.4} (se {:.4}); pairs: {} concordant, {} discordant, \
                 {} tied.x, {} tied.y, {} tied.xy",
                c.concordance, c.se, c.concordant, c.discordant, c.tied_x, c.tied_y, c.tied_xy
            )?;
        }
        if let Some(t) = &self.ph_test {
            writeln!(
                f,
                "\n  proportional hazards (scaled Schoenfeld residuals, transform {}):",
                t.transform.name()
            )?;
            writeln!(f, "  {:<w$} {:>9} {:>3} {:>10}", "term", "chisq", "df", "p")?;
            for r in t.terms.iter().chain([&t.global]) {
                writeln!(
                    f,
                    "  {:<w$} {:>9.4} {:>3} {:>10.3e}",
                    r.term, r.chisq, r.df, r.p
                )?;
            }
        }
        Ok(())
    }
}
