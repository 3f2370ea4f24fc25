//! `tessera bench survival`: the survival analyses (log-rank, Cox, stratified Cox, cumulative
//! incidence, restricted mean survival time, Fine–Gray) on synthetic linked data
//! ([`tessera_stats::survival::synthetic`]), three processes over loopback TCP. The registry's
//! columns (time, event, group) are input by party 0, the GP covariates by party 1; party 2
//! is the helper. Each workload reports seconds (median of `--reps`, a repetition ending when
//! the slowest party is done), bytes sent by the busiest party, rounds, Newton iterations, and
//! the ratio to the same analysis in plaintext: our plaintext twin (Rust) and, when `python3`
//! with lifelines is available, lifelines itself on the same data (`scripts/bench_lifelines.py`);
//! `cox-conc` (Cox with Harrell's concordance) is timed against R's `coxph` when `Rscript`
//! is present.
//! The parties end with the result sealed (output shares, as in a study); this process plays
//! the recipient: it reconstructs the last run's result from the three parties' shares and
//! checks it against the plaintext twin. The timed part ends with the sealed result.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tessera_mpc::Party;
use tessera_stats::analysis::{CoxSpec, LogrankSpec, Ties, ZphTransform};
use tessera_stats::survival::{
    cox, cox_plain, cuminc, cuminc_plain, finegray, finegray_plain, logrank, logrank_plain, rmst,
    rmst_plain, synthetic, CoxPublic, CoxResult, CumincPublic, CumincResult, CumincSpec,
    FinegrayPublic, FinegrayResult, FinegraySpec, LogrankPublic, RmstPublic, RmstResult, RmstSpec,
};
use tessera_stats::{Disclosure, Frame, PlainData, PlainFrame, Sealed, Tail};

use super::engine::median;
use super::party::{report_or_abort, ConnArgs, ShapeArgs};
use super::procs::{busiest, open_sealed, parse_reports, run_three, slowest, Rendezvous};
use super::relsurv_data as relsurv;
use tessera_stats::relsurv::ederer::{ederer2, EdererPublic};
use tessera_stats::relsurv::pohar::{pohar_perme, PoharPublic};

/// Seed of the synthetic data.
const SEED: u64 = 20261124;
/// Covariates of `cox-conc:ROWS`.
const CONC_COVARIATES: &str = "10";

/// Options of the survival benchmark.
#[derive(Args, Debug)]
pub struct SurvivalArgs {
    /// Workloads, comma-separated: `logrank:ROWS`, `cox:ROWSxCOVARIATES`,
    /// `cox-strata:ROWSxCOVARIATES` (Cox stratified by the registry's two-level group),
    /// `cox-robust:ROWSxCOVARIATES` (Cox with robust standard errors),
    /// `cox-zph:ROWSxCOVARIATES` (Cox with the proportional-hazards test),
    /// `cox-conc:ROWS[xCOVARIATES]` (Cox with Harrell's concordance; 10 covariates unless
    /// given; timed against R's coxph when Rscript is present), `cuminc:ROWS` (cumulative
    /// incidence per group on a 10-point grid of the time range, one cause), `rmst:ROWS`
    /// (restricted mean survival time per group, τ at the middle of the time range) or
    /// `finegray:ROWSxCOVARIATES` (the Fine–Gray model of cause 1 with cause 2 competing;
    /// `finegray:ROWS`: 10 covariates; timed against R's cmprsk::crr when R has it) or
    /// `relsurv:ROWS` (Ederer II relative survival per group on ten yearly grid times with
    /// the synthetic life table of fixtures/relsurv; timed against R's relsurv::rs.surv).
    #[arg(
        long,
        default_value = "logrank:10000,logrank:100000,cox:1000x5,cox:10000x10,cox:100000x10"
    )]
    pub workloads: String,
    /// Timed repetitions per workload (the median is reported).
    #[arg(long, default_value_t = 1)]
    pub reps: usize,
    /// Ties method of the Cox workloads.
    #[arg(long, default_value = "efron")]
    pub ties: String,
    /// Do not time lifelines or R (no Python or R needed).
    #[arg(long)]
    pub no_lifelines: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Receive timeout of each party, in seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
    #[command(flatten)]
    pub shape: ShapeArgs,
}

