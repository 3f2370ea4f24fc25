//! The design matrix inside MPC, and its moments.
//!
//! # Protocol
//!
//! 1. Public checks ([`prepare`]): the covariates are expanded into design columns by
//!    [`crate::terms`] (products `a.x:b.y`, `a.x*b.y`, `num(a.s)`); the columns exist and
//!    have the right kind; the number of model variables `p` (design columns, intercept
//!    included) against the linked row count (`min_rows`, `max_vars_per_row`). The products
//!    are computed there ([`crate::terms::evaluate`]: an indicator times anything exactly,
//!    two fixed-point columns with one multiply-and-truncate; every product of a depth in
//!    the same rounds, 16 bytes per product and row) and never opened.
//! 2. Row weight: `w_i = Π present_ic` over the outcome and every column the terms read, as
//!    the AND of the indicators' lowest bits (free to extract from an arithmetic sharing): a
//!    tree of `c − 1` boolean ANDs of n bits in ⌈log2 c⌉ rounds for `c` columns, then one
//!    bit injection into Z_2^128 (n ring elements, two rounds). `w` is never opened: which
//!    rows are complete stays secret.
//! 3. `n = Σ w` (local). Two bits are opened: whether `n < min_rows` and whether
//!    `p > max_vars_per_row · n`; with categorical covariates and `min_level_rows` > 0, a
//!    third: whether any level (the reference level included) has fewer complete rows than
//!    `min_level_rows` (the counts `Σ w·onehot` stay secret; only that one bit is opened).
//!    A refusal names its rule and opens nothing else. Then `n` itself is opened (it is part
//!    of every result, like statsmodels' `nobs`).
//! 4. Moments ([`moments`]), in chunks of [`CHUNK`] rows: the column sums `Σ w x` (each
//!    party's additive part of the dot products with the integer weights, shared once: exact,
//!    k elements); the means
//!    `m = Σ w x / n`; the centred, masked rows `w ∘ (x − m)` (n·k integer-by-fixed products,
//!    exact); their cross products `Σ w (x − m)(x − m)'` (each party's additive part of the
//!    matrix product, upper triangle only, accumulated locally over the chunks, then shared
//!    once: k² elements; exact at 2f fractional bits) and an exact division
//!    ([`div_count_exact`]: bit decomposition, so no size limit from the truncation) to the
//!    covariance
//!    `C = Σ w (x − m)(x − m)' / n`. Centring the rows (rather than subtracting `n m m'`
//!    from raw cross products) avoids the cancellation that fixed point cannot afford.
//!    Without an intercept nothing is centred and `C` holds the raw second moments.
//! 5. Standardisation ([`standardise`]): one bit is opened, whether every variance lies in
//!    [[`MIN_VAR`], [`MAX_VAR`]] (an error otherwise: a constant column, or a level that no
//!    complete row has; the check runs beside the `rsqrt` below, whose value a refusal
//!    drops); `sd = √diag C` and `r = 1/sd` (one `rsqrt` of k values), and the
//!    correlation matrix `R = C ∘ r r'`, whose entries are O(1) whatever the scale of the
//!    data: the matrices inverted later are well scaled. A fit that needs its columns
//!    standardised only within a factor of two (logistic regression) takes [`scaled`]
//!    instead: the same variance bit from the exact sums of squares compared with `n`
//!    times the bounds, and power-of-two scales `s` (`s·sd` in `[1/2, 1]`) from their
//!    leading ones: no exact division, no `rsqrt`, no covariance matrix.
//!
//! # Cost (per party, n rows, k variables, c distinct source columns)
//!
//! Bytes: `n·(c − 1)/8 + 16·n` (weights) + `16·n·k` (masked centred rows) + `16·k` per
//! chunk (sums) + `16·k²` (cross products) + O(k²) for the divisions, the rsqrt and the
//! products of step 5. Rounds: ⌈log2 c⌉ + 2 (weights), 2 per chunk, ~60 (rsqrt and
//! divisions). Local work is dominated by the cross products, n·k(k+1) 128-bit
//! multiply-adds.
//!
//! # Valid input
//!
//! Numeric values with |x| < 2^30; for every design column `n·|mean| < 10^20` and
//! `1e-6 ≤ Var(x) ≤ 10^12` (Var about the mean with an intercept, the mean square without;
//! checked, see step 5; the upper end keeps `sd·2^64` within the probabilistic truncation's
//! range when the covariance is scaled by `r`). Collinear columns cannot be detected without
//! opening more and give meaningless estimates (the plaintext twin reports them as singular).
//!
//! LEAKAGE: the rule bits of step 3, `n` and the variance bit of step 5, commented where they
//! are opened.

use tessera_mpc::boolean::words_for;
use tessera_mpc::fixed::encode;
use tessera_mpc::{AShare, BShare, Party};

use crate::disclosure::Disclosure;
use crate::error::{Result, StatsError};
use crate::table::Frame;
use crate::terms::{self, DesignColumn};

