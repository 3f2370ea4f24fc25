//! Three parties over mutually authenticated TLS 1.3, each certificate pinned to its party.
//!
//! # Trust
//!
//! There is no certificate authority. Each station has its own self-signed certificate
//! ([`crate::identity`]), and a computation's configuration lists, for each party index, the
//! SHA-256 fingerprint of the certificate that party must present ([`TlsConfig::fingerprints`]).
//! Both sides present certificates and both check them during the TLS handshake:
//!
//! - a dialer accepts the peer it dialed only if that peer's certificate has the fingerprint
//!   listed for the party it meant to reach;
//! - an acceptor accepts a caller only if its certificate has the fingerprint of one of the
//!   parties that dial it (those with a higher index); after the handshake, the party index in
//!   the caller's hello must be the one its certificate is listed for.
//!
//! Signatures in the handshake prove that each side holds the private key of the certificate
//! it presented, so a copied certificate is of no use. An unknown certificate, a known one in
//! the wrong party's slot, a client that does not speak TLS, or any TLS failure ends setup
//! with [`NetError::Connect`] naming the peer and the reason, before any protocol message is
//! exchanged; the refused side learns it from a TLS alert or, once authenticated, from a
//! refusal message quoting the reason. Only TLS 1.3 is offered, with the `ring` crypto
//! provider; session resumption and 0-RTT are off, so every connection does a full, mutually
//! authenticated handshake.
//!
//! # Connection setup
//!
//! Topology, dialing with backoff, deadlines and the hello are those of [`crate::tcp`] (the
//! code is shared): the TLS handshake runs right after the TCP connection is made, and the
//! hello — binding the connection to the session, the party index and the protocol version —
//! is the first thing sent inside it. Every handshake read has a deadline, so a silent or
//! slow client cannot hang a party. The dialer sends its own party index as the TLS server
//! name (`tessera-party-N`); it is not trusted, it only lets an acceptor name a caller whose
//! certificate it refuses.
//!
//! # After the handshake
//!
//! rustls does the handshake and carries the hellos. Once the hellos are exchanged (and before
//! any frame), each side takes the traffic keys and record sequence numbers out of rustls and
//! carries the rest of the connection with its own TLS 1.3 record layer ([`crate::record`]):
//! the same records rustls would send (AES-GCM only), sealed and opened in place, with no
//! lock and no copies through rustls's buffers. After the handshake, setup reads the socket
//! one whole record at a time, so nothing sent after the peer's hello is left inside rustls;
//! the switch fails clearly if anything is.
//!
//! As over TCP, each connection then gets a writer and a reader thread feeding the endpoint's
//! queues, each owning one half of the socket and one direction's key. A TLS record that
//! fails to authenticate, or any record other than application data and `close_notify`
//! (including a key update or session ticket, which this data path does not implement), is
//! reported as [`NetError::Malformed`]; a connection that ends without a TLS `close_notify`
//! as [`NetError::Closed`]. Each direction refuses to go past 2^24 records (256 GiB) under
//! its key, since keys are never updated.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, Connection,
    DigitallySignedStruct, DistinguishedName, OtherError, ServerConfig, ServerConnection,
    SignatureScheme,
};

use crate::identity::{fingerprint, fingerprint_hex, Fingerprint, Identity};
use crate::record::{self, RecordKey, RecordReader, RecordWriter};
use crate::stream::{self, Refused, SetupStream, Transport, Unsecured, HELLO_LEN, MAGIC};
use crate::tcp::{self, TcpConfig};
use crate::{Endpoint, Frame, Link, NetError, PARTIES};

/// Most plaintext encrypted under the connection lock at a time.
const WRITE_CHUNK: usize = 256 << 10;

/// Size of the buffer ciphertext is read into from the socket.
const READ_CHUNK: usize = 256 << 10;

/// How long a party that refuses a TLS handshake keeps reading (and discarding) what the
/// peer still sends, so that closing does not reset the connection before the peer has read
/// our alert.
const LINGER: Duration = Duration::from_millis(200);

/// Prefix of the TLS server name a dialer sends; its party index follows.
const SNI_PREFIX: &str = "tessera-party-";

/// How a party reaches the two others over TLS.
#[derive(Clone)]
pub struct TlsConfig {
    /// Addresses, party index, session and timeouts, as for plain TCP.
    pub tcp: TcpConfig,
    /// This party's certificate (DER), presented to every peer.
    pub cert_der: Vec<u8>,
    /// This party's private key (PKCS#8 DER). Never sent anywhere.
    pub key_der: Vec<u8>,
    /// For each party index, the SHA-256 fingerprint of the certificate that party must
    /// present (`fingerprints[me]` must be that of `cert_der`). All three must differ.
    pub fingerprints: [Fingerprint; PARTIES],
}

impl TlsConfig {
    /// A configuration for the station whose identity is `identity`.
    pub fn new(tcp: TcpConfig, identity: &Identity, fingerprints: [Fingerprint; PARTIES]) -> Self {
        TlsConfig {
            tcp,
            cert_der: identity.cert_der.clone(),
            key_der: identity.key_der.clone(),
            fingerprints,
        }
    }
}

impl fmt::Debug for TlsConfig {
    /// Everything but the private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fps: Vec<String> = self.fingerprints.iter().map(fingerprint_hex).collect();
        f.debug_struct("TlsConfig")
            .field("tcp", &self.tcp)
            .field(
                "certificate",
                &fingerprint_hex(&fingerprint(&self.cert_der)),
            )
            .field("fingerprints", &fps)
            .finish_non_exhaustive()
    }
}

/// Connects party `cfg.tcp.me` to the two other parties over TLS and returns its
/// [`Endpoint`].
///
/// Binds `cfg.tcp.addrs[cfg.tcp.me]`, then behaves like [`connect_tls_with_listener`].
pub fn connect_tls(cfg: &TlsConfig) -> Result<Endpoint, NetError> {
    connect_tls_with_listener(cfg, tcp::bind(&cfg.tcp)?)
}

/// Like [`connect_tls`], with a listener the caller has already bound.
///
/// Fails with [`NetError::Connect`] naming this party when its own configuration is unusable
/// (a key that does not match the certificate, a certificate that is not the one listed for
/// this party, two parties listed with the same fingerprint), and otherwise as
/// [`crate::tcp::connect_with_listener`] does, naming the peer: one not reached in time, one
/// whose certificate is unknown or in another party's slot, one that does not speak TLS, or
/// one that refused our certificate, hello or session.
pub fn connect_tls_with_listener(
    cfg: &TlsConfig,
    listener: TcpListener,
) -> Result<Endpoint, NetError> {
    stream::check_index(&cfg.tcp)?;
    let transport = TlsTransport::new(cfg).map_err(|detail| NetError::Connect {
        peer: cfg.tcp.me,
        detail,
    })?;
    stream::establish(&cfg.tcp, listener, Arc::new(transport))
}

