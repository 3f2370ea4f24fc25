//! The binomial (logistic) elastic net inside MPC: proximal Newton on the fixed schedule of
//! [`super::path`], every problem (the full data and each training set) side by side, λ
//! after λ with warm starts.
//!
//! # Protocol (after steps 1–4 of [`super::mpc`]: design, 0/1 check, folds, λ)
//!
//! 1. Once: the shuffled rows' covariates standardised with the full data's moments,
//!    `z = w ∘ (x − m) ∘ r` (n·k products), and the upper triangle of `[w, z][w, z]'` per
//!    row (n·k(k+1)/2 products), so that every weighted Gram matrix below is a dot product.
//!    A training set's standardised covariates are `z_T = (z − δ) ∘ ρ` with `δ = d_T ∘ r`
//!    (its mean offset) and `ρ = r_T ∘ sd` (the ratio of its scale to the full data's).
//! 2. Each problem starts at `b = 0`, `b_0 = logit(ȳ_T)` (two `ln` per problem).
//! 3. Per λ, [`path::steps`] Newton steps, each: `γ = ρ ∘ b`, `γ_0 = b_0 − δ'γ`;
//!    `η = γ_0 + Zγ` for every row and problem (one matrix product); `μ = σ(η)` (the cost
//!    driver: one sigmoid per row and problem); `ω = w·μ(1 − μ)`, residual `w·(y − μ)`, rows
//!    of the problem's test fold zeroed (public positions); `H = Σ ω [w, z][w, z]'/n_T` and
//!    `g = Σ w(y − μ)[w, z]/n_T` (dot products: traffic per problem (k+1)(k+2)/2 + k + 1
//!    elements, independent of n); both moved to the training set's coordinates
//!    (`M H M'`, `M g`, `M = [[1, 0], [−δ∘ρ, diag ρ]]`); `c = g + H b`; the reciprocals of
//!    `H_00` and `H_jj + λ(1 − α)`; then [`path::sweeps`] sweeps of coordinate descent
//!    (`soft_threshold` of [`super::mpc`]). Nothing is opened.
//! 4. Cross-validation: for each fold, its rows' `η` at every λ from its training set's
//!    coefficients, clamped to ±[`path::ETA_CLAMP`], the deviance
//!    `2·(w·softplus(η) − w·y·η)` (softplus by `exp` and `ln`), summed per fold and λ and
//!    divided by the fold's count; `cvm` and `cvsd²` as the gaussian family.
//! 5. The full-data path on the original scale `β_j = r_j b_j`, `β_0 = b_0 − m'β`, sealed
//!    with λ, the non-zero indicators and the CV curve (the same layout as the gaussian).
//!
//! # What the compute parties learn
//!
//! What the gaussian family opens (module docs of [`super::mpc`]) and one bit, whether every
//! complete row's outcome is 0 or 1 (as `logistic`; commented `LEAKAGE:` in `check_binary`).
//! Nothing of the fit: the schedule is fixed, no stopping test.
//!
//! # Cost (per party, n rows, k covariates, K folds, L λ, T Newton steps, S sweeps)
//!
//! Bytes about `n·(16·k(k+3) + 640·T·L·(K+1) + 1200·L)`: the sigmoids dominate
//! (`crate::cost`, checked by `tests/cost.rs` within 4%). Rounds about
//! `2000 + T·L·(80 + 9·S·(k+1))`, independent of n: λ runs in sequence (warm starts), the
//! problems side by side. Measured (`tessera bench regression`, three processes on loopback
//! on a loaded 2-core machine, k = 20, L = 20, T = 2, S = 4): `enet-logistic-10k` (K = 10)
//! 46.8 s, 2,958 MB, 40,883 rounds; `enet-logistic-100k` (the path alone,
//! [`super::mpc::elasticnet_path`]) 86.7 s, 2,849 MB, 40,780 rounds, against R glmnet's
//! path in 2.5 s (`scripts/bench_enet.R --binomial`). A Böhning bound (`W = 1/4`) would
//! drop the weighted Gram matrices but needs about ten times the Newton steps for the same
//! accuracy (measured on the fixtures, [`super::path`]), and the sigmoids are the cost.

use std::iter::once;

use tessera_mpc::fixed::encode;
use tessera_mpc::{AShare, Party};

use crate::error::Result;
use crate::regression::design::{self, broadcast, dot_part, from_parts, gather, rows_of, HI};

