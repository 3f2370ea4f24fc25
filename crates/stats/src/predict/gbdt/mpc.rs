//! The boosted trees inside MPC (definitions in [`super`]).
//!
//! # Protocol
//!
//! 1. The design as the regressions prepare it ([`crate::regression::design::prepare`]:
//!    complete rows as a secret 0/1 weight, categorical covariates as indicators, the
//!    disclosure rules on all complete rows), the 0/1 check of the outcome (`binary`).
//! 2. The split as `logistic`'s hold-out ([`crate::regression::split`]): an oblivious
//!    shuffle, the first `⌈(1 − holdout)·rows⌉` positions train, the rest test; the sets'
//!    complete-row counts are opened and `min_rows` is checked on each.
//! 3. Bins: one wide oblivious sort of every covariate's training values at once (key
//!    `j·2^80 + x`, rows that are not complete training rows at the top of their band),
//!    the sorted values at the public ranks `j·t + ⌈k·n_train/bins⌉` are the thresholds
//!    (still shared). Then `c_ijk = [x_ij ≥ t_jk]` for every row, covariate and threshold
//!    in one batched comparison in Z_2^64, kept as 0/1 shares in both layouts (rows ×
//!    candidates and candidates × rows) beside a column of ones.
//! 4. Each tree: `binary`, `p = σ(score)`, `g = (p − y)·w`, `h = p(1 − p)·w` (`w` the
//!    complete training rows); `squared_error`, `g = (score − y)·w`, `h = w` (one product
//!    per row and tree, no sigmoid). Each level, all nodes at once: the gradient and hessian sums of every
//!    candidate's right side are one matrix product `(a ⊙ g, a ⊙ h)ᵀ · c` (`a` a node's
//!    secret 0/1 row indicator; one element per sum whatever the rows), computed for the
//!    left children only, the right children's being the parent's minus them. The
//!    `min_child_weight` test (a comparison in Z_2^64), the sums lifted to Z_2^128, the
//!    gains with reciprocals `2^14/(H + λ)` (`binary`: `G²·2^14/(H + λ)`; `squared_error`,
//!    whose sums are larger: `G·(G/(H + λ))`, the ratio first so that no product leaves
//!    the fixed point's range), invalid candidates set to `−2^76`; the best
//!    candidate by a tournament (comparisons, the first of equal gains) carrying a one-hot
//!    vector; the split bit `[0 < best gain]` times the one-hot is the node's choice `s`.
//!    The rows going right are `c · s` (a matrix product), the children `a ⊙ right` and
//!    `a − a ⊙ right`.
//! 5. Leaves: `G` and `H` per leaf (dot products), `w = −η·G·2^14/(H + λ)/2^14`, and every
//!    row's score grows by `Σ_leaves a_leaf·w_leaf` (a matrix product, lifted to Z_2^128).
//! 6. `binary`: the test rows' final scores through [`crate::predict::auc`]'s core: the
//!    AUC's sums. `squared_error`: the residuals `r = (y − score)·w` and the centred outcome
//!    `u = (y − base)·w` of the test rows (`base` the training mean, so that the variance
//!    does not cancel), `Σr²`, `Σu`, `Σu²` by one dot product, `MSE = Σr²/n`,
//!    `V = Σu²/n − (Σu/n)²`, the bit `[V ≥ 2^-16]` opened (refused otherwise), and
//!    `R² = 1 − MSE·(1/V)` (a reciprocal).
//!
//! Sealed for the recipients: the AUC's sums (`binary`) or the MSE and R² (`squared_error`:
//! the recipient takes the square root of the MSE, a function of it) and, with
//! `reveal_model`, the base score and
//! per tree every internal node's split bit, covariate index (`Σ s_jk·j`, local) and
//! threshold (`Σ s_jk·t_jk`, a dot product) and the leaf values.
//!
//! # Leakage
//!
//! To the compute parties: what the design opens (its rule bits and the number `n` of
//! complete rows), the outcome's 0/1 bit (`binary`); the complete-row counts of the
//! training and the test set (`n_train`, `n_test`: a random draw given `n` and the
//! incomplete rows); `binary`: one bit "the training set has at least one case and one
//! control"; `squared_error`: one bit "the test rows' outcome has a variance of at least
//! 2^-16" (else the analysis ends with an error); the sort's comparison bits
//! of shuffled rows with unique keys (uniformly random, see `tessera_mpc::sort`); the AUC's
//! bit "cases and controls in the test set each number at least `min_cell`" and the scan
//! depth of its sort (`ceil(log2 g)` for the largest number `g` of test rows with one
//! score) (`binary`). No split, threshold, gain, leaf value, row's node, score, MSE or R²
//! is opened.
//!
//! # Valid range
//!
//! Covariates within `±2^37` (the comparisons in Z_2^64 at 24 fractional bits); at most
//! `2^20` rows. `squared_error`: the outcome within `±`[`super::MAX_OUTCOME`] = 256, so that
//! with residuals within twice that (boosting moves the scores towards leaf means) every
//! sum of squared residuals, hence every gain term `G²/(H + λ) ≤ Σ r²`, stays below 2^38
//! (the products' valid range, 2^39), and the gradient sums below 2^39 in Z_2^64. Gradient sums are exact; the gains carry the reciprocal's relative error
//! (2e-7), so two candidates whose gains differ by less may be taken in the other order
//! than the twin's (the twin's test allows for it).

