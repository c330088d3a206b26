"""CI regression: compare a fresh results document with a committed baseline, cell by cell.

**Exact mode** (default). ``scloop check`` reruns the baseline's suite with the
baseline's seed, so an unchanged harness reproduces every number. Each of them is
compared to a relative tolerance of ``FLOAT_RTOL`` (1e-9, which only absorbs
floating-point differences between platforms): every replicate's TV at every
generation, every value of every claim's record in every cell (bound sides, their terms,
per-run certificates, the laws' moments) and each bound verdict's p-value, and every
number of every claim's suite-wide record (the calibrated constants, Li et al.'s fitted
exponents, the phase curves, a plugin claim's; a claim whose record is an ill-conditioned fit of its cells'
values states a wider ``record_rtol``). Any change in a simulator, a bound or a claim is therefore a named,
readable difference.

**Statistical mode** (``--statistical``), for a baseline made with other seeds or
on another platform. A mean TV fails only if it moved by more than ``TV_Z``
combined standard errors, :math:`|\\bar x - \\bar x_0| > z\\sqrt{s^2 + s_0^2}`; rigorous
bounds (deterministic functions of the setting) still compare to ``FLOAT_RTOL``;
calibrated bounds and constants, functions of measured TVs, are covered by their
calibration cells' own TV comparison.

Both modes fail on a newly failing verdict (a bound refuted, a per-run bound violated, a law
rejected), on missing or new cells, and on a claim that appeared or vanished in a cell or is
gone from the run altogether (named).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .claims import CLAIMS
from .legacy import upgrade

__all__ = ["distance", "FLOAT_RTOL", "TV_Z", "CheckResult", "compare"]

TV_Z = 4.0
FLOAT_RTOL = 1e-9
#: Absolute floor of the float comparison (values of TV and bounds are O(0.01-1)).
FLOAT_ATOL = 1e-12


@dataclass
class CheckResult:
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (cell label, what, detail)
    mode: str = "exact"

    @property
    def passed(self) -> bool:
        return not self.changes

    def markdown(self) -> str:
        if self.passed:
            return f"scloop check ({self.mode}): every cell matches the baseline."
        cells = len({label for label, _, _ in self.changes})
        lines = [
            f"scloop check ({self.mode}): {len(self.changes)} change(s) in {cells} cell(s) against the baseline",
            "",
            "| cell | change | detail |",
            "|---|---|---|",
        ]
        lines += [f"| {label} | {what} | {detail} |" for label, what, detail in self.changes]
        return "\n".join(lines)


def _index(document: dict) -> dict[str, dict]:
    return {cell["key"]: cell for cell in document["cells"]}


def _moved(now, before, rtol: float = FLOAT_RTOL) -> np.ndarray:
    """Indices (flattened) where two arrays differ beyond floating-point noise (relative ``rtol``)."""
    now, before = np.asarray(now, dtype=float), np.asarray(before, dtype=float)
    return np.flatnonzero(~np.isclose(now, before, rtol=rtol, atol=FLOAT_ATOL).ravel())


def _exact_array(result: CheckResult, label: str, what: str, now, before, describe, rtol: float = FLOAT_RTOL) -> None:
    now, before = np.asarray(now, dtype=float), np.asarray(before, dtype=float)
    if now.shape != before.shape:
        result.changes.append((label, f"{what}: shape changed", f"{before.shape} -> {now.shape}"))
        return
    moved = _moved(now, before, rtol)
    if moved.size:
        worst = moved[np.argmax(np.abs(now.ravel()[moved] - before.ravel()[moved]))]
        result.changes.append(
            (
                label,
                what,
                f"{moved.size} value(s) moved, largest at {describe(worst)}: {before.ravel()[worst]:.10g} -> {now.ravel()[worst]:.10g}",
            )
        )


def _where(shape: tuple[int, ...]):
    """How to name a flat index of an array of ``shape``: per generation, or per replicate and generation."""
    if len(shape) == 2:
        return lambda k: f"replicate {k // shape[1]}, generation {k % shape[1]}"
    return lambda k: f"generation {k}"


def _verdict_detail(verdict: dict) -> tuple[str, str]:
    """(what failed, detail) of a refuted verdict, by its kind."""
    if verdict["kind"] == "bound":
        return "newly refuted", f"p = {verdict['p_value']:.3g} at generation {verdict['worst_generation']}"
    if verdict["kind"] == "per_run":
        return "newly violated", f"{verdict['runs'] - verdict['runs_held']} run(s) with TV above the per-run bound"
    if verdict["kind"] == "law":
        return "newly rejected", f"|z| {verdict['max_abs_z']:.2f}, limit {verdict['z_limit']:g}"
    return "newly refuted", verdict.get("text", "")


def _name(record: dict, value: str) -> str:
    """How a claim's value is named in a change: a bound side by its label, anything else by the claim and value."""
    return f"{record['labels'][value]} bound" if value in record.get("labels", {}) else f"{record['label']} {value}"


