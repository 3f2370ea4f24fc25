//! Ederer II relative survival in MPC against a direct transcription of relsurv's loop
//! (`netfastpinter2`: crude intervals at the observed times, daily rates at the start of
//! each day), on a synthetic life table and synthetic patients with ties, censoring, two
//! groups and ages and years running past the table's ends.

mod common;
use common::{in_mpc, XorRng as Rng};

use tessera_stats::relsurv::ederer::{ederer2, EdererSpec, RelsurvResult};
use tessera_stats::relsurv::path::{kink_slots, path, path_columns, Path, DAYS_PER_YEAR};
use tessera_stats::{Disclosure, PlainColumn, PlainData, PlainFrame};

/// Age cutpoints 0..=100 years (days), year cutpoints 1 January 1990..=2020 (days since
/// 1970-01-01).
fn cuts() -> (Vec<f64>, Vec<f64>) {
    let ages = (0..=100).map(|a| f64::from(a) * DAYS_PER_YEAR).collect();
    let mut years = vec![7305.0];
    for y in 1990..2020 {
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let last = *years.last().unwrap();
        years.push(last + if leap { 366.0 } else { 365.0 });
    }
    (ages, years)
}

fn cell(cuts: &[f64], x: f64) -> usize {
    cuts.iter().rposition(|&c| c <= x).unwrap_or(0)
}

/// Daily rate: Gompertz in age, falling 1.5% a year in calendar time, women 30% lower.
fn rate(sex: usize, age: f64, date: f64) -> f64 {
    let (ages, years) = cuts();
    let a = cell(&ages, age) as f64;
    let y = cell(&years, date) as f64;
    let annual = (-9.6 + 0.088 * a).exp() * (1.0 - 0.015 * y) * if sex == 1 { 0.7 } else { 1.0 };
    annual.min(0.9) / DAYS_PER_YEAR
}

struct Patient {
    time: f64,
    event: bool,
    age: f64,
    date: f64,
    sex: usize,
    group: usize,
}

fn patients(n: usize, seed: u64) -> Vec<Patient> {
    let mut r = Rng(seed);
    (0..n)
        .map(|i| {
            let age_years = 30.0 + r.below(70) as f64; // 30..99: some run past the table
            let age = age_years * DAYS_PER_YEAR + r.below(365) as f64 + 0.5 * (i % 2) as f64;
            let date = 8400.0 + r.below(365 * 22) as f64; // 1993..2015: some past 2020
            let group = (r.below(3) == 0) as usize;
            // Coarse times (ties), heavier mortality in group 1 and at high ages.
            let scale = if group == 1 { 4000 } else { 8000 } - (age_years as u64 - 30) * 25;
            let time = (1 + r.below(scale.max(200)) / 7 * 7) as f64;
            let censor = 200 + r.below(4200);
            let (time, event) = if time as u64 <= censor {
                (time, r.below(5) != 0)
            } else {
                (censor as f64, false)
            };
            Patient {
                time,
                event,
                age,
                date,
                sex: r.below(2) as usize,
                group,
            }
        })
        .collect()
}

/// relsurv's Ederer II at whole-day times, transcribed: per crude interval
/// `(t_{j-1}, t_j]`, `yidli = Σ_{T ≥ t_j} Σ_{days d in [t_{j-1}, t_j)} λ(d)`.
fn ederer2_reference(rows: &[(&Patient, &Path)], grid: &[f64]) -> Vec<(f64, f64, f64)> {
    let mut times: Vec<f64> = rows.iter().map(|(p, _)| p.time).collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let (mut s, mut v, mut prev) = (1.0, 0.0, 0.0);
    let mut at_times = Vec::new();
    for &t in &times {
        let at: Vec<_> = rows.iter().filter(|(p, _)| p.time >= t).collect();
        let y = at.len() as f64;
        let d = at.iter().filter(|(p, _)| p.time == t && p.event).count() as f64;
        let mut e = 0.0;
        for (_, path) in &at {
            let mut day = prev;
            while day < t {
                e += path.rate(day);
                day += 1.0;
            }
        }
        s *= 1.0 - (d - e) / y;
        v += d / (y * y);
        at_times.push((t, s, v));
        prev = t;
    }
    grid.iter()
        .map(|&tau| {
            let last = at_times.iter().rev().find(|(t, _, _)| *t <= tau);
            let n = rows.iter().filter(|(p, _)| p.time >= tau).count() as f64;
            match last {
                Some(&(_, s, v)) => (s, v.sqrt(), n),
                None => (1.0, 0.0, n),
            }
        })
        .collect()
}

