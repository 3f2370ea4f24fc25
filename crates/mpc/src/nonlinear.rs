//! Numeric functions on shared fixed-point values (Z_2^128, `f` fractional bits, default
//! 24): exp, reciprocal, natural log, square root, reciprocal square root, sigmoid.
//!
//! Each function reduces its argument to a short interval with exact bit manipulations
//! (bit decomposition, a one-hot of the leading bit, powers of two), evaluates a Chebyshev
//! polynomial or Newton iteration there at a higher internal precision (40 fractional
//! bits), and scales back. Valid ranges and errors (f = 24, ulp = 2^-24 ≈ 6.0e-8; measured by
//! `tests/nonlinear.rs` over each whole range):
//!
//! | function | valid input | error bound |
//! |---|---|---|
//! | `exp(x)` | -10^6 < x ≤ 22 (e^22 ≈ 3.6e9); x < -22.18 gives exactly 0 | 2e-7 relative + 2 ulp |
//! | `recip(x)` | 2^-24 ≤ x < 2^40 | 2e-7 relative + 2 ulp |
//! | `ln(x)` | 2^-24 ≤ x < 2^40 | 3 ulp absolute |
//! | `ln1p_unit(t)` = ln(1 + t) | 0 ≤ t ≤ 1 | 3 ulp absolute |
//! | `sqrt(x)` | 2^-24 ≤ x < 2^40 | 2e-7 relative + 2 ulp |
//! | `rsqrt(x)` | 2^-24 ≤ x < 2^40 | 2e-7 relative + 2 ulp |
//! | `sigmoid(x)` | |x| < 10^6 | 4 ulp absolute |
//!
//! Outside the valid ranges the results are unspecified (never an error or a panic): the
//! engine cannot see the values to check them. Nothing is opened by any function here.

use std::sync::OnceLock;

use crate::boolean::{words_for, BShare};
use crate::error::Result;
use crate::fixed::encode;
use crate::party::Party;
use crate::poly::fit;
use crate::ring::Ring;
use crate::share::AShare;

/// Internal precision (fractional bits) of the reduced-range computations.
const HI: u32 = 40;
/// Bits of the argument examined by the normalising functions: x·2^f < 2^64.
const NORM_BITS: usize = 64;
/// exp works on y = x·log2(e) + EXP_OFFSET, whose integer part must fit six bits.
const EXP_OFFSET: i32 = 32;
/// Integer bits (sign included) examined to find a sign: exp decomposes y modulo
/// 2^(f + 22), exact for x > -1.45·10^6; sigmoid takes the sign of x the same way.
const EXP_SIGN_BITS: usize = 22;
/// The reciprocal's linear start `y0 = α − m/2` on [1, 2]: `α = √12 − 2` balances the
/// error `1 − m·y0` at m = 2 and m = α (±0.0718).
const RECIP_ALPHA: f64 = 1.4641016151377544;

fn exp2_coeffs() -> &'static [f64] {
    static C: OnceLock<Vec<f64>> = OnceLock::new();
    C.get_or_init(|| fit(f64::exp2, 6))
}

fn ln1p_coeffs() -> &'static [f64] {
    static C: OnceLock<Vec<f64>> = OnceLock::new();
    C.get_or_init(|| fit(|t| (1.0 + t).ln(), 12))
}

fn rsqrt1p_coeffs() -> &'static [f64] {
    static C: OnceLock<Vec<f64>> = OnceLock::new();
    C.get_or_init(|| fit(|t| 1.0 / (1.0 + t).sqrt(), 6))
}

/// Which of the square-root family to compute.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Root {
    Sqrt,
    Rsqrt,
}

/// A positive value's leading-one position `j` (x·2^f in [2^j, 2^(j+1))) as one-hot planes.
struct Leading {
    onehot: Vec<BShare>,
}

