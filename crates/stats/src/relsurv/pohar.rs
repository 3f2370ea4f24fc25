//! Pohar Perme net survival in MPC, exactly as `relsurv::rs.surv(..., method =
//! "pohar-perme")` computes it (one-day fine steps; see [`super::plain`] for relsurv's
//! arithmetic, which this follows term by term).
//!
//! # The estimator, per day
//!
//! Follow-up times are whole days (refused otherwise, as for Ederer II), so every fine step
//! is one day `u`, and with `w_i(u) = 1/S_i(u) = e^{H_i(u)}` everything relsurv sums is a
//! sum over the patients at risk on day `u` (`T_i > u`):
//!
//! ```text
//! b1(u) = Σ w_i(u)       a1(u) = Σ λ_i(u)·w_i(u)
//! b2(u) = Σ w_i(u+1)     a2(u) = Σ λ_i(u)·w_i(u+1)
//! ```
//!
//! relsurv's running sums restart at every observed time: with `r(u) = 1` on day 0 and on
//! every day some patient of the group leaves (`T_i = u`), `A1(u) = Σ a1` over the days since
//! the last restart (the same for `B1, A2, B2`) and `fint` is the sum of `(A1/B1 + A2/B2)/2`
//! over those days. Where the next day is an observed time (`e(u) = r(u+1)`):
//! `dΛ(u) = DS(u+1)/YS(u+1) − fint(u)` with `YS(u+1) = b2(u)` and `DS(v)`, `DS2(v)` the sums
//! of `w_i(v)`, `w_i(v)²` over the deaths on day `v`. `S(τ) = Π_{u < ⌊τ⌋} (1 − e(u)·dΛ(u))`
//! and the variance of `log S` is `Σ_{u < ⌊τ⌋} e(u)·DS2(u+1)/YS(u+1)²`; the number at risk at
//! `τ` is the number with `T ≥ ⌈τ⌉` (the first observed time at or after `τ` has the same).
//! So no risk order is needed: the grid is read at public days.
//!
//! # The weights
//!
//! The data owner writes each patient's weight as polynomial pieces ([`super::weights`]):
//! in public blocks of `L` = 256 days, between its breakpoints (block starts and rate
//! changes) `w(u) = Σ_m U_m x^m` with `x = (u − g)/L` and `U_m = C·θ^m/m!` (degree `k` from
//! the life table's highest rate: relative error ≤ 1e-12). Inside a piece `λ = θ/L` and
//! `w(u+1) = e^{θ/L}·w(u)`, so all four sums are public linear combinations of the sums of
//! the `U_m`:
//!
//! ```text
//! b1: Σ_{m ≤ k} U_m x^m                      a1: Σ_{m ≤ k+1} U_m·m·x^(m−1)/L
//! b2: Σ_{j ≤ J} Σ_m U_m·C(m, j)·x^(m−j)/L^j  a2: Σ_{j ≤ J} Σ_m U_m·m·C(m−1, j)·x^(m−1−j)/L^(j+1)
//! ```
//!
//! (`e^ρ`'s series cut after `J` terms, again ≤ 1e-12; `m − j ≤ k` in each).
//!
//! # Protocol
//!
//! 1. Complete cases and the follow-up checks as Ederer II ([`super::ederer`]); each
//!    breakpoint `r` lies before the exit while `day_r < T` (one batched comparison; `T` is
//!    taken as 0 for rows that are not complete cases). The piece a patient leaves (`Σ_r
//!    [day_r < T]·ΔU_r,m`) and its block start are dot products of length `slots` per
//!    patient (one value each to reshare, not one per breakpoint);
//! 2. records: every breakpoint with its unmasked `ΔU_r`, keyed at `min(day_r, T)`; one
//!    exit record per patient at `T` with `−Σ_r ΔU_r` (past the exit, the breakpoints that
//!    landed on `T` and the exit cancel), 1 (exits), the death indicator and the death's
//!    `w(T)` and `w(T)²` (from the piece left at `x` of day `T − 1`: powers of `x`, one dot
//!    product, an exact truncation); one *marker* per public day `u ≤ ⌈τ_max⌉` and level.
//!    Rows that are not complete cases form a level of their own that no marker reads. The
//!    keys are whole days: `4d + 4` or `4d + 5` for a record of day `d` (one probabilistic
//!    truncation of a value below 2^40 in Z_2^128), `4u + 6` for the marker of day `u`, the
//!    level above bit 18 — about 20 key bits, so the sort's composite key stays in Z_2^64
//!    beyond 10^6 records. One oblivious sort by (level, day, marker after records);
//!    prefix sums (local) then give at each marker the coefficient sums of the pieces still
//!    at risk, the exits and deaths up to `u` and the death weight sums;
//! 3. the markers taken out: the table is shuffled, the marker flags opened, then the
//!    markers' own (public) labels. Steps 1 to 3 run on public chunks of patients (at most
//!    [`CHUNK_RECORDS`] records with the markers, [`chunk_patients`]), each with its own
//!    markers; the sums at a marker are linear in the records, so the chunks' marker sums
//!    add up to those of one sort of every record, and memory stays bounded by the chunk;
//!    the sums are evaluated at each day's public `x` (local, exact truncation);
//! 4. per day (vectors of `levels × days`, small): `e(u)` from the exits (a zero test),
//!    segmented prefix sums (Hillis–Steele scans of `(restart, sum)` pairs), reciprocals
//!    (the engine's, refined by one Newton step at 60 bits), `dΛ`, a prefix product, the
//!    variance sums; the grid at public days; `min_cell`, `min_events` as Kaplan–Meier.
//!
//! Truncations of values that may be large (sums over many patients) are exact (bit
//! decomposition, [`exact_shr`]); the probabilistic one only where the product is known to
//! be small (powers of `x`, products of survival factors).
//!
//! # Cost
//!
//! Records: `n·(slots + 1) + levels·(⌈τ_max⌉ + 1)`, with `slots` = blocks + kink slots
//! (a 10-year grid: 15 + 22) and `k + J + 2` coefficient columns (14 for the synthetic
//! table, 29 for `slopop`, whose oldest reach 0.0108 a day) carried through one sort and
//! one shuffle (the flags and labels in Z_2^64); `n·slots` comparisons and one product and
//! one truncation per breakpoint for its key; `n·(k + J + 3)` dot products; the day stage
//! is `O(levels·days)` with `O(log days)` rounds; with more than one chunk the markers and
//! the rounds of steps 1 to 3 are once per chunk. At 10,000 patients (one chunk) the busiest party
//! sends about 1,000 MB: a fifth the sharing of the weight columns, a fifth the sort's
//! comparisons, half the two permutations of the records.
//!
//! # What the compute parties learn
//!
//! What Ederer II's checks open (the number of complete cases; one bit "every complete case
//! has a whole, non-negative number of days below [`MAX_DAYS`](super::ederer::MAX_DAYS)"; with a group, one bit
//! "every level has a complete case"), the suppression pattern of the grid, and nothing
//! else: in each chunk the marker flags are a uniformly random subset of known size of the
//! shuffled records and the markers' labels are public values in a uniformly random order
//! (the chunks' sizes depend only on the number of rows).

