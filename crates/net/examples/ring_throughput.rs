//! Throughput of plain TCP against TLS on loopback: three parties in a ring, each sending
//! messages of a given size to the next party while receiving from the previous one (the
//! traffic pattern of a multiplication), and then to both peers at once.
//!
//! Run with `cargo run --release -p tessera-net --example ring_throughput [MiB] [rounds]`.
//! Identities are generated on the fly; nothing is written to disk.

use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::{Duration, Instant};

use tessera_net::identity::Identity;
use tessera_net::tcp::{connect_with_listener, TcpConfig};
use tessera_net::tls::{connect_tls_with_listener, TlsConfig};
use tessera_net::{Endpoint, NetError, PARTIES};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mib: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(8);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(40);
    let ids: [Identity; PARTIES] =
        std::array::from_fn(|i| Identity::generate(&format!("bench {i}")).expect("identity"));
    println!("{mib} MiB messages, {rounds} rounds, 3 parties on loopback");
    println!(
        "{:<6} {:>22} {:>26}",
        "", "ring (MB/s per link)", "both peers (MB/s per link)"
    );
    let mut results = Vec::new();
    for tls in [false, true, false, true] {
        let ring = run(tls, &ids, mib << 20, rounds, false);
        let both = run(tls, &ids, mib << 20, rounds / 2, true);
        let name = if tls { "tls" } else { "tcp" };
        println!("{name:<6} {ring:>22.0} {both:>26.0}");
        results.push((tls, ring, both));
    }
    let best = |tls: bool, pick: fn(&(bool, f64, f64)) -> f64| {
        results
            .iter()
            .filter(|r| r.0 == tls)
            .map(pick)
            .fold(0.0, f64::max)
    };
    let cost =
        |pick: fn(&(bool, f64, f64)) -> f64| 100.0 * (1.0 - best(true, pick) / best(false, pick));
    println!(
        "TLS costs {:.1}% (ring) and {:.1}% (both peers) of TCP throughput (best of runs)",
        cost(|r| r.1),
        cost(|r| r.2)
    );
}

/// Connects three parties and returns the payload throughput of one link, in MB/s.
fn run(tls: bool, ids: &[Identity; PARTIES], size: usize, rounds: usize, both: bool) -> f64 {
    let listeners: [TcpListener; PARTIES] =
        std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").expect("bind"));
    let addrs: [SocketAddr; PARTIES] =
        std::array::from_fn(|i| listeners[i].local_addr().expect("address"));
    let fps = std::array::from_fn(|i| ids[i].fingerprint());
    let handles: Vec<_> = listeners
        .into_iter()
        .enumerate()
        .map(|(me, l)| {
            let tcp = TcpConfig {
                me,
                addrs,
                session: *b"ring-throughput!",
                connect_timeout: Duration::from_secs(10),
                recv_timeout: Duration::from_secs(60),
            };
            let tls_cfg = TlsConfig::new(tcp.clone(), &ids[me], fps);
            thread::spawn(move || -> Result<f64, NetError> {
                let mut ep = if tls {
                    connect_tls_with_listener(&tls_cfg, l)?
                } else {
                    connect_with_listener(&tcp, l)?
                };
                exchange(&mut ep, size, 2, both)?; // warm-up
                let t0 = Instant::now();
                exchange(&mut ep, size, rounds, both)?;
                Ok(t0.elapsed().as_secs_f64())
            })
        })
        .collect();
    let secs = handles
        .into_iter()
        .map(|h| h.join().expect("party thread").expect("party"))
        .fold(0.0, f64::max);
    (size * rounds) as f64 / secs / 1e6
}

fn exchange(ep: &mut Endpoint, size: usize, rounds: usize, both: bool) -> Result<(), NetError> {
    let me = ep.party();
    let (next, prev) = ((me + 1) % PARTIES, (me + 2) % PARTIES);
    for _ in 0..rounds {
        ep.send(next, vec![me as u8; size])?;
        if both {
            ep.send(prev, vec![me as u8; size])?;
            ep.recv(next)?;
        }
        let got = ep.recv(prev)?;
        assert_eq!(got.len(), size);
    }
    Ok(())
}
