//! Median survival time with its confidence interval (`median = true` on Kaplan–Meier) in
//! MPC against R's `survfit` (`print(fit)`'s median, LCL, UCL with conf.type = "log-log";
//! fixtures in `fixtures/median/`, made by `make_median.R`; R is not needed here) and
//! against the plaintext twin. The numbers are event times (or midpoints of two), so they
//! must agree to 1e-9; R's `NA` must be "not reached".

mod common;
use common::{
    csv_columns as csv, curve_case, in_mpc, root, share_frame, time_event_frame as frame,
    XorRng as Rng,
};

use serde_json::Value;
use tessera_stats::analysis::KaplanMeierSpec;
use tessera_stats::survival::median::{KmMedian, MedianStatus};
use tessera_stats::survival::{kaplan_meier, kaplan_meier_plain, KmResult};
use tessera_stats::{Disclosure, PlainFrame};

/// No suppression; event times allowed.
fn open_rules() -> Disclosure {
    common::event_time_rules()
}

fn spec(group: Option<&str>, conf_level: f64) -> KaplanMeierSpec {
    KaplanMeierSpec {
        entry: None,
        time: "time".into(),
        event: "event".into(),
        group: group.map(str::to_string),
        times: Vec::new(),
        at_event_times: false,
        censor_marks: false,
        median: true,
        conf_level,
    }
}

fn run_mpc(f: &PlainFrame, s: &KaplanMeierSpec, d: &Disclosure) -> Result<KmResult, String> {
    in_mpc(f, |p, fr| kaplan_meier(p, fr, s, d))
}

fn medians(r: &KmResult) -> Vec<KmMedian> {
    r.curves
        .iter()
        .map(|c| c.median.clone().expect("median asked"))
        .collect()
}

/// One of R's numbers (null: NA) against ours.
fn same_as_r(ours: Option<f64>, status: MedianStatus, r: &Value, what: &str) {
    match r.as_f64() {
        Some(want) => {
            assert_eq!(status, MedianStatus::Shown, "{what}: R has {want}");
            let got = ours.unwrap();
            assert!((got - want).abs() < 1e-9, "{what}: {got} vs R {want}");
        }
        None => {
            assert!(r.is_null(), "{what}");
            assert_eq!(status, MedianStatus::NotReached, "{what}: R has NA");
            assert_eq!(ours, None, "{what}");
        }
    }
}

fn compare_to_r(res: &KmResult, a: &Value, what: &str) {
    let groups = a["groups"].as_array().unwrap();
    assert_eq!(res.curves.len(), groups.len(), "{what}");
    for (c, r) in res.curves.iter().zip(groups) {
        assert_eq!(
            c.group.as_deref(),
            r["group"].as_str(),
            "{what}: group order"
        );
        let m = c.median.as_ref().expect("median asked");
        let w = format!("{what} {:?}", c.group);
        same_as_r(m.median, m.status[0], &r["median"], &format!("{w} median"));
        same_as_r(m.lower, m.status[1], &r["lower"], &format!("{w} lower"));
        same_as_r(m.upper, m.status[2], &r["upper"], &format!("{w} upper"));
    }
}

#[test]
fn mpc_and_twin_match_r_survfit() {
    let text = std::fs::read_to_string(root().join("fixtures/median/median.json")).unwrap();
    let fx: Value = serde_json::from_str(&text).unwrap();
    let (mut reached, mut not_reached, mut midpoints) = (0, 0, 0);
    for a in fx["analyses"].as_array().unwrap() {
        let name = a["name"].as_str().unwrap();
        let (f, group) = curve_case(a);
        let s = spec(group, a["conf_level"].as_f64().unwrap());
        let plain = kaplan_meier_plain(&f, &s, &open_rules()).unwrap();
        compare_to_r(&plain, a, &format!("{name} (twin)"));
        let res = run_mpc(&f, &s, &open_rules()).unwrap();
        compare_to_r(&res, a, &format!("{name} (MPC)"));
        for m in medians(&res) {
            for (i, st) in m.status.iter().enumerate() {
                match st {
                    MedianStatus::Shown => reached += 1,
                    _ => not_reached += 1,
                }
                let v = [m.median, m.lower, m.upper][i];
                midpoints += usize::from(v.is_some_and(|v| v.fract() != 0.0));
            }
        }
        if name == "tiny_by_var_0.95" {
            println!("{res}");
        }
    }
    println!("{reached} numbers reached, {not_reached} not reached, {midpoints} midpoints");
    // The fixtures cover all three cases.
    assert!(reached > 40 && not_reached > 10 && midpoints >= 2);
}

