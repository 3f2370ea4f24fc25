//! The analyses of tessera, run by the three compute parties on the secret-shared linked
//! table, each beside its plaintext twin (the oracle of its tests).
//!
//! - [`table`]: the shared table the analyses read ([`Frame`]: numeric and categorical
//!   columns with missing-value indicators) and its plaintext twin ([`PlainFrame`]).
//! - [`disclosure`]: disclosure control applied inside MPC before anything is sealed.
//! - [`dist`]: p-values and quantiles of the reference distributions (plaintext, applied to
//!   reconstructed statistics only, at the recipient).
//! - [`survival`]: Kaplan–Meier, log-rank test, Cox proportional hazards.
//! - [`regression`]: linear (OLS, ridge) and logistic regression.
//! - [`describe`]: descriptive statistics, contingency tables, correlation.
//! - [`sealed`]: how an analysis ends: its result still shared ([`Sealed`]), and the
//!   recipient's plaintext tail ([`Tail`]).
//! - [`cost`]: what an analysis will cost the compute stations (bytes, rounds, memory,
//!   seconds), estimated from its public parameters for the steward before approval.
//! - [`followup`]: follow-up time and event derived inside MPC from two dates held by
//!   different parties (`[followup.NAME]`), with its plaintext twin.
//! - [`terms`]: model terms of the regressions and Cox (`a.x*b.y`, `a.x:b.y`,
//!   `num(a.stage)`): parsing, expansion, names, and the design columns in MPC and f64.
//! - [`analysis`]: the study's analyses ([`AnalysisSpec`]), [`analysis::run`] (every compute
//!   party) and [`analysis::open`] (the recipient).
//!
//! Conventions: numeric values are fixed point in Z_2^128 with the party's `frac_bits`
//! fractional bits; indicators (present, one-hot levels, events) are the integers 0 and 1
//! in Z_2^128 (not scaled), so multiplying by them needs no truncation.
//!
//! Who learns what: every analysis runs in two parts. The MPC part, run by the three
//! compute parties, opens only its documented leakage (sizes and counts it needs as public
//! constants, disclosure pass/fail bits, suppression patterns, convergence bits; each marked
//! `LEAKAGE` or `Opened` where it is opened) and ends with the result values *sealed*: each
//! compute party holds output shares it cannot open ([`tessera_mpc::OutputShares`]). The
//! recipient reconstructs them from all three parties and runs the plaintext tail (decoding,
//! p-values, intervals, ratios) itself: compute parties never see results.

pub mod analysis;
pub mod cost;
pub mod describe;
pub mod disclosure;
pub mod dist;
pub mod error;
pub mod followup;
mod newton;
pub mod predict;
pub mod ranges;
pub mod regression;
pub mod relsurv;
pub mod sealed;
pub mod survival;
pub mod table;
pub mod terms;

pub use analysis::{AnalysisSpec, Output, SharedOutput};
pub use disclosure::Disclosure;
pub use error::{Result, StatsError};
pub use sealed::{open3, Sealed, Tail};
pub use table::{
    CategoricalRef, Column, ColumnData, Frame, PlainColumn, PlainData, PlainFrame, Schema,
};