/// Extra fractional bits (beyond the party's `f`) of the covariance and correlation matrices:
/// the cross products are exact at 2f bits, so keeping f + 16 costs nothing and lets least
/// squares refine its solution beyond what f bits of the correlation matrix allow.
pub const HI: u32 = 16;

/// Smallest variance of a model variable (and of the outcome) the fit accepts.
pub const MIN_VAR: f64 = 1e-6;
/// Largest variance of a model variable (and of the outcome) the fit accepts.
pub const MAX_VAR: f64 = 1e12;

/// Rows per chunk in the moment computation (bounds the memory of the transposed copies).
pub const CHUNK: usize = 1 << 16;

/// The design columns of a model, ready for the moments: everything here is shared except
/// the names, the flags and `n`.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Design column names, the intercept first if there is one.
    pub names: Vec<String>,
    /// Whether the model has an intercept.
    pub intercept: bool,
    /// The non-intercept design columns (fixed point; indicators scaled to 1.0), unmasked.
    pub columns: Vec<AShare<u128>>,
    /// The outcome column (fixed point), unmasked.
    pub outcome: AShare<u128>,
    /// The row weights: 1 for a complete case, 0 otherwise (integers, not fixed point).
    pub weight: AShare<u128>,
    /// Number of rows used (opened).
    pub n: usize,
}

impl Prepared {
    /// Number of model variables (design columns, intercept included).
    pub fn vars(&self) -> usize {
        self.names.len()
    }
}

/// The names of the design columns, the intercept first (the covariates expanded by
/// [`crate::terms`]); errors for unknown columns, a categorical column with fewer than two
/// levels, or malformed or repeated terms.
pub fn column_names(frame: &Frame, covariates: &[String], intercept: bool) -> Result<Vec<String>> {
    Ok(with_intercept(
        &terms::shared_design(frame, covariates)?,
        intercept,
    ))
}

/// The name of the intercept's design column.
pub const INTERCEPT: &str = "intercept";

/// The names of `design`'s columns, `intercept` first if there is one.
pub fn with_intercept(design: &[DesignColumn], intercept: bool) -> Vec<String> {
    intercept
        .then(|| INTERCEPT.to_string())
        .into_iter()
        .chain(design.iter().map(|c| c.name.clone()))
        .collect()
}

/// Smallest row count `n` with `vars ≤ max_vars_per_row · n` (what `check_vars` accepts).
fn min_rows_for(vars: usize, per_row: f64) -> u64 {
    if per_row.is_nan() || per_row <= 0.0 {
        return u64::MAX;
    }
    let mut t = (vars as f64 / per_row).ceil().max(0.0) as u64;
    while t > 0 && vars as f64 <= per_row * (t - 1) as f64 {
        t -= 1;
    }
    while (vars as f64) > per_row * t as f64 {
        t += 1;
    }
    t
}

/// The lowest bit of every element of an arithmetic sharing, as a packed boolean sharing.
/// Local: the lowest bit of `s0 + s1 + s2` is the xor of the shares' lowest bits (no carry
/// reaches bit 0), so each share's lowest bit is a share of it.
fn low_bits(x: &AShare<u128>) -> BShare {
    let pack = |v: &[u128]| {
        let mut w = vec![0u64; words_for(v.len())];
        for (i, &e) in v.iter().enumerate() {
            w[i / 64] |= ((e & 1) as u64) << (i % 64);
        }
        w
    };
    BShare {
        a: pack(&x.a),
        b: pack(&x.b),
    }
}

/// The row weight: the AND of 0/1 integer indicators, computed on their lowest bits as a
/// tree of boolean ANDs (⌈log2 c⌉ rounds, one bit per row and AND), then injected back into
/// Z_2^128 (two rounds, one ring element per row).
fn row_weight(p: &mut Party, presents: &[&AShare<u128>]) -> Result<AShare<u128>> {
    let n = presents.first().map_or(0, |x| x.len());
    let mut v: Vec<BShare> = presents.iter().map(|x| low_bits(x)).collect();
    while v.len() > 1 {
        let odd = (v.len() % 2 == 1).then(|| v.pop().expect("non-empty"));
        let pairs: Vec<_> = v.chunks(2).map(|c| (&c[0], &c[1])).collect();
        v = p.and_many(&pairs)?;
        v.extend(odd);
    }
    let bits = v.pop().expect("at least one column");
    Ok(p.inject::<u128>(&[&bits], n)?.remove(0))
}

/// Checks a model and gathers its columns: the public checks, the row weight, the two rule
/// bits and `n` (see the module docs, steps 1–3).
pub fn prepare(
    p: &mut Party,
    frame: &Frame,
    outcome: &str,
    covariates: &[String],
    intercept: bool,
    disclosure: &Disclosure,
) -> Result<Prepared> {
    prepare_with(p, frame, (outcome, &[]), covariates, intercept, disclosure)
}

