//! Survival-type curves as an SVG plot: decreasing (survival) or increasing (cumulative
//! incidence) step functions with their confidence bands, or, where only a grid of times
//! was opened, points with interval bars and no connecting lines (straight lines between
//! grid points are not a Kaplan–Meier estimate). Optional censoring marks, a legend titled
//! with the group variable, notes (medians, test p-values) beside the plot, and a
//! number-at-risk table under the time axis, aligned with its ticks.
//!
//! The plot knows nothing of any analysis: callers hand it a list of points per group.

use std::fmt::Write;

use super::text::{escape, tick};

/// Curve colours (Okabe–Ito, colour-blind safe).
pub const COLOURS: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];

/// One opened point of a curve.
#[derive(Clone, Debug, PartialEq)]
pub struct CurvePoint {
    /// The time.
    pub time: f64,
    /// The estimate from this time on (survival, or cumulative incidence).
    pub estimate: f64,
    /// Lower confidence bound, if known.
    pub lower: Option<f64>,
    /// Upper confidence bound, if known.
    pub upper: Option<f64>,
    /// Number at risk, if known.
    pub at_risk: Option<u64>,
}

/// One group's curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// The legend's text (the group level).
    pub label: String,
    /// The points in time order.
    pub points: Vec<CurvePoint>,
    /// Times of censoring marks (drawn only where the results hold them).
    pub censored: Vec<f64>,
}

/// Which way the curves run from time 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From 1 down (survival).
    Decreasing,
    /// From 0 up (cumulative incidence).
    Increasing,
}

/// How the points are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drawing {
    /// A step function through every point (the curve at every event time).
    Steps,
    /// Points with interval bars, unconnected (the curve at grid times only).
    Points,
}

/// The number-at-risk table: per curve (in curve order), the count at each time.
#[derive(Clone, Debug, PartialEq)]
pub struct RiskTable {
    /// The times (each should be a tick of the axis).
    pub times: Vec<f64>,
    /// `counts[curve][time]`; `None` shows as a dash (suppressed or unknown).
    pub counts: Vec<Vec<Option<u64>>>,
}

/// Everything the plot shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Plot {
    /// The curves.
    pub curves: Vec<Curve>,
    /// Which way they run.
    pub direction: Direction,
    /// Steps or points.
    pub drawing: Drawing,
    /// The time axis' label (with its unit).
    pub x_label: String,
    /// The estimate axis' label.
    pub y_label: String,
    /// The legend's title (the group variable), if any.
    pub legend_title: Option<String>,
    /// Time ticks (the study's grid, or round numbers: [`round_ticks`]).
    pub ticks: Vec<f64>,
    /// Lines of text beside the plot, under the legend (medians, p-values).
    pub notes: Vec<String>,
    /// The number-at-risk table, if known.
    pub risk: Option<RiskTable>,
    /// Confidence level of the bands.
    pub conf_level: f64,
}

/// About `n` round ticks from 0 to at least `max` (steps of 1, 2, 2.5 or 5 times a power
/// of ten).
pub fn round_ticks(max: f64, n: usize) -> Vec<f64> {
    if !(max.is_finite() && max > 0.0) {
        return vec![0.0, 1.0];
    }
    let raw = max / n.max(1) as f64;
    let p = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p);
    let k = (max / step).ceil() as usize;
    (0..=k).map(|i| i as f64 * step).collect()
}

/// Geometry of the plot area.
struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    tmax: f64,
}

impl Frame {
    fn x(&self, t: f64) -> f64 {
        self.left + self.width * (t / self.tmax).clamp(0.0, 1.0)
    }
    fn y(&self, v: f64) -> f64 {
        self.top + self.height * (1.0 - v.clamp(0.0, 1.0))
    }
}

const WIDTH: f64 = 760.0;
const LEFT: f64 = 92.0;
const PANEL: f64 = 200.0;
const TOP: f64 = 14.0;
const HEIGHT: f64 = 280.0;
const ROW: f64 = 17.0;

