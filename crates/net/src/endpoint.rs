//! One party's view of the network: a link to each peer, a receive timeout and counters.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::{Frame, NetError, PARTIES};

/// The two queues that connect an endpoint to one peer. Whatever carries the bytes (a
/// channel, a TCP stream, a TLS stream) delivers frames from the peer into `rx` and takes
/// frames for the peer out of `tx`. When the carrier fails it pushes [`Frame::Closed`] (or
/// simply drops its sender), or [`Frame::Malformed`] when the peer sent bytes that are not a
/// frame.
pub struct Link {
    /// Frames to the peer.
    pub tx: Sender<Frame>,
    /// Frames from the peer.
    pub rx: Receiver<Frame>,
    /// The thread that carries `tx` to the peer, if there is one: when the endpoint is
    /// dropped it waits (at most [`FLUSH_WAIT`]) for that thread to deliver what was queued,
    /// so that a party that finishes and exits does not lose its last messages.
    pub writer: Option<std::thread::JoinHandle<()>>,
}

/// Longest wait, when an endpoint is dropped, for queued messages to be written out.
pub const FLUSH_WAIT: Duration = Duration::from_secs(10);

/// Traffic counters of one party.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Payload bytes sent to all peers (framing not included).
    pub bytes_sent: u64,
    /// Payload bytes received from all peers.
    pub bytes_received: u64,
    /// Messages sent.
    pub messages_sent: u64,
    /// Communication rounds on the critical path: each message carries the sender's round
    /// number (one more than the latest it had seen); a receiver catches up to it. The
    /// difference over an operation is the number of sequential message layers it needed.
    pub rounds: u64,
}

impl Stats {
    /// Counters accumulated since `earlier` was taken.
    pub fn since(&self, earlier: &Stats) -> Stats {
        Stats {
            bytes_sent: self.bytes_sent - earlier.bytes_sent,
            bytes_received: self.bytes_received - earlier.bytes_received,
            messages_sent: self.messages_sent - earlier.messages_sent,
            rounds: self.rounds - earlier.rounds,
        }
    }
}

/// A party's connections to the other two compute parties.
///
/// Sends never block (frames are queued to the carrier), so parties that send to each other
/// at the same time cannot deadlock; every receive waits at most the timeout. After any error
/// the endpoint is poisoned: later calls fail with the same error, so a protocol cannot go on
/// with half a message.
pub struct Endpoint {
    me: usize,
    links: [Option<Link>; PARTIES],
    timeout: Duration,
    stats: Stats,
    /// Latest round this party has seen a message from (its Lamport clock).
    seen: u64,
    failed: Option<NetError>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        // Closing the queues tells each writer to finish; then give them time to do so.
        let writers: Vec<_> = self
            .links
            .iter_mut()
            .filter_map(Option::take)
            .filter_map(|l| l.writer)
            .collect();
        let deadline = std::time::Instant::now() + FLUSH_WAIT;
        for w in writers {
            while !w.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if w.is_finished() {
                let _ = w.join();
            }
        }
    }
}

impl Endpoint {
    /// Builds an endpoint for party `me` from its links; `links[me]` must be `None`.
    pub fn new(me: usize, links: [Option<Link>; PARTIES], timeout: Duration) -> Self {
        assert!(me < PARTIES, "party index {me} out of range");
        assert!(links[me].is_none(), "a party has no link to itself");
        Endpoint {
            me,
            links,
            timeout,
            stats: Stats::default(),
            seen: 0,
            failed: None,
        }
    }

    /// This party's index (0, 1 or 2).
    pub fn party(&self) -> usize {
        self.me
    }

    /// The receive timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Changes the receive timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    fn link(&self, peer: usize) -> Result<&Link, NetError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.links
            .get(peer)
            .and_then(Option::as_ref)
            .ok_or(NetError::NoLink { me: self.me, peer })
    }

    fn fail(&mut self, e: NetError) -> NetError {
        if self.failed.is_none() {
            self.failed = Some(e.clone());
        }
        e
    }

    /// Marks a point that every party has reached (after a barrier): later messages count
    /// their rounds from the latest round any party reached so far, so that the rounds of
    /// what follows are comparable across parties.
    pub fn align_rounds(&mut self) {
        self.seen = self.stats.rounds;
    }

    /// Queues a message for `peer`.
    pub fn send(&mut self, peer: usize, data: Vec<u8>) -> Result<(), NetError> {
        let len = data.len() as u64;
        let link = self.link(peer)?;
        let round = self.seen + 1;
        if link.tx.send(Frame::Data { round, body: data }).is_err() {
            let e = NetError::Closed {
                peer,
                detail: "sender stopped".into(),
            };
            return Err(self.fail(e));
        }
        self.stats.rounds = self.stats.rounds.max(round);
        self.stats.bytes_sent += len;
        self.stats.messages_sent += 1;
        Ok(())
    }

    /// Waits for the next message from `peer`, at most the timeout.
    pub fn recv(&mut self, peer: usize) -> Result<Vec<u8>, NetError> {
        let link = self.link(peer)?;
        let got = link.rx.recv_timeout(self.timeout);
        let frame = match got {
            Ok(f) => f,
            Err(RecvTimeoutError::Timeout) => {
                let e = NetError::Timeout {
                    peer,
                    timeout: self.timeout,
                };
                return Err(self.fail(e));
            }
            Err(RecvTimeoutError::Disconnected) => Frame::Closed("peer went away".into()),
        };
        match frame {
            Frame::Data { round, body: d } => {
                self.seen = self.seen.max(round);
                self.stats.rounds = self.stats.rounds.max(round);
                self.stats.bytes_received += d.len() as u64;
                Ok(d)
            }
            Frame::Abort(reason) => Err(self.fail(NetError::Aborted { peer, reason })),
            Frame::Closed(detail) => Err(self.fail(NetError::Closed { peer, detail })),
            Frame::Malformed(detail) => Err(self.fail(NetError::Malformed { peer, detail })),
        }
    }

    /// Tells every peer that this party stops, and why; the endpoint is unusable afterwards.
    /// Best effort: a peer that is already gone is skipped.
    pub fn abort(&mut self, reason: &str) {
        for link in self.links.iter().flatten() {
            let _ = link.tx.send(Frame::Abort(reason.to_string()));
        }
        let _ = self.fail(NetError::Aborted {
            peer: self.me,
            reason: reason.to_string(),
        });
    }

    /// The first error this endpoint met, if any.
    pub fn failure(&self) -> Option<&NetError> {
        self.failed.as_ref()
    }

    /// Replaces every link by `f(peer, link)`, keeping everything else (used to wrap the
    /// carriers, e.g. by [`crate::shaper`]).
    pub(crate) fn map_links(mut self, mut f: impl FnMut(usize, Link) -> Link) -> Endpoint {
        for (peer, slot) in self.links.iter_mut().enumerate() {
            if let Some(link) = slot.take() {
                *slot = Some(f(peer, link));
            }
        }
        self
    }
}
