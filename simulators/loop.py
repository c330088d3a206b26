r"""The self-consuming loop runner: :func:`run_loop` and its result.

It checks the request, refuses a loop whose data would not fit the memory budget, splits the replicates into
chunks that the budget holds, and runs each chunk through the one loop engine
(:func:`selfloop.simulators.replicates.run_chunk`): the training data of every scenario, the fits and every
measurement in one place, the replicates a generation at a time, together. Replicate k uses
``SeedSequence(seed).spawn(replicates)[k]``, so its numbers do not depend on the chunking beyond floating-point
rounding.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .measures import PARAMETER, LoopMeasure, Parameters, Probes, measure_named
from .protocol import GridDensity, ParametricModel, replicate_hooks
from .replicates import run_chunk
from .scenario import Scenario
from .validation import check_data, check_nonnegative_size, check_positive, check_size

__all__ = ["LoopResult", "memory_budget", "run_loop"]


@dataclass
class LoopResult:
    r"""Outcome of :func:`run_loop`.

    Attributes
    ----------
    tv : ndarray (replicates, generations + 1) or None
        TV of each generation's fitted model to the truth (None if ``measure_tv=False``).
    tv_stderr : ndarray (replicates, generations + 1)
        Standard error of ``tv`` (zero where it is exact).
    one_step : ndarray (replicates, generations + 1) or None
        :math:`\varepsilon_i = \mathrm{TV}(\hat p_i, q_i)` (entry 0 is TV to the truth), if asked for.
    one_step_stderr : ndarray (replicates, generations + 1) or None
        Standard error of ``one_step`` (zero where it is exact quadrature; Monte Carlo in d > 2).
    real_fraction : ndarray (generations + 1,)
        :math:`\lambda_i` of the new points (1 at generation 0).
    training_size : ndarray (generations + 1,)
        Number of points generation i was fit on.
    models : list
        Fitted models of every generation of the last replicate.
    probes : ndarray (replicates, generations + 1, n) or None
        Each replicate's fitted density at the probe points, if asked for.
    sampling_error : ndarray (replicates, generations + 1) or None
        For a KDE, :math:`S_i = \mathrm{TV}(\hat p_i, K_{h_i} * q_i)`, if asked for.
    certificate : ndarray (replicates, generations + 1) or None
        Theorem G's rigorous bound on :math:`\mathrm{TV}(\hat p_i, p_0)` for each fit, if asked for (``certify=True``).
    certified_one_step : ndarray (replicates, generations + 1) or None
        With ``certify=True``: Theorem G against the training distribution :math:`q_i`, a certified bound on Lemma R's
        :math:`\varepsilon_i` (entry 0: against :math:`p_0`); NaN where :math:`q_i` is not
        :math:`\lambda p_0 + (1-\lambda)\hat p_{i-1}` (a reused real pool, accumulated data) and in 2-D, where it
        costs seconds a fit (call ``diffusion_certificate`` of the bounds package with a ``TrainingDistribution``).
    score_error : ndarray (replicates, generations + 1) or None
        With ``certify=True``: each fit's integrated score error against :math:`p_0`, the quantity of Li et al.'s rate
        (``integrated_score_error`` of the bounds package).
    measured : dict of ndarray
        Every measure's fields by name (:mod:`selfloop.simulators.measures`), (replicates, generations + 1, ...) each;
        the attributes above read the built-in ones from here (None where not measured).
    parameters : dict or None
        For a model with ``parameters(fitted)`` (:class:`selfloop.simulators.protocol.ParametricModel`, e.g. the Gaussian
        MLE): each parameter per replicate and generation, shape (replicates, generations + 1, ...); the Gaussian MLE
        gives ``mean`` and ``variance`` in 1-D, ``mean`` (.., d) and ``covariance`` (.., d, d) in d dimensions.
    replicates : int
        Number of replicate loops run, whatever was measured.
    generations : int
        Generations after generation 0 (``real_fraction`` has ``generations + 1`` entries).
    """

    tv: np.ndarray | None
    tv_stderr: np.ndarray | None
    real_fraction: np.ndarray
    training_size: np.ndarray
    scenario: Scenario
    seed: int
    replicates: int
    measured: dict[str, np.ndarray] = field(default_factory=dict)
    models: list = field(default_factory=list)

    def _field(self, name: str) -> np.ndarray | None:
        return self.measured.get(name)

    one_step = property(lambda self: self._field("one_step"))
    one_step_stderr = property(lambda self: self._field("one_step_stderr"))
    sampling_error = property(lambda self: self._field("sampling_error"))
    probes = property(lambda self: self._field("probes"))
    certificate = property(lambda self: self._field("certificate"))
    certified_one_step = property(lambda self: self._field("certified_one_step"))
    score_error = property(lambda self: self._field("score_error"))

    @property
    def parameters(self) -> dict | None:
        found = {name[len(PARAMETER) :]: v for name, v in self.measured.items() if name.startswith(PARAMETER)}
        return found or None

    @property
    def generations(self) -> int:
        return len(self.real_fraction) - 1

    def mean_tv(self) -> np.ndarray:
        """Mean TV over replicates, per generation."""
        if self.tv is None:
            raise ValueError("measure_tv: this loop was run with measure_tv=False, so it has no TV to average")
        return self.tv.mean(axis=0)


def memory_budget() -> float:
    """The default memory budget of a loop in bytes: ``SCLOOP_MEMORY_BUDGET`` (GiB) if set, else half the machine's RAM."""
    configured = os.environ.get("SCLOOP_MEMORY_BUDGET")
    if configured:
        return check_positive("SCLOOP_MEMORY_BUDGET", configured) * 2**30
    try:
        return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not available on this platform
        return 8 * 2**30


