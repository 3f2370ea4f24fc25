//! The station: what one organisation runs to take part in studies.
//!
//! This crate holds the station's local, non-cryptographic machinery:
//!
//! - [`config`]: `station.toml` — the station's identity, where it listens, its audit
//!   log, the stations it trusts, its data sources and its policy. Errors name the file,
//!   line, column and field.
//! - [`policy`]: the steward's policy and [`policy::evaluate`], which decides for a study
//!   whether a rule approves it, the policy refuses it (with every reason, each naming the
//!   rule), or a person must decide; and [`policy::effective_disclosure`], the stricter of
//!   the study's and the policy's disclosure rules.
//! - [`catalogue`]: what the station publishes to its researchers and peers
//!   (`GET /catalogue`: published sources, their columns and levels, the policy's rules),
//!   and [`catalogue::Catalogue::check`], the policy's own evaluation of a study against it.
//! - [`audit`]: an append-only, hash-chained audit log in SQLite, with
//!   [`audit::AuditLog::verify`] to detect altered, deleted, reordered or truncated entries.
//! - [`anchor`]: the log's head signed with the station's key and kept by its peers, which
//!   catches a log rewritten consistently; [`anchor::check`] compares the two.
//! - [`anchoring`]: asking the peers for their heads (the service, periodically) and for
//!   what they kept of this station's (`audit verify`).
//! - [`datacheck`]: every configured source read as declared (`tessera station check`):
//!   rows, missing values and numeric ranges per column for the steward, every bad column
//!   named with its place.
//! - [`private`]: files only the station may read (audit database, steward token): created
//!   0600, refused at start when others can read them.
//! - [`approval`]: the state of each study at this station (received, pending, approved,
//!   refused), persisted in the audit log's SQLite file; every transition is audited.
//! - [`receive`](mod@receive): validate a study at this station, let the policy decide, record both —
//!   the one function behind `tessera station receive` and the service's submit endpoints.
//! - [`runs`]: what follows an approval — run states, results held per recipient, tokens.
//! - [`coordinate`]: the service's loop that runs approved studies with the other stations.
//! - [`events`]: the service's log of what happens (one line per audit entry) and the
//!   steward's `notify` command for what needs a person.
//! - [`api`]: the HTTPS API of `tessera station serve` (axum, JSON): submit and list studies,
//!   approve or refuse and read the audit log with the steward's bearer token, results for
//!   recipients, the `/peer` routes the stations use.
//! - [`tls_listener`] and [`client`]: HTTPS for the API's server and its clients (the TLS
//!   configurations themselves are in [`tessera_net::https`]).
//!
//! There is no cryptographic protocol code here (SHA-256 for the audit chain and tokens is
//! the only hashing), and nothing here touches shares: the MPC crates stay free of I/O, this
//! one free of protocols (the computation is [`tessera_study::distributed`]'s). The steward's
//! commands (`tessera station receive | pending | approve | refuse | status | list | show |
//! check | token | audit | serve`) are in the CLI; see `docs/station.md`.

pub mod anchor;
pub mod anchoring;
pub mod api;
pub mod approval;
pub mod audit;
pub mod catalogue;
pub mod client;
pub mod config;
pub mod coordinate;
pub mod datacheck;
pub mod error;
pub mod events;
pub mod policy;
pub mod private;
pub mod receive;
pub mod recipient;
pub mod runs;
mod time;
pub mod tls_listener;

pub use approval::{Approvals, StudyRecord, StudyState};
pub use audit::{AuditLog, Entry, EntryKind, Problem, VerifyReport};
pub use config::Config;
pub use error::{AuditError, StationError};
pub use policy::{effective_disclosure, evaluate, Decision, Policy};
pub use receive::{receive, receive_text, Received};
