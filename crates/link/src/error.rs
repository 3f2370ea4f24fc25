//! Errors of record linkage.

use tessera_mpc::MpcError;

/// Why linkage could not proceed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The MPC engine or the network failed (nothing was revealed).
    #[error(transparent)]
    Mpc(#[from] MpcError),
    /// Duplicate keys under [`crate::keys::Duplicates::Refuse`]: `keys` distinct keys occur
    /// more than once, in `rows` rows altogether. Reported to the owning party only.
    #[error("{keys} keys occur more than once ({rows} rows); declare keep-first or keep-last, or fix the data")]
    Duplicates { keys: usize, rows: usize },
    /// Malformed input: shapes, parameters, or a data party's message.
    #[error("invalid linkage input: {0}")]
    Invalid(String),
}

/// Result type of linkage.
pub type Result<T> = std::result::Result<T, LinkError>;
