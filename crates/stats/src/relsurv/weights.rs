//! The Pohar Perme weights `w(u) = 1/S(u) = e^{H(u)}` of one patient, written down in
//! plaintext by the data owner that holds the patient's path ([`super::path`]), for the
//! MPC protocol of [`super::pohar`].
//!
//! Days are cut into public *blocks* of [`BLOCK_DAYS`] days (`[bL, (b+1)L)`). A patient's
//! *breakpoints* are the block starts and the days the daily rate changes (the path's
//! kinks), in day order; between two breakpoints the rate `ρ` is constant, so on a day `u`
//! of the piece that starts at breakpoint `r` (in block `g_r = L·⌊day_r/L⌋`)
//!
//! ```text
//! w(u) = C_r · e^{θ_r x},   x = (u − g_r)/L ∈ [0, 1),   θ_r = ρ_r L,
//! C_r = e^{H(day_r) − ρ_r (day_r − g_r)}   (the piece's exponential at its block's start)
//! ```
//!
//! Per breakpoint the owner writes the day, the change of block start and the changes of
//! the Taylor coefficients `U_m = C·θ^m/m!` of `C·e^{θx}` ([`weight_columns`]); the MPC
//! protocol sums them over the patients at risk and evaluates the four sums relsurv runs at
//! each day's public `x` ([`super::pohar`]). Nothing here depends on follow-up; the number
//! of breakpoint slots is public and the same for every patient ([`weight_slots`]): unused
//! slots repeat the last
//! breakpoint (the MPC protocol turns repeated pieces into zero records).

use crate::table::{PlainColumn, PlainData};

use super::path::{kink_slots, Path, RATE_BITS};

/// log2 of the block length.
pub const BLOCK_BITS: u32 = 8;

/// The public block length `L` in days (a power of two: the protocol divides by it with a
/// shift).
pub const BLOCK_DAYS: u32 = 1 << BLOCK_BITS;

/// The number of blocks that start before `horizon` days.
pub fn blocks(horizon: u32) -> usize {
    horizon.div_ceil(BLOCK_DAYS).max(1) as usize
}

/// Breakpoint slots per patient for follow-up up to `horizon` days: every block start
/// before it and the path's kink slots ([`kink_slots`]).
pub fn weight_slots(horizon: u32) -> usize {
    blocks(horizon) + kink_slots(horizon)
}

/// One breakpoint of a patient's weight (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Breakpoint {
    /// The day the piece starts.
    pub day: f64,
    /// The start of the block holding `day`.
    pub block: f64,
    /// `ρ·L`, the piece's daily rate times the block length.
    pub theta: f64,
    /// `C`, the piece's weight extrapolated to the block start.
    pub c: f64,
    /// The daily rate `ρ` of the piece.
    pub rate: f64,
}

/// The breakpoints of `path` up to `horizon` days, exactly [`weight_slots`]`(horizon)` of
/// them (unused slots repeat the last one). Errors when the path has more kinks than the
/// slots for `horizon` (a path written for a longer horizon is cut at `horizon`).
pub fn breakpoints(path: &Path, horizon: u32) -> Result<Vec<Breakpoint>, String> {
    let l = f64::from(BLOCK_DAYS);
    let h = f64::from(horizon);
    let mut days: Vec<f64> = (0..blocks(horizon)).map(|b| b as f64 * l).collect();
    days.extend(
        path.kinks
            .iter()
            .filter(|&&(k, d)| d != 0.0 && k >= 1.0 && k <= h)
            .map(|&(k, _)| k),
    );
    days.sort_by(f64::total_cmp);
    let slots = weight_slots(horizon);
    if days.len() > slots {
        return Err(format!(
            "the path has more rate changes up to day {horizon} than the {slots} breakpoint \
             slots allow"
        ));
    }
    let mut out: Vec<Breakpoint> = days
        .iter()
        .map(|&day| {
            let block = (day / l).floor() * l;
            let rate = path.rate(day);
            Breakpoint {
                day,
                block,
                theta: rate * l,
                c: (path.cumulative(day) - rate * (day - block)).exp(),
                rate,
            }
        })
        .collect();
    let last = *out.last().expect("block 0 is always a breakpoint");
    out.resize(slots, last);
    Ok(out)
}

/// Relative error allowed for each of the two truncated series (the Taylor series of
/// `e^{θx}` in a block and of `e^ρ`), far below what the fixed point resolves.
pub const SERIES_EPS: f64 = 1e-12;

/// The highest daily rate accepted (7.3 a year, `q` = 0.9993; relsurv's `slopop` reaches
/// 0.0108 at ages 99+): the degree grows with it.
pub const MAX_RATE: f64 = 0.02;

/// The degrees of the two series for a life table whose highest daily rate is `max_rate`:
/// `k`, the least with `θ^(k+1)/(k+1)! ≤ SERIES_EPS` (`θ = max_rate·L`: by Lagrange's form
/// the remainder of `e^z`, `0 ≤ z = θx < θ`, after degree `k` is `e^ξ z^(k+1)/(k+1)!` with
/// `ξ ≤ z`, so relative to `e^z` it is below that bound), and `j`, the least with
/// `ρ^(j+1)/(j+1)! ≤ SERIES_EPS` (`e^ρ`'s). Errors unless `0 < max_rate ≤ MAX_RATE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Degree {
    /// Degree of the polynomial in `x` within a block.
    pub k: usize,
    /// Terms of `e^ρ` beyond the first (`w(u+1) = w(u)·e^ρ`).
    pub j: usize,
}

