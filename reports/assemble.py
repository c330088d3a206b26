"""From raw cell results to the report's numbers: verdicts, calibration, phase transition, results.json.

Everything here is a deterministic function of the stored cell results, so
``scloop report --from results.json`` rebuilds the same report without rerunning.
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np

from selfloop.bounds import calibrate, kde_rate, phase_threshold
from selfloop.bounds.diffusion import calibration_upper
from selfloop.simulators import standard_truth

from selfloop.testing.phase import rise_then_fall

from .checks import ALPHA, CellContext, cell_checks
from .sweep import build_scenario, describe_model_spec

__all__ = ["ALPHA", "assemble", "describe_cell", "describe_model", "describe_scenario"]
#: Normal quantile of the two-sided confidence intervals shown for mean TV.
CI_Z = 1.96


def describe_model(spec: dict) -> str:
    """The model part of a label, e.g. ``kde(h=0.3)`` or ``diffusion(m=64, steps=40)``: as the model's registration describes it."""
    return describe_model_spec(spec["model"])


def describe_scenario(spec: dict) -> str:
    """The scenario's sizes, e.g. ``size=500 real_fraction=0.5``."""
    return " ".join(f"{key}={value}" for key, value in spec["scenario"].items() if key != "kind")


def describe_cell(spec: dict) -> str:
    """A short human label, e.g. ``kde(h=0.3) bimodal_1d mixed_fresh size=500 real_fraction=0.5``."""
    return f"{describe_model(spec)} {spec['truth']} {spec['scenario']['kind']} {describe_scenario(spec)}"


def _git_commit() -> str | None:
    try:
        output = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (output.stdout.strip() or None) if output.returncode == 0 else None


def _version() -> str:
    try:
        return metadata.version("selfloop")
    except metadata.PackageNotFoundError:
        return "unknown"


def _summary(tv: np.ndarray) -> dict:
    mean = tv.mean(axis=0)
    stderr = tv.std(axis=0, ddof=1) / np.sqrt(tv.shape[0]) if tv.shape[0] > 1 else np.zeros_like(mean)
    return {"mean": mean.tolist(), "stderr": stderr.tolist(), "ci_low": (mean - CI_Z * stderr).tolist(), "ci_high": (mean + CI_Z * stderr).tolist()}


def _calibration(cells: list[dict]) -> dict | None:
    """Theorem D's (C1, C2) from the calibration cells: upper confidence (mean + 3 se) of generation-0 TV."""
    chosen = [cell for cell in cells if cell["spec"]["kind"] == "calibration"]
    if not chosen:
        return None
    sizes = [cell["spec"]["scenario"]["size"] for cell in chosen]
    widths = [cell["spec"]["model"]["width"] for cell in chosen]
    upper = []
    for cell in chosen:
        tv = np.asarray(cell["tv"])[:, 0]
        upper.append(calibration_upper(tv))
    bound = calibrate(sizes, widths, upper)
    return {"C1": bound.metadata["C1"], "C2": bound.metadata["C2"], "cells": bound.metadata["calibration"], "method": bound.metadata["method"]}


def _peak(synthetic: list[int], values: list[float]) -> int | None:
    """The m at which a curve over the synthetic amounts peaks (None if it is monotone)."""
    index = int(np.argmax(values))
    return synthetic[index] if 0 < index < len(values) - 1 else None


def _phase(cells: list[dict]) -> dict | None:
    chosen = sorted((cell for cell in cells if cell["spec"]["kind"] == "phase"), key=lambda cell: cell["spec"]["scenario"]["synthetic"])
    if not chosen:
        return None
    real = chosen[0]["spec"]["scenario"]["real"]
    generation = chosen[0]["spec"]["generations"]
    synthetic = [cell["spec"]["scenario"]["synthetic"] for cell in chosen]
    last = [np.asarray(cell["tv"])[:, -1] for cell in chosen]
    means = [float(values.mean()) for values in last]
    errors = [float(values.std(ddof=1) / np.sqrt(values.size)) for values in last]
    alpha = kde_rate(standard_truth(chosen[0]["spec"]["truth"]).dim)  # the rate of the cells' own power-rule bandwidth
    bounds = {}
    for check in ("Theorem K", "second-moment"):
        curve = [next((c["values"][-1] for c in cell.get("checks", []) if c["label"] == check), None) for cell in chosen]
        if all(value is not None for value in curve):
            bounds[check] = {"values": curve, "peak": _peak(synthetic, curve)}
    shape = rise_then_fall(synthetic, last) if len(chosen) >= 3 else None
    return {
        "bounds": bounds,
        "real": real,
        "generation": generation,
        "synthetic": synthetic,
        "mean": means,
        "stderr": errors,
        "empirical_peak": synthetic[int(np.argmax(means))],
        "peak_interval": list(shape.interval) if shape else None,
        "alpha": alpha,
        "threshold": phase_threshold(alpha=alpha, n=real, generation=generation),
        "threshold_generation_1": phase_threshold(alpha=alpha, n=real, generation=1),
        "rises": bool(shape and shape.rises),
        "falls": bool(shape and shape.falls),
        "rises_then_falls": bool(shape and shape.rises_then_falls),
    }


def assemble(cells: list[dict], *, suite: str, seed: int) -> dict:
    """The results document: every cell with its summary, bound and verdict, plus calibration and phase sections."""
    calibration = _calibration(cells)
    out_cells = []
    for cell in cells:
        spec = cell["spec"]
        tv = np.asarray(cell["tv"])
        entry = {key: cell[key] for key in ("key", "spec", "tv", "real_fraction", "training_size", "seconds")}
        entry["label"] = describe_cell(spec)
        entry["legend"] = f"{describe_model(spec)} {spec['truth']} {describe_scenario(spec)}"
        entry["summary"] = _summary(tv)
        entry["checks"] = list(cell.get("checks", []))
        entry["predictors"] = dict(cell.get("predictors", {}))
        entry["slack"] = cell.get("slack")
        if calibration is not None:  # the suite-stage checks (Theorem D) need the suite's calibration
            context = CellContext(spec, standard_truth(spec["truth"]), build_scenario(spec["scenario"]), spec["generations"], calibration=calibration)
            entry["checks"] += cell_checks(tv, context, "suite")
        out_cells.append(entry)
    return {
        "format": 2,
        "package_version": _version(),
        "git_commit": _git_commit(),
        "suite": suite,
        "seed": seed,
        "alpha": ALPHA,
        "cells": out_cells,
        "calibration": calibration,
        "phase": _phase(cells),
    }
