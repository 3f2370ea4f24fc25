//! Polynomial approximation: Chebyshev interpolation turned into monomial coefficients, and
//! evaluation of a polynomial on shared fixed-point values.

use crate::error::Result;
use crate::fixed::encode;
use crate::party::Party;
use crate::share::AShare;

/// Monomial coefficients `c[0] + c[1] t + … + c[deg] t^deg` of the Chebyshev interpolant of
/// `f` on `t ∈ [0, 1]` (near-minimax for smooth `f`). Coefficients are computed in f64 once.
pub fn fit(f: impl Fn(f64) -> f64, deg: usize) -> Vec<f64> {
    let n = deg + 1;
    let nodes: Vec<f64> = (0..n)
        .map(|i| (std::f64::consts::PI * (i as f64 + 0.5) / n as f64).cos())
        .collect();
    let vals: Vec<f64> = nodes.iter().map(|&u| f((u + 1.0) / 2.0)).collect();
    // Chebyshev coefficients a_k = 2/n Σ f(u_i) T_k(u_i), a_0 halved.
    let mut cheb = vec![0.0; n];
    for (k, a) in cheb.iter_mut().enumerate() {
        let s: f64 = nodes
            .iter()
            .zip(&vals)
            .map(|(&u, &v)| v * (k as f64 * u.acos()).cos())
            .sum();
        *a = 2.0 * s / n as f64;
    }
    cheb[0] /= 2.0;
    // Monomials in u: T_0 = 1, T_1 = u, T_{k+1} = 2u T_k - T_{k-1}.
    let mut in_u = vec![0.0; n];
    let (mut t_prev, mut t_cur) = (vec![1.0], vec![0.0, 1.0]);
    in_u[0] += cheb[0];
    if n > 1 {
        in_u[1] += cheb[1];
    }
    for &a in cheb.iter().skip(2) {
        let mut t_next = vec![0.0; t_cur.len() + 1];
        for (i, &c) in t_cur.iter().enumerate() {
            t_next[i + 1] += 2.0 * c;
        }
        for (i, &c) in t_prev.iter().enumerate() {
            t_next[i] -= c;
        }
        for (i, &c) in t_next.iter().enumerate() {
            in_u[i] += a * c;
        }
        t_prev = std::mem::replace(&mut t_cur, t_next);
    }
    // Substitute u = 2t - 1: Σ b_i (2t - 1)^i.
    let mut in_t = vec![0.0; n];
    for (i, &b) in in_u.iter().enumerate() {
        // (2t - 1)^i = Σ_j C(i, j) (2t)^j (-1)^(i-j)
        let mut binom = 1.0;
        for (j, slot) in in_t.iter_mut().enumerate().take(i + 1) {
            let sign = if (i - j) % 2 == 0 { 1.0 } else { -1.0 };
            *slot += b * binom * (2f64).powi(j as i32) * sign;
            binom = binom * (i - j) as f64 / (j + 1) as f64;
        }
    }
    in_t
}

/// Evaluates the polynomial `c` at plaintext `t` (for tests and error analysis).
pub fn eval(c: &[f64], t: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * t + k)
}

impl Party {
    /// `x, x², …, x^deg` of values at fixed-point scale `scale` (bits), all at that scale.
    /// `ceil(log2 deg)` multiplications deep; every level is one batched product.
    pub fn powers(
        &mut self,
        x: &AShare<u128>,
        deg: usize,
        scale: u32,
    ) -> Result<Vec<AShare<u128>>> {
        let mut pw = vec![x.clone()];
        while pw.len() < deg {
            let m = pw.len();
            let count = (deg - m).min(m);
            let pairs: Vec<(&AShare<u128>, &AShare<u128>)> =
                (0..count).map(|i| (&pw[m - 1], &pw[i])).collect();
            let prod = self.mul_trunc_many(&pairs, scale)?;
            pw.extend(prod);
        }
        Ok(pw)
    }

    /// `Σ c_k x^k` for `x` at scale `scale`, returned at scale `out_scale ≤ 2·scale`.
    /// Requires `Σ |c_k| |x|^k · 2^(2·scale)` well below 2^87 (see [`crate::fixed`]).
    pub fn poly_eval(
        &mut self,
        x: &AShare<u128>,
        c: &[f64],
        scale: u32,
        out_scale: u32,
    ) -> Result<AShare<u128>> {
        let acc = self.poly_sum(x, c, scale)?;
        self.trunc(&acc, 2 * scale - out_scale)
    }

    /// `Σ c_k x^k` at scale `2·scale`, not yet truncated (so that callers can add other
    /// terms and truncate once).
    pub fn poly_sum(&mut self, x: &AShare<u128>, c: &[f64], scale: u32) -> Result<AShare<u128>> {
        let pw = self.powers(x, c.len() - 1, scale)?;
        Ok(self.combine(&pw, c, scale, x.len()))
    }

    /// `c[0] + Σ c[k+1]·pw[k]` for the powers `pw` at scale `scale`, at scale `2·scale`
    /// (local).
    pub(crate) fn combine(
        &self,
        pw: &[AShare<u128>],
        c: &[f64],
        scale: u32,
        n: usize,
    ) -> AShare<u128> {
        let mut acc = self.public(&vec![encode::<u128>(c[0], 2 * scale); n]);
        for (k, p) in pw.iter().enumerate() {
            acc.add_scaled(p, encode(c[k + 1], scale));
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_are_accurate() {
        let c = fit(f64::exp2, 9);
        let ln = fit(|t| (1.0 + t).ln(), 12);
        for i in 0..=1000 {
            let t = i as f64 / 1000.0;
            assert!((eval(&c, t) - t.exp2()).abs() < 1e-10, "2^{t}");
            assert!((eval(&ln, t) - (1.0 + t).ln()).abs() < 2e-9, "ln(1+{t})");
        }
    }
}
