//! Rules across the analyses of one study: two analyses must not show counts of the same
//! column whose difference is a cell the disclosure rules would suppress.
//!
//! Each analysis applies `min_cell` to its own cells, but a researcher controls every
//! analysis of a study. Two histograms of one column with edges 40.575 and 40.585 in two
//! analyses showed counts 40 and 41: one patient lies between the edges (issue 13). The
//! same holds for Kaplan–Meier grids: the at-risk and event counts at times 1 and 2 of two
//! analyses on one time column differ by the rows between them, however sparse. So, checked
//! at validation on public quantities only (nothing here depends on data):
//!
//! - `same_histogram`: every histogram of a column in a study has the same edges and the
//!   same group (or none). Within one histogram the bins are checked together, inside MPC
//!   (`tessera_stats::describe`: the rows outside the shown bins must number zero or at
//!   least `min_cell`).
//! - `same_km_grid`: every Kaplan–Meier analysis on a time column has the same grid, the
//!   same group (or none), the same event column (whose complete cases are counted) and
//!   the same entry column (or none: at risk with and without delayed entry differ by the
//!   rows not yet entered; a grid with entry cuts the entry column too),
//!   so that the events-since-the-last-shown-time rule
//!   (`min_events`) sees one grid per column; the curve at every event time
//!   (`at_event_times`) is governed by `allow_event_times` instead.
//! - `grid_or_histogram`: a column is cut by Kaplan–Meier grids or by histograms, not
//!   both (at risk at time 40.575 and a histogram's last bin from 40.585 differ by the rows
//!   between).
//!
//! - `same_calibration_groups`: every calibrated `auc` of a score column has the same
//!   `groups`. A calibration table's groups are ranges of ranks by score; two tables with
//!   10 and 11 groups have boundaries at ranks 100 and 91 of 1,000 rows, and the difference
//!   of their cumulative events is the events of the 9 rows between, however few (a set of
//!   `groups` values walks the events rank by rank).
//!
//! What stays visible (docs/study.md, "Disclosure rules"): a column's counts in other
//! kinds of analysis (describe counts by one group beside a correlation's pair counts, a
//! regression's complete cases) are not merged; the stewards see every analysis before they
//! approve.

use std::collections::BTreeMap;

use tessera_stats::AnalysisSpec;

use crate::format::Study;
use crate::locate::Seg;

/// Two analyses that would show counts of one column whose difference is a suppressed cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overlap {
    /// The rule (`same_histogram`, `same_km_grid`, `same_calibration_groups`).
    pub rule: &'static str,
    /// Where in the study file: the later analysis' field.
    pub path: Vec<Seg>,
    /// What is wrong and what to do, naming both analyses and the column.
    pub message: String,
}

/// The layout one analysis shows a column's counts on: a histogram's edges or a
/// Kaplan–Meier grid (as bits, so that equal means the same numbers), the group, and for a
/// grid the event column (whose complete cases are the rows counted) and the entry column
/// of a grid with delayed entry (its at-risk counts leave out the rows not yet entered).
#[derive(Clone, PartialEq)]
struct Layout {
    grid: bool,
    points: Vec<u64>,
    group: Option<String>,
    event: Option<String>,
    entry: Option<String>,
}

impl Layout {
    fn new(grid: bool, points: &[f64], group: &Option<String>, event: Option<&str>) -> Layout {
        Layout {
            grid,
            points: points.iter().map(|v| (v + 0.0).to_bits()).collect(),
            group: group.clone(),
            event: event.map(str::to_string),
            entry: None,
        }
    }

    /// The same layout for a grid with delayed entry (`entry`; none: without).
    fn with_entry(self, entry: &Option<String>) -> Layout {
        Layout {
            entry: entry.clone(),
            ..self
        }
    }

    fn what(&self) -> &'static str {
        if self.grid {
            "a Kaplan–Meier grid"
        } else {
            "a histogram"
        }
    }
}

/// Every pair of analyses of `study` that breaks a rule of this module, in file order (one
/// per later analysis and column).
pub fn overlaps(study: &Study) -> Vec<Overlap> {
    let mut out = Vec::new();
    // Column → the first analysis that cuts it (histogram edges or grid times) and how.
    let mut cuts: BTreeMap<&str, (&str, Layout)> = BTreeMap::new();
    for (i, a) in study.analyses.iter().enumerate() {
        let at = |f: &str| {
            vec![
                Seg::Key("analysis".into()),
                Seg::Index(i),
                Seg::Key(f.into()),
            ]
        };
        let (field, columns, mine): (&str, Vec<&str>, Layout) = match &a.spec {
            AnalysisSpec::Describe(s) => {
                let Some(edges) = &s.histogram else { continue };
                let cols = s.columns.iter().map(String::as_str).collect();
                ("histogram", cols, Layout::new(false, edges, &s.group, None))
            }
            // With delayed entry the grid cuts the entry column too (at risk: entry < τ).
            AnalysisSpec::KaplanMeier(s) if !s.times.is_empty() => (
                "times",
                std::iter::once(s.time.as_str())
                    .chain(s.entry.as_deref())
                    .collect(),
                Layout::new(true, &s.times, &s.group, Some(&s.event)).with_entry(&s.entry),
            ),
            // Cumulative incidence shows at risk and events at its grid as Kaplan–Meier does.
            AnalysisSpec::Cuminc(s) => (
                "times",
                vec![s.time.as_str()],
                Layout::new(true, &s.times, &s.group, Some(&s.event)),
            ),
            // So does relative survival (its n.risk and events at the grid).
            AnalysisSpec::Relsurv(s) => (
                "times",
                vec![s.time.as_str()],
                Layout::new(true, &s.times, &s.group, Some(&s.event)),
            ),
            _ => continue,
        };
        for c in columns {
            let (first, theirs) = cuts.entry(c).or_insert((&a.name, mine.clone()));
            if *theirs == mine {
                continue;
            }
            let (rule, message) = if theirs.grid != mine.grid {
                (
                    "grid_or_histogram",
                    format!(
                        "analysis \"{}\" field {field}: column `{c}` also has {} in analysis \
                         \"{first}\"; counts at a grid time and at a histogram edge would show \
                         the rows between them, however few. Cut a column by one of them only \
                         (grid_or_histogram)",
                        a.name,
                        theirs.what()
                    ),
                )
            } else if mine.grid {
                (
                    "same_km_grid",
                    format!(
                        "analysis \"{}\" field times: time column `{c}` also has a \
                         Kaplan–Meier grid in analysis \"{first}\" with {}; counts at risk \
                         and events on two grids would show the rows between their times, \
                         however few. Use the same times, group and event column in every \
                         Kaplan–Meier analysis of a time column (same_km_grid)",
                        a.name,
                        differs(theirs, &mine)
                    ),
                )
            } else {
                (
                    "same_histogram",
                    format!(
                        "analysis \"{}\" field histogram: column `{c}` also has a histogram in \
                         analysis \"{first}\" with {}; two counts of one column on different \
                         bins would show their difference, which may be below min_cell. Use \
                         the same edges and group in every histogram of a column \
                         (same_histogram)",
                        a.name,
                        differs(theirs, &mine)
                    ),
                )
            };
            out.push(Overlap {
                rule,
                path: at(field),
                message,
            });
        }
    }
    out.extend(rmst_cuts(study, &mut cuts));
    out.extend(calibration_groups(study));
    out
}

