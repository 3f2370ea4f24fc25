//! An HTTPS listener for axum: TLS 1.3 handshakes off the accept loop, and the caller's
//! certificate fingerprint for the handlers.
//!
//! ```ignore
//! let config = tessera_net::https::server_config(&identity)?;
//! let listener = TlsListener::new(tcp_listener, config, Duration::from_secs(10));
//! axum::serve(listener, router.into_make_service_with_connect_info::<Peer>()).await?;
//! // in a handler: ConnectInfo(peer): ConnectInfo<Peer>, peer.fingerprint
//! ```
//!
//! # How connections are accepted
//!
//! On the first [`Listener::accept`], a background task starts accepting TCP connections.
//! Each connection's TLS handshake runs in its own task, bounded by the handshake timeout,
//! and a finished stream is handed to axum over a channel together with its [`Peer`] (the
//! address and, if the client presented a certificate, its fingerprint). A client that
//! connects and sends nothing, sends something that is not TLS, or fails the handshake
//! therefore never delays anyone else: its task ends at the timeout or at the failure, and
//! the connection is dropped without a word logged. Every TCP connection is accepted at
//! once (none waits in the kernel's backlog behind others); the limits below decide what
//! it may hold. Errors of `accept` itself (a connection reset while
//! queued, or running out of file descriptors) are retried, after a pause for the latter,
//! so axum's `accept` never fails, as its trait requires. Dropping the listener (when
//! `axum::serve` ends) stops the accept task; handshakes in flight end at their timeout.
//!
//! # Limits ([`ConnLimits`])
//!
//! A station is reachable by anyone on its network, so no client may hold its resources:
//! - a connection that sends nothing within [`ConnLimits::first_bytes_timeout`] (2 s) is
//!   closed, and nothing (no TLS state) is made for it before its first bytes; a handshake
//!   not finished within [`ConnLimits::handshake_timeout`] (5 s) is closed;
//! - at most [`ConnLimits::per_address`] connections from one IP address (handshakes
//!   included); past that, a new TCP connection from it is closed at once, before any TLS;
//! - at most [`ConnLimits::handshakes_per_address`] handshakes in flight from one address
//!   and [`ConnLimits::max_handshakes`] in all, and [`ConnLimits::max_connections`]
//!   connections in all. At the address's own limit, its oldest handshake gives way to the
//!   newcomer; at a limit in all, the handshake waiting the longest, or the connection idle
//!   the longest (no byte in or out), whatever its address. A caller that uses its
//!   connection finishes its handshake in milliseconds and sends its request at once, so
//!   the one that gives way is a client holding a slot without using it: such clients,
//!   even from many addresses, cannot keep a steward or a station out (300 silent
//!   connections from one address once delayed a steward's request by 10 s; 2,000 slow
//!   connections from 250 addresses by 5 s). What remains: a client that opens
//!   connections faster than the legitimate callers' handshakes complete (a few
//!   milliseconds on a LAN) can make those give way, and every connection it opens costs
//!   an accept; firewall the port to the networks of the stations, stewards and
//!   researchers;
//! - after the handshake, every wait for data is bounded ([`Guarded`]): a connection that
//!   delivers fewer than [`ConnLimits::read_min_bytes`] within
//!   [`ConnLimits::read_window`] of starting to wait (idle keep-alive, half a header, a
//!   body trickled a byte at a time) is closed. Writing an answer restarts the window, as
//!   do the first bytes after a silence, so a request that arrives after an idle spell gets
//!   a whole window.
//!
//! The runtime must have its time driver enabled (`enable_time` or `enable_all`): the
//! timeouts use it.
//!
//! # Cost
//!
//! One task per handshake in flight and one for the accept loop; the TLS handshake itself
//! is one round trip and a few kilobytes (see [`tessera_net::https`]).
//!
//! A connection whose request is being handled (the router marks it: [`InUse`]) is chosen
//! to give way only when every candidate is: a handler that takes seconds (asking the
//! peers) moves no bytes but is not idle.
//!
//! LEAKAGE: nothing is opened or logged here; the fingerprint of a client's certificate is
//! passed to the handlers, which authorise by it.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tessera_net::identity::Fingerprint;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Sleep;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The most TLS handshakes in flight at once by default ([`ConnLimits::max_handshakes`]).
pub const MAX_HANDSHAKES: usize = 1024;

