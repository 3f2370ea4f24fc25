//! HTML tables: a small builder, and the descriptive analyses as tables a clinician reads
//! (a "table 1": mean (SD) and median [IQR] per group with an overall column; contingency
//! tables as n (%) per level with an overall column; the correlation matrix).

use std::fmt::Write;

use serde_json::Value;

use super::text::{escape, est, est_of, p_is, plain, tick};
use crate::run::AnalysisResult;

/// A table whose cells are HTML already (escaped by the caller).
pub struct Table {
    head: Vec<String>,
    rows: Vec<String>,
}

impl Table {
    /// A table with these column headers (plain text, escaped here).
    pub fn new(head: &[&str]) -> Table {
        Table {
            head: head.iter().map(|h| escape(h)).collect(),
            rows: Vec::new(),
        }
    }

    /// Replaces one header (plain text).
    pub fn set_header(&mut self, i: usize, text: &str) {
        if let Some(h) = self.head.get_mut(i) {
            *h = escape(text);
        }
    }

    /// A row of cells (HTML).
    pub fn row(&mut self, cells: Vec<String>) {
        let mut r = String::from("<tr>");
        for c in cells {
            let _ = write!(r, "<td>{c}</td>");
        }
        r.push_str("</tr>");
        self.rows.push(r);
    }

    /// A row with its first cell (HTML) and one note (plain text) across the others.
    pub fn row_note(&mut self, first: &str, note: &str) {
        self.rows.push(format!(
            "<tr><td>{first}</td><td colspan=\"{}\" class=\"muted\">{}</td></tr>",
            self.head.len().saturating_sub(1).max(1),
            escape(note)
        ));
    }

    /// A row heading a block of rows (HTML), across the whole table.
    pub fn section(&mut self, title: &str) {
        self.rows.push(format!(
            "<tr class=\"section\"><th colspan=\"{}\">{title}</th></tr>",
            self.head.len()
        ));
    }

    /// The table.
    pub fn html(&self) -> String {
        let mut s = String::from("<table>\n<thead><tr>");
        for h in &self.head {
            let _ = write!(s, "<th>{h}</th>");
        }
        s.push_str("</tr></thead>\n<tbody>\n");
        for r in &self.rows {
            s.push_str(r);
            s.push('\n');
        }
        s.push_str("</tbody></table>\n");
        s
    }
}

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// One column's cell of a table 1 from a describe summary: count, mean (SD), and median
/// [Q1, Q3] when the quantiles 0.25, 0.5 and 0.75 were asked.
struct Cell {
    count: Option<u64>,
    mean: Option<f64>,
    sd: Option<f64>,
    iqr: Option<[Option<f64>; 3]>,
    missing: Option<u64>,
    suppressed: bool,
}

fn cell(s: &Value, quartiles: Option<[usize; 3]>) -> Cell {
    let q = |i: usize| s["quantiles"].get(i).and_then(f);
    Cell {
        count: s["count"].as_u64(),
        mean: f(&s["mean"]),
        sd: f(&s["sd"]),
        iqr: quartiles.map(|[a, b, c]| [q(a), q(b), q(c)]),
        missing: s["missing"].as_u64(),
        suppressed: s["suppressed"] == true,
    }
}

/// The overall cell of a column from its groups' cells, exactly: counts add up; the mean is
/// the count-weighted mean; the variance is the within-group plus between-group sums of
/// squares over `n - 1`. Needs every group shown; quantiles cannot be combined.
fn combine(cells: &[Cell]) -> Option<Cell> {
    let mut n = 0u64;
    let mut sum = 0.0;
    for c in cells {
        if c.suppressed {
            return None;
        }
        let k = c.count?;
        n += k;
        sum += k as f64 * c.mean?;
    }
    if n < 2 {
        return None;
    }
    let mean = sum / n as f64;
    let mut ss = 0.0;
    for c in cells {
        let k = c.count? as f64;
        let sd = if k > 1.0 { c.sd? } else { 0.0 };
        ss += (k - 1.0) * sd * sd + k * (c.mean? - mean).powi(2);
    }
    Some(Cell {
        count: Some(n),
        mean: Some(mean),
        sd: Some((ss / (n as f64 - 1.0)).sqrt()),
        iqr: None,
        missing: None,
        suppressed: false,
    })
}

