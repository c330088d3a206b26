"""Conformance of a claim, in the spirit of scikit-learn's ``check_estimator``: :func:`check_claim` runs a registered
claim on a tiny suite and checks that what it records is what the report and ``scloop check`` can rely on.

A claim of your own (docs/extending.md) passes it before it goes into a suite::

    from selfloop.testing import check_claim

    check_claim(MyClaim())  # registered; raises AssertionError naming what is wrong
"""

from __future__ import annotations

import fnmatch
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ClaimConformance", "check_claim", "check_claims", "conformance_cells"]

#: The keys of a cell's record of a claim in results.json.
RECORD_KEYS = {"label", "labels", "status", "outside_theory", "values", "verdicts"}


@dataclass(frozen=True)
class ClaimConformance:
    """What :func:`check_claim` checked: the claim's records (cells with one), its verdicts by outcome, its claims-table
    rows and whether it has a suite-wide record."""

    claim: str
    records: int
    outcomes: dict[str, int]
    rows: int
    summary: bool


def conformance_cells() -> list[dict]:
    """A tiny suite on which every built-in claim has cells: the quick suite at 8 replicates a cell, a 3 x 3 grid of Li et al.'s rate (the
    least its fit takes), and small cells of the second round's laws (a curated loop fully synthetic and with real
    data, a weighted Gaussian loop, the Poisson and logistic risk ratio)."""
    from selfloop.reports import get_suite
    from selfloop.reports.builders import rate_cells
    from selfloop.reports.second_round import curated_cells, risk_ratio_cells, weighted_cells

    return (
        [{**cell, "replicates": min(cell["replicates"], 8)} for cell in get_suite("quick")]  # records, not power
        + rate_cells(truths=["bimodal_1d"], sizes=(200, 400, 800), widths=(32, 64, 128), steps=20, replicates=2)
        + curated_cells(size=12, generations=3, replicates=24)
        + weighted_cells(real=6, synthetic=6, generations=3, replicates=24, weights=(0.618,))
        + risk_ratio_cells(
            size=10, logistic_size=80, generations=3, replicates=24, logistic_replicates=12, bernoulli=False
        )
    )


def check_claim(claim, cells: list[dict] | None = None, *, cache: Path | None = None, workers: int = 1):
    """Run the registered ``claim`` on ``cells`` (default :func:`conformance_cells`) and check what it records.

    Checked: the claim is registered, an instance of its class under its id (the sweep's workers see only registered
    claims), and some cell records it or it has a suite-wide record; every record has the keys of results.json, values
    of named numbers and verdicts of a known kind and outcome (a law's z-score and its limit, a bound's power); the
    document survives a JSON round trip unchanged and assembling the same results twice gives the same document; its
    claims-table rows are six strings each; its headline and section are lines, the same from the round-tripped
    document, and every figure the section writes is one it declares (:attr:`selfloop.reports.Claim.figures`) and
    links.

    Parameters
    ----------
    claim : selfloop.reports.Claim
        A registered claim.
    cells : list of dict, optional
        Cell specifications to run; a claim of your own passes cells it applies to.
    cache : Path, optional
        A folder for the cells' results (reused across calls: each cell runs once); default a temporary one.
    workers : int
        Worker processes for the cells.

    Returns
    -------
    ClaimConformance

    Raises
    ------
    AssertionError
        Naming the claim and what failed.
    """
    return check_claims([claim], cells, cache=cache, workers=workers)[claim.id]


def check_claims(
    claims, cells: list[dict] | None = None, *, cache: Path | None = None, workers: int = 1
) -> dict[str, ClaimConformance]:
    """:func:`check_claim` for each of ``claims``, on one run and one assembly of ``cells``; by claim id."""
    from selfloop.reports import CLAIMS, Claim, assemble, run_suite

    for claim in claims:
        if not isinstance(claim, Claim):
            raise TypeError(f"claim must be a selfloop.reports.Claim, got {type(claim).__name__}")
        if claim.id not in CLAIMS or type(CLAIMS.get(claim.id)) is not type(claim):
            raise AssertionError(f"claim {claim.id!r}: not registered (register_claim), so no worker would evaluate it")
    cells = conformance_cells() if cells is None else cells
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) if cache is None else Path(cache)
        results, _ = run_suite(cells, 0, folder / "cells", workers)
        document = assemble(results, suite="conformance", seed=0)
        text = json.dumps(document)
        deterministic = json.dumps(assemble(results, suite="conformance", seed=0)) == text
        round_trip = json.loads(text)
        out = {}
        for claim in claims:
            _require(claim, deterministic, "assembling the same results twice gave two documents")
            _require(claim, json.dumps(round_trip) == text, "its records do not survive a JSON round trip")
            out[claim.id] = _conformance(claim, document, round_trip, Path(scratch) / claim.id)
    return out


