//! Several independent sub-sessions over one endpoint's links at the same time.
//!
//! [`Endpoint::split`] gives `k` sub-endpoints, each on a channel of its own: its frames
//! carry the channel id and the receiving party files them under it ([`crate::mux`]), so
//! protocols on different sub-endpoints interleave freely on the wire, in both directions,
//! without waiting for each other. Every party must split the same endpoint the same way at
//! the same point of its protocol and use sub-endpoint `i` for the same sub-session; then
//! the ids agree between the parties, because a channel id is the sub-session's place in
//! the fork tree ([`crate::ChannelId`]: the parent's id and the parent's own count of the
//! sub-endpoints it split off before), not the order in which the party's threads split.
//! So sub-endpoints on several threads may split again at the same time. [`Endpoint::join`]
//! folds the sub-endpoints back into their parent.
//!
//! Each sub-endpoint has its own receive timeout (the parent's at the split), counters and
//! round clock (starting from the parent's). An abort on any of them, or the end of a link
//! (the peer's abort, a lost or malformed connection, a message for a channel that is not
//! open) fails every sub-endpoint and the parent.

use crate::{Endpoint, NetError};

impl Endpoint {
    /// Splits off `k` sub-endpoints sharing this endpoint's links; the endpoint itself stays
    /// usable (on its own channel) and takes their counters back with [`Endpoint::join`].
    /// Fails if the endpoint already failed, or if the sub-endpoints would be nested more
    /// than [`crate::channel::MAX_DEPTH`] deep.
    pub fn split(&mut self, k: usize) -> Result<Vec<Endpoint>, NetError> {
        if let Some(e) = self.failure() {
            return Err(e.clone());
        }
        let ids = self.open_channels(k as u64)?;
        Ok(ids.into_iter().map(|c| self.sub(c)).collect())
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
    use std::sync::mpsc::{channel, Receiver, Sender};
    use std::time::{Duration, Instant};

    use crate::mux::{CHANNELS_AHEAD, MAX_WAITING_CHANNELS};
    use crate::{memory, ChannelId, Endpoint, Frame, Link, NetError, Stats};

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
            matches!(&e, NetError::Malformed { peer: 0, detail } if detail.contains("channel 1, which is closed")),
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
        tx_peer.send(data(&[u64::MAX])).unwrap();
        assert!(matches!(
            ep.recv(1),
            Err(NetError::Malformed { peer: 1, .. })
        ));
        drop(rx_peer);
    }

    /// A frame on `path`, round 1, one byte.
    fn data(path: &[u64]) -> Frame {
        Frame::Data {
            channel: ChannelId::from_path(path).unwrap(),
            round: 1,
            body: vec![1],
        }
    }

    /// A raw link that plays party 1 against party 0's endpoint; returns the endpoint, the
    /// frames' way in and the way out (to keep open).
    fn against_party_1(timeout: Duration) -> (Endpoint, Sender<Frame>, Receiver<Frame>) {
        let (tx, rx_peer) = channel();
        let (tx_peer, rx) = channel();
        let link = Link {
            tx,
            rx,
            writer: None,
        };
        let ep = Endpoint::new(0, [None, Some(link), None], timeout);
        (ep, tx_peer, rx_peer)
    }

    /// Reads party 0's link on a fresh view of its root channel, which files every frame
    /// that came: the error that ends it (a timeout when all were queued).
    fn file_all(ep: &Endpoint) -> NetError {
        ep.sub(ChannelId::root()).recv(1).unwrap_err()
    }

    /// What party 0 says to a frame on `path` from party 1 (`Ok`: it was queued), when its
    /// channels 0 and 1 are open, 2 closed, 3 open with 3.0 and 3.1 below it, 4 not yet.
    fn admitted(path: &[u64]) -> Result<(), String> {
        let (mut ep, tx_peer, _rx_peer) = against_party_1(Duration::from_millis(50));
        let mut parts = ep.split(3).unwrap();
        drop(parts.pop());
        parts.push(ep.split(1).unwrap().pop().unwrap());
        let _below = parts[2].split(2).unwrap();
        tx_peer.send(data(path)).unwrap();
        match file_all(&ep) {
            NetError::Timeout { .. } => Ok(()),
            NetError::Malformed { detail, .. } => Err(detail),
            e => panic!("{e}"),
        }
    }

