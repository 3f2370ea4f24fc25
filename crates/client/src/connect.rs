//! Reaching one station: its address, the certificate pin the connection must meet and the
//! researcher's identity presented as a client certificate. Every connection is TLS 1.3
//! pinned to the station's certificate fingerprint (as the study's `[parties.NAME]
//! fingerprint` or `tessera init` gives it).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tessera_net::identity::{parse_fingerprint, Fingerprint, Identity};
use tessera_station::client::Client;

/// How to reach one station: its pin and the identity to present (either may come from the
/// command line or from the [`crate::profile::Profile`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StationAddr {
    /// The station's certificate fingerprint (`sha256:` and 64 hex digits).
    pub pin: Option<String>,
    /// A folder written by `tessera init`, presented as a client certificate.
    pub identity: Option<PathBuf>,
}

/// What a researcher needs when a station answers 401.
pub const WHO_ARE_YOU: &str = "the station does not know you: present your certificate with \
     --identity DIR (a folder `tessera init` wrote) and ask its steward to list its \
     fingerprint under [[researchers]] in station.toml";

/// How long one request may take.
pub const TIMEOUT: Duration = Duration::from_secs(60);

impl StationAddr {
    /// The identity named, loaded (none when none is named).
    pub fn load_identity(&self) -> Result<Option<Identity>, String> {
        self.identity
            .as_deref()
            .map(|d| Identity::load(d).map_err(|e| format!("--identity: {e}")))
            .transpose()
    }

    /// The station's pin, which must be given (or resolved from the profile).
    pub fn pin(&self) -> Result<Fingerprint, String> {
        read_pin(self.pin.as_deref().ok_or("--pin is needed")?)
    }
}

/// A client for `addr` with the pin and identity of `s`.
pub fn client(addr: &str, s: &StationAddr) -> Result<Client, String> {
    let pin = s.pin()?;
    let identity = s.load_identity()?;
    Client::new(addr, pin, identity.as_ref(), TIMEOUT).map_err(|e| e.to_string())
}

/// Parses a pin (`sha256:` prefix optional).
pub fn read_pin(text: &str) -> Result<Fingerprint, String> {
    let t = text.trim();
    parse_fingerprint(t.strip_prefix("sha256:").unwrap_or(t)).map_err(|e| format!("--pin: {e}"))
}

/// The `error` of a station's JSON answer, or the whole answer.
pub fn message(v: &Value) -> String {
    v["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

/// A station's answer with a status nobody expected, as an error.
pub fn unexpected(status: u16, body: &Value) -> String {
    match status {
        401 => WHO_ARE_YOU.to_string(),
        s => format!("the station answered {s}: {}", message(body)),
    }
}
