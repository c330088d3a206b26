"""The names of the previous release for the theorems a report checks (CHANGELOG.md): :class:`Check` and
:func:`register_check` register a :class:`selfloop.reports.theorems.Theorem`; :data:`CHECKS` is
:data:`selfloop.reports.theorems.THEOREMS`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .theorems import THEOREMS, CellContext, Theorem, TheoremValues, register_theorem
from .verdicts import ALPHA, LAW_Z, verdict_record

__all__ = ["ALPHA", "CHECKS", "LAW_Z", "CellContext", "Check", "check_record", "register_check", "verdict_record"]

#: The registry of theorems, under its earlier name.
CHECKS = THEOREMS


@dataclass(frozen=True)
class Check:
    """A bound compared with the cells it applies to (the earlier form of a :class:`Theorem` with one side)."""

    label: str
    bound: str
    applies: Callable[[dict], bool]
    evaluate: Callable[[CellContext], np.ndarray]
    side: str = "upper"
    stage: str = "cell"
    outside_theory: Callable[[dict], bool] = lambda spec: False

    def theorem(self, name: str) -> Theorem:
        """The :class:`Theorem` with id ``name`` that this check describes."""
        if self.side not in ("upper", "lower") or self.stage not in ("cell", "suite"):
            raise ValueError(
                f"check: side must be 'upper' or 'lower' and stage 'cell' or 'suite', got {self.side!r}, {self.stage!r}"
            )
        upper = self.side == "upper"

        def evaluate(context: CellContext) -> TheoremValues:
            values = np.atleast_1d(self.evaluate(context))
            return TheoremValues(values, None) if upper else TheoremValues(None, values)

        return Theorem(
            name,
            self.label,
            self.bound if upper else None,
            self.applies,
            evaluate,
            lower=None if upper else self.bound,
            needs_calibration=self.stage == "suite",
            outside_theory=self.outside_theory,
        )


def register_check(name: str, check: Check | Theorem, *, replace: bool = False) -> Theorem:
    """Register ``check`` as the theorem ``name`` (:func:`selfloop.reports.theorems.register_theorem`)."""
    theorem = check.theorem(name) if isinstance(check, Check) else check
    if theorem.id != name:
        raise ValueError(f"name {name!r} differs from the theorem's id {theorem.id!r}")
    return register_theorem(theorem, replace=replace)


def check_record(
    tv: np.ndarray, bound: str, label: str, status: str, values, *, side: str = "upper", outside_theory: bool = False
) -> dict:
    """One bound's record with its verdict, as the previous release built it (today:
    :func:`selfloop.reports.theorems.bound_records`, then :func:`selfloop.reports.verdicts.decide`)."""
    values = [float(x) for x in np.atleast_1d(values)]
    return {
        "bound": bound,
        "label": label,
        "status": status,
        "side": side,
        "values": values,
        "outside_theory": outside_theory,
        "verdict": verdict_record(tv, values, side),
    }
