r"""A rigorous lower estimate of TV from a model's samples alone: the witness of a set.

For any set A chosen without the samples that evaluate it, :math:`q(A) - p_0(A) \le \mathrm{TV}(q, p_0)` (TV is the
largest such difference). :func:`tv_witness` draws the fit's samples and splits them:

1. on the first part (:data:`SPLIT`), each candidate estimator (:data:`ESTIMATORS`) fits a density :math:`\hat q` of the
   fit, and each proposes the set :math:`A = \{x: \log\hat q(x) > \log p_0(x) + \tau\}` for a few thresholds
   :math:`\tau` (the truth's density is known);
2. on the second part, the candidate with the largest witness is chosen;
3. on the third part, fresh samples of the fit estimate :math:`q(A)` and fresh samples of the truth :math:`p_0(A)`.

The estimate :math:`W = \hat q(A) - \hat p_0(A)` is unbiased for :math:`q(A) - p_0(A)` given A, so
:math:`E\,W \le \mathrm{TV}` whatever A is: a mean of witnesses above a bound refutes the bound as rigorously as a
mean of exact TVs would (docs/theory.md, section 13). Its one-sided lower confidence bound at level ``level`` subtracts
Clopper-Pearson's upper bound on :math:`p_0(A)` from its lower bound on :math:`q(A)`, each at ``level/2``. W can be
negative (a poor set); it lies in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy import special

from .grid import Box, Grid
from .kde import kde_grid_densities
from .logspace import log_sum_exp
from .measures import MEASURES, GenerationStep, LoopSpec
from .protocol import FiniteSupport, Truth
from .validation import check_size

__all__ = ["ESTIMATORS", "SPLIT", "Witness", "WitnessEstimate", "tv_witness", "witness_slack"]

LogDensity = Callable[[np.ndarray], np.ndarray]

#: The shares of the fit's samples that choose the sets, choose among them, and evaluate the chosen one.
SPLIT = (0.4, 0.2, 0.4)
#: Truth samples drawn per fit sample to estimate p0(A) (the truth's sampler is cheap; its error then is small).
TRUTH_RATIO = 4
#: Thresholds tau on log q_hat - log p0 proposed by each estimator.
THRESHOLDS = (-0.5, 0.0, 0.5)


@dataclass(frozen=True)
class WitnessEstimate:
    """A witness of TV: ``value`` (unbiased for q(A) - p0(A) <= TV), ``lower`` (a one-sided lower confidence bound on
    TV at ``level``), the chosen ``estimator`` and ``threshold``, and the samples that evaluated it."""

    value: float
    lower: float
    estimator: str
    threshold: float
    samples: int
    level: float


def _gaussian(train: np.ndarray) -> dict[str, LogDensity]:
    """The moment-matched Gaussian of the fit's samples (a ridge of 1e-9 of the trace keeps it regular)."""
    mean = train.mean(axis=0)
    covariance = np.atleast_2d(np.cov(train, rowvar=False))
    covariance = covariance + 1e-9 * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    factor = np.linalg.cholesky(covariance)
    log_det = 2 * np.log(np.diag(factor)).sum()

    def log_density(x: np.ndarray) -> np.ndarray:
        whitened = np.linalg.solve(factor, (x - mean).T)
        return -0.5 * (np.sum(whitened**2, axis=0) + log_det + len(mean) * np.log(2 * np.pi))

    return {"gaussian": log_density}


#: Bandwidths of the kernel densities that propose sets, as multiples of Scott's rule: a multimodal fit needs a
#: narrower kernel than its overall spread suggests, and the selection part picks the one whose set is largest.
BANDWIDTH_FACTORS = (1.0, 0.5, 0.25)
#: Kernel centres of the density estimate in d > 2 (a subsample of the fit's samples): any set is a valid witness, so
#: the estimate needs only to be good enough to find a large one. In d <= 2 every sample is a centre (FFT on a grid).
KERNEL_CENTRES = 400


#: Grid steps per smallest bandwidth in d <= 2 (the density only proposes a set: coarser than the loop's own grids).
GRID_STEPS = 3


