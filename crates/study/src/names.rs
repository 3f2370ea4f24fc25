//! The engine's errors in the words of a study: compute stations by name, never by compute
//! slot.
//!
//! The network and MPC crates know the three compute parties by index (0, 1, 2) only; their
//! errors say `party 1`. People know stations by name (`registry`, `gp`, `institute`). Every
//! engine error that becomes a [`StudyError`](crate::StudyError) is told here, with the
//! study's compute parties in slot order ([`Stations`]): `station gp sent nothing for 60 s`.

use std::time::Duration;

use tessera_mpc::MpcError;
use tessera_net::NetError;

use crate::format::Study;

/// The names of a study's three compute stations, in slot order: what turns an index into a
/// name in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stations<'a>([&'a str; 3]);

impl<'a> Stations<'a> {
    /// The stations named `names`, compute slot `i` being `names[i]`.
    pub fn new(names: [&'a str; 3]) -> Stations<'a> {
        Stations(names)
    }

    /// The compute stations of `study` ([`Study::compute_parties`]).
    pub fn of(study: &'a Study) -> Stations<'a> {
        Stations(study.compute_parties())
    }

    /// The name of compute slot `slot` (`another station` for an index out of range).
    pub fn name(&self, slot: usize) -> &'a str {
        match self.0.get(slot) {
            Some(n) if !n.is_empty() => n,
            _ => "another station",
        }
    }

    /// `text` with every compute party named by index (`party 1`, `compute party 1`,
    /// `parties 0 and 2`) named as a station (`station gp`, `stations registry and
    /// institute`): for the free-text details the engine writes.
    pub fn text(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some((before, words, after)) = next_party(rest) {
            out.push_str(before);
            match words {
                Named::One(slot) => {
                    out.push_str("station ");
                    out.push_str(self.name(slot));
                }
                Named::Two(a, b) => {
                    out.push_str("stations ");
                    out.push_str(self.name(a));
                    out.push_str(" and ");
                    out.push_str(self.name(b));
                }
            }
            rest = after;
        }
        out.push_str(rest);
        out
    }

    /// A network failure in words, naming the station it concerns; its detail (the
    /// transport's words: addresses, certificates, system errors) is kept, for the log of
    /// the station that met it.
    pub fn net(&self, e: &NetError) -> String {
        let n = |peer: &usize| self.name(*peer);
        match e {
            NetError::Timeout { peer, timeout } => format!(
                "station {} sent nothing for {} (receive timeout)",
                n(peer),
                seconds(*timeout)
            ),
            NetError::Closed { peer, detail } => format!(
                "the connection to station {} was lost: {}",
                n(peer),
                self.text(detail)
            ),
            NetError::Aborted { peer, reason } => format!(
                "station {} aborted the computation: {}",
                n(peer),
                self.text(reason)
            ),
            NetError::Malformed { peer, detail } => format!(
                "malformed message from station {}: {}",
                n(peer),
                self.text(detail)
            ),
            NetError::Connect { peer, detail } => format!(
                "could not connect to station {}: {}",
                n(peer),
                self.text(detail)
            ),
            NetError::NoLink { me, peer } => {
                format!("station {} has no link to station {}", n(me), n(peer))
            }
            NetError::Tls { detail } => format!("TLS configuration failed: {}", self.text(detail)),
            NetError::TooDeep { me, channel } => format!(
                "station {} cannot split sub-session {channel}: sub-sessions nest at most {} deep",
                n(me),
                tessera_net::channel::MAX_DEPTH
            ),
        }
    }

    /// An engine failure in words, naming stations (see [`Stations::net`]).
    pub fn mpc(&self, e: &MpcError) -> String {
        match e {
            MpcError::Net(n) => self.net(n),
            MpcError::Malformed { peer, detail } => format!(
                "malformed message from station {}: {}",
                self.name(*peer),
                self.text(detail)
            ),
            MpcError::Invalid(what) => {
                format!("invalid use of the engine: {}", self.text(what))
            }
        }
    }

    /// What may be said of network failure `e` met at compute slot `me` to anyone (the
    /// researcher, the other stations): the station it concerns and the kind of failure,
    /// never the transport's words.
    pub fn public(&self, me: usize, e: &NetError) -> String {
        let n = |peer: &usize| self.name(*peer);
        match e {
            NetError::Connect { peer, .. } if *peer == me => {
                "the computation could not start its network (this station's configuration)"
                    .to_string()
            }
            NetError::Connect { peer, detail } => {
                // A peer that never came is a timeout, whatever else was dropped meanwhile.
                let kind = if detail.contains("different session id") {
                    "refused: it runs another text of the study, or with another dealing of an \
                     outside data party's table"
                } else if detail.contains("did not connect") || detail.contains("could not reach") {
                    "timed out"
                } else if detail.contains("refused") || detail.contains("certificate") {
                    "refused"
                } else if detail.contains("within") || detail.contains("no complete hello") {
                    "timed out"
                } else {
                    "failed"
                };
                format!("the computation could not connect to {} ({kind})", n(peer))
            }
            NetError::Timeout { peer, .. } => {
                format!("the computation timed out waiting for {}", n(peer))
            }
            NetError::Closed { peer, .. } => {
                format!("the computation lost its connection to {}", n(peer))
            }
            NetError::Aborted { peer, .. } => format!("{} stopped the computation", n(peer)),
            NetError::Malformed { peer, .. } => format!("{} sent a malformed message", n(peer)),
            NetError::NoLink { .. } | NetError::Tls { .. } => {
                "the computation could not start its network (this station's configuration)"
                    .to_string()
            }
            NetError::TooDeep { .. } => {
                "the computation nested its sub-sessions too deep (a limit of the software)"
                    .to_string()
            }
        }
    }
}

/// `60 s`, `1.5 s`, `200 ms`.
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// One or two compute parties named by index.
enum Named {
    One(usize),
    Two(usize, usize),
}

/// The first mention of compute parties by index in `text`: the text before it, the
/// parties, and the text after it. A mention is `party N` or `compute party N` (N a single
/// digit 0 to 2, not followed by another digit), or `parties N and M`, at a word start.
fn next_party(text: &str) -> Option<(&str, Named, &str)> {
    let mut from = 0;
    while let Some(at) = text[from..].find("part").map(|i| from + i) {
        from = at + 4;
        if text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let rest = &text[at..];
        let found = if let Some(r) = rest.strip_prefix("party ") {
            digit(r).map(|(n, after)| (Named::One(n), after))
        } else if let Some(r) = rest.strip_prefix("parties ") {
            digit(r).and_then(|(a, r)| {
                let r = r.strip_prefix(" and ")?;
                digit(r).map(|(b, after)| (Named::Two(a, b), after))
            })
        } else {
            None
        };
        if let Some((named, after)) = found {
            let before = &text[..at];
            let before = before.strip_suffix("compute ").unwrap_or(before);
            return Some((before, named, after));
        }
    }
    None
}

/// A compute slot (one digit, 0 to 2, not followed by another digit) at the start of `s`.
fn digit(s: &str) -> Option<(usize, &str)> {
    let mut chars = s.chars();
    let d = chars.next()?.to_digit(10)? as usize;
    let after = chars.as_str();
    (d < 3 && !after.starts_with(|c: char| c.is_ascii_digit())).then_some((d, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Stations<'static> = Stations(["registry", "gp", "institute"]);

    #[test]
    fn parties_named_by_index_are_named_as_stations() {
        assert_eq!(
            S.text("party 2 did not connect to us; party 1 was not reached either"),
            "station institute did not connect to us; station gp was not reached either"
        );
        assert_eq!(
            S.text("certificate of party 1 presented in party 2's slot"),
            "certificate of station gp presented in station institute's slot"
        );
        assert_eq!(
            S.text("compute party 0, linking: parties 0 and 2 are listed twice"),
            "station registry, linking: stations registry and institute are listed twice"
        );
        // Not a compute party: other digits, other words, no number.
        for keep in [
            "party 12 rows",
            "third party 3",
            "counterparty 1",
            "a party that dials",
            "party",
            "parts 1",
        ] {
            assert_eq!(S.text(keep), keep);
        }
    }

    #[test]
    fn network_failures_name_the_station_and_keep_the_detail() {
        let cases = [
            (
                NetError::Timeout {
                    peer: 1,
                    timeout: Duration::from_secs(60),
                },
                "station gp sent nothing for 60 s (receive timeout)",
            ),
            (
                NetError::Timeout {
                    peer: 2,
                    timeout: Duration::from_millis(200),
                },
                "station institute sent nothing for 200 ms (receive timeout)",
            ),
            (
                NetError::Connect {
                    peer: 2,
                    detail: "party 2 at 10.0.0.9:7100 refused the TLS handshake".into(),
                },
                "could not connect to station institute: station institute at 10.0.0.9:7100 \
                 refused the TLS handshake",
            ),
            (
                NetError::Aborted {
                    peer: 0,
                    reason: "malformed message from party 1: 3 bytes".into(),
                },
                "station registry aborted the computation: malformed message from station gp: \
                 3 bytes",
            ),
            (
                NetError::NoLink { me: 0, peer: 0 },
                "station registry has no link to station registry",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(S.net(&e), want);
        }
        assert_eq!(
            S.mpc(&MpcError::Malformed {
                peer: 2,
                detail: "4 bytes where the protocol expects 8".into()
            }),
            "malformed message from station institute: 4 bytes where the protocol expects 8"
        );
    }
}