/// Arguments of one survival benchmark party (started by `tessera bench survival`).
#[derive(Args, Debug, Clone)]
pub struct SurvivalPartyArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// The workload (`logrank:ROWS`, `cox:ROWSxCOVARIATES`, `cox-strata:ROWSxCOVARIATES`,
    /// `cox-robust:ROWSxCOVARIATES`, `cox-zph:ROWSxCOVARIATES`, `cox-conc:ROWS[xCOVARIATES]`,
    /// `cuminc:ROWS`, `rmst:ROWS` or `finegray:ROWSxCOVARIATES`).
    #[arg(long)]
    pub workload: String,
    /// Ties method of Cox.
    #[arg(long, default_value = "efron")]
    pub ties: String,
    /// Timed repetitions.
    #[arg(long)]
    pub reps: usize,
}

/// One workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    Logrank {
        rows: usize,
    },
    /// Cox; `strata`: stratified by `registry.group`; `robust`: sandwich standard errors;
    /// `zph`: the proportional-hazards test (km transform); `concordance`: Harrell's C.
    Cox {
        rows: usize,
        covariates: usize,
        strata: bool,
        robust: bool,
        zph: bool,
        concordance: bool,
    },
    Cuminc {
        rows: usize,
    },
    Rmst {
        rows: usize,
    },
    /// Fine–Gray, cause 1 of `registry.cause` (cause 2 competing).
    Finegray {
        rows: usize,
        covariates: usize,
    },
    /// Ederer II (or, with `pp`, Pohar Perme) relative survival per group on ten yearly
    /// grid times, against the synthetic life table of `fixtures/relsurv/`.
    Relsurv {
        rows: usize,
        pp: bool,
    },
}

impl Workload {
    fn parse(s: &str) -> Result<Workload, String> {
        let bad = || {
            format!(
                "workload `{s}`: expected logrank:ROWS, cox:ROWSxCOVARIATES, \
                 cox-strata:ROWSxCOVARIATES, cox-robust:ROWSxCOVARIATES, \
                 cox-zph:ROWSxCOVARIATES, cox-conc:ROWS[xCOVARIATES], cuminc:ROWS, \
                 rmst:ROWS, finegray:ROWSxCOVARIATES, relsurv:ROWS or relsurv-pp:ROWS"
            )
        };
        let (kind, size) = s.trim().split_once(':').ok_or_else(bad)?;
        let rows = || size.parse().map_err(|_| bad());
        match kind {
            "logrank" => Ok(Workload::Logrank { rows: rows()? }),
            "cuminc" => Ok(Workload::Cuminc { rows: rows()? }),
            "rmst" => Ok(Workload::Rmst { rows: rows()? }),
            "relsurv" => Ok(Workload::Relsurv {
                rows: rows()?,
                pp: false,
            }),
            "relsurv-pp" => Ok(Workload::Relsurv {
                rows: rows()?,
                pp: true,
            }),
            "finegray" => {
                let (r, c) = size.split_once('x').unwrap_or((size, "10"));
                Ok(Workload::Finegray {
                    rows: r.parse().map_err(|_| bad())?,
                    covariates: c.parse().map_err(|_| bad())?,
                })
            }
            "cox" | "cox-strata" | "cox-robust" | "cox-zph" | "cox-conc" => {
                // cox-conc:ROWS has the default covariates.
                let (r, c) = match size.split_once('x') {
                    Some(rc) => rc,
                    None if kind == "cox-conc" => (size, CONC_COVARIATES),
                    None => return Err(bad()),
                };
                Ok(Workload::Cox {
                    rows: r.parse().map_err(|_| bad())?,
                    covariates: c.parse().map_err(|_| bad())?,
                    strata: kind == "cox-strata",
                    robust: kind == "cox-robust",
                    zph: kind == "cox-zph",
                    concordance: kind == "cox-conc",
                })
            }
            _ => Err(bad()),
        }
    }

    fn rows(&self) -> usize {
        match *self {
            Workload::Logrank { rows }
            | Workload::Cox { rows, .. }
            | Workload::Cuminc { rows }
            | Workload::Rmst { rows }
            | Workload::Relsurv { rows, .. }
            | Workload::Finegray { rows, .. } => rows,
        }
    }

    fn covariates(&self) -> usize {
        match *self {
            Workload::Cox { covariates, .. } | Workload::Finegray { covariates, .. } => covariates,
            _ => 0,
        }
    }

    fn name(&self) -> String {
        match *self {
            Workload::Logrank { rows } => format!("logrank {rows}"),
            Workload::Cox {
                rows, covariates, ..
            }
            | Workload::Finegray { rows, covariates } => {
                format!("{} {rows}x{covariates}", self.kind())
            }
            Workload::Cuminc { rows } => format!("cuminc {rows}"),
            Workload::Rmst { rows } => format!("rmst {rows}"),
            Workload::Relsurv { rows, pp: false } => format!("relsurv {rows}"),
            Workload::Relsurv { rows, pp: true } => format!("relsurv-pp {rows}"),
        }
    }