/// Every calibrated `auc` of a score column has the same `groups` (same_calibration_groups,
/// module docs).
fn calibration_groups(study: &Study) -> Vec<Overlap> {
    let mut first: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, a) in study.analyses.iter().enumerate() {
        let AnalysisSpec::Auc(s) = &a.spec else {
            continue;
        };
        if !s.calibration {
            continue;
        }
        let (name, groups) = *first.entry(s.score.as_str()).or_insert((&a.name, s.groups));
        if groups == s.groups {
            continue;
        }
        out.push(Overlap {
            rule: "same_calibration_groups",
            path: vec![
                Seg::Key("analysis".into()),
                Seg::Index(i),
                Seg::Key("groups".into()),
            ],
            message: format!(
                "analysis \"{}\" field groups: score `{}` also has a calibration table in \
                 analysis \"{name}\" with {groups} groups (here {}); the events of two tables \
                 with other group boundaries differ by the rows between the boundaries, \
                 however few. Use the same groups (same_calibration_groups)",
                a.name, s.score, s.groups
            ),
        });
    }
    out
}

/// A restricted mean shows each group's rows and events up to its `tau`: a count at a time
/// cut, as a Kaplan–Meier grid shows at its times. So `tau` must be one of the grid's times
/// of the time column (with the same group and event column), or, without a grid on that
/// column, every restricted mean of it must have the same `tau`, group and event column
/// (same_km_grid). Checked after every grid is known, whatever the analyses' order.
fn rmst_cuts<'a>(
    study: &'a Study,
    cuts: &mut BTreeMap<&'a str, (&'a str, Layout)>,
) -> Vec<Overlap> {
    let mut out = Vec::new();
    for (i, a) in study.analyses.iter().enumerate() {
        let AnalysisSpec::Rmst(s) = &a.spec else {
            continue;
        };
        let mine = Layout::new(true, &[s.tau], &s.group, Some(&s.event));
        let (first, theirs) = cuts
            .entry(s.time.as_str())
            .or_insert((&a.name, mine.clone()));
        let fits = theirs.grid
            && theirs.points.contains(&mine.points[0])
            && theirs.group == mine.group
            && theirs.event == mine.event
            && theirs.entry == mine.entry;
        if fits {
            continue;
        }
        let why = if !theirs.grid {
            "a histogram".to_string()
        } else if !theirs.points.contains(&mine.points[0]) {
            "a grid without this tau".to_string()
        } else {
            differs(theirs, &mine)
        };
        out.push(Overlap {
            rule: "same_km_grid",
            path: vec![
                Seg::Key("analysis".into()),
                Seg::Index(i),
                Seg::Key("tau".into()),
            ],
            message: format!(
                "analysis \"{}\" field tau: time column `{}` is also cut by analysis \"{first}\" \
                 with {why}; the rows and events up to tau beside counts at other times would \
                 show the rows between them, however few. Use a tau that is one of the \
                 Kaplan–Meier grid's times, with the same group and event column \
                 (same_km_grid)",
                a.name, s.time
            ),
        });
    }
    out
}

/// How the earlier layout differs from the later one (of the same kind), in words.
fn differs(theirs: &Layout, mine: &Layout) -> String {
    let group = |g: &Option<String>| match g {
        Some(g) => format!("group `{g}`"),
        None => "no group".to_string(),
    };
    if theirs.points != mine.points {
        format!("other {}", if mine.grid { "times" } else { "edges" })
    } else if theirs.group != mine.group {
        format!("{} (here {})", group(&theirs.group), group(&mine.group))
    } else if theirs.event != mine.event {
        let e = |e: &Option<String>| e.clone().unwrap_or_default();
        format!(
            "event column `{}` (here `{}`)",
            e(&theirs.event),
            e(&mine.event)
        )
    } else {
        let e = |e: &Option<String>| match e {
            Some(e) => format!("entry column `{e}`"),
            None => "no entry column".to_string(),
        };
        format!("{} (here {})", e(&theirs.entry), e(&mine.entry))
    }
}
