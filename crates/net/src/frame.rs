//! What travels on a link, and its wire encoding: a one-byte kind, a little-endian u64
//! payload length, a little-endian u64 round number, then, for data on a sub-session
//! channel (kind 3, protocol version 3), the channel id, then the payload. Data on the
//! endpoint's own session (the root channel) keeps kind 0 and the version-1 layout.
//!
//! A channel id is its path in the fork tree ([`crate::ChannelId`]): one byte, the depth
//! `d` (1 to [`MAX_DEPTH`]), then `d` unsigned LEB128 varints (7 bits a byte, low bits
//! first, at most 10 bytes, no superfluous final zero byte), so that an id has exactly one
//! encoding. Version 2's kind 2 (a u32 from one counter per connection) is gone: those ids
//! depended on the order in which threads split, see [`crate::Endpoint::split`].

use std::io::{self, Read, Write};

use crate::channel::{put_varint, varint_len, MAX_DEPTH};
use crate::ChannelId;

/// Largest payload accepted from the wire; anything longer is treated as malformed.
pub const MAX_PAYLOAD: u64 = 1 << 34;

/// Bytes of framing per message on a stream transport.
pub const HEADER_LEN: usize = 17;

/// Most bytes a channel id takes after the header (depth byte, then the varints).
pub const MAX_CHANNEL_LEN: usize = 1 + 10 * MAX_DEPTH;

const KIND_DATA: u8 = 0;
const KIND_ABORT: u8 = 1;
const KIND_CHANNEL_DATA: u8 = 3;

/// One unit carried by a [`crate::Link`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A protocol message of sub-session `channel` (the root: the endpoint's own session;
    /// others: the sub-endpoints of [`crate::Endpoint::split`]), sent in communication round
    /// `round` of the sender (a Lamport clock: one more than the latest round the sender had
    /// seen when it sent).
    Data {
        channel: ChannelId,
        round: u64,
        body: Vec<u8>,
    },
    /// The sender stopped the computation; the text says why.
    Abort(String),
    /// The link ended (produced locally by a reader, never sent).
    Closed(String),
    /// The peer sent bytes that are not a frame, or its stream ended inside one; the link is
    /// unusable from there on (produced locally by a reader, never sent).
    Malformed(String),
}

