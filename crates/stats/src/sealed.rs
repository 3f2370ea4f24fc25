//! An analysis' result as the compute parties end with it: still secret-shared.
//!
//! Every analysis runs in two parts. The MPC part, which all three compute parties run on
//! their shares, ends with a [`Sealed`] result: the facts every compute party already knows
//! (the analysis' specification and its documented leakage: counts, suppression pattern,
//! convergence bits), and the party's [`OutputShares`] of the values only the recipients may
//! see. The plaintext tail ([`Tail::open`]) runs at the recipient, once the three parties'
//! shares are reconstructed: decoding fixed point, p-values, intervals, hazard and odds
//! ratios, the tables a person reads. The compute parties never run it.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tessera_mpc::{AShare, OutputShares, Party};

use crate::error::{Result, StatsError};

/// The recipient's side of an analysis: from the public facts (`self`) and the
/// reconstructed values to the result (the plaintext tail).
pub trait Tail: Serialize + DeserializeOwned + PartialEq + Clone {
    /// The result a person reads (lifelines- / statsmodels-shaped tables).
    type Result: Serialize + std::fmt::Display;

    /// The result from the reconstructed `values` (in the order the MPC part sealed them).
    fn open(&self, values: &[u128]) -> Result<Self::Result>;
}

/// One compute party's end of an analysis: the public facts and its part of the values.
#[derive(Clone, Debug)]
pub struct Sealed<P> {
    /// What every compute party knows and the tail needs.
    pub public: P,
    /// This party's shares of the values for the recipients.
    pub shares: OutputShares,
}

impl<P: Tail> Sealed<P> {
    /// Seals `values` (re-randomised, see [`Party::seal`]) with the public facts.
    pub fn new(p: &mut Party, public: P, values: &AShare<u128>) -> Result<Sealed<P>> {
        Ok(Sealed {
            public,
            shares: p.seal(values)?,
        })
    }

    /// The public facts as JSON, for storage and delivery.
    pub fn public_json(&self) -> Result<serde_json::Value> {
        serde_json::to_value(&self.public)
            .map_err(|e| StatsError::Invalid(format!("public facts not serialisable: {e}")))
    }
}

/// Opens three parties' sealed results of one analysis where they are all at hand (tests,
/// benchmarks): the public facts must agree, every share must match its replica.
pub fn open3<P: Tail>(parts: [Sealed<P>; 3]) -> Result<P::Result> {
    let [a, b, c] = parts;
    if a.public != b.public || b.public != c.public {
        return Err(StatsError::Invalid(
            "the compute parties' public facts differ".into(),
        ));
    }
    let values = tessera_mpc::output::reconstruct_shares([&a.shares, &b.shares, &c.shares])
        .map_err(|e| StatsError::Invalid(e.to_string()))?;
    a.public.open(&values)
}