/// [`prepare`] with more columns that a complete case needs besides the outcome and the
/// covariates (`extra`: e.g. the event indicator of a survival outcome whose time is
/// `outcome`); they are checked against the column rules and must not be covariates.
pub fn prepare_with(
    p: &mut Party,
    frame: &Frame,
    (outcome, extra): (&str, &[&str]),
    covariates: &[String],
    intercept: bool,
    disclosure: &Disclosure,
) -> Result<Prepared> {
    if covariates.is_empty() {
        return Err(StatsError::Invalid(
            "a regression needs at least one covariate".into(),
        ));
    }
    let sources = terms::columns(covariates);
    if let Some(c) = std::iter::once(&outcome)
        .chain(extra)
        .find(|c| sources.contains(c))
    {
        return Err(StatsError::Invalid(format!(
            "`{c}` is both the outcome and a covariate"
        )));
    }
    let design = terms::shared_design(frame, covariates)?;
    let names = with_intercept(&design, intercept);
    let (y, y_present) = frame.numeric(outcome)?;
    // Public rules first (columns, the linked row count): refuse before anything is computed.
    let used: Vec<&str> = std::iter::once(outcome)
        .chain(extra.iter().copied())
        .chain(sources.iter().copied())
        .collect();
    disclosure.check_columns(&used)?;
    disclosure.check_rows(frame.rows)?;
    disclosure.check_vars(names.len(), frame.rows)?;

    let mut presents = vec![y_present];
    for c in extra {
        presents.push(&*frame.column(c)?.present);
    }
    for c in terms::design_sources(&design) {
        presents.push(&*frame.column(c)?.present);
    }
    // Every level of every categorical factor, inside products too (`min_level_rows`).
    let mut levels: Vec<&AShare<u128>> = Vec::new();
    for c in terms::categorical_sources(&design) {
        levels.extend(frame.categorical(c)?.onehot.iter());
    }
    let columns = terms::evaluate(p, frame, &design)?;
    let weight = row_weight(p, &presents)?;
    let count = weight.sum();
    let vars = names.len();
    let thresholds = [
        u128::from(disclosure.min_rows),
        u128::from(min_rows_for(vars, disclosure.max_vars_per_row)),
    ];
    let both = AShare::concat(&[&count, &count]);
    let mut below = p.lt_arith(&both, &p.public(&thresholds))?;
    if disclosure.min_level_rows > 0 && !levels.is_empty() {
        // Complete rows per level of every categorical covariate (reference levels too):
        // each party's additive part of the dot products with the weights, shared once.
        let parts: Vec<u128> = levels.iter().map(|h| dot_part(&weight, h)).collect();
        let counts = from_parts(p, &parts)?;
        let min = vec![u128::from(disclosure.min_level_rows); counts.len()];
        let small = p.lt_arith(&counts, &p.public(&min))?;
        let any = p.lt_arith(&p.public(&[0u128]), &small.sum())?;
        below = AShare::concat(&[&below, &any]);
    }
    // LEAKAGE: two bits, whether the number of complete rows is below `min_rows` and below
    // what `max_vars_per_row` needs, and (when `min_level_rows` applies) a third bit, whether
    // any level of a categorical covariate has fewer complete rows than `min_level_rows`
    // (not which one); a refusal is all that is learnt from them.
    let below = p.reveal(&below)?;
    if below.get(2) == Some(&1) {
        return Err(StatsError::Refused {
            rule: "min_level_rows".into(),
            detail: format!(
                "a level of a categorical covariate has fewer than {} complete rows",
                disclosure.min_level_rows
            ),
        });
    }
    if below[0] == 1 {
        return Err(StatsError::Refused {
            rule: "min_rows".into(),
            detail: format!(
                "fewer than {} complete rows for this model",
                disclosure.min_rows
            ),
        });
    }
    if below[1] == 1 {
        return Err(StatsError::Refused {
            rule: "max_vars_per_row".into(),
            detail: format!(
                "too few complete rows for {vars} variables at most {} per row",
                disclosure.max_vars_per_row
            ),
        });
    }
    // LEAKAGE: the number of complete rows, part of the result (`nobs`).
    let n = p.reveal(&count)?[0] as usize;
    if n <= vars {
        return Err(StatsError::Invalid(format!(
            "{n} complete rows for {vars} model variables: nothing left to estimate the error"
        )));
    }
    Ok(Prepared {
        names,
        intercept,
        columns,
        outcome: y.clone(),
        weight,
        n,
    })
}

/// A vector of `len` copies of element `j` of `x` (local).
pub fn broadcast(x: &AShare<u128>, j: usize, len: usize) -> AShare<u128> {
    AShare {
        a: vec![x.a[j]; len],
        b: vec![x.b[j]; len],
    }
}

/// The row-major matrix whose columns are `cols` (local transpose).
pub fn rows_of(cols: &[&AShare<u128>]) -> AShare<u128> {
    let k = cols.len();
    let n = cols.first().map_or(0, |c| c.len());
    let mut out = AShare {
        a: Vec::with_capacity(n * k),
        b: Vec::with_capacity(n * k),
    };
    for i in 0..n {
        for c in cols {
            out.a.push(c.a[i]);
            out.b.push(c.b[i]);
        }
    }
    out
}

