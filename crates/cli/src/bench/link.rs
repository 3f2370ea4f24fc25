//! `tessera bench link`: secure record linkage of two synthetic tables of `--rows` rows each,
//! half of them overlapping, by three processes over loopback TCP (or TLS with `--tls`;
//! `--latency-ms`/`--bandwidth-mbit` simulate a wide-area network). Party 0 owns table A,
//! party 1 table B (both data parties are compute parties), party 2 is the helper.
//!
//! Each party process builds its table deterministically (no communication), normalises and
//! encodes the keys (timed separately: local work at the data party), then runs `--reps`
//! times: secret-share both tables, join. It reports seconds, bytes sent and rounds of each
//! repetition; the orchestrator prints the median time (a repetition ends when the slowest
//! party is done), the bytes of the busiest party, the rounds, and checks the opened
//! intersection size against the plaintext join.

use std::collections::HashSet;
use std::time::Instant;

use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_link::input::share_prepared;
use tessera_link::{join, synthetic, JoinOptions};
use tessera_mpc::sort::{SortOptions, LINK_FEW_ROUND_CAP, MAX_FEW_ROUND_PIVOTS};
use tessera_mpc::Party;

use super::engine::median;
use super::party::{report_or_abort, ConnArgs, ShapeArgs};
use super::procs::{
    busiest, medians, parse_reports, run_three, slowest, BenchIdentities, Rendezvous,
};

/// Options of the linkage benchmark.
#[derive(Args, Debug)]
pub struct LinkArgs {
    /// Rows of each of the two tables (half of them in both).
    #[arg(long, default_value_t = 100_000)]
    pub rows: usize,
    /// Timed repetitions (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Pivots per segment in the oblivious sort (fewer: fewer bytes; more: fewer rounds).
    /// Without added latency only: with `--latency-ms` the linkage takes its few-rounds
    /// sort (`JoinOptions::for_party`).
    #[arg(long, default_value_t = 1)]
    pub pivots: usize,
    /// With `--latency-ms`: the few-rounds sort's cap on pivots and finished segments
    /// (2 to 24; the linkage's own choice by default).
    #[arg(long, default_value_t = LINK_FEW_ROUND_CAP)]
    pub few_round_cap: usize,
    /// Receive timeout of each party, in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// Run the parties over mutually authenticated TLS 1.3 (fresh identities per run).
    #[arg(long)]
    pub tls: bool,
}

/// Arguments of one linkage benchmark party (started by `tessera bench link`).
#[derive(Args, Debug, Clone)]
pub struct LinkPartyArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// Rows of each table.
    #[arg(long)]
    pub rows: usize,
    /// Timed repetitions.
    #[arg(long)]
    pub reps: usize,
    /// Pivots of the sort.
    #[arg(long, default_value_t = 1)]
    pub pivots: usize,
    /// The few-rounds sort's cap (with added latency).
    #[arg(long, default_value_t = LINK_FEW_ROUND_CAP)]
    pub few_round_cap: usize,
}

/// What one party measured.
#[derive(Serialize, Deserialize, Debug)]
pub struct LinkReport {
    pub party: usize,
    /// Seconds of each repetition (sharing the inputs and joining).
    pub secs: Vec<f64>,
    /// Bytes this party sent in each repetition.
    pub bytes: Vec<u64>,
    /// Rounds of each repetition.
    pub rounds: Vec<u64>,
    /// Intersection size opened by the join (the same in every repetition).
    pub intersection: usize,
    /// Seconds to normalise and encode this party's keys (0 for the helper).
    pub prepare_secs: f64,
    /// Comparisons per row of the last sort.
    pub comparisons_per_row: f64,
    /// Passes of the last sort.
    pub passes: usize,
}

fn overlap(rows: usize) -> usize {
    rows / 2
}

