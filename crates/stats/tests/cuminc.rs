//! Cumulative incidence of competing risks in MPC against R's `cmprsk::cuminc` (fixtures in
//! `fixtures/cuminc/`, made by `make_cuminc.R`; R is not needed here) and against its
//! plaintext twin. Tolerances are the issue's: estimates 1e-4 absolute, standard errors 1e-3
//! relative.

use std::collections::HashMap;
use std::path::PathBuf;

mod common;
use common::in_mpc;

use serde_json::Value;
use tessera_stats::survival::cuminc::{gray_test_plain, CumincRow};
use tessera_stats::survival::{cuminc, cuminc_plain, CumincResult, CumincSpec};
use tessera_stats::{Disclosure, PlainColumn, PlainData, PlainFrame};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A simple CSV of numbers (no quoting, no missing values) as columns.
fn csv(path: &str) -> HashMap<String, Vec<f64>> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let mut cols: HashMap<String, Vec<f64>> =
        header.iter().map(|h| (h.clone(), Vec::new())).collect();
    for line in lines.filter(|l| !l.is_empty()) {
        for (h, v) in header.iter().zip(line.split(',')) {
            cols.get_mut(h).unwrap().push(v.parse().unwrap());
        }
    }
    cols
}

/// A frame of `time`, `cause` and (if any) the group column with levels 0, 1, … as "0", "1".
fn frame(time: &[f64], cause: &[f64], group: Option<(&str, &[f64])>) -> PlainFrame {
    let mut cols = vec![
        PlainColumn::numeric("time", time),
        PlainColumn::numeric("cause", cause),
    ];
    if let Some((name, g)) = group {
        let k = g.iter().fold(0.0f64, |a, &b| a.max(b)) as usize + 1;
        cols.push(PlainColumn {
            name: name.to_string(),
            data: PlainData::Categorical {
                levels: (0..k).map(|l| l.to_string()).collect(),
                codes: g.iter().map(|&x| Some(x as usize)).collect(),
            },
        });
    }
    PlainFrame::new(cols).unwrap()
}

fn no_limits() -> Disclosure {
    Disclosure {
        min_cell: Some(0),
        min_events: 0,
        min_rows: 0,
        ..Disclosure::default()
    }
}

fn spec(group: Option<&str>, causes: u32, times: &[f64]) -> CumincSpec {
    CumincSpec {
        time: "time".into(),
        event: "cause".into(),
        group: group.map(str::to_string),
        causes,
        times: times.to_vec(),
        gray_test: false,
        at_event_times: false,
        censor_marks: false,
    }
}

fn run_mpc(f: &PlainFrame, s: &CumincSpec, d: &Disclosure) -> Result<CumincResult, String> {
    in_mpc(f, |p, fr| cuminc(p, fr, s, d))
}

fn floats(v: &Value) -> Vec<Option<f64>> {
    v.as_array().unwrap().iter().map(Value::as_f64).collect()
}

/// Largest errors seen: estimate (absolute), standard error (relative).
#[derive(Default, Debug)]
struct Worst {
    est: f64,
    se: f64,
}

fn compare_to_r(res: &CumincResult, analysis: &Value, worst: &mut Worst, what: &str) {
    for curve in analysis["curves"].as_array().unwrap() {
        let group = curve["group"].as_str().map(str::to_string);
        let cause = curve["cause"].as_u64().unwrap() as u32;
        let ours = res
            .curves
            .iter()
            .find(|c| c.group == group && c.cause == cause)
            .unwrap_or_else(|| panic!("{what}: no curve {group:?} cause {cause}"));
        let est = floats(&curve["estimate"]);
        let var = floats(&curve["variance"]);
        for ((row, e), v) in ours.rows.iter().zip(&est).zip(&var) {
            let (Some(e), Some(v)) = (e, v) else {
                continue; // cmprsk gives NA past the curve's last follow-up time
            };
            let x = row.estimate.unwrap();
            let de = (x - e).abs();
            assert!(
                de < 1e-4,
                "{what} {group:?}/{cause} t={}: {x} vs R {e}",
                row.time
            );
            let (se, se_r) = (row.std_err.unwrap(), v.sqrt());
            let rel = if se_r > 0.0 {
                (se - se_r).abs() / se_r
            } else {
                se
            };
            assert!(
                rel < 1e-3,
                "{what} {group:?}/{cause} t={}: se {se} vs R {se_r}",
                row.time
            );
            worst.est = worst.est.max(de);
            worst.se = worst.se.max(rel);
        }
    }
}