/// Divides shared values held with `f + extra` fractional bits by the public count `n`,
/// returning them with `f` bits: one truncation by `extra + ⌊log2 n⌋` bits, then a product
/// with the public `2^⌊log2 n⌋ / n ∈ (1/2, 1]` (encoded to 2^-f relative).
pub fn div_count(p: &mut Party, x: &AShare<u128>, extra: u32, n: usize) -> Result<AShare<u128>> {
    let (d, _) = count_split(n);
    let t = p.trunc(x, extra + d)?;
    scale_count(p, &t, n)
}

/// The public count `n` as `2^d / c`: `d = ⌊log2 n⌋` and `c = 2^d / n ∈ (1/2, 1]`, so that a
/// division by `n` is a truncation by `d` bits (which may be fused with a product's) and a
/// product with `c` ([`scale_count`]).
pub fn count_split(n: usize) -> (u32, f64) {
    let d = usize::BITS - 1 - n.max(1).leading_zeros();
    (d, (d as f64).exp2() / n as f64)
}

/// The second half of a division by the count `n` ([`count_split`]): values already
/// divided by `2^d` times the public `c` (encoded to 2^-f relative; nothing to do when
/// `n` is a power of two).
pub fn scale_count(p: &mut Party, x: &AShare<u128>, n: usize) -> Result<AShare<u128>> {
    let (_, c) = count_split(n);
    if c == 1.0 {
        return Ok(x.clone());
    }
    Ok(p.mul_const_fix(x, c)?)
}

/// Adds this party's additive (3-out-of-3) part of `X'X` to `acc` (k×k, upper triangle
/// only), for the shared columns `cols` of X: with `x = s0 + s1 + s2` and party i holding
/// `(s_i, s_{i+1})`, the parts `s_i·(t_i + t_{i+1}) + s_{i+1}·t_i` of the three parties sum
/// to `x·y`. Local; symmetric, so half the work of a general matrix product.
pub(crate) fn gram_part(cols: &[AShare<u128>], acc: &mut [u128]) {
    let k = cols.len();
    let n = cols.first().map_or(0, |c| c.len());
    let mut a = vec![0u128; k];
    let mut sum = vec![0u128; k];
    let mut bb = vec![0u128; k];
    for t in 0..n {
        for (j, c) in cols.iter().enumerate() {
            a[j] = c.a[t];
            bb[j] = c.b[t];
            sum[j] = c.a[t].wrapping_add(c.b[t]);
        }
        for i in 0..k {
            let (ai, bi) = (a[i], bb[i]);
            let row = &mut acc[i * k..(i + 1) * k];
            for j in i..k {
                row[j] = row[j]
                    .wrapping_add(ai.wrapping_mul(sum[j]))
                    .wrapping_add(bi.wrapping_mul(a[j]));
            }
        }
    }
}

/// Fills the lower triangle of a k×k row-major matrix from its upper triangle (what
/// [`gram_part`] accumulates).
pub(crate) fn mirror(part: &mut [u128], k: usize) {
    for j in 0..k {
        for l in 0..j {
            part[j * k + l] = part[l * k + j];
        }
    }
}

/// This party's additive (3-out-of-3) part of the dot product `Σ_t x_t·y_t` (local): with
/// `x = s0 + s1 + s2` and party i holding `(s_i, s_{i+1})`, the parts
/// `s_i·(t_i + t_{i+1}) + s_{i+1}·t_i` of the three parties sum to `x·y`. Turn parts into a
/// sharing with [`from_parts`].
pub fn dot_part(x: &AShare<u128>, y: &AShare<u128>) -> u128 {
    x.a.iter()
        .zip(&x.b)
        .zip(y.a.iter().zip(&y.b))
        .fold(0u128, |acc, ((&xa, &xb), (&ya, &yb))| {
            acc.wrapping_add(xa.wrapping_mul(ya.wrapping_add(yb)))
                .wrapping_add(xb.wrapping_mul(ya))
        })
}

/// Turns additive parts (each party's own vector; the three sum to the secret) into a
/// replicated sharing: every party secret-shares its part ([`Party::share_input`]: fresh
/// randomness, so nothing about a part is learnt) and the three sharings are added.
/// Three rounds, `len` elements sent by each party.
pub fn from_parts(p: &mut Party, part: &[u128]) -> Result<AShare<u128>> {
    let mut out = AShare::zeros(part.len());
    for owner in 0..3 {
        let mine = (p.id() == owner).then_some(part);
        out = out.add(&p.share_input(owner, mine, part.len())?);
    }
    Ok(out)
}

/// Exact `floor(x / 2^d)` of shared values in Z_2^128, whatever their size (an arithmetic
/// shift of the bit decomposition: [`Party::a2b`] of 128 bits, planes `d..128` and `d`
/// copies of the sign, [`Party::b2a`]). About 300 bytes and 20 rounds per element: for the
/// few large sums whose probabilistic truncation would be outside its valid range.
pub fn trunc_exact(p: &mut Party, x: &AShare<u128>, d: u32) -> Result<AShare<u128>> {
    let planes = p.a2b(x, 128)?;
    let d = d as usize;
    let mut shifted: Vec<BShare> = planes[d..].to_vec();
    shifted.extend(std::iter::repeat_n(planes[127].clone(), d));
    Ok(p.b2a::<u128>(&shifted, x.len())?)
}

