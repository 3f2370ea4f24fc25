//! Three parties as threads of one process, linked by in-memory queues.

use std::sync::mpsc::channel;
use std::time::Duration;

use crate::{Endpoint, Link, PARTIES};

/// Builds three connected endpoints, one per party, in index order.
#[allow(clippy::needless_range_loop)] // indices name parties on both sides of a link
pub fn connect(timeout: Duration) -> [Endpoint; PARTIES] {
    let mut links: [[Option<Link>; PARTIES]; PARTIES] = Default::default();
    for a in 0..PARTIES {
        for b in (a + 1)..PARTIES {
            let (tx_ab, rx_ab) = channel();
            let (tx_ba, rx_ba) = channel();
            links[a][b] = Some(Link {
                tx: tx_ab,
                rx: rx_ba,
                writer: None,
            });
            links[b][a] = Some(Link {
                tx: tx_ba,
                rx: rx_ab,
                writer: None,
            });
        }
    }
    let mut it = links.into_iter().enumerate();
    std::array::from_fn(|_| {
        let (i, l) = it.next().expect("three parties");
        Endpoint::new(i, l, timeout)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NetError;

    #[test]
    fn exchange_counts_and_timeouts() {
        let [mut a, mut b, mut c] = connect(Duration::from_millis(200));
        a.send(1, vec![1, 2, 3]).unwrap();
        b.send(0, vec![9]).unwrap();
        assert_eq!(b.recv(0).unwrap(), vec![1, 2, 3]);
        assert_eq!(a.recv(1).unwrap(), vec![9]);
        a.send(2, vec![0; 10]).unwrap();
        let s = a.stats();
        assert_eq!((s.bytes_sent, s.messages_sent, s.rounds), (13, 2, 2));
        assert_eq!(c.recv(0).unwrap().len(), 10);
        assert!(matches!(c.recv(1), Err(NetError::Timeout { peer: 1, .. })));
        // poisoned after an error
        assert!(matches!(c.recv(0), Err(NetError::Timeout { peer: 1, .. })));
    }

    #[test]
    fn abort_and_drop_reach_peers() {
        let [mut a, mut b, c] = connect(Duration::from_secs(5));
        a.abort("bad input");
        assert!(matches!(b.recv(0), Err(NetError::Aborted { peer: 0, .. })));
        drop(c);
        let [_, mut b2, c2] = connect(Duration::from_secs(5));
        drop(c2);
        assert!(matches!(b2.recv(2), Err(NetError::Closed { peer: 2, .. })));
    }
}
