//! The results of a study as one self-contained HTML page (no scripts, no external files):
//! the study and its linkage, then each analysis as tables, with the Kaplan–Meier curves as
//! an embedded SVG plot (steps through the opened points, with their confidence band).
//! Only opened results are shown; suppressed cells stay suppressed.

use std::fmt::Write;

use serde_json::Value;

use crate::run::StudyOutput;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;\
padding:0 1rem;color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}\
td,th{border-bottom:1px solid #ddd;padding:.2rem .6rem;text-align:right}\
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}\
pre{background:#f8f8f8;padding:.8rem;overflow-x:auto}.muted{color:#777}\
.error{color:#a00}svg{margin:.5rem 0 1rem}";

/// Curve colours (colour-blind safe).
const COLOURS: [&str; 6] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
];

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn fmt(v: &Value, digits: usize) -> String {
    match v {
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) {
                format!("{x:.3e}")
            } else {
                format!("{x:.digits$}")
            }
        }
        Value::Null => "—".into(),
        Value::String(s) => escape(s),
        other => escape(&other.to_string()),
    }
}

/// The page.
pub fn html(out: &StudyOutput) -> String {
    let mut h = String::new();
    let title = out
        .study
        .title
        .clone()
        .unwrap_or_else(|| out.study.id.clone());
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{t}</title><style>{STYLE}</style></head><body>\n<h1>{t}</h1>\n\
         <p class=\"muted\">study <code>{id}</code>; results computed with secure multi-party \
         computation on the linked data; only the values below were revealed.</p>\n",
        t = escape(&title),
        id = escape(&out.study.id),
    );
    let _ = write!(
        h,
        "<h2>Linkage</h2>\n<table><tr><th>data party</th><th>rows</th></tr>\n"
    );
    for r in &out.linkage.rows {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(&r.party),
            escape(&r.rows.to_string())
        );
    }
    if out.linkage.rows_withheld {
        let _ = writeln!(
            h,
            "<tr><td colspan=\"2\" class=\"muted\">rows per data station withheld \
             (see [disclosure] counts)</td></tr>"
        );
    }
    let _ = writeln!(
        h,
        "<tr><th>linked rows</th><th>{}</th></tr></table>",
        escape(&out.linkage.intersection.to_string())
    );
    for a in &out.analyses {
        let _ = writeln!(
            h,
            "<h2>{} <span class=\"muted\">({})</span></h2>\n<p class=\"muted\">for {}</p>",
            escape(&a.name),
            escape(&a.kind),
            escape(&a.recipients.join(", "))
        );
        match (&a.result, &a.error) {
            (Some(r), _) => match a.kind.as_str() {
                "kaplan_meier" => kaplan_meier(&mut h, r),
                "logrank" => logrank(&mut h, r),
                "cox" => cox(&mut h, r),
                "ols" | "logistic" => regression(&mut h, r),
                "correlation" => correlation(&mut h, r),
                _ => {
                    let _ = writeln!(h, "<pre>{}</pre>", escape(&a.text));
                }
            },
            (None, Some(e)) => {
                let _ = writeln!(h, "<p class=\"error\">no result: {}</p>", escape(e));
            }
            (None, None) => {}
        }
    }
    h.push_str("</body></html>\n");
    h
}

fn kaplan_meier(h: &mut String, r: &Value) {
    let curves = r["curves"].as_array().cloned().unwrap_or_default();
    let _ = writeln!(
        h,
        "<p>{} complete cases; cells with fewer than {} at risk are suppressed.</p>",
        r["n"], r["min_cell"]
    );
    h.push_str(&km_svg(&curves, r["conf_level"].as_f64().unwrap_or(0.95)));
    for c in &curves {
        if let Some(g) = c["group"].as_str() {
            let _ = writeln!(
                h,
                "<h3>{} = {}</h3>",
                escape(r["group_column"].as_str().unwrap_or("group")),
                escape(g)
            );
        }
        h.push_str("<table><tr><th>time</th><th>at risk</th><th>events up to time</th><th>survival</th><th>std err</th><th>lower</th><th>upper</th></tr>\n");
        for row in c["rows"].as_array().into_iter().flatten() {
            if row["shown"] == false {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td colspan=\"6\" class=\"muted\">suppressed (fewer than {} at risk)</td></tr>",
                    fmt(&row["time"], 0),
                    r["min_cell"]
                );
                continue;
            }
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                fmt(&row["time"], 0),
                fmt(&row["at_risk"], 0),
                fmt(&row["events"], 0),
                fmt(&row["survival"], 4),
                fmt(&row["std_err"], 4),
                fmt(&row["ci_lower"], 4),
                fmt(&row["ci_upper"], 4)
            );
        }
        h.push_str("</table>\n");
    }
}

