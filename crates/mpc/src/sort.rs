//! Oblivious stable sort of a shared table by a shared key: shuffle, then a comparison
//! sort whose comparison results are opened.
//!
//! # Protocol
//!
//! 1. **Unique keys.** Row `j` (of `n`) gets the composite key
//!    `K_j = (key_j + 2^(kb-1))·2^b + j`, with `b = ceil(log2 n)` index bits and `kb` key
//!    bits ([`SortOptions::key_bits`], default 64: every 64-bit key). The offset maps signed keys in
//!    `[-2^(kb-1), 2^(kb-1))` monotonically onto `[0, 2^kb)`, the index breaks ties in input
//!    order, so sorting by `K` is the stable sort by key and no two `K` are equal. When
//!    `kb + b + 1 > 64` (always for 64-bit keys) `K` is built in Z_2^128 after lifting the
//!    offset key from Z_2^64 ([`Party::lift_u64`]).
//! 2. **Shuffle** the table together with `K` ([`crate::shuffle`]).
//! 3. **Sort the shuffled rows** by `K` with a batched quicksort whose comparison bits are
//!    opened: each pass takes every unsorted segment, uses its first `p` rows as pivots
//!    ([`SortOptions::pivots`]), and compares in *one* batched comparison the pivots among
//!    themselves and every other row of the segment with each pivot. The opened bits give
//!    every pivot its final place and every other row its bucket; buckets of two or more
//!    rows are the next pass's segments (a segment of at most `p + 1` rows is finished by
//!    its all-pairs comparison). A comparison is the sign of `K_x - K_y` within
//!    `w = kb + b + 1` bits ([`Party::sign_within`]).
//! 4. The opened order is a public rearrangement of the shuffled rows: applying it is local.
//!
//! The result of steps 2–4, [`SortPerm`], keeps this party's shuffle factors and the public
//! order, so [`Party::apply_sort`] moves further columns the same way later.
//!
//! # Cost
//!
//! Per row, for the busiest party (party 0; the others send less), `e` bytes of payload:
//! - lift (only when `K` lives in Z_2^128): 16 + 8 + 302/8 + 16 bytes (input of `s0 + s1`,
//!   the block carry of 64 positions, the injected bit, [`lift_bytes`]), 7 rounds;
//! - shuffle: `2·(e + 8 or 16)` bytes, 2 rounds;
//! - comparisons: `C ≈ c(p)·log2 n` per row, each [`compare_bits`]`(w)/8` bytes (the sign's
//!   dealt block products, block gates and carry tree, [`crate::carry`], and the opened
//!   bit): 38 bytes for 64-bit keys and `n = 10^6` (w = 85; 41 with the plain carry tree),
//!   67 bytes for `n = 10^4` (w = 79; 38 before);
//! - rounds: [`crate::carry::carry_rounds`]`(w - 1)` levels per pass, consecutive passes
//!   overlapping ([`sort_rounds`]): 6 rounds per pass for w = 79 and 8 for w = 85 (9 with
//!   the plain carry tree).
//!
//! `C` and `P` are random (they depend only on the random permutation, see below); typical
//! values (single runs; `P` varies by a few between runs), `p` = pivots:
//!
//! | n | p = 1: C, P | p = 2: C, P | p = 3: C, P | few rounds: C, P |
//! |---|---|---|---|---|
//! | 10^3 | | | | 36.7, 3.9 (4) |
//! | 10^4 | | 19.1, 18.3 (20) | 21.6, 13.8 (15) | 56.0, 5.0 (5) |
//! | 10^5 | 20.4, 38 | 24.0, 23 | 27.1, 17 | 75.0, 6.5 (7) |
//! | 10^6 | 25.2, 47 | 29.9, 29 | 34.1, 22 | |
//!
//! (The rows for 10^3 and 10^4 and the last column: means of 20 simulated sorts, 2 at
//! 10^5, the largest `P` in brackets; the passes depend only on the random permutation, so
//! a plaintext simulation of the pivot choice gives their distribution. `tests/sort.rs`
//! measures the few-rounds sort of 10^4 rows: 5 passes, 56 comparisons per row.)
//!
//! The default `p = 2` nearly halves the passes of plain quicksort (`p = 1`) for about
//! 20 % more comparisons; raise it on high-latency links, lower it on fast ones.
//! [`SortOptions::few_rounds`] goes further where a round costs more than bytes (links
//! with milliseconds of latency, [`Party::few_rounds`]): each segment gets pivots by its
//! size ([`few_round_pivots`]: `floor(2·l^0.4)`, 2 to 24) and segments of at most
//! [`FINISH_ROWS`] = 24 rows are finished by all their pairs in one pass, so that the long
//! tail of small segments, which makes most of quicksort's passes, takes one. At 10^4 rows:
//! 5 passes (30 rounds) instead of 18 (108) for 2.9 times the comparisons (about 38 MB
//! instead of 13 MB for party 0, w = 79), and several times the computation (measured on a
//! loaded two-core machine: 0.8 s instead of 0.2 s at 0 ms; worth it from a few
//! milliseconds of latency, not on a LAN). [`SortOptions::few_round_cap`] lowers the cap
//! on pivots and finished segments for callers with a budget of bytes: the linkage's
//! [`LINK_FEW_ROUND_CAP`] = 6 sorts 2·10^5 rows in 12 passes for 39.5 comparisons per row
//! (simulated), against 41 passes and 21 comparisons with one pivot.
//! [`SortStats`] reports `C` and `P` of each sort and [`sort_bytes`] the bytes;
//! `tests/sort.rs` checks them against the counters.
//!
//! # Why not a radix sort
//!
//! The alternative without any opened value is a radix sort over key bits with secret
//! permutation composition (e.g. Asharov et al., CCS 2022): per key bit it needs a bit
//! injection, a multiplication and a shuffle-and-reveal to compose permutations, i.e. tens
//! of bytes per row and several rounds *per key bit*. Record-linkage keys are hashes of 64
//! bits, which makes that 64 iterations (our estimate: several kB and several hundred
//! rounds per sort, whatever `n`), against about 1.4 kB per row and 250–275 rounds here for
//! `n = 10^6` (measured, 64-bit keys, three 64-bit columns). For short keys the radix
//! sort would win; that is a possible later addition.
//!
//! # Leakage
//!
//! The comparison bits are opened, and with them the number of passes and comparisons.
//! Because the composite keys are distinct, every opened bit is a function of the
//! permutation `σ` that sorts the *shuffled* keys, and which pairs are compared depends only
//! on bits opened before. For every fixed input, `σ = ρ ∘ π⁻¹` with `ρ` the input's sorting
//! permutation and `π` the shuffle, uniform and unknown to each single party; so `σ` is
//! uniform and independent of the input, and the whole transcript (and [`SortPerm::order`])
//! can be simulated from `n` alone. Nothing else is opened. Caveats: semi-honest parties
//! and no collusion (two parties know `π` and would learn the order of the keys); if a
//! caller declares [`SortOptions::key_bits`] smaller than the keys' real range the result is
//! wrong *and* the opened bits are no longer independent of the keys (the default, 64, cannot
//! be wrong).

