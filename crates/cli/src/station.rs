//! `tessera station …`: the steward's commands at one station.
//!
//! Every command reads `--config station.toml` (default `./station.toml`; paths in it are
//! relative to it) and works on the station's audit file (`[station] audit`), which holds
//! the hash-chained audit log and the state of every study received:
//!
//! - `receive STUDY.toml`: validate the study here, let the policy decide, record it;
//! - `pending`: the studies waiting for a person;
//! - `approve ID [--by NAME]`, `refuse ID --why TEXT [--by NAME]`: a person's decision;
//! - `status [ID]`: one study's state and reason, or every study's;
//! - `list`: every study received, newest last ([`list`]);
//! - `show ID`: one study as it concerns this station: columns used, recipients, the rules
//!   in force, cost, submitter ([`show`]);
//! - `check`: read every configured source as declared and report on each ([`check`]);
//! - `audit verify [--anchor N:HASH] [--offline]`: check the chain (and the studies' states
//!   against it), and against the heads of this log that the trusted stations kept
//!   ([`tessera_station::anchor`]); print the entry count and head hash;
//! - `audit show [--study ID]`: the entries;
//! - `token ID RECIPIENT`: issue a study's recipient a token to fetch its results;
//! - `serve [--listen ADDR]`: the service: the HTTPS API ([`tessera_station::api`]) on
//!   `[station] listen` and the loop that runs approved studies with the other stations
//!   ([`tessera_station::coordinate`]), until killed; creates the steward's token file when
//!   absent and says where it is.
//!
//! The logic is in `tessera-station` ([`tessera_station::receive`], [`Approvals`],
//! [`tessera_station::AuditLog`]); this module only parses arguments and prints. Nothing
//! printed is patient-level: studies, decisions and the audit entries (which hold only
//! aggregate, policy-approved results).
//!
//! Exit codes: 0 done (for `receive`: approved or waiting for a person); 1 the audit file
//! could not be read or written; 2 invalid input (configuration, study file, arguments, an
//! unknown study id, a decision the study's state does not allow; for `check`: a source
//! that does not read as declared); 3 `receive`: the policy refused the study; 4 `audit
//! verify`: the log (or the studies' states) was tampered with.
//! `serve` returns only on failure: 1 the address cannot be bound or the audit file opened,
//! 2 an invalid configuration or token file.

mod check;
mod list;
mod show;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use tessera_net::identity::Identity;
use tessera_station::approval::StudyRecord;
use tessera_station::audit::{Entry, GENESIS};
use tessera_station::{Approvals, AuditError, Config, Decision, StationError, StudyState};

/// Arguments of `tessera station`.
#[derive(Args, Debug)]
pub struct StationArgs {
    /// The station's configuration (see docs/station.md).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        default_value = "station.toml"
    )]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: StationCommand,
}

