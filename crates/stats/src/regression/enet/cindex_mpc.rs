//! Cross-validation of the penalised Cox model by Harrell's C-index inside MPC
//! (`type_measure = "C"`, glmnet's `cv.glmnet(..., type.measure = "C")`), after the fit of
//! [`super::cox_mpc`]: for every fold and λ the C-index of the fold's own rows' linear
//! predictor from the fit on the other folds, all `K·L` of them in the rounds of one,
//! reusing the concordance's building blocks ([`crate::survival::concordance`]'s three
//! sorts, segmented scans and [`crate::survival::dominance`]'s pass), with public blocks
//! instead of strata.
//!
//! # Protocol
//!
//! The folds are public positions of the shuffled rows ([`super::mpc`], step 2: the row at
//! position i is in fold i mod K), so the rows of each fold are known to be contiguous once
//! gathered, without anyone knowing whose they are. Rows that are not complete cases are
//! among them with weight 0 (neither events nor partners).
//!
//! 1. Once, all folds in one sort: by `(fold, k)` with the time key `k = 2·time + 1 −
//!    event` (events before censored rows at one time, so a censored time tied with an
//!    event counts as the longer one; events at one time are not comparable), carrying the
//!    centred covariates. Each fold keeps its public range. Per row the partners with a
//!    larger key in its fold, `N_i` (a local suffix sum within the fold less a segmented
//!    scan over the equal keys), and per fold the comparable pairs `npair_f = Σ δ_i N_i`
//!    (independent of λ). One bit per fold is opened: whether it has no comparable pair
//!    (an error then: its C-index is undefined).
//! 2. Per fold f and λ l (block `c = f·L + l`), the linear predictor of the fold's rows,
//!    exact: `η = (w ∘ (x − m))·(b ∘ r_T)` with the training set's standardised
//!    coefficients `b` and reciprocal deviations `r_T`, never truncated (3f fractional
//!    bits), so that rows with equal covariates tie as in R, and a coefficient the lasso
//!    zeroed is exactly zero (one matrix product per fold, one round).
//! 3. The `L·m` points (m rows, each in L blocks) sorted stably by `(block, η)` (the wide
//!    sort), whose positions are the ranks; groups of equal `(block, η)` and of equal
//!    `(block, η, k)` give the partners tied in `η`, `E_i` (segmented suffix sums of the
//!    weights); sorted stably by `(block, k)` again, the order `P`; the dominance pass
//!    counts for each event the partners later in `P` with a smaller rank, `A_i` (the
//!    concordant ones). All exactly as the concordance module argues.
//! 4. Per block `2·C = Σ δ_i (2A_i + E_i) / npair_f` (one reciprocal per fold, shared by its
//!    L blocks), then `cvm` and `cvsd²` as glmnet: the folds' C weighted by their complete
//!    rows ([`super::mpc::cv_summary`]). Sealed with the path; the recipient chooses
//!    `lambda.min` as the largest C ([`super::path::choose_for`]).
//!
//! # What the compute parties learn
//!
//! One bit per fold, "this fold has no comparable pair" (all zero unless the study is
//! refused). The sorts' comparison bits and the dominance pass's destinations are
//! simulatable from the public sizes ([`tessera_mpc::sort`], [`crate::survival::dominance`]).
//! Unlike a model's `concordance`, no scan depth is opened: the segmented scans run to the
//! public bound `ceil(log2)` of the largest fold (the sizes of tie groups in `η` would tell
//! how sparse each fold's fit is). Nothing of the C-indices.
//!
//! # Cost
//!
//! One 64-bit sort of the m shuffled rows; on the `L·m` points one wide sort (key of
//! `125 − ceil(log2 m L)` bits), one 64-bit sort, three equality tests per point, the
//! scans of three groupings to depth `ceil(log2 (m/K))` and the dominance pass
//! (`5·ceil(log2 L m)` rounds); K matrix products; one reciprocal of K values. Small next
//! to the fit's `exp` and reciprocals per row, problem, step and λ.

use tessera_mpc::sort::SortOptions;
use tessera_mpc::{AShare, Party, Table};