#[test]
fn mpc_and_twin_match_cmprsk() {
    let text = std::fs::read_to_string(root().join("fixtures/cuminc/cuminc.json")).unwrap();
    let fx: Value = serde_json::from_str(&text).unwrap();
    let syn = csv("fixtures/cuminc/synthetic.csv");
    let mg = csv("fixtures/cuminc/mgus2.csv");
    let (mut w_mpc, mut w_plain) = (Worst::default(), Worst::default());
    let mut w_gray = 0.0f64;
    for a in fx["analyses"].as_array().unwrap() {
        let name = a["name"].as_str().unwrap();
        let data = if name.starts_with("synthetic") {
            &syn
        } else {
            &mg
        };
        let group = a["group"].as_str();
        let f = frame(
            &data["time"],
            &data["cause"],
            group.map(|g| (g, data[g].as_slice())),
        );
        let times: Vec<f64> = floats(&a["times"]).into_iter().flatten().collect();
        let causes = a["causes"].as_array().unwrap().len() as u32;
        let s = spec(group, causes, &times);
        let plain = cuminc_plain(&f, &s, &no_limits()).unwrap();
        compare_to_r(&plain, a, &mut w_plain, name);
        let res = run_mpc(&f, &s, &no_limits()).unwrap();
        compare_to_r(&res, a, &mut w_mpc, name);
        assert_eq!(res.n, data["time"].len() as u64);
        if let Some(tests) = a["gray_test"].as_array() {
            let ours = gray_test_plain(&f, &s).unwrap();
            for t in tests {
                let cause = t["cause"].as_u64().unwrap() as u32;
                let g = ours.iter().find(|g| g.cause == cause).unwrap();
                let stat = t["stat"].as_f64().unwrap();
                let rel = (g.statistic - stat).abs() / stat;
                assert!(
                    rel < 1e-9,
                    "{name} cause {cause}: {} vs R {stat}",
                    g.statistic
                );
                assert!((g.p_value - t["p_value"].as_f64().unwrap()).abs() < 1e-9);
                assert_eq!(u64::from(g.df), t["df"].as_u64().unwrap());
                w_gray = w_gray.max(rel);
            }
        }
    }
    println!(
        "worst against cmprsk: MPC {w_mpc:?}, twin {w_plain:?}, Gray's test (plaintext) {w_gray:e}"
    );
    assert!(w_plain.est < 1e-12 && w_plain.se < 1e-9, "{w_plain:?}");
}

/// A small deterministic generator (xorshift) for the random data sets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn close_rows(a: &CumincRow, b: &CumincRow, what: &str) -> (f64, f64) {
    assert_eq!(a.shown, b.shown, "{what}: shown");
    assert_eq!(a.at_risk, b.at_risk, "{what}: at risk");
    assert_eq!(a.events, b.events, "{what}: events");
    if !a.shown {
        assert_eq!(a, b, "{what}: suppressed cells carry nothing");
        return (0.0, 0.0);
    }
    let (x, y) = (a.estimate.unwrap(), b.estimate.unwrap());
    let de = (x - y).abs();
    assert!(de < 1e-5, "{what}: estimate {x} vs twin {y}");
    let (s, t) = (a.std_err.unwrap(), b.std_err.unwrap());
    let rel = (s - t).abs() / t.max(1e-6);
    assert!(rel < 1e-3, "{what}: std err {s} vs twin {t}");
    (de, rel)
}

