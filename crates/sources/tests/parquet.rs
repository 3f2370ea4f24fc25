//! The Parquet source, on files written at test time with the parquet crate's writer:
//! gp.csv as Parquet reads as the same table; types checked before rows; values checked with
//! the row number.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use parquet::basic::Compression;
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DoubleType, FloatType, Int32Type, Int64Type,
};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use tessera_sources::{read, ColumnKind, Source, SourceError, Table};

/// One column's values (None = null).
enum Col {
    Str(Vec<Option<String>>),
    I32(Vec<Option<i32>>),
    I64(Vec<Option<i64>>),
    F32(Vec<Option<f32>>),
    F64(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
}

impl Col {
    fn len(&self) -> usize {
        match self {
            Col::Str(v) => v.len(),
            Col::I32(v) => v.len(),
            Col::I64(v) => v.len(),
            Col::F32(v) => v.len(),
            Col::F64(v) => v.len(),
            Col::Bool(v) => v.len(),
        }
    }
}

/// Present values and definition levels of rows `r`.
fn split<T: Clone>(v: &[Option<T>], r: std::ops::Range<usize>) -> (Vec<T>, Vec<i16>) {
    let v = &v[r];
    (
        v.iter().flatten().cloned().collect(),
        v.iter().map(|x| i16::from(x.is_some())).collect(),
    )
}

/// Writes `cols` (all OPTIONAL in `schema`, in its order) to a Snappy-compressed Parquet
/// file, starting a new row group every `group` rows.
fn write(name: &str, schema: &str, cols: &[Col], group: usize) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-sources-pq-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let path = d.join(name);
    let schema = Arc::new(parse_message_type(schema).unwrap());
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let mut w =
        SerializedFileWriter::new(std::fs::File::create(&path).unwrap(), schema, props).unwrap();
    let n = cols[0].len();
    let mut start = 0;
    while start < n {
        let r = start..(start + group).min(n);
        let mut rg = w.next_row_group().unwrap();
        for c in cols {
            let mut cw = rg.next_column().unwrap().unwrap();
            match c {
                Col::Str(v) => {
                    let (x, d) = split(v, r.clone());
                    let x: Vec<ByteArray> = x.iter().map(|s| ByteArray::from(s.as_str())).collect();
                    cw.typed::<ByteArrayType>().write_batch(&x, Some(&d), None)
                }
                Col::I32(v) => {
                    let (x, d) = split(v, r.clone());
                    cw.typed::<Int32Type>().write_batch(&x, Some(&d), None)
                }
                Col::I64(v) => {
                    let (x, d) = split(v, r.clone());
                    cw.typed::<Int64Type>().write_batch(&x, Some(&d), None)
                }
                Col::F32(v) => {
                    let (x, d) = split(v, r.clone());
                    cw.typed::<FloatType>().write_batch(&x, Some(&d), None)
                }
                Col::F64(v) => {
                    let (x, d) = split(v, r.clone());
                    cw.typed::<DoubleType>().write_batch(&x, Some(&d), None)
                }
                Col::Bool(v) => {
                    let (x, d) = split(v, r.clone());
                    cw.typed::<BoolType>().write_batch(&x, Some(&d), None)
                }
            }
            .unwrap();
            cw.close().unwrap();
        }
        rg.close().unwrap();
        start = r.end;
    }
    w.close().unwrap();
    path
}

fn pq(file: &std::path::Path, cols: &[tessera_sources::ColumnDecl]) -> Result<Table, SourceError> {
    read(
        &Source::Parquet {
            file: file.to_path_buf(),
        },
        &key(),
        cols,
    )
}

/// gp.csv's text fields by column.
fn gp_fields() -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(gp_csv()).unwrap();
    let mut cols = vec![Vec::new(); r.headers().unwrap().len()];
    for rec in r.records() {
        for (c, f) in cols.iter_mut().zip(rec.unwrap().iter()) {
            c.push(f.to_string());
        }
    }
    cols
}