use crate::boolean::words_for;
use crate::carry::{carry_bits, carry_rounds};
use crate::error::{MpcError, Result};
use crate::party::Party;
use crate::ring::Ring;
use crate::share::AShare;
use crate::shuffle::{shuffle_bytes, SharedPerm, Table};

/// Parameters of a sort; all three parties must use the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortOptions {
    /// Keys are known to lie in `[-2^(key_bits-1), 2^(key_bits-1))` (two's complement in
    /// Z_2^64). 1 to 64; the default 64 admits every key. Smaller values make comparisons
    /// cheaper, but a key outside the declared range breaks the result and the leakage
    /// statement (module docs).
    pub key_bits: u32,
    /// Pivots per segment and pass (at least 1): more pivots, fewer passes (rounds), more
    /// comparisons (bytes). Default 2.
    pub pivots: usize,
    /// Fewer passes for more comparisons, for callers on links where a round costs more
    /// than bytes: a segment of `l` rows gets [`few_round_pivots`]`(l)` pivots (at least
    /// `pivots`), and a segment of at most [`FINISH_ROWS`] rows is finished in one pass
    /// (all pairs). About a third of the passes for twice the comparisons at 10^4 rows
    /// (module docs). Default false.
    pub few_rounds: bool,
    /// With [`SortOptions::few_rounds`], the most pivots a segment gets and the largest
    /// segment finished by all its pairs (2 to [`MAX_FEW_ROUND_PIVOTS`]; default
    /// [`MAX_FEW_ROUND_PIVOTS`]). Lower: more passes, fewer comparisons (bytes): the
    /// linkage takes [`LINK_FEW_ROUND_CAP`] to stay within twice the default's bytes.
    pub few_round_cap: usize,
}