impl Leading {
    /// The boolean word with bit `pos(j)` set where `j` is the leading position (and no
    /// bit if `pos` returns `None`).
    fn word(&self, pos: impl Fn(usize) -> Option<usize>) -> Vec<BShare> {
        let words = self.onehot[0].words();
        let mut planes = vec![BShare::zeros(words); 128];
        for (j, o) in self.onehot.iter().enumerate() {
            if let Some(p) = pos(j) {
                planes[p] = planes[p].xor(o);
            }
        }
        let top = planes
            .iter()
            .rposition(|p| p.a.iter().chain(&p.b).any(|&w| w != 0));
        planes.truncate(top.map_or(1, |t| t + 1).max(1));
        planes
    }

    /// The xor of the one-hot bits at positions where `sel(j)` holds.
    fn bit(&self, sel: impl Fn(usize) -> bool) -> BShare {
        let words = self.onehot[0].words();
        self.onehot
            .iter()
            .enumerate()
            .filter(|(j, _)| sel(*j))
            .fold(BShare::zeros(words), |acc, (_, o)| acc.xor(o))
    }
}

impl Party {
    /// e^x. See the module table for range and error.
    pub fn exp(&mut self, x: &AShare<u128>) -> Result<AShare<u128>> {
        let f = self.frac_bits();
        let n = x.len();
        // y = x·log2(e) + 32, so 2^y = e^x · 2^32 and y's integer part is six bits.
        let y = self.trunc(&x.mul_const(encode(std::f64::consts::LOG2_E, HI)), HI)?;
        let y = self.add_const(&y, encode(EXP_OFFSET as f64, f));
        let (planes, negative) =
            self.a2b_with_sign(&y, f as usize + 6, f as usize + EXP_SIGN_BITS)?;
        let mut wanted: Vec<&BShare> = planes[f as usize..].iter().collect();
        wanted.push(&negative);
        let inj = self.inject::<u128>(&wanted, n)?;
        // r = y - 2^f·(integer part), in [0, 1) at scale f.
        let mut r = y;
        for (j, b) in inj[..6].iter().enumerate() {
            r.add_scaled(b, 1u128.shl(f + j as u32).neg());
        }
        // 2^(integer part) as an exact integer: the product of 1 + (2^(2^j) - 1)·b_j, times
        // (1 - negative) so that arguments below the range give 0.
        let mut factors: Vec<AShare<u128>> = inj[..6]
            .iter()
            .enumerate()
            .map(|(j, b)| {
                let mut t = self.public(&vec![1; n]);
                t.add_scaled(b, (1u128 << (1u32 << j)) - 1);
                t
            })
            .collect();
        factors.push(self.add_const(&inj[6].neg(), 1));
        let (pow2, frac) = self.product_and_poly(factors, &r.shl(HI - f), exp2_coeffs())?;
        self.mul_trunc(&frac, &pow2, EXP_OFFSET as u32)
    }

    /// The exact product of several equally long vectors of small integers (a balanced
    /// tree) and `Σ c_k t^k` at scale f for `t` at scale [`HI`], side by side: each level
    /// multiplies the tree's pairs (exactly: truncation by 0 bits) and the next powers of
    /// `t` in one truncation, so the two take the rounds of the powers alone.
    fn product_and_poly(
        &mut self,
        mut terms: Vec<AShare<u128>>,
        t: &AShare<u128>,
        c: &[f64],
    ) -> Result<(AShare<u128>, AShare<u128>)> {
        let f = self.frac_bits();
        let deg = c.len() - 1;
        let mut pw = vec![t.clone()];
        while terms.len() > 1 || pw.len() < deg {
            let half = terms.len() / 2;
            let m = pw.len();
            let count = (deg.saturating_sub(m)).min(m);
            let mut parts = Vec::with_capacity(half + count);
            let mut shifts = Vec::with_capacity(half + count);
            for k in 0..half {
                parts.push(self.mul_parts(&terms[2 * k], &terms[2 * k + 1])?);
                shifts.push(0);
            }
            for i in 0..count {
                parts.push(self.mul_parts(&pw[m - 1], &pw[i])?);
                shifts.push(HI);
            }
            let mut done = self.trunc_parts_each(parts, &shifts)?;
            pw.extend(done.split_off(half));
            if terms.len() % 2 == 1 {
                done.push(terms.pop().expect("odd term"));
            }
            terms = done;
        }
        let acc = self.combine(&pw, c, HI, t.len());
        let poly = self.trunc(&acc, 2 * HI - f)?;
        Ok((terms.pop().expect("at least one term"), poly))
    }

