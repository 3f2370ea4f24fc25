//! Audit heads kept by the peers: the anchor that catches a log rewritten consistently.
//!
//! [`crate::audit`] detects any change to the log that leaves the chain inconsistent, but
//! not a rewrite made with care (entries deleted at the end together with the head record,
//! or every hash after a change recomputed): only a head recorded outside the station's own
//! database catches that. So each station signs its log's head with its identity key
//! ([`SignedHead`]: the entry count and the last entry's hash) and every station it trusts
//! asks for it periodically and keeps what it got ([`PeerHeads`], a table of the peer's own
//! audit database). `tessera station audit verify` collects what the peers kept about this
//! station and [`check`]s the local log against it: an entry deleted, rewritten, reordered
//! or cut off after a peer recorded a head past it no longer matches that head, and the
//! first entry that differs is named (exactly when the peers recorded every head; else
//! the range between the last head that matches and the first that does not).
//!
//! The signature makes a peer's record evidence: a peer cannot invent a head this station
//! never had (it would not verify against this station's certificate), and this station
//! cannot deny one it signed. A station that shows two peers two different logs is caught
//! too: their records for the same entry differ.
//!
//! LEAKAGE: a peer learns how many entries this station's log holds and when it grows (so
//! roughly how busy the station is); never an entry's content.
//!
//! LIMITS: entries appended and removed again between two visits of every peer are not
//! caught by this (they are by the chain unless the tail was rewritten too); the service
//! asks every [`crate::coordinate::ServiceOptions::anchor_every`]. Stations that collude
//! (all peers forgetting or rewriting what they recorded) defeat it.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};
use tessera_net::identity::{self, Identity, Signature};

use crate::audit::{from_hex, from_hex32, hex, GENESIS};
use crate::time::now_rfc3339;

/// Longest station name a signed head may carry (as station.toml allows).
const MAX_NAME: usize = 64;

/// Longest time a signed head may carry (RFC 3339 is under 40 characters).
const MAX_TIME: usize = 40;

/// Longest signature a signed head may carry, in hex.
const MAX_SIGNATURE_HEX: usize = 512;

/// Domain separation of the signed head (and the format version).
const DOMAIN: &[u8] = b"tessera-audit-head-v1";

/// A station's statement "my audit log has `count` entries and the last one's hash is
/// `head`", signed with its identity key at `time`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedHead {
    /// The signing station's name (as it calls itself).
    pub station: String,
    /// The number of entries.
    pub count: u64,
    /// The hash of entry `count` ([`GENESIS`] for an empty log), hex.
    pub head: String,
    /// When it was signed (RFC 3339 UTC).
    pub time: String,
    /// The signature scheme ([`Signature::scheme`]).
    pub scheme: String,
    /// The signature, hex.
    pub signature: String,
}

/// A station's answer to `GET /peer/audit/head`: its signed head and the certificate it
/// verifies against (whose fingerprint the asking station compares with the one it pins).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeadAnswer {
    /// The signed head.
    pub head: SignedHead,
    /// The station's certificate, DER in hex.
    pub certificate: String,
}

/// The bytes signed: the domain, the signer's certificate fingerprint, then every field,
/// each length-prefixed (so no two heads sign the same bytes).
fn message(
    fingerprint: &identity::Fingerprint,
    station: &str,
    count: u64,
    head: &str,
    time: &str,
) -> Vec<u8> {
    let mut m =
        Vec::with_capacity(DOMAIN.len() + 32 + station.len() + head.len() + time.len() + 40);
    let field = |m: &mut Vec<u8>, b: &[u8]| {
        m.extend_from_slice(&(b.len() as u64).to_be_bytes());
        m.extend_from_slice(b);
    };
    m.extend_from_slice(DOMAIN);
    field(&mut m, fingerprint);
    field(&mut m, station.as_bytes());
    m.extend_from_slice(&count.to_be_bytes());
    field(&mut m, head.as_bytes());
    field(&mut m, time.as_bytes());
    m
}

impl SignedHead {
    /// Signs this station's head now.
    pub fn sign(
        identity: &Identity,
        station: &str,
        count: u64,
        head: &str,
    ) -> Result<SignedHead, String> {
        let time = now_rfc3339();
        let msg = message(&identity.fingerprint(), station, count, head, &time);
        let sig = identity.sign(&msg)?;
        Ok(SignedHead {
            station: station.to_string(),
            count,
            head: head.to_string(),
            time,
            scheme: sig.scheme,
            signature: hex(&sig.bytes),
        })
    }

