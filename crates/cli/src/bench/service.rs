//! `tessera bench service`: the station service under load. Three real `tessera station
//! serve` processes on loopback, set up as `tessera demo` sets them up (identities,
//! configurations, the shipped synthetic data, policies, a researcher and the demo study),
//! each holding `--idle-studies` finished studies written into its audit database before it
//! starts (the way the service records them: received, approved, ready, run started, run
//! finished). It measures, in this order:
//!
//! 1. idle: the CPU the stations use over `--seconds` while nothing happens (utime + stime
//!    from `/proc/PID/stat`, as % of one core);
//! 2. unloaded: the demo study's time from submission to the researcher holding the
//!    reconstructed results (median of `--runs` studies, each with a fresh id; the bench
//!    plays the GP network's steward, who approves), and the latency of the steward's
//!    `GET /studies` and of a station's `GET /peer/studies/{id}` meanwhile;
//! 3. loaded: the same study again while `--slow` slow connections hold the stations' HTTPS
//!    ports (half idle TCP, a quarter a partial TLS ClientHello, a quarter headers that never
//!    end after a TLS handshake without a client certificate; reopened whenever a station
//!    drops them; spread over many 127.x.y.z source addresses, as a station admits at most
//!    64 connections per address), `--spam` submissions a second arrive (half from unknown
//!    clients: no certificate or an untrusted one, expected 401; half from the known
//!    researcher with a junk body, expected 429 past 10 a minute), and `--junk` connections
//!    send junk to the stations' computation ports whenever they listen. The load lasts at
//!    least `--seconds` and until the study ended. Reported: the study's time against the
//!    unloaded one, the latencies again, and each station's peak memory (VmHWM) and peak of
//!    open descriptors.
//!
//! Linux only (it reads `/proc`). Nothing patient-level is printed: the study's results are
//! fetched and reconstructed (that is when they are "available") but not shown. The station
//! processes are killed on every way out (their handle kills them when dropped, also on an
//! error or a panic); the load's threads stop with the run. The folder is removed at the end
//! unless `--dir` was given or the run failed (then its stations' logs are kept and named).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use tessera_net::identity::{parse_fingerprint, Identity};
use tessera_station::client::Client;
use tessera_station::policy::Decision;
use tessera_station::runs::HeldShares;
use tessera_station::Approvals;

use super::engine::median;
use crate::demo::{self, Setup, STATIONS};

/// Options of the service benchmark.
#[derive(Args, Debug)]
pub struct ServiceArgs {
    /// Slow connections held open to the stations' HTTPS ports during the load.
    #[arg(long, default_value_t = 2000)]
    pub slow: usize,
    /// Submissions a second during the load (half unknown clients, half the researcher).
    #[arg(long, default_value_t = 50)]
    pub spam: u32,
    /// Junk connections to the stations' computation ports during the load.
    #[arg(long, default_value_t = 50)]
    pub junk: usize,
    /// Finished studies each station holds (written before it starts).
    #[arg(long, default_value_t = 1000)]
    pub idle_studies: usize,
    /// Seconds of the idle CPU measurement, and the least the load lasts.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Unloaded runs of the study (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Folder for the stations (kept afterwards; default: a temporary folder, removed).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

/// The longest one study may take before the bench gives up on it.
const STUDY_DEADLINE: Duration = Duration::from_secs(300);
/// Timeout of every request the bench makes (connect, each read and write).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The study the peers' sample requests ask about: the first unloaded one (not yet
/// submitted during the first of those requests: a 404, counted apart).
const PEER_SAMPLE: &str = "bench-unloaded-1";
/// A station whose CPU stays under this % of a core for two seconds has finished starting.
const SETTLED_PERCENT: f64 = 5.0;
/// Threads sending one kind of spam (each waits for its answer, at most
/// [`REQUEST_TIMEOUT`]).
const SPAM_SENDERS: usize = 64;

/// Loopback addresses the unknown clients' submissions come from (127.3.0.x).
const SPAM_SOURCES: usize = 64;
/// Slow connections per source address (under the listener's 16 handshakes per address).
const SLOW_PER_SOURCE: usize = 8;

/// Runs the benchmark and prints its table.
pub fn run(args: &ServiceArgs) -> Result<(), String> {
    if !Path::new("/proc/self/stat").exists() {
        return Err("tessera bench service reads /proc and runs on Linux only".into());
    }
    let nofile = raise_nofile();
    let dir = demo::fresh_dir(&args.dir)?;
    let result = measure(args, &dir, nofile);
    match (&result, &args.dir) {
        (Ok(_), None) => {
            let _ = std::fs::remove_dir_all(&dir);
        }
        (Err(_), _) => eprintln!("the stations' folders and logs: {}", dir.display()),
        _ => {}
    }
    result
}

/// Everything but the folder's fate.
fn measure(args: &ServiceArgs, dir: &Path, nofile: Option<u64>) -> Result<(), String> {
    let setup = demo::prepare(dir)?;
    let study_text = std::fs::read_to_string(&setup.study).map_err(|e| e.to_string())?;
    let populate_start = Instant::now();
    populate(&setup, &study_text, args.idle_studies)?;
    let populate_secs = populate_start.elapsed().as_secs_f64();
    let stations_started = Instant::now();
    let stations = demo::start(&setup, &Default::default())?;
    let pids = stations.pids();
    let ctx = Context::new(&setup, &study_text)?;

    // Startup: a station visits every study once more after it starts (asking the other
    // stations about it) before it knows that it is done with it. Idle is measured after
    // that: once every station used less than SETTLED_PERCENT of a core over two seconds.
    let hz = clock_ticks_per_second();
    let ticks = || -> Result<Vec<u64>, String> { pids.iter().map(|&p| cpu_ticks(p)).collect() };
    let mut last = [ticks()?, ticks()?];
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let now = ticks()?;
        let quiet = now
            .iter()
            .zip(&last[0])
            .all(|(n, b)| (n - b) as f64 / hz / 2.0 * 100.0 < SETTLED_PERCENT);
        last = [last[1].clone(), now];
        if quiet || stations_started.elapsed() > STUDY_DEADLINE {
            break;
        }
    }
    let startup_secs = stations_started.elapsed().as_secs_f64();
    let startup_cpu: Vec<f64> = last[1].iter().map(|&t| t as f64 / hz).collect();