use std::ops::Range;

use serde::{Deserialize, Serialize};
use tessera_mpc::fixed::encode;
use tessera_mpc::sort::SortOptions;
use tessera_mpc::{AShare, Party, Table};

use crate::disclosure::Disclosure;
use crate::error::{Result, StatsError};
use crate::sealed::{Sealed, Tail};
use crate::survival::km::{grid_rule, DEFAULT_MIN_CELL};
use crate::survival::risk::low64;
use crate::table::Frame;

use super::ederer::{complete_cases, open_result, Cases, EdererSpec, RelsurvResult};
use super::weights::{weight_slots, Degree, BLOCK_BITS, BLOCK_DAYS};

/// Fractional bits of the weights' sums (the owner's columns carry `2^RATE_BITS` on top of
/// the engine's 24).
const W: u32 = 40;
/// Fractional bits of rates, hazards and ratios in the day stage.
const Q: u32 = 56;
/// Fractional bits of the survival factors and their products.
const P: u32 = 40;
/// The level's place in the sort key, above the day part (`4·day + 6 < 2^18` for every day
/// below [`MAX_DAYS`](super::ederer::MAX_DAYS)).
const KEY_SHIFT: u32 = 18;

/// A Pohar Perme analysis on shared columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoharSpec {
    /// Follow-up time in whole days.
    pub time: String,
    /// Event column (1 = death).
    pub event: String,
    /// Group column (categorical), one curve per level; none: one curve.
    pub group: Option<String>,
    /// Prefix of the weight columns ([`super::weights::weight_columns`]).
    pub path: String,
    /// Breakpoint slots per patient ([`weight_slots`] of the grid's last time, rounded up).
    pub slots: usize,
    /// Grid times (days), strictly increasing.
    pub times: Vec<f64>,
    /// Confidence level of the intervals.
    pub conf_level: f64,
    /// The life table's highest daily rate (public; it sets the series' degrees,
    /// [`Degree::for_rate`], which the owner used for the columns too).
    pub max_rate: f64,
}

impl PoharSpec {
    /// The series' degrees of this analysis.
    pub fn degree(&self) -> Result<Degree> {
        Degree::for_rate(self.max_rate).map_err(|e| StatsError::Invalid(format!("relsurv: {e}")))
    }
}

/// Refusals before any data is read: Ederer II's (grid, confidence level), too few
/// breakpoint slots for the grid's last time, a highest rate that is not a rate.
pub fn check(spec: &PoharSpec) -> Result<()> {
    let last = spec.times.last().copied().unwrap_or(0.0);
    let as_ederer = EdererSpec {
        time: spec.time.clone(),
        event: spec.event.clone(),
        group: spec.group.clone(),
        path: spec.path.clone(),
        slots: usize::MAX,
        times: spec.times.clone(),
        conf_level: spec.conf_level,
    };
    super::ederer::check(&as_ederer)?;
    if spec.slots < weight_slots(last.ceil() as u32) {
        return Err(StatsError::Invalid(
            "relsurv: fewer breakpoint slots than the grid's last time needs".into(),
        ));
    }
    spec.degree()?;
    Ok(())
}

/// What the compute parties know of a Pohar Perme analysis and the recipient's tail needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoharPublic {
    /// The analysis.
    pub spec: PoharSpec,
    /// Fractional bits of the sealed values.
    pub frac_bits: u32,
    /// The group's levels (none: one curve).
    pub labels: Option<Vec<String>>,
    /// Complete cases (opened).
    pub n: u64,
    /// Per grid time (outer) and level (inner): whether the cell is shown.
    pub shown: Vec<bool>,
}

impl Tail for PoharPublic {
    type Result = RelsurvResult;

