//! Logistic regression by Newton–Raphson (IRLS), optionally L2-penalised, inside MPC.
//!
//! # Protocol
//!
//! The design ([`super::design`]) gives the row weights `w`, the means `m`, the reciprocal
//! standard deviations `r` and the masked centred columns `w ∘ (x − m)` (raw `w ∘ x` without
//! an intercept). They are standardised once, `z = w ∘ (x − m) ∘ r` (n·k products), and the
//! model is fitted in the coordinates `[w, z]`, where every sum below is O(n) and the
//! information matrix O(1) whatever the data's scale:
//!
//! - `η = b_0 + Z b_s` (one matrix–vector product, n values truncated), `μ = σ(η)`;
//! - gradient `g = [w, Z]'(y − μ) / n`, information `H = [w, Z]' V [w, Z] / n` with
//!   `V = diag(μ(1 − μ))` (n·p products, then matrix products whose traffic is p and p²
//!   elements, independent of n); rows not used have zero design rows, so they drop out
//!   without further products;
//! - L2: `(λ/n)·r_j²` added to the slopes' diagonal of H and `(λ/n)·r_j²·b_j` taken from
//!   their gradient (the penalty λ/2·|β|² on the original scale, module docs of [`super`]);
//! - Newton step `Δ = H⁻¹ g`, `b ← b + Δ`, from `b = 0` (where `μ = 1/2` and `V = 1/4`
//!   exactly: the first evaluation needs no sigmoid); `H⁻¹` fresh at the first step
//!   and whenever the information moved much, else the previous inverse refined by one
//!   Newton–Schulz step ([`crate::newton`]: one bit opened per step after the first).
//!
//! Convergence: after each step one bit is opened, whether `max_j |Δ_j| < TOL` (standardised
//! units; [`TOL`] = 1e-5). statsmodels stops at a change of 1e-8 on the original scale,
//! below the fixed-point resolution (6e-8); since Newton converges quadratically, the step
//! after a change below 1e-5 changes the estimate by about 1e-10, far below the fixed-point
//! noise, so the estimate is the same to the precision we have, while the iteration count
//! may be one or two lower than statsmodels'. Then, at the final estimate, the information
//! is recomputed and inverted — the last step's inverse refined by two Newton–Schulz steps
//! when the residual `‖I − H X‖_F² < 10^-4` (then below 10^-8: as exact as a fresh
//! inverse, [`crate::newton::WarmInverse::final_inverse`]), else `spd_inverse` — and
//! transformed back to the original scale:
//! `β_j = r_j b_j`, `β_0 = b_0 − u'b_s` with `u = m ∘ r`, `√n·se_j = r_j √Q_jj`,
//! `√n·se_0 = √(a'Qa)` with `a = [1, −u]`. The log-likelihood is
//! `Σ w (y η − softplus(η))` with `softplus(η) = max(η, 0) + ln(1 + e^−|η|)` (accurate for
//! any η, no logarithm of a small probability; `1 + e^−|η|` lies in (1, 2], so the
//! logarithm needs no range reduction: [`Party::ln1p_unit`]).
//!
//! The check that the outcome is 0/1 runs beside the moments and the standardisation
//! (which need only the weights), and the standardisation's variance check beside its
//! reciprocal square roots ([`design::reciprocal_sd`]); each refuses once both halves are
//! done, before the first Newton step opens anything.
//!
//! The compute parties learn one bit whether the outcome is 0/1 in every complete row,
//! one convergence bit per step (LEAKAGE, commented where opened; their number is the
//! result's `iterations`), one bit per step after the first whether the previous inverse
//! serves ([`crate::newton`]), one bit at the end whether it serves for the variance (the
//! residual bound 10^-4 above), and one bit whether the fit is separated (some used row with a
//! fitted probability numerically 0 or 1, [`SEP_ETA`]; checked at the final estimate, or
//! where the step limit is reached; an error otherwise). The coefficients, the √n-scaled standard errors and the
//! log-likelihood are sealed for the recipients ([`crate::sealed`]), whose tail
//! ([`LogisticPublic`]) computes z statistics, p-values and intervals.
//!
//! The gradient, the estimate and the steps carry f + [`G`] fractional bits (the solution
//! of the iteration is where the gradient vanishes, so its precision is the gradient's);
//! the information matrix f bits (it only steers the steps and gives the standard errors).
//!
//! # Cost per Newton step (per party, n rows, p model variables)
//!
//! Bytes: `16·n` (η) + `16·n` (its truncation) + 558·n (sigmoid) + `16·n` (μ²) +
//! `16·n·p` (V·Z) + O(p²) + one inverse or refinement; once: `16·n·k` for Z. Rounds: ≈ 36
//! (sigmoid; 28 with [`Party::few_rounds`]) + 11 + the inverse's ≈ 46 or the refinement's
//! ≈ 12 (the convergence test runs beside the next evaluation, the separation test and the
//! log-likelihood beside the variance: their rounds are hidden).
//!
//! Where the rounds go (`tessera bench regression --workloads logistic-10k --latency-ms 1`,
//! few rounds, 10,000 rows × 10 covariates, 5 steps; party 0's round counter traced at
//! each stage), before → after the cuts of issue 19:
//!
//! | stage | before | after |
//! |---|---|---|
//! | design: row weights, rule bits, `n` | 15 | 15 |
//! | 0/1 check of the outcome | 14 | 0 (beside the moments) |
//! | moments | 44 | 45 |
//! | standardisation (variance check, rsqrt, sd, correlation) | 65 | 42 (check beside the rsqrt; only `r`) |
//! | start at b = 0 (g, H without a sigmoid) | 6 | 6 |
//! | step 1: fresh inverse | 46 | 46 |
//! | each evaluation at a new estimate (η, sigmoid, g, H; ×5) | 39 | 39 |
//! | step 2: warm test fails, fresh inverse | 58 | 58 |
//! | steps 3–5: refined inverse (each) | 12 | 12 |
//! | final: variance ∥ (log-likelihood, separation) | 93 | about 61 |
//! | total (`bench`) | 574 | 503 |
//!
//! The final pass was the fresh inverse (46) then the back-transformation and the square
//! roots; it is now the last inverse refined twice (12, [`WarmInverse::final_inverse`])
//! with the coefficients' back-transformation beside it, and softplus' logarithm without
//! its range reduction ([`Party::ln1p_unit`], 7 rounds instead of 32). What remains is
//! the evaluations (195 of the rounds: the sigmoid's 28 each), the two fresh inverses and
//! the standardisation's reciprocal square roots. Measured (`tessera bench regression
//! --workloads logistic-10k`, three processes on loopback, median of 3): 50 MB sent by
//! the busiest party, 553 rounds, 0.39 s (before: 56 MB, 624 rounds, 0.45 s); with
//! `--latency-ms 25` (few rounds) 73 MB, 503 rounds, 13.0 s (before: 79 MB, 574 rounds,
//! 15.0 s).
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

