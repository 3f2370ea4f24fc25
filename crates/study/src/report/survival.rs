//! The survival analyses: Kaplan–Meier curves (plot, median, number at risk, tables), the
//! log-rank test, and the Cox model (hazard ratios with intervals, forest plot).

use std::fmt::Write;

use serde_json::Value;

use super::curves::{self, Curve, CurvePoint, Direction, Drawing, Plot, RiskTable};
use super::forest::{self, Ratio};
use super::tables::Table;
use super::text::{escape, est, est_of, p_is, plain, pval_of, tick};
use crate::run::AnalysisResult;

/// Most grid times shown as ticks (and number-at-risk columns); a longer grid shows every
/// k-th.
const MAX_TICKS: usize = 12;

/// The time axis' label when the study does not declare its time unit (`[study] time_unit`).
pub const TIME_LABEL: &str = "time (in the unit of the study's time column)";

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// The opened points of one curve: at every event time when the results hold them
/// (`Steps`), else at the shown grid times (`Points`).
fn curve_points(c: &Value) -> (Vec<CurvePoint>, Drawing) {
    let events: Vec<&Value> = c["event_times"].as_array().into_iter().flatten().collect();
    let (rows, drawing) = if events.is_empty() {
        let rows = c["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["shown"] != false)
            .collect();
        (rows, Drawing::Points)
    } else {
        (events, Drawing::Steps)
    };
    let mut pts: Vec<CurvePoint> = rows
        .into_iter()
        .filter_map(|r| {
            Some(CurvePoint {
                time: f(&r["time"])?,
                estimate: f(&r["survival"])?,
                lower: f(&r["ci_lower"]),
                upper: f(&r["ci_upper"]),
                at_risk: r["at_risk"].as_u64(),
            })
        })
        .collect();
    pts.sort_by(|a, b| a.time.total_cmp(&b.time));
    (pts, drawing)
}

/// The times at which patients of a curve were censored, where the results hold them
/// (`censor_marks = true`): the marks on the plot.
fn censor_times(c: &Value) -> Vec<f64> {
    c["event_times"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["censored"].as_u64().is_some_and(|n| n > 0))
        .filter_map(|r| f(&r["time"]))
        .collect()
}

/// The median survival from the curve at every event time: the first time the survival is
/// at most 0.5; `Err(last time)` when it is not reached while the curve is shown.
pub fn median(points: &[CurvePoint]) -> Result<f64, Option<f64>> {
    points
        .iter()
        .find(|p| p.estimate <= 0.5)
        .map(|p| p.time)
        .ok_or_else(|| points.last().map(|p| p.time))
}

/// One of a curve's computed median and limits (`median = true`; `i`: 0 median, 1 lower,
/// 2 upper): the time, "not reached" (R's NA) or "suppressed" (too few at risk).
fn median_part(m: &Value, i: usize) -> String {
    let key = ["median", "lower", "upper"][i];
    match (m["status"][i].as_str(), f(&m[key])) {
        (Some("shown"), Some(t)) => tick(t),
        (Some("suppressed"), _) => "suppressed".into(),
        _ => "not reached".into(),
    }
}

/// A curve's computed median with its interval, "270 (210 to 306)", if the results hold
/// one.
fn median_with_ci(c: &Value) -> Option<String> {
    let m = c.get("median").filter(|m| m.is_object())?;
    Some(format!(
        "{} ({} to {})",
        median_part(m, 0),
        median_part(m, 1),
        median_part(m, 2)
    ))
}

/// The grid times of the first curve (every curve has the same grid).
fn grid(curves: &[Value]) -> Vec<f64> {
    curves
        .first()
        .and_then(|c| c["rows"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|r| f(&r["time"]))
        .collect()
}

/// A log-rank test of the same groups on the same complete cases, if the study has one:
/// its name and p-value.
fn logrank_of<'a>(km: &Value, all: &'a [AnalysisResult]) -> Option<(&'a str, f64)> {
    let column = km["group_column"].as_str()?;
    let groups: Vec<&str> = km["curves"]
        .as_array()?
        .iter()
        .filter_map(|c| c["group"].as_str())
        .collect();
    all.iter().find_map(|a| {
        let r = a.result.as_ref()?;
        let same = a.kind == "logrank"
            && r["group_column"] == column
            && r["n"] == km["n"]
            && r["groups"].as_array().is_some_and(|g| {
                g.iter()
                    .map(|v| v.as_str())
                    .eq(groups.iter().map(|g| Some(*g)))
            });
        same.then_some((a.name.as_str(), f(&r["p"])?))
    })
}

/// With delayed entry (`entry` in the result), what the numbers at risk mean: a row counts
/// only after its entry time (left truncation, R's `Surv(entry, time, event)`).
fn entry_note(h: &mut String, r: &Value) {
    if let Some(e) = r["entry"].as_str() {
        let _ = writeln!(
            h,
            "<p>Delayed entry: a row is at risk only after its entry time ({}) and up to its \
             time (left truncation); the numbers at risk count it from then.</p>",
            escape(e)
        );
    }
}

/// A Kaplan–Meier analysis: the plot (steps at event times, or points at the grid), the
/// medians where the curve at event times allows, the number at risk at the grid, a
/// log-rank p-value of the same groups, then the tables. `time_unit`: the study's, if it
/// declares one (the axis says so).
pub fn kaplan_meier(h: &mut String, r: &Value, all: &[AnalysisResult], time_unit: Option<&str>) {
    let curves_json = r["curves"].as_array().cloned().unwrap_or_default();
    let min_cell = plain(&r["min_cell"]);
    let _ = writeln!(
        h,
        "<p>{} complete cases; a time is shown only with at least {min_cell} at risk (and \
         enough events since the previous shown time).</p>",
        plain(&r["n"])
    );
    entry_note(h, r);
    let group_column = r["group_column"].as_str();
    let mut drawing = Drawing::Points;
    let mut curves = Vec::new();
    let mut notes = Vec::new();
    let mut medians = Vec::new();
    // Medians computed with their intervals (`median = true`), R survfit's definition.
    let computed: Vec<(String, String)> = curves_json
        .iter()
        .filter_map(|c| {
            let label = c["group"].as_str().unwrap_or("all").to_string();
            Some((label, median_with_ci(c)?))
        })
        .collect();
    let conf_pct = f(&r["conf_level"]).unwrap_or(0.95) * 100.0;
    let mut marks = false;
    for c in &curves_json {
        let (points, d) = curve_points(c);
        let label = c["group"].as_str().unwrap_or("all").to_string();
        if d == Drawing::Steps {
            drawing = Drawing::Steps;
            medians.push((label.clone(), median(&points)));
        }
        let censored = censor_times(c);
        marks |= !censored.is_empty();
        curves.push(Curve {
            label,
            points,
            censored,
        });
    }
    if marks {
        notes.push("short vertical ticks: censored".into());
    }
    if !computed.is_empty() {
        notes.push(match time_unit {
            Some(u) => format!("median survival ({u}, {conf_pct:.0}% CI):"),
            None => format!("median survival ({conf_pct:.0}% CI):"),
        });
        for (label, m) in &computed {
            notes.push(format!("  {label}: {m}"));
        }
    } else if drawing == Drawing::Steps {
        // Every curve at event times or none: a curve without shown event times is empty.
        notes.push(match time_unit {
            Some(u) => format!("median survival ({u}):"),
            None => "median survival:".to_string(),
        });
        for (label, m) in &medians {
            let v = match m {
                Ok(t) => tick(*t),
                Err(Some(t)) => format!("> {}", tick(*t)),
                Err(None) => "—".into(),
            };
            notes.push(format!("  {label}: {v}"));
        }
    }
    let logrank = logrank_of(r, all);
    if let Some((name, p)) = logrank {
        notes.push(format!("log-rank {}", p_is(p)));
        notes.push(format!("  ({name})"));
    }
    let (ticks, risk) = ticks_and_risk(&curves_json, || {
        let tmax = curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.time))
            .fold(0.0, f64::max);
        curves::round_ticks(tmax, 6)
    });
    let has_risk = risk.is_some();
    let plot = Plot {
        curves,
        direction: Direction::Decreasing,
        drawing,
        x_label: time_unit.map_or_else(|| TIME_LABEL.into(), |u| format!("time ({u})")),
        y_label: "survival probability".into(),
        legend_title: Some(group_column.unwrap_or("all cases").to_string()),
        ticks,
        notes,
        risk,
        conf_level: f(&r["conf_level"]).unwrap_or(0.95),
    };
    h.push_str("<figure>\n");
    h.push_str(&curves::svg(&plot));
    let mut caption = match drawing {
        Drawing::Steps => "Kaplan–Meier estimate at every event time with at least the \
                           smallest number at risk (steps) and its confidence band. Censoring \
                           marks are not drawn: the results hold no censoring times."
            .to_string(),
        Drawing::Points if computed.is_empty() => "Kaplan–Meier estimate at the study's \
                            grid times only, with confidence intervals; points are not joined, \
                            since the curve between grid times was not opened. Median survival \
                            needs the curve at every event time (at_event_times) or median = \
                            true and is not shown."
            .to_string(),
        Drawing::Points => "Kaplan–Meier estimate at the study's grid times only, with \
                            confidence intervals; points are not joined, since the curve \
                            between grid times was not opened."
            .to_string(),
    };
    if !computed.is_empty() {
        caption.push_str(
            " Median survival with its confidence interval as R's survfit (log-log): the \
             first time the curve, or its lower or upper band, is at or below 0.5 (the \
             midpoint where the curve is exactly 0.5); \"not reached\" where it never is, \
             \"suppressed\" where fewer than the smallest number were at risk then.",
        );
    }
    if has_risk {
        caption.push_str(" Number at risk at the grid times; – where suppressed.");
    }
    let _ = writeln!(
        h,
        "<figcaption>{}</figcaption>\n</figure>",
        escape(&caption)
    );
    if !computed.is_empty() {
        let mut t = Table::new(&[group_column.unwrap_or("group"), "median (95% CI)"]);
        t.set_header(1, &format!("median ({conf_pct:.0}% CI)"));
        for (label, m) in &computed {
            t.row(vec![escape(label), escape(m)]);
        }
        h.push_str(&t.html());
    }
    for c in &curves_json {
        grid_table(
            h,
            c,
            group_column,
            "survival",
            conf_pct,
            &format!("suppressed (fewer than {min_cell} at risk, or too few events)"),
        );
        event_time_table(
            h,
            &c["event_times"],
            &["time", "at risk", "events", "survival", "std err", "CI"],
            |e| {
                vec![
                    plain(&e["time"]),
                    plain(&e["at_risk"]),
                    plain(&e["events"]),
                    est_of(&e["survival"]),
                    est_of(&e["std_err"]),
                    ci(&e["ci_lower"], &e["ci_upper"]),
                ]
            },
        );
    }
}

