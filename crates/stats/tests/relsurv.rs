//! Relative (net) survival in plaintext against R's relsurv (`rs.surv`, methods `ederer2`
//! and `pohar-perme`; fixtures in `fixtures/relsurv/`, made by `make_relsurv.R`; R is not
//! needed here), and the life table's reading, lookup and refusals.
//!
//! The twin follows relsurv's C loop operation by operation, so it should agree with R to
//! the last bits: the comparisons ask for 1e-10 (absolute for survival, bands and the
//! numbers at risk; relative for standard errors) and print the worst differences seen.

use std::path::PathBuf;

use serde_json::Value;
use tessera_stats::relsurv::plain::z_of;
use tessera_stats::relsurv::table::days_from_civil;
use tessera_stats::relsurv::{
    at_grid, rs_sums, rs_surv_plain, LifeTable, RateKind, RelsurvMethod, RelsurvRow,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/relsurv")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn table(name: &str) -> LifeTable {
    LifeTable::from_csv(&read(name), name).expect("fixture table reads")
}

/// The rows of a fixture data file (`time,status,age_days,date_days,sex,group`), with
/// their group.
fn data(name: &str) -> Vec<(RelsurvRow, String)> {
    let text = read(name);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("time,status,age_days,date_days,sex,group")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let num = |i: usize| f[i].parse::<f64>().expect("number");
            let row = RelsurvRow {
                time: num(0),
                event: num(1) == 1.0,
                age_days: num(2),
                date_days: num(3),
                sex: num(4) as usize - 1,
            };
            (row, f[5].to_string())
        })
        .collect()
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

#[derive(Default, Debug)]
struct Worst {
    surv: f64,
    std_err_rel: f64,
    bands: f64,
    grid: f64,
}

fn close(what: &str, ours: &[f64], r: &[f64], tol: f64, rel: bool) -> f64 {
    assert_eq!(ours.len(), r.len(), "{what}: lengths");
    let mut worst = 0.0_f64;
    for (i, (a, b)) in ours.iter().zip(r).enumerate() {
        let d = if rel {
            (a - b).abs() / b.abs().max(1e-300)
        } else {
            (a - b).abs()
        };
        let d = if *a == *b { 0.0 } else { d };
        assert!(d <= tol, "{what}[{i}]: ours {a}, R {b} (difference {d:e})");
        worst = worst.max(d);
    }
    worst
}

