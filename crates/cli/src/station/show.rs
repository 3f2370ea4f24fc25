//! `tessera station show ID`: one study as it concerns this station, for the steward about
//! to decide on it or following it: who submitted it, its state and run, which of this
//! station's columns each analysis uses, what each analysis reveals to whom, the disclosure
//! rules in force here (the stricter of the study's and the policy's:
//! [`Config::effective_disclosure`]) and the estimated cost.

use tessera_station::approval::StudyRecord;
use tessera_station::{Config, StationError, StudyState};
use tessera_study::Study;

use super::{fail, open_existing, print_record, print_steward_reasons, Fail};

/// Prints study `id`; 2 when this station has no such study.
pub(super) fn show(config: &Config, file: &str, id: &str) -> Result<u8, Fail> {
    let unknown = || fail(StationError::UnknownStudy(id.to_string()), file);
    let a = open_existing(config, file)?.ok_or_else(unknown)?;
    let rec = a.get(id).map_err(|e| fail(e, file))?.ok_or_else(unknown)?;
    let submitters = a
        .log()
        .submitters(Some(id))
        .map_err(|e| fail(e.into(), file))?;
    let run = a.run(id).map_err(|e| fail(e, file))?;

    print_record(&rec);
    print_steward_reasons(&a, id, file)?;
    for (_, by) in &submitters {
        println!("  submitted by {by}");
    }
    if let Some(run) = &run {
        println!("  run      {} since {}", run.state.as_str(), run.updated_at);
        if let Some(why) = &run.reason {
            for line in why.lines() {
                println!("    {line}");
            }
        }
    }
    // How the revisions before this one ended here.
    for e in a.earlier_revisions(id).map_err(|e| fail(e, file))? {
        let why = e.run_reason.or(e.reason).unwrap_or_default();
        println!(
            "  revision {} ({}): {}{}",
            e.revision,
            &e.digest[..12],
            e.run.as_deref().unwrap_or(e.state.as_str()),
            why.lines()
                .next()
                .map(|l| format!(": {l}"))
                .unwrap_or_default()
        );
    }
    let study =
        match tessera_study::validate::parse_at_station("study.toml", &rec.text, &config.name) {
            Ok(s) => s,
            Err(e) => {
                println!("the study no longer reads at this station: {e}");
                return Ok(0);
            }
        };
    if let Some(t) = &study.title {
        println!("  title    {t}");
    }
    columns(config, &study);
    analyses(config, &study);
    disclosure(config, &study);
    cost(&study, &rec);
    Ok(0)
}

/// This station's columns in the study: their types, the source read, and which analyses
/// use each; the linkage key columns.
fn columns(config: &Config, study: &Study) {
    let me = config.name.as_str();
    let Some(data) = study.data.iter().find(|d| d.party == me) else {
        println!("this station holds no data in this study (it only computes)");
        return;
    };
    let source = match config.source_of(data) {
        Ok(s) => format!("source {}", s.name),
        Err(why) => format!("no source: {why}"),
    };
    println!("this station's columns ({source}):");
    let width = data
        .columns
        .iter()
        .map(|c| c.name.len())
        .chain(data.key.iter().map(String::len))
        .max()
        .unwrap_or(0);
    for c in &data.columns {
        let reference = format!("{me}.{}", c.name);
        let mut users: Vec<String> = study
            .analyses
            .iter()
            .filter(|a| a.spec.columns().contains(&reference.as_str()))
            .map(|a| a.name.clone())
            .collect();
        // A date read by a `[followup]`: the follow-up, and the analyses of its columns.
        for f in study.followups.iter() {
            if f.sources().contains(&reference.as_str()) {
                let derived = [f.time_column(), f.event_column()];
                let through: Vec<&str> = study
                    .analyses
                    .iter()
                    .filter(|a| {
                        derived
                            .iter()
                            .any(|d| a.spec.columns().contains(&d.as_str()))
                    })
                    .map(|a| a.name.as_str())
                    .collect();
                users.push(format!(
                    "follow-up {} (its time and event: {})",
                    f.name,
                    if through.is_empty() {
                        "no analysis".to_string()
                    } else {
                        through.join(", ")
                    }
                ));
            }
        }
        let used = if users.is_empty() {
            "shared, used by no analysis".to_string()
        } else {
            format!("used by {}", users.join(", "))
        };
        println!("  {:<width$}  {:<11}  {used}", c.name, c.kind.name());
    }
    for k in &data.key {
        println!(
            "  {k:<width$}  {:<11}  links the stations' rows (never shared)",
            "key"
        );
    }
}

/// Each analysis: its kind, who receives its result, the columns it reads.
fn analyses(config: &Config, study: &Study) {
    let me = format!("{}.", config.name);
    println!("analyses (each result is revealed to its recipients only):");
    for a in &study.analyses {
        let cols = a.spec.columns();
        let mine = cols.iter().filter(|c| c.starts_with(&me)).count();
        println!(
            "  {} ({}): revealed to {}",
            a.name,
            a.spec.kind(),
            a.recipients.join(", ")
        );
        println!("    reads {} ({} of this station's)", cols.join(", "), mine);
    }
    for r in &study.recipients {
        match &r.fingerprint {
            Some(fp) => println!(
                "  recipient {}: certificate sha256:{}",
                r.name,
                tessera_net::identity::fingerprint_hex(fp)
            ),
            None => println!(
                "  recipient {}: no certificate (a token from a steward)",
                r.name
            ),
        }
    }
}

/// The disclosure rules a run applies here, with the study's own value where the policy
/// made a rule stricter.
fn disclosure(config: &Config, study: &Study) {
    let d = config.effective_disclosure(study);
    let s = &study.disclosure;
    println!("disclosure rules in force here (the stricter of the study's and the policy's):");
    let raised = |effective: String, asked: String| {
        if effective == asked {
            effective
        } else {
            format!("{effective} (the study asks {asked}; this station's policy is stricter)")
        }
    };
    let cell = |c: Option<u64>| {
        c.map_or_else(
            || "each analysis' default (10 survival, 5 tables)".to_string(),
            |c| c.to_string(),
        )
    };
    println!(
        "  min_rows           {}",
        raised(d.min_rows.to_string(), s.min_rows.to_string())
    );
    println!(
        "  min_cell           {}",
        raised(cell(d.min_cell), cell(s.min_cell))
    );
    println!(
        "  min_events         {}",
        raised(d.min_events.to_string(), s.min_events.to_string())
    );
    println!(
        "  min_level_rows     {}",
        raised(d.min_level_rows.to_string(), s.min_level_rows.to_string())
    );
    println!("  max_vars_per_row   {}", d.max_vars_per_row);
    println!(
        "  event times        {}",
        if d.allow_event_times {
            "shown"
        } else {
            "only on the study's grid"
        }
    );
    println!(
        "  minima and maxima  {}",
        if d.allow_extremes {
            "shown"
        } else {
            "not shown"
        }
    );
    if let Some(allowed) = &d.allowed_columns {
        println!("  allowed columns    {}", allowed.join(", "));
    }
    if !d.disallowed_columns.is_empty() {
        println!("  disallowed columns {}", d.disallowed_columns.join(", "));
    }
}

/// The estimated cost, as `status` shows it (nothing for a refused study).
fn cost(study: &Study, rec: &StudyRecord) {
    if rec.state != StudyState::Refused {
        print!("{}", tessera_study::estimate::render(study));
    }
}