/// A relative survival analysis (`relsurv`): the curves at the study's grid as points with
/// their intervals (never joined: only the grid was opened), the number at risk under the
/// axis, and a table per curve.
pub fn relsurv(h: &mut String, r: &Value, time_unit: Option<&str>) {
    let curves_json = r["curves"].as_array().cloned().unwrap_or_default();
    let method = match r["method"].as_str() {
        Some("ederer2") => "Ederer II",
        Some("pohar-perme") => "Pohar Perme",
        _ => "relative survival",
    };
    let conf_pct = f(&r["conf_level"]).unwrap_or(0.95) * 100.0;
    let _ = writeln!(
        h,
        "<p>{} complete cases; {method} relative survival against the life table \
         <code>{}</code> (expected mortality by age, sex and calendar year, daily rates as \
         R's relsurv); a time is shown only with enough patients at risk (and events since the \
         previous shown time).</p>",
        plain(&r["n"]),
        escape(r["life_table"].as_str().unwrap_or("of the study"))
    );
    let group_column = r["group_column"].as_str();
    let curves: Vec<Curve> = curves_json
        .iter()
        .map(|c| Curve {
            label: c["group"].as_str().unwrap_or("all").to_string(),
            points: curve_points(c).0,
            censored: Vec::new(),
        })
        .collect();
    let (ticks, risk) = ticks_and_risk(&curves_json, || vec![0.0]);
    let plot = Plot {
        curves,
        direction: Direction::Decreasing,
        drawing: Drawing::Points,
        x_label: time_unit.map_or_else(|| "time (days)".to_string(), |u| format!("time ({u})")),
        y_label: format!("relative survival ({method})"),
        legend_title: Some(group_column.unwrap_or("all cases").to_string()),
        ticks,
        notes: Vec::new(),
        risk,
        conf_level: f(&r["conf_level"]).unwrap_or(0.95),
    };
    h.push_str("<figure>\n");
    h.push_str(&curves::svg(&plot));
    let _ = writeln!(
        h,
        "<figcaption>{}</figcaption>\n</figure>",
        escape(&format!(
            "{method} relative survival at the study's grid times only, with {conf_pct:.0}% \
             intervals (log scale, as relsurv's summary); points are not joined, since the \
             curve between grid times was not opened. Number at risk at the grid times; – \
             where suppressed."
        ))
    );
    for c in &curves_json {
        grid_table(
            h,
            c,
            group_column,
            "relative survival",
            conf_pct,
            "suppressed (too few at risk, or too few events)",
        );
    }
}

