#!/usr/bin/env python3
"""Times lifelines on the data `tessera bench survival` hands it, for the benchmark's ratio.

Usage: bench_lifelines.py (cox|logrank) DATA.csv
DATA.csv has columns time, event, group, x1..xp (as written by the benchmark). Prints one JSON
object {"seconds": median of three fits, "lifelines": version}. Exits non-zero when lifelines is
missing, so the benchmark reports n/a.
"""
import json
import statistics
import sys
import time

import lifelines
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.statistics import multivariate_logrank_test


def main():
    kind, path = sys.argv[1], sys.argv[2]
    df = pd.read_csv(path)
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        if kind == "cox":
            covs = [c for c in df.columns if c.startswith("x")]
            CoxPHFitter().fit(df[["time", "event"] + covs], "time", "event")
        elif kind == "logrank":
            multivariate_logrank_test(df["time"], df["group"], df["event"])
        else:
            raise SystemExit(f"unknown kind {kind}")
        runs.append(time.perf_counter() - t)
    print(json.dumps({"seconds": statistics.median(runs), "lifelines": lifelines.__version__}))


if __name__ == "__main__":
    main()