    /// One-hot planes of the leading one of positive `x` (bits 0..64 of x·2^f).
    fn leading_one(&mut self, x: &AShare<u128>) -> Result<Leading> {
        self.leading_one_within(x, NORM_BITS)
    }

    /// One-hot planes of the leading one of `x`, for `x` in `[0, 2^width)` (no plane set
    /// for `x = 0`): bits `0..width` decomposed, then an or over every higher position.
    fn leading_one_within(&mut self, x: &AShare<u128>, width: usize) -> Result<Leading> {
        let mut p = self.a2b(x, width)?;
        // Or of every bit from position j upwards: p_j |= p_{j+s} for s = 1, 2, 4, ...
        let mut s = 1;
        while s < width {
            let pairs: Vec<(&BShare, &BShare)> =
                (0..width - s).map(|j| (&p[j], &p[j + s])).collect();
            let ands = self.and_many(&pairs)?;
            let next: Vec<BShare> = (0..width)
                .map(|j| {
                    if j + s < width {
                        p[j].xor(&p[j + s]).xor(&ands[j])
                    } else {
                        p[j].clone()
                    }
                })
                .collect();
            p = next;
            s *= 2;
        }
        let onehot = (0..width)
            .map(|j| {
                if j + 1 < width {
                    p[j].xor(&p[j + 1])
                } else {
                    p[j].clone()
                }
            })
            .collect();
        Ok(Leading { onehot })
    }

    /// `table(j)` for each element of `x` in `[1, 2^width)`, where `j` is the position of
    /// the leading one (`x` in `[2^j, 2^(j+1))`); 0 for `x = 0`; unspecified for other `x`.
    /// For a public table of powers of two (a scale right within a factor of two, e.g.
    /// [`Party::rsqrt_pow2`]) on values of any size below the ring: the leading one (a bit
    /// decomposition of `width` bits and ⌈log2 width⌉ levels of and gates) and one bit
    /// injection per position. The table's values are exact. Nothing is opened.
    pub fn leading_table(
        &mut self,
        x: &AShare<u128>,
        width: usize,
        table: impl Fn(usize) -> u128,
    ) -> Result<AShare<u128>> {
        let n = x.len();
        let lead = self.leading_one_within(x, width)?;
        let bits: Vec<&BShare> = lead.onehot.iter().collect();
        let inj = self.inject::<u128>(&bits, n)?;
        let mut out = AShare::zeros(n);
        for (j, b) in inj.iter().enumerate() {
            out.add_scaled(b, table(j));
        }
        Ok(out)
    }

    /// Converts several boolean words (planes) of `n` elements to arithmetic in one batch.
    fn words_to_arith(&mut self, words: &[Vec<BShare>], n: usize) -> Result<Vec<AShare<u128>>> {
        let w = words_for(n);
        let width = words.iter().map(Vec::len).max().unwrap_or(0);
        let planes: Vec<BShare> = (0..width)
            .map(|j| {
                let mut a = Vec::with_capacity(w * words.len());
                let mut b = Vec::with_capacity(w * words.len());
                for word in words {
                    let z = BShare::zeros(w);
                    let pl = word.get(j).unwrap_or(&z);
                    a.extend_from_slice(&pl.a);
                    b.extend_from_slice(&pl.b);
                }
                BShare { a, b }
            })
            .collect();
        let all: AShare<u128> = self.b2a(&planes, w * 64 * words.len())?;
        Ok((0..words.len())
            .map(|t| all.slice(t * w * 64..t * w * 64 + n))
            .collect())
    }