/// A curve's heading (its group) and its table at the study's grid: time, at risk, events
/// up to the time, the estimate (`estimate` names it), its standard error and interval; a
/// suppressed time says so (`suppressed`). Kaplan–Meier and relative survival share it.
fn grid_table(
    h: &mut String,
    c: &Value,
    group_column: Option<&str>,
    estimate: &str,
    conf_pct: f64,
    suppressed: &str,
) {
    if let Some(g) = c["group"].as_str() {
        let _ = writeln!(
            h,
            "<h3>{} = {}</h3>",
            escape(group_column.unwrap_or("group")),
            escape(g)
        );
    }
    let mut t = Table::new(&[
        "time",
        "at risk",
        "events up to time",
        estimate,
        "std err",
        "CI",
    ]);
    t.set_header(5, &format!("{conf_pct:.0}% CI"));
    for row in c["rows"].as_array().into_iter().flatten() {
        if row["shown"] == false {
            t.row_note(&plain(&row["time"]), suppressed);
            continue;
        }
        t.row(vec![
            plain(&row["time"]),
            plain(&row["at_risk"]),
            plain(&row["events"]),
            est_of(&row["survival"]),
            est_of(&row["std_err"]),
            ci(&row["ci_lower"], &row["ci_upper"]),
        ]);
    }
    h.push_str(&t.html());
}

