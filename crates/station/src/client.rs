//! A blocking HTTPS client for station APIs: the CLI's and other stations' side.
//!
//! Each request opens one TCP connection, does a TLS 1.3 handshake that accepts the station
//! only if its certificate has the pinned fingerprint (and presents our own certificate if
//! we have an identity; see [`tessera_net::https`]), sends one HTTP/1.1 request with
//! `Connection: close`, and reads one answer: its body delimited by `Content-Length`, by
//! chunked transfer coding, or by the end of the connection. Connecting, each read and each
//! write time out after the client's timeout; an answer body longer than [`MAX_BODY`] is an
//! error. Once an answer delimited by length or chunks is complete, the connection is
//! simply dropped, so a server that closes without a TLS `close_notify` is fine; an answer
//! delimited by the end of the connection needs the `close_notify`, since without it a
//! truncation could not be told from the end.
//!
//! # Cost
//!
//! One TCP connection and one full TLS handshake (one round trip, a few kilobytes) per
//! request, then the request and the answer.
//!
//! LEAKAGE: nothing is opened here; errors name the address and the fingerprints, never a
//! body.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use tessera_net::https::{self, SERVER_NAME};
use tessera_net::identity::{fingerprint_hex, Fingerprint, Identity};

/// The longest answer body the client accepts (64 MiB).
pub const MAX_BODY: usize = 64 << 20;

/// The longest status line and headers of an answer, together.
const MAX_HEAD: usize = 64 << 10;

/// Headers the client writes itself; a caller may not set them.
const OWN_HEADERS: [&str; 4] = ["host", "content-length", "connection", "transfer-encoding"];

/// A station's answer to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// Every header as received (name, value), in order.
    pub headers: Vec<(String, String)>,
    /// The body, transfer coding removed.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON, or as a JSON string holding its text if it is not JSON (so error
    /// answers in plain text can be shown the same way).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| serde_json::Value::String(self.text()))
    }

    /// The first header called `name` (any case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a request got no answer. Every message names the station's address.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The address is not `host:port`.
    #[error("invalid station address {addr:?}: {why}")]
    Address { addr: String, why: String },
    /// Our TLS configuration could not be built (an unusable identity, a zero timeout).
    #[error("cannot set up a client for {addr}: {detail}")]
    Config { addr: String, detail: String },
    /// The request itself is invalid (a method, path or header that HTTP cannot carry).
    #[error("invalid request to {addr}: {why}")]
    Request { addr: String, why: String },
    /// No TCP connection could be made (or the name did not resolve).
    #[error("could not connect to {addr}: {detail}")]
    Connect { addr: String, detail: String },
    /// The server's certificate is not the pinned one: it is not the station we meant.
    #[error(
        "refused {addr}: its certificate fingerprint did not match the pinned one (expected sha256:{}, found sha256:{})",
        fingerprint_hex(.expected),
        fingerprint_hex(.found)
    )]
    PinMismatch {
        addr: String,
        expected: Fingerprint,
        found: Fingerprint,
    },
    /// The TLS handshake or the TLS records failed otherwise.
    #[error("TLS with {addr} failed: {detail}")]
    Tls { addr: String, detail: String },
    /// Connecting, a read or a write took longer than the timeout.
    #[error("{addr} did not answer within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    /// The connection failed or closed before the answer was complete.
    #[error("connection to {addr} failed: {detail}")]
    Io { addr: String, detail: String },
    /// The answer is not valid HTTP/1.1.
    #[error("{addr} sent an invalid HTTP answer: {detail}")]
    Malformed { addr: String, detail: String },
    /// The answer's body is longer than [`MAX_BODY`].
    #[error("the answer from {addr} is larger than {limit} bytes")]
    TooLarge { addr: String, limit: usize },
}