/// Random competing-risks columns: `n` times in `1..=tmax` (ties), causes `1..=causes` with
/// about a quarter censored (0), and a group in `0..groups` (each level at least once).
fn competing_columns(
    rng: &mut Rng,
    n: usize,
    tmax: u64,
    causes: u64,
    groups: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let time: Vec<f64> = (0..n).map(|_| (1 + rng.below(tmax)) as f64).collect();
    let cause: Vec<f64> = (0..n)
        .map(|_| {
            if rng.below(4) == 0 {
                0.0
            } else {
                (1 + rng.below(causes)) as f64
            }
        })
        .collect();
    let g: Vec<f64> = (0..n)
        .map(|i| {
            if i < groups {
                i as f64
            } else {
                rng.below(groups as u64) as f64
            }
        })
        .collect();
    (time, cause, g)
}

/// Random competing-risks data for `seed`: the frame (group column `arm` when grouped),
/// whether it is grouped, the number of causes and a grid.
fn random_case(seed: u64) -> (PlainFrame, bool, u32, Vec<f64>) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let n = 30 + rng.below(150) as usize;
    let causes = 2 + rng.below(2) as u32;
    let groups = 1 + rng.below(3) as usize;
    let tmax = 5 + rng.below(40); // few distinct times: many ties
    let (time, cause, g) = competing_columns(&mut rng, n, tmax, u64::from(causes), groups);
    let group = (groups > 1).then_some(("arm", g.as_slice()));
    let f = frame(&time, &cause, group);
    let times: Vec<f64> = (1..=6)
        .map(|i| (i as f64 * tmax as f64 / 6.0).round() + 0.5 * (seed % 2) as f64)
        .collect::<Vec<_>>();
    let mut times = times;
    times.dedup();
    (f, groups > 1, causes, times)
}

#[test]
fn mpc_matches_twin_on_random_data() {
    let mut worst = (0.0f64, 0.0f64);
    for seed in 1..=8u64 {
        let (f, grouped, causes, times) = random_case(seed);
        let s = spec(grouped.then_some("arm"), causes, &times);
        // Odd seeds with the disclosure rules on (suppression must match), even ones without.
        let d = if seed % 2 == 1 {
            Disclosure {
                min_cell: Some(8),
                min_events: 3,
                min_rows: 0,
                ..Disclosure::default()
            }
        } else {
            no_limits()
        };
        let plain = cuminc_plain(&f, &s, &d).unwrap();
        let res = run_mpc(&f, &s, &d).unwrap();
        assert_eq!(res.n, plain.n);
        assert_eq!(res.curves.len(), plain.curves.len());
        for (a, b) in res.curves.iter().zip(&plain.curves) {
            assert_eq!((&a.group, a.cause), (&b.group, b.cause));
            for (ra, rb) in a.rows.iter().zip(&b.rows) {
                let what = format!(
                    "seed {seed} group {:?} cause {} t={}",
                    a.group, a.cause, ra.time
                );
                let (de, rel) = close_rows(ra, rb, &what);
                worst = (worst.0.max(de), worst.1.max(rel));
            }
        }
    }
    println!(
        "worst against the twin: estimate {:e}, std err (relative) {:e}",
        worst.0, worst.1
    );
}

/// The MPC result and the twin's: same shape, suppression and counts, close values.
fn same_as_twin(res: &CumincResult, plain: &CumincResult) {
    assert_eq!(res.n, plain.n);
    assert_eq!(res.curves.len(), plain.curves.len());
    for (a, b) in res.curves.iter().zip(&plain.curves) {
        assert_eq!((&a.group, a.cause), (&b.group, b.cause));
        for (ra, rb) in a.rows.iter().zip(&b.rows) {
            close_rows(ra, rb, &format!("{:?}/{} t={}", a.group, a.cause, ra.time));
        }
    }
}

