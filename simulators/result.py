r"""What a loop returns: :class:`LoopResult`, the TVs, the schedule, every measure's fields and the fitted models."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .measures import PARAMETER
from .scenario import Scenario

__all__ = ["LoopResult"]


@dataclass
class LoopResult:
    r"""Outcome of :func:`selfloop.simulators.run_loop`.

    Attributes
    ----------
    real_fraction : ndarray (generations + 1,)
        :math:`\lambda_i` of the new points (1 at generation 0).
    training_size : ndarray (generations + 1,)
        Number of points generation i was fit on.
    scenario : Scenario
    seed : int
    replicates : int
        Number of replicate loops run, whatever was measured.
    measured : dict of ndarray
        Every measure's fields by name (:mod:`selfloop.simulators.measures`), (replicates, generations + 1, ...)
        each: ``tv`` and ``tv_stderr`` unless TV was not measured, and whatever else the loop was handed
        (``one_step``, ``certificate``, ...). A field is also an attribute: ``result.one_step`` is
        ``result.measured["one_step"]``.
    models : list
        Fitted models of every generation of the last replicate (until it collapsed, if it did).
    collapsed_at : ndarray of int (replicates,)
        The generation at which each replicate's fit collapsed (raised :class:`selfloop.simulators.DegenerateFit`),
        -1 where it never did. From there on its TV is exactly 1 for a fit singular to the truth (a singular
        covariance, coincident points), and the fields no measure can give for it are NaN.

    Derived: ``tv`` and ``tv_stderr`` (None where TV was not measured), ``parameters`` (a
    :class:`selfloop.simulators.protocol.ParametricModel`'s parameters by name, e.g. ``mean`` and ``variance`` of the
    Gaussian MLE in 1-D, (replicates, generations + 1, ...) each; None for another model) and ``generations``.
    """

    real_fraction: np.ndarray
    training_size: np.ndarray
    scenario: Scenario
    seed: int
    replicates: int
    measured: dict[str, np.ndarray] = field(default_factory=dict)
    models: list = field(default_factory=list)
    collapsed_at: np.ndarray = None  # type: ignore[assignment]  # None: no replicate collapsed, set in __post_init__

    def __post_init__(self) -> None:
        if self.collapsed_at is None:
            self.collapsed_at = np.full(self.replicates, -1)

    @property
    def collapsed(self) -> int:
        """How many replicates collapsed."""
        return int(np.count_nonzero(self.collapsed_at >= 0))

    @property
    def tv(self) -> np.ndarray | None:
        """TV of each generation's fit to the truth, (replicates, generations + 1); None where it was not measured."""
        return self.measured.get("tv")

    @property
    def tv_stderr(self) -> np.ndarray | None:
        """The standard error of :attr:`tv` (zero where it is exact)."""
        return self.measured.get("tv_stderr")

    @property
    def parameters(self) -> dict[str, np.ndarray] | None:
        found = {name[len(PARAMETER) :]: v for name, v in self.measured.items() if name.startswith(PARAMETER)}
        return found or None

    @property
    def generations(self) -> int:
        return len(self.real_fraction) - 1

    def __getattr__(self, name: str) -> np.ndarray:
        """A measured field by name (``result.certificate``); an unmeasured name raises ``AttributeError`` naming the
        fields there are."""
        if name.startswith("_") or name == "measured":  # not a field (copying, pickling, a half-built object)
            raise AttributeError(name)
        measured = self.__dict__.get("measured", {})
        if name in measured:
            return measured[name]
        raise AttributeError(
            f"{name!r}: this loop measured no such field (it has {sorted(measured)}); "
            f"ask for it with run_loop(..., measures=[...])"
        )

    def mean_tv(self) -> np.ndarray:
        """Mean TV over replicates, per generation."""
        if self.tv is None:
            raise ValueError(
                "measure_tv: this loop was run with Execution(measure_tv=False), so it has no TV to average"
            )
        return self.tv.mean(axis=0)