/// A cumulative incidence (competing risks): per group and cause, with `at_event_times` the
/// step function at every event time with its pointwise band, else the estimate at the grid
/// times as points with pointwise intervals, never joined (estimate ± z·SE, within [0, 1]:
/// cmprsk gives no interval); the number at risk of each group at the grid under the axis; a
/// table per curve (and its event times, folded).
pub fn cuminc(h: &mut String, r: &Value, time_unit: Option<&str>) {
    let curves_json = r["curves"].as_array().cloned().unwrap_or_default();
    let min_cell = plain(&r["min_cell"]);
    let _ = writeln!(
        h,
        "<p>{} complete cases; causes in <code>{}</code>; a time is shown only with at least          {min_cell} at risk (and enough events of any cause since the previous shown time).</p>",
        plain(&r["n"]),
        escape(r["cause_column"].as_str().unwrap_or("the event column"))
    );
    let group_column = r["group_column"].as_str();
    // The 97.5 % quantile of the standard normal.
    let z = 1.959_963_984_540_054;
    let label = |c: &Value| match c["group"].as_str() {
        Some(g) => format!("{g}: cause {}", plain(&c["cause"])),
        None => format!("cause {}", plain(&c["cause"])),
    };
    let point = |row: &Value| {
        let (t, e) = (f(&row["time"])?, f(&row["estimate"])?);
        let se = f(&row["std_err"]);
        Some(CurvePoint {
            time: t,
            estimate: e,
            lower: se.map(|s| (e - z * s).max(0.0)),
            upper: se.map(|s| (e + z * s).min(1.0)),
            at_risk: row["at_risk"].as_u64(),
        })
    };
    // With the curve at every event time (`at_event_times`, all curves or none): steps.
    let drawing = if curves_json.iter().any(|c| c.get("event_times").is_some()) {
        Drawing::Steps
    } else {
        Drawing::Points
    };
    let curves: Vec<Curve> = curves_json
        .iter()
        .map(|c| {
            let rows: Vec<&Value> = match drawing {
                Drawing::Steps => c["event_times"].as_array().into_iter().flatten().collect(),
                Drawing::Points => c["rows"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|row| row["shown"] != false)
                    .collect(),
            };
            Curve {
                label: label(c),
                points: rows.into_iter().filter_map(point).collect(),
                censored: censor_times(c),
            }
        })
        .collect();
    let marks = curves.iter().any(|c| !c.censored.is_empty());
    let (ticks, risk) = ticks_and_risk(&curves_json, || vec![0.0]);
    // Gray's test per cause, where the study asked for it: on the plot and in a table.
    let gray: Vec<&Value> = r["gray_tests"].as_array().into_iter().flatten().collect();
    let mut notes: Vec<String> = gray
        .iter()
        .filter_map(|g| {
            Some(format!(
                "Gray, cause {}: {}",
                plain(&g["cause"]),
                p_is(f(&g["p_value"])?)
            ))
        })
        .collect();
    if marks {
        notes.push("short vertical ticks: censored".into());
    }
    let plot = Plot {
        curves,
        direction: Direction::Increasing,
        drawing,
        x_label: time_unit.map_or_else(|| TIME_LABEL.into(), |u| format!("time ({u})")),
        y_label: "cumulative incidence".into(),
        legend_title: Some(group_column.unwrap_or("all cases").to_string()),
        ticks,
        notes,
        risk,
        conf_level: 0.95,
    };
    h.push_str("<figure>\n");
    h.push_str(&curves::svg(&plot));
    let _ = writeln!(
        h,
        "<figcaption>{}</figcaption>\n</figure>",
        escape(match drawing {
            Drawing::Steps if marks =>
                "Cumulative incidence of each cause (Aalen–Johansen) at every event time (any \
                 cause) with at least the smallest number at risk (steps), with pointwise 95% \
                 bands (estimate ± 1.96 standard errors); a short vertical tick at each time \
                 patients of the group were censored. Number at risk (any cause) at the grid \
                 times; – where suppressed.",
            Drawing::Steps =>
                "Cumulative incidence of each cause (Aalen–Johansen) at every event time (any \
                 cause) with at least the smallest number at risk (steps), with pointwise 95% \
                 bands (estimate ± 1.96 standard errors). Censoring marks are not drawn: the \
                 results hold no censoring times. Number at risk (any cause) at the grid \
                 times; – where suppressed.",
            Drawing::Points =>
                "Cumulative incidence of each cause (Aalen–Johansen) at the study's grid times \
                 only, with pointwise 95% intervals (estimate ± 1.96 standard errors); points \
                 are not joined, since the curve between grid times was not opened. Number at \
                 risk (any cause) at the grid times; – where suppressed.",
        })
    );
    if !gray.is_empty() {
        let mut t = Table::new(&["Gray's test", "statistic", "df", "p"]);
        for g in &gray {
            t.row(vec![
                format!("cause {}", plain(&g["cause"])),
                est_of(&g["statistic"]),
                plain(&g["df"]),
                pval_of(&g["p_value"]),
            ]);
        }
        h.push_str(&t.html());
    }
    for c in &curves_json {
        let heading = match (group_column, c["group"].as_str()) {
            (Some(col), Some(g)) => format!("{col} = {g}, cause {}", plain(&c["cause"])),
            _ => label(c),
        };
        let _ = writeln!(h, "<h3>{}</h3>", escape(&heading));
        let mut t = Table::new(&[
            "time",
            "at risk",
            "events up to time (any cause)",
            "cumulative incidence",
            "std err",
        ]);
        for row in c["rows"].as_array().into_iter().flatten() {
            if row["shown"] == false {
                t.row_note(
                    &plain(&row["time"]),
                    &format!("suppressed (fewer than {min_cell} at risk, or too few events)"),
                );
                continue;
            }
            t.row(vec![
                plain(&row["time"]),
                plain(&row["at_risk"]),
                plain(&row["events"]),
                est_of(&row["estimate"]),
                est_of(&row["std_err"]),
            ]);
        }
        h.push_str(&t.html());
        event_time_table(
            h,
            &c["event_times"],
            &[
                "time",
                "at risk",
                "events (any cause)",
                "cumulative incidence",
                "std err",
            ],
            |e| {
                vec![
                    plain(&e["time"]),
                    plain(&e["at_risk"]),
                    plain(&e["events"]),
                    est_of(&e["estimate"]),
                    est_of(&e["std_err"]),
                ]
            },
        );
    }
}

