//! What travels on a link, and its wire encoding: a one-byte kind, a little-endian u64
//! payload length, a little-endian u64 round number, then, for data on a sub-session
//! channel other than 0 (kind 2, protocol version 2), a little-endian u32 channel id, then
//! the payload. Data on channel 0 keeps kind 0 and the version-1 layout.

use std::io::{self, Read, Write};

/// Largest payload accepted from the wire; anything longer is treated as malformed.
pub const MAX_PAYLOAD: u64 = 1 << 34;

/// Bytes of framing per message on a stream transport.
pub const HEADER_LEN: usize = 17;

/// Extra framing bytes of data on a channel other than 0 (its channel id).
pub const CHANNEL_LEN: usize = 4;

const KIND_DATA: u8 = 0;
const KIND_ABORT: u8 = 1;
const KIND_CHANNEL_DATA: u8 = 2;

/// One unit carried by a [`crate::Link`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A protocol message of sub-session `channel` (0: the endpoint's own session; others:
    /// the sub-endpoints of [`crate::Endpoint::split`]), sent in communication round `round`
    /// of the sender (a Lamport clock: one more than the latest round the sender had seen
    /// when it sent).
    Data {
        channel: u32,
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
        let (kind, round, channel, body): (u8, u64, u32, &[u8]) = match self {
            Frame::Data {
                channel: 0,
                round,
                body,
            } => (KIND_DATA, *round, 0, body),
            Frame::Data {
                channel,
                round,
                body,
            } => (KIND_CHANNEL_DATA, *round, *channel, body),
            Frame::Abort(r) => (KIND_ABORT, 0, 0, r.as_bytes()),
            Frame::Closed(_) | Frame::Malformed(_) => return Ok(()),
        };
        let mut head = [0u8; HEADER_LEN + CHANNEL_LEN];
        head[0] = kind;
        head[1..9].copy_from_slice(&(body.len() as u64).to_le_bytes());
        head[9..HEADER_LEN].copy_from_slice(&round.to_le_bytes());
        head[HEADER_LEN..].copy_from_slice(&channel.to_le_bytes());
        let used = if kind == KIND_CHANNEL_DATA {
            HEADER_LEN + CHANNEL_LEN
        } else {
            HEADER_LEN
        };
        w.write_all(&head[..used])?;
        w.write_all(body)
    }

    /// Framing bytes this frame takes on a stream besides its payload.
    pub fn framing_len(&self) -> usize {
        match self {
            Frame::Data { channel, .. } if *channel != 0 => HEADER_LEN + CHANNEL_LEN,
            _ => HEADER_LEN,
        }
    }

    /// Reads one frame. `Ok(None)` is a clean end of stream before a header; a stream that
    /// ends inside a frame, an unknown kind or an oversized length is an error.
    pub fn read_from(r: &mut impl Read) -> Result<Option<Frame>, FrameError> {
        let mut head = [0u8; HEADER_LEN + CHANNEL_LEN];
        if !read_exactly(r, &mut head[..HEADER_LEN])? {
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
            if !read_exactly(r, &mut head[HEADER_LEN..])? {
                return Err(FrameError::Truncated);
            }
            u32::from_le_bytes(head[HEADER_LEN..].try_into().expect("4 bytes"))
        } else {
            0
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

    #[test]
    fn roundtrip_and_truncation() {
        let mut buf = Vec::new();
        let data = |channel| Frame::Data {
            channel,
            round: 5,
            body: vec![1, 2, 3],
        };
        data(0).write_to(&mut buf).unwrap();
        Frame::Abort("bye".into()).write_to(&mut buf).unwrap();
        let mut r = &buf[..];
        assert_eq!(Frame::read_from(&mut r).unwrap(), Some(data(0)));
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
    }

    #[test]
    fn channel_data_roundtrip() {
        let f = Frame::Data {
            channel: 7,
            round: 9,
            body: vec![4, 5],
        };
        let mut buf = Vec::new();
        f.write_to(&mut buf).unwrap();
        assert_eq!(buf.len(), f.framing_len() + 2);
        assert_eq!(buf[0], KIND_CHANNEL_DATA);
        assert_eq!(Frame::read_from(&mut &buf[..]).unwrap(), Some(f));
        // Cut inside the channel id.
        let mut cut = &buf[..HEADER_LEN + 2];
        assert_eq!(Frame::read_from(&mut cut), Err(FrameError::Truncated));
    }
}
