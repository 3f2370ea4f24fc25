//! `tessera bench engine`: starts three party processes over loopback TCP, collects their
//! measurements and prints, per operation, throughput (median over repetitions), bytes per
//! operation for the busiest party (measured and in theory) and rounds.

use clap::Args;
use serde_json::json;
use tessera_net::shaper::Shape;

use super::ops;
use super::party::{Report, ShapeArgs};
use super::procs::{parse_reports, run_three, BenchIdentities, Rendezvous};

/// Options of the engine benchmark.
#[derive(Args, Debug)]
pub struct EngineArgs {
    /// Elements per vector.
    #[arg(long, default_value_t = 1_000_000)]
    pub size: usize,
    /// Timed repetitions per operation (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only these operations (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    pub ops: Vec<String>,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// Run the parties over mutually authenticated TLS 1.3 (fresh identities per run).
    #[arg(long)]
    pub tls: bool,
}

/// Median of a non-empty list.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// Runs the benchmark.
pub fn run(args: &EngineArgs) -> Result<(), String> {
    if args.size == 0 || args.reps == 0 {
        return Err("--size and --reps must be positive".into());
    }
    let known: Vec<&str> = ops::all().iter().map(|o| o.name).collect();
    if let Some(bad) = args.ops.iter().find(|o| !known.contains(&o.as_str())) {
        return Err(format!(
            "unknown operation {bad:?}; known: {}",
            known.join(", ")
        ));
    }
    let shape = args.shape.shape()?;
    let rv = Rendezvous::new()?;
    if !args.json {
        eprintln!(
            "starting three parties on {}, {} elements, {} repetitions",
            rv.addr_list, args.size, args.reps
        );
    }
    let identities = if args.tls {
        Some(BenchIdentities::create(&rv.session)?)
    } else {
        None
    };
    let outputs = run_three("bench-party", &rv, |me, cmd| {
        cmd.args([
            "--size",
            &args.size.to_string(),
            "--reps",
            &args.reps.to_string(),
        ]);
        if !args.ops.is_empty() {
            cmd.args(["--ops", &args.ops.join(",")]);
        }
        args.shape.pass_on(cmd);
        if let Some(ids) = &identities {
            ids.pass_on(me, cmd);
        }
    })?;
    let reports: Vec<Report> = parse_reports(&outputs)?;
    print_results(args, &shape, &reports);
    Ok(())
}

fn print_results(args: &EngineArgs, shape: &Shape, reports: &[Report]) {
    let mut table = Vec::new();
    let mut obj = serde_json::Map::new();
    for op in ops::all() {
        let per: Vec<_> = reports
            .iter()
            .filter_map(|r| r.ops.iter().find(|(n, _)| n == op.name).map(|(_, m)| m))
            .collect();
        if per.len() != 3 {
            continue;
        }
        // A repetition ends when the slowest party is done.
        let secs: Vec<f64> = (0..per[0].secs.len())
            .map(|i| per.iter().map(|m| m.secs[i]).fold(0.0, f64::max))
            .collect();
        let t = median(&secs);
        let count = (op.per_call)(args.size) as f64;
        if count == 0.0 {
            // e.g. dot products of length 16 on fewer than 16 elements: nothing to report.
            continue;
        }
        let ops_per_sec = count / t;
        let bytes = per.iter().map(|m| m.bytes).max().unwrap_or(0) as f64 / count;
        let rounds = per.iter().map(|m| m.rounds).max().unwrap_or(0);
        obj.insert(
            op.name.to_string(),
            json!({
                "ops_per_sec": ops_per_sec,
                "bytes_per_op_per_party": bytes,
                "theory_bytes_per_op": op.theory_bytes,
                "rounds": rounds,
                "seconds_median": t,
                "unit": op.unit,
                "one_way_latency_ms": args.shape.latency_ms,
                "bandwidth_mbit": args.shape.bandwidth_mbit,
                "tls": args.tls,
            }),
        );
        table.push((
            op.name,
            ops_per_sec,
            bytes,
            op.theory_bytes,
            rounds,
            t,
            op.unit,
        ));
    }
    if args.json {
        println!("{}", serde_json::Value::Object(obj));
        return;
    }
    println!(
        "{:<12} {:>14} {:>12} {:>12} {:>7} {:>10}  one operation is",
        "operation", "ops/s", "bytes/op", "theory", "rounds", "seconds"
    );
    for (name, ops, bytes, theory, rounds, t, unit) in table {
        println!(
            "{name:<12} {ops:>14.0} {bytes:>12.2} {theory:>12.2} {rounds:>7} {t:>10.4}  {unit}"
        );
    }
    println!(
        "\nthree processes over loopback {}; {} elements per vector; median of {} runs; \
         bytes are sent by the busiest party, per operation",
        if args.tls {
            "TLS 1.3 (mutual authentication)"
        } else {
            "TCP"
        },
        args.size,
        args.reps
    );
    if !shape.is_unshaped() {
        println!("simulated in the transport, on each link and direction: {shape}");
    }
}
