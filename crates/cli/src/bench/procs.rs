//! Starting the three party processes of a benchmark and collecting what they report.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};

use tessera_net::identity::{fingerprint_hex, Identity};

/// The three parties' JSON reports (one line each on their standard output), in party order.
pub fn parse_reports<T: serde::de::DeserializeOwned>(outputs: &[String]) -> Result<Vec<T>, String> {
    outputs
        .iter()
        .enumerate()
        .map(|(me, out)| {
            serde_json::from_str::<T>(out.trim())
                .map_err(|e| format!("party {me} report unreadable: {e}"))
        })
        .collect()
}

/// The seconds of each repetition: a repetition ends when the slowest party is done.
pub fn slowest(per_party: &[&[f64]]) -> Vec<f64> {
    let reps = per_party.iter().map(|s| s.len()).min().unwrap_or(0);
    (0..reps)
        .map(|i| per_party.iter().map(|s| s[i]).fold(0.0, f64::max))
        .collect()
}

/// Each party's median over the repetitions of a counter (bytes, rounds).
pub fn medians(per_party: &[&[u64]]) -> Vec<u64> {
    per_party
        .iter()
        .map(|v| super::engine::median(&v.iter().map(|&b| b as f64).collect::<Vec<_>>()) as u64)
        .collect()
}

/// The busiest party's median of a counter (bytes sent, rounds).
pub fn busiest(per_party: &[&[u64]]) -> u64 {
    medians(per_party).into_iter().max().unwrap_or(0)
}

/// Where three benchmark parties meet: free loopback addresses and a fresh session.
pub struct Rendezvous {
    /// `addr0,addr1,addr2`, as the parties' `--addrs` takes it.
    pub addr_list: String,
    /// 32 hex digits, as the parties' `--session` takes it.
    pub session: String,
}

impl Rendezvous {
    /// Three distinct free loopback ports and a random session.
    pub fn new() -> Result<Self, String> {
        // Bind three listeners at once so the ports differ, then release them.
        let ls: Vec<TcpListener> = (0..3)
            .map(|_| {
                TcpListener::bind("127.0.0.1:0")
                    .map_err(|e| format!("cannot bind a loopback port: {e}"))
            })
            .collect::<Result<_, _>>()?;
        let addrs: Vec<SocketAddr> = ls
            .iter()
            .map(|l| l.local_addr().map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        let addr_list = addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let session = tessera_mpc::prg::fresh_seed()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Rendezvous { addr_list, session })
    }
}

/// Starts `tessera SUBCOMMAND --me I --addrs .. --session ..` for parties 0, 1, 2, with the
/// further arguments `extra` adds for each party, waits for all three, and returns their
/// standard outputs in party order; if any failed, the error lists every failure.
pub fn run_three(
    subcommand: &str,
    rv: &Rendezvous,
    extra: impl Fn(usize, &mut Command),
) -> Result<Vec<String>, String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the tessera binary: {e}"))?;
    let mut children = Vec::new();
    for me in 0..3 {
        let mut cmd = Command::new(&exe);
        cmd.args([subcommand, "--me", &me.to_string()])
            .args(["--addrs", &rv.addr_list, "--session", &rv.session])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        extra(me, &mut cmd);
        children.push(
            cmd.spawn()
                .map_err(|e| format!("cannot start party {me}: {e}"))?,
        );
    }
    let mut outputs = Vec::new();
    let mut failures = Vec::new();
    for (me, mut child) in children.into_iter().enumerate() {
        let (mut out, mut err) = (String::new(), String::new());
        // Read stderr on a thread so that neither pipe can fill up and block the child.
        let stderr = child.stderr.take().expect("piped");
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let mut e = stderr;
            e.read_to_string(&mut s).ok();
            s
        });
        child
            .stdout
            .take()
            .expect("piped")
            .read_to_string(&mut out)
            .ok();
        err.push_str(&err_reader.join().unwrap_or_default());
        let status = child.wait().map_err(|e| e.to_string())?;
        if status.success() {
            outputs.push(out);
        } else {
            failures.push(format!("party {me} failed ({status}): {}", err.trim()));
        }
    }
    if failures.is_empty() {
        Ok(outputs)
    } else {
        Err(failures.join("\n"))
    }
}

/// Three station identities made for one benchmark run, in a private temporary folder that
/// is removed when the run ends. Keys never leave that folder.
pub struct BenchIdentities {
    dir: std::path::PathBuf,
    fingerprints: Vec<String>,
}

impl BenchIdentities {
    /// Makes the identities of parties 0, 1, 2 for the run with this session.
    pub fn create(session: &str) -> Result<Self, String> {
        let mut made = BenchIdentities {
            dir: std::env::temp_dir().join(format!("tessera-bench-{session}")),
            fingerprints: Vec::new(),
        };
        for me in 0..3 {
            let id = Identity::generate(&format!("bench-party-{me}")).map_err(|e| e.to_string())?;
            id.save(&made.dir.join(format!("party{me}")))
                .map_err(|e| e.to_string())?;
            made.fingerprints.push(fingerprint_hex(&id.fingerprint()));
        }
        Ok(made)
    }
}

impl BenchIdentities {
    /// Party `me`'s TLS options: its identity folder and everybody's fingerprints.
    pub fn pass_on(&self, me: usize, cmd: &mut Command) {
        cmd.arg("--tls-identity")
            .arg(self.dir.join(format!("party{me}")))
            .args(["--tls-peers", &self.fingerprints.join(",")]);
    }
}

impl Drop for BenchIdentities {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The recipient's side of a benchmark: the three parties' ends of one workload (public
/// facts, bytes of their [`tessera_mpc::OutputShares`]) must agree on the facts; the shares
/// are reconstructed and the analysis' tail `P` run on them.
pub fn open_sealed<P: tessera_stats::Tail>(
    parts: &[(&serde_json::Value, &[u8])],
) -> Result<P::Result, String> {
    if parts.len() != 3 || parts.iter().any(|(p, _)| *p != parts[0].0) {
        return Err("the parties' public facts differ".into());
    }
    let mut shares = parts
        .iter()
        .map(|(_, b)| tessera_mpc::OutputShares::from_bytes(b).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    shares.sort_by_key(tessera_mpc::OutputShares::party);
    let values = tessera_mpc::output::reconstruct_shares([&shares[0], &shares[1], &shares[2]])
        .map_err(|e| e.to_string())?;
    let public: P =
        serde_json::from_value(parts[0].0.clone()).map_err(|e| format!("public facts: {e}"))?;
    public.open(&values).map_err(|e| e.to_string())
}
