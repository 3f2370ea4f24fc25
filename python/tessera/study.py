"""A study as the researcher handles it from Python: built from a study file or from dicts,
checked against the stations' catalogues, submitted, followed and its results fetched.

Every call goes through the Rust client (``tessera._native``, the code of ``tessera study
…``); stations are found in the profile (``profile=`` a file, else ``$TESSERA_PROFILE``,
else ``~/.config/tessera/profile.toml``), as the CLI finds them.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List, Optional

from . import _native
from .errors import (
    Refusal,
    ResultsUnavailable,
    StudyInvalid,
    StudyRefused,
    StudyStopped,
    TesseraError,
)
from .progress import Progress
from .results import Results

#: Sections of a study file, in the order they are written (the validator's own list).
SECTIONS = tuple(_native.sections())


def _native_call(profile: Optional[str], at: Optional[str], f, *args):
    """Calls the client; its errors become :class:`TesseraError` naming the station ``at``
    resolves to in the profile (its name there, else its address)."""
    try:
        return f(*args)
    except RuntimeError as e:
        try:
            station = json.loads(_native.station(profile, at))["name"]
        except RuntimeError:
            station = at
        raise TesseraError(str(e), station=station) from None


def _native_call_local(f, *args):
    """Calls the client for something that involves no station."""
    try:
        return f(*args)
    except RuntimeError as e:
        raise TesseraError(str(e)) from None


class Study:
    """A study: ``Study(study={...}, parties={...}, data={...}, ..., analysis=[...])`` with
    the sections of ``study.toml`` as dicts (see docs/study.md), or
    :meth:`Study.from_toml`."""

    def __init__(
        self,
        study: Optional[Dict[str, Any]] = None,
        *,
        profile: Optional[str] = None,
        **sections: Any,
    ):
        unknown = set(sections) - set(SECTIONS)
        if unknown:
            raise TypeError(f"unknown study sections: {', '.join(sorted(unknown))}")
        doc = {"study": study, **sections}
        doc = {k: doc[k] for k in SECTIONS if doc.get(k) is not None}
        self._init(_native_call_local(_native.to_toml, json.dumps(doc)), "<Study>", profile)
        self.id = (study or {}).get("id")

    def _init(self, text: str, name: str, profile: Optional[str]) -> None:
        self.text = text
        self.name = name
        self.profile = os.fspath(profile) if profile is not None else None
        self.id: Optional[str] = None
        self.revision: Optional[int] = None
        self.station: Optional[str] = None
        self.decision: Optional[Dict[str, Any]] = None

    def _call(self, at: Optional[str], f, *args):
        """Calls the client about the station ``at`` (with this study's profile)."""
        return _native_call(self.profile, at, f, *args)

    @classmethod
    def from_toml(cls, path, profile: Optional[str] = None) -> "Study":
        """The study in the file at ``path``."""
        self = cls.__new__(cls)
        with open(path, encoding="utf-8") as f:
            self._init(f.read(), os.fspath(path), profile)
        return self

    def __repr__(self) -> str:
        at = f" at {self.station}" if self.station else ""
        return f"Study({self.id or self.name!r}{at})"

    # -- before submitting ---------------------------------------------------------------

    def check(self, at: Optional[str] = None) -> List[str]:
        """Checks the study against the catalogues of its stations (those the station
        ``at`` — default: the profile's — trusts), as ``tessera study check``.

        Raises :class:`StudyInvalid` for an invalid study and :class:`StudyRefused` with
        every reason if a station would refuse it; returns what could not be checked."""
        out = json.loads(self._call(at, _native.check, self.name, self.text, self.profile, at))
        if "invalid" in out:
            raise StudyInvalid(out["invalid"], station=out["station"])
        if out["refused"]:
            raise StudyRefused([Refusal.parse(r) for r in out["refused"]])
        self.id = self.id or out["study"]
        return out["unchecked"]

    # -- submitting and following --------------------------------------------------------

    def submit(self, to: Optional[str] = None) -> Dict[str, Any]:
        """Sends the study to the station ``to`` (a profile station's name or an address;
        default: the profile's), which passes it on to the others. Returns its answer
        (``id``, ``state``, ``decision``, ``revision``).

        Raises :class:`StudyRefused` (the station, each rule and message) if its policy
        refuses it, :class:`StudyInvalid` if it is invalid."""
        out = json.loads(self._call(to, _native.submit, self.text, self.profile, to))
        return self._answered(out, to)

    def rerun(self) -> Dict[str, Any]:
        """Runs the study again unchanged after it was stopped or aborted (its next
        revision), at the station it was submitted to."""
        self._submitted()
        out = json.loads(
            self._call(self.station, _native.rerun, self.id, self.profile, self.station)
        )
        return self._answered(out, self.station)

    def _answered(self, out: Dict[str, Any], to: Optional[str]) -> Dict[str, Any]:
        if "refused" in out:
            raise StudyRefused([Refusal.parse(r, out["station"]) for r in out["refused"]])
        if "rejected" in out:
            raise StudyInvalid(out["rejected"], station=out["station"])
        body = out["accepted"]
        self.id = body.get("id")
        self.revision = body.get("revision")
        self.decision = body.get("decision")
        self.station = to if to is not None else out["station"]
        return body

    def _submitted(self) -> None:
        if self.id is None:
            raise TesseraError("the study has not been submitted (call submit first)")

    def status(self) -> Dict[str, Any]:
        """The study's state at the station it was submitted to (its own, its run's with
        progress, and each other station's), as ``GET /studies/ID`` answers."""
        self._submitted()
        out = self._call(self.station, _native.status, self.id, self.profile, self.station)
        if out is None:
            raise StudyInvalid(
                f"no study {self.id} (or not one you submitted)", station=self.station
            )
        return json.loads(out)

    def wait(
        self, progress: bool = True, timeout: float = 3600.0, poll: float = 0.5
    ) -> Dict[str, Any]:
        """Waits until the study's run has finished (approvals, data checks, linkage,
        computation), showing a progress bar in notebooks and terminals with
        ``progress=True``. Returns the final status.

        Raises :class:`StudyRefused` if a station refuses it, :class:`StudyStopped` if its
        run stops, :class:`TesseraError` after ``timeout`` seconds."""
        bar = Progress(self.id, enabled=progress)
        deadline = time.monotonic() + timeout
        try:
            while True:
                st = self.status()
                bar.update(st)
                self._raise_if_over(st)
                if _run_state(st) == "finished":
                    return st
                if time.monotonic() > deadline:
                    raise TesseraError(
                        f"study {self.id} did not finish within {timeout:g} s "
                        f"(state: {_run_state(st)})",
                        station=self.station,
                    )
                time.sleep(poll)
        finally:
            bar.close()

    def _raise_if_over(self, st: Dict[str, Any]) -> None:
        refusals = [
            Refusal.parse(s.get("reason") or "refused", s.get("station"))
            for s in st.get("stations") or []
            if s.get("state") == "refused"
        ]
        if st.get("state") == "refused":
            refusals.insert(0, Refusal.parse(st.get("reason") or "refused", self.station))
        if refusals:
            raise StudyRefused(refusals)
        run = st.get("run") or {}
        if run.get("state") in ("aborted", "stopped"):
            raise StudyStopped(
                run.get("reason") or run["state"], station=self.station, rule=run["state"]
            )

    # -- results -------------------------------------------------------------------------

    def results(self) -> Results:
        """The results, fetched from the three compute stations as shares and reconstructed
        here (the station submitted to names the others). Raises
        :class:`ResultsUnavailable` if there are none (yet) for you."""
        self._submitted()
        out = json.loads(
            self._call(self.station, _native.results, self.id, self.profile, self.station)
        )
        if "answer" in out:
            a = out["answer"]
            body = a["body"] if isinstance(a["body"], dict) else {}
            msg = body.get("error") or json.dumps(a["body"])
            if body.get("reason"):
                msg = f"{msg}\n  {body['reason']}"
            raise ResultsUnavailable(msg, station=a["station"], rule=body.get("state"))
        return Results(out["results"])


def _run_state(st: Dict[str, Any]) -> str:
    run = st.get("run")
    return (run or {}).get("state") or st.get("state") or "?"


__all__ = ["Study"]
