//! The penalised Cox model (`family = "cox"`) inside MPC: proximal Newton on the fixed
//! schedule of [`super::cox`], every problem (the full data and each training set) side by
//! side, λ after λ with warm starts, the risk-set sums read from one sort by time.
//!
//! # Protocol (after steps 1–3 of [`super::mpc`]: design, folds, standardisations)
//!
//! 0. Before the folds: every complete row's `event` is 0 or 1 and its `time` > 0 (one bit
//!    each, opened: an error otherwise); the event indicators `w·δ` (integers) travel with
//!    the shuffled rows. The outcome of steps 1–3 is the time, so its moments are computed
//!    too and not used.
//! 1. Once: the shuffled rows `[w, z = w ∘ (x − m) ∘ r, w·δ]` with the public one-hot
//!    indicators of their folds (the row at shuffled position i is in fold i mod K) are
//!    sorted by time, latest first ([`RiskOrder`]: one oblivious sort, the tie groups).
//!    Then, per problem q (the full data, each training set): its rows `mask_q` and events
//!    `δ_q` (integer products with the sorted fold indicators), its Breslow multiplicities
//!    `d_q` (each tie group's events, on the group's last row: one segmented scan for all
//!    problems), the upper triangle of `[w, z][w, z]'` per row as in [`super::binomial`],
//!    and the problems' `ρ`, `δ` (their scales relative to the full data's). The K fold
//!    event counts are checked to be positive (one bit opened).
//! 2. λ (default grid): at `b = 0` the gradient `z'(δ − A)/n` with `A` the Nelson–Aalen
//!    sums (one reciprocal per row), `λ_max = max_j |·|/max(α, 0.001)` (a tournament, nothing
//!    opened), times the public grid factors.
//! 3. Per λ, [`path::steps`] Newton steps, each: `γ = ρ ∘ b`, `η = Zγ` for every row and
//!    problem (one matrix product); `r = mask·2^E·e^η` (one `exp` per row and problem, E
//!    extra bits as `cox`); risk-set sums `S0` as local prefix sums; `2^20/S0` (one
//!    reciprocal per row and problem, the cost driver with `exp`); `A = Σ d/S0` and
//!    `B = Σ d/S0²` as local suffix sums; the gradient `δ − r·A` and the working weights
//!    `r·A − r²·B`; the weighted Gram matrix and gradient as dot products with the row
//!    products, moved to the training set's coordinates as the binomial family does (the
//!    intercept row carries the centring and is dropped); `c = g + H b`; [`path::sweeps`]
//!    sweeps of coordinate descent on all k coordinates (penalised, no intercept). Nothing
//!    is opened.
//! 4. Cross-validation: for each fold f and λ, `η` of every row from the training set's
//!    coefficients, both partial likelihoods (all rows and the training rows: `exp`, local
//!    prefix sums, `ln S0` on every row, weighted by the multiplicities), the saturated
//!    terms `Σ d ln d` (once), the fold's deviance divided by its (secret) number of events;
//!    `cvm` and `cvsd²` weighted by the folds' events, the total by a secret reciprocal.
//! 5. The full-data path on the original scale `β_j = r_j b_j`, sealed with λ, the non-zero
//!    indicators and the CV curve.
//!
//! # What the compute parties learn
//!
//! What the gaussian family opens (module docs of [`super::mpc`]: the rule bits, `n`, the
//! fold row counts, variance bits) and: one bit "every complete row's event is 0 or 1", one
//! bit "every complete row's time is > 0", one bit "every fold has an event" (the path
//! alone: "there is an event"), the sort's comparison bits (simulatable from the row count,
//! [`RiskOrder`]) and the scan depth `ceil(log2 g)` for the largest number `g` of rows
//! sharing a time (as `cox`). All commented `LEAKAGE:` where opened. Nothing of the fit.