/// The plot as one `<svg>` element.
pub fn svg(p: &Plot) -> String {
    let tmax = p
        .curves
        .iter()
        .flat_map(|c| {
            c.points
                .iter()
                .map(|q| q.time)
                .chain(c.censored.iter().copied())
        })
        .chain(p.ticks.iter().copied())
        .fold(0.0f64, f64::max);
    let f = Frame {
        left: LEFT,
        top: TOP,
        width: WIDTH - LEFT - PANEL,
        height: HEIGHT,
        tmax: if tmax > 0.0 { tmax } else { 1.0 },
    };
    let axis_bottom = f.top + f.height;
    let risk_top = axis_bottom + 52.0;
    let risk_rows = p.risk.as_ref().map_or(0, |_| p.curves.len());
    let total = if risk_rows > 0 {
        risk_top + 8.0 + ROW * (risk_rows as f64 + 1.0)
    } else {
        axis_bottom + 48.0
    };
    let what = match p.direction {
        Direction::Decreasing => "survival curves",
        Direction::Increasing => "cumulative incidence curves",
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"curves\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" \
         height=\"{total}\" viewBox=\"0 0 {WIDTH} {total}\" role=\"img\" aria-label=\"{what}\" \
         font-family=\"sans-serif\" font-size=\"12\">"
    );
    axes(&mut s, p, &f);
    let k = p.curves.len();
    for (i, c) in p.curves.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let start = match p.direction {
            Direction::Decreasing => 1.0,
            Direction::Increasing => 0.0,
        };
        match p.drawing {
            Drawing::Steps => steps(&mut s, c, start, &f, colour),
            Drawing::Points => {
                // Side by side, so that the groups' bars at one time do not hide each other.
                let dodge = (i as f64 - (k as f64 - 1.0) / 2.0) * 5.0;
                points(&mut s, c, &f, colour, dodge)
            }
        }
        censor_marks(&mut s, c, start, &f, colour);
    }
    legend(&mut s, p, &f);
    if let Some(r) = &p.risk {
        risk_table(&mut s, p, r, &f, risk_top);
    }
    s.push_str("</svg>\n");
    s
}

fn axes(s: &mut String, p: &Plot, f: &Frame) {
    let bottom = f.top + f.height;
    let right = f.left + f.width;
    for k in 0..=4 {
        let v = k as f64 / 4.0;
        let _ = writeln!(
            s,
            "<line x1=\"{l}\" x2=\"{right}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{v:.2}</text>",
            l = f.left,
            y = f.y(v),
            tx = f.left - 6.0,
            ty = f.y(v) + 4.0
        );
    }
    let _ = writeln!(
        s,
        "<path class=\"axis\" d=\"M{l} {t} V{bottom} H{right}\" fill=\"none\" stroke=\"#333\"/>",
        l = f.left,
        t = f.top
    );
    for &t in &p.ticks {
        let x = f.x(t);
        let _ = writeln!(
            s,
            "<line class=\"tick\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{bottom}\" y2=\"{b2}\" stroke=\"#333\"/>\
             <text class=\"tick-label\" x=\"{x:.1}\" y=\"{ty}\" text-anchor=\"middle\">{}</text>",
            tick(t),
            b2 = bottom + 5.0,
            ty = bottom + 18.0
        );
    }
    let _ = writeln!(
        s,
        "<text class=\"x-label\" x=\"{cx}\" y=\"{by}\" text-anchor=\"middle\">{}</text>\
         <text class=\"y-label\" x=\"{yx}\" y=\"{cy}\" text-anchor=\"middle\" \
         transform=\"rotate(-90 {yx} {cy})\">{}</text>",
        escape(&p.x_label),
        escape(&p.y_label),
        cx = f.left + f.width / 2.0,
        by = bottom + 38.0,
        yx = f.left - 44.0,
        cy = f.top + f.height / 2.0
    );
}

