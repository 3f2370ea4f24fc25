//! Inverses of small shared symmetric positive-definite (SPD) matrices, and linear solves
//! with them: the covariance matrices of regression and survival models (Cox Hessian,
//! X'X/n, X'WX/n, log-rank covariance). Matrices are row-major, one [`AShare<u128>`] each,
//! fixed point with `f` = [`Party::frac_bits`] fractional bits. Nothing is opened.
//!
//! # Method
//!
//! 1. Scale: `s`, a power of two with `s·‖A‖_F` in `[1/2, 1]` (one dot product and one
//!    [`Party::rsqrt_pow2`]: 17 rounds where an exact `1/‖A‖_F` by [`Party::rsqrt`] took 41),
//!    and `B = s·A`, kept at [`SCALE`] = 32 fractional bits. B's eigenvalues lie in
//!    `[1/(2√p·κ), 1]` where κ is A's condition number (‖A‖_F ≤ √p·λ_max). `A⁻¹ = s·B⁻¹`
//!    holds for whatever `s` the protocol computed, so the rounding of ‖A‖_F² does not reach
//!    the result; it only widens the starting interval by [`S_REL_ERR`].
//! 2. Scaled Newton–Schulz on B from `X_0 = I`: `X_{k+1} = X_k (β_k I − γ_k B X_k)`.
//!    Every eigenvalue μ of `B X_k` maps to `q_k(μ) = μ (β_k − γ_k μ)`; the public
//!    constants put the vertex of the parabola in the middle of the interval `[lo_k, hi_k]`
//!    known to hold the spectrum, with maximum at most 1. The lower end then grows about
//!    fourfold per step (plain Newton–Schulz: twofold); once `lo_k > 1 − 2^-8` the steps are
//!    plain Newton–Schulz (β = 2, γ = 1), whose residual `I − B X` is squared by each step
//!    whatever rounding the previous steps left, so fixed-point errors do not accumulate.
//!    The schedule (how many steps, which constants) is computed in public from `p` and the
//!    documented bound `max_cond` on κ ([`DEFAULT_MAX_COND`] unless given): iterate until
//!    `1 − lo_k ≤ 2^-14`. Nothing is opened to decide convergence. The first step is
//!    folded into the computation of B (X_1 = β_0 I − γ_0 B, no product needed).
//!    The scaled steps run *coupled*: with `M = B X`, a step is `T = β I − γ M`,
//!    `X ← X T`, `M ← M T`, two products side by side instead of two chained ones (one
//!    level, half the rounds). M's rounding drifts from `B X` by a few 2^-32 relative to the
//!    smallest eigenvalue; plain steps (if the schedule has any) use `B X` itself, and the
//!    refinement in 3 squares whatever residual is left.
//! 3. `Y = s·X` ≈ A⁻¹ at 32 bits, then one Newton–Schulz step against A itself,
//!    `Y (2I − A Y)`: it squares the residual left by the schedule (2^-14) and by the
//!    rounding of B (about κ·2^-32), so the result no longer depends on κ; the last product
//!    is truncated straight to `f` bits. [`Party::spd_solve`] keeps that product at 32 bits
//!    and multiplies by the right-hand side.
//!
//! Products use the engine's matrix product (one reshare-and-truncate per entry, traffic
//! independent of the inner dimension); `γ_k` is applied to the 3-out-of-3 parts before the
//! truncation (at 16 bits), so it costs nothing.
//!
//! # Valid input
//!
//! - A symmetric positive definite with condition number κ ≤ `max_cond` and
//!   `√p · max_cond ≤ 2^20` (else [`MpcError::Invalid`]); a worse conditioned matrix gets an
//!   unconverged inverse (the components of its small eigenvalues are too small), never
//!   a panic;
//! - `2^-9 ≤ ‖A‖_F ≤ 2^16` (so that `s` is known to 2^-7 relative at `f` = 24), and the
//!   entries of A⁻¹ (and of the solution A⁻¹B) below 2^20. Within these bounds every
//!   truncated value is below 2^86,
//!   so each truncation fails with probability below 2^-41 (see [`crate::fixed`]).
//!
//! # Error (measured by `tests/linalg.rs`, f = 24)
//!
//! Against the f64 inverse of the *encoded* A, the error per entry is at most
//! `4 ulp + 2^-26·max|A⁻¹|` (ulp = 2^-24 ≈ 6e-8): the final truncation to `f` bits plus the
//! squared residual (2^-28) and the rounding at 32 bits of the refinement step. Over 400
//! random SPD matrices (p ≤ 20, κ ≤ 1e4, eigenvalues scaled by 1e-2..1e2) the second term
//! was at most 5e-10·max|A⁻¹|, whatever κ. Relative error on the diagonal for eigenvalues in
//! [1/κ, 1] (worst of 3 matrices each):
//!
//! | p | κ = 10 | κ = 100 | κ = 1e3 | κ = 1e4 |
//! |---|---|---|---|---|
//! | 5 | 1.5e-8 | 8.0e-9 | 1.8e-9 | 7.4e-10 |
//! | 10 | 1.3e-8 | 5.7e-9 | 1.3e-9 | 9.2e-10 |
//! | 20 | 1.4e-8 | 2.3e-9 | 7.9e-10 | 6.4e-10 |
//!
//! The absolute ulp of the output dominates for small entries of A⁻¹: with eigenvalues near
//! 1e2 (A⁻¹ ≈ 1e-2) the diagonal is right to about 3e-6 relative, so callers should scale
//! A to O(1) entries (and scale back) when they need 1e-6. The condition number only
//! costs steps, not precision, as long as κ ≤ `max_cond`; beyond it, the components of the
//! smallest eigenvalues are not converged.
//! Run `cargo test --release -p tessera-mpc --test linalg -- --nocapture` for the figures
//! (`LINALG_CASES=400` for more random cases).
//!
//! # Cost (per party, `N` matrices of size p × p, K = [`spd_inverse_steps`])
//!
//! Each truncation sends one ring element (16 bytes) per party per truncated value and
//! takes two rounds, but a chain of them overlaps (party 2 is done a round early), so two
//! chained products take three rounds. With `R`/`C` the rounds/bytes of one
//! [`Party::rsqrt_pow2`] on `N` values (R = 17; C = 9,248 bytes for N = 1, bit-sliced), and
//! `K = 1 + S + L` with `S` coupled and `L` plain steps after the folded first
//! ([`spd_inverse_split`]), for `S ≥ 1`:
//! - rounds: `R + 8 + ceil(3(S + 1)/2) + 3L`, the same for N matrices as for one;
//! - bytes: `16·N·(1 + p²(3S + 5 + 2L))` + C (‖A‖²; B and γB; M and γM for every coupled
//!   step but the last, X for each; two products per plain step; `s·X`; the two products
//!   of the refinement);
//! - `spd_solve` with m right-hand sides: one round and `16·p·m` bytes more.
//!
//! With the default `max_cond` = 1e5: K = 13 (S = 11, L = 1) for p = 5, 10 and 20: 46
//! rounds (82, 82, 85 with `rsqrt` and chained steps) and 25,264, 73,264, 265,264 bytes
//! per party for one matrix (`tests/linalg.rs` checks these formulas against the traffic
//! counters).
//!
//! LEAKAGE: none; nothing is opened.