//!
//! # Cost (per party, n rows, k covariates, K folds, L λ, T Newton steps, S sweeps)
//!
//! Bytes about `n·(1100·T·L·(K+1) + 1500·L·K + 16·k(k+3))`: per row, problem and Newton
//! step an `exp` and a reciprocal; per row, fold and λ of the cross-validation an `exp` and
//! two `ln` ([`crate::cost`]). Rounds about `600 + 162·(K+1) + T·L·(160 + 9·S·k)`,
//! independent of n. Measured (`tessera bench regression --workloads enet-cox-10k --reps
//! 1`, three processes on loopback on a 2-core machine shared with other builds, load
//! about 11; k = 20, L = 20, K = 10, T = 4, S = 3): 458.3 s, 13,069 MB sent by the busiest
//! party, 63,321 rounds; the plaintext twin 12.0 s; the reconstructed path within 5.1e-7 of
//! the twin's. `enet-cox-100k` (the full-data path alone, [`super::mpc::elasticnet_path`]):
//! 230.4 s, 8,852 MB, 63,292 rounds, within 6.5e-7 of the twin. R's glmnet on the same
//! shape (`scripts/bench_enet.R --cox 10000 100000`): the path 0.81 s, `cv.glmnet` 10.1 s
//! (100,000 rows: 9.6 s and 129.3 s).

use tessera_mpc::fixed::encode;
use tessera_mpc::{AShare, Party};

use crate::error::{Result, StatsError};
use crate::regression::design::{self, broadcast, dot_part, from_parts, gather, rows_of, HI};
use crate::regression::logistic::check_binary;
use crate::survival::cox::weight_bits;
use crate::survival::risk::{indicator, suffix_sum, RiskOrder};
use crate::table::Frame;

use super::binomial::{problem_scales, proximal_path, training_system, triangle, Rows};
use super::mpc::{max_of, mul_public_each, Fitted, Setup};
use super::path::{self, alpha_for_max};
use super::{ElasticNetSpec, Measure};

/// Extra bits of the reciprocals `2^K/S0` of the risk-set sums (as `cox`).
const K: u32 = 20;
/// `2^H/S0`, whose square gives `B` without overflow.
const H: u32 = 10;
/// Width of the sign tests of the gradient (values below 2^39 in fixed point).
const SIGN_WIDTH: usize = 64;

fn invalid(msg: String) -> StatsError {
    StatsError::Invalid(format!("elasticnet (family = \"cox\"): {msg}"))
}

/// Step 0: refuses a complete row with `event` other than 0/1 or `time` ≤ 0 (one bit
/// each); returns the event indicators `w·δ` (integers).
pub(super) fn check_outcome(
    pt: &mut Party,
    frame: &Frame,
    prep: &design::Prepared,
    (time, event): (&str, &str),
) -> Result<AShare<u128>> {
    let (t, _) = frame.numeric(time)?;
    let (e, _) = frame.numeric(event)?;
    check_binary(pt, e, &prep.weight, event).map_err(|err| match err {
        StatsError::Invalid(_) => invalid(format!(
            "`event` (`{event}`) must be 0 or 1 in every complete row"
        )),
        other => other,
    })?;
    let n = t.len();
    // [time < 1 ulp], i.e. time ≤ 0 in fixed point.
    let low = pt.lt_arith(t, &pt.public(&vec![1u128; n]))?;
    let count = pt.dot(&low, &prep.weight, n)?;
    let none = pt.is_zero(&count)?;
    // LEAKAGE: one bit, whether every complete row's time is > 0 (an error otherwise, as
    // glmnet refuses non-positive times).
    if pt.reveal_bits(&none)?[0] & 1 == 0 {
        return Err(invalid(format!(
            "`time` (`{time}`) must be > 0 in every complete row"
        )));
    }
    let d = indicator(pt, e)?;
    Ok(pt.mul(&d, &prep.weight)?)
}

/// The sorted rows and what every Newton step reads.
struct CoxRows {
    /// The rows' products and the problems' coordinates ([`super::binomial`]'s), in
    /// risk-set order (`yw` unused).
    rows: Rows,
    /// Per problem (problem-major, n each): 1 on its rows (integers).
    mask: AShare<u128>,
    /// Per problem: its events (integers).
    events: AShare<u128>,
    /// Per problem: each tie group's number of its events on the group's last row.
    mult: AShare<u128>,
    /// Per fold: its events (integers, one each).
    fold_events: AShare<u128>,
    /// Extra bits of the weights `2^E·e^η`.
    e_bits: u32,
}