/// [`div_count`] for sums of any size below the ring (no valid-range limit from the
/// truncation): exact division by `2^⌊log2 n⌋`, product with the public integer
/// `round(2^32·2^⌊log2 n⌋/n)` (a relative error below 2^-32, the same for every element),
/// exact division by `2^(32 + extra)`. Inputs must satisfy `|x|·2^32/n < 2^126`.
pub fn div_count_exact(
    p: &mut Party,
    x: &AShare<u128>,
    extra: u32,
    n: usize,
) -> Result<AShare<u128>> {
    let d = usize::BITS - 1 - n.max(1).leading_zeros();
    let t = trunc_exact(p, x, d)?;
    let c = ((d as f64).exp2() / n as f64 * 2f64.powi(32)).round() as u128;
    trunc_exact(p, &t.mul_const(c), 32 + extra)
}

/// The means and the covariance (or raw second moments) of the design's variables over the
/// rows used.
#[derive(Clone, Debug)]
pub struct Moments {
    /// Number of variables k.
    pub k: usize,
    /// Means (k; zero sharings when not centred).
    pub mean: AShare<u128>,
    /// `Σ w (x − m)(x − m)' / n`, k×k row-major, with `f + HI` fractional bits.
    pub cov: AShare<u128>,
    /// The masked, centred columns `w ∘ (x − m)`, when asked for.
    pub centred: Option<Vec<AShare<u128>>>,
}

/// The moments of `vars` (each of `weight.len()` rows) weighted by the 0/1 `weight` over
/// `n` rows used: centred about their means if `centre`, raw otherwise. With `keep` the
/// masked centred columns are returned too (logistic regression iterates on them).
pub fn moments(
    p: &mut Party,
    vars: &[&AShare<u128>],
    weight: &AShare<u128>,
    n: usize,
    centre: bool,
    keep: bool,
) -> Result<Moments> {
    let k = vars.len();
    let rows = weight.len();
    let f = p.frac_bits();
    if f < HI {
        return Err(StatsError::Invalid(format!(
            "regression needs at least {HI} fractional bits, the party uses {f}"
        )));
    }
    let mean = means(p, vars, weight, n, centre)?;
    // This party's additive part of the cross products, accumulated over the chunks (upper
    // triangle), turned into a sharing once at the end.
    let mut part = vec![0u128; k * k];
    let mut kept: Vec<Vec<AShare<u128>>> = vec![Vec::new(); k];
    for (a, b) in chunks(rows) {
        let masked = centred_chunk(p, vars, weight, &mean, a..b)?;
        gram_part(&masked, &mut part);
        if keep {
            for (j, m) in masked.into_iter().enumerate() {
                kept[j].push(m);
            }
        }
    }
    mirror(&mut part, k);
    let cross = from_parts(p, &part)?;
    let cov = div_count_exact(p, &cross, f - HI, n)?;
    let centred = keep.then(|| joined(&kept));
    Ok(Moments {
        k,
        mean,
        cov,
        centred,
    })
}

/// The row ranges of the chunks of [`CHUNK`] rows.
fn chunks(rows: usize) -> Vec<(usize, usize)> {
    (0..rows)
        .step_by(CHUNK)
        .map(|a| (a, (a + CHUNK).min(rows)))
        .collect()
}

/// The columns made of each column's chunks, in order.
fn joined(kept: &[Vec<AShare<u128>>]) -> Vec<AShare<u128>> {
    kept.iter()
        .map(|parts| AShare::concat(&parts.iter().collect::<Vec<_>>()))
        .collect()
}

/// The means `Σ w x / n` of `vars` (f fractional bits) when `centre`, else zeros: each
/// party's additive part of the dot products with the integer weights, shared once.
fn means(
    p: &mut Party,
    vars: &[&AShare<u128>],
    weight: &AShare<u128>,
    n: usize,
    centre: bool,
) -> Result<AShare<u128>> {
    if !centre {
        return Ok(AShare::zeros(vars.len()));
    }
    let sums: Vec<u128> = vars.iter().map(|v| dot_part(v, weight)).collect();
    let sums = from_parts(p, &sums)?;
    div_count(p, &sums, 0, n)
}

