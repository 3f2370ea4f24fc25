//! The page's structure, on hand-made results: tables not `<pre>`, steps or unjoined points
//! as the results allow, the number at risk as opened, one forest mark per covariate, and
//! the study's text escaped.

use serde_json::{json, Value};

use super::html;
use crate::counts::Count;
use crate::run::{AnalysisResult, LinkageInfo, PartyRows, StudyInfo, StudyOutput};

const HOSTILE: &str = "<script>alert(1)</script>";

fn analysis(name: &str, kind: &str, result: Value) -> AnalysisResult {
    AnalysisResult {
        name: name.into(),
        kind: kind.into(),
        recipients: vec!["researcher".into()],
        result: Some(result),
        text: String::new(),
        error: None,
    }
}

fn output(title: &str, analyses: Vec<AnalysisResult>) -> StudyOutput {
    StudyOutput {
        study: StudyInfo {
            id: "s".into(),
            title: Some(title.into()),
            time_unit: Some("days".into()),
            parties: Vec::new(),
        },
        linkage: LinkageInfo {
            key: vec!["id".into()],
            rows: vec![PartyRows {
                party: "registry".into(),
                rows: Count::Exact(200),
            }],
            rows_withheld: false,
            intersection: Count::Exact(180),
            kept: None,
        },
        analyses,
        data: Vec::new(),
        cost: Vec::new(),
    }
}

fn grid_row(time: f64, at_risk: u64, s: f64) -> Value {
    json!({"time": time, "shown": true, "at_risk": at_risk, "events": 5, "survival": s,
           "std_err": 0.03, "ci_lower": s - 0.06, "ci_upper": s + 0.05})
}

fn suppressed(time: f64) -> Value {
    json!({"time": time, "shown": false, "at_risk": null, "events": null, "survival": null,
           "std_err": null, "ci_lower": null, "ci_upper": null})
}

fn event(time: f64, at_risk: u64, s: f64) -> Value {
    json!({"time": time, "at_risk": at_risk, "events": 1, "survival": s, "std_err": 0.02,
           "ci_lower": s - 0.05, "ci_upper": s + 0.04})
}

/// Kaplan–Meier by `group` at a grid of 100, 200, 300 (the last suppressed in `b`); with
/// `events`, the curves at event times too.
fn km(group: &str, events: bool) -> Value {
    let ev = |v: Vec<Value>| if events { v } else { Vec::new() };
    json!({
        "group_column": group, "n": 180, "conf_level": 0.95, "min_cell": 10, "min_events": 5,
        "curves": [
            {"group": "a", "rows": [grid_row(100.0, 80, 0.8), grid_row(200.0, 50, 0.6),
                                    grid_row(300.0, 20, 0.45)],
             "event_times": ev(vec![event(40.0, 95, 0.9), event(150.0, 60, 0.7),
                                    event(250.0, 30, 0.45)])},
            {"group": "b", "rows": [grid_row(100.0, 70, 0.85), grid_row(200.0, 40, 0.7),
                                    suppressed(300.0)],
             "event_times": ev(vec![event(60.0, 75, 0.85), event(190.0, 41, 0.7)])}
        ]
    })
}

fn logrank(group: &str) -> Value {
    json!({"group_column": group, "groups": ["a", "b"], "n": 180, "df": 1,
           "chi_square": 6.3, "p": 0.0121, "observed": [30.0, 20.0],
           "expected": [25.0, 25.0]})
}

fn cox() -> Value {
    let row = |name: &str, coef: f64| {
        json!({"covariate": name, "coef": coef, "exp_coef": f64::exp(coef), "se": 0.1,
               "coef_lower": coef - 0.196, "coef_upper": coef + 0.196,
               "exp_coef_lower": f64::exp(coef - 0.196), "exp_coef_upper": f64::exp(coef + 0.196),
               "z": coef / 0.1, "p": 0.00001})
    };
    json!({"ties": "efron", "n": 180, "events": 50, "conf_level": 0.95,
           "rows": [row("age", 0.02), row(HOSTILE, 0.5), row("stage[T.3]", 1.1)],
           "log_likelihood": -200.5, "log_likelihood_null": -210.0, "lr_statistic": 19.0,
           "lr_df": 3, "lr_p": 0.0003, "iterations": 4, "halvings": 0, "converged": true})
}