    /// The workload's kind, as `--workloads` spells it.
    fn kind(&self) -> &'static str {
        match *self {
            Workload::Logrank { .. } => "logrank",
            Workload::Cox { strata: true, .. } => "cox-strata",
            Workload::Cox { robust: true, .. } => "cox-robust",
            Workload::Cox { zph: true, .. } => "cox-zph",
            Workload::Cox {
                concordance: true, ..
            } => "cox-conc",
            Workload::Cox { .. } => "cox",
            Workload::Cuminc { .. } => "cuminc",
            Workload::Rmst { .. } => "rmst",
            Workload::Finegray { .. } => "finegray",
            Workload::Relsurv { pp: false, .. } => "relsurv",
            Workload::Relsurv { pp: true, .. } => "relsurv-pp",
        }
    }

    /// The workload as `--workload` spells it.
    fn spec(&self) -> String {
        match *self {
            Workload::Cox {
                rows, covariates, ..
            }
            | Workload::Finegray { rows, covariates } => {
                format!("{}:{rows}x{covariates}", self.kind())
            }
            _ => format!("{}:{}", self.kind(), self.rows()),
        }
    }

    fn data(&self) -> PlainFrame {
        let mut d = synthetic::survival(self.rows(), self.covariates(), SEED);
        if let Workload::Relsurv { .. } = self {
            relsurv::stretch_follow_up(&mut d);
            d.columns.extend(relsurv::demography(d.rows, SEED));
        }
        d
    }

    fn logrank_spec() -> LogrankSpec {
        LogrankSpec {
            strata: None,
            time: "registry.time".into(),
            event: "registry.event".into(),
            group: "registry.group".into(),
            observed_expected: false,
        }
    }

    fn cox_spec(&self, ties: Ties) -> CoxSpec {
        let strata = matches!(self, Workload::Cox { strata: true, .. });
        CoxSpec {
            entry: None,
            robust: matches!(self, Workload::Cox { robust: true, .. }),
            zph: matches!(self, Workload::Cox { zph: true, .. }).then_some(ZphTransform::Km),
            cluster: None,
            concordance: matches!(
                self,
                Workload::Cox {
                    concordance: true,
                    ..
                }
            ),
            strata: strata.then(|| "registry.group".into()),
            time: "registry.time".into(),
            event: "registry.event".into(),
            covariates: (1..=self.covariates())
                .map(|j| format!("gp.x{j}"))
                .collect(),
            ties,
            max_steps: 50,
            conf_level: 0.95,
        }
    }
}

/// The Fine–Gray model of cause 1 of the synthetic `registry.cause` (cause 2 competing) on
/// the GP covariates.
fn finegray_spec(w: Workload) -> FinegraySpec {
    FinegraySpec {
        time: "registry.time".into(),
        event: "registry.cause".into(),
        causes: 2,
        cause: 1,
        covariates: (1..=w.covariates()).map(|j| format!("gp.x{j}")).collect(),
        max_steps: 50,
        conf_level: 0.95,
    }
}

/// Fine–Gray as compared values: coefficients, then standard errors.
fn finegray_values(r: &FinegrayResult) -> Vec<f64> {
    let se = r.rows.iter().map(|x| x.se);
    r.rows.iter().map(|x| x.coef).chain(se).collect()
}

/// Cumulative incidence of the (one) cause per group at 10 grid times spread over the data's
/// time range (`min + (max - min)·i/11`, i = 1..=10).
fn cuminc_spec(data: &PlainFrame) -> CumincSpec {
    let (lo, hi) = time_range(data);
    CumincSpec {
        time: "registry.time".into(),
        event: "registry.event".into(),
        group: Some("registry.group".into()),
        causes: 1,
        times: (1..=10)
            .map(|i| lo + (hi - lo) * f64::from(i) / 11.0)
            .collect(),
        gray_test: false,
        at_event_times: false,
        censor_marks: false,
    }
}

/// Restricted mean survival time per group up to τ at the middle of the data's time range.
fn rmst_spec(data: &PlainFrame) -> RmstSpec {
    let (lo, hi) = time_range(data);
    RmstSpec {
        time: "registry.time".into(),
        event: "registry.event".into(),
        group: Some("registry.group".into()),
        tau: (lo + (hi - lo) / 2.0).round(),
        conf_level: 0.95,
    }
}

