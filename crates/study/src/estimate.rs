//! What a whole study will cost the compute stations, for the steward who approves it:
//! the sharing and linkage of the tables, the `[followup]` derivations, then every analysis
//! ([`tessera_stats::cost`]), the analyses side by side as the runner schedules them
//! ([`crate::run::CONCURRENT_ANALYSES`] at once), at a few sizes of the linked table. Public quantities only: the study's text and the
//! number of rows, which the steward chooses (nothing is read from the data).

use serde::Serialize;
use tessera_stats::cost::{self, Cost};

use crate::format::Study;

/// Linked-table sizes the steward is shown.
pub const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

/// A network between sites: round-trip time in seconds and bytes per second.
pub const WAN: (f64, f64) = (0.020, 100e6 / 8.0);

/// The estimated cost of a study at one size of the linked table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StudyCost {
    /// Linked rows assumed (each data station holding about as many).
    pub rows: usize,
    /// Sharing and linkage, each follow-up (`follow-up NAME`), then each analysis by name.
    pub parts: Vec<(String, Cost)>,
    /// Everything: linkage and follow-ups one after the other, then the analyses side by
    /// side as scheduled (rounds: the longest chain; memory: what the analyses running at
    /// once may hold together, a bound; bytes and computation: the sum).
    pub total: Cost,
    /// Seconds across sites ([`WAN`]: 20 ms round trip, 100 Mbit/s).
    pub wan_seconds: f64,
}

/// The estimated cost of `study` on `rows` linked rows, run between stations: with the
/// few-rounds protocols unless the study says `few_rounds = false` ([`Study::few_rounds`]),
/// as the stations will run it.
pub fn estimate(study: &Study, rows: usize) -> StudyCost {
    let few_rounds = study.few_rounds(true);
    let mut parts = vec![(
        "sharing and linkage".to_string(),
        cost::linkage(rows, few_rounds),
    )];
    for f in &study.followups {
        let c = cost::followup(
            rows,
            f.censor_date.is_some(),
            f.unit != tessera_stats::followup::Unit::Days,
        );
        parts.push((format!("follow-up {}", f.name), c));
    }
    let before = parts
        .iter()
        .fold(Cost::default(), |acc, (_, c)| acc.then(*c));
    let mut workers = vec![Cost::default(); crate::run::CONCURRENT_ANALYSES];
    for a in &study.analyses {
        let c = cost::estimate_for(
            &a.spec,
            rows,
            &|col| study.levels(col).unwrap_or(1),
            few_rounds,
        );
        // The runner starts analyses in study order, each when a thread is free: on the
        // thread whose work ends first (counted in rounds, which dominate across sites).
        let w = (0..workers.len())
            .min_by(|&x, &y| workers[x].rounds.total_cmp(&workers[y].rounds))
            .expect("at least one thread");
        workers[w] = workers[w].then(c);
        parts.push((a.name.clone(), c));
    }
    let analyses = workers
        .into_iter()
        .reduce(Cost::alongside)
        .expect("at least one thread");
    let total = before.then(analyses);
    StudyCost {
        rows,
        wan_seconds: total.seconds_on(WAN.0, WAN.1),
        parts,
        total,
    }
}

/// The estimate at [`SIZES`], as the steward reads it (one line per size).
pub fn render(study: &Study) -> String {
    let mut out = String::from(
        "estimated cost per compute station (from the study's text; nothing read from data):\n",
    );
    out.push_str(&format!(
        "  {:>11}  {:>12}  {:>14}  {:>14}  {:>7}  {:>11}\n",
        "linked rows", "seconds", "across sites", "busiest sends", "rounds", "peak memory"
    ));
    for rows in SIZES {
        let c = estimate(study, rows);
        out.push_str(&format!(
            "  {:>11}  {:>12}  {:>14}  {:>14}  {:>7.0}  {:>11}\n",
            thousands(rows),
            seconds(c.total.compute_seconds),
            seconds(c.wan_seconds),
            bytes(c.total.bytes),
            c.total.rounds,
            bytes(c.total.memory),
        ));
    }
    let big = estimate(study, SIZES[1]);
    if let Some((name, c)) = big
        .parts
        .iter()
        .skip(1 + study.followups.len())
        .max_by(|a, b| a.1.compute_seconds.total_cmp(&b.1.compute_seconds))
    {
        out.push_str(&format!(
            "  the largest part is analysis \"{name}\" ({} of {} at {} rows); across sites: \
             20 ms round trip, 100 Mbit/s; {}\n",
            seconds(c.compute_seconds),
            seconds(big.total.compute_seconds),
            thousands(SIZES[1]),
            if study.few_rounds(true) {
                "protocols with few rounds (the default between stations)"
            } else {
                "the default protocols (the study says few_rounds = false)"
            }
        ));
    }
    out
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn seconds(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

fn bytes(b: f64) -> String {
    if b < 1e9 {
        format!("{:.0} MB", b / 1e6)
    } else {
        format!("{:.1} GB", b / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_as_a_person_writes_them() {
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(seconds(12.34), "12.3 s");
        assert_eq!(seconds(600.0), "10.0 min");
        assert_eq!(bytes(2.5e9), "2.5 GB");
        assert_eq!(bytes(3.4e6), "3 MB");
    }

    #[test]
    fn analyses_side_by_side_cost_the_longest_chain_of_rounds() {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let study = crate::load(&root.join("examples/survival/study.toml")).unwrap();
        let c = estimate(&study, 10_000);
        let r: Vec<f64> = c.parts.iter().map(|(_, p)| p.rounds).collect();
        let before = r[0] + r[1..=study.followups.len()].iter().sum::<f64>();
        let analyses = &r[1 + study.followups.len()..];
        let longest = analyses.iter().cloned().fold(0.0, f64::max);
        assert!(analyses.len() > crate::run::CONCURRENT_ANALYSES);
        assert!(c.total.rounds >= before + longest);
        assert!(c.total.rounds < before + analyses.iter().sum::<f64>());
        let bytes: f64 = c.parts.iter().map(|(_, p)| p.bytes).sum();
        assert!((c.total.bytes - bytes).abs() < 1e-6 * bytes);
    }

    /// Stations between organisations run with few rounds unless the study says otherwise
    /// (`distributed.rs`): the steward's estimate is for the protocols that will run.
    #[test]
    fn the_estimate_is_for_the_protocols_the_stations_will_run() {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let study = crate::load(&root.join("examples/survival/study.toml")).unwrap();
        assert_eq!(study.few_rounds, None);
        let mut lan = study.clone();
        lan.few_rounds = Some(false);
        let (few, default) = (estimate(&study, 100_000), estimate(&lan, 100_000));
        assert!(few.total.rounds < 0.8 * default.total.rounds);
        assert!(few.total.bytes > 1.3 * default.total.bytes);
        assert!(render(&study).contains("protocols with few rounds"));
        assert!(render(&lan).contains("the study says few_rounds = false"));
    }
}