impl Degree {
    /// See the type's documentation.
    pub fn for_rate(max_rate: f64) -> Result<Degree, String> {
        if !(max_rate.is_finite() && max_rate > 0.0 && max_rate <= MAX_RATE) {
            return Err(format!(
                "the life table's highest daily rate {max_rate} is not a rate in (0, {MAX_RATE}] per day"
            ));
        }
        let least = |z: f64| {
            let (mut term, mut k) = (z, 0usize);
            // term = z^(k+1)/(k+1)!
            while term > SERIES_EPS {
                k += 1;
                term *= z / (k + 1) as f64;
            }
            k
        };
        Ok(Degree {
            k: least(max_rate * f64::from(BLOCK_DAYS)),
            j: least(max_rate),
        })
    }

    /// The Taylor coefficients written per breakpoint: `m = 0..=k + j + 1` (the sums with
    /// `ρ` and `e^ρ` reach that far; see [`super::pohar`]).
    pub fn terms(self) -> usize {
        self.k + self.j + 2
    }
}

/// The shared columns of the patients' weights for follow-up up to `horizon` days with
/// `terms` Taylor coefficients ([`Degree::terms`]), per slot `r`: `{prefix}.w{r}.day`
/// (days), `.dg` (the block start minus the previous slot's, days) and `.v{m}` for `m <
/// terms`: the change `U_r,m − U_(r−1),m` of the Taylor coefficient `U_r,m = C_r·θ_r^m/m!`
/// of the piece's weight (`U_(−1) = 0`), times `2^RATE_BITS` (so 40 fractional bits at the
/// engine's 24). `None` rows are missing in every column. Errors as [`breakpoints`].
pub fn weight_columns(
    prefix: &str,
    horizon: u32,
    terms: usize,
    paths: &[Option<Path>],
) -> Result<Vec<PlainColumn>, String> {
    let slots = weight_slots(horizon);
    let bps: Vec<Option<Vec<Breakpoint>>> = paths
        .iter()
        .map(|p| p.as_ref().map(|p| breakpoints(p, horizon)).transpose())
        .collect::<Result<_, _>>()?;
    let s = f64::from(1u32 << RATE_BITS);
    let coef = |b: &Breakpoint, m: usize| {
        let mut u = b.c;
        for i in 1..=m {
            u *= b.theta / i as f64;
        }
        u
    };
    let mut out = Vec::with_capacity((2 + terms) * slots);
    let col = |name: String, f: &dyn Fn(&[Breakpoint]) -> f64| PlainColumn {
        name,
        data: PlainData::Numeric(bps.iter().map(|b| b.as_deref().map(f)).collect()),
    };
    for r in 0..slots {
        out.push(col(format!("{prefix}.w{r}.day"), &|b| b[r].day));
        out.push(col(format!("{prefix}.w{r}.dg"), &|b| {
            b[r].block - if r == 0 { 0.0 } else { b[r - 1].block }
        }));
        for m in 0..terms {
            out.push(col(format!("{prefix}.w{r}.v{m}"), &|b| {
                let prev = if r == 0 { 0.0 } else { coef(&b[r - 1], m) };
                (coef(&b[r], m) - prev) * s
            }));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pieces reproduce `e^{H(u)}` on every day (the owner's side is exact).
    #[test]
    fn the_pieces_are_the_weights_day_by_day() {
        let path = Path {
            rate0: 2e-4,
            kinks: vec![(100.0, 3e-5), (256.0, 1e-5), (300.0, -2e-5), (0.0, 0.0)],
        };
        let horizon = 700;
        let bps = breakpoints(&path, horizon).unwrap();
        assert_eq!(bps.len(), weight_slots(horizon));
        for u in 0..horizon {
            let u = f64::from(u);
            let b = bps.iter().rev().find(|b| b.day <= u).unwrap();
            let x = (u - b.block) / f64::from(BLOCK_DAYS);
            assert!((0.0..1.0).contains(&x));
            let w = b.c * (b.theta * x).exp();
            let want = path.cumulative(u).exp();
            assert!((w / want - 1.0).abs() < 1e-14, "day {u}: {w} vs {want}");
        }
    }

    /// The degrees meet their bound, and one less would not.
    #[test]
    fn the_degrees_are_the_least_that_meet_the_bound() {
        let rem = |z: f64, k: usize| {
            let mut t = 1.0;
            for i in 1..=k + 1 {
                t *= z / i as f64;
            }
            t
        };
        for rate in [1e-6, 1e-3, 0.0035, MAX_RATE] {
            let d = Degree::for_rate(rate).unwrap();
            let theta = rate * f64::from(BLOCK_DAYS);
            assert!(rem(theta, d.k) <= SERIES_EPS && rem(rate, d.j) <= SERIES_EPS);
            assert!(d.k == 0 || rem(theta, d.k - 1) > SERIES_EPS, "{rate}");
            assert!(d.j == 0 || rem(rate, d.j - 1) > SERIES_EPS, "{rate}");
        }
        for bad in [0.0, -1e-3, f64::NAN, 0.03] {
            assert!(Degree::for_rate(bad).is_err());
        }
    }
}