use super::mpc::{cv_summary, mul_public_each, original_scale, soft_threshold, Fitted, Setup};
use super::path;
use super::ElasticNetSpec;

/// Width of the sign tests of η (|η| below 2^39 in fixed point).
const ETA_WIDTH: usize = 64;

/// What every Newton step reads: the shuffled rows and the problems' coordinates.
pub(super) struct Rows {
    /// Rows of the shuffled table (complete or not).
    pub(super) count: usize,
    /// Folds.
    pub(super) folds: usize,
    /// Row weights (0/1 integers).
    pub(super) w: AShare<u128>,
    /// `w·y` (f bits).
    pub(super) yw: AShare<u128>,
    /// `[w, z_1..z_k]` as columns (f bits).
    pub(super) cols: Vec<AShare<u128>>,
    /// The upper triangle of `[w, z][w, z]'`, as columns, in [`triangle`] order (f bits).
    pub(super) tri: Vec<AShare<u128>>,
    /// `z` row-major (n × k).
    pub(super) zrows: AShare<u128>,
    /// Per problem `ρ` (k each, problem-major, f bits).
    pub(super) rho: AShare<u128>,
    /// Per problem `δ` (k each, problem-major, f bits).
    pub(super) delta: AShare<u128>,
    /// Rows used per problem.
    pub(super) used: Vec<usize>,
    /// Problems fitted side by side: 1 (the path only) or folds + 1.
    pub(super) sets: usize,
}

/// The pairs `(a, b)`, `a ≤ b < p`, of an upper triangle in row order.
pub(super) fn triangle(p: usize) -> Vec<(usize, usize)> {
    (0..p).flat_map(|a| (a..p).map(move |b| (a, b))).collect()
}

/// Fits the binomial path and its cross-validation (module docs).
pub(super) fn fit(pt: &mut Party, s: &Setup, spec: &ElasticNetSpec) -> Result<Fitted> {
    let rows = prepare_rows(pt, s, spec.folds, spec.folds + 1)?;
    let path_b = newton_path(pt, s, spec, &rows)?;
    let (coef, active) = full_path(pt, s, spec, &path_b)?;
    let (cvm, cvvar) = cross_validate(pt, s, &rows, &path_b, s.k + 1)?;
    Ok(Fitted {
        coef,
        active,
        cvm,
        cvvar,
    })
}

/// The full-data path alone (no training sets, no cross-validation): the path on the
/// original scale and its non-zero indicators, as [`Fitted::coef`] and [`Fitted::active`].
pub(super) fn path_only(
    pt: &mut Party,
    s: &Setup,
    spec: &ElasticNetSpec,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let rows = prepare_rows(pt, s, spec.folds, 1)?;
    let path_b = newton_path(pt, s, spec, &rows)?;
    full_path(pt, s, spec, &path_b)
}

/// Steps 2–3: per λ, every problem's standardised coefficients (`[b_0, b]` per problem)
/// and the full data's non-zero indicators (k).
fn newton_path(
    pt: &mut Party,
    s: &Setup,
    spec: &ElasticNetSpec,
    rows: &Rows,
) -> Result<Vec<(AShare<u128>, AShare<u128>)>> {
    let f = pt.frac_bits();
    let k = s.k;
    let p = k + 1;
    let nq = rows.sets;

    // Starting point: b = 0, b_0 = logit(ȳ_T) per problem.
    let my = broadcast(&s.mean, k, nq);
    let offs: Vec<AShare<u128>> = s.problems[..nq]
        .iter()
        .map(|q| design::at(&q.offset, k))
        .collect();
    let ybar = my.add(&pt.trunc(&AShare::concat(&offs.iter().collect::<Vec<_>>()), HI)?);
    let logs = pt.ln(&AShare::concat(&[
        &ybar,
        &pt.add_const(&ybar.neg(), encode(1.0, f)),
    ]))?;
    let b0 = logs.slice(0..nq).sub(&logs.slice(nq..2 * nq));
    let mut b = AShare::zeros(nq * p);
    for q in 0..nq {
        b.a[q * p] = b0.a[q];
        b.b[q * p] = b0.b[q];
    }

    proximal_path(pt, s, spec, (b, nq), (p, 1), |pt, b| {
        newton_system(pt, rows, b, p)
    })
}

