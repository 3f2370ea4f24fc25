//! The communication each protocol needs, derived from its structure: bytes sent per
//! element by the busiest party (party 0, which deals in the conversions). Benchmarks print
//! these beside what they measure, and a test checks that the two agree exactly.
//!
//! And gates cost one bit per party; ring elements 8 bytes in Z_2^64, 16 in Z_2^128.

/// Bytes of one element of Z_2^64.
pub const E64: f64 = 8.0;
/// Bytes of one element of Z_2^128.
pub const E128: f64 = 16.0;

/// And gates of the Kogge–Stone carries of a `w`-bit adder.
pub fn ks_ands(w: usize) -> usize {
    let mut total = 0;
    let mut s = 1;
    while s < w {
        total += w - s;
        if 2 * s < w {
            total += w - 2 * s;
        }
        s *= 2;
    }
    total
}

/// And gates of the carry-out tree over `leaves` positions (the lowest group needs no
/// propagate term).
pub fn tree_ands(leaves: usize) -> usize {
    let (mut len, mut total) = (leaves, 0);
    while len > 1 {
        let pairs = len / 2;
        total += 2 * pairs - 1;
        len -= pairs;
    }
    total
}

/// And gates of an and-reduction of `leaves` bits.
pub fn and_tree(leaves: usize) -> usize {
    let (mut len, mut total) = (leaves, 0);
    while len > 1 {
        total += len / 2;
        len -= len / 2;
    }
    total
}

fn bytes(bits: usize) -> f64 {
    bits as f64 / 8.0
}

/// Sign of values decomposed modulo 2^width: dealt block products, block gates, carry tree
/// ([`crate::carry`]).
pub fn sign(width: usize) -> f64 {
    bytes(crate::carry::carry_bits(width - 1, true))
}

/// Bit decomposition of the low `w` bits.
pub fn a2b(w: usize) -> f64 {
    bytes(w + w + ks_ands(w))
}

/// Low `w` bits and the sign within `width` bits.
pub fn a2b_with_sign(w: usize, width: usize) -> f64 {
    bytes(width + (width - 1) + ks_ands(w) + tree_ands(width - w))
}

/// Equality test in a ring of `k` bits.
pub fn eq(k: usize) -> f64 {
    bytes(k + and_tree(k))
}

/// Boolean to arithmetic for a ring of `k` bits: carry-save gates, an adder, and the
/// opened result (party 0 sends its share to party 2).
pub fn b2a(k: usize) -> f64 {
    bytes(k + k + ks_ands(k) + k)
}

/// Leading one of a 64-bit decomposition: the decomposition and a prefix or.
pub fn leading_one() -> f64 {
    let or_ands: usize = (0..6).map(|i| 64 - (1usize << i)).sum();
    a2b(64) + bytes(or_ands)
}

/// Multiplications of [`crate::Party::powers`] up to degree `deg`.
pub fn powers(deg: usize) -> usize {
    let (mut have, mut total) = (1, 0);
    while have < deg {
        let c = (deg - have).min(have);
        total += c;
        have += c;
    }
    total
}

/// e^x with `f` fractional bits: scaling, decomposition, 7 injected bits, a product tree of
/// 7 factors, the degree-6 polynomial and the final product.
pub fn exp(f: usize) -> f64 {
    E128 * (1 + 7 + 6 + powers(6) + 1 + 1) as f64 + a2b_with_sign(f + 6, f + 22)
}

/// Truncations of the reciprocal on [1, 2] (`recip_unit`): the error term, two levels of
/// two products, the last product.
const RECIP_UNIT: usize = 1 + 2 + 2 + 1;

/// 1/x: normalisation, 1 word to arithmetic, the reduced argument, the reciprocal on
/// [1, 2], the scaling back.
pub fn recip() -> f64 {
    leading_one() + b2a(128) + E128 * (1 + RECIP_UNIT + 1) as f64
}

/// ln x: normalisation, 2 words to arithmetic, the reduced argument, degree-12 polynomial.
pub fn ln() -> f64 {
    leading_one() + 2.0 * b2a(128) + E128 * (1 + powers(12) + 1) as f64
}

/// √x (`sqrt = true`) or 1/√x: normalisation, 2 words to arithmetic, parity bit,
/// degree-6 polynomial, one Newton step, scaling back.
pub fn root(sqrt: bool) -> f64 {
    let mults = 1 + 1 + powers(6) + 1 + 3 + usize::from(sqrt) + 2;
    leading_one() + 2.0 * b2a(128) + E128 * mults as f64
}

/// Logistic function: sign and |x| within f + 22 bits, e^-|x|, 1/(1 + e^-|x|), the flip,
/// and `max(x, 0)` for the softplus beside it (`Party::sigmoid_parts`).
pub fn sigmoid(f: usize) -> f64 {
    sign(f + 22) + E128 * 2.0 + exp(f) + E128 * RECIP_UNIT as f64 + 2.0 * E128
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run3_ok;
    use crate::{AShare, Party, Result};

    /// Bytes per element sent by the busiest party for `op` on 256 positive inputs.
    fn measured(op: fn(&mut Party, &AShare<u128>) -> Result<AShare<u128>>) -> f64 {
        let n = 256;
        let r = run3_ok(|p| {
            let v: Vec<u128> = (1..=n as u128).map(|i| i << 20).collect();
            let x = p.share_input(0, (p.id() == 0).then_some(v.as_slice()), n)?;
            let before = p.stats();
            op(p, &x)?;
            Ok(p.stats().since(&before).bytes_sent)
        });
        *r.iter().max().expect("three parties") as f64 / n as f64
    }

    #[test]
    fn model_matches_the_protocols() {
        let f = 24;
        assert_eq!(measured(Party::exp), exp(f));
        assert_eq!(measured(Party::recip), recip());
        assert_eq!(measured(Party::ln), ln());
        assert_eq!(measured(Party::sqrt), root(true));
        assert_eq!(measured(Party::rsqrt), root(false));
        assert_eq!(measured(Party::sigmoid), sigmoid(f));
        assert_eq!(measured(|p, x| p.mul_fix(x, x)), E128);
        assert_eq!(
            measured(|p, x| {
                let s = p.msb(x)?;
                Ok(p.inject(&[&s], x.len())?.remove(0))
            }),
            sign(128) + E128
        );
    }
}
