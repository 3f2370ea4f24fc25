//! Linear regression by least squares, optionally ridge-penalised, inside MPC.
//!
//! # Protocol
//!
//! The design's moments ([`super::design`]) over the covariates and the outcome together
//! give the covariance `C` (k+1 variables, the outcome last; with f + 16 fractional bits),
//! the reciprocal standard deviations `r`, the correlation matrix of the covariates `R_xx`
//! and the means `m` (centred when the model has an intercept; raw second moments otherwise,
//! like statsmodels' uncentred R²). Then, on k×k shared matrices only:
//!
//! - `R'_xy = C_xy ∘ r_x` (the outcome is left on its own scale, so that no second scale
//!   factor enters the slopes);
//! - `b = (R_xx + λ·diag(r_x²))⁻¹ R'_xy` by `spd_solve`, then one step of iterative
//!   refinement against `R_xx` and `R'_xy` held with f + 16 bits (the residual, scaled by
//!   2^16, is solved again), so `b` has f + 16 bits; λ = 0 for least squares (the penalty
//!   λ on the original scale, module docs of [`super`], in standardised units);
//! - `RSS/n = C_yy − b'R'_xy` (least squares) or `C_yy − 2b'R'_xy + b'R_xx b` (ridge), and
//!   `1 − R² = (RSS/n · r_y)·r_y`;
//! - slopes `β_j = b_j · r_j` and intercept `β_0 = m_y − m_x'β = m_y − u'b` (`u = m_x ∘ r_x`,
//!   so that a tiny slope's rounding is not multiplied by a large mean), both with f + 16
//!   bits and rounded once;
//! - standard errors (least squares only), multiplied by √n before they are opened:
//!   `√n·se_j = s·r_j·√Q_jj` and `√n·se_0 = s·√(1 + u'Qu)` with `Q = R_xx⁻¹`
//!   (`spd_inverse`), `u = m_x ∘ r_x` and `s = √(RSS/(n − p))` the residual standard
//!   deviation; the public factor √n keeps them far above the fixed-point resolution for
//!   large n.
//!
//! The compute parties learn `n` and the rule bits of the design; the coefficients, the
//! √n-scaled standard errors and R² are sealed for the recipients ([`crate::sealed`]), whose
//! tail ([`OlsPublic`]) computes t statistics, p-values (Student t, n − p degrees of
//! freedom), intervals and adjusted R².
//!
//! # Cost
//!
//! The design's moments ([`super::design`]) plus two `spd_solve`s and one `spd_inverse` of
//! k×k, a few products of k-vectors and a `sqrt` of k + 2 values. Measured
//! (`tessera bench regression`, 1,000,000 rows, 20 covariates, three processes on loopback):
//! 356 MB sent by the busiest party (≈ 16·n·(k + 2) bytes), 463 rounds whatever n.
//!
//! # Accuracy
//!
//! Within the valid range of [`super::design`], for a correlation matrix with condition
//! number below 10^5 and `|b_j| < 2^20`. The result is opened with f + 16 fractional bits.
//! Measured (`tests/regression.rs`, largest over five runs): on the fixtures (stackloss,
//! with and without intercept; 2000 synthetic rows with missing values and a categorical
//! covariate; ridge) coefficients within 8e-7 of statsmodels / numpy (absolute; the issue
//! asks 1e-4) and standard errors within 5e-6 relative (asked: 1e-3); covariates on scales
//! from 0.01 to 3·10^4 keep 1e-4 relative precision on every coefficient.
//!
//! LEAKAGE: to the compute parties, nothing beyond `n` and the rule bits of the design.

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::{decode, encode};
use tessera_mpc::{AShare, Party};

use crate::analysis::OlsSpec;
use crate::disclosure::Disclosure;
use crate::error::{Result, StatsError};
use crate::sealed::{Sealed, Tail};
use crate::table::Frame;

use super::design::{self, at, broadcast, constant, gather, HI};

/// Smallest residual variance (RSS/n) with standard errors to 1e-4: 2^-11, 8192 units of
/// 2^-24.
pub const RSS_MIN: f64 = 4.8828125e-4;
/// Smallest outcome variance ridge regression accepts (its right-hand side is held at f
/// bits, in units of the outcome).
pub const RIDGE_MIN_OUTCOME_VAR: f64 = 1e-2;
/// Largest residual variance whose square root the fixed point takes: 2^38.
pub const RSS_MAX: f64 = 274877906944.0;
use super::{table, OlsResult};

pub(crate) fn check_conf(conf_level: f64) -> Result<()> {
    if !(conf_level > 0.0 && conf_level < 1.0) {
        return Err(StatsError::Invalid(format!(
            "conf_level must be in (0, 1), not {conf_level}"
        )));
    }
    Ok(())
}

