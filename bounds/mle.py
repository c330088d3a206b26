r"""The Gaussian maximum-likelihood loop: exact moment laws of the fitted parameters.

The TV bound built on them is :mod:`selfloop.bounds.mle_bound`.

A Gaussian truth :math:`p_0 = N(\mu, \Sigma)` is refit by maximum likelihood (the covariance with 1/N) on each
generation's training set. Write :math:`\delta_i = \mu_i - \mu` and, whitened by the truth,
:math:`A_i = \Sigma^{-1/2}\Sigma_i\Sigma^{-1/2}`, :math:`\Delta_i^2 = \delta_i^T\Sigma^{-1}\delta_i`.

Fresh data, a fixed split (r real and s synthetic points, N = r + s, :math:`\lambda = r/N`)
    Given the past, :math:`N\Sigma_{i+1} = Y^T C Y` and :math:`\delta_{i+1} = \bar Y` for the Gaussian vector of the
    N points with the truth's mean subtracted (C centres). The law of total expectation gives the linear recursion

    .. math::
        E\Sigma_{i+1} = (1 - \tfrac1N)\big(\lambda\Sigma + (1-\lambda)E\Sigma_i\big) + \lambda(1-\lambda)E\delta_i\delta_i^T,
        \qquad E\delta_{i+1}\delta_{i+1}^T = (1-\lambda)^2 E\delta_i\delta_i^T + \big(\lambda\Sigma + (1-\lambda)E\Sigma_i\big)/N,

    which, fully synthetic (:math:`\lambda = 0`), is :math:`E\Sigma_i = ((N-1)/N)^{i+1}\Sigma` (Shumailov et al.'s
    collapse) and :math:`E\delta_i\delta_i^T = (1 - ((N-1)/N)^{i+1})\Sigma`; with fresh real data it has a fixed point.
    In 1-D the second moments close too: given the past, :math:`\sigma^2_{i+1}` and :math:`\delta^2_{i+1}` are quadratic
    forms in a Gaussian vector whose mean and covariance are affine in :math:`\delta_i` and :math:`\sigma_i^2`, so their
    products' conditional expectations are quadratic polynomials in :math:`(\sigma_i^2, \delta_i^2)`: the expectations of
    :math:`(\sigma^2, \delta^2, \sigma^4, \sigma^2\delta^2, \delta^4)` follow an exact affine recursion
    (:func:`_fixed_split_step`). In d dimensions, fully synthetic, :math:`A_{i+1} = A_i^{1/2} W A_i^{1/2}/N` with
    :math:`W \sim W_d(I, N-1)` gives :math:`E\operatorname{tr}A^2` and :math:`E(\operatorname{tr}A)^2` by a 2 x 2 linear
    recursion (:math:`E[WBW] = n(n+1)B + n\operatorname{tr}(B)I`, :math:`\operatorname{Var}\operatorname{tr}(BW) = 2n\operatorname{tr}B^2`).
Accumulating (1-D, synthetic points only)
    The pool of :math:`n_k = N_0 + ks` points grows by s draws from the last fit; by the parallel-axis theorem
    :math:`\sigma_k^2 = \sigma_{k-1}^2 R_k` with :math:`R_k = (n_{k-1} + \chi^2_{s-1} + (1 - s/n_k)\chi^2_1)/n_k`
    independent of the past, and :math:`\delta_k = \delta_{k-1} + (s/n_k)\sigma_{k-1}\bar z`, so
    :math:`E\sigma^2_k = E\sigma^2_{k-1}(1 - s/n_k^2)`: a convergent product, no collapse (Gerstgrasser et al. 2024).

Reference: Shumailov et al., Nature 2024; Bertrand et al., ICLR 2024; Gerstgrasser et al. 2024; docs/theory.md, section 9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from selfloop.simulators import GaussianMixture, Scenario

__all__ = ["MLEMoments", "mle_moments"]


@dataclass(frozen=True)
class MLEMoments:
    r"""The exact moments of the fitted parameters, per generation i = 0..G.

    Attributes
    ----------
    covariance : ndarray (G + 1, d, d)
        :math:`E\Sigma_i` (in 1-D, :math:`E\sigma_i^2` in a (G + 1, 1, 1) array).
    mean_error : ndarray (G + 1, d, d)
        :math:`E\delta_i\delta_i^T`.
    variance_square : ndarray (G + 1,) or None
        1-D: :math:`E\sigma_i^4`.
    variance_deviation : ndarray (G + 1,) or None
        :math:`\sqrt{E\|A_i - I\|_F^2}`, where the second moments close (1-D; d dimensions fully synthetic).
    mean_deviation : ndarray (G + 1,)
        :math:`\sqrt{E\Delta_i^2}`.
    """

    covariance: np.ndarray
    mean_error: np.ndarray
    variance_square: np.ndarray | None
    variance_deviation: np.ndarray | None
    mean_deviation: np.ndarray

    @property
    def variance(self) -> np.ndarray:
        """1-D: :math:`E\\sigma_i^2`, shape (G + 1,)."""
        return self.covariance[:, 0, 0]


def _single_gaussian(truth) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(truth, GaussianMixture) or truth.components != 1:
        raise ValueError("truth: the Gaussian MLE laws are for a single Gaussian truth (one component)")
    return truth.means[0], truth.covariances[0]


def _quadratic_form_moments(real: int, synthetic: int, variance: float, offset: float) -> np.ndarray:
    r"""Given the past, :math:`E` of :math:`(\sigma'^2, \delta'^2, \sigma'^4, \sigma'^2\delta'^2, \delta'^4)` for one fit on
    ``real`` points from :math:`N(0, 1)` and ``synthetic`` from :math:`N(\text{offset}, \text{variance})` (whitened units).

    With :math:`y \sim N(m, D)`, :math:`\sigma'^2 = y^TAy`, :math:`A = C/N`, :math:`\delta'^2 = y^TBy`, :math:`B = 11^T/N^2`:
    :math:`E\,y^TPy = \operatorname{tr}PD + m^TPm`, :math:`\operatorname{Cov}(y^TPy, y^TQy) = 2\operatorname{tr}PDQD + 4m^TPDQm`,
    written with block sums (every block of D and m is constant).
    """
    n = real + synthetic
    d = np.concatenate([np.ones(real), np.full(synthetic, variance)])
    m = np.concatenate([np.zeros(real), np.full(synthetic, offset)])
    sum_d, sum_m = d.sum(), m.sum()
    centred = m - sum_m / n  # C m
    mean_a = (sum_d - sum_d / n) / n + centred @ centred / n  # E y'Ay
    mean_b = sum_d / n**2 + sum_m**2 / n**2  # E y'By
    # tr(ADAD) = tr(DCDC)/n^2, m'ADADm = (Cm)'D C D(Cm)/n^2
    d_centred = d * centred
    var_a = (
        2 * (d @ d - 2 * (d @ d) / n + sum_d**2 / n**2) / n**2
        + 4 * (d_centred @ d_centred - d_centred.sum() ** 2 / n) / n**2
    )
    # tr(ADBD) = d'Cd/n^3, m'ADBm = (Cm)'d * sum(m) / n^3
    cov_ab = 2 * (d @ d - sum_d**2 / n) / n**3 + 4 * (centred @ d) * sum_m / n**3
    # tr(BDBD) = (sum d)^2/n^4, m'BDBDm = sum(m) sum(d) (d'm) / n^4
    var_b = 2 * sum_d**2 / n**4 + 4 * sum_m * sum_d * (d @ m) / n**4
    return np.array([mean_a, mean_b, var_a + mean_a**2, cov_ab + mean_a * mean_b, var_b + mean_b**2])


#: Points (v, w) = (variance, squared offset) at which the conditional moments are evaluated to read off their exact
#: quadratic polynomials 1, v, w, v^2, vw, w^2.
_NODES = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [1.0, 1.0], [2.0, 1.0], [1.0, 2.0]])


def _fixed_split_step(real: int, synthetic: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The exact affine map of :math:`z = E(v, w, v^2, vw, w^2)` over one generation: ``z' = constant + matrix @ z``."""
    design = np.stack(
        [np.ones(6), _NODES[:, 0], _NODES[:, 1], _NODES[:, 0] ** 2, _NODES[:, 0] * _NODES[:, 1], _NODES[:, 1] ** 2],
        axis=1,
    )
    values = np.stack([_quadratic_form_moments(real, synthetic, v, np.sqrt(w)) for v, w in _NODES])
    coefficients = np.linalg.solve(design, values)  # (6 monomials, 5 moments)
    return coefficients[0], coefficients[1:].T


