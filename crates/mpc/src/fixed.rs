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
//! Errors of the operations built on it (each truncates once per result):
//! - `mul_fix`, `trunc`, `dot_fix`, `matmul_fix`: the exact result of the integer
//!   computation, then `floor(·/2^f)` or one more: absolute error below 2^-f on top of the
//!   inputs' own encoding error (tested exactly in `tests/arith.rs`); dot and matrix
//!   products sum first, so the error does not grow with the inner dimension;
//! - `mul_const_fix(x, c)`: additionally `|x|·2^-(f+1)` from encoding `c`.
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
    /// Turns masked 3-out-of-3 sharings `z` (this party's parts) into replicated sharings
    /// of `z / 2^d` (see the module docs for the error). Two rounds, one element per party:
    /// party 2 hands its parts to party 1, so parties 0 and 1 hold a two-party sharing; each
    /// truncates locally; the results are re-randomised with the seed of parties 1 and 2.
    pub(crate) fn trunc_parts_many<R: Ring>(
        &mut self,
        z: Vec<Vec<R>>,
        d: u32,
    ) -> Result<Vec<AShare<R>>> {
        let ds = vec![d; z.len()];
        self.trunc_parts_each(z, &ds)
    }

    /// [`Party::trunc_parts_many`] with its own shift `d[i]` for each vector `z[i]`, in the
    /// same two rounds.
    pub(crate) fn trunc_parts_each<R: Ring>(
        &mut self,
        z: Vec<Vec<R>>,
        d: &[u32],
    ) -> Result<Vec<AShare<R>>> {
        assert_eq!(z.len(), d.len(), "one shift per vector");
        let lens: Vec<usize> = z.iter().map(Vec::len).collect();
        match self.id() {
            0 => {
                // t0 = floor(z0 / 2^d); z0 is masked by the zero sharing, so t0 is uniform
                // to party 2.
                let t0: Vec<Vec<R>> = z
                    .iter()
                    .zip(d)
                    .map(|(v, &d)| v.iter().map(|x| x.shr(d)).collect())
                    .collect();
                self.send_parts(2, &t0.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
                let t1 = self.recv_parts(1, &lens)?;
                Ok(t0
                    .into_iter()
                    .zip(t1)
                    .map(|(a, b)| AShare { a, b })
                    .collect())
            }
            1 => {
                let z2: Vec<Vec<R>> = self.recv_parts(2, &lens)?;
                let mut out = Vec::with_capacity(z.len());
                for ((zi, z2i), &d) in z.iter().zip(&z2).zip(d) {
                    let r: Vec<R> = self.next.vec(zi.len());
                    let t1: Vec<R> = zi
                        .iter()
                        .zip(z2i)
                        .zip(&r)
                        .map(|((&p, &q), &r)| p.add(q).neg().shr(d).neg().sub(r))
                        .collect();
                    out.push(AShare { a: t1, b: r });
                }
                self.send_parts(0, &out.iter().map(|s| s.a.as_slice()).collect::<Vec<_>>())?;
                Ok(out)
            }
            _ => {
                self.send_parts(1, &z.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
                let r: Vec<Vec<R>> = lens.iter().map(|&n| self.prev.vec(n)).collect();
                let t0 = self.recv_parts(0, &lens)?;
                Ok(r.into_iter()
                    .zip(t0)
                    .map(|(a, b)| AShare { a, b })
                    .collect())
            }
        }
    }

    pub(crate) fn trunc_parts<R: Ring>(&mut self, z: Vec<R>, d: u32) -> Result<AShare<R>> {
        Ok(self.trunc_parts_many(vec![z], d)?.pop().expect("one part"))
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
        Ok(self
            .mul_trunc_many(&[(x, y)], d)?
            .pop()
            .expect("one product"))
    }

    /// Several independent products, each divided by 2^d, in the rounds of one.
    pub fn mul_trunc_many<R: Ring>(
        &mut self,
        pairs: &[(&AShare<R>, &AShare<R>)],
        d: u32,
    ) -> Result<Vec<AShare<R>>> {
        let parts = pairs
            .iter()
            .map(|(x, y)| self.mul_parts(x, y))
            .collect::<Result<Vec<_>>>()?;
        self.trunc_parts_many(parts, d)
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

    /// Multiplies by the public real `c` with about 31 significant bits of `c` (not just
    /// `frac_bits`): `c` is encoded as `round(c·2^s)` with `s` chosen for that, and the
    /// product truncated by `s`. For constants far from 1 (e.g. `1/n` for a large `n`), where
    /// [`Party::mul_const_fix`] would lose relative precision. Valid while `|x·c|` stays in
    /// the fixed-point range and `|x|·2^(f+s) < 2^86`. Two rounds, one element per party.
    pub fn mul_public_real(&mut self, x: &AShare<u128>, c: f64) -> Result<AShare<u128>> {
        if c == 0.0 {
            return Ok(AShare::zeros(x.len()));
        }
        let s = (31 - c.abs().log2().floor() as i32).clamp(0, 62) as u32;
        let k = (c * (s as f64).exp2()).round() as i128;
        let scaled = x.mul_const(u128::from_i128(k));
        if s == 0 {
            return Ok(scaled);
        }
        self.trunc(&scaled, s)
    }

    /// Multiplies by the public real `c` (encoded with `frac_bits`) and truncates.
    pub fn mul_const_fix(&mut self, x: &AShare<u128>, c: f64) -> Result<AShare<u128>> {
        let f = self.frac_bits();
        self.trunc(&x.mul_const(encode(c, f)), f)
    }
}