/// The λ path by proximal Newton on a fixed public schedule, shared by the binomial and the
/// Cox families: from `b` (`nq` problems side by side, `width` coefficients each, the first
/// `free` unpenalised), per λ `steps` Newton steps, each the family's quadratic
/// approximation `system(b) = (H, c)` at the current coefficients solved by `sweeps`
/// sweeps of coordinate descent. Per λ: every problem's coefficients and the full data's
/// non-zero indicators.
pub(super) fn proximal_path(
    pt: &mut Party,
    s: &Setup,
    spec: &ElasticNetSpec,
    (mut b, nq): (AShare<u128>, usize),
    (width, free): (usize, usize),
    mut system: impl FnMut(&mut Party, &AShare<u128>) -> Result<(AShare<u128>, AShare<u128>)>,
) -> Result<Vec<(AShare<u128>, AShare<u128>)>> {
    let nl = path::nlambda(spec);
    let lam = pt.trunc(&s.lambda, HI)?;
    let mut out = Vec::with_capacity(nl);
    for l in 0..nl {
        let lam_l = broadcast(&lam, l, nq);
        let gamma = pt.mul_public_real(&lam_l, spec.alpha)?;
        let ridge = pt.mul_public_real(&lam_l, 1.0 - spec.alpha)?;
        let mut on = AShare::zeros(s.k);
        for _ in 0..path::steps(spec) {
            let (h, c) = system(pt, &b)?;
            on = descend(
                pt,
                &h,
                &c,
                &mut b,
                (&gamma, &ridge),
                (width, free),
                path::sweeps(spec),
            )?;
        }
        out.push((b.clone(), on));
    }
    Ok(out)
}

/// Step 5: the full data's path on the original scale and its non-zero indicators.
fn full_path(
    pt: &mut Party,
    s: &Setup,
    spec: &ElasticNetSpec,
    path_b: &[(AShare<u128>, AShare<u128>)],
) -> Result<(AShare<u128>, AShare<u128>)> {
    let k = s.k;
    let p = k + 1;

    // The full-data path (problem 0) on the original scale: β_j = r_j b_j, β_0 = b_0 − m'β.
    let slopes: Vec<AShare<u128>> = path_b.iter().map(|(b, _)| b.slice(1..p)).collect();
    let base: Vec<AShare<u128>> = path_b.iter().map(|(b, _)| design::at(b, 0)).collect();
    let path_on: Vec<&AShare<u128>> = path_b.iter().map(|(_, on)| on).collect();
    let full_r = s.problems[0].st.r.slice(0..k).shl(HI);
    original_scale(
        pt,
        s,
        spec,
        &AShare::concat(&slopes.iter().collect::<Vec<_>>()),
        &AShare::concat(&path_on),
        &full_r,
        &AShare::concat(&base.iter().collect::<Vec<_>>()).shl(HI),
    )
}

/// Step 1: the standardised rows, their pairwise products and each of the first `sets`
/// problems' `ρ`, `δ`.
fn prepare_rows(pt: &mut Party, s: &Setup, folds: usize, sets: usize) -> Result<Rows> {
    let f = pt.frac_bits();
    let k = s.k;
    let t = &s.folds.table;
    let count = t.rows();
    let w = t.c128[0].clone();
    let full = &s.problems[0].st;
    let rb: Vec<AShare<u128>> = (0..k).map(|j| broadcast(&full.r, j, count)).collect();
    let pairs: Vec<_> = t.c128[1..=k].iter().zip(&rb).collect();
    let z = pt.mul_trunc_many(&pairs, f)?;
    drop(rb);
    let wm = pt.mul(&w, &broadcast(&s.mean, k, count))?;
    let yw = t.c128[k + 1].add(&wm);
    let cols: Vec<AShare<u128>> = once(w.shl(f)).chain(z.iter().cloned()).collect();
    // (0, b) is column b itself (w² = w and z is zero where w is).
    let tri_pairs: Vec<(&AShare<u128>, &AShare<u128>)> = triangle(k + 1)
        .into_iter()
        .filter(|&(a, _)| a > 0)
        .map(|(a, b)| (&cols[a], &cols[b]))
        .collect();
    let products = pt.mul_trunc_many(&tri_pairs, f)?;
    let tri: Vec<AShare<u128>> = cols.iter().cloned().chain(products).collect();
    let zrows = rows_of(&z.iter().collect::<Vec<_>>());
    drop(z);

    let (rho, delta) = problem_scales(pt, s, sets)?;
    let mut used = vec![s.n];
    used.extend(s.folds.rows.iter().map(|&r| s.n - r));
    used.truncate(sets);
    Ok(Rows {
        count,
        folds,
        w,
        yw,
        cols,
        tri,
        zrows,
        rho,
        delta,
        used,
        sets,
    })
}