use tessera_mpc::fixed::encode;
use tessera_mpc::share::low64;
use tessera_mpc::shuffle::Table;
use tessera_mpc::sort::SortOptions;
use tessera_mpc::{AShare, Party};

use crate::disclosure::{every_at_least, Disclosure};
use crate::error::{Result, StatsError};
use crate::predict::auc::{auc_core, Scored};
use crate::regression::design;
use crate::regression::logistic::check_binary;
use crate::regression::split;
use crate::sealed::Sealed;
use crate::table::Frame;

use super::plain::{constant_test_outcome, TEST, TRAINING};
use super::{
    threshold_rank, training_positions, BoostedTreesPublic, BoostedTreesSpec, Objective,
    MIN_TEST_VARIANCE,
};

/// The reciprocals of the gains are `2^KREC/(H + λ)`, so that small ones keep precision.
const KREC: u32 = 14;
/// The band of one covariate in the sort key: `2^BAND`.
const BAND: u32 = 80;
/// Rows that are not complete training rows sort at the top of their band: `2^78`.
const TOP: u32 = 78;
/// An invalid candidate's gain (raw, negative): `−2^(f + 52)`, below any gain (|gain·2^14|
/// < 2^50 for 2^20 rows and λ ≥ 0.001).
const INVALID_GAIN_BITS: u32 = 52;
/// Offset (raw) of signed values lifted from Z_2^64 (|x| < 2^62).
const LIFT_OFFSET: u64 = 1 << 62;

