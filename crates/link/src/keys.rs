//! Linkage keys at the data party: normalisation, encoding to 64 bits, missing and
//! duplicate keys. Everything here runs locally at the party that owns the table; nothing
//! in this module communicates.
//!
//! # Normalisation
//!
//! Each key column declares its steps ([`Norm`]), applied in order, so that the same person
//! yields the same string at every party: trim, case folding, whitespace removal, digits
//! only, leading zeros, and dates in a few formats rewritten as ISO `YYYY-MM-DD`. A value
//! that is absent, or empty after normalisation, is *missing*; a date that cannot be parsed
//! (or does not exist, like 31 February) is *invalid*. A row with any missing or invalid key
//! component is dropped and counted.
//!
//! # Encoding
//!
//! The normalised components of a (composite) key are encoded into a 64-bit value by
//! SHA-256 over a length-prefixed encoding (so `("ab", "c")` and `("a", "bc")` differ),
//! prefixed by a version tag and the study's context string, truncated to 64 bits.
//!
//! The value is **never sent in clear**: the data party secret-shares it, and the join
//! opens nothing that depends on it (see [`crate::join`]). So no keyed hash is needed: an
//! unkeyed digest that anyone could recompute is safe because nobody ever sees it. What
//! matters is collisions: two different people with the same 64-bit value would be linked
//! wrongly. For `n` distinct keys over all parties the probability of any collision is
//! below `n² / 2^65` (birthday bound): 5.4·10⁻⁸ for two million keys, 2.7·10⁻⁶ for twenty
//! million. A collision *within* one party is detected here (an error, never silent);
//! one *across* parties would produce one wrong match, with the probability above.
//!
//! # Duplicates
//!
//! Two rows of one party with the same normalised key are duplicates. [`Duplicates`]
//! declares what to do: refuse (an error with the counts), keep the first or keep the last
//! occurrence. The join requires unique keys per party.
//!
//! # Counts
//!
//! [`PrepareReport`] (rows in, missing, invalid, duplicates dropped, rows kept) is a local
//! value returned to the owning party only; the compute parties learn nothing but the
//! number of rows kept, which is the input size they must know anyway.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use crate::error::{LinkError, Result};

/// One normalisation step of a key column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// Remove leading and trailing whitespace.
    Trim,
    /// Replace every run of inner whitespace by one space (and trim).
    CollapseSpaces,
    /// Remove all whitespace (e.g. postcodes: `"AB1 2CD"` → `"AB12CD"`).
    RemoveSpaces,
    /// Unicode lower case.
    CaseFold,
    /// Keep only the ASCII digits (e.g. `"123-456 789"` → `"123456789"`).
    DigitsOnly,
    /// Remove leading zeros (`"000123"` → `"123"`; `"000"` → `"0"`).
    StripLeadingZeros,
    /// A date, rewritten as ISO `YYYY-MM-DD`. Always accepted: `YYYY-MM-DD`, `YYYY/MM/DD`,
    /// `YYYY.MM.DD`, `YYYYMMDD`, and an ISO date followed by a time (`T…` or ` …`, ignored).
    /// Day-month-year forms with `/`, `.` or `-` separators (`D/M/YYYY`, `DD.MM.YYYY`,
    /// ...) are read in the declared [`DateOrder`]. Two-digit years are refused (invalid),
    /// as are dates that do not exist.
    Date(DateOrder),
}

impl Norm {
    /// The step's name as study and station files write it (`trim`, `collapse_spaces`,
    /// `remove_spaces`, `casefold`, `digits_only`, `strip_leading_zeros`, `date`): one
    /// spelling for every file, so that messages comparing two configurations agree.
    pub fn name(&self) -> &'static str {
        match self {
            Norm::Trim => "trim",
            Norm::CollapseSpaces => "collapse_spaces",
            Norm::RemoveSpaces => "remove_spaces",
            Norm::CaseFold => "casefold",
            Norm::DigitsOnly => "digits_only",
            Norm::StripLeadingZeros => "strip_leading_zeros",
            Norm::Date(_) => "date",
        }
    }

    /// The step called `name` (see [`Norm::name`]); `order` is the date order of a `date`
    /// step. `None` for an unknown name.
    pub fn parse(name: &str, order: DateOrder) -> Option<Norm> {
        Some(match name {
            "trim" => Norm::Trim,
            "collapse_spaces" => Norm::CollapseSpaces,
            "remove_spaces" => Norm::RemoveSpaces,
            "casefold" => Norm::CaseFold,
            "digits_only" => Norm::DigitsOnly,
            "strip_leading_zeros" => Norm::StripLeadingZeros,
            "date" => Norm::Date(order),
            _ => return None,
        })
    }

    /// Every step name, for messages.
    pub const NAMES: [&'static str; 7] = [
        "trim",
        "collapse_spaces",
        "remove_spaces",
        "casefold",
        "digits_only",
        "strip_leading_zeros",
        "date",
    ];
}

