//! TLS 1.3 record protection (RFC 8446 §5.2–5.3) for the data path of a connection whose
//! handshake rustls has done: cryptography and record framing only, over any [`Read`] or
//! [`Write`] (the socket halves are set up by [`crate::tls`]).
//!
//! After the hello exchange, [`crate::tls`] takes the traffic keys and sequence numbers out of
//! rustls and carries application data with a [`RecordWriter`] and a [`RecordReader`]: each
//! record is sealed or opened in place in one buffer, so the data is copied once on each side
//! instead of going through rustls's plaintext and ciphertext buffers and its lock. The records
//! are genuine TLS 1.3 records (the tests check them against rustls both ways):
//!
//! - header `0x17 0x03 0x03 len` (the additional data), `len` counting ciphertext and tag;
//! - inner plaintext = data ‖ content type (`0x17` application data, `0x15` alert), no
//!   padding sent, zero padding stripped on receipt;
//! - nonce = IV XOR the 64-bit big-endian record sequence number, left-padded with zeros.
//!
//! Only AES-128-GCM and AES-256-GCM are supported. KeyUpdate is not: each direction refuses
//! to go past [`MAX_RECORDS`] records under one key (far more than any computation sends; AES-GCM's
//! own limit is higher), and a handshake message received after the switch (KeyUpdate,
//! NewSessionTicket) is a protocol error.

use std::fmt;
use std::io::{self, Read, Write};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM, NONCE_LEN};
use rustls::ConnectionTrafficSecrets;

/// Most data carried by one record.
pub(crate) const MAX_PLAINTEXT: usize = 1 << 14;

/// Longest record body (ciphertext and tag) accepted from the peer.
pub(crate) const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 256;

/// Size of a record header.
pub(crate) const HEADER_LEN: usize = 5;

/// Size of an AES-GCM tag.
const TAG_LEN: usize = 16;

/// Most records sent or received under one key (per direction); we do not do KeyUpdate.
pub(crate) const MAX_RECORDS: u64 = 1 << 24;

const APPLICATION_DATA: u8 = 0x17;
const ALERT: u8 = 0x15;
const HANDSHAKE: u8 = 0x16;

/// The `close_notify` alert (warning level, description 0).
const CLOSE_NOTIFY: [u8; 2] = [0x01, 0x00];

/// Sealed records are collected up to this size before they are written out.
const WRITE_BATCH: usize = 256 << 10;

/// Ciphertext read from the stream at a time (at least).
const READ_BATCH: usize = 256 << 10;

/// Why a record could not be opened, or the peer's stream is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordError {
    /// The record did not authenticate under our key and sequence number.
    Decrypt,
    /// A record announces a body longer than TLS allows.
    Oversize(usize),
    /// The header is not that of a TLS 1.3 application-data record.
    BadHeader([u8; 3]),
    /// The inner content type is one we do not accept here.
    ContentType(u8),
    /// The peer sent an alert other than `close_notify`.
    Alert(Vec<u8>),
    /// The record sequence limit of the key is reached.
    Exhausted,
    /// A record with no content type (all zeros).
    NoContentType,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Decrypt => write!(f, "record failed to authenticate (decrypt error)"),
            RecordError::Oversize(n) => write!(
                f,
                "record of {n} bytes exceeds the TLS limit of {MAX_CIPHERTEXT}"
            ),
            RecordError::BadHeader(h) => {
                write!(f, "not a TLS 1.3 application data record (header {h:02x?})")
            }
            RecordError::ContentType(HANDSHAKE) => write!(
                f,
                "unexpected handshake message after setup (key update or session ticket), which this connection does not accept"
            ),
            RecordError::ContentType(t) => write!(f, "unexpected content type {t:#04x}"),
            RecordError::Alert(a) => write!(f, "peer sent TLS alert {a:02x?}"),
            RecordError::Exhausted => write!(
                f,
                "{MAX_RECORDS} records received under one key, the most this connection accepts (no key update)"
            ),
            RecordError::NoContentType => write!(f, "record without a content type"),
        }
    }
}

impl std::error::Error for RecordError {}

/// The key, IV and next sequence number of one direction.
pub(crate) struct RecordKey {
    key: LessSafeKey,
    iv: [u8; NONCE_LEN],
    seq: u64,
}

