//! The shared table in risk-set order: rows sorted by time, latest first, with the tie
//! structure that every survival analysis needs.
//!
//! With rows in descending time order, the risk set of time `t_i` (everybody with
//! `T ≥ t_i`) is a prefix of the table that ends at the *last row of `t_i`'s tie group*
//! ([`RiskOrder::end`]). So risk-set sums are local prefix sums read at group ends, and
//! sums over "every event time `≤ τ`" are suffix sums.
//!
//! The tie groups are secret (how many patients share a time is data). They are used through
//! *segmented* sums within a group ([`RiskOrder::seg_prefix`], [`RiskOrder::seg_suffix`]):
//! Hillis–Steele scans whose flags `F_l[i] = [rows i and i + 2^l have the same time]` are
//! computed once per analysis; each scan level is then one integer-by-value multiplication
//! (one round, no truncation) for all columns together.
//!
//! # Cost
//!
//! The sort ([`tessera_mpc::sort`]) of the time key, then the analysis' columns moved by
//! its permutation, `n - 1` equality tests of adjacent times, `ceil(log2 n) - 1` rounds of
//! `n` flag products and one zero test per level; every segmented scan then costs
//! `L = ceil(log2 g)` rounds (`g` the largest tie group) and one Z_2^128 element per row,
//! column and level. Rounds (issue 19):
//! - the key is sorted in Z_2^128, where the fixed-point times already are, as a 64-bit
//!   key ([`Party::sort_perm_wide_with`]): no lift from Z_2^64 (7 rounds, 78 bytes a row);
//! - [`RiskOrder::sort`] needs only the key, so a caller runs it beside the preparation of
//!   its columns ([`GroupedRisk::new`]: the event indicator, the products, the opened counts
//!   and level checks, about 27 rounds) and moves them after ([`RiskOrder::arrange`]);
//! - with [`Party::few_rounds`] (links with latency) the sort takes more pivots per pass
//!   ([`tessera_mpc::sort::SortOptions::few_rounds`]: 5 passes instead of 18 at 10^4 rows,
//!   for 2.9 times the comparisons), and the flags of every level come from one batched
//!   equality test of the sorted keys at distance `2^l` (sorted, rows `i` and `i + 2^l`
//!   tie iff their keys are equal): the rounds of one test instead of one product round per
//!   level, for `ceil(log2 n)` times the equality tests' bytes.
//!
//! # Leakage
//!
//! The sort opens comparison bits of shuffled, distinct composite keys (simulatable from
//! `n`, see [`tessera_mpc::sort`]; with more pivots, more of them, still a function of the
//! random permutation alone). Where the complete cases are given ([`GroupedRisk::new`]),
//! the rows that are not complete cases get distinct keys above all others and come last:
//! the order stays a uniformly random permutation of the shuffled rows, and the numbers at
//! risk become a function of the opened count of complete cases. The scans use only as many levels as the largest tie
//! group needs: `ceil(log2 g)` for the largest number `g` of rows sharing one time is
//! opened (a coarse bound on the largest tie: 0, 1, 2, … for g = 1, 2, 3–4, 5–8, …). Nothing
//! else is opened here.
//!
//! # Strata
//!
//! With strata (R's `strata(s)`: risk sets lie within a stratum), [`RiskOrder::stratified`]
//! sorts by the composite key `(stratum, time descending)`, so that each stratum is one
//! contiguous block in risk-set order and the tie groups are groups of equal *(stratum,
//! time)*: segmented scans, group totals and Efron's ranks stay within a stratum unchanged.
//! A risk-set sum is then the prefix sum minus what the strata sorted before the row's own
//! contribute ([`RiskOrder::within_prefix`]; suffix sums likewise,
//! [`RiskOrder::within_suffix`]). The strata are the declared levels of a categorical
//! column: few and public, so this offset is `Σ_s h_s[i]·C_s` with `h_s` the sorted
//! one-hot indicators and `C_s = Σ_j x_j·[s_j < s]` (one dot-product round for the `S - 1`
//! totals, one round of `n·(S - 1)` integer products per column, no truncation, exact).
//! Cheaper in rounds than a segmented scan by stratum (`ceil(log2 n)` rounds of `n` products
//! per column) and exact. The key gets the stratum code above every time the data owners
//! accept (`code·2^62 - time`: fixed-point times lie below 2^62 in magnitude,
//! [`crate::ranges::compare_limit`]), one sort as before on a key `ceil(log2(S + 1)) - 1`
//! bits wider, and the tie groups come from equality of the whole key in Z_2^128 (one
//! round and twice the equality tests' bytes more than without strata). Nothing more is
//! opened: the scan depth now bounds the largest group of rows sharing stratum *and* time.

use tessera_mpc::fixed::encode;
use tessera_mpc::sort::{SortOptions, SortPerm};
use tessera_mpc::{AShare, Party, Table};

use crate::disclosure::{every_at_least, Disclosure};
use crate::error::{Result, StatsError};
use crate::table::Frame;

pub(crate) use tessera_mpc::share::low64;

/// `x` moved by `s` rows: `out[i] = x[i + s]` (forward, `s > 0`) or `x[i - |s|]`, zero
/// where that row does not exist.
pub(crate) fn shifted(x: &AShare<u128>, s: isize) -> AShare<u128> {
    let n = x.len();
    let mv = |v: &[u128]| -> Vec<u128> {
        (0..n)
            .map(|i| {
                let j = i as isize + s;
                if j >= 0 && (j as usize) < n {
                    v[j as usize]
                } else {
                    0
                }
            })
            .collect()
    };
    AShare {
        a: mv(&x.a),
        b: mv(&x.b),
    }
}

/// Suffix sums (`out[i] = Σ_{j ≥ i} x[j]`), local.
pub(crate) fn suffix_sum(x: &AShare<u128>) -> AShare<u128> {
    let rev = |v: &[u128]| -> Vec<u128> {
        let mut acc = 0u128;
        let mut out = vec![0u128; v.len()];
        for i in (0..v.len()).rev() {
            acc = acc.wrapping_add(v[i]);
            out[i] = acc;
        }
        out
    };
    AShare {
        a: rev(&x.a),
        b: rev(&x.b),
    }
}