/// A curve's table at each of its event times (`rows`: the results' `event_times`), folded:
/// one row per time from `cells`; with censor marks (rows holding `censored`) a censored
/// column after the events, and the times are event or censoring times. Nothing without
/// event times.
fn event_time_table(
    h: &mut String,
    rows: &Value,
    head: &[&str],
    cells: impl Fn(&Value) -> Vec<String>,
) {
    let Some(events) = rows.as_array().filter(|e| !e.is_empty()) else {
        return;
    };
    let marks = events.iter().any(|e| e.get("censored").is_some());
    let mut head = head.to_vec();
    if marks {
        head.insert(3, "censored");
    }
    let mut t = Table::new(&head);
    for e in events {
        let mut row = cells(e);
        if marks {
            row.insert(3, plain(&e["censored"]));
        }
        t.row(row);
    }
    let what = if marks {
        "event or censoring times"
    } else {
        "event times"
    };
    let _ = writeln!(
        h,
        "<details><summary>the curve at each of {} {what}</summary>\n{}</details>",
        events.len(),
        t.html()
    );
}

/// A restricted mean survival time: per group the mean up to τ with its interval, then
/// each group's difference from the first.
pub fn rmst(h: &mut String, r: &Value, time_unit: Option<&str>) {
    let unit = time_unit.map(|u| format!(" {u}")).unwrap_or_default();
    let conf = f(&r["conf_level"]).unwrap_or(0.95);
    let _ = writeln!(
        h,
        "<p>Restricted mean survival time up to τ = {}{}: the area under the Kaplan–Meier \
         curve from 0 to τ ({} complete cases; a group is shown only with at least {} rows and \
         enough events up to τ).</p>",
        plain(&r["tau"]),
        escape(&unit),
        plain(&r["n"]),
        plain(&r["min_cell"])
    );
    let group_column = r["group_column"].as_str().unwrap_or("group");
    let mut t = Table::new(&[
        group_column,
        "rows",
        "events up to τ",
        "RMST",
        "std err",
        "CI",
    ]);
    t.set_header(5, &format!("{:.0}% CI", conf * 100.0));
    for g in r["groups"].as_array().into_iter().flatten() {
        let label = escape(g["group"].as_str().unwrap_or("all"));
        if g["shown"] == false {
            t.row_note(&label, "suppressed (too few rows or events up to τ)");
            continue;
        }
        t.row(vec![
            label,
            plain(&g["n"]),
            plain(&g["events"]),
            est_of(&g["rmst"]),
            est_of(&g["std_err"]),
            ci(&g["ci_lower"], &g["ci_upper"]),
        ]);
    }
    h.push_str(&t.html());
    let diffs = r["differences"].as_array().filter(|d| !d.is_empty());
    if let Some(diffs) = diffs {
        let mut t = Table::new(&["difference", "estimate", "std err", "CI", "p"]);
        t.set_header(3, &format!("{:.0}% CI", conf * 100.0));
        for d in diffs {
            t.row(vec![
                escape(&format!(
                    "{} − {}",
                    d["group"].as_str().unwrap_or("?"),
                    d["reference"].as_str().unwrap_or("?")
                )),
                est_of(&d["estimate"]),
                est_of(&d["std_err"]),
                ci(&d["ci_lower"], &d["ci_upper"]),
                pval_of(&d["p_value"]),
            ]);
        }
        h.push_str(&t.html());
    }
}

