//! Arithmetic protocols: input, reveal, multiplication, dot and matrix products.

use crate::error::{MpcError, Result};
use crate::party::Party;
use crate::ring::Ring;
use crate::share::AShare;

impl Party {
    /// Secret-shares a vector held by compute party `owner` (which passes `Some(values)`;
    /// the others pass `None` and the length `n`). One round, `n` elements sent by the owner
    /// to its successor only: `s_owner` comes from the seed the owner shares with its
    /// predecessor, `s_{owner+2}` is zero and `s_{owner+1}` is what is left.
    pub fn share_input<R: Ring>(
        &mut self,
        owner: usize,
        values: Option<&[R]>,
        n: usize,
    ) -> Result<AShare<R>> {
        let me = self.id();
        if me == owner {
            let v = values.ok_or_else(|| MpcError::Invalid("owner must pass its values".into()))?;
            if v.len() != n {
                return Err(MpcError::Invalid(format!(
                    "{} values, length says {n}",
                    v.len()
                )));
            }
            let s_own: Vec<R> = self.prev.vec(n);
            let s_next: Vec<R> = v.iter().zip(&s_own).map(|(&x, &r)| x.sub(r)).collect();
            self.send_ring(self.next_id(), &s_next)?;
            Ok(AShare {
                a: s_own,
                b: s_next,
            })
        } else if me == (owner + 1) % 3 {
            let s = self.recv_ring(owner, n)?;
            Ok(AShare {
                a: s,
                b: vec![R::ZERO; n],
            })
        } else {
            Ok(AShare {
                a: vec![R::ZERO; n],
                b: self.next.vec(n),
            })
        }
    }

    /// Opens a shared vector to all three parties. One round, one element per party.
    pub fn reveal<R: Ring>(&mut self, x: &AShare<R>) -> Result<Vec<R>> {
        self.send_ring(self.prev_id(), &x.b)?;
        let missing: Vec<R> = self.recv_ring(self.next_id(), x.len())?;
        Ok(x.a
            .iter()
            .zip(&x.b)
            .zip(&missing)
            .map(|((&p, &q), &r)| p.add(q).add(r))
            .collect())
    }

    /// Opens a shared vector to the parties in `to` only; the others learn nothing and get
    /// `None`. One round; each recipient receives one element per value from its successor.
    pub fn reveal_to<R: Ring>(&mut self, x: &AShare<R>, to: &[usize]) -> Result<Option<Vec<R>>> {
        let me = self.id();
        if to.contains(&self.prev_id()) {
            self.send_ring(self.prev_id(), &x.b)?;
        }
        if !to.contains(&me) {
            return Ok(None);
        }
        let missing: Vec<R> = self.recv_ring(self.next_id(), x.len())?;
        Ok(Some(
            x.a.iter()
                .zip(&x.b)
                .zip(&missing)
                .map(|((&p, &q), &r)| p.add(q).add(r))
                .collect(),
        ))
    }

    /// Turns 3-out-of-3 additive sharings (`z` are this party's parts) into replicated
    /// sharings: each party sends its parts to its predecessor. One round, one element each.
    /// The parts must already be masked by a zero sharing.
    pub(crate) fn reshare_many<R: Ring>(&mut self, z: Vec<Vec<R>>) -> Result<Vec<AShare<R>>> {
        let refs: Vec<&[R]> = z.iter().map(Vec::as_slice).collect();
        self.send_parts(self.prev_id(), &refs)?;
        let lens: Vec<usize> = z.iter().map(Vec::len).collect();
        let got = self.recv_parts(self.next_id(), &lens)?;
        Ok(z.into_iter()
            .zip(got)
            .map(|(a, b)| AShare { a, b })
            .collect())
    }

    pub(crate) fn reshare<R: Ring>(&mut self, z: Vec<R>) -> Result<AShare<R>> {
        Ok(self.reshare_many(vec![z])?.pop().expect("one part"))
    }

    /// This party's masked part of the elementwise product (3-out-of-3, no communication).
    pub(crate) fn mul_parts<R: Ring>(&mut self, x: &AShare<R>, y: &AShare<R>) -> Result<Vec<R>> {
        if x.len() != y.len() {
            return Err(MpcError::Invalid(format!(
                "product of lengths {} and {}",
                x.len(),
                y.len()
            )));
        }
        // s_i·t_i + s_i·t_{i+1} + s_{i+1}·t_i, written with two ring products.
        let mut z = self.zero_parts::<R>(x.len());
        for ((zk, (&xa, &xb)), (&ya, &yb)) in z
            .iter_mut()
            .zip(x.a.iter().zip(&x.b))
            .zip(y.a.iter().zip(&y.b))
        {
            *zk = zk.add(xa.mul(ya.add(yb)).add(xb.mul(ya)));
        }
        Ok(z)
    }

