//! The population life table of relative survival: expected mortality by sex, calendar
//! year and age, read from a public CSV file and looked up as R's `ratetable` is.
//!
//! # The file
//!
//! Long layout, one row per (sex, year, age), comma-separated, a header line first:
//!
//! ```text
//! sex,year,age,q          (or sex,year,age,mx  or  sex,year,age,hazard)
//! male,1990,0,0.00442
//! ```
//!
//! - `sex`: `male` or `female` (any case), or `1` (male) and `2` (female), relsurv's coding.
//!   Both sexes must be present.
//! - `year`: the calendar year, an integer in 1800..=2300; the years of the table must be
//!   consecutive.
//! - `age`: completed years, an integer; the ages must be exactly `0..A` (`A` ≤ 150).
//! - `q`: the probability of dying within the year of age, in `[0, 1)`; the daily rate is
//!   `−ln(1 − q) / 365.241`, as relsurv's `transrate.hmd` makes it (`transrate` takes the
//!   survival probability `p = 1 − q` and computes the same `−ln(p) / 365.241`).
//! - `mx` or `hazard`: deaths per person-year (a rate, `≥ 0`); the daily rate is
//!   `mx / 365.241`.
//!
//! Every (sex, year, age) must appear exactly once. Blank lines are ignored. Anything else
//! is refused with an error that names the file, the line and the field.
//!
//! # The lookup
//!
//! As relsurv's `pystep2` (the C code behind `rs.surv`) indexes a ratetable made by
//! `transrate`: the age cutpoints are `k · 365.241` days (`k = 0..A`), the year cutpoints
//! are 1 January of each year as days since 1970-01-01; a value `v` falls in the cell `j`
//! with `cut[j] ≤ v < cut[j + 1]`; before the first cutpoint the first cell is used and
//! from the last cutpoint on the last cell (the table extends its edge cells for ever).

use std::collections::HashMap;

use crate::error::{Result, StatsError};

/// Days in the year of the life table (relsurv's constant: ages are cut at `k · 365.241`
/// days and rates per year are divided by it to give rates per day).
pub const DAYS_PER_YEAR: f64 = 365.241;

/// The most ages a table may have (0..150).
pub const MAX_AGES: usize = 151;

/// The calendar years a table may cover.
pub const YEAR_RANGE: std::ops::RangeInclusive<i32> = 1800..=2300;

/// What the value column of the file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateKind {
    /// `q`: the probability of dying within the year of age.
    Probability,
    /// `mx` or `hazard`: deaths per person-year.
    PerYear,
}

/// A population life table: daily mortality rates by sex, calendar year and age, with the
/// cutpoints relsurv uses. Built only by [`LifeTable::from_csv`], so every cell is present,
/// finite and not negative.
#[derive(Clone, Debug)]
pub struct LifeTable {
    name: String,
    kind: RateKind,
    ages: usize,
    first_year: i32,
    years: usize,
    /// Daily rates, index `(sex · years + year) · ages + age`.
    rates: Vec<f64>,
    age_cuts: Vec<f64>,
    year_cuts: Vec<f64>,
}

/// Days from 1970-01-01 to the date `y-m-d` of the proleptic Gregorian calendar.
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The cell of `v` between sorted cutpoints, as `pystep2` finds it: the first `j` with
/// `v < cuts[j]`, less one, and 0 before the first cutpoint.
fn cell(cuts: &[f64], v: f64) -> usize {
    // `!(v < c)`, written so that a NaN `v` lands where C puts it (the last cell)
    cuts.partition_point(|&c| v.partial_cmp(&c) != Some(std::cmp::Ordering::Less))
        .saturating_sub(1)
}