/// The time ticks (0 and the grid times, thinned to at most [`MAX_TICKS`]; `no_grid()`'s
/// without a grid) and the number-at-risk table at those grid times, one row per curve
/// ("–" where a cell is suppressed).
fn ticks_and_risk(
    curves_json: &[Value],
    no_grid: impl FnOnce() -> Vec<f64>,
) -> (Vec<f64>, Option<RiskTable>) {
    let grid = grid(curves_json);
    if grid.is_empty() {
        return (no_grid(), None);
    }
    let step = grid.len().div_ceil(MAX_TICKS).max(1);
    let shown_grid: Vec<usize> = (0..grid.len()).filter(|i| (i + 1) % step == 0).collect();
    let ticks = std::iter::once(0.0)
        .chain(shown_grid.iter().map(|&i| grid[i]))
        .collect();
    let risk = RiskTable {
        times: shown_grid.iter().map(|&i| grid[i]).collect(),
        counts: curves_json
            .iter()
            .map(|c| {
                let rows = c["rows"].as_array();
                shown_grid
                    .iter()
                    .map(|&i| {
                        rows.and_then(|r| r.get(i))
                            .filter(|r| r["shown"] != false)
                            .and_then(|r| r["at_risk"].as_u64())
                    })
                    .collect()
            })
            .collect(),
    };
    (ticks, Some(risk))
}

fn ci(lo: &Value, hi: &Value) -> String {
    match (f(lo), f(hi)) {
        (Some(a), Some(b)) => format!("{}–{}", est(a), est(b)),
        _ => "—".into(),
    }
}

