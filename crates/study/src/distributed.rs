//! One compute station's part of a study run across machines: the same steps as the local
//! runner ([`crate::run`]), but this process is one compute party, reads only its own
//! dataset, and reaches the two other compute stations over mutually authenticated TLS 1.3,
//! each pinned to the certificate fingerprint the study lists for it.
//!
//! Every compute station runs this with the same study file (`tessera run STUDY --as NAME
//! --identity DIR`); the three link up on the study's addresses, share their tables, link
//! them and run the analyses. Each ends with the same opened results; the owner-side data
//! report it prints is its own only.
//!
//! The TLS session is bound to the study: its identifier is derived from the study id and
//! the digest of the study's exact text ([`session`]), so stations running different
//! studies, or different texts of one study, on the same addresses refuse each other.
//!
//! Outside data parties (data parties without a compute slot) deal their prepared table into
//! one message per compute slot ([`deal_input`]); the station service carries each message
//! to its compute station and hands it to [`run_party_with`]. A run by hand
//! (`tessera run --as`) has no such channel and refuses studies with outside data parties.
//! Approval and audit are the station service's (`tessera-station`'s `coordinate`).

use std::net::{SocketAddr, ToSocketAddrs};

use tessera_mpc::Party;
use tessera_net::identity::Identity;
use tessera_net::tcp::TcpConfig;
use tessera_net::tls::{connect_tls, TlsConfig};

use crate::data::{self, DataTable};
use crate::error::{Result, StudyError};
use crate::format::{DataSpec, Study};
use crate::run::{
    dealt_input, failed, output, party_main, prepare_input, remote_input, run_analyses, RunOptions,
    StudyOutput,
};

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

/// Each compute slot's address and certificate fingerprint, from the study.
fn peers(study: &Study) -> Result<([SocketAddr; 3], [[u8; 32]; 3])> {
    let names = study.compute_parties();
    let mut addrs = Vec::with_capacity(3);
    let mut fps = [[0u8; 32]; 3];
    for (slot, name) in names.iter().enumerate() {
        let p = study.party(name).expect("compute parties are parties");
        let addr = p.address.as_deref().ok_or_else(|| {
            StudyError::Invalid(format!(
                "parties.{name}: an address is needed to run across machines"
            ))
        })?;
        let a = addr
            .to_socket_addrs()
            .map_err(|e| StudyError::Invalid(format!("parties.{name}: address {addr}: {e}")))?
            .next()
            .ok_or_else(|| {
                StudyError::Invalid(format!("parties.{name}: address {addr} does not resolve"))
            })?;
        addrs.push(a);
        fps[slot] = p.fingerprint.ok_or_else(|| {
            StudyError::Invalid(format!(
                "parties.{name}: a fingerprint is needed to run across machines"
            ))
        })?;
    }
    Ok(([addrs[0], addrs[1], addrs[2]], fps))
}

/// Runs station `me`'s part of the study (see the module docs). `me` must be a compute
/// party; its identity must be the one whose fingerprint the study lists for it.
pub fn run_party(
    study: &Study,
    me: &str,
    identity: &Identity,
    opts: &RunOptions,
) -> Result<StudyOutput> {
    run_party_with(study, me, identity, opts, &data::load, &|_| None)
}

/// At an outside data party (one without a compute slot): its dataset `table` of `spec`
/// prepared (linkage keys digested, columns encoded) and dealt as one message per compute
/// slot. Message `i` goes to compute party `i` only: each alone is uniformly random; any two
/// together hold the data, as with any secret sharing here.
pub fn deal_input(study: &Study, spec: &DataSpec, table: &DataTable) -> Result<[Vec<u8>; 3]> {
    let (input, _) = prepare_input(study, spec, table)?;
    input.into_dealt().ok_or_else(|| {
        StudyError::Invalid(format!(
            "{} is a compute party: it shares its data itself",
            spec.party
        ))
    })
}

/// [`run_party`] with this station's dataset read by `load` (the station service reads it
/// from its configured source instead of the study's file), and each outside data party's
/// dealer message for this station's slot given by `outside` (the station service receives
/// them from those parties' stations; see [`deal_input`]). Nothing is sent before `load`
/// has read and checked the whole dataset.
pub fn run_party_with(
    study: &Study,
    me: &str,
    identity: &Identity,
    opts: &RunOptions,
    load: &dyn Fn(&DataSpec) -> Result<DataTable>,
    outside: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<StudyOutput> {
    let slot = study
        .party(me)
        .ok_or_else(|| StudyError::Invalid(format!("no party {me} in the study")))?
        .compute
        .ok_or_else(|| {
            StudyError::Invalid(format!(
                "{me} is not a compute party: only compute stations run a study"
            ))
        })?;
    let (addrs, fps) = peers(study)?;
    if fps[slot] != identity.fingerprint() {
        return Err(StudyError::Invalid(format!(
            "the identity given is not {me}'s: the study lists another certificate fingerprint"
        )));
    }
    // Only this station's dataset is read; the others are known by their schema.
    let mut inputs = Vec::with_capacity(study.data.len());
    let mut reports = Vec::new();
    for d in &study.data {
        if d.party == me {
            let table = load(d)?;
            let (input, report) = prepare_input(study, d, &table)?;
            inputs.push(input);
            reports.push(report);
        } else if study.party(&d.party).is_some_and(|p| p.compute.is_none()) {
            let msg = outside(&d.party).ok_or_else(|| {
                StudyError::Invalid(format!(
                    "data party {} has no compute slot and its input has not arrived: \
                     outside data parties take part through the station service only",
                    d.party
                ))
            })?;
            inputs.push(dealt_input(d, slot, msg));
        } else {
            inputs.push(remote_input(study, d)?);
        }
    }
    let cfg = TlsConfig::new(
        TcpConfig {
            me: slot,
            addrs,
            session: session(study),
            connect_timeout: opts.timeout,
            recv_timeout: opts.timeout,
        },
        identity,
        fps,
    );
    let ep = connect_tls(&cfg).map_err(|e| failed(slot, "connecting", e))?;
    let mut p = Party::setup(ep).map_err(|e| failed(slot, "set-up", e))?;
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
            p.abort(&e.to_string());
            return Err(e);
        }
    };
    let cost = vec![run.cost(slot, me)];
    Ok(output(study, &run, reports, cost))
}
