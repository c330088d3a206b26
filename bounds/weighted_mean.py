r"""The weighted Gaussian loop's exact laws: how much weight the real data should get (He, Xu and Cheng 2025,
arXiv:2502.18049).

Generation i >= 1 of a Gaussian loop fits on r fresh real points and s synthetic points drawn from generation i-1,
the real part weighted w and the synthetic part 1 - w (:meth:`selfloop.simulators.Scenario.weighted`). With the
covariance known (:math:`\Sigma`), the fitted mean is :math:`\theta_{i} = w \bar x + (1 - w) \bar y`, and
:math:`V_i = E(\theta_i - \mu)(\theta_i - \mu)^T` obeys (docs/theory.md, section 15)

.. math:: V_{i} = \frac{w^2}{r}\Sigma + (1 - w)^2\Big(V_{i-1} + \frac{\Sigma_{i-1}}{s}\Big),

with :math:`\Sigma_{i-1} = \Sigma`. With the covariance fitted too (the weighted MLE), its mean
:math:`C_i = E\hat\Sigma_i` joins a linear recursion,

.. math:: C_i = w\Big(1 - \frac{w}{r}\Big)\Sigma + (1 - w)\Big(1 - \frac{1 - w}{s}\Big) C_{i-1} + w(1 - w) V_{i-1},

and :math:`V_i` uses :math:`C_{i-1}` for :math:`\Sigma_{i-1}`: both exact at every generation, in any dimension.
Known covariance, the limit is :math:`V_\infty = \Sigma\,[w^2/r + (1-w)^2/s] / (1 - (1-w)^2)`, smallest at
:math:`w^\ast = (\sqrt{1 + 4k} - 1)/(2k)` with k = s/r (the golden ratio's inverse at k = 1).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from selfloop.simulators import GaussianMixture, Scenario
from selfloop.simulators.validation import check_fraction, check_nonnegative_size, check_positive, check_size

__all__ = ["WeightedLaw", "optimal_real_weight", "weighted_mean_variance_limit", "weighted_mle_moments"]


class WeightedLaw(NamedTuple):
    """The weighted loop's exact first two moments, per generation i = 0..G.

    Attributes
    ----------
    mean_error : ndarray (G + 1, d, d)
        :math:`V_i = E(\\theta_i - \\mu)(\\theta_i - \\mu)^T`; its trace is the mean squared error of the mean.
    covariance : ndarray (G + 1, d, d)
        :math:`E\\hat\\Sigma_i` (the model's fixed covariance when it is not fitted).
    """

    mean_error: np.ndarray
    covariance: np.ndarray


def weighted_mle_moments(
    truth: GaussianMixture, scenario: Scenario, generations: int, *, known_covariance=None
) -> WeightedLaw:
    r"""The exact :math:`V_i` and :math:`E\hat\Sigma_i` of the weighted Gaussian loop (module docstring).

    Parameters
    ----------
    truth : GaussianMixture
        A single Gaussian :math:`N(\mu, \Sigma)`.
    scenario : Scenario
        A weighted scenario (:meth:`Scenario.weighted`); generation 0 fits on its ``initial`` real points.
    generations : int
        G.
    known_covariance : float or array_like (d, d), optional
        The model fits the mean only and keeps this covariance K (``GaussianMLE(covariance=K)``; a number c is c I):
        its synthetic points are drawn from N(theta, K), so :math:`\Sigma_{i-1} = K`. None: the covariance is fitted.
    """
    if getattr(truth, "components", None) != 1:
        raise ValueError("truth must be a single Gaussian (a GaussianMixture with one component)")
    if not isinstance(scenario, Scenario) or scenario.real_weight is None:
        raise ValueError("scenario must be a weighted Scenario (Scenario.weighted(real, synthetic, real_weight))")
    generations = check_nonnegative_size("generations", generations)
    sigma = truth.covariances[0]
    fixed = None
    if known_covariance is not None:
        fixed = np.asarray(known_covariance, dtype=float)
        fixed = fixed * np.eye(sigma.shape[0]) if fixed.ndim == 0 else fixed
        if fixed.shape != sigma.shape:
            raise ValueError(f"known_covariance must be a number or {sigma.shape}, got shape {fixed.shape}")
    w, r, s, n0 = scenario.real_weight, scenario.real, scenario.synthetic, scenario.initial
    mean_error = np.empty((generations + 1, *sigma.shape))
    covariance = np.empty_like(mean_error)
    mean_error[0] = sigma / n0
    covariance[0] = fixed if fixed is not None else (1.0 - 1.0 / n0) * sigma
    for i in range(1, generations + 1):
        v, c = mean_error[i - 1], covariance[i - 1]
        mean_error[i] = w**2 / r * sigma + (1.0 - w) ** 2 * (v + c / s)
        if fixed is not None:
            covariance[i] = fixed
        else:
            covariance[i] = w * (1 - w / r) * sigma + (1 - w) * (1 - (1 - w) / s) * c + w * (1 - w) * v
    return WeightedLaw(mean_error, covariance)


def weighted_mean_variance_limit(real: int, synthetic: int, weight: float, variance: float = 1.0) -> float:
    r""":math:`\lim_i E(\theta_i - \mu)^2 = \sigma^2 [w^2/r + (1 - w)^2/s] / (1 - (1 - w)^2)` for the weighted mean
    with known variance :math:`\sigma^2` (infinite at w = 0, where nothing real enters)."""
    real, synthetic = check_size("real", real), check_size("synthetic", synthetic)
    w, variance = check_fraction("weight", weight), check_positive("variance", variance)
    if w == 0.0:
        return float("inf")
    return float(variance * (w**2 / real + (1 - w) ** 2 / synthetic) / (1 - (1 - w) ** 2))


def optimal_real_weight(real: int, synthetic: int) -> float:
    r"""The w minimising :func:`weighted_mean_variance_limit`: :math:`w^\ast = (\sqrt{1 + 4k} - 1)/(2k)`, k = s/r
    (docs/theory.md, section 15; 0.618... at k = 1)."""
    k = check_size("synthetic", synthetic) / check_size("real", real)
    return float((np.sqrt(1 + 4 * k) - 1) / (2 * k))