/// Each of the first `sets` problems' `ρ = r_T ∘ sd` (the ratio of its scale to the full
/// data's) and `δ = d_T ∘ r` (its mean offset on the full data's standardised scale), k
/// each, problem-major (f bits); `ρ = 1`, `δ = 0` for the full data.
pub(super) fn problem_scales(
    pt: &mut Party,
    s: &Setup,
    sets: usize,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let f = pt.frac_bits();
    let k = s.k;
    let full = &s.problems[0].st;
    // ρ = r_T ∘ sd, δ = d_T ∘ r per training set; ρ = 1, δ = 0 for the full data.
    let (r_t, d_t): (Vec<AShare<u128>>, Vec<AShare<u128>>) = s.problems[1..sets]
        .iter()
        .map(|q| (q.st.r.slice(0..k), q.offset.slice(0..k)))
        .unzip();
    let sd = AShare::concat(&vec![&full.sd.slice(0..k); sets - 1]);
    let r = AShare::concat(&vec![&full.r.slice(0..k); sets - 1]);
    let (rho_t, delta_t) = if sets > 1 {
        let mut both = pt.mul_trunc_many(
            &[
                (&AShare::concat(&r_t.iter().collect::<Vec<_>>()), &sd),
                (&AShare::concat(&d_t.iter().collect::<Vec<_>>()), &r),
            ],
            f,
        )?;
        let delta_t = pt.trunc(&both.pop().expect("two products"), HI)?;
        (both.pop().expect("two products"), delta_t)
    } else {
        (AShare::zeros(0), AShare::zeros(0))
    };
    Ok((
        AShare::concat(&[&design::constant(pt, 1.0, k), &rho_t]),
        AShare::concat(&[&AShare::zeros(k), &delta_t]),
    ))
}

/// `γ = ρ ∘ b_s`, `γ_0 = b_0 − δ'γ` for `b` holding `sets` blocks of `nq` problems of `p`
/// coefficients (the coefficients on the full data's standardised scale): returns `γ_0`
/// (sets·nq) and `γ` (sets·nq·k).
fn full_coords(
    pt: &mut Party,
    rows: &Rows,
    b: &AShare<u128>,
    p: usize,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let k = p - 1;
    let blocks = b.len() / p;
    let reps = blocks / rows.sets;
    let slope_idx: Vec<usize> = (0..blocks)
        .flat_map(|q| (1..p).map(move |j| q * p + j))
        .collect();
    let bs = gather(b, &slope_idx);
    let rho = AShare::concat(&vec![&rows.rho; reps]);
    let delta = AShare::concat(&vec![&rows.delta; reps]);
    let gamma = pt.mul_fix(&rho, &bs)?;
    let shift = pt.dot_fix(&delta, &gamma, k)?;
    let b0 = gather(b, &(0..blocks).map(|q| q * p).collect::<Vec<_>>());
    Ok((b0.sub(&shift), gamma))
}

