//! The `tessera` command-line tool.

mod alloc;
mod bench;
mod check;
mod decision;
mod demo;
mod init;
mod run;
mod skeleton;
mod station;
mod studies;
mod study;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// tessera: statistics on data that several organisations hold, computed with secure
/// multi-party computation so that nobody sees anybody else's records.
#[derive(Parser)]
#[command(name = "tessera", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Three stations as separate processes over TLS on loopback run a study on shipped
    /// synthetic data; the results are printed beside plaintext and written to report.html.
    Demo(demo::DemoArgs),
    /// Create this station's (or a researcher's) identity: a private key and a certificate,
    /// whose fingerprint the other stations list to trust it; `--show DIR` prints it again.
    Init(init::InitArgs),
    /// Run a study (study.toml) with the three compute parties on this machine and print
    /// its results.
    Run(run::RunArgs),
    /// The steward's commands at this station: receive a study, list the pending ones,
    /// approve or refuse, list and show studies and their states, check the data sources,
    /// verify and show the audit log.
    Station(station::StationArgs),
    /// The researcher's commands against a station's API: submit a study, show its state,
    /// fetch its results; open results from the stations' shares files.
    Study(study::StudyArgs),
    /// Measure the system (seconds, bytes, rounds).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// One party of a benchmark (started by `tessera bench`, not by hand).
    #[command(hide = true)]
    BenchParty(bench::party::PartyArgs),
    /// One party of the linkage benchmark (started by `tessera bench link`, not by hand).
    #[command(hide = true)]
    BenchLinkParty(bench::link::LinkPartyArgs),
    /// One party of the survival benchmark (started by `tessera bench survival`).
    #[command(hide = true)]
    BenchSurvivalParty(bench::survival::SurvivalPartyArgs),
    /// One party of the regression benchmark (started by `tessera bench regression`).
    #[command(hide = true)]
    BenchRegressionParty(bench::regression::RegressionPartyArgs),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The MPC engine: every operation on vectors, three processes over loopback TCP.
    Engine(bench::engine::EngineArgs),
    /// Secure record linkage: two tables of --rows rows, half overlapping, three processes
    /// over loopback TCP.
    Link(bench::link::LinkArgs),
    /// Survival analyses (log-rank, Cox, stratified Cox, cumulative incidence, restricted mean
    /// survival time) on synthetic linked data, three processes over loopback TCP, with the
    /// ratio to plaintext and (log-rank, Cox) to lifelines.
    Survival(bench::survival::SurvivalArgs),
    /// Regressions: logistic to convergence on 10k and 100k rows × 10 covariates, least
    /// squares on 1M rows × 20, three processes over loopback TCP.
    Regression(bench::regression::RegressionArgs),
    /// Prediction models: the penalised logistic and Cox models (lasso path of 20 λ on
    /// 100,000 × 20, cross-validation by deviance or C-index), with R glmnet's time.
    Models(bench::models::ModelsArgs),
    /// The station service under load: three `tessera station serve` processes (the demo's
    /// stations); the demo study's time unloaded and under slow connections, spam and junk,
    /// request latencies, memory, descriptors, and idle CPU with many finished studies.
    Service(bench::service::ServiceArgs),
}

fn main() -> ExitCode {
    alloc::tune();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => return run::main(&args),
        Command::Station(args) => return station::main(&args),
        Command::Study(args) => return study::main(&args),
        Command::Init(args) => init::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Bench(BenchCommand::Engine(args)) => bench::engine::run(&args),
        Command::BenchParty(args) => bench::party::run(&args),
        Command::Bench(BenchCommand::Link(args)) => bench::link::run(&args),
        Command::BenchLinkParty(args) => bench::link::run_party(&args),
        Command::Bench(BenchCommand::Survival(args)) => bench::survival::run(&args),
        Command::BenchSurvivalParty(args) => bench::survival::run_party(&args),
        Command::Bench(BenchCommand::Regression(args)) => bench::regression::run(&args),
        Command::Bench(BenchCommand::Models(args)) => bench::models::run(&args),
        Command::BenchRegressionParty(args) => bench::regression::run_party(&args),
        Command::Bench(BenchCommand::Service(args)) => bench::service::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: {e}");
            ExitCode::FAILURE
        }
    }
}