/// Per-problem prefix sums of `x` (problem-major, `n` each), local.
fn prefix_each(x: &AShare<u128>, n: usize) -> AShare<u128> {
    let parts: Vec<AShare<u128>> = (0..x.len() / n)
        .map(|q| x.slice(q * n..(q + 1) * n).prefix_sum())
        .collect();
    AShare::concat(&parts.iter().collect::<Vec<_>>())
}

/// Per-problem suffix sums, local.
fn suffix_each(x: &AShare<u128>, n: usize) -> AShare<u128> {
    let parts: Vec<AShare<u128>> = (0..x.len() / n)
        .map(|q| suffix_sum(&x.slice(q * n..(q + 1) * n)))
        .collect();
    AShare::concat(&parts.iter().collect::<Vec<_>>())
}

/// `x` repeated `times` times.
fn tile(x: &AShare<u128>, times: usize) -> AShare<u128> {
    AShare::concat(&vec![x; times])
}

/// Step 1 for the first `sets` problems (1: the path alone; folds + 1).
fn prepare(pt: &mut Party, s: &Setup, sets: usize) -> Result<CoxRows> {
    let f = pt.frac_bits();
    let k = s.k;
    let kf = s.folds.rows.len();
    let t = &s.folds.table;
    let count = t.rows();
    let full = &s.problems[0].st;
    let rb: Vec<AShare<u128>> = (0..k).map(|j| broadcast(&full.r, j, count)).collect();
    let pairs: Vec<_> = t.c128[1..=k].iter().zip(&rb).collect();
    let z = pt.mul_trunc_many(&pairs, f)?;
    drop(rb);
    let time = t.c128[k + 1].clone();
    let mut cols = vec![t.c128[0].clone()];
    cols.extend(z);
    cols.push(t.c128[k + 2].clone());
    if sets > 1 {
        for fo in 0..kf {
            let h: Vec<u128> = (0..count).map(|i| u128::from(i % kf == fo)).collect();
            cols.push(pt.public(&h));
        }
    }
    let order = RiskOrder::stratified(pt, &time, &[], &cols)?;
    let mut sorted = order.cols.clone();
    let onehot = sorted.split_off(k + 2);
    let dw = sorted.pop().expect("events");
    let w = sorted.remove(0);
    let z = sorted;

    // Per training set: its rows and events (the full data's less the fold's).
    let (mask, events) = if sets > 1 {
        let pairs: Vec<(&AShare<u128>, &AShare<u128>)> = onehot
            .iter()
            .map(|h| (h, &w))
            .chain(onehot.iter().map(|h| (h, &dw)))
            .collect();
        let prods = pt.mul_many(&pairs)?;
        let (in_w, in_d) = prods.split_at(kf);
        let mask: Vec<AShare<u128>> = std::iter::once(w.clone())
            .chain(in_w.iter().map(|x| w.sub(x)))
            .collect();
        let events: Vec<AShare<u128>> = std::iter::once(dw.clone())
            .chain(in_d.iter().map(|x| dw.sub(x)))
            .collect();
        (mask, events)
    } else {
        (vec![w.clone()], vec![dw.clone()])
    };
    // Events per fold (the path alone: in total), each checked to be positive.
    let fold_events: Vec<AShare<u128>> = if sets > 1 {
        (0..kf).map(|fo| dw.sub(&events[fo + 1]).sum()).collect()
    } else {
        vec![dw.sum()]
    };
    let fold_events = AShare::concat(&fold_events.iter().collect::<Vec<_>>());
    let none = pt.is_zero(&fold_events)?;
    // LEAKAGE: whether some fold has no event (with the path alone: whether there is no
    // event at all); one bit, an error otherwise.
    let bits = pt.reveal_bits(&none)?;
    if let Some(fo) = (0..fold_events.len()).find(|&i| (bits[i / 64] >> (i % 64)) & 1 == 1) {
        return Err(invalid(if sets > 1 {
            format!(
                "a cross-validation fold has no event (fold {} of the secret random \
                 assignment): use fewer folds",
                fo + 1
            )
        } else {
            "there is no event among the complete rows".into()
        }));
    }
    let mult = order.group_totals(pt, &events)?;

    let wcols: Vec<AShare<u128>> = std::iter::once(w.shl(f)).chain(z.iter().cloned()).collect();
    let tri_pairs: Vec<(&AShare<u128>, &AShare<u128>)> = triangle(k + 1)
        .into_iter()
        .filter(|&(a, _)| a > 0)
        .map(|(a, b)| (&wcols[a], &wcols[b]))
        .collect();
    let products = pt.mul_trunc_many(&tri_pairs, f)?;
    let tri: Vec<AShare<u128>> = wcols.iter().cloned().chain(products).collect();
    let zrows = rows_of(&z.iter().collect::<Vec<_>>());
    let (rho, delta) = problem_scales(pt, s, sets)?;
    let mut used = vec![s.n];
    used.extend(s.folds.rows.iter().map(|&r| s.n - r));
    used.truncate(sets);
    Ok(CoxRows {
        rows: Rows {
            count,
            folds: kf,
            w,
            yw: AShare::zeros(0),
            cols: wcols,
            tri,
            zrows,
            rho,
            delta,
            used,
            sets,
        },
        mask: AShare::concat(&mask.iter().collect::<Vec<_>>()),
        events: AShare::concat(&events.iter().collect::<Vec<_>>()),
        mult: AShare::concat(&mult.iter().collect::<Vec<_>>()),
        fold_events,
        e_bits: weight_bits(s.n as u64),
    })
}