/// The integer indicator `[x ≥ 1/2]` of a fixed-point column (events recorded as 1.0).
pub(crate) fn indicator(p: &mut Party, x: &AShare<u128>) -> Result<AShare<u128>> {
    let half = p.public(&vec![encode::<u128>(0.5, p.frac_bits()); x.len()]);
    let below = p.lt_arith(x, &half)?;
    Ok(p.add_const(&below.neg(), 1))
}

/// The refusal of a table with a complete case outside `0 ≤ entry < time` (MPC and twin).
pub(crate) fn invalid_entry() -> StatsError {
    StatsError::Invalid(
        "delayed entry: every complete case needs 0 <= entry < time (a row with entry >= \
         time is never at risk; R refuses it too): fix or drop those rows"
            .into(),
    )
}

/// Delayed entry (left truncation): a row is at risk at `t` only if `entry < t ≤ time`.
///
/// The risk set of `t` is `{time ≥ t}` minus `{entry ≥ t}`, so each row gets a second
/// *entry record* (time = its entry, no event, weight −1, the same covariates and strata)
/// after the `n` stop records (weight +1). Sorted once, the `2n` records give every
/// risk-set sum as the signed prefix sum read at a tie group's end, unchanged code: an entry
/// at `t` shares `t`'s tie group and subtracts, so a row that enters at `t` is not at risk at
/// `t` (R's `Surv(start, stop, event)`). Events live on stop records only. Cost: the sort and
/// every per-row step run on `2n` records ([`crate::cost`]).
///
/// Leakage: [`EntryRecords::check`] opens one bit ("every complete case has
/// `0 ≤ entry < time`"). The sort's comparison bits are simulatable from `2n`; the scan
/// depth [`RiskOrder`] opens bounds the largest number of *records* sharing one time (stop
/// and entry times together). Nothing else.
pub(crate) struct EntryRecords {
    /// The entry times (fixed point); `None`: no delayed entry, records are the rows.
    entry: Option<AShare<u128>>,
}

impl EntryRecords {
    /// The entry column of `frame` (`None`: no delayed entry); its present indicator
    /// multiplies `used` (a row without an entry time is not a complete case).
    pub fn new(
        p: &mut Party,
        frame: &Frame,
        entry: Option<&str>,
        used: &mut AShare<u128>,
    ) -> Result<EntryRecords> {
        let Some(name) = entry else {
            return Ok(EntryRecords { entry: None });
        };
        let (e, ep) = frame.numeric(name)?;
        *used = p.mul(used, ep)?;
        Ok(EntryRecords {
            entry: Some(e.clone()),
        })
    }

    /// Refuses the analysis when a complete case (`used`, final) has `entry < 0` or
    /// `entry ≥ time` (R refuses `start >= stop`); nothing to check without entry.
    pub fn check(&self, p: &mut Party, time: &AShare<u128>, used: &AShare<u128>) -> Result<()> {
        let Some(e) = &self.entry else {
            return Ok(());
        };
        let n = time.len();
        // [entry < time] and [entry < 0] in one comparison.
        let lt = p.lt_arith(
            &AShare::concat(&[e, e]),
            &AShare::concat(&[time, &AShare::zeros(n)]),
        )?;
        let parts = lt.split(&[n, n]);
        let bad = p.add_const(&parts[0].neg(), 1).add(&parts[1]);
        let count = p.dot(&bad, used, n)?;
        let none = p.is_zero(&count)?;
        // LEAKAGE: the one bit "every complete case has 0 ≤ entry < time" (an error
        // otherwise, as R's `Surv` refuses such rows).
        if p.reveal_bits(&none)?[0] & 1 == 0 {
            return Err(invalid_entry());
        }
        Ok(())
    }

    /// Whether there is delayed entry (then there are `2n` records).
    pub fn delayed(&self) -> bool {
        self.entry.is_some()
    }

    /// The records' times: the stop times, then the entry times.
    pub fn time(&self, time: &AShare<u128>) -> AShare<u128> {
        match &self.entry {
            Some(e) => AShare::concat(&[time, e]),
            None => time.clone(),
        }
    }

    /// A column that counts towards risk sets: `x` on stop records, `-x` on entry records.
    pub fn signed(&self, x: &AShare<u128>) -> AShare<u128> {
        match &self.entry {
            Some(_) => AShare::concat(&[x, &x.neg()]),
            None => x.clone(),
        }
    }

    /// A column that only stop records carry (events): zero on entry records.
    pub fn stop_only(&self, x: &AShare<u128>) -> AShare<u128> {
        match &self.entry {
            Some(_) => AShare::concat(&[x, &AShare::zeros(x.len())]),
            None => x.clone(),
        }
    }

    /// A row attribute both records carry (covariates, strata).
    pub fn both(&self, x: &AShare<u128>) -> AShare<u128> {
        match &self.entry {
            Some(_) => AShare::concat(&[x, x]),
            None => x.clone(),
        }
    }
}

/// `same[i] = [k_i == k_{i+1}]` for `i < n - 1` and 0 on the last row, as integers in
/// Z_2^128 (one batched equality test, exact).
pub(crate) fn adjacent_equal<R: tessera_mpc::Ring>(
    p: &mut Party,
    k: &AShare<R>,
) -> Result<AShare<u128>> {
    let n = k.len();
    if n < 2 {
        return Ok(AShare::zeros(n));
    }
    let head = k.slice(0..n - 1);
    let tail = k.slice(1..n);
    let eq = p.eq(&head, &tail)?;
    let mut same: AShare<u128> = p.inject(&[&eq], n - 1)?.remove(0);
    same.a.push(0);
    same.b.push(0);
    Ok(same)
}