use crate::error::{Result, StatsError};
use crate::regression::design::{gather, rows_of};
use crate::survival::dominance::{bits_for, dominance, rank_bits};
use crate::survival::risk::{adjacent_equal, low64, suffix_sum, RiskOrder};

use super::mpc::{cv_summary, Setup};

/// Bits of the time key below the block code in the 64-bit keys (times are fixed point
/// below 2^39 in magnitude, so the key `2·time + 1 − event` below 2^40).
const TIME_SHIFT: u32 = 41;

fn invalid(msg: String) -> StatsError {
    StatsError::Invalid(format!(
        "elasticnet (family = \"cox\", type_measure = \"C\"): {msg}"
    ))
}

/// Per block (public contiguous ranges of `sizes`), suffix sums within the block (local).
fn suffix_within(x: &AShare<u128>, sizes: &[usize]) -> AShare<u128> {
    let mut parts = Vec::with_capacity(sizes.len());
    let mut a = 0;
    for &len in sizes {
        parts.push(suffix_sum(&x.slice(a..a + len)));
        a += len;
    }
    AShare::concat(&parts.iter().collect::<Vec<_>>())
}

/// Per block (public contiguous ranges of `sizes`), the sum of `x` (local).
fn sum_within(x: &AShare<u128>, sizes: &[usize]) -> AShare<u128> {
    let mut parts = Vec::with_capacity(sizes.len());
    let mut a = 0;
    for &len in sizes {
        parts.push(x.slice(a..a + len).sum());
        a += len;
    }
    AShare::concat(&parts.iter().collect::<Vec<_>>())
}

/// Adds the public integer `c[i]·2^shift` to element i.
fn plus_code(p: &Party, x: &AShare<u128>, c: &[u128], shift: u32) -> AShare<u128> {
    let codes: Vec<u128> = c.iter().map(|&v| v << shift).collect();
    p.add_public(x, &codes)
}

/// The folds' C-indices at every λ, then `cvm` and `cvsd²` (f + HI bits, L each), from the
/// path of every problem (`path_b[l].0`: the full data then each training set, k
/// standardised coefficients each, f bits). Module docs.
pub(super) fn cross_validate(
    pt: &mut Party,
    s: &Setup,
    path_b: &[(AShare<u128>, AShare<u128>)],
) -> Result<(AShare<u128>, AShare<u128>)> {
    let k = s.k;
    let kf = s.folds.rows.len();
    // β = b ∘ r_T (2f bits, exact): fold-major, then λ, then covariate.
    let (bs, rs): (Vec<AShare<u128>>, Vec<AShare<u128>>) = (0..kf)
        .flat_map(|fo| {
            path_b.iter().map(move |(b, _)| {
                (
                    b.slice((fo + 1) * k..(fo + 2) * k),
                    s.problems[fo + 1].st.r.slice(0..k),
                )
            })
        })
        .unzip();
    let beta = pt.mul(
        &AShare::concat(&bs.iter().collect::<Vec<_>>()),
        &AShare::concat(&rs.iter().collect::<Vec<_>>()),
    )?;
    let c = fold_cindices(pt, &s.folds.table, kf, &beta, path_b.len())?;
    let per_fold: Vec<AShare<u128>> = (0..kf)
        .map(|fo| c.slice(fo * path_b.len()..(fo + 1) * path_b.len()))
        .collect();
    cv_summary(pt, &per_fold, &s.folds.rows, s.n)
}

