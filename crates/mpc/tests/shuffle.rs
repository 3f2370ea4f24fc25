//! Oblivious shuffle against plaintext: rows intact, multiset kept, fresh random orders,
//! and the bytes and rounds of the module docs.

use proptest::prelude::*;
use tessera_mpc::shuffle::{shuffle_bytes, Table, SHUFFLE_ROUNDS};
use tessera_mpc::testing::{input, run3_ok, same};
use tessera_mpc::{Party, Result};

type Rows = Vec<(Vec<u64>, Vec<u128>)>;

/// Shares the columns (party `k % 3` inputs column `k`).
fn share(p: &mut Party, c64: &[Vec<u64>], c128: &[Vec<u128>]) -> Table {
    let a = c64
        .iter()
        .enumerate()
        .map(|(k, c)| input(p, k % 3, c))
        .collect();
    let b = c128
        .iter()
        .enumerate()
        .map(|(k, c)| input(p, (k + 1) % 3, c))
        .collect();
    Table::new(a, b).expect("equal lengths")
}

/// Opens a table as its rows.
fn open(p: &mut Party, t: &Table) -> Result<Rows> {
    let n = t.rows();
    let a = t
        .c64
        .iter()
        .map(|c| p.reveal(c))
        .collect::<Result<Vec<_>>>()?;
    let b = t
        .c128
        .iter()
        .map(|c| p.reveal(c))
        .collect::<Result<Vec<_>>>()?;
    Ok(to_rows(&a, &b, n))
}

fn to_rows(c64: &[Vec<u64>], c128: &[Vec<u128>], n: usize) -> Rows {
    (0..n)
        .map(|k| {
            (
                c64.iter().map(|c| c[k]).collect(),
                c128.iter().map(|c| c[k]).collect(),
            )
        })
        .collect()
}

fn sorted(mut r: Rows) -> Rows {
    r.sort();
    r
}

