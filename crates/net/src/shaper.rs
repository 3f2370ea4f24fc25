//! A wide-area network simulated inside the transport: added one-way latency and a bandwidth
//! cap on every outgoing link of an endpoint, for benchmarks. It needs no privileges (unlike
//! `tc netem`) and works the same over [`crate::memory`] and [`crate::tcp`] links.
//!
//! [`Endpoint::shaped`] puts a shaper thread in front of each link's outgoing queue. Each
//! frame is modelled as crossing one dedicated wire per link and direction:
//!
//! - **serialization**: a frame of `L` payload bytes (plus [`HEADER_LEN`] bytes of framing, 4 more on a sub-session channel)
//!   occupies the wire for `8 (L + 17) / bandwidth` seconds, starting when it is sent or when
//!   the wire is done with the previous frame, whichever is later;
//! - **propagation**: the frame is handed to the real carrier the one-way latency after its
//!   last bit left, whole (a receiver cannot use part of a message anyway), in send order.
//!
//! Both directions of a link are shaped independently, by the endpoint that sends, so every
//! party must shape its own endpoint: one message then costs one one-way latency, and a
//! round trip twice that. Abort frames are delayed like data. Dropping the endpoint still
//! delivers what was queued, on the simulated schedule (within the endpoint's flush wait).
//!
//! Not simulated: loss, retransmission, jitter and reordering (timing is deterministic and
//! order is kept); TCP slow start and congestion windows; a bandwidth shared between links
//! (each link and direction has its own full capacity); the real carrier's own latency and
//! bandwidth, which add to the simulated ones. Timing follows the host's sleep accuracy
//! (typically within about 0.1 ms).

use std::collections::VecDeque;
use std::fmt;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::frame::HEADER_LEN;
use crate::{Endpoint, Frame, Link};

/// Network conditions to simulate on every outgoing link of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    /// Added delay between a frame leaving the sender and reaching the peer.
    pub one_way_latency: Duration,
    /// Capacity of each link in each direction, in bits per second; `None` for unlimited.
    /// Must not be zero.
    pub bandwidth_bits_per_sec: Option<u64>,
}

impl Shape {
    /// True if this shape changes nothing (no latency, unlimited bandwidth).
    pub fn is_unshaped(&self) -> bool {
        self.one_way_latency.is_zero() && self.bandwidth_bits_per_sec.is_none()
    }

    /// How long the wire is busy with a frame carrying `payload` bytes.
    fn serialization(&self, payload: usize) -> Duration {
        match self.bandwidth_bits_per_sec {
            None => Duration::ZERO,
            Some(bw) => {
                let bits = (payload as u128 + HEADER_LEN as u128) * 8;
                let nanos = (bits * 1_000_000_000).div_ceil(bw as u128);
                Duration::from_nanos(nanos.min(u64::MAX as u128) as u64)
            }
        }
    }
}

/// A number without trailing zeros (at most three decimals).
fn trimmed(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

impl fmt::Display for Shape {
    /// E.g. "one-way latency 25 ms (50 ms round trip), bandwidth 1000 Mbit/s per link".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.one_way_latency.as_secs_f64() * 1e3;
        write!(
            f,
            "one-way latency {} ms ({} ms round trip), ",
            trimmed(ms),
            trimmed(2.0 * ms)
        )?;
        match self.bandwidth_bits_per_sec {
            Some(bw) => write!(f, "bandwidth {} Mbit/s per link", trimmed(bw as f64 / 1e6)),
            None => write!(f, "unlimited bandwidth"),
        }
    }
}

impl Endpoint {
    /// The same endpoint with `shape` simulated on each of its outgoing links (see the
    /// [module documentation](crate::shaper)). Apply it right after connecting, on every
    /// party. A shape that changes nothing returns the endpoint as it is.
    ///
    /// # Panics
    ///
    /// If the bandwidth is zero, or a shaper thread cannot be started.
    pub fn shaped(self, shape: Shape) -> Endpoint {
        assert!(
            shape.bandwidth_bits_per_sec != Some(0),
            "a shaped link needs a positive bandwidth"
        );
        if shape.is_unshaped() {
            return self;
        }
        let me = self.party();
        self.map_links(|peer, link| shape_link(me, peer, link, shape))
    }
}