use crate::error::{MpcError, Result};
use crate::party::Party;
use crate::share::AShare;

/// Fractional bits of the iteration (B, X and the products B·X).
pub const SCALE: u32 = 32;
/// Fractional bits of the public constants γ_k applied before a truncation.
const GAMMA_BITS: u32 = 16;
/// Bound used for the relative error of `s = 1/‖A‖_F` (see the module docs' valid range).
pub const S_REL_ERR: f64 = 1.0 / 128.0;
/// Lower end of `s·‖A‖_F`: the scale is a power of two ([`Party::rsqrt_pow2`]), so the
/// product lies in `[1/2, 1]` (widened by [`S_REL_ERR`] for the error of ‖A‖_F²).
pub const S_LOW: f64 = 0.5;
/// Condition number the inverse is guaranteed to converge for unless a bound is given.
pub const DEFAULT_MAX_COND: f64 = 1e5;
/// Residual `1 − lo` at which the schedule stops.
const TOL: f64 = 1.0 / (1u64 << 14) as f64;
/// `lo` above which the steps are plain Newton–Schulz.
const PLAIN_FROM: f64 = 1.0 - 1.0 / 256.0;
/// Largest number of steps a schedule may take.
const MAX_STEPS: usize = 60;

/// One step of the iteration: `X ← X (β I − γ B X)`, with `γ = gamma / 2^gamma_bits` and
/// `β = beta / 2^SCALE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// γ·2^gamma_bits (an integer).
    pub gamma: u128,
    /// Fractional bits of `gamma` (0 for plain Newton–Schulz, γ = 1).
    pub gamma_bits: u32,
    /// β·2^SCALE.
    pub beta: u128,
}

