r"""Accumulate against replace for maximum-likelihood loops of exponential families: the :math:`\pi^2/6` law (Dey and
Donoho 2024, arXiv:2410.22812).

When a loop fits the mean parameter of an exponential family by maximum likelihood, and each generation adds n
synthetic points to a pool that starts with n real ones (accumulate), the risk :math:`E(\hat\theta_i - \theta)^2`
grows to at most :math:`\pi^2/6` times the first generation's, and as n grows it follows
:math:`\sum_{j=1}^{i+1} 1/j^2` exactly; when each generation replaces its data, it grows like i + 1
(docs/theory.md, section 16). For the Poisson rate the pattern is exact at every n (a count's variance is its mean):
:func:`poisson_risk` gives the exact risk for every scenario. For the Bernoulli probability the exact risk is
:func:`selfloop.bounds.categorical_squared_error` on two symbols (below the pattern, since
:math:`\hat p(1 - \hat p)` is on average below :math:`p(1 - p)`).
"""

from __future__ import annotations

import numpy as np

from selfloop.simulators import Scenario
from selfloop.simulators.validation import check_nonnegative_size, check_positive

__all__ = ["PI_SQUARED_OVER_6", "poisson_risk", "risk_ratio_pattern"]

#: :math:`\sum_{j \ge 1} 1/j^2`, the ceiling of the accumulating loop's risk ratio.
PI_SQUARED_OVER_6 = float(np.pi**2 / 6)


def risk_ratio_pattern(workflow: str, generations: int) -> np.ndarray:
    r"""The asymptotic risk ratio to generation 0 for i = 0..G: ``"accumulate"`` :math:`\sum_{j=1}^{i+1} 1/j^2`
    (below :data:`PI_SQUARED_OVER_6`), ``"replace"`` i + 1."""
    steps = np.arange(check_nonnegative_size("generations", generations) + 1)
    if workflow == "accumulate":
        return np.cumsum(1.0 / (steps + 1.0) ** 2)
    if workflow == "replace":
        return steps + 1.0
    raise ValueError(f"workflow must be 'accumulate' or 'replace', got {workflow!r}")


def poisson_risk(rate: float, scenario: Scenario, generations: int) -> np.ndarray:
    r"""The exact :math:`E(\hat\lambda_i - \lambda)^2` of the Poisson MLE loop, i = 0..G.

    With :math:`T_i` the pool's total count and :math:`P_i` its size, the new block's synthetic part is
    :math:`\mathrm{Poisson}(s\,T_{i-1}/P_{i-1})` given the past, so
    :math:`\mathrm{Var}\,T_i = (1 + s/P_{i-1})^2\,\mathrm{Var}\,T_{i-1} + (r + s)\lambda` when accumulating, and
    :math:`V_i = [(r + s)\lambda + s^2 V_{i-1}]/N^2` when each generation fits on its r + s new points alone (weighted:
    :math:`V_i = w^2\lambda/r + (1 - w)^2(\lambda/s + V_{i-1})`). A subsampled pool and a reused real pool are not
    covered.
    """
    rate = check_positive("rate", rate)
    generations = check_nonnegative_size("generations", generations)
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    if scenario.fit_size is not None or scenario.reuse_real:
        raise ValueError(f"scenario: poisson_risk covers fresh or accumulated data, not a {scenario.kind!r} scenario")
    r, s = scenario.real, scenario.synthetic
    out = np.empty(generations + 1)
    out[0] = rate / scenario.initial
    if scenario.accumulate:
        pools = scenario.pool_sizes(generations).astype(float)
        total = rate * scenario.initial  # Var T_0
        for i in range(1, generations + 1):
            total = (1 + s / pools[i - 1]) ** 2 * total + (r + s) * rate
            out[i] = total / pools[i] ** 2
        return out
    for i in range(1, generations + 1):
        if scenario.real_weight is not None:
            w = scenario.real_weight
            out[i] = w**2 * rate / r + (1 - w) ** 2 * (rate / s + out[i - 1])
        else:
            out[i] = ((r + s) * rate + s**2 * out[i - 1]) / (r + s) ** 2
    return out