/// Smallest and largest `registry.time` of the synthetic data (every party generates the
/// same data, so every party derives the same public grid).
fn time_range(data: &PlainFrame) -> (f64, f64) {
    let times = data
        .columns
        .iter()
        .find(|c| c.name == "registry.time")
        .and_then(|c| match &c.data {
            PlainData::Numeric(v) => Some(v.iter().flatten().copied().collect::<Vec<f64>>()),
            PlainData::Categorical { .. } => None,
        })
        .unwrap_or_default();
    let lo = times.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}

/// Cox as compared values: the coefficients and, with `concordance`, C (estimates), then
/// their standard errors in the same order.
fn cox_values(r: &CoxResult) -> Vec<f64> {
    let c = r.concordance.as_ref();
    r.rows
        .iter()
        .map(|x| x.coef)
        .chain(c.map(|c| c.concordance))
        .chain(r.rows.iter().map(|x| x.se))
        .chain(c.map(|c| c.se))
        .collect()
}

/// Cumulative incidence as compared values: the estimates of every grid cell (curve by curve),
/// then their standard errors; a suppressed cell is -1 in both blocks (so a cell suppressed
/// on one side only fails the check).
fn cuminc_values(r: &CumincResult) -> Vec<f64> {
    let rows: Vec<_> = r.curves.iter().flat_map(|c| &c.rows).collect();
    let est = rows.iter().map(|x| x.estimate.unwrap_or(-1.0));
    let se = rows.iter().map(|x| x.std_err.unwrap_or(-1.0));
    est.chain(se).collect()
}

/// RMST as compared values: the restricted means per group, then their standard errors
/// (suppressed: -1).
fn rmst_values(r: &RmstResult) -> Vec<f64> {
    let est = r.groups.iter().map(|g| g.rmst.unwrap_or(-1.0));
    let se = r.groups.iter().map(|g| g.std_err.unwrap_or(-1.0));
    est.chain(se).collect()
}

fn parse_ties(s: &str) -> Result<Ties, String> {
    match s {
        "efron" => Ok(Ties::Efron),
        "breslow" => Ok(Ties::Breslow),
        _ => Err(format!("--ties {s}: expected efron or breslow")),
    }
}

fn disclosure() -> Disclosure {
    Disclosure {
        max_vars_per_row: 1.0,
        ..Disclosure::default()
    }
}

/// What one party measured, and its end of the last run: the public facts and its output
/// shares (bytes of [`tessera_mpc::OutputShares::to_bytes`]), which only the three together open.
#[derive(Serialize, Deserialize, Debug)]
pub struct SurvivalReport {
    pub party: usize,
    pub secs: Vec<f64>,
    pub bytes: Vec<u64>,
    pub rounds: Vec<u64>,
    pub iterations: usize,
    pub public: Value,
    pub shares: Vec<u8>,
}

/// The recipient's view of the parties' ends: χ² (log-rank), coefficients then standard
/// errors (Cox), estimates then standard errors (cumulative incidence, RMST), from the
/// reconstructed shares and the tail.
fn open_values(w: Workload, reports: &[SurvivalReport]) -> Result<Vec<f64>, String> {
    let parts: Vec<(&Value, &[u8])> = reports.iter().map(|r| (&r.public, &r.shares[..])).collect();
    let named = |e: String| format!("{}: {e}", w.name());
    match w {
        Workload::Logrank { .. } => {
            let r = open_sealed::<LogrankPublic>(&parts).map_err(named)?;
            Ok(vec![r.chi_square])
        }
        Workload::Cox { .. } => {
            let r = open_sealed::<CoxPublic>(&parts).map_err(named)?;
            Ok(cox_values(&r))
        }
        Workload::Cuminc { .. } => {
            let r = open_sealed::<CumincPublic>(&parts).map_err(named)?;
            Ok(cuminc_values(&r))
        }
        Workload::Rmst { .. } => {
            let r = open_sealed::<RmstPublic>(&parts).map_err(named)?;
            Ok(rmst_values(&r))
        }
        Workload::Finegray { .. } => {
            let r = open_sealed::<FinegrayPublic>(&parts).map_err(named)?;
            Ok(finegray_values(&r))
        }
        Workload::Relsurv { pp: false, .. } => {
            let r = open_sealed::<EdererPublic>(&parts).map_err(named)?;
            Ok(relsurv::values(&r))
        }
        Workload::Relsurv { pp: true, .. } => {
            let r = open_sealed::<PoharPublic>(&parts).map_err(named)?;
            Ok(relsurv::values(&r))
        }
    }
}

