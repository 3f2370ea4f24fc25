//! Parquet files, through the parquet crate's record API (no arrow). Only flat columns are
//! read: booleans, integers (signed or unsigned), floats, decimals, UTF-8 strings
//! (`STRING`, `ENUM`, `JSON`), and dates (as key columns, written `YYYY-MM-DD`). The schema is checked against the declarations before any
//! row is read (`file: column "age" has type BYTE_ARRAY (STRING), declared numeric`); a value
//! that does not fit is reported as `file: row N column "age": …` (rows counted from 1).
//! Pages may be uncompressed or Snappy-compressed (the only codec compiled in, to keep the
//! build light); other codecs are refused with the parquet crate's message.

use std::path::Path;

use parquet::basic::{ConvertedType, LogicalType, Repetition, Type as Physical};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use parquet::schema::types::Type;

use crate::error::{malformed, open, Result, SourceError};
use crate::value::{self, accepts, Builder, Cell, SourceType};
use crate::{positions, table, typed, ColumnDecl, Table};

/// Reads a Parquet file (see [`crate::Source::Parquet`]).
pub(crate) fn read(path: &Path, key_columns: &[String], columns: &[ColumnDecl]) -> Result<Table> {
    let file = path.display().to_string();
    let handle = std::fs::File::open(path).map_err(|e| open(&file, format!("cannot read: {e}")))?;
    let reader = SerializedFileReader::new(handle)
        .map_err(|e| malformed(&file, format!("not a readable Parquet file: {e}")))?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let fields = schema.root_schema().get_fields();
    let (key_at, col_at) = positions(
        fields.iter().map(|f| f.name()),
        &file,
        "Parquet schema",
        key_columns,
        columns,
    )?;

    // Types first: every named column must be flat and of a type its declaration accepts.
    for (i, name, kind) in typed(&key_at, key_columns, &col_at, columns) {
        let found = classify(&fields[i]);
        if !found.as_ref().is_ok_and(|t| accepts(kind, t)) {
            return Err(SourceError::Type {
                place: file.clone(),
                column: name.clone(),
                found: describe(&fields[i]),
                declared: kind.map_or("a key (text or integer)", |k| k.name()).into(),
            });
        }
    }

    // The projection: each needed field once, in file order; rows give them in that order.
    let mut needed: Vec<usize> = key_at.iter().chain(&col_at).copied().collect();
    needed.sort_unstable();
    needed.dedup();
    let slot = |i: usize| needed.binary_search(&i).unwrap_or(0);
    let projection = Type::group_type_builder(schema.root_schema().name())
        .with_fields(needed.iter().map(|&i| fields[i].clone()).collect())
        .build()
        .map_err(|e| malformed(&file, e.to_string()))?;
    let rows_iter = reader
        .get_row_iter(Some(projection))
        .map_err(|e| malformed(&file, e.to_string()))?;

    let mut keys: Vec<Vec<Option<String>>> = vec![Vec::new(); key_columns.len()];
    let mut builders: Vec<Builder> = columns.iter().map(|c| Builder::new(&c.kind)).collect();
    let mut rows = 0;
    for row in rows_iter {
        rows += 1;
        let row = row.map_err(|e| malformed(format!("{file}: row {rows}"), e.to_string()))?;
        let values: Vec<&Field> = row.get_column_iter().map(|(_, f)| f).collect();
        if values.len() != needed.len() {
            return Err(malformed(
                format!("{file}: row {rows}"),
                "the row does not have the projected columns",
            ));
        }
        let bad = |name: &str, why: String| SourceError::Value {
            place: format!("{file}: row {rows}"),
            column: name.to_string(),
            why,
        };
        for ((k, &i), name) in keys.iter_mut().zip(&key_at).zip(key_columns) {
            let v = cell(values[slot(i)]).and_then(value::key);
            k.push(v.map_err(|w| bad(name, w))?);
        }
        for ((b, &i), c) in builders.iter_mut().zip(&col_at).zip(columns) {
            let v = cell(values[slot(i)]).and_then(|v| b.push(v));
            v.map_err(|w| bad(&c.name, w))?;
        }
    }
    table(keys, builders, columns, rows, &file)
}