/// The step function and its band: each point's values hold from its time to the next
/// point's (the last one's end at its own time).
fn steps(s: &mut String, c: &Curve, start: f64, f: &Frame, colour: &str) {
    let mut pts = vec![(0.0, start, start, start)];
    pts.extend(c.points.iter().map(|q| {
        (
            q.time,
            q.estimate,
            q.lower.unwrap_or(q.estimate),
            q.upper.unwrap_or(q.estimate),
        )
    }));
    let mut band = format!("M{:.1} {:.1}", f.x(pts[0].0), f.y(pts[0].3));
    for q in &pts[1..] {
        let _ = write!(band, " H{:.1} V{:.1}", f.x(q.0), f.y(q.3));
    }
    let last = pts[pts.len() - 1];
    let _ = write!(band, " V{:.1}", f.y(last.2));
    for j in (0..pts.len() - 1).rev() {
        let _ = write!(band, " V{:.1} H{:.1}", f.y(pts[j].2), f.x(pts[j].0));
    }
    band.push_str(" Z");
    let _ = writeln!(
        s,
        "<path class=\"band\" d=\"{band}\" fill=\"{colour}\" fill-opacity=\"0.15\" stroke=\"none\"/>"
    );
    let mut line = format!("M{:.1} {:.1}", f.x(pts[0].0), f.y(pts[0].1));
    for q in &pts[1..] {
        let _ = write!(line, " H{:.1} V{:.1}", f.x(q.0), f.y(q.1));
    }
    let _ = writeln!(
        s,
        "<path class=\"step\" d=\"{line}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>"
    );
}

/// Points with interval bars (with caps), not joined.
fn points(s: &mut String, c: &Curve, f: &Frame, colour: &str, dodge: f64) {
    for q in &c.points {
        let x = f.x(q.time) + dodge;
        if let (Some(lo), Some(hi)) = (q.lower, q.upper) {
            let (a, b) = (f.y(lo), f.y(hi));
            let _ = writeln!(
                s,
                "<path class=\"interval\" d=\"M{x0:.1} {a:.1} H{x1:.1} M{x:.1} {a:.1} V{b:.1} M{x0:.1} {b:.1} H{x1:.1}\" \
                 stroke=\"{colour}\" stroke-width=\"1.5\" fill=\"none\"/>",
                x0 = x - 3.0,
                x1 = x + 3.0
            );
        }
        let _ = writeln!(
            s,
            "<circle class=\"point\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{colour}\"/>",
            y = f.y(q.estimate)
        );
    }
}

/// A short vertical tick on the curve at each censoring time.
fn censor_marks(s: &mut String, c: &Curve, start: f64, f: &Frame, colour: &str) {
    for &t in &c.censored {
        let v = c
            .points
            .iter()
            .take_while(|q| q.time <= t)
            .last()
            .map_or(start, |q| q.estimate);
        let _ = writeln!(
            s,
            "<path class=\"censor\" d=\"M{x:.1} {a:.1} V{b:.1}\" stroke=\"{colour}\" stroke-width=\"1.5\"/>",
            x = f.x(t),
            a = f.y(v) - 4.0,
            b = f.y(v) + 4.0
        );
    }
}

fn legend(s: &mut String, p: &Plot, f: &Frame) {
    let x = f.left + f.width + 18.0;
    let mut y = f.top + 10.0;
    if let Some(t) = &p.legend_title {
        let _ = writeln!(
            s,
            "<text class=\"legend-title\" x=\"{x}\" y=\"{y}\" font-weight=\"bold\">{}</text>",
            escape(t)
        );
        y += ROW + 2.0;
    }
    for (i, c) in p.curves.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mark = match p.drawing {
            Drawing::Steps => format!(
                "<line x1=\"{x}\" x2=\"{x2}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"3\"/>",
                x2 = x + 20.0,
                ly = y - 4.0
            ),
            Drawing::Points => format!(
                "<circle cx=\"{cx}\" cy=\"{ly}\" r=\"3.5\" fill=\"{colour}\"/>",
                cx = x + 10.0,
                ly = y - 4.0
            ),
        };
        let _ = writeln!(
            s,
            "<g class=\"legend-entry\">{mark}<text x=\"{tx}\" y=\"{y}\">{}</text></g>",
            escape(&c.label),
            tx = x + 26.0
        );
        y += ROW;
    }
    let what = if p.drawing == Drawing::Steps {
        "band"
    } else {
        "bars"
    };
    let _ = writeln!(
        s,
        "<text x=\"{x}\" y=\"{y}\" fill=\"#555\">{}: {:.0}% CI</text>",
        what,
        p.conf_level * 100.0
    );
    y += ROW + 6.0;
    for n in &p.notes {
        let _ = writeln!(
            s,
            "<text class=\"note\" x=\"{x}\" y=\"{y}\">{}</text>",
            escape(n)
        );
        y += ROW;
    }
}