/// The analysis' rows in descending time order, with their tie structure.
pub(crate) struct RiskOrder {
    /// Time, fixed point, descending.
    pub time: AShare<u128>,
    /// The columns the caller asked to move, in the same order.
    pub cols: Vec<AShare<u128>>,
    /// 1 on the last row of each tie group (integers).
    pub end: AShare<u128>,
    /// Scan flags per level: `flags[l][i] = 1` iff rows `i` and `i + 2^l` have equal times
    /// (and strata).
    flags: Vec<AShare<u128>>,
    /// Stratified: the one-hot stratum indicators (integers, zero on rows that are not
    /// complete cases) in risk-set order; empty without strata.
    pub strata: Vec<AShare<u128>>,
}

/// Bits of the stratum code above the time in the stratified sort key: the fixed-point
/// times lie below 2^62 in magnitude ([`crate::ranges::compare_limit`], checked by every
/// data owner), so the strata's key ranges `(code·2^62 - 2^62, code·2^62 + 2^62)` are
/// ordered by code and the rows of one stratum stay one block whatever their times.
const STRATUM_SHIFT: u32 = 62;

/// The sort key's bits and the start of the keys of rows that are not complete cases, with
/// `strata` one-hot indicators (0: one stratum, key `-time`).
///
/// Without strata the complete cases' keys lie in `(-2^62, 2^62)`, and `LAST = 3·2^61`
/// with `LAST + i` below 2^63 for any row count: 64 bits. With `S ≥ 1` strata they lie in
/// `(-2^62, S·2^62)`, `LAST = S·2^62`, and `LAST + i < (S + 1)·2^62`: the key needs
/// `63 + ceil(log2(S + 1))` bits.
fn key_layout(strata: usize) -> (u32, u128) {
    if strata == 0 {
        return (64, 3 << 61);
    }
    let s = strata as u128;
    let wide = 63 + (128 - s.leading_zeros());
    (wide, s << STRATUM_SHIFT)
}

/// A risk order's sort before its columns are moved ([`RiskOrder::sort`]).
pub(crate) struct RiskSort {
    perm: SortPerm,
    /// The sort key of every row, in input order.
    key: AShare<u128>,
}

/// The forward and the backward scans of [`RiskOrder::seg_prefix_suffix`].
pub(crate) type ScanPair = (Vec<AShare<u128>>, Vec<AShare<u128>>);

impl RiskSort {
    /// `cols` (of the sorted key's length) moved as [`RiskOrder::arrange`] moved its
    /// columns: the sort's permutation applied once more (two rounds; opens nothing), for
    /// columns that were not ready when the order was arranged.
    pub(crate) fn apply(&self, p: &mut Party, cols: &[AShare<u128>]) -> Result<Vec<AShare<u128>>> {
        if cols.iter().any(|c| c.len() != self.key.len()) {
            return Err(StatsError::Invalid("columns of different lengths".into()));
        }
        Ok(
            p.apply_sort(&self.perm, &Table::new(vec![], cols.to_vec())?)?
                .c128,
        )
    }
}

impl RiskOrder {
    /// The sort key in Z_2^128 (a signed value within the bits of [`key_layout`]): `-time`,
    /// or with strata `code·2^62 - time`; with `used` (complete cases), rows that are not
    /// complete cases get `LAST + i` instead (row `i`), above every complete case's key and
    /// all distinct, so that they come last, in input order, each a tie group of its own.
    fn wide_key(
        p: &mut Party,
        time: &AShare<u128>,
        strata: &[AShare<u128>],
        used: Option<&AShare<u128>>,
    ) -> Result<AShare<u128>> {
        let mut key = time.neg();
        for (s, h) in strata.iter().enumerate().skip(1) {
            key = key.add(&h.mul_const((s as u128) << STRATUM_SHIFT));
        }
        let Some(used) = used else {
            return Ok(key);
        };
        let (_, first) = key_layout(strata.len());
        let last: Vec<u128> = (0..key.len() as u128).map(|i| first + i).collect();
        // used·key + (1 - used)·(LAST + i) = LAST + i + used·(key - LAST - i).
        let rel = p.add_public(
            &key,
            &last.iter().map(|x| x.wrapping_neg()).collect::<Vec<_>>(),
        );
        let moved = p.mul(used, &rel)?;
        Ok(p.add_public(&moved, &last))
    }

    /// Sorts `time` (fixed point, below 2^39 in magnitude) descending together with `cols`
    /// and derives the tie structure; with strata (`strata`: one-hot stratum indicators,
    /// integers, zero on rows that are not complete cases; empty: one stratum), by stratum
    /// first, so that risk sets lie within strata (module docs).
    pub fn stratified(
        p: &mut Party,
        time: &AShare<u128>,
        strata: &[AShare<u128>],
        cols: &[AShare<u128>],
    ) -> Result<RiskOrder> {
        let sort = Self::sort(p, time, strata, None)?;
        Self::arrange(p, &sort, time, strata, cols)
    }

    /// The first half of [`RiskOrder::stratified`]: the sort of the key alone (`strata` the
    /// one-hot indicators that order the strata, `used` the complete cases, sorted last when
    /// given), so that a caller can prepare the columns beside it
    /// ([`Party::side_by_side`]) and move them with [`RiskOrder::arrange`].
    pub(crate) fn sort(
        p: &mut Party,
        time: &AShare<u128>,
        strata: &[AShare<u128>],
        used: Option<&AShare<u128>>,
    ) -> Result<RiskSort> {
        let n = time.len();
        if strata.iter().chain(used).any(|c| c.len() != n) {
            return Err(StatsError::Invalid("columns of different lengths".into()));
        }
        if strata.len() >= 1 << 20 {
            return Err(StatsError::Invalid("too many strata".into()));
        }
        let key = Self::wide_key(p, time, strata, used)?;
        // Keys within the bits of key_layout (64 without strata) in Z_2^128, no lift.
        // More pivots per pass where rounds cost more than bytes (Party::few_rounds).
        let opts = if p.few_rounds() {
            SortOptions::few_rounds()
        } else {
            SortOptions::default()
        };
        let perm = p.sort_perm_wide_with(&key, key_layout(strata.len()).0, &opts)?;
        Ok(RiskSort { perm, key })
    }