/// A key column's steps as messages show them: `[trim, casefold]`, `[date (day_first)]`,
/// `[]` for none. Two configurations normalise a key alike exactly when these agree.
pub fn describe_steps(steps: &[Norm]) -> String {
    let names: Vec<String> = steps
        .iter()
        .map(|s| match s {
            Norm::Date(o) => format!("date ({})", o.name()),
            s => s.name().to_string(),
        })
        .collect();
    format!("[{}]", names.join(", "))
}

/// How to read dates whose year comes last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateOrder {
    /// `D/M/YYYY` (Europe).
    DayFirst,
    /// `M/D/YYYY` (United States).
    MonthFirst,
    /// Only year-first forms are accepted; anything else is invalid.
    YearFirstOnly,
}

impl DateOrder {
    /// The order's name as study and station files write it (`date_order = "day_first"`).
    pub fn name(&self) -> &'static str {
        match self {
            DateOrder::DayFirst => "day_first",
            DateOrder::MonthFirst => "month_first",
            DateOrder::YearFirstOnly => "year_first",
        }
    }

    /// The order called `name` (see [`DateOrder::name`]).
    pub fn parse(name: &str) -> Option<DateOrder> {
        [
            DateOrder::DayFirst,
            DateOrder::MonthFirst,
            DateOrder::YearFirstOnly,
        ]
        .into_iter()
        .find(|o| o.name() == name)
    }
}

/// A key column: its name (for messages) and its normalisation steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyColumn {
    /// Name of the column, used in messages only.
    pub name: String,
    /// Steps applied in order.
    pub steps: Vec<Norm>,
}

impl KeyColumn {
    /// A key column with the given steps.
    pub fn new(name: &str, steps: &[Norm]) -> Self {
        KeyColumn {
            name: name.to_string(),
            steps: steps.to_vec(),
        }
    }
}

/// What to do with several rows of one party that have the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Duplicates {
    /// Refuse the table: [`LinkError::Duplicates`] with the counts.
    #[default]
    Refuse,
    /// Keep the first row with each key, drop the later ones.
    KeepFirst,
    /// Keep the last row with each key, drop the earlier ones.
    KeepLast,
}

/// The linkage key of a study: the same at every data party.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// The key columns, in order (one for a pseudonym; several for a composite key).
    pub columns: Vec<KeyColumn>,
    /// Rule for duplicate keys within one party.
    pub duplicates: Duplicates,
    /// Mixed into the digest (e.g. the study identifier); every party must use the same.
    pub context: String,
}

/// A data party's table as read from its source: key columns as text (absent values are
/// `None`) and payload columns of 64-bit integers and of 128-bit values (fixed point).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawTable {
    /// One vector per key column of the [`KeySpec`], one entry per row.
    pub keys: Vec<Vec<Option<String>>>,
    /// Payload columns in Z_2^64.
    pub c64: Vec<Vec<u64>>,
    /// Payload columns in Z_2^128.
    pub c128: Vec<Vec<u128>>,
}

/// A table ready to be secret-shared: unique 64-bit keys and the payload of the kept rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prepared {
    /// Encoded key of each kept row (distinct).
    pub keys: Vec<u64>,
    /// Payload columns in Z_2^64 (kept rows).
    pub c64: Vec<Vec<u64>>,
    /// Payload columns in Z_2^128 (kept rows).
    pub c128: Vec<Vec<u128>>,
    /// For each kept row, its index in the [`RawTable`] (local bookkeeping, never shared).
    pub source_rows: Vec<usize>,
}

impl Prepared {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.keys.len()
    }
}

/// Data-quality counts of one party's table: local to the owner, never sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PrepareReport {
    /// Rows read.
    pub rows_in: usize,
    /// Rows dropped because a key component was absent or empty after normalisation.
    pub missing: usize,
    /// Rows dropped because a key component could not be parsed (dates).
    pub invalid: usize,
    /// Distinct keys that occur in more than one row.
    pub duplicate_keys: usize,
    /// Rows dropped by the duplicate rule (0 when the rule is [`Duplicates::Refuse`]).
    pub duplicates_dropped: usize,
    /// Rows kept, i.e. the input size the compute parties see.
    pub rows_out: usize,
}

