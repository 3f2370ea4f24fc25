//! The memory part of the cost estimate (`tessera_stats::cost`), where it matters most: a
//! Kaplan–Meier grid by group, whose at-risk and event comparisons grow with rows × grid
//! times (an 8,000-time grid on 1,700 rows once took 20 GB; they now run in chunks). The three parties run in this
//! process (its own test binary, one test), so its peak resident memory above the start is
//! about three parties' peak; the estimate must be within a factor of two and a half.

use tessera_mpc::testing::run3_with_timeout;
use tessera_mpc::MpcError;
use tessera_stats::analysis::{self, AnalysisSpec, KaplanMeierSpec};
use tessera_stats::cost::estimate;
use tessera_stats::survival::synthetic;
use tessera_stats::{Disclosure, Frame};

/// Peak resident memory of this process so far, in bytes (Linux).
fn peak() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmHWM");
    kb * 1024.0
}

#[test]
fn a_grid_by_group_takes_the_memory_the_estimate_says() {
    // 2 × 100 × 12,000 comparisons: more than one chunk of GRID_BATCH, so the bound on the
    // comparisons in flight is what is measured.
    let n = 12_000;
    let frame = synthetic::survival(n, 1, 5);
    let spec = AnalysisSpec::KaplanMeier(KaplanMeierSpec {
        entry: None,
        time: "registry.time".into(),
        event: "registry.event".into(),
        group: Some("registry.group".into()),
        times: (1..=100).map(|i| (i * 25) as f64).collect(),
        at_event_times: false,
        censor_marks: false,
        median: false,
        conf_level: 0.95,
    });
    let policy = Disclosure {
        min_rows: 0,
        ..Disclosure::default()
    };
    let before = peak();
    let out = run3_with_timeout(std::time::Duration::from_secs(300), |pt| {
        let fr = Frame::share(pt, 0, &frame).map_err(|e| MpcError::Invalid(e.to_string()))?;
        analysis::run(pt, &fr, &spec, &policy).map_err(|e| MpcError::Invalid(e.to_string()))?;
        Ok(())
    });
    for r in out {
        r.expect("ran");
    }
    let used = (peak() - before) / 3.0;
    let est = estimate(&spec, n, &|_| 2).memory;
    println!(
        "memory per party: measured {:.0} MB, estimated {:.0} MB",
        used / 1e6,
        est / 1e6
    );
    assert!(
        est <= 2.5 * used && used <= 2.5 * est,
        "measured {used} vs estimated {est}"
    );
}