/// Runs the benchmark.
pub fn run(args: &SurvivalArgs) -> Result<(), String> {
    if args.reps == 0 {
        return Err("--reps must be positive".into());
    }
    let ties = parse_ties(&args.ties)?;
    let workloads = args
        .workloads
        .split(',')
        .map(Workload::parse)
        .collect::<Result<Vec<_>, _>>()?;
    args.shape.shape()?;
    let mut entries = Vec::new();
    for w in &workloads {
        if !args.json {
            eprintln!(
                "{}: three processes, {} repetition(s)…",
                w.name(),
                args.reps
            );
        }
        entries.push(run_workload(args, *w, ties)?);
    }
    if args.json {
        println!(
            "{}",
            json!({ "workloads": entries, "ties": args.ties, "reps": args.reps })
        );
        return Ok(());
    }
    println!(
        "{:<20} {:>9} {:>10} {:>7} {:>6} {:>11} {:>10} {:>12} {:>9} {:>6}",
        "workload",
        "seconds",
        "MB/party",
        "rounds",
        "iters",
        "plain twin",
        "lifelines",
        "× lifelines",
        "R",
        "× R"
    );
    for e in &entries {
        let num = |k: &str| e[k].as_f64();
        println!(
            "{:<20} {:>9.3} {:>10.1} {:>7.0} {:>6} {:>10.4}s {:>10} {:>12} {:>9} {:>6}",
            e["workload"].as_str().unwrap_or(""),
            num("seconds").unwrap_or(f64::NAN),
            num("bytes_per_party").unwrap_or(0.0) / 1e6,
            num("rounds").unwrap_or(0.0),
            e["iterations"],
            num("plain_seconds").unwrap_or(f64::NAN),
            num("lifelines_seconds").map_or("n/a".into(), |s| format!("{s:.4}s")),
            num("ratio_to_lifelines").map_or("n/a".into(), |r| format!("{r:.1}")),
            num("r_seconds").map_or("n/a".into(), |s| format!("{s:.3}s")),
            num("ratio_to_r").map_or("n/a".into(), |r| format!("{r:.1}")),
        );
    }
    println!(
        "\nthree processes over loopback TCP; synthetic linked data (Weibull baseline, ties, \
         censoring; registry columns from party 0, GP covariates from party 1); seconds: median \
         of {} run(s), slowest party; MB: busiest party; Cox ties: {}; cox-strata: strata \
         registry.group; cox-robust: robust standard errors; cox-zph: the proportional-hazards \
         test (km); cox-conc: with Harrell's concordance (R: coxph, which computes it); \
         cuminc: 10 grid times, one cause; rmst: τ mid-range; finegray: cause 1, cause 2 \
         competing (R: cmprsk::crr); relsurv (relsurv-pp): Ederer II (Pohar Perme) on ten yearly times, follow-up × 1.6 \
         (R: relsurv::rs.surv); results checked against the plaintext twin",
        args.reps, args.ties
    );
    Ok(())
}

fn run_workload(args: &SurvivalArgs, w: Workload, ties: Ties) -> Result<Value, String> {
    let rv = Rendezvous::new()?;
    let spec = w.spec();
    let outputs = run_three("bench-survival-party", &rv, |_, cmd| {
        args.shape.pass_on(cmd);
        cmd.args(["--workload", &spec, "--ties", &args.ties])
            .args(["--reps", &args.reps.to_string()])
            .args(["--timeout-secs", &args.timeout_secs.to_string()]);
    })?;
    let reports: Vec<SurvivalReport> = parse_reports(&outputs)?;
    let secs = slowest(
        &reports
            .iter()
            .map(|r| r.secs.as_slice())
            .collect::<Vec<_>>(),
    );
    let bytes = busiest(
        &reports
            .iter()
            .map(|r| r.bytes.as_slice())
            .collect::<Vec<_>>(),
    );
    let rounds = busiest(
        &reports
            .iter()
            .map(|r| r.rounds.as_slice())
            .collect::<Vec<_>>(),
    );
    // The plaintext twin on the same data, timed, and the check of the values reconstructed
    // from the parties' shares.
    let data = w.data();
    let t = Instant::now();
    let plain = plain_values(w, &data, ties)?;
    let plain_secs = t.elapsed().as_secs_f64();
    let worst = check(w, &open_values(w, &reports)?, &plain, &data)?;
    let lifelines = if args.no_lifelines {
        None
    } else {
        lifelines_seconds(w, &data, ties)
    };
    // R on the same data where the workload has an R reference (cox-conc, finegray).
    let r = r_seconds(w, &data, ties).or_else(|| {
        if args.no_lifelines {
            None
        } else {
            crr_seconds(w, &data).or_else(|| relsurv_seconds(w, &data))
        }
    });
    let seconds = median(&secs);
    Ok(json!({
        "workload": w.name(),
        "kind": w.kind(),
        "rows": w.rows(),
        "covariates": w.covariates(),
        "seconds": seconds,
        "seconds_each": secs,
        "bytes_per_party": bytes,
        "rounds": rounds,
        "iterations": reports[0].iterations,
        "plain_seconds": plain_secs,
        "ratio_to_plain": seconds / plain_secs,
        "lifelines_seconds": lifelines,
        "ratio_to_lifelines": lifelines.map(|l| seconds / l),
        "r_seconds": r,
        "ratio_to_r": r.map(|x| seconds / x),
        "max_error_vs_plain": worst,
    }))
}