def _estimated_bytes(truth, scenario: Scenario, generations: int) -> float:
    """A lower estimate of one replicate's peak memory: the training set, the new points and the fit's copy, in float64."""
    largest = (
        float(scenario.training_sizes(generations).max()) + max(scenario.initial, scenario.real) * scenario.reuse_real
    )
    return 4.0 * 8.0 * truth.dim * largest


#: Largest working set of one chunk of replicates (bytes); beyond it batching gains nothing but cache misses.
CHUNK_BYTES = 256 * 2**20
#: Most replicates in one chunk for a model whose replicates are measured each on its own grid.
UNSHARED_CHUNK = 32
#: Bytes per grid node and replicate held at once: masses, the padded complex spectrum, densities and differences.
_BYTES_PER_NODE = 8 * 12


def replicate_bytes(truth, model, scenario: Scenario, generations: int) -> int:
    """A replicate's working set while its chunk runs: its training sets and, for a model whose replicates share a
    measurement grid (``shared_grid``), that grid.

    The grid is estimated from the truth's box doubled, at the step that the truth and a generation-0 fit (on a
    sample drawn apart from every replicate's streams) ask for; it holds ``_BYTES_PER_NODE`` a node.
    """
    points = int(scenario.training_sizes(generations).max()) + max(scenario.initial, scenario.real)
    nodes = 0
    if truth.dim <= 2 and replicate_hooks(model).shared_grid:
        probe = model.fit(truth.sample(scenario.initial, np.random.default_rng(0)), np.random.default_rng(0))
        spacing = min(truth.grid_spacing, probe.grid_spacing) if isinstance(probe, GridDensity) else truth.grid_spacing
        box = truth.bounding_box()
        nodes = int(np.prod(2 * (box.upper - box.lower) / spacing + 1))
    return _BYTES_PER_NODE * nodes + 8 * 6 * points * truth.dim


