//! The station's HTTPS pieces over real sockets on 127.0.0.1: `TlsListener` serving an axum
//! router, and the blocking `Client`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::Router;
use tessera_net::https;
use tessera_net::identity::{fingerprint_hex, Identity};
use tessera_station::client::{Client, ClientError};
use tessera_station::tls_listener::{ConnLimits, Peer, TlsListener};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(800);
const TIMEOUT: Duration = Duration::from_secs(10);

/// A running test server: its address, its identity and how many requests it served.
struct Server {
    addr: String,
    identity: Identity,
    served: Arc<AtomicUsize>,
}

/// `GET /whoami` answers the caller's fingerprint in hex, or "none"; `POST /echo` answers
/// its body. The server runs on its own thread (a current-thread runtime) until the test
/// process ends.
fn start_server() -> Server {
    start_server_with(ConnLimits {
        handshake_timeout: HANDSHAKE_TIMEOUT,
        ..ConnLimits::default()
    })
}

/// [`start_server`] with other limits.
fn start_server_with(limits: ConnLimits) -> Server {
    let identity = Identity::generate("station").unwrap();
    let config = https::server_config(&identity).unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap().to_string();
    let count = Arc::clone(&served);
    thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            let router = Router::new()
                .route("/whoami", get(whoami))
                .route("/echo", post(echo))
                .layer(DefaultBodyLimit::disable())
                .with_state(count);
            let tls = TlsListener::new(listener, config, limits);
            axum::serve(tls, router.into_make_service_with_connect_info::<Peer>())
                .await
                .unwrap();
        });
    });
    Server {
        addr,
        identity,
        served,
    }
}

async fn whoami(
    State(count): State<Arc<AtomicUsize>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
) -> String {
    count.fetch_add(1, Ordering::SeqCst);
    assert!(peer.addr.ip().is_loopback());
    peer.fingerprint
        .map_or_else(|| "none".to_string(), |f| fingerprint_hex(&f))
}

async fn echo(State(count): State<Arc<AtomicUsize>>, body: Bytes) -> Bytes {
    count.fetch_add(1, Ordering::SeqCst);
    body
}

/// Three requests of an anonymous client, each answered.
fn served_three(server: &Server) {
    for _ in 0..3 {
        let a = client(server, None)
            .request("GET", "/whoami", &[], b"")
            .unwrap();
        assert_eq!(a.text(), "none");
    }
}

fn client(server: &Server, identity: Option<&Identity>) -> Client {
    Client::new(
        &format!("https://{}/", server.addr),
        server.identity.fingerprint(),
        identity,
        TIMEOUT,
    )
    .unwrap()
}

#[test]
fn server_sees_the_client_fingerprint_or_none() {
    let server = start_server();
    let researcher = Identity::generate("researcher").unwrap();
    let c = client(&server, Some(&researcher));
    assert_eq!(c.addr(), server.addr);
    let a = c.request("GET", "/whoami", &[], b"").unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(a.text(), fingerprint_hex(&researcher.fingerprint()));
    assert!(a.content_type.unwrap().starts_with("text/plain"));

    let a = client(&server, None)
        .request("GET", "/whoami", &[("X-Test", "1")], b"")
        .unwrap();
    assert_eq!(a.text(), "none");

    let a = client(&server, None)
        .request("GET", "/nowhere", &[], b"")
        .unwrap();
    assert_eq!(a.status, 404);
    assert_eq!(server.served.load(Ordering::SeqCst), 2);
}

