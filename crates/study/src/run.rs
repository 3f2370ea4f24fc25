//! The local runner: a whole study with the three compute parties as threads of this
//! process, connected in memory or over loopback TCP.
//!
//! # Steps
//!
//! 1. Each data party reads its dataset ([`crate::data::load`]), encodes its columns
//!    ([`tessera_stats::PlainColumn::encode`]) and prepares its linkage keys
//!    ([`tessera_link::keys::prepare`], context = the study id): locally, at the owner.
//! 2. The three compute parties start; for every data party in study order its table is
//!    secret-shared: by the owner itself when it is a compute party
//!    ([`tessera_link::input::share_prepared`]), or by dealer messages when it is an outside
//!    data party ([`tessera_link::input::deal`]/[`tessera_link::input::accept`], handed over
//!    in process here).
//! 3. With two or more data parties, the oblivious join ([`tessera_link::join`]); the
//!    joined payload is read back as the linked table ([`tessera_stats::Frame::assemble`],
//!    columns named `party.column`). With one data party its table is the linked table.
//!    The study's `[followup]` columns (`NAME.time`, `NAME.event`) are derived from its date
//!    columns and added to it ([`tessera_stats::followup::derive`]).
//! 4. Every analysis runs ([`tessera_stats::analysis::run`]), side by side on forked
//!    parties ([`run_analyses`]); its opened result is the [`Output`].
//!
//! # Leakage
//!
//! Nothing is opened here beyond what the linkage and the analyses open and document: the
//! input sizes (rows kept per data party), the intersection size and the analyses' named
//! results. The owner-side reports (missing values, missing and duplicate keys) stay in
//! this process: in a run across stations each owner would see only its own.
//!
//! # Cost
//!
//! Seconds, bytes and rounds of each compute party are measured for the linkage (with the
//! `[followup]` derivations, which run right after it) and for each analysis
//! ([`PartyCost`]); the analyses run side by side, so their costs overlap in time.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tessera_link::input::{accept, deal, share_prepared, SharedInput};
use tessera_link::join::{join, JoinOptions};
use tessera_link::keys::{prepare, PrepareReport, Prepared, RawTable};
use tessera_link::left::left_join;
use tessera_link::LinkError;
use tessera_mpc::Delivery;
use tessera_mpc::{AShare, MpcError, Party};
use tessera_net::shaper::Shape;
use tessera_net::tcp::{connect_with_listener, TcpConfig};
use tessera_net::{memory, Endpoint, NetError, Stats};
use tessera_stats::{Frame, Schema, StatsError};

use crate::counts::Count;
use crate::data::{self, DataReport, DataTable};
use crate::deliver::{HeldAnalysis, StationShares};
use crate::error::{Result, StudyError};
use crate::format::{DataSpec, Study};
use crate::names::Stations;

/// How the three compute parties are connected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// In-memory queues between threads.
    #[default]
    Memory,
    /// TCP over loopback (each party listens on a free port of 127.0.0.1).
    Tcp,
}

/// Options of [`run_local`].
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// How the parties are connected.
    pub transport: Transport,
    /// Receive timeout of every party (also the TCP connection deadline).
    pub timeout: Duration,
    /// Called as the run goes from phase to phase (by one party only).
    pub progress: Option<Progress>,
    /// A wide-area network simulated on every link between the compute parties (added
    /// one-way latency, bandwidth): to measure a whole study as it would run between
    /// organisations (`--latency-ms`); unshaped by default.
    pub network: Shape,
}

/// A report of the run's phase: step (from 0), number of steps, and what starts now
/// (`"done"` at the end).
pub type Progress = fn(usize, usize, &str);

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            transport: Transport::Memory,
            timeout: Duration::from_secs(120),
            progress: None,
            network: Shape::default(),
        }
    }
}

/// What a study run produced: public facts, the owners' local reports and the results.
#[derive(Clone, Debug, Serialize)]
pub struct StudyOutput {
    /// The study: id, title, parties.
    pub study: StudyInfo,
    /// Linkage: rows per data party after key preparation, intersection size.
    pub linkage: LinkageInfo,
    /// One entry per analysis, in study order.
    pub analyses: Vec<AnalysisResult>,
    /// Each data owner's local counts (never sent to anybody in a run across stations).
    pub data: Vec<OwnerReport>,
    /// Seconds, bytes and rounds of each compute party.
    pub cost: Vec<PartyCost>,
}

