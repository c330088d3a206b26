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

import functools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from selfloop.simulators import GaussianMixture, Scenario

from .mle_pool import accumulating_moments, subsample_moments

__all__ = ["MLEMoments", "mle_moments", "one_dimensional_moments"]


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


def _single_gaussian(truth: GaussianMixture) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(truth, GaussianMixture) or truth.components != 1:
        raise ValueError("truth: the Gaussian MLE laws are for a single Gaussian truth (one component)")
    return truth.means[0], truth.covariances[0]


def _block_moments(real: int, synthetic: int, variance, square_offset, ddof: int = 0) -> tuple:
    r"""Given the past, :math:`E` of :math:`(\sigma'^2, \delta'^2, \sigma'^4, \sigma'^2\delta'^2, \delta'^4)` for one fit on
    ``real`` points from :math:`N(0, 1)` and ``synthetic`` from :math:`N(o, v)` (whitened units, :math:`w = o^2`), the
    variance divided by :math:`N - \delta` (``ddof``). Exact in whatever numbers it is given (fractions give the exact
    rational coefficients of :func:`_fixed_split_step`).

    With :math:`y \sim N(m, D)`, :math:`\sigma'^2 = y^TAy`, :math:`A = C/(N - \delta)`, :math:`\delta'^2 = y^TBy`,
    :math:`B = 11^T/N^2`: :math:`E\,y^TPy = \operatorname{tr}PD + m^TPm`,
    :math:`\operatorname{Cov}(y^TPy, y^TQy) = 2\operatorname{tr}PDQD + 4m^TPDQm`, written with the two blocks' sums (every
    block of D and m is constant; only :math:`o^2` appears).
    """
    r, s, v, w = real, synthetic, variance, square_offset
    n = r + s
    scale = Fraction(n, n - ddof) if isinstance(v, Fraction) else n / (n - ddof)  # sigma'^2 = scale * (MLE's)
    sum_d, sum_dd = r + s * v, r + s * v * v
    mean_a = scale * ((sum_d - sum_d / n) / n + r * s * w / n**2)
    mean_b = sum_d / n**2 + s * s * w / n**2
    # tr(DCDC) = sum_dd - 2 sum_dd / n + sum_d^2 / n^2; (Cm)'D C D(Cm) = sum (d Cm)^2 - (sum d Cm)^2 / n
    spread = r * s * w * (s + r * v * v) / n**2 - (r * s * (v - 1)) ** 2 * w / n**3
    var_a = scale**2 * (2 * (sum_dd - 2 * sum_dd / n + sum_d**2 / n**2) / n**2 + 4 * spread / n**2)
    cov_ab = scale * (2 * (sum_dd - sum_d**2 / n) / n**3 + 4 * r * s * s * w * (v - 1) / n**4)
    var_b = 2 * sum_d**2 / n**4 + 4 * s * s * w * v * sum_d / n**4
    return mean_a, mean_b, var_a + mean_a**2, cov_ab + mean_a * mean_b, var_b + mean_b**2


#: Points (v, w) = (variance, squared offset) at which the conditional moments are evaluated to read off their exact
#: quadratic polynomials 1, v, w, v^2, vw, w^2.
_NODES = ((1, 0), (2, 0), (3, 0), (1, 1), (2, 1), (1, 2))