    /// The second half of [`RiskOrder::stratified`]: `time`, `cols` and the one-hot `strata`
    /// (zero on rows that are not complete cases) moved by `sort`, and the tie structure of
    /// its key.
    pub(crate) fn arrange(
        p: &mut Party,
        sort: &RiskSort,
        time: &AShare<u128>,
        strata: &[AShare<u128>],
        cols: &[AShare<u128>],
    ) -> Result<RiskOrder> {
        let n = time.len();
        if cols.iter().chain(strata).any(|c| c.len() != n) || sort.key.len() != n {
            return Err(StatsError::Invalid("columns of different lengths".into()));
        }
        let mut all = vec![sort.key.clone(), time.clone()];
        all.extend(cols.iter().cloned());
        all.extend(strata.iter().cloned());
        let sorted = p.apply_sort(&sort.perm, &Table::new(vec![], all)?)?;
        let mut c = sorted.c128;
        let strata = c.split_off(2 + cols.len());
        let time = c.remove(1);
        let key = c.remove(0);
        // Every level in one batched test where rounds cost more than bytes and computation
        // (Party::few_rounds), else one product per level. Without strata the key lies
        // within 64 bits, whose equality is the key's; with strata, the whole key's.
        let (end, flags) = match (p.few_rounds(), strata.is_empty()) {
            (true, true) => Self::sorted_levels(p, &low64(&key))?,
            (true, false) => Self::sorted_levels(p, &key)?,
            (false, true) => {
                let same = adjacent_equal(p, &low64(&key))?;
                Self::levels(p, same)?
            }
            (false, false) => {
                let same = adjacent_equal(p, &key)?;
                Self::levels(p, same)?
            }
        };
        Ok(RiskOrder {
            time,
            cols: c,
            end,
            flags,
            strata,
        })
    }

    /// Sorts the rows by a 64-bit `key` (ascending, stably) together with `cols` and the
    /// one-hot `strata` (as [`RiskOrder::stratified`]; the key must order the strata as
    /// their levels, code above the rest), with groups of equal key. `time` is left zero:
    /// the order is not by time. Same leakage as [`RiskOrder::stratified`] (the sort's
    /// simulatable bits, the scan depth of the largest group of equal keys).
    pub fn by_key(
        p: &mut Party,
        key: &AShare<u64>,
        strata: &[AShare<u128>],
        cols: &[AShare<u128>],
    ) -> Result<RiskOrder> {
        let n = key.len();
        if cols.iter().chain(strata).any(|c| c.len() != n) {
            return Err(StatsError::Invalid("columns of different lengths".into()));
        }
        let perm = p.sort_perm(key, SortOptions::default())?;
        let mut all = cols.to_vec();
        all.extend(strata.iter().cloned());
        let sorted = p.apply_sort(&perm, &Table::new(vec![key.clone()], all)?)?;
        let mut c = sorted.c128;
        let strata = c.split_off(cols.len());
        let same = adjacent_equal(p, &sorted.c64[0])?;
        let (end, flags) = Self::levels(p, same)?;
        Ok(RiskOrder {
            time: AShare::zeros(n),
            cols: c,
            end,
            flags,
            strata,
        })
    }

    /// Sorts the rows by a wide `key` in Z_2^128 (descending, stably; values within
    /// `±2^(key_bits-1)`, see [`tessera_mpc::sort`]'s wide sort) together with `time` and
    /// `cols`, with groups of equal key: for a key kept exact (a linear predictor, never
    /// truncated, so that rows with equal covariates tie as in plaintext) while `time`
    /// carries a fixed-point value of the rows (e.g. the predicted probability). One
    /// stratum. LEAKAGE: as [`RiskOrder::stratified`] (the sort's simulatable bits; the scan
    /// depth, `ceil(log2 g)` for the largest group of `g` rows with equal keys).
    pub fn by_wide_key(
        p: &mut Party,
        key: &AShare<u128>,
        key_bits: u32,
        time: &AShare<u128>,
        cols: &[AShare<u128>],
    ) -> Result<RiskOrder> {
        let n = key.len();
        if cols.iter().chain([time]).any(|c| c.len() != n) {
            return Err(StatsError::Invalid("columns of different lengths".into()));
        }
        let down = key.neg();
        let perm = p.sort_perm_wide(&down, key_bits, SortOptions::default().pivots)?;
        let mut all = vec![down, time.clone()];
        all.extend(cols.iter().cloned());
        let mut c = p.apply_sort(&perm, &Table::new(vec![], all)?)?.c128;
        let rest = c.split_off(2);
        let time = c.pop().expect("time");
        let same = adjacent_equal(p, &c[0])?;
        let mut order = Self::runs(p, same)?;
        order.time = time;
        order.cols = rest;
        Ok(order)
    }

    /// Groups of rows already in order: `same[i] = 1` iff rows `i` and `i + 1` are in one
    /// group (integers, zero on the last row). No sort, no columns, one stratum, `time` zero.
    /// LEAKAGE: the scan depth, `ceil(log2 g)` for the largest group of `g` rows, is opened
    /// as in [`RiskOrder::stratified`].
    pub fn runs(p: &mut Party, same: AShare<u128>) -> Result<RiskOrder> {
        let n = same.len();
        let (end, flags) = Self::levels(p, same)?;
        Ok(RiskOrder {
            time: AShare::zeros(n),
            cols: Vec::new(),
            end,
            flags,
            strata: Vec::new(),
        })
    }

    /// Groups of rows already in order, as [`RiskOrder::runs`], whose sizes are at most the
    /// public `max`: the scan levels `0..ceil(log2 max)`, nothing opened (for groups whose
    /// largest size would say something about secret values, e.g. ties of a linear
    /// predictor; costs `ceil(log2 max) - 1` rounds of flag products).
    pub fn runs_bounded(p: &mut Party, same: AShare<u128>, max: usize) -> Result<RiskOrder> {
        let n = same.len();
        let depth = if max <= 1 {
            0
        } else {
            (usize::BITS - (max - 1).leading_zeros()) as usize
        };
        let end = p.add_const(&same.neg(), 1);
        let mut flags = vec![same];
        while flags.len() < depth {
            let s = 1isize << (flags.len() - 1);
            let last = flags.last().expect("level 0");
            let next = p.mul(last, &shifted(last, s))?;
            flags.push(next);
        }
        flags.truncate(depth);
        Ok(RiskOrder {
            time: AShare::zeros(n),
            cols: Vec::new(),
            end,
            flags,
            strata: Vec::new(),
        })
    }