/// The opened points of one curve: (time, survival, lower, upper), from the event times
/// when present, else from the shown grid rows; starting at (0, 1).
fn points(c: &Value) -> Vec<(f64, f64, f64, f64)> {
    let mut pts = vec![(0.0, 1.0, 1.0, 1.0)];
    let events = c["event_times"].as_array().filter(|e| !e.is_empty());
    let rows: Vec<&Value> = match events {
        Some(e) => e.iter().collect(),
        None => c["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["shown"] != false)
            .collect(),
    };
    for r in rows {
        if let (Some(t), Some(s), Some(lo), Some(hi)) = (
            num(&r["time"]),
            num(&r["survival"]),
            num(&r["ci_lower"]),
            num(&r["ci_upper"]),
        ) {
            pts.push((t, s, lo, hi));
        }
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

/// The curves as an SVG step plot with confidence bands, axes and a legend.
pub fn km_svg(curves: &[Value], conf_level: f64) -> String {
    let (w, hgt, left, right, top, bottom) = (640.0, 360.0, 56.0, 150.0, 16.0, 44.0);
    let (pw, ph) = (w - left - right, hgt - top - bottom);
    let series: Vec<Vec<(f64, f64, f64, f64)>> = curves.iter().map(points).collect();
    let tmax = series
        .iter()
        .flatten()
        .map(|p| p.0)
        .fold(0.0f64, f64::max)
        .max(1.0);
    let x = |t: f64| left + pw * t / tmax;
    let y = |s: f64| top + ph * (1.0 - s.clamp(0.0, 1.0));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{hgt}\" \
         viewBox=\"0 0 {w} {hgt}\" role=\"img\" aria-label=\"Kaplan-Meier curves\" \
         font-family=\"sans-serif\" font-size=\"11\">"
    );
    // Axes, ticks and labels.
    let _ = writeln!(
        s,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#888\"/>"
    );
    for k in 0..=4 {
        let v = k as f64 / 4.0;
        let _ = writeln!(
            s,
            "<line x1=\"{l}\" x2=\"{r}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/>\
             <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{v:.2}</text>",
            l = left,
            r = left + pw,
            yy = y(v),
            tx = left - 6.0,
            ty = y(v) + 4.0
        );
        let t = tmax * v;
        let _ = writeln!(
            s,
            "<text x=\"{tx:.1}\" y=\"{ty}\" text-anchor=\"middle\">{t:.0}</text>",
            tx = x(t),
            ty = top + ph + 16.0
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{cx}\" y=\"{by}\" text-anchor=\"middle\">time</text>\
         <text x=\"14\" y=\"{cy}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {cy})\">survival</text>",
        cx = left + pw / 2.0,
        by = hgt - 8.0,
        cy = top + ph / 2.0
    );
    for (i, (pts, c)) in series.iter().zip(curves).enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let steps = c["event_times"].as_array().is_some_and(|e| !e.is_empty());
        if steps {
            // The curve at every event time: the Kaplan–Meier step function and its band
            // (upper bound stepping forward, lower bound stepping back).
            let mut band = String::new();
            for (j, p) in pts.iter().enumerate() {
                let next = pts.get(j + 1).map_or(p.0, |q| q.0);
                let _ = write!(
                    band,
                    "{:.1},{:.1} {:.1},{:.1} ",
                    x(p.0),
                    y(p.3),
                    x(next),
                    y(p.3)
                );
            }
            for (j, p) in pts.iter().enumerate().rev() {
                let next = pts.get(j + 1).map_or(p.0, |q| q.0);
                let _ = write!(
                    band,
                    "{:.1},{:.1} {:.1},{:.1} ",
                    x(next),
                    y(p.2),
                    x(p.0),
                    y(p.2)
                );
            }
            let _ = writeln!(
                s,
                "<polygon points=\"{band}\" fill=\"{colour}\" fill-opacity=\"0.15\" stroke=\"none\"/>"
            );
            let mut line = String::new();
            for (j, p) in pts.iter().enumerate() {
                let next = pts.get(j + 1).map_or(p.0, |q| q.0);
                let _ = write!(
                    line,
                    "{:.1},{:.1} {:.1},{:.1} ",
                    x(p.0),
                    y(p.1),
                    x(next),
                    y(p.1)
                );
            }
            let _ = writeln!(
                s,
                "<polyline points=\"{line}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>"
            );
        } else {
            // Only grid times were opened: points with their interval, joined by a dashed
            // line (the curve between grid times is not known to the reader).
            let line: String = pts
                .iter()
                .map(|p| format!("{:.1},{:.1} ", x(p.0), y(p.1)))
                .collect();
            let _ = writeln!(
                s,
                "<polyline points=\"{line}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>"
            );
            for p in pts.iter().skip(1) {
                let _ = writeln!(
                    s,
                    "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{a:.1}\" y2=\"{b:.1}\" stroke=\"{colour}\" stroke-width=\"1.5\"/>\
                     <circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3.5\" fill=\"{colour}\"/>",
                    px = x(p.0) + 3.0 * i as f64,
                    py = y(p.1),
                    a = y(p.2),
                    b = y(p.3)
                );
            }
        }
        let label = c["group"].as_str().unwrap_or("all");
        let ly = top + 14.0 + 18.0 * i as f64;
        let _ = writeln!(
            s,
            "<line x1=\"{a}\" x2=\"{b}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"3\"/>\
             <text x=\"{tx}\" y=\"{ty}\">{}</text>",
            escape(label),
            a = left + pw + 12.0,
            b = left + pw + 32.0,
            tx = left + pw + 38.0,
            ty = ly + 4.0
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{tx}\" y=\"{ty}\" fill=\"#777\">{:.0}% CI</text></svg>",
        conf_level * 100.0,
        tx = left + pw + 12.0,
        ty = top + 14.0 + 18.0 * curves.len() as f64 + 8.0
    );
    s
}

fn logrank(h: &mut String, r: &Value) {
    let _ = writeln!(
        h,
        "<table><tr><th>test statistic (χ²)</th><th>degrees of freedom</th><th>p</th><th>complete cases</th></tr>\
         <tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
        fmt(&r["chi_square"], 4),
        r["df"],
        fmt(&r["p"], 4),
        r["n"]
    );
    if let (Some(g), Some(o), Some(e)) = (
        r["groups"].as_array(),
        r["observed"].as_array(),
        r["expected"].as_array(),
    ) {
        h.push_str("<table><tr><th>group</th><th>observed</th><th>expected</th></tr>\n");
        for ((g, o), e) in g.iter().zip(o).zip(e) {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                fmt(g, 0),
                fmt(o, 1),
                fmt(e, 2)
            );
        }
        h.push_str("</table>\n");
    }
}

fn cox(h: &mut String, r: &Value) {
    let _ = writeln!(
        h,
        "<p>{} observations, {} events, {} ties; partial log-likelihood {}; likelihood-ratio test \
         {} on {} df, p = {}; {} Newton iterations.</p>",
        r["n"],
        r["events"],
        escape(r["ties"].as_str().unwrap_or("")),
        fmt(&r["log_likelihood"], 4),
        fmt(&r["lr_statistic"], 2),
        r["lr_df"],
        fmt(&r["lr_p"], 3),
        r["iterations"]
    );
    h.push_str("<table><tr><th>covariate</th><th>coef</th><th>exp(coef)</th><th>se(coef)</th><th>lower</th><th>upper</th><th>z</th><th>p</th></tr>\n");
    for row in r["rows"].as_array().into_iter().flatten() {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            fmt(&row["covariate"], 0),
            fmt(&row["coef"], 4),
            fmt(&row["exp_coef"], 4),
            fmt(&row["se"], 4),
            fmt(&row["coef_lower"], 4),
            fmt(&row["coef_upper"], 4),
            fmt(&row["z"], 2),
            fmt(&row["p"], 4)
        );
    }
    h.push_str("</table>\n");
}

fn regression(h: &mut String, r: &Value) {
    let fit = match (r["r_squared"].as_f64(), r["log_likelihood"].as_f64()) {
        (Some(r2), _) => format!("R² {r2:.4}"),
        (None, Some(ll)) => format!("log-likelihood {ll:.4}, {} iterations", r["iterations"]),
        _ => String::new(),
    };
    let _ = writeln!(h, "<p>{} observations; {}.</p>", r["nobs"], escape(&fit));
    h.push_str("<table><tr><th>variable</th><th>coef</th><th>std err</th><th>t / z</th><th>p</th><th>lower</th><th>upper</th></tr>\n");
    for c in r["coefficients"].as_array().into_iter().flatten() {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            fmt(&c["name"], 0),
            fmt(&c["coef"], 4),
            fmt(&c["std_err"], 4),
            fmt(&c["stat"], 2),
            fmt(&c["p_value"], 4),
            fmt(&c["ci_low"], 4),
            fmt(&c["ci_high"], 4)
        );
    }
    h.push_str("</table>\n");
}

