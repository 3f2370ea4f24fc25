//! Relative (net) survival against a population life table.

pub mod ederer;
pub mod path;
