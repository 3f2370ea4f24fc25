//! The elastic net inside MPC, in Gram form: one pass over the rows, then only
//! (k+1)×(k+1) matrices. Steps 1–4 and 7 are shared with the binomial family, whose steps
//! 5–6 (Newton steps over the rows) are in [`super::binomial`]; [`elasticnet_path`] is the
//! binomial full-data path alone (for the benchmark of the target).
//!
//! # Protocol
//!
//! 1. The design ([`crate::regression::design`]): the public checks, the complete-case
//!    weights `w`, the rule bits and `n` as for `ols`; the moments of `[x_1..x_k, y]` (means
//!    `m`, covariance `C`, the masked centred columns `w ∘ (v − m)`); the standardisation of
//!    the full data (the variance bit).
//! 2. Folds: the rows `[w, w ∘ (v − m)]` are shuffled obliviously ([`Party::shuffle`]); the
//!    row at position `i` of the shuffled order is in fold `i mod K`. No party knows the
//!    permutation, so none learns which of its rows are in which fold. Per fold, locally:
//!    its column sums, its complete-row count and this party's additive part of its Gram
//!    matrix (exact, 2f fractional bits), shared once for all folds. The K counts are
//!    opened (LEAKAGE: the number of complete rows in each fold, a draw that depends on `n`
//!    and the number of incomplete rows only) and `min_rows` is checked on every test fold
//!    and every training set (the other folds).
//! 3. Each training set's moments are the full sums minus the fold's (exact in the ring):
//!    `C_T = G_T/n_T − d_T d_T'` with `d_T = Σ_T (v − m)/n_T`; it is standardised as the
//!    full data (one variance bit per training set, LEAKAGE as for the full data).
//! 4. λ: `λ'_max = max_j |corr(x_j, y)| / max(α, 0.001)` (absolute values and a tournament of
//!    comparisons, nothing opened), `λ_l = s_y·λ'_max·g_l` for the public grid factors `g_l`
//!    (or the explicit list); each problem's standardised penalty is `λ_l / s_y` with its own
//!    `s_y`.
//! 5. Coordinate descent ([`super::path`]): the `(K + 1)·L` problems (the full data and each
//!    training set, at every λ) side by side, `sweeps` cyclic sweeps over the k covariates,
//!    each update one batch of dot products, one batch of sign tests (two per problem) and
//!    two products; nothing is opened. The final sweep's sign bits say which coefficients
//!    are non-zero.
//! 6. Cross-validation in Gram form: with `u_i = v_i − m − d_T` for a row of test fold f and
//!    `ṽ = [−b, 1]` (training-standardised), the fold's mean squared error is
//!    `s_yT²·ṽ' D M_f D ṽ` with `M_f = G_f/n_f − d_f d_f' + (d_f − d_T)(d_f − d_T)'` and `D`
//!    the training set's reciprocal standard deviations; then `cvm` and the variance of the
//!    fold errors about it (`cv.glmnet`'s weights `n_f`).
//! 7. Sealed for the recipients: λ, the full-data path on the original scale, the non-zero
//!    indicators, `cvm` and `cvsd²`. The recipient's tail takes `cvsd = √cvsd²` and chooses
//!    `lambda.min` and `lambda.1se` by glmnet's rule ([`super::path::choose`]) from these
//!    sealed values: the choice is computed from what the recipient receives anyway, so
//!    nothing about it reaches the compute parties, and no oblivious selection is needed.
//!
//! # What the compute parties learn
//!
//! What `ols` opens (the rule bits, `n`, the full data's variance bit), the K fold counts
//! and one variance bit per training set (all commented `LEAKAGE:` where opened). Nothing of
//! the fit, the λ path or the cross-validation.
//!
//! # Cost (per party, n rows, k covariates, K folds, L λ values, S sweeps)
//!
//! Measured in process (`tests/cost.rs`, which checks `crate::cost`'s estimate): bytes about
//! `n·(100 + 47·k)` (design, moments, shuffle) + `(K + 1)·(120 + 5·k) kB` (the folds'
//! moments and standardisations) + `200·S·k·(K + 1)·L` (the descent: about 200 bytes per
//! problem and coordinate update); rounds about `70 + 162·(K + 1) + 13·S·k`, independent of
//! n and L (all λ and folds run in the same rounds).
//!
//! Measured (`tessera bench regression --workloads enet-10k,enet-100k`, three processes on
//! loopback TCP, 20 covariates, 20 λ, 10 folds, 30 sweeps, median of 3): 10,000 rows 1.23 s,
//! 41 MB sent by the busiest party, 9648 rounds; 100,000 rows 2.12 s, 136 MB, 9649 rounds
//! (the plaintext twin: 0.79 s; R glmnet on the same shape, `scripts/bench_enet.R`: 0.27 s
//! for the path, 3.96 s for `cv.glmnet`).

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::{decode, encode};
use tessera_mpc::{AShare, Party, Table};

