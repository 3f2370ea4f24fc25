"""The stations the tests talk to: `tessera demo --prepare` writes the demo's three stations
(registry, GP network, institute), the researcher's identity, study and profile into a fresh
folder; the three `tessera station serve` processes are started on loopback and stopped at
the end. The `tessera` binary is `$TESSERA_BIN`, else the one on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

STATIONS = ("registry", "gp", "institute")
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "synthetic"
#: Tolerances as everywhere in tessera: estimates absolute, standard errors and test
#: statistics relative.
EST, SE, STAT = 1e-4, 1e-3, 1e-4


def close(a, b, abs_tol=0.0, rel_tol=0.0, what=""):
    """Element-wise |a - b| within the tolerances, with a message naming what differs."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.abs(a - b) <= np.maximum(abs_tol, rel_tol * np.abs(b))
    assert ok.all(), f"{what}: {a[~ok]} vs {b[~ok]}"


@pytest.fixture(scope="session")
def pooled() -> pd.DataFrame:
    """The registry's and the GP's records joined on patient_id as the study links them
    (trimmed, case-folded), with the categorical columns as indicators."""
    reg = pd.read_csv(FIXTURES / "registry.csv", dtype={"patient_id": str})
    gp = pd.read_csv(FIXTURES / "gp.csv", dtype={"patient_id": str})
    for t in (reg, gp):
        t["key"] = t["patient_id"].str.strip().str.casefold()
    df = reg.drop(columns="patient_id").merge(gp.drop(columns="patient_id"), on="key")
    for level in (2, 3, 4):
        df[f"stage_{level}"] = (df["stage"] == level).astype(float)
    df["statin_1"] = (df["statin"] == 1).astype(float)
    return df


def tessera_name(name: str) -> str:
    """Our pooled column for a tessera design column (`registry.stage[2]`, `gp.bmi`)."""
    name = name.split(".", 1)[-1]
    for ch in "[]":
        name = name.replace(ch, "_" if ch == "[" else "")
    return name.replace("T.", "")


def tessera_bin() -> str:
    exe = os.environ.get("TESSERA_BIN") or shutil.which("tessera")
    if not exe:
        pytest.fail("no tessera binary: put it on PATH or set TESSERA_BIN")
    return exe


class Cluster:
    """The demo's stations, serving."""

    def __init__(self, root: Path):
        self.exe = tessera_bin()
        self.dir = root / "demo"
        subprocess.run(
            [self.exe, "demo", "--prepare", "--dir", str(self.dir)], check=True, capture_output=True
        )
        self.profile = self.dir / "researcher" / "profile.toml"
        self.study = self.dir / "researcher" / "study.toml"
        self.procs = []
        for s in STATIONS:
            log = open(self.dir / s / "stderr.log", "ab")
            p = subprocess.Popen(
                [self.exe, "station", "serve", "--config", str(self.dir / s / "station.toml")],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
            self.procs.append(p)
            for line in p.stdout:
                if "serving its API" in line:
                    break
            else:
                pytest.fail(
                    f"station {s} did not start: {(self.dir / s / 'stderr.log').read_text()}"
                )

    def station(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Runs `tessera station ARGS --config gp/station.toml`: the GP network's steward."""
        o = subprocess.run(
            [self.exe, "station", *args, "--config", str(self.dir / "gp" / "station.toml")],
            capture_output=True,
            text=True,
        )
        if check:
            assert o.returncode == 0, o.stdout + o.stderr
        return o

    def approve_at_gp(self, study_id: str, timeout: float = 60) -> None:
        """Waits until the GP station holds the study for a person, and approves it with the
        CLI as its steward would (`tessera station approve ID`)."""
        deadline = time.monotonic() + timeout
        while True:
            o = self.station("status", study_id, check=False)
            first = o.stdout.splitlines()[0] if o.stdout else ""
            if o.returncode == 0 and first.endswith(": pending"):
                break
            assert time.monotonic() < deadline, o.stdout + o.stderr
            time.sleep(0.2)
        self.station("approve", study_id, "--by", "gp steward (pytest)")

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.stdout:
                p.stdout.close()


@pytest.fixture(scope="session")
def cluster():
    root = Path(tempfile.mkdtemp(prefix="tessera-py-"))
    c = Cluster(root)
    try:
        yield c
    finally:
        c.stop()
        shutil.rmtree(root, ignore_errors=True)