/// The TLS configurations of one party: one client configuration per party it dials (each
/// pinned to that party), one server configuration for the parties that dial it.
struct TlsTransport {
    me: usize,
    fingerprints: [Fingerprint; PARTIES],
    clients: [Option<Arc<ClientConfig>>; PARTIES],
    server: Option<Arc<ServerConfig>>,
}

/// The crypto provider: `ring`, with AES-128-GCM preferred (the fastest suite on hardware
/// with AES instructions). Only the AES-GCM suites are offered: they are the ones the data
/// path ([`crate::record`]) implements. Shared with [`crate::https`].
pub(crate) fn provider() -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites = vec![
        rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256,
        rustls::crypto::ring::cipher_suite::TLS13_AES_256_GCM_SHA384,
    ];
    Arc::new(p)
}

impl TlsTransport {
    fn new(cfg: &TlsConfig) -> Result<TlsTransport, String> {
        let me = cfg.tcp.me;
        let fps = cfg.fingerprints;
        for i in 0..PARTIES {
            for j in (i + 1)..PARTIES {
                if fps[i] == fps[j] {
                    return Err(format!(
                        "parties {i} and {j} are listed with the same certificate fingerprint {}: every party needs its own",
                        fingerprint_hex(&fps[i])
                    ));
                }
            }
        }
        let ours = fingerprint(&cfg.cert_der);
        if ours != fps[me] {
            return Err(format!(
                "our certificate has fingerprint {}, but the configuration lists {} for party {me}",
                fingerprint_hex(&ours),
                fingerprint_hex(&fps[me])
            ));
        }
        let provider = provider();
        let algs = provider.signature_verification_algorithms;
        let cert = || vec![CertificateDer::from(cfg.cert_der.clone())];
        let key = || PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cfg.key_der.clone()));
        let key_err =
            |e: rustls::Error| format!("our certificate and private key are unusable: {e}");
        let mut clients: [Option<Arc<ClientConfig>>; PARTIES] = Default::default();
        for (peer, slot) in clients.iter_mut().enumerate().take(me) {
            let verifier = PinnedServer {
                peer,
                fingerprints: fps,
                algs,
            };
            let mut c = ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_protocol_versions(&[&rustls::version::TLS13])
                .map_err(|e| format!("TLS setup failed: {e}"))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_client_auth_cert(cert(), key())
                .map_err(key_err)?;
            c.resumption = rustls::client::Resumption::disabled();
            c.enable_secret_extraction = true;
            *slot = Some(Arc::new(c));
        }
        let server = if me + 1 < PARTIES {
            let verifier = PinnedClients {
                me,
                fingerprints: fps,
                algs,
            };
            let mut s = ServerConfig::builder_with_provider(Arc::clone(&provider))
                .with_protocol_versions(&[&rustls::version::TLS13])
                .map_err(|e| format!("TLS setup failed: {e}"))?
                .with_client_cert_verifier(Arc::new(verifier))
                .with_single_cert(cert(), key())
                .map_err(key_err)?;
            s.send_tls13_tickets = 0;
            s.enable_secret_extraction = true;
            s.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
            Some(Arc::new(s))
        } else {
            None
        };
        Ok(TlsTransport {
            me,
            fingerprints: fps,
            clients,
            server,
        })
    }

    /// The party whose listed fingerprint is `fp`, if any.
    fn slot_of(&self, fp: &Fingerprint) -> Option<usize> {
        self.fingerprints.iter().position(|f| f == fp)
    }

    /// What to tell an operator whose certificate a peer refused.
    fn our_certificate_hint(&self) -> String {
        format!(
            "check that it lists our certificate fingerprint {} for party {}",
            fingerprint_hex(&self.fingerprints[self.me]),
            self.me
        )
    }
}

impl Transport for TlsTransport {
    type Stream = TlsStream;

