//! Results that leave the computation still shared: the compute parties never open them; a
//! recipient outside the computation collects every party's part and reconstructs.
//!
//! At the end of an analysis each compute party turns its shares of the result into an
//! [`OutputShares`] ([`Party::seal`]): the sharing is re-randomised first (a fresh zero
//! sharing added and re-shared, one round), so that the three parts a recipient collects are
//! uniformly random apart from their sum: they show the result and nothing about the
//! computation's intermediate shares. An `OutputShares` has no method that opens it; only
//! [`reconstruct`] does, and it needs the parts of all three parties.
//!
//! Each share is held by two parties (party `i` holds `s_i` and `s_{i+1}`), so the recipient
//! checks every share against its replica. To name a party that altered its stored parts,
//! the parties also commit to their parts before storing them ([`Party::deliveries`]):
//! each party hashes its parts with a secret salt and tells the other two the hash
//! (one round for all outputs of a run). The recipient gets, from each party, its parts,
//! its salt and the hashes it heard; a party whose parts no longer match the hash both
//! others recorded is named, and so is a party whose record of another's hash is outvoted.
//!
//! LEAKAGE: the hashes sent between compute parties are salted with 256 secret random bits
//! known only to their author until delivery, so a party that knows one of the other's two
//! shares cannot test guesses of the result against them; they reveal nothing.

use ring::digest;

use crate::error::{MpcError, Result};
use crate::party::Party;
use crate::share::AShare;

/// One compute party's part of an output: its two replicated shares of every value.
/// Cannot be opened alone; see [`reconstruct`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputShares {
    party: usize,
    a: Vec<u128>,
    b: Vec<u128>,
}

impl OutputShares {
    /// The compute party (0, 1 or 2) these parts are from.
    pub fn party(&self) -> usize {
        self.party
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.a.len()
    }

    /// True when no value is held.
    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }

    /// Little-endian encoding: party (1 byte), length (8 bytes), then `a` and `b`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + 32 * self.a.len());
        out.push(self.party as u8);
        out.extend_from_slice(&(self.a.len() as u64).to_le_bytes());
        for v in self.a.iter().chain(&self.b) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Reads [`OutputShares::to_bytes`]; malformed input is an error, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<OutputShares> {
        let bad = |why: &str| MpcError::Invalid(format!("output shares: {why}"));
        if bytes.len() < 9 {
            return Err(bad("truncated header"));
        }
        let party = bytes[0] as usize;
        if party > 2 {
            return Err(bad("party out of range"));
        }
        let n = u64::from_le_bytes(bytes[1..9].try_into().expect("8 bytes"));
        let want = n
            .checked_mul(32)
            .and_then(|x| x.checked_add(9))
            .ok_or_else(|| bad("length out of range"))?;
        if bytes.len() as u64 != want {
            return Err(bad("length does not match the header"));
        }
        let n = n as usize;
        let vals: Vec<u128> = bytes[9..]
            .chunks_exact(16)
            .map(|c| u128::from_le_bytes(c.try_into().expect("16 bytes")))
            .collect();
        Ok(OutputShares {
            party,
            a: vals[..n].to_vec(),
            b: vals[n..].to_vec(),
        })
    }
}

/// What a compute party hands a recipient for one output: its parts, the salt of its
/// commitment, and the commitment of every party (its own and those the other two told it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// This party's parts.
    pub shares: OutputShares,
    /// The secret salt of this party's commitment.
    pub salt: [u8; 32],
    /// Commitment of party 0, 1 and 2, as this party recorded them.
    pub commitments: [[u8; 32]; 3],
}

impl Delivery {
    /// Little-endian encoding: salt, the three commitments, then the parts
    /// ([`OutputShares::to_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + 9 + 32 * self.shares.len());
        out.extend_from_slice(&self.salt);
        for c in &self.commitments {
            out.extend_from_slice(c);
        }
        out.extend_from_slice(&self.shares.to_bytes());
        out
    }

    /// Reads [`Delivery::to_bytes`]; malformed input is an error, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Delivery> {
        if bytes.len() < 128 {
            return Err(MpcError::Invalid("delivery: truncated".into()));
        }
        let word = |k: usize| -> [u8; 32] { bytes[32 * k..32 * k + 32].try_into().expect("32") };
        Ok(Delivery {
            salt: word(0),
            commitments: [word(1), word(2), word(3)],
            shares: OutputShares::from_bytes(&bytes[128..])?,
        })
    }
}

/// Why a recipient could not reconstruct an output.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    /// These compute parties' parts or records disagree with what the others hold: each
    /// altered what it stored (or sent something else than it computed).
    #[error("the stored shares of compute party {parties:?} do not match what the other parties recorded")]
    Altered {
        /// The parties named.
        parties: Vec<usize>,
    },
    /// The parts are not of one output (wrong party order, lengths).
    #[error("the parts do not fit together: {0}")]
    Mismatch(String),
}

