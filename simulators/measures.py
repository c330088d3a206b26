r"""What the loop measures beside TV, as plug-ins: each :class:`LoopMeasure` names the arrays it fills and the model
capability it needs, and is handed every generation's fits.

Built in, in this module:

- :class:`OneStep`: Lemma R's one-step error :math:`\varepsilon_i = \mathrm{TV}(\hat p_i, q_i)`,
  :math:`q_i = \lambda_i p_0 + (1-\lambda_i)\hat p_{i-1}` (entry 0 is TV to the truth);
- :class:`SamplingError`: for a fit that is a kernel smoothing (:class:`selfloop.simulators.protocol.KernelSmoothed`,
  the KDE), :math:`S_i = \mathrm{TV}(\hat p_i, K_{h_i} * q_i)`, the fit's distance from its conditional mean;
- :class:`Parameters`: a :class:`selfloop.simulators.protocol.ParametricModel`'s parameters;
- :class:`Probes`: every fit's density at given points.

Others are found by name (:func:`measure_named`) among :data:`MEASURES` and, failing that, among the installed entry
points of the group ``selfloop.measures``. The package's own ``certificate`` (Theorem G's per-fit certificate) is such
an entry point, provided by the bounds package (``bounds/certification.py``): the loop runs the certifier it is
handed and knows no theorem.

A measure must not draw from the loop's random streams except through :attr:`GenerationStep.rngs` (the replicates'
measurement streams), so adding one changes no other number unless it draws from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from .measurement import Measurement
from .protocol import KernelSmoothed, ParametricModel
from .registry import Registry
from .scenario import Scenario

__all__ = [
    "MEASURES",
    "PARAMETER",
    "GenerationStep",
    "LoopMeasure",
    "OneStep",
    "Parameters",
    "Probes",
    "SamplingError",
    "measure_named",
    "register_measure",
]


@dataclass
class GenerationStep:
    r"""One generation of a chunk of replicates, as a measure sees it.

    Attributes
    ----------
    generation : int
    fits, previous : sequence
        This generation's fits, one per replicate, and the previous generation's (None at generation 0).
    real_fraction : float
        :math:`\lambda_i` of this generation's training set (1 at generation 0).
    measurement : Measurement
        The chunk's distances (exact quadrature on shared grids where possible).
    rngs : sequence of Generator
        The replicates' measurement streams (for Monte Carlo estimates).
    tv, tv_stderr : ndarray (replicates,) or None
        This generation's TV to the truth and its standard error (None if TV is not measured).
    """

    generation: int
    fits: Sequence
    previous: Sequence | None
    real_fraction: float
    measurement: Measurement
    rngs: Sequence[np.random.Generator]
    tv: np.ndarray | None
    tv_stderr: np.ndarray | None


@runtime_checkable
class LoopMeasure(Protocol):
    """A measurement the loop takes at every generation.

    ``fields`` names the arrays it fills, each (replicates, generations + 1, ...) in :attr:`LoopResult.measured`;
    :meth:`check` refuses, before the loop runs, a model, truth or scenario it does not apply to (a ``ValueError``
    that names the measure); :meth:`take` returns this generation's values per replicate, ``{field: (replicates,
    ...)}``.
    """

    name: str
    fields: tuple[str, ...]

    def check(self, truth, model, scenario: Scenario, measure_tv: bool) -> None: ...

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]: ...


class OneStep:
    r"""Lemma R's :math:`\varepsilon_i = \mathrm{TV}(\hat p_i, \lambda p_0 + (1-\lambda)\hat p_{i-1})` and its standard
    error: quadrature in d <= 2, else Monte Carlo with draws from the mixture; entry 0 is the TV to the truth."""

    name = "one_step"
    fields = ("one_step", "one_step_stderr")

    def check(self, truth, model, scenario: Scenario, measure_tv: bool) -> None:
        if not measure_tv:
            raise ValueError("one_step: the one-step error is measured with TV; it needs measure_tv=True")

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        if step.generation == 0:
            return {"one_step": step.tv, "one_step_stderr": step.tv_stderr}
        value, stderr = step.measurement.one_step(step.fits, step.previous, step.real_fraction, step.rngs)
        return {"one_step": value, "one_step_stderr": stderr}


class SamplingError:
    r"""Theorem K's sampling error :math:`S_i = \mathrm{TV}(\hat p_i, K_{h_i} * q_i)` of a kernel smoothing
    (:class:`KernelSmoothed`: the KDE) in d <= 2, with fresh real data and no accumulation (where
    :math:`K_{h_i} * q_i` is the fit's conditional mean)."""

    name = "sampling_error"
    fields = ("sampling_error",)

    def check(self, truth, model, scenario: Scenario, measure_tv: bool) -> None:
        if scenario.accumulate or scenario.reuse_real or truth.dim > 2:
            raise ValueError(
                "sampling_error: measured for a KDE model in dimension <= 2 with fresh real data and no accumulation"
            )

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        if not isinstance(step.fits[0], KernelSmoothed):
            raise ValueError(
                "sampling_error: measured for a KDE model (fits with a bandwidth and smoothed(variance)), got "
                f"{type(step.fits[0]).__name__}"
            )
        return {"sampling_error": step.measurement.sampling_error(step.fits, step.previous, step.real_fraction)}


#: The prefix of a parameter's field: ``parameter.mean`` holds the parameter ``mean``.
PARAMETER = "parameter."


class Parameters:
    """A :class:`ParametricModel`'s parameters, per replicate and generation (``parameters(fitted)``, by name): the
    fields ``parameter.<name>``."""

    name = "parameters"

    def __init__(self, model: ParametricModel) -> None:
        self.model = model
        self.fields: tuple[str, ...] = ()

    def check(self, truth, model, scenario: Scenario, measure_tv: bool) -> None:
        if not isinstance(model, ParametricModel):
            raise ValueError(f"parameters: {type(model).__name__} has no parameters(fitted)")

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        rows = [self.model.parameters(fitted) for fitted in step.fits]
        return {
            f"{PARAMETER}{name}": np.stack([np.asarray(row[name], dtype=float) for row in rows]) for name in rows[0]
        }


class Probes:
    """Every fit's density at fixed points ``(n, d)``: the field ``probes``, (replicates, generations + 1, n)."""

    name = "probes"
    fields = ("probes",)

    def __init__(self, points: np.ndarray, prepare: Callable[[Sequence], None]) -> None:
        self.points, self.prepare = points, prepare

    def check(self, truth, model, scenario: Scenario, measure_tv: bool) -> None:
        pass

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        self.prepare(step.fits)  # the densities at the probes: prepared together
        return {"probes": np.stack([fitted.pdf(self.points) for fitted in step.fits])}


#: Measures by name, ``factory() -> LoopMeasure``; names not here are looked up among the ``selfloop.measures`` entry
#: points.
MEASURES: Registry[Callable[[], LoopMeasure]] = Registry("loop measure")
MEASURES.register("one_step", OneStep)
MEASURES.register("sampling_error", SamplingError)

#: The entry-point group of installed measures (``certificate``, from the bounds package).
ENTRY_POINT_GROUP = "selfloop.measures"


def register_measure(name: str, factory: Callable[[], LoopMeasure], *, replace: bool = False) -> None:
    """Make ``run_loop(..., measures=[name])`` build ``factory()`` (a taken name needs ``replace=True``)."""
    MEASURES.register(name, factory, replace=replace)


def measure_named(name: str) -> LoopMeasure:
    """A new measure by name: from :data:`MEASURES`, else from an installed ``selfloop.measures`` entry point."""
    if name not in MEASURES:
        for point in entry_points(group=ENTRY_POINT_GROUP):
            if point.name == name:
                MEASURES.register(name, point.load())
                break
    return MEASURES.get(name)()