#[test]
fn wrong_pin_is_refused_before_any_request() {
    let server = start_server();
    let impostor = Identity::generate("impostor").unwrap();
    let c = Client::new(&server.addr, impostor.fingerprint(), None, TIMEOUT).unwrap();
    let e = c.request("GET", "/whoami", &[], b"").unwrap_err();
    match &e {
        ClientError::PinMismatch {
            addr,
            expected,
            found,
        } => {
            assert_eq!(addr, &server.addr);
            assert_eq!(*expected, impostor.fingerprint());
            assert_eq!(*found, server.identity.fingerprint());
        }
        other => panic!("expected a pin mismatch, got {other}"),
    }
    let text = e.to_string();
    assert!(text.contains("did not match"), "{text}");
    assert!(text.contains(&server.addr), "{text}");
    for fp in [impostor.fingerprint(), server.identity.fingerprint()] {
        assert!(
            text.contains(&format!("sha256:{}", fingerprint_hex(&fp))),
            "{text}"
        );
    }
    // The server is still fine, and served nothing to the refused client.
    assert_eq!(
        client(&server, None)
            .request("GET", "/whoami", &[], b"")
            .unwrap()
            .text(),
        "none"
    );
    assert_eq!(server.served.load(Ordering::SeqCst), 1);
}

#[test]
fn silent_clients_do_not_block_others_and_are_dropped() {
    let server = start_server();
    // More silent connections than one handshake at a time could survive.
    let mut silent: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    thread::sleep(Duration::from_millis(50));
    let t0 = Instant::now();
    served_three(&server);
    assert!(
        t0.elapsed() < HANDSHAKE_TIMEOUT,
        "served only after {:?}",
        t0.elapsed()
    );
    // Each silent connection is closed by the server after the handshake timeout.
    for s in &mut silent {
        s.set_read_timeout(Some(HANDSHAKE_TIMEOUT * 4)).unwrap();
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("the server sent {n} bytes to a silent client"),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        }
    }
    let waited = t0.elapsed();
    assert!(
        waited < HANDSHAKE_TIMEOUT * 3,
        "dropped only after {waited:?}"
    );
}

#[test]
fn plain_http_gets_an_error_not_a_hang() {
    let server = start_server();
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(HANDSHAKE_TIMEOUT * 4)).unwrap();
    s.write_all(b"GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let t0 = Instant::now();
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    assert!(t0.elapsed() < HANDSHAKE_TIMEOUT * 2, "{:?}", t0.elapsed());
    assert!(!got.starts_with(b"HTTP/"), "answered in plain HTTP");
    // At most a TLS alert record.
    assert!(got.is_empty() || got[0] == 21, "{got:?}");
    assert_eq!(server.served.load(Ordering::SeqCst), 0);

    // And the client talking to a plain (non-TLS) port says so instead of hanging.
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let plain_addr = plain.local_addr().unwrap().to_string();
    thread::spawn(move || {
        if let Ok((mut s, _)) = plain.accept() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let c = Client::new(&plain_addr, server.identity.fingerprint(), None, TIMEOUT).unwrap();
    let e = c.request("GET", "/", &[], b"").unwrap_err();
    assert!(matches!(e, ClientError::Tls { .. }), "{e}");
    assert!(e.to_string().contains(&plain_addr), "{e}");
}

#[test]
fn large_bodies_arrive_intact_both_ways() {
    let server = start_server();
    let body: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let a = client(&server, None)
        .request(
            "POST",
            "/echo",
            &[("Content-Type", "application/octet-stream")],
            &body,
        )
        .unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(a.body.len(), body.len());
    assert!(a.body == body, "the echoed body differs");
}

/// A one-shot TLS server written by hand: answers `raw` to the first request, then closes
/// the TCP connection with or without a TLS close_notify.
fn raw_server(identity: &Identity, raw: Vec<u8>, close_notify: bool) -> String {
    let config = https::server_config(identity).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        // Read the request head.
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            match tls.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        for piece in raw.chunks(1000) {
            tls.write_all(piece).unwrap();
            tls.flush().unwrap();
        }
        if close_notify {
            tls.conn.send_close_notify();
            let _ = tls.conn.complete_io(&mut tls.sock);
        }
        // Dropping closes the TCP connection.
    });
    addr
}