const GP_SCHEMA: &str = "message gp {
    OPTIONAL BYTE_ARRAY patient_id (UTF8);
    OPTIONAL INT32 comorbidity;
    OPTIONAL INT64 smoker;
    OPTIONAL DOUBLE bmi;
    OPTIONAL BOOLEAN diabetes;
    OPTIONAL INT32 hypertension (INT_8);
    OPTIONAL FLOAT statin;
    OPTIONAL INT32 metformin (DECIMAL(5, 2));
    OPTIONAL INT64 ace_inhibitor (UINT_64);
}";

/// gp.csv as Parquet with the types of GP_SCHEMA, in row groups of `group` rows.
fn gp_parquet(name: &str, group: usize) -> PathBuf {
    let f = gp_fields();
    let p = |c: usize| f[c].iter().map(|s| s.parse::<f64>().unwrap());
    let cols = vec![
        Col::Str(f[0].iter().cloned().map(Some).collect()),
        Col::I32(p(1).map(|x| Some(x as i32)).collect()),
        Col::I64(p(2).map(|x| Some(x as i64)).collect()),
        Col::F64(p(3).map(Some).collect()),
        Col::Bool(p(4).map(|x| Some(x == 1.0)).collect()),
        Col::I32(p(5).map(|x| Some(x as i32)).collect()),
        Col::F32(p(6).map(|x| Some(x as f32)).collect()),
        // DECIMAL(5, 2): unscaled integers, 1 is 100.
        Col::I32(p(7).map(|x| Some((x * 100.0) as i32)).collect()),
        Col::I64(p(8).map(|x| Some(x as i64)).collect()),
    ];
    write(name, GP_SCHEMA, &cols, group)
}

#[test]
fn gp_as_parquet_reads_as_gp_csv() {
    let file = gp_parquet("gp.parquet", 700);
    let t = pq(&file, &gp_columns()).unwrap();
    let csv = gp_from_csv();
    assert_eq!(t.counts, csv.counts);
    assert_eq!(rows_by_key(&t), rows_by_key(&csv));
    // Same rows in the same order, too.
    assert_eq!(t.keys, csv.keys);
    assert_eq!(t.frame, csv.frame);
}

#[test]
fn types_are_checked_before_any_row() {
    let file = gp_parquet("gp-types.parquet", 1900);
    let name = file.display().to_string();
    let e = pq(
        &file,
        &[decl(
            "patient_id",
            ColumnKind::Numeric {
                min: None,
                max: None,
            },
        )],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{name}: column \"patient_id\" has type BYTE_ARRAY (UTF8), declared numeric")
    );
    let e = pq(
        &file,
        &[decl(
            "bmi",
            ColumnKind::Categorical {
                levels: vec!["a".into(), "b".into()],
            },
        )],
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("column \"bmi\" has type DOUBLE, declared categorical"),
        "{e}"
    );
    let e = pq(
        &file,
        &[decl(
            "diabetes",
            ColumnKind::Numeric {
                min: None,
                max: None,
            },
        )],
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("has type BOOLEAN, declared numeric"),
        "{e}"
    );
    let e = pq(&file, &[decl("weight", ColumnKind::Binary)]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{name}: column \"weight\" missing from the Parquet schema")
    );
    // Dates, raw bytes and keys that are not text or integers are refused.
    let odd = write(
        "odd.parquet",
        "message m { OPTIONAL BYTE_ARRAY patient_id; OPTIONAL INT32 born (DATE); }",
        &[Col::Str(vec![Some("a".into())]), Col::I32(vec![Some(1)])],
        10,
    );
    let e = pq(&odd, &[]).unwrap_err();
    assert!(
        e.to_string()
            .contains("column \"patient_id\" has type BYTE_ARRAY, declared a key"),
        "{e}"
    );
    let e = read(
        &Source::Parquet { file: odd.clone() },
        &[],
        &[decl(
            "born",
            ColumnKind::Numeric {
                min: None,
                max: None,
            },
        )],
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("column \"born\" has type INT32 (DATE), declared numeric"),
        "{e}"
    );
    // Dates are read as keys, written YYYY-MM-DD.
    let t = read(
        &Source::Parquet { file: odd.clone() },
        &["born".to_string()],
        &[],
    )
    .unwrap();
    assert_eq!(t.keys, vec![vec![Some("1970-01-02".to_string())]]);
    // And as date columns: days since 1970-01-01, range-checked.
    let t = read(
        &Source::Parquet { file: odd.clone() },
        &[],
        &[decl(
            "born",
            ColumnKind::Date {
                min: None,
                max: None,
            },
        )],
    )
    .unwrap();
    assert_eq!(
        t.frame.columns[0].data,
        tessera_stats::PlainData::Numeric(vec![Some(1.0)])
    );
    let e = read(
        &Source::Parquet { file: odd },
        &[],
        &[decl(
            "born",
            ColumnKind::Date {
                min: Some(2),
                max: None,
            },
        )],
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("row 1: column \"born\": before the declared min 1970-01-03"),
        "{e}"
    );
    // Not a Parquet file at all.
    let e = read(&Source::Parquet { file: gp_csv() }, &[], &[]).unwrap_err();
    assert!(matches!(e, SourceError::Malformed { .. }), "{e}");
    assert!(e.to_string().contains("not a readable Parquet file"), "{e}");
}

