"""The records of a run, typed: what a worker returns for one cell (:class:`CellResult`), and what the results
document holds for it once the suite is assembled (:class:`CellRecord`, with one :class:`ClaimRecord` per claim).

JSON is only at the edges: a cell result is written to and read from the cell cache, a cell record to and from
results.json, each by ``to_dict`` / ``from_dict``, which round-trip.

Examples
--------
>>> import numpy as np
>>> from selfloop.reports.builders import loop_cells
>>> from selfloop.reports.cells import CellSpec
>>> spec = CellSpec.from_dict(loop_cells(models=[{"name": "kde", "bandwidth": 0.3}], truths=["bimodal_1d"], sizes=[500])[0])
>>> result = CellResult(spec, np.zeros((2, 3)), np.ones(3), np.full(3, 500), {"one_step": np.zeros((2, 3))}, {}, 0.1)
>>> result.key == spec.key
True
>>> CellResult.from_dict(result.to_dict()) == result
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cells import CellSpec

__all__ = ["CellRecord", "CellResult", "ClaimRecord", "ResultsDocument"]


def _arrays(values: dict) -> dict[str, np.ndarray]:
    return {name: np.asarray(value, dtype=float) for name, value in values.items()}


def _lists(values: dict) -> dict[str, list]:
    return {name: np.asarray(value, dtype=float).tolist() for name, value in values.items()}


def _same(first: dict, second: dict) -> bool:
    """Equal names and arrays (NaN equal to NaN)."""
    return first.keys() == second.keys() and all(
        np.array_equal(np.asarray(first[name]), np.asarray(second[name]), equal_nan=True) for name in first
    )


@dataclass
class ClaimRecord:
    """One claim's record in one cell: its values and the verdicts its ``decide`` made of them.

    Attributes
    ----------
    label : str
    labels : dict
        The label of each bound side it has (``upper``, ``lower``).
    status : str
        Rigorous, calibrated, exact law, ...
    outside_theory : bool
    values : dict of ndarray
    verdicts : dict of dict
        Each a JSON-ready verdict with its ``kind`` and ``outcome`` (:mod:`selfloop.reports.verdicts`).
    """

    label: str
    labels: dict[str, str]
    status: str
    outside_theory: bool
    values: dict[str, np.ndarray]
    verdicts: dict[str, dict]

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "labels": dict(self.labels),
            "status": self.status,
            "outside_theory": self.outside_theory,
            "values": _lists(self.values),
            "verdicts": self.verdicts,
        }

    @classmethod
    def from_dict(cls, record: dict) -> ClaimRecord:
        return cls(
            record["label"],
            dict(record.get("labels") or {}),
            record["status"],
            bool(record["outside_theory"]),
            _arrays(record["values"]),
            dict(record["verdicts"]),
        )


def require_tv(tv: np.ndarray | None, spec: CellSpec) -> np.ndarray:
    """A cell's measured TVs, for what is decided on them; a ``ValueError`` naming the cell when its model is known
    only by its samples (no TV: its claims read the witnesses)."""
    if tv is None:
        raise ValueError(f"cell {spec.key}: a model known only by its samples has TV witnesses (tv_lower), not TVs")
    return tv


@dataclass(eq=False)
class CellResult:
    """One cell as a worker ran it (:func:`selfloop.reports.sweep.run_cell`).

    Attributes
    ----------
    spec : CellSpec
    tv : ndarray (replicates, generations + 1) or None
        None for a model known only by its samples (its witnesses are ``measured["tv_lower"]``).
    real_fraction, training_size : ndarray (generations + 1,)
    measured : dict of ndarray
        The loop measures' fields that the cell's claims asked for (the fitted parameters left out).
    claims : dict of ClaimRecord
        The record (values and verdicts) of each claim that needs nothing but the cell, by claim id: decided where
        the cell ran, in parallel, and cached with it.
    seconds : float
        The worker's wall time for the cell.
    """

    spec: CellSpec
    tv: np.ndarray | None
    real_fraction: np.ndarray
    training_size: np.ndarray
    measured: dict[str, np.ndarray] = field(default_factory=dict)
    claims: dict[str, ClaimRecord] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def key(self) -> str:
        return self.spec.key

    def exact_tv(self) -> np.ndarray:
        """:attr:`tv`; a ``ValueError`` for a model known only by its samples, which has its witnesses instead."""
        return require_tv(self.tv, self.spec)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, CellResult)
            and self.spec == other.spec
            and self.spec.to_dict() == other.spec.to_dict()
            and (self.tv is None) == (other.tv is None)
            and _same(
                {"tv": 0 if self.tv is None else self.tv, "f": self.real_fraction, "n": self.training_size},
                {"tv": 0 if other.tv is None else other.tv, "f": other.real_fraction, "n": other.training_size},
            )
            and _same(self.measured, other.measured)
            and {k: v.to_dict() for k, v in self.claims.items()} == {k: v.to_dict() for k, v in other.claims.items()}
            and self.seconds == other.seconds
        )

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "spec": self.spec.to_dict(),
            "tv": None if self.tv is None else np.asarray(self.tv).tolist(),
            "real_fraction": np.asarray(self.real_fraction).tolist(),
            "training_size": np.asarray(self.training_size).tolist(),
            "measured": _lists(self.measured),
            "claims": {name: record.to_dict() for name, record in self.claims.items()},
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, record: dict) -> CellResult:
        return cls(
            CellSpec.from_dict(record["spec"]),
            None if record["tv"] is None else np.asarray(record["tv"], dtype=float),
            np.asarray(record["real_fraction"], dtype=float),
            np.asarray(record["training_size"]),
            _arrays(record.get("measured") or {}),
            {name: ClaimRecord.from_dict(claim) for name, claim in (record.get("claims") or {}).items()},
            float(record.get("seconds", 0.0)),
        )


@dataclass
class CellRecord:
    """One cell of the results document: its result, how the report names it, its TV summary and every claim's
    record (:func:`selfloop.reports.assemble.assemble`: the result's own, and those of the claims that needed the
    suite)."""

    result: CellResult
    label: str
    legend: str
    summary: dict[str, Any]
    claims: dict[str, ClaimRecord] = field(default_factory=dict)

    def to_dict(self) -> dict:
        result = self.result.to_dict()
        return {
            **{key: result[key] for key in ("key", "spec", "tv", "real_fraction", "training_size", "seconds")},
            "label": self.label,
            "legend": self.legend,
            "summary": self.summary,
            "measured": result["measured"],
            "claims": {name: record.to_dict() for name, record in self.claims.items()},
        }

    @classmethod
    def from_dict(cls, record: dict) -> CellRecord:
        claims = {name: ClaimRecord.from_dict(claim) for name, claim in (record.get("claims") or {}).items()}
        result = CellResult.from_dict({**record, "claims": {}})
        return cls(result, record["label"], record["legend"], record["summary"], claims)

    @property
    def spec(self) -> CellSpec:
        return self.result.spec

    @property
    def key(self) -> str:
        return self.result.key

    @property
    def tv(self) -> np.ndarray | None:
        """Each replicate's TV at every generation; None for a model known only by its samples."""
        return self.result.tv

    @property
    def measured(self) -> dict[str, np.ndarray]:
        return self.result.measured

    @property
    def scenario_kind(self) -> str:
        """The scenario's kind as the cell's dict names it (what the report groups cells by)."""
        return self.spec.to_dict()["scenario"]["kind"]