def _one_dimensional(scenario: Scenario, generations: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(E sigma_i^2, E delta_i^2, E sigma_i^4) per generation, whitened (truth variance 1)."""
    if scenario.accumulate:
        return _accumulating(scenario, generations)
    state = _quadratic_form_moments(scenario.initial, 0, 1.0, 0.0)  # generation 0: N0 real points
    out = [state]
    constant, matrix = _fixed_split_step(scenario.real, scenario.synthetic)
    for _ in range(generations):
        state = constant + matrix @ state
        out.append(state)
    out = np.array(out)
    return out[:, 0], out[:, 1], out[:, 2]


def _accumulating(scenario: Scenario, generations: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if scenario.real:
        raise ValueError("scenario: the accumulating laws are derived for synthetic additions only (real=0)")
    first, added = scenario.initial, scenario.synthetic
    variance, square, offset = [(first - 1) / first], [(first**2 - 1) / first**2], [1.0 / first]
    pool = first
    for _ in range(generations):
        previous, pool = pool, pool + added
        mean_ratio = (pool - added / pool) / pool
        ratio_variance = (2 * (added - 1) + 2 * (previous / pool) ** 2) / pool**2
        offset.append(offset[-1] + added / pool**2 * variance[-1])
        variance.append(variance[-1] * mean_ratio)
        square.append(square[-1] * (mean_ratio**2 + ratio_variance))
    return np.array(variance), np.array(offset), np.array(square)


def mle_moments(truth: GaussianMixture, scenario: Scenario, generations: int) -> MLEMoments:
    r"""The exact moments of the Gaussian MLE loop's fitted parameters (module docstring).

    Fresh data with a fixed split (fully synthetic, mixed, growing synthetic) in any dimension, and accumulating
    synthetic data in 1-D. A reused real pool breaks the independence the laws rest on and is refused.

    Examples
    --------
    >>> from selfloop.simulators import GaussianMixture, Scenario
    >>> truth = GaussianMixture([1.0], [[1.0]], [[[2.0]]])
    >>> law = mle_moments(truth, Scenario.fully_synthetic(50), 3)
    >>> np.allclose(law.variance, 2.0 * (49 / 50) ** np.arange(1, 5)), np.allclose(law.variance_square, 4.0 * (2499 / 2500) ** np.arange(1, 5))
    (True, True)
    """
    mean, covariance = _single_gaussian(truth)
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    if scenario.reuse_real:
        raise ValueError("scenario: a reused real pool breaks the independence the Gaussian MLE laws rest on")
    generations = int(generations)
    dim = truth.dim
    if dim == 1:
        variance, offset, square = _one_dimensional(scenario, generations)
        scale = covariance[0, 0]
        deviation = np.sqrt(np.maximum(square - 2 * variance + 1, 0.0))
        return MLEMoments(
            scale * variance[:, None, None],
            scale * offset[:, None, None],
            scale**2 * square,
            deviation,
            np.sqrt(offset),
        )
    if scenario.accumulate:
        raise ValueError("scenario: in d > 1 the Gaussian MLE laws are derived for fresh data with a fixed split")
    # whitened first moments: U = E A_i, V = E Sigma^-1/2 delta delta' Sigma^-1/2, both multiples of the identity
    fraction, n = scenario.real_fraction, scenario.size
    u, v = [(scenario.initial - 1) / scenario.initial], [1.0 / scenario.initial]
    for _ in range(generations):
        mixed = fraction + (1 - fraction) * u[-1]
        u, v = (
            u + [(1 - 1 / n) * mixed + fraction * (1 - fraction) * v[-1]],
            v + [(1 - fraction) ** 2 * v[-1] + mixed / n],
        )
    u, v = np.array(u), np.array(v)
    deviation = None
    if fraction == 0:  # fully synthetic: Wishart, E tr A^2 and E (tr A)^2 by a 2 x 2 linear recursion
        degrees, first = n - 1, scenario.initial - 1
        trace_square = [(first * (first + 1) * dim + first * dim**2) / scenario.initial**2]
        square_trace = [(first**2 * dim**2 + 2 * first * dim) / scenario.initial**2]
        for _ in range(generations):
            trace_square, square_trace = (
                trace_square + [(degrees * (degrees + 1) * trace_square[-1] + degrees * square_trace[-1]) / n**2],
                square_trace + [(degrees**2 * square_trace[-1] + 2 * degrees * trace_square[-1]) / n**2],
            )
        deviation = np.sqrt(np.maximum(np.array(trace_square) - 2 * dim * u + dim, 0.0))
    return MLEMoments(u[:, None, None] * covariance, v[:, None, None] * covariance, None, deviation, np.sqrt(dim * v))
