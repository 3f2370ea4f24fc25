"""The exceptions of the tessera client.

Every error names the station it came from, the rule (for a refusal: the policy rule or
check that refused, as the station words it, e.g. ``analyses`` or ``min_rows``) and the
message the CLI shows for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional


@dataclass(frozen=True)
class Refusal:
    """One reason a station refused (or would refuse) a study."""

    station: Optional[str]
    rule: Optional[str]
    message: str

    @classmethod
    def parse(cls, reason: str, station: Optional[str] = None) -> "Refusal":
        """Splits a station's ``rule: what`` (or a check's ``STATION: rule: what`` when
        ``station`` is None) into its parts."""
        text = reason.strip()
        if station is None:
            station, _, text = text.partition(": ")
        rule, sep, what = text.partition(": ")
        if not sep:
            return cls(station, None, text)
        return cls(station, rule, what)

    def __str__(self) -> str:
        parts = [p for p in (self.station, self.rule) if p]
        return ": ".join(parts + [self.message])


class TesseraError(Exception):
    """An error of a station or of the client, with the station, rule and message."""

    def __init__(self, message: str, station: Optional[str] = None, rule: Optional[str] = None):
        self.station = station
        self.rule = rule
        self.message = message
        super().__init__(str(Refusal(station, rule, message)))


class StudyInvalid(TesseraError):
    """The study is invalid, unknown to the station, or conflicts with another of its id."""


class StudyRefused(TesseraError):
    """A station refused the study (or would refuse it: :meth:`Study.check`).

    ``reasons`` holds every :class:`Refusal`; ``station``, ``rule`` and ``message`` are the
    first one's.
    """

    def __init__(self, reasons: List[Refusal]):
        self.reasons = list(reasons)
        first = self.reasons[0] if self.reasons else Refusal(None, None, "refused")
        super().__init__(first.message, first.station, first.rule)
        if len(self.reasons) > 1:
            self.args = ("\n".join(str(r) for r in self.reasons),)


class StudyStopped(TesseraError):
    """The study's run was stopped or aborted (a station was down, its data changed)."""


class ResultsUnavailable(TesseraError):
    """No results (yet), or none for this caller."""
