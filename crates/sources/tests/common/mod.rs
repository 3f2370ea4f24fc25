//! Shared by the integration tests: the gp fixture's declaration and comparisons.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use tessera_sources::{read, ColumnDecl, ColumnKind, Source, Table};
use tessera_stats::PlainData;

/// The repository's fixtures/synthetic/gp.csv.
pub fn gp_csv() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/synthetic/gp.csv")
}

/// The gp columns as examples/survival/study.toml declares them.
pub fn gp_columns() -> Vec<ColumnDecl> {
    let num = |min: Option<f64>, max: Option<f64>| ColumnKind::Numeric { min, max };
    let mut cols = vec![
        decl("comorbidity", num(Some(0.0), None)),
        decl("smoker", ColumnKind::Binary),
        decl("bmi", num(Some(10.0), Some(80.0))),
    ];
    for b in [
        "diabetes",
        "hypertension",
        "statin",
        "metformin",
        "ace_inhibitor",
    ] {
        cols.push(decl(b, ColumnKind::Binary));
    }
    cols
}

/// A column `name` labelled `gp.name`.
pub fn decl(name: &str, kind: ColumnKind) -> ColumnDecl {
    ColumnDecl {
        name: name.into(),
        label: format!("gp.{name}"),
        kind,
    }
}

pub fn key() -> Vec<String> {
    vec!["patient_id".to_string()]
}

/// gp.csv read through the CSV source.
pub fn gp_from_csv() -> Table {
    let src = Source::Csv {
        file: gp_csv(),
        delimiter: b',',
        missing: vec!["".into(), "NA".into()],
    };
    read(&src, &key(), &gp_columns()).unwrap()
}

/// One cell of a frame as a comparable value (numbers as bits, levels as text).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum V {
    Missing,
    Num(u64),
    Level(String),
}

/// The table's rows by key (the first key column), for comparison regardless of row order.
pub fn rows_by_key(t: &Table) -> BTreeMap<String, Vec<V>> {
    let mut out = BTreeMap::new();
    for r in 0..t.counts.rows {
        let k = t.keys[0][r].clone().expect("a key");
        let row = t
            .frame
            .columns
            .iter()
            .map(|c| match &c.data {
                PlainData::Numeric(v) => v[r].map_or(V::Missing, |x| V::Num(x.to_bits())),
                PlainData::Categorical { levels, codes } => {
                    codes[r].map_or(V::Missing, |i| V::Level(levels[i].clone()))
                }
            })
            .collect();
        assert!(out.insert(k, row).is_none(), "duplicate key");
    }
    out
}
