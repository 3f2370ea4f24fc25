//! Logistic regression by Newton–Raphson (IRLS), optionally L2-penalised, inside MPC.
//!
//! # Protocol
//!
//! The design ([`super::design::scaled`]) gives the row weights `w`, the means `m`, power-of-
//! two scales `s` with `s_j·sd_j` in `[1/2, 1]` (exact: the leading one of each exact sum of
//! squares, no division and no square root) and the masked centred columns `w ∘ (x − m)`
//! (raw `w ∘ x` without an intercept). They are scaled once, `z = w ∘ (x − m) ∘ s` (n·k
//! products), and the model is fitted in the coordinates `[w, z]`, standardised within a
//! factor of two, where every sum below is O(n) and the information matrix O(1) whatever
//! the data's scale ("standardised" below means these coordinates):
//!
//! - `η = [w, Z] b` (one matrix–vector product, n values truncated; zero in the rows not
//!   used), `μ = σ(η)` with the softplus' pieces `e^-|η|`, `max(η, 0)` kept
//!   ([`Party::sigmoid_parts`]);
//! - gradient `g = [w, Z]'(y − μ) / n`, information `H = [w, Z]' V [w, Z] / n` with
//!   `V = diag(μ(1 − μ))` (n·p products, then matrix products whose traffic is p and p²
//!   elements, independent of n); rows not used have zero design rows, so they drop out
//!   without further products;
//! - L2: `(λ/n)·s_j²` added to the slopes' diagonal of H and `(λ/n)·s_j²·b_j` taken from
//!   their gradient (the penalty λ/2·|β|² on the original scale, module docs of [`super`]);
//! - Newton step `Δ = H⁻¹ g`, `b ← b + Δ`, from `b = 0` (where `μ = 1/2` and `V = 1/4`
//!   exactly: the first evaluation needs no sigmoid); `H⁻¹` fresh at the first step
//!   and whenever the information moved much, else the previous inverse refined by one
//!   Newton–Schulz step ([`crate::newton`]: one bit opened per step after the first).
//!
//! Convergence: after each step two bits are opened, whether `max_j |Δ_j| < TOL` (standardised
//! units; [`TOL`] = 1e-5) and whether it is below [`NEAR`] = 1e-3, after which the next step
//! is expected to converge: its test then runs beside the fit's end computed from the
//! evaluation that made that step, at the estimate one step (below TOL) before the result
//! (variance, log-likelihood and separation there differ from those at the result by
//! O(TOL) relative and O(n·TOL²) absolute, far below their tolerances), so the converged
//! fit needs no evaluation at its own estimate ([`iterate`]). statsmodels stops at a change of 1e-8 on the original scale,
//! below the fixed-point resolution (6e-8); since Newton converges quadratically, the step
//! after a change below 1e-5 changes the estimate by about 1e-10, far below the fixed-point
//! noise, so the estimate is the same to the precision we have, while the iteration count
//! may be one or two lower than statsmodels'. At the end the information is inverted — the
//! last step's inverse refined by two Newton–Schulz steps
//! when the residual `‖I − H X‖_F² < 10^-4` (then below 10^-8: as exact as a fresh
//! inverse, [`crate::newton::WarmInverse::final_inverse`]), else `spd_inverse` — and
//! transformed back to the original scale:
//! `β_j = s_j b_j`, `β_0 = b_0 − u'b_s` with `u = m ∘ s`, `n·var_j = s_j² Q_jj` (exact
//! products), `n·var_0 = a'Qa` with `a = [1, −u]`; the variances are sealed with 3f
//! fractional bits and the recipient's tail takes their square roots (no square root in
//! MPC). The log-likelihood is
//! `Σ w (y η − softplus(η))` with `softplus(η) = max(η, 0) + ln(1 + e^−|η|)` (accurate for
//! any η, no logarithm of a small probability; `1 + e^−|η|` lies in (1, 2], so the
//! logarithm needs no range reduction: [`Party::ln1p_unit`]; `e^-|η|` and `max(η, 0)`
//! come from the evaluation's sigmoid).
//!
//! The check that the outcome is 0/1 runs beside the moments and the scaling (which need
//! only the weights), and the variance check beside the scales' leading ones
//! ([`design::scaled`]); each refuses once both halves are done, before the first Newton
//! step opens anything.
//!
//! The compute parties learn one bit whether the outcome is 0/1 in every complete row,
//! two bits per step (LEAKAGE, commented where opened: converged, whose number is the
//! result's `iterations`, and below [`NEAR`]), one bit per step after the first whether the
//! previous inverse serves ([`crate::newton`]), one bit at the end whether it serves for the
//! variance (the residual bound 10^-4 above), and one bit whether the fit is separated (some
//! used row with a fitted probability numerically 0 or 1, [`SEP_ETA`]; checked at the
//! final estimate, or where the step limit is reached; an error otherwise). Where a step
//! expected to be the last is not, the fit's end computed beside its test has opened its
//! two bits (the variance's and the separation's, at that estimate) without a result: a
//! separated estimate is refused there, a converging fit is not separated. The coefficients, the n-scaled variances and the
//! log-likelihood are sealed for the recipients ([`crate::sealed`]), whose tail
//! ([`LogisticPublic`]) computes z statistics, p-values and intervals.
//!
//! The gradient, the estimate and the steps carry f + [`G`] fractional bits (the solution
//! of the iteration is where the gradient vanishes, so its precision is the gradient's);
//! the information matrix f bits (it only steers the steps and gives the standard errors).
//!
//! # Cost per Newton step (per party, n rows, p model variables)
//!
//! Bytes: `16·n` (η, its product and truncation in one) + 574·n (sigmoid with the
//! softplus' pieces) + `16·n·p` (`W = μ ∘ [w, Z]`) + O(p²) + one inverse or refinement;
//! once: `16·n·k` for Z. Rounds: ≈ 36 (sigmoid; 28 with [`Party::few_rounds`]) + 4 (η; W;
//! g and `H = ((1 − μ) ∘ [w, Z])' W` with the division by `2^⌊log2 n⌋` in one truncation;
//! the product with `2^⌊log2 n⌋/n`) + the inverse's ≈ 36 or the refinement's ≈ 9 (the
//! convergence test runs beside the next evaluation, the separation test and the
//! log-likelihood beside the variance: their rounds are hidden).
//!
//! Where the rounds go (`tessera bench regression --workloads logistic-10k --latency-ms 25`,
//! few rounds, 10,000 rows × 10 covariates, 5 steps; party 0's round counter traced at
//! each stage), before → after the cuts of issue 19 (the last column: power-of-two scales,
//! the last step's test beside the fit's end, variances sealed for the recipient's roots,
//! the softplus from the sigmoid's pieces):
//!
//! | stage | before | then | now |
//! |---|---|---|---|
//! | design: row weights, rule bits, `n` | 15 | 15 | 15 |
//! | 0/1 check of the outcome | 14 | 0 (beside the moments) | 0 |
//! | moments | 44 | 45 | 27 (means, sums of squares, scales, Z) |
//! | standardisation (variance check, rsqrt, sd, correlation) | 65 | 42 | 0 (in the line above) |
//! | start at b = 0 (g, H without a sigmoid) | 6 | 6 | 5 → 3 |
//! | step 1: fresh inverse | 46 | 46 | 36 |
//! | each evaluation at a new estimate (η, sigmoid, g, H) | 39 (×5) | 39 (×5) | 33 → 31 (×4) |
//! | step 2: warm test fails, fresh inverse | 58 | 58 | 47 → 45 |
//! | steps 3–5: refined inverse (each) | 12 | 12 | 11 → 9 |
//! | final: variance ∥ (log-likelihood, separation) | 93 | about 61 | 16 (beside step 5's test) |
//! | total (`bench`) | 574 | 503 (434 on main before this) | 312 → 285 |
//!
//! (The arrows in the last column: η's product fused with its truncation, g and H in one
//! truncation with the division by `2^⌊log2 n⌋`, no μ², the warm-inverse bit opened
//! without injection.) Measured (`tessera bench regression --workloads logistic-10k
//! --latency-ms 25`, three processes on loopback, side by side with main, median of 3):
//! 434 → 285 rounds, 105.5 → 81.6 MB sent by the busiest party, 11.9 → 7.8 s; without
//! added latency 553 → 368 rounds, 50.2 → 37.9 MB, 0.34 → 0.33 s.
//!
//! # Accuracy
//!
//! Valid range as [`super::design`]; the information matrix must have condition number below
//! 10^5 (no (quasi-)separation: a separated fit diverges in statsmodels too), and the steps
//! must stay below 4096 in standardised units. The outcome must be 0/1: checked inside MPC
//! before the fit (`check_binary`, one opened bit; an error otherwise). The result is opened
//! with f + 16 fractional bits. Measured (`tests/regression.rs`, largest over five runs): on
//! the fixtures (spector with and without intercept, 2000 synthetic rows with missing values
//! and a categorical covariate, with and without L2) coefficients within 1e-6 of the
//! references (absolute; asked: 1e-4), standard errors within 6e-6 relative (asked: 1e-3),
//! the log-likelihood within 3e-6; with the final variance from the refined inverse (one
//! run each mode): coefficients within 4.5e-7, standard errors within 3.5e-6 relative,
//! the log-likelihood within 4.9e-6.

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::{decode, encode};
use tessera_mpc::nonlinear::Sigmoid;
use tessera_mpc::{AShare, Party};

