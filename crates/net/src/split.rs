//! Several independent sub-sessions over one endpoint's links at the same time.
//!
//! [`Endpoint::split`] gives `k` sub-endpoints, each on a channel of its own: its frames
//! carry the channel id and the receiving party files them under it ([`crate::mux`]), so
//! protocols on different sub-endpoints interleave freely on the wire, in both directions,
//! without waiting for each other. Every party must split the same way at the same point
//! of its protocol (channel ids are handed out in order) and use sub-endpoint `i` for the
//! same sub-session. [`Endpoint::join`] folds the sub-endpoints back into their parent.
//!
//! Each sub-endpoint has its own receive timeout (the parent's at the split), counters and
//! round clock (starting from the parent's). An abort on any of them, or the end of a link
//! (the peer's abort, a lost or malformed connection, a message for a channel that is not
//! open) fails every sub-endpoint and the parent.

use crate::{Endpoint, NetError};

impl Endpoint {
    /// Splits off `k` sub-endpoints sharing this endpoint's links; the endpoint itself stays
    /// usable (on its own channel) and takes their counters back with [`Endpoint::join`].
    /// Fails if the endpoint already failed.
    pub fn split(&mut self, k: usize) -> Result<Vec<Endpoint>, NetError> {
        if let Some(e) = self.failure() {
            return Err(e.clone());
        }
        let k = u32::try_from(k).expect("fewer than 2^32 sub-endpoints");
        Ok(self.open_channels(k).map(|c| self.sub(c)).collect())
    }