/// How many finished handshakes may wait for axum to take them.
const QUEUE: usize = 64;

/// How long the accept loop pauses after an `accept` error that is not about one
/// connection (e.g. too many open files), so it does not spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(200);

/// What one client may hold of the listener (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// A TLS handshake not finished by then is dropped.
    pub handshake_timeout: Duration,
    /// A connection that has sent nothing by then is dropped (before any TLS state is
    /// made for it).
    pub first_bytes_timeout: Duration,
    /// Connections open at once, handshakes included.
    pub max_connections: usize,
    /// Connections open at once from one IP address.
    pub per_address: usize,
    /// Handshakes in flight at once from one IP address.
    pub handshakes_per_address: usize,
    /// Handshakes in flight at once in all (each holds a socket and a task).
    pub max_handshakes: usize,
    /// How long a connection may wait for [`ConnLimits::read_min_bytes`].
    pub read_window: Duration,
    /// Bytes a connection must deliver within a window of waiting.
    pub read_min_bytes: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            handshake_timeout: Duration::from_secs(5),
            first_bytes_timeout: Duration::from_secs(2),
            max_connections: 1024,
            per_address: 64,
            handshakes_per_address: 16,
            max_handshakes: MAX_HANDSHAKES,
            read_window: Duration::from_secs(30),
            read_min_bytes: 1024,
        }
    }
}

/// What the listener knows of one open connection.
struct Conn {
    ip: IpAddr,
    /// Still in its TLS handshake.
    handshaking: bool,
    /// Shared with the connection's task: how it is told to close, and when it last moved.
    kill: Arc<Kill>,
}

/// How the listener closes a connection it has to make room for, and how it sees whether
/// the connection is in use.
#[derive(Default)]
struct Kill {
    /// Set once: the connection closes at its next poll.
    flag: AtomicBool,
    /// The task to wake when the flag is set (the connection may be waiting for data).
    waker: Mutex<Option<Waker>>,
    /// When bytes last went in or out, in milliseconds since the tracker started.
    active_ms: AtomicU64,
    /// Requests of this connection whose handler is running ([`InUse::enter`]): such a
    /// connection moves no bytes while its handler works (`/audit/verify` asking the peers)
    /// but is not idle.
    busy: AtomicUsize,
}

impl Kill {
    fn killed(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Remembers the task to wake, then checks the flag (so a kill between the check and
    /// the wait is not missed).
    fn park(&self, cx: &Context<'_>) -> bool {
        *self.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
        self.killed()
    }

    fn kill(&self) {
        self.flag.store(true, Ordering::Release);
        if let Some(w) = self.waker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            w.wake();
        }
    }
}

/// Connections open per address and in all, and each open connection.
#[derive(Default)]
struct Counts {
    total: usize,
    handshakes: usize,
    /// Per address: (connections open, handshakes in flight).
    per: HashMap<IpAddr, (usize, usize)>,
    conns: HashMap<u64, Conn>,
    next: u64,
}

impl Counts {
    /// Forgets connection `id` (it ended, or was told to close) in every count.
    fn forget(&mut self, id: u64) -> Option<Conn> {
        let c = self.conns.remove(&id)?;
        self.total = self.total.saturating_sub(1);
        let entry = self.per.entry(c.ip).or_insert((0, 0));
        entry.0 = entry.0.saturating_sub(1);
        if c.handshaking {
            self.handshakes = self.handshakes.saturating_sub(1);
            entry.1 = entry.1.saturating_sub(1);
        }
        if *entry == (0, 0) {
            self.per.remove(&c.ip);
        }
        Some(c)
    }

    /// Closes, among the connections `which` selects, the one idle the longest (no byte in
    /// or out; for handshakes: the oldest). Whether one was closed. A caller that uses its
    /// connection (a station, a steward) finishes its handshake in milliseconds and sends
    /// its request at once, so the one waiting longest is a client holding a slot without
    /// using it, whichever address it comes from (callers behind one address are not
    /// penalised for sharing it).
    fn make_room(&mut self, which: impl Fn(&Conn) -> bool) -> bool {
        let victim = self
            .conns
            .iter()
            .filter(|(_, c)| which(c))
            // A connection whose handler runs goes last; a handshake's activity is its
            // admission (it is touched only once done); ids grow, so ties go to the oldest.
            .min_by_key(|(id, c)| {
                (
                    c.kill.busy.load(Ordering::Relaxed) > 0,
                    c.kill.active_ms.load(Ordering::Relaxed),
                    **id,
                )
            })
            .map(|(id, _)| *id);
        match victim.and_then(|id| self.forget(id)) {
            Some(c) => {
                c.kill.kill();
                true
            }
            None => false,
        }
    }
}

/// The listener's count of what each address holds, shared with every connection's
/// [`Slot`].
struct Tracker {
    counts: Mutex<Counts>,
    epoch: Instant,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            counts: Mutex::default(),
            epoch: Instant::now(),
        }
    }
}

