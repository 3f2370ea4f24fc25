//! Independent computations side by side: a party forked into sub-parties that run at the
//! same time over the same links ([`tessera_net::Endpoint::split`]).
//!
//! Each sub-party has its own sub-endpoint and its own PRF streams, drawn from the parent's
//! streams in sub-party order: the two parties that share a stream draw the same child
//! seeds from it, so sub-party `j` of every party holds the same correlated randomness as
//! if it had been set up on its own, and none of it is reused by the parent or another
//! sub-party. Shares made by a sub-party are shares of the parent too (same parties, same
//! indexing), so results flow back after [`Party::join`].
//!
//! Every party must fork the same number of sub-parties at the same point, and run the same
//! computation on sub-party `j`. Memory: each sub-party's computation holds its own
//! intermediate shares, so running `k` at once needs up to `k` times the memory of one.

use crate::error::Result;
use crate::party::Party;
use crate::prg::Prg;

impl Party {
    /// `k` sub-parties for independent computations at the same time (each on its own
    /// thread, say), with the same fixed-point precision; this party stays usable and takes
    /// their counters back with [`Party::join`]. Sends nothing. Fails if the endpoint failed.
    pub fn fork(&mut self, k: usize) -> Result<Vec<Party>> {
        let nets = self.net.split(k)?;
        Ok(nets
            .into_iter()
            .map(|net| Party {
                net,
                prev: Prg::new(&self.prev.seed()),
                next: Prg::new(&self.next.seed()),
                frac: self.frac,
            })
            .collect())
    }

    /// Takes back sub-parties forked from this party: bytes add up, rounds are those of the
    /// longest (they ran side by side). If one failed, this party fails too, with the first
    /// failure any of them met.
    pub fn join(&mut self, parts: Vec<Party>) -> Result<()> {
        Ok(self.net.join(parts.into_iter().map(|p| p.net).collect())?)
    }
}