    /// 1/m for m in [1, 2] at scale 40, returned at scale f, in four multiplication
    /// levels (8 rounds; three chained Newton steps took 14). With the linear start
    /// `y0 = α − m/2` ([`RECIP_ALPHA`]: |e0| ≤ 0.072 for `e0 = 1 − m·y0`), three Newton steps
    /// `y ← y(2 − m·y)` give `y0(1 + e0)(1 + e0²)(1 + e0⁴)` (relative error e0^8 < 1e-9).
    /// That product is evaluated directly: `e0` is a polynomial in m (one truncation, the
    /// linear term folded in), and each level squares the error term while multiplying the
    /// running product by the previous factor.
    fn recip_unit(&mut self, m: &AShare<u128>) -> Result<AShare<u128>> {
        let f = self.frac_bits();
        // e0 = 1 − αm + m²/2: m² (scale 80, i.e. m²/2 at 81) minus αm at scale 81, one
        // truncation to 40.
        let mut z = self.mul_parts(m, m)?;
        let lin = m.mul_const(encode(RECIP_ALPHA, HI + 1));
        for (zk, &s) in z.iter_mut().zip(&lin.a) {
            *zk = zk.sub(s);
        }
        let one = encode(1.0, HI);
        let quad = self.trunc_parts(z, HI + 1)?;
        let e0 = self.add_const(&quad, one);
        // y0 = α − m/2 exactly, at scale 41 (m at scale 40 is m/2 at scale 41).
        let y0 = self.add_const(&m.neg(), encode(RECIP_ALPHA, HI + 1));
        let f0 = self.add_const(&e0, one);
        let mut level = self.mul_trunc_many(&[(&e0, &e0), (&y0, &f0)], HI)?;
        let (e1, a) = (level.remove(0), level.remove(0));
        let f1 = self.add_const(&e1, one);
        let mut level = self.mul_trunc_many(&[(&e1, &e1), (&a, &f1)], HI)?;
        let (e2, b) = (level.remove(0), level.remove(0));
        let f2 = self.add_const(&e2, one);
        // b is at scale 41, f2 at 40: the product is at 81, truncated straight to f.
        self.mul_trunc(&b, &f2, 2 * HI + 1 - f)
    }

    /// 1/x. See the module table for range and error.
    pub fn recip(&mut self, x: &AShare<u128>) -> Result<AShare<u128>> {
        self.recip_pow2(x, 0)
    }

    /// 2^k/x: the reciprocal with `k` more bits of precision, for callers whose
    /// reciprocals are small (1/x of a large sum). Same rounds and bytes as [`Party::recip`],
    /// relative error 2e-7 + 2 ulp at the result's scale; valid for 2^-24 ≤ x < 2^40 and
    /// results below 2^39 (so `k` ≤ 14 for x down to 2^-24, larger `k` for larger x).
    pub fn recip_pow2(&mut self, x: &AShare<u128>, k: u32) -> Result<AShare<u128>> {
        let f = self.frac_bits();
        assert!(
            k < NORM_BITS as u32 - 1 - f,
            "recip_pow2: k = {k} too large"
        );
        let lead = self.leading_one(x)?;
        // c = 2^(63 - j): x·c = m·2^63 with m in [1, 2).
        let c = self
            .words_to_arith(&[lead.word(|j| Some(NORM_BITS - 1 - j))], x.len())?
            .remove(0);
        let m = self.mul_trunc(x, &c, NORM_BITS as u32 - 1 - HI)?;
        let y = self.recip_unit(&m)?;
        // 2^k/x = (1/m)·2^(f - j + k): y·c = 2^(f + 63 - j)/m, then drop 63 - f - k bits.
        self.mul_trunc(&y, &c, NORM_BITS as u32 - 1 - f - k)
    }

    /// `(2^k/x, ln x)` together, for callers that need both of the same values (a
    /// likelihood and its derivatives): one normalisation instead of two, then the
    /// logarithm beside the reciprocal, so the rounds of the normalisation and the
    /// reciprocal's Newton steps. Same ranges and errors as
    /// [`Party::recip_pow2`] and [`Party::ln`].
    pub fn recip_pow2_and_ln(
        &mut self,
        x: &AShare<u128>,
        k: u32,
    ) -> Result<(AShare<u128>, AShare<u128>)> {
        let f = self.frac_bits();
        assert!(
            k < NORM_BITS as u32 - 1 - f,
            "recip_pow2_and_ln: k = {k} too large"
        );
        let (c, j, m) = self.normalise(x)?;
        // The logarithm's polynomial beside the reciprocal's Newton steps: both need only
        // the normalisation, so the pair costs the rounds of the longer (issue 19).
        let (ln, recip) = self.side_by_side(
            |q| q.ln_from(&m, &j),
            |q| {
                let y = q.recip_unit(&m)?;
                q.mul_trunc(&y, &c, NORM_BITS as u32 - 1 - f - k)
            },
        )?;
        Ok((recip, ln))
    }

