r"""Exact total variation distances :math:`\mathrm{TV}(p,q) = \tfrac12\int|p-q|`.

Four routes, never a histogram:

- an exact sum over a finite support that both laws list (:class:`selfloop.simulators.protocol.FiniteSupport`:
  categorical laws, Markov chains of tokens short enough to enumerate), :math:`\tfrac12\sum_x |p(x) - q(x)|`;
- quadrature (d <= 2) on a regular grid covering the mass of every density
  to ``1e-9``, exact for the piecewise-linear interpolant across sign changes
  (:meth:`selfloop.simulators.grid.Grid.integrate_abs`);
- the unbiased Monte Carlo estimator, any d,
  :math:`\mathrm{TV}(p_0, p) = E_{x\sim p_0}[(1 - p(x)/p_0(x))_+]`, whose
  summands lie in [0, 1], with a confidence interval;
- pairs of single Gaussians, exactly in any dimension (:func:`selfloop.simulators.gaussian_tv`: a closed form for
  equal covariances and in 1-D, elsewhere the generalized chi-square law of the log density ratio).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TypeGuard

import numpy as np

from .estimate import MonteCarloEstimate
from .gaussian_tv import gaussian_tv
from .grid import AccuracyWarning, Box, Grid
from .protocol import FiniteSupport, FittedDensity, GridDensity, LogDensity, Truth
from .truth import GaussianMixture
from .validation import check_size

__all__ = [
    "MAX_ENUMERATED",
    "common_grid",
    "resolvable",
    "same_support",
    "single_gaussian",
    "tv",
    "tv_finite",
    "tv_monte_carlo",
    "tv_on_grid",
    "tv_quadrature",
]

#: Probability mass that a quadrature grid may leave outside, per density.
GRID_MASS = 1e-9


#: Largest support summed over exactly; a larger one (a long Markov chain) takes the Monte Carlo route.
MAX_ENUMERATED = 1 << 22


def same_support(first, second) -> bool:
    """Whether two laws list the same finite support, small enough to sum over (:data:`MAX_ENUMERATED`)."""
    return (
        isinstance(first, FiniteSupport)
        and isinstance(second, FiniteSupport)
        and first.support == second.support
        and first.support_size <= MAX_ENUMERATED
    )


def tv_finite(probabilities, others) -> np.ndarray | float:
    r""":math:`\tfrac12\sum_x |p(x) - q(x)|` of two probability lists over one support; ``others`` may carry leading
    batch axes (one list per replicate), and the result then has them. The sum of absolute differences of numbers in
    [0, 1] is exact to rounding, and the result is clipped to [0, 1] against it."""
    difference = np.abs(np.asarray(others, dtype=float) - np.asarray(probabilities, dtype=float))
    value = np.clip(0.5 * difference.sum(axis=-1), 0.0, 1.0)
    return float(value) if value.ndim == 0 else value


def common_grid(densities: Sequence, *, mass: float = GRID_MASS) -> Grid:
    """A grid covering every density's mass to ``mass``, at the finest step any of them asks for.

    Each density must provide ``bounding_box(mass)`` and ``grid_spacing``.
    """
    box = Box.union([density.bounding_box(mass) for density in densities])
    spacing = min(density.grid_spacing for density in densities)
    return Grid.covering(box, spacing)


def resolvable(densities: Sequence, *, mass: float = GRID_MASS) -> bool:
    """Whether one grid at the finest step any of ``densities`` asks for covers all their mass to ``mass`` within the
    nodes a grid may have (:meth:`selfloop.simulators.Grid.resolves`): where it cannot (a fit far narrower than the
    truth's spread), quadrature would widen its step past what the fit needs, and TV takes another route."""
    box = Box.union([density.bounding_box(mass) for density in densities])
    return Grid.resolves(box, min(density.grid_spacing for density in densities))


def tv_quadrature(p, q, *, grid: Grid | None = None) -> float:
    r"""TV between two densities by quadrature on ``grid`` (default: :func:`common_grid`).

    Mass outside the grid contributes :math:`\tfrac12|m_p - m_q|` (a lower bound on
    :math:`\tfrac12\int_{\text{outside}}|p-q|`, exact when the two densities' outside
    mass is not shared), with :math:`m = 1 - \int_{\text{grid}}`. It is about 1e-9
    for densities the grid was built to cover, and it accounts exactly for mass
    that a sampler flung off the grid (:class:`selfloop.simulators.FittedDiffusion`).
    """
    grid = common_grid([p, q]) if grid is None else grid
    return tv_on_grid(grid, grid.evaluate(p), grid.evaluate(q))


def tv_on_grid(grid: Grid, p_values: np.ndarray, q_values: np.ndarray):
    r"""TV from two densities' values at the nodes: the kink-corrected quadrature of :math:`\tfrac12|p - q|`
    plus the outside mass :math:`\tfrac12|m_p - m_q|` (see :func:`tv_quadrature`), with the convergence check.

    Leading axes of either array are a batch (one density per replicate; the other broadcasts), and
    the result is then an array over them, else a float.
    """
    p_values, q_values = np.broadcast_arrays(p_values, q_values)
    difference = p_values - q_values
    outside = np.abs(grid.integrate(p_values) - grid.integrate(q_values))
    inside = grid.integrate_abs(difference)
    check_convergence(grid, difference, 0.5 * inside)
    return 0.5 * (inside + outside)


#: Largest change of the quadrature TV between step Delta and 2 Delta accepted silently (the accuracy target).
CONVERGENCE_TOLERANCE = 1e-4


def check_convergence(grid: Grid, difference: np.ndarray, value) -> None:
    """Warn when the rule has not converged: the same integral on every second node differs by more than 1e-4.

    ``difference`` may carry leading batch axes (``value`` is then an array over them).

    For smooth densities the kink-corrected rule is third order, so halving the
    nodes changes ~1e-7; a density with jumps or corners (a histogram model) is
    only first order there, and its quadrature error estimate does not hold.
    """
    coarse = Grid(grid.lower, grid.spacing * 2, tuple((n + 1) // 2 for n in grid.shape))
    if min(coarse.shape) < 8:
        return
    every_second = difference[(Ellipsis,) + (slice(None, None, 2),) * grid.dim]
    change = float(np.max(np.abs(0.5 * coarse.integrate_abs(every_second) - value)))
    if change > CONVERGENCE_TOLERANCE:
        warnings.warn(
            f"quadrature TV changed by {change:.2g} between grid steps {grid.spacing.max():.3g} and twice that: the densities are "
            "not smooth at this scale (a histogram-like model?), and the quadrature's error estimate assumes smoothness",
            AccuracyWarning,
            stacklevel=3,
        )


def tv_monte_carlo(reference, other, samples: int, rng: np.random.Generator) -> MonteCarloEstimate:
    r"""Unbiased estimate of :math:`\mathrm{TV}(p_0, p) = E_{x\sim p_0}[(1 - p(x)/p_0(x))_+]`.

    ``reference`` (:math:`p_0`) must have ``sample`` and ``pdf``; ``other``
    needs ``pdf``. Works in any dimension. The ratio is formed in log space
    when both densities provide ``logpdf``. The estimate's ``interval(z)`` is clipped to [0, 1].
    """
    samples = check_size("samples", samples)
    x = reference.sample(samples, rng)
    if isinstance(reference, LogDensity) and isinstance(other, LogDensity):
        ratio = np.exp(np.minimum(other.logpdf(x) - reference.logpdf(x), 50.0))
    else:
        ratio = other.pdf(x) / reference.pdf(x)
    terms = np.clip(1.0 - ratio, 0.0, 1.0)
    stderr = float(terms.std(ddof=1) / np.sqrt(samples)) if samples > 1 else float("inf")
    return MonteCarloEstimate(float(terms.mean()), stderr, samples, (0.0, 1.0))


def single_gaussian(density: object) -> TypeGuard[GaussianMixture]:
    """Whether ``density`` is one Gaussian (a mixture of one component), whose TVs are exact in any dimension."""
    return isinstance(density, GaussianMixture) and density.components == 1


def tv(
    truth: Truth, model: FittedDensity, *, rng: np.random.Generator | None = None, samples: int = 100_000
) -> tuple[float, float]:
    """TV between ``truth`` and a fitted ``model`` (or any two laws), by the most exact route available.

    Returns ``(tv, stderr)``: an exact sum over a finite support both list (two categorical laws, two Markov chains of
    tokens of one length whose sequences can be enumerated), a Gaussian closed form or quadrature (d <= 2) has
    ``stderr = 0``. Two Markov chains too long to enumerate take the Monte Carlo route with their exact log
    probabilities. In d > 2, for a fit that is not a :class:`selfloop.simulators.protocol.GridDensity`, and for one
    too narrow for a grid to resolve beside the truth (:func:`resolvable`), the Monte Carlo estimator is used with
    ``samples`` draws from ``truth`` and reports its standard error; in d <= 2 for a fit without a grid density with an
    :class:`AccuracyWarning`, unless the fit is a :class:`selfloop.simulators.protocol.LogDensity` (an exact pointwise
    density with features finer than a grid resolves, such as the ODE diffusion model).
    """
    if isinstance(truth, FiniteSupport) and isinstance(model, FiniteSupport) and same_support(truth, model):
        return float(tv_finite(truth.support_probabilities(), model.support_probabilities())), 0.0
    own = getattr(truth, "tv_to", None)  # a law's own closed form
    closed = own([model]) if callable(own) else None
    if closed is not None:
        return float(closed[0]), 0.0
    if isinstance(truth, FiniteSupport) != isinstance(model, FiniteSupport) or (
        isinstance(truth, FiniteSupport) and truth.support != getattr(model, "support", None)
    ):
        raise ValueError(
            f"model: TV between {type(truth).__name__} and {type(model).__name__} needs two laws on one set "
            f"(got supports {getattr(truth, 'support', 'continuous')} and {getattr(model, 'support', 'continuous')})"
        )
    if isinstance(truth, FiniteSupport):  # one support, too large to sum over: Monte Carlo on exact log probabilities
        estimate = tv_monte_carlo(truth, model, samples, np.random.default_rng(0) if rng is None else rng)
        return estimate.value, estimate.stderr
    if single_gaussian(truth) and single_gaussian(model):  # exact in any dimension (simulators.gaussian_tv)
        return gaussian_tv(truth.means[0], truth.covariances[0], model.means[0], model.covariances[0]), 0.0
    if truth.dim <= 2 and isinstance(model, GridDensity) and resolvable([truth, model]):
        return tv_quadrature(truth, model), 0.0
    if truth.dim <= 2 and not isinstance(model, (LogDensity, GridDensity)):  # the ODE model's exact log density
        warnings.warn(
            f"{type(model).__name__} has no bounding_box/grid_spacing (simulators.GridDensity), so TV is the Monte Carlo "
            f"estimate with its standard error ({samples} draws), not exact quadrature",
            AccuracyWarning,
            stacklevel=2,
        )
    estimate = tv_monte_carlo(truth, model, samples, np.random.default_rng(0) if rng is None else rng)
    return estimate.value, estimate.stderr
