//! The results of a study as text (for people) and as one JSON document (for programs).

use std::fmt::Write as _;

use crate::run::{Cost, StudyOutput};

/// The JSON document: `{"study", "linkage", "analyses": [{"name", "kind", "recipients",
/// "result"}], "data", "cost"}` (an analysis without a result has `"result": null` and an
/// `"error"`).
pub fn json(out: &StudyOutput) -> String {
    serde_json::to_string_pretty(out).expect("the output is plain data")
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1} kB", n as f64 / 1e3),
        n => format!("{n} B"),
    }
}

fn cost(c: &Cost) -> String {
    format!(
        "{:.2} s, {} sent, {} rounds",
        c.seconds,
        bytes(c.bytes_sent),
        c.rounds
    )
}

/// The text report: a header (study, parties, linkage), each analysis' tables, then the
/// owners' local data-quality counts and the cost of each compute party.
pub fn text(out: &StudyOutput) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = write!(w, "study: {}", out.study.id);
    if let Some(t) = &out.study.title {
        let _ = write!(w, " — {t}");
    }
    let _ = writeln!(w);
    let parties: Vec<String> = out
        .study
        .parties
        .iter()
        .map(|p| {
            let role = match (p.compute, p.data) {
                (Some(c), true) => format!("compute {c}, data"),
                (Some(c), false) => format!("compute {c}, helper"),
                (None, _) => "data, outside the compute parties".to_string(),
            };
            format!("{} ({role})", p.name)
        })
        .collect();
    let _ = writeln!(w, "parties: {}", parties.join(", "));
    let rows: Vec<String> = out
        .linkage
        .rows
        .iter()
        .map(|r| format!("{} {} rows", r.party, r.rows))
        .collect();
    let kept = out
        .linkage
        .kept
        .as_ref()
        .map(|k| format!(" (every row of {k} kept: others' columns missing where unmatched)"))
        .unwrap_or_default();
    if out.linkage.rows_withheld {
        let what = if out.linkage.key.is_empty() {
            "data:".to_string()
        } else {
            format!("linkage on {}:", out.linkage.key.join(" + "))
        };
        let _ = writeln!(
            w,
            "{what} {} linked rows{kept} (rows per data station withheld: see [disclosure] \
             counts)",
            out.linkage.intersection
        );
    } else if out.linkage.rows.len() >= 2 {
        let _ = writeln!(
            w,
            "linkage on {}: {} -> {} linked rows{kept}",
            out.linkage.key.join(" + "),
            rows.join(", "),
            out.linkage.intersection
        );
    } else {
        let _ = writeln!(w, "data: {} (one data party, no linkage)", rows.join(", "));
    }
    for a in &out.analyses {
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "== {} ({}) for {}",
            a.name,
            a.kind,
            a.recipients.join(", ")
        );
        match &a.error {
            Some(e) => {
                let _ = writeln!(w, "no result: {e}");
            }
            None => {
                let _ = writeln!(w, "{}", a.text.trim_end());
            }
        }
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "data quality (each owner's own counts, not shared):");
    for d in &out.data {
        let miss: Vec<String> = d
            .dataset
            .missing
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        let _ = write!(
            w,
            "  {}: {} rows read from {}; missing values: {}",
            d.dataset.party,
            d.dataset.rows,
            d.dataset.file,
            if miss.is_empty() {
                "none".to_string()
            } else {
                miss.join(", ")
            }
        );
        if let Some(k) = &d.keys {
            let _ = write!(
                w,
                "; keys: {} missing, {} invalid, {} duplicated ({} rows dropped), {} rows shared",
                k.missing, k.invalid, k.duplicate_keys, k.duplicates_dropped, k.rows_out
            );
        }
        let _ = writeln!(w);
    }
    let _ = writeln!(w, "cost per compute party (linkage; whole run):");
    for c in &out.cost {
        let _ = writeln!(
            w,
            "  {} {}: {}; {}",
            c.slot,
            c.party,
            cost(&c.linkage),
            cost(&c.total)
        );
    }
    s
}