impl RecordKey {
    /// The key of one direction as rustls hands it out, with its next sequence number.
    pub(crate) fn from_rustls(
        (seq, secrets): (u64, ConnectionTrafficSecrets),
    ) -> Result<RecordKey, String> {
        let (alg, key, iv) = match &secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&AES_128_GCM, key, iv),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&AES_256_GCM, key, iv),
            _ => return Err("unsupported TLS cipher suite (only AES-GCM is supported)".into()),
        };
        let unbound = UnboundKey::new(alg, key.as_ref())
            .map_err(|_| "unusable TLS traffic key".to_string())?;
        let iv: [u8; NONCE_LEN] = iv
            .as_ref()
            .try_into()
            .map_err(|_| "unusable TLS IV".to_string())?;
        Ok(RecordKey {
            key: LessSafeKey::new(unbound),
            iv,
            seq,
        })
    }

    /// The nonce of the next record, and its sequence number used up; `None` at the limit.
    fn next_nonce(&mut self) -> Option<Nonce> {
        if self.seq >= MAX_RECORDS {
            return None;
        }
        let mut nonce = self.iv;
        for (n, s) in nonce[NONCE_LEN - 8..]
            .iter_mut()
            .zip(self.seq.to_be_bytes())
        {
            *n ^= s;
        }
        self.seq += 1;
        Some(Nonce::assume_unique_for_key(nonce))
    }

    /// Seals the record that starts at `out[start]`: a reserved header, then the data up to
    /// the end of `out`. Appends the content type and the tag and fills in the header.
    fn seal(&mut self, out: &mut Vec<u8>, start: usize, content_type: u8) -> io::Result<()> {
        let nonce = self.next_nonce().ok_or_else(|| {
            io::Error::other(format!(
                "{MAX_RECORDS} TLS records sent under one key, the most this connection sends (no key update)"
            ))
        })?;
        out.push(content_type);
        let len = out.len() - start - HEADER_LEN + TAG_LEN;
        let header = [APPLICATION_DATA, 0x03, 0x03, (len >> 8) as u8, len as u8];
        out[start..start + HEADER_LEN].copy_from_slice(&header);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(header), &mut out[start + HEADER_LEN..])
            .map_err(|_| io::Error::other("TLS record encryption failed"))?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Opens a whole record (header and body) in place; returns the content type and the
    /// length of the data, which starts right after the header.
    fn open(&mut self, record: &mut [u8]) -> Result<(u8, usize), RecordError> {
        let nonce = self.next_nonce().ok_or(RecordError::Exhausted)?;
        let (header, body) = record.split_at_mut(HEADER_LEN);
        let header: [u8; HEADER_LEN] = (&*header).try_into().expect("5 bytes");
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(header), body)
            .map_err(|_| RecordError::Decrypt)?;
        // Strip the zero padding; the last non-zero byte is the content type.
        let end = plain
            .iter()
            .rposition(|&b| b != 0)
            .ok_or(RecordError::NoContentType)?;
        Ok((plain[end], end))
    }
}

/// Writes data as TLS 1.3 application-data records on `inner`.
///
/// Data is gathered into records of up to [`MAX_PLAINTEXT`] bytes, sealed in place in one
/// buffer, and written out in batches (on [`Write::flush`] or when a batch is full).
pub(crate) struct RecordWriter<W: Write> {
    inner: W,
    key: RecordKey,
    /// Sealed records, then (from `open`) a record being filled: a reserved header, data.
    out: Vec<u8>,
    /// Where the record being filled starts, if one is.
    open: Option<usize>,
}

impl<W: Write> RecordWriter<W> {
    pub(crate) fn new(inner: W, key: RecordKey) -> Self {
        RecordWriter {
            inner,
            key,
            out: Vec::with_capacity(WRITE_BATCH + MAX_PLAINTEXT + 64),
            open: None,
        }
    }

    pub(crate) fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Seals the record being filled, if there is one.
    fn seal_open(&mut self) -> io::Result<()> {
        if let Some(start) = self.open.take() {
            self.key.seal(&mut self.out, start, APPLICATION_DATA)?;
        }
        Ok(())
    }

    /// Writes the sealed records out.
    fn send(&mut self) -> io::Result<()> {
        debug_assert!(self.open.is_none());
        let sent = self.inner.write_all(&self.out);
        self.out.clear();
        sent
    }