#[test]
fn chunked_answers_arrive_intact_without_close_notify() {
    let identity = Identity::generate("raw").unwrap();
    let payload: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    let mut raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for (k, chunk) in payload.chunks(70_001).enumerate() {
        if k % 2 == 0 {
            raw.extend_from_slice(format!("{:x};ext=1\r\n", chunk.len()).as_bytes());
        } else {
            raw.extend_from_slice(format!("{:X}\r\n", chunk.len()).as_bytes());
        }
        raw.extend_from_slice(chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\nX-Trailer: yes\r\n\r\n");
    let addr = raw_server(&identity, raw, false);
    let c = Client::new(&addr, identity.fingerprint(), None, TIMEOUT).unwrap();
    let a = c.request("GET", "/", &[], b"").unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(a.content_type.as_deref(), Some("application/octet-stream"));
    assert!(a.body == payload, "the chunked body differs");
}

#[test]
fn close_delimited_answers_need_close_notify() {
    let identity = Identity::generate("raw").unwrap();
    let raw = b"HTTP/1.1 200 OK\r\n\r\n{\"ok\":true}".to_vec();
    let addr = raw_server(&identity, raw.clone(), true);
    let c = Client::new(&addr, identity.fingerprint(), None, TIMEOUT).unwrap();
    let a = c.request("GET", "/", &[], b"").unwrap();
    assert_eq!(a.json(), serde_json::json!({"ok": true}));

    let addr = raw_server(&identity, raw, false);
    let c = Client::new(&addr, identity.fingerprint(), None, TIMEOUT).unwrap();
    let e = c.request("GET", "/", &[], b"").unwrap_err();
    assert!(e.to_string().contains("close_notify"), "{e}");

    // A Content-Length answer cut short is an error, not a short body.
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this".to_vec();
    let addr = raw_server(&identity, raw, true);
    let c = Client::new(&addr, identity.fingerprint(), None, TIMEOUT).unwrap();
    let e = c.request("GET", "/", &[], b"").unwrap_err();
    assert!(matches!(e, ClientError::Io { .. }), "{e}");
}

#[test]
fn unreachable_station_is_named() {
    let identity = Identity::generate("x").unwrap();
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let c = Client::new(&addr, identity.fingerprint(), None, TIMEOUT).unwrap();
    let e = c.request("GET", "/", &[], b"").unwrap_err();
    assert!(matches!(e, ClientError::Connect { .. }), "{e}");
    assert!(e.to_string().contains(&addr), "{e}");
}

/// TCP connections to `addr` from the loopback address `src` (e.g. 127.0.0.2: another
/// client than the tests' 127.0.0.1), as blocking streams.
fn connect_from(src: &str, addr: &str, n: usize) -> Vec<TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut out = Vec::new();
        for _ in 0..n {
            let sock = tokio::net::TcpSocket::new_v4().unwrap();
            sock.bind(format!("{src}:0").parse().unwrap()).unwrap();
            let t = sock.connect(addr.parse().unwrap()).await.unwrap();
            let s = t.into_std().unwrap();
            s.set_nonblocking(false).unwrap();
            out.push(s);
        }
        out
    })
}

/// A TLS session over `tcp` to the test server (blocking), handshake done.
fn tls_over(
    server: &Server,
    tcp: TcpStream,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let config = https::client_config(server.identity.fingerprint(), None).unwrap();
    let name = rustls::pki_types::ServerName::try_from("station").unwrap();
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).unwrap();
    }
    tls
}

