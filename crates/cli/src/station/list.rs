//! `tessera station list`: every study this station received, one line each, oldest first
//! (newest last): id, state, run state, when received, title.

use tessera_station::Config;

use super::{fail, open_existing, Fail};

/// Prints the list; 0 (also when no study was received).
pub(super) fn list(config: &Config, file: &str) -> Result<u8, Fail> {
    let Some(a) = open_existing(config, file)? else {
        println!("no study received");
        return Ok(0);
    };
    let all = a.all().map_err(|e| fail(e, file))?;
    if all.is_empty() {
        println!("no study received");
        return Ok(0);
    }
    let mut rows = Vec::with_capacity(all.len());
    for r in &all {
        let run = a
            .run(&r.id)
            .map_err(|e| fail(e, file))?
            .map_or("-", |x| x.state.as_str());
        // The title is the study's own; a text this station no longer parses shows none.
        let title = tessera_study::validate::parse_at_station("study.toml", &r.text, &config.name)
            .ok()
            .and_then(|s| s.title)
            .unwrap_or_default();
        rows.push([
            crate::station::with_revision(&r.id, u64::from(r.revision)),
            r.state.as_str().to_string(),
            run.to_string(),
            r.received_at.clone(),
            title,
        ]);
    }
    let header = ["id", "state", "run", "received", "title"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let w = [width(0), width(1), width(2), width(3)];
    let line = |r: [&str; 5]| {
        let text = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        );
        println!("{}", text.trim_end());
    };
    line(header);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
    Ok(0)
}
