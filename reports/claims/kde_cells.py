"""Which cells the KDE loop's bounds apply to, and at which bandwidth: :class:`KDEBoundClaim`, the base of Theorem K
and the second-moment bound."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import numpy as np

from selfloop.simulators import GaussianMixture, Scenario, standard_truth
from selfloop.simulators.persistent import cached

from ..cells import CellSpec
from ..fingerprint import code_fingerprint
from .base import Claim

__all__ = ["KDEBoundClaim", "fresh", "has_a_mixture_bound", "kde_bandwidths", "kde_terms", "reused"]

Terms = TypeVar("Terms")


def kde_bandwidths(spec: CellSpec, dim: int):
    """The KDE cell's bandwidth: fixed h, or the power rule's schedule c N_i^(-1/(4+d)) over the generations."""
    model = spec.model
    if "bandwidth" in model:
        return model["bandwidth"]
    return model["power_rule"] * spec.scenario.training_sizes(spec.generations).astype(float) ** (-1.0 / (4 + dim))


def kde_terms(name: str, function: Callable[..., Terms], cell) -> Terms:
    """``function(truth, bandwidth, fresh scenario, generations)``, a KDE bound's terms for the cell: they depend on the
    setting alone, never on a draw, so they are kept in the persistent cache (:mod:`selfloop.simulators.persistent`)."""
    truth, scenario = cell.truth, fresh(cell.scenario)
    bandwidth = kde_bandwidths(cell.spec, truth.dim)
    key = (
        truth.key,
        np.asarray(bandwidth, dtype=float).tobytes(),
        repr(sorted(scenario.to_dict().items())),
        cell.generations,
    )
    return cached(
        f"claims.{name}",
        key,
        lambda: function(truth, bandwidth, scenario, cell.generations),
        version=code_fingerprint(),
    )


def has_a_mixture_bound(spec: CellSpec) -> bool:
    """A KDE loop or phase cell on a Gaussian-mixture truth (the bounds' terms are its closed forms) whose KDE is the
    mixture the bounds use (a bandwidth rule that changes with the pool size makes an accumulated KDE something else;
    a subsampled pool fits on a sample of it)."""
    model = spec.model
    return (
        model.name == "kde"
        and spec.kind in ("loop", "phase")
        and ("bandwidth" in model or spec.scenario.kind != "accumulate")
        and spec.scenario.kind != "accumulate_subsample"
        and isinstance(standard_truth(spec.truth), GaussianMixture)
    )


def reused(spec: CellSpec) -> bool:
    """A reused real pool: outside the theory (the bounds assume fresh real data)."""
    return spec.scenario.kind == "mixed_reused"


def fresh(scenario: Scenario) -> Scenario:
    """The scenario with fresh real data: a reused pool is evaluated at its fresh-data counterpart."""
    return replace(scenario, reuse_real=False)


class KDEBoundClaim(Claim):
    """A bound on the KDE loop's E TV_i: it applies to the KDE loop and phase cells whose KDE is the mixture the
    bounds use, and a reused real pool is outside its theory (evaluated at the fresh-data scenario)."""

    def applies(self, spec: CellSpec) -> bool:
        return has_a_mixture_bound(spec)

    def outside_theory(self, spec: CellSpec) -> bool:
        return reused(spec)