fn correlation(h: &mut String, r: &Value) {
    let cols: Vec<String> = r["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| fmt(c, 0))
        .collect();
    h.push_str("<table><tr><th></th>");
    for c in &cols {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr>\n");
    for (c, row) in cols.iter().zip(r["r"].as_array().into_iter().flatten()) {
        let _ = write!(h, "<tr><td>{c}</td>");
        for v in row.as_array().into_iter().flatten() {
            let _ = write!(h, "<td>{}</td>", fmt(v, 4));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_and_plots() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let curves = vec![json!({
            "group": "<b>",
            "rows": [
                {"time": 10.0, "shown": true, "survival": 0.8, "ci_lower": 0.7, "ci_upper": 0.9},
                {"time": 20.0, "shown": false, "survival": null, "ci_lower": null, "ci_upper": null}
            ],
            "event_times": []
        })];
        let svg = km_svg(&curves, 0.95);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        // Grid only: points with intervals, no step band.
        assert!(svg.contains("circle") && svg.contains("stroke-dasharray"));
        assert!(!svg.contains("polygon"));
        assert!(svg.contains("95% CI"));
        let steps = vec![json!({
            "group": "all",
            "rows": [],
            "event_times": [{"time": 3.0, "survival": 0.9, "ci_lower": 0.8, "ci_upper": 0.95}]
        })];
        let svg = km_svg(&steps, 0.9);
        assert!(svg.contains("polygon") && svg.contains("90% CI"));
    }
}