    /// Checks that the head is well formed and was signed by the key of `cert_der`.
    pub fn check(&self, cert_der: &[u8]) -> Result<(), String> {
        if from_hex32(&self.head).is_none() {
            return Err(format!("the head of entry {} is not a hash", self.count));
        }
        // A trusted peer's answer may be up to the client's body limit: what is kept of it
        // is bounded here (names are at most 64 characters, a time about 30, a signature
        // of any scheme offered under 200 bytes).
        if self.station.len() > MAX_NAME
            || self.time.len() > MAX_TIME
            || self.signature.len() > MAX_SIGNATURE_HEX
        {
            return Err(format!(
                "the head of entry {} has an oversized name, time or signature",
                self.count
            ));
        }
        if i64::try_from(self.count).is_err() {
            return Err(format!("entry count {} is beyond any log", self.count));
        }
        if self.count == 0 && self.head != GENESIS {
            return Err("an empty log's head must be the genesis hash".to_string());
        }
        let bytes = from_hex(&self.signature).ok_or("the signature is not hex")?;
        let msg = message(
            &identity::fingerprint(cert_der),
            &self.station,
            self.count,
            &self.head,
            &self.time,
        );
        identity::verify_signature(
            cert_der,
            &msg,
            &Signature {
                scheme: self.scheme.clone(),
                bytes,
            },
        )
    }
}

/// What recording a peer's head did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A head past the last one kept: stored.
    New,
    /// The same head as already kept for that entry (or an older one that matches).
    Known,
    /// A different head than the one kept for the same entry: the peer's log was rewritten
    /// (the first one is kept).
    Conflict {
        /// The head kept.
        kept: String,
    },
    /// Fewer entries than a head kept earlier: the peer's log lost entries (nothing stored).
    Behind {
        /// The last entry kept.
        kept: u64,
    },
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS peer_heads (
    peer      TEXT NOT NULL,
    station   TEXT NOT NULL,
    count     INTEGER NOT NULL,
    head      TEXT NOT NULL,
    time      TEXT NOT NULL,
    scheme    TEXT NOT NULL,
    signature TEXT NOT NULL,
    recorded  TEXT NOT NULL,
    PRIMARY KEY (peer, count)
);
";

/// The most heads kept of one peer's log. Past it the older half is thinned to every other
/// head, so the kept heads grow denser towards the present and a peer's log of a million
/// entries costs this station (and its `GET /peer/audit/kept` answer) a few thousand rows:
/// the latest head still covers every entry (the chain), older ones only narrow down where
/// a rewrite begins.
pub const MAX_KEPT: usize = 4096;

/// The heads of other stations' logs that this station keeps, in its audit database (not
/// in the chain: they are the peers' evidence, each signed by the peer itself).
pub struct PeerHeads<'a> {
    conn: &'a Connection,
}

impl<'a> PeerHeads<'a> {
    /// Creates the table in `conn` if it is missing (when the audit file is opened).
    pub(crate) fn create(conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch(SCHEMA)
    }

