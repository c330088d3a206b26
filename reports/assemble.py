"""From raw cell results to the report's numbers: verdicts, calibration, phase transition, results.json.

Everything here is a deterministic function of the stored cell results, so
``scloop report --from results.json`` rebuilds the same report without rerunning.
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np

from selfloop.bounds import (
    calibrate,
    calibrated_constants,
    fit_rate,
    kde_rate,
    learner_error_bound_for,
    phase_threshold,
    propagate,
)
from selfloop.bounds.diffusion import calibration_upper
from selfloop.bounds.recursion import propagate_scenario
from selfloop.simulators import standard_truth
from selfloop.testing.phase import rise_then_fall

from .sweep import build_scenario, describe_model_spec, diffusion_spec
from .theorems import CellContext, bound_records
from .verdicts import ALPHA, decide, per_run_verdicts

__all__ = ["ALPHA", "LEGACY_THEOREM_IDS", "assemble", "describe_cell", "describe_model", "describe_scenario", "upgrade"]
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
        output = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, timeout=5
        )
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
    return {
        "mean": mean.tolist(),
        "stderr": stderr.tolist(),
        "ci_low": (mean - CI_Z * stderr).tolist(),
        "ci_high": (mean + CI_Z * stderr).tolist(),
    }


#: Bootstrap resamples of the calibration cells' replicates behind the constants' intervals.
CALIBRATION_BOOTSTRAP = 200


def diffusion_family(model: dict) -> str:
    """The model family a Theorem D calibration belongs to: the diffusion spec without its width, e.g. ``li, sde, steps=40, noise_draws=8``."""
    model = diffusion_spec(model)
    return (
        f"{model['parameterization']}, {model['sampler']}, steps={model['steps']}, noise_draws={model['noise_draws']}"
    )


def _calibrate_cells(chosen: list[dict], seed: int = 0) -> dict:
    """(C1, C2) from one family's calibration cells, with a bootstrap 90% interval over their replicates."""
    sizes = [cell["spec"]["scenario"]["size"] for cell in chosen]
    widths = [cell["spec"]["model"]["width"] for cell in chosen]
    samples = [np.asarray(cell["tv"])[:, 0] for cell in chosen]
    bound = calibrate(sizes, widths, [calibration_upper(tv) for tv in samples])
    rng = np.random.default_rng(seed)
    resampled = []
    for _ in range(CALIBRATION_BOOTSTRAP):
        upper = [calibration_upper(tv[rng.integers(0, tv.size, tv.size)]) for tv in samples]
        resampled.append(calibrated_constants(sizes, widths, upper))
    low, high = np.percentile(np.array(resampled), [5, 95], axis=0)
    cells = [dict(entry, truth=cell["spec"]["truth"]) for entry, cell in zip(bound.metadata["calibration"], chosen)]
    return {
        "C1": bound.metadata["C1"],
        "C2": bound.metadata["C2"],
        "C1_interval": [float(low[0]), float(high[0])],
        "C2_interval": [float(low[1]), float(high[1])],
        "cells": cells,
        "method": bound.metadata["method"],
        "tests": [],
    }


def _calibration(cells: list[dict]) -> dict:
    """Theorem D's (C1, C2) per diffusion family, from its calibration cells: upper confidence (mean + 3 se) of generation-0 TV."""
    families: dict[str, list[dict]] = {}
    for cell in cells:
        if cell["spec"]["kind"] == "calibration":
            families.setdefault(diffusion_family(cell["spec"]["model"]), []).append(cell)
    return {family: _calibrate_cells(chosen) for family, chosen in families.items()}


