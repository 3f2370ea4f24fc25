"""The progress bar of :meth:`tessera.Study.wait`: tqdm's (a widget in notebooks) when tqdm
is installed, else one line on standard error redrawn in place on a terminal."""

from __future__ import annotations

import sys
from typing import Any, Dict, Optional


def _describe(st: Dict[str, Any]) -> str:
    """``state`` (the run's once it has one), then the phase while it computes, then what
    each other station says while they decide."""
    run = st.get("run") or {}
    state = run.get("state") or st.get("state") or "?"
    phase = (st.get("progress") or {}).get("phase")
    if state == "running" and phase:
        return f"running: {phase}"
    waiting = [
        f"{s.get('station')}: {s.get('state')}"
        for s in st.get("stations") or []
        if s.get("state") not in ("approved", "ready", "running", "finished")
    ]
    return f"{state} ({', '.join(waiting)})" if waiting else state


class Progress:
    """A bar over the computation's steps, labelled with the study's state."""

    def __init__(self, label: Optional[str], enabled: bool = True):
        self.label = label or "study"
        self.enabled = enabled
        self._bar = None
        self._last = ""
        if enabled:
            try:
                from tqdm.auto import tqdm  # optional

                self._bar = tqdm(total=100, desc=self.label, unit="%", leave=True)
            except ImportError:
                self._bar = None

    def update(self, st: Dict[str, Any]) -> None:
        """Shows the status ``st`` (``GET /studies/ID``'s answer)."""
        if not self.enabled:
            return
        p = st.get("progress") or {}
        steps, step = p.get("steps") or 0, p.get("step") or 0
        run = (st.get("run") or {}).get("state")
        pct = 100 if run == "finished" else (100 * step // steps if steps else 0)
        text = _describe(st)
        if self._bar is not None:
            self._bar.n = pct
            self._bar.set_postfix_str(text, refresh=False)
            self._bar.refresh()
            return
        width = 30
        line = f"{self.label}: [{'#' * (pct * width // 100):<{width}}] {pct:3d}% {text}"
        if line != self._last:
            if sys.stderr.isatty():
                sys.stderr.write("\r\x1b[K" + line)
            else:
                sys.stderr.write(line + "\n")
            sys.stderr.flush()
            self._last = line

    def close(self) -> None:
        """Ends the bar (a newline after an in-place line)."""
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and self._last and sys.stderr.isatty():
            sys.stderr.write("\n")
            sys.stderr.flush()
