//! Benchmarks: an orchestrator that starts three party processes over loopback TCP and
//! aggregates what they measured.

pub mod engine;
pub mod link;
pub mod models;
pub mod ops;
pub mod party;
pub mod procs;
pub mod regression;
pub mod relsurv_data;
pub mod service;
pub mod survival;
