r"""The Gaussian MLE loop's TV bound (``mle_tv``), from the exact moment laws (:mod:`selfloop.bounds.mle`): the smaller of
two rigorous routes.

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
:math:`L_i \ge E\ell_i^2` (:func:`log_variance_second_moment`). It is locally tight to second order, where the triangle
route pays the constant 3/2 against the same-mean TV's slope 0.24.

.. math:: E\,\mathrm{TV}_i \le \min\Big(1,\ \tfrac32\sqrt{E\|A_i - I\|_F^2} + 2\Phi\big(\sqrt{E\Delta_i^2}/2\big) - 1,\ \sqrt{m(2 - m)}\Big).

Reference: Devroye, Mehrabian and Reddad, The total variation distance between high-dimensional Gaussians (2018); docs/theory.md,
section 9.3.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from scipy import integrate, special

from selfloop.simulators import GaussianMixture, Scenario

from . import symbols as s
from .bound import PAPER, Bound, Source, register
from .mle import mle_moments, one_dimensional_moments

__all__ = ["HELLINGER_SLOPE", "log_variance_second_moment", "mle_bound_for", "mle_tv_bound"]

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
    (:func:`log_variance_second_moment`; where it is not derived, d > 1, :math:`L_i = 16` and the Hellinger term is 1).
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


def _laplace(integrand) -> float:
    r""":math:`\int_0^\infty` ``integrand(t)`` dt for the Laplace-transform identities below (relative accuracy 1e-12)."""
    return integrate.quad(integrand, 0.0, np.inf, epsabs=0.0, epsrel=1e-12, limit=400)[0]


def _log_chi_square_moments(degrees: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and variance of :math:`\log(\chi^2_k/n)`: :math:`\psi(k/2) + \log(2/n)` and :math:`\psi'(k/2)`."""
    return special.digamma(degrees / 2) + np.log(2 / points), special.polygamma(1, degrees / 2)


def _tangent_of_inverse(real: int, synthetic: int, at: float) -> tuple[float, float]:
    r"""(a, b) with :math:`E[1/v' \mid v] \le n(a + b/v)` for every v, tangent at ``at`` (fresh data, fixed split).

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


def log_variance_second_moment(scenario: Scenario, generations: int) -> np.ndarray:
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
    >>> exact = log_variance_second_moment(Scenario.fully_synthetic(50), 2)
    >>> bool(np.all(np.diff(exact) > 0)), bool(np.all(log_variance_second_moment(Scenario.mixed(50, 0.5), 2) < 0.2))
    (True, True)
    """
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    if scenario.reuse_real:
        raise ValueError("scenario: a reused real pool breaks the independence the Gaussian MLE laws rest on")
    generations = int(generations)
    first, real, synthetic = scenario.initial, scenario.real, scenario.synthetic
    if scenario.accumulate and (real or scenario.fit_size is not None):
        raise ValueError("scenario: when accumulating, derived for synthetic additions fitted on the whole pool")
    if min(first, real + synthetic) <= 3:
        raise ValueError("scenario: the log variance's second moment is bounded for more than 3 points per fit")
    if not scenario.accumulate and (real == 0 or synthetic == 0):
        points = np.array([first] + [real + synthetic] * generations, dtype=float)
        mean, variance = _log_chi_square_moments(points - 1, points)
        if synthetic == 0:  # every generation refits on fresh real data alone: independent draws of generation 0's law
            return variance + mean**2
        return np.cumsum(variance) + np.cumsum(mean) ** 2
    variance_mean = one_dimensional_moments(scenario, generations)[0]
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
            "scenario: the TV bound needs the exact second moments: in d > 1 derived for fully synthetic training, "
            "in 1-D for every scenario but accumulating real points or a subsampled pool"
        )
    logs = log_variance_second_moment(scenario, generations) if truth.dim == 1 else None
    return np.atleast_1d(
        _REGISTERED.evaluate(
            variance_deviation=moments.variance_deviation,
            mean_deviation=moments.mean_deviation,
            log_variance_square=np.full_like(moments.mean_deviation, 16.0) if logs is None else logs,
        )
    )


_REGISTERED = register(mle_tv_bound())
