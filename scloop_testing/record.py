"""A recorder of verdicts, printed in pytest's terminal summary (tests/conftest.py).

Each property records, per example, the verdict of the correct bound, its
negative controls and, where there is one, a lower bound, so the summary can
quote how many examples ran, how tight the bounds were, how small a violation
each check could have seen (the detectable ratio), and, per control, how
often it was within the test's power and how often it was refuted.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .verdict import Verdict, is_underpowered

__all__ = ["record", "records", "summary_lines"]

_RECORDS: dict[str, list[dict]] = defaultdict(list)


def record(
    prop: str, verdict: Verdict, controls: dict[str, Verdict] | None = None, lower: Verdict | None = None
) -> None:
    """Store one example of property ``prop``: the correct bound's verdict, the controls' and the lower bound's."""
    _RECORDS[prop].append({"verdict": verdict, "controls": controls or {}, "lower": lower})


def records() -> dict[str, list[dict]]:
    return dict(_RECORDS)


def _spread(values) -> str:
    values = np.asarray([v for v in values if np.isfinite(v)])
    if not values.size:
        return "inf"
    return f"min {values.min():.3g} median {np.median(values):.3g} max {values.max():.3g}"


def summary_lines() -> list[str]:
    """One line per property: examples, refutations, tightness, detectable ratios and controls."""
    lines = []
    for prop, entries in sorted(_RECORDS.items()):
        verdicts = [e["verdict"] for e in entries]
        tightness = np.concatenate([np.ravel(v.tightness) for v in verdicts])
        detectable = [v.detectable_ratio for v in verdicts]
        text = f"{prop}: {len(entries)} examples, correct bound refuted in {sum(v.refuted for v in verdicts)}"
        text += f"; bound/mean TV {_spread(tightness)}; detectable ratio {_spread(detectable)}"
        text += f" ({sum(is_underpowered(ratio) for ratio in detectable)} underpowered)"
        lowers = [e["lower"] for e in entries if e["lower"] is not None]
        if lowers:
            text += f"; lower bound refuted in {sum(v.refuted for v in lowers)}, lower/mean {_spread(np.concatenate([np.ravel(v.tightness) for v in lowers]))}"
        for name in sorted({name for e in entries for name in e["controls"]}):
            controls = [e["controls"][name] for e in entries if name in e["controls"]]
            within, refuted = sum(c.within_power for c in controls), sum(c.refuted for c in controls)
            text += f"; control '{name}' within power {within}/{len(controls)}, refuted {refuted}/{len(controls)}"
        lines.append(text)
    return lines
