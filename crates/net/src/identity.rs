//! Station identities: a private key and a self-signed certificate, and the certificate's
//! SHA-256 fingerprint by which other stations recognise it.
//!
//! tessera does not use certificate authorities. Each station makes its own key pair once
//! (`tessera init`), keeps the private key in its own folder, and hands out only the
//! fingerprint of its certificate; a study lists, for each party index, the fingerprint of the
//! station that plays it, and the TLS transport ([`crate::tls`]) accepts exactly those
//! certificates in exactly those slots. The certificate's validity dates and names are
//! therefore not used for trust (they are set so that ordinary X.509 tools can read the file);
//! to revoke a station, remove its fingerprint from the studies.
//!
//! All cryptography of identities (key generation, fingerprints, checking that a key belongs
//! to a certificate) lives here, away from the code that moves bytes.
//!
//! Files written by [`Identity::save`]: `station.key` (PKCS#8 private key, PEM, created with
//! mode 0600 so it is never readable by others, not even for a moment) and `station.crt`
//! (X.509 certificate, PEM). An existing identity is never overwritten.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Name of the private key file in a station folder.
pub const KEY_FILE: &str = "station.key";

/// Name of the certificate file in a station folder.
pub const CERT_FILE: &str = "station.crt";

/// Length of a fingerprint in bytes (SHA-256).
pub const FINGERPRINT_LEN: usize = 32;

/// The SHA-256 digest of a certificate's DER encoding: what stations list to trust each other.
pub type Fingerprint = [u8; FINGERPRINT_LEN];

/// Longest station name accepted (the X.509 limit for a common name).
const MAX_NAME_LEN: usize = 64;

/// What went wrong with an identity; every variant names the station, file or text concerned.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The station name cannot go into a certificate.
    #[error("invalid station name {name:?}: {why}")]
    InvalidName { name: String, why: String },
    /// Key or certificate generation failed.
    #[error("cannot generate an identity for {name:?}: {detail}")]
    Generate { name: String, detail: String },
    /// A file of an identity exists already; identities are never overwritten.
    #[error("{} already exists: refusing to overwrite a station identity (remove it first if you really mean to replace it)", path.display())]
    Exists { path: PathBuf },
    /// Reading or writing a file failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
    /// A file does not hold what it should.
    #[error("{}: {detail}", path.display())]
    Invalid { path: PathBuf, detail: String },
    /// A private key file that other users could read is refused, as ssh does.
    #[error("{} is accessible by other users (mode {mode:04o}): run `chmod 600` on it", path.display())]
    KeyPermissions { path: PathBuf, mode: u32 },
    /// Text that is not a fingerprint.
    #[error("invalid fingerprint {text:?}: {why}")]
    Fingerprint { text: String, why: String },
}

/// A station's certificate and private key, in DER.
#[derive(Clone)]
pub struct Identity {
    /// The X.509 certificate (DER), as sent to peers in the TLS handshake.
    pub cert_der: Vec<u8>,
    /// The private key (PKCS#8 DER). Never leaves the station.
    pub key_der: Vec<u8>,
}

impl fmt::Debug for Identity {
    /// Shows the fingerprint, never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("fingerprint", &fingerprint_hex(&self.fingerprint()))
            .finish_non_exhaustive()
    }
}

impl Drop for Identity {
    /// Overwrites the private key in memory, so it does not linger in freed heap pages.
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key_der);
    }
}

/// Where [`Identity::save`] put the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedIdentity {
    /// The private key file (mode 0600).
    pub key: PathBuf,
    /// The certificate file.
    pub cert: PathBuf,
}