def _rates(cells: list[dict]) -> list[dict]:
    """Li et al.'s rate per diffusion family and truth: exponents of the integrated score error over N x width at
    generation 0 (calibration and rate cells), with 90% bootstrap intervals (:func:`selfloop.bounds.fit_rate`)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for cell in cells:
        if cell["spec"]["kind"] in ("calibration", "rate") and cell.get("score_error") is not None:
            groups.setdefault((diffusion_family(cell["spec"]["model"]), cell["spec"]["truth"]), []).append(cell)
    out = []
    for (family, truth), chosen in sorted(groups.items()):
        sizes = [cell["spec"]["scenario"]["size"] for cell in chosen]
        widths = [cell["spec"]["model"]["width"] for cell in chosen]
        if len(set(sizes)) < 3 or len(set(widths)) < 3:  # four parameters need a 3 x 3 grid at least (fit_rate)
            continue
        fitted = fit_rate(sizes, widths, [np.asarray(cell["score_error"])[:, 0] for cell in chosen])
        out.append(
            {
                "family": family,
                "truth": truth,
                "settings": fitted.settings,
                "replicates": min(len(cell["score_error"]) for cell in chosen),
                "size_exponent": fitted.size_exponent,
                "size_interval": list(fitted.size_interval),
                "width_exponent": fitted.width_exponent,
                "width_interval": list(fitted.width_interval),
                "size_constant": fitted.size_constant,
                "width_constant": fitted.width_constant,
                "verdict": fitted.verdict(),
            }
        )
    return out


def _diffusion_steps(cell: dict, calibration: dict, scenario) -> dict:
    """Lemma R's two claims for one diffusion loop cell, per generation: the measured one-step error eps_i against the
    calibrated eps(N_i), and the measured TV_i against Lemma R applied to the measured eps_i."""
    one_step = np.asarray(cell["one_step"])
    width = cell["spec"]["model"]["width"]
    sizes = np.asarray(cell["training_size"], dtype=float)
    calibrated = learner_error_bound_for(calibration["C1"], calibration["C2"], sizes, width)
    measured = one_step.mean(axis=0)
    parts = {
        "eps_measured": measured,
        "eps_stderr": one_step.std(axis=0, ddof=1) / np.sqrt(one_step.shape[0])
        if one_step.shape[0] > 1
        else np.zeros_like(measured),
        "eps_calibrated": calibrated,
        "lemma_r_measured": propagate_scenario(measured, scenario),
        "mean_tv": np.asarray(cell["tv"]).mean(axis=0),
    }
    return {name: [float(x) for x in values] for name, values in parts.items()}


def _peak(synthetic: list[int], values: list[float]) -> int | None:
    """The m at which a curve over the synthetic amounts peaks (None if it is monotone)."""
    index = int(np.argmax(values))
    return synthetic[index] if 0 < index < len(values) - 1 else None


def _phase(cells: list[dict]) -> dict | None:
    chosen = sorted(
        (cell for cell in cells if cell["spec"]["kind"] == "phase"),
        key=lambda cell: cell["spec"]["scenario"]["synthetic"],
    )
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
    for theorem in ("theorem_k", "second_moment"):
        curve = [
            next(
                (c["values"][-1] for c in cell.get("checks", []) if c["theorem"] == theorem and c["side"] == "upper"),
                None,
            )
            for cell in chosen
        ]
        if all(value is not None for value in curve):
            bounds[theorem] = {"values": curve, "peak": _peak(synthetic, curve)}
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


def _certified_propagation(cell: dict) -> dict:
    """The certified one-step errors of a certified diffusion cell and Lemma R on them, per run (Theorem D, certified).

    Present where every certified eps_i is finite (fresh real data: q_i = lambda p0 + (1 - lambda) p_{i-1}).
    """
    steps = cell.get("certified_one_step")
    if steps is None or not np.all(np.isfinite(np.asarray(steps, dtype=float))):
        return {"certified_one_step": None, "lemma_r_certified": None}
    fractions = np.asarray(cell["real_fraction"], dtype=float)
    propagated = np.minimum(propagate(np.asarray(steps, dtype=float), fractions), 1.0)  # TV <= 1 whatever Lemma R says
    return {"certified_one_step": steps, "lemma_r_certified": propagated.tolist()}


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
        entry["certificate"] = cell.get("certificate") if spec["kind"] == "loop" else None
        entry["one_step"] = cell.get("one_step")
        entry["mle_law"] = cell.get("mle_law")
        entry.update(_certified_propagation(cell))
        if spec["model"]["name"] == "diffusion" and spec["kind"] == "loop":
            family = calibration.get(diffusion_family(spec["model"]))
            if family is not None:  # the calibrated theorems (Theorem D) need the family's calibration
                scenario = build_scenario(spec["scenario"])
                context = CellContext(
                    spec, standard_truth(spec["truth"]), scenario, spec["generations"], calibration=family
                )
                entry["checks"] += bound_records(context, calibrated=True)
                family["tests"].append(
                    {
                        "truth": spec["truth"],
                        "size": spec["scenario"]["size"],
                        "width": spec["model"]["width"],
                        "real_fraction": scenario.real_fraction,
                    }
                )
                if cell.get("one_step") is not None:
                    entry["diffusion_steps"] = _diffusion_steps(cell, family, scenario)
        out_cells.append(decide(entry))
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
        "rates": _rates(cells),
    }


#: The theorem id of each display label, for documents written before records carried their theorem's id.
LEGACY_THEOREM_IDS = {
    "Theorem K": "theorem_k",
    "second-moment": "second_moment",
    "Jensen lower": "second_moment",
    "Theorem D": "theorem_d",
    "Gaussian MLE": "gaussian_mle",
}


def upgrade(document: dict) -> dict:
    """A results document written before the theorems had ids, in today's form (a copy; a current one unchanged).

    Each bound record gets its ``theorem`` id from its label, the phase curves are keyed by id, and a cell without
    Theorem G's per-run verdicts gets them by :func:`selfloop.reports.verdicts.decide`'s rule.
    """
    document = {**document, "cells": [dict(cell) for cell in document["cells"]]}
    for cell in document["cells"]:
        cell["checks"] = [
            {"theorem": LEGACY_THEOREM_IDS.get(record["label"], record["label"]), **record}
            for record in cell.get("checks", [])
        ]
        if "certificate_held" not in cell:
            cell.update(per_run_verdicts(cell))
    phase = document.get("phase")
    if phase and phase.get("bounds"):
        document["phase"] = {**phase, "bounds": {LEGACY_THEOREM_IDS.get(k, k): v for k, v in phase["bounds"].items()}}
    return document