impl Tracker {
    /// A slot for a new connection from `ip` (counted as handshaking), or `None` when `ip`
    /// holds [`ConnLimits::per_address`] connections already. When handshakes or
    /// connections are at their limits, one is closed to make room (module documentation):
    /// a client that holds slots without using them cannot keep anyone else out.
    fn admit(self: &Arc<Self>, ip: IpAddr, limits: &ConnLimits) -> Option<Slot> {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let (open, shaking) = c.per.get(&ip).copied().unwrap_or((0, 0));
        if open >= limits.per_address {
            return None;
        }
        // No room made (a limit of 0): the newcomer is refused.
        if shaking >= limits.handshakes_per_address {
            // This address's own oldest handshake gives way.
            if !c.make_room(|x| x.handshaking && x.ip == ip) {
                return None;
            }
        } else if c.handshakes >= limits.max_handshakes && !c.make_room(|x| x.handshaking) {
            return None;
        }
        if c.total >= limits.max_connections && !c.make_room(|_| true) {
            return None;
        }
        let id = c.next;
        c.next += 1;
        let kill = Arc::new(Kill::default());
        kill.active_ms.store(self.now_ms(), Ordering::Relaxed);
        c.conns.insert(
            id,
            Conn {
                ip,
                handshaking: true,
                kill: Arc::clone(&kill),
            },
        );
        c.total += 1;
        c.handshakes += 1;
        let entry = c.per.entry(ip).or_insert((0, 0));
        entry.0 += 1;
        entry.1 += 1;
        Some(Slot {
            tracker: Arc::clone(self),
            id,
            kill,
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Connection `id` finished its handshake.
    fn handshake_done(&self, id: u64) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let Some(conn) = c.conns.get_mut(&id) else {
            return;
        };
        if !conn.handshaking {
            return;
        }
        conn.handshaking = false;
        let ip = conn.ip;
        c.handshakes = c.handshakes.saturating_sub(1);
        if let Some(e) = c.per.get_mut(&ip) {
            e.1 = e.1.saturating_sub(1);
        }
    }

    fn release(&self, id: u64) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .forget(id);
    }
}

/// One connection's place in the [`Tracker`], given back when dropped.
struct Slot {
    tracker: Arc<Tracker>,
    id: u64,
    kill: Arc<Kill>,
}

impl Slot {
    /// The handshake is over: the connection no longer counts as handshaking.
    fn handshake_done(&mut self) {
        self.tracker.handshake_done(self.id);
    }

    /// Bytes went in or out now.
    fn touch(&self) {
        self.kill
            .active_ms
            .store(self.tracker.now_ms(), Ordering::Relaxed);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.tracker.release(self.id);
    }
}

/// A future that ends early (with `None`) when the listener closes its connection to make
/// room: the handshake's.
struct Killable<F> {
    inner: Pin<Box<F>>,
    kill: Arc<Kill>,
}

impl<F: Future> Future for Killable<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.kill.park(cx) {
            return Poll::Ready(None);
        }
        self.inner.as_mut().poll(cx).map(Some)
    }
}

/// A connection after its handshake: its [`Slot`] in the listener's counts and a bound on
/// every wait for data (module documentation, "Limits").
pub struct Guarded<S> {
    inner: S,
    slot: Slot,
    window: Duration,
    min_bytes: usize,
    /// When the current window of waiting ends, if one runs.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Bytes read since the window started.
    got: usize,
}

