r"""Curated self-consuming loops on a finite alphabet (Ferbach et al. 2024, arXiv:2407.09499): the law of a sample
curated by a reward, and the population recursion of the loop that retrains on it.

A curated draw from a law p takes K candidates :math:`X_1, \dots, X_K` i.i.d. from p and keeps :math:`X_j` with the
Bradley–Terry probability :math:`e^{r(X_j)} / \sum_i e^{r(X_i)}`. Its law is (docs/theory.md, section 17)

.. math:: H_p(x) = K\,p(x)\,E\Big[\frac{e^{r(x)}}{e^{r(x)} + \sum_{i<K} e^{r(X_i)}}\Big]
          = K\,p(x)\,w_x \int_0^\infty e^{-t w_x} M(t)^{K-1}\,dt,
   \qquad M(t) = \sum_k p_k e^{-t w_k},

with :math:`w_k = e^{r_k - \max r}` (the identity :math:`1/a = \int_0^\infty e^{-ta}\,dt` under the expectation). The
integrand is a positive combination of exponentials :math:`e^{-at}` with a in :math:`[w_x + (K-1)\min w, K]`, so the
trapezoid rule in :math:`u = \log t` (step 1/4; an integrand analytic in the strip :math:`|\Im u| < \pi/2`) is exact to
the rounding of double precision, relative, for every such a (:func:`quadrature_relative_error`).

Retraining on a fraction :math:`\lambda` of fresh real points and :math:`1 - \lambda` curated synthetic ones, in the
limit of infinite samples, gives the recursion :math:`p_{t+1} = \lambda p_0 + (1 - \lambda) H_{p_t}`. Its expected
reward never decreases when :math:`\lambda = 0` and the loop concentrates on the reward's maximisers (p_0 restricted
to them); with :math:`\lambda > 0` it converges to a fixed point between p_0 and that point.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from selfloop.simulators.categorical import check_probability_rows
from selfloop.simulators.validation import check_fraction, check_nonnegative_size, check_size

__all__ = [
    "CuratedLaw",
    "curated_law",
    "curated_probabilities",
    "quadrature_relative_error",
    "reward_maximal",
]

#: The trapezoid step in log t; every exponential's integral 1/a is then within 1e-15 relative (tested).
STEP = 0.25
#: Where the nodes start, relative to the largest rate: the integral below :math:`e^{u}` is at most :math:`e^{u} a`.
_LOW = np.log(1e-18)
#: Where they end, relative to the smallest rate: the integral beyond is :math:`e^{-a t}/a` at most :math:`e^{-60}/a`.
_HIGH = np.log(60.0)


def check_reward(reward, symbols: int) -> np.ndarray:
    """``reward`` as finite numbers, one per symbol (shape (symbols,)); else a ``ValueError`` naming ``reward``."""
    array = np.asarray(reward, dtype=float)
    if array.shape != (symbols,):
        raise ValueError(f"reward must give one value per symbol, shape ({symbols},), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("reward must be finite")
    return array


def _nodes(rates_low: float, rates_high: float) -> tuple[np.ndarray, np.ndarray]:
    """Trapezoid nodes t and weights for :math:`\\int_0^\\infty f(t)\\,dt` over rates in [low, high] (u = log t)."""
    u = np.arange(_LOW - np.log(rates_high), _HIGH - np.log(rates_low) + STEP, STEP)
    t = np.exp(u)
    return t, STEP * t


def quadrature_relative_error(low: float, high: float, points: int = 2001) -> float:
    r"""The largest :math:`|a\,Q(e^{-a\,\cdot}) - 1|` of the quadrature over ``points`` rates a log-spaced in
    [low, high]: since the integrand of :math:`H_p` is a positive combination of such exponentials, it bounds the
    relative error of every :math:`H_p(x)` whose rates lie in the range (to the grid's resolution)."""
    t, weights = _nodes(low, high)
    rates = np.geomspace(low, high, points)
    return float(np.max(np.abs(rates * (np.exp(-np.outer(rates, t)) @ weights) - 1.0)))


def curated_probabilities(probabilities, reward, choices: int) -> np.ndarray:
    r"""The curated law :math:`H_p` of K-wise Bradley–Terry choice (module docstring), for every law in
    ``probabilities``.

    Parameters
    ----------
    probabilities : array_like (..., S)
        Laws p on S symbols, each summing to 1.
    reward : array_like (S,)
        r(x), finite; only differences matter.
    choices : int
        K >= 1 candidates per curated draw (K = 1: no curation, :math:`H_p = p`).

    Returns
    -------
    ndarray (..., S)
        :math:`H_p`, each row summing to 1.

    Examples
    --------
    With K = 2 the law has a closed form, :math:`H_p(x) = 2 p(x) \sum_k p_k e^{r_x} / (e^{r_x} + e^{r_k})`:

    >>> p, r = np.array([0.5, 0.5]), np.array([0.0, np.log(3.0)])
    >>> curated_probabilities(p, r, 2).round(12).tolist()
    [0.375, 0.625]
    """
    p = check_probability_rows("probabilities", probabilities)
    r = check_reward(reward, p.shape[-1])
    choices = check_size("choices", choices)
    if choices == 1:
        return p.copy()
    w = np.exp(r - r.max())
    t, weights = _nodes(float(w.min()) * choices, float(choices))
    decay = np.exp(-np.outer(t, w))  # e^{-t w_k}, (nodes, S)
    flat = p.reshape(-1, p.shape[-1])
    m = flat @ decay.T  # M(t) per law, (laws, nodes)
    integral = (m ** (choices - 1) * weights) @ decay  # sum_j weight_j M(t_j)^{K-1} e^{-t_j w_x}, (laws, S)
    curated = flat * w * integral
    # H is homogeneous of degree K in p, so a sum off 1 by rounding would grow K-fold a generation: renormalise (the
    # exact law sums to 1: the K candidates' choice probabilities do)
    return (curated / curated.sum(axis=1, keepdims=True)).reshape(p.shape)


def reward_maximal(probabilities, reward) -> np.ndarray:
    """The law p0 restricted to the symbols of largest reward among those it charges, renormalised: where the fully
    synthetic curated recursion goes."""
    p = check_probability_rows("probabilities", probabilities)
    r = check_reward(reward, p.shape[-1])
    charged = r[p > 0]
    best = (p > 0) & (r >= charged.max() - 1e-12 * max(1.0, abs(charged.max())))
    restricted = np.where(best, p, 0.0)
    return restricted / restricted.sum()


class CuratedLaw(NamedTuple):
    """The population recursion of a curated loop, generations t = 0..G.

    Attributes
    ----------
    probabilities : ndarray (G + 1, S)
        :math:`p_t`, from :math:`p_0`.
    reward : ndarray (G + 1,)
        The expected reward :math:`\\sum_x p_t(x) r(x)`.
    fixed_point : ndarray (S,)
        The recursion's limit: :math:`p^\\ast = \\lambda p_0 + (1 - \\lambda) H_{p^\\ast}` iterated to 1e-13 (L1) when
        :math:`\\lambda > 0`; :func:`reward_maximal` when :math:`\\lambda = 0`.
    reward_maximal : ndarray (S,)
        :func:`reward_maximal`, for comparison.
    """

    probabilities: np.ndarray
    reward: np.ndarray
    fixed_point: np.ndarray
    reward_maximal: np.ndarray


def curated_law(probabilities, reward, choices: int, real_fraction: float, generations: int) -> CuratedLaw:
    r"""The curated loop's population recursion :math:`p_{t+1} = \lambda p_0 + (1 - \lambda) H_{p_t}` (module
    docstring): what the loop's fits follow as the training sets grow, and its fixed point.

    Parameters
    ----------
    probabilities : array_like (S,)
        :math:`p_0`.
    reward : array_like (S,)
        r(x).
    choices : int
        K.
    real_fraction : float
        :math:`\lambda \in [0, 1]`.
    generations : int
        G >= 0.

    Examples
    --------
    >>> law = curated_law([0.6, 0.3, 0.1], [0.0, 1.0, 2.0], 2, 0.0, 30)
    >>> bool(np.all(np.diff(law.reward) >= 0)), law.probabilities[-1].round(3).tolist()
    (True, [0.0, 0.0, 1.0])
    """
    p0 = check_probability_rows("probabilities", probabilities)
    if p0.ndim != 1:
        raise ValueError(f"probabilities must have shape (S,), got {p0.shape}")
    r = check_reward(reward, p0.size)
    real_fraction = check_fraction("real_fraction", real_fraction)
    generations = check_nonnegative_size("generations", generations)
    choices = check_size("choices", choices)

    def step(p: np.ndarray) -> np.ndarray:
        return real_fraction * p0 + (1 - real_fraction) * curated_probabilities(p, r, choices)

    path = [p0]
    for _ in range(generations):
        path.append(step(path[-1]))
    best = reward_maximal(p0, r)
    fixed = best
    if real_fraction > 0:
        fixed = path[-1]
        for _ in range(100_000):
            following = step(fixed)
            done = np.abs(following - fixed).sum() < 1e-13
            fixed = following
            if done:
                break
        else:  # a contraction by (1 - lambda) times H's Lipschitz constant; not reached for lambda > 0 in practice
            raise RuntimeError("the curated recursion did not reach its fixed point in 100 000 steps")
    stacked = np.stack(path)
    return CuratedLaw(stacked, stacked @ r, fixed, best)