def _kde(train: np.ndarray) -> dict[str, LogDensity]:
    """Gaussian kernel densities of the fit's samples at each of :data:`BANDWIDTH_FACTORS` times Scott's bandwidth
    (on the samples' covariance): in d <= 2 binned on a grid and smoothed by FFT, then interpolated; in d > 2 summed
    over at most :data:`KERNEL_CENTRES` centres by one matrix product and a log-sum-exp."""
    count, dim = train.shape
    covariance = np.atleast_2d(np.cov(train, rowvar=False))
    if np.linalg.matrix_rank(covariance) < dim:
        return {}  # a degenerate sample has no kernel density: its moments still propose a set
    whiten = np.linalg.inv(np.linalg.cholesky(covariance)).T  # x @ whiten has identity covariance
    white = train @ whiten
    log_jacobian = np.log(np.abs(np.linalg.det(whiten)))
    scott = count ** (-1.0 / (dim + 4))
    if dim <= 2:
        box = Box.around(white, 6 * scott)
        grid = Grid.covering(box, min(BANDWIDTH_FACTORS) * scott / GRID_STEPS)
        factors = np.array(BANDWIDTH_FACTORS)
        densities = kde_grid_densities(np.broadcast_to(white, (len(factors), *white.shape)), factors * scott, grid)
        return {
            f"kde x{factor:g}": _interpolated(grid, density, whiten, log_jacobian)
            for factor, density in zip(BANDWIDTH_FACTORS, densities)
        }
    centres = white[:: max(1, count // KERNEL_CENTRES)][:KERNEL_CENTRES]
    candidates: dict[str, LogDensity] = {}
    for factor in BANDWIDTH_FACTORS[:2]:  # the sums cost a matrix product each
        bandwidth = factor * scott
        constant = log_jacobian - np.log(len(centres)) - dim * np.log(bandwidth) - 0.5 * dim * np.log(2 * np.pi)
        candidates[f"kde x{factor:g}"] = partial(_kernel_sum, centres / bandwidth, whiten / bandwidth, constant)
    return candidates


def _kernel_sum(centres: np.ndarray, whiten: np.ndarray, constant: float, x: np.ndarray) -> np.ndarray:
    """The log of a sum of unit Gaussian kernels at ``centres`` (whitened), at the points ``x`` whitened by ``whiten``."""
    white = x @ whiten
    squared = (white**2).sum(axis=1)[:, None] + (centres**2).sum(axis=1)[None, :] - 2 * white @ centres.T
    return log_sum_exp(-0.5 * np.maximum(squared, 0.0).T) + constant


def _interpolated(grid: Grid, density: np.ndarray, whiten: np.ndarray, log_jacobian: float) -> LogDensity:
    """The log of a whitened density on ``grid``, linearly interpolated at whitened points (-inf off the grid)."""
    from scipy import interpolate as interpolation  # here: the reports package loads without scipy.interpolate

    interpolate = interpolation.RegularGridInterpolator(
        grid.axes, np.maximum(density, 0.0), bounds_error=False, fill_value=0.0
    )

    def log_density(x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(interpolate(x @ whiten)) + log_jacobian

    return log_density


def _frequencies(train: np.ndarray, truth: FiniteSupport) -> dict[str, LogDensity]:
    """On a finite support: the fit's sample frequencies (the log of 0 where a point was never drawn)."""
    symbols = truth.support[1]
    weights = symbols ** np.arange(train.shape[1])[::-1]
    counts = np.bincount(train.astype(np.int64) @ weights, minlength=truth.support_size) / len(train)
    with np.errstate(divide="ignore"):
        log_counts = np.log(counts)
    return {"frequencies": lambda x: log_counts[x.astype(np.int64) @ weights]}


#: Density estimators that propose witness sets, by name: each gives one or more candidate log densities.
ESTIMATORS: dict[str, Callable[[np.ndarray], dict[str, LogDensity]]] = {"gaussian": _gaussian, "kde": _kde}


def _log_truth(truth: Truth, x: np.ndarray) -> np.ndarray:
    if hasattr(truth, "logpdf"):
        return truth.logpdf(x)
    with np.errstate(divide="ignore"):
        return np.log(truth.pdf(x))


def _clopper_pearson(successes: int, trials: int, level: float, upper: bool) -> float:
    """The one-sided exact binomial (Clopper-Pearson) confidence bound on a probability at ``level``: the quantiles of
    the beta laws, by the inverse of the regularised incomplete beta function."""
    if upper:
        return 1.0 if successes == trials else float(special.betaincinv(successes + 1, trials - successes, 1 - level))
    return 0.0 if successes == 0 else float(special.betaincinv(successes, trials - successes + 1, level))


def _evaluation_sizes(samples: int) -> tuple[int, int]:
    """The fit's and the truth's evaluation samples of a witness drawn from ``samples`` of the fit."""
    sizes = np.floor(np.array(SPLIT) * samples).astype(int)
    evaluate = samples - sizes[0] - sizes[1]
    return int(evaluate), TRUTH_RATIO * int(evaluate)


def witness_slack(samples: int = 4000) -> float:
    r"""The slack :math:`\delta` of the witness's positive part: :math:`E\max(W, 0) \le E\,\mathrm{TV} + \delta`.

    Given the set, :math:`W = D + \varepsilon` with :math:`D = q(A) - p_0(A) \le \mathrm{TV}` and :math:`\varepsilon`
    the two binomial proportions' centred error, so :math:`\max(W, 0) \le \max(D, 0) + \max(\varepsilon, 0)` and
    :math:`E\max(\varepsilon, 0) = \tfrac12 E|\varepsilon| \le \tfrac12\sqrt{E\varepsilon^2} \le
    \tfrac14\sqrt{1/n_q + 1/n_p}` (each proportion's variance at most :math:`1/(4n)`), with :math:`n_q, n_p` the
    evaluation samples of the fit and of the truth. The positive part lies in [0, 1] like TV, so a bound can be tested
    on it with the leverage TV's own test has (docs/theory.md, section 13).
    """
    fit, truth = _evaluation_sizes(check_size("samples", samples))
    return 0.25 * float(np.sqrt(1 / fit + 1 / truth))


def tv_witness(
    truth: Truth,
    fitted,
    samples: int = 4000,
    rng: np.random.Generator | None = None,
    *,
    level: float = 1e-3,
    estimators: tuple[str, ...] = ("kde", "gaussian"),
) -> WitnessEstimate:
    r"""A witness of :math:`\mathrm{TV}(q, p_0)` from ``samples`` draws of the fit ``fitted`` (it needs only
    ``sample(n, rng)``) and the truth's density and sampler (module docstring).

    Parameters
    ----------
    truth : Truth
    fitted : object with ``sample(n, rng)``
    samples : int
        Draws of the fit, split :data:`SPLIT`; the truth is drawn :data:`TRUTH_RATIO` times as often.
    rng : numpy.random.Generator, optional
    level : float
        The one-sided level of the lower confidence bound.
    estimators : tuple of str
        The density estimators that propose sets (:data:`ESTIMATORS`); on a finite support, the sample frequencies.

    Returns
    -------
    WitnessEstimate
    """
    samples = check_size("samples", samples)
    if samples < 20:
        raise ValueError(f"samples must be at least 20 (three parts), got {samples}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    unknown = sorted(set(estimators) - set(ESTIMATORS))
    if unknown:
        raise ValueError(f"estimators must be among {sorted(ESTIMATORS)}, got {unknown}")
    rng = np.random.default_rng(0) if rng is None else rng
    draws = np.asarray(fitted.sample(samples, rng), dtype=float)
    sizes = np.floor(np.array(SPLIT) * samples).astype(int)  # the evaluation part is the rest (_evaluation_sizes)
    train, select = draws[: sizes[0]], draws[sizes[0] : sizes[0] + sizes[1]]
    evaluate = draws[sizes[0] + sizes[1] :]
    reference_select = np.asarray(truth.sample(TRUTH_RATIO * len(select), rng), dtype=float)
    reference_evaluate = np.asarray(truth.sample(TRUTH_RATIO * len(evaluate), rng), dtype=float)
    if isinstance(truth, FiniteSupport):
        if truth.support_size > 1 << 22:
            raise ValueError(
                f"truth: a support of {truth.support_size} points is too large for the frequencies' witness"
            )
        proposers = _frequencies(train, truth)
    else:
        proposers = {key: value for name in estimators for key, value in ESTIMATORS[name](train).items()}
    best: tuple[float, str, float, LogDensity | None] = (-np.inf, "", 0.0, None)
    for name, log_density in proposers.items():
        scores = (
            log_density(select) - _log_truth(truth, select),
            log_density(reference_select) - _log_truth(truth, reference_select),
        )
        for threshold in THRESHOLDS:
            value = np.mean(scores[0] > threshold) - np.mean(scores[1] > threshold)
            if value > best[0]:
                best = (value, name, threshold, log_density)
    _, name, threshold, chosen = best
    if chosen is None:
        raise ValueError(f"estimators: none proposed a density (got {list(estimators)!r})")
    inside = int(np.count_nonzero(chosen(evaluate) - _log_truth(truth, evaluate) > threshold))
    inside_truth = int(np.count_nonzero(chosen(reference_evaluate) - _log_truth(truth, reference_evaluate) > threshold))
    value = inside / len(evaluate) - inside_truth / len(reference_evaluate)
    lower = _clopper_pearson(inside, len(evaluate), level / 2, upper=False) - _clopper_pearson(
        inside_truth, len(reference_evaluate), level / 2, upper=True
    )
    return WitnessEstimate(float(value), float(lower), name, float(threshold), len(evaluate), level)


class Witness:
    r"""The loop measure ``witness``: every fit's TV witness (:func:`tv_witness`) against the truth, for a model known
    only by its samples. Fields ``tv_lower`` (the estimate, whose mean is at most the TV) and ``tv_lower_bound`` (its
    one-sided lower confidence bound); never a quantity called ``tv``."""

    name, fields = "witness", ("tv_lower", "tv_lower_bound")

    def __init__(self, samples: int = 4000, level: float = 1e-3) -> None:
        self.samples, self.level = check_size("samples", samples), float(level)

    def __repr__(self) -> str:
        return f"Witness(samples={self.samples})"

    def collapsed(self, singular: bool) -> dict[str, float]:
        """A collapsed fit singular to the truth: its support A has q(A) = 1 and p0(A) = 0, so the witness is exactly 1."""
        return {"tv_lower": 1.0, "tv_lower_bound": 1.0} if singular else {}

    @property
    def slack(self) -> float:
        """:func:`witness_slack` of its draws: what the mean positive part of its witnesses may exceed the mean TV by."""
        return witness_slack(self.samples)

    def start(self, loop: LoopSpec) -> None:
        pass

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        truth = step.loop.truth
        rngs = step.own_generators("witness")  # its own: the same beside TV or not
        estimates = [tv_witness(truth, fit, self.samples, rng, level=self.level) for fit, rng in zip(step.fits, rngs)]
        return {
            "tv_lower": np.array([e.value for e in estimates]),
            "tv_lower_bound": np.array([e.lower for e in estimates]),
        }


MEASURES.register("witness", Witness)
