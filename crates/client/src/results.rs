//! Fetching a study's results as one of its recipients: the shares of the three compute
//! stations are fetched and reconstructed here by [`tessera_station::recipient::fetch`]
//! (no station ever holds a result), optionally waiting while the study is still being
//! approved or computed.

use std::time::{Duration, Instant};

use tessera_station::recipient::{self, Credentials, Fetched};

use crate::connect::{StationAddr, TIMEOUT};
use crate::studies::still_going;

/// How often a waiting fetch asks again.
const POLL: Duration = Duration::from_millis(300);

/// Fetches study `id`'s results from the station at `at` (pinned as `station` says) and
/// the other compute stations it names. While a station answers 409 with a state that may
/// still produce results and `wait` has not passed, `waiting` is called with that state and
/// the fetch is tried again; any other answer is returned as it is.
pub fn fetch(
    id: &str,
    at: &str,
    station: &StationAddr,
    creds: &Credentials,
    wait: Duration,
    mut waiting: impl FnMut(&str),
) -> Result<Fetched, String> {
    let pin = station.pin()?;
    let deadline = Instant::now() + wait;
    loop {
        let f = recipient::fetch(id, at, pin, creds, TIMEOUT)?;
        if let Fetched::Answer(_, 409, body) = &f {
            let state = body["state"].as_str().unwrap_or("");
            if still_going(state) && Instant::now() < deadline {
                waiting(state);
                std::thread::sleep(POLL);
                continue;
            }
        }
        return Ok(f);
    }
}
