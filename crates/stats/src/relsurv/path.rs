//! A patient's expected-mortality path, computed in plaintext by the data owner that holds
//! the patient's age at diagnosis, diagnosis date and sex.
//!
//! relsurv (and so tessera) evaluates the population hazard at the start of each day of
//! follow-up: on day `d` (0, 1, 2, …) the daily rate of the life table's cell at (age + d,
//! diagnosis date + d, sex). That rate is a step function of `d`: it changes only on the
//! days when the attained age crosses a year of age or the calendar crosses a new year.
//! Everything about it depends on the owner's own columns and the public life table, not on
//! follow-up; so the owner writes it down as the rate on day 0 and a fixed number of
//! *kinks* `(κ, Δ)`: from day `κ` on, the rate is `Δ` higher. The follow-up (which may come
//! from another station) is combined with it only inside MPC ([`super::ederer`]).
//!
//! The number of kinks is public and the same for every patient ([`kink_slots`]): unused
//! slots are `(0, 0)` and change nothing. So the shared columns reveal nothing about the
//! patient beyond what they encode, and they are secret-shared like any other column.

use crate::table::PlainColumn;

/// Extra bits of the shared rates: a rate column holds `rate·2^RATE_BITS` (and fixed point
/// on top), so rates of 10^-7 per day keep twelve significant digits.
pub const RATE_BITS: u32 = 16;

/// Days per year of age, as relsurv's rate tables (`transrate`: 365.241).
pub const DAYS_PER_YEAR: f64 = 365.241;

/// The kink slots per patient for follow-up up to `horizon` days: at most one crossing of
/// an age cutpoint and one of a year cutpoint in every 365 days, counted on days 1 to
/// `horizon`.
pub fn kink_slots(horizon: u32) -> usize {
    let per = (horizon.saturating_sub(1) / 365) as usize + 1;
    2 * per
}

/// One patient's daily population rate on days `0..=horizon`: `rate0` on day 0, then
/// `rate0 + Σ_{κ ≤ d} Δ` on day `d`.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// The daily rate on day 0.
    pub rate0: f64,
    /// `(κ, Δ)`, `κ` in days (`1..=horizon`, ascending), exactly [`kink_slots`] of them
    /// (unused slots `(0, 0)` at the end).
    pub kinks: Vec<(f64, f64)>,
}

impl Path {
    /// The daily rate on day `d`.
    pub fn rate(&self, d: f64) -> f64 {
        self.rate0
            + self
                .kinks
                .iter()
                .filter(|&&(k, dl)| dl != 0.0 && k <= d)
                .map(|&(_, dl)| dl)
                .sum::<f64>()
    }

    /// The expected cumulative hazard over days `0..t` (whole days): `Σ_{d < t} rate(d)`.
    pub fn cumulative(&self, t: f64) -> f64 {
        let mut h = self.rate0 * t;
        for &(k, dl) in &self.kinks {
            if dl != 0.0 && k < t {
                h += dl * (t - k);
            }
        }
        h
    }
}