#[test]
fn small_cells_are_suppressed() {
    // Group 0: 12 rows, group 1: 6 rows; min_cell 5.
    let time = [
        1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0,
    ];
    let cause = [
        1.0, 2.0, 0.0, 1.0, 1.0, 2.0, 0.0, 1.0, 2.0, 1.0, 0.0, 1.0, 1.0, 2.0, 1.0, 0.0, 2.0, 1.0,
    ];
    let g: Vec<f64> = (0..18).map(|i| if i < 12 { 0.0 } else { 1.0 }).collect();
    let f = frame(&time, &cause, Some(("arm", &g)));
    let s = spec(Some("arm"), 2, &[2.0, 5.0, 8.0]);
    let d = Disclosure {
        min_cell: Some(5),
        min_events: 0,
        min_rows: 0,
        ..Disclosure::default()
    };
    let res = run_mpc(&f, &s, &d).unwrap();
    same_as_twin(&res, &cuminc_plain(&f, &s, &d).unwrap());
    let shown = |grp: &str| -> Vec<bool> {
        let c = res
            .curves
            .iter()
            .find(|c| c.group.as_deref() == Some(grp) && c.cause == 1)
            .unwrap();
        c.rows.iter().map(|r| r.shown).collect()
    };
    // Group 0 at risk at 2, 5, 8: 11, 7, 4; group 1: 5, 2, 0.
    assert_eq!(shown("0"), vec![true, true, false]);
    assert_eq!(shown("1"), vec![true, false, false]);
    for c in &res.curves {
        for r in c.rows.iter().filter(|r| !r.shown) {
            assert!(r.estimate.is_none() && r.std_err.is_none() && r.at_risk.is_none());
        }
    }
    // With min_events, a grid time is shown only after enough new events.
    let d2 = Disclosure { min_events: 4, ..d };
    let res2 = run_mpc(&f, &s, &d2).unwrap();
    same_as_twin(&res2, &cuminc_plain(&f, &s, &d2).unwrap());
    let c0 = res2
        .curves
        .iter()
        .find(|c| c.group.as_deref() == Some("0"))
        .unwrap();
    // Group 0 events (any cause) by 2, 5, 8: 2, 5, 7: shown at 5 only (2 < 4 first).
    assert_eq!(
        c0.rows.iter().map(|r| r.shown).collect::<Vec<_>>(),
        vec![false, true, false]
    );
}

#[test]
fn bad_causes_are_refused_naming_the_column() {
    let time: Vec<f64> = (1..=12).map(f64::from).collect();
    for bad in [3.0, 1.5, -1.0] {
        let mut cause = vec![1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0, 1.0, 2.0, 0.0, 1.0, 2.0];
        cause[4] = bad;
        let f = frame(&time, &cause, None);
        let s = spec(None, 2, &[3.0, 6.0]);
        let e = run_mpc(&f, &s, &no_limits()).unwrap_err();
        assert!(e.contains("`cause`"), "{e}");
        let e = cuminc_plain(&f, &s, &no_limits()).unwrap_err().to_string();
        assert!(e.contains("`cause`"), "{e}");
    }
    // Bad specs are refused before any data is read.
    let f = frame(&time, &[0.0; 12], None);
    for s in [
        spec(None, 0, &[1.0]),
        spec(None, 2, &[]),
        spec(None, 2, &[2.0, 1.0]),
    ] {
        assert!(cuminc_plain(&f, &s, &no_limits()).is_err());
        assert!(run_mpc(&f, &s, &no_limits()).is_err());
    }
}

/// Precision at a larger scale: 20,000 rows, 3 groups, 3 causes, daily times up to 5 years.
/// Slow in a debug build; run with `--ignored` (release: a few seconds).
#[test]
#[ignore]
fn large_data_matches_twin() {
    let n = 20_000;
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let time: Vec<f64> = (0..n).map(|_| (1 + rng.below(1825)) as f64).collect();
    let cause: Vec<f64> = (0..n).map(|_| rng.below(4) as f64).collect();
    let g: Vec<f64> = (0..n).map(|_| rng.below(3) as f64).collect();
    let f = frame(&time, &cause, Some(("arm", &g)));
    let times: Vec<f64> = (1..=10).map(|i| f64::from(i) * 180.0).collect();
    let s = spec(Some("arm"), 3, &times);
    let plain = cuminc_plain(&f, &s, &no_limits()).unwrap();
    let start = std::time::Instant::now();
    let res = run_mpc(&f, &s, &no_limits()).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let mut worst = (0.0f64, 0.0f64);
    for (a, b) in res.curves.iter().zip(&plain.curves) {
        for (ra, rb) in a.rows.iter().zip(&b.rows) {
            let (de, rel) = close_rows(ra, rb, &format!("{:?}/{} t={}", a.group, a.cause, ra.time));
            worst = (worst.0.max(de), worst.1.max(rel));
        }
    }
    println!(
        "20,000 rows: {secs:.1} s in MPC; worst against the twin: estimate {:e}, std err {:e}",
        worst.0, worst.1
    );
}

