//! One compute station's part of a study run across machines: the same steps as the local
//! runner ([`crate::run`]), but this process is one compute party, reads only its own
//! dataset, and reaches the two other compute stations over mutually authenticated TLS 1.3,
//! each pinned to the certificate fingerprint the study lists for it.
//!
//! Every compute station runs this with the same study file: by hand (`tessera run STUDY
//! --as NAME --identity DIR`) the three link up on the study's `[parties.X] address`es,
//! pinned to the study's fingerprints ([`Meeting::from_study`]); at the station service each
//! station's computation endpoint is its own configuration and the pins come from its own
//! trusted list (the service builds the [`Meeting`]). They share their tables, link them and
//! run the analyses. Each ends with its own shares of the results ([`PartyOutput`]), which
//! it cannot open: the recipients collect the three stations' shares and reconstruct
//! ([`crate::deliver::open`]). The owner-side data report is its own only.
//!
//! The TLS session is bound to the study: its identifier is derived from the study id and
//! the digest of the study's exact text ([`session`]), so stations running different
//! studies, or different texts of one study, on the same addresses refuse each other.
//!
//! Outside data parties (data parties without a compute slot) deal their prepared table into
//! one message per compute slot ([`deal_input`]); the station service carries each message
//! to its compute station and hands it to [`run_party_with`]. A run by hand
//! (`tessera run --as`) has no such channel and refuses studies with outside data parties.
//! Every dealing carries an id of its own (16 random bytes heading each of its three
//! messages), and the compute stations' session is bound to the ids of the messages they
//! hold ([`run_session`]): compute stations holding messages of two different dealings of
//! one party (a dealer that dealt again after a failure, or restarted) cannot connect, so
//! such a run fails at every station instead of computing on mismatched shares.
//! Approval and audit are the station service's (`tessera-station`'s `coordinate`).

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

use tessera_mpc::Party;
use tessera_net::identity::Identity;
use tessera_net::tcp::TcpConfig;
use tessera_net::tls::{connect_tls, connect_tls_with_listener, TlsConfig};
use tessera_net::NetError;

use crate::data::{self, DataTable};
use crate::deliver::StationShares;
use crate::error::{Result, StudyError};
use crate::format::{DataSpec, Study};
use crate::names::Stations;
use crate::run::{
    abort_reason, dealt_input, failed, network, party_main, prepare_input, remote_input,
    run_analyses, station_shares, OwnerReport, PartyCost, RunOptions,
};

/// What one compute station ends a run with: its shares of the results (for the
/// recipients, see [`crate::deliver`]), its own data report (for its steward only) and its
/// costs. No result value: the station cannot open its shares.
#[derive(Clone, Debug)]
pub struct PartyOutput {
    /// Its shares of every result, with the public facts.
    pub shares: StationShares,
    /// This station's own dataset and key report (never sent anywhere).
    pub data: Vec<OwnerReport>,
    /// Its seconds, bytes and rounds.
    pub cost: Vec<PartyCost>,
}

/// The TLS session of a study: the first 16 bytes of
/// SHA-256("tessera study " + id + " " + digest), the digest being the study text's
/// ([`Study::digest`]). Stations that hold different texts under the same id therefore
/// refuse each other's connections (the hello carries the session).
pub fn session(study: &Study) -> [u8; 16] {
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("tessera study {} {}", study.id, study.digest()).as_bytes(),
    );
    let mut s = [0u8; 16];
    s.copy_from_slice(&d.as_ref()[..16]);
    s
}

/// Length of the id heading every dealer message ([`deal_input`]).
pub const DEALING_ID_LEN: usize = 16;

