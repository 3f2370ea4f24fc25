//! Errors of the station crate.

use thiserror::Error;

use crate::audit::Problem;

/// What went wrong with the audit log.
#[derive(Debug, Error)]
pub enum AuditError {
    /// The SQLite file could not be opened, read or written.
    #[error("audit log {path}: {detail}")]
    Db {
        /// The file.
        path: String,
        /// SQLite's message.
        detail: String,
    },
    /// The log does not verify: every problem found, in order of the entries.
    #[error("audit log {path} has been tampered with: {}", list(.problems))]
    Tampered {
        /// The file.
        path: String,
        /// What is wrong, entry by entry.
        problems: Vec<Problem>,
    },
    /// An argument cannot be recorded (e.g. details that are not a JSON object).
    #[error("audit log: {0}")]
    Invalid(String),
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// What went wrong with the station's configuration or its studies.
#[derive(Debug, Error)]
pub enum StationError {
    /// `station.toml` is invalid: `station.toml:LINE:COL: what is wrong`.
    #[error("{0}")]
    Config(String),
    /// The study file is invalid at this station (`study.toml:LINE:COL: what is wrong`):
    /// nothing was recorded.
    #[error(transparent)]
    Study(#[from] tessera_study::StudyError),
    /// The audit log failed (see [`AuditError`]).
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// No study with this id was received.
    #[error("no study {0:?} at this station")]
    UnknownStudy(String),
    /// A study with this id was already received: `held` says how it stands here (the state
    /// and reason its submitter is shown, e.g. `refused: min_rows: …`), when the caller may
    /// know it.
    #[error("{}", already_received(id, held.as_deref()))]
    AlreadyReceived {
        /// The study's id.
        id: String,
        /// How it stands here, or `None` when not told.
        held: Option<String>,
    },
    /// The action is not possible in the study's state.
    #[error("study {id:?} is {state}: cannot {action} it")]
    Transition {
        /// The study.
        id: String,
        /// Its current state.
        state: String,
        /// What was asked.
        action: String,
    },
    /// A bad argument (e.g. a refusal without a reason).
    #[error("{0}")]
    Invalid(String),
}

/// Result of the station crate.
pub type Result<T> = std::result::Result<T, StationError>;

/// "Study … was already received" with how it stands and what its submitter can do next.
fn already_received(id: &str, held: Option<&str>) -> String {
    let Some(held) = held else {
        return format!("study {id:?} was already received here; choose another [study] id");
    };
    let state = held.split(':').next().unwrap_or(held);
    let next = match state {
        "running" => format!("it is running: `tessera study results {id} --wait` waits for its results"),
        "finished" => format!(
            "`tessera study results {id}` fetches its results; choose another [study] id for a new study"
        ),
        "refused" | "stopped" | "aborted" => format!(
            "submit it again to revise it, or unchanged with `tessera study rerun {id}`"
        ),
        _ => format!(
            "`tessera study status {id}` follows it; a changed text submitted again becomes its next revision"
        ),
    };
    format!("study {id:?} was already received here ({held}); {next}")
}