def _conformance(claim, document: dict, round_trip: dict, scratch: Path) -> ClaimConformance:
    """One claim's checks on an assembled ``document`` and its JSON round trip; its section written under ``scratch``."""
    from selfloop.reports.records import ResultsDocument

    records = [cell["claims"][claim.id] for cell in document["cells"] if claim.id in (cell.get("claims") or {})]
    summary = (document.get("claims") or {}).get(claim.id)
    _require(claim, bool(records) or summary is not None, "no cell recorded it and it has no suite-wide record")
    outcomes: dict[str, int] = {}
    for record in records:
        for verdict in _checked_record(claim, record):
            outcomes[verdict["outcome"]] = outcomes.get(verdict["outcome"], 0) + 1
    typed, typed_again = ResultsDocument.from_dict(document), ResultsDocument.from_dict(round_trip)  # as hooks see them
    rows = claim.rows(typed)
    _require(claim, all(len(row) == 6 and all(isinstance(x, str) for x in row) for row in rows), "rows not 6 strings")
    _require(claim, claim.rows(typed_again) == rows, "rows differ on the round-tripped document")
    lines = claim.headline(typed)
    _require(claim, _lines(lines), "headline is not a list of strings")
    _require(claim, claim.headline(typed_again) == lines, "headline differs on the round-tripped document")
    first, second = scratch / "section", scratch / "section_again"
    for folder in (first, second):
        folder.mkdir(parents=True)
    lines = claim.section(typed, first)
    _require(claim, _lines(lines), "section is not a list of strings")
    _require(claim, claim.section(typed_again, second) == lines, "section differs on the round-tripped document")
    _check_figures(claim, lines, first)
    return ClaimConformance(claim.id, len(records), outcomes, len(rows), summary is not None)


def _require(claim, condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(f"claim {claim.id!r}: {what}")


def _lines(lines) -> bool:
    return isinstance(lines, list) and all(isinstance(line, str) for line in lines)


def _checked_record(claim, record: dict) -> list[dict]:
    """A cell's record of the claim: its keys, values and verdicts; returns the verdicts."""
    from selfloop.reports.verdicts import OUTCOMES

    _require(claim, set(record) == RECORD_KEYS, f"a record has keys {sorted(record)}, not {sorted(RECORD_KEYS)}")
    _require(claim, isinstance(record["values"], dict) and bool(record["values"]), "a record has no values")
    for name, value in record["values"].items():
        _require(claim, _numeric(value), f"value {name!r} is not numbers")
    _require(claim, bool(record["verdicts"]), "a record has no verdicts")
    for name, verdict in record["verdicts"].items():
        _require(claim, verdict.get("outcome") in OUTCOMES, f"verdict {name!r} has outcome {verdict.get('outcome')!r}")
        kind = verdict.get("kind")
        fields: tuple[str, ...]
        if kind == "law":
            fields = ("max_abs_z", "z_limit")
        elif kind == "bound":
            fields = ("refuted", "p_value", "detectable_ratio")
        elif kind == "per_run":
            fields = ("runs", "runs_held")
        else:
            fields = ()
        missing = [field for field in fields if field not in verdict]
        _require(claim, kind is not None and not missing, f"verdict {name!r} (kind {kind!r}) lacks {missing}")
    return list(record["verdicts"].values())


def _numeric(value) -> bool:
    """A number, or nested lists of numbers (NaN allowed: JSON's NaN)."""
    if isinstance(value, bool):
        return True
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, list) and all(_numeric(item) for item in value)


def _check_figures(claim, lines: list[str], out: Path) -> None:
    """Every file the section wrote is declared in ``claim.figures`` and linked from its lines, and every link
    exists."""
    written = sorted(path.name for path in out.iterdir())
    linked = set(re.findall(r"\]\(([^)]+)\)", "\n".join(lines)))
    for name in written:
        declared = any(fnmatch.fnmatch(name, pattern) for pattern in claim.figures)
        _require(claim, declared, f"its section wrote {name}, which figures = {claim.figures!r} does not declare")
        _require(claim, name in linked, f"its section wrote {name} without linking it")
    for name in linked:
        _require(claim, (out / name).exists(), f"its section links {name}, which it did not write")
