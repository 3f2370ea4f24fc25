"""The Python client against three real stations (see conftest.py): the demo's study is
submitted from Python, approved by the GP network's steward with the CLI, waited for,
fetched, and each DataFrame is compared with lifelines / statsmodels on the pooled data
(which only a test can build); refusals and unreachable stations raise exceptions naming
the station, the rule and the message.

Tolerances as everywhere in tessera: estimates 1e-4 absolute, standard errors 1e-3
relative, test statistics 1e-4 relative."""

from __future__ import annotations

import sys

import pytest
from conftest import EST, SE, STAT, close, tessera_name

import tessera

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture(scope="module")
def demo(cluster):
    """The demo's study, submitted from Python to the profile's default station (the
    registry), approved at the GP, finished; its results."""
    study = tessera.Study.from_toml(cluster.study, profile=cluster.profile)
    assert study.check() == []  # every party's catalogue could be checked
    answer = study.submit()
    assert answer["id"] == "tessera-demo" and study.station == "registry"
    cluster.approve_at_gp(study.id)
    final = study.wait(progress=True, timeout=300)
    assert final["run"]["state"] == "finished"
    return study, study.results()


def test_results_are_a_dict_and_named_analyses(demo):
    _, results = demo
    assert results.study == "tessera-demo"
    assert results.names == ["km_by_statin", "logrank_by_statin", "cox", "diabetes"]
    assert results.json["linkage"]["intersection"] == 1700
    assert results.failures() == {}
    assert isinstance(results["cox"], tessera.CoxResult)
    with pytest.raises(KeyError, match="no analysis 'nope'"):
        results["nope"]


def test_cox_summary_matches_lifelines(demo, pooled):
    from lifelines import CoxPHFitter

    summary = demo[1]["cox"].summary
    assert summary.index.name == "covariate"
    cols = [tessera_name(c) for c in summary.index]
    cph = CoxPHFitter().fit(pooled[cols + ["time", "event"]], "time", "event")
    ref = cph.summary.loc[cols]
    assert list(summary.columns) == list(ref.columns)
    for c in [
        "coef",
        "exp(coef)",
        "coef lower 95%",
        "coef upper 95%",
        "exp(coef) lower 95%",
        "exp(coef) upper 95%",
        "cmp to",
        "p",
    ]:
        close(summary[c], ref[c], abs_tol=EST, what=c)
    close(summary["se(coef)"], ref["se(coef)"], rel_tol=SE, what="se(coef)")
    close(summary["z"], ref["z"], rel_tol=STAT, what="z")
    close(summary["-log2(p)"], ref["-log2(p)"], rel_tol=STAT, abs_tol=EST, what="-log2(p)")


def test_kaplan_meier_matches_lifelines(demo, pooled):
    from lifelines import KaplanMeierFitter

    km = demo[1]["km_by_statin"]
    sf, ci = km.survival_function_, km.confidence_interval_
    assert sf.index.name == "timeline" and list(sf.columns) == ["0", "1"]
    assert list(ci.columns) == ["0_lower_0.95", "0_upper_0.95", "1_lower_0.95", "1_upper_0.95"]
    times = [365.0, 730.0, 1095.0, 1460.0]
    for level in ("0", "1"):
        g = pooled[pooled["statin"] == int(level)]
        kmf = KaplanMeierFitter(label=level).fit(g["time"], g["event"])
        close(
            sf.loc[times, level],
            kmf.survival_function_at_times(times),
            abs_tol=EST,
            what=f"survival, statin={level}",
        )
        ref = kmf.confidence_interval_.reindex(times, method="ffill")
        close(
            ci.loc[times, f"{level}_lower_0.95"],
            ref[f"{level}_lower_0.95"],
            abs_tol=EST,
            what="lower",
        )
        close(
            ci.loc[times, f"{level}_upper_0.95"],
            ref[f"{level}_upper_0.95"],
            abs_tol=EST,
            what="upper",
        )
        assert sf.loc[0.0, level] == 1.0