impl<S> Guarded<S> {
    /// The stream inside (e.g. to read the TLS session).
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        if this.slot.kill.park(cx) {
            return Poll::Ready(Err(made_room()));
        }
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len() - before;
                if n > 0 {
                    this.slot.touch();
                    if this.got == 0 {
                        // The first bytes after a silence: a fresh window for them.
                        this.deadline = None;
                    }
                    this.got += n;
                    if this.got >= this.min_bytes {
                        this.deadline = None;
                        this.got = 0;
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let window = this.window;
                let sleep = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(window)));
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client sent too little for too long",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.slot.kill.park(cx) {
            return Poll::Ready(Err(made_room()));
        }
        let r = Pin::new(&mut this.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &r {
            if *n > 0 {
                this.slot.touch();
                // An answer is going out: the client's next wait starts afresh.
                this.deadline = None;
                this.got = 0;
            }
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The error a connection closed to make room for others ends with.
fn made_room() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "closed to make room for other clients",
    )
}

/// Who is at the other end of an HTTPS connection: what handlers get through
/// `ConnectInfo<Peer>`.
#[derive(Clone, Debug)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// The SHA-256 fingerprint of the certificate the client presented (and proved it holds
    /// the key of), or `None` if it presented none.
    pub fingerprint: Option<Fingerprint>,
    /// Marks the connection in use while a handler runs for it ([`InUse::enter`]).
    pub in_use: InUse,
}

/// A handle on a connection's place in the listener, for marking it in use while a request's
/// handler runs: the listener making room closes idle connections first, and one whose
/// handler is at work is not idle although no byte moves.
#[derive(Clone, Default)]
pub struct InUse(Option<Arc<Kill>>);

impl std::fmt::Debug for InUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InUse")
    }
}

impl InUse {
    /// The connection is in use until the returned guard is dropped.
    pub fn enter(&self) -> InUseGuard {
        if let Some(k) = &self.0 {
            k.busy.fetch_add(1, Ordering::Relaxed);
        }
        InUseGuard(self.0.clone())
    }
}

/// Ends a use begun by [`InUse::enter`] when dropped (also when the request's future is
/// dropped unfinished).
pub struct InUseGuard(Option<Arc<Kill>>);

