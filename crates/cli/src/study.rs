//! The researcher's commands against a station's HTTPS API (`tessera station serve`):
//! `tessera study submit STUDY --to ADDR --pin FP` sends a study file, `tessera study status
//! ID --at ADDR --pin FP` shows its state at that station and at the others, and `tessera
//! study results ID --at ADDR --pin FP --identity DIR | --token TOKEN` fetches the shares of
//! the results from the three compute stations (the one at `ADDR` names the other two),
//! checks them against each other, reconstructs them here and prints a table, JSON or the
//! HTML report: no station ever holds a result.
//!
//! `submit --json` and `status --json` print the station's answer as one JSON object instead of
//! text (the R package in `r/` reads them; results have `--format json`).
//!
//! `tessera study list --at ADDR --pin FP --identity DIR` lists the researcher's own studies
//! at that station ([`crate::studies`]).
//!
//! `tessera study check STUDY --at ADDR --pin FP` and `tessera study new --at ADDR --pin FP
//! --out FILE` read the stations' catalogues ([`crate::check`], [`crate::skeleton`]).
//!
//! Every connection is TLS 1.3 pinned to the station's certificate fingerprint (`--pin`, as
//! the study's `[parties.NAME] fingerprint` or `tessera init` gives it); `--identity`
//! presents the researcher's own certificate (the one the study lists for the recipient).
//!
//! Exit codes: 0 accepted (approved or waiting for a person) / found / results written; 3
//! refused by a station (the reasons are printed), or the study stopped or aborted; 2 invalid
//! study, unknown id, or results not (yet) available or not for this caller; 1 the station
//! could not be reached or answered unexpectedly; 4 results written, but an analysis gave no
//! result (each named on standard error with why, e.g. too few rows).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;
use tessera_client::connect::{message, read_pin};
use tessera_client::studies::{progress_text, still_going, Submitted};
use tessera_client::{Profile, StationAddr};
use tessera_station::recipient::{Credentials, Fetched};

/// Arguments of `tessera study`.
#[derive(Args, Debug)]
pub struct StudyArgs {
    /// The profile naming the stations' addresses and pins and your identity
    /// ([`tessera_client::profile`];
    /// default: `$TESSERA_PROFILE`, else `~/.config/tessera/profile.toml` if it exists).
    #[arg(long, global = true, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    #[command(subcommand)]
    pub command: StudyCommand,
}

/// How to reach one station (as given on the command line; the profile fills in the rest).
#[derive(Args, Debug, Clone)]
pub struct StationArgs {
    /// The station's certificate fingerprint (`sha256:` and 64 hex digits, as the study's
    /// `[parties.NAME] fingerprint`): the connection is refused if it presents another.
    /// Default: the pin your profile gives the station.
    #[arg(long, value_name = "FINGERPRINT")]
    pub(crate) pin: Option<String>,
    /// Present this identity (a folder written by `tessera init`) as a client certificate.
    /// Default: your profile's `identity`.
    #[arg(long, value_name = "DIR")]
    pub(crate) identity: Option<PathBuf>,
}

