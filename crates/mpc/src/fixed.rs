//! Fixed-point numbers and truncation.
//!
//! A real `v` is encoded as the ring element `round(v · 2^f)` (two's complement), with `f`
//! fractional bits ([`Party::frac_bits`], default 24: resolution 6e-8). Fixed-point values
//! live in Z_2^128, which leaves room for the 2f-bit products before truncation.
//!
//! Truncation is probabilistic (the two-party local truncation of SecureML, applied after a
//! reshare to two parties). For a value `z` with `|z| < 2^m` in the ring of `k` bits:
//! - the result is `floor(z / 2^d)` or one more, each with probability depending on the
//!   low bits: absolute error below `2^-f` (one unit in the last place) per truncation;
//! - it is wrong by a large amount with probability below `2^(m + 1 - k)`. With k = 128,
//!   f = 24, a product of two values whose real product is below 2^39 has m ≤ 87, so the
//!   failure probability is below 2^-40 per element. This bounds the *valid range*: the
//!   real product of a fixed-point multiplication must stay below 2^39 ≈ 5.5·10^11.
//!
//! Leakage: none beyond the statistical distance `|z| / 2^(k - d)` of one party's view of a
//! share (below 2^-40 inside the valid range).

use crate::error::Result;
use crate::party::Party;
use crate::ring::Ring;
use crate::share::AShare;

/// Encodes a real number with `f` fractional bits (rounding to nearest).
pub fn encode<R: Ring>(v: f64, f: u32) -> R {
    R::from_i128((v * (f as f64).exp2()).round() as i128)
}

/// Decodes a ring element with `f` fractional bits as a real number.
pub fn decode<R: Ring>(x: R, f: u32) -> f64 {
    x.to_i128() as f64 / (f as f64).exp2()
}

/// Encodes a vector.
pub fn encode_vec<R: Ring>(v: &[f64], f: u32) -> Vec<R> {
    v.iter().map(|&x| encode(x, f)).collect()
}

/// Decodes a vector.
pub fn decode_vec<R: Ring>(v: &[R], f: u32) -> Vec<f64> {
    v.iter().map(|&x| decode(x, f)).collect()
}

impl Party {
    /// Turns a masked 3-out-of-3 sharing `z` (this party's part) into a replicated sharing
    /// of `z / 2^d` (see the module docs for the error). Two rounds, one element per party:
    /// party 2 hands its part to party 1, so parties 0 and 1 hold a two-party sharing; each
    /// truncates locally; the results are re-randomised with the seed of parties 1 and 2.
    pub(crate) fn trunc_parts<R: Ring>(&mut self, z: Vec<R>, d: u32) -> Result<AShare<R>> {
        let n = z.len();
        match self.id() {
            0 => {
                // t0 = floor(z0 / 2^d); z0 is masked by the zero sharing, so t0 is uniform
                // to party 2.
                let t0: Vec<R> = z.iter().map(|x| x.shr(d)).collect();
                self.send_ring(2, &t0)?;
                let t1 = self.recv_ring(1, n)?;
                Ok(AShare { a: t0, b: t1 })
            }
            1 => {
                let z2: Vec<R> = self.recv_ring(2, n)?;
                let r: Vec<R> = self.next.vec(n);
                let t1: Vec<R> = z
                    .iter()
                    .zip(&z2)
                    .zip(&r)
                    .map(|((&p, &q), &r)| p.add(q).neg().shr(d).neg().sub(r))
                    .collect();
                self.send_ring(0, &t1)?;
                Ok(AShare { a: t1, b: r })
            }
            _ => {
                self.send_ring(1, &z)?;
                let r: Vec<R> = self.prev.vec(n);
                let t0 = self.recv_ring(0, n)?;
                Ok(AShare { a: r, b: t0 })
            }
        }
    }

    /// Divides a shared vector by 2^d (probabilistic truncation; module docs give the
    /// error). Two rounds, one element per party.
    pub fn trunc<R: Ring>(&mut self, x: &AShare<R>, d: u32) -> Result<AShare<R>> {
        let mut z = self.zero_parts::<R>(x.len());
        for (zk, &s) in z.iter_mut().zip(&x.a) {
            *zk = zk.add(s);
        }
        self.trunc_parts(z, d)
    }

    /// Fixed-point product of two shared vectors with `frac_bits` fractional bits each,
    /// truncated back to `frac_bits`. Two rounds, one element per party per product.
    pub fn mul_fix(&mut self, x: &AShare<u128>, y: &AShare<u128>) -> Result<AShare<u128>> {
        let f = self.frac_bits();
        self.mul_trunc(x, y, f)
    }

    /// Product followed by division by 2^d, in the rounds of one truncation.
    pub fn mul_trunc<R: Ring>(
        &mut self,
        x: &AShare<R>,
        y: &AShare<R>,
        d: u32,
    ) -> Result<AShare<R>> {
        let z = self.mul_parts(x, y)?;
        self.trunc_parts(z, d)
    }

    /// Fixed-point dot products (see [`Party::dot`]), truncated once per result.
    pub fn dot_fix(
        &mut self,
        x: &AShare<u128>,
        y: &AShare<u128>,
        k: usize,
    ) -> Result<AShare<u128>> {
        let f = self.frac_bits();
        let z = self.dot_parts(x, y, k)?;
        self.trunc_parts(z, f)
    }

    /// Fixed-point matrix product `x (n×k) · y (k×m)`, truncated once per entry.
    pub fn matmul_fix(
        &mut self,
        x: &AShare<u128>,
        y: &AShare<u128>,
        n: usize,
        k: usize,
        m: usize,
    ) -> Result<AShare<u128>> {
        let f = self.frac_bits();
        let z = self.matmul_parts(x, y, n, k, m)?;
        self.trunc_parts(z, f)
    }

    /// Multiplies by the public real `c` (encoded with `frac_bits`) and truncates.
    pub fn mul_const_fix(&mut self, x: &AShare<u128>, c: f64) -> Result<AShare<u128>> {
        let f = self.frac_bits();
        self.trunc(&x.mul_const(encode(c, f)), f)
    }
}
