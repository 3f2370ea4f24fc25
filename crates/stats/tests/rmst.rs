//! Restricted mean survival time in MPC against R's `survfit` (`summary(fit, rmean = τ)`;
//! fixtures in `fixtures/rmst/`, made by `make_rmst.R`; R is not needed here) and against
//! its plaintext twin. Tolerances are the issue's: estimates 1e-4 absolute, read relative to
//! `τ` (the estimate is a time: `|Δ| < 1e-4·τ`), standard errors 1e-3 relative.

mod common;
use common::{curve_case, in_mpc, root, time_event_frame as frame, XorRng as Rng};

use serde_json::Value;
use tessera_stats::survival::rmst::{RmstGroup, RmstSpec};
use tessera_stats::survival::{rmst, rmst_plain, RmstResult};
use tessera_stats::{Disclosure, PlainFrame};

fn no_limits() -> Disclosure {
    Disclosure {
        min_cell: Some(0),
        min_events: 0,
        min_rows: 0,
        ..Disclosure::default()
    }
}

fn spec(group: Option<&str>, tau: f64) -> RmstSpec {
    RmstSpec {
        time: "time".into(),
        event: "event".into(),
        group: group.map(str::to_string),
        tau,
        conf_level: 0.95,
    }
}

fn run_mpc(f: &PlainFrame, s: &RmstSpec, d: &Disclosure) -> Result<RmstResult, String> {
    in_mpc(f, |p, fr| rmst(p, fr, s, d))
}

/// Largest errors seen: estimate (absolute, divided by τ), standard error (relative).
#[derive(Default, Debug)]
struct Worst {
    est: f64,
    se: f64,
}

impl Worst {
    fn add(&mut self, what: &str, tau: f64, (m, m_r): (f64, f64), (se, se_r): (f64, f64)) {
        let de = (m - m_r).abs() / tau;
        assert!(de < 1e-4, "{what}: rmst {m} vs {m_r} (tau {tau})");
        let rel = if se_r > 0.0 {
            (se - se_r).abs() / se_r
        } else {
            se / tau
        };
        assert!(rel < 1e-3, "{what}: se {se} vs {se_r}");
        self.est = self.est.max(de);
        self.se = self.se.max(rel);
    }
}

fn compare_to_r(res: &RmstResult, a: &Value, worst: &mut Worst, what: &str) {
    let tau = a["tau"].as_f64().unwrap();
    let groups = a["groups"].as_array().unwrap();
    assert_eq!(res.groups.len(), groups.len(), "{what}");
    for (ours, r) in res.groups.iter().zip(groups) {
        assert_eq!(
            ours.group.as_deref(),
            r["group"].as_str(),
            "{what}: group order"
        );
        assert!(ours.shown, "{what}");
        assert_eq!(ours.n, r["n"].as_u64(), "{what}: n");
        assert_eq!(ours.events, r["events"].as_u64(), "{what}: events");
        let w = format!("{what} {:?}", ours.group);
        worst.add(
            &w,
            tau,
            (ours.rmst.unwrap(), r["rmean"].as_f64().unwrap()),
            (ours.std_err.unwrap(), r["se"].as_f64().unwrap()),
        );
        let (m, se) = (ours.rmst.unwrap(), ours.std_err.unwrap());
        let z = 1.959963984540054;
        assert!((ours.ci_lower.unwrap() - (m - z * se)).abs() < 1e-9 * tau);
        assert!((ours.ci_upper.unwrap() - (m + z * se)).abs() < 1e-9 * tau);
    }
    let diffs = a["differences"].as_array().unwrap();
    assert_eq!(res.differences.len(), diffs.len(), "{what}: differences");
    for (ours, r) in res.differences.iter().zip(diffs) {
        assert_eq!(Some(ours.group.as_str()), r["group"].as_str());
        assert_eq!(Some(ours.reference.as_str()), r["reference"].as_str());
        worst.add(
            &format!("{what} difference {}", ours.group),
            tau,
            (ours.estimate, r["estimate"].as_f64().unwrap()),
            (ours.std_err, r["se"].as_f64().unwrap()),
        );
    }
}

