//! What the analysis tests share: opening the three compute parties' ends of an analysis as
//! a recipient would.
#![allow(dead_code)]

use tessera_mpc::output::reconstruct_shares;
use tessera_stats::analysis::{self, AnalysisSpec, Output, SharedOutput};
use tessera_stats::{Result, Sealed, StatsError, Tail};

/// The three compute parties' ends of one analysis, opened into the recipient's result.
pub trait Open3: Sized + Send {
    /// What the recipient reads.
    type Out: PartialEq + std::fmt::Debug;
    /// Reconstructs and runs the tail; the parties' public facts must agree.
    fn open3(parts: [Self; 3]) -> Result<Self::Out>;
}

impl<P: Tail + Send> Open3 for Sealed<P>
where
    P::Result: PartialEq + std::fmt::Debug,
{
    type Out = P::Result;
    fn open3(parts: [Self; 3]) -> Result<P::Result> {
        tessera_stats::open3(parts)
    }
}

/// An end of [`analysis::run`] with the spec it ran, opened by [`analysis::open`].
#[derive(Debug)]
pub struct Ran(pub AnalysisSpec, pub SharedOutput);

/// Pairs `analysis::run`'s end with its spec.
pub fn ran(spec: &AnalysisSpec, r: Result<SharedOutput>) -> Result<Ran> {
    Ok(Ran(spec.clone(), r?))
}

impl Open3 for Ran {
    type Out = Output;
    fn open3(parts: [Self; 3]) -> Result<Output> {
        let [a, b, c] = parts;
        if a.1.public != b.1.public || b.1.public != c.1.public || a.1.kind != c.1.kind {
            return Err(StatsError::Invalid(
                "the parties' public facts differ".into(),
            ));
        }
        let values = reconstruct_shares([&a.1.shares, &b.1.shares, &c.1.shares])
            .map_err(|e| StatsError::Invalid(e.to_string()))?;
        analysis::open(&a.0, &a.1.public, &values)
    }
}
