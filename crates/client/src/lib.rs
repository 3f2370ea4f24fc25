//! The researcher's side of tessera, shared by the `tessera study …` commands and the Python
//! package (`python/`): the profile naming the stations and the researcher's identity
//! ([`profile`]), pinned connections to a station ([`connect`]), submitting a study and
//! asking how it stands ([`studies`]), checking it against the stations' catalogues before
//! submitting ([`check`]), and fetching and reconstructing its results ([`results`]).
//!
//! Functions return the stations' answers as values; printing them (or raising them as
//! exceptions) is the caller's, so that every client shows the same answers.

pub mod check;
pub mod connect;
pub mod profile;
pub mod results;
pub mod studies;

pub use connect::StationAddr;
pub use profile::Profile;
