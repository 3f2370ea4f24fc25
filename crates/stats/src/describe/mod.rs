//! Descriptive statistics, contingency tables and correlation on the shared linked table,
//! each beside its plaintext twin ([`plain`], the oracle of the tests).
//!
//! - [`describe()`]: count, missing count, mean, variance and standard deviation,
//!   quantiles (numpy's default `linear` definition), histogram on given bin edges,
//!   minimum and maximum (only where the policy allows), overall or per level of a
//!   categorical group column ([`describe::Description`]).
//! - [`crosstab()`]: contingency table of two categorical columns with Pearson's chi-square
//!   test of independence, small cells suppressed ([`crosstab::Crosstab`]).
//! - [`correlation()`]: Pearson correlation matrix on pairwise complete observations, as
//!   pandas' `DataFrame.corr()` ([`correlation::Correlation`]).
//!
//! # Techniques (costs per analysis; `n` rows)
//!
//! Counts and sums are local sums of products with indicators: a present indicator or a
//! one-hot level is an integer 0/1, so `indicator × fixed-point value` needs no truncation.
//! Per-group sums are one matrix product `[present; x; x²]·[levels]`, and contingency counts
//! the integer product `A'B` of the two one-hot matrices. Every such product is computed the
//! same way: each party forms its additive part of all entries in one pass over its shares
//! ([`cross_parts`], the local half of a replicated multiplication, no copies of the
//! inputs), and the parts are secret-shared back ([`additive_to_replicated`]: 3 rounds,
//! one element per entry and party). Communication is the size of the result, not `n`;
//! a 3 × 4 table of a million rows takes about 0.1 s of local work. Quantiles and extremes
//! come from one oblivious sort per column (`tessera_mpc::sort`) whose key pushes missing
//! rows and rows of other (or suppressed) groups to the end: once the counts are opened the
//! positions of the order statistics are public, and the interpolation between two order
//! statistics uses public weights, so it is local. Histogram bins are comparisons with the
//! public edges (one batched `lt` of `n·(edges)` elements) and a matrix product.
//!
//! # Disclosure control
//!
//! Public rules (`min_rows`, columns) are checked by [`crate::analysis::run`] before anything
//! is computed. Inside each analysis, before any value is sealed: `min_level_rows` on the
//! secret level counts of every categorical column used (only the pass/fail bit is opened:
//! [`crate::disclosure::Disclosure::check_level_rows`]), then `min_cell` on every count the
//! result rests on (the shown/suppressed pattern is opened as part of the result, the
//! values of suppressed cells are never computed into the output).
//!
//! # What the compute parties learn
//!
//! The pass/fail bit of `min_level_rows`, the suppression patterns, and the counts that
//! later steps use as public constants: the count of values of each shown cell (describe)
//! and the complete pairs of each shown pair (correlation), each commented with `LEAKAGE`
//! where it is opened. The oblivious sort opens comparison results of shuffled rows, which
//! are independent of the data (`tessera_mpc::sort`).
//!
//! # What the recipients get
//!
//! Everything else the result types hold, sealed ([`crate::sealed`]) and decoded by the
//! tails ([`DescribePublic`], [`CrosstabPublic`], [`CorrelationPublic`]). Two results are
//! sealed at a precision finer than their printed value: quantiles as the exact
//! interpolation `x_lo + w·(x_hi - x_lo)` of the two order statistics (a deterministic
//! function of the data, the quantile itself), and chi-square at 40 fractional bits.

#[allow(clippy::module_inception)]
pub mod describe;

pub mod correlation;
pub mod crosstab;
pub mod plain;
pub mod quantile;

pub use correlation::{correlation, Correlation, CorrelationPublic};
pub use crosstab::{crosstab, Crosstab, CrosstabPublic};
pub use describe::{describe, DescribePublic, Description, Summary};

use tessera_mpc::fixed::encode;
use tessera_mpc::{AShare, Party};

use crate::error::Result;

pub(crate) use tessera_mpc::share::low64;

/// The elements `idx` of a shared vector (local).
pub(crate) fn gather<R: tessera_mpc::Ring>(x: &AShare<R>, idx: &[usize]) -> AShare<R> {
    AShare {
        a: idx.iter().map(|&i| x.a[i]).collect(),
        b: idx.iter().map(|&i| x.b[i]).collect(),
    }
}