    /// ln x from its normalisation: `m` in [1, 2) at scale 40 and the leading position `j`.
    fn ln_from(&mut self, m: &AShare<u128>, j: &AShare<u128>) -> Result<AShare<u128>> {
        let f = self.frac_bits();
        let t = self.add_const(m, encode(-1.0, HI));
        // ln x = ln(1 + t) + (j - f)·ln 2, summed at scale 80 and truncated once.
        let poly = self.poly_sum(&t, ln1p_coeffs(), HI)?;
        let ln2 = encode::<u128>(std::f64::consts::LN_2, 2 * HI);
        let scaled = self.add_const(j, (f as u128).wrapping_neg()).mul_const(ln2);
        self.trunc(&poly.add(&scaled), 2 * HI - f)
    }

    /// ln(1 + t) for `t` in [0, 1]: the logarithm's polynomial on its reduced range
    /// applied directly, without the normalisation (a bit decomposition and its injection)
    /// that [`Party::ln`] needs to find the range: for an argument known to lie in [1, 2],
    /// e.g. softplus' `ln(1 + e^-|x|)`. The rounds of the powers (degree 12) and one
    /// truncation, against about 25 for `ln`; error as `ln` (3 ulp absolute). Outside
    /// [0, 1] the result is unspecified. Nothing is opened.
    pub fn ln1p_unit(&mut self, t: &AShare<u128>) -> Result<AShare<u128>> {
        let f = self.frac_bits();
        let poly = self.poly_sum(&t.shl(HI - f), ln1p_coeffs(), HI)?;
        self.trunc(&poly, 2 * HI - f)
    }

    /// Natural logarithm. See the module table for range and error.
    pub fn ln(&mut self, x: &AShare<u128>) -> Result<AShare<u128>> {
        let (_, j, m) = self.normalise(x)?;
        self.ln_from(&m, &j)
    }

    /// Positive x as `m·2^(j - f)`: the scale `c = 2^(63 - j)`, the leading position `j` (an
    /// integer) and `m = x·c` in [1, 2) at scale 40.
    fn normalise(
        &mut self,
        x: &AShare<u128>,
    ) -> Result<(AShare<u128>, AShare<u128>, AShare<u128>)> {
        let lead = self.leading_one(x)?;
        let c_word = lead.word(|j| Some(NORM_BITS - 1 - j));
        // The leading position j in binary: bit k is the xor of one-hot bits at positions
        // with bit k set.
        let j_word: Vec<BShare> = (0..6).map(|k| lead.bit(|j| (j >> k) & 1 == 1)).collect();
        let mut conv = self.words_to_arith(&[c_word, j_word], x.len())?;
        let j = conv.pop().expect("two words");
        let c = conv.pop().expect("two words");
        let m = self.mul_trunc(x, &c, NORM_BITS as u32 - 1 - HI)?;
        Ok((c, j, m))
    }

    /// Square root. See the module table for range and error.
    pub fn sqrt(&mut self, x: &AShare<u128>) -> Result<AShare<u128>> {
        self.root(x, Root::Sqrt)
    }

    /// 1/√x. See the module table for range and error.
    pub fn rsqrt(&mut self, x: &AShare<u128>) -> Result<AShare<u128>> {
        self.root(x, Root::Rsqrt)
    }

