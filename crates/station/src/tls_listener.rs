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
//! the connection is dropped without a word logged. At most [`MAX_HANDSHAKES`] handshakes
//! run at once (each holds a socket); past that, TCP connections wait in the kernel's
//! backlog until a handshake ends. Errors of `accept` itself (a connection reset while
//! queued, or running out of file descriptors) are retried, after a pause for the latter,
//! so axum's `accept` never fails, as its trait requires. Dropping the listener (when
//! `axum::serve` ends) stops the accept task; handshakes in flight end at their timeout.
//!
//! The runtime must have its time driver enabled (`enable_time` or `enable_all`): the
//! handshake timeout uses it.
//!
//! # Cost
//!
//! One task per handshake in flight and one for the accept loop; the TLS handshake itself
//! is one round trip and a few kilobytes (see [`tessera_net::https`]).
//!
//! LEAKAGE: nothing is opened or logged here; the fingerprint of a client's certificate is
//! passed to the handlers, which authorise by it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tessera_net::identity::Fingerprint;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The most TLS handshakes in flight at once (each holds a socket and a task).
pub const MAX_HANDSHAKES: usize = 256;

/// How many finished handshakes may wait for axum to take them.
const QUEUE: usize = 64;

/// How long the accept loop pauses after an `accept` error that is not about one
/// connection (e.g. too many open files), so it does not spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(200);

/// Who is at the other end of an HTTPS connection: what handlers get through
/// `ConnectInfo<Peer>`.
#[derive(Clone, Debug)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// The SHA-256 fingerprint of the certificate the client presented (and proved it holds
    /// the key of), or `None` if it presented none.
    pub fingerprint: Option<Fingerprint>,
}

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
        timeout: Duration,
    },
    /// The accept task runs and sends finished handshakes.
    Running {
        ready: mpsc::Receiver<(TlsStream<TcpStream>, Peer)>,
        task: JoinHandle<()>,
    },
    /// Only while switching from `Idle` to `Running`.
    Switching,
}

impl TlsListener {
    /// A listener that accepts on `listener`, runs TLS handshakes with `config` (e.g.
    /// [`tessera_net::https::server_config`]) and drops a connection whose handshake has
    /// not finished within `handshake_timeout`. Nothing runs until axum first accepts.
    pub fn new(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
        handshake_timeout: Duration,
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
                timeout: handshake_timeout,
            },
        }
    }

    /// Starts the accept task if it is not running, and returns the channel it feeds.
    fn ready(&mut self) -> &mut mpsc::Receiver<(TlsStream<TcpStream>, Peer)> {
        if let State::Idle { .. } = self.state {
            let State::Idle {
                listener,
                acceptor,
                timeout,
            } = std::mem::replace(&mut self.state, State::Switching)
            else {
                unreachable!("matched just above")
            };
            let (tx, ready) = mpsc::channel(QUEUE);
            let task = tokio::spawn(accept_loop(listener, acceptor, timeout, tx));
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
    type Io = TlsStream<TcpStream>;
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
        })
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// Accepts TCP connections until the receiving side is gone, each handshake in its own
/// task.
async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    timeout: Duration,
    tx: mpsc::Sender<(TlsStream<TcpStream>, Peer)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return; // never closed
        };
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
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(timeout, acceptor.accept(tcp)).await;
            drop(permit);
            // A failed or late handshake: drop the connection, say nothing.
            let Ok(Ok(stream)) = handshake else {
                return;
            };
            let fingerprint = tessera_net::https::peer_fingerprint(stream.get_ref().1);
            let _ = tx.send((stream, Peer { addr, fingerprint })).await;
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