    /// Sends everything written so far, then a `close_notify` alert, and flushes.
    pub(crate) fn close_notify(&mut self) -> io::Result<()> {
        self.seal_open()?;
        let start = self.out.len();
        self.out.extend_from_slice(&[0; HEADER_LEN]);
        self.out.extend_from_slice(&CLOSE_NOTIFY);
        self.key.seal(&mut self.out, start, ALERT)?;
        self.send()?;
        self.inner.flush()
    }
}

impl<W: Write> Write for RecordWriter<W> {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let total = data.len();
        while !data.is_empty() {
            let start = match self.open {
                Some(s) => s,
                None => {
                    let s = self.out.len();
                    self.out.extend_from_slice(&[0; HEADER_LEN]);
                    self.open = Some(s);
                    s
                }
            };
            let room = MAX_PLAINTEXT - (self.out.len() - start - HEADER_LEN);
            let take = room.min(data.len());
            self.out.extend_from_slice(&data[..take]);
            data = &data[take..];
            if take == room {
                self.seal_open()?;
                if self.out.len() >= WRITE_BATCH {
                    self.send()?;
                }
            }
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.seal_open()?;
        if !self.out.is_empty() {
            self.send()?;
        }
        self.inner.flush()
    }
}

/// Reads TLS 1.3 application-data records from `inner` and hands out their data.
///
/// `Ok(0)` after the peer's `close_notify`; an `UnexpectedEof` error when the stream ends
/// without one; an `InvalidData` error (and [`RecordReader::failure`] set) when a record is
/// forged, damaged, oversized or of a kind not accepted here.
pub(crate) struct RecordReader<R: Read> {
    inner: R,
    key: RecordKey,
    /// Bytes from the stream; `start..end` not yet opened.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Data of the last opened record not yet handed out.
    data_start: usize,
    data_end: usize,
    /// The peer sent `close_notify`.
    closed: bool,
    failure: Option<RecordError>,
}

impl<R: Read> RecordReader<R> {
    pub(crate) fn new(inner: R, key: RecordKey) -> Self {
        RecordReader {
            inner,
            key,
            buf: vec![0; READ_BATCH + HEADER_LEN + MAX_CIPHERTEXT],
            start: 0,
            end: 0,
            data_start: 0,
            data_end: 0,
            closed: false,
            failure: None,
        }
    }

    /// Why the peer's records were rejected, if they were.
    pub(crate) fn failure(&self) -> Option<&RecordError> {
        self.failure.as_ref()
    }

    fn fail(&mut self, e: RecordError) -> io::Error {
        self.failure = Some(e.clone());
        io::Error::new(io::ErrorKind::InvalidData, e)
    }

    /// The length of the complete record at `start`, if it is all in the buffer; checks the
    /// header as soon as it is in.
    fn complete_record(&mut self) -> Result<Option<usize>, RecordError> {
        let have = self.end - self.start;
        if have < HEADER_LEN {
            return Ok(None);
        }
        let h = &self.buf[self.start..self.start + HEADER_LEN];
        if h[..3] != [APPLICATION_DATA, 0x03, 0x03] {
            return Err(RecordError::BadHeader([h[0], h[1], h[2]]));
        }
        let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
        if len > MAX_CIPHERTEXT {
            return Err(RecordError::Oversize(len));
        }
        Ok((have >= HEADER_LEN + len).then_some(HEADER_LEN + len))
    }

    /// Opens the complete record of `len` bytes at `start`; its data becomes available.
    fn open_record(&mut self, len: usize) -> Result<(), RecordError> {
        let at = self.start;
        let (kind, n) = self.key.open(&mut self.buf[at..at + len])?;
        self.start += len;
        match kind {
            APPLICATION_DATA => {
                self.data_start = at + HEADER_LEN;
                self.data_end = at + HEADER_LEN + n;
                Ok(())
            }
            ALERT if self.buf[at + HEADER_LEN..at + HEADER_LEN + n] == CLOSE_NOTIFY => {
                self.closed = true;
                Ok(())
            }
            ALERT => Err(RecordError::Alert(
                self.buf[at + HEADER_LEN..at + HEADER_LEN + n].to_vec(),
            )),
            other => Err(RecordError::ContentType(other)),
        }
    }
}

