//! The Fine–Gray subdistribution hazards model of competing risks (R's `cmprsk::crr`),
//! entirely inside MPC.
//!
//! # The model
//!
//! The cause column holds 0 = censored or a cause `1..=K` (as [`super::cuminc`]); `cause`
//! is the failure of interest (crr's `failcode`, `cencode` 0). The subdistribution hazard
//! of the cause is `λ0(t) e^{zβ}`. A row that failed of a competing cause stays in the risk
//! set after its time with the weight `G(t-)/G(t_j-)`, `G` the Kaplan–Meier estimate of the
//! censoring distribution taken just before the time (cmprsk's `uuu`; ties: censorings at
//! `t` count in `G` after `t`). For the cause's tie group at `t` (Breslow ties, as crr):
//!
//! ```text
//! D(t) = Σ_{t_j ≥ t} w_j + G(t-) · Σ_{competing j, t_j < t} w_j / G(t_j-),   w = e^{zβ}
//! ℓ = Σ_{cause} η - Σ_t d(t) ln D(t)
//! ```
//!
//! and likewise the first and second moments. In risk-set order (latest first) the first
//! sum is the Cox risk-set prefix sum and the second a suffix sum of the competing rows'
//! `w/G`, read on the row after the group's end and multiplied by `G(t-)`: Newton's method
//! is Cox's with one more cumulative sum. The information's second moments become one
//! weighted `ZᵀZ` with the row weight `w_j a_j + δ2_j (w_j/G_j) b_j`: `a_j = Σ d/D` over the
//! cause's groups at or before `t_j` (Cox's) and `b_j = Σ d G/D` over those after it.
//!
//! # Variance
//!
//! crr's sandwich `V = I⁻¹ (Σ_i (η_i + ψ_i)(η_i + ψ_i)ᵀ) I⁻¹` (`crrvv`): `η_i` the score
//! residual of the weighted model,
//! `η_i = δ1_i (z_i - μ(t_i)) - w_i (z_i a_i - c_i) - δ2_i (w_i/G_i)(z_i b_i - e_i)` with
//! `c, e` the sums of `a, b` weighted by `μ`, and `ψ_i` the term for the estimation of `G`:
//! `ψ_i = δc_i q(t_i)/Y(t_i) - Σ_{u ≤ t_i} C(u) q(u)/Y(u)²` over the censoring times `u`
//! (`C` censored at `u`, `Y` rows with time ≥ u), where
//! `q(u) = P1(u) R0(u) - P0(u) R1(u)`: `P0, P1` the competing rows' `Σ w/G`, `Σ w z/G` before
//! `u` (the risk set's suffix sums again) and `R0, R1` the cause's `Σ d G/D`, `Σ d G μ/D` at
//! or after `u` (prefix sums). So the variance is cumulative sums too, with no quadratic
//! loop; [`super::finegray_plain`] is this arithmetic in `f64` and agrees with crr's loops
//! to 1e-8.
//!
//! # Protocol
//!
//! 1. Cause indicators `[code = j]`, `j = 0..=K`, exact on the 64-bit value (as
//!    [`super::cuminc`]); the design ([`crate::terms`]), standardised as Cox's.
//! 2. Risk-set order ([`RiskOrder`]) of `[δ1, δ2, δc, used, z…]`; per tie group `Y`, `C`,
//!    `d`; `G(t-)` from the suffix products of `1 - C/Y` ([`super::km::suffix_product`]) on
//!    the group ends, copied to the group's rows; `1/G` (at least 1: a plain reciprocal).
//! 3. Newton–Raphson as Cox's ([`super::cox`]: the same step halving, lifelines' stopping
//!    rule evaluated inside MPC, the final untaken step, the monotone-likelihood check).
//! 4. At the estimate, the influence terms above, `Σ (η + ψ)(η + ψ)ᵀ` and the sandwich, its
//!    diagonal's square roots; back to the original scale.
//!
//! # What the compute parties learn
//!
//! As Cox's: the number of complete cases and of events of the cause (named in the
//! result), one bit "every complete case has a cause in `0..=K`" (refused otherwise), one
//! bit "every covariate varies" (with `min_level_rows` one bit "every level has enough"),
//! per iteration one bit "converged" and one bit "the log-likelihood decreased", at the
//! estimate one bit "the likelihood is monotone"; the risk order's scan depth (the largest
//! number of rows sharing one time, rounded up to a power of two). Never the censoring
//! weights, the number of competing events, coefficients or per-row values.
//!
//! # What the recipients get
//!
//! Sealed: the coefficients and crr's standard errors (times `2^20`, original scale) and
//! the two pseudo log-likelihoods; ratios, intervals and p-values are computed at the
//! recipient ([`FinegrayPublic`]'s [`Tail`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::decode;
use tessera_mpc::{AShare, Party};