/// One Newton step's system for every problem: the weighted Gram matrix `H` (nq × p×p,
/// row-major, in each training set's standardised coordinates) and `c = g + H b` (nq × p).
fn newton_system(
    pt: &mut Party,
    rows: &Rows,
    b: &AShare<u128>,
    p: usize,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let f = pt.frac_bits();
    let k = p - 1;
    let nq = rows.sets;
    let n = rows.count;
    let (g0, gamma) = full_coords(pt, rows, b, p)?;
    // Γ as a k × nq matrix.
    let gcols = gather(
        &gamma,
        &(0..k)
            .flat_map(|j| (0..nq).map(move |q| q * k + j))
            .collect::<Vec<_>>(),
    );
    let zg = pt.matmul_fix(&rows.zrows, &gcols, n, k, nq)?;
    let eta = zg.add(&AShare::concat(&vec![&g0; n]));
    let mu = pt.sigmoid(&eta)?;
    let w_rep = gather(&rows.w, &(0..n * nq).map(|i| i / nq).collect::<Vec<_>>());
    let wmu = pt.mul(&w_rep, &mu)?;
    let omega = pt.mul_fix(&wmu, &pt.add_const(&mu.neg(), encode(1.0, f)))?;
    let yw_rep = gather(&rows.yw, &(0..n * nq).map(|i| i / nq).collect::<Vec<_>>());
    let res = yw_rep.sub(&wmu);

    let tri = triangle(p);
    let mut parts = Vec::with_capacity(nq * (tri.len() + p));
    for q in 0..nq {
        let mut om = gather(&omega, &(0..n).map(|i| i * nq + q).collect::<Vec<_>>());
        let mut re = gather(&res, &(0..n).map(|i| i * nq + q).collect::<Vec<_>>());
        if q > 0 {
            // The training set of fold q − 1: its test rows (public positions) drop out.
            for i in (q - 1..n).step_by(rows.folds) {
                om.a[i] = 0;
                om.b[i] = 0;
                re.a[i] = 0;
                re.b[i] = 0;
            }
        }
        parts.extend(rows.tri.iter().map(|col| dot_part(&om, col)));
        parts.extend(rows.cols.iter().map(|col| dot_part(&re, col)));
    }
    let (h, g) = training_system(pt, rows, &parts, p)?;
    let hb = pt.dot_fix(
        &h,
        &gather(
            b,
            &(0..nq * p * p)
                .map(|i| (i / (p * p)) * p + i % p)
                .collect::<Vec<_>>(),
        ),
        p,
    )?;
    Ok((h, g.add(&hb)))
}

/// The weighted Gram matrix `H` (full p×p per problem, mirrored from its triangle) and the
/// gradient `g` of every problem, in the training set's standardised coordinates, from
/// this party's parts of the sums `Σ ω z_a z_c` (the triangle) and `Σ r z_a` per problem
/// (`parts`, problem by problem): shared back once, divided by each problem's rows.
/// Shared by the binomial and the Cox families.
pub(super) fn training_system(
    pt: &mut Party,
    rows: &Rows,
    parts: &[u128],
    p: usize,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let f = pt.frac_bits();
    let nq = rows.sets;
    let tri = triangle(p);
    let shared = from_parts(pt, parts)?;
    let sums = pt.trunc(&shared, f)?;
    let per = tri.len() + p;
    let inv: Vec<f64> = (0..nq * per)
        .map(|i| 1.0 / rows.used[i / per] as f64)
        .collect();
    let means = mul_public_each(pt, &sums, &inv)?;
    let mut h_idx = Vec::with_capacity(nq * p * p);
    let mut g_idx = Vec::with_capacity(nq * p);
    for q in 0..nq {
        for a in 0..p {
            for c in 0..p {
                let (lo, hi) = (a.min(c), a.max(c));
                let t = tri
                    .iter()
                    .position(|&e| e == (lo, hi))
                    .expect("in the triangle");
                h_idx.push(q * per + t);
            }
            g_idx.push(q * per + tri.len() + a);
        }
    }
    to_training(
        pt,
        rows,
        &gather(&means, &h_idx),
        &gather(&means, &g_idx),
        p,
    )
}