    /// The group ends and the scan flags of every level from the level-0 flags
    /// `same[i] = [rows i and i + 1 are in one group]`, truncated at the first all-zero
    /// level (the one opened value, see below).
    fn levels(p: &mut Party, flags0: AShare<u128>) -> Result<(AShare<u128>, Vec<AShare<u128>>)> {
        let n = flags0.len();
        let end = p.add_const(&flags0.neg(), 1);
        let mut flags = vec![flags0];
        let mut s = 1usize;
        while 2 * s < n {
            let last = flags.last().expect("level 0");
            let next = p.mul(last, &shifted(last, s as isize))?;
            flags.push(next);
            s *= 2;
        }
        let flags = Self::to_depth(p, flags)?;
        Ok((end, flags))
    }

    /// [`RiskOrder::levels`] of rows sorted by `key` (ascending): there rows `i` and
    /// `i + 2^l` lie in one group iff their keys are equal, so every level's flags come from
    /// one batched equality test of the key at distance `2^l` (the rounds of one test,
    /// where the products of [`RiskOrder::levels`] take one round per level). Same flags,
    /// same opened depth.
    fn sorted_levels<R: tessera_mpc::Ring>(
        p: &mut Party,
        key: &AShare<R>,
    ) -> Result<(AShare<u128>, Vec<AShare<u128>>)> {
        let n = key.len();
        let mut dists = Vec::new();
        let mut s = 1usize;
        while s < n {
            dists.push(s);
            s *= 2;
        }
        if dists.is_empty() {
            let flags = vec![AShare::zeros(n)];
            return Ok((p.public(&vec![1u128; n]), Self::to_depth(p, flags)?));
        }
        let heads: Vec<AShare<R>> = dists.iter().map(|&s| key.slice(0..n - s)).collect();
        let tails: Vec<AShare<R>> = dists.iter().map(|&s| key.slice(s..n)).collect();
        let eq = p.eq(
            &AShare::concat(&heads.iter().collect::<Vec<_>>()),
            &AShare::concat(&tails.iter().collect::<Vec<_>>()),
        )?;
        let total: usize = dists.iter().map(|&s| n - s).sum();
        let all: AShare<u128> = p.inject(&[&eq], total)?.remove(0);
        let lens: Vec<usize> = dists.iter().map(|&s| n - s).collect();
        let flags: Vec<AShare<u128>> = all
            .split(&lens)
            .into_iter()
            .map(|mut f| {
                f.a.resize(n, 0);
                f.b.resize(n, 0);
                f
            })
            .collect();
        let end = p.add_const(&flags[0].neg(), 1);
        Ok((end, Self::to_depth(p, flags)?))
    }

    /// The scan levels that are needed: those below the first all-zero one (the one value
    /// opened, see below).
    fn to_depth(p: &mut Party, mut flags: Vec<AShare<u128>>) -> Result<Vec<AShare<u128>>> {
        // Scans need only the levels below the first all-zero one: with the largest tie
        // group of g rows, levels 0..ceil(log2 g) (a level is all zero iff every group has
        // at most 2^l rows).
        // LEAKAGE: which levels are all zero is opened, i.e. ceil(log2(g)) for the largest
        // number g of rows sharing one time (0 when all times differ; with delayed entry,
        // of records: stop and entry times together, see EntryRecords; for the orders of
        // `by_key` and `runs`, of rows sharing a key or a run). It saves scan rounds
        // and bytes in proportion (17 levels for 10^5 rows against typically 3 to 6).
        // The sums count rows (below 2^64): tested in Z_2^64, one round fewer.
        let sums: Vec<AShare<u64>> = flags.iter().map(|f| low64(&f.sum())).collect();
        let zero = p.is_zero(&AShare::concat(&sums.iter().collect::<Vec<_>>()))?;
        let zero = p.reveal_bits(&zero)?;
        let depth = (0..flags.len())
            .find(|&l| (zero[l / 64] >> (l % 64)) & 1 == 1)
            .unwrap_or(flags.len());
        flags.truncate(depth);
        Ok(flags)
    }

    /// Per column, `Σ_j x_j·[s_j < s]` (`before`) or `[s_j > s]` for each stratum `s`,
    /// copied to the rows of stratum `s` and summed: what the strata sorted before (after)
    /// a row's own contribute to its prefix (suffix) sums. Two rounds, exact.
    fn stratum_offsets(
        &self,
        p: &mut Party,
        cols: &[AShare<u128>],
        before: bool,
    ) -> Result<Vec<AShare<u128>>> {
        let (n, k) = (self.time.len(), self.strata.len());
        // others[s] = Σ_{s' < s} h_{s'} (before) or Σ_{s' > s} h_{s'} (after), s where
        // that is not empty.
        let idx: Vec<usize> = if before {
            (1..k).collect()
        } else {
            (0..k.saturating_sub(1)).collect()
        };
        if idx.is_empty() || cols.is_empty() {
            return Ok(cols.iter().map(|c| AShare::zeros(c.len())).collect());
        }
        let others: Vec<AShare<u128>> = idx
            .iter()
            .map(|&s| {
                let range = if before { 0..s } else { s + 1..k };
                self.strata[range]
                    .iter()
                    .fold(AShare::zeros(n), |acc, h| acc.add(h))
            })
            .collect();
        let mut xs = Vec::new();
        let mut os = Vec::new();
        for c in cols {
            for o in &others {
                xs.push(c);
                os.push(o);
            }
        }
        let totals = p.dot(&AShare::concat(&xs), &AShare::concat(&os), n)?;
        let reps: Vec<AShare<u128>> = (0..totals.len())
            .map(|i| AShare {
                a: vec![totals.a[i]; n],
                b: vec![totals.b[i]; n],
            })
            .collect();
        let pairs: Vec<_> = reps
            .iter()
            .enumerate()
            .map(|(i, r)| (&self.strata[idx[i % idx.len()]], r))
            .collect();
        let prod = p.mul_many(&pairs)?;
        Ok(prod
            .chunks(idx.len())
            .map(|ch| ch.iter().fold(AShare::zeros(n), |acc, x| acc.add(x)))
            .collect())
    }