/// The boosted trees on the shared table (module docs): every compute party calls this;
/// the AUC's sums (and with `reveal_model` the model) end sealed for the recipients. The
/// rows are split by an oblivious shuffle.
pub fn boosted_trees(
    pt: &mut Party,
    frame: &Frame,
    spec: &BoostedTreesSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<BoostedTreesPublic>> {
    boosted_trees_on(pt, frame, spec, disclosure, None)
}

/// [`boosted_trees`] with the split given: `test = None` draws it by the oblivious shuffle
/// (what a study runs); `Some(rows)` holds out the frame's rows `rows` in public, so that
/// tests and benchmarks can compare with the twin on the same split (every party then
/// knows the split; never used by a study).
pub fn boosted_trees_on(
    pt: &mut Party,
    frame: &Frame,
    spec: &BoostedTreesSpec,
    disclosure: &Disclosure,
    test: Option<&[usize]>,
) -> Result<Sealed<BoostedTreesPublic>> {
    spec.check()?;
    let f = pt.frac_bits();
    let prep = design::prepare(
        pt,
        frame,
        &spec.outcome,
        &spec.covariates,
        false,
        disclosure,
    )?;
    spec.check_size(prep.names.len())?;
    let binary = spec.objective == Objective::Binary;
    if binary {
        check_binary(pt, &prep.outcome, &prep.weight, &spec.outcome)?;
    }
    let rows = prep.weight.len();
    if rows > 1 << 20 {
        return Err(StatsError::Invalid(format!(
            "boosted_trees: {rows} rows; at most 2^20 are supported"
        )));
    }
    let mut cols = vec![prep.weight.clone(), prep.outcome.clone()];
    cols.extend(prep.columns.iter().cloned());
    let (cols, t) = match test {
        None => {
            let t = training_positions(rows, spec.holdout)?;
            (split::shuffle_rows(pt, cols)?.c128, t)
        }
        Some(held) => {
            let mut is_test = vec![false; rows];
            for &i in held {
                *is_test.get_mut(i).ok_or_else(|| {
                    StatsError::Invalid(format!("boosted_trees: test row {i} is not in the table"))
                })? = true;
            }
            let order: Vec<usize> = (0..rows)
                .filter(|&i| !is_test[i])
                .chain((0..rows).filter(|&i| is_test[i]))
                .collect();
            let t = rows - held.len();
            (cols.iter().map(|c| gather(c, &order)).collect(), t)
        }
    };
    let (w, y, x) = (&cols[0], &cols[1], &cols[2..]);
    let train_mask: Vec<u128> = (0..rows).map(|i| u128::from(i < t)).collect();
    let w_train = w.mul_public(&train_mask);
    let w_test = w.sub(&w_train);
    // The complete-row counts of both sets: opened (LEAKAGE, see `split::open_set_rows`).
    let counts = split::open_set_rows(pt, &[w_train.sum(), w_test.sum()])?;
    let (n_train, n_test) = (counts[0], counts[1]);
    split::check_set(disclosure, n_train, TRAINING)?;
    split::check_set(disclosure, n_test, TEST)?;
    split::in_set(disclosure.check_vars(prep.vars(), n_train), TRAINING)?;

    // The base score: the log-odds of the training outcome's mean (`binary`), the mean
    // (`squared_error`).
    let yw = pt.mul(y, &w_train)?;
    let base = if binary {
        let cases = yw.sum();
        let controls = pt.add_const(&cases.neg(), encode((n_train) as f64, f));
        let both = AShare::concat(&[&cases, &controls]);
        // LEAKAGE: one bit, "the training set has at least one case and one control".
        if !every_at_least(pt, &both, encode::<u128>(1.0, f))? {
            return Err(StatsError::Refused {
                rule: "min_cell".into(),
                detail: "boosted_trees: the training set has no cases or no controls".into(),
            });
        }
        let logs = pt.ln(&both)?;
        logs.slice(0..1).sub(&logs.slice(1..2))
    } else {
        if n_train == 0 {
            return Err(StatsError::Invalid(
                "boosted_trees: no complete training rows".into(),
            ));
        }
        if n_test < 2 {
            return Err(constant_test_outcome(&spec.outcome));
        }
        divide(pt, &yw.sum(), n_train)?
    };
    let mut score = design::broadcast(&base, 0, rows);
    // `squared_error`'s hessians: 1 on the complete training rows (fixed point).
    let h_train = w_train.mul_const(1u128 << f);

    let thresholds = thresholds(pt, x, &w_train, t, n_train, spec.bins)?;
    let cand = Candidates::new(pt, x, &thresholds, spec.bins)?;
    let mut model = Vec::new();
    if spec.reveal_model {
        model.push(base.clone());
    }
    let ctx = Ctx {
        spec,
        cand: &cand,
        thresholds: &thresholds,
        rows,
    };
    for _ in 0..spec.trees {
        let (g, h) = if binary {
            let p = pt.sigmoid(&score)?;
            let one_minus = pt.add_const(&p.neg(), encode(1.0, f));
            let pq = pt.mul_trunc(&p, &one_minus, f)?;
            let mut gh = pt.mul_many(&[(&p, &w_train), (&pq, &w_train)])?;
            let h = gh.remove(1);
            (gh.remove(0).sub(&yw), h)
        } else {
            (pt.mul(&score, &w_train)?.sub(&yw), h_train.clone())
        };
        let (tree, delta) = ctx.tree(pt, &low64(&g), &low64(&h))?;
        score = score.add(&delta);
        model.extend(tree);
    }

    let idx: Vec<usize> = (t..rows).collect();
    let (y_test, wt, s_test) = (gather(y, &idx), gather(&w_test, &idx), gather(&score, &idx));
    // The held-out figures: the AUC of the binary objective, the RMSE and R² otherwise.
    let (auc, values) = if binary {
        let scored = Scored {
            outcome: &y_test,
            weight: &wt,
            n: n_test,
            score: &s_test,
            logit: None,
            wide: None,
        };
        let (auc, values) = auc_core(pt, &scored, &spec.auc_spec(), disclosure)?;
        (Some(auc), values)
    } else {
        let values = held_out_error(pt, (&y_test, &wt, &s_test), &base, n_test, &spec.outcome)?;
        (None, values)
    };
    let mut sealed = vec![&values];
    sealed.extend(model.iter());
    let public = BoostedTreesPublic {
        spec: spec.clone(),
        columns: prep.names.clone(),
        n_train,
        n_test,
        auc,
        frac_bits: f,
    };
    Sealed::new(pt, public, &AShare::concat(&sealed))
}

/// `x / n` for sums `x` of up to `n` terms below 2^18 each (fixed point, `n ≥ 1`): first
/// `x / 2^a` with `2^a ≥ n` (a truncation), then times `2^a/n ∈ (1/2, 1]` with 31
/// significant bits ([`Party::mul_public_real`]), so that neither product leaves the valid
/// range whatever `n` (`1/n` at once would need `|x|·2^(f + 31 + log2 n) < 2^86`). Error:
/// about three units in the last place.
fn divide(pt: &mut Party, x: &AShare<u128>, n: usize) -> Result<AShare<u128>> {
    let a = n.next_power_of_two().trailing_zeros();
    let scaled = if a == 0 { x.clone() } else { pt.trunc(x, a)? };
    Ok(pt.mul_public_real(&scaled, (1u64 << a) as f64 / n as f64)?)
}

/// `squared_error`'s validation (module docs, step 6): the shared `[MSE, R²]` of the test
/// rows' scores `s` against the outcome `y` (`w` the complete rows, `n` of them), centred by
/// the training mean `base`; an error if the test outcome's variance is below
/// [`MIN_TEST_VARIANCE`] (one opened bit).
fn held_out_error(
    pt: &mut Party,
    (y, w, s): (&AShare<u128>, &AShare<u128>, &AShare<u128>),
    base: &AShare<u128>,
    n: usize,
    outcome: &str,
) -> Result<AShare<u128>> {
    let f = pt.frac_bits();
    let len = y.len();
    let centred = y.sub(&design::broadcast(base, 0, len));
    let ru = pt.mul_many(&[(&y.sub(s), w), (&centred, w)])?;
    let (r, u) = (&ru[0], &ru[1]);
    let ones = pt.public(&vec![encode::<u128>(1.0, f); len]);
    // Σr², Σu², Σu (the last against ones, so that all three truncate alike).
    let sums = pt.dot_fix(
        &AShare::concat(&[r, u, u]),
        &AShare::concat(&[r, u, &ones]),
        len,
    )?;
    let means = divide(pt, &sums, n)?;
    let (mse, m2, m1) = (means.slice(0..1), means.slice(1..2), means.slice(2..3));
    let sq = pt.mul_trunc(&m1, &m1, f)?;
    let var = m2.sub(&sq);
    let floor = pt.public(&[encode::<u128>(MIN_TEST_VARIANCE, f)]);
    let low = pt.lt(&var, &floor)?;
    // LEAKAGE: one bit, "the test rows' outcome has a variance below 2^-16" (R² is then
    // undefined and the analysis ends with an error).
    if pt.reveal_bits(&low)?[0] & 1 == 1 {
        return Err(constant_test_outcome(outcome));
    }
    let inv = pt.recip(&var)?;
    let ratio = pt.mul_trunc(&mse, &inv, f)?;
    let r2 = pt.add_const(&ratio.neg(), encode(1.0, f));
    Ok(AShare::concat(&[&mse, &r2]))
}

/// The elements `idx` of `x` (a public rearrangement: local).
fn gather<R: tessera_mpc::Ring>(x: &AShare<R>, idx: &[usize]) -> AShare<R> {
    AShare {
        a: idx.iter().map(|&i| x.a[i]).collect(),
        b: idx.iter().map(|&i| x.b[i]).collect(),
    }
}

/// Every covariate's thresholds (covariate-major, `bins − 1` each) from one wide sort of
/// the first `t` positions (module docs, step 3). Nothing opened but the sort's
/// comparison bits of shuffled unique keys.
fn thresholds(
    pt: &mut Party,
    x: &[AShare<u128>],
    w_train: &AShare<u128>,
    t: usize,
    n_train: usize,
    bins: usize,
) -> Result<AShare<u128>> {
    let f_cols = x.len();
    let w = w_train.slice(0..t);
    let top = 1u128 << TOP;
    // x on complete training rows, 2^78 elsewhere: top + w·(x − top).
    let shifted: Vec<AShare<u128>> = x
        .iter()
        .map(|c| pt.add_const(&c.slice(0..t), top.wrapping_neg()))
        .collect();
    let pairs: Vec<(&AShare<u128>, &AShare<u128>)> = shifted.iter().map(|c| (&w, c)).collect();
    let masked = pt.mul_many(&pairs)?;
    let band: Vec<u128> = (0..f_cols)
        .flat_map(|j| std::iter::repeat_n(((j as u128) << BAND).wrapping_add(top), t))
        .collect();
    let key = pt.add_public(&AShare::concat(&masked.iter().collect::<Vec<_>>()), &band);
    let key_bits = BAND + 2 + usize::BITS - f_cols.leading_zeros();
    let perm = pt.sort_perm_wide(&key, key_bits, SortOptions::default().pivots)?;
    let sorted = pt
        .apply_sort(&perm, &Table::new(vec![], vec![key])?)?
        .c128
        .remove(0);
    let mut idx = Vec::new();
    let mut offset = Vec::new();
    for j in 0..f_cols {
        for k in 1..bins {
            idx.push(j * t + threshold_rank(k, n_train, bins));
            offset.push(((j as u128) << BAND).wrapping_neg());
        }
    }
    Ok(pt.add_public(&gather(&sorted, &idx), &offset))
}

/// The candidate matrix `c` with a column of ones first (`K = 1 + columns·(bins − 1)`),
/// 0/1 in Z_2^64, in both layouts.
struct Candidates {
    /// Columns `K`.
    k: usize,
    /// Rows × K, row-major.
    by_row: AShare<u64>,
    /// K × rows, row-major.
    by_candidate: AShare<u64>,
}

impl Candidates {
    /// `c_ijk = [x_ij ≥ t_jk]` for every row in one batched comparison in Z_2^64.
    fn new(
        pt: &mut Party,
        x: &[AShare<u128>],
        thresholds: &AShare<u128>,
        bins: usize,
    ) -> Result<Candidates> {
        let rows = x.first().map_or(0, |c| c.len());
        let kb = bins - 1;
        let m = x.len() * kb;
        let x64: Vec<AShare<u64>> = x.iter().map(low64).collect();
        let t64 = low64(thresholds);
        let mut lhs = AShare::<u64> {
            a: Vec::with_capacity(rows * m),
            b: Vec::with_capacity(rows * m),
        };
        let mut rhs = AShare::<u64> {
            a: Vec::with_capacity(rows * m),
            b: Vec::with_capacity(rows * m),
        };
        for i in 0..rows {
            for (j, xj) in x64.iter().enumerate() {
                for k in 0..kb {
                    lhs.a.push(xj.a[i]);
                    lhs.b.push(xj.b[i]);
                    rhs.a.push(t64.a[j * kb + k]);
                    rhs.b.push(t64.b[j * kb + k]);
                }
            }
        }
        let below = pt.lt_arith(&lhs, &rhs)?;
        drop((lhs, rhs));
        let ones = pt.public(&vec![1u64; rows]);
        let k = m + 1;
        let mut by_row = AShare::<u64> {
            a: Vec::with_capacity(rows * k),
            b: Vec::with_capacity(rows * k),
        };
        for i in 0..rows {
            by_row.a.push(ones.a[i]);
            by_row.b.push(ones.b[i]);
            for e in i * m..(i + 1) * m {
                // [x ≥ t] = 1 − [x < t]
                by_row.a.push(ones.a[i].wrapping_sub(below.a[e]));
                by_row.b.push(ones.b[i].wrapping_sub(below.b[e]));
            }
        }
        let mut by_candidate = AShare::<u64> {
            a: vec![0; rows * k],
            b: vec![0; rows * k],
        };
        for i in 0..rows {
            for c in 0..k {
                by_candidate.a[c * rows + i] = by_row.a[i * k + c];
                by_candidate.b[c * rows + i] = by_row.b[i * k + c];
            }
        }
        Ok(Candidates {
            k,
            by_row,
            by_candidate,
        })
    }
}

/// What every tree of one fit shares.
struct Ctx<'a> {
    spec: &'a BoostedTreesSpec,
    cand: &'a Candidates,
    thresholds: &'a AShare<u128>,
    rows: usize,
}