    /// Elementwise product of two shared vectors. One round, one element per party per
    /// product (8 bytes in Z_2^64).
    pub fn mul<R: Ring>(&mut self, x: &AShare<R>, y: &AShare<R>) -> Result<AShare<R>> {
        Ok(self.mul_many(&[(x, y)])?.pop().expect("one product"))
    }

    /// Several independent elementwise products in the round of one.
    pub fn mul_many<R: Ring>(
        &mut self,
        pairs: &[(&AShare<R>, &AShare<R>)],
    ) -> Result<Vec<AShare<R>>> {
        let parts = pairs
            .iter()
            .map(|(x, y)| self.mul_parts(x, y))
            .collect::<Result<Vec<_>>>()?;
        self.reshare_many(parts)
    }

    /// Dot products of consecutive blocks: `x` and `y` hold `n` vectors of length `k` each
    /// (row-major, `n * k` elements); the result holds the `n` dot products. One round and
    /// `n` elements per party, whatever `k` is.
    pub fn dot<R: Ring>(&mut self, x: &AShare<R>, y: &AShare<R>, k: usize) -> Result<AShare<R>> {
        let z = self.dot_parts(x, y, k)?;
        self.reshare(z)
    }

    /// This party's masked parts of the dot products of blocks of length `k`.
    pub(crate) fn dot_parts<R: Ring>(
        &mut self,
        x: &AShare<R>,
        y: &AShare<R>,
        k: usize,
    ) -> Result<Vec<R>> {
        if x.len() != y.len() || k == 0 || !x.len().is_multiple_of(k) {
            return Err(MpcError::Invalid(format!(
                "dot of lengths {} and {} in blocks of {k}",
                x.len(),
                y.len()
            )));
        }
        let mut z = self.zero_parts::<R>(x.len() / k);
        for (r, zr) in z.iter_mut().enumerate() {
            let mut acc = R::ZERO;
            for j in r * k..(r + 1) * k {
                acc = acc.add(x.a[j].mul(y.a[j].add(y.b[j])).add(x.b[j].mul(y.a[j])));
            }
            *zr = zr.add(acc);
        }
        Ok(z)
    }

    /// Matrix product `x (n×k) · y (k×m)`, both row-major. One round and `n·m` elements per
    /// party, independent of the inner dimension `k`.
    pub fn matmul<R: Ring>(
        &mut self,
        x: &AShare<R>,
        y: &AShare<R>,
        n: usize,
        k: usize,
        m: usize,
    ) -> Result<AShare<R>> {
        let z = self.matmul_parts(x, y, n, k, m)?;
        self.reshare(z)
    }

    /// This party's masked part of a matrix product (3-out-of-3, no communication).
    pub(crate) fn matmul_parts<R: Ring>(
        &mut self,
        x: &AShare<R>,
        y: &AShare<R>,
        n: usize,
        k: usize,
        m: usize,
    ) -> Result<Vec<R>> {
        if x.len() != n * k || y.len() != k * m {
            return Err(MpcError::Invalid(format!(
                "matmul {n}x{k} by {k}x{m} with {} and {} elements",
                x.len(),
                y.len()
            )));
        }
        let mut z = self.zero_parts::<R>(n * m);
        // x_a·(y_a + y_b) + x_b·y_a, row by row so the inner loop runs over contiguous memory.
        let ysum: Vec<R> = y.a.iter().zip(&y.b).map(|(&p, &q)| p.add(q)).collect();
        for i in 0..n {
            let row = &mut z[i * m..(i + 1) * m];
            for t in 0..k {
                let (xa, xb) = (x.a[i * k + t], x.b[i * k + t]);
                let (ys, ya) = (&ysum[t * m..(t + 1) * m], &y.a[t * m..(t + 1) * m]);
                for j in 0..m {
                    row[j] = row[j].add(xa.mul(ys[j])).add(xb.mul(ya[j]));
                }
            }
        }
        Ok(z)
    }
}