impl Identity {
    /// Makes a new identity for the station called `name`: an ECDSA P-256 key pair and a
    /// self-signed certificate whose subject common name is `name`.
    ///
    /// P-256 rather than Ed25519 because every TLS 1.3 implementation supports it, so a
    /// station could one day talk to a peer that does not run rustls.
    pub fn generate(name: &str) -> Result<Identity, IdentityError> {
        check_name(name)?;
        let gen_err = |e: rcgen::Error| IdentityError::Generate {
            name: name.to_string(),
            detail: e.to_string(),
        };
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(gen_err)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationalUnitName, "tessera station");
        let cert = params.self_signed(&key).map_err(gen_err)?;
        Ok(Identity {
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        })
    }

    /// The fingerprint of this identity's certificate.
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint(&self.cert_der)
    }

    /// Writes the identity into `dir` (created if missing, mode 0700): [`KEY_FILE`] with mode
    /// 0600 from its creation, and [`CERT_FILE`]. Refuses, before writing anything, when
    /// either file exists already.
    pub fn save(&self, dir: &Path) -> Result<SavedIdentity, IdentityError> {
        let key_path = dir.join(KEY_FILE);
        let cert_path = dir.join(CERT_FILE);
        create_dir(dir)?;
        for path in [&key_path, &cert_path] {
            if path.symlink_metadata().is_ok() {
                return Err(IdentityError::Exists { path: path.clone() });
            }
        }
        let key_pem = zeroize::Zeroizing::new(pem_encode("PRIVATE KEY", &self.key_der));
        write_new(&key_path, key_pem.as_bytes(), 0o600)?;
        let cert_pem = pem_encode("CERTIFICATE", &self.cert_der);
        if let Err(e) = write_new(&cert_path, cert_pem.as_bytes(), 0o644) {
            // Leave no half identity behind.
            let _ = fs::remove_file(&key_path);
            return Err(e);
        }
        Ok(SavedIdentity {
            key: key_path,
            cert: cert_path,
        })
    }

    /// Reads the identity that [`Identity::save`] wrote into `dir`, and checks that the key
    /// belongs to the certificate. A key file readable by other users is refused.
    pub fn load(dir: &Path) -> Result<Identity, IdentityError> {
        Identity::load_files(&dir.join(KEY_FILE), &dir.join(CERT_FILE))
    }

    /// Reads an identity from its private key file (PKCS#8 PEM, not readable by other
    /// users) and certificate file (PEM), wherever a station's configuration puts them, and
    /// checks that the key belongs to the certificate.
    pub fn load_files(key_path: &Path, cert_path: &Path) -> Result<Identity, IdentityError> {
        let (key_path, cert_path) = (key_path.to_path_buf(), cert_path.to_path_buf());
        let cert_der = load_certificate(&cert_path)?;
        let key_bytes = read_key_file(&key_path)?;
        let key =
            PrivatePkcs8KeyDer::from_pem_slice(&key_bytes).map_err(|e| IdentityError::Invalid {
                path: key_path.clone(),
                detail: format!("no PKCS#8 private key (PEM \"PRIVATE KEY\") found: {e}"),
            })?;
        let identity = Identity {
            cert_der,
            key_der: key.secret_pkcs8_der().to_vec(),
        };
        identity
            .check_pair()
            .map_err(|detail| IdentityError::Invalid {
                path: key_path,
                detail: format!("{detail} (certificate {})", cert_path.display()),
            })?;
        Ok(identity)
    }

    /// Checks that the private key is usable and belongs to the certificate.
    pub fn check_pair(&self) -> Result<(), String> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let signer = rustls::crypto::ring::sign::any_supported_type(&key)
            .map_err(|e| format!("unusable private key: {e}"))?;
        let cert = CertificateDer::from(self.cert_der.clone());
        rustls::sign::CertifiedKey::new(vec![cert], signer)
            .keys_match()
            .map_err(|e| format!("the private key does not belong to the certificate: {e}"))
    }
}

/// A signature by a station's private key: the scheme's name and the signature bytes.
///
/// Stations sign statements that others keep for them (the head of their audit log, kept by
/// their peers): whoever holds the statement can check it against the station's certificate,
/// and no one else could have made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The scheme: `ecdsa-p256-sha256` (the keys `tessera init` makes), `ecdsa-p384-sha384`
    /// or `ed25519`.
    pub scheme: String,
    /// The signature (ASN.1 DER for ECDSA).
    pub bytes: Vec<u8>,
}

/// The schemes a station may sign with: the TLS name, the name written in a [`Signature`],
/// and how it is verified.
const SIGNATURE_SCHEMES: [(
    rustls::SignatureScheme,
    &str,
    &dyn rustls::pki_types::SignatureVerificationAlgorithm,
); 3] = [
    (
        rustls::SignatureScheme::ECDSA_NISTP256_SHA256,
        "ecdsa-p256-sha256",
        webpki::ring::ECDSA_P256_SHA256,
    ),
    (
        rustls::SignatureScheme::ECDSA_NISTP384_SHA384,
        "ecdsa-p384-sha384",
        webpki::ring::ECDSA_P384_SHA384,
    ),
    (
        rustls::SignatureScheme::ED25519,
        "ed25519",
        webpki::ring::ED25519,
    ),
];