use crate::disclosure::Disclosure;
use crate::error::{Result, StatsError};
use crate::sealed::{Sealed, Tail};
use crate::table::{Frame, PlainFrame};
use crate::terms;

use super::cox::{
    coef_rows, diagonal_se, join, name_width, newton, open_counts, outcome_design, sandwich_root,
    standardise, tile, weight_bits, write_iterations, CoxFit, CoxRow, Design, ModelInputs,
    NewtonEnd, NewtonTrace,
};
use super::cuminc::{cause_indicators, MAX_CAUSES};
use super::finegray_mpc::Model;
use super::risk::RiskOrder;

fn conf_level() -> f64 {
    0.95
}
fn max_steps() -> usize {
    50
}
fn first_cause() -> u32 {
    1
}

/// Fine–Gray subdistribution hazards regression (`kind = "finegray"`, R's
/// `cmprsk::crr(time, cause, X, failcode = cause, cencode = 0)`): the effect of covariates
/// on the cumulative incidence of one cause in the presence of competing causes.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FinegraySpec {
    /// Duration column (`party.column`, numeric, ≥ 0).
    pub time: String,
    /// Cause column (numeric): 0 = censored, `1..=causes` = the cause of the event.
    pub event: String,
    /// Number of causes `K` (1 to [`MAX_CAUSES`]): the cause column takes values `0..=K`.
    pub causes: u32,
    /// The cause of interest (crr's `failcode`, in `1..=causes`); the others compete.
    #[serde(default = "first_cause")]
    pub cause: u32,
    /// Model terms ([`crate::terms`]), as Cox's.
    pub covariates: Vec<String>,
    /// Newton–Raphson step limit.
    #[serde(default = "max_steps")]
    pub max_steps: usize,
    /// Confidence level of the intervals.
    #[serde(default = "conf_level")]
    pub conf_level: f64,
}