/// Runs the benchmark: three party processes, then the summary.
pub fn run(args: &LinkArgs) -> Result<(), String> {
    if args.rows == 0 || args.reps == 0 || args.pivots == 0 {
        return Err("--rows, --reps and --pivots must be positive".into());
    }
    if !(2..=MAX_FEW_ROUND_PIVOTS).contains(&args.few_round_cap) {
        return Err(format!(
            "--few-round-cap must be 2 to {MAX_FEW_ROUND_PIVOTS}, got {}",
            args.few_round_cap
        ));
    }
    let rv = Rendezvous::new()?;
    if !args.json {
        eprintln!(
            "starting three parties on {}: two tables of {} rows, {} in both, {} repetitions",
            rv.addr_list,
            args.rows,
            overlap(args.rows),
            args.reps
        );
    }
    args.shape.shape()?;
    let identities = if args.tls {
        Some(BenchIdentities::create(&rv.session)?)
    } else {
        None
    };
    let outputs = run_three("bench-link-party", &rv, |me, cmd| {
        args.shape.pass_on(cmd);
        if let Some(ids) = &identities {
            ids.pass_on(me, cmd);
        }
        cmd.args([
            "--rows",
            &args.rows.to_string(),
            "--reps",
            &args.reps.to_string(),
        ])
        .args(["--pivots", &args.pivots.to_string()])
        .args(["--few-round-cap", &args.few_round_cap.to_string()])
        .args(["--timeout-secs", &args.timeout_secs.to_string()]);
    })?;
    let reports: Vec<LinkReport> = parse_reports(&outputs)?;
    // The plaintext join of the same synthetic tables, after the timed runs.
    let plain = plaintext_intersection(args.rows)?;
    let opened = reports[0].intersection;
    if reports.iter().any(|r| r.intersection != opened) || opened != plain {
        return Err(format!(
            "intersection sizes {:?} differ from the plaintext join's {plain}",
            reports.iter().map(|r| r.intersection).collect::<Vec<_>>()
        ));
    }
    let secs = slowest(
        &reports
            .iter()
            .map(|r| r.secs.as_slice())
            .collect::<Vec<_>>(),
    );
    let seconds = median(&secs);
    let per_party_bytes = medians(
        &reports
            .iter()
            .map(|r| r.bytes.as_slice())
            .collect::<Vec<_>>(),
    );
    let bytes_per_party = per_party_bytes.iter().copied().max().unwrap_or(0);
    let rounds = busiest(
        &reports
            .iter()
            .map(|r| r.rounds.as_slice())
            .collect::<Vec<_>>(),
    );
    let prepare = reports.iter().map(|r| r.prepare_secs).fold(0.0, f64::max);
    if args.json {
        println!(
            "{}",
            json!({
                "seconds": seconds,
                "bytes_per_party": bytes_per_party,
                "rounds": rounds,
                "intersection": opened,
                "rows": args.rows,
                "reps": args.reps,
                "pivots": args.pivots,
                "few_rounds": !args.shape.shape()?.one_way_latency.is_zero(),
                "few_round_cap": args.few_round_cap,
                "seconds_each": secs,
                "bytes_each_party": per_party_bytes,
                "prepare_seconds": prepare,
                "sort_comparisons_per_row": reports[0].comparisons_per_row,
                "sort_passes": reports[0].passes,
            })
        );
        return Ok(());
    }
    println!(
        "{:>10} {:>10} {:>12} {:>16} {:>8} {:>12}",
        "rows", "seconds", "MB/party", "bytes/row/party", "rounds", "intersection"
    );
    println!(
        "{:>10} {:>10.3} {:>12.1} {:>16.1} {:>8} {:>12}",
        args.rows,
        seconds,
        bytes_per_party as f64 / 1e6,
        bytes_per_party as f64 / (2 * args.rows) as f64,
        rounds,
        opened
    );
    println!(
        "\nthree processes over loopback {}; two tables of {} rows; median of {} runs of \
         sharing both tables and joining them; bytes are sent by the busiest party \
         (per party: {per_party_bytes:?}); key normalisation and encoding at the data \
         parties took {prepare:.3} s (local, not included); the intersection size matches \
         the plaintext join",
        if args.tls { "TLS 1.3" } else { "TCP" },
        args.rows,
        args.reps
    );
    println!(
        "sort: {} passes, {:.1} comparisons per row ({})",
        reports[0].passes,
        reports[0].comparisons_per_row,
        if args.shape.shape()?.one_way_latency.is_zero() {
            format!("{} pivots", args.pivots)
        } else {
            format!("few rounds, cap {}", args.few_round_cap)
        }
    );
    let shape = args.shape.shape()?;
    if !shape.is_unshaped() {
        println!("simulated in the transport, on each link and direction: {shape}");
    }
    Ok(())
}