    // 1. Idle.
    let window = Duration::from_secs(args.seconds.max(1));
    let before: Vec<u64> = ticks()?;
    let idle_start = Instant::now();
    std::thread::sleep(window);
    let after: Vec<u64> = ticks()?;
    let idle_secs = idle_start.elapsed().as_secs_f64();
    let idle_cpu: Vec<f64> = before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a - b) as f64 / hz / idle_secs * 100.0)
        .collect();

    // 2. Unloaded.
    let stop = Arc::new(AtomicBool::new(false));
    let _stops = StopOnDrop(Arc::clone(&stop));
    let unloaded_lat = Latencies::default();
    let sampler = ctx.sample_latencies(PEER_SAMPLE, &unloaded_lat, &stop);
    let mut unloaded = Vec::new();
    for r in 1..=args.runs.max(1) {
        match ctx.run_study(&format!("bench-unloaded-{r}"))? {
            Outcome::Finished(s) => unloaded.push(s),
            Outcome::Failed(why, _) => {
                return Err(format!("the unloaded study {r} did not finish: {why}"))
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    join(sampler);
    let unloaded_median = median(&unloaded);
    let hwm_before: Vec<u64> = pids.iter().map(|&p| status_kb(p, "VmHWM:")).collect();
    let fds_before: Vec<usize> = pids.iter().map(|&p| fd_count(p)).collect();

    // 3. Loaded.
    let stop = Arc::new(AtomicBool::new(false));
    // An early error return stops the load threads too.
    let _stops_load = StopOnDrop(Arc::clone(&stop));
    let mut threads = Vec::new();
    let slow = Arc::new(PoolStats::default());
    let headers = Arc::new(PoolStats::default());
    let junk = Arc::new(PoolStats::default());
    let api: Vec<SocketAddr> = setup
        .api
        .iter()
        .map(|&p| SocketAddr::from((Ipv4Addr::LOCALHOST, p)))
        .collect();
    let mpc: Vec<SocketAddr> = setup
        .mpc
        .iter()
        .map(|&p| SocketAddr::from((Ipv4Addr::LOCALHOST, p)))
        .collect();
    // Half idle, a quarter a partial ClientHello, a quarter partial headers after a TLS
    // handshake (whose wait for a handshake slot gets threads of their own).
    let tls: Vec<Arc<rustls::ClientConfig>> = setup
        .fps
        .iter()
        .map(|fp| {
            let pin = parse_fingerprint(fp).map_err(|e| e.to_string())?;
            tessera_net::https::client_config(pin, None).map_err(|e| e.to_string())
        })
        .collect::<Result<_, String>>()?;
    let (mut raw_slots, mut tls_slots) = (Vec::new(), Vec::new());
    for i in 0..args.slow {
        let (to, from) = (api[i % 3], Some(source_address(i)));
        match i % 4 {
            1 => raw_slots.push(PoolSlot::new(to, from, Payload::Raw(PARTIAL_HELLO))),
            3 => tls_slots.push(PoolSlot::new(
                to,
                from,
                Payload::AfterTls(Arc::clone(&tls[i % 3]), PARTIAL_HEADERS),
            )),
            _ => raw_slots.push(PoolSlot::new(to, from, Payload::Raw(&[]))),
        }
    }
    threads.extend(spawn_pool(raw_slots, 8, &slow, &stop));
    threads.extend(spawn_pool(tls_slots, 16, &headers, &stop));
    let junk_slots: Vec<PoolSlot> = (0..args.junk)
        .map(|i| PoolSlot::new(mpc[i % 3], None, Payload::Raw(JUNK)))
        .collect();
    threads.extend(spawn_pool(junk_slots, 2, &junk, &stop));
    let procs = Arc::new(Mutex::new(vec![0usize; 3]));
    threads.push(sample_fds(pids.clone(), Arc::clone(&procs), &stop));
    let loaded_lat = Latencies::default();
    let loaded_id = "bench-loaded";
    threads.push(ctx.sample_latencies(PEER_SAMPLE, &loaded_lat, &stop));
    let unknown_spam = Arc::new(Mutex::new(BTreeMap::new()));
    let researcher_spam = Arc::new(Mutex::new(BTreeMap::new()));
    let load_start = Instant::now();
    // The CPU the stations and this process (the load generator) use while loaded.
    let me = std::process::id();
    let cpu_at_start = (ticks()?, cpu_ticks(me)?);
    // Let the slow connections pile up before the study is submitted; the unknown clients'
    // spam starts now, the researcher's after the study is in (past 10 a minute the
    // researcher's own study would be refused, as any other submission).
    threads.extend(ctx.spam(args.spam / 2 + args.spam % 2, false, &unknown_spam, &stop));
    std::thread::sleep(Duration::from_secs(2));
    let loaded = ctx.run_study_with(loaded_id, || {
        threads.extend(ctx.spam(args.spam / 2, true, &researcher_spam, &stop));
    })?;
    while load_start.elapsed() < Duration::from_secs(args.seconds) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let load_secs = load_start.elapsed().as_secs_f64();
    let percent = |before: u64, after: u64| (after - before) as f64 / hz / load_secs * 100.0;
    let loaded_cpu: Vec<f64> = ticks()?
        .into_iter()
        .zip(&cpu_at_start.0)
        .map(|(a, &b)| percent(b, a))
        .collect();
    let generator_cpu = percent(cpu_at_start.1, cpu_ticks(me)?);
    let hwm: Vec<u64> = pids.iter().map(|&p| status_kb(p, "VmHWM:")).collect();
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        join(t);
    }
    drop(stations);

    let report = Report {
        args,
        nofile,
        populate_secs,
        startup_secs,
        startup_cpu,
        idle_cpu,
        idle_secs,
        unloaded,
        unloaded_median,
        unloaded_lat: unloaded_lat.take(),
        loaded,
        load_secs,
        loaded_cpu,
        generator_cpu,
        loaded_lat: loaded_lat.take(),
        slow: slow.snapshot(),
        headers: headers.snapshot(),
        junk: junk.snapshot(),
        unknown_spam: unknown_spam.lock().map(|m| m.clone()).unwrap_or_default(),
        researcher_spam: researcher_spam
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default(),
        hwm_before,
        hwm,
        fds_before,
        fds_peak: procs.lock().map(|v| v.clone()).unwrap_or_default(),
    };
    report.print();
    Ok(())
}

fn join(t: JoinHandle<()>) {
    let _ = t.join();
}

/// Writes `n` finished studies (ids `bench-idle-0001`, …; the demo study's text under each)
/// into each station's audit database, as the service records them: received (approved by
/// the policy's rule, or pending and approved by the steward at the GP network), ready, run
/// started, run finished holding a placeholder document for the researcher.
fn populate(setup: &Setup, study_text: &str, n: usize) -> Result<(), String> {
    if n == 0 {
        return Ok(());
    }
    let rid = Identity::load(&setup.researcher).map_err(|e| e.to_string())?;
    let researcher = tessera_station::api::researcher_actor("researcher", &rid.fingerprint());
    let workers: Vec<_> = STATIONS
        .iter()
        .map(|&station| {
            let path = setup
                .dir
                .join(station)
                .join(tessera_station::config::DEFAULT_AUDIT);
            let text = study_text.to_string();
            let from = if station == "registry" {
                researcher.clone()
            } else {
                "station registry".to_string()
            };
            std::thread::spawn(move || populate_one(&path, station, &text, &from, n))
        })
        .collect();
    for w in workers {
        w.join()
            .map_err(|_| "writing the finished studies failed".to_string())??;
    }
    Ok(())
}

fn populate_one(path: &Path, me: &str, text: &str, from: &str, n: usize) -> Result<(), String> {
    let err = |e: tessera_station::StationError| format!("{me}: {e}");
    let mut a = Approvals::open(path).map_err(err)?;
    for i in 1..=n {
        let id = format!("bench-idle-{i:04}");
        let text = with_id(text, &id);
        let study = tessera_study::validate::parse_at_station("study.toml", &text, me)
            .map_err(|e| format!("{me}: the demo study: {e}"))?;
        if me == "gp" {
            let d = Decision::NeedsPerson {
                why: "no automatic rule covers it".into(),
            };
            a.receive(&study, &d, from).map_err(err)?;
            a.approve(&id, "gp steward (bench)").map_err(err)?;
        } else {
            let d = Decision::Approve {
                rule: "approved researcher".into(),
            };
            a.receive(&study, &d, from).map_err(err)?;
        }
        a.mark_ready(&id).map_err(err)?;
        let details = json!({
            "compute": study.compute_parties(),
            "data": study.data.iter().map(|d| d.party.as_str()).collect::<Vec<_>>(),
            "analyses": study.analyses.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        });
        a.start(&id, me, details).map_err(err)?;
        // A placeholder, not results: nobody fetches these studies.
        let doc = HeldShares {
            json: r#"{"bench": "placeholder"}"#.to_string(),
        };
        let details = json!({
            "linked_rows": 0,
            "analyses": [],
            "held_for": [{
                "recipient": "researcher",
                "shares_sha256": tessera_study::format::text_digest(&doc.json),
            }],
        });
        a.finish(&id, me, details, &[("researcher".to_string(), doc)])
            .map_err(err)?;
    }
    Ok(())
}

/// The demo study's text under study id `id`.
fn with_id(text: &str, id: &str) -> String {
    text.replacen("id = \"tessera-demo\"", &format!("id = \"{id}\""), 1)
}

/// How one study ended: seconds from its submission to the results fetched, or why not.
enum Outcome {
    Finished(f64),
    Failed(String, f64),
}

/// Sets its flag when dropped: the threads watching it stop, also when the bench returns
/// early with an error.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// What the bench's clients need: addresses, pins, identities, the stewards' tokens.
struct Context {
    setup: Setup,
    study_text: String,
    researcher: Identity,
    stations: Vec<Identity>,
    /// An identity no station trusts.
    stranger: Identity,
    tokens: Vec<String>,
}

impl Context {
    fn new(setup: &Setup, study_text: &str) -> Result<Self, String> {
        let load = |p: &Path| Identity::load(p).map_err(|e| format!("{}: {e}", p.display()));
        let tokens = STATIONS
            .iter()
            .map(|s| {
                std::fs::read_to_string(setup.dir.join(s).join("steward.token"))
                    .map(|t| format!("Bearer {}", t.trim()))
                    .map_err(|e| format!("the {s} station's steward token: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Context {
            setup: Setup {
                dir: setup.dir.clone(),
                api: setup.api.clone(),
                mpc: setup.mpc.clone(),
                fps: setup.fps.clone(),
                researcher: setup.researcher.clone(),
                study: setup.study.clone(),
                profile: setup.profile.clone(),
            },
            study_text: study_text.to_string(),
            researcher: load(&setup.researcher)?,
            stations: STATIONS
                .iter()
                .map(|s| load(&setup.dir.join(s).join("identity")))
                .collect::<Result<_, _>>()?,
            stranger: Identity::generate("stranger").map_err(|e| e.to_string())?,
            tokens,
        })
    }

    /// A sender of submissions to station `i` presenting `identity`, from loopback
    /// address `k` of the spam's range (the researcher's own when `identity` is theirs).
    fn sender(&self, i: usize, identity: Option<&Identity>, k: usize) -> Result<Sender, String> {
        let pin = parse_fingerprint(&self.setup.fps[i]).map_err(|e| e.to_string())?;
        let config = tessera_net::https::client_config(pin, identity).map_err(|e| e.to_string())?;
        let is_researcher =
            identity.is_some_and(|id| id.fingerprint() == self.researcher.fingerprint());
        let from = if is_researcher {
            Ipv4Addr::new(127, 4, 0, 1)
        } else {
            Ipv4Addr::new(127, 3, 0, (k % 250 + 1) as u8)
        };
        let to: SocketAddr = format!("127.0.0.1:{}", self.setup.api[i])
            .parse()
            .map_err(|e| format!("{e}"))?;
        Ok(Sender {
            to,
            from: IpAddr::V4(from),
            config,
        })
    }

    /// A client of station `i` presenting `identity`.
    fn client(&self, i: usize, identity: Option<&Identity>) -> Result<Client, String> {
        let pin = parse_fingerprint(&self.setup.fps[i]).map_err(|e| e.to_string())?;
        Client::new(
            &format!("127.0.0.1:{}", self.setup.api[i]),
            pin,
            identity,
            REQUEST_TIMEOUT,
        )
        .map_err(|e| e.to_string())
    }

    fn run_study(&self, id: &str) -> Result<Outcome, String> {
        self.run_study_with(id, || {})
    }

    /// Submits the demo study as `id` to the registry, calls `submitted` once it is in,
    /// approves it at the GP network as its steward, follows it at the registry and fetches
    /// the results when it finished. An error is the bench's own failure; a study that did
    /// not finish is an [`Outcome::Failed`].
    fn run_study_with(&self, id: &str, mut submitted: impl FnMut()) -> Result<Outcome, String> {
        let registry = self.client(0, Some(&self.researcher))?;
        let gp = self.client(1, None)?;
        let text = with_id(&self.study_text, id);
        let start = Instant::now();
        let deadline = start + STUDY_DEADLINE;
        let failed = |why: String| Ok(Outcome::Failed(why, start.elapsed().as_secs_f64()));
        // Submitting (retried while the connection fails: the load may delay it).
        loop {
            match registry.request("POST", "/studies", &[], text.as_bytes()) {
                Ok(a) if a.status == 201 => break,
                Ok(a) => return failed(format!("submission answered {}: {}", a.status, a.text())),
                Err(e) if Instant::now() < deadline => {
                    eprintln!("bench: submitting {id}: {e}; again");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return failed(format!("could not submit: {e}")),
            }
        }
        submitted();
        let path = format!("/studies/{id}");
        let gp_auth = [("Authorization", self.tokens[1].as_str())];
        let mut approved = false;
        loop {
            if Instant::now() > deadline {
                return failed(format!(
                    "not finished within {} s",
                    STUDY_DEADLINE.as_secs()
                ));
            }
            // Any request may fail under load: the next visit tries again.
            if let Ok(a) = registry.request("GET", &path, &[], &[]) {
                let st = a.json();
                match st["run"]["state"].as_str().unwrap_or("") {
                    "finished" => break,
                    s @ ("aborted" | "stopped") => {
                        return failed(format!(
                            "{s}: {}",
                            st["run"]["reason"].as_str().unwrap_or("no reason given")
                        ))
                    }
                    _ => {}
                }
            }
            if !approved {
                if let Ok(a) = gp.request("GET", &path, &gp_auth, &[]) {
                    if a.json()["state"] == "pending" {
                        let body = br#"{"by": "gp steward (bench)"}"#;
                        match gp.request("POST", &format!("{path}/approve"), &gp_auth, body) {
                            Ok(a) if a.status == 200 => approved = true,
                            Ok(a) => return failed(format!("approval at gp: {}", a.text())),
                            Err(_) => {}
                        }
                    } else if a.json()["state"] == "approved" {
                        approved = true;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let creds = tessera_station::recipient::Credentials {
            identity: Some(&self.researcher),
            ..Default::default()
        };
        let pin = parse_fingerprint(&self.setup.fps[0]).map_err(|e| e.to_string())?;
        let at = format!("127.0.0.1:{}", self.setup.api[0]);
        loop {
            match tessera_station::recipient::fetch(id, &at, pin, &creds, REQUEST_TIMEOUT) {
                // Reconstructed (and checked against the three stations' shares); not shown.
                Ok(tessera_station::recipient::Fetched::Results(..)) => break,
                Ok(tessera_station::recipient::Fetched::Answer(name, status, body)) => {
                    return failed(format!("results refused by {name} ({status}): {body}"))
                }
                Err(e) if Instant::now() < deadline => {
                    eprintln!("bench: fetching {id}'s results: {e}; again");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return failed(format!("results not fetched: {e}")),
            }
        }
        Ok(Outcome::Finished(start.elapsed().as_secs_f64()))
    }

    /// A thread that, until `stop`, times the steward's `GET /studies` and a station's
    /// `GET /peer/studies/{id}` at each station in turn, ten times a second.
    fn sample_latencies(
        &self,
        id: &str,
        into: &Latencies,
        stop: &Arc<AtomicBool>,
    ) -> JoinHandle<()> {
        // Each station's steward client with its token, and a peer's client of it; a
        // station whose clients cannot be made is left out (none: nothing is sampled).
        let clients: Vec<(Client, Client, String)> = (0..3)
            .filter_map(|i| {
                let steward = self.client(i, None).ok()?;
                let peer = self.client(i, Some(&self.stations[(i + 1) % 3])).ok()?;
                Some((steward, peer, self.tokens.get(i)?.clone()))
            })
            .collect();
        let path = format!("/peer/studies/{id}");
        let (into, stop) = (into.clone(), Arc::clone(stop));
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) && !clients.is_empty() {
                let (steward, peer, token) = &clients[i % clients.len()];
                let auth = [("Authorization", token.as_str())];
                let t = Instant::now();
                let a = steward.request("GET", "/studies", &auth, &[]);
                into.record(true, t.elapsed(), a.map(|a| a.status));
                let t = Instant::now();
                let a = peer.request("GET", &path, &[], &[]);
                into.record(false, t.elapsed(), a.map(|a| a.status));
                i += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    }

    /// Submits `per_second` studies a second, round the stations, until `stop`: as the
    /// researcher (a junk body) or as unknown clients (no certificate, or an untrusted one,
    /// alternately; the demo study's text). A ticker hands each submission to one of
    /// [`SPAM_SENDERS`] sender threads, so that slow answers do not lower the rate offered;
    /// a tick finding every sender waiting for an answer is counted as `not sent`. Counts
    /// the answers by status.
    fn spam(
        &self,
        per_second: u32,
        researcher: bool,
        counts: &Arc<Mutex<BTreeMap<String, usize>>>,
        stop: &Arc<AtomicBool>,
    ) -> Vec<JoinHandle<()>> {
        if per_second == 0 {
            return Vec::new();
        }
        // From addresses of their own, as a researcher's or a stranger's machine would be:
        // the researcher from 127.4.0.1, unknown clients from 64 addresses 127.3.0.x
        // (the steward and the stations call from 127.0.0.1).
        let clients: Vec<Sender> = (0..3)
            .flat_map(|i| {
                if researcher {
                    vec![self.sender(i, Some(&self.researcher), 0)]
                } else {
                    (0..SPAM_SOURCES)
                        .map(|k| {
                            let who = (k % 2 == 1).then_some(&self.stranger);
                            self.sender(i, who, k)
                        })
                        .collect()
                }
            })
            .filter_map(Result::ok)
            .collect();
        let clients = Arc::new(clients);
        let body: Arc<Vec<u8>> = Arc::new(if researcher {
            b"[study]\nid = \"spam\"\n# not a study\n".to_vec()
        } else {
            with_id(&self.study_text, "spam").into_bytes()
        });
        let count = |counts: &Mutex<BTreeMap<String, usize>>, key: String| {
            if let Ok(mut m) = counts.lock() {
                *m.entry(key).or_default() += 1;
            }
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<usize>(0);
        let rx = Arc::new(Mutex::new(rx));
        let mut threads: Vec<JoinHandle<()>> = (0..SPAM_SENDERS)
            .map(|_| {
                let (rx, clients, body) =
                    (Arc::clone(&rx), Arc::clone(&clients), Arc::clone(&body));
                let counts = Arc::clone(counts);
                std::thread::spawn(move || loop {
                    // The ticker's end (at `stop`) closes the channel.
                    let next = rx.lock().map(|r| r.recv());
                    let Ok(Ok(k)) = next else { return };
                    let key = match clients[k % clients.len()].post_study(&body) {
                        Ok(status) => status.to_string(),
                        Err(_) => "no answer".to_string(),
                    };
                    count(&counts, key);
                })
            })
            .collect();
        let (counts, stop) = (Arc::clone(counts), Arc::clone(stop));
        threads.push(std::thread::spawn(move || {
            let interval = Duration::from_secs_f64(1.0 / f64::from(per_second));
            let mut next = Instant::now();
            let mut k = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let now = Instant::now();
                if now < next {
                    std::thread::sleep((next - now).min(Duration::from_millis(100)));
                    continue;
                }
                next += interval;
                if tx.try_send(k).is_err() {
                    count(&counts, "not sent".to_string());
                }
                k += 1;
            }
        }));
        threads
    }
}

/// Latencies of the steward's and the peers' requests, in milliseconds, with the failures
/// (no answer) counted apart.
#[derive(Clone, Default)]
struct Latencies(Arc<Mutex<LatencyData>>);

#[derive(Clone, Default)]
struct LatencyData {
    steward: Vec<f64>,
    peer: Vec<f64>,
    steward_failed: usize,
    peer_failed: usize,
    /// Answers with another status than 200.
    not_ok: usize,
}

impl Latencies {
    fn record<E>(&self, steward: bool, took: Duration, status: Result<u16, E>) {
        let Ok(mut d) = self.0.lock() else { return };
        let ms = took.as_secs_f64() * 1000.0;
        match (steward, status) {
            (true, Ok(s)) => {
                d.steward.push(ms);
                d.not_ok += usize::from(s != 200);
            }
            (false, Ok(s)) => {
                d.peer.push(ms);
                d.not_ok += usize::from(s != 200);
            }
            (true, Err(_)) => d.steward_failed += 1,
            (false, Err(_)) => d.peer_failed += 1,
        }
    }

    fn take(&self) -> LatencyData {
        self.0.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

/// The `q` quantile (0..1) of `v`, nearest rank; NaN when empty.
fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    s[rank - 1]
}

/// What a pool of held connections did.
#[derive(Default)]
struct PoolStats {
    open: AtomicUsize,
    peak: AtomicUsize,
    opened: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

#[derive(Clone, Copy, Default)]
struct PoolSnapshot {
    peak: usize,
    opened: u64,
    failed: u64,
    dropped: u64,
}

impl PoolStats {
    fn snapshot(&self) -> PoolSnapshot {
        PoolSnapshot {
            peak: self.peak.load(Ordering::SeqCst),
            opened: self.opened.load(Ordering::SeqCst),
            failed: self.failed.load(Ordering::SeqCst),
            dropped: self.dropped.load(Ordering::SeqCst),
        }
    }
}

/// The first bytes of a TLS ClientHello announcing 512 bytes, which never come.
const PARTIAL_HELLO: &[u8] = &[
    0x16, 0x03, 0x01, 0x02, 0x00, // handshake record of 512 bytes
    0x01, 0x00, 0x01, 0xfc, // ClientHello of 508 bytes
    0x03, 0x03, // TLS 1.2 in the hello
    0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, // the first bytes of the random
];

/// What a junk connection to a computation port sends.
const JUNK: &[u8] = b"GET / HTTP/1.1\r\nHost: junk\r\n\r\n\x00\x01\x02\x03junk junk junk junk";

/// What a slow connection sends after its TLS handshake: headers that never end.
const PARTIAL_HEADERS: &[u8] = b"GET /studies HTTP/1.1\r\nHost: tessera-station\r\nX-Slow: a";

/// What a held connection sends once connected.
enum Payload {
    /// These bytes (none: an idle connection).
    Raw(&'static [u8]),
    /// A TLS handshake with this configuration (no client certificate), then these bytes.
    AfterTls(Arc<rustls::ClientConfig>, &'static [u8]),
}

/// One spammer: submissions to one station's API from one loopback address (which the
/// station client cannot choose).
struct Sender {
    to: SocketAddr,
    from: IpAddr,
    config: Arc<rustls::ClientConfig>,
}

impl Sender {
    /// `POST /studies` with `body` on a new connection; the answer's status.
    fn post_study(&self, body: &[u8]) -> std::io::Result<u16> {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        sock.bind(&SocketAddr::new(self.from, 0).into())?;
        sock.connect_timeout(&self.to.into(), Duration::from_secs(2))?;
        let s: TcpStream = sock.into();
        s.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        s.set_write_timeout(Some(REQUEST_TIMEOUT))?;
        let name = rustls::pki_types::ServerName::try_from(tessera_net::https::SERVER_NAME)
            .map_err(std::io::Error::other)?;
        let conn = rustls::ClientConnection::new(Arc::clone(&self.config), name)
            .map_err(std::io::Error::other)?;
        let mut tls = rustls::StreamOwned::new(conn, s);
        let head = format!(
            "POST /studies HTTP/1.1\r\nHost: tessera-station\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        tls.write_all(head.as_bytes())?;
        tls.write_all(body)?;
        tls.flush()?;
        // "HTTP/1.1 NNN": the status is all the bench counts.
        let mut line = [0u8; 12];
        tls.read_exact(&mut line)?;
        std::str::from_utf8(&line[9..12])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| std::io::Error::other("not an HTTP answer"))
    }
}

/// The source address of slow connection `i`: 127.1.x.y, [`SLOW_PER_SOURCE`] connections
/// each (Linux routes all of 127/8 to the loopback interface).
fn source_address(i: usize) -> IpAddr {
    let n = i / SLOW_PER_SOURCE;
    IpAddr::V4(Ipv4Addr::new(127, 1, (n / 250) as u8, (n % 250 + 1) as u8))
}

/// One connection of a pool: where it goes, from where, what it sends and then holds.
struct PoolSlot {
    to: SocketAddr,
    from: Option<IpAddr>,
    payload: Payload,
    stream: Option<Box<dyn Read + Send>>,
    retry_at: Instant,
}

impl PoolSlot {
    fn new(to: SocketAddr, from: Option<IpAddr>, payload: Payload) -> Self {
        PoolSlot {
            to,
            from,
            payload,
            stream: None,
            retry_at: Instant::now(),
        }
    }

    /// Connects (from its source address if any) and sends the payload (a TLS handshake
    /// waits at most 2 s for each answer); the stream is then non-blocking.
    fn open(&self) -> std::io::Result<Box<dyn Read + Send>> {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        if let Some(ip) = self.from {
            sock.bind(&SocketAddr::new(ip, 0).into())?;
        }
        sock.connect_timeout(&self.to.into(), Duration::from_millis(500))?;
        let mut s: TcpStream = sock.into();
        s.set_write_timeout(Some(Duration::from_millis(500)))?;
        match &self.payload {
            Payload::Raw(bytes) => {
                if !bytes.is_empty() {
                    s.write_all(bytes)?;
                }
                s.set_nonblocking(true)?;
                Ok(Box::new(s))
            }
            Payload::AfterTls(config, bytes) => {
                s.set_read_timeout(Some(Duration::from_secs(2)))?;
                s.set_write_timeout(Some(Duration::from_secs(2)))?;
                let name = rustls::pki_types::ServerName::try_from(tessera_net::https::SERVER_NAME)
                    .map_err(std::io::Error::other)?;
                let conn = rustls::ClientConnection::new(Arc::clone(config), name)
                    .map_err(std::io::Error::other)?;
                let mut tls = rustls::StreamOwned::new(conn, s);
                // The first write completes the handshake.
                tls.write_all(bytes)?;
                tls.flush()?;
                tls.sock.set_nonblocking(true)?;
                Ok(Box::new(tls))
            }
        }
    }
}

/// `threads` threads holding `slots` open until `stop`: each connection is (re)opened
/// whenever it is closed or could not be opened, and checked (without waiting) every 100 ms.
fn spawn_pool(
    slots: Vec<PoolSlot>,
    threads: usize,
    stats: &Arc<PoolStats>,
    stop: &Arc<AtomicBool>,
) -> Vec<JoinHandle<()>> {
    let mut parts: Vec<Vec<PoolSlot>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, s) in slots.into_iter().enumerate() {
        parts[i % threads].push(s);
    }
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|mut part| {
            let (stats, stop) = (Arc::clone(stats), Arc::clone(stop));
            std::thread::spawn(move || {
                let mut buf = [0u8; 512];
                while !stop.load(Ordering::SeqCst) {
                    for slot in &mut part {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        match &mut slot.stream {
                            Some(s) => {
                                let closed = match s.read(&mut buf) {
                                    Ok(0) => true,
                                    Ok(_) => false,
                                    Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                                };
                                if closed {
                                    slot.stream = None;
                                    stats.open.fetch_sub(1, Ordering::SeqCst);
                                    stats.dropped.fetch_add(1, Ordering::SeqCst);
                                    slot.retry_at = Instant::now() + Duration::from_millis(50);
                                }
                            }
                            None if Instant::now() >= slot.retry_at => match slot.open() {
                                Ok(s) => {
                                    slot.stream = Some(s);
                                    stats.opened.fetch_add(1, Ordering::SeqCst);
                                    let open = stats.open.fetch_add(1, Ordering::SeqCst) + 1;
                                    stats.peak.fetch_max(open, Ordering::SeqCst);
                                }
                                Err(_) => {
                                    stats.failed.fetch_add(1, Ordering::SeqCst);
                                    slot.retry_at = Instant::now() + Duration::from_millis(200);
                                }
                            },
                            None => {}
                        }
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        })
        .collect()
}

/// A thread keeping the peak of each process' open descriptors until `stop`.
fn sample_fds(
    pids: Vec<u32>,
    peak: Arc<Mutex<Vec<usize>>>,
    stop: &Arc<AtomicBool>,
) -> JoinHandle<()> {
    let stop = Arc::clone(stop);
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            for (i, &p) in pids.iter().enumerate() {
                let n = fd_count(p);
                if let Ok(mut v) = peak.lock() {
                    v[i] = v[i].max(n);
                }
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    })
}

/// Open descriptors of process `pid` (0 when unreadable).
fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// A `kB` field of `/proc/PID/status` (0 when unreadable).
fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// utime + stime of process `pid` (all its threads), in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // The command name (field 2) may hold spaces; the fields after its ')' are plain.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("unreadable /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the whole line; `rest` starts at field 3.
    let field = |n: usize| -> Result<u64, String> {
        fields
            .get(n - 3)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("/proc/{pid}/stat: no field {n}"))
    };
    Ok(field(14)? + field(15)?)
}

/// Clock ticks a second (`sysconf(_SC_CLK_TCK)`; 100 where it cannot be asked).
fn clock_ticks_per_second() -> f64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: sysconf reads a constant of the system and has no preconditions.
        let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if t > 0 {
            return t as f64;
        }
    }
    100.0
}

/// Raises this process' soft limit of open files to its hard limit (the stations inherit
/// it); returns the limit now in force, if known. Elsewhere than glibc Linux, raise it with
/// `ulimit -n` before running the bench.
fn raise_nofile() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct passed.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 {
                return None;
            }
            if l.rlim_cur < l.rlim_max {
                let want = libc::rlimit {
                    rlim_cur: l.rlim_max,
                    rlim_max: l.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                    l = want;
                }
            }
        }
        Some(l.rlim_cur)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

/// Everything measured, for printing.
struct Report<'a> {
    args: &'a ServiceArgs,
    nofile: Option<u64>,
    populate_secs: f64,
    startup_secs: f64,
    startup_cpu: Vec<f64>,
    idle_cpu: Vec<f64>,
    idle_secs: f64,
    unloaded: Vec<f64>,
    unloaded_median: f64,
    unloaded_lat: LatencyData,
    loaded: Outcome,
    load_secs: f64,
    /// Each station's CPU while loaded, % of a core.
    loaded_cpu: Vec<f64>,
    /// This process's (the load generator's) CPU while loaded, % of a core.
    generator_cpu: f64,
    loaded_lat: LatencyData,
    slow: PoolSnapshot,
    headers: PoolSnapshot,
    junk: PoolSnapshot,
    unknown_spam: BTreeMap<String, usize>,
    researcher_spam: BTreeMap<String, usize>,
    hwm_before: Vec<u64>,
    hwm: Vec<u64>,
    fds_before: Vec<usize>,
    fds_peak: Vec<usize>,
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn statuses(m: &BTreeMap<String, usize>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(k, n)| format!("{k} ×{}", thousands(*n as u64)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

impl Report<'_> {
    fn print(&self) {
        let a = self.args;
        let per = |v: &dyn Fn(usize) -> String| -> String {
            (0..3).map(|i| format!("{:>11}", v(i))).collect::<String>()
        };
        println!(
            "tessera bench service: three `tessera station serve` processes on loopback (the demo's \
             stations), each holding {} finished studies (written in {:.1} s); open-files limit {}",
            thousands(a.idle_studies as u64),
            self.populate_secs,
            self.nofile.map_or("unknown".into(), thousands)
        );
        println!("\n{:<52}{}", "", per(&|i| STATIONS[i].to_string()));
        println!(
            "{:<52}{}",
            format!(
                "startup until quiet ({:.1} s), CPU seconds",
                self.startup_secs
            ),
            per(&|i| format!("{:.2}", self.startup_cpu[i]))
        );
        println!(
            "{:<52}{}",
            format!("idle CPU over {:.0} s, % of a core", self.idle_secs),
            per(&|i| format!("{:.2}", self.idle_cpu[i]))
        );
        let runs: Vec<String> = self.unloaded.iter().map(|s| format!("{s:.2}")).collect();
        println!(
            "\nunloaded study, submit → results fetched     {:>8.2} s  (median of {}: {} s)",
            self.unloaded_median,
            self.unloaded.len(),
            runs.join(", ")
        );
        let lat = |name: &str, d: &LatencyData| {
            println!(
                "  steward GET /studies{:<24}p50 {:>8.1} ms  p99 {:>8.1} ms  ({} requests, {} no answer)",
                name,
                quantile(&d.steward, 0.5),
                quantile(&d.steward, 0.99),
                d.steward.len(),
                d.steward_failed
            );
            println!(
                "  peer GET /peer/studies/ID{:<19}p50 {:>8.1} ms  p99 {:>8.1} ms  ({} requests, {} no answer)",
                name,
                quantile(&d.peer, 0.5),
                quantile(&d.peer, 0.99),
                d.peer.len(),
                d.peer_failed
            );
        };
        lat(" (unloaded)", &self.unloaded_lat);
        println!(
            "\nloaded for {:.1} s: {} slow connections to the HTTPS ports, {} submissions/s, \
             {} junk connections to the computation ports",
            self.load_secs,
            thousands(a.slow as u64),
            a.spam,
            a.junk
        );
        let ratio = match &self.loaded {
            Outcome::Finished(s) => {
                let r = s / self.unloaded_median;
                println!(
                    "loaded study, submit → results fetched       {s:>8.2} s  ({r:.2} × unloaded)"
                );
                Some(r)
            }
            Outcome::Failed(why, s) => {
                println!(
                    "loaded study                                 FAILED after {s:.2} s: {why}"
                );
                None
            }
        };
        lat(" (loaded)", &self.loaded_lat);
        let pool = |name: &str, p: &PoolSnapshot| {
            println!(
                "  {name:<43}peak open {:>6}, opened {:>7}, dropped by the stations {:>7}, \
                 could not open {:>7}",
                thousands(p.peak as u64),
                thousands(p.opened),
                thousands(p.dropped),
                thousands(p.failed)
            );
        };
        pool("slow connections, idle or partial hello", &self.slow);
        pool("slow connections, TLS then partial headers", &self.headers);
        pool("junk connections (computation ports)", &self.junk);
        println!(
            "  submissions from unknown clients           {}",
            statuses(&self.unknown_spam)
        );
        println!(
            "  submissions from the researcher            {}",
            statuses(&self.researcher_spam)
        );
        println!(
            "  answers other than 200 to the samples      {} unloaded, {} loaded",
            self.unloaded_lat.not_ok, self.loaded_lat.not_ok
        );
        println!("\n{:<52}{}", "", per(&|i| STATIONS[i].to_string()));
        println!(
            "{:<52}{}",
            "peak memory (VmHWM) before the load, MB",
            per(&|i| format!("{:.1}", self.hwm_before[i] as f64 / 1024.0))
        );
        println!(
            "{:<52}{}",
            "CPU while loaded, % of a core",
            per(&|i| format!("{:.1}", self.loaded_cpu[i]))
        );
        println!(
            "{:<52}{:>11.1}",
            "the load generator (this process), % of a core", self.generator_cpu
        );
        println!(
            "{:<52}{}",
            "peak memory (VmHWM) after the load, MB",
            per(&|i| format!("{:.1}", self.hwm[i] as f64 / 1024.0))
        );
        println!(
            "{:<52}{}",
            "open descriptors before the load",
            per(&|i| thousands(self.fds_before[i] as u64))
        );
        println!(
            "{:<52}{}",
            "open descriptors, peak during the load",
            per(&|i| thousands(self.fds_peak[i] as u64))
        );
        let p99 = quantile(&self.loaded_lat.steward, 0.99);
        let steward_ok = p99 < 100.0 && self.loaded_lat.steward_failed == 0;
        let idle_max = self.idle_cpu.iter().copied().fold(0.0, f64::max);
        println!("\ntargets");
        println!(
            "  study within 1.5 × unloaded under load     {}",
            match ratio {
                Some(r) => format!("{} ({r:.2} ×)", met(r <= 1.5)),
                None => "NOT met (the study did not finish)".into(),
            }
        );
        println!(
            "  steward p99 under 100 ms under load        {} ({p99:.1} ms, {} no answer)",
            met(steward_ok),
            self.loaded_lat.steward_failed
        );
        println!(
            "  idle CPU under 1 % of a core               {} (at most {idle_max:.2} %)",
            met(idle_max < 1.0)
        );
    }
}
