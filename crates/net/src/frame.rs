//! What travels on a link, and its wire encoding: a one-byte kind, a little-endian u64
//! payload length, a little-endian u64 round number, then the payload.

use std::io::{self, Read, Write};

/// Largest payload accepted from the wire; anything longer is treated as malformed.
pub const MAX_PAYLOAD: u64 = 1 << 34;

/// Bytes of framing per message on a stream transport.
pub const HEADER_LEN: usize = 17;

const KIND_DATA: u8 = 0;
const KIND_ABORT: u8 = 1;

/// One unit carried by a [`crate::Link`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A protocol message, sent in communication round `round` of the sender (a Lamport
    /// clock: one more than the latest round the sender had seen when it sent).
    Data { round: u64, body: Vec<u8> },
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
        let (kind, round, body): (u8, u64, &[u8]) = match self {
            Frame::Data { round, body } => (KIND_DATA, *round, body),
            Frame::Abort(r) => (KIND_ABORT, 0, r.as_bytes()),
            Frame::Closed(_) | Frame::Malformed(_) => return Ok(()),
        };
        let mut head = [0u8; HEADER_LEN];
        head[0] = kind;
        head[1..9].copy_from_slice(&(body.len() as u64).to_le_bytes());
        head[9..].copy_from_slice(&round.to_le_bytes());
        w.write_all(&head)?;
        w.write_all(body)
    }

    /// Reads one frame. `Ok(None)` is a clean end of stream before a header; a stream that
    /// ends inside a frame, an unknown kind or an oversized length is an error.
    pub fn read_from(r: &mut impl Read) -> Result<Option<Frame>, FrameError> {
        let mut head = [0u8; HEADER_LEN];
        let mut got = 0;
        while got < HEADER_LEN {
            match r.read(&mut head[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => return Err(FrameError::Truncated),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FrameError::Io(e.to_string())),
            }
        }
        // Check the kind before waiting for (and allocating) a body that is never used.
        if head[0] != KIND_DATA && head[0] != KIND_ABORT {
            return Err(FrameError::Malformed(format!(
                "unknown frame kind {}",
                head[0]
            )));
        }
        let len = u64::from_le_bytes(head[1..9].try_into().expect("8 bytes"));
        let round = u64::from_le_bytes(head[9..].try_into().expect("8 bytes"));
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
        if head[0] == KIND_DATA {
            Ok(Some(Frame::Data { round, body }))
        } else {
            Ok(Some(Frame::Abort(
                String::from_utf8_lossy(&body).into_owned(),
            )))
        }
    }
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
        Frame::Data {
            round: 5,
            body: vec![1, 2, 3],
        }
        .write_to(&mut buf)
        .unwrap();
        Frame::Abort("bye".into()).write_to(&mut buf).unwrap();
        let mut r = &buf[..];
        assert_eq!(
            Frame::read_from(&mut r).unwrap(),
            Some(Frame::Data {
                round: 5,
                body: vec![1, 2, 3]
            })
        );
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
}
