//! Pohar Perme net survival in MPC against R's `relsurv::rs.surv(method = "pohar-perme")`
//! (the committed fixtures, `fixtures/relsurv/`: synthetic data on a synthetic life table,
//! relsurv's `rdata` on `slopop`; overall and by group) and against the plaintext twin
//! (`rs_surv_plain` + `at_grid`, itself equal to R to 1.8e-15) on random data whose ages
//! and dates run past the table's ends, and on a table at the highest rate accepted.

mod common;
use common::{in_mpc, XorRng as Rng};

use serde_json::Value;
use tessera_stats::relsurv::ederer::RelsurvResult;
use tessera_stats::relsurv::path::{kink_slots, path, Path, DAYS_PER_YEAR};
use tessera_stats::relsurv::pohar::{check, pohar_perme, pohar_perme_in_chunks, PoharSpec};
use tessera_stats::relsurv::weights::{weight_columns, weight_slots, Degree, MAX_RATE};
use tessera_stats::relsurv::{at_grid, rs_surv_plain, LifeTable, RelsurvMethod, RelsurvRow};
use tessera_stats::{Disclosure, Frame, PlainColumn, PlainData, PlainFrame};

/// One grid cell: survival, its standard error, lower and upper limits, number at risk.
type Cell = (f64, f64, f64, f64, f64);

fn open() -> Disclosure {
    Disclosure {
        min_cell: Some(0),
        min_events: 0,
        min_rows: 0,
        ..Disclosure::default()
    }
}

fn table(name: &str) -> LifeTable {
    let dir = common::root().join("fixtures/relsurv");
    LifeTable::from_csv(&std::fs::read_to_string(dir.join(name)).unwrap(), name).unwrap()
}

/// The frame the stations would share: follow-up, event, group and the owner's weight
/// columns for a grid ending at `last`.
fn frame(rows: &[RelsurvRow], groups: &[usize], table: &LifeTable, last: f64) -> PlainFrame {
    let horizon = last.ceil() as u32;
    let cuts = (table.age_cutpoints(), table.year_cutpoints());
    let paths: Vec<Option<Path>> = rows
        .iter()
        .map(|r| {
            Some(
                path(r.age_days, r.date_days, horizon, cuts, |a, d| {
                    table.daily_rate(r.sex, a, d)
                })
                .unwrap(),
            )
        })
        .collect();
    let terms = Degree::for_rate(table.max_daily_rate()).unwrap().terms();
    let mut columns = vec![
        PlainColumn::numeric("time", &rows.iter().map(|r| r.time).collect::<Vec<_>>()),
        PlainColumn::numeric(
            "event",
            &rows
                .iter()
                .map(|r| f64::from(u8::from(r.event)))
                .collect::<Vec<_>>(),
        ),
        PlainColumn::categorical("group", &["A", "B"], groups),
    ];
    columns.extend(weight_columns("w", horizon, terms, &paths).unwrap());
    PlainFrame {
        rows: rows.len(),
        columns,
    }
}

fn spec(grouped: bool, grid: &[f64], table: &LifeTable) -> PoharSpec {
    PoharSpec {
        time: "time".into(),
        event: "event".into(),
        group: grouped.then(|| "group".into()),
        path: "w".into(),
        slots: weight_slots(grid.last().unwrap().ceil() as u32),
        times: grid.to_vec(),
        conf_level: 0.95,
        max_rate: table.max_daily_rate(),
    }
}

/// The worst differences seen: |ΔS|, |Δlower|+|Δupper| (both relative to S where S > 1),
/// relative Δse.
#[derive(Default, Debug)]
struct Worst {
    s: f64,
    ci: f64,
    se: f64,
}