use crate::analysis::LogisticSpec;
use crate::disclosure::Disclosure;
use crate::error::{Result, StatsError};
use crate::newton::WarmInverse;
use crate::sealed::{Sealed, Tail};
use crate::table::Frame;

use super::design::{self, at, broadcast, constant, gather, rows_of, HI};
use super::holdout::{self, HoldoutPublic};
use super::ols::check_conf;
use super::{table, LogisticResult};

/// Convergence threshold on the largest change of a standardised coefficient in one
/// Newton step.
pub const TOL: f64 = 1e-5;

/// Separation: a fit in which some used row has a linear predictor `|η| ≥ SEP_ETA` (a
/// fitted probability within `e^-17 ≈ 4.1e-8`, below the fixed-point resolution, of 0 or
/// 1: R's "fitted probabilities numerically 0 or 1") is refused. Such a row is predicted
/// perfectly, the outcome is (quasi-)separated by the covariates, and the maximum-likelihood
/// estimate does not exist (the coefficients run away while the information matrix
/// becomes singular: standard errors of any sign and size).
pub const SEP_ETA: f64 = 17.0;

/// The refusal for (quasi-)separation, the same in MPC and in the plaintext twin.
pub(crate) fn separation_error() -> StatsError {
    StatsError::Invalid(format!(
        "logistic regression refused by the rule `separation`: the covariates (quasi-)separate \
         the outcome (some fitted probabilities are numerically 0 or 1, |linear predictor| ≥ \
         {SEP_ETA}), so the estimates and their standard errors do not exist; remove or merge \
         the covariates or levels that predict the outcome perfectly, or add an `l2` penalty"
    ))
}

