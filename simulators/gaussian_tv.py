r"""The total variation between two Gaussians, exactly, in any dimension, for many pairs against one law at once.

Whitening by the first law (:math:`x = \mu_1 + L_1 z`, :math:`\Sigma_1 = L_1L_1^T`) and diagonalising the second
(:math:`L_1^{-1}\Sigma_2L_1^{-T} = U\,\mathrm{diag}(\lambda)\,U^T`, :math:`y = U^Tz`) map the pair to
:math:`N(0, I)` and :math:`N(b, \mathrm{diag}(\lambda))` with independent coordinates; TV is invariant under the map.
The set where the first density is larger is :math:`\{Q(y) > 0\}`,

.. math:: Q(y) = 2\log\frac{p_1(y)}{p_2(y)} = \sum_j \Big(\frac{(y_j - b_j)^2}{\lambda_j} - y_j^2 + \log\lambda_j\Big),

so :math:`\mathrm{TV} = P_1(Q > 0) - P_2(Q > 0)`. Under either law each coordinate's term is
:math:`a_jZ_j^2 + \beta_jZ_j + \gamma_j` with :math:`Z_j` standard normal,

.. math:: P_1:\ a = 1/\lambda - 1,\ \beta = -2b/\lambda,\ \gamma = b^2/\lambda + \log\lambda; \qquad
    P_2:\ a = 1 - \lambda,\ \beta = -2b\sqrt\lambda,\ \gamma = \log\lambda - b^2,

a form that stays well conditioned as :math:`\lambda_j \to 1` (where the quadric turns linear): both probabilities
come from :func:`selfloop.simulators.quadratic_form.exceedance`. Coordinates of equal variance are first combined into
one (a rotation within them), and the product structure gives exact bounds on TV from the coordinates' 1-D TVs
:math:`t_j` (:func:`gaussian_tv_1d`): :math:`\max_j t_j \le \mathrm{TV} \le 1 - \prod_j (1 - t_j)` (the projection on
a coordinate, and the coupling of the coordinates one by one). Where they meet within :data:`BRACKET` (one coordinate
differs, or a fit is so narrow that TV is 1 to that precision) they are the answer; elsewhere they bracket the
integral's value. Derivation and error: docs/theory.md, section 12.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .quadratic_form import TOLERANCE, exceedance

__all__ = ["BRACKET", "gaussian_tv", "gaussian_tv_1d"]

#: Product bounds closer than this settle a pair without the integral (their midpoint, with half the gap as error).
BRACKET = 2e-12


def gaussian_tv_1d(mean1, variance1, mean2, variance2) -> np.ndarray:
    r""":math:`\mathrm{TV}(N(m_1, v_1), N(m_2, v_2))` elementwise over broadcast arrays, in closed form.

    Equal variances (to 1e-13 relative): :math:`2\Phi(|m_1 - m_2|/(2\sqrt v)) - 1`. Unequal: TV is invariant under an
    affine map, so the broader law becomes :math:`N(0, 1)` and the narrower :math:`N(m, v)`, :math:`v < 1`. Their log
    densities cross at :math:`x = m + t` with :math:`\tfrac{v-1}{v} t^2 + 2mt + m^2 - \log v = 0`, whose roots are
    :math:`t = q\,v/(v - 1)` and :math:`t = (m^2 - \log v)/q` with :math:`q = -(m + \operatorname{sign}(m)\,r)`,
    :math:`r^2 = (m^2 + (v - 1)\log v)/v` (the stable form; :math:`r^2` is a sum of non-negative terms, and the
    offsets t from the narrower mean keep their precision however narrow it is). The laws are ordered one way between
    the crossings and the other way outside, so TV is the difference of their masses between them.
    """
    values = np.broadcast_arrays(*(np.asarray(value, dtype=float) for value in (mean1, variance1, mean2, variance2)))
    shape = values[0].shape
    m1, v1, m2, v2 = (np.ravel(value) for value in values)
    out = 2 * special.ndtr(np.abs(m1 - m2) / (2 * np.sqrt(v2))) - 1
    unequal = np.abs(v1 - v2) > 1e-13 * np.abs(v2)
    m1, v1, m2, v2 = m1[unequal], v1[unequal], m2[unequal], v2[unequal]
    first_broader = v1 > v2
    broad_mean, broad_variance = np.where(first_broader, m1, m2), np.where(first_broader, v1, v2)
    narrow_mean, narrow_variance = np.where(first_broader, m2, m1), np.where(first_broader, v2, v1)
    m, v = (narrow_mean - broad_mean) / np.sqrt(broad_variance), narrow_variance / broad_variance
    log_v = np.log(v)
    q = -(m + np.copysign(np.sqrt((m**2 + (v - 1) * log_v) / v), m))
    offsets = q * v / (v - 1), (m**2 - log_v) / q
    low, high = np.minimum(*offsets), np.maximum(*offsets)
    narrow = special.ndtr(high / np.sqrt(v)) - special.ndtr(low / np.sqrt(v))
    out[unequal] = np.abs(narrow - (special.ndtr(m + high) - special.ndtr(m + low)))
    return out.reshape(shape)


def _checked(name: str, covariance: np.ndarray, dim: int, batched: bool) -> np.ndarray:
    shape = (dim, dim) if not batched else (covariance.shape[0], dim, dim)
    if covariance.shape != shape or not np.all(np.isfinite(covariance)):
        raise ValueError(f"{name} must be finite with shape {shape}, got {covariance.shape}")
    if np.any(np.abs(covariance - np.swapaxes(covariance, -1, -2)) > 1e-12 + 1e-10 * np.abs(covariance)):
        raise ValueError(f"{name} must be symmetric")
    return covariance


def _reduced(mean1, covariance1, means, covariances) -> tuple[np.ndarray, np.ndarray]:
    """Each pair in the first law's whitened, the second's principal coordinates: offsets b and variances lambda
    (R, d), ascending; coordinates of variance 1 exactly combined into one (the rest of the row padded with the
    neutral coordinate b = 0, lambda = 1)."""
    try:
        factor = np.linalg.cholesky(covariance1)
    except np.linalg.LinAlgError:
        raise ValueError("covariance1 must be positive definite") from None
    whiten = np.linalg.inv(factor)
    offsets = (means - mean1) @ whiten.T
    variances, rotations = np.linalg.eigh(whiten @ covariances @ whiten.T)
    if np.any(variances <= 0):
        raise ValueError(
            "covariance2 must be positive definite (a collapsed fit is singular: its TV to any Gaussian is 1)"
        )
    b = np.einsum("rji,rj->ri", rotations, offsets)
    equal = variances == 1.0
    if np.any(equal):
        combined = np.sqrt(np.where(equal, b**2, 0.0).sum(axis=1))
        b = np.where(equal, 0.0, b)
        first = np.argmax(equal, axis=1)
        rows = np.flatnonzero(equal.any(axis=1))
        b[rows, first[rows]] = combined[rows]
    return b, variances


def gaussian_tv(mean1, covariance1, mean2, covariance2, *, return_error: bool = False, tolerance: float = TOLERANCE):
    r""":math:`\mathrm{TV}(N(\mu_1, \Sigma_1), N(\mu_2, \Sigma_2))`, exactly, in any dimension (module docstring).

    ``mean2`` (d,) and ``covariance2`` (d, d) give one pair and a float; ``mean2`` (R, d) and ``covariance2`` (R, d, d)
    give R pairs against the one first law (a loop's fits against its truth) and an array. Equal covariances are the
    closed form :math:`2\Phi(\delta/2) - 1` (Mahalanobis :math:`\delta`), 1-D pairs :func:`gaussian_tv_1d`.

    ``tolerance`` is the absolute error each of the two probabilities whose difference is TV is computed to
    (:data:`selfloop.simulators.quadratic_form.TOLERANCE`): TV's is at most twice it, 8e-10 by default.

    Returns
    -------
    tv : float or ndarray (R,)
        In [0, 1].
    error : float or ndarray (R,)
        With ``return_error``: an estimate of the absolute error (the quadrature's error estimates and a rigorous bound
        of the truncated tail; the product bounds' half gap where they settle a pair).
    """
    mean1 = np.atleast_1d(np.asarray(mean1, dtype=float))
    dim = mean1.size
    covariance1 = _checked("covariance1", np.atleast_2d(np.asarray(covariance1, dtype=float)), dim, False)
    means = np.asarray(mean2, dtype=float)
    batched = means.ndim == 2
    means = np.atleast_2d(means) if dim > 1 or batched else means.reshape(-1, 1)
    covariances = np.asarray(covariance2, dtype=float)
    covariances = (
        covariances.reshape(means.shape[0], dim, dim) if covariances.size == means.shape[0] * dim * dim else covariances
    )
    covariances = _checked("covariance2", covariances, dim, True)
    if means.shape[1] != dim or not np.all(np.isfinite(means)) or not np.all(np.isfinite(mean1)):
        raise ValueError(f"mean2 must be finite with {dim} coordinates per pair, got shape {np.shape(mean2)}")
    if dim == 1:  # the closed form, elementwise
        value = gaussian_tv_1d(mean1[0], covariance1[0, 0], means[:, 0], covariances[:, 0, 0])
        if not batched:
            return (float(value[0]), 0.0) if return_error else float(value[0])
        return (value, np.zeros_like(value)) if return_error else value
    b, variances = _reduced(mean1, covariance1, means, covariances)
    marginal = gaussian_tv_1d(0.0, 1.0, b, variances)  # each coordinate's TV: the product bounds
    lower, upper = marginal.max(axis=1), 1.0 - np.prod(1.0 - marginal, axis=1)
    value, error = 0.5 * (lower + upper), 0.5 * (upper - lower)
    open_ = upper - lower > BRACKET
    if np.any(open_):
        b, lam = b[open_], variances[open_]
        log_lam = np.log(lam)
        law = dict(tolerance=tolerance)
        first, first_error = exceedance(1 / lam - 1, -2 * b / lam, (b**2 / lam + log_lam).sum(axis=1), **law)
        second, second_error = exceedance(1 - lam, -2 * b * np.sqrt(lam), (log_lam - b**2).sum(axis=1), **law)
        value[open_] = np.clip(first - second, lower[open_], upper[open_])
        error[open_] = first_error + second_error
    value = np.clip(value, 0.0, 1.0)
    if not batched:
        return (float(value[0]), float(error[0])) if return_error else float(value[0])
    return (value, error) if return_error else value
