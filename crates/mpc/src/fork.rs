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
//! computation on sub-party `j`. Sub-parties may fork again, on several threads at once: a
//! sub-party's channel id is its place in the fork tree (its parent's id and the parent's
//! own count of earlier forks, [`tessera_net::ChannelId`]), so the parties agree on every id
//! whatever the timing of their threads. Memory: each sub-party's computation holds its own
//! intermediate shares, so running `k` at once needs up to `k` times the memory of one.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::error::{MpcError, Result};
use crate::party::Party;
use crate::prg::Prg;

/// Locks `m`, ignoring poisoning (a panicking job ends the whole run anyway).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Party {
    /// `k` sub-parties for independent computations at the same time (each on its own
    /// thread, say), with the same fixed-point precision; this party stays usable and takes
    /// their counters back with [`Party::join`]. Sends nothing. Fails if the endpoint failed.
    ///
    /// Every party must fork this party at the same points of its computation; sub-parties
    /// running on several threads may fork at the same time (each fork's channel ids come
    /// from the forked party's own position and count, see [`tessera_net::Endpoint::split`]).
    /// Fails if the forks would nest deeper than [`tessera_net::channel::MAX_DEPTH`].
    pub fn fork(&mut self, k: usize) -> Result<Vec<Party>> {
        let nets = self.net.split(k)?;
        Ok(nets
            .into_iter()
            .map(|net| Party {
                net,
                prev: Prg::new(&self.prev.seed()),
                next: Prg::new(&self.next.seed()),
                frac: self.frac,
                few_rounds: self.few_rounds,
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

/// A job's failure in [`Party::run_forked`]: the job's index and its error.
pub type JobFailure = (usize, MpcError);

impl Party {
    /// Runs jobs `0..n` on `n` sub-parties forked from this party (job `i` on sub-party
    /// `i`), on `limit` threads: thread `t` runs jobs `t, t + limit, …` in turn, at every
    /// party alike, and jobs start in index order (so no party waits for a job that another
    /// party cannot start: a job waits only for earlier jobs, which run everywhere).
    /// `on_start(i)` is called as job `i` starts, in index order. Returns the results in
    /// index order, the sub-parties joined back. A job counts its rounds from the end of the
    /// previous job on its thread, so this party's rounds afterwards are those of the
    /// longest thread's chain: a figure that does not depend on timing.
    ///
    /// The first job to fail (in time) stops the run: its sub-party aborts with
    /// `reason(i, error)`, which ends every other job here and at the peers, no further job
    /// starts, and that failure is returned. Memory grows with `limit`: each running job
    /// holds its own intermediate shares.
    pub fn run_forked<T: Send>(
        &mut self,
        n: usize,
        limit: usize,
        on_start: impl Fn(usize) + Sync,
        job: impl Fn(usize, &mut Party) -> Result<T> + Sync,
        reason: impl Fn(usize, &MpcError) -> String + Sync,
    ) -> std::result::Result<Vec<T>, JobFailure> {
        let subs = self.fork(n).map_err(|e| (0, e))?;
        let slots: Vec<Mutex<Option<Party>>> =
            subs.into_iter().map(|s| Mutex::new(Some(s))).collect();
        let results: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
        let first: Mutex<Option<JobFailure>> = Mutex::new(None);
        let threads = limit.clamp(1, n.max(1));
        // Jobs start in index order: job i waits until job i − 1 has started.
        let started = (Mutex::new(0usize), Condvar::new());
        let start = |i: usize| -> bool {
            let (count, turn) = &started;
            let mut k = lock(count);
            while *k < i {
                k = turn.wait(k).unwrap_or_else(PoisonError::into_inner);
            }
            let go = lock(&first).is_none();
            if go {
                on_start(i);
            }
            *k += 1;
            turn.notify_all();
            go
        };
        std::thread::scope(|s| {
            for t in 0..threads {
                let (start, slots, results, first, job, reason) =
                    (&start, &slots, &results, &first, &job, &reason);
                s.spawn(move || {
                    // Thread t runs jobs t, t + threads, … at every party alike, so each
                    // job counts its rounds from the end of the same previous job
                    // everywhere: the party's rounds afterwards are those of the longest
                    // thread's chain, the same in every run.
                    let mut clock = 0;
                    for i in (t..n).step_by(threads) {
                        if !start(i) {
                            continue;
                        }
                        let mut sub = lock(&slots[i]).take().expect("each job runs once");
                        sub.net.advance_rounds(clock);
                        let r = job(i, &mut sub);
                        clock = sub.stats().rounds;
                        match r {
                            Ok(v) => *lock(&results[i]) = Some(v),
                            Err(e) => {
                                let mut f = lock(first);
                                if f.is_none() {
                                    sub.abort(&reason(i, &e));
                                    *f = Some((i, e));
                                }
                            }
                        }
                        *lock(&slots[i]) = Some(sub);
                    }
                });
            }
        });
        let subs = slots
            .into_iter()
            .filter_map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner))
            .collect();
        let joined = self.join(subs);
        if let Some(f) = first.into_inner().unwrap_or_else(PoisonError::into_inner) {
            return Err(f);
        }
        joined.map_err(|e| (0, e))?;
        Ok(results
            .into_iter()
            .map(|m| {
                m.into_inner()
                    .unwrap_or_else(PoisonError::into_inner)
                    .expect("every job ran")
            })
            .collect())
    }
}

/// An error a computation run side by side can end with ([`Party::side_by_side`]): made
/// from the engine's errors, and telling a peer's abort from this party's own failure.
pub trait SideFailure: From<MpcError> + std::fmt::Display + Send {
    /// Whether this failure is a peer's abort or a broken link, not this party's own.
    fn is_peers(&self) -> bool;
}

impl SideFailure for MpcError {
    fn is_peers(&self) -> bool {
        matches!(self, MpcError::Net(_))
    }
}

impl Party {
    /// Runs two independent computations side by side, `a` on a thread of its own and `b`
    /// on this one, each on a sub-party forked from this party: the rounds of the longer,
    /// not of both (a convergence test beside the next step's derivatives, a variance
    /// beside a likelihood). Every party must call it at the same point with the same
    /// computations. Sends nothing itself. Works on any party: one of its own, an analysis
    /// running beside others ([`Party::run_forked`]), or a half of another `side_by_side`.
    ///
    /// If one fails, its sub-party aborts, which ends the other here and at the peers. The
    /// failure returned is this party's own (a refusal, say) if either half met one, else the
    /// first in time (a peer's abort, which carries the peer's reason).
    pub fn side_by_side<A: Send, B, E: SideFailure>(
        &mut self,
        a: impl FnOnce(&mut Party) -> std::result::Result<A, E> + Send,
        b: impl FnOnce(&mut Party) -> std::result::Result<B, E>,
    ) -> std::result::Result<(A, B), E> {
        let mut subs = self.fork(2)?;
        let (mut sb, mut sa) = (subs.pop().expect("2"), subs.pop().expect("2"));
        let failures: Mutex<Vec<E>> = Mutex::new(Vec::new());
        let fail = |sub: &mut Party, e: E| {
            let mut f = lock(&failures);
            if f.is_empty() {
                sub.abort(&e.to_string());
            }
            f.push(e);
        };
        let (ra, rb) = std::thread::scope(|s| {
            let fail = &fail;
            let ha = s.spawn(move || {
                let r = a(&mut sa).map_err(|e| fail(&mut sa, e)).ok();
                (sa, r)
            });
            let rb = b(&mut sb).map_err(|e| fail(&mut sb, e)).ok();
            let (sa, ra) = match ha.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            subs = vec![sa, sb];
            (ra, rb)
        });
        let joined = self.join(subs);
        let mut failures = failures
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if !failures.is_empty() {
            let own = failures.iter().position(|e| !e.is_peers());
            return Err(failures.swap_remove(own.unwrap_or(0)));
        }
        joined?;
        match (ra, rb) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => unreachable!("a job without a result recorded its failure"),
        }
    }
}
