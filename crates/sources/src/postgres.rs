//! PostgreSQL: one SQL statement written by the steward, run in a `READ ONLY` transaction
//! (then rolled back) on a current-thread tokio runtime. The statement is prepared first,
//! so the result's columns and their types are checked against the declarations before it
//! runs (`query result: column "age" has type text, declared numeric`); then each value is
//! decoded from the binary protocol and checked (`query result row 12: column "age": below
//! the declared min 0`). NULL is missing; NaN in `float`/`numeric` columns is missing.
//!
//! Types read: `bool`, `int2/4/8`, `float4/8`, `numeric`, `text`, `varchar`, `char(n)`
//! (trailing blanks removed, as PostgreSQL compares them), `name`, enum types (as text), and
//! `date` (as key columns, written `YYYY-MM-DD`).
//!
//! TLS: with [`PgTls`], the connection requires TLS 1.3 (rustls on the ring provider, no
//! OpenSSL) and verifies the server's certificate chain and host name against the CA
//! certificates in a PEM file. Channel binding is not offered (SCRAM works without it).
//!
//! Server messages are shown only for errors about the statement itself, connections and
//! permissions (SQLSTATE classes 08, 0A, 25, 28, 3D, 42); others (e.g. class 22, data
//! exceptions) may quote a value, so only their SQLSTATE is shown.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use tokio_postgres::types::{FromSql, Kind, Type};
use tokio_postgres::{Client, Config, NoTls, Row, Socket};

use crate::error::{malformed, open, Result, SourceError};
use crate::value::{self, accepts, Builder, Cell, SourceType};
use crate::{positions, table, typed, ColumnDecl, Table};

const PLACE: &str = "PostgreSQL";
const RESULT: &str = "query result";

/// TLS to a PostgreSQL server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgTls {
    /// PEM file of the CA certificate(s) the server's certificate must chain to.
    pub ca_file: PathBuf,
}

/// Reads the result of `query` (see [`crate::Source::Postgres`]).
pub(crate) fn read(
    url: &str,
    query: &str,
    tls: Option<&PgTls>,
    key_columns: &[String],
    columns: &[ColumnDecl],
) -> Result<Table> {
    let mut config: Config = url
        .parse()
        .map_err(|e| open(PLACE, format!("connection settings: {}", pg_error(&e))))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(30));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| open(PLACE, format!("cannot start the I/O runtime: {e}")))?;
    runtime.block_on(async {
        let client = match tls {
            None => {
                let (client, conn) = config.connect(NoTls).await.map_err(connect_error)?;
                tokio::spawn(conn);
                client
            }
            Some(tls) => {
                config.ssl_mode(SslMode::Require);
                let (client, conn) = config
                    .connect(make_tls(tls)?)
                    .await
                    .map_err(connect_error)?;
                tokio::spawn(conn);
                client
            }
        };
        run(&client, query, key_columns, columns).await
    })
}

fn connect_error(e: tokio_postgres::Error) -> SourceError {
    open(PLACE, format!("cannot connect: {}", pg_error(&e)))
}

/// Prepares, checks and runs the statement in a read-only transaction, and reads its rows.
async fn run(
    client: &Client,
    query: &str,
    key_columns: &[String],
    columns: &[ColumnDecl],
) -> Result<Table> {
    let refused = |e: tokio_postgres::Error| malformed("query", pg_error(&e));
    client
        .batch_execute("START TRANSACTION READ ONLY")
        .await
        .map_err(refused)?;
    let stmt = client.prepare(query).await.map_err(refused)?;
    let cols = stmt.columns();
    let (key_at, col_at) = positions(
        cols.iter().map(|c| c.name()),
        RESULT,
        RESULT,
        key_columns,
        columns,
    )?;
    for (i, name, kind) in typed(&key_at, key_columns, &col_at, columns) {
        let ty = cols[i].type_();
        if !classify(ty).is_some_and(|t| accepts(kind, &t)) {
            return Err(SourceError::Type {
                place: RESULT.into(),
                column: name.clone(),
                found: ty.name().to_string(),
                declared: kind.map_or("a key (text or integer)", |k| k.name()).into(),
            });
        }
    }
    let rows: Vec<Row> = client.query(&stmt, &[]).await.map_err(refused)?;
    // Nothing was written (the transaction is read-only); end it explicitly all the same.
    client.batch_execute("ROLLBACK").await.map_err(refused)?;

    let mut keys: Vec<Vec<Option<String>>> = vec![Vec::new(); key_columns.len()];
    let mut builders: Vec<Builder> = columns.iter().map(|c| Builder::new(&c.kind)).collect();
    for (r, row) in rows.iter().enumerate() {
        let bad = |name: &str, why: String| SourceError::Value {
            place: format!("{RESULT} row {}", r + 1),
            column: name.to_string(),
            why,
        };
        let get = |i: usize| -> std::result::Result<Option<PgValue>, String> {
            row.try_get(i)
                .map_err(|_| "cannot be decoded from the server's binary form".to_string())
        };
        for ((k, &i), name) in keys.iter_mut().zip(&key_at).zip(key_columns) {
            let v = get(i).and_then(|v| value::key(as_cell(&v)));
            k.push(v.map_err(|w| bad(name, w))?);
        }
        for ((b, &i), c) in builders.iter_mut().zip(&col_at).zip(columns) {
            let v = get(i).and_then(|v| b.push(as_cell(&v)));
            v.map_err(|w| bad(&c.name, w))?;
        }
    }
    table(keys, builders, columns, rows.len(), RESULT)
}

