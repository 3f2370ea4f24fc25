//! Oblivious shuffle of a shared table: one uniformly random permutation of the rows that no
//! single party knows.
//!
//! # Protocol
//!
//! The permutation is the composition `π = π_C ∘ π_B ∘ π_A` of three permutations, each
//! known to one pair of parties and drawn (Fisher–Yates, unbiased bounded sampling) from a
//! seed that pair shares: `π_A` from seed `k_1` (parties 0 and 1), `π_B` from `k_2`
//! (parties 1 and 2), `π_C` from `k_0` (parties 2 and 0). Every party misses one factor, so
//! none knows `π`. [`Party::random_perm`] draws the factors (one seed from each of a party's
//! two streams, no communication); [`Party::permute`] applies them to a [`Table`], so the
//! same secret permutation can be applied to further columns later with fresh masks.
//!
//! With `x = s0 + s1 + s2` and masks `r_A` (stream `k_1`), `r_B`, `t_2` (`k_2`), `t_1` (`k_1`):
//!
//! 1. Parties 0 and 1 hold the two-party sharing `(s0 + s1) + s2` for free. Party 0 sends
//!    `u = π_A(s0 + s1) + r_A` to party 2; party 1 keeps `v = π_A(s2) - r_A`.
//! 2. Party 1 sends `v' = π_B(v) + r_B` to party 0 (at the same time as step 1: it needs
//!    nothing from anyone); party 2 computes `w = π_B(u) - r_B`. Now `w + v' = π_B π_A x`.
//! 3. Parties 2 and 0 apply `π_C` and turn their two-party sharing into a replicated one:
//!    the new shares `t_1` and `t_2` come from the streams (`t_1` known to parties 0 and 1,
//!    `t_2` to parties 1 and 2); party 0 sends `m0 = π_C(v') - t_1` to party 2, party 2
//!    sends `m2 = π_C(w) - t_2` to party 0, and both set `t_0 = m0 + m2`.
//!
//! Party 1 receives nothing; every message party 0 or 2 receives is masked by a fresh pad
//! from a stream it does not hold (`r_A`, `t_1` for party 2; `r_B`, `t_2` for party 0), so each
//! party's view is uniform whatever the table and the permutation.
//!
//! # Cost
//!
//! Two rounds (party 2's and party 0's step-3 messages depend on the round-1 messages).
//! Per row, with `c64` columns in Z_2^64 and `c128` in Z_2^128 (`e = 8·c64 + 16·c128` bytes
//! per row): party 0 sends `2e`, parties 1 and 2 send `e` each ([`shuffle_bytes`];
//! `tests/shuffle.rs` checks it). Local work: three gathers per column per party.
//!
//! # Leakage
//!
//! None: nothing is opened; the row count is public. The permutation is uniform up to the
//! pseudorandomness of AES-CTR. Two colluding parties know all three factors (outside the
//! honest-majority model, as for every protocol here).

use crate::error::{MpcError, Result};
use crate::party::Party;
use crate::prg::{Prg, Seed};
use crate::ring::Ring;
use crate::share::AShare;

/// A shared table: columns of equal length in Z_2^64 and in Z_2^128. Row `k` is element
/// `k` of every column; shuffles and sorts move whole rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    /// Columns in Z_2^64.
    pub c64: Vec<AShare<u64>>,
    /// Columns in Z_2^128.
    pub c128: Vec<AShare<u128>>,
}

impl Table {
    /// A table from its columns; every column must have the same length.
    pub fn new(c64: Vec<AShare<u64>>, c128: Vec<AShare<u128>>) -> Result<Table> {
        let t = Table { c64, c128 };
        t.check()?;
        Ok(t)
    }

    /// Number of rows (zero for a table without columns).
    pub fn rows(&self) -> usize {
        self.c64
            .first()
            .map(AShare::len)
            .or_else(|| self.c128.first().map(AShare::len))
            .unwrap_or(0)
    }

    /// The row count, or an error if columns differ in length (or a share pair is uneven).
    pub fn check(&self) -> Result<usize> {
        let n = self.rows();
        let ok = self.c64.iter().all(|c| c.a.len() == n && c.b.len() == n)
            && self.c128.iter().all(|c| c.a.len() == n && c.b.len() == n);
        if ok {
            Ok(n)
        } else {
            Err(MpcError::Invalid(
                "table columns of different lengths".into(),
            ))
        }
    }

