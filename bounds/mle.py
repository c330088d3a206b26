r"""The Gaussian maximum-likelihood loop: exact moment laws of the fitted parameters, and a TV bound from them.

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

The TV bound (``mle_tv``): the smaller of two rigorous routes
    *Triangle.* Through :math:`N(\mu_i, \Sigma)`, the same-mean bound of Devroye, Mehrabian and Reddad (2018),
    :math:`\mathrm{TV}(N(m, \Sigma), N(m, \Sigma_i)) \le \tfrac32\|A_i - I\|_F`, and the exact mean-shift TV
    :math:`2\Phi(\Delta_i/2) - 1`, which is concave in :math:`\Delta_i`, Jensen and Cauchy-Schwarz give
    :math:`\tfrac32\sqrt{E\|A_i - I\|_F^2} + 2\Phi(\sqrt{E\Delta_i^2}/2) - 1`.

    *Hellinger (1-D).* :math:`\mathrm{TV} \le \sqrt{1 - BC^2} \le \sqrt{H(2 - H)}` with :math:`H = 1 - BC` and the
    Bhattacharyya coefficient :math:`BC = \cosh(\ell/2)^{-1/2} e^{-\delta^2/(4(1 + v))}` of :math:`N(\delta, v)` and
    N(0, 1), :math:`\ell = \log v`. Since :math:`\cosh x \le e^{x^2/2}` and :math:`e^{-x} \ge 1 - x`,
    :math:`H \le \ell^2/16 + \kappa\delta^2/4` with :math:`\kappa = \max_v \cosh(\ell/2)^{-1/2}/(1 + v) =
    \sqrt2\,5^{-1/4}(5/6)^{3/2}` (at v = 1/5). :math:`\sqrt{H(2 - H)}` is concave and increasing in H, so by Jensen
    :math:`E\,\mathrm{TV}_i \le \sqrt{m(2 - m)}`, :math:`m = \min(1, L_i/16 + \kappa E\Delta_i^2/4)`, with
    :math:`L_i \ge E\ell_i^2` (:func:`log_variance_square`). It is locally tight to second order, where the triangle
    route pays the constant 3/2 against the same-mean TV's slope 0.24.

    .. math:: E\,\mathrm{TV}_i \le \min\Big(1,\ \tfrac32\sqrt{E\|A_i - I\|_F^2} + 2\Phi\big(\sqrt{E\Delta_i^2}/2\big) - 1,\ \sqrt{m(2 - m)}\Big).

Reference: Shumailov et al., Nature 2024; Bertrand et al., ICLR 2024; Gerstgrasser et al. 2024; docs/theory.md, section 9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy import integrate, special

from selfloop.simulators import GaussianMixture, Scenario

from . import symbols as s
from .bound import PAPER, Bound, Source, register

__all__ = ["HELLINGER_SLOPE", "MLEMoments", "log_variance_square", "mle_bound_for", "mle_moments", "mle_tv_bound"]

_SECTION = "docs/theory.md, section 9 (the Gaussian MLE loop)"
_LITERATURE = (
    "Shumailov et al., AI models collapse when trained on recursively generated data, Nature 2024; "
    "Bertrand et al., ICLR 2024; Gerstgrasser et al., 2024"
)


#: :math:`\kappa = \max_v \cosh(\log(v)/2)^{-1/2}/(1 + v) = \sqrt2\,5^{-1/4}(5/6)^{3/2}`, at v = 1/5: the mean shift's
#: weight in the Hellinger route (module docstring).
HELLINGER_SLOPE = sp.sqrt(2) * sp.Integer(5) ** sp.Rational(-1, 4) * sp.Rational(5, 6) ** sp.Rational(3, 2)


def mle_tv_bound() -> Bound:
    r"""The registered bound :math:`E\,\mathrm{TV}_i \le \min(1, \tfrac32 V_i + \operatorname{erf}(D_i/(2\sqrt2)), \sqrt{m(2 - m)})`.

    :math:`V_i = \sqrt{E\|A_i - I\|_F^2}` and :math:`D_i = \sqrt{E\Delta_i^2}` come from the exact moment laws
    (:func:`mle_moments`); :math:`\operatorname{erf}(D/(2\sqrt2)) = 2\Phi(D/2) - 1`;
    :math:`m = \min(1, L_i/16 + \kappa D_i^2/4)` with :math:`L_i \ge E(\log\sigma_i^2/\sigma^2)^2` in 1-D
    (:func:`log_variance_square`; where it is not derived, d > 1, :math:`L_i = 16` and the Hellinger term is 1).
    """
    hellinger = sp.Min(1, s.log_variance_square / 16 + HELLINGER_SLOPE * s.mean_deviation**2 / 4)
    return Bound(
        "mle_tv",
        sp.Min(
            1,
            sp.Rational(3, 2) * s.variance_deviation + sp.erf(s.mean_deviation / (2 * sp.sqrt(2))),
            sp.sqrt(hellinger * (2 - hellinger)),
        ),
        statement=(
            "E TV(N(mu_i, Sigma_i), N(mu, Sigma)) <= min(1, 3/2 sqrt(E||A_i - I||_F^2) + 2 Phi(sqrt(E Delta_i^2)/2) - 1, "
            "sqrt(m (2 - m))) with m = min(1, L_i/16 + kappa E Delta_i^2/4), L_i >= E (log sigma_i^2/sigma^2)^2 (1-D), for "
            "the Gaussian MLE loop on a Gaussian truth, A_i the whitened fitted covariance and Delta_i the Mahalanobis "
            "distance of the fitted mean"
        ),
        source=Source(
            f"{PAPER} (the setting); the Gaussian MLE loop: {_LITERATURE}",
            _SECTION,
            "rigorous",
            "Beyond the paper: the exact first two moments of the fitted parameters (law of total expectation), the same-mean "
            "Gaussian TV bound of Devroye, Mehrabian and Reddad (2018), the exact mean-shift TV, Jensen and Cauchy-Schwarz; "
            "and in 1-D the Bhattacharyya coefficient's closed form with the exact or bounded second moment of the log "
            "variance (digamma and trigamma, or an inverse moment by a concave tangent).",
        ),
        definitions=(
            sp.Eq(s.variance_deviation, sp.sqrt(sp.Symbol(r"E\|A_i - I\|_F^2"))),
            sp.Eq(s.mean_deviation, sp.sqrt(sp.Symbol(r"E\Delta_i^2"))),
            sp.Eq(sp.Symbol(r"\kappa"), HELLINGER_SLOPE),
        ),
    )


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
    log_variance_square : ndarray (G + 1,) or None
        1-D: an upper bound on :math:`E(\log\sigma_i^2/\sigma^2)^2`, exact where stated (:func:`log_variance_square`).
    """

    covariance: np.ndarray
    mean_error: np.ndarray
    variance_square: np.ndarray | None
    variance_deviation: np.ndarray | None
    mean_deviation: np.ndarray
    log_variance_square: np.ndarray | None = None

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