/// What a result column of type `ty` holds, or `None` if it is not read.
fn classify(ty: &Type) -> Option<SourceType> {
    if let Kind::Enum(_) = ty.kind() {
        return Some(SourceType::Text);
    }
    Some(match *ty {
        Type::BOOL => SourceType::Bool,
        Type::INT2 | Type::INT4 | Type::INT8 => SourceType::Integer,
        Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => SourceType::Number,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => SourceType::Text,
        Type::DATE => SourceType::Date,
        _ => return None,
    })
}

/// A decoded non-null value.
enum PgValue {
    Text(String),
    Integer(i64),
    Number(f64),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i64),
}

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's date epoch.
const PG_EPOCH_DAYS: i64 = 10_957;

fn as_cell(v: &Option<PgValue>) -> Cell<'_> {
    match v {
        None => Cell::Missing,
        Some(PgValue::Text(s)) => Cell::Text(s),
        Some(PgValue::Integer(i)) => Cell::Integer(*i),
        Some(PgValue::Number(x)) => Cell::Number(*x),
        Some(PgValue::Bool(b)) => Cell::Bool(*b),
        Some(PgValue::Date(d)) => Cell::Date(*d),
    }
}

type DecodeError = Box<dyn std::error::Error + Sync + Send>;

impl<'a> FromSql<'a> for PgValue {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<PgValue, DecodeError> {
        if let Kind::Enum(_) = ty.kind() {
            return Ok(PgValue::Text(std::str::from_utf8(raw)?.to_string()));
        }
        Ok(match *ty {
            Type::BOOL => PgValue::Bool(bool::from_sql(ty, raw)?),
            Type::INT2 => PgValue::Integer(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => PgValue::Integer(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => PgValue::Integer(i64::from_sql(ty, raw)?),
            // The shortest decimal that reads back as the same f32 (30.9, not 30.8999996…).
            Type::FLOAT4 => PgValue::Number(f32::from_sql(ty, raw)?.to_string().parse()?),
            Type::FLOAT8 => PgValue::Number(f64::from_sql(ty, raw)?),
            Type::NUMERIC => PgValue::Number(numeric(raw).ok_or("malformed numeric")?),
            // Days since 2000-01-01; ±infinity are i32::MAX/MIN (refused as out of range).
            Type::DATE => PgValue::Date(
                i64::from(i32::from_be_bytes(
                    raw.try_into().map_err(|_| "malformed date")?,
                )) + PG_EPOCH_DAYS,
            ),
            Type::BPCHAR => PgValue::Text(<&str>::from_sql(ty, raw)?.trim_end().to_string()),
            _ => PgValue::Text(<&str>::from_sql(ty, raw)?.to_string()),
        })
    }

    fn accepts(ty: &Type) -> bool {
        classify(ty).is_some()
    }
}

/// PostgreSQL's binary `numeric` (digit count, weight, sign, display scale, then base-10000
/// digits) as the nearest f64, through its decimal text so that `30.9` reads as the f64
/// nearest 30.9. NaN gives NaN (read as missing), infinities give infinities (refused).
fn numeric(raw: &[u8]) -> Option<f64> {
    let word = |i: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*raw.get(2 * i)?, *raw.get(2 * i + 1)?]))
    };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(word(1)? as i16);
    let sign = word(2)?;
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Some(f64::NAN),
        0xD000 => return Some(f64::INFINITY),
        0xF000 => return Some(f64::NEG_INFINITY),
        _ => return None,
    }
    if raw.len() != 8 + 2 * ndigits {
        return None;
    }
    if ndigits == 0 {
        return Some(0.0);
    }
    // 0.DDDD DDDD … × 10000^(weight + 1)
    let mut text = String::with_capacity(4 * ndigits + 16);
    if sign == 0x4000 {
        text.push('-');
    }
    text.push_str("0.");
    for i in 0..ndigits {
        let d = word(4 + i)?;
        if d > 9999 {
            return None;
        }
        text.push_str(&format!("{d:04}"));
    }
    text.push_str(&format!("e{}", 4 * (weight + 1)));
    text.parse().ok()
}