    /// Values: survival, `2^G·Σ DS2/YS²`, at risk, deaths of every cell (zero where
    /// suppressed), each block in the order of `shown` (as Ederer II's).
    fn open(&self, vals: &[u128]) -> Result<RelsurvResult> {
        open_result(
            "pohar-perme",
            (
                &self.spec.times,
                self.spec.conf_level,
                self.spec.group.clone(),
            ),
            (self.labels.clone(), self.n, &self.shown, self.frac_bits),
            vals,
        )
    }
}

/// `⌊x/2^d⌋` exactly, for any `x` (two's complement): the bits of `x`, the high ones turned
/// back into a sharing, the sign's weight taken off. Opens nothing.
pub(crate) fn exact_shr(p: &mut Party, x: &AShare<u128>, d: u32) -> Result<AShare<u128>> {
    let n = x.len();
    if n == 0 {
        return Ok(x.clone());
    }
    let planes = p.a2b(x, 128)?;
    let mag: AShare<u128> = p.b2a(&planes[d as usize..127], n)?;
    let sign: AShare<u128> = p.inject(&[&planes[127]], n)?.remove(0);
    Ok(mag.sub(&sign.shl(127 - d)))
}

/// `x[i − s]` within segments of `seg` elements, `fill` where that leaves the segment.
fn shift_in(x: &AShare<u128>, s: usize, seg: usize, fill: u128, id: usize) -> AShare<u128> {
    let n = x.len();
    let mv = |v: &[u128], f: u128| -> Vec<u128> {
        (0..n)
            .map(|i| if i % seg >= s { v[i - s] } else { f })
            .collect()
    };
    // A public constant is held as (c, 0) by party 0, (0, 0) by 1 and (0, c) by 2.
    let (fa, fb) = match id {
        0 => (fill, 0),
        1 => (0, 0),
        _ => (0, fill),
    };
    AShare {
        a: mv(&x.a, fa),
        b: mv(&x.b, fb),
    }
}

/// Segmented running sums within segments of `seg`: `y_u = β_u + α_u·y_(u−1)` for each
/// `β` (α are 0/1 integers, `α = 0` restarts). Hillis–Steele over `(α, β)` pairs: `⌈log2
/// seg⌉` rounds of exact products.
fn running_sums(
    p: &mut Party,
    alpha: &AShare<u128>,
    betas: &[AShare<u128>],
    seg: usize,
) -> Result<Vec<AShare<u128>>> {
    let id = p.id();
    let mut a = alpha.clone();
    let mut bs = betas.to_vec();
    let mut s = 1usize;
    while s < seg {
        let prev: Vec<AShare<u128>> = bs.iter().map(|b| shift_in(b, s, seg, 0, id)).collect();
        let a_prev = shift_in(&a, s, seg, 0, id);
        let mut pairs: Vec<(&AShare<u128>, &AShare<u128>)> = prev.iter().map(|b| (&a, b)).collect();
        pairs.push((&a, &a_prev));
        let mut prods = p.mul_many(&pairs)?;
        a = prods.pop().expect("alpha");
        for (b, add) in bs.iter_mut().zip(prods) {
            *b = b.add(&add);
        }
        s *= 2;
    }
    Ok(bs)
}

/// Prefix products within segments of `seg` of factors at `P` fractional bits.
fn running_products(p: &mut Party, x: &AShare<u128>, seg: usize) -> Result<AShare<u128>> {
    let id = p.id();
    let one = 1u128 << P;
    let mut y = x.clone();
    let mut s = 1usize;
    while s < seg {
        let prev = shift_in(&y, s, seg, one, id);
        y = p.mul_trunc(&y, &prev, P)?;
        s *= 2;
    }
    Ok(y)
}

/// `2^82/den` for `den` at `W` fractional bits with `1 ≤ den < 2^50` (real values; where
/// `den` is 0 the result is garbage the caller multiplies by zero): the engine's reciprocal
/// of `den` at 12 fractional bits (relative error below 2^-12 from that rounding), then two
/// Newton steps `y ← y·(2 − den·y)` on `y = 2^66/den` with `den` at full precision, which
/// square the error twice. Opens nothing.
fn recip82(p: &mut Party, den: &AShare<u128>) -> Result<AShare<u128>> {
    const LOW: u32 = 12;
    let f = p.frac_bits();
    let d12 = exact_shr(p, den, W - LOW)?;
    p.set_frac_bits(LOW);
    let y0 = p.recip_pow2(&d12, 48); // 2^48/den at 12 bits: the integer 2^60/den
    p.set_frac_bits(f);
    let mut y = y0?.shl(6); // 2^66/den
    for last in [false, true] {
        let e = p.mul(den, &y)?; // den·y·2^106
        let t = exact_shr(p, &e, 46)?; // den·y at 60 bits
        let d = p.add_const(&t.neg(), 1u128 << 61); // 2 − den·y
        let y1 = p.mul(&y, &d)?; // 2^126/den
        y = exact_shr(p, &y1, if last { 44 } else { 60 })?;
    }
    Ok(y)
}

/// Records (with the markers) per chunk of patients at most: steps 1 to 3 run chunk by
/// chunk, so that memory stays bounded whatever the number of patients (about 13,600
/// patients a chunk with a ten-year grid); the marker sums add up across chunks.
pub const CHUNK_RECORDS: usize = 1 << 19;

/// Patients per chunk for `per` records per patient and `markers` markers per chunk: as
/// many as keep a chunk within [`CHUNK_RECORDS`], at least one.
pub fn chunk_patients(per: usize, markers: usize) -> usize {
    (CHUNK_RECORDS.saturating_sub(markers) / per.max(1)).max(1)
}