    /// Bytes of one row on the wire (8 per Z_2^64 column, 16 per Z_2^128 column).
    pub fn row_bytes(&self) -> usize {
        8 * self.c64.len() + 16 * self.c128.len()
    }

    /// The table whose row `k` is row `idx[k]` of this one (local: a public rearrangement
    /// of shares).
    pub fn gather(&self, idx: &[u32]) -> Table {
        Table {
            c64: self.c64.iter().map(|c| gather_share(c, idx)).collect(),
            c128: self.c128.iter().map(|c| gather_share(c, idx)).collect(),
        }
    }
}

/// A secret permutation of `n` rows, as this party's two of the three pairwise factors
/// (see the module docs). Made by [`Party::random_perm`]; no single party can tell the
/// composition. Deliberately not `Debug`: the factors are this party's secrets.
#[derive(Clone)]
pub struct SharedPerm {
    n: usize,
    party: usize,
    /// The factor shared with party `i - 1` (from stream `prev`).
    prev: Vec<u32>,
    /// The factor shared with party `i + 1` (from stream `next`).
    next: Vec<u32>,
}

impl SharedPerm {
    /// Number of rows the permutation acts on.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True for the permutation of zero rows.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

/// Bytes sent by `party` to shuffle `rows` rows of `row_bytes` bytes each (see
/// [`Table::row_bytes`]): party 0 sends twice what the others send.
pub fn shuffle_bytes(party: usize, rows: usize, row_bytes: usize) -> u64 {
    let per_row = if party == 0 { 2 } else { 1 };
    (per_row * rows * row_bytes) as u64
}

/// Rounds of a shuffle.
pub const SHUFFLE_ROUNDS: u64 = 2;

impl Party {
    /// Draws a fresh secret permutation of `n` rows: one seed from each of this party's two
    /// streams, no communication. All three parties must call it at the same point with the
    /// same `n`.
    pub fn random_perm(&mut self, n: usize) -> Result<SharedPerm> {
        if u32::try_from(n).is_err() {
            return Err(MpcError::Invalid(format!(
                "{n} rows: permutations are limited to 2^32 rows"
            )));
        }
        let (sp, sn) = (self.prev.seed(), self.next.seed());
        Ok(SharedPerm {
            n,
            party: self.id(),
            prev: fisher_yates(n, &sp),
            next: fisher_yates(n, &sn),
        })
    }

    /// Applies a uniformly random permutation, unknown to every single party, to the rows
    /// of `table` and returns a fresh sharing of the result. Two rounds; see the module docs
    /// for the protocol and [`shuffle_bytes`] for the bytes.
    pub fn shuffle(&mut self, table: &Table) -> Result<Table> {
        let n = table.check()?;
        let perm = self.random_perm(n)?;
        self.permute(&perm, table)
    }

    /// Applies the secret permutation `perm` to the rows of `table` (fresh masks each call,
    /// so one permutation can move several tables consistently). Two rounds. A table with no
    /// rows or no columns is returned as it is, without communication.
    pub fn permute(&mut self, perm: &SharedPerm, table: &Table) -> Result<Table> {
        let n = table.check()?;
        if table.c64.len() + table.c128.len() == 0 {
            return Ok(table.clone());
        }
        if n != perm.n || perm.party != self.id() {
            return Err(MpcError::Invalid(format!(
                "permutation of {} rows made by party {} applied by party {} to {n} rows",
                perm.n,
                perm.party,
                self.id()
            )));
        }
        if n == 0 {
            return Ok(table.clone());
        }
        let shape = Shape {
            n,
            c64: table.c64.len(),
            c128: table.c128.len(),
        };
        match self.id() {
            0 => {
                let (pa, pc) = (&perm.next, &perm.prev);
                // Step 1: u = π_A(s0 + s1) + r_A to party 2.
                let mut u = Vals::local(table, Local::Sum, pa);
                u.mask(&mut self.next, true);
                self.send_vals(2, &u)?;
                drop(u);
                // Step 3: m0 = π_C(v') - t_1 to party 2; t_0 = m0 + m2.
                let v = self.recv_vals(1, &shape)?;
                let mut m0 = v.permute(pc);
                drop(v);
                let t1 = Vals::draw(&mut self.next, &shape);
                m0.sub_assign(&t1);
                self.send_vals(2, &m0)?;
                let m2 = self.recv_vals(2, &shape)?;
                m0.add_assign(&m2);
                Ok(Vals::join(m0, t1))
            }
            1 => {
                let (pa, pb) = (&perm.prev, &perm.next);
                // Step 1: v = π_A(s2) - r_A; step 2: v' = π_B(v) + r_B to party 0.
                let mut v = Vals::local(table, Local::Second, pa);
                v.mask(&mut self.prev, false);
                let mut v2 = v.permute(pb);
                drop(v);
                v2.mask(&mut self.next, true);
                self.send_vals(0, &v2)?;
                drop(v2);
                // Step 3: both new shares come from the streams.
                let t1 = Vals::draw(&mut self.prev, &shape);
                let t2 = Vals::draw(&mut self.next, &shape);
                Ok(Vals::join(t1, t2))
            }
            _ => {
                let (pb, pc) = (&perm.prev, &perm.next);
                // Step 2: w = π_B(u) - r_B.
                let u = self.recv_vals(0, &shape)?;
                let mut w = u.permute(pb);
                drop(u);
                w.mask(&mut self.prev, false);
                // Step 3: m2 = π_C(w) - t_2 to party 0; t_0 = m0 + m2.
                let mut m2 = w.permute(pc);
                drop(w);
                let t2 = Vals::draw(&mut self.prev, &shape);
                m2.sub_assign(&t2);
                self.send_vals(0, &m2)?;
                let m0 = self.recv_vals(0, &shape)?;
                m2.add_assign(&m0);
                Ok(Vals::join(t2, m2))
            }
        }
    }