    /// Takes back sub-endpoints split from this endpoint (their channels close): bytes and
    /// messages add up, rounds are the latest any of them reached (they ran side by side),
    /// and the round clock moves on to the latest round any of them saw. If one failed, the
    /// endpoint fails with the first failure any of them met, which is returned.
    ///
    /// # Panics
    ///
    /// If a part was not split from this endpoint (or from one of its sub-endpoints).
    pub fn join(&mut self, parts: Vec<Endpoint>) -> Result<(), NetError> {
        for part in &parts {
            self.absorb(part);
        }
        drop(parts);
        match self.failure() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;
    use std::time::{Duration, Instant};

    use crate::{memory, Endpoint, Frame, Link, NetError, Stats};

    const T: Duration = Duration::from_secs(5);

    /// Runs `f(party, sub-endpoints)` for the three parties on threads, each split in `k`.
    fn on_split<R: Send>(
        eps: [Endpoint; 3],
        k: usize,
        f: impl Fn(usize, Vec<Endpoint>) -> R + Sync,
    ) -> Vec<(Endpoint, R)> {
        std::thread::scope(|s| {
            let hs: Vec<_> = eps
                .into_iter()
                .enumerate()
                .map(|(i, mut ep)| {
                    let f = &f;
                    s.spawn(move || {
                        let parts = ep.split(k).unwrap();
                        let r = f(i, parts);
                        (ep, r)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    #[test]
    fn channels_interleave_both_ways_and_counters_merge() {
        let eps = memory::connect(T);
        // Each sub-endpoint on its own thread: channel c sends c+1 messages of c+1 bytes to
        // each peer, tagged with (channel, index), and checks what it gets back in order.
        let out = on_split(eps, 4, |me, parts| {
            let parts: Vec<Endpoint> = std::thread::scope(|s| {
                let hs: Vec<_> = parts
                    .into_iter()
                    .enumerate()
                    .map(|(c, mut ep)| {
                        s.spawn(move || {
                            for j in 0..=c {
                                for peer in (0..3).filter(|&p| p != me) {
                                    ep.send(peer, vec![c as u8 * 16 + j as u8; c + 1]).unwrap();
                                }
                                for peer in (0..3).filter(|&p| p != me) {
                                    let m = ep.recv(peer).unwrap();
                                    assert_eq!(m, vec![c as u8 * 16 + j as u8; c + 1]);
                                }
                            }
                            let s = ep.stats();
                            assert_eq!(s.messages_sent, 2 * (c as u64 + 1));
                            assert_eq!(s.rounds, c as u64 + 1, "one round per exchange");
                            ep
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            parts
        });
        for (mut ep, parts) in out {
            assert_eq!(ep.stats(), Stats::default());
            ep.join(parts).unwrap();
            let s = ep.stats();
            // Sum over channels of 2 (c+1) messages of c+1 bytes.
            let bytes: u64 = (1..=4u64).map(|n| 2 * n * n).sum();
            assert_eq!((s.bytes_sent, s.bytes_received), (bytes, bytes));
            assert_eq!(s.messages_sent, 2 * (1 + 2 + 3 + 4));
            assert_eq!(s.rounds, 4, "the longest channel, not the sum");
        }
    }

    #[test]
    fn the_parent_goes_on_after_a_join_with_the_latest_round() {
        let mut eps = memory::connect(T);
        // A round on the parent first: sub-endpoints start from its clock.
        eps[0].send(1, vec![1]).unwrap();
        eps[1].recv(0).unwrap();
        let out = on_split(eps, 2, |me, mut parts| {
            if me < 2 {
                let peer = 1 - me;
                // Channel 1 takes two rounds, channel 0 one.
                parts[1].send(peer, vec![2]).unwrap();
                parts[1].recv(peer).unwrap();
                parts[1].send(peer, vec![3]).unwrap();
                parts[1].recv(peer).unwrap();
                parts[0].send(peer, vec![4]).unwrap();
                assert_eq!(parts[0].recv(peer).unwrap(), vec![4]);
            }
            parts
        });
        let mut eps: Vec<Endpoint> = out
            .into_iter()
            .map(|(mut ep, parts)| {
                ep.join(parts).unwrap();
                ep
            })
            .collect();
        assert_eq!(eps[0].stats().rounds, 3);
        assert_eq!(eps[1].stats().rounds, 3);
        eps[1].send(0, vec![5]).unwrap();
        assert_eq!(eps[0].recv(1).unwrap(), vec![5]);
        assert_eq!(eps[0].stats().rounds, 4);
    }

    #[test]
    fn an_abort_on_one_channel_fails_every_channel_on_every_party() {
        let eps = memory::connect(T);
        let t0 = Instant::now();
        let out = on_split(eps, 3, |me, mut parts| {
            if me == 0 {
                parts[2].abort("stop");
                assert!(matches!(
                    parts[0].send(1, vec![1]),
                    Err(NetError::Aborted { peer: 0, .. })
                ));
            }
            // Everybody waits on every channel (the others for party 0): all fail at once,
            // none times out.
            let from = if me == 0 { 1 } else { 0 };
            let errs: Vec<NetError> = parts
                .iter_mut()
                .map(|p| p.recv(from).unwrap_err())
                .collect();
            (parts, errs)
        });
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "nobody waited for a timeout"
        );
        for (i, (mut ep, (parts, errs))) in out.into_iter().enumerate() {
            for e in &errs {
                assert!(
                    matches!(e, NetError::Aborted { peer: 0, .. }),
                    "party {i}: {e}"
                );
            }
            assert!(ep.join(parts).is_err());
            if i != 2 {
                // Party 2 never heard from party 1; its link to party 0 is what ended.
                assert!(
                    ep.send(1 - i.min(1), vec![]).is_err(),
                    "the parent is failed too"
                );
            }
        }
    }

    #[test]
    fn a_message_for_a_closed_channel_is_an_error_not_a_panic() {
        let [mut a, mut b, _c] = memory::connect(T);
        let pa = a.split(2).unwrap();
        let pb = b.split(2).unwrap();
        b.join(pb).unwrap();
        let mut pa = pa;
        pa[1].send(1, vec![7]).unwrap();
        let e = b.recv(0).unwrap_err();
        assert!(
            matches!(&e, NetError::Malformed { peer: 0, detail } if detail.contains("channel 2")),
            "{e}"
        );
        a.join(pa).unwrap();
    }

    #[test]
    fn a_message_for_a_channel_far_ahead_is_an_error() {
        let (tx, rx_peer) = channel();
        let (tx_peer, rx) = channel();
        let link = Link {
            tx,
            rx,
            writer: None,
        };
        let mut ep = Endpoint::new(0, [None, Some(link), None], T);
        tx_peer
            .send(Frame::Data {
                channel: u32::MAX,
                round: 1,
                body: vec![1],
            })
            .unwrap();
        assert!(matches!(
            ep.recv(1),
            Err(NetError::Malformed { peer: 1, .. })
        ));
        drop(rx_peer);
    }

    #[test]
    fn a_peer_that_splits_first_is_waited_for_and_timeouts_stay_per_channel() {
        let [mut a, mut b, _c] = memory::connect(Duration::from_millis(300));
        let mut pa = a.split(2).unwrap();
        pa[1].send(1, vec![9]).unwrap();
        // b splits later; the message waited in channel 2's queue.
        let mut pb = b.split(2).unwrap();
        assert!(matches!(
            pb[0].recv(0),
            Err(NetError::Timeout { peer: 0, .. })
        ));
        assert_eq!(pb[1].recv(0).unwrap(), vec![9]);
        assert!(matches!(b.join(pb), Err(NetError::Timeout { .. })));
        a.join(pa).unwrap();
    }

    #[test]
    fn a_closed_link_reaches_every_channel() {
        let [mut a, b, _c] = memory::connect(T);
        let mut pa = a.split(2).unwrap();
        drop(b);
        for p in &mut pa {
            assert!(matches!(p.recv(1), Err(NetError::Closed { peer: 1, .. })));
        }
        assert!(a.join(pa).is_err());
    }
}
