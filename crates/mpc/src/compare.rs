//! Comparisons and selection.
//!
//! `lt` is the sign of the difference, so it is exact when the difference does not wrap:
//! valid for `|x|, |y| < 2^(k-2)` in Z_2^k (in fixed point with 24 fractional bits in
//! Z_2^128: |x| < 2^102, far beyond any fixed-point range). `eq` is exact for all inputs.

use crate::boolean::BShare;
use crate::error::Result;
use crate::party::Party;
use crate::ring::Ring;
use crate::share::AShare;

impl Party {
    /// `x < y` elementwise, as shared bits.
    pub fn lt<R: Ring>(&mut self, x: &AShare<R>, y: &AShare<R>) -> Result<BShare> {
        self.msb(&x.sub(y))
    }

    /// `x < y` elementwise, as arithmetic sharings of 0 or 1.
    pub fn lt_arith<R: Ring>(&mut self, x: &AShare<R>, y: &AShare<R>) -> Result<AShare<R>> {
        let b = self.lt(x, y)?;
        Ok(self.inject(&[&b], x.len())?.remove(0))
    }

    /// `x == y` elementwise, as shared bits.
    pub fn eq<R: Ring>(&mut self, x: &AShare<R>, y: &AShare<R>) -> Result<BShare> {
        self.is_zero(&x.sub(y))
    }

    /// `c ? x : y` elementwise for arithmetic `c` in {0, 1}: `y + c (x - y)`. One round.
    pub fn select<R: Ring>(
        &mut self,
        c: &AShare<R>,
        x: &AShare<R>,
        y: &AShare<R>,
    ) -> Result<AShare<R>> {
        Ok(y.add(&self.mul(c, &x.sub(y))?))
    }

    /// `c ? x : y` for a shared bit vector `c`. Three rounds.
    pub fn select_bits<R: Ring>(
        &mut self,
        c: &BShare,
        x: &AShare<R>,
        y: &AShare<R>,
    ) -> Result<AShare<R>> {
        let ca = self.inject::<R>(&[c], x.len())?.remove(0);
        self.select(&ca, x, y)
    }

    /// Absolute value and sign (`x < 0` as arithmetic 0/1) of each element.
    pub fn abs_sign<R: Ring>(&mut self, x: &AShare<R>) -> Result<(AShare<R>, AShare<R>)> {
        self.abs_sign_within(x, R::BITS as usize)
    }

    /// [`Party::abs_sign`] for elements known to lie in `[-2^(width-1), 2^(width-1))`
    /// (see [`Party::sign_within`]).
    pub fn abs_sign_within<R: Ring>(
        &mut self,
        x: &AShare<R>,
        width: usize,
    ) -> Result<(AShare<R>, AShare<R>)> {
        let s = self.sign_within(x, width)?;
        let sa = self.inject::<R>(&[&s], x.len())?.remove(0);
        let sx = self.mul(&sa, x)?;
        Ok((x.sub(&sx.shl(1)), sa))
    }
}
