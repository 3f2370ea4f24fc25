//! Helpers shared by the TCP and TLS tests: loopback listeners, configurations, parties
//! started on threads, and the ring exchange both transports must pass.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::tcp::TcpConfig;
use crate::{Endpoint, NetError, PARTIES};

/// Receive and connect timeout of the tests.
pub const T: Duration = Duration::from_secs(5);

/// Three listeners on free loopback ports and their addresses.
pub fn listeners() -> ([TcpListener; PARTIES], [SocketAddr; PARTIES]) {
    let ls: [TcpListener; PARTIES] =
        std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").unwrap());
    let addrs = std::array::from_fn(|i| ls[i].local_addr().unwrap());
    (ls, addrs)
}

/// Party `me`'s TCP configuration.
pub fn tcp_cfg(
    me: usize,
    addrs: [SocketAddr; PARTIES],
    session: [u8; 16],
    connect_timeout: Duration,
) -> TcpConfig {
    TcpConfig {
        me,
        addrs,
        session,
        connect_timeout,
        recv_timeout: T,
    }
}

/// Starts `connect` for each given configuration on its own thread, in the order given,
/// `delay` apart.
pub fn start<C: Send + 'static>(
    parties: Vec<(C, TcpListener)>,
    delay: Duration,
    connect: fn(&C, TcpListener) -> Result<Endpoint, NetError>,
) -> Vec<JoinHandle<Result<Endpoint, NetError>>> {
    parties
        .into_iter()
        .map(|(c, l)| {
            let h = thread::spawn(move || connect(&c, l));
            thread::sleep(delay);
            h
        })
        .collect()
}

/// The peer and detail of a connect error (panics on anything else).
pub fn connect_err(r: Result<Endpoint, NetError>) -> (usize, String) {
    match r {
        Err(NetError::Connect { peer, detail }) => (peer, detail),
        Err(e) => panic!("expected a connect error, got {e}"),
        Ok(_) => panic!("expected a connect error, got an endpoint"),
    }
}

/// A hello built by hand, independently of the transport's encoder, to pin the format.
pub fn raw_hello(party: u8, session: &[u8; 16]) -> Vec<u8> {
    let mut h = b"TSRA".to_vec();
    h.extend_from_slice(&crate::stream::PROTOCOL_VERSION.to_le_bytes());
    h.push(party);
    h.extend_from_slice(session);
    h
}

/// `len` bytes that are not all alike.
pub fn big_payload(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3])
        .collect()
}

/// Forwards `big` around the ring 0 → 1 → 2 → 0, then a small message back 0 → 2 → 1 → 0,
/// and checks contents and byte counters; every transport must pass this.
pub fn ring_exchange(ep: &mut Endpoint, big: &[u8]) {
    let me = ep.party();
    let (next, prev) = ((me + 1) % 3, (me + 2) % 3);
    if me == 0 {
        ep.send(next, big.to_vec()).unwrap();
        assert!(ep.recv(prev).unwrap() == big);
        ep.send(prev, b"back".to_vec()).unwrap();
        assert_eq!(ep.recv(next).unwrap(), b"back:2:1");
    } else {
        let got = ep.recv(prev).unwrap();
        assert!(got == big);
        ep.send(next, got).unwrap();
        let mut back = ep.recv(next).unwrap();
        back.extend_from_slice(format!(":{me}").as_bytes());
        ep.send(prev, back).unwrap();
    }
    let s = ep.stats();
    assert_eq!(s.bytes_sent, big.len() as u64 + [4, 8, 6][me]);
    assert_eq!(s.bytes_received, big.len() as u64 + [8, 6, 4][me]);
}

/// Everyone sends to everyone at once, many small frames and a large one: queued sends
/// cannot deadlock and order is kept.
pub fn all_to_all(ep: &mut Endpoint) {
    let me = ep.party();
    let peers = [(me + 1) % 3, (me + 2) % 3];
    for peer in peers {
        for k in 0..100u32 {
            ep.send(peer, k.to_le_bytes().to_vec()).unwrap();
        }
        ep.send(peer, vec![me as u8; 4 << 20]).unwrap();
    }
    for peer in peers {
        for k in 0..100u32 {
            assert_eq!(ep.recv(peer).unwrap(), k.to_le_bytes());
        }
        assert_eq!(ep.recv(peer).unwrap(), vec![peer as u8; 4 << 20]);
    }
}

/// Parties started (by `start`) in reverse order: each runs [`ring_exchange`] with a
/// 10 MB payload, then `after`, then [`all_to_all`].
pub fn reverse_start_ring<C: Send + 'static>(
    mut parties: Vec<(C, TcpListener)>,
    connect: fn(&C, TcpListener) -> Result<Endpoint, NetError>,
    after: fn(&mut Endpoint),
) {
    parties.reverse();
    let handles = start(parties, Duration::from_millis(50), connect);
    let big = big_payload(10 << 20);
    let workers: Vec<_> = handles
        .into_iter()
        .rev()
        .map(|h| {
            let big = big.clone();
            thread::spawn(move || {
                let mut ep = h.join().unwrap().unwrap();
                ring_exchange(&mut ep, &big);
                after(&mut ep);
                all_to_all(&mut ep);
                ep
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

/// Junk at each of `addrs`, queued before the parties accept: a client that sends an HTTP
/// request, one that connects and closes at once, and one that says nothing (kept open, as
/// the HTTP one: the returned streams, to drop after the setup).
pub fn junk_at(addrs: &[SocketAddr]) -> Vec<TcpStream> {
    let mut open = Vec::new();
    for &a in addrs {
        let mut http = TcpStream::connect(a).unwrap();
        http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        open.push(http);
        drop(TcpStream::connect(a).unwrap());
        open.push(TcpStream::connect(a).unwrap());
    }
    open
}

/// Each party sends three bytes of its index to the next one and checks what the previous
/// one sent: the endpoints are linked.
pub fn pass_on(eps: &mut [Endpoint]) {
    for (i, ep) in eps.iter_mut().enumerate() {
        ep.send((i + 1) % PARTIES, vec![i as u8; 3]).unwrap();
    }
    for (i, ep) in eps.iter_mut().enumerate() {
        let from = (i + PARTIES - 1) % PARTIES;
        assert_eq!(ep.recv(from).unwrap(), vec![from as u8; 3]);
    }
}