    fn secure_dialed(
        &self,
        peer: usize,
        socket: TcpStream,
        until: Instant,
    ) -> Result<TlsStream, Unsecured> {
        let failed = |why: String| Unsecured { why, closed: false };
        let addr = socket
            .peer_addr()
            .map_or_else(|_| "the peer".to_string(), |a| a.to_string());
        let config = self.clients[peer]
            .clone()
            .ok_or_else(|| failed(format!("party {} does not dial party {peer}", self.me)))?;
        let name = ServerName::try_from(format!("{SNI_PREFIX}{}", self.me))
            .map_err(|e| failed(format!("TLS setup failed: {e}")))?;
        let conn = ClientConnection::new(config, name)
            .map_err(|e| failed(format!("TLS setup failed: {e}")))?;
        let mut stream = TlsStream::new(Connection::Client(conn), socket)
            .map_err(|e| failed(format!("TLS setup failed: {e}")))?;
        match stream.handshake(until) {
            Ok(()) => Ok(stream),
            Err(e) => {
                stream.linger(&e);
                // Closed without an alert: the acceptor may have dropped the connection to
                // make room for other handshakes, so the dialer tries again.
                let closed = tls_error(&e).is_none() && stream::closed_early(&e);
                let why = match tls_error(&e) {
                    Some(rustls::Error::InvalidCertificate(CertificateError::Other(why))) => {
                        format!("refused party {peer} at {addr}: {why}")
                    }
                    Some(rustls::Error::AlertReceived(alert)) => format!(
                        "party {peer} at {addr} refused the TLS handshake (alert {alert:?}){}",
                        if is_certificate_alert(*alert) {
                            format!(": {}", self.our_certificate_hint())
                        } else {
                            String::new()
                        }
                    ),
                    Some(other) => format!("TLS handshake with {addr} failed: {other}"),
                    None => match e.kind() {
                        _ if closed => format!(
                            "{addr} closed the connection during the TLS handshake (is party {peer} running without TLS?)"
                        ),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                            format!("no TLS handshake with {addr} within the connect timeout")
                        }
                        _ => format!("TLS handshake with {addr} failed: {e}"),
                    },
                };
                Err(Unsecured { why, closed })
            }
        }
    }

    fn secure_accepted(&self, socket: TcpStream, until: Instant) -> Result<TlsStream, Refused> {
        let setup = |e: String| Refused {
            why: format!("TLS setup failed: {e}"),
        };
        let config = self
            .server
            .clone()
            .ok_or_else(|| setup(format!("party {} accepts no connections", self.me)))?;
        let conn = ServerConnection::new(config).map_err(|e| setup(e.to_string()))?;
        let mut stream =
            TlsStream::new(Connection::Server(conn), socket).map_err(|e| setup(e.to_string()))?;
        let Err(e) = stream.handshake(until) else {
            return Ok(stream);
        };
        stream.linger(&e);
        // Who is calling: the index it sent as server name, or that of a plain-TCP hello.
        let head = &stream.reader.head;
        let plain = head.len() >= 7 && head[..4] == MAGIC;
        let claimed = if plain {
            Some(usize::from(head[6]))
        } else {
            stream.claimed_party()
        };
        let says = claimed.map_or(String::new(), |p| format!("it says it is party {p}; "));
        let why = match tls_error(&e) {
            _ if plain => format!(
                "it speaks plain TCP, not TLS (a tessera hello in clear text{}): is it configured without TLS?",
                claimed.map_or(String::new(), |p| format!(" from party {p}"))
            ),
            Some(rustls::Error::InvalidCertificate(CertificateError::Other(why))) => {
                format!("{says}its certificate was refused: {why}")
            }
            Some(rustls::Error::AlertReceived(alert)) => format!(
                "{says}it refused the TLS handshake (alert {alert:?}){}",
                if is_certificate_alert(*alert) {
                    format!(": {}", self.our_certificate_hint())
                } else {
                    String::new()
                }
            ),
            Some(other) if head.first().is_some_and(|&b| b != 0x16) => {
                format!("not a TLS client ({other}; first bytes {:02x?})", head)
            }
            Some(other) => format!("{says}TLS handshake failed: {other}"),
            None => match e.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                    format!("{says}no TLS handshake within the connect timeout")
                }
                io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe => {
                    format!("{says}the connection closed during the TLS handshake")
                }
                _ => format!("{says}TLS handshake failed: {e}"),
            },
        };
        Err(Refused { why })
    }

    fn check_caller(&self, stream: &TlsStream, party: usize) -> Result<(), String> {
        let fp = stream
            .peer_fingerprint()
            .ok_or_else(|| "no client certificate after the TLS handshake".to_string())?;
        match self.slot_of(&fp) {
            Some(slot) if slot == party => Ok(()),
            Some(slot) => Err(format!(
                "certificate of party {slot} presented in party {party}'s slot"
            )),
            // The verifier admits only listed certificates; this is a second line.
            None => Err(format!(
                "unknown certificate fingerprint {}",
                fingerprint_hex(&fp)
            )),
        }
    }

    fn explains_refusals(&self) -> bool {
        true
    }

    fn explain_read_error(&self, e: &io::Error) -> Option<String> {
        Some(match tls_error(e)? {
            rustls::Error::AlertReceived(alert) if is_certificate_alert(*alert) => format!(
                "refused our certificate (TLS alert {alert:?}): {}",
                self.our_certificate_hint()
            ),
            rustls::Error::AlertReceived(alert) => {
                format!("ended the TLS session (alert {alert:?})")
            }
            other => format!("sent something TLS rejects instead of a hello: {other}"),
        })
    }

    fn refusal_hint(&self) -> &'static str {
        "check the session id, the version, and that it lists our certificate for our party index"
    }

    fn start_link(&self, me: usize, peer: usize, stream: TlsStream) -> Result<Link, NetError> {
        let setup_err = |e: io::Error| NetError::Connect {
            peer,
            detail: format!("setting up the connection failed: {e}"),
        };
        let (writer, reader) = stream.into_records().map_err(|why| NetError::Connect {
            peer,
            detail: format!("switching to the TLS data path failed: {why}"),
        })?;
        let sock = writer.get_ref();
        sock.set_nodelay(true).map_err(setup_err)?;
        sock.set_read_timeout(None).map_err(setup_err)?;
        sock.set_write_timeout(None).map_err(setup_err)?;
        // The record writer and reader buffer by themselves (whole records, batches of
        // them): no second buffer in front of them.
        stream::start_pumps(me, peer, 0, writer, close_records, reader, |r, e| {
            match r.failure() {
                Some(why) => Frame::Malformed(format!("TLS record rejected: {why}")),
                None => Frame::Closed(format!("read failed: {e}")),
            }
        })
    }
}

/// Ends a connection on the data path: `close_notify`, then a socket shutdown so that the
/// peer (and our own reader) see the end at once.
fn close_records(w: &mut RecordWriter<TcpStream>) {
    let _ = w.close_notify();
    let _ = w.get_ref().shutdown(Shutdown::Both);
}

/// The rustls error inside an I/O error, if there is one.
fn tls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// Alerts that say the peer did not accept our certificate.
fn is_certificate_alert(alert: AlertDescription) -> bool {
    matches!(
        alert,
        AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::AccessDenied
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateRequired
    )
}

fn lock(conn: &Mutex<Connection>) -> io::Result<MutexGuard<'_, Connection>> {
    conn.lock()
        .map_err(|_| io::Error::other("TLS connection state poisoned by a failed thread"))
}

/// Error for a certificate we refuse; the text reaches our own error message, the peer gets
/// a `certificate_unknown` alert.
fn refuse_certificate(why: String) -> rustls::Error {
    let why: Box<dyn std::error::Error + Send + Sync> = why.into();
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::from(why))))
}

/// The handshake-signature checks both verifiers delegate to the provider's algorithms
/// (`self.algs`): pinning replaces chain validation, not signature validation. Also used by
/// [`crate::https`]'s verifiers (the names the macro uses must be in scope where it expands).
macro_rules! signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algs.supported_schemes()
        }
    };
}
pub(crate) use signature_checks;

/// A dialer's check of the party it dialed: the certificate must be the one listed for it.
#[derive(Debug)]
struct PinnedServer {
    peer: usize,
    fingerprints: [Fingerprint; PARTIES],
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = fingerprint(end_entity);
        let peer = self.peer;
        if fp == self.fingerprints[peer] {
            return Ok(ServerCertVerified::assertion());
        }
        Err(refuse_certificate(
            match self.fingerprints.iter().position(|f| *f == fp) {
                Some(slot) => format!(
                    "certificate of party {slot} presented in party {peer}'s slot (check the address list)"
                ),
                None => format!(
                    "unknown certificate fingerprint {} (party {peer} is listed with {})",
                    fingerprint_hex(&fp),
                    fingerprint_hex(&self.fingerprints[peer])
                ),
            },
        ))
    }

    signature_checks!();
}

/// An acceptor's check of a caller: the certificate must be listed for a party that dials
/// us. Which one it must be is checked against the hello, once that has arrived.
#[derive(Debug)]
struct PinnedClients {
    me: usize,
    fingerprints: [Fingerprint; PARTIES],
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedClients {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let fp = fingerprint(end_entity);
        let me = self.me;
        match self.fingerprints.iter().position(|f| *f == fp) {
            Some(slot) if slot > me => Ok(ClientCertVerified::assertion()),
            Some(slot) if slot == me => Err(refuse_certificate(format!(
                "it presented our own certificate (party {me})"
            ))),
            Some(slot) => Err(refuse_certificate(format!(
                "certificate of party {slot}, which does not dial party {me}"
            ))),
            None => Err(refuse_certificate(format!(
                "unknown certificate fingerprint {} (not listed for any party)",
                fingerprint_hex(&fp)
            ))),
        }
    }

