r"""What the loop measures, as plug-ins: the loop's one extension point.

A :class:`Measure` names the arrays it fills (``fields``), refuses in :meth:`Measure.start` a loop it does not apply to
(before anything runs), and is handed every generation of every chunk of replicates (:meth:`Measure.take`). It keeps
no state of a loop on itself: :class:`LoopSpec` tells it the loop, :class:`GenerationStep` the generation, and
``step.memory`` is the one place where it may keep something from one generation to the next of a chunk (a test set,
say). So one instance serves any number of loops, in any process.

Built in, in this module:

- :class:`TotalVariation`: :math:`\mathrm{TV}(\hat p_i, p_0)` and its standard error, by the most exact route (fields
  ``tv``, ``tv_stderr``); every loop measures it unless ``Execution(measure_tv=False)``;
- :class:`OneStep`: Lemma R's one-step error :math:`\varepsilon_i = \mathrm{TV}(\hat p_i, q_i)`,
  :math:`q_i = \lambda_i p_0 + (1-\lambda_i)\hat p_{i-1}` (entry 0 is the TV to the truth);
- :class:`SamplingError`: for a fit that is a kernel smoothing (:class:`selfloop.simulators.protocol.KernelSmoothed`,
  the KDE), :math:`S_i = \mathrm{TV}(\hat p_i, K_{h_i} * q_i)`, the fit's distance from its conditional mean;
- :class:`Parameters`: a :class:`selfloop.simulators.protocol.ParametricModel`'s parameters (every loop of such a
  model records them);
- :class:`Probes`: every fit's density at given points.

Others are found by name (:func:`measure_named`) among :data:`MEASURES` and, failing that, among the installed entry
points of the group ``scloop.measures`` (``selfloop.measures``, read with a warning for one release). The
certificate (Theorem G) is such an entry point, provided by the bounds package: the loop runs the measures it is handed
and knows no theorem.

A measure draws randomness only from ``step.rngs`` (the replicates' measurement streams, in a fixed order) or from
:meth:`GenerationStep.stream` (a stream of its own per replicate, keyed by a name), so adding one changes no other
number unless it draws from ``step.rngs``.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .measurement import Measurement, TrainingMixture
from .metrics import tv_monte_carlo
from .protocol import KernelSmoothed, ParametricModel
from .registry import Registry
from .scenario import Scenario
from .validation import check_data, check_size

__all__ = [
    "ENTRY_POINT_GROUP",
    "MEASURES",
    "PARAMETER",
    "GenerationStep",
    "LoopMeasure",
    "LoopSpec",
    "Measure",
    "OneStep",
    "Parameters",
    "Probes",
    "SamplingError",
    "NOT_MEASURED",
    "TotalVariation",
    "collapsed_values",
    "measure_named",
    "register_measure",
]


@dataclass(frozen=True)
class LoopSpec:
    """One loop as its measures see it, before it runs: what :meth:`Measure.start` checks.

    Attributes
    ----------
    truth : Truth
    model : Model
    scenario : Scenario
    generations, replicates, seed : int
    """

    truth: Any
    model: Any
    scenario: Scenario
    generations: int
    replicates: int
    seed: int = 0


@dataclass(frozen=True)
class GenerationStep:
    r"""One generation of a chunk of replicates, as a measure sees it.

    Attributes
    ----------
    loop : LoopSpec
    generation : int
    fits, previous : sequence
        This generation's fits, one per replicate, and the previous generation's (None at generation 0).
    real_fraction : float
        :math:`\lambda_i` of this generation's training set (1 at generation 0).
    measurement : Measurement
        The chunk's distances (exact quadrature on shared grids where possible).
    rngs : sequence of Generator
        The replicates' measurement streams (for Monte Carlo estimates), drawn from in the measures' order.
    streams : sequence of SeedSequence
        The replicates' seed sequences (:meth:`stream` derives a measure's own streams from them).
    taken : dict of ndarray
        The fields the measures before this one took this generation (``tv`` first).
    memory : dict
        This measure's memory for this chunk, kept from one generation to the next (empty at generation 0).
    replicates : tuple of int
        The chunk's indices of this step's replicates: every replicate of the chunk but those whose fit collapsed at an
        earlier generation (:attr:`selfloop.simulators.LoopResult.collapsed_at`); ``fits``, ``previous``, ``rngs`` and
        ``streams`` are theirs, in this order. A measure that keeps something per replicate in ``memory`` keys it by
        these indices (:meth:`own_generators` does).
    """

    loop: LoopSpec
    generation: int
    fits: Sequence
    previous: Sequence | None
    real_fraction: float
    measurement: Measurement
    rngs: Sequence[np.random.Generator]
    streams: Sequence[np.random.SeedSequence]
    taken: dict[str, np.ndarray] = field(default_factory=dict)
    memory: dict = field(default_factory=dict)
    replicates: tuple[int, ...] = ()

    def stream(self, name: str) -> list[np.random.Generator]:
        """A generator per replicate of its own, keyed by ``name`` and the replicate's seed: the same for the same
        replicate whatever the chunk and whichever other measures run, and independent of every other stream. A fresh
        one at every call: :meth:`own_generators` keeps them running from one generation to the next."""
        word = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")
        return [
            np.random.default_rng(
                np.random.SeedSequence(entropy=seed.entropy, spawn_key=(*seed.spawn_key, 1 << 31, word))
            )
            for seed in self.streams
        ]

    def own_generators(self, name: str) -> list[np.random.Generator]:
        """This step's replicates' generators of the stream ``name`` (:meth:`stream`), made at a replicate's first step
        and kept in ``memory``, so each runs on from one generation to the next whatever replicates collapse."""
        kept = self.memory.setdefault(("generators", name), {})
        missing = [position for position, index in enumerate(self.replicates) if index not in kept]
        if missing:
            fresh = self.stream(name)
            for position in missing:
                kept[self.replicates[position]] = fresh[position]
        return [kept[index] for index in self.replicates]


@runtime_checkable
class Measure(Protocol):
    """A measurement the loop takes at every generation.

    ``fields`` names the arrays it fills, each (replicates, generations + 1, ...) in :attr:`LoopResult.measured`;
    :meth:`start` refuses, before the loop runs, a loop it does not apply to (a ``ValueError`` that names the measure);
    :meth:`take` returns this generation's values per replicate, exactly the declared fields, ``{field: (replicates,
    ...)}``.
    """

    @property
    def name(self) -> str:
        """The measure's name (``run_loop(..., measures=[name])``)."""

    @property
    def fields(self) -> tuple[str, ...]:
        """The arrays it fills."""

    def start(self, loop: LoopSpec) -> None:
        """Raise ``ValueError`` if the loop is one it cannot measure."""

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        """This generation's values, one row per replicate."""


