//! Reading a data party's dataset (CSV) as the study declares it. This runs locally at the
//! owner, before anything is shared: the file is only read, every value is parsed by its
//! declared type and range, and errors name the file, line and column but never the value
//! (it is patient data).

use std::collections::HashMap;

use serde::Serialize;
use tessera_stats::{PlainColumn, PlainData, PlainFrame};

use crate::error::{Result, StudyError};
use crate::format::{ColumnType, DataSpec};

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

/// Reads the dataset of `spec`. Fails, naming the file and line and the column, on a
/// missing header or column, a value that does not fit its declared type or range, or a
/// malformed CSV file.
pub fn load(spec: &DataSpec) -> Result<DataTable> {
    let file = spec.file.display().to_string();
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(spec.delimiter)
        .has_headers(true)
        .flexible(false)
        .from_path(&spec.file)
        .map_err(|e| StudyError::Data(format!("{file}: cannot read: {}", csv_error(&e))))?;
    let header = rdr
        .headers()
        .map_err(|e| StudyError::Data(format!("{file}:1: header: {}", csv_error(&e))))?
        .clone();
    if header.is_empty() || header.iter().all(|h| h.trim().is_empty()) {
        return Err(StudyError::Data(format!("{file}:1: no header line")));
    }
    let mut index: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        index.entry(h.trim()).or_default().push(i);
    }
    let find = |name: &str, what: &str| -> Result<usize> {
        match index.get(name).map(Vec::as_slice) {
            Some([i]) => Ok(*i),
            Some(_) => Err(StudyError::Data(format!(
                "{file}:1: {what} \"{name}\" appears more than once in the header"
            ))),
            None => Err(StudyError::Data(format!(
                "{file}:1: no {what} \"{name}\" in the header (data.{}.{})",
                spec.party,
                if what == "key column" {
                    "key"
                } else {
                    "columns"
                }
            ))),
        }
    };
    let key_at: Vec<usize> = spec
        .key
        .iter()
        .map(|k| find(k, "key column"))
        .collect::<Result<_>>()?;
    let col_at: Vec<usize> = spec
        .columns
        .iter()
        .map(|c| find(&c.name, "column"))
        .collect::<Result<_>>()?;

    let mut keys: Vec<Vec<Option<String>>> = vec![Vec::new(); spec.key.len()];
    let mut values: Vec<Vec<Option<f64>>> = vec![Vec::new(); spec.columns.len()];
    let mut codes: Vec<Vec<Option<usize>>> = vec![Vec::new(); spec.columns.len()];
    let mut missing = vec![0usize; spec.columns.len()];
    let is_missing = |v: &str| spec.missing.iter().any(|m| m == v || m == v.trim());
    let mut rec = csv::StringRecord::new();
    let mut rows = 0;
    loop {
        let more = rdr.read_record(&mut rec).map_err(|e| {
            let line = e
                .position()
                .map_or(String::new(), |p| format!(":{}", p.line()));
            StudyError::Data(format!("{file}{line}: {}", csv_error(&e)))
        })?;
        if !more {
            break;
        }
        rows += 1;
        let line = rec.position().map_or(rows + 1, |p| p.line() as usize);
        for (k, &i) in key_at.iter().enumerate() {
            let v = &rec[i];
            keys[k].push((!is_missing(v)).then(|| v.to_string()));
        }
        for (j, (c, &i)) in spec.columns.iter().zip(&col_at).enumerate() {
            let raw = &rec[i];
            let bad = |why: &str| {
                StudyError::Data(format!("{file}:{line}: column \"{}\": {why}", c.name))
            };
            if is_missing(raw) {
                missing[j] += 1;
                values[j].push(None);
                codes[j].push(None);
                continue;
            }
            let v = raw.trim();
            match &c.kind {
                ColumnType::Numeric { min, max } => {
                    let x: f64 = v
                        .parse()
                        .ok()
                        .filter(|x: &f64| x.is_finite())
                        .ok_or_else(|| bad("not a number"))?;
                    if min.is_some_and(|m| x < m) {
                        return Err(bad(&format!(
                            "below the declared min {}",
                            min.unwrap_or(0.0)
                        )));
                    }
                    if max.is_some_and(|m| x > m) {
                        return Err(bad(&format!(
                            "above the declared max {}",
                            max.unwrap_or(0.0)
                        )));
                    }
                    values[j].push(Some(x));
                }
                ColumnType::Binary => {
                    let x: f64 = v.parse().map_err(|_| bad("not a number"))?;
                    if x != 0.0 && x != 1.0 {
                        return Err(bad("not 0 or 1 (the column is declared binary)"));
                    }
                    values[j].push(Some(x));
                }
                ColumnType::Categorical { levels } => {
                    let code = levels
                        .iter()
                        .position(|l| l == v)
                        .ok_or_else(|| bad("not one of the declared levels"))?;
                    codes[j].push(Some(code));
                }
            }
        }
    }
    let columns = spec
        .columns
        .iter()
        .zip(values.into_iter().zip(codes))
        .map(|(c, (v, k))| PlainColumn {
            name: format!("{}.{}", spec.party, c.name),
            data: match &c.kind {
                ColumnType::Categorical { levels } => PlainData::Categorical {
                    levels: levels.clone(),
                    codes: k,
                },
                _ => PlainData::Numeric(v),
            },
        })
        .collect();
    let frame = PlainFrame::new(columns).map_err(|e| StudyError::Data(format!("{file}: {e}")))?;
    Ok(DataTable {
        party: spec.party.clone(),
        keys,
        frame,
        report: DataReport {
            party: spec.party.clone(),
            file: spec.file_name.clone(),
            rows,
            missing: spec
                .columns
                .iter()
                .map(|c| c.name.clone())
                .zip(missing)
                .collect(),
        },
    })
}

/// A CSV error in words that never include field contents.
fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        csv::ErrorKind::Utf8 { err, .. } => {
            format!("field {} is not valid UTF-8", err.field() + 1)
        }
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        _ => "malformed CSV".to_string(),
    }
}