impl StudyOutput {
    /// The analyses that did not produce a result.
    pub fn failures(&self) -> impl Iterator<Item = &AnalysisResult> {
        self.analyses.iter().filter(|a| a.error.is_some())
    }
}

/// The study's public description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyInfo {
    /// Study id.
    pub id: String,
    /// Title.
    pub title: Option<String>,
    /// The unit of the study's time columns (`[study] time_unit`), if it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_unit: Option<String>,
    /// Parties in file order.
    pub parties: Vec<PartyInfo>,
}

/// One party's role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartyInfo {
    /// Name.
    pub name: String,
    /// Compute slot, if any.
    pub compute: Option<usize>,
    /// Whether it contributes data.
    pub data: bool,
}

/// Public facts of the linkage (what recipients of a run across stations see of them:
/// [`crate::counts::for_recipients`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkageInfo {
    /// Key components.
    pub key: Vec<String>,
    /// Rows each data party shared (after dropping missing and duplicate keys), study order;
    /// empty when withheld.
    pub rows: Vec<PartyRows>,
    /// Whether the per-party rows were withheld from this copy (a run across stations
    /// whose study does not ask for them: [`crate::counts`]).
    pub rows_withheld: bool,
    /// Rows of the linked table (with one data party: its rows).
    pub intersection: Count,
    /// The data party every row of which was kept (`[linkage] keep`, a left join): the
    /// linked rows are its rows. None: the persons every data party holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
}

/// Rows of one data party.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartyRows {
    /// The data party.
    pub party: String,
    /// Rows it shared.
    pub rows: Count,
}

/// A data owner's local report: its dataset and its linkage keys.
#[derive(Clone, Debug, Serialize)]
pub struct OwnerReport {
    /// Dataset counts (rows, missing values per column).
    pub dataset: DataReport,
    /// Key preparation counts (`None` without linkage).
    pub keys: Option<PrepareReport>,
}

/// Seconds, bytes and rounds of one step at one party.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Cost {
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Communication rounds.
    pub rounds: u64,
}

impl Cost {
    fn between(t: Instant, s0: &Stats, s1: &Stats) -> Cost {
        let d = s1.since(s0);
        Cost {
            seconds: t.elapsed().as_secs_f64(),
            bytes_sent: d.bytes_sent,
            bytes_received: d.bytes_received,
            rounds: d.rounds,
        }
    }
}

/// One compute party's costs.
#[derive(Clone, Debug, Serialize)]
pub struct PartyCost {
    /// Compute slot.
    pub slot: usize,
    /// Party name.
    pub party: String,
    /// Sharing the inputs and linking.
    pub linkage: Cost,
    /// Each analysis, in study order. The analyses run side by side ([`run_analyses`]):
    /// these costs overlap in time and do not add up to the total.
    pub analyses: Vec<Cost>,
    /// Everything, set-up included (rounds: the critical path).
    pub total: Cost,
}