/// This party's part of a 3-out-of-3 additive sharing of the matrix product `A'B` of the
/// column vectors `a` (La of them) and `b` (Lb), row-major La × Lb: the local half of a
/// replicated multiplication, `Σ_t a_i(s)·(b_j(s) + b_j(s')) + a_i(s')·b_j(s)`, in one
/// pass over the rows (no copies of the inputs). Local.
pub(crate) fn cross_parts(a: &[&AShare<u128>], b: &[&AShare<u128>], n: usize) -> Vec<u128> {
    let (la, lb) = (a.len(), b.len());
    let mut z = vec![0u128; la * lb];
    let mut ya = vec![0u128; lb];
    let mut ys = vec![0u128; lb];
    for t in 0..n {
        for (j, bj) in b.iter().enumerate() {
            ya[j] = bj.a[t];
            ys[j] = bj.a[t].wrapping_add(bj.b[t]);
        }
        for (ai, row) in a.iter().zip(z.chunks_mut(lb)) {
            let (xa, xb) = (ai.a[t], ai.b[t]);
            for ((zj, &s), &y) in row.iter_mut().zip(&ys).zip(&ya) {
                *zj = zj
                    .wrapping_add(xa.wrapping_mul(s))
                    .wrapping_add(xb.wrapping_mul(y));
            }
        }
    }
    z
}

/// Turns this party's part `z` of a 3-out-of-3 additive sharing into a replicated sharing
/// of the sum: each party secret-shares its part ([`Party::share_input`], which hides it
/// completely) and the three sharings are added. Three rounds, `z.len()` elements sent
/// per party. Opens nothing.
pub(crate) fn additive_to_replicated(p: &mut Party, z: &[u128]) -> Result<AShare<u128>> {
    let m = z.len();
    let mut acc = AShare::zeros(m);
    for owner in 0..3 {
        let mine = (p.id() == owner).then_some(z);
        acc = acc.add(&p.share_input(owner, mine, m)?);
    }
    Ok(acc)
}

/// Multiplies element `k` of a fixed-point vector by the public real `c[k]` (e.g. `1/n`),
/// keeping absolute precision: `c = m·2^-e` with `m` in [0.5, 1); first an exact division
/// by `2^e` (a public power of two, one truncation), then the product with `m` encoded at
/// [`SCALE_BITS`] bits and one more truncation. Four rounds, two elements per party.
/// Error: below 2 ulp plus `|x·c|·2^-41`. Valid (truncation failure below 2^-40) while
/// `|x·c| < 2^23` and `|x|·2^(24 + E - e_k) < 2^87` (`E` the largest `e`).
pub(crate) fn scale_public(p: &mut Party, x: &AShare<u128>, c: &[f64]) -> Result<AShare<u128>> {
    scale_public_with(p, x, c, 0, SCALE_BITS, false)
}

/// [`scale_public`] that also drops `drop` fractional bits of `x` (in the first, exact
/// truncation) and encodes the mantissas at `bits` bits: the result has `drop` fractional
/// bits fewer than `x`, its error is below 2 of its ulp plus `|x·c|·2^-(bits+1)`, and it is
/// valid while the result's ring value times `2^bits` stays below 2^87 and
/// `x·2^(E - e_k)` (ring values) too; with `exact`, both shifts are exact
/// ([`crate::regression::design::trunc_exact`]: about 300 bytes and 20 rounds per element)
/// and valid below 2^126.
pub(crate) fn scale_public_with(
    p: &mut Party,
    x: &AShare<u128>,
    c: &[f64],
    drop: u32,
    bits: u32,
    exact: bool,
) -> Result<AShare<u128>> {
    let shift = |p: &mut Party, v: &AShare<u128>, d: u32| -> Result<AShare<u128>> {
        if exact {
            crate::regression::design::trunc_exact(p, v, d)
        } else {
            Ok(p.trunc(v, d)?)
        }
    };
    // c = m·2^-e, m in [0.5, 1) (0 for c = 0).
    let split: Vec<(f64, i32)> = c
        .iter()
        .map(|&v| {
            if v == 0.0 || !v.is_finite() {
                return (0.0, 0);
            }
            let e = -(v.abs().log2().floor() as i32) - 1;
            (v * (e as f64).exp2(), e)
        })
        .collect();
    let big = split.iter().map(|s| s.1).max().unwrap_or(0).max(0);
    let mut t = x.clone();
    if big > 0 || drop > 0 {
        // x·2^(E - e) exactly, then one division by 2^(E + drop): x / 2^(e + drop).
        let pre: Vec<u128> = split
            .iter()
            .map(|&(_, e)| 1u128 << (big - e).min(100))
            .collect();
        t = shift(p, &t.mul_public(&pre), big as u32 + drop)?;
    } else {
        let pre: Vec<u128> = split.iter().map(|&(_, e)| 1u128 << (-e).min(100)).collect();
        t = t.mul_public(&pre);
    }
    let enc: Vec<u128> = split
        .iter()
        .map(|&(m, _)| encode::<u128>(m, bits))
        .collect();
    shift(p, &t.mul_public(&enc), bits)
}

