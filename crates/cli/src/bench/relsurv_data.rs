//! The relative survival workloads of `tessera bench survival` (`relsurv:ROWS`, Ederer II;
//! `relsurv-pp:ROWS`, Pohar Perme): the
//! registry's demography beside the synthetic follow-up, the paths (or weights) the registry
//! writes from it, the analysis, and the values compared with the plaintext twin.

use tessera_stats::relsurv::ederer::{EdererSpec, RelsurvResult};
use tessera_stats::relsurv::path::{kink_slots, path, path_columns, Path, DAYS_PER_YEAR};
use tessera_stats::relsurv::pohar::PoharSpec;
use tessera_stats::relsurv::weights::{weight_columns, weight_slots, Degree};
use tessera_stats::relsurv::{at_grid, rs_surv_plain, LifeTable, RelsurvMethod, RelsurvRow};
use tessera_stats::{PlainColumn, PlainData, PlainFrame};

/// The synthetic life table of `fixtures/relsurv/` (ages 0–99, 1990–2020, both sexes).
const LIFE_TABLE: &str = include_str!("../../../../fixtures/relsurv/lifetable.csv");

/// Grid: ten yearly times, `k·365.241` days (as R's fixtures).
fn grid() -> Vec<f64> {
    (1..=10).map(|k| f64::from(k) * DAYS_PER_YEAR).collect()
}

fn horizon() -> u32 {
    grid().last().expect("ten").ceil() as u32
}

fn table() -> Result<LifeTable, String> {
    LifeTable::from_csv(LIFE_TABLE, "fixtures/relsurv/lifetable.csv").map_err(|e| e.to_string())
}

/// The registry's demography: age at diagnosis 30–90 years (days), diagnosis 1995–2015
/// (days since 1970-01-01), sex 0/1; deterministic in `seed`.
pub fn demography(n: usize, seed: u64) -> Vec<PlainColumn> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (mut age, mut date, mut sex) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        age.push((30.0 + (next() % 60) as f64) * DAYS_PER_YEAR + (next() % 365) as f64);
        date.push(9131.0 + (next() % (21 * 365)) as f64);
        sex.push((next() % 2) as f64);
    }
    vec![
        PlainColumn::numeric("registry.age_days", &age),
        PlainColumn::numeric("registry.date_days", &date),
        PlainColumn::numeric("registry.sex", &sex),
    ]
}

fn numeric<'a>(d: &'a PlainFrame, name: &str) -> Result<&'a [Option<f64>], String> {
    d.columns
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| match &c.data {
            PlainData::Numeric(v) => Some(v.as_slice()),
            PlainData::Categorical { .. } => None,
        })
        .ok_or_else(|| format!("relsurv workload: no numeric column {name}"))
}

/// Follow-up 1.6 times as long (whole days), so that the ten-year grid has patients at risk
/// to its end (the synthetic times end near 3,000 days).
pub fn stretch_follow_up(d: &mut PlainFrame) {
    for c in d.columns.iter_mut().filter(|c| c.name == "registry.time") {
        if let PlainData::Numeric(v) = &mut c.data {
            for x in v.iter_mut().flatten() {
                *x = (*x * 1.6).ceil();
            }
        }
    }
}

/// The paths the registry writes from its own columns (`registry.path.*`).
pub fn paths(registry: &PlainFrame) -> Result<Vec<PlainColumn>, String> {
    let t = table()?;
    let (age, date, sex) = (
        numeric(registry, "registry.age_days")?,
        numeric(registry, "registry.date_days")?,
        numeric(registry, "registry.sex")?,
    );
    let cuts = (t.age_cutpoints(), t.year_cutpoints());
    let paths: Vec<Option<Path>> = (0..registry.rows)
        .map(|i| match (age[i], date[i], sex[i]) {
            (Some(a), Some(d), Some(s)) => {
                let s = s as usize;
                path(a, d, horizon(), cuts, |x, y| t.daily_rate(s, x, y)).ok()
            }
            _ => None,
        })
        .collect();
    Ok(path_columns("registry.path", kink_slots(horizon()), &paths))
}