/// The session of a run: [`session`] for revision 1 of a study without outside data
/// parties; bound also to a later `revision`, and to the ids of the dealings this compute
/// station holds (one per outside party, in the order of the study's data), so that compute
/// stations in different revisions, or holding different dealings of one party, refuse each
/// other; and to `few_rounds` when it is on ([`Study::few_rounds`]), so that stations whose
/// protocols would take different shapes refuse each other too.
///
/// LEAKAGE: the ids are random and say nothing about the data; each compute station learns
/// only that the others hold the same dealings.
pub fn run_session(
    study: &Study,
    revision: u32,
    dealings: &[[u8; DEALING_ID_LEN]],
    few_rounds: bool,
) -> [u8; 16] {
    let base = session(study);
    if dealings.is_empty() && revision == 1 && !few_rounds {
        return base;
    }
    let mut c = ring::digest::Context::new(&ring::digest::SHA256);
    c.update(b"tessera dealt session");
    c.update(&base);
    if revision != 1 {
        c.update(b"revision");
        c.update(&revision.to_le_bytes());
    }
    for d in dealings {
        c.update(d);
    }
    if few_rounds {
        // The protocols' shape (Party::few_rounds) must be the same at every station.
        c.update(b"few rounds");
    }
    let mut s = [0u8; 16];
    s.copy_from_slice(&c.finish().as_ref()[..16]);
    s
}

/// Where the three compute parties meet and whom each trusts: each slot's address and
/// certificate fingerprint and, at a station service, this party's listener (bound when the
/// station got ready, on a port of its own configuration).
#[derive(Debug)]
pub struct Meeting {
    /// Each compute slot's `host:port`, resolved.
    pub addrs: [SocketAddr; 3],
    /// Each compute slot's certificate fingerprint (the TLS pins).
    pub fingerprints: [[u8; 32]; 3],
    /// This party's listener, already bound; `None`: bind `addrs[me]` now.
    pub listener: Option<TcpListener>,
    /// The study's revision at the stations (1 for a study run by hand): bound into the
    /// session, so that a rerun of an unchanged text never meets a party still in an
    /// earlier run of it.
    pub revision: u32,
}

impl Meeting {
    /// From the study's `[parties.X] address` and `fingerprint` (the by-hand run,
    /// `tessera run --as`; the station service refuses addresses in studies and takes them
    /// from the stations' own configurations).
    pub fn from_study(study: &Study) -> Result<Meeting> {
        let names = study.compute_parties();
        let mut addrs = Vec::with_capacity(3);
        let mut fps = [[0u8; 32]; 3];
        for (slot, name) in names.iter().enumerate() {
            let p = study.party(name).ok_or_else(|| {
                StudyError::Invalid(format!("compute party {name} is not a party"))
            })?;
            let addr = p.address.as_deref().ok_or_else(|| {
                StudyError::Invalid(format!(
                    "parties.{name}: an address is needed to run across machines"
                ))
            })?;
            addrs.push(resolve(name, addr)?);
            fps[slot] = p.fingerprint.ok_or_else(|| {
                StudyError::Invalid(format!(
                    "parties.{name}: a fingerprint is needed to run across machines"
                ))
            })?;
        }
        Ok(Meeting {
            addrs: [addrs[0], addrs[1], addrs[2]],
            fingerprints: fps,
            listener: None,
            revision: 1,
        })
    }
}

/// Resolves compute party `name`'s `host:port`.
pub fn resolve(name: &str, addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()
        .map_err(|e| StudyError::Invalid(format!("parties.{name}: address {addr}: {e}")))?
        .next()
        .ok_or_else(|| {
            StudyError::Invalid(format!("parties.{name}: address {addr} does not resolve"))
        })
}

/// A network failure of compute slot `slot` while `what` (connecting, set-up), as a
/// [`StudyError::Network`]: the public words name the other compute station of `study` and
/// the kind of failure only; the detail keeps the transport's words. Both name stations,
/// never compute slots (see [`crate::names`]).
pub fn network_failed(study: &Study, slot: usize, what: &str, e: &NetError) -> StudyError {
    network(Stations::of(study), slot, what, e)
}

/// Runs station `me`'s part of the study (see the module docs). `me` must be a compute
/// party; its identity must be the one whose fingerprint the study lists for it.
pub fn run_party(
    study: &Study,
    me: &str,
    identity: &Identity,
    opts: &RunOptions,
) -> Result<PartyOutput> {
    let meeting = Meeting::from_study(study)?;
    run_party_with(study, me, identity, opts, meeting, &data::load, &|_| None)
}

