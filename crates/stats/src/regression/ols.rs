//! Linear regression by least squares, optionally ridge-penalised, inside MPC.
//!
//! # Protocol
//!
//! The design's moments ([`super::design`]) over the covariates and the outcome together
//! give the correlation matrix `R` (k+1 variables, the outcome last), the standard
//! deviations `sd` and their reciprocals `r`, and the means `m` (centred when the model has
//! an intercept; raw second moments otherwise, like statsmodels' uncentred R²). Then, on
//! k×k shared matrices only:
//!
//! - standardised slopes `b = (R_xx + λ·diag(r_x²))⁻¹ R_xy` (one `spd_inverse`, one
//!   product); λ = 0 for least squares. The penalty term is λ on the original scale
//!   (module docs of [`super`]) expressed in standardised units;
//! - `1 − R² = 1 − b'R_xy` (least squares) or `1 − 2b'R_xy + b'R_xx b` (ridge);
//! - slopes `β_j = b_j · sd_y · r_j`, intercept `β_0 = m_y − m_x'β`;
//! - standard errors (least squares only), multiplied by √n before they are opened:
//!   `√n·se_j = s·r_j·√Q_jj` and `√n·se_0 = s·√(1 + u'Qu)` with `Q = R_xx⁻¹`,
//!   `u = m_x ∘ r_x` and `s = sd_y·√((1 − R²)·n/(n − p))` the residual standard deviation;
//!   the multiplication by the public √n keeps them far above the fixed-point resolution for
//!   large n.
//!
//! Opened: the coefficients, the √n-scaled standard errors and R² (plus `n` and the two
//! rule bits of the design). t statistics, p-values (Student t, n − p degrees of freedom),
//! intervals and adjusted R² are computed in plaintext from those.
//!
//! # Cost
//!
//! The design's moments (see [`super::design`]: for 1M rows and 20 covariates about
//! 16·n·(c − 1 + k + 1) bytes per party) plus one `spd_inverse` of k×k, a few products of
//! k-vectors and a `sqrt` of k + 2 values: a few hundred rounds in all, independent of n.
//!
//! # Accuracy
//!
//! Within the valid range of [`super::design`] and for a correlation matrix with condition
//! number below 10^5, coefficients are right to about 10^-6 relative to their scale
//! (`sd_y/sd_x`) and standard errors to about 10^-5 relative (`tests/regression.rs`
//! measures both against statsmodels).
//!
//! LEAKAGE: nothing beyond the result, `n` and the two rule bits of the design.

use tessera_mpc::fixed::decode;
use tessera_mpc::{AShare, Party};

use crate::analysis::OlsSpec;
use crate::disclosure::Disclosure;
use crate::error::{Result, StatsError};
use crate::table::Frame;

use super::design::{self, at, broadcast, constant, gather};
use super::{table, OlsResult};

pub(crate) fn check_conf(conf_level: f64) -> Result<()> {
    if !(conf_level > 0.0 && conf_level < 1.0) {
        return Err(StatsError::Invalid(format!(
            "conf_level must be in (0, 1), not {conf_level}"
        )));
    }
    Ok(())
}

/// Fits a linear regression (or ridge regression) on the shared table. Every compute party
/// calls this with its shares and gets the same result.
pub fn ols(
    p: &mut Party,
    frame: &Frame,
    spec: &OlsSpec,
    disclosure: &Disclosure,
) -> Result<OlsResult> {
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
    let rxy = gather(&s.corr, &xy);
    let r_x = s.r.slice(0..k);
    let sd_y = at(&s.sd, k);

    let a = if ridge {
        let r2 = p.mul_fix(&r_x, &r_x)?;
        let pen = p.mul_const_fix(&r2, spec.ridge)?;
        let mut a = rxx.clone();
        for j in 0..k {
            a.a[j * k + j] = a.a[j * k + j].wrapping_add(pen.a[j]);
            a.b[j * k + j] = a.b[j * k + j].wrapping_add(pen.b[j]);
        }
        a
    } else {
        rxx.clone()
    };
    let q = p.spd_inverse(&a, k)?;
    let b = p.matmul_fix(&q, &rxy, k, k, 1)?;
    let fit = p.dot_fix(&b, &rxy, k)?;
    // 1 − R² (the unexplained share of the outcome's variance).
    let unexplained = if ridge {
        let rb = p.matmul_fix(&rxx, &b, k, k, 1)?;
        let brb = p.dot_fix(&b, &rb, k)?;
        p.add_const(&brb.sub(&fit.shl(1)), tessera_mpc::fixed::encode(1.0, f))
    } else {
        p.add_const(&fit.neg(), tessera_mpc::fixed::encode(1.0, f))
    };

    let scale = p.mul_fix(&r_x, &broadcast(&sd_y, 0, k))?;
    let slopes = p.mul_fix(&b, &scale)?;
    let coef = if prep.intercept {
        let mx = m.mean.slice(0..k);
        let dot = p.dot_fix(&mx, &slopes, k)?;
        let b0 = at(&m.mean, k).sub(&dot);
        AShare::concat(&[&b0, &slopes])
    } else {
        slopes
    };

    let se = if ridge {
        None
    } else {
        let resid = p.mul_const_fix(&unexplained, n as f64 / (n - vars) as f64)?;
        let qdiag = gather(&q, &(0..k).map(|j| j * k + j).collect::<Vec<_>>());
        let mut under = vec![&resid];
        let a0;
        if prep.intercept {
            let u = p.mul_fix(&m.mean.slice(0..k), &r_x)?;
            let qu = p.matmul_fix(&q, &u, k, k, 1)?;
            let uqu = p.dot_fix(&u, &qu, k)?;
            a0 = p.add_const(&uqu, tessera_mpc::fixed::encode(1.0, f));
            under.push(&a0);
        }
        under.push(&qdiag);
        let roots = p.sqrt(&AShare::concat(&under))?;
        let sres = p.mul_fix(&at(&roots, 0), &sd_y)?;
        let first = if prep.intercept { 2 } else { 1 };
        let slopes_part = p.mul_fix(&roots.slice(first..first + k), &r_x)?;
        let g = if prep.intercept {
            AShare::concat(&[&at(&roots, 1), &slopes_part])
        } else {
            slopes_part
        };
        Some(p.mul_fix(&g, &broadcast(&sres, 0, vars))?)
    };

    let mut open = vec![&coef];
    let r2 = constant(p, 1.0, 1).sub(&unexplained);
    open.push(&r2);
    if let Some(se) = &se {
        open.push(se);
    }
    // Opened: the named result (coefficients, R², √n-scaled standard errors).
    let opened: Vec<f64> = p
        .reveal(&AShare::concat(&open))?
        .into_iter()
        .map(|v| decode(v, f))
        .collect();
    let coef = &opened[..vars];
    let r_squared = opened[vars];
    let se: Option<Vec<f64>> = se.map(|_| {
        opened[vars + 1..]
            .iter()
            .map(|v| v / (n as f64).sqrt())
            .collect()
    });
    let df = (n - vars) as f64;
    let adj = (!ridge).then(|| {
        let num = if prep.intercept {
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
        coefficients: table(&prep.names, coef, se.as_deref(), Some(df), spec.conf_level),
    })
}