    /// x = m·2^(2q + ρ) with m in [1, 2), ρ in {0, 1}: √x = √m·2^q·√2^ρ and
    /// 1/√x = (1/√m)·2^-q·√2^-ρ. 1/√m comes from a degree-6 polynomial and one Newton step.
    fn root(&mut self, x: &AShare<u128>, which: Root) -> Result<AShare<u128>> {
        let f = self.frac_bits() as i32;
        let n = x.len();
        let lead = self.leading_one(x)?;
        let q = |j: usize| (j as i32 - f).div_euclid(2);
        let (qmin, qmax) = (q(0), q(NORM_BITS - 1));
        // 2^q (sqrt) or 2^-q (rsqrt), offset so that every exponent is non-negative.
        let (shift_word, offset) = match which {
            Root::Sqrt => (lead.word(|j| Some((q(j) - qmin) as usize)), -qmin),
            Root::Rsqrt => (lead.word(|j| Some((qmax - q(j)) as usize)), qmax),
        };
        let c_word = lead.word(|j| Some(NORM_BITS - 1 - j));
        let parity = lead.bit(|j| (j as i32 - f).rem_euclid(2) == 1);
        let mut conv = self.words_to_arith(&[c_word, shift_word], n)?;
        let shift = conv.pop().expect("two words");
        let c = conv.pop().expect("two words");
        let rho = self.inject::<u128>(&[&parity], n)?.remove(0);
        let m = self.mul_trunc(x, &c, NORM_BITS as u32 - 1 - HI)?;
        let t = self.add_const(&m, encode(-1.0, HI));
        let y0 = self.poly_eval(&t, rsqrt1p_coeffs(), HI, HI)?;
        // Newton: y ← y·(3 - m·y²)/2.
        let y2 = self.mul_trunc(&y0, &y0, HI)?;
        let my2 = self.mul_trunc(&m, &y2, HI)?;
        let three_minus = self.add_const(&my2.neg(), encode(3.0, HI));
        let y = self.mul_trunc(&y0, &three_minus, HI + 1)?;
        let (base, root2) = match which {
            Root::Sqrt => (self.mul_trunc(&m, &y, HI)?, std::f64::consts::SQRT_2),
            Root::Rsqrt => (y, std::f64::consts::FRAC_1_SQRT_2),
        };
        // Factor √2^±ρ = 1 + ρ(√2^±1 - 1), applied with the final scale change.
        let factor = self.add_const(&rho.mul_const(encode(root2 - 1.0, HI)), encode(1.0, HI));
        let scaled = self.mul_trunc(&base, &factor, 2 * HI - f as u32)?;
        self.mul_trunc(&scaled, &shift, offset as u32)
    }

    /// A power of two `s = 2^-e` with `s·√x` in `[1/2, 1]`, for positive `x` (`x·2^f` below
    /// 2^64; results below 2^-f are clamped to 2^-f): a scale that only needs to be right
    /// within a factor of two (the inverse of [`crate::linalg`]). The leading one of x and
    /// one bit injection per candidate position: 17 rounds, against 41 for [`Party::rsqrt`].
    /// Party 0 sends the leading one's bytes plus 64 ring elements per value.
    pub fn rsqrt_pow2(&mut self, x: &AShare<u128>) -> Result<AShare<u128>> {
        let f = self.frac_bits() as i32;
        // x·2^f in [2^j, 2^(j+1)): x < 2^(j+1-f), so e = ceil((j + 1 - f)/2) gives s²x ≤ 1
        // and s²x ≥ 2^(j - f - 2e) ≥ 1/4. s at scale f is 2^(f - e).
        self.leading_table(x, NORM_BITS, |j| {
            let e = (j as i32 + 2 - f).div_euclid(2);
            1u128 << (f - e).max(0)
        })
    }

    /// Logistic function 1/(1 + e^-x). See the module table for range and error.
    ///
    /// With [`Party::few_rounds`] the sign of x is found beside the exponentials instead of
    /// before them ([`Party::sigmoid_few_rounds`]): 8 rounds fewer for about 1.7 times the
    /// bytes; the same values within the same error.
    pub fn sigmoid(&mut self, x: &AShare<u128>) -> Result<AShare<u128>> {
        Ok(self.sigmoid_parts(x)?.sigma)
    }

