r"""The second-moment bound for the KDE loop: rigorous, and near-exact (beyond the paper).

Pointwise, :math:`E|Y| \le \sqrt{E Y^2}`. With :math:`Y = \hat p_i(x) - p_0(x)`,
:math:`\mu_i = E\hat p_i` and :math:`V_i(x) = \operatorname{Var}\hat p_i(x)` (both
unconditional, over the whole loop),

.. math::
    \operatorname{TV}(\mu_i, p_0) \;\le\; E\,\mathrm{TV}_i \;\le\;
    \tfrac12 \int \sqrt{(\mu_i(x) - p_0(x))^2 + V_i(x)}\,dx .

The left side is Jensen's inequality (TV is convex), so the harness can test a
sandwich. Unlike Theorem K, nothing is added up generation by generation, so
errors that cancel across generations are not counted twice.

**The mean** :math:`\mu_i` is the exact mixture of :mod:`selfloop.simulators.expected`.

**The variance** follows from the law of total covariance. Write
:math:`\varphi_t = \mathcal N(0, tI)`, :math:`K = \varphi_{h^2}` and, for a density q,

.. math::
    \Phi^{(t_1,t_2)}_q(x,y) = \int \varphi_{t_1}(x-z)\varphi_{t_2}(y-z)\,q(z)\,dz
        - (\varphi_{t_1}*q)(x)\,(\varphi_{t_2}*q)(y),

the covariance of :math:`\varphi_{t_1}(x-Z)` and :math:`\varphi_{t_2}(y-Z)` for
:math:`Z\sim q`. Generation i adds :math:`N` new points, r real and s synthetic
(:math:`\lambda = r/N`), and its fit is :math:`\hat p_i = (1-w)\hat p_{i-1} + w D_i`
with :math:`D_i` the KDE of the new points (:math:`w = 1` unless accumulating, where
:math:`w = N/N_i`). Given the past, the new points are independent, so

.. math::
    \operatorname{Cov}(\hat p_i \mid \text{past}) = \frac{w^2}{N^2}
        \big(r\,\Phi_{p_0} + s\,\Phi_{\hat p_{i-1}}\big), \qquad
    E[\hat p_i \mid \text{past}] = L\hat p_{i-1} + w\lambda\,K*p_0,\quad L = (1-w)I + w(1-\lambda)K .

Averaging :math:`\Phi_{\hat p_{i-1}}` over the past gives :math:`\Phi_{\mu_{i-1}} - (K\otimes K)C_{i-1}`
(its product term is quadratic), hence, with :math:`a = (s^2 - s)/N^2 = (1-\lambda)^2(1 - 1/s)`,

.. math::
    C_i = \frac{w^2}{N^2}\big(r\,\Phi^{h^2}_{p_0} + s\,\Phi^{h^2}_{\mu_{i-1}}\big)
        + (1-w)^2 C_{i-1} + (1-w)w(1-\lambda)\,(I\otimes K + K\otimes I)\,C_{i-1}
        + w^2 a\,(K\otimes K)\,C_{i-1},
    \qquad C_0 = \Phi^{h_0^2}_{p_0}/N_0 .

Gaussian kernels form a semigroup, :math:`(\varphi_{u}\otimes\varphi_{v})\Phi^{(t_1,t_2)}_q
= \Phi^{(t_1+u,\,t_2+v)}_q`, so every :math:`C_i` is a finite sum of
:math:`\Phi^{(t_1,t_2)}_q` with q in :math:`\{p_0, \mu_0, \dots, \mu_{i-1}\}`, and
its diagonal is closed-form through
:math:`\varphi_{t_1}\varphi_{t_2} = (2\pi(t_1+t_2))^{-d/2}\varphi_{t_1t_2/(t_1+t_2)}`:

.. math::
    \Psi^{(t_1,t_2)}_q(x) = (2\pi(t_1+t_2))^{-d/2}\,(\varphi_{t_1t_2/(t_1+t_2)} * q)(x)
        - (\varphi_{t_1}*q)(x)\,(\varphi_{t_2}*q)(x).

Without accumulation (w = 1) only :math:`t_1 = t_2` occurs and the sum unrolls to

.. math::
    V_i = \frac{a^i}{N_0}\Psi^{(i+1)h^2}_{p_0}
        + \sum_{k=1}^{i}\frac{a^{i-k}}{N^2}\Big[r\,\Psi^{(i-k+1)h^2}_{p_0} + s\,\Psi^{(i-k+1)h^2}_{\mu_{k-1}}\Big].

A reused real pool makes the real points of every generation the same, which
breaks the independence given the past; the bound is not claimed there
(:func:`kde_second_moment_terms` refuses it, and the report shows the outcome
of the fresh-data value as outside the theory).

Evaluation: quadrature in d <= 2 on a grid chosen from the tails of
:math:`\sqrt{V_i}`, which are :math:`\sqrt 2` wider than those of :math:`\mu_i`; in
d >= 3, importance sampling with an upper confidence margin.

Reference: beyond Fu et al. 2024 (arXiv:2402.11778); docs/theory.md, section 5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy import special

from selfloop.simulators import (
    Box,
    GaussianMixture,
    Grid,
    Scenario,
)

from . import symbols as s
from .bound import PAPER, Bound, Source, register
from .kde import MONTE_CARLO_MARGIN
from .kde_moments import KDEMoments

__all__ = [
    "SecondMomentTerms",
    "kde_jensen_lower_bound",
    "kde_second_moment_bound",
    "kde_second_moment_bound_for",
    "kde_second_moment_terms",
    "mean_recursion",
    "variance_closed_form",
]

#: Probability mass of the widest smoothed truth (covariances doubled) left outside the quadrature box.
DOMAIN_MASS = 1e-13
#: Grid steps per standard deviation of the narrowest truth component, by dimension.
STEPS_PER_STD = {1: 40.0, 2: 5.0}
_THEOREM = "beyond the paper; docs/theory.md, section 5 (the second-moment bound)"


# ------------------------------------------------------------------ the symbolic statement
def _printed_function(name: str, template: str, doc: str) -> type:
    """A two-argument SymPy function printed in LaTeX by ``template`` (``{0}``, ``{1}``: its arguments)."""

    def _latex(self, printer, exp=None) -> str:
        text = template.format(*(printer._print(argument) for argument in self.args))
        return text if exp is None else rf"\left[{text}\right]^{{{exp}}}"

    return type(name, (sp.Function,), {"nargs": 2, "_latex": _latex, "__doc__": doc})


_Smoothed = _printed_function(
    "Smoothed",
    r"(\varphi_{{{0}}} * {1})(x)",
    r":math:`(\varphi_t * q)(x)`: the density q convolved with :math:`\mathcal N(0, tI)`, at x.",
)
_Psi = _printed_function(
    "Psi",
    r"\Psi^{{{0}}}_{{{1}}}(x)",
    r":math:`\Psi^t_q(x)`: the variance of :math:`\varphi_t(x - Z)`, :math:`Z \sim q`.",
)


_P0, _MU = sp.Symbol("p_0"), sp.IndexedBase(r"\mu")
_FRACTION_A = sp.Symbol("a", nonnegative=True)


def mean_recursion() -> tuple[sp.Eq, sp.Eq]:
    r"""The exact mean :math:`\mu_i = E\hat p_i` of the fresh-data KDE loop with constant sizes, as SymPy equations.

    :math:`\mu_0 = \varphi_{h^2} * p_0` and :math:`\mu_i = \lambda\,\varphi_{h^2} * p_0 + (1-\lambda)\,\varphi_{h^2} * \mu_{i-1}`.
    """
    h2, i, fraction = s.bandwidth**2, s.generation, s.real_fraction
    return (
        sp.Eq(_MU[0], _Smoothed(h2, _P0)),
        sp.Eq(_MU[i], fraction * _Smoothed(h2, _P0) + (1 - fraction) * _Smoothed(h2, _MU[i - 1])),
    )


def kde_second_moment_bound() -> Bound:
    r"""The registered Bound: :math:`E\,\mathrm{TV}_i \le \tfrac12\int\sqrt{(\mu_i - p_0)^2 + V_i}\,dx`.

    Its one symbol is the integral (``root_mean_square_integral``), which
    :func:`kde_second_moment_terms` computes for a given truth and scenario by quadrature (d <= 2) or
    importance sampling (d >= 3). The bound's ``definitions`` state what is integrated: the mean
    recursion, the closed form of :math:`V_i` (:func:`variance_closed_form`), :math:`\Psi` and ``a``,
    so the formula the report prints is the one evaluated. (Accumulating data uses the general
    covariance recursion of this module's docstring; the closed form is its fresh-data case.)
    """
    t, q = sp.Symbol("t", positive=True), sp.Symbol("q")
    psi_definition = sp.Eq(_Psi(t, q), (4 * sp.pi * t) ** (-s.dim / 2) * _Smoothed(t / 2, q) - _Smoothed(t, q) ** 2)
    a_definition = sp.Eq(_FRACTION_A, (1 - s.real_fraction) ** 2 * (1 - 1 / s.synthetic))
    return Bound(
        "kde_second_moment",
        s.root_mean_square_integral / 2,
        statement=(
            "E TV(p_i, p0) <= 1/2 int sqrt((mu_i - p0)^2 + V_i) dx, with the exact mean mu_i and variance V_i of the KDE loop "
            "(N_0 points at generation 0, then n = lambda N real and m = N - n synthetic points per generation; mu_i and V_i at each x)"
        ),
        source=Source(
            PAPER,
            _THEOREM,
            "rigorous",
            "Beyond the paper: pointwise Cauchy-Schwarz on the exact first two moments of p_i(x), from the law of total covariance and the Gaussian semigroup.",
        ),
        metadata={"variance": variance_closed_form()},
        definitions=(*mean_recursion(), variance_closed_form(), psi_definition, a_definition),
    )


def kde_jensen_lower_bound() -> Bound:
    r"""The registered lower bound :math:`\mathrm{TV}(\mu_i, p_0) = \tfrac12\int|\mu_i - p_0|\,dx \le E\,\mathrm{TV}_i`.

    TV is convex, so Jensen's inequality puts the TV of the mean density below the mean TV. With the
    second-moment bound above it, the mean TV is sandwiched. Its one symbol is the integral
    (``mean_absolute_integral``), computed by :func:`kde_second_moment_terms`.
    """
    return Bound(
        "kde_jensen_lower",
        s.mean_absolute_integral / 2,
        statement="TV(mu_i, p0) = 1/2 int |mu_i - p0| dx <= E TV(p_i, p0), with the exact mean mu_i = E p_i of the KDE loop (a lower bound)",
        source=Source(
            PAPER,
            _THEOREM,
            "rigorous",
            "Beyond the paper: Jensen's inequality for the convex map p -> TV(p, p0), at the exact mean density of the loop.",
        ),
        definitions=mean_recursion(),
        side="lower",
    )


def variance_closed_form() -> sp.Eq:
    r"""The unrolled :math:`V_i` for fresh data with constant sizes (no accumulation), as a SymPy equation.

    :math:`\Psi(t, q)` is the diagonal :math:`\Psi^{(t,t)}_q` and ``mu[k]`` is :math:`\mu_k`.
    """
    k = sp.Symbol("k", integer=True, positive=True)
    psi, mu, p0 = _Psi, _MU, _P0
    i, h, n, n0, r, syn = s.generation, s.bandwidth, s.size, s.initial_size, s.real, s.synthetic
    a = _FRACTION_A
    rhs = a**i / n0 * psi((i + 1) * h**2, p0) + sp.Sum(
        a ** (i - k) / n**2 * (r * psi((i - k + 1) * h**2, p0) + syn * psi((i - k + 1) * h**2, mu[k - 1])), (k, 1, i)
    )
    return sp.Eq(sp.IndexedBase("V")[i], rhs)


# ------------------------------------------------------------------ the bound
@dataclass(frozen=True)
class SecondMomentTerms:
    r"""The sandwich and its parts, per generation (arrays of length G + 1).

    Attributes
    ----------
    upper : ndarray
        The rigorous bound :math:`\tfrac12\int\sqrt{(\mu_i-p_0)^2+V_i}` on :math:`E\,\mathrm{TV}_i`
        (plus a Monte Carlo margin in d >= 3).
    lower : ndarray
        :math:`\mathrm{TV}(\mu_i, p_0) \le E\,\mathrm{TV}_i` (Jensen; minus the margin in d >= 3).
    folded_normal : ndarray
        :math:`\tfrac12\int E|Y|` for :math:`Y \sim \mathcal N(\mu_i - p_0, V_i)` pointwise: a
        non-rigorous predictor of :math:`E\,\mathrm{TV}_i`, not a bound.
    root_mean_square_integral : ndarray
        :math:`\int\sqrt{(\mu_i-p_0)^2+V_i}` as computed (the Bound's symbol).
    stderr : ndarray
        Monte Carlo standard error of ``root_mean_square_integral`` (0 for quadrature).
    method : str
        ``"quadrature"`` or ``"monte carlo"``.
    """

    upper: np.ndarray
    lower: np.ndarray
    folded_normal: np.ndarray
    root_mean_square_integral: np.ndarray
    stderr: np.ndarray
    method: str


def _folded_normal_mean(location: np.ndarray, variance: np.ndarray) -> np.ndarray:
    r""":math:`E|Y|` for :math:`Y \sim \mathcal N(m, \sigma^2)`: :math:`\sigma\sqrt{2/\pi}e^{-m^2/2\sigma^2} + m(1 - 2\Phi(-m/\sigma))`."""
    std = np.sqrt(variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std > 0, location / np.where(std > 0, std, 1.0), np.sign(location) * np.inf)
    gaussian = std * np.sqrt(2 / np.pi) * np.exp(-0.5 * np.minimum(z**2, 1e300))
    return gaussian + location * (1 - 2 * special.ndtr(-z))


def _domain(truth: GaussianMixture, largest_smoothing: float) -> GaussianMixture:
    """The widest smoothed truth with covariances doubled: sqrt(V) decays like it, which sets the domain."""
    widest = truth.smoothed(largest_smoothing)
    return GaussianMixture(widest.weights, widest.means, 2.0 * widest.covariances)


def _quadrature_grid(
    truth: GaussianMixture, largest_smoothing: float, domain_scale: float, spacing_scale: float
) -> Grid:
    box = _domain(truth, largest_smoothing).bounding_box(DOMAIN_MASS)
    centre, half = (box.upper + box.lower) / 2, (box.upper - box.lower) / 2 * domain_scale
    narrowest = float(np.sqrt(np.linalg.eigvalsh(truth.covariances).min()))
    spacing = narrowest / STEPS_PER_STD[truth.dim] * spacing_scale
    return Grid.covering(Box(centre - half, centre + half), spacing)


def kde_second_moment_terms(
    truth: GaussianMixture,
    bandwidth,
    scenario: Scenario,
    generations: int,
    *,
    domain_scale: float = 1.0,
    spacing_scale: float = 1.0,
    samples: int = 200_000,
    rng: np.random.Generator | None = None,
    variance_scale: float = 1.0,
) -> SecondMomentTerms:
    r"""The second-moment sandwich for this truth, bandwidth and scenario.

    In d <= 2, quadrature on a grid that covers the mass of the widest smoothed
    truth with doubled covariances (the tails of :math:`\sqrt{V_i}`) to 1e-13, at
    a fifth (2-D) or a fortieth (1-D) of the narrowest truth component's standard deviation;
    ``domain_scale`` and ``spacing_scale`` widen the box and coarsen the step (tests
    use them to show the value does not move). In d >= 3, importance sampling of
    both integrals from that same widened mixture g, with
    :math:`\int\sqrt{A} = E_g[\sqrt{A}/g]`; the upper bound adds, and the lower bound
    subtracts, ``MONTE_CARLO_MARGIN`` = 3 standard errors, so each holds with
    probability at least :math:`\Phi(3) = 0.99865` over the draw.

    ``variance_scale`` multiplies :math:`V_i` (1 for the bound; negative controls use 1/2).
    """
    moments = KDEMoments(truth, bandwidth, scenario, generations)
    bound = _REGISTERED
    if truth.dim <= 2:
        grid = _quadrature_grid(truth, moments.largest_smoothing, domain_scale, spacing_scale)
        points = grid.points()
        means, variances = moments.evaluate(points)
        variances = variances * variance_scale
        difference = means - truth.pdf(points)
        shape = (generations + 1, *grid.shape)  # one grid per generation, batched
        difference, variances = difference.reshape(shape), variances.reshape(shape)
        integral = grid.integrate(np.sqrt(difference**2 + variances))
        lower = np.atleast_1d(_JENSEN.evaluate(mean_absolute_integral=grid.integrate_abs(difference)))
        folded = 0.5 * grid.integrate(_folded_normal_mean(difference, variances))
        stderr = np.zeros(generations + 1)
        upper = np.atleast_1d(bound.evaluate(root_mean_square_integral=integral))
        return SecondMomentTerms(upper, lower, folded, integral, stderr, "quadrature")
    rng = np.random.default_rng(0) if rng is None else rng
    proposal = _domain(truth, moments.largest_smoothing)
    points = proposal.sample(samples, rng)
    density = proposal.pdf(points)
    means, variances = moments.evaluate(points)
    variances = variances * variance_scale
    difference = means - truth.pdf(points)
    root = np.sqrt(difference**2 + variances) / density
    absolute = np.abs(difference) / density
    folded_terms = _folded_normal_mean(difference, variances) / density
    integral, stderr = root.mean(axis=1), root.std(axis=1, ddof=1) / np.sqrt(samples)
    absolute_integral = np.maximum(
        absolute.mean(axis=1) - MONTE_CARLO_MARGIN * absolute.std(axis=1, ddof=1) / np.sqrt(samples), 0.0
    )
    lower = np.atleast_1d(_JENSEN.evaluate(mean_absolute_integral=absolute_integral))
    upper = np.atleast_1d(bound.evaluate(root_mean_square_integral=integral + MONTE_CARLO_MARGIN * stderr))
    return SecondMomentTerms(upper, lower, 0.5 * folded_terms.mean(axis=1), integral, stderr, "monte carlo")


def kde_second_moment_bound_for(
    truth: GaussianMixture, bandwidth, scenario: Scenario, generations: int, **options
) -> np.ndarray:
    """The second-moment bound on E TV(p̂_i, p0) for i = 0..generations (see :func:`kde_second_moment_terms`).

    Examples
    --------
    >>> from selfloop.simulators import Scenario, standard_truth
    >>> bound = kde_second_moment_bound_for(standard_truth("bimodal_1d"), 0.3, Scenario.mixed(500, 0.5), 10)
    >>> bound.shape, bool(0 < bound.min() and bound.max() < 1)
    ((11,), True)
    """
    return kde_second_moment_terms(truth, bandwidth, scenario, generations, **options).upper


_REGISTERED = register(kde_second_moment_bound())
_JENSEN = register(kde_jensen_lower_bound())
