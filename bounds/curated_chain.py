r"""The exact law of a curated categorical loop at finite sample size: the chain of its training counts.

Generation i of the unsmoothed categorical MLE loop with curation (:class:`selfloop.simulators.Curated`) fits on
:math:`r_i` fresh real points and :math:`s_i` curated draws from generation i - 1, so its counts are

.. math:: c_i = \mathrm{Mult}(r_i, p_0) + \mathrm{Mult}\big(s_i, H_{c_{i-1}/N_{i-1}}\big),

two independent multinomials, the second's law :math:`H` of the previous fit (:func:`selfloop.bounds.curated_probabilities`).
The counts are a Markov chain on the compositions of :math:`N_i` into S parts; its law is propagated exactly, a
generation at a time: the mixture over states of the synthetic multinomials (a matrix product), then its convolution
with the real one. From it: every generation's :math:`E\hat p_i` and :math:`\mathrm{Var}\,\hat p_i` per symbol, the
expected reward :math:`E[r\cdot\hat p_i]` and its variance, and the probability that the loop has fixed on the
reward-maximal symbols (all points there). Unlike the population recursion
(:func:`selfloop.bounds.curated_law`) this is exact at every N; the two differ by O(1/N), as H is not linear.

The chain has :math:`\binom{N + S - 1}{S - 1}` states; :data:`MAX_STATES` caps it (small alphabets: S = 3 and N up to
about 250).
"""

from __future__ import annotations

from itertools import combinations
from typing import NamedTuple

import numpy as np
from scipy import special

from selfloop.simulators import Scenario
from selfloop.simulators.categorical import check_probability_rows

from .categorical import categorical_schedule
from .curated import check_reward, curated_probabilities, reward_maximal

__all__ = ["MAX_STATES", "CuratedCountLaw", "curated_count_law"]

#: The largest number of compositions the chain may have at a generation.
MAX_STATES = 40_000


class CuratedCountLaw(NamedTuple):
    r"""The exact law of the curated categorical loop's fits, generations i = 0..G.

    Attributes
    ----------
    mean, variance : ndarray (G + 1, S)
        :math:`E\hat p_i` and :math:`\mathrm{Var}\,\hat p_i`, per symbol.
    reward_mean, reward_variance : ndarray (G + 1,)
        :math:`E[r\cdot\hat p_i]` and its variance.
    fixation : ndarray (G + 1,)
        The probability that every training point of generation i is a reward-maximal symbol (the fit is
        :func:`selfloop.bounds.reward_maximal`'s support alone).
    counts : ndarray (G + 1, S, max N + 1)
        Each symbol's count's law: ``counts[i, k, c]`` is :math:`P(N_i \hat p_{k,i} = c)`.
    """

    mean: np.ndarray
    variance: np.ndarray
    reward_mean: np.ndarray
    reward_variance: np.ndarray
    fixation: np.ndarray
    counts: np.ndarray


def compositions(total: int, parts: int) -> np.ndarray:
    """Every way of writing ``total`` as ``parts`` non-negative integers, (count, parts), in lexicographic order of
    the bars (stars and bars)."""
    bars = np.array(list(combinations(range(total + parts - 1), parts - 1)), dtype=np.int64).reshape(-1, parts - 1)
    edges = np.concatenate([np.full((bars.shape[0], 1), -1), bars, np.full((bars.shape[0], 1), total + parts - 1)], 1)
    return np.diff(edges, axis=1) - 1


