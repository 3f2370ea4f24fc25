//! End-to-end tests of the `tessera` binary as separate OS processes over loopback TCP: the
//! benchmark orchestrator, and benchmark parties started by hand to lose a peer mid-protocol,
//! miss a peer at setup, or disagree on the session.
//!
//! Every wait has a deadline; processes still running when their deadline passes are killed
//! and the test fails (children are also killed when a test panics), so no test can hang.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// These tests time their parties (a refusal "at once", within a connect timeout): run one
/// at a time, so that three processes of each do not compete with a dozen others for two
/// cores and miss their deadlines.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_tessera");

/// Every operation `bench engine` reports.
const ALL_OPS: [&str; 20] = [
    "share_input",
    "reveal",
    "mul",
    "dot",
    "mul_fixed",
    "trunc",
    "lt",
    "lt_fixed",
    "eq",
    "a2b",
    "b2a",
    "inject",
    "select",
    "exp",
    "recip",
    "ln",
    "sqrt",
    "rsqrt",
    "sigmoid",
    "prefix_sum",
];

/// How often running processes are polled.
const POLL: Duration = Duration::from_millis(20);

/// A child process whose stdout and stderr are drained by threads (so it can never block on
/// a full pipe); it is killed if it is still running when this is dropped.
struct Proc {
    name: String,
    child: Child,
    out: Option<JoinHandle<String>>,
    err: Option<JoinHandle<String>>,
}

/// How a process ended.
struct Ended {
    name: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
    /// When its exit was noticed (within [`POLL`] of the exit).
    at: Instant,
}

impl Ended {
    /// Time from `t` to the exit.
    fn after(&self, t: Instant) -> Duration {
        self.at.saturating_duration_since(t)
    }

    fn assert_failed(&self) {
        assert!(
            !self.status.success(),
            "{} should have failed but exited with {}; stdout:\n{}\nstderr:\n{}",
            self.name,
            self.status,
            self.stdout,
            self.stderr
        );
    }

    /// Asserts that nothing (in particular no report) was printed on standard output.
    fn assert_no_report(&self) {
        assert!(
            self.stdout.trim().is_empty(),
            "{} printed on stdout although it failed: {}",
            self.name,
            self.stdout
        );
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<String>> {
    pipe.map(|mut p| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = p.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    })
}

fn joined(h: &mut Option<JoinHandle<String>>) -> String {
    h.take().map(|h| h.join().unwrap()).unwrap_or_default()
}

impl Proc {
    fn spawn(name: impl Into<String>, args: &[String]) -> Proc {
        let name = name.into();
        let mut child = Command::new(EXE)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let out = drain(child.stdout.take());
        let err = drain(child.stderr.take());
        Proc {
            name,
            child,
            out,
            err,
        }
    }

    /// How the process ended, if it has.
    fn try_end(&mut self) -> Option<Ended> {
        let status = self
            .child
            .try_wait()
            .unwrap_or_else(|e| panic!("cannot wait for {}: {e}", self.name))?;
        let at = Instant::now();
        Some(Ended {
            name: self.name.clone(),
            status,
            stdout: joined(&mut self.out),
            stderr: joined(&mut self.err),
            at,
        })
    }