/// The steward's commands.
#[derive(Subcommand, Debug)]
pub enum StationCommand {
    /// Receive a study: validate it at this station, evaluate it against the policy, record
    /// it and the decision in the audit log. Exit 0 approved or waiting for a person, 3
    /// refused, 2 invalid.
    Receive {
        /// The study file (its dataset for this station is relative to station.toml).
        study: PathBuf,
        /// Who submitted it (recorded in the audit log).
        #[arg(long, value_name = "NAME", default_value = "command-line")]
        from: String,
    },
    /// List the studies waiting for a person (id, received at, why they wait).
    Pending,
    /// Approve a study that waits for a person.
    Approve {
        /// The study's id.
        id: String,
        /// Who approves (recorded in the audit log; default: $USER).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// Refuse a study (waiting, or approved and not yet computing here): it stops at every station,
    /// and the reason is shown to the researcher.
    Refuse {
        /// The study's id.
        id: String,
        /// Why (shown to the researcher, recorded in the audit log).
        #[arg(long, value_name = "TEXT")]
        why: String,
        /// Who refuses (recorded in the audit log; default: $USER).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// Show one study's state and reason, or every study's.
    Status {
        /// The study's id (all studies if omitted).
        id: Option<String>,
    },
    /// List every study received here: id, state, run state, when received, title (newest
    /// last).
    List,
    /// Show one study as it concerns this station: who submitted it, its state, which of
    /// this station's columns each analysis uses, who receives each result, the disclosure
    /// rules in force here (the stricter of the study's and the policy's), the cost.
    Show {
        /// The study's id.
        id: String,
    },
    /// Read every configured source as station.toml declares it: each declared column
    /// present, every value of its type (categorical: one of the declared levels); print
    /// rows, missing values and numeric ranges per column (for the steward only), or every
    /// problem with file, line and column. Exit 0 all good, 2 a problem.
    Check,
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Serve the station's HTTP API (docs/station.md, "HTTP API") on `[station] listen`
    /// until killed. The steward's token is read from `[station] steward_token` (created
    /// with 32 random bytes and mode 0600 when absent).
    Serve {
        /// Listen here instead of `[station] listen` (`host:port`; port 0 picks a free one).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Seconds the computation waits for a message from another station before it
        /// gives up (and how long it waits for them to connect).
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        run_timeout: u64,
        /// Seconds between two rounds of asking every trusted station for its signed audit
        /// head, which this station keeps for that station's `audit verify`.
        #[arg(long, value_name = "SECONDS", default_value_t = 5)]
        anchor_every: u64,
        /// A wide-area network simulated on the computation's links to the other stations,
        /// to measure a study as it would run between organisations (not for production).
        #[command(flatten)]
        network: crate::bench::party::ShapeArgs,
        /// What the service logs on standard error: `error`, `warn`, `info` (each event:
        /// received, pending, approved, refused, run started, finished, aborted, results
        /// delivered), `debug` or `off`. `RUST_LOG` (e.g. `tessera::event=info,warn`)
        /// overrides it.
        #[arg(long, value_name = "LEVEL", default_value = "info")]
        log: String,
    },
    /// Issue a study's recipient a token to fetch the results from this station's API
    /// (`tessera study results ID --token TOKEN`). Printed once; only its hash is kept.
    Token {
        /// The study's id.
        id: String,
        /// The recipient, as the study names it.
        recipient: String,
        /// Who issues it (recorded in the audit log; default: $USER).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
}

/// `tessera station audit …`.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Verify the hash chain, the recorded head, the append-only triggers and the studies'
    /// states against the log; print the entry count and head hash (keep them outside the
    /// file). Exit 0 intact, 4 tampered (every problem listed).
    Verify {
        /// A head recorded earlier, `COUNT:HASH` (as printed by this command): the log must
        /// still contain entry COUNT with that hash. Catches a tail deleted together with
        /// the head record.
        #[arg(long, value_name = "COUNT:HASH")]
        anchor: Option<String>,
        /// Do not ask the trusted stations for the heads of this log they kept (by default
        /// each is asked, with this station's identity; one that cannot be reached is
        /// reported, not counted as tampering).
        #[arg(long)]
        offline: bool,
    },
    /// Print the entries: seq, time, kind, study, actor, details.
    Show {
        /// Only the entries about this study.
        #[arg(long, value_name = "ID")]
        study: Option<String>,
    },
}

/// A failure, with the exit code it maps to.
struct Fail {
    code: u8,
    message: String,
}

impl Fail {
    fn new(code: u8, message: impl Into<String>) -> Fail {
        Fail {
            code,
            message: message.into(),
        }
    }
}

/// Maps a station error to its exit code; `file` (the audit file) prefixes the messages that
/// do not name a file themselves.
fn fail(e: StationError, file: &str) -> Fail {
    match e {
        StationError::Config(m) => Fail::new(2, m),
        StationError::Study(e) => Fail::new(2, e.to_string()),
        StationError::Audit(AuditError::Tampered { .. }) => Fail::new(4, e.to_string()),
        StationError::Audit(AuditError::Invalid(m)) => Fail::new(1, format!("{file}: {m}")),
        StationError::Audit(AuditError::Db { .. }) => Fail::new(1, e.to_string()),
        StationError::UnknownStudy(_)
        | StationError::AlreadyReceived { .. }
        | StationError::Transition { .. }
        | StationError::Invalid(_) => Fail::new(2, format!("{file}: {e}")),
    }
}

/// Runs `tessera station …`; the exit code is documented in the module docs.
pub fn main(args: &StationArgs) -> ExitCode {
    match run(args) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("tessera: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn run(args: &StationArgs) -> Result<u8, Fail> {
    let config = tessera_station::config::load(&args.config).map_err(|e| fail(e, ""))?;
    let file = config.audit.display().to_string();
    match &args.command {
        StationCommand::Receive { study, from } => receive(&config, &file, study, from),
        StationCommand::Pending => pending(&config, &file),
        StationCommand::Approve { id, by } => {
            let by = person(by.as_deref());
            let mut a = open_existing(&config, &file)?
                .ok_or_else(|| fail(StationError::UnknownStudy(id.clone()), &file))?;
            let rec = a.approve(id, &by).map_err(|e| fail(e, &file))?;
            println!("study {} approved by {by}", rec.id);
            Ok(0)
        }
        StationCommand::Refuse { id, why, by } => {
            let by = person(by.as_deref());
            let mut a = open_existing(&config, &file)?
                .ok_or_else(|| fail(StationError::UnknownStudy(id.clone()), &file))?;
            let rec = a.refuse(id, &by, why).map_err(|e| fail(e, &file))?;
            println!("study {} refused by {by}: {}", rec.id, why.trim());
            Ok(0)
        }
        StationCommand::Status { id } => status(&config, &file, id.as_deref()),
        StationCommand::List => list::list(&config, &file),
        StationCommand::Show { id } => show::show(&config, &file, id),
        StationCommand::Check => Ok(check::check(&config)),
        StationCommand::Audit(AuditCommand::Verify { anchor, offline }) => {
            verify(&config, &file, anchor.as_deref(), !offline)
        }
        StationCommand::Audit(AuditCommand::Show { study }) => show(&config, &file, study),
        StationCommand::Serve {
            listen,
            run_timeout,
            anchor_every,
            network,
            log,
        } => {
            init_log(log)?;
            let network = network.shape().map_err(|e| Fail::new(2, e))?;
            serve(
                config,
                &file,
                listen.as_deref(),
                (*run_timeout, *anchor_every),
                network,
            )
        }
        StationCommand::Token { id, recipient, by } => {
            let by = person(by.as_deref());
            let mut a = open_existing(&config, &file)?
                .ok_or_else(|| fail(StationError::UnknownStudy(id.clone()), &file))?;
            let token = a
                .issue_token(id, recipient, &by)
                .map_err(|e| fail(e, &file))?;
            println!("{token}");
            eprintln!(
                "token for {recipient} of study {id} (shown once; give it to the recipient \
                 over a trusted channel)"
            );
            Ok(0)
        }
    }
}

/// Sends the service's `tracing` events to standard error at `level`, or as `RUST_LOG`
/// says (targets and levels, e.g. `tessera::event=info,warn`).
fn init_log(level: &str) -> Result<(), Fail> {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let filter: Targets = match &from_env {
        Some(v) => v
            .parse()
            .map_err(|e| Fail::new(2, format!("RUST_LOG={v:?}: {e}")))?,
        None => {
            let l: LevelFilter = level.parse().map_err(|_| {
                Fail::new(
                    2,
                    format!("--log {level:?}: one of off, error, warn, info, debug, trace"),
                )
            })?;
            Targets::new().with_default(l)
        }
    };
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
        .try_init();
    Ok(())
}

/// `serve`: opens the audit file, reads or creates the steward's token, binds and serves.
fn serve(
    config: Config,
    file: &str,
    listen: Option<&str>,
    (run_timeout, anchor_every): (u64, u64),
    network: tessera_net::shaper::Shape,
) -> Result<u8, Fail> {
    let identity = Identity::load_files(&config.identity.key, &config.identity.certificate)
        .map_err(|e| Fail::new(2, format!("the station's identity: {e}")))?;
    let approvals = Approvals::open(&config.audit).map_err(|e| fail(e, file))?;
    let (token, created) =
        tessera_station::api::steward_token(&config.steward_token).map_err(|e| fail(e, file))?;
    let token_file = config.steward_token.display().to_string();
    if created {
        println!("steward token created in {token_file} (mode 0600)");
    } else {
        println!("steward token read from {token_file}");
    }
    let addr = listen.unwrap_or(&config.listen).to_string();
    let listener = std::net::TcpListener::bind(&addr)
        .map_err(|e| Fail::new(1, format!("cannot listen on {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Fail::new(1, format!("cannot listen on {addr}: {e}")))?;
    // The API's port given on the command line may not be one the computation uses either
    // (station.toml's own [station] listen is checked when the file is read).
    if let Some(c) = &config.compute {
        if (c.ports.0..=c.ports.1).contains(&bound.port()) {
            return Err(Fail::new(
                2,
                format!(
                    "--listen {addr}: port {} is in [compute] listen's range {}-{} of {file}: \
                     the API and the computation need ports of their own",
                    bound.port(),
                    c.ports.0,
                    c.ports.1
                ),
            ));
        }
    }
    // Said before the line that the demo (and scripts) wait for: nothing is printed after it.
    if !network.is_unshaped() {
        println!("simulating a wide-area network on the computation's links: {network}");
    }
    println!(
        "station {} serving its API on https://{bound} (certificate sha256:{}, audit file {file})",
        config.name,
        tessera_net::identity::fingerprint_hex(&identity.fingerprint())
    );
    let options = tessera_station::coordinate::ServiceOptions {
        run_timeout: std::time::Duration::from_secs(run_timeout.max(1)),
        anchor_every: std::time::Duration::from_secs(anchor_every.max(1)),
        network,
        ..Default::default()
    };
    let api = tessera_station::api::Api::new(config, approvals, token, identity, options);
    tessera_station::api::serve(listener, api)
        .map_err(|e| Fail::new(1, format!("the service on {bound} stopped: {e}")))?;
    Ok(0)
}

/// The person deciding: `--by`, else $USER, else "steward".
fn person(by: Option<&str>) -> String {
    by.map(str::to_string)
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "steward".to_string())
}

/// Opens the audit file if it exists (reading commands never create it).
fn open_existing(config: &Config, file: &str) -> Result<Option<Approvals>, Fail> {
    if !config.audit.exists() {
        return Ok(None);
    }
    Approvals::open(&config.audit)
        .map(Some)
        .map_err(|e| fail(e, file))
}

fn receive(config: &Config, file: &str, study: &Path, from: &str) -> Result<u8, Fail> {
    let mut approvals = Approvals::open(&config.audit).map_err(|e| fail(e, file))?;
    let got =
        tessera_station::receive(config, &mut approvals, study, from).map_err(|e| fail(e, file))?;
    println!(
        "study {} received at station {}",
        with_revision(&got.record.id, u64::from(got.record.revision)),
        config.name
    );
    match &got.decision {
        Decision::Approve { rule } => {
            println!("approved by rule {rule:?}");
            Ok(0)
        }
        Decision::Refuse { reasons } => {
            println!("refused by the policy:");
            for r in reasons {
                println!("  - {r}");
            }
            Ok(3)
        }
        Decision::NeedsPerson { why } => {
            println!(
                "waiting for a person (tessera station approve|refuse {}):",
                got.record.id
            );
            print_indented(why);
            print_cost(config, &got.record);
            Ok(0)
        }
    }
}

/// The study's estimated cost (`tessera_study::estimate`), for a study still to be decided
/// or run; nothing for one that cannot be parsed here (its reason says why).
fn print_cost(config: &Config, r: &StudyRecord) {
    if r.state == StudyState::Refused {
        return;
    }
    if let Ok(study) =
        tessera_study::validate::parse_at_station("study.toml", &r.text, &config.name)
    {
        print_indented(&tessera_study::estimate::render(&study));
    }
}

fn print_indented(text: &str) {
    for line in text.lines() {
        println!("  {line}");
    }
}

fn pending(config: &Config, file: &str) -> Result<u8, Fail> {
    let list = match open_existing(config, file)? {
        Some(a) => a.pending().map_err(|e| fail(e, file))?,
        None => Vec::new(),
    };
    if list.is_empty() {
        println!("no study is waiting for a person");
        return Ok(0);
    }
    println!(
        "{} stud{} waiting for a person:",
        list.len(),
        plural(list.len())
    );
    for r in &list {
        println!("{}  received {}", r.id, r.received_at);
        if let Some(why) = &r.reason {
            print_indented(why);
        }
        print_cost(config, r);
    }
    Ok(0)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "y"
    } else {
        "ies"
    }
}

fn status(config: &Config, file: &str, id: Option<&str>) -> Result<u8, Fail> {
    let approvals = open_existing(config, file)?;
    match id {
        Some(id) => {
            let rec = match &approvals {
                Some(a) => a.get(id).map_err(|e| fail(e, file))?,
                None => None,
            }
            .ok_or_else(|| fail(StationError::UnknownStudy(id.to_string()), file))?;
            print_record(&rec);
            if let Some(a) = &approvals {
                print_steward_reasons(a, id, file)?;
            }
            print_cost(config, &rec);
            let run = match &approvals {
                Some(a) => a.run(id).map_err(|e| fail(e, file))?,
                None => None,
            };
            if let Some(run) = run {
                println!("  run      {} since {}", run.state.as_str(), run.updated_at);
                if let Some(why) = &run.reason {
                    for line in why.lines() {
                        println!("    {line}");
                    }
                }
            }
        }
        None => {
            let all = match &approvals {
                Some(a) => a.all().map_err(|e| fail(e, file))?,
                None => Vec::new(),
            };
            if all.is_empty() {
                println!("no study received");
            }
            for r in &all {
                let why = r
                    .reason
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("");
                // Past its approval, the run's state says more.
                let run = approvals
                    .as_ref()
                    .map(|a| a.run(&r.id))
                    .transpose()
                    .map_err(|e| fail(e, file))?
                    .flatten();
                match run {
                    Some(run) => println!("{}  {}  {}", r.id, run.state.as_str(), why),
                    None => println!("{}  {}  {}", r.id, r.state, why),
                }
            }
        }
    }
    Ok(0)
}

fn print_record(r: &StudyRecord) {
    println!(
        "study {}: {}",
        with_revision(&r.id, u64::from(r.revision)),
        r.state
    );
    println!("  received {}", r.received_at);
    if let (Some(at), Some(by)) = (&r.decided_at, &r.decided_by) {
        println!("  decided  {at} by {by}");
    }
    if let Some(why) = &r.reason {
        let label = match r.state {
            StudyState::Pending => "waiting because:",
            StudyState::Approved => "approved:",
            StudyState::Refused => "reasons:",
        };
        println!("  {label}");
        for line in why.lines() {
            println!("    {line}");
        }
    }
}

/// `ID`, or `ID (revision N)` after the first revision (the lists and `show`).
pub(crate) fn with_revision(id: &str, revision: u64) -> String {
    if revision > 1 {
        format!("{id} (revision {revision})")
    } else {
        id.to_string()
    }
}

/// The policy's reasons in full where the researcher was told fewer words (the study read
/// a source this station does not publish: see `tessera_station::policy::Audience`).
fn print_steward_reasons(a: &Approvals, id: &str, file: &str) -> Result<(), Fail> {
    let full = a
        .log()
        .steward_reasons(id)
        .map_err(|e| fail(e.into(), file))?;
    if let Some(full) = full {
        println!(
            "  in full (the reasons above are the researcher's: they name nothing unpublished):"
        );
        for r in full {
            println!("    {r}");
        }
    }
    Ok(())
}

/// Parses `COUNT:HASH`.
fn parse_anchor(a: &str) -> Result<(u64, String), Fail> {
    let bad = || {
        Fail::new(
            2,
            format!(
                "--anchor {a:?}: expected COUNT:HASH (as `tessera station audit verify` prints)"
            ),
        )
    };
    let (n, h) = a.split_once(':').ok_or_else(bad)?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    let h = h.trim().to_ascii_lowercase();
    if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok((n, h))
}

fn verify(config: &Config, file: &str, anchor: Option<&str>, peers: bool) -> Result<u8, Fail> {
    let anchor = anchor.map(parse_anchor).transpose()?;
    if !config.audit.exists() {
        println!("audit log {file}: TAMPERED or never created: the file does not exist");
        return Ok(4);
    }
    let approvals = match Approvals::open(&config.audit) {
        Ok(a) => a,
        Err(StationError::Audit(AuditError::Tampered { problems, .. })) => {
            return Ok(report_problems(
                file,
                problems.iter().map(|p| p.to_string()),
            ));
        }
        Err(e) => return Err(fail(e, file)),
    };
    let log = approvals.log();
    let mut problems: Vec<String> = Vec::new();
    let report = match log.verify() {
        Ok(r) => Some(r),
        Err(AuditError::Tampered { problems: p, .. }) => {
            problems.extend(p.iter().map(|p| p.to_string()));
            None
        }
        Err(e) => return Err(fail(e.into(), file)),
    };
    // The anchor is checked even when the log fails otherwise (it may be the only sign of
    // a rewritten tail); an unreadable log counts as not containing it.
    if let Some((count, head)) = &anchor {
        let found = if *count == 0 {
            Some(GENESIS.to_string())
        } else {
            log.entries()
                .ok()
                .and_then(|es| es.into_iter().find(|e| e.seq == *count))
                .map(|e| e.hash)
        };
        if found.as_deref() != Some(head.as_str()) {
            problems.push(format!(
                "the anchor does not match: the log has no entry {count} with hash {head} \
                 (entries were deleted or rewritten)"
            ));
        }
    }
    // The studies' states are not hash-chained: compare them with what the log says.
    match approvals.check_against_log() {
        Ok(d) => problems.extend(d),
        // An unreadable entry is already reported by verify.
        Err(_) if !problems.is_empty() => {}
        Err(e) => return Err(fail(e, file)),
    }
    // The heads the peers kept catch a log rewritten consistently (checked even when the
    // log fails otherwise: they name the first entry that differs).
    let anchored = if peers && !config.trusted.is_empty() {
        let hashes = log.hashes().map_err(|e| fail(e.into(), file))?;
        let (cert, records) =
            match Identity::load_files(&config.identity.key, &config.identity.certificate) {
                Ok(identity) => (
                    identity.cert_der.clone(),
                    tessera_station::anchoring::collect(
                        config,
                        &identity,
                        std::time::Duration::from_secs(10),
                    ),
                ),
                // Without its key the station cannot ask; the log is still checked.
                Err(e) => (
                    Vec::new(),
                    config
                        .trusted
                        .iter()
                        .map(|t| tessera_station::anchor::PeerRecord {
                            peer: t.name.clone(),
                            heads: Err(format!("this station's identity: {e}")),
                        })
                        .collect(),
                ),
            };
        let r = tessera_station::anchor::check(&hashes, &cert, &records);
        problems.extend(r.problems.iter().cloned());
        Some(r)
    } else {
        None
    };
    match report {
        Some(r) if problems.is_empty() => {
            println!("audit log {file}: intact");
            println!("  entries checked  {}", r.entries);
            println!("  head             {}", r.head);
            print_anchors(anchored.as_ref());
            println!(
                "keep this anchor outside the file, and check it later with \
                 --anchor {}:{}",
                r.entries, r.head
            );
            Ok(0)
        }
        _ => {
            let code = report_problems(file, problems.into_iter());
            print_anchors(anchored.as_ref());
            Ok(code)
        }
    }
}

/// What each trusted station kept of this log's heads (or why it could not be asked).
fn print_anchors(anchored: Option<&tessera_station::anchor::AnchorReport>) {
    let Some(r) = anchored else {
        println!("  not checked against the heads kept by other stations");
        return;
    };
    for (peer, kept) in &r.peers {
        match kept {
            Ok(k) if k.heads == 0 => println!("  {peer}: keeps no head of this log yet"),
            Ok(k) => println!(
                "  {peer}: keeps {} heads of this log, up to entry {}",
                k.heads, k.up_to
            ),
            Err(why) => println!("  {peer}: NOT CHECKED, cannot be asked: {why}"),
        }
    }
}

fn report_problems(file: &str, problems: impl Iterator<Item = String>) -> u8 {
    println!("audit log {file}: TAMPERED");
    for p in problems {
        println!("  - {p}");
    }
    4
}

fn show(config: &Config, file: &str, study: &Option<String>) -> Result<u8, Fail> {
    let entries: Vec<Entry> = match open_existing(config, file)? {
        None => Vec::new(),
        Some(a) => match study {
            Some(id) => a.log().entries_for(id),
            None => a.log().entries(),
        }
        .map_err(|e| fail(e.into(), file))?,
    };
    if entries.is_empty() {
        println!("no entries");
    }
    for e in &entries {
        println!(
            "{:>5}  {}  {:<14}  {:<20}  {:<12}  {}",
            e.seq,
            e.time,
            e.kind.as_str(),
            e.study.as_deref().unwrap_or("-"),
            e.actor,
            e.details
        );
    }
    Ok(0)
}