/// The public chunks of `n` patients, at most `most` each: as few as that allows, of
/// equal sizes (at least one chunk).
fn chunks(n: usize, most: usize) -> Vec<Range<usize>> {
    let count = n.div_ceil(most.max(1)).max(1);
    let size = n.div_ceil(count);
    (0..count)
        .map(|i| (i * size).min(n)..((i + 1) * size).min(n))
        .collect()
}

/// What every chunk shares: the frame's weight columns and the analysis' sizes.
struct Layout<'a> {
    frame: &'a Frame,
    path: &'a str,
    slots: usize,
    deg: Degree,
    /// Levels read by markers (`k`; code `k` is the rows that are not complete cases).
    levels: usize,
    /// Marker days per level (`⌈τ_max⌉ + 1`).
    nm: usize,
}

impl Layout<'_> {
    /// Weight column `what` of slot `r`, rows `rows`.
    fn col(&self, rows: &Range<usize>, r: usize, what: &str) -> Result<AShare<u128>> {
        let name = format!("{}.w{r}.{what}", self.path);
        Ok(self.frame.numeric(&name)?.0.slice(rows.clone()))
    }
}

/// The per-patient inputs of the records.
struct Patients {
    /// Follow-up (days at f bits).
    t: AShare<u128>,
    /// Follow-up of complete cases, 0 for the other rows.
    t_used: AShare<u128>,
    /// Complete case (0/1).
    used: AShare<u128>,
    /// Death (0/1).
    dead: AShare<u128>,
    /// Level code (`k` for rows that are not complete cases).
    code: AShare<u128>,
}

/// One chunk of patients: its rows and their inputs.
struct Chunk {
    rows: Range<usize>,
    pat: Patients,
}

/// Steps 1 to 3 in chunks of at most `most` patients ([`chunks`]), the marker sums added
/// up.
fn chunked_marker_sums(
    p: &mut Party,
    lay: &Layout,
    all: &Patients,
    most: usize,
) -> Result<Vec<AShare<u128>>> {
    let mut acc: Option<Vec<AShare<u128>>> = None;
    for rows in chunks(all.t.len(), most) {
        let cut = |x: &AShare<u128>| x.slice(rows.clone());
        let c = Chunk {
            pat: Patients {
                t: cut(&all.t),
                t_used: cut(&all.t_used),
                used: cut(&all.used),
                dead: cut(&all.dead),
                code: cut(&all.code),
            },
            rows,
        };
        let exits = exit_weights(p, lay, &c)?;
        let sums = marker_sums(p, lay, &c, exits)?;
        acc = Some(match acc {
            None => sums,
            Some(a) => a.iter().zip(&sums).map(|(x, y)| x.add(y)).collect(),
        });
    }
    Ok(acc.expect("at least one chunk"))
}

/// Step 1 for one chunk of patients: each breakpoint's record day `min(day_r, T)` (slot
/// after slot, `slots·n` values) and the deaths' `w(T)` and `w(T)²` (2W bits); see the
/// module docs.
fn exit_weights(
    p: &mut Party,
    lay: &Layout,
    c: &Chunk,
) -> Result<(AShare<u128>, AShare<u128>, AShare<u128>)> {
    let f = p.frac_bits();
    let (n, slots, terms) = (c.rows.len(), lay.slots, lay.deg.terms());
    let col = |r: usize, what: &str| lay.col(&c.rows, r, what);
    let deg = lay.deg;
    // 1. Which breakpoints lie before the exit: day_r < T (none for other rows).
    let rows_b = n * slots;
    let day_cat = {
        let days: Vec<AShare<u128>> = (0..slots).map(|r| col(r, "day")).collect::<Result<_>>()?;
        AShare::concat(&days.iter().collect::<Vec<_>>())
    };
    let t_rep = AShare::concat(&vec![&c.pat.t_used; slots]);
    let bits = p.lt(&low64(&day_cat), &low64(&t_rep))?;
    let before: AShare<u128> = p.inject(&[&bits], rows_b)?.remove(0);
    drop(bits);
    // Each breakpoint's record is keyed at min(day_r, T) = T + before·(day_r − T): past the
    // exit it lands on the exit's day, where the exit record takes every change back.
    let at = p.mul(&before, &day_cat.sub(&t_rep))?.add(&t_rep);
    drop((day_cat, t_rep));

    // The exit records: the coefficients of the piece left (Σ_r before_r·ΔU_r) and the block
    // start of day T − 1 (Σ_r before_r·Δg_r), one dot product of length `slots` per patient.
    let by_patient = |cols: &dyn Fn(usize) -> Result<AShare<u128>>| -> Result<AShare<u128>> {
        let mut a = vec![0u128; rows_b];
        let mut b = vec![0u128; rows_b];
        for r in 0..slots {
            let x = cols(r)?;
            for i in 0..n {
                a[i * slots + r] = x.a[i];
                b[i * slots + r] = x.b[i];
            }
        }
        Ok(AShare { a, b })
    };
    let before_rm = by_patient(&|r| Ok(before.slice(r * n..(r + 1) * n)))?;
    drop(before);
    let g_exit = p.dot(&before_rm, &by_patient(&|r| col(r, "dg"))?, slots)?;
    let mut ex = Vec::with_capacity(terms);
    for m in 0..terms {
        let name = format!("v{m}");
        ex.push(p.dot(&before_rm, &by_patient(&|r| col(r, &name))?, slots)?);
    }
    drop(before_rm);
    // x = (T − 1 − g)/L at W bits: (days at f)·2^(W − f − BLOCK_BITS).
    let xd = p.add_const(&c.pat.t.sub(&g_exit), (1u128 << f).wrapping_neg());
    let x = xd.shl(W - f - BLOCK_BITS);
    // Powers x^0..x^(terms−1) at W bits (x in [0, 1) where it matters).
    let mut pw: Vec<AShare<u128>> = vec![p.public(&vec![1u128 << W; n]), x];
    while pw.len() < terms {
        let have = pw.len() - 1; // the highest power so far
        let want = (terms - 1 - have).min(have);
        let pairs: Vec<(&AShare<u128>, &AShare<u128>)> =
            (1..=want).map(|j| (&pw[have], &pw[j])).collect();
        let more = p.mul_trunc_many(&pairs, W)?;
        pw.extend(more);
    }
    // w(T) = b2's polynomial at day T − 1: coefficient of U_m is Σ_j C(m, j) x^(m−j)/L^j.
    let jb = deg.j as u32 * BLOCK_BITS;
    let mut c3 = Vec::with_capacity(terms);
    for m in 0..terms {
        let mut acc = AShare::zeros(n);
        for j in 0..=deg.j.min(m) {
            if m - j > deg.k {
                continue;
            }
            let scale = (binom(m, j) as u128) << (jb - j as u32 * BLOCK_BITS);
            acc = acc.add(&pw[m - j].mul_const(scale));
        }
        c3.push(acc);
    }
    drop(pw);
    let c3 = p.trunc(&AShare::concat(&c3.iter().collect::<Vec<_>>()), jb)?;
    let c3 = c3.split(&vec![n; terms]);
    // Row-major blocks for the dot products.
    let interleave = |v: &[AShare<u128>]| -> AShare<u128> {
        let mut a = vec![0u128; n * terms];
        let mut b = vec![0u128; n * terms];
        for (m, x) in v.iter().enumerate() {
            for i in 0..n {
                a[i * terms + m] = x.a[i];
                b[i * terms + m] = x.b[i];
            }
        }
        AShare { a, b }
    };
    let wt = p.dot(&interleave(&ex), &interleave(&c3), terms)?;
    drop((ex, c3));
    let wt = exact_shr(p, &wt, W)?; // w(T) at W bits
    let ds = p.mul(&c.pat.dead, &wt)?;
    let ds2 = p.mul(&ds, &wt)?; // at 2W bits
    Ok((at, ds, ds2))
}