/// A describe analysis as a table 1: one column per group level and an overall column
/// (from the same columns described without a group elsewhere in the study, else combined
/// exactly from the groups: counts, mean and SD, not quantiles), then the categorical
/// variables of the study's contingency tables by the same group as n (%).
pub fn describe(h: &mut String, r: &Value, all: &[AnalysisResult]) {
    let summaries: Vec<&Value> = r["summaries"].as_array().into_iter().flatten().collect();
    let quantiles: Vec<f64> = r["quantiles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(f)
        .collect();
    let find = |q: f64| quantiles.iter().position(|x| (x - q).abs() < 1e-9);
    let quartiles = match (find(0.25), find(0.5), find(0.75)) {
        (Some(a), Some(b), Some(c)) => Some([a, b, c]),
        _ => None,
    };
    let mut columns: Vec<&str> = Vec::new();
    let mut levels: Vec<Option<&str>> = Vec::new();
    for s in &summaries {
        let c = s["column"].as_str().unwrap_or("");
        if !columns.contains(&c) {
            columns.push(c);
        }
        let l = s["level"].as_str();
        if !levels.contains(&l) {
            levels.push(l);
        }
    }
    let group = r["group"].as_str();
    let grouped = group.is_some();
    // The same columns described without a group: the overall column.
    let overall_from = |column: &str| -> Option<Cell> {
        all.iter().find_map(|a| {
            let res = a.result.as_ref()?;
            if a.kind != "describe" || !res["group"].is_null() {
                return None;
            }
            let qs: Vec<f64> = res["quantiles"].as_array()?.iter().filter_map(f).collect();
            let find = |q: f64| qs.iter().position(|x| (x - q).abs() < 1e-9);
            let quart = match (find(0.25), find(0.5), find(0.75)) {
                (Some(a), Some(b), Some(c)) => Some([a, b, c]),
                _ => None,
            };
            res["summaries"]
                .as_array()?
                .iter()
                .find(|s| s["column"] == column && s["level"].is_null())
                .map(|s| cell(s, quart))
        })
    };
    let mut head: Vec<String> = Vec::new();
    head.push(String::new());
    for l in &levels {
        head.push(match (group, l) {
            (Some(g), Some(l)) => format!("{g} = {l}"),
            _ => "all".to_string(),
        });
    }
    if grouped {
        head.push("Overall".into());
    }
    let head_refs: Vec<&str> = head.iter().map(String::as_str).collect();
    let mut t = Table::new(&head_refs);
    let mut combined_note = false;
    for column in &columns {
        let mut cells: Vec<Cell> = levels
            .iter()
            .map(|l| {
                summaries
                    .iter()
                    .find(|s| s["column"] == *column && s["level"].as_str() == *l)
                    .map_or(
                        Cell {
                            count: None,
                            mean: None,
                            sd: None,
                            iqr: None,
                            missing: None,
                            suppressed: true,
                        },
                        |s| cell(s, quartiles),
                    )
            })
            .collect();
        if grouped {
            let o = overall_from(column).or_else(|| {
                let c = combine(&cells);
                combined_note |= c.is_some();
                c
            });
            cells.push(o.unwrap_or(Cell {
                count: None,
                mean: None,
                sd: None,
                iqr: None,
                missing: None,
                suppressed: true,
            }));
        }
        t.section(&escape(column));
        let line = |label: &str, g: &dyn Fn(&Cell) -> String| -> Vec<String> {
            std::iter::once(format!("&nbsp;&nbsp;{}", escape(label)))
                .chain(cells.iter().map(|c| {
                    if c.suppressed && c.count.is_none() {
                        "<span class=\"muted\">suppressed</span>".to_string()
                    } else {
                        g(c)
                    }
                }))
                .collect()
        };
        t.row(line("n", &|c| {
            c.count.map_or("—".into(), |n| n.to_string())
        }));
        t.row(line("mean (SD)", &|c| match (c.mean, c.sd) {
            (Some(m), Some(s)) => format!("{} ({})", est(m), est(s)),
            (Some(m), None) => est(m),
            _ => "—".into(),
        }));
        if quartiles.is_some() {
            t.row(line("median [Q1, Q3]", &|c| match c.iqr {
                Some([a, b, c]) => format!(
                    "{} [{}, {}]",
                    b.map_or("—".into(), tick),
                    a.map_or("—".into(), tick),
                    c.map_or("—".into(), tick)
                ),
                None => "—".into(),
            }));
        }
        if cells.iter().any(|c| c.missing.is_some()) {
            t.row(line("missing", &|c| {
                c.missing.map_or("—".into(), |n| n.to_string())
            }));
        }
    }
    // Categorical variables: the study's contingency tables of a column by this group.
    let mut merged = Vec::new();
    if let Some(g) = group {
        for a in all {
            let Some(x) = a.result.as_ref().filter(|_| a.kind == "crosstab") else {
                continue;
            };
            let same_levels = x["column_levels"]
                .as_array()
                .is_some_and(|cl| cl.iter().map(|v| v.as_str()).eq(levels.iter().copied()));
            if x["columns"] == g && same_levels {
                categorical_rows(&mut t, x, "&nbsp;&nbsp;");
                merged.push(a.name.clone());
            }
        }
    }
    h.push_str("<p class=\"muted\">Table 1.</p>\n");
    h.push_str(&t.html());
    let mut notes = Vec::new();
    if combined_note {
        notes.push(
            "The overall column's n, mean and SD are combined exactly from the groups \
             (quantiles cannot be: describe the columns without a group for them)."
                .to_string(),
        );
    }
    if !merged.is_empty() {
        notes.push(format!(
            "Categorical variables as n (% of the column) from the contingency tables {}.",
            merged.join(", ")
        ));
    } else {
        notes.push(
            "Categorical variables appear here as n (%) when the study has contingency \
             tables (crosstab) of them by the same group."
                .to_string(),
        );
    }
    notes.push(format!(
        "Cells resting on fewer than {} rows are suppressed.",
        plain(&r["min_cell"])
    ));
    let _ = writeln!(h, "<p class=\"muted\">{}</p>", escape(&notes.join(" ")));
}

/// The rows of one contingency table as a block of n (%) rows: the row variable's levels,
/// per column level and overall. Percentages need the totals, which are opened only when no
/// cell is suppressed.
fn categorical_rows(t: &mut Table, x: &Value, indent: &str) {
    let counts: Vec<Vec<Option<u64>>> = x["counts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            r.as_array()
                .into_iter()
                .flatten()
                .map(Value::as_u64)
                .collect()
        })
        .collect();
    let col_totals: Option<Vec<u64>> = x["column_totals"]
        .as_array()
        .map(|v| v.iter().filter_map(Value::as_u64).collect());
    let row_totals: Option<Vec<u64>> = x["row_totals"]
        .as_array()
        .map(|v| v.iter().filter_map(Value::as_u64).collect());
    let total = x["total"].as_u64();
    let min_cell = plain(&x["min_cell"]);
    let pct = |n: u64, d: Option<u64>| match d {
        Some(d) if d > 0 => format!("{n} ({:.1}%)", 100.0 * n as f64 / d as f64),
        _ => n.to_string(),
    };
    let title = match x["p_value"].as_f64() {
        Some(p) => format!(
            "{} <span class=\"muted\">(χ² {})</span>",
            escape(x["rows"].as_str().unwrap_or("")),
            escape(&p_is(p))
        ),
        None => escape(x["rows"].as_str().unwrap_or("")),
    };
    t.section(&title);
    for (i, level) in x["row_levels"].as_array().into_iter().flatten().enumerate() {
        let mut cells = vec![format!("{indent}{}", plain(level))];
        for (j, c) in counts.get(i).into_iter().flatten().enumerate() {
            cells.push(match c {
                Some(n) => pct(*n, col_totals.as_ref().and_then(|v| v.get(j).copied())),
                None => format!("<span class=\"muted\">&lt;{min_cell}</span>"),
            });
        }
        cells.push(match row_totals.as_ref().and_then(|v| v.get(i)) {
            Some(n) => pct(*n, total),
            None => "—".into(),
        });
        t.row(cells);
    }
}