#[test]
fn gray_suffix_form_matches_cmprsk_recursion() {
    use tessera_stats::survival::cuminc::gray_test_suffix;
    let mut worst = 0f64;
    for seed in 1..=40u64 {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let n = 100 + rng.below(1900) as usize;
        let groups = 2 + rng.below(2) as usize;
        let tmax = 5 + rng.below(200);
        let (time, cause, g) = competing_columns(&mut rng, n, tmax, 2, groups);
        let f = frame(&time, &cause, Some(("arm", g.as_slice())));
        let s = spec(Some("arm"), 2, &[1.0]);
        let a = gray_test_plain(&f, &s).unwrap();
        let b = gray_test_suffix(&f, &s).unwrap();
        for (x, y) in a.iter().zip(&b) {
            let rel = (x.statistic - y.statistic).abs() / x.statistic.abs().max(1e-12);
            assert!(
                rel < 1e-9,
                "seed {seed}: {} vs {}",
                x.statistic,
                y.statistic
            );
            worst = worst.max(rel);
        }
    }
    println!("suffix form vs cmprsk recursion: {worst:e}");
}

/// Relative error of Gray's statistics in MPC against a reference (per cause); below a
/// statistic of 1e-3 the bound 1e-4 is taken relative to 1e-3 (an absolute 1e-7).
fn gray_rel(res: &CumincResult, want: &[(u32, f64)], what: &str) -> f64 {
    let mut worst = 0f64;
    for &(cause, stat) in want {
        let g = res
            .gray_tests
            .iter()
            .find(|g| g.cause == cause)
            .unwrap_or_else(|| panic!("{what}: no Gray's test for cause {cause}"));
        let rel = (g.statistic - stat).abs() / stat.abs().max(1e-3);
        assert!(
            rel < 1e-4,
            "{what} cause {cause}: MPC {} vs {stat}",
            g.statistic
        );
        worst = worst.max(rel);
    }
    worst
}

#[test]
fn gray_test_in_mpc_matches_cmprsk() {
    let text = std::fs::read_to_string(root().join("fixtures/cuminc/cuminc.json")).unwrap();
    let fx: Value = serde_json::from_str(&text).unwrap();
    let syn = csv("fixtures/cuminc/synthetic.csv");
    let mg = csv("fixtures/cuminc/mgus2.csv");
    let mut worst = 0f64;
    for a in fx["analyses"].as_array().unwrap() {
        let Some(tests) = a["gray_test"].as_array() else {
            continue;
        };
        let name = a["name"].as_str().unwrap();
        let data = if name.starts_with("synthetic") {
            &syn
        } else {
            &mg
        };
        let group = a["group"].as_str().unwrap();
        let f = frame(
            &data["time"],
            &data["cause"],
            Some((group, data[group].as_slice())),
        );
        let times: Vec<f64> = floats(&a["times"]).into_iter().flatten().collect();
        let causes = a["causes"].as_array().unwrap().len() as u32;
        let mut s = spec(Some(group), causes, &times);
        s.gray_test = true;
        let res = run_mpc(&f, &s, &no_limits()).unwrap();
        let want: Vec<(u32, f64)> = tests
            .iter()
            .map(|t| {
                (
                    t["cause"].as_u64().unwrap() as u32,
                    t["stat"].as_f64().unwrap(),
                )
            })
            .collect();
        worst = worst.max(gray_rel(&res, &want, name));
        for (g, t) in res.gray_tests.iter().zip(tests) {
            assert!((g.p_value - t["p_value"].as_f64().unwrap()).abs() < 1e-5);
            assert_eq!(u64::from(g.df), t["df"].as_u64().unwrap());
        }
        // The estimates are unchanged by the option, and the twin carries the tests too.
        let plain = cuminc_plain(&f, &s, &no_limits()).unwrap();
        same_as_twin(&res, &plain);
        assert_eq!(plain.gray_tests.len(), causes as usize);
    }
    println!("Gray's test in MPC against cmprsk: worst relative {worst:e}");
}