fn logistic() -> Value {
    let c = |name: &str, coef: f64| {
        json!({"name": name, "coef": coef, "std_err": 0.2, "stat": coef / 0.2,
               "p_value": 0.04, "ci_low": coef - 0.39, "ci_high": coef + 0.39})
    };
    json!({"outcome": "diabetes", "nobs": 180, "log_likelihood": -90.0, "iterations": 5,
           "conf_level": 0.95,
           "coefficients": [c("intercept", -2.0), c("age", 0.03), c("sex", 0.4)]})
}

fn describe(group: &str) -> Value {
    let s = |col: &str, level: &str, n: u64, mean: f64, sd: f64| {
        json!({"column": col, "level": level, "suppressed": false, "count": n,
               "missing": null, "mean": mean, "var": sd * sd, "sd": sd,
               "quantiles": [mean - 5.0, mean, mean + 5.0], "min": null, "max": null,
               "histogram": null})
    };
    json!({"group": group, "quantiles": [0.25, 0.5, 0.75], "edges": null, "min_cell": 10,
           "summaries": [s("age", "a", 100, 60.0, 10.0), s("age", "b", 80, 70.0, 10.0)]})
}

fn crosstab(group: &str) -> Value {
    json!({"rows": "smoker", "columns": group, "row_levels": ["no", "yes"],
           "column_levels": ["a", "b"], "min_cell": 5,
           "counts": [[60, 50], [40, 30]], "row_totals": [110, 70],
           "column_totals": [100, 80], "total": 180, "chi2": 0.2, "dof": 1, "p_value": 0.65})
}

fn page(events: bool) -> String {
    html(&output(
        "Study",
        vec![
            analysis("km", "kaplan_meier", km("stage", events)),
            analysis("lr", "logrank", logrank("stage")),
            analysis("cox", "cox", cox()),
            analysis("diabetes", "logistic", logistic()),
            analysis("t1", "describe", describe("stage")),
            analysis("smoking", "crosstab", crosstab("stage")),
        ],
    ))
}

/// The SVG of the survival curves.
fn curves_svg(h: &str) -> &str {
    let start = h.find("<svg class=\"curves\"").expect("a curve plot");
    &h[start..start + h[start..].find("</svg>").unwrap()]
}

#[test]
fn tables_are_tables_and_the_page_prints() {
    let h = page(false);
    assert!(h.starts_with("<!DOCTYPE html>"));
    assert!(h.contains("<table>") && h.contains("<thead>"));
    assert!(
        !h.contains("<pre"),
        "no analysis of a known kind is shown as <pre>"
    );
    assert!(h.contains("@media print"));
    // Self-contained: no scripts, no external files.
    assert!(!h.contains("<script") && !h.contains("<link") && !h.contains("src="));
    assert!(!h.contains("url(") && !h.contains("href=\"http"));
    // p-values as a reader expects them.
    assert!(h.contains("p = 0.0121"), "the log-rank p-value");
    assert!(h.contains("&lt; 0.0001"), "a tiny p-value");
}

#[test]
fn grid_only_curves_are_points_with_intervals_not_joined() {
    let h = page(false);
    let svg = curves_svg(&h);
    // 3 + 2 shown grid cells.
    assert_eq!(svg.matches("class=\"point\"").count(), 5, "{svg}");
    assert_eq!(svg.matches("class=\"interval\"").count(), 5);
    assert!(!svg.contains("class=\"step\"") && !svg.contains("polyline"));
    assert!(
        !svg.contains("median"),
        "no median without the curve at event times"
    );
    assert!(
        svg.contains(">time (days)</text>"),
        "the axis with the study's time unit"
    );
    // Ticks at the grid and the number at risk under them, as opened.
    let ticks: Vec<&str> = svg
        .split("class=\"tick-label\"")
        .skip(1)
        .map(|s| &s[s.find('>').unwrap() + 1..s.find("</text>").unwrap()])
        .collect();
    assert_eq!(ticks, ["0", "100", "200", "300"]);
    let rows: Vec<Vec<String>> = svg
        .split("<g class=\"risk-row\">")
        .skip(1)
        .map(|g| {
            g.split("class=\"at-risk\"")
                .skip(1)
                .map(|c| c[c.find('>').unwrap() + 1..c.find("</text>").unwrap()].to_string())
                .collect()
        })
        .collect();
    assert_eq!(rows, [vec!["80", "50", "20"], vec!["70", "40", "–"]]);
    // The legend is titled with the group variable; the log-rank p-value is on the plot.
    assert!(svg.contains("class=\"legend-title\"") && svg.contains(">stage</text>"));
    assert!(svg.contains("log-rank p = 0.0121"), "{svg}");
}

