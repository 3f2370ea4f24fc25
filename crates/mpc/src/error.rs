//! Errors of the MPC engine.

use tessera_net::NetError;

/// Why a protocol could not finish. Every party of a failed protocol gets one of these;
/// nothing is revealed after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MpcError {
    /// Communication failed (timeout, lost peer, abort, bad frame).
    #[error(transparent)]
    Net(#[from] NetError),
    /// A peer's message had the wrong size or content for the protocol step.
    #[error("malformed message from party {peer}: {detail}")]
    Malformed { peer: usize, detail: String },
    /// The caller asked for something the engine cannot do (wrong lengths, bad parameters).
    #[error("invalid use of the engine: {0}")]
    Invalid(String),
}

/// Result type of engine operations.
pub type Result<T> = std::result::Result<T, MpcError>;
