//! Asking the peers for audit heads (see [`crate::anchor`]): the service keeps the heads of
//! every station it trusts ([`run`], every [`ServiceOptions::anchor_every`]), and
//! `tessera station audit verify` collects what the peers kept of this station's
//! ([`collect`]). Both over the API's mutually authenticated HTTPS, each station pinned by
//! the fingerprint this station's configuration trusts.
//!
//! [`ServiceOptions::anchor_every`]: crate::coordinate::ServiceOptions::anchor_every

use std::sync::Arc;
use std::time::Duration;

use tessera_net::identity::{self, Identity};

use crate::anchor::{HeadAnswer, PeerRecord, Recorded, SignedHead};
use crate::api::Api;
use crate::audit::from_hex;
use crate::client::Client;
use crate::config::{Config, Trusted};

/// The service's loop: records every trusted station's head now and then every
/// `anchor_every`, for ever.
pub fn run(api: Arc<Api>) {
    // The stations that failed last round: a failure is logged once, until it passes.
    let mut failing: std::collections::BTreeSet<String> = Default::default();
    loop {
        for t in &api.config.trusted {
            match record(&api, t) {
                // A peer that is down is asked again at the next round.
                Err(e) => {
                    if failing.insert(t.name.clone()) {
                        tracing::warn!(
                            target: "tessera::anchoring",
                            "cannot record the audit head of {} (asked again every {} s; \
                             said again once it answers): {e}",
                            t.name,
                            api.options.anchor_every.as_secs()
                        );
                    }
                }
                Ok(()) => {
                    if failing.remove(&t.name) {
                        tracing::info!(
                            target: "tessera::anchoring",
                            "recording the audit head of {} again",
                            t.name
                        );
                    }
                }
            }
        }
        std::thread::sleep(api.options.anchor_every);
    }
}

/// Asks `t` for its signed head, checks it against `t`'s pinned fingerprint and keeps it.
/// A head that conflicts with one kept earlier, or goes back, is reported on standard error
/// (for this steward, who may tell the other's).
fn record(api: &Api, t: &Trusted) -> Result<(), String> {
    let client = Client::new(
        &t.address,
        t.fingerprint,
        Some(&api.identity),
        api.options.peer_timeout,
    )
    .map_err(|e| e.to_string())?;
    let answer = client
        .request("GET", "/peer/audit/head", &[], &[])
        .map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!(
            "{} answered {}: {}",
            t.name,
            answer.status,
            crate::coordinate::bounded(&answer.text())
        ));
    }
    let a: HeadAnswer = serde_json::from_slice(&answer.body)
        .map_err(|e| format!("{} answered something else than a signed head: {e}", t.name))?;
    let cert = from_hex(&a.certificate).ok_or("the certificate is not hex")?;
    if identity::fingerprint(&cert) != t.fingerprint {
        return Err(format!(
            "{} signed its head with another certificate than the one this station trusts",
            t.name
        ));
    }
    a.head.check(&cert)?;
    let recorded = api
        .approvals()
        .peer_heads()
        .record(&t.fingerprint, &a.head)
        .map_err(|e| e.to_string())?;
    match recorded {
        Recorded::New | Recorded::Known => {}
        Recorded::Conflict { kept } => tracing::error!(
            target: "tessera::anchoring",
            "{} now signs another hash for its audit entry {} than \
             it did before ({kept}): its log was rewritten; its steward should run \
             `tessera station audit verify`",
            t.name, a.head.count
        ),
        Recorded::Behind { kept } => tracing::error!(
            target: "tessera::anchoring",
            "{}'s audit log went back from entry {kept} to {}: \
             entries were deleted; its steward should run `tessera station audit verify`",
            t.name, a.head.count
        ),
    }
    Ok(())
}

/// What every station `config` trusts kept of this station's heads, asked with `identity`
/// (this station's), each within `timeout`. A station that cannot be asked is reported as
/// such, not as a mismatch.
pub fn collect(config: &Config, identity: &Identity, timeout: Duration) -> Vec<PeerRecord> {
    config
        .trusted
        .iter()
        .map(|t| PeerRecord {
            peer: t.name.clone(),
            heads: ask_kept(t, identity, timeout),
        })
        .collect()
}

/// The heads `t` kept of the asking station's log.
fn ask_kept(
    t: &Trusted,
    identity: &Identity,
    timeout: Duration,
) -> Result<Vec<SignedHead>, String> {
    let client = Client::new(&t.address, t.fingerprint, Some(identity), timeout)
        .map_err(|e| e.to_string())?;
    let answer = client
        .request("GET", "/peer/audit/kept", &[], &[])
        .map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!(
            "answered {}: {}",
            answer.status,
            crate::coordinate::bounded(&answer.text())
        ));
    }
    #[derive(serde::Deserialize)]
    struct Kept {
        heads: Vec<SignedHead>,
    }
    serde_json::from_slice::<Kept>(&answer.body)
        .map(|k| k.heads)
        .map_err(|e| format!("answered something else than the heads it kept: {e}"))
}

/// This station's head, signed: the answer to `GET /peer/audit/head`.
pub(crate) fn own_head(api: &Api) -> Result<HeadAnswer, String> {
    let (count, head) = api.approvals().log().head().map_err(|e| e.to_string())?;
    let head = SignedHead::sign(&api.identity, &api.config.name, count, &head)?;
    Ok(HeadAnswer {
        head,
        certificate: crate::audit::hex(&api.identity.cert_der),
    })
}