/// The public schedule of steps for p × p matrices with condition number at most
/// `max_cond`: the first step is folded into the scaling, the others cost two products.
pub fn spd_inverse_schedule(p: usize, max_cond: f64) -> Result<Vec<Step>> {
    if p == 0 {
        return Err(MpcError::Invalid("matrix of size 0".into()));
    }
    let cond = if p == 1 { 1.0 } else { max_cond };
    if !(cond >= 1.0 && (p as f64).sqrt() * cond <= (1u64 << 20) as f64) {
        return Err(MpcError::Invalid(format!(
            "condition bound {max_cond} outside [1, 2^20/√p] for p = {p}"
        )));
    }
    let mut lo = S_LOW * (1.0 - S_REL_ERR) / ((p as f64).sqrt() * cond);
    let mut hi = 1.0 + S_REL_ERR;
    let mut steps = Vec::new();
    while 1.0 - lo > TOL || hi > 1.0 {
        if steps.len() == MAX_STEPS {
            return Err(MpcError::Invalid(
                "inverse schedule does not converge".into(),
            ));
        }
        let step = if lo > PLAIN_FROM {
            Step {
                gamma: 1,
                gamma_bits: 0,
                beta: 2u128 << SCALE,
            }
        } else {
            // Vertex at the middle c: γ = 1/c² (rounded up), β = 2√γ (rounded down), so the
            // maximum β²/(4γ) stays at most 1.
            let c = (lo + hi) / 2.0;
            let gamma = ((1.0 / (c * c)) * (GAMMA_BITS as f64).exp2()).ceil();
            let g = gamma / (GAMMA_BITS as f64).exp2();
            let beta = (2.0 * g.sqrt() * (SCALE as f64).exp2()).floor();
            Step {
                gamma: gamma as u128,
                gamma_bits: GAMMA_BITS,
                beta: beta as u128,
            }
        };
        let g = step.gamma as f64 / (step.gamma_bits as f64).exp2();
        let b = step.beta as f64 / (SCALE as f64).exp2();
        let q = |m: f64| m * (b - g * m);
        let vertex = (b / (2.0 * g)).clamp(lo, hi);
        let (nlo, nhi) = (q(lo).min(q(hi)), q(vertex));
        // Rounding of the iteration itself (2^-32 per entry, p terms) is absorbed here.
        lo = nlo - (p as f64) * (-(SCALE as f64)).exp2();
        hi = nhi;
        steps.push(step);
    }
    Ok(steps)
}

/// The steps after the folded first one: how many are coupled (scaled, `γ ≠ 1`) and how
/// many plain Newton–Schulz (C and L in the module's cost formulas; `1 + C + L = K`).
pub fn spd_inverse_split(p: usize, max_cond: f64) -> Result<(usize, usize)> {
    let steps = spd_inverse_schedule(p, max_cond)?;
    Ok(split(&steps[1..]))
}