/// A contingency table: n (% of the column) per level, with an overall column, and
/// Pearson's chi-square test.
pub fn crosstab(h: &mut String, x: &Value) {
    let cols = x["columns"].as_str().unwrap_or("");
    let mut head = vec![String::new()];
    for l in x["column_levels"].as_array().into_iter().flatten() {
        head.push(format!("{cols} = {}", l.as_str().unwrap_or("")));
    }
    head.push("Overall".into());
    let refs: Vec<&str> = head.iter().map(String::as_str).collect();
    let mut t = Table::new(&refs);
    categorical_rows(&mut t, x, "&nbsp;&nbsp;");
    if let Some(ct) = x["column_totals"].as_array() {
        let mut cells = vec!["total".to_string()];
        cells.extend(ct.iter().map(plain));
        cells.push(plain(&x["total"]));
        t.row(cells);
    }
    h.push_str(&t.html());
    let mut note = format!(
        "n (% of the column); Pearson χ² = {} on {} df, {}.",
        est_of(&x["chi2"]),
        plain(&x["dof"]),
        x["p_value"]
            .as_f64()
            .map_or_else(|| "no p-value".into(), p_is)
    );
    if x["total"].is_null() {
        note.push_str(&format!(
            " Cells below {} are suppressed, so totals and percentages are not shown.",
            plain(&x["min_cell"])
        ));
    }
    let _ = writeln!(h, "<p class=\"muted\">{}</p>", escape(&note));
}

/// A correlation matrix.
pub fn correlation(h: &mut String, r: &Value) {
    let cols: Vec<String> = r["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(plain)
        .collect();
    let mut head = vec![String::new()];
    head.extend(
        r["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c.as_str().unwrap_or("").to_string()),
    );
    let refs: Vec<&str> = head.iter().map(String::as_str).collect();
    let mut t = Table::new(&refs);
    for (c, row) in cols.iter().zip(r["r"].as_array().into_iter().flatten()) {
        let mut cells = vec![c.clone()];
        cells.extend(row.as_array().into_iter().flatten().map(est_of));
        t.row(cells);
    }
    h.push_str(&t.html());
}