#[test]
fn agrees_with_relsurv() {
    let fx: Value = serde_json::from_str(&read("relsurv.json")).expect("json");
    let grid = nums(&fx["meta"]["grid"]);
    let conf = fx["meta"]["conf_int"].as_f64().expect("conf_int");
    let z_r = fx["meta"]["z"].as_f64().expect("z");
    assert!((z_of(conf).unwrap() - z_r).abs() < 1e-15);
    let cases = fx["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 18);
    let mut worst = Worst::default();
    let tol = 1e-10;
    for c in cases {
        let (dname, tname) = (c["data"].as_str().unwrap(), c["table"].as_str().unwrap());
        let method = match c["method"].as_str().unwrap() {
            "ederer2" => RelsurvMethod::EdererII,
            "pohar-perme" => RelsurvMethod::PoharPerme,
            m => panic!("method {m}"),
        };
        let group = c["group"].as_str().unwrap();
        let rows: Vec<RelsurvRow> = data(dname)
            .into_iter()
            .filter(|(_, g)| group == "all" || g == group)
            .map(|(r, _)| r)
            .collect();
        let label = format!("{dname} {} {group}", method.r_name());
        let fit = rs_surv_plain(&rows, &table(tname), method).expect("fit");
        assert_eq!(fit.time, nums(&c["time"]), "{label}: times");
        assert_eq!(fit.n_risk, nums(&c["n_risk"]), "{label}: n.risk");
        assert_eq!(fit.n_event, nums(&c["n_event"]), "{label}: n.event");
        let w = close(
            &format!("{label} surv"),
            &fit.surv,
            &nums(&c["surv"]),
            tol,
            false,
        );
        worst.surv = worst.surv.max(w);
        let w = close(
            &format!("{label} std.err"),
            &fit.std_err,
            &nums(&c["std_err"]),
            tol,
            true,
        );
        worst.std_err_rel = worst.std_err_rel.max(w);
        let (lo, up) = fit.bands(conf).unwrap();
        let w1 = close(
            &format!("{label} lower"),
            &lo,
            &nums(&c["lower"]),
            tol,
            false,
        );
        let w2 = close(
            &format!("{label} upper"),
            &up,
            &nums(&c["upper"]),
            tol,
            false,
        );
        worst.bands = worst.bands.max(w1).max(w2);

        let g = &c["grid"];
        let pts = at_grid(&fit, &grid, conf).unwrap();
        let col = |f: fn(&tessera_stats::relsurv::RsPoint) -> f64| -> Vec<f64> {
            pts.iter().map(f).collect()
        };
        assert_eq!(col(|p| p.time), nums(&g["time"]), "{label}: grid times");
        assert_eq!(
            col(|p| p.n_risk),
            nums(&g["n_risk"]),
            "{label}: grid n.risk"
        );
        let mut w = 0.0_f64;
        for (name, f) in [
            (
                "surv",
                (|p| p.surv) as fn(&tessera_stats::relsurv::RsPoint) -> f64,
            ),
            ("std_err", |p| p.std_err),
            ("lower", |p| p.lower),
            ("upper", |p| p.upper),
        ] {
            w = w.max(close(
                &format!("{label} grid {name}"),
                &col(f),
                &nums(&g[name]),
                tol,
                false,
            ));
        }
        worst.grid = worst.grid.max(w);
    }
    println!("worst differences from relsurv over 18 curves: {worst:?}");
}

#[test]
fn time_zero_rows_take_no_part() {
    let t = table("lifetable.csv");
    let rows: Vec<RelsurvRow> = data("synthetic.csv").into_iter().map(|(r, _)| r).collect();
    let mut with_zero = rows.clone();
    with_zero.insert(
        3,
        RelsurvRow {
            time: 0.0,
            event: true,
            ..rows[0]
        },
    );
    with_zero.push(RelsurvRow {
        time: 0.0,
        event: false,
        ..rows[1]
    });
    for m in [RelsurvMethod::EdererII, RelsurvMethod::PoharPerme] {
        assert_eq!(
            rs_surv_plain(&rows, &t, m).unwrap(),
            rs_surv_plain(&with_zero, &t, m).unwrap()
        );
    }
}

/// A table with one rate everywhere: the sums can be worked out by hand.
#[test]
fn constant_rate_by_hand() {
    let q: f64 = 0.05;
    let mut csv = String::from("sex,year,age,q\n");
    for sex in ["male", "female"] {
        for year in 2000..2003 {
            for age in 0..3 {
                csv.push_str(&format!("{sex},{year},{age},{q}\n"));
            }
        }
    }
    let t = LifeTable::from_csv(&csv, "flat.csv").unwrap();
    let lam = -(1.0 - q).ln() / 365.241;
    let row = |time: f64, event: bool| RelsurvRow {
        time,
        event,
        age_days: 20_000.0,
        date_days: 0.0,
        sex: 0,
    };
    // times 2.5 (death), 4 (censored), 4 (death), 6 (death)
    let rows = [
        row(4.0, false),
        row(2.5, true),
        row(6.0, true),
        row(4.0, true),
    ];
    let s = rs_sums(&rows, &t).unwrap();
    assert_eq!(s.time, vec![2.5, 4.0, 6.0]);
    assert_eq!(s.yi, vec![4.0, 3.0, 1.0]);
    assert_eq!(s.dni, vec![1.0, 1.0, 1.0]);
    // expected deaths: at risk × interval length × λ
    for (j, want) in [4.0 * 2.5 * lam, 3.0 * 1.5 * lam, 1.0 * 2.0 * lam]
        .iter()
        .enumerate()
    {
        assert!((s.yidli[j] - want).abs() < 1e-15, "H[{j}]");
    }
    // everybody has the same S = exp(-λ t): YS = Y / S(t), DS = D / S(t)
    for (j, &tj) in [2.5_f64, 4.0, 6.0].iter().enumerate() {
        let sp = (-lam * tj).exp();
        assert!((s.yisi[j] - s.yi[j] / sp).abs() < 1e-12, "YS[{j}]");
        assert!((s.dnisi[j] - 1.0 / sp).abs() < 1e-12, "DS[{j}]");
        assert!((s.dnisisq[j] - 1.0 / (sp * sp)).abs() < 1e-12, "DS2[{j}]");
    }
    // equal S: the weighted hazard A/B is λ at every step, so fint = λ × interval length
    for (j, len) in [2.5, 1.5, 2.0].iter().enumerate() {
        assert!((s.fint[j] - lam * len).abs() < 1e-15, "fint[{j}]");
    }
    let e2 = rs_surv_plain(&rows, &t, RelsurvMethod::EdererII).unwrap();
    let want = (1.0 - (1.0 / 4.0 - 2.5 * lam))
        * (1.0 - (1.0 / 3.0 - 1.5 * lam))
        * (1.0 - (1.0 - 2.0 * lam));
    assert!((e2.surv[2] - want).abs() < 1e-15);
    let se = (1.0 / 16.0 + 1.0 / 9.0 + 1.0_f64).sqrt();
    assert!((e2.std_err[2] - se).abs() < 1e-15);
    let pp = rs_surv_plain(&rows, &t, RelsurvMethod::PoharPerme).unwrap();
    let want0 = 1.0 - (1.0 / 4.0 - 2.5 * lam);
    assert!((pp.surv[0] - want0).abs() < 1e-14);
}

#[test]
fn fint_uses_running_sums() {
    // two people of very different ages: the Pohar Perme expected hazard of a long interval
    // is relsurv's trapezoid of running sums, which differs from a per-step average.
    let mut csv = String::from("sex,year,age,mx\n");
    for sex in ["1", "2"] {
        for year in [2000, 2001] {
            for age in 0..3 {
                csv.push_str(&format!("{sex},{year},{age},{}\n", 0.01 + age as f64 * 2.0));
            }
        }
    }
    let t = LifeTable::from_csv(&csv, "steep.csv").unwrap();
    assert_eq!(t.kind(), RateKind::PerYear);
    let rows = [
        RelsurvRow {
            time: 40.0,
            event: true,
            age_days: 0.0,
            date_days: 11_000.0,
            sex: 1,
        },
        RelsurvRow {
            time: 40.0,
            event: false,
            age_days: 800.0,
            date_days: 11_000.0,
            sex: 1,
        },
    ];
    let s = rs_sums(&rows, &t).unwrap();
    let (l0, l2) = (0.01 / 365.241, 4.01 / 365.241);
    // by hand, the loop of netfastpinter2 with its running sums
    let (mut s0, mut s2) = (1.0_f64, 1.0_f64);
    let (mut a1, mut b1, mut a2, mut b2, mut fint) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for _ in 0..40 {
        a1 += l0 / s0 + l2 / s2;
        b1 += 1.0 / s0 + 1.0 / s2;
        s0 *= (-l0).exp();
        s2 *= (-l2).exp();
        a2 += l0 / s0 + l2 / s2;
        b2 += 1.0 / s0 + 1.0 / s2;
        fint += a1 / b1 / 2.0 + a2 / b2 / 2.0;
    }
    assert!((s.fint[0] - fint).abs() < 1e-15);
    assert!((s.yidli[0] - 40.0 * (l0 + l2)).abs() < 1e-15);
    // the textbook trapezoid of each step's own weighted hazard is visibly different
    let (mut s0, mut s2, mut textbook) = (1.0_f64, 1.0_f64, 0.0);
    for _ in 0..40 {
        let h1 = (l0 / s0 + l2 / s2) / (1.0 / s0 + 1.0 / s2);
        s0 *= (-l0).exp();
        s2 *= (-l2).exp();
        let h2 = (l0 / s0 + l2 / s2) / (1.0 / s0 + 1.0 / s2);
        textbook += (h1 + h2) / 2.0;
    }
    assert!(
        (s.fint[0] - textbook).abs() > 1e-6,
        "{} vs {textbook}",
        s.fint[0]
    );
}

#[test]
fn lifetable_dimensions_and_lookup() {
    let t = table("lifetable.csv");
    assert_eq!((t.ages(), t.first_year(), t.years()), (100, 1990, 31));
    assert_eq!(t.kind(), RateKind::Probability);
    assert_eq!(t.year_cutpoints()[0], 7305.0); // 1990-01-01
    assert_eq!(t.year_cutpoints()[10], 10957.0); // 2000-01-01
    assert_eq!(t.year_cutpoints()[30], 18262.0); // 2020-01-01
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2024, 2, 29), 19782);
    assert_eq!(t.age_cutpoints()[40], 40.0 * 365.241);
    // the first row: male, 1990, age 0, q = 0.00442020202
    let r0 = -(1.0 - 0.00442020202_f64).ln() / 365.241;
    assert_eq!(t.rate(0, 0, 0), r0);
    // a cell's value from its line in the file
    let line = read("lifetable.csv")
        .lines()
        .find(|l| l.starts_with("female,2005,63,"))
        .map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap())
        .unwrap();
    let want = -(1.0 - line).ln() / 365.241;
    assert_eq!(t.rate(1, 63, 15), want);
    let d2005 = days_from_civil(2005, 1, 1) as f64;
    assert_eq!(t.daily_rate(1, 63.0 * 365.241, d2005), want);
    assert_eq!(t.daily_rate(1, 64.0 * 365.241 - 1e-9, d2005 + 364.0), want);
    assert_ne!(t.daily_rate(1, 64.0 * 365.241, d2005), want);
    assert_ne!(t.daily_rate(1, 63.0 * 365.241, d2005 - 1.0), want);
    // beyond the ends: the edge cells
    assert_eq!(
        t.daily_rate(0, 150.0 * 365.241, 30_000.0),
        t.rate(0, 99, 30)
    );
    assert_eq!(t.daily_rate(0, -5.0, -30_000.0), t.rate(0, 0, 0));
    assert_eq!(t.daily_rate(1, 99.5 * 365.241, 1.0), t.rate(1, 99, 0));
    // out-of-range indexes give NaN, never a panic
    assert!(t.rate(2, 0, 0).is_nan() && t.rate(0, 100, 0).is_nan() && t.rate(0, 0, 31).is_nan());
    assert!(t.daily_rate(2, 0.0, 0.0).is_nan());
}