/// The masked centred rows `w ∘ (x − m)` of the rows `range` of every column of `vars`
/// (integer-by-fixed products, exact).
fn centred_chunk(
    p: &mut Party,
    vars: &[&AShare<u128>],
    weight: &AShare<u128>,
    mean: &AShare<u128>,
    range: std::ops::Range<usize>,
) -> Result<Vec<AShare<u128>>> {
    let w = weight.slice(range.clone());
    let diffs: Vec<AShare<u128>> = vars
        .iter()
        .enumerate()
        .map(|(j, v)| {
            let (ma, mb) = (mean.a[j], mean.b[j]);
            AShare {
                a: v.a[range.clone()]
                    .iter()
                    .map(|x| x.wrapping_sub(ma))
                    .collect(),
                b: v.b[range.clone()]
                    .iter()
                    .map(|x| x.wrapping_sub(mb))
                    .collect(),
            }
        })
        .collect();
    let pairs: Vec<_> = diffs.iter().map(|d| (&w, d)).collect();
    Ok(p.mul_many(&pairs)?)
}

/// The design's columns scaled by powers of two, for a fit that needs them standardised
/// only within a factor of two (logistic regression): `z_j = w ∘ (x_j − m_j) ∘ s_j` with
/// `s_j = 2^-e_j` and `s_j·sd_j` in `[1/2, 1]`.
#[derive(Clone, Debug)]
pub struct Scaled {
    /// Means `m` (k, f fractional bits; zero sharings when not centred).
    pub mean: AShare<u128>,
    /// The masked, centred columns `w ∘ (x − m)` (raw `w ∘ x` when not centred).
    pub centred: Vec<AShare<u128>>,
    /// The scales `s` (k, f fractional bits, exact powers of two).
    pub scale: AShare<u128>,
}

/// The means, the masked centred columns and power-of-two scales of `vars` over the `n`
/// rows used (module docs, step 5, the way a logistic fit needs it): no division of the sums of
/// squares and no square root. The sums `S_j = Σ w (x_j − m_j)²` are exact (2f fractional
/// bits, each party's additive part shared once); the variance check compares them with
/// `n·MIN_VAR` and `n·MAX_VAR` (the same bit as [`standardise`]'s, opened), beside the
/// scales, read from the leading one of `S_j` ([`Party::leading_table`]). About 25 rounds
/// where the covariance's exact division and `rsqrt` took about 85.
pub fn scaled(
    p: &mut Party,
    vars: &[&AShare<u128>],
    weight: &AShare<u128>,
    n: usize,
    centre: bool,
) -> Result<Scaled> {
    let mean = means(p, vars, weight, n, centre)?;
    let mut part = vec![0u128; vars.len()];
    let mut kept: Vec<Vec<AShare<u128>>> = vec![Vec::new(); vars.len()];
    for (a, b) in chunks(weight.len()) {
        let masked = centred_chunk(p, vars, weight, &mean, a..b)?;
        for (j, m) in masked.into_iter().enumerate() {
            part[j] = part[j].wrapping_add(dot_part(&m, &m));
            kept[j].push(m);
        }
    }
    let squares = from_parts(p, &part)?;
    let f = p.frac_bits();
    let (outside, scale) = p.side_by_side(
        |q| variance_outside(q, &squares, (2 * f, n)),
        |q| -> Result<AShare<u128>> {
            let width = squares_width(f, n);
            Ok(q.leading_table(&squares, width, |j| pow2_scale(j, f, n))?)
        },
    )?;
    if outside {
        return Err(variance_error());
    }
    Ok(Scaled {
        mean,
        centred: joined(&kept),
        scale,
    })
}

/// Bits examined for the leading one of a sum of squares `n·var·2^(2f)`: enough for
/// `var ≤ MAX_VAR` (larger sums are refused by the variance check, and their scale is
/// unspecified), at most the ring's 127 non-sign bits.
fn squares_width(f: u32, n: usize) -> usize {
    let top = (n.max(1) as f64 * MAX_VAR).log2() + f64::from(2 * f);
    (top.ceil() as usize + 2).min(127)
}

/// The scale `s = 2^-e` at f fractional bits for a sum of squares `S = n·var·2^(2f)` whose
/// leading one is at `j`: `var` lies in `[2^A, 2^(A+1))` with `A = j − 2f − log2 n`, so
/// `e = ⌈(A + 1)/2⌉` gives `s²·var` in `[1/4, 1]` (clamped to the ring for sums outside the
/// valid range, which the variance check refuses).
fn pow2_scale(j: usize, f: u32, n: usize) -> u128 {
    let a = j as f64 - f64::from(2 * f) - (n.max(1) as f64).log2();
    let e = ((a + 1.0) / 2.0).ceil() as i64;
    1u128 << (i64::from(f) - e).clamp(0, 100)
}

/// Whether some variance `S_j / (n·2^bits)` lies outside [MIN_VAR, MAX_VAR], for sums `S`
/// with `bits` fractional bits: two comparisons with the public bounds times `n`, one bit
/// opened (the variance bit of the module docs).
fn variance_outside(p: &mut Party, sums: &AShare<u128>, (bits, n): (u32, usize)) -> Result<bool> {
    let k = sums.len();
    let bound = |v: f64| (v * n as f64 * f64::from(bits).exp2()).round() as u128;
    let lo = p.public(&vec![bound(MIN_VAR); k]);
    let hi = p.public(&vec![bound(MAX_VAR); k]);
    any_outside(p, sums, &lo, &hi)
}

