//! `tessera station check`: every configured source read as `station.toml` declares it,
//! before any study needs it.
//!
//! [`check`] reads each `[sources.NAME]` with the sources crate's readers (the ones the
//! service uses when it gets a study ready to run, [`crate::config::SourceConfig::reader`])
//! and every declared column: it must be present once, and each value must parse as its
//! declared type (`numeric` finite, `binary` 0 or 1, `categorical` one of the declared
//! `levels` when the steward declared them). A source whose column does not fit is read
//! again without that column, so every bad column of a source is named (each with its
//! first bad place), not only the first; a source that cannot be opened or parsed at all is
//! one problem.
//!
//! LEAKAGE: the report holds counts (rows, missing values per column) and, for numeric
//! columns, the smallest and largest value: aggregate figures for the steward's own
//! terminal (the station owns the data); it is never sent anywhere. Problems are the
//! sources crate's messages, which name the place and the column and never a value.

use tessera_sources::{ColumnDecl, SourceError};
use tessera_stats::PlainData;

use crate::config::{ColumnKind, Config, SourceConfig};

/// What was found in one declared column.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnReport {
    /// Its name in the source.
    pub name: String,
    /// Its declared type.
    pub kind: ColumnKind,
    /// Missing values (missing tokens, nulls).
    pub missing: usize,
    /// Smallest and largest value of a numeric or date column (dates in days since
    /// 1970-01-01) with at least one value.
    pub range: Option<(f64, f64)>,
    /// A `categorical` column without declared levels: read as text, its values could not
    /// be checked.
    pub unchecked: bool,
}

impl ColumnReport {
    /// The range as the steward reads it: numbers as they are, dates `YYYY-MM-DD`; `None`
    /// for other kinds or without values.
    pub fn range_text(&self) -> Option<(String, String)> {
        let (lo, hi) = self.range?;
        let day = |d: f64| tessera_sources::date_text(d as i64).unwrap_or_default();
        match self.kind {
            ColumnKind::Numeric => Some((lo.to_string(), hi.to_string())),
            ColumnKind::Date => Some((day(lo), day(hi))),
            _ => None,
        }
    }
}

/// What was found in one source.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceReport {
    /// The source's name (`[sources.NAME]`).
    pub name: String,
    /// The file, or `PostgreSQL`.
    pub place: String,
    /// Rows read (`None` when the source could not be read at all).
    pub rows: Option<usize>,
    /// The columns read without a problem, in the order `station.toml` sorts them.
    pub columns: Vec<ColumnReport>,
    /// Every problem: a missing or doubled column, a value that does not fit (place and
    /// column, never the value), a source that cannot be opened.
    pub problems: Vec<String>,
}