    /// The table in `conn`.
    pub(crate) fn new(conn: &'a Connection) -> PeerHeads<'a> {
        PeerHeads { conn }
    }

    /// Keeps `head` of the peer with certificate fingerprint `peer` (whose signature the
    /// caller has checked) unless a head for that entry is kept already.
    pub fn record(
        &self,
        peer: &identity::Fingerprint,
        head: &SignedHead,
    ) -> rusqlite::Result<Recorded> {
        let peer = identity::fingerprint_hex(peer);
        let count = i64::try_from(head.count).unwrap_or(i64::MAX);
        // A log that went back is said first, even to an entry kept earlier.
        let last: Option<i64> = self.conn.query_row(
            "SELECT max(count) FROM peer_heads WHERE peer = ?1",
            [&peer],
            |r| r.get(0),
        )?;
        if let Some(last) = last.filter(|&l| l > count) {
            return Ok(Recorded::Behind { kept: last as u64 });
        }
        let kept: Option<String> = self
            .conn
            .query_row(
                "SELECT head FROM peer_heads WHERE peer = ?1 AND count = ?2",
                params![peer, count],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(kept) = kept {
            return Ok(if kept == head.head {
                Recorded::Known
            } else {
                Recorded::Conflict { kept }
            });
        }
        self.conn.execute(
            "INSERT INTO peer_heads (peer, station, count, head, time, scheme, signature, recorded)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                peer,
                head.station,
                count,
                head.head,
                head.time,
                head.scheme,
                head.signature,
                now_rfc3339()
            ],
        )?;
        self.thin(&peer)?;
        Ok(Recorded::New)
    }

    /// Past [`MAX_KEPT`] heads of `peer` (hex fingerprint): every other head of the older
    /// half is dropped (never the first nor the latest).
    fn thin(&self, peer: &str) -> rusqlite::Result<()> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM peer_heads WHERE peer = ?1",
            [peer],
            |r| r.get(0),
        )?;
        if usize::try_from(n).unwrap_or(0) <= MAX_KEPT {
            return Ok(());
        }
        let counts: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare("SELECT count FROM peer_heads WHERE peer = ?1 ORDER BY count")?;
            let rows = stmt.query_map([peer], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let older = counts.len() / 2;
        for c in counts[1..older].iter().step_by(2) {
            self.conn.execute(
                "DELETE FROM peer_heads WHERE peer = ?1 AND count = ?2",
                params![peer, c],
            )?;
        }
        Ok(())
    }

    /// Every head kept of the peer with fingerprint `peer`, by entry.
    pub fn of(&self, peer: &identity::Fingerprint) -> rusqlite::Result<Vec<SignedHead>> {
        let mut stmt = self.conn.prepare(
            "SELECT station, count, head, time, scheme, signature FROM peer_heads
             WHERE peer = ?1 ORDER BY count",
        )?;
        let rows = stmt.query_map([identity::fingerprint_hex(peer)], |r| {
            Ok(SignedHead {
                station: r.get(0)?,
                count: r.get::<_, i64>(1)?.max(0) as u64,
                head: r.get(2)?,
                time: r.get(3)?,
                scheme: r.get(4)?,
                signature: r.get(5)?,
            })
        })?;
        rows.collect()
    }
}

/// What the peers kept about this station, from one peer: its name and the heads (or why
/// they could not be had).
#[derive(Clone, Debug)]
pub struct PeerRecord {
    /// The peer.
    pub peer: String,
    /// The heads it kept, or why it could not be asked.
    pub heads: Result<Vec<SignedHead>, String>,
}

/// What one peer kept of this station's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kept {
    /// Heads that verified.
    pub heads: usize,
    /// The last entry they reach.
    pub up_to: u64,
}

/// The outcome of [`check`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnchorReport {
    /// Per peer asked: how many heads it kept and the last entry they reach (`None`: it
    /// could not be asked, with why).
    pub peers: Vec<(String, Result<Kept, String>)>,
    /// What does not match: empty when the log agrees with every head the peers kept.
    pub problems: Vec<String>,
}