    /// Kills the process (SIGKILL on Unix), reaps it and returns its stderr.
    fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        joined(&mut self.err)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for every process to exit; returns how each ended, in the order given. At
/// `deadline`, kills those still running and fails the test, showing what each one said.
fn wait_all(procs: Vec<Proc>, deadline: Instant) -> Vec<Ended> {
    let mut slots: Vec<(Option<Proc>, Option<Ended>)> =
        procs.into_iter().map(|p| (Some(p), None)).collect();
    loop {
        for (p, e) in &mut slots {
            if let Some(ended) = p.as_mut().and_then(Proc::try_end) {
                *e = Some(ended);
                *p = None;
            }
        }
        if slots.iter().all(|(p, _)| p.is_none()) {
            return slots.into_iter().filter_map(|(_, e)| e).collect();
        }
        if Instant::now() >= deadline {
            let mut report = String::new();
            for (p, e) in slots {
                if let Some(p) = p {
                    let name = p.name.clone();
                    let stderr = p.kill();
                    report.push_str(&format!("\n{name}: HUNG, killed; stderr: {stderr}"));
                } else if let Some(e) = e {
                    report.push_str(&format!(
                        "\n{}: exited ({}); stderr: {}",
                        e.name, e.status, e.stderr
                    ));
                }
            }
            panic!("processes still running at the deadline:{report}");
        }
        thread::sleep(POLL);
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Runs `tessera` with `args` to completion, failing the test if it takes longer than
/// `limit`.
fn run(args: &[&str], limit: Duration) -> Ended {
    let p = Proc::spawn(format!("tessera {}", args.join(" ")), &strings(args));
    wait_all(vec![p], Instant::now() + limit).remove(0)
}

/// Like [`run`] for `tessera bench engine`, which picks its ports by binding port 0 and
/// releasing them: a port can be taken by another process's outgoing connection before the
/// party binds it. That run is repeated (at most twice); each run has `limit`.
fn run_engine(args: &[&str], limit: Duration) -> Ended {
    let mut e = run(args, limit);
    for _ in 0..2 {
        if e.status.success() || !e.stderr.contains("Address already in use") {
            break;
        }
        eprintln!(
            "note: a port was taken before a party could bind it; again:\n{}",
            e.stderr
        );
        e = run(args, limit);
    }
    e
}

/// A random number (every RandomState has fresh random keys).
fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

/// Three distinct free loopback ports for parties started by hand.
///
/// Ports are taken below the kernel's ephemeral range when it is known: a port bound to 0
/// and released comes from that range, and another test's outgoing connection may be given
/// it before our party binds it ("Address already in use"). Below the range only explicit
/// binds can take it. The three are bound together (so they differ), then released.
fn free_addrs() -> [SocketAddr; 3] {
    let first_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .filter(|&lo| lo > 20_000);
    if let Some(lo) = first_ephemeral {
        for _ in 0..100 {
            let ports: Vec<u16> = (0..3)
                .map(|_| 10_000 + (random_u64() % u64::from(lo - 10_000)) as u16)
                .collect();
            let ls: Result<Vec<TcpListener>, _> = ports
                .iter()
                .map(|&p| TcpListener::bind(("127.0.0.1", p)))
                .collect();
            if let Ok(ls) = ls {
                return std::array::from_fn(|i| ls[i].local_addr().unwrap());
            }
        }
    }
    let ls: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a loopback port"))
        .collect();
    std::array::from_fn(|i| ls[i].local_addr().unwrap())
}

fn addr_list(addrs: &[SocketAddr; 3]) -> String {
    addrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// A random session id of 32 hex digits.
fn random_session() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

/// Starts benchmark party `me`.
fn party(me: usize, addrs: &str, session: &str, extra: &[&str]) -> Proc {
    let mut args = strings(&[
        "bench-party",
        "--me",
        &me.to_string(),
        "--addrs",
        addrs,
        "--session",
        session,
    ]);
    args.extend(strings(extra));
    Proc::spawn(format!("party {me}"), &args)
}

/// CPU seconds (user + system, all threads) process `pid` has used, if /proc tells us.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces): state is
    // field 3, utime field 14, stime field 15, in clock ticks of 1/100 s (USER_HZ).
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Whether some TCP connection to loopback `port` is established, if /proc tells us.
fn established_to(port: u16) -> Option<bool> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let want = format!(":{port:04X}");
    Some(table.lines().skip(1).any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        f.len() > 3 && f[2].ends_with(&want) && f[3] == "01"
    }))
}

#[test]
fn engine_benchmark_over_three_processes_reports_every_operation() {
    let _serial = one_at_a_time();
    let e = run_engine(
        &["bench", "engine", "--size", "2000", "--reps", "1", "--json"],
        Duration::from_secs(30),
    );
    assert!(
        e.status.success(),
        "bench engine failed ({}):\n{}",
        e.status,
        e.stderr
    );
    let report: Value = serde_json::from_str(e.stdout.trim())
        .unwrap_or_else(|err| panic!("output is not one JSON object ({err}):\n{}", e.stdout));
    let obj = report.as_object().expect("a JSON object");
    for op in ALL_OPS {
        let entry = obj
            .get(op)
            .unwrap_or_else(|| panic!("no {op:?} in the report: {report}"));
        for field in [
            "ops_per_sec",
            "bytes_per_op_per_party",
            "theory_bytes_per_op",
            "rounds",
            "seconds_median",
        ] {
            assert!(
                entry[field].is_number(),
                "{op}.{field} is not a number: {entry}"
            );
        }
        assert!(entry["unit"].is_string(), "{op}.unit: {entry}");
        let ops_per_sec = entry["ops_per_sec"].as_f64().unwrap();
        assert!(
            ops_per_sec.is_finite() && ops_per_sec > 0.0,
            "{op}.ops_per_sec = {ops_per_sec}"
        );
    }
    assert_eq!(obj["mul"]["bytes_per_op_per_party"].as_f64(), Some(8.0));
    assert_eq!(obj["mul"]["rounds"].as_u64(), Some(1));
    assert_eq!(
        obj["mul_fixed"]["bytes_per_op_per_party"].as_f64(),
        Some(16.0)
    );
    assert_eq!(obj["mul_fixed"]["rounds"].as_u64(), Some(2));
}

#[test]
fn engine_benchmark_runs_only_the_chosen_operations() {
    let _serial = one_at_a_time();
    let e = run_engine(
        &[
            "bench", "engine", "--size", "500", "--reps", "2", "--json", "--ops", "mul,exp",
        ],
        Duration::from_secs(30),
    );
    assert!(e.status.success(), "bench engine failed:\n{}", e.stderr);
    let report: Value = serde_json::from_str(e.stdout.trim()).expect("one JSON object");
    let mut keys: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["exp", "mul"]);
}

#[test]
fn engine_benchmark_rejects_bad_options() {
    let _serial = one_at_a_time();
    let limit = Duration::from_secs(7);
    let e = run(&["bench", "engine", "--ops", "nosuch"], limit);
    e.assert_failed();
    e.assert_no_report();
    assert!(
        e.stderr.contains("unknown operation") && e.stderr.contains("nosuch"),
        "{}",
        e.stderr
    );
    for op in ALL_OPS {
        assert!(
            e.stderr.contains(op),
            "known operation {op} not listed: {}",
            e.stderr
        );
    }

    // A bad name among good ones is refused too, before any party starts.
    let e = run(&["bench", "engine", "--ops", "mul,nosuch"], limit);
    e.assert_failed();
    assert!(e.stderr.contains("nosuch"), "{}", e.stderr);

    for flag in ["--size", "--reps"] {
        let e = run(&["bench", "engine", flag, "0"], limit);
        e.assert_failed();
        e.assert_no_report();
        assert!(
            e.stderr.contains(flag) && e.stderr.contains("positive"),
            "{flag} 0: {}",
            e.stderr
        );
    }
}

#[test]
fn killing_a_party_mid_protocol_ends_the_other_two() {
    let _serial = one_at_a_time();
    let addrs = addr_list(&free_addrs());
    let session = random_session();
    // Minutes of work if nothing went wrong; a 10 s receive timeout as the last resort.
    let work = [
        "--size",
        "300000",
        "--reps",
        "50",
        "--ops",
        "exp,sigmoid",
        "--timeout-secs",
        "10",
        "--connect-timeout-secs",
        "10",
    ];
    let mut parties: Vec<Proc> = (0..3)
        .map(|me| party(me, &addrs, &session, &work))
        .collect();

    // Wait until every party is computing: a party uses next to no CPU until it is
    // connected, then computes steadily. Without /proc, a generous fixed pause.
    let pids: Vec<u32> = parties.iter().map(|p| p.child.id()).collect();
    let progress_deadline = Instant::now() + Duration::from_secs(15);
    if cpu_seconds(pids[0]).is_some() {
        loop {
            let cpu: Vec<Option<f64>> = pids.iter().map(|&pid| cpu_seconds(pid)).collect();
            if cpu.iter().all(|c| c.is_some_and(|s| s >= 0.5)) {
                break;
            }
            for p in &mut parties {
                if let Some(e) = p.try_end() {
                    panic!(
                        "{} ended before the kill ({}): {}",
                        e.name, e.status, e.stderr
                    );
                }
            }
            assert!(
                Instant::now() < progress_deadline,
                "the parties did not start computing within 15 s (CPU seconds {cpu:?})"
            );
            thread::sleep(POLL);
        }
    } else {
        thread::sleep(Duration::from_secs(3));
    }

    let mut victim = parties.remove(1);
    assert!(
        victim.try_end().is_none(),
        "party 1 ended before it could be killed"
    );
    victim.kill();
    let killed = Instant::now();

    for e in wait_all(parties, killed + Duration::from_secs(12)) {
        eprintln!(
            "{} exited {:?} after the kill: {}",
            e.name,
            e.after(killed),
            e.stderr.trim()
        );
        e.assert_failed();
        assert!(
            e.stderr.contains("party 1"),
            "{} does not name the lost party 1: {}",
            e.name,
            e.stderr
        );
        e.assert_no_report();
    }
}

#[test]
fn a_party_that_never_shows_up_is_named_after_the_connect_timeout() {
    let _serial = one_at_a_time();
    let addrs = addr_list(&free_addrs());
    let session = random_session();
    let opts = [
        "--size",
        "100",
        "--reps",
        "1",
        "--connect-timeout-secs",
        "2",
    ];
    // Party 2 never starts; parties 0 and 1 (which connect to each other) wait for it.
    let started = Instant::now();
    let parties = (0..2)
        .map(|me| party(me, &addrs, &session, &opts))
        .collect();
    for e in wait_all(parties, started + Duration::from_secs(10)) {
        let took = e.after(started);
        eprintln!("{} exited after {took:?}: {}", e.name, e.stderr.trim());
        e.assert_failed();
        e.assert_no_report();
        assert!(
            e.stderr.contains("party 2"),
            "{} does not name the missing party 2: {}",
            e.name,
            e.stderr
        );
        // It waited for the whole connect window, and not much more.
        assert!(
            took >= Duration::from_millis(1500),
            "{} gave up after only {took:?}: {}",
            e.name,
            e.stderr
        );
        assert!(
            took < Duration::from_secs(6),
            "{} took {took:?} with a 2 s connect timeout: {}",
            e.name,
            e.stderr
        );
    }
}

#[test]
fn a_party_with_another_session_is_refused() {
    let _serial = one_at_a_time();
    let free = free_addrs();
    let addrs = addr_list(&free);
    let session = random_session();
    let mut other = random_session();
    while other == session {
        other = random_session();
    }
    const CONNECT_SECS: u64 = 5;
    let connect = CONNECT_SECS.to_string();
    let opts = [
        "--size",
        "100",
        "--reps",
        "1",
        "--connect-timeout-secs",
        &connect,
    ];
    let p0 = party(0, &addrs, &session, &opts);
    let p1 = party(1, &addrs, &session, &opts);
    // Let party 1 reach party 0 before party 2 comes: otherwise party 0 may refuse party 2
    // and exit before party 1 has dialed it, and party 1 would only see party 0 missing.
    let reached = Instant::now() + Duration::from_secs(CONNECT_SECS);
    match established_to(free[0].port()) {
        Some(_) => {
            while established_to(free[0].port()) != Some(true) {
                assert!(
                    Instant::now() < reached,
                    "party 1 did not reach party 0 within the connect timeout"
                );
                thread::sleep(Duration::from_millis(5));
            }
        }
        None => thread::sleep(Duration::from_secs(1)),
    }
    let p2 = party(2, &addrs, &other, &opts);
    let started = Instant::now();
    let ended = wait_all(vec![p0, p1, p2], started + Duration::from_secs(15));
    for e in &ended {
        eprintln!(
            "{} exited after {:?}: {}",
            e.name,
            e.after(started),
            e.stderr.trim()
        );
        e.assert_failed();
        e.assert_no_report();
    }
    let fast = Duration::from_secs(CONNECT_SECS - 1);

    // Party 2 gives up at the first refusal, at once, and points at the session.
    let p2 = &ended[2];
    assert!(p2.stderr.contains("session"), "party 2: {}", p2.stderr);
    assert!(
        p2.after(started) < fast,
        "party 2 took {:?}",
        p2.after(started)
    );

    // Parties 0 and 1 both receive party 2's hello (party 2 lets its other dial finish
    // before it leaves) and refuse it at once, naming the session.
    for e in &ended[..2] {
        let took = e.after(started);
        assert!(
            e.stderr.contains("different session id") && e.stderr.contains("party 2"),
            "{}: {}",
            e.name,
            e.stderr
        );
        assert!(
            took < fast,
            "{} refused party 2 only after {took:?}",
            e.name
        );
    }
}

#[test]
fn engine_benchmark_simulates_latency() {
    let _serial = one_at_a_time();
    let latency = 0.02;
    let started = Instant::now();
    let e = run_engine(
        &[
            "bench",
            "engine",
            "--size",
            "20000",
            "--reps",
            "1",
            "--ops",
            "mul,lt",
            "--json",
            "--latency-ms",
            "20",
        ],
        Duration::from_secs(20),
    );
    assert!(e.status.success(), "bench engine failed:\n{}", e.stderr);
    let report: Value = serde_json::from_str(e.stdout.trim()).expect("one JSON object");
    let mut keys: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["lt", "mul"], "only operations at the top level");
    for (op, rounds) in [("mul", 1.0), ("lt", 6.0)] {
        let entry = &report[op];
        assert_eq!(entry["rounds"].as_f64(), Some(rounds), "{op}: {entry}");
        assert_eq!(entry["one_way_latency_ms"].as_f64(), Some(20.0), "{entry}");
        assert!(entry["bandwidth_mbit"].is_null(), "{entry}");
        // Each round costs one one-way latency (the parties send in parallel).
        let secs = entry["seconds_median"].as_f64().unwrap();
        let floor = if rounds == 1.0 {
            latency
        } else {
            rounds * latency * 0.9
        };
        assert!(secs >= floor, "{op} took {secs} s, less than {floor} s");
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn engine_benchmark_rejects_bad_network_options() {
    let _serial = one_at_a_time();
    let limit = Duration::from_secs(7);
    for (flag, value) in [
        ("--latency-ms", "nan"),
        ("--latency-ms", "-1"),
        ("--bandwidth-mbit", "0"),
        ("--bandwidth-mbit", "inf"),
    ] {
        let arg = format!("{flag}={value}");
        let e = run(&["bench", "engine", "--ops", "mul", &arg], limit);
        e.assert_failed();
        e.assert_no_report();
        assert!(e.stderr.contains(flag), "{arg}: {}", e.stderr);
    }
}

#[test]
fn engine_benchmark_over_tls_checks_results_and_leaves_no_keys_behind() {
    let _serial = one_at_a_time();
    let _only_tls_test = TLS_RUNS.lock().unwrap_or_else(|e| e.into_inner());
    let before: Vec<_> = tessera_bench_dirs();
    let e = run_engine(
        &[
            "bench",
            "engine",
            "--size",
            "5000",
            "--reps",
            "1",
            "--ops",
            "mul,lt,exp",
            "--json",
            "--tls",
        ],
        Duration::from_secs(30),
    );
    assert!(
        e.status.success(),
        "bench engine --tls failed:\n{}",
        e.stderr
    );
    let report: Value = serde_json::from_str(e.stdout.trim()).expect("one JSON object");
    for op in ["mul", "lt", "exp"] {
        let entry = &report[op];
        assert_eq!(entry["tls"].as_bool(), Some(true), "{op}: {entry}");
        assert!(
            entry["ops_per_sec"].as_f64().unwrap() > 0.0,
            "{op}: {entry}"
        );
    }
    assert_eq!(report["mul"]["bytes_per_op_per_party"].as_f64(), Some(8.0));
    // The identities made for the run (private keys included) are removed afterwards.
    assert_eq!(
        tessera_bench_dirs(),
        before,
        "temporary identity folders left behind"
    );
}

/// Held by every test that runs a benchmark with `--tls`, so that one test's count of
/// identity folders is not disturbed by another's run.
static TLS_RUNS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Folders the TLS benchmark creates for its identities.
fn tessera_bench_dirs() -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("tessera-bench-"))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn link_benchmark_joins_over_three_processes() {
    let _serial = one_at_a_time();
    let e = run_engine(
        &["bench", "link", "--rows", "2000", "--reps", "1", "--json"],
        Duration::from_secs(60),
    );
    assert!(e.status.success(), "bench link failed:\n{}", e.stderr);
    let report: Value = serde_json::from_str(e.stdout.trim()).expect("one JSON object");
    // Half of each table overlaps; the benchmark also checks this against the plaintext join.
    assert_eq!(report["intersection"].as_u64(), Some(1000), "{report}");
    for key in ["seconds", "bytes_per_party", "rounds"] {
        assert!(report[key].as_f64().unwrap() > 0.0, "{key}: {report}");
    }
}

#[test]
fn link_benchmark_runs_over_tls() {
    let _serial = one_at_a_time();
    let _only_tls_test = TLS_RUNS.lock().unwrap_or_else(|e| e.into_inner());
    let e = run_engine(
        &[
            "bench", "link", "--rows", "1000", "--reps", "1", "--json", "--tls",
        ],
        Duration::from_secs(60),
    );
    assert!(e.status.success(), "bench link --tls failed:\n{}", e.stderr);
    let report: Value = serde_json::from_str(e.stdout.trim()).expect("one JSON object");
    assert_eq!(report["intersection"].as_u64(), Some(500), "{report}");
}

#[test]
fn survival_benchmark_runs_every_analysis_over_three_processes() {
    let _serial = one_at_a_time();
    let e = run_engine(
        &[
            "bench",
            "survival",
            "--workloads",
            "logrank:600,cox:400x3,cox-strata:400x3,cuminc:600,rmst:600,finegray:600x3",
            "--no-lifelines",
            "--json",
        ],
        Duration::from_secs(120),
    );
    assert!(e.status.success(), "bench survival failed:\n{}", e.stderr);
    let report: Value = serde_json::from_str(e.stdout.trim()).expect("one JSON object");
    let w = report["workloads"].as_array().expect("workloads");
    let kinds: Vec<&str> = w.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["logrank", "cox", "cox-strata", "cuminc", "rmst", "finegray"],
        "{report}"
    );
    for entry in w {
        // The benchmark fails if the opened results differ from the plaintext twin.
        for key in ["seconds", "bytes_per_party", "rounds", "plain_seconds"] {
            assert!(entry[key].as_f64().unwrap() > 0.0, "{key}: {entry}");
        }
        assert!(entry["lifelines_seconds"].is_null());
        assert!(entry["r_seconds"].is_null());
    }
    assert!(w[1]["iterations"].as_u64().unwrap() >= 1);
    assert!(w[2]["iterations"].as_u64().unwrap() >= 1);
    assert!(w[5]["iterations"].as_u64().unwrap() >= 1);
    let bad = run(
        &["bench", "survival", "--workloads", "cox:10"],
        Duration::from_secs(30),
    );
    assert!(!bad.status.success());
    assert!(bad.stderr.contains("cox:ROWSxCOVARIATES"), "{}", bad.stderr);
}
