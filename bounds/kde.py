r"""Theorem K: the KDE loop, rigorous with explicit constants.

For a Gaussian KDE with bandwidth :math:`h` in :math:`\mathbb R^d`,

.. math::
    \mathrm{TV}_i \le S_i + B + (1-\lambda_i)\mathrm{TV}_{i-1},\qquad
    S_i = \mathrm{TV}(\hat p_i, K_h * q_i),\qquad
    B = \mathrm{TV}(K_h * p_0, p_0) \le \tfrac{h^2}{4}\|\Delta p_0\|_1,

because :math:`\|K_h * f\|_1 \le \|f\|_1` and, by the heat equation,
:math:`K_h * p_0 - p_0 = \int_0^{h^2} \tfrac12\Delta(G_t * p_0)\,dt`. Given the past the
:math:`N_i` training points are independent with :math:`E[\hat p_i] = K_h * q_i`;
:math:`\mathrm{Var}\,\hat p_i(x) \le N_i^{-1}E K_h(x-X)^2` and
:math:`K_h^2 = (4\pi h^2)^{-d/2} G_{h^2/2}`, so with Jensen

.. math::
    E S_i \le \tfrac12 N_i^{-1/2} (4\pi h^2)^{-d/4} J_i,\qquad
    J_i = \int \sqrt{G_{h^2/2} * E q_i}\,dx,

where :math:`E q_0 = p_0` and :math:`E q_i = \lambda p_0 + (1-\lambda) G_{h^2} * E q_{i-1}`
(an explicit Gaussian mixture). Hence

.. math:: E\,\mathrm{TV}_i \le \sum_{k=0}^{i} \prod_{j=k+1}^{i}(1-\lambda_j)\,(B + E S_k).

Moment form: Cauchy-Schwarz with weight :math:`(1+|x|^2)^s`, :math:`s > d/2`, gives
:math:`J \le \sqrt{W}\sqrt{\pi^{d/2}\Gamma(s-d/2)/\Gamma(s)}` with
:math:`W = \int (1+|x|^2)^s\, G_{h^2/2} * E q`. In d = 1 with s = 1,
:math:`W_k \le 1 + M_2 + h^2(k + \tfrac12)` (each smoothing adds :math:`h^2`).

Accumulating, :math:`\hat p_i = (1-a_i)\hat p_{i-1} + a_i\,\mathrm{KDE}(\text{new})`
gives :math:`\mathrm{TV}_i \le (1 - a_i\lambda)\mathrm{TV}_{i-1} + a_i(S_i + B)`.

Reference: Fu et al. 2024 (arXiv:2402.11778), KDE analysis; docs/theory.md, section 3 (Theorem K).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from selfloop.simulators import (
    GaussianMixture,
    Scenario,
    bandwidth_schedule,
    expected_densities,
    tv_monte_carlo,
    tv_quadrature,
)

from . import symbols as s
from .bound import PAPER, Bound, Source, register
from .recursion import propagate_scenario, propagated

__all__ = [
    "KDEBoundTerms",
    "kde_accumulate_bound",
    "kde_bound_for",
    "kde_bound_terms",
    "kde_step_bound",
    "kde_tv_bound",
    "moment_constant",
    "sampling_error",
]

_THEOREM = "KDE analysis; docs/theory.md, section 3 (Theorem K)"
#: Standard errors added to a Monte Carlo functional (d > 2) so an upper bound stays one (subtracted from a
#: lower bound); the one margin of every Monte Carlo bound in selfloop.bounds.
MONTE_CARLO_MARGIN = 3.0


def sampling_error(size: sp.Expr, sqrt_integral: sp.Expr = s.sqrt_integral) -> sp.Expr:
    r""":math:`\tfrac12 N^{-1/2}(4\pi h^2)^{-d/4} J`, the bound on :math:`E S`."""
    return sp.Rational(1, 2) * size ** sp.Rational(-1, 2) * (4 * sp.pi * s.bandwidth**2) ** (-s.dim / 4) * sqrt_integral


def moment_constant(dim: sp.Expr = s.dim, order: sp.Expr = s.moment_order) -> sp.Expr:
    r""":math:`\int (1+|x|^2)^{-s} dx = \pi^{d/2}\Gamma(s - d/2)/\Gamma(s)`, finite for s > d/2."""
    return sp.pi ** (dim / 2) * sp.gamma(order - dim / 2) / sp.gamma(order)


def _heat_bias() -> sp.Expr:
    return s.bandwidth**2 / 4 * s.laplacian_l1


def _moment_sqrt_integral_1d() -> sp.Expr:
    r"""d = 1, s = 1: :math:`J_k \le \sqrt{\pi(1 + M_2 + h^2(i + 1/2))}` for every k <= i."""
    return sp.sqrt(sp.pi * (1 + s.second_moment + s.bandwidth**2 * (s.generation + sp.Rational(1, 2))))


def kde_tv_bound(bias: str = "exact", sampling: str = "exact") -> Bound:
    r"""Theorem K for constant :math:`\lambda`, N after generation 0, N_0 at generation 0.

    .. math::
        E\,\mathrm{TV}_i \le (1-\lambda)^i (B + \bar S(N_0)) + (B + \bar S(N))\sum_{j=0}^{i-1}(1-\lambda)^j,
        \qquad \bar S(N) = \tfrac12 N^{-1/2}(4\pi h^2)^{-d/4} J

    Parameters
    ----------
    bias : ``"exact"`` or ``"heat"``
        Keep :math:`B` as a symbol (its exact value is a quadrature), or use
        :math:`B \le h^2\|\Delta p_0\|_1/4`.
    sampling : ``"exact"``, ``"moment"`` or ``"moment_1d"``
        :math:`J = \max_{k\le i} J_k` as a symbol; the Cauchy-Schwarz form
        :math:`\sqrt{W\pi^{d/2}\Gamma(s-d/2)/\Gamma(s)}`; or, in d = 1, the
        fully symbolic :math:`\sqrt{\pi(1 + M_2 + h^2(i+1/2))}`.
    """
    bias_term = {"exact": s.bias, "heat": _heat_bias()}.get(bias)
    if bias_term is None:
        raise ValueError(f"bias must be 'exact' or 'heat', got {bias!r}")
    sqrt_term = {
        "exact": s.sqrt_integral,
        "moment": sp.sqrt(s.weight_moment * moment_constant()),
        "moment_1d": _moment_sqrt_integral_1d(),
    }.get(sampling)
    if sqrt_term is None:
        raise ValueError(f"sampling must be 'exact', 'moment' or 'moment_1d', got {sampling!r}")
    expr = propagated(
        bias_term + sampling_error(s.initial_size, sqrt_term), bias_term + sampling_error(s.size, sqrt_term)
    )
    if sampling == "moment_1d":
        expr = expr.subs(s.dim, 1)
    name = "kde_theorem_k" + ("" if (bias, sampling) == ("exact", "exact") else f"_{bias}_{sampling}")
    return Bound(
        name,
        expr,
        statement="E TV(p_i, p0) <= sum_k (1 - lambda)^(i-k) (B + E S_k) for the Gaussian KDE loop with bandwidth h",
        source=Source(
            PAPER,
            _THEOREM,
            "rigorous",
            f"Bias: {bias}; sampling functional: {sampling}. Derived in the paper's framework with explicit constants (docs/theory.md, section 3).",
        ),
    )


def kde_accumulate_bound() -> Bound:
    r"""Theorem K, accumulating with no new real data: :math:`E\,\mathrm{TV}_i \le B + \bar S(N_0) + (B + \bar S(s))\sum_{k=1}^{i} s/(N_0+ks)`."""
    offset = s.initial_size / s.added
    harmonic = sp.digamma(offset + s.generation + 1) - sp.digamma(offset + 1)
    expr = s.bias + sampling_error(s.initial_size) + (s.bias + sampling_error(s.added)) * harmonic
    return Bound(
        "kde_theorem_k_accumulate",
        expr,
        statement="Accumulating KDE loop (added = synthetic points per generation): E TV_i <= TV_0 bound + sum_k a_k (B + E S_k)",
        source=Source(
            PAPER,
            "beyond the paper (Gerstgrasser et al. 2024); docs/theory.md, section 3.4 (Theorem K, accumulate)",
            "rigorous",
            "Grows like log i instead of linearly.",
        ),
    )


def kde_step_bound() -> Bound:
    r"""Theorem K's one-generation term, :math:`B + \tfrac12 N_k^{-1/2}(4\pi h^2)^{-d/4} J_k`, with J_k per generation.

    This is the Bound that :func:`kde_bound_for` evaluates (vectorised over the
    generations' sizes, bandwidths and :math:`J_k`) before Lemma R propagates it:
    :math:`E\,\mathrm{TV}_i \le \sum_k \prod_{j=k+1}^{i}(1-\lambda_j)\,(B + E S_k)`.
    """
    return Bound(
        "kde_theorem_k_step",
        s.bias + sampling_error(s.size),
        statement="One generation of Theorem K: B + E S_k <= B + N_k^(-1/2) (4 pi h^2)^(-d/4) J_k / 2, propagated by Lemma R",
        source=Source(
            PAPER,
            _THEOREM,
            "rigorous",
            "The per-generation form that every Theorem K check evaluates; J_k = int sqrt(G_{h^2/2} * E q_k) per generation.",
        ),
    )


@dataclass(frozen=True)
class KDEBoundTerms:
    """Per-generation terms of Theorem K for one truth and scenario (arrays of length G + 1)."""

    bias: np.ndarray
    sampling: np.ndarray
    sqrt_integral: np.ndarray
    total: np.ndarray


def _bias(truth: GaussianMixture, bandwidth: float, form: str) -> float:
    if form == "heat":
        laplacian = truth.laplacian_l1()
        return bandwidth**2 / 4 * (laplacian.value + MONTE_CARLO_MARGIN * laplacian.stderr)
    smoothed = truth.smoothed(bandwidth**2)
    if truth.dim <= 2:
        return tv_quadrature(truth, smoothed)
    estimate = tv_monte_carlo(truth, smoothed, 200_000, np.random.default_rng(0))
    return estimate.value + MONTE_CARLO_MARGIN * estimate.stderr


def _sqrt_integral(training: GaussianMixture, bandwidth: float, form: str) -> float:
    smoothed = training.smoothed(bandwidth**2 / 2)
    if form == "moment":
        order = training.dim // 2 + 1
        constant = float(moment_constant(training.dim, order))
        return float(np.sqrt(smoothed.weight_moment(order) * constant))
    estimate = smoothed.sqrt_integral()
    return estimate.value + MONTE_CARLO_MARGIN * estimate.stderr


def kde_bound_terms(
    truth: GaussianMixture,
    bandwidth,
    scenario: Scenario,
    generations: int,
    *,
    bias: str = "exact",
    sampling: str = "exact",
) -> KDEBoundTerms:
    """Theorem K's per-generation bias, sampling term and total bound, with exact truth functionals.

    ``bandwidth`` is a float or per-generation values h_0..h_G. ``bias`` is
    ``"exact"`` (quadrature of TV(K_h * p0, p0)) or ``"heat"``; ``sampling`` is
    ``"exact"`` (quadrature of J_k) or ``"moment"`` (Cauchy-Schwarz with exact
    moments of G_{h²/2} * E q_k).
    """
    if bias not in ("exact", "heat"):
        raise ValueError(f"bias must be 'exact' or 'heat', got {bias!r}")
    if sampling not in ("exact", "moment"):
        raise ValueError(f"sampling must be 'exact' or 'moment', got {sampling!r}")
    bandwidths = bandwidth_schedule(bandwidth, scenario, generations)
    new_points = scenario.new_points(generations).astype(float)
    bias_terms, sqrt_integrals = np.empty(generations + 1), np.empty(generations + 1)
    for k, (training, _) in enumerate(expected_densities(truth, bandwidths, scenario, generations)):
        same_bandwidth = k > 0 and bandwidths[k] == bandwidths[k - 1]
        bias_terms[k] = bias_terms[k - 1] if same_bandwidth else _bias(truth, bandwidths[k], bias)
        sqrt_integrals[k] = _sqrt_integral(training, bandwidths[k], sampling)
    sampling_terms = 0.5 / np.sqrt(new_points) * (4 * np.pi * bandwidths**2) ** (-truth.dim / 4) * sqrt_integrals
    steps = _STEP.evaluate(
        bias=bias_terms, sqrt_integral=sqrt_integrals, size=new_points, bandwidth=bandwidths, dim=truth.dim
    )
    total = propagate_scenario(np.asarray(steps), scenario)
    return KDEBoundTerms(bias_terms, sampling_terms, sqrt_integrals, total)


def kde_bound_for(truth: GaussianMixture, bandwidth, scenario: Scenario, generations: int, **forms: str) -> np.ndarray:
    """Theorem K evaluated for this truth: the bound on E TV(p̂_i, p0) for i = 0..generations."""
    return kde_bound_terms(truth, bandwidth, scenario, generations, **forms).total


_STEP = register(kde_step_bound())
register(kde_tv_bound())
register(kde_tv_bound("heat", "moment"))
register(kde_tv_bound("heat", "moment_1d"))
register(kde_accumulate_bound())
