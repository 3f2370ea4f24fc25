//! One party's view of the network: a link to each peer, a receive timeout and counters.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use crate::mux::{Family, Port, TooDeep};
use crate::{ChannelId, Frame, NetError, PARTIES};

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
    /// The thread that carries `tx` to the peer, if there is one: when the endpoint and its
    /// sub-endpoints are all dropped, the last one waits (at most [`FLUSH_WAIT`]) for that thread to deliver what was queued,
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
///
/// An endpoint can [`split`](Endpoint::split) into sub-endpoints that carry independent
/// sub-sessions over the same links at the same time (each on its own channel, see
/// [`crate::mux`]).
pub struct Endpoint {
    me: usize,
    /// The sub-session this endpoint sends and receives on (the root: not a sub-endpoint).
    channel: ChannelId,
    ports: [Option<Arc<Port>>; PARTIES],
    family: Arc<Family>,
    timeout: Duration,
    stats: Stats,
    /// Latest round this party has seen a message from (its Lamport clock).
    seen: u64,
    failed: Option<NetError>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        // A sub-endpoint's channel closes with it; the links flush when their last user
        // goes (see `mux::Flush`).
        if !self.channel.is_root() {
            self.family.close(&self.channel);
            for port in self.ports.iter().flatten() {
                port.forget(&self.channel);
            }
        }
    }
}

impl Endpoint {
    /// Builds an endpoint for party `me` from its links; `links[me]` must be `None`.
    pub fn new(me: usize, links: [Option<Link>; PARTIES], timeout: Duration) -> Self {
        assert!(me < PARTIES, "party index {me} out of range");
        assert!(links[me].is_none(), "a party has no link to itself");
        let family = Family::new();
        let mut peer = 0;
        let ports = links.map(|l| {
            peer += 1;
            l.map(|l| Arc::new(Port::new(peer - 1, l, family.clone())))
        });
        Endpoint {
            me,
            channel: ChannelId::root(),
            ports,
            family,
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

    /// The sub-session this endpoint carries: its place in the fork tree (the root for an
    /// endpoint of its own, see [`Endpoint::split`]). The same at every party for the same
    /// sub-session.
    pub fn channel(&self) -> &ChannelId {
        &self.channel
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    fn port(&self, peer: usize) -> Result<&Port, NetError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.ports
            .get(peer)
            .and_then(Option::as_deref)
            .ok_or(NetError::NoLink { me: self.me, peer })
    }

    fn fail(&mut self, e: NetError) -> NetError {
        if self.failed.is_none() {
            self.family.record_failure(&e);
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

    /// Moves the round clock on to at least `round`: for a sub-session that starts on a
    /// thread after another one ended there, so that its messages count the rounds of what
    /// it waited for (a Lamport clock's local step).
    pub fn advance_rounds(&mut self, round: u64) {
        self.seen = self.seen.max(round);
        self.stats.rounds = self.stats.rounds.max(round);
    }

    /// Queues a message for `peer`.
    pub fn send(&mut self, peer: usize, data: Vec<u8>) -> Result<(), NetError> {
        let len = data.len() as u64;
        let round = self.seen + 1;
        let frame = Frame::Data {
            channel: self.channel.clone(),
            round,
            body: data,
        };
        if let Err(e) = self.port(peer)?.send(frame) {
            return Err(self.fail(e));
        }
        self.stats.rounds = self.stats.rounds.max(round);
        self.stats.bytes_sent += len;
        self.stats.messages_sent += 1;
        Ok(())
    }

    /// Waits for the next message from `peer`, at most the timeout.
    pub fn recv(&mut self, peer: usize) -> Result<Vec<u8>, NetError> {
        match self.port(peer)?.recv(&self.channel, self.timeout) {
            Ok((round, d)) => {
                self.seen = self.seen.max(round);
                self.stats.rounds = self.stats.rounds.max(round);
                self.stats.bytes_received += d.len() as u64;
                Ok(d)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Tells every peer that this party stops, and why; the endpoint is unusable afterwards,
    /// and so are the endpoint it was split from and all its other sub-endpoints (the links
    /// end here). Best effort: a peer that is already gone is skipped.
    pub fn abort(&mut self, reason: &str) {
        let e = NetError::Aborted {
            peer: self.me,
            reason: reason.to_string(),
        };
        for port in self.ports.iter().flatten() {
            port.send_anyway(Frame::Abort(reason.to_string()));
            port.end(e.clone());
        }
        let _ = self.fail(e);
    }

    /// The first error this endpoint met, if any.
    pub fn failure(&self) -> Option<&NetError> {
        self.failed.as_ref()
    }

    /// Replaces every link by `f(peer, link)`, keeping everything else (used to wrap the
    /// carriers, e.g. by [`crate::shaper`]).
    ///
    /// # Panics
    ///
    /// If the endpoint has live sub-endpoints (wrap the links right after connecting).
    pub(crate) fn map_links(mut self, mut f: impl FnMut(usize, Link) -> Link) -> Endpoint {
        for (peer, slot) in self.ports.iter_mut().enumerate() {
            if let Some(port) = slot.take() {
                let port = Arc::try_unwrap(port)
                    .unwrap_or_else(|_| panic!("links wrapped while sub-endpoints use them"));
                let link = f(peer, port.into_link());
                *slot = Some(Arc::new(Port::new(peer, link, self.family.clone())));
            }
        }
        self
    }

    /// Builds a sub-endpoint on `channel` sharing this endpoint's links.
    pub(crate) fn sub(&self, channel: ChannelId) -> Endpoint {
        Endpoint {
            me: self.me,
            channel,
            ports: self.ports.clone(),
            family: self.family.clone(),
            timeout: self.timeout,
            stats: Stats {
                rounds: self.stats.rounds,
                ..Stats::default()
            },
            seen: self.seen,
            failed: None,
        }
    }

    /// Adds what sub-endpoint `part` did to this endpoint's counters and clock; takes on
    /// the family's first failure if `part` failed.
    pub(crate) fn absorb(&mut self, part: &Endpoint) {
        assert!(
            Arc::ptr_eq(&self.family, &part.family),
            "joined an endpoint that was not split from this one"
        );
        let (s, p) = (&mut self.stats, &part.stats);
        s.bytes_sent += p.bytes_sent;
        s.bytes_received += p.bytes_received;
        s.messages_sent += p.messages_sent;
        s.rounds = s.rounds.max(p.rounds);
        self.seen = self.seen.max(part.seen);
        if part.failed.is_some() && self.failed.is_none() {
            self.failed = self.family.first_failure().or_else(|| part.failed.clone());
        }
    }

    /// Opens `k` sub-channels of this endpoint's channel (see [`crate::mux::Family::open`]).
    pub(crate) fn open_channels(&self, k: u64) -> Result<Vec<ChannelId>, NetError> {
        self.family
            .open(&self.channel, k)
            .map_err(|TooDeep| NetError::TooDeep {
                me: self.me,
                channel: self.channel.to_string(),
            })
    }
}
