//! What the TCP and TLS transports share: setting up the three connections over a listener
//! (topology, dialing with backoff, accepting, the hello that binds a connection to one
//! computation), and the two threads per connection that carry frames between the socket and
//! the endpoint's queues.
//!
//! A [`Transport`] says how a freshly connected socket is secured (nothing for TCP, a TLS
//! handshake for TLS), how the peer's credentials are checked against the party index its
//! hello claims, and how the secured stream is read and written afterwards. Everything else —
//! who dials whom, retries, deadlines, the hello, error messages naming the peer — is written
//! once, here. [`crate::tcp`]'s module documentation describes the protocol.
//!
//! Anyone can connect to a listening party. A connection that is not a party's — no
//! credentials this party pins, no hello, something else than our protocol — is dropped and
//! logged (standard error) and accepting goes on until the setup deadline, so a port scan or
//! a stray client cannot abort a computation; the last dropped connection is named in the
//! error if a peer never arrives. A caller that speaks our protocol but disagrees (another
//! session, version or slot) fails the setup at once, naming it: over TLS it has proved to
//! be a listed party.
//!
//! Nor can such connections hold up the parties':
//!
//! - each accepted connection's handshake runs on its own thread, and must bring its first
//!   bytes within [`FIRST_BYTES_WAIT`] (2 s) and be done within [`HANDSHAKE_LIMIT`] (5 s),
//!   however far the setup deadline is: a party's dialer speaks at once and needs a few
//!   round trips;
//! - at most [`MAX_HANDSHAKES`] (16) handshakes run at once, at most
//!   [`MAX_HANDSHAKES_PER_ADDRESS`] (4) from one IP address. A new connection is never
//!   refused for want of a slot: one under way gives way and is closed — one of its own
//!   address's if that address is at its cap, otherwise (all slots taken) one of the
//!   address holding the most slots, preferring addresses where no party that dials us is
//!   listed; among those a silent one first, then the oldest. A handshake whose hello has
//!   been read and judged never gives way: its verdict counts;
//! - a dialer whose connection is closed or reset before the hellos are exchanged, without
//!   a word (no TLS alert, no refusal `TSRN`), dials again with the usual backoff until the
//!   deadline; only if nobody listens any more (the acceptor has given up: plain TCP
//!   refuses a hello by closing) does it fail at once, with the close as the reason. An
//!   explicit refusal, a TLS alert or a wrong hello ends the setup at once, as before.
//!
//! So idle or stalled connections, from one address or many, cost a party at most a retry.
//! What is left is flooding. A party's handshake gives way only to connections from its own
//! IP address (after that address's silent and older ones), or when every other slot is
//! held by an address where a party is listed — for instance when the party dials from an
//! address other than the one listed for it (NAT, several interfaces); then it gives way to
//! an attacker holding more slots from one address than the party does. An attacker in
//! such a place that opens connections faster than a handshake completes (a few round
//! trips), sending a byte on each so that they are not silent, can keep closing a party's
//! handshakes: it dials again until the deadline, then fails with [`NetError::Connect`].
//! Each connection also costs a thread while in its handshake (evicted ones end at once).
//! And plain TCP authenticates nobody: whoever knows the session id can pose as a party
//! (TLS closes that). A computation's ports should be reachable only from the other
//! stations (a firewall); no setup protocol replaces that. Every handshake read and write
//! has a deadline, so a fault on either side ends in an error on every party, not a hang.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::frame::FrameError;
use crate::tcp::TcpConfig;
use crate::{Endpoint, Frame, Link, NetError, PARTIES};

/// Version of the wire protocol (hello and frames); parties with different versions refuse
/// to talk to each other rather than misread each other's bytes. Version 2 added data
/// frames on sub-session channels (frame kind 2, a u32 id from one counter per connection);
/// version 3 replaced them by kind 3, whose channel id is the sub-session's path in the fork
/// tree ([`crate::ChannelId`], see [`crate::Frame`]), so that sub-sessions on several threads
/// can split again and the parties still agree on every id.
pub const PROTOCOL_VERSION: u16 = 3;

/// First bytes of every hello: tells a tessera party from anything else on the port.
pub(crate) const MAGIC: [u8; 4] = *b"TSRA";

/// First bytes of a refusal, which an acceptor sends instead of its hello to a caller whose
/// credentials it has verified (TLS), so that the caller learns why it was refused. Followed
/// by a little-endian u16 length and that many bytes of UTF-8 text.
pub(crate) const REFUSAL_MAGIC: [u8; 4] = *b"TSRN";

/// Longest refusal text sent or read.
const MAX_REFUSAL: usize = 1000;

/// Size of the hello: magic, version, party index, session.
pub(crate) const HELLO_LEN: usize = 4 + 2 + 1 + 16;

/// Capacity of each stream's read and write buffers; writes at least this large go straight
/// to the stream.
pub(crate) const IO_BUFFER: usize = 1 << 20;

/// First pause between two dialing attempts; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(20);

/// Longest pause between two dialing attempts.
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// How often the listener is polled for incoming connections during setup.
const ACCEPT_POLL: Duration = Duration::from_millis(2);

/// Shortest deadline given to a handshake read, so a connection made just before the setup
/// deadline still has a moment to say hello.
pub(crate) const MIN_HANDSHAKE_WAIT: Duration = Duration::from_millis(100);

/// A stream over a TCP socket, as used during setup: reads and writes go through the
/// transport (e.g. TLS), deadlines are set on the socket.
pub(crate) trait SetupStream: Read + Write + Send + 'static {
    /// The socket underneath, on which read and write timeouts are set.
    fn socket(&self) -> &TcpStream;
}

impl SetupStream for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }
}

/// Why an accepted connection was dropped before its hello could be read.
pub(crate) struct Refused {
    /// What went wrong, in words (naming the party the caller claims to be, if any).
    pub why: String,
}

