//! The receiving side of a link shared by sub-sessions: frames from one peer sorted into
//! per-channel queues, so that an endpoint and its sub-endpoints ([`crate::Endpoint::split`])
//! can use the same link at the same time.
//!
//! There is no demultiplexing thread: whichever receiver finds its queue empty reads the
//! link itself (one reader at a time), files what it gets under the frame's channel and wakes
//! the others. Every wait is bounded by the waiting receiver's own timeout. The end of a link
//! (the peer's abort, a closed or malformed connection, a frame for a channel that is not
//! open) reaches every channel, after the data each has queued; this party's own abort
//! reaches every channel at once.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::ops::Range;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::endpoint::FLUSH_WAIT;
use crate::{Frame, Link, NetError};

/// How far beyond the channels this party has opened a peer may already send: a peer that
/// split before us sends on channels we open a moment later, and those frames wait in their
/// queues; a channel further ahead than this, or one already closed, is an error.
pub(crate) const CHANNELS_AHEAD: u32 = 1 << 16;

/// Locks `m`, ignoring poisoning (every state change here is complete before any code that
/// could panic).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What an endpoint and all its sub-endpoints share: the channels in use and the first
/// failure any of them met.
pub(crate) struct Family {
    channels: Mutex<Channels>,
    first_failure: Mutex<Option<NetError>>,
}

/// Channel ids: those open now, and the next one to hand out.
struct Channels {
    next: u32,
    open: BTreeSet<u32>,
}

impl Family {
    /// A family whose only channel is 0 (the endpoint itself).
    pub(crate) fn new() -> Arc<Family> {
        Arc::new(Family {
            channels: Mutex::new(Channels {
                next: 1,
                open: BTreeSet::from([0]),
            }),
            first_failure: Mutex::new(None),
        })
    }

    /// Opens `k` new channels and returns their ids. Ids are handed out in order, so
    /// parties that split in the same order use the same ids.
    pub(crate) fn open(&self, k: u32) -> Range<u32> {
        let mut ch = lock(&self.channels);
        let ids = ch.next..ch.next + k;
        ch.next += k;
        ch.open.extend(ids.clone());
        ids
    }

    /// Closes channel `c`: frames for it are errors from now on.
    pub(crate) fn close(&self, c: u32) {
        lock(&self.channels).open.remove(&c);
    }

    /// Whether a frame for channel `c` may be queued.
    fn accepts(&self, c: u32) -> bool {
        let ch = lock(&self.channels);
        ch.open.contains(&c) || (c >= ch.next && c - ch.next < CHANNELS_AHEAD)
    }

    /// Remembers `e` if it is the family's first failure.
    pub(crate) fn record_failure(&self, e: &NetError) {
        lock(&self.first_failure).get_or_insert_with(|| e.clone());
    }

    /// The first failure any member of the family met.
    pub(crate) fn first_failure(&self) -> Option<NetError> {
        lock(&self.first_failure).clone()
    }
}

/// The outgoing queue of a link and the thread that carries it; when dropped (the last
/// user of the link is gone) it waits, at most [`FLUSH_WAIT`], for that thread to deliver
/// what was queued, so that a party that finishes and exits does not lose its last messages.
struct Flush {
    tx: Option<Sender<Frame>>,
    writer: Option<JoinHandle<()>>,
}

impl Drop for Flush {
    fn drop(&mut self) {
        // Closing the queue tells the writer to finish; then give it time to do so.
        drop(self.tx.take());
        let Some(w) = self.writer.take() else { return };
        let deadline = Instant::now() + FLUSH_WAIT;
        while !w.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if w.is_finished() {
            let _ = w.join();
        }
    }
}

/// What has arrived from the peer and not been taken yet.
#[derive(Default)]
struct Inbox {
    /// Per channel: (round, payload) in arrival order.
    queues: HashMap<u32, VecDeque<(u64, Vec<u8>)>>,
    /// Whether a receiver is reading the link right now.
    reading: bool,
    /// How the link ended, if it did.
    ended: Option<NetError>,
}

/// One link to one peer, shared by an endpoint and its sub-endpoints.
pub(crate) struct Port {
    peer: usize,
    out: Flush,
    rx: Mutex<Receiver<Frame>>,
    inbox: Mutex<Inbox>,
    arrived: Condvar,
    family: Arc<Family>,
}