#: What a replicate whose fit collapsed records in a measure's fields from that generation on, unless the measure says
#: (an optional method ``collapsed(singular) -> {field: value}``: :func:`collapsed_values`).
NOT_MEASURED = np.nan


def collapsed_values(measure, singular: bool) -> dict[str, float]:
    """A measure's values for a replicate whose fit collapsed (raised :class:`selfloop.simulators.DegenerateFit`):
    what its optional ``collapsed(singular)`` gives (TV is exactly 1 for a fit singular to the truth), the rest of its
    fields :data:`NOT_MEASURED`. ``singular``: the collapsed fit's law has no density (a singular covariance, a KDE of
    coincident points)."""
    values = dict.fromkeys(measure.fields, NOT_MEASURED)
    given = getattr(measure, "collapsed", None)
    if given is not None:
        values.update(given(singular))
    return values


#: The name of the measure interface before it took a :class:`LoopSpec` (kept for one release; CHANGELOG.md).
LoopMeasure = Measure


#: How far outside [0, 1] a computed TV may land by rounding before it is an error (it is then clipped).
RANGE_TOLERANCE = 1e-9


class TotalVariation:
    r""":math:`\mathrm{TV}(\hat p_i, p_0)` and its standard error (zero where exact): a closed form, exact quadrature on
    a grid in d <= 2, an exact sum over a finite support, else the unbiased Monte Carlo estimate with ``samples`` draws
    (:meth:`selfloop.simulators.measurement.Measurement.tv_to_truth`). ``samples`` is also the default of every other
    Monte Carlo distance of the loop (:class:`OneStep`)."""

    name = "tv"
    fields = ("tv", "tv_stderr")

    def __init__(self, samples: int = 100_000) -> None:
        self.samples = check_size("samples", samples)

    def __repr__(self) -> str:
        return f"TotalVariation(samples={self.samples})"

    def start(self, loop: LoopSpec) -> None:
        pass

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        value, stderr = step.measurement.tv_to_truth(step.fits, step.rngs, self.samples)
        value = np.asarray(value, dtype=float)
        outside = ~((value >= -RANGE_TOLERANCE) & (value <= 1 + RANGE_TOLERANCE))
        if np.any(outside):  # a defect of a route, never a number to report
            raise RuntimeError(
                f"tv: {value[outside][:3]} at generation {step.generation} is not a total variation (outside [0, 1]); "
                "the route that gave it has failed: please report it"
            )
        return {"tv": np.clip(value, 0.0, 1.0), "tv_stderr": stderr}

    def collapsed(self, singular: bool) -> dict[str, float]:
        """A collapsed fit singular to the truth (a law with a density) is at TV exactly 1; otherwise not measured."""
        return {"tv": 1.0, "tv_stderr": 0.0} if singular else {}


