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

and the document's ``claims`` holds each claim's suite-wide record. :func:`upgrade` reads the documents of earlier
formats into this one.
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np

from selfloop.testing import ALPHA

from .claims import CLAIMS, Cell
from .models import describe_model_spec
from .records import CellRecord, CellResult
from .verdicts import bound_outcome, law_verdict, per_run_verdict, replicate_mean

__all__ = ["FORMAT", "assemble", "describe_cell", "describe_model", "describe_scenario", "package_version", "upgrade"]
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
    for claim in CLAIMS.values():
        if claim.id in result.claims:  # decided where the cell ran
            record.claims[claim.id] = result.claims[claim.id]
            continue
        if not claim.decided_on(cell):
            continue
        if claim.needs_suite:  # or registered after this cell ran (a cached cell): evaluated and decided now
            cell.suite = prepared[claim.id]
        values = claim.evaluate(cell)
        if values:
            record.claims[claim.id] = claim.record(values, cell)
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


# ----------------------------------------------------------------------------------- earlier formats
#: The claim id of each display label, for documents written before records carried an id.
LEGACY_IDS = {
    "Theorem K": "theorem_k",
    "second-moment": "second_moment",
    "Jensen lower": "second_moment",
    "Theorem D": "theorem_d",
    "Gaussian MLE": "gaussian_mle",
}
#: Where each value of a format-2 cell moved: (old key, old name) -> (claim id, value name).
_MOVED_VALUES = {
    ("slack", "bias"): ("theorem_k", "bias"),
    ("slack", "sampling_bound"): ("theorem_k", "sampling"),
    ("slack", "sampling_measured"): ("theorem_k", "sampling_measured"),
    ("slack", "sampling_stderr"): ("theorem_k", "sampling_stderr"),
    ("slack", "propagated_measured"): ("theorem_k", "propagated_measured"),
    ("predictors", "folded_normal"): ("second_moment", "folded_normal"),
    ("diffusion_steps", "eps_measured"): ("theorem_d", "eps_measured"),
    ("diffusion_steps", "eps_stderr"): ("theorem_d", "eps_stderr"),
    ("diffusion_steps", "eps_calibrated"): ("theorem_d", "eps_calibrated"),
    ("diffusion_steps", "lemma_r_measured"): ("theorem_d", "lemma_r_measured"),
}


def _upgrade_cell(cell: dict) -> dict:
    """A format-1 or format-2 cell in today's form."""
    cell = dict(cell)
    claims: dict[str, dict] = {}
    for record in cell.pop("checks", []):
        name = record.get("theorem") or LEGACY_IDS.get(record["label"], record["label"])
        claim = claims.setdefault(
            name,
            {
                "label": record["label"],
                "labels": {},
                "status": record["status"],
                "outside_theory": record["outside_theory"],
                "values": {},
                "verdicts": {},
            },
        )
        if record["side"] == "upper":
            claim["label"] = record["label"]
        claim["labels"][record["side"]] = record["label"]
        claim["values"][record["side"]] = record["values"]
        claim["verdicts"][record["side"]] = {
            "kind": "bound",
            **record["verdict"],
            "outcome": bound_outcome(record["verdict"]),
        }
    for (key, old), (name, new) in _MOVED_VALUES.items():
        value = (cell.get(key) or {}).get(old)
        if value is not None and name in claims:
            claims[name]["values"][new] = value
    tv = np.asarray(cell["tv"], dtype=float)
    for key, name, label, extra in (
        ("certificate", "theorem_g", "Theorem G", None),
        ("lemma_r_certified", "theorem_d_certified", "Theorem D, certified", "certified_one_step"),
    ):
        if cell.get(key) is not None and cell["spec"]["kind"] == "loop":  # where the claims apply
            values = {"upper": cell[key]} | ({extra: cell[extra]} if extra and cell.get(extra) is not None else {})
            claims[name] = {
                "label": label,
                "labels": {"upper": label},
                "status": "rigorous",
                "outside_theory": False,
                "values": values,
                "verdicts": {"per_run": per_run_verdict(tv, cell[key])},
            }
    law = cell.get("mle_law")
    if law:
        values = {
            f"{q}_{part}": law[q][part] for q in ("variance", "mean_offset") for part in ("measured", "stderr", "law")
        }
        claims["mle_laws"] = {
            "label": "Gaussian MLE laws",
            "labels": {},
            "status": "exact law",
            "outside_theory": False,
            "values": values,
            "verdicts": {q: law_verdict(law[q]["max_abs_z"]) for q in ("variance", "mean_offset")},
        }
    cell["measured"] = {
        key: cell[key]
        for key in ("one_step", "certificate", "certified_one_step", "score_error")
        if cell.get(key) is not None
    }
    for key in (
        "slack",
        "predictors",
        "diffusion_steps",
        "certificate",
        "lemma_r_certified",
        "certified_one_step",
        "one_step",
        "score_error",
        "mle_law",
        "certificate_held",
        "lemma_r_held",
    ):
        cell.pop(key, None)
    cell["claims"] = claims
    return cell


def _upgrade_rate(rate: dict) -> dict:
    text = rate["verdict"]
    positions = [
        "slower than claimed" if "slower" in part else "faster than claimed" if "faster" in part else "inside"
        for part in text.split("; ")
    ]
    verdict = {
        "kind": "rate",
        "claimed": [0.4, 0.8],
        "size": positions[0],
        "width": positions[1],
        "outcome": "refuted" if "slower than claimed" in positions else "held",
        "text": text,
    }
    return {**rate, "verdict": verdict}


def upgrade(document: dict) -> dict:
    """A results document of an earlier format in today's form (a copy; a current one is returned as it is).

    Format 2 (and 1, before records carried ids) kept bound records under each cell's ``checks`` and the claims'
    other values in keys of their own (``slack``, ``certificate``, ``mle_law``, ...), and the suite-wide records in
    ``calibration``, ``rates`` and ``phase``: each moves into its claim's record.
    """
    if document.get("format", 1) >= FORMAT:
        return document
    document = dict(document)
    document["cells"] = [_upgrade_cell(cell) for cell in document["cells"]]
    claims = {}
    if document.get("calibration"):
        claims["theorem_d"] = document.pop("calibration")
    if document.get("rates"):
        claims["li_rate"] = [_upgrade_rate(rate) for rate in document.pop("rates")]
    phase = document.pop("phase", None)
    if phase:
        claims["theorem_p"] = {
            **phase,
            "bounds": {LEGACY_IDS.get(k, k): v for k, v in (phase.get("bounds") or {}).items()},
        }
    document.pop("calibration", None)
    document.pop("rates", None)
    document["claims"] = claims
    document["format"] = FORMAT
    return document