/// The compared values (see [`open_values`]) of the plaintext twin.
fn plain_values(w: Workload, data: &PlainFrame, ties: Ties) -> Result<Vec<f64>, String> {
    match w {
        Workload::Logrank { .. } => {
            let r = logrank_plain(data, &Workload::logrank_spec(), &disclosure())
                .map_err(|e| e.to_string())?;
            Ok(vec![r.chi_square])
        }
        Workload::Cox { .. } => {
            let r = cox_plain(data, &w.cox_spec(ties), &disclosure()).map_err(|e| e.to_string())?;
            Ok(cox_values(&r))
        }
        Workload::Cuminc { .. } => {
            let r =
                cuminc_plain(data, &cuminc_spec(data), &disclosure()).map_err(|e| e.to_string())?;
            Ok(cuminc_values(&r))
        }
        Workload::Rmst { .. } => {
            let r = rmst_plain(data, &rmst_spec(data), &disclosure()).map_err(|e| e.to_string())?;
            Ok(rmst_values(&r))
        }
        Workload::Finegray { .. } => {
            let r = finegray_plain(data, &finegray_spec(w), &disclosure())
                .map_err(|e| e.to_string())?;
            Ok(finegray_values(&r))
        }
        Workload::Relsurv { pp, .. } => relsurv::plain_values(data, pp),
    }
}

/// Checks the reconstructed values against the twin: χ² 1e-4 relative; coefficients and
/// cumulative incidences 1e-4 absolute, restricted means 1e-4·τ absolute (the README's
/// tolerance: an RMST is in days); standard errors 1e-3 relative. Returns the largest error
/// seen (relative to τ for a restricted mean).
fn check(w: Workload, got: &[f64], want: &[f64], data: &PlainFrame) -> Result<f64, String> {
    if got.len() != want.len() {
        return Err(format!(
            "{}: {} values reconstructed, {} expected",
            w.name(),
            got.len(),
            want.len()
        ));
    }
    // Estimates first, then standard errors (as many).
    let p = match w {
        Workload::Cox {
            concordance: true, ..
        } => w.covariates() + 1,
        Workload::Cox { .. } | Workload::Finegray { .. } => w.covariates(),
        _ => want.len() / 2,
    };
    // A standard error of zero (no event yet at a grid time) is zero on both sides.
    let rel = |g: f64, x: f64| {
        if x == 0.0 && g == 0.0 {
            0.0
        } else {
            (g - x).abs() / x.abs()
        }
    };
    let tau = match w {
        Workload::Rmst { .. } => rmst_spec(data).tau,
        _ => 1.0,
    };
    let mut worst = 0f64;
    for (i, (&g, &x)) in got.iter().zip(want).enumerate() {
        let (err, tol) = match w {
            Workload::Logrank { .. } => (rel(g, x), 1e-4),
            Workload::Rmst { .. } if i < p => ((g - x).abs() / tau, 1e-4),
            _ if i < p => ((g - x).abs(), 1e-4),
            _ => (rel(g, x), 1e-3),
        };
        worst = worst.max(err);
        if err > tol {
            return Err(format!(
                "{}: value {i} is {g}, the plaintext twin says {x}",
                w.name()
            ));
        }
    }
    Ok(worst)
}

