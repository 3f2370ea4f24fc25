"""tessera: statistics on data several organisations hold, computed by secure multi-party
computation — the researcher's client.

>>> import tessera
>>> study = tessera.Study.from_toml("study.toml")
>>> study.submit(to="registry")
>>> study.wait(progress=True)
>>> print(study.results()["cox"].summary)

Stations, their pins and your identity come from the profile (``~/.config/tessera/
profile.toml``, ``$TESSERA_PROFILE`` or ``Study(..., profile=FILE)``), as for the CLI.
"""

from .errors import (
    Refusal,
    ResultsUnavailable,
    StudyInvalid,
    StudyRefused,
    StudyStopped,
    TesseraError,
)
from .results import (
    AnalysisResult,
    CoxResult,
    CrosstabResult,
    CumulativeIncidenceResult,
    KaplanMeierResult,
    LogrankResult,
    RegressionResult,
    Results,
)
from .study import Study

__all__ = [
    "Study",
    "Results",
    "AnalysisResult",
    "CoxResult",
    "RegressionResult",
    "KaplanMeierResult",
    "CumulativeIncidenceResult",
    "LogrankResult",
    "CrosstabResult",
    "TesseraError",
    "StudyInvalid",
    "StudyRefused",
    "StudyStopped",
    "ResultsUnavailable",
    "Refusal",
]
