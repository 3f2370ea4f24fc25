//! Three parties as separate processes or machines, linked by TCP.
//!
//! # Topology
//!
//! Every party listens on its own address. Party `i` dials every party `j < i` and accepts a
//! connection from every party `j > i`, so each pair of parties shares exactly one TCP stream
//! and nobody needs to know who starts first: dialing retries with a backoff (20 ms doubling
//! to 500 ms) and accepting goes on until [`TcpConfig::connect_timeout`] has passed.
//!
//! # Handshake
//!
//! The first bytes in each direction of every connection are a fixed-size hello:
//!
//! | bytes | content |
//! | ----- | ------- |
//! | 4     | magic `b"TSRA"` |
//! | 2     | [`PROTOCOL_VERSION`], little-endian |
//! | 1     | the sender's party index |
//! | 16    | the session (computation) identifier |
//!
//! The dialer speaks first; the acceptor learns from the hello who is calling, checks it and
//! only then answers with its own hello. A hello that is not from a tessera party, is from the
//! wrong version or session, or names a party that should not dial us (or already did) ends
//! [`connect`] with [`NetError::Connect`]; nothing more is written to that socket, so the
//! dialer sees the connection close. A dialer whose connection is closed before the hellos
//! are exchanged dials again (an acceptor also closes connections to make room for others,
//! see below); when it finds the acceptor no longer listening, it fails too, so a
//! misconfigured deployment is reported at once rather than computed with. A connection
//! that is not a party's at all (garbage, a port scan, a caller that says nothing) is
//! dropped and accepting goes on. Handshake reads have a deadline, and accepted connections
//! must speak within 2 s and finish their handshake within 5 s, at most 16 at once and 4
//! per IP address, the silent and oldest giving way to newcomers: a client that connects and
//! says nothing, or many of them, cannot hang a party or hold up its peers (the limits are
//! in the source of the shared setup code, `stream.rs`).
//!
//! Over TLS ([`crate::tls`]) the same hello travels inside the encrypted channel, after the
//! TLS handshake has authenticated both sides; an acceptor that refuses an authenticated
//! caller first sends it a refusal naming the reason (`b"TSRN"`, a little-endian u16 length,
//! UTF-8 text) instead of its hello. Plain TCP authenticates nobody, so there a refusal is
//! just the connection closing.
//!
//! # After the handshake
//!
//! Each stream gets `TCP_NODELAY` and two threads. The writer takes frames from the
//! endpoint's queue and writes them through a 1 MiB buffer, flushing whenever the queue is
//! momentarily empty (large payloads bypass the buffer, so they are not copied). The reader
//! parses frames from a 1 MiB buffered reader and queues them for the endpoint; at the end of
//! the stream it queues [`Frame::Closed`], and for bytes that are not a frame (or a stream
//! that ends inside one) [`Frame::Malformed`], which the endpoint reports as
//! [`NetError::Malformed`]. Dropping the [`Endpoint`] closes the writer's queue: the writer
//! writes what was queued (an [`Endpoint::abort`] notice included), flushes and shuts the
//! socket down, so the peer sees the end of the stream at once and the reader thread ends.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::stream::{self, Refused, Transport, Unsecured};
use crate::{Endpoint, Frame, Link, NetError, PARTIES};

pub use crate::stream::PROTOCOL_VERSION;

/// How a party reaches the two others over TCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConfig {
    /// This party's index: 0, 1 or 2.
    pub me: usize,
    /// The listen address of each party, in party order (`addrs[me]` is ours). All three
    /// parties must be given the same list.
    pub addrs: [SocketAddr; PARTIES],
    /// Identifies the computation (study): parties only link up with parties of the same
    /// session, so two computations on the same hosts cannot cross wires.
    pub session: [u8; 16],
    /// How long to keep trying to reach the peers (and to wait for them) before giving up.
    pub connect_timeout: Duration,
    /// The receive timeout of the resulting [`Endpoint`].
    pub recv_timeout: Duration,
}

/// Connects party `cfg.me` to the two other parties and returns its [`Endpoint`].
///
/// Binds `cfg.addrs[cfg.me]`, then behaves like [`connect_with_listener`]. Fails with
/// [`NetError::Connect`] when the address cannot be bound (naming this party), when a peer is
/// not reached within `cfg.connect_timeout`, or when a handshake is refused.
pub fn connect(cfg: &TcpConfig) -> Result<Endpoint, NetError> {
    connect_with_listener(cfg, bind(cfg)?)
}

