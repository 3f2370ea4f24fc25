//! The oblivious inner join of the secret-shared tables of two or more data parties.
//!
//! # Protocol
//!
//! Input: `k ≥ 2` shared tables ([`SharedInput`]), party `q` with `n_q` rows whose encoded
//! keys are distinct within the party (guaranteed by [`crate::keys::prepare`]).
//!
//! 1. **Concatenate** the tables in party order into one table of `N = Σ n_q` rows: the key
//!    column and `max_q c64_q` (resp. `max_q c128_q`) *payload slots*; party `q`'s rows put
//!    its columns in the first slots and zeros in the rest. Sharing slots instead of giving
//!    every party its own columns keeps the rows as narrow as the widest party, which is
//!    what the sort pays for. Local.
//! 2. **Stable sort** by key ([`Party::sort_table`]). Keys are distinct within a party and
//!    the sort is stable, so the rows of one person form a run, in party order, of at most
//!    `k` rows, and the person is in every table exactly when the run starting at some
//!    position `i` has `k` rows: rows `i..i+k` then belong to parties `0..k` in that order.
//! 3. **Match bits.** `e_i = [key_i = key_{i+1}]` for every adjacent pair ([`Party::eq`],
//!    never opened), and `m_i = e_i ∧ … ∧ e_{i+k-2}` by a doubling tree of and gates
//!    (`ceil(log2(k-1))` rounds; nothing for two parties). `m_i = 1` exactly when row `i`
//!    starts a full run.
//! 4. **Candidates** (local): candidate `i` (for `i < N - k + 1`) is the key of row `i` and,
//!    for each party `q`, party `q`'s columns read from the slots of row `i + q`. For a full
//!    run these are exactly the matched person's rows; other candidates hold garbage that is
//!    never opened and is dropped below.
//! 5. **Shuffle** the candidates together with the match bit ([`Party::shuffle`]) and
//!    **open the match bits only**; keep the rows whose bit is 1 (a local, public
//!    selection of rows of the shuffled table).
//!
//! Output ([`Joined`]): one row per person present in every table, column 0 the key (still
//! shared: useful to link further), then the payload columns of party 0, party 1, … (their
//! places in [`Joined::columns`]), in a uniformly random order that nobody knows.
//!
//! # Leakage
//!
//! The compute parties learn the input sizes `n_q` (public shapes) and the intersection
//! size, nothing else:
//! - the sort opens only comparison bits of shuffled, distinct composite keys, which can be
//!   simulated from `N` alone (see [`tessera_mpc::sort`]);
//! - equality bits and the and tree are never opened;
//! - the opened match bits are taken *after* a fresh oblivious shuffle of all candidates, so
//!   they are a uniformly random arrangement of `|I|` ones among `N - k + 1` positions:
//!   a function of `|I|` alone. With more than two parties only the final intersection size
//!   is revealed, not the sizes of pairwise or partial intersections (a single sort of all
//!   tables instead of a chain of pairwise joins).
//!
//! No data party receives anything from the join. A data party that is also a compute party
//! sees exactly what every compute party sees (above), so it learns how many of its records
//! matched but not which. The bit is opened as `b + 2r` with a fresh random shared `r`, so
//! that the opened word carries nothing beyond the bit (see [`flag_column`]).
//!
//! Semi-honest security with an honest majority, as for the engine: two colluding compute
//! parties would know the shuffles and could learn the order of the keys.
//!
//! # Cost
//!
//! The sort of `N` rows of `8·(1 + slots64) + 16·slots128` bytes dominates (about 1.2 kB per
//! row for party 0 at a million rows, see [`tessera_mpc::sort`]); the equality test adds
//! about 17 bytes and 7 rounds per row, the shuffle of the candidates `2·(row + 8)` bytes and
//! 2 rounds, the opening 8 bytes and one round.

use std::ops::Range;

use tessera_mpc::sort::{SortOptions, SortStats, LINK_FEW_ROUND_CAP};
use tessera_mpc::{AShare, BShare, Party, Table};