/// Compares each curve's rows with `(surv, std_err, lower, upper, n_risk)` per grid time.
fn compare(
    res: &RelsurvResult,
    want: &[Vec<Cell>],
    what: &str,
    worst: &mut Worst,
    tol: (f64, f64),
) {
    assert_eq!(res.method, "pohar-perme");
    for (curve, w) in res.curves.iter().zip(want) {
        for (row, &(s, se, lo, hi, nr)) in curve.rows.iter().zip(w) {
            let at = format!("{what} {:?} at {}", curve.group, row.time);
            let got = row.survival.unwrap();
            // Absolute while S is a survival probability; relative where the estimator
            // leaves [0, 1] far behind (more deaths expected than seen).
            let scale = s.abs().max(1.0);
            let ds = (got - s).abs() / scale;
            assert!(ds < tol.0, "{at}: S {got} vs {s}");
            let dci =
                ((row.ci_lower.unwrap() - lo).abs() + (row.ci_upper.unwrap() - hi).abs()) / scale;
            assert!(dci < 2.0 * tol.0, "{at}: limits");
            assert_eq!(row.at_risk.unwrap() as f64, nr, "{at}: n.risk");
            if se > 0.0 {
                let dse = (row.std_err.unwrap() - se).abs() / se;
                assert!(dse < tol.1, "{at}: se {} vs {se}", row.std_err.unwrap());
                worst.se = worst.se.max(dse);
            } else {
                assert!(row.std_err.unwrap().abs() < 1e-9, "{at}: se");
            }
            worst.s = worst.s.max(ds);
            worst.ci = worst.ci.max(dci);
        }
    }
}

/// The fixture's CSV rows (time, status, age_days, date_days, sex 1/2, group A/B).
fn fixture_rows(data: &str) -> (Vec<RelsurvRow>, Vec<usize>) {
    let text = std::fs::read_to_string(common::root().join("fixtures/relsurv").join(data)).unwrap();
    let header: Vec<&str> = text
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(|h| h.trim_matches('"'))
        .collect();
    let at = |k: &str| header.iter().position(|h| *h == k).unwrap();
    let mut rows = Vec::new();
    let mut groups = Vec::new();
    for l in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let v: Vec<&str> = l.split(',').map(|x| x.trim_matches('"')).collect();
        let num = |k: &str| v[at(k)].parse::<f64>().unwrap();
        rows.push(RelsurvRow {
            time: num("time"),
            event: num("status") == 1.0,
            age_days: num("age_days"),
            date_days: num("date_days"),
            sex: num("sex") as usize - 1,
        });
        groups.push(usize::from(v[at("group")] == "B"));
    }
    (rows, groups)
}

/// R's own numbers, from the fixture's CSV data and life table through the owner's weight
/// columns and MPC: synthetic data (ties, censoring, ages and years past the table) and
/// relsurv's rdata with slopop, overall and by group, at the yearly grid R reports.
#[test]
fn pohar_perme_in_mpc_matches_relsurv_on_its_fixtures() {
    let fx: Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("fixtures/relsurv/relsurv.json")).unwrap(),
    )
    .unwrap();
    let nums = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let mut worst = Worst::default();
    for data in ["synthetic.csv", "rdata.csv"] {
        let cases: Vec<&Value> = fx["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["data"] == data && c["method"] == "pohar-perme")
            .collect();
        let tb = table(cases[0]["table"].as_str().unwrap());
        let (rows, groups) = fixture_rows(data);
        let grid = nums(&cases[0]["grid"]["time"]);
        let fr = frame(&rows, &groups, &tb, *grid.last().unwrap());
        for grouped in [false, true] {
            let sp = spec(grouped, &grid, &tb);
            let res: RelsurvResult = in_mpc(&fr, |p, f| pohar_perme(p, f, &sp, &open())).unwrap();
            let labels: &[&str] = if grouped { &["A", "B"] } else { &["all"] };
            let want: Vec<Vec<Cell>> = labels
                .iter()
                .map(|label| {
                    let c = cases.iter().find(|c| c["group"] == *label).unwrap();
                    let g = &c["grid"];
                    let (s, se, lo, hi, nr) = (
                        nums(&g["surv"]),
                        nums(&g["std_err"]),
                        nums(&g["lower"]),
                        nums(&g["upper"]),
                        nums(&g["n_risk"]),
                    );
                    (0..s.len())
                        .map(|i| (s[i], se[i], lo[i], hi[i], nr[i]))
                        .collect()
                })
                .collect();
            compare(&res, &want, data, &mut worst, (1e-6, 1e-5));
        }
    }
    eprintln!("Pohar Perme against R: {worst:?}");
}

/// The twin's values at the grid, per group.
fn twin(
    rows: &[RelsurvRow],
    groups: &[usize],
    tb: &LifeTable,
    grid: &[f64],
    grouped: bool,
) -> Vec<Vec<Cell>> {
    let levels: Vec<Option<usize>> = if grouped {
        vec![Some(0), Some(1)]
    } else {
        vec![None]
    };
    levels
        .iter()
        .map(|lv| {
            let sub: Vec<RelsurvRow> = rows
                .iter()
                .zip(groups)
                .filter(|(_, g)| lv.is_none_or(|l| **g == l))
                .map(|(r, _)| *r)
                .collect();
            let fit = rs_surv_plain(&sub, tb, RelsurvMethod::PoharPerme).unwrap();
            at_grid(&fit, grid, 0.95)
                .unwrap()
                .iter()
                .map(|p| {
                    let se = p.std_err;
                    (p.surv, se, p.lower, p.upper, p.n_risk)
                })
                .collect()
        })
        .collect()
}