const HDR: &str = "sex,year,age,q\n";

/// A complete small table: both sexes, years 2000-2001, ages 0-1.
fn good_rows() -> Vec<String> {
    let mut v = Vec::new();
    for sex in ["male", "female"] {
        for year in [2000, 2001] {
            for age in 0..2 {
                v.push(format!("{sex},{year},{age},0.01"));
            }
        }
    }
    v
}

fn refused(text: &str) -> String {
    match LifeTable::from_csv(text, "pop.csv") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// The table with row `i` (0-based, so on line `i + 2`) replaced.
fn with_row(i: usize, row: &str) -> String {
    let mut v = good_rows();
    v[i] = row.to_string();
    format!("{HDR}{}\n", v.join("\n"))
}

#[test]
fn lifetable_accepts_the_codings() {
    let t = LifeTable::from_csv(&format!("{HDR}{}\n", good_rows().join("\n")), "ok").unwrap();
    assert_eq!((t.ages(), t.years(), t.first_year()), (2, 2, 2000));
    let numeric = good_rows()
        .join("\n")
        .replace("female", "2")
        .replace("male", "1");
    let u = LifeTable::from_csv(&format!("SEX, Year ,age,Q\r\n{numeric}\r\n\r\n"), "ok").unwrap();
    assert_eq!(u.rate(1, 1, 1), t.rate(1, 1, 1));
    let mx = LifeTable::from_csv(&format!("sex,year,age,hazard\n{numeric}"), "ok").unwrap();
    assert_eq!(mx.rate(0, 0, 0), 0.01 / 365.241);
    assert_eq!(mx.kind(), RateKind::PerYear);
}

#[test]
fn lifetable_refuses_bad_files() {
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "life table `pop.csv`: the file is empty"),
        (HDR.to_string(), "life table `pop.csv`: the file has a header but no rows"),
        (
            format!("sex,age,year,q\n{}", good_rows().join("\n")),
            "life table `pop.csv`, line 1, field `header`: `sex,age,year,q` is not a life table header",
        ),
        (
            format!("sex,year,age,qx\n{}", good_rows().join("\n")),
            "line 1, field `header`",
        ),
        (with_row(2, "male,2001,0"), "line 4, field `row`: 3 fields where the header has 4"),
        (with_row(2, "male,2001,0,0.01,7"), "line 4, field `row`: 5 fields"),
        (with_row(0, "man,2000,0,0.01"), "line 2, field `sex`: `man` is not a sex"),
        (with_row(0, "3,2000,0,0.01"), "line 2, field `sex`: `3` is not a sex"),
        (with_row(1, "male,2000.5,1,0.01"), "line 3, field `year`: `2000.5` is not a whole calendar year"),
        (with_row(1, "male,1700,1,0.01"), "line 3, field `year`: 1700 is outside the years a life table may cover (1800..=2300)"),
        (with_row(1, "male,2000,x,0.01"), "line 3, field `age`: `x` is not an age in whole years"),
        (with_row(1, "male,2000,-1,0.01"), "line 3, field `age`: `-1` is not an age in whole years"),
        (with_row(1, "male,2000,151,0.01"), "line 3, field `age`: 151 is beyond the oldest age a life table may have (150)"),
        (with_row(3, "male,2001,1,abc"), "line 5, field `q`: `abc` is not a finite number"),
        (with_row(3, "male,2001,1,NaN"), "line 5, field `q`: `NaN` is not a finite number"),
        (with_row(3, "male,2001,1,inf"), "line 5, field `q`: `inf` is not a finite number"),
        (with_row(3, "male,2001,1,1"), "line 5, field `q`: 1 is outside [0, 1)"),
        (with_row(3, "male,2001,1,-0.01"), "line 5, field `q`: -0.01 is outside [0, 1)"),
        (
            with_row(3, "male,2001,0,0.01"),
            "line 5, field `row`: a second row for sex male, year 2001, age 0 (the first is on line 4)",
        ),
        (
            with_row(3, "female,2000,1,0.01"),
            "line 7, field `row`: a second row for sex female, year 2000, age 1 (the first is on line 5)",
        ),
    ];
    for (text, want) in cases {
        let e = refused(&text);
        assert!(e.contains(want), "error `{e}` does not contain `{want}`");
        assert!(e.contains("pop.csv"), "error `{e}` does not name the file");
    }
    // negative rates
    let mx = format!("sex,year,age,mx\n{}", good_rows().join("\n"))
        .replace("male,2001,1,0.01", "male,2001,1,-2");
    let e = refused(&mx);
    assert!(e.contains("line 5, field `mx`: -2 is negative"), "{e}");
    // gaps: a missing age, a missing year in the middle, a missing sex, ages not from 0
    let missing_age: Vec<String> = good_rows()
        .into_iter()
        .filter(|r| r != "female,2001,0,0.01")
        .collect();
    let e = refused(&format!("{HDR}{}", missing_age.join("\n")));
    assert!(e.contains("no row for sex female, year 2001, age 0"), "{e}");
    let mut gap_year = good_rows();
    for sex in ["male", "female"] {
        for age in 0..2 {
            gap_year.push(format!("{sex},2003,{age},0.01"));
        }
    }
    let e = refused(&format!("{HDR}{}", gap_year.join("\n")));
    assert!(e.contains("no row for sex male, year 2002, age 0"), "{e}");
    assert!(e.contains("every year 2000..=2003"), "{e}");
    let one_sex: Vec<String> = good_rows()
        .into_iter()
        .filter(|r| r.starts_with("male"))
        .collect();
    let e = refused(&format!("{HDR}{}", one_sex.join("\n")));
    assert!(e.contains("no row for sex female, year 2000, age 0"), "{e}");
    let from_one: Vec<String> = good_rows()
        .into_iter()
        .map(|r| r.replace(",0,", ",2,"))
        .collect();
    let e = refused(&format!("{HDR}{}", from_one.join("\n")));
    assert!(e.contains("no row for sex male, year 2000, age 0"), "{e}");
}

