//! CSV files: a header line, then one row per record. Every field of a declared column is
//! parsed as text by its declared type; a row with the wrong number of fields, invalid
//! UTF-8 or a value that does not fit is reported as `file:LINE: …` with the column.

use std::path::Path;

use crate::error::{malformed, open, Result, SourceError};
use crate::value::{self, Builder, Cell};
use crate::{positions, table, ColumnDecl, Table};

/// Reads a CSV file (see [`crate::Source::Csv`]).
pub(crate) fn read(
    path: &Path,
    delimiter: u8,
    missing: &[String],
    key_columns: &[String],
    columns: &[ColumnDecl],
) -> Result<Table> {
    let file = path.display().to_string();
    let handle = std::fs::File::open(path).map_err(|e| open(&file, format!("cannot read: {e}")))?;
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(std::io::BufReader::new(handle));
    let header = rdr
        .headers()
        .map_err(|e| malformed(format!("{file}:1"), format!("header: {}", csv_error(&e))))?
        .clone();
    if header.is_empty() || header.iter().all(|h| h.trim().is_empty()) {
        return Err(malformed(format!("{file}:1"), "no header line"));
    }
    let (key_at, col_at) = positions(
        header.iter(),
        &format!("{file}:1"),
        "header",
        key_columns,
        columns,
    )?;

    let mut keys: Vec<Vec<Option<String>>> = vec![Vec::new(); key_columns.len()];
    let mut builders: Vec<Builder> = columns.iter().map(|c| Builder::new(&c.kind)).collect();
    let mut rec = csv::StringRecord::new();
    let mut rows = 0;
    loop {
        let more = rdr.read_record(&mut rec).map_err(|e| {
            let line = e
                .position()
                .map_or(String::new(), |p| format!(":{}", line_at(path, p)));
            malformed(format!("{file}{line}"), csv_error(&e))
        })?;
        if !more {
            break;
        }
        rows += 1;
        // The line is worked out only for a message (it needs the file read up to the row).
        let position = rec.position().cloned();
        let bad = |name: &str, why: String| SourceError::Value {
            place: format!(
                "{file}:{}",
                position
                    .as_ref()
                    .map_or(rows as u64 + 1, |p| line_at(path, p))
            ),
            column: name.to_string(),
            why,
        };
        for ((k, &i), name) in keys.iter_mut().zip(&key_at).zip(key_columns) {
            k.push(value::key(cell(&rec[i], missing)).map_err(|w| bad(name, w))?);
        }
        for ((b, &i), c) in builders.iter_mut().zip(&col_at).zip(columns) {
            b.push(cell(&rec[i], missing))
                .map_err(|w| bad(&c.name, w))?;
        }
    }
    table(keys, builders, columns, rows, &file)
}

/// The line (from 1) on which the record at `p` starts, counting `\n`, `\r\n` and a lone
/// `\r` each as one line end. The csv reader's own count is one too low after `\r\n` line
/// ends (and does not count lone `\r`), so the file is read again up to the record; this
/// happens only for an error message.
fn line_at(path: &Path, p: &csv::Position) -> u64 {
    use std::io::Read;
    let Ok(f) = std::fs::File::open(path) else {
        return p.line();
    };
    let mut lines = 1u64;
    let mut after_cr = false;
    let mut buf = [0u8; 64 << 10];
    let mut left = p.byte();
    let mut r = std::io::BufReader::new(f);
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match r.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            match b {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => lines += 1,
                _ => {}
            }
            after_cr = b == b'\r';
        }
        left -= n as u64;
    }
    lines
}

/// A field as a cell: missing when it is one of the `missing` tokens, as written or
/// trimmed.
fn cell<'a>(v: &'a str, missing: &[String]) -> Cell<'a> {
    if missing.iter().any(|m| m == v || m == v.trim()) {
        Cell::Missing
    } else {
        Cell::Text(v)
    }
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
