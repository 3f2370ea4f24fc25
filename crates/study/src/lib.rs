//! The study file (`study.toml`) and the local study runner.
//!
//! - [`validate`]: reads a study file into a [`Study`], with errors that name the file,
//!   line, column and field.
//! - [`limits`]: caps on a study's size (analyses, grid times, quantiles, levels, model
//!   terms, histogram edges), checked at validation and lowered by a station's policy.
//! - [`overlap`]: rules across analyses, so that no two show counts of one column whose
//!   difference is a suppressed cell (one histogram layout and one Kaplan–Meier grid per
//!   column).
//! - [`estimate`]: what a study will cost the compute stations (seconds, bytes, rounds,
//!   memory) at a few sizes, shown to the steward before approval.
//! - [`format`]: the validated study (parties, datasets, linkage, disclosure, recipients,
//!   analyses).
//! - [`lifetable`]: the study's pinned life tables and the relative survival paths the
//!   owner of age, diagnosis date and sex writes before sharing.
//! - [`data`]: reads a data party's CSV file as declared (types, missing values, ranges),
//!   locally at the owner; errors name the file, line and column, never a value.
//! - [`run`]: runs a whole study with the three compute parties on this machine (threads,
//!   in memory or over loopback TCP): sharing, linkage, the linked table, the analyses.
//! - [`deliver`]: what each compute station holds for the recipients (its shares), and the
//!   recipient's side that checks, reconstructs and runs the analyses' plaintext tails.
//! - [`render`]: the results as text tables or one JSON document.
//! - [`report`]: the results as one self-contained HTML page (tables, survival curves,
//!   forest plots, a table 1), for a recipient to open or print.
//! - [`counts`]: which linkage counts reach the recipients of a run across stations.
//! - [`names`]: the engine's errors naming compute stations, never compute slots.
//!
//! The file format is documented in `docs/study.md`.

pub mod counts;
pub mod data;
pub mod deliver;
pub mod distributed;
pub mod error;
pub mod estimate;
pub mod format;
pub mod lifetable;
pub mod limits;
pub mod locate;
pub mod names;
pub mod overlap;
pub mod render;
pub mod report;
pub mod run;

pub mod validate;

pub use error::{Result, StudyError};
pub use format::Study;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_concurrent;

pub use run::{run_local, Progress, RunOptions, StudyOutput, Transport};
pub use validate::{load, load_at};