    /// Sends a set of columns: one message per ring that has columns.
    fn send_vals(&mut self, to: usize, v: &Vals) -> Result<()> {
        if !v.c64.is_empty() {
            let parts: Vec<&[u64]> = v.c64.iter().map(Vec::as_slice).collect();
            self.send_parts(to, &parts)?;
        }
        if !v.c128.is_empty() {
            let parts: Vec<&[u128]> = v.c128.iter().map(Vec::as_slice).collect();
            self.send_parts(to, &parts)?;
        }
        Ok(())
    }

    fn recv_vals(&mut self, from: usize, s: &Shape) -> Result<Vals> {
        let c64 = if s.c64 > 0 {
            self.recv_parts(from, &vec![s.n; s.c64])?
        } else {
            Vec::new()
        };
        let c128 = if s.c128 > 0 {
            self.recv_parts(from, &vec![s.n; s.c128])?
        } else {
            Vec::new()
        };
        Ok(Vals { c64, c128 })
    }
}

/// Rows and columns of a table.
struct Shape {
    n: usize,
    c64: usize,
    c128: usize,
}

/// One value per cell (one share, or a mask): the columns of both rings.
struct Vals {
    c64: Vec<Vec<u64>>,
    c128: Vec<Vec<u128>>,
}

impl Vals {
    /// This party's local value of every cell, read through the permutation:
    /// `out[k] = value[perm[k]]`, where the value is `a + b` (`Sum`) or `b` (`Second`).
    fn local(t: &Table, which: Local, perm: &[u32]) -> Vals {
        fn col<R: Ring>(c: &AShare<R>, which: Local, perm: &[u32]) -> Vec<R> {
            let it = perm.iter().map(|&k| k as usize);
            match which {
                Local::Sum => it.map(|k| c.a[k].add(c.b[k])).collect(),
                Local::Second => it.map(|k| c.b[k]).collect(),
            }
        }
        Vals {
            c64: t.c64.iter().map(|c| col(c, which, perm)).collect(),
            c128: t.c128.iter().map(|c| col(c, which, perm)).collect(),
        }
    }

    /// `out[k] = self[perm[k]]` in every column.
    fn permute(&self, perm: &[u32]) -> Vals {
        Vals {
            c64: self.c64.iter().map(|c| gather(c, perm)).collect(),
            c128: self.c128.iter().map(|c| gather(c, perm)).collect(),
        }
    }

    /// Adds (or subtracts) fresh randomness from `prg`, column by column (64-bit columns
    /// first): the order both holders of the stream follow.
    fn mask(&mut self, prg: &mut Prg, add: bool) {
        for c in &mut self.c64 {
            prg.combine(c, if add { u64::add } else { u64::sub });
        }
        for c in &mut self.c128 {
            prg.combine(c, if add { u128::add } else { u128::sub });
        }
    }

    /// Fresh random columns from `prg`, in the same order as [`Vals::mask`].
    fn draw(prg: &mut Prg, s: &Shape) -> Vals {
        Vals {
            c64: (0..s.c64).map(|_| prg.vec(s.n)).collect(),
            c128: (0..s.c128).map(|_| prg.vec(s.n)).collect(),
        }
    }

