//! A data station's sources: CSV and Parquet files and PostgreSQL queries, read locally at
//! the data's owner and checked against the declared columns before anything is shared.
//!
//! [`read`] takes a [`Source`], the key columns and the declared columns ([`ColumnDecl`]:
//! numeric with an optional range, binary 0/1, categorical with declared levels, dates as
//! days since 1970-01-01) and returns
//! a [`Table`]: the key strings for the linkage, a [`PlainFrame`] of the declared columns,
//! and counts for the owner's eyes (rows, missing values per column). One implementation of
//! the typed values serves every source (`value.rs`), so a column means the same whether it
//! comes from a file or a database.
//!
//! Checks, in order: every key and declared column is present exactly once; for typed
//! sources (Parquet, PostgreSQL) each column's type fits its declaration (a text column
//! declared numeric is refused naming the column and both types) before any row is read;
//! then every value fits its declared type and range. Errors name the place (`file:LINE`,
//! `file: row N`, `query result row N`) and the column, never a value: values are patient
//! data.
//!
//! Sources are only read: files are opened read-only, and a query runs in a `READ ONLY`
//! transaction that is rolled back.
//!
//! LEAKAGE: none; this crate opens nothing and sends nothing but the query to the owner's
//! own database. The counts in [`Counts`] are for the owner only.

use std::path::PathBuf;

use tessera_stats::PlainFrame;

mod csv;
pub mod error;
mod parquet;
mod postgres;
mod value;

pub use error::{Result, SourceError};
pub use postgres::PgTls;
pub use value::{date_text, parse_date};

/// Where a data station's table comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A CSV file with a header line.
    Csv {
        /// The file (opened read-only).
        file: PathBuf,
        /// Field delimiter (one ASCII byte).
        delimiter: u8,
        /// Values read as missing (compared as written and after trimming spaces).
        missing: Vec<String>,
    },
    /// A Parquet file: flat columns of booleans, integers, floats, decimals or UTF-8
    /// strings; uncompressed or Snappy-compressed pages.
    Parquet {
        /// The file (opened read-only).
        file: PathBuf,
    },
    /// A query on a PostgreSQL server, written by the steward.
    Postgres {
        /// Connection settings as a `postgresql://user:password@host:port/dbname` URL or a
        /// `host=… user=…` string (never printed: it may hold a password).
        url: String,
        /// One SQL statement whose result has the key and declared columns by name; run in
        /// a read-only transaction.
        query: String,
        /// TLS to the server; `None` connects without TLS.
        tls: Option<PgTls>,
    },
}

impl Source {
    /// How messages name the source: the file, or `PostgreSQL`.
    pub fn place(&self) -> String {
        match self {
            Source::Csv { file, .. } | Source::Parquet { file } => file.display().to_string(),
            Source::Postgres { .. } => "PostgreSQL".to_string(),
        }
    }
}

/// The declared type of a column.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnKind {
    /// Real values, optionally range-checked before sharing.
    Numeric {
        /// Smallest allowed value.
        min: Option<f64>,
        /// Largest allowed value.
        max: Option<f64>,
    },
    /// 0 or 1 (booleans are read as 0 and 1).
    Binary,
    /// One of the levels, compared as text after trimming spaces (integers are written in
    /// decimal first).
    Categorical {
        /// The levels, in the study's order.
        levels: Vec<String>,
    },
    /// A calendar date (CSV and text `YYYY-MM-DD`, Parquet `DATE`, PostgreSQL `date`), read
    /// as whole days since 1970-01-01 (negative before): the number it is shared as, so
    /// that differences of dates are days. Optionally range-checked (bounds in days too).
    Date {
        /// Earliest allowed date, in days since 1970-01-01.
        min: Option<i64>,
        /// Latest allowed date, in days since 1970-01-01.
        max: Option<i64>,
    },
}

impl ColumnKind {
    /// `numeric`, `binary`, `categorical` or `date`.
    pub fn name(&self) -> &'static str {
        match self {
            ColumnKind::Numeric { .. } => "numeric",
            ColumnKind::Binary => "binary",
            ColumnKind::Categorical { .. } => "categorical",
            ColumnKind::Date { .. } => "date",
        }
    }
}