/// What the compute parties know of a linear regression and the recipient's tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OlsPublic {
    /// The analysis.
    pub spec: OlsSpec,
    /// Fractional bits of the parties (the values are sealed with `frac_bits + 16`).
    pub frac_bits: u32,
    /// The design columns' names.
    pub names: Vec<String>,
    /// Whether the model has an intercept.
    pub intercept: bool,
    /// Rows used (opened: documented leakage).
    pub n: usize,
}

impl Tail for OlsPublic {
    type Result = OlsResult;

    /// Values (f + 16 fractional bits): the coefficients, R², then (least squares only) the
    /// √n-scaled standard errors.
    fn open(&self, vals: &[u128]) -> Result<OlsResult> {
        let (spec, n, vars) = (&self.spec, self.n, self.names.len());
        let ridge = spec.ridge > 0.0;
        let want = vars + 1 + if ridge { 0 } else { vars };
        if vals.len() != want || n <= vars {
            return Err(StatsError::Invalid(
                "OLS: the sealed values do not fit".into(),
            ));
        }
        let opened: Vec<f64> = vals
            .iter()
            .map(|&v| decode(v, self.frac_bits + HI))
            .collect();
        let coef = &opened[..vars];
        let r_squared = opened[vars];
        let se: Option<Vec<f64>> = (!ridge).then(|| {
            opened[vars + 1..]
                .iter()
                .map(|v| v / (n as f64).sqrt())
                .collect()
        });
        let df = (n - vars) as f64;
        let adj = (!ridge).then(|| {
            let num = if self.intercept {
                n as f64 - 1.0
            } else {
                n as f64
            };
            1.0 - (1.0 - r_squared) * num / df
        });
        Ok(OlsResult {
            outcome: spec.outcome.clone(),
            nobs: n,
            df_resid: df,
            r_squared,
            adj_r_squared: adj,
            ridge: spec.ridge,
            conf_level: spec.conf_level,
            coefficients: table(&self.names, coef, se.as_deref(), Some(df), spec.conf_level),
        })
    }
}

/// The largest ridge penalty in standardised units, `λ/sd_j²`: the solved matrix is the
/// correlation matrix (entries at most 1) plus these on its diagonal, and `spd_solve` keeps
/// its precision for condition numbers below 10^5 (measured: 3·10^5 already ends with a wrong
/// number, `tests/scales.rs`).
pub const MAX_STANDARDISED_PENALTY: f64 = 1e4;