#[test]
fn values_nulls_and_row_numbers() {
    // Three row groups of 2 rows; row 5 (the third group's first) is out of range.
    let schema = "message m {
        OPTIONAL BYTE_ARRAY patient_id (UTF8);
        OPTIONAL DOUBLE age;
        OPTIONAL BYTE_ARRAY stage (UTF8);
        OPTIONAL INT32 grade;
    }";
    let ids = |n: usize| Col::Str((0..n).map(|i| Some(format!("id{i}"))).collect());
    let file = write(
        "values.parquet",
        schema,
        &[
            ids(6),
            Col::F64(vec![
                Some(40.0),
                None,
                Some(f64::NAN),
                Some(61.5),
                Some(130.25),
                Some(1.0),
            ]),
            Col::Str(vec![
                Some("I".into()),
                Some(" II".into()),
                None,
                Some("I".into()),
                Some("XIV".into()),
                None,
            ]),
            Col::I32(vec![Some(1), Some(2), Some(3), None, Some(1), Some(2)]),
        ],
        2,
    );
    let name = file.display().to_string();
    let age = |max| {
        decl(
            "age",
            ColumnKind::Numeric {
                min: Some(0.0),
                max: Some(max),
            },
        )
    };
    let e = pq(&file, &[age(120.0)]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{name}: row 5: column \"age\": above the declared max 120")
    );
    let stage = decl(
        "stage",
        ColumnKind::Categorical {
            levels: vec!["I".into(), "II".into()],
        },
    );
    let e = pq(&file, &[age(200.0), stage.clone()]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{name}: row 5: column \"stage\": not one of the declared levels \"I\", \"II\"")
    );
    let grade = decl(
        "grade",
        ColumnKind::Categorical {
            levels: vec!["1".into(), "2".into(), "3".into()],
        },
    );
    let t = read(
        &Source::Parquet { file: file.clone() },
        &key(),
        &[age(200.0), grade],
    )
    .unwrap();
    assert_eq!(t.counts.rows, 6);
    assert_eq!(
        t.counts.missing,
        [("age".to_string(), 2), ("grade".to_string(), 1)]
    );
    assert_eq!(
        t.frame.numeric("gp.age").unwrap(),
        &[Some(40.0), None, None, Some(61.5), Some(130.25), Some(1.0)]
    );
    assert_eq!(
        t.frame.columns[1].data,
        tessera_stats::PlainData::Categorical {
            levels: vec!["1".into(), "2".into(), "3".into()],
            codes: vec![Some(0), Some(1), Some(2), None, Some(0), Some(1)],
        }
    );
    assert_eq!(t.keys[0][5].as_deref(), Some("id5"));
}