#[test]
fn median_beside_a_grid_and_the_event_table() {
    // The median's sealed values come after the grid and the event-time table.
    let f = common::lung_by_sex();
    let mut s = spec(Some("sex"), 0.95);
    s.times = vec![180.0, 365.0, 730.0];
    s.at_event_times = true;
    let d = Disclosure {
        min_cell: Some(10),
        ..open_rules()
    };
    let plain = kaplan_meier_plain(&f, &s, &d).unwrap();
    let res = run_mpc(&f, &s, &d).unwrap();
    assert_eq!(medians(&res), medians(&plain));
    assert_eq!(res.curves[0].median.as_ref().unwrap().median, Some(270.0));
    assert_eq!(res.curves[1].median.as_ref().unwrap().upper, Some(524.0));
    for (a, b) in res.curves.iter().zip(&plain.curves) {
        assert_eq!(a.event_times.len(), b.event_times.len());
        for (x, y) in a.rows.iter().zip(&b.rows) {
            assert_eq!(x.shown, y.shown);
            if let (Some(u), Some(v)) = (x.survival, y.survival) {
                assert!((u - v).abs() < 1e-5);
            }
        }
    }
}

#[test]
fn a_median_on_few_at_risk_is_suppressed() {
    // lung by sex: the median of sex 2 (426 days) rests on fewer at risk than sex 1's.
    let f = common::lung_by_sex();
    let s = spec(Some("sex"), 0.95);
    let d = Disclosure {
        min_cell: Some(30),
        ..open_rules()
    };
    let plain = kaplan_meier_plain(&f, &s, &d).unwrap();
    let res = run_mpc(&f, &s, &d).unwrap();
    let (m, p) = (medians(&res), medians(&plain));
    assert_eq!(m, p);
    println!("{res}");
    let all: Vec<MedianStatus> = m.iter().flat_map(|x| x.status).collect();
    assert!(all.contains(&MedianStatus::Shown), "{all:?}");
    assert!(all.contains(&MedianStatus::Suppressed), "{all:?}");
    for x in &m {
        for (i, st) in x.status.iter().enumerate() {
            let v = [x.median, x.lower, x.upper][i];
            assert_eq!(v.is_some(), *st == MedianStatus::Shown);
        }
    }
}

#[test]
fn mpc_matches_twin_on_random_data() {
    let mut seen = [0usize; 3];
    for seed in 1..=12u64 {
        let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
        // Small groups with few distinct times: curves exactly 0.5 on an interval, curves
        // ending at 0, bands never reaching 0.5.
        let n = 6 + rng.below(if seed % 3 == 0 { 120 } else { 30 }) as usize;
        let groups = 1 + rng.below(3) as usize;
        let tmax = 4 + rng.below(20);
        let frac = if seed % 2 == 0 { 4.0 } else { 1.0 };
        let time: Vec<f64> = (0..n)
            .map(|_| (1 + rng.below(tmax * frac as u64)) as f64 / frac)
            .collect();
        let event: Vec<f64> = (0..n).map(|_| (rng.below(4) != 0) as u8 as f64).collect();
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
        let level = if seed % 2 == 0 { 0.95 } else { 0.9 };
        let s = spec(group.map(|g| g.0), level);
        let d = if seed % 4 == 1 {
            Disclosure {
                min_cell: Some(5),
                ..open_rules()
            }
        } else {
            open_rules()
        };
        let plain = kaplan_meier_plain(&f, &s, &d).unwrap();
        let res = run_mpc(&f, &s, &d).unwrap();
        let (m, p) = (medians(&res), medians(&plain));
        for (x, y) in m.iter().zip(&p) {
            assert_eq!(x.status, y.status, "seed {seed}");
            for (a, b) in [(x.median, y.median), (x.lower, y.lower), (x.upper, y.upper)] {
                assert_eq!(a.is_some(), b.is_some(), "seed {seed}");
                if let (Some(a), Some(b)) = (a, b) {
                    assert!((a - b).abs() < 1e-9, "seed {seed}: {a} vs twin {b}");
                }
            }
            for st in x.status {
                seen[st as usize] += 1;
            }
        }
    }
    println!("shown, not reached, suppressed: {seen:?}");
    assert!(seen.iter().all(|&c| c > 0), "{seen:?}");
}