fn frame(ps: &[Patient], paths: &[Path], slots: usize) -> PlainFrame {
    let mut columns = vec![
        PlainColumn::numeric("time", &ps.iter().map(|p| p.time).collect::<Vec<_>>()),
        PlainColumn::numeric(
            "event",
            &ps.iter()
                .map(|p| f64::from(u8::from(p.event)))
                .collect::<Vec<_>>(),
        ),
        PlainColumn::categorical(
            "group",
            &["a", "b"],
            &ps.iter().map(|p| p.group).collect::<Vec<_>>(),
        ),
    ];
    let opt: Vec<Option<Path>> = paths.iter().cloned().map(Some).collect();
    columns.extend(path_columns("path", slots, &opt));
    PlainFrame {
        rows: ps.len(),
        columns,
    }
}

fn open() -> Disclosure {
    Disclosure {
        min_cell: Some(0),
        min_events: 0,
        min_rows: 0,
        ..Disclosure::default()
    }
}

#[test]
fn ederer2_in_mpc_matches_relsurvs_loop() {
    let horizon = 3650u32;
    let slots = kink_slots(horizon);
    let (ages, years) = cuts();
    let ps = patients(300, 0x5eed_1234);
    let paths: Vec<Path> = ps
        .iter()
        .map(|p| {
            path(p.age, p.date, horizon, (&ages, &years), |a, d| {
                rate(p.sex, a, d)
            })
            .unwrap()
        })
        .collect();
    let grid: Vec<f64> = (1..=10).map(|y| f64::from(y * 365)).collect();
    let spec = EdererSpec {
        time: "time".into(),
        event: "event".into(),
        group: Some("group".into()),
        path: "path".into(),
        slots,
        times: grid.clone(),
        conf_level: 0.95,
    };
    let fr = frame(&ps, &paths, slots);
    let res: RelsurvResult = in_mpc(&fr, |p, f| ederer2(p, f, &spec, &open())).unwrap();
    let mut worst = (0.0f64, 0.0f64);
    for (g, curve) in res.curves.iter().enumerate() {
        let rows: Vec<(&Patient, &Path)> = ps
            .iter()
            .zip(&paths)
            .filter(|(p, _)| p.group == g)
            .collect();
        let want = ederer2_reference(&rows, &grid);
        for (row, (s, se, n)) in curve.rows.iter().zip(want) {
            let got_s = row.survival.unwrap();
            let got_se = row.std_err.unwrap() / got_s;
            assert_eq!(row.at_risk.unwrap() as f64, n, "at risk at {}", row.time);
            assert!(
                (got_s - s).abs() < 1e-5,
                "group {g} at {}: S {got_s} vs {s}",
                row.time
            );
            if se > 0.0 {
                assert!((got_se - se).abs() / se < 1e-4, "se {got_se} vs {se}");
                worst.1 = worst.1.max((got_se - se).abs() / se);
            }
            worst.0 = worst.0.max((got_s - s).abs());
        }
    }
    eprintln!(
        "worst |ΔS| {:.2e}, worst relative Δse {:.2e}",
        worst.0, worst.1
    );
}

#[test]
fn fractional_or_negative_follow_up_is_refused() {
    let horizon = 730u32;
    let slots = kink_slots(horizon);
    let (ages, years) = cuts();
    for bad in [100.5, -3.0, 40_000.0] {
        let mut ps = patients(40, 7);
        ps[5].time = bad;
        let paths: Vec<Path> = ps
            .iter()
            .map(|p| {
                path(p.age, p.date, horizon, (&ages, &years), |a, d| {
                    rate(p.sex, a, d)
                })
                .unwrap()
            })
            .collect();
        let spec = EdererSpec {
            time: "time".into(),
            event: "event".into(),
            group: None,
            path: "path".into(),
            slots,
            times: vec![365.0, 730.0],
            conf_level: 0.95,
        };
        let fr = frame(&ps, &paths, slots);
        let err = in_mpc(&fr, |p, f| ederer2(p, f, &spec, &open())).unwrap_err();
        assert!(err.contains("whole, non-negative"), "{err}");
    }
}

#[test]
fn a_researchers_grid_is_checked_before_any_data() {
    let base = EdererSpec {
        time: "time".into(),
        event: "event".into(),
        group: None,
        path: "path".into(),
        slots: kink_slots(730),
        times: vec![365.0, 730.0],
        conf_level: 0.95,
    };
    let check = tessera_stats::relsurv::ederer::check;
    assert!(check(&base).is_ok());
    for times in [
        vec![],
        vec![730.0, 365.0],
        vec![0.0],
        vec![f64::NAN],
        vec![4e5],
    ] {
        let s = EdererSpec {
            times,
            ..base.clone()
        };
        assert!(check(&s).is_err(), "{:?}", s.times);
    }
    let s = EdererSpec {
        times: vec![3650.0],
        ..base.clone()
    };
    assert!(check(&s).unwrap_err().to_string().contains("kink slots"));
    let s = EdererSpec {
        conf_level: 1.0,
        ..base
    };
    assert!(check(&s).is_err());
    let _ = PlainData::Numeric(vec![]);
}