/// Checks this station's log (its entries' stored hashes by `seq`, from 1) against the
/// heads its peers kept: every head must be signed by this station (`own_cert`), two peers
/// must not hold different heads for one entry, and the log must contain each head.
/// Names the first entry that differs.
pub fn check(hashes: &[(u64, String)], own_cert: &[u8], records: &[PeerRecord]) -> AnchorReport {
    let mut report = AnchorReport::default();
    // Entry → (head, who kept it, when it was signed), the first peer's where they agree.
    let mut heads: BTreeMap<u64, (String, String, String)> = BTreeMap::new();
    for r in records {
        let kept = match &r.heads {
            Ok(k) => k,
            Err(why) => {
                report.peers.push((r.peer.clone(), Err(why.clone())));
                continue;
            }
        };
        let mut valid = 0;
        for h in kept {
            if let Err(why) = h.check(own_cert) {
                report.problems.push(format!(
                    "{} keeps a head for entry {} that this station did not sign ({why}): \
                     {}'s record is damaged or forged",
                    r.peer, h.count, r.peer
                ));
                continue;
            }
            valid += 1;
            match heads.get(&h.count) {
                Some((other, by, _)) if *other != h.head => report.problems.push(format!(
                    "{by} and {} were shown different heads for entry {} ({} and {}): \
                     the log was rewritten between their visits",
                    r.peer,
                    h.count,
                    crate::coordinate::short(other),
                    crate::coordinate::short(&h.head)
                )),
                Some(_) => {}
                None => {
                    heads.insert(h.count, (h.head.clone(), r.peer.clone(), h.time.clone()));
                }
            }
        }
        let reach = kept.iter().map(|h| h.count).max().unwrap_or(0);
        report.peers.push((
            r.peer.clone(),
            Ok(Kept {
                heads: valid,
                up_to: reach,
            }),
        ));
    }
    let local: BTreeMap<u64, &str> = hashes.iter().map(|(s, h)| (*s, h.as_str())).collect();
    let last_local = hashes.iter().map(|(s, _)| *s).max().unwrap_or(0);
    let mut matched = 0u64;
    for (&count, (head, by, time)) in &heads {
        let here = if count == 0 {
            Some(GENESIS)
        } else {
            local.get(&count).copied()
        };
        if here == Some(head.as_str()) {
            matched = count;
            continue;
        }
        let what = match here {
            None => format!(
                "{by} kept entry {count} (signed {time}) but the log ends at entry {last_local}"
            ),
            Some(_) => {
                format!("entry {count}'s hash is not the head {by} kept for it (signed {time})")
            }
        };
        let first = if count == matched + 1 {
            format!("the first entry that differs is entry {count}")
        } else {
            format!(
                "the first entry that differs is one of entries {}..={count} (entry {matched} \
                 still matches what the peers kept)",
                matched + 1
            )
        };
        report.problems.push(format!(
            "{what}: entries were deleted, rewritten or reordered; {first}"
        ));
        // Every later head chains through this one: one finding is enough.
        break;
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u64) -> String {
        format!("{n:064x}")
    }

    #[test]
    fn signed_heads_verify_only_unchanged_and_with_the_signers_certificate() {
        let me = Identity::generate("registry").unwrap();
        let other = Identity::generate("gp").unwrap();
        let h = SignedHead::sign(&me, "registry", 7, &hash(7)).unwrap();
        h.check(&me.cert_der).unwrap();
        assert!(h.check(&other.cert_der).is_err());
        for changed in [
            SignedHead {
                count: 8,
                ..h.clone()
            },
            SignedHead {
                head: hash(8),
                ..h.clone()
            },
            SignedHead {
                time: "2020-01-01T00:00:00Z".into(),
                ..h.clone()
            },
            SignedHead {
                station: "gp".into(),
                ..h.clone()
            },
        ] {
            assert!(changed.check(&me.cert_der).is_err(), "{changed:?}");
        }
        // What a peer keeps of another's answer is bounded.
        let long = SignedHead::sign(&me, &"r".repeat(65), 7, &hash(7)).unwrap();
        assert!(long.check(&me.cert_der).unwrap_err().contains("oversized"));
        let not_hash = SignedHead::sign(&me, "registry", 7, "xyz").unwrap();
        assert!(not_hash
            .check(&me.cert_der)
            .unwrap_err()
            .contains("not a hash"));
    }

    #[test]
    fn the_first_differing_entry_is_named() {
        let me = Identity::generate("registry").unwrap();
        let log: Vec<(u64, String)> = (1..=10).map(|s| (s, hash(s))).collect();
        let kept = |counts: &[u64]| PeerRecord {
            peer: "gp".into(),
            heads: Ok(counts
                .iter()
                .map(|&c| SignedHead::sign(&me, "registry", c, &hash(c)).unwrap())
                .collect()),
        };
        let r = check(&log, &me.cert_der, &[kept(&[3, 6, 10])]);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(
            r.peers,
            vec![(
                "gp".to_string(),
                Ok(Kept {
                    heads: 3,
                    up_to: 10
                })
            )]
        );
        // Entry 8 rewritten (and everything after it recomputed).
        let mut rewritten = log.clone();
        for e in rewritten.iter_mut().filter(|(s, _)| *s >= 8) {
            e.1 = hash(100 + e.0);
        }
        let r = check(&rewritten, &me.cert_der, &[kept(&[3, 6, 7, 8, 10])]);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(
            r.problems[0].contains("the first entry that differs is entry 8"),
            "{:?}",
            r.problems
        );
        let r = check(&rewritten, &me.cert_der, &[kept(&[3, 6, 10])]);
        assert!(
            r.problems[0].contains("one of entries 7..=10"),
            "{:?}",
            r.problems
        );
        // Cut after entry 5.
        let r = check(&log[..5], &me.cert_der, &[kept(&[3, 6])]);
        assert!(
            r.problems[0].contains("the log ends at entry 5"),
            "{:?}",
            r.problems
        );
        assert!(r.problems[0].contains("the first entry that differs is one of entries 4..=6"));
    }

    #[test]
    fn forged_and_conflicting_records_are_reported() {
        let me = Identity::generate("registry").unwrap();
        let eve = Identity::generate("registry").unwrap();
        let log: Vec<(u64, String)> = (1..=4).map(|s| (s, hash(s))).collect();
        let forged = PeerRecord {
            peer: "gp".into(),
            heads: Ok(vec![
                SignedHead::sign(&eve, "registry", 4, &hash(99)).unwrap()
            ]),
        };
        let r = check(&log, &me.cert_der, &[forged]);
        assert!(r.problems[0].contains("did not sign"), "{:?}", r.problems);
        let shown = |peer: &str, h: String| PeerRecord {
            peer: peer.into(),
            heads: Ok(vec![SignedHead::sign(&me, "registry", 4, &h).unwrap()]),
        };
        let r = check(
            &log,
            &me.cert_der,
            &[shown("gp", hash(4)), shown("institute", hash(44))],
        );
        assert!(
            r.problems
                .iter()
                .any(|p| p.contains("gp and institute were shown different heads for entry 4")),
            "{:?}",
            r.problems
        );
        let down = PeerRecord {
            peer: "institute".into(),
            heads: Err("connection refused".into()),
        };
        let r = check(&log, &me.cert_der, &[down]);
        assert!(r.problems.is_empty());
        assert_eq!(r.peers[0].1, Err("connection refused".to_string()));
    }

    #[test]
    fn a_peers_heads_are_kept_once_per_entry_and_never_go_back() {
        let conn = Connection::open_in_memory().unwrap();
        PeerHeads::create(&conn).unwrap();
        let t = PeerHeads::new(&conn);
        let me = Identity::generate("registry").unwrap();
        let fp = me.fingerprint();
        let h = |c: u64, x: u64| SignedHead::sign(&me, "registry", c, &hash(x)).unwrap();
        assert_eq!(t.record(&fp, &h(3, 3)).unwrap(), Recorded::New);
        assert_eq!(t.record(&fp, &h(3, 3)).unwrap(), Recorded::Known);
        assert_eq!(t.record(&fp, &h(5, 5)).unwrap(), Recorded::New);
        assert_eq!(
            t.record(&fp, &h(5, 55)).unwrap(),
            Recorded::Conflict { kept: hash(5) }
        );
        assert_eq!(
            t.record(&fp, &h(4, 4)).unwrap(),
            Recorded::Behind { kept: 5 }
        );
        // A log cut back to an entry kept earlier is said too.
        assert_eq!(
            t.record(&fp, &h(3, 3)).unwrap(),
            Recorded::Behind { kept: 5 }
        );
        let kept = t.of(&fp).unwrap();
        assert_eq!(kept.iter().map(|h| h.count).collect::<Vec<_>>(), vec![3, 5]);
        kept[1].check(&me.cert_der).unwrap();
        // A long-lived peer: the heads kept stay bounded, the first and the latest kept, and
        // denser towards the present (review of issue 14: the table grew without end).
        let signed = h(6, 6);
        for c in 6..(3 * MAX_KEPT as u64) {
            let head = SignedHead {
                count: c,
                head: hash(c),
                ..signed.clone()
            };
            t.record(&fp, &head).unwrap();
        }
        let kept: Vec<u64> = t.of(&fp).unwrap().iter().map(|h| h.count).collect();
        assert!(kept.len() <= MAX_KEPT, "{}", kept.len());
        assert_eq!(kept[0], 3);
        assert_eq!(*kept.last().unwrap(), 3 * MAX_KEPT as u64 - 1);
        let gaps: Vec<u64> = kept.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps[0] > 1 && *gaps.last().unwrap() == 1, "{gaps:?}");
        assert!(t
            .of(&Identity::generate("gp").unwrap().fingerprint())
            .unwrap()
            .is_empty());
    }
}