impl Default for SortOptions {
    fn default() -> Self {
        SortOptions {
            key_bits: 64,
            pivots: 2,
            few_rounds: false,
            few_round_cap: MAX_FEW_ROUND_PIVOTS,
        }
    }
}

impl SortOptions {
    /// The default options with [`SortOptions::few_rounds`] set.
    pub fn few_rounds() -> Self {
        SortOptions {
            few_rounds: true,
            ..SortOptions::default()
        }
    }

    /// [`SortOptions::few_rounds`] with at most `cap` pivots per segment and segments of
    /// at most `cap` rows finished by all pairs ([`SortOptions::few_round_cap`]).
    pub fn few_rounds_capped(cap: usize) -> Self {
        SortOptions {
            few_round_cap: cap,
            ..SortOptions::few_rounds()
        }
    }

    /// Pivots for a segment of `l` rows: at most `l - 1`, where the segment's
    /// all-pairs comparison finishes it.
    fn pivots_for(&self, l: usize) -> usize {
        let cap = self.few_round_cap.min(FINISH_ROWS);
        if self.few_rounds && l <= cap {
            return l - 1;
        }
        let p = if self.few_rounds {
            self.pivots.max(few_round_pivots(l).min(cap))
        } else {
            self.pivots
        };
        p.min(l - 1)
    }
}

/// With [`SortOptions::few_rounds`], segments of at most this many rows are finished in
/// one pass by comparing all their pairs (at most 11.5 comparisons per row).
pub const FINISH_ROWS: usize = 24;

/// Most pivots per segment with [`SortOptions::few_rounds`] (a row's comparisons per pass).
pub const MAX_FEW_ROUND_PIVOTS: usize = 24;

/// The [`SortOptions::few_round_cap`] of the linkage's sort in few-rounds mode. Simulated
/// at 2·10^5 rows (the passes depend only on the random permutation): one pivot, 41 passes
/// and 21 comparisons per row; cap 6, 12 passes and 39.5; cap 9, 10 and 48.5; cap 24, 7
/// and 81. Measured (`tessera bench link --rows 100000 --latency-ms 25 --few-round-cap`,
/// on a loaded machine): cap 6 takes 117 rounds and 1.6 times the bytes of one pivot, cap
/// 9 101 rounds and 1.9 times, in no less time: each comparison also costs computation, and
/// past 6 pivots the comparisons a pass saves cost more than its rounds.
pub const LINK_FEW_ROUND_CAP: usize = 6;

/// Pivots of a segment of `l` rows with [`SortOptions::few_rounds`]: `floor(2·l^0.4)`
/// within `2..=`[`MAX_FEW_ROUND_PIVOTS`] (24 from 499 rows up, 12 at 100, 7 at 25).
/// A segment's pivots grow slower than its rows, so the pivots' all-pairs comparisons stay
/// small against the rows' (`l` per pivot), while larger segments, whose buckets are the
/// next passes' work, get more buckets. The constants were chosen by simulating the
/// passes (which depend only on the random permutation): among `c·l^e` with `e` in
/// {1/3, 0.4, 1/2}, caps 16 to 32 and [`FINISH_ROWS`] 16 or 24, this one has the fewest
/// passes at 10^4 rows (5 in each of 20 simulated sorts) for at most about 60 comparisons
/// per row.
pub fn few_round_pivots(l: usize) -> usize {
    ((2.0 * (l as f64).powf(0.4)) as usize).clamp(2, MAX_FEW_ROUND_PIVOTS)
}

/// What a sort opened, which is also what it cost: the comparisons of each pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SortStats {
    /// Bits of each comparison (`w` in the module docs).
    pub width: usize,
    /// Whether the composite key was lifted to Z_2^128.
    pub lifted: bool,
    /// Comparisons in each pass.
    pub passes: Vec<usize>,
}

impl SortStats {
    /// Total comparisons.
    pub fn comparisons(&self) -> usize {
        self.passes.iter().sum()
    }
}

