//! `tessera study list --at ADDR --pin FP --identity DIR`: the researcher's studies at one
//! station (`GET /studies`, which answers a researcher with the studies they submitted
//! there), one line each, oldest first: id, state (past its approval, the run's), when
//! received, and the first line of why.

use std::process::ExitCode;

use serde_json::Value;

use tessera_client::StationAddr;

/// Prints the list; exit 0, or an error when the station cannot be reached or does not
/// know the caller.
pub(crate) fn list(at: &str, station: &StationAddr) -> Result<ExitCode, String> {
    print!(
        "{}",
        render(at, &tessera_client::studies::list(at, station)?)
    );
    Ok(ExitCode::SUCCESS)
}

/// The answer of `GET /studies` as text.
fn render(at: &str, body: &Value) -> String {
    let studies: Vec<&Value> = body["studies"].as_array().into_iter().flatten().collect();
    if studies.is_empty() {
        return format!("no study of yours at {at}\n");
    }
    let rows: Vec<[String; 4]> = studies
        .iter()
        .map(|s| {
            let state = s["run"]
                .as_str()
                .or_else(|| s["state"].as_str())
                .unwrap_or("?");
            let why = s["reason"]
                .as_str()
                .and_then(|r| r.lines().next())
                .unwrap_or("");
            [
                crate::station::with_revision(
                    s["id"].as_str().unwrap_or("?"),
                    s["revision"].as_u64().unwrap_or(1),
                ),
                state.to_string(),
                s["received_at"].as_str().unwrap_or("").to_string(),
                why.to_string(),
            ]
        })
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (w0, w1, w2) = (width(0).max(2), width(1).max(5), width(2).max(8));
    let mut out = format!(
        "{} stud{} of yours at {at}:\n{:<w0$}  {:<w1$}  {:<w2$}  why\n",
        rows.len(),
        if rows.len() == 1 { "y" } else { "ies" },
        "id",
        "state",
        "received"
    );
    for r in &rows {
        let line = format!("{:<w0$}  {:<w1$}  {:<w2$}  {}", r[0], r[1], r[2], r[3]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_state_wins_and_why_is_one_line() {
        let body = serde_json::json!({"studies": [
            {"id": "a", "state": "approved", "run": "finished", "received_at": "t1",
             "reason": "rule km-only"},
            {"id": "b", "state": "pending", "run": null, "received_at": "t2",
             "reason": "no automatic rule applies\n(km-only: cox)"},
        ]});
        let text = render("host:7000", &body);
        assert!(text.contains("2 studies of yours at host:7000"), "{text}");
        assert!(
            text.contains("a   finished  t1        rule km-only"),
            "{text}"
        );
        assert!(
            text.contains("b   pending   t2        no automatic rule applies"),
            "{text}"
        );
        assert!(!text.contains("cox"), "{text}");
        assert!(render("h", &serde_json::json!({"studies": []})).contains("no study"));
    }
}
