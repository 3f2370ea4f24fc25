"""A study's results as pandas DataFrames shaped like their plaintext counterparts.

The numbers are those the Rust client reconstructed (the JSON document of ``tessera study
results --format json``); this module only lays them out:

* Cox regression: :attr:`CoxResult.summary`, the columns of lifelines'
  ``CoxPHFitter.summary``;
* logistic and linear regression: :attr:`RegressionResult.summary_frame`, the coefficient
  table of statsmodels (``summary2().tables[1]``: ``Coef.``, ``Std.Err.``, ``z``/``t``,
  ``P>|z|``/``P>|t|``, ``[0.025``, ``0.975]``);
* Kaplan–Meier: :attr:`KaplanMeierResult.survival_function_` and
  :attr:`KaplanMeierResult.confidence_interval_` as lifelines' ``KaplanMeierFitter`` lays
  them out (one column per group);
* cumulative incidence: :attr:`CumulativeIncidenceResult.cumulative_incidence_`;
* crosstabs: :attr:`CrosstabResult.table`, rows × columns of counts;
* everything: :attr:`Results.json`, the whole document as a dict.

Suppressed cells (fewer than the disclosure floors allow) are missing values.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterator, List, Optional

import pandas as pd


def _pct(conf_level: float) -> str:
    """``95`` for 0.95, as lifelines labels its interval columns."""
    return f"{round(100 * conf_level):d}"


class AnalysisResult:
    """One analysis' result: :attr:`name`, :attr:`kind`, :attr:`json` (its ``result``
    object), and :attr:`error` when it gave none."""

    def __init__(self, entry: Dict[str, Any]):
        self.name: str = entry.get("name", "")
        self.kind: str = entry.get("kind", "")
        self.error: Optional[str] = entry.get("error")
        self.json: Dict[str, Any] = entry.get("result") or {}

    def __repr__(self) -> str:
        if self.error:
            return f"<{self.kind} {self.name}: no result ({self.error})>"
        return f"<{self.kind} {self.name}>"

    def plot(self, ax=None):
        """Only survival curves are drawn."""
        raise TypeError(f"{self.kind} results have no curves to plot")


class CoxResult(AnalysisResult):
    """A Cox regression."""

    @property
    def summary(self) -> pd.DataFrame:
        """lifelines' ``CoxPHFitter.summary``: one row per covariate (index ``covariate``)."""
        r = self.json
        pct = _pct(r.get("conf_level", 0.95))
        rows = []
        for c in r.get("rows", []):
            p = c["p"]
            rows.append(
                {
                    "covariate": c["covariate"],
                    "coef": c["coef"],
                    "exp(coef)": c["exp_coef"],
                    "se(coef)": c["se"],
                    f"coef lower {pct}%": c["coef_lower"],
                    f"coef upper {pct}%": c["coef_upper"],
                    f"exp(coef) lower {pct}%": c["exp_coef_lower"],
                    f"exp(coef) upper {pct}%": c["exp_coef_upper"],
                    "cmp to": 0.0,
                    "z": c["z"],
                    "p": p,
                    "-log2(p)": -math.log2(p) if p > 0 else math.inf,
                }
            )
        return pd.DataFrame(rows).set_index("covariate")

    def __repr__(self) -> str:
        return (
            f"<cox {self.name}: n={self.json.get('n')}, events={self.json.get('events')}>\n"
            f"{self.summary.to_string()}"
        )