impl CoxRows {
    fn n(&self) -> usize {
        self.rows.count
    }

    /// `2^E·e^η` masked to each problem's rows, for `eta` problem-major (the first
    /// `eta.len()/n` problems).
    fn weights(&self, pt: &mut Party, eta: &AShare<u128>) -> Result<AShare<u128>> {
        let f = pt.frac_bits();
        let shift: u128 = encode(f64::from(self.e_bits) * std::f64::consts::LN_2, f);
        let e = pt.exp(&pt.add_const(eta, shift))?;
        Ok(pt.mul(&e, &self.mask.slice(0..eta.len()))?)
    }

    /// For weights `r` of the first `r.len()/n` problems: `u = r·A` and `u2 = r²·B` (f bits)
    /// with `A = Σ d/S0`, `B = Σ d/S0²` over the event times at or before each row's.
    fn hazard(
        &self,
        pt: &mut Party,
        r: &AShare<u128>,
        second: bool,
    ) -> Result<(AShare<u128>, AShare<u128>)> {
        let f = pt.frac_bits();
        let n = self.n();
        let len = r.len();
        let s0 = prefix_each(r, n);
        // 2^K/S0 (garbage where S0 = 0, before a problem's first row: d = 0 there).
        let rk = pt.recip_pow2(&s0, K)?;
        let mult = self.mult.slice(0..len);
        if !second {
            let mr = pt.mul(&mult, &rk)?;
            let a = suffix_each(&mr, n);
            return Ok((pt.mul_trunc(r, &a, f + K)?, AShare::zeros(0)));
        }
        let rh = pt.trunc(&rk, K - H)?;
        let rh2 = pt.mul_fix(&rh, &rh)?;
        let both = pt.mul(&tile(&mult, 2), &AShare::concat(&[&rk, &rh2]))?;
        let ab = suffix_each(&both, n);
        let (a, b) = (ab.slice(0..len), ab.slice(len..2 * len));
        // r·A; r·B/2^H first (its precision), then r²·B/2^(2H).
        let u = pt.mul_trunc(r, &a, f + K)?;
        let rb = pt.mul_trunc(r, &b, f + H)?;
        let u2 = pt.mul_trunc(r, &rb, f + H)?;
        Ok((u, u2))
    }