/// A Newton step whose largest change of a scaled coefficient is below `NEAR` is expected
/// to be followed by a converged one (below [`TOL`]: quadratic convergence), which then
/// runs beside the fit's end ([`iterate`]).
pub const NEAR: f64 = 1e-3;

/// Extra fractional bits of the gradient, the estimate and the Newton steps (f + G): the
/// fixed point of the iteration is where the gradient vanishes, so its precision is that of
/// the gradient. 8 bits keep the steps below `spd_solve`'s bound on its solution (|Δ| < 4096).
pub const G: u32 = 8;

/// What one evaluation at the current estimate gives.
struct Eval {
    /// The linear predictor `[w, Z] b` (zero in the rows not used).
    eta: AShare<u128>,
    /// `e^-|η|` and `max(η, 0)`, the softplus' pieces ([`Sigmoid`]).
    soft: (AShare<u128>, AShare<u128>),
    grad: AShare<u128>,
    info: AShare<u128>,
}

/// The fixed, per-model parts of the iteration.
struct Model<'a> {
    n: usize,
    p: usize,
    k: usize,
    intercept: bool,
    /// The p standardised design columns `[w, z_1, …, z_k]` (z = w ∘ (x − m) ∘ r),
    /// column-major (p × rows).
    cols: Vec<AShare<u128>>,
    colmajor: AShare<u128>,
    /// The design columns `[w, z_1, …, z_k]` row-major (rows × p), for η.
    xrows: AShare<u128>,
    y: &'a AShare<u128>,
    /// (λ/n)·r_j² for the slopes, when penalised.
    pen: Option<AShare<u128>>,
    /// The covariates' means `m` (k; f fractional bits).
    mean: AShare<u128>,
    /// Their power-of-two scales `s` (k, f fractional bits, [`design::Scaled`]).
    r: AShare<u128>,
}

