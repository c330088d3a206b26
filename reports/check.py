"""CI regression: compare a fresh results document with a committed baseline, cell by cell.

**Exact mode** (default). ``scloop check`` reruns the baseline's suite with the
baseline's seed, so an unchanged harness reproduces every number. Each of them is
compared to a relative tolerance of ``FLOAT_RTOL`` (1e-9, which only absorbs
floating-point differences between platforms): every replicate's TV at every
generation, every check's bound values and verdict, the calibrated constants, the
phase curve, the measured slack terms, Theorem G's per-run certificates and Li et al.'s
fitted exponents. Any change in a simulator or a bound is
therefore a named, readable difference.

**Statistical mode** (``--statistical``), for a baseline made with other seeds or
on another platform. A mean TV fails only if it moved by more than ``TV_Z``
combined standard errors, :math:`|\\bar x - \\bar x_0| > z\\sqrt{s^2 + s_0^2}`; rigorous
bounds (deterministic functions of the setting) still compare to ``FLOAT_RTOL``;
calibrated bounds and constants, functions of measured TVs, are covered by their
calibration cells' own TV comparison.

Both modes fail on a newly refuted bound and on missing or new cells or checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .assemble import upgrade

__all__ = ["FLOAT_RTOL", "TV_Z", "CheckResult", "compare"]

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


def _moved(now, before) -> np.ndarray:
    """Indices (flattened) where two arrays differ beyond floating-point noise."""
    now, before = np.asarray(now, dtype=float), np.asarray(before, dtype=float)
    return np.flatnonzero(~np.isclose(now, before, rtol=FLOAT_RTOL, atol=FLOAT_ATOL).ravel())


def _exact_array(result: CheckResult, label: str, what: str, now, before, describe) -> None:
    now, before = np.asarray(now, dtype=float), np.asarray(before, dtype=float)
    if now.shape != before.shape:
        result.changes.append((label, f"{what}: shape changed", f"{before.shape} -> {now.shape}"))
        return
    moved = _moved(now, before)
    if moved.size:
        worst = moved[np.argmax(np.abs(now.ravel()[moved] - before.ravel()[moved]))]
        result.changes.append(
            (
                label,
                what,
                f"{moved.size} value(s) moved, largest at {describe(worst)}: {before.ravel()[worst]:.10g} -> {now.ravel()[worst]:.10g}",
            )
        )


def _by_theorem(cell: dict) -> dict[tuple[str, str], dict]:
    """A cell's bound records by (theorem id, side)."""
    return {(c["theorem"], c["side"]): c for c in cell.get("checks", [])}


def _held_everywhere(cell: dict, key: str) -> bool:
    held = cell.get(key)
    return held is None or bool(np.all(held))


def _compare_cell(result: CheckResult, cell: dict, old: dict, statistical: bool) -> None:
    label = cell["label"]
    generations = len(cell["summary"]["mean"])
    checks, old_checks = _by_theorem(cell), _by_theorem(old)
    for name, check in checks.items():
        before_check = old_checks.get(name)
        if check["verdict"]["refuted"] and not (before_check and before_check["verdict"]["refuted"]):
            result.changes.append(
                (
                    label,
                    f"{check['label']} newly refuted",
                    f"p = {check['verdict']['p_value']:.3g} at generation {check['verdict']['worst_generation']}",
                )
            )
    for key, what in (("certificate_held", "Theorem G"), ("lemma_r_held", "Lemma R on certified eps")):
        if not _held_everywhere(cell, key) and _held_everywhere(old, key):
            runs = int(np.sum(~np.all(np.asarray(cell[key]), axis=1)))
            result.changes.append((label, f"{what} newly violated", f"{runs} run(s) with TV above the per-run bound"))
    law, old_law = cell.get("mle_law"), old.get("mle_law")
    if law and not law["holds"] and (old_law is None or old_law.get("holds", True)):
        result.changes.append((label, "Gaussian MLE law newly rejected", f"|z| limit {law['z_limit']:g}"))
    for name in sorted(set(checks) ^ set(old_checks)):
        result.changes.append((label, "check appeared or vanished", f"{name[0]} ({name[1]} bound)"))
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
            "per-replicate TV changed",
            cell["tv"],
            old["tv"],
            lambda k: f"replicate {k // generations}, generation {k % generations}",
        )
    for name in sorted(set(checks) & set(old_checks)):
        if statistical and checks[name]["status"] != "rigorous":
            continue
        _exact_array(
            result,
            label,
            f"{checks[name]['label']} bound changed",
            checks[name]["values"],
            old_checks[name]["values"],
            lambda k: f"generation {k}",
        )
        if not statistical:
            _exact_array(
                result,
                label,
                f"{checks[name]['label']} p-value changed",
                [checks[name]["verdict"]["p_value"]],
                [old_checks[name]["verdict"]["p_value"]],
                lambda k: "the cell",
            )
    if not statistical and (cell.get("slack") or old.get("slack")):
        for part in ("bias", "sampling_measured", "sampling_bound", "propagated_measured"):
            _exact_array(
                result,
                label,
                f"slack term {part} changed",
                (cell.get("slack") or {}).get(part, []),
                (old.get("slack") or {}).get(part, []),
                lambda k: f"generation {k}",
            )
    if not statistical and (cell.get("diffusion_steps") or old.get("diffusion_steps")):
        for part in ("eps_measured", "eps_calibrated", "lemma_r_measured"):
            now_steps, old_steps = cell.get("diffusion_steps") or {}, old.get("diffusion_steps") or {}
            _exact_array(
                result,
                label,
                f"one-step term {part} changed",
                now_steps.get(part, []),
                old_steps.get(part, []),
                lambda k: f"generation {k}",
            )
    for part in ("certificate", "lemma_r_certified"):  # Theorem G, per run: a function of each run's fit
        if not statistical and (cell.get(part) is not None or old.get(part) is not None):
            _exact_array(
                result,
                label,
                f"Theorem G {part} changed",
                cell.get(part) or [],
                old.get(part) or [],
                lambda k: f"replicate {k // generations}, generation {k % generations}",
            )