/// Why a dialed connection could not be secured.
#[derive(Debug)]
pub(crate) struct Unsecured {
    /// What went wrong, in words: the detail of a [`NetError::Connect`] naming the peer.
    pub why: String,
    /// Whether the peer closed or reset the connection without a word (no alert, no
    /// refusal): it may have dropped it to make room for other handshakes, so the dialer
    /// tries again.
    pub closed: bool,
}

/// How connections are secured and carried: the part of a transport that is not shared.
pub(crate) trait Transport: Send + Sync + 'static {
    /// The secured stream.
    type Stream: SetupStream;

    /// Secures a connection this party dialed to `peer`, before `until`.
    fn secure_dialed(
        &self,
        peer: usize,
        socket: TcpStream,
        until: Instant,
    ) -> Result<Self::Stream, Unsecured>;

    /// Secures a connection accepted by the listener, before `until`.
    fn secure_accepted(&self, socket: TcpStream, until: Instant) -> Result<Self::Stream, Refused>;

    /// Checks that the caller of an accepted connection, whose hello says it is `party`, is
    /// authenticated as that party (always true for plain TCP, which authenticates nobody).
    fn check_caller(&self, stream: &Self::Stream, party: usize) -> Result<(), String>;

    /// Whether callers are authenticated before their hello is read, so that a refusal can
    /// tell them why (plain TCP tells an unauthenticated caller nothing).
    fn explains_refusals(&self) -> bool;

    /// Explains an error met while reading the peer's hello, when the transport knows more
    /// than that the stream failed (e.g. a TLS alert saying our certificate was refused).
    fn explain_read_error(&self, _e: &io::Error) -> Option<String> {
        None
    }

    /// What a dialer should check when its hello is answered by a closed connection.
    fn refusal_hint(&self) -> &'static str;

    /// Starts the reader and writer of a connection that passed the handshake.
    fn start_link(&self, me: usize, peer: usize, stream: Self::Stream) -> Result<Link, NetError>;
}