def _laplace(integrand) -> float:
    r""":math:`\int_0^\infty` ``integrand(t)`` dt for the Laplace-transform identities below (relative accuracy 1e-12)."""
    return integrate.quad(integrand, 0.0, np.inf, epsabs=0.0, epsrel=1e-12, limit=400)[0]


def _log_chi_square_moments(degrees: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and variance of :math:`\log(\chi^2_k/n)`: :math:`\psi(k/2) + \log(2/n)` and :math:`\psi'(k/2)`."""
    return special.digamma(degrees / 2) + np.log(2 / points), special.polygamma(1, degrees / 2)


def _tangent_of_inverse(real: int, synthetic: int, at: float) -> tuple[float, float]:
    r"""(a, b) with :math:`E[n/(n v') \mid v] \le n(a + b/v)` for every v, tangent at ``at`` (fresh data, fixed split).

    Given the past, :math:`n v' = X + vY + B` with :math:`X \sim \chi^2_{r-1}`, :math:`Y \sim \chi^2_{s-1}` and the
    between-groups term B, whose Laplace transform is at most that of :math:`((s + rv)/n)Z`, :math:`Z \sim \chi^2_1`
    (the mean offset only lowers it). So :math:`E[1/(nv')] \le \varphi(v) = E[1/(a_0 + v b_0)]`,
    :math:`a_0 = X + sZ/n`, :math:`b_0 = Y + rZ/n`, and :math:`\psi(v) = v\varphi(v) = E[1/(a_0/v + b_0)]` is concave
    in v; its tangent at ``at`` lies above it, which is :math:`\varphi(v) \le \psi'(v_*) + (\psi(v_*) - v_*\psi'(v_*))/v`.
    Both as integrals of the Laplace transform :math:`M(p, q) = E e^{-p a_0 - q b_0}`, in closed form.
    """
    n = real + synthetic

    def transform(p, q):
        return (
            (1 + 2 * p) ** (-(real - 1) / 2)
            * (1 + 2 * q) ** (-(synthetic - 1) / 2)
            * (1 + 2 * (p * synthetic + q * real) / n) ** -0.5
        )

    value = _laplace(lambda t: transform(t / at, t))
    # d/dv M(t/v, t) = (t/v^2) M (r - 1)/(1 + 2t/v) + (t/v^2) M (s/n)/(1 + 2(ts/v + tr)/n)
    slope = _laplace(
        lambda t: (
            t
            / at**2
            * transform(t / at, t)
            * ((real - 1) / (1 + 2 * t / at) + (synthetic / n) / (1 + 2 * t * (synthetic / at + real) / n))
        )
    )
    return slope, value - at * slope


def log_variance_square(scenario: Scenario, generations: int) -> np.ndarray:
    r"""An upper bound on :math:`E\ell_i^2`, :math:`\ell_i = \log(\sigma_i^2/\sigma^2)`, per generation (1-D), exact
    where the log variance is a sum of independent log chi-squares.

    - Generation 0, every fresh-data generation without synthetic points, and fully synthetic training: the fitted
      variance is a product of independent :math:`\chi^2_{n-1}/n` factors, and :math:`E\ell^2 = \operatorname{Var} +
      \text{mean}^2` from :func:`scipy.special.digamma` and ``polygamma(1, .)`` (exact).
    - Otherwise :math:`\ell^2 \le 4\sinh^2(\ell/2) = v - 2 + 1/v` (tight to fourth order) with the exact
      :math:`E v_i` (:func:`mle_moments`) and a bound on :math:`E[1/v_i]`: accumulating, :math:`v_k = v_{k-1}R_k` with
      independent :math:`R_k` and :math:`E[1/R_k]` by its Laplace integral (exact); fresh data with a fixed split,
      the linear recursion :math:`E[1/v_{i+1}] \le n(a_i + b_i E[1/v_i])` of a concave tangent at :math:`v_* = E v_i`
      (:func:`_tangent_of_inverse`; a bound).

    Needs more than 3 points per fit (:math:`E[1/\chi^2_{n-1}]` is infinite below).

    Examples
    --------
    >>> from selfloop.simulators import Scenario
    >>> exact = log_variance_square(Scenario.fully_synthetic(50), 2)
    >>> bool(np.all(np.diff(exact) > 0)), bool(np.all(log_variance_square(Scenario.mixed(50, 0.5), 2) < 0.2))
    (True, True)
    """
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    if scenario.reuse_real:
        raise ValueError("scenario: a reused real pool breaks the independence the Gaussian MLE laws rest on")
    generations = int(generations)
    first, real, synthetic = scenario.initial, scenario.real, scenario.synthetic
    if min(first, real + synthetic) <= 3:
        raise ValueError("scenario: the log variance's second moment is bounded for more than 3 points per fit")
    if not scenario.accumulate and (real == 0 or synthetic == 0):
        points = np.array([first] + [real + synthetic] * generations, dtype=float)
        mean, variance = _log_chi_square_moments(points - 1, points)
        if synthetic == 0:  # every generation refits on fresh real data alone: independent draws of generation 0's law
            return variance + mean**2
        return np.cumsum(variance) + np.cumsum(mean) ** 2
    variance_mean = _one_dimensional(scenario, generations)[0]
    inverse = [first / (first - 3)]  # E[n / chi^2_{n-1}]
    if scenario.accumulate:
        pool = first
        for _ in range(generations):
            previous, pool = pool, pool + synthetic
            # E[1/R] = pool E[1/(previous + chi^2_{s-1} + (previous/pool) chi^2_1)]
            ratio = pool * _laplace(
                lambda t: (
                    np.exp(-t * previous)
                    * (1 + 2 * t) ** (-(synthetic - 1) / 2)
                    * (1 + 2 * t * previous / pool) ** -0.5
                )
            )
            inverse.append(inverse[-1] * ratio)
    else:
        n = real + synthetic
        for generation in range(generations):
            slope, intercept = _tangent_of_inverse(real, synthetic, float(variance_mean[generation]))
            inverse.append(n * (slope + intercept * inverse[-1]))
    bound = variance_mean - 2 + np.array(inverse)
    mean, variance = _log_chi_square_moments(np.array([first - 1.0]), np.array([float(first)]))
    bound[0] = variance[0] + mean[0] ** 2  # generation 0 exactly
    return bound


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
            log_variance_square(scenario, generations),
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


def mle_bound_for(truth: GaussianMixture, scenario: Scenario, generations: int) -> np.ndarray:
    r"""The bound on :math:`E\,\mathrm{TV}(\hat p_i, p_0)` for i = 0..generations (``mle_tv``, via :meth:`Bound.evaluate`).

    Examples
    --------
    >>> from selfloop.simulators import GaussianMixture, Scenario
    >>> bound = mle_bound_for(GaussianMixture([1.0], [[0.0]], [[[1.0]]]), Scenario.mixed(50, 0.5), 10)
    >>> bound.shape, bool(np.all((0 < bound) & (bound < 1)))
    ((11,), True)
    """
    moments = mle_moments(truth, scenario, generations)
    if moments.variance_deviation is None:
        raise ValueError(
            "scenario: in d > 1 the TV bound needs second moments, derived for fully synthetic training only"
        )
    logs = moments.log_variance_square
    return np.atleast_1d(
        _REGISTERED.evaluate(
            variance_deviation=moments.variance_deviation,
            mean_deviation=moments.mean_deviation,
            log_variance_square=np.full_like(moments.mean_deviation, 16.0) if logs is None else logs,
        )
    )


_REGISTERED = register(mle_tv_bound())