/// Whether some of `x` lies outside `[lo, hi]` (elementwise bounds): one bit opened.
fn any_outside(
    p: &mut Party,
    x: &AShare<u128>,
    lo: &AShare<u128>,
    hi: &AShare<u128>,
) -> Result<bool> {
    let out = p.lt_arith(&AShare::concat(&[x, hi]), &AShare::concat(&[lo, x]))?;
    let any = p.lt_arith(&p.public(&[0u128]), &out.sum())?;
    // LEAKAGE: one bit, whether some variable's variance among the complete rows is
    // outside [MIN_VAR, MAX_VAR] (an error; which variable is not opened).
    Ok(p.reveal(&any)?[0] == 1)
}

/// The refusal of a variance outside [MIN_VAR, MAX_VAR].
fn variance_error() -> StatsError {
    StatsError::Invalid(format!(
        "a model variable has a variance outside [{MIN_VAR:e}, {MAX_VAR:e}] among the \
         complete rows (a constant column, a level no complete row has, or values on a \
         scale the fixed-point range cannot hold): drop the column or level, or rescale \
         the column (e.g. thousands instead of units, or units instead of thousandths)"
    ))
}

/// Standard deviations, their reciprocals and the correlation matrix of [`Moments`].
#[derive(Clone, Debug)]
pub struct Standardised {
    /// `sd_j = √C_jj` (k).
    pub sd: AShare<u128>,
    /// `r_j = 1/sd_j` (k).
    pub r: AShare<u128>,
    /// `R = C ∘ r r'` (k×k row-major, f fractional bits), see [`scale_both`].
    pub corr: AShare<u128>,
    /// The same with `f + HI` fractional bits.
    pub corr_hi: AShare<u128>,
}

/// Standardises the moments (module docs, step 5).
pub fn standardise(p: &mut Party, m: &Moments) -> Result<Standardised> {
    let (diag, r) = checked_rsqrt(p, m)?;
    let sd = p.mul_fix(&diag, &r)?;
    let corr_hi = scale_both(p, &m.cov, &r)?;
    let corr = p.trunc(&corr_hi, HI)?;
    Ok(Standardised {
        sd,
        r,
        corr,
        corr_hi,
    })
}

/// The variances `C_jj` (f fractional bits) and their reciprocal roots, after the range
/// check of step 5. The check (two comparisons, one opened bit) runs beside the `rsqrt`,
/// whose value is dropped unused if the check refuses: the rounds of the longer only.
fn checked_rsqrt(p: &mut Party, m: &Moments) -> Result<(AShare<u128>, AShare<u128>)> {
    let k = m.k;
    let diag_hi = gather(&m.cov, &(0..k).map(|j| j * k + j).collect::<Vec<_>>());
    let diag = p.trunc(&diag_hi, HI)?;
    // The variances must lie in [MIN_VAR, MAX_VAR] (the valid range of `rsqrt` and of the
    // products that follow): a constant column, or a level no complete row has, would give
    // meaningless numbers instead of an error.
    let f = p.frac_bits();
    let (outside, r) = p.side_by_side(
        |q| -> Result<bool> {
            let lo = q.public(&vec![encode::<u128>(MIN_VAR, f); k]);
            let hi = q.public(&vec![encode::<u128>(MAX_VAR, f); k]);
            any_outside(q, &diag, &lo, &hi)
        },
        |q| -> Result<AShare<u128>> { Ok(q.rsqrt(&diag)?) },
    )?;
    if outside {
        return Err(variance_error());
    }
    Ok((diag, r))
}

/// `A ∘ d d'` for a k×k matrix `A` and a k-vector `d`, as `(A_jl·d_j)·d_l`: two products in
/// sequence, so that no small product `d_j·d_l` is rounded on its own (which would cost
/// relative precision when `d` is small, and make the scaling inconsistent with the one
/// applied to the coefficients).
pub fn scale_both(p: &mut Party, a: &AShare<u128>, d: &AShare<u128>) -> Result<AShare<u128>> {
    let k = d.len();
    let rows = AShare::concat(
        &(0..k)
            .map(|j| broadcast(d, j, k))
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>(),
    );
    let cols = AShare::concat(&vec![d; k]);
    let half = p.mul_fix(a, &rows)?;
    Ok(p.mul_fix(&half, &cols)?)
}

/// Element `i` of a sharing, as a sharing of length one.
pub fn at(x: &AShare<u128>, i: usize) -> AShare<u128> {
    x.slice(i..i + 1)
}

/// Elements `idx` of a sharing (local gather).
pub fn gather(x: &AShare<u128>, idx: &[usize]) -> AShare<u128> {
    AShare {
        a: idx.iter().map(|&i| x.a[i]).collect(),
        b: idx.iter().map(|&i| x.b[i]).collect(),
    }
}