use crate::disclosure::Disclosure;
use crate::error::{Result, StatsError};
use crate::regression::design::{
    self, broadcast, div_count, div_count_exact, from_parts, gather, gram_part, mirror, Moments,
    Standardised, HI,
};
use crate::regression::logistic::check_binary;
use crate::regression::split;
use crate::sealed::{Sealed, Tail};
use crate::table::Frame;

use super::path::{self, alpha_for_max};
use super::{ElasticNetResult, ElasticNetSpec, Family};

/// Width of the sign tests of the descent: its values are below 2^40 in fixed point.
const SIGN_WIDTH: usize = 64;

/// What the compute parties know of an elastic net and the recipient's tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElasticNetPublic {
    /// The analysis.
    pub spec: ElasticNetSpec,
    /// Fractional bits of the parties (values are sealed with `frac_bits + 16`).
    pub frac_bits: u32,
    /// Design column names, `intercept` first.
    pub names: Vec<String>,
    /// Rows used (opened: documented leakage).
    pub n: usize,
    /// Complete rows per fold (opened: documented leakage).
    pub fold_rows: Vec<usize>,
}

impl Tail for ElasticNetPublic {
    type Result = ElasticNetResult;

    /// Values: λ (L), the path (L × p), the non-zero indicators (L × k, integers), `cvm`
    /// (L) and `cvsd²` (L); all but the indicators with f + 16 fractional bits.
    fn open(&self, vals: &[u128]) -> Result<ElasticNetResult> {
        let l = path::nlambda(&self.spec);
        let p = self.names.len();
        let free = usize::from(self.spec.family.has_intercept());
        let k = p - free;
        if vals.len() != l * (3 + p + k) {
            return Err(StatsError::Invalid(
                "elasticnet: the sealed values do not fit".into(),
            ));
        }
        let (lambda, coef) = decode_path(vals, l, p, free, self.frac_bits);
        let dec = |v: &[u128]| -> Vec<f64> {
            v.iter().map(|&x| decode(x, self.frac_bits + HI)).collect()
        };
        let cv = dec(&vals[l + l * (p + k)..]);
        let cvsd = cv[l..].iter().map(|v| v.max(0.0).sqrt()).collect();
        Ok(ElasticNetResult::assemble(
            &self.spec,
            self.n,
            self.fold_rows.clone(),
            self.names.clone(),
            lambda,
            coef,
            cv[..l].to_vec(),
            cvsd,
        ))
    }
}

/// λ (L values), then the path (L × p) with its non-zero indicators (L × k, integers, k = p
/// less the `free` unpenalised intercept) zeroing the coefficients they mark zero; the reals
/// with `frac_bits + HI` bits.
fn decode_path(
    vals: &[u128],
    l: usize,
    p: usize,
    free: usize,
    frac_bits: u32,
) -> (Vec<f64>, Vec<Vec<f64>>) {
    let k = p - free;
    let dec = |v: &[u128]| -> Vec<f64> { v.iter().map(|&x| decode(x, frac_bits + HI)).collect() };
    let lambda = dec(&vals[..l]);
    let raw = dec(&vals[l..l + l * p]);
    let active = &vals[l + l * p..l + l * p + l * k];
    let coef = (0..l)
        .map(|i| {
            (0..p)
                .map(|j| {
                    let on = j < free || active[i * k + j - free] == 1;
                    if on {
                        raw[i * p + j]
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    (lambda, coef)
}

/// The full-data path alone, without cross-validation (family `binomial` only): what the
/// issue's performance target measures (`tessera bench regression --workloads
/// enet-logistic-100k`); a study always cross-validates ([`elasticnet`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElasticNetPathPublic {
    /// The analysis.
    pub spec: ElasticNetSpec,
    /// Fractional bits of the parties.
    pub frac_bits: u32,
    /// Design column names, `intercept` first.
    pub names: Vec<String>,
    /// Rows used (opened: documented leakage).
    pub n: usize,
}

/// The λ path and the coefficients at every λ (original scale, in the order of `names`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ElasticNetPath {
    /// Design column names, `intercept` first.
    pub names: Vec<String>,
    /// The λ path, decreasing.
    pub lambda: Vec<f64>,
    /// Coefficients at each λ.
    pub path: Vec<Vec<f64>>,
}

impl std::fmt::Display for ElasticNetPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Elastic-net path (no cross-validation): {:?}",
            self.names
        )?;
        for (l, b) in self.lambda.iter().zip(&self.path) {
            writeln!(f, "{l:>12.6} {b:?}")?;
        }
        Ok(())
    }
}