#[test]
fn mpc_and_twin_match_r_survfit() {
    let text = std::fs::read_to_string(root().join("fixtures/rmst/rmst.json")).unwrap();
    let fx: Value = serde_json::from_str(&text).unwrap();
    let (mut w_mpc, mut w_plain) = (Worst::default(), Worst::default());
    for a in fx["analyses"].as_array().unwrap() {
        let name = a["name"].as_str().unwrap();
        let (f, group) = curve_case(a);
        let s = spec(group, a["tau"].as_f64().unwrap());
        let plain = rmst_plain(&f, &s, &no_limits()).unwrap();
        compare_to_r(&plain, a, &mut w_plain, name);
        let res = run_mpc(&f, &s, &no_limits()).unwrap();
        compare_to_r(&res, a, &mut w_mpc, name);
        assert_eq!(res.n, f.columns[0].len() as u64);
        if name == "registry_by_stage_tau1800" {
            println!("{res}");
        }
    }
    println!("worst against R survfit (rmst / tau, se relative): MPC {w_mpc:?}, twin {w_plain:?}");
    assert!(w_plain.est < 1e-12 && w_plain.se < 1e-9, "{w_plain:?}");
}

/// The MPC group and the twin's: same suppression and counts, close values; the errors.
fn close(a: &RmstGroup, b: &RmstGroup, tau: f64, what: &str) -> (f64, f64) {
    assert_eq!(a.group, b.group, "{what}");
    assert_eq!(a.shown, b.shown, "{what}: shown");
    assert_eq!(a.n, b.n, "{what}: n");
    assert_eq!(a.events, b.events, "{what}: events");
    if !a.shown {
        assert_eq!(a, b, "{what}: suppressed groups carry nothing");
        return (0.0, 0.0);
    }
    let (x, y) = (a.rmst.unwrap(), b.rmst.unwrap());
    let de = (x - y).abs() / tau;
    assert!(de < 1e-6, "{what}: rmst {x} vs twin {y}");
    let (s, t) = (a.std_err.unwrap(), b.std_err.unwrap());
    let rel = if t > 0.0 { (s - t).abs() / t } else { s / tau };
    assert!(rel < 1e-3, "{what}: std err {s} vs twin {t}");
    (de, rel)
}

fn same_as_twin(res: &RmstResult, plain: &RmstResult, what: &str) -> (f64, f64) {
    assert_eq!(res.n, plain.n, "{what}");
    assert_eq!(res.groups.len(), plain.groups.len());
    let mut worst = (0.0f64, 0.0f64);
    for (a, b) in res.groups.iter().zip(&plain.groups) {
        let (de, rel) = close(a, b, res.tau, &format!("{what} {:?}", a.group));
        worst = (worst.0.max(de), worst.1.max(rel));
    }
    assert_eq!(res.differences.len(), plain.differences.len(), "{what}");
    for (a, b) in res.differences.iter().zip(&plain.differences) {
        assert_eq!(a.group, b.group);
        assert!((a.estimate - b.estimate).abs() < 2e-6 * res.tau, "{what}");
    }
    worst
}