class RegressionResult(AnalysisResult):
    """A logistic or linear (``ols``) regression."""

    @property
    def summary_frame(self) -> pd.DataFrame:
        """statsmodels' coefficient table (``summary2().tables[1]``), one row per design
        column."""
        r = self.json
        alpha = 1 - r.get("conf_level", 0.95)
        stat = "z" if self.kind == "logistic" else "t"
        rows = [
            {
                "": c["name"],
                "Coef.": c["coef"],
                "Std.Err.": c.get("std_err"),
                stat: c.get("stat"),
                f"P>|{stat}|": c.get("p_value"),
                f"[{alpha / 2:g}": c.get("ci_low"),
                f"{1 - alpha / 2:g}]": c.get("ci_high"),
            }
            for c in r.get("coefficients", [])
        ]
        df = pd.DataFrame(rows).set_index("").astype(float)
        df.index.name = None
        return df

    def __repr__(self) -> str:
        return (
            f"<{self.kind} {self.name}: nobs={self.json.get('nobs')}>\n"
            f"{self.summary_frame.to_string()}"
        )


def _curve_label(group: Optional[str], default: str) -> str:
    return default if group is None else str(group)


def _curve_plot(ax, frame: pd.DataFrame, ci: Optional[pd.DataFrame], ylabel: str, result):
    """Curves of ``frame``'s columns, with ``ci``'s bands where given: steps when the
    curves were revealed at every event time, else their values at the grid times joined
    by lines (marked), which is all that was revealed."""
    steps = any(c.get("event_times") for c in result.json.get("curves", []))
    if ax is None:
        import matplotlib.pyplot as plt  # optional dependency: pip install ./python[plot]

        _, ax = plt.subplots()
    for i, col in enumerate(frame.columns):
        s = frame[col].dropna()
        if steps:
            (line,) = ax.step(s.index, s.values, where="post", label=col)
        else:
            (line,) = ax.plot(s.index, s.values, marker="o", label=col)
        if ci is not None:
            lo, hi = ci.iloc[:, 2 * i].reindex(s.index), ci.iloc[:, 2 * i + 1].reindex(s.index)
            ax.fill_between(
                s.index,
                lo.values,
                hi.values,
                step="post" if steps else None,
                alpha=0.25,
                color=line.get_color(),
            )
    ax.set_xlabel("time")
    ax.set_ylabel(ylabel)
    ax.set_title(result.name)
    ax.legend(title=result.json.get("group_column"))
    return ax


class KaplanMeierResult(AnalysisResult):
    """Kaplan–Meier curves (one per group level)."""

    def _rows(self, c: Dict[str, Any]) -> List[Dict[str, Any]]:
        """The curve at every event time when the study asked for them, else at its grid
        times; the curve starts at 1 at time 0, as lifelines'."""
        rows = c.get("event_times") or c.get("rows") or []
        start = {"time": 0.0, "survival": 1.0, "ci_lower": 1.0, "ci_upper": 1.0}
        out = [] if rows and rows[0].get("time") == 0 else [start]
        return out + [r for r in rows if r.get("shown", True)]

    @property
    def table(self) -> pd.DataFrame:
        """Every shown row of every curve (group, time, at risk, events, survival, standard
        error, interval); suppressed grid cells have missing values."""
        out = []
        for c in self.json.get("curves", []):
            for r in c.get("rows", []):
                out.append({"group": c.get("group"), **r})
        return pd.DataFrame(out)

    def _frame(self, value: str, suffix: Optional[str]) -> pd.DataFrame:
        cols = {}
        for c in self.json.get("curves", []):
            label = _curve_label(c.get("group"), "KM_estimate")
            rows = self._rows(c)
            name = label if suffix is None else f"{label}_{suffix}"
            cols[name] = pd.Series(
                [r.get(value) for r in rows], index=[float(r["time"]) for r in rows], dtype=float
            )
        df = pd.DataFrame(cols)
        df.index.name = "timeline"
        return df

    @property
    def survival_function_(self) -> pd.DataFrame:
        """lifelines' ``survival_function_``: index ``timeline``, one column per curve
        (``KM_estimate`` without groups, else the group level)."""
        return self._frame("survival", None)

    @property
    def confidence_interval_(self) -> pd.DataFrame:
        """lifelines' ``confidence_interval_``: ``LABEL_lower_0.95``, ``LABEL_upper_0.95``
        per curve."""
        level = f"{self.json.get('conf_level', 0.95):g}"
        lo = self._frame("ci_lower", f"lower_{level}")
        hi = self._frame("ci_upper", f"upper_{level}")
        cols = [c for pair in zip(lo.columns, hi.columns) for c in pair]
        return pd.concat([lo, hi], axis=1)[cols]

    def plot(self, ax=None):
        """The curves with their confidence bands (matplotlib); returns the axes."""
        return _curve_plot(ax, self.survival_function_, self.confidence_interval_, "survival", self)