/// Fits a linear regression (or ridge regression) on the shared table. Every compute party
/// calls this with its shares; the fit ends sealed for the recipients.
pub fn ols(
    p: &mut Party,
    frame: &Frame,
    spec: &OlsSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<OlsPublic>> {
    check_conf(spec.conf_level)?;
    if !(spec.ridge >= 0.0 && spec.ridge.is_finite()) {
        return Err(StatsError::Invalid(format!(
            "ridge must be a finite number ≥ 0, not {}",
            spec.ridge
        )));
    }
    let ridge = spec.ridge > 0.0;
    if ridge && !spec.intercept {
        return Err(StatsError::Invalid(
            "ridge regression needs an intercept (it is not penalised)".into(),
        ));
    }
    let prep = design::prepare(
        p,
        frame,
        &spec.outcome,
        &spec.covariates,
        spec.intercept,
        disclosure,
    )?;
    let (n, vars) = (prep.n, prep.vars());
    let k = prep.columns.len();
    let kk = k + 1;
    let f = p.frac_bits();

    let mut cols: Vec<&AShare<u128>> = prep.columns.iter().collect();
    cols.push(&prep.outcome);
    let m = design::moments(p, &cols, &prep.weight, n, prep.intercept, false)?;
    let s = design::standardise(p, &m)?;

    let xx: Vec<usize> = (0..k)
        .flat_map(|j| (0..k).map(move |l| j * kk + l))
        .collect();
    let xy: Vec<usize> = (0..k).map(|j| j * kk + k).collect();
    let rxx = gather(&s.corr, &xx);
    let r_x = s.r.slice(0..k);
    let r_y = at(&s.r, k);
    // The outcome is not standardised: R'_xy = C_xy ∘ r_x (units of y), so that the slopes
    // come back as b ∘ r_x without a second, inconsistent scale factor for y.
    let mut cy_hi = gather(&m.cov, &xy);
    cy_hi = p.mul_fix(&cy_hi, &r_x)?;
    let rxy_hi = cy_hi;
    let cyy_hi = gather(&m.cov, &[k * kk + k]);
    let lo = p.trunc(&AShare::concat(&[&rxy_hi, &cyy_hi]), HI)?;
    let rxy = lo.slice(0..k);
    let cyy = at(&lo, k);

    let mut a = rxx.clone();
    let mut a_hi = gather(&s.corr_hi, &xx);
    if ridge {
        // The ridge path solves with R'_xy at f bits (units of y): an outcome on a small
        // scale keeps too few significant bits there (a scale of 4·10^-3 left a coefficient
        // 1.3·10^-4 off, found by tests/scales.rs). Refused below a variance of 10^-2.
        let floor = p.public(&[encode::<u128>(RIDGE_MIN_OUTCOME_VAR, f)]);
        let low = p.lt_arith(&cyy, &floor)?;
        // LEAKAGE: one bit, whether the outcome's variance among the complete rows is below
        // RIDGE_MIN_OUTCOME_VAR (an error).
        if p.reveal(&low)?[0] == 1 {
            return Err(StatsError::Invalid(format!(
                "ridge: the outcome's variance is below {RIDGE_MIN_OUTCOME_VAR:e}, too small \
                 for the fixed point ({f} fractional bits) to solve with; rescale the outcome \
                 (e.g. multiply it by 1000)"
            )));
        }
        let r2 = p.mul_fix(&r_x, &r_x)?;
        let pen = p.mul_const_fix(&r2, spec.ridge)?;
        // The penalty in standardised units, λ/sd_j², is an entry of the matrix solved
        // below: a covariate with a small standard deviation (values on a scale of 10^-3)
        // turns a moderate λ into an entry beyond what the fixed point's products hold, and
        // the solve would end with a wrong number. Refused instead.
        let limit = MAX_STANDARDISED_PENALTY;
        let lim = p.public(&vec![encode::<u128>(limit, f); k]);
        let over = p.lt_arith(&lim, &pen)?;
        let any = p.lt_arith(&p.public(&[0u128]), &over.sum())?;
        // LEAKAGE: one bit, whether some covariate's penalty λ/sd_j² exceeds the limit (an
        // error; which covariate is not opened).
        if p.reveal(&any)?[0] == 1 {
            return Err(StatsError::Invalid(format!(
                "ridge: the penalty divided by a covariate's variance exceeds {limit:e}, \
                 beyond what the fixed point ({f} fractional bits) can solve with; rescale the \
                 covariates on a small scale (e.g. units instead of thousandths) or lower \
                 the ridge"
            )));
        }
        let pen_hi = pen.shl(HI);
        for j in 0..k {
            let d = j * k + j;
            a.a[d] = a.a[d].wrapping_add(pen.a[j]);
            a.b[d] = a.b[d].wrapping_add(pen.b[j]);
            a_hi.a[d] = a_hi.a[d].wrapping_add(pen_hi.a[j]);
            a_hi.b[d] = a_hi.b[d].wrapping_add(pen_hi.b[j]);
        }
    }
    // Solve A b = R'_xy, then one step of iterative refinement against A and R'_xy held with
    // f + HI bits: the residual r = R'_xy − A b (f + HI bits) is read as 2^HI·r with f bits
    // and solved again, so the correction comes out with f + HI bits.
    let b0 = p.spd_solve(&a, &rxy, k, 1)?;
    let ab = p.matmul_fix(&a_hi, &b0, k, k, 1)?;
    let delta = p.spd_solve(&a, &rxy_hi.sub(&ab), k, 1)?;
    let b_hi = b0.shl(HI).add(&delta);
    let b = p.trunc(&b_hi, HI)?;
    let q = p.spd_inverse(&a, k)?;
    // Residual sum of squares over n, with f + HI bits (least squares: C_yy − b'R'_xy, the
    // product exact and shifted exactly; ridge: C_yy − 2 b'R'_xy + b'R_xx b at f bits).
    let rss_hi = if ridge {
        let fit = p.dot_fix(&b, &rxy, k)?;
        let rb = p.matmul_fix(&rxx, &b, k, k, 1)?;
        let brb = p.dot_fix(&b, &rb, k)?;
        cyy.sub(&fit.shl(1)).add(&brb).shl(HI)
    } else {
        let fit = p.dot(&b_hi, &rxy_hi, k)?;
        let fit = design::trunc_exact(p, &fit, f + HI)?;
        cyy_hi.sub(&fit)
    };
    // RSS/n at f bits, for the standard errors (none for ridge: its truncation is skipped).
    let rss_n = if ridge {
        None
    } else {
        Some(p.trunc(&rss_hi, HI)?)
    };
    // 1 − R² = RSS/C_yy = (RSS·(1/sd_y))·(1/sd_y), with 1/sd_y at 48 fractional bits: r_y
    // (f bits) where var_y < 1 (r_y > 1 keeps its precision), else rsqrt of var_y read as a
    // 40-bit number (2^48/sd_y: r_y at f bits would keep only a few bits for sd_y ~ 10^6).
    // Selected by a product with the comparison bit (nothing opened).
    let ry_big = crate::describe::with_frac(p, 40, |p| p.rsqrt(&cyy))?;
    let one = p.public(&[encode::<u128>(1.0, f)]);
    let small = p.lt_arith(&cyy, &one)?;
    let pick = p.mul(&small, &r_y.shl(48 - f).sub(&ry_big))?;
    let ry48 = ry_big.add(&pick);
    // The products reach 2^(88 + 20), beyond the probabilistic truncation: shifted exactly.
    let half = p.mul(&rss_hi, &ry48)?;
    let half = design::trunc_exact(p, &half, 48)?;
    let unexplained = p.mul(&half, &ry48)?;
    let unexplained = design::trunc_exact(p, &unexplained, 48)?;
    if let Some(rss_n) = &rss_n {
        // The standard errors take √(RSS/(n − p)) at f bits: a residual variance below
        // 2^-11 keeps too few significant bits (an outcome on a small scale, or a nearly
        // exact fit), one above 2^38 leaves the square root's range. One bit opened.
        let lim = p.public(&[encode::<u128>(RSS_MIN, f), encode::<u128>(RSS_MAX, f)]);
        let out = p.lt_arith(
            &AShare::concat(&[rss_n, &lim.slice(1..2)]),
            &AShare::concat(&[&lim.slice(0..1), rss_n]),
        )?;
        // LEAKAGE: one bit, whether the residual variance RSS/n lies outside
        // [RSS_MIN, RSS_MAX] (an error).
        if p.reveal(&out.sum())?[0] != 0 {
            return Err(StatsError::Invalid(format!(
                "the residuals' variance lies outside [{RSS_MIN:e}, {RSS_MAX:e}], where the \
                 fixed point ({f} fractional bits) cannot give standard errors: rescale the \
                 outcome (e.g. multiply it by 1000 if it is small, or use thousands if it \
                 is large)"
            )));
        }
    }

    // Slopes b ∘ r_x and the intercept m_y − m_x'β with f + HI bits, rounded once at the end.
    // m_x'β is computed as u'b with u = m_x ∘ r_x (moderate numbers, mean over sd): the
    // same value, but a slope of a covariate on a large scale (10^-8 and below) holds few
    // significant bits even at f + HI, and the intercept would multiply its rounding by
    // the mean (found by tests/scales.rs: 4·10^-4 of the outcome's scale).
    let slopes_hi = p.mul_fix(&b_hi, &r_x)?;
    let u = p.mul_fix(&m.mean.slice(0..k), &r_x)?;
    let coef_hi = if prep.intercept {
        let dot = p.dot_fix(&u, &b_hi, k)?;
        let b0 = at(&m.mean, k).shl(HI).sub(&dot);
        AShare::concat(&[&b0, &slopes_hi])
    } else {
        slopes_hi
    };
    // Everything is opened with f + HI fractional bits: small coefficients and standard
    // errors (covariates on a large scale) keep their relative precision.
    let coef = coef_hi;

    let se = if let Some(rss_n) = &rss_n {
        let s2 = p.mul_const_fix(rss_n, n as f64 / (n - vars) as f64)?;
        let qdiag = gather(&q, &(0..k).map(|j| j * k + j).collect::<Vec<_>>());
        let mut under = vec![&s2];
        let a0;
        if prep.intercept {
            let qu = p.matmul_fix(&q, &u, k, k, 1)?;
            let uqu = p.dot_fix(&u, &qu, k)?;
            a0 = p.add_const(&uqu, encode(1.0, f));
            under.push(&a0);
        }
        under.push(&qdiag);
        let roots = p.sqrt(&AShare::concat(&under))?;
        let g = p.mul_fix(&roots.slice(1..1 + vars), &broadcast(&roots, 0, vars))?;
        let slopes_part = p.mul_trunc(&g.slice(vars - k..vars), &r_x, f - HI)?;
        Some(if prep.intercept {
            AShare::concat(&[&at(&g, 0).shl(HI), &slopes_part])
        } else {
            slopes_part
        })
    } else {
        None
    };

    let mut open = vec![&coef];
    let r2 = constant(p, 1.0, 1).shl(HI).sub(&unexplained);
    open.push(&r2);
    if let Some(se) = &se {
        open.push(se);
    }
    // Sealed for the recipients: coefficients, R², √n-scaled standard errors.
    let public = OlsPublic {
        spec: spec.clone(),
        frac_bits: f,
        names: prep.names.clone(),
        intercept: prep.intercept,
        n,
    };
    Sealed::new(p, public, &AShare::concat(&open))
}