#[test]
fn gray_test_in_mpc_matches_oracle_on_random_data() {
    let mut worst = 0f64;
    for seed in 1..=6u64 {
        let mut rng = Rng(0x51_7CC1_B727_220A ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let n = 100 + rng.below(1900) as usize;
        let groups = 2 + rng.below(2) as usize;
        let tmax = 5 + rng.below(200);
        let (time, cause, g) = competing_columns(&mut rng, n, tmax, 2, groups);
        let f = frame(&time, &cause, Some(("arm", g.as_slice())));
        let mut s = spec(Some("arm"), 2, &[tmax as f64 / 2.0]);
        s.gray_test = true;
        let want: Vec<(u32, f64)> = gray_test_plain(&f, &s)
            .unwrap()
            .iter()
            .map(|t| (t.cause, t.statistic))
            .collect();
        let res = run_mpc(&f, &s, &no_limits()).unwrap();
        let w = gray_rel(
            &res,
            &want,
            &format!("seed {seed} ({n} rows, {groups} groups)"),
        );
        println!("seed {seed}: {n} rows, {groups} groups, {tmax} times: {w:e} {want:?}");
        worst = worst.max(w);
    }
    println!("Gray's test in MPC against the oracle: worst relative {worst:e}");
}

/// Gray's test with a group nobody of which is at risk at an event time (all censored
/// before the first event): its variance is singular, and the MPC protocol must refuse as
/// the twin does, never seal a statistic from a singular solve.
#[test]
fn gray_test_with_a_group_without_information_is_refused() {
    let time = [
        1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.5, 0.5, 0.25, 7.0, 8.0, 2.5, 3.5,
    ];
    let cause = [
        1.0, 2.0, 1.0, 1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 2.0,
    ];
    for g in [
        [
            0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 2.0, 2.0, 2.0, 0.0, 1.0, 0.0, 1.0,
        ],
        [
            1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 0.0, 0.0, 0.0, 1.0, 2.0, 1.0, 2.0,
        ],
    ] {
        let f = frame(&time, &cause, Some(("g", &g)));
        let mut s = spec(Some("g"), 2, &[2.0, 4.0]);
        s.gray_test = true;
        let twin = cuminc_plain(&f, &s, &no_limits());
        let ours = run_mpc(&f, &s, &no_limits());
        match (&twin, &ours) {
            (Err(a), Err(b)) => {
                assert!(a.to_string().contains("Gray's test is undefined"), "{a}");
                assert!(b.contains("Gray's test is undefined"), "{b}");
            }
            _ => panic!("twin {twin:?}\nmpc {ours:?}"),
        }
        // Without the uninformative group the test is defined, and MPC matches the twin.
        let keep: Vec<usize> = (0..time.len())
            .filter(|&i| cause[i] > 0.0 || time[i] > 0.9)
            .collect();
        let pick = |v: &[f64]| keep.iter().map(|&i| v[i]).collect::<Vec<_>>();
        let gk: Vec<f64> = pick(&g);
        let low = gk.iter().fold(f64::MAX, |a, &b| a.min(b));
        let f = frame(
            &pick(&time),
            &pick(&cause),
            Some(("g", &gk.iter().map(|x| x - low).collect::<Vec<_>>())),
        );
        let twin = cuminc_plain(&f, &s, &no_limits()).unwrap();
        let ours = run_mpc(&f, &s, &no_limits()).unwrap();
        assert_eq!(twin.gray_tests.len(), 2);
        for (a, b) in twin.gray_tests.iter().zip(&ours.gray_tests) {
            assert_eq!((a.df, b.df), (1, 1));
            assert!(
                (a.statistic - b.statistic).abs() < 1e-4 * a.statistic.max(1.0),
                "{a:?} vs {b:?}"
            );
        }
    }
}

/// `at_event_times`: the rules of [`no_limits`] with event times allowed.
fn event_rules() -> Disclosure {
    Disclosure {
        allow_event_times: true,
        ..no_limits()
    }
}

/// The event-time rows of one analysis against R's (`cuminc_events.json`): same times,
/// counts; estimates 1e-4 absolute, standard errors 1e-3 relative.
fn events_vs_r(res: &CumincResult, analysis: &Value, what: &str) -> (f64, f64) {
    let mut worst = (0.0f64, 0.0f64);
    for curve in analysis["curves"].as_array().unwrap() {
        let group = curve["group"].as_str().map(str::to_string);
        let cause = curve["cause"].as_u64().unwrap() as u32;
        let ours = res
            .curves
            .iter()
            .find(|c| c.group == group && c.cause == cause)
            .and_then(|c| c.event_times.as_ref())
            .unwrap_or_else(|| panic!("{what}: no event times {group:?}/{cause}"));
        let times = floats(&curve["time"]);
        assert_eq!(ours.len(), times.len(), "{what} {group:?}/{cause}: rows");
        let (est, var) = (floats(&curve["estimate"]), floats(&curve["variance"]));
        let (at, ev) = (floats(&curve["at_risk"]), floats(&curve["events"]));
        let censored = curve["censored"]
            .as_array()
            .map(|_| floats(&curve["censored"]));
        for (i, r) in ours.iter().enumerate() {
            let here = format!("{what} {group:?}/{cause} t={}", r.time);
            assert!((r.time - times[i].unwrap()).abs() < 1e-6, "{here}");
            assert_eq!(r.at_risk as f64, at[i].unwrap(), "{here}: at risk");
            assert_eq!(r.events as f64, ev[i].unwrap(), "{here}: events");
            let want = censored.as_ref().map(|c| c[i].unwrap() as u64);
            assert_eq!(r.censored, want, "{here}: censored");
            let de = (r.estimate - est[i].unwrap()).abs();
            assert!(de < 1e-4, "{here}: {} vs R {:?}", r.estimate, est[i]);
            let se_r = var[i].unwrap().sqrt();
            let rel = if se_r > 0.0 {
                (r.std_err - se_r).abs() / se_r
            } else {
                r.std_err
            };
            assert!(rel < 1e-3, "{here}: se {} vs R {se_r}", r.std_err);
            worst = (worst.0.max(de), worst.1.max(rel));
        }
    }
    worst
}

#[test]
fn event_times_match_cmprsk() {
    let text = std::fs::read_to_string(root().join("fixtures/cuminc/cuminc_events.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    for analysis in fixture["analyses"].as_array().unwrap() {
        let name = analysis["name"].as_str().unwrap();
        let (data, group) = match name {
            "synthetic_by_arm" | "synthetic_by_arm_censor_marks" => {
                ("fixtures/cuminc/synthetic.csv", Some("arm"))
            }
            "mgus2_overall" => ("fixtures/cuminc/mgus2.csv", None),
            other => panic!("unknown analysis {other}"),
        };
        let cols = csv(data);
        let g = group.map(|g| (g, cols[g].as_slice()));
        let f = frame(&cols["time"], &cols["cause"], g);
        let mut s = spec(group, 2, &[12.0]);
        s.at_event_times = true;
        s.censor_marks = analysis["censor_marks"] == true;
        let plain = cuminc_plain(&f, &s, &event_rules()).unwrap();
        let w = events_vs_r(&plain, analysis, &format!("twin {name}"));
        println!("{name}: twin vs R: estimate {:e}, se {:e}", w.0, w.1);
        let started = std::time::Instant::now();
        let res = run_mpc(&f, &s, &event_rules()).unwrap();
        let secs = started.elapsed().as_secs_f64();
        let w = events_vs_r(&res, analysis, &format!("mpc {name}"));
        println!(
            "{name}: mpc vs R: estimate {:e}, se {:e} ({secs:.2} s)",
            w.0, w.1
        );
    }
}

#[test]
fn event_times_mpc_match_twin_on_random_data() {
    let mut worst = (0.0f64, 0.0f64);
    for seed in 11..=16u64 {
        let (f, grouped, causes, times) = random_case(seed);
        let mut s = spec(grouped.then_some("arm"), causes, &times);
        s.at_event_times = true;
        s.censor_marks = seed % 3 == 0;
        let d = Disclosure {
            min_cell: Some(if seed % 2 == 1 { 12 } else { 0 }),
            ..event_rules()
        };
        let plain = cuminc_plain(&f, &s, &d).unwrap();
        let res = run_mpc(&f, &s, &d).unwrap();
        same_as_twin(&res, &plain);
        for (a, b) in res.curves.iter().zip(&plain.curves) {
            let (ra, rb) = (
                a.event_times.as_ref().unwrap(),
                b.event_times.as_ref().unwrap(),
            );
            assert_eq!(ra.len(), rb.len(), "seed {seed}: rows");
            for (x, y) in ra.iter().zip(rb) {
                let what = format!("seed {seed} {:?}/{} t={}", a.group, a.cause, x.time);
                assert_eq!(
                    (x.time, x.at_risk, x.events, x.censored),
                    (y.time, y.at_risk, y.events, y.censored)
                );
                assert_eq!(x.censored.is_some(), s.censor_marks, "{what}");
                assert!(
                    x.at_risk >= d.min_cell.unwrap(),
                    "{what}: shown below min_cell"
                );
                let de = (x.estimate - y.estimate).abs();
                assert!(de < 1e-4, "{what}: {} vs {}", x.estimate, y.estimate);
                let rel = if y.std_err > 0.0 {
                    (x.std_err - y.std_err).abs() / y.std_err
                } else {
                    x.std_err
                };
                assert!(rel < 1e-3, "{what}: se {} vs {}", x.std_err, y.std_err);
                worst = (worst.0.max(de), worst.1.max(rel));
            }
        }
    }
    println!(
        "event times vs twin: estimate {:e}, se {:e}",
        worst.0, worst.1
    );
}

#[test]
fn event_times_are_refused_without_allow_event_times() {
    let (f, grouped, causes, times) = random_case(3);
    let mut s = spec(grouped.then_some("arm"), causes, &times);
    s.at_event_times = true;
    let e = tessera_stats::survival::cuminc::check(&s, &no_limits()).unwrap_err();
    assert!(e.to_string().contains("allow_event_times"), "{e}");
    let e = cuminc_plain(&f, &s, &no_limits()).unwrap_err();
    assert!(e.to_string().contains("allow_event_times"), "{e}");
    let e = run_mpc(&f, &s, &no_limits()).unwrap_err();
    assert!(e.contains("allow_event_times"), "{e}");
    s.at_event_times = false;
    assert!(cuminc_plain(&f, &s, &no_limits()).is_ok());
}

#[test]
fn without_event_times_nothing_changes() {
    let (f, grouped, causes, times) = random_case(4);
    let s = spec(grouped.then_some("arm"), causes, &times);
    // The spec as before (the sealed public part carries it) and no `event_times` key.
    let spec_json = serde_json::to_string(&s).unwrap();
    assert!(!spec_json.contains("at_event_times"), "{spec_json}");
    let res = run_mpc(&f, &s, &event_rules()).unwrap();
    let json = serde_json::to_string(&res).unwrap();
    assert!(!json.contains("event_times"), "{json}");
    assert!(!res.to_string().contains("at each event time"));
    let mut with = s.clone();
    with.at_event_times = true;
    let res = run_mpc(&f, &with, &event_rules()).unwrap();
    let json = serde_json::to_string(&res).unwrap();
    assert!(json.contains("event_times"), "{json}");
    assert!(res.to_string().contains("at each event time"));
}

#[test]
fn censor_marks_need_event_times() {
    let (f, grouped, causes, times) = random_case(5);
    let mut s = spec(grouped.then_some("arm"), causes, &times);
    s.censor_marks = true;
    let e = cuminc_plain(&f, &s, &event_rules()).unwrap_err();
    assert!(e.to_string().contains("at_event_times = true"), "{e}");
    s.at_event_times = true;
    let res = cuminc_plain(&f, &s, &event_rules()).unwrap();
    assert!(res.to_string().contains("event or censoring time"));
    // Every row has events or censorings, and their counts add up to the group's rows.
    for c in &res.curves {
        let rows = c.event_times.as_ref().unwrap();
        assert!(rows.iter().all(|r| r.events + r.censored.unwrap() > 0));
        let total: u64 = rows.iter().map(|r| r.events + r.censored.unwrap()).sum();
        assert_eq!(total, rows[0].at_risk, "{:?}/{}", c.group, c.cause);
    }
}