/// A log-rank test: the statistic and p-value, observed and expected events per group.
pub fn logrank(h: &mut String, r: &Value) {
    let _ = writeln!(
        h,
        "<p class=\"result\">{}: χ² = {} on {} df, <strong>{}</strong> ({} complete cases).</p>",
        escape(r["group_column"].as_str().unwrap_or("groups")),
        est_of(&r["chi_square"]),
        plain(&r["df"]),
        escape(&f(&r["p"]).map_or_else(|| "p —".into(), p_is)),
        plain(&r["n"])
    );
    let left_out: Vec<&str> = r["not_compared"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !left_out.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"note\">Not compared (nobody at risk at an event time together with \
             another group): {}.</p>",
            escape(&left_out.join(", "))
        );
    }
    let mut t = Table::new(&["statistic", "df", "p", "complete cases"]);
    t.row(vec![
        est_of(&r["chi_square"]),
        plain(&r["df"]),
        pval_of(&r["p"]),
        plain(&r["n"]),
    ]);
    h.push_str(&t.html());
    if let (Some(g), Some(o), Some(e)) = (
        r["groups"].as_array(),
        r["observed"].as_array(),
        r["expected"].as_array(),
    ) {
        let mut t = Table::new(&["group", "observed events", "expected events", "O/E"]);
        for ((g, o), e) in g.iter().zip(o).zip(e) {
            let ratio = match (f(o), f(e)) {
                (Some(o), Some(e)) if e > 0.0 => est(o / e),
                _ => "—".into(),
            };
            t.row(vec![plain(g), plain(o), est_of(e), ratio]);
        }
        h.push_str(&t.html());
    }
}

/// A Cox model: hazard ratios with their intervals (table and forest plot), then the fit.
pub fn cox(h: &mut String, r: &Value) {
    let conf = f(&r["conf_level"]).unwrap_or(0.95);
    let _ = writeln!(
        h,
        "<p>{} observations, {} events, {} ties; likelihood-ratio test {} on {} df, {}; \
         partial log-likelihood {}; {} Newton iterations.</p>",
        plain(&r["n"]),
        plain(&r["events"]),
        escape(r["ties"].as_str().unwrap_or("")),
        est_of(&r["lr_statistic"]),
        plain(&r["lr_df"]),
        escape(&f(&r["lr_p"]).map_or_else(|| "p —".into(), p_is)),
        f(&r["log_likelihood"]).map_or_else(|| "—".into(), |l| format!("{l:.2}")),
        plain(&r["iterations"])
    );
    entry_note(h, r);
    ratio_table(h, r, conf, "hazard ratio");
    let robust = r["robust"] == true;
    if robust {
        h.push_str(
            "<p class=\"muted\">Robust standard errors (Lin and Wei's sandwich estimator, as \
             R's coxph(robust = TRUE)): the intervals, z and p use them; se(coef) naive is the \
             model-based standard error.</p>\n",
        );
    }
    concordance(h, &r["concordance"], r["entry"].is_string());
    ph_test(h, &r["ph_test"]);
}

/// The forest plot and coefficient table of a proportional-hazards model (Cox,
/// Fine–Gray): per row the ratio (`label`) with its interval, p, coef, se, z; with
/// `robust`, the robust and the naive standard errors.
fn ratio_table(h: &mut String, r: &Value, conf: f64, label: &str) {
    let rows: Vec<&Value> = r["rows"].as_array().into_iter().flatten().collect();
    let ratios: Vec<Ratio> = rows.iter().filter_map(|row| hazard_ratio(row)).collect();
    if !ratios.is_empty() {
        let _ = writeln!(
            h,
            "<figure>\n{}<figcaption>{}s with {:.0}% confidence intervals (log scale); the \
             dashed line is no effect (1).</figcaption>\n</figure>",
            forest::svg(&ratios, label, conf),
            upper_first(label),
            conf * 100.0
        );
    }
    let robust = r["robust"] == true;
    let ci_head = format!("{:.0}% CI", conf * 100.0);
    let mut head = vec!["covariate", label, &ci_head, "p", "coef", "se(coef)", "z"];
    if robust {
        head[5] = "robust se";
        head.insert(6, "se(coef) naive");
    }
    let mut t = Table::new(&head);
    for (row, hr) in rows.iter().zip(rows.iter().map(|r| hazard_ratio(r))) {
        let (ratio, interval) = match &hr {
            Some(q) => (
                est(q.estimate),
                match (q.lower, q.upper) {
                    (Some(a), Some(b)) => format!("{}–{}", est(a), est(b)),
                    _ => "—".into(),
                },
            ),
            None => ("—".into(), "—".into()),
        };
        let mut cells = vec![
            plain(&row["covariate"]),
            ratio,
            interval,
            pval_of(&row["p"]),
            est_of(&row["coef"]),
            est_of(&row["se"]),
            est_of(&row["z"]),
        ];
        if robust {
            cells.insert(6, est_of(&row["se_naive"]));
        }
        t.row(cells);
    }
    h.push_str(&t.html());
}

