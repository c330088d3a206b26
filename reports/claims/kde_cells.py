"""Which cells the KDE loop's bounds apply to, and at which bandwidth: :class:`KDEBoundClaim`, the base of Theorem K
and the second-moment bound."""

from __future__ import annotations

from dataclasses import replace

from selfloop.simulators import Scenario

from ..cells import CellSpec
from .base import Claim

__all__ = ["KDEBoundClaim", "fresh", "has_a_mixture_bound", "kde_bandwidths", "reused"]


def kde_bandwidths(spec: CellSpec, dim: int):
    """The KDE cell's bandwidth: fixed h, or the power rule's schedule c N_i^(-1/(4+d)) over the generations."""
    model = spec.model
    if "bandwidth" in model:
        return model["bandwidth"]
    return model["power_rule"] * spec.scenario.training_sizes(spec.generations).astype(float) ** (-1.0 / (4 + dim))


def has_a_mixture_bound(spec: CellSpec) -> bool:
    """A KDE loop or phase cell whose KDE is the mixture the bounds use (a bandwidth rule that changes with the pool
    size makes an accumulated KDE something else)."""
    model = spec.model
    return (
        model["name"] == "kde"
        and spec.kind in ("loop", "phase")
        and ("bandwidth" in model or spec.scenario.kind != "accumulate")
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
