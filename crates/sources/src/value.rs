//! The one implementation of typed values shared by every source: a cell as the source gives
//! it ([`Cell`]: text from CSV, typed numbers and text from Parquet and PostgreSQL) is
//! parsed and checked against its declared [`ColumnKind`] (numbers finite and within the
//! declared range, binary 0 or 1, categorical one of the declared levels, dates `YYYY-MM-DD`
//! or typed dates within the declared range, as days since 1970-01-01), and which source
//! types a declaration accepts ([`SourceType`]). Messages say what is wrong, never the value.

use tessera_stats::{PlainColumn, PlainData};

use crate::{ColumnDecl, ColumnKind};

/// One value as a source gives it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Cell<'a> {
    /// Missing (a missing token in CSV, a null in Parquet or PostgreSQL).
    Missing,
    /// Text: parsed by the declared type (CSV fields, text columns).
    Text(&'a str),
    /// A floating-point or decimal number; NaN is read as missing.
    Number(f64),
    /// An integer.
    Integer(i64),
    /// A boolean (binary columns: false 0, true 1).
    Bool(bool),
    /// A calendar date as days since 1970-01-01 (Parquet `DATE`, PostgreSQL `date`).
    Date(i64),
}

/// The kind of a typed source's column (Parquet schema, query result), for the check of a
/// declaration against it before any value is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SourceType {
    /// Text (UTF-8 strings, `text`, `varchar`).
    Text,
    /// Integers.
    Integer,
    /// Floating point or decimal numbers.
    Number,
    /// Booleans.
    Bool,
    /// Calendar dates.
    Date,
}

/// Whether a column declared `kind` (`None`: a key column) may be read from a source column
/// of type `found`: numeric from numbers and integers, binary also from booleans,
/// categorical from text and integers, dates from dates and text (`YYYY-MM-DD`), keys from
/// text, integers and dates.
pub(crate) fn accepts(kind: Option<&ColumnKind>, found: &SourceType) -> bool {
    use SourceType::*;
    match kind {
        None => matches!(found, Text | Integer | Date),
        Some(ColumnKind::Date { .. }) => matches!(found, Date | Text),
        Some(ColumnKind::Categorical { .. }) => matches!(found, Text | Integer),
        Some(ColumnKind::Numeric { .. }) => matches!(found, Integer | Number),
        Some(ColumnKind::Binary) => matches!(found, Integer | Number | Bool),
    }
}

/// The largest integer every f64 holds exactly (2^53).
const EXACT: i64 = 1 << 53;

/// A key value as text, `None` when missing. Text is kept as it is (the linkage
/// normalises it); integers are written in decimal, dates as `YYYY-MM-DD` (which the
/// linkage's `date` step reads with any `date_order`).
pub(crate) fn key(cell: Cell<'_>) -> Result<Option<String>, String> {
    match cell {
        Cell::Missing => Ok(None),
        Cell::Text(s) => Ok(Some(s.to_string())),
        Cell::Integer(i) => Ok(Some(i.to_string())),
        Cell::Date(days) => date(days).map(Some),
        Cell::Number(_) | Cell::Bool(_) => {
            Err("not text, an integer or a date (a key column)".into())
        }
    }
}

/// The values of one declared column as they are read, with their missing count.
#[derive(Clone, Debug)]
pub(crate) struct Builder {
    kind: ColumnKind,
    values: Vec<Option<f64>>,
    codes: Vec<Option<usize>>,
    /// Missing values so far.
    pub(crate) missing: usize,
}

impl Builder {
    /// An empty column declared `kind`.
    pub(crate) fn new(kind: &ColumnKind) -> Builder {
        Builder {
            kind: kind.clone(),
            values: Vec::new(),
            codes: Vec::new(),
            missing: 0,
        }
    }