/// Coupled and plain steps of a schedule's tail.
fn split(rest: &[Step]) -> (usize, usize) {
    let coupled = rest.iter().take_while(|s| s.gamma_bits != 0).count();
    (coupled, rest.len() - coupled)
}

/// Number of steps of the schedule (K in the module's cost formulas).
pub fn spd_inverse_steps(p: usize, max_cond: f64) -> Result<usize> {
    Ok(spd_inverse_schedule(p, max_cond)?.len())
}

/// The sharing of the public vector made of `n` copies of element `i` of `x` (local).
fn broadcast(x: &AShare<u128>, i: usize, n: usize) -> AShare<u128> {
    AShare {
        a: vec![x.a[i]; n],
        b: vec![x.b[i]; n],
    }
}

fn scale_parts(z: &mut [u128], c: u128) {
    for v in z.iter_mut() {
        *v = v.wrapping_mul(c);
    }
}

impl Party {
    /// Inverse of a shared symmetric positive-definite p×p matrix (row-major, fixed point).
    /// Valid input, error and cost in the module docs; condition number up to
    /// [`DEFAULT_MAX_COND`].
    pub fn spd_inverse(&mut self, a: &AShare<u128>, p: usize) -> Result<AShare<u128>> {
        Ok(self.spd_inverse_many(&[a], p)?.remove(0))
    }

    /// Inverses of several SPD matrices of the same size, in the rounds of one.
    pub fn spd_inverse_many(
        &mut self,
        mats: &[&AShare<u128>],
        p: usize,
    ) -> Result<Vec<AShare<u128>>> {
        self.spd_inverse_many_cond(mats, p, DEFAULT_MAX_COND)
    }

    /// [`Party::spd_inverse_many`] for matrices known to have condition number at most
    /// `max_cond`: a smaller bound means fewer steps (see [`spd_inverse_steps`]).
    pub fn spd_inverse_many_cond(
        &mut self,
        mats: &[&AShare<u128>],
        p: usize,
        max_cond: f64,
    ) -> Result<Vec<AShare<u128>>> {
        let f = self.frac_bits();
        self.spd_inverse_refined(mats, p, max_cond, 2 * SCALE - f)
    }

    /// Solves `A X = B` for SPD `A` (p×p) and `B` (p×m), both row-major fixed point.
    /// Condition number up to [`DEFAULT_MAX_COND`]; cost in the module docs.
    pub fn spd_solve(
        &mut self,
        a: &AShare<u128>,
        b: &AShare<u128>,
        p: usize,
        m: usize,
    ) -> Result<AShare<u128>> {
        self.spd_solve_cond(a, b, p, m, DEFAULT_MAX_COND)
    }

    /// [`Party::spd_solve`] for a matrix known to have condition number at most `max_cond`.
    pub fn spd_solve_cond(
        &mut self,
        a: &AShare<u128>,
        b: &AShare<u128>,
        p: usize,
        m: usize,
        max_cond: f64,
    ) -> Result<AShare<u128>> {
        if m == 0 || b.len() != p * m {
            return Err(MpcError::Invalid(format!(
                "right-hand side of {} elements for {p}×{m}",
                b.len()
            )));
        }
        // A⁻¹ at SCALE bits, then A⁻¹·B back to f bits.
        let inv = self.spd_inverse_refined(&[a], p, max_cond, SCALE)?;
        let z = self.matmul_parts(&inv[0], b, p, p, m)?;
        self.trunc_parts(z, SCALE)
    }

