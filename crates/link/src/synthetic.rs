//! Synthetic data-party tables for benchmarks and tests, made deterministically so that
//! every process can build its own without communication.

use crate::keys::{KeyColumn, KeySpec, Norm, RawTable};

/// The key spec of the synthetic tables: a patient number, digits only, leading zeros
/// stripped.
pub fn spec() -> KeySpec {
    KeySpec {
        columns: vec![KeyColumn::new(
            "patient",
            &[Norm::Trim, Norm::DigitsOnly, Norm::StripLeadingZeros],
        )],
        duplicates: Default::default(),
        context: "tessera-synthetic".into(),
    }
}

fn mix(x: u64) -> u64 {
    // splitmix64 finaliser: deterministic, well-spread payload values.
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Table A (`party == 0`: patients `0..n`, written `"NHS 000 123"`, one Z_2^64 and one
/// Z_2^128 payload column) or table B (`party == 1`: patients `n - overlap .. 2n - overlap`,
/// written `"123"`, two Z_2^64 payload columns). Patients are listed in a scrambled order.
/// The two tables share exactly `overlap` patients (for `overlap <= n`).
pub fn table(party: usize, n: usize, overlap: usize) -> RawTable {
    let first = if party == 0 { 0 } else { n - overlap.min(n) } as u64;
    // A fixed permutation of 0..n: multiplication by an odd constant modulo a power of two
    // would do for n a power of two; a sort by hash works for every n.
    let mut ids: Vec<u64> = (first..first + n as u64).collect();
    ids.sort_by_key(|&i| mix(i ^ (party as u64) << 60));
    let key = |i: u64| {
        if party == 0 {
            format!(
                "NHS {:03} {:03} {:04}",
                i / 10_000_000,
                i / 10_000 % 1000,
                i % 10_000
            )
        } else {
            i.to_string()
        }
    };
    let keys = vec![ids.iter().map(|&i| Some(key(i))).collect()];
    if party == 0 {
        RawTable {
            keys,
            c64: vec![ids.iter().map(|&i| 20 + mix(i) % 70).collect()],
            c128: vec![ids.iter().map(|&i| (mix(i ^ 1) as u128) << 20).collect()],
        }
    } else {
        RawTable {
            keys,
            c64: vec![
                ids.iter().map(|&i| mix(i ^ 2) % 2).collect(),
                ids.iter().map(|&i| mix(i ^ 3) % 1000).collect(),
            ],
            c128: vec![],
        }
    }
}
