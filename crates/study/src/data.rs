//! Reading a data party's dataset (CSV) as the study declares it. This runs locally at the
//! owner, before anything is shared: the file is only read, every value is parsed by its
//! declared type and range, and errors name the file, line and column but never the value
//! (it is patient data).

use serde::Serialize;
use tessera_sources::{ColumnDecl, Source, SourceError};
use tessera_stats::PlainFrame;

use crate::error::{Result, StudyError};
use crate::format::DataSpec;

/// A dataset as read: the linkage key strings and the declared columns.
#[derive(Clone, Debug, PartialEq)]
pub struct DataTable {
    /// The owning party.
    pub party: String,
    /// One vector per key column (in `[linkage].key` order), one entry per row; `None`
    /// where the value is missing (for `tessera_link::keys::RawTable::keys`).
    pub keys: Vec<Vec<Option<String>>>,
    /// The declared columns, named `party.column`.
    pub frame: PlainFrame,
    /// Counts for the owner.
    pub report: DataReport,
}

/// Data-quality counts of a dataset: for its owner's eyes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DataReport {
    /// The owning party.
    pub party: String,
    /// The file as the study names it.
    pub file: String,
    /// Data rows read.
    pub rows: usize,
    /// Missing values per declared column (in declaration order).
    pub missing: Vec<(String, usize)>,
}

/// Reads the dataset of `spec` through [`tessera_sources`] (one implementation of typed
/// values for every source). Fails, naming the file and line and the column, on a missing
/// header or column, a value that does not fit its declared type or range, or a malformed
/// CSV file.
pub fn load(spec: &DataSpec) -> Result<DataTable> {
    load_from(spec, &csv_source(spec))
}

/// The CSV file a study names for `spec`, with its delimiter and missing-value tokens.
pub fn csv_source(spec: &DataSpec) -> Source {
    Source::Csv {
        file: spec.file.clone(),
        delimiter: spec.delimiter,
        missing: spec.missing.clone(),
    }
}

/// Reads the dataset of `spec` from `source` (a station's configured CSV or Parquet file or
/// PostgreSQL query) with the study's declared key and columns; errors as for [`load`].
pub fn load_from(spec: &DataSpec, source: &Source) -> Result<DataTable> {
    let columns: Vec<ColumnDecl> = spec
        .columns
        .iter()
        .map(|c| ColumnDecl {
            name: c.name.clone(),
            label: format!("{}.{}", spec.party, c.name),
            kind: c.kind.clone(),
        })
        .collect();
    let table = tessera_sources::read(source, &spec.key, &columns).map_err(|e| match e {
        // Point the steward at the study's field naming the column.
        SourceError::Column {
            place,
            column,
            key,
            why,
        } if why.starts_with("missing") => StudyError::Data(format!(
            "{place}: no {} \"{column}\" in the header (data.{}.{})",
            if key { "key column" } else { "column" },
            spec.party,
            if key { "key" } else { "columns" }
        )),
        e => StudyError::Data(e.to_string()),
    })?;
    Ok(DataTable {
        party: spec.party.clone(),
        keys: table.keys,
        frame: table.frame,
        report: DataReport {
            party: spec.party.clone(),
            file: spec.file_name.clone(),
            rows: table.counts.rows,
            missing: table.counts.missing,
        },
    })
}