@functools.lru_cache(maxsize=64)
def _fixed_split_step(real: int, synthetic: int, ddof: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""The exact affine map of :math:`z = E(v, w, v^2, vw, w^2)` over one generation: ``z' = constant + matrix @ z``.

    Its coefficients are the conditional moments' polynomial coefficients, read off at six nodes in exact rational
    arithmetic: a coefficient that is zero is exactly zero (a floating-point solve left 1e-16 there, which deep collapse
    amplified to a relative error of 1e-5 at :math:`E\sigma^2 \approx 10^{-9}`)."""
    rows = [
        [Fraction(1), Fraction(v), Fraction(w), Fraction(v * v), Fraction(v * w), Fraction(w * w)] for v, w in _NODES
    ]
    values = [list(_block_moments(real, synthetic, Fraction(v), Fraction(w), ddof)) for v, w in _NODES]
    coefficients = _solve_exact(rows, values)  # (6 monomials, 5 moments)
    table = np.array([[float(c) for c in row] for row in coefficients])
    return table[0], table[1:].T


def _solve_exact(matrix: list[list[Fraction]], right: list[list[Fraction]]) -> list[list[Fraction]]:
    """``matrix @ x = right`` by Gauss-Jordan elimination in fractions (``matrix`` square and non-singular)."""
    size = len(matrix)
    rows = [list(a) + list(b) for a, b in zip(matrix, right)]
    for column in range(size):
        pivot = next(r for r in range(column, size) if rows[r][column] != 0)
        rows[column], rows[pivot] = rows[pivot], rows[column]
        lead = rows[column][column]
        rows[column] = [x / lead for x in rows[column]]
        for r in range(size):
            if r != column and rows[r][column] != 0:
                factor = rows[r][column]
                rows[r] = [x - factor * y for x, y in zip(rows[r], rows[column])]
    return [row[size:] for row in rows]


def one_dimensional_moments(
    scenario: Scenario, generations: int, ddof: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(E sigma_i^2, E delta_i^2, E sigma_i^4) per generation, whitened (truth variance 1); the last None where it
    is not known (a subsampled pool)."""
    if scenario.fit_size is not None:
        variance, offset = subsample_moments(scenario, generations, ddof)
        return variance, offset, None
    if scenario.accumulate:
        return accumulating_moments(scenario, generations, ddof)
    state = np.array([float(x) for x in _block_moments(scenario.initial, 0, Fraction(1), Fraction(0), ddof)])
    out = [state]
    constant, matrix = _fixed_split_step(scenario.real, scenario.synthetic, ddof)
    for _ in range(generations):
        state = constant + matrix @ state
        out.append(state)
    table = np.array(out)
    return table[:, 0], table[:, 1], table[:, 2]


def mle_moments(truth: GaussianMixture, scenario: Scenario, generations: int, *, ddof: int = 0) -> MLEMoments:
    r"""The exact moments of the Gaussian MLE loop's fitted parameters (module docstring), for the covariance divided by
    :math:`N - \delta` (``ddof`` 0, the MLE, or 1, the unbiased estimator: :class:`selfloop.simulators.GaussianMLE`).

    Fresh data with a fixed split (fully synthetic, mixed, growing synthetic) in any dimension; accumulating synthetic
    data in any dimension (the second moments in 1-D); accumulate-subsample (the first moments,
    :func:`selfloop.bounds.mle_pool.subsample_moments`). A reused real pool breaks the independence the laws rest on and
    is refused.

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
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 or 1, got {ddof!r}")
    generations = int(generations)
    dim = truth.dim
    if dim == 1:
        variance, offset, square = one_dimensional_moments(scenario, generations, ddof)
        scale = covariance[0, 0]
        deviation = None if square is None else np.sqrt(np.maximum(square - 2 * variance + 1, 0.0))
        return MLEMoments(
            scale * variance[:, None, None],
            scale * offset[:, None, None],
            None if square is None else scale**2 * square,
            deviation,
            np.sqrt(offset),
        )
    if scenario.fit_size is not None:
        u, v = subsample_moments(scenario, generations, ddof)
        return MLEMoments(u[:, None, None] * covariance, v[:, None, None] * covariance, None, None, np.sqrt(dim * v))
    if scenario.accumulate:
        u, v, _ = accumulating_moments(scenario, generations, ddof)
        return MLEMoments(u[:, None, None] * covariance, v[:, None, None] * covariance, None, None, np.sqrt(dim * v))
    # whitened first moments: U = E A_i, V = E Sigma^-1/2 delta delta' Sigma^-1/2, both multiples of the identity
    fraction, n = scenario.real_fraction, scenario.size
    us, vs = [(scenario.initial - 1) / (scenario.initial - ddof)], [1.0 / scenario.initial]
    for _ in range(generations):
        mixed = fraction + (1 - fraction) * us[-1]
        us, vs = (
            us + [((n - 1) * mixed + n * fraction * (1 - fraction) * vs[-1]) / (n - ddof)],
            vs + [(1 - fraction) ** 2 * vs[-1] + mixed / n],
        )
    u, v = np.array(us), np.array(vs)
    deviation = None
    if fraction == 0:  # fully synthetic: Wishart, E tr A^2 and E (tr A)^2 by a 2 x 2 linear recursion
        degrees, first = n - 1, scenario.initial - 1
        initial_scale = (scenario.initial - ddof) ** 2
        trace_square = [(first * (first + 1) * dim + first * dim**2) / initial_scale]
        square_trace = [(first**2 * dim**2 + 2 * first * dim) / initial_scale]
        for _ in range(generations):
            trace_square, square_trace = (
                trace_square
                + [(degrees * (degrees + 1) * trace_square[-1] + degrees * square_trace[-1]) / (n - ddof) ** 2],
                square_trace + [(degrees**2 * square_trace[-1] + 2 * degrees * trace_square[-1]) / (n - ddof) ** 2],
            )
        deviation = np.sqrt(np.maximum(np.array(trace_square) - 2 * dim * u + dim, 0.0))
    return MLEMoments(u[:, None, None] * covariance, v[:, None, None] * covariance, None, deviation, np.sqrt(dim * v))
