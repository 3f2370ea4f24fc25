//! The study's public life tables, read by the station that writes the relative survival
//! paths (the one holding age, diagnosis date and sex), and the paths it writes.
//!
//! A life table is public, but which one was used decides every relative survival figure:
//! the study pins its bytes by SHA-256 (`[life_tables.NAME] sha256`), and the reader refuses
//! a file whose digest differs, naming both digests, before anything is shared.

use std::collections::HashMap;

use tessera_stats::relsurv::LifeTable;
use tessera_stats::{PlainColumn, PlainFrame};

use crate::error::{Result, StudyError};
use crate::format::{LifeTableSpec, Study};

/// The largest life table file read (bytes): a table of 151 ages, two sexes and 500
/// years is about 4 MB as CSV.
pub const MAX_BYTES: u64 = 16 << 20;

/// SHA-256 of `bytes` in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads `spec`'s file, checks its digest against the study's pin and parses it. Errors
/// name the table, the file and, for a wrong file, both digests.
pub fn load(spec: &LifeTableSpec) -> Result<LifeTable> {
    let place = format!("[life_tables.{}] ({})", spec.name, spec.file.display());
    let size = std::fs::metadata(&spec.file)
        .map_err(|e| StudyError::Data(format!("{place}: cannot read the life table: {e}")))?
        .len();
    if size > MAX_BYTES {
        return Err(StudyError::Data(format!(
            "{place}: {size} bytes, more than a life table's {MAX_BYTES}"
        )));
    }
    let bytes = std::fs::read(&spec.file)
        .map_err(|e| StudyError::Data(format!("{place}: cannot read the life table: {e}")))?;
    let got = sha256_hex(&bytes);
    if got != spec.sha256 {
        return Err(StudyError::Data(format!(
            "{place}: the file's SHA-256 is {got}, the study pins {}: not the life table the \
             study names (a different version or edition?)",
            spec.sha256
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| StudyError::Data(format!("{place}: not UTF-8 text")))?;
    LifeTable::from_csv(&text, &spec.file.display().to_string())
        .map_err(|e| StudyError::Data(format!("{place}: {e}")))
}

/// At data party `party`, owning `frame`: the frame with the relative survival paths it
/// writes appended ([`Study::paths_of`]), each life table read once. A frame without paths
/// to write is returned as it is.
pub fn with_paths(study: &Study, party: &str, frame: &PlainFrame) -> Result<PlainFrame> {
    let specs = study.paths_of(party);
    if specs.is_empty() {
        return Ok(frame.clone());
    }
    let mut tables: HashMap<&str, LifeTable> = HashMap::new();
    let mut columns: Vec<PlainColumn> = frame.columns.clone();
    for s in specs {
        if !tables.contains_key(s.life_table.as_str()) {
            let spec = study.life_table(&s.life_table).ok_or_else(|| {
                StudyError::Invalid(format!("no [life_tables.{}] in the study", s.life_table))
            })?;
            tables.insert(&s.life_table, load(spec)?);
        }
        let table = &tables[s.life_table.as_str()];
        columns.extend(
            s.path_columns(frame, table)
                .map_err(|e| StudyError::Data(format!("data of {party}: {e}")))?,
        );
    }
    PlainFrame::new(columns).map_err(|e| StudyError::Data(format!("data of {party}: {e}")))
}