/// Steps 2 and 3 for one chunk of patients: its records and the markers of every level and
/// day, one sort, prefix sums, the markers taken out. Returns per column (`terms`
/// coefficient sums, exits, deaths, `Σ w(T)`, `Σ w(T)²`) the sums at the markers, in
/// marker order `[level][day 0..=ue]`: the sums over this chunk's records before each
/// marker, so that the chunks' sums add up to those over every patient.
fn marker_sums(
    p: &mut Party,
    lay: &Layout,
    c: &Chunk,
    (at, ds, ds2): (AShare<u128>, AShare<u128>, AShare<u128>),
) -> Result<Vec<AShare<u128>>> {
    let f = p.frac_bits();
    let (n, slots, terms) = (c.rows.len(), lay.slots, lay.deg.terms());
    let col = |r: usize, what: &str| lay.col(&c.rows, r, what);
    let (k, nm) = (lay.levels, lay.nm);
    let rows_b = n * slots;
    // 2. The records, sorted by (level, day, marker after records). Rows that are not
    // complete cases are a level of their own (code k) that no marker reads, so their records
    // need no masking.
    let code_rep = AShare::concat(&vec![&c.pat.code; slots]);
    // Keys in whole days: a day d at f bits (d < MAX_DAYS < 2^15), plus 1.125 days, truncated
    // by f − 2 bits is 4d + 4 or 4d + 5 (the truncation's floor or one more; the value is
    // below 2^40, so a large error has probability below 2^-87): a marker for day u at
    // 4u + 6 comes after every record of day u and before those of u + 1. The sort then
    // compares keys of KEY_SHIFT + level bits instead of f + 17 + level bits.
    let raw = AShare::concat(&[&at, &c.pat.t_used]);
    drop(at);
    let shifted = p.add_const(&raw, (1u128 << f) + (1u128 << (f - 3)));
    let y = p.trunc(&shifted, f - 2)?;
    drop(shifted);
    drop(raw);
    let key_rec = AShare::concat(&[&code_rep, &c.pat.code])
        .shl(KEY_SHIFT)
        .add(&y);
    drop((y, code_rep));
    let mut key_m = Vec::with_capacity(k * nm);
    for c in 0..k {
        for u in 0..nm {
            key_m.push(((c as u128) << KEY_SHIFT) + 4 * (u as u128) + 6);
        }
    }
    let markers = k * nm;
    let key = AShare::concat(&[&key_rec, &p.public(&key_m)]);
    drop(key_rec);
    let rows = rows_b + n + markers;
    let zeros = |len: usize| AShare::<u128>::zeros(len);
    let mut cols: Vec<AShare<u128>> = Vec::with_capacity(terms + 4);
    for m in 0..terms {
        let vs: Vec<AShare<u128>> = (0..slots)
            .map(|r| col(r, &format!("v{m}")))
            .collect::<Result<_>>()?;
        // The exit takes back every change of the patient's path.
        let all = vs.iter().fold(AShare::zeros(n), |acc, v| acc.add(v));
        let mut parts: Vec<&AShare<u128>> = vs.iter().collect();
        let back = all.neg();
        let tail = zeros(markers);
        parts.push(&back);
        parts.push(&tail);
        cols.push(AShare::concat(&parts));
    }
    for x in [&c.pat.used, &c.pat.dead, &ds, &ds2] {
        cols.push(AShare::concat(&[&zeros(rows_b), x, &zeros(markers)]));
    }
    let mut flag = vec![0u64; rows];
    let mut label = vec![0u64; rows];
    for (i, l) in label[rows_b + n..].iter_mut().enumerate() {
        *l = i as u64;
    }
    flag[rows_b + n..].fill(1);
    let lvl_bits = usize::BITS - k.leading_zeros();
    let opts = SortOptions {
        key_bits: KEY_SHIFT + lvl_bits + 2,
        ..SortOptions::default()
    };
    let perm = p.sort_perm(&low64(&key), opts)?;
    drop(key);
    let table = Table::new(vec![p.public(&flag), p.public(&label)], cols)?;
    drop((flag, label));
    let sorted = p.apply_sort(&perm, &table)?;
    drop(table);
    // Prefix sums of the sums (the flags and labels travel with their rows), in place.
    let mut sorted = sorted;
    for c in sorted.c128.iter_mut() {
        *c = c.prefix_sum();
    }

    // 3. The markers out: shuffle, open the flags, then the markers' labels.
    let shuffled = p.shuffle(&sorted)?;
    drop(sorted);
    // LEAKAGE: none beyond the sizes: the marker flags of uniformly shuffled records are a
    // uniformly random subset of known size (levels × days) of the positions.
    let flags = p.reveal(&shuffled.c64[0])?;
    let idx: Vec<u32> = (0..rows as u32)
        .filter(|&i| flags[i as usize] == 1)
        .collect();
    if idx.len() != markers {
        return Err(StatsError::Invalid("relsurv: day markers lost".into()));
    }
    let picked = shuffled.gather(&idx);
    drop(shuffled);
    // LEAKAGE: none: the markers' labels are the public 0..levels·days in a uniformly
    // random order.
    let labs = p.reveal(&picked.c64[1])?;
    let mut order = vec![u32::MAX; markers];
    for (j, &l) in labs.iter().enumerate() {
        let l = usize::try_from(l).unwrap_or(usize::MAX);
        if l >= markers || order[l] != u32::MAX {
            return Err(StatsError::Invalid("relsurv: day markers garbled".into()));
        }
        order[l] = j as u32;
    }
    Ok(picked.gather(&order).c128) // per column: [level][day 0..=ue]
}

