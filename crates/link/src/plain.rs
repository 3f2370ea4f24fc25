//! The plaintext inner and left joins: the oracles the protocols are tested against.

use std::collections::HashMap;

use crate::keys::Prepared;

/// One row of a join: the key and the payload of every party, in party order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    /// The encoded key.
    pub key: u64,
    /// Z_2^64 payload of party 0, then party 1, ...
    pub c64: Vec<u64>,
    /// Z_2^128 payload of party 0, then party 1, ...
    pub c128: Vec<u128>,
}

/// Per table, the row of each key.
fn key_index(tables: &[Prepared]) -> Vec<HashMap<u64, usize>> {
    tables
        .iter()
        .map(|t| t.keys.iter().enumerate().map(|(r, &k)| (k, r)).collect())
        .collect()
}

/// The inner join of prepared tables (keys distinct within each), sorted by key.
pub fn join(tables: &[Prepared]) -> Vec<Row> {
    let Some(first) = tables.first() else {
        return Vec::new();
    };
    let index = key_index(tables);
    let mut out: Vec<Row> = first
        .keys
        .iter()
        .filter_map(|&key| {
            let rows: Vec<usize> = index
                .iter()
                .map(|ix| ix.get(&key).copied())
                .collect::<Option<_>>()?;
            let mut row = Row {
                key,
                c64: Vec::new(),
                c128: Vec::new(),
            };
            for (t, &r) in tables.iter().zip(&rows) {
                row.c64.extend(t.c64.iter().map(|c| c[r]));
                row.c128.extend(t.c128.iter().map(|c| c[r]));
            }
            Some(row)
        })
        .collect();
    out.sort();
    out
}

/// The left join of prepared tables keeping every row of `tables[anchor]`, sorted by key:
/// the other tables' columns where they hold the key, zeros where they do not.
pub fn left_join(tables: &[Prepared], anchor: usize) -> Vec<Row> {
    let Some(first) = tables.get(anchor) else {
        return Vec::new();
    };
    let index = key_index(tables);
    let mut out: Vec<Row> = first
        .keys
        .iter()
        .map(|&key| {
            let mut row = Row {
                key,
                c64: Vec::new(),
                c128: Vec::new(),
            };
            for (t, ix) in tables.iter().zip(&index) {
                match ix.get(&key) {
                    Some(&r) => {
                        row.c64.extend(t.c64.iter().map(|c| c[r]));
                        row.c128.extend(t.c128.iter().map(|c| c[r]));
                    }
                    None => {
                        row.c64.extend(t.c64.iter().map(|_| 0));
                        row.c128.extend(t.c128.iter().map(|_| 0));
                    }
                }
            }
            row
        })
        .collect();
    out.sort();
    out
}

/// The rows of an opened join table (column 0 the key, as in [`crate::join::Joined`]),
/// sorted by key: compare with [`join`].
pub fn rows_of(c64: &[Vec<u64>], c128: &[Vec<u128>]) -> Vec<Row> {
    let n = c64.first().map(Vec::len).unwrap_or(0);
    let mut out: Vec<Row> = (0..n)
        .map(|r| Row {
            key: c64[0][r],
            c64: c64[1..].iter().map(|c| c[r]).collect(),
            c128: c128.iter().map(|c| c[r]).collect(),
        })
        .collect();
    out.sort();
    out
}
