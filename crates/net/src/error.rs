//! Errors a link can report; each names the peer it concerns.

use std::time::Duration;

/// A failure of communication with one peer. Every variant ends the computation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// No message arrived from `peer` within the receive timeout.
    #[error("party {peer} sent nothing for {timeout:?} (receive timeout)")]
    Timeout { peer: usize, timeout: Duration },
    /// The connection to `peer` closed or failed.
    #[error("connection to party {peer} lost: {detail}")]
    Closed { peer: usize, detail: String },
    /// `peer` stopped the computation and said why.
    #[error("party {peer} aborted the computation: {reason}")]
    Aborted { peer: usize, reason: String },
    /// `peer` sent bytes that are not a valid message.
    #[error("malformed message from party {peer}: {detail}")]
    Malformed { peer: usize, detail: String },
    /// The connection could not be set up.
    #[error("could not connect to party {peer}: {detail}")]
    Connect { peer: usize, detail: String },
    /// A caller asked for a link that does not exist (e.g. to itself).
    #[error("party {me} has no link to party {peer}")]
    NoLink { me: usize, peer: usize },
    /// A sub-session was split deeper than the fork tree allows
    /// ([`crate::channel::MAX_DEPTH`] nested splits): a limit of the code, not of the data.
    #[error("party {me} cannot split sub-session {channel}: sub-sessions nest at most {max} deep", max = crate::channel::MAX_DEPTH)]
    TooDeep { me: usize, channel: String },
    /// A TLS configuration could not be built (e.g. an identity whose key is unusable);
    /// used by [`crate::https`], which concerns no party.
    #[error("TLS configuration failed: {detail}")]
    Tls { detail: String },
}