/// A client of one station's HTTPS API, pinned to its certificate.
pub struct Client {
    addr: String,
    config: Arc<ClientConfig>,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.addr)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the station at `addr` ("host:port"; a leading "https://" and trailing
    /// "/" are accepted and stripped) whose certificate has fingerprint `pin`, presenting
    /// `identity`'s certificate if given; `timeout` bounds connecting and each read and
    /// write. Nothing is connected yet.
    pub fn new(
        addr: &str,
        pin: Fingerprint,
        identity: Option<&Identity>,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        let addr = normalise(addr)?;
        let config_err = |detail: String| ClientError::Config {
            addr: addr.clone(),
            detail,
        };
        if timeout.is_zero() {
            return Err(config_err("the timeout must be longer than zero".into()));
        }
        let config = https::client_config(pin, identity).map_err(|e| config_err(e.to_string()))?;
        Ok(Client {
            addr,
            config,
            timeout,
        })
    }

    /// The station's address, as "host:port".
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends `method path` with `headers` and `body` (with `Content-Length`, even when
    /// empty) on a new connection and returns the answer, whatever its status.
    ///
    /// `Host`, `Content-Length`, `Connection` and `Transfer-Encoding` are set by the client
    /// and refused in `headers`.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer, ClientError> {
        let head = self.head(method, path, headers, body.len())?;
        let mut stream = self.connect()?;
        let sent = stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .and_then(|()| stream.flush());
        let mut reader = BufReader::with_capacity(16 << 10, stream);
        let answer = self.read_answer(&mut reader, method.eq_ignore_ascii_case("HEAD"));
        match (sent, answer) {
            (_, Ok(answer)) => Ok(answer),
            // A server may answer early and close (e.g. refusing a large body); if it did
            // not, the write error is what went wrong first.
            (Err(e), Err(_)) => Err(self.io_error(e)),
            (Ok(()), Err(e)) => Err(e),
        }
    }

    /// The request line and headers.
    fn head(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        len: usize,
    ) -> Result<String, ClientError> {
        let bad = |why: String| ClientError::Request {
            addr: self.addr.clone(),
            why,
        };
        if method.is_empty() || !method.bytes().all(is_token_byte) {
            return Err(bad(format!("{method:?} is not an HTTP method")));
        }
        if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(format!(
                "{path:?} is not a path (it must start with '/' and have no spaces or control characters)"
            )));
        }
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {len}\r\n",
            self.addr
        );
        for (name, value) in headers {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(bad(format!("{name:?} is not a header name")));
            }
            if OWN_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
                return Err(bad(format!("the header {name} is set by the client")));
            }
            if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
                return Err(bad(format!(
                    "the value of header {name} has control characters"
                )));
            }
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        Ok(head)
    }

    /// A TCP connection with its TLS handshake done.
    fn connect(&self) -> Result<StreamOwned<ClientConnection, TcpStream>, ClientError> {
        let conn_err = |detail: String| ClientError::Connect {
            addr: self.addr.clone(),
            detail,
        };
        let targets: Vec<SocketAddr> = self
            .addr
            .to_socket_addrs()
            .map_err(|e| conn_err(format!("cannot resolve the name: {e}")))?
            .collect();
        let mut last = None;
        let mut tcp = None;
        for target in &targets {
            match TcpStream::connect_timeout(target, self.timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let Some(tcp) = tcp else {
            return Err(match last {
                Some(e) if is_timeout(&e) => self.timeout_error(),
                Some(e) => conn_err(e.to_string()),
                None => conn_err("the name resolved to no address".into()),
            });
        };
        let setup = tcp
            .set_read_timeout(Some(self.timeout))
            .and_then(|()| tcp.set_write_timeout(Some(self.timeout)))
            .and_then(|()| tcp.set_nodelay(true));
        setup.map_err(|e| conn_err(e.to_string()))?;
        let name = ServerName::try_from(SERVER_NAME).map_err(|e| ClientError::Config {
            addr: self.addr.clone(),
            detail: e.to_string(),
        })?;
        let conn = ClientConnection::new(Arc::clone(&self.config), name).map_err(|e| {
            ClientError::Tls {
                addr: self.addr.clone(),
                detail: e.to_string(),
            }
        })?;
        let mut stream = StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            if let Err(e) = stream.conn.complete_io(&mut stream.sock) {
                return Err(match e.kind() {
                    io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
                        if rustls_error(&e).is_none() =>
                    {
                        ClientError::Tls {
                            addr: self.addr.clone(),
                            detail: format!(
                                "the connection closed during the TLS handshake (does it speak HTTPS?): {e}"
                            ),
                        }
                    }
                    _ => self.io_error(e),
                });
            }
        }
        Ok(stream)
    }

    /// Reads one answer (after any 1xx interim answers).
    fn read_answer(&self, r: &mut impl BufRead, head_request: bool) -> Result<Answer, ClientError> {
        let mut budget = MAX_HEAD;
        let (status, headers) = loop {
            let (status, headers) = self.read_head(r, &mut budget)?;
            match status {
                101 => return Err(self.malformed("101 Switching Protocols is not supported")),
                100..=199 => continue,
                _ => break (status, headers),
            }
        };
        let header = |name: &str| -> Vec<&str> {
            headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let content_type = header("content-type").first().map(|v| v.to_string());
        let chunked = header("transfer-encoding")
            .last()
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        let lengths = header("content-length");
        let body = if head_request || status == 204 || status == 304 {
            Vec::new()
        } else if chunked {
            self.read_chunked(r)?
        } else if let Some(first) = lengths.first() {
            if lengths.iter().any(|l| l.trim() != first.trim()) {
                return Err(self.malformed("conflicting Content-Length headers"));
            }
            let len: u64 = first.trim().parse().map_err(|_| {
                self.malformed(&format!("Content-Length {first:?} is not a number"))
            })?;
            self.read_exact_body(r, len)?
        } else {
            self.read_to_close(r)?
        };
        Ok(Answer {
            status,
            content_type,
            headers,
            body,
        })
    }

    /// The status line and the headers (names as sent).
    fn read_head(
        &self,
        r: &mut impl BufRead,
        budget: &mut usize,
    ) -> Result<(u16, Vec<(String, String)>), ClientError> {
        let line = self.read_line(r, budget)?;
        let mut parts = line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if !version.starts_with("HTTP/1.") {
            return Err(self.malformed("the answer does not start with an HTTP/1.x status line"));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .filter(|s| (100..=999).contains(s))
            .ok_or_else(|| self.malformed("the status line has no valid status code"))?;
        let mut headers = Vec::new();
        loop {
            let line = self.read_line(r, budget)?;
            if line.is_empty() {
                return Ok((status, headers));
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| self.malformed("a header line without ':'"))?;
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }

    /// One line of the head or of chunk framing, without its line end; `budget` is what is
    /// left of [`MAX_HEAD`].
    fn read_line(&self, r: &mut impl BufRead, budget: &mut usize) -> Result<String, ClientError> {
        let mut line = Vec::new();
        let limit = (*budget as u64).saturating_add(1);
        let n = r
            .take(limit)
            .read_until(b'\n', &mut line)
            .map_err(|e| self.io_error(e))?;
        if n == 0 {
            return Err(self.io_error(io::ErrorKind::UnexpectedEof.into()));
        }
        if line.last() != Some(&b'\n') {
            return Err(if n as u64 >= limit {
                self.malformed(&format!(
                    "the answer's head is longer than {MAX_HEAD} bytes"
                ))
            } else {
                self.io_error(io::ErrorKind::UnexpectedEof.into())
            });
        }
        *budget -= n;
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        String::from_utf8(line).map_err(|_| self.malformed("a header line is not UTF-8"))
    }

    /// Exactly `len` bytes of body.
    fn read_exact_body(&self, r: &mut impl Read, len: u64) -> Result<Vec<u8>, ClientError> {
        if len > MAX_BODY as u64 {
            return Err(self.too_large());
        }
        let mut body = Vec::with_capacity((len as usize).min(1 << 20));
        let n = r
            .take(len)
            .read_to_end(&mut body)
            .map_err(|e| self.io_error(e))?;
        if (n as u64) < len {
            return Err(self.io_error(io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(body)
    }

    /// A chunked body (chunk extensions and trailers are read and ignored).
    fn read_chunked(&self, r: &mut impl BufRead) -> Result<Vec<u8>, ClientError> {
        let mut body = Vec::new();
        loop {
            let mut budget = MAX_HEAD;
            let line = self.read_line(r, &mut budget)?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = u64::from_str_radix(size, 16)
                .map_err(|_| self.malformed(&format!("chunk size {size:?} is not hexadecimal")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.read_line(r, &mut budget)?.is_empty() {}
                return Ok(body);
            }
            if body.len() as u64 + size > MAX_BODY as u64 {
                return Err(self.too_large());
            }
            let chunk = self.read_exact_body(r, size)?;
            body.extend_from_slice(&chunk);
            if !self.read_line(r, &mut budget)?.is_empty() {
                return Err(self.malformed("a chunk is longer than its size"));
            }
        }
    }

    /// A body delimited by the end of the connection, which must end with `close_notify`.
    fn read_to_close(&self, r: &mut impl Read) -> Result<Vec<u8>, ClientError> {
        let mut body = Vec::new();
        r.take(MAX_BODY as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    ClientError::Io {
                        addr: self.addr.clone(),
                        detail: "the connection ended without a TLS close_notify, so the answer may be truncated".into(),
                    }
                } else {
                    self.io_error(e)
                }
            })?;
        if body.len() > MAX_BODY {
            return Err(self.too_large());
        }
        Ok(body)
    }

    fn io_error(&self, e: io::Error) -> ClientError {
        let addr = self.addr.clone();
        if let Some(tls) = rustls_error(&e) {
            if let Some(m) = https::pin_mismatch(tls) {
                return ClientError::PinMismatch {
                    addr,
                    expected: m.expected,
                    found: m.found,
                };
            }
            let detail = match tls {
                rustls::Error::AlertReceived(alert) => {
                    format!("the station refused the TLS handshake (alert {alert:?})")
                }
                other => other.to_string(),
            };
            return ClientError::Tls { addr, detail };
        }
        if is_timeout(&e) {
            return self.timeout_error();
        }
        let detail = match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                "the connection closed before the answer was complete".into()
            }
            _ => e.to_string(),
        };
        ClientError::Io { addr, detail }
    }

    fn timeout_error(&self) -> ClientError {
        ClientError::Timeout {
            addr: self.addr.clone(),
            timeout: self.timeout,
        }
    }

    fn malformed(&self, detail: &str) -> ClientError {
        ClientError::Malformed {
            addr: self.addr.clone(),
            detail: detail.to_string(),
        }
    }

    fn too_large(&self) -> ClientError {
        ClientError::TooLarge {
            addr: self.addr.clone(),
            limit: MAX_BODY,
        }
    }
}

/// `addr` without a leading "https://" or trailing "/", checked to be "host:port".
fn normalise(addr: &str) -> Result<String, ClientError> {
    let bad = |why: &str| ClientError::Address {
        addr: addr.to_string(),
        why: why.to_string(),
    };
    let mut a = addr.trim();
    if let Some(rest) = a.strip_prefix("https://") {
        a = rest;
    } else if a.contains("://") {
        return Err(bad("only https:// is spoken"));
    }
    let a = a.strip_suffix('/').unwrap_or(a);
    let (host, port) = a
        .rsplit_once(':')
        .ok_or_else(|| bad("expected host:port"))?;
    if host.is_empty() || host.contains('/') || a.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err(bad("expected host:port"));
    }
    if port.parse::<u16>().is_err() {
        return Err(bad("the port is not a number from 0 to 65535"));
    }
    Ok(a.to_string())
}

/// The rustls error an I/O error carries, if any.
fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// A byte allowed in an HTTP token (method, header name).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalised_and_checked() {
        assert_eq!(
            normalise("https://example.org:8443/").unwrap(),
            "example.org:8443"
        );
        assert_eq!(normalise("127.0.0.1:1").unwrap(), "127.0.0.1:1");
        assert_eq!(normalise("[::1]:443").unwrap(), "[::1]:443");
        for bad in ["http://a:1", "a", "a:b", ":1", "a:1/x", "a b:1", "a:70000"] {
            let e = normalise(bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn answers_are_parsed() {
        let id = Identity::generate("s").unwrap();
        let c = Client::new("x:1", id.fingerprint(), None, Duration::from_secs(1)).unwrap();
        let parse = |raw: &[u8], head: bool| c.read_answer(&mut &raw[..], head);
        let a = parse(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-type: application/json\r\nContent-Length: 8\r\n\r\n{\"a\":1}\nEXTRA",
            false,
        )
        .unwrap();
        assert_eq!(a.status, 201);
        assert_eq!(a.content_type.as_deref(), Some("application/json"));
        assert_eq!(a.json(), serde_json::json!({"a": 1}));
        let a = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(a.text(), "abc0123456789");
        assert_eq!(a.json(), serde_json::Value::String("abc0123456789".into()));
        let a = parse(
            b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
            false,
        )
        .unwrap();
        assert!(a.body.is_empty());
        let a = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true).unwrap();
        assert!(a.body.is_empty());
        // Close-delimited from a plain reader (EOF is clean there).
        let a = parse(b"HTTP/1.0 200 OK\r\n\r\nall of it", false).unwrap();
        assert_eq!(a.text(), "all of it");

        let e = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", false).unwrap_err();
        assert!(matches!(e, ClientError::Io { .. }), "{e}");
        let e = parse(b"SSH-2.0-x\r\n\r\n", false).unwrap_err();
        assert!(matches!(e, ClientError::Malformed { .. }), "{e}");
        let e = parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("conflicting"), "{e}");
        let big = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        let e = parse(big.as_bytes(), false).unwrap_err();
        assert!(matches!(e, ClientError::TooLarge { .. }), "{e}");
        let big = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
            MAX_BODY + 1
        );
        let e = parse(big.as_bytes(), false).unwrap_err();
        assert!(matches!(e, ClientError::TooLarge { .. }), "{e}");
        let e = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            false,
        )
        .unwrap_err();
        assert!(matches!(e, ClientError::Malformed { .. }), "{e}");
        let long = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        let e = parse(long.as_bytes(), false).unwrap_err();
        assert!(e.to_string().contains("head is longer"), "{e}");
    }

    #[test]
    fn bad_requests_are_refused_before_connecting() {
        let id = Identity::generate("s").unwrap();
        // Port 9 on a reserved address: never reached, the request is refused first.
        let c = Client::new(
            "192.0.2.1:9",
            id.fingerprint(),
            Some(&id),
            Duration::from_secs(1),
        )
        .unwrap();
        for (m, p, h) in [
            ("GE T", "/", vec![]),
            ("GET", "studies", vec![]),
            ("GET", "/a b", vec![]),
            ("GET", "/", vec![("Content-Length", "3")]),
            ("GET", "/", vec![("X-A", "1\r\nX-B: 2")]),
            ("GET", "/", vec![("X A", "1")]),
        ] {
            let e = c.request(m, p, &h, b"").unwrap_err();
            assert!(matches!(e, ClientError::Request { .. }), "{e}");
            assert!(e.to_string().contains("192.0.2.1:9"), "{e}");
        }
        let e = Client::new("a:1", id.fingerprint(), None, Duration::ZERO).unwrap_err();
        assert!(matches!(e, ClientError::Config { .. }), "{e}");
    }
}
