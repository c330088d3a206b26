"""CI regression: compare a fresh results document with a committed baseline, cell by cell.

A cell fails the check when

- its bound is newly refuted (refuted now, not in the baseline);
- its mean TV at some generation moved by more than ``TV_Z`` combined standard
  errors (:math:`|\\bar x - \\bar x_0| > z\\sqrt{s^2 + s_0^2}`, plus 1e-9 for round-off);
- its bound changed by more than 1e-9 relative at some generation (rigorous
  bounds: a deterministic function of the setting; a calibrated bound is a
  function of measured TVs, which the calibration cells' own TV comparison covers);
- it is missing from either side.

The same seeds reproduce the same numbers, so an unchanged simulator passes
with zero differences; the statistical tolerance is what lets a harmless
change of floating-point order pass while a changed simulator fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["BOUND_RTOL", "TV_Z", "CheckResult", "compare"]

TV_Z = 4.0
BOUND_RTOL = 1e-9


@dataclass
class CheckResult:
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (cell label, what, detail)

    @property
    def passed(self) -> bool:
        return not self.changes

    def markdown(self) -> str:
        if self.passed:
            return "scloop check: every cell matches the baseline."
        lines = [f"scloop check: {len(self.changes)} change(s) against the baseline", "", "| cell | change | detail |", "|---|---|---|"]
        lines += [f"| {label} | {what} | {detail} |" for label, what, detail in self.changes]
        return "\n".join(lines)


def _index(document: dict) -> dict[str, dict]:
    return {cell["key"]: cell for cell in document["cells"]}


def compare(current: dict, baseline: dict) -> CheckResult:
    """Cell-by-cell comparison of two results documents (same suite)."""
    result = CheckResult()
    now, before = _index(current), _index(baseline)
    for key in sorted(set(before) - set(now)):
        result.changes.append((before[key]["label"], "missing now", "cell is in the baseline but not in this run"))
    for key in sorted(set(now) - set(before)):
        result.changes.append((now[key]["label"], "new cell", "cell is not in the baseline"))
    for key in sorted(set(now) & set(before)):
        cell, old = now[key], before[key]
        label = cell["label"]
        checks = {(c["label"], c["side"]): c for c in cell.get("checks", [])}
        old_checks = {(c["label"], c["side"]): c for c in old.get("checks", [])}
        for name, check in checks.items():
            before_check = old_checks.get(name)
            if check["verdict"]["refuted"] and not (before_check and before_check["verdict"]["refuted"]):
                result.changes.append((label, f"{name[0]} newly refuted", f"p = {check['verdict']['p_value']:.3g} at generation {check['verdict']['worst_generation']}"))
        mean, error = np.asarray(cell["summary"]["mean"]), np.asarray(cell["summary"]["stderr"])
        old_mean, old_error = np.asarray(old["summary"]["mean"]), np.asarray(old["summary"]["stderr"])
        if mean.shape != old_mean.shape:
            result.changes.append((label, "generations changed", f"{old_mean.size - 1} -> {mean.size - 1}"))
            continue
        tolerance = TV_Z * np.hypot(error, old_error) + 1e-9
        moved = np.flatnonzero(np.abs(mean - old_mean) > tolerance)
        for generation in moved:
            result.changes.append((label, "mean TV moved", f"generation {generation}: {old_mean[generation]:.5f} -> {mean[generation]:.5f} (tolerance {tolerance[generation]:.5f})"))
        for name in sorted(set(checks) ^ set(old_checks)):
            result.changes.append((label, "check appeared or vanished", f"{name[0]} ({name[1]} bound)"))
        for name in sorted(set(checks) & set(old_checks)):
            if checks[name]["status"] != "rigorous":
                continue
            bound, old_bound = np.asarray(checks[name]["values"]), np.asarray(old_checks[name]["values"])
            changed = np.flatnonzero(np.abs(bound - old_bound) > BOUND_RTOL * np.abs(old_bound) + 1e-15)
            for generation in changed:
                result.changes.append((label, f"{name[0]} bound changed", f"generation {generation}: {old_bound[generation]:.10g} -> {bound[generation]:.10g}"))
    return result
