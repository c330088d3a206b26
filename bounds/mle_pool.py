r"""The Gaussian MLE loop on a growing pool: accumulating, and accumulate-subsample (exact first moments, any dimension).

The pool at generation k holds :math:`M_k = N_0 + k(r + s)` points: the :math:`N_0` real ones of generation 0, then r
real and s synthetic points a generation, the synthetic drawn from fit k - 1. Fit k is the Gaussian fit (covariance
divided by :math:`m - \delta`, ``ddof`` :math:`\delta`) of m points of the pool: all of them when accumulating
(:math:`m = M_k`), a simple random sample of ``fit_size`` without replacement when subsampling. In the truth's whitened
units every expectation below is a multiple of the identity, so the recursion is on scalars.

Write :math:`\bar x_k` for the pool's mean, :math:`P_k = E(\bar x_k - \mu)(\bar x_k - \mu)^T`, :math:`T_k = E\sum_{x}
(x - \mu)(x - \mu)^T` over the pool. Then the pool's scatter has mean :math:`T_k - M_kP_k`, and a simple random sample of
m has, given the pool, sample covariance (divided by m - 1) of mean the pool's (divided by :math:`M_k - 1`) and sample
mean of mean :math:`\bar x_k` and covariance :math:`S_k(1/m - 1/M_k)`. So

.. math::
    E\Sigma_k = \frac{m - 1}{m - \delta}\,\frac{T_k - M_kP_k}{M_k - 1},\qquad
    Q_k = E(\mu_k - \mu)(\mu_k - \mu)^T = P_k + \frac{T_k - M_kP_k}{M_k - 1}\Big(\frac1m - \frac1{M_k}\Big),

and, the new points being r draws of the truth and s of :math:`N(\mu_k, \Sigma_k)` (their mean's cross term with the
pool's is :math:`P_k`, the sample's deviation from the pool's mean having conditional mean 0),

.. math::
    T_{k+1} = T_k + r + s(E\Sigma_k + Q_k),\qquad
    P_{k+1} = \frac{M_k^2P_k + 2M_ksP_k + s^2Q_k + sE\Sigma_k + r}{M_{k+1}^2}.

Exact for the first moments (the recursion is linear in expectations it closes on); the second moments of the
subsampled loop are not derived. Accumulating synthetic points in 1-D, the second moment is exact too: the pool's
scatter is multiplied each generation by :math:`R_k = 1 + (\chi^2_{s-1} + (M_{k-1}/M_k)\chi^2_1)/(M_{k-1} - \delta)`,
independent of the past (the parallel-axis theorem), so :math:`E\sigma_k^4` is a product. docs/theory.md, section 9.
"""

from __future__ import annotations

import numpy as np

from selfloop.simulators import Scenario

__all__ = ["accumulating_moments", "subsample_moments"]


def subsample_moments(scenario: Scenario, generations: int, ddof: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`E\Sigma_k` and :math:`E(\mu_k - \mu)(\mu_k - \mu)^T` per generation k = 0..G, as multiples of the truth's
    covariance, for a pool that accumulates and a fit on ``scenario.fit_size`` of its points (all of them when the
    scenario does not subsample): the recursion of the module docstring."""
    if not scenario.accumulate:
        raise ValueError("scenario: the pool laws are for accumulating scenarios (with or without fit_size)")
    pool = scenario.initial
    size = scenario.fit_size or pool
    if size - ddof < 1 or pool < 2:
        raise ValueError(f"scenario: a fit on {size} points with ddof={ddof} has no covariance")
    total, pool_mean = float(pool), 1.0 / pool  # T_0 and P_0: N_0 real points
    covariance, mean_error = [], []
    for generation in range(generations + 1):
        scatter = (total - pool * pool_mean) / (pool - 1)
        fitted = (size - 1) / (size - ddof) * scatter
        error = pool_mean + scatter * (1 / size - 1 / pool)
        covariance.append(fitted)
        mean_error.append(error)
        if generation == generations:
            break
        real, synthetic = scenario.real, scenario.synthetic
        grown = pool + real + synthetic
        total += real + synthetic * (fitted + error)
        pool_mean = (
            pool**2 * pool_mean + 2 * pool * synthetic * pool_mean + synthetic**2 * error + synthetic * fitted + real
        ) / grown**2
        pool = grown
        size = scenario.fit_size or pool
    return np.array(covariance), np.array(mean_error)


def accumulating_moments(
    scenario: Scenario, generations: int, ddof: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    r"""Accumulating (every point of the pool fitted): :math:`E\Sigma_k`, :math:`E(\mu_k - \mu)(\mu_k - \mu)^T` (as
    multiples of the truth's covariance, :func:`subsample_moments` with the whole pool) and, for synthetic additions,
    :math:`E\sigma_k^4` in 1-D units (the product of the module docstring; None with real additions)."""
    covariance, mean_error = subsample_moments(scenario, generations, ddof)
    if scenario.real:
        return covariance, mean_error, None
    first, added = scenario.initial, scenario.synthetic
    square = [(first**2 - 1) / (first - ddof) ** 2]  # E (chi^2_{N0-1})^2 / (N0 - ddof)^2
    pool = first
    for _ in range(generations):
        previous, pool = pool, pool + added
        mean_factor = 1 + (added - 1 + previous / pool) / (previous - ddof)
        factor_variance = (2 * (added - 1) + 2 * (previous / pool) ** 2) / (previous - ddof) ** 2
        square.append(square[-1] * (previous - ddof) ** 2 * (mean_factor**2 + factor_variance) / (pool - ddof) ** 2)
    return covariance, mean_error, np.array(square)