    fn add_assign(&mut self, o: &Vals) {
        zip_assign(&mut self.c64, &o.c64, u64::add);
        zip_assign(&mut self.c128, &o.c128, u128::add);
    }

    fn sub_assign(&mut self, o: &Vals) {
        zip_assign(&mut self.c64, &o.c64, u64::sub);
        zip_assign(&mut self.c128, &o.c128, u128::sub);
    }

    /// The table whose shares are `a` (first) and `b` (second).
    fn join(a: Vals, b: Vals) -> Table {
        fn pair<R: Ring>(x: Vec<Vec<R>>, y: Vec<Vec<R>>) -> Vec<AShare<R>> {
            x.into_iter().zip(y).map(|(a, b)| AShare { a, b }).collect()
        }
        Table {
            c64: pair(a.c64, b.c64),
            c128: pair(a.c128, b.c128),
        }
    }
}

/// Which local value of a replicated share enters the two-party sharing.
#[derive(Clone, Copy)]
enum Local {
    /// `s_i + s_{i+1}` (party 0: `s0 + s1`).
    Sum,
    /// `s_{i+1}` (party 1: `s2`).
    Second,
}

fn gather<T: Copy>(v: &[T], idx: &[u32]) -> Vec<T> {
    idx.iter().map(|&k| v[k as usize]).collect()
}

fn gather_share<R: Ring>(s: &AShare<R>, idx: &[u32]) -> AShare<R> {
    AShare {
        a: gather(&s.a, idx),
        b: gather(&s.b, idx),
    }
}

fn zip_assign<R: Ring>(x: &mut [Vec<R>], y: &[Vec<R>], f: fn(R, R) -> R) {
    for (c, d) in x.iter_mut().zip(y) {
        for (p, &q) in c.iter_mut().zip(d) {
            *p = f(*p, q);
        }
    }
}

/// A uniformly random permutation of `0..n` from `seed` (Fisher–Yates with Lemire's unbiased
/// bounded sampling). Deterministic: the two parties holding a seed get the same permutation.
pub(crate) fn fisher_yates(n: usize, seed: &Seed) -> Vec<u32> {
    let mut words = Words::new(seed, n);
    let mut p: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = words.below(i as u64 + 1) as usize;
        p.swap(i, j);
    }
    p
}

/// Random 64-bit words from a private AES-CTR stream, drawn in batches.
struct Words {
    prg: Prg,
    buf: Vec<u64>,
    at: usize,
    batch: usize,
}

impl Words {
    /// A stream for about `hint` draws (the batch size only affects speed).
    fn new(seed: &Seed, hint: usize) -> Self {
        Words {
            prg: Prg::new(seed),
            buf: Vec::new(),
            at: 0,
            batch: hint.clamp(16, 4096),
        }
    }

    fn word(&mut self) -> u64 {
        if self.at == self.buf.len() {
            self.buf = self.prg.vec(self.batch);
            self.at = 0;
        }
        self.at += 1;
        self.buf[self.at - 1]
    }

    /// Uniform in `0..s` (s ≥ 1), without modulo bias (Lemire 2019).
    fn below(&mut self, s: u64) -> u64 {
        let mut m = self.word() as u128 * s as u128;
        if (m as u64) < s {
            let t = s.wrapping_neg() % s;
            while (m as u64) < t {
                m = self.word() as u128 * s as u128;
            }
        }
        (m >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fisher_yates_is_a_deterministic_uniform_permutation() {
        let seed = [3u8; 16];
        assert_eq!(fisher_yates(1000, &seed), fisher_yates(1000, &seed));
        let mut sorted = fisher_yates(1000, &seed);
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<u32>>());
        assert!(fisher_yates(0, &seed).is_empty());
        // All 24 permutations of 4 elements, each close to 1/24 of 48,000 draws.
        let mut counts = std::collections::HashMap::new();
        let mut seeds = Prg::new(&[9u8; 16]);
        for _ in 0..48_000 {
            *counts.entry(fisher_yates(4, &seeds.seed())).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 24);
        for (p, c) in counts {
            assert!((1700..2300).contains(&c), "{p:?} drawn {c} times");
        }
    }

    #[test]
    fn bounded_sampling_is_unbiased_at_awkward_bounds() {
        let mut w = Words::new(&[1u8; 16], 100);
        let s = 3u64;
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[w.below(s) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
        let big = (1u64 << 63) + 1;
        assert!((0..1000).all(|_| w.below(big) < big));
        assert_eq!(w.below(1), 0);
    }
}