def _compare_claims(result: CheckResult, label: str, claims: dict, old_claims: dict, statistical: bool) -> None:
    """Every claim record of a cell: newly failing verdicts, claims that appeared or vanished, and (exactly, or in
    statistical mode only the rigorous bound sides) every value the baseline has."""
    for name, record in claims.items():
        before = (old_claims.get(name) or {}).get("verdicts", {})
        for part, verdict in record["verdicts"].items():
            if verdict["outcome"] == "refuted" and (before.get(part) or {}).get("outcome") != "refuted":
                what, detail = _verdict_detail(verdict)
                result.changes.append((label, f"{record['labels'].get(part, record['label'])} {what}", detail))
    for name in sorted(set(claims) ^ set(old_claims)):
        record = claims.get(name) or old_claims[name]
        result.changes.append((label, "claim appeared or vanished", f"{name} ({record['label']})"))
    for name in sorted(set(claims) & set(old_claims)):
        record, before = claims[name], old_claims[name]
        sides = [part for part, verdict in before["verdicts"].items() if verdict["kind"] == "bound"]
        if statistical and record["status"] != "rigorous":
            continue
        for value in sides if statistical else list(before["values"]):
            if value not in record["values"]:
                result.changes.append((label, f"{_name(before, value)} vanished", "in the baseline, not in this run"))
                continue
            now, old = np.asarray(record["values"][value], dtype=float), before["values"][value]
            _exact_array(result, label, f"{_name(record, value)} changed", now, old, _where(now.shape))
        if not statistical:
            for part in sides:
                if part in record["verdicts"]:
                    _exact_array(
                        result,
                        label,
                        f"{record['labels'][part]} p-value changed",
                        [record["verdicts"][part]["p_value"]],
                        [before["verdicts"][part]["p_value"]],
                        lambda k: "the cell",
                    )


def _compare_cell(result: CheckResult, cell: dict, old: dict, statistical: bool) -> None:
    label = cell["label"]
    generations = len(cell["summary"]["mean"])
    _compare_claims(result, label, cell.get("claims") or {}, old.get("claims") or {}, statistical)
    if statistical:
        mean, error = np.asarray(cell["summary"]["mean"]), np.asarray(cell["summary"]["stderr"])
        old_mean, old_error = np.asarray(old["summary"]["mean"]), np.asarray(old["summary"]["stderr"])
        if mean.shape != old_mean.shape:
            result.changes.append((label, "generations changed", f"{old_mean.size - 1} -> {mean.size - 1}"))
            return
        tolerance = TV_Z * np.hypot(error, old_error) + 1e-9
        for generation in np.flatnonzero(np.abs(mean - old_mean) > tolerance):
            result.changes.append(
                (
                    label,
                    "mean TV moved",
                    f"generation {generation}: {old_mean[generation]:.5f} -> {mean[generation]:.5f} (tolerance {tolerance[generation]:.5f})",
                )
            )
    else:
        _exact_array(
            result,
            label,
            "per-replicate TV changed" if cell["tv"] is not None else "per-replicate TV witness changed",
            distance(cell),
            distance(old),
            lambda k: f"replicate {k // generations}, generation {k % generations}",
        )


def distance(cell: dict) -> list:
    """A cell's per-replicate distance to the truth: its TV, or a sample-only cell's TV witnesses."""
    return cell["tv"] if cell["tv"] is not None else (cell.get("measured") or {})["tv_lower"]


def _leaves(record, path: str = "") -> dict[str, float]:
    """The numeric leaves of a JSON record by path (``C1``, ``cells[0].tv_upper``); booleans and text are left out."""
    if isinstance(record, dict):
        return {
            k: v
            for key, value in record.items()
            for k, v in _leaves(value, f"{path}.{key}" if path else str(key)).items()
        }
    if isinstance(record, list):
        return {k: v for index, value in enumerate(record) for k, v in _leaves(value, f"{path}[{index}]").items()}
    if isinstance(record, (int, float)) and not isinstance(record, bool):
        return {path: float(record)}
    return {}


def _compare_suite_records(result: CheckResult, current: dict, baseline: dict) -> None:
    """Every claim's suite-wide record (the calibration, Li et al.'s exponents, the phase transition, a plugin's),
    number by number; a claim of the baseline that is gone is named."""
    now, before = current.get("claims") or {}, baseline.get("claims") or {}
    for name in sorted(set(before) - set(now)):
        result.changes.append((f"claim {name}", "gone", "the baseline has its suite-wide record, this run has none"))
    for name in sorted(set(now) & set(before)):
        leaves, old_leaves = _leaves(now[name]), _leaves(before[name])
        rtol = (CLAIMS[name].record_rtol if name in CLAIMS else None) or FLOAT_RTOL  # a fit says how ill-conditioned
        for path in sorted(set(leaves) | set(old_leaves)):
            _exact_array(
                result,
                f"claim {name}",
                f"{path} changed",
                [leaves.get(path, np.nan)],
                [old_leaves.get(path, np.nan)],
                lambda k: path,
                rtol,
            )


def _gone_claims(current: dict, baseline: dict) -> list[str]:
    """Claims that the baseline's cells have and no cell of this run has."""

    def present(document: dict) -> set[str]:
        return {name for cell in document["cells"] for name in (cell.get("claims") or {})}

    return sorted(present(baseline) - present(current))


def compare(current: dict, baseline: dict, *, statistical: bool = False) -> CheckResult:
    """Cell-by-cell comparison of two results documents of the same suite (exact unless ``statistical``); a document
    of an earlier format is read through :func:`selfloop.reports.legacy.upgrade`."""
    current, baseline = upgrade(current), upgrade(baseline)
    result = CheckResult(mode="statistical" if statistical else "exact")
    for name in _gone_claims(current, baseline):
        result.changes.append(
            (f"claim {name}", "gone", "the baseline checks it in some cell; no cell of this run does")
        )
    now, before = _index(current), _index(baseline)
    for key in sorted(set(before) - set(now)):
        result.changes.append((before[key]["label"], "missing now", "cell is in the baseline but not in this run"))
    for key in sorted(set(now) - set(before)):
        result.changes.append((now[key]["label"], "new cell", "cell is not in the baseline"))
    for key in sorted(set(now) & set(before)):
        _compare_cell(result, now[key], before[key], statistical)
    if not statistical:
        _compare_suite_records(result, current, baseline)
    return result