impl Port {
    /// Wraps the link to `peer`.
    pub(crate) fn new(peer: usize, link: Link, family: Arc<Family>) -> Port {
        Port {
            peer,
            out: Flush {
                tx: Some(link.tx),
                writer: link.writer,
            },
            rx: Mutex::new(link.rx),
            inbox: Mutex::new(Inbox::default()),
            arrived: Condvar::new(),
            family,
        }
    }

    /// The link back (only before anything was received).
    pub(crate) fn into_link(self) -> Link {
        let Port { mut out, rx, .. } = self;
        Link {
            tx: out.tx.take().expect("a port has its sender until dropped"),
            rx: rx.into_inner().unwrap_or_else(PoisonError::into_inner),
            writer: out.writer.take(),
        }
    }

    /// Queues `frame` for the peer; the error if the link ended here or the carrier is gone.
    pub(crate) fn send(&self, frame: Frame) -> Result<(), NetError> {
        if let Some(e) = &lock(&self.inbox).ended {
            return Err(e.clone());
        }
        let tx = self
            .out
            .tx
            .as_ref()
            .expect("a port has its sender until dropped");
        tx.send(frame).map_err(|_| NetError::Closed {
            peer: self.peer,
            detail: "sender stopped".into(),
        })
    }

    /// Queues `frame` for the peer, ignoring the state of the link (for abort notices).
    pub(crate) fn send_anyway(&self, frame: Frame) {
        if let Some(tx) = &self.out.tx {
            let _ = tx.send(frame);
        }
    }

    /// The next message on `channel` as (round, payload), waiting at most `timeout`.
    pub(crate) fn recv(&self, channel: u32, timeout: Duration) -> Result<(u64, Vec<u8>), NetError> {
        let deadline = Instant::now() + timeout;
        let timed_out = NetError::Timeout {
            peer: self.peer,
            timeout,
        };
        let mut inbox = lock(&self.inbox);
        loop {
            if let Some(m) = inbox.queues.get_mut(&channel).and_then(VecDeque::pop_front) {
                return Ok(m);
            }
            if let Some(e) = &inbox.ended {
                return Err(e.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timed_out);
            }
            if inbox.reading {
                inbox = self
                    .arrived
                    .wait_timeout(inbox, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                continue;
            }
            // Read the link ourselves, without holding the inbox.
            inbox.reading = true;
            drop(inbox);
            let got = lock(&self.rx).recv_timeout(left);
            inbox = lock(&self.inbox);
            inbox.reading = false;
            match got {
                Ok(frame) => self.file(&mut inbox, frame),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.file(&mut inbox, Frame::Closed("peer went away".into()))
                }
            }
            // Someone else may read now, or find its message.
            self.arrived.notify_all();
        }
    }

    /// Files a frame from the link under its channel, or ends the link.
    fn file(&self, inbox: &mut Inbox, frame: Frame) {
        if inbox.ended.is_some() {
            return;
        }
        let peer = self.peer;
        let end = match frame {
            Frame::Data {
                channel,
                round,
                body,
            } => {
                if self.family.accepts(channel) {
                    inbox
                        .queues
                        .entry(channel)
                        .or_default()
                        .push_back((round, body));
                    return;
                }
                NetError::Malformed {
                    peer,
                    detail: format!("a message for channel {channel}, which is not open"),
                }
            }
            Frame::Abort(reason) => NetError::Aborted { peer, reason },
            Frame::Closed(detail) => NetError::Closed { peer, detail },
            Frame::Malformed(detail) => NetError::Malformed { peer, detail },
        };
        inbox.ended = Some(end);
    }

    /// Ends the link here, for every channel at once (this party's abort): queued messages
    /// are dropped and every receiver, waiting or not, gets `e`.
    pub(crate) fn end(&self, e: NetError) {
        let mut inbox = lock(&self.inbox);
        inbox.queues.clear();
        inbox.ended.get_or_insert(e);
        self.arrived.notify_all();
    }

    /// Drops what is queued for a channel that closed.
    pub(crate) fn forget(&self, channel: u32) {
        lock(&self.inbox).queues.remove(&channel);
    }
}