    signature_checks!();
}

/// A TLS connection during setup: the two halves that the reader and writer threads take
/// over afterwards, used together.
struct TlsStream {
    reader: TlsReader,
    writer: TlsWriter,
}

impl TlsStream {
    fn new(conn: Connection, socket: TcpStream) -> io::Result<TlsStream> {
        let conn = Arc::new(Mutex::new(conn));
        let read_half = socket.try_clone()?;
        Ok(TlsStream {
            reader: TlsReader {
                conn: Arc::clone(&conn),
                sock: read_half,
                buf: vec![0; READ_CHUNK],
                start: 0,
                end: 0,
                eof: false,
                failure: None,
                head: Vec::new(),
                exact: false,
            },
            writer: TlsWriter {
                conn,
                sock: socket,
                out: Vec::new(),
            },
        })
    }

    /// Runs the TLS handshake to its end, every socket read and write before `until`. On
    /// failure, the alert rustls made (if any) has been sent.
    fn handshake(&mut self, until: Instant) -> io::Result<()> {
        let left = || {
            let d = until.saturating_duration_since(Instant::now());
            if d.is_zero() {
                Err(io::Error::from(io::ErrorKind::TimedOut))
            } else {
                Ok(d)
            }
        };
        loop {
            let handshaking = {
                let mut conn = lock(&self.writer.conn)?;
                drain(&mut conn, &mut self.writer.out)?;
                conn.is_handshaking()
            };
            if !self.writer.out.is_empty() {
                self.writer.sock.set_write_timeout(Some(left()?))?;
                self.writer.send_out()?;
            }
            if !handshaking {
                // From here on, read one record at a time: nothing the peer sends after
                // its hello may end up inside rustls (see `into_records`).
                self.reader.exact = true;
                return Ok(());
            }
            if self.reader.start < self.reader.end {
                let fed = {
                    let conn = Arc::clone(&self.reader.conn);
                    let mut conn = lock(&conn)?;
                    self.reader.feed(&mut conn)
                };
                if let Err(e) = fed {
                    // Tell the peer why (rustls has queued an alert), best effort.
                    let _ = self.flush_alert();
                    return Err(e);
                }
                continue;
            }
            self.reader.sock.set_read_timeout(Some(left()?))?;
            self.reader.fill()?;
            if self.reader.eof {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Sends what rustls queued (an alert after a failure), with a short deadline.
    fn flush_alert(&mut self) -> io::Result<()> {
        {
            let mut conn = lock(&self.writer.conn)?;
            drain(&mut conn, &mut self.writer.out)?;
        }
        self.writer.sock.set_write_timeout(Some(LINGER))?;
        self.writer.send_out()
    }

    /// After a failed handshake: stop sending and read what the peer still sends for a
    /// moment, so that our close does not reset the connection (which could destroy the
    /// alert we sent before the peer reads it).
    fn linger(&mut self, after: &io::Error) {
        let _ = self.writer.sock.shutdown(Shutdown::Write);
        if matches!(
            after.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        ) {
            // A peer that said nothing in time has nothing to read our alert either.
            return;
        }
        let until = Instant::now() + LINGER;
        let mut sink = [0u8; 4096];
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || self.reader.sock.set_read_timeout(Some(left)).is_err() {
                break;
            }
            match self.reader.sock.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    /// Leaves rustls after the hello exchange: takes the traffic keys and sequence numbers
    /// out of the connection and returns our own record writer and reader on the two socket
    /// halves. Fails if rustls still holds anything received or to be sent (after the hello
    /// nothing should be: reads are one record at a time once the handshake is done).
    fn into_records(self) -> Result<(RecordWriter<TcpStream>, RecordReader<TcpStream>), String> {
        let TlsStream { reader, writer } = self;
        if reader.start < reader.end {
            return Err(format!(
                "{} bytes of TLS data arrived before the switch",
                reader.end - reader.start
            ));
        }
        if !writer.out.is_empty() {
            return Err("TLS records left unsent before the switch".into());
        }
        let TlsReader { conn, sock, .. } = reader;
        drop(conn);
        let TlsWriter {
            conn, sock: wsock, ..
        } = writer;
        let mut conn = Arc::try_unwrap(conn)
            .map_err(|_| "the TLS connection is still shared".to_string())?
            .into_inner()
            .map_err(|_| "TLS connection state poisoned by a failed thread".to_string())?;
        let io = conn.process_new_packets().map_err(|e| e.to_string())?;
        if io.plaintext_bytes_to_read() > 0 {
            return Err(format!(
                "{} bytes of data arrived before the switch",
                io.plaintext_bytes_to_read()
            ));
        }
        if conn.wants_write() || io.tls_bytes_to_write() > 0 {
            return Err("TLS records left unsent before the switch".into());
        }
        let secrets = conn
            .dangerous_extract_secrets()
            .map_err(|e| format!("cannot take the TLS keys: {e}"))?;
        let tx = RecordKey::from_rustls(secrets.tx)?;
        let rx = RecordKey::from_rustls(secrets.rx)?;
        Ok((RecordWriter::new(wsock, tx), RecordReader::new(sock, rx)))
    }

    /// The party index a dialer sent as its TLS server name.
    fn claimed_party(&self) -> Option<usize> {
        let conn = lock(&self.reader.conn).ok()?;
        let Connection::Server(s) = &*conn else {
            return None;
        };
        let n: usize = s.server_name()?.strip_prefix(SNI_PREFIX)?.parse().ok()?;
        (n < PARTIES).then_some(n)
    }

    /// The fingerprint of the certificate the peer presented.
    fn peer_fingerprint(&self) -> Option<Fingerprint> {
        let conn = lock(&self.reader.conn).ok()?;
        conn.peer_certificates()?.first().map(|c| fingerprint(c))
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

impl SetupStream for TlsStream {
    fn socket(&self) -> &TcpStream {
        // Both halves are clones of one socket: timeouts set on one apply to both.
        &self.writer.sock
    }
}

/// The receiving half: ciphertext from the socket (read without the lock), decrypted under
/// the lock.
struct TlsReader {
    conn: Arc<Mutex<Connection>>,
    sock: TcpStream,
    /// Ciphertext read from the socket; `start..end` is not yet given to rustls.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The socket has ended.
    eof: bool,
    /// Why rustls rejected what the peer sent, if it did.
    failure: Option<String>,
    /// The first bytes the peer sent (at most a hello's worth), to recognise a client that
    /// does not speak TLS.
    head: Vec<u8>,
    /// Read whole records, one at a time, never more (after the handshake).
    exact: bool,
}

impl TlsReader {
    /// Reads ciphertext from the socket into the buffer (without the lock).
    fn fill(&mut self) -> io::Result<()> {
        let n = if self.exact {
            self.read_record()?
        } else {
            read_some(&mut self.sock, &mut self.buf)?
        };
        if self.head.len() < HELLO_LEN {
            let take = n.min(HELLO_LEN - self.head.len());
            self.head.extend_from_slice(&self.buf[..take]);
        }
        self.start = 0;
        self.end = n;
        self.eof = n == 0;
        Ok(())
    }

    /// Reads exactly one record (or what there is of it before the stream ends) into the
    /// buffer; returns its length.
    fn read_record(&mut self) -> io::Result<usize> {
        let mut got = 0;
        let mut want = record::HEADER_LEN;
        while got < want {
            let n = read_some(&mut self.sock, &mut self.buf[got..want])?;
            if n == 0 {
                if got == 0 {
                    return Ok(0);
                }
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            got += n;
            if got == record::HEADER_LEN {
                let len = usize::from(u16::from_be_bytes([self.buf[3], self.buf[4]]));
                if len > record::MAX_CIPHERTEXT {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("TLS record of {len} bytes exceeds the limit"),
                    ));
                }
                want += len;
            }
        }
        Ok(got)
    }

    /// Gives rustls some of the buffered ciphertext (or the end of the stream) and lets it
    /// process what it has.
    fn feed(&mut self, conn: &mut Connection) -> io::Result<()> {
        if self.start < self.end {
            // rustls takes at most a few KiB per call; hand it up to a whole record before
            // processing, which costs one call per record rather than one per read.
            let mut fed = 0;
            while self.start < self.end {
                match conn.read_tls(&mut &self.buf[self.start..self.end]) {
                    Ok(n) => {
                        self.start += n;
                        fed += n;
                    }
                    // Its buffer is full: process what it has first.
                    Err(_) if fed > 0 => break,
                    Err(e) => return Err(e),
                }
            }
        } else if self.eof {
            conn.read_tls(&mut io::empty())?;
        }
        if let Err(e) = conn.process_new_packets() {
            self.failure = Some(e.to_string());
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        Ok(())
    }
}

impl Read for TlsReader {
    /// Plaintext from the peer; `Ok(0)` after its `close_notify`, `UnexpectedEof` when the
    /// connection ended without one.
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if let Some(why) = &self.failure {
            return Err(io::Error::new(io::ErrorKind::InvalidData, why.clone()));
        }
        let shared = Arc::clone(&self.conn);
        loop {
            {
                let mut conn = lock(&shared)?;
                match conn.reader().read(out) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                if self.start < self.end || self.eof {
                    self.feed(&mut conn)?;
                    continue;
                }
            }
            self.fill()?;
        }
    }
}

/// One read from the socket, retried when interrupted.
fn read_some(sock: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match sock.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Moves every record rustls has ready into `out`.
fn drain(conn: &mut Connection, out: &mut Vec<u8>) -> io::Result<()> {
    while conn.wants_write() {
        conn.write_tls(out)?;
    }
    Ok(())
}

/// The sending half: plaintext encrypted under the lock, records written to the socket
/// without it.
struct TlsWriter {
    conn: Arc<Mutex<Connection>>,
    sock: TcpStream,
    /// Records taken from rustls, waiting to be written to the socket.
    out: Vec<u8>,
}

impl TlsWriter {
    /// Writes `out` to the socket.
    fn send_out(&mut self) -> io::Result<()> {
        let sent = self.sock.write_all(&self.out);
        self.out.clear();
        sent
    }

    /// Ends the connection while rustls still carries it (tests of a hand-played peer):
    /// `close_notify`, then a socket shutdown.
    #[cfg(test)]
    fn close(&mut self) {
        if let Ok(mut conn) = lock(&self.conn) {
            conn.send_close_notify();
            let _ = drain(&mut conn, &mut self.out);
        }
        let _ = self.send_out();
        let _ = self.sock.shutdown(Shutdown::Both);
    }
}

impl Write for TlsWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = {
            let mut conn = lock(&self.conn)?;
            let n = conn.writer().write(&data[..data.len().min(WRITE_CHUNK)])?;
            drain(&mut conn, &mut self.out)?;
            n
        };
        self.send_out()?;
        Ok(n)
    }

    /// Sends whatever rustls has queued besides our data (e.g. a key update answer).
    fn flush(&mut self) -> io::Result<()> {
        {
            let mut conn = lock(&self.conn)?;
            drain(&mut conn, &mut self.out)?;
        }
        if self.out.is_empty() {
            Ok(())
        } else {
            self.send_out()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::connect_with_listener;
    use crate::testkit::{self, connect_err, listeners, raw_hello, tcp_cfg, T};
    use std::net::SocketAddr;
    use std::thread::{self, JoinHandle};

    const SESSION: [u8; 16] = *b"tessera-tls-0001";

    /// Three fresh station identities (made at test time, never stored).
    fn identities() -> [Identity; PARTIES] {
        std::array::from_fn(|i| Identity::generate(&format!("station {i}")).unwrap())
    }

    fn fingerprints(ids: &[Identity; PARTIES]) -> [Fingerprint; PARTIES] {
        std::array::from_fn(|i| ids[i].fingerprint())
    }

    /// Party `me`'s configuration when every party plays itself.
    fn cfg(
        me: usize,
        addrs: [SocketAddr; PARTIES],
        ids: &[Identity; PARTIES],
        connect_timeout: Duration,
    ) -> TlsConfig {
        TlsConfig::new(
            tcp_cfg(me, addrs, SESSION, connect_timeout),
            &ids[me],
            fingerprints(ids),
        )
    }

    fn start(
        parties: Vec<(TlsConfig, TcpListener)>,
        delay: Duration,
    ) -> Vec<JoinHandle<Result<Endpoint, NetError>>> {
        testkit::start(parties, delay, connect_tls_with_listener)
    }

    fn connected() -> [Endpoint; PARTIES] {
        let ids = identities();
        let (ls, addrs) = listeners();
        let parties = ls
            .into_iter()
            .enumerate()
            .map(|(i, l)| (cfg(i, addrs, &ids, T), l))
            .collect();
        let mut hs = start(parties, Duration::ZERO).into_iter();
        std::array::from_fn(|_| hs.next().unwrap().join().unwrap().unwrap())
    }

    fn assert_quick(t0: Instant, limit: Duration) {
        assert!(t0.elapsed() < limit, "took {:?}", t0.elapsed());
    }

    #[test]
    fn ring_exchange_started_in_reverse_order() {
        let ids = identities();
        let (ls, addrs) = listeners();
        let parties = ls
            .into_iter()
            .enumerate()
            .map(|(i, l)| (cfg(i, addrs, &ids, T), l))
            .collect();
        testkit::reverse_start_ring(parties, connect_tls_with_listener, |_| {});
    }

    #[test]
    fn absent_peer_is_named_within_the_connect_timeout() {
        let timeout = Duration::from_millis(500);
        let ids = identities();
        // Party 2 never starts: parties 0 and 1 wait for it.
        let (ls, addrs) = listeners();
        let [l0, l1, _l2] = ls;
        let t0 = Instant::now();
        let hs = start(
            vec![
                (cfg(0, addrs, &ids, timeout), l0),
                (cfg(1, addrs, &ids, timeout), l1),
            ],
            Duration::ZERO,
        );
        for h in hs {
            let (peer, detail) = connect_err(h.join().unwrap());
            assert_eq!(peer, 2, "{detail}");
            assert!(detail.contains("did not connect"), "{detail}");
        }
        assert!(t0.elapsed() >= timeout);
        assert_quick(t0, timeout + Duration::from_secs(1));
        // Party 0 never starts and nothing listens on its port: 1 and 2 dial in vain.
        let (ls, mut addrs) = listeners();
        let [_l0, l1, l2] = ls;
        addrs[0] = "127.0.0.1:1".parse().unwrap();
        let t0 = Instant::now();
        let hs = start(
            vec![
                (cfg(1, addrs, &ids, timeout), l1),
                (cfg(2, addrs, &ids, timeout), l2),
            ],
            Duration::ZERO,
        );
        for h in hs {
            let (peer, detail) = connect_err(h.join().unwrap());
            assert_eq!(peer, 0, "{detail}");
            assert!(detail.contains("could not reach"), "{detail}");
        }
        assert_quick(t0, timeout + Duration::from_secs(1));
    }

    #[test]
    fn wrong_session_is_refused_on_both_sides() {
        let ids = identities();
        let (ls, addrs) = listeners();
        let [l0, l1, _l2] = ls;
        let mut c1 = cfg(1, addrs, &ids, T);
        c1.tcp.session = *b"another-study-01";
        let t0 = Instant::now();
        let hs = start(vec![(cfg(0, addrs, &ids, T), l0), (c1, l1)], Duration::ZERO);
        let mut results = hs.into_iter().map(|h| h.join().unwrap());
        let (peer, detail) = connect_err(results.next().unwrap());
        assert_eq!(peer, 1, "{detail}");
        assert!(detail.contains("different session id"), "{detail}");
        // Party 1 is authenticated, so party 0 tells it why.
        let (peer, detail) = connect_err(results.next().unwrap());
        assert_eq!(peer, 0, "{detail}");
        assert!(detail.contains("refused our hello"), "{detail}");
        assert!(detail.contains("different session id"), "{detail}");
        assert_quick(t0, Duration::from_secs(2));
    }

    #[test]
    fn unknown_certificate_is_refused_on_both_sides() {
        let ids = identities();
        let stranger = Identity::generate("stranger").unwrap();
        let stranger_fp = fingerprint_hex(&stranger.fingerprint());

        // The dialer is unknown: party 1 runs with the stranger's identity.
        let (ls, addrs) = listeners();
        let [l0, l1, _l2] = ls;
        let mut fps = fingerprints(&ids);
        fps[1] = stranger.fingerprint();
        // A certificate the acceptor does not list is a stranger's: dropped, and named when
        // the acceptor gives up at its deadline.
        let short = Duration::from_millis(500);
        let c1 = TlsConfig::new(tcp_cfg(1, addrs, SESSION, T), &stranger, fps);
        let t0 = Instant::now();
        let hs = start(
            vec![(cfg(0, addrs, &ids, short), l0), (c1, l1)],
            Duration::ZERO,
        );
        let mut results = hs.into_iter().map(|h| h.join().unwrap());
        let (peer, detail) = connect_err(results.next().unwrap());
        assert_eq!(peer, 1, "{detail}");
        assert!(detail.contains("did not connect"), "{detail}");
        assert!(detail.contains("says it is party 1"), "{detail}");
        assert!(
            detail.contains(&format!("unknown certificate fingerprint {stranger_fp}")),
            "{detail}"
        );
        let (peer, detail) = connect_err(results.next().unwrap());
        assert_eq!(peer, 0, "{detail}");
        assert!(detail.contains("refused our certificate"), "{detail}");
        assert!(detail.contains(&stranger_fp), "{detail}");
        assert_quick(t0, Duration::from_secs(2));

        // The acceptor is unknown: party 0 runs with the stranger's identity.
        let (ls, addrs) = listeners();
        let [l0, l1, _l2] = ls;
        let mut fps = fingerprints(&ids);
        fps[0] = stranger.fingerprint();
        let c0 = TlsConfig::new(tcp_cfg(0, addrs, SESSION, short), &stranger, fps);
        let t0 = Instant::now();
        let hs = start(vec![(c0, l0), (cfg(1, addrs, &ids, T), l1)], Duration::ZERO);
        let mut results = hs.into_iter().map(|h| h.join().unwrap());
        let (peer, detail) = connect_err(results.next().unwrap());
        assert_eq!(peer, 1, "{detail}");
        assert!(detail.contains("refused the TLS handshake"), "{detail}");
        let (peer, detail) = connect_err(results.next().unwrap());
        assert_eq!(peer, 0, "{detail}");
        assert!(
            detail.contains(&format!("unknown certificate fingerprint {stranger_fp}")),
            "{detail}"
        );
        assert_quick(t0, Duration::from_secs(2));
    }

    #[test]
    fn certificate_in_the_wrong_slot_is_refused() {
        let ids = identities();
        let [f0, f1, f2] = fingerprints(&ids);

        // Party 1's station plays party 2 and dials party 0: the certificate is known and
        // may dial party 0, but not as party 2.
        let (ls, addrs) = listeners();
        let [l0, _l1, l2] = ls;
        let impostor = TlsConfig::new(tcp_cfg(2, addrs, SESSION, T), &ids[1], [f0, f2, f1]);
        let t0 = Instant::now();
        let hs = start(
            vec![(cfg(0, addrs, &ids, T), l0), (impostor, l2)],
            Duration::ZERO,
        );
        let mut results = hs.into_iter().map(|h| h.join().unwrap());
        let (peer, detail) = connect_err(results.next().unwrap());
        assert_eq!(peer, 2, "{detail}");
        assert!(
            detail.contains("certificate of party 1 presented in party 2's slot"),
            "{detail}"
        );
        let (peer, detail) = connect_err(results.next().unwrap());
        assert!(peer == 0 || peer == 1, "{detail}");
        if peer == 0 {
            assert!(
                detail.contains("party 1 presented in party 2's slot"),
                "{detail}"
            );
        }
        assert_quick(t0, Duration::from_secs(2));

        // Party 2's station listens where party 0 should: party 1 refuses it while dialing.
        let (ls, addrs) = listeners();
        let [l0, l1, _l2] = ls;
        // (The acceptor, refused by its caller, drops the connection and waits out its
        // deadline.)
        let short = Duration::from_millis(500);
        let wrong = TlsConfig::new(tcp_cfg(0, addrs, SESSION, short), &ids[2], [f2, f1, f0]);
        let t0 = Instant::now();
        let hs = start(
            vec![(wrong, l0), (cfg(1, addrs, &ids, T), l1)],
            Duration::ZERO,
        );
        let mut results = hs.into_iter().map(|h| h.join().unwrap());
        let (peer, detail) = connect_err(results.next().unwrap());
        assert_eq!(peer, 1, "{detail}");
        let (peer, detail) = connect_err(results.next().unwrap());
        assert_eq!(peer, 0, "{detail}");
        assert!(
            detail.contains("certificate of party 2 presented in party 0's slot"),
            "{detail}"
        );
        assert_quick(t0, Duration::from_secs(2));
    }

    #[test]
    fn plain_tcp_is_refused_both_ways() {
        let ids = identities();
        // A plain-TCP party dials a TLS party.
        // (A caller that is not a party is dropped: the party waits for its peers until the
        // deadline, and names what it dropped.)
        let short = Duration::from_millis(500);
        let (ls, addrs) = listeners();
        let [l0, _l1, _l2] = ls;
        let c0 = cfg(0, addrs, &ids, short);
        let t0 = Instant::now();
        let h = thread::spawn(move || connect_tls_with_listener(&c0, l0));
        let mut raw = TcpStream::connect(addrs[0]).unwrap();
        raw.write_all(&raw_hello(2, &SESSION)).unwrap();
        // Not one byte of a hello or frame came back, only a TLS alert.
        raw.set_read_timeout(Some(T)).unwrap();
        let mut back = Vec::new();
        let _ = raw.read_to_end(&mut back);
        assert!(back.is_empty() || back[0] == 0x15, "{back:02x?}");
        let (peer, detail) = connect_err(h.join().unwrap());
        assert_eq!(peer, 1, "{detail}");
        assert!(detail.contains("plain TCP, not TLS"), "{detail}");
        assert_quick(t0, Duration::from_secs(2));

        // Party 0 runs plain TCP, party 1 TLS.
        let (ls, addrs) = listeners();
        let [l0, l1, _l2] = ls;
        let t0 = Instant::now();
        let plain =
            thread::spawn(move || connect_with_listener(&tcp_cfg(0, addrs, SESSION, short), l0));
        let c1 = cfg(1, addrs, &ids, T);
        let tls = thread::spawn(move || connect_tls_with_listener(&c1, l1));
        let (peer, detail) = connect_err(plain.join().unwrap());
        assert_eq!(peer, 1, "{detail}");
        assert!(detail.contains("looks like a TLS client"), "{detail}");
        let (peer, detail) = connect_err(tls.join().unwrap());
        assert_eq!(peer, 0, "{detail}");
        assert!(detail.contains("running without TLS"), "{detail}");
        assert_quick(t0, Duration::from_secs(2));

        // Anything else that is not TLS.
        let (ls, addrs) = listeners();
        let [l0, _l1, _l2] = ls;
        let c0 = cfg(0, addrs, &ids, short);
        let h = thread::spawn(move || connect_tls_with_listener(&c0, l0));
        let mut raw = TcpStream::connect(addrs[0]).unwrap();
        raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let (peer, detail) = connect_err(h.join().unwrap());
        assert_eq!(peer, 1, "{detail}");
        assert!(detail.contains("not a TLS client"), "{detail}");
    }

    #[test]
    fn junk_connections_are_dropped_and_the_parties_still_link_up() {
        let ids = identities();
        let (ls, addrs) = listeners();
        // Junk queued at every port first: the parties accept it before their peers.
        let _junk = testkit::junk_at(&addrs);
        let t0 = Instant::now();
        let parties = ls
            .into_iter()
            .enumerate()
            .map(|(i, l)| (cfg(i, addrs, &ids, T), l))
            .collect();
        let mut eps: Vec<Endpoint> = start(parties, Duration::ZERO)
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect();
        // Long before the deadline: the silent callers held up no one.
        assert_quick(t0, Duration::from_secs(3));
        testkit::pass_on(&mut eps);
    }

    #[test]
    fn silent_client_is_refused_at_the_deadline() {
        let timeout = Duration::from_millis(300);
        let ids = identities();
        let (ls, addrs) = listeners();
        let [_l0, l1, _l2] = ls;
        let c1 = cfg(1, addrs, &ids, timeout);
        let t0 = Instant::now();
        let h = thread::spawn(move || connect_tls_with_listener(&c1, l1));
        let _raw = TcpStream::connect(addrs[1]).unwrap();
        let (peer, detail) = connect_err(h.join().unwrap());
        assert!(peer == 0 || peer == 2, "{detail}");
        assert_quick(t0, timeout + Duration::from_secs(1));
    }

    #[test]
    fn bad_own_configuration_is_reported() {
        let ids = identities();
        let (_ls, addrs) = listeners();
        let l = || TcpListener::bind("127.0.0.1:0").unwrap();
        // Our certificate is not the one listed for us.
        let mut c = cfg(1, addrs, &ids, T);
        c.fingerprints[1] = ids[2].fingerprint();
        c.fingerprints[2] = ids[1].fingerprint();
        let (peer, detail) = connect_err(connect_tls_with_listener(&c, l()));
        assert_eq!(peer, 1);
        assert!(detail.contains("lists"), "{detail}");
        // Two parties with one certificate.
        let mut c = cfg(1, addrs, &ids, T);
        c.fingerprints[2] = c.fingerprints[0];
        let (_, detail) = connect_err(connect_tls_with_listener(&c, l()));
        assert!(detail.contains("same certificate fingerprint"), "{detail}");
        // A key that is not the certificate's.
        let mut c = cfg(1, addrs, &ids, T);
        c.key_der = ids[0].key_der.clone();
        let (_, detail) = connect_err(connect_tls_with_listener(&c, l()));
        assert!(detail.contains("unusable"), "{detail}");
        assert!(!format!("{c:?}").contains("key_der"));
    }

    #[test]
    fn dropped_peer_is_seen_promptly() {
        let [mut a, mut b, c] = connected();
        a.send(2, vec![1; 100]).unwrap();
        drop(c);
        let t0 = Instant::now();
        assert!(matches!(a.recv(2), Err(NetError::Closed { peer: 2, .. })));
        assert!(matches!(b.recv(2), Err(NetError::Closed { peer: 2, .. })));
        assert_quick(t0, Duration::from_secs(1));
    }

    #[test]
    fn abort_reaches_the_peers() {
        let [mut a, mut b, mut c] = connected();
        a.send(1, vec![1, 2, 3]).unwrap();
        a.abort("input failed validation");
        drop(a);
        assert_eq!(b.recv(0).unwrap(), vec![1, 2, 3]);
        match b.recv(0) {
            Err(NetError::Aborted { peer: 0, reason }) => {
                assert_eq!(reason, "input failed validation")
            }
            other => panic!("expected abort, got {other:?}"),
        }
        assert!(matches!(c.recv(0), Err(NetError::Aborted { peer: 0, .. })));
    }

    /// Party 0 for real; parties 1 and 2 played by hand over TLS (valid certificates and
    /// hellos), so the test can write anything inside the encrypted channel.
    fn party0_with_raw_peers() -> (Endpoint, TlsStream, TlsStream) {
        let ids = identities();
        let (ls, addrs) = listeners();
        let [l0, _l1, _l2] = ls;
        let c0 = cfg(0, addrs, &ids, T);
        let h = thread::spawn(move || connect_tls_with_listener(&c0, l0));
        let mut raws = [1u8, 2].into_iter().map(|i| {
            let t = TlsTransport::new(&cfg(usize::from(i), addrs, &ids, T)).unwrap();
            let sock = TcpStream::connect(addrs[0]).unwrap();
            let mut s = t.secure_dialed(0, sock, Instant::now() + T).unwrap();
            s.write_all(&raw_hello(i, &SESSION)).unwrap();
            s.flush().unwrap();
            let mut answer = [0u8; HELLO_LEN];
            s.read_exact(&mut answer).unwrap();
            assert_eq!(answer.to_vec(), raw_hello(0, &SESSION));
            s
        });
        let (r1, r2) = (raws.next().unwrap(), raws.next().unwrap());
        (h.join().unwrap().unwrap(), r1, r2)
    }

    #[test]
    fn truncated_and_malformed_data_is_reported() {
        let t0 = Instant::now();
        // Inside valid TLS: a frame, then a frame cut short by a clean TLS close.
        let (mut ep, mut r1, _r2) = party0_with_raw_peers();
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(&3u64.to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(b"abc");
        bytes.push(0);
        bytes.extend_from_slice(&100u64.to_le_bytes());
        bytes.extend_from_slice(&2u64.to_le_bytes());
        bytes.extend_from_slice(&[7; 10]);
        r1.write_all(&bytes).unwrap();
        r1.writer.close();
        assert_eq!(ep.recv(1).unwrap(), b"abc");
        match ep.recv(1) {
            Err(NetError::Malformed { peer: 1, detail }) => {
                assert!(detail.contains("truncated"), "{detail}")
            }
            other => panic!("expected malformed, got {other:?}"),
        }
        // Inside valid TLS: an unknown frame kind, the connection left open.
        let (mut ep, _r1, mut r2) = party0_with_raw_peers();
        let mut bad = vec![9u8];
        bad.extend_from_slice(&5u64.to_le_bytes());
        bad.extend_from_slice(&1u64.to_le_bytes());
        r2.write_all(&bad).unwrap();
        r2.flush().unwrap();
        match ep.recv(2) {
            Err(NetError::Malformed { peer: 2, detail }) => {
                assert!(detail.contains("unknown frame kind 9"), "{detail}")
            }
            other => panic!("expected malformed, got {other:?}"),
        }
        // A forged TLS record (bytes injected on the TCP stream): refused, nothing delivered.
        let (mut ep, mut r1, _r2) = party0_with_raw_peers();
        let mut forged = vec![0x17, 0x03, 0x03, 0x00, 0x40];
        forged.extend_from_slice(&[0x5a; 0x40]);
        r1.writer.sock.write_all(&forged).unwrap();
        match ep.recv(1) {
            Err(NetError::Malformed { peer: 1, detail }) => {
                assert!(detail.contains("TLS record rejected"), "{detail}")
            }
            other => panic!("expected malformed, got {other:?}"),
        }
        // The connection cut mid-frame without a TLS close: the peer is gone.
        let (mut ep, mut r1, _r2) = party0_with_raw_peers();
        r1.write_all(&bytes[..25]).unwrap();
        r1.flush().unwrap();
        r1.writer.sock.shutdown(Shutdown::Both).unwrap();
        assert_eq!(ep.recv(1).unwrap(), b"abc");
        assert!(matches!(ep.recv(1), Err(NetError::Closed { peer: 1, .. })));
        assert_quick(t0, Duration::from_secs(3));
    }

    /// Writes a data frame on a hand-played connection.
    fn raw_frame(s: &mut TlsStream, round: u64, body: &[u8]) {
        Frame::Data {
            channel: crate::ChannelId::root(),
            round,
            body: body.to_vec(),
        }
        .write_to(s)
        .unwrap();
        s.flush().unwrap();
    }

    #[test]
    fn rustls_peer_interoperates_and_key_updates_are_refused() {
        // The hand-played peer keeps rustls for its data path: our records and its records
        // are the same TLS 1.3, both ways.
        let (mut ep, mut r1, _r2) = party0_with_raw_peers();
        raw_frame(&mut r1, 1, b"before");
        assert_eq!(ep.recv(1).unwrap(), b"before");
        for i in 0..3u8 {
            ep.send(1, vec![i; 100_000]).unwrap();
        }
        r1.socket().set_read_timeout(Some(T)).unwrap();
        let mut input = io::BufReader::new(&mut r1);
        for i in 0..3u8 {
            match Frame::read_from(&mut input).unwrap() {
                Some(Frame::Data { body, .. }) => assert_eq!(body, vec![i; 100_000]),
                other => panic!("expected data, got {other:?}"),
            }
        }
        drop(input);
        // A key update (which our data path does not implement) is a protocol error, not
        // silently misread data.
        lock(&r1.writer.conn)
            .unwrap()
            .refresh_traffic_keys()
            .unwrap();
        raw_frame(&mut r1, 2, b"after");
        match ep.recv(1) {
            Err(NetError::Malformed { peer: 1, detail }) => {
                assert!(detail.contains("TLS record rejected"), "{detail}");
                assert!(detail.contains("key update"), "{detail}");
            }
            other => panic!("expected malformed, got {other:?}"),
        }
    }

    #[test]
    fn connect_tls_binds_its_own_address() {
        let ids = identities();
        let (ls, addrs) = listeners();
        drop(ls);
        let hs: Vec<_> = (0..PARTIES)
            .map(|i| {
                let c = cfg(i, addrs, &ids, T);
                thread::spawn(move || connect_tls(&c))
            })
            .collect();
        let mut eps: Vec<Endpoint> = hs.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
        eps[2].send(0, b"hi".to_vec()).unwrap();
        assert_eq!(eps[0].recv(2).unwrap(), b"hi");
    }
}
