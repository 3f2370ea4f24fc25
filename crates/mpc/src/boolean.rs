//! Boolean shares: replicated sharing over Z_2, bit-sliced 64 bits to a machine word.
//!
//! A [`BShare`] shares a vector of bits (bit `k` in word `k / 64`, position `k % 64`). A
//! shared `w`-bit integer vector is held as `w` of them, one per bit position ("planes"),
//! so that a gate on bit position `j` of a million values is one loop over 15,625 words.

use crate::error::{MpcError, Result};
use crate::party::Party;
use crate::ring::Ring;

/// This party's two shares of a packed bit vector (same layout as [`crate::AShare`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BShare {
    /// Share `β_i`.
    pub a: Vec<u64>,
    /// Share `β_{i+1}`.
    pub b: Vec<u64>,
}

/// Words needed for `n` bits.
pub fn words_for(n: usize) -> usize {
    n.div_ceil(64)
}

impl BShare {
    /// Number of words.
    pub fn words(&self) -> usize {
        self.a.len()
    }

    /// The all-zero sharing of `words` words.
    pub fn zeros(words: usize) -> Self {
        BShare {
            a: vec![0; words],
            b: vec![0; words],
        }
    }

    /// Bitwise xor (local).
    pub fn xor(&self, o: &BShare) -> BShare {
        BShare {
            a: self.a.iter().zip(&o.a).map(|(p, q)| p ^ q).collect(),
            b: self.b.iter().zip(&o.b).map(|(p, q)| p ^ q).collect(),
        }
    }

    /// The sharing of a value known to the two parties holding share `j`, which is set to
    /// `v` while the other shares are zero (local; `v` is ignored by the third party).
    pub fn known_by_pair(me: usize, j: usize, v: &[u64]) -> BShare {
        let z = vec![0; v.len()];
        if me == j {
            BShare {
                a: v.to_vec(),
                b: z,
            }
        } else if (me + 1) % 3 == j {
            BShare {
                a: z,
                b: v.to_vec(),
            }
        } else {
            BShare { a: z.clone(), b: z }
        }
    }
}

impl Party {
    /// Bitwise complement (local: share `β_0` is flipped).
    pub fn not(&self, x: &BShare) -> BShare {
        let mut out = x.clone();
        match self.id() {
            0 => out.a.iter_mut().for_each(|w| *w = !*w),
            2 => out.b.iter_mut().for_each(|w| *w = !*w),
            _ => {}
        }
        out
    }

    /// Bitwise and of several pairs of bit vectors in one round (one bit per and gate per
    /// party).
    pub fn and_many(&mut self, pairs: &[(&BShare, &BShare)]) -> Result<Vec<BShare>> {
        let groups: Vec<Vec<(&BShare, &BShare)>> = pairs.iter().map(|&p| vec![p]).collect();
        self.and_sums(&groups)
    }

    /// Xors of and gates in one round: output `i` is `⊕_t x_t ∧ y_t` over the pairs of
    /// `groups[i]` (nonempty, all of one length). Each party's cross terms are summed
    /// before the resharing, so a whole sum costs what one and gate costs: one bit per
    /// party and output.
    pub fn and_sums(&mut self, groups: &[Vec<(&BShare, &BShare)>]) -> Result<Vec<BShare>> {
        let lens: Vec<usize> = groups
            .iter()
            .map(|g| g.first().map_or(0, |(x, _)| x.words()))
            .collect();
        let mut cross: Vec<u64> = Vec::with_capacity(lens.iter().sum());
        for (g, &w) in groups.iter().zip(&lens) {
            if g.is_empty() || g.iter().any(|(x, y)| x.words() != w || y.words() != w) {
                return Err(MpcError::Invalid(
                    "and of vectors of different lengths (or an empty sum)".into(),
                ));
            }
            let at = cross.len();
            cross.resize(at + w, 0);
            let zs = &mut cross[at..];
            for (x, y) in g {
                for ((o, (&xa, &xb)), (&ya, &yb)) in zs
                    .iter_mut()
                    .zip(x.a.iter().zip(&x.b))
                    .zip(y.a.iter().zip(&y.b))
                {
                    *o ^= (xa & (ya ^ yb)) ^ (xb & ya);
                }
            }
        }
        self.reshare_words(cross, &lens)
    }

    /// Turns this party's parts `cross` of xor-shared values (three parts, one per party,
    /// e.g. the cross terms of and gates) into replicated sharings of vectors of `lens`
    /// words: masked with a zero sharing, sent to the previous party. One round.
    pub(crate) fn reshare_words(&mut self, cross: Vec<u64>, lens: &[usize]) -> Result<Vec<BShare>> {
        let total: usize = lens.iter().sum();
        let mut z: Vec<u64> = self.prev.words(total);
        let mask: Vec<u64> = self.next.words(total);
        for ((o, &m), &c) in z.iter_mut().zip(&mask).zip(&cross) {
            *o ^= m ^ c;
        }
        self.send_words(self.prev_id(), &z)?;
        let got = self.recv_words(self.next_id(), total)?;
        let mut out = Vec::with_capacity(lens.len());
        let mut at = 0;
        for &w in lens {
            out.push(BShare {
                a: z[at..at + w].to_vec(),
                b: got[at..at + w].to_vec(),
            });
            at += w;
        }
        Ok(out)
    }

    /// Bitwise and of two bit vectors. One round.
    pub fn and(&mut self, x: &BShare, y: &BShare) -> Result<BShare> {
        Ok(self.and_many(&[(x, y)])?.remove(0))
    }

    /// Bitwise or. One round.
    pub fn or(&mut self, x: &BShare, y: &BShare) -> Result<BShare> {
        let xy = self.and(x, y)?;
        Ok(x.xor(y).xor(&xy))
    }

