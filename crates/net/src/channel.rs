//! Channel ids: where a sub-session sits in the fork tree.
//!
//! An endpoint's own session is the root (the empty path). When an endpoint splits for the
//! `n`-th time into `k` sub-endpoints, they get its path followed by one more number each:
//! the ordinals `c, c + 1, …, c + k − 1`, where `c` counts the sub-endpoints this endpoint
//! has split off before (its own counter, not the connection's). So a channel id is a
//! function of the position in the fork tree only: every party forks the same endpoint at
//! the same point of the same protocol, in that endpoint's program order, and gets the same
//! id, whatever the other threads of the party do meanwhile.
//!
//! Ids never repeat within a connection (two different positions have different paths, and
//! the counters are `u64`s that cannot wrap: one fork a nanosecond would take 584 years), so
//! a late or stray frame can never be taken for another sub-session's. The depth of the tree
//! is bounded by [`MAX_DEPTH`] (a property of the code, not of the data: one level per
//! nested `split`), which bounds the bytes an id takes on the wire ([`crate::Frame`]).

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// Deepest fork tree allowed: a split that would go deeper fails. Nesting comes from the
/// code (a study's analyses, their side-by-side halves, halves within those), so this is
/// far beyond any real use.
pub const MAX_DEPTH: usize = 32;

/// The id of a sub-session's channel: its path in the fork tree (empty: the endpoint's own
/// session). Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(Arc<[u64]>);

impl ChannelId {
    /// The endpoint's own session (channel 0 of protocol version 2).
    pub fn root() -> ChannelId {
        ChannelId(Arc::from(&[][..]))
    }

    /// The channel at `path`, or `None` if it is deeper than [`MAX_DEPTH`].
    pub fn from_path(path: &[u64]) -> Option<ChannelId> {
        (path.len() <= MAX_DEPTH).then(|| ChannelId(Arc::from(path)))
    }

    /// Whether this is the endpoint's own session (not a sub-endpoint's).
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The ordinals from the root down to this channel.
    pub fn path(&self) -> &[u64] {
        &self.0
    }

    /// How many splits down from the root this channel is.
    pub fn depth(&self) -> usize {
        self.0.len()
    }

    /// The sub-session split off this one with `ordinal`, or `None` if it would be deeper
    /// than [`MAX_DEPTH`].
    pub fn child(&self, ordinal: u64) -> Option<ChannelId> {
        if self.depth() >= MAX_DEPTH {
            return None;
        }
        let mut path = Vec::with_capacity(self.depth() + 1);
        path.extend_from_slice(&self.0);
        path.push(ordinal);
        Some(ChannelId(path.into()))
    }
}

impl Borrow<[u64]> for ChannelId {
    fn borrow(&self) -> &[u64] {
        &self.0
    }
}

/// `root`, or the path with dots: `3.0.1` is sub-endpoint 1 of sub-endpoint 0 of the root's
/// sub-endpoint 3.
impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str("root");
        }
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelId({self})")
    }
}

/// Bytes of `v` as an unsigned LEB128 varint (7 bits a byte, low bits first).
pub(crate) fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends `v` as an unsigned LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_depth_and_display() {
        let r = ChannelId::root();
        assert!(r.is_root());
        assert_eq!(r.to_string(), "root");
        let c = r.child(3).unwrap().child(0).unwrap().child(1).unwrap();
        assert_eq!(c.path(), &[3, 0, 1]);
        assert_eq!(c.depth(), 3);
        assert_eq!(c.to_string(), "3.0.1");
        assert_eq!(ChannelId::from_path(&[3, 0, 1]), Some(c));
        let deepest = ChannelId::from_path(&[0; MAX_DEPTH]).unwrap();
        assert_eq!(deepest.child(0), None);
        assert_eq!(ChannelId::from_path(&[0; MAX_DEPTH + 1]), None);
    }

    #[test]
    fn varints_have_the_length_they_say() {
        for v in [0, 1, 127, 128, 300, 1 << 35, u64::MAX - 1, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
        }
        assert_eq!(varint_len(u64::MAX), 10);
        assert_eq!(varint_len(0), 1);
    }
}