/// At an outside data party (one without a compute slot): its dataset `table` of `spec`
/// prepared (linkage keys digested, columns encoded) and dealt as one message per compute
/// slot. Message `i` goes to compute party `i` only: each alone is uniformly random; any two
/// together hold the data, as with any secret sharing here. Each message starts with the
/// dealing's id ([`DEALING_ID_LEN`] random bytes, the same in all three; see
/// [`run_session`]). Send the same three messages again after a failure, never a new
/// dealing to some of the stations.
pub fn deal_input(study: &Study, spec: &DataSpec, table: &DataTable) -> Result<[Vec<u8>; 3]> {
    let (input, _) = prepare_input(study, spec, table)?;
    let dealt = input.into_dealt().ok_or_else(|| {
        StudyError::Invalid(format!(
            "{} is a compute party: it shares its data itself",
            spec.party
        ))
    })?;
    let mut id = [0u8; DEALING_ID_LEN];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
        .map_err(|_| StudyError::Run("no randomness for the dealing's id".to_string()))?;
    Ok(dealt.map(|m| {
        let mut out = Vec::with_capacity(DEALING_ID_LEN + m.len());
        out.extend_from_slice(&id);
        out.extend_from_slice(&m);
        out
    }))
}

/// [`run_party`] meeting the other compute parties at `meeting` (the station service
/// takes the addresses from the stations and the pins from its own trusted list), with this
/// station's dataset read by `load` (the station service reads it from its configured
/// source instead of the study's file), and each outside data party's dealer message for
/// this station's slot given by `outside` (the station service receives them from those
/// parties' stations; see [`deal_input`]). Nothing is sent before `load` has read and
/// checked the whole dataset.
pub fn run_party_with(
    study: &Study,
    me: &str,
    identity: &Identity,
    opts: &RunOptions,
    meeting: Meeting,
    load: &dyn Fn(&DataSpec) -> Result<DataTable>,
    outside: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<PartyOutput> {
    let slot = study
        .party(me)
        .ok_or_else(|| StudyError::Invalid(format!("no party {me} in the study")))?
        .compute
        .ok_or_else(|| {
            StudyError::Invalid(format!(
                "{me} is not a compute party: only compute stations run a study"
            ))
        })?;
    let Meeting {
        addrs,
        fingerprints: fps,
        listener,
        revision,
    } = meeting;
    if fps[slot] != identity.fingerprint() {
        return Err(StudyError::Invalid(format!(
            "the identity given is not {me}'s: the study lists another certificate fingerprint"
        )));
    }
    // Only this station's dataset is read; the others are known by their schema.
    let mut inputs = Vec::with_capacity(study.data.len());
    let mut reports = Vec::new();
    let mut dealings: Vec<[u8; DEALING_ID_LEN]> = Vec::new();
    for d in &study.data {
        if d.party == me {
            let table = load(d)?;
            let (input, report) = prepare_input(study, d, &table)?;
            inputs.push(input);
            reports.push(report);
        } else if study.party(&d.party).is_some_and(|p| p.compute.is_none()) {
            let mut msg = outside(&d.party).ok_or_else(|| {
                StudyError::Invalid(format!(
                    "data party {} has no compute slot and its input has not arrived: \
                     outside data parties take part through the station service only",
                    d.party
                ))
            })?;
            let Some(id) = msg.get(..DEALING_ID_LEN).and_then(|b| b.try_into().ok()) else {
                return Err(StudyError::Invalid(format!(
                    "the input of data party {} is too short to be a dealer message",
                    d.party
                )));
            };
            dealings.push(id);
            msg.drain(..DEALING_ID_LEN);
            inputs.push(dealt_input(study, d, slot, msg));
        } else {
            inputs.push(remote_input(study, d)?);
        }
    }
    // Rounds against bytes: the study's choice, else few rounds, since stations that run
    // a study together sit at different organisations, where every round costs a network
    // latency (5-25 ms one way, against the bytes' fractions of a millisecond). The
    // default depends on the study's text only, which every station holds the same, and
    // the choice is bound into the session, so stations that chose differently refuse
    // each other at the handshake.
    let few = study.few_rounds(true);
    let cfg = TlsConfig::new(
        TcpConfig {
            me: slot,
            addrs,
            session: run_session(study, revision, &dealings, few),
            connect_timeout: opts.timeout,
            recv_timeout: opts.timeout,
        },
        identity,
        fps,
    );
    let ep = match listener {
        Some(l) => connect_tls_with_listener(&cfg, l),
        None => connect_tls(&cfg),
    }
    .map(|ep| ep.shaped(opts.network))
    .map_err(|e| network_failed(study, slot, "connecting", &e))?;
    let mut p = Party::setup(ep).map_err(|e| failed(Stations::of(study), slot, "set-up", &e))?;
    p.set_few_rounds(few);
    let run = party_main(
        study,
        &inputs,
        &mut p,
        &|p: &mut Party, frame| run_analyses(study, p, frame, opts.progress),
        opts.progress,
    );
    let run = match run {
        Ok(r) => r,
        Err(e) => {
            p.abort(&abort_reason(&e));
            return Err(e);
        }
    };
    Ok(PartyOutput {
        shares: station_shares(study, slot, &run),
        data: reports,
        cost: vec![run.cost(slot, me)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STUDY: &str = "[study]\nid = \"d\"\n[parties.registry]\ncompute = 0\n\
        [parties.gp]\ncompute = 1\n[parties.institute]\ncompute = 2\n[data.registry]\n\
        file = \"cases\"\n[data.registry.columns]\nv = \"numeric\"\n[recipients.r]\n\
        [[analysis]]\nname = \"x\"\nkind = \"describe\"\ncolumns = [\"registry.v\"]\n";

    fn study(text: &str) -> Study {
        crate::validate::parse_at_station("study.toml", text, "registry").unwrap()
    }

    #[test]
    fn the_session_binds_the_text_not_only_the_id() {
        let a = study(STUDY);
        let b = study(&STUDY.replace("[recipients.r]", "[recipients.eve]"));
        assert_eq!(a.id, b.id);
        assert_ne!(a.digest(), b.digest());
        assert_ne!(session(&a), session(&b));
        assert_eq!(session(&a), session(&study(STUDY)));
        assert_eq!(a.digest(), crate::format::text_digest(STUDY));
    }

    #[test]
    fn network_failures_are_told_by_party_and_kind_without_transport_details() {
        let s = study(STUDY);
        let cases = [
            (
                NetError::Connect {
                    peer: 2,
                    detail: "party 2 did not connect to us within 60s (last connection \
                             dropped: refused a connection from 10.1.2.3:5555: its \
                             certificate was refused)"
                        .into(),
                },
                "the computation could not connect to institute (timed out)",
            ),
            (
                NetError::Connect {
                    peer: 1,
                    detail: "10.0.0.7:7100 refused our hello: different session id".into(),
                },
                "the computation could not connect to gp (refused: it runs another text of \
                 the study, or with another dealing of an outside data party's table)",
            ),
            (
                NetError::Timeout {
                    peer: 1,
                    timeout: std::time::Duration::from_secs(60),
                },
                "the computation timed out waiting for gp",
            ),
            (
                NetError::Closed {
                    peer: 2,
                    detail: "read failed: reset by 10.0.0.9".into(),
                },
                "the computation lost its connection to institute",
            ),
        ];
        for (e, want) in cases {
            match network_failed(&s, 0, "connecting", &e) {
                StudyError::Network { public, detail } => {
                    assert_eq!(public, want);
                    assert!(!public.contains("10."), "{public}");
                    // The steward's detail keeps the transport's words, naming stations.
                    let words = match &e {
                        NetError::Connect { detail, .. } | NetError::Closed { detail, .. } => {
                            detail.split(": ").last().unwrap_or_default()
                        }
                        _ => "receive timeout",
                    };
                    assert!(detail.contains(words), "{detail}");
                    assert!(
                        detail.starts_with("station registry, connecting: "),
                        "{detail}"
                    );
                    assert!(!detail.contains("party "), "{detail}");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