#[test]
fn median_without_allow_event_times_is_refused_before_anything_is_computed() {
    // The researcher asks for the median; the rules do not allow event times.
    let data = csv("fixtures/data/tiny.csv", &["T", "E", "var"]);
    let f = frame(
        &data["T"],
        &data["E"],
        Some(("var", data["var"].as_slice())),
    );
    let s = spec(Some("var"), 0.95);
    let d = Disclosure {
        allow_event_times: false,
        ..open_rules()
    };
    let e = kaplan_meier_plain(&f, &s, &d).unwrap_err().to_string();
    assert!(e.contains("allow_event_times"), "{e}");
    assert!(e.contains("median"), "{e}");
    // In MPC the parties refuse before a single message (beyond sharing the frame).
    let out = tessera_mpc::testing::run3(|p| {
        let frame = share_frame(p, &f)?;
        let before = p.stats();
        let r = kaplan_meier(p, &frame, &s, &d).map(|_| ());
        let after = p.stats();
        Ok((r.map_err(|e| e.to_string()), before, after))
    });
    for r in out {
        let (r, before, after) = r.expect("no engine error");
        let e = r.unwrap_err();
        assert!(e.contains("allow_event_times"), "{e}");
        assert_eq!(before.bytes_sent, after.bytes_sent, "nothing computed");
        assert_eq!(before.messages_sent, after.messages_sent);
    }
    // Without `median` the same rules compute the grid.
    let grid = KaplanMeierSpec {
        entry: None,
        median: false,
        times: vec![3.0, 6.0],
        ..s
    };
    assert!(kaplan_meier_plain(&f, &grid, &d).is_ok());
}

/// 20,000 synthetic rows (two groups, daily times with ties): the MPC median and limits
/// equal the twin's; prints the time, bytes (busiest party) and rounds with and without
/// `median`. `cargo test --release -p tessera-stats --test median -- --ignored --nocapture`.
#[test]
#[ignore]
fn median_at_20000_rows() {
    let n = 20_000;
    let f = tessera_stats::survival::synthetic::survival(n, 0, 5);
    let d = open_rules();
    let mut s = KaplanMeierSpec {
        entry: None,
        time: "registry.time".into(),
        event: "registry.event".into(),
        group: Some("registry.group".into()),
        times: vec![365.0, 730.0, 1095.0],
        ..spec(None, 0.95)
    };
    s.median = true;
    let plain = kaplan_meier_plain(&f, &s, &d).unwrap();
    for median in [false, true] {
        s.median = median;
        let out =
            tessera_mpc::testing::run3_with_timeout(std::time::Duration::from_secs(600), |p| {
                let fr = share_frame(p, &f)?;
                let before = p.stats();
                let t = std::time::Instant::now();
                let r = kaplan_meier(p, &fr, &s, &d).expect("ran");
                let stats = p.stats().since(&before);
                Ok((r, t.elapsed(), stats.bytes_sent, stats.rounds))
            });
        let [a, b, c] = out.map(|r| r.expect("no engine error"));
        let (secs, bytes, rounds) = (a.1, a.2.max(b.2).max(c.2), a.3.max(b.3).max(c.3));
        let res = tessera_stats::open3([a.0, b.0, c.0]).unwrap();
        println!(
            "median = {median}: {:.2} s, {:.1} MB (busiest party), {rounds} rounds",
            secs.as_secs_f64(),
            bytes as f64 / 1e6
        );
        if median {
            println!("{res}");
            assert_eq!(medians(&res), medians(&plain));
        }
    }
}
