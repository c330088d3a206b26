r"""The categorical loop's TV bounds: the paper's error-propagation route on a third model class, and a sharp bound
from the exact second moments (docs/theory.md, section 11.4).

**Lemma R on the categorical learner** (``categorical_one_step``, propagated by Lemma R). Given the past, the empirical
law :math:`e_i` of generation i's n new points has mean :math:`q_i = \lambda p + (1-\lambda)\hat p_{i-1}`, and its
r real and s synthetic points are a stratified sample, whose per-symbol variance is at most
:math:`q_k(1 - q_k)/n`; Cauchy-Schwarz per symbol and Jensen on the concave :math:`\sqrt{q(1-q)}` give

.. math:: E\,\mathrm{TV}(e_i, q_i) \le \frac{S_i}{2\sqrt{n}}, \qquad S_i = \sum_k \sqrt{m_{k,i}(1 - m_{k,i})},
    \quad m_{k,i} = E q_{k,i},

and add-:math:`\alpha` smoothing moves the fit :math:`\hat p_i = (1-\beta_i) e_i + \beta_i u` (u uniform) by at most
:math:`\beta_i = K\alpha/(N_i + K\alpha)` in TV. So :math:`\varepsilon_i \le \beta_i + S_i/(2\sqrt{n})` and Lemma R
propagates it. Accumulating, :math:`e_i = (1-a_i)e_{i-1} + a_i e^{\text{new}}_i` and
:math:`E\,\mathrm{TV}(e_i, p) \le (1 - a_i\lambda)\,E_{i-1} + a_i(S_i/(2\sqrt{n}) + (1-\lambda)\beta_{i-1})`, with
:math:`\mathrm{TV}_i \le E_i + \beta_i`: Lemma R for accumulating data, the smoothing shift carried along.

**The second-moment bound** (``categorical_symbol_error``, beyond the paper). Per symbol, with :math:`x = \hat p_{k,i}`,
:math:`\mu = Ex`, :math:`\nu = Ex^2` (exact: :func:`selfloop.bounds.categorical_moments`), :math:`m = E(x - p)^2` and
:math:`v = \nu - \mu^2`, the largest :math:`E|x - p|` over laws on :math:`[0, \infty)` with these moments is at most

.. math:: b = \sqrt m \ \text{ if } m \le p^2, \qquad
    b = \min\Big(\sqrt m,\ \max\big(p,\ \tfrac{2pv}{\nu} - p + \mu\big)\Big) \ \text{ otherwise},

(Cauchy-Schwarz on each side of p, and :math:`(p - x)_+ \le p`), and :math:`E\,\mathrm{TV}_i \le \tfrac12\sum_k b_k`.
Unsmoothed it is exact for a symbol absorbed at 0 or 1 (the fully synthetic loop's limit), where the plain
:math:`\sqrt m` is loose by :math:`1/(2\sqrt{p(1-p)})`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy as sp

from selfloop.simulators import Scenario

from . import symbols as s
from .bound import PAPER, Bound, Source, register
from .categorical import categorical_moments, categorical_schedule, checked_probabilities, checked_smoothing
from .recursion import propagate

__all__ = [
    "categorical_one_step_bound",
    "categorical_second_moment_bound",
    "categorical_symbol_error_bound",
    "categorical_tv_bound",
]

_THEOREM = "docs/theory.md, section 11.4 (the categorical loop's bounds)"
_K = sp.Idx("k")


def categorical_one_step_bound() -> Bound:
    r""":math:`\varepsilon_i \le K\alpha/(N + K\alpha) + S/(2\sqrt{n})`: Lemma R's one-step error of the categorical
    learner, with :math:`S = \sum_k\sqrt{m_k(1-m_k)}` over the expected training law m (``root_variance_sum``)."""
    m = sp.IndexedBase("m")
    return Bound(
        "categorical_one_step",
        s.alphabet * s.smoothing / (s.size + s.alphabet * s.smoothing) + s.root_variance_sum / (2 * sp.sqrt(s.size)),
        statement=(
            "E TV(p_i, q_i) <= K alpha / (N + K alpha) + S / (2 sqrt(N)) for the add-alpha categorical fit on N points "
            "whose expected law is m (S = sum_k sqrt(m_k (1 - m_k)))"
        ),
        source=Source(
            PAPER,
            _THEOREM,
            "rigorous",
            "The paper's error-propagation route on a third model class: Cauchy-Schwarz per symbol on a stratified "
            "sample, Jensen on sqrt(q(1 - q)), and the smoothing's shift toward the uniform law.",
        ),
        definitions=(sp.Eq(s.root_variance_sum, sp.Sum(sp.sqrt(m[_K] * (1 - m[_K])), (_K, 1, s.alphabet))),),
    )


def categorical_symbol_error_bound() -> Bound:
    r"""One symbol's :math:`E|\hat p_k - p_k| \le b(p, \mu, \nu)` from the fit's first two moments (module docstring)."""
    p, mu, nu = s.probability, s.fitted_mean, s.fitted_square
    # m = (mu - p)^2 + v, v = nu - mu^2 >= 0: in this form no cancellation (nu - 2 p mu + p^2 at mu = p, nu = mu^2 gave
    # a negative 1e-17 and a NaN), and a variance rounded below 0 counts as 0
    variance = sp.Max(nu - mu**2, 0)
    square = (mu - p) ** 2 + variance
    expr = sp.Piecewise(
        (sp.sqrt(square), square <= p**2),
        (sp.Min(sp.sqrt(square), sp.Max(p, 2 * p * variance / nu - p + mu)), True),
    )
    return Bound(
        "categorical_symbol_error",
        expr,
        statement="E|p_hat_k - p_k| <= b(p_k, E p_hat_k, E p_hat_k^2) for a fit p_hat_k >= 0 with those two moments",
        source=Source(
            PAPER,
            _THEOREM,
            "rigorous",
            "Beyond the paper: the largest mean absolute deviation of a non-negative variable with given mean and "
            "second moment, by Cauchy-Schwarz on each side of p; the moments are the loop's exact ones.",
        ),
    )


_ONE_STEP = register(categorical_one_step_bound())
_SYMBOL = register(categorical_symbol_error_bound())


def categorical_second_moment_bound(
    probabilities, scenario: Scenario, generations: int, *, smoothing: float = 0.0, sizes: Sequence[int] | None = None
) -> np.ndarray:
    r""":math:`E\,\mathrm{TV}_i \le \tfrac12\sum_k b(p_k, E\hat p_{k,i}, E\hat p_{k,i}^2)`, (G + 1,): the registered
    ``categorical_symbol_error`` at the exact moments of every symbol (:func:`categorical_moments`; any scenario but a
    reused real pool, and growing sample sizes by ``sizes``)."""
    p = checked_probabilities(probabilities)
    mean, square = categorical_moments(p, scenario, generations, smoothing=smoothing, sizes=sizes)
    values = _SYMBOL.evaluate(
        probability=np.broadcast_to(p, mean.shape),
        fitted_mean=np.clip(mean, 0.0, 1.0),
        fitted_square=np.clip(square, 0.0, 1.0),
    )
    return np.minimum(0.5 * np.asarray(values).sum(axis=1), 1.0)


def categorical_tv_bound(probabilities, scenario: Scenario, generations: int, *, smoothing: float = 0.0) -> np.ndarray:
    r"""The paper's route: Lemma R on the registered ``categorical_one_step`` (module docstring), (G + 1,). Fixed
    splits (fully synthetic, mixed, growing) and accumulating data; capped at 1, the largest TV."""
    p = checked_probabilities(probabilities)
    alpha = checked_smoothing(smoothing)
    total, real, synthetic, accumulate = categorical_schedule(scenario, generations, None)
    mean, _ = categorical_moments(p, scenario, generations, smoothing=alpha)
    fraction = scenario.real_fraction
    expected = np.vstack([p, fraction * p + (1 - fraction) * mean[:-1]])  # E q_i: the law the new points come from
    new_points = real + synthetic
    spread = np.sqrt(np.clip(expected * (1 - expected), 0.0, None)).sum(axis=1)  # S_i
    if not accumulate:  # a fixed split: Lemma R on the registered one-step error, as printed
        errors = _ONE_STEP.evaluate(alphabet=p.size, smoothing=alpha, size=new_points, root_variance_sum=spread)
        return np.minimum(propagate(np.asarray(errors), scenario.real_fractions(generations)), 1.0)
    # accumulating: the empirical law of the pool is the running mixture; the smoothing's shift beta_i rides on top
    sampling = _ONE_STEP.evaluate(alphabet=p.size, smoothing=0.0, size=new_points, root_variance_sum=spread)
    shift = p.size * alpha / (total + p.size * alpha)
    carried = np.concatenate([[0.0], (1 - fraction) * shift[:-1]])
    empirical = propagate(sampling + carried, np.full(total.size, fraction), new_points / total)
    return np.minimum(empirical + shift, 1.0)