impl Frame {
    /// Writes the frame to a byte stream. `Closed` and `Malformed` are local only and write
    /// nothing.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        let (kind, round, channel, body): (u8, u64, Option<&ChannelId>, &[u8]) = match self {
            Frame::Data {
                channel,
                round,
                body,
            } if channel.is_root() => (KIND_DATA, *round, None, body),
            Frame::Data {
                channel,
                round,
                body,
            } => (KIND_CHANNEL_DATA, *round, Some(channel), body),
            Frame::Abort(r) => (KIND_ABORT, 0, None, r.as_bytes()),
            Frame::Closed(_) | Frame::Malformed(_) => return Ok(()),
        };
        let mut head = Vec::with_capacity(HEADER_LEN + MAX_CHANNEL_LEN);
        head.push(kind);
        head.extend_from_slice(&(body.len() as u64).to_le_bytes());
        head.extend_from_slice(&round.to_le_bytes());
        if let Some(c) = channel {
            // At most MAX_DEPTH (< 256) levels: ChannelId cannot be built deeper.
            head.push(c.depth() as u8);
            for &n in c.path() {
                put_varint(&mut head, n);
            }
        }
        w.write_all(&head)?;
        w.write_all(body)
    }

    /// Framing bytes this frame takes on a stream besides its payload.
    pub fn framing_len(&self) -> usize {
        match self {
            Frame::Data { channel, .. } if !channel.is_root() => {
                HEADER_LEN + 1 + channel.path().iter().map(|&n| varint_len(n)).sum::<usize>()
            }
            _ => HEADER_LEN,
        }
    }

    /// Reads one frame. `Ok(None)` is a clean end of stream before a header; a stream that
    /// ends inside a frame, an unknown kind, an oversized length or a channel id that is not
    /// one (depth 0 or beyond [`MAX_DEPTH`], a varint too long or not in its one encoding)
    /// is an error.
    pub fn read_from(r: &mut impl Read) -> Result<Option<Frame>, FrameError> {
        let mut head = [0u8; HEADER_LEN];
        if !read_exactly(r, &mut head)? {
            return Ok(None);
        }
        // Check the kind before waiting for (and allocating) a body that is never used.
        if ![KIND_DATA, KIND_ABORT, KIND_CHANNEL_DATA].contains(&head[0]) {
            return Err(FrameError::Malformed(format!(
                "unknown frame kind {}",
                head[0]
            )));
        }
        let len = u64::from_le_bytes(head[1..9].try_into().expect("8 bytes"));
        let round = u64::from_le_bytes(head[9..HEADER_LEN].try_into().expect("8 bytes"));
        let channel = if head[0] == KIND_CHANNEL_DATA {
            read_channel(r)?
        } else {
            ChannelId::root()
        };
        if len > MAX_PAYLOAD {
            return Err(FrameError::Malformed(format!("length {len} exceeds limit")));
        }
        // Grow the buffer as bytes arrive, so a peer announcing a huge length cannot make
        // us allocate it up front.
        let mut body = Vec::with_capacity((len as usize).min(1 << 24));
        r.take(len)
            .read_to_end(&mut body)
            .map_err(|e| FrameError::Io(e.to_string()))?;
        if body.len() as u64 != len {
            return Err(FrameError::Truncated);
        }
        if head[0] != KIND_ABORT {
            Ok(Some(Frame::Data {
                channel,
                round,
                body,
            }))
        } else {
            Ok(Some(Frame::Abort(
                String::from_utf8_lossy(&body).into_owned(),
            )))
        }
    }
}

