//! Setup under attack: clients that are not parties connect to the parties' ports while the
//! three connections of a computation are set up (see the module docs of `stream`, on
//! connections that are not a party's). The setup must still complete, long before its
//! deadline, and a dialer whose connection is closed early must dial again.
//!
//! The deadline is 20 s and the bound asserted 8 s: a party whose handshake slots are held
//! by silent callers until the deadline cannot meet it, and a noisy machine has room.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tessera_net::identity::Identity;
use tessera_net::tcp::{connect_with_listener, TcpConfig};
use tessera_net::tls::{connect_tls_with_listener, TlsConfig};
use tessera_net::{Endpoint, NetError, PARTIES};

/// The setup deadline of every party here.
const DEADLINE: Duration = Duration::from_secs(20);

/// The setup must be done within this; a party waiting out its deadline is not.
const BOUND: Duration = Duration::from_secs(8);

/// Junk connections per party port and per kind.
const JUNK: usize = 40;

const SESSION: [u8; 16] = *b"tessera-attack-1";

/// Three listeners on free ports of `host`, and the addresses the parties dial.
fn listeners(host: &str) -> ([TcpListener; PARTIES], [SocketAddr; PARTIES]) {
    let ls: [TcpListener; PARTIES] =
        std::array::from_fn(|_| TcpListener::bind(format!("{host}:0")).unwrap());
    let addrs = std::array::from_fn(|i| ls[i].local_addr().unwrap());
    (ls, addrs)
}

fn tcp_cfg(me: usize, addrs: [SocketAddr; PARTIES]) -> TcpConfig {
    TcpConfig {
        me,
        addrs,
        session: SESSION,
        connect_timeout: DEADLINE,
        recv_timeout: Duration::from_secs(10),
    }
}

fn tls_cfgs(addrs: [SocketAddr; PARTIES]) -> [TlsConfig; PARTIES] {
    let ids: [Identity; PARTIES] =
        std::array::from_fn(|i| Identity::generate(&format!("station {i}")).unwrap());
    let fps = std::array::from_fn(|i| ids[i].fingerprint());
    std::array::from_fn(|i| TlsConfig::new(tcp_cfg(i, addrs), &ids[i], fps))
}

/// Starts each party on its own thread.
fn start<C: Send + 'static>(
    parties: Vec<(C, TcpListener)>,
    connect: fn(&C, TcpListener) -> Result<Endpoint, NetError>,
) -> Vec<JoinHandle<Result<Endpoint, NetError>>> {
    parties
        .into_iter()
        .map(|(c, l)| thread::spawn(move || connect(&c, l)))
        .collect()
}

/// Waits for the parties, asserting that every one linked up within [`BOUND`] of `t0`, and
/// checks that the links carry data.
fn linked_within_bound(t0: Instant, hs: Vec<JoinHandle<Result<Endpoint, NetError>>>) {
    let mut eps: Vec<Endpoint> = hs
        .into_iter()
        .map(|h| match h.join().unwrap() {
            Ok(ep) => ep,
            Err(e) => panic!("setup failed after {:?}: {e}", t0.elapsed()),
        })
        .collect();
    let took = t0.elapsed();
    assert!(took < BOUND, "setup took {took:?}");
    for (i, ep) in eps.iter_mut().enumerate() {
        ep.send((i + 1) % PARTIES, vec![i as u8; 3]).unwrap();
    }
    for (i, ep) in eps.iter_mut().enumerate() {
        let from = (i + PARTIES - 1) % PARTIES;
        assert_eq!(ep.recv(from).unwrap(), vec![from as u8; 3]);
    }
}

/// At each of `targets`, `n` connections that say nothing and `n` that send one byte and
/// then nothing more, `pause` apart; they are kept open (returned).
fn junk(targets: &[SocketAddr], n: usize, pause: Duration) -> Vec<TcpStream> {
    let mut open = Vec::new();
    // A connection that fails (the party has finished and closed its port, or its backlog
    // is full) is fine.
    let connect = |a| TcpStream::connect_timeout(&a, Duration::from_millis(500));
    for _ in 0..n {
        for &a in targets {
            if let Ok(s) = connect(a) {
                open.push(s);
            }
            if let Ok(mut s) = connect(a) {
                let _ = s.write_all(&[0x16]);
                open.push(s);
            }
        }
        thread::sleep(pause);
    }
    open
}

/// `JUNK` silent and `JUNK` stalled connections to each party's port (spread over
/// `targets`, which may reach one port by several addresses), opened before the parties
/// start (fewer than a listener's backlog holds), and as many again while they set up.
fn attack(targets: Vec<SocketAddr>) -> (Vec<TcpStream>, JoinHandle<Vec<TcpStream>>) {
    let n = JUNK * PARTIES / targets.len();
    let before = junk(&targets, n, Duration::ZERO);
    let during = thread::spawn(move || junk(&targets, n, Duration::from_millis(5)));
    (before, during)
}

fn both_loopbacks(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    addrs
        .iter()
        .flat_map(|a| {
            [
                SocketAddr::new("127.0.0.1".parse().unwrap(), a.port()),
                SocketAddr::new("::1".parse().unwrap(), a.port()),
            ]
        })
        .collect()
}

#[test]
fn silent_and_stalled_callers_do_not_stop_a_tcp_setup() {
    let (ls, addrs) = listeners("127.0.0.1");
    let (before, during) = attack(addrs.to_vec());
    let t0 = Instant::now();
    let parties = ls
        .into_iter()
        .enumerate()
        .map(|(i, l)| (tcp_cfg(i, addrs), l))
        .collect();
    linked_within_bound(t0, start(parties, connect_with_listener));
    drop(before);
    drop(during.join().unwrap());
}