/// Steps 1–4 of the module docs: the C-index (f bits) of each fold `fo` (the rows at
/// positions `fo, fo + K, …` of `table`: `[w, w ∘ (x − m) (k columns), w ∘ (time − m_t),
/// w·δ]`) at each of `nl` coefficient vectors `beta` (K·L·k, fold-major then λ, 2f
/// fractional bits, exact), fold-major then λ.
pub(crate) fn fold_cindices(
    pt: &mut Party,
    t: &Table,
    kf: usize,
    beta: &AShare<u128>,
    nl: usize,
) -> Result<AShare<u128>> {
    let f = pt.frac_bits();
    let k = t.c128.len() - 3;
    let m = t.rows();
    // The folds' public positions, gathered fold after fold.
    let order: Vec<u32> = (0..kf)
        .flat_map(|fo| (fo..m).step_by(kf).map(|i| i as u32))
        .collect();
    let sizes: Vec<usize> = (0..kf).map(|fo| (fo..m).step_by(kf).len()).collect();
    let starts: Vec<usize> = sizes
        .iter()
        .scan(0, |a, &len| {
            let s = *a;
            *a += len;
            Some(s)
        })
        .collect();
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let g = t.gather(&order);
    let fold_of: Vec<u128> = (0..kf)
        .flat_map(|fo| std::iter::repeat_n(fo as u128, sizes[fo]))
        .collect();

    // 1. By (fold, time key), the λ-independent partner counts.
    let dw = &g.c128[k + 2];
    let tk = pt.add_const(&g.c128[k + 1].shl(1).sub(dw), 1);
    let key1 = low64(&plus_code(pt, &tk, &fold_of, TIME_SHIFT));
    let perm = pt.sort_perm(&key1, SortOptions::default())?;
    let mut cols = vec![g.c128[0].clone(), dw.clone()];
    cols.extend(g.c128[1..=k].iter().cloned());
    let sorted = pt.apply_sort(&perm, &Table::new(vec![key1], cols)?)?;
    let key1 = sorted.c64[0].clone();
    let mut cols = sorted.c128;
    let x = cols.split_off(2);
    let (w, d) = (cols[0].clone(), cols[1].clone());
    let same = adjacent_equal(pt, &key1)?;
    let ties = RiskOrder::runs_bounded(pt, same, largest)?;
    let tied = ties.seg_suffix(pt, std::slice::from_ref(&w))?.remove(0);
    let partners = suffix_within(&w, &sizes).sub(&tied);
    let npair = sum_within(&pt.mul(&d, &partners)?, &sizes);
    let none = pt.is_zero(&npair)?;
    // LEAKAGE: one bit per fold, whether it has no comparable pair (an error then; all
    // zero otherwise).
    let bits = pt.reveal_bits(&none)?;
    if let Some(fo) = (0..kf).find(|&i| (bits[i / 64] >> (i % 64)) & 1 == 1) {
        return Err(invalid(format!(
            "cross-validation fold {} of the secret random assignment has no comparable \
             pair (its C-index is undefined): use fewer folds",
            fo + 1
        )));
    }

    // 2. η of every fold's rows at every λ, exact (3f bits).
    let xrows: Vec<AShare<u128>> = (0..kf)
        .map(|fo| {
            let r = starts[fo]..starts[fo] + sizes[fo];
            rows_of(
                &x.iter()
                    .map(|c| c.slice(r.clone()))
                    .collect::<Vec<_>>()
                    .iter()
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let mut etas = Vec::with_capacity(kf);
    for fo in 0..kf {
        // β of fold fo as a k × L matrix (column l: λ l).
        let bmat = gather(
            beta,
            &(0..k * nl)
                .map(|i| (fo * nl + i % nl) * k + i / nl)
                .collect::<Vec<_>>(),
        );
        etas.push(pt.matmul(&xrows[fo], &bmat, sizes[fo], k, nl)?);
    }
    // The points, block c = fo·L + l, each block the fold's rows in sort-1 order.
    let mut eta_idx = Vec::with_capacity(m * nl);
    let mut row_idx = Vec::with_capacity(m * nl);
    let mut block = Vec::with_capacity(m * nl);
    let mut bsizes = Vec::with_capacity(kf * nl);
    let mut offset = 0;
    for fo in 0..kf {
        for l in 0..nl {
            for i in 0..sizes[fo] {
                eta_idx.push(offset + i * nl + l);
                row_idx.push(starts[fo] + i);
                block.push((fo * nl + l) as u128);
            }
            bsizes.push(sizes[fo]);
        }
        offset += sizes[fo] * nl;
    }
    let all_eta = AShare::concat(&etas.iter().collect::<Vec<_>>());
    let eta = gather(&all_eta, &eta_idx);
    let pw = gather(&w, &row_idx);
    let pd = gather(&d, &row_idx);
    let fold_code: Vec<u128> = row_idx.iter().map(|&i| fold_of[i]).collect();
    // The time key with the block code above it instead of the fold's.
    let key1_128 = pt.lift_u64(&key1)?;
    let pk = gather(&key1_128, &row_idx);
    let rebased: Vec<u128> = block
        .iter()
        .zip(&fold_code)
        .map(|(&c, &fo)| (c << TIME_SHIFT).wrapping_sub(fo << TIME_SHIFT))
        .collect();
    let sk = low64(&pt.add_public(&pk, &rebased));

    // 3. Stably by (block, η): the ranks; the partners tied in η.
    let npts = eta.len();
    let cb = bits_for(kf * nl) as u32;
    let eb = 125u32
        .checked_sub(cb + bits_for(npts) as u32)
        .filter(|&b| b >= 3 * f + 8)
        .ok_or_else(|| {
            invalid(format!(
                "{npts} points (rows × λ) in {} blocks exceed the sort's 127-bit keys",
                kf * nl
            ))
        })?;
    let key2 = plus_code(pt, &eta, &block, eb);
    let perm = pt.sort_perm_wide(&key2, eb + cb + 1, SortOptions::default().pivots)?;
    let moved = pt.apply_sort(&perm, &Table::new(vec![sk], vec![pd, pw, key2])?)?;
    let sk = moved.c64[0].clone();
    let [d, u, key2] = <[AShare<u128>; 3]>::try_from(moved.c128).expect("3 columns");
    let same_eta = adjacent_equal(pt, &key2)?;
    let same_time = adjacent_equal(pt, &sk)?;
    let same_both = pt.mul(&same_eta, &same_time)?;
    let by_eta = RiskOrder::runs_bounded(pt, same_eta, largest)?;
    let by_both = RiskOrder::runs_bounded(pt, same_both, largest)?;
    let suf_eta = by_eta.seg_suffix(pt, std::slice::from_ref(&u))?.remove(0);
    let suf_both = by_both.seg_suffix(pt, std::slice::from_ref(&u))?.remove(0);
    let e = suf_eta.sub(&suf_both);
    // Stably by (block, time key): the order P; the dominance pass returns to rank order.
    let mut c64 = rank_bits(pt, npts);
    c64.push(low64(&u));
    c64.push(low64(&d));
    let perm = pt.sort_perm(&sk, SortOptions::default())?;
    let mut moved = pt.apply_sort(&perm, &Table::new(c64, vec![])?)?.c64;
    let d64 = moved.pop().expect("events");
    let u64s = moved.pop().expect("used");
    let (a64, _) = dominance(pt, moved, u64s, d64)?;
    let a = pt.lift_u64(&a64)?;

    // 4. 2·(concordant + tied/2) per block, over 2^(kr + 2f)/npair of its fold.
    let num = sum_within(&pt.mul(&d, &a.shl(1).add(&e))?, &bsizes);
    let kr = 38u32.saturating_sub(f);
    let r = pt.recip_pow2(&npair, kr)?;
    let r_rep = gather(&r, &(0..kf * nl).map(|c| c / nl).collect::<Vec<_>>());
    Ok(pt.mul_trunc(&num, &r_rep, kr + f + 1)?)
}

#[cfg(test)]
mod tests {
    use tessera_mpc::fixed::{decode, encode};
    use tessera_mpc::testing::{input, run3, same};
    use tessera_mpc::Table;

    use super::fold_cindices;
    use crate::survival::concordance::{concordance_plain, ConcordanceRows};

    /// A small deterministic generator.
    fn draw(state: &mut u64, below: u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state % below
    }

    /// Every fold's and λ's C-index inside MPC equals the concordance twin's on the same
    /// blocks: tied times (events and censored), tied predictors (binary and small integer
    /// covariates, a zero coefficient, an all-zero λ whose C is exactly 1/2), incomplete
    /// rows among the folds.
    #[test]
    fn blocks_match_the_concordance_twin() {
        let (m, kf, nl, k) = (163usize, 4usize, 3usize, 3usize);
        let mut st = 0x5eed_c1d3u64;
        let mut rows = Vec::new();
        for i in 0..m {
            let w = u64::from(i % 11 != 5);
            let x = [
                draw(&mut st, 2) as f64,
                draw(&mut st, 3) as f64,
                draw(&mut st, 9) as f64 * 0.5,
            ];
            let t = 1.0 + draw(&mut st, 15) as f64;
            let e = draw(&mut st, 3).min(1) as f64;
            rows.push((w, x, t, e));
        }
        // β per fold and λ (fold-major): λ 0 all zero, λ 1 a zero coefficient.
        let beta: Vec<f64> = (0..kf)
            .flat_map(|fo| {
                let a = 0.3 + 0.1 * fo as f64;
                [
                    [0.0, 0.0, 0.0],
                    [a, 0.0, -0.25],
                    [-a, 0.75, 0.125 * fo as f64],
                ]
            })
            .flatten()
            .collect();
        assert_eq!(beta.len(), kf * nl * k);
        let out = run3(|p| {
            let f = p.frac_bits();
            let enc = |v: f64| encode::<u128>(v, f);
            let mut cols: Vec<Vec<u128>> = vec![Vec::new(); k + 3];
            for (w, x, t, e) in &rows {
                let w = *w as f64;
                cols[0].push(w as u128);
                for j in 0..k {
                    cols[1 + j].push(enc(w * (x[j] - 0.37)));
                }
                cols[k + 1].push(enc(w * (t - 7.3)));
                cols[k + 2].push((w * e) as u128);
            }
            let shared: Vec<_> = cols.iter().map(|c| input(p, 0, c)).collect();
            let table = Table::new(vec![], shared)?;
            let b: Vec<u128> = beta.iter().map(|&v| encode(v, 2 * f)).collect();
            let b = input(p, 0, &b);
            let c = fold_cindices(p, &table, kf, &b, nl).expect("C-indices");
            let opened = p.reveal(&c)?;
            Ok((f, opened))
        });
        let (f, opened) = same(out.map(|r| r.unwrap()));
        let (mut worst, mut ties) = (0.0f64, (0u64, 0u64));
        for fo in 0..kf {
            for l in 0..nl {
                let idx: Vec<usize> = (fo..m).step_by(kf).filter(|&i| rows[i].0 == 1).collect();
                // Exact predictors from the encoded values, as inside MPC.
                let b0 = (fo * nl + l) * k;
                let eta: Vec<f64> = idx
                    .iter()
                    .map(|&i| {
                        (0..k)
                            .map(|j| {
                                let c: i128 = encode::<u128>(rows[i].1[j] - 0.37, f) as i128;
                                let b: i128 = encode::<u128>(beta[b0 + j], 2 * f) as i128;
                                c.wrapping_mul(b)
                            })
                            .sum::<i128>() as f64
                    })
                    .collect();
                let time: Vec<f64> = idx.iter().map(|&i| rows[i].2).collect();
                let event: Vec<bool> = idx.iter().map(|&i| rows[i].3 == 1.0).collect();
                let raw = concordance_plain(&ConcordanceRows {
                    time: &time,
                    event: &event,
                    eta: &eta,
                    stratum: &vec![0; idx.len()],
                    entry: None,
                    cluster: None,
                });
                let npair = (raw.concordant + raw.discordant + raw.tied_x) as f64;
                let want = (raw.concordant as f64 + raw.tied_x as f64 / 2.0) / npair;
                let got = decode(opened[fo * nl + l], f);
                if l == 0 {
                    assert_eq!(want, 0.5);
                }
                if l > 0 {
                    ties.0 += raw.tied_x;
                }
                ties.1 += raw.tied_y;
                worst = worst.max((got - want).abs());
                assert!(
                    (got - want).abs() < 1e-6,
                    "fold {fo} λ {l}: mpc {got} twin {want}"
                );
            }
        }
        assert!(ties.0 > 0 && ties.1 > 0, "ties in η and in time: {ties:?}");
        println!("C-index blocks within {worst:.2e} of the concordance twin (ties {ties:?})");
    }
}