/// What a Fine–Gray analysis is refused for before any data is read: no covariates, no
/// causes or too many, a cause of interest that is not one of them, a confidence level
/// outside (0, 1), no steps. The computations call it first; the station's policy check too.
pub fn check(spec: &FinegraySpec) -> Result<()> {
    if spec.covariates.is_empty() {
        return Err(StatsError::Invalid(
            "the Fine–Gray model needs at least one covariate".into(),
        ));
    }
    if spec.causes == 0 || spec.causes > MAX_CAUSES {
        return Err(StatsError::Invalid(format!(
            "`causes` must be between 1 and {MAX_CAUSES}"
        )));
    }
    if spec.cause == 0 || spec.cause > spec.causes {
        return Err(StatsError::Invalid(format!(
            "`cause = {}` is not one of the causes 1..={} of column `{}` (0 is censoring)",
            spec.cause, spec.causes, spec.event
        )));
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

/// The refusal of a complete case whose cause is not `0..=K` (MPC and twin).
pub(crate) fn bad_cause(spec: &FinegraySpec) -> StatsError {
    StatsError::Invalid(format!(
        "column `{}`: every cause must be 0 (censored) or one of 1..={} (a complete case has \
         another value)",
        spec.event, spec.causes
    ))
}

/// The refusal of a model without events of the cause (MPC and twin).
pub(crate) fn no_events(spec: &FinegraySpec, n: u64, events: u64) -> StatsError {
    StatsError::Invalid(format!(
        "the Fine–Gray model needs events of cause {}: {n} complete cases with {events} \
         events of that cause",
        spec.cause
    ))
}

/// The result of a Fine–Gray model, shaped like `summary(crr(...))`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FinegrayResult {
    /// The cause of interest.
    pub cause: u32,
    /// Complete cases.
    pub n: u64,
    /// Events of the cause.
    pub events: u64,
    /// Confidence level.
    pub conf_level: f64,
    /// One row per covariate: `coef`, `exp_coef` (the subdistribution hazard ratio), crr's
    /// sandwich standard error, the intervals, `z`, `p`.
    pub rows: Vec<CoxRow>,
    /// Log pseudo-likelihood at the estimate.
    pub log_likelihood: f64,
    /// Log pseudo-likelihood at β = 0.
    pub log_likelihood_null: f64,
    /// Pseudo likelihood-ratio statistic `2(ℓ - ℓ0)` (crr's summary; no p-value, as there).
    pub lr_statistic: f64,
    /// Its degrees of freedom.
    pub lr_df: usize,
    /// Newton iterations.
    pub iterations: usize,
    /// Step halvings.
    pub halvings: usize,
    /// Whether the convergence rule was met.
    pub converged: bool,
}

pub(crate) fn render(spec: &FinegraySpec, names: Vec<String>, fit: &CoxFit) -> FinegrayResult {
    let p = fit.coef.len();
    let se = diagonal_se(fit.robust_cov.as_ref().unwrap_or(&fit.cov), p);
    FinegrayResult {
        cause: spec.cause,
        n: fit.n,
        events: fit.events,
        conf_level: spec.conf_level,
        rows: coef_rows(&names, &fit.coef, &se, None, spec.conf_level),
        log_likelihood: fit.log_likelihood,
        log_likelihood_null: fit.log_likelihood_null,
        lr_statistic: 2.0 * (fit.log_likelihood - fit.log_likelihood_null),
        lr_df: p,
        iterations: fit.trace.iterations,
        halvings: fit.trace.halvings,
        converged: fit.trace.converged,
    }
}

fn not_converged(trace: &NewtonTrace, spec: &FinegraySpec) -> Result<()> {
    if trace.converged {
        Ok(())
    } else {
        Err(StatsError::NotConverged(format!(
            "the Fine–Gray model did not converge in {} Newton steps (max_steps)",
            spec.max_steps
        )))
    }
}

/// The plaintext twin ([`super::finegray_plain`]), with the disclosure rules Cox's has.
pub fn finegray_plain(
    frame: &PlainFrame,
    spec: &FinegraySpec,
    disclosure: &Disclosure,
) -> Result<FinegrayResult> {
    check(spec)?;
    let names: Vec<String> = terms::plain_design(frame, &spec.covariates)?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let fit = super::finegray_plain::finegray_fit(frame, spec)?;
    disclosure.check_rows(fit.n as usize)?;
    disclosure.check_vars(names.len(), fit.n as usize)?;
    not_converged(&fit.trace, spec)?;
    Ok(render(spec, names, &fit))
}

/// What the compute parties know of a Fine–Gray fit and the recipient's tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinegrayPublic {
    /// The analysis.
    pub spec: FinegraySpec,
    /// Fractional bits of the sealed values.
    pub frac_bits: u32,
    /// The model's covariate names (categorical columns expanded).
    pub names: Vec<String>,
    /// Complete cases (opened: documented leakage).
    pub n: u64,
    /// Events of the cause among them (opened: documented leakage).
    pub events: u64,
    /// The Newton iterations (opened bit by bit).
    pub trace: NewtonTrace,
}

/// Extra bits of the sealed coefficients and standard errors (as Cox's).
pub(crate) const K: u32 = 20;

impl Tail for FinegrayPublic {
    type Result = FinegrayResult;

    /// Values: `2^20·coef` (m), `2^20·√e·se` (m, crr's sandwich), then `ℓ`, `ℓ(0)`.
    fn open(&self, opened: &[u128]) -> Result<FinegrayResult> {
        let (f, m) = (self.frac_bits, self.names.len());
        if opened.len() != 2 * m + 2 || self.events == 0 {
            return Err(StatsError::Invalid(
                "Fine–Gray: the sealed values do not fit".into(),
            ));
        }
        not_converged(&self.trace, &self.spec)?;
        let unit = 2f64.powi(K as i32);
        let scale = unit * (self.events as f64).sqrt();
        let mut cov = vec![0f64; m * m];
        for j in 0..m {
            let se = decode(opened[m + j], f) / scale;
            cov[j * m + j] = se * se;
        }
        let fit = CoxFit {
            coef: (0..m).map(|j| decode(opened[j], f) / unit).collect(),
            cov,
            robust_cov: None,
            log_likelihood: decode(opened[2 * m], f),
            log_likelihood_null: decode(opened[2 * m + 1], f),
            n: self.n,
            events: self.events,
            trace: self.trace.clone(),
            zph: None,
            concordance: None,
        };
        Ok(render(&self.spec, self.names.clone(), &fit))
    }
}

