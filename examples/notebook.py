"""The demo's study from Python, step by step, as a notebook would run it.

Start the demo's stations first (each in its own terminal, or with `&`):

    tessera demo --prepare --dir /tmp/demo
    tessera station serve --config /tmp/demo/registry/station.toml
    tessera station serve --config /tmp/demo/gp/station.toml
    tessera station serve --config /tmp/demo/institute/station.toml

then run `python examples/notebook.py /tmp/demo` and, when it waits for the GP network's
steward, approve the study as that steward:

    tessera station approve tessera-demo --config /tmp/demo/gp/station.toml

The profile `tessera demo --prepare` wrote (researcher/profile.toml) names the three
stations, their certificate pins and the researcher's identity; the registry is its default.
"""

import sys
from pathlib import Path

import pandas as pd

import tessera

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 20)

demo = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/demo")
profile = demo / "researcher" / "profile.toml"

# 1. The study file the researcher wrote, read with the profile that says where to send it.
study = tessera.Study.from_toml(demo / "researcher" / "study.toml", profile=profile)

# 2. What the stations would refuse, before any steward sees it (raises StudyRefused).
print("not checked:", study.check() or "nothing")

# 3. Submitted to the registry, which passes it on to the GP network and the institute.
answer = study.submit(to="registry")
print(f"study {answer['id']}: {answer['state']}")

# 4. Waiting while the stations approve (the GP network's steward by hand), check their
#    data, link and compute: a progress bar.
study.wait(progress=True)

# 5. The shares of the results from the three compute stations, reconstructed here.
results = study.results()
print(results)

print("\nCox regression (lifelines' CoxPHFitter.summary layout):")
print(results["cox"].summary[["coef", "exp(coef)", "se(coef)", "p"]].round(4))

print("\nlogistic regression of diabetes (statsmodels' coefficient table):")
print(results["diabetes"].summary_frame.round(4))

km = results["km_by_statin"]
print("\nKaplan–Meier survival by statin use (lifelines' survival_function_ layout):")
print(km.survival_function_.join(km.confidence_interval_).round(4))

print("\nlog-rank test by statin use:")
print(results["logrank_by_statin"].summary)

# 6. The curves, if matplotlib is installed (pip install ./python[plot]).
try:
    import matplotlib

    matplotlib.use("Agg")
except ImportError:
    print("\n(matplotlib is not installed: no plot)")
else:
    out = demo / "km.png"
    km.plot().figure.savefig(out, dpi=120)
    print(f"\nKaplan–Meier curves: {out}")