/// What a top-level field holds, or `Err` for a type no declaration accepts (nested,
/// repeated, times and timestamps, raw bytes).
fn classify(t: &Type) -> std::result::Result<SourceType, ()> {
    if !t.is_primitive() || t.get_basic_info().repetition() == Repetition::REPEATED {
        return Err(());
    }
    let info = t.get_basic_info();
    let physical = t.get_physical_type();
    match info.logical_type_ref() {
        Some(LogicalType::String | LogicalType::Enum | LogicalType::Json) => {
            return Ok(SourceType::Text)
        }
        Some(LogicalType::Decimal { .. } | LogicalType::Float16) => return Ok(SourceType::Number),
        Some(LogicalType::Integer { .. }) => return Ok(SourceType::Integer),
        Some(LogicalType::Date) if physical == Physical::INT32 => return Ok(SourceType::Date),
        Some(_) => return Err(()),
        None => {}
    }
    match info.converted_type() {
        ConvertedType::UTF8 | ConvertedType::ENUM | ConvertedType::JSON => Ok(SourceType::Text),
        ConvertedType::DECIMAL => Ok(SourceType::Number),
        ConvertedType::DATE if physical == Physical::INT32 => Ok(SourceType::Date),
        ConvertedType::INT_8
        | ConvertedType::INT_16
        | ConvertedType::INT_32
        | ConvertedType::INT_64
        | ConvertedType::UINT_8
        | ConvertedType::UINT_16
        | ConvertedType::UINT_32
        | ConvertedType::UINT_64 => Ok(SourceType::Integer),
        ConvertedType::NONE => match physical {
            Physical::BOOLEAN => Ok(SourceType::Bool),
            Physical::INT32 | Physical::INT64 => Ok(SourceType::Integer),
            Physical::FLOAT | Physical::DOUBLE => Ok(SourceType::Number),
            _ => Err(()),
        },
        _ => Err(()),
    }
}

/// A field's type in words for messages: `INT64`, `BYTE_ARRAY (STRING)`, `a group`.
fn describe(t: &Type) -> String {
    if !t.is_primitive() {
        return "a group (nested columns are not read)".into();
    }
    let info = t.get_basic_info();
    let mut s = format!("{:?}", t.get_physical_type());
    if let Some(l) = info.logical_type_ref() {
        let name = format!("{l:?}");
        let name = name.split([' ', '{', '(']).next().unwrap_or("");
        s = format!("{s} ({})", name.to_uppercase());
    } else if info.converted_type() != ConvertedType::NONE {
        s = format!("{s} ({})", info.converted_type());
    }
    if info.repetition() == Repetition::REPEATED {
        s = format!("repeated {s}");
    }
    s
}

/// A record-API value as a cell.
fn cell(f: &Field) -> std::result::Result<Cell<'_>, String> {
    Ok(match f {
        Field::Null => Cell::Missing,
        Field::Bool(b) => Cell::Bool(*b),
        Field::Byte(v) => Cell::Integer((*v).into()),
        Field::Short(v) => Cell::Integer((*v).into()),
        Field::Int(v) => Cell::Integer((*v).into()),
        Field::Long(v) => Cell::Integer(*v),
        Field::UByte(v) => Cell::Integer((*v).into()),
        Field::UShort(v) => Cell::Integer((*v).into()),
        Field::UInt(v) => Cell::Integer((*v).into()),
        Field::ULong(v) => Cell::Integer(
            i64::try_from(*v).map_err(|_| "an unsigned integer beyond 2^63".to_string())?,
        ),
        Field::Float16(v) => Cell::Number(v.to_f64()),
        // The shortest decimal that reads back as the same f32 (30.9, not 30.899999618…).
        Field::Float(v) => Cell::Number(v.to_string().parse().unwrap_or(f64::NAN)),
        Field::Double(v) => Cell::Number(*v),
        Field::Decimal(d) => Cell::Number(decimal(d.data(), d.scale())?),
        Field::Str(s) => Cell::Text(s),
        Field::Date(days) => Cell::Date((*days).into()),
        _ => return Err("a value of an unsupported type".into()),
    })
}

/// A decimal's unscaled big-endian two's-complement bytes and scale as the nearest f64.
fn decimal(bytes: &[u8], scale: i32) -> std::result::Result<f64, String> {
    if bytes.is_empty() || bytes.len() > 16 {
        return Err("a decimal wider than 128 bits".into());
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0 };
    let mut full = [fill; 16];
    full[16 - bytes.len()..].copy_from_slice(bytes);
    let unscaled = i128::from_be_bytes(full);
    format!("{unscaled}e{}", -i64::from(scale))
        .parse()
        .map_err(|_| "a decimal that is not a number".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimals() {
        assert_eq!(super::decimal(&309i32.to_be_bytes(), 1), Ok(30.9));
        assert_eq!(super::decimal(&(-5i64).to_be_bytes(), 2), Ok(-0.05));
        assert_eq!(super::decimal(&[0xff, 0x38], 0), Ok(-200.0));
        assert!(super::decimal(&[1; 17], 0).is_err());
    }
}
