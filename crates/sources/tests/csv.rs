//! The CSV source: values parsed by their declared types, malformed rows reported with file,
//! line and column, never with the value; the file is only read.

mod common;

use std::path::PathBuf;

use common::*;
use tessera_sources::{read, ColumnDecl, ColumnKind, Source, SourceError, Table};

fn tmp(name: &str, text: &[u8]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-sources-csv-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn csv(file: &std::path::Path) -> Source {
    Source::Csv {
        file: file.to_path_buf(),
        delimiter: b',',
        missing: vec!["".into(), "NA".into()],
    }
}

fn num() -> ColumnKind {
    ColumnKind::Numeric {
        min: None,
        max: None,
    }
}

fn levels(l: &[&str]) -> ColumnKind {
    ColumnKind::Categorical {
        levels: l.iter().map(|s| s.to_string()).collect(),
    }
}

fn cols(v: &[(&str, ColumnKind)]) -> Vec<ColumnDecl> {
    v.iter().map(|(n, k)| decl(n, k.clone())).collect()
}

fn load(name: &str, text: &str, columns: &[(&str, ColumnKind)]) -> Result<Table, SourceError> {
    let f = tmp(name, text.as_bytes());
    read(&csv(&f), &["id".to_string()], &cols(columns))
}

/// Fails at `name:LINE` naming `column` (if any), saying `what`, without `secret`.
fn fails(
    name: &str,
    text: &str,
    columns: &[(&str, ColumnKind)],
    line: usize,
    what: &str,
    secret: &str,
) {
    let e = load(name, text, columns).unwrap_err();
    let m = e.to_string();
    assert!(m.contains(&format!("{name}:{line}: ")), "line {line}: {m}");
    assert!(m.contains(what), "{what}: {m}");
    assert!(!m.contains(secret), "the value is echoed: {m}");
}

#[test]
fn malformed_rows_name_file_line_and_column() {
    let v = [("v", num()), ("w", levels(&["a", "b"]))];
    fails(
        "m1.csv",
        "id,v,w\n1,2,a\n2,3\n",
        &v,
        3,
        "2 fields where the header has 3",
        "@@",
    );
    fails(
        "m2.csv",
        "id,v,w\n1,2,a\n2,3,b,x9z\n",
        &v,
        3,
        "4 fields where the header has 3",
        "x9z",
    );
    fails(
        "m3.csv",
        "id,v,w\n1,2,a\n2,1o5,b\n",
        &v,
        3,
        "column \"v\": not a number",
        "1o5",
    );
    let date = [(
        "v",
        ColumnKind::Date {
            min: None,
            max: None,
        },
    )];
    fails(
        "m3d.csv",
        "id,v\n1,2001-02-28\n2,2001-02-29\n",
        &date,
        3,
        "column \"v\": not a date written YYYY-MM-DD",
        "2001-02-29",
    );
    fails(
        "m4.csv",
        "id,v,w\n1,2,a\n2,3,c7q\n",
        &v,
        3,
        "column \"w\": not one of the declared levels",
        "c7q",
    );
    // A quoted field spanning lines: the next record's line is where it starts.
    fails(
        "m5.csv",
        "id,v,w\n1,2,\"a\nb\"\n2,zz,a\n",
        &v,
        2,
        "column \"w\"",
        "@@",
    );
    fails(
        "m7.csv",
        "id,v,w\n1,\"2\n\",a\n2,x5y,a\n",
        &[("v", num())],
        4,
        "column \"v\": not a number",
        "x5y",
    );
    // Invalid UTF-8.
    let f = tmp("m8.csv", b"id,v\n1,2\n2,\xff\xfe\n");
    let e = read(&csv(&f), &["id".to_string()], &cols(&[("v", num())])).unwrap_err();
    assert!(
        e.to_string()
            .contains("m8.csv:3: field 2 is not valid UTF-8"),
        "{e}"
    );
    // Ranges and binary.
    let age = ColumnKind::Numeric {
        min: Some(0.0),
        max: Some(120.0),
    };
    fails(
        "m9.csv",
        "id,age\n1,5\n2,-1.5\n",
        &[("age", age.clone())],
        3,
        "column \"age\": below the declared min 0",
        "1.5",
    );
    fails(
        "m10.csv",
        "id,age\n1,121\n",
        &[("age", age)],
        2,
        "above the declared max 120",
        "121",
    );
    fails(
        "m11.csv",
        "id,e\n1,1\n2,0\n3,2\n",
        &[("e", ColumnKind::Binary)],
        4,
        "not 0 or 1",
        "@@",
    );
    // Header problems.
    fails(
        "m12.csv",
        "id,x\n1,2\n",
        &[("v", num())],
        1,
        "column \"v\" missing from the header",
        "@@",
    );
    fails(
        "m13.csv",
        "ident,v\n1,2\n",
        &[("v", num())],
        1,
        "key column \"id\" missing from the header",
        "@@",
    );
    fails(
        "m14.csv",
        "id,v,v\n1,2,3\n",
        &[("v", num())],
        1,
        "column \"v\" appears more than once",
        "@@",
    );
    let e = load("m15.csv", "", &[("v", num())]).unwrap_err();
    assert!(e.to_string().contains("m15.csv:1: no header line"), "{e}");
    let e = read(&csv("/nonexistent/d.csv".as_ref()), &[], &[]).unwrap_err();
    assert!(matches!(e, SourceError::Open { .. }), "{e}");
}

#[test]
fn values_missing_tokens_keys_and_delimiters() {
    let f = tmp(
        "ok.csv",
        b"no;id;v;w;e\n1;007; 2.5 ;b;1\n2;.;.;.;.\n3;x; 1e2;a ;0\n",
    );
    let src = Source::Csv {
        file: f,
        delimiter: b';',
        missing: vec![".".into()],
    };
    let t = read(
        &src,
        &["id".to_string(), "no".to_string()],
        &cols(&[
            ("v", num()),
            ("w", levels(&["a", "b"])),
            ("e", ColumnKind::Binary),
        ]),
    )
    .unwrap();
    assert_eq!(t.counts.rows, 3);
    assert_eq!(
        t.keys,
        vec![
            vec![Some("007".to_string()), None, Some("x".to_string())],
            vec![
                Some("1".to_string()),
                Some("2".to_string()),
                Some("3".to_string())
            ],
        ]
    );
    assert_eq!(
        t.frame.numeric("gp.v").unwrap(),
        &[Some(2.5), None, Some(100.0)]
    );
    assert_eq!(
        t.frame.numeric("gp.e").unwrap(),
        &[Some(1.0), None, Some(0.0)]
    );
    assert_eq!(
        t.frame.columns[1].data,
        tessera_stats::PlainData::Categorical {
            levels: vec!["a".into(), "b".into()],
            codes: vec![Some(1), None, Some(0)],
        }
    );
    assert_eq!(
        t.counts.missing,
        [
            ("v".to_string(), 1),
            ("w".to_string(), 1),
            ("e".to_string(), 1)
        ]
    );
}

#[test]
fn the_gp_fixture_is_read_and_left_unchanged() {
    let path = gp_csv();
    let before = std::fs::read(&path).unwrap();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let t = gp_from_csv();
    assert_eq!(t.counts.rows, 1900);
    assert_eq!(t.frame.rows, 1900);
    assert_eq!(t.frame.columns.len(), 8);
    assert!(t.counts.missing.iter().all(|(_, n)| *n == 0));
    // Spot-check the first data row against the text of the file.
    let first = String::from_utf8_lossy(&before)
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    let fields: Vec<&str> = first.split(',').collect();
    assert_eq!(t.keys[0][0].as_deref(), Some(fields[0]));
    assert_eq!(
        t.frame.numeric("gp.bmi").unwrap()[0],
        Some(fields[3].parse::<f64>().unwrap())
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
}

/// Issue 15: in a file with CRLF line ends, a bad value on line 6 was reported as line 5
/// (the csv reader counts a record's line before its `\r\n` is consumed). Lines are the
/// same whatever the line ends, for values, field counts and the header.
#[test]
fn line_numbers_are_the_same_with_crlf_line_ends() {
    let v = [("v", num()), ("w", levels(&["a", "b"]))];
    for (tag, nl) in [("lf", "\n"), ("crlf", "\r\n"), ("cr", "\r")] {
        let rows = [
            "id,v,w", "1,2,a", "2,3,b", "3,4,a", "4,5,b", "5,x1y,a", "6,7,b",
        ];
        let text = rows.join(nl) + nl;
        fails(
            &format!("crlf-{tag}.csv"),
            &text,
            &v,
            6,
            "column \"v\": not a number",
            "x1y",
        );
        let rows = ["id,v,w", "1,2,a", "2,3", "3,4,a"];
        fails(
            &format!("crlf-count-{tag}.csv"),
            &(rows.join(nl) + nl),
            &v,
            3,
            "2 fields where the header has 3",
            "@@",
        );
    }
}

/// Issue 15: a value outside the declared levels said only that; now the levels are listed
/// and a level written another way ("1.0" for "1", "Yes" for "yes") is pointed out, still
/// without echoing the value.
#[test]
fn a_value_outside_the_levels_lists_them_and_hints_at_the_spelling() {
    let v = [("v", num()), ("w", levels(&["1", "2", "yes"]))];
    let e = load("lv1.csv", "id,v,w\n1,2,1\n2,3,2.0\n", &v)
        .unwrap_err()
        .to_string();
    assert!(e.contains("lv1.csv:3: "), "{e}");
    assert!(
        e.contains(r#"not one of the declared levels "1", "2", "yes""#),
        "{e}"
    );
    assert!(e.contains(r#"the number "2" written another way"#), "{e}");
    assert!(!e.contains("2.0"), "the value is echoed: {e}");
    let e = load("lv2.csv", "id,v,w\n1,2,YES\n", &v)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(r#"differs from "yes" only in upper or lower case"#),
        "{e}"
    );
    assert!(!e.contains("YES"), "the value is echoed: {e}");
    let e = load("lv3.csv", "id,v,w\n1,2,zq9\n", &v)
        .unwrap_err()
        .to_string();
    assert!(
        !e.contains("written another way") && !e.contains("zq9"),
        "{e}"
    );
}
