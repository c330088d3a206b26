r"""The diffusion loop's early-stopping limit: the ideal loop (exact score, exact sampling) in closed form.

With the exact score of its training distribution and exact reverse sampling, a diffusion model stopped at time
:math:`t_0` returns :math:`K_{t_0} q`, the forward Ornstein-Uhlenbeck kernel over :math:`t_0` applied to its training
distribution q (:math:`X_{t_0} = \alpha_{t_0} X_0 + \sigma_{t_0} Z`). In the loop with a real fraction
:math:`\lambda` and infinite data, :math:`q_i = \lambda p_0 + (1 - \lambda)\hat p_{i-1}` and :math:`\hat p_0 = K_{t_0} p_0`,
so by the semigroup property :math:`K_s K_t = K_{s + t}`

.. math::
    \hat p_i = \sum_{k=0}^{i-1} \lambda(1-\lambda)^k K_{(k+1)t_0} p_0 + (1-\lambda)^i K_{(i+1)t_0} p_0
    \;\longrightarrow\; \hat p_\infty = \sum_{k\ge0} \lambda(1-\lambda)^k K_{(k+1)t_0} p_0
    \quad (\lambda > 0),

a mixture of ever more smoothed copies of :math:`p_0` (Khelifa, Turner and Venkataramanan 2026, arXiv:2606.13796:
early stopping alone drives the loop geometrically to a unique limit). Fully synthetic (:math:`\lambda = 0`) the limit
is :math:`N(0, I)`. When :math:`p_0` is a Gaussian mixture every :math:`K_t p_0` is one, so each :math:`\hat p_i` is a
Gaussian mixture, and so is the limit truncated after the term whose remaining weight :math:`(1-\lambda)^K` is below
``tail_mass`` (that weight is given to the last kept term, which moves the limit by at most ``tail_mass`` in TV).

The early-stopping floor :math:`\mathrm{TV}(\hat p_\infty, p_0)` is what no amount of data or training removes.
Reference: docs/theory.md, section 8.7.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from selfloop.simulators import GaussianMixture, tv_quadrature
from selfloop.simulators.validation import check_fraction, check_positive

from .ou_marginals import ou_marginal

__all__ = ["EarlyStoppingLimit", "early_stopping_limit"]

#: Most smoothed copies kept in the truncated limit (a real fraction that small is refused).
_MAX_TERMS = 20_000


@dataclass(frozen=True)
class EarlyStoppingLimit:
    r"""The ideal loop's laws :math:`\hat p_0, \dots, \hat p_G`, its limit and the early-stopping floor.

    Attributes
    ----------
    generations : list of GaussianMixture
        :math:`\hat p_i` for i = 0..G, exact.
    training : list of GaussianMixture
        The training distributions :math:`q_i = \lambda p_0 + (1 - \lambda)\hat p_{i-1}` (:math:`q_0 = p_0`), so that
        :math:`\hat p_i = K_{t_0} q_i`.
    limit : GaussianMixture
        :math:`\hat p_\infty`, truncated with ``tail_mass``.
    tail_mass : float
        A bound on :math:`\mathrm{TV}` between ``limit`` and the exact limit.
    floor : float or None
        :math:`\mathrm{TV}(\hat p_\infty, p_0)` by quadrature (d <= 2; None above), within ``tail_mass``.
    tv : ndarray (G + 1,) or None
        :math:`\mathrm{TV}(\hat p_i, p_0)` of the ideal loop, by quadrature (d <= 2).
    """

    generations: list
    training: list
    limit: GaussianMixture
    tail_mass: float
    floor: float | None
    tv: np.ndarray | None


def _smoothed(truth: GaussianMixture, weights: np.ndarray, stopping_time: float) -> GaussianMixture:
    r""":math:`\sum_k w_k K_{(k+1)t_0} p_0`, for weights summing to 1."""
    return GaussianMixture.combine(
        (weight, ou_marginal(truth, (k + 1) * stopping_time)) for k, weight in enumerate(weights) if weight > 0
    )


def early_stopping_limit(
    truth: GaussianMixture,
    stopping_time: float,
    real_fraction: float,
    generations: int,
    *,
    tail_mass: float = 1e-12,
) -> EarlyStoppingLimit:
    r"""The ideal diffusion loop stopped at ``stopping_time``: each generation's law, the limit and its floor.

    Examples
    --------
    >>> from selfloop.simulators import standard_truth
    >>> ideal = early_stopping_limit(standard_truth("bimodal_1d"), 0.05, 0.5, 4)
    >>> len(ideal.generations), bool(np.all(np.diff(ideal.tv) > 0)), bool(ideal.tv[-1] < ideal.floor)
    (5, True, True)
    """
    if not isinstance(truth, GaussianMixture):
        raise ValueError(f"truth must be a GaussianMixture, got {type(truth).__name__}")
    stopping_time = check_positive("stopping_time", stopping_time)
    real_fraction = check_fraction("real_fraction", real_fraction)
    if not isinstance(generations, (int, np.integer)) or generations < 0:
        raise ValueError(f"generations must be a non-negative integer, got {generations!r}")
    if not (0 < tail_mass < 1):
        raise ValueError(f"tail_mass must be in (0, 1), got {tail_mass!r}")
    keep = 1.0 - real_fraction
    laws = []
    for generation in range(generations + 1):
        weights = real_fraction * keep ** np.arange(generation + 1)
        weights[-1] = keep**generation  # the last copy keeps the rest: (1 - lambda)^i K_{(i+1) t0} p0
        laws.append(_smoothed(truth, weights, stopping_time))
    if real_fraction == 0:
        limit = GaussianMixture([1.0], np.zeros((1, truth.dim)), np.eye(truth.dim)[None])
        tail = 0.0
    else:
        terms = 1 if keep == 0 else int(np.ceil(np.log(tail_mass) / np.log(keep)))
        if terms > _MAX_TERMS:
            raise ValueError(
                f"real_fraction {real_fraction!r}: the limit needs {terms} smoothed copies; use a larger one"
            )
        weights = real_fraction * keep ** np.arange(terms)
        tail = float(keep**terms)
        weights[-1] += tail
        limit = _smoothed(truth, weights, stopping_time)
    training = [truth] + [GaussianMixture.combine([(real_fraction, truth), (keep, law)]) for law in laws[:-1]]
    floor = tv = None
    if truth.dim <= 2:
        floor = float(tv_quadrature(limit, truth))
        tv = np.array([tv_quadrature(law, truth) for law in laws])
    return EarlyStoppingLimit(laws, training, limit, tail, floor, tv)