    /// Secret-shares a packed bit vector held by compute party `owner` (the others pass
    /// `None` and the word count). One round, the owner sends one word per 64 bits.
    pub fn share_bits(&mut self, owner: usize, v: Option<&[u64]>, words: usize) -> Result<BShare> {
        let me = self.id();
        if me == owner {
            let v = v.ok_or_else(|| MpcError::Invalid("owner must pass its bits".into()))?;
            let r = self.prev.words(words);
            let s: Vec<u64> = v.iter().zip(&r).map(|(x, y)| x ^ y).collect();
            self.send_words(self.next_id(), &s)?;
            Ok(BShare { a: r, b: s })
        } else if me == (owner + 1) % 3 {
            Ok(BShare {
                a: self.recv_words(owner, words)?,
                b: vec![0; words],
            })
        } else {
            Ok(BShare {
                a: vec![0; words],
                b: self.next.words(words),
            })
        }
    }

    /// Opens a bit vector to all parties. One round.
    pub fn reveal_bits(&mut self, x: &BShare) -> Result<Vec<u64>> {
        Ok(self
            .reveal_bits_to(x, &[0, 1, 2])?
            .expect("every party is a recipient"))
    }

    /// Opens a bit vector to the parties in `to` only. One round.
    pub fn reveal_bits_to(&mut self, x: &BShare, to: &[usize]) -> Result<Option<Vec<u64>>> {
        if to.contains(&self.prev_id()) {
            self.send_words(self.prev_id(), &x.b)?;
        }
        if !to.contains(&self.id()) {
            return Ok(None);
        }
        let m = self.recv_words(self.next_id(), x.words())?;
        Ok(Some(
            x.a.iter()
                .zip(&x.b)
                .zip(&m)
                .map(|((p, q), r)| p ^ q ^ r)
                .collect(),
        ))
    }
}

/// Transposes a 64×64 bit matrix in place: afterwards bit `k` of `a[p]` is what bit `p` of
/// `a[k]` was.
pub fn transpose64(a: &mut [u64; 64]) {
    let mut j = 32usize;
    let mut m: u64 = 0x0000_0000_FFFF_FFFF;
    while j != 0 {
        let mut k = 0;
        while k < 64 {
            let t = ((a[k] >> j) ^ a[k + j]) & m;
            a[k + j] ^= t;
            a[k] ^= t << j;
            k = (k + j + 1) & !j;
        }
        j >>= 1;
        m ^= m << j;
    }
}

/// Splits ring elements into their low `w` bit planes: plane `p` holds bit `p` of every
/// element, packed.
pub fn to_planes<R: Ring>(v: &[R], w: usize) -> Vec<Vec<u64>> {
    let words = words_for(v.len());
    let mut planes = vec![vec![0u64; words]; w];
    let mut blk = [0u64; 64];
    for (bi, chunk) in v.chunks(64).enumerate() {
        for half in 0..2 {
            if half * 64 >= w {
                break;
            }
            blk.fill(0);
            for (k, x) in chunk.iter().enumerate() {
                blk[k] = if half == 0 { x.low_u64() } else { x.high_u64() };
            }
            transpose64(&mut blk);
            for p in half * 64..w.min(half * 64 + 64) {
                planes[p][bi] = blk[p - half * 64];
            }
        }
    }
    planes
}

/// Joins `w` bit planes back into `n` ring elements (bits above `w` are zero).
pub fn from_planes<R: Ring>(planes: &[&[u64]], n: usize) -> Vec<R> {
    let mut out = Vec::with_capacity(n);
    let mut lo = [0u64; 64];
    let mut hi = [0u64; 64];
    for bi in 0..words_for(n) {
        lo.fill(0);
        hi.fill(0);
        for (p, plane) in planes.iter().enumerate() {
            if p < 64 {
                lo[p] = plane[bi];
            } else {
                hi[p - 64] = plane[bi];
            }
        }
        transpose64(&mut lo);
        if planes.len() > 64 {
            transpose64(&mut hi);
        }
        for k in 0..64.min(n - bi * 64) {
            out.push(R::from_halves(lo[k], hi[k]));
        }
    }
    out
}

/// Unpacks the first `n` bits of a packed vector.
pub fn unpack_bits(words: &[u64], n: usize) -> Vec<bool> {
    (0..n).map(|k| words[k / 64] >> (k % 64) & 1 == 1).collect()
}

/// Packs booleans, 64 to a word.
pub fn pack_bits(bits: &[bool]) -> Vec<u64> {
    let mut out = vec![0u64; words_for(bits.len())];
    for (k, &b) in bits.iter().enumerate() {
        out[k / 64] |= (b as u64) << (k % 64);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn planes_roundtrip(v in proptest::collection::vec(any::<u128>(), 0..300)) {
            let planes = to_planes(&v, 128);
            for (k, x) in v.iter().enumerate() {
                for p in [0usize, 5, 63, 64, 100, 127] {
                    prop_assert_eq!(planes[p][k / 64] >> (k % 64) & 1, (x >> p) as u64 & 1);
                }
            }
            let refs: Vec<&[u64]> = planes.iter().map(|p| p.as_slice()).collect();
            prop_assert_eq!(from_planes::<u128>(&refs, v.len()), v.clone());
            let low: Vec<u64> = v.iter().map(|&x| x as u64).collect();
            let p64 = to_planes(&low, 64);
            let refs: Vec<&[u64]> = p64.iter().map(|p| p.as_slice()).collect();
            prop_assert_eq!(from_planes::<u64>(&refs, v.len()), low);
        }
    }
}
