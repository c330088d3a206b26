"""A small recorder of verdicts, printed in pytest's terminal summary (tests/conftest.py).

Each property test records, per example, the verdict of the correct bound and
whether each negative control was refuted, so the summary can quote how
many examples ran, how tight the bounds were, and how often each deliberately
false bound was caught.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .verdict import Verdict

__all__ = ["record", "records", "summary_lines"]

_RECORDS: dict[str, list[dict]] = defaultdict(list)


def record(prop: str, verdict: Verdict, controls: dict[str, Verdict] | None = None) -> None:
    """Store one example of property ``prop``: the correct bound's verdict and the negative controls'."""
    _RECORDS[prop].append({"verdict": verdict, "controls": controls or {}})


def records() -> dict[str, list[dict]]:
    return dict(_RECORDS)


def summary_lines() -> list[str]:
    """One line per property: examples, refutations, tightness (bound / mean TV) and negative controls."""
    lines = []
    for prop, entries in sorted(_RECORDS.items()):
        tightness = np.concatenate([np.ravel(e["verdict"].tightness) for e in entries])
        tightness = tightness[np.isfinite(tightness)]
        refuted = sum(e["verdict"].refuted for e in entries)
        text = f"{prop}: {len(entries)} examples, correct bound refuted in {refuted}"
        if tightness.size:
            text += f"; bound/mean TV min {tightness.min():.2f} median {np.median(tightness):.2f} max {tightness.max():.2f}"
        names = sorted({name for e in entries for name in e["controls"]})
        for name in names:
            caught = [e["controls"][name].refuted for e in entries if name in e["controls"]]
            text += f"; control '{name}' refuted {sum(caught)}/{len(caught)}"
        lines.append(text)
    return lines
