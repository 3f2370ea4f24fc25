//! `tessera run STUDY`: runs a whole study with the three compute parties on this machine
//! and prints the results (text tables, or one JSON document with `--json`); `--out DIR`
//! also writes `results.json`, `results.txt` and `report.html` (tables and Kaplan–Meier
//! plots).
//!
//! With `--as NAME --identity DIR` this process is only compute station NAME: it reads
//! only its own dataset and connects to the two other compute stations over TLS, at the
//! addresses and pinned to the certificate fingerprints the study lists (each station runs
//! the same command with its own name and identity, on the very same study text: the
//! session is derived from the text's digest). This by-hand mode is the one place where a
//! study carries computation addresses; the station service takes them from each station's
//! own `station.toml [compute]`.
//! It ends with its *shares* of the results (`--json` prints them, `--out DIR` writes
//! `DIR/shares-NAME.json`); `tessera study open` reconstructs the results from the three
//! stations' shares.
//!
//! Exit codes: 0 when every analysis gave a result; 2 for an invalid study file or data
//! (nothing was computed); 1 for a failure while running, or when an analysis gave no
//! result (the others are still printed).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use tessera_net::identity::Identity;
use tessera_study::render;
use tessera_study::{Progress, RunOptions, StudyError, Transport};

/// Arguments of `tessera run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The study file (see docs/study.md).
    pub study: PathBuf,
    /// Print one JSON document on standard output instead of text tables.
    #[arg(long)]
    pub json: bool,
    /// Also write DIR/results.json, DIR/results.txt and DIR/report.html (DIR is created if
    /// needed).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite existing result files in --out.
    #[arg(long)]
    pub force: bool,
    /// Connect the three compute parties over loopback TCP instead of in memory.
    #[arg(long)]
    pub tcp: bool,
    /// Seconds a party waits for a peer before giving up.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Run only this compute station's part, over TLS with the other stations (needs
    /// --identity, and addresses and fingerprints in the study).
    #[arg(long = "as", value_name = "NAME", requires = "identity")]
    pub as_party: Option<String>,
    /// This station's identity folder (written by `tessera init`).
    #[arg(long, value_name = "DIR", requires = "as_party")]
    pub identity: Option<PathBuf>,
    /// A wide-area network simulated on the links between the compute parties, to measure
    /// the whole study as it would run between organisations.
    #[command(flatten)]
    pub network: crate::bench::party::ShapeArgs,
}

const FILES: [&str; 3] = ["results.json", "results.txt", "report.html"];

/// The run's phase on one terminal line (only when standard error is a terminal).
fn show_progress(step: usize, steps: usize, what: &str) {
    let pct = 100 * step / steps.max(1);
    let mut err = std::io::stderr();
    let _ = write!(err, "\r\x1b[2K[{pct:>3}%] {what}");
    if step == steps {
        let _ = writeln!(err);
    }
    let _ = err.flush();
}

fn fail(e: &StudyError) -> ExitCode {
    eprintln!("tessera: {e}");
    ExitCode::from(e.exit_code())
}

/// Refuses to overwrite result files unless `force`; creates the folder.
fn check_out(dir: &Path, force: bool) -> Result<(), String> {
    if !force {
        if let Some(f) = FILES.iter().map(|f| dir.join(f)).find(|p| p.exists()) {
            return Err(format!(
                "{} exists; use --force to overwrite it",
                f.display()
            ));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Runs the study; the exit code says how it went (see the module docs).
pub fn main(args: &RunArgs) -> ExitCode {
    let loaded = match &args.as_party {
        Some(me) => tessera_study::load_at(&args.study, me),
        None => tessera_study::load(&args.study),
    };
    let study = match loaded {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if let Some(dir) = &args.out {
        if let Err(e) = check_out(dir, args.force) {
            eprintln!("tessera: {e}");
            return ExitCode::from(2);
        }
    }
    let network = match args.network.shape() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tessera: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = RunOptions {
        network,
        transport: if args.tcp {
            Transport::Tcp
        } else {
            Transport::Memory
        },
        timeout: Duration::from_secs(args.timeout.max(1)),
        progress: std::io::stderr()
            .is_terminal()
            .then_some(show_progress as Progress),
    };
    let result = match (&args.as_party, &args.identity) {
        (Some(me), Some(dir)) => match Identity::load(dir) {
            Ok(id) => {
                return station_part(
                    args,
                    me,
                    tessera_study::distributed::run_party(&study, me, &id, &opts),
                )
            }
            Err(e) => {
                eprintln!("tessera: identity {}: {e}", dir.display());
                return ExitCode::from(2);
            }
        },
        _ => tessera_study::run_local(&study, &opts),
    };
    let out = match result {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let (json, text) = (render::json(&out), render::text(&out));
    let html = tessera_study::report::html(&out);
    if args.json {
        println!("{json}");
    } else {
        print!("{text}");
    }
    if let Some(dir) = &args.out {
        for (name, body) in FILES.iter().zip([&json, &text, &html]) {
            let p = dir.join(name);
            if let Err(e) = std::fs::write(&p, format!("{}\n", body.trim_end())) {
                eprintln!("tessera: cannot write {}: {e}", p.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if report_failures(&out) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Says on standard error which analyses gave no result and why; whether any did (so the
/// command exits non-zero, the other results printed all the same).
pub(crate) fn report_failures(out: &tessera_study::StudyOutput) -> bool {
    let mut any = false;
    for a in out.failures() {
        eprintln!(
            "tessera: analysis \"{}\" gave no result: {}",
            a.name,
            a.error.as_deref().unwrap_or("")
        );
        any = true;
    }
    any
}

/// The end of one compute station's part (`--as NAME`): its shares of the results, which it
/// cannot open. Printed as JSON (`--json`: with its own data report and costs), or written
/// to `--out DIR/shares-NAME.json`; `tessera study open` reconstructs the results from the
/// three stations' files.
fn station_part(
    args: &RunArgs,
    me: &str,
    result: Result<tessera_study::distributed::PartyOutput, StudyError>,
) -> ExitCode {
    let out = match result {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let shares = out.shares.to_json();
    if let Some(dir) = &args.out {
        let p = dir.join(format!("shares-{me}.json"));
        if let Err(e) = std::fs::write(&p, &shares) {
            eprintln!("tessera: cannot write {}: {e}", p.display());
            return ExitCode::FAILURE;
        }
        eprintln!("{me}'s shares of the results written to {}", p.display());
    }
    if args.json {
        let doc = serde_json::json!({
            "shares": serde_json::from_str::<serde_json::Value>(&shares).unwrap_or_default(),
            "data": out.data,
            "cost": out.cost,
        });
        println!("{doc}");
    } else {
        println!(
            "{me} holds its shares of {} analyses (it cannot open them); the recipients \
             reconstruct the results from the three stations' shares with \
             `tessera study open shares-*.json`",
            out.shares.analyses.len()
        );
    }
    ExitCode::SUCCESS
}