use crate::error::{LinkError, Result};
use crate::input::{check_inputs, SharedInput, MAX_ROWS};

/// Parameters of a join; all three compute parties must use the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JoinOptions {
    /// Options of the oblivious sort (pivots: fewer passes and rounds against more bytes;
    /// on a LAN or loopback one pivot is fastest). The key width must stay 64: the encoded
    /// keys are uniform 64-bit values.
    pub sort: SortOptions,
}

impl JoinOptions {
    /// The options a study's linkage takes at `p`: the default sort (two pivots per
    /// segment), or, where rounds cost more than bytes ([`Party::few_rounds`], the same at
    /// all three parties: bound into a distributed run's session), the few-rounds sort
    /// within twice the bytes ([`SortOptions::few_rounds_capped`] with
    /// [`LINK_FEW_ROUND_CAP`]: 12 passes instead of 23 at 2·10^5 rows). Same intersection
    /// and joined rows either way; only the opened comparison bits' number differs, which
    /// depends on the random permutation alone.
    pub fn for_party(p: &Party) -> JoinOptions {
        JoinOptions {
            sort: if p.few_rounds() {
                SortOptions::few_rounds_capped(LINK_FEW_ROUND_CAP)
            } else {
                SortOptions::default()
            },
        }
    }
}

/// Where one data party's payload columns are in [`Joined::table`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Columns {
    /// Its Z_2^64 columns.
    pub c64: Range<usize>,
    /// Its Z_2^128 columns.
    pub c128: Range<usize>,
}

/// The secret-shared inner join.
#[derive(Clone, Debug, Default)]
pub struct Joined {
    /// One row per matched person: `c64[KEY_COLUMN]` is the encoded key, then the payload
    /// columns of each data party (see [`Joined::columns`]).
    pub table: Table,
    /// Per data party (in input order), where its payload columns are.
    pub columns: Vec<Columns>,
    /// Rows of the join: the intersection size (public: it was opened).
    pub intersection: usize,
    /// Comparisons and passes of the sort (public: they were opened).
    pub sort: SortStats,
}

/// Index of the key column in [`Joined::table`].
pub const KEY_COLUMN: usize = 0;

impl Joined {
    /// The join as an input to a further join (key and every payload column).
    pub fn into_input(self) -> SharedInput {
        let mut payload = self.table;
        let keys = if payload.c64.is_empty() {
            AShare::default()
        } else {
            payload.c64.remove(KEY_COLUMN)
        };
        SharedInput { keys, payload }
    }
}