impl Identity {
    /// Signs `msg` with the station's private key. The message must say what it is (a
    /// domain-separation prefix of its own), so that a signature made for one purpose can
    /// never be taken for another.
    pub fn sign(&self, msg: &[u8]) -> Result<Signature, String> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let key = rustls::crypto::ring::sign::any_supported_type(&key)
            .map_err(|e| format!("unusable private key: {e}"))?;
        let schemes: Vec<rustls::SignatureScheme> =
            SIGNATURE_SCHEMES.iter().map(|(s, _, _)| *s).collect();
        let signer = key
            .choose_scheme(&schemes)
            .ok_or("the private key signs with none of the supported schemes")?;
        let scheme = signer.scheme();
        let bytes = signer.sign(msg).map_err(|e| format!("cannot sign: {e}"))?;
        let name = SIGNATURE_SCHEMES
            .iter()
            .find(|(s, _, _)| *s == scheme)
            .map(|(_, n, _)| n.to_string())
            .ok_or("the private key chose a scheme that was not offered")?;
        Ok(Signature {
            scheme: name,
            bytes,
        })
    }
}

/// Checks that `signature` over `msg` was made by the private key of the certificate
/// `cert_der` (DER). The certificate is not checked otherwise: trust comes from its
/// fingerprint, which the caller compares with the one it pins.
pub fn verify_signature(cert_der: &[u8], msg: &[u8], signature: &Signature) -> Result<(), String> {
    let alg = SIGNATURE_SCHEMES
        .iter()
        .find(|(_, n, _)| *n == signature.scheme)
        .map(|(_, _, a)| *a)
        .ok_or_else(|| format!("unknown signature scheme {:?}", signature.scheme))?;
    let cert = CertificateDer::from(cert_der);
    let cert =
        webpki::EndEntityCert::try_from(&cert).map_err(|e| format!("not a certificate: {e}"))?;
    cert.verify_signature(alg, msg, &signature.bytes)
        .map_err(|_| "the signature does not verify against the certificate".to_string())
}

/// Reads a PEM certificate file (the first certificate in it) and returns its DER encoding.
pub fn load_certificate(path: &Path) -> Result<Vec<u8>, IdentityError> {
    let bytes = fs::read(path).map_err(|source| IdentityError::Io {
        path: path.to_path_buf(),
        action: "read",
        source,
    })?;
    let cert = CertificateDer::from_pem_slice(&bytes).map_err(|e| IdentityError::Invalid {
        path: path.to_path_buf(),
        detail: format!("no PEM certificate found: {e}"),
    })?;
    Ok(cert.to_vec())
}

/// The SHA-256 fingerprint of a DER-encoded certificate.
pub fn fingerprint(cert_der: &[u8]) -> Fingerprint {
    let d = ring::digest::digest(&ring::digest::SHA256, cert_der);
    d.as_ref().try_into().expect("SHA-256 digests are 32 bytes")
}

/// A fingerprint as 64 lowercase hex digits, the form `tessera init` prints.
pub fn fingerprint_hex(fp: &Fingerprint) -> String {
    fp.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a fingerprint written as 64 hex digits, either plain or as 32 colon-separated pairs
/// (the form `openssl x509 -fingerprint -sha256` prints), with or without the `sha256:`
/// prefix tessera prints; case and surrounding whitespace do not matter.
pub fn parse_fingerprint(text: &str) -> Result<Fingerprint, IdentityError> {
    let bad = |why: &str| IdentityError::Fingerprint {
        text: text.to_string(),
        why: why.to_string(),
    };
    let t = text.trim();
    // The form tessera prints (`sha256:` and the digits) reads back everywhere.
    let t = match t.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("sha256:") => &t[7..],
        _ => t,
    };
    let digits: String = if t.contains(':') {
        let pairs: Vec<&str> = t.split(':').collect();
        if pairs.len() != FINGERPRINT_LEN || pairs.iter().any(|p| p.len() != 2) {
            return Err(bad("expected 32 colon-separated pairs of hex digits"));
        }
        pairs.concat()
    } else {
        t.to_string()
    };
    if digits.len() != 2 * FINGERPRINT_LEN {
        return Err(bad(&format!(
            "expected 64 hex digits (SHA-256), found {} characters",
            digits.len()
        )));
    }
    let mut fp = [0u8; FINGERPRINT_LEN];
    for (i, b) in fp.iter_mut().enumerate() {
        *b = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16)
            .map_err(|_| bad("not a hexadecimal number"))?;
    }
    Ok(fp)
}