/// Random patients: ages 30–104 (past the table's last age), diagnoses 1993–2015 with
/// follow-up past 2020 (the table's last year), ties, censoring, two groups.
fn random_rows(n: usize, seed: u64, max_time: u64) -> (Vec<RelsurvRow>, Vec<usize>) {
    let mut r = Rng(seed);
    let mut rows = Vec::new();
    let mut groups = Vec::new();
    for _ in 0..n {
        let age_years = 30 + r.below(75);
        let group = usize::from(r.below(3) == 0);
        let scale = (if group == 1 { 4000 } else { 8000 } - (age_years.min(99) - 30) * 25).max(200);
        let time = 1 + r.below(scale) / 7 * 7;
        let censor = 200 + r.below(max_time);
        let (time, event) = if time <= censor {
            (time, r.below(5) != 0)
        } else {
            (censor, false)
        };
        rows.push(RelsurvRow {
            time: time as f64,
            event,
            age_days: age_years as f64 * DAYS_PER_YEAR + r.below(365) as f64,
            date_days: 8400.0 + r.below(365 * 22) as f64,
            sex: r.below(2) as usize,
        });
        groups.push(group);
    }
    (rows, groups)
}

/// The MPC protocol equals its plaintext twin on random data on the synthetic life table,
/// at a grid of whole and fractional days (with one time before the first death).
#[test]
fn pohar_perme_in_mpc_matches_the_twin_on_random_data() {
    let tb = table("lifetable.csv");
    let (rows, groups) = random_rows(300, 0x9e37_79b9, 4200);
    let grid = [
        0.5, 30.0, 182.5, 365.0, 1000.0, 1461.3, 2000.0, 2922.0, 3287.0, 3652.4,
    ];
    let fr = frame(&rows, &groups, &tb, *grid.last().unwrap());
    let mut worst = Worst::default();
    for grouped in [false, true] {
        let sp = spec(grouped, &grid, &tb);
        let res: RelsurvResult = in_mpc(&fr, |p, f| pohar_perme(p, f, &sp, &open())).unwrap();
        let want = twin(&rows, &groups, &tb, &grid, grouped);
        compare(&res, &want, "random", &mut worst, (5e-7, 5e-6));
    }
    eprintln!("Pohar Perme against the twin: {worst:?}");
}

/// Patients taken in chunks (three of 100 here; a chunk is about 13,600 patients with a
/// ten-year grid) give the twin's values: the chunks' marker sums add up, the levels' and
/// the incomplete rows' records included. The weight columns are shared as one block
/// (`Frame::share_block`): a row missing in one weight column is missing in all.
#[test]
fn pohar_perme_in_chunks_matches_the_twin() {
    let tb = table("lifetable.csv");
    let (rows, groups) = random_rows(300, 0x5eed_c4a7, 4200);
    let grid = [30.0, 365.0, 1461.3, 2922.0, 3652.4];
    let mut fr = frame(&rows, &groups, &tb, *grid.last().unwrap());
    // Incomplete rows spread over the chunks: no event, or one weight value missing.
    let missing = |fr: &mut PlainFrame, name: &str, rows: &[usize]| {
        for c in fr.columns.iter_mut().filter(|c| c.name == name) {
            if let PlainData::Numeric(v) = &mut c.data {
                for &i in rows {
                    v[i] = None;
                }
            }
        }
    };
    missing(&mut fr, "event", &[5, 150]);
    missing(&mut fr, "w.w3.v2", &[77, 290]);
    let gone = [5, 77, 150, 290];
    let kept = |i: &usize| !gone.contains(i);
    let rows_kept: Vec<RelsurvRow> = (0..rows.len()).filter(kept).map(|i| rows[i]).collect();
    let groups_kept: Vec<usize> = (0..rows.len()).filter(kept).map(|i| groups[i]).collect();
    let mut worst = Worst::default();
    for grouped in [false, true] {
        let sp = spec(grouped, &grid, &tb);
        let res: RelsurvResult = in_mpc(&fr, |p, _| {
            let f = Frame::share_block(p, 0, &fr, |name| name.starts_with("w."))?;
            pohar_perme_in_chunks(p, &f, &sp, &open(), Some(110))
        })
        .unwrap();
        let want = twin(&rows_kept, &groups_kept, &tb, &grid, grouped);
        compare(&res, &want, "chunks", &mut worst, (5e-7, 5e-6));
    }
    eprintln!("Pohar Perme in chunks against the twin: {worst:?}");
}

