"""The DataFrames of the kinds the demo's study does not ask for (linear regression,
crosstab, cumulative incidence), laid out from the JSON document of a local run
(`tessera run STUDY --json`, the same document the stations' results reconstruct to) and
compared with statsmodels / pandas / lifelines on the pooled data."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import EST, SE, STAT, close, tessera_bin, tessera_name

import tessera

ROOT = Path(__file__).resolve().parents[2]
TIMES = [365.0, 730.0, 1095.0, 1460.0]

EXTRA = """
[[analysis]]
name = "stage_by_statin"
kind = "crosstab"
rows = "registry.stage"
columns = "gp.statin"

[[analysis]]
name = "incidence"
kind = "cuminc"
time = "registry.time"
event = "registry.event"
group = "registry.stage"
causes = 1
times = [365, 730, 1095, 1460]
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> tessera.Results:
    """examples/survival/study.toml with a crosstab and a cumulative incidence, run here
    (`tessera run`, no stations)."""
    text = (ROOT / "examples" / "survival" / "study.toml").read_text()
    text = text.replace("../../fixtures/", f"{ROOT}/fixtures/") + EXTRA
    # The crosstab's columns: statin as a categorical column (as the demo's study has it).
    text = text.replace(
        'statin = "binary"', 'statin = { type = "categorical", levels = ["0", "1"] }'
    )
    study = tmp_path_factory.mktemp("shapes") / "study.toml"
    study.write_text(text)
    o = subprocess.run([tessera_bin(), "run", str(study), "--json"], capture_output=True, text=True)
    assert o.returncode == 0, o.stderr
    return tessera.Results(json.loads(o.stdout))


def test_ols_summary_frame_matches_statsmodels(results, pooled):
    import statsmodels.api as sm

    frame = results["bmi"].summary_frame
    names = {c: ("const" if c == "intercept" else tessera_name(c)) for c in frame.index}
    X = sm.add_constant(pooled[[n for n in names.values() if n != "const"]])
    ref = sm.OLS(pooled["bmi"], X).fit().summary2().tables[1].loc[list(names.values())]
    assert list(frame.columns) == list(ref.columns)
    for c in ["Coef.", "P>|t|", "[0.025", "0.975]"]:
        close(frame[c], ref[c], abs_tol=EST, what=c)
    close(frame["Std.Err."], ref["Std.Err."], rel_tol=SE, what="Std.Err.")
    close(frame["t"], ref["t"], rel_tol=STAT, what="t")


def test_crosstab_is_the_pandas_crosstab(results, pooled):
    table = results["stage_by_statin"].table
    assert (table.index.name, table.columns.name) == ("registry.stage", "gp.statin")
    ref = pd.crosstab(pooled["stage"].astype(str), pooled["statin"].astype(str))
    assert list(table.index) == list(ref.index) and list(table.columns) == list(ref.columns)
    assert (table.to_numpy(dtype=np.int64) == ref.to_numpy()).all()


def test_cumulative_incidence_of_one_cause_is_one_minus_kaplan_meier(results, pooled):
    from lifelines import KaplanMeierFitter

    cif = results["incidence"].cumulative_incidence_
    assert cif.index.name == "timeline"
    assert list(cif.columns) == [f"{stage}: CIF_1" for stage in "1234"]
    for stage in "1234":
        col = f"{stage}: CIF_1"
        assert cif.loc[0.0, col] == 0.0
        g = pooled[pooled["stage"] == int(stage)]
        km = KaplanMeierFitter().fit(g["time"], g["event"])
        shown = cif[col].reindex(TIMES).dropna()
        assert len(shown) >= 2, f"stage {stage}: too few shown cells to compare"
        close(
            shown,
            1 - km.survival_function_at_times(list(shown.index)),
            abs_tol=EST,
            what=f"cumulative incidence, stage {stage}",
        )


def test_other_kinds_keep_their_json(results):
    corr = results["correlations"]
    assert type(corr) is tessera.AnalysisResult and corr.kind == "correlation"
    assert corr.json and corr.error is None
    with pytest.raises(TypeError):
        corr.plot()