    /// Risk-set prefix sums: for each row, the sum of `cols` over the rows of its stratum
    /// up to and including it (plain prefix sums without strata; local then, two rounds
    /// with strata). Read at a tie group's end row, the risk-set sum of its time.
    pub fn within_prefix(&self, p: &mut Party, cols: &[AShare<u128>]) -> Result<Vec<AShare<u128>>> {
        let pre: Vec<AShare<u128>> = cols.iter().map(AShare::prefix_sum).collect();
        if self.strata.len() < 2 {
            return Ok(pre);
        }
        let off = self.stratum_offsets(p, cols, true)?;
        Ok(pre.iter().zip(&off).map(|(a, b)| a.sub(b)).collect())
    }

    /// Suffix sums within strata: for each row, the sum of `cols` over the rows of its
    /// stratum from it to the stratum's last row (local without strata, two rounds with).
    pub fn within_suffix(&self, p: &mut Party, cols: &[AShare<u128>]) -> Result<Vec<AShare<u128>>> {
        let suf: Vec<AShare<u128>> = cols.iter().map(suffix_sum).collect();
        if self.strata.len() < 2 {
            return Ok(suf);
        }
        let off = self.stratum_offsets(p, cols, false)?;
        Ok(suf.iter().zip(&off).map(|(a, b)| a.sub(b)).collect())
    }

    /// Sums within each tie group of the rows at or before each row (`forward`) or at or
    /// after it, for several columns at once.
    fn seg_scan(
        &self,
        p: &mut Party,
        cols: &[AShare<u128>],
        forward: bool,
    ) -> Result<Vec<AShare<u128>>> {
        let mut y: Vec<AShare<u128>> = cols.to_vec();
        for (l, f) in self.flags.iter().enumerate() {
            let s = 1isize << l;
            // Forward: y[i] += F[i - s]·y[i - s]; backward: y[i] += F[i]·y[i + s].
            let (flag, shift) = if forward {
                (shifted(f, -s), -s)
            } else {
                (f.clone(), s)
            };
            let moved: Vec<AShare<u128>> = y.iter().map(|v| shifted(v, shift)).collect();
            let pairs: Vec<_> = moved.iter().map(|m| (&flag, m)).collect();
            let add = p.mul_many(&pairs)?;
            for (v, a) in y.iter_mut().zip(&add) {
                *v = v.add(a);
            }
        }
        Ok(y)
    }

    /// For each row, the sum over the rows of its tie group up to and including it.
    /// At a group's [`RiskOrder::end`] row this is the group total.
    pub fn seg_prefix(&self, p: &mut Party, cols: &[AShare<u128>]) -> Result<Vec<AShare<u128>>> {
        self.seg_scan(p, cols, true)
    }

    /// For each row, the sum over the rows of its tie group from it to the group's end.
    /// Applied to a column that is zero except at group ends, this copies each group's
    /// end value to every row of the group.
    pub fn seg_suffix(&self, p: &mut Party, cols: &[AShare<u128>]) -> Result<Vec<AShare<u128>>> {
        self.seg_scan(p, cols, false)
    }

    /// [`RiskOrder::seg_prefix`] of `fwd` and [`RiskOrder::seg_suffix`] of `bwd` together:
    /// each level's products of both in one round, so the pair costs the rounds of one scan
    /// (issue 19). Opens nothing.
    pub fn seg_prefix_suffix(
        &self,
        p: &mut Party,
        fwd: &[AShare<u128>],
        bwd: &[AShare<u128>],
    ) -> Result<ScanPair> {
        let mut y: Vec<AShare<u128>> = fwd.to_vec();
        let mut z: Vec<AShare<u128>> = bwd.to_vec();
        for (l, f) in self.flags.iter().enumerate() {
            let s = 1isize << l;
            // Forward: y[i] += F[i - s]·y[i - s]; backward: z[i] += F[i]·z[i + s].
            let flag = shifted(f, -s);
            let ahead: Vec<AShare<u128>> = y.iter().map(|v| shifted(v, -s)).collect();
            let behind: Vec<AShare<u128>> = z.iter().map(|v| shifted(v, s)).collect();
            let mut pairs: Vec<_> = ahead.iter().map(|m| (&flag, m)).collect();
            pairs.extend(behind.iter().map(|m| (f, m)));
            let add = p.mul_many(&pairs)?;
            let (add_f, add_b) = add.split_at(y.len());
            for (v, a) in y.iter_mut().zip(add_f) {
                *v = v.add(a);
            }
            for (v, a) in z.iter_mut().zip(add_b) {
                *v = v.add(a);
            }
        }
        Ok((y, z))
    }

    /// The group totals of `cols` placed on each group's end row (zero elsewhere).
    pub fn group_totals(&self, p: &mut Party, cols: &[AShare<u128>]) -> Result<Vec<AShare<u128>>> {
        let sums = self.seg_prefix(p, cols)?;
        let pairs: Vec<_> = sums.iter().map(|s| (&self.end, s)).collect();
        Ok(p.mul_many(&pairs)?)
    }

    /// Each group's value of `cols` (read on its end row) copied to every row of the group.
    pub fn broadcast(&self, p: &mut Party, cols: &[AShare<u128>]) -> Result<Vec<AShare<u128>>> {
        let pairs: Vec<_> = cols.iter().map(|c| (&self.end, c)).collect();
        let at_end = p.mul_many(&pairs)?;
        self.seg_suffix(p, &at_end)
    }
}