/// Puts a shaper thread between a new outgoing queue and `link`'s.
fn shape_link(me: usize, peer: usize, link: Link, shape: Shape) -> Link {
    let Link { tx, rx, writer } = link;
    let (to_shaper, frames) = channel();
    let shaper = thread::Builder::new()
        .name(format!("tessera-shape-{me}-{peer}"))
        .spawn(move || carry(frames, tx, writer, shape))
        .expect("cannot start a link shaper thread");
    Link {
        tx: to_shaper,
        rx,
        writer: Some(shaper),
    }
}

/// Payload bytes of a frame as it would be written on a stream (a sub-session's channel id
/// counted as payload, so that [`Shape::serialization`] adds the common header only).
fn payload_len(frame: &Frame) -> usize {
    match frame {
        Frame::Data { body, .. } => body.len() + frame.framing_len() - HEADER_LEN,
        Frame::Abort(reason) => reason.len(),
        Frame::Closed(_) | Frame::Malformed(_) => 0,
    }
}

/// Shaper thread: frames from `frames` to `out`, each at its simulated arrival time, until
/// `frames` is closed and everything is delivered, or `out`'s carrier is gone. Then closes
/// `out` and waits for the carrier's writer, so that whoever waits for this thread also waits
/// for the real flush.
fn carry(
    frames: Receiver<Frame>,
    out: Sender<Frame>,
    writer: Option<JoinHandle<()>>,
    shape: Shape,
) {
    // Frames in flight with their delivery times (non-decreasing, so a queue keeps order).
    let mut in_flight: VecDeque<(Instant, Frame)> = VecDeque::new();
    // When the simulated wire is done with the frames admitted so far.
    let mut wire_free = Instant::now();
    let mut open = true;
    let mut admit = |frame: Frame, in_flight: &mut VecDeque<(Instant, Frame)>| {
        let start = wire_free.max(Instant::now());
        wire_free = start + shape.serialization(payload_len(&frame));
        in_flight.push_back((wire_free + shape.one_way_latency, frame));
    };
    'run: loop {
        let now = Instant::now();
        while in_flight.front().is_some_and(|(at, _)| *at <= now) {
            let (_, frame) = in_flight.pop_front().expect("checked");
            if out.send(frame).is_err() {
                // The carrier is gone: drop our queue too, so later sends fail.
                break 'run;
            }
        }
        match (in_flight.front(), open) {
            (None, false) => break,
            (None, true) => match frames.recv() {
                Ok(f) => admit(f, &mut in_flight),
                Err(_) => open = false,
            },
            // Wait for the next delivery time, taking in (and timestamping) new frames
            // meanwhile.
            (Some((at, _)), true) => match frames.recv_timeout(at.saturating_duration_since(now)) {
                Ok(f) => admit(f, &mut in_flight),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            },
            (Some((at, _)), false) => thread::sleep(at.saturating_duration_since(now)),
        }
    }
    drop(frames);
    drop(out);
    if let Some(w) = writer {
        let _ = w.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{memory, NetError};

    const T: Duration = Duration::from_secs(5);

    fn latency(ms: u64) -> Shape {
        Shape {
            one_way_latency: Duration::from_millis(ms),
            bandwidth_bits_per_sec: None,
        }
    }

    fn shaped_trio(shape: Shape) -> [Endpoint; 3] {
        memory::connect(T).map(|ep| ep.shaped(shape))
    }

    #[test]
    fn latency_delays_each_message_once() {
        let [mut a, mut b, _c] = shaped_trio(latency(20));
        let t = Instant::now();
        a.send(1, vec![1, 2, 3]).unwrap();
        assert_eq!(b.recv(0).unwrap(), vec![1, 2, 3]);
        let one_way = t.elapsed();
        assert!(one_way >= Duration::from_millis(20), "{one_way:?}");

        let t = Instant::now();
        a.send(1, vec![7]).unwrap();
        let got = b.recv(0).unwrap();
        b.send(0, got).unwrap();
        assert_eq!(a.recv(1).unwrap(), vec![7]);
        let rtt = t.elapsed();
        assert!(
            rtt >= Duration::from_millis(40) && rtt < Duration::from_millis(200),
            "{rtt:?}"
        );
    }

    #[test]
    fn messages_sent_together_share_the_latency() {
        // Latency is a delay, not a rate: ten messages sent at once arrive after about one
        // latency, not ten.
        let [mut a, mut b, _c] = shaped_trio(latency(20));
        let t = Instant::now();
        for i in 0..10u8 {
            a.send(1, vec![i]).unwrap();
        }
        for i in 0..10u8 {
            assert_eq!(b.recv(0).unwrap(), vec![i]);
        }
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(20) && took < Duration::from_millis(100),
            "{took:?}"
        );
    }

    #[test]
    fn bandwidth_limits_throughput() {
        let shape = Shape {
            one_way_latency: Duration::ZERO,
            bandwidth_bits_per_sec: Some(8_000_000),
        };
        let [mut a, mut b, _c] = shaped_trio(shape);
        let t = Instant::now();
        a.send(1, vec![5; 100_000]).unwrap();
        assert_eq!(b.recv(0).unwrap().len(), 100_000);
        let took = t.elapsed();
        // 100,017 bytes at 1 MB/s.
        assert!(
            took >= Duration::from_micros(100_017) && took < Duration::from_millis(300),
            "{took:?}"
        );

        // Small frames queue behind each other: 50 of 1983 bytes (2000 with framing) take
        // 100 ms, and the first one is not held back by the others.
        let t = Instant::now();
        for _ in 0..50 {
            a.send(1, vec![0; 1983]).unwrap();
        }
        b.recv(0).unwrap();
        let first = t.elapsed();
        for _ in 1..50 {
            b.recv(0).unwrap();
        }
        let all = t.elapsed();
        assert!(first >= Duration::from_millis(2) && first < Duration::from_millis(50));
        assert!(
            all >= Duration::from_millis(100) && all < Duration::from_millis(300),
            "{all:?}"
        );
    }

    #[test]
    fn latency_and_bandwidth_add_up() {
        let shape = Shape {
            one_way_latency: Duration::from_millis(10),
            bandwidth_bits_per_sec: Some(80_000_000),
        };
        let [mut a, mut b, _c] = shaped_trio(shape);
        let t = Instant::now();
        a.send(1, vec![0; 500_000]).unwrap(); // 50 ms on the wire
        b.recv(0).unwrap();
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(60) && took < Duration::from_millis(250),
            "{took:?}"
        );
    }

    #[test]
    fn order_is_kept() {
        let shape = Shape {
            one_way_latency: Duration::from_millis(2),
            bandwidth_bits_per_sec: Some(100_000_000),
        };
        let [mut a, mut b, mut c] = shaped_trio(shape);
        for i in 0..2000u32 {
            a.send(1, i.to_le_bytes().to_vec()).unwrap();
            a.send(2, vec![0; (i % 37) as usize]).unwrap();
        }
        for i in 0..2000u32 {
            assert_eq!(b.recv(0).unwrap(), i.to_le_bytes());
            assert_eq!(c.recv(0).unwrap().len(), (i % 37) as usize);
        }
        assert_eq!(a.stats().messages_sent, 4000);
    }

    #[test]
    fn dropping_the_endpoint_delivers_what_was_queued() {
        let [a, mut b, _c] = memory::connect(T);
        let mut a = a.shaped(latency(30));
        for i in 0..5u8 {
            a.send(1, vec![i]).unwrap();
        }
        let t = Instant::now();
        drop(a); // waits for the shaper to deliver
        let waited = t.elapsed();
        assert!(waited >= Duration::from_millis(25), "{waited:?}");
        for i in 0..5u8 {
            assert_eq!(b.recv(0).unwrap(), vec![i]);
        }
        assert!(matches!(b.recv(0), Err(NetError::Closed { peer: 0, .. })));
    }

    #[test]
    fn abort_reaches_the_peers_late() {
        let [mut a, mut b, mut c] = shaped_trio(latency(20));
        let t = Instant::now();
        a.send(1, vec![1]).unwrap();
        a.abort("stop");
        assert_eq!(b.recv(0).unwrap(), vec![1]);
        assert!(matches!(
            b.recv(0),
            Err(NetError::Aborted { peer: 0, ref reason }) if reason == "stop"
        ));
        assert!(matches!(c.recv(0), Err(NetError::Aborted { peer: 0, .. })));
        assert!(t.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn a_gone_peer_ends_the_shaper() {
        let [a, b, _c] = memory::connect(T);
        let mut a = a.shaped(latency(1));
        drop(b);
        a.send(1, vec![1]).unwrap();
        // Once the shaper finds the carrier gone, it closes its own queue.
        let t = Instant::now();
        while a.send(1, vec![2]).is_ok() {
            assert!(t.elapsed() < Duration::from_secs(2), "sends never failed");
            thread::sleep(Duration::from_millis(1));
        }
        assert!(matches!(
            a.failure(),
            Some(NetError::Closed { peer: 1, .. })
        ));
    }

    #[test]
    fn unshaped_is_a_no_op_and_display() {
        let [a, _, _] = memory::connect(T);
        let a = a.shaped(Shape::default());
        let _ = a.map_links(|_, link| {
            assert!(link.writer.is_none(), "an unshaped endpoint got a thread");
            link
        });
        let s = Shape {
            one_way_latency: Duration::from_millis(25),
            bandwidth_bits_per_sec: Some(1_000_000_000),
        };
        assert_eq!(
            s.to_string(),
            "one-way latency 25 ms (50 ms round trip), bandwidth 1000 Mbit/s per link"
        );
        assert_eq!(
            latency(0).to_string(),
            "one-way latency 0 ms (0 ms round trip), unlimited bandwidth"
        );
        let half = Shape {
            one_way_latency: Duration::from_micros(2500),
            bandwidth_bits_per_sec: Some(1_500_000),
        };
        assert_eq!(
            half.to_string(),
            "one-way latency 2.5 ms (5 ms round trip), bandwidth 1.5 Mbit/s per link"
        );
    }

    #[test]
    fn shaped_tcp_links() {
        use crate::tcp::{connect_with_listener, TcpConfig};
        use std::net::TcpListener;
        let ls: Vec<TcpListener> = (0..3)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let addrs: [std::net::SocketAddr; 3] = std::array::from_fn(|i| ls[i].local_addr().unwrap());
        let handles: Vec<_> = ls
            .into_iter()
            .enumerate()
            .map(|(me, l)| {
                let cfg = TcpConfig {
                    me,
                    addrs,
                    session: *b"tessera-shaper-1",
                    connect_timeout: T,
                    recv_timeout: T,
                };
                thread::spawn(move || {
                    let mut ep = connect_with_listener(&cfg, l).unwrap().shaped(latency(15));
                    let (next, prev) = ((me + 1) % 3, (me + 2) % 3);
                    let t = Instant::now();
                    ep.send(next, vec![me as u8; 1000]).unwrap();
                    assert_eq!(ep.recv(prev).unwrap(), vec![prev as u8; 1000]);
                    let took = t.elapsed();
                    ep.send(prev, vec![9]).unwrap();
                    assert_eq!(ep.recv(next).unwrap(), vec![9]);
                    took
                })
            })
            .collect();
        let took: Vec<Duration> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        // The party that finished connecting first waited a whole latency for its message.
        let longest = took.iter().max().unwrap();
        assert!(
            *longest >= Duration::from_millis(15) && *longest < Duration::from_secs(1),
            "{took:?}"
        );
    }
}