/// The inner join of `inputs` on their keys (see the module docs). All three compute
/// parties call it with their shares of the same inputs.
pub fn join(p: &mut Party, inputs: &[SharedInput], opts: &JoinOptions) -> Result<Joined> {
    let k = inputs.len();
    if k < 2 {
        return Err(LinkError::Invalid(format!(
            "a join needs at least two tables, got {k}"
        )));
    }
    if opts.sort.key_bits != 64 {
        return Err(LinkError::Invalid(
            "encoded keys are 64-bit values: the sort's key_bits must be 64".into(),
        ));
    }
    check_inputs(inputs)?;
    let shapes: Vec<_> = inputs.iter().map(SharedInput::shape).collect();
    let total: usize = shapes.iter().map(|s| s.rows).sum();
    if total > MAX_ROWS {
        return Err(LinkError::Invalid(format!(
            "{total} rows altogether: at most {MAX_ROWS}"
        )));
    }
    let slots64 = shapes.iter().map(|s| s.c64).max().unwrap_or(0);
    let slots128 = shapes.iter().map(|s| s.c128).max().unwrap_or(0);
    let columns = layout(inputs);
    let (at64, at128) = (
        columns.last().map_or(KEY_COLUMN + 1, |c| c.c64.end),
        columns.last().map_or(0, |c| c.c128.end),
    );
    let empty = || Joined {
        table: Table {
            c64: vec![AShare::default(); at64],
            c128: vec![AShare::default(); at128],
        },
        columns: columns.clone(),
        intersection: 0,
        sort: SortStats::default(),
    };
    // Public shapes decide this: a party without rows makes the intersection empty.
    if shapes.iter().any(|s| s.rows == 0) {
        return Ok(empty());
    }

    // 1. Concatenate into key + slots.
    let keys = AShare::concat(&inputs.iter().map(|i| &i.keys).collect::<Vec<_>>());
    let mut c64 = vec![keys];
    for j in 0..slots64 {
        c64.push(concat_slot(inputs, |t| t.c64.get(j)));
    }
    let c128 = (0..slots128)
        .map(|j| concat_slot(inputs, |t| t.c128.get(j)))
        .collect();
    let table = Table::new(c64, c128)?;

    // 2. Stable sort by key.
    let (sorted, perm) = p.sort_table(&table, KEY_COLUMN, opts.sort)?;
    drop(table);
    let key = &sorted.c64[KEY_COLUMN];

    // 3. Match bits: e_i = [key_i = key_{i+1}], m_i = e_i ∧ … ∧ e_{i+k-2}.
    let e = p.eq(&key.slice(0..total - 1), &key.slice(1..total))?;
    let m = window_and(p, e, total - 1, k - 1)?;
    let rows = total - k + 1;

    // 4. Candidates: key of row i, party q's columns from the slots of row i + q.
    let mut cand64 = vec![key.slice(0..rows)];
    let mut cand128 = Vec::new();
    for (q, s) in shapes.iter().enumerate() {
        cand64.extend((0..s.c64).map(|j| sorted.c64[1 + j].slice(q..q + rows)));
        cand128.extend((0..s.c128).map(|j| sorted.c128[j].slice(q..q + rows)));
    }
    drop(sorted);
    cand64.push(flag_column(p, &m, rows));
    let cand = Table::new(cand64, cand128)?;

    // 5. Shuffle, open the match bits, keep the matched rows.
    let mut shuffled = p.shuffle(&cand)?;
    drop(cand);
    let flag = shuffled.c64.pop().expect("flag column");
    // LEAKAGE (documented in the module docs): the match bits are opened, after a fresh
    // oblivious shuffle of all candidates. They are a uniformly random arrangement of |I|
    // ones among the candidates, so they reveal the intersection size |I| and nothing else;
    // the high 63 bits of each opened word are masked by a fresh random sharing.
    let opened = p.reveal(&flag)?;
    let keep: Vec<u32> = (0..rows as u32)
        .filter(|&i| opened[i as usize] & 1 == 1)
        .collect();
    let table = shuffled.gather(&keep);
    Ok(Joined {
        intersection: keep.len(),
        table,
        columns,
        sort: perm.stats,
    })
}

/// Where each input's columns go in the output (input order, after the key column).
pub(crate) fn layout(inputs: &[SharedInput]) -> Vec<Columns> {
    let (mut at64, mut at128) = (KEY_COLUMN + 1, 0);
    inputs
        .iter()
        .map(|i| {
            let s = i.shape();
            let c = Columns {
                c64: at64..at64 + s.c64,
                c128: at128..at128 + s.c128,
            };
            at64 += s.c64;
            at128 += s.c128;
            c
        })
        .collect()
}

/// Slot `j` of the concatenated table: each input's column `j`, or zeros if it has fewer.
pub(crate) fn concat_slot<R: tessera_mpc::Ring>(
    inputs: &[SharedInput],
    col: impl Fn(&Table) -> Option<&AShare<R>>,
) -> AShare<R> {
    let n: usize = inputs.iter().map(|i| i.keys.len()).sum();
    let mut out = AShare {
        a: Vec::with_capacity(n),
        b: Vec::with_capacity(n),
    };
    for i in inputs {
        match col(&i.payload) {
            Some(c) => {
                out.a.extend_from_slice(&c.a);
                out.b.extend_from_slice(&c.b);
            }
            None => {
                out.a.resize(out.a.len() + i.keys.len(), R::ZERO);
                out.b.resize(out.b.len() + i.keys.len(), R::ZERO);
            }
        }
    }
    out
}

