//! The recipient's side of a study's results: fetch every compute station's shares over the
//! pinned HTTPS client and hand them to [`tessera_study::deliver::open`], which checks them
//! against each other and reconstructs. Used by `tessera study results` and the demo.
//!
//! The recipient pins the station it asks first; that station names the other compute
//! stations of the study with their API addresses and the certificate fingerprints *it*
//! trusts. A station that lied about the others could only make the results fail to
//! reconstruct (the parts would not match the commitments), never learn anything: the
//! recipient only receives.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use tessera_net::identity::{parse_fingerprint, Fingerprint, Identity};
use tessera_study::deliver::StationShares;
use tessera_study::StudyOutput;

use crate::client::{Answer, Client};

/// How the recipient proves who it is at each station.
#[derive(Clone, Debug, Default)]
pub struct Credentials<'a> {
    /// The recipient's certificate (the one the study lists for it).
    pub identity: Option<&'a Identity>,
    /// A token for the first station asked (issued by its steward).
    pub token: Option<String>,
    /// Tokens for named stations. A token is a credential: it is sent only to a station the
    /// recipient pinned itself ([`Credentials::pins`]), never on the first station's word.
    pub tokens: BTreeMap<String, String>,
    /// Certificate fingerprints the recipient pins for named stations (overriding what the
    /// first station says).
    pub pins: BTreeMap<String, Fingerprint>,
}

impl Credentials<'_> {
    fn headers(&self, station: Option<&str>) -> Vec<(String, String)> {
        let t = match station {
            Some(s) => self.tokens.get(s).cloned(),
            None => self.token.clone(),
        };
        t.map(|t| vec![("Authorization".to_string(), format!("Bearer {t}"))])
            .unwrap_or_default()
    }
}

/// What fetching the results came to.
#[derive(Debug)]
pub enum Fetched {
    /// The results, reconstructed from the three compute stations' shares.
    Results(Box<StudyOutput>, Delivered),
    /// A station answered with a status other than 200: its status and JSON body.
    Answer(String, u16, Value),
}

/// What the delivery cost: bytes of the shares received from each station.
#[derive(Clone, Debug, Default)]
pub struct Delivered {
    /// `(station, bytes of its answer)`, in the order fetched.
    pub bytes: Vec<(String, usize)>,
}

fn get(c: &Client, path: &str, headers: &[(String, String)]) -> Result<Answer, String> {
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    c.request("GET", path, &h, &[]).map_err(|e| e.to_string())
}

/// One station's answer as its shares.
fn shares_of(a: &Answer, name: &str) -> Result<StationShares, String> {
    let body = a.json();
    let doc = serde_json::to_string(&body["shares"]).map_err(|e| e.to_string())?;
    StationShares::from_json(&doc, name).map_err(|e| e.to_string())
}

/// Fetches study `id`'s results for the recipient from the station at `at` (pinned to
/// `pin`) and the other two compute stations it names, and reconstructs them. An answer
/// other than 200 from any station is returned as it is (the caller shows it); a part that
/// does not match the others is an error naming the station.
pub fn fetch(
    id: &str,
    at: &str,
    pin: Fingerprint,
    creds: &Credentials,
    timeout: Duration,
) -> Result<Fetched, String> {
    let path = format!("/studies/{id}/results");
    let first = Client::new(at, pin, creds.identity, timeout).map_err(|e| e.to_string())?;
    let a = get(&first, &path, &creds.headers(None))?;
    let name = a.json()["station"].as_str().unwrap_or(at).to_string();
    if a.status != 200 {
        return Ok(Fetched::Answer(name, a.status, a.json()));
    }
    let mut delivered = Delivered::default();
    delivered.bytes.push((name.clone(), a.body.len()));
    let mut parts = vec![shares_of(&a, &name)?];
    let others = a.json()["compute"].as_array().cloned().unwrap_or_default();
    for o in others {
        let station = o["station"].as_str().unwrap_or("?").to_string();
        let addr = o["address"]
            .as_str()
            .ok_or_else(|| format!("{name} gave no address for station {station}"))?;
        if creds.tokens.contains_key(&station) && !creds.pins.contains_key(&station) {
            return Err(format!(
                "a token for station {station} is sent only to a station you pinned: \
                 add --pin-station {station}=sha256:… (its certificate's fingerprint)"
            ));
        }
        let fp = match creds.pins.get(&station) {
            Some(fp) => *fp,
            None => o["fingerprint"]
                .as_str()
                .and_then(|f| parse_fingerprint(f.strip_prefix("sha256:").unwrap_or(f)).ok())
                .ok_or_else(|| format!("{name} gave no fingerprint for station {station}"))?,
        };
        let c = Client::new(addr, fp, creds.identity, timeout)
            .map_err(|e| format!("station {station}: {e}"))?;
        let a = get(&c, &path, &creds.headers(Some(&station)))
            .map_err(|e| format!("station {station}: {e}"))?;
        if a.status != 200 {
            return Ok(Fetched::Answer(station, a.status, a.json()));
        }
        delivered.bytes.push((station.clone(), a.body.len()));
        parts.push(shares_of(&a, &station)?);
    }
    let out = tessera_study::deliver::open(parts).map_err(|e| e.to_string())?;
    Ok(Fetched::Results(Box::new(out), delivered))
}