    /// Parses and checks one value and appends it; the error says why it does not fit,
    /// without the value.
    pub(crate) fn push(&mut self, cell: Cell<'_>) -> Result<(), String> {
        let cell = match cell {
            Cell::Number(x) if x.is_nan() => Cell::Missing,
            c => c,
        };
        if cell == Cell::Missing {
            self.missing += 1;
            match self.kind {
                ColumnKind::Categorical { .. } => self.codes.push(None),
                _ => self.values.push(None),
            }
            return Ok(());
        }
        match &self.kind {
            ColumnKind::Numeric { min, max } => {
                let x = number(cell)?;
                if !x.is_finite() {
                    return Err("not a number".into());
                }
                if let Some(m) = min.filter(|&m| x < m) {
                    return Err(format!("below the declared min {m}"));
                }
                if let Some(m) = max.filter(|&m| x > m) {
                    return Err(format!("above the declared max {m}"));
                }
                self.values.push(Some(x));
            }
            ColumnKind::Binary => {
                let x = match cell {
                    Cell::Bool(b) => f64::from(u8::from(b)),
                    c => number(c)?,
                };
                if x != 0.0 && x != 1.0 {
                    return Err("not 0 or 1 (the column is declared binary)".into());
                }
                self.values.push(Some(x));
            }
            ColumnKind::Categorical { levels } => {
                let int;
                let text = match cell {
                    Cell::Text(s) => s.trim(),
                    Cell::Integer(i) => {
                        int = i.to_string();
                        &int
                    }
                    _ => return Err("not text or an integer (declared categorical)".into()),
                };
                let code = levels
                    .iter()
                    .position(|l| l == text)
                    .ok_or_else(|| not_a_level(text, levels))?;
                self.codes.push(Some(code));
            }
            ColumnKind::Date { min, max } => {
                let days = match cell {
                    Cell::Date(d) => d,
                    Cell::Text(s) => parse_date(s).ok_or("not a date written YYYY-MM-DD")?,
                    _ => return Err("not a date (the column is declared date)".into()),
                };
                if date(days).is_err() {
                    return Err("a date outside the years 1 to 9999".into());
                }
                let shown = |d: i64| date(d).unwrap_or_else(|_| d.to_string());
                if let Some(m) = min.filter(|&m| days < m) {
                    return Err(format!("before the declared min {}", shown(m)));
                }
                if let Some(m) = max.filter(|&m| days > m) {
                    return Err(format!("after the declared max {}", shown(m)));
                }
                self.values.push(Some(days as f64));
            }
        }
        Ok(())
    }

    /// The finished column, named as the declaration says.
    pub(crate) fn finish(self, decl: &ColumnDecl) -> PlainColumn {
        PlainColumn {
            name: decl.label.clone(),
            data: match self.kind {
                ColumnKind::Categorical { levels } => PlainData::Categorical {
                    levels,
                    codes: self.codes,
                },
                _ => PlainData::Numeric(self.values),
            },
        }
    }
}

/// Why `text` is none of `levels`: the declared levels (they are the schema, not data) and,
/// when the value is a level written another way, how (never the value itself).
fn not_a_level(text: &str, levels: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut listed: Vec<String> = levels
        .iter()
        .take(SHOWN)
        .map(|l| format!("{l:?}"))
        .collect();
    if levels.len() > SHOWN {
        listed.push(format!("… ({} in all)", levels.len()));
    }
    let mut m = format!("not one of the declared levels {}", listed.join(", "));
    let as_number = |s: &str| s.trim().parse::<f64>().ok();
    if let Some(x) = as_number(text) {
        if let Some(l) = levels.iter().find(|l| as_number(l) == Some(x)) {
            m += &format!(
                " (it is the number {l:?} written another way, e.g. \"1.0\" for \"1\": write the \
                 levels as the data writes them)"
            );
            return m;
        }
    }
    if let Some(l) = levels.iter().find(|l| l.eq_ignore_ascii_case(text)) {
        m += &format!(" (it differs from {l:?} only in upper or lower case)");
    }
    m
}

/// A non-missing cell as a number (text parsed, spaces around it ignored).
fn number(cell: Cell<'_>) -> Result<f64, String> {
    match cell {
        Cell::Text(s) => s.trim().parse().map_err(|_| "not a number".to_string()),
        Cell::Number(x) => Ok(x),
        Cell::Integer(i) if (-EXACT..=EXACT).contains(&i) => Ok(i as f64),
        Cell::Integer(_) => Err("an integer too large to be exact as a real number".into()),
        Cell::Bool(_) => Err("a boolean where a number is declared".into()),
        Cell::Date(_) => Err("a date where a number is declared".into()),
        Cell::Missing => Err("missing".into()),
    }
}