impl Model<'_> {
    fn slopes(&self, b: &AShare<u128>) -> AShare<u128> {
        let first = usize::from(self.intercept);
        b.slice(first..first + self.k)
    }

    /// Evaluates at the estimate `b` (standardised, f + G bits): η (its product fused with
    /// its truncation), the sigmoid, `W = μ ∘ [w, Z]`, then in one truncation
    /// `g = [w, Z]'(y − μ)` and `H = ((1 − μ) ∘ [w, Z])' W = [w, Z]' V [w, Z]` (no μ²), and
    /// the division by n ([`Model::derivatives`]).
    fn evaluate(&self, pt: &mut Party, b: &AShare<u128>) -> Result<Eval> {
        let f = pt.frac_bits();
        let rows = self.y.len();
        let p = self.p;
        let eta = pt
            .matmul_trunc_each(&[(&self.xrows, b, [rows, p, 1])], &[f + G])?
            .remove(0);
        let Sigmoid {
            sigma: mu,
            exp_neg_abs,
            relu,
        } = pt.sigmoid_parts(&eta)?;
        let resid = self.y.sub(&mu);
        let pairs: Vec<_> = self.cols.iter().map(|c| (&mu, c)).collect();
        let w = pt.mul_trunc_many(&pairs, f)?;
        let rest = self
            .colmajor
            .sub(&AShare::concat(&w.iter().collect::<Vec<_>>()));
        let wrows = rows_of(&w.iter().collect::<Vec<_>>());
        let (grad, info) = self.derivatives(pt, Some(b), (&resid, (&rest, &wrows)), 0)?;
        Ok(Eval {
            eta,
            soft: (exp_neg_abs, relu),
            grad,
            info,
        })
    }

    /// [`Model::evaluate`] at the start `b = 0`, where every `η` is 0, `μ = σ(0) = 1/2`
    /// and `V = 1/4` exactly: no sigmoid and no products of the rows, only the two matrix
    /// products `[w, Z]'(y − 1/2)` and `[w, Z]'[w, Z]` (divided by 4 in the truncation).
    /// The same values as `evaluate` at zero (without its sigmoid's few ulp of error), in
    /// about 30 rounds fewer.
    fn evaluate_at_zero(&self, pt: &mut Party) -> Result<Eval> {
        let f = pt.frac_bits();
        let rows = self.y.len();
        let resid = pt.add_const(self.y, encode(-0.5, f));
        let cols = rows_of(&self.cols.iter().collect::<Vec<_>>());
        let (grad, info) = self.derivatives(pt, None, (&resid, (&self.colmajor, &cols)), 2)?;
        // At η = 0: e^-|η| = 1, max(η, 0) = 0.
        Ok(Eval {
            eta: AShare::zeros(rows),
            soft: (constant(pt, 1.0, rows), AShare::zeros(rows)),
            grad,
            info,
        })
    }

    /// The gradient `[w, Z]'r / n` (f + G bits) for the residuals `r`, and the information
    /// `L R / (n·2^quarter)` (f bits) for `L` (p × rows, column-major rows of the design)
    /// and `R` (rows × p), all at f fractional bits: both products and their division by
    /// `2^⌊log2 n⌋` in one truncation, then the product with `2^⌊log2 n⌋/n`
    /// ([`design::count_split`]), and the penalty at `b` (`None`: b = 0, nothing to shrink).
    fn derivatives(
        &self,
        pt: &mut Party,
        b: Option<&AShare<u128>>,
        (resid, (left, right)): (&AShare<u128>, (&AShare<u128>, &AShare<u128>)),
        quarter: u32,
    ) -> Result<(AShare<u128>, AShare<u128>)> {
        let f = pt.frac_bits();
        let (n, p, k) = (self.n, self.p, self.k);
        let rows = resid.len();
        let (d, _) = design::count_split(n);
        // The gradient keeps f + G bits, the information f. Both sums are at most n·max|z|
        // and n·max z²/4 in size: standardised, so within the truncation's range.
        let sums = pt.matmul_trunc_each(
            &[
                (&self.colmajor, resid, [p, rows, 1]),
                (left, right, [p, rows, p]),
            ],
            &[f - G + d, f + quarter + d],
        )?;
        let gh = design::scale_count(pt, &AShare::concat(&[&sums[0], &sums[1]]), n)?;
        let mut grad = gh.slice(0..p);
        let mut info = gh.slice(p..p + p * p);
        if let Some(pen) = &self.pen {
            let first = usize::from(self.intercept);
            let shrink = match b {
                Some(b) => pt.mul_fix(pen, &self.slopes(b))?,
                None => AShare::zeros(k),
            };
            for j in 0..k {
                let at_j = first + j;
                grad.a[at_j] = grad.a[at_j].wrapping_sub(shrink.a[j]);
                grad.b[at_j] = grad.b[at_j].wrapping_sub(shrink.b[j]);
                let dj = at_j * p + at_j;
                info.a[dj] = info.a[dj].wrapping_add(pen.a[j]);
                info.b[dj] = info.b[dj].wrapping_add(pen.b[j]);
            }
        }
        Ok((grad, info))
    }
}

/// Refuses an outcome that is not 0 or 1 in some complete row: `Σ w·(y(1 − y))²` is zero
/// exactly when it is (exact integer products: `y(1 − y)` at 2f fractional bits, its square
/// mod 2^128; a non-binary value could only hide behind a wrap-around of the ring, which
/// needs values in the hundreds and a sum that cancels to the last bit). Two products of n
/// elements, one equality test; one bit opened.
pub(crate) fn check_binary(
    pt: &mut Party,
    y: &AShare<u128>,
    weight: &AShare<u128>,
    name: &str,
) -> Result<()> {
    if !is_binary(pt, y, weight)? {
        return Err(not_binary(name));
    }
    Ok(())
}

/// The refusal of a non-binary outcome `name`.
fn not_binary(name: &str) -> StatsError {
    StatsError::Invalid(format!(
        "outcome `{name}` must be 0 or 1 in every complete row"
    ))
}

/// The test of [`check_binary`] as a bit (true: every complete row's outcome is 0 or 1), so
/// that it can run beside other work (the moments), every party refusing after it.
fn is_binary(pt: &mut Party, y: &AShare<u128>, weight: &AShare<u128>) -> Result<bool> {
    let f = pt.frac_bits();
    let one_minus = pt.add_const(&y.neg(), encode(1.0, f));
    let t = pt.mul(y, &one_minus)?;
    let t2 = pt.mul(&t, &t)?;
    let sum = design::from_parts(pt, &[design::dot_part(weight, &t2)])?;
    let zero = pt.eq(&sum, &AShare::zeros(1))?;
    // LEAKAGE: one bit, whether every complete row's outcome is 0 or 1 (an error otherwise).
    Ok(pt.reveal_bits(&zero)?[0] & 1 == 1)
}