/// Outcome of normalising one value.
#[derive(Debug, PartialEq, Eq)]
pub enum Normalised {
    /// The normalised text.
    Value(String),
    /// Absent or empty.
    Missing,
    /// Not parseable under the declared steps.
    Invalid,
}

/// Applies the steps of `col` to one value.
pub fn normalise(col: &KeyColumn, v: Option<&str>) -> Normalised {
    let Some(v) = v else {
        return Normalised::Missing;
    };
    let mut s = v.to_string();
    for step in &col.steps {
        s = match step {
            Norm::Trim => s.trim().to_string(),
            Norm::CollapseSpaces => s.split_whitespace().collect::<Vec<_>>().join(" "),
            Norm::RemoveSpaces => s.chars().filter(|c| !c.is_whitespace()).collect(),
            Norm::CaseFold => s.to_lowercase(),
            Norm::DigitsOnly => s.chars().filter(char::is_ascii_digit).collect(),
            Norm::StripLeadingZeros => {
                let t = s.trim_start_matches('0');
                if t.is_empty() && !s.is_empty() {
                    "0".to_string()
                } else {
                    t.to_string()
                }
            }
            Norm::Date(order) => {
                let t = s.trim();
                if t.is_empty() {
                    return Normalised::Missing;
                }
                match parse_date(t, *order) {
                    Some((y, m, d)) => format!("{y:04}-{m:02}-{d:02}"),
                    None => return Normalised::Invalid,
                }
            }
        };
    }
    if s.is_empty() {
        Normalised::Missing
    } else {
        Normalised::Value(s)
    }
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        _ => 0,
    }
}

fn valid(y: u32, m: u32, d: u32) -> Option<(u32, u32, u32)> {
    ((1..=9999).contains(&y) && (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m))
        .then_some((y, m, d))
}

fn num(s: &str, min_len: usize, max_len: usize) -> Option<u32> {
    (s.len() >= min_len && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Parses a date in one of the documented forms into (year, month, day).
pub fn parse_date(s: &str, order: DateOrder) -> Option<(u32, u32, u32)> {
    // An ISO date followed by a time: keep the date.
    let s = match s.find(['T', ' ']) {
        Some(10) => &s[..10],
        Some(_) => return None,
        None => s,
    };
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return valid(
            num(&s[..4], 4, 4)?,
            num(&s[4..6], 2, 2)?,
            num(&s[6..], 2, 2)?,
        );
    }
    let sep = s.chars().find(|c| matches!(c, '-' | '/' | '.'))?;
    let parts: Vec<&str> = s.split(sep).collect();
    if parts.len() != 3 {
        return None;
    }
    if parts[0].len() == 4 {
        return valid(
            num(parts[0], 4, 4)?,
            num(parts[1], 1, 2)?,
            num(parts[2], 1, 2)?,
        );
    }
    let y = num(parts[2], 4, 4)?;
    let (a, b) = (num(parts[0], 1, 2)?, num(parts[1], 1, 2)?);
    match order {
        DateOrder::DayFirst => valid(y, b, a),
        DateOrder::MonthFirst => valid(y, a, b),
        DateOrder::YearFirstOnly => None,
    }
}

/// The 64-bit encoding of a normalised composite key (see the module docs).
pub fn encode_key(context: &str, parts: &[&str]) -> u64 {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"tessera-link-key-v1\0");
    ctx.update(&(context.len() as u64).to_le_bytes());
    ctx.update(context.as_bytes());
    ctx.update(&(parts.len() as u64).to_le_bytes());
    for p in parts {
        ctx.update(&(p.len() as u64).to_le_bytes());
        ctx.update(p.as_bytes());
    }
    let d = ctx.finish();
    u64::from_le_bytes(d.as_ref()[..8].try_into().expect("SHA-256 has 32 bytes"))
}

