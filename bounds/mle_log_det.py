r"""The Gaussian MLE loop's log determinant, :math:`E\log\det\Sigma_i - \log\det\Sigma`: the peers' collapse metric.

Fully synthetic (r = 0, any dimension, either estimator)
    Given the past, :math:`(N - \delta)\Sigma_{i+1} = \Sigma_i^{1/2}W\Sigma_i^{1/2}` with :math:`W \sim W_d(I, N - 1)`
    independent of the past, and :math:`E\log\det W = \sum_{j=0}^{d-1}\psi\big(\tfrac{N - 1 - j}2\big) + d\log 2`
    (Bartlett's decomposition). So every generation adds the same exact amount,
    :math:`\sum_j\psi(\tfrac{N-1-j}2) + d\log2 - d\log(N - \delta)`, and generation 0 that of its :math:`N_0`.
Accumulating synthetic points (1-D)
    :math:`\sigma_k^2 = \sigma_{k-1}^2\,(M_{k-1} - \delta)R_k/(M_k - \delta)` with
    :math:`R_k = 1 + X/(M_{k-1} - \delta)`, :math:`X = \chi^2_{s-1} + (M_{k-1}/M_k)\chi^2_1` independent of the past
    (:mod:`selfloop.bounds.mle_pool`), so :math:`E\log R_k` is added each generation; it is one smooth integral,
    :math:`E\log(1 + X/a) = \int_0^\infty e^{-t}(1 - E e^{-tX/a})\,dt/t` (Frullani) with the chi-squares' Laplace
    transforms, by adaptive quadrature to 1e-13.
Elsewhere
    :math:`\log\det` is concave, so Jensen bounds it by the exact first moments (:func:`selfloop.bounds.mle_moments`):
    :math:`E\log\det A_i \le \log\det EA_i`, an upper bound (``exact`` is False).

docs/theory.md, section 9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate, special

from selfloop.simulators import GaussianMixture, Scenario

from .mle import mle_moments

__all__ = ["LogDetLaw", "mle_log_det"]


@dataclass(frozen=True)
class LogDetLaw:
    r""":math:`E\log\det\Sigma_i - \log\det\Sigma` per generation i = 0..G (``value``): exact where ``exact``, else an
    upper bound (Jensen on the exact first moments)."""

    value: np.ndarray
    exact: bool


def _wishart_step(size: int, dim: int, ddof: int) -> float:
    r""":math:`E\log\det W - d\log(N - \delta)` for :math:`W \sim W_d(I, N - 1)`."""
    degrees = size - 1 - np.arange(dim)
    return float(special.digamma(degrees / 2).sum() + dim * np.log(2.0) - dim * np.log(size - ddof))


def _expected_log_growth(added: int, previous: int, pool: int, ddof: int) -> float:
    r""":math:`E\log(1 + X/a)`, :math:`X = \chi^2_{s-1} + (M_{k-1}/M_k)\chi^2_1`, :math:`a = M_{k-1} - \delta`."""
    scale, weight = previous - ddof, previous / pool

    def integrand(t: float) -> float:
        u = t / scale
        laplace = (1 + 2 * u) ** (-(added - 1) / 2) * (1 + 2 * weight * u) ** -0.5
        return np.exp(-t) * -np.expm1(np.log(laplace)) / t if t > 0 else (added - 1 + weight) / scale

    value, _ = integrate.quad(integrand, 0, np.inf, epsabs=1e-14, epsrel=1e-13, limit=400)
    return float(value)


def mle_log_det(truth: GaussianMixture, scenario: Scenario, generations: int, *, ddof: int = 0) -> LogDetLaw:
    r""":math:`E\log\det\Sigma_i - \log\det\Sigma` of the Gaussian MLE loop (module docstring): exact fully synthetic
    (any dimension) and accumulating synthetic points (1-D), a Jensen upper bound elsewhere.

    Examples
    --------
    >>> from selfloop.simulators import GaussianMixture, Scenario
    >>> truth = GaussianMixture([1.0], [[0.0]], [[[1.0]]])
    >>> law = mle_log_det(truth, Scenario.fully_synthetic(10), 2)
    >>> law.exact, bool(np.all(np.diff(law.value) < 0))
    (True, True)
    """
    moments = mle_moments(truth, scenario, generations, ddof=ddof)  # validates truth, scenario and ddof
    dim, generations = truth.dim, int(generations)
    if scenario.real == 0 and not scenario.accumulate:
        steps = [_wishart_step(scenario.initial, dim, ddof)] + [_wishart_step(scenario.size, dim, ddof)] * generations
        return LogDetLaw(np.cumsum(steps), True)
    if scenario.real == 0 and scenario.accumulate and scenario.fit_size is None and dim == 1:
        value, pool = [_wishart_step(scenario.initial, 1, ddof)], scenario.initial
        for _ in range(generations):
            previous, pool = pool, pool + scenario.synthetic
            shrink = np.log((previous - ddof) / (pool - ddof))
            value.append(value[-1] + shrink + _expected_log_growth(scenario.synthetic, previous, pool, ddof))
        return LogDetLaw(np.array(value), True)
    whitened = np.linalg.solve(truth.covariances[0], moments.covariance)  # E A_i, a multiple of the identity here
    return LogDetLaw(np.linalg.slogdet(whitened)[1], False)