/// Refuses a fit in which some used row has `|η| ≥ SEP_ETA` ([`SEP_ETA`]): one bit
/// opened ([`separated`]).
fn check_separation(pt: &mut Party, eta: &AShare<u128>) -> Result<()> {
    if separated(pt, eta)? {
        return Err(separation_error());
    }
    Ok(())
}

/// The test of [`check_separation`] on the linear predictor `eta`, zero in the rows not
/// used (so only used rows can reach the bound): whether some row has `|η| ≥ SEP_ETA`.
/// Two comparisons per row with the public bound, their count, one equality test; one bit
/// opened. (A bit, not an error, so that it can run beside other work: every party learns
/// it in the same round and refuses after the work is done, and no party's abort
/// overtakes another's opening.)
fn separated(pt: &mut Party, eta: &AShare<u128>) -> Result<bool> {
    let f = pt.frac_bits();
    let rows = eta.len();
    let lim = pt.public(&vec![encode::<u128>(SEP_ETA, f); 2 * rows]);
    let inside = pt.lt_arith(&AShare::concat(&[eta, &eta.neg()]), &lim)?;
    let all = pt.eq(&inside.sum(), &pt.public(&[2 * rows as u128]))?;
    // LEAKAGE: one bit, whether some used row's fitted probability is numerically 0 or 1
    // (separation; an error otherwise).
    Ok(pt.reveal_bits(&all)?[0] & 1 == 0)
}

/// The log-likelihood Σ w (y η − softplus(η)) at the fit, from the pieces of the softplus
/// the evaluation's sigmoid gave (`e^-|η|`, `max(η, 0)`): `softplus(η) = max(η, 0) +
/// ln(1 + e^-|η|)`, whose logarithm's argument lies in (1, 2] and needs no range reduction.
fn log_likelihood(
    pt: &mut Party,
    eta: &AShare<u128>,
    (ex, relu): &(AShare<u128>, AShare<u128>),
    y: &AShare<u128>,
    weight: &AShare<u128>,
) -> Result<AShare<u128>> {
    let (l1, ye) = pt.side_by_side(|q| q.ln1p_unit(ex), |q| q.mul_fix(y, eta))?;
    let terms = ye.sub(relu).sub(&l1);
    Ok(pt.matmul(weight, &terms, 1, weight.len(), 1)?)
}

/// The coefficients on the original scale from the scaled fit `b`: `β_s = s ∘ b_s`,
/// `β_0 = b_0 − m'β_s` (two products in sequence).
fn coefficients(pt: &mut Party, model: &Model<'_>, b: &AShare<u128>) -> Result<AShare<u128>> {
    let f = pt.frac_bits();
    let (mean, r) = (&model.mean, &model.r);
    // With f + HI fractional bits: a covariate on a large scale (sd 10^5) has a slope of
    // order 10^-6, which f + G bits (ulp 2^-32) would keep to a few 10^-4 only, and the
    // intercept carries m'β_s.
    let slopes = pt.mul_trunc(r, &model.slopes(b), f + G - HI)?;
    if !model.intercept {
        return Ok(slopes);
    }
    let mb = pt.dot_fix(mean, &slopes, model.k)?;
    let b0 = at(b, 0).shl(HI - G).sub(&mb);
    Ok(AShare::concat(&[&b0, &slopes]))
}

/// What the back-transformation to the original scale needs besides the inverse.
struct Back {
    /// The coefficients on the original scale ([`coefficients`]).
    coef: AShare<u128>,
    /// `s ∘ s` (2f fractional bits, exact).
    s2: AShare<u128>,
    /// With an intercept, `u = m ∘ s`.
    u: Option<AShare<u128>>,
}

/// The coefficients on the original scale, `s ∘ s` and the intercept's `u = m ∘ s` from
/// the scaled fit `b` (none of them needs the inverse information).
fn back_transform(pt: &mut Party, model: &Model<'_>, b: &AShare<u128>) -> Result<Back> {
    let coef = coefficients(pt, model, b)?;
    let s2 = pt.mul(&model.r, &model.r)?;
    let u = if model.intercept {
        Some(pt.mul_fix(&model.mean, &model.r)?)
    } else {
        None
    };
    Ok(Back { coef, s2, u })
}

/// Fractional bits of the sealed variances (`3f`: exact products of `s² ` at 2f and the
/// inverse information at f, so a small variance keeps its relative precision).
fn var_bits(f: u32) -> u32 {
    3 * f
}

