//! `tessera study new --at ADDR --pin FP [--identity DIR] --out STUDY`: a study skeleton
//! from the catalogues of the station at `ADDR` and of the stations it trusts (see
//! [`tessera_client::check`] for how they are fetched).
//!
//! The skeleton names every station whose catalogue could be had as a party with its
//! fingerprint (the first three that can compute, the station at `ADDR` first, as compute
//! parties 0, 1, 2; the others with published data as outside data parties), one
//! `[data.STATION]` per station with a published source (the first, by name) and its
//! columns the policy allows, with their types and declared levels, the linkage on the
//! first data station's key columns with its normalisation, `[disclosure]` at the highest
//! floors of the stations, the researcher as recipient (with the fingerprint of
//! `--identity`, if given), and a commented example analysis of a kind every station allows.
//! What only the researcher can say is `CHANGE-ME` (the study id, levels a station does not
//! declare); `tessera study check` accepts the skeleton once those are replaced and an
//! analysis is written.

use std::fmt::Write as _;
use std::path::Path;

use tessera_net::identity::{fingerprint_hex, Identity};
use tessera_station::catalogue::{Catalogue, PublishedColumn, PublishedSource};

use tessera_client::check::catalogue as fetch;
use tessera_client::StationAddr;

/// What the researcher must replace.
pub const PLACEHOLDER: &str = "CHANGE-ME";

/// A TOML basic string (JSON's escapes are TOML's).
fn q(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn list(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
    )
}

/// The source of `c` a study reads: the first published one.
fn source(c: &Catalogue) -> Option<&PublishedSource> {
    c.sources.first()
}

/// Whether `c`'s policy lets a study share column `name`.
fn shareable(c: &Catalogue, name: &str) -> bool {
    !c.policy.disallowed_columns.iter().any(|d| d == name)
        && c.policy
            .allowed_columns
            .as_ref()
            .is_none_or(|a| a.iter().any(|x| x == name))
}

/// The study's declaration of a published column.
fn declaration(col: &PublishedColumn) -> String {
    match col.kind.as_str() {
        "categorical" => {
            let levels = col
                .levels
                .clone()
                .unwrap_or_else(|| vec![PLACEHOLDER.to_string()]);
            format!("{{ type = \"categorical\", levels = {} }}", list(&levels))
        }
        k => q(k),
    }
}

/// A commented example analysis on `data`'s columns (`party.column`, type), of a kind every
/// station in `all` allows; `None` when no such pair of columns and kind exists.
fn example(all: &[&Catalogue], data: &[(String, String)]) -> Option<String> {
    let allowed = |k: &str| all.iter().all(|c| c.policy.analyses.iter().any(|a| a == k));
    let of = |t: &str| -> Vec<&String> {
        data.iter()
            .filter(|(_, k)| k == t)
            .map(|(n, _)| n)
            .collect()
    };
    let numeric = of("numeric");
    let binary = of("binary");
    if allowed("describe") {
        if let Some(n) = numeric.first() {
            return Some(format!(
                "name = \"describe\"\nkind = \"describe\"\ncolumns = [{}]",
                q(n)
            ));
        }
    }
    if allowed("logistic") {
        if let (Some(b), Some(n)) = (binary.first(), numeric.first()) {
            return Some(format!(
                "name = \"model\"\nkind = \"logistic\"\noutcome = {}\ncovariates = [{}]",
                q(b),
                q(n)
            ));
        }
    }
    if allowed("kaplan_meier") {
        if let (Some(b), Some(n)) = (binary.first(), numeric.first()) {
            return Some(format!(
                "name = \"survival\"\nkind = \"kaplan_meier\"\ntime = {}\nevent = {}\n\
                 times = [365, 730]",
                q(n),
                q(b)
            ));
        }
    }
    None
}