/// A life table at the highest rate the protocol accepts (0.01 a day for the oldest, so
/// the series' degrees are the largest), on a two-year grid.
#[test]
fn pohar_perme_at_the_highest_rates() {
    let mut csv = String::from("sex,year,age,mx\n");
    for sex in ["male", "female"] {
        for year in 1990..=2020 {
            for age in 0..100 {
                let mx = if age >= 90 {
                    MAX_RATE * DAYS_PER_YEAR
                } else {
                    (2e-4 * (0.09 * f64::from(age)).exp()).min(1.0)
                };
                csv.push_str(&format!("{sex},{year},{age},{mx}\n"));
            }
        }
    }
    let tb = LifeTable::from_csv(&csv, "highest.csv").unwrap();
    assert!((tb.max_daily_rate() - MAX_RATE).abs() < 1e-12);
    let (mut rows, groups) = random_rows(200, 77, 800);
    for (i, r) in rows.iter_mut().enumerate() {
        if i % 2 == 0 {
            // The oldest die (or are censored) as fast as the table says they would.
            r.age_days = (88.0 + (i % 20) as f64) * DAYS_PER_YEAR + i as f64;
            r.time = (1 + (i * 37) % 200) as f64;
            r.event = i % 10 != 0;
        }
    }
    let grid = [100.0, 365.0, 500.0, 730.0];
    let fr = frame(&rows, &groups, &tb, 730.0);
    let mut worst = Worst::default();
    for grouped in [false, true] {
        let sp = spec(grouped, &grid, &tb);
        let res: RelsurvResult = in_mpc(&fr, |p, f| pohar_perme(p, f, &sp, &open())).unwrap();
        let want = twin(&rows, &groups, &tb, &grid, grouped);
        compare(&res, &want, "highest", &mut worst, (1e-7, 1e-6));
    }
    eprintln!("Pohar Perme at the highest rates: {worst:?}");
}

/// A researcher's spec is checked before any data: the grid, the confidence level, the
/// slots, the life table's rate.
#[test]
fn a_researchers_pohar_perme_spec_is_checked() {
    let tb = table("lifetable.csv");
    let base = spec(false, &[365.0, 730.0], &tb);
    assert!(check(&base).is_ok());
    let refuse = |s: PoharSpec, what: &str| {
        let e = check(&s).unwrap_err().to_string();
        assert!(e.contains(what), "{e}");
    };
    refuse(
        PoharSpec {
            times: vec![],
            ..base.clone()
        },
        "times",
    );
    refuse(
        PoharSpec {
            times: vec![730.0, 365.0],
            ..base.clone()
        },
        "times",
    );
    refuse(
        PoharSpec {
            times: vec![3650.0],
            ..base.clone()
        },
        "breakpoint slots",
    );
    refuse(
        PoharSpec {
            slots: kink_slots(730),
            ..base.clone()
        },
        "breakpoint slots",
    );
    for bad in [0.0, -1.0, f64::NAN, 0.5] {
        refuse(
            PoharSpec {
                max_rate: bad,
                ..base.clone()
            },
            "highest daily rate",
        );
    }
    refuse(
        PoharSpec {
            conf_level: 1.5,
            ..base
        },
        "conf_level",
    );
}

/// Follow-up in fractions of days (or negative, or beyond the sort's range) is refused
/// inside MPC with one opened bit, as for Ederer II.
#[test]
fn fractional_follow_up_is_refused() {
    let tb = table("lifetable.csv");
    for bad in [100.5, -3.0, 40_000.0] {
        let (mut rows, groups) = random_rows(30, 5, 600);
        rows[3].time = bad;
        let grid = [365.0, 730.0];
        let fr = frame(&rows, &groups, &tb, 730.0);
        let sp = spec(false, &grid, &tb);
        let err = in_mpc(&fr, |p, f| pohar_perme(p, f, &sp, &open())).unwrap_err();
        assert!(err.contains("whole, non-negative"), "{err}");
    }
}