/// What Kaplan–Meier and the log-rank test start from: per group level `c`, in risk-set
/// order, the complete cases of the level (`rows[c]`, integers), its events (`events[c]`),
/// the number at risk (`at_risk[c]`: prefix counts, read at group ends) and the events at
/// each time (`deaths[c]`: on group-end rows, zero elsewhere).
pub(crate) struct GroupedRisk {
    /// Complete cases (opened: named in the results).
    pub total: u64,
    /// Events per level, in input order (integers; for observed counts).
    pub observed: Vec<AShare<u128>>,
    /// The risk-set order (its `cols` are `rows` then `events`).
    pub risk: RiskOrder,
    /// Number at risk per level and row.
    pub at_risk: Vec<AShare<u128>>,
    /// Events per level at each group end.
    pub deaths: Vec<AShare<u128>>,
    /// Levels.
    pub k: usize,
    /// With delayed entry and `leaving` ([`GroupedRisk::new`]): 1 on the stop records of
    /// complete cases, 0 on entry records, in risk-set order (who leaves the risk set at a
    /// time, as opposed to who enters it).
    pub stops: Option<AShare<u128>>,
    /// Whether the records include entry records (delayed entry).
    pub entry: bool,
}

impl GroupedRisk {
    /// The number at risk on every row (all levels together) when it is public: without
    /// strata and delayed entry the complete cases come first in risk-set order (the rows
    /// that are not complete cases are sorted last, [`RiskOrder::sort`]), so row `i`'s
    /// prefix count is `min(i + 1, total)`, a function of the opened `total` alone. `None`
    /// with strata or delayed entry (a prefix count within a stratum, or of signed
    /// records, is data).
    pub fn public_at_risk(&self) -> Option<Vec<u64>> {
        if self.risk.strata.len() >= 2 || self.entry {
            return None;
        }
        let n = self.risk.time.len() as u64;
        Some((0..n).map(|i| (i + 1).min(self.total)).collect())
    }

    /// Complete-case and event indicators of each level, in risk-set order.
    pub fn rows(&self) -> (&[AShare<u128>], &[AShare<u128>]) {
        self.risk.cols.split_at(self.k)
    }

    /// Each level's stop records of complete cases in risk-set order: who leaves the risk
    /// set at a time (without delayed entry, the complete cases themselves). With delayed
    /// entry, only when built with `leaving` (else the entry records would count).
    pub fn leaving(&self, p: &mut Party) -> Result<Vec<AShare<u128>>> {
        let (at, _) = self.rows();
        match &self.stops {
            Some(s) => {
                let pairs: Vec<(&AShare<u128>, &AShare<u128>)> =
                    at.iter().map(|a| (a, s)).collect();
                Ok(p.mul_many(&pairs)?)
            }
            None if !self.entry => Ok(at.to_vec()),
            None => Err(StatsError::Invalid(
                "who leaves the risk set needs the stop records' flag: build the risk order \
                 with `leaving`"
                    .into(),
            )),
        }
    }