class CumulativeIncidenceResult(AnalysisResult):
    """Cumulative incidence curves of competing risks (per group and cause)."""

    @property
    def cumulative_incidence_(self) -> pd.DataFrame:
        """Index ``timeline``, one column per curve: ``CIF_CAUSE`` (as lifelines'
        ``AalenJohansenFitter``), prefixed ``LEVEL: `` per group."""
        cols = {}
        for c in self.json.get("curves", []):
            label = f"CIF_{c['cause']}"
            if c.get("group") is not None:
                label = f"{c['group']}: {label}"
            rows = c.get("event_times") or c.get("rows") or []
            rows = [{"time": 0.0, "estimate": 0.0}] + [r for r in rows if r.get("shown", True)]
            cols[label] = pd.Series(
                [r.get("estimate") for r in rows],
                index=[float(r["time"]) for r in rows],
                dtype=float,
            )
        df = pd.DataFrame(cols)
        df.index.name = "timeline"
        return df

    def plot(self, ax=None):
        """The curves (matplotlib); returns the axes."""
        return _curve_plot(ax, self.cumulative_incidence_, None, "cumulative incidence", self)


class LogrankResult(AnalysisResult):
    """A log-rank test."""

    @property
    def summary(self) -> pd.DataFrame:
        """lifelines' ``StatisticalResult.summary``: ``test_statistic``, ``p``,
        ``-log2(p)``."""
        p = self.json.get("p")
        return pd.DataFrame(
            [
                {
                    "test_statistic": self.json.get("chi_square"),
                    "p": p,
                    "-log2(p)": -math.log2(p) if p else math.inf,
                }
            ]
        )


class CrosstabResult(AnalysisResult):
    """A crosstab of counts."""

    @property
    def table(self) -> pd.DataFrame:
        """Counts, rows × columns (levels as labels; suppressed cells missing)."""
        r = self.json
        df = pd.DataFrame(
            r.get("counts", []),
            index=r.get("row_levels"),
            columns=r.get("column_levels"),
            dtype="Int64",
        )
        df.index.name = r.get("rows")
        df.columns.name = r.get("columns")
        return df


_KINDS = {
    "cox": CoxResult,
    "logistic": RegressionResult,
    "ols": RegressionResult,
    "kaplan_meier": KaplanMeierResult,
    "cuminc": CumulativeIncidenceResult,
    "logrank": LogrankResult,
    "crosstab": CrosstabResult,
}


class Results:
    """A study's results: ``results["NAME"]`` is one analysis' result (typed by its kind),
    :attr:`json` the whole document."""

    def __init__(self, doc: Dict[str, Any]):
        self.json = doc
        self._by_name = {
            a["name"]: _KINDS.get(a.get("kind"), AnalysisResult)(a) for a in doc.get("analyses", [])
        }

    @property
    def study(self) -> str:
        """The study's id."""
        return self.json.get("study", {}).get("id", "")

    @property
    def names(self) -> List[str]:
        """The analyses' names, in study order."""
        return list(self._by_name)

    def __getitem__(self, name: str) -> AnalysisResult:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no analysis {name!r} (analyses: {', '.join(self.names)})") from None

    def __iter__(self) -> Iterator[AnalysisResult]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def failures(self) -> Dict[str, str]:
        """Analyses that gave no result, with why."""
        return {a.name: a.error for a in self if a.error}

    def __repr__(self) -> str:
        return f"<Results of {self.study}: {', '.join(self.names)}>"
