//! tessera's MPC engine: three-party replicated secret sharing (semi-honest, honest
//! majority) over Z_2^64 and Z_2^128 (arithmetic) and Z_2 (boolean, bit-sliced), with fixed
//! point, comparisons and the numeric functions statistics need.
//!
//! This crate does no I/O of its own: it talks through a [`tessera_net::Endpoint`], so the
//! same protocol code runs with three threads in one process or three machines.

pub mod arith;
pub mod boolean;
pub mod carry;
pub mod compare;
pub mod convert;
pub mod cost;
pub mod dealer;
pub mod error;
pub mod fixed;
mod fork;
pub mod linalg;
pub mod nonlinear;
pub mod output;
pub mod party;
pub mod poly;
pub mod prg;
pub mod ring;
pub mod share;
pub mod shuffle;
pub mod sort;
pub mod testing;

pub use boolean::BShare;
pub use error::{MpcError, Result};
pub use fork::{JobFailure, SideFailure};
pub use output::{reconstruct, Delivery, OutputError, OutputShares};
pub use party::Party;
pub use ring::Ring;
pub use share::AShare;
pub use shuffle::Table;
