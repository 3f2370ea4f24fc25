//! `tessera station check`: every configured source read as `station.toml` declares it
//! ([`tessera_station::datacheck`]), printed for the steward: per source its rows and, per
//! column, the missing values and (numeric) the smallest and largest value; or every
//! problem, each naming the place (`file:LINE`) and the column, never a value.
//!
//! The figures are aggregates of the station's own data shown on its steward's terminal;
//! nothing is sent anywhere.

use tessera_station::datacheck::{self, SourceReport};
use tessera_station::Config;

/// Checks every source; 0 when all read as declared, 2 when any has a problem.
pub(super) fn check(config: &Config) -> u8 {
    let reports = datacheck::check(config);
    if reports.is_empty() {
        println!("no source is configured ([sources.NAME] in station.toml)");
        return 0;
    }
    for r in &reports {
        print_report(r);
    }
    let bad = reports.iter().filter(|r| !r.ok()).count();
    if bad == 0 {
        println!(
            "every source reads as declared ({} source{})",
            reports.len(),
            if reports.len() == 1 { "" } else { "s" }
        );
        0
    } else {
        println!(
            "{bad} of {} source{} with problems: correct the data or its declaration in \
             station.toml",
            reports.len(),
            if reports.len() == 1 { "" } else { "s" }
        );
        2
    }
}

fn print_report(r: &SourceReport) {
    let rows = r
        .rows
        .map(|n| format!("{n} row{}", if n == 1 { "" } else { "s" }))
        .unwrap_or_else(|| "not read".to_string());
    if r.ok() {
        println!("source {} ({}): ok, {rows}", r.name, r.place);
    } else {
        let n = r.problems.len();
        println!(
            "source {} ({}): {n} problem{}",
            r.name,
            r.place,
            if n == 1 { "" } else { "s" }
        );
        for p in &r.problems {
            println!("  - {p}");
        }
        if r.rows.is_some() && !r.columns.is_empty() {
            println!("  the other columns, read without those ({rows}):");
        }
    }
    if r.columns.is_empty() {
        return;
    }
    let width = r
        .columns
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0)
        .max(6);
    println!(
        "  {:<width$}  {:<11}  {:>9}  {:>12}  {:>12}",
        "column", "type", "missing", "min", "max"
    );
    for c in &r.columns {
        let (min, max) = c.range_text().unwrap_or_default();
        let line = format!(
            "  {:<width$}  {:<11}  {:>9}  {:>12}  {:>12}",
            c.name,
            c.kind.as_str(),
            c.missing,
            min,
            max
        );
        println!("{}", line.trim_end());
    }
    for c in r.columns.iter().filter(|c| c.unchecked) {
        println!(
            "  {}: no declared levels ([sources.{}.levels]): its values were not checked",
            c.name, r.name
        );
    }
}