/// `s` with its first letter in upper case.
fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// The Fine–Gray model (`finegray`), as `summary(crr(...))`: subdistribution hazard ratios
/// with intervals (forest plot and table), crr's standard errors, the pseudo likelihood.
pub fn finegray(h: &mut String, r: &Value) {
    let conf = f(&r["conf_level"]).unwrap_or(0.95);
    let _ = writeln!(
        h,
        "<h3>Fine–Gray subdistribution hazards</h3>\n<p>Cause {} (the others compete); {} \
         observations, {} events of the cause; pseudo likelihood-ratio test {} on {} df; \
         pseudo log-likelihood {}; {} Newton iterations.</p>",
        plain(&r["cause"]),
        plain(&r["n"]),
        plain(&r["events"]),
        est_of(&r["lr_statistic"]),
        plain(&r["lr_df"]),
        f(&r["log_likelihood"]).map_or_else(|| "—".into(), |l| format!("{l:.2}")),
        plain(&r["iterations"])
    );
    ratio_table(h, r, conf, "subdistribution hazard ratio");
    h.push_str(
        "<p class=\"muted\">Standard errors as R's cmprsk::crr (the sandwich estimator with \
         the term for the estimated censoring distribution); ties handled as Breslow's.</p>\n",
    );
}

/// Harrell's concordance (`concordance`), R's `fit$concordance`: one line under the table.
/// With delayed entry a pair is comparable only when both are at risk at the shorter time;
/// without comparable pairs C is not defined (`null`: R's NaN) and the line says so.
fn concordance(h: &mut String, c: &Value, entry: bool) {
    if !c.is_object() {
        return;
    }
    let count = |k: &str| c[k].as_u64().unwrap_or(0);
    let head = match (f(&c["concordance"]), f(&c["se"])) {
        (Some(cc), Some(se)) => format!("Concordance {cc:.3} (se {se:.3})"),
        _ => "Concordance not defined: no comparable pairs (R reports NaN)".to_string(),
    };
    let at_risk = if entry {
        " (both at risk at the shorter time)"
    } else {
        ""
    };
    let _ = writeln!(
        h,
        "<p>{head}</p>\n<p class=\"muted\">Harrell's C as R's concordance(fit): among {} \
         comparable pairs{at_risk}, {} concordant, {} discordant, {} tied in the risk score \
         (counted 1/2); {} pairs of events at one time are not comparable.</p>",
        count("concordant") + count("discordant") + count("tied_x"),
        count("concordant"),
        count("discordant"),
        count("tied_x"),
        count("tied_y") + count("tied_xy"),
    );
}

/// The proportional-hazards test (`zph`), R's `cox.zph` table: per term and global.
fn ph_test(h: &mut String, t: &Value) {
    let Some(terms) = t["terms"].as_array() else {
        return;
    };
    let mut table = Table::new(&["term", "chi-square", "df", "p"]);
    for row in terms.iter().chain([&t["global"]]) {
        table.row(vec![
            plain(&row["term"]),
            est_of(&row["chisq"]),
            plain(&row["df"]),
            pval_of(&row["p"]),
        ]);
    }
    let _ = writeln!(
        h,
        "<h4>Proportional hazards</h4>\n<p class=\"muted\">Score tests from scaled Schoenfeld \
         residuals (R's cox.zph, transform {}): a small p says the term's hazard ratio changes \
         with time.</p>\n{}",
        escape(t["transform"].as_str().unwrap_or("")),
        table.html()
    );
}

/// exp(coef) with exp of the interval's bounds, from `coef` and the interval (or `se`).
fn hazard_ratio(row: &Value) -> Option<Ratio> {
    let coef = f(&row["coef"])?;
    let (lo, hi) = match (f(&row["coef_lower"]), f(&row["coef_upper"])) {
        (Some(a), Some(b)) => (Some(a.exp()), Some(b.exp())),
        _ => (None, None),
    };
    Some(Ratio {
        label: row["covariate"].as_str().unwrap_or("").to_string(),
        estimate: coef.exp(),
        lower: lo,
        upper: hi,
    })
}