/// R's own numbers (`fixtures/relsurv/`, made by `make_relsurv.R` with relsurv's
/// `rs.surv(..., method = "ederer2")` and `summary(fit, times = k·365.241)`), from the
/// fixture's CSV data and life table through the owner's paths and MPC.
#[test]
fn ederer2_in_mpc_matches_relsurv_on_its_fixtures() {
    use serde_json::Value;
    use tessera_stats::relsurv::LifeTable;
    let dir = common::root().join("fixtures/relsurv");
    let fx: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("relsurv.json")).unwrap()).unwrap();
    let nums = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let mut worst = (0.0f64, 0.0f64);
    for data in ["synthetic.csv", "rdata.csv"] {
        let cases: Vec<&Value> = fx["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["data"] == data && c["method"] == "ederer2")
            .collect();
        let table_name = cases[0]["table"].as_str().unwrap();
        let table = LifeTable::from_csv(
            &std::fs::read_to_string(dir.join(table_name)).unwrap(),
            table_name,
        )
        .unwrap();
        let text = std::fs::read_to_string(dir.join(data)).unwrap();
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').map(|x| x.trim_matches('"')).collect())
            .collect();
        let at = |k: &str| {
            header
                .iter()
                .position(|h| h.trim_matches('"') == k)
                .unwrap()
        };
        let col = |k: &str| -> Vec<f64> {
            let j = at(k);
            rows.iter().map(|r| r[j].parse().unwrap()).collect()
        };
        let groups: Vec<usize> = rows
            .iter()
            .map(|r| usize::from(r[at("group")] == "B"))
            .collect();
        let (time, status, age, date, sex) = (
            col("time"),
            col("status"),
            col("age_days"),
            col("date_days"),
            col("sex"),
        );
        let grid = nums(&cases[0]["grid"]["time"]);
        let horizon = grid.last().unwrap().ceil() as u32;
        let slots = kink_slots(horizon);
        let cuts = (table.age_cutpoints(), table.year_cutpoints());
        let paths: Vec<Option<Path>> = (0..time.len())
            .map(|i| {
                let s = sex[i] as usize - 1;
                Some(
                    path(age[i], date[i], horizon, cuts, |a, d| {
                        table.daily_rate(s, a, d)
                    })
                    .unwrap(),
                )
            })
            .collect();
        let mut columns = vec![
            PlainColumn::numeric("time", &time),
            PlainColumn::numeric("event", &status),
            PlainColumn::categorical("group", &["A", "B"], &groups),
        ];
        columns.extend(path_columns("path", slots, &paths));
        let fr = PlainFrame {
            rows: time.len(),
            columns,
        };
        for grouped in [false, true] {
            let spec = EdererSpec {
                time: "time".into(),
                event: "event".into(),
                group: grouped.then(|| "group".into()),
                path: "path".into(),
                slots,
                times: grid.clone(),
                conf_level: 0.95,
            };
            let res: RelsurvResult = in_mpc(&fr, |p, f| ederer2(p, f, &spec, &open())).unwrap();
            for (ci, curve) in res.curves.iter().enumerate() {
                let label = if grouped { ["A", "B"][ci] } else { "all" };
                let case = cases.iter().find(|c| c["group"] == label).unwrap();
                let g = &case["grid"];
                let (s, se, lo, hi, nr) = (
                    nums(&g["surv"]),
                    nums(&g["std_err"]),
                    nums(&g["lower"]),
                    nums(&g["upper"]),
                    nums(&g["n_risk"]),
                );
                // R's summary keeps the grid times up to the last observed time.
                for (i, row) in curve.rows.iter().take(s.len()).enumerate() {
                    let what = format!("{data} {label} at {}", row.time);
                    let ds = (row.survival.unwrap() - s[i]).abs();
                    assert!(
                        ds < 1e-5,
                        "{what}: S {} vs R {}",
                        row.survival.unwrap(),
                        s[i]
                    );
                    assert!(
                        (row.ci_lower.unwrap() - lo[i]).abs() < 1e-5,
                        "{what}: lower"
                    );
                    assert!(
                        (row.ci_upper.unwrap() - hi[i]).abs() < 1e-5,
                        "{what}: upper"
                    );
                    let dse = (row.std_err.unwrap() - se[i]).abs() / se[i];
                    assert!(
                        dse < 1e-4,
                        "{what}: se {} vs R {}",
                        row.std_err.unwrap(),
                        se[i]
                    );
                    assert_eq!(row.at_risk.unwrap() as f64, nr[i], "{what}: n.risk");
                    worst = (worst.0.max(ds), worst.1.max(dse));
                }
            }
        }
    }
    eprintln!(
        "against R: worst |ΔS| {:.2e}, worst relative Δse {:.2e}",
        worst.0, worst.1
    );
}