/// The n-scaled variances of the coefficients on the original scale, with
/// [`var_bits`] fractional bits, from the inverse information `q` (scaled coordinates),
/// `s2 = s ∘ s` (2f bits, exact) and, with an intercept, `u = m ∘ s`:
/// `n·var_j = s_j² Q_jj`, `n·var_0 = a'Qa` with `a = [1, −u]`. The recipient's tail takes
/// the square roots (no square root inside MPC).
fn variances(
    pt: &mut Party,
    model: &Model<'_>,
    q: &AShare<u128>,
    s2: &AShare<u128>,
    u: Option<&AShare<u128>>,
) -> Result<AShare<u128>> {
    let f = pt.frac_bits();
    let p = model.p;
    let first = usize::from(model.intercept);
    let qdiag = gather(q, &(first..p).map(|j| j * p + j).collect::<Vec<_>>());
    let slopes = pt.mul(s2, &qdiag)?;
    let Some(u) = u else {
        return Ok(slopes);
    };
    let a = AShare::concat(&[&constant(pt, 1.0, 1), &u.neg()]);
    let qa = pt.matmul_fix(q, &a, p, p, 1)?;
    let aqa = pt.dot_fix(&a, &qa, p)?;
    Ok(AShare::concat(&[&aqa.shl(var_bits(f) - f), &slopes]))
}

/// What the compute parties know of a logistic regression and the recipient's tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogisticPublic {
    /// The analysis.
    pub spec: LogisticSpec,
    /// Fractional bits of the parties (the values are sealed with `frac_bits + 16`).
    pub frac_bits: u32,
    /// The design columns' names.
    pub names: Vec<String>,
    /// Rows used (opened: documented leakage).
    pub n: usize,
    /// Newton steps taken (opened bit by bit: the convergence bits).
    pub iterations: usize,
    /// With `holdout`: what the compute parties know of the validation on the held-out
    /// rows (its values follow the fit's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Box<HoldoutPublic>>,
}

impl Tail for LogisticPublic {
    type Result = LogisticResult;

    /// Values: the coefficients (f + 16 fractional bits), the n-scaled variances
    /// ([`var_bits`]), the log-likelihood (f + 16).
    fn open(&self, vals: &[u128]) -> Result<LogisticResult> {
        let (spec, n, p) = (&self.spec, self.n, self.names.len());
        let (vals, rest) = vals
            .split_at_checked(2 * p + 1)
            .ok_or_else(|| StatsError::Invalid("logistic: the sealed values do not fit".into()))?;
        let validation = match &self.validation {
            Some(v) => Some(v.open(rest)?),
            None if rest.is_empty() => None,
            None => {
                return Err(StatsError::Invalid(
                    "logistic: the sealed values do not fit".into(),
                ))
            }
        };
        let opened: Vec<f64> = vals
            .iter()
            .map(|&v| decode(v, self.frac_bits + HI))
            .collect();
        let se: Vec<f64> = vals[p..2 * p]
            .iter()
            .map(|&v| (decode::<u128>(v, var_bits(self.frac_bits)).max(0.0) / n as f64).sqrt())
            .collect();
        Ok(LogisticResult {
            outcome: spec.outcome.clone(),
            nobs: n,
            log_likelihood: opened[2 * p],
            iterations: self.iterations,
            l2: spec.l2,
            conf_level: spec.conf_level,
            coefficients: table(&self.names, &opened[..p], Some(&se), None, spec.conf_level),
            validation,
        })
    }
}