/// The outcome of one analysis.
#[derive(Clone, Debug, Serialize)]
pub struct AnalysisResult {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Recipients.
    pub recipients: Vec<String>,
    /// The opened result as JSON (`None` on error).
    pub result: Option<serde_json::Value>,
    /// The result as text tables (empty on error).
    #[serde(skip)]
    pub text: String,
    /// Why there is no result (a refusal by a disclosure rule, an invalid argument, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A data party's table ready for the compute parties.
pub(crate) struct Input {
    /// Owner's compute slot, or `None` for an outside data party.
    slot: Option<usize>,
    /// The prepared table (at the owner).
    prepared: Prepared,
    /// Dealer messages for an outside data party.
    dealt: Option<[Vec<u8>; 3]>,
    /// `party.column` names and schemas of its payload.
    schema: Vec<(String, Schema)>,
}

/// What each compute party returns from the computation.
pub(crate) struct PartyRun<T> {
    rows: Vec<usize>,
    intersection: usize,
    linkage: Cost,
    pub(crate) total: Cost,
    value: T,
}

impl PartyRun<Vec<AnalysisRun>> {
    /// This party's costs, as reported.
    pub(crate) fn cost(&self, slot: usize, party: &str) -> PartyCost {
        PartyCost {
            slot,
            party: party.to_string(),
            linkage: self.linkage,
            analyses: self.value.iter().map(|(_, c)| *c).collect(),
            total: self.total,
        }
    }
}

/// Reads every dataset (errors: [`StudyError::Data`]).
pub fn load_data(study: &Study) -> Result<Vec<DataTable>> {
    study.data.iter().map(data::load).collect()
}

fn link_err(party: &str, e: LinkError) -> StudyError {
    match e {
        LinkError::Duplicates { keys, rows } => StudyError::Data(format!(
            "data.{party}: {keys} linkage keys occur more than once ({rows} rows); \
             set [linkage] duplicates = \"keep_first\" or \"keep_last\", or fix the data"
        )),
        e => StudyError::Data(format!("data.{party}: {e}")),
    }
}

/// At each data owner: keys prepared, payload encoded, outside parties' messages dealt.
pub(crate) fn prepare_inputs(
    study: &Study,
    tables: &[DataTable],
) -> Result<(Vec<Input>, Vec<OwnerReport>)> {
    let mut inputs = Vec::new();
    let mut reports = Vec::new();
    for (d, t) in study.data.iter().zip(tables) {
        let (input, report) = prepare_input(study, d, t)?;
        inputs.push(input);
        reports.push(report);
    }
    Ok((inputs, reports))
}

/// One data owner's table: keys prepared, payload encoded, dealt when it is an outside party.
pub(crate) fn prepare_input(
    study: &Study,
    d: &DataSpec,
    t: &DataTable,
) -> Result<(Input, OwnerReport)> {
    // The owner checks its own values against the ranges the study's analyses need, before
    // anything is shared (the message names the column, never a value).
    tessera_stats::ranges::check_values(
        study.analyses.iter().map(|a| (a.name.as_str(), &a.spec)),
        &t.frame,
        study.frac_bits,
    )
    .map_err(|e| StudyError::Data(format!("data of {}: {e}", d.party)))?;
    // The relative survival paths this owner writes (age, date and sex are its own).
    let frame = crate::lifetable::with_paths(study, &d.party, &t.frame)?;
    let c128: Vec<Vec<u128>> = frame
        .columns
        .iter()
        .flat_map(|c| c.encode(study.frac_bits))
        .collect();
    let (prepared, keys) = match &study.key_spec() {
        Some(spec) => {
            let raw = RawTable {
                keys: t.keys.clone(),
                c64: Vec::new(),
                c128,
            };
            let (p, r) = prepare(spec, &raw).map_err(|e| link_err(&d.party, e))?;
            (p, Some(r))
        }
        None => {
            let n = frame.rows;
            let p = Prepared {
                keys: (0..n as u64).collect(),
                c64: Vec::new(),
                c128,
                source_rows: (0..n).collect(),
            };
            (p, None)
        }
    };
    let slot = study.party(&d.party).and_then(|p| p.compute);
    let dealt = slot.is_none().then(|| deal(&prepared));
    Ok((
        Input {
            slot,
            prepared,
            dealt,
            schema: study.schema(d),
        },
        OwnerReport {
            dataset: t.report.clone(),
            keys,
        },
    ))
}

/// Another compute party's table as this party knows it: who shares it and its public
/// schema (its shape arrives with the sharing).
pub(crate) fn remote_input(study: &Study, d: &DataSpec) -> Result<Input> {
    let slot = study.party(&d.party).and_then(|p| p.compute);
    if slot.is_none() {
        return Err(StudyError::Invalid(format!(
            "data party {} has no compute slot: outside data parties can only take part in a \
             run on one machine (tessera run without --as) for now",
            d.party
        )));
    }
    Ok(Input {
        slot,
        prepared: Prepared::default(),
        dealt: None,
        schema: study.schema(d),
    })
}

impl Input {
    /// The dealer messages, for an outside data party's own input.
    pub(crate) fn into_dealt(self) -> Option<[Vec<u8>; 3]> {
        self.dealt
    }
}

/// An outside data party's table as compute party `me` gets it: the dealer message `msg`
/// for its slot (sent by that party's station) and the public schema.
pub(crate) fn dealt_input(study: &Study, d: &DataSpec, me: usize, msg: Vec<u8>) -> Input {
    let mut dealt: [Vec<u8>; 3] = Default::default();
    dealt[me] = msg;
    Input {
        slot: None,
        prepared: Prepared::default(),
        dealt: Some(dealt),
        schema: study.schema(d),
    }
}

/// Makes one party's endpoint, on that party's thread.
type Connector = Box<dyn FnOnce() -> Result<Endpoint> + Send>;

fn endpoints(study: &Study, opts: &RunOptions) -> Result<Vec<Connector>> {
    match opts.transport {
        Transport::Memory => Ok(memory::connect(opts.timeout)
            .into_iter()
            .map(|ep| {
                let shape = opts.network;
                Box::new(move || Ok(ep.shaped(shape))) as Connector
            })
            .collect()),
        Transport::Tcp => {
            let ls: Vec<TcpListener> = (0..3)
                .map(|_| TcpListener::bind("127.0.0.1:0"))
                .collect::<std::io::Result<_>>()
                .map_err(|e| StudyError::Run(format!("cannot listen on loopback: {e}")))?;
            let addrs: Vec<SocketAddr> = ls
                .iter()
                .map(TcpListener::local_addr)
                .collect::<std::io::Result<_>>()
                .map_err(|e| StudyError::Run(e.to_string()))?;
            let addrs: [SocketAddr; 3] = [addrs[0], addrs[1], addrs[2]];
            let session = tessera_mpc::prg::fresh_seed();
            Ok(ls
                .into_iter()
                .enumerate()
                .map(|(me, l)| {
                    let cfg = TcpConfig {
                        me,
                        addrs,
                        session,
                        connect_timeout: opts.timeout,
                        recv_timeout: opts.timeout,
                    };
                    let names = study.compute_parties().map(str::to_string);
                    let shape = opts.network;
                    Box::new(move || {
                        connect_with_listener(&cfg, l)
                            .map(|ep| ep.shaped(shape))
                            .map_err(|e| {
                                let names = Stations::new(names.each_ref().map(String::as_str));
                                network(names, me, "connecting", &e)
                            })
                    }) as Connector
                })
                .collect())
        }
    }
}

/// An error of the engine or of what runs on it (linkage, an analysis), as [`failed`] tells
/// it: the engine's own error inside, if any.
pub(crate) trait EngineError: std::fmt::Display {
    /// The MPC engine's error this one carries.
    fn mpc(&self) -> Option<&MpcError> {
        None
    }
}

impl EngineError for MpcError {
    fn mpc(&self) -> Option<&MpcError> {
        Some(self)
    }
}

impl EngineError for LinkError {
    fn mpc(&self) -> Option<&MpcError> {
        match self {
            LinkError::Mpc(e) => Some(e),
            _ => None,
        }
    }
}

impl EngineError for StatsError {
    fn mpc(&self) -> Option<&MpcError> {
        match self {
            StatsError::Mpc(e) => Some(e),
            _ => None,
        }
    }
}

impl EngineError for str {}

/// Why compute station `slot` of `names` stopped while `what`, naming stations, never
/// compute slots: a failure of the network or of a peer (one that went silent or away,
/// stopped, or sent a malformed message) is a [`StudyError::Network`] whose public words
/// name the station it concerns and the kind of failure; anything else a
/// [`StudyError::Run`].
pub(crate) fn failed(
    names: Stations,
    slot: usize,
    what: &str,
    e: &(impl EngineError + ?Sized),
) -> StudyError {
    let me = names.name(slot);
    match e.mpc() {
        Some(MpcError::Net(n)) => network(names, slot, what, n),
        Some(m @ MpcError::Malformed { peer, .. }) => StudyError::Network {
            public: format!("{} sent a malformed message", names.name(*peer)),
            detail: format!("station {me}, {what}: {}", names.mpc(m)),
        },
        _ => StudyError::Run(format!(
            "station {me}, {what}: {}",
            names.text(&e.to_string())
        )),
    }
}

/// Network failure `e` of compute station `slot` of `names` while `what`, as a
/// [`StudyError::Network`]: the public words name the other station and the kind of
/// failure only ([`Stations::public`]); the detail keeps the transport's words, naming
/// stations ([`Stations::net`]).
pub(crate) fn network(names: Stations, slot: usize, what: &str, e: &NetError) -> StudyError {
    StudyError::Network {
        public: names.public(slot, e),
        detail: format!("station {}, {what}: {}", names.name(slot), names.net(e)),
    }
}

/// What a station that stops tells the other compute stations (the reason of its abort):
/// for a network failure its public words only, so that its transport's words (addresses,
/// system errors) stay in its own log.
pub(crate) fn abort_reason(e: &StudyError) -> String {
    match e {
        StudyError::Network { public, .. } => public.clone(),
        other => other.to_string(),
    }
}

/// One compute party: shares every input, links, assembles the frame and calls `after`.
pub(crate) fn party_main<T>(
    study: &Study,
    inputs: &[Input],
    p: &mut Party,
    after: &(impl Fn(&mut Party, &Frame) -> Result<T> + Sync),
    progress: Option<Progress>,
) -> Result<PartyRun<T>> {
    let me = p.id();
    let names = Stations::of(study);
    let steps = 2 + study.analyses.len();
    let report = |step: usize, what: &str| {
        if let Some(f) = progress {
            f(step, steps, what);
        }
    };
    report(0, "sharing the inputs");
    p.set_frac_bits(study.frac_bits);
    let (t0, s0) = (Instant::now(), p.stats());
    let mut shared: Vec<SharedInput> = Vec::with_capacity(inputs.len());
    for inp in inputs {
        let s = match (inp.slot, &inp.dealt) {
            (Some(owner), _) => share_prepared(p, owner, (me == owner).then_some(&inp.prepared)),
            (None, Some(msgs)) => accept(&msgs[me]),
            (None, None) => unreachable!("outside data parties are dealt"),
        }
        .map_err(|e| failed(names, me, "sharing the inputs", &e))?;
        shared.push(s);
    }
    let rows: Vec<usize> = shared.iter().map(|s| s.shape().rows).collect();
    report(1, "linking the records");
    let schema: Vec<(String, Schema)> = inputs.iter().flat_map(|i| i.schema.clone()).collect();
    let (n, cols): (usize, Vec<AShare<u128>>) = if shared.len() == 1 {
        let s = shared.pop().expect("one input");
        (rows[0], s.payload.c128)
    } else {
        // `[linkage] keep`: every row of that data party (a left join).
        let kept = study
            .linkage
            .as_ref()
            .and_then(|l| l.keep.as_deref())
            .and_then(|k| study.data.iter().position(|d| d.party == k));
        // The few-rounds sort where the run is in few-rounds mode (Party::few_rounds, bound
        // into the session at every station).
        let opts = JoinOptions::for_party(p);
        let j = match kept {
            Some(a) => left_join(p, &shared, a, &opts),
            None => join(p, &shared, &opts),
        }
        .map_err(|e| failed(names, me, "linking", &e))?;
        drop(shared);
        let mut cols = Vec::new();
        for c in &j.columns {
            cols.extend(j.table.c128[c.c128.clone()].iter().cloned());
        }
        (j.intersection, cols)
    };
    let mut frame = Frame::assemble_owned(n, &schema, cols)
        .map_err(|e| failed(names, me, "linked table", &e))?;
    // `[followup]`: times and events from the linked dates, before any analysis (nothing
    // is opened: see `tessera_stats::followup`).
    let derived = tessera_stats::followup::derive(p, &frame, &study.followups)
        .map_err(|e| failed(names, me, "deriving the follow-up times", &e))?;
    frame.columns.extend(derived);
    let linkage = Cost::between(t0, &s0, &p.stats());
    let value = after(p, &frame)?;
    p.barrier()
        .map_err(|e| failed(names, me, "finishing", &e))?;
    Ok(PartyRun {
        rows,
        intersection: n,
        linkage,
        total: Cost::between(t0, &s0, &p.stats()),
        value,
    })
}

/// Runs the three compute parties on threads over `opts.transport`: sharing, linkage, the
/// linked table, then `after` on it. A failing party aborts, so the others fail too; the
/// error names the first party that failed for a reason of its own.
pub(crate) fn compute<T: Send>(
    study: &Study,
    inputs: &[Input],
    opts: &RunOptions,
    after: impl Fn(&mut Party, &Frame) -> Result<T> + Sync,
) -> Result<[PartyRun<T>; 3]> {
    let names = Stations::of(study);
    let eps = endpoints(study, opts)?;
    // A party's error, and whether it only reports another party's end (its abort, or
    // its connection that closed as it stopped).
    type Ended<T> = std::result::Result<PartyRun<T>, (StudyError, bool)>;
    let peer_abort = |slot: usize, e: Option<&NetError>| {
        matches!(e, Some(NetError::Aborted { peer, .. } | NetError::Closed { peer, .. })
            if *peer != slot)
    };
    let results: Vec<Ended<T>> = std::thread::scope(|s| {
        let handles: Vec<_> = eps
            .into_iter()
            .enumerate()
            .map(|(slot, ep)| {
                let after = &after;
                s.spawn(move || {
                    let ep = ep().map_err(|e| (e, false))?;
                    let mut p = Party::setup(ep).map_err(|e| {
                        let by_peer = match &e {
                            MpcError::Net(n) => peer_abort(slot, Some(n)),
                            _ => false,
                        };
                        (failed(names, slot, "set-up", &e), by_peer)
                    })?;
                    // Added latency: rounds cost more than bytes (as at every party).
                    p.set_few_rounds(study.few_rounds(!opts.network.one_way_latency.is_zero()));
                    let progress = opts.progress.filter(|_| slot == 0);
                    let r = party_main(study, inputs, &mut p, after, progress);
                    r.map_err(|e| {
                        let by_peer = peer_abort(slot, p.endpoint().failure());
                        p.abort(&abort_reason(&e));
                        (e, by_peer)
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .enumerate()
            .map(|(slot, h)| {
                h.join()
                    .unwrap_or_else(|_| Err((failed(names, slot, "thread", "panicked"), false)))
            })
            .collect()
    });
    let mut ok = Vec::with_capacity(3);
    let mut errs = Vec::new();
    for r in results {
        match r {
            Ok(run) => ok.push(run),
            Err(e) => errs.push(e),
        }
    }
    // Report the cause: a party's own failure first, then one that waited for another in
    // vain (naming it), then the reports of a party's end.
    let rank = |(e, by_peer): &(StudyError, bool)| match (by_peer, e) {
        (true, _) => 2,
        (false, StudyError::Network { .. }) => 1,
        (false, _) => 0,
    };
    if let Some(at) = (0..errs.len()).min_by_key(|&i| rank(&errs[i])) {
        return Err(errs.swap_remove(at).0);
    }
    let mut it = ok.into_iter();
    Ok(std::array::from_fn(|_| it.next().expect("three")))
}

/// One analysis at one party: its public facts and this party's committed shares, or the
/// reason it has none, and its cost.
pub(crate) type AnalysisRun = (
    std::result::Result<(serde_json::Value, Delivery), String>,
    Cost,
);

/// Why every analysis of a study whose linkage matched no record gave no result.
pub const NOTHING_LINKED: &str = "no records were linked: no key value matched across the \
    data parties; check [linkage] key and its normalise steps (trim, casefold, …) against how \
    each source writes the key (e.g. \"P001\" and \"p001\" match only with casefold)";

/// Analyses that run at the same time at one compute party ([`run_analyses`]). More
/// overlap fewer rounds (a study's rounds approach its longest analysis', not the sum), but
/// memory grows with it: each running analysis holds its own intermediate shares (for a Cox
/// model or a sort, several times its columns).
pub const CONCURRENT_ANALYSES: usize = 4;

/// Every analysis of the study at one compute party, results in study order. The analyses
/// are independent of each other: they run side by side on forked sub-parties
/// ([`Party::run_forked`], at most [`CONCURRENT_ANALYSES`] at once, started in study
/// order), sharing the linked `frame` read-only. An MPC failure stops the run (the peers
/// see it too); a refusal or an invalid analysis is decided on public values, the same at
/// every party, and only that analysis has no result. Each analysis' cost is its own
/// sub-party's: the costs overlap in time.
pub(crate) fn run_analyses(
    study: &Study,
    p: &mut Party,
    frame: &Frame,
    progress: Option<Progress>,
) -> Result<Vec<AnalysisRun>> {
    run_analyses_with(study, p, frame, progress, CONCURRENT_ANALYSES)
}

/// [`run_analyses`] with at most `concurrency` analyses at once (1: one after the other).
pub(crate) fn run_analyses_with(
    study: &Study,
    p: &mut Party,
    frame: &Frame,
    progress: Option<Progress>,
    concurrency: usize,
) -> Result<Vec<AnalysisRun>> {
    let steps = 2 + study.analyses.len();
    let names = Stations::of(study);
    let me = p.id();
    let what = |i: usize| format!("analysis \"{}\"", study.analyses[i].name);
    // No record linked (the intersection size is public): every analysis says why, rather
    // than each failing its `min_rows` with 0 rows.
    let unlinked = frame.rows == 0 && study.data.len() > 1;
    // Derived follow-up columns are under the rules of the dates they come from.
    let disclosure = tessera_stats::followup::inherit(&study.disclosure, &study.followups);
    let starting = |i: usize| {
        if let Some(f) = progress {
            let a = &study.analyses[i];
            f(
                2 + i,
                steps,
                &format!("analysis {} ({})", a.name, a.spec.kind()),
            );
        }
    };
    let out: Vec<(std::result::Result<_, String>, Cost)> = if unlinked {
        (0..study.analyses.len())
            .map(|i| {
                starting(i);
                (Err(NOTHING_LINKED.to_string()), Cost::default())
            })
            .collect()
    } else {
        let job = |i: usize, sub: &mut Party| {
            let (t, s0) = (Instant::now(), sub.stats());
            let spec = &study.analyses[i].spec;
            let r = match tessera_stats::analysis::run(sub, frame, spec, &disclosure) {
                Ok(o) => Ok(o),
                Err(StatsError::Mpc(e)) => return Err(e),
                Err(e) => Err(e.to_string()),
            };
            Ok((r, Cost::between(t, &s0, &sub.stats())))
        };
        let reason = |i: usize, e: &MpcError| abort_reason(&failed(names, me, &what(i), e));
        p.run_forked(study.analyses.len(), concurrency, starting, job, reason)
            .map_err(|(i, e)| failed(names, me, &what(i), &e))?
    };
    // Every party commits to its parts of every result in front of the other two (one
    // round), so that a recipient can name a station that alters what it stores.
    let shares: Vec<_> = out
        .iter()
        .filter_map(|(r, _)| r.as_ref().ok().map(|o| o.shares.clone()))
        .collect();
    let mut delivered = p
        .deliveries(shares)
        .map_err(|e| failed(Stations::of(study), p.id(), "committing to the results", &e))?
        .into_iter();
    let runs = out
        .into_iter()
        .map(|(r, c)| {
            let r = r.map(|o| (o.public, delivered.next().expect("one delivery per result")));
            (r, c)
        })
        .collect();
    if let Some(f) = progress {
        f(steps, steps, "done");
    }
    Ok(runs)
}

/// Runs the whole study (see the module docs). Fails with [`StudyError::Data`] when a
/// dataset does not fit the study, [`StudyError::Network`] when a compute party went
/// silent, away or stopped, [`StudyError::Run`] when the computation fails otherwise (the
/// messages name the study's compute parties, see [`crate::names`]); an analysis that is
/// refused or not available gives an [`AnalysisResult`] with its error and the other
/// analyses still run.
pub fn run_local(study: &Study, opts: &RunOptions) -> Result<StudyOutput> {
    let tables = load_data(study)?;
    let (inputs, reports) = prepare_inputs(study, &tables)?;
    drop(tables);
    let runs = compute(study, &inputs, opts, |p, frame| {
        let progress = opts.progress.filter(|_| p.id() == 0);
        run_analyses(study, p, frame, progress)
    })?;
    let names = study.compute_parties();
    let costs = runs
        .iter()
        .enumerate()
        .map(|(slot, r)| r.cost(slot, names[slot]))
        .collect();
    // The recipient's side, here in the same process: the three stations' parts checked,
    // reconstructed and opened exactly as `tessera study results` does.
    let parts = runs
        .iter()
        .enumerate()
        .map(|(slot, r)| station_shares(study, slot, r))
        .collect();
    let mut out = crate::deliver::open(parts)?;
    out.data = reports;
    out.cost = costs;
    Ok(out)
}

/// The study's public description.
fn study_info(study: &Study) -> StudyInfo {
    StudyInfo {
        id: study.id.clone(),
        title: study.title.clone(),
        time_unit: study.time_unit.clone(),
        parties: study
            .parties
            .iter()
            .map(|p| PartyInfo {
                name: p.name.clone(),
                compute: p.compute,
                data: study.data.iter().any(|d| d.party == p.name),
            })
            .collect(),
    }
}

/// What compute party `slot` holds for the recipients after its run: the public facts and
/// its committed shares of every result (see [`crate::deliver`]).
pub(crate) fn station_shares(
    study: &Study,
    slot: usize,
    run: &PartyRun<Vec<AnalysisRun>>,
) -> StationShares {
    let analyses = study
        .analyses
        .iter()
        .zip(&run.value)
        .map(|(a, (r, _))| HeldAnalysis {
            name: a.name.clone(),
            recipients: a.recipients.clone(),
            spec: a.spec.clone(),
            public: r.as_ref().ok().map(|(p, _)| p.clone()),
            shares: r
                .as_ref()
                .ok()
                .map(|(_, d)| crate::deliver::hex(&d.to_bytes())),
            error: r.as_ref().err().cloned(),
        })
        .collect();
    StationShares {
        station: study.compute_parties()[slot].to_string(),
        slot,
        study: study_info(study),
        linkage: LinkageInfo {
            key: study
                .linkage
                .as_ref()
                .map(|l| l.key.iter().map(|k| k.name.clone()).collect())
                .unwrap_or_default(),
            rows: study
                .data
                .iter()
                .zip(&run.rows)
                .map(|(d, &rows)| PartyRows {
                    party: d.party.clone(),
                    rows: Count::Exact(rows),
                })
                .collect(),
            rows_withheld: false,
            intersection: Count::Exact(run.intersection),
            kept: study.linkage.as_ref().and_then(|l| l.keep.clone()),
        },
        analyses,
    }
}

/// Test support: runs the study's sharing and linkage and reveals the linked table's
/// encoded columns to every party (never used outside tests: it opens everything).
#[cfg(test)]
pub(crate) fn reveal_linked(study: &Study, opts: &RunOptions) -> Result<(usize, Vec<Vec<u128>>)> {
    let tables = load_data(study)?;
    let (inputs, _) = prepare_inputs(study, &tables)?;
    let runs = compute(study, &inputs, opts, |p, frame| {
        let mut out = Vec::new();
        for c in &frame.columns {
            let mut vs = vec![&*c.present];
            match &c.data {
                tessera_stats::ColumnData::Numeric(v) => vs.push(v),
                tessera_stats::ColumnData::Categorical { onehot, .. } => vs.extend(onehot),
            }
            for v in vs {
                // LEAKAGE: opens the whole linked table; tests only.
                out.push(
                    p.reveal(v)
                        .map_err(|e: MpcError| failed(Stations::of(study), p.id(), "reveal", &e))?,
                );
            }
        }
        Ok(out)
    })?;
    let [a, _, _] = runs;
    Ok((a.intersection, a.value))
}
