//! Secret-sharing a data party's prepared table among the three compute parties.
//!
//! Two ways in, matching the two kinds of data party:
//!
//! - a data party that is also a compute party calls [`share_prepared`] (the others call it
//!   with `None`): it announces its public shape (rows and column counts: the input size,
//!   which the compute parties learn by design) and inputs every column with
//!   [`Party::share_input`]; one round, one element per cell sent to one peer;
//! - a data party outside the three uses [`deal`] to make one message per compute party
//!   (each alone uniformly random, see [`tessera_mpc::dealer`]), and each compute party
//!   turns its message into shares with [`accept`].
//!
//! Only the encoded keys and the payload are shared; the key strings, the source row
//! numbers and the [`crate::keys::PrepareReport`] stay with the owner.

use tessera_mpc::{dealer, AShare, MpcError, Party, Ring, Table};

use crate::error::{LinkError, Result};
use crate::keys::Prepared;

/// The public shape of a data party's prepared table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Shape {
    /// Rows (after dropping missing keys and duplicates).
    pub rows: usize,
    /// Payload columns in Z_2^64.
    pub c64: usize,
    /// Payload columns in Z_2^128.
    pub c128: usize,
}

/// Largest accepted table: permutations are limited to 2^32 rows.
pub const MAX_ROWS: usize = u32::MAX as usize;
/// Largest accepted number of payload columns per ring.
pub const MAX_COLUMNS: usize = 4096;

impl Shape {
    fn check(&self) -> Result<()> {
        if self.rows > MAX_ROWS || self.c64 > MAX_COLUMNS || self.c128 > MAX_COLUMNS {
            return Err(LinkError::Invalid(format!(
                "table shape {self:?} beyond the limits ({MAX_ROWS} rows, {MAX_COLUMNS} columns per ring)"
            )));
        }
        Ok(())
    }

    fn encode(&self) -> Vec<u8> {
        [self.rows, self.c64, self.c128]
            .iter()
            .flat_map(|&v| (v as u64).to_le_bytes())
            .collect()
    }

    fn decode(b: &[u8]) -> Option<Shape> {
        if b.len() != 24 {
            return None;
        }
        let w = |k: usize| u64::from_le_bytes(b[8 * k..8 * k + 8].try_into().expect("8 bytes"));
        let s = Shape {
            rows: usize::try_from(w(0)).ok()?,
            c64: usize::try_from(w(1)).ok()?,
            c128: usize::try_from(w(2)).ok()?,
        };
        s.check().ok().map(|_| s)
    }
}

impl Prepared {
    /// The public shape of this table.
    pub fn shape(&self) -> Shape {
        Shape {
            rows: self.rows(),
            c64: self.c64.len(),
            c128: self.c128.len(),
        }
    }
}

/// One data party's table, secret-shared among the compute parties: encoded keys and
/// payload columns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SharedInput {
    /// The encoded keys.
    pub keys: AShare<u64>,
    /// The payload columns (possibly none).
    pub payload: Table,
}

impl SharedInput {
    /// The public shape.
    pub fn shape(&self) -> Shape {
        Shape {
            rows: self.keys.len(),
            c64: self.payload.c64.len(),
            c128: self.payload.c128.len(),
        }
    }

    fn check(&self) -> Result<()> {
        let n = self.keys.len();
        let ok = self.keys.b.len() == n
            && self
                .payload
                .c64
                .iter()
                .all(|c| c.a.len() == n && c.b.len() == n)
            && self
                .payload
                .c128
                .iter()
                .all(|c| c.a.len() == n && c.b.len() == n);
        if ok {
            Ok(())
        } else {
            Err(LinkError::Invalid(
                "shared input with columns of different lengths".into(),
            ))
        }
    }
}

/// Secret-shares the table of compute party `owner` (which passes `Some`; the others pass
/// `None`). The owner first announces the table's shape to both peers (one message of 24
/// bytes each); then every column is input. All three parties must call this at the same
/// point. Two rounds.
pub fn share_prepared(p: &mut Party, owner: usize, mine: Option<&Prepared>) -> Result<SharedInput> {
    if owner > 2 {
        return Err(LinkError::Invalid(format!("no compute party {owner}")));
    }
    let shape = if p.id() == owner {
        let prep =
            mine.ok_or_else(|| LinkError::Invalid("the owner must pass its table".into()))?;
        let s = prep.shape();
        s.check()?;
        let msg = s.encode();
        for peer in [p.next_id(), p.prev_id()] {
            p.endpoint()
                .send(peer, msg.clone())
                .map_err(MpcError::from)?;
        }
        s
    } else {
        let got = p.endpoint().recv(owner).map_err(MpcError::from)?;
        match Shape::decode(&got) {
            Some(s) => s,
            None => {
                let detail = format!("table shape of {} bytes or beyond the limits", got.len());
                p.abort(&format!("malformed message from party {owner}: {detail}"));
                return Err(MpcError::Malformed {
                    peer: owner,
                    detail,
                }
                .into());
            }
        }
    };
    share_with_shape(p, owner, mine, shape)
}