impl<R: Read> Read for RecordReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let mut copied = 0;
        loop {
            if let Some(e) = &self.failure {
                if copied > 0 {
                    return Ok(copied);
                }
                return Err(io::Error::new(io::ErrorKind::InvalidData, e.clone()));
            }
            if self.data_start < self.data_end {
                let n = (self.data_end - self.data_start).min(out.len() - copied);
                out[copied..copied + n]
                    .copy_from_slice(&self.buf[self.data_start..self.data_start + n]);
                self.data_start += n;
                copied += n;
                if copied == out.len() {
                    return Ok(copied);
                }
            }
            if self.closed {
                return Ok(copied);
            }
            match self.complete_record() {
                Ok(Some(len)) => {
                    if let Err(e) = self.open_record(len) {
                        let e = self.fail(e);
                        if copied > 0 {
                            return Ok(copied);
                        }
                        return Err(e);
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    let e = self.fail(e);
                    if copied > 0 {
                        return Ok(copied);
                    }
                    return Err(e);
                }
            }
            if copied > 0 {
                // Hand out what we have rather than wait for the socket.
                return Ok(copied);
            }
            // Keep the partial record, at the front, and read more.
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let n = loop {
                match self.inner.read(&mut self.buf[self.end..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                let why = if self.end > self.start {
                    "the connection ended inside a TLS record"
                } else {
                    "the connection ended without a TLS close_notify"
                };
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, why));
            }
            self.end += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
    use std::sync::Arc;

    fn provider(suite: rustls::SupportedCipherSuite) -> Arc<rustls::crypto::CryptoProvider> {
        let mut p = rustls::crypto::ring::default_provider();
        p.cipher_suites = vec![suite];
        Arc::new(p)
    }

    /// A finished handshake between rustls client and server over memory, with secret
    /// extraction enabled on both.
    fn handshake(suite: rustls::SupportedCipherSuite) -> (ClientConnection, ServerConnection) {
        let id = Identity::generate("record test").unwrap();
        let cert = CertificateDer::from(id.cert_der.clone());
        let key = || PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key_der.clone()));
        let mut sc = ServerConfig::builder_with_provider(provider(suite))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key())
            .unwrap();
        sc.send_tls13_tickets = 0;
        sc.enable_secret_extraction = true;
        let mut roots = RootCertStore::empty();
        roots.add(cert.clone()).unwrap();
        // The certificate names no host; skip name checks with a pinned verifier.
        let mut cc = ClientConfig::builder_with_provider(provider(suite))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(
                rustls::crypto::ring::default_provider().signature_verification_algorithms,
            )))
            .with_no_client_auth();
        cc.enable_secret_extraction = true;
        let name = rustls::pki_types::ServerName::try_from("tessera-party-1").unwrap();
        let mut client = ClientConnection::new(Arc::new(cc), name).unwrap();
        let mut server = ServerConnection::new(Arc::new(sc)).unwrap();
        for _ in 0..10 {
            let mut buf = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut buf).unwrap();
            }
            if !buf.is_empty() {
                server.read_tls(&mut &buf[..]).unwrap();
                server.process_new_packets().unwrap();
            }
            let mut buf = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut buf).unwrap();
            }
            if !buf.is_empty() {
                client.read_tls(&mut &buf[..]).unwrap();
                client.process_new_packets().unwrap();
            }
            if !client.is_handshaking() && !server.is_handshaking() && !client.wants_write() {
                return (client, server);
            }
        }
        panic!("handshake did not finish");
    }

    #[derive(Debug)]
    struct AcceptAny(rustls::crypto::WebPkiSupportedAlgorithms);

    impl rustls::client::danger::ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(m, c, d, &self.0)
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(m, c, d, &self.0)
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.supported_schemes()
        }
    }

    const SUITES: [rustls::SupportedCipherSuite; 2] = [
        rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256,
        rustls::crypto::ring::cipher_suite::TLS13_AES_256_GCM_SHA384,
    ];

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 + i / 251) as u8).collect()
    }

    /// Our writer and reader on the client side (keys from rustls), rustls itself on the
    /// server side.
    fn client_side(
        suite: rustls::SupportedCipherSuite,
    ) -> (RecordKey, RecordKey, ServerConnection) {
        let (client, server) = handshake(suite);
        let secrets = client.dangerous_extract_secrets().unwrap();
        (
            RecordKey::from_rustls(secrets.tx).unwrap(),
            RecordKey::from_rustls(secrets.rx).unwrap(),
            server,
        )
    }

    #[test]
    fn interoperates_with_rustls_both_ways() {
        for suite in SUITES {
            let (tx, rx, mut server) = client_side(suite);
            // Ours -> rustls: several writes, one large one split over records.
            let big = payload(100_000);
            let mut w = RecordWriter::new(Vec::new(), tx);
            w.write_all(b"hello ").unwrap();
            w.flush().unwrap();
            w.write_all(&big).unwrap();
            w.write_all(b"!").unwrap();
            w.close_notify().unwrap();
            let wire = w.get_ref().clone();
            let mut fed = &wire[..];
            let mut got = Vec::new();
            while !fed.is_empty() {
                server.read_tls(&mut fed).unwrap();
                server.process_new_packets().unwrap();
                // Ends with Ok(0) only once the close_notify is in.
                let _ = server.reader().read_to_end(&mut got);
            }
            assert_eq!(server.reader().read(&mut [0u8; 1]).unwrap(), 0);
            let mut want = b"hello ".to_vec();
            want.extend_from_slice(&big);
            want.push(b'!');
            assert_eq!(got, want, "{suite:?}");

            // rustls -> ours.
            let mut wire = Vec::new();
            server.set_buffer_limit(None);
            server.writer().write_all(b"from rustls ").unwrap();
            server.writer().write_all(&big).unwrap();
            server.send_close_notify();
            while server.wants_write() {
                server.write_tls(&mut wire).unwrap();
            }
            let mut r = RecordReader::new(&wire[..], rx);
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            let mut want = b"from rustls ".to_vec();
            want.extend_from_slice(&big);
            assert_eq!(got, want, "{suite:?}");
        }
    }

    /// A writer and a reader with matching keys (the client's sending key on both sides).
    fn pair_keys() -> (RecordKey, RecordKey) {
        let (client, _server) = handshake(SUITES[0]);
        let s = client.dangerous_extract_secrets().unwrap();
        let (seq, secret) = s.tx;
        let again = match &secret {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => {
                let key: Vec<u8> = key.as_ref().to_vec();
                let iv: [u8; NONCE_LEN] = iv.as_ref().try_into().unwrap();
                (key, iv)
            }
            _ => unreachable!(),
        };
        let copy = RecordKey {
            key: LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &again.0).unwrap()),
            iv: again.1,
            seq,
        };
        (RecordKey::from_rustls((seq, secret)).unwrap(), copy)
    }

    fn sealed(data: &[u8], close: bool) -> (Vec<u8>, RecordKey) {
        let (tx, rx) = pair_keys();
        let mut w = RecordWriter::new(Vec::new(), tx);
        w.write_all(data).unwrap();
        if close {
            w.close_notify().unwrap();
        } else {
            w.flush().unwrap();
        }
        (w.get_ref().clone(), rx)
    }

    fn read_all(wire: &[u8], key: RecordKey) -> (io::Result<Vec<u8>>, Option<RecordError>) {
        let mut r = RecordReader::new(wire, key);
        let mut got = Vec::new();
        let res = r.read_to_end(&mut got).map(|_| got);
        (res, r.failure().cloned())
    }

    #[test]
    fn close_notify_round_trip() {
        let (wire, rx) = sealed(b"abc", true);
        // Two records: the data, then the alert (2 bytes + type + tag).
        assert_eq!(wire.len(), (5 + 3 + 1 + 16) + (5 + 2 + 1 + 16));
        let (got, failure) = read_all(&wire, rx);
        assert_eq!(got.unwrap(), b"abc");
        assert_eq!(failure, None);
        // Without the close_notify, the end of the stream is an unexpected EOF.
        let (wire, rx) = sealed(b"abc", false);
        let (got, failure) = read_all(&wire, rx);
        assert_eq!(got.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(failure, None);
    }

    #[test]
    fn large_payloads_are_split_exactly() {
        for n in [MAX_PLAINTEXT - 1, MAX_PLAINTEXT, MAX_PLAINTEXT + 1, 3 << 20] {
            let data = payload(n);
            let (wire, rx) = sealed(&data, true);
            let records = n.div_ceil(MAX_PLAINTEXT) + 1;
            assert_eq!(wire.len(), n + records * (HEADER_LEN + 1 + TAG_LEN) + 2);
            // Read back through small and odd reads.
            let mut r = RecordReader::new(&wire[..], rx);
            let mut got = Vec::new();
            let mut chunk = [0u8; 1000];
            loop {
                let k = r.read(&mut chunk[..777]).unwrap();
                if k == 0 {
                    break;
                }
                got.extend_from_slice(&chunk[..k]);
            }
            assert!(got == data, "payload of {n} bytes differs");
        }
    }

    #[test]
    fn damaged_records_are_rejected() {
        // Tampered ciphertext.
        let (mut wire, rx) = sealed(b"secret data", true);
        wire[7] ^= 1;
        let (got, failure) = read_all(&wire, rx);
        assert_eq!(got.unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert_eq!(failure, Some(RecordError::Decrypt));
        // Tampered header (it is the additional data).
        let (mut wire, rx) = sealed(b"secret data", true);
        wire[4] = wire[4].wrapping_sub(1);
        let (_, failure) = read_all(&wire, rx);
        assert_eq!(failure, Some(RecordError::Decrypt));
        // Truncated record: the stream ends inside it.
        let (wire, rx) = sealed(b"secret data", false);
        let (got, failure) = read_all(&wire[..wire.len() - 3], rx);
        let e = got.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(e.to_string().contains("inside a TLS record"), "{e}");
        assert_eq!(failure, None);
        // Oversize length.
        let (_, rx) = pair_keys();
        let len = MAX_CIPHERTEXT + 1;
        let wire = [0x17, 3, 3, (len >> 8) as u8, len as u8];
        let (_, failure) = read_all(&wire, rx);
        assert_eq!(failure, Some(RecordError::Oversize(len)));
        // Wrong outer content type.
        let (mut wire, rx) = sealed(b"x", true);
        wire[0] = 0x16;
        let (_, failure) = read_all(&wire, rx);
        assert_eq!(failure, Some(RecordError::BadHeader([0x16, 3, 3])));
        // Wrong inner content type (a handshake message, e.g. KeyUpdate), properly sealed.
        let (tx, rx) = pair_keys();
        let mut out = vec![0; HEADER_LEN];
        out.extend_from_slice(&[24, 0, 0, 1, 0]);
        let mut tx = tx;
        tx.seal(&mut out, 0, HANDSHAKE).unwrap();
        let (got, failure) = read_all(&out, rx);
        assert!(got.unwrap_err().to_string().contains("key update"));
        assert_eq!(failure, Some(RecordError::ContentType(HANDSHAKE)));
        // A record replayed (wrong sequence number) fails to authenticate.
        let (wire, rx) = sealed(b"abc", false);
        let mut twice = wire.clone();
        twice.extend_from_slice(&wire);
        let (_, failure) = read_all(&twice, rx);
        assert_eq!(failure, Some(RecordError::Decrypt));
    }

    #[test]
    fn padding_is_stripped_and_limits_hold() {
        // A record with zero padding after the content type.
        let (mut tx, rx) = pair_keys();
        let mut out = vec![0; HEADER_LEN];
        out.extend_from_slice(b"padded");
        out.push(APPLICATION_DATA);
        out.extend_from_slice(&[0; 10]);
        // Sealed with type 0, the last padding byte; 0x17 before it is the real type.
        out.pop();
        tx.seal(&mut out, 0, 0).unwrap();
        let mut r = RecordReader::new(&out[..], rx);
        let mut got = [0u8; 64];
        assert_eq!(r.read(&mut got).unwrap(), 6);
        assert_eq!(&got[..6], b"padded");
        assert_eq!(r.failure(), None);
        // Sequence limit: refuse to seal or open past it.
        let (mut tx, mut rx) = pair_keys();
        tx.seq = MAX_RECORDS;
        let mut out = vec![0; HEADER_LEN + 1];
        assert!(tx.seal(&mut out, 0, APPLICATION_DATA).is_err());
        rx.seq = MAX_RECORDS;
        let mut rec = vec![0x17, 3, 3, 0, 17];
        rec.extend_from_slice(&[0; 17]);
        assert_eq!(rx.open(&mut rec), Err(RecordError::Exhausted));
    }
}