/// Bits `start..start + len` of a packed bit vector, repacked from bit 0 (local). Bits past
/// `len` in the last word are zero.
pub(crate) fn bit_range(x: &[u64], start: usize, len: usize) -> Vec<u64> {
    let words = len.div_ceil(64);
    let (w0, s) = (start / 64, start % 64);
    let mut out: Vec<u64> = (0..words)
        .map(|t| {
            let lo = x.get(w0 + t).copied().unwrap_or(0);
            if s == 0 {
                lo
            } else {
                let hi = x.get(w0 + t + 1).copied().unwrap_or(0);
                (lo >> s) | (hi << (64 - s))
            }
        })
        .collect();
    if !len.is_multiple_of(64) {
        if let Some(last) = out.last_mut() {
            *last &= (1u64 << (len % 64)) - 1;
        }
    }
    out
}

pub(crate) fn bshare_range(x: &BShare, start: usize, len: usize) -> BShare {
    BShare {
        a: bit_range(&x.a, start, len),
        b: bit_range(&x.b, start, len),
    }
}

/// From `n` shared bits `e`, the `n - l + 1` bits `e_i ∧ … ∧ e_{i+l-1}`: windows of
/// doubling width (one round each), then one more and gate of two overlapping windows when
/// `l` is not a power of two. `ceil(log2 l)` rounds.
pub(crate) fn window_and(p: &mut Party, e: BShare, n: usize, l: usize) -> Result<BShare> {
    let (mut cur, mut t) = (e, 1usize);
    while 2 * t <= l {
        // cur_i covers e_i..e_{i+t}; n - t + 1 of them.
        let len = n - 2 * t + 1;
        let (x, y) = (bshare_range(&cur, 0, len), bshare_range(&cur, t, len));
        cur = p.and(&x, &y)?;
        t *= 2;
    }
    if t < l {
        let len = n - l + 1;
        let (x, y) = (bshare_range(&cur, 0, len), bshare_range(&cur, l - t, len));
        cur = p.and(&x, &y)?;
    }
    Ok(cur)
}

/// The first `n` bits of `m` as a Z_2^64 column whose opening is `b + 2r` for a fresh
/// random shared `r` (local, no communication). Replicated boolean shares (`β_i`,
/// `β_{i+1}`) read as integers are replicated additive shares of `β_0 + β_1 + β_2`, whose
/// low bit is `b`; the added `2r` keeps that bit and makes the other 63 bits of the opened
/// word uniform, so opening it reveals `b` and nothing about the individual shares.
fn flag_column(p: &mut Party, m: &BShare, n: usize) -> AShare<u64> {
    let bits = |w: &[u64]| -> Vec<u64> { (0..n).map(|i| w[i / 64] >> (i % 64) & 1).collect() };
    let b = AShare {
        a: bits(&m.a),
        b: bits(&m.b),
    };
    let r = p.random::<u64>(n);
    b.add(&r.shl(1))
}

#[cfg(test)]
mod tests {
    use super::bit_range;

    #[test]
    fn bit_ranges() {
        let x = vec![0xdead_beef_0123_4567u64, 0x89ab_cdef_fedc_ba98, 0x5];
        let bit = |v: &[u64], i: usize| v[i / 64] >> (i % 64) & 1;
        for start in [0, 1, 5, 63, 64, 65, 100] {
            for len in [0, 1, 30, 64, 65, 129 - start.min(129)] {
                if start + len > 3 * 64 {
                    continue;
                }
                let r = bit_range(&x, start, len);
                assert_eq!(r.len(), len.div_ceil(64));
                for i in 0..len {
                    assert_eq!(
                        bit(&r, i),
                        bit(&x, start + i),
                        "start {start} len {len} bit {i}"
                    );
                }
                if !len.is_multiple_of(64) {
                    assert_eq!(r.last().unwrap() >> (len % 64), 0);
                }
            }
        }
    }
}