fn check_name(name: &str) -> Result<(), IdentityError> {
    let bad = |why: &str| IdentityError::InvalidName {
        name: name.to_string(),
        why: why.to_string(),
    };
    if name.trim().is_empty() {
        return Err(bad("it is empty"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(bad(&format!("longer than {MAX_NAME_LEN} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("it contains control characters"));
    }
    Ok(())
}

/// PEM armour (base64 in 64-character lines between BEGIN and END markers, `\n` line ends).
fn pem_encode(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der), config)
}

fn create_dir(dir: &Path) -> Result<(), IdentityError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| IdentityError::Io {
        path: dir.to_path_buf(),
        action: "create the folder",
        source,
    })
}

/// Creates `path` (it must not exist) with permissions `mode` from the start, writes `bytes`
/// and syncs it to disk.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), IdentityError> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = opts.open(path).map_err(|source| {
        if source.kind() == io::ErrorKind::AlreadyExists {
            IdentityError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            IdentityError::Io {
                path: path.to_path_buf(),
                action: "create",
                source,
            }
        }
    })?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    written.map_err(|source| {
        let _ = fs::remove_file(path);
        IdentityError::Io {
            path: path.to_path_buf(),
            action: "write",
            source,
        }
    })
}

/// Reads a private key file, refusing one that other users can read or write.
fn read_key_file(path: &Path) -> Result<Vec<u8>, IdentityError> {
    let io_err = |action, source| IdentityError::Io {
        path: path.to_path_buf(),
        action,
        source,
    };
    let mut file = File::open(path).map_err(|e| io_err("open", e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file
            .metadata()
            .map_err(|e| io_err("inspect", e))?
            .permissions()
            .mode()
            & 0o7777;
        if mode & 0o077 != 0 {
            return Err(IdentityError::KeyPermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| io_err("read", e))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, empty folder under the system's temporary folder.
    fn scratch_dir(tag: &str) -> PathBuf {
        let mut nonce = [0u8; 8];
        getrandom::getrandom(&mut nonce).unwrap();
        let dir = std::env::temp_dir().join(format!(
            "tessera-{tag}-{}-{}",
            std::process::id(),
            &fingerprint_hex(&fingerprint(&nonce))[..12]
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn fingerprint_is_sha256_and_parses_back() {
        // FIPS 180-2 test vector.
        let fp = fingerprint(b"abc");
        let hex = fingerprint_hex(&fp);
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(parse_fingerprint(&hex).unwrap(), fp);
        assert_eq!(parse_fingerprint(&hex.to_uppercase()).unwrap(), fp);
        let colons: Vec<String> = fp.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(parse_fingerprint(&colons.join(":")).unwrap(), fp);
        assert_eq!(parse_fingerprint(&format!("  {hex}\n")).unwrap(), fp);
        assert_eq!(parse_fingerprint(&format!("sha256:{hex}")).unwrap(), fp);
        assert_eq!(parse_fingerprint(&format!("SHA256:{hex}")).unwrap(), fp);
        for bad in [
            &format!("sha1:{hex}"),
            "sha256:",
            &hex[..62],
            "zz",
            &format!("{hex}00"),
            &colons[..31].join(":"),
        ] {
            assert!(parse_fingerprint(bad).is_err(), "{bad}");
        }
        let e = parse_fingerprint(&hex.replace('b', "g")).unwrap_err();
        assert!(e.to_string().contains("not a hexadecimal"), "{e}");
    }

    #[test]
    fn pem_encoding_round_trips() {
        for len in [0, 1, 2, 3, 47, 48, 49, 300] {
            let der: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let pem = pem_encode("CERTIFICATE", &der);
            assert!(pem.lines().all(|l| l.len() <= 64));
            let back = CertificateDer::from_pem_slice(pem.as_bytes());
            if len == 0 {
                continue;
            }
            assert_eq!(back.unwrap().to_vec(), der, "length {len}");
        }
    }

    #[test]
    fn generate_save_load() {
        let id = Identity::generate("Cancer Registry").unwrap();
        id.check_pair().unwrap();
        let dir = scratch_dir("identity");
        let saved = id.save(&dir).unwrap();
        assert_eq!(saved.key, dir.join(KEY_FILE));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&saved.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0);
        }
        let back = Identity::load(&dir).unwrap();
        assert_eq!(back.cert_der, id.cert_der);
        assert_eq!(back.key_der, id.key_der);
        assert_eq!(
            fingerprint(&load_certificate(&saved.cert).unwrap()),
            id.fingerprint()
        );
        assert!(format!("{id:?}").contains(&fingerprint_hex(&id.fingerprint())));

        // Never overwritten, whichever file exists.
        let other = Identity::generate("Other").unwrap();
        let e = other.save(&dir).unwrap_err();
        assert!(matches!(e, IdentityError::Exists { .. }), "{e}");
        assert!(e.to_string().contains(KEY_FILE), "{e}");
        fs::remove_file(&saved.key).unwrap();
        let e = other.save(&dir).unwrap_err();
        assert!(e.to_string().contains(CERT_FILE), "{e}");
        assert!(!saved.key.exists(), "nothing written on refusal");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_refuses_bad_files() {
        let a = Identity::generate("a").unwrap();
        let b = Identity::generate("b").unwrap();
        let (da, db) = (scratch_dir("id-a"), scratch_dir("id-b"));
        a.save(&da).unwrap();
        b.save(&db).unwrap();
        // A key that belongs to another certificate.
        fs::remove_file(da.join(CERT_FILE)).unwrap();
        fs::copy(db.join(CERT_FILE), da.join(CERT_FILE)).unwrap();
        let e = Identity::load(&da).unwrap_err();
        assert!(e.to_string().contains("does not belong"), "{e}");
        assert!(e.to_string().contains(KEY_FILE), "{e}");
        // A key others can read.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(db.join(KEY_FILE), fs::Permissions::from_mode(0o644)).unwrap();
            let e = Identity::load(&db).unwrap_err();
            assert!(
                matches!(e, IdentityError::KeyPermissions { mode: 0o644, .. }),
                "{e}"
            );
        }
        // Not PEM; missing.
        fs::write(db.join(CERT_FILE), b"hello").unwrap();
        let e = load_certificate(&db.join(CERT_FILE)).unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        let e = load_certificate(&db.join("nope.crt")).unwrap_err();
        assert!(e.to_string().contains("nope.crt"), "{e}");
        for d in [da, db] {
            fs::remove_dir_all(d).unwrap();
        }
    }

    #[test]
    fn signatures_verify_only_with_the_signers_certificate_and_message() {
        let a = Identity::generate("a").unwrap();
        let b = Identity::generate("b").unwrap();
        let sig = a.sign(b"tessera-test message").unwrap();
        assert_eq!(sig.scheme, "ecdsa-p256-sha256");
        verify_signature(&a.cert_der, b"tessera-test message", &sig).unwrap();
        assert!(verify_signature(&b.cert_der, b"tessera-test message", &sig).is_err());
        assert!(verify_signature(&a.cert_der, b"tessera-test massage", &sig).is_err());
        let mut bad = sig.clone();
        let last = bad.bytes.len() - 1;
        bad.bytes[last] ^= 1;
        assert!(verify_signature(&a.cert_der, b"tessera-test message", &bad).is_err());
        let other = Signature {
            scheme: "rsa".into(),
            ..sig.clone()
        };
        assert!(
            verify_signature(&a.cert_der, b"tessera-test message", &other)
                .unwrap_err()
                .contains("unknown signature scheme")
        );
        assert!(verify_signature(b"not a certificate", b"m", &sig).is_err());
    }

    #[test]
    fn names_are_checked() {
        assert!(Identity::generate("").is_err());
        assert!(Identity::generate("a\nb").is_err());
        assert!(Identity::generate(&"x".repeat(65)).is_err());
        assert!(Identity::generate("Hôpital Saint-Louis").is_ok());
    }
}