    #[test]
    fn frames_are_admitted_for_open_channels_and_those_plausibly_about_to_open() {
        const CLOSED: Option<&str> = Some("which is closed");
        const FAR: Option<&str> = Some("far beyond those open");
        for (path, refused) in [
            (&[0][..], None),
            (&[1], None),
            (&[3], None),
            (&[3, 0], None),
            (&[3, 1, 5], None),
            (&[3, 1, 0, 0, 0, 0], None),
            (&[4], None),
            (&[4, 2, 7], None),
            (&[3, 2], None),
            (&[3 + CHANNELS_AHEAD], None),
            (&[2], CLOSED),
            (&[2, 0], CLOSED),
            (&[4 + CHANNELS_AHEAD], FAR),
            (&[4, CHANNELS_AHEAD], FAR),
            (&[3, 2 + CHANNELS_AHEAD], FAR),
            (&[3, 1, CHANNELS_AHEAD, 0], FAR),
        ] {
            let r = admitted(path);
            let c = ChannelId::from_path(path).unwrap();
            match (refused, &r) {
                (None, Ok(())) => {}
                (Some(why), Err(e)) => {
                    assert!(e.contains(&format!("channel {c}, {why}")), "{path:?}: {e}")
                }
                _ => panic!("{path:?}: {r:?}, expected {refused:?}"),
            }
        }
    }

    #[test]
    fn a_peer_cannot_make_a_party_queue_more_than_the_bound_of_unopened_channels() {
        let n = MAX_WAITING_CHANNELS as u64;
        let paths: Vec<Vec<u64>> = (0..=n).map(|i| vec![4 + i % 100, i / 100]).collect();
        let (ep, tx_peer, _rx_peer) = against_party_1(Duration::from_millis(50));
        for p in &paths[..paths.len() - 1] {
            tx_peer.send(data(p)).unwrap();
        }
        // More frames on a channel already waiting make no new queue.
        tx_peer.send(data(&paths[0])).unwrap();
        assert!(matches!(file_all(&ep), NetError::Timeout { .. }));
        tx_peer.send(data(&paths[n as usize])).unwrap();
        let e = file_all(&ep);
        let last = ChannelId::from_path(&paths[n as usize]).unwrap();
        assert!(
            matches!(&e, NetError::Malformed { peer: 1, detail }
                if detail.contains(&format!("more than {MAX_WAITING_CHANNELS} channels"))
                    && detail.contains(&format!("channel {last})"))),
            "{e}"
        );

        // Channels that opened, or opened and closed, no longer count.
        let (mut ep, tx_peer, _rx_peer) = against_party_1(Duration::from_millis(50));
        for i in 0..n {
            tx_peer.send(data(&[i])).unwrap();
        }
        assert!(matches!(file_all(&ep), NetError::Timeout { .. }));
        let mut parts = ep.split(n as usize).unwrap();
        parts.truncate(parts.len() / 2);
        for i in 0..n {
            tx_peer.send(data(&[n + i])).unwrap();
        }
        assert!(matches!(file_all(&ep), NetError::Timeout { .. }));
        // What waited for a channel is there once it opened.
        assert_eq!(parts[7].recv(1).unwrap(), vec![1]);
    }

