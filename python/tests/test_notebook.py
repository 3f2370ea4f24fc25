"""examples/notebook.py, the demo's study from Python step by step, run as a user runs it:
against three fresh `station serve` processes (the demo's, prepared by `tessera demo
--prepare`), with the GP network's steward approving from the CLI while it waits."""

import os
import subprocess
import sys
import tempfile
import shutil
from pathlib import Path

from conftest import Cluster

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebook.py"


def test_the_notebook_reproduces_the_demo_study():
    root = Path(tempfile.mkdtemp(prefix="tessera-nb-"))
    c = Cluster(root)
    try:
        env = dict(os.environ, MPLBACKEND="Agg")
        run = subprocess.Popen(
            [sys.executable, str(NOTEBOOK), str(c.dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            c.approve_at_gp("tessera-demo")
            out, err = run.communicate(timeout=180)
        finally:
            if run.poll() is None:
                run.kill()
        assert run.returncode == 0, out + err
        for says in (
            "study tessera-demo:",
            "Cox regression (lifelines' CoxPHFitter.summary layout):",
            "logistic regression of diabetes",
            "Kaplan–Meier survival by statin use",
            "log-rank test by statin use:",
        ):
            assert says in out, out
        # The Cox table has the model's covariates as rows.
        assert "registry.age" in out, out
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            assert "no plot" in out
        else:
            assert (c.dir / "km.png").stat().st_size > 1000
    finally:
        c.stop()
        shutil.rmtree(root, ignore_errors=True)