@dataclass
class ResultsDocument:
    """The results document (results.json) as the report and the claims' report hooks read it: every cell typed
    (:class:`CellRecord`, its claims' :class:`ClaimRecord` s), each claim's suite-wide record as its ``summarize``
    made it, and the run's particulars (``format``, ``package_version``, ``git_commit``, ``alpha``, ...) in ``meta``.

    One shape for every hook: ``summarize`` sees the assembled cells, ``rows``, ``headline``, ``section`` and
    ``table_note`` this document, whether it was assembled now or read back from results.json.
    """

    suite: str
    seed: int
    cells: list[CellRecord]
    claims: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, document: dict | ResultsDocument) -> ResultsDocument:
        """The typed document of a results dict (today's format: :func:`selfloop.reports.legacy.upgrade` first)."""
        if isinstance(document, ResultsDocument):
            return document
        meta = {key: value for key, value in document.items() if key not in ("suite", "seed", "cells", "claims")}
        cells = [CellRecord.from_dict(cell) for cell in document["cells"]]
        return cls(document["suite"], document["seed"], cells, dict(document.get("claims") or {}), meta)

    def cells_with(self, claim: str, kind: str | None = None) -> list[CellRecord]:
        """The cells that hold a record of ``claim`` (of scenario ``kind`` only, if given)."""
        return [cell for cell in self.cells if claim in cell.claims and (kind is None or cell.scenario_kind == kind)]