def _families(calibration: dict | None) -> dict:
    """Theorem D calibrations by model family; a document from before families (one ``C1``, ``C2``) is one unnamed family."""
    calibration = calibration or {}
    return {"(one calibration for every diffusion cell)": calibration} if "C1" in calibration else calibration


def _compare_scalars(result: CheckResult, label: str, now: dict, before: dict, names: tuple[str, ...]) -> None:
    """Named scalars of keyed entries (a family's constants, a fit's exponents), exactly; a missing entry counts as NaN."""
    for key in sorted(set(now) | set(before)):
        current, old = now.get(key) or {}, before.get(key) or {}
        for name in names:
            _exact_array(
                result,
                label.format(key),
                f"{name} changed",
                [current.get(name, np.nan)],
                [old.get(name, np.nan)],
                lambda k: name,
            )


def compare(current: dict, baseline: dict, *, statistical: bool = False) -> CheckResult:
    """Cell-by-cell comparison of two results documents of the same suite (exact unless ``statistical``); a document
    written before the theorems had ids is read through :func:`selfloop.reports.assemble.upgrade`."""
    current, baseline = upgrade(current), upgrade(baseline)
    result = CheckResult(mode="statistical" if statistical else "exact")
    now, before = _index(current), _index(baseline)
    for key in sorted(set(before) - set(now)):
        result.changes.append((before[key]["label"], "missing now", "cell is in the baseline but not in this run"))
    for key in sorted(set(now) - set(before)):
        result.changes.append((now[key]["label"], "new cell", "cell is not in the baseline"))
    for key in sorted(set(now) & set(before)):
        _compare_cell(result, now[key], before[key], statistical)
    if not statistical:
        calibration, old_calibration = _families(current.get("calibration")), _families(baseline.get("calibration"))
        _compare_scalars(result, "Theorem D calibration ({})", calibration, old_calibration, ("C1", "C2"))
        rates = {f"{r['family']}, {r['truth']}": r for r in current.get("rates") or []}
        old_rates = {f"{r['family']}, {r['truth']}": r for r in baseline.get("rates") or []}
        _compare_scalars(result, "Li et al.'s rate ({})", rates, old_rates, ("size_exponent", "width_exponent"))
        phase, old_phase = current.get("phase") or {}, baseline.get("phase") or {}
        if phase or old_phase:
            _exact_array(
                result,
                "phase transition",
                "mean TV curve changed",
                phase.get("mean", []),
                old_phase.get("mean", []),
                lambda k: f"m = {(phase.get('synthetic') or [0] * (k + 1))[k]}",
            )
            curves, old_curves = phase.get("bounds") or {}, old_phase.get("bounds") or {}
            for theorem in sorted(set(curves) | set(old_curves)):
                _exact_array(
                    result,
                    "phase transition",
                    f"{theorem} bound curve changed",
                    (curves.get(theorem) or {}).get("values", []),
                    (old_curves.get(theorem) or {}).get("values", []),
                    lambda k: f"m = {(phase.get('synthetic') or [0] * (k + 1))[k]}",
                )
    return result