/// Reads a sub-session's channel id (after a kind-3 header): its depth, then its path.
fn read_channel(r: &mut impl Read) -> Result<ChannelId, FrameError> {
    let mut byte = [0u8; 1];
    let mut next = |r: &mut _| -> Result<u8, FrameError> {
        if read_exactly(r, &mut byte)? {
            Ok(byte[0])
        } else {
            Err(FrameError::Truncated)
        }
    };
    let depth = usize::from(next(r)?);
    if depth == 0 || depth > MAX_DEPTH {
        return Err(FrameError::Malformed(format!(
            "a channel id {depth} levels deep (1 to {MAX_DEPTH} allowed)"
        )));
    }
    let mut path = Vec::with_capacity(depth);
    for _ in 0..depth {
        let mut v = 0u64;
        for i in 0.. {
            let b = next(r)?;
            let bits = u64::from(b & 0x7f);
            // The tenth byte holds bit 63 only; a final byte of 0 (after the first) is a
            // second encoding of a shorter number.
            if i == 9 && b > 1 || i > 0 && b == 0 {
                return Err(FrameError::Malformed(
                    "a channel id that is not a valid varint".into(),
                ));
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
        }
        path.push(v);
    }
    Ok(ChannelId::from_path(&path).expect("depth checked"))
}

/// Fills `buf` from `r`: `Ok(false)` if the stream ended before the first byte, an error
/// if it ended inside.
fn read_exactly(r: &mut impl Read, buf: &mut [u8]) -> Result<bool, FrameError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e.to_string())),
        }
    }
    Ok(true)
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The stream ended inside a frame.
    Truncated,
    /// The bytes are not a frame.
    Malformed(String),
    /// The stream failed.
    Io(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(path: &[u64]) -> Frame {
        Frame::Data {
            channel: ChannelId::from_path(path).unwrap(),
            round: 5,
            body: vec![1, 2, 3],
        }
    }

    #[test]
    fn roundtrip_and_truncation() {
        let mut buf = Vec::new();
        data(&[]).write_to(&mut buf).unwrap();
        Frame::Abort("bye".into()).write_to(&mut buf).unwrap();
        let mut r = &buf[..];
        assert_eq!(Frame::read_from(&mut r).unwrap(), Some(data(&[])));
        assert_eq!(
            Frame::read_from(&mut r).unwrap(),
            Some(Frame::Abort("bye".into()))
        );
        assert_eq!(Frame::read_from(&mut r).unwrap(), None);
        let mut cut = &buf[..5];
        assert_eq!(Frame::read_from(&mut cut), Err(FrameError::Truncated));
        let mut cut = &buf[..HEADER_LEN + 2];
        assert_eq!(Frame::read_from(&mut cut), Err(FrameError::Truncated));
        let mut bad = buf.clone();
        bad[0] = 7;
        assert!(matches!(
            Frame::read_from(&mut &bad[..]),
            Err(FrameError::Malformed(_))
        ));
        // Version 2's channel data (kind 2) is not a frame any more.
        bad[0] = 2;
        assert!(matches!(
            Frame::read_from(&mut &bad[..]),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn channel_data_roundtrip() {
        for path in [
            vec![7],
            vec![0, 0, 0],
            vec![127, 128, 300, 70_000],
            vec![u64::MAX, 0, 1 << 63],
            vec![u64::MAX; MAX_DEPTH],
        ] {
            let f = data(&path);
            let mut buf = Vec::new();
            f.write_to(&mut buf).unwrap();
            assert_eq!(buf.len(), f.framing_len() + 3, "{path:?}");
            assert_eq!(buf[0], KIND_CHANNEL_DATA);
            assert_eq!(
                Frame::read_from(&mut &buf[..]).unwrap(),
                Some(f),
                "{path:?}"
            );
            // Cut anywhere inside the channel id or the body.
            for end in HEADER_LEN..buf.len() {
                assert_eq!(
                    Frame::read_from(&mut &buf[..end]),
                    Err(FrameError::Truncated),
                    "{path:?} cut at {end}"
                );
            }
        }
        assert!(data(&[1, 2]).framing_len() <= HEADER_LEN + MAX_CHANNEL_LEN);
        assert_eq!(data(&[1, 200]).framing_len(), HEADER_LEN + 1 + 1 + 2);
    }

    /// A header of channel data for a body of 0 bytes, followed by `id`.
    fn with_id(id: &[u8]) -> Vec<u8> {
        let mut buf = vec![KIND_CHANNEL_DATA];
        buf.extend_from_slice(&0u64.to_le_bytes());
        buf.extend_from_slice(&1u64.to_le_bytes());
        buf.extend_from_slice(id);
        buf
    }

    #[test]
    fn channel_ids_that_are_not_ids_are_malformed_not_panics() {
        let malformed = |id: &[u8]| {
            matches!(
                Frame::read_from(&mut &with_id(id)[..]),
                Err(FrameError::Malformed(_))
            )
        };
        assert!(!malformed(&[1, 5]), "a good id");
        assert!(malformed(&[0]), "depth 0 (the root is kind 0)");
        assert!(malformed(&[MAX_DEPTH as u8 + 1]), "too deep");
        assert!(malformed(&[255]), "too deep");
        assert!(malformed(&[1, 0x85, 0x00]), "5 in two bytes");
        assert!(malformed(&[1, 0x80, 0x80, 0x00]), "0 in three bytes");
        let mut eleven = vec![1];
        eleven.extend([0xff; 10]);
        eleven.push(0x01);
        assert!(malformed(&eleven), "more than 64 bits");
        let mut high = vec![1];
        high.extend([0xff; 9]);
        high.push(0x02);
        assert!(malformed(&high), "bit 64 set");
        let mut max = vec![1];
        max.extend([0xff; 9]);
        max.push(0x01);
        assert_eq!(
            Frame::read_from(&mut &with_id(&max)[..]).unwrap(),
            Some(Frame::Data {
                channel: ChannelId::from_path(&[u64::MAX]).unwrap(),
                round: 1,
                body: vec![],
            })
        );
    }
}