/// A sharing of the public real `v`, `len` times (fixed point).
pub fn constant(p: &Party, v: f64, len: usize) -> AShare<u128> {
    p.public(&vec![encode::<u128>(v, p.frac_bits()); len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tessera_mpc::fixed::{decode_vec, encode_vec};
    use tessera_mpc::testing::{input, run3_ok, same};

    fn mpc_err(e: StatsError) -> tessera_mpc::MpcError {
        match e {
            StatsError::Mpc(m) => m,
            e => panic!("{e}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// The row weight is the product of the present indicators, and the moments are the
        /// weighted mean and covariance of plaintext (centred and raw).
        #[test]
        fn weight_and_moments_match_plaintext(
            rows in 3usize..300,
            seed in any::<u64>(),
            centre in any::<bool>(),
        ) {
            let k = 3;
            let mut s = seed | 1;
            let mut next = move || {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s
            };
            let present: Vec<Vec<u128>> = (0..k)
                .map(|_| (0..rows).map(|_| u128::from(next() % 5 != 0)).collect())
                .collect();
            let x: Vec<Vec<f64>> = (0..k)
                .map(|j| {
                    (0..rows)
                        .map(|_| (next() % 20_000) as f64 / 100.0 - 50.0 + 30.0 * j as f64)
                        .collect()
                })
                .collect();
            let w: Vec<u128> = (0..rows)
                .map(|i| present.iter().map(|p| p[i]).product())
                .collect();
            let n = w.iter().sum::<u128>() as usize;
            prop_assume!(n >= 2);
            let (got_w, mean, cov) = same(run3_ok(|p| {
                let pr: Vec<AShare<u128>> = present.iter().map(|v| input(p, 0, v)).collect();
                let xs: Vec<AShare<u128>> =
                    x.iter().map(|v| input(p, 1, &encode_vec(v, 24))).collect();
                let weight = row_weight(p, &pr.iter().collect::<Vec<_>>()).map_err(mpc_err)?;
                let m = moments(p, &xs.iter().collect::<Vec<_>>(), &weight, n, centre, false)
                    .map_err(mpc_err)?;
                let cov = p.trunc(&m.cov, HI)?;
                Ok((p.reveal(&weight)?, p.reveal(&m.mean)?, p.reveal(&cov)?))
            }));
            prop_assert_eq!(&got_w, &w);
            let used: Vec<usize> = (0..rows).filter(|&i| w[i] == 1).collect();
            let nf = n as f64;
            let mu: Vec<f64> = (0..k)
                .map(|j| {
                    if centre {
                        used.iter().map(|&i| x[j][i]).sum::<f64>() / nf
                    } else {
                        0.0
                    }
                })
                .collect();
            for (j, got) in decode_vec(&mean, 24).iter().enumerate() {
                prop_assert!((got - mu[j]).abs() < 1e-6 * (1.0 + mu[j].abs()), "mean {j}");
            }
            let cov = decode_vec(&cov, 24);
            for j in 0..k {
                for l in 0..k {
                    let want = used
                        .iter()
                        .map(|&i| (x[j][i] - mu[j]) * (x[l][i] - mu[l]))
                        .sum::<f64>()
                        / nf;
                    let got = cov[j * k + l];
                    prop_assert!(
                        (got - want).abs() < 1e-6 * (1.0 + want.abs()),
                        "cov {j} {l}: {got} vs {want}"
                    );
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8))]

        /// Exact truncation and exact division by a count, on values of any size.
        #[test]
        fn exact_division_matches_plaintext(
            vals in proptest::collection::vec(any::<i128>(), 1..20),
            d in 0u32..100,
            n in 1usize..5_000_000,
        ) {
            let x: Vec<u128> = vals.iter().map(|&v| v as u128).collect();
            let small: Vec<u128> = vals.iter().map(|&v| (v >> 40) as u128).collect();
            let (t, q) = same(run3_ok(|p| {
                let xs = input(p, 0, &x);
                let ss = input(p, 1, &small);
                let t = trunc_exact(p, &xs, d).map_err(mpc_err)?;
                let q = div_count_exact(p, &ss, 0, n).map_err(mpc_err)?;
                Ok((p.reveal(&t)?, p.reveal(&q)?))
            }));
            for (i, &v) in vals.iter().enumerate() {
                prop_assert_eq!(t[i] as i128, v >> d);
                let want = (v >> 40) as f64 / n as f64;
                let got = (q[i] as i128) as f64;
                prop_assert!((got - want).abs() <= 2.0 + want.abs() * 1e-9, "{got} vs {want}");
            }
        }
    }

    #[test]
    fn rule_thresholds() {
        assert_eq!(min_rows_for(10, 1.0), 10);
        assert_eq!(min_rows_for(10, 0.1), 100);
        assert_eq!(min_rows_for(14, 0.0075), 1867);
        assert_eq!(min_rows_for(3, 0.0), u64::MAX);
        for (vars, per) in [(7, 0.3), (11, 0.01), (21, 0.05)] {
            let t = min_rows_for(vars, per);
            let d = Disclosure {
                max_vars_per_row: per,
                ..Disclosure::default()
            };
            assert!(d.check_vars(vars, t as usize).is_ok());
            assert!(d.check_vars(vars, t as usize - 1).is_err());
        }
    }
}
