//! `kind = "relsurv"`: relative (net) survival as a study names it, and the data owner's
//! part of it.
//!
//! The study names the follow-up (time in whole days, event), the patient's age at
//! diagnosis, diagnosis date and sex, and a public life table. The station holding age,
//! date and sex (the *owner*, one station: the validation refuses them spread over several)
//! writes each patient's expected-mortality path ([`super::path`]) from its own columns and
//! the life table before anything is shared ([`RelsurvSpec::path_columns`]); the path is
//! shared as extra columns of that station's table, named under [`RelsurvSpec::path_prefix`],
//! and meets the follow-up only inside MPC ([`super::ederer`]).

use serde::{Deserialize, Serialize};

use crate::error::{Result, StatsError};
use crate::table::{PlainColumn, PlainFrame};

use super::ederer::EdererSpec;
use super::path::{kink_slots, path, path_columns, Path, DAYS_PER_YEAR};
use super::pohar::PoharSpec;
use super::table::LifeTable;
use super::weights::{weight_columns, weight_slots, Degree, MAX_RATE};

/// The largest sum of Pohar Perme weights the protocol holds (2^50, `relsurv::pohar`'s
/// reciprocal); the owner refuses paths whose weights could reach it.
pub const WEIGHT_SUM_LIMIT: f64 = 1_125_899_906_842_624.0;

/// The linkage's limit on a station's shared columns per ring (`tessera_link`'s
/// `MAX_COLUMNS`): every numeric column takes two (its values and its present indicator), so
/// the owner's path columns must stay within half of it.
pub const LINK_MAX_COLUMNS: usize = 4096;

/// The shared columns (values and present indicators) of `path_columns` for a grid ending
/// on day `horizon`: Ederer II's `1 + 3·slots`, Pohar Perme's `(2 + terms)·slots`, each twice.
fn shared_path_columns(method: Method, horizon: u32, terms: usize) -> usize {
    let per_row = match method {
        Method::EdererII => 1 + 3 * kink_slots(horizon),
        Method::PoharPerme => (2 + terms) * weight_slots(horizon),
    };
    2 * per_row
}

fn conf_level() -> f64 {
    0.95
}

/// The unit of the age column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgeUnit {
    /// Years (fractions allowed): days are `years · 365.241`, as relsurv's examples
    /// (`age = age·365.241`).
    #[default]
    Years,
    /// Days.
    Days,
}

/// Which levels of the sex column are the life table's `male` and `female`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SexLevels {
    /// The level read as male.
    pub male: String,
    /// The level read as female.
    pub female: String,
}

/// The net survival estimator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum Method {
    /// Ederer II (relsurv `method = "ederer2"`).
    #[default]
    #[serde(rename = "ederer2")]
    EdererII,
    /// Pohar Perme net survival (relsurv `method = "pohar-perme"`).
    #[serde(rename = "pohar-perme")]
    PoharPerme,
}

/// `kind = "relsurv"`: relative survival at a grid of days, overall or by group, as
/// `relsurv::rs.surv` with `summary(fit, times = …)`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RelsurvSpec {
    /// Follow-up time in whole days (`party.column` or a `[followup]` time in days).
    pub time: String,
    /// Event column (1 = death, 0 = censored).
    pub event: String,
    /// Categorical column whose levels are the groups; none: one curve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Age at diagnosis (numeric, in `age_unit`).
    pub age: String,
    /// The unit of `age` (default years).
    #[serde(default)]
    pub age_unit: AgeUnit,
    /// Date of diagnosis (a date column).
    pub diagnosis_date: String,
    /// Sex (categorical); `sex_levels` says which levels are male and female.
    pub sex: String,
    /// The sex column's levels read as the life table's male and female (other levels:
    /// the row is not a complete case).
    pub sex_levels: SexLevels,
    /// The life table: the name of a `[life_tables.NAME]` of the study.
    pub life_table: String,
    /// Grid times in days, strictly increasing.
    pub times: Vec<f64>,
    /// The estimator (default Ederer II).
    #[serde(default)]
    pub method: Method,
    /// Pohar Perme only: a bound on the life table's daily rates (default and at most
    /// [`MAX_RATE`]); it sets the number of shared columns, and the owner refuses a table
    /// whose highest rate exceeds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_daily_rate: Option<f64>,
    /// Confidence level of the intervals (log scale, as relsurv).
    #[serde(default = "conf_level")]
    pub conf_level: f64,
}