#[test]
fn event_time_curves_are_steps_with_medians() {
    let h = page(true);
    let svg = curves_svg(&h);
    let steps: Vec<&str> = svg
        .split("class=\"step\" d=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(steps.len(), 2);
    for d in &steps {
        assert!(
            d.starts_with('M') && d.contains(" H") && d.contains(" V"),
            "{d}"
        );
        assert!(!d.contains(" L"), "no sloped segments: {d}");
    }
    assert_eq!(svg.matches("class=\"band\"").count(), 2);
    assert!(!svg.contains("class=\"point\""));
    // Median: a reaches 0.45 at 250; b never goes below 0.5 while shown (last at 190).
    assert!(
        svg.contains("a: 250") && svg.contains("b: &gt; 190"),
        "{svg}"
    );
    assert!(h.contains("event times</summary>"));
}

#[test]
fn the_proportional_hazards_test_is_a_table_under_the_cox_model() {
    let mut r = cox();
    r["ph_test"] = json!({"transform": "km",
        "terms": [{"term": "age", "chisq": 5.97, "df": 1, "p": 0.0145},
                  {"term": HOSTILE, "chisq": 0.06, "df": 1, "p": 0.80},
                  {"term": "stage", "chisq": 2.46, "df": 3, "p": 0.48}],
        "global": {"term": "GLOBAL", "chisq": 9.12, "df": 5, "p": 0.104}});
    let h = html(&output("Study", vec![analysis("cox", "cox", r)]));
    assert!(h.contains("<h4>Proportional hazards</h4>"), "{h}");
    assert!(h.contains("transform km"));
    assert!(h.contains("<td>stage</td><td>2.460</td><td>3</td>"), "{h}");
    assert!(h.contains("<td>GLOBAL</td><td>9.120</td><td>5</td>"), "{h}");
    assert!(!h.contains(HOSTILE), "term names are escaped");
    // Without the test in the results: no such table.
    let plain = html(&output("Study", vec![analysis("cox", "cox", cox())]));
    assert!(!plain.contains("Proportional hazards"));
}

#[test]
fn the_concordance_is_a_line_under_the_cox_model() {
    let mut r = cox();
    r["concordance"] = json!({"concordance": 0.640329, "se": 0.0266581, "concordant": 27242,
        "discordant": 15291, "tied_x": 49, "tied_y": 111, "tied_xy": 0});
    let h = html(&output("Study", vec![analysis("cox", "cox", r)]));
    assert!(h.contains("<p>Concordance 0.640 (se 0.027)</p>"), "{h}");
    assert!(
        h.contains("among 42582 comparable pairs, 27242 concordant"),
        "{h}"
    );
    // Without it in the results: no such line.
    let plain = html(&output("Study", vec![analysis("cox", "cox", cox())]));
    assert!(!plain.contains("Concordance"));
    // Delayed entry without comparable pairs: C is null (R's NaN), the line says so.
    let mut r = cox();
    r["entry"] = json!("registry.start");
    r["concordance"] = json!({"concordance": null, "se": null, "concordant": 0,
        "discordant": 0, "tied_x": 0, "tied_y": 3, "tied_xy": 0});
    let h = html(&output("Study", vec![analysis("cox", "cox", r)]));
    assert!(
        h.contains("<p>Concordance not defined: no comparable pairs (R reports NaN)</p>"),
        "{h}"
    );
    assert!(
        h.contains("among 0 comparable pairs (both at risk at the shorter time)"),
        "{h}"
    );
    assert!(h.contains("3 pairs of events at one time"), "{h}");
}

#[test]
fn censoring_times_in_the_results_are_marks_on_their_curve() {
    let mut r = km("stage", true);
    // Curve a: one patient censored at 100 (no event then), two at 150 beside its event.
    let mut rows = r["curves"][0]["event_times"].as_array().unwrap().clone();
    for row in rows.iter_mut() {
        row["censored"] = json!(if row["time"] == 150.0 { 2 } else { 0 });
    }
    let mut only = event(100.0, 70, 0.9);
    only["events"] = json!(0);
    only["censored"] = json!(1);
    rows.insert(1, only);
    r["curves"][0]["event_times"] = Value::Array(rows);
    let h = html(&output("Study", vec![analysis("km", "kaplan_meier", r)]));
    let svg = curves_svg(&h);
    let marks: Vec<&str> = svg.split("class=\"censor\"").skip(1).collect();
    assert_eq!(marks.len(), 2, "{svg}");
    assert!(svg.contains("short vertical ticks: censored"), "{svg}");
    assert!(h.contains("<th>censored</th>") && h.contains("4 event or censoring times"));
    // Without censorings in the results: no marks and no note.
    let plain = page(true);
    let svg = curves_svg(&plain);
    assert!(!svg.contains("class=\"censor\"") && !svg.contains("ticks: censored"));
}

#[test]
fn computed_medians_show_with_their_intervals_on_the_plot_and_in_a_table() {
    let mut r = km("stage", false);
    r["curves"][0]["median"] = json!({"median": 270.0, "lower": 210.0, "upper": 306.5,
        "status": ["shown", "shown", "shown"]});
    r["curves"][1]["median"] = json!({"median": null, "lower": 345.0, "upper": null,
        "status": ["suppressed", "shown", "not_reached"]});
    let h = html(&output("Study", vec![analysis("km", "kaplan_meier", r)]));
    let svg = curves_svg(&h);
    assert!(svg.contains("median survival (days, 95% CI):"), "{svg}");
    assert!(svg.contains("a: 270 (210 to 306.5)"), "{svg}");
    assert!(svg.contains("b: suppressed (345 to not reached)"), "{svg}");
    assert!(h.contains("<th>median (95% CI)</th>"), "{h}");
    assert!(h.contains("<td>a</td><td>270 (210 to 306.5)</td>"), "{h}");
    assert!(!h.contains("Median survival needs the curve"), "{h}");
    // Without medians in the results the grid-only caption says how to get them.
    assert!(page(false).contains("or median = true"));
}

#[test]
fn ratios_with_intervals_and_one_forest_mark_per_covariate() {
    let h = page(false);
    let forests: Vec<&str> = h.split("<svg class=\"forest\"").skip(1).collect();
    assert_eq!(forests.len(), 2, "hazard ratios and odds ratios");
    let cox = &forests[0][..forests[0].find("</svg>").unwrap()];
    assert_eq!(cox.matches("class=\"estimate\"").count(), 3);
    assert_eq!(cox.matches("class=\"ci\"").count(), 3);
    // exp(1.1) = 3.004, its interval exp(0.904)–exp(1.296) = 2.469–3.655.
    assert!(h.contains("<td>3.004</td><td>2.469–3.655</td>"), "{h}");
    // Odds ratios without the intercept in the plot: exp(0.4) = 1.492.
    let lg = &forests[1][..forests[1].find("</svg>").unwrap()];
    assert_eq!(lg.matches("class=\"estimate\"").count(), 2);
    assert!(h.contains("<td>1.492</td>") && h.contains("<th>odds ratio</th>"));
}

#[test]
fn table_one_has_n_percent_and_an_overall_column() {
    let h = page(false);
    assert!(
        h.contains("<th>stage = a</th><th>stage = b</th><th>Overall</th>"),
        "{h}"
    );
    assert!(h.contains("<td>60.00 (10.00)</td>") && h.contains("<td>60 [55, 65]</td>"));
    // Overall combined exactly: n 180, mean 64.44, SD from within and between groups.
    assert!(
        h.contains("<td>180</td>") && h.contains("<td>64.44 (11.15)</td>"),
        "{h}"
    );
    // Categorical: n (% of the column), overall from the row totals.
    assert!(h.contains("<td>60 (60.0%)</td><td>50 (62.5%)</td><td>110 (61.1%)</td>"));
}

#[test]
fn study_text_is_escaped() {
    let mut hostile = vec![
        analysis(HOSTILE, "kaplan_meier", km(HOSTILE, true)),
        analysis("x", "logrank", logrank(HOSTILE)),
        analysis("c", "cox", cox()),
        analysis("t", "describe", describe(HOSTILE)),
        analysis("u", "crosstab", crosstab(HOSTILE)),
        analysis("v", "something_new", json!({})),
    ];
    hostile[5].text = HOSTILE.into();
    hostile.push(AnalysisResult {
        error: Some(HOSTILE.into()),
        result: None,
        ..analysis("w", HOSTILE, json!(null))
    });
    let h = html(&output(HOSTILE, hostile));
    assert!(!h.contains("<script"), "{h}");
    assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

/// A cumulative incidence: rising points with pointwise intervals per group and cause, never
/// joined, the number at risk under the axis, and a table per curve (no `<pre>`).
#[test]
fn cumulative_incidence_is_rising_points_with_intervals() {
    let row = |t: f64, shown: bool, n: u64, e: f64| {
        if shown {
            json!({"time": t, "shown": true, "at_risk": n, "events": 10, "estimate": e,
                   "variance": 0.0001, "std_err": 0.01})
        } else {
            json!({"time": t, "shown": false})
        }
    };
    let curve = |g: &str, cause: u32, scale: f64| {
        json!({"group": g, "cause": cause, "rows": [
            row(100.0, true, 80, 0.1 * scale), row(200.0, true, 50, 0.2 * scale),
            row(300.0, g == "a", 20, 0.3 * scale)]})
    };
    let r = json!({"group_column": "arm", "cause_column": "cause", "n": 180, "min_cell": 10,
                   "min_events": 5, "curves": [curve("a", 1, 1.0), curve("a", 2, 0.5),
                   curve("b", 1, 1.2), curve("b", 2, 0.4)],
                   "gray_tests": [{"cause": 1, "statistic": 6.31, "p_value": 0.012, "df": 1}]});
    let h = html(&output("Study", vec![analysis("cif", "cuminc", r)]));
    let svg = curves_svg(&h);
    // 3 + 3 + 2 + 2 shown cells, each a point with its interval, none joined.
    assert_eq!(svg.matches("class=\"point\"").count(), 10, "{svg}");
    assert_eq!(svg.matches("class=\"interval\"").count(), 10);
    assert!(!svg.contains("class=\"step\"") && !svg.contains("polyline"));
    assert!(svg.contains(">cumulative incidence</text>"), "{svg}");
    assert!(svg.contains("a: cause 2") && svg.contains(">arm</text>"));
    assert_eq!(
        h.matches("<table").count(),
        6,
        "linkage, Gray's test, one per curve"
    );
    assert!(svg.contains("Gray, cause 1: p = 0.0120"), "{svg}");
    assert!(!h.contains("<pre>"));
    assert!(h.contains("suppressed"));
}

/// A cumulative incidence at every event time (`at_event_times`): rising steps with bands per
/// group and cause, no points, the number at risk at the grid kept, and each curve's event
/// times in a folded table.
#[test]
fn cumulative_incidence_at_event_times_is_steps_with_bands() {
    let row = |t: f64, n: u64, e: f64| {
        json!({"time": t, "shown": true, "at_risk": n, "events": 10, "estimate": e,
               "variance": 0.0001, "std_err": 0.01})
    };
    let ev = |t: f64, n: u64, e: f64| {
        json!({"time": t, "at_risk": n, "events": 2, "estimate": e, "variance": 0.0004,
               "std_err": 0.02})
    };
    let curve = |g: &str, cause: u32| {
        json!({"group": g, "cause": cause,
               "rows": [row(100.0, 80, 0.1), row(200.0, 50, 0.2)],
               "event_times": [ev(40.0, 95, 0.05), ev(150.0, 60, 0.15), ev(190.0, 52, 0.2)]})
    };
    let r = json!({"group_column": "arm", "cause_column": "cause", "n": 180, "min_cell": 10,
                   "min_events": 5, "curves": [curve("a", 1), curve("a", 2), curve("b", 1),
                   curve("b", 2)]});
    let h = html(&output("Study", vec![analysis("cif", "cuminc", r)]));
    let svg = curves_svg(&h);
    assert_eq!(svg.matches("class=\"step\"").count(), 4, "{svg}");
    assert_eq!(svg.matches("class=\"band\"").count(), 4);
    assert!(!svg.contains("class=\"point\""), "{svg}");
    // The number at risk at the grid is still drawn under the axis.
    assert!(
        svg.contains(">80</text>") && svg.contains(">50</text>"),
        "{svg}"
    );
    assert!(h.contains("at every event time"), "{h}");
    assert_eq!(h.matches("the curve at each of 3 event times").count(), 4);
    assert!(!svg.contains("class=\"censor\""), "{svg}");
    assert!(!h.contains("<pre>"));
}

/// With `censor_marks`, a tick at each time a curve's group had censorings, and the
/// censored in the event-time table.
#[test]
fn cumulative_incidence_censor_marks_are_ticks() {
    let ev = |t: f64, d: u64, c: u64, e: f64| {
        json!({"time": t, "at_risk": 50, "events": d, "censored": c, "estimate": e,
               "variance": 0.0004, "std_err": 0.02})
    };
    let r = json!({"group_column": null, "cause_column": "cause", "n": 50, "min_cell": 10,
                   "min_events": 5, "curves": [{"group": null, "cause": 1,
                   "rows": [{"time": 100.0, "shown": true, "at_risk": 40, "events": 8,
                             "estimate": 0.1, "variance": 0.0001, "std_err": 0.01}],
                   "event_times": [ev(40.0, 2, 0, 0.04), ev(70.0, 0, 3, 0.04),
                                   ev(90.0, 1, 1, 0.06)]}]});
    let h = html(&output("Study", vec![analysis("cif", "cuminc", r)]));
    let svg = curves_svg(&h);
    assert_eq!(svg.matches("class=\"censor\"").count(), 2, "{svg}");
    assert!(svg.contains("short vertical ticks: censored"), "{svg}");
    assert!(
        h.contains("the curve at each of 3 event or censoring times"),
        "{h}"
    );
    assert!(
        h.contains("<th>censored</th>") || h.contains(">censored<"),
        "{h}"
    );
}

/// A restricted mean: a table per group with the interval, suppressed groups said so, and
/// the differences from the first group with p-values (no `<pre>`, text escaped).
#[test]
fn restricted_means_are_tables_with_intervals() {
    let r = json!({"group_column": "arm", "tau": 1460.0, "n": 300, "conf_level": 0.95,
        "min_cell": 10, "min_events": 5,
        "groups": [
            {"group": "a", "shown": true, "n": 150, "events": 40, "rmst": 1100.5,
             "std_err": 20.25, "ci_lower": 1060.8, "ci_upper": 1140.2},
            {"group": "<b>", "shown": false}],
        "differences": []});
    let h = html(&output("Study", vec![analysis("rm", "rmst", r)]));
    assert!(!h.contains("<pre>"));
    assert!(
        h.contains("1100") && h.contains("1061") && h.contains("suppressed"),
        "{h}"
    );
    assert!(h.contains("&lt;b&gt;") && !h.contains("<b>"));
    assert!(h.contains("τ = 1460 days"), "{h}");
}

/// A Cox model with robust standard errors: the table says so, heads the robust column
/// `robust se` and keeps the model-based one beside it; without `robust`, neither.
#[test]
fn robust_cox_table_names_its_standard_errors() {
    let mut r = cox();
    r["robust"] = json!(true);
    for row in r["rows"].as_array_mut().unwrap() {
        row["se_naive"] = json!(0.0875);
    }
    let h = html(&output("Study", vec![analysis("cox", "cox", r)]));
    assert!(h.contains("Robust standard errors"), "{h}");
    assert!(
        h.contains("<th>robust se</th><th>se(coef) naive</th>"),
        "{h}"
    );
    assert_eq!(h.matches("<td>0.08750</td>").count(), 3, "{h}");
    let plain = html(&output("Study", vec![analysis("cox", "cox", cox())]));
    assert!(!plain.contains("Robust standard errors") && !plain.contains("naive"));
    assert!(plain.contains("<th>se(coef)</th><th>z</th>"), "{plain}");
}

/// Delayed entry is noted on Kaplan–Meier and Cox results that have an `entry` column, and
/// nowhere else.
#[test]
fn delayed_entry_is_noted() {
    let mut r = cox();
    r["entry"] = json!("registry.start");
    let h = html(&output("Study", vec![analysis("cox", "cox", r)]));
    assert!(
        h.contains("Delayed entry: a row is at risk only after its entry time (registry.start)"),
        "{h}"
    );
    let plain = html(&output("Study", vec![analysis("cox", "cox", cox())]));
    assert!(!plain.contains("Delayed entry"));
}

#[test]
fn the_fine_gray_model_is_a_table_and_forest_plot_like_cox() {
    let mut r = cox();
    let obj = r.as_object_mut().unwrap();
    obj.remove("ties");
    obj.remove("lr_p");
    obj.insert("cause".into(), json!(2));
    let h = html(&output("Study", vec![analysis("fg", "finegray", r)]));
    assert!(
        h.contains("<h3>Fine–Gray subdistribution hazards</h3>"),
        "{h}"
    );
    assert!(h.contains("Cause 2 (the others compete); 180 observations, 50 events of the cause"));
    assert!(h.contains("<th>subdistribution hazard ratio</th>"), "{h}");
    assert!(h.contains("Subdistribution hazard ratios with 95% confidence intervals"));
    // Escaped as every name: the hostile covariate name never reaches the page raw.
    assert!(!h.contains(HOSTILE));
    assert!(h.contains("crr"));
}

/// An AUC: a table (not `<pre>`) with the AUC, its standard error, the interval headed by
/// its level, and the column names escaped.
#[test]
fn auc_is_a_table_with_its_interval() {
    let r = json!({"outcome": "gp.<y>", "score": "registry.risk", "n": 297, "cases": 122,
        "controls": 175, "auc": 0.724871, "se": 0.029666, "conf_level": 0.9,
        "lower": 0.676075, "upper": 0.773667});
    let h = html(&output("Study", vec![analysis("disc", "auc", r.clone())]));
    assert!(!h.contains("<pre>"), "{h}");
    assert!(h.contains("<table"), "{h}");
    assert!(
        h.contains("0.7249") && h.contains("0.6761") && h.contains("90% CI"),
        "{h}"
    );
    assert!(h.contains("gp.&lt;y&gt;") && !h.contains("gp.<y>"), "{h}");
    assert!(!h.contains("Calibration"), "{h}");
    // With calibration: its table and the Brier score.
    let mut r = r;
    r["calibration"] = json!({"brier": 0.230186,
        "intercept": {"name": "Intercept", "coef": -0.352732, "std_err": 0.1121,
                      "ci_low": -0.5372, "ci_high": -0.1683},
        "slope": {"name": "slope", "coef": 0.593971, "std_err": 0.0812,
                  "ci_low": 0.4604, "ci_high": 0.7275},
        "table": [{"n": 40, "shown": true, "predicted": 0.0812, "events": 9, "observed": 0.225},
                  {"n": 40, "shown": false}]});
    let h = html(&output("Study", vec![analysis("disc", "auc", r)]));
    assert!(
        h.contains("Calibration") && h.contains("0.2302") && h.contains("0.5940"),
        "{h}"
    );
    assert!(
        h.contains("0.0812") && h.contains("suppressed (fewer than min_cell"),
        "{h}"
    );
}

/// A logistic model with `holdout`: the fit's table, then the validation's sizes and the
/// held-out AUC and calibration in auc's tables.
#[test]
fn a_held_out_validation_follows_the_logistic_table() {
    let h = html(&output(
        "Study",
        vec![analysis("diabetes", "logistic", logistic())],
    ));
    assert!(!h.contains("held-out"), "{h}");
    let mut r = logistic();
    r["validation"] = json!({"holdout": 0.25, "n_train": 135, "n_test": 45,
        "test": {"outcome": "diabetes", "score": "predicted", "n": 45, "cases": 20,
                 "controls": 25, "auc": 0.712345, "se": 0.0789, "conf_level": 0.95,
                 "lower": 0.5577, "upper": 0.8670,
                 "calibration": {"brier": 0.2101,
                    "intercept": {"name": "intercept", "coef": 0.11, "std_err": 0.3,
                                  "ci_low": -0.48, "ci_high": 0.7},
                    "slope": {"name": "slope", "coef": 0.8123, "std_err": 0.2,
                              "ci_low": 0.42, "ci_high": 1.2},
                    "table": [{"n": 23, "shown": true, "predicted": 0.31, "events": 7,
                               "observed": 0.3043}, {"n": 22, "shown": false}]}}});
    let h = html(&output("Study", vec![analysis("diabetes", "logistic", r)]));
    assert!(
        h.contains("held-out") && h.contains("135") && h.contains("0.7123"),
        "{h}"
    );
    assert!(
        h.contains("Calibration") && h.contains("0.8123") && h.contains("suppressed"),
        "{h}"
    );
    assert!(h.find("odds ratio") < h.find("0.7123"), "{h}");
}

#[test]
fn the_elastic_net_is_a_coefficient_table_and_its_cv_curve() {
    let r = json!({
        "outcome": "registry.y", "family": "gaussian", "alpha": 1.0, "nobs": 300,
        "fold_rows": [60, 60, 60, 60, 60], "sweeps": 30,
        "names": ["intercept", HOSTILE, "gp.x2"],
        "lambda": [1.0, 0.1, 0.01], "path": [[1.5, 0.0, 0.0], [1.4, 0.5, 0.0], [1.3, 0.9, 0.2]],
        "nonzero": [0, 1, 2], "cvm": [4.0, 3.0, 3.2], "cvsd": [0.3, 0.25, 0.3],
        "index_min": 1, "lambda_min": 0.1, "index_1se": 1, "lambda_1se": 0.1,
        "coef_min": [1.4, 0.5, 0.0], "coef_1se": [1.4, 0.5, 0.0]
    });
    let mut binomial = r.clone();
    let h = html(&output("Study", vec![analysis("en", "elasticnet", r)]));
    assert!(
        h.contains("5-fold cross-validation (mean squared error)"),
        "{h}"
    );
    assert!(h.contains("linear model"), "{h}");
    assert!(h.contains("<th>coef (lambda.min)</th>"), "{h}");
    assert!(h.contains("lambda.min, lambda.1se"), "{h}");
    assert!(h.contains("<td>gp.x2</td>"), "{h}");
    assert!(!h.contains(HOSTILE));
    // The logistic elastic net names its deviance.
    binomial["family"] = json!("binomial");
    binomial["steps"] = json!(2);
    let h = html(&output(
        "Study",
        vec![analysis("en", "elasticnet", binomial.clone())],
    ));
    assert!(h.contains("logistic model"), "{h}");
    assert!(
        h.contains("5-fold cross-validation (binomial deviance)"),
        "{h}"
    );
    // The Cox elastic net names its deviance, or the C-index it was chosen by.
    let mut cox = binomial.clone();
    cox["family"] = json!("cox");
    let h = html(&output(
        "Study",
        vec![analysis("en", "elasticnet", cox.clone())],
    ));
    assert!(h.contains("Cox model"), "{h}");
    assert!(h.contains("(partial-likelihood deviance)"), "{h}");
    cox["type_measure"] = json!("C");
    let h = html(&output("Study", vec![analysis("en", "elasticnet", cox)]));
    assert!(h.contains("(Harrell's C-index, the largest chosen)"), "{h}");
}

/// Boosted trees: the parameters and sizes, the held-out AUC's table, and with the model
/// one row per tree (splits with escaped covariates, "—" for a node that does not split).
#[test]
fn boosted_trees_show_the_validation_and_the_model() {
    let test = json!({"outcome": "gp.y", "score": "boosted_trees_score", "n": 900,
        "cases": 400, "controls": 500, "auc": 0.813514, "se": 0.0141, "conf_level": 0.95,
        "lower": 0.7859, "upper": 0.8411});
    let mut r = json!({"outcome": "gp.y", "columns": ["gp.<x1>", "registry.x2"],
        "trees": 2, "depth": 1, "learning_rate": 0.1, "lambda": 1.0,
        "min_child_weight": 1.0, "bins": 32, "holdout": 0.3, "n_train": 2100,
        "n_test": 900, "test": test});
    let h = html(&output(
        "Study",
        vec![analysis("gb", "boosted_trees", r.clone())],
    ));
    assert!(!h.contains("<pre>") && h.contains("<table"), "{h}");
    assert!(
        h.contains("0.8135") && h.contains("2100") && h.contains("900"),
        "{h}"
    );
    assert!(h.contains("gp.&lt;x1&gt;") && !h.contains("gp.<x1>"), "{h}");
    assert!(!h.contains("base score"), "{h}");
    r["model"] = json!({"base_score": -0.2231, "trees": [
        {"nodes": [{"split": true, "covariate": "gp.<x1>", "threshold": 1.25}],
         "leaves": [-0.0312, 0.0456]},
        {"nodes": [{"split": false, "covariate": "", "threshold": 0.0}],
         "leaves": [0.0001, 0.0]}]});
    let h = html(&output("Study", vec![analysis("gb", "boosted_trees", r)]));
    assert!(h.contains("base score") && h.contains("-0.2231"), "{h}");
    assert!(
        h.contains("gp.&lt;x1&gt; ≥ 1.25") && h.contains("0.0456"),
        "{h}"
    );
    assert!(h.contains("<td>—</td>"), "{h}");
}

/// Boosted trees with `objective = "squared_error"`: RMSE and R² instead of the AUC, the
/// base score named as the training mean.
#[test]
fn boosted_trees_for_a_continuous_outcome_show_rmse_and_r2() {
    let r = json!({"outcome": "gp.sbp", "objective": "squared_error", "columns": ["gp.x1"],
        "trees": 2, "depth": 1, "learning_rate": 0.1, "lambda": 1.0,
        "min_child_weight": 1.0, "bins": 32, "holdout": 0.3, "n_train": 2100,
        "n_test": 900, "test": {"n": 900, "rmse": 1.232531, "r2": 0.774072},
        "model": {"base_score": 11.5479, "trees": [
            {"nodes": [{"split": true, "covariate": "gp.x1", "threshold": 1.25}],
             "leaves": [-0.0312, 0.0456]}]}});
    let h = html(&output("Study", vec![analysis("gb", "boosted_trees", r)]));
    assert!(h.contains("RMSE") && h.contains("R²"), "{h}");
    assert!(
        h.contains("<td>1.233</td>") && h.contains("<td>0.7741</td>"),
        "{h}"
    );
    assert!(!h.contains("AUC"), "{h}");
    assert!(
        h.contains("the training mean") && h.contains("11.55"),
        "{h}"
    );
}
