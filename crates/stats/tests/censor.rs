//! Censoring marks (`censor_marks = true` with `at_event_times`): the curve at every time
//! where anybody leaves the risk set, with the number censored, in MPC and in the plaintext
//! twin against R's `summary(survfit(...), censored = TRUE)` (fixtures in
//! `fixtures/censor/`, made by `make_censor.R`; R is not needed here).

mod common;
use common::{csv_frame, curve_case, in_mpc, root, time_event_frame as frame, XorRng as Rng};

use serde_json::Value;
use tessera_stats::analysis::KaplanMeierSpec;
use tessera_stats::survival::{kaplan_meier, kaplan_meier_plain, KmResult};
use tessera_stats::{Disclosure, PlainFrame};

/// No suppression; event times allowed.
fn open_rules() -> Disclosure {
    common::event_time_rules()
}

fn spec(group: Option<&str>) -> KaplanMeierSpec {
    KaplanMeierSpec {
        entry: None,
        time: "time".into(),
        event: "event".into(),
        group: group.map(str::to_string),
        times: Vec::new(),
        at_event_times: true,
        censor_marks: true,
        median: false,
        conf_level: 0.95,
    }
}

fn run_mpc(f: &PlainFrame, s: &KaplanMeierSpec, d: &Disclosure) -> Result<KmResult, String> {
    in_mpc(f, |p, fr| kaplan_meier(p, fr, s, d))
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Every row of R's table against ours: times and counts exactly, the curve and its band
/// to 1e-5 (the fixed-point survival), the standard error to 1e-3 relative.
fn compare_to_r(res: &KmResult, a: &Value, what: &str) {
    let groups = a["groups"].as_array().unwrap();
    assert_eq!(res.curves.len(), groups.len(), "{what}");
    for (c, g) in res.curves.iter().zip(groups) {
        assert_eq!(c.group.as_deref(), g["group"].as_str(), "{what}");
        let rows = &c.event_times;
        let time = nums(&g["time"]);
        assert_eq!(rows.len(), time.len(), "{what} {:?}: rows", c.group);
        let cols = ["at_risk", "events", "censored"].map(|k| nums(&g[k]));
        let est = ["survival", "ci_lower", "ci_upper", "std_err"].map(|k| nums(&g[k]));
        for (i, r) in rows.iter().enumerate() {
            let w = format!("{what} {:?} t = {}", c.group, time[i]);
            assert_eq!(r.time, time[i], "{w}");
            assert_eq!(r.at_risk as f64, cols[0][i], "{w}: at risk");
            assert_eq!(r.events as f64, cols[1][i], "{w}: events");
            assert_eq!(
                r.censored.map(|c| c as f64),
                Some(cols[2][i]),
                "{w}: censored"
            );
            for (got, want) in [r.survival, r.ci_lower, r.ci_upper].iter().zip(&est) {
                assert!((got - want[i]).abs() < 1e-5, "{w}: {got} vs R {}", want[i]);
            }
            let se = est[3][i];
            assert!(
                (r.std_err - se).abs() <= 1e-3 * se.max(1e-6),
                "{w}: se {} vs R {se}",
                r.std_err
            );
        }
    }
}

#[test]
fn mpc_and_twin_match_r_with_censored_times() {
    let text = std::fs::read_to_string(root().join("fixtures/censor/censor.json")).unwrap();
    let fx: Value = serde_json::from_str(&text).unwrap();
    let (mut censor_only, mut both) = (0, 0);
    for a in fx["analyses"].as_array().unwrap() {
        let name = a["name"].as_str().unwrap();
        let (f, s) = match a["entry"].as_str() {
            // Delayed entry: the fixture's table with its group as `<g>_cat`.
            Some(entry) => {
                let g = a["group"].as_str().unwrap();
                let f = csv_frame(a["data"].as_str().unwrap(), &[g]);
                let s = KaplanMeierSpec {
                    entry: Some(entry.into()),
                    time: a["time"].as_str().unwrap().into(),
                    event: a["event"].as_str().unwrap().into(),
                    group: Some(format!("{g}_cat")),
                    ..spec(None)
                };
                (f, s)
            }
            None => {
                let (f, group) = curve_case(a);
                (f, spec(group))
            }
        };
        let plain = kaplan_meier_plain(&f, &s, &open_rules()).unwrap();
        compare_to_r(&plain, a, &format!("{name} (twin)"));
        let res = run_mpc(&f, &s, &open_rules()).unwrap();
        compare_to_r(&res, a, &format!("{name} (MPC)"));
        for r in res.curves.iter().flat_map(|c| &c.event_times) {
            censor_only += usize::from(r.events == 0);
            both += usize::from(r.events > 0 && r.censored > Some(0));
        }
    }
    // The fixtures have times with censorings only and times with both.
    assert!(censor_only > 50 && both > 0, "{censor_only} {both}");
}

#[test]
fn random_ties_of_events_and_censorings_match_the_twin() {
    let mut rng = Rng(0x5eed_cafe);
    for case in 0..4 {
        let n = 40 + 30 * case;
        let time: Vec<f64> = (0..n).map(|_| (1 + rng.below(12)) as f64).collect();
        let event: Vec<f64> = (0..n).map(|_| rng.below(2) as f64).collect();
        let group: Vec<f64> = (0..n).map(|_| rng.below(3) as f64).collect();
        let f = frame(&time, &event, Some(("g", &group)));
        let d = Disclosure {
            min_cell: Some(3),
            ..open_rules()
        };
        let s = spec(Some("g"));
        let plain = kaplan_meier_plain(&f, &s, &d).unwrap();
        let res = run_mpc(&f, &s, &d).unwrap();
        for (a, b) in res.curves.iter().zip(&plain.curves) {
            assert_eq!(a.event_times.len(), b.event_times.len(), "case {case}");
            for (x, y) in a.event_times.iter().zip(&b.event_times) {
                assert_eq!(
                    (x.time, x.at_risk, x.events, x.censored),
                    (y.time, y.at_risk, y.events, y.censored),
                    "case {case}"
                );
                assert!(x.at_risk >= 3);
                assert!((x.survival - y.survival).abs() < 1e-5);
            }
            // Everybody at a shown time either had the event, was censored or stays.
            let left: u64 = a
                .event_times
                .iter()
                .map(|r| r.events + r.censored.unwrap())
                .sum();
            assert!(left <= a.event_times.first().map_or(0, |r| r.at_risk));
        }
    }
}

#[test]
fn without_censor_marks_the_event_table_is_what_it_was() {
    let f = common::lung_by_sex();
    let with = spec(Some("sex"));
    let without = KaplanMeierSpec {
        censor_marks: false,
        ..with.clone()
    };
    let a = run_mpc(&f, &without, &open_rules()).unwrap();
    let b = run_mpc(&f, &with, &open_rules()).unwrap();
    let json = serde_json::to_string(&a).unwrap();
    assert!(
        !json.contains("censored"),
        "no censored key without the option"
    );
    assert!(!serde_json::to_string(&without)
        .unwrap()
        .contains("censor_marks"));
    for (x, y) in a.curves.iter().zip(&b.curves) {
        assert!(x.event_times.iter().all(|r| r.events > 0));
        let events_only: Vec<_> = y.event_times.iter().filter(|r| r.events > 0).collect();
        assert_eq!(x.event_times.len(), events_only.len());
        for (r, s) in x.event_times.iter().zip(events_only) {
            assert_eq!((r.time, r.at_risk, r.events), (s.time, s.at_risk, s.events));
            assert!((r.survival - s.survival).abs() < 1e-6);
        }
        assert!(y.event_times.len() > x.event_times.len());
    }
}

#[test]
fn censor_marks_need_event_times_and_their_consent() {
    let f = frame(&[1.0, 2.0, 3.0], &[1.0, 0.0, 1.0], None);
    let alone = KaplanMeierSpec {
        at_event_times: false,
        times: vec![2.0],
        ..spec(None)
    };
    let err = kaplan_meier_plain(&f, &alone, &open_rules()).unwrap_err();
    assert!(err.to_string().contains("at_event_times = true"), "{err}");
    let closed = Disclosure {
        allow_event_times: false,
        ..open_rules()
    };
    let err = run_mpc(&f, &spec(None), &closed).unwrap_err();
    assert!(err.contains("allow_event_times"), "{err}");
}
