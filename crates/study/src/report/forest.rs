//! A forest plot: one ratio (hazard or odds ratio) per row with its confidence interval, on
//! a log scale with a reference line at 1, and the values written beside it.

use std::fmt::Write;

use super::text::{escape, tick, with_ci};

/// One row of the plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Ratio {
    /// The covariate.
    pub label: String,
    /// The ratio.
    pub estimate: f64,
    /// Lower confidence bound.
    pub lower: Option<f64>,
    /// Upper confidence bound.
    pub upper: Option<f64>,
}

const WIDTH: f64 = 760.0;
const LABELS: f64 = 210.0;
const VALUES: f64 = 190.0;
const TOP: f64 = 26.0;
const ROW: f64 = 22.0;

fn usable(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// Ticks on a log scale between `lo` and `hi`: the finest of these sets of multiples of
/// powers of ten that gives at most nine ticks.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let sets: [&[f64]; 4] = [
        &[1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5],
        &[1.0, 2.0, 5.0],
        &[1.0, 3.0],
        &[1.0],
    ];
    let mut ticks = Vec::new();
    for set in sets {
        ticks.clear();
        for e in (lo.log10().floor() as i32)..=(hi.log10().ceil() as i32) {
            for m in set {
                let v = m * 10f64.powi(e);
                if v >= lo * 0.999 && v <= hi * 1.001 {
                    ticks.push(v);
                }
            }
        }
        if ticks.len() <= 9 {
            break;
        }
    }
    ticks
}

/// The plot as one `<svg>` element (`what`: "hazard ratio", "odds ratio").
pub fn svg(rows: &[Ratio], what: &str, conf_level: f64) -> String {
    let mut lo = 1.0f64;
    let mut hi = 1.0f64;
    for r in rows {
        for v in [Some(r.estimate), r.lower, r.upper].into_iter().flatten() {
            if usable(v) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    // A little room at both ends, on the log scale.
    let (llo, lhi) = (lo.ln() - 0.1, hi.ln() + 0.1);
    let width = WIDTH - LABELS - VALUES;
    let x = |v: f64| LABELS + width * ((v.ln() - llo) / (lhi - llo)).clamp(0.0, 1.0);
    let bottom = TOP + ROW * rows.len() as f64;
    let total = bottom + 44.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"forest\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" \
         height=\"{total}\" viewBox=\"0 0 {WIDTH} {total}\" role=\"img\" \
         aria-label=\"forest plot of {what}s\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(
        s,
        "<text x=\"{vx}\" y=\"14\" font-weight=\"bold\">{} ({:.0}% CI)</text>",
        escape(what),
        conf_level * 100.0,
        vx = LABELS + width + 12.0
    );
    for v in log_ticks(lo.min(1.0) * (-0.1f64).exp(), hi * 0.1f64.exp()) {
        let _ = writeln!(
            s,
            "<line x1=\"{tx:.1}\" x2=\"{tx:.1}\" y1=\"{TOP}\" y2=\"{bottom}\" stroke=\"#eee\"/>\
             <line x1=\"{tx:.1}\" x2=\"{tx:.1}\" y1=\"{bottom}\" y2=\"{b2}\" stroke=\"#333\"/>\
             <text x=\"{tx:.1}\" y=\"{ty}\" text-anchor=\"middle\">{}</text>",
            tick(v),
            tx = x(v),
            b2 = bottom + 5.0,
            ty = bottom + 18.0
        );
    }
    let _ = writeln!(
        s,
        "<line class=\"reference\" x1=\"{rx:.1}\" x2=\"{rx:.1}\" y1=\"{t}\" y2=\"{bottom}\" \
         stroke=\"#333\" stroke-dasharray=\"4 3\"/>\
         <line x1=\"{LABELS}\" x2=\"{r}\" y1=\"{bottom}\" y2=\"{bottom}\" stroke=\"#333\"/>\
         <text x=\"{cx}\" y=\"{ly}\" text-anchor=\"middle\">{} (log scale)</text>",
        escape(what),
        rx = x(1.0),
        t = TOP - 6.0,
        r = LABELS + width,
        cx = LABELS + width / 2.0,
        ly = bottom + 36.0
    );
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + ROW * (i as f64 + 0.5);
        let _ = write!(
            s,
            "<g class=\"forest-row\"><text x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\">{}</text>",
            escape(&r.label),
            lx = LABELS - 10.0,
            ty = y + 4.0
        );
        if let (Some(a), Some(b)) = (r.lower, r.upper) {
            if usable(a) && usable(b) {
                let _ = write!(
                    s,
                    "<line class=\"ci\" x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" \
                     stroke=\"#0072B2\" stroke-width=\"1.5\"/>",
                    x(a),
                    x(b)
                );
            }
        }
        if usable(r.estimate) {
            let _ = write!(
                s,
                "<rect class=\"estimate\" x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" fill=\"#0072B2\"/>",
                x(r.estimate) - 4.0,
                y - 4.0
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{vx}\" y=\"{ty:.1}\">{}</text></g>",
            escape(&with_ci(r.estimate, r.lower, r.upper)),
            vx = LABELS + width + 12.0,
            ty = y + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mark_per_row_on_a_log_scale() {
        let rows = vec![
            Ratio {
                label: "age".into(),
                estimate: 1.02,
                lower: Some(1.01),
                upper: Some(1.03),
            },
            Ratio {
                label: "<stage>".into(),
                estimate: 3.0,
                lower: Some(2.0),
                upper: Some(4.5),
            },
        ];
        let s = svg(&rows, "hazard ratio", 0.95);
        assert_eq!(s.matches("class=\"estimate\"").count(), 2);
        assert_eq!(s.matches("class=\"ci\"").count(), 2);
        assert!(s.contains("class=\"reference\"") && s.contains("&lt;stage&gt;"));
        assert!(s.contains("3.000 (2.000–4.500)"));
        assert_eq!(
            log_ticks(0.9, 5.0),
            [1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0]
        );
        assert_eq!(log_ticks(0.3, 12.0), [0.5, 1.0, 2.0, 5.0, 10.0]);
    }
}