    /// A⁻¹ for each matrix: `Y = s·X` at SCALE bits, then one Newton–Schulz step against A
    /// itself, `Y (2I − A Y)`, which squares the residual left by the rounding of B and by
    /// the schedule; the last product is truncated by `d` (2·SCALE − f for the result at f
    /// bits, SCALE to keep SCALE bits).
    fn spd_inverse_refined(
        &mut self,
        mats: &[&AShare<u128>],
        p: usize,
        max_cond: f64,
        d: u32,
    ) -> Result<Vec<AShare<u128>>> {
        let f = self.frac_bits();
        let pp = p * p;
        let (xs, s) = self.spd_inverse_hi(mats, p, max_cond)?;
        let parts = xs
            .iter()
            .enumerate()
            .map(|(i, x)| self.mul_parts(&broadcast(&s, i, pp), x))
            .collect::<Result<Vec<_>>>()?;
        let ys = self.trunc_parts_many(parts, f)?;
        let parts = mats
            .iter()
            .zip(&ys)
            .map(|(a, y)| self.matmul_parts(a, y, p, p, p))
            .collect::<Result<Vec<_>>>()?;
        let ays = self.trunc_parts_many(parts, f)?;
        let parts = ys
            .iter()
            .zip(&ays)
            .map(|(y, ay)| {
                let m = self.beta_minus(&ay.neg(), 2u128 << SCALE, p);
                self.matmul_parts(y, &m, p, p, p)
            })
            .collect::<Result<Vec<_>>>()?;
        self.trunc_parts_many(parts, d)
    }

    /// The scaled iteration: returns X ≈ (s·A)⁻¹ at [`SCALE`] bits for each matrix, and the
    /// scale factors s ≈ 1/‖A‖_F (at `f` bits), so that A⁻¹ = s·X.
    fn spd_inverse_hi(
        &mut self,
        mats: &[&AShare<u128>],
        p: usize,
        max_cond: f64,
    ) -> Result<(Vec<AShare<u128>>, AShare<u128>)> {
        let f = self.frac_bits();
        if f > SCALE {
            return Err(MpcError::Invalid(format!(
                "inverse needs at most {SCALE} fractional bits, not {f}"
            )));
        }
        let steps = spd_inverse_schedule(p, max_cond)?;
        if let Some(bad) = mats.iter().find(|m| m.len() != p * p) {
            return Err(MpcError::Invalid(format!(
                "matrix of {} elements is not {p}×{p}",
                bad.len()
            )));
        }
        if mats.is_empty() {
            return Ok((Vec::new(), AShare::zeros(0)));
        }
        let pp = p * p;
        // ‖A‖_F² for every matrix (one truncation), then s = 1/‖A‖_F.
        let all = AShare::concat(mats);
        let norm2 = self.dot_fix(&all, &all, pp)?;
        let s = self.rsqrt_pow2(&norm2)?;
        // B = s·A at SCALE bits and P_0 = γ_0·B in one truncation by 2f + G − SCALE.
        let first = steps[0];
        let d = 2 * f + GAMMA_BITS - SCALE;
        let mut parts = Vec::with_capacity(2 * mats.len());
        for (i, m) in mats.iter().enumerate() {
            let raw = self.mul_parts(&broadcast(&s, i, pp), m)?;
            let mut b = raw.clone();
            scale_parts(&mut b, 1u128 << GAMMA_BITS);
            let mut g = raw;
            scale_parts(&mut g, first.gamma << (GAMMA_BITS - first.gamma_bits));
            parts.push(b);
            parts.push(g);
        }
        let mut done = self.trunc_parts_many(parts, d)?.into_iter();
        let mut bs = Vec::with_capacity(mats.len());
        let mut xs = Vec::with_capacity(mats.len());
        for _ in mats {
            let b = done.next().expect("B");
            let g = done.next().expect("γ·B");
            xs.push(self.beta_minus(&g.neg(), first.beta, p));
            bs.push(b);
        }
        // The scaled steps, coupled: with M = B·X, every step maps X ← X·T and M ← M·T for
        // T = β I − γ M, so the two products of a step run side by side (one level instead
        // of two chained ones). M's rounding drifts from B·X by a few 2^-32 relative to the
        // smallest eigenvalue; the plain steps that follow use B·X itself and square the
        // residual whatever it is.
        let rest = &steps[1..];
        let (coupled, _) = split(rest);
        if coupled > 0 {
            let parts = bs
                .iter()
                .zip(&xs)
                .map(|(b, x)| self.matmul_parts(b, x, p, p, p))
                .collect::<Result<Vec<_>>>()?;
            let (_, mut ms, mut gs) = self.coupled_trunc(Vec::new(), parts, &rest[0])?;
            for (i, step) in rest[..coupled].iter().enumerate() {
                let ts: Vec<AShare<u128>> = gs
                    .iter()
                    .map(|g| self.beta_minus(&g.neg(), step.beta, p))
                    .collect();
                let x_parts = xs
                    .iter()
                    .zip(&ts)
                    .map(|(x, t)| self.matmul_parts(x, t, p, p, p))
                    .collect::<Result<Vec<_>>>()?;
                // The last coupled step needs no M.
                let next = rest[..coupled].get(i + 1);
                let m_parts = match next {
                    Some(_) => ms
                        .iter()
                        .zip(&ts)
                        .map(|(m, t)| self.matmul_parts(m, t, p, p, p))
                        .collect::<Result<Vec<_>>>()?,
                    None => Vec::new(),
                };
                (xs, ms, gs) = self.coupled_trunc(x_parts, m_parts, next.unwrap_or(step))?;
            }
        }
        for step in &rest[coupled..] {
            // P = γ·B·X (one truncation by SCALE + gamma_bits), M = β I − P.
            let parts = bs
                .iter()
                .zip(&xs)
                .map(|(b, x)| {
                    let mut z = self.matmul_parts(b, x, p, p, p)?;
                    scale_parts(&mut z, step.gamma);
                    Ok(z)
                })
                .collect::<Result<Vec<_>>>()?;
            let ps = self.trunc_parts_many(parts, SCALE + step.gamma_bits)?;
            let ms: Vec<AShare<u128>> = ps
                .iter()
                .map(|pm| self.beta_minus(&pm.neg(), step.beta, p))
                .collect();
            let parts = xs
                .iter()
                .zip(&ms)
                .map(|(x, m)| self.matmul_parts(x, m, p, p, p))
                .collect::<Result<Vec<_>>>()?;
            xs = self.trunc_parts_many(parts, SCALE)?;
        }
        Ok((xs, s))
    }