/// The path of a patient aged `age` days at diagnosis on day `date` (days since
/// 1970-01-01), up to `horizon` days, given the table's age cutpoints (days) and year
/// cutpoints (days since 1970-01-01) and the daily rate `rate(age_days, date_days)` of the
/// patient's sex (the table's cell lookup). The kinks are found where the cutpoints say
/// the cell can change, each confirmed by the lookup itself (so the path is exactly the
/// lookup's step function, whatever its rounding), and `Δ` is the lookup's difference.
pub fn path(
    age: f64,
    date: f64,
    horizon: u32,
    (age_cuts, year_cuts): (&[f64], &[f64]),
    rate: impl Fn(f64, f64) -> f64,
) -> Result<Path, String> {
    if !(age.is_finite() && date.is_finite()) {
        return Err("age and diagnosis date must be finite".into());
    }
    let h = f64::from(horizon);
    let mut days: Vec<u32> = Vec::new();
    for (cuts, start) in [(age_cuts, age), (year_cuts, date)] {
        for &c in cuts {
            let x = c - start;
            if x <= -1.0 || x > h + 1.0 {
                continue;
            }
            let d0 = x.ceil();
            for d in [d0 - 1.0, d0, d0 + 1.0] {
                if d >= 1.0 && d <= h {
                    days.push(d as u32);
                }
            }
        }
    }
    days.sort_unstable();
    days.dedup();
    let at = |d: u32| rate(age + f64::from(d), date + f64::from(d));
    let rate0 = at(0);
    let mut kinks: Vec<(f64, f64)> = Vec::new();
    for d in days {
        let dl = at(d) - at(d - 1);
        if dl != 0.0 {
            kinks.push((f64::from(d), dl));
        }
    }
    let slots = kink_slots(horizon);
    if kinks.len() > slots {
        return Err(format!(
            "the life table's cells change on {} days of the first {horizon}, more than the \
             {slots} crossings of yearly cutpoints allow: are its cutpoints yearly?",
            kinks.len()
        ));
    }
    kinks.resize(slots, (0.0, 0.0));
    Ok(Path { rate0, kinks })
}

/// The shared columns of a path, named `{prefix}.rate0` and, per slot `j`,
/// `{prefix}.k{j}` (κ, days), `{prefix}.d{j}` (Δ) and `{prefix}.dk{j}` (Δ·κ); rates scaled
/// by `2^RATE_BITS`. `None` rows (a missing age, date or sex) are missing in every column.
pub fn path_columns(prefix: &str, slots: usize, paths: &[Option<Path>]) -> Vec<PlainColumn> {
    let scale = f64::from(1u32 << RATE_BITS);
    let col = |name: String, f: &dyn Fn(&Path) -> f64| PlainColumn {
        name,
        data: crate::table::PlainData::Numeric(paths.iter().map(|p| p.as_ref().map(f)).collect()),
    };
    let mut out = vec![col(format!("{prefix}.rate0"), &|p| p.rate0 * scale)];
    for j in 0..slots {
        out.push(col(format!("{prefix}.k{j}"), &|p| p.kinks[j].0));
        out.push(col(format!("{prefix}.d{j}"), &|p| p.kinks[j].1 * scale));
        out.push(col(format!("{prefix}.dk{j}"), &|p| {
            p.kinks[j].1 * p.kinks[j].0 * scale
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table whose rate is `1e-5·(1 + age_index) + 1e-6·year_index`, cells by cutpoints.
    fn cell(cuts: &[f64], x: f64) -> usize {
        cuts.iter().rposition(|&c| c <= x).unwrap_or(0)
    }

    #[test]
    fn the_path_is_the_lookup_day_by_day() {
        let ages: Vec<f64> = (0..101).map(|a| a as f64 * DAYS_PER_YEAR).collect();
        // 1 January 1990.. as days since 1970-01-01 (leap years included).
        let mut years = vec![7305.0];
        for y in 1990..2030 {
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let last = *years.last().unwrap();
            years.push(last + if leap { 366.0 } else { 365.0 });
        }
        let rate =
            |a: f64, d: f64| 1e-5 * (1 + cell(&ages, a)) as f64 + 1e-6 * cell(&years, d) as f64;
        for (age, date) in [
            (65.5 * DAYS_PER_YEAR, 9000.0),
            (23000.0, 7305.0),
            (36800.0, 21000.0),
            (0.0, 7000.0),
        ] {
            let p = path(age, date, 3653, (&ages, &years), rate).unwrap();
            assert_eq!(p.kinks.len(), kink_slots(3653));
            let mut h = 0.0;
            for d in 0..=3653u32 {
                let want = rate(age + f64::from(d), date + f64::from(d));
                assert!((p.rate(f64::from(d)) - want).abs() < 1e-18, "day {d}");
                assert!(
                    (p.cumulative(f64::from(d)) - h).abs() < 1e-12,
                    "cumulative {d}"
                );
                h += want;
            }
        }
    }
}
