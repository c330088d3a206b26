"""Which cells the discrete claims apply to: categorical maximum-likelihood loops and next-token (bigram) loops, and
where the categorical loop's exact chains are affordable."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from selfloop.bounds import CategoricalLaw, categorical_law
from selfloop.simulators import Categorical, MarkovChain, Scenario, standard_truth
from selfloop.simulators.persistent import cached

from ..cells import CellSpec
from ..fingerprint import code_fingerprint
from .base import Cell, Claim

__all__ = [
    "EXACT_CHAIN_POINTS",
    "CategoricalBoundClaim",
    "categorical_loop",
    "exact_chains",
    "exact_law",
    "fresh_scenario",
    "next_token_loop",
]

#: Largest training size (over the generations) at which a cell's exact chains are computed (their cost for a 1 000-symbol
#: Zipf law is in docs/performance.md); above it the closed-form moments and the bounds still apply.
EXACT_CHAIN_POINTS = 2500


def categorical_loop(spec: CellSpec) -> bool:
    """A loop of the categorical MLE on a categorical truth, fitted on every point it is given (the laws' and the
    bounds' setting: not a subsampled pool)."""
    return (
        spec.kind == "loop"
        and spec.model.name == "categorical_mle"
        and isinstance(standard_truth(spec.truth), Categorical)
        and spec.scenario.kind not in ("accumulate_subsample", "weighted")
    )


def next_token_loop(spec: CellSpec) -> bool:
    """A loop of the bigram fit on a Markov-chain truth."""
    return (
        spec.kind == "loop" and spec.model.name == "bigram_mle" and isinstance(standard_truth(spec.truth), MarkovChain)
    )


def exact_chains(spec: CellSpec) -> bool:
    """A categorical loop with fresh or accumulated data whose exact chains are affordable (:data:`EXACT_CHAIN_POINTS`)."""
    scenario = spec.scenario
    return (
        categorical_loop(spec)
        and not scenario.reuse_real
        and int(scenario.training_sizes(spec.generations).max()) <= EXACT_CHAIN_POINTS
    )


def fresh_scenario(scenario: Scenario) -> Scenario:
    """A reused real pool's fresh-data counterpart (where the bounds are evaluated, outside their theory)."""
    return replace(scenario, reuse_real=False)


def exact_law(truth: Categorical, scenario: Scenario, generations: int, smoothing: float) -> CategoricalLaw:
    """:func:`selfloop.bounds.categorical_law` of the setting, kept in the persistent cache (it depends on the setting
    alone)."""
    key = (truth.key, repr(sorted(scenario.to_dict().items())), int(generations), float(smoothing))
    return cached(
        "claims.categorical_law",
        key,
        lambda: categorical_law(truth.probabilities, scenario, generations, smoothing=smoothing),
        version=code_fingerprint(),
    )


def fitted_probabilities(measured: dict[str, np.ndarray]) -> np.ndarray:
    """Every replicate's fitted probabilities, (replicates, generations + 1, K) (the loop records them)."""
    return measured["parameter.probabilities"]


class CategoricalBoundClaim(Claim):
    """A bound on the categorical loop's E TV_i, ``function(probabilities, scenario, generations, smoothing=)``, at the
    cell's fresh-data scenario: a reused real pool is outside its theory, evaluated at its fresh-data value and
    reported (docs/theory.md, section 11.4)."""

    function: Callable[..., np.ndarray]

    def applies(self, spec: CellSpec) -> bool:
        return categorical_loop(spec)

    def outside_theory(self, spec: CellSpec) -> bool:
        return spec.scenario.reuse_real

    def evaluate(self, cell: Cell) -> dict[str, np.ndarray]:
        smoothing = float(cell.spec.model.get("smoothing", 0.0))
        scenario = fresh_scenario(cell.scenario)
        return {"upper": self.function(cell.truth.probabilities, scenario, cell.generations, smoothing=smoothing)}