def test_logrank_matches_lifelines(demo, pooled):
    from lifelines.statistics import logrank_test

    a, b = pooled[pooled["statin"] == 0], pooled[pooled["statin"] == 1]
    ref = logrank_test(a["time"], b["time"], a["event"], b["event"])
    got = demo[1]["logrank_by_statin"].summary
    close(got["test_statistic"], [ref.test_statistic], rel_tol=STAT, what="chi-square")
    close(got["p"], [ref.p_value], abs_tol=EST, what="p")


def test_logistic_matches_statsmodels(demo, pooled):
    import statsmodels.api as sm

    frame = demo[1]["diabetes"].summary_frame
    names = {c: ("const" if c == "intercept" else tessera_name(c)) for c in frame.index}
    X = sm.add_constant(pooled[[n for n in names.values() if n != "const"]])
    fit = sm.Logit(pooled["diabetes"], X).fit(disp=0)
    ref = fit.summary2().tables[1].loc[list(names.values())]
    assert list(frame.columns) == list(ref.columns)
    for c in ["Coef.", "P>|z|", "[0.025", "0.975]"]:
        close(frame[c], ref[c], abs_tol=EST, what=c)
    close(frame["Std.Err."], ref["Std.Err."], rel_tol=SE, what="Std.Err.")
    close(frame["z"], ref["z"], rel_tol=STAT, what="z")


def test_status_and_plot(demo, tmp_path):
    study, results = demo
    st = study.status()
    assert st["run"]["state"] == "finished"
    assert {s["station"] for s in st["stations"]} >= {"gp", "institute"}
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    ax = results["km_by_statin"].plot()
    ax.figure.savefig(tmp_path / "km.png")
    assert (tmp_path / "km.png").stat().st_size > 1000
    with pytest.raises(TypeError):
        results["cox"].plot()


def refused_study(cluster) -> tessera.Study:
    """The demo study built from Python dicts, asking for a linear regression, which no
    station's policy allows."""
    doc = tomllib.loads(cluster.study.read_text())
    doc["study"]["id"] = "py-refused"
    doc["analysis"] = [
        {"name": "bmi", "kind": "ols", "outcome": "gp.bmi", "covariates": ["registry.age"]}
    ]
    return tessera.Study(profile=cluster.profile, **doc)


def test_a_refused_study_raises_with_station_rule_and_message(cluster):
    study = refused_study(cluster)
    assert study.id == "py-refused"
    with pytest.raises(tessera.StudyRefused) as e:
        study.check()
    assert {r.station for r in e.value.reasons} == {"registry", "gp", "institute"}
    assert {r.rule for r in e.value.reasons} == {"analyses"}
    with pytest.raises(tessera.StudyRefused) as e:
        study.submit(to="registry")
    err = e.value
    assert (err.station, err.rule) == ("registry", "analyses")
    assert "ols" in err.message and "does not allow" in err.message
    assert str(err).startswith("registry: analyses: ")
    assert isinstance(err, tessera.TesseraError)


def test_an_invalid_study_and_an_unreachable_station_raise(cluster, tmp_path):
    with pytest.raises(tessera.StudyInvalid) as e:
        tessera.Study(study={"id": "x"}, profile=cluster.profile).check()
    assert e.value.station == "registry" and e.value.message
    pin = tomllib.loads(cluster.profile.read_text())["stations"]["gp"]["pin"]
    nowhere = tmp_path / "profile.toml"
    nowhere.write_text(
        f'default = "nowhere"\n[stations.nowhere]\nat = "127.0.0.1:1"\n' f'pin = "{pin}"\n'
    )
    with pytest.raises(tessera.TesseraError) as e:
        tessera.Study.from_toml(cluster.study, profile=nowhere).submit()
    assert e.value.station == "nowhere" and "127.0.0.1:1" in e.value.message
    s = tessera.Study.from_toml(cluster.study, profile=cluster.profile)
    with pytest.raises(tessera.TesseraError, match="not been submitted"):
        s.results()


def test_no_results_before_they_exist(cluster):
    s = tessera.Study.from_toml(cluster.study, profile=cluster.profile)
    s.id, s.station = "no-such-study", "registry"
    with pytest.raises(tessera.ResultsUnavailable) as e:
        s.results()
    assert e.value.station == "registry" and e.value.message