/// The researcher's commands.
#[derive(Subcommand, Debug)]
pub enum StudyCommand {
    /// Send a study file to a station; it passes it on to the other stations of the study.
    /// A study of yours that was refused, stopped or aborted (or still waits for a steward)
    /// takes the file again under its id as its next revision (every station decides anew).
    Submit {
        /// The study file.
        study: PathBuf,
        /// The station's API address (`host:port`), or its name in your profile (default:
        /// the profile's `default` station).
        #[arg(long, value_name = "ADDR")]
        to: Option<String>,
        #[command(flatten)]
        station: StationArgs,
        /// Print the station's answer as one JSON object (`id`, `revision`, `state`,
        /// `decision`, `reasons` when refused, `error` when invalid; with `at`, the station
        /// asked) instead of text, for programs (the R package); exit codes unchanged.
        #[arg(long)]
        json: bool,
    },
    /// Check a study against the catalogues of its stations (the one at --at and those it
    /// trusts): print everything they would refuse, before submitting it. Exit 0 nothing
    /// would be refused, 3 something would, 4 some station could not be checked, 2 invalid
    /// study, 1 the station could not be reached.
    Check {
        /// The study file.
        study: PathBuf,
        /// The station's API address (`host:port`), or its name in your profile (default:
        /// the profile's `default` station).
        #[arg(long, value_name = "ADDR")]
        at: Option<String>,
        #[command(flatten)]
        station: StationArgs,
    },
    /// Write a study skeleton from the catalogues of the station at --at and of the
    /// stations it trusts (parties, data sections with the published columns, disclosure
    /// floors, recipient, an example analysis).
    New {
        /// The station's API address (`host:port`), or its name in your profile (default:
        /// the profile's `default` station).
        #[arg(long, value_name = "ADDR")]
        at: Option<String>,
        #[command(flatten)]
        station: StationArgs,
        /// The file to write (must not exist).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Run a study of yours again unchanged after it was stopped or aborted (a station was
    /// down, its data was mended): its next revision, with the same text; each station's
    /// policy says whether its earlier approval stands. Submit it at the station you first
    /// submitted it to.
    Rerun {
        /// The study id.
        id: String,
        /// The station's API address, or its name in your profile (default: the profile's
        /// `default` station).
        #[arg(long, value_name = "ADDR")]
        at: Option<String>,
        #[command(flatten)]
        station: StationArgs,
    },
    /// Show a study's state at a station, and what the other stations said.
    Status {
        /// The study id.
        id: String,
        /// The station's API address, or its name in your profile (default: the profile's
        /// `default` station).
        #[arg(long, value_name = "ADDR")]
        at: Option<String>,
        #[command(flatten)]
        station: StationArgs,
        /// Print the station's answer (`GET /studies/ID`: `state`, `run`, `stations`,
        /// `earlier`, `progress`; with `at`, the station asked) as one JSON object instead
        /// of text, for programs (the R package); exit codes unchanged.
        #[arg(long)]
        json: bool,
    },
    /// List your studies at a station (those you submitted there with this --identity):
    /// id, state (past approval, the run's), when received, why.
    List {
        /// The station's API address, or its name in your profile (default: the profile's
        /// `default` station).
        #[arg(long, value_name = "ADDR")]
        at: Option<String>,
        #[command(flatten)]
        station: StationArgs,
    },
    /// Fetch a study's results as one of its recipients (with `--wait`, the station's progress
    /// is shown on a terminal while it computes).
    Results {
        /// The study id.
        id: String,
        /// The station's API address (a compute station of the study), or its name in your
        /// profile (default: the profile's `default` station).
        #[arg(long, value_name = "ADDR")]
        at: Option<String>,
        #[command(flatten)]
        station: StationArgs,
        /// A token a station's steward issued (`tessera station token`), instead of a
        /// certificate: `TOKEN` for the station at `--at`, `STATION=TOKEN` for another compute
        /// station (results need the shares of all three; repeat the option).
        #[arg(long, value_name = "TOKEN")]
        token: Vec<String>,
        /// `STATION=FINGERPRINT`: pin another compute station yourself instead of taking its
        /// fingerprint from the station at `--at` (needed for a `--token STATION=…`).
        #[arg(long, value_name = "STATION=FP")]
        pin_station: Vec<String>,
        /// What to print or write.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Wait up to this many seconds for the results while the study is still being
        /// approved or computed.
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        wait: u64,
    },
    /// Reconstruct results from the three compute stations' shares files (as `tessera run
    /// --as NAME --out DIR` writes them): checked against each other, then opened here.
    Open {
        /// The three `shares-NAME.json` files, in any order (fewer cannot be opened: the
        /// reconstruction says which compute stations' parts are missing).
        #[arg(num_args = 1.., required = true)]
        files: Vec<PathBuf>,
        /// What to print or write.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// The result formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text tables, as lifelines and statsmodels print them.
    Table,
    /// The JSON document (as `tessera run --json`).
    Json,
    /// The HTML report with the Kaplan–Meier curves.
    Html,
}

impl From<&StationArgs> for StationAddr {
    fn from(a: &StationArgs) -> Self {
        StationAddr {
            pin: a.pin.clone(),
            identity: a.identity.clone(),
        }
    }
}

/// Runs a `tessera study` command.
pub fn main(args: &StudyArgs) -> ExitCode {
    // The station addressed, with its pin and the identity: given, or from the profile.
    let reach = |at: &Option<String>, given: &StationArgs| {
        let profile = Profile::load(args.profile.as_deref())?;
        Profile::resolve(profile.as_ref(), at.as_deref(), &given.into())
    };
    let result = match &args.command {
        StudyCommand::Submit {
            study,
            to,
            station,
            json,
        } => {
            let text = std::fs::read(study).map_err(|e| format!("{}: {e}", study.display()));
            text.and_then(|t| {
                let (to, station) = reach(to, station)?;
                submit(&t, "/studies", &to, &station, *json)
            })
        }
        StudyCommand::Rerun { id, at, station } => reach(at, station)
            .and_then(|(at, s)| submit(&[], &format!("/studies/{id}/rerun"), &at, &s, false)),
        StudyCommand::Status {
            id,
            at,
            station,
            json,
        } => reach(at, station).and_then(|(at, s)| status(id, &at, &s, *json)),
        StudyCommand::List { at, station } => {
            reach(at, station).and_then(|(at, s)| crate::studies::list(&at, &s))
        }
        StudyCommand::Check { study, at, station } => {
            reach(at, station).and_then(|(at, s)| crate::check::check(study, &at, &s))
        }
        StudyCommand::New { at, station, out } => reach(at, station)
            .and_then(|(at, s)| crate::skeleton::new(&at, &s, out).map(|()| ExitCode::SUCCESS)),
        StudyCommand::Results {
            id,
            at,
            station,
            token,
            pin_station,
            format,
            out,
            wait,
        } => reach(at, station).and_then(|(at, s)| {
            results(
                id,
                &at,
                &s,
                (token, pin_station),
                *format,
                out.as_deref(),
                *wait,
            )
        }),
        StudyCommand::Open { files, format, out } => open_files(files, *format, out.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tessera: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a station's JSON answer `body` as one line, with `at` (the station asked) added:
/// what `--json` gives programs instead of text.
fn print_json(mut body: Value, at: &str) {
    if let Value::Object(map) = &mut body {
        map.insert("at".into(), Value::String(at.to_string()));
    }
    println!("{body}");
}

/// Sends `text` (a study file; nothing for a rerun) to `route` at the station at `to` and
/// prints its decision (with `json`, the station's answer as JSON; the exit code is the same).
fn submit(
    text: &[u8],
    route: &str,
    to: &str,
    station: &StationAddr,
    json: bool,
) -> Result<ExitCode, String> {
    let (code, body) = tessera_client::studies::submit_answer(text, route, to, station)?;
    if json && matches!(code, 200 | 201 | 400 | 403 | 404 | 409) {
        print_json(body, to);
        return Ok(match code {
            200 | 201 => ExitCode::SUCCESS,
            403 => ExitCode::from(3),
            _ => ExitCode::from(2),
        });
    }
    match tessera_client::studies::classify(code, body)? {
        Submitted::Accepted(body) => {
            println!(
                "study {} at {}: {}",
                crate::station::with_revision(
                    body["id"].as_str().unwrap_or("?"),
                    body["revision"].as_u64().unwrap_or(1)
                ),
                to,
                body["state"].as_str().unwrap_or("?")
            );
            if let Some(d) = body.get("decision") {
                println!("{}", crate::decision::from_json(d));
            }
            Ok(ExitCode::SUCCESS)
        }
        Submitted::Refused(reasons) => {
            eprintln!("tessera: the station refused the study:");
            for r in reasons {
                eprintln!("  {r}");
            }
            Ok(ExitCode::from(3))
        }
        Submitted::Rejected(why) => {
            eprintln!("tessera: {why}");
            Ok(ExitCode::from(2))
        }
    }
}

/// A study's state at a station as one line per station (this one first).
fn describe(id: &str, at: &str, body: &Value) -> String {
    let mut out = String::new();
    let run = &body["run"];
    let (state, reason) = if run.is_null() {
        (
            body["state"].as_str().unwrap_or("?"),
            body["reason"].as_str(),
        )
    } else {
        (run["state"].as_str().unwrap_or("?"), run["reason"].as_str())
    };
    out.push_str(&format!(
        "study {} at {at}: {state}{}{}\n",
        crate::station::with_revision(id, body["revision"].as_u64().unwrap_or(1)),
        reason.map(|r| format!(" ({r})")).unwrap_or_default(),
        if state == "running" {
            progress_text(&body["progress"])
        } else {
            String::new()
        }
    ));
    let revision = body["revision"].as_u64();
    for s in body["stations"].as_array().into_iter().flatten() {
        // A station still on another revision says so.
        let other = s["revision"]
            .as_u64()
            .filter(|r| Some(*r) != revision)
            .map(|r| format!(" (revision {r})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {}{other}: {}{}\n",
            s["station"].as_str().unwrap_or("?"),
            s["state"].as_str().unwrap_or("?"),
            s["reason"]
                .as_str()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ));
    }
    for e in body["earlier"].as_array().into_iter().flatten() {
        let state = e["run"].as_str().or(e["state"].as_str()).unwrap_or("?");
        out.push_str(&format!(
            "  earlier: revision {} {state}{}\n",
            e["revision"].as_u64().unwrap_or(0),
            e["reason"]
                .as_str()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ));
    }
    out
}

/// Prints a study's state at the station at `at` (with `json`, the station's answer as JSON).
fn status(id: &str, at: &str, station: &StationAddr, json: bool) -> Result<ExitCode, String> {
    match tessera_client::studies::status(id, at, station)? {
        Some(body) if json => {
            print_json(body, at);
            Ok(ExitCode::SUCCESS)
        }
        Some(body) => {
            print!("{}", describe(id, at, &body));
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("tessera: no study {id} at {at} (or not one you submitted)");
            Ok(ExitCode::from(2))
        }
    }
}

fn results(
    id: &str,
    at: &str,
    station: &StationAddr,
    (tokens, pins): (&[String], &[String]),
    format: Format,
    out: Option<&Path>,
    wait: u64,
) -> Result<ExitCode, String> {
    let identity = station.load_identity()?;
    let mut creds = Credentials {
        identity: identity.as_ref(),
        ..Credentials::default()
    };
    for t in tokens {
        match t.split_once('=') {
            Some((name, tok)) if !name.is_empty() && !name.contains(' ') => {
                creds.tokens.insert(name.to_string(), tok.to_string());
            }
            _ => creds.token = Some(t.clone()),
        }
    }
    for p in pins {
        let (name, fp) = p
            .split_once('=')
            .ok_or_else(|| format!("--pin-station {p}: expected STATION=sha256:…"))?;
        creds.pins.insert(name.to_string(), read_pin(fp)?);
    }
    let mut shown = String::new();
    let fetched = tessera_client::results::fetch(
        id,
        at,
        station,
        &creds,
        Duration::from_secs(wait),
        |state| {
            // Show what the station is doing, on a terminal.
            if std::io::stderr().is_terminal() {
                let st = tessera_client::studies::status(id, at, station)
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                let line = format!("{state}{}", progress_text(&st["progress"]));
                if shown != line {
                    eprint!("\r\x1b[K{id}: {line}");
                    shown = line;
                }
            }
        },
    )?;
    if !shown.is_empty() {
        eprintln!();
    }
    match fetched {
        Fetched::Results(output, _) => write_results(&output, format, out, id),
        Fetched::Answer(name, 409, body) => {
            eprintln!("tessera: station {name}: {}", message(&body));
            if let Some(r) = body["reason"].as_str() {
                eprintln!("  {r}");
            }
            let state = body["state"].as_str().unwrap_or("");
            Ok(ExitCode::from(if still_going(state) { 2 } else { 3 }))
        }
        Fetched::Answer(name, 401 | 403 | 404, body) => {
            eprintln!("tessera: station {name}: {}", message(&body));
            Ok(ExitCode::from(2))
        }
        Fetched::Answer(name, s, body) => {
            Err(format!("station {name} answered {s}: {}", message(&body)))
        }
    }
}

/// Prints or writes reconstructed results in `format`; exit 4 when an analysis gave no
/// result (named on standard error), as `tessera run` exits non-zero then.
fn write_results(
    output: &tessera_study::StudyOutput,
    format: Format,
    out: Option<&Path>,
    id: &str,
) -> Result<ExitCode, String> {
    let doc = match format {
        Format::Table => tessera_study::render::text(output),
        Format::Json => tessera_study::render::json(output),
        Format::Html => tessera_study::report::html(output),
    };
    match out {
        Some(f) => {
            std::fs::write(f, &doc).map_err(|e| format!("{}: {e}", f.display()))?;
            eprintln!("results of study {id} written to {}", f.display());
        }
        None => print!("{doc}"),
    }
    Ok(if crate::run::report_failures(output) {
        ExitCode::from(4)
    } else {
        ExitCode::SUCCESS
    })
}

/// `tessera study open FILE FILE FILE`: results from three stations' shares files.
fn open_files(files: &[PathBuf], format: Format, out: Option<&Path>) -> Result<ExitCode, String> {
    let mut parts = Vec::with_capacity(files.len());
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let part =
            tessera_study::deliver::StationShares::from_json(&text, &f.display().to_string())
                .map_err(|e| e.to_string())?;
        parts.push(part);
    }
    let output = tessera_study::deliver::open(parts).map_err(|e| e.to_string())?;
    let id = output.study.id.clone();
    write_results(&output, format, out, &id)
}
