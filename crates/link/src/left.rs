//! The oblivious left join: every row of one data party (the *anchor*, e.g. the cancer
//! registry), with each other party's columns where it holds the same person and zeros
//! where it does not.
//!
//! A party's payload carries a "present" indicator per column (1 where the value is
//! there), so zeros are read as "missing" downstream: a registry patient without a record
//! at the GP keeps every registry column, and the GP's columns are missing for them.
//!
//! # Protocol
//!
//! Input: `k ≥ 2` shared tables, anchor `a`, keys distinct within each party.
//!
//! 1. **Concatenate** as the inner join does ([`crate::join`]), with the anchor's table
//!    first, and one more Z_2^128 column per party: its *tag*, 1 on its own rows (public
//!    constants: which party a row comes from is known before the sort).
//! 2. **Stable sort** by key: a person's rows form a run in party order, anchor first.
//! 3. **Match bits.** `e_i = [key_i = key_{i+1}]`, and for each offset `o = 1..k-1` the
//!    window `E_o(i) = e_i ∧ … ∧ e_{i+o-1}` ("row `i + o` is the same person as row
//!    `i`"), injected into Z_2^128. Never opened.
//! 4. **Gather the other parties' columns** onto row `i`: for party `q` (its place `q` in
//!    the run order, `1..k-1`), its row can only be at an offset `o ≤ q`, so
//!    `w_{q,o}(i) = E_o(i) · tag_q(i + o)` is 1 for at most one `o`, and party `q`'s
//!    column `j` on row `i` is `Σ_o w_{q,o}(i) · slot_j(i + o)`: its value, or 0 when
//!    nobody of party `q` is the same person. Two rounds of products, nothing opened.
//!    (Z_2^64 columns use the low 64 bits of `w`'s shares: a 0/1 value shared mod 2^128
//!    is the same value shared mod 2^64.)
//! 5. **Shuffle** all `N` candidates with the anchor's tag and **open the tags only**;
//!    keep the anchor's rows.
//!
//! # Leakage
//!
//! The compute parties learn the input sizes (public shapes), as in the inner join, and
//! nothing else: the opened tags are a uniformly random arrangement of `n_a` ones (the
//! anchor's row count, already public) among `N` positions. Unlike the inner join, not
//! even the number of matched persons is opened: it stays in the shared present
//! indicators, and reaches the recipients only through the analyses' complete cases.
//!
//! # Cost
//!
//! The sort of `N` rows as in the inner join plus `16·k` bytes per row for the tags, then
//! `k - 1` equality windows (`ceil(log2 o)` rounds each, run together), one injection, two
//! rounds of products (`Σ_q q·(1 + columns of q)` per row) and the shuffle of the
//! candidates.

use std::ops::Range;

use tessera_mpc::share::low64;
use tessera_mpc::{AShare, BShare, Party, Table};

use crate::error::{LinkError, Result};
use crate::input::{check_inputs, SharedInput, MAX_ROWS};
use crate::join::{bshare_range, concat_slot, layout, window_and, JoinOptions, Joined, KEY_COLUMN};