#[test]
fn mpc_matches_twin_on_random_data() {
    let mut worst = (0.0f64, 0.0f64);
    for seed in 1..=10u64 {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let n = 25 + rng.below(150) as usize;
        let groups = 1 + rng.below(3) as usize;
        let tmax = 5 + rng.below(60); // few distinct times: many ties
                                      // Half the seeds with fractional times (quarter units).
        let frac = if seed % 2 == 0 { 4.0 } else { 1.0 };
        let time: Vec<f64> = (0..n)
            .map(|_| (1 + rng.below(tmax * frac as u64)) as f64 / frac)
            .collect();
        let event: Vec<f64> = (0..n).map(|_| (rng.below(3) != 0) as u8 as f64).collect();
        let g: Vec<f64> = (0..n)
            .map(|i| {
                if i < groups {
                    i as f64
                } else {
                    rng.below(groups as u64) as f64
                }
            })
            .collect();
        let group = (groups > 1).then_some(("arm", g.as_slice()));
        let f = frame(&time, &event, group);
        let tmin = time.iter().cloned().fold(f64::INFINITY, f64::min);
        let tlast = time.iter().cloned().fold(0.0, f64::max);
        // τ before the first time, at a time, between times, past the last time.
        let taus = [tmin / 2.0, time[0], tmax as f64 * 0.6 + 0.3, tlast + 7.25];
        for (ti, &tau) in taus.iter().enumerate() {
            let s = spec(group.map(|g| g.0), tau);
            let d = if (seed + ti as u64) % 2 == 1 {
                Disclosure {
                    min_cell: Some(12),
                    min_events: 4,
                    min_rows: 0,
                    ..Disclosure::default()
                }
            } else {
                no_limits()
            };
            let plain = rmst_plain(&f, &s, &d).unwrap();
            let res = run_mpc(&f, &s, &d).unwrap();
            let w = same_as_twin(&res, &plain, &format!("seed {seed} tau {tau}"));
            worst = (worst.0.max(w.0), worst.1.max(w.1));
            if ti == 0 {
                // Before the first time: the curve is 1, the mean is τ, no variance.
                for gr in res.groups.iter().filter(|g| g.shown) {
                    assert!((gr.rmst.unwrap() - tau).abs() < 1e-6 * tau);
                    assert!(gr.std_err.unwrap() < 1e-6);
                    assert_eq!(gr.events, Some(0));
                }
            }
        }
    }
    println!(
        "worst against the twin: rmst / tau {:e}, std err (relative) {:e}",
        worst.0, worst.1
    );
}

#[test]
fn small_groups_are_suppressed() {
    // Group 0: 14 rows (9 events by 8), group 1: 7 rows.
    let time = [
        1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 3.0, 1.0, 2.0, 3.0,
        4.0, 5.0, 6.0, 9.0,
    ];
    let event = [
        1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0,
        1.0, 1.0, 0.0,
    ];
    let g: Vec<f64> = (0..21).map(|i| if i < 14 { 0.0 } else { 1.0 }).collect();
    let f = frame(&time, &event, Some(("arm", &g)));
    let s = spec(Some("arm"), 8.0);
    let shown = |r: &RmstResult| r.groups.iter().map(|g| g.shown).collect::<Vec<_>>();
    // min_cell 10: group 1 (7 rows) suppressed, and no difference is given.
    let d = Disclosure {
        min_cell: Some(10),
        min_events: 0,
        min_rows: 0,
        ..Disclosure::default()
    };
    let res = run_mpc(&f, &s, &d).unwrap();
    same_as_twin(&res, &rmst_plain(&f, &s, &d).unwrap(), "min_cell");
    assert_eq!(shown(&res), vec![true, false]);
    assert!(res.differences.is_empty());
    let g1 = &res.groups[1];
    assert!(g1.rmst.is_none() && g1.std_err.is_none() && g1.n.is_none() && g1.events.is_none());
    // min_events 5 (group 1 has 4 events by τ = 8), min_cell 5: group 1 suppressed again.
    let d2 = Disclosure {
        min_cell: Some(5),
        min_events: 5,
        ..d.clone()
    };
    let res2 = run_mpc(&f, &s, &d2).unwrap();
    same_as_twin(&res2, &rmst_plain(&f, &s, &d2).unwrap(), "min_events");
    assert_eq!(shown(&res2), vec![true, false]);
    assert_eq!(res2.groups[0].events, Some(8));
    // Both shown with min_events 4: a difference, as the twin.
    let d3 = Disclosure {
        min_events: 4,
        ..d2.clone()
    };
    let res3 = run_mpc(&f, &s, &d3).unwrap();
    same_as_twin(&res3, &rmst_plain(&f, &s, &d3).unwrap(), "both");
    assert_eq!(shown(&res3), vec![true, true]);
    assert_eq!(res3.differences.len(), 1);
    // min_level_rows refuses the whole analysis (one bit), as Kaplan–Meier.
    let d4 = Disclosure {
        min_level_rows: 8,
        ..d3.clone()
    };
    let e = run_mpc(&f, &s, &d4).unwrap_err();
    assert!(e.contains("min_level_rows"), "{e}");
    let e = rmst_plain(&f, &s, &d4).unwrap_err().to_string();
    assert!(e.contains("min_level_rows"), "{e}");
    // min_rows on the opened number of complete cases.
    let d5 = Disclosure { min_rows: 30, ..d3 };
    assert!(run_mpc(&f, &s, &d5).unwrap_err().contains("min_rows"));
    assert!(rmst_plain(&f, &s, &d5).is_err());
}