/// [`share_prepared`] when the shape is already agreed (e.g. published in the study
/// approval): no announcement, one round.
pub fn share_with_shape(
    p: &mut Party,
    owner: usize,
    mine: Option<&Prepared>,
    shape: Shape,
) -> Result<SharedInput> {
    shape.check()?;
    let me = p.id();
    if me == owner {
        let prep =
            mine.ok_or_else(|| LinkError::Invalid("the owner must pass its table".into()))?;
        if prep.shape() != shape {
            return Err(LinkError::Invalid(format!(
                "table of shape {:?} where {shape:?} was agreed",
                prep.shape()
            )));
        }
    }
    let mine = mine.filter(|_| me == owner);
    let n = shape.rows;
    let keys = p.share_input(owner, mine.map(|t| t.keys.as_slice()), n)?;
    let mut c64 = Vec::with_capacity(shape.c64);
    for j in 0..shape.c64 {
        c64.push(p.share_input(owner, mine.map(|t| t.c64[j].as_slice()), n)?);
    }
    let mut c128 = Vec::with_capacity(shape.c128);
    for j in 0..shape.c128 {
        c128.push(p.share_input(owner, mine.map(|t| t.c128[j].as_slice()), n)?);
    }
    Ok(SharedInput {
        keys,
        payload: Table { c64, c128 },
    })
}

/// Splits a prepared table into the three messages for compute parties 0, 1 and 2 (a data
/// party outside the three). Each message holds the shape and one dealer message per
/// column; see [`tessera_mpc::dealer`] for why each alone reveals nothing.
pub fn deal(prep: &Prepared) -> [Vec<u8>; 3] {
    let mut out: [Vec<u8>; 3] = std::array::from_fn(|_| prep.shape().encode());
    let mut push = |msgs: [Vec<u8>; 3]| {
        for (o, m) in out.iter_mut().zip(msgs) {
            o.extend_from_slice(&(m.len() as u64).to_le_bytes());
            o.extend_from_slice(&m);
        }
    };
    push(dealer::deal(&prep.keys));
    for c in &prep.c64 {
        push(dealer::deal(c));
    }
    for c in &prep.c128 {
        push(dealer::deal(c));
    }
    out
}

/// Turns the message a compute party received from a data party (made by [`deal`]) into
/// its shares. Fails, naming what is wrong, on a malformed message.
///
/// The three compute parties each read the shape from their own message; a data party
/// that sent different shapes makes the join fail (semi-honest model: it is not a way to
/// learn anything, only to break the study).
pub fn accept(msg: &[u8]) -> Result<SharedInput> {
    let bad = |w: &str| LinkError::Invalid(format!("input message from data party: {w}"));
    if msg.len() < 24 {
        return Err(bad("shorter than its header"));
    }
    let shape = Shape::decode(&msg[..24]).ok_or_else(|| bad("shape beyond the limits"))?;
    let mut rest = &msg[24..];
    let mut next = || -> Result<&[u8]> {
        if rest.len() < 8 {
            return Err(bad("truncated"));
        }
        let len = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes"));
        let len = usize::try_from(len).map_err(|_| bad("column too long"))?;
        if rest.len() - 8 < len {
            return Err(bad("truncated"));
        }
        let (m, tail) = rest[8..].split_at(len);
        rest = tail;
        Ok(m)
    };
    fn col<R: Ring>(m: &[u8], n: usize) -> Result<AShare<R>> {
        Ok(dealer::accept::<R>(m, n)?)
    }
    let keys = col::<u64>(next()?, shape.rows)?;
    let mut c64 = Vec::with_capacity(shape.c64);
    for _ in 0..shape.c64 {
        c64.push(col::<u64>(next()?, shape.rows)?);
    }
    let mut c128 = Vec::with_capacity(shape.c128);
    for _ in 0..shape.c128 {
        c128.push(col::<u128>(next()?, shape.rows)?);
    }
    if !rest.is_empty() {
        return Err(bad(&format!("{} trailing bytes", rest.len())));
    }
    let s = SharedInput {
        keys,
        payload: Table { c64, c128 },
    };
    s.check()?;
    Ok(s)
}

pub(crate) fn check_inputs(inputs: &[SharedInput]) -> Result<()> {
    inputs.iter().try_for_each(SharedInput::check)
}
