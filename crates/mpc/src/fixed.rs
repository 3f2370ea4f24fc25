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
//!
//! # One round ([`Party::few_rounds`], Z_2^128)
//!
//! Between organisations every round costs a network latency, and the truncation above
//! takes two (party 2 → 1, then 1 → 0). In few-rounds mode a truncation in Z_2^128 takes one,
//! with a mask `r = r_A + r_B` that costs no communication: for each element one party `s`
//! is "special" (`s = k mod 3` for the element's position `k`, so the bytes are balanced);
//! `r_A` comes from the seed `s` shares with `s − 1`, `r_B` from the seed it shares with
//! `s + 1`, each uniform in [0, 2^126). In one round:
//! - `s` sends `u = z_s − r_A − r_B` to both others, and parties `s − 1` and `s + 1` send
//!   each other their parts, so both learn `c = z − r` and hold the component `⌊c / 2^d⌋`;
//! - `s` knows `⌈r / 2^d⌉` and splits it over the components it shares with `s − 1` and
//!   `s + 1`: `⌊r_A / 2^d⌋ + w` and `⌊r_B / 2^d⌋ − p`, where `p` is a pad from the seed of
//!   `s` and `s + 1`; `s` sends `w` (the carry of the masks' low bits plus `p`) to `s − 1`.
//!
//! Properties:
//! - error: `⌊c / 2^d⌋ + ⌈r / 2^d⌉` is `⌊z / 2^d⌋` or one more, as in the two-round
//!   protocol, and exact where `z` is a multiple of 2^d (zero stays zero);
//! - no large errors: `z − r` cannot wrap for `|z| < 2^87` but with probability below 2^-79
//!   (two masks below 2^126 sum below 2^127);
//! - leakage: party `s + 1` knows `r_B` and learns `z − r_A`, party `s − 1` knows `r_A` and
//!   learns `z − r_B`, each masked by one uniform 126-bit value: statistical distance below
//!   `2·|z| / 2^126`, i.e. 2^-38 per element inside the valid range; `w` is uniform to
//!   `s − 1` (padded by `p`); `s` receives nothing;
//! - bytes: 5/3 of an element per element and party, against one in two rounds.
//!
//! Z_2^64 keeps the two-round protocol (the masks would leave no room).

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
        if self.few_rounds && R::BITS == 128 {
            return self.trunc_parts_one_round(z, d);
        }
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

    /// [`Party::trunc_parts_each`] in one round, with masks from the pairwise seeds (module
    /// docs, "One round"). Z_2^128 only: the masks need 126 bits.
    fn trunc_parts_one_round<R: Ring>(
        &mut self,
        z: Vec<Vec<R>>,
        d: &[u32],
    ) -> Result<Vec<AShare<R>>> {
        let me = self.id();
        let (nx, pv) = (self.next_id(), self.prev_id());
        let lens: Vec<usize> = z.iter().map(Vec::len).collect();
        let total: usize = lens.iter().sum();
        if total == 0 {
            // Nothing to truncate (the lengths are public): no message.
            return Ok(lens.iter().map(|_| AShare::default()).collect());
        }
        let shifts: Vec<u32> = lens
            .iter()
            .zip(d)
            .flat_map(|(&n, &dv)| std::iter::repeat_n(dv, n))
            .collect();
        // Element k (counted across the vectors) has the "special" party k mod 3, so the
        // bytes are balanced. Every party draws the same amounts from both its streams
        // whatever its roles, so the two holders of a seed draw alike: position k of the
        // first draw is a mask, of the second a pad.
        let masks_p: Vec<R> = self.prev.vec::<R>(total).into_iter().map(mask).collect();
        let masks_n: Vec<R> = self.next.vec::<R>(total).into_iter().map(mask).collect();
        let pads_p: Vec<R> = self.prev.vec(total);
        let pads_n: Vec<R> = self.next.vec(total);
        let flat: Vec<R> = z.into_iter().flatten().collect();
        let (mut to_next, mut to_prev) = (Vec::new(), Vec::new());
        // The special party's two shares of the result, kept for the second pass.
        let mut own: Vec<(R, R)> = Vec::new();
        for (k, &v) in flat.iter().enumerate() {
            let s = k % 3;
            if s == me {
                let (ra, rb, dv) = (masks_p[k], masks_n[k], shifts[k]);
                // u = z_s − r_A − r_B, to both others.
                let u = v.sub(ra).sub(rb);
                // ceil((r_A + r_B) / 2^d) split over the two shares this party holds, the
                // carry of the low bits hidden from party s − 1 by the pad of s and s + 1.
                let ceil = ra.add(rb).add(R::ONE.shl(dv).sub(R::ONE)).shr(dv);
                let share_b = rb.shr(dv).sub(pads_n[k]);
                let w = ceil.sub(ra.shr(dv)).sub(share_b);
                own.push((ra.shr(dv).add(w), share_b));
                to_next.push(u);
                to_prev.push(u);
                to_prev.push(w);
            } else if s == pv {
                // This party is s + 1: its part goes to s − 1, its successor.
                to_next.push(v);
            } else {
                // This party is s − 1: its part goes to s + 1, its predecessor.
                to_prev.push(v);
            }
        }
        self.send_parts(nx, &[&to_next])?;
        self.send_parts(pv, &[&to_prev])?;
        let count = |j: usize| (total + 2 - j) / 3;
        let got_next = self.recv_ring::<R>(nx, 2 * count(nx) + count(pv))?;
        let got_prev = self.recv_ring::<R>(pv, count(pv) + count(nx))?;
        let (mut gn, mut gp) = (got_next.into_iter(), got_prev.into_iter());
        let mut own = own.into_iter();
        let next_of = |it: &mut std::vec::IntoIter<R>| it.next().expect("length checked");
        let mut out = Vec::with_capacity(lens.len());
        let mut k = 0;
        for &len in &lens {
            let (mut a, mut b) = (Vec::with_capacity(len), Vec::with_capacity(len));
            for _ in 0..len {
                let (s, v, dv) = (k % 3, flat[k], shifts[k]);
                if s == me {
                    let (x, y) = own.next().expect("one per own element");
                    a.push(x);
                    b.push(y);
                } else if s == pv {
                    // Party s + 1: u from s (its predecessor), z_{s−1} from its successor;
                    // shares s_{s+1} = ⌊r_B / 2^d⌋ − pad and s_{s+2} = ⌊c / 2^d⌋.
                    let c = v.add(next_of(&mut gp)).add(next_of(&mut gn));
                    a.push(masks_p[k].shr(dv).sub(pads_p[k]));
                    b.push(floor_shift(c, dv));
                } else {
                    // Party s − 1: u and w from s (its successor), z_{s+1} from its
                    // predecessor; shares s_{s−1} = ⌊c / 2^d⌋ and s_s = ⌊r_A / 2^d⌋ + w.
                    let u = next_of(&mut gn);
                    let w = next_of(&mut gn);
                    let c = v.add(u).add(next_of(&mut gp));
                    a.push(floor_shift(c, dv));
                    b.push(masks_n[k].shr(dv).add(w));
                }
                k += 1;
            }
            out.push(AShare { a, b });
        }
        Ok(out)
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
        Ok(self
            .matmul_trunc_each(&[(x, y, [n, k, m])], &[f])?
            .pop()
            .expect("one product"))
    }

    /// Several matrix products `x_i (n_i×k_i) · y_i (k_i×m_i)` (`[n_i, k_i, m_i]` given with
    /// each pair), product `i` divided by `2^d[i]`, in the rounds of one truncation: the
    /// product and its reshare fused with the truncation (a product with a truncation after
    /// it takes one round fewer). One element per entry and party, independent of `k_i`.
    pub fn matmul_trunc_each(
        &mut self,
        prods: &[(&AShare<u128>, &AShare<u128>, [usize; 3])],
        d: &[u32],
    ) -> Result<Vec<AShare<u128>>> {
        let parts = prods
            .iter()
            .map(|(x, y, [n, k, m])| self.matmul_parts(x, y, *n, *k, *m))
            .collect::<Result<Vec<_>>>()?;
        self.trunc_parts_each(parts, d)
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

/// A one-round truncation mask: uniform in [0, 2^126), so that the sum of two stays below
/// 2^127 and `z − r` cannot wrap for `|z| < 2^87` but with probability below 2^-79.
fn mask<R: Ring>(v: R) -> R {
    v.shr(R::BITS - 126)
}

/// `floor(x / 2^d)` of the signed value `x`.
fn floor_shift<R: Ring>(x: R, d: u32) -> R {
    R::from_i128(x.to_i128() >> d)
}
