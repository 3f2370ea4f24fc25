//! TLS configurations for the station's HTTP API (HTTPS): crypto only, no sockets.
//!
//! # Trust
//!
//! As for the MPC mesh ([`crate::tls`]) there is no certificate authority:
//!
//! - the server presents the station's self-signed [`Identity`];
//! - a client accepts the server only if the SHA-256 fingerprint of the server's end-entity
//!   certificate equals the fingerprint it was given (the pin); otherwise the handshake fails
//!   with a [`PinMismatch`] naming the expected and the found fingerprint. The server name a
//!   client sends ([`SERVER_NAME`]) is not checked by anyone: pinning replaces it;
//! - the server asks for a client certificate but does not require one. A client that
//!   presents one must prove it holds the private key (its handshake signature is verified
//!   with the provider's algorithms, the same code as the mesh's); any self-signed
//!   certificate is otherwise accepted. Authorisation is by fingerprint, after the handshake,
//!   by whoever reads [`peer_fingerprint`] (the station's handlers).
//!
//! Only TLS 1.3 is offered, with the `ring` provider and the AES-GCM suites (those of
//! [`crate::tls`]); the server issues no session tickets and keeps no session cache, the
//! client does not try to resume, so every connection does a full handshake and the client
//! certificate (if any) is always presented anew.
//!
//! # Cost
//!
//! One full TLS 1.3 handshake per connection: one round trip before the client's first
//! request bytes, a few kilobytes (two self-signed certificates at most, ECDSA P-256).
//!
//! LEAKAGE: the handshake reveals the certificates (hence identities' names and
//! fingerprints) to the network observer only in encrypted form (TLS 1.3 encrypts
//! certificates); the server name [`SERVER_NAME`] is sent in clear and is the same for
//! every station. Nothing else is opened here.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, ClientConfig, CommonState, DigitallySignedStruct, DistinguishedName,
    OtherError, ServerConfig, SignatureScheme,
};

use crate::identity::{fingerprint, fingerprint_hex, Fingerprint, Identity};
use crate::tls::{provider, signature_checks};
use crate::NetError;

/// The TLS server name (SNI) a client sends. Neither side checks it: the client pins the
/// server's certificate fingerprint instead.
pub const SERVER_NAME: &str = "tessera-station";

/// The TLS configuration of a station's HTTPS server presenting `identity`.
///
/// TLS 1.3 only, `ring` provider, no session tickets or cache. Client certificates are
/// offered but optional; a presented one must be proven by the client's handshake
/// signature, and is otherwise accepted whatever it is (see the module documentation).
/// Fails with [`NetError::Tls`] when the identity's key is unusable or does not belong to
/// its certificate.
pub fn server_config(identity: &Identity) -> Result<Arc<ServerConfig>, NetError> {
    identity.check_pair().map_err(tls_err)?;
    let provider = provider();
    let verifier = AnyClientCert {
        algs: provider.signature_verification_algorithms,
    };
    let mut s = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| tls_err(e.to_string()))?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(cert(identity), key(identity))
        .map_err(|e| tls_err(format!("our certificate and private key are unusable: {e}")))?;
    s.send_tls13_tickets = 0;
    s.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    Ok(Arc::new(s))
}

/// The TLS configuration of a client of a station's HTTPS server.
///
/// Accepts the server only if its end-entity certificate's SHA-256 fingerprint is `pin`
/// (the handshake signature is verified too); a mismatch fails the handshake with a
/// [`PinMismatch`] inside [`rustls::Error::InvalidCertificate`] (see
/// [`pin_mismatch`]). Presents `identity` as client certificate when given. TLS 1.3 only,
/// `ring` provider, no resumption. Fails with [`NetError::Tls`] when `identity`'s key is
/// unusable.
pub fn client_config(
    pin: Fingerprint,
    identity: Option<&Identity>,
) -> Result<Arc<ClientConfig>, NetError> {
    let provider = provider();
    let verifier = PinnedServerCert {
        pin,
        algs: provider.signature_verification_algorithms,
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| tls_err(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut c = match identity {
        Some(id) => {
            id.check_pair().map_err(tls_err)?;
            builder
                .with_client_auth_cert(cert(id), key(id))
                .map_err(|e| {
                    tls_err(format!("our certificate and private key are unusable: {e}"))
                })?
        }
        None => builder.with_no_client_auth(),
    };
    c.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(c))
}

/// The fingerprint of the certificate the peer presented on `conn` (a
/// [`rustls::ServerConnection`] or [`rustls::ClientConnection`], which dereference to
/// [`CommonState`]), or `None` if it presented none or the handshake is not done.
pub fn peer_fingerprint(conn: &CommonState) -> Option<Fingerprint> {
    conn.peer_certificates()?.first().map(|c| fingerprint(c))
}

/// Why a client refused a server: its certificate is not the pinned one.
///
/// Carried inside the handshake error
/// (`rustls::Error::InvalidCertificate(CertificateError::Other(..))`); [`pin_mismatch`]
/// finds it there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinMismatch {
    /// The pinned fingerprint.
    pub expected: Fingerprint,
    /// The fingerprint of the certificate the server presented.
    pub found: Fingerprint,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the server's certificate fingerprint did not match the pinned one: expected sha256:{}, found sha256:{}",
            fingerprint_hex(&self.expected),
            fingerprint_hex(&self.found)
        )
    }
}