/// A date written `YYYY-MM-DD` (spaces around it ignored; proleptic Gregorian, years 1 to
/// 9999) as whole days since 1970-01-01, negative before; `None` when it is not such a
/// date (wrong form, month or day out of range, 29 February of a common year). The inverse
/// of [`date_text`]; by the days-from-civil method (eras of 400 years, years starting in
/// March).
pub fn parse_date(text: &str) -> Option<i64> {
    let t = text.trim().as_bytes();
    if t.len() != 10 || t[4] != b'-' || t[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = &t[r];
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |a, &b| a * 10 + i64::from(b - b'0')))
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let len = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if y < 1 || !(1..=len).contains(&d) {
        return None;
    }
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Days since 1970-01-01 as `YYYY-MM-DD` (see [`parse_date`]); `None` outside the years 1
/// to 9999. For messages about declared bounds (schema, not data) and for documents.
pub fn date_text(days: i64) -> Option<String> {
    date(days).ok()
}

/// Days since 1970-01-01 as a proleptic Gregorian `YYYY-MM-DD` (years 1 to 9999), by the
/// civil-from-days method (eras of 400 years of 146097 days, years starting in March).
fn date(days: i64) -> Result<String, String> {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(1..=9999).contains(&year) {
        return Err("a date outside the years 1 to 9999".into());
    }
    Ok(format!("{year:04}-{month:02}-{day:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(kind: ColumnKind) -> ColumnDecl {
        ColumnDecl {
            name: "v".into(),
            label: "p.v".into(),
            kind,
        }
    }

    fn run(kind: ColumnKind, cells: &[Cell<'_>]) -> Result<PlainColumn, String> {
        let d = decl(kind);
        let mut b = Builder::new(&d.kind);
        for &c in cells {
            b.push(c)?;
        }
        Ok(b.finish(&d))
    }

    #[test]
    fn numbers_from_every_cell_kind() {
        let k = ColumnKind::Numeric {
            min: Some(0.0),
            max: Some(10.0),
        };
        let c = run(
            k.clone(),
            &[
                Cell::Text(" 2.5 "),
                Cell::Integer(3),
                Cell::Number(4.0),
                Cell::Missing,
                Cell::Number(f64::NAN),
            ],
        )
        .unwrap();
        assert_eq!(
            c.data,
            PlainData::Numeric(vec![Some(2.5), Some(3.0), Some(4.0), None, None])
        );
        let e = |cell| run(k.clone(), &[cell]).unwrap_err();
        assert_eq!(e(Cell::Text("x")), "not a number");
        assert_eq!(e(Cell::Text("inf")), "not a number");
        assert_eq!(e(Cell::Number(f64::INFINITY)), "not a number");
        assert_eq!(e(Cell::Integer(11)), "above the declared max 10");
        assert_eq!(e(Cell::Number(-0.5)), "below the declared min 0");
        assert!(e(Cell::Integer(i64::MAX)).contains("too large"));
        assert!(e(Cell::Bool(true)).contains("boolean"));
    }

    #[test]
    fn binary_and_categorical() {
        let c = run(
            ColumnKind::Binary,
            &[Cell::Bool(true), Cell::Integer(0), Cell::Text("1")],
        )
        .unwrap();
        assert_eq!(
            c.data,
            PlainData::Numeric(vec![Some(1.0), Some(0.0), Some(1.0)])
        );
        assert!(run(ColumnKind::Binary, &[Cell::Number(0.5)])
            .unwrap_err()
            .contains("not 0 or 1"));
        let k = ColumnKind::Categorical {
            levels: vec!["1".into(), "b".into()],
        };
        let c = run(
            k.clone(),
            &[Cell::Integer(1), Cell::Text(" b"), Cell::Missing],
        )
        .unwrap();
        assert_eq!(
            c.data,
            PlainData::Categorical {
                levels: vec!["1".into(), "b".into()],
                codes: vec![Some(0), Some(1), None]
            }
        );
        assert!(run(k.clone(), &[Cell::Text("c")])
            .unwrap_err()
            .contains("declared levels"));
        assert!(run(k, &[Cell::Number(1.0)]).is_err());
    }

    #[test]
    fn declarations_accept_source_types() {
        use SourceType::*;
        let num = ColumnKind::Numeric {
            min: None,
            max: None,
        };
        assert!(accepts(Some(&num), &Integer) && accepts(Some(&num), &Number));
        assert!(!accepts(Some(&num), &Text) && !accepts(Some(&num), &Bool));
        assert!(accepts(Some(&ColumnKind::Binary), &Bool));
        assert!(!accepts(Some(&ColumnKind::Binary), &Text));
        assert!(accepts(None, &Text) && accepts(None, &Integer) && !accepts(None, &Number));
        assert_eq!(key(Cell::Integer(7)).unwrap().as_deref(), Some("7"));
        assert_eq!(key(Cell::Missing).unwrap(), None);
        assert!(accepts(None, &Date));
        assert!(!accepts(Some(&num), &Date));
        assert!(!accepts(Some(&ColumnKind::Binary), &Date));
    }

    #[test]
    fn dates_as_keys() {
        let d = |n| key(Cell::Date(n)).unwrap().unwrap();
        assert_eq!(d(0), "1970-01-01");
        assert_eq!(d(-1), "1969-12-31");
        assert_eq!(d(59), "1970-03-01");
        assert_eq!(d(11_016), "2000-02-29");
        assert_eq!(d(4_017), "1980-12-31");
        assert_eq!(d(-719_162), "0001-01-01");
        assert_eq!(d(2_932_896), "9999-12-31");
        assert!(key(Cell::Date(2_932_897)).is_err());
        assert!(key(Cell::Date(i64::from(i32::MIN))).is_err());
        // Against a day-by-day count from 1970 over 200 years each way.
        let (mut y, mut m, mut day) = (1970i64, 1i64, 1i64);
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let len = |y, m| match m {
            2 if leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        for n in 0..73_000 {
            assert_eq!(d(n), format!("{y:04}-{m:02}-{day:02}"));
            assert_eq!(parse_date(&d(n)), Some(n));
            day += 1;
            if day > len(y, m) {
                day = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
        let (mut y, mut m, mut day) = (1969i64, 12i64, 31i64);
        for n in 1..73_000 {
            assert_eq!(d(-n), format!("{y:04}-{m:02}-{day:02}"));
            assert_eq!(parse_date(&d(-n)), Some(-n));
            day -= 1;
            if day == 0 {
                m -= 1;
                if m == 0 {
                    m = 12;
                    y -= 1;
                }
                day = len(y, m);
            }
        }
    }

    #[test]
    fn dates_as_values() {
        let k = ColumnKind::Date {
            min: parse_date("1990-01-01"),
            max: parse_date("2030-12-31"),
        };
        let c = run(
            k.clone(),
            &[
                Cell::Text(" 2000-02-29 "),
                Cell::Date(10_957),
                Cell::Missing,
            ],
        )
        .unwrap();
        assert_eq!(
            c.data,
            PlainData::Numeric(vec![Some(11_016.0), Some(10_957.0), None])
        );
        let e = |cell| run(k.clone(), &[cell]).unwrap_err();
        for bad in [
            "2001-02-29",
            "2000-13-01",
            "2000-00-10",
            "2000-1-01",
            "01/02/2000",
            "x",
        ] {
            assert_eq!(e(Cell::Text(bad)), "not a date written YYYY-MM-DD", "{bad}");
        }
        assert_eq!(
            e(Cell::Text("1989-12-31")),
            "before the declared min 1990-01-01"
        );
        assert_eq!(e(Cell::Date(30_000)), "after the declared max 2030-12-31");
        assert!(e(Cell::Number(3.0)).contains("not a date"));
        assert_eq!(parse_date("0000-01-01"), None);
        assert_eq!(parse_date("9999-12-31"), Some(2_932_896));
        assert_eq!(parse_date("0001-01-01"), Some(-719_162));
        assert_eq!(date_text(-1).as_deref(), Some("1969-12-31"));
        use SourceType::*;
        assert!(accepts(Some(&k), &Date) && accepts(Some(&k), &Text));
        assert!(!accepts(Some(&k), &Integer) && !accepts(Some(&k), &Number));
    }
}