/// Fits a logistic regression on the shared table. Every compute party calls this with its
/// shares; the fit ends sealed for the recipients.
pub fn logistic(
    pt: &mut Party,
    frame: &Frame,
    spec: &LogisticSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<LogisticPublic>> {
    let (public, values) = match spec.holdout {
        Some(_) => holdout::holdout(pt, frame, spec, disclosure)?,
        None => fit(pt, frame, spec, disclosure)?,
    };
    Sealed::new(pt, public, &values)
}

/// The fit of [`logistic`] before sealing: its public facts and the values
/// [`LogisticPublic::open`] reads, still shared (for analyses that seal a fit with their
/// own values, e.g. the calibration of [`crate::predict::auc`]).
pub(crate) fn fit(
    pt: &mut Party,
    frame: &Frame,
    spec: &LogisticSpec,
    disclosure: &Disclosure,
) -> Result<(LogisticPublic, AShare<u128>)> {
    check_spec(spec)?;
    let prep = design::prepare(
        pt,
        frame,
        &spec.outcome,
        &spec.covariates,
        spec.intercept,
        disclosure,
    )?;
    // The 0/1 check beside the moments and the standardisation, which do not need it; a
    // non-binary outcome is refused before the Newton steps open anything.
    let (binary, model) = pt.side_by_side(
        |q| is_binary(q, &prep.outcome, &prep.weight),
        |q| setup(q, &prep, spec),
    )?;
    if !binary {
        return Err(not_binary(&spec.outcome));
    }
    iterate(pt, &prep, spec, model)
}

/// The model's complete rows and design ([`design::prepare`], the disclosure checks) and the
/// outcome checked to be 0/1 (one bit opened): what a fit and a hold-out validation start
/// from.
pub(crate) fn prepare_binary(
    pt: &mut Party,
    frame: &Frame,
    spec: &LogisticSpec,
    disclosure: &Disclosure,
) -> Result<design::Prepared> {
    let prep = design::prepare(
        pt,
        frame,
        &spec.outcome,
        &spec.covariates,
        spec.intercept,
        disclosure,
    )?;
    check_binary(pt, &prep.outcome, &prep.weight, &spec.outcome)?;
    Ok(prep)
}

/// The public checks of a logistic model's parameters (the hold-out ones included).
pub(crate) fn check_spec(spec: &LogisticSpec) -> Result<()> {
    check_conf(spec.conf_level)?;
    if !(spec.l2 >= 0.0 && spec.l2.is_finite()) {
        return Err(StatsError::Invalid(format!(
            "l2 must be a finite number ≥ 0, not {}",
            spec.l2
        )));
    }
    if spec.max_steps == 0 {
        return Err(StatsError::Invalid("max_steps must be at least 1".into()));
    }
    holdout::check_params(spec)
        .map_err(|(field, m)| StatsError::Invalid(format!("logistic: `{field}` {m}")))
}

/// [`fit`] on a design already prepared (complete rows, the disclosure checks passed) and
/// an outcome already checked to be 0/1: for an analysis that has done both itself, e.g.
/// the calibration of [`crate::predict::auc`], which fits on a column it derived.
pub(crate) fn fit_prepared(
    pt: &mut Party,
    prep: &design::Prepared,
    spec: &LogisticSpec,
) -> Result<(LogisticPublic, AShare<u128>)> {
    let model = setup(pt, prep, spec)?;
    iterate(pt, prep, spec, model)
}

/// The model of a prepared design: the means, the power-of-two scales (the variance bit
/// opened, [`design::scaled`]), the scaled columns and the penalty.
fn setup<'a>(pt: &mut Party, prep: &'a design::Prepared, spec: &LogisticSpec) -> Result<Model<'a>> {
    let (n, p) = (prep.n, prep.vars());
    let k = prep.columns.len();
    let f = pt.frac_bits();

    let cols: Vec<&AShare<u128>> = prep.columns.iter().collect();
    let sc = design::scaled(pt, &cols, &prep.weight, n, prep.intercept)?;
    let r = sc.scale;
    let rows = prep.weight.len();
    let rb: Vec<AShare<u128>> = (0..k).map(|j| broadcast(&r, j, rows)).collect();
    let pairs: Vec<_> = sc.centred.iter().zip(&rb).collect();
    let z = pt.mul_trunc_many(&pairs, f)?;
    drop((sc.centred, rb));
    let mut dcols = Vec::with_capacity(p);
    if prep.intercept {
        dcols.push(prep.weight.shl(f));
    }
    dcols.extend(z.iter().cloned());
    let colmajor = AShare::concat(&dcols.iter().collect::<Vec<_>>());
    drop(z);
    let xrows = rows_of(&dcols.iter().collect::<Vec<_>>());
    let pen = if spec.l2 > 0.0 {
        let r2 = pt.mul_fix(&r, &r)?;
        let scaled = pt.mul_const_fix(&r2, spec.l2)?;
        Some(design::div_count(pt, &scaled, 0, n)?)
    } else {
        None
    };
    Ok(Model {
        n,
        p,
        k,
        intercept: prep.intercept,
        cols: dcols,
        colmajor,
        xrows,
        y: &prep.outcome,
        pen,
        mean: sc.mean,
        r,
    })
}

/// What the test of one Newton step opens: whether every scaled coefficient changed by less
/// than [`TOL`] (converged) and by less than [`NEAR`] (the next step should be the last).
struct StepBits {
    converged: bool,
    near: bool,
}

/// The test of a Newton step `step` (p values, f + G fractional bits): two bits opened.
fn step_bits(pt: &mut Party, step: &AShare<u128>) -> Result<StepBits> {
    let f = pt.frac_bits();
    let p = step.len();
    let bounds: Vec<u128> = [TOL, NEAR]
        .iter()
        .flat_map(|&t| vec![encode::<u128>(t, f + G); 2 * p])
        .collect();
    let both = AShare::concat(&[step, &step.neg()]);
    let small = pt.lt_arith(&AShare::concat(&[&both, &both]), &pt.public(&bounds))?;
    let counts = AShare::concat(&[
        &small.slice(0..2 * p).sum(),
        &small.slice(2 * p..4 * p).sum(),
    ]);
    let not_all = pt.lt_arith(&counts, &pt.public(&[2 * p as u128; 2]))?;
    // LEAKAGE: two bits per Newton step, whether every scaled coefficient changed by less
    // than TOL (their number is the result's `iterations`) and by less than NEAR (whether
    // the next step is taken as the last, [`iterate`]).
    let open = pt.reveal(&not_all)?;
    Ok(StepBits {
        converged: open[0] == 0,
        near: open[1] == 0,
    })
}