/// Whether the server closed `s` (end of stream or reset) within `wait`.
fn closed_within(s: &mut impl Read, wait: Duration, sock: &TcpStream) -> bool {
    sock.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // a TLS alert or session ticket before the close
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// Issue 14: 300 silent TCP connections filled the 256 handshake slots, so that a normal
/// request waited for the handshake timeout (10 s). Silent connections from one address now
/// hold at most `handshakes_per_address` slots; the rest are closed at once, and another
/// client is served without waiting.
#[test]
fn silent_connections_from_one_address_leave_room_for_others() {
    let limits = ConnLimits {
        handshake_timeout: Duration::from_secs(6),
        ..ConnLimits::default()
    };
    let server = start_server_with(limits);
    let mut silent = connect_from("127.0.0.2", &server.addr, 300);
    thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    served_three(&server);
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(3), "served only after {took:?}");
    // All but the address's handshake slots were closed at once.
    let mut closed = 0;
    for s in silent.iter_mut() {
        let sock = s.try_clone().unwrap();
        if closed_within(s, Duration::from_millis(20), &sock) {
            closed += 1;
        }
    }
    assert!(
        closed >= 300 - limits.handshakes_per_address,
        "only {closed} of 300 closed"
    );
}

/// Issue 14 (the service bench): 2,000 slow connections from 250 addresses, each within its
/// address's limits, held all the handshake slots in turn, so that a steward's request
/// waited seconds for one. A new connection now makes room: the oldest handshake of the
/// address holding the most gives way.
#[test]
fn silent_connections_from_many_addresses_leave_room_for_others() {
    let limits = ConnLimits {
        handshake_timeout: Duration::from_secs(8),
        first_bytes_timeout: Duration::from_secs(8),
        max_handshakes: 256,
        ..ConnLimits::default()
    };
    let server = start_server_with(limits);
    // 20 addresses, each within its 16 handshakes: 320, past the 256 slots.
    let mut silent = Vec::new();
    for a in 1..=20 {
        silent.extend(connect_from(&format!("127.0.1.{a}"), &server.addr, 16));
    }
    thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    served_three(&server);
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(3), "served only after {took:?}");
    // Every slot beyond the 256 was taken from a silent connection.
    let mut closed = 0;
    for s in silent.iter_mut() {
        let sock = s.try_clone().unwrap();
        if closed_within(s, Duration::from_millis(20), &sock) {
            closed += 1;
        }
    }
    assert!(closed >= 320 - 256, "only {closed} of 320 closed");
}

/// A connection that says nothing is closed after `first_bytes_timeout`, long before the
/// handshake timeout, with nothing made for it: silent callers cycle through quickly.
#[test]
fn a_silent_connection_is_closed_at_the_first_bytes_timeout() {
    let limits = ConnLimits {
        handshake_timeout: Duration::from_secs(10),
        first_bytes_timeout: Duration::from_millis(300),
        ..ConnLimits::default()
    };
    let server = start_server_with(limits);
    let mut silent = connect_from("127.0.0.5", &server.addr, 1).remove(0);
    let sock = silent.try_clone().unwrap();
    let t0 = Instant::now();
    assert!(closed_within(&mut silent, Duration::from_secs(3), &sock));
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "closed after {took:?}"
    );
    served_three(&server);
}

/// The same with connections that finished their handshake and then say nothing: at the
/// cap of connections in all, the longest idle of the address holding the most is closed,
/// and the newcomer is served.
#[test]
fn idle_connections_from_many_addresses_cannot_fill_the_listener() {
    let limits = ConnLimits {
        handshake_timeout: HANDSHAKE_TIMEOUT,
        max_connections: 24,
        per_address: 4,
        read_window: Duration::from_secs(20),
        ..ConnLimits::default()
    };
    let server = start_server_with(limits);
    let mut idle = Vec::new();
    for a in 1..=6 {
        for tcp in connect_from(&format!("127.0.2.{a}"), &server.addr, 4) {
            let sock = tcp.try_clone().unwrap();
            idle.push((tls_over(&server, tcp), sock));
        }
    }
    thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    served_three(&server);
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(3), "served only after {took:?}");
    let mut closed = 0;
    for (tls, sock) in idle.iter_mut() {
        if closed_within(tls, Duration::from_millis(50), sock) {
            closed += 1;
        }
    }
    assert!(
        (1..24).contains(&closed),
        "{closed} of 24 idle connections closed"
    );
}