    /// `η = Z(ρ ∘ b)` for `b` holding `blocks` problems' coefficients (k each), the problem
    /// of block c being `which(c)`: problem-major, n per block.
    fn eta(
        &self,
        pt: &mut Party,
        b: &AShare<u128>,
        which: impl Fn(usize) -> usize,
        k: usize,
    ) -> Result<AShare<u128>> {
        let n = self.n();
        let blocks = b.len() / k;
        let rho = gather(
            &self.rows.rho,
            &(0..blocks * k)
                .map(|i| which(i / k) * k + i % k)
                .collect::<Vec<_>>(),
        );
        let gamma = pt.mul_fix(&rho, b)?;
        let gcols = gather(
            &gamma,
            &(0..k)
                .flat_map(|j| (0..blocks).map(move |c| c * k + j))
                .collect::<Vec<_>>(),
        );
        let zg = pt.matmul_fix(&self.rows.zrows, &gcols, n, k, blocks)?;
        Ok(gather(
            &zg,
            &(0..blocks * n)
                .map(|i| (i % n) * blocks + i / n)
                .collect::<Vec<_>>(),
        ))
    }
}

/// One Newton step's system for every problem: `H` (nq × k×k, the training set's
/// standardised coordinates) and `c = g + H b` (nq × k).
fn newton_system(
    pt: &mut Party,
    cr: &CoxRows,
    b: &AShare<u128>,
    k: usize,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let f = pt.frac_bits();
    let p = k + 1;
    let n = cr.n();
    let rows = &cr.rows;
    let nq = rows.sets;
    let eta = cr.eta(pt, b, |c| c, k)?;
    let r = cr.weights(pt, &eta)?;
    let (u, u2) = cr.hazard(pt, &r, true)?;
    let res = cr.events.shl(f).sub(&u);
    let omega = u.sub(&u2);
    let tri = triangle(p);
    let mut parts = Vec::with_capacity(nq * (tri.len() + p));
    for q in 0..nq {
        let om = omega.slice(q * n..(q + 1) * n);
        let re = res.slice(q * n..(q + 1) * n);
        parts.extend(rows.tri.iter().map(|col| dot_part(&om, col)));
        parts.extend(rows.cols.iter().map(|col| dot_part(&re, col)));
    }
    let (h, g) = training_system(pt, rows, &parts, p)?;
    // Drop the intercept's row and column (it only carried the centring).
    let h = gather(
        &h,
        &(0..nq * k * k)
            .map(|i| {
                let (q, a, c) = (i / (k * k), (i / k) % k, i % k);
                q * p * p + (a + 1) * p + c + 1
            })
            .collect::<Vec<_>>(),
    );
    let g = gather(
        &g,
        &(0..nq * k)
            .map(|i| (i / k) * p + i % k + 1)
            .collect::<Vec<_>>(),
    );
    let hb = pt.dot_fix(
        &h,
        &gather(
            b,
            &(0..nq * k * k)
                .map(|i| (i / (k * k)) * k + i % k)
                .collect::<Vec<_>>(),
        ),
        k,
    )?;
    Ok((h, g.add(&hb)))
}

/// Step 2: λ on the original scale (f + HI bits): the explicit list, or glmnet's grid from
/// the full data's `λ_max`.
fn lambdas(pt: &mut Party, s: &Setup, spec: &ElasticNetSpec, cr: &CoxRows) -> Result<AShare<u128>> {
    if spec.lambda.is_some() {
        return Ok(s.lambda.clone());
    }
    let f = pt.frac_bits();
    let n = cr.n();
    let k = s.k;
    let r = cr.weights(pt, &AShare::zeros(n))?;
    let (u, _) = cr.hazard(pt, &r, false)?;
    let g0 = cr.events.slice(0..n).shl(f).sub(&u);
    let parts: Vec<u128> = cr.rows.cols[1..].iter().map(|z| dot_part(&g0, z)).collect();
    let sums = from_parts(pt, &parts)?;
    let grad = pt.trunc(&sums, f - HI)?;
    let (abs, _) = pt.abs_sign_within(&grad, SIGN_WIDTH)?;
    let top = max_of(pt, &abs)?;
    let top = mul_public_each(pt, &top, &[1.0 / (s.n as f64 * alpha_for_max(spec.alpha))])?;
    let g = path::grid_factors(spec, s.n, k);
    mul_public_each(pt, &broadcast(&top, 0, g.len()), &g)
}

/// Step 3: per λ, every problem's coefficients (nq × k) and the full data's non-zero
/// indicators (k).
fn newton_path(
    pt: &mut Party,
    s: &Setup,
    spec: &ElasticNetSpec,
    cr: &CoxRows,
) -> Result<Vec<(AShare<u128>, AShare<u128>)>> {
    let (k, nq) = (s.k, cr.rows.sets);
    proximal_path(pt, s, spec, (AShare::zeros(nq * k), nq), (k, 0), |pt, b| {
        newton_system(pt, cr, b, k)
    })
}