/// The weights the registry writes for Pohar Perme from the same paths
/// (`registry.w.*`, [`tessera_stats::relsurv::weights`]).
pub fn weights(registry: &PlainFrame) -> Result<Vec<PlainColumn>, String> {
    let t = table()?;
    let (age, date, sex) = (
        numeric(registry, "registry.age_days")?,
        numeric(registry, "registry.date_days")?,
        numeric(registry, "registry.sex")?,
    );
    let cuts = (t.age_cutpoints(), t.year_cutpoints());
    let paths: Vec<Option<Path>> = (0..registry.rows)
        .map(|i| match (age[i], date[i], sex[i]) {
            (Some(a), Some(d), Some(s)) => {
                let s = s as usize;
                path(a, d, horizon(), cuts, |x, y| t.daily_rate(s, x, y)).ok()
            }
            _ => None,
        })
        .collect();
    let terms = Degree::for_rate(t.max_daily_rate())?.terms();
    weight_columns("registry.w", horizon(), terms, &paths)
}

/// Whether `name` is one of the weight columns [`weights`] writes (shared as one block:
/// they are missing together).
pub fn is_weight(name: &str) -> bool {
    name.starts_with("registry.w.")
}

/// Pohar Perme per `registry.group` on the grid.
pub fn pp_spec() -> Result<PoharSpec, String> {
    Ok(PoharSpec {
        time: "registry.time".into(),
        event: "registry.event".into(),
        group: Some("registry.group".into()),
        path: "registry.w".into(),
        slots: weight_slots(horizon()),
        times: grid(),
        conf_level: 0.95,
        max_rate: table()?.max_daily_rate(),
    })
}

/// Ederer II per `registry.group` on the grid.
pub fn spec() -> EdererSpec {
    EdererSpec {
        time: "registry.time".into(),
        event: "registry.event".into(),
        group: Some("registry.group".into()),
        path: "registry.path".into(),
        slots: kink_slots(horizon()),
        times: grid(),
        conf_level: 0.95,
    }
}

/// The compared values: every shown grid cell's survival (curve by curve), then their
/// standard errors; up to the last observed time of each group (where R's summary stops).
pub fn values(r: &RelsurvResult) -> Vec<f64> {
    let rows: Vec<_> = r.curves.iter().flat_map(|c| &c.rows).collect();
    let s = rows.iter().map(|x| x.survival.unwrap_or(-1.0));
    let se = rows.iter().map(|x| x.std_err.unwrap_or(-1.0));
    s.chain(se).collect()
}

/// The twin's values on the same data (relsurv's arithmetic, `tessera_stats::relsurv`).
pub fn plain_values(data: &PlainFrame, pp: bool) -> Result<Vec<f64>, String> {
    let t = table()?;
    let (time, event, age, date, sex) = (
        numeric(data, "registry.time")?,
        numeric(data, "registry.event")?,
        numeric(data, "registry.age_days")?,
        numeric(data, "registry.date_days")?,
        numeric(data, "registry.sex")?,
    );
    let group = data
        .columns
        .iter()
        .find(|c| c.name == "registry.group")
        .and_then(|c| match &c.data {
            PlainData::Categorical { codes, levels } => Some((codes, levels.len())),
            PlainData::Numeric(_) => None,
        })
        .ok_or("relsurv workload: no categorical registry.group")?;
    let mut s = Vec::new();
    let mut se = Vec::new();
    for g in 0..group.1 {
        let rows: Vec<RelsurvRow> = (0..data.rows)
            .filter(|&i| group.0[i] == Some(g))
            .map(|i| RelsurvRow {
                time: time[i].unwrap_or(0.0),
                event: event[i] == Some(1.0),
                age_days: age[i].unwrap_or(0.0),
                date_days: date[i].unwrap_or(0.0),
                sex: sex[i].unwrap_or(0.0) as usize,
            })
            .collect();
        let method = if pp {
            RelsurvMethod::PoharPerme
        } else {
            RelsurvMethod::EdererII
        };
        let fit = rs_surv_plain(&rows, &t, method).map_err(|e| e.to_string())?;
        let pts = at_grid(&fit, &grid(), 0.95).map_err(|e| e.to_string())?;
        for k in 0..grid().len() {
            // Past the group's last observed time R (and the twin) stop; the MPC grid goes on
            // with the last value, which is what the twin's last point says.
            let p = pts
                .get(k)
                .or(pts.last())
                .ok_or("relsurv workload: empty curve")?;
            s.push(p.surv);
            se.push(p.std_err);
        }
    }
    Ok(s.into_iter().chain(se).collect())
}