/// Like [`connect`], with a listener the caller has already bound (e.g. to port 0, so tests
/// and benchmarks can learn free ports before telling every party the addresses).
/// `cfg.addrs[cfg.me]` is not used by this party itself; the others dial it.
///
/// On failure the error names the peer concerned: the first one not reached when the
/// deadline passes (the detail lists every missing peer), or the one whose handshake failed.
/// A connection whose hello cannot be read at all (not a tessera party), or that claims to be
/// this party or a party index out of range, is reported against the lowest-numbered peer
/// still expected to dial us; a hello from a real party index names that party.
pub fn connect_with_listener(cfg: &TcpConfig, listener: TcpListener) -> Result<Endpoint, NetError> {
    stream::establish(cfg, listener, Arc::new(PlainTcp))
}

/// Binds this party's listen address, or says why it cannot.
pub(crate) fn bind(cfg: &TcpConfig) -> Result<TcpListener, NetError> {
    stream::check_index(cfg)?;
    let addr = cfg.addrs[cfg.me];
    TcpListener::bind(addr).map_err(|e| NetError::Connect {
        peer: cfg.me,
        detail: format!("cannot listen on {addr}: {e}"),
    })
}

/// The plain TCP transport: streams are used as they are.
struct PlainTcp;

impl Transport for PlainTcp {
    type Stream = TcpStream;

    fn secure_dialed(
        &self,
        _: usize,
        socket: TcpStream,
        _: Instant,
    ) -> Result<TcpStream, Unsecured> {
        Ok(socket)
    }

    fn secure_accepted(&self, socket: TcpStream, _: Instant) -> Result<TcpStream, Refused> {
        Ok(socket)
    }

    fn check_caller(&self, _: &TcpStream, _: usize) -> Result<(), String> {
        Ok(())
    }

    fn explains_refusals(&self) -> bool {
        false
    }

