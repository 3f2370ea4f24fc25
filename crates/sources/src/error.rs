//! Errors of the data sources. Every message names the place (file and line, Parquet row,
//! query result row) and the column, and never a data value: the values are patient data,
//! and the messages go to logs and to the steward's screen.

use thiserror::Error;

/// Why a source could not be read, or does not fit the declared columns.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// The source cannot be opened or reached (missing file, refused connection, bad URL,
    /// TLS failure). `place` is the file or `PostgreSQL`.
    #[error("{place}: {why}")]
    Open {
        /// The file or `PostgreSQL`.
        place: String,
        /// What went wrong.
        why: String,
    },
    /// A key or declared column is absent from the source (`key` tells which list named
    /// it), or appears more than once.
    #[error("{place}: {} \"{column}\" {why}", if *.key { "key column" } else { "column" })]
    Column {
        /// `file:1` (CSV header), the Parquet file, or `query result`.
        place: String,
        /// The column's name in the source.
        column: String,
        /// Whether the caller named it as a key column.
        key: bool,
        /// `missing from …` or `appears more than once …`.
        why: String,
    },
    /// A column's type in the source (Parquet schema, query result) does not fit its
    /// declaration: `column "age" has type text, declared numeric`.
    #[error("{place}: column \"{column}\" has type {found}, declared {declared}")]
    Type {
        /// The Parquet file or `query result`.
        place: String,
        /// The column's name in the source.
        column: String,
        /// The source's type.
        found: String,
        /// The declared type (`numeric`, `binary`, `categorical`, `key`).
        declared: String,
    },
    /// A value does not fit its declared type or range (`file:57: column "age": not a
    /// number`, `file: row 3 column "age": below the declared min 0`).
    #[error("{place}: column \"{column}\": {why}")]
    Value {
        /// `file:LINE` (CSV), `file: row N` (Parquet), `query result row N` (PostgreSQL).
        place: String,
        /// The column's name in the source.
        column: String,
        /// What is wrong, without the value.
        why: String,
    },
    /// The source is malformed: a CSV row with the wrong number of fields, invalid UTF-8, a
    /// damaged Parquet file, a query the server refused.
    #[error("{place}: {why}")]
    Malformed {
        /// `file:LINE`, the Parquet file, or `query`.
        place: String,
        /// What is wrong, without field contents.
        why: String,
    },
}

/// Result of the data sources.
pub type Result<T> = std::result::Result<T, SourceError>;

pub(crate) fn open(place: impl Into<String>, why: impl Into<String>) -> SourceError {
    SourceError::Open {
        place: place.into(),
        why: why.into(),
    }
}

pub(crate) fn malformed(place: impl Into<String>, why: impl Into<String>) -> SourceError {
    SourceError::Malformed {
        place: place.into(),
        why: why.into(),
    }
}
