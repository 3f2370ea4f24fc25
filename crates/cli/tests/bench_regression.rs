//! `tessera bench regression` end to end: three real processes over loopback, a tiny scale.

use std::process::Command;

const EXE: &str = env!("CARGO_BIN_EXE_tessera");

#[test]
fn regression_benchmark_reports_every_workload() {
    let out = Command::new(EXE)
        .args([
            "bench",
            "regression",
            "--scale",
            "0.01",
            "--reps",
            "1",
            "--json",
        ])
        .output()
        .expect("run tessera");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    let w = v["workloads"].as_object().expect("workloads");
    for name in ["logistic-10k", "logistic-100k", "ols-1m", "crosstab-1m"] {
        let e = &w[name];
        assert!(e["seconds"].as_f64().unwrap() > 0.0, "{name}");
        assert!(e["bytes_per_party"].as_u64().unwrap() > 0, "{name}");
        assert!(e["rounds"].as_u64().unwrap() > 0, "{name}");
        assert!(e["ratio_to_plaintext"].as_f64().unwrap() > 0.0, "{name}");
        // Coefficients (the chi-square for the contingency table) against plaintext.
        let diff = e["max_abs_coef_diff_vs_plaintext"].as_f64().unwrap();
        assert!(diff < 1e-4, "{name}: opened results differ by {diff}");
    }
    assert_eq!(w["ols-1m"]["rows"], 10_000);
}

#[test]
fn unknown_workloads_are_errors() {
    let out = Command::new(EXE)
        .args(["bench", "regression", "--workloads", "nope", "--reps", "1"])
        .output()
        .expect("run tessera");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown workload"), "{err}");
}

/// `tessera bench models`: a model workload (the cox elastic net cross-validated by
/// Harrell's C-index, scaled down) reported with its bytes, rounds, the plaintext twin's
/// ratio and R's time (here not asked: null); a workload that is not a model refused.
#[test]
fn models_benchmark_reports_the_cindex_workload() {
    let v = models_json("enet-cox-c-1k", "0.3");
    let e = &v["workloads"]["enet-cox-c-1k"];
    assert_eq!(e["rows"], 300);
    assert!(e["seconds"].as_f64().unwrap() > 0.0);
    assert!(e["bytes_per_party"].as_u64().unwrap() > 0);
    assert!(e["rounds"].as_u64().unwrap() > 0);
    assert!(e["ratio_to_plaintext"].as_f64().unwrap() > 0.0);
    assert!(e["glmnet_seconds"].is_null() && e["ratio_to_glmnet"].is_null());
    let diff = e["max_abs_coef_diff_vs_plaintext"].as_f64().unwrap();
    assert!(diff < 1e-4, "the path differs from the twin's by {diff}");

    let out = Command::new(EXE)
        .args(["bench", "models", "--workloads", "ols-1m", "--no-r"])
        .output()
        .expect("run tessera");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown workload `ols-1m` for bench models"),
        "{err}"
    );
}

/// `tessera bench models --workloads gbdt-10k` (scaled down to 3,000 rows): boosted trees
/// over three processes, the test AUC within the issue's 0.01 of the twin's on the same
/// split. Not equal: where two thresholds split a node's training rows alike their gains
/// tie, and the MPC's noisy reciprocals break such ties at random (the trees fit the
/// training rows alike, the test rows may fall otherwise); at 500 rows the AUCs differed by
/// 0.0074, at 10,000 by 0.
#[test]
fn models_benchmark_reports_boosted_trees() {
    let v = models_json("gbdt-10k", "0.3");
    let e = &v["workloads"]["gbdt-10k"];
    assert_eq!(e["rows"], 3000);
    assert!(e["bytes_per_party"].as_u64().unwrap() > 0);
    assert!(e["rounds"].as_u64().unwrap() > 0);
    // Not a glmnet model: no R time, whatever is installed.
    assert!(e["glmnet_seconds"].is_null());
    let diff = e["max_abs_coef_diff_vs_plaintext"].as_f64().unwrap();
    assert!(diff < 0.01, "the AUC differs from the twin's by {diff}");
}

/// `tessera bench models --workloads gbdt-reg-10k` (scaled down to 3,000 rows): boosted
/// trees with `squared_error` over three processes, the test RMSE and R² against the twin's
/// on the same split.
#[test]
fn models_benchmark_reports_boosted_trees_for_a_continuous_outcome() {
    let v = models_json("gbdt-reg-10k", "0.3");
    let e = &v["workloads"]["gbdt-reg-10k"];
    assert_eq!(e["rows"], 3000);
    assert!(e["bytes_per_party"].as_u64().unwrap() > 0);
    assert!(e["rounds"].as_u64().unwrap() > 0);
    assert!(e["glmnet_seconds"].is_null());
    let diff = e["max_abs_coef_diff_vs_plaintext"].as_f64().unwrap();
    assert!(diff < 1e-3, "RMSE or R² differs from the twin's by {diff}");
}

/// `tessera bench models --workloads WORKLOAD --scale SCALE --no-r --json`, which must
/// succeed, as its one JSON object.
fn models_json(workload: &str, scale: &str) -> serde_json::Value {
    let out = Command::new(EXE)
        .args([
            "bench",
            "models",
            "--workloads",
            workload,
            "--scale",
            scale,
            "--no-r",
            "--json",
        ])
        .output()
        .expect("run tessera");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}
