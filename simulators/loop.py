r"""The self-consuming loop runner.

For each replicate, with its own random stream spawned from ``seed``:

1. fit generation 0 on ``scenario.initial`` real points;
2. for i = 1..generations, draw ``scenario.real`` real points (fresh, or from
   the fixed pool) and ``scenario.synthetic`` points from generation i-1, and
   fit generation i on them (on everything so far when accumulating);
3. measure :math:`\mathrm{TV}(\hat p_i, p_0)` exactly (:func:`selfloop.simulators.metrics.tv`).

Optionally it also measures the one-step error of Lemma R,
:math:`\varepsilon_i = \mathrm{TV}(\hat p_i, q_i)` with
:math:`q_i = \lambda_i p_0 + (1-\lambda_i)\hat p_{i-1}`, and, for a KDE, the sampling
error of Theorem K, :math:`S_i = \mathrm{TV}(\hat p_i, K_{h_i} * q_i)` (the distance of the
fit from its own conditional mean given the past), each on one grid.

The replicates run together: a KDE in d <= 2 through one vectorised loop
(:mod:`selfloop.simulators.batched`), any other model one generation at a time, the model
drawing and preparing its replicates' fits at once where it can (the diffusion model's
samplers and grid densities). Each replicate draws from its own streams in its own order, so
its numbers do not depend on the batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .batched import BatchedKDELoop, replicates_per_chunk
from .diffusion import RandomFeatureDiffusion
from .kde import KDE, FittedKDE
from .metrics import common_grid, tv, tv_monte_carlo, tv_on_grid
from .protocol import ParametricModel
from .scenario import Scenario
from .truth import GaussianMixture
from .validation import check_data, check_nonnegative_size, check_positive, check_size

__all__ = ["LoopResult", "TrainingMixture", "memory_budget", "run_loop"]


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
        costs seconds a fit (call :func:`selfloop.bounds.diffusion_certificate` with a ``TrainingDistribution``).
    score_error : ndarray (replicates, generations + 1) or None
        With ``certify=True``: each fit's integrated score error against :math:`p_0`, the quantity of Li et al.'s rate
        (:func:`selfloop.bounds.integrated_score_error`).
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
    one_step: np.ndarray | None = None
    models: list = field(default_factory=list)
    probes: np.ndarray | None = None
    sampling_error: np.ndarray | None = None
    one_step_stderr: np.ndarray | None = None
    certificate: np.ndarray | None = None
    certified_one_step: np.ndarray | None = None
    score_error: np.ndarray | None = None
    parameters: dict | None = None

    @property
    def generations(self) -> int:
        return len(self.real_fraction) - 1

    def mean_tv(self) -> np.ndarray:
        """Mean TV over replicates, per generation."""
        if self.tv is None:
            raise ValueError("measure_tv: this loop was run with measure_tv=False, so it has no TV to average")
        return self.tv.mean(axis=0)


def _tv_to_mixture(current, first, second, first_weight: float) -> float:
    r"""Quadrature :math:`\mathrm{TV}(\hat p_i, w f + (1-w) g)` on one grid covering all three densities (``second`` may be None when w = 1)."""
    parts = [first] if second is None else [first, second]
    grid = common_grid([*parts, current])
    target = (
        grid.evaluate(first)
        if second is None
        else first_weight * grid.evaluate(first) + (1 - first_weight) * grid.evaluate(second)
    )
    return tv_on_grid(grid, grid.evaluate(current), target)


class TrainingMixture:
    r"""The training distribution :math:`q_i = \lambda p_0 + (1-\lambda)\hat p_{i-1}`: draws and log density.

    The reference of the Monte Carlo one-step error :math:`E_{x\sim q_i}[(1 - \hat p_i(x)/q_i(x))_+]`.
    """

    def __init__(self, truth, previous, real_fraction: float) -> None:
        self.truth, self.previous, self.real_fraction = truth, previous, float(real_fraction)
        self.dim = truth.dim

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        real = int(rng.binomial(n, self.real_fraction))
        parts = [self.truth.sample(real, rng)] if real else []
        if n > real:
            parts.append(self.previous.sample(n - real, rng))
        return np.concatenate(parts)

    def logpdf(self, x) -> np.ndarray:
        with np.errstate(divide="ignore"):
            real = np.log(self.real_fraction) + self.truth.logpdf(x)
            if self.real_fraction == 1.0:
                return real
            return np.logaddexp(real, np.log1p(-self.real_fraction) + self.previous.logpdf(x))

    def pdf(self, x) -> np.ndarray:
        return np.exp(self.logpdf(x))


def _on_grid(truth, *densities) -> bool:
    """Whether TV among these densities is taken by quadrature: d <= 2 and every fitted density allows a grid."""
    return truth.dim <= 2 and all(density is None or getattr(density, "grid_quadrature", True) for density in densities)


def _one_step_error(
    truth, previous, current, real_fraction: float, rng: np.random.Generator, samples: int
) -> tuple[float, float]:
    r"""Lemma R's :math:`\varepsilon_i = \mathrm{TV}(\hat p_i, \lambda p_0 + (1-\lambda)\hat p_{i-1})` and its standard error.

    Quadrature (exact, zero standard error) in d <= 2; otherwise the unbiased Monte Carlo
    estimate with ``samples`` draws from the mixture (:class:`TrainingMixture`).
    """
    if _on_grid(truth, previous, current):
        return _tv_to_mixture(current, truth, previous, real_fraction), 0.0
    estimate = tv_monte_carlo(TrainingMixture(truth, previous, real_fraction), current, samples, rng)
    return estimate.value, estimate.stderr


def _sampling_error(truth, previous, current, real_fraction: float) -> float:
    r"""Theorem K's :math:`S_i = \mathrm{TV}(\hat p_i, K_h * (\lambda p_0 + (1-\lambda)\hat p_{i-1}))` for a KDE fit.

    ``previous`` is None at generation 0, where the conditional mean is :math:`K_h * p_0`.
    """
    variance = current.bandwidth**2
    return _tv_to_mixture(
        current, truth.smoothed(variance), None if previous is None else previous.smoothed(variance), real_fraction
    )


def _run_replicates(
    truth,
    model,
    scenario: Scenario,
    generations: int,
    streams,
    one_step: bool,
    probes,
    measure_tv: bool,
    tv_samples: int,
    sampling: bool,
    certify=None,
):
    """Run replicates one generation at a time, all of them together; each keeps its own streams.

    Replicate k draws from its own generators in the order it would alone (its real data, its
    synthetic data, its fit), so its numbers do not depend on the others. A model may draw and
    prepare its replicates' fits together: ``model.sample_together(fits, n, rngs)`` (one list of
    draws per fit, equal to ``fits[k].sample(n, rngs[k])``) and ``model.prepare_together(fits)``
    (called once per generation before the TVs, e.g. to compute grid densities in one batch).
    ``certify(fit, previous) -> (certificate against p0, certified eps_i, integrated score error)``, if given, certifies
    every fit (Theorem G).
    """
    count = len(streams)
    rngs, metric_rngs = [], []
    for stream in streams:
        loop_stream, metric_stream = stream.spawn(2)
        rngs.append(np.random.default_rng(loop_stream))
        metric_rngs.append(np.random.default_rng(metric_stream))
    sample_together = getattr(model, "sample_together", None)
    prepare_together = getattr(model, "prepare_together", None)
    pools = [truth.sample(max(scenario.initial, scenario.real), rng) if scenario.reuse_real else None for rng in rngs]
    data = [
        pool[: scenario.initial] if pool is not None else truth.sample(scenario.initial, rng)
        for pool, rng in zip(pools, rngs)
    ]
    fits = [model.fit(points, rng) for points, rng in zip(data, rngs)]
    models = [fits[-1]]
    probed = np.zeros((count, generations + 1, 0 if probes is None else probes.shape[0]))
    distances = np.zeros((count, 2, generations + 1))
    steps = np.zeros((count, 2, generations + 1))
    sampling_errors = np.zeros((count, generations + 1))
    certificates = np.full((count, 3, generations + 1), np.nan)
    parameters: dict[str, list] = {}
    parametric = isinstance(model, ParametricModel)  # once: a runtime Protocol check is slow

    def measure(generation: int, previous) -> None:
        if prepare_together is not None and (measure_tv or probes is not None):
            prepare_together(fits)
        for k, fitted in enumerate(fits):
            if parametric:
                for name, value in model.parameters(fitted).items():
                    parameters.setdefault(name, [[None] * (generations + 1) for _ in range(count)])[k][generation] = (
                        np.asarray(value, dtype=float)
                    )
            if certify is not None:
                certificates[k, :, generation] = certify(fitted, None if generation == 0 else previous[k])
            if probes is not None:
                probed[k, generation] = fitted.pdf(probes)
            if measure_tv:
                distances[k, :, generation] = tv(truth, fitted, rng=metric_rngs[k], samples=tv_samples)
            if generation == 0:
                steps[k, :, 0] = distances[k, :, 0]
                if sampling:
                    sampling_errors[k, 0] = _sampling_error(truth, None, fitted, 1.0)
                continue
            if one_step:
                steps[k, :, generation] = _one_step_error(
                    truth, previous[k], fitted, scenario.real_fraction, metric_rngs[k], tv_samples
                )
            if sampling:
                sampling_errors[k, generation] = _sampling_error(truth, previous[k], fitted, scenario.real_fraction)

    measure(0, None)
    for generation in range(1, generations + 1):
        real = [
            (pool[: scenario.real] if pool is not None else truth.sample(scenario.real, rng)) if scenario.real else None
            for pool, rng in zip(pools, rngs)
        ]
        if not scenario.synthetic:
            synthetic = [None] * count
        elif sample_together is not None:
            synthetic = sample_together(fits, scenario.synthetic, rngs)
        else:
            synthetic = [fitted.sample(scenario.synthetic, rng) for fitted, rng in zip(fits, rngs)]
        for k in range(count):
            parts = [part for part in (real[k], synthetic[k]) if part is not None]
            new = np.concatenate(parts) if len(parts) > 1 else parts[0]
            data[k] = np.concatenate([data[k], new]) if scenario.accumulate else new
        previous, fits = fits, [model.fit(points, rng) for points, rng in zip(data, rngs)]
        models.append(fits[-1])
        measure(generation, previous)
    stacked = {name: np.array([np.stack(row) for row in rows]) for name, rows in parameters.items()}
    return distances, steps, models, probed, sampling_errors, certificates, stacked


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


def _certifier(truth, model, scenario: Scenario):
    """``(fit, previous) -> (certificate against p0, certified eps_i, score error)`` (Theorem G), after checking that it
    applies.

    eps_i is certified against q_i = lambda p0 + (1 - lambda) p_{i-1} where that is the training distribution (fresh
    real data, nothing accumulated); elsewhere it is NaN. At generation 0 both are the certificate against p0.
    """
    from selfloop.bounds.certificate import TrainingDistribution, diffusion_certificate  # bounds build on simulators

    if not (isinstance(model, RandomFeatureDiffusion) and model.sampler == "sde"):
        raise ValueError("certify: the certificate is for RandomFeatureDiffusion with sampler='sde'")
    if not (isinstance(truth, GaussianMixture) and truth.dim <= 2):
        raise ValueError("certify: the certificate needs a Gaussian-mixture truth in dimension 1 or 2")
    # q_i = lambda p0 + (1 - lambda) p_{i-1} is the training distribution with fresh real data and nothing accumulated;
    # in 2-D its certificate costs seconds a fit (docs/performance.md): there it is left to diffusion_certificate
    mixed = not (scenario.accumulate or scenario.reuse_real) and truth.dim == 1

    def certify(fit, previous) -> tuple[float, float, float]:
        certificate = diffusion_certificate(fit, truth)
        direct, score = certificate.tv, certificate.score_error
        if previous is None:
            return direct, direct, score
        if not mixed:
            return direct, float("nan"), score
        return (
            direct,
            diffusion_certificate(fit, TrainingDistribution(truth, previous, scenario.real_fraction)).tv,
            score,
        )

    return certify


def _batchable(truth, model) -> bool:
    """A KDE on a Gaussian-mixture truth in d <= 2: the replicates run through :class:`BatchedKDELoop`."""
    return isinstance(model, KDE) and isinstance(truth, GaussianMixture) and truth.dim <= 2


def _chunk_size(truth, model, scenario: Scenario, generations: int, budget: float, replicates: int) -> int:
    """Replicates per batch: what the memory budget (capped at CHUNK_BYTES for cache locality) holds at once.

    The grid is estimated from the truth's box doubled, at the step of the first generation's bandwidth.
    """
    sizing = model.bandwidth_for(truth.sample(scenario.initial, np.random.default_rng(0)))
    spacing = min(truth.grid_spacing, FittedKDE.spacing_for(sizing, truth.dim))
    box = truth.bounding_box()
    nodes = int(np.prod(2 * (box.upper - box.lower) / spacing + 1))
    points = int(scenario.training_sizes(generations).max()) + max(scenario.initial, scenario.real)
    return replicates_per_chunk(nodes, points, truth.dim, min(budget / 2, CHUNK_BYTES), replicates)


#: Largest working set of one batch of replicates (bytes); beyond it batching gains nothing but cache misses.
CHUNK_BYTES = 256 * 2**20
#: Most replicates run together, a generation at a time, for a model outside the batched KDE loop (their data and fits
#: are held at once, so fewer when the memory budget holds fewer).
_GENERATION_MAJOR_CHUNK = 32


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
) -> LoopResult:
    r"""Run the self-consuming loop and measure exact TV at every generation.

    Parameters
    ----------
    truth : GaussianMixture
        The real distribution :math:`p_0`.
    model : object with ``fit(data, rng) -> fitted``
        ``fitted`` has ``pdf(x)`` and ``sample(n, rng)`` (and, for fast exact
        TV in d <= 2, ``bounding_box``, ``grid_spacing`` and optionally ``grid_pdf``).
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
        :math:`\mathrm{TV}(\hat p_i, p_0)` (:func:`selfloop.bounds.diffusion_certificate`, chain bound) for a
        :class:`RandomFeatureDiffusion` with the SDE sampler on a Gaussian-mixture truth in d <= 2.
    memory_budget_bytes : float, optional
        Refuse, before allocating anything, a loop whose data arrays alone would exceed
        this (default :func:`memory_budget`: ``SCLOOP_MEMORY_BUDGET`` GiB, or half the RAM).
    chunk_replicates : int, optional
        Replicates run together, in batches of this many. For a KDE in d <= 2 they run through one
        vectorised loop (:class:`selfloop.simulators.batched.BatchedKDELoop`; default: as many as fit
        in the memory budget, at most ``CHUNK_BYTES`` of working set); any other model runs them one
        generation at a time (default 32, or as many as the memory budget holds), drawing and
        preparing their fits together where the model allows (the SDE diffusion model's samplers
        and grid densities). Results do not depend on it beyond floating-point rounding; 1 runs the
        replicates one at a time.

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
    certifier = _certifier(truth, model, scenario) if certify else None
    if one_step and not measure_tv:
        raise ValueError("one_step: the one-step error is measured with TV; it needs measure_tv=True")
    if sampling_error and (
        scenario.accumulate or scenario.reuse_real or truth.dim > 2 or not hasattr(model, "bandwidth_for")
    ):
        raise ValueError(
            "sampling_error: measured for a KDE model in dimension <= 2 with fresh real data and no accumulation"
        )
    distances = np.zeros((replicates, generations + 1))
    stderr = np.zeros_like(distances)
    steps = np.zeros_like(distances)
    steps_stderr = np.zeros_like(distances)
    probed = None if probes is None else np.zeros((replicates, generations + 1, probes.shape[0]))
    sampled = np.zeros_like(distances)
    certified = np.full((replicates, 3, generations + 1), np.nan)
    parameters: dict[str, np.ndarray] = {}
    models: list = []
    streams = np.random.SeedSequence(seed).spawn(replicates)
    if _batchable(truth, model) and measure_tv:
        loop = BatchedKDELoop(
            truth, model, scenario, generations, one_step=one_step, sampling_error=sampling_error, probes=probes
        )
        chunk = (
            chunk_replicates
            if chunk_replicates is not None
            else _chunk_size(truth, model, scenario, generations, budget, replicates)
        )
        for start in range(0, replicates, chunk):
            part = slice(start, min(start + chunk, replicates))
            measured = loop.run(streams[part])
            distances[part], steps[part], sampled[part] = measured.tv, measured.one_step, measured.sampling_error
            if probed is not None:
                probed[part] = measured.probes
        models = loop.last_models
    else:  # any other model: the replicates one generation at a time, together, in chunks
        # the chunk's replicates hold their data at once: as many as the memory budget allows, at most 32
        chunk = (
            chunk_replicates
            if chunk_replicates is not None
            else int(min(_GENERATION_MAJOR_CHUNK, max(1, budget // needed)))
        )
        for start in range(0, replicates, chunk):
            part = slice(start, min(start + chunk, replicates))
            measured, step_errors, models, values, sampled[part], certified[part], fitted_parameters = _run_replicates(
                truth,
                model,
                scenario,
                generations,
                streams[part],
                one_step,
                probes,
                measure_tv,
                tv_samples,
                sampling_error,
                certifier,
            )
            distances[part], stderr[part] = measured[:, 0], measured[:, 1]
            steps[part], steps_stderr[part] = step_errors[:, 0], step_errors[:, 1]
            if probed is not None:
                probed[part] = values
            for name, values in fitted_parameters.items():
                parameters.setdefault(name, np.empty((replicates, *values.shape[1:])))[part] = values
    return LoopResult(
        tv=distances if measure_tv else None,
        tv_stderr=stderr if measure_tv else None,
        real_fraction=scenario.real_fractions(generations),
        training_size=scenario.training_sizes(generations),
        scenario=scenario,
        seed=seed,
        replicates=replicates,
        one_step=steps if one_step else None,
        one_step_stderr=steps_stderr if one_step else None,
        models=models,
        probes=probed,
        sampling_error=sampled if sampling_error else None,
        certificate=certified[:, 0] if certify else None,
        certified_one_step=certified[:, 1] if certify else None,
        score_error=certified[:, 2] if certify else None,
        parameters=parameters or None,
    )
