#!/usr/bin/env python3
"""Issue 19's table: rounds, bytes and seconds of the between-organisations workloads at
0, 5 and 25 ms one-way latency, measured side by side in one run.

Runs the `tessera` binary's own benchmarks (three processes over loopback; the latency is
simulated in the transport) and prints a Markdown table for the README:

    cargo build --release -p tessera-cli
    python3 scripts/bench_latency.py [--bin target/release/tessera] [--latencies 0,5,25]

A run with added latency takes the few-rounds protocols, as stations between organisations
do; at 0 ms the benchmarks take the default ones (a LAN). Standard library only.
"""

import argparse
import json
import re
import subprocess
import sys
import time

# (label, target at 25 ms in seconds, command after the binary and before the latency)
WORKLOADS = [
    ("log-rank 10,000 rows", 3.0,
     ["bench", "survival", "--workloads", "logrank:10000", "--no-lifelines", "--json"]),
    ("Cox 10,000 × 10, Efron", 10.0,
     ["bench", "survival", "--workloads", "cox:10000x10", "--no-lifelines", "--json"]),
    ("logistic 10,000 × 10", 8.0,
     ["bench", "regression", "--workloads", "logistic-10k", "--reps", "1", "--json"]),
    ("linkage 100,000 × 100,000", 5.0,
     ["bench", "link", "--rows", "100000", "--reps", "1", "--json"]),
    ("the demo's study (`tessera demo`)", 15.0, ["demo"]),
]


def run(cmd):
    """Runs one benchmark; returns (seconds, MB of the busiest party or None, rounds or None)."""
    start = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    if cmd[1] == "demo":
        m = re.search(r"all done in ([0-9.]+) s", out.stdout)
        return (float(m.group(1)) if m else wall, None, None)
    doc = json.loads(out.stdout)
    # survival: a list of workloads; regression: a map by name; link: the object itself.
    w = doc.get("workloads", doc)
    if isinstance(w, list):
        w = w[0]
    elif "seconds" not in w:
        w = next(iter(w.values()))
    return (w["seconds"], w["bytes_per_party"] / 1e6, w["rounds"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="target/release/tessera")
    ap.add_argument("--latencies", default="0,5,25")
    args = ap.parse_args()
    lats = [int(x) for x in args.latencies.split(",")]
    rows = []
    for label, target, cmd in WORKLOADS:
        cells = []
        for ms in lats:
            full = [args.bin] + cmd + ["--latency-ms", str(ms)]
            print(f"{label} at {ms} ms …", file=sys.stderr, flush=True)
            cells.append(run(full))
        rows.append((label, target, cells))
    head = "| workload | " + " | ".join(f"{ms} ms: s, MB, rounds" for ms in lats)
    print(head + " | target at 25 ms |")
    print("|---" * (len(lats) + 2) + "|")
    for label, target, cells in rows:
        def fmt(c):
            s, mb, r = c
            return f"{s:.2f}" + (f", {mb:.1f}, {r}" if mb is not None else "")
        met = ""
        if 25 in lats:
            met = " (met)" if cells[lats.index(25)][0] <= target else " (not met)"
        print(f"| {label} | " + " | ".join(fmt(c) for c in cells) + f" | ≤ {target:g} s{met} |")


if __name__ == "__main__":
    main()