/// The Newton steps from `b = 0` to convergence, then the variance, the log-likelihood and
/// the separation test ([`finish`]): the values [`LogisticPublic::open`] reads.
///
/// Each step's test runs beside the evaluation at the new estimate, which the next step
/// needs. After a step below [`NEAR`] the next one is expected to converge (Newton's
/// steps shrink quadratically): its test runs beside [`finish`] on the evaluation that
/// made it, at the estimate before the step (within [`TOL`] of the result, where the
/// variance and the log-likelihood are the same to far below their tolerances), so the
/// converged fit needs no evaluation at its own estimate; if the test fails after all, that
/// evaluation follows and the steps go on.
fn iterate(
    pt: &mut Party,
    prep: &design::Prepared,
    spec: &LogisticSpec,
    model: Model<'_>,
) -> Result<(LogisticPublic, AShare<u128>)> {
    let p = model.p;
    let mut b = AShare::zeros(p);
    let mut iterations = 0;
    // The start b = 0 needs no sigmoid (μ = 1/2 exactly).
    let mut e = model.evaluate_at_zero(pt)?;
    let mut inverse = WarmInverse::default();
    let mut last = false;
    let (sep, values) = loop {
        if iterations == spec.max_steps {
            // A fit that runs away is refused as separated where it is.
            check_separation(pt, &e.eta)?;
            return Err(StatsError::NotConverged(format!(
                "logistic regression did not converge in {} Newton steps",
                spec.max_steps
            )));
        }
        let step = inverse.step(pt, &e.info, &e.grad, p)?;
        b = b.add(&step);
        iterations += 1;
        if last {
            // Expected to be the last step: the test beside the fit's end from the
            // evaluation before it.
            let (bits, done) = pt.side_by_side(
                |q| step_bits(q, &step),
                |q| finish(q, &model, prep, &e, &b, &inverse),
            )?;
            if bits.converged {
                break done;
            }
            if done.0 {
                // Separated at the estimate before the step: refused as at the end.
                return Err(separation_error());
            }
            last = bits.near;
            e = model.evaluate(pt, &b)?;
            continue;
        }
        // The test beside the evaluation at the new coefficients, which is needed either
        // way (for the next step, or for the fit's end): its rounds are hidden.
        let (bits, next) = pt.side_by_side(|q| step_bits(q, &step), |q| model.evaluate(q, &b))?;
        e = next;
        if bits.converged {
            break finish(pt, &model, prep, &e, &b, &inverse)?;
        }
        last = bits.near;
    };
    if sep {
        return Err(separation_error());
    }
    // Sealed for the recipients: coefficients, n-scaled variances, log-likelihood.
    let public = LogisticPublic {
        spec: spec.clone(),
        frac_bits: pt.frac_bits(),
        names: prep.names.clone(),
        n: model.n,
        iterations,
        validation: None,
    };
    Ok((public, values))
}

/// The fit's end from the evaluation `e` and the estimate `b`: the separation test and
/// the log-likelihood (from the sigmoid's pieces), side by side, beside the variance (the
/// inverse information), which depends on neither; whether the fit is separated (one bit
/// opened; the caller refuses it once all is done, the values, meaningless then, dropped
/// unopened) and the values to seal: coefficients, n-scaled variances, log-likelihood.
fn finish(
    pt: &mut Party,
    model: &Model<'_>,
    prep: &design::Prepared,
    e: &Eval,
    b: &AShare<u128>,
    inverse: &WarmInverse,
) -> Result<(bool, AShare<u128>)> {
    let p = model.p;
    let (eta, weight, outcome) = (&e.eta, &prep.weight, &prep.outcome);
    let ((sep, ll), (coef, var)) = pt.side_by_side(
        |q| -> Result<(bool, AShare<u128>)> {
            q.side_by_side(
                |r| separated(r, eta),
                |r| log_likelihood(r, eta, &e.soft, outcome, weight),
            )
        },
        |q| -> Result<(AShare<u128>, AShare<u128>)> {
            // The coefficients on the original scale, `s ∘ s` and the intercept's
            // `u = m ∘ s` beside the final inverse, which none of them needs: only the
            // variances wait for it.
            let (back, inv) = q.side_by_side(
                |h| back_transform(h, model, b),
                |h| inverse.final_inverse(h, &e.info, p),
            )?;
            let var = variances(q, model, &inv, &back.s2, back.u.as_ref())?;
            Ok((back.coef, var))
        },
    )?;
    Ok((sep, AShare::concat(&[&coef, &var, &ll.shl(HI)])))
}
