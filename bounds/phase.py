r"""Theorem P: the phase transition in the amount of synthetic data.

Growing-synthetic scenario: n real and m synthetic points per generation,
:math:`N = n + m`, :math:`r = m/N`, generation 0 on the n real points, and a
learner error :math:`\varepsilon(N) = C N^{-\alpha}` (:math:`\alpha = 1/5` for
diffusion TV, :math:`2/(4+d)` for a KDE with :math:`h \propto N^{-1/(4+d)}`).
Lemma R with :math:`1 - \lambda = r` gives

.. math:: B_i(m) = \sum_{k=1}^{i} r^{i-k}\varepsilon(N) + r^i\varepsilon(n).

It is scale-free: with :math:`t = m/n`,
:math:`B_i = C n^{-\alpha}\,[(1+t)^{1-\alpha}(1 - r^i) + r^i]`, so the threshold
is :math:`m^*_i = n\,t^*_i(\alpha)`. Computed here with SymPy:

- :math:`dB_i/dm` at m = 0 is :math:`C(1-\alpha)n^{-\alpha-1}` for every i >= 1:
  positive iff :math:`\alpha < 1` (the bound first rises);
- as :math:`m\to\infty`, :math:`(1+t)^{1+\alpha}\,dB_i/dt \to -i\alpha C n^{-\alpha}` (it then falls);
- :math:`m^*_1 = n(\alpha^{-1/(1-\alpha)} - 1)` in closed form, about 6.48 n at
  :math:`\alpha = 1/5`; larger i by a bracketed root;
- as :math:`i\to\infty`, :math:`B_i \to C N^{1-\alpha}/n`, increasing in m: the
  rise-then-fall disappears.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from scipy import optimize

from selfloop.simulators.validation import check_positive, check_size

from . import symbols as s
from .bound import PAPER, Bound, Source, register
from .recursion import propagated

__all__ = [
    "kde_rate",
    "phase_bound",
    "phase_curve",
    "phase_derivative",
    "phase_threshold",
    "scaled_phase_bound",
    "slope_at_infinity",
    "slope_at_zero",
    "threshold_closed_form",
    "stable_scaled_slope",
    "threshold_ratio",
    "infinite_generation_limit",
]

#: The scaled amount of synthetic data t = m / n.
ratio = sp.Symbol("t", positive=True)
_SOURCE = Source(
    PAPER,
    "phase transition; docs/theory.md, section 6 (Theorem P)",
    "rigorous",
    "Lemma R in the growing-synthetic scenario with eps(N) = C N^-alpha.",
)


def _learner_error(points: sp.Expr) -> sp.Expr:
    return s.constant * points ** (-s.alpha)


def phase_bound(generation: int | sp.Expr = s.generation) -> Bound:
    r""":math:`B_i(m)` in n, m, C, alpha (and i, unless a concrete generation is given)."""
    total = s.real + s.synthetic
    expr = propagated(_learner_error(s.real), _learner_error(total), s.real / total, generation)
    return Bound(
        "phase_theorem_p",
        sp.piecewise_fold(expr),
        statement="B_i(m) = sum_{k=1..i} r^(i-k) eps(n+m) + r^i eps(n), r = m/(n+m), eps(N) = C N^-alpha",
        source=_SOURCE,
    )


def scaled_phase_bound(generation: int | sp.Expr) -> sp.Expr:
    r""":math:`b_i(t) = (1+t)^{1-\alpha}(1-r^i) + r^i` with :math:`r = t/(1+t)`, so :math:`B_i = C n^{-\alpha} b_i(m/n)`."""
    r = ratio / (1 + ratio)
    return (1 + ratio) ** (1 - s.alpha) * (1 - r**generation) + r**generation


def phase_derivative(generation: int) -> sp.Expr:
    r""":math:`dB_i/dm` for a concrete generation i."""
    return sp.diff(phase_bound(generation).expr, s.synthetic)


def slope_at_zero(generation: int) -> sp.Expr:
    r""":math:`\lim_{m\to 0^+} dB_i/dm`, simplified (expected :math:`C(1-\alpha)n^{-\alpha-1}`)."""
    return sp.simplify(sp.limit(phase_derivative(generation), s.synthetic, 0, "+"))


def slope_at_infinity(generation: int) -> sp.Expr:
    r""":math:`\lim_{t\to\infty} (1+t)^{1+\alpha}\, db_i/dt` (expected :math:`-i\alpha`): the sign of the far slope.

    With :math:`u = 1/(1+t)`, :math:`r = 1-u` and the quantity is
    :math:`-u^{1-\alpha}\, db_i/du`, a finite sum of powers of u, whose limit
    at :math:`u\to 0^+` SymPy takes once :math:`0<\alpha<1` is encoded as
    :math:`\alpha = 1/(1+\beta)`, :math:`\beta > 0`.
    """
    u, beta = sp.Symbol("u", positive=True), sp.Symbol("beta", positive=True)
    scaled = scaled_phase_bound(generation).subs(ratio, 1 / u - 1)
    quantity = sp.expand(-(u ** (1 - s.alpha)) * sp.diff(scaled, u))
    limit = sp.limit(quantity.subs(s.alpha, 1 / (1 + beta)), u, 0, "+")
    return sp.simplify(limit.subs(beta, 1 / s.alpha - 1))


def threshold_closed_form() -> sp.Expr:
    r""":math:`m^*_1 = n(\alpha^{-1/(1-\alpha)} - 1)`, derived and verified with SymPy.

    With :math:`w = 1 + t`, :math:`db_1/dt = (1 - \alpha w^{1-\alpha})/w^2`;
    ``solve`` gives the positive root of the numerator, which is substituted
    back to check that the derivative vanishes.
    """
    w = sp.Symbol("w", positive=True)
    slope = sp.simplify(sp.diff(scaled_phase_bound(1), ratio).subs(ratio, w - 1))
    numerator, _ = sp.fraction(sp.together(slope))
    roots = [root for root in sp.solve(numerator, w) if root.is_positive is not False]
    if len(roots) != 1:  # pragma: no cover - a SymPy regression would land here
        raise ArithmeticError(f"expected one positive root of dB_1/dm, got {roots}")
    residual = sp.simplify(sp.expand_power_base(sp.powdenest(slope.subs(w, roots[0]), force=True), force=True))
    if residual != 0:  # pragma: no cover
        raise ArithmeticError(f"root does not zero dB_1/dm: residual {residual}")
    return s.real * (roots[0] - 1)


def infinite_generation_limit() -> sp.Expr:
    r""":math:`\lim_{i\to\infty} B_i(m)` for m > 0 (expected :math:`C N^{1-\alpha}/n`).

    SymPy cannot see that :math:`r = m/(n+m) < 1` directly, so the limit is
    taken with :math:`m = n/u`, :math:`u > 0`, where :math:`r = 1/(1+u)`, and
    mapped back.
    """
    u = sp.Symbol("u", positive=True)
    r = 1 / (1 + u)  # = m / (n + m) with m = n / u
    total = s.real + s.real / u
    bound = _learner_error(total) * (1 - r**s.generation) / (1 - r) + r**s.generation * _learner_error(s.real)
    limit = sp.limit(bound, s.generation, sp.oo)
    return sp.simplify(limit.subs(u, s.real / s.synthetic))


def _scaled_slope(alpha: float, generation: int):
    expr = sp.diff(scaled_phase_bound(generation), ratio).subs(s.alpha, sp.Float(alpha, 30))
    return expr, sp.lambdify(ratio, expr, "numpy")


def stable_scaled_slope(alpha: float, generation: int):
    r"""The sign of :math:`dB_i/dt`, as a numpy function of t that stays accurate for huge t.

    With :math:`u = 1/(1+t)` and :math:`r = 1 - u`,
    :math:`(1+t)^{\alpha} u^{-1}\, dB_i/dt \,/\, (C n^{-\alpha}) =
    (1-\alpha)\,\frac{1 - r^i}{u} - i\, r^{i-1}(1 - u^{1-\alpha})`, with
    :math:`1 - r^i = -\operatorname{expm1}(i \operatorname{log1p}(-u))`. Every term is
    O(1), and the limit as :math:`t\to\infty` is :math:`-i\alpha`, so no cancellation
    produces spurious sign changes (the direct derivative loses every digit past t ~ 1e10).
    """

    def slope(t):
        u = 1.0 / (1.0 + np.asarray(t, dtype=float))
        first = (1 - alpha) * -np.expm1(generation * np.log1p(-u)) / u
        return first - generation * np.exp((generation - 1) * np.log1p(-u)) * (1 - u ** (1 - alpha))

    return slope


def threshold_ratio(alpha: float, generation: int) -> float:
    r""":math:`t^*_i = m^*_i/n`: where :math:`dB_i/dm` changes sign from + to -.

    Generation 1 uses the closed form. Otherwise the sign change is bracketed
    on a log grid of t in [1e-6, 1e12] with :func:`stable_scaled_slope` (exactly
    one must exist), refined with ``sympy.nsolve`` (Anderson-Bjorck, bracketing)
    on SymPy's own derivative to 30 digits, and checked to lie in the bracket;
    if nsolve fails, Brent's method on the stable form is used. A result that is
    not a sign change is never returned. Works for every generation up to at least 200.
    """
    alpha = check_positive("alpha", alpha)
    if alpha >= 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}: the bound does not rise when alpha >= 1")
    generation = check_size("generation", generation)
    if generation == 1:
        return float(alpha ** (-1 / (1 - alpha)) - 1)
    expr, _ = _scaled_slope(alpha, generation)
    slope = stable_scaled_slope(alpha, generation)
    grid = np.logspace(-6, 12, 4001)
    with np.errstate(all="ignore"):
        values = slope(grid)
    changes = np.flatnonzero(np.sign(values[:-1]) != np.sign(values[1:]))
    if changes.size != 1 or not (values[changes[0]] > 0 > values[changes[0] + 1]):
        raise ArithmeticError(
            f"expected one + to - sign change of dB/dm for alpha={alpha}, generation={generation}; found {changes.size}"
        )
    low, high = float(grid[changes[0]]), float(grid[changes[0] + 1])
    try:
        root = float(sp.nsolve(expr, ratio, (low, high), solver="anderson", prec=30))
    except (ValueError, ZeroDivisionError):
        root = float("nan")
    if not low <= root <= high:
        root = optimize.brentq(slope, low, high, xtol=1e-15 * high, rtol=4 * np.finfo(float).eps)
    return root


def kde_rate(dim: int) -> float:
    r"""The KDE's TV rate :math:`\alpha = 2/(4+d)` when the bandwidth follows :math:`h \propto N^{-1/(4+d)}`
    (the power rule of the phase-transition cells): :math:`\varepsilon(N) = C N^{-\alpha}`."""
    return 2.0 / (4 + int(dim))


def phase_threshold(alpha: float = 0.2, n: float = 500, generation: int = 1) -> float:
    r"""m*: the amount of synthetic data per generation where :math:`B_i(m)` peaks, :math:`n\,t^*_i(\alpha)`."""
    n = check_positive("n", n)
    return n * threshold_ratio(alpha, generation)


def phase_curve(alpha: float, n: float, generation: int, synthetic: np.ndarray, constant: float = 1.0) -> np.ndarray:
    r""":math:`B_i(m)` evaluated on an array of m (for plots and reports)."""
    return np.asarray(
        phase_bound(generation).evaluate(alpha=alpha, real=n, synthetic=np.asarray(synthetic, float), constant=constant)
    )


register(phase_bound())