/// Extra fractional bits of the gradient, the estimate and the Newton steps (f + G): the
/// fixed point of the iteration is where the gradient vanishes, so its precision is that of
/// the gradient. 8 bits keep the steps below `spd_solve`'s bound on its solution (|Δ| < 4096).
pub const G: u32 = 8;

/// What one evaluation at the current estimate gives.
struct Eval {
    eta: AShare<u128>,
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
    /// The z columns row-major (rows × k), for η.
    zrows: AShare<u128>,
    y: &'a AShare<u128>,
    /// (λ/n)·r_j² for the slopes, when penalised.
    pen: Option<AShare<u128>>,
    /// The covariates' means `m` (k; f + HI fractional bits as [`design::moments`] gives them).
    mean: AShare<u128>,
    /// Their reciprocal standard deviations `r` (k).
    r: AShare<u128>,
}

impl Model<'_> {
    fn slopes(&self, b: &AShare<u128>) -> AShare<u128> {
        let first = usize::from(self.intercept);
        b.slice(first..first + self.k)
    }

    /// Evaluates at the estimate `b` (standardised, f + G bits).
    fn evaluate(&self, pt: &mut Party, b: &AShare<u128>) -> Result<Eval> {
        let f = pt.frac_bits();
        let rows = self.y.len();
        let (p, k) = (self.p, self.k);
        let mut eta = pt.matmul(&self.zrows, &self.slopes(b), rows, k, 1)?;
        if self.intercept {
            eta = eta.add(&broadcast(&b.shl(f), 0, rows));
        }
        let eta = pt.trunc(&eta, f + G)?;
        let mu = pt.sigmoid(&eta)?;
        let resid = self.y.sub(&mu);
        let g = pt.matmul(&self.colmajor, &resid, p, rows, 1)?;
        let mu2 = pt.mul_fix(&mu, &mu)?;
        let v = mu.sub(&mu2);
        let pairs: Vec<_> = self.cols.iter().map(|c| (&v, c)).collect();
        let vz = pt.mul_trunc_many(&pairs, f)?;
        let h = pt.matmul(
            &self.colmajor,
            &rows_of(&vz.iter().collect::<Vec<_>>()),
            p,
            rows,
            p,
        )?;
        self.derivatives(pt, Some(b), eta, &g, &h, 0)
    }

    /// [`Model::evaluate`] at the start `b = 0`, where every `η` is 0, `μ = σ(0) = 1/2`
    /// and `V = 1/4` exactly: no sigmoid and no products of the rows, only the two matrix
    /// products `[w, Z]'(y − 1/2)` and `[w, Z]'[w, Z]` (divided by 4 in the truncation).
    /// The same values as `evaluate` at zero (without its sigmoid's few ulp of error), in
    /// about 40 rounds fewer.
    fn evaluate_at_zero(&self, pt: &mut Party) -> Result<Eval> {
        let f = pt.frac_bits();
        let rows = self.y.len();
        let p = self.p;
        let resid = pt.add_const(self.y, encode(-0.5, f));
        let g = pt.matmul(&self.colmajor, &resid, p, rows, 1)?;
        let h = pt.matmul(
            &self.colmajor,
            &rows_of(&self.cols.iter().collect::<Vec<_>>()),
            p,
            rows,
            p,
        )?;
        self.derivatives(pt, None, AShare::zeros(rows), &g, &h, 2)
    }

    /// The gradient and information from the sums `g = [w, Z]'(y − μ)` and
    /// `h = [w, Z]' V [w, Z]` (2f fractional bits), with `h` divided further by
    /// `2^quarter`, and the penalty at `b` (`None`: b = 0, nothing to shrink).
    fn derivatives(
        &self,
        pt: &mut Party,
        b: Option<&AShare<u128>>,
        eta: AShare<u128>,
        g: &AShare<u128>,
        h: &AShare<u128>,
        quarter: u32,
    ) -> Result<Eval> {
        let f = pt.frac_bits();
        let (n, p, k) = (self.n, self.p, self.k);
        // The gradient keeps f + G bits, the information f. Both sums are at most n·max|z|
        // and n·max z²/4 in size: standardised, so within the truncation's range.
        let gh = design::div_count(pt, &AShare::concat(&[g, h]), f - G, n)?;
        let mut grad = gh.slice(0..p);
        let mut info = pt.trunc(&gh.slice(p..p + p * p), G + quarter)?;
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
        Ok(Eval { eta, grad, info })
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

/// Refuses a fit in which some used row (weight 1) has `|η| ≥ SEP_ETA` ([`SEP_ETA`]):
/// one comparison of the rows, one integer product with the weights, one equality test;
/// one bit opened.
fn check_separation(pt: &mut Party, eta: &AShare<u128>, weight: &AShare<u128>) -> Result<()> {
    let (abs, _) = pt.abs_sign_within(eta, 64)?;
    if separated(pt, &abs, weight)? {
        return Err(separation_error());
    }
    Ok(())
}

/// The test of [`check_separation`] on `abs` = |η|: whether some used row has
/// `|η| ≥ SEP_ETA`. One bit opened. (A bit, not an error, so that it can run beside other
/// work: every party learns it in the same round and refuses after the work is done, and
/// no party's abort overtakes another's opening.)
fn separated(pt: &mut Party, abs: &AShare<u128>, weight: &AShare<u128>) -> Result<bool> {
    let f = pt.frac_bits();
    let lim = pt.public(&vec![encode::<u128>(SEP_ETA, f); abs.len()]);
    let far = pt.lt_arith(abs, &lim)?;
    let near = pt.add_const(&far.neg(), 1);
    let used = pt.mul(&near, weight)?;
    let none = pt.eq(&used.sum(), &AShare::zeros(1))?;
    // LEAKAGE: one bit, whether some used row's fitted probability is numerically 0 or 1
    // (separation; an error otherwise).
    Ok(pt.reveal_bits(&none)?[0] & 1 == 0)
}

/// The log-likelihood Σ w (y η − softplus(η)) at the fit, `abs` = |η|.
fn log_likelihood(
    pt: &mut Party,
    eta: &AShare<u128>,
    abs: &AShare<u128>,
    y: &AShare<u128>,
    weight: &AShare<u128>,
) -> Result<AShare<u128>> {
    let ex = pt.exp(&abs.neg())?;
    // 1 + e^-|η| lies in (1, 2]: the logarithm without its range reduction.
    let l1 = pt.ln1p_unit(&ex)?;
    let relu = pt.trunc(&eta.add(abs), 1)?;
    let ye = pt.mul_fix(y, eta)?;
    let terms = ye.sub(&relu).sub(&l1);
    Ok(pt.matmul(weight, &terms, 1, weight.len(), 1)?)
}

/// The coefficients on the original scale from the standardised fit `b`: `β_s = r ∘ b_s`,
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

/// The √n-scaled standard errors on the original scale from the inverse information `q`
/// (standardised) and, with an intercept, `u = m ∘ r`: `√n·se_j = r_j √Q_jj`,
/// `√n·se_0 = √(a'Qa)` with `a = [1, −u]`.
fn standard_errors(
    pt: &mut Party,
    model: &Model<'_>,
    q: &AShare<u128>,
    u: Option<&AShare<u128>>,
) -> Result<AShare<u128>> {
    let f = pt.frac_bits();
    let (p, r) = (model.p, &model.r);
    let qdiag = gather(q, &(0..p).map(|j| j * p + j).collect::<Vec<_>>());
    let (under, scale) = match u {
        Some(u) => {
            let a = AShare::concat(&[&constant(pt, 1.0, 1), &u.neg()]);
            let qa = pt.matmul_fix(q, &a, p, p, 1)?;
            let aqa = pt.dot_fix(&a, &qa, p)?;
            (
                AShare::concat(&[&aqa, &qdiag.slice(1..p)]),
                AShare::concat(&[&constant(pt, 1.0, 1), r]),
            )
        }
        None => (qdiag, r.clone()),
    };
    // Opened with f + HI fractional bits: small standard errors (covariates on a large
    // scale) keep their relative precision.
    let roots = pt.sqrt(&under)?;
    Ok(pt.mul_trunc(&roots, &scale, f - HI)?)
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

    /// Values (f + 16 fractional bits): the coefficients, the √n-scaled standard errors,
    /// the log-likelihood.
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
        let se: Vec<f64> = opened[p..2 * p]
            .iter()
            .map(|v| v / (n as f64).sqrt())
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

/// The model of a prepared design: the moments, the reciprocal standard deviations (one
/// bit opened, [`design::reciprocal_sd`]), the standardised columns and the penalty.
fn setup<'a>(pt: &mut Party, prep: &'a design::Prepared, spec: &LogisticSpec) -> Result<Model<'a>> {
    let (n, p) = (prep.n, prep.vars());
    let k = prep.columns.len();
    let f = pt.frac_bits();

    let cols: Vec<&AShare<u128>> = prep.columns.iter().collect();
    let mut m = design::moments(pt, &cols, &prep.weight, n, prep.intercept, true)?;
    let r = design::reciprocal_sd(pt, &m)?;
    let xc = m.centred.take().expect("asked for the centred columns");
    let rows = prep.weight.len();
    let rb: Vec<AShare<u128>> = (0..k).map(|j| broadcast(&r, j, rows)).collect();
    let pairs: Vec<_> = xc.iter().zip(&rb).collect();
    let z = pt.mul_trunc_many(&pairs, f)?;
    drop((xc, rb));
    let mut dcols = Vec::with_capacity(p);
    if prep.intercept {
        dcols.push(prep.weight.shl(f));
    }
    dcols.extend(z.iter().cloned());
    let colmajor = AShare::concat(&dcols.iter().collect::<Vec<_>>());
    let zrows = rows_of(&z.iter().collect::<Vec<_>>());
    drop(z);
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
        zrows,
        y: &prep.outcome,
        pen,
        mean: m.mean,
        r,
    })
}