/// The party of a `party.column` reference.
fn party_of(r: &str) -> &str {
    r.split_once('.').map_or(r, |(p, _)| p)
}

impl RelsurvSpec {
    /// The station holding age, diagnosis date and sex (the party of `age`); the
    /// validation checks the three are one station's.
    pub fn owner(&self) -> &str {
        party_of(&self.age)
    }

    /// The last day the path must cover: the grid's last time, rounded up.
    pub fn horizon(&self) -> u32 {
        let last = self.times.last().copied().unwrap_or(0.0);
        if last.is_finite() && last > 0.0 {
            last.ceil().min(f64::from(u32::MAX)) as u32
        } else {
            0
        }
    }

    /// Slots per patient: Ederer II's kinks ([`kink_slots`]) or Pohar Perme's breakpoints
    /// ([`weight_slots`]) up to the horizon.
    pub fn slots(&self) -> usize {
        match self.method {
            Method::EdererII => kink_slots(self.horizon()),
            Method::PoharPerme => weight_slots(self.horizon()),
        }
    }

    /// Pohar Perme's public bound on the daily rates ([`Self::max_daily_rate`]).
    pub fn max_rate(&self) -> f64 {
        self.max_daily_rate.unwrap_or(MAX_RATE)
    }

    /// Pohar Perme's Taylor coefficients per breakpoint, from [`Self::max_rate`].
    fn terms(&self) -> Result<usize> {
        Degree::for_rate(self.max_rate())
            .map(Degree::terms)
            .map_err(|e| StatsError::Invalid(format!("relsurv: max_daily_rate: {e}")))
    }

    /// The name under which the owner shares the path columns: `owner.__relsurv_` and a
    /// digest of everything the path depends on (the columns, the age unit, the sex levels,
    /// the life table's name and the horizon), so two analyses of the same path share it
    /// and any difference gives other columns.
    pub fn path_prefix(&self) -> String {
        let key = format!(
            "{}\u{1f}{:?}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{:?}\u{1f}{}",
            self.age,
            self.age_unit,
            self.diagnosis_date,
            self.sex,
            self.sex_levels.male,
            self.sex_levels.female,
            self.life_table,
            self.horizon(),
            self.method,
            match self.method {
                Method::EdererII => String::new(),
                Method::PoharPerme => format!("{:e}", self.max_rate()),
            }
        );
        // FNV-1a, 64 bits: a stable name, not a security device.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{}.__relsurv_{h:016x}", self.owner())
    }

    /// The names of the path columns, in the order [`Self::path_columns`] writes them.
    pub fn path_column_names(&self) -> Vec<String> {
        let prefix = self.path_prefix();
        match self.method {
            Method::EdererII => {
                let mut v = vec![format!("{prefix}.rate0")];
                for j in 0..self.slots() {
                    for part in ["k", "d", "dk"] {
                        v.push(format!("{prefix}.{part}{j}"));
                    }
                }
                v
            }
            Method::PoharPerme => {
                // An invalid bound is refused by `check` before any column is named.
                let terms = self.terms().unwrap_or(0);
                let mut v = Vec::new();
                for r in 0..self.slots() {
                    v.push(format!("{prefix}.w{r}.day"));
                    v.push(format!("{prefix}.w{r}.dg"));
                    for m in 0..terms {
                        v.push(format!("{prefix}.w{r}.v{m}"));
                    }
                }
                v
            }
        }
    }