    /// [`Party::sigmoid`] with the pieces of the softplus `ln(1 + e^x) = max(x, 0) +
    /// ln(1 + e^-|x|)` that it computes on the way ([`Sigmoid`]): a log-likelihood at the
    /// same x then needs only [`Party::ln1p_unit`]. In the rounds of the sigmoid (the extra
    /// products share its last round), `16·n` bytes more per party.
    pub fn sigmoid_parts(&mut self, x: &AShare<u128>) -> Result<Sigmoid> {
        if self.few_rounds() {
            return self.sigmoid_few_rounds(x);
        }
        let f = self.frac_bits();
        // σ(x) = 1/(1 + e^-|x|) for x ≥ 0 and 1 - that for x < 0.
        let (abs, negative) = self.abs_sign_within(x, f as usize + EXP_SIGN_BITS)?;
        let e = self.exp(&abs.neg())?;
        let d = self.add_const(&e, encode(1.0, f)).shl(HI - f);
        let y = self.recip_unit(&d)?;
        let flip = self.add_const(&y.shl(1).neg(), encode(1.0, f));
        let mut prods = self.mul_many(&[(&negative, &flip), (&negative, x)])?;
        let (neg_x, flipped) = (prods.pop().expect("two"), prods.pop().expect("two"));
        Ok(Sigmoid {
            sigma: y.add(&flipped),
            exp_neg_abs: e,
            relu: x.sub(&neg_x),
        })
    }

    /// [`Party::sigmoid_parts`] in fewer rounds: `u = 1/(1 + e^-x)` and `v = 1/(1 + e^x)`
    /// for every element in one batch of 2n (exp and the reciprocal on [1, 2]), beside the
    /// sign `s = [x < 0]` (a sign within f + 22 bits and its injection, run side by side),
    /// then `σ = u + s·(1 − v − u)`: `u` where x ≥ 0 and `1 − v` where x < 0, each the
    /// branch whose exponential has a non-positive argument (e^-|x|, as
    /// [`Party::sigmoid`]); `e^-|x| = e^-x + s·(e^x − e^-x)` and `max(x, 0) = x − s·x` in
    /// the same products. The other branch's exponential is out of its range (e^|x|) and its
    /// value unspecified, but it is multiplied by an exact 0 in the ring and drops out
    /// exactly. Rounds: those of exp and the reciprocal's Newton levels plus one product
    /// (28 at f = 24, against 36); bytes: the exponential and reciprocal twice plus the
    /// sign. Nothing is opened.
    pub fn sigmoid_few_rounds(&mut self, x: &AShare<u128>) -> Result<Sigmoid> {
        let f = self.frac_bits();
        let n = x.len();
        let both = AShare::concat(&[&x.neg(), x]);
        let (s, (e, uv)) = self.side_by_side(
            |q| -> Result<AShare<u128>> {
                let neg = q.sign_within(x, f as usize + EXP_SIGN_BITS)?;
                Ok(q.inject::<u128>(&[&neg], n)?.remove(0))
            },
            |q| -> Result<(AShare<u128>, AShare<u128>)> {
                let e = q.exp(&both)?;
                let d = q.add_const(&e, encode(1.0, f)).shl(HI - f);
                Ok((e, q.recip_unit(&d)?))
            },
        )?;
        let (u, v) = (uv.slice(0..n), uv.slice(n..2 * n));
        let (em, ep) = (e.slice(0..n), e.slice(n..2 * n));
        let other = self.add_const(&v.add(&u).neg(), encode(1.0, f));
        let swap = ep.sub(&em);
        let mut prods = self.mul_many(&[(&s, &other), (&s, &swap), (&s, x)])?;
        let neg_x = prods.pop().expect("three");
        let swapped = prods.pop().expect("three");
        let flipped = prods.pop().expect("three");
        Ok(Sigmoid {
            sigma: u.add(&flipped),
            exp_neg_abs: em.add(&swapped),
            relu: x.sub(&neg_x),
        })
    }
}

/// The logistic function of shared values with two pieces of their softplus
/// ([`Party::sigmoid_parts`]).
pub struct Sigmoid {
    /// σ(x) = 1/(1 + e^-x) (f fractional bits, error as [`Party::sigmoid`]).
    pub sigma: AShare<u128>,
    /// e^-|x| (error as [`Party::exp`]), in (0, 1]: `ln(1 + e^-|x|)` by
    /// [`Party::ln1p_unit`].
    pub exp_neg_abs: AShare<u128>,
    /// max(x, 0), exact.
    pub relu: AShare<u128>,
}