def _multinomial(counts: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """:math:`P(\\mathrm{Mult}(n, p) = c)` for every composition c of n (rows of ``counts``) and law p (rows of
    ``probabilities``): (laws, compositions)."""
    n = counts[0].sum()
    log_coefficient = special.gammaln(n + 1.0) - special.gammaln(counts + 1.0).sum(axis=1)
    # c log p with 0 log 0 = 0: a symbol never drawn adds nothing, whatever its probability
    terms = special.xlogy(counts[None], probabilities[:, None, :]).sum(axis=2)
    return np.exp(log_coefficient[None] + terms)


def _index(counts: np.ndarray, total: int) -> np.ndarray:
    """Each composition's code in base total + 1 (its first S - 1 parts), to find it in a sorted list."""
    return counts[:, :-1] @ (total + 1) ** np.arange(counts.shape[1] - 1, dtype=np.int64)


def curated_count_law(probabilities, reward, choices: int, scenario: Scenario, generations: int) -> CuratedCountLaw:
    r"""The curated categorical loop's exact law (module docstring), for an unsmoothed categorical MLE.

    Parameters
    ----------
    probabilities : array_like (S,)
        :math:`p_0`.
    reward : array_like (S,)
        r(x).
    choices : int
        K candidates per curated draw.
    scenario : Scenario
        Fresh data: fully synthetic, mixed with fresh real points, or growing synthetic (not accumulating, reused or
        weighted).
    generations : int
        G.

    Examples
    --------
    >>> law = curated_count_law([0.5, 0.3, 0.2], [0.0, 0.0, 1.0], 2, Scenario.fully_synthetic(10), 3)
    >>> law.mean[0].round(12).tolist(), bool(law.reward_mean[3] > law.reward_mean[0])
    ([0.5, 0.3, 0.2], True)
    """
    p0 = check_probability_rows("probabilities", probabilities)
    if p0.ndim != 1:
        raise ValueError(f"probabilities must have shape (S,), got {p0.shape}")
    r = check_reward(reward, p0.size)
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    if scenario.accumulate or scenario.real_weight is not None:
        raise ValueError(f"scenario: the curated chain is for fresh data, not the {scenario.kind} kind")
    total, real, synthetic, _ = categorical_schedule(scenario, generations)
    states = special.comb(int(total.max()) + p0.size - 1, p0.size - 1, exact=True)
    if states > MAX_STATES:
        raise ValueError(
            f"scenario: the chain would have {states} states (N = {int(total.max())}, S = {p0.size}), more than "
            f"MAX_STATES = {MAX_STATES}; use the population recursion (curated_law) for large N"
        )
    best = reward_maximal(p0, r) > 0
    counts = compositions(int(total[0]), p0.size)
    law = _multinomial(counts, p0[None])[0]
    moments = [_moments(law, counts, r, best)]
    for i in range(1, generations + 1):
        synthetic_counts = compositions(int(synthetic[i]), p0.size)
        if synthetic[i] > 0:
            curated = curated_probabilities(counts / counts[0].sum(), r, choices)
            mixture = law @ _multinomial(synthetic_counts, curated)  # the synthetic counts' law, (compositions of s)
        else:
            mixture = np.ones(1)
        real_counts = compositions(int(real[i]), p0.size)
        real_law = _multinomial(real_counts, p0[None])[0]
        counts = compositions(int(total[i]), p0.size)
        codes = _index(counts, int(total[i]))
        order = np.argsort(codes)
        summed = (real_counts[:, None, :] + synthetic_counts[None, :, :]).reshape(-1, p0.size)
        target = order[np.searchsorted(codes[order], _index(summed, int(total[i])))]
        law = np.bincount(target, weights=np.outer(real_law, mixture).ravel(), minlength=counts.shape[0])
        moments.append(_moments(law, counts, r, best))
    mean, variance, reward_mean, reward_variance, fixation, marginals = zip(*moments)
    stacked = np.zeros((generations + 1, p0.size, int(total.max()) + 1))
    for i, marginal in enumerate(marginals):
        stacked[i, :, : marginal.shape[1]] = marginal
    return CuratedCountLaw(
        np.array(mean),
        np.array(variance),
        np.array(reward_mean),
        np.array(reward_variance),
        np.array(fixation),
        stacked,
    )


def _moments(law: np.ndarray, counts: np.ndarray, reward: np.ndarray, best: np.ndarray) -> tuple:
    fits = counts / counts[0].sum()
    mean = law @ fits
    rewards = fits @ reward
    reward_mean = law @ rewards
    fixed = law[counts[:, ~best].sum(axis=1) == 0].sum()
    size = int(counts[0].sum())
    marginals = np.stack([np.bincount(column, weights=law, minlength=size + 1) for column in counts.T])
    return (
        mean,
        np.maximum(law @ fits**2 - mean**2, 0.0),
        reward_mean,
        max(float(law @ rewards**2 - reward_mean**2), 0.0),
        fixed,
        marginals,
    )