impl std::error::Error for PinMismatch {}

/// The [`PinMismatch`] inside a handshake error, if that is why the handshake failed.
pub fn pin_mismatch(e: &rustls::Error) -> Option<&PinMismatch> {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<PinMismatch>()
        }
        _ => None,
    }
}

fn tls_err(detail: impl Into<String>) -> NetError {
    NetError::Tls {
        detail: detail.into(),
    }
}

fn cert(id: &Identity) -> Vec<CertificateDer<'static>> {
    vec![CertificateDer::from(id.cert_der.clone())]
}

fn key(id: &Identity) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key_der.clone()))
}

/// A client's check of the server: its certificate must have the pinned fingerprint.
#[derive(Debug)]
struct PinnedServerCert {
    pin: Fingerprint,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedServerCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let found = fingerprint(end_entity);
        if found == self.pin {
            return Ok(ServerCertVerified::assertion());
        }
        let why: Arc<dyn std::error::Error + Send + Sync> = Arc::new(PinMismatch {
            expected: self.pin,
            found,
        });
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(why),
        )))
    }

    signature_checks!();
}

/// The server's check of a client certificate: any is accepted (after the handshake
/// signature proves possession of its key); none is fine too.
#[derive(Debug)]
struct AnyClientCert {
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    signature_checks!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::{ClientConnection, Connection, ProtocolVersion, ServerConnection};

    /// Moves what `from` has to send into `to` and lets `to` process it.
    fn transfer(from: &mut Connection, to: &mut Connection) -> Result<(), rustls::Error> {
        let mut buf = Vec::new();
        while from.wants_write() {
            from.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            to.read_tls(&mut rd).unwrap();
        }
        to.process_new_packets().map(|_| ())
    }

    /// Runs a handshake between `client` and `server` in memory; returns the first error
    /// (after delivering the failing side's alert to the other).
    fn handshake(client: &mut Connection, server: &mut Connection) -> Result<(), rustls::Error> {
        for _ in 0..20 {
            if !client.is_handshaking() && !server.is_handshaking() {
                return Ok(());
            }
            if let Err(e) = transfer(client, server) {
                let _ = transfer(server, client);
                return Err(e);
            }
            if let Err(e) = transfer(server, client) {
                let _ = transfer(client, server);
                return Err(e);
            }
        }
        panic!("handshake did not finish");
    }

    fn pair(
        client: Arc<ClientConfig>,
        server: Arc<ServerConfig>,
    ) -> (Connection, Connection, Result<(), rustls::Error>) {
        let name = ServerName::try_from(SERVER_NAME).unwrap();
        let mut c = Connection::Client(ClientConnection::new(client, name).unwrap());
        let mut s = Connection::Server(ServerConnection::new(server).unwrap());
        let r = handshake(&mut c, &mut s);
        (c, s, r)
    }