/// Pohar Perme net survival in MPC; see the module docs. Every compute party calls this
/// with its shares; the result ends sealed for the recipients. Patients are taken in
/// chunks of [`chunk_patients`] (one chunk up to about 13,600 with a ten-year grid).
pub fn pohar_perme(
    p: &mut Party,
    frame: &Frame,
    spec: &PoharSpec,
    disclosure: &Disclosure,
) -> Result<Sealed<PoharPublic>> {
    pohar_perme_in_chunks(p, frame, spec, disclosure, None)
}

/// [`pohar_perme`] with chunks of at most `most` patients (public; the result does not
/// depend on it, memory and rounds do), [`chunk_patients`] when `None`: smaller chunks for
/// stations with less memory, and for the tests of the chunks' sums.
pub fn pohar_perme_in_chunks(
    p: &mut Party,
    frame: &Frame,
    spec: &PoharSpec,
    disclosure: &Disclosure,
    most: Option<usize>,
) -> Result<Sealed<PoharPublic>> {
    check(spec)?;
    if p.frac_bits() != 24 {
        return Err(StatsError::Invalid(
            "relsurv: Pohar Perme runs at the engine's 24 fractional bits".into(),
        ));
    }
    let f = p.frac_bits();
    let id = p.id();
    let n = frame.rows;
    let deg = spec.degree()?;
    let terms = deg.terms();
    let slots = spec.slots;
    let min_cell = disclosure.min_cell_or(DEFAULT_MIN_CELL);
    let tau_max = *spec.times.last().expect("checked");
    let ue = tau_max.ceil() as usize; // markers on days 0..=ue
    let nm = ue + 1;

    let (_, rp) = frame.numeric(&format!("{}.w0.day", spec.path))?;
    let Cases {
        t,
        used,
        dead,
        labels,
        hs,
        total,
    } = complete_cases(
        p,
        frame,
        (&spec.time, &spec.event, spec.group.as_deref()),
        rp,
        disclosure,
    )?;
    let k = hs.len() - 1;
    // The exit time of complete cases, 0 for the other rows (so that their keys below stay
    // in range whatever their follow-up column holds).
    let t_used = p.mul(&t, &used)?;
    // The level of each row; rows that are not complete cases have code k.
    let code = hs
        .iter()
        .enumerate()
        .skip(1)
        .fold(AShare::zeros(n), |acc, (c, h)| {
            acc.add(&h.mul_const(c as u128))
        });
    let lay = Layout {
        frame,
        path: &spec.path,
        slots,
        deg,
        levels: k,
        nm,
    };
    let all = Patients {
        t,
        t_used,
        used,
        dead: dead.clone(),
        code,
    };
    let most = most.unwrap_or_else(|| chunk_patients(slots + 1, k * nm));
    let at_m = chunked_marker_sums(p, &lay, &all, most)?;
    drop(all);
    let (pu, rest) = at_m.split_at(terms);
    let (pcnt, pdead, pds, pds2) = (&rest[0], &rest[1], &rest[2], &rest[3]);

    // 4. The day stage on levels × days u = 0..ue−1.
    let dk = k * ue;
    let day_of = |c: usize, u: usize| c * nm + u;
    let pick = |x: &AShare<u128>, off: usize| -> AShare<u128> {
        let ids: Vec<usize> = (0..k)
            .flat_map(|c| (0..ue).map(move |u| day_of(c, u + off)))
            .collect();
        AShare {
            a: ids.iter().map(|&i| x.a[i]).collect(),
            b: ids.iter().map(|&i| x.b[i]).collect(),
        }
    };
    // The four sums at each day's public x, at 2W bits, then exactly back to W.
    let l = f64::from(BLOCK_DAYS);
    let mut evals: Vec<AShare<u128>> = vec![AShare::zeros(dk); 4];
    let cur: Vec<AShare<u128>> = pu.iter().map(|x| pick(x, 0)).collect();
    for (m, pm) in cur.iter().enumerate() {
        let mut cs = vec![[0u128; 4]; dk];
        for c in 0..k {
            for u in 0..ue {
                let x = f64::from((u % BLOCK_DAYS as usize) as u32) / l;
                let coef = coefficients(m, x, deg);
                for (fi, v) in coef.iter().enumerate() {
                    cs[c * ue + u][fi] = encode::<u128>(*v, W);
                }
            }
        }
        for (fi, e) in evals.iter_mut().enumerate() {
            let c: Vec<u128> = cs.iter().map(|v| v[fi]).collect();
            *e = e.add(&pm.mul_public(&c));
        }
    }
    drop(cur);
    let ev = exact_shr(p, &AShare::concat(&evals.iter().collect::<Vec<_>>()), W)?;
    // b1, a1, b2, a2 at W bits.
    let ev = ev.split(&[dk; 4]);
    // Exits on day u + 1 and the restart flags.
    let exits = pick(pcnt, 1).sub(&pick(pcnt, 0));
    let none = p.is_zero(&exits)?;
    let none: AShare<u128> = p.inject(&[&none], dk)?.remove(0);
    let e_bit = p.add_const(&none.neg(), 1); // e(u)
                                             // α(u) = 1 − e(u − 1), 0 on day 0.
    let alpha = shift_in(&none, 1, ue, 0, id);
    let dsv = pick(pds, 1).sub(&pick(pds, 0));
    let ds2v = pick(pds2, 1).sub(&pick(pds2, 0));
    let run = running_sums(
        p,
        &alpha,
        &[ev[0].clone(), ev[1].clone(), ev[2].clone(), ev[3].clone()],
        ue,
    )?;
    // Reciprocals of B1, B2 and YS(u + 1) = b2(u).
    let den = AShare::concat(&[&run[0], &run[2], &ev[2]]);
    let y = recip82(p, &den)?;
    let ds2_24 = exact_shr(p, &ds2v, 2 * W - f)?;
    let num = AShare::concat(&[&run[1], &run[3], &dsv, &ds2_24]);
    let y4 = AShare::concat(&[&y, &y.slice(2 * dk..3 * dk)]);
    let prod = p.mul(&num, &y4)?;
    // A/B and DS/YS: at W + 82 bits → Q; DS2/YS at f + 82 → W.
    let hi = exact_shr(p, &prod.slice(0..3 * dk), W + 82 - Q)?;
    let q2 = exact_shr(p, &prod.slice(3 * dk..4 * dk), f + 82 - W)?;
    let r12 = hi.slice(0..dk).add(&hi.slice(dk..2 * dk)); // 2q at Q bits
    let dy = hi.slice(2 * dk..3 * dk);
    let fint2 = running_sums(p, &alpha, &[r12], ue)?.remove(0); // 2·fint
    let h2 = dy.shl(1).sub(&fint2); // 2·(DS/YS − fint)
    let yv = y.slice(2 * dk..3 * dk);
    let mut zz = p.mul_many(&[(&e_bit, &h2), (&q2, &yv)])?;
    let vq = zz.pop().expect("two"); // DS2/YS² at W + 82 bits
    let z = zz.pop().expect("two");
    let g_bits = crate::survival::km::GREENWOOD_BITS;
    let dl = exact_shr(p, &z, Q + 1 - P)?; // dΛ at P bits
    let vinc = exact_shr(p, &vq, W + 82 - (f + g_bits))?; // at f + G bits
    let vinc = p.mul(&vinc, &e_bit)?;
    let factor = p.add_const(&dl.neg(), 1u128 << P);
    let surv = running_products(p, &factor, ue)?;

    // The grid at public days, per level.
    let gsz = spec.times.len();
    let mut n_le = vec![AShare::zeros(1); k];
    let mut d_lt = vec![AShare::zeros(1); k];
    let pairs: Vec<(&AShare<u128>, &AShare<u128>)> = hs[..k].iter().map(|h| (h, &dead)).collect();
    let dh = p.mul_many(&pairs)?;
    let (mut acc_n, mut acc_d) = (AShare::zeros(1), AShare::zeros(1));
    for c in 0..k {
        acc_n = acc_n.add(&hs[c].sum());
        n_le[c] = acc_n.clone();
        d_lt[c] = acc_d.clone();
        acc_d = acc_d.add(&dh[c].sum());
    }
    let var_cum: AShare<u128> = {
        // prefix sums within each level's days
        let parts = vinc.split(&vec![ue; k]);
        AShare::concat(
            &parts
                .iter()
                .map(AShare::prefix_sum)
                .collect::<Vec<_>>()
                .iter()
                .collect::<Vec<_>>(),
        )
    };
    let one_f = p.public(&[1u128 << P]);
    let mut s_v = Vec::with_capacity(gsz * k);
    let mut v_v = Vec::with_capacity(gsz * k);
    let mut r_v = Vec::with_capacity(gsz * k);
    let mut e_v = Vec::with_capacity(gsz * k);
    for &tau in &spec.times {
        let fl = tau.floor() as usize;
        let ce = tau.ceil() as usize;
        for c in 0..k {
            if fl == 0 {
                s_v.push(one_f.clone());
                v_v.push(AShare::zeros(1));
            } else {
                let i = c * ue + fl - 1;
                s_v.push(surv.slice(i..i + 1));
                v_v.push(var_cum.slice(i..i + 1));
            }
            let i = day_of(c, ce - 1);
            r_v.push(n_le[c].sub(&pcnt.slice(i..i + 1)));
            let i = day_of(c, fl);
            e_v.push(pdead.slice(i..i + 1).sub(&d_lt[c]));
        }
    }
    let cat = |v: &[AShare<u128>]| AShare::concat(&v.iter().collect::<Vec<_>>());
    let s_all = p.trunc(&cat(&s_v), P - f)?;
    let (v_all, r_all, e_all) = (cat(&v_v), cat(&r_v), cat(&e_v));
    let shown = grid_rule(p, &r_all, &e_all, k, min_cell, disclosure.min_events)?;
    let mask: Vec<u128> = shown.iter().map(|&b| u128::from(b)).collect();
    let values: Vec<AShare<u128>> = [&s_all, &v_all, &r_all, &e_all]
        .iter()
        .map(|v| v.mul_public(&mask))
        .collect();
    let public = PoharPublic {
        spec: spec.clone(),
        frac_bits: f,
        labels,
        n: total,
        shown,
    };
    Sealed::new(
        p,
        public,
        &AShare::concat(&values.iter().collect::<Vec<_>>()),
    )
}

