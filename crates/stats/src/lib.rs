//! The analyses of tessera, run by the three compute parties on the secret-shared linked
//! table, each beside its plaintext twin (the oracle of its tests).
//!
//! - [`table`]: the shared table the analyses read ([`Frame`]: numeric and categorical
//!   columns with missing-value indicators) and its plaintext twin ([`PlainFrame`]).
//! - [`disclosure`]: disclosure control applied inside MPC before anything is opened.
//! - [`dist`]: p-values and quantiles of the reference distributions (plaintext, applied to
//!   opened statistics only).
//! - [`survival`]: Kaplan–Meier, log-rank test, Cox proportional hazards.
//! - [`regression`]: linear (OLS, ridge) and logistic regression.
//! - [`describe`]: descriptive statistics, contingency tables, correlation.
//!
//! Conventions: numeric values are fixed point in Z_2^128 with the party's `frac_bits`
//! fractional bits; indicators (present, one-hot levels, events) are the integers 0 and 1
//! in Z_2^128 (not scaled), so multiplying by them needs no truncation. Every analysis opens
//! only the values its result type holds, to every compute party; the caller decides who
//! receives the result.

pub mod analysis;
pub mod describe;
pub mod disclosure;
pub mod dist;
pub mod error;
pub mod regression;
pub mod sealed;
pub mod survival;
pub mod table;

pub use analysis::{AnalysisSpec, Output};
pub use disclosure::Disclosure;
pub use error::{Result, StatsError};
pub use sealed::{open3, Sealed, Tail};
pub use table::{
    CategoricalRef, Column, ColumnData, Frame, PlainColumn, PlainData, PlainFrame, Schema,
};
