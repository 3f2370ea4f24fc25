//! Errors of the analyses.

use thiserror::Error;

/// Why an analysis did not produce a result.
#[derive(Debug, Error)]
pub enum StatsError {
    /// The MPC engine or the network failed (the other parties see an error too).
    #[error(transparent)]
    Mpc(#[from] tessera_mpc::MpcError),
    /// The analysis is not well defined for its arguments (unknown column, wrong kind of
    /// column, bad parameter). Raised before anything is computed or opened.
    #[error("{0}")]
    Invalid(String),
    /// A disclosure-control rule refused the analysis; nothing was opened beyond the bit
    /// that says so.
    #[error("refused by the disclosure rule `{rule}`: {detail}")]
    Refused {
        /// The rule's name as written in the study file (e.g. `min_rows`).
        rule: String,
        /// What the rule saw, in terms that reveal nothing beyond the refusal.
        detail: String,
    },
    /// An iterative fit did not converge within its step limit.
    #[error("{0}")]
    NotConverged(String),
}

/// Result of an analysis.
pub type Result<T> = std::result::Result<T, StatsError>;

impl tessera_mpc::SideFailure for StatsError {
    fn is_peers(&self) -> bool {
        matches!(self, StatsError::Mpc(e) if e.is_peers())
    }
}