/// `M H M'` and `M g` per problem, `M = [[1, 0], [−e, diag ρ]]` with `e = δ ∘ ρ`: the
/// weighted Gram matrix and gradient in the training set's standardised coordinates.
pub(super) fn to_training(
    pt: &mut Party,
    rows: &Rows,
    h: &AShare<u128>,
    g: &AShare<u128>,
    p: usize,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let k = p - 1;
    let nq = rows.sets;
    let e = pt.mul_fix(&rows.delta, &rows.rho)?;
    // Per problem, per row a ≥ 1 of H (and g): ρ_a·X[a, ·] − e_a·X[0, ·].
    let left = |x: &AShare<u128>,
                width: usize|
     -> (AShare<u128>, AShare<u128>, AShare<u128>, AShare<u128>) {
        let mut rho = Vec::new();
        let mut own = Vec::new();
        let mut top = Vec::new();
        for q in 0..nq {
            for a in 1..p {
                for c in 0..width {
                    rho.push(q * k + a - 1);
                    own.push(q * p * width + a * width + c);
                    top.push(q * p * width + c);
                }
            }
        }
        (
            gather(&rows.rho, &rho),
            gather(&e, &rho),
            gather(x, &own),
            gather(x, &top),
        )
    };
    let (rh, eh, ownh, toph) = left(h, p);
    let (rg, eg, owng, topg) = left(g, 1);
    let prods = pt.mul_trunc_many(
        &[(&rh, &ownh), (&eh, &toph), (&rg, &owng), (&eg, &topg)],
        pt.frac_bits(),
    )?;
    let mh_rows = prods[0].sub(&prods[1]);
    let g_rows = prods[2].sub(&prods[3]);
    let assemble = |x: &AShare<u128>, rest: &AShare<u128>, width: usize| -> AShare<u128> {
        let per = (p - 1) * width;
        let mut parts = Vec::with_capacity(2 * nq);
        for q in 0..nq {
            parts.push(x.slice(q * p * width..q * p * width + width));
            parts.push(rest.slice(q * per..(q + 1) * per));
        }
        AShare::concat(&parts.iter().collect::<Vec<_>>())
    };
    let mh = assemble(h, &mh_rows, p);
    let g_t = assemble(g, &g_rows, 1);
    // Columns: (MH)[a, l]·ρ_l − (MH)[a, 0]·e_l for l ≥ 1.
    let mut rho = Vec::new();
    let mut own = Vec::new();
    let mut first = Vec::new();
    for q in 0..nq {
        for a in 0..p {
            for l in 1..p {
                rho.push(q * k + l - 1);
                own.push(q * p * p + a * p + l);
                first.push(q * p * p + a * p);
            }
        }
    }
    let prods = pt.mul_trunc_many(
        &[
            (&gather(&rows.rho, &rho), &gather(&mh, &own)),
            (&gather(&e, &rho), &gather(&mh, &first)),
        ],
        pt.frac_bits(),
    )?;
    let cols = prods[0].sub(&prods[1]);
    let mut out = Vec::with_capacity(nq * p * 2);
    for q in 0..nq {
        for a in 0..p {
            out.push(design::at(&mh, q * p * p + a * p));
            let at = (q * p + a) * k;
            out.push(cols.slice(at..at + k));
        }
    }
    Ok((AShare::concat(&out.iter().collect::<Vec<_>>()), g_t))
}

/// Coordinate descent on every problem's Newton system (`sweeps` sweeps from `b`, updated
/// in place): the first `free` coordinates (binomial: the intercept; cox: none)
/// unpenalised, `S(c_j − Σ_{i≠j} H_ji b_i, λα)/(H_jj + λ(1 − α))` for the others. Returns
/// the full data's non-zero indicators of the last sweep (p − free).
#[allow(clippy::too_many_arguments)]
pub(super) fn descend(
    pt: &mut Party,
    h: &AShare<u128>,
    c: &AShare<u128>,
    b: &mut AShare<u128>,
    (gamma, ridge): (&AShare<u128>, &AShare<u128>),
    (p, free): (usize, usize),
    sweeps: usize,
) -> Result<AShare<u128>> {
    let f = pt.frac_bits();
    let nq = c.len() / p;
    let diag = gather(
        h,
        &(0..nq * p)
            .map(|i| (i / p) * p * p + (i % p) * (p + 1))
            .collect::<Vec<_>>(),
    );
    let mut shifted = diag.clone();
    for q in 0..nq {
        for j in free..p {
            let i = q * p + j;
            shifted.a[i] = shifted.a[i].wrapping_add(ridge.a[q]);
            shifted.b[i] = shifted.b[i].wrapping_add(ridge.b[q]);
        }
    }
    let den = pt.recip(&shifted)?;
    let rows: Vec<AShare<u128>> = (0..p)
        .map(|j| {
            let mut r = gather(
                h,
                &(0..nq)
                    .flat_map(|q| (0..p).map(move |i| q * p * p + j * p + i))
                    .collect::<Vec<_>>(),
            );
            for q in 0..nq {
                r.a[q * p + j] = 0;
                r.b[q * p + j] = 0;
            }
            r
        })
        .collect();
    let k = p - free;
    let mut on = AShare::zeros(k);
    for _ in 0..sweeps {
        for (j, row) in rows.iter().enumerate() {
            let hb = pt.dot(row, b, p)?;
            let cj = gather(c, &(0..nq).map(|q| q * p + j).collect::<Vec<_>>());
            let z = cj.sub(&pt.trunc(&hb, f)?);
            let dj = gather(&den, &(0..nq).map(|q| q * p + j).collect::<Vec<_>>());
            let bj = if j < free {
                pt.mul_fix(&z, &dj)?
            } else {
                let (v, bits) = soft_threshold(pt, &z, gamma, Some(&dj))?;
                on.a[j - free] = bits.a[0];
                on.b[j - free] = bits.b[0];
                v
            };
            for q in 0..nq {
                b.a[q * p + j] = bj.a[q];
                b.b[q * p + j] = bj.b[q];
            }
        }
    }
    Ok(on)
}