    /// The analysis as the MPC protocol takes it.
    pub fn ederer_spec(&self) -> EdererSpec {
        EdererSpec {
            time: self.time.clone(),
            event: self.event.clone(),
            group: self.group.clone(),
            path: self.path_prefix(),
            slots: self.slots(),
            times: self.times.clone(),
            conf_level: self.conf_level,
        }
    }

    /// The Pohar Perme analysis as the MPC protocol takes it.
    pub fn pohar_spec(&self) -> PoharSpec {
        PoharSpec {
            time: self.time.clone(),
            event: self.event.clone(),
            group: self.group.clone(),
            path: self.path_prefix(),
            slots: self.slots(),
            times: self.times.clone(),
            conf_level: self.conf_level,
            max_rate: self.max_rate(),
        }
    }

    /// Refusals before any data is read (the grid, the level, the sex levels, the rate
    /// bound).
    pub fn check(&self) -> Result<()> {
        if self.sex_levels.male == self.sex_levels.female {
            return Err(StatsError::Invalid(format!(
                "relsurv: sex_levels: male and female are both \"{}\"",
                self.sex_levels.male
            )));
        }
        // A grid so long that the owner's path columns could not be linked: refused here,
        // naming the field, rather than late at sharing time.
        let terms = match self.method {
            Method::EdererII => 0,
            Method::PoharPerme => self.terms()?,
        };
        let horizon = self.horizon();
        let need = shared_path_columns(self.method, horizon, terms);
        if need > LINK_MAX_COLUMNS {
            // The columns grow with the horizon: the last day that fits, by bisection.
            let (mut lo, mut hi) = (0u32, horizon);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if shared_path_columns(self.method, mid, terms) <= LINK_MAX_COLUMNS {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let fits = lo;
            return Err(StatsError::Invalid(format!(
                "relsurv: times: a grid ending on day {horizon} needs {need} shared path columns \
                 at the owner (values and present indicators), beyond the linkage's \
                 {LINK_MAX_COLUMNS} per ring; with this method{} the grid may end on day {fits} \
                 at the latest",
                match self.method {
                    Method::EdererII => String::new(),
                    Method::PoharPerme => format!(" and max_daily_rate {}", self.max_rate()),
                }
            )));
        }
        match self.method {
            Method::EdererII => {
                if self.max_daily_rate.is_some() {
                    return Err(StatsError::Invalid(
                        "relsurv: max_daily_rate: only for method = \"pohar-perme\"".into(),
                    ));
                }
                super::ederer::check(&self.ederer_spec())
            }
            Method::PoharPerme => {
                self.terms()?;
                super::pohar::check(&self.pohar_spec())
            }
        }
    }

    /// At the owner: the path columns of every row of `frame` (the owner's own table, its
    /// columns named `party.column`) with `table`. A row with a missing age, date or sex, or
    /// a sex level that is neither of `sex_levels`, gets missing path columns (it is not a
    /// complete case). Errors name the column, never a value.
    pub fn path_columns(&self, frame: &PlainFrame, table: &LifeTable) -> Result<Vec<PlainColumn>> {
        let age = frame.numeric(&self.age)?;
        let date = frame.numeric(&self.diagnosis_date)?;
        let (levels, codes) = frame.categorical(&self.sex)?;
        let find = |l: &str| levels.iter().position(|x| x == l);
        let (male, female) = (find(&self.sex_levels.male), find(&self.sex_levels.female));
        let horizon = self.horizon();
        let cuts = (table.age_cutpoints(), table.year_cutpoints());
        let scale = match self.age_unit {
            AgeUnit::Years => DAYS_PER_YEAR,
            AgeUnit::Days => 1.0,
        };
        let mut paths: Vec<Option<Path>> = Vec::with_capacity(frame.rows);
        for i in 0..frame.rows {
            let sex = match codes[i] {
                Some(c) if Some(c) == male => Some(0),
                Some(c) if Some(c) == female => Some(1),
                _ => None,
            };
            let (Some(a), Some(d), Some(s)) = (age[i], date[i], sex) else {
                paths.push(None);
                continue;
            };
            if !(a.is_finite() && a >= 0.0) {
                return Err(StatsError::Invalid(format!(
                    "relsurv: row {}: {} is not an age (finite, ≥ 0)",
                    i + 1,
                    self.age
                )));
            }
            let p = path(a * scale, d, horizon, cuts, |x, y| {
                table.daily_rate(s, x, y)
            })
            .map_err(|e| {
                StatsError::Invalid(format!(
                    "relsurv: row {}: the life table {}: {e}",
                    i + 1,
                    table.name()
                ))
            })?;
            paths.push(Some(p));
        }
        match self.method {
            Method::EdererII => Ok(path_columns(&self.path_prefix(), self.slots(), &paths)),
            Method::PoharPerme => {
                let highest = table.max_daily_rate();
                if highest > self.max_rate() {
                    return Err(StatsError::Invalid(format!(
                        "relsurv: the life table {}'s highest daily rate is {highest:e}, above \
                         the study's max_daily_rate {:e}: raise max_daily_rate (at most \
                         {MAX_RATE})",
                        table.name(),
                        self.max_rate()
                    )));
                }
                // The protocol holds sums of weights at risk below 2^WEIGHT_SUM_BITS; the linked
                // rows are some of these, and a weight only grows with time, so the sum of
                // every row's weight one day past the horizon bounds every sum it forms.
                let total: f64 = paths
                    .iter()
                    .flatten()
                    .map(|p| p.cumulative(f64::from(horizon) + 1.0).exp())
                    .sum();
                if total.is_nan() || total >= WEIGHT_SUM_LIMIT {
                    return Err(StatsError::Invalid(format!(
                        "relsurv: the patients' Pohar Perme weights 1/S at the grid's end sum to \
                         {total:.3e}, beyond the 2^50 the protocol holds (its numbers would be \
                         wrong): end the grid earlier"
                    )));
                }
                weight_columns(&self.path_prefix(), horizon, self.terms()?, &paths)
                    .map_err(|e| StatsError::Invalid(format!("relsurv: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RelsurvSpec {
        RelsurvSpec {
            time: "fu.time".into(),
            event: "fu.event".into(),
            group: None,
            age: "registry.age".into(),
            age_unit: AgeUnit::Years,
            diagnosis_date: "registry.diagnosed".into(),
            sex: "registry.sex".into(),
            sex_levels: SexLevels {
                male: "M".into(),
                female: "F".into(),
            },
            life_table: "pop".into(),
            times: vec![365.241, 1826.205],
            method: Method::EdererII,
            max_daily_rate: None,
            conf_level: 0.95,
        }
    }

    #[test]
    fn the_prefix_follows_everything_the_path_depends_on() {
        let a = spec();
        assert!(a.path_prefix().starts_with("registry.__relsurv_"));
        assert_eq!(a.path_prefix(), spec().path_prefix());
        let mut b = spec();
        b.age_unit = AgeUnit::Days;
        let mut c = spec();
        c.times.push(3652.41);
        let mut d = spec();
        d.sex_levels.male = "1".into();
        let mut e = spec();
        e.group = Some("registry.stage".into());
        for other in [&b, &c, &d] {
            assert_ne!(a.path_prefix(), other.path_prefix());
        }
        // The group and the follow-up do not change the path.
        assert_eq!(a.path_prefix(), e.path_prefix());
        assert_eq!(a.path_column_names().len(), 1 + 3 * a.slots());
    }

    #[test]
    fn equal_sex_levels_are_refused() {
        let mut s = spec();
        s.sex_levels.female = "M".into();
        assert!(s.check().unwrap_err().to_string().contains("sex_levels"));
    }
}