/// Fractional bits of the mantissas in [`scale_public`].
const SCALE_BITS: u32 = 40;

/// Runs `op` with the fixed-point precision temporarily set to `f` fractional bits (all
/// parties do the same). Used to read a value encoded with 24 bits as if it had `f`: the
/// numeric functions then return results with `f` fractional bits, which keeps their
/// relative precision for small results (e.g. 1/√v for large v).
pub(crate) fn with_frac<T>(
    p: &mut Party,
    f: u32,
    op: impl FnOnce(&mut Party) -> tessera_mpc::Result<T>,
) -> Result<T> {
    let old = p.frac_bits();
    p.set_frac_bits(f);
    let r = op(p);
    p.set_frac_bits(old);
    Ok(r?)
}

/// Decodes an opened value with `bits` fractional bits: the nearest f64 of the exact value.
pub(crate) fn decode_bits(v: u128, bits: u32) -> f64 {
    (v as i128) as f64 / (bits as f64).exp2()
}

/// Formats a number for the text tables: like pandas, six significant digits.
pub(crate) fn num(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-4..1e9).contains(&a) {
        return format!("{v:.5e}");
    }
    let digits = 6 - 1 - a.log10().floor() as i32;
    let s = format!("{v:.*}", digits.max(0) as usize);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A right-aligned text table (first column left-aligned).
pub(crate) fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut width = vec![0usize; cols];
    for r in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let mut line = String::new();
        for (j, (w, c)) in width.iter().zip(r).enumerate() {
            if j == 0 {
                line.push_str(&format!("{c:<w$}"));
            } else {
                line.push_str(&format!("  {c:>w$}"));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_mpc::fixed::{decode_vec, encode_vec};
    use tessera_mpc::testing::{input, run3_ok, same};

    #[test]
    fn cross_product_equals_plaintext() {
        let (la, lb, n) = (3, 4, 50);
        let a: Vec<Vec<u128>> = (0..la)
            .map(|i| (0..n).map(|t| ((t * 7 + i * 13) % 11) as u128).collect())
            .collect();
        let b: Vec<Vec<u128>> = (0..lb)
            .map(|j| {
                (0..n)
                    .map(|t| (((t * 5 + j * 3) % 9) as u128).wrapping_sub(4))
                    .collect()
            })
            .collect();
        let got = same(run3_ok(|p| {
            let sa: Vec<_> = a.iter().map(|v| input(p, 0, v)).collect();
            let sb: Vec<_> = b.iter().map(|v| input(p, 1, v)).collect();
            let z = cross_parts(
                &sa.iter().collect::<Vec<_>>(),
                &sb.iter().collect::<Vec<_>>(),
                n,
            );
            let m = additive_to_replicated(p, &z).map_err(|e| match e {
                crate::StatsError::Mpc(m) => m,
                e => panic!("{e}"),
            })?;
            p.reveal(&m)
        }));
        for i in 0..la {
            for j in 0..lb {
                let want = (0..n).fold(0u128, |s, t| s.wrapping_add(a[i][t].wrapping_mul(b[j][t])));
                assert_eq!(got[i * lb + j], want, "cell {i},{j}");
            }
        }
    }

    #[test]
    fn public_scaling_keeps_absolute_precision() {
        let x = [47_000.0, -3.5, 6.0e6, 0.0, 12.25, 1.0];
        let c = [1.0 / 346.0, 1.0 / 3.0, 1.0 / 999_983.0, 0.5, 4.0, 1.0 / 7.0];
        let got = same(run3_ok(|p| {
            let s = input(p, 2, &encode_vec::<u128>(&x, 24));
            let y = scale_public(p, &s, &c).map_err(|e| match e {
                crate::StatsError::Mpc(m) => m,
                e => panic!("{e}"),
            })?;
            p.reveal(&y)
        }));
        for ((g, x), c) in decode_vec(&got, 24).iter().zip(x).zip(c) {
            assert!((g - x * c).abs() <= 3.0 * 2f64.powi(-24), "{x}·{c}: {g}");
        }
    }

    #[test]
    fn numbers_print_like_pandas() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(12.345678), "12.3457");
        assert_eq!(num(-0.5), "-0.5");
        assert_eq!(num(1234567.0), "1234567");
        assert_eq!(num(1e-6), "1.00000e-6");
    }
}