    fn refusal_hint(&self) -> &'static str {
        "check the session id and version"
    }

    fn start_link(&self, me: usize, peer: usize, socket: TcpStream) -> Result<Link, NetError> {
        let setup_err = |e: io::Error| NetError::Connect {
            peer,
            detail: format!("setting up the connection failed: {e}"),
        };
        socket.set_nodelay(true).map_err(setup_err)?;
        socket.set_read_timeout(None).map_err(setup_err)?;
        socket.set_write_timeout(None).map_err(setup_err)?;
        let input = socket.try_clone().map_err(setup_err)?;
        stream::start_pumps(
            me,
            peer,
            stream::IO_BUFFER,
            socket,
            |s| {
                let _ = s.shutdown(Shutdown::Both);
            },
            input,
            |_, e| Frame::Closed(format!("read failed: {e}")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{encode_hello, HELLO_LEN};
    use crate::testkit::{self, connect_err, listeners, raw_hello, tcp_cfg, T};
    use std::io::{Read, Write};
    use std::thread::{self, JoinHandle};

    const SESSION: [u8; 16] = *b"tessera-test-001";

    fn cfg(me: usize, addrs: [SocketAddr; PARTIES], connect_timeout: Duration) -> TcpConfig {
        tcp_cfg(me, addrs, SESSION, connect_timeout)
    }

    fn start(
        parties: Vec<(TcpConfig, TcpListener)>,
        delay: Duration,
    ) -> Vec<JoinHandle<Result<Endpoint, NetError>>> {
        testkit::start(parties, delay, connect_with_listener)
    }

    /// Three connected endpoints, in party order.
    fn connected() -> [Endpoint; PARTIES] {
        let (ls, addrs) = listeners();
        let parties = ls
            .into_iter()
            .enumerate()
            .map(|(i, l)| (cfg(i, addrs, T), l))
            .collect();
        let mut hs = start(parties, Duration::ZERO).into_iter();
        std::array::from_fn(|_| hs.next().unwrap().join().unwrap().unwrap())
    }

    #[test]
    fn hello_layout() {
        assert_eq!(encode_hello(2, &SESSION).to_vec(), raw_hello(2, &SESSION));
        assert_eq!(HELLO_LEN, 23);
    }

    #[test]
    fn ring_exchange_started_in_reverse_order() {
        let (ls, addrs) = listeners();
        let parties = ls
            .into_iter()
            .enumerate()
            .map(|(i, l)| (cfg(i, addrs, T), l))
            .collect();
        testkit::reverse_start_ring(parties, connect_with_listener, |ep| {
            // Six sequential messages: the critical path each party has seen.
            let s = ep.stats();
            assert_eq!((s.messages_sent, s.rounds), (2, [6, 6, 5][ep.party()]));
        });
    }

    #[test]
    fn absent_peer_is_named_within_the_connect_timeout() {
        let timeout = Duration::from_millis(500);
        // Party 2 never starts: parties 0 and 1 wait for it to dial them.
        let (ls, addrs) = listeners();
        let [l0, l1, _l2] = ls;
        let t0 = Instant::now();
        let hs = start(
            vec![(cfg(0, addrs, timeout), l0), (cfg(1, addrs, timeout), l1)],
            Duration::ZERO,
        );
        for h in hs {
            let (peer, detail) = connect_err(h.join().unwrap());
            assert_eq!(peer, 2, "{detail}");
            assert!(detail.contains("did not connect"), "{detail}");
        }
        let took = t0.elapsed();
        assert!(
            took >= timeout && took < timeout + Duration::from_secs(1),
            "{took:?}"
        );

        // Party 0 never starts and nothing listens on its port (port 1 rather than a freed
        // ephemeral port, which a test running alongside could be given): parties 1 and 2 dial
        // in vain.
        let (ls, mut addrs) = listeners();
        let [_l0, l1, l2] = ls;
        addrs[0] = "127.0.0.1:1".parse().unwrap();
        let t0 = Instant::now();
        let hs = start(
            vec![(cfg(1, addrs, timeout), l1), (cfg(2, addrs, timeout), l2)],
            Duration::ZERO,
        );
        for h in hs {
            let (peer, detail) = connect_err(h.join().unwrap());
            assert_eq!(peer, 0, "{detail}");
        }
        assert!(
            t0.elapsed() < timeout + Duration::from_secs(1),
            "{:?}",
            t0.elapsed()
        );
    }

    #[test]
    fn party_that_never_answers_does_not_hang_the_dialer() {
        // Party 0's port is bound but nobody accepts: the connection sits in the backlog.
        let timeout = Duration::from_millis(400);
        let (ls, addrs) = listeners();
        let [_l0, _l1, l2] = ls;
        let t0 = Instant::now();
        let (peer, detail) = connect_err(connect_with_listener(&cfg(2, addrs, timeout), l2));
        assert!(peer == 0 || peer == 1, "{detail}");
        assert!(detail.contains("no complete hello"), "{detail}");
        assert!(
            t0.elapsed() < timeout + Duration::from_secs(1),
            "{:?}",
            t0.elapsed()
        );
    }

    #[test]
    fn wrong_session_fails_both_sides() {
        // Just parties 0 and 1, so the refusal is the first thing that happens to either.
        let (ls, addrs) = listeners();
        let [l0, l1, _l2] = ls;
        let mut c1 = cfg(1, addrs, T);
        c1.session = *b"another-study-01";
        let t0 = Instant::now();
        let hs = start(vec![(cfg(0, addrs, T), l0), (c1, l1)], Duration::ZERO);
        let mut results = hs.into_iter().map(|h| h.join().unwrap());
        let (peer, detail) = connect_err(results.next().unwrap());
        assert_eq!(peer, 1, "{detail}");
        assert!(detail.contains("different session id"), "{detail}");
        let (peer, detail) = connect_err(results.next().unwrap());
        assert_eq!(peer, 0, "{detail}");
        assert!(detail.contains("check the session id"), "{detail}");
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    }

    #[test]
    fn wrong_session_among_three() {
        let (ls, addrs) = listeners();
        let mut parties: Vec<_> = ls
            .into_iter()
            .enumerate()
            .map(|(i, l)| (cfg(i, addrs, T), l))
            .collect();
        parties[2].0.session = *b"another-study-02";
        let t0 = Instant::now();
        let results: Vec<_> = start(parties, Duration::ZERO)
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let [r0, r1, r2]: [_; 3] = results.try_into().ok().unwrap();
        // Party 0 only accepts, so the wrong hello is what stops it.
        let (peer, detail) = connect_err(r0);
        assert_eq!(peer, 2, "{detail}");
        assert!(detail.contains("different session id"), "{detail}");
        // Party 1 may see party 0 go away first; party 2 is refused by whoever answers first.
        connect_err(r1);
        let (peer, detail) = connect_err(r2);
        assert!(peer == 0 || peer == 1, "{detail}");
        // Refusals are immediate, not timeouts.
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    }

    #[test]
    fn garbage_client_is_dropped_and_named_at_the_deadline() {
        let timeout = Duration::from_millis(400);
        let (ls, addrs) = listeners();
        let [l0, _l1, _l2] = ls;
        let h = thread::spawn(move || connect_with_listener(&cfg(0, addrs, timeout), l0));
        let mut raw = TcpStream::connect(addrs[0]).unwrap();
        raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        // The party wrote nothing back and closed.
        raw.set_read_timeout(Some(T)).unwrap();
        let mut buf = [0u8; 64];
        assert!(matches!(raw.read(&mut buf), Ok(0) | Err(_)));
        // It kept waiting for its peers, and says what it dropped.
        let (peer, detail) = connect_err(h.join().unwrap());
        assert_eq!(peer, 1, "{detail}");
        assert!(
            detail.contains("did not connect") && detail.contains("not a tessera party"),
            "{detail}"
        );
    }

    #[test]
    fn junk_connections_are_dropped_and_the_parties_still_link_up() {
        let (ls, addrs) = listeners();
        let _junk = testkit::junk_at(&addrs);
        let t0 = Instant::now();
        let parties = ls
            .into_iter()
            .enumerate()
            .map(|(i, l)| (cfg(i, addrs, T), l))
            .collect();
        let mut eps: Vec<Endpoint> = start(parties, Duration::ZERO)
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect();
        // Long before the deadline: the silent callers held up no one.
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        testkit::pass_on(&mut eps);
    }

    #[test]
    fn silent_client_is_refused_at_the_deadline() {
        let timeout = Duration::from_millis(300);
        let (ls, addrs) = listeners();
        let [_l0, l1, _l2] = ls;
        let h = thread::spawn(move || connect_with_listener(&cfg(1, addrs, timeout), l1));
        let _raw = TcpStream::connect(addrs[1]).unwrap();
        let t0 = Instant::now();
        let (peer, detail) = connect_err(h.join().unwrap());
        assert!(
            t0.elapsed() < timeout + Duration::from_secs(1),
            "{:?}",
            t0.elapsed()
        );
        assert!(peer == 0 || peer == 2, "{detail}");
    }

    #[test]
    fn dripping_client_cannot_stretch_the_handshake() {
        // A valid hello, one byte every 50 ms: 23 bytes would take over a second.
        let timeout = Duration::from_millis(300);
        let (ls, addrs) = listeners();
        let [l0, _l1, _l2] = ls;
        let t0 = Instant::now();
        let h = thread::spawn(move || connect_with_listener(&cfg(0, addrs, timeout), l0));
        let mut raw = TcpStream::connect(addrs[0]).unwrap();
        let dripper = thread::spawn(move || {
            for b in raw_hello(2, &SESSION) {
                if raw.write_all(&[b]).is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        let (_, detail) = connect_err(h.join().unwrap());
        assert!(detail.contains("no complete hello"), "{detail}");
        assert!(
            t0.elapsed() < timeout + Duration::from_millis(400),
            "{:?}",
            t0.elapsed()
        );
        dripper.join().unwrap();
    }

    #[test]
    fn unexpected_or_duplicate_dialer_is_refused() {
        for (claimed, blamed) in [(0u8, 0), (1, 2), (7, 2)] {
            let (ls, addrs) = listeners();
            let [_l0, l1, _l2] = ls;
            // Party 1 accepts only party 2 (and dials party 0, which never answers).
            let h = thread::spawn(move || connect_with_listener(&cfg(1, addrs, T), l1));
            let mut raw = TcpStream::connect(addrs[1]).unwrap();
            raw.write_all(&raw_hello(claimed, &SESSION)).unwrap();
            let (peer, detail) = connect_err(h.join().unwrap());
            assert_eq!(peer, blamed, "{detail}");
            assert!(detail.contains("not a party that dials"), "{detail}");
        }
        // Party 0 accepts parties 1 and 2; a second "party 2" is a duplicate.
        let (ls, addrs) = listeners();
        let [l0, _l1, _l2] = ls;
        let h = thread::spawn(move || connect_with_listener(&cfg(0, addrs, T), l0));
        let mut first = TcpStream::connect(addrs[0]).unwrap();
        first.write_all(&raw_hello(2, &SESSION)).unwrap();
        let mut answer = [0u8; 23];
        first.read_exact(&mut answer).unwrap();
        assert_eq!(answer.to_vec(), raw_hello(0, &SESSION));
        let mut second = TcpStream::connect(addrs[0]).unwrap();
        second.write_all(&raw_hello(2, &SESSION)).unwrap();
        let (peer, detail) = connect_err(h.join().unwrap());
        assert_eq!(peer, 2, "{detail}");
        assert!(detail.contains("already connected"), "{detail}");
    }

    #[test]
    fn version_mismatch_is_refused() {
        let (ls, addrs) = listeners();
        let [l0, _l1, _l2] = ls;
        let h = thread::spawn(move || connect_with_listener(&cfg(0, addrs, T), l0));
        let mut raw = TcpStream::connect(addrs[0]).unwrap();
        let mut hello = raw_hello(2, &SESSION);
        hello[4] = 9;
        raw.write_all(&hello).unwrap();
        let (peer, detail) = connect_err(h.join().unwrap());
        assert_eq!(peer, 2, "{detail}");
        assert!(detail.contains("protocol version 9"), "{detail}");
    }

    #[test]
    fn nested_sub_sessions_travel_with_their_ids_over_tcp() {
        // Each party splits in 2, and part 1 in 200 (ordinals beyond one varint byte):
        // every leaf sends its id's text to both peers over the real wire format.
        let eps = connected();
        let hs: Vec<_> = eps
            .into_iter()
            .enumerate()
            .map(|(me, mut ep)| {
                thread::spawn(move || {
                    let mut parts = ep.split(2).unwrap();
                    let mut leaves = parts[1].split(200).unwrap();
                    leaves.push(parts.remove(0));
                    for l in &mut leaves {
                        for peer in (0..3).filter(|&p| p != me) {
                            l.send(peer, l.channel().to_string().into_bytes()).unwrap();
                        }
                    }
                    for l in &mut leaves {
                        for peer in (0..3).filter(|&p| p != me) {
                            assert_eq!(l.recv(peer).unwrap(), l.channel().to_string().as_bytes());
                        }
                    }
                    let zero = leaves.pop().unwrap();
                    parts[0].join(leaves).unwrap();
                    parts.push(zero);
                    ep.join(parts).unwrap();
                    ep.stats().messages_sent
                })
            })
            .collect();
        for h in hs {
            assert_eq!(h.join().unwrap(), 2 * 201);
        }
    }

    #[test]
    fn a_peer_of_version_2_is_refused() {
        // Version 2 named sub-sessions by one counter per connection (frame kind 2); its
        // frames would be malformed here.
        let (ls, addrs) = listeners();
        let [l0, _l1, _l2] = ls;
        let h = thread::spawn(move || connect_with_listener(&cfg(0, addrs, T), l0));
        let mut raw = TcpStream::connect(addrs[0]).unwrap();
        let mut hello = raw_hello(2, &SESSION);
        hello[4..6].copy_from_slice(&2u16.to_le_bytes());
        raw.write_all(&hello).unwrap();
        let (_, detail) = connect_err(h.join().unwrap());
        assert!(
            detail.contains("protocol version 2 (we speak 3)"),
            "{detail}"
        );
    }

    #[test]
    fn dropped_peer_is_seen_promptly() {
        let [mut a, mut b, c] = connected();
        a.send(2, vec![1; 100]).unwrap();
        drop(c);
        let t0 = Instant::now();
        assert!(matches!(a.recv(2), Err(NetError::Closed { peer: 2, .. })));
        assert!(matches!(b.recv(2), Err(NetError::Closed { peer: 2, .. })));
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    }

    /// Party 0 for real, parties 1 and 2 played by hand over raw sockets after a valid
    /// handshake.
    fn party0_with_raw_peers() -> (Endpoint, TcpStream, TcpStream) {
        let (ls, addrs) = listeners();
        let [l0, _l1, _l2] = ls;
        let h = thread::spawn(move || connect_with_listener(&cfg(0, addrs, T), l0));
        let raws: Vec<TcpStream> = [1u8, 2]
            .into_iter()
            .map(|i| {
                let mut s = TcpStream::connect(addrs[0]).unwrap();
                s.write_all(&raw_hello(i, &SESSION)).unwrap();
                let mut answer = [0u8; 23];
                s.read_exact(&mut answer).unwrap();
                s
            })
            .collect();
        let [r1, r2]: [TcpStream; 2] = raws.try_into().unwrap();
        (h.join().unwrap().unwrap(), r1, r2)
    }

    #[test]
    fn truncated_and_malformed_frames_are_reported() {
        let (mut ep, mut r1, _r2) = party0_with_raw_peers();
        // A valid frame, then a header promising 100 bytes followed by 10 and the end.
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(&3u64.to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes()); // round
        bytes.extend_from_slice(b"abc");
        bytes.push(0);
        bytes.extend_from_slice(&100u64.to_le_bytes());
        bytes.extend_from_slice(&2u64.to_le_bytes());
        bytes.extend_from_slice(&[7; 10]);
        r1.write_all(&bytes).unwrap();
        r1.shutdown(Shutdown::Write).unwrap();
        let t0 = Instant::now();
        assert_eq!(ep.recv(1).unwrap(), b"abc");
        match ep.recv(1) {
            Err(NetError::Malformed { peer: 1, detail }) => {
                assert!(detail.contains("truncated"), "{detail}")
            }
            other => panic!("expected malformed, got {other:?}"),
        }
        // An unknown frame kind, the connection left open: reported without waiting for a body.
        let (mut ep, _r1, mut r2) = party0_with_raw_peers();
        let mut bad = vec![9u8];
        bad.extend_from_slice(&5u64.to_le_bytes());
        bad.extend_from_slice(&1u64.to_le_bytes());
        r2.write_all(&bad).unwrap();
        match ep.recv(2) {
            Err(NetError::Malformed { peer: 2, detail }) => {
                assert!(detail.contains("unknown frame kind 9"), "{detail}")
            }
            other => panic!("expected malformed, got {other:?}"),
        }
        // An absurd length is refused before any allocation or wait.
        let (mut ep, mut r1, _r2) = party0_with_raw_peers();
        let mut huge = vec![0u8];
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        huge.extend_from_slice(&1u64.to_le_bytes());
        r1.write_all(&huge).unwrap();
        assert!(matches!(
            ep.recv(1),
            Err(NetError::Malformed { peer: 1, .. })
        ));
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    }

    #[test]
    fn abort_reaches_the_peers() {
        let [mut a, mut b, mut c] = connected();
        a.send(1, vec![1, 2, 3]).unwrap();
        a.abort("input failed validation");
        drop(a);
        assert_eq!(b.recv(0).unwrap(), vec![1, 2, 3]);
        match b.recv(0) {
            Err(NetError::Aborted { peer: 0, reason }) => {
                assert_eq!(reason, "input failed validation")
            }
            other => panic!("expected abort, got {other:?}"),
        }
        assert!(matches!(c.recv(0), Err(NetError::Aborted { peer: 0, .. })));
    }

    #[test]
    fn connect_binds_its_own_address() {
        // Learn three free ports, release them, and let `connect` bind them itself.
        let (ls, addrs) = listeners();
        drop(ls);
        let hs: Vec<_> = (0..PARTIES)
            .map(|i| {
                let c = cfg(i, addrs, T);
                thread::spawn(move || connect(&c))
            })
            .collect();
        let mut eps: Vec<Endpoint> = hs.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
        eps[2].send(0, b"hi".to_vec()).unwrap();
        assert_eq!(eps[0].recv(2).unwrap(), b"hi");
        let bad = TcpConfig {
            me: 3,
            ..cfg(0, addrs, T)
        };
        assert!(matches!(
            connect(&bad),
            Err(NetError::Connect { peer: 3, .. })
        ));
        // An address that is taken is reported against this party.
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut busy = cfg(1, addrs, T);
        busy.addrs[1] = taken.local_addr().unwrap();
        let (peer, detail) = connect_err(connect(&busy));
        assert_eq!(peer, 1, "{detail}");
        assert!(detail.contains("cannot listen"), "{detail}");
    }
}