    #[test]
    fn nested_splits_on_threads_get_the_same_ids_at_every_party_and_keep_their_messages() {
        // Three levels: 4 sub-endpoints, each on a thread splitting in 3 five times over,
        // each of those on a thread splitting in 2. Every leaf sends its id to both peers
        // and checks that each peer's leaf on the same channel sent the same id.
        let eps = memory::connect(T);
        let out = on_split(eps, 4, |me, parts| {
            let leaf = |mut ep: Endpoint| {
                let id = ep.channel().to_string();
                for peer in (0..3).filter(|&p| p != me) {
                    ep.send(peer, id.clone().into_bytes()).unwrap();
                }
                for peer in (0..3).filter(|&p| p != me) {
                    assert_eq!(ep.recv(peer).unwrap(), id.as_bytes(), "party {me}");
                }
                (ep, id)
            };
            let mut ids = Vec::new();
            let parts: Vec<Endpoint> = std::thread::scope(|s| {
                let hs: Vec<_> = parts
                    .into_iter()
                    .map(|mut ep| {
                        let leaf = &leaf;
                        s.spawn(move || {
                            let mut ids = Vec::new();
                            for _ in 0..5 {
                                let mid = ep.split(3).unwrap();
                                let mid: Vec<Endpoint> = std::thread::scope(|s| {
                                    let hs: Vec<_> = mid
                                        .into_iter()
                                        .map(|mut m| {
                                            s.spawn(move || {
                                                let low = m.split(2).unwrap();
                                                let (low, got): (Vec<_>, Vec<_>) =
                                                    std::thread::scope(|s| {
                                                        let hs: Vec<_> = low
                                                            .into_iter()
                                                            .map(|l| s.spawn(move || leaf(l)))
                                                            .collect();
                                                        hs.into_iter()
                                                            .map(|h| h.join().unwrap())
                                                            .unzip()
                                                    });
                                                m.join(low).unwrap();
                                                (m, got)
                                            })
                                        })
                                        .collect();
                                    hs.into_iter()
                                        .map(|h| {
                                            let (m, got) = h.join().unwrap();
                                            ids.extend(got);
                                            m
                                        })
                                        .collect()
                                });
                                ep.join(mid).unwrap();
                            }
                            (ep, ids)
                        })
                    })
                    .collect();
                hs.into_iter()
                    .map(|h| {
                        let (ep, got) = h.join().unwrap();
                        ids.extend(got);
                        ep
                    })
                    .collect()
            });
            (parts, ids)
        });
        let mut all = Vec::new();
        for (mut ep, (parts, ids)) in out {
            ep.join(parts).unwrap();
            all.push(ids);
        }
        assert_eq!(all[0].len(), 4 * 5 * 3 * 2);
        assert_eq!(all[0], all[1]);
        assert_eq!(all[0], all[2]);
        // Sub-endpoint 2 of the root, its fifth split's second part, that one's first.
        assert!(all[0].contains(&"2.13.0".to_string()), "{:?}", all[0]);
        let distinct: std::collections::BTreeSet<_> = all[0].iter().collect();
        assert_eq!(distinct.len(), all[0].len());
    }

    #[test]
    fn a_peer_ahead_by_two_levels_is_waited_for() {
        let [mut a, mut b, _c] = memory::connect(T);
        let mut pa = a.split(2).unwrap();
        let mut qa = pa[1].split(3).unwrap();
        let mut ra = qa[2].split(2).unwrap();
        ra[1].send(1, vec![42]).unwrap();
        a.send(1, vec![0]).unwrap();
        // b has split nothing yet when it files the frame for 1.2.1, on its way to the
        // message on the root; the frame waits until b has split.
        assert_eq!(b.recv(0).unwrap(), vec![0]);
        let mut pb = b.split(2).unwrap();
        let mut qb = pb[1].split(3).unwrap();
        let mut rb = qb[2].split(2).unwrap();
        assert_eq!(rb[1].channel().path(), &[1, 2, 1]);
        assert_eq!(rb[1].recv(0).unwrap(), vec![42]);
        qb[2].join(rb).unwrap();
        pb[1].join(qb).unwrap();
        b.join(pb).unwrap();
        qa[2].join(ra).unwrap();
        pa[1].join(qa).unwrap();
        a.join(pa).unwrap();
    }

    #[test]
    fn a_long_study_of_splits_never_reuses_an_id() {
        // More splits of one endpoint than version 2's window of channels ahead, each
        // carrying a message: ids go on growing, the messages keep to their channel.
        let [mut a, mut b, _c] = memory::connect(T);
        let n = CHANNELS_AHEAD + 10;
        for i in 0..n {
            let mut pa = a.split(1).unwrap();
            let mut pb = b.split(1).unwrap();
            assert_eq!(pa[0].channel().path(), &[i]);
            pa[0].send(1, i.to_le_bytes().to_vec()).unwrap();
            assert_eq!(pb[0].recv(0).unwrap(), i.to_le_bytes());
            a.join(pa).unwrap();
            b.join(pb).unwrap();
        }
        // A late frame for a channel long closed is refused, not taken for a newer one.
        let mut pa = a.split(1).unwrap();
        let mut pb = b.split(1).unwrap();
        let mut stale = a.sub(ChannelId::from_path(&[7]).unwrap());
        stale.send(1, vec![1]).unwrap();
        pa[0].send(1, vec![2]).unwrap();
        let e = pb[0].recv(0).unwrap_err();
        assert!(
            matches!(&e, NetError::Malformed { detail, .. } if detail.contains("channel 7, which is closed")),
            "{e}"
        );
        let _ = a.join(pa);
        let _ = b.join(pb);
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