/// An error from the client or server in words that never quote data (see the module doc).
fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let class = &code[..2.min(code.len())];
            if ["08", "0A", "25", "28", "3D", "42"].contains(&class) {
                format!("{} (SQLSTATE {code})", db.message())
            } else {
                format!(
                    "the server refused it (SQLSTATE {code}; its message is not shown, as it \
                     may quote data)"
                )
            }
        }
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s = format!("{s}: {inner}");
                src = inner.source();
            }
            s
        }
    }
}

// ---- TLS through rustls (ring provider, TLS 1.3) ----

fn make_tls(tls: &PgTls) -> Result<RustlsMake> {
    let place = tls.ca_file.display().to_string();
    let text =
        std::fs::read(&tls.ca_file).map_err(|e| open(&place, format!("cannot read: {e}")))?;
    let pems = pem::parse_many(&text).map_err(|e| malformed(&place, format!("not PEM: {e}")))?;
    let mut roots = rustls::RootCertStore::empty();
    for p in pems.iter().filter(|p| p.tag() == "CERTIFICATE") {
        roots
            .add(p.contents().to_vec().into())
            .map_err(|e| malformed(&place, format!("a certificate is not usable: {e}")))?;
    }
    if roots.is_empty() {
        return Err(malformed(&place, "no CERTIFICATE in the file"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| open(PLACE, format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(RustlsMake(tokio_rustls::TlsConnector::from(Arc::new(
        config,
    ))))
}

/// Makes a TLS connector per connection, for the host name tokio-postgres connects to.
struct RustlsMake(tokio_rustls::TlsConnector);

impl MakeTlsConnect<Socket> for RustlsMake {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        let name = rustls::pki_types::ServerName::try_from(domain.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(RustlsConnect(self.0.clone(), name))
    }
}

/// Connects one socket.
struct RustlsConnect(
    tokio_rustls::TlsConnector,
    rustls::pki_types::ServerName<'static>,
);

impl TlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move { Ok(RustlsStream(self.0.connect(self.1, stream).await?)) })
    }
}

/// A TLS connection to the server.
struct RustlsStream(tokio_rustls::client::TlsStream<Socket>);

impl TlsStream for RustlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl AsyncRead for RustlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::numeric;

    /// Binary numeric: ndigits, weight, sign, dscale, digits.
    fn enc(words: &[u16]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    #[test]
    fn numerics_decode() {
        // 30.9 = 30 . 9000 (weight 0)
        assert_eq!(numeric(&enc(&[2, 0, 0, 1, 30, 9000])), Some(30.9));
        // -12345.6789 = 1 2345 . 6789 (weight 1)
        assert_eq!(
            numeric(&enc(&[3, 1, 0x4000, 4, 1, 2345, 6789])),
            Some(-12345.6789)
        );
        // 0.0005 = . 0005 (weight -1)
        assert_eq!(numeric(&enc(&[1, (-1i16) as u16, 0, 4, 5])), Some(0.0005));
        // 20000 = 2 (weight 1)
        assert_eq!(numeric(&enc(&[1, 1, 0, 0, 2])), Some(20000.0));
        assert_eq!(numeric(&enc(&[0, 0, 0, 0])), Some(0.0));
        assert!(numeric(&enc(&[0, 0, 0xC000, 0])).unwrap().is_nan());
        assert_eq!(numeric(&enc(&[2, 0, 0, 0, 1])), None);
        assert_eq!(numeric(&enc(&[1, 0, 0, 0, 10000])), None);
    }
}
