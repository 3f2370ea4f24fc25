//! Inputs from a data party that is not a compute party.
//!
//! The data party splits its vector into three additive shares and sends each compute party
//! the pair it holds. Two of the shares are expanded from 16-byte seeds, so the three
//! messages together cost one vector plus 64 bytes: party 0 gets two seeds, parties 1 and
//! 2 each get one seed and the explicit share `s2`. Each message alone is uniformly random.

use crate::error::{MpcError, Result};
use crate::prg::{fresh_seed, Prg, Seed};
use crate::ring::{decode, encode, Ring};
use crate::share::AShare;

const SEED: u8 = 0;
const VECTOR: u8 = 1;

enum Part<'a> {
    Seed(&'a Seed),
    Vector(&'a [u8]),
}

fn put(out: &mut Vec<u8>, p: Part) {
    match p {
        Part::Seed(s) => {
            out.push(SEED);
            out.extend_from_slice(s);
        }
        Part::Vector(v) => {
            out.push(VECTOR);
            out.extend_from_slice(v);
        }
    }
}

/// Splits `values` into the three messages for compute parties 0, 1 and 2.
pub fn deal<R: Ring>(values: &[R]) -> [Vec<u8>; 3] {
    let (k0, k1) = (fresh_seed(), fresh_seed());
    let n = values.len();
    let s0: Vec<R> = Prg::new(&k0).vec(n);
    let s1: Vec<R> = Prg::new(&k1).vec(n);
    let s2: Vec<R> = (0..n).map(|i| values[i].sub(s0[i]).sub(s1[i])).collect();
    let s2 = encode(&s2);
    let header = (n as u64).to_le_bytes();
    let msg = |first: Part, second: Part| {
        let mut m = header.to_vec();
        put(&mut m, first);
        put(&mut m, second);
        m
    };
    [
        msg(Part::Seed(&k0), Part::Seed(&k1)),
        msg(Part::Seed(&k1), Part::Vector(&s2)),
        msg(Part::Vector(&s2), Part::Seed(&k0)),
    ]
}

/// Turns the message a compute party received from a data party into its shares.
/// Fails (naming what is wrong) if the message is not `n` elements in the dealer format.
pub fn accept<R: Ring>(msg: &[u8], n: usize) -> Result<AShare<R>> {
    let bad = |what: &str| MpcError::Invalid(format!("input message from data party: {what}"));
    if msg.len() < 8 {
        return Err(bad("shorter than its header"));
    }
    let declared = u64::from_le_bytes(msg[..8].try_into().expect("8 bytes")) as usize;
    if declared != n {
        return Err(bad(&format!("{declared} elements where {n} were expected")));
    }
    let mut rest = &msg[8..];
    let mut parts = Vec::with_capacity(2);
    for _ in 0..2 {
        let (&kind, tail) = rest.split_first().ok_or_else(|| bad("truncated"))?;
        let (v, tail) = match kind {
            SEED if tail.len() >= 16 => {
                let seed: Seed = tail[..16].try_into().expect("16 bytes");
                (Prg::new(&seed).vec(n), &tail[16..])
            }
            VECTOR if tail.len() >= n * R::BYTES => (
                decode(&tail[..n * R::BYTES], n).expect("length checked"),
                &tail[n * R::BYTES..],
            ),
            SEED | VECTOR => return Err(bad("truncated")),
            k => return Err(bad(&format!("unknown share kind {k}"))),
        };
        parts.push(v);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(bad(&format!("{} trailing bytes", rest.len())));
    }
    let b = parts.pop().expect("two parts");
    let a = parts.pop().expect("two parts");
    Ok(AShare { a, b })
}