/// Step 4: each fold's mean deviance at every λ from its training set's path, then `cvm`
/// and `cvsd²`.
fn cross_validate(
    pt: &mut Party,
    s: &Setup,
    rows: &Rows,
    path_b: &[(AShare<u128>, AShare<u128>)],
    p: usize,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let f = pt.frac_bits();
    let k = p - 1;
    let nq = rows.sets;
    let nl = path_b.len();
    let all = AShare::concat(&path_b.iter().map(|(b, _)| b).collect::<Vec<_>>());
    let (g0, gamma) = full_coords(pt, rows, &all, p)?;
    let mut etas = Vec::with_capacity(rows.folds);
    let mut order = Vec::with_capacity(rows.count);
    for fo in 0..rows.folds {
        let q = fo + 1;
        let idx: Vec<usize> = (fo..rows.count).step_by(rows.folds).collect();
        let zf = gather(
            &rows.zrows,
            &idx.iter()
                .flat_map(|&i| (0..k).map(move |j| i * k + j))
                .collect::<Vec<_>>(),
        );
        // Γ_f as k × L, γ_0 per λ.
        let gf = gather(
            &gamma,
            &(0..k)
                .flat_map(|j| (0..nl).map(move |l| (l * nq + q) * k + j))
                .collect::<Vec<_>>(),
        );
        let b0 = gather(&g0, &(0..nl).map(|l| l * nq + q).collect::<Vec<_>>());
        let zg = pt.matmul_fix(&zf, &gf, idx.len(), k, nl)?;
        etas.push(zg.add(&AShare::concat(&vec![&b0; idx.len()])));
        order.extend(idx);
    }
    let eta = AShare::concat(&etas.iter().collect::<Vec<_>>());
    let m = order.len();
    let rep = |x: &AShare<u128>| gather(x, &(0..m * nl).map(|i| order[i / nl]).collect::<Vec<_>>());
    let (w, yw) = (rep(&rows.w), rep(&rows.yw));
    // Clamp: |η_c| = min(|η|, C), η_c = sign·|η_c|; softplus(η_c) = relu + ln(1 + e^−|η_c|).
    let (abs, neg) = pt.abs_sign_within(&eta, ETA_WIDTH)?;
    let cap = pt.public(&vec![encode::<u128>(path::ETA_CLAMP, f); abs.len()]);
    let below = pt.lt_arith(&abs, &cap)?;
    let absc = pt.select(&below, &abs, &cap)?;
    let neg_abs = pt.mul(&neg, &absc)?;
    let eta_c = absc.sub(&neg_abs.shl(1));
    let relu = absc.sub(&neg_abs);
    let ex = pt.exp(&absc.neg())?;
    let l1 = pt.ln(&pt.add_const(&ex, encode(1.0, f)))?;
    let sp = relu.add(&l1);
    let wsp = pt.mul(&w, &sp)?;
    let yeta = pt.mul_fix(&yw, &eta_c)?;
    let dev = wsp.sub(&yeta).shl(1);
    // Per fold and λ: the sum of its rows' deviances (local), then / n_f.
    let mut sums = AShare::<u128>::zeros(rows.folds * nl);
    let mut at = 0;
    for (fo, e) in etas.iter().enumerate() {
        let rows_f = e.len() / nl;
        for i in at..at + rows_f {
            for l in 0..nl {
                let t = fo * nl + l;
                sums.a[t] = sums.a[t].wrapping_add(dev.a[i * nl + l]);
                sums.b[t] = sums.b[t].wrapping_add(dev.b[i * nl + l]);
            }
        }
        at += rows_f;
    }
    let inv: Vec<f64> = (0..rows.folds * nl)
        .map(|t| 1.0 / s.folds.rows[t / nl] as f64)
        .collect();
    let means = mul_public_each(pt, &sums, &inv)?;
    let mse: Vec<AShare<u128>> = (0..rows.folds)
        .map(|fo| means.slice(fo * nl..(fo + 1) * nl))
        .collect();
    cv_summary(pt, &mse, &s.folds.rows, s.n)
}