/// `x` (signed, |x| < 2^62 raw) from Z_2^64 to Z_2^128.
fn lift_signed(pt: &mut Party, x: &AShare<u64>) -> Result<AShare<u128>> {
    let up = pt.add_const(x, LIFT_OFFSET);
    let wide = pt.lift_u64(&up)?;
    Ok(pt.add_const(&wide, u128::from(LIFT_OFFSET).wrapping_neg()))
}

/// `len` copies of each element of `x`, element by element.
fn repeat_each<R: tessera_mpc::Ring>(x: &AShare<R>, len: usize) -> AShare<R> {
    AShare {
        a: x.a
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v, len))
            .collect(),
        b: x.b
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v, len))
            .collect(),
    }
}

impl Ctx<'_> {
    /// One tree from the training rows' gradients and hessians (Z_2^64, fixed point, zero
    /// off the training rows): the values to seal with `reveal_model` (split bits,
    /// covariate indices, thresholds, leaves) and every row's score increment.
    fn tree(
        &self,
        pt: &mut Party,
        g: &AShare<u64>,
        h: &AShare<u64>,
    ) -> Result<(Vec<AShare<u128>>, AShare<u128>)> {
        let spec = self.spec;
        let f = pt.frac_bits();
        let (rows, k) = (self.rows, self.cand.k);
        let c = k - 1;
        let kb = spec.bins - 1;
        // Node indicators of the current level, and the previous level's sums (per node:
        // K gradient sums, then K hessian sums).
        let mut nodes: Vec<AShare<u64>> = vec![pt.public(&vec![1u64; rows])];
        let mut parent: Vec<AShare<u64>> = Vec::new();
        let (mut bits, mut covs, mut thrs) = (Vec::new(), Vec::new(), Vec::new());
        for level in 0..spec.depth {
            let l = nodes.len();
            let sums = self.level_sums(pt, &nodes, &parent, g, h, level)?;
            // Candidates' right sides (columns 1..K) and the nodes' totals (column 0).
            let mut gr = Vec::new();
            let mut hr = Vec::new();
            let mut gt = Vec::new();
            let mut ht = Vec::new();
            for s in &sums {
                gr.push(s.slice(1..k));
                hr.push(s.slice(k + 1..2 * k));
                gt.push(s.slice(0..1));
                ht.push(s.slice(k..k + 1));
            }
            let cat = |v: &Vec<AShare<u64>>| AShare::concat(&v.iter().collect::<Vec<_>>());
            let (gr, hr, gt, ht) = (cat(&gr), cat(&hr), cat(&gt), cat(&ht));
            let gl = repeat_each(&gt, c).sub(&gr);
            let hl = repeat_each(&ht, c).sub(&hr);
            // min_child_weight: [H_R < mcw], [H_L < mcw] in Z_2^64.
            let mcw = encode::<u64>(spec.min_child_weight, f);
            let both_h = AShare::concat(&[&hr, &hl]);
            let under = pt.lt(&both_h, &pt.public(&vec![mcw; 2 * l * c]))?;
            let under = pt.inject::<u128>(&[&under], 2 * l * c)?.remove(0);
            let ok_r = pt.add_const(&under.slice(0..l * c).neg(), 1);
            let ok_l = pt.add_const(&under.slice(l * c..2 * l * c).neg(), 1);
            // The sums in Z_2^128.
            let wide = lift_signed(pt, &AShare::concat(&[&gl, &gr, &gt, &hl, &hr, &ht]))?;
            let n = l * c;
            let parts = wide.split(&[n, n, l, n, n, l]);
            let lam = encode::<u128>(spec.lambda, f);
            let den = pt.add_const(&AShare::concat(&[&parts[3], &parts[4], &parts[5]]), lam);
            let num = AShare::concat(&[&parts[0], &parts[1], &parts[2]]);
            let valid = pt.mul(&ok_r, &ok_l)?;
            let terms = if spec.objective == Objective::Binary {
                // G²·2^14/(H + λ): |G| ≤ H ≤ 2^20 keeps G² within range.
                let sq = pt.mul_trunc(&num, &num, f)?;
                let rec = pt.recip_pow2(&den, KREC)?;
                pt.mul_trunc(&sq, &rec, f)?
            } else {
                // G·(G/(H + λ)): |G/(H + λ)| is at most the largest residual and the
                // product at most Σ r², where G² alone need not fit.
                let rec = pt.recip_pow2(&den, KREC)?;
                let ratio = pt.mul_trunc(&num, &rec, f + KREC)?;
                pt.mul_trunc(&num, &ratio, f)?
            };
            let tp = repeat_each(&terms.slice(2 * n..2 * n + l), c);
            let gain = terms.slice(0..n).add(&terms.slice(n..2 * n)).sub(&tp);
            let low = 1u128 << (f + INVALID_GAIN_BITS);
            let lifted = pt.add_const(&gain, low);
            let kept = pt.mul(&valid, &lifted)?;
            let masked = pt.add_const(&kept, low.wrapping_neg());
            let (best, onehot) = argmax(pt, &masked, l, c)?;
            // Split bit [0 < best gain]; the choice s = bit · one-hot.
            let split = pt.lt_arith(&AShare::zeros(l), &best)?;
            let s = pt.mul(&repeat_each(&split, c), &onehot)?;
            if spec.reveal_model {
                let idx: Vec<u128> = (0..l * c).map(|e| ((e % c) / kb) as u128).collect();
                let cov: Vec<AShare<u128>> = (0..l)
                    .map(|v| {
                        s.slice(v * c..(v + 1) * c)
                            .mul_public(&idx[v * c..(v + 1) * c])
                            .sum()
                    })
                    .collect();
                let trep = AShare::concat(&vec![self.thresholds; l]);
                thrs.push(pt.dot(&s, &trep, c)?);
                bits.push(split.clone());
                covs.push(AShare::concat(&cov.iter().collect::<Vec<_>>()));
            }
            // Rows going right: S (l × K, a zero first column) · cᵀ (K × rows).
            let s64 = low64(&s);
            let mut sk = AShare::<u64>::zeros(l * k);
            for v in 0..l {
                for e in 0..c {
                    sk.a[v * k + 1 + e] = s64.a[v * c + e];
                    sk.b[v * k + 1 + e] = s64.b[v * c + e];
                }
            }
            let right = pt.matmul(&sk, &self.cand.by_candidate, l, k, rows)?;
            let rights: Vec<AShare<u64>> = (0..l)
                .map(|v| right.slice(v * rows..(v + 1) * rows))
                .collect();
            let pairs: Vec<(&AShare<u64>, &AShare<u64>)> = nodes.iter().zip(&rights).collect();
            let goes = pt.mul_many(&pairs)?;
            nodes = nodes
                .iter()
                .zip(goes)
                .flat_map(|(a, r)| [a.sub(&r), r])
                .collect();
            parent = sums;
        }
        // Leaves: G and H of the left leaves by dot products, the right ones the parent's
        // totals minus them.
        let l = nodes.len();
        let half = l / 2;
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for v in 0..half {
            xs.extend([&nodes[2 * v], &nodes[2 * v]]);
            ys.extend([g, h]);
        }
        let left = pt.dot(&AShare::concat(&xs), &AShare::concat(&ys), rows)?;
        let mut gs = Vec::new();
        let mut hs = Vec::new();
        for (v, p) in parent.iter().enumerate().take(half) {
            let (lg, lh) = (
                left.slice(2 * v..2 * v + 1),
                left.slice(2 * v + 1..2 * v + 2),
            );
            gs.extend([lg.clone(), p.slice(0..1).sub(&lg)]);
            hs.extend([lh.clone(), p.slice(k..k + 1).sub(&lh)]);
        }
        let cat = |v: &Vec<AShare<u64>>| AShare::concat(&v.iter().collect::<Vec<_>>());
        let wide = lift_signed(pt, &AShare::concat(&[&cat(&gs), &cat(&hs)]))?;
        let (gw, hw) = (wide.slice(0..l), wide.slice(l..2 * l));
        let rec = pt.recip_pow2(&pt.add_const(&hw, encode(spec.lambda, f)), KREC)?;
        let ratio = pt.mul_trunc(&gw, &rec, f + KREC)?;
        let leaves = pt.mul_public_real(&ratio, -spec.learning_rate)?;
        // Every row's increment: leaves (1 × l) · indicators (l × rows), lifted.
        let a = cat(&nodes);
        let delta = pt.matmul(&low64(&leaves), &a, 1, l, rows)?;
        let delta = lift_signed(pt, &delta)?;
        let mut sealed = Vec::new();
        if spec.reveal_model {
            let all = |v: Vec<AShare<u128>>| AShare::concat(&v.iter().collect::<Vec<_>>());
            sealed.extend([all(bits), all(covs), all(thrs), leaves]);
        }
        Ok((sealed, delta))
    }

    /// Per node of one level: the K gradient sums then the K hessian sums of its rows over
    /// every candidate's right side (column 0: all its rows). Level 0 is one product of
    /// `(g, h)ᵀ · c`; deeper levels compute the left children (`a ⊙ g`, `a ⊙ h`) and take
    /// the right ones as the parent's minus the left's.
    fn level_sums(
        &self,
        pt: &mut Party,
        nodes: &[AShare<u64>],
        parent: &[AShare<u64>],
        g: &AShare<u64>,
        h: &AShare<u64>,
        level: usize,
    ) -> Result<Vec<AShare<u64>>> {
        let (rows, k) = (self.rows, self.cand.k);
        if level == 0 {
            let m = AShare::concat(&[g, h]);
            let s = pt.matmul(&m, &self.cand.by_row, 2, rows, k)?;
            return Ok(vec![s]);
        }
        let half = nodes.len() / 2;
        let mut pairs = Vec::with_capacity(2 * half);
        for v in 0..half {
            pairs.push((&nodes[2 * v], g));
            pairs.push((&nodes[2 * v], h));
        }
        let m = pt.mul_many(&pairs)?;
        let s = pt.matmul(
            &AShare::concat(&m.iter().collect::<Vec<_>>()),
            &self.cand.by_row,
            2 * half,
            rows,
            k,
        )?;
        let mut out = Vec::with_capacity(2 * half);
        for (v, p) in parent.iter().enumerate().take(half) {
            let left = s.slice(2 * v * k..(2 * v + 2) * k);
            let right = p.sub(&left);
            out.extend([left, right]);
        }
        Ok(out)
    }
}

