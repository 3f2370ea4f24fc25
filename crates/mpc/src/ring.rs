//! The rings shares live in: Z_2^64 (integers, counts) and Z_2^128 (fixed point).
//!
//! Arithmetic wraps, as the ring does; signed values use two's complement.

use std::fmt::Debug;

/// An element of Z_2^k for k = 64 or 128.
pub trait Ring: Copy + Default + Eq + Ord + Debug + Send + Sync + 'static {
    /// Bits in the ring (k).
    const BITS: u32;
    /// Bytes per element on the wire.
    const BYTES: usize;
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Sum modulo 2^k.
    fn add(self, o: Self) -> Self;
    /// Difference modulo 2^k.
    fn sub(self, o: Self) -> Self;
    /// Product modulo 2^k.
    fn mul(self, o: Self) -> Self;
    /// Additive inverse modulo 2^k.
    fn neg(self) -> Self;
    /// Logical right shift.
    fn shr(self, d: u32) -> Self;
    /// Left shift.
    fn shl(self, d: u32) -> Self;
    /// Bitwise xor.
    fn xor(self, o: Self) -> Self;
    /// The element equal to `v` modulo 2^k (two's complement).
    fn from_i128(v: i128) -> Self;
    /// The element as a signed integer (two's complement); exact for k = 64, 128.
    fn to_i128(self) -> i128;
    /// The low 64 bits.
    fn low_u64(self) -> u64;
    /// Bits 64..128 (zero for Z_2^64).
    fn high_u64(self) -> u64;
    /// Builds an element from its low and high 64-bit halves (high is ignored for Z_2^64).
    fn from_halves(lo: u64, hi: u64) -> Self;
    /// Appends the little-endian encoding.
    fn put(self, out: &mut Vec<u8>);
    /// Writes the little-endian encoding into exactly `BYTES` bytes.
    fn write(self, out: &mut [u8]);
    /// Reads one element from exactly `BYTES` little-endian bytes.
    fn get(b: &[u8]) -> Self;
}

macro_rules! ring_impl {
    ($t:ty, $bits:expr) => {
        impl Ring for $t {
            const BITS: u32 = $bits;
            const BYTES: usize = $bits / 8;
            const ZERO: Self = 0;
            const ONE: Self = 1;
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            #[inline(always)]
            fn neg(self) -> Self {
                self.wrapping_neg()
            }
            #[inline(always)]
            fn shr(self, d: u32) -> Self {
                self.checked_shr(d).unwrap_or(0)
            }
            #[inline(always)]
            fn shl(self, d: u32) -> Self {
                self.checked_shl(d).unwrap_or(0)
            }
            #[inline(always)]
            fn xor(self, o: Self) -> Self {
                self ^ o
            }
            #[inline(always)]
            fn from_i128(v: i128) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_i128(self) -> i128 {
                if $bits == 64 {
                    self as u64 as i64 as i128
                } else {
                    self as i128
                }
            }
            #[inline(always)]
            fn low_u64(self) -> u64 {
                self as u64
            }
            #[inline(always)]
            fn high_u64(self) -> u64 {
                ((self as u128) >> 64) as u64
            }
            #[inline(always)]
            fn from_halves(lo: u64, hi: u64) -> Self {
                ((lo as u128) | ((hi as u128) << 64)) as $t
            }
            #[inline(always)]
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            #[inline(always)]
            fn write(self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_le_bytes());
            }
            #[inline(always)]
            fn get(b: &[u8]) -> Self {
                <$t>::from_le_bytes(b.try_into().expect("element width"))
            }
        }
    };
}

ring_impl!(u64, 64);
ring_impl!(u128, 128);

/// Encodes a vector of ring elements for the wire.
pub fn encode<R: Ring>(v: &[R]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * R::BYTES);
    encode_into(v, &mut out);
    out
}

/// Appends the encoding of `v` to `out`.
pub fn encode_into<R: Ring>(v: &[R], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + v.len() * R::BYTES, 0);
    for (c, &x) in out[start..].chunks_exact_mut(R::BYTES).zip(v) {
        x.write(c);
    }
}

/// Decodes exactly `n` elements, or `None` if the length is wrong.
pub fn decode<R: Ring>(b: &[u8], n: usize) -> Option<Vec<R>> {
    if b.len() != n * R::BYTES {
        return None;
    }
    Some(b.chunks_exact(R::BYTES).map(R::get).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_views_and_codec() {
        assert_eq!(u64::from_i128(-1), u64::MAX);
        assert_eq!(u64::MAX.to_i128(), -1);
        assert_eq!(u128::from_i128(-5).to_i128(), -5);
        let v: Vec<u128> = vec![1, u128::MAX, 1 << 100];
        assert_eq!(decode::<u128>(&encode(&v), 3).unwrap(), v);
        assert!(decode::<u128>(&encode(&v), 2).is_none());
        assert_eq!(u128::from_halves(3, 1), (1u128 << 64) | 3);
        assert_eq!(u64::from_halves(3, 1), 3);
    }
}