/// The permutation a sort found: this party's shuffle factors and the opened order of the
/// shuffled rows. Apply it to more columns with [`Party::apply_sort`].
pub struct SortPerm {
    shuffle: SharedPerm,
    order: Vec<u32>,
    /// Passes and comparisons of the sort.
    pub stats: SortStats,
}

impl SortPerm {
    /// Rows the permutation acts on.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True for zero rows.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The opened order: sorted row `k` is row `order()[k]` of the *shuffled* table. It is a
    /// uniformly random permutation, independent of the data (module docs).
    pub fn order(&self) -> &[u32] {
        &self.order
    }
}

/// Bits one party sends per comparison of width `w`: the sign's dealt bits (party 0 only;
/// the others send less), block gates and carry tree ([`crate::carry`]), and the opened bit.
pub fn compare_bits(w: usize) -> usize {
    carry_bits(w - 1, true) + 1
}

/// Bytes party 0 sends to lift `n` elements from Z_2^64 to Z_2^128 (input of `s0 + s1`,
/// the carry's dealt bits and gates, bit injection).
pub fn lift_bytes(n: usize) -> u64 {
    (16 * n + 8 * words_for(n) * carry_bits(64, false) + 16 * n) as u64
}

/// Rounds of the lift: the carry of 64 positions and the bit injection, which overlaps
/// the input of `s0 + s1` and the carry's last round (measured by `tests/sort.rs`).
fn lift_rounds() -> u64 {
    carry_rounds(64) as u64 + 1
}

/// Rounds of `passes` comparison passes whose sign takes `levels` rounds of gates after
/// party 0's dealing (block gates, carry tree) counting the opening, starting from parties
/// whose clocks agree. The round counters are Lamport clocks: party 0 deals the next pass
/// while the others still finish the opening, so consecutive passes overlap, by an amount
/// that depends on `levels` modulo 3. Simulated here message by message: in each level
/// every party sends to the previous one, then receives from the next.
fn pass_rounds(levels: usize, passes: usize) -> u64 {
    let mut seen = [0u64; 3];
    let mut top = 0;
    for _ in 0..passes {
        // Party 0 deals to party 1.
        top = top.max(seen[0] + 1);
        seen[1] = seen[1].max(seen[0] + 1);
        for _ in 0..levels {
            let sent = seen.map(|s| s + 1);
            for (i, &r) in sent.iter().enumerate() {
                top = top.max(r);
                let prev = (i + 2) % 3;
                seen[prev] = seen[prev].max(r);
            }
        }
    }
    top
}

/// Bytes party 0 sends to sort `n` rows of `row_bytes` bytes whose sort opened `stats`
/// (lift, shuffle with the composite key, the comparisons of each pass).
pub fn sort_bytes(n: usize, row_bytes: usize, stats: &SortStats) -> u64 {
    if n <= 1 {
        return 0;
    }
    let key_bytes = if stats.lifted { 16 } else { 8 };
    let lift = if stats.lifted { lift_bytes(n) } else { 0 };
    let cmp: usize = stats
        .passes
        .iter()
        .map(|&m| 8 * words_for(m) * compare_bits(stats.width))
        .sum();
    lift + shuffle_bytes(0, n, row_bytes + key_bytes) + cmp as u64
}

/// Rounds of a sort that opened `stats`, as the round counters measure them: the lift, the
/// shuffle, and the passes ([`pass_rounds`]: a comparison with its opening is
/// [`carry_rounds`]`(w - 1) + 1` rounds, consecutive ones overlap).
pub fn sort_rounds(stats: &SortStats) -> u64 {
    if stats.width == 0 {
        return 0;
    }
    let lift = if stats.lifted { lift_rounds() } else { 0 };
    let levels = carry_rounds(stats.width - 1);
    lift + crate::shuffle::SHUFFLE_ROUNDS + pass_rounds(levels, stats.passes.len())
}

/// The composite key of the rows, in one of the two rings.
enum Composite {
    W64(AShare<u64>),
    W128(AShare<u128>),
}