def _chunk_size(truth, model, scenario: Scenario, generations: int, budget: float, replicates: int) -> int:
    """Replicates per chunk: as many as half the memory budget, capped at ``CHUNK_BYTES`` (cache locality), holds;
    at most ``UNSHARED_CHUNK`` for a model whose replicates are measured each on its own grid (their data and fits
    are held at once, and a larger chunk gains nothing)."""
    if replicates == 1:
        return 1
    per_replicate = replicate_bytes(truth, model, scenario, generations)
    chunk = int(max(1, min(replicates, min(budget / 2, CHUNK_BYTES) // per_replicate)))
    return chunk if replicate_hooks(model).shared_grid else min(chunk, UNSHARED_CHUNK)


def run_loop(
    truth,
    model,
    scenario: Scenario,
    generations: int,
    seed: int = 0,
    replicates: int = 1,
    *,
    one_step: bool = False,
    probes=None,
    measure_tv: bool = True,
    tv_samples: int = 100_000,
    sampling_error: bool = False,
    memory_budget_bytes: float | None = None,
    chunk_replicates: int | None = None,
    certify: bool = False,
    measures: Sequence[LoopMeasure | str] = (),
) -> LoopResult:
    r"""Run the self-consuming loop and measure exact TV at every generation.

    Parameters
    ----------
    truth : GaussianMixture
        The real distribution :math:`p_0`.
    model : Model
        ``fit(data, rng) -> fitted``, where ``fitted`` has ``pdf(x)`` and ``sample(n, rng)``; the optional
        capabilities of :mod:`selfloop.simulators.protocol` (a grid density, replicate hooks, parameters) make it
        exact or fast.
    scenario : Scenario
    generations : int
        Number of generations after generation 0.
    seed : int
        Root seed; replicate k uses ``SeedSequence(seed).spawn(replicates)[k]``,
        so results are reproducible and independent of evaluation order.
    replicates : int
    one_step : bool
        Also measure Lemma R's :math:`\varepsilon_i`: exact on a grid in d <= 2, the unbiased Monte
        Carlo estimate with ``tv_samples`` draws from :math:`q_i` otherwise (or for a model whose
        density a grid does not resolve, such as the ODE diffusion model).
    probes : array_like (n, d), optional
        Points at which to record every replicate's fitted density (``LoopResult.probes``),
        e.g. to compare the replicate mean and variance with their exact values.
    measure_tv : bool
        Measure TV (the default). ``False`` skips it (``LoopResult.tv`` is None), for
        runs that only need ``probes`` or ``models``.
    tv_samples : int
        Draws of the unbiased Monte Carlo TV in d > 2 (each replicate's TV is then an
        unbiased estimate in [0, 1], so a test of its mean is a test of E TV).
    sampling_error : bool
        Also measure Theorem K's sampling error :math:`S_i = \mathrm{TV}(\hat p_i, K_{h_i} * q_i)`
        (a KDE model in d <= 2, fresh real data, no accumulation).
    certify : bool
        Certify every fit: :attr:`LoopResult.certificate` holds Theorem G's rigorous bound on
        :math:`\mathrm{TV}(\hat p_i, p_0)` (``diffusion_certificate`` of the bounds package, chain bound) for a
        :class:`RandomFeatureDiffusion` with the SDE sampler on a Gaussian-mixture truth in d <= 2. Short for
        ``measures=["certificate"]``, the measure that the bounds package provides.
    measures : sequence of LoopMeasure or str
        Further measurements, as objects (:class:`selfloop.simulators.measures.LoopMeasure`) or by name
        (:func:`selfloop.simulators.measures.measure_named`); their fields land in :attr:`LoopResult.measured`.
        ``one_step``, ``sampling_error`` and ``certify`` are shorthands for the built-in ones.
    memory_budget_bytes : float, optional
        Refuse, before allocating anything, a loop whose data arrays alone would exceed
        this (default :func:`memory_budget`: ``SCLOOP_MEMORY_BUDGET`` GiB, or half the RAM).
    chunk_replicates : int, optional
        Replicates run together, a generation at a time, in chunks of this many (default: as many as half the
        memory budget holds, at most ``CHUNK_BYTES`` of working set, and at most ``UNSHARED_CHUNK`` unless the
        replicates share a measurement grid). The model's replicate hooks
        (:class:`selfloop.simulators.protocol.ReplicateBatching`) sample, prepare and evaluate a chunk's fits
        together: one binning and one FFT for a KDE, stacked samplers and grid densities for the SDE diffusion
        model. Results do not depend on it beyond floating-point rounding; 1 runs the replicates one at a time.

    Returns
    -------
    LoopResult
    """
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    generations = check_nonnegative_size("generations", generations)
    replicates = check_size("replicates", replicates)
    seed = check_nonnegative_size("seed", seed)
    tv_samples = check_size("tv_samples", tv_samples)
    budget = (
        memory_budget() if memory_budget_bytes is None else check_positive("memory_budget_bytes", memory_budget_bytes)
    )
    needed = _estimated_bytes(truth, scenario, generations)
    if needed > budget:
        raise ValueError(
            f"scenario: this loop needs at least {needed / 2**30:.2f} GiB for its data arrays "
            f"(up to {int(scenario.training_sizes(generations).max())} points in dimension {truth.dim}), above the memory budget of "
            f"{budget / 2**30:.2f} GiB; use smaller sizes, or raise memory_budget_bytes / SCLOOP_MEMORY_BUDGET"
        )
    if probes is not None:
        probes = check_data("probes", probes, truth.dim)
    if chunk_replicates is not None:
        chunk_replicates = check_size("chunk_replicates", chunk_replicates)
    chosen = _measures(truth, model, scenario, measures, one_step, sampling_error, certify, probes, measure_tv)
    width = generations + 1
    distances, stderr = np.zeros((replicates, width)), np.zeros((replicates, width))
    measured: dict[str, np.ndarray] = {}
    models: list = []
    streams = np.random.SeedSequence(seed).spawn(replicates)
    chunk = (
        chunk_replicates
        if chunk_replicates is not None
        else _chunk_size(truth, model, scenario, generations, budget, replicates)
    )
    for start in range(0, replicates, chunk):
        part = slice(start, min(start + chunk, replicates))
        result = run_chunk(
            truth,
            model,
            scenario,
            generations,
            streams[part],
            measure_tv=measure_tv,
            measures=chosen,
            tv_samples=tv_samples,
        )
        distances[part], stderr[part], models = result.tv, result.tv_stderr, result.models
        for name, values in result.measured.items():
            measured.setdefault(name, np.empty((replicates, *values.shape[1:])))[part] = values
    return LoopResult(
        tv=distances if measure_tv else None,
        tv_stderr=stderr if measure_tv else None,
        real_fraction=scenario.real_fractions(generations),
        training_size=scenario.training_sizes(generations),
        scenario=scenario,
        seed=seed,
        replicates=replicates,
        measured=measured,
        models=models,
    )


def _measures(
    truth, model, scenario: Scenario, measures, one_step: bool, sampling_error: bool, certify: bool, probes, measure_tv
) -> list[LoopMeasure]:
    """The measures of one loop, each checked against it before anything runs: a parametric model's parameters, the
    shorthands' measures, then the ones asked for by object or name (a name given twice is taken once)."""
    chosen: list[LoopMeasure] = [Parameters(model)] if isinstance(model, ParametricModel) else []
    names = [
        name
        for name, wanted in (("certificate", certify), ("one_step", one_step), ("sampling_error", sampling_error))
        if wanted
    ]
    if probes is not None:
        chosen.append(Probes(probes, replicate_hooks(model).prepare_batch))
    for measure in [*names, *measures]:
        if isinstance(measure, str):
            if measure in {m.name for m in chosen}:
                continue
            measure = measure_named(measure)
        elif not isinstance(measure, LoopMeasure):
            raise ValueError(f"measures: each must be a LoopMeasure or a measure's name, got {measure!r}")
        measure.check(truth, model, scenario, measure_tv)
        chosen.append(measure)
    return chosen