impl LifeTable {
    /// Reads a life table from the text of its CSV file; `name` (the file's name) is used
    /// in the errors. See the module documentation for the format.
    pub fn from_csv(text: &str, name: &str) -> Result<LifeTable> {
        let err = |line: usize, field: &str, what: String| {
            StatsError::Invalid(format!(
                "life table `{name}`, line {line}, field `{field}`: {what}"
            ))
        };
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty());
        let (hline, header) = lines.next().ok_or_else(|| {
            StatsError::Invalid(format!(
                "life table `{name}`: the file is empty (expected the header `sex,year,age,q`, `sex,year,age,mx` or `sex,year,age,hazard`)"
            ))
        })?;
        let header = header.trim_start_matches('\u{feff}');
        let cols: Vec<String> = header
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .collect();
        let kind = match cols.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["sex", "year", "age", "q"] => RateKind::Probability,
            ["sex", "year", "age", "mx"] | ["sex", "year", "age", "hazard"] => RateKind::PerYear,
            _ => {
                return Err(err(
                    hline,
                    "header",
                    format!(
                        "`{header}` is not a life table header: expected `sex,year,age,q` (probability of dying within the year of age), `sex,year,age,mx` or `sex,year,age,hazard` (deaths per person-year)"
                    ),
                ))
            }
        };
        let value_name = cols[3].clone();

        // (sex, year, age) -> (rate per day, line)
        let mut cells: HashMap<(usize, i32, usize), (f64, usize)> = HashMap::new();
        for (ln, line) in lines {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != 4 {
                return Err(err(
                    ln,
                    "row",
                    format!(
                        "{} fields where the header has 4 (sex, year, age, {value_name})",
                        fields.len()
                    ),
                ));
            }
            let sex = match fields[0].to_ascii_lowercase().as_str() {
                "male" | "1" => 0,
                "female" | "2" => 1,
                other => {
                    return Err(err(
                        ln,
                        "sex",
                        format!(
                        "`{other}` is not a sex: use `male`/`female` or `1` (male)/`2` (female)"
                    ),
                    ))
                }
            };
            let year: i32 = fields[1].parse().map_err(|_| {
                err(
                    ln,
                    "year",
                    format!("`{}` is not a whole calendar year", fields[1]),
                )
            })?;
            if !YEAR_RANGE.contains(&year) {
                return Err(err(
                    ln,
                    "year",
                    format!(
                        "{year} is outside the years a life table may cover ({}..={})",
                        YEAR_RANGE.start(),
                        YEAR_RANGE.end()
                    ),
                ));
            }
            let age: usize = fields[2].parse().map_err(|_| {
                err(
                    ln,
                    "age",
                    format!("`{}` is not an age in whole years (0, 1, 2, …)", fields[2]),
                )
            })?;
            if age >= MAX_AGES {
                return Err(err(
                    ln,
                    "age",
                    format!(
                        "{age} is beyond the oldest age a life table may have ({})",
                        MAX_AGES - 1
                    ),
                ));
            }
            let v: f64 = fields[3]
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| {
                    err(
                        ln,
                        &value_name,
                        format!("`{}` is not a finite number", fields[3]),
                    )
                })?;
            let rate = match kind {
                RateKind::Probability => {
                    if !(0.0..1.0).contains(&v) {
                        return Err(err(
                            ln,
                            &value_name,
                            format!("{v} is outside [0, 1): q is the probability of dying within the year of age (1 would be an infinite rate)"),
                        ));
                    }
                    -(1.0 - v).ln() / DAYS_PER_YEAR
                }
                RateKind::PerYear => {
                    if v < 0.0 {
                        return Err(err(
                            ln,
                            &value_name,
                            format!(
                                "{v} is negative: {value_name} is deaths per person-year (≥ 0)"
                            ),
                        ));
                    }
                    v / DAYS_PER_YEAR
                }
            };
            if let Some(&(_, first)) = cells.get(&(sex, year, age)) {
                return Err(err(
                    ln,
                    "row",
                    format!(
                        "a second row for sex {}, year {year}, age {age} (the first is on line {first})",
                        SEX_NAMES[sex]
                    ),
                ));
            }
            cells.insert((sex, year, age), (rate, ln));
        }
        if cells.is_empty() {
            return Err(StatsError::Invalid(format!(
                "life table `{name}`: the file has a header but no rows"
            )));
        }
        let ages = cells.keys().map(|k| k.2).max().unwrap_or(0) + 1;
        let first_year = cells.keys().map(|k| k.1).min().unwrap_or(0);
        let last_year = cells.keys().map(|k| k.1).max().unwrap_or(0);
        let years = usize::try_from(last_year - first_year + 1).unwrap_or(0);
        let mut rates = Vec::with_capacity(2 * years * ages);
        for (sex, sex_name) in SEX_NAMES.iter().enumerate() {
            for y in 0..years {
                let year = first_year + y as i32;
                for age in 0..ages {
                    let (rate, _) = cells.get(&(sex, year, age)).ok_or_else(|| {
                        StatsError::Invalid(format!(
                            "life table `{name}`: no row for sex {sex_name}, year {year}, age {age}; the table must have every sex (male, female), every year {first_year}..={last_year} and every age 0..={} exactly once",
                            ages - 1
                        ))
                    })?;
                    rates.push(*rate);
                }
            }
        }
        let age_cuts = (0..ages).map(|k| k as f64 * DAYS_PER_YEAR).collect();
        let year_cuts = (0..years)
            .map(|y| days_from_civil(first_year + y as i32, 1, 1) as f64)
            .collect();
        Ok(LifeTable {
            name: name.to_string(),
            kind,
            ages,
            first_year,
            years,
            rates,
            age_cuts,
            year_cuts,
        })
    }

    /// The name the table was read under (its file's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the file gave probabilities (`q`) or rates per year (`mx`, `hazard`).
    pub fn kind(&self) -> RateKind {
        self.kind
    }

    /// The number of ages `A` (the ages are `0..A`).
    pub fn ages(&self) -> usize {
        self.ages
    }

    /// The first calendar year of the table.
    pub fn first_year(&self) -> i32 {
        self.first_year
    }

    /// The number of calendar years (`first_year()..first_year() + years()`).
    pub fn years(&self) -> usize {
        self.years
    }

    /// The daily rate of a cell: `sex` 0 (male) or 1 (female), `age_index` in `0..ages()`,
    /// `year_index` in `0..years()`. NaN for an index outside the table (never a panic).
    pub fn rate(&self, sex: usize, age_index: usize, year_index: usize) -> f64 {
        if sex > 1 || age_index >= self.ages || year_index >= self.years {
            return f64::NAN;
        }
        self.rates[(sex * self.years + year_index) * self.ages + age_index]
    }

    /// The highest daily rate of any cell: it sets the degrees of Pohar Perme's series
    /// ([`super::weights::Degree::for_rate`]).
    pub fn max_daily_rate(&self) -> f64 {
        self.rates.iter().copied().fold(0.0, f64::max)
    }

    /// The age cutpoints in days, `k · 365.241` for `k = 0..ages()`.
    pub fn age_cutpoints(&self) -> &[f64] {
        &self.age_cuts
    }

    /// The year cutpoints: 1 January of each year of the table, as days since 1970-01-01.
    pub fn year_cutpoints(&self) -> &[f64] {
        &self.year_cuts
    }

    /// The age cell of an age in days (clamped to the table as relsurv clamps it).
    pub fn age_index(&self, age_days: f64) -> usize {
        cell(&self.age_cuts, age_days)
    }

    /// The year cell of a date in days since 1970-01-01 (clamped to the table).
    pub fn year_index(&self, date_days: f64) -> usize {
        cell(&self.year_cuts, date_days)
    }

    /// The daily rate of someone of sex `sex_index` (0 male, 1 female) aged `age_days` on
    /// the date `date_days` (days since 1970-01-01): the rate of the cell both fall in,
    /// the edge cells beyond the table's ends. NaN for a sex index other than 0 or 1.
    pub fn daily_rate(&self, sex_index: usize, age_days: f64, date_days: f64) -> f64 {
        self.rate(
            sex_index,
            self.age_index(age_days),
            self.year_index(date_days),
        )
    }
}

/// The sexes in the table's order (index 0 and 1).
pub const SEX_NAMES: [&str; 2] = ["male", "female"];