    #[test]
    fn https_pinned_handshake_with_and_without_client_certificate() {
        let station = Identity::generate("station").unwrap();
        let researcher = Identity::generate("researcher").unwrap();
        let server = server_config(&station).unwrap();
        let fp = station.fingerprint();

        let (c, s, r) = pair(
            client_config(fp, Some(&researcher)).unwrap(),
            server.clone(),
        );
        r.unwrap();
        assert_eq!(peer_fingerprint(&s), Some(researcher.fingerprint()));
        assert_eq!(peer_fingerprint(&c), Some(fp));
        assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_3));
        assert_eq!(s.protocol_version(), Some(ProtocolVersion::TLSv1_3));

        let (_, s, r) = pair(client_config(fp, None).unwrap(), server);
        r.unwrap();
        assert_eq!(peer_fingerprint(&s), None);
    }

    #[test]
    fn https_wrong_pin_is_refused_and_named() {
        let station = Identity::generate("station").unwrap();
        let other = Identity::generate("other").unwrap();
        let (_, s, r) = pair(
            client_config(other.fingerprint(), None).unwrap(),
            server_config(&station).unwrap(),
        );
        let e = r.unwrap_err();
        let m = pin_mismatch(&e).expect("a pin mismatch");
        assert_eq!(m.expected, other.fingerprint());
        assert_eq!(m.found, station.fingerprint());
        let text = m.to_string();
        assert!(text.contains("did not match"), "{text}");
        assert!(
            text.contains(&format!("sha256:{}", fingerprint_hex(&m.expected))),
            "{text}"
        );
        assert!(
            text.contains(&format!("sha256:{}", fingerprint_hex(&m.found))),
            "{text}"
        );
        assert!(s.is_handshaking(), "the server never completed");
        assert!(pin_mismatch(&rustls::Error::DecryptError).is_none());
    }

    /// A client certificate whose key the client does not hold is refused: the handshake
    /// signature is verified against the presented certificate.
    #[test]
    fn https_client_certificate_must_be_proven() {
        let station = Identity::generate("station").unwrap();
        let a = Identity::generate("a").unwrap();
        let b = Identity::generate("b").unwrap();
        // A config presenting a's certificate with b's key (rustls's builder would refuse
        // the pair, so the resolver is built by hand).
        let provider = provider();
        let verifier = PinnedServerCert {
            pin: station.fingerprint(),
            algs: provider.signature_verification_algorithms,
        };
        let signer = provider.key_provider.load_private_key(key(&b)).unwrap();
        let forged_key = rustls::sign::CertifiedKey::new(cert(&a), signer);
        let forged = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(forged_key)));
        let (_, s, r) = pair(Arc::new(forged), server_config(&station).unwrap());
        let e = r.unwrap_err();
        assert!(
            matches!(
                e,
                rustls::Error::InvalidCertificate(CertificateError::BadSignature)
            ),
            "unexpected error {e:?}"
        );
        assert!(s.is_handshaking(), "the server never completed");
        // Our own constructors check the pair.
        let bad = Identity {
            cert_der: a.cert_der.clone(),
            key_der: b.key_der.clone(),
        };
        let e = client_config(station.fingerprint(), Some(&bad)).unwrap_err();
        assert!(matches!(e, NetError::Tls { .. }), "{e}");
        let e = server_config(&bad).unwrap_err();
        assert!(e.to_string().contains("does not belong"), "{e}");
    }

    /// The extensions of the ClientHello in `record` (one TLS record), by type.
    fn client_hello_extensions(record: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let be16 = |b: &[u8], at: usize| usize::from(u16::from_be_bytes([b[at], b[at + 1]]));
        assert_eq!(record[0], 22, "a handshake record");
        let hs = &record[5..];
        assert_eq!(hs[0], 1, "a ClientHello");
        let body = &hs[4..];
        let mut at = 2 + 32; // legacy version, random
        at += 1 + usize::from(body[at]); // session id
        at += 2 + be16(body, at); // cipher suites
        at += 1 + usize::from(body[at]); // compression methods
        let end = at + 2 + be16(body, at);
        at += 2;
        let mut out = Vec::new();
        while at < end {
            let ty = u16::from_be_bytes([body[at], body[at + 1]]);
            let len = be16(body, at + 2);
            out.push((ty, body[at + 4..at + 4 + len].to_vec()));
            at += 4 + len;
        }
        out
    }

    /// A minimal TLS 1.2 ClientHello (no `supported_versions` extension), ECDHE-ECDSA with
    /// AES-128-GCM, P-256 and ECDSA-SHA256 signatures.
    fn tls12_client_hello() -> Vec<u8> {
        let mut ext = Vec::new();
        ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17]); // groups
        ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]); // point formats
        ext.extend_from_slice(&[0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03]); // sig algs
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7u8; 32]);
        body.push(0); // session id
        body.extend_from_slice(&[0x00, 0x02, 0xc0, 0x2b]);
        body.extend_from_slice(&[0x01, 0x00]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        let mut rec = vec![22, 0x03, 0x01];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    /// Both configurations speak TLS 1.3 only (rustls is built without TLS 1.2, so no
    /// TLS 1.2 peer can be configured: the wire is checked instead). Our client offers
    /// exactly TLS 1.3 in `supported_versions`, and only TLS 1.3 suites; our server
    /// refuses a TLS 1.2 ClientHello, while the same server accepts our own hello.
    #[test]
    fn https_configs_are_tls13_only() {
        let station = Identity::generate("station").unwrap();
        let researcher = Identity::generate("researcher").unwrap();
        for id in [None, Some(&researcher)] {
            let config = client_config(station.fingerprint(), id).unwrap();
            let name = ServerName::try_from(SERVER_NAME).unwrap();
            let mut c = ClientConnection::new(config, name).unwrap();
            let mut hello = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut hello).unwrap();
            }
            let exts = client_hello_extensions(&hello);
            let versions: Vec<&Vec<u8>> = exts
                .iter()
                .filter(|(t, _)| *t == 0x002b)
                .map(|(_, d)| d)
                .collect();
            assert_eq!(versions, [&vec![2, 0x03, 0x04]], "only TLS 1.3 offered");
            // The session-ticket extension (TLS 1.2 resumption) is absent too.
            assert!(exts.iter().all(|(t, _)| *t != 0x0023));
        }

        let server = server_config(&station).unwrap();
        let mut s = ServerConnection::new(server.clone()).unwrap();
        let hello = tls12_client_hello();
        let mut rd = &hello[..];
        s.read_tls(&mut rd).unwrap();
        let e = s.process_new_packets().unwrap_err();
        assert!(
            matches!(e, rustls::Error::PeerIncompatible(_)),
            "unexpected error {e:?}"
        );
        // The same server completes a handshake with our client, in TLS 1.3.
        let (_, s, r) = pair(client_config(station.fingerprint(), None).unwrap(), server);
        r.unwrap();
        assert_eq!(s.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    }
}