/// Issue 14: 2,000 idle connections held 2,000 descriptors. One address now holds at most
/// `per_address` connections; past that a connection is closed before any TLS, and other
/// addresses are served.
#[test]
fn connections_per_address_are_capped() {
    let limits = ConnLimits {
        handshake_timeout: HANDSHAKE_TIMEOUT,
        per_address: 4,
        ..ConnLimits::default()
    };
    let server = start_server_with(limits);
    let mut open = Vec::new();
    let mut refused = 0;
    for tcp in connect_from("127.0.0.3", &server.addr, 10) {
        let config = https::client_config(server.identity.fingerprint(), None).unwrap();
        let name = rustls::pki_types::ServerName::try_from("station").unwrap();
        let conn = rustls::ClientConnection::new(config, name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.sock.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut ok = true;
        while tls.conn.is_handshaking() {
            if tls.conn.complete_io(&mut tls.sock).is_err() {
                ok = false;
                break;
            }
        }
        if ok {
            open.push(tls);
        } else {
            refused += 1;
        }
    }
    assert_eq!(open.len(), limits.per_address, "{refused} refused");
    let a = client(&server, None)
        .request("GET", "/whoami", &[], b"")
        .unwrap();
    assert_eq!(a.text(), "none");
    // Closing them frees the address's slots.
    drop(open);
    thread::sleep(Duration::from_millis(200));
    let tcp = connect_from("127.0.0.3", &server.addr, 1).remove(0);
    let _tls = tls_over(&server, tcp);
}

/// Issue 14: idle, half-header and half-body connections stayed open indefinitely. A
/// connection that delivers fewer than `read_min_bytes` within `read_window` of waiting is
/// closed, whether it sends nothing, stops mid-header or trickles a byte at a time.
#[test]
fn idle_and_slow_clients_are_closed() {
    let limits = ConnLimits {
        handshake_timeout: HANDSHAKE_TIMEOUT,
        read_window: Duration::from_millis(600),
        ..ConnLimits::default()
    };
    let server = start_server_with(limits);
    let wait = Duration::from_secs(3);

    // Idle after the handshake.
    let tcp = connect_from("127.0.0.4", &server.addr, 1).remove(0);
    let sock = tcp.try_clone().unwrap();
    let mut idle = tls_over(&server, tcp);
    let t0 = Instant::now();
    assert!(
        closed_within(&mut idle, wait, &sock),
        "an idle connection stays open"
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );

    // Half a header, then nothing.
    let tcp = connect_from("127.0.0.4", &server.addr, 1).remove(0);
    let sock = tcp.try_clone().unwrap();
    let mut half = tls_over(&server, tcp);
    half.write_all(b"GET /whoami HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    half.flush().unwrap();
    assert!(
        closed_within(&mut half, wait, &sock),
        "half a header stays open"
    );

    // A byte every 100 ms: active, but far below 1 KiB per window.
    let tcp = connect_from("127.0.0.4", &server.addr, 1).remove(0);
    let sock = tcp.try_clone().unwrap();
    let mut slow = tls_over(&server, tcp);
    let t0 = Instant::now();
    let mut cut = false;
    for b in b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
        .iter()
        .cycle()
        .take(60)
    {
        if slow.write_all(&[*b]).and_then(|()| slow.flush()).is_err() {
            cut = true;
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    assert!(
        cut || closed_within(&mut slow, wait, &sock),
        "a trickle stays open"
    );
    assert!(t0.elapsed() < Duration::from_secs(6), "{:?}", t0.elapsed());

    // A normal request is still served.
    let a = client(&server, None)
        .request("GET", "/whoami", &[], b"")
        .unwrap();
    assert_eq!(a.text(), "none");
}