/// The left join of `inputs` keeping every row of input `anchor` (see the module docs).
/// All three compute parties call it with their shares of the same inputs.
pub fn left_join(
    p: &mut Party,
    inputs: &[SharedInput],
    anchor: usize,
    opts: &JoinOptions,
) -> Result<Joined> {
    let k = inputs.len();
    if k < 2 {
        return Err(LinkError::Invalid(format!(
            "a join needs at least two tables, got {k}"
        )));
    }
    if anchor >= k {
        return Err(LinkError::Invalid(format!(
            "the table to keep is input {anchor} of {k}"
        )));
    }
    if opts.sort.key_bits != 64 {
        return Err(LinkError::Invalid(
            "encoded keys are 64-bit values: the sort's key_bits must be 64".into(),
        ));
    }
    check_inputs(inputs)?;
    // Run order: the anchor first, then the others in input order.
    let order: Vec<usize> = std::iter::once(anchor)
        .chain((0..k).filter(|&q| q != anchor))
        .collect();
    let ordered: Vec<SharedInput> = order.iter().map(|&q| inputs[q].clone()).collect();
    let shapes: Vec<_> = ordered.iter().map(SharedInput::shape).collect();
    let total: usize = shapes.iter().map(|s| s.rows).sum();
    if total > MAX_ROWS {
        return Err(LinkError::Invalid(format!(
            "{total} rows altogether: at most {MAX_ROWS}"
        )));
    }
    let columns = layout(inputs);
    let (width64, width128) = (
        columns.last().map_or(1, |c| c.c64.end),
        columns.last().map_or(0, |c| c.c128.end),
    );
    if shapes[0].rows == 0 {
        return Ok(Joined {
            table: Table {
                c64: vec![AShare::default(); width64],
                c128: vec![AShare::default(); width128],
            },
            columns,
            intersection: 0,
            sort: Default::default(),
        });
    }
    let slots64 = shapes.iter().map(|s| s.c64).max().unwrap_or(0);
    let slots128 = shapes.iter().map(|s| s.c128).max().unwrap_or(0);

    // 1. Concatenate: key, slots, and one tag column per party (public constants).
    let keys = AShare::concat(&ordered.iter().map(|i| &i.keys).collect::<Vec<_>>());
    let mut c64 = vec![keys];
    c64.extend((0..slots64).map(|j| concat_slot(&ordered, |t| t.c64.get(j))));
    let mut c128: Vec<AShare<u128>> = (0..slots128)
        .map(|j| concat_slot(&ordered, |t| t.c128.get(j)))
        .collect();
    let mut start = 0;
    for s in &shapes {
        let mut tag = vec![0u128; total];
        tag[start..start + s.rows].fill(1);
        c128.push(p.public(&tag));
        start += s.rows;
    }
    let table = Table::new(c64, c128)?;

    // 2. Stable sort by key.
    let (sorted, perm) = p.sort_table(&table, KEY_COLUMN, opts.sort)?;
    drop(table);
    let key = &sorted.c64[KEY_COLUMN];
    let tags = &sorted.c128[slots128..];

    // 3. E_o(i) = [rows i and i + o are the same person], o = 1..k-1, padded to N rows.
    let e = if total > 1 {
        p.eq(&key.slice(0..total - 1), &key.slice(1..total))?
    } else {
        BShare::default()
    };
    let mut windows: Vec<BShare> = Vec::with_capacity(k - 1);
    for o in 1..k {
        let w = if o < total {
            window_and(p, e.clone(), total - 1, o)?
        } else {
            BShare::default()
        };
        windows.push(bshare_range(&w, 0, total));
    }
    let same: Vec<AShare<u128>> = p.inject(&windows.iter().collect::<Vec<_>>(), total)?;

    // 4. w_{q,o}(i) = E_o(i)·tag_q(i + o), then party q's columns gathered onto row i.
    let wanted: Vec<(usize, usize)> = (1..k).flat_map(|q| (1..=q).map(move |o| (q, o))).collect();
    let shifted_tags: Vec<AShare<u128>> =
        wanted.iter().map(|&(q, o)| shift_up(&tags[q], o)).collect();
    let pairs: Vec<(&AShare<u128>, &AShare<u128>)> = wanted
        .iter()
        .zip(&shifted_tags)
        .map(|(&(_, o), t)| (&same[o - 1], t))
        .collect();
    let w = p.mul_many(&pairs)?;
    drop(shifted_tags);
    let mut prod128: Vec<(usize, AShare<u128>, AShare<u128>)> = Vec::new();
    let mut prod64: Vec<(usize, AShare<u64>, AShare<u64>)> = Vec::new();
    for (x, &(q, o)) in wanted.iter().enumerate() {
        for j in 0..shapes[q].c128 {
            prod128.push((q * slots128 + j, w[x].clone(), shift_up(&sorted.c128[j], o)));
        }
        let w64 = low64(&w[x]);
        for j in 0..shapes[q].c64 {
            prod64.push((
                q * slots64 + j,
                w64.clone(),
                shift_up(&sorted.c64[1 + j], o),
            ));
        }
    }
    let got128 = p.mul_many(&prod128.iter().map(|(_, a, b)| (a, b)).collect::<Vec<_>>())?;
    let got64 = p.mul_many(&prod64.iter().map(|(_, a, b)| (a, b)).collect::<Vec<_>>())?;
    let gathered128 = sum_by_slot(prod128.iter().map(|x| x.0).zip(got128), total);
    let gathered64 = sum_by_slot(prod64.iter().map(|x| x.0).zip(got64), total);

    // The candidates, one per row: the key, every party's columns in input order, and
    // the anchor's tag.
    let mut cand64 = vec![key.clone()];
    let mut cand128 = Vec::new();
    for q in 0..k {
        let place = order
            .iter()
            .position(|&x| x == q)
            .expect("every input has a place");
        let s = &shapes[place];
        for j in 0..s.c64 {
            cand64.push(if place == 0 {
                sorted.c64[1 + j].clone()
            } else {
                gathered64[&(place * slots64 + j)].clone()
            });
        }
        for j in 0..s.c128 {
            cand128.push(if place == 0 {
                sorted.c128[j].clone()
            } else {
                gathered128[&(place * slots128 + j)].clone()
            });
        }
    }
    cand64.push(low64(&tags[0]));
    drop(sorted);
    let cand = Table::new(cand64, cand128)?;

    // 5. Shuffle, open the anchor's tags, keep its rows.
    let mut shuffled = p.shuffle(&cand)?;
    drop(cand);
    let flag = shuffled.c64.pop().expect("flag column");
    // LEAKAGE (module docs): after a fresh oblivious shuffle of all N rows, the tags are a
    // uniformly random arrangement of the anchor's n_a ones (n_a is public: its input
    // size). Each opened word is the tag itself (a shared 0/1 value), nothing more.
    let opened = p.reveal(&flag)?;
    let keep: Vec<u32> = (0..total as u32)
        .filter(|&i| opened[i as usize] == 1)
        .collect();
    if keep.len() != shapes[0].rows {
        return Err(LinkError::Invalid(format!(
            "the left join kept {} rows of the {} it keeps",
            keep.len(),
            shapes[0].rows
        )));
    }
    Ok(Joined {
        intersection: keep.len(),
        table: shuffled.gather(&keep),
        columns,
        sort: perm.stats,
    })
}

/// `x` moved up by `o` rows (row `i` holds `x[i + o]`), zeros at the end: same length.
fn shift_up<R: tessera_mpc::Ring>(x: &AShare<R>, o: usize) -> AShare<R> {
    let n = x.len();
    let keep: Range<usize> = o.min(n)..n;
    let mut a = x.a[keep.clone()].to_vec();
    let mut b = x.b[keep].to_vec();
    a.resize(n, R::ZERO);
    b.resize(n, R::ZERO);
    AShare { a, b }
}

/// Sums of products by destination slot.
fn sum_by_slot<R: tessera_mpc::Ring>(
    parts: impl Iterator<Item = (usize, AShare<R>)>,
    n: usize,
) -> std::collections::HashMap<usize, AShare<R>> {
    let mut out: std::collections::HashMap<usize, AShare<R>> = std::collections::HashMap::new();
    for (slot, v) in parts {
        let acc = out.entry(slot).or_insert_with(|| AShare::zeros(n));
        *acc = acc.add(&v);
    }
    out
}
