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

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::endpoint::FLUSH_WAIT;
use crate::{ChannelId, Frame, Link, NetError};

/// How far ahead of this party a peer may already be in splitting one channel: a peer that
/// split before us sends on channels we open a moment later, and those frames wait in their
/// queues. A channel more than this many ordinals beyond those its parent has opened here
/// (at any level below the deepest channel open here) is an error.
pub(crate) const CHANNELS_AHEAD: u64 = 1 << 16;

/// Most channels, per link, that a peer may send on before this party has opened them
/// (each gets a queue): a peer that sends on more is malformed, so a malicious peer cannot
/// make a party allocate queues without bound. Honest peers are ahead by the sub-sessions
/// they opened before needing a message from us: a few per analysis running at once.
pub(crate) const MAX_WAITING_CHANNELS: usize = 1 << 12;

/// Locks `m`, ignoring poisoning (every state change here is complete before any code that
/// could panic).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What an endpoint and all its sub-endpoints share: the channels in use and the first
/// failure any of them met.
pub(crate) struct Family {
    /// The open channels, each with the number of sub-endpoints split off it so far (the
    /// next ordinal it hands out). Only the endpoint on a channel splits it, so each count
    /// moves in that endpoint's program order, the same at every party.
    open: Mutex<HashMap<ChannelId, u64>>,
    first_failure: Mutex<Option<NetError>>,
}

/// Whether a frame for a channel may be queued.
enum Admission {
    /// The channel is open here.
    Open,
    /// Not open yet, and plausibly about to open: a descendant, not far ahead, of a channel
    /// open here.
    Ahead,
    /// Not open and never to open here (closed, or far ahead of anything open): why.
    Refused(String),
}

/// Why a split failed: the channel is too deep in the fork tree.
pub(crate) struct TooDeep;

impl Family {
    /// A family whose only channel is the root (the endpoint itself).
    pub(crate) fn new() -> Arc<Family> {
        Arc::new(Family {
            open: Mutex::new(HashMap::from([(ChannelId::root(), 0)])),
            first_failure: Mutex::new(None),
        })
    }

    /// Opens `k` sub-channels of `parent` (which must be open) and returns their ids: the
    /// parent's path followed by the next `k` ordinals of the parent's own counter, so that
    /// parties that split the same channel at the same point of its protocol get the same
    /// ids whatever other channels do meanwhile.
    pub(crate) fn open(&self, parent: &ChannelId, k: u64) -> Result<Vec<ChannelId>, TooDeep> {
        let mut open = lock(&self.open);
        let made = open.get_mut(parent).expect("an endpoint's channel is open");
        let first = *made;
        let ids = (first..first.saturating_add(k))
            .map(|n| parent.child(n))
            .collect::<Option<Vec<_>>>()
            .ok_or(TooDeep)?;
        // A u64 counter: one split a nanosecond would take centuries to wrap it.
        *made = first.saturating_add(k);
        open.extend(ids.iter().map(|c| (c.clone(), 0)));
        Ok(ids)
    }

    /// Closes channel `c`: frames for it, and for any channel below it, are errors from now
    /// on.
    pub(crate) fn close(&self, c: &ChannelId) {
        lock(&self.open).remove(c);
    }

    /// Whether channel `c` is open here.
    fn is_open(&self, c: &ChannelId) -> bool {
        lock(&self.open).contains_key(c)
    }

    /// Whether a frame for channel `c` may be queued. Below the deepest ancestor `a` open
    /// here, the next ordinal on the path must be one `a` has not handed out yet (those it
    /// has are open, or closed with all below them) and, like every ordinal further down,
    /// within [`CHANNELS_AHEAD`] of where its parent's counter stands here (0 for channels
    /// not open yet).
    fn admits(&self, c: &ChannelId) -> Admission {
        let open = lock(&self.open);
        if open.contains_key(c) {
            return Admission::Open;
        }
        let path = c.path();
        let Some((d, made)) = (0..path.len())
            .rev()
            .find_map(|d| open.get(&path[..d]).map(|&made| (d, made)))
        else {
            // The root never closes while the links are in use.
            return Admission::Refused(format!("channel {c}, whose root is closed"));
        };
        if path[d] < made {
            return Admission::Refused(format!("channel {c}, which is closed"));
        }
        if path[d] - made >= CHANNELS_AHEAD || path[d + 1..].iter().any(|&n| n >= CHANNELS_AHEAD) {
            return Admission::Refused(format!("channel {c}, far beyond those open"));
        }
        Admission::Ahead
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
    queues: HashMap<ChannelId, VecDeque<(u64, Vec<u8>)>>,
    /// Channels with a queue that were not open when their first frame came (some may have
    /// opened, or closed, since: counted again when the bound is reached).
    waiting: HashSet<ChannelId>,
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
    pub(crate) fn recv(
        &self,
        channel: &ChannelId,
        timeout: Duration,
    ) -> Result<(u64, Vec<u8>), NetError> {
        let deadline = Instant::now() + timeout;
        let timed_out = NetError::Timeout {
            peer: self.peer,
            timeout,
        };
        let mut inbox = lock(&self.inbox);
        loop {
            if let Some(m) = inbox.queues.get_mut(channel).and_then(VecDeque::pop_front) {
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
            } => match self.family.admits(&channel) {
                Admission::Open => {
                    inbox
                        .queues
                        .entry(channel)
                        .or_default()
                        .push_back((round, body));
                    return;
                }
                Admission::Ahead => match self.wait_for(inbox, channel) {
                    Ok(queue) => {
                        queue.push_back((round, body));
                        return;
                    }
                    Err(detail) => NetError::Malformed { peer, detail },
                },
                Admission::Refused(what) => NetError::Malformed {
                    peer,
                    detail: format!("a message for {what}"),
                },
            },
            Frame::Abort(reason) => NetError::Aborted { peer, reason },
            Frame::Closed(detail) => NetError::Closed { peer, detail },
            Frame::Malformed(detail) => NetError::Malformed { peer, detail },
        };
        inbox.ended = Some(end);
    }

    /// The queue of `channel`, not open here yet: a new one only within
    /// [`MAX_WAITING_CHANNELS`] (channels that opened or closed since they were counted are
    /// counted no longer).
    fn wait_for<'a>(
        &self,
        inbox: &'a mut Inbox,
        channel: ChannelId,
    ) -> Result<&'a mut VecDeque<(u64, Vec<u8>)>, String> {
        let Inbox {
            queues, waiting, ..
        } = inbox;
        if !queues.contains_key(&channel) {
            if waiting.len() >= MAX_WAITING_CHANNELS {
                waiting.retain(|c| queues.contains_key(c) && !self.family.is_open(c));
            }
            if waiting.len() >= MAX_WAITING_CHANNELS {
                return Err(format!(
                    "messages for more than {MAX_WAITING_CHANNELS} channels that are not open \
                     (the latest for channel {channel})"
                ));
            }
            waiting.insert(channel.clone());
        }
        Ok(queues.entry(channel).or_default())
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
    pub(crate) fn forget(&self, channel: &ChannelId) {
        let mut inbox = lock(&self.inbox);
        inbox.queues.remove(channel);
        inbox.waiting.remove(channel);
    }
}
