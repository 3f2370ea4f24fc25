//! One benchmark party: connects to the other two over TCP or TLS, runs every selected operation
//! several times, and prints what it measured as one JSON line on standard output.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Args;
use serde::{Deserialize, Serialize};
use tessera_mpc::Party;
use tessera_net::identity::{parse_fingerprint, Identity};
use tessera_net::shaper::Shape;
use tessera_net::tcp::{connect, TcpConfig};
use tessera_net::tls::{connect_tls, TlsConfig};

use super::ops::{self, Plain, Shared};

/// How a benchmark party process finds the other two (shared by every benchmark).
#[derive(Args, Debug, Clone)]
pub struct ConnArgs {
    /// This party's index (0, 1 or 2).
    #[arg(long)]
    pub me: usize,
    /// Listening addresses of parties 0, 1, 2, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub addrs: Vec<SocketAddr>,
    /// Session identifier (32 hex digits).
    #[arg(long)]
    pub session: String,
    /// Receive timeout in seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout_secs: u64,
    /// How long to keep trying to reach the other parties, in seconds.
    #[arg(long, default_value_t = 20, hide = true)]
    pub connect_timeout_secs: u64,
    /// Folder with this party's identity (station.key, station.crt): connect over TLS.
    #[arg(long, requires = "tls_peers")]
    pub tls_identity: Option<std::path::PathBuf>,
    /// Certificate fingerprints of parties 0, 1, 2 (hex, comma-separated), for TLS.
    #[arg(long, value_delimiter = ',', requires = "tls_identity")]
    pub tls_peers: Vec<String>,
}

impl ConnArgs {
    /// Connects to the other two parties (over TLS when an identity is given), applies the
    /// simulated network conditions and sets up the MPC party.
    pub fn connect(&self, shape: Shape) -> Result<Party, String> {
        let cfg = self.tcp_config()?;
        let ep = match &self.tls_identity {
            None => connect(&cfg),
            Some(dir) => connect_tls(&tls_config(cfg, dir, &self.tls_peers)?),
        }
        .map_err(|e| format!("party {}: {e}", self.me))?
        .shaped(shape);
        let mut p = Party::setup(ep).map_err(|e| format!("party {}: {e}", self.me))?;
        // Added latency: rounds cost more than bytes (the same at all three parties).
        p.set_few_rounds(!shape.one_way_latency.is_zero());
        Ok(p)
    }

    /// The TCP configuration these arguments describe.
    pub fn tcp_config(&self) -> Result<TcpConfig, String> {
        if self.me > 2 {
            return Err(format!("--me must be 0, 1 or 2, got {}", self.me));
        }
        let addrs: [SocketAddr; 3] = self
            .addrs
            .clone()
            .try_into()
            .map_err(|_| "need three addresses".to_string())?;
        Ok(TcpConfig {
            me: self.me,
            addrs,
            session: parse_session(&self.session)?,
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
            recv_timeout: Duration::from_secs(self.timeout_secs),
        })
    }
}

/// Network conditions to simulate in the transport (shared by the orchestrator and the
/// parties).
#[derive(Args, Debug, Clone, Default)]
pub struct ShapeArgs {
    /// One-way latency added to every link, in milliseconds (simulated in the transport).
    #[arg(long, default_value_t = 0.0)]
    pub latency_ms: f64,
    /// Bandwidth of every link in each direction, in Mbit/s (simulated in the transport;
    /// default: unlimited).
    #[arg(long)]
    pub bandwidth_mbit: Option<f64>,
}

impl ShapeArgs {
    /// The simulated conditions, checked.
    pub fn shape(&self) -> Result<Shape, String> {
        network_shape(self.latency_ms, self.bandwidth_mbit)
    }

    /// The same options on a party's command line (only those that are set).
    pub fn pass_on(&self, cmd: &mut std::process::Command) {
        if self.latency_ms != 0.0 {
            cmd.args(["--latency-ms", &self.latency_ms.to_string()]);
        }
        if let Some(m) = self.bandwidth_mbit {
            cmd.args(["--bandwidth-mbit", &m.to_string()]);
        }
    }
}

/// Arguments of a benchmark party process.
#[derive(Args, Debug, Clone)]
pub struct PartyArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Elements per vector.
    #[arg(long)]
    pub size: usize,
    /// Timed repetitions per operation.
    #[arg(long)]
    pub reps: usize,
    /// Operations to run (all if empty).
    #[arg(long, value_delimiter = ',')]
    pub ops: Vec<String>,
    #[command(flatten)]
    pub shape: ShapeArgs,
}