impl Drop for InUseGuard {
    fn drop(&mut self) {
        if let Some(k) = &self.0 {
            k.busy.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A connection as handlers get it: TLS over TCP, within the listener's limits.
pub type Stream = Guarded<TlsStream<TcpStream>>;

/// A TCP listener that hands axum TLS streams whose handshakes are done (see the module
/// documentation).
pub struct TlsListener {
    local: SocketAddr,
    state: State,
}

enum State {
    /// Not accepting yet: started by the first `accept`, which runs inside the runtime.
    Idle {
        listener: TcpListener,
        acceptor: TlsAcceptor,
        limits: ConnLimits,
    },
    /// The accept task runs and sends finished handshakes.
    Running {
        ready: mpsc::Receiver<(Stream, Peer)>,
        task: JoinHandle<()>,
    },
    /// Only while switching from `Idle` to `Running`.
    Switching,
}

impl TlsListener {
    /// A listener that accepts on `listener`, runs TLS handshakes with `config` (e.g.
    /// [`tessera_net::https::server_config`]) and holds every client to `limits` (a
    /// handshake not finished within `limits.handshake_timeout` is dropped). Nothing runs
    /// until axum first accepts.
    pub fn new(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
        limits: ConnLimits,
    ) -> TlsListener {
        // A listener bound by the OS always has an address; the unspecified one is only a
        // fallback for `local_addr`, which reports the error again then.
        let local = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        TlsListener {
            local,
            state: State::Idle {
                listener,
                acceptor: TlsAcceptor::from(config),
                limits,
            },
        }
    }

    /// Starts the accept task if it is not running, and returns the channel it feeds.
    fn ready(&mut self) -> &mut mpsc::Receiver<(Stream, Peer)> {
        if let State::Idle { .. } = self.state {
            let State::Idle {
                listener,
                acceptor,
                limits,
            } = std::mem::replace(&mut self.state, State::Switching)
            else {
                unreachable!("matched just above")
            };
            let (tx, ready) = mpsc::channel(QUEUE);
            let task = tokio::spawn(accept_loop(listener, acceptor, limits, tx));
            self.state = State::Running { ready, task };
        }
        match &mut self.state {
            State::Running { ready, .. } => ready,
            State::Idle { .. } | State::Switching => unreachable!("started just above"),
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        if let State::Running { task, .. } = &self.state {
            task.abort();
        }
    }
}

impl Listener for TlsListener {
    type Io = Stream;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready().recv().await {
            Some(next) => next,
            // The accept task ended, which it does only if it panicked; the listening
            // socket went with it. axum's accept must not fail, so accept nothing more
            // (connections already open are still served).
            None => std::future::pending().await,
        }
    }

    /// This listener's address (the `fingerprint` is `None`).
    fn local_addr(&self) -> io::Result<Peer> {
        let addr = match &self.state {
            State::Idle { listener, .. } => listener.local_addr()?,
            _ => self.local,
        };
        Ok(Peer {
            addr,
            fingerprint: None,
            in_use: InUse::default(),
        })
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// Accepts TCP connections until the receiving side is gone, each handshake in its own
/// task; a connection past a limit is closed at once.
async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    limits: ConnLimits,
    tx: mpsc::Sender<(Stream, Peer)>,
) {
    let tracker = Arc::new(Tracker::default());
    loop {
        let (tcp, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                if !is_connection_error(&e) {
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                }
                continue;
            }
        };
        if tx.is_closed() {
            return;
        }
        // Past the address's limit: closed before any TLS.
        let Some(mut slot) = tracker.admit(addr.ip(), &limits) else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            // Nothing is made for a connection until it sends its first bytes (a silent
            // one costs a socket and this task only, for at most `first_bytes_timeout`).
            let first = limits.first_bytes_timeout.min(limits.handshake_timeout);
            let mut byte = [0u8; 1];
            let spoke = Killable {
                inner: Box::pin(tokio::time::timeout(first, tcp.peek(&mut byte))),
                kill: Arc::clone(&slot.kill),
            }
            .await;
            // Silent until the deadline, closed, or closed to make room.
            if !matches!(spoke, Some(Ok(Ok(n))) if n > 0) {
                return;
            }
            let handshake = Killable {
                inner: Box::pin(tokio::time::timeout(
                    limits.handshake_timeout,
                    acceptor.accept(tcp),
                )),
                kill: Arc::clone(&slot.kill),
            }
            .await;
            slot.handshake_done();
            // A failed or late handshake, or one closed to make room: drop the connection,
            // say nothing.
            let Some(Ok(Ok(stream))) = handshake else {
                return;
            };
            slot.touch();
            let fingerprint = tessera_net::https::peer_fingerprint(stream.get_ref().1);
            let in_use = InUse(Some(Arc::clone(&slot.kill)));
            let guarded = Guarded {
                inner: stream,
                slot,
                window: limits.read_window,
                min_bytes: limits.read_min_bytes,
                deadline: None,
                got: 0,
            };
            let peer = Peer {
                addr,
                fingerprint,
                in_use,
            };
            let _ = tx.send((guarded, peer)).await;
        });
    }
}

/// Errors of `accept` that concern one connection only (retry at once).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(c: &mut Counts, active_ms: u64) -> Arc<Kill> {
        let kill = Arc::new(Kill::default());
        kill.active_ms.store(active_ms, Ordering::Relaxed);
        let id = c.next;
        c.next += 1;
        c.conns.insert(
            id,
            Conn {
                ip: IpAddr::from([127, 0, 0, 1]),
                handshaking: false,
                kill: Arc::clone(&kill),
            },
        );
        c.total += 1;
        c.per
            .entry(IpAddr::from([127, 0, 0, 1]))
            .or_insert((0, 0))
            .0 += 1;
        kill
    }

    /// The connection idle the longest gives way, unless a handler runs for it (review of
    /// issue 14: `/audit/verify` asking the peers looked idle and could be closed).
    #[test]
    fn a_connection_whose_handler_runs_gives_way_last() {
        let mut c = Counts::default();
        let working = conn(&mut c, 10);
        let idle = conn(&mut c, 20);
        let recent = conn(&mut c, 30);
        let in_use = InUse(Some(Arc::clone(&working)));
        let guard = in_use.enter();
        assert!(c.make_room(|_| true));
        assert!(idle.killed() && !working.killed() && !recent.killed());
        assert!(c.make_room(|_| true));
        assert!(recent.killed() && !working.killed());
        // Every candidate busy: the one idle the longest goes all the same.
        let late = conn(&mut c, 40);
        let _also = InUse(Some(Arc::clone(&late))).enter();
        assert!(c.make_room(|_| true));
        assert!(working.killed() && !late.killed());
        drop(guard);
        assert_eq!(working.busy.load(Ordering::Relaxed), 0);
        assert_eq!(c.total, 1);
    }
}
