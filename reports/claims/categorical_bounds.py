r"""The categorical loop's TV bounds (docs/theory.md, section 11.4), each a bound test of :math:`E\,\mathrm{TV}_i`:

- ``categorical_second_moment`` (beyond the paper): :math:`\tfrac12\sum_k b(p_k, E\hat p_{k,i}, E\hat p_{k,i}^2)`,
  the largest mean absolute deviation a fit with the loop's exact first two moments can have, per symbol
  (:func:`selfloop.bounds.categorical_second_moment_bound`);
- ``categorical_lemma_r`` (the paper's route on a third model class): Lemma R on the categorical learner's one-step error
  (:func:`selfloop.bounds.categorical_tv_bound`).

A reused real pool is outside their theory: each is evaluated at its fresh-data value and reported.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from selfloop.bounds import categorical_second_moment_bound, categorical_tv_bound

from ..cells import CellSpec
from .base import Cell, Claim, register_claim
from .discrete_cells import categorical_loop, fresh_scenario

__all__ = ["CategoricalLemmaR", "CategoricalSecondMoment"]


class _CategoricalBound(Claim):
    """A bound on the categorical loop's E TV_i, at the cell's fresh-data scenario."""

    function: Callable[..., np.ndarray] = staticmethod(categorical_second_moment_bound)

    def applies(self, spec: CellSpec) -> bool:
        return categorical_loop(spec)

    def outside_theory(self, spec: CellSpec) -> bool:
        return spec.scenario.reuse_real

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        smoothing = float(cell.spec.model.get("smoothing", 0.0))
        scenario = fresh_scenario(cell.scenario)
        return {"upper": self.function(cell.truth.probabilities, scenario, cell.generations, smoothing=smoothing)}


class CategoricalSecondMoment(_CategoricalBound):
    id = "categorical_second_moment"
    label = "Categorical second-moment"
    statement = "Categorical MLE loop: E TV_i within the exact second moments' bound"
    whose = "beyond the paper, rigorous"
    bound = "categorical_symbol_error"


class CategoricalLemmaR(_CategoricalBound):
    id = "categorical_lemma_r"
    label = "Categorical Lemma R"
    statement = "Categorical MLE loop: errors propagate as Lemma R says (the paper's route, a third model class)"
    whose = "paper's route, re-derived"
    bound = "categorical_one_step"
    function = staticmethod(categorical_tv_bound)


register_claim(CategoricalSecondMoment())
register_claim(CategoricalLemmaR())
