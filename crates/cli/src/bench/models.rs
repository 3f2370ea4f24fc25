//! `tessera bench models`: the prediction-model workloads of `tessera bench regression`
//! (the penalised logistic and Cox models, [`super::regression`]) by three processes over
//! loopback, with R glmnet's time on the same shape beside each (`scripts/bench_enet.R`,
//! when `Rscript` with glmnet is present; "n/a" otherwise) and the ratio to it.
//!
//! Defaults finish in minutes on a small machine: the lasso-logistic path of 20 λ on
//! 100,000 × 20 (the target, `enet-logistic-100k`), the binomial analysis with
//! 10-fold cross-validation on 10,000 rows (`enet-logistic-10k`) and the cox analysis
//! cross-validated by Harrell's C-index on 1,000 rows (`enet-cox-c-1k`), and boosted trees
//! (`gbdt-10k`: 50 trees of depth 4, 32 bins on 10,000 × 20, a public quarter held out so
//! that the AUC is checked against the twin's; R's time n/a, the twin's beside it). Larger
//! ones are
//! opt-in with `--workloads` (`enet-cox-10k`, `enet-cox-c-10k`, `enet-cox-100k`, `gbdt-100k`:
//! minutes to tens of minutes; `gbdt-reg-10k`, the same trees with `squared_error` on the
//! continuous outcome of the OLS table, RMSE and R² checked against the twin's).
//!
//! Measured on 2026-12-03 (2-core machine, loaded by compilations running at the same
//! time, one run each): `enet-logistic-100k` 104.7 s, 2,849 MB sent by the busiest party,
//! 40,780 rounds (glmnet's path 5.9 s: × 17.8); `enet-logistic-10k` 153.2 s, 2,958 MB,
//! 40,883 rounds (`cv.glmnet` 4.1 s: × 37.0); `enet-cox-c-1k` 48.5 s, 1,111 MB, 63,758
//! rounds (`cv.glmnet(type.measure = "C")` 3.4 s: × 14.3); `enet-cox-c-10k` 470.1 s,
//! 10,801 MB, 63,970 rounds (9.3 s: × 50.4; the deviance's `enet-cox-10k` on the same
//! day's code 458 s, 13,069 MB, 63,321 rounds). `gbdt-10k` (2026-12-04 by UTC, machine
//! idle): 46.9 s, 1,934 MB, 33,296 rounds, the twin 5.42 s (× 8.6); `gbdt-100k` did not fit
//! (party 0 killed by the kernel at 11.4 GB on a 23 GB machine). `gbdt-reg-10k` (2026-12-04,
//! machine loaded by others' compilations, load average about 7): 126.9 s, 1,644.8 MB,
//! 31,233 rounds, the twin 6.78 s (× 18.7), RMSE and R² within 2.3e-5 of the twin's.

use std::path::PathBuf;
use std::process::Command;

use clap::Args;
use serde_json::{json, Value};

use super::party::ShapeArgs;
use super::regression::{self, Measured, RegressionArgs};

/// The workloads `tessera bench models` knows.
pub const MODEL_WORKLOADS: [&str; 10] = [
    "enet-logistic-10k",
    "enet-logistic-100k",
    "enet-cox-c-1k",
    "enet-cox-c-10k",
    "enet-cox-10k",
    "enet-cox-100k",
    "enet-10k",
    "gbdt-10k",
    "gbdt-100k",
    "gbdt-reg-10k",
];
/// Run unless `--workloads` says otherwise.
const DEFAULT: [&str; 4] = [
    "enet-logistic-100k",
    "enet-logistic-10k",
    "enet-cox-c-1k",
    "gbdt-10k",
];

/// Options of the prediction-model benchmark.
#[derive(Args, Debug)]
pub struct ModelsArgs {
    /// Workloads, comma-separated (default enet-logistic-100k, enet-logistic-10k,
    /// enet-cox-c-1k, gbdt-10k; also enet-cox-c-10k, enet-cox-10k, enet-cox-100k, enet-10k,
    /// gbdt-100k, gbdt-reg-10k).
    #[arg(long, value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// Timed repetitions of each workload (the median is reported).
    #[arg(long, default_value_t = 1)]
    pub reps: usize,
    /// Scale every workload's row count by this factor.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Do not time R's glmnet.
    #[arg(long)]
    pub no_r: bool,
    /// Receive timeout of each party, in seconds.
    #[arg(long, default_value_t = 1800)]
    pub timeout_secs: u64,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// Run the parties over mutually authenticated TLS 1.3.
    #[arg(long)]
    pub tls: bool,
}