/// Bits needed for the row indices `0..n`.
fn index_bits(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

impl Party {
    /// Reads each element of Z_2^64 as an unsigned integer in `[0, 2^64)` and shares it in
    /// Z_2^128. With `A = s0 + s1 mod 2^64` (party 0) and `C = s2` (parties 1, 2), the value
    /// is `A + C - 2^64·c` where `c` is the carry out of the 64-bit addition: party 0 inputs
    /// `A`, `C` is a share already, `c` comes from a carry tree and a bit injection.
    /// 7 rounds; party 0 sends [`lift_bytes`] (about 78 bytes per element).
    pub fn lift_u64(&mut self, x: &AShare<u64>) -> Result<AShare<u128>> {
        let n = x.len();
        let me = self.id();
        let sum: Option<Vec<u128>> = (me == 0).then(|| {
            x.a.iter()
                .zip(&x.b)
                .map(|(&p, &q)| p.wrapping_add(q) as u128)
                .collect()
        });
        let a = self.share_input(0, sum.as_deref(), n)?;
        let carry = self.addend_carry(x, 64)?;
        let c = self.inject::<u128>(&[&carry], n)?.remove(0);
        let wide = |v: &[u64]| -> Vec<u128> { v.iter().map(|&y| y as u128).collect() };
        // s2 is party 1's second share and party 2's first.
        let s2 = match me {
            0 => AShare::zeros(n),
            1 => AShare {
                a: vec![0; n],
                b: wide(&x.b),
            },
            _ => AShare {
                a: wide(&x.a),
                b: vec![0; n],
            },
        };
        Ok(a.add(&s2).sub(&c.shl(64)))
    }

    /// Sorts the rows of `table` by its Z_2^64 column `key` (signed), stably: rows with
    /// equal keys keep their input order. Every column travels along (the key column too).
    /// Returns the sorted table, freshly shared, and the permutation for further columns.
    /// See the module docs for the protocol, the costs and what is opened.
    pub fn sort_table(
        &mut self,
        table: &Table,
        key: usize,
        opts: SortOptions,
    ) -> Result<(Table, SortPerm)> {
        let n = table.check()?;
        let k = table.c64.get(key).ok_or_else(|| {
            MpcError::Invalid(format!(
                "key column {key} of a table with {} Z_2^64 columns",
                table.c64.len()
            ))
        })?;
        check_options(&opts)?;
        let shuffle = self.random_perm(n)?;
        if n <= 1 {
            return Ok((table.clone(), identity(shuffle)));
        }
        let (composite, width) = self.composite_key(k, opts.key_bits)?;
        let mut t = table.clone();
        let lifted = matches!(composite, Composite::W128(_));
        match composite {
            Composite::W64(c) => t.c64.push(c),
            Composite::W128(c) => t.c128.push(c),
        }
        let mut t = self.permute(&shuffle, &t)?;
        let (order, mut stats) = if lifted {
            let c = t.c128.pop().expect("composite key");
            self.order_by(&c, width, &opts)?
        } else {
            let c = t.c64.pop().expect("composite key");
            self.order_by(&c, width, &opts)?
        };
        stats.lifted = lifted;
        let sorted = t.gather(&order);
        Ok((
            sorted,
            SortPerm {
                shuffle,
                order,
                stats,
            },
        ))
    }

    /// The stable sorting permutation of a shared key column, without moving any other
    /// column (apply it with [`Party::apply_sort`]). Same protocol and leakage as
    /// [`Party::sort_table`].
    pub fn sort_perm(&mut self, key: &AShare<u64>, opts: SortOptions) -> Result<SortPerm> {
        check_options(&opts)?;
        let n = key.len();
        let shuffle = self.random_perm(n)?;
        if n <= 1 {
            return Ok(identity(shuffle));
        }
        let (composite, width) = self.composite_key(key, opts.key_bits)?;
        let (order, stats) = match composite {
            Composite::W64(c) => {
                let t = self.permute(&shuffle, &Table::new(vec![c], vec![])?)?;
                self.order_by(&t.c64[0], width, &opts)?
            }
            Composite::W128(c) => {
                let t = self.permute(&shuffle, &Table::new(vec![], vec![c])?)?;
                let (o, mut s) = self.order_by(&t.c128[0], width, &opts)?;
                s.lifted = true;
                (o, s)
            }
        };
        Ok(SortPerm {
            shuffle,
            order,
            stats,
        })
    }

    /// The stable sorting permutation of a shared key column in Z_2^128 whose values lie in
    /// `[-2^(key_bits-1), 2^(key_bits-1))`, for keys wider than 64 bits (a linear predictor
    /// kept exact, without truncation, so that equal values stay equal). The composite key
    /// is built in Z_2^128 directly (no lift); `key_bits + ceil(log2 n) + 1` must be at most
    /// 127. Same protocol, cost formulas (with `w = key_bits + b + 1`) and leakage as
    /// [`Party::sort_perm`]; a key outside the declared range breaks the result and the
    /// leakage statement, as there.
    pub fn sort_perm_wide(
        &mut self,
        key: &AShare<u128>,
        key_bits: u32,
        pivots: usize,
    ) -> Result<SortPerm> {
        let opts = SortOptions {
            pivots,
            ..SortOptions::default()
        };
        self.sort_perm_wide_with(key, key_bits, &opts)
    }

    /// [`Party::sort_perm_wide`] with the passes of `opts` (pivots, few rounds); its
    /// `key_bits` is not used (the wide key's are `key_bits`).
    pub fn sort_perm_wide_with(
        &mut self,
        key: &AShare<u128>,
        key_bits: u32,
        opts: &SortOptions,
    ) -> Result<SortPerm> {
        let pivots = opts.pivots;
        let n = key.len();
        let b = index_bits(n);
        if key_bits == 0 || key_bits + b + 1 > 127 || pivots == 0 {
            return Err(MpcError::Invalid(format!(
                "wide sort of {n} rows with {key_bits}-bit keys and {pivots} pivots: the key \
                 bits plus {b} index bits plus one must be at most 127, pivots at least 1"
            )));
        }
        check_options(&SortOptions {
            key_bits: 64,
            ..*opts
        })?;
        let shuffle = self.random_perm(n)?;
        if n <= 1 {
            return Ok(identity(shuffle));
        }
        let width = (key_bits + b + 1) as usize;
        let offset = self.add_const(key, 1u128 << (key_bits - 1));
        let idx: Vec<u128> = (0..n as u128).collect();
        let c = self.add_public(&offset.shl(b), &idx);
        let t = self.permute(&shuffle, &Table::new(vec![], vec![c])?)?;
        // Not lifted: `stats.lifted` stays false (the shuffled key is 16 bytes, not the 8
        // `sort_bytes` assumes without a lift).
        let (order, stats) = self.order_by(&t.c128[0], width, opts)?;
        Ok(SortPerm {
            shuffle,
            order,
            stats,
        })
    }

    /// Moves the rows of `table` as the sort that made `perm` moved its key: the shuffle
    /// again (same secret permutation, fresh masks: 2 rounds, [`shuffle_bytes`]), then the
    /// public order (local). Opens nothing.
    pub fn apply_sort(&mut self, perm: &SortPerm, table: &Table) -> Result<Table> {
        let t = self.permute(&perm.shuffle, table)?;
        if t.rows() == 0 {
            return Ok(t);
        }
        Ok(t.gather(&perm.order))
    }

    /// The composite key `(key + 2^(kb-1))·2^b + index` and the comparison width
    /// `kb + b + 1`.
    fn composite_key(&mut self, key: &AShare<u64>, kb: u32) -> Result<(Composite, usize)> {
        let n = key.len();
        let b = index_bits(n);
        let width = (kb + b + 1) as usize;
        let offset = self.add_const(key, 1u64 << (kb - 1));
        if width <= 64 {
            let idx: Vec<u64> = (0..n as u64).collect();
            Ok((Composite::W64(self.add_public(&offset.shl(b), &idx)), width))
        } else {
            let wide = self.lift_u64(&offset)?;
            let idx: Vec<u128> = (0..n as u128).collect();
            Ok((Composite::W128(self.add_public(&wide.shl(b), &idx)), width))
        }
    }

    /// The order of distinct shared keys `k` (differences within `width` bits), by batched
    /// quicksort with the pivots `opts` gives each segment and opened comparisons.
    fn order_by<R: Ring>(
        &mut self,
        k: &AShare<R>,
        width: usize,
        opts: &SortOptions,
    ) -> Result<(Vec<u32>, SortStats)> {
        let n = k.len();
        let mut order: Vec<u32> = (0..n as u32).collect();
        // Unsorted segments of `order`: (start, length), length at least 2.
        let mut segs: Vec<(usize, usize)> = if n > 1 { vec![(0, n)] } else { Vec::new() };
        let mut stats = SortStats {
            width,
            ..SortStats::default()
        };
        let (mut xs, mut ys) = (Vec::<u32>::new(), Vec::<u32>::new());
        let (mut seg, mut below, mut cnt, mut off, mut rank) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        while !segs.is_empty() {
            // Which pairs: each pair (x, y) asks whether K_x < K_y.
            xs.clear();
            ys.clear();
            for &(s, l) in &segs {
                let p = opts.pivots_for(l);
                let (piv, rest) = order[s..s + l].split_at(p);
                for i in 0..p {
                    for j in i + 1..p {
                        xs.push(piv[i]);
                        ys.push(piv[j]);
                    }
                }
                for &e in rest {
                    for &q in piv {
                        xs.push(e);
                        ys.push(q);
                    }
                }
            }
            let d = AShare {
                a: diff(&k.a, &xs, &ys),
                b: diff(&k.b, &xs, &ys),
            };
            let lt = self.sign_within(&d, width)?;
            // LEAKAGE (documented in the module docs): these bits are opened. The keys are
            // distinct and the rows were shuffled by a permutation no single party knows,
            // so the bits are a function of a uniformly random permutation (the order of the
            // shuffled keys) alone, independent of the data; the pairs compared depend only
            // on bits opened earlier.
            let bits = self.reveal_bits(&lt)?;
            stats.passes.push(xs.len());
            let bit = |t: usize| bits[t / 64] >> (t % 64) & 1 == 1;
            // Partition every segment: bucket 0, pivot of rank 0, bucket 1, ..., bucket p.
            let mut at = 0;
            let mut next = Vec::new();
            for &(s, l) in &segs {
                let p = opts.pivots_for(l);
                seg.clear();
                seg.extend_from_slice(&order[s..s + l]);
                let (piv, rest) = seg.split_at(p);
                rank.clear();
                rank.resize(p, 0usize);
                for i in 0..p {
                    for j in i + 1..p {
                        // Distinct keys: exactly one of the two is smaller.
                        if bit(at) {
                            rank[j] += 1;
                        } else {
                            rank[i] += 1;
                        }
                        at += 1;
                    }
                }
                cnt.clear();
                cnt.resize(p + 1, 0usize);
                below.clear();
                for _ in rest {
                    // Pivots below the row: those it is not smaller than.
                    let mut b = 0;
                    for _ in 0..p {
                        b += usize::from(!bit(at));
                        at += 1;
                    }
                    below.push(b);
                    cnt[b] += 1;
                }
                off.clear();
                let mut acc = 0;
                for &c in cnt.iter() {
                    off.push(acc);
                    acc += c + 1;
                }
                let dst = &mut order[s..s + l];
                for (&q, &r) in piv.iter().zip(rank.iter()) {
                    dst[off[r] + cnt[r]] = q;
                }
                for (b, &c) in cnt.iter().enumerate() {
                    if c >= 2 {
                        next.push((s + off[b], c));
                    }
                }
                for (&e, &b) in rest.iter().zip(below.iter()) {
                    dst[off[b]] = e;
                    off[b] += 1;
                }
            }
            segs = next;
        }
        Ok((order, stats))
    }
}

/// `v[x] - v[y]` for each pair.
fn diff<R: Ring>(v: &[R], xs: &[u32], ys: &[u32]) -> Vec<R> {
    xs.iter()
        .zip(ys)
        .map(|(&x, &y)| v[x as usize].sub(v[y as usize]))
        .collect()
}

fn identity(shuffle: SharedPerm) -> SortPerm {
    let n = shuffle.len();
    SortPerm {
        shuffle,
        order: (0..n as u32).collect(),
        stats: SortStats::default(),
    }
}

fn check_options(o: &SortOptions) -> Result<()> {
    if !(1..=64).contains(&o.key_bits)
        || o.pivots == 0
        || !(2..=MAX_FEW_ROUND_PIVOTS).contains(&o.few_round_cap)
    {
        return Err(MpcError::Invalid(format!(
            "sort options {o:?}: key_bits must be 1..=64, pivots at least 1 and \
             few_round_cap 2..={MAX_FEW_ROUND_PIVOTS}"
        )));
    }
    Ok(())
}