impl SourceReport {
    /// Whether the source has no problem.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Reads every configured source of `config` and reports on each, in name order.
pub fn check(config: &Config) -> Vec<SourceReport> {
    config.sources.iter().map(check_source).collect()
}

/// How a declared column is read: as a typed column, or as text (a `key` column, or a
/// `categorical` column without declared levels, whose values cannot be checked).
enum Read {
    Typed(ColumnDecl),
    Text,
}

fn how(source: &SourceConfig, name: &str, kind: ColumnKind) -> Read {
    let kind = match kind {
        ColumnKind::Key => return Read::Text,
        ColumnKind::Numeric => tessera_sources::ColumnKind::Numeric {
            min: None,
            max: None,
        },
        ColumnKind::Binary => tessera_sources::ColumnKind::Binary,
        ColumnKind::Date => tessera_sources::ColumnKind::Date {
            min: None,
            max: None,
        },
        ColumnKind::Categorical => match source.declared_levels(name) {
            Some(levels) => tessera_sources::ColumnKind::Categorical {
                levels: levels.to_vec(),
            },
            None => return Read::Text,
        },
    };
    Read::Typed(ColumnDecl {
        name: name.to_string(),
        label: name.to_string(),
        kind,
    })
}

/// Reads one source, dropping each column that has a problem and reading again, until the
/// rest reads cleanly or the source cannot be read at all.
pub fn check_source(source: &SourceConfig) -> SourceReport {
    let reader = source.reader();
    let mut report = SourceReport {
        name: source.name.clone(),
        place: reader.place(),
        rows: None,
        columns: Vec::new(),
        problems: Vec::new(),
    };
    let mut left: Vec<(String, ColumnKind)> = source.columns.clone();
    // Each round either succeeds or drops a column, so this ends.
    loop {
        let mut texts: Vec<String> = Vec::new();
        let mut typed: Vec<ColumnDecl> = Vec::new();
        for (name, kind) in &left {
            match how(source, name, *kind) {
                Read::Text => texts.push(name.clone()),
                Read::Typed(d) => typed.push(d),
            }
        }
        match tessera_sources::read(&reader, &texts, &typed) {
            Ok(table) => {
                report.rows = Some(table.counts.rows);
                report.columns = left
                    .iter()
                    .map(|(name, kind)| column_report(&table, &texts, &typed, name, *kind))
                    .collect();
                return report;
            }
            Err(e) => {
                let bad = match &e {
                    SourceError::Column { column, .. }
                    | SourceError::Type { column, .. }
                    | SourceError::Value { column, .. } => Some(column.clone()),
                    SourceError::Open { .. } | SourceError::Malformed { .. } => None,
                };
                report.problems.push(message(e, source));
                match bad.and_then(|c| left.iter().position(|(n, _)| *n == c)) {
                    Some(i) => {
                        left.remove(i);
                    }
                    None => return report,
                }
            }
        }
    }
}

/// A source error as the steward reads it: a `categorical` column read as text is not
/// called a key column.
fn message(e: SourceError, source: &SourceConfig) -> String {
    match e {
        SourceError::Column {
            place,
            column,
            key: true,
            why,
        } if source.column(&column) != Some(ColumnKind::Key) => SourceError::Column {
            place,
            column,
            key: false,
            why,
        }
        .to_string(),
        SourceError::Type {
            place,
            column,
            found,
            declared,
        } if declared == "key" && source.column(&column) != Some(ColumnKind::Key) => {
            SourceError::Type {
                place,
                column,
                found,
                declared: "categorical".to_string(),
            }
            .to_string()
        }
        e => e.to_string(),
    }
}

fn column_report(
    table: &tessera_sources::Table,
    texts: &[String],
    typed: &[ColumnDecl],
    name: &str,
    kind: ColumnKind,
) -> ColumnReport {
    let mut report = ColumnReport {
        name: name.to_string(),
        kind,
        missing: 0,
        range: None,
        unchecked: false,
    };
    if let Some(i) = texts.iter().position(|t| t == name) {
        report.unchecked = kind == ColumnKind::Categorical;
        report.missing = table.keys[i].iter().filter(|v| v.is_none()).count();
    } else if let Some(i) = typed.iter().position(|d| d.name == name) {
        let column = &table.frame.columns[i];
        match &column.data {
            PlainData::Numeric(values) => {
                report.missing = values.iter().filter(|v| v.is_none()).count();
                if matches!(kind, ColumnKind::Numeric | ColumnKind::Date) {
                    report.range = values.iter().flatten().fold(None, |r, &x| match r {
                        None => Some((x, x)),
                        Some((lo, hi)) => Some((f64::min(lo, x), f64::max(hi, x))),
                    });
                }
            }
            PlainData::Categorical { codes, .. } => {
                report.missing = codes.iter().filter(|v| v.is_none()).count();
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &std::path::Path, csv: &str) -> SourceConfig {
        let file = dir.join("data.csv");
        std::fs::write(&file, csv).unwrap();
        SourceConfig {
            name: "cases".into(),
            kind: crate::config::SourceKind::Csv {
                file,
                delimiter: b',',
                missing: vec!["".into(), "NA".into()],
            },
            columns: vec![
                ("age".into(), ColumnKind::Numeric),
                ("event".into(), ColumnKind::Binary),
                ("id".into(), ColumnKind::Key),
                ("stage".into(), ColumnKind::Categorical),
                ("weight".into(), ColumnKind::Numeric),
            ],
            keys: Vec::new(),
            levels: vec![("stage".into(), vec!["1".into(), "2".into()])],
            publish: false,
        }
    }

    fn scratch(tag: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("tessera-datacheck-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_good_source_gives_rows_missing_and_ranges() {
        let dir = scratch("good");
        let r = check_source(&source(
            &dir,
            "id,age,event,stage,weight\na,40,1,1,70.5\nb,NA,0,2,\nc,62,1,,81\n",
        ));
        assert!(r.ok(), "{:?}", r.problems);
        assert_eq!(r.rows, Some(3));
        let age = &r.columns[0];
        assert_eq!((age.missing, age.range), (1, Some((40.0, 62.0))));
        assert_eq!(r.columns[3].missing, 1);
        assert_eq!(r.columns[4].range, Some((70.5, 81.0)));
        assert_eq!(r.columns[2].range, None);
    }

    #[test]
    fn dates_are_checked_and_their_range_is_shown_as_dates() {
        let dir = scratch("dates");
        let csv = "id,age,event,stage,weight,diag\na,40,1,1,70.5,2019-03-01\nb,NA,0,2,,\n\
                   c,62,1,,81,2001-12-31\n";
        let mut s = source(&dir, csv);
        s.columns.push(("diag".into(), ColumnKind::Date));
        let r = check_source(&s);
        assert!(r.ok(), "{:?}", r.problems);
        let diag = r.columns.iter().find(|c| c.name == "diag").unwrap();
        assert_eq!(diag.missing, 1);
        assert_eq!(
            diag.range_text(),
            Some(("2001-12-31".to_string(), "2019-03-01".to_string()))
        );
        let bad = csv.replace("2001-12-31", "2001-12-32");
        let mut s = source(&dir, &bad);
        s.columns.push(("diag".into(), ColumnKind::Date));
        let r = check_source(&s);
        let all = r.problems.join("\n");
        assert!(
            all.contains("data.csv:4: column \"diag\": not a date written YYYY-MM-DD"),
            "{all}"
        );
        assert!(!all.contains("2001-12-32"), "{all}");
    }

    #[test]
    fn every_bad_column_is_named_once() {
        let dir = scratch("bad");
        let r = check_source(&source(
            &dir,
            "id,age,event,stage\na,40,1,3\nb,x,0,2\nc,62,2,1\n",
        ));
        assert_eq!(r.problems.len(), 4, "{:?}", r.problems);
        let all = r.problems.join("\n");
        assert!(
            all.contains("column \"weight\" missing from the header"),
            "{all}"
        );
        assert!(
            all.contains("data.csv:3: column \"age\": not a number"),
            "{all}"
        );
        assert!(all.contains("data.csv:4: column \"event\""), "{all}");
        assert!(
            all.contains("data.csv:2: column \"stage\": not one of"),
            "{all}"
        );
        // Never the values.
        assert!(!all.contains("\"x\""), "{all}");
        assert_eq!(r.rows, Some(3));
        assert_eq!(r.columns.len(), 1);
    }
}