/// The salted commitment of a party to its parts.
fn commit(salt: &[u8; 32], shares: &OutputShares) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"tessera output shares v1");
    ctx.update(salt);
    ctx.update(&shares.to_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

impl Party {
    /// This party's part of the output `x`, re-randomised (one round, one element per value):
    /// a fresh 3-out-of-3 zero sharing is added and the result re-shared, so the three
    /// parts a recipient collects show `x` and nothing of the computation's shares.
    pub fn seal(&mut self, x: &AShare<u128>) -> Result<OutputShares> {
        let mut z = self.zero_parts::<u128>(x.len());
        for (zk, &a) in z.iter_mut().zip(&x.a) {
            *zk = zk.wrapping_add(a);
        }
        let s = self.reshare(z)?;
        Ok(OutputShares {
            party: self.id(),
            a: s.a,
            b: s.b,
        })
    }

    /// Commits to every output of a run at once (one round): each part is hashed with a
    /// fresh secret salt, the hashes go to both other parties, and each output becomes a
    /// [`Delivery`] holding the three commitments as this party recorded them.
    pub fn deliveries(&mut self, outputs: Vec<OutputShares>) -> Result<Vec<Delivery>> {
        let mut salts = Vec::with_capacity(outputs.len());
        let mut mine: Vec<u64> = Vec::with_capacity(4 * outputs.len());
        for o in &outputs {
            let mut salt = [0u8; 32];
            getrandom::getrandom(&mut salt)
                .map_err(|e| MpcError::Invalid(format!("no system randomness: {e}")))?;
            let c = commit(&salt, o);
            mine.extend(
                c.chunks_exact(8)
                    .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes"))),
            );
            salts.push(salt);
        }
        let (prev, next) = (self.prev_id(), self.next_id());
        self.send_words(prev, &mine)?;
        self.send_words(next, &mine)?;
        let from_prev = self.recv_words(prev, mine.len())?;
        let from_next = self.recv_words(next, mine.len())?;
        let me = self.id();
        let words = |v: &[u64], k: usize| {
            let mut c = [0u8; 32];
            for (j, w) in v[4 * k..4 * k + 4].iter().enumerate() {
                c[8 * j..8 * j + 8].copy_from_slice(&w.to_le_bytes());
            }
            c
        };
        Ok(outputs
            .into_iter()
            .zip(salts)
            .enumerate()
            .map(|(k, (shares, salt))| {
                let mut commitments = [[0u8; 32]; 3];
                commitments[me] = words(&mine, k);
                commitments[prev] = words(&from_prev, k);
                commitments[next] = words(&from_next, k);
                Delivery {
                    shares,
                    salt,
                    commitments,
                }
            })
            .collect())
    }
}

/// The output's values from the three parties' deliveries (in party order): every part
/// checked against the commitments the other two recorded and against its replica, then
/// summed. A party whose parts or records are outvoted by the other two is named.
pub fn reconstruct(parts: [&Delivery; 3]) -> std::result::Result<Vec<u128>, OutputError> {
    for (i, d) in parts.iter().enumerate() {
        if d.shares.party != i {
            return Err(OutputError::Mismatch(format!(
                "part {i} is from party {}",
                d.shares.party
            )));
        }
        if d.shares.a.len() != parts[0].shares.a.len() || d.shares.b.len() != d.shares.a.len() {
            return Err(OutputError::Mismatch("parts of different lengths".into()));
        }
    }
    // For each party i: its own parts hashed, and what the other two recorded for it.
    let mut named = Vec::new();
    for i in 0..3 {
        let own = commit(&parts[i].salt, &parts[i].shares);
        let (j, k) = ((i + 1) % 3, (i + 2) % 3);
        let (rj, rk) = (parts[j].commitments[i], parts[k].commitments[i]);
        if rj == rk && own != rj {
            named.push(i);
        } else if own == rj && rk != own {
            named.push(k);
        } else if own == rk && rj != own {
            named.push(j);
        } else if own != rj && own != rk {
            // All three differ: nothing to vote by; name the party and both records.
            named.extend([i, j, k]);
        }
    }
    named.sort_unstable();
    named.dedup();
    if !named.is_empty() {
        return Err(OutputError::Altered { parties: named });
    }
    reconstruct_shares([&parts[0].shares, &parts[1].shares, &parts[2].shares])
}

/// The output's values from the three parties' parts (in party order), every share checked
/// against its replica; a mismatch names both parties holding it. Without the commitments of
/// [`reconstruct`] it cannot tell which of the two altered it: for parts that never left one
/// process (tests, a local run).
pub fn reconstruct_shares(
    parts: [&OutputShares; 3],
) -> std::result::Result<Vec<u128>, OutputError> {
    for (i, s) in parts.iter().enumerate() {
        if s.party != i {
            return Err(OutputError::Mismatch(format!(
                "part {i} is from party {}",
                s.party
            )));
        }
        if s.a.len() != parts[0].a.len() || s.b.len() != s.a.len() {
            return Err(OutputError::Mismatch("parts of different lengths".into()));
        }
    }
    // Replicas: party i's second share is party i+1's first.
    let mut bad = Vec::new();
    for i in 0..3 {
        let j = (i + 1) % 3;
        if parts[i].b != parts[j].a {
            bad.extend([i, j]);
        }
    }
    if !bad.is_empty() {
        bad.sort_unstable();
        bad.dedup();
        return Err(OutputError::Altered { parties: bad });
    }
    let [p0, p1, p2] = parts;
    Ok(p0
        .a
        .iter()
        .zip(&p1.a)
        .zip(&p2.a)
        .map(|((&x, &y), &z)| x.wrapping_add(y).wrapping_add(z))
        .collect())
}