#[test]
fn silent_and_stalled_callers_do_not_stop_a_tls_setup() {
    let (ls, addrs) = listeners("127.0.0.1");
    let cfgs = tls_cfgs(addrs);
    let (before, during) = attack(addrs.to_vec());
    let t0 = Instant::now();
    let parties = cfgs.into_iter().zip(ls).collect();
    linked_within_bound(t0, start(parties, connect_tls_with_listener));
    drop(before);
    drop(during.join().unwrap());
}

/// The junk comes from two addresses (IPv4 and IPv6 loopback, the listeners being
/// dual-stack), one of them the parties' own. Binding a socket to other 127.0.0.x source
/// addresses needs an API std does not have; the policy for many addresses is tested on its
/// own in `stream`'s unit tests.
#[test]
fn callers_from_two_addresses_do_not_stop_a_setup() {
    let (ls, addrs) = listeners("[::]");
    let addrs = addrs.map(|a| SocketAddr::new("127.0.0.1".parse().unwrap(), a.port()));
    let (before, during) = attack(both_loopbacks(&addrs));
    let t0 = Instant::now();
    let parties = ls
        .into_iter()
        .enumerate()
        .map(|(i, l)| (tcp_cfg(i, addrs), l))
        .collect();
    linked_within_bound(t0, start(parties, connect_with_listener));
    drop(before);
    drop(during.join().unwrap());
}

/// How the stand-in for party 0 treats the first connection it accepts, before party 0
/// itself takes over its listener.
#[derive(Clone, Copy)]
enum FirstCall {
    /// Closed at once, unread.
    Closed,
    /// Closed after reading `n` bytes (the hello, or part of the TLS client hello: with
    /// the rest unread, the close is a reset).
    ClosedAfter(usize),
}

/// Party 0's listener closes the first connection it accepts (as when it drops one to make
/// room for others); then party 0 starts on it. The dialer whose connection was closed
/// dials again and the setup completes.
fn first_connection_closed<C: Send + 'static>(
    cfgs: Vec<C>,
    ls: [TcpListener; PARTIES],
    connect: fn(&C, TcpListener) -> Result<Endpoint, NetError>,
    first: FirstCall,
) {
    let [l0, l1, l2] = ls;
    let mut cfgs = cfgs.into_iter();
    let c0 = cfgs.next().unwrap();
    let t0 = Instant::now();
    let h0 = thread::spawn(move || {
        let (mut s, _) = l0.accept().unwrap();
        if let FirstCall::ClosedAfter(n) = first {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = vec![0u8; n];
            s.read_exact(&mut buf).unwrap();
        }
        drop(s);
        connect(&c0, l0)
    });
    let mut hs = vec![h0];
    hs.extend(start(cfgs.zip([l1, l2]).collect(), connect));
    linked_within_bound(t0, hs);
}

#[test]
fn tcp_dialer_dials_again_after_an_early_close() {
    for first in [FirstCall::Closed, FirstCall::ClosedAfter(23)] {
        let (ls, addrs) = listeners("127.0.0.1");
        let cfgs = (0..PARTIES).map(|i| tcp_cfg(i, addrs)).collect();
        first_connection_closed(cfgs, ls, connect_with_listener, first);
    }
}

#[test]
fn tls_dialer_dials_again_after_an_early_close() {
    for first in [FirstCall::Closed, FirstCall::ClosedAfter(1)] {
        let (ls, addrs) = listeners("127.0.0.1");
        let cfgs = tls_cfgs(addrs).into_iter().collect();
        first_connection_closed(cfgs, ls, connect_tls_with_listener, first);
    }
}

fn expect_err(r: Result<Endpoint, NetError>) -> NetError {
    match r {
        Err(e) => e,
        Ok(_) => panic!("expected the setup to fail"),
    }
}

/// An explicit refusal still ends the setup at once, on both sides, with a 20 s deadline:
/// dialing again is only for connections closed without a word.
#[test]
fn refusals_are_not_retried() {
    // TLS: party 0 refuses party 1's hello (another session) with a `TSRN` refusal.
    let (ls, addrs) = listeners("127.0.0.1");
    let [l0, l1, _l2] = ls;
    let [c0, mut c1, _c2] = tls_cfgs(addrs);
    c1.tcp.session = *b"another-study-01";
    let t0 = Instant::now();
    let hs = start(vec![(c0, l0), (c1, l1)], connect_tls_with_listener);
    let errs: Vec<NetError> = hs
        .into_iter()
        .map(|h| expect_err(h.join().unwrap()))
        .collect();
    assert!(
        errs[1].to_string().contains("refused our hello"),
        "{}",
        errs[1]
    );
    assert!(t0.elapsed() < BOUND, "{:?}", t0.elapsed());

    // Plain TCP: party 0 refuses by closing and leaves; party 1 finds nobody listening.
    let (ls, addrs) = listeners("127.0.0.1");
    let [l0, l1, _l2] = ls;
    let mut c1 = tcp_cfg(1, addrs);
    c1.session = *b"another-study-01";
    let t0 = Instant::now();
    let hs = start(
        vec![(tcp_cfg(0, addrs), l0), (c1, l1)],
        connect_with_listener,
    );
    let errs: Vec<NetError> = hs
        .into_iter()
        .map(|h| expect_err(h.join().unwrap()))
        .collect();
    assert!(
        errs[0].to_string().contains("different session id"),
        "{}",
        errs[0]
    );
    assert!(
        errs[1].to_string().contains("check the session id"),
        "{}",
        errs[1]
    );
    assert!(t0.elapsed() < BOUND, "{:?}", t0.elapsed());
}