fn risk_table(s: &mut String, p: &Plot, r: &RiskTable, f: &Frame, top: f64) {
    let _ = writeln!(
        s,
        "<text class=\"risk-title\" x=\"4\" y=\"{top}\" font-weight=\"bold\">Number at risk</text>"
    );
    for (i, (c, counts)) in p.curves.iter().zip(&r.counts).enumerate() {
        let y = top + ROW * (i as f64 + 1.0);
        let colour = COLOURS[i % COLOURS.len()];
        let _ = write!(
            s,
            "<g class=\"risk-row\"><text x=\"4\" y=\"{y}\" fill=\"{colour}\">{}</text>",
            escape(&c.label)
        );
        for (t, n) in r.times.iter().zip(counts) {
            let v = n.map_or_else(|| "–".to_string(), |n| n.to_string());
            let _ = write!(
                s,
                "<text class=\"at-risk\" x=\"{x:.1}\" y=\"{y}\" text-anchor=\"middle\">{v}</text>",
                x = f.x(*t)
            );
        }
        s.push_str("</g>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(time: f64, estimate: f64) -> CurvePoint {
        CurvePoint {
            time,
            estimate,
            lower: Some(estimate - 0.1),
            upper: Some(estimate + 0.05),
            at_risk: Some(20),
        }
    }

    fn plot(drawing: Drawing, direction: Direction) -> Plot {
        Plot {
            curves: vec![Curve {
                label: "<g>".into(),
                points: vec![pt(10.0, 0.8), pt(20.0, 0.6)],
                censored: vec![15.0],
            }],
            direction,
            drawing,
            x_label: "time".into(),
            y_label: "survival".into(),
            legend_title: Some("stage".into()),
            ticks: round_ticks(20.0, 4),
            notes: vec!["p = 0.0123".into()],
            risk: Some(RiskTable {
                times: vec![10.0, 20.0],
                counts: vec![vec![Some(20), None]],
            }),
            conf_level: 0.95,
        }
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(round_ticks(1460.0, 5), [0.0, 500.0, 1000.0, 1500.0]);
        assert_eq!(round_ticks(20.0, 4), [0.0, 5.0, 10.0, 15.0, 20.0]);
    }

    #[test]
    fn steps_go_across_then_down_or_up() {
        let s = svg(&plot(Drawing::Steps, Direction::Decreasing));
        assert!(s.contains("class=\"step\" d=\"M92.0 14.0 H"), "{s}");
        assert!(s.contains("class=\"band\"") && s.contains("class=\"censor\""));
        assert!(!s.contains("<circle") && !s.contains("polyline"));
        assert!(s.contains("&lt;g&gt;") && !s.contains("<g>"));
        // Increasing curves start at the bottom of the axis.
        let s = svg(&plot(Drawing::Steps, Direction::Increasing));
        assert!(s.contains("class=\"step\" d=\"M92.0 294.0 H"), "{s}");
    }

    #[test]
    fn grid_points_are_not_joined() {
        let s = svg(&plot(Drawing::Points, Direction::Decreasing));
        assert_eq!(s.matches("class=\"point\"").count(), 2);
        assert_eq!(s.matches("class=\"interval\"").count(), 2);
        assert!(!s.contains("class=\"step\"") && !s.contains("polyline"));
        assert!(s.contains(">20</text>") && s.contains(">–</text>"));
        assert!(s.contains("Number at risk") && s.contains(">stage</text>"));
    }
}