fn plaintext_intersection(rows: usize) -> Result<usize, String> {
    let spec = synthetic::spec();
    let prep = |q| {
        tessera_link::prepare(&spec, &synthetic::table(q, rows, overlap(rows)))
            .map(|(p, _)| p)
            .map_err(|e| e.to_string())
    };
    let a: HashSet<u64> = prep(0)?.keys.into_iter().collect();
    Ok(prep(1)?.keys.iter().filter(|k| a.contains(k)).count())
}

/// Runs one party of the benchmark; prints its [`LinkReport`] as one JSON line.
pub fn run_party(args: &LinkPartyArgs) -> Result<(), String> {
    // The data parties prepare their tables before connecting: local work.
    let t = Instant::now();
    let prepared = if args.conn.me < 2 {
        let raw = synthetic::table(args.conn.me, args.rows, overlap(args.rows));
        let (prep, _report) = tessera_link::prepare(&synthetic::spec(), &raw)
            .map_err(|e| format!("party {}: {e}", args.conn.me))?;
        Some(prep)
    } else {
        None
    };
    let prepare_secs = t.elapsed().as_secs_f64();
    let mut p = args.conn.connect(args.shape.shape()?)?;
    let result = measure(&mut p, args, prepared.as_ref(), prepare_secs);
    report_or_abort(&mut p, result)
}

fn measure(
    p: &mut Party,
    args: &LinkPartyArgs,
    prepared: Option<&tessera_link::Prepared>,
    prepare_secs: f64,
) -> Result<LinkReport, String> {
    // With added latency (Party::few_rounds) the study's few-rounds linkage; else the
    // pivots asked for.
    let opts = if p.few_rounds() {
        JoinOptions {
            sort: SortOptions::few_rounds_capped(args.few_round_cap),
        }
    } else {
        JoinOptions {
            sort: SortOptions {
                key_bits: 64,
                pivots: args.pivots,
                ..SortOptions::default()
            },
        }
    };
    let mut report = LinkReport {
        party: p.id(),
        secs: Vec::new(),
        bytes: Vec::new(),
        rounds: Vec::new(),
        intersection: 0,
        prepare_secs,
        comparisons_per_row: 0.0,
        passes: 0,
    };
    for _ in 0..args.reps {
        p.barrier().map_err(|e| e.to_string())?;
        let before = p.stats();
        let t = Instant::now();
        let me = p.id();
        let a = share_prepared(p, 0, prepared.filter(|_| me == 0)).map_err(|e| e.to_string())?;
        let b = share_prepared(p, 1, prepared.filter(|_| me == 1)).map_err(|e| e.to_string())?;
        let joined = join(p, &[a, b], &opts).map_err(|e| e.to_string())?;
        report.secs.push(t.elapsed().as_secs_f64());
        let st = p.stats().since(&before);
        report.bytes.push(st.bytes_sent);
        report.rounds.push(st.rounds);
        report.intersection = joined.intersection;
        report.comparisons_per_row = joined.sort.comparisons() as f64 / (2 * args.rows) as f64;
        report.passes = joined.sort.passes.len();
    }
    p.barrier().map_err(|e| e.to_string())?;
    Ok(report)
}