/// Connects party `cfg.me` to the two others over `transport`, with a listener the caller
/// has bound (see [`crate::tcp::connect_with_listener`] for the contract).
pub(crate) fn establish<T: Transport>(
    cfg: &TcpConfig,
    listener: TcpListener,
    transport: Arc<T>,
) -> Result<Endpoint, NetError> {
    check_index(cfg)?;
    let me = cfg.me;
    let deadline = Instant::now() + cfg.connect_timeout;
    let cancel = Arc::new(AtomicBool::new(false));
    let listen_err = |e: io::Error| NetError::Connect {
        peer: me,
        detail: format!("cannot use the listener: {e}"),
    };
    listener.set_nonblocking(true).map_err(listen_err)?;

    // Dial the lower-numbered parties in background threads while this thread accepts.
    type Dialed<S> = (usize, Result<S, String>);
    let (dialed_tx, dialed_rx) = channel::<Dialed<T::Stream>>();
    for peer in 0..me {
        let (cfg, stop, dialed_tx) = (cfg.clone(), Arc::clone(&cancel), dialed_tx.clone());
        let transport = Arc::clone(&transport);
        let spawned = thread::Builder::new()
            .name(format!("tessera-dial-{me}-{peer}"))
            .spawn(move || {
                let got = dial(&cfg, &*transport, peer, deadline, &stop);
                let _ = dialed_tx.send((peer, got));
            });
        if let Err(e) = spawned {
            cancel.store(true, Ordering::Relaxed);
            return Err(NetError::Connect {
                peer,
                detail: format!("cannot start a thread: {e}"),
            });
        }
    }
    drop(dialed_tx);

    let fail = |e: NetError| {
        cancel.store(true, Ordering::Relaxed);
        e
    };
    let mut streams: [Option<T::Stream>; PARTIES] = Default::default();
    let mut dialing = me;
    let mut last_accept_error: Option<io::Error> = None;
    let (accepted_tx, accepted_rx) = channel::<(u64, Accepted<T::Stream>)>();
    // The addresses our dialers are listed at: their handshakes are the last to be evicted.
    let party_hosts: Vec<IpAddr> = ((me + 1)..PARTIES)
        .map(|j| cfg.addrs[j].ip().to_canonical())
        .collect();
    // Dropped on every way out, which closes the connections still in their handshake.
    let mut handshakes = Handshakes::new(party_hosts);
    let mut last_dropped: Option<String> = None;
    loop {
        while let Ok((peer, got)) = dialed_rx.try_recv() {
            dialing -= 1;
            streams[peer] = Some(dialed(&dialed_rx, dialing, peer, got).map_err(fail)?);
        }
        let awaited: Vec<usize> = ((me + 1)..PARTIES)
            .filter(|&j| streams[j].is_none())
            .collect();
        if awaited.is_empty() && dialing == 0 {
            break;
        }
        let now = Instant::now();
        if !awaited.is_empty() && now >= deadline {
            // Handshakes under way end by the deadline too: their verdicts say what was
            // dropped (a caller that dripped its hello, a certificate refused).
            let until = Instant::now() + MIN_HANDSHAKE_WAIT;
            while !handshakes.is_empty() {
                let left = until.saturating_duration_since(Instant::now());
                match accepted_rx.recv_timeout(left) {
                    Ok((id, got)) => {
                        if !handshakes.finished(id) {
                            continue;
                        }
                        if let Accepted::Dropped(why) = got {
                            eprintln!("tessera net: party {me}: {why}");
                            last_dropped = Some(why);
                        }
                    }
                    Err(_) => break,
                }
            }
            // Dialing threads honour the same deadline; collect their verdicts so the error
            // lists every peer that is missing.
            let mut missing: Vec<(usize, String)> = awaited
                .iter()
                .map(|&j| {
                    let mut why = format!(
                        "party {j} did not connect to us within {:?}",
                        cfg.connect_timeout
                    );
                    if let Some(e) = &last_accept_error {
                        why.push_str(&format!(" (last accept error: {e})"));
                    }
                    if let Some(d) = &last_dropped {
                        why.push_str(&format!(" (last connection dropped: {d})"));
                    }
                    (j, why)
                })
                .collect();
            cancel.store(true, Ordering::Relaxed);
            while dialing > 0 {
                match dialed_rx.recv_timeout(MAX_BACKOFF + MIN_HANDSHAKE_WAIT) {
                    Ok((peer, got)) => {
                        dialing -= 1;
                        if let Err(why) = got {
                            missing.push((peer, why));
                        }
                    }
                    Err(_) => break,
                }
            }
            return Err(missing_error(missing));
        }
        if awaited.is_empty() {
            // Only dials are outstanding; they end by the deadline on their own.
            match dialed_rx.recv_timeout(MAX_BACKOFF) {
                Ok((peer, got)) => {
                    dialing -= 1;
                    streams[peer] = Some(dialed(&dialed_rx, dialing, peer, got).map_err(fail)?);
                }
                Err(_) if Instant::now() > deadline + MAX_BACKOFF + MIN_HANDSHAKE_WAIT => {
                    let peer = (0..me).find(|&j| streams[j].is_none()).unwrap_or(0);
                    let detail = "dialing did not finish in time".to_string();
                    return Err(fail(NetError::Connect { peer, detail }));
                }
                Err(_) => {}
            }
            continue;
        }
        // Handshakes run on their own threads, so a caller that says nothing cannot hold up
        // the others; what they found is collected here.
        while let Ok((id, got)) = accepted_rx.try_recv() {
            if !handshakes.finished(id) {
                // Evicted: already logged, and its connection closed.
                continue;
            }
            match got {
                Accepted::Party(peer, stream) if streams[peer].is_none() => {
                    streams[peer] = Some(stream);
                }
                Accepted::Party(peer, _) => {
                    return Err(fail(NetError::Connect {
                        peer,
                        detail: format!("it says it is party {peer}, which is already connected"),
                    }));
                }
                Accepted::Dropped(why) => {
                    eprintln!("tessera net: party {me}: {why}");
                    last_dropped = Some(why);
                }
                Accepted::Failed(e) => return Err(fail(e)),
            }
        }
        match listener.accept() {
            Ok((socket, from)) => {
                let ip = from.ip().to_canonical();
                let room = handshakes.make_room(ip);
                if let Some(why) = &room.evicted {
                    eprintln!("tessera net: party {me}: {why}");
                    last_dropped = Some(why.clone());
                }
                if !room.admitted {
                    let why = format!(
                        "dropped a connection from {from}: {} handshakes under way",
                        handshakes.len()
                    );
                    eprintln!("tessera net: party {me}: {why}");
                    last_dropped = Some(why);
                    continue;
                }
                let progress = Arc::new(AtomicU8::new(SILENT));
                // A handle on the socket, to close it if the handshake must make room.
                let handle = match socket.try_clone() {
                    Ok(h) => h,
                    Err(e) => {
                        let why = format!("dropped a connection from {from}: {e}");
                        eprintln!("tessera net: party {me}: {why}");
                        last_dropped = Some(why);
                        continue;
                    }
                };
                let id = handshakes.next_id();
                let (cfg, transport, tx) =
                    (cfg.clone(), Arc::clone(&transport), accepted_tx.clone());
                let awaited = awaited.clone();
                let shared = Arc::clone(&progress);
                let spawned = thread::Builder::new()
                    .name(format!("tessera-accept-{me}"))
                    .spawn(move || {
                        let got =
                            accept(&cfg, &*transport, socket, from, &awaited, deadline, &shared);
                        let _ = tx.send((id, got));
                    });
                match spawned {
                    Ok(_) => handshakes.push(Handshake {
                        id,
                        from,
                        ip,
                        started: Instant::now(),
                        progress,
                        socket: handle,
                    }),
                    Err(e) => {
                        let why = format!("dropped a connection from {from}: no thread: {e}");
                        eprintln!("tessera net: party {me}: {why}");
                        last_dropped = Some(why);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(ACCEPT_POLL),
            Err(e) => {
                // Accept errors (a connection reset while queued, out of descriptors) concern
                // one attempt, not the listener: keep trying until the deadline.
                last_accept_error = Some(e);
                thread::sleep(ACCEPT_POLL);
            }
        }
    }
    drop(handshakes);
    drop(listener);

    let mut links: [Option<Link>; PARTIES] = Default::default();
    for (peer, stream) in streams.into_iter().enumerate() {
        if let Some(stream) = stream {
            links[peer] = Some(transport.start_link(me, peer, stream)?);
        }
    }
    Ok(Endpoint::new(me, links, cfg.recv_timeout))
}

/// The outcome of one dial: its stream, or (after letting the `dialing` other dials
/// settle, see [`settle_dials`]) the error naming the peer.
fn dialed<S>(
    others: &Receiver<(usize, Result<S, String>)>,
    dialing: usize,
    peer: usize,
    got: Result<S, String>,
) -> Result<S, NetError> {
    got.map_err(|detail| {
        settle_dials(others, dialing);
        NetError::Connect { peer, detail }
    })
}

/// After one dial failed, gives the other dials a moment to finish their handshakes before
/// this party gives up, so that every peer hears our hello (and refuses it with the real
/// reason) instead of waiting out its connect timeout for a party that has already left.
fn settle_dials<S>(dialed: &Receiver<(usize, Result<S, String>)>, mut dialing: usize) {
    let until = Instant::now() + MAX_BACKOFF + MIN_HANDSHAKE_WAIT;
    while dialing > 0 {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || dialed.recv_timeout(left).is_err() {
            break;
        }
        dialing -= 1;
    }
}

pub(crate) fn check_index(cfg: &TcpConfig) -> Result<(), NetError> {
    if cfg.me >= PARTIES {
        return Err(NetError::Connect {
            peer: cfg.me,
            detail: format!("party index {} out of range 0..{PARTIES}", cfg.me),
        });
    }
    Ok(())
}

/// One error for several missing peers: names the lowest, lists them all.
fn missing_error(mut missing: Vec<(usize, String)>) -> NetError {
    missing.sort_by_key(|m| m.0);
    let mut it = missing.into_iter();
    let (peer, mut detail) = it.next().expect("at least one peer is missing");
    for (j, why) in it {
        detail.push_str(&format!("; party {j} was not reached either: {why}"));
    }
    NetError::Connect { peer, detail }
}

/// The hello this party sends.
pub(crate) fn encode_hello(me: usize, session: &[u8; 16]) -> [u8; HELLO_LEN] {
    let mut h = [0u8; HELLO_LEN];
    h[..4].copy_from_slice(&MAGIC);
    h[4..6].copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    h[6] = me as u8;
    h[7..].copy_from_slice(session);
    h
}

/// Why no hello could be read.
enum HelloError {
    /// The peer sent a refusal instead, with this text.
    Refused(String),
    /// The transport knows why the stream failed.
    Explained(String),
    /// The connection was closed or reset before a whole hello arrived, without a word.
    Closed(String),
    /// The stream failed or carried something else.
    Bad(String),
}

impl HelloError {
    fn into_text(self) -> String {
        match self {
            HelloError::Refused(why) => format!("it refused us: {why}"),
            HelloError::Explained(why) => format!("it {why}"),
            HelloError::Closed(why) | HelloError::Bad(why) => why,
        }
    }
}

/// A hello as read from the wire (magic already checked).
struct Hello {
    version: u16,
    party: u8,
    session: [u8; 16],
}

/// Fills `buf` from the stream before `until`. The socket timeout is renewed before each
/// read, so a peer that drips bytes slowly cannot stretch the handshake past `until`.
pub(crate) fn read_until(
    stream: &mut impl SetupStream,
    buf: &mut [u8],
    until: Instant,
) -> io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.socket().set_read_timeout(Some(left))?;
        match stream.read(&mut buf[got..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether an error means that the peer closed or reset the connection.
pub(crate) fn closed_early(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Describes a failed hello read in words.
pub(crate) fn hello_read_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            "no complete hello within the connect timeout".into()
        }
        io::ErrorKind::UnexpectedEof => "connection closed before a complete hello arrived".into(),
        _ => format!("reading the hello failed: {e}"),
    }
}

/// Reads a hello before `until`, checking the magic as soon as its four bytes are in so that
/// a client that is not a tessera party is refused without waiting for more. A refusal sent
/// instead of a hello is returned as an error quoting it.
fn read_hello<T: Transport>(
    transport: &T,
    stream: &mut T::Stream,
    until: Instant,
) -> Result<Hello, HelloError> {
    let describe = |e: io::Error| match transport.explain_read_error(&e) {
        Some(why) => HelloError::Explained(why),
        None if closed_early(&e) => HelloError::Closed(hello_read_error(&e)),
        None => HelloError::Bad(hello_read_error(&e)),
    };
    let mut h = [0u8; HELLO_LEN];
    read_until(stream, &mut h[..4], until).map_err(describe)?;
    if h[..4] == REFUSAL_MAGIC {
        let mut len = [0u8; 2];
        read_until(stream, &mut len, until).map_err(describe)?;
        let mut text = vec![0u8; usize::from(u16::from_le_bytes(len)).min(MAX_REFUSAL)];
        read_until(stream, &mut text, until).map_err(describe)?;
        return Err(HelloError::Refused(
            String::from_utf8_lossy(&text).into_owned(),
        ));
    }
    if h[..4] != MAGIC {
        let what = if h[0] == 0x16 {
            " (it looks like a TLS client: this party runs without TLS)"
        } else {
            ""
        };
        return Err(HelloError::Bad(format!(
            "not a tessera party (bad magic {:02x?}){what}",
            &h[..4]
        )));
    }
    read_until(stream, &mut h[4..], until).map_err(describe)?;
    Ok(Hello {
        version: u16::from_le_bytes([h[4], h[5]]),
        party: h[6],
        session: h[7..].try_into().expect("16 bytes"),
    })
}

/// Checks the version and session of a hello.
fn check_hello(hello: &Hello, session: &[u8; 16]) -> Result<(), String> {
    if hello.version != PROTOCOL_VERSION {
        return Err(format!(
            "protocol version {} (we speak {PROTOCOL_VERSION})",
            hello.version
        ));
    }
    if &hello.session != session {
        return Err(format!(
            "different session id {} (ours is {})",
            hex(&hello.session),
            hex(session)
        ));
    }
    Ok(())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Time a handshake starting now may take: what is left until `deadline`, but never less
/// than [`MIN_HANDSHAKE_WAIT`].
pub(crate) fn handshake_wait(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(MIN_HANDSHAKE_WAIT)
}

/// Writes `bytes` and flushes them before the socket's write timeout (`wait`).
fn send_all(stream: &mut impl SetupStream, bytes: &[u8], wait: Duration) -> io::Result<()> {
    stream.socket().set_write_timeout(Some(wait))?;
    stream.write_all(bytes)?;
    stream.flush()
}

/// What became of one accepted connection.
enum Accepted<S> {
    /// A party's connection that passed every check.
    Party(usize, S),
    /// Not a party: no credentials this party pins, no hello, or not our protocol (a port
    /// scan, a stray client). Dropped, with why; the setup goes on until its deadline.
    Dropped(String),
    /// A caller that spoke our protocol (over TLS: authenticated as a listed party) but
    /// disagrees on the session, the version or its slot: the setup fails at once, naming it.
    Failed(NetError),
}

/// Most handshakes of accepted connections under way at once. A connection that finds them
/// all taken makes room by closing another (see [`Handshakes::make_room`]).
const MAX_HANDSHAKES: usize = 16;

/// Most handshakes under way at once from one IP address: a new connection from an address
/// that has this many closes one of that address's own.
const MAX_HANDSHAKES_PER_ADDRESS: usize = 4;

/// Longest an accepted connection may say nothing: a party's dialer speaks at once (its
/// hello, or the first message of the TLS handshake), so a caller silent for this long is
/// not one and is dropped.
const FIRST_BYTES_WAIT: Duration = Duration::from_secs(2);

/// Longest the handshake of an accepted connection may take in all (TLS and the hellos),
/// however far the setup deadline is: a caller that dawdles is dropped, and a party whose
/// connection was dropped dials again.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(5);

/// [`Handshake::progress`]: nothing received yet.
const SILENT: u8 = 0;
/// [`Handshake::progress`]: the caller has sent something.
const SPOKE: u8 = 1;
/// [`Handshake::progress`]: the caller's hello was read and judged; its verdict is on the
/// way and the connection is no longer closed to make room.
const JUDGED: u8 = 2;
/// [`Handshake::progress`]: closed to make room for another connection.
const EVICTED: u8 = 3;

/// One accepted connection whose handshake runs on its own thread.
struct Handshake {
    /// Tells its verdict from others on the channel.
    id: u64,
    /// The caller's address.
    from: SocketAddr,
    /// The caller's IP address, IPv4-mapped IPv6 addresses as IPv4.
    ip: IpAddr,
    /// When it was accepted.
    started: Instant,
    /// How far it got: [`SILENT`], [`SPOKE`], [`JUDGED`] or [`EVICTED`], shared with its
    /// thread.
    progress: Arc<AtomicU8>,
    /// A handle on its socket, to close it (which ends the thread's blocked reads at once).
    socket: TcpStream,
}

/// What [`Handshakes::make_room`] did for a new connection.
struct Room {
    /// Whether the new connection may start its handshake.
    admitted: bool,
    /// The connection closed to make room, in words.
    evicted: Option<String>,
}

/// The handshakes of accepted connections under way, and which one gives way when a new
/// connection needs a slot.
struct Handshakes {
    slots: Vec<Handshake>,
    /// Where the parties that dial us are listed: their handshakes give way last.
    party_hosts: Vec<IpAddr>,
    next: u64,
}

impl Handshakes {
    fn new(party_hosts: Vec<IpAddr>) -> Self {
        Handshakes {
            slots: Vec::new(),
            party_hosts,
            next: 0,
        }
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// A fresh id for the next handshake.
    fn next_id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn push(&mut self, h: Handshake) {
        self.slots.push(h);
    }

    /// Frees the slot of the handshake that sent verdict `id`; false if it was evicted (its
    /// verdict is then of no interest).
    fn finished(&mut self, id: u64) -> bool {
        match self.slots.iter().position(|h| h.id == id) {
            Some(i) => {
                self.slots.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// Makes room for a new connection from `ip`: when its address already has
    /// [`MAX_HANDSHAKES_PER_ADDRESS`] handshakes under way, one of them is closed; when all
    /// [`MAX_HANDSHAKES`] slots are taken, one from the address that holds the most of
    /// them (preferring addresses where no party is listed). Either way the one closed is
    /// a silent one if there is one, and the oldest. A party speaks at once and is done in a
    /// few round trips, so it is neither silent nor old; should it be closed anyway, it
    /// dials again.
    fn make_room(&mut self, ip: IpAddr) -> Room {
        let victim = self.victim(ip, Instant::now());
        let Some(i) = victim else {
            return Room {
                admitted: self.slots.len() < MAX_HANDSHAKES,
                evicted: None,
            };
        };
        let h = self.slots.swap_remove(i);
        let evicted = format!(
            "dropped a connection from {} after {:?} ({}) to make room for one from {ip}",
            h.from,
            h.started.elapsed(),
            if h.progress.load(Ordering::Relaxed) == SILENT {
                "silent"
            } else {
                "no hello yet"
            }
        );
        if h.evict() {
            Room {
                admitted: true,
                evicted: Some(evicted),
            }
        } else {
            // Its hello was judged in the meantime: its verdict frees its slot soon; put it
            // back and turn the newcomer away.
            self.slots.push(h);
            Room {
                admitted: false,
                evicted: None,
            }
        }
    }

    /// Which handshake gives way to a new connection from `ip`, if one must (see
    /// [`Handshakes::make_room`]). Handshakes whose hello has been judged never do.
    fn victim(&self, ip: IpAddr, now: Instant) -> Option<usize> {
        let count = |a: IpAddr| self.slots.iter().filter(|h| h.ip == a).count();
        let own = count(ip) >= MAX_HANDSHAKES_PER_ADDRESS;
        if !own && self.slots.len() < MAX_HANDSHAKES {
            return None;
        }
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, h)| !own || h.ip == ip)
            .filter(|(_, h)| h.progress.load(Ordering::Relaxed) < JUDGED)
            .min_by_key(|(_, h)| {
                (
                    self.party_hosts.contains(&h.ip),
                    std::cmp::Reverse(count(h.ip)),
                    h.progress.load(Ordering::Relaxed) != SILENT,
                    std::cmp::Reverse(now.saturating_duration_since(h.started)),
                )
            })
            .map(|(i, _)| i)
    }
}

impl Handshake {
    /// Closes the connection unless its hello has been judged; whether it was closed.
    fn evict(&self) -> bool {
        let mut now = self.progress.load(Ordering::Acquire);
        loop {
            match now {
                JUDGED => return false,
                EVICTED => return true,
                _ => {}
            }
            match self
                .progress
                .compare_exchange(now, EVICTED, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(actual) => now = actual,
            }
        }
        let _ = self.socket.shutdown(Shutdown::Both);
        true
    }
}

impl Drop for Handshakes {
    /// Setup is over: connections still in their handshake are closed.
    fn drop(&mut self) {
        for h in &self.slots {
            h.evict();
        }
    }
}

/// Handshake on a connection accepted from the listener: waits for the caller's first bytes
/// (at most [`FIRST_BYTES_WAIT`]), secures the connection, reads and checks the caller's
/// hello and credentials, then answers with ours (see [`Accepted`]); all within
/// [`HANDSHAKE_LIMIT`]. `progress` tells the accepting loop how far it got (see
/// [`Handshake::progress`]); once the loop has set it to [`EVICTED`] (and closed the socket),
/// the verdict is of no interest.
fn accept<T: Transport>(
    cfg: &TcpConfig,
    transport: &T,
    socket: TcpStream,
    from: SocketAddr,
    awaited: &[usize],
    deadline: Instant,
    progress: &AtomicU8,
) -> Accepted<T::Stream> {
    // Whom to blame when the caller proves who it is but has no place here.
    let unknown = awaited.first().copied().unwrap_or(cfg.me);
    // A caller claiming to be a real party other than us is blamed by that name, even when it
    // should not be dialing us or already has; anything else by the first missing dialer.
    let blame = |party: usize| {
        if party < PARTIES && party != cfg.me {
            party
        } else {
            unknown
        }
    };
    let dropped =
        |why: String| Accepted::Dropped(format!("dropped a connection from {from}: {why}"));
    if let Err(e) = socket.set_nonblocking(false) {
        return dropped(e.to_string());
    }
    let wait = handshake_wait(deadline).min(HANDSHAKE_LIMIT);
    let until = Instant::now() + wait;
    // A party speaks at once; a caller that does not is dropped long before the deadline.
    let silence = wait.min(FIRST_BYTES_WAIT);
    let first = socket
        .set_read_timeout(Some(silence))
        .and_then(|()| socket.peek(&mut [0u8; 1]));
    match first {
        Ok(0) => return dropped("it closed the connection without a word".into()),
        Ok(_) => {}
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            return dropped(format!("it said nothing within {silence:?}"))
        }
        Err(e) => return dropped(format!("waiting for its first bytes failed: {e}")),
    }
    if progress
        .compare_exchange(SILENT, SPOKE, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return dropped("closed to make room for another connection".into());
    }
    let mut stream = match transport.secure_accepted(socket, until) {
        Ok(s) => s,
        Err(r) => return dropped(r.why),
    };
    let hello = match read_hello(transport, &mut stream, until) {
        Ok(h) => h,
        Err(e) => return dropped(e.into_text()),
    };
    let party = usize::from(hello.party);
    let mut verdict = check_hello(&hello, &cfg.session);
    if verdict.is_ok() && !awaited.contains(&party) {
        verdict = Err(if party <= cfg.me || party >= PARTIES {
            format!(
                "it says it is party {party}, which is not a party that dials party {}",
                cfg.me
            )
        } else {
            format!("it says it is party {party}, which is already connected")
        });
    }
    if verdict.is_ok() {
        verdict = transport.check_caller(&stream, party);
    }
    // From here on the connection is not closed to make room: its verdict counts.
    if progress
        .compare_exchange(SPOKE, JUDGED, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return dropped("closed to make room for another connection".into());
    }
    if let Err(why) = verdict {
        if transport.explains_refusals() {
            // Best effort: the caller is authenticated, so it may learn why we refuse it.
            let text = format!("party {} refused party {party}: {why}", cfg.me);
            let text = &text.as_bytes()[..text.len().min(MAX_REFUSAL)];
            let mut msg = REFUSAL_MAGIC.to_vec();
            msg.extend_from_slice(&(text.len() as u16).to_le_bytes());
            msg.extend_from_slice(text);
            let _ = send_all(&mut stream, &msg, MIN_HANDSHAKE_WAIT);
        }
        return Accepted::Failed(NetError::Connect {
            peer: blame(party),
            detail: format!("refused a connection from {from}: {why}"),
        });
    }
    if let Err(e) = send_all(&mut stream, &encode_hello(cfg.me, &cfg.session), wait) {
        return Accepted::Failed(NetError::Connect {
            peer: party,
            detail: format!("sending our hello to {from} failed: {e}"),
        });
    }
    Accepted::Party(party, stream)
}

/// Why one dialing attempt failed.
enum Attempt {
    /// The peer closed or reset the connection before the hellos were exchanged, without a
    /// word: it may have dropped it to make room for other handshakes, so dial again.
    Closed(String),
    /// Anything else (a refusal, a TLS alert, a wrong hello, a timeout): give up.
    Failed(String),
}

/// Dials party `peer` until it answers or the deadline passes, then secures the connection
/// and does the handshake. Errors are the detail of a [`NetError::Connect`] naming `peer`.
///
/// A connection closed before the hellos were exchanged is dialed again (with the same
/// backoff) until the deadline: the acceptor drops connections to make room when many are
/// in their handshake at once. Should the next attempt find nobody listening, the peer has
/// given up (plain TCP refuses a hello by closing the connection), and the close is the
/// error. An explicit refusal or any other failure ends dialing at once.
fn dial<T: Transport>(
    cfg: &TcpConfig,
    transport: &T,
    peer: usize,
    deadline: Instant,
    cancel: &AtomicBool,
) -> Result<T::Stream, String> {
    let addr = cfg.addrs[peer];
    let mut backoff = FIRST_BACKOFF;
    let mut last_error = String::from("no attempt made");
    let mut closed: Option<String> = None;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err("setup abandoned".into());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(match closed {
                Some(why) => format!(
                    "{why} (dialed again until the connect timeout, {:?}, passed)",
                    cfg.connect_timeout
                ),
                None => format!(
                    "could not reach {addr} within {:?} (last error: {last_error})",
                    cfg.connect_timeout
                ),
            });
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(socket) => match dial_once(cfg, transport, peer, socket, deadline) {
                Ok(stream) => return Ok(stream),
                Err(Attempt::Failed(why)) => return Err(why),
                Err(Attempt::Closed(why)) => {
                    last_error = why.clone();
                    closed = Some(why);
                }
            },
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused && closed.is_some() => {
                return Err(closed.unwrap_or_default());
            }
            Err(e) => last_error = e.to_string(),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        thread::sleep(backoff.min(left));
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One dialing attempt on a fresh connection: secures it, then exchanges the hellos.
fn dial_once<T: Transport>(
    cfg: &TcpConfig,
    transport: &T,
    peer: usize,
    socket: TcpStream,
    deadline: Instant,
) -> Result<T::Stream, Attempt> {
    let until = Instant::now() + handshake_wait(deadline);
    let stream = transport.secure_dialed(peer, socket, until).map_err(|u| {
        if u.closed {
            Attempt::Closed(u.why)
        } else {
            Attempt::Failed(u.why)
        }
    })?;
    dial_hello(cfg, transport, peer, stream, deadline)
}

/// Handshake on a connection we dialed: send our hello, then read and check the answer.
fn dial_hello<T: Transport>(
    cfg: &TcpConfig,
    transport: &T,
    peer: usize,
    mut stream: T::Stream,
    deadline: Instant,
) -> Result<T::Stream, Attempt> {
    let addr = cfg.addrs[peer];
    let wait = handshake_wait(deadline);
    let until = Instant::now() + wait;
    send_all(&mut stream, &encode_hello(cfg.me, &cfg.session), wait).map_err(|e| {
        let why = format!("sending our hello to {addr} failed: {e}");
        if closed_early(&e) {
            Attempt::Closed(why)
        } else {
            Attempt::Failed(why)
        }
    })?;
    let unanswered = |why: String| {
        format!(
            "no valid hello from {addr}: {why} (a party that refuses our hello closes the connection: {})",
            transport.refusal_hint()
        )
    };
    let hello = read_hello(transport, &mut stream, until).map_err(|e| match e {
        HelloError::Refused(why) => Attempt::Failed(format!("{addr} refused our hello: {why}")),
        HelloError::Explained(why) => Attempt::Failed(format!("{addr} {why}")),
        HelloError::Closed(why) => Attempt::Closed(unanswered(why)),
        HelloError::Bad(why) => Attempt::Failed(unanswered(why)),
    })?;
    let failed = Attempt::Failed;
    check_hello(&hello, &cfg.session)
        .map_err(|why| failed(format!("{addr} answered with {why}")))?;
    if usize::from(hello.party) != peer {
        return Err(failed(format!(
            "{addr} answered as party {}, not party {peer}: check the address list",
            hello.party
        )));
    }
    Ok(stream)
}

/// Starts the writer and reader threads of a connection and returns the [`Link`] they serve.
///
/// The writer sends frames from the endpoint through `output` and calls `finish` when the
/// endpoint is dropped or the stream fails; the reader parses frames from `input`, turning a
/// read error into a frame with `read_error` (which sees the reader, so a transport can tell
/// a broken stream from a corrupted one). Both sides go through buffers of `buffer` bytes
/// ([`IO_BUFFER`] for a raw socket; 0 for a stream that buffers by itself, such as TLS
/// records, which saves a copy).
pub(crate) fn start_pumps<W, R>(
    me: usize,
    peer: usize,
    buffer: usize,
    output: W,
    finish: fn(&mut W),
    input: R,
    read_error: fn(&R, String) -> Frame,
) -> Result<Link, NetError>
where
    W: Write + Send + 'static,
    R: Read + Send + 'static,
{
    let setup_err = |e: io::Error| NetError::Connect {
        peer,
        detail: format!("setting up the connection failed: {e}"),
    };
    let (to_writer, writer_rx) = channel();
    let (reader_tx, from_reader) = channel();
    let writer = thread::Builder::new()
        .name(format!("tessera-tx-{me}-{peer}"))
        .spawn(move || write_frames(output, buffer, writer_rx, finish))
        .map_err(setup_err)?;
    // If this spawn fails, dropping `to_writer` makes the writer finish the stream.
    thread::Builder::new()
        .name(format!("tessera-rx-{me}-{peer}"))
        .spawn(move || read_frames(input, buffer, reader_tx, read_error))
        .map_err(setup_err)?;
    Ok(Link {
        tx: to_writer,
        rx: from_reader,
        writer: Some(writer),
    })
}

/// Writer thread: frames from the endpoint to the stream until the endpoint is dropped or
/// the stream fails; then flushes and calls `finish` (which shuts the stream down so the
/// peer sees the end at once).
fn write_frames<W: Write>(output: W, buffer: usize, frames: Receiver<Frame>, finish: fn(&mut W)) {
    // A capacity of 0 passes every write straight through.
    let mut out = BufWriter::with_capacity(buffer, output);
    loop {
        let frame = match frames.try_recv() {
            Ok(f) => f,
            Err(TryRecvError::Empty) => {
                // Nothing more queued right now: push out what is buffered before waiting.
                if out.flush().is_err() {
                    break;
                }
                match frames.recv() {
                    Ok(f) => f,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        if frame.write_to(&mut out).is_err() {
            break;
        }
    }
    let _ = out.flush();
    finish(out.get_mut());
}

/// Reader thread: frames from the stream to the endpoint until the stream ends, fails or
/// carries something that is not a frame, or the endpoint is dropped.
fn read_frames<R: Read>(
    input: R,
    buffer: usize,
    frames: Sender<Frame>,
    read_error: fn(&R, String) -> Frame,
) {
    // A capacity of 0 passes every read straight through.
    let mut input = BufReader::with_capacity(buffer, input);
    loop {
        let frame = match Frame::read_from(&mut input) {
            Ok(Some(f)) => f,
            Ok(None) => Frame::Closed("connection closed by peer".into()),
            Err(FrameError::Truncated) => {
                Frame::Malformed("truncated frame: the connection ended inside a frame".into())
            }
            Err(FrameError::Malformed(why)) => Frame::Malformed(why),
            Err(FrameError::Io(e)) => read_error(input.get_ref(), e),
        };
        let last = !matches!(frame, Frame::Data { .. });
        if frames.send(frame).is_err() || last {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the other end closed `s` (end of stream, or reset): a read timeout is not.
    fn closed(s: &mut TcpStream) -> bool {
        matches!(
            s.read(&mut [0u8; 1]).map_err(|e| e.kind()),
            Ok(0)
                | Err(io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe)
        )
    }

    /// A handshake from `ip` (on a real loopback socket, whose other end is returned),
    /// accepted `age` ago, in state `progress`.
    fn handshake(
        id: u64,
        ip: &str,
        age: Duration,
        progress: u8,
        listener: &TcpListener,
    ) -> (Handshake, TcpStream) {
        let caller = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (socket, _) = listener.accept().unwrap();
        let ip: IpAddr = ip.parse().unwrap();
        let h = Handshake {
            id,
            from: SocketAddr::new(ip, 40000),
            ip,
            started: Instant::now() - age,
            progress: Arc::new(AtomicU8::new(progress)),
            socket,
        };
        (h, caller)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    const PARTY: &str = "10.0.0.1";

    /// A table holding `slots` (address, age in ms, progress), and the callers' ends.
    fn table(slots: &[(&str, u64, u8)]) -> (Handshakes, Vec<TcpStream>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut t = Handshakes::new(vec![PARTY.parse().unwrap()]);
        let mut callers = Vec::new();
        for &(ip, age, progress) in slots {
            let id = t.next_id();
            let (h, c) = handshake(id, ip, ms(age), progress, &l);
            t.push(h);
            callers.push(c);
        }
        (t, callers)
    }

    fn victim_of(t: &Handshakes, ip: &str) -> Option<(String, u64)> {
        let i = t.victim(ip.parse().unwrap(), Instant::now())?;
        let h = &t.slots[i];
        Some((h.ip.to_string(), h.id))
    }

    #[test]
    fn one_address_only_makes_room_among_its_own() {
        // Four from one address, the oldest speaking: the oldest silent one gives way to a
        // fifth from that address; another address is admitted without closing any.
        let a = "192.0.2.7";
        let (t, _c) = table(&[
            (a, 900, SPOKE),
            (a, 800, SILENT),
            (a, 700, SILENT),
            (a, 10, SILENT),
        ]);
        assert_eq!(victim_of(&t, a), Some((a.to_string(), 2)));
        assert_eq!(victim_of(&t, "192.0.2.8"), None);
        // All four judged: nothing gives way.
        let (t, _c) = table(&[(a, 900, JUDGED); 4]);
        assert_eq!(victim_of(&t, a), None);
    }

    #[test]
    fn a_full_table_makes_room_at_the_busiest_address() {
        // 4 from one address, 2 each from six others: the busiest one gives way, even to a
        // newcomer from another address, its silent ones first.
        let mut slots = vec![("192.0.2.1", 50, SILENT), ("192.0.2.1", 60, SILENT)];
        slots.extend([("192.0.2.1", 900, SPOKE), ("192.0.2.1", 40, SILENT)]);
        let others = [
            "198.51.100.1",
            "198.51.100.2",
            "198.51.100.3",
            "198.51.100.4",
        ];
        for ip in others.iter().chain(&["198.51.100.5", "198.51.100.6"]) {
            slots.extend([(*ip, 2000, SILENT), (*ip, 1000, SILENT)]);
        }
        assert_eq!(slots.len(), MAX_HANDSHAKES);
        let (t, _c) = table(&slots);
        assert_eq!(victim_of(&t, "203.0.113.9"), Some(("192.0.2.1".into(), 2)));
    }

    #[test]
    fn an_attacker_with_many_addresses_does_not_close_a_party() {
        // The party's handshake (speaking, the oldest) and fifteen silent or stalled ones
        // from fifteen addresses: newcomers close the attacker's, never the party's.
        let mut slots = vec![(PARTY, 3000, SPOKE)];
        let ips: Vec<String> = (1..MAX_HANDSHAKES)
            .map(|k| format!("203.0.113.{k}"))
            .collect();
        for (k, ip) in ips.iter().enumerate() {
            slots.push((ip, 100 + k as u64, if k % 2 == 0 { SILENT } else { SPOKE }));
        }
        let (mut t, _c) = table(&slots);
        for k in 0..3 * MAX_HANDSHAKES {
            let from: IpAddr = format!("203.0.113.{}", 100 + k).parse().unwrap();
            let room = t.make_room(from);
            assert!(room.admitted && room.evicted.is_some());
            assert!(t.slots.iter().any(|h| h.ip.to_string() == PARTY));
            let id = t.next_id();
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let (mut h, c) = handshake(id, "127.0.0.1", Duration::ZERO, SPOKE, &l);
            h.ip = from;
            t.push(h);
            drop(c);
        }
        // Only when every other handshake is judged does the party's give way (it would
        // dial again).
        for h in &t.slots {
            if h.ip.to_string() != PARTY {
                h.progress.store(JUDGED, Ordering::Relaxed);
            }
        }
        assert_eq!(
            victim_of(&t, "203.0.113.250").map(|v| v.0),
            Some(PARTY.into())
        );
    }

    #[test]
    fn the_connection_that_gives_way_is_closed() {
        let a = "192.0.2.7";
        let (mut t, mut callers) = table(&[
            (a, 900, SILENT),
            (a, 800, SILENT),
            (a, 700, SILENT),
            (a, 600, SILENT),
        ]);
        let room = t.make_room(a.parse().unwrap());
        assert!(room.admitted);
        assert!(room.evicted.unwrap().contains("silent"), "make room");
        assert_eq!(t.len(), 3);
        callers[0]
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(closed(&mut callers[0]));
        // A handshake judged meanwhile is not closed: the newcomer is turned away.
        for h in &t.slots {
            h.progress.store(JUDGED, Ordering::Relaxed);
        }
        let id = t.next_id();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (h, _c) = handshake(id, a, ms(0), JUDGED, &l);
        t.push(h);
        for k in 0..MAX_HANDSHAKES {
            let id = t.next_id();
            let (h, c) = handshake(id, &format!("198.51.100.{k}"), ms(0), JUDGED, &l);
            t.push(h);
            callers.push(c);
        }
        let room = t.make_room("203.0.113.1".parse().unwrap());
        assert!(!room.admitted && room.evicted.is_none());
        // Dropping the table (setup over) closes what is left that is not judged.
        let (t, mut callers) = table(&[(a, 900, SPOKE)]);
        drop(t);
        callers[0]
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(closed(&mut callers[0]));
    }
}