/// Normalises and encodes the keys of `table`, drops rows with missing or invalid keys,
/// applies the duplicate rule, and returns the table to share with the report for its
/// owner. Fails if the table's shape does not match the spec, if duplicates are refused,
/// or (with probability below `n²/2^65`) if two different keys of this party collide.
pub fn prepare(spec: &KeySpec, table: &RawTable) -> Result<(Prepared, PrepareReport)> {
    if spec.columns.is_empty() {
        return Err(LinkError::Invalid("the key spec has no key column".into()));
    }
    if table.keys.len() != spec.columns.len() {
        return Err(LinkError::Invalid(format!(
            "{} key columns where the spec declares {}",
            table.keys.len(),
            spec.columns.len()
        )));
    }
    let n = table.keys[0].len();
    let lens_ok = table.keys.iter().all(|c| c.len() == n)
        && table.c64.iter().all(|c| c.len() == n)
        && table.c128.iter().all(|c| c.len() == n);
    if !lens_ok {
        return Err(LinkError::Invalid("columns of different lengths".into()));
    }
    let mut report = PrepareReport {
        rows_in: n,
        ..PrepareReport::default()
    };
    // Normalised composite key → index in `kept` of the row currently kept for it.
    let mut seen: HashMap<Vec<String>, usize> = HashMap::with_capacity(n);
    let mut kept: Vec<(usize, u64)> = Vec::with_capacity(n);
    let mut dup_rows: HashMap<usize, usize> = HashMap::new();
    'rows: for r in 0..n {
        let mut parts = Vec::with_capacity(spec.columns.len());
        for (col, vals) in spec.columns.iter().zip(&table.keys) {
            match normalise(col, vals[r].as_deref()) {
                Normalised::Value(s) => parts.push(s),
                Normalised::Missing => {
                    report.missing += 1;
                    continue 'rows;
                }
                Normalised::Invalid => {
                    report.invalid += 1;
                    continue 'rows;
                }
            }
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let code = encode_key(&spec.context, &refs);
        match seen.entry(parts) {
            Entry::Vacant(e) => {
                e.insert(kept.len());
                kept.push((r, code));
            }
            Entry::Occupied(e) => {
                let slot = *e.get();
                *dup_rows.entry(slot).or_insert(1) += 1;
                if spec.duplicates == Duplicates::KeepLast {
                    kept[slot].0 = r;
                }
            }
        }
    }
    report.duplicate_keys = dup_rows.len();
    let extra: usize = dup_rows.values().map(|c| c - 1).sum();
    if extra > 0 && spec.duplicates == Duplicates::Refuse {
        return Err(LinkError::Duplicates {
            keys: report.duplicate_keys,
            rows: extra + report.duplicate_keys,
        });
    }
    report.duplicates_dropped = extra;
    // With KeepLast a kept row may now come after later rows: restore the input order.
    kept.sort_unstable_by_key(|&(r, _)| r);
    let mut codes = HashSet::with_capacity(kept.len());
    if !kept.iter().all(|&(_, c)| codes.insert(c)) {
        return Err(LinkError::Invalid(
            "two different keys of this table have the same 64-bit encoding; \
             change the study context to re-encode"
                .into(),
        ));
    }
    let rows: Vec<usize> = kept.iter().map(|&(r, _)| r).collect();
    let pick64 = |c: &Vec<u64>| rows.iter().map(|&r| c[r]).collect();
    let pick128 = |c: &Vec<u128>| rows.iter().map(|&r| c[r]).collect();
    let prep = Prepared {
        keys: kept.iter().map(|&(_, c)| c).collect(),
        c64: table.c64.iter().map(pick64).collect(),
        c128: table.c128.iter().map(pick128).collect(),
        source_rows: rows,
    };
    report.rows_out = prep.rows();
    Ok((prep, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(steps: &[Norm]) -> KeyColumn {
        KeyColumn::new("k", steps)
    }

    fn norm(steps: &[Norm], v: &str) -> Normalised {
        normalise(&col(steps), Some(v))
    }

    #[test]
    fn step_names_round_trip() {
        for name in Norm::NAMES {
            let n = Norm::parse(name, DateOrder::MonthFirst).unwrap();
            assert_eq!(n.name(), name);
        }
        assert_eq!(Norm::parse("lowercase", DateOrder::DayFirst), None);
        for o in ["day_first", "month_first", "year_first"] {
            assert_eq!(DateOrder::parse(o).unwrap().name(), o);
        }
        assert_eq!(
            describe_steps(&[Norm::Trim, Norm::Date(DateOrder::YearFirstOnly)]),
            "[trim, date (year_first)]"
        );
        assert_eq!(describe_steps(&[]), "[]");
    }

    fn val(s: &str) -> Normalised {
        Normalised::Value(s.into())
    }

    #[test]
    fn normalisation_steps() {
        use Norm::*;
        assert_eq!(norm(&[Trim], "  Ab C "), val("Ab C"));
        assert_eq!(norm(&[CollapseSpaces], " a \t b  c "), val("a b c"));
        assert_eq!(norm(&[RemoveSpaces, CaseFold], "AB1 2CD"), val("ab12cd"));
        assert_eq!(norm(&[DigitsOnly], "123-456 789"), val("123456789"));
        assert_eq!(
            norm(&[DigitsOnly, StripLeadingZeros], " 000123 "),
            val("123")
        );
        assert_eq!(norm(&[StripLeadingZeros], "000"), val("0"));
        assert_eq!(norm(&[Trim], "   "), Normalised::Missing);
        assert_eq!(norm(&[DigitsOnly], "abc"), Normalised::Missing);
        assert_eq!(normalise(&col(&[Trim]), None), Normalised::Missing);
        assert_eq!(norm(&[CaseFold], "ÄÖÜ"), val("äöü"));
    }

    #[test]
    fn dates() {
        use DateOrder::*;
        let d = |s: &str, o| norm(&[Norm::Date(o)], s);
        for s in [
            "1980-03-07",
            "1980/3/7",
            "19800307",
            "1980-03-07T12:00:00",
            "1980-03-07 00:00",
            "1980.03.07",
        ] {
            assert_eq!(d(s, YearFirstOnly), val("1980-03-07"), "{s}");
        }
        assert_eq!(d("07/03/1980", DayFirst), val("1980-03-07"));
        assert_eq!(d("7.3.1980", DayFirst), val("1980-03-07"));
        assert_eq!(d("3/7/1980", MonthFirst), val("1980-03-07"));
        assert_eq!(d("07/03/1980", YearFirstOnly), Normalised::Invalid);
        assert_eq!(d("29/02/2001", DayFirst), Normalised::Invalid);
        assert_eq!(d("29/02/2000", DayFirst), val("2000-02-29"));
        assert_eq!(d("29/02/1900", DayFirst), Normalised::Invalid);
        assert_eq!(d("07/03/80", DayFirst), Normalised::Invalid);
        assert_eq!(d("1980-13-01", DayFirst), Normalised::Invalid);
        assert_eq!(d("yesterday", DayFirst), Normalised::Invalid);
        assert_eq!(d(" ", DayFirst), Normalised::Missing);
    }

    #[test]
    fn encoding_separates_components_and_contexts() {
        assert_ne!(encode_key("s", &["ab", "c"]), encode_key("s", &["a", "bc"]));
        assert_ne!(encode_key("s", &["ab"]), encode_key("t", &["ab"]));
        assert_eq!(encode_key("s", &["ab"]), encode_key("s", &["ab"]));
    }

    fn spec(dup: Duplicates) -> KeySpec {
        KeySpec {
            columns: vec![KeyColumn::new(
                "id",
                &[Norm::Trim, Norm::DigitsOnly, Norm::StripLeadingZeros],
            )],
            duplicates: dup,
            context: "test".into(),
        }
    }

    fn table(ids: &[Option<&str>]) -> RawTable {
        RawTable {
            keys: vec![ids.iter().map(|s| s.map(str::to_string)).collect()],
            c64: vec![(0..ids.len() as u64).collect()],
            c128: vec![],
        }
    }

    #[test]
    fn missing_and_duplicates() {
        let t = table(&[
            Some("001"),
            Some(" 1"),
            None,
            Some("2"),
            Some("x"),
            Some("1"),
            Some("3"),
            Some("3"),
        ]);
        let err = prepare(&spec(Duplicates::Refuse), &t).unwrap_err();
        assert_eq!(err, LinkError::Duplicates { keys: 2, rows: 5 });
        let (p, r) = prepare(&spec(Duplicates::KeepFirst), &t).unwrap();
        assert_eq!(p.c64[0], vec![0, 3, 6]);
        assert_eq!(p.source_rows, vec![0, 3, 6]);
        assert_eq!(
            r,
            PrepareReport {
                rows_in: 8,
                missing: 2,
                invalid: 0,
                duplicate_keys: 2,
                duplicates_dropped: 3,
                rows_out: 3
            }
        );
        let (p, _) = prepare(&spec(Duplicates::KeepLast), &t).unwrap();
        assert_eq!(p.c64[0], vec![3, 5, 7]);
        let one = |s: &str| encode_key("test", &[s]);
        assert_eq!(p.keys, vec![one("2"), one("1"), one("3")]);
    }

    #[test]
    fn shape_errors() {
        let mut t = table(&[Some("1"), Some("2")]);
        t.c64[0].pop();
        assert!(prepare(&spec(Duplicates::Refuse), &t).is_err());
        let t = RawTable::default();
        assert!(prepare(&spec(Duplicates::Refuse), &t).is_err());
    }
}