#[test]
fn refuses_bad_rows_and_arguments() {
    let t = table("lifetable.csv");
    let ok = RelsurvRow {
        time: 100.0,
        event: true,
        age_days: 20_000.0,
        date_days: 10_000.0,
        sex: 0,
    };
    let m = RelsurvMethod::PoharPerme;
    let bad = [
        (
            RelsurvRow { time: -1.0, ..ok },
            "row 2: follow-up time -1 is not a time in days",
        ),
        (
            RelsurvRow {
                time: f64::NAN,
                ..ok
            },
            "row 2: follow-up time NaN",
        ),
        (
            RelsurvRow {
                time: f64::INFINITY,
                ..ok
            },
            "row 2: follow-up time inf",
        ),
        (
            RelsurvRow {
                age_days: -3.0,
                ..ok
            },
            "row 2: age -3 is not an age in days",
        ),
        (
            RelsurvRow {
                age_days: f64::NAN,
                ..ok
            },
            "row 2: age NaN",
        ),
        (
            RelsurvRow {
                date_days: f64::NEG_INFINITY,
                ..ok
            },
            "row 2: the diagnosis date -inf",
        ),
        (
            RelsurvRow { sex: 2, ..ok },
            "row 2: sex index 2 is neither 0 (male) nor 1 (female)",
        ),
    ];
    for (row, want) in bad {
        let e = rs_surv_plain(&[ok, row], &t, m).unwrap_err().to_string();
        assert!(e.starts_with("relative survival: "), "{e}");
        assert!(e.contains(want), "`{e}` does not contain `{want}`");
    }
    let e = rs_surv_plain(&[], &t, m).unwrap_err().to_string();
    assert!(e.contains("no row has a positive follow-up time"), "{e}");
    let e = rs_surv_plain(&[RelsurvRow { time: 0.0, ..ok }], &t, m)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no row has a positive follow-up time"), "{e}");

    let fit = rs_surv_plain(&[ok, RelsurvRow { time: 50.0, ..ok }], &t, m).unwrap();
    for c in [0.0, 1.0, f64::NAN, 95.0] {
        let e = at_grid(&fit, &[10.0], c).unwrap_err().to_string();
        assert!(e.contains("is not a confidence level"), "{e}");
    }
    for g in [-1.0, f64::NAN, f64::INFINITY] {
        let e = at_grid(&fit, &[10.0, g], 0.95).unwrap_err().to_string();
        assert!(e.contains("is not a time in days"), "{e}");
    }
    // grid: unsorted is sorted, after the last time left out, before the first = 1
    let p = at_grid(&fit, &[100.0, 0.0, 75.0, 1000.0], 0.95).unwrap();
    assert_eq!(
        p.iter().map(|p| p.time).collect::<Vec<_>>(),
        vec![0.0, 75.0, 100.0]
    );
    assert_eq!(
        (p[0].surv, p[0].std_err, p[0].lower, p[0].upper, p[0].n_risk),
        (1.0, 0.0, 1.0, 1.0, 2.0)
    );
    assert_eq!((p[1].surv, p[1].n_risk), (fit.surv[0], 1.0));
    assert_eq!((p[2].surv, p[2].n_risk), (fit.surv[1], 1.0));
    assert!(at_grid(&fit, &[5000.0], 0.95).unwrap().is_empty());
}

/// The oracle must be fast enough for 10,000 rows over 10 years (a few seconds in release).
#[test]
fn ten_thousand_rows_ten_years() {
    let t = table("lifetable.csv");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let rows: Vec<RelsurvRow> = (0..10_000)
        .map(|_| {
            let age = 30.0 + 60.0 * next();
            let time = (-(next().max(1e-12)).ln() * 3000.0).min(3652.0).ceil();
            RelsurvRow {
                time,
                event: time < 3652.0 && next() < 0.8,
                age_days: (age * 365.241).floor(),
                date_days: 9131.0 + (7670.0 * next()).floor(),
                sex: usize::from(next() < 0.5),
            }
        })
        .collect();
    let start = std::time::Instant::now();
    for m in [RelsurvMethod::EdererII, RelsurvMethod::PoharPerme] {
        let fit = rs_surv_plain(&rows, &t, m).unwrap();
        assert_eq!(fit.n_risk[0], 10_000.0);
        assert!(fit.surv.iter().all(|s| s.is_finite()));
    }
    println!(
        "10,000 rows, follow-up up to 10 years, both methods: {:.2} s",
        start.elapsed().as_secs_f64()
    );
}
