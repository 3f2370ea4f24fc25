//! Quantiles as numpy computes them by default (`method="linear"`, R's type 7): for `n`
//! sorted values `x_0 ≤ … ≤ x_{n-1}` and `q` in [0, 1], `h = (n - 1)·q`, and the quantile is
//! `x_⌊h⌋ + (h - ⌊h⌋)·(x_{⌊h⌋+1} - x_⌊h⌋)` (just `x_{n-1}` when `h ≥ n - 1`).
//!
//! Inside MPC the positions `⌊h⌋`, `⌊h⌋ + 1` and the weight `γ = h - ⌊h⌋` are public once
//! the count `n` is opened, so [`interpolate`] is local: it reads the two order statistics
//! of the obliviously sorted column and forms `x_lo·2^W + round(γ·2^W)·(x_hi - x_lo)` with
//! `W` = [`WEIGHT_BITS`] (56) extra fractional bits, without truncation (valid for
//! `|x| < 2^47`). Opened and divided by `2^(f + W)` this is the nearest f64 of the exact
//! interpolation `x_lo + γ·(x_hi - x_lo)` with numpy's own f64 `γ` (exactly representable
//! in 56 bits whenever `h ≥ 2^-4`). For integer data (encoded exactly) this equals numpy's
//! result bit for bit whenever numpy's two roundings are exact, e.g. the median, quartiles
//! and any `γ` that is a short binary fraction; otherwise the two differ by at most one
//! unit in the last place (numpy rounds twice, we once). For other data the fixed-point
//! encoding of the values (2^-25) dominates.

use tessera_mpc::AShare;

/// Extra fractional bits of the interpolation weight.
pub const WEIGHT_BITS: u32 = 56;

/// Where the quantile `q` of `n` sorted values reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Position {
    /// Index of the lower order statistic.
    pub lo: usize,
    /// Index of the upper order statistic (`lo` or `lo + 1`).
    pub hi: usize,
    /// Weight of the upper one, in [0, 1).
    pub gamma: f64,
}

/// numpy's `linear` position of quantile `q` among `n ≥ 1` values.
pub fn position(n: usize, q: f64) -> Position {
    let h = (n as f64 - 1.0) * q;
    if h >= n as f64 - 1.0 {
        return Position {
            lo: n - 1,
            hi: n - 1,
            gamma: 0.0,
        };
    }
    let lo = h.floor().max(0.0);
    Position {
        lo: lo as usize,
        hi: lo as usize + 1,
        gamma: h - lo,
    }
}

/// Whether the quantile at `pos` of `n` values may be shown: at least `side` rows lie
/// strictly below its lower order statistic and strictly above its upper one (the lower
/// one itself when the weight is 0).
///
/// `side` is [`min_side`]: `min_cell`, and at least 1 without `allow_extremes`, so that no
/// position reads the minimum or the maximum (`q = 0` or `1`, or any `q` close enough to
/// them in a small cell). Without this rule 200 quantiles at `i/199` read every sorted value
/// of a 200-row column, and `quantiles = [0, 1]` the extremes that `extremes = true` may not
/// show.
pub fn readable(n: usize, pos: Position, side: u64) -> bool {
    // With weight 0 the upper order statistic does not enter the value.
    let hi = if pos.gamma == 0.0 { pos.lo } else { pos.hi };
    let above = n.saturating_sub(1).saturating_sub(hi);
    n >= 1 && pos.lo as u64 >= side && above as u64 >= side
}

/// The rows each shown quantile needs on either side (see [`readable`]).
pub fn min_side(min_cell: u64, allow_extremes: bool) -> u64 {
    if allow_extremes {
        min_cell
    } else {
        min_cell.max(1)
    }
}

/// numpy's `_lerp`: `a + (b - a)·t`, computed from `b` when `t ≥ 0.5`.
pub fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// The quantile `q` of sorted plaintext values (numpy `linear`); NaN for no values.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = position(sorted.len(), q);
    lerp(sorted[pos.lo], sorted[pos.hi], pos.gamma)
}

/// The shared interpolation for the quantile at `pos` of the values `sorted[start..]`
/// (fixed point, `f` bits): one element with `f + WEIGHT_BITS` fractional bits (local).
pub fn interpolate(sorted: &AShare<u128>, start: usize, pos: Position) -> AShare<u128> {
    let pick = |i: usize| AShare {
        a: vec![sorted.a[start + i]],
        b: vec![sorted.b[start + i]],
    };
    let lo = pick(pos.lo);
    let hi = pick(pos.hi);
    let w = (pos.gamma * (WEIGHT_BITS as f64).exp2()).round() as u128;
    let mut y = lo.shl(WEIGHT_BITS);
    y.add_scaled(&hi.sub(&lo), w);
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_match_numpy() {
        // np.quantile(np.arange(n), q) == lo + gamma for these.
        assert_eq!(
            position(5, 0.5),
            Position {
                lo: 2,
                hi: 3,
                gamma: 0.0
            }
        );
        assert_eq!(position(4, 0.5).gamma, 0.5);
        assert_eq!(position(4, 1.0).lo, 3);
        assert_eq!(position(1, 0.3).hi, 0);
        assert_eq!(quantile_sorted(&[1.0, 2.0, 4.0, 7.0], 0.25), 1.75);
        assert_eq!(quantile_sorted(&[1.0, 2.0, 4.0, 7.0], 0.75), 4.75);
        assert!(quantile_sorted(&[], 0.5).is_nan());
    }

    #[test]
    fn readable_positions_keep_rows_on_either_side() {
        // 11 values, min_cell 5: only the median (x_5, 5 below and 5 above).
        assert!(readable(11, position(11, 0.5), 5));
        assert!(!readable(11, position(11, 0.45), 5));
        assert!(!readable(11, position(11, 0.55), 5));
        // The ends need allow_extremes even with min_cell 0.
        assert!(!readable(3, position(3, 0.0), min_side(0, false)));
        assert!(!readable(3, position(3, 1.0), min_side(0, false)));
        assert!(readable(3, position(3, 1.0), min_side(0, true)));
        assert!(!readable(0, position(1, 0.5), 0));
    }
}