    /// Builds it from the frame: complete cases of time, event, entry (`None`: no delayed
    /// entry; with it the risk order holds `2n` records, [`EntryRecords`]; with `leaving`
    /// too, the sort also carries the stop records' flag that [`GroupedRisk::leaving`]
    /// needs, and only then), group (`None`: one level, everybody) and strata (`None`: one
    /// stratum); checks `min_rows` on the opened count and `min_level_rows` inside MPC, for
    /// the group's levels and the strata alike.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        p: &mut Party,
        frame: &Frame,
        time: &str,
        event: &str,
        (entry, leaving): (Option<&str>, bool),
        group: Option<&str>,
        strata: Option<&str>,
        disclosure: &Disclosure,
    ) -> Result<GroupedRisk> {
        let n = frame.rows;
        let (t, tp) = frame.numeric(time)?;
        let (e, ep) = frame.numeric(event)?;
        let mut used = p.mul(tp, ep)?;
        let records = EntryRecords::new(p, frame, entry, &mut used)?;
        let levels = match group {
            Some(g) => {
                let c = frame.categorical(g)?;
                used = p.mul(&used, c.present)?;
                c.onehot.to_vec()
            }
            None => vec![p.public(&vec![1u128; n])],
        };
        let strata_onehot = match strata {
            Some(s) => {
                let c = frame.categorical(s)?;
                used = p.mul(&used, c.present)?;
                c.onehot.to_vec()
            }
            None => Vec::new(),
        };
        let k = levels.len();
        // The sort needs only the times, the strata's order and the complete cases (sorted
        // last): it runs beside the columns' preparation and the checks (a refusal there
        // stops both; the sort's opened bits are simulatable whatever the data).
        let rec_time = records.time(t);
        let rec_used = records.both(&used);
        let key_strata: Vec<AShare<u128>> = strata_onehot.iter().map(|h| records.both(h)).collect();
        // A refusal (an opened check) comes back as a value, not as a failure of the half:
        // a failed half aborts the session, and a refusal must leave it usable (the other
        // analyses of a study go on); every party refuses alike, after the sort.
        let (sort, prepared) = p.side_by_side(
            |q| RiskOrder::sort(q, &rec_time, &key_strata, Some(&rec_used)),
            |q| {
                let prepare = |q: &mut Party| -> Result<_> {
                    records.check(q, t, &used)?;
                    let ev = indicator(q, e)?;
                    let dead = q.mul(&ev, &used)?;
                    let mut pairs: Vec<(&AShare<u128>, &AShare<u128>)> =
                        levels.iter().map(|h| (h, &used)).collect();
                    pairs.extend(levels.iter().map(|h| (h, &dead)));
                    pairs.extend(strata_onehot.iter().map(|h| (h, &used)));
                    let mut cols = q.mul_many(&pairs)?;
                    let hs = cols.split_off(2 * k);
                    // Opened: the number of complete cases (named in the results).
                    let total = q.reveal(&used.sum())?[0] as u64;
                    disclosure.check_rows(total as usize)?;
                    let named = group
                        .map(|g| (g, &cols[..k]))
                        .into_iter()
                        .chain(strata.map(|s| (s, &hs[..])));
                    for (name, ind) in named {
                        let sums: Vec<AShare<u128>> = ind.iter().map(AShare::sum).collect();
                        let counts = AShare::concat(&sums.iter().collect::<Vec<_>>());
                        disclosure.check_level_rows(q, &counts, name)?;
                        // A group level without complete cases has no curve and makes the
                        // log-rank covariance singular; a stratum without them is a declared
                        // level that is not in the data (refused alike, so that the study's
                        // levels say what was analysed).
                        // LEAKAGE: the one bit "every level of this column has a complete case"
                        // is opened (per column: the group, then the strata).
                        if !every_at_least(q, &counts, 1)? {
                            return Err(StatsError::Invalid(format!(
                                "a level of {name} has no complete cases: drop it from the \
                             study's levels"
                            )));
                        }
                    }
                    Ok((cols, hs, total))
                };
                match prepare(q) {
                    Err(StatsError::Mpc(e)) => Err(StatsError::Mpc(e)),
                    r => Ok(r),
                }
            },
        )?;
        let (cols, hs, total) = prepared?;
        let observed = cols[k..].iter().map(AShare::sum).collect();
        let (at, evs) = cols.split_at(k);
        let mut moved: Vec<AShare<u128>> = at.iter().map(|c| records.signed(c)).collect();
        moved.extend(evs.iter().map(|c| records.stop_only(c)));
        let with_stops = entry.is_some() && leaving;
        if with_stops {
            moved.push(records.stop_only(&used));
        }
        let hs: Vec<AShare<u128>> = hs.iter().map(|h| records.both(h)).collect();
        let mut risk = RiskOrder::arrange(p, &sort, &rec_time, &hs, &moved)?;
        let stops = if with_stops { risk.cols.pop() } else { None };
        let (at, evs) = risk.cols.split_at(k);
        let at_risk = risk.within_prefix(p, at)?;
        let deaths = risk.group_totals(p, evs)?;
        Ok(GroupedRisk {
            total,
            observed,
            risk,
            at_risk,
            deaths,
            k,
            stops,
            entry: entry.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_mpc::fixed::{decode_vec, encode_vec};
    use tessera_mpc::testing::{input, run3_ok};
    use tessera_mpc::MpcError;

    fn mpc(e: StatsError) -> MpcError {
        match e {
            StatsError::Mpc(m) => m,
            e => MpcError::Invalid(e.to_string()),
        }
    }

    #[test]
    fn groups_and_scans_match_plaintext() {
        let times = [3.0, 1.0, 3.0, 2.0, 3.0, 1.0, 5.0, 2.5, 2.5];
        let vals: Vec<u128> = (1..=9).collect();
        let [out, _, _] = run3_ok(|p| {
            let t = input(p, 0, &encode_vec::<u128>(&times, 24));
            let v = input(p, 1, &vals);
            let r = RiskOrder::stratified(p, &t, &[], &[v]).map_err(mpc)?;
            let tot = r.group_totals(p, &r.cols).map_err(mpc)?;
            let pre = r.seg_prefix(p, &r.cols).map_err(mpc)?;
            let bc = r.broadcast(p, &pre).map_err(mpc)?;
            Ok((
                decode_vec(&p.reveal(&r.time)?, 24),
                p.reveal(&r.cols[0])?,
                p.reveal(&r.end)?,
                p.reveal(&tot[0])?,
                p.reveal(&bc[0])?,
            ))
        });
        let (t, v, end, tot, bc) = out;
        assert_eq!(t, vec![5.0, 3.0, 3.0, 3.0, 2.5, 2.5, 2.0, 1.0, 1.0]);
        // Stable sort of -t: ties keep input order.
        assert_eq!(v, vec![7, 1, 3, 5, 8, 9, 4, 2, 6]);
        assert_eq!(end, vec![1, 0, 0, 1, 0, 1, 1, 0, 1]);
        assert_eq!(tot, vec![7, 0, 0, 9, 0, 17, 4, 0, 8]);
        assert_eq!(bc, vec![7, 9, 9, 9, 17, 17, 4, 8, 8]);
    }

    /// Both scans at once equal each alone, on columns of different lengths of runs.
    #[test]
    fn prefix_and_suffix_together_match_each_alone() {
        let times = [3.0, 1.0, 3.0, 2.0, 3.0, 1.0, 5.0, 2.5, 2.5, 3.0, 3.0, 4.0];
        let a: Vec<u128> = (1..=12).collect();
        let b: Vec<u128> = (1..=12).map(|i| i * i + 100).collect();
        let [out, _, _] = run3_ok(|p| {
            let t = input(p, 0, &encode_vec::<u128>(&times, 24));
            let a = input(p, 1, &a);
            let b = input(p, 2, &b);
            let r = RiskOrder::stratified(p, &t, &[], &[a, b]).map_err(mpc)?;
            let pre = r.seg_prefix(p, &r.cols).map_err(mpc)?;
            let suf = r.seg_suffix(p, &r.cols[1..]).map_err(mpc)?;
            let (pre2, suf2) = r.seg_prefix_suffix(p, &r.cols, &r.cols[1..]).map_err(mpc)?;
            let open = |p: &mut Party, v: &[AShare<u128>]| -> tessera_mpc::Result<Vec<Vec<u128>>> {
                v.iter().map(|x| p.reveal(x)).collect()
            };
            Ok((
                open(p, &pre)?,
                open(p, &suf)?,
                open(p, &pre2)?,
                open(p, &suf2)?,
            ))
        });
        let (pre, suf, pre2, suf2) = out;
        assert_eq!(pre, pre2);
        assert_eq!(suf, suf2);
        // The group of the five rows at time 3 (values 1, 3, 5, 10, 11 of `a`, in order).
        assert_eq!(pre[0][2..7], [1, 4, 9, 19, 30]);
        assert_eq!(
            suf2[0][2..7],
            [
                101 + 109 + 125 + 200 + 221,
                109 + 125 + 200 + 221,
                125 + 200 + 221,
                200 + 221,
                221
            ]
        );
    }
}