impl fmt::Display for FinegrayResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Fine–Gray subdistribution hazards (cause {}; Breslow ties)",
            self.cause
        )?;
        writeln!(f, "  number of observations = {}", self.n)?;
        writeln!(f, "  events of the cause = {}", self.events)?;
        writeln!(
            f,
            "  pseudo log-likelihood = {:.4}, null {:.4}",
            self.log_likelihood, self.log_likelihood_null
        )?;
        write_iterations(f, self.iterations, self.halvings, self.converged)?;
        let pct = self.conf_level * 100.0;
        let w = name_width(&self.rows);
        writeln!(
            f,
            "\n  {:<w$} {:>9} {:>9} {:>9} {:>8} {:>10} {:>10} {:>10}",
            "covariate",
            "coef",
            "exp(coef)",
            "se(coef)",
            "z",
            "p",
            format!("{pct:.0}% lower"),
            format!("{pct:.0}% upper")
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "  {:<w$} {:>9.4} {:>9.4} {:>9.4} {:>8.2} {:>10.3e} {:>10.4} {:>10.4}",
                r.covariate, r.coef, r.exp_coef, r.se, r.z, r.p, r.exp_coef_lower, r.exp_coef_upper
            )?;
        }
        writeln!(
            f,
            "\n  pseudo likelihood ratio test = {:.2} on {} df",
            self.lr_statistic, self.lr_df
        )
    }
}

/// The Fine–Gray model in MPC; see the module docs. Ends with the fit sealed for the
/// recipients.
pub fn finegray(
    p: &mut Party,
    frame: &Frame,
    spec: &FinegraySpec,
    disclosure: &Disclosure,
) -> Result<Sealed<FinegrayPublic>> {
    check(spec)?;
    let ModelInputs {
        time,
        event: e,
        design:
            Design {
                cols: x,
                names,
                levels,
                ..
            },
        used,
    } = outcome_design(p, frame, (&spec.time, &spec.event), &spec.covariates)?;
    let m = x.len();
    let Some(ind) = cause_indicators(p, e, &used, spec.causes as usize)? else {
        return Err(bad_cause(spec));
    };
    let dd = p.mul_many(&[(&ind[spec.cause as usize], &used), (&ind[0], &used)])?;
    let (d1, dc) = (&dd[0], &dd[1]);
    // Every complete case is censored, of the cause or competing: δ2 = used - δ1 - δc.
    let d2 = used.sub(d1).sub(dc);
    // LEAKAGE: complete cases and events of the cause (named in the result), as Cox's.
    let (nu, ne) = open_counts(p, (&used, d1), m, &levels, disclosure)?;
    if nu < 2 || ne == 0 {
        return Err(no_events(spec, nu, ne));
    }
    let (z_all, isd, _) = standardise(p, &x, &used, nu, &names)?;
    let n = frame.rows;
    let mut cols = vec![d1.clone(), d2, dc.clone(), used];
    cols.extend(z_all.split(&vec![n; m]));
    let risk = RiskOrder::stratified(p, time, &[], &cols)?;
    let mut moved = risk.cols.clone();
    let z_cols = moved.split_off(4);
    let [d1, d2, dc, used]: [AShare<u128>; 4] = moved.try_into().expect("four columns");
    let [mult, cens, ry, g, h] = Model::weights(p, &risk, &used, &d1, &dc)?;
    let z_all = join(&z_cols);
    let dz = p.dot(&tile(&d1, m), &z_all, n)?;
    let model = Model {
        n,
        m,
        e_bits: weight_bits(nu),
        events: ne,
        z_rows: super::logrank::columns_to_rows(&z_cols),
        z_all,
        used,
        d1,
        d2,
        dc,
        mult,
        cens,
        ry,
        g,
        h,
        dz,
        risk,
    };
    let NewtonEnd {
        beta,
        d,
        ll,
        inv,
        ll0,
        trace,
        ..
    } = newton(p, m, ne, spec.max_steps, |p, b| model.derivatives(p, b))?;
    let s = model.influence(p, &d)?;
    let root = sandwich_root(p, &s, &inv, n, ne)?;
    // Back to the original scale: coef·2^K = β·(2^K/sd); se·2^K·√e = √diag(V e)·(2^K/sd).
    let scaled = p.mul_fix(&join(&[beta, root]), &tile(&isd, 2))?;
    // The convergence bit is public: a fit that did not converge ends here, at every party.
    not_converged(&trace, spec)?;
    let public = FinegrayPublic {
        spec: spec.clone(),
        frac_bits: p.frac_bits(),
        names,
        n: nu,
        events: ne,
        trace,
    };
    Sealed::new(p, public, &join(&[scaled, ll, ll0]))
}