impl Tail for ElasticNetPathPublic {
    type Result = ElasticNetPath;

    /// Values: λ (L), the path (L × p), the non-zero indicators (L × k).
    fn open(&self, vals: &[u128]) -> Result<ElasticNetPath> {
        let l = path::nlambda(&self.spec);
        let p = self.names.len();
        let free = usize::from(self.spec.family.has_intercept());
        if vals.len() != l * (1 + p + p - free) {
            return Err(StatsError::Invalid(
                "elasticnet: the sealed values do not fit".into(),
            ));
        }
        let (lambda, path) = decode_path(vals, l, p, free, self.frac_bits);
        Ok(ElasticNetPath {
            names: self.names.clone(),
            lambda,
            path,
        })
    }
}

/// [`ElasticNetPathPublic`]: the binomial or cox path on the full data without the training
/// sets (the design, the folds' moments and λ as [`elasticnet`], then one problem instead
/// of `folds + 1`); opens what [`elasticnet`] opens.
pub fn elasticnet_path(
    pt: &mut Party,
    frame: &Frame,
    spec: &ElasticNetSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<ElasticNetPathPublic>> {
    path::check_spec(spec)?;
    if spec.family == Family::Gaussian {
        return Err(StatsError::Invalid(
            "elasticnet: the path alone is for family = \"binomial\" or \"cox\" (the \
             gaussian path costs the same with its cross-validation)"
                .into(),
        ));
    }
    let mut s = setup(pt, frame, spec, disclosure)?;
    let (coef, active) = match spec.family {
        Family::Cox => super::cox_mpc::path_only(pt, &mut s, spec)?,
        _ => super::binomial::path_only(pt, &s, spec)?,
    };
    let public = ElasticNetPathPublic {
        spec: spec.clone(),
        frac_bits: pt.frac_bits(),
        names: s.names.clone(),
        n: s.n,
    };
    Sealed::new(pt, public, &AShare::concat(&[&s.lambda, &coef, &active]))
}

/// Multiplies element i of `x` (any fractional bits, kept) by the public real `c[i]`, encoded with f + HI bits.
pub(super) fn mul_public_each(pt: &mut Party, x: &AShare<u128>, c: &[f64]) -> Result<AShare<u128>> {
    let f = pt.frac_bits();
    let enc: Vec<u128> = c.iter().map(|&v| encode(v, f + HI)).collect();
    let scaled = AShare {
        a: x.a
            .iter()
            .zip(&enc)
            .map(|(s, e)| s.wrapping_mul(*e))
            .collect(),
        b: x.b
            .iter()
            .zip(&enc)
            .map(|(s, e)| s.wrapping_mul(*e))
            .collect(),
    };
    Ok(pt.trunc(&scaled, f + HI)?)
}

/// The outer product `d d'` (k×k, row-major) with `bits` fractional bits, of `d` held with
/// `bits` fractional bits.
fn outer(pt: &mut Party, d: &AShare<u128>, bits: u32) -> Result<AShare<u128>> {
    let k = d.len();
    let rows: Vec<AShare<u128>> = (0..k).map(|a| broadcast(d, a, k)).collect();
    let rows = AShare::concat(&rows.iter().collect::<Vec<_>>());
    let cols = AShare::concat(&vec![d; k]);
    Ok(pt.mul_trunc(&rows, &cols, bits)?)
}

/// The largest element of `v` (a tournament of comparisons; nothing opened).
pub(super) fn max_of(pt: &mut Party, v: &AShare<u128>) -> Result<AShare<u128>> {
    let mut cur = v.clone();
    while cur.len() > 1 {
        let half = cur.len() / 2;
        let left = gather(&cur, &(0..half).map(|i| 2 * i).collect::<Vec<_>>());
        let right = gather(&cur, &(0..half).map(|i| 2 * i + 1).collect::<Vec<_>>());
        let less = pt.lt_arith(&left, &right)?;
        let mut next = pt.select(&less, &right, &left)?;
        if cur.len() % 2 == 1 {
            next = AShare::concat(&[&next, &cur.slice(cur.len() - 1..cur.len())]);
        }
        cur = next;
    }
    Ok(cur)
}

/// One training set's (or the full data's) standardised problem.
pub(super) struct Problem {
    /// Standard deviations, reciprocals, correlations of `[x, y]` (see [`Standardised`]).
    pub st: Standardised,
    /// Its mean offset from the full data's mean `m` (k+1, f + HI bits); zero for the full
    /// data.
    pub offset: AShare<u128>,
}

/// The folds' moments after the shuffle (step 2): per fold its sums (k+1, f bits), Gram
/// matrix ((k+1)², 2f bits) and count; the counts opened and checked against `min_rows`;
/// and the shuffled rows `[w, w ∘ (v − m), extra]` (the row at position i is in fold
/// i mod K; `extra`: cox's event indicators `w·δ`, integers, none for the other families).
pub(super) struct Folds {
    pub sums: Vec<AShare<u128>>,
    pub gram: Vec<AShare<u128>>,
    pub rows: Vec<usize>,
    pub table: Table,
}

fn fold_moments(
    pt: &mut Party,
    weight: &AShare<u128>,
    (centred, extra): (&[AShare<u128>], Vec<AShare<u128>>),
    folds: usize,
    disclosure: &Disclosure,
) -> Result<Folds> {
    let v = centred.len();
    let cols = std::iter::once(weight.clone())
        .chain(centred.iter().cloned())
        .chain(extra)
        .collect();
    let shuffled = split::shuffle_rows(pt, cols)?;
    let nrows = shuffled.rows();
    let mut sums = Vec::with_capacity(folds);
    let mut counts = Vec::with_capacity(folds);
    let mut parts = Vec::with_capacity(folds * v * v);
    for f in 0..folds {
        let idx: Vec<u32> = (f..nrows).step_by(folds).map(|i| i as u32).collect();
        let t = shuffled.gather(&idx);
        counts.push(t.c128[0].sum());
        let cols = &t.c128[1..=v];
        let s: Vec<AShare<u128>> = cols.iter().map(AShare::sum).collect();
        sums.push(AShare::concat(&s.iter().collect::<Vec<_>>()));
        let mut part = vec![0u128; v * v];
        gram_part(cols, &mut part);
        mirror(&mut part, v);
        parts.extend(part);
    }
    let shared = from_parts(pt, &parts)?;
    let gram = (0..folds)
        .map(|f| shared.slice(f * v * v..(f + 1) * v * v))
        .collect();
    // The number of complete rows in each fold: opened (LEAKAGE, see `split::open_set_rows`);
    // part of the result (`fold_rows`).
    let rows = split::open_set_rows(pt, &counts)?;
    let n: usize = rows.iter().sum();
    for &r in &rows {
        if r < 2 {
            return Err(StatsError::Invalid(format!(
                "elasticnet: a fold has {r} complete rows: use fewer folds"
            )));
        }
        split::check_set(disclosure, r, "a cross-validation test set")?;
        split::check_set(disclosure, n - r, "a cross-validation training set")?;
    }
    Ok(Folds {
        sums,
        gram,
        rows,
        table: shuffled,
    })
}

/// Mean offset `Σ s / n` (f + HI bits) of sums `s` (f bits) over `n` rows.
fn offset(pt: &mut Party, s: &AShare<u128>, n: usize) -> Result<AShare<u128>> {
    div_count(pt, &s.shl(HI), 0, n)
}

/// `G/n − d d'` with f + HI bits: the covariance about the set's own mean, from the Gram
/// matrix `G` (2f bits) about the full mean and the set's offset `d` (f + HI bits).
fn centred_cov(
    pt: &mut Party,
    g: &AShare<u128>,
    d: &AShare<u128>,
    n: usize,
) -> Result<AShare<u128>> {
    let f = pt.frac_bits();
    let raw = div_count_exact(pt, g, f - HI, n)?;
    Ok(raw.sub(&outer(pt, d, f + HI)?))
}

/// What both families share after steps 1–4: the design's facts, the full data's means,
/// the problems (the full data, then each training set), the folds and the λ path.
pub(super) struct Setup {
    /// Design column names, `intercept` first.
    pub names: Vec<String>,
    /// Rows used.
    pub n: usize,
    /// Covariates (design columns without the intercept).
    pub k: usize,
    /// Means of `[x, y]` over the rows used (f bits).
    pub mean: AShare<u128>,
    /// The full data (first), then the training set of each fold.
    pub problems: Vec<Problem>,
    /// The folds' moments, counts and the shuffled rows.
    pub folds: Folds,
    /// Each test fold's mean offset from the full mean (k+1, f + HI bits).
    pub test_offsets: Vec<AShare<u128>>,
    /// λ on the original scale (f + HI bits); for cox's default grid empty here and set by
    /// [`super::cox_mpc`] once its rows are in risk-set order.
    pub lambda: AShare<u128>,
}

/// Steps 1–4 of the module docs (the design, the folds, the standardisations, λ); for the
/// binomial family the outcome is checked to be 0/1 first (one bit, as `logistic`).
pub(super) fn setup(
    pt: &mut Party,
    frame: &Frame,
    spec: &ElasticNetSpec,
    disclosure: &Disclosure,
) -> Result<Setup> {
    let (prep, extra) = match (spec.family, &spec.time, &spec.event) {
        (Family::Cox, Some(time), Some(event)) => {
            let prep = design::prepare_with(
                pt,
                frame,
                (time, &[event]),
                &spec.covariates,
                true,
                disclosure,
            )?;
            let events = super::cox_mpc::check_outcome(pt, frame, &prep, (time, event))?;
            (prep, vec![events])
        }
        _ => {
            let prep =
                design::prepare(pt, frame, &spec.outcome, &spec.covariates, true, disclosure)?;
            if spec.family == Family::Binomial {
                check_binary(pt, &prep.outcome, &prep.weight, &spec.outcome)?;
            }
            (prep, Vec::new())
        }
    };
    let n = prep.n;
    path::check_rows(spec, n)?;
    let f = pt.frac_bits();
    let k = prep.columns.len();
    let v = k + 1;
    let kf = spec.folds;
    let nl = path::nlambda(spec);

    let vars: Vec<&AShare<u128>> = prep
        .columns
        .iter()
        .chain(std::iter::once(&prep.outcome))
        .collect();
    let mut m = design::moments(pt, &vars, &prep.weight, n, true, true)?;
    let full_st = design::standardise(pt, &m)?;
    let centred = m.centred.take().expect("asked for the centred columns");
    let folds = fold_moments(pt, &prep.weight, (&centred, extra), kf, disclosure)?;
    drop(centred);

    // Training sets: the full sums minus the fold's.
    let all_sums = folds
        .sums
        .iter()
        .fold(AShare::zeros(v), |acc, s| acc.add(s));
    let all_gram = folds
        .gram
        .iter()
        .fold(AShare::zeros(v * v), |acc, g| acc.add(g));
    let mut problems = vec![Problem {
        st: full_st,
        offset: AShare::zeros(v),
    }];
    let mut test_offsets = Vec::with_capacity(kf);
    for fo in 0..kf {
        let nt = n - folds.rows[fo];
        let d = offset(pt, &all_sums.sub(&folds.sums[fo]), nt)?;
        let cov = centred_cov(pt, &all_gram.sub(&folds.gram[fo]), &d, nt)?;
        let st = design::standardise(
            pt,
            &Moments {
                k: v,
                mean: AShare::zeros(v),
                cov,
                centred: None,
            },
        )?;
        problems.push(Problem { st, offset: d });
        test_offsets.push(offset(pt, &folds.sums[fo], folds.rows[fo])?);
    }

    // λ on the original scale (f + HI bits).
    let full = &problems[0].st;
    let sd_y = design::at(&full.sd, k);
    let lambda = match &spec.lambda {
        Some(list) => pt.public(
            &list
                .iter()
                .map(|&l| encode::<u128>(l, f + HI))
                .collect::<Vec<_>>(),
        ),
        // Cox's λ_max needs the risk sets: [`super::cox_mpc`] sets it after its sort.
        None if spec.family == Family::Cox => AShare::zeros(0),
        None => {
            let c = gather(&full.corr, &(0..k).map(|j| j * v + k).collect::<Vec<_>>());
            let (abs, _) = pt.abs_sign_within(&c, SIGN_WIDTH)?;
            let top = max_of(pt, &abs)?;
            let top = pt.mul_public_real(&top, 1.0 / alpha_for_max(spec.alpha))?;
            let scaled = pt.mul_trunc(&top, &sd_y, f - HI)?;
            let g = path::grid_factors(spec, n, k);
            mul_public_each(pt, &broadcast(&scaled, 0, nl), &g)?
        }
    };
    Ok(Setup {
        names: if spec.family.has_intercept() {
            prep.names
        } else {
            prep.names[1..].to_vec()
        },
        n,
        k,
        mean: m.mean,
        problems,
        folds,
        test_offsets,
        lambda,
    })
}

/// The fitted path and CV curve of either family, still shared: the full-data path on the
/// original scale (L × (k+1), f + HI bits), its non-zero indicators (L × k), `cvm` and
/// `cvsd²` (L each, f + HI bits).
pub(super) struct Fitted {
    pub coef: AShare<u128>,
    pub active: AShare<u128>,
    pub cvm: AShare<u128>,
    pub cvvar: AShare<u128>,
}

/// Fits the elastic net on the shared table (module docs; the binomial family in
/// [`super::binomial`]). Every compute party calls this with its shares; the result ends
/// sealed for the recipients.
pub fn elasticnet(
    pt: &mut Party,
    frame: &Frame,
    spec: &ElasticNetSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<ElasticNetPublic>> {
    path::check_spec(spec)?;
    let mut s = setup(pt, frame, spec, disclosure)?;
    let fitted = match spec.family {
        Family::Gaussian => gaussian(pt, &s, spec)?,
        Family::Binomial => super::binomial::fit(pt, &s, spec)?,
        Family::Cox => super::cox_mpc::fit(pt, &mut s, spec)?,
    };
    let public = ElasticNetPublic {
        spec: spec.clone(),
        frac_bits: pt.frac_bits(),
        names: s.names.clone(),
        n: s.n,
        fold_rows: s.folds.rows.clone(),
    };
    Sealed::new(
        pt,
        public,
        &AShare::concat(&[
            &s.lambda,
            &fitted.coef,
            &fitted.active,
            &fitted.cvm,
            &fitted.cvvar,
        ]),
    )
}

/// Steps 5–6 for the gaussian family.
fn gaussian(pt: &mut Party, s: &Setup, spec: &ElasticNetSpec) -> Result<Fitted> {
    let f = pt.frac_bits();
    let (k, nl, kf) = (s.k, path::nlambda(spec), spec.folds);
    let problems = &s.problems;
    // Each problem's standardised penalty λ/s_y (f bits).
    let ry: Vec<AShare<u128>> = problems
        .iter()
        .map(|q| broadcast(&design::at(&q.st.r, k), 0, nl))
        .collect();
    let lam_q = pt.mul_trunc(
        &AShare::concat(&vec![&s.lambda; kf + 1]),
        &AShare::concat(&ry.iter().collect::<Vec<_>>()),
        f + HI,
    )?;
    let (b, active) = descend(pt, problems, &lam_q, spec, k, nl)?;

    // The full-data path on the original scale: β_j = b_j·s_y·r_j, β_0 = m_y − m'β.
    let full = &problems[0].st;
    let sd_y = design::at(&full.sd, k);
    let scale = pt.mul_trunc(&broadcast(&sd_y, 0, k), &full.r.slice(0..k), f - HI)?;
    let base = broadcast(&s.mean, k, nl).shl(HI);
    let (coef, act_full) = original_scale(pt, s, spec, &b, &active, &scale, &base)?;
    let (cvm, cvvar) = cross_validate(pt, problems, &s.folds, &s.test_offsets, &b, s.n, k, nl)?;
    Ok(Fitted {
        coef,
        active: act_full,
        cvm,
        cvvar,
    })
}

/// The full-data path (the first L×k of `b`, standardised slopes with f bits) on the
/// original scale: `β_j = b_j·scale_j` (`scale` with f + HI bits), `β_0 = base − m'β`
/// (`base` per λ, f + HI bits), as L rows `[β_0, β]`; and its non-zero indicators. With the
/// default grid the first λ's slopes are zero ([`path::zero_first`]).
pub(super) fn original_scale(
    pt: &mut Party,
    s: &Setup,
    spec: &ElasticNetSpec,
    b: &AShare<u128>,
    active: &AShare<u128>,
    scale: &AShare<u128>,
    base: &AShare<u128>,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let f = pt.frac_bits();
    let (k, nl) = (s.k, path::nlambda(spec));
    let nb = nl * k;
    let mut b_full = b.slice(0..nb);
    let mut act_full = active.slice(0..nb);
    if path::zero_first(spec) {
        for j in 0..k {
            b_full.a[j] = 0;
            b_full.b[j] = 0;
            act_full.a[j] = 0;
            act_full.b[j] = 0;
        }
    }
    let slopes = pt.mul_trunc(&b_full, &AShare::concat(&vec![scale; nl]), f)?;
    let means = AShare::concat(&vec![&s.mean.slice(0..k); nl]);
    let mb = pt.dot_fix(&means, &slopes, k)?;
    let b0 = base.sub(&mb);
    let mut coef = Vec::with_capacity(nl * 2);
    for l in 0..nl {
        coef.push(design::at(&b0, l));
        coef.push(slopes.slice(l * k..(l + 1) * k));
    }
    Ok((AShare::concat(&coef.iter().collect::<Vec<_>>()), act_full))
}

/// The soft-thresholded update `S(z, γ)·den` of coordinate descent (elementwise; `den`
/// 1 when absent) and its non-zero indicator (0/1): one batch of sign tests (two per
/// element) and two products; nothing opened.
pub(super) fn soft_threshold(
    pt: &mut Party,
    z: &AShare<u128>,
    gamma: &AShare<u128>,
    den: Option<&AShare<u128>>,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let q = z.len();
    let up = z.sub(gamma);
    let down = z.add(gamma);
    let bits = pt.sign_within(&AShare::concat(&[&up.neg(), &down]), SIGN_WIDTH)?;
    let bits = pt.inject::<u128>(&[&bits], 2 * q)?.remove(0);
    let vals = AShare::concat(&[&up, &down]);
    let vals = match den {
        Some(d) => pt.mul_fix(&vals, &AShare::concat(&[d, d]))?,
        None => vals,
    };
    let picked = pt.mul(&bits, &vals)?;
    Ok((
        picked.slice(0..q).add(&picked.slice(q..2 * q)),
        bits.slice(0..q).add(&bits.slice(q..2 * q)),
    ))
}

/// Step 5: the fixed schedule of coordinate descent on every problem at every λ at once.
/// `lam` holds the standardised penalties, problem-major (f bits). Returns the coefficients
/// (problem-major, λ, covariate; f bits) and the final sweep's non-zero indicators.
fn descend(
    pt: &mut Party,
    problems: &[Problem],
    lam: &AShare<u128>,
    spec: &ElasticNetSpec,
    k: usize,
    nl: usize,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let f = pt.frac_bits();
    let v = k + 1;
    let q = problems.len() * nl;
    let gamma = pt.mul_public_real(lam, spec.alpha)?;
    let den = if spec.alpha < 1.0 {
        let shrink = pt.mul_public_real(lam, 1.0 - spec.alpha)?;
        Some(pt.recip(&pt.add_const(&shrink, encode(1.0, f)))?)
    } else {
        None
    };
    // Per coordinate j: the rows R_j· (diagonal zeroed) and c_j of every problem, repeated
    // for every λ.
    let rows: Vec<AShare<u128>> = (0..k)
        .map(|j| {
            let per: Vec<AShare<u128>> = problems
                .iter()
                .map(|p| {
                    let mut r = p.st.corr.slice(j * v..j * v + k);
                    r.a[j] = 0;
                    r.b[j] = 0;
                    AShare::concat(&vec![&r; nl])
                })
                .collect();
            AShare::concat(&per.iter().collect::<Vec<_>>())
        })
        .collect();
    let cs: Vec<AShare<u128>> = (0..k)
        .map(|j| {
            let per: Vec<AShare<u128>> = problems
                .iter()
                .map(|p| broadcast(&p.st.corr, j * v + k, nl))
                .collect();
            AShare::concat(&per.iter().collect::<Vec<_>>())
        })
        .collect();
    let mut b = AShare::zeros(q * k);
    let mut active = AShare::zeros(q * k);
    for _ in 0..path::sweeps(spec) {
        for j in 0..k {
            let rb = pt.dot(&rows[j], &b, k)?;
            let z = cs[j].sub(&pt.trunc(&rb, f)?);
            let (bj, on) = soft_threshold(pt, &z, &gamma, den.as_ref())?;
            for i in 0..q {
                b.a[i * k + j] = bj.a[i];
                b.b[i * k + j] = bj.b[i];
                active.a[i * k + j] = on.a[i];
                active.b[i * k + j] = on.b[i];
            }
        }
    }
    Ok((b, active))
}

/// Step 6: the folds' mean squared errors at every λ, then `cvm` and `cvsd²` (f + HI bits).
#[allow(clippy::too_many_arguments)]
fn cross_validate(
    pt: &mut Party,
    problems: &[Problem],
    folds: &Folds,
    test_offsets: &[AShare<u128>],
    b: &AShare<u128>,
    n: usize,
    k: usize,
    nl: usize,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let f = pt.frac_bits();
    let v = k + 1;
    let kf = folds.rows.len();
    let one = design::constant(pt, 1.0, 1);
    let mut mse = Vec::with_capacity(kf);
    for fo in 0..kf {
        let train = &problems[fo + 1];
        let df = &test_offsets[fo];
        let e = df.sub(&train.offset);
        let own = centred_cov(pt, &folds.gram[fo], df, folds.rows[fo])?;
        let mf = own.add(&outer(pt, &e, f + HI)?);
        let mf = pt.trunc(&mf, HI)?;
        let mt = design::scale_both(pt, &mf, &train.st.r)?;
        // ṽ = [−b, 1] for every λ, as columns of a v × L matrix, and as rows (L × v).
        let first = (fo + 1) * nl * k;
        let mut vt = Vec::with_capacity(nl * 2);
        for l in 0..nl {
            vt.push(b.slice(first + l * k..first + (l + 1) * k).neg());
            vt.push(one.clone());
        }
        let vrows = AShare::concat(&vt.iter().collect::<Vec<_>>());
        let vcols = design::gather(
            &vrows,
            &(0..v)
                .flat_map(|a| (0..nl).map(move |l| l * v + a))
                .collect::<Vec<_>>(),
        );
        let mv = pt.matmul_fix(&mt, &vcols, v, v, nl)?;
        let mv_rows = design::gather(
            &mv,
            &(0..nl)
                .flat_map(|l| (0..v).map(move |a| a * nl + l))
                .collect::<Vec<_>>(),
        );
        let quad = pt.dot_fix(&vrows, &mv_rows, v)?;
        let sd_y = design::at(&train.st.sd, k);
        let var_y = pt.mul_fix(&sd_y, &sd_y)?;
        mse.push(pt.mul_fix(&quad, &broadcast(&var_y, 0, nl))?);
    }
    cv_summary(pt, &mse, &folds.rows, n)
}

/// `cvm = Σ n_f·mse_f / n` and `cvsd² = Σ n_f·(mse_f − cvm)² / n / (K − 1)` (f + HI bits)
/// from the folds' mean deviances `mse_f` (L each, f bits) and row counts.
pub(super) fn cv_summary(
    pt: &mut Party,
    mse: &[AShare<u128>],
    rows: &[usize],
    n: usize,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let f = pt.frac_bits();
    let kf = rows.len();
    let nl = mse.first().map_or(0, AShare::len);
    let weighted = mse
        .iter()
        .zip(rows)
        .fold(AShare::zeros(nl), |acc, (e, &r)| {
            acc.add(&e.mul_const(r as u128))
        });
    let cvm = div_count(pt, &weighted.shl(HI), 0, n)?;
    let cvm_f = pt.trunc(&cvm, HI)?;
    let diffs: Vec<AShare<u128>> = mse.iter().map(|e| e.sub(&cvm_f)).collect();
    let diffs = AShare::concat(&diffs.iter().collect::<Vec<_>>());
    let sq = pt.mul_trunc(&diffs, &diffs, f - HI)?;
    let spread = (0..kf).fold(AShare::zeros(nl), |acc, fo| {
        acc.add(&sq.slice(fo * nl..(fo + 1) * nl).mul_const(rows[fo] as u128))
    });
    let cvvar = div_count(pt, &spread, 0, n * (kf - 1))?;
    Ok((cvm, cvvar))
}
