"""A recorder of verdicts, printed in pytest's terminal summary (:mod:`selfloop.testing.plugin`).

Each property records, per example, the verdict of the correct bound, its
negative controls and, where there is one, a lower bound, so the summary can
quote how many examples ran, how tight the bounds were, how small a violation
each check could have seen (the detectable ratio), and, per control, how
often it was within the test's power and how often it was refuted.

Under pytest-xdist every worker holds the records of its own tests: it reduces them to plain numbers
(:func:`export_records`, the power bootstraps computed there, in parallel) and the controller merges them
(:func:`merge_records`) before it prints the one summary of the whole run.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .verdict import Verdict, is_underpowered

__all__ = ["export_records", "merge_records", "record", "records", "summary_lines"]

_RECORDS: dict[str, list[dict]] = defaultdict(list)
#: Records another process reduced to plain numbers (:func:`merge_records`), per property.
_MERGED: dict[str, list[dict]] = defaultdict(list)


def record(
    prop: str, verdict: Verdict, controls: dict[str, Verdict] | None = None, lower: Verdict | None = None
) -> None:
    """Store one example of property ``prop``: the correct bound's verdict, the controls' and the lower bound's."""
    _RECORDS[prop].append({"verdict": verdict, "controls": controls or {}, "lower": lower})


def records() -> dict[str, list[dict]]:
    return dict(_RECORDS)


def _plain_verdict(verdict: Verdict) -> dict:
    return {
        "refuted": bool(verdict.refuted),
        "tightness": [float(value) for value in np.ravel(verdict.tightness)],
        "detectable_ratio": float(verdict.detectable_ratio),
    }


def _plain(entry: dict) -> dict:
    """One example reduced to what the summary prints: JSON-able, so it can cross a process boundary."""
    return {
        "verdict": _plain_verdict(entry["verdict"]),
        "controls": {
            name: {"refuted": bool(control.refuted), "within_power": bool(control.within_power)}
            for name, control in entry["controls"].items()
        },
        "lower": None if entry["lower"] is None else _plain_verdict(entry["lower"]),
    }


def export_records() -> dict[str, list[dict]]:
    """This process's records as plain numbers, per property (for :func:`merge_records` in another process)."""
    return {prop: [_plain(entry) for entry in entries] for prop, entries in _RECORDS.items()}


def merge_records(exported: dict[str, list[dict]]) -> None:
    """Add the records another process exported (:func:`export_records`) to this one's summary."""
    for prop, entries in exported.items():
        _MERGED[prop].extend(entries)


def _spread(values) -> str:
    values = np.asarray([v for v in values if np.isfinite(v)])
    if not values.size:
        return "inf"
    return f"min {values.min():.3g} median {np.median(values):.3g} max {values.max():.3g}"


def summary_lines() -> list[str]:
    """One line per property: examples, refutations, tightness, detectable ratios and controls."""
    every: dict[str, list[dict]] = defaultdict(list)
    for prop, entries in export_records().items():
        every[prop].extend(entries)
    for prop, entries in _MERGED.items():
        every[prop].extend(entries)
    lines = []
    for prop, entries in sorted(every.items()):
        verdicts = [e["verdict"] for e in entries]
        tightness = np.concatenate([v["tightness"] for v in verdicts])
        detectable = [v["detectable_ratio"] for v in verdicts]
        text = f"{prop}: {len(entries)} examples, correct bound refuted in {sum(v['refuted'] for v in verdicts)}"
        text += f"; bound/mean TV {_spread(tightness)}; detectable ratio {_spread(detectable)}"
        text += f" ({sum(is_underpowered(ratio) for ratio in detectable)} underpowered)"
        lowers = [e["lower"] for e in entries if e["lower"] is not None]
        if lowers:
            text += f"; lower bound refuted in {sum(v['refuted'] for v in lowers)}, lower/mean {_spread(np.concatenate([v['tightness'] for v in lowers]))}"
        for name in sorted({name for e in entries for name in e["controls"]}):
            controls = [e["controls"][name] for e in entries if name in e["controls"]]
            within = sum(c["within_power"] for c in controls)
            refuted = sum(c["refuted"] for c in controls)
            text += f"; control '{name}' within power {within}/{len(controls)}, refuted {refuted}/{len(controls)}"
        lines.append(text)
    return lines