/// Columns with distinct rows: column 0 (or the only u128 column) numbers the rows.
fn numbered(n: usize, c64: usize, c128: usize) -> (Vec<Vec<u64>>, Vec<Vec<u128>>) {
    let a = (0..c64)
        .map(|j| (0..n as u64).map(|k| k * 1000 + j as u64).collect())
        .collect();
    let b = (0..c128)
        .map(|j| (0..n as u128).map(|k| (k << 70) | j as u128).collect())
        .collect();
    (a, b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn shuffle_keeps_rows_and_their_multiset(
        n in 0usize..150,
        c64 in 0usize..3,
        c128 in 0usize..3,
        seed in any::<u64>(),
    ) {
        let c128 = if c64 + c128 == 0 { 1 } else { c128 };
        // Rows with repeated values, so that the multiset (not just the set) matters.
        let val = |k: usize, j: usize| seed.rotate_left((k % 7 + j) as u32) ^ (k as u64 / 3);
        let a: Vec<Vec<u64>> = (0..c64).map(|j| (0..n).map(|k| val(k, j)).collect()).collect();
        let b: Vec<Vec<u128>> = (0..c128)
            .map(|j| (0..n).map(|k| (val(k, j + 5) as u128) << 64 | val(k, j) as u128).collect())
            .collect();
        let out = same(run3_ok(|p| {
            let t = share(p, &a, &b);
            p.barrier()?;
            let before = p.stats();
            let s = p.shuffle(&t)?;
            let st = p.stats().since(&before);
            assert_eq!(s.rows(), n);
            assert_eq!(
                st.bytes_sent,
                shuffle_bytes(p.id(), n, t.row_bytes()),
                "bytes of party {}", p.id()
            );
            open(p, &s)
        }));
        prop_assert_eq!(sorted(out), sorted(to_rows(&a, &b, n)));
    }
}

#[test]
fn bytes_and_rounds_follow_the_formula() {
    let (n, c64, c128) = (1000, 2, 1);
    let (a, b) = numbered(n, c64, c128);
    let r = run3_ok(|p| {
        let t = share(p, &a, &b);
        p.barrier()?;
        let before = p.stats();
        p.shuffle(&t)?;
        Ok(p.stats().since(&before))
    });
    let row = 8 * c64 + 16 * c128;
    for (i, st) in r.iter().enumerate() {
        assert_eq!(st.bytes_sent, shuffle_bytes(i, n, row));
    }
    assert_eq!(r[0].bytes_sent, 2 * 32 * 1000);
    assert_eq!(r[1].bytes_sent, 32 * 1000);
    assert_eq!(r.iter().map(|s| s.rounds).max(), Some(SHUFFLE_ROUNDS));
}

#[test]
fn two_shuffles_give_different_orders() {
    let n = 20;
    let (a, b) = numbered(n, 1, 1);
    let (x, y) = same(run3_ok(|p| {
        let t = share(p, &a, &b);
        let s1 = p.shuffle(&t)?;
        let s2 = p.shuffle(&t)?;
        Ok((open(p, &s1)?, open(p, &s2)?))
    }));
    let plain = to_rows(&a, &b, n);
    // Each order is one of 20! ≈ 2.4·10^18, so equal orders mean a broken shuffle.
    assert_ne!(x, y);
    assert_ne!(x, plain);
    assert_ne!(y, plain);
    assert_eq!(sorted(x), sorted(plain.clone()));
    assert_eq!(sorted(y), plain);
}

#[test]
fn tiny_tables() {
    // n = 0: with and without columns.
    let out = same(run3_ok(|p| {
        let t = share(p, &[vec![]], &[vec![]]);
        let s = p.shuffle(&t)?;
        let e = p.shuffle(&Table::default())?;
        assert_eq!(e.rows(), 0);
        open(p, &s)
    }));
    assert!(out.is_empty());
    // n = 1: the row survives, freshly shared.
    let a = vec![vec![u64::MAX], vec![7]];
    let b = vec![vec![u128::MAX - 3]];
    let (out, fresh) = same(run3_ok(|p| {
        let t = share(p, &a, &b);
        let s = p.shuffle(&t)?;
        let fresh = s.c64[0] != t.c64[0];
        Ok((open(p, &s)?, fresh))
    }));
    assert!(fresh);
    assert_eq!(out, to_rows(&a, &b, 1));
}

#[test]
fn one_permutation_moves_several_tables_alike() {
    let n = 64;
    let (a, b) = numbered(n, 1, 1);
    let (x, y) = same(run3_ok(|p| {
        let t1 = Table::new(vec![input(p, 0, &a[0])], vec![])?;
        let t2 = Table::new(vec![], vec![input(p, 2, &b[0])])?;
        let perm = p.random_perm(n)?;
        let s1 = p.permute(&perm, &t1)?;
        let s2 = p.permute(&perm, &t2)?;
        Ok((p.reveal(&s1.c64[0])?, p.reveal(&s2.c128[0])?))
    }));
    // Row k of both tables is number k: the two outputs carry the same numbers in the same order.
    let xs: Vec<u64> = x.iter().map(|v| v / 1000).collect();
    let ys: Vec<u64> = y.iter().map(|v| (v >> 70) as u64).collect();
    assert_eq!(xs, ys);
    assert_ne!(xs, (0..n as u64).collect::<Vec<_>>());
}

#[test]
fn composed_permutation_is_uniform_on_three_rows() {
    // 600 shuffles of three rows: each of the 6 orders about 100 times.
    let (a, b) = numbered(3, 1, 0);
    let orders = same(run3_ok(|p| {
        let t = share(p, &a, &b);
        let mut out = Vec::new();
        for _ in 0..600 {
            let s = p.shuffle(&t)?;
            out.push(p.reveal(&s.c64[0])?);
        }
        Ok(out)
    }));
    let mut counts = std::collections::BTreeMap::new();
    for o in orders {
        *counts.entry(o).or_insert(0) += 1;
    }
    assert_eq!(counts.len(), 6, "{counts:?}");
    assert!(
        counts.values().all(|&c| (50..160).contains(&c)),
        "{counts:?}"
    );
}

#[test]
fn mismatched_inputs_are_errors() {
    let r = run3_ok(|p| {
        let x = input(p, 0, &[1u64, 2, 3]);
        let y = input(p, 1, &[1u64, 2]);
        let bad = Table::new(vec![x.clone(), y], vec![]).is_err();
        let perm = p.random_perm(2)?;
        let wrong = p.permute(&perm, &Table::new(vec![x], vec![])?).is_err();
        Ok(bad && wrong)
    });
    assert!(r.iter().all(|&ok| ok));
}
