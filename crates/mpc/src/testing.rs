//! Running the three parties as threads of one process, for tests and examples.

use std::time::Duration;

use tessera_net::memory;

use crate::error::Result;
use crate::party::Party;
use crate::ring::Ring;
use crate::share::AShare;

/// Runs `f` as each of the three parties on its own thread, connected in memory, and
/// returns the three results in party order. A party whose `f` fails tells the others
/// (abort); a closing [`Party::barrier`] makes every party end with an error if any did.
pub fn run3<T: Send>(f: impl Fn(&mut Party) -> Result<T> + Sync) -> [Result<T>; 3] {
    run3_with_timeout(Duration::from_secs(20), f)
}

/// [`run3`] with a chosen receive timeout.
pub fn run3_with_timeout<T: Send>(
    timeout: Duration,
    f: impl Fn(&mut Party) -> Result<T> + Sync,
) -> [Result<T>; 3] {
    run3_parties(timeout, None, f)
}

/// [`run3`] on parties whose PRF seeds are fixed by `seed` ([`seeded_party`]): every
/// random choice drawn from the seeds (shuffles, secret folds and splits, masks) is the
/// same in every run, so a test of a randomised protocol does not depend on luck.
pub fn run3_seeded<T: Send>(
    seed: u64,
    f: impl Fn(&mut Party) -> Result<T> + Sync,
) -> [Result<T>; 3] {
    run3_parties(Duration::from_secs(20), Some(seed), f)
}

fn run3_parties<T: Send>(
    timeout: Duration,
    seed: Option<u64>,
    f: impl Fn(&mut Party) -> Result<T> + Sync,
) -> [Result<T>; 3] {
    let eps = memory::connect(timeout);
    std::thread::scope(|s| {
        let handles: Vec<_> = eps
            .into_iter()
            .map(|ep| {
                let f = &f;
                s.spawn(move || {
                    let mut p = match seed {
                        Some(seed) => seeded_party(ep, seed),
                        None => Party::setup(ep)?,
                    };
                    let r = f(&mut p).and_then(|v| p.barrier().map(|_| v));
                    if let Err(e) = &r {
                        p.abort(&e.to_string());
                    }
                    r
                })
            })
            .collect();
        let mut out = handles
            .into_iter()
            .map(|h| h.join().expect("party thread panicked"));
        std::array::from_fn(|_| out.next().expect("three results"))
    })
}

/// [`run3`] for protocols that must succeed: panics with the first error.
pub fn run3_ok<T: Send>(f: impl Fn(&mut Party) -> Result<T> + Sync) -> [T; 3] {
    let [a, b, c] = run3(f);
    [
        a.expect("party 0"),
        b.expect("party 1"),
        c.expect("party 2"),
    ]
}

/// Secret-shares `v` from party `owner` (every party calls this with the same `v`; only the
/// owner's copy is used). Panics on failure: for tests.
pub fn input<R: Ring>(p: &mut Party, owner: usize, v: &[R]) -> AShare<R> {
    let mine = (p.id() == owner).then_some(v);
    p.share_input(owner, mine, v.len()).expect("input")
}

/// The common value of three results that must agree (e.g. a value revealed to all).
pub fn same<T: PartialEq + std::fmt::Debug>(r: [T; 3]) -> T {
    let [a, b, c] = r;
    assert_eq!(a, b, "parties 0 and 1 disagree");
    assert_eq!(b, c, "parties 1 and 2 disagree");
    a
}

/// A party whose pairwise PRF seeds are fixed by `seed` instead of agreed with the peers
/// (no message is sent): three parties made with the same `seed` compute exactly the same
/// values in every run, probabilistic truncation included, so two ways of running one
/// computation can be compared bit for bit. Tests only: the seeds are known to everyone.
pub fn seeded_party(net: tessera_net::Endpoint, seed: u64) -> Party {
    let me = net.party();
    let key = |j: usize| {
        let mut s = [0u8; 16];
        s[..8].copy_from_slice(&seed.to_le_bytes());
        s[8] = j as u8;
        s
    };
    Party {
        prev: crate::prg::Prg::new(&key(me)),
        next: crate::prg::Prg::new(&key((me + 1) % 3)),
        net,
        frac: crate::party::DEFAULT_FRAC_BITS,
        few_rounds: false,
    }
}