#[test]
fn bad_specs_are_refused() {
    let time: Vec<f64> = (1..=12).map(f64::from).collect();
    let f = frame(&time, &[1.0; 12], None);
    for tau in [0.0, -3.0, f64::NAN, f64::INFINITY] {
        let s = spec(None, tau);
        let e = rmst_plain(&f, &s, &no_limits()).unwrap_err().to_string();
        assert!(e.contains("tau"), "{e}");
        assert!(run_mpc(&f, &s, &no_limits()).unwrap_err().contains("tau"));
    }
    for conf in [0.0, 1.0, 1.5] {
        let s = RmstSpec {
            conf_level: conf,
            ..spec(None, 5.0)
        };
        assert!(rmst_plain(&f, &s, &no_limits()).is_err());
        assert!(run_mpc(&f, &s, &no_limits()).is_err());
    }
    // Too large for the fixed point (24 fractional bits: τ below 2^19.5).
    let e = run_mpc(&f, &spec(None, 1e6), &no_limits()).unwrap_err();
    assert!(e.contains("too large"), "{e}");
    // The spec's serde form: conf_level defaults to 0.95, unknown fields are refused.
    let s: RmstSpec =
        serde_json::from_str(r#"{"time": "a.t", "event": "a.e", "tau": 365}"#).unwrap();
    assert_eq!(s.conf_level, 0.95);
    assert_eq!(s.group, None);
    assert!(serde_json::from_str::<RmstSpec>(
        r#"{"time": "a.t", "event": "a.e", "tau": 365, "times": [1]}"#
    )
    .is_err());
}

/// Precision at a larger scale: 20,000 rows, 3 groups, daily times up to 5 years, τ = 1,825.
/// Slow in a debug build; run with `--ignored` (release: a few seconds).
#[test]
#[ignore]
fn large_data_matches_twin() {
    let n = 20_000;
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let time: Vec<f64> = (0..n).map(|_| (1 + rng.below(2400)) as f64).collect();
    let event: Vec<f64> = (0..n).map(|_| (rng.below(3) != 0) as u8 as f64).collect();
    let g: Vec<f64> = (0..n).map(|_| rng.below(3) as f64).collect();
    let f = frame(&time, &event, Some(("arm", &g)));
    for tau in [365.0, 1825.0] {
        let s = spec(Some("arm"), tau);
        let plain = rmst_plain(&f, &s, &no_limits()).unwrap();
        let start = std::time::Instant::now();
        let res = run_mpc(&f, &s, &no_limits()).unwrap();
        let secs = start.elapsed().as_secs_f64();
        let w = same_as_twin(&res, &plain, &format!("tau {tau}"));
        println!(
            "20,000 rows, tau {tau}: {secs:.1} s in MPC; worst against the twin: rmst / tau \
             {:e}, std err {:e}",
            w.0, w.1
        );
    }
}
