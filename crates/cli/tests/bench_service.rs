//! `tessera bench service` end to end: three real station processes on loopback, tiny load.
//! Checks the table's lines, not the timings.

use std::process::Command;

const EXE: &str = env!("CARGO_BIN_EXE_tessera");

#[test]
fn service_benchmark_prints_every_measurement() {
    let out = Command::new(EXE)
        .args([
            "bench",
            "service",
            "--slow",
            "20",
            "--spam",
            "2",
            "--junk",
            "2",
            "--idle-studies",
            "5",
            "--seconds",
            "3",
            "--runs",
            "1",
        ])
        .output()
        .expect("run tessera");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "each holding 5 finished studies",
        "startup until quiet",
        "idle CPU over 3 s, % of a core",
        "unloaded study, submit → results fetched",
        "steward GET /studies (unloaded)",
        "peer GET /peer/studies/ID (unloaded)",
        "loaded for",
        "20 slow connections to the HTTPS ports, 2 submissions/s, 2 junk connections",
        "loaded study, submit → results fetched",
        "steward GET /studies (loaded)",
        "peer GET /peer/studies/ID (loaded)",
        "slow connections, idle or partial hello",
        "slow connections, TLS then partial headers",
        "junk connections (computation ports)",
        "submissions from unknown clients",
        "CPU while loaded, % of a core",
        "the load generator (this process), % of a core",
        "peak memory (VmHWM) after the load, MB",
        "open descriptors, peak during the load",
        "study within 1.5 × unloaded under load",
        "steward p99 under 100 ms under load",
        "idle CPU under 1 % of a core",
    ] {
        assert!(stdout.contains(line), "no `{line}` in:\n{stdout}");
    }
    // Unknown clients are never let in.
    let unknown = stdout
        .lines()
        .find(|l| l.contains("submissions from unknown clients"))
        .unwrap();
    assert!(!unknown.contains("201"), "{unknown}");
}
