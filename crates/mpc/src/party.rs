//! One compute party's state: its network endpoint and its correlated randomness.
//!
//! Indexing convention used by every protocol: the secret `x = s0 + s1 + s2`; party `i`
//! holds the pair `(s_i, s_{i+1})` (indices modulo 3), so share `s_j` is held by parties `j`
//! and `j - 1`. Seed `k_j` is held by the same two parties: party `i` holds `k_i` (shared
//! with its predecessor `i - 1`, stream [`Party::prev`]) and `k_{i+1}` (shared with its
//! successor `i + 1`, stream [`Party::next`]).

use tessera_net::{Endpoint, Stats};

use crate::error::{MpcError, Result};
use crate::prg::{fresh_seed, Prg};
use crate::ring::{decode, encode_into, Ring};

/// A compute party: its position among the three, its links, and its PRF streams.
pub struct Party {
    pub(crate) net: Endpoint,
    /// Stream of seed `k_i`, shared with party `i - 1`.
    pub(crate) prev: Prg,
    /// Stream of seed `k_{i+1}`, shared with party `i + 1`.
    pub(crate) next: Prg,
    pub(crate) frac: u32,
    /// Trade bytes for rounds ([`Party::few_rounds`]).
    pub(crate) few_rounds: bool,
}

/// Fractional bits of the default fixed-point encoding (see [`crate::fixed`]).
pub const DEFAULT_FRAC_BITS: u32 = 24;

impl Party {
    /// Agrees on pairwise seeds with the two peers (one round, 16 bytes to the predecessor)
    /// and returns the ready party.
    pub fn setup(mut net: Endpoint) -> Result<Party> {
        let me = net.party();
        let mine = fresh_seed();
        net.send((me + 2) % 3, mine.to_vec())?;
        let got = net.recv((me + 1) % 3)?;
        let theirs: [u8; 16] = got.as_slice().try_into().map_err(|_| MpcError::Malformed {
            peer: (me + 1) % 3,
            detail: format!("seed of {} bytes, expected 16", got.len()),
        })?;
        Ok(Party {
            net,
            prev: Prg::new(&mine),
            next: Prg::new(&theirs),
            frac: DEFAULT_FRAC_BITS,
            few_rounds: false,
        })
    }

    /// This party's index: 0, 1 or 2.
    pub fn id(&self) -> usize {
        self.net.party()
    }

    /// Index of the successor `i + 1`.
    pub fn next_id(&self) -> usize {
        (self.id() + 1) % 3
    }

    /// Index of the predecessor `i - 1`.
    pub fn prev_id(&self) -> usize {
        (self.id() + 2) % 3
    }

    /// Traffic counters of this party.
    pub fn stats(&self) -> Stats {
        self.net.stats()
    }

    /// Fractional bits of fixed-point values.
    pub fn frac_bits(&self) -> u32 {
        self.frac
    }

    /// Whether the links are slow enough (a one-way latency of milliseconds, between
    /// organisations) that protocols with a choice should spend bytes and computation to
    /// save rounds: e.g. the survival analyses' sort with [`crate::sort::SortOptions::few_rounds`]
    /// and their tie levels in one batched test. Set by whoever knows the network (a run or
    /// benchmark with added latency); all three parties must agree, as on every parameter.
    /// Default false; forked sub-parties inherit it.
    pub fn few_rounds(&self) -> bool {
        self.few_rounds
    }

    /// Sets [`Party::few_rounds`].
    pub fn set_few_rounds(&mut self, on: bool) {
        self.few_rounds = on;
    }

    /// Changes the fixed-point precision (all three parties must use the same).
    pub fn set_frac_bits(&mut self, f: u32) {
        assert!((8..=40).contains(&f), "fractional bits must be in 8..=40");
        self.frac = f;
    }

    /// Waits until both peers reach the same point: a party whose computation succeeded
    /// learns here whether the others' did too (an abort or a lost peer fails the barrier).
    /// One round, one empty message to each peer.
    pub fn barrier(&mut self) -> Result<()> {
        let (p, n) = (self.prev_id(), self.next_id());
        self.net.send(p, Vec::new())?;
        self.net.send(n, Vec::new())?;
        for peer in [p, n] {
            let m = self.net.recv(peer)?;
            if !m.is_empty() {
                return Err(self.malformed(peer, m.len(), 0));
            }
        }
        self.net.align_rounds();
        Ok(())
    }

    /// Tells the peers this party stops, and why; the party cannot be used afterwards.
    pub fn abort(&mut self, reason: &str) {
        self.net.abort(reason);
    }

    /// The underlying endpoint (for timeouts and diagnostics).
    pub fn endpoint(&mut self) -> &mut Endpoint {
        &mut self.net
    }

    pub(crate) fn send_ring<R: Ring>(&mut self, to: usize, v: &[R]) -> Result<()> {
        self.send_parts(to, &[v])
    }

    pub(crate) fn recv_ring<R: Ring>(&mut self, from: usize, n: usize) -> Result<Vec<R>> {
        Ok(self.recv_parts(from, &[n])?.pop().expect("one part"))
    }

    /// Sends several vectors as one message (one round, no concatenation in memory).
    pub(crate) fn send_parts<R: Ring>(&mut self, to: usize, parts: &[&[R]]) -> Result<()> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut out = Vec::with_capacity(total * R::BYTES);
        for p in parts {
            encode_into(p, &mut out);
        }
        Ok(self.net.send(to, out)?)
    }

    /// Receives one message holding vectors of the given lengths.
    pub(crate) fn recv_parts<R: Ring>(
        &mut self,
        from: usize,
        lens: &[usize],
    ) -> Result<Vec<Vec<R>>> {
        let b = self.net.recv(from)?;
        let total: usize = lens.iter().sum();
        if b.len() != total * R::BYTES {
            return Err(self.malformed(from, b.len(), total * R::BYTES));
        }
        let mut at = 0;
        Ok(lens
            .iter()
            .map(|&n| {
                let v = decode(&b[at..at + n * R::BYTES], n).expect("length checked");
                at += n * R::BYTES;
                v
            })
            .collect())
    }

    pub(crate) fn send_words(&mut self, to: usize, v: &[u64]) -> Result<()> {
        self.send_ring(to, v)
    }

    pub(crate) fn recv_words(&mut self, from: usize, n: usize) -> Result<Vec<u64>> {
        self.recv_ring(from, n)
    }

    fn malformed(&mut self, peer: usize, got: usize, want: usize) -> MpcError {
        let detail = format!("{got} bytes where the protocol expects {want}");
        // Poison the endpoint so that the peers hear of it too.
        self.net
            .abort(&format!("malformed message from party {peer}: {detail}"));
        MpcError::Malformed { peer, detail }
    }
}

impl From<Party> for Endpoint {
    fn from(p: Party) -> Endpoint {
        p.net
    }
}
