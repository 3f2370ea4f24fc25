//! Errors of the study crate, sorted by who must act: the author of the study file, the
//! owner of the data, or whoever runs the computation.

use thiserror::Error;

/// Why a study could not be read or run. The messages name the file, line and field (study
/// file) or the file, line and column (data), never a data value.
#[derive(Debug, Error)]
pub enum StudyError {
    /// The study file is invalid: `study.toml:LINE:COL: what is wrong`.
    #[error("{0}")]
    Invalid(String),
    /// A dataset named by the study is unreadable or does not fit its declaration
    /// (`registry.csv:57: column "age": not a number`), or the linkage refused it
    /// (duplicate keys under `duplicates = "refuse"`).
    #[error("{0}")]
    Data(String),
    /// The computation failed while running for a reason of this party's own (the engine,
    /// the linkage, an analysis); a peer that went silent, away or stopped is a
    /// [`StudyError::Network`]. Names compute stations, never compute slots.
    #[error("{0}")]
    Run(String),
    /// The results could not be reconstructed at the recipient: a compute station's parts
    /// are missing, unreadable, or do not match what the other stations recorded.
    #[error("{0}")]
    Delivery(String),
    /// The network between the compute parties failed (connecting, or a party that went
    /// silent or away, stopped the computation or sent a malformed message). `public` names
    /// the other party and the kind of failure only (`the computation could not connect to
    /// institute (timed out)`, `gp stopped the computation`): what researchers and other
    /// stations are told. `detail` keeps the transport's words (addresses, certificate
    /// names, dropped connections) for this station's own log; it is what is displayed.
    /// Both name compute stations, never compute slots ([`crate::names`]).
    #[error("{detail}")]
    Network {
        /// For everyone: the party and the kind of failure.
        public: String,
        /// For this station's steward.
        detail: String,
    },
}

impl StudyError {
    /// The exit code the command line uses: 2 for an invalid study or data, 1 for a
    /// failure while running.
    pub fn exit_code(&self) -> u8 {
        match self {
            StudyError::Invalid(_) | StudyError::Data(_) => 2,
            StudyError::Run(_) | StudyError::Delivery(_) | StudyError::Network { .. } => 1,
        }
    }
}

/// Result of the study crate.
pub type Result<T> = std::result::Result<T, StudyError>;
