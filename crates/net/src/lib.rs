//! Channels between tessera's three compute parties.
//!
//! The MPC engine talks to its peers only through an [`Endpoint`]: ordered, reliable,
//! message-oriented links to the two other parties, with a receive timeout, byte and round
//! counters, and an abort signal that ends a computation on every party. How the links are
//! carried is decided by whoever builds the endpoint:
//!
//! - [`memory`]: three parties as threads in one process (tests, demos);
//! - [`tcp`]: three OS processes or machines over TCP;
//! - [`tls`]: the same over mutually authenticated TLS 1.3, each party pinned to the
//!   certificate fingerprint listed for it ([`identity`] makes and loads station identities).
//!
//! Every link implementation feeds the same two queues (see [`Link`]), so the protocol code
//! and the counters are identical whatever carries the bytes. An endpoint can split into
//! sub-endpoints that run independent sub-sessions over the same links at the same time
//! ([`Endpoint::split`], [`Endpoint::join`]; the frames carry a channel id, the sub-session's
//! place in the fork tree ([`ChannelId`]), and `mux` sorts them on arrival).
//!
//! [`https`] holds the TLS configurations of the stations' HTTPS API (the same trust model:
//! pinned self-signed certificates, TLS 1.3, `ring`); its sockets are the station crate's.

pub mod channel;
mod endpoint;
mod error;
mod frame;
pub mod https;
pub mod identity;
pub mod memory;
mod mux;
pub mod ports;
mod record;
pub mod shaper;
mod split;
mod stream;
pub mod tcp;
#[cfg(test)]
mod testkit;
pub mod tls;

pub use channel::ChannelId;
pub use endpoint::{Endpoint, Link, Stats};
pub use error::NetError;
pub use frame::Frame;

/// Number of compute parties in every tessera computation.
pub const PARTIES: usize = 3;

/// Receive timeout used when the caller does not choose one.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