/// R glmnet's seconds for a workload of `rows` rows (median of three,
/// `scripts/bench_enet.R`): the path alone for the path workloads, `cv.glmnet` (10 folds,
/// with `type.measure = "C"` for the C-index ones) otherwise; `None` without R and glmnet.
fn glmnet_seconds(name: &str, rows: usize) -> Option<f64> {
    if name.starts_with("gbdt") {
        // Not a glmnet model: the boosted trees' plaintext reference is the twin's time.
        return None;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench_enet.R");
    let mut cmd = Command::new("Rscript");
    cmd.arg(&script);
    if name.starts_with("enet-logistic") {
        cmd.arg("--binomial");
    } else if name.starts_with("enet-cox-c") {
        cmd.args(["--cox", "--cindex"]);
    } else if name.starts_with("enet-cox") {
        cmd.arg("--cox");
    }
    let out = cmd.arg(rows.to_string()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let v: Value = serde_json::from_slice(out.stdout.split(|&b| b == b'\n').next()?).ok()?;
    let path_only = matches!(name, "enet-logistic-100k" | "enet-cox-100k");
    v[if path_only {
        "glmnet_seconds"
    } else {
        "cv_seconds"
    }]
    .as_f64()
}

/// Runs the chosen model workloads ([`regression::measure`]), then R's glmnet on each
/// shape, and prints the table (or JSON) with the ratios.
pub fn run(args: &ModelsArgs) -> Result<(), String> {
    let names: Vec<String> = if args.workloads.is_empty() {
        DEFAULT.iter().map(|s| s.to_string()).collect()
    } else {
        args.workloads.clone()
    };
    if let Some(bad) = names
        .iter()
        .find(|n| !MODEL_WORKLOADS.contains(&n.as_str()))
    {
        return Err(format!(
            "unknown workload `{bad}` for bench models (known: {})",
            MODEL_WORKLOADS.join(", ")
        ));
    }
    let reg = RegressionArgs {
        workloads: names,
        reps: args.reps,
        scale: args.scale,
        json: args.json,
        timeout_secs: args.timeout_secs,
        shape: ShapeArgs {
            latency_ms: args.shape.latency_ms,
            bandwidth_mbit: args.shape.bandwidth_mbit,
        },
        tls: args.tls,
    };
    let Measured {
        names,
        mut entries,
        lines,
    } = regression::measure(&reg)?;
    let mut rows = Vec::new();
    for name in &names {
        let e = entries.get_mut(name).expect("an entry per workload");
        let n = e["rows"].as_u64().unwrap_or(0) as usize;
        let r = if args.no_r {
            None
        } else {
            glmnet_seconds(name, n)
        };
        let secs = e["seconds"].as_f64().unwrap_or(f64::NAN);
        e["glmnet_seconds"] = json!(r);
        e["ratio_to_glmnet"] = json!(r.map(|r| secs / r));
        rows.push((name.clone(), secs, r));
    }
    if args.json {
        println!(
            "{}",
            json!({
                "reps": args.reps,
                "scale": args.scale,
                "transport": if args.tls { "tls" } else { "tcp" },
                "workloads": entries,
            })
        );
        return Ok(());
    }
    println!(
        "{:<18} {:>9} {:>5} {:>9} {:>10} {:>7} {:>6} {:>10} {:>8} {:>10}",
        "workload",
        "rows",
        "vars",
        "seconds",
        "MB/party",
        "rounds",
        "iters",
        "plain s",
        "ratio",
        "max|Δβ|"
    );
    for l in &lines {
        println!("{l}");
    }
    println!(
        "\n{:<18} {:>10} {:>10} {:>10}",
        "workload", "seconds", "glmnet s", "ratio"
    );
    for (name, secs, r) in rows {
        let (g, ratio) = match r {
            Some(r) => (format!("{r:.3}"), format!("{:.1}", secs / r)),
            None => ("n/a".into(), "n/a".into()),
        };
        println!("{name:<18} {secs:>10.3} {g:>10} {ratio:>10}");
    }
    println!(
        "glmnet s: R's glmnet on the same shape (scripts/bench_enet.R, median of three): the \
         path alone for enet-logistic-100k and enet-cox-100k, cv.glmnet with 10 folds \
         otherwise (type.measure = \"C\" for enet-cox-c-*)"
    );
    regression::print_notes(&reg)
}