class OneStep:
    r"""Lemma R's :math:`\varepsilon_i = \mathrm{TV}(\hat p_i, \lambda p_0 + (1-\lambda)\hat p_{i-1})` and its standard
    error: quadrature on shared grids in d <= 2 (:meth:`Measurement.mixture_tv`), else the unbiased Monte Carlo estimate
    :math:`E_{x\sim q_i}[(1 - \hat p_i(x)/q_i(x))_+]` with ``samples`` draws from the mixture (default: as many as the
    loop's :class:`TotalVariation`); entry 0 is the TV to the truth."""

    name = "one_step"
    fields = ("one_step", "one_step_stderr")

    def __init__(self, samples: int | None = None) -> None:
        self.samples = None if samples is None else check_size("samples", samples)

    def start(self, loop: LoopSpec) -> None:
        pass

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        measurement, fits = step.measurement, step.fits
        if step.generation == 0:
            if "tv" in step.taken:
                return {"one_step": step.taken["tv"], "one_step_stderr": step.taken["tv_stderr"]}
            value, stderr = measurement.tv_to_truth(fits, step.rngs, self.samples or measurement.samples)
            return {"one_step": value, "one_step_stderr": stderr}
        previous, fraction = step.previous, step.real_fraction
        assert previous is not None  # every generation after the first has the fits before it
        if measurement.on_grid(fits, previous):
            measurement.hooks.prepare_batch(previous)
            components = [(fraction, [measurement.truth] * len(fits), False), (1.0 - fraction, previous, True)]
            return {"one_step": measurement.mixture_tv(fits, components), "one_step_stderr": np.zeros(len(fits))}
        samples = self.samples or measurement.samples
        estimates = [
            tv_monte_carlo(TrainingMixture(measurement.truth, before, fraction), fit, samples, rng)
            for fit, before, rng in zip(fits, previous, step.rngs)
        ]
        return {
            "one_step": np.array([e.value for e in estimates]),
            "one_step_stderr": np.array([e.stderr for e in estimates]),
        }