    /// One truncation for a coupled step: the parts of the products `X·T` and `M·T` (at
    /// 2·SCALE bits) become X and M at SCALE bits, and `γ·M` for the next step `next`.
    #[allow(clippy::type_complexity)]
    fn coupled_trunc(
        &mut self,
        x_parts: Vec<Vec<u128>>,
        m_parts: Vec<Vec<u128>>,
        next: &Step,
    ) -> Result<(Vec<AShare<u128>>, Vec<AShare<u128>>, Vec<AShare<u128>>)> {
        let nx = x_parts.len();
        let mut shifts = vec![SCALE; nx];
        let mut all = x_parts;
        for z in m_parts {
            let mut g = z.clone();
            scale_parts(&mut g, next.gamma);
            all.push(z);
            shifts.push(SCALE);
            all.push(g);
            shifts.push(SCALE + next.gamma_bits);
        }
        let mut done = self.trunc_parts_each(all, &shifts)?;
        let tail = done.split_off(nx);
        let (ms, gs) = tail.chunks(2).map(|c| (c[0].clone(), c[1].clone())).unzip();
        Ok((done, ms, gs))
    }

    /// `x + β I` for a p×p sharing `x` and the public β (at SCALE bits) (local).
    fn beta_minus(&self, x: &AShare<u128>, beta: u128, p: usize) -> AShare<u128> {
        let mut diag = vec![0u128; p * p];
        for i in 0..p {
            diag[i * p + i] = beta;
        }
        self.add_public(x, &diag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        for p in [1, 2, 5, 10, 20] {
            for cond in [10.0, 1e3, 1e4, 1e5] {
                let k = spd_inverse_steps(p, cond).expect("valid");
                println!("p = {p}, κ ≤ {cond:e}: {k} steps");
                assert!(k <= 20);
            }
        }
        assert!(spd_inverse_schedule(0, 10.0).is_err());
        assert!(spd_inverse_schedule(4, 1e7).is_err());
        assert!(spd_inverse_schedule(4, 0.5).is_err());
    }
}