/// What one party measured for one operation.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Measured {
    /// Seconds of each timed repetition.
    pub secs: Vec<f64>,
    /// Bytes this party sent in one call.
    pub bytes: u64,
    /// Communication rounds of one call, as this party saw them.
    pub rounds: u64,
}

/// Everything one party reports.
#[derive(Serialize, Deserialize, Debug)]
pub struct Report {
    pub party: usize,
    pub ops: Vec<(String, Measured)>,
}

/// Parses a 32-hex-digit session id.
pub fn parse_session(s: &str) -> Result<[u8; 16], String> {
    let bad = || format!("session must be 32 hex digits, got {s:?}");
    if s.len() != 32 {
        return Err(bad());
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// The simulated network conditions given by `--latency-ms` and `--bandwidth-mbit`.
pub fn network_shape(latency_ms: f64, bandwidth_mbit: Option<f64>) -> Result<Shape, String> {
    if !(latency_ms.is_finite() && (0.0..=3_600_000.0).contains(&latency_ms)) {
        return Err(format!(
            "--latency-ms must be a number of milliseconds >= 0, got {latency_ms}"
        ));
    }
    let bandwidth_bits_per_sec = match bandwidth_mbit {
        None => None,
        Some(m) if m.is_finite() && m * 1e6 >= 1.0 && m <= 1e9 => Some((m * 1e6).round() as u64),
        Some(m) => {
            return Err(format!(
                "--bandwidth-mbit must be a positive number of Mbit/s, got {m}"
            ))
        }
    };
    Ok(Shape {
        one_way_latency: Duration::from_secs_f64(latency_ms / 1e3),
        bandwidth_bits_per_sec,
    })
}

/// The TLS configuration from an identity folder and the three parties' fingerprints.
fn tls_config(
    tcp: TcpConfig,
    dir: &std::path::Path,
    peers: &[String],
) -> Result<TlsConfig, String> {
    let identity = Identity::load(dir).map_err(|e| e.to_string())?;
    let fps: Vec<_> = peers
        .iter()
        .map(|p| parse_fingerprint(p).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let fingerprints = fps
        .try_into()
        .map_err(|_| format!("--tls-peers needs 3 fingerprints, got {}", peers.len()))?;
    Ok(TlsConfig::new(tcp, &identity, fingerprints))
}

/// Runs the party; errors end the process with a message naming the cause.
pub fn run(args: &PartyArgs) -> Result<(), String> {
    let mut p = args.conn.connect(args.shape.shape()?)?;
    let result = measure(&mut p, args);
    report_or_abort(&mut p, result)
}

/// Prints a party's report as one JSON line, or tells the peers why it stops (so that they
/// end too) and returns the error naming this party.
pub fn report_or_abort<T: Serialize>(
    p: &mut Party,
    result: Result<T, String>,
) -> Result<(), String> {
    match result {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string(&report).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Err(e) => {
            p.abort(&e);
            Err(format!("party {}: {e}", p.id()))
        }
    }
}

fn measure(p: &mut Party, args: &PartyArgs) -> Result<Report, String> {
    let e = |e: tessera_mpc::MpcError| e.to_string();
    let plain = Plain::new(args.size);
    let shared = Shared::new(p, &plain).map_err(e)?;
    let mut out = Vec::new();
    for op in ops::all() {
        if !args.ops.is_empty() && !args.ops.iter().any(|o| o == op.name) {
            continue;
        }
        // One checked run: the result is opened and compared with plaintext on every party.
        let res = (op.run)(p, &shared).map_err(e)?;
        let opened = res.open(p).map_err(e)?;
        (op.check)(&plain, &opened, p.frac_bits())
            .map_err(|e| format!("{} gave a wrong result: {e}", op.name))?;
        let mut secs = Vec::with_capacity(args.reps);
        let (mut bytes, mut rounds) = (0, 0);
        for _ in 0..args.reps {
            p.barrier().map_err(e)?;
            let before = p.stats();
            let t = Instant::now();
            (op.run)(p, &shared).map_err(e)?;
            secs.push(t.elapsed().as_secs_f64());
            let st = p.stats().since(&before);
            (bytes, rounds) = (st.bytes_sent, st.rounds);
        }
        out.push((
            op.name.to_string(),
            Measured {
                secs,
                bytes,
                rounds,
            },
        ));
    }
    p.barrier().map_err(e)?;
    Ok(Report {
        party: p.id(),
        ops: out,
    })
}