class SamplingError:
    r"""Theorem K's sampling error :math:`S_i = \mathrm{TV}(\hat p_i, K_{h_i} * q_i)` of a kernel smoothing
    (:class:`KernelSmoothed`: the KDE) in d <= 2, with fresh real data and no accumulation (where
    :math:`K_{h_i} * q_i` is the fit's conditional mean); at generation 0 the conditional mean is :math:`K_h * p_0`."""

    name = "sampling_error"
    fields = ("sampling_error",)

    def start(self, loop: LoopSpec) -> None:
        scenario = loop.scenario
        if scenario.accumulate or scenario.reuse_real or loop.truth.dim > 2 or not hasattr(loop.truth, "smoothed"):
            raise ValueError(
                "sampling_error: measured for a KDE model in dimension <= 2 with fresh real data and no accumulation"
            )

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        fits, measurement = step.fits, step.measurement
        if not isinstance(fits[0], KernelSmoothed):
            raise ValueError(
                "sampling_error: measured for a KDE model (fits with a bandwidth and smoothed(variance)), got "
                f"{type(fits[0]).__name__}"
            )
        variances = [float(fit.bandwidth) ** 2 for fit in fits]
        components = [(step.real_fraction, [measurement.smoothed_truth(v) for v in variances], False)]
        if step.previous is not None:
            smoothed = [before.smoothed(v) for before, v in zip(step.previous, variances)]
            components.append((1.0 - step.real_fraction, smoothed, True))
        return {"sampling_error": measurement.mixture_tv(fits, components)}


#: The prefix of a parameter's field: ``parameter.mean`` holds the parameter ``mean``.
PARAMETER = "parameter."


class Parameters:
    """A :class:`ParametricModel`'s parameters, per replicate and generation (``model.parameters(fitted)``, by name):
    the fields ``parameter.<name>``, known once the first fit is made."""

    name = "parameters"
    fields: tuple[str, ...] = ()

    def start(self, loop: LoopSpec) -> None:
        if not isinstance(loop.model, ParametricModel):
            raise ValueError(f"parameters: {type(loop.model).__name__} has no parameters(fitted)")

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        rows = [step.loop.model.parameters(fitted) for fitted in step.fits]
        return {
            f"{PARAMETER}{name}": np.stack([np.asarray(row[name], dtype=float) for row in rows]) for name in rows[0]
        }


class Probes:
    """Every fit's density at fixed points ``(n, d)``: the field ``probes``, (replicates, generations + 1, n)."""

    name = "probes"
    fields = ("probes",)

    def __init__(self, points) -> None:
        self.points = check_data("probes", points)

    def start(self, loop: LoopSpec) -> None:
        check_data("probes", self.points, loop.truth.dim)

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        step.measurement.hooks.prepare_batch(step.fits)  # the densities at the probes: prepared together
        return {"probes": np.stack([fitted.pdf(self.points) for fitted in step.fits])}


def _check_measure(measure: Callable[[], Measure]) -> None:
    if not callable(measure):
        raise ValueError(f"measure: a factory () -> Measure is registered, got {measure!r}")


#: Measures by name, ``factory() -> Measure``; names not here are looked up among the entry points of
#: :data:`ENTRY_POINT_GROUP`.
MEASURES: Registry[Callable[[], Measure]] = Registry("loop measure", _check_measure)
MEASURES.register("tv", TotalVariation)
MEASURES.register("one_step", OneStep)
MEASURES.register("sampling_error", SamplingError)

#: The entry-point group of installed measures (``certificate``, from the bounds package).
ENTRY_POINT_GROUP = "scloop.measures"
#: The group's name before the one brand (read with a warning for one release).
_OLD_ENTRY_POINT_GROUP = "selfloop.measures"


def register_measure(name: str, factory: Callable[[], Measure], *, replace: bool = False) -> None:
    """Make ``run_loop(..., measures=[name])`` build ``factory()`` (a taken name needs ``replace=True``)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: a measure's name is a non-empty string, got {name!r}")
    MEASURES.register(name, factory, replace=replace)


def measure_named(name: str) -> Measure:
    """A new measure by name: from :data:`MEASURES`, else from an installed entry point of :data:`ENTRY_POINT_GROUP`."""
    if name not in MEASURES:
        for group in (ENTRY_POINT_GROUP, _OLD_ENTRY_POINT_GROUP):
            found = [point for point in entry_points(group=group) if point.name == name]
            if found:
                if group == _OLD_ENTRY_POINT_GROUP:
                    warnings.warn(
                        f"the entry-point group {_OLD_ENTRY_POINT_GROUP!r} is now {ENTRY_POINT_GROUP!r}: declare "
                        f"the measure {name!r} there (the old group is read for one release)",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                MEASURES.register(name, found[0].load())
                break
    return MEASURES.get(name)()