/// The Newton steps from `b = 0` to convergence, then the variance, the log-likelihood and
/// the separation test at the estimate: the values [`LogisticPublic::open`] reads.
fn iterate(
    pt: &mut Party,
    prep: &design::Prepared,
    spec: &LogisticSpec,
    model: Model<'_>,
) -> Result<(LogisticPublic, AShare<u128>)> {
    let (n, p) = (model.n, model.p);
    let f = pt.frac_bits();

    let mut b = AShare::zeros(p);
    let mut iterations = 0;
    let tol = pt.public(&vec![encode::<u128>(TOL, f + G); 2 * p]);
    let all = pt.public(&[2 * p as u128]);
    // The start b = 0 needs no sigmoid (μ = 1/2 exactly).
    let mut e = model.evaluate_at_zero(pt)?;
    let mut inverse = WarmInverse::default();
    loop {
        if iterations == spec.max_steps {
            // A fit that runs away is refused as separated where it is.
            check_separation(pt, &e.eta, &prep.weight)?;
            return Err(StatsError::NotConverged(format!(
                "logistic regression did not converge in {} Newton steps",
                spec.max_steps
            )));
        }
        let step = inverse.step(pt, &e.info, &e.grad, p)?;
        b = b.add(&step);
        iterations += 1;
        // The convergence test beside the evaluation at the new coefficients, which is
        // needed either way (for the next step, or for the fit's end): its rounds are hidden.
        let (go_on, next) = pt.side_by_side(
            |q| {
                let small = q.lt_arith(&AShare::concat(&[&step, &step.neg()]), &tol)?;
                let not_all = q.lt_arith(&small.sum(), &all)?;
                // LEAKAGE: one bit per Newton step, whether every standardised coefficient
                // changed by less than TOL; their number is the result's `iterations`.
                Ok(q.reveal(&not_all)?[0] != 0)
            },
            |q| model.evaluate(q, &b),
        )?;
        e = next;
        if !go_on {
            break;
        }
    }

    // The separation test and the log-likelihood (both from |η|), side by side, beside
    // the variance (the inverse information and the standard errors' square roots), which
    // depends on neither. A separated fit is refused once all three are done (their values,
    // meaningless then, are dropped unopened).
    let (eta, weight, outcome) = (&e.eta, &prep.weight, &prep.outcome);
    let ((sep, ll), (coef, se)) = pt.side_by_side(
        |q| -> Result<(bool, AShare<u128>)> {
            let (abs, _) = q.abs_sign_within(eta, 64)?;
            q.side_by_side(
                |r| separated(r, &abs, weight),
                |r| log_likelihood(r, eta, &abs, outcome, weight),
            )
        },
        |q| -> Result<(AShare<u128>, AShare<u128>)> {
            // The coefficients on the original scale and the intercept's `u = m ∘ r` beside
            // the final inverse, which neither needs: only the standard errors wait for it.
            let model = &model;
            let ((coef, u), inv) = q.side_by_side(
                |h| -> Result<(AShare<u128>, Option<AShare<u128>>)> {
                    let coef = coefficients(h, model, &b)?;
                    let u = if model.intercept {
                        Some(h.mul_fix(&model.mean, &model.r)?)
                    } else {
                        None
                    };
                    Ok((coef, u))
                },
                |h| inverse.final_inverse(h, &e.info, p),
            )?;
            Ok((coef, standard_errors(q, model, &inv, u.as_ref())?))
        },
    )?;
    if sep {
        return Err(separation_error());
    }
    // Sealed for the recipients: coefficients, √n-scaled standard errors, log-likelihood.
    let public = LogisticPublic {
        spec: spec.clone(),
        frac_bits: f,
        names: prep.names.clone(),
        n,
        iterations,
        validation: None,
    };
    Ok((public, AShare::concat(&[&coef, &se, &ll.shl(HI)])))
}