/// Step 5: the full data's path on the original scale (L × k, f + HI bits) and its non-zero
/// indicators; with the default grid the first λ's coefficients are zero.
fn full_path(
    pt: &mut Party,
    s: &Setup,
    spec: &ElasticNetSpec,
    path_b: &[(AShare<u128>, AShare<u128>)],
) -> Result<(AShare<u128>, AShare<u128>)> {
    let f = pt.frac_bits();
    let k = s.k;
    let nl = path_b.len();
    let firsts: Vec<AShare<u128>> = path_b.iter().map(|(b, _)| b.slice(0..k)).collect();
    let mut b = AShare::concat(&firsts.iter().collect::<Vec<_>>());
    let mut on = AShare::concat(&path_b.iter().map(|(_, o)| o).collect::<Vec<_>>());
    if path::zero_first(spec) {
        for j in 0..k {
            b.a[j] = 0;
            b.b[j] = 0;
            on.a[j] = 0;
            on.b[j] = 0;
        }
    }
    let scale = s.problems[0].st.r.slice(0..k).shl(HI);
    let coef = pt.mul_trunc(&b, &tile(&scale, nl), f)?;
    Ok((coef, on))
}

/// Step 4: `cvm` and `cvsd²` (f + HI bits, L each).
fn cross_validate(
    pt: &mut Party,
    cr: &CoxRows,
    path_b: &[(AShare<u128>, AShare<u128>)],
    k: usize,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let f = pt.frac_bits();
    let n = cr.n();
    let nq = cr.rows.sets;
    let kf = nq - 1;
    let nl = path_b.len();
    // Blocks c = fo·L + l: fold fo's training coefficients at λ l.
    let blocks: Vec<AShare<u128>> = (0..kf)
        .flat_map(|fo| {
            path_b
                .iter()
                .map(move |(b, _)| b.slice((fo + 1) * k..(fo + 2) * k))
        })
        .collect();
    let b = AShare::concat(&blocks.iter().collect::<Vec<_>>());
    let eta = cr.eta(pt, &b, |c| c / nl + 1, k)?;
    let nb = kf * nl;
    // Weights on all rows (mask of problem 0) and on the training rows, per block.
    let shift: u128 = encode(f64::from(cr.e_bits) * std::f64::consts::LN_2, f);
    let e = pt.exp(&pt.add_const(&eta, shift))?;
    let mask0 = cr.mask.slice(0..n);
    let mult0 = cr.mult.slice(0..n);
    let train = |x: &AShare<u128>| -> AShare<u128> {
        let parts: Vec<AShare<u128>> = (0..nb)
            .map(|c| x.slice((c / nl + 1) * n..(c / nl + 2) * n))
            .collect();
        AShare::concat(&parts.iter().collect::<Vec<_>>())
    };
    let masks = AShare::concat(&[&tile(&mask0, nb), &train(&cr.mask)]);
    let r = pt.mul(&tile(&e, 2), &masks)?;
    let s0 = prefix_each(&r, n);
    // ln S0 (garbage where S0 = 0: multiplicity 0 there) and ln d of every problem's
    // multiplicities (garbage where d = 0), in one batch.
    let logs = pt.ln(&AShare::concat(&[&s0, &cr.mult.shl(f)]))?;
    let (ln_s0, ln_d) = (
        logs.slice(0..2 * nb * n),
        logs.slice(2 * nb * n..logs.len()),
    );
    let mults = AShare::concat(&[&tile(&mult0, nb), &train(&cr.mult)]);
    // Σ d ln S0 per block (all rows, then training rows); Σ d ln d per problem.
    let dl = pt.dot(
        &AShare::concat(&[&mults, &cr.mult]),
        &AShare::concat(&[&ln_s0, &ln_d]),
        n,
    )?;
    let (all, tr, sat) = (
        dl.slice(0..nb),
        dl.slice(nb..2 * nb),
        dl.slice(2 * nb..2 * nb + nq),
    );
    // Σ_{events of fold fo} η per block.
    let fold_ev: Vec<AShare<u128>> = (0..kf)
        .map(|fo| {
            cr.events
                .slice(0..n)
                .sub(&cr.events.slice((fo + 1) * n..(fo + 2) * n))
        })
        .collect();
    let fold_ev_blocks: Vec<&AShare<u128>> = (0..nb).map(|c| &fold_ev[c / nl]).collect();
    let de = pt.dot(&AShare::concat(&fold_ev_blocks), &eta, n)?;
    // dev = 2·[(ℓsat_all − ℓsat_tr) − (ℓ_all − ℓ_tr)], ℓsat = −Σ d ln d,
    // ℓ_all − ℓ_tr = Σ_fold δη − (all − tr) + E ln 2·e_f.
    let mut dev = AShare::zeros(nb);
    for c in 0..nb {
        let fo = c / nl;
        let sat_diff = design::at(&sat, fo + 1).sub(&design::at(&sat, 0));
        let ef = design::at(&cr.fold_events, fo).mul_const(shift);
        let ll = design::at(&de, c)
            .sub(&design::at(&all, c))
            .add(&design::at(&tr, c))
            .add(&ef);
        let d = sat_diff.sub(&ll).shl(1);
        dev.a[c] = d.a[0];
        dev.b[c] = d.b[0];
    }
    // cvraw = dev / e_f; cvm = Σ dev / E; cvsd² = Σ e_f (cvraw − cvm)² / E / (K − 1).
    let total = cr.fold_events.sum();
    let inv = pt.recip(&AShare::concat(&[&cr.fold_events, &total]).shl(f))?;
    let inv_rep = gather(&inv, &(0..nb).map(|c| c / nl).collect::<Vec<_>>());
    let cvraw = pt.mul_fix(&dev, &inv_rep)?;
    let sum_dev = (0..kf).fold(AShare::zeros(nl), |acc, fo| {
        acc.add(&dev.slice(fo * nl..(fo + 1) * nl))
    });
    let inv_total = broadcast(&inv, kf, nl);
    let cvm = pt.mul_fix(&sum_dev, &inv_total)?;
    let diffs = cvraw.sub(&tile(&cvm, kf));
    let sq = pt.mul_fix(&diffs, &diffs)?;
    let ef_rep = gather(
        &cr.fold_events,
        &(0..nb).map(|c| c / nl).collect::<Vec<_>>(),
    );
    let weighted = pt.mul(&ef_rep, &sq)?;
    let spread = (0..kf).fold(AShare::zeros(nl), |acc, fo| {
        acc.add(&weighted.slice(fo * nl..(fo + 1) * nl))
    });
    let var = pt.mul_fix(&spread, &inv_total)?;
    let var = pt.mul_public_real(&var, 1.0 / (kf as f64 - 1.0))?;
    Ok((cvm.shl(HI), var.shl(HI)))
}

/// Fits the cox path and its cross-validation (module docs); sets `s.lambda` for the
/// default grid.
pub(super) fn fit(pt: &mut Party, s: &mut Setup, spec: &ElasticNetSpec) -> Result<Fitted> {
    let cr = prepare(pt, s, spec.folds + 1)?;
    s.lambda = lambdas(pt, s, spec, &cr)?;
    let path_b = newton_path(pt, s, spec, &cr)?;
    let (coef, active) = full_path(pt, s, spec, &path_b)?;
    let (cvm, cvvar) = match spec.type_measure {
        Measure::Deviance => cross_validate(pt, &cr, &path_b, s.k)?,
        Measure::C => super::cindex_mpc::cross_validate(pt, s, &path_b)?,
    };
    Ok(Fitted {
        coef,
        active,
        cvm,
        cvvar,
    })
}

/// The full-data path alone (no training sets, no cross-validation).
pub(super) fn path_only(
    pt: &mut Party,
    s: &mut Setup,
    spec: &ElasticNetSpec,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let cr = prepare(pt, s, 1)?;
    s.lambda = lambdas(pt, s, spec, &cr)?;
    let path_b = newton_path(pt, s, spec, &cr)?;
    full_path(pt, s, spec, &path_b)
}
