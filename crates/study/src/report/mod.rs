//! The results of a study as one self-contained HTML page (inline CSS and SVG; no scripts,
//! no external files), for a recipient to open or print:
//!
//! - the study and its linkage, then each analysis as HTML tables;
//! - Kaplan–Meier curves ([`survival`], drawn by [`curves`]): steps with confidence bands
//!   at event times, or points with interval bars at a grid; number at risk under the axis;
//!   medians and a log-rank p-value on the plot where the results allow them;
//! - hazard ratios (Cox) and odds ratios (logistic) with intervals, as tables and forest
//!   plots ([`forest`], [`models`]);
//! - a "table 1" from describe and contingency-table results ([`tables`]).
//!
//! Only opened results are shown; suppressed cells stay suppressed. Every text that comes
//! from the study (titles, names, columns, levels) goes through [`escape`].

pub mod curves;
pub mod enet;
pub mod forest;
pub mod models;
pub mod survival;
pub mod tables;
pub mod text;

#[cfg(test)]
mod tests;

use std::fmt::Write;

pub use text::escape;

use crate::run::StudyOutput;
use tables::Table;

/// The page's stylesheet: screen, then print (A4, no margins wasted, figures and tables
/// kept whole, colours kept).
const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;\
max-width:64rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.4}\
h1{font-size:1.6rem}h2{margin-top:2.5rem;border-bottom:2px solid #ddd;padding-bottom:.2rem}\
table{border-collapse:collapse;margin:.5rem 0 1.2rem;font-variant-numeric:tabular-nums}\
td,th{border-bottom:1px solid #ddd;padding:.2rem .7rem;text-align:right;vertical-align:top;\
white-space:nowrap}\
thead th{background:#f2f2f2;border-bottom:2px solid #999}\
td:first-child,th:first-child{text-align:left}\
tr.section th{text-align:left;background:#fafafa;font-weight:600}\
.muted{color:#666}.error{color:#a00}.result{font-size:1.05rem}\
figure{margin:1rem 0}figcaption{color:#555;font-size:.9rem;max-width:48rem}\
svg{max-width:100%;height:auto}details{margin:.5rem 0 1rem}summary{cursor:pointer;color:#555}\
pre{background:#f8f8f8;padding:.8rem;overflow-x:auto}\
@media print{@page{size:A4;margin:15mm}\
body{max-width:none;margin:0;padding:0;font-size:10pt;color:#000}\
h2{break-after:avoid;page-break-after:avoid;margin-top:1.2rem}\
figure,table,svg{break-inside:avoid;page-break-inside:avoid}\
section.analysis{break-before:auto}thead{display:table-header-group}\
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}\
details>summary{display:none}.muted{color:#444}}";

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
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>{STYLE}</style></head><body>\n<h1>{t}</h1>\n\
         <p class=\"muted\">study <code>{id}</code>; results computed with secure multi-party \
         computation on the linked data; only the values below were revealed.</p>\n",
        t = escape(&title),
        id = escape(&out.study.id),
    );
    linkage(&mut h, out);
    for a in &out.analyses {
        let _ = writeln!(
            h,
            "<section class=\"analysis\" id=\"{id}\">\n<h2>{name} <span class=\"muted\">({kind})</span></h2>\n\
             <p class=\"muted\">for {to}</p>",
            id = escape(&a.name),
            name = escape(&a.name),
            kind = escape(&a.kind),
            to = escape(&a.recipients.join(", "))
        );
        match (&a.result, &a.error) {
            (Some(r), _) => match a.kind.as_str() {
                "kaplan_meier" => {
                    survival::kaplan_meier(&mut h, r, &out.analyses, out.study.time_unit.as_deref())
                }
                "cuminc" => survival::cuminc(&mut h, r, out.study.time_unit.as_deref()),
                "rmst" => survival::rmst(&mut h, r, out.study.time_unit.as_deref()),
                "relsurv" => survival::relsurv(&mut h, r, out.study.time_unit.as_deref()),
                "logrank" => survival::logrank(&mut h, r),
                "cox" => survival::cox(&mut h, r),
                "finegray" => survival::finegray(&mut h, r),
                "ols" => models::ols(&mut h, r),
                "logistic" => models::logistic(&mut h, r),
                "auc" => models::auc(&mut h, r),
                "boosted_trees" => models::boosted_trees(&mut h, r),
                "elasticnet" => enet::elasticnet(&mut h, r),
                "describe" => tables::describe(&mut h, r, &out.analyses),
                "crosstab" => tables::crosstab(&mut h, r),
                "correlation" => tables::correlation(&mut h, r),
                // A kind this page does not know yet: its text as written by the analysis.
                _ => {
                    let _ = writeln!(h, "<pre>{}</pre>", escape(&a.text));
                }
            },
            (None, Some(e)) => {
                let _ = writeln!(h, "<p class=\"error\">no result: {}</p>", escape(e));
            }
            (None, None) => {}
        }
        h.push_str("</section>\n");
    }
    h.push_str("</body></html>\n");
    h
}

fn linkage(h: &mut String, out: &StudyOutput) {
    h.push_str("<h2>Linkage</h2>\n");
    let mut t = Table::new(&["data party", "rows"]);
    for r in &out.linkage.rows {
        t.row(vec![escape(&r.party), escape(&r.rows.to_string())]);
    }
    if out.linkage.rows_withheld {
        t.row_note(
            "",
            "rows per data station withheld (see [disclosure] counts)",
        );
    }
    t.row(vec![
        "<strong>linked rows</strong>".into(),
        format!(
            "<strong>{}</strong>",
            escape(&out.linkage.intersection.to_string())
        ),
    ]);
    if let Some(k) = &out.linkage.kept {
        t.row_note(
            "",
            &format!(
                "every row of {} kept; the other stations' columns are missing where they hold \
                 no record of the person",
                k
            ),
        );
    }
    h.push_str(&t.html());
}