/// Seconds lifelines needs for the same analysis on the same data (median of three), or
/// `None` when python3 with lifelines is not available.
fn lifelines_seconds(w: Workload, data: &PlainFrame, ties: Ties) -> Option<f64> {
    match (w, ties) {
        (Workload::Cox { .. }, Ties::Breslow) => return None, // lifelines fits Efron only
        (
            Workload::Cox { strata: true, .. }
            | Workload::Cox { robust: true, .. }
            | Workload::Cox { zph: true, .. }
            | Workload::Cox {
                concordance: true, ..
            }
            | Workload::Cuminc { .. }
            | Workload::Rmst { .. }
            | Workload::Relsurv { .. }
            | Workload::Finegray { .. },
            _,
        ) => {
            return None; // not in scripts/bench_lifelines.py
        }
        _ => {}
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench_lifelines.py");
    reference_seconds(data, Command::new("python3").arg(&script).arg(w.kind()))
}

/// Seconds R's `cmprsk::crr` needs for the Fine–Gray workload on the same data (median of
/// three, `scripts/bench_crr.R`), or `None` for other workloads or without R and cmprsk.
fn crr_seconds(w: Workload, data: &PlainFrame) -> Option<f64> {
    if !matches!(w, Workload::Finegray { .. }) {
        return None;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench_crr.R");
    reference_seconds(data, Command::new("Rscript").arg(&script))
}

/// Seconds R's `relsurv::rs.surv(..., method = "ederer2" or "pohar-perme")` needs for the relsurv workload on
/// the same data and life table (median of three, `scripts/bench_relsurv.R`), or `None` for
/// other workloads or without R and relsurv.
fn relsurv_seconds(w: Workload, data: &PlainFrame) -> Option<f64> {
    if !matches!(w, Workload::Relsurv { .. }) {
        return None;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    reference_seconds(
        data,
        Command::new("Rscript")
            .arg(root.join("scripts/bench_relsurv.R"))
            .arg(root.join("fixtures/relsurv/lifetable.csv"))
            .arg(if let Workload::Relsurv { pp: true, .. } = w {
                "pohar-perme"
            } else {
                "ederer2"
            }),
    )
}

/// Runs `cmd` with the data written to a temporary CSV (appended as the last argument) and
/// reads `seconds` from the JSON it prints; `None` if anything fails.
fn reference_seconds(data: &PlainFrame, cmd: &mut Command) -> Option<f64> {
    let dir = std::env::temp_dir().join(format!("tessera-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let csv = dir.join("data.csv");
    write_csv(data, &csv).ok()?;
    let out = cmd.arg(&csv).output().ok();
    let _ = std::fs::remove_dir_all(&dir);
    let out = out?;
    if !out.status.success() {
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    v["seconds"].as_f64()
}

/// R's time for the same analysis on the same data (`cox-conc` only: `coxph`, which
/// computes `fit$concordance` with its variance as part of the fit; median of three), or
/// `None` when Rscript with survival is not available.
fn r_seconds(w: Workload, data: &PlainFrame, ties: Ties) -> Option<f64> {
    if !matches!(
        w,
        Workload::Cox {
            concordance: true,
            ..
        }
    ) {
        return None;
    }
    let ties = match ties {
        Ties::Efron => "efron",
        Ties::Breslow => "breslow",
    };
    let code = format!(
        "suppressPackageStartupMessages(library(survival)); \
         d <- read.csv(commandArgs(trailingOnly = TRUE)[1]); \
         f <- as.formula(paste('Surv(time, event) ~', paste(grep('^x', names(d), value = TRUE), \
         collapse = ' + '))); s <- replicate(3, system.time({{fit <- coxph(f, data = d, \
         ties = '{ties}'); stopifnot(!is.null(fit$concordance))}})[['elapsed']]); \
         cat(sprintf('{{\"seconds\": %.6f}}', median(s)))"
    );
    // Rscript passes the arguments after the expression on as trailing ones (a literal
    // `--args` would be the first of them).
    reference_seconds(data, Command::new("Rscript").args(["-e", &code]))
}

fn write_csv(data: &PlainFrame, path: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let names: Vec<String> = data
        .columns
        .iter()
        .map(|c| c.name.split('.').next_back().unwrap_or(&c.name).to_string())
        .collect();
    writeln!(f, "{}", names.join(","))?;
    for i in 0..data.rows {
        let row: Vec<String> = data
            .columns
            .iter()
            .map(|c| match &c.data {
                PlainData::Numeric(v) => v[i].map_or(String::new(), |x| x.to_string()),
                PlainData::Categorical { codes, .. } => {
                    codes[i].map_or(String::new(), |x| x.to_string())
                }
            })
            .collect();
        writeln!(f, "{}", row.join(","))?;
    }
    f.flush()
}

/// Runs one party; prints its [`SurvivalReport`] as one JSON line.
pub fn run_party(args: &SurvivalPartyArgs) -> Result<(), String> {
    let w = Workload::parse(&args.workload)?;
    let ties = parse_ties(&args.ties)?;
    let data = w.data();
    let mut p = args.conn.connect(args.shape.shape()?)?;
    let result = measure(&mut p, args, w, ties, &data);
    report_or_abort(&mut p, result)
}

fn measure(
    p: &mut Party,
    args: &SurvivalPartyArgs,
    w: Workload,
    ties: Ties,
    data: &PlainFrame,
) -> Result<SurvivalReport, String> {
    let err = |e: tessera_stats::StatsError| e.to_string();
    let split = |prefix: &str| PlainFrame {
        rows: data.rows,
        columns: data
            .columns
            .iter()
            .filter(|c| c.name.starts_with(prefix))
            .cloned()
            .collect(),
    };
    let (registry, gp) = (split("registry."), split("gp."));
    let mut report = SurvivalReport {
        party: p.id(),
        secs: Vec::new(),
        bytes: Vec::new(),
        rounds: Vec::new(),
        iterations: 0,
        public: Value::Null,
        shares: Vec::new(),
    };
    fn end<P: Tail>(r: &mut SurvivalReport, sealed: Sealed<P>) -> Result<(), String> {
        r.public = sealed.public_json().map_err(|e| e.to_string())?;
        r.shares = sealed.shares.to_bytes();
        Ok(())
    }
    for _ in 0..args.reps {
        p.barrier().map_err(|e| e.to_string())?;
        let before = p.stats();
        let t = Instant::now();
        let mut frame = if let Workload::Relsurv { .. } = w {
            // The registry writes its patients' paths (or weights) from its own columns
            // (timed).
            let mut reg = registry.clone();
            if let Workload::Relsurv { pp: true, .. } = w {
                reg.columns.extend(relsurv::weights(&registry)?);
                // The weight columns are missing together: one present indicator.
                Frame::share_block(p, 0, &reg, relsurv::is_weight).map_err(err)?
            } else {
                reg.columns.extend(relsurv::paths(&registry)?);
                Frame::share(p, 0, &reg).map_err(err)?
            }
        } else {
            Frame::share(p, 0, &registry).map_err(err)?
        };
        let frame_gp = Frame::share(p, 1, &gp).map_err(err)?;
        frame.columns.extend(frame_gp.columns);
        // Timed to the sealed result (the seal's one round included).
        match w {
            Workload::Logrank { .. } => {
                let r =
                    logrank(p, &frame, &Workload::logrank_spec(), &disclosure()).map_err(err)?;
                report.secs.push(t.elapsed().as_secs_f64());
                end(&mut report, r)?;
            }
            Workload::Cox { .. } => {
                let r = cox(p, &frame, &w.cox_spec(ties), &disclosure()).map_err(err)?;
                report.secs.push(t.elapsed().as_secs_f64());
                report.iterations = r.public.trace.iterations;
                end(&mut report, r)?;
            }
            Workload::Cuminc { .. } => {
                let r = cuminc(p, &frame, &cuminc_spec(data), &disclosure()).map_err(err)?;
                report.secs.push(t.elapsed().as_secs_f64());
                end(&mut report, r)?;
            }
            Workload::Rmst { .. } => {
                let r = rmst(p, &frame, &rmst_spec(data), &disclosure()).map_err(err)?;
                report.secs.push(t.elapsed().as_secs_f64());
                end(&mut report, r)?;
            }
            Workload::Finegray { .. } => {
                let r = finegray(p, &frame, &finegray_spec(w), &disclosure()).map_err(err)?;
                report.secs.push(t.elapsed().as_secs_f64());
                report.iterations = r.public.trace.iterations;
                end(&mut report, r)?;
            }
            Workload::Relsurv { pp: false, .. } => {
                let r = ederer2(p, &frame, &relsurv::spec(), &disclosure()).map_err(err)?;
                report.secs.push(t.elapsed().as_secs_f64());
                end(&mut report, r)?;
            }
            Workload::Relsurv { pp: true, .. } => {
                let spec = relsurv::pp_spec()?;
                let r = pohar_perme(p, &frame, &spec, &disclosure()).map_err(err)?;
                report.secs.push(t.elapsed().as_secs_f64());
                end(&mut report, r)?;
            }
        }
        let st = p.stats().since(&before);
        report.bytes.push(st.bytes_sent);
        report.rounds.push(st.rounds);
    }
    p.barrier().map_err(|e| e.to_string())?;
    Ok(report)
}