/// The largest of each node's `c` values (`l` nodes, node-major) and a one-hot vector of
/// the first position holding it: a tournament of comparisons (ties go to the earlier),
/// the one-hot vectors merged by products. Nothing opened.
fn argmax(
    pt: &mut Party,
    values: &AShare<u128>,
    l: usize,
    c: usize,
) -> Result<(AShare<u128>, AShare<u128>)> {
    let p = c.next_power_of_two();
    let pad = 1u128 << 100;
    // Padded candidates (−2^100) below every real one (gains within ±2^76).
    let mut v = AShare::<u128>::zeros(l * p);
    let padv = pt.public(&[pad.wrapping_neg()]);
    for node in 0..l {
        for e in 0..p {
            let (a, b) = if e < c {
                (values.a[node * c + e], values.b[node * c + e])
            } else {
                (padv.a[0], padv.b[0])
            };
            v.a[node * p + e] = a;
            v.b[node * p + e] = b;
        }
    }
    let mut oh = pt.public(&vec![1u128; l * p]);
    let mut size = 1; // one-hot entries per group
    let mut groups = p; // groups per node
    while groups > 1 {
        let half = groups / 2;
        let (mut vl, mut vr) = (Vec::new(), Vec::new());
        let (mut ol, mut or) = (Vec::new(), Vec::new());
        for node in 0..l {
            for q in 0..half {
                let a = node * groups + 2 * q;
                vl.push(a);
                vr.push(a + 1);
                ol.extend((a * size)..(a + 1) * size);
                or.extend(((a + 1) * size)..(a + 2) * size);
            }
        }
        let (vl, vr) = (gather(&v, &vl), gather(&v, &vr));
        let (ol, or) = (gather(&oh, &ol), gather(&oh, &or));
        let b = pt.lt_arith(&vl, &vr)?;
        let brep = repeat_each(&b, size);
        let prod = pt.mul_many(&[(&b, &vr.sub(&vl)), (&brep, &ol), (&brep, &or)])?;
        v = vl.add(&prod[0]);
        let left = ol.sub(&prod[1]);
        let right = &prod[2];
        let mut next = AShare::<u128>::zeros(l * p);
        for gidx in 0..l * half {
            for e in 0..size {
                next.a[gidx * 2 * size + e] = left.a[gidx * size + e];
                next.b[gidx * 2 * size + e] = left.b[gidx * size + e];
                next.a[gidx * 2 * size + size + e] = right.a[gidx * size + e];
                next.b[gidx * 2 * size + size + e] = right.b[gidx * size + e];
            }
        }
        oh = next;
        size *= 2;
        groups = half;
    }
    let mut onehot = AShare::<u128>::zeros(l * c);
    for node in 0..l {
        for e in 0..c {
            onehot.a[node * c + e] = oh.a[node * p + e];
            onehot.b[node * c + e] = oh.b[node * p + e];
        }
    }
    Ok((v, onehot))
}
