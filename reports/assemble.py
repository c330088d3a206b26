"""From raw cell results to the results document: every registered claim's values and verdicts, per cell and suite-wide.

The sweep (:func:`selfloop.reports.sweep.run_cell`) measures each cell and evaluates the claims that need nothing but
the cell; here, once every cell is in, the claims that need the whole suite (Theorem D's calibration) are prepared and
evaluated, every claim decides its verdicts (:meth:`selfloop.reports.Claim.decide`), and every claim summarises the
suite (:meth:`selfloop.reports.Claim.summarize`: the calibration, Li et al.'s exponents, the phase transition).
Everything here is a deterministic function of the stored cell results, so ``scloop report --from results.json``
rebuilds the same report without rerunning.

A cell of the document::

    {"key", "spec", "label", "legend", "tv", "real_fraction", "training_size", "seconds", "summary",
     "measured": {field: ...},                      # the loop measures' fields (one_step, certificate, ...)
     "claims": {claim id: {"label", "labels", "status", "outside_theory",
                           "values": {name: ...}, "verdicts": {name: {"kind", "outcome", ...}}}}}

and the document's ``claims`` holds each claim's suite-wide record. :func:`selfloop.reports.legacy.upgrade` reads the
documents of earlier formats into this one.
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np

from selfloop.testing import ALPHA

from .claims import CLAIMS, Cell, record_claims
from .models import describe_model_spec
from .records import CellRecord, CellResult
from .verdicts import replicate_mean

__all__ = ["FORMAT", "assemble", "describe_cell", "describe_model", "describe_scenario", "package_version"]
#: Normal quantile of the two-sided confidence intervals shown for mean TV.
CI_Z = 1.96
#: The results document's format: 3 since claims are units (2: bound records under "checks", by theorem id).
FORMAT = 3


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


def package_version() -> str:
    """The installed distribution's version (``unknown`` when run from a source tree not installed)."""
    try:
        return metadata.version("selfloop")
    except metadata.PackageNotFoundError:
        return "unknown"


def _summary(result: CellResult) -> dict:
    """The replicates' mean TV per generation with its 95% interval; of a sample-only cell, its TV witness (then
    ``quantity`` says so)."""
    witness = result.tv is None
    mean, stderr = replicate_mean(result.measured["tv_lower"] if witness else result.tv)
    collapsed = int(np.count_nonzero(np.asarray(result.measured.get("collapsed_at", [])) >= 0))
    return {
        "mean": mean.tolist(),
        "stderr": stderr.tolist(),
        "ci_low": (mean - CI_Z * stderr).tolist(),
        "ci_high": (mean + CI_Z * stderr).tolist(),
        **({"quantity": "tv_lower"} if witness else {}),
        **({"collapsed": collapsed} if collapsed else {}),
    }


def _record(result: CellResult, prepared: dict) -> CellRecord:
    """One cell's record from its result: every registered claim that applies, evaluated and decided."""
    spec = result.spec.to_dict()
    cell = Cell.from_result(result)
    record = CellRecord(
        result,
        describe_cell(spec),
        f"{describe_model(spec)} {spec['truth']} {describe_scenario(spec)}",
        _summary(result),
    )
    pending = [claim for claim in CLAIMS.values() if claim.id not in result.claims]  # not decided where the cell ran:
    # the claims that need the suite, and any registered after a cached cell ran
    record.claims.update(result.claims)
    record.claims.update(record_claims(cell, pending, prepared))
    record.claims = {claim.id: record.claims[claim.id] for claim in CLAIMS.values() if claim.id in record.claims}
    return record


def assemble(cells: list[CellResult], *, suite: str, seed: int) -> dict:
    """The results document: every cell with its summary and claim records, and every claim's suite-wide record."""
    cells = [CellResult.from_dict(cell) if isinstance(cell, dict) else cell for cell in cells]
    claims = CLAIMS.values()
    prepared = {claim.id: claim.prepare(cells) for claim in claims if claim.needs_suite}
    records = [_record(cell, prepared) for cell in cells]
    summaries = {claim.id: claim.summarize(records, prepared.get(claim.id)) for claim in claims}
    return {
        "format": FORMAT,
        "package_version": package_version(),
        "git_commit": _git_commit(),
        "suite": suite,
        "seed": seed,
        "alpha": ALPHA,
        "cells": [record.to_dict() for record in records],
        "claims": {name: summary for name, summary in summaries.items() if summary},
    }
