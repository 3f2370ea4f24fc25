//! Pseudorandom generators: AES-128 in counter mode, keyed by a seed two parties share.
//!
//! Two parties that hold the same seed and draw the same amounts in the same order get the
//! same stream; that is how random and zero sharings are made without any communication.
//! The `aes` crate uses AES-NI when the processor has it (detected at run time).

use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use aes::Aes128;

use crate::ring::Ring;

/// A 128-bit seed.
pub type Seed = [u8; 16];

/// Blocks encrypted per batch (lets AES-NI pipeline eight blocks at a time).
const BATCH: usize = 512;

/// A deterministic stream of pseudorandom bits.
pub struct Prg {
    cipher: Aes128,
    counter: u128,
    blocks: Vec<aes::Block>,
}

impl Prg {
    /// A stream determined by `seed`.
    pub fn new(seed: &Seed) -> Self {
        Prg {
            cipher: Aes128::new(GenericArray::from_slice(seed)),
            counter: 0,
            blocks: vec![aes::Block::default(); BATCH],
        }
    }

    /// A stream seeded from the operating system's randomness.
    pub fn from_entropy() -> Self {
        Self::new(&fresh_seed())
    }

    /// Calls `sink` with successive 16-byte pseudorandom blocks, `n` of them in total.
    fn blocks(&mut self, mut n: usize, mut sink: impl FnMut(&[aes::Block])) {
        while n > 0 {
            let m = n.min(BATCH);
            for b in &mut self.blocks[..m] {
                b.copy_from_slice(&self.counter.to_le_bytes());
                self.counter = self.counter.wrapping_add(1);
            }
            self.cipher.encrypt_blocks(&mut self.blocks[..m]);
            sink(&self.blocks[..m]);
            n -= m;
        }
    }

    /// Replaces each `out[k]` by `f(out[k], r_k)` for fresh random ring elements `r_k`, so
    /// that masks can be applied in place without a temporary vector.
    pub fn combine<R: Ring>(&mut self, out: &mut [R], f: impl Fn(R, R) -> R) {
        let per_block = 16 / R::BYTES;
        for chunk in out.chunks_mut(BATCH * per_block) {
            let m = chunk.len().div_ceil(per_block);
            self.blocks(m, |bs| {
                let bytes = bs.iter().flat_map(|b| b.chunks_exact(R::BYTES));
                for (o, c) in chunk.iter_mut().zip(bytes) {
                    *o = f(*o, R::get(c));
                }
            });
        }
    }

    /// Fills `out` with uniformly random ring elements.
    pub fn fill<R: Ring>(&mut self, out: &mut [R]) {
        self.combine(out, |_, r| r);
    }

    /// `n` uniformly random ring elements.
    pub fn vec<R: Ring>(&mut self, n: usize) -> Vec<R> {
        let per_block = 16 / R::BYTES;
        let mut v = Vec::with_capacity(n);
        for start in (0..n).step_by(BATCH * per_block) {
            let want = (n - start).min(BATCH * per_block);
            self.blocks(want.div_ceil(per_block), |bs| {
                if per_block == 1 {
                    v.extend(bs.iter().map(|b| R::get(b)));
                } else {
                    for b in bs {
                        let take = (n - v.len()).min(per_block);
                        v.extend(b.chunks_exact(R::BYTES).take(take).map(R::get));
                    }
                }
            });
        }
        v
    }

    /// `n` uniformly random 64-bit words (for boolean shares).
    pub fn words(&mut self, n: usize) -> Vec<u64> {
        self.vec::<u64>(n)
    }

    /// A fresh seed drawn from this stream.
    pub fn seed(&mut self) -> Seed {
        let v = self.vec::<u128>(1);
        v[0].to_le_bytes()
    }
}

/// A seed from the operating system's randomness.
pub fn fresh_seed() -> Seed {
    let mut s = [0u8; 16];
    getrandom::getrandom(&mut s).expect("operating system randomness");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_regardless_of_chunking() {
        let seed = [7u8; 16];
        let mut a = Prg::new(&seed);
        let mut b = Prg::new(&seed);
        let x: Vec<u64> = a.vec(1000);
        let mut y: Vec<u64> = b.vec(500);
        y.extend(b.vec::<u64>(500));
        assert_eq!(x, y);
        assert_ne!(x[0], x[1]);
        let mut c = Prg::new(&[8u8; 16]);
        assert_ne!(c.vec::<u64>(4), x[..4].to_vec());
    }
}