/// The skeleton's text for the catalogues `all` (the station asked first), the researcher's
/// fingerprint if known, and where they came from (`at`).
pub fn skeleton(all: &[&Catalogue], researcher: Option<&str>, at: &str) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Written by `tessera study new` from the catalogues of the station at {at} and the\n\
         # stations it trusts. Replace every {PLACEHOLDER}, keep the columns you need and write\n\
         # your analyses (docs/study.md); then see what the stations would refuse with\n\
         #   tessera study check THIS_FILE --at {at} --pin ... --identity ...\n\
         \n[study]\nid = \"{PLACEHOLDER}\"\ntitle = \"{PLACEHOLDER}\""
    );
    let mut slot = 0;
    let mut parties = Vec::new();
    for c in all {
        let compute = c.compute && slot < 3;
        if !compute && source(c).is_none() {
            continue;
        }
        let _ = writeln!(t, "\n[parties.{}]", c.station);
        if compute {
            let _ = writeln!(t, "compute = {slot}");
            slot += 1;
        }
        let _ = writeln!(t, "fingerprint = {}", q(&c.fingerprint));
        parties.push(*c);
    }
    if slot < 3 {
        let _ = writeln!(
            t,
            "# {PLACEHOLDER}: a study needs three compute parties; these catalogues offer {slot}."
        );
    }
    let mut data = Vec::new();
    let mut keys: Option<(Vec<String>, &PublishedSource)> = None;
    let mut data_parties = 0;
    for c in &parties {
        let Some(s) = source(c) else { continue };
        data_parties += 1;
        let key: Vec<String> = s
            .columns
            .iter()
            .filter(|x| x.kind == "key" && shareable(c, &x.name))
            .map(|x| x.name.clone())
            .collect();
        let _ = writeln!(t, "\n[data.{}]\nfile = {}", c.station, q(&s.name));
        if c.sources.len() > 1 {
            let others: Vec<String> = c.sources[1..].iter().map(|x| x.name.clone()).collect();
            let _ = writeln!(t, "# other sources of {}: {}", c.station, others.join(", "));
        }
        let _ = writeln!(t, "key = {}\n\n[data.{}.columns]", list(&key), c.station);
        for col in s.columns.iter().filter(|x| x.kind != "key") {
            if !shareable(c, &col.name) {
                let _ = writeln!(t, "# {}: not allowed by {}'s policy", col.name, c.station);
                continue;
            }
            let _ = writeln!(t, "{} = {}", col.name, declaration(col));
            data.push((format!("{}.{}", c.station, col.name), col.kind.clone()));
        }
        if keys.is_none() {
            keys = Some((key, s));
        }
    }
    if let (Some((key, s)), true) = (keys, data_parties > 1) {
        let components: Vec<String> = key
            .iter()
            .filter_map(|k| s.columns.iter().find(|x| &x.name == k))
            .map(|x| {
                let mut c = format!(
                    "{{ name = {}, normalise = {}",
                    q(&x.name),
                    list(x.normalise.as_deref().unwrap_or_default())
                );
                if let Some(o) = &x.date_order {
                    let _ = write!(c, ", date_order = {}", q(o));
                }
                c + " }"
            })
            .collect();
        let _ = writeln!(t, "\n[linkage]\nkey = [{}]", components.join(", "));
    }
    // The highest floor of any station: every station computes with the study's rules.
    let floor = |f: fn(&Catalogue) -> Option<u64>| all.iter().filter_map(|c| f(c)).max();
    let floors = [
        ("min_rows", floor(|c| c.policy.min_rows)),
        ("min_cell", floor(|c| c.policy.min_cell)),
        ("min_level_rows", floor(|c| c.policy.min_level_rows)),
        ("min_events", floor(|c| c.policy.min_events)),
    ];
    let _ = writeln!(t, "\n[disclosure]");
    for (name, v) in floors {
        let v = if name == "min_cell" {
            v.and_then(min_cell_to_write)
        } else {
            v
        };
        if let Some(v) = v {
            let _ = writeln!(t, "{name} = {v}");
        }
    }
    let fp = researcher.map_or_else(|| format!("sha256:{PLACEHOLDER}"), |f| f.to_string());
    let _ = writeln!(t, "\n[recipients.researcher]\nfingerprint = {}", q(&fp));
    match example(all, &data) {
        Some(a) => {
            let _ = writeln!(t, "\n# An example analysis (remove the `# ` to use it):");
            let _ = writeln!(t, "# [[analysis]]");
            for line in a.lines() {
                let _ = writeln!(t, "# {line}");
            }
        }
        None => {
            let _ = writeln!(
                t,
                "\n# Write your [[analysis]] tables here (docs/study.md)."
            );
        }
    }
    t
}

/// Runs `tessera study new`: fetches the catalogues and writes the skeleton to `out` (which
/// must not exist).
pub fn new(at: &str, station: &StationAddr, out: &Path) -> Result<(), String> {
    if out.exists() {
        return Err(format!("{} exists; choose another --out", out.display()));
    }
    let answer = fetch(at, station)?;
    let mut all = vec![&answer.catalogue];
    for p in &answer.peers {
        match (&p.catalogue, &p.error) {
            (Some(c), _) => all.push(c),
            (None, e) => eprintln!(
                "tessera: no catalogue of {} ({}); it is left out",
                p.station,
                e.as_deref().unwrap_or("?")
            ),
        }
    }
    let researcher = station
        .identity
        .as_deref()
        .map(|d| Identity::load(d).map_err(|e| format!("--identity: {e}")))
        .transpose()?
        .map(|i| format!("sha256:{}", fingerprint_hex(&i.fingerprint())));
    let text = skeleton(&all, researcher.as_deref(), at);
    std::fs::write(out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!(
        "study skeleton written to {} (replace every {PLACEHOLDER}, then `tessera study check`)",
        out.display()
    );
    Ok(())
}

/// The `min_cell` a skeleton writes for the stations' highest floor `f`, as the stations
/// themselves apply it ([`tessera_station::policy::effective_disclosure`]): nothing at the
/// tables' default floor, so that survival analyses keep their own higher default (a
/// written `min_cell = 5` would lower Kaplan–Meier's 10, and every station would accept
/// it); above it, at least the survival default.
fn min_cell_to_write(f: u64) -> Option<u64> {
    use tessera_station::policy::TABLE_MIN_CELL;
    (f > TABLE_MIN_CELL).then(|| f.max(tessera_stats::survival::km::DEFAULT_MIN_CELL))
}

#[cfg(test)]
mod min_cell_tests {
    use super::min_cell_to_write;

    #[test]
    fn the_default_floor_does_not_lower_the_survival_default() {
        assert_eq!(min_cell_to_write(5), None);
        assert_eq!(min_cell_to_write(7), Some(10));
        assert_eq!(min_cell_to_write(12), Some(12));
    }
}