/// A column to read.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnDecl {
    /// Its name in the source (CSV header, Parquet field, query result column).
    pub name: String,
    /// Its name in the returned frame (e.g. `party.column`).
    pub label: String,
    /// Its declared type.
    pub kind: ColumnKind,
}

/// A source as read.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// One vector per key column (in the order asked), one entry per row; `None` where
    /// missing. Text is as in the source; integers are written in decimal.
    pub keys: Vec<Vec<Option<String>>>,
    /// The declared columns, in the order asked, named by their labels.
    pub frame: PlainFrame,
    /// Counts for the owner.
    pub counts: Counts,
}

/// Data-quality counts: for the owner's eyes only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Rows read.
    pub rows: usize,
    /// Missing values per declared column (source names, in the order asked).
    pub missing: Vec<(String, usize)>,
}

/// Reads `source`: the `key_columns` as text and the declared `columns` parsed and checked.
/// Fails on the first problem, naming the place and column (see [`SourceError`]).
pub fn read(source: &Source, key_columns: &[String], columns: &[ColumnDecl]) -> Result<Table> {
    match source {
        Source::Csv {
            file,
            delimiter,
            missing,
        } => csv::read(file, *delimiter, missing, key_columns, columns),
        Source::Parquet { file } => parquet::read(file, key_columns, columns),
        Source::Postgres { url, query, tls } => {
            postgres::read(url, query, tls.as_ref(), key_columns, columns)
        }
    }
}

/// Assembles the table from the finished parts (all columns have `rows` entries).
fn table(
    keys: Vec<Vec<Option<String>>>,
    builders: Vec<value::Builder>,
    columns: &[ColumnDecl],
    rows: usize,
    place: &str,
) -> Result<Table> {
    let missing = columns
        .iter()
        .zip(&builders)
        .map(|(c, b)| (c.name.clone(), b.missing))
        .collect();
    let cols = builders
        .into_iter()
        .zip(columns)
        .map(|(b, c)| b.finish(c))
        .collect();
    let mut frame = PlainFrame::new(cols).map_err(|e| error::malformed(place, e.to_string()))?;
    // With no declared columns the frame still has the source's rows.
    frame.rows = rows;
    Ok(Table {
        keys,
        frame,
        counts: Counts { rows, missing },
    })
}

/// Where each key column and declared column is among the source's `names`: each must
/// appear exactly once (names compared after trimming spaces).
fn positions<'a>(
    names: impl IntoIterator<Item = &'a str>,
    place: &str,
    missing_from: &str,
    key_columns: &[String],
    columns: &[ColumnDecl],
) -> Result<(Vec<usize>, Vec<usize>)> {
    let mut index: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for (i, h) in names.into_iter().enumerate() {
        index.entry(h.trim()).or_default().push(i);
    }
    let find = |name: &str, key: bool| match index.get(name).map(Vec::as_slice) {
        Some([i]) => Ok(*i),
        found => Err(SourceError::Column {
            place: place.to_string(),
            column: name.to_string(),
            key,
            why: if found.is_some() {
                format!("appears more than once in the {missing_from}")
            } else {
                format!("missing from the {missing_from}")
            },
        }),
    };
    let keys = key_columns
        .iter()
        .map(|k| find(k, true))
        .collect::<Result<_>>()?;
    let cols = columns
        .iter()
        .map(|c| find(&c.name, false))
        .collect::<Result<_>>()?;
    Ok((keys, cols))
}

/// Every named column of a typed source with its position and, for a declared column, its
/// declaration (`None` for a key column): what the type checks of Parquet and PostgreSQL
/// walk before any row is read.
fn typed<'a>(
    key_at: &'a [usize],
    key_columns: &'a [String],
    col_at: &'a [usize],
    columns: &'a [ColumnDecl],
) -> impl Iterator<Item = (usize, &'a String, Option<&'a ColumnKind>)> {
    key_at
        .iter()
        .zip(key_columns)
        .map(|(&i, n)| (i, n, None))
        .chain(
            col_at
                .iter()
                .zip(columns)
                .map(|(&i, c)| (i, &c.name, Some(&c.kind))),
        )
}