/// `C(m, j)`.
fn binom(m: usize, j: usize) -> u64 {
    (0..j).fold(1u64, |acc, i| acc * (m - i) as u64 / (i as u64 + 1))
}

/// The coefficients of `U_m` in `b1, a1, b2, a2` at `x` (module docs).
fn coefficients(m: usize, x: f64, deg: Degree) -> [f64; 4] {
    let l = f64::from(BLOCK_DAYS);
    let pw = |e: usize| x.powi(e as i32);
    let b1 = if m <= deg.k { pw(m) } else { 0.0 };
    let a1 = if m >= 1 && m - 1 <= deg.k {
        m as f64 * pw(m - 1) / l
    } else {
        0.0
    };
    let mut b2 = 0.0;
    let mut a2 = 0.0;
    for j in 0..=deg.j {
        if j <= m && m - j <= deg.k {
            b2 += binom(m, j) as f64 * pw(m - j) / l.powi(j as i32);
        }
        if j < m && m - 1 - j <= deg.k {
            a2 += m as f64 * binom(m - 1, j) as f64 * pw(m - 1 - j) / l.powi(j as i32 + 1);
        }
    }
    [b1, a1, b2, a2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relsurv::weights::{MAX_RATE, SERIES_EPS};

    /// The worst relative error of the four sums' series for one piece of rate `rho`, over
    /// every day of a block, with the degrees `deg`.
    fn series_error(rho: f64, deg: Degree) -> f64 {
        let l = f64::from(BLOCK_DAYS);
        let theta = rho * l;
        let mut u = vec![1.0f64];
        for m in 1..deg.terms() {
            u.push(u[m - 1] * theta / m as f64);
        }
        let mut worst = 0.0f64;
        for day in 0..BLOCK_DAYS {
            let x = f64::from(day) / l;
            let mut got = [0.0f64; 4];
            for (m, um) in u.iter().enumerate() {
                let c = coefficients(m, x, deg);
                for f in 0..4 {
                    got[f] += um * c[f];
                }
            }
            let w = (theta * x).exp();
            let want = [w, rho * w, rho.exp() * w, rho * rho.exp() * w];
            for f in 0..4 {
                worst = worst.max((got[f] - want[f]).abs() / want[f]);
            }
        }
        worst
    }

    /// At the highest rate accepted the series meet their bound (`2·SERIES_EPS` for the
    /// double series of `b2`, `a2`, plus rounding), and with fewer terms they do not (the
    /// Lagrange bound is loose by up to `e^θ` for `e^{θx}`, so a degree or two less may
    /// still pass; half does not).
    #[test]
    fn the_series_are_exact_to_their_bound_at_the_highest_rate() {
        for rho in [1e-5, 1e-3, MAX_RATE / 2.0, MAX_RATE] {
            let deg = Degree::for_rate(rho).unwrap();
            let e = series_error(rho, deg);
            assert!(e < 3e-12, "rate {rho}: {e:e}");
        }
        let deg = Degree::for_rate(MAX_RATE).unwrap();
        let fewer = Degree {
            k: deg.k / 2,
            ..deg
        };
        assert!(series_error(MAX_RATE, fewer) > SERIES_EPS);
        let shorter = Degree {
            j: deg.j - 1,
            ..deg
        };
        assert!(series_error(MAX_RATE, shorter) > SERIES_EPS);
    }
}
